//! HL7 version 2 messages in ER7 encoding: segments ended by CR, LF or CRLF,
//! optional MLLP framing, FHS/BHS batches.
//!
//! Each field repetition is one segment labelled with the field's reference
//! and name (`PID-19 SSN number`), so the field name gives the detectors
//! context. Identifier fields (CX type, such as PID-3) add their identifier
//! type code to the label: `SS` marks an SSN, `MR` a medical record number.
//! Every segment of one message shares one record. Lines that are not HL7
//! segments are scanned as text, so nothing in the file is skipped.

use crate::lines::LineCounter;
use crate::{Flow, Format, Outcome, Segment, Sink};
use phiscan_core::Locator;
use phiscan_detect::{Field, RecordScope};

/// Delimiters declared in MSH-1 and MSH-2 (or FHS, BHS).
#[derive(Clone, Copy, Debug)]
struct Delimiters {
    field: u8,
    component: u8,
    repetition: u8,
}

impl Default for Delimiters {
    fn default() -> Delimiters {
        Delimiters {
            field: b'|',
            component: b'^',
            repetition: b'~',
        }
    }
}

/// Extracts HL7 v2 text.
pub fn extract(text: &str, sink: &mut dyn Sink) -> Outcome {
    let bytes = text.as_bytes();
    let mut delimiters = Delimiters::default();
    let mut message = 0u32;
    let mut occurrences: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut lines = LineCounter::new();
    let mut start = 0usize;

    while start < bytes.len() {
        let end = memchr::memchr2(b'\r', b'\n', &bytes[start..])
            .map_or(bytes.len(), |found| start + found);
        let line = &text[start..end];
        // MLLP framing: a vertical tab opens a message, FS CR closes it.
        let framing = line.len() - line.trim_start_matches(['\u{0B}', '\u{1C}']).len();
        let segment_start = start + framing;
        let segment = line[framing..].trim_end_matches('\u{1C}');
        if !segment.is_empty() {
            let name = segment_name(segment, &delimiters);
            let flow = match name {
                Some(name) => {
                    if matches!(name, "MSH" | "FHS" | "BHS") {
                        delimiters = declared_delimiters(segment).unwrap_or_default();
                    }
                    if name == "MSH" {
                        message += 1;
                        occurrences.clear();
                    }
                    let occurrence = occurrences.entry(name.to_string()).or_insert(0);
                    *occurrence += 1;
                    let occurrence = *occurrence;
                    let context = SegmentContext {
                        text,
                        start: segment_start,
                        segment,
                        name,
                        message,
                        occurrence,
                        delimiters,
                    };
                    emit_fields(&context, &mut lines, sink)
                }
                None => emit_plain(text, segment_start, segment, message, &mut lines, sink),
            };
            if flow == Flow::Stop {
                return Outcome::stopped(Format::Hl7v2);
            }
        }
        start = end + 1;
    }
    Outcome::complete(Format::Hl7v2)
}

/// Returns the segment id (three upper-case letters or digits, then the field separator).
fn segment_name<'s>(segment: &'s str, delimiters: &Delimiters) -> Option<&'s str> {
    let bytes = segment.as_bytes();
    if bytes.len() < 3
        || !bytes[..3]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return None;
    }
    let name = &segment[..3];
    let separator = bytes.get(3).copied();
    let header = matches!(name, "MSH" | "FHS" | "BHS");
    match separator {
        None => Some(name),
        Some(found) if header && found.is_ascii_punctuation() => Some(name),
        Some(found) if found == delimiters.field => Some(name),
        _ => None,
    }
}

/// Reads the delimiters a header segment declares. Only ASCII punctuation is
/// accepted: the text is split at byte offsets, which must be character
/// boundaries.
fn declared_delimiters(segment: &str) -> Option<Delimiters> {
    let bytes = segment.as_bytes();
    let delimiter = |at: usize| bytes.get(at).copied().filter(u8::is_ascii_punctuation);
    Some(Delimiters {
        field: delimiter(3)?,
        component: delimiter(4)?,
        repetition: delimiter(5).unwrap_or(b'~'),
    })
}

struct SegmentContext<'t> {
    text: &'t str,
    start: usize,
    segment: &'t str,
    name: &'t str,
    message: u32,
    occurrence: u32,
    delimiters: Delimiters,
}

fn emit_fields(context: &SegmentContext<'_>, lines: &mut LineCounter, sink: &mut dyn Sink) -> Flow {
    let delimiters = context.delimiters;
    let header = matches!(context.name, "MSH" | "FHS" | "BHS");
    let mut field_start = 4usize.min(context.segment.len());
    let mut number = if header { 2 } else { 1 };
    while field_start <= context.segment.len() {
        let field_end =
            memchr::memchr(delimiters.field, &context.segment.as_bytes()[field_start..])
                .map_or(context.segment.len(), |found| field_start + found);
        // MSH-2 contains the encoding characters themselves.
        let skip = header && number == 2;
        if !skip && field_end > field_start {
            let flow = emit_repetitions(context, number, field_start..field_end, lines, sink);
            if flow == Flow::Stop {
                return Flow::Stop;
            }
        }
        number += 1;
        field_start = field_end + 1;
    }
    Flow::Continue
}

fn emit_repetitions(
    context: &SegmentContext<'_>,
    number: u32,
    range: std::ops::Range<usize>,
    lines: &mut LineCounter,
    sink: &mut dyn Sink,
) -> Flow {
    let delimiters = context.delimiters;
    let field = &context.segment[range.clone()];
    let reference = format!("{}-{}", context.name, number);
    let name = field_name(context.name, number);
    let mut repetition_start = 0usize;
    let mut repetition = 1u32;
    while repetition_start <= field.len() {
        let repetition_end =
            memchr::memchr(delimiters.repetition, &field.as_bytes()[repetition_start..])
                .map_or(field.len(), |found| repetition_start + found);
        let value = &field[repetition_start..repetition_end];
        if !value.trim().is_empty() {
            // An identifier's type code is more specific than the field's
            // name, because PID-3 lists medical record numbers and SSNs alike.
            let label = match (identifier_type(value, delimiters.component), name) {
                (Some(kind), _) => format!("{reference} {kind}"),
                (None, Some(name)) => format!("{reference} {name}"),
                (None, None) => reference.clone(),
            };
            let offset = context.start + range.start + repetition_start;
            let (line, column) = lines.position(context.text, offset);
            let component = delimiters.component;
            let field_reference = if repetition > 1 {
                format!("{reference}({repetition})")
            } else {
                reference.clone()
            };
            let fields = if is_person_name(context.name, number) {
                name_components(value, component)
            } else {
                Vec::new()
            };
            let segment_name = context.name.to_string();
            let message = context.message;
            let occurrence = context.occurrence;
            let locate = move |at: usize| {
                let components = value.as_bytes()[..at.min(value.len())]
                    .iter()
                    .filter(|&&b| b == component)
                    .count();
                let has_components = memchr::memchr(component, value.as_bytes()).is_some();
                let field = if has_components {
                    format!("{field_reference}.{}", components + 1)
                } else {
                    field_reference.clone()
                };
                Locator::Hl7 {
                    message,
                    segment: segment_name.clone(),
                    occurrence,
                    field,
                }
            };
            let segment = Segment {
                text: value,
                offset: offset as u64,
                offset_map: &[],
                line,
                column,
                label: Some(&label),
                fields: &fields,
                report: 0..value.len(),
                scope: RecordScope::Record(u64::from(context.message)),
                locate: &locate,
            };
            if sink.segment(&segment) == Flow::Stop {
                return Flow::Stop;
            }
        }
        repetition += 1;
        repetition_start = repetition_end + 1;
    }
    Flow::Continue
}

/// Scans a line that is not an HL7 segment as text, in the current message.
fn emit_plain(
    text: &str,
    start: usize,
    line_text: &str,
    message: u32,
    lines: &mut LineCounter,
    sink: &mut dyn Sink,
) -> Flow {
    let (line, column) = lines.position(text, start);
    let locate = |_: usize| Locator::Text;
    let segment = Segment {
        text: line_text,
        offset: start as u64,
        offset_map: &[],
        line,
        column,
        label: None,
        fields: &[],
        report: 0..line_text.len(),
        scope: RecordScope::Record(u64::from(message)),
        locate: &locate,
    };
    sink.segment(&segment)
}

/// Returns true for the fields of a patient's or relative's name (data type
/// XPN), whose components are family name, given name and middle name.
fn is_person_name(segment: &str, number: u32) -> bool {
    matches!(
        (segment, number),
        ("PID", 5 | 6 | 9) | ("NK1", 2 | 30) | ("GT1", 3) | ("IN1", 16) | ("MRG", 7)
    )
}

/// Labels the first three components of a name field, so that the given
/// name after `^` is found as well as the family name, and the parts can be
/// put together to count the person.
fn name_components(value: &str, component: u8) -> Vec<Field<'static>> {
    const PARTS: [&str; 3] = ["family name", "given name", "middle name"];
    let mut fields = Vec::new();
    let mut start = 0;
    for (index, part) in value
        .split(char::from(component))
        .enumerate()
        .take(PARTS.len())
    {
        let range = start..start + part.len();
        start = range.end + 1;
        if !part.trim().is_empty() {
            fields.push(Field {
                range,
                label: PARTS[index],
            });
        }
    }
    fields
}

/// Returns the identifier type code of a CX value (component 5) as label words.
fn identifier_type(value: &str, component: u8) -> Option<&'static str> {
    let code = value.split(char::from(component)).nth(4)?.trim();
    Some(match code {
        "SS" | "SSN" => "SSN social security number",
        "MR" | "MRN" | "PI" => "MRN medical record number",
        "MC" | "MCR" => "medicare number",
        "MA" | "MCD" => "medicaid number",
        "MB" | "MI" | "SN" => "member id",
        "DL" => "driver license number",
        "PPN" => "passport number",
        "AN" => "account number",
        "NPI" => "NPI",
        _ => return None,
    })
}

/// Names of the fields that hold identifiers, contacts, dates, providers and
/// clinical content, in the words the detectors know.
fn field_name(segment: &str, number: u32) -> Option<&'static str> {
    Some(match (segment, number) {
        ("PID", 2) => "patient id external",
        ("PID", 3) => "patient identifier list patient id",
        ("PID", 4) => "alternate patient id",
        ("PID", 5) => "patient name",
        ("PID", 6) => "mother maiden name",
        ("PID", 7) => "date of birth",
        ("PID", 8) => "administrative sex",
        ("PID", 9) => "patient alias name",
        ("PID", 11) => "patient address",
        ("PID", 12) => "county code",
        ("PID", 13) => "home phone number email",
        ("PID", 14) => "work phone number",
        ("PID", 18) => "patient account number",
        ("PID", 19) => "SSN social security number",
        ("PID", 20) => "driver license number",
        ("PID", 21) => "mother identifier",
        ("PID", 23) => "birth place",
        ("PID", 29) => "date of death",
        ("PID", 40) => "patient telecommunication phone email",
        ("NK1", 2) => "next of kin name",
        ("NK1", 3) => "relationship",
        ("NK1", 4) => "next of kin address",
        ("NK1", 5) => "next of kin phone number",
        ("NK1", 6) => "next of kin work phone number",
        ("NK1", 16) => "next of kin date of birth",
        ("NK1", 30) => "contact person name",
        ("NK1", 31) => "contact person phone number",
        ("NK1", 32) => "contact person address",
        ("NK1", 33) => "next of kin identifiers",
        ("NK1", 37) => "contact person SSN social security number",
        ("NK1", 40) => "next of kin telecommunication phone email",
        ("GT1", 2) => "guarantor number",
        ("GT1", 3) => "guarantor name",
        ("GT1", 5) => "guarantor address",
        ("GT1", 6) => "guarantor home phone number",
        ("GT1", 7) => "guarantor work phone number",
        ("GT1", 8) => "guarantor date of birth",
        ("GT1", 12) => "guarantor SSN social security number",
        ("GT1", 16) => "guarantor employer name",
        ("GT1", 17) => "guarantor employer address",
        ("GT1", 18) => "guarantor employer phone number",
        ("GT1", 19) => "guarantor employee id",
        ("IN1", 2) => "health plan id",
        ("IN1", 3) => "insurance company id",
        ("IN1", 4) => "insurance company name",
        ("IN1", 5) => "insurance company address",
        ("IN1", 7) => "insurance company phone number",
        ("IN1", 8) => "group number",
        ("IN1", 9) => "group name",
        ("IN1", 16) => "name of insured",
        ("IN1", 17) => "insured relationship to patient",
        ("IN1", 18) => "insured date of birth",
        ("IN1", 19) => "insured address",
        ("IN1", 36) => "policy number member id",
        ("IN1", 49) => "insured identification number member id",
        ("IN2", 1) => "insured employee id",
        ("IN2", 2) => "insured SSN social security number",
        ("IN2", 8) => "medicare health insurance card number",
        ("IN2", 9) => "medicaid case number",
        ("PV1", 3) => "assigned patient location",
        ("PV1", 7) => "attending doctor",
        ("PV1", 8) => "referring doctor",
        ("PV1", 9) => "consulting doctor",
        ("PV1", 17) => "admitting doctor",
        ("PV1", 19) => "visit number account",
        ("PV1", 44) => "admit date admission date",
        ("PV1", 45) => "discharge date",
        ("PV1", 52) => "other healthcare provider",
        ("PD1", 4) => "patient primary care provider",
        ("MRG", 1) => "prior patient identifier list patient id",
        ("MRG", 3) => "prior patient account number",
        ("MRG", 7) => "prior patient name",
        ("OBR", 7) => "observation date",
        ("OBR", 16) => "ordering provider",
        ("OBR", 32) => "principal result interpreter",
        ("ORC", 12) => "ordering provider",
        ("OBX", 3) => "observation identifier lab test",
        ("OBX", 5) => "observation value result",
        ("OBX", 14) => "observation date",
        ("OBX", 16) => "responsible observer",
        ("DG1", 3) => "diagnosis code",
        ("DG1", 4) => "diagnosis description",
        ("DG1", 5) => "diagnosis date",
        ("DG1", 16) => "diagnosing clinician",
        ("PR1", 3) => "procedure code",
        ("PR1", 5) => "procedure date",
        ("AL1", 3) => "allergy code",
        ("RXE", 2) => "give code medication",
        ("RXA", 5) => "administered code vaccine medication",
        ("NTE", 3) => "comment note",
        ("TXA", 5) => "primary activity provider",
        ("SCH", 11) => "appointment timing date",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<(String, String, Locator, u64)>);

    impl Sink for Collect {
        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            let locator = (segment.locate)(segment.text.len().saturating_sub(1));
            self.0.push((
                segment.text.to_string(),
                segment.label.unwrap_or("").to_string(),
                locator,
                segment.offset,
            ));
            Flow::Continue
        }
        fn child(&mut self, _: crate::Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    fn run(text: &str) -> Vec<(String, String, Locator, u64)> {
        let mut sink = Collect(Vec::new());
        assert_eq!(
            extract(text, &mut sink).coverage,
            phiscan_core::Coverage::Complete
        );
        sink.0
    }

    #[test]
    fn pid_fields_carry_names_and_locators() {
        let text = "MSH|^~\\&|LAB|CLINIC|||202401010000||ADT^A01|1|P|2.5\rPID|1||MRN77^^^HOSP^MR~234567890^^^USSSA^SS||DOE^JANE||19800102|F|||12 OAK ST^^SPRINGFIELD^IL^62704||(217)555-0143||||||234-56-7890\r";
        let found = run(text);
        let ssn = found
            .iter()
            .find(|(value, ..)| value == "234-56-7890")
            .unwrap();
        assert!(ssn.1.contains("PID-19"), "{}", ssn.1);
        assert!(ssn.1.contains("SSN"));
        assert_eq!(
            ssn.2,
            Locator::Hl7 {
                message: 1,
                segment: "PID".into(),
                occurrence: 1,
                field: "PID-19".into()
            }
        );
        assert_eq!(&text[ssn.3 as usize..ssn.3 as usize + 11], "234-56-7890");
        let second = found
            .iter()
            .find(|(value, ..)| value.starts_with("234567890"))
            .unwrap();
        assert!(second.1.contains("SSN"), "{}", second.1);
        assert!(matches!(&second.2, Locator::Hl7 { field, .. } if field == "PID-3(2).5"));
        let name = found
            .iter()
            .find(|(value, ..)| value == "DOE^JANE")
            .unwrap();
        assert!(name.1.contains("patient name"));
    }

    #[test]
    fn mllp_and_line_feeds_split_segments() {
        let text = "\u{0B}MSH|^~\\&|A|B\nPID|1||X1^^^H^MR||ROE^RICHARD\n\u{1C}\r\u{0B}MSH|^~\\&|A|B\nPID|1||X2\n\u{1C}\r";
        let found = run(text);
        let messages: Vec<u32> = found
            .iter()
            .filter_map(|(value, _, locator, _)| match locator {
                Locator::Hl7 {
                    message, segment, ..
                } if segment == "PID" && value.starts_with('X') => Some(*message),
                _ => None,
            })
            .collect();
        assert_eq!(messages, vec![1, 2]);
    }

    #[test]
    fn msh_field_numbers_count_the_separator() {
        let found = run("MSH|^~\\&|SENDING APP|FAC\r");
        let app = found
            .iter()
            .find(|(value, ..)| value == "SENDING APP")
            .unwrap();
        assert!(matches!(&app.2, Locator::Hl7 { field, .. } if field == "MSH-3"));
    }

    #[test]
    fn non_ascii_delimiters_fall_back() {
        // Found by fuzzing: a declared delimiter byte inside a multi-byte
        // character split the text off a character boundary.
        let text = "MSH|\u{FFFD}\u{FFFD}|LAB\rPID|1||X1||DOE^JANE\r";
        let found = run(text);
        assert!(found.iter().any(|(value, ..)| value == "DOE^JANE"));
    }

    #[test]
    fn malformed_lines_are_scanned_as_text() {
        let found = run("MSH|^~\\&|A\rthis line is not a segment 234-56-7890\r");
        assert!(found.iter().any(
            |(value, _, locator, _)| value.contains("234-56-7890") && *locator == Locator::Text
        ));
    }
}
