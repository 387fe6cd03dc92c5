//! Findings stored in blocks, and the person fingerprints of each item.
//!
//! A scan can produce millions of findings, and one table row with indexes
//! per finding made the store the slowest stage of a scan. The store
//! instead keeps one `finding_blocks` row per item and batch: the findings
//! the writer received for that item, in order, as a JSON array of arrays.
//! Each inner array holds, in this order:
//!
//! ```text
//! [rule, category, confidence, start, end, line, column, locator, preview, fingerprint, person]
//! ```
//!
//! `locator` is the locator's JSON object and `person` is 1 or 0. The
//! `findings` view turns blocks back into one row per finding.
//!
//! The values that identify a person (the findings whose `person` flag is
//! set) are also kept per item and category, distinct, in the `people`
//! table, so that the estimate of individuals reads those instead of every
//! finding.

use crate::read::parse_category;
use phiscan_core::json::{push_number, push_string};
use phiscan_core::records::FindingRecord;
use phiscan_core::{Category, Locator};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// Size of a block's JSON text, in bytes, after which the block is written
/// even though its item is not finished: bounds the memory an item with
/// millions of findings takes in the writer.
const MAX_BLOCK_BYTES: usize = 1 << 20;

/// Fingerprints of one category after which an unfinished item's people row
/// is written: bounds the writer's memory for a file that names hundreds of
/// thousands of people.
const MAX_PEOPLE_PER_ROW: usize = 50_000;

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

/// Appends one finding's array to a block's JSON text, the same text
/// serde_json writes for a `StoredFinding`. The raw `value` is deliberately
/// not stored.
fn encode_finding(out: &mut Vec<u8>, finding: &FindingRecord) {
    out.push(b'[');
    push_string(out, &finding.rule);
    out.extend_from_slice(b",\"");
    out.extend_from_slice(finding.category.as_str().as_bytes());
    out.extend_from_slice(b"\",");
    for number in [
        u64::from(finding.confidence),
        finding.start,
        finding.end,
        finding.line,
        finding.column,
    ] {
        push_number(out, number);
        out.push(b',');
    }
    // Writing to a Vec cannot fail, and the locator serializes through its
    // derived form of strings and numbers, for which serde_json has no error.
    let _ = serde_json::to_writer(&mut *out, &finding.locator);
    out.push(b',');
    push_string(out, &finding.preview);
    out.push(b',');
    push_string(out, &finding.fingerprint);
    out.extend_from_slice(if finding.person { b",1]" } else { b",0]" });
}

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

/// A block ready to be written.
#[derive(Debug, PartialEq, Eq)]
pub struct Block {
    pub location: String,
    /// The JSON array of the block's findings.
    pub findings: String,
}

/// The distinct person fingerprints of one item in one category.
#[derive(Debug, PartialEq, Eq)]
pub struct PeopleRow {
    pub location: String,
    pub category: Category,
    /// JSON array of the fingerprints, sorted.
    pub fingerprints: String,
}

/// Findings of one unfinished item.
#[derive(Default)]
struct PendingItem {
    /// JSON text of the block being built, without its closing bracket.
    block: Vec<u8>,
    /// Hashed while the item is open, sorted when a row is written: a
    /// sorted set compared fingerprint strings a dozen times per finding in
    /// large exports.
    people: BTreeMap<Category, FxHashSet<String>>,
}

impl PendingItem {
    fn take_block(&mut self, location: &str) -> Option<Block> {
        if self.block.is_empty() {
            return None;
        }
        let mut json = std::mem::take(&mut self.block);
        json.push(b']');
        // The text was written by serde_json, which writes UTF-8 only.
        let findings = String::from_utf8(json)
            .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
        Some(Block {
            location: location.to_string(),
            findings,
        })
    }

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
        item.block
            .push(if item.block.is_empty() { b'[' } else { b',' });
        encode_finding(&mut item.block, finding);
        let mut people_full = false;
        if finding.person {
            let fingerprints = item.people.entry(finding.category).or_default();
            if !fingerprints.contains(finding.fingerprint.as_str()) {
                fingerprints.insert(finding.fingerprint.clone());
            }
            people_full = fingerprints.len() >= MAX_PEOPLE_PER_ROW;
        }
        let block_full = item.block.len() >= MAX_BLOCK_BYTES;
        if !block_full && !people_full {
            return None;
        }
        let location = &finding.location;
        let block = if block_full {
            item.take_block(location)
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
            Some(mut item) => (item.take_block(location), item.take_people(location)),
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
                .all(|block| block.findings.len() <= MAX_BLOCK_BYTES + 1024)
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
