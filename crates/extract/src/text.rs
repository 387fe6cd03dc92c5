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
    let chunk_bytes = limits.chunk_bytes.max(1);
    let chunks = limits.parallel_chunks.max(1);
    let mut reader = TextReader::new(reader, encoding, chunk_bytes);
    let mut window = String::with_capacity(chunks * chunk_bytes + 2 * overlap + 16);
    // Item offset, line and column of window[0]; start of the not-yet-reported part.
    let mut offset = 0u64;
    let mut line = 1u64;
    let mut column = 1u64;
    let mut report_from = 0usize;
    let locate = |_: usize| Locator::Text;
    let mut pieces: Vec<(usize, usize)> = Vec::with_capacity(chunks);

    loop {
        let mut more = true;
        for _ in 0..chunks {
            more = reader.read_chunk(&mut window)?;
            if !more || reader.is_finished() {
                break;
            }
        }
        let at_end = !more || reader.is_finished();
        let report_to = if at_end {
            window.len()
        } else {
            floor_char_boundary(&window, window.len().saturating_sub(overlap)).max(report_from)
        };

        // The reported part, cut into pieces of about one chunk. Each piece
        // becomes a segment with `overlap` bytes of context on either side,
        // as a chunk read on its own would have.
        pieces.clear();
        let mut piece_from = report_from;
        while piece_from < report_to {
            let piece_to = if report_to - piece_from >= chunk_bytes + chunk_bytes / 2 {
                floor_char_boundary(&window, piece_from + chunk_bytes).max(piece_from + 1)
            } else {
                report_to
            };
            let piece_to = window.ceil_char_boundary(piece_to);
            pieces.push((piece_from, piece_to));
            piece_from = piece_to;
        }
        if pieces.is_empty() && at_end && !window.is_empty() {
            pieces.push((report_from, report_to));
        }

        let mut segments = Vec::with_capacity(pieces.len());
        let (mut position, mut position_line, mut position_column) = (0usize, line, column);
        for &(piece_from, piece_to) in &pieces {
            let text_from = floor_char_boundary(&window, piece_from.saturating_sub(overlap));
            let text_to = floor_char_boundary(&window, piece_to.saturating_add(overlap));
            (position_line, position_column) =
                advance(&window[position..text_from], position_line, position_column);
            position = text_from;
            segments.push(Segment {
                text: &window[text_from..text_to],
                offset: offset + text_from as u64,
                offset_map: &[],
                line: position_line,
                column: position_column,
                label: None,
                fields: &[],
                report: piece_from - text_from..piece_to - text_from,
                scope: RecordScope::Window,
                locate: &locate,
            });
        }
        if !segments.is_empty() && sink.segments(&segments) == Flow::Stop {
            return Ok(Outcome::stopped(format));
        }
        drop(segments);
        if at_end {
            break;
        }

        // Keep the unreported tail plus `overlap` bytes of context before it.
        let keep_from = floor_char_boundary(&window, report_to.saturating_sub(overlap));
        (line, column) = advance(&window[..keep_from], line, column);
        offset += keep_from as u64;
        report_from = report_to - keep_from;
        window.drain(..keep_from);
    }

    Ok(Outcome::complete(format))
}

/// Returns the line and byte column after `text`, given those at its start.
fn advance(text: &str, line: u64, column: u64) -> (u64, u64) {
    let bytes = text.as_bytes();
    match memchr::memrchr(b'\n', bytes) {
        Some(last) => (
            line + memchr::memchr_iter(b'\n', bytes).count() as u64,
            (bytes.len() - last) as u64,
        ),
        None => (line, column + bytes.len() as u64),
    }
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
        /// Number of `segments` calls, and the largest number of segments in one call.
        batches: usize,
        largest_batch: usize,
        positions: Vec<(u64, u64, u64)>,
        /// Bytes of context before and after each reported range.
        context: Vec<(usize, usize)>,
    }

    impl Sink for Collect {
        fn segments(&mut self, segments: &[Segment<'_>]) -> Flow {
            self.batches += 1;
            self.largest_batch = self.largest_batch.max(segments.len());
            for segment in segments {
                self.segment(segment);
            }
            Flow::Continue
        }

        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            self.reported
                .push_str(&segment.text[segment.report.clone()]);
            self.segments += 1;
            self.context.push((
                segment.report.start,
                segment.text.len() - segment.report.end,
            ));
            self.positions
                .push((segment.offset, segment.line, segment.column));
            Flow::Continue
        }

        fn child(&mut self, _: Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    fn limits(chunk: usize, overlap: usize, parallel_chunks: usize) -> Limits {
        Limits {
            chunk_bytes: chunk,
            overlap_bytes: overlap,
            parallel_chunks,
            ..Limits::default()
        }
    }

    #[test]
    fn chunks_cover_every_byte_once() {
        let text: String = (0..5000).map(|i| format!("line {i} é\n")).collect();
        for parallel in [1, 3] {
            let mut sink = Collect::default();
            extract_stream(
                text.as_bytes(),
                TextEncoding::Utf8,
                Format::Text,
                &limits(4096, 300, parallel),
                &mut sink,
            )
            .unwrap();
            assert_eq!(sink.reported, text, "{parallel} chunks at once");
            assert!(sink.segments > 5, "{}", sink.segments);
            assert_eq!(sink.largest_batch, parallel);
        }
    }

    #[test]
    fn segment_positions_match_text() {
        let text: String = (0..3000).map(|i| format!("row {i}\n")).collect();
        for parallel in [1, 4] {
            let mut sink = Collect::default();
            extract_stream(
                text.as_bytes(),
                TextEncoding::Utf8,
                Format::Text,
                &limits(4096, 100, parallel),
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
    }

    #[test]
    fn chunks_read_together_keep_their_context() {
        let text: String = (0..20_000).map(|i| format!("entry {i}\n")).collect();
        let mut sink = Collect::default();
        extract_stream(
            text.as_bytes(),
            TextEncoding::Utf8,
            Format::Text,
            &limits(8192, 200, 4),
            &mut sink,
        )
        .unwrap();
        assert_eq!(sink.reported, text);
        assert!(
            sink.batches < sink.segments,
            "segments handed over together"
        );
        let last = sink.context.len() - 1;
        for (index, &(before, after)) in sink.context.iter().enumerate() {
            if index > 0 {
                assert_eq!(before, 200, "context before segment {index}");
            }
            if index < last {
                assert_eq!(after, 200, "context after segment {index}");
            }
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
