//! Opening a store by name and reading it: the entry point for the scan,
//! inventory, report, sweep and diff commands. A store is a SQLite file or a
//! `postgres://` URL. Both contain the same tables and support the same queries.

use crate::cache::{EarlierResults, LoadingCache};
use crate::lock::SweepLock;
use crate::model::{ScanData, ScanInfo};
use crate::postgres::{PgStore, is_postgres_url, redact};
use crate::read;
use crate::store::{Store, StoreError};
use phiscan_core::cache::ItemCache;
use phiscan_core::records::RecordSink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The location of a store: a SQLite file or a PostgreSQL URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StoreTarget {
    /// Reads `--db` or the `store` key: `postgres://` and `postgresql://`
    /// URLs name a PostgreSQL database, anything else a SQLite file.
    pub fn parse(text: &Path) -> StoreTarget {
        match text.to_str() {
            Some(url) if is_postgres_url(url) => StoreTarget::Postgres(url.to_string()),
            _ => StoreTarget::Sqlite(text.to_path_buf()),
        }
    }

    /// The SQLite file, whose companion files a scan must not read.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            StoreTarget::Sqlite(path) => Some(path),
            StoreTarget::Postgres(_) => None,
        }
    }
}

impl std::fmt::Display for StoreTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreTarget::Sqlite(path) => write!(f, "{}", path.display()),
            StoreTarget::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

enum Backend {
    Sqlite(Box<Store>),
    Postgres(Box<PgStore>),
}

/// An open store.
pub struct Database {
    backend: Backend,
    target: StoreTarget,
}

impl Database {
    /// Opens an existing store for reading; a missing SQLite file is an
    /// error, never created.
    pub fn open_existing(target: &StoreTarget) -> Result<Database, StoreError> {
        let backend = match target {
            StoreTarget::Sqlite(path) => Backend::Sqlite(Box::new(Store::open_existing(path)?)),
            StoreTarget::Postgres(url) => Backend::Postgres(Box::new(PgStore::open(url)?)),
        };
        Ok(Database {
            backend,
            target: target.clone(),
        })
    }

    /// Opens a store, creating a SQLite file when missing, waiting up to
    /// `busy_timeout` for another connection's lock on it.
    pub fn open(target: &StoreTarget, busy_timeout: Duration) -> Result<Database, StoreError> {
        let backend = match target {
            StoreTarget::Sqlite(path) => {
                Backend::Sqlite(Box::new(Store::open_with(path, true, busy_timeout)?))
            }
            StoreTarget::Postgres(url) => Backend::Postgres(Box::new(PgStore::open(url)?)),
        };
        Ok(Database {
            backend,
            target: target.clone(),
        })
    }

    /// Returns the store's location.
    pub fn target(&self) -> &StoreTarget {
        &self.target
    }

    fn read_error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Read {
            path: PathBuf::from(self.target.to_string()),
            source,
        }
    }

    /// Returns every scan, oldest first.
    pub fn scans(&mut self) -> Result<Vec<ScanInfo>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(store) => {
                let result = read::scans(store.connection());
                result.map_err(|err| self.read_error(err))
            }
            Backend::Postgres(store) => Ok(store.scans()?),
        }
    }

    /// Returns a scan by id, or by a unique prefix of its id.
    pub fn scan(&mut self, id: &str) -> Result<ScanInfo, StoreError> {
        let scans = self.scans()?;
        let matching: Vec<&ScanInfo> = scans
            .iter()
            .filter(|scan| scan.id.starts_with(id))
            .collect();
        match matching.as_slice() {
            [scan] => Ok((*scan).clone()),
            _ => Err(StoreError::NoScan {
                path: self.target.to_string(),
                id: id.to_string(),
            }),
        }
    }

    /// Returns the newest scan, preferring complete ones: an interrupted
    /// scan is returned only when no scan completed.
    pub fn latest_scan(&mut self) -> Result<ScanInfo, StoreError> {
        let scans = self.scans()?;
        scans
            .iter()
            .rev()
            .find(|scan| scan.complete)
            .or(scans.last())
            .cloned()
            .ok_or_else(|| StoreError::Empty {
                path: self.target.to_string(),
            })
    }

    /// Loads one scan's items, person fingerprints and flows.
    pub fn scan_data(&mut self, scan_id: &str) -> Result<ScanData, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(store) => {
                let result = read::scan_data(store.connection(), scan_id);
                result.map_err(|err| self.read_error(err))
            }
            Backend::Postgres(store) => Ok(store.scan_data(scan_id)?),
        }
    }

    /// Loads the items of two scans that may differ (see [`read::diff_sides`]);
    /// a PostgreSQL store, which copies reused rows, returns every item.
    pub fn diff_items(
        &mut self,
        old_scan: &str,
        new_scan: &str,
    ) -> Result<
        (
            Vec<phiscan_core::records::ItemRecord>,
            Vec<phiscan_core::records::ItemRecord>,
        ),
        StoreError,
    > {
        match &mut self.backend {
            Backend::Sqlite(store) => {
                let result = read::diff_sides(store.connection(), old_scan, new_scan);
                result.map_err(|err| self.read_error(err))
            }
            Backend::Postgres(store) => Ok((
                store.scan_data(old_scan)?.items,
                store.scan_data(new_scan)?.items,
            )),
        }
    }

    /// Returns the item row a scan wrote itself at `location`, if any: the
    /// row of the scan that read the item, not a reference to it.
    pub fn own_item(
        &mut self,
        scan_id: &str,
        location: &str,
    ) -> Result<Option<phiscan_core::records::ItemRecord>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(store) => {
                let result = read::own_item(store.connection(), scan_id, location);
                result.map_err(|err| self.read_error(err))
            }
            Backend::Postgres(store) => Ok(store.own_item(scan_id, location)?),
        }
    }

    /// Returns true when a scan recorded a file below `folder`.
    pub fn has_items_under(&mut self, scan_id: &str, folder: &Path) -> Result<bool, StoreError> {
        let folder = folder.to_string_lossy();
        match &mut self.backend {
            Backend::Sqlite(store) => {
                let result = read::has_items_under(store.connection(), scan_id, &folder);
                result.map_err(|err| self.read_error(err))
            }
            Backend::Postgres(store) => Ok(store.has_items_under(scan_id, &folder)?),
        }
    }

    /// Returns the category and fingerprint of each finding of one item in
    /// a scan, sorted, for telling whether its values changed.
    pub fn fingerprints_of(
        &mut self,
        scan_id: &str,
        location: &str,
    ) -> Result<Vec<(phiscan_core::Category, String)>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(store) => {
                let result = read::fingerprints_of(store.connection(), scan_id, location);
                result.map_err(|err| self.read_error(err))
            }
            Backend::Postgres(store) => Ok(store.fingerprints_of(scan_id, location)?),
        }
    }

    /// Builds the incremental cache of a sweep from its earlier scans under
    /// the same rules. `summaries_suffice` is true when the scan's outputs
    /// besides the store need only the class, coverage and findings of an
    /// unchanged file (see [`crate::cache::SqliteCache::summaries_suffice`]). A SQLite
    /// store's cache loads on a thread of its own while the scan starts.
    pub fn sweep_cache(
        &mut self,
        sweep: &str,
        rules_version: &str,
        summaries_suffice: bool,
    ) -> Result<Arc<dyn ItemCache>, StoreError> {
        let scans = self.scans()?;
        let sources = EarlierResults::sources(&scans, sweep, rules_version);
        match &mut self.backend {
            Backend::Sqlite(store) => {
                let sources = sources.into_iter().cloned().collect();
                let path = store.path().to_path_buf();
                Ok(Arc::new(LoadingCache::start(
                    path,
                    sources,
                    summaries_suffice,
                )))
            }
            Backend::Postgres(store) => Ok(Arc::new(store.cache(&sources)?)),
        }
    }

    /// Builds the cache of the messages earlier scans read from `mailbox`
    /// under the same rules, or returns None when there are none. Only a
    /// SQLite store keeps where a mailbox scan stopped, so a PostgreSQL store
    /// returns None.
    pub fn mailbox_cache(
        &mut self,
        mailbox: &str,
        rules_version: &str,
        summaries_suffice: bool,
    ) -> Result<Option<Arc<dyn ItemCache>>, StoreError> {
        let scans = self.scans()?;
        let sources = EarlierResults::mailbox_sources(&scans, mailbox, rules_version);
        match &mut self.backend {
            Backend::Sqlite(store) if !sources.is_empty() => {
                let sources = sources.into_iter().cloned().collect();
                let path = store.path().to_path_buf();
                Ok(Some(Arc::new(LoadingCache::start(
                    path,
                    sources,
                    summaries_suffice,
                ))))
            }
            _ => Ok(None),
        }
    }

    /// Takes the sweep lock of this store, waiting up to `wait`.
    pub fn lock_sweeps(&mut self, wait: Duration) -> Result<SweepLock, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(store) => Ok(SweepLock::acquire(store.path(), wait)?),
            Backend::Postgres(store) => Ok(SweepLock::held_by(store.lock_sweeps(wait)?)),
        }
    }

    /// Turns the store into the record sink of a scan.
    pub fn into_sink(self) -> Box<dyn RecordSink> {
        match self.backend {
            Backend::Sqlite(store) => store,
            Backend::Postgres(store) => store,
        }
    }
}
