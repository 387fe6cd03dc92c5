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
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;

/// One finding of a block without a rule table, as stores written before
/// the table contain them.
type SelfDescribingFinding = (
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

/// One finding of a block with a rule table.
type NumberedFinding = (
    u32,
    u8,
    u64,
    u64,
    u64,
    u64,
    BlockLocator,
    String,
    String,
    u8,
);

/// A locator as a block stores it: `0` for text, `[row, column]` or
/// `[row, column, header]` for a delimited cell, the object otherwise.
struct BlockLocator(Locator);

impl<'de> Deserialize<'de> for BlockLocator {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BlockLocatorVisitor)
    }
}

struct BlockLocatorVisitor;

impl<'de> Visitor<'de> for BlockLocatorVisitor {
    type Value = BlockLocator;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("0, a [row, column, header] array or a locator object")
    }

    fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<BlockLocator, E> {
        match number {
            0 => Ok(BlockLocator(Locator::Text)),
            other => Err(E::invalid_value(
                serde::de::Unexpected::Unsigned(other),
                &self,
            )),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BlockLocator, A::Error> {
        let row = seq
            .next_element()?
            .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
        let column = seq
            .next_element()?
            .ok_or_else(|| serde::de::Error::invalid_length(1, &self))?;
        let header = seq.next_element::<String>()?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(serde::de::Error::invalid_length(4, &self));
        }
        Ok(BlockLocator(Locator::Csv {
            row,
            column,
            header,
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BlockLocator, A::Error> {
        Locator::deserialize(MapAccessDeserializer::new(map)).map(BlockLocator)
    }
}

/// Parses a block's JSON text into finding records of `location`. `rules`
/// is the block's rule table, or None for a block written before the table.
pub fn decode_block(
    findings: &str,
    rules: Option<&str>,
    location: &str,
) -> serde_json::Result<Vec<FindingRecord>> {
    let Some(rules) = rules else {
        return decode_self_describing(findings, location);
    };
    let rules: Vec<(String, String)> = serde_json::from_str(rules)?;
    let rules: Vec<(String, Category)> = rules
        .into_iter()
        .map(|(rule, category)| (rule, parse_category(&category)))
        .collect();
    let stored: Vec<NumberedFinding> = serde_json::from_str(findings)?;
    stored
        .into_iter()
        .map(
            |(
                number,
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
                let (rule, category) = rules.get(number as usize).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "rule number {number} is not in the block's rule table of {} rules",
                        rules.len()
                    ))
                })?;
                Ok(FindingRecord {
                    location: location.to_string(),
                    rule: rule.clone(),
                    category: *category,
                    confidence,
                    start,
                    end,
                    line,
                    column,
                    locator: locator.0,
                    preview,
                    fingerprint,
                    person: person != 0,
                    value: None,
                })
            },
        )
        .collect()
}

/// Parses a block without a rule table.
fn decode_self_describing(
    findings: &str,
    location: &str,
) -> serde_json::Result<Vec<FindingRecord>> {
    let stored: Vec<SelfDescribingFinding> = serde_json::from_str(findings)?;
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

    fn decode_block_of(block: Block, location: &str) -> Vec<FindingRecord> {
        decode_block(&block.findings, Some(&block.rules), location).unwrap()
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
        let decoded = decode_block(&block.findings, Some(&block.rules), "a.csv").unwrap();
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
        assert_eq!(decode_block_of(block.unwrap(), "a.txt").len(), 3);
        assert_eq!(people.len(), 1);
        assert_eq!(people[0].fingerprints, r#"["f1","f2"]"#);
        let (block, _) = pending.close("b.txt");
        assert_eq!(decode_block_of(block.unwrap(), "b.txt").len(), 1);
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
            .map(|block| {
                decode_block(&block.findings, Some(&block.rules), "big.log")
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(total, count);
        assert!(
            blocks
                .iter()
                .all(|block| block.findings.len() <= phiscan_core::blocks::MAX_BLOCK_BYTES + 1024)
        );
    }

    #[test]
    fn every_locator_form_decodes() {
        let locators = [
            Locator::Text,
            Locator::Csv {
                row: 9,
                column: 2,
                header: None,
            },
            Locator::Csv {
                row: 2,
                column: 3,
                header: Some("SSN \"primary\"".into()),
            },
            Locator::Cell {
                sheet: "Sheet1".into(),
                cell: "C12".into(),
                header: None,
            },
            Locator::MailHeader {
                header: "Subject".into(),
            },
        ];
        let mut pending = PendingFindings::default();
        let expected: Vec<FindingRecord> = locators
            .iter()
            .map(|locator| FindingRecord {
                locator: locator.clone(),
                value: None,
                ..finding("mixed.eml", "f1", false)
            })
            .collect();
        for record in &expected {
            pending.add(record);
        }
        let block = pending.close("mixed.eml").0.unwrap();
        let decoded = decode_block(&block.findings, Some(&block.rules), "mixed.eml").unwrap();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn blocks_without_a_rule_table_still_decode() {
        // A block as stores written before the rule table contain it.
        let old = r#"[["us.ssn","ssn",98,5,16,1,6,{"kind":"csv","row":2,"column":3},"***-**-7890","f1",1]]"#;
        let decoded = decode_block(old, None, "a.csv").unwrap();
        let expected = FindingRecord {
            locator: Locator::Csv {
                row: 2,
                column: 3,
                header: None,
            },
            value: None,
            ..finding("a.csv", "f1", true)
        };
        assert_eq!(decoded, vec![expected]);
    }

    #[test]
    fn bad_rule_numbers_and_locators_are_errors() {
        let rules = r#"[["us.ssn","ssn"]]"#;
        let numbered = |rule: u32, locator: &str| {
            format!(r#"[[{rule},98,5,16,1,6,{locator},"***-**-7890","f1",1]]"#)
        };
        assert!(decode_block(&numbered(0, "0"), Some(rules), "a").is_ok());
        let error = decode_block(&numbered(1, "0"), Some(rules), "a").unwrap_err();
        assert!(error.to_string().contains("rule number 1"), "{error}");
        for locator in ["1", "[2]", r#"[2,3,"h",4]"#, r#""text""#] {
            assert!(
                decode_block(&numbered(0, locator), Some(rules), "a").is_err(),
                "{locator}"
            );
        }
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
