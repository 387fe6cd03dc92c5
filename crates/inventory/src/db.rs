//! Opening a store by name and reading it: the entry point for the
//! inventory, report, sweep and diff commands.

use crate::cache::{EarlierResults, SqliteCache};
use crate::lock::{LockError, SweepLock};
use crate::model::{ScanData, ScanInfo};
use crate::read;
use crate::store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// An open store.
pub struct Database {
    store: Store,
}

impl Database {
    /// Opens an existing store for reading.
    pub fn open_existing(path: &Path) -> Result<Database, StoreError> {
        Ok(Database {
            store: Store::open_existing(path)?,
        })
    }

    /// Opens a store, creating it when missing, waiting up to
    /// `busy_timeout` for another connection's lock.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Database, StoreError> {
        Ok(Database {
            store: Store::open_with(path, true, busy_timeout)?,
        })
    }

    /// The store's file.
    pub fn path(&self) -> PathBuf {
        self.store.path().to_path_buf()
    }

    fn read_error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Read {
            path: self.path(),
            source,
        }
    }

    /// Returns every scan, oldest first.
    pub fn scans(&self) -> Result<Vec<ScanInfo>, StoreError> {
        read::scans(self.store.connection()).map_err(|err| self.read_error(err))
    }

    /// Returns a scan by id, or by a unique prefix of its id.
    pub fn scan(&self, id: &str) -> Result<ScanInfo, StoreError> {
        let scans = self.scans()?;
        let matching: Vec<&ScanInfo> = scans
            .iter()
            .filter(|scan| scan.id.starts_with(id))
            .collect();
        match matching.as_slice() {
            [scan] => Ok((*scan).clone()),
            _ => Err(StoreError::NoScan {
                path: self.path().display().to_string(),
                id: id.to_string(),
            }),
        }
    }

    /// Returns the newest scan, preferring complete ones: an interrupted
    /// scan is returned only when no scan completed.
    pub fn latest_scan(&self) -> Result<ScanInfo, StoreError> {
        let scans = self.scans()?;
        scans
            .iter()
            .rev()
            .find(|scan| scan.complete)
            .or(scans.last())
            .cloned()
            .ok_or_else(|| StoreError::NoScan {
                path: self.path().display().to_string(),
                id: "(any)".into(),
            })
    }

    /// Loads one scan's items, person fingerprints and flows.
    pub fn scan_data(&self, scan_id: &str) -> Result<ScanData, StoreError> {
        read::scan_data(self.store.connection(), scan_id).map_err(|err| self.read_error(err))
    }

    /// Builds the incremental cache of a sweep from its earlier scans under
    /// the same rules; returns it with the number of files it may reuse.
    pub fn sweep_cache(
        &self,
        sweep: &str,
        rules_version: &str,
    ) -> Result<(Arc<SqliteCache>, usize), StoreError> {
        let scans = self.scans()?;
        let sources = EarlierResults::sources(&scans, sweep, rules_version);
        let cache =
            SqliteCache::open(self.store.path(), &sources).map_err(|err| self.read_error(err))?;
        let reusable = cache.results().len();
        Ok((Arc::new(cache), reusable))
    }

    /// Takes the sweep lock of this store.
    pub fn lock_sweeps(&self, wait: Duration) -> Result<SweepLock, LockError> {
        SweepLock::acquire(self.store.path(), wait)
    }

    /// Turns the store into the record sink of a scan.
    pub fn into_store(self) -> Store {
        self.store
    }
}
