//! JSON Lines output.

use phiscan_core::records::{Record, RecordSink, SinkError};
use std::io::Write;

/// Writes each record as one line of JSON.
pub struct JsonLines<W: Write + Send> {
    writer: W,
}

impl<W: Write + Send> JsonLines<W> {
    /// Creates a writer; wrap files in a `BufWriter`.
    pub fn new(writer: W) -> JsonLines<W> {
        JsonLines { writer }
    }
}

impl<W: Write + Send> RecordSink for JsonLines<W> {
    fn record(&mut self, record: &Record) -> Result<(), SinkError> {
        serde_json::to_writer(&mut self.writer, record)?;
        self.writer.write_all(b"\n")?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.writer.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phiscan_core::records::SummaryRecord;

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
