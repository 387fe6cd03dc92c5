//! OLE2 compound files: legacy Word (.doc), Excel (.xls), PowerPoint (.ppt),
//! Outlook (.msg), password-encrypted Office Open XML documents (an
//! `EncryptedPackage` stream) and embedded-object storages, told apart by
//! their stream names.

use crate::{Child, Emitter, Flow, Format, Limits, Outcome, PROPERTIES_RECORD};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;
use std::io::{Cursor, Read};

type Compound<'b> = cfb::CompoundFile<Cursor<&'b [u8]>>;

/// Characters of running text grouped into one record for linking.
const RECORD_CHARS: usize = 2000;

/// Extracts an OLE2 compound file according to what its streams hold.
pub fn extract(bytes: &[u8], limits: &Limits, sink: &mut dyn crate::Sink) -> Outcome {
    let mut file = match cfb::CompoundFile::open(Cursor::new(bytes)) {
        Ok(file) => file,
        Err(err) => {
            return Outcome::with(
                Format::Ole2,
                Coverage::Error,
                format!(
                    "invalid or truncated OLE2 compound file ({err}); legacy Office files (.doc, .xls, .msg) use this format, so open the file in the program that made it to check it, or restore it from a backup"
                ),
            );
        }
    };
    let streams: Vec<String> = file
        .walk()
        .filter(|entry| entry.is_stream())
        .map(|entry| entry.path().to_string_lossy().into_owned())
        .collect();
    let has = |name: &str| {
        streams
            .iter()
            .any(|stream| stream.trim_start_matches('/') == name)
    };

    if has("EncryptedPackage") {
        let reason = match read_stream(&mut file, "/EncryptionInfo", 1 << 20) {
            Some(info) => office_encryption_method(&info),
            None => "method unknown".to_string(),
        };
        return Outcome::with(
            Format::Ole2,
            Coverage::Encrypted,
            format!("password-encrypted Office document ({reason}); content not examined"),
        );
    }
    if has("WordDocument") {
        return extract_doc(&mut file, limits, sink);
    }
    if has("Workbook") || has("Book") {
        let mut outcome = crate::sheet::extract_xls(bytes, limits, sink);
        outcome.format = Format::Xls;
        return outcome;
    }
    if has("PowerPoint Document") {
        return Outcome::with(
            Format::Ppt,
            Coverage::Unsupported,
            "legacy PowerPoint (.ppt) files are not read yet",
        );
    }
    if streams.iter().any(|stream| stream.contains("__substg1.0_")) {
        // Sniffing saw only the first bytes; a .msg whose directory lies
        // further in is recognized here and read as mail.
        return crate::mail::msg::extract(bytes, limits, sink);
    }
    let embedded = extract_embedded_objects(&mut file, &streams, limits, sink);
    if let Some(outcome) = embedded {
        return outcome;
    }
    Outcome::with(
        Format::Ole2,
        Coverage::Unsupported,
        "OLE2 compound file of an unknown kind; not examined",
    )
}

/// Reads a whole stream, up to `cap` bytes; `None` when missing or unreadable.
fn read_stream(file: &mut Compound<'_>, path: &str, cap: u64) -> Option<Vec<u8>> {
    let stream = file.open_stream(path).ok()?;
    let mut data = Vec::new();
    stream.take(cap).read_to_end(&mut data).ok()?;
    Some(data)
}

/// Names the encryption of an Office Open XML document from its
/// `EncryptionInfo` stream ([MS-OFFCRYPTO] 2.3.4): Agile (AES, usually
/// AES-256), Standard (AES-128 to 256) or RC4 CryptoAPI.
pub fn office_encryption_method(info: &[u8]) -> String {
    let word = |at: usize| {
        info.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let dword = |at: usize| {
        info.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(major), Some(minor)) = (word(0), word(2)) else {
        return "method unknown".into();
    };
    match (major, minor) {
        (4, 4) => {
            let text = String::from_utf8_lossy(&info[8.min(info.len())..]);
            let cipher = attribute_value(&text, "cipherAlgorithm").unwrap_or_else(|| "AES".into());
            let bits = attribute_value(&text, "keyBits").unwrap_or_default();
            if bits.is_empty() {
                format!("Agile encryption, {cipher}")
            } else {
                format!("Agile encryption, {cipher}-{bits}")
            }
        }
        (2..=4, 2) => {
            // EncryptionHeader follows the flags and the header size: its
            // AlgID is the third field.
            match dword(20) {
                Some(0x660E) => "Standard encryption, AES-128".into(),
                Some(0x660F) => "Standard encryption, AES-192".into(),
                Some(0x6610) => "Standard encryption, AES-256".into(),
                Some(0x6801) => "RC4 CryptoAPI encryption, a weak legacy cipher".into(),
                _ => "Standard encryption".into(),
            }
        }
        (3 | 4, 3) => "extensible encryption".into(),
        _ => "method unknown".into(),
    }
}

fn attribute_value(text: &str, name: &str) -> Option<String> {
    let start = text.find(&format!("{name}=\""))? + name.len() + 2;
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_string())
}

/// Extracts a legacy Word document: the text of every story (body,
/// footnotes, headers, comments, text boxes) through the piece table, the
/// summary properties, and embedded objects.
fn extract_doc(file: &mut Compound<'_>, limits: &Limits, sink: &mut dyn crate::Sink) -> Outcome {
    let format = Format::Doc;
    let Some(word) = read_stream(file, "/WordDocument", limits.max_whole_bytes) else {
        return Outcome::with(
            format,
            Coverage::Error,
            "the WordDocument stream cannot be read",
        );
    };
    let fib = match Fib::parse(&word) {
        Ok(fib) => fib,
        Err(why) => {
            return Outcome::with(
                format,
                Coverage::Error,
                format!("invalid Word document: {why}"),
            );
        }
    };
    if fib.encrypted {
        let table = read_stream(file, fib.table_stream(), 4096).unwrap_or_default();
        let method = match (table.first(), table.get(2)) {
            _ if fib.obfuscated => "XOR obfuscation, not real encryption",
            (Some(1), Some(1)) => "RC4, a weak legacy cipher",
            _ => "RC4 CryptoAPI, a weak legacy cipher",
        };
        return Outcome::with(
            format,
            Coverage::Encrypted,
            format!("password-encrypted Word document ({method}); content not examined"),
        );
    }
    let Some(table) = read_stream(file, fib.table_stream(), limits.max_whole_bytes) else {
        return Outcome::with(
            format,
            Coverage::Error,
            "the Word table stream cannot be read",
        );
    };
    let text = match doc_text(&word, &table, &fib) {
        Ok(text) => text,
        Err(why) => {
            return Outcome::with(
                format,
                Coverage::Error,
                format!("invalid Word document: {why}"),
            );
        }
    };

    let mut out = Emitter::new(sink);
    let mut properties = Vec::new();
    if let Some(summary) = read_stream(file, "/\u{5}SummaryInformation", 1 << 20) {
        properties.extend(property_set_strings(&summary, SUMMARY_NAMES));
    }
    if let Some(summary) = read_stream(file, "/\u{5}DocumentSummaryInformation", 1 << 20) {
        properties.extend(property_set_strings(&summary, DOCUMENT_SUMMARY_NAMES));
    }
    if out.properties(&properties, PROPERTIES_RECORD) == Flow::Stop {
        return Outcome::stopped(format);
    }
    let mut record = 0u64;
    let mut chars = 0usize;
    for (index, paragraph) in text.split('\n').enumerate() {
        if paragraph.trim().is_empty() {
            continue;
        }
        if chars > RECORD_CHARS {
            record += 1;
            chars = 0;
        }
        chars += paragraph.len();
        let locator = Locator::Part {
            part: "WordDocument".into(),
            detail: Some(format!("paragraph {}", index + 1)),
        };
        if out.text(paragraph, None, RecordScope::Record(record), locator) == Flow::Stop {
            return Outcome::stopped(format);
        }
    }
    let streams: Vec<String> = file
        .walk()
        .filter(|entry| entry.is_stream())
        .map(|entry| entry.path().to_string_lossy().into_owned())
        .collect();
    let mut outcome = extract_embedded_objects(file, &streams, limits, out.sink)
        .unwrap_or_else(|| Outcome::complete(format));
    outcome.format = format;
    outcome
}

/// The parts of a Word File Information Block that text extraction needs.
struct Fib {
    which_table: bool,
    encrypted: bool,
    obfuscated: bool,
    fc_clx: u32,
    lcb_clx: u32,
}

impl Fib {
    fn parse(word: &[u8]) -> Result<Fib, &'static str> {
        let u16_at = |at: usize| {
            word.get(at..at + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let u32_at = |at: usize| {
            word.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if u16_at(0) != Some(0xA5EC) {
            return Err("the WordDocument stream lacks the Word signature");
        }
        let flags = u16_at(0x0A).ok_or("truncated FIB")?;
        // FibBase is 32 bytes; then csw, fibRgW, cslw, fibRgLw, cbRgFcLcb, fibRgFcLcb.
        let csw = usize::from(u16_at(32).ok_or("truncated FIB")?);
        let cslw_at = 34 + csw * 2;
        let cslw = usize::from(u16_at(cslw_at).ok_or("truncated FIB")?);
        let fc_lcb_at = cslw_at + 2 + cslw * 4 + 2;
        // fcClx is the 34th fc/lcb pair of FibRgFcLcb97.
        let clx_at = fc_lcb_at + 33 * 8;
        Ok(Fib {
            which_table: flags & 0x0200 != 0,
            encrypted: flags & 0x0100 != 0,
            obfuscated: flags & 0x8000 != 0,
            fc_clx: u32_at(clx_at).ok_or("truncated FIB")?,
            lcb_clx: u32_at(clx_at + 4).ok_or("truncated FIB")?,
        })
    }

    fn table_stream(&self) -> &'static str {
        if self.which_table {
            "/1Table"
        } else {
            "/0Table"
        }
    }
}

/// Reads the document text through the piece table in the Clx structure.
fn doc_text(word: &[u8], table: &[u8], fib: &Fib) -> Result<String, &'static str> {
    let start = fib.fc_clx as usize;
    let end = start
        .checked_add(fib.lcb_clx as usize)
        .ok_or("invalid Clx size")?;
    let clx = table
        .get(start..end)
        .ok_or("the Clx lies outside the table stream")?;
    // Skip Prc entries (clxt 1) to reach the Pcdt (clxt 2).
    let mut position = 0usize;
    while clx.get(position) == Some(&1) {
        let size = clx.get(position + 1..position + 3).ok_or("truncated Prc")?;
        position += 3 + usize::from(u16::from_le_bytes([size[0], size[1]]));
    }
    if clx.get(position) != Some(&2) {
        return Err("the piece table is missing");
    }
    let size = clx
        .get(position + 1..position + 5)
        .ok_or("truncated piece table")?;
    let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
    let plc = clx
        .get(position + 5..position + 5 + size)
        .ok_or("truncated piece table")?;
    // PlcPcd: n + 1 character positions, then n 8-byte piece descriptors.
    if plc.len() < 4 {
        return Err("empty piece table");
    }
    let pieces = (plc.len() - 4) / 12;
    let cp = |index: usize| {
        let bytes = &plc[index * 4..index * 4 + 4];
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
    };
    let mut text = String::new();
    for index in 0..pieces {
        let (first, last) = (cp(index), cp(index + 1));
        let count = last.saturating_sub(first);
        let descriptor = &plc[(pieces + 1) * 4 + index * 8..(pieces + 1) * 4 + index * 8 + 8];
        let fc = u32::from_le_bytes([descriptor[2], descriptor[3], descriptor[4], descriptor[5]]);
        let compressed = fc & 0x4000_0000 != 0;
        let fc = (fc & 0x3FFF_FFFF) as usize;
        if compressed {
            let offset = fc / 2;
            let bytes = word
                .get(offset..offset.saturating_add(count))
                .ok_or("a text piece lies outside the stream")?;
            let (decoded, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            push_doc_chars(&mut text, decoded.chars());
        } else {
            let bytes = word
                .get(fc..fc.saturating_add(count * 2))
                .ok_or("a text piece lies outside the stream")?;
            let units = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
            let chars = char::decode_utf16(units).map(|ch| ch.unwrap_or('\u{FFFD}'));
            push_doc_chars(&mut text, chars);
        }
    }
    Ok(text)
}

/// Appends Word text, turning its control characters into line breaks, tabs
/// and spaces.
fn push_doc_chars(text: &mut String, chars: impl Iterator<Item = char>) {
    for ch in chars {
        match ch {
            '\r' | '\u{0B}' | '\u{0C}' => text.push('\n'),
            // Cell and row marks.
            '\u{07}' => text.push('\t'),
            // Field begin, separator and end; the field code is kept because
            // it can hold a mailto: address or a path.
            '\u{13}' | '\u{14}' | '\u{15}' => text.push(' '),
            ch if ch.is_control() && ch != '\t' && ch != '\n' => {}
            ch => text.push(ch),
        }
    }
}

/// Summary Information property ids worth scanning ([MS-OLEPS]).
const SUMMARY_NAMES: &[(u32, &str)] = &[
    (2, "title"),
    (3, "subject"),
    (4, "author"),
    (5, "keywords"),
    (6, "comments"),
    (8, "lastModifiedBy"),
];

/// Document Summary Information property ids worth scanning.
const DOCUMENT_SUMMARY_NAMES: &[(u32, &str)] = &[(0x0E, "manager"), (0x0F, "company")];

/// Reads the string properties of the first property set in an OLE property
/// set stream.
pub fn property_set_strings(stream: &[u8], names: &[(u32, &str)]) -> Vec<(String, String)> {
    let u32_at = |at: usize| {
        stream
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut found = Vec::new();
    let Some(set) = u32_at(44).map(|offset| offset as usize) else {
        return found;
    };
    let Some(count) = u32_at(set + 4) else {
        return found;
    };
    let mut codepage = 1252u32;
    let mut entries = Vec::new();
    for index in 0..count.min(1024) as usize {
        let (Some(id), Some(offset)) = (u32_at(set + 8 + index * 8), u32_at(set + 12 + index * 8))
        else {
            break;
        };
        entries.push((id, set + offset as usize));
    }
    for &(id, at) in &entries {
        if id == 1 && u32_at(at).map(|kind| kind & 0xFFFF) == Some(2) {
            codepage = u32_at(at + 4).unwrap_or(1252) & 0xFFFF;
        }
    }
    for (id, at) in entries {
        let Some(&(_, name)) = names.iter().find(|(known, _)| *known == id) else {
            continue;
        };
        let (Some(kind), Some(length)) = (u32_at(at), u32_at(at + 4)) else {
            continue;
        };
        let length = length as usize;
        let value = match kind & 0xFFFF {
            0x1E => stream.get(at + 8..at + 8 + length).map(|bytes| {
                let bytes = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
                if codepage == 65001 {
                    String::from_utf8_lossy(bytes).into_owned()
                } else {
                    encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned()
                }
            }),
            0x1F => stream.get(at + 8..at + 8 + length * 2).map(|bytes| {
                let units = bytes
                    .chunks_exact(2)
                    .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
                char::decode_utf16(units)
                    .map(|ch| ch.unwrap_or('\u{FFFD}'))
                    .take_while(|&ch| ch != '\0')
                    .collect()
            }),
            _ => None,
        };
        if let Some(value) = value.filter(|value: &String| !value.trim().is_empty()) {
            found.push((name.to_string(), value));
        }
    }
    found
}

/// Hands embedded objects (`Package`, `CONTENTS` and `\x01Ole10Native`
/// streams, as Office stores OLE objects) to the sink; `None` when there are
/// none.
fn extract_embedded_objects(
    file: &mut Compound<'_>,
    streams: &[String],
    limits: &Limits,
    sink: &mut dyn crate::Sink,
) -> Option<Outcome> {
    let pooled = object_pool_storages(streams);
    let objects: Vec<&String> = streams
        .iter()
        .filter(|path| !path.starts_with("/ObjectPool/"))
        .filter(|path| {
            let name = path.rsplit('/').next().unwrap_or("");
            matches!(name, "Package" | "CONTENTS" | "\u{1}Ole10Native")
        })
        .collect();
    if objects.is_empty() && pooled.is_empty() {
        return None;
    }
    let mut outcome = Outcome::complete(Format::Ole2);
    for storage in &pooled {
        let name = storage.trim_start_matches('/');
        let (data, unreadable) = match rebuild_storage(file, storage, streams, limits) {
            Ok(data) => (data, None),
            Err(why) => (Vec::new(), Some((Coverage::Skipped, why))),
        };
        let flow = sink.child(Child {
            name: &crate::location_name(name.as_bytes()),
            data: &data,
            modified: None,
            unreadable,
            damaged: None,
        });
        if flow == Flow::Stop {
            return Some(Outcome::stopped(Format::Ole2));
        }
    }
    for (index, path) in objects.into_iter().enumerate() {
        if index as u64 >= limits.max_entries {
            outcome = Outcome::with(
                Format::Ole2,
                Coverage::Partial,
                format!(
                    "member limit of {} reached; later embedded objects were not examined",
                    limits.max_entries
                ),
            );
            break;
        }
        let Some(data) = read_stream(file, path, limits.max_whole_bytes.saturating_add(1)) else {
            continue;
        };
        let (name, payload) = if path.ends_with("\u{1}Ole10Native") {
            match ole10_native(&data) {
                Some((file_name, payload)) => {
                    (format!("{}/{}", object_folder(path), file_name), payload)
                }
                None => (format!("{}/Ole10Native", object_folder(path)), &data[..]),
            }
        } else {
            (path.trim_start_matches('/').to_string(), &data[..])
        };
        let unreadable = (data.len() as u64 > limits.max_whole_bytes).then(|| {
            (
                Coverage::Skipped,
                format!(
                    "embedded object larger than {} MiB; not examined",
                    limits.max_whole_bytes >> 20
                ),
            )
        });
        let data = if unreadable.is_some() {
            &[][..]
        } else {
            payload
        };
        let flow = sink.child(Child {
            name: &crate::location_name(name.as_bytes()),
            data,
            modified: None,
            unreadable,
            damaged: None,
        });
        if flow == Flow::Stop {
            return Some(Outcome::stopped(Format::Ole2));
        }
    }
    Some(outcome)
}

/// The storages directly under `/ObjectPool`, where Word keeps embedded
/// OLE objects (an Excel sheet in a .doc), that hold at least one stream.
fn object_pool_storages(streams: &[String]) -> Vec<String> {
    let mut storages: Vec<String> = streams
        .iter()
        .filter_map(|path| {
            let rest = path.strip_prefix("/ObjectPool/")?;
            let (storage, _) = rest.split_once('/')?;
            Some(format!("/ObjectPool/{storage}"))
        })
        .collect();
    storages.sort();
    storages.dedup();
    storages
}

/// Copies one storage and everything under it into a new in-memory compound
/// file, so that the embedded object can be read like a file of its own.
fn rebuild_storage(
    file: &mut Compound<'_>,
    storage: &str,
    streams: &[String],
    limits: &Limits,
) -> Result<Vec<u8>, String> {
    let mut rebuilt =
        cfb::CompoundFile::create(Cursor::new(Vec::new())).map_err(|err| err.to_string())?;
    let prefix = format!("{storage}/");
    let mut total = 0u64;
    for path in streams.iter().filter(|path| path.starts_with(&prefix)) {
        let inner = &path[storage.len()..];
        if let Some((folder, _)) = inner.rsplit_once('/')
            && !folder.is_empty()
            && !rebuilt.is_storage(folder)
        {
            rebuilt
                .create_storage_all(folder)
                .map_err(|err| err.to_string())?;
        }
        let data =
            read_stream(file, path, limits.max_whole_bytes.saturating_add(1)).unwrap_or_default();
        total += data.len() as u64;
        if total > limits.max_whole_bytes {
            return Err(format!(
                "embedded object larger than {} MiB; not examined",
                limits.max_whole_bytes >> 20
            ));
        }
        let mut stream = rebuilt
            .create_stream(inner)
            .map_err(|err| err.to_string())?;
        std::io::Write::write_all(&mut stream, &data).map_err(|err| err.to_string())?;
    }
    rebuilt.flush().map_err(|err| err.to_string())?;
    Ok(rebuilt.into_inner().into_inner())
}

fn object_folder(path: &str) -> &str {
    let trimmed = path.trim_start_matches('/');
    trimmed.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// Parses an `\x01Ole10Native` stream (an OLE1 "Package" object): total size,
/// flags, label, file name, then the embedded file's bytes.
fn ole10_native(data: &[u8]) -> Option<(String, &[u8])> {
    let mut position = 6; // size (4) and flags (2)
    let cstring = |position: &mut usize| -> Option<String> {
        let end = data.get(*position..)?.iter().position(|&b| b == 0)? + *position;
        let text = encoding_rs::WINDOWS_1252
            .decode(&data[*position..end])
            .0
            .into_owned();
        *position = end + 1;
        Some(text)
    };
    let label = cstring(&mut position)?;
    let _path = cstring(&mut position)?;
    position += 4; // reserved
    let temp_length =
        u32::from_le_bytes(data.get(position..position + 4)?.try_into().ok()?) as usize;
    position += 4 + temp_length;
    let size = u32::from_le_bytes(data.get(position..position + 4)?.try_into().ok()?) as usize;
    position += 4;
    let payload = data.get(position..position.checked_add(size)?)?;
    let name = label
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or("object")
        .to_string();
    Some((
        if name.is_empty() {
            "object".into()
        } else {
            name
        },
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agile_encryption_names_cipher() {
        let mut info = vec![4, 0, 4, 0, 0x40, 0, 0, 0];
        info.extend_from_slice(
            br#"<?xml version="1.0"?><encryption><keyData saltSize="16" blockSize="16" keyBits="256" cipherAlgorithm="AES"/></encryption>"#,
        );
        assert_eq!(office_encryption_method(&info), "Agile encryption, AES-256");
    }

    #[test]
    fn standard_encryption_names_algorithm() {
        let mut info = vec![3, 0, 2, 0, 0x24, 0, 0, 0, 0, 0, 0, 0];
        info.extend_from_slice(&[0x24, 0, 0, 0, 0, 0, 0, 0]);
        info.extend_from_slice(&0x660Eu32.to_le_bytes());
        assert_eq!(
            office_encryption_method(&info),
            "Standard encryption, AES-128"
        );
        let rc4 = {
            let mut rc4 = info.clone();
            rc4[20..24].copy_from_slice(&0x6801u32.to_le_bytes());
            rc4
        };
        assert!(office_encryption_method(&rc4).starts_with("RC4 CryptoAPI"));
    }

    #[test]
    fn word_control_characters_become_layout() {
        let mut text = String::new();
        push_doc_chars(
            &mut text,
            "Name\u{07}Jane\u{07}\rNext\u{13}HYPERLINK x\u{14}y\u{15}".chars(),
        );
        assert_eq!(text, "Name\tJane\t\nNext HYPERLINK x y ");
    }
}
