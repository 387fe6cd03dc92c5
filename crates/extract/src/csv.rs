//! Delimited text (CSV, TSV, semicolon- and pipe-separated exports), streamed
//! record by record. Each record is a segment, each cell a field under its
//! column header, so a header such as `SSN` gives context to every value below it.

use crate::decode::{TextEncoding, TextReader, decode_all};
use crate::{Flow, Format, Limits, Outcome, Segment, Sink};
use phiscan_core::Locator;
use phiscan_detect::{Field, RecordScope};
use std::io::Read;
use std::ops::Range;

const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// Maximum length, in characters, of a header cell in a first row that counts as headers.
const MAX_HEADER_LEN: usize = 64;

/// Detects the delimiter of delimited text; returns `None` for other text.
///
/// Every record of the sample must have the same number of fields, at least
/// two. With only two fields at least five records are needed, because prose
/// with one comma per line would pass otherwise.
pub fn sniff_delimiter(text: &str) -> Option<u8> {
    sniff_delimiter_needing(text, 5)
}

/// Detects the delimiter, asking for `two_field_records` consistent records
/// when they have only two fields, and for two records otherwise.
fn sniff_delimiter_needing(text: &str, two_field_records: usize) -> Option<u8> {
    let mut best: Option<(u8, usize)> = None;
    let mut fields = Vec::new();
    for delimiter in DELIMITERS {
        // Up to 50 records must all have the first record's field count, at
        // least 2; parsing stops at the first record that rules it out.
        let mut first = None;
        let mut records = 0;
        let mut consistent = true;
        let mut start = 0;
        while start < text.len() && records < 50 {
            let Some(end) = next_record(text, start, delimiter, false, &mut fields) else {
                break;
            };
            match first {
                None if fields.len() < 2 => consistent = false,
                None => first = Some(fields.len()),
                Some(count) if count != fields.len() => consistent = false,
                Some(_) => {}
            }
            if !consistent {
                break;
            }
            records += 1;
            start = end;
        }
        let Some(first) = first.filter(|_| consistent) else {
            continue;
        };
        let needed = if first == 2 { two_field_records } else { 2 };
        if records >= needed && best.is_none_or(|(_, fields)| first > fields) {
            best = Some((delimiter, first));
        }
    }
    best.map(|(delimiter, _)| delimiter)
}

/// Detects the delimiter of an item that is delimited text by its content
/// or by its name (`.csv`, `.tsv`), from raw bytes in a known encoding. A
/// header and one record are enough: the content or the name has already
/// ruled out prose with a comma on each line.
pub fn sniff_delimiter_bytes(head: &[u8], encoding: TextEncoding) -> Option<u8> {
    let sample = &head[..head.len().min(16 * 1024)];
    sniff_delimiter_needing(&decode_all(sample, encoding), 2)
}

/// Finds the record starting at `start`. Fills `fields` with each field's
/// content range (inside quotes for quoted fields) and returns the offset after
/// the record's line break. Returns `None` when the record is not complete in
/// `text` and `at_end` is false.
pub fn next_record(
    text: &str,
    start: usize,
    delimiter: u8,
    at_end: bool,
    fields: &mut Vec<Range<usize>>,
) -> Option<usize> {
    let bytes = text.as_bytes();
    fields.clear();
    let mut position = start;
    loop {
        // One field.
        if bytes.get(position) == Some(&b'"') {
            let content_start = position + 1;
            let mut cursor = content_start;
            let close = loop {
                match memchr::memchr(b'"', &bytes[cursor..]) {
                    Some(found) => {
                        let quote = cursor + found;
                        if bytes.get(quote + 1) == Some(&b'"') {
                            cursor = quote + 2;
                            continue;
                        }
                        if quote + 1 == bytes.len() && !at_end {
                            // The escape pair may continue in the next chunk.
                            return None;
                        }
                        break quote;
                    }
                    None if at_end => break bytes.len(),
                    None => return None,
                }
            };
            fields.push(content_start..close);
            position = (close + 1).min(bytes.len());
            // Tolerate stray characters between the closing quote and the delimiter.
            while position < bytes.len() && bytes[position] != delimiter && bytes[position] != b'\n'
            {
                position += 1;
            }
        } else {
            let end = bytes[position..]
                .iter()
                .position(|&b| b == delimiter || b == b'\n')
                .map_or(bytes.len(), |found| position + found);
            let mut content_end = end;
            if content_end > position
                && bytes[content_end - 1] == b'\r'
                && bytes.get(end) != Some(&delimiter)
            {
                content_end -= 1;
            }
            fields.push(position..content_end);
            position = end;
        }

        match bytes.get(position) {
            Some(&b) if b == delimiter => position += 1,
            Some(b'\n') => return Some(position + 1),
            _ if at_end => return Some(bytes.len()),
            _ => return None,
        }
    }
}

/// Returns true when a first record looks like column headers: every cell
/// short and non-empty, none a number, at least one with a letter.
pub(crate) fn looks_like_header(cells: &[&str]) -> bool {
    let numeric = |cell: &str| {
        let trimmed = cell.trim();
        !trimmed.is_empty()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '/' | ',' | '$' | ' '))
    };
    cells.iter().all(|cell| {
        let trimmed = cell.trim();
        !trimmed.is_empty() && trimmed.chars().count() <= MAX_HEADER_LEN && !numeric(trimmed)
    }) && cells
        .iter()
        .any(|cell| cell.chars().any(char::is_alphabetic))
}

/// Streams delimited text record by record.
///
/// With `limits.parallel_chunks` above one, the records of each chunk read
/// are handed to the sink together, so that it may match them on several
/// threads. Otherwise each record is handed over as soon as it is parsed.
pub fn extract_stream(
    reader: impl Read,
    encoding: TextEncoding,
    format: Format,
    delimiter: u8,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> std::io::Result<Outcome> {
    let mut reader = TextReader::new(reader, encoding, limits.chunk_bytes);
    let mut buffer = String::with_capacity(limits.chunk_bytes + 1024);
    let mut buffer_offset = 0u64;
    // Line of the next record, and the item offset where that line starts.
    let mut line = 1u64;
    let mut line_start = 0u64;
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut headers: Option<Vec<String>> = None;
    let mut row = 0u64;
    let together = limits.parallel_chunks > 1;
    let mut parsed: Vec<ParsedRecord> = Vec::new();

    loop {
        let more = reader.read_chunk(&mut buffer)?;
        let at_end = !more || reader.is_finished();
        let mut start = 0;
        loop {
            if start >= buffer.len() {
                break;
            }
            let oversized = buffer.len() - start > limits.max_record_bytes;
            let Some(end) =
                next_record(&buffer, start, delimiter, at_end || oversized, &mut ranges)
            else {
                break;
            };
            row += 1;
            let record_end = trim_line_break(&buffer, start, end);
            let record_offset = buffer_offset + start as u64;

            if row == 1 {
                let cells: Vec<&str> = ranges.iter().map(|r| &buffer[r.clone()]).collect();
                if looks_like_header(&cells) {
                    headers = Some(cells.iter().map(|cell| cell.trim().to_string()).collect());
                }
            }
            parsed.push(ParsedRecord {
                text: start..record_end,
                offset: record_offset,
                line,
                column: record_offset - line_start + 1,
                row,
                cells: ranges
                    .iter()
                    .map(|r| r.start - start..r.end - start)
                    .collect(),
            });

            let consumed = &buffer.as_bytes()[start..end];
            if let Some(last) = memchr::memrchr(b'\n', consumed) {
                line += memchr::memchr_iter(b'\n', consumed).count() as u64;
                line_start = record_offset + last as u64 + 1;
            }
            start = end;
            if !together && send_records(&buffer, headers.as_deref(), &parsed, sink) == Flow::Stop {
                return Ok(Outcome::stopped(format));
            }
            if !together {
                parsed.clear();
            }
        }
        if together && send_records(&buffer, headers.as_deref(), &parsed, sink) == Flow::Stop {
            return Ok(Outcome::stopped(format));
        }
        parsed.clear();

        if at_end {
            break;
        }
        // Carry the incomplete record into the next chunk.
        buffer_offset += start as u64;
        buffer.drain(..start);
    }
    Ok(Outcome::complete(format))
}

/// A parsed record whose segment is not built yet. Ranges are byte ranges:
/// `text` in the buffer, `cells` in the record.
struct ParsedRecord {
    text: Range<usize>,
    offset: u64,
    line: u64,
    column: u64,
    row: u64,
    cells: Vec<Range<usize>>,
}

/// Hands records to the sink as segments: their cells under the header names
/// from the second row on, and a locator naming row, column and header.
fn send_records(
    buffer: &str,
    headers: Option<&[String]>,
    records: &[ParsedRecord],
    sink: &mut dyn Sink,
) -> Flow {
    if records.is_empty() {
        return Flow::Continue;
    }
    let fields: Vec<Vec<Field<'_>>> = records
        .iter()
        .map(|record| match headers {
            Some(names) if record.row >= 2 => record
                .cells
                .iter()
                .enumerate()
                .map(|(index, range)| Field {
                    range: range.clone(),
                    label: names.get(index).map_or("", String::as_str),
                })
                .filter(|field| !field.label.is_empty())
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let locates: Vec<_> = records
        .iter()
        .map(|record| {
            move |offset: usize| {
                let index = record
                    .cells
                    .partition_point(|cell| cell.start <= offset)
                    .saturating_sub(1);
                Locator::Csv {
                    row: record.row,
                    column: index as u64 + 1,
                    header: headers
                        .filter(|_| record.row > 1)
                        .and_then(|names| names.get(index).cloned()),
                }
            }
        })
        .collect();
    let segments: Vec<Segment<'_>> = records
        .iter()
        .zip(&fields)
        .zip(&locates)
        .map(|((record, fields), locate)| {
            let text = &buffer[record.text.clone()];
            Segment {
                text,
                offset: record.offset,
                offset_map: &[],
                line: record.line,
                column: record.column,
                label: None,
                fields,
                report: 0..text.len(),
                scope: RecordScope::Record(record.row),
                locate,
            }
        })
        .collect();
    sink.segments(&segments)
}

fn trim_line_break(buffer: &str, start: usize, end: usize) -> usize {
    let bytes = buffer.as_bytes();
    let mut record_end = end;
    if record_end > start && bytes[record_end - 1] == b'\n' {
        record_end -= 1;
        if record_end > start && bytes[record_end - 1] == b'\r' {
            record_end -= 1;
        }
    }
    record_end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Child;

    #[test]
    fn delimiters_detected() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n"), Some(b','));
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2\t3\n"), Some(b'\t'));
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3\n"), Some(b';'));
        assert_eq!(sniff_delimiter("Hello, world\nHow are you, today\n"), None);
        assert_eq!(sniff_delimiter("just text\n"), None);
        assert_eq!(
            sniff_delimiter("name,note\n\"A\",\"x, y\"\nB,z\nC,w\nD,v\nE,u\n"),
            Some(b',')
        );
    }

    #[test]
    fn quoted_fields_with_delimiters_and_newlines() {
        let text = "a,\"b, \"\"c\"\"\nd\",e\nf,g,h\n";
        let mut fields = Vec::new();
        let end = next_record(text, 0, b',', false, &mut fields).unwrap();
        let cells: Vec<&str> = fields.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(cells, vec!["a", "b, \"\"c\"\"\nd", "e"]);
        assert_eq!(&text[end..], "f,g,h\n");
    }

    #[test]
    fn incomplete_record_waits_for_more() {
        let mut fields = Vec::new();
        assert_eq!(next_record("a,\"b", 0, b',', false, &mut fields), None);
        assert_eq!(next_record("a,b", 0, b',', false, &mut fields), None);
        assert_eq!(next_record("a,b", 0, b',', true, &mut fields), Some(3));
    }

    #[test]
    fn crlf_is_not_part_of_last_field() {
        let text = "a,b\r\nc,d\r\n";
        let mut fields = Vec::new();
        next_record(text, 0, b',', false, &mut fields).unwrap();
        assert_eq!(&text[fields[1].clone()], "b");
    }

    /// A row as seen by the sink: text, offset, (header, cell) pairs, line.
    type Row = (String, u64, Vec<(String, String)>, u64);

    #[derive(Default)]
    struct Rows {
        rows: Vec<Row>,
        locators: Vec<Locator>,
        /// Number of `segments` calls.
        batches: usize,
    }

    impl Sink for Rows {
        fn segments(&mut self, segments: &[Segment<'_>]) -> Flow {
            self.batches += 1;
            for segment in segments {
                self.segment(segment);
            }
            Flow::Continue
        }

        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            let fields = segment
                .fields
                .iter()
                .map(|f| {
                    (
                        f.label.to_string(),
                        segment.text[f.range.clone()].to_string(),
                    )
                })
                .collect();
            self.rows.push((
                segment.text.to_string(),
                segment.offset,
                fields,
                segment.line,
            ));
            if let Some(field) = segment.fields.last() {
                self.locators.push((segment.locate)(field.range.start));
            }
            Flow::Continue
        }

        fn child(&mut self, _: Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    /// Streams comma-separated UTF-8 `text` into a [`Rows`] sink.
    fn rows_of(text: &str, limits: &Limits) -> Rows {
        let mut sink = Rows::default();
        extract_stream(
            text.as_bytes(),
            TextEncoding::Utf8,
            Format::Csv,
            b',',
            limits,
            &mut sink,
        )
        .unwrap();
        sink
    }

    #[test]
    fn rows_carry_headers_offsets_and_lines() {
        let text = "Name,SSN\nAna,234-56-7890\n\"Bo\nB\",345-67-8901\n";
        let mut sink = Rows::default();
        extract_stream(
            text.as_bytes(),
            TextEncoding::Utf8,
            Format::Csv,
            b',',
            &Limits::default(),
            &mut sink,
        )
        .unwrap();
        assert_eq!(sink.rows.len(), 3);
        let (record, offset, fields, line) = &sink.rows[1];
        assert_eq!(record, "Ana,234-56-7890");
        assert_eq!(*offset, 9);
        assert_eq!(fields[1], ("SSN".to_string(), "234-56-7890".to_string()));
        assert_eq!(*line, 2);
        assert_eq!(sink.rows[2].3, 3);
        assert_eq!(
            sink.locators.last().unwrap(),
            &Locator::Csv {
                row: 3,
                column: 2,
                header: Some("SSN".into())
            }
        );
    }

    #[test]
    fn streaming_across_small_chunks_matches_whole() {
        let mut text = String::from("id,note\n");
        for i in 0..2000 {
            text.push_str(&format!("{i},\"note {i}, with comma\"\n"));
        }
        let limits = Limits {
            chunk_bytes: 4096,
            ..Limits::default()
        };
        let sink = rows_of(&text, &limits);
        assert_eq!(sink.rows.len(), 2001);
        for (record, offset, _, line) in &sink.rows {
            assert_eq!(
                &text[*offset as usize..*offset as usize + record.len()],
                record
            );
            assert_eq!(
                *line,
                text[..*offset as usize].matches('\n').count() as u64 + 1
            );
        }
    }

    #[test]
    fn records_handed_over_together_match_one_by_one() {
        let mut text = String::from("MRN,Patient,Note\n");
        for i in 0..3000 {
            text.push_str(&format!("{i},Pat {i},\"seen, line\nbreak {i}\"\r\n"));
        }
        let run = |parallel_chunks: usize| {
            let limits = Limits {
                chunk_bytes: 4096,
                parallel_chunks,
                ..Limits::default()
            };
            rows_of(&text, &limits)
        };
        let one_by_one = run(1);
        let together = run(4);
        assert_eq!(one_by_one.rows.len(), 3001);
        assert_eq!(one_by_one.batches, 3001, "one record per call");
        assert!(together.batches < 100, "{} calls", together.batches);
        assert_eq!(together.rows, one_by_one.rows);
        assert_eq!(together.locators, one_by_one.locators);
    }
}
