//! JSON Lines output.

use phiscan_core::json::{push_locator, push_number, push_string};
use phiscan_core::records::{FindingRecord, Record, RecordSink, SinkError};
use std::io::Write;

/// Writes each record as one line of JSON.
pub struct JsonLines<W: Write + Send> {
    writer: W,
    line: Vec<u8>,
}

impl<W: Write + Send> JsonLines<W> {
    /// Creates a writer; wrap files in a `BufWriter`.
    pub fn new(writer: W) -> JsonLines<W> {
        JsonLines {
            writer,
            line: Vec::with_capacity(512),
        }
    }
}

impl<W: Write + Send> RecordSink for JsonLines<W> {
    fn record(&mut self, record: &Record) -> Result<(), SinkError> {
        match record {
            // Findings are most of the output; they are written by hand,
            // field for field as serde would, at a fraction of the cost.
            Record::Finding(finding) => {
                self.line.clear();
                write_finding(&mut self.line, finding);
                self.line.push(b'\n');
                self.writer.write_all(&self.line)?;
            }
            _ => {
                serde_json::to_writer(&mut self.writer, record)?;
                self.writer.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.writer.flush()?;
        Ok(())
    }
}

/// Writes a finding record as JSON, with the same fields and order as its
/// serde form.
fn write_finding(out: &mut Vec<u8>, finding: &FindingRecord) {
    out.extend_from_slice(b"{\"type\":\"finding\",\"location\":");
    push_string(out, &finding.location);
    out.extend_from_slice(b",\"rule\":");
    push_string(out, &finding.rule);
    out.extend_from_slice(b",\"category\":\"");
    out.extend_from_slice(finding.category.as_str().as_bytes());
    out.extend_from_slice(b"\",\"confidence\":");
    push_number(out, u64::from(finding.confidence));
    out.extend_from_slice(b",\"start\":");
    push_number(out, finding.start);
    out.extend_from_slice(b",\"end\":");
    push_number(out, finding.end);
    out.extend_from_slice(b",\"line\":");
    push_number(out, finding.line);
    out.extend_from_slice(b",\"column\":");
    push_number(out, finding.column);
    out.extend_from_slice(b",\"locator\":");
    push_locator(out, &finding.locator);
    out.extend_from_slice(b",\"preview\":");
    push_string(out, &finding.preview);
    out.extend_from_slice(b",\"fingerprint\":");
    push_string(out, &finding.fingerprint);

    // Optional fields, as serde skips them.
    if finding.person {
        out.extend_from_slice(b",\"person\":true");
    }
    if let Some(value) = &finding.value {
        out.extend_from_slice(b",\"value\":");
        push_string(out, value);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use phiscan_core::records::SummaryRecord;

    #[test]
    fn hand_written_finding_matches_serde() {
        use phiscan_core::{Category, Locator};
        let mut finding = FindingRecord {
            location: "share/a \"b\"\\c\u{1}\n.txt".into(),
            rule: "us.ssn".into(),
            category: Category::HealthPlanId,
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
            fingerprint: "ab".repeat(16),
            person: false,
            value: None,
        };
        for (person, value) in [
            (false, None),
            (true, Some("234-56-7890\t\u{7f}é".to_string())),
        ] {
            finding.person = person;
            finding.value = value;
            let mut fast = Vec::new();
            write_finding(&mut fast, &finding);
            let serde = serde_json::to_string(&Record::Finding(finding.clone())).unwrap();
            assert_eq!(String::from_utf8(fast).unwrap(), serde);
        }
    }

    #[test]
    fn one_line_per_record() {
        let mut out = Vec::new();
        let mut writer = JsonLines::new(&mut out);
        let summary = Record::Summary(SummaryRecord {
            scan: "s".into(),
            complete: true,
            ..SummaryRecord::default()
        });
        writer.record(&summary).unwrap();
        writer.record(&summary).unwrap();
        writer.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["type"], "summary");
    }
}
