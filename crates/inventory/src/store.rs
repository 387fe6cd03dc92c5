//! The SQLite store.

use crate::blocks::{Block, PendingFindings, PeopleRow};
use crate::ranges::RangeSet;
use crate::schema::MIGRATIONS;
use phiscan_core::cache::ItemOrigin;
use phiscan_core::records::{
    FindingForm, FindingRecord, FlowRecord, ItemRecord, Record, RecordSink, ScanRecord, SinkError,
    SummaryRecord,
};
use rusqlite::{Connection, OpenFlags, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Rows written per transaction: items, finding blocks, people, flows and
/// reused items. A `kill -9` loses at most the open transaction.
const BATCH_ROWS: usize = 4096;

/// Bytes of finding blocks written per transaction, so that a transaction
/// of large blocks does not grow the write-ahead log without bound.
const BATCH_BYTES: usize = 32 << 20;

/// Page cache of the store's connection, in KiB.
const CACHE_KIB: u32 = 64 * 1024;

/// An error opening or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the store folder {path}: {source}; name a store in a writable folder with --db (or the `store` key of a sweep configuration), or scan with --no-db"
    )]
    CreateFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot create the store {path}: {source}; name a store in a writable folder with --db (or the `store` key of a sweep configuration), or scan with --no-db"
    )]
    CreateFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot open the store {path}: {source}; if it is another kind of file, name a new store with --db (or the `store` key of a sweep configuration); if it is a damaged store, move it aside and run the scan again to start a new one"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the store {path} has schema version {found}, newer than this phiscan supports ({supported}); upgrade phiscan or name another store with --db (or the `store` key of a sweep configuration)"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "the store {path} is not a phiscan store (it has tables but no phiscan schema version); name another store with --db (or the `store` key of a sweep configuration)"
    )]
    Foreign { path: PathBuf },
    #[error(
        "the store {path} is locked by another program (a scan, or a database tool holding a write lock) and stayed locked for {seconds} seconds; wait for it to finish or close it, then run again"
    )]
    Locked { path: PathBuf, seconds: u64 },
    #[error(
        "no store at {path}; run `phiscan scan` or `phiscan sweep` first, or name the store with --db"
    )]
    Missing { path: PathBuf },
    #[error(
        "the store {path} is a folder; name a store file in it, such as {path}/inventory.sqlite, with --db (or the `store` key of a sweep configuration)"
    )]
    Folder { path: PathBuf },
    #[error("cannot read the store {path}: {source}")]
    Read {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("no scan {id} in the store {path}; `phiscan report --list` shows the scans")]
    NoScan { path: String, id: String },
    #[error(
        "the store {path} contains no scan yet; run `phiscan scan` or `phiscan sweep` with this store first"
    )]
    Empty { path: String },
    #[error("store write failed: {0}")]
    Write(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] crate::postgres::PgError),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
}

/// Returns true for SQLite's "database is locked" and "busy" errors.
pub(crate) fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Default time to wait for another connection's write lock.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The inventory store.
pub struct Store {
    connection: Connection,
    path: PathBuf,
    /// Rows and block bytes written in the open transaction.
    pending_rows: usize,
    pending_bytes: usize,
    scan_id: Option<String>,
    /// Number of the next item row of the scan.
    next_ordinal: u64,
    /// Findings of items whose item record has not arrived yet.
    findings: PendingFindings,
    /// Numbers of the unchanged items not written yet, by origin scan.
    unchanged: HashMap<String, Vec<u64>>,
}

impl Store {
    /// Opens the store at `path`, creating it (mode 0600) and its folder when missing,
    /// and applies pending migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, true, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens an existing store; fails with [`StoreError::Missing`] when there is none.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, false, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens the store, creating it when `create` is set, waiting up to
    /// `busy_timeout` for another connection's lock.
    pub fn open_with(
        path: &Path,
        create: bool,
        busy_timeout: Duration,
    ) -> Result<Store, StoreError> {
        if path.is_dir() {
            return Err(StoreError::Folder {
                path: path.to_path_buf(),
            });
        }
        if !create && !path.is_file() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_folder(folder).map_err(|source| StoreError::CreateFolder {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        create_private_file(path).map_err(|source| StoreError::CreateFile {
            path: path.to_path_buf(),
            source,
        })?;
        let open_error = |source: rusqlite::Error| {
            if is_busy(&source) {
                StoreError::Locked {
                    path: path.to_path_buf(),
                    seconds: busy_timeout.as_secs(),
                }
            } else {
                StoreError::Open {
                    path: path.to_path_buf(),
                    source,
                }
            }
        };
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        connection.busy_timeout(busy_timeout).map_err(open_error)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        // Batches of thousands of rows touch pages all over the indexes; with
        // SQLite's default 2 MiB page cache they spill to the log mid-batch.
        // Statement journals stay in memory for the same reason.
        connection
            .pragma_update(None, "cache_size", -(CACHE_KIB as i64))
            .map_err(open_error)?;
        connection
            .pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_error)?;
        // Fewer, larger checkpoints copy a page rewritten by several batches
        // once; the log grows to about 40 MiB between them.
        connection
            .pragma_update(None, "wal_autocheckpoint", 10_000)
            .map_err(open_error)?;
        let mut store = Store {
            connection,
            path: path.to_path_buf(),
            pending_rows: 0,
            pending_bytes: 0,
            scan_id: None,
            next_ordinal: 0,
            findings: PendingFindings::default(),
            unchanged: HashMap::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Returns the store's file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version this build writes.
    pub fn schema_version() -> u32 {
        MIGRATIONS.len() as u32
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let open_error = |source: rusqlite::Error| {
            if is_busy(&source) {
                StoreError::Locked {
                    path: path.clone(),
                    seconds: DEFAULT_BUSY_TIMEOUT.as_secs(),
                }
            } else {
                StoreError::Open {
                    path: path.clone(),
                    source,
                }
            }
        };
        let version: u32 = self
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        let supported = Self::schema_version();
        if version > supported {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                supported,
            });
        }
        if version == 0 {
            let tables: u32 = self
                .connection
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                    [],
                    |row| row.get(0),
                )
                .map_err(open_error)?;
            if tables > 0 {
                return Err(StoreError::Foreign {
                    path: self.path.clone(),
                });
            }
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let transaction = self.connection.transaction().map_err(open_error)?;
            transaction.execute_batch(migration).map_err(open_error)?;
            transaction
                .pragma_update(None, "user_version", index as u32 + 1)
                .map_err(open_error)?;
            transaction.commit().map_err(open_error)?;
            tracing::debug!(version = index + 1, "store schema migrated");
        }
        Ok(())
    }

    fn begin_if_needed(&mut self) -> Result<(), rusqlite::Error> {
        if self.connection.is_autocommit() {
            self.connection.execute_batch("BEGIN")?;
        }
        Ok(())
    }

    /// Counts a written row and its bytes; commits a full transaction.
    fn commit_if_full(&mut self, bytes: usize) -> Result<(), rusqlite::Error> {
        self.pending_rows += 1;
        self.pending_bytes += bytes;
        if self.pending_rows >= BATCH_ROWS || self.pending_bytes >= BATCH_BYTES {
            self.commit()?;
        }
        Ok(())
    }

    /// Writes the unchanged items listed so far, then commits.
    fn commit(&mut self) -> Result<(), rusqlite::Error> {
        if !self.unchanged.is_empty() {
            self.begin_if_needed()?;
            self.write_unchanged()?;
        }
        if !self.connection.is_autocommit() {
            self.connection.execute_batch("COMMIT")?;
        }
        self.pending_rows = 0;
        self.pending_bytes = 0;
        Ok(())
    }

    fn insert_scan(&mut self, scan: &ScanRecord) -> Result<(), rusqlite::Error> {
        self.connection.execute(
            "INSERT INTO scans (id, started, roots, version, rules_version, host, sweep, resumed_from) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                scan.id,
                scan.started,
                serde_json::to_string(&scan.roots).unwrap_or_default(),
                scan.version,
                scan.rules_version,
                scan.host,
                scan.sweep,
                scan.resumed_from,
            ],
        )?;
        self.scan_id = Some(scan.id.clone());
        self.next_ordinal = 0;
        Ok(())
    }

    /// Writes an item row after the last block and the people of its findings.
    fn insert_item(&mut self, item: &ItemRecord) -> Result<(), rusqlite::Error> {
        let (block, people) = self.findings.close(&item.location);
        self.insert_findings_of_item(block.as_ref(), &people)?;
        self.begin_if_needed()?;
        let categories = serde_json::to_string(&item.categories).unwrap_or_default();
        let meta = &item.meta;
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        self.connection
            .prepare_cached(
                "INSERT OR REPLACE INTO items (scan_id, location, path, parent, format, size, modified, class, coverage, reason, findings, categories, individuals_low, individuals_high, content_id,
                     mode, uid, gid, file_id, modified_ns, exposure, places, reused, ordinal)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
            )?
            .execute(params![
                self.scan_id,
                item.location,
                item.path,
                item.parent,
                item.format,
                item.size as i64,
                item.modified,
                item.class.as_str(),
                item.coverage.as_str(),
                item.reason,
                item.findings as i64,
                categories,
                item.individuals.low as i64,
                item.individuals.high as i64,
                item.content_id,
                meta.mode,
                meta.uid,
                meta.gid,
                meta.file_id,
                meta.modified_ns,
                serde_json::to_string(&meta.exposure).unwrap_or_default(),
                serde_json::to_string(&meta.places).unwrap_or_default(),
                meta.reused,
                ordinal as i64,
            ])?;
        self.commit_if_full(0)
    }

    /// Adds a finding to its item's block; writes the block once it is full.
    fn insert_finding(&mut self, finding: &FindingRecord) -> Result<(), rusqlite::Error> {
        match self.findings.add(finding) {
            Some((block, people)) => self.insert_findings_of_item(block.as_ref(), &people),
            None => Ok(()),
        }
    }

    fn insert_findings_of_item(
        &mut self,
        block: Option<&Block>,
        people: &[PeopleRow],
    ) -> Result<(), rusqlite::Error> {
        if let Some(block) = block {
            self.insert_block(block)?;
        }
        for row in people {
            self.begin_if_needed()?;
            self.connection
                .prepare_cached(
                    "INSERT INTO people (scan_id, location, category, fingerprints) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    self.scan_id,
                    row.location,
                    row.category.as_str(),
                    row.fingerprints
                ])?;
            self.commit_if_full(row.fingerprints.len())?;
        }
        Ok(())
    }

    fn insert_block(&mut self, block: &Block) -> Result<(), rusqlite::Error> {
        self.begin_if_needed()?;
        self.connection
            .prepare_cached(
                "INSERT INTO finding_blocks (scan_id, location, rules, findings) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                self.scan_id,
                block.location,
                block.rules,
                block.findings
            ])?;
        self.commit_if_full(block.rules.len() + block.findings.len())
    }

    fn insert_flow(&mut self, flow: &FlowRecord) -> Result<(), rusqlite::Error> {
        self.begin_if_needed()?;
        let categories = serde_json::to_string(&flow.categories).unwrap_or_default();
        self.connection
            .prepare_cached(
                "INSERT INTO flows (scan_id, location, sent, from_domain, to_domain, field, external, webmail, protection, auto_forwarded, attachments, class, categories)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                self.scan_id,
                flow.location,
                flow.sent,
                flow.from_domain,
                flow.to_domain,
                flow.field,
                flow.external,
                flow.webmail,
                flow.protection,
                flow.auto_forwarded,
                flow.attachments,
                flow.class.as_str(),
                categories,
            ])?;
        self.commit_if_full(0)
    }

    /// Records a reused item. An item at its origin's location, with the
    /// file facts of its origin row, is listed by the row's number. Any
    /// other gets a reference row with its current location and facts.
    fn insert_reused(
        &mut self,
        item: &ItemRecord,
        origin: &ItemOrigin,
    ) -> Result<(), rusqlite::Error> {
        if let Some(ordinal) = origin.ordinal
            && origin.location == item.location
        {
            match self.unchanged.get_mut(origin.scan_id.as_str()) {
                Some(ordinals) => ordinals.push(ordinal),
                None => {
                    self.unchanged.insert(origin.scan_id.clone(), vec![ordinal]);
                }
            }
            return self.commit_if_full(0);
        }
        self.begin_if_needed()?;
        let meta = &item.meta;
        self.connection
            .prepare_cached(
                "INSERT OR REPLACE INTO reused_items (scan_id, location, path, parent, origin_scan, origin_location, mode, uid, gid, file_id, modified_ns, exposure, places)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                self.scan_id,
                item.location,
                item.path,
                item.parent,
                origin.scan_id,
                origin.location,
                meta.mode,
                meta.uid,
                meta.gid,
                meta.file_id,
                meta.modified_ns,
                serde_json::to_string(&meta.exposure).unwrap_or_default(),
                serde_json::to_string(&meta.places).unwrap_or_default(),
            ])?;
        self.commit_if_full(0)
    }

    /// Writes the listed unchanged items as one row of ranges per origin
    /// scan, inside the open transaction.
    fn write_unchanged(&mut self) -> Result<(), rusqlite::Error> {
        for (origin_scan, ordinals) in std::mem::take(&mut self.unchanged) {
            let ranges = RangeSet::from_ordinals(ordinals);
            self.connection
                .prepare_cached(
                    "INSERT INTO unchanged_items (scan_id, origin_scan, ranges) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![self.scan_id, origin_scan, ranges.to_json()])?;
        }
        Ok(())
    }

    /// Joins the scan's rows of unchanged items into one per origin scan.
    /// Each commit wrote its own rows; a finished scan needs only one.
    fn merge_unchanged(&mut self) -> Result<(), rusqlite::Error> {
        let mut merged: HashMap<String, RangeSet> = HashMap::new();
        let mut rows = 0;
        {
            let mut statement = self
                .connection
                .prepare("SELECT origin_scan, ranges FROM unchanged_items WHERE scan_id = ?1")?;
            let mut query = statement.query([&self.scan_id])?;
            while let Some(row) = query.next()? {
                let origin_scan: String = row.get(0)?;
                let ranges: String = row.get(1)?;
                let ranges = RangeSet::from_json(&ranges).map_err(|err| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        Box::new(err),
                    )
                })?;
                let entry = merged.entry(origin_scan).or_default();
                *entry = entry.union(&ranges);
                rows += 1;
            }
        }
        if rows <= merged.len() {
            return Ok(());
        }
        self.connection.execute(
            "DELETE FROM unchanged_items WHERE scan_id = ?1",
            [&self.scan_id],
        )?;
        for (origin_scan, ranges) in merged {
            self.connection.execute(
                "INSERT INTO unchanged_items (scan_id, origin_scan, ranges) VALUES (?1, ?2, ?3)",
                params![self.scan_id, origin_scan, ranges.to_json()],
            )?;
        }
        Ok(())
    }

    /// Writes what is still buffered: blocks of items whose item record
    /// never came (a scan that stopped early) and unchanged items.
    fn flush(&mut self) -> Result<(), rusqlite::Error> {
        for (block, people) in self.findings.close_all() {
            self.insert_findings_of_item(block.as_ref(), &people)?;
        }
        self.commit()
    }

    fn finish_scan(&mut self, summary: &SummaryRecord) -> Result<(), rusqlite::Error> {
        self.flush()?;
        self.begin_if_needed()?;
        self.merge_unchanged()?;
        self.connection.execute(
            "UPDATE scans SET finished = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), complete = ?2, summary = ?3 WHERE id = ?1",
            params![
                summary.scan,
                summary.complete,
                serde_json::to_string(summary).unwrap_or_default(),
            ],
        )?;
        self.commit()
    }

    /// Direct access to the connection, for queries.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl Store {
    /// Describes a failed write. A lock held by another program gets the
    /// message that tells the user what to do.
    fn write_error(&self, err: rusqlite::Error) -> SinkError {
        if is_busy(&err) {
            let seconds = DEFAULT_BUSY_TIMEOUT.as_secs();
            let busy_timeout = self
                .connection
                .pragma_query_value(None, "busy_timeout", |row| row.get::<_, u64>(0))
                .map(|millis| millis / 1000)
                .unwrap_or(seconds);
            return Box::new(StoreError::Locked {
                path: self.path.clone(),
                seconds: busy_timeout,
            });
        }
        Box::new(StoreError::Write(err))
    }
}

impl RecordSink for Store {
    fn record(&mut self, record: &Record) -> Result<(), SinkError> {
        let result = match record {
            Record::Scan(scan) => self.insert_scan(scan),
            Record::Item(item) => self.insert_item(item),
            Record::Finding(finding) => self.insert_finding(finding),
            Record::Flow(flow) => self.insert_flow(flow),
            Record::Summary(summary) => self.finish_scan(summary),
        };
        result.map_err(|err| self.write_error(err))
    }

    /// Takes blocks encoded by the workers, so that the writer thread
    /// only inserts rows.
    fn finding_form(&self) -> FindingForm {
        FindingForm::Blocks
    }

    fn record_blocks(
        &mut self,
        block: Option<&Block>,
        people: &[PeopleRow],
    ) -> Result<(), SinkError> {
        self.insert_findings_of_item(block, people)
            .map_err(|err| self.write_error(err))
    }

    /// Keeps a reference to the earlier rows, because copying every row of
    /// an unchanged share would make the store's writes, not the reading of
    /// files, the cost of each sweep.
    fn record_reused(&mut self, item: &ItemRecord, origin: &ItemOrigin) -> Result<bool, SinkError> {
        self.insert_reused(item, origin)
            .map_err(|err| self.write_error(err))?;
        Ok(true)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.flush().map_err(|err| self.write_error(err))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // An interrupted scan keeps what was written: its scan row stays
        // without a summary and with complete = 0.
        if let Err(err) = self.flush() {
            tracing::warn!(error = %err, "final store commit failed");
        }
    }
}

fn create_private_folder(folder: &Path) -> std::io::Result<()> {
    if folder.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(folder)
}

/// Creates the file with owner-only permissions if it does not exist, so
/// SQLite never creates it with the process umask. SQLite gives its -wal and
/// -shm files the permissions of the database file.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use phiscan_core::records::Individuals;
    use phiscan_core::{Category, Class, Coverage, Locator};

    fn scan() -> Record {
        Record::Scan(ScanRecord {
            id: "scan-1".into(),
            started: "2026-01-01T00:00:00Z".into(),
            roots: vec!["share".into()],
            version: "0.1.0".into(),
            rules_version: "sha256:x".into(),
            host: None,
            sweep: None,
            resumed_from: None,
        })
    }

    fn finding(value: Option<&str>) -> Record {
        Record::Finding(FindingRecord {
            location: "share/a.txt".into(),
            rule: "us.ssn".into(),
            category: Category::Ssn,
            confidence: 98,
            start: 5,
            end: 16,
            line: 1,
            column: 6,
            locator: Locator::Text,
            preview: "***-**-7890".into(),
            fingerprint: "ab".repeat(16),
            person: true,
            value: value.map(str::to_string),
        })
    }

    fn item() -> Record {
        Record::Item(ItemRecord {
            location: "share/a.txt".into(),
            path: "share/a.txt".into(),
            format: "text".into(),
            size: 20,
            modified: None,
            class: Class::Pii,
            coverage: Coverage::Complete,
            reason: None,
            parent: None,
            findings: 1,
            categories: vec![Category::Ssn],
            individuals: Individuals { low: 1, high: 1 },
            content_id: None,
            meta: Default::default(),
        })
    }

    #[test]
    fn records_round_trip_without_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store/inventory.sqlite");
        let mut store = Store::open(&path).unwrap();
        store.record(&scan()).unwrap();
        store.record(&finding(Some("234-56-7890"))).unwrap();
        store.record(&item()).unwrap();
        store
            .record(&Record::Summary(SummaryRecord {
                scan: "scan-1".into(),
                complete: true,
                ..SummaryRecord::default()
            }))
            .unwrap();
        store.finish().unwrap();
        drop(store);

        let bytes = std::fs::read(&path).unwrap();
        let wal = std::fs::read(path.with_extension("sqlite-wal")).unwrap_or_default();
        for content in [&bytes, &wal] {
            assert!(
                memchr_find(content, b"234-56-7890").is_none(),
                "raw value stored"
            );
        }
        let store = Store::open(&path).unwrap();
        let (class, findings): (String, i64) = store
            .connection()
            .query_row("SELECT class, findings FROM items", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!((class.as_str(), findings), ("pii", 1));
        let complete: bool = store
            .connection()
            .query_row("SELECT complete FROM scans", [], |row| row.get(0))
            .unwrap();
        assert!(complete);
    }

    #[test]
    fn flows_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.sqlite");
        let mut store = Store::open(&path).unwrap();
        store.record(&scan()).unwrap();
        store
            .record(&Record::Flow(FlowRecord {
                location: "mail.mbox!/3".into(),
                sent: None,
                from_domain: "clinic.org".into(),
                to_domain: "gmail.com".into(),
                field: "to".into(),
                external: true,
                webmail: true,
                protection: "none".into(),
                auto_forwarded: false,
                attachments: 1,
                class: Class::Phi,
                categories: vec![Category::Ssn],
            }))
            .unwrap();
        store.finish().unwrap();
        let (domain, external): (String, bool) = store
            .connection()
            .query_row("SELECT to_domain, external FROM flows", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!(domain, "gmail.com");
        assert!(external);
    }

    fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
    }

    #[cfg(unix)]
    #[test]
    fn store_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.sqlite");
        let mut store = Store::open(&path).unwrap();
        store.record(&scan()).unwrap();
        store.finish().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let wal_mode = std::fs::metadata(path.with_extension("sqlite-wal"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(wal_mode, 0o600);
    }

    #[test]
    fn old_blocks_read_after_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.sqlite");
        // A store of schema version 6 holding one self-describing block.
        let connection = Connection::open(&path).unwrap();
        for migration in &MIGRATIONS[..6] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 6).unwrap();
        let old = format!(
            r#"[["us.ssn","ssn",98,5,16,1,6,{{"kind":"text"}},"***-**-7890","{}",1]]"#,
            "ab".repeat(16)
        );
        connection
            .execute_batch(
                "INSERT INTO scans (id, started, roots, version, rules_version)
                 VALUES ('scan-0', '2026-01-01T00:00:00Z', '[]', '0.1.0', 'test')",
            )
            .unwrap();
        connection
            .execute(
                "INSERT INTO finding_blocks (scan_id, location, findings) VALUES ('scan-0', 'share/a.txt', ?1)",
                [&old],
            )
            .unwrap();
        drop(connection);

        // The same finding written by this build, after the migration.
        let mut store = Store::open(&path).unwrap();
        store.record(&scan()).unwrap();
        store.record(&finding(None)).unwrap();
        store.record(&item()).unwrap();
        store.finish().unwrap();

        let rows: Vec<(String, Vec<String>)> = store
            .connection()
            .prepare(
                r#"SELECT scan_id, rule, category, confidence, start, "end", line, "column",
                          locator, preview, fingerprint, person
                   FROM findings ORDER BY scan_id"#,
            )
            .unwrap()
            .query_map([], |row| {
                let mut columns = Vec::new();
                for index in 1..12 {
                    let value: rusqlite::types::Value = row.get(index)?;
                    columns.push(format!("{value:?}"));
                }
                Ok((row.get(0)?, columns))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].0, "scan-0");
        assert_eq!(
            rows[0].1, rows[1].1,
            "both block forms give the same columns"
        );
        assert!(
            rows[1]
                .1
                .contains(&r#"Text("{\"kind\":\"text\"}")"#.to_string()),
            "{rows:?}"
        );

        let old = crate::read::findings_of(store.connection(), "scan-0", "share/a.txt").unwrap();
        let new = crate::read::findings_of(store.connection(), &rows[1].0, "share/a.txt").unwrap();
        assert_eq!(old.len(), 1);
        assert_eq!(old, new);
    }

    #[test]
    fn views_read_unchanged_ranges_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("inventory.sqlite")).unwrap();
        for view in ["all_items", "all_findings", "all_people"] {
            let plan: Vec<String> = store
                .connection()
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT * FROM {view} WHERE scan_id = 'scan-1'"
                ))
                .unwrap()
                .query_map([], |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            // Each range of an unchanged sweep is one index range, not a
            // pass over every row of the scan it came from.
            assert!(
                plan.iter().any(|step| step
                    .contains("items_by_ordinal (scan_id=? AND ordinal>? AND ordinal<?)")),
                "{view}: {plan:#?}"
            );
        }
    }

    #[test]
    fn folder_is_rejected_as_store() {
        let dir = tempfile::tempdir().unwrap();
        for create in [true, false] {
            let err = Store::open_with(dir.path(), create, DEFAULT_BUSY_TIMEOUT)
                .err()
                .unwrap();
            let message = err.to_string();
            assert!(message.contains("is a folder"), "{message}");
            assert!(message.contains("inventory.sqlite"), "{message}");
        }
    }

    #[test]
    fn newer_schema_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.sqlite");
        drop(Store::open(&path).unwrap());
        let connection = Connection::open(&path).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        drop(connection);
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    #[test]
    fn garbage_file_is_rejected_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.sqlite");
        std::fs::write(&path, vec![0x42; 4096]).unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("cannot open the store"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x42; 4096]);
    }

    #[test]
    fn foreign_database_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite");
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(connection);
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("not a phiscan store"), "{err}");
    }
}
