//! ASC X12 5010 health care transactions: 837 claims, 835 remittances, 834
//! enrollments, 270/271 eligibility and 276/277 claim status.
//!
//! Delimiters come from the fixed-width ISA segment. Each element is one
//! segment labelled with its reference and meaning (`NM1-09 SSN` when the
//! NM1-08 qualifier is `34`, `REF-02 SSN` when REF-01 is `SY`), and findings
//! carry the loop (`2010BA`), segment and element. The elements of one
//! subscriber, member or claim share one record. Text that does not parse
//! as segments is scanned as plain text.

use crate::lines::LineCounter;
use crate::{Flow, Format, Outcome, Segment, Sink};
use phiscan_core::Locator;
use phiscan_detect::RecordScope;

/// Delimiters declared by the ISA segment.
#[derive(Clone, Copy, Debug)]
struct Delimiters {
    element: u8,
    component: u8,
    segment: u8,
}

/// Reads the delimiters the ISA segment declares. Only ASCII is accepted: the
/// text is split at byte offsets, which must be character boundaries.
fn isa_delimiters(text: &str) -> Option<Delimiters> {
    let start = text.find("ISA")?;
    let isa = text.as_bytes().get(start..start + 106)?;
    let delimiters = Delimiters {
        element: isa[3],
        component: isa[104],
        segment: isa[105],
    };
    let usable = |byte: u8| byte.is_ascii() && !byte.is_ascii_alphanumeric();
    (usable(delimiters.element) && usable(delimiters.component) && usable(delimiters.segment))
        .then_some(delimiters)
}

/// Tracks the transaction set, loop and record while reading segments.
#[derive(Default)]
struct LoopState {
    transaction: String,
    /// Loop of the current hierarchical level (`2000B`).
    level_loop: Option<String>,
    loop_id: Option<String>,
    record: u64,
}

impl LoopState {
    fn on_segment(&mut self, id: &str, elements: &[&str]) {
        let element = |index: usize| elements.get(index).copied().unwrap_or("");
        match id {
            "ISA" | "GS" => {
                self.loop_id = None;
            }
            "ST" => {
                self.transaction = element(1).to_string();
                self.level_loop = None;
                self.loop_id = Some("header".into());
                self.record += 1;
            }
            "HL" => {
                let code = element(3);
                let level = match (self.transaction.as_str(), code) {
                    ("837", "20") => "2000A",
                    ("837", "22") => "2000B",
                    ("837", "23") => "2000C",
                    ("270" | "271", "20") => "2000A",
                    ("270" | "271", "21") => "2000B",
                    ("270" | "271", "22") => "2000C",
                    ("270" | "271", "23") => "2000D",
                    ("276" | "277", "20") => "2000A",
                    ("276" | "277", "21") => "2000B",
                    ("276" | "277", "19") => "2000C",
                    ("276" | "277", "22") => "2000D",
                    ("276" | "277", "23" | "PT") => "2000E",
                    _ => "2000",
                };
                // A subscriber starts a new person record; the patient level
                // under it belongs to the same claim.
                if code == "22" || code == "20" {
                    self.record += 1;
                }
                self.level_loop = Some(level.to_string());
                self.loop_id = Some(level.to_string());
            }
            "INS" => {
                self.record += 1;
                self.loop_id = Some("2000".into());
                self.level_loop = Some("2000".into());
            }
            "CLP" => {
                self.record += 1;
                self.loop_id = Some("2100".into());
            }
            "SVC" => self.loop_id = Some("2110".into()),
            "CLM" => self.loop_id = Some("2300".into()),
            "LX" if self.transaction == "837" => self.loop_id = Some("2400".into()),
            "NM1" => self.loop_id = self.name_loop(element(1)),
            "N1" if self.transaction == "835" => {
                self.loop_id = match element(1) {
                    "PR" => Some("1000A".into()),
                    "PE" => Some("1000B".into()),
                    _ => self.loop_id.clone(),
                };
            }
            _ => {}
        }
    }

    /// Returns the loop an NM1 segment opens, from its entity identifier code.
    fn name_loop(&self, entity: &str) -> Option<String> {
        let transaction = self.transaction.as_str();
        let level = self.level_loop.as_deref().unwrap_or("");
        let named = match (transaction, entity) {
            ("837", "41") => "1000A",
            ("837", "40") => "1000B",
            ("837", "85") => "2010AA",
            ("837", "87") => "2010AB",
            ("837", "IL") => "2010BA",
            ("837", "PR") => "2010BB",
            ("837", "QC") => "2010CA",
            ("837", "DN" | "P3") => "2310A",
            ("837", "82") => "2310B",
            ("837", "77") => "2310C",
            ("835", "QC") => "2100",
            ("835", "IL") => "2100",
            ("835", "82") => "2100",
            ("834", "IL") => "2100A",
            ("834", "70") => "2100B",
            ("834", "31") => "2100C",
            ("834", "36") => "2100D",
            ("834", "M8") => "2100E",
            ("834", "S3") => "2100F",
            ("834", "QD") => "2100G",
            ("834", "P5") => "1000A",
            ("834", "IN") => "1000B",
            ("270" | "271" | "276" | "277", _) if level.starts_with("2000") => {
                return Some(format!("2100{}", &level[4..]));
            }
            _ => return self.loop_id.clone(),
        };
        Some(named.to_string())
    }
}

/// Extracts an X12 interchange.
pub fn extract(text: &str, sink: &mut dyn Sink) -> Outcome {
    let Some(delimiters) = isa_delimiters(text) else {
        return crate::text_segment_outcome(text, Format::X12, sink);
    };
    let bytes = text.as_bytes();
    let mut state = LoopState::default();
    let mut lines = LineCounter::new();
    let mut start = 0usize;
    while start < bytes.len() {
        let end = memchr::memchr(delimiters.segment, &bytes[start..])
            .map_or(bytes.len(), |found| start + found);
        let raw = &text[start..end];
        let leading = raw.len() - raw.trim_start().len();
        let segment_start = start + leading;
        let segment = raw.trim();
        if !segment.is_empty() {
            let flow = emit_segment(
                text,
                segment_start,
                segment,
                delimiters,
                &mut state,
                &mut lines,
                sink,
            );
            if flow == Flow::Stop {
                return Outcome::stopped(Format::X12);
            }
        }
        start = end + 1;
    }
    Outcome::complete(Format::X12)
}

fn emit_segment(
    text: &str,
    segment_start: usize,
    segment: &str,
    delimiters: Delimiters,
    state: &mut LoopState,
    lines: &mut LineCounter,
    sink: &mut dyn Sink,
) -> Flow {
    let element_separator = char::from(delimiters.element);
    let elements: Vec<&str> = segment.split(element_separator).collect();
    let id = elements[0];
    let valid_id = (2..=3).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !valid_id {
        // Not a segment: scan it as text so nothing is skipped.
        let (line, column) = lines.position(text, segment_start);
        let locate = |_: usize| Locator::Text;
        let segment_input = Segment {
            text: segment,
            offset: segment_start as u64,
            offset_map: &[],
            line,
            column,
            label: None,
            fields: &[],
            report: 0..segment.len(),
            scope: RecordScope::Record(state.record),
            locate: &locate,
        };
        return sink.segment(&segment_input);
    }
    state.on_segment(id, &elements);

    let mut element_start = segment_start + id.len() + 1;
    for (index, value) in elements.iter().enumerate().skip(1) {
        let offset = element_start;
        element_start += value.len() + 1;
        if value.trim().is_empty() || id == "ISA" && index == 16 {
            continue;
        }
        let reference = format!("{id}-{index:02}");
        let meaning = element_meaning(id, index, &elements);
        let label = match meaning {
            Some(meaning) => format!("{reference} {meaning}"),
            None => reference.clone(),
        };
        let (line, column) = lines.position(text, offset);
        let loop_id = state.loop_id.clone();
        let segment_id = id.to_string();
        let component = delimiters.component;
        let locate = move |at: usize| {
            let components = value.as_bytes()[..at.min(value.len())]
                .iter()
                .filter(|&&b| b == component)
                .count();
            let element = if memchr::memchr(component, value.as_bytes()).is_some() {
                format!("{reference}-{}", components + 1)
            } else {
                reference.clone()
            };
            Locator::X12 {
                loop_id: loop_id.clone(),
                segment: segment_id.clone(),
                element,
            }
        };
        let segment_input = Segment {
            text: value,
            offset: offset as u64,
            offset_map: &[],
            line,
            column,
            label: Some(&label),
            fields: &[],
            report: 0..value.len(),
            scope: RecordScope::Record(state.record),
            locate: &locate,
        };
        if sink.segment(&segment_input) == Flow::Stop {
            return Flow::Stop;
        }
    }
    Flow::Continue
}

/// Returns the meaning of an element in the words the detectors know, using
/// the qualifiers in the same segment where they decide it.
fn element_meaning(id: &str, index: usize, elements: &[&str]) -> Option<&'static str> {
    let element = |index: usize| elements.get(index).copied().unwrap_or("");
    Some(match (id, index) {
        ("NM1", 3) => "last name organization name",
        ("NM1", 4) => "first name",
        ("NM1", 5) => "middle name",
        ("NM1", 9) => match element(8) {
            "34" => "SSN social security number",
            "MI" | "II" => "member id",
            "XX" => "NPI",
            "24" => "employer identification number EIN",
            "MR" => "MRN medical record number",
            "PI" => "payer id",
            _ => "identification code",
        },
        ("N1", 2) => "name",
        ("N1", 4) => "identification code",
        ("N3", 1 | 2) => "address street",
        ("N4", 1) => "city",
        ("N4", 2) => "state",
        ("N4", 3) => "postal code zip",
        ("DMG", 2) => "date of birth",
        ("DMG", 3) => "gender",
        ("REF", 2) => match element(1) {
            "SY" => "SSN social security number",
            "EA" => "MRN medical record number",
            "1W" | "0F" | "23" | "3H" => "member id",
            "6P" | "1L" => "group number",
            "EI" => "employer identification number EIN",
            "G1" => "prior authorization number",
            "F8" | "D9" => "claim number",
            "Q4" => "prior identifier number",
            "ABB" => "personal identification number",
            _ => "reference identification",
        },
        ("PER", 2) => "contact name",
        ("PER", 4 | 6 | 8) => match element(index - 1) {
            "TE" | "HP" | "WP" | "CP" => "phone number",
            "EM" => "email",
            "FX" => "fax number",
            _ => "communication number",
        },
        ("DTP", 3) => match element(1) {
            "472" => "service date",
            "435" => "admission date",
            "096" => "discharge date",
            "434" => "statement date",
            "348" | "349" | "356" | "357" => "coverage date",
            _ => "date",
        },
        ("HI", _) => "diagnosis code",
        ("CLM", 1) => "patient control number account",
        ("CLP", 1) => "patient control number account",
        ("CLP", 7) => "payer claim control number",
        ("SV1", 1) | ("SV2", 2) | ("SVC", 1) => "procedure code",
        ("SV1", 7) => "diagnosis code pointer",
        ("INS", 8) => "employment status",
        ("HD", 3) => "insurance line code",
        ("TRN", 2) => "trace number",
        ("LIN", 3) => "NDC drug code medication",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<(String, String, Locator, u64)>);

    impl Sink for Collect {
        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            self.0.push((
                segment.text.to_string(),
                segment.label.unwrap_or("").to_string(),
                (segment.locate)(0),
                match segment.scope {
                    RecordScope::Record(key) => key,
                    RecordScope::Window => u64::MAX,
                },
            ));
            Flow::Continue
        }
        fn child(&mut self, _: crate::Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    const CLAIM: &str = "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*:~\nGS*HC*S*R*20240101*1200*1*X*005010X222A1~\nST*837*0001*005010X222A1~\nHL*1**20*1~\nNM1*85*2*CLINIC*****XX*1234567893~\nHL*2*1*22*0~\nNM1*IL*1*DOE*JANE****MI*W123456789~\nN3*12 OAK ST~\nN4*SPRINGFIELD*IL*627041234~\nDMG*D8*19800102*F~\nREF*SY*234567890~\nCLM*PCN1*100***11:B:1~\nHI*ABK:E119~\nSE*12*0001~\n";

    #[test]
    fn claim_elements_carry_loops_and_meanings() {
        let mut sink = Collect(Vec::new());
        assert_eq!(
            extract(CLAIM, &mut sink).coverage,
            phiscan_core::Coverage::Complete
        );
        let find = |value: &str| {
            sink.0
                .iter()
                .find(|(text, ..)| text == value)
                .unwrap()
                .clone()
        };

        let member = find("W123456789");
        assert!(member.1.contains("member id"), "{}", member.1);
        assert_eq!(
            member.2,
            Locator::X12 {
                loop_id: Some("2010BA".into()),
                segment: "NM1".into(),
                element: "NM1-09".into()
            }
        );
        let ssn = find("234567890");
        assert!(ssn.1.contains("SSN"), "{}", ssn.1);
        let birth = find("19800102");
        assert!(birth.1.contains("date of birth"));
        let diagnosis = find("ABK:E119");
        assert!(diagnosis.1.contains("diagnosis"));
        assert!(
            matches!(&diagnosis.2, Locator::X12 { loop_id: Some(loop_id), .. } if loop_id == "2300")
        );
        // Subscriber, address, claim and diagnosis share one record; the
        // billing provider is another.
        assert_eq!(member.3, diagnosis.3);
        assert_ne!(find("1234567893").3, member.3);
    }

    #[test]
    fn non_ascii_delimiters_are_scanned_plainly() {
        // Found by fuzzing: an ISA whose separator byte sits inside a
        // multi-byte character split the text off a character boundary.
        let mut isa = CLAIM.as_bytes()[..106].to_vec();
        isa[105] = 0xC3;
        isa.extend_from_slice("\u{A9}NM1*IL*1*DOE~".as_bytes());
        let text = String::from_utf8_lossy(&isa).into_owned();
        let mut sink = Collect(Vec::new());
        assert_eq!(
            extract(&text, &mut sink).coverage,
            phiscan_core::Coverage::Complete
        );
        assert!(sink.0.iter().any(|(value, ..)| value.contains("DOE")));
    }

    #[test]
    fn without_isa_text_is_scanned_plainly() {
        let mut sink = Collect(Vec::new());
        let outcome = extract("NM1*IL*1*DOE~REF*SY*234567890~", &mut sink);
        assert_eq!(outcome.coverage, phiscan_core::Coverage::Complete);
        assert!(sink.0.iter().any(|(text, ..)| text.contains("234567890")));
    }
}
