//! The incremental cache over the SQLite store: the records of earlier scans
//! of the same sweep, served to the scan pipeline so that unchanged files are
//! not read again.

use crate::model::ScanInfo;
use crate::read::{ITEM_COLUMNS, findings_of, item_from_row};
use phiscan_core::Coverage;
use phiscan_core::cache::{CachedFile, CachedItem, FileKey, ItemCache, ItemOrigin};
use phiscan_core::records::ItemRecord;
use rusqlite::{Connection, OpenFlags, params};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

/// The earlier top-level item at one location.
struct Earlier {
    /// Index into `EarlierResults::scan_ids`.
    scan: usize,
    record: ItemRecord,
    /// The rows the item was first stored as, when the store keeps references.
    origin: Option<ItemOrigin>,
    /// The file is a container with member records.
    has_members: bool,
}

/// An earlier top-level item found for a file.
pub struct Found<'a> {
    /// The scan that recorded it.
    pub scan_id: &'a str,
    pub record: &'a ItemRecord,
    /// The rows it was first stored as.
    pub origin: Option<&'a ItemOrigin>,
    /// The file is a container with member records.
    pub has_members: bool,
}

/// The top-level items of one earlier scan, with their origins, and the
/// locations of the files that have member records.
pub type SourceItems<'a> = (
    &'a ScanInfo,
    Vec<(ItemRecord, Option<ItemOrigin>)>,
    HashSet<String>,
);

/// Earlier results, indexed for the lookups the pipeline makes.
pub struct EarlierResults {
    scan_ids: Vec<String>,
    by_location: HashMap<String, Earlier>,
    by_content: HashMap<String, String>,
    sizes_and_names: HashSet<(u64, String)>,
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
        let mut sources = Vec::new();
        for scan in scans.iter().rev() {
            if scan.sweep.as_deref() != Some(sweep) || scan.rules_version != rules_version {
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
    pub fn build(sources: &[SourceItems<'_>]) -> EarlierResults {
        let mut results = EarlierResults {
            scan_ids: Vec::new(),
            by_location: HashMap::new(),
            by_content: HashMap::new(),
            sizes_and_names: HashSet::new(),
        };
        for (scan, items, containers) in sources.iter().rev() {
            let scan_index = results.scan_ids.len();
            results.scan_ids.push(scan.id.clone());
            for (record, origin) in items {
                let reusable = match record.coverage {
                    Coverage::Complete | Coverage::Encrypted | Coverage::Unsupported => true,
                    Coverage::Partial => scan.complete,
                    Coverage::Error | Coverage::Skipped => false,
                };
                if !reusable || record.parent.is_some() || record.format == "folder" {
                    results.by_location.remove(&record.location);
                    continue;
                }
                if let Some(content_id) = &record.content_id {
                    results
                        .by_content
                        .insert(content_id.clone(), record.location.clone());
                    results
                        .sizes_and_names
                        .insert((record.size, file_name(&record.location).to_string()));
                }
                results.by_location.insert(
                    record.location.clone(),
                    Earlier {
                        scan: scan_index,
                        has_members: containers.contains(&record.location),
                        record: record.clone(),
                        origin: origin.clone(),
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
        let earlier = self.by_location.get(key.location)?;
        let meta = &earlier.record.meta;
        let same = earlier.record.size == key.size
            && meta.modified_ns.is_some()
            && meta.modified_ns == key.modified_ns
            && meta.file_id.as_deref() == key.file_id;
        same.then(|| self.found(earlier))
    }

    /// Returns true when an earlier file has this size and name.
    pub fn may_be_copy(&self, size: u64, name: &str) -> bool {
        self.sizes_and_names.contains(&(size, name.to_string()))
    }

    /// Finds the earlier item with this content, size and file name.
    pub fn by_content(&self, content_id: &str, size: u64, name: &str) -> Option<Found<'_>> {
        let location = self.by_content.get(content_id)?;
        let earlier = self.by_location.get(location)?;
        if earlier.record.size != size || file_name(location) != name {
            return None;
        }
        Some(self.found(earlier))
    }

    fn found<'a>(&'a self, earlier: &'a Earlier) -> Found<'a> {
        Found {
            scan_id: self.scan_ids[earlier.scan].as_str(),
            record: &earlier.record,
            origin: earlier.origin.as_ref(),
            has_members: earlier.has_members,
        }
    }
}

fn file_name(location: &str) -> &str {
    location.rsplit(['/', '\\']).next().unwrap_or(location)
}

/// The incremental cache over a SQLite store.
pub struct SqliteCache {
    results: EarlierResults,
    connection: Mutex<Connection>,
}

impl SqliteCache {
    /// Opens a read-only connection to the store and indexes the top-level
    /// items of the source scans.
    pub fn open(path: &Path, sources: &[&ScanInfo]) -> rusqlite::Result<SqliteCache> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(std::time::Duration::from_secs(30))?;
        let mut loaded = Vec::new();
        for scan in sources {
            let mut statement = connection.prepare(&format!(
                "SELECT {ITEM_COLUMNS}, origin_scan, origin_location FROM all_items WHERE scan_id = ?1 AND parent IS NULL"
            ))?;
            let items = statement
                .query_map([&scan.id], item_with_origin)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut statement = connection.prepare(
                "SELECT DISTINCT path FROM all_items WHERE scan_id = ?1 AND parent IS NOT NULL",
            )?;
            let containers = statement
                .query_map([&scan.id], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<HashSet<_>>>()?;
            loaded.push((*scan, items, containers));
        }
        Ok(SqliteCache {
            results: EarlierResults::build(&loaded),
            connection: Mutex::new(connection),
        })
    }

    /// Returns the indexed earlier results.
    pub fn results(&self) -> &EarlierResults {
        &self.results
    }

    fn records_of(&self, found: &Found<'_>) -> rusqlite::Result<CachedFile> {
        let own = (found.record.clone(), found.origin.cloned());
        if !found.has_members && found.record.findings == 0 {
            return Ok(CachedFile {
                items: vec![CachedItem {
                    record: own.0,
                    findings: Vec::new(),
                    origin: own.1,
                }],
            });
        }
        let connection = self
            .connection
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut records = if found.has_members {
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS}, origin_scan, origin_location FROM all_items WHERE scan_id = ?1 AND path = ?2 AND parent IS NOT NULL ORDER BY seq"
            ))?;
            statement
                .query_map(
                    params![found.scan_id, found.record.location],
                    item_with_origin,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        records.push(own);
        let mut items = Vec::with_capacity(records.len());
        for (record, origin) in records {
            let mut findings = Vec::new();
            if record.findings > 0 {
                let (scan_id, location) = match &origin {
                    Some(origin) => (origin.scan_id.as_str(), origin.location.as_str()),
                    None => (found.scan_id, record.location.as_str()),
                };
                findings = findings_of(&connection, scan_id, location)?;
                // The stored rows may be under an older location of a moved file.
                for finding in &mut findings {
                    finding.location.clone_from(&record.location);
                }
            }
            items.push(CachedItem {
                record,
                findings,
                origin,
            });
        }
        Ok(CachedFile { items })
    }

    fn cached(&self, found: Option<Found<'_>>) -> Option<CachedFile> {
        match self.records_of(&found?) {
            Ok(file) => Some(file),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read earlier results from the store; reading the file again");
                None
            }
        }
    }
}

/// Reads an item row followed by its origin columns.
fn item_with_origin(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ItemRecord, Option<ItemOrigin>)> {
    let record = item_from_row(row)?;
    let origin = ItemOrigin {
        scan_id: row.get(22)?,
        location: row.get(23)?,
    };
    Ok((record, Some(origin)))
}

impl ItemCache for SqliteCache {
    fn unchanged(&self, key: &FileKey<'_>) -> Option<CachedFile> {
        self.cached(self.results.unchanged(key))
    }

    fn may_be_copy(&self, size: u64, name: &str) -> bool {
        self.results.may_be_copy(size, name)
    }

    fn by_content(&self, content_id: &str, size: u64, name: &str) -> Option<CachedFile> {
        self.cached(self.results.by_content(content_id, size, name))
    }
}
