//! Rich Text Format: document text with control words decoded (`\'e9` in the
//! document's code page, `\u233` Unicode escapes), the info group's
//! properties (author, operator, title), headers, footers and annotations,
//! and embedded OLE objects (`\objdata`) as child items.
//!
//! Font, color and style tables, pictures and other non-text destinations are
//! skipped.

use crate::{Child, Emitter, Flow, Format, Limits, Outcome, PROPERTIES_RECORD};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;

/// Characters of running text grouped into one record for linking.
const RECORD_CHARS: usize = 2000;

/// Deepest group nesting followed; deeper groups are read as text.
const MAX_GROUP_DEPTH: usize = 1024;

/// Destinations whose content is not document text.
const SKIPPED: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "pict",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "xmlnstbl",
    "filetbl",
    "revtbl",
    "pgdsctbl",
    "mmathPr",
    "wgrffmtfilter",
    "fchars",
    "lchars",
    "bkmkstart",
    "bkmkend",
    "blipuid",
    "panose",
    "falt",
    "passwordhash",
    "protusertbl",
    "docvar",
    "objclass",
    "result",
    "nonshppict",
];

/// Properties inside the `\info` group.
const INFO_FIELDS: &[&str] = &[
    "author", "operator", "title", "subject", "keywords", "doccomm", "company", "manager",
    "category",
];

#[derive(Clone)]
struct GroupState {
    skip: bool,
    unicode_skip: usize,
    /// Property name while inside an `\info` field.
    info_field: Option<&'static str>,
    in_objdata: bool,
    /// Set for groups whose text stands apart from the running text around
    /// them (annotations, footnotes, headers), so a line break ends them.
    separate: bool,
}

/// What the parser collected.
#[derive(Default)]
struct Parsed {
    text: String,
    properties: Vec<(String, String)>,
    objects: Vec<Vec<u8>>,
}

/// Extracts an RTF document.
pub fn extract(bytes: &[u8], limits: &Limits, sink: &mut dyn crate::Sink) -> Outcome {
    let format = Format::Rtf;
    let parsed = parse(bytes);
    let mut out = Emitter::new(sink);
    if out.properties(&parsed.properties, PROPERTIES_RECORD) == Flow::Stop {
        return Outcome::stopped(format);
    }
    let mut record = 0u64;
    let mut chars = 0usize;
    for (index, paragraph) in parsed.text.split('\n').enumerate() {
        if paragraph.trim().is_empty() {
            continue;
        }
        if chars > RECORD_CHARS {
            record += 1;
            chars = 0;
        }
        chars += paragraph.len();
        let locator = Locator::Part {
            part: "document".into(),
            detail: Some(format!("paragraph {}", index + 1)),
        };
        if out.text(paragraph, None, RecordScope::Record(record), locator) == Flow::Stop {
            return Outcome::stopped(format);
        }
    }
    let mut skipped_objects = 0usize;
    for (index, object) in parsed.objects.iter().enumerate() {
        if index as u64 >= limits.max_entries {
            skipped_objects = parsed.objects.len() - index;
            break;
        }
        let (class, data) =
            ole1_native_data(object).unwrap_or_else(|| ("object".into(), &object[..]));
        let name = format!(
            "object {} ({})",
            index + 1,
            crate::location_name(class.as_bytes())
        );
        let flow = out.sink.child(Child {
            name: &name,
            data,
            modified: None,
            unreadable: None,
            damaged: None,
        });
        if flow == Flow::Stop {
            return Outcome::stopped(format);
        }
    }
    if skipped_objects > 0 {
        return Outcome::with(
            format,
            Coverage::Partial,
            format!(
                "member limit of {} reached; {skipped_objects} embedded objects were not examined",
                limits.max_entries
            ),
        );
    }
    Outcome::complete(format)
}

fn parse(bytes: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut codepage = encoding_rs::WINDOWS_1252;
    let mut stack: Vec<GroupState> = Vec::new();
    let mut state = GroupState {
        skip: false,
        unicode_skip: 1,
        info_field: None,
        in_objdata: false,
        separate: false,
    };
    let mut pending_bytes: Vec<u8> = Vec::new();
    let mut property = String::new();
    let mut object_hex: Vec<u8> = Vec::new();
    // Characters still to skip after a \uN escape.
    let mut to_skip = 0usize;
    let mut group_start = false;
    let mut position = 0usize;

    macro_rules! flush {
        () => {
            if !pending_bytes.is_empty() {
                let (decoded, _, _) = codepage.decode(&pending_bytes);
                push_text(&mut parsed, &mut property, &state, &decoded);
                pending_bytes.clear();
            }
        };
    }

    while position < bytes.len() {
        let byte = bytes[position];
        match byte {
            b'{' => {
                flush!();
                if stack.len() < MAX_GROUP_DEPTH {
                    stack.push(state.clone());
                }
                group_start = true;
                to_skip = 0;
                position += 1;
                continue;
            }
            b'}' => {
                flush!();
                if state.in_objdata && !object_hex.is_empty() {
                    parsed.objects.push(decode_hex(&object_hex));
                    object_hex.clear();
                }
                if let Some(name) = state.info_field
                    && stack
                        .last()
                        .is_none_or(|outer| outer.info_field != Some(name))
                {
                    let value = property.trim().to_string();
                    if !value.is_empty() {
                        parsed.properties.push((name.to_string(), value));
                    }
                    property.clear();
                }
                let separate = state.separate;
                if let Some(outer) = stack.pop() {
                    state = outer;
                }
                if separate && !state.separate {
                    push_text(&mut parsed, &mut property, &state, "\n");
                }
                group_start = false;
                to_skip = 0;
                position += 1;
                continue;
            }
            b'\\' => {
                let (word, parameter, next) = control(bytes, position);
                position = next;
                let starts_group = std::mem::replace(&mut group_start, false);
                match word.as_str() {
                    "'" => {
                        if let Some(value) = parameter {
                            if to_skip > 0 {
                                to_skip -= 1;
                            } else if !state.skip {
                                pending_bytes.push(value as u8);
                            }
                        }
                        continue;
                    }
                    "u" => {
                        flush!();
                        if let Some(value) = parameter {
                            let code = if value < 0 { value + 65536 } else { value } as u32;
                            if let Some(ch) = char::from_u32(code) {
                                push_text(
                                    &mut parsed,
                                    &mut property,
                                    &state,
                                    ch.encode_utf8(&mut [0; 4]),
                                );
                            }
                            to_skip = state.unicode_skip;
                        }
                        continue;
                    }
                    _ => {}
                }
                flush!();
                to_skip = 0;
                match word.as_str() {
                    "*" => {
                        // An ignorable destination: skipped unless known below.
                        state.skip = true;
                    }
                    "ansicpg" => {
                        if let Some(page) = parameter.and_then(|page| u16::try_from(page).ok()) {
                            codepage = codepage_encoding(page).unwrap_or(codepage);
                        }
                    }
                    "uc" => state.unicode_skip = parameter.unwrap_or(1).clamp(0, 8) as usize,
                    "par" | "line" | "sect" | "page" | "row" | "outlinelevel" => {
                        push_text(&mut parsed, &mut property, &state, "\n")
                    }
                    "tab" | "cell" => push_text(&mut parsed, &mut property, &state, "\t"),
                    "emdash" | "endash" => push_text(&mut parsed, &mut property, &state, "-"),
                    "lquote" | "rquote" => push_text(&mut parsed, &mut property, &state, "'"),
                    "ldblquote" | "rdblquote" => {
                        push_text(&mut parsed, &mut property, &state, "\"")
                    }
                    "bullet" => push_text(&mut parsed, &mut property, &state, "\u{2022}"),
                    "~" => push_text(&mut parsed, &mut property, &state, " "),
                    "_" => push_text(&mut parsed, &mut property, &state, "-"),
                    "\\" | "{" | "}" => push_text(&mut parsed, &mut property, &state, &word),
                    "objdata" => {
                        state.skip = true;
                        state.in_objdata = true;
                    }
                    "info" => state.skip = true,
                    name if INFO_FIELDS.contains(&name) && starts_group => {
                        let field = INFO_FIELDS.iter().find(|field| **field == name).copied();
                        state.info_field = field;
                        state.skip = false;
                    }
                    name if starts_group && SKIPPED.contains(&name) => state.skip = true,
                    // Headers, footers, footnotes and annotations are text,
                    // even inside an ignorable destination marker.
                    "header" | "footer" | "headerl" | "headerr" | "headerf" | "footerl"
                    | "footerr" | "footerf" | "footnote" | "annotation" => {
                        push_text(&mut parsed, &mut property, &state, "\n");
                        state.skip = false;
                        state.separate = true;
                    }
                    "atnauthor" | "fldinst" | "fldrslt" => state.skip = false,
                    _ => {}
                }
                continue;
            }
            b'\r' | b'\n' => {
                position += 1;
                continue;
            }
            _ => {}
        }
        group_start = false;
        if state.in_objdata {
            if byte.is_ascii_hexdigit() {
                object_hex.push(byte);
            }
        } else if to_skip > 0 {
            to_skip -= 1;
        } else if !state.skip || state.info_field.is_some() {
            pending_bytes.push(byte);
        }
        position += 1;
    }
    flush!();
    parsed
}

fn push_text(parsed: &mut Parsed, property: &mut String, state: &GroupState, text: &str) {
    if state.info_field.is_some() {
        property.push_str(text);
    } else if !state.skip {
        parsed.text.push_str(text);
    }
}

/// Reads a control word or symbol at `start` (a backslash); returns the word,
/// its numeric parameter and the position after it.
fn control(bytes: &[u8], start: usize) -> (String, Option<i32>, usize) {
    let mut position = start + 1;
    let Some(&first) = bytes.get(position) else {
        return (String::new(), None, position);
    };
    if first == b'\'' {
        let hex = bytes.get(position + 1..position + 3);
        let value = hex
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        return (
            "'".into(),
            value.map(i32::from),
            (position + 3).min(bytes.len()),
        );
    }
    if !first.is_ascii_alphabetic() {
        return ((first as char).to_string(), None, position + 1);
    }
    let word_start = position;
    while position < bytes.len()
        && bytes[position].is_ascii_alphabetic()
        && position - word_start < 32
    {
        position += 1;
    }
    let word = String::from_utf8_lossy(&bytes[word_start..position]).into_owned();
    let number_start = position;
    if bytes.get(position) == Some(&b'-') {
        position += 1;
    }
    while position < bytes.len() && bytes[position].is_ascii_digit() && position - number_start < 10
    {
        position += 1;
    }
    let parameter = std::str::from_utf8(&bytes[number_start..position])
        .ok()
        .and_then(|text| text.parse().ok());
    // One space after a control word belongs to it.
    if bytes.get(position) == Some(&b' ') {
        position += 1;
    }
    (word, parameter, position)
}

fn codepage_encoding(page: u16) -> Option<&'static encoding_rs::Encoding> {
    let label = match page {
        65001 => "utf-8".to_string(),
        932 => "shift_jis".to_string(),
        936 => "gbk".to_string(),
        949 => "euc-kr".to_string(),
        950 => "big5".to_string(),
        437 | 850 => "ibm866".to_string(),
        other => format!("windows-{other}"),
    };
    encoding_rs::Encoding::for_label(label.as_bytes())
}

fn decode_hex(hex: &[u8]) -> Vec<u8> {
    hex.chunks_exact(2)
        .filter_map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// Parses an OLE1 embedded object ([MS-OLEDS] 2.2.4): version, format id,
/// then length-prefixed class, topic and item names, then the native data.
fn ole1_native_data(object: &[u8]) -> Option<(String, &[u8])> {
    let u32_at = |at: usize| {
        object
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let mut position = 8;
    let class_length = u32_at(position)?;
    let class = object.get(position + 4..position + 4 + class_length)?;
    let class = String::from_utf8_lossy(class)
        .trim_end_matches('\0')
        .to_string();
    position += 4 + class_length;
    for _ in 0..2 {
        let length = u32_at(position)?;
        position = position.checked_add(4 + length)?;
    }
    let size = u32_at(position)?;
    let data = object.get(position + 4..position.checked_add(4 + size)?)?;
    Some((class, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_and_tables_decode() {
        let rtf = br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}{\info{\author Dr. Ana Ruiz}{\title Visit}}{\*\generator Writer;}\pard Jos\'e9 SSN 234\u8209?56-7890\par {\header Clinic header\par}Name\cell Value\cell\row}";
        let parsed = parse(rtf);
        assert!(
            parsed.text.contains("José SSN 234\u{2011}56-7890"),
            "{:?}",
            parsed.text
        );
        assert!(parsed.text.contains("Clinic header"));
        assert!(parsed.text.contains("Name\tValue\t"));
        assert!(!parsed.text.contains("Arial"));
        assert!(!parsed.text.contains("Writer"));
        assert_eq!(
            parsed.properties,
            vec![
                ("author".into(), "Dr. Ana Ruiz".into()),
                ("title".into(), "Visit".into())
            ]
        );
    }

    #[test]
    fn split_runs_join() {
        let parsed = parse(br"{\rtf1 SSN 234-{\b 56}-7890\par}");
        assert!(parsed.text.contains("SSN 234-56-7890"));
    }
}
