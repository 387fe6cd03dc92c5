//! JSON and JSON Lines: every string, number and key, with its RFC 6901
//! pointer as locator and its key as field name.
//!
//! A small tokenizer is used instead of a deserializer because findings need
//! byte offsets into the file, and a deserializer keeps none.

use crate::lines::LineCounter;
use crate::{Flow, Format, Outcome, Segment, Sink};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;
use std::borrow::Cow;
use std::ops::Range;

/// Deepest nesting accepted; deeper documents are scanned as plain text.
const MAX_DEPTH: usize = 512;

#[derive(Clone, Debug)]
enum PathPart<'t> {
    Key(Cow<'t, str>),
    Index(usize),
}

/// Token event from the tokenizer.
enum Event<'e, 't> {
    /// A string value or key: raw range inside the quotes.
    String {
        raw: Range<usize>,
        is_key: bool,
        path: &'e [PathPart<'t>],
    },
    Number {
        raw: Range<usize>,
        path: &'e [PathPart<'t>],
    },
    /// A new top-level value begins (JSON Lines records, elements of a
    /// top-level array).
    Record(u64),
}

/// Invalid JSON. `at_end` is set when the input ran out, which is what a
/// valid document cut short looks like.
#[derive(Debug)]
struct SyntaxError {
    at_end: bool,
}

const INVALID: SyntaxError = SyntaxError { at_end: false };
const CUT_SHORT: SyntaxError = SyntaxError { at_end: true };

struct Tokenizer<'t> {
    text: &'t str,
    bytes: &'t [u8],
    position: usize,
    path: Vec<PathPart<'t>>,
    record: u64,
}

impl<'t> Tokenizer<'t> {
    fn new(text: &'t str) -> Tokenizer<'t> {
        Tokenizer {
            text,
            bytes: text.as_bytes(),
            position: 0,
            path: Vec::new(),
            record: 0,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.position) {
            self.position += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), SyntaxError> {
        match self.bytes.get(self.position) {
            Some(&found) if found == byte => {
                self.position += 1;
                Ok(())
            }
            Some(_) => Err(INVALID),
            None => Err(CUT_SHORT),
        }
    }

    fn unexpected(&self) -> SyntaxError {
        if self.position >= self.bytes.len() {
            CUT_SHORT
        } else {
            INVALID
        }
    }

    /// Walks the whole document: one or more top-level values.
    fn run(&mut self, visit: &mut dyn FnMut(Event<'_, 't>) -> Flow) -> Result<Flow, SyntaxError> {
        self.skip_whitespace();
        if self.position < self.bytes.len() && self.text[self.position..].starts_with('\u{FEFF}') {
            self.position += 3;
            self.skip_whitespace();
        }
        let top_level_array = self.bytes.get(self.position) == Some(&b'[');
        while self.position < self.bytes.len() {
            if !top_level_array {
                self.record += 1;
                if visit(Event::Record(self.record)) == Flow::Stop {
                    return Ok(Flow::Stop);
                }
            }
            if self.value(visit, top_level_array)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
            self.skip_whitespace();
        }
        Ok(Flow::Continue)
    }

    fn value(
        &mut self,
        visit: &mut dyn FnMut(Event<'_, 't>) -> Flow,
        records_are_elements: bool,
    ) -> Result<Flow, SyntaxError> {
        if self.path.len() > MAX_DEPTH {
            return Err(INVALID);
        }
        self.skip_whitespace();
        match self.bytes.get(self.position) {
            Some(b'{') => self.object(visit),
            Some(b'[') => self.array(visit, records_are_elements),
            Some(b'"') => {
                let raw = self.string()?;
                Ok(visit(Event::String {
                    raw,
                    is_key: false,
                    path: &self.path,
                }))
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.position;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') =
                    self.bytes.get(self.position)
                {
                    self.position += 1;
                }
                Ok(visit(Event::Number {
                    raw: start..self.position,
                    path: &self.path,
                }))
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<Flow, SyntaxError> {
        let rest = &self.bytes[self.position..];
        if rest.starts_with(word) {
            self.position += word.len();
            Ok(Flow::Continue)
        } else if word.starts_with(rest) {
            Err(CUT_SHORT)
        } else {
            Err(INVALID)
        }
    }

    fn object(
        &mut self,
        visit: &mut dyn FnMut(Event<'_, 't>) -> Flow,
    ) -> Result<Flow, SyntaxError> {
        self.expect(b'{')?;
        self.skip_whitespace();
        if self.bytes.get(self.position) == Some(&b'}') {
            self.position += 1;
            return Ok(Flow::Continue);
        }
        loop {
            self.skip_whitespace();
            let raw = self.string()?;
            if visit(Event::String {
                raw: raw.clone(),
                is_key: true,
                path: &self.path,
            }) == Flow::Stop
            {
                return Ok(Flow::Stop);
            }
            self.skip_whitespace();
            self.expect(b':')?;
            self.path.push(PathPart::Key(
                unescape(&self.text[raw.clone()], raw.start as u64).0,
            ));
            let flow = self.value(visit, false)?;
            self.path.pop();
            if flow == Flow::Stop {
                return Ok(Flow::Stop);
            }
            self.skip_whitespace();
            match self.bytes.get(self.position) {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(Flow::Continue);
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn array(
        &mut self,
        visit: &mut dyn FnMut(Event<'_, 't>) -> Flow,
        records_are_elements: bool,
    ) -> Result<Flow, SyntaxError> {
        self.expect(b'[')?;
        self.skip_whitespace();
        if self.bytes.get(self.position) == Some(&b']') {
            self.position += 1;
            return Ok(Flow::Continue);
        }
        let mut index = 0;
        loop {
            if records_are_elements {
                self.record += 1;
                if visit(Event::Record(self.record)) == Flow::Stop {
                    return Ok(Flow::Stop);
                }
            }
            self.path.push(PathPart::Index(index));
            let flow = self.value(visit, false)?;
            self.path.pop();
            if flow == Flow::Stop {
                return Ok(Flow::Stop);
            }
            index += 1;
            self.skip_whitespace();
            match self.bytes.get(self.position) {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(Flow::Continue);
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// Reads a string; returns the raw range inside the quotes.
    fn string(&mut self) -> Result<Range<usize>, SyntaxError> {
        self.expect(b'"')?;
        let start = self.position;
        loop {
            let found =
                memchr::memchr2(b'"', b'\\', &self.bytes[self.position..]).ok_or(CUT_SHORT)?;
            self.position += found;
            if self.bytes[self.position] == b'\\' {
                self.position += 2;
                if self.position > self.bytes.len() {
                    return Err(CUT_SHORT);
                }
            } else {
                let end = self.position;
                self.position += 1;
                return Ok(start..end);
            }
        }
    }
}

/// Decodes JSON string escapes. Returns the text and, when escapes changed
/// it, the map from decoded offsets to item offsets (`base` is the item offset
/// of `raw[0]`).
fn unescape(raw: &str, base: u64) -> (Cow<'_, str>, Vec<(usize, u64)>) {
    if !raw.contains('\\') {
        return (Cow::Borrowed(raw), Vec::new());
    }
    let mut out = String::with_capacity(raw.len());
    let mut map = Vec::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 >= bytes.len() {
            let ch = raw[i..].chars().next().unwrap_or('\u{FFFD}');
            out.push(ch);
            i += ch.len_utf8().max(1);
            continue;
        }
        let (decoded, used) = match bytes[i + 1] {
            b'n' => ('\n', 2),
            b't' => ('\t', 2),
            b'r' => ('\r', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'u' => decode_unicode_escape(raw, i),
            other => (other as char, 2),
        };
        out.push(decoded);
        i += used;
        map.push((out.len(), base + i as u64));
    }
    (Cow::Owned(out), map)
}

fn decode_unicode_escape(raw: &str, at: usize) -> (char, usize) {
    let hex = |from: usize| {
        raw.get(from..from + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let Some(high) = hex(at + 2) else {
        return ('\u{FFFD}', 2);
    };
    if (0xD800..0xDC00).contains(&high)
        && raw.get(at + 6..at + 8) == Some("\\u")
        && let Some(low) = hex(at + 8)
        && (0xDC00..0xE000).contains(&low)
    {
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        return (char::from_u32(code).unwrap_or('\u{FFFD}'), 12);
    }
    (char::from_u32(high).unwrap_or('\u{FFFD}'), 6)
}

/// Returns true when `sample` parses as JSON up to its end (it may be cut).
pub fn looks_like_json(sample: &str) -> bool {
    let mut tokenizer = Tokenizer::new(sample);
    let mut values = 0;
    let result = tokenizer.run(&mut |event| {
        if !matches!(event, Event::Record(_)) {
            values += 1;
        }
        Flow::Continue
    });
    match result {
        Ok(_) => true,
        // A sample cut in the middle of a document fails only at its end.
        Err(err) => err.at_end && values > 0,
    }
}

fn pointer(path: &[PathPart<'_>]) -> String {
    let mut out = String::new();
    for part in path {
        out.push('/');
        match part {
            PathPart::Key(key) => out.push_str(&key.replace('~', "~0").replace('/', "~1")),
            PathPart::Index(index) => out.push_str(&index.to_string()),
        }
    }
    out
}

/// Returns the key that names a value: the nearest key on its path.
fn nearest_key<'p>(path: &'p [PathPart<'_>]) -> Option<&'p str> {
    path.iter().rev().find_map(|part| match part {
        PathPart::Key(key) => Some(key.as_ref()),
        PathPart::Index(_) => None,
    })
}

/// Extracts a JSON or JSON Lines document. Malformed JSON is scanned as plain
/// text instead, so no byte is skipped.
pub fn extract(text: &str, sink: &mut dyn Sink) -> Outcome {
    let mut check = Tokenizer::new(text);
    if check.run(&mut |_| Flow::Continue).is_err() {
        tracing::debug!("malformed JSON, scanned as plain text");
        return crate::markup::extract_plain(text, Format::Json, sink);
    }

    let fhir_labels = if crate::fhir::looks_like_fhir(text) {
        crate::fhir::labels(text)
    } else {
        Default::default()
    };
    let mut lines = LineCounter::new();
    let mut record = 0u64;
    let mut tokenizer = Tokenizer::new(text);
    let result = tokenizer.run(&mut |event| match event {
        Event::Record(key) => {
            record = key;
            Flow::Continue
        }
        Event::String { raw, is_key, path } => {
            let (decoded, map) = unescape(&text[raw.clone()], raw.start as u64);
            let (line, column) = lines.position(text, raw.start);
            let pointer = pointer(path);
            let label = match is_key {
                true => None,
                false => fhir_labels
                    .get(&pointer)
                    .map(String::as_str)
                    .or_else(|| nearest_key(path)),
            };
            let locate = |_: usize| Locator::Json {
                pointer: pointer.clone(),
            };
            let segment = Segment {
                text: &decoded,
                offset: raw.start as u64,
                offset_map: &map,
                line,
                column,
                label,
                fields: &[],
                report: 0..decoded.len(),
                scope: RecordScope::Record(record),
                locate: &locate,
            };
            sink.segment(&segment)
        }
        Event::Number { raw, path } => {
            let (line, column) = lines.position(text, raw.start);
            let pointer = pointer(path);
            let locate = |_: usize| Locator::Json {
                pointer: pointer.clone(),
            };
            let number = &text[raw.clone()];
            let segment = Segment {
                text: number,
                offset: raw.start as u64,
                offset_map: &[],
                line,
                column,
                label: nearest_key(path),
                fields: &[],
                report: 0..number.len(),
                scope: RecordScope::Record(record),
                locate: &locate,
            };
            sink.segment(&segment)
        }
    });
    match result {
        Ok(Flow::Continue) => Outcome::complete(Format::Json),
        Ok(Flow::Stop) => Outcome::stopped(Format::Json),
        Err(_) => Outcome::with(
            Format::Json,
            Coverage::Error,
            "JSON changed between two passes",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Child;

    #[derive(Default)]
    struct Collect {
        segments: Vec<(String, Option<String>, Locator, u64, u64, RecordScope)>,
    }

    impl Sink for Collect {
        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            self.segments.push((
                segment.text.to_string(),
                segment.label.map(str::to_string),
                (segment.locate)(0),
                segment.item_offset(0),
                segment.line,
                segment.scope,
            ));
            Flow::Continue
        }

        fn child(&mut self, _: Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    #[test]
    fn values_carry_pointer_and_key() {
        let text = "{\"patient\": {\"ssn\": \"234-56-7890\",\n \"ids\": [4471029]}}";
        let mut sink = Collect::default();
        let outcome = extract(text, &mut sink);
        assert_eq!(outcome.coverage, Coverage::Complete);
        let ssn = sink.segments.iter().find(|s| s.0 == "234-56-7890").unwrap();
        assert_eq!(ssn.1.as_deref(), Some("ssn"));
        assert_eq!(
            ssn.2,
            Locator::Json {
                pointer: "/patient/ssn".into()
            }
        );
        assert_eq!(ssn.3, text.find("234").unwrap() as u64);
        let id = sink.segments.iter().find(|s| s.0 == "4471029").unwrap();
        assert_eq!(id.1.as_deref(), Some("ids"));
        assert_eq!(
            id.2,
            Locator::Json {
                pointer: "/patient/ids/0".into()
            }
        );
        assert_eq!(id.4, 2);
    }

    #[test]
    fn escapes_are_decoded_and_mapped() {
        let text = r#"{"note": "SSN\u003a 234-56-7890"}"#;
        let mut sink = Collect::default();
        extract(text, &mut sink);
        let note = sink
            .segments
            .iter()
            .find(|s| s.0.starts_with("SSN"))
            .unwrap();
        assert_eq!(note.0, "SSN: 234-56-7890");
        let mut check = Collect::default();
        let raw_start = text.find("SSN").unwrap();
        let (decoded, map) = unescape(&text[raw_start..text.len() - 2], raw_start as u64);
        let position = decoded.find("234").unwrap();
        let segment = Segment {
            text: &decoded,
            offset: raw_start as u64,
            offset_map: &map,
            line: 1,
            column: 1,
            label: None,
            fields: &[],
            report: 0..0,
            scope: RecordScope::Window,
            locate: &|_| Locator::Text,
        };
        assert_eq!(
            segment.item_offset(position),
            text.find("234").unwrap() as u64
        );
        let _ = check.segment(&segment);
    }

    #[test]
    fn top_level_array_elements_are_records() {
        let text = r#"[{"a": "x"}, {"a": "y"}]"#;
        let mut sink = Collect::default();
        extract(text, &mut sink);
        let scopes: Vec<RecordScope> = sink
            .segments
            .iter()
            .filter(|s| s.1.is_some())
            .map(|s| s.5)
            .collect();
        assert_eq!(scopes, vec![RecordScope::Record(1), RecordScope::Record(2)]);
    }

    #[test]
    fn json_lines_are_records() {
        let text = "{\"a\": \"x\"}\n{\"a\": \"y\"}\n";
        let mut sink = Collect::default();
        assert_eq!(extract(text, &mut sink).coverage, Coverage::Complete);
        let values: Vec<(String, RecordScope)> = sink
            .segments
            .iter()
            .filter(|s| s.1.is_some())
            .map(|s| (s.0.clone(), s.5))
            .collect();
        assert_eq!(
            values,
            vec![
                ("x".into(), RecordScope::Record(1)),
                ("y".into(), RecordScope::Record(2))
            ]
        );
    }

    #[test]
    fn malformed_json_falls_back_to_text() {
        let text = "{\"ssn\": \"234-56-7890\", oops";
        let mut sink = Collect::default();
        let outcome = extract(text, &mut sink);
        assert_eq!(outcome.coverage, Coverage::Complete);
        assert_eq!(sink.segments.len(), 1);
        assert_eq!(sink.segments[0].0, text);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = "[".repeat(100_000);
        let mut sink = Collect::default();
        let outcome = extract(&text, &mut sink);
        assert_eq!(outcome.coverage, Coverage::Complete);
    }

    #[test]
    fn sniffing_accepts_cut_sample() {
        assert!(looks_like_json("{\"a\": [1, 2, 3], \"b\": \"long"));
        assert!(!looks_like_json(
            "{this is not json at all, just braces in text}"
        ));
    }
}
