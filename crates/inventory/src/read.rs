//! Reading scans back from the SQLite store.

use crate::model::{PERSON_CATEGORIES, PersonKey, ScanData, ScanInfo};
use phiscan_core::records::{FindingRecord, FlowRecord, Individuals, ItemMeta, ItemRecord};
use phiscan_core::{Category, Class, Coverage, Locator};
use rusqlite::{Connection, Row, params};

/// Item columns in the order [`item_from_row`] reads them.
pub(crate) const ITEM_COLUMNS: &str = "location, path, parent, format, size, modified, class, coverage, reason, findings, categories, individuals_low, individuals_high, content_id, mode, uid, gid, file_id, modified_ns, exposure, places, reused";

/// Finding columns in the order [`finding_from_row`] reads them.
pub(crate) const FINDING_COLUMNS: &str = "location, rule, category, confidence, start, \"end\", line, \"column\", locator, preview, fingerprint";

const SCAN_COLUMNS: &str = "id, started, finished, roots, version, rules_version, host, complete, sweep, resumed_from, summary";

/// Returns every scan, oldest first.
pub fn scans(connection: &Connection) -> rusqlite::Result<Vec<ScanInfo>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {SCAN_COLUMNS} FROM scans ORDER BY started, rowid"
    ))?;
    let rows = statement.query_map([], scan_from_row)?;
    rows.collect()
}

/// Loads the items, person fingerprints and flows of one scan.
pub fn scan_data(connection: &Connection, scan_id: &str) -> rusqlite::Result<ScanData> {
    let mut statement = connection.prepare(&format!(
        "SELECT {ITEM_COLUMNS} FROM all_items WHERE scan_id = ?1 ORDER BY seq"
    ))?;
    let items = statement
        .query_map([scan_id], item_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let categories: Vec<String> = PERSON_CATEGORIES
        .iter()
        .map(|category| format!("'{}'", category.as_str()))
        .collect();
    let mut statement = connection.prepare(&format!(
        "SELECT DISTINCT location, category, fingerprint FROM all_findings WHERE scan_id = ?1 AND category IN ({})",
        categories.join(", ")
    ))?;
    let people = statement
        .query_map([scan_id], |row| {
            Ok(PersonKey {
                location: row.get(0)?,
                category: parse_category(&row.get::<_, String>(1)?),
                fingerprint: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let mut statement = connection.prepare(
        "SELECT location, sent, from_domain, to_domain, field, external, webmail, protection, auto_forwarded, attachments, class, categories
         FROM flows WHERE scan_id = ?1 ORDER BY rowid",
    )?;
    let flows = statement
        .query_map([scan_id], |row| {
            Ok(FlowRecord {
                location: row.get(0)?,
                sent: row.get(1)?,
                from_domain: row.get(2)?,
                to_domain: row.get(3)?,
                field: row.get(4)?,
                external: row.get(5)?,
                webmail: row.get(6)?,
                protection: row.get(7)?,
                auto_forwarded: row.get(8)?,
                attachments: row.get(9)?,
                class: Class::parse(&row.get::<_, String>(10)?).unwrap_or(Class::None),
                categories: parse_categories(&row.get::<_, String>(11)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ScanData {
        items,
        people,
        flows,
    })
}

/// Returns the items of two scans that may differ, old scan's first: every
/// item except those both scans store as a reference to the same rows, which
/// are identical by construction. An unchanged sweep compares only what it
/// read again, instead of loading both scans whole.
pub fn diff_sides(
    connection: &Connection,
    old_scan: &str,
    new_scan: &str,
) -> rusqlite::Result<(Vec<ItemRecord>, Vec<ItemRecord>)> {
    let side = |this: &str, other: &str| -> rusqlite::Result<Vec<ItemRecord>> {
        let mut statement = connection.prepare(&format!(
            "SELECT {ITEM_COLUMNS} FROM all_items a WHERE a.scan_id = ?1 AND NOT EXISTS (
                 SELECT 1 FROM all_items b WHERE b.scan_id = ?2 AND b.location = a.location
                     AND b.origin_scan = a.origin_scan AND b.origin_location = a.origin_location)"
        ))?;
        let rows = statement.query_map([this, other], item_from_row)?;
        rows.collect()
    };
    Ok((side(old_scan, new_scan)?, side(new_scan, old_scan)?))
}

/// Returns the findings stored for one item, in the order they were recorded.
pub(crate) fn findings_of(
    connection: &Connection,
    scan_id: &str,
    location: &str,
) -> rusqlite::Result<Vec<FindingRecord>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {FINDING_COLUMNS} FROM findings WHERE scan_id = ?1 AND location = ?2 ORDER BY rowid"
    ))?;
    let rows = statement.query_map(params![scan_id, location], finding_from_row)?;
    rows.collect()
}

pub(crate) fn scan_from_row(row: &Row<'_>) -> rusqlite::Result<ScanInfo> {
    let roots: String = row.get(3)?;
    let summary: Option<String> = row.get(10)?;
    Ok(ScanInfo {
        id: row.get(0)?,
        started: row.get(1)?,
        finished: row.get(2)?,
        roots: serde_json::from_str(&roots).unwrap_or_default(),
        version: row.get(4)?,
        rules_version: row.get(5)?,
        host: row.get(6)?,
        complete: row.get(7)?,
        sweep: row.get(8)?,
        resumed_from: row.get(9)?,
        summary: summary.and_then(|text| serde_json::from_str(&text).ok()),
    })
}

pub(crate) fn item_from_row(row: &Row<'_>) -> rusqlite::Result<ItemRecord> {
    let class: String = row.get(6)?;
    let coverage: String = row.get(7)?;
    let categories: String = row.get(10)?;
    let exposure: String = row.get(19)?;
    let places: String = row.get(20)?;
    Ok(ItemRecord {
        location: row.get(0)?,
        path: row.get(1)?,
        parent: row.get(2)?,
        format: row.get(3)?,
        size: row.get::<_, i64>(4)? as u64,
        modified: row.get(5)?,
        class: Class::parse(&class).unwrap_or(Class::None),
        coverage: Coverage::parse(&coverage).unwrap_or(Coverage::Error),
        reason: row.get(8)?,
        findings: row.get::<_, i64>(9)? as u64,
        categories: parse_categories(&categories),
        individuals: Individuals {
            low: row.get::<_, i64>(11)? as u64,
            high: row.get::<_, i64>(12)? as u64,
        },
        content_id: row.get(13)?,
        meta: ItemMeta {
            mode: row.get(14)?,
            uid: row.get(15)?,
            gid: row.get(16)?,
            file_id: row.get(17)?,
            modified_ns: row.get(18)?,
            exposure: serde_json::from_str(&exposure).unwrap_or_default(),
            places: serde_json::from_str(&places).unwrap_or_default(),
            reused: row.get(21)?,
        },
    })
}

pub(crate) fn finding_from_row(row: &Row<'_>) -> rusqlite::Result<FindingRecord> {
    let category: String = row.get(2)?;
    let locator: String = row.get(8)?;
    Ok(FindingRecord {
        location: row.get(0)?,
        rule: row.get(1)?,
        category: parse_category(&category),
        confidence: row.get(3)?,
        start: row.get::<_, i64>(4)? as u64,
        end: row.get::<_, i64>(5)? as u64,
        line: row.get::<_, i64>(6)? as u64,
        column: row.get::<_, i64>(7)? as u64,
        locator: serde_json::from_str(&locator).unwrap_or(Locator::Text),
        preview: row.get(9)?,
        fingerprint: row.get(10)?,
        value: None,
    })
}

/// Parses a stored category name; names this build does not know (from a
/// newer phiscan) become `other-id`.
pub(crate) fn parse_category(name: &str) -> Category {
    name.parse().unwrap_or(Category::OtherId)
}

pub(crate) fn parse_categories(json: &str) -> Vec<Category> {
    let names: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    names.iter().map(|name| parse_category(name)).collect()
}
