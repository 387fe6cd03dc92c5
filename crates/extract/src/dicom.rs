//! DICOM files: the data set's text elements (patient, study, physician and
//! institution attributes, structured report text), read without decoding
//! pixel data.
//!
//! Files with the standard 128-byte preamble and `DICM` prefix are read with
//! their file meta group. Bare data sets (no preamble, no meta group) are
//! read as implicit or explicit VR little endian. Image pixels are never
//! examined, so an item with pixel data is `partial`: burned-in annotations
//! on the image can show the patient's name and identifiers.

use crate::{Emitter, Flow, Format, Limits, Outcome};
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_object::InMemDicomObject;
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;

/// Deepest sequence nesting followed.
const MAX_SEQUENCE_DEPTH: u32 = 16;

/// Most elements emitted from one data set, nested ones included.
const MAX_ELEMENTS: u64 = 200_000;

/// Extracts a DICOM file or bare data set.
pub fn extract(bytes: &[u8], _limits: &Limits, sink: &mut dyn crate::Sink) -> Outcome {
    let format = Format::Dicom;
    let object = match read_object(bytes) {
        Ok(object) => object,
        Err(why) => {
            return Outcome::with(
                format,
                Coverage::Error,
                format!("invalid or truncated DICOM data: {why}"),
            );
        }
    };
    let mut out = Emitter::new(sink);
    let mut walker = Walker {
        out: &mut out,
        emitted: 0,
    };
    if walker.walk(&object, "", 0) == Flow::Stop {
        return Outcome::stopped(format);
    }
    if walker.emitted >= MAX_ELEMENTS {
        return Outcome::with(
            format,
            Coverage::Partial,
            format!("element limit of {MAX_ELEMENTS} reached; later elements were not examined"),
        );
    }
    if has_pixel_data(bytes) {
        return Outcome::with(
            format,
            Coverage::Partial,
            "header elements examined; pixel data (the image) was not, and burned-in text on the image can show patient identifiers",
        );
    }
    Outcome::complete(format)
}

fn read_object(bytes: &[u8]) -> Result<InMemDicomObject, String> {
    use dicom_dictionary_std::tags::PIXEL_DATA;
    let has_preamble = bytes.get(128..132) == Some(b"DICM");
    if has_preamble || bytes.starts_with(b"DICM") {
        let body = if has_preamble { &bytes[128..] } else { bytes };
        check_lengths(&body[4.min(body.len())..], Encoding::META)?;
        return dicom_object::OpenFileOptions::new()
            .read_until(PIXEL_DATA)
            .read_preamble(dicom_object::file::ReadPreamble::Never)
            .from_reader(body)
            .map(|file| file.into_inner())
            .map_err(|err| err.to_string());
    }
    // A bare data set: guess the transfer syntax from the first element.
    use dicom_transfer_syntax_registry::entries::{
        EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
    };
    let explicit = bytes
        .get(4..6)
        .is_some_and(|vr| vr.iter().all(u8::is_ascii_uppercase));
    let syntax = if explicit {
        EXPLICIT_VR_LITTLE_ENDIAN.erased()
    } else {
        IMPLICIT_VR_LITTLE_ENDIAN.erased()
    };
    let encoding = Encoding {
        explicit,
        little_endian: true,
    };
    check_lengths(bytes, encoding)?;
    InMemDicomObject::read_dataset_with_ts(bytes, &syntax).map_err(|err| err.to_string())
}

/// Element encoding of a data set: VR explicit or implicit, and byte order.
#[derive(Clone, Copy, Debug)]
struct Encoding {
    explicit: bool,
    little_endian: bool,
}

impl Encoding {
    /// The file meta group is always explicit VR little endian.
    const META: Encoding = Encoding {
        explicit: true,
        little_endian: true,
    };

    /// Returns the encoding a transfer syntax UID names. Compressed pixel
    /// syntaxes encode their data set as explicit VR little endian.
    fn of_transfer_syntax(uid: &str) -> Encoding {
        match uid.trim_end_matches(['\0', ' ']) {
            "1.2.840.10008.1.2" => Encoding {
                explicit: false,
                little_endian: true,
            },
            "1.2.840.10008.1.2.2" => Encoding {
                explicit: true,
                little_endian: false,
            },
            _ => Encoding::META,
        }
    }
}

/// Checks, before dicom-object reads the data, that no element declares a
/// value longer than the bytes that remain. dicom-object allocates and fills
/// a buffer of the declared length first, so a 1 KiB file declaring a 4 GiB
/// value would cost 4 GiB of memory.
///
/// `bytes` starts at the file meta group (after `DICM`) when `encoding` is
/// [`Encoding::META`], and the walk switches to the data set's transfer
/// syntax after group 0002. Sequences and items are walked through in order,
/// since their content is more elements; the walk stops at Pixel Data, where
/// reading stops too.
fn check_lengths(bytes: &[u8], start: Encoding) -> Result<(), String> {
    let mut encoding = start;
    let mut in_meta = matches!(
        start,
        Encoding {
            explicit: true,
            little_endian: true
        }
    ) && bytes.get(0..2) == Some(&[2, 0]);
    let mut position = 0usize;
    while position + 8 <= bytes.len() {
        if in_meta && bytes[position..position + 2] != [2, 0] {
            in_meta = false;
        }
        let active = if in_meta { Encoding::META } else { encoding };
        let u16_at = |at: usize| {
            let pair = [bytes[at], bytes[at + 1]];
            if active.little_endian {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        };
        let u32_at = |at: usize| -> Option<u32> {
            let quad: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
            Some(if active.little_endian {
                u32::from_le_bytes(quad)
            } else {
                u32::from_be_bytes(quad)
            })
        };
        let (group, element) = (u16_at(position), u16_at(position + 2));
        if (group, element) == (0x7FE0, 0x0010) {
            return Ok(());
        }
        // Items and delimiters have no VR in either encoding.
        let (header, length, vr) = if group == 0xFFFE {
            (8, u32_at(position + 4).unwrap_or(0), *b"  ")
        } else if active.explicit {
            let vr = [bytes[position + 4], bytes[position + 5]];
            if matches!(
                &vr,
                b"OB"
                    | b"OD"
                    | b"OF"
                    | b"OL"
                    | b"OV"
                    | b"OW"
                    | b"SQ"
                    | b"SV"
                    | b"UC"
                    | b"UN"
                    | b"UR"
                    | b"UT"
                    | b"UV"
            ) {
                (
                    12,
                    u32_at(position + 8).ok_or("truncated element header")?,
                    vr,
                )
            } else {
                (8, u32::from(u16_at(position + 6)), vr)
            }
        } else {
            (8, u32_at(position + 4).unwrap_or(0), *b"  ")
        };
        let remaining = bytes.len() - (position + header).min(bytes.len());
        let walk_into = group == 0xFFFE || &vr == b"SQ" || length == u32::MAX;
        if length != u32::MAX
            && length as usize > remaining
            && !(group == 0xFFFE && element != 0xE000)
        {
            return Err(format!(
                "element ({group:04X},{element:04X}) declares {length} bytes, but only {remaining} remain"
            ));
        }
        if in_meta && (group, element) == (0x0002, 0x0010) {
            let end = (position + header + length as usize).min(bytes.len());
            let uid = String::from_utf8_lossy(&bytes[position + header..end]).into_owned();
            encoding = Encoding::of_transfer_syntax(&uid);
        }
        position += header;
        if !walk_into {
            position += length as usize;
        }
    }
    Ok(())
}

/// Returns true when the bytes contain a Pixel Data element (7FE0,0010), in
/// either byte order.
fn has_pixel_data(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, &[0xE0, 0x7F, 0x10, 0x00]).is_some()
        || memchr::memmem::find(bytes, &[0x7F, 0xE0, 0x00, 0x10]).is_some()
}

struct Walker<'o, 's> {
    out: &'o mut Emitter<'s>,
    emitted: u64,
}

impl Walker<'_, '_> {
    fn walk(&mut self, object: &InMemDicomObject, path: &str, depth: u32) -> Flow {
        for element in object.iter() {
            if self.emitted >= MAX_ELEMENTS {
                return Flow::Continue;
            }
            let tag = element.header().tag;
            let keyword = keyword_of(tag);
            if let Some(items) = element.items() {
                if depth < MAX_SEQUENCE_DEPTH {
                    let nested = if path.is_empty() {
                        keyword.clone()
                    } else {
                        format!("{path} > {keyword}")
                    };
                    for item in items {
                        if self.walk(item, &nested, depth + 1) == Flow::Stop {
                            return Flow::Stop;
                        }
                    }
                }
                continue;
            }
            if !is_text_vr(element.vr()) {
                continue;
            }
            let Ok(value) = element.to_str() else {
                continue;
            };
            let value = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            if value.is_empty() {
                continue;
            }
            self.emitted += 1;
            // A patient identifier is one by definition, whatever its shape
            // (`1CT1`, `id00001`): the `dicom` word lets a rule accept any.
            let label = match keyword.as_str() {
                "PatientID" | "OtherPatientIDs" => format!("dicom {}", words_of(&keyword)),
                _ => format!("{} {}", words_of(&keyword), value_hint(element.vr())),
            };
            let locator = Locator::Dicom {
                tag: format!("({:04X},{:04X})", tag.group(), tag.element()),
                keyword: Some(if path.is_empty() {
                    keyword.clone()
                } else {
                    format!("{path} > {keyword}")
                }),
            };
            if self
                .out
                .text(value, Some(&label), RecordScope::Record(1), locator)
                == Flow::Stop
            {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }
}

/// Returns true for value representations that contain text a person wrote
/// or an identifier.
fn is_text_vr(vr: VR) -> bool {
    matches!(
        vr,
        VR::AS
            | VR::DA
            | VR::DT
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::UC
            | VR::UR
            | VR::UT
    )
}

/// Extra label words for value representations whose meaning the keyword
/// may not carry.
fn value_hint(vr: VR) -> &'static str {
    match vr {
        VR::PN => "person name",
        VR::DA | VR::DT => "date",
        VR::AS => "age",
        _ => "",
    }
}

fn keyword_of(tag: Tag) -> String {
    match StandardDataDictionary.by_tag(tag) {
        Some(entry) => entry.alias().to_string(),
        None if tag.group() % 2 == 1 => {
            format!("Private({:04X},{:04X})", tag.group(), tag.element())
        }
        None => format!("({:04X},{:04X})", tag.group(), tag.element()),
    }
}

/// Splits a DICOM keyword into words (`PatientBirthDate` → `patient birth date`),
/// keeping acronyms whole (`PatientID` → `patient id`).
fn words_of(keyword: &str) -> String {
    let mut words = String::with_capacity(keyword.len() + 8);
    let chars: Vec<char> = keyword.chars().collect();
    for (index, &ch) in chars.iter().enumerate() {
        let previous = index.checked_sub(1).map(|i| chars[i]);
        let next = chars.get(index + 1).copied();
        // A plural `s` after an acronym stays with it (`IDs`).
        let plural = next == Some('s') && chars.get(index + 2).is_none_or(|c| c.is_uppercase());
        let boundary = ch.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase) && !plural)
            });
        if boundary {
            words.push(' ');
        }
        words.push(ch.to_ascii_lowercase());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_words() {
        assert_eq!(words_of("PatientBirthDate"), "patient birth date");
        assert_eq!(words_of("PatientID"), "patient id");
        assert_eq!(words_of("OtherPatientIDs"), "other patient ids");
        assert_eq!(keyword_of(Tag(0x0010, 0x0010)), "PatientName");
    }

    #[test]
    fn oversized_declared_length_is_rejected() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/share/Lab/sr-report-0412.dcm");
        let mut file = std::fs::read(path).unwrap();
        // (0040,A160) Text Value, UT, declaring 4 GiB with five bytes present.
        file.extend_from_slice(&[
            0x40, 0x00, 0x60, 0xA1, b'U', b'T', 0, 0, 0xF0, 0xFF, 0xFF, 0xFF,
        ]);
        file.extend_from_slice(b"short");
        struct Nothing;
        impl crate::Sink for Nothing {
            fn segment(&mut self, _: &crate::Segment<'_>) -> Flow {
                Flow::Continue
            }
            fn child(&mut self, _: crate::Child<'_>) -> Flow {
                Flow::Continue
            }
        }
        let started = std::time::Instant::now();
        let outcome = extract(&file, &Limits::default(), &mut Nothing);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(outcome.coverage, Coverage::Error);
        assert!(
            outcome
                .reason
                .unwrap()
                .contains("(0040,A160) declares 4294967280 bytes")
        );
    }

    #[test]
    fn bare_data_set_is_read() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/share/Lab/sr-report-0412.dcm");
        let file = std::fs::read(path).unwrap();
        // Drop the preamble, the DICM prefix and the file meta group, whose
        // length is the value of (0002,0000) after its 12-byte header.
        let meta_length = u32::from_le_bytes(file[140..144].try_into().unwrap()) as usize;
        let bare = &file[144 + meta_length..];
        assert_eq!(crate::sniff(bare, bare.len() as u64).format, Format::Dicom);

        struct Ids(Vec<String>);
        impl crate::Sink for Ids {
            fn segment(&mut self, segment: &crate::Segment<'_>) -> Flow {
                self.0.push(segment.text.to_string());
                Flow::Continue
            }
            fn child(&mut self, _: crate::Child<'_>) -> Flow {
                Flow::Continue
            }
        }
        let mut sink = Ids(Vec::new());
        let outcome = extract(bare, &Limits::default(), &mut sink);
        assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");
        assert!(sink.0.iter().any(|text| text.starts_with("MRN")));
    }
}
