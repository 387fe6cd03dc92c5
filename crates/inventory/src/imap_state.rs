//! IMAP resume state: the point where the last sweep of each folder stopped,
//! so the next sweep fetches only new messages and those not yet fetched.
//!
//! The state lives in the inventory store next to the items it describes:
//! a message counts as done only once its item record is in the store. A
//! sweep without a store (`--no-db`) starts from scratch every time.

use crate::store::{Store, StoreError};
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use std::time::Duration;

/// The state of one folder of one mailbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredFolder {
    pub folder: String,
    pub uidvalidity: u32,
    /// Every UID up to this one was fetched, or is in `pending`.
    pub last_uid: u32,
    /// UIDs not fetched yet.
    pub pending: Vec<u32>,
}

/// Reads and writes IMAP sweep state in an inventory store.
pub struct ImapState {
    connection: Connection,
}

impl ImapState {
    /// Opens the store at `path`, creating and migrating it when needed.
    pub fn open(path: &Path) -> Result<ImapState, StoreError> {
        drop(Store::open(path)?);
        let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        connection.busy_timeout(Duration::from_secs(30))?;
        Ok(ImapState { connection })
    }

    /// Loads every folder state of a mailbox (`imaps://user@host:port`).
    pub fn load(&self, account: &str) -> Result<Vec<StoredFolder>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT folder, uidvalidity, last_uid, pending FROM imap_folders WHERE account = ?1 ORDER BY folder",
        )?;
        let rows = statement.query_map(params![account], |row| {
            let pending: String = row.get(3)?;
            Ok(StoredFolder {
                folder: row.get(0)?,
                uidvalidity: row.get(1)?,
                last_uid: row.get(2)?,
                pending: serde_json::from_str(&pending).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Replaces the state of the given folders of a mailbox, in one transaction.
    pub fn save(&mut self, account: &str, folders: &[StoredFolder]) -> Result<(), StoreError> {
        let transaction = self.connection.transaction()?;
        {
            let mut statement = transaction.prepare(
                "INSERT OR REPLACE INTO imap_folders (account, folder, uidvalidity, last_uid, pending, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            )?;
            for folder in folders {
                statement.execute(params![
                    account,
                    folder.folder,
                    folder.uidvalidity,
                    folder.last_uid,
                    serde_json::to_string(&folder.pending).unwrap_or_else(|_| "[]".into()),
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.sqlite");
        let mut state = ImapState::open(&path).unwrap();
        let folders = vec![
            StoredFolder {
                folder: "INBOX".into(),
                uidvalidity: 7,
                last_uid: 40,
                pending: vec![12, 39],
            },
            StoredFolder {
                folder: "Patienten/Ärzte".into(),
                uidvalidity: 9,
                last_uid: 3,
                pending: Vec::new(),
            },
        ];
        state.save("imaps://a@h:993", &folders).unwrap();
        assert_eq!(state.load("imaps://a@h:993").unwrap(), folders);
        assert!(state.load("imaps://b@h:993").unwrap().is_empty());

        let updated = vec![StoredFolder {
            folder: "INBOX".into(),
            uidvalidity: 7,
            last_uid: 41,
            pending: Vec::new(),
        }];
        state.save("imaps://a@h:993", &updated).unwrap();
        let loaded = state.load("imaps://a@h:993").unwrap();
        assert_eq!(loaded[0], updated[0]);
        assert_eq!(loaded.len(), 2);
    }
}
