//! The incremental cache over the SQLite store: the records of earlier scans
//! of the same sweep, served to the scan pipeline so that unchanged files are
//! not read again.

use crate::model::ScanInfo;
use crate::ranges::RangeSet;
use crate::read::{
    ITEM_COLUMNS, REFERENCE_COLUMNS, findings_of, flows_of_file, item_from_row,
    may_have_whole_names, people_of, unchanged_ranges,
};
use phiscan_core::cache::{
    CachedFile, CachedItem, FileKey, ItemCache, ItemOrigin, facts_digest, meta_digest,
};
use phiscan_core::location::{MEMBER_SEPARATOR, is_mail_server_location};
use phiscan_core::records::{ItemMeta, ItemRecord};
use phiscan_core::{Class, Coverage};
use rusqlite::{Connection, OpenFlags, params};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, OnceLock};
use std::thread::JoinHandle;

/// How a source scan stores an earlier item, which decides where its
/// container members are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// An item row, of the source scan or of the earlier scan that the
    /// source scan lists it from as unchanged. Members are rows of the same
    /// scan whose path is the item's location there.
    Row,
    /// A reference row of the source scan. Members are reference rows of
    /// the source scan.
    Reference,
}

/// The part of an earlier item that the index holds.
pub enum IndexedRecord {
    /// The whole record.
    Whole(Box<ItemRecord>),
    /// Only what a lookup compares; the whole row is read back by its
    /// origin's number when a file matches. Keeps the index of a share of
    /// 100,000 files at a few tens of megabytes.
    Lean {
        size: u64,
        modified_ns: Option<i64>,
        file_id: Option<Box<str>>,
        findings: u64,
        class: Class,
        /// [`facts_digest`] of the row's other file facts.
        facts: u64,
    },
}

impl IndexedRecord {
    fn size(&self) -> u64 {
        match self {
            IndexedRecord::Whole(record) => record.size,
            IndexedRecord::Lean { size, .. } => *size,
        }
    }

    fn modified_ns(&self) -> Option<i64> {
        match self {
            IndexedRecord::Whole(record) => record.meta.modified_ns,
            IndexedRecord::Lean { modified_ns, .. } => *modified_ns,
        }
    }

    fn file_id(&self) -> Option<&str> {
        match self {
            IndexedRecord::Whole(record) => record.meta.file_id.as_deref(),
            IndexedRecord::Lean { file_id, .. } => file_id.as_deref(),
        }
    }
}

/// One earlier top-level item, as a source scan recorded it.
pub struct LoadedItem {
    pub location: String,
    pub coverage: Coverage,
    /// The item is a container member or a folder, never reused by itself.
    pub not_a_file: bool,
    pub content_id: Option<String>,
    pub indexed: IndexedRecord,
    /// The rows it was first stored as, when the store keeps references.
    pub origin: Option<ItemOrigin>,
    pub stored: Stored,
}

impl LoadedItem {
    /// Builds an item whose whole record the index holds.
    pub fn whole(record: ItemRecord, origin: Option<ItemOrigin>, stored: Stored) -> LoadedItem {
        LoadedItem {
            location: record.location.clone(),
            coverage: record.coverage,
            not_a_file: record.parent.is_some() || record.format == "folder",
            content_id: record.content_id.clone(),
            indexed: IndexedRecord::Whole(Box::new(record)),
            origin,
            stored,
        }
    }
}

/// The top-level items of one earlier scan, and the locations of the files
/// that have member records (a superset is harmless: a file without
/// members finds none).
pub type SourceItems<'a> = (&'a ScanInfo, Vec<LoadedItem>, HashSet<String>);

/// The earlier top-level item at one location.
struct Earlier {
    /// Index into `EarlierResults::scan_ids`.
    scan: usize,
    coverage: Coverage,
    indexed: IndexedRecord,
    origin: Option<ItemOrigin>,
    stored: Stored,
    /// The file is a container with member records.
    has_members: bool,
}

/// An earlier top-level item found for a file.
pub struct Found<'a> {
    /// The index's part of the record.
    pub indexed: &'a IndexedRecord,
    pub coverage: Coverage,
    /// The scan that recorded it.
    pub scan_id: &'a str,
    pub location: &'a str,
    /// The whole record, or `None` when the index kept it lean and the
    /// store must read it back by `origin`.
    pub record: Option<&'a ItemRecord>,
    /// Findings in the item itself.
    pub findings: u64,
    /// The rows it was first stored as.
    pub origin: Option<&'a ItemOrigin>,
    pub stored: Stored,
    /// The file is a container with member records.
    pub has_members: bool,
}

/// Earlier results, indexed for the lookups the pipeline makes.
pub struct EarlierResults {
    scan_ids: Vec<String>,
    // Fx hashing: locations are long and the keys are not chosen by an
    // attacker, so SipHash's protection buys nothing here.
    by_location: FxHashMap<String, Earlier>,
    by_content: FxHashMap<String, String>,
    sizes_and_names: FxHashSet<(u64, String)>,
}

impl EarlierResults {
    /// Picks the scans whose results may be reused: scans of the same sweep
    /// under the same rules version, newest first, down to and including the
    /// newest complete one. Newer scans hide older results at one location.
    pub fn sources<'a>(
        scans: &'a [ScanInfo],
        sweep: &str,
        rules_version: &str,
    ) -> Vec<&'a ScanInfo> {
        EarlierResults::sources_where(scans, rules_version, |scan| {
            scan.sweep.as_deref() == Some(sweep)
        })
    }

    /// Picks the scans whose messages of a mailbox on a mail server may be
    /// reused: scans with the mailbox among their roots, chosen as
    /// [`EarlierResults::sources`] chooses a sweep's scans.
    pub fn mailbox_sources<'a>(
        scans: &'a [ScanInfo],
        mailbox: &str,
        rules_version: &str,
    ) -> Vec<&'a ScanInfo> {
        EarlierResults::sources_where(scans, rules_version, |scan| {
            scan.roots.iter().any(|root| root == mailbox)
        })
    }

    fn sources_where<'a>(
        scans: &'a [ScanInfo],
        rules_version: &str,
        matches: impl Fn(&ScanInfo) -> bool,
    ) -> Vec<&'a ScanInfo> {
        let mut sources = Vec::new();
        for scan in scans.iter().rev() {
            if !matches(scan) || scan.rules_version != rules_version {
                continue;
            }
            sources.push(scan);
            if scan.complete {
                break;
            }
        }
        sources
    }

    /// Builds the index from the top-level items of the source scans, given
    /// newest first.
    ///
    /// Items that failed (`error`, `skipped`) are never reused, so the next
    /// sweep tries them again. From an interrupted scan only items that were
    /// read to the end (`complete`, `encrypted`, `unsupported`) are reused,
    /// because a `partial` item there may have been cut short by the
    /// interruption.
    pub fn build(sources: Vec<SourceItems<'_>>) -> EarlierResults {
        // Sized up front: growing maps of 100,000 entries step by step
        // rehashed them a dozen times and faulted in fresh pages each time.
        let count = sources.iter().map(|(_, items, _)| items.len()).sum();
        let mut results = EarlierResults {
            scan_ids: Vec::new(),
            by_location: FxHashMap::with_capacity_and_hasher(count, Default::default()),
            by_content: FxHashMap::with_capacity_and_hasher(count, Default::default()),
            sizes_and_names: FxHashSet::with_capacity_and_hasher(count, Default::default()),
        };
        for (scan, items, containers) in sources.into_iter().rev() {
            let scan_index = results.scan_ids.len();
            results.scan_ids.push(scan.id.clone());
            for item in items {
                let reusable = match item.coverage {
                    Coverage::Complete | Coverage::Encrypted | Coverage::Unsupported => true,
                    Coverage::Partial => scan.complete,
                    Coverage::Error | Coverage::Skipped => false,
                };
                if !reusable || item.not_a_file {
                    results.by_location.remove(&item.location);
                    continue;
                }
                if let Some(content_id) = item.content_id {
                    results.by_content.insert(content_id, item.location.clone());
                    results
                        .sizes_and_names
                        .insert((item.indexed.size(), file_name(&item.location).to_string()));
                }
                let has_members = containers.contains(&item.location);
                results.by_location.insert(
                    item.location,
                    Earlier {
                        scan: scan_index,
                        coverage: item.coverage,
                        has_members,
                        indexed: item.indexed,
                        origin: item.origin,
                        stored: item.stored,
                    },
                );
            }
        }
        results
    }

    /// Number of top-level files that may be reused.
    pub fn len(&self) -> usize {
        self.by_location.len()
    }

    /// Returns true when there is nothing to reuse.
    pub fn is_empty(&self) -> bool {
        self.by_location.is_empty()
    }

    /// Finds the earlier item of an unchanged file: its scan id, record,
    /// and whether it has member records.
    pub fn unchanged(&self, key: &FileKey<'_>) -> Option<Found<'_>> {
        let (location, earlier) = self.by_location.get_key_value(key.location)?;
        let indexed = &earlier.indexed;
        let same = indexed.size() == key.size
            && indexed.modified_ns().is_some()
            && indexed.modified_ns() == key.modified_ns
            && indexed.file_id() == key.file_id;
        same.then(|| self.found(location, earlier))
    }

    /// Finds the earlier item of a mail message by its location.
    pub fn message(&self, location: &str) -> Option<Found<'_>> {
        let (location, earlier) = self.by_location.get_key_value(location)?;
        Some(self.found(location, earlier))
    }

    /// Returns true when an earlier file has this size and name.
    pub fn may_be_copy(&self, size: u64, name: &str) -> bool {
        self.sizes_and_names.contains(&(size, name.to_string()))
    }

    /// Finds the earlier item with this content, size and file name.
    pub fn by_content(&self, content_id: &str, size: u64, name: &str) -> Option<Found<'_>> {
        let location = self.by_content.get(content_id)?;
        let (location, earlier) = self.by_location.get_key_value(location)?;
        if earlier.indexed.size() != size || file_name(location) != name {
            return None;
        }
        Some(self.found(location, earlier))
    }

    fn found<'a>(&'a self, location: &'a str, earlier: &'a Earlier) -> Found<'a> {
        let (record, findings) = match &earlier.indexed {
            IndexedRecord::Whole(record) => (Some(&**record), record.findings),
            IndexedRecord::Lean { findings, .. } => (None, *findings),
        };
        Found {
            indexed: &earlier.indexed,
            coverage: earlier.coverage,
            scan_id: self.scan_ids[earlier.scan].as_str(),
            location,
            record,
            findings,
            origin: earlier.origin.as_ref(),
            stored: earlier.stored,
            has_members: earlier.has_members,
        }
    }
}

fn file_name(location: &str) -> &str {
    location.rsplit(['/', '\\']).next().unwrap_or(location)
}

/// Read-only connections to a SQLite store, one per thread that needs one
/// at a time, so that workers looking up findings do not wait for each other.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    fn open(path: &Path) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(std::time::Duration::from_secs(30))?;
        // One read transaction for the connection's life: the earlier scans
        // it reads do not change during a sweep, and a transaction per
        // lookup took a shared-memory lock for each of 100,000 files.
        connection.execute_batch("BEGIN")?;
        Ok(connection)
    }

    /// Runs `work` on an idle connection, opening one when none is idle.
    fn with<T>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .pop();
        let connection = match idle {
            Some(connection) => connection,
            None => ReadPool::open(&self.path)?,
        };
        let result = work(&connection);
        self.idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(connection);
        result
    }
}

/// The incremental cache over a SQLite store.
pub struct SqliteCache {
    results: EarlierResults,
    pool: ReadPool,
    /// True when the scan's other outputs need only the class, coverage and
    /// findings of an unchanged file (see [`SqliteCache::summaries_suffice`]).
    summaries_suffice: bool,
    /// Locations with email flows, by the scan that recorded them, so that
    /// only files with messages are looked up in the flows table.
    flow_locations: HashMap<String, BTreeSet<String>>,
}

impl SqliteCache {
    /// Opens a read-only connection to the store and indexes the top-level
    /// items of the source scans.
    pub fn open(path: &Path, sources: &[&ScanInfo]) -> rusqlite::Result<SqliteCache> {
        let connection = ReadPool::open(path)?;
        let mut origin_containers: HashMap<String, HashSet<String>> = HashMap::new();
        let mut loaded = Vec::new();
        for scan in sources {
            let mut items = Vec::new();
            let mut containers = containers_of(&connection, &scan.id)?;
            rows_of(&connection, &scan.id, None, &mut items)?;
            references_of(&connection, &scan.id, &mut items, &mut containers)?;
            for (origin, ranges) in unchanged_ranges(&connection, &scan.id)? {
                rows_of(&connection, &origin, Some(&ranges), &mut items)?;
                if !origin_containers.contains_key(&origin) {
                    let found = containers_of(&connection, &origin)?;
                    origin_containers.insert(origin.clone(), found);
                }
                containers.extend(origin_containers[&origin].iter().cloned());
            }
            loaded.push((*scan, items, containers));
        }
        // The flows of a reused file are those of the scan that read it: its
        // origin, or the source scan for an item without one.
        let mut flow_scans: HashSet<&str> = sources.iter().map(|scan| scan.id.as_str()).collect();
        for (_, items, _) in &loaded {
            for item in items {
                if let Some(origin) = &item.origin {
                    flow_scans.insert(origin.scan_id.as_str());
                }
            }
        }
        let mut flow_locations = HashMap::new();
        for scan_id in flow_scans {
            let locations = flow_locations_of(&connection, scan_id)?;
            if !locations.is_empty() {
                flow_locations.insert(scan_id.to_string(), locations);
            }
        }
        Ok(SqliteCache {
            flow_locations,
            results: EarlierResults::build(loaded),
            pool: ReadPool {
                path: path.to_path_buf(),
                idle: Mutex::new(vec![connection]),
            },
            summaries_suffice: false,
        })
    }

    /// Sets whether the scan's outputs besides this store need only the
    /// class, coverage and findings of an unchanged file. A summary on the
    /// terminal needs no more, and a JSON Lines stream needs whole records.
    /// When set, an unchanged file without members or problems whose stored
    /// row still describes it is served from the index and its findings,
    /// without reading its row, and the store lists it by number.
    pub fn summaries_suffice(mut self, suffice: bool) -> SqliteCache {
        self.summaries_suffice = suffice;
        self
    }

    /// Builds the record of an unchanged file from the index alone, when
    /// [`SqliteCache::summaries_suffice`] allows it and nothing but its row's
    /// number needs to be stored. Its findings are left to the caller.
    fn summary_of(&self, found: &Found<'_>, current: &ItemMeta) -> Option<CachedItem> {
        let IndexedRecord::Lean {
            size,
            findings,
            class,
            facts,
            ..
        } = found.indexed
        else {
            return None;
        };
        let origin = found.origin?;
        let listed_by_number = found.stored == Stored::Row
            && origin.ordinal.is_some()
            && origin.location == found.location;
        let eligible = self.summaries_suffice
            && listed_by_number
            && !found.has_members
            && found.coverage == Coverage::Complete
            && *facts == meta_digest(current);
        if !eligible {
            return None;
        }
        let record = ItemRecord {
            location: found.location.to_string(),
            path: found.location.to_string(),
            format: String::new(),
            size: *size,
            modified: None,
            class: *class,
            coverage: found.coverage,
            reason: None,
            parent: None,
            findings: *findings,
            categories: Vec::new(),
            individuals: Default::default(),
            content_id: None,
            meta: current.clone(),
        };
        Some(CachedItem {
            record,
            findings: Vec::new(),
            origin: Some(origin.clone()),
            people: None,
        })
    }

    /// Returns the indexed earlier results.
    pub fn results(&self) -> &EarlierResults {
        &self.results
    }

    fn records_of(
        &self,
        found: &Found<'_>,
        current: Option<&ItemMeta>,
    ) -> rusqlite::Result<CachedFile> {
        let mut file = self.items_of(found, current)?;
        let (scan_id, location) = match found.origin {
            Some(origin) => (origin.scan_id.as_str(), origin.location.as_str()),
            None => (found.scan_id, found.location),
        };
        if self.has_flows(scan_id, location) {
            file.flows = self
                .pool
                .with(|connection| flows_of_file(connection, scan_id, location))?;
        }
        Ok(file)
    }

    /// Returns true when the scan recorded email flows for messages in the
    /// file at `location` or its members.
    fn has_flows(&self, scan_id: &str, location: &str) -> bool {
        let Some(locations) = self.flow_locations.get(scan_id) else {
            return false;
        };
        locations
            .range::<str, _>((
                std::ops::Bound::Included(location),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|flow| flow.starts_with(location))
            .any(|flow| {
                flow.len() == location.len() || flow[location.len()..].starts_with(MEMBER_SEPARATOR)
            })
    }

    fn items_of(
        &self,
        found: &Found<'_>,
        current: Option<&ItemMeta>,
    ) -> rusqlite::Result<CachedFile> {
        if let Some(mut item) = current.and_then(|current| self.summary_of(found, current)) {
            if let Some(origin) = item.origin.as_ref().filter(|_| found.findings > 0) {
                self.pool.with(|connection| {
                    item.findings = findings_of(connection, &origin.scan_id, &origin.location)?;
                    if may_have_whole_names(&item.findings) {
                        item.people =
                            Some(people_of(connection, &origin.scan_id, &origin.location)?);
                    }
                    Ok(())
                })?;
            }
            return Ok(CachedFile {
                items: vec![item],
                ..CachedFile::default()
            });
        }
        let own = match (found.record, found.origin) {
            (Some(record), _) => (record.clone(), found.origin.cloned()),
            (None, Some(origin)) => self.pool.with(|connection| whole_row(connection, origin))?,
            (None, None) => return Err(rusqlite::Error::QueryReturnedNoRows),
        };
        if !found.has_members && found.findings == 0 {
            return Ok(CachedFile {
                flows: Vec::new(),
                items: vec![CachedItem {
                    record: own.0,
                    findings: Vec::new(),
                    origin: own.1,
                    people: None,
                }],
            });
        }
        self.pool.with(|connection| {
            let mut records = if found.has_members {
                members_of(connection, found)?
            } else {
                Vec::new()
            };
            records.push(own);
            let mut items = Vec::with_capacity(records.len());
            for (record, origin) in records {
                let mut findings = Vec::new();
                let mut people = None;
                if record.findings > 0 {
                    let (scan_id, location) = match &origin {
                        Some(origin) => (origin.scan_id.as_str(), origin.location.as_str()),
                        None => (found.scan_id, record.location.as_str()),
                    };
                    findings = findings_of(connection, scan_id, location)?;
                    if may_have_whole_names(&findings) {
                        people = Some(people_of(connection, scan_id, location)?);
                    }
                    // The stored blocks may be under an older location of a moved file.
                    for finding in &mut findings {
                        finding.location.clone_from(&record.location);
                    }
                }
                items.push(CachedItem {
                    record,
                    findings,
                    origin,
                    people,
                });
            }
            Ok(CachedFile {
                items,
                flows: Vec::new(),
            })
        })
    }

    fn cached(&self, found: Option<Found<'_>>, current: Option<&ItemMeta>) -> Option<CachedFile> {
        match self.records_of(&found?, current) {
            Ok(file) => Some(file),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read earlier results from the store; reading the file again");
                None
            }
        }
    }
}

/// Appends the top-level item rows of `scan_id`, all of them or those
/// numbered in `ranges`, each with itself as origin.
fn rows_of(
    connection: &Connection,
    scan_id: &str,
    ranges: Option<&RangeSet>,
    items: &mut Vec<LoadedItem>,
) -> rusqlite::Result<()> {
    let every_row = RangeSet::everything();
    let ranges = ranges.unwrap_or(&every_row);
    let mut statement = connection.prepare_cached(
        "SELECT location, format, size, coverage, findings, content_id, file_id, modified_ns, ordinal,
                class, mode, uid, gid, exposure, places
         FROM items WHERE scan_id = ?1 AND ordinal BETWEEN ?2 AND ?3 AND parent IS NULL",
    )?;
    for &(first, last) in ranges.ranges() {
        let rows = statement.query_map(params![scan_id, first as i64, last as i64], |row| {
            lean_row(row, scan_id)
        })?;
        for row in rows {
            items.push(row?);
        }
    }
    Ok(())
}

/// Reads the compared fields of an item row as `rows_of` selects them.
fn lean_row(row: &rusqlite::Row<'_>, scan_id: &str) -> rusqlite::Result<LoadedItem> {
    let location: String = row.get(0)?;
    let format: String = row.get(1)?;
    let coverage: String = row.get(3)?;
    let ordinal: i64 = row.get(8)?;
    let file_id: Option<String> = row.get(6)?;
    let class = Class::parse(row.get_ref(9)?.as_str()?).unwrap_or(Class::None);
    let facts = facts_digest(
        row.get_ref(10)?.as_str_or_null()?,
        row.get(11)?,
        row.get(12)?,
        row.get_ref(13)?.as_str()?,
        row.get_ref(14)?.as_str()?,
    );
    Ok(LoadedItem {
        coverage: Coverage::parse(&coverage).unwrap_or(Coverage::Error),
        not_a_file: format == "folder",
        content_id: row.get(5)?,
        indexed: IndexedRecord::Lean {
            size: row.get::<_, i64>(2)? as u64,
            modified_ns: row.get(7)?,
            file_id: file_id.map(String::into_boxed_str),
            findings: row.get::<_, i64>(4)? as u64,
            class,
            facts,
        },
        origin: Some(ItemOrigin {
            scan_id: scan_id.to_string(),
            location: location.clone(),
            ordinal: u64::try_from(ordinal).ok(),
        }),
        location,
        stored: Stored::Row,
    })
}

/// Reads the whole row of a lean record back by its scan and number.
fn whole_row(connection: &Connection, origin: &ItemOrigin) -> rusqlite::Result<RecordAndOrigin> {
    let Some(ordinal) = origin.ordinal else {
        return Err(rusqlite::Error::QueryReturnedNoRows);
    };
    // Built once: prepare_cached looks statements up by their text.
    static WHOLE_ROW: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {ITEM_COLUMNS}, ordinal FROM items WHERE scan_id = ?1 AND ordinal = ?2")
    });
    let mut statement = connection.prepare_cached(&WHOLE_ROW)?;
    statement.query_row(params![origin.scan_id, ordinal as i64], |row| {
        row_with_ordinal(row, &origin.scan_id)
    })
}

/// One earlier record and the rows it was first stored as.
type RecordAndOrigin = (ItemRecord, Option<ItemOrigin>);

/// Reads an item row followed by its number, as its own origin.
fn row_with_ordinal(row: &rusqlite::Row<'_>, scan_id: &str) -> rusqlite::Result<RecordAndOrigin> {
    let record = item_from_row(row)?;
    let ordinal: i64 = row.get(22)?;
    let origin = ItemOrigin {
        scan_id: scan_id.to_string(),
        location: record.location.clone(),
        ordinal: u64::try_from(ordinal).ok(),
    };
    Ok((record, Some(origin)))
}

/// Appends the top-level reference rows of `scan_id`, and adds the
/// locations of referenced containers to `containers`.
fn references_of(
    connection: &Connection,
    scan_id: &str,
    items: &mut Vec<LoadedItem>,
    containers: &mut HashSet<String>,
) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {REFERENCE_COLUMNS} FROM reused_items r
         JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location
         WHERE r.scan_id = ?1 AND r.parent IS NULL"
    ))?;
    for row in statement.query_map([scan_id], reference_from_row)? {
        let (record, origin) = row?;
        items.push(LoadedItem::whole(record, origin, Stored::Reference));
    }
    let mut statement = connection.prepare_cached(
        "SELECT DISTINCT path FROM reused_items WHERE scan_id = ?1 AND parent IS NOT NULL",
    )?;
    for path in statement.query_map([scan_id], |row| row.get::<_, String>(0))? {
        containers.insert(path?);
    }
    let mut statement = connection.prepare_cached(&format!(
        "SELECT DISTINCT parent FROM reused_items WHERE scan_id = ?1 AND parent IS NOT NULL AND {MAIL_SERVER_PATH}"
    ))?;
    for parent in statement.query_map([scan_id], |row| row.get::<_, String>(0))? {
        containers.insert(parent?);
    }
    Ok(())
}

/// Reads a reference row as [`REFERENCE_COLUMNS`] selects it.
fn reference_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RecordAndOrigin> {
    let record = item_from_row(row)?;
    let origin = ItemOrigin {
        scan_id: row.get(22)?,
        location: row.get(23)?,
        ordinal: None,
    };
    Ok((record, Some(origin)))
}

/// Returns the locations of the messages a scan recorded email flows for.
fn flow_locations_of(connection: &Connection, scan_id: &str) -> rusqlite::Result<BTreeSet<String>> {
    let mut statement =
        connection.prepare_cached("SELECT DISTINCT location FROM flows WHERE scan_id = ?1")?;
    statement
        .query_map([scan_id], |row| row.get::<_, String>(0))?
        .collect()
}

/// Returns the paths of the files that have member rows in `scan_id`, and
/// the locations of the mail-server messages with attachments.
fn containers_of(connection: &Connection, scan_id: &str) -> rusqlite::Result<HashSet<String>> {
    let mut statement = connection.prepare_cached(
        "SELECT DISTINCT path FROM items WHERE scan_id = ?1 AND parent IS NOT NULL",
    )?;
    let mut containers: HashSet<String> = statement
        .query_map([scan_id], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    // The path of an attachment on a mail server is its mailbox, shared by
    // every message, so its message is found through the parent. A parent
    // that is an attachment itself is harmless here.
    let mut statement = connection.prepare_cached(&format!(
        "SELECT DISTINCT parent FROM items WHERE scan_id = ?1 AND parent IS NOT NULL AND {MAIL_SERVER_PATH}"
    ))?;
    for parent in statement.query_map([scan_id], |row| row.get::<_, String>(0))? {
        containers.insert(parent?);
    }
    Ok(containers)
}

/// An SQL condition true when the row's `path` is a mailbox on a mail
/// server. It is written as ranges so that the index on `path` serves it.
const MAIL_SERVER_PATH: &str =
    "((path >= 'imap://' AND path < 'imap:/0') OR (path >= 'imaps://' AND path < 'imaps:/0'))";

/// Returns the bounds between which the locations of a message's
/// attachments sort: after `location!` and before `location"`.
fn member_bounds(location: &str) -> (String, String) {
    let next = char::from_u32(u32::from(MEMBER_SEPARATOR) + 1).unwrap_or(MEMBER_SEPARATOR);
    (
        format!("{location}{MEMBER_SEPARATOR}"),
        format!("{location}{next}"),
    )
}

/// Returns the member records of a container, in the order they were
/// recorded, each with its origin.
fn members_of(
    connection: &Connection,
    found: &Found<'_>,
) -> rusqlite::Result<Vec<(ItemRecord, Option<ItemOrigin>)>> {
    if is_mail_server_location(found.location) {
        return attachments_of(connection, found);
    }
    match (found.stored, found.origin) {
        (Stored::Row, Some(origin)) => {
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS}, ordinal FROM items
                 WHERE scan_id = ?1 AND path = ?2 AND parent IS NOT NULL ORDER BY rowid"
            ))?;
            statement
                .query_map(params![origin.scan_id, origin.location], |row| {
                    row_with_ordinal(row, &origin.scan_id)
                })?
                .collect()
        }
        _ => {
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {REFERENCE_COLUMNS} FROM reused_items r
                 JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location
                 WHERE r.scan_id = ?1 AND r.path = ?2 AND r.parent IS NOT NULL ORDER BY r.rowid"
            ))?;
            statement
                .query_map(params![found.scan_id, found.location], reference_from_row)?
                .collect()
        }
    }
}

/// Returns the attachment records of a message on a mail server, found by
/// location because they share their path, the mailbox, with every message.
fn attachments_of(
    connection: &Connection,
    found: &Found<'_>,
) -> rusqlite::Result<Vec<(ItemRecord, Option<ItemOrigin>)>> {
    match (found.stored, found.origin) {
        (Stored::Row, Some(origin)) => {
            let (low, high) = member_bounds(&origin.location);
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS}, ordinal FROM items
                 WHERE scan_id = ?1 AND location > ?2 AND location < ?3 AND parent IS NOT NULL
                 ORDER BY rowid"
            ))?;
            statement
                .query_map(params![origin.scan_id, low, high], |row| {
                    row_with_ordinal(row, &origin.scan_id)
                })?
                .collect()
        }
        _ => {
            let (low, high) = member_bounds(found.location);
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {REFERENCE_COLUMNS} FROM reused_items r
                 JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location
                 WHERE r.scan_id = ?1 AND r.location > ?2 AND r.location < ?3
                   AND r.parent IS NOT NULL
                 ORDER BY r.rowid"
            ))?;
            statement
                .query_map(params![found.scan_id, low, high], reference_from_row)?
                .collect()
        }
    }
}

impl ItemCache for SqliteCache {
    fn unchanged(&self, key: &FileKey<'_>) -> Option<CachedFile> {
        self.cached(self.results.unchanged(key), Some(key.meta))
    }

    fn may_be_copy(&self, size: u64, name: &str) -> bool {
        self.results.may_be_copy(size, name)
    }

    fn by_content(&self, content_id: &str, size: u64, name: &str) -> Option<CachedFile> {
        self.cached(self.results.by_content(content_id, size, name), None)
    }

    fn has_message(&self, location: &str) -> bool {
        self.results.message(location).is_some()
    }

    fn message(&self, location: &str) -> Option<CachedFile> {
        let found = self.results.message(location)?;
        match self.records_of(&found, None) {
            Ok(message) => Some(message),
            Err(err) => {
                tracing::warn!(location, error = %err, "cannot read a message's earlier results from the store");
                None
            }
        }
    }
}

/// A [`SqliteCache`] loaded on a thread of its own, so that the walk can
/// list and examine files while the index of 100,000 earlier files is read.
/// Lookups wait until the load is done. When the load fails, the cache
/// stays empty and every file is read again, as [`ItemCache`] promises.
pub struct LoadingCache {
    loading: Mutex<Option<JoinHandle<rusqlite::Result<SqliteCache>>>>,
    loaded: OnceLock<Option<SqliteCache>>,
}

impl LoadingCache {
    /// Starts loading the earlier results of `sources` from the store at
    /// `path` on a thread of its own, or loads them here when no thread can
    /// be started.
    pub fn start(path: PathBuf, sources: Vec<ScanInfo>, summaries_suffice: bool) -> LoadingCache {
        let load = move || -> rusqlite::Result<SqliteCache> {
            let clock = std::time::Instant::now();
            let sources: Vec<&ScanInfo> = sources.iter().collect();
            let cache = SqliteCache::open(&path, &sources)?;
            tracing::info!(
                files = cache.results().len(),
                seconds = clock.elapsed().as_secs_f64(),
                "loaded the earlier results of the sweep"
            );
            Ok(cache.summaries_suffice(summaries_suffice))
        };
        let loading = std::thread::Builder::new()
            .name("phiscan-sweep-index".into())
            .spawn(load.clone());
        let cache = LoadingCache {
            loading: Mutex::new(None),
            loaded: OnceLock::new(),
        };
        match loading {
            Ok(handle) => {
                *cache
                    .loading
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner()) = Some(handle);
            }
            Err(err) => {
                tracing::debug!(error = %err, "failed to start the index thread, so the earlier results load before the walk");
                let _ = cache.loaded.set(loaded_or_warn(load()));
            }
        }
        cache
    }

    /// Returns the loaded cache, waiting for the load to end.
    fn cache(&self) -> Option<&SqliteCache> {
        self.loaded
            .get_or_init(|| {
                let loading = self
                    .loading
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .take()?;
                match loading.join() {
                    Ok(result) => loaded_or_warn(result),
                    Err(_) => {
                        tracing::warn!(
                            "loading the earlier results of the sweep failed, so every file is read again"
                        );
                        None
                    }
                }
            })
            .as_ref()
    }
}

fn loaded_or_warn(result: rusqlite::Result<SqliteCache>) -> Option<SqliteCache> {
    match result {
        Ok(cache) => Some(cache),
        Err(err) => {
            tracing::warn!(error = %err, "failed to read the earlier results of the sweep, so every file is read again");
            None
        }
    }
}

impl ItemCache for LoadingCache {
    fn unchanged(&self, key: &FileKey<'_>) -> Option<CachedFile> {
        self.cache()?.unchanged(key)
    }

    fn may_be_copy(&self, size: u64, name: &str) -> bool {
        self.cache()
            .is_some_and(|cache| cache.may_be_copy(size, name))
    }

    fn by_content(&self, content_id: &str, size: u64, name: &str) -> Option<CachedFile> {
        self.cache()?.by_content(content_id, size, name)
    }

    fn has_message(&self, location: &str) -> bool {
        self.cache()
            .is_some_and(|cache| cache.has_message(location))
    }

    fn message(&self, location: &str) -> Option<CachedFile> {
        self.cache()?.message(location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phiscan_core::records::ItemMeta;

    #[test]
    fn failed_load_reads_every_file() {
        let folder = tempfile::tempdir().unwrap();
        let missing = folder.path().join("no-such-store.sqlite");
        let scan = ScanInfo {
            id: "scan-1".into(),
            started: "2026-01-01T00:00:00Z".into(),
            finished: None,
            roots: Vec::new(),
            version: "0.1.0".into(),
            rules_version: "rules-1".into(),
            host: None,
            complete: true,
            sweep: Some("nightly".into()),
            resumed_from: None,
            summary: None,
        };
        let cache = LoadingCache::start(missing, vec![scan], true);
        let meta = ItemMeta::default();
        let key = FileKey {
            location: "/share/notes.txt",
            size: 10,
            modified_ns: Some(1),
            file_id: None,
            meta: &meta,
        };
        assert!(cache.unchanged(&key).is_none());
        assert!(!cache.may_be_copy(10, "notes.txt"));
        assert!(cache.by_content("0123", 10, "notes.txt").is_none());
    }
}
