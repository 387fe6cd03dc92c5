//! Parts of BIFF8 (.xls) workbooks that calamine does not expose: the number
//! format of each cell, to show zero-padded numbers as displayed, and cell
//! notes (comments). Read from the `Workbook` stream's records.
//!
//! BIFF5 workbooks (Excel 95) are not read here: their cells show plain
//! numbers and their notes are not examined.

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

/// Number formats of zero-padded cells and notes of one workbook.
#[derive(Default)]
pub struct Extras {
    /// Format code by (sheet, row, column), only for digit formats that
    /// change how a number shows (`00000`, `000-00-0000`).
    formats: HashMap<(String, u32, u32), String>,
    /// (sheet, cell, text) of each note.
    pub notes: Vec<(String, String, String)>,
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

/// Returns how many cells calamine would hold for a workbook: the sum over
/// sheets of the bounding box of their cells, which calamine allocates in
/// full for every sheet when it opens the file. Returns `u64::MAX` when a
/// DIMENSIONS record claims more rows or columns than an .xls can have,
/// because calamine reserves memory for the claimed range.
pub fn cell_span(bytes: &[u8], limits: &Limits) -> u64 {
    let Ok(mut file) = cfb::CompoundFile::open(Cursor::new(bytes)) else {
        return 0;
    };
    let mut stream = Vec::new();
    let opened = file
        .open_stream("/Workbook")
        .or_else(|_| file.open_stream("/Book"));
    let Ok(reader) = opened else {
        return 0;
    };
    if reader
        .take(limits.max_whole_bytes)
        .read_to_end(&mut stream)
        .is_err()
    {
        return 0;
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
                    return u64::MAX;
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
    total.saturating_add(area(bounds))
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

fn parse(stream: &[u8], max_cells: u64) -> Extras {
    let mut extras = Extras::default();
    // The globals substream opens with a BIFF8 BOF (version 0x0600).
    match record_at(stream, 0) {
        Some(record) if record.kind == BOF && u16_at(record.data, 0) == Some(0x0600) => {}
        _ => return extras,
    }
    let mut custom_formats: HashMap<u16, String> = HashMap::new();
    let mut xf_formats: Vec<u16> = Vec::new();
    let mut sheets: Vec<(String, usize)> = Vec::new();
    let mut position = 0;
    while let Some(record) = record_at(stream, position) {
        match record.kind {
            FORMAT => {
                if let (Some(index), Some(code)) =
                    (u16_at(record.data, 0), unicode_string(record.data, 2))
                {
                    custom_formats.insert(index, code);
                }
            }
            XF => xf_formats.push(u16_at(record.data, 2).unwrap_or(0)),
            BOUNDSHEET => {
                let offset = u32_at(record.data, 0).unwrap_or(0) as usize;
                let count = usize::from(*record.data.get(6).unwrap_or(&0));
                let high_byte = record.data.get(7).is_some_and(|flags| flags & 1 == 1);
                let width = if high_byte { 2 } else { 1 };
                if let Some(chars) = record.data.get(8..8 + count * width) {
                    sheets.push((decode_chars(chars, high_byte), offset));
                }
            }
            EOF => break,
            _ => {}
        }
        position = record.next;
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
                OBJ if u16_at(record.data, 0) == Some(0x15) => {
                    last_object = u16_at(record.data, 6);
                }
                TXO => {
                    let length = usize::from(u16_at(record.data, 10).unwrap_or(0));
                    let (text, after) = txo_text(stream, record.next, length);
                    next = after;
                    if let Some(id) = last_object.take() {
                        objects.insert(id, text);
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
                return extras;
            }
            position = next;
        }
    }
    extras
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
