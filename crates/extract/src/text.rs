//! Plain text, streamed in overlapping chunks so a file of any size is
//! scanned in bounded memory.

use crate::decode::{TextEncoding, TextReader};
use crate::{Flow, Format, Limits, Outcome, Segment, Sink};
use phiscan_core::Locator;
use phiscan_detect::RecordScope;
use std::io::Read;

/// Scans text from a reader in chunks.
///
/// Each segment contains the new chunk plus the end of the previous one. Only
/// matches starting in the new part are reported; the carried part gives
/// keywords before a value, and a value cut by the chunk boundary is matched
/// whole in the next segment.
pub fn extract_stream(
    reader: impl Read,
    encoding: TextEncoding,
    format: Format,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> std::io::Result<Outcome> {
    let overlap = limits.overlap_bytes;
    let mut reader = TextReader::new(reader, encoding, limits.chunk_bytes);
    let mut window = String::with_capacity(limits.chunk_bytes + 2 * overlap + 16);
    // Item offset, line and column of window[0]; start of the not-yet-reported part.
    let mut offset = 0u64;
    let mut line = 1u64;
    let mut column = 1u64;
    let mut report_from = 0usize;
    let locate = |_: usize| Locator::Text;

    loop {
        let more = reader.read_chunk(&mut window)?;
        let at_end = !more || reader.is_finished();
        let report_to = if at_end {
            window.len()
        } else {
            floor_char_boundary(&window, window.len().saturating_sub(overlap)).max(report_from)
        };
        if report_to > report_from || (at_end && !window.is_empty()) {
            let segment = Segment {
                text: &window,
                offset,
                offset_map: &[],
                line,
                column,
                label: None,
                fields: &[],
                report: report_from..report_to,
                scope: RecordScope::Window,
                locate: &locate,
            };
            if sink.segment(&segment) == Flow::Stop {
                return Ok(Outcome::stopped(format));
            }
        }
        if at_end {
            break;
        }

        // Keep the unreported tail plus `overlap` bytes of context before it.
        let keep_from = floor_char_boundary(&window, report_to.saturating_sub(overlap));
        let dropped = &window[..keep_from];
        let newlines = memchr::memchr_iter(b'\n', dropped.as_bytes()).count() as u64;
        match memchr::memrchr(b'\n', dropped.as_bytes()) {
            Some(last) => {
                line += newlines;
                column = (keep_from - last) as u64;
            }
            None => column += keep_from as u64,
        }
        offset += keep_from as u64;
        report_from = report_to - keep_from;
        window.drain(..keep_from);
    }

    Ok(Outcome::complete(format))
}

/// Largest char boundary at or below `index`.
pub(crate) fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Child;

    #[derive(Default)]
    struct Collect {
        reported: String,
        segments: usize,
        positions: Vec<(u64, u64, u64)>,
    }

    impl Sink for Collect {
        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            self.reported
                .push_str(&segment.text[segment.report.clone()]);
            self.segments += 1;
            self.positions
                .push((segment.offset, segment.line, segment.column));
            Flow::Continue
        }

        fn child(&mut self, _: Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    fn limits(chunk: usize, overlap: usize) -> Limits {
        Limits {
            chunk_bytes: chunk,
            overlap_bytes: overlap,
            ..Limits::default()
        }
    }

    #[test]
    fn chunks_cover_every_byte_once() {
        let text: String = (0..5000).map(|i| format!("line {i} é\n")).collect();
        let mut sink = Collect::default();
        extract_stream(
            text.as_bytes(),
            TextEncoding::Utf8,
            Format::Text,
            &limits(4096, 300),
            &mut sink,
        )
        .unwrap();
        assert_eq!(sink.reported, text);
        assert!(sink.segments > 5, "{}", sink.segments);
    }

    #[test]
    fn segment_positions_match_text() {
        let text: String = (0..3000).map(|i| format!("row {i}\n")).collect();
        let mut sink = Collect::default();
        extract_stream(
            text.as_bytes(),
            TextEncoding::Utf8,
            Format::Text,
            &limits(4096, 100),
            &mut sink,
        )
        .unwrap();
        for &(offset, line, column) in &sink.positions {
            let before = &text[..offset as usize];
            assert_eq!(line, before.matches('\n').count() as u64 + 1);
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            assert_eq!(column, (offset as usize - line_start) as u64 + 1);
        }
    }

    #[test]
    fn empty_text_yields_no_segment() {
        let mut sink = Collect::default();
        let outcome = extract_stream(
            &b""[..],
            TextEncoding::Utf8,
            Format::Text,
            &Limits::default(),
            &mut sink,
        )
        .unwrap();
        assert_eq!(sink.segments, 0);
        assert_eq!(outcome.coverage, phiscan_core::Coverage::Complete);
    }
}
