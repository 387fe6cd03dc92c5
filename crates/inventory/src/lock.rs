//! The sweep lock: one sweep at a time per store.
//!
//! For a SQLite store the lock is an advisory lock on `STORE.lock`, a file
//! next to the store that records the holder's process id and start time.
//! The operating system releases the lock when the holder exits, even
//! after `kill -9`, so a stale lock file never blocks the next sweep.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Another sweep holds the lock, or the lock file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another sweep is running on the store {store} ({holder}); it releases the store when it ends. Run this sweep later, or set lock_timeout in the sweep configuration to wait for it"
    )]
    Busy { store: String, holder: String },
    #[error("cannot use the lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A held sweep lock; dropping it releases the lock.
pub struct SweepLock {
    _file: Option<File>,
    /// The PostgreSQL connection holding the advisory lock.
    _connection: Option<postgres::Client>,
}

impl std::fmt::Debug for SweepLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SweepLock")
    }
}

impl SweepLock {
    /// Wraps a PostgreSQL connection that holds a session advisory lock.
    pub(crate) fn held_by(connection: postgres::Client) -> SweepLock {
        SweepLock {
            _file: None,
            _connection: Some(connection),
        }
    }

    /// Takes the lock file next to a SQLite store, waiting up to `wait`.
    pub fn acquire(store: &Path, wait: Duration) -> Result<SweepLock, LockError> {
        let mut name = store.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let io_error = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io_error)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = match holder.trim() {
                        "" => "holder unknown".to_string(),
                        text => text.to_string(),
                    };
                    return Err(LockError::Busy {
                        store: store.display().to_string(),
                        holder,
                    });
                }
                Err(TryLockError::Error(err)) => return Err(io_error(err)),
            }
        }
        let note = format!(
            "process {} since {}",
            std::process::id(),
            time_now_rfc3339()
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(note.as_bytes()))
            .map_err(io_error)?;
        Ok(SweepLock {
            _file: Some(file),
            _connection: None,
        })
    }
}

/// Formats the current time as `2026-03-14T02:00:01Z`, for the lock note
/// that shows a waiting sweep since when the lock is held.
fn time_now_rfc3339() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| "an unknown time".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_busy_until_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("inventory.sqlite");
        let first = SweepLock::acquire(&store, Duration::ZERO).unwrap();
        let err = SweepLock::acquire(&store, Duration::from_millis(300)).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("another sweep is running"), "{message}");
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        drop(first);
        assert!(SweepLock::acquire(&store, Duration::ZERO).is_ok());
    }
}
