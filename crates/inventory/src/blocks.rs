//! Findings that reach the store as records, gathered into blocks.
//!
//! Workers encode blocks themselves (see `phiscan_core::blocks`, which also
//! describes the block format). Finding records still reach a store when
//! it copies an earlier scan's findings or is written directly. This module
//! gathers those records per item into the same blocks and people rows.

use crate::read::parse_category;
pub use phiscan_core::blocks::{Block, PeopleRow};
use phiscan_core::blocks::{BlockBuilder, BlockFinding, MAX_PEOPLE_PER_ROW};
use phiscan_core::records::FindingRecord;
use phiscan_core::{Category, Locator};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// One finding as a block stores it.
type StoredFinding = (
    String,
    String,
    u8,
    u64,
    u64,
    u64,
    u64,
    Locator,
    String,
    String,
    u8,
);

/// Parses a block's JSON text into finding records of `location`.
pub fn decode_block(json: &str, location: &str) -> serde_json::Result<Vec<FindingRecord>> {
    let stored: Vec<StoredFinding> = serde_json::from_str(json)?;
    Ok(stored
        .into_iter()
        .map(
            |(
                rule,
                category,
                confidence,
                start,
                end,
                line,
                column,
                locator,
                preview,
                fingerprint,
                person,
            )| {
                FindingRecord {
                    location: location.to_string(),
                    rule,
                    category: parse_category(&category),
                    confidence,
                    start,
                    end,
                    line,
                    column,
                    locator,
                    preview,
                    fingerprint,
                    person: person != 0,
                    value: None,
                }
            },
        )
        .collect())
}

/// Findings of one unfinished item.
#[derive(Default)]
struct PendingItem {
    block: BlockBuilder,
    /// Hashed while the item is open, sorted when a row is written.
    people: BTreeMap<Category, FxHashSet<String>>,
}

impl PendingItem {
    fn take_people(&mut self, location: &str) -> Vec<PeopleRow> {
        std::mem::take(&mut self.people)
            .into_iter()
            .map(|(category, fingerprints)| {
                let mut fingerprints: Vec<String> = fingerprints.into_iter().collect();
                fingerprints.sort_unstable();
                PeopleRow {
                    location: location.to_string(),
                    category,
                    fingerprints: serde_json::to_string(&fingerprints)
                        .unwrap_or_else(|_| "[]".into()),
                }
            })
            .collect()
    }
}

/// Findings of the items in progress, by location. Items from several
/// worker threads interleave, and each item's findings arrive before the
/// item record that closes it.
#[derive(Default)]
pub struct PendingFindings {
    items: FxHashMap<String, PendingItem>,
}

impl PendingFindings {
    /// Adds a finding to its item's block. Returns the block when it is
    /// full, and the people rows so far when a category holds
    /// [`MAX_PEOPLE_PER_ROW`] fingerprints. Readers take distinct values, so
    /// a fingerprint repeated in a later row of the same item counts once.
    pub fn add(&mut self, finding: &FindingRecord) -> Option<(Option<Block>, Vec<PeopleRow>)> {
        let item = match self.items.get_mut(finding.location.as_str()) {
            Some(item) => item,
            None => self.items.entry(finding.location.clone()).or_default(),
        };
        item.block.add(&BlockFinding::from(finding));
        let mut people_full = false;
        if finding.person {
            let fingerprints = item.people.entry(finding.category).or_default();
            if !fingerprints.contains(finding.fingerprint.as_str()) {
                fingerprints.insert(finding.fingerprint.clone());
            }
            people_full = fingerprints.len() >= MAX_PEOPLE_PER_ROW;
        }
        let block_full = item.block.is_full();
        if !block_full && !people_full {
            return None;
        }
        let location = &finding.location;
        let block = if block_full {
            item.block.take(location)
        } else {
            None
        };
        let people = if people_full {
            item.take_people(location)
        } else {
            Vec::new()
        };
        Some((block, people))
    }

    /// Ends an item: returns its last block and its person fingerprints.
    pub fn close(&mut self, location: &str) -> (Option<Block>, Vec<PeopleRow>) {
        match self.items.remove(location) {
            Some(mut item) => (item.block.take(location), item.take_people(location)),
            None => (None, Vec::new()),
        }
    }

    /// Ends every item still open, for a scan that stops before their item
    /// records arrive.
    pub fn close_all(&mut self) -> Vec<(Option<Block>, Vec<PeopleRow>)> {
        let locations: Vec<String> = self.items.keys().cloned().collect();
        locations
            .iter()
            .map(|location| self.close(location))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(location: &str, fingerprint: &str, person: bool) -> FindingRecord {
        FindingRecord {
            location: location.into(),
            rule: "us.ssn".into(),
            category: Category::Ssn,
            confidence: 98,
            start: 5,
            end: 16,
            line: 1,
            column: 6,
            locator: Locator::Csv {
                row: 2,
                column: 3,
                header: Some("SSN \"primary\"".into()),
            },
            preview: "***-**-7890".into(),
            fingerprint: fingerprint.into(),
            person,
            value: Some("234-56-7890".into()),
        }
    }

    #[test]
    fn block_round_trip_without_value() {
        let mut pending = PendingFindings::default();
        let first = finding("a.csv", "f1", true);
        let second = finding("a.csv", "f2", false);
        assert!(pending.add(&first).is_none());
        assert!(pending.add(&second).is_none());
        let (block, people) = pending.close("a.csv");
        let block = block.unwrap();
        assert!(
            !block.findings.contains("234-56-7890"),
            "{}",
            block.findings
        );
        let decoded = decode_block(&block.findings, "a.csv").unwrap();
        let expected: Vec<FindingRecord> = [first, second]
            .into_iter()
            .map(|finding| FindingRecord {
                value: None,
                ..finding
            })
            .collect();
        assert_eq!(decoded, expected);
        assert_eq!(
            people,
            vec![PeopleRow {
                location: "a.csv".into(),
                category: Category::Ssn,
                fingerprints: r#"["f1"]"#.into(),
            }]
        );
    }

    #[test]
    fn items_interleave_and_people_are_distinct() {
        let mut pending = PendingFindings::default();
        pending.add(&finding("a.txt", "f2", true));
        pending.add(&finding("b.txt", "f9", true));
        pending.add(&finding("a.txt", "f1", true));
        pending.add(&finding("a.txt", "f2", true));
        let (block, people) = pending.close("a.txt");
        assert_eq!(
            decode_block(&block.unwrap().findings, "a.txt")
                .unwrap()
                .len(),
            3
        );
        assert_eq!(people.len(), 1);
        assert_eq!(people[0].fingerprints, r#"["f1","f2"]"#);
        let (block, _) = pending.close("b.txt");
        assert_eq!(
            decode_block(&block.unwrap().findings, "b.txt")
                .unwrap()
                .len(),
            1
        );
        assert_eq!(pending.close("b.txt"), (None, Vec::new()));
    }

    #[test]
    fn full_block_is_returned_early() {
        let mut pending = PendingFindings::default();
        let mut blocks = Vec::new();
        let count = 30_000;
        for index in 0..count {
            if let Some((block, _)) = pending.add(&finding("big.log", &format!("f{index}"), false))
            {
                blocks.extend(block);
            }
        }
        assert!(
            !blocks.is_empty(),
            "a block is written before the item ends"
        );
        let (last, _) = pending.close("big.log");
        blocks.extend(last);
        let total: usize = blocks
            .iter()
            .map(|block| decode_block(&block.findings, "big.log").unwrap().len())
            .sum();
        assert_eq!(total, count);
        assert!(
            blocks
                .iter()
                .all(|block| block.findings.len() <= phiscan_core::blocks::MAX_BLOCK_BYTES + 1024)
        );
    }

    #[test]
    fn people_rows_are_written_in_parts() {
        let mut pending = PendingFindings::default();
        let mut rows = Vec::new();
        let count = MAX_PEOPLE_PER_ROW + 10;
        for index in 0..count {
            if let Some((_, people)) =
                pending.add(&finding("roster.csv", &format!("{index:032x}"), true))
            {
                rows.extend(people);
            }
        }
        assert_eq!(rows.len(), 1, "one row when the first part is full");
        let (_, last) = pending.close("roster.csv");
        rows.extend(last);
        let mut fingerprints = std::collections::BTreeSet::new();
        for row in &rows {
            let part: Vec<String> = serde_json::from_str(&row.fingerprints).unwrap();
            fingerprints.extend(part);
        }
        assert_eq!(fingerprints.len(), count);
    }
}
