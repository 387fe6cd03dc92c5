//! XML and HTML: text and attribute values, with the element path as locator.
//!
//! One tolerant tokenizer serves both. It never fails: markup it cannot make
//! sense of is treated as text, so a malformed document is still scanned in
//! full. Entities are decoded and offsets mapped back to the file.

use crate::lines::LineCounter;
use crate::{Flow, Format, Outcome, Segment, Sink};
use phiscan_core::Locator;
use phiscan_detect::RecordScope;
use std::borrow::Cow;
use std::ops::Range;

/// HTML elements that never have content or an end tag.
const VOID_ELEMENTS: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// HTML elements that format text within a line: text on either side of them
/// belongs to the same run (`287-45-<b>6612</b>`).
const INLINE_ELEMENTS: [&str; 23] = [
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "u",
];

/// Attributes whose values are presentation only and never scanned.
const SKIPPED_ATTRIBUTES: [&str; 2] = ["style", "class"];

/// Maximum length, in characters, of text that counts as the label of the next value
/// (`<td>SSN</td><td>234-56-7890</td>`).
const MAX_LABEL_CHARS: usize = 48;

/// Deepest element nesting tracked for paths; deeper elements share the last path.
const MAX_PATH_DEPTH: usize = 256;

/// Scans a whole text as one segment of running text.
pub fn extract_plain(text: &str, format: Format, sink: &mut dyn Sink) -> Outcome {
    let locate = |_: usize| Locator::Text;
    let segment = Segment {
        text,
        offset: 0,
        offset_map: &[],
        line: 1,
        column: 1,
        label: None,
        fields: &[],
        report: 0..text.len(),
        scope: RecordScope::Window,
        locate: &locate,
    };
    if sink.segment(&segment) == Flow::Stop {
        return Outcome::stopped(format);
    }
    Outcome::complete(format)
}

struct Walker<'t, 's> {
    text: &'t str,
    html: bool,
    sink: &'s mut dyn Sink,
    lines: LineCounter,
    stack: Vec<&'t str>,
    /// The last short text seen, as a label for the next value.
    previous_text: Option<String>,
    record: u64,
    rows: u64,
    /// HTML text nodes separated only by inline elements (`<b>`, `<span>`),
    /// joined into one segment when a block element or `<br>` ends them, so
    /// that `287-45-<b>6612</b>` is read as one value.
    inline_run: Vec<Range<usize>>,
}

/// Extracts an XML or HTML document.
pub fn extract(text: &str, html: bool, sink: &mut dyn Sink) -> Outcome {
    let format = if html { Format::Html } else { Format::Xml };
    let mut walker = Walker {
        text,
        html,
        sink,
        lines: LineCounter::new(),
        stack: Vec::new(),
        previous_text: None,
        record: 0,
        rows: 0,
        inline_run: Vec::new(),
    };
    let flow = match walker.run() {
        Flow::Continue => walker.flush_inline_run(),
        Flow::Stop => Flow::Stop,
    };
    match flow {
        Flow::Continue => Outcome::complete(format),
        Flow::Stop => Outcome::stopped(format),
    }
}

impl<'t> Walker<'t, '_> {
    fn run(&mut self) -> Flow {
        let bytes = self.text.as_bytes();
        let mut position = 0;
        while position < bytes.len() {
            let Some(found) = memchr::memchr(b'<', &bytes[position..]) else {
                return self.document_text(position..bytes.len());
            };
            let lt = position + found;
            if lt > position && self.document_text(position..lt) == Flow::Stop {
                return Flow::Stop;
            }
            let rest = &self.text[lt..];
            // Comments, character data and block tags end an inline run.
            let inline_tag = self.html && {
                let name = rest
                    .trim_start_matches(['<', '/'])
                    .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                    .next()
                    .unwrap_or("");
                INLINE_ELEMENTS
                    .iter()
                    .any(|inline| inline.eq_ignore_ascii_case(name))
            };
            if !inline_tag && self.flush_inline_run() == Flow::Stop {
                return Flow::Stop;
            }
            let (next, flow) = if let Some(body) = rest.strip_prefix("<!--") {
                let end = body.find("-->").map_or(bytes.len(), |i| lt + 4 + i);
                (end + 3, self.text_node(lt + 4..end, true))
            } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
                let end = body.find("]]>").map_or(bytes.len(), |i| lt + 9 + i);
                (end + 3, self.text_node(lt + 9..end, false))
            } else if rest.starts_with("<!") || rest.starts_with("<?") {
                let end = rest.find('>').map_or(bytes.len(), |i| lt + i);
                (end + 1, Flow::Continue)
            } else if let Some(tag) = rest.strip_prefix("</") {
                let name_len = tag
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(tag.len());
                let end = rest.find('>').map_or(bytes.len(), |i| lt + i);
                self.close(&self.text[lt + 2..lt + 2 + name_len]);
                (end + 1, Flow::Continue)
            } else if rest[1..].starts_with(|c: char| c.is_alphabetic() || c == '_') {
                self.start_tag(lt)
            } else {
                // A lone `<` in text.
                (lt + 1, self.text_node(lt..lt + 1, false))
            };
            if flow == Flow::Stop {
                return Flow::Stop;
            }
            position = next.min(bytes.len());
        }
        Flow::Continue
    }

    /// Parses a start tag at `lt`; returns the offset after it.
    fn start_tag(&mut self, lt: usize) -> (usize, Flow) {
        let bytes = self.text.as_bytes();
        let name_start = lt + 1;
        let mut position = name_start;
        while position < bytes.len()
            && !bytes[position].is_ascii_whitespace()
            && !matches!(bytes[position], b'>' | b'/')
        {
            position += 1;
        }
        let name = &self.text[name_start..position];
        let mut attributes: Vec<(&'t str, Range<usize>)> = Vec::new();
        let mut self_closing = false;
        loop {
            while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            match bytes.get(position) {
                None => break,
                Some(b'>') => {
                    position += 1;
                    break;
                }
                Some(b'/') => {
                    self_closing = true;
                    position += 1;
                    continue;
                }
                _ => {}
            }
            let attribute_start = position;
            while position < bytes.len()
                && !bytes[position].is_ascii_whitespace()
                && !matches!(bytes[position], b'=' | b'>' | b'/')
            {
                position += 1;
            }
            let attribute = &self.text[attribute_start..position];
            if attribute.is_empty() {
                position += 1;
                continue;
            }
            while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            if bytes.get(position) != Some(&b'=') {
                continue;
            }
            position += 1;
            while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            let value = match bytes.get(position) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let start = position + 1;
                    let end =
                        memchr::memchr(quote, &bytes[start..]).map_or(bytes.len(), |i| start + i);
                    position = (end + 1).min(bytes.len());
                    start..end
                }
                _ => {
                    let start = position;
                    while position < bytes.len()
                        && !bytes[position].is_ascii_whitespace()
                        && bytes[position] != b'>'
                    {
                        position += 1;
                    }
                    start..position
                }
            };
            attributes.push((attribute, value));
        }

        let lower = name.to_ascii_lowercase();
        let is_void = self.html && VOID_ELEMENTS.contains(&lower.as_str());
        if self.html && lower == "tr" {
            self.rows += 1;
            self.record = self.rows;
        }
        if self.stack.len() < MAX_PATH_DEPTH {
            self.stack.push(name);
        }
        let flow = self.attributes(name, &attributes);
        if self_closing || is_void {
            self.close(name);
        }
        if flow == Flow::Stop {
            return (position, Flow::Stop);
        }

        // Raw text elements: the content runs to the end tag, without markup.
        if self.html && !self_closing && (lower == "script" || lower == "style") {
            let close = format!("</{lower}");
            let end = self.text[position..]
                .to_ascii_lowercase()
                .find(&close)
                .map_or(bytes.len(), |i| position + i);
            let flow = if lower == "script" {
                self.text_node(position..end, false)
            } else {
                Flow::Continue
            };
            return (end, flow);
        }
        (position, Flow::Continue)
    }

    fn attributes(&mut self, element: &str, attributes: &[(&'t str, Range<usize>)]) -> Flow {
        // In HTML, a form control's value is named by its name, id or label.
        let control_name = attributes
            .iter()
            .find(|(name, _)| {
                matches!(
                    name.to_ascii_lowercase().as_str(),
                    "name" | "id" | "aria-label" | "placeholder"
                )
            })
            .map(|(_, value)| self.text[value.clone()].to_string());
        for (name, value) in attributes {
            let lower = name.to_ascii_lowercase();
            // Namespace declarations are URIs chosen by the schema's
            // authors (`http://www.w3.org/1999/02/22-rdf-syntax-ns#`).
            let namespace = lower == "xmlns" || lower.starts_with("xmlns:");
            if value.is_empty() || namespace || SKIPPED_ATTRIBUTES.contains(&lower.as_str()) {
                continue;
            }
            let mut label = match (&control_name, lower.as_str()) {
                (Some(control), "value") if self.html => control.clone(),
                _ => match cda_meaning(element, &lower, attributes, self.text) {
                    Some(meaning) => {
                        format!("{} {} {meaning}", local_name(element), local_name(name))
                    }
                    None => format!("{} {}", local_name(element), local_name(name)),
                },
            };
            if !self.html && self.below_provider() {
                label.insert_str(0, "practitioner ");
            }
            let attribute = Some(name.to_string());
            if self.emit(value.clone(), true, Some(&label), attribute) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    fn close(&mut self, name: &str) {
        if let Some(index) = self
            .stack
            .iter()
            .rposition(|open| open.eq_ignore_ascii_case(name))
        {
            self.stack.truncate(index);
        }
        if self.html && name.eq_ignore_ascii_case("table") {
            self.record = 0;
        }
    }

    /// Takes text between tags: in HTML it joins the inline run, in XML it
    /// is a value of its own.
    fn document_text(&mut self, range: Range<usize>) -> Flow {
        if self.html {
            self.inline_run.push(range);
            return Flow::Continue;
        }
        self.text_node(range, true)
    }

    /// Sends the pending inline run of HTML text as one segment.
    fn flush_inline_run(&mut self) -> Flow {
        let pieces = std::mem::take(&mut self.inline_run);
        match pieces.as_slice() {
            [] => return Flow::Continue,
            [single] => return self.text_node(single.clone(), true),
            _ => {}
        }
        let first = pieces[0].start;
        let end = pieces[pieces.len() - 1].end;
        if self.text[first..end].trim().is_empty() {
            return Flow::Continue;
        }

        let mut text = String::new();
        let mut map: Vec<(usize, u64)> = Vec::new();
        for range in &pieces {
            let raw = &self.text[range.clone()];
            let at = text.len();
            map.push((at, range.start as u64));
            if raw.trim().is_empty() {
                // Whitespace between inline elements is one space in HTML.
                text.push(' ');
                continue;
            }
            let (piece, piece_map) = decode(raw, range.start as u64);
            map.extend(
                piece_map
                    .into_iter()
                    .map(|(offset, item)| (at + offset, item)),
            );
            text.push_str(&piece);
        }

        let label = self.previous_text.clone();
        let flow = self.emit_text(&text, &map, first, label.as_deref(), None);
        let trimmed = text.trim();
        self.previous_text =
            (trimmed.chars().count() <= MAX_LABEL_CHARS).then(|| trimmed.to_string());
        flow
    }

    fn text_node(&mut self, range: Range<usize>, decode_entities: bool) -> Flow {
        let raw = &self.text[range.clone()];
        if raw.trim().is_empty() {
            return Flow::Continue;
        }
        let label = match self.html {
            true => self.previous_text.clone(),
            false => self.element_label(),
        };
        let flow = self.emit(range.clone(), decode_entities, label.as_deref(), None);
        let trimmed = raw.trim();
        self.previous_text =
            (trimmed.chars().count() <= MAX_LABEL_CHARS).then(|| trimmed.to_string());
        flow
    }

    /// Returns the label of XML text: the parent and the element's local names
    /// (`name given`), so both can match a rule's headers. Below a C-CDA
    /// clinician or organization (`assignedPerson`, `representedOrganization`)
    /// the label starts with `practitioner`, so the value is not taken for a
    /// patient's.
    fn element_label(&self) -> Option<String> {
        let mut names = self
            .stack
            .iter()
            .rev()
            .take(2)
            .map(|name| local_name(name))
            .collect::<Vec<_>>();
        names.reverse();
        if names.is_empty() {
            return None;
        }
        if self.below_provider() {
            names.insert(0, "practitioner");
        }
        Some(names.join(" "))
    }

    /// Returns true inside a C-CDA element that describes a clinician or an
    /// organization (see [`PROVIDER_ELEMENTS`]).
    fn below_provider(&self) -> bool {
        self.stack
            .iter()
            .any(|name| PROVIDER_ELEMENTS.contains(&local_name(name)))
    }

    fn emit(
        &mut self,
        range: Range<usize>,
        decode_entities: bool,
        label: Option<&str>,
        attribute: Option<String>,
    ) -> Flow {
        let raw = &self.text[range.clone()];
        let (text, map) = if decode_entities {
            decode(raw, range.start as u64)
        } else {
            (Cow::Borrowed(raw), Vec::new())
        };
        self.emit_text(&text, &map, range.start, label, attribute)
    }

    /// Sends text that starts at byte `start` of the document, with its
    /// offset breakpoints, as one segment.
    fn emit_text(
        &mut self,
        text: &str,
        map: &[(usize, u64)],
        start: usize,
        label: Option<&str>,
        attribute: Option<String>,
    ) -> Flow {
        let (line, column) = self.lines.position(self.text, start);
        let path = format!("/{}", self.stack.join("/"));
        let html = self.html;
        let locate = |_: usize| {
            if html {
                Locator::Html {
                    path: path.clone(),
                    attribute: attribute.clone(),
                }
            } else {
                Locator::Xml {
                    path: path.clone(),
                    attribute: attribute.clone(),
                }
            }
        };
        let segment = Segment {
            text,
            offset: start as u64,
            offset_map: map,
            line,
            column,
            label,
            fields: &[],
            report: 0..text.len(),
            scope: RecordScope::Record(self.record),
            locate: &locate,
        };
        self.sink.segment(&segment)
    }
}

/// C-CDA elements whose content describes a clinician or an organization:
/// authors, performers, recipients, custodians and the organizations they
/// represent.
const PROVIDER_ELEMENTS: [&str; 8] = [
    "assignedAuthor",
    "assignedEntity",
    "assignedPerson",
    "intendedRecipient",
    "representedOrganization",
    "representedCustodianOrganization",
    "serviceProviderOrganization",
    "healthCareFacility",
];

fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Decodes character and entity references. Returns the text and the map
/// from decoded offsets to item offsets (`base` is the item offset of `raw[0]`).
fn decode(raw: &str, base: u64) -> (Cow<'_, str>, Vec<(usize, u64)>) {
    if !raw.contains('&') {
        return (Cow::Borrowed(raw), Vec::new());
    }
    let mut out = String::with_capacity(raw.len());
    let mut map = Vec::new();
    let mut position = 0;
    while let Some(found) = raw[position..].find('&') {
        let amp = position + found;
        out.push_str(&raw[position..amp]);
        let reference_end = raw[amp..]
            .find(';')
            .filter(|&len| len <= 10)
            .map(|len| amp + len);
        let decoded = reference_end.and_then(|end| resolve_reference(&raw[amp + 1..end]));
        match (decoded, reference_end) {
            (Some(ch), Some(end)) => {
                out.push(ch);
                position = end + 1;
                map.push((out.len(), base + position as u64));
            }
            _ => {
                out.push('&');
                position = amp + 1;
            }
        }
    }
    out.push_str(&raw[position..]);
    (Cow::Owned(out), map)
}

fn resolve_reference(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "ldquo" => '\u{201C}',
        "rdquo" => '\u{201D}',
        "hellip" => '\u{2026}',
        "copy" => '\u{A9}',
        "reg" => '\u{AE}',
        "eacute" => 'é',
        "egrave" => 'è',
        "aacute" => 'á',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "uuml" => 'ü',
        "ouml" => 'ö',
        "auml" => 'ä',
        "ccedil" => 'ç',
        _ => return None,
    })
}

/// OID of the US Social Security Number as an HL7 identifier root.
const SSN_OID: &str = "2.16.840.1.113883.4.1";

/// What a C-CDA attribute value is, where the element alone does not say:
/// an `<id>` whose `root` is the SSN OID holds an SSN in `extension`, and a
/// patient's `<birthTime value>` is the date of birth.
fn cda_meaning(
    element: &str,
    attribute: &str,
    attributes: &[(&str, Range<usize>)],
    text: &str,
) -> Option<&'static str> {
    let root_is = |oid: &str| {
        attributes.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("root") && text[value.clone()].trim() == oid
        })
    };
    match (local_name(element), attribute) {
        ("id", "extension") if root_is(SSN_OID) => Some("SSN social security number"),
        ("birthTime", "value") => Some("date of birth"),
        ("telecom", "value") => Some("phone email contact"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Child;

    #[derive(Default)]
    struct Collect {
        segments: Vec<(String, Option<String>, Locator, u64, RecordScope)>,
    }

    impl Sink for Collect {
        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            self.segments.push((
                segment.text.to_string(),
                segment.label.map(str::to_string),
                (segment.locate)(0),
                segment.item_offset(0),
                segment.scope,
            ));
            Flow::Continue
        }

        fn child(&mut self, _: Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    fn find<'a>(
        sink: &'a Collect,
        text: &str,
    ) -> &'a (String, Option<String>, Locator, u64, RecordScope) {
        sink.segments
            .iter()
            .find(|s| s.0.contains(text))
            .unwrap_or_else(|| panic!("{text} not found"))
    }

    #[test]
    fn xml_text_and_attributes() {
        let text = r#"<?xml version="1.0"?><patient id="P1"><name><given>Ana</given></name><birthTime value="19840314"/></patient>"#;
        let mut sink = Collect::default();
        extract(text, false, &mut sink);
        let given = find(&sink, "Ana");
        assert_eq!(given.1.as_deref(), Some("name given"));
        assert_eq!(
            given.2,
            Locator::Xml {
                path: "/patient/name/given".into(),
                attribute: None
            }
        );
        assert_eq!(given.3, text.find("Ana").unwrap() as u64);
        let birth = find(&sink, "19840314");
        assert_eq!(birth.1.as_deref(), Some("birthTime value date of birth"));
        assert_eq!(
            birth.2,
            Locator::Xml {
                path: "/patient/birthTime".into(),
                attribute: Some("value".into())
            }
        );
    }

    #[test]
    fn namespace_declarations_are_skipped() {
        let text = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="urn:x"><a note="kept"/></rdf:RDF>"#;
        let mut sink = Collect::default();
        extract(text, false, &mut sink);
        assert!(
            sink.segments
                .iter()
                .all(|segment| !segment.0.contains("1999/02/22"))
        );
        assert!(sink.segments.iter().any(|segment| segment.0 == "kept"));
    }

    #[test]
    fn cda_ssn_identifier_is_labelled() {
        let text = r#"<recordTarget><patientRole><id extension="234-56-7890" root="2.16.840.1.113883.4.1"/><id extension="A77" root="2.16.840.1.113883.19.5"/></patientRole></recordTarget>"#;
        let mut sink = Collect::default();
        extract(text, false, &mut sink);
        let ssn = find(&sink, "234-56-7890");
        assert_eq!(
            ssn.1.as_deref(),
            Some("id extension SSN social security number")
        );
        let other = find(&sink, "A77");
        assert_eq!(other.1.as_deref(), Some("id extension"));
    }

    #[test]
    fn entities_are_decoded_with_offsets() {
        let text = "<p>SSN&#58; 234&ndash;56-7890</p>";
        let mut sink = Collect::default();
        extract(text, true, &mut sink);
        assert_eq!(sink.segments[0].0, "SSN: 234\u{2013}56-7890");
        let (decoded, map) = decode("SSN&#58; 234", 3);
        let segment = Segment {
            text: &decoded,
            offset: 3,
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
            segment.item_offset(decoded.find("234").unwrap()),
            text.find("234").unwrap() as u64
        );
    }

    #[test]
    fn html_table_cell_label_and_rows() {
        let text = "<table><tr><td>SSN</td><td>234-56-7890</td></tr><tr><td>DOB</td><td>03/14/1984</td></tr></table>";
        let mut sink = Collect::default();
        extract(text, true, &mut sink);
        let ssn = find(&sink, "234-56-7890");
        assert_eq!(ssn.1.as_deref(), Some("SSN"));
        assert_eq!(ssn.4, RecordScope::Record(1));
        let dob = find(&sink, "03/14/1984");
        assert_eq!(dob.1.as_deref(), Some("DOB"));
        assert_eq!(dob.4, RecordScope::Record(2));
        assert_eq!(
            dob.2,
            Locator::Html {
                path: "/table/tr/td".into(),
                attribute: None
            }
        );
    }

    #[test]
    fn html_inline_elements_join_text() {
        let text = "<p>SSN 287-45-<b>6612</b> &amp; <span>Wilhelmina</span>\n  <span>Trask</span></p><p>next</p>";
        let mut sink = Collect::default();
        extract(text, true, &mut sink);
        let joined = find(&sink, "287-45-6612 & Wilhelmina Trask");
        assert_eq!(joined.3, 3, "starts at the paragraph's text");
        // Offsets map back to the document across the tags and the entity.
        let mut segment_sink = Offsets::default();
        extract(text, true, &mut segment_sink);
        let trask = text.find("Trask").unwrap() as u64;
        assert_eq!(segment_sink.offsets_of("Trask"), Some(trask));
        // A block element ends the run.
        assert!(sink.segments.iter().any(|segment| segment.0 == "next"));
    }

    /// Records the document offset of each word of each segment.
    #[derive(Default)]
    struct Offsets {
        words: Vec<(String, u64)>,
    }

    impl Offsets {
        fn offsets_of(&self, word: &str) -> Option<u64> {
            self.words
                .iter()
                .find(|(found, _)| found == word)
                .map(|(_, offset)| *offset)
        }
    }

    impl Sink for Offsets {
        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            let mut start = 0;
            for word in segment.text.split(' ') {
                self.words
                    .push((word.to_string(), segment.item_offset(start)));
                start += word.len() + 1;
            }
            Flow::Continue
        }

        fn child(&mut self, _: Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    #[test]
    fn html_input_value_named_by_control() {
        let text = r#"<form><input name="patient_ssn" value="234-56-7890"><br></form>"#;
        let mut sink = Collect::default();
        extract(text, true, &mut sink);
        let value = find(&sink, "234-56-7890");
        assert_eq!(value.1.as_deref(), Some("patient_ssn"));
        assert_eq!(
            value.2,
            Locator::Html {
                path: "/form/input".into(),
                attribute: Some("value".into())
            }
        );
    }

    #[test]
    fn script_scanned_style_skipped_comments_scanned() {
        let text = "<html><style>.a{color:red}</style><script>var ssn='234-56-7890';</script><!-- MRN 4471029 --></html>";
        let mut sink = Collect::default();
        extract(text, true, &mut sink);
        assert!(sink.segments.iter().any(|s| s.0.contains("234-56-7890")));
        assert!(sink.segments.iter().any(|s| s.0.contains("MRN 4471029")));
        assert!(!sink.segments.iter().any(|s| s.0.contains("color")));
    }

    #[test]
    fn malformed_markup_is_still_scanned() {
        let text = "<a <b>text < 5 and <<c unclosed";
        let mut sink = Collect::default();
        assert_eq!(
            extract(text, false, &mut sink).coverage,
            phiscan_core::Coverage::Complete
        );
        assert!(sink.segments.iter().any(|s| s.0.contains("text")));
    }

    #[test]
    fn cdata_is_text() {
        let text = "<note><![CDATA[SSN 234-56-7890 & more]]></note>";
        let mut sink = Collect::default();
        extract(text, false, &mut sink);
        assert_eq!(find(&sink, "SSN").0, "SSN 234-56-7890 & more");
    }
}
