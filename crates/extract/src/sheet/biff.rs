//! Parts of BIFF8 (Excel 97–2003) and BIFF5 (Excel 5.0 and 95) .xls workbooks
//! that calamine does not expose: the number format of each cell, to show
//! zero-padded numbers as displayed, and cell notes (comments). Read from the
//! `Workbook` stream (BIFF8) or `Book` stream (BIFF5).
//!
//! The two versions differ in their strings and notes. BIFF8 strings are
//! Unicode (one byte or two per character, by a flags byte), and a note's
//! text sits in the TXO record of the drawing object the NOTE record names.
//! BIFF5 strings are bytes in the workbook's code page (CODEPAGE record,
//! Windows-1252 when absent), and a NOTE record carries its text itself, with
//! more NOTE records (row 0xFFFF) continuing a text longer than one record.

use crate::Limits;
use std::collections::HashMap;
use std::io::{Cursor, Read};

/// Record types used here ([MS-XLS] 2.3).
const BOF: u16 = 0x0809;
const EOF: u16 = 0x000A;
const FORMAT: u16 = 0x041E;
const XF: u16 = 0x00E0;
const BOUNDSHEET: u16 = 0x0085;
const NUMBER: u16 = 0x0203;
const RK: u16 = 0x027E;
const MULRK: u16 = 0x00BD;
const NOTE: u16 = 0x001C;
const OBJ: u16 = 0x005D;
const TXO: u16 = 0x01B6;
const CONTINUE: u16 = 0x003C;
const CODEPAGE: u16 = 0x0042;

/// BOF versions of the globals substream.
const BIFF5: u16 = 0x0500;
const BIFF8: u16 = 0x0600;
/// Row of a NOTE record that continues the previous note's text (BIFF5).
const NOTE_CONTINUED: u16 = 0xFFFF;

/// Number formats of zero-padded cells and notes of one workbook.
#[derive(Default)]
pub struct Extras {
    /// Format code by (sheet, row, column), only for digit formats that
    /// change how a number shows (`00000`, `000-00-0000`).
    formats: HashMap<(String, u32, u32), String>,
    /// (sheet, cell, text) of each note.
    pub notes: Vec<(String, String, String)>,
    /// Code page for calamine to decode the workbook's strings with, when the
    /// workbook does not name one: Windows-1252 for BIFF5, whose strings
    /// calamine 0.38 otherwise decodes as Latin-1.
    pub assumed_codepage: Option<u16>,
}

impl Extras {
    /// Returns the format code of a cell, when it pads or punctuates digits.
    pub fn format_code(&self, sheet: &str, (row, column): (u32, u32)) -> Option<&str> {
        self.formats
            .get(&(sheet.to_string(), row, column))
            .map(String::as_str)
    }
}

/// Reads formats and notes; returns empty extras for anything unexpected.
pub fn read_extras(bytes: &[u8], limits: &Limits) -> Extras {
    let Ok(mut file) = cfb::CompoundFile::open(Cursor::new(bytes)) else {
        return Extras::default();
    };
    let mut stream = Vec::new();
    let opened = file
        .open_stream("/Workbook")
        .or_else(|_| file.open_stream("/Book"));
    let Ok(reader) = opened else {
        return Extras::default();
    };
    if reader
        .take(limits.max_whole_bytes)
        .read_to_end(&mut stream)
        .is_err()
    {
        return Extras::default();
    }
    parse(&stream, limits.max_cells)
}

/// Cell record types whose first two fields are row and column (BIFF5 and
/// BIFF8): NUMBER, LABEL, RSTRING, BOOLERR, FORMULA, RK, LABELSST; MULRK
/// spans columns from its first to its last field.
const CELL_RECORDS: [u16; 7] = [0x0203, 0x0204, 0x00D6, 0x0205, 0x0006, 0x027E, 0x00FD];
const DIMENSIONS: u16 = 0x0200;
/// Marks a workbook as password-protected: the data of every record after
/// it is encrypted, while the record headers stay readable.
const FILEPASS: u16 = 0x002F;

/// Returns how many cells calamine would hold for a workbook: the sum over
/// sheets of the bounding box of their cells, which calamine allocates in
/// full for every sheet when it opens the file. Returns `u64::MAX` when a
/// DIMENSIONS record claims more rows or columns than an .xls can have,
/// because calamine reserves memory for the claimed range. Returns the name
/// of the cipher as the error for a password-protected workbook: the data
/// of its records after FILEPASS is encrypted, so their sizes are noise.
pub fn cell_span(bytes: &[u8], limits: &Limits) -> Result<u64, &'static str> {
    let Ok(mut file) = cfb::CompoundFile::open(Cursor::new(bytes)) else {
        return Ok(0);
    };
    let mut stream = Vec::new();
    let opened = file
        .open_stream("/Workbook")
        .or_else(|_| file.open_stream("/Book"));
    let Ok(reader) = opened else {
        return Ok(0);
    };
    if reader
        .take(limits.max_whole_bytes)
        .read_to_end(&mut stream)
        .is_err()
    {
        return Ok(0);
    }
    let mut total = 0u64;
    // Bounding box of the current substream: (first row, last row, first column, last column).
    let mut bounds: Option<(u32, u32, u32, u32)> = None;
    let area = |bounds: Option<(u32, u32, u32, u32)>| {
        bounds.map_or(0, |(top, bottom, left, right)| {
            u64::from(bottom - top + 1) * u64::from(right - left + 1)
        })
    };
    let mut position = 0;
    while let Some(record) = record_at(&stream, position) {
        position = record.next;
        let cell = |row: u16, first: u16, last: u16| {
            (u32::from(row), u32::from(first), u32::from(last.max(first)))
        };
        let span = match record.kind {
            FILEPASS => return Err(filepass_method(record.data)),
            BOF => {
                total = total.saturating_add(area(bounds.take()));
                None
            }
            DIMENSIONS => {
                // BIFF8 rows are 32-bit fields and BIFF5 rows 16-bit. An .xls
                // contains at most 65,536 rows and 256 columns.
                let (last_row, last_column) = if record.data.len() >= 14 {
                    (
                        u32_at(record.data, 4).unwrap_or(0),
                        u16_at(record.data, 10).unwrap_or(0),
                    )
                } else {
                    (
                        u32::from(u16_at(record.data, 2).unwrap_or(0)),
                        u16_at(record.data, 6).unwrap_or(0),
                    )
                };
                if last_row > 65_536 || last_column > 256 {
                    return Ok(u64::MAX);
                }
                None
            }
            MULRK => match (u16_at(record.data, 0), u16_at(record.data, 2)) {
                (Some(row), Some(first)) => {
                    let last =
                        u16_at(record.data, record.data.len().saturating_sub(2)).unwrap_or(first);
                    Some(cell(row, first, last))
                }
                _ => None,
            },
            kind if CELL_RECORDS.contains(&kind) => {
                match (u16_at(record.data, 0), u16_at(record.data, 2)) {
                    (Some(row), Some(column)) => Some(cell(row, column, column)),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some((row, first, last)) = span {
            bounds = Some(match bounds {
                None => (row, row, first, last),
                Some((top, bottom, left, right)) => (
                    top.min(row),
                    bottom.max(row),
                    left.min(first),
                    right.max(last),
                ),
            });
        }
    }
    Ok(total.saturating_add(area(bounds)))
}

/// Names the cipher of a FILEPASS record. A BIFF5 record holds only an XOR
/// key and hash (4 bytes). In BIFF8 the first field is 0 for XOR
/// obfuscation and 1 for RC4, whose next field is 1 for the original RC4
/// and 2 to 4 for RC4 CryptoAPI. All of them are weak legacy ciphers.
fn filepass_method(data: &[u8]) -> &'static str {
    const XOR: &str = "XOR obfuscation, not real encryption";
    if data.len() == 4 {
        return XOR;
    }
    match (u16_at(data, 0), u16_at(data, 2)) {
        (Some(0), _) => XOR,
        (Some(1), Some(1)) => "RC4, a weak legacy cipher",
        (Some(1), _) => "RC4 CryptoAPI, a weak legacy cipher",
        _ => "XOR obfuscation or RC4, weak legacy ciphers",
    }
}

struct Record<'s> {
    kind: u16,
    data: &'s [u8],
    next: usize,
}

fn record_at(stream: &[u8], position: usize) -> Option<Record<'_>> {
    let header = stream.get(position..position + 4)?;
    let kind = u16::from_le_bytes([header[0], header[1]]);
    let length = usize::from(u16::from_le_bytes([header[2], header[3]]));
    let data = stream.get(position + 4..position + 4 + length)?;
    Some(Record {
        kind,
        data,
        next: position + 4 + length,
    })
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decodes BIFF8 characters: UTF-16LE when `high_byte`, else one byte each
/// (Latin-1 compressed Unicode).
fn decode_chars(bytes: &[u8], high_byte: bool) -> String {
    if high_byte {
        let units = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
        char::decode_utf16(units)
            .map(|ch| ch.unwrap_or('\u{FFFD}'))
            .collect()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// Reads an XLUnicodeString (16-bit count, flags, characters).
fn unicode_string(data: &[u8], at: usize) -> Option<String> {
    let count = usize::from(u16_at(data, at)?);
    let high_byte = data.get(at + 2)? & 1 == 1;
    let width = if high_byte { 2 } else { 1 };
    let chars = data.get(at + 3..at + 3 + count * width)?;
    Some(decode_chars(chars, high_byte))
}

/// Reads a BIFF5 byte string with an 8-bit length at `at`.
fn byte_string(data: &[u8], at: usize, encoding: &'static encoding_rs::Encoding) -> Option<String> {
    let count = usize::from(*data.get(at)?);
    let bytes = data.get(at + 1..at + 1 + count)?;
    Some(encoding.decode_without_bom_handling(bytes).0.into_owned())
}

/// Returns the encoding of a BIFF5 CODEPAGE value, where 0x8000 is Apple Roman.
fn biff5_encoding(codepage: u16) -> &'static encoding_rs::Encoding {
    match codepage {
        0x8000 => encoding_rs::MACINTOSH,
        other => crate::decode::codepage_encoding(i64::from(other)),
    }
}

fn parse(stream: &[u8], max_cells: u64) -> Extras {
    let mut extras = Extras::default();
    let version = match record_at(stream, 0) {
        Some(record) if record.kind == BOF => u16_at(record.data, 0),
        _ => None,
    };
    let biff5 = match version {
        Some(BIFF8) => false,
        Some(BIFF5) => true,
        _ => return extras,
    };
    let mut encoding = encoding_rs::WINDOWS_1252;
    let mut has_codepage = false;
    let mut custom_formats: HashMap<u16, String> = HashMap::new();
    let mut xf_formats: Vec<u16> = Vec::new();
    let mut sheets: Vec<(String, usize)> = Vec::new();
    let mut position = 0;
    while let Some(record) = record_at(stream, position) {
        match record.kind {
            CODEPAGE if biff5 => {
                if let Some(codepage) = u16_at(record.data, 0) {
                    encoding = biff5_encoding(codepage);
                    has_codepage = true;
                }
            }
            FORMAT => {
                let code = if biff5 {
                    byte_string(record.data, 2, encoding)
                } else {
                    unicode_string(record.data, 2)
                };
                if let (Some(index), Some(code)) = (u16_at(record.data, 0), code) {
                    custom_formats.insert(index, code);
                }
            }
            XF => xf_formats.push(u16_at(record.data, 2).unwrap_or(0)),
            BOUNDSHEET => {
                let offset = u32_at(record.data, 0).unwrap_or(0) as usize;
                let name = if biff5 {
                    byte_string(record.data, 6, encoding)
                } else {
                    let count = usize::from(*record.data.get(6).unwrap_or(&0));
                    let high_byte = record.data.get(7).is_some_and(|flags| flags & 1 == 1);
                    let width = if high_byte { 2 } else { 1 };
                    record
                        .data
                        .get(8..8 + count * width)
                        .map(|chars| decode_chars(chars, high_byte))
                };
                if let Some(name) = name {
                    sheets.push((name, offset));
                }
            }
            EOF => break,
            _ => {}
        }
        position = record.next;
    }
    if biff5 && !has_codepage {
        extras.assumed_codepage = Some(1252);
    }
    // Only formats that show digits differently from the plain number matter.
    let digit_format = |xf: u16| -> Option<&String> {
        let format = xf_formats.get(usize::from(xf))?;
        let code = custom_formats.get(format)?;
        crate::sheet::apply_digit_format(1, code)
            .is_some()
            .then_some(code)
    };
    let mut cells = 0u64;
    for (sheet, offset) in sheets {
        let mut objects: HashMap<u16, String> = HashMap::new();
        let mut last_object: Option<u16> = None;
        // The BIFF5 note being read, which NOTE records may continue.
        let mut open_note: Option<(String, String)> = None;
        let mut position = offset;
        while let Some(record) = record_at(stream, position) {
            let mut next = record.next;
            match record.kind {
                NUMBER | RK => {
                    if let (Some(row), Some(column), Some(xf)) = (
                        u16_at(record.data, 0),
                        u16_at(record.data, 2),
                        u16_at(record.data, 4),
                    ) && let Some(code) = digit_format(xf)
                    {
                        cells += 1;
                        extras.formats.insert(
                            (sheet.clone(), u32::from(row), u32::from(column)),
                            code.clone(),
                        );
                    }
                }
                MULRK => {
                    let row = u16_at(record.data, 0).unwrap_or(0);
                    let first = u16_at(record.data, 2).unwrap_or(0);
                    let count = record.data.len().saturating_sub(6) / 6;
                    for index in 0..count {
                        if let Some(xf) = u16_at(record.data, 4 + index * 6)
                            && let Some(code) = digit_format(xf)
                        {
                            cells += 1;
                            let column = u32::from(first) + index as u32;
                            extras
                                .formats
                                .insert((sheet.clone(), u32::from(row), column), code.clone());
                        }
                    }
                }
                // The first subrecord of an OBJ is ftCmo: type, size, object type, id.
                OBJ if !biff5 && u16_at(record.data, 0) == Some(0x15) => {
                    last_object = u16_at(record.data, 6);
                }
                TXO if !biff5 => {
                    let length = usize::from(u16_at(record.data, 10).unwrap_or(0));
                    let (text, after) = txo_text(stream, record.next, length);
                    next = after;
                    if let Some(id) = last_object.take() {
                        objects.insert(id, text);
                    }
                }
                NOTE if biff5 => {
                    cells += 1;
                    if let Some(note) = biff5_note(record.data, encoding, &mut open_note) {
                        push_note(&mut extras, &sheet, note);
                    }
                }
                NOTE => {
                    if let (Some(row), Some(column), Some(id)) = (
                        u16_at(record.data, 0),
                        u16_at(record.data, 2),
                        u16_at(record.data, 6),
                    ) && let Some(text) = objects.get(&id)
                        && !text.trim().is_empty()
                    {
                        let cell = crate::sheet::cell_name(u32::from(row), u32::from(column));
                        extras.notes.push((sheet.clone(), cell, text.clone()));
                    }
                }
                EOF => break,
                _ => {}
            }
            if cells > max_cells {
                break;
            }
            position = next;
        }
        if let Some(note) = open_note.take() {
            push_note(&mut extras, &sheet, note);
        }
        if cells > max_cells {
            return extras;
        }
    }
    extras
}

/// Reads a BIFF5 NOTE record: row, column, text length, then text bytes. A
/// record with row 0xFFFF continues `open`, the note being read. Any other
/// starts a new note and returns the finished one, as (cell, text).
fn biff5_note(
    data: &[u8],
    encoding: &'static encoding_rs::Encoding,
    open: &mut Option<(String, String)>,
) -> Option<(String, String)> {
    let (Some(row), Some(column)) = (u16_at(data, 0), u16_at(data, 2)) else {
        return None;
    };
    let text = data
        .get(6..)
        .map(|bytes| encoding.decode_without_bom_handling(bytes).0.into_owned())
        .unwrap_or_default();
    if row == NOTE_CONTINUED {
        if let Some((_, note)) = open.as_mut() {
            note.push_str(&text);
        }
        return None;
    }
    let cell = crate::sheet::cell_name(u32::from(row), u32::from(column));
    open.replace((cell, text))
}

fn push_note(extras: &mut Extras, sheet: &str, (cell, text): (String, String)) {
    if !text.trim().is_empty() {
        extras.notes.push((sheet.to_string(), cell, text));
    }
}

/// Reads the text of a TXO record from the CONTINUE records after it: each
/// starts with a flag byte saying whether its characters are 16-bit.
/// Returns the text and the position after the records read.
fn txo_text(stream: &[u8], mut position: usize, length: usize) -> (String, usize) {
    let mut text = String::new();
    let mut remaining = length;
    while remaining > 0 {
        let Some(record) = record_at(stream, position) else {
            break;
        };
        if record.kind != CONTINUE || record.data.is_empty() {
            break;
        }
        let high_byte = record.data[0] & 1 == 1;
        let width = if high_byte { 2 } else { 1 };
        let available = (record.data.len() - 1) / width;
        let take = available.min(remaining);
        text.push_str(&decode_chars(&record.data[1..1 + take * width], high_byte));
        remaining -= take;
        position = record.next;
    }
    (text, position)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_le_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u16).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    fn bof(version: u16) -> Vec<u8> {
        let mut data = version.to_le_bytes().to_vec();
        data.extend_from_slice(&[0x05, 0x00, 0, 0, 0, 0]);
        record(BOF, &data)
    }

    /// Encodes a BIFF5 byte string: an 8-bit length, then the bytes.
    fn byte_string(bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    fn xf(format: u16) -> Vec<u8> {
        let mut data = vec![0, 0];
        data.extend_from_slice(&format.to_le_bytes());
        data.extend_from_slice(&[0; 12]);
        record(XF, &data)
    }

    fn cell(kind: u16, row: u16, column: u16, xf: u16, value: &[u8]) -> Vec<u8> {
        let mut data = row.to_le_bytes().to_vec();
        data.extend_from_slice(&column.to_le_bytes());
        data.extend_from_slice(&xf.to_le_bytes());
        data.extend_from_slice(value);
        record(kind, &data)
    }

    fn biff5_note(row: u16, column: u16, length: u16, text: &[u8]) -> Vec<u8> {
        let mut data = row.to_le_bytes().to_vec();
        data.extend_from_slice(&column.to_le_bytes());
        data.extend_from_slice(&length.to_le_bytes());
        data.extend_from_slice(text);
        record(NOTE, &data)
    }

    /// Builds a BIFF5 workbook stream in `codepage`: formats 164 (`00000`)
    /// and 165 (`0.00`), a sheet named `name`, a ZIP cell under each format
    /// and a note split over two NOTE records.
    fn biff5_stream(codepage: u16, name: &[u8]) -> Vec<u8> {
        let mut globals = bof(BIFF5);
        globals.extend(record(CODEPAGE, &codepage.to_le_bytes()));
        let mut format = 164u16.to_le_bytes().to_vec();
        format.extend(byte_string(b"00000"));
        globals.extend(record(FORMAT, &format));
        let mut format = 165u16.to_le_bytes().to_vec();
        format.extend(byte_string(b"0.00"));
        globals.extend(record(FORMAT, &format));
        for id in [0, 164, 165] {
            globals.extend(xf(id));
        }
        let mut boundsheet_data = 0u32.to_le_bytes().to_vec();
        boundsheet_data.extend_from_slice(&[0, 0]);
        boundsheet_data.extend(byte_string(name));
        let boundsheet = record(BOUNDSHEET, &boundsheet_data);
        let sheet_offset = globals.len() + boundsheet.len() + 4;
        boundsheet_data[..4].copy_from_slice(&(sheet_offset as u32).to_le_bytes());
        globals.extend(record(BOUNDSHEET, &boundsheet_data));
        globals.extend(record(EOF, &[]));
        assert_eq!(globals.len(), sheet_offset);

        let mut stream = globals;
        stream.extend(bof(BIFF5));
        stream.extend(cell(NUMBER, 1, 5, 1, &1608.0f64.to_le_bytes()));
        stream.extend(cell(NUMBER, 1, 6, 2, &2.5f64.to_le_bytes()));
        stream.extend(biff5_note(1, 1, 31, b"Call back about the referral, "));
        stream.extend(biff5_note(NOTE_CONTINUED, 0, 8, b"MRN 4417"));
        stream.extend(biff5_note(3, 0, 0, b""));
        stream.extend(record(EOF, &[]));
        stream
    }

    /// Wraps a workbook stream in a compound file, as an .xls is stored.
    fn compound_file(stream: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut file = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
        file.create_stream("/Workbook")
            .unwrap()
            .write_all(stream)
            .unwrap();
        file.into_inner().into_inner()
    }

    /// Counts the segments and members an extraction hands over.
    struct Count(usize);

    impl crate::Sink for Count {
        fn segment(&mut self, _segment: &crate::Segment<'_>) -> crate::Flow {
            self.0 += 1;
            crate::Flow::Continue
        }

        fn child(&mut self, _child: crate::Child<'_>) -> crate::Flow {
            self.0 += 1;
            crate::Flow::Continue
        }
    }

    /// Data after FILEPASS is encrypted, so a DIMENSIONS record there can
    /// claim any size: the workbook is encrypted, not too large.
    #[test]
    fn password_protected_workbook_is_encrypted() {
        let workbook = |protected: bool| {
            let mut stream = bof(BIFF8);
            if protected {
                stream.extend(record(FILEPASS, &[1, 0, 1, 0, 1, 0]));
            }
            stream.extend(record(EOF, &[]));
            stream.extend(bof(BIFF8));
            stream.extend(record(DIMENSIONS, &[0xFF; 14]));
            stream.extend(record(EOF, &[]));
            compound_file(&stream)
        };
        let limits = Limits::default();
        assert_eq!(
            cell_span(&workbook(true), &limits),
            Err("RC4, a weak legacy cipher")
        );
        assert_eq!(cell_span(&workbook(false), &limits), Ok(u64::MAX));
        assert_eq!(
            filepass_method(&[0, 0, 0x34, 0x12, 0x78, 0x56]),
            "XOR obfuscation, not real encryption"
        );
        assert_eq!(
            filepass_method(&[1, 0, 1, 0]),
            "XOR obfuscation, not real encryption",
            "a BIFF5 record"
        );
        assert_eq!(
            filepass_method(&[1, 0, 4, 0, 2, 0]),
            "RC4 CryptoAPI, a weak legacy cipher"
        );

        let mut sink = Count(0);
        let outcome = crate::sheet::extract_xls(&workbook(true), &limits, &mut sink);
        assert_eq!(outcome.coverage, phiscan_core::Coverage::Encrypted);
        assert!(
            outcome
                .reason
                .as_deref()
                .is_some_and(|reason| reason.contains("weak")),
            "{:?}",
            outcome.reason
        );
        assert_eq!(sink.0, 0);
    }

    #[test]
    fn biff5_formats_and_notes() {
        let extras = parse(&biff5_stream(1252, b"Intake \x96 1996"), u64::MAX);
        let sheet = "Intake \u{2013} 1996";
        assert_eq!(extras.format_code(sheet, (1, 5)), Some("00000"));
        // Formats that do not pad digits are not kept.
        assert_eq!(extras.format_code(sheet, (1, 6)), None);
        assert_eq!(
            extras.notes,
            vec![(
                sheet.to_string(),
                "B2".to_string(),
                "Call back about the referral, MRN 4417".to_string()
            )]
        );
    }

    #[test]
    fn biff5_strings_follow_the_code_page() {
        let extras = parse(&biff5_stream(0x8000, b"Caf\x8e"), u64::MAX);
        assert_eq!(extras.format_code("Caf\u{e9}", (1, 5)), Some("00000"));

        let extras = parse(&biff5_stream(1251, b"\xc0\xed\xea\xe5\xf2\xe0"), u64::MAX);
        assert_eq!(
            extras.format_code("\u{410}\u{43d}\u{43a}\u{435}\u{442}\u{430}", (1, 5)),
            Some("00000")
        );
    }

    #[test]
    fn truncated_biff5_streams_keep_what_was_read() {
        let stream = biff5_stream(1252, b"Intake");
        for cut in 0..stream.len() {
            let extras = parse(&stream[..cut], u64::MAX);
            assert!(extras.notes.len() <= 1, "cut at {cut}");
        }
        // Cut inside the continuing NOTE record: the first part is kept.
        let continued = biff5_note(NOTE_CONTINUED, 0, 8, b"MRN 4417");
        let start = stream
            .windows(continued.len())
            .position(|window| window == continued)
            .unwrap();
        let extras = parse(&stream[..start + 6], u64::MAX);
        assert_eq!(extras.format_code("Intake", (1, 5)), Some("00000"));
        assert_eq!(extras.notes.len(), 1);
        assert_eq!(extras.notes[0].2, "Call back about the referral, ");
    }

    #[test]
    fn continuation_without_a_note_is_ignored() {
        let mut stream = biff5_stream(1252, b"Intake");
        let first = biff5_note(1, 1, 31, b"Call back about the referral, ");
        let start = stream
            .windows(first.len())
            .position(|window| window == first)
            .unwrap();
        stream.drain(start..start + first.len());
        let extras = parse(&stream, u64::MAX);
        assert!(extras.notes.is_empty());
    }

    #[test]
    fn other_bof_versions_are_not_read() {
        let mut stream = biff5_stream(1252, b"Intake");
        stream[4..6].copy_from_slice(&0x0400u16.to_le_bytes());
        let extras = parse(&stream, u64::MAX);
        assert!(extras.notes.is_empty());
        assert_eq!(extras.format_code("Intake", (1, 5)), None);
    }
}
