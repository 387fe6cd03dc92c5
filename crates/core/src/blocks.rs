//! Findings encoded as store blocks, and the person fingerprints of an item.
//!
//! A scan can produce millions of findings, and one table row with indexes
//! per finding made the store the slowest stage of a scan. The stores keep
//! one block per item and batch instead: the item's findings in order, as a
//! JSON array of arrays, and the block's rule table. Each inner array contains,
//! in this order:
//!
//! ```text
//! [rule, confidence, start, end, line, column, locator, preview, fingerprint, person]
//! ```
//!
//! `rule` numbers an entry of the rule table, a JSON array of
//! `[rule id, category]` pairs in the order the block first uses them.
//! `person` is 1 or 0. The raw value is never part of a block.
//!
//! Most findings sit in plain text or in a delimited export, so those two
//! locators are written short: `0` for text, and `[row, column]` or
//! `[row, column, header]` for a cell of a delimited export. Every other
//! locator is its JSON object. Together with the rule table this keeps a
//! finding to about two thirds of the bytes of a self-describing array, and
//! bytes written are most of the store's cost per finding. The stores'
//! `findings` views expand both short forms back into locator objects.
//!
//! Stores made before the rule table keep blocks without one (the rule
//! table column is null). Their findings are self-describing arrays:
//!
//! ```text
//! [rule id, category, confidence, start, end, line, column, locator object, preview, fingerprint, person]
//! ```
//!
//! Workers encode blocks while they match, so that the single writer thread
//! only inserts finished rows: encoding a million findings on the writer
//! made it the slowest thread of a scan on two cores.
//!
//! The values that identify a person (the findings whose `person` flag is
//! set) are also kept per item and category, distinct and sorted, so that
//! the estimate of individuals reads those instead of every finding.

use crate::json::{push_locator, push_number, push_string};
use crate::records::FindingRecord;
use crate::{Category, Locator};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// Size of a block's JSON text, in bytes, after which the block is sent
/// even though its item is not finished: bounds the memory an item with
/// millions of findings takes.
pub const MAX_BLOCK_BYTES: usize = 1 << 20;

/// Fingerprints of one category after which an unfinished item's people
/// row is sent: bounds the memory for a file that names hundreds of
/// thousands of people.
pub const MAX_PEOPLE_PER_ROW: usize = 50_000;

/// A block ready to be written.
#[derive(Debug, PartialEq, Eq)]
pub struct Block {
    pub location: String,
    /// The block's rule table: a JSON array of `[rule id, category]` pairs.
    pub rules: String,
    /// The JSON array of the block's findings.
    pub findings: String,
    /// Number of findings in the block.
    pub count: usize,
}

/// The distinct person fingerprints of one item in one category.
#[derive(Debug, PartialEq, Eq)]
pub struct PeopleRow {
    pub location: String,
    pub category: Category,
    /// JSON array of the fingerprints as lowercase hex, sorted.
    pub fingerprints: String,
}

/// The fields of one finding that a block stores.
pub struct BlockFinding<'a> {
    pub rule: &'a str,
    pub category: Category,
    pub confidence: u8,
    pub start: u64,
    pub end: u64,
    pub line: u64,
    pub column: u64,
    pub locator: &'a Locator,
    pub preview: &'a str,
    /// The keyed fingerprint as lowercase hex.
    pub fingerprint: &'a str,
    pub person: bool,
}

impl<'a> From<&'a FindingRecord> for BlockFinding<'a> {
    /// Takes the fields of a finding record that a block stores, which
    /// never include the raw value.
    fn from(finding: &'a FindingRecord) -> BlockFinding<'a> {
        BlockFinding {
            rule: &finding.rule,
            category: finding.category,
            confidence: finding.confidence,
            start: finding.start,
            end: finding.end,
            line: finding.line,
            column: finding.column,
            locator: &finding.locator,
            preview: &finding.preview,
            fingerprint: &finding.fingerprint,
            person: finding.person,
        }
    }
}

/// Appends a locator in its block form: short for text and delimited
/// cells, the JSON object otherwise.
fn push_block_locator(out: &mut Vec<u8>, locator: &Locator) {
    match locator {
        Locator::Text => out.push(b'0'),
        Locator::Csv {
            row,
            column,
            header,
        } => {
            out.push(b'[');
            push_number(out, *row);
            out.push(b',');
            push_number(out, *column);
            if let Some(header) = header {
                out.push(b',');
                push_string(out, header);
            }
            out.push(b']');
        }
        other => push_locator(out, other),
    }
}

/// Appends the fields of a finding's array that follow the rule number,
/// closing bracket included. Workers call it for many findings of a large
/// item on several threads, and [`BlockBuilder::add_encoded`] numbers them
/// in order.
pub fn encode_fields(out: &mut Vec<u8>, finding: &BlockFinding<'_>) {
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
    push_block_locator(out, finding.locator);
    out.push(b',');
    push_string(out, finding.preview);
    out.push(b',');
    push_string(out, finding.fingerprint);
    out.extend_from_slice(if finding.person { b",1]" } else { b",0]" });
}

/// The block being built for one item.
#[derive(Default)]
pub struct BlockBuilder {
    /// JSON text so far, without its closing bracket.
    json: Vec<u8>,
    count: usize,
    /// The rule table so far: rule ids in order of first use.
    rules: Vec<(String, Category)>,
    /// Each rule id's number in `rules`.
    numbers: FxHashMap<String, u32>,
}

impl BlockBuilder {
    /// Appends a finding.
    pub fn add(&mut self, finding: &BlockFinding<'_>) {
        self.open_finding(finding.rule, finding.category);
        encode_fields(&mut self.json, finding);
        self.count += 1;
    }

    /// Appends a finding whose fields after the rule number were encoded
    /// by [`encode_fields`].
    pub fn add_encoded(&mut self, rule: &str, category: Category, fields: &[u8]) {
        self.open_finding(rule, category);
        self.json.extend_from_slice(fields);
        self.count += 1;
    }

    /// Starts a finding's array with the rule's number in this block.
    fn open_finding(&mut self, rule: &str, category: Category) {
        let number = match self.numbers.get(rule) {
            Some(&number) => number,
            None => {
                let number = self.rules.len() as u32;
                self.rules.push((rule.to_string(), category));
                self.numbers.insert(rule.to_string(), number);
                number
            }
        };
        let start: &[u8] = if self.json.is_empty() { b"[[" } else { b",[" };
        self.json.extend_from_slice(start);
        push_number(&mut self.json, u64::from(number));
        self.json.push(b',');
    }

    /// Returns true when the block has reached [`MAX_BLOCK_BYTES`].
    pub fn is_full(&self) -> bool {
        self.json.len() >= MAX_BLOCK_BYTES
    }

    /// Returns the number of findings added since the last block was taken.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Takes the block built so far, if it contains any finding.
    pub fn take(&mut self, location: &str) -> Option<Block> {
        if self.json.is_empty() {
            return None;
        }
        let mut json = std::mem::take(&mut self.json);
        json.push(b']');
        let count = std::mem::take(&mut self.count);
        self.numbers.clear();
        let mut rules = Vec::with_capacity(self.rules.len() * 32 + 2);
        rules.push(b'[');
        for (index, (rule, category)) in self.rules.drain(..).enumerate() {
            if index > 0 {
                rules.push(b',');
            }
            rules.push(b'[');
            push_string(&mut rules, &rule);
            rules.push(b',');
            push_string(&mut rules, category.as_str());
            rules.push(b']');
        }
        rules.push(b']');
        Some(Block {
            location: location.to_string(),
            rules: into_string(rules),
            findings: into_string(json),
            count,
        })
    }
}

/// Converts JSON text built from `str`s, ASCII punctuation and digits.
fn into_string(json: Vec<u8>) -> String {
    String::from_utf8(json)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

/// The distinct person fingerprints of one item, per category.
///
/// Hashed while the item is open and sorted when a row is taken: a sorted
/// set compared fingerprints a dozen times per finding in large exports.
#[derive(Default)]
pub struct PeopleBuilder {
    people: BTreeMap<Category, FxHashSet<[u8; 16]>>,
    full: bool,
}

impl PeopleBuilder {
    /// Adds a person fingerprint.
    pub fn add(&mut self, category: Category, fingerprint: [u8; 16]) {
        let fingerprints = self.people.entry(category).or_default();
        fingerprints.insert(fingerprint);
        if fingerprints.len() >= MAX_PEOPLE_PER_ROW {
            self.full = true;
        }
    }

    /// Adds a fingerprint given as hex. Returns false, adding nothing, when
    /// the text is not 32 hex digits.
    pub fn add_hex(&mut self, category: Category, fingerprint: &str) -> bool {
        match parse_hex(fingerprint) {
            Some(bytes) => {
                self.add(category, bytes);
                true
            }
            None => false,
        }
    }

    /// Returns true when a category has [`MAX_PEOPLE_PER_ROW`] fingerprints.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Takes the rows so far, one per category. Readers take distinct
    /// values, so a fingerprint repeated in a later row of the same item
    /// counts once.
    pub fn take(&mut self, location: &str) -> Vec<PeopleRow> {
        self.full = false;
        std::mem::take(&mut self.people)
            .into_iter()
            .map(|(category, fingerprints)| {
                let mut fingerprints: Vec<[u8; 16]> = fingerprints.into_iter().collect();
                // Bytes sort in the same order as their lowercase hex.
                fingerprints.sort_unstable();
                let mut json = Vec::with_capacity(fingerprints.len() * 35 + 2);
                json.push(b'[');
                for (index, fingerprint) in fingerprints.iter().enumerate() {
                    if index > 0 {
                        json.push(b',');
                    }
                    json.push(b'"');
                    push_hex(&mut json, fingerprint);
                    json.push(b'"');
                }
                json.push(b']');
                PeopleRow {
                    location: location.to_string(),
                    category,
                    fingerprints: into_string(json),
                }
            })
            .collect()
    }
}

/// A fingerprint as 32 lowercase hex digits, kept on the stack.
pub struct HexDigits([u8; 32]);

impl HexDigits {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and letters are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Formats a fingerprint as lowercase hex: a table lookup per nibble into
/// a stack buffer, because this runs per finding.
pub fn hex_digits(fingerprint: &[u8; 16]) -> HexDigits {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 32];
    for (pair, byte) in text.chunks_exact_mut(2).zip(fingerprint) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    HexDigits(text)
}

/// Appends a fingerprint as 32 lowercase hex digits.
fn push_hex(out: &mut Vec<u8>, fingerprint: &[u8; 16]) {
    out.extend_from_slice(&hex_digits(fingerprint).0);
}

/// Parses 32 hex digits.
fn parse_hex(text: &str) -> Option<[u8; 16]> {
    let digits = text.as_bytes();
    if digits.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *byte = (high << 4 | low) as u8;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored<'a>(locator: &'a Locator, fingerprint: &'a str) -> BlockFinding<'a> {
        BlockFinding {
            rule: "us.ssn",
            category: Category::Ssn,
            confidence: 98,
            start: 5,
            end: 16,
            line: 1,
            column: 6,
            locator,
            preview: "***-**-7890 \"quoted\"",
            fingerprint,
            person: true,
        }
    }

    #[test]
    fn block_text_is_what_serde_writes() {
        let text = Locator::Text;
        let cell = Locator::Csv {
            row: 2,
            column: 3,
            header: Some("SSN \"primary\"".into()),
        };
        let bare_cell = Locator::Csv {
            row: 4,
            column: 1,
            header: None,
        };
        let page = Locator::Page { page: 7 };
        let mut builder = BlockBuilder::default();
        builder.add(&stored(&text, "ab"));
        builder.add(&BlockFinding {
            rule: "date.numeric",
            category: Category::Date,
            ..stored(&cell, "cd")
        });
        builder.add(&stored(&bare_cell, "ef"));
        builder.add(&stored(&page, "01"));
        let block = builder.take("a.csv").unwrap();
        assert_eq!(block.count, 4);
        assert_eq!(
            block.rules,
            serde_json::to_string(&[("us.ssn", "ssn"), ("date.numeric", "date")]).unwrap()
        );
        let preview = "***-**-7890 \"quoted\"";
        let arrays = [
            serde_json::to_string(&(0, 98, 5, 16, 1, 6, 0, preview, "ab", 1)),
            serde_json::to_string(&(
                1,
                98,
                5,
                16,
                1,
                6,
                (2, 3, "SSN \"primary\""),
                preview,
                "cd",
                1,
            )),
            serde_json::to_string(&(0, 98, 5, 16, 1, 6, (4, 1), preview, "ef", 1)),
            serde_json::to_string(&(0, 98, 5, 16, 1, 6, &page, preview, "01", 1)),
        ]
        .map(Result::unwrap);
        let expected = format!("[{}]", arrays.join(","));
        assert_eq!(block.findings, expected, "same text as serde_json");
        assert!(builder.take("a.csv").is_none(), "taken blocks start empty");

        // Fields encoded apart give the same text.
        let mut fields = Vec::new();
        encode_fields(&mut fields, &stored(&cell, "cd"));
        builder.add_encoded("date.numeric", Category::Date, &fields);
        builder.add(&stored(&text, "ab"));
        let encoded = builder.take("a.csv").unwrap();
        assert_eq!(
            encoded.rules,
            r#"[["date.numeric","date"],["us.ssn","ssn"]]"#
        );
        let renumbered = [
            arrays[1].replacen("[1,", "[0,", 1),
            arrays[0].replacen("[0,", "[1,", 1),
        ];
        assert_eq!(encoded.findings, format!("[{}]", renumbered.join(",")));

        // A new block numbers its rules afresh.
        builder.add(&BlockFinding {
            rule: "date.numeric",
            category: Category::Date,
            ..stored(&text, "ab")
        });
        let block = builder.take("a.csv").unwrap();
        assert_eq!(block.rules, r#"[["date.numeric","date"]]"#);
        assert!(block.findings.starts_with("[[0,"), "{}", block.findings);
    }

    #[test]
    fn people_rows_are_sorted_distinct_hex() {
        let mut people = PeopleBuilder::default();
        let high = [0xf0; 16];
        let low = [0x0a; 16];
        people.add(Category::Ssn, high);
        people.add(Category::Ssn, low);
        people.add(Category::Ssn, high);
        assert!(people.add_hex(Category::Mrn, &"0b".repeat(16)));
        assert!(!people.add_hex(Category::Mrn, "not hex"));
        let rows = people.take("a.txt");
        let texts: Vec<(Category, &str)> = rows
            .iter()
            .map(|row| (row.category, row.fingerprints.as_str()))
            .collect();
        let ssn = format!("[\"{}\",\"{}\"]", "0a".repeat(16), "f0".repeat(16));
        let mrn = format!("[\"{}\"]", "0b".repeat(16));
        assert_eq!(
            texts,
            vec![(Category::Ssn, ssn.as_str()), (Category::Mrn, mrn.as_str())]
        );
        assert!(people.take("a.txt").is_empty());
    }

    #[test]
    fn people_fill_up_at_the_row_limit() {
        let mut people = PeopleBuilder::default();
        for index in 0..MAX_PEOPLE_PER_ROW as u32 {
            assert!(!people.is_full());
            let mut fingerprint = [0u8; 16];
            fingerprint[..4].copy_from_slice(&index.to_be_bytes());
            people.add(Category::Name, fingerprint);
        }
        assert!(people.is_full());
        assert_eq!(people.take("roster.csv").len(), 1);
        assert!(!people.is_full());
    }
}
