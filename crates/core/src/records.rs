//! The records of a scan, as written to JSON Lines and read back by tools.
//!
//! One [`Record::Scan`] opens a scan, one [`Record::Item`] describes each item
//! (files, container members, messages), one [`Record::Finding`] describes each
//! finding, and one [`Record::Summary`] closes the scan. `docs/output.md`
//! documents every field.

use crate::{Category, Class, Coverage, Locator};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One line of JSON Lines output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Record {
    Scan(ScanRecord),
    Item(ItemRecord),
    Finding(FindingRecord),
    Flow(FlowRecord),
    Summary(SummaryRecord),
}

/// The first record of a scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// Unique scan id (a UUID).
    pub id: String,
    /// Start time, RFC 3339 in UTC.
    pub started: String,
    /// The roots as given on the command line, as locations.
    pub roots: Vec<String>,
    /// phiscan's version.
    pub version: String,
    /// Digest of the loaded rule set; changes whenever any rule changes.
    pub rules_version: String,
    /// Host name of the machine that ran the scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Name of the sweep configuration that started the scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<String>,
    /// Id of the interrupted scan this one resumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
}

/// One examined or explained item: a file, a folder with a finding in its
/// name, or a member of a container.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The item's location: its path, extended with `!` and an inner path for
    /// container members.
    pub location: String,
    /// The file on disk that contains the item (the outermost container for members).
    pub path: String,
    /// The format detected from content, such as `text`, `csv` or `pdf`.
    pub format: String,
    /// Size in bytes of the item's content.
    pub size: u64,
    /// Last modification time, RFC 3339 in UTC, when known.
    pub modified: Option<String>,
    pub class: Class,
    pub coverage: Coverage,
    /// Reason coverage is not complete; null when it is.
    pub reason: Option<String>,
    /// Location of the containing item, for container members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Number of findings in the item itself (not in its members).
    #[serde(default)]
    pub findings: u64,
    /// Distinct categories found in the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// Estimate of distinct individuals named in the item.
    #[serde(default, skip_serializing_if = "Individuals::is_zero")]
    pub individuals: Individuals,
    /// Keyed BLAKE3 digest of the content, for finding copies. Absent when the
    /// content was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Where and how the file is kept, and whether the results were reused.
    #[serde(default, flatten)]
    pub meta: ItemMeta,
}

/// Facts about the file on disk behind a top-level item, and whether the
/// item's results came from an earlier scan.
///
/// The walk fills the file facts for regular files only; container members
/// and mail messages leave them empty and share the facts of the file in
/// their `path`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMeta {
    /// POSIX permission bits in octal, such as `0640`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Numeric owner id (POSIX).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Numeric group id (POSIX).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Identity of the file that survives renames on one volume: device and
    /// inode as `DEV:INODE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Last modification in nanoseconds since the Unix epoch, for change
    /// detection between sweeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ns: Option<i64>,
    /// Who besides the owner and root may read the file: `world` and `group`
    /// from POSIX permission bits, or `everyone`, `anonymous`,
    /// `authenticated-users`, `users`, `domain-users` and `guests` from a
    /// Windows access control list (on Windows, and on Linux cifs mounts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposure: Vec<String>,
    /// Risky places the file is in: `desktop`, `downloads`, `temp`,
    /// `recycle-bin`, `sync-onedrive`, `sync-dropbox`, `sync-google-drive`,
    /// `sync-icloud`, `removable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<String>,
    /// True when the item's records were copied from an earlier scan instead
    /// of being read again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// Location of the item holding the finding.
    pub location: String,
    /// Id of the rule that matched, such as `us.ssn`.
    pub rule: String,
    pub category: Category,
    /// Confidence from 0 to 100 that the value is of the finding's category.
    pub confidence: u8,
    /// Byte offset of the first byte, into the item's text (into the file's own
    /// bytes for UTF-8 text formats).
    pub start: u64,
    /// Byte offset one past the last byte.
    pub end: u64,
    /// Line number, counted from 1.
    pub line: u64,
    /// Byte column within the line, counted from 1.
    pub column: u64,
    pub locator: Locator,
    /// The value with most characters masked, such as `***-**-6789`.
    pub preview: String,
    /// Hex HMAC-SHA256 of the normalized value under the installation key,
    /// truncated to 128 bits.
    pub fingerprint: String,
    /// True when the value identifies one patient (an SSN, MRN, health plan
    /// id, full patient name or email) and counts in the individuals estimate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub person: bool,
    /// The raw value; present only with `--show-values` on terminal or JSON
    /// Lines output, never in the store or reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// One path PHI took by email: a message with PHI, from the sender's domain
/// to one recipient's domain.
///
/// Only domains are recorded, never addresses: a patient's own email address
/// is an identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// Location of the message item.
    pub location: String,
    /// The message's Date header, RFC 3339 in UTC, when it parses.
    pub sent: Option<String>,
    /// Domain of the sender (From, or Resent-From for a resent message).
    pub from_domain: String,
    /// Domain of the recipient.
    pub to_domain: String,
    /// Header the recipient came from: `to`, `cc`, `bcc`, `resent-to`, ...
    pub field: String,
    /// True when the recipient's domain is not one of the practice's own.
    pub external: bool,
    /// True when the recipient's domain is a personal webmail provider.
    pub webmail: bool,
    /// `encrypted` (S/MIME or PGP encrypted), `signed` (signed only, readable
    /// by anyone on the path) or `none`.
    pub protection: String,
    /// True when the message was forwarded automatically (a mailbox rule).
    pub auto_forwarded: bool,
    /// Number of attachments.
    pub attachments: u32,
    /// The message's class: `phi` or `phi-likely`.
    pub class: Class,
    /// Categories found in the message and its attachments.
    pub categories: Vec<Category>,
}

/// The last record of a scan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryRecord {
    /// Id of the scan this record closes.
    pub scan: String,
    /// Number of items recorded.
    pub items: u64,
    pub by_class: BTreeMap<Class, u64>,
    pub by_coverage: BTreeMap<Coverage, u64>,
    /// Number of findings per category.
    pub by_category: BTreeMap<Category, u64>,
    /// Total number of findings.
    pub findings: u64,
    /// Number of flow records (messages with PHI, per recipient).
    #[serde(default)]
    pub flows: u64,
    /// Bytes of content read.
    pub bytes: u64,
    /// Wall-clock duration in seconds.
    pub duration: f64,
    /// Estimate of distinct individuals across the scan.
    pub individuals: Individuals,
    /// Items whose content was read in this scan.
    #[serde(default)]
    pub items_read: u64,
    /// Items whose results were reused from an earlier scan because they had
    /// not changed.
    #[serde(default)]
    pub items_reused: u64,
    /// False when the scan was interrupted before every root was walked.
    pub complete: bool,
}

impl SummaryRecord {
    /// Returns the number of items whose coverage is not `complete`.
    pub fn not_complete(&self) -> u64 {
        self.by_coverage
            .iter()
            .filter(|(coverage, _)| **coverage != Coverage::Complete)
            .map(|(_, count)| *count)
            .sum()
    }
}

/// A range estimate of distinct people, from the keyed fingerprints of values
/// that identify one person (SSN, MRN, health plan id, patient name, email).
///
/// `low` is the largest count of distinct values in any one of those
/// categories: there are at least that many people. `high` is the sum over the
/// categories: each person is counted at least once, and at most once per category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Individuals {
    pub low: u64,
    pub high: u64,
}

impl Individuals {
    /// Returns true when no identifying value was found.
    pub fn is_zero(&self) -> bool {
        self.low == 0 && self.high == 0
    }
}

/// The error type of record sinks.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// A consumer of scan records: JSON Lines output, the inventory store, the console.
///
/// The scan's writer thread calls [`RecordSink::record`] for every record in
/// order: the scan record first, the summary last.
/// The form in which a sink takes the findings of a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingForm {
    /// One [`Record::Finding`] per finding.
    Records,
    /// Blocks and people rows encoded by the workers, through
    /// [`RecordSink::record_blocks`].
    Blocks,
    /// No findings: the sink uses item, flow and summary records only.
    Neither,
}

pub trait RecordSink: Send {
    /// Consumes one record.
    fn record(&mut self, record: &Record) -> Result<(), SinkError>;

    /// Returns how the sink takes findings. Workers build only the forms that some
    /// sink takes, so a store alone costs no finding records and a JSON
    /// Lines file alone costs no blocks.
    fn finding_form(&self) -> FindingForm {
        FindingForm::Records
    }

    /// Consumes findings encoded by a worker: a block of one item's findings
    /// and the people rows of that item, either possibly empty. Called only
    /// on sinks whose [`RecordSink::finding_form`] is
    /// [`FindingForm::Blocks`], always before the item's record.
    fn record_blocks(
        &mut self,
        block: Option<&crate::blocks::Block>,
        people: &[crate::blocks::PeopleRow],
    ) -> Result<(), SinkError> {
        let _ = (block, people);
        Ok(())
    }

    /// Records an item copied from an earlier scan by reference to the rows
    /// it was first stored as. Returns false when the sink does not keep
    /// references; the writer then hands it the finding and item records.
    fn record_reused(
        &mut self,
        item: &ItemRecord,
        origin: &crate::cache::ItemOrigin,
    ) -> Result<bool, SinkError> {
        let _ = (item, origin);
        Ok(false)
    }

    /// Flushes what is buffered; called once after the summary record.
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_record_keeps_null_reason() {
        let record = Record::Item(ItemRecord {
            location: "share/a.txt".into(),
            path: "share/a.txt".into(),
            format: "text".into(),
            size: 10,
            modified: None,
            class: Class::None,
            coverage: Coverage::Complete,
            reason: None,
            parent: None,
            findings: 0,
            categories: Vec::new(),
            individuals: Individuals::default(),
            content_id: None,
            meta: ItemMeta::default(),
        });
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(json["type"], "item");
        assert!(json["reason"].is_null());
        assert!(json["modified"].is_null());
        assert!(json.get("parent").is_none());
        assert!(json.get("mode").is_none());
        assert!(json.get("reused").is_none());
    }

    #[test]
    fn item_meta_fields_are_flat() {
        let line = r#"{"type":"item","location":"a","path":"a","format":"text","size":1,
            "modified":null,"class":"none","coverage":"complete","reason":null,
            "mode":"0644","uid":1000,"file_id":"2049:77","exposure":["world"],
            "places":["desktop"],"reused":true}"#;
        let Record::Item(item) = serde_json::from_str(line).unwrap() else {
            panic!("not an item");
        };
        assert_eq!(item.meta.mode.as_deref(), Some("0644"));
        assert_eq!(item.meta.uid, Some(1000));
        assert_eq!(item.meta.exposure, vec!["world"]);
        assert!(item.meta.reused);
        let json = serde_json::to_value(Record::Item(item)).unwrap();
        assert_eq!(json["places"][0], "desktop");
        assert_eq!(json["file_id"], "2049:77");
    }

    #[test]
    fn summary_maps_use_contract_names() {
        let mut summary = SummaryRecord {
            scan: "s".into(),
            complete: true,
            ..SummaryRecord::default()
        };
        summary.by_class.insert(Class::PhiLikely, 2);
        summary.by_coverage.insert(Coverage::Unsupported, 1);
        summary.by_category.insert(Category::HealthPlanId, 3);
        let json = serde_json::to_value(Record::Summary(summary)).unwrap();
        assert_eq!(json["type"], "summary");
        assert_eq!(json["by_class"]["phi-likely"], 2);
        assert_eq!(json["by_coverage"]["unsupported"], 1);
        assert_eq!(json["by_category"]["health-plan-id"], 3);
    }

    #[test]
    fn finding_value_only_when_set() {
        let mut finding = FindingRecord {
            location: "a.txt".into(),
            rule: "us.ssn".into(),
            category: Category::Ssn,
            confidence: 90,
            start: 5,
            end: 16,
            line: 1,
            column: 6,
            locator: Locator::Text,
            preview: "***-**-6789".into(),
            fingerprint: "00".into(),
            person: true,
            value: None,
        };
        let json = serde_json::to_value(Record::Finding(finding.clone())).unwrap();
        assert!(json.get("value").is_none());
        finding.value = Some("x".into());
        let json = serde_json::to_value(Record::Finding(finding)).unwrap();
        assert_eq!(json["value"], "x");
    }
}
