//! Reading scans back from the SQLite store.

use crate::blocks::decode_block;
use crate::model::{PERSON_CATEGORIES, PersonKey, ScanData, ScanInfo};
use crate::ranges::RangeSet;
use phiscan_core::location::MEMBER_SEPARATOR;
use phiscan_core::records::{FindingRecord, FlowRecord, Individuals, ItemMeta, ItemRecord};
use phiscan_core::{Category, Class, Coverage};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

/// Item columns in the order [`item_from_row`] reads them.
pub(crate) const ITEM_COLUMNS: &str = "location, path, parent, format, size, modified, class, coverage, reason, findings, categories, individuals_low, individuals_high, content_id, mode, uid, gid, file_id, modified_ns, exposure, places, reused";

/// The same columns for a reference row `r` joined to its origin row `o`,
/// followed by the origin's scan and location: the item as the scan that
/// reused it recorded it.
pub(crate) const REFERENCE_COLUMNS: &str = "r.location, r.path, r.parent, o.format, o.size, o.modified, o.class, o.coverage, o.reason, o.findings, o.categories, o.individuals_low, o.individuals_high, o.content_id, r.mode, r.uid, r.gid, r.file_id, r.modified_ns, r.exposure, r.places, 1, r.origin_scan, r.origin_location";

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
        "SELECT DISTINCT location, category, fingerprint FROM all_people WHERE scan_id = ?1 AND category IN ({})",
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

    let mut statement = connection.prepare(&format!(
        "SELECT {FLOW_COLUMNS} FROM flows WHERE scan_id = ?1 ORDER BY rowid"
    ))?;
    let flows = statement
        .query_map([scan_id], flow_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ScanData {
        items,
        people,
        flows,
    })
}

/// Returns the items of two scans that may differ, the old scan's first:
/// every item except those both scans take from the same stored row, which
/// are identical by construction. An unchanged sweep compares only what it
/// read again, instead of both scans whole.
pub fn diff_sides(
    connection: &Connection,
    old_scan: &str,
    new_scan: &str,
) -> rusqlite::Result<(Vec<ItemRecord>, Vec<ItemRecord>)> {
    // Unchanged items: the same row number of the same origin scan in both
    // scans, or in the new scan a row of the old scan itself.
    let old_unchanged = unchanged_ranges(connection, old_scan)?;
    let new_unchanged = unchanged_ranges(connection, new_scan)?;
    let mut same: HashMap<&str, RangeSet> = HashMap::new();
    for (origin, ranges) in &new_unchanged {
        let shared = if origin == old_scan {
            ranges.clone()
        } else {
            old_unchanged
                .get(origin)
                .map(|old| old.intersection(ranges))
                .unwrap_or_default()
        };
        same.insert(origin.as_str(), shared);
    }
    let no_ranges = RangeSet::default();
    let same_in = |origin: &str| same.get(origin).unwrap_or(&no_ranges);

    // Reference rows: a reference is the old item when it points at the old
    // scan's own row at its location, or where the old scan's reference points.
    let new_references = format!(
        "SELECT {REFERENCE_COLUMNS} FROM reused_items r
         JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location
         WHERE r.scan_id = ?2
            AND NOT (r.origin_scan = ?1 AND r.origin_location = r.location)
            AND NOT EXISTS (SELECT 1 FROM reused_items q WHERE q.scan_id = ?1
                AND q.location = r.location AND q.origin_scan = r.origin_scan
                AND q.origin_location = r.origin_location)"
    );
    let old_references = format!(
        "SELECT {REFERENCE_COLUMNS} FROM reused_items r
         JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location
         WHERE r.scan_id = ?1
            AND NOT EXISTS (SELECT 1 FROM reused_items q WHERE q.scan_id = ?2
                AND q.location = r.location AND q.origin_scan = r.origin_scan
                AND q.origin_location = r.origin_location)"
    );
    // The old scan's own rows in a range of numbers, minus those the new
    // scan refers to.
    let old_own = format!(
        "SELECT {ITEM_COLUMNS} FROM items i WHERE i.scan_id = ?1 AND i.ordinal BETWEEN ?3 AND ?4
            AND NOT EXISTS (SELECT 1 FROM reused_items r WHERE r.scan_id = ?2
                AND r.location = i.location AND r.origin_scan = ?1
                AND r.origin_location = i.location)"
    );
    let query = |sql: &str, scans: &[&str], out: &mut Vec<ItemRecord>| -> rusqlite::Result<()> {
        let mut statement = connection.prepare(sql)?;
        for item in statement.query_map(rusqlite::params_from_iter(scans), item_from_row)? {
            out.push(item?);
        }
        Ok(())
    };

    let mut old_items = Vec::new();
    let not_same_as_new = RangeSet::everything().difference(same_in(old_scan));
    let mut statement = connection.prepare(&old_own)?;
    for &(first, last) in not_same_as_new.ranges() {
        let rows = statement.query_map(
            params![old_scan, new_scan, first as i64, last as i64],
            item_from_row,
        )?;
        for item in rows {
            old_items.push(item?);
        }
    }
    query(&old_references, &[old_scan, new_scan], &mut old_items)?;
    for (origin, ranges) in &old_unchanged {
        let differing = ranges.difference(same_in(origin));
        rows_in_ranges(connection, origin, &differing, &mut old_items)?;
    }

    let mut new_items = Vec::new();
    query(
        &format!("SELECT {ITEM_COLUMNS} FROM items WHERE scan_id = ?1"),
        &[new_scan],
        &mut new_items,
    )?;
    query(&new_references, &[old_scan, new_scan], &mut new_items)?;
    for (origin, ranges) in &new_unchanged {
        let differing = ranges.difference(same_in(origin));
        rows_in_ranges(connection, origin, &differing, &mut new_items)?;
    }
    Ok((old_items, new_items))
}

/// Returns the unchanged items a scan lists, as ranges of row numbers by
/// origin scan.
pub(crate) fn unchanged_ranges(
    connection: &Connection,
    scan_id: &str,
) -> rusqlite::Result<HashMap<String, RangeSet>> {
    let mut statement = connection
        .prepare_cached("SELECT origin_scan, ranges FROM unchanged_items WHERE scan_id = ?1")?;
    let mut rows = statement.query([scan_id])?;
    let mut by_origin: HashMap<String, RangeSet> = HashMap::new();
    while let Some(row) = rows.next()? {
        let origin: String = row.get(0)?;
        let text: String = row.get(1)?;
        let ranges = RangeSet::from_json(&text).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(err))
        })?;
        let entry = by_origin.entry(origin).or_default();
        *entry = entry.union(&ranges);
    }
    Ok(by_origin)
}

/// Appends the item rows of `scan_id` whose numbers are in `ranges`.
fn rows_in_ranges(
    connection: &Connection,
    scan_id: &str,
    ranges: &RangeSet,
    out: &mut Vec<ItemRecord>,
) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE scan_id = ?1 AND ordinal BETWEEN ?2 AND ?3"
    ))?;
    for &(first, last) in ranges.ranges() {
        let rows =
            statement.query_map(params![scan_id, first as i64, last as i64], item_from_row)?;
        for item in rows {
            out.push(item?);
        }
    }
    Ok(())
}

/// Returns the findings stored for one item, in the order they were recorded.
pub(crate) fn findings_of(
    connection: &Connection,
    scan_id: &str,
    location: &str,
) -> rusqlite::Result<Vec<FindingRecord>> {
    let mut statement = connection.prepare_cached(
        "SELECT findings, rules FROM finding_blocks WHERE scan_id = ?1 AND location = ?2 ORDER BY seq",
    )?;
    let mut rows = statement.query(params![scan_id, location])?;
    let mut findings = Vec::new();
    while let Some(row) = rows.next()? {
        let text: String = row.get(0)?;
        let rules: Option<String> = row.get(1)?;
        let block = decode_block(&text, rules.as_deref(), location).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
        })?;
        findings.extend(block);
    }
    Ok(findings)
}

/// Returns the category and fingerprint of each finding of one item in a
/// scan, sorted. The findings may be the scan's own rows, a reference to an
/// earlier scan's row, or a range of unchanged rows of an earlier scan.
pub(crate) fn fingerprints_of(
    connection: &Connection,
    scan_id: &str,
    location: &str,
) -> rusqlite::Result<Vec<(Category, String)>> {
    let Some((origin, origin_location)) = origin_of(connection, scan_id, location)? else {
        return Ok(Vec::new());
    };
    let mut fingerprints: Vec<(Category, String)> =
        findings_of(connection, &origin, &origin_location)?
            .into_iter()
            .map(|finding| (finding.category, finding.fingerprint))
            .collect();
    fingerprints.sort_unstable();
    Ok(fingerprints)
}

/// Returns the item row a scan wrote itself at `location`, if any.
pub(crate) fn own_item(
    connection: &Connection,
    scan_id: &str,
    location: &str,
) -> rusqlite::Result<Option<ItemRecord>> {
    connection
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE scan_id = ?1 AND location = ?2"
        ))?
        .query_row(params![scan_id, location], item_from_row)
        .optional()
}

/// Returns true when a scan recorded a file below `folder`, in its own rows,
/// in references to earlier rows, or in ranges of unchanged earlier rows.
pub(crate) fn has_items_under(
    connection: &Connection,
    scan_id: &str,
    folder: &str,
) -> rusqlite::Result<bool> {
    // Paths below the folder sort between "folder/" and "folder0", because
    // '0' follows '/'.
    let (low, high) = below(folder);
    for table in ["items", "reused_items"] {
        let found = connection
            .prepare_cached(&format!(
                "SELECT 1 FROM {table} WHERE scan_id = ?1 AND path > ?2 AND path < ?3 LIMIT 1"
            ))?
            .exists(params![scan_id, low, high])?;
        if found {
            return Ok(true);
        }
    }
    let mut ordinals = connection.prepare_cached(
        "SELECT ordinal FROM items WHERE scan_id = ?1 AND path > ?2 AND path < ?3",
    )?;
    for (origin, ranges) in unchanged_ranges(connection, scan_id)? {
        let mut rows = ordinals.query(params![origin, low, high])?;
        while let Some(row) = rows.next()? {
            if ranges.contains(row.get::<_, i64>(0)? as u64) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Returns the bounds between which the paths below `folder` sort.
pub(crate) fn below(folder: &str) -> (String, String) {
    let folder = folder.trim_end_matches(['/', std::path::MAIN_SEPARATOR]);
    let separator = std::path::MAIN_SEPARATOR;
    let after = char::from_u32(separator as u32 + 1).unwrap_or(separator);
    (format!("{folder}{separator}"), format!("{folder}{after}"))
}

/// Returns the scan and location whose rows hold an item's findings, or
/// None when the scan has no such item.
fn origin_of(
    connection: &Connection,
    scan_id: &str,
    location: &str,
) -> rusqlite::Result<Option<(String, String)>> {
    let own = connection
        .prepare_cached("SELECT 1 FROM items WHERE scan_id = ?1 AND location = ?2")?
        .exists(params![scan_id, location])?;
    if own {
        return Ok(Some((scan_id.to_string(), location.to_string())));
    }
    let reference = connection
        .prepare_cached(
            "SELECT origin_scan, origin_location FROM reused_items WHERE scan_id = ?1 AND location = ?2",
        )?
        .query_row(params![scan_id, location], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    if reference.is_some() {
        return Ok(reference);
    }
    let mut ordinal_of = connection
        .prepare_cached("SELECT ordinal FROM items WHERE scan_id = ?1 AND location = ?2")?;
    for (origin, ranges) in unchanged_ranges(connection, scan_id)? {
        let ordinal: Option<i64> = ordinal_of
            .query_row(params![origin, location], |row| row.get(0))
            .optional()?;
        if ordinal.is_some_and(|ordinal| ranges.contains(ordinal as u64)) {
            return Ok(Some((origin, location.to_string())));
        }
    }
    Ok(None)
}

/// Returns true when an item's findings include a name that did not count a
/// person on its own: a name part, which with others may have counted one.
pub(crate) fn may_have_whole_names(findings: &[FindingRecord]) -> bool {
    findings
        .iter()
        .any(|finding| finding.category == Category::Name && !finding.person)
}

/// Returns an item's stored person fingerprints as (category, hex) pairs.
pub(crate) fn people_of(
    connection: &Connection,
    scan_id: &str,
    location: &str,
) -> rusqlite::Result<Vec<(Category, String)>> {
    let mut statement = connection.prepare_cached(
        "SELECT category, fingerprints FROM people WHERE scan_id = ?1 AND location = ?2",
    )?;
    let mut rows = statement.query(params![scan_id, location])?;
    let mut people = Vec::new();
    while let Some(row) = rows.next()? {
        let Ok(category) = row.get_ref(0)?.as_str()?.parse::<Category>() else {
            continue;
        };
        let fingerprints: Vec<String> =
            serde_json::from_str(row.get_ref(1)?.as_str()?).map_err(|err| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Text,
                    Box::new(err),
                )
            })?;
        people.extend(fingerprints.into_iter().map(|hex| (category, hex)));
    }
    Ok(people)
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

/// Columns of a flow row, in the order [`flow_from_row`] reads them.
pub(crate) const FLOW_COLUMNS: &str = "location, sent, from_domain, to_domain, field, external, webmail, protection, auto_forwarded, attachments, class, categories";

/// Reads a flow row as [`FLOW_COLUMNS`] selects it.
fn flow_from_row(row: &Row<'_>) -> rusqlite::Result<FlowRecord> {
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
}

/// Returns the flows a scan recorded for the messages in one file: the file
/// itself (an .eml) or its members (`FILE!...`, in an mbox, PST or zip).
pub(crate) fn flows_of_file(
    connection: &Connection,
    scan_id: &str,
    file: &str,
) -> rusqlite::Result<Vec<FlowRecord>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {FLOW_COLUMNS} FROM flows
         WHERE scan_id = ?1 AND (location = ?2 OR substr(location, 1, length(?3)) = ?3)
         ORDER BY rowid"
    ))?;
    let members = format!("{file}{MEMBER_SEPARATOR}");
    statement
        .query_map(params![scan_id, file, members], flow_from_row)?
        .collect()
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

/// Parses a stored category name; names this build does not know (from a
/// newer phiscan) become `other-id`.
pub(crate) fn parse_category(name: &str) -> Category {
    name.parse().unwrap_or(Category::OtherId)
}

pub(crate) fn parse_categories(json: &str) -> Vec<Category> {
    let names: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    names.iter().map(|name| parse_category(name)).collect()
}
