//! Reading scans back from the SQLite store.

use crate::model::{PERSON_CATEGORIES, PersonKey, ScanData, ScanInfo};
use phiscan_core::records::{FindingRecord, FlowRecord, Individuals, ItemMeta, ItemRecord};
use phiscan_core::{Category, Class, Coverage, Locator};
use rusqlite::{Connection, Row, params};

/// Item columns in the order [`item_from_row`] reads them.
pub(crate) const ITEM_COLUMNS: &str = "location, path, parent, format, size, modified, class, coverage, reason, findings, categories, individuals_low, individuals_high, content_id, mode, uid, gid, file_id, modified_ns, exposure, places, reused";

/// Finding columns in the order [`finding_from_row`] reads them.
pub(crate) const FINDING_COLUMNS: &str = "location, rule, category, confidence, start, \"end\", line, \"column\", locator, preview, fingerprint, person";

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
        "SELECT DISTINCT location, category, fingerprint FROM all_findings WHERE scan_id = ?1 AND person = 1 AND category IN ({})",
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

/// Returns the items of two scans that may differ, the old scan's first:
/// every item except those the new scan stores as a reference to the same
/// rows as the old scan, which are identical by construction. An unchanged
/// sweep compares only what it read again, instead of both scans whole.
pub fn diff_sides(
    connection: &Connection,
    old_scan: &str,
    new_scan: &str,
) -> rusqlite::Result<(Vec<ItemRecord>, Vec<ItemRecord>)> {
    // The locations are found on the narrow base tables first, so that only
    // the items that may differ are resolved through the all_items view.
    // A new reference row is the old item when it points at the old scan's
    // own row at its location, or where the old scan's reference points.
    let new_locations = "
        SELECT location FROM items WHERE scan_id = ?2
        UNION ALL
        SELECT r.location FROM reused_items r WHERE r.scan_id = ?2
            AND NOT (r.origin_scan = ?1 AND r.origin_location = r.location)
            AND NOT EXISTS (SELECT 1 FROM reused_items q WHERE q.scan_id = ?1
                AND q.location = r.location AND q.origin_scan = r.origin_scan
                AND q.origin_location = r.origin_location)";
    let old_locations = "
        SELECT i.location FROM items i WHERE i.scan_id = ?1
            AND NOT EXISTS (SELECT 1 FROM reused_items r WHERE r.scan_id = ?2
                AND r.location = i.location AND r.origin_scan = ?1
                AND r.origin_location = i.location)
        UNION ALL
        SELECT q.location FROM reused_items q WHERE q.scan_id = ?1
            AND NOT EXISTS (SELECT 1 FROM reused_items r WHERE r.scan_id = ?2
                AND r.location = q.location AND r.origin_scan = q.origin_scan
                AND r.origin_location = q.origin_location)";
    let side = |scan_id: &str, locations: &str| -> rusqlite::Result<Vec<ItemRecord>> {
        let mut statement = connection.prepare(locations)?;
        let locations = statement
            .query_map([old_scan, new_scan], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM all_items WHERE scan_id = ?1 AND location = ?2"
        ))?;
        let mut items = Vec::with_capacity(locations.len());
        for location in locations {
            let rows = statement.query_map(params![scan_id, location], item_from_row)?;
            for item in rows {
                items.push(item?);
            }
        }
        Ok(items)
    };
    Ok((
        side(old_scan, old_locations)?,
        side(new_scan, new_locations)?,
    ))
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
        person: row.get(11)?,
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
