//! Parts of xlsb workbooks that calamine 0.38 does not expose: the number
//! format of each cell, the cells stored in short records, and cell comments.
//!
//! An xlsb part is a sequence of BIFF12 records, named here as Microsoft's
//! [MS-XLSB] specification names them and their fields. Each record has a
//! type of one or two bytes, a size of one to four bytes, then the data. Type
//! and size take 7 bits per byte, and a set high bit marks that another byte
//! follows. Parts are found through the package relationships
//! (`xl/_rels/workbook.bin.rels`, then each sheet's `_rels/sheetN.bin.rels`),
//! never by their usual names.
//!
//! - Number formats: `xl/styles.bin` lists the custom formats (BrtFmt) and the
//!   cell formats (BrtXF inside BrtBeginCellXfs); a cell record's 24-bit
//!   `iStyleRef` indexes that list.
//! - Cells: calamine reads full cell records, with their column, but skips the
//!   short records (BrtShort*, no column field: the cell right of the previous
//!   one) that SheetJS writes, and rich-string cells (BrtCellRString). Those
//!   are decoded here.
//! - Comments: each comments part lists BrtBeginComment (the cell range),
//!   BrtCommentText (a rich string) and BrtEndComment. Threaded comments are
//!   XML parts, read as in xlsx. Authors are not read, as for xlsx, xls and
//!   ods comments.
//!
//! Anything unexpected (a truncated record, a style index past the list, a
//! format index without a BrtFmt) ends the walk or leaves the format unknown,
//! so the cell shows its plain number.

use crate::Limits;
use crate::package::{self, Package};
use std::collections::HashMap;
use std::io::{BufReader, Cursor, Read};

// Record types.
const BRT_ROW_HDR: u16 = 0x0000;
const BRT_CELL_BLANK: u16 = 0x0001;
const BRT_CELL_RK: u16 = 0x0002;
const BRT_CELL_BOOL: u16 = 0x0004;
const BRT_CELL_REAL: u16 = 0x0005;
const BRT_CELL_ST: u16 = 0x0006;
const BRT_CELL_ISST: u16 = 0x0007;
const BRT_FMLA_STRING: u16 = 0x0008;
const BRT_FMLA_NUM: u16 = 0x0009;
const BRT_FMLA_BOOL: u16 = 0x000A;
const BRT_FMLA_ERROR: u16 = 0x000B;
const BRT_SHORT_BLANK: u16 = 0x000C;
const BRT_SHORT_RK: u16 = 0x000D;
const BRT_SHORT_BOOL: u16 = 0x000F;
const BRT_SHORT_REAL: u16 = 0x0010;
const BRT_SHORT_ST: u16 = 0x0011;
const BRT_SHORT_ISST: u16 = 0x0012;
const BRT_SST_ITEM: u16 = 0x0013;
const BRT_FMT: u16 = 0x002C;
const BRT_XF: u16 = 0x002F;
const BRT_CELL_RSTRING: u16 = 0x003E;
const BRT_BEGIN_SHEET_DATA: u16 = 0x0091;
const BRT_END_SHEET_DATA: u16 = 0x0092;
const BRT_BUNDLE_SH: u16 = 0x009C;
const BRT_BEGIN_CELL_XFS: u16 = 0x0269;
const BRT_END_CELL_XFS: u16 = 0x026A;
const BRT_BEGIN_COMMENT: u16 = 0x027B;
const BRT_END_COMMENT: u16 = 0x027C;
const BRT_COMMENT_TEXT: u16 = 0x027D;

/// Highest row index of a sheet (1,048,576 rows).
const MAX_ROW: u32 = 0x000F_FFFF;

/// One record: its type and data.
pub struct Record<'r> {
    /// Record type, such as 0x002C for BrtFmt.
    pub kind: u16,
    pub data: &'r [u8],
}

/// Reads BIFF12 records one at a time from a part.
pub struct RecordReader<R> {
    reader: R,
    data: Vec<u8>,
    /// True once a record header or body ended before its stated size.
    pub truncated: bool,
}

impl<R: Read> RecordReader<R> {
    pub fn new(reader: R) -> RecordReader<R> {
        RecordReader {
            reader,
            data: Vec::new(),
            truncated: false,
        }
    }

    /// Returns the next record, or `None` at the end of the part and after a
    /// truncated or malformed record.
    pub fn next_record(&mut self) -> Option<Record<'_>> {
        if self.truncated {
            return None;
        }
        // A part ends cleanly only between records.
        let first = self.byte()?;
        let kind = match self.header_value(first, 2) {
            Some(kind) => kind,
            None => return self.stop(),
        };
        let Some(size_first) = self.byte() else {
            return self.stop();
        };
        let Some(size) = self.header_value(size_first, 4) else {
            return self.stop();
        };
        self.data.clear();
        let read = (&mut self.reader)
            .take(u64::from(size))
            .read_to_end(&mut self.data);
        if read.is_err() || self.data.len() != size as usize {
            return self.stop();
        }
        Some(Record {
            kind: kind as u16,
            data: &self.data,
        })
    }

    /// Reads a header field of at most `max_bytes` bytes, 7 bits each.
    fn header_value(&mut self, first: u8, max_bytes: u32) -> Option<u32> {
        let mut value = u32::from(first & 0x7F);
        let mut byte = first;
        let mut index = 1;
        while byte & 0x80 != 0 {
            if index == max_bytes {
                return None;
            }
            byte = self.byte()?;
            value |= u32::from(byte & 0x7F) << (7 * index);
            index += 1;
        }
        Some(value)
    }

    fn byte(&mut self) -> Option<u8> {
        let mut byte = [0u8; 1];
        self.reader.read_exact(&mut byte).ok()?;
        Some(byte[0])
    }

    fn stop<T>(&mut self) -> Option<T> {
        self.truncated = true;
        None
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at + 2)
        .map(|bytes| u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|bytes| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn f64_at(data: &[u8], at: usize) -> Option<f64> {
    let bytes: [u8; 8] = data.get(at..at + 8)?.try_into().ok()?;
    Some(f64::from_le_bytes(bytes))
}

/// Reads an XLWideString (32-bit character count, UTF-16LE characters) at
/// `at`, and returns the text and the offset after it.
fn wide_string(data: &[u8], at: usize) -> Option<(String, usize)> {
    let count = usize::try_from(u32_at(data, at)?).ok()?;
    let end = count.checked_mul(2)?.checked_add(at + 4)?;
    let units = data
        .get(at + 4..end)?
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    let text = char::decode_utf16(units)
        .map(|unit| unit.unwrap_or('\u{FFFD}'))
        .collect();
    Some((text, end))
}

/// Reads the text of a RichStr: a flags byte, then an XLWideString. The
/// formatting runs and phonetic text after it are not needed.
fn rich_string(data: &[u8], at: usize) -> Option<String> {
    wide_string(data, at + 1).map(|(text, _)| text)
}

/// Decodes an RkNumber: bit 0 divides by 100, bit 1 marks a 30-bit signed
/// integer, else the 30 bits are the high bits of a double.
fn rk_number(raw: u32) -> f64 {
    let value = if raw & 0x02 != 0 {
        f64::from((raw as i32) >> 2)
    } else {
        f64::from_bits(u64::from(raw & 0xFFFF_FFFC) << 32)
    };
    if raw & 0x01 != 0 {
        value / 100.0
    } else {
        value
    }
}

/// The number format of a cell format: its id and, when known, its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberFormat<'s> {
    /// Number format id: below 164 built in, from 164 custom.
    pub id: u16,
    /// The BrtFmt code, or the built-in code for ids 0–49. `None` for a
    /// locale-dependent built-in id or a custom id without a BrtFmt record.
    pub code: Option<&'s str>,
}

/// Number formats of a workbook, read from `xl/styles.bin`.
#[derive(Default, Debug)]
pub struct Styles {
    /// Custom format codes by format id (BrtFmt).
    codes: HashMap<u16, String>,
    /// Format id of each cell format, in cellXfs order (BrtXF).
    cell_formats: Vec<u16>,
}

impl Styles {
    /// Parses a styles part. A truncated part keeps what was read before the
    /// damage.
    pub fn parse(part: &[u8]) -> Styles {
        let mut styles = Styles::default();
        let mut records = RecordReader::new(part);
        // BrtXF records also list the cell style formats (BrtBeginCellStyleXFs),
        // which cells do not index.
        let mut in_cell_formats = false;
        while let Some(record) = records.next_record() {
            match record.kind {
                BRT_FMT => {
                    if let Some(id) = u16_at(record.data, 0)
                        && let Some((code, _)) = wide_string(record.data, 2)
                    {
                        styles.codes.insert(id, code);
                    }
                }
                BRT_BEGIN_CELL_XFS => in_cell_formats = true,
                BRT_END_CELL_XFS => in_cell_formats = false,
                BRT_XF if in_cell_formats => {
                    // ixfeParent (2 bytes), then iFmt.
                    styles
                        .cell_formats
                        .push(u16_at(record.data, 2).unwrap_or(0));
                }
                _ => {}
            }
        }
        styles
    }

    /// Returns the number format of a cell's `iStyleRef`, or `None` when the
    /// index is past the cell format list.
    pub fn number_format(&self, style: u32) -> Option<NumberFormat<'_>> {
        let id = *self.cell_formats.get(usize::try_from(style).ok()?)?;
        let code = match self.codes.get(&id) {
            Some(code) => Some(code.as_str()),
            None => builtin_format_code(id),
        };
        Some(NumberFormat { id, code })
    }

    /// Returns the format code of a cell's `iStyleRef`, when known.
    pub fn format_code(&self, style: u32) -> Option<&str> {
        self.number_format(style).and_then(|format| format.code)
    }
}

/// Format codes of the built-in number format ids that do not depend on the
/// locale (ECMA-376 Part 1, 18.8.30 numFmt). xlsb files store no BrtFmt for
/// them.
fn builtin_format_code(id: u16) -> Option<&'static str> {
    let code = match id {
        0 => "General",
        1 => "0",
        2 => "0.00",
        3 => "#,##0",
        4 => "#,##0.00",
        9 => "0%",
        10 => "0.00%",
        11 => "0.00E+00",
        12 => "# ?/?",
        13 => "# ??/??",
        14 => "mm-dd-yy",
        15 => "d-mmm-yy",
        16 => "d-mmm",
        17 => "mmm-yy",
        18 => "h:mm AM/PM",
        19 => "h:mm:ss AM/PM",
        20 => "h:mm",
        21 => "h:mm:ss",
        22 => "m/d/yy h:mm",
        37 => "#,##0 ;(#,##0)",
        38 => "#,##0 ;[Red](#,##0)",
        39 => "#,##0.00;(#,##0.00)",
        40 => "#,##0.00;[Red](#,##0.00)",
        45 => "mm:ss",
        46 => "[h]:mm:ss",
        47 => "mmss.0",
        48 => "##0.0E+0",
        49 => "@",
        _ => return None,
    };
    Some(code)
}

/// Kind of value a number format shows a serial number as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberKind {
    Number,
    DateTime,
    /// Elapsed time (`[h]:mm:ss`), shown as the plain number.
    Duration,
}

/// Tells dates from numbers by the format: built-in date and time ids, or
/// date and time letters (y, m, d, h, s) outside quoted text, escapes and
/// brackets. `[h]`, `[m]` and `[s]` mark elapsed time.
pub fn number_kind(format: NumberFormat<'_>) -> NumberKind {
    match format.id {
        46 => return NumberKind::Duration,
        14..=22 | 27..=36 | 45 | 47 | 50..=58 => return NumberKind::DateTime,
        _ => {}
    }
    let Some(code) = format.code else {
        return NumberKind::Number;
    };
    let mut chars = code.chars();
    let mut kind = NumberKind::Number;
    while let Some(ch) = chars.next() {
        match ch {
            '"' => {
                for quoted in chars.by_ref() {
                    if quoted == '"' {
                        break;
                    }
                }
            }
            // An escaped character, a space the width of a character, a fill character.
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let inside: String = chars.by_ref().take_while(|&c| c != ']').collect();
                let lower = inside.to_ascii_lowercase();
                if !lower.is_empty() && lower.chars().all(|c| matches!(c, 'h' | 'm' | 's')) {
                    return NumberKind::Duration;
                }
            }
            'y' | 'Y' | 'm' | 'M' | 'd' | 'D' | 'h' | 'H' | 's' | 'S' => {
                kind = NumberKind::DateTime;
            }
            _ => {}
        }
    }
    kind
}

/// The value of a cell record, as far as it is decoded here.
#[derive(Clone, Debug, PartialEq)]
pub enum CellValue {
    /// A blank or error cell.
    Empty,
    Number(f64),
    String(String),
    /// An index into the shared-strings part.
    SharedString(u32),
    Bool(bool),
}

/// One cell record of a sheet.
#[derive(Clone, Debug, PartialEq)]
pub struct CellRecord {
    /// Zero-based row and column.
    pub row: u32,
    pub column: u32,
    /// Index into the cell format list (`iStyleRef`, 24 bits).
    pub style: u32,
    /// Record type.
    pub kind: u16,
    pub value: CellValue,
}

impl CellRecord {
    /// Returns true for a cell record that calamine 0.38 reads: a full cell
    /// record other than a blank cell or a formula error. Short records and
    /// rich-string cells are skipped by calamine and decoded here.
    pub fn read_by_calamine(&self) -> bool {
        (BRT_CELL_RK..=BRT_FMLA_BOOL).contains(&self.kind)
    }

    /// Returns true for a numeric cell (a number or a formula's numeric result).
    pub fn is_number(&self) -> bool {
        matches!(self.value, CellValue::Number(_))
    }
}

/// Walks the cell records of a sheet part in file order, between
/// BrtBeginSheetData and BrtEndSheetData.
pub struct SheetCells<R> {
    records: RecordReader<R>,
    row: u32,
    /// Column of the next short record: one right of the previous cell.
    next_column: Option<u32>,
    in_sheet_data: bool,
    done: bool,
}

impl<R: Read> SheetCells<R> {
    pub fn new(reader: R) -> SheetCells<R> {
        SheetCells {
            records: RecordReader::new(reader),
            row: 0,
            next_column: None,
            in_sheet_data: false,
            done: false,
        }
    }

    /// Returns true when the walk ended at a truncated or malformed record
    /// rather than at the end of the sheet data.
    pub fn truncated(&self) -> bool {
        self.records.truncated
    }
}

impl<R: Read> Iterator for SheetCells<R> {
    type Item = CellRecord;

    fn next(&mut self) -> Option<CellRecord> {
        while !self.done {
            let Some(record) = self.records.next_record() else {
                self.done = true;
                break;
            };
            if !self.in_sheet_data {
                self.in_sheet_data = record.kind == BRT_BEGIN_SHEET_DATA;
                continue;
            }
            match record.kind {
                BRT_END_SHEET_DATA => self.done = true,
                BRT_ROW_HDR => match u32_at(record.data, 0) {
                    Some(row) if row <= MAX_ROW => {
                        self.row = row;
                        self.next_column = None;
                    }
                    _ => self.done = true,
                },
                kind => {
                    let short = (BRT_SHORT_BLANK..=BRT_SHORT_ISST).contains(&kind);
                    let full = (BRT_CELL_BLANK..=BRT_FMLA_ERROR).contains(&kind)
                        || kind == BRT_CELL_RSTRING;
                    let (column, header) = if full {
                        match u32_at(record.data, 0) {
                            Some(column) => (column, 4),
                            None => continue,
                        }
                    } else if short {
                        match self.next_column {
                            Some(column) => (column, 0),
                            // A short record must follow a cell of its row.
                            None => continue,
                        }
                    } else {
                        continue;
                    };
                    let Some(style) = u32_at(record.data, header) else {
                        continue;
                    };
                    let value = cell_value(kind, record.data, header + 4);
                    self.next_column = column.checked_add(1);
                    return Some(CellRecord {
                        row: self.row,
                        column,
                        style: style & 0x00FF_FFFF,
                        kind,
                        value,
                    });
                }
            }
        }
        None
    }
}

/// Decodes the value after a cell record's header. Blank and error cells, and
/// a value that does not fit in the record, are `Empty`.
fn cell_value(kind: u16, data: &[u8], at: usize) -> CellValue {
    let value = match kind {
        BRT_CELL_RK | BRT_SHORT_RK => u32_at(data, at).map(|raw| CellValue::Number(rk_number(raw))),
        BRT_CELL_REAL | BRT_SHORT_REAL | BRT_FMLA_NUM => f64_at(data, at).map(CellValue::Number),
        BRT_CELL_BOOL | BRT_SHORT_BOOL | BRT_FMLA_BOOL => {
            data.get(at).map(|&flag| CellValue::Bool(flag != 0))
        }
        BRT_CELL_ST | BRT_SHORT_ST | BRT_FMLA_STRING => {
            wide_string(data, at).map(|(text, _)| CellValue::String(text))
        }
        BRT_CELL_ISST | BRT_SHORT_ISST => u32_at(data, at).map(CellValue::SharedString),
        BRT_CELL_RSTRING => rich_string(data, at).map(CellValue::String),
        _ => None,
    };
    value.unwrap_or(CellValue::Empty)
}

/// Reads the shared strings part (BrtSSTItem rich strings), up to `max_items`.
pub fn shared_strings(part: &[u8], max_items: u64) -> Vec<String> {
    let mut strings = Vec::new();
    let mut records = RecordReader::new(part);
    while let Some(record) = records.next_record() {
        if record.kind == BRT_SST_ITEM {
            if strings.len() as u64 >= max_items {
                break;
            }
            strings.push(rich_string(record.data, 0).unwrap_or_default());
        }
    }
    strings
}

/// Reads the comments of one comments part as (cell, text), up to `max_comments`.
pub fn comment_texts(part: &[u8], max_comments: u64) -> Vec<(String, String)> {
    let mut comments = Vec::new();
    let mut records = RecordReader::new(part);
    let mut cell: Option<String> = None;
    let mut text = String::new();
    while let Some(record) = records.next_record() {
        match record.kind {
            BRT_BEGIN_COMMENT => {
                // iauthor (4 bytes), then the range: first row, last row,
                // first column, last column. The comment belongs to the first cell.
                cell = match (u32_at(record.data, 4), u32_at(record.data, 12)) {
                    (Some(row), Some(column)) if row <= MAX_ROW => {
                        Some(super::cell_name(row, column))
                    }
                    _ => None,
                };
                text.clear();
            }
            BRT_COMMENT_TEXT => {
                if let Some(comment) = rich_string(record.data, 0) {
                    text.push_str(&comment);
                }
            }
            BRT_END_COMMENT => {
                if let Some(cell) = cell.take()
                    && !text.trim().is_empty()
                {
                    if comments.len() as u64 >= max_comments {
                        break;
                    }
                    comments.push((cell, text.trim().to_string()));
                }
            }
            _ => {}
        }
    }
    comments
}

/// Returns the (name, relationship id) of each sheet in `xl/workbook.bin`
/// (BrtBundleSh: state, tab id, relationship id, name).
pub fn sheet_relationships(workbook: &[u8]) -> Vec<(String, String)> {
    let mut sheets = Vec::new();
    let mut records = RecordReader::new(workbook);
    while let Some(record) = records.next_record() {
        if record.kind != BRT_BUNDLE_SH {
            continue;
        }
        // A null relationship id (count 0xFFFFFFFF) marks a sheet without a
        // part, which has no cells to read.
        let Some((relationship, after)) = wide_string(record.data, 8) else {
            continue;
        };
        if let Some((name, _)) = wide_string(record.data, after) {
            sheets.push((name, relationship));
        }
    }
    sheets
}

/// Part names and number formats of an xlsb workbook.
#[derive(Default)]
pub struct Workbook {
    /// (sheet name, sheet part) in workbook order.
    pub sheets: Vec<(String, String)>,
    pub styles: Styles,
    /// Shared strings part, loaded only when a short record needs it.
    shared_strings_part: Option<String>,
    shared_strings: Option<Vec<String>>,
}

impl Workbook {
    /// Reads the sheet list, the relationships and the styles. Returns an
    /// empty workbook (plain numbers, no comments) when a part is missing.
    pub fn read(package: &mut Package<'_, '_>) -> Workbook {
        let mut workbook = Workbook::default();
        let Some(Ok(list)) = package.part("xl/workbook.bin") else {
            return workbook;
        };
        let relationships = match package.part(&package::rels_name("xl/workbook.bin")) {
            Some(Ok(rels)) => package::relationships(&rels),
            _ => return workbook,
        };
        for (name, id) in sheet_relationships(&list) {
            if let Some((_, target)) = relationships.get(&id) {
                let part = package::resolve_target("xl/workbook.bin", target);
                workbook.sheets.push((name, part));
            }
        }
        for (kind, target) in relationships.values() {
            let part = package::resolve_target("xl/workbook.bin", target);
            if kind.ends_with("/styles") {
                if let Some(Ok(styles)) = package.part(&part) {
                    workbook.styles = Styles::parse(&styles);
                }
            } else if kind.ends_with("/sharedStrings") {
                workbook.shared_strings_part = Some(part);
            }
        }
        workbook
    }

    /// Returns the part of a sheet.
    pub fn sheet_part(&self, name: &str) -> Option<&str> {
        self.sheets
            .iter()
            .find(|(sheet, _)| sheet == name)
            .map(|(_, part)| part.as_str())
    }

    /// Returns a shared string, loading the shared strings part on first use.
    pub fn shared_string(&mut self, bytes: &[u8], index: u32, limits: &Limits) -> Option<&str> {
        if self.shared_strings.is_none() {
            let strings = match &self.shared_strings_part {
                Some(part) => match read_part(bytes, part, limits) {
                    Some(data) => shared_strings(&data, limits.max_cells),
                    None => Vec::new(),
                },
                None => Vec::new(),
            };
            self.shared_strings = Some(strings);
        }
        self.shared_strings
            .as_ref()?
            .get(usize::try_from(index).ok()?)
            .map(String::as_str)
    }

    /// Reads the comments of every sheet as (sheet, cell, text), following
    /// each sheet's relationships to its comments part.
    pub fn comments(
        &self,
        package: &mut Package<'_, '_>,
        limits: &Limits,
    ) -> Vec<(String, String, String)> {
        let mut found = Vec::new();
        for (sheet, part) in &self.sheets {
            let Some(Ok(rels)) = package.part(&package::rels_name(part)) else {
                continue;
            };
            for (kind, target) in package::relationships(&rels).into_values() {
                // Threaded comments are XML parts, in xlsb packages too.
                let threaded = kind.ends_with("/threadedComment");
                if !(threaded || kind.ends_with("/comments")) {
                    continue;
                }
                let comments_part = package::resolve_target(part, &target);
                let Some(Ok(comments)) = package.part(&comments_part) else {
                    continue;
                };
                let room = limits.max_cells.saturating_sub(found.len() as u64);
                let texts = if threaded {
                    let mut texts = super::comment_texts(&comments);
                    texts.truncate(usize::try_from(room).unwrap_or(usize::MAX));
                    texts
                } else {
                    comment_texts(&comments, room)
                };
                for (cell, text) in texts {
                    found.push((sheet.clone(), cell, text));
                }
            }
        }
        found
    }
}

/// Opens a sheet part for streaming, at most `max_whole_bytes` of it.
pub fn open_sheet<'b, 'd>(
    archive: &'b mut zip::ZipArchive<Cursor<&'d [u8]>>,
    part: &str,
    limits: &Limits,
) -> Option<SheetCells<impl Read + use<'b, 'd>>> {
    let entry = archive.by_name(part).ok()?;
    Some(SheetCells::new(BufReader::new(
        entry.take(limits.max_whole_bytes),
    )))
}

/// Reads a whole part, at most `max_whole_bytes` of it.
fn read_part(bytes: &[u8], part: &str, limits: &Limits) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let entry = archive.by_name(part).ok()?;
    let mut data = Vec::new();
    entry
        .take(limits.max_whole_bytes)
        .read_to_end(&mut data)
        .ok()?;
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::render_number;

    /// Encodes a record header (type, then size, 7 bits per byte) and data.
    fn record(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if kind < 0x80 {
            out.push(kind as u8);
        } else {
            out.push((kind & 0x7F) as u8 | 0x80);
            out.push((kind >> 7) as u8);
        }
        let mut size = data.len();
        loop {
            let byte = (size & 0x7F) as u8;
            size >>= 7;
            if size == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(data);
        out
    }

    fn wide(text: &str) -> Vec<u8> {
        let units: Vec<u16> = text.encode_utf16().collect();
        let mut out = (units.len() as u32).to_le_bytes().to_vec();
        for unit in units {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out
    }

    fn rich(text: &str) -> Vec<u8> {
        let mut out = vec![0u8];
        out.extend(wide(text));
        out
    }

    fn full_cell(column: u32, style: u32, value: &[u8]) -> Vec<u8> {
        let mut out = column.to_le_bytes().to_vec();
        out.extend_from_slice(&style.to_le_bytes());
        out.extend_from_slice(value);
        out
    }

    fn short_cell(style: u32, value: &[u8]) -> Vec<u8> {
        let mut out = style.to_le_bytes().to_vec();
        out.extend_from_slice(value);
        out
    }

    fn row_header(row: u32) -> Vec<u8> {
        let mut data = row.to_le_bytes().to_vec();
        data.extend_from_slice(&[0; 13]);
        record(BRT_ROW_HDR, &data)
    }

    fn format(id: u16, code: &str) -> Vec<u8> {
        let mut data = id.to_le_bytes().to_vec();
        data.extend(wide(code));
        record(BRT_FMT, &data)
    }

    fn xf(format_id: u16) -> Vec<u8> {
        let mut data = 0u16.to_le_bytes().to_vec();
        data.extend_from_slice(&format_id.to_le_bytes());
        data.extend_from_slice(&[0; 12]);
        record(BRT_XF, &data)
    }

    /// Styles with one cell style format (format 164) and cell formats 0,
    /// 164 (`00000`), 165 (`000-00-0000`), 200 (no BrtFmt) and 14 (built-in date).
    fn styles_part() -> Vec<u8> {
        let mut part = Vec::new();
        part.extend(record(0x0267, &2u32.to_le_bytes()));
        part.extend(format(164, "00000"));
        part.extend(format(165, "000-00-0000"));
        part.extend(record(0x0268, &[]));
        part.extend(record(0x0272, &1u32.to_le_bytes()));
        part.extend(xf(164));
        part.extend(record(0x0273, &[]));
        part.extend(record(BRT_BEGIN_CELL_XFS, &5u32.to_le_bytes()));
        for id in [0, 164, 165, 200, 14] {
            part.extend(xf(id));
        }
        part.extend(record(BRT_END_CELL_XFS, &[]));
        part
    }

    #[test]
    fn record_headers_of_several_bytes() {
        let data = vec![7u8; 300];
        let mut part = record(0x0269, &data);
        part.extend(record(0x0001, &[1, 2]));
        let mut records = RecordReader::new(&part[..]);
        let first = records.next_record().unwrap();
        assert_eq!(first.kind, 0x0269);
        assert_eq!(first.data.len(), 300);
        let second = records.next_record().unwrap();
        assert_eq!(second.kind, 0x0001);
        assert_eq!(second.data, &[1, 2]);
        assert!(records.next_record().is_none());
        assert!(!records.truncated);
    }

    #[test]
    fn truncated_record_ends_the_walk() {
        let mut part = record(BRT_FMT, &[1, 2, 3, 4, 5, 6]);
        part.truncate(part.len() - 2);
        let mut records = RecordReader::new(&part[..]);
        assert!(records.next_record().is_none());
        assert!(records.truncated);

        // A header cut after a byte whose high bit marks another byte.
        let mut records = RecordReader::new(&[0x80u8][..]);
        assert!(records.next_record().is_none());
        assert!(records.truncated);
    }

    #[test]
    fn overlong_record_headers_are_malformed() {
        // A type of three bytes.
        let mut records = RecordReader::new(&[0x81u8, 0x82, 0x01, 0x00][..]);
        assert!(records.next_record().is_none());
        assert!(records.truncated);

        // A size of five bytes.
        let mut records = RecordReader::new(&[0x01u8, 0x80, 0x80, 0x80, 0x80, 0x01][..]);
        assert!(records.next_record().is_none());
        assert!(records.truncated);
    }

    #[test]
    fn styles_map_cell_formats_to_codes() {
        let styles = Styles::parse(&styles_part());
        // The cell style format list (BrtBeginCellStyleXFs) is not indexed by cells.
        assert_eq!(styles.format_code(0), Some("General"));
        assert_eq!(styles.format_code(1), Some("00000"));
        assert_eq!(styles.format_code(2), Some("000-00-0000"));
        assert_eq!(styles.format_code(4), Some("mm-dd-yy"));
        assert_eq!(render_number(1608.0, styles.format_code(1)), "01608");
    }

    #[test]
    fn unknown_formats_fall_back_to_plain_numbers() {
        let styles = Styles::parse(&styles_part());

        // A format id without a BrtFmt record.
        assert_eq!(
            styles.number_format(3),
            Some(NumberFormat {
                id: 200,
                code: None
            })
        );
        assert_eq!(render_number(1608.0, styles.format_code(3)), "1608");

        // An iStyleRef past the cell format list.
        assert_eq!(styles.number_format(5), None);
        assert_eq!(styles.number_format(0x00FF_FFFF), None);
        assert_eq!(render_number(1608.0, styles.format_code(5)), "1608");
    }

    #[test]
    fn truncated_styles_keep_what_was_read() {
        let mut part = styles_part();
        // Cut inside the last BrtXF.
        part.truncate(part.len() - 8);
        let styles = Styles::parse(&part);
        assert_eq!(styles.format_code(2), Some("000-00-0000"));
        assert_eq!(styles.number_format(4), None);

        assert_eq!(Styles::parse(&[]).number_format(0), None);
        assert_eq!(Styles::parse(&[0xFF]).number_format(0), None);
    }

    fn sheet_part() -> Vec<u8> {
        let mut part = Vec::new();
        part.extend(record(0x0081, &[]));
        // A cell record before BrtBeginSheetData is not a cell.
        part.extend(record(
            BRT_CELL_REAL,
            &full_cell(0, 0, &1.0f64.to_le_bytes()),
        ));
        part.extend(record(BRT_BEGIN_SHEET_DATA, &[]));

        part.extend(row_header(1));
        part.extend(record(BRT_CELL_ISST, &full_cell(0, 0, &3u32.to_le_bytes())));
        // The high byte of the style field contains flags, not style bits.
        part.extend(record(
            BRT_SHORT_REAL,
            &short_cell(0x0100_0001, &1608.0f64.to_le_bytes()),
        ));
        part.extend(record(BRT_SHORT_ST, &short_cell(0, &wide("Jane Roe"))));
        part.extend(record(
            BRT_CELL_RK,
            &full_cell(5, 2, &((42 << 2) | 2u32).to_le_bytes()),
        ));
        part.extend(record(BRT_SHORT_BOOL, &short_cell(0, &[1])));
        part.extend(record(BRT_CELL_RSTRING, &full_cell(9, 0, &rich("rich"))));

        part.extend(row_header(2));
        // A short record with no cell before it in its row has no column.
        part.extend(record(
            BRT_SHORT_REAL,
            &short_cell(1, &7.0f64.to_le_bytes()),
        ));
        part.extend(record(
            BRT_FMLA_NUM,
            &full_cell(2, 1, &2.5f64.to_le_bytes()),
        ));
        part.extend(record(BRT_SHORT_BLANK, &short_cell(0, &[])));
        part.extend(record(BRT_FMLA_ERROR, &full_cell(7, 0, &[0x07, 0, 0])));

        part.extend(record(BRT_END_SHEET_DATA, &[]));
        part.extend(record(
            BRT_CELL_REAL,
            &full_cell(0, 0, &9.0f64.to_le_bytes()),
        ));
        part
    }

    #[test]
    fn sheet_walk_places_short_records() {
        let cells: Vec<CellRecord> = SheetCells::new(&sheet_part()[..]).collect();
        let found: Vec<(u32, u32, u32, CellValue)> = cells
            .iter()
            .map(|cell| (cell.row, cell.column, cell.style, cell.value.clone()))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, 0, 0, CellValue::SharedString(3)),
                (1, 1, 1, CellValue::Number(1608.0)),
                (1, 2, 0, CellValue::String("Jane Roe".into())),
                (1, 5, 2, CellValue::Number(42.0)),
                (1, 6, 0, CellValue::Bool(true)),
                (1, 9, 0, CellValue::String("rich".into())),
                (2, 2, 1, CellValue::Number(2.5)),
                (2, 3, 0, CellValue::Empty),
                (2, 7, 0, CellValue::Empty),
            ]
        );
        let read_by_calamine: Vec<bool> = cells.iter().map(CellRecord::read_by_calamine).collect();
        assert_eq!(
            read_by_calamine,
            vec![true, false, false, true, false, false, true, false, false]
        );
    }

    #[test]
    fn truncated_sheet_part_ends_the_walk() {
        let part = sheet_part();
        for cut in 0..part.len() {
            let mut walk = SheetCells::new(&part[..cut]);
            let count = walk.by_ref().count();
            assert!(count <= 9, "cut at {cut}");
        }
        // Cut inside the formula record of row 2: the six cells before it stay.
        let formula = record(BRT_FMLA_NUM, &full_cell(2, 1, &2.5f64.to_le_bytes()));
        let start = part
            .windows(formula.len())
            .position(|window| window == formula)
            .unwrap();
        let mut walk = SheetCells::new(&part[..start + 5]);
        assert_eq!(walk.by_ref().count(), 6);
        assert!(walk.truncated());
    }

    #[test]
    fn cell_records_too_short_are_skipped() {
        let mut part = record(BRT_BEGIN_SHEET_DATA, &[]);
        part.extend(row_header(0));
        // A column but no style field.
        part.extend(record(BRT_CELL_REAL, &[1, 0, 0, 0, 0, 0]));
        // A style field but no value.
        part.extend(record(BRT_CELL_REAL, &full_cell(4, 1, &[0, 0])));
        // A wide string longer than its record.
        part.extend(record(BRT_SHORT_ST, &short_cell(0, &[200, 0, 0, 0, 65, 0])));
        let cells: Vec<CellRecord> = SheetCells::new(&part[..]).collect();
        let found: Vec<(u32, CellValue)> = cells
            .iter()
            .map(|cell| (cell.column, cell.value.clone()))
            .collect();
        assert_eq!(found, vec![(4, CellValue::Empty), (5, CellValue::Empty)]);
    }

    #[test]
    fn rows_past_the_sheet_end_the_walk() {
        let mut part = record(BRT_BEGIN_SHEET_DATA, &[]);
        part.extend(row_header(MAX_ROW + 1));
        part.extend(record(
            BRT_CELL_REAL,
            &full_cell(0, 0, &1.0f64.to_le_bytes()),
        ));
        assert_eq!(SheetCells::new(&part[..]).count(), 0);
    }

    #[test]
    fn rk_numbers_decode() {
        assert_eq!(rk_number((100 << 2) | 0x02), 100.0);
        assert_eq!(rk_number(((-7i32 << 2) as u32) | 0x02), -7.0);
        assert_eq!(rk_number((12345 << 2) | 0x03), 123.45);
        let high_bits = (1.5f64.to_bits() >> 32) as u32;
        assert_eq!(rk_number(high_bits), 1.5);
        assert_eq!(rk_number(high_bits | 0x01), 0.015);
    }

    #[test]
    fn number_kinds_follow_the_format() {
        let custom = |code| NumberFormat {
            id: 164,
            code: Some(code),
        };
        assert_eq!(number_kind(custom("mm/dd/yyyy")), NumberKind::DateTime);
        assert_eq!(number_kind(custom("h:mm AM/PM")), NumberKind::DateTime);
        assert_eq!(number_kind(custom("[$-409]d-mmm-yy")), NumberKind::DateTime);
        assert_eq!(number_kind(custom("[h]:mm:ss")), NumberKind::Duration);
        assert_eq!(number_kind(custom("00000")), NumberKind::Number);
        assert_eq!(number_kind(custom("General")), NumberKind::Number);
        assert_eq!(number_kind(custom("[Red]0.00;\\-0.00")), NumberKind::Number);
        assert_eq!(number_kind(custom("\"MRN \"000000")), NumberKind::Number);
        assert_eq!(number_kind(custom("0.00_);(0.00)")), NumberKind::Number);
        let builtin = |id| NumberFormat { id, code: None };
        assert_eq!(number_kind(builtin(14)), NumberKind::DateTime);
        assert_eq!(number_kind(builtin(31)), NumberKind::DateTime);
        assert_eq!(number_kind(builtin(46)), NumberKind::Duration);
        assert_eq!(number_kind(builtin(200)), NumberKind::Number);
    }

    fn comment(first_row: u32, first_column: u32, text: &str) -> Vec<u8> {
        let mut begin = 0u32.to_le_bytes().to_vec();
        for value in [first_row, first_row, first_column, first_column] {
            begin.extend_from_slice(&value.to_le_bytes());
        }
        begin.extend_from_slice(&[0; 16]);
        let mut out = record(BRT_BEGIN_COMMENT, &begin);
        out.extend(record(BRT_COMMENT_TEXT, &rich(text)));
        out.extend(record(BRT_END_COMMENT, &[]));
        out
    }

    #[test]
    fn comments_carry_their_first_cell() {
        let mut part = record(0x0274, &[]);
        part.extend(record(0x0276, &[]));
        part.extend(record(0x0278, &wide("Front Desk")));
        part.extend(record(0x0277, &[]));
        part.extend(comment(1, 1, "Call back"));
        part.extend(comment(9, 27, " \n "));
        part.extend(comment(3, 0, "Second"));
        assert_eq!(
            comment_texts(&part, 10),
            vec![
                ("B2".to_string(), "Call back".to_string()),
                ("A4".to_string(), "Second".to_string())
            ]
        );
        assert_eq!(comment_texts(&part, 1).len(), 1);
    }

    #[test]
    fn damaged_comments_are_skipped() {
        // A BrtBeginComment too short for its range.
        let mut part = record(BRT_BEGIN_COMMENT, &[0; 8]);
        part.extend(record(BRT_COMMENT_TEXT, &rich("lost")));
        part.extend(record(BRT_END_COMMENT, &[]));
        part.extend(comment(0, 0, "kept"));
        assert_eq!(
            comment_texts(&part, 10),
            vec![("A1".to_string(), "kept".to_string())]
        );

        let whole = comment(0, 0, "cut");
        for cut in 0..whole.len() {
            assert!(comment_texts(&whole[..cut], 10).is_empty(), "cut at {cut}");
        }
    }

    fn bundle_sheet(relationship: Option<&str>, name: &str) -> Vec<u8> {
        let mut data = vec![0u8; 8];
        match relationship {
            Some(id) => data.extend(wide(id)),
            None => data.extend_from_slice(&u32::MAX.to_le_bytes()),
        }
        data.extend(wide(name));
        record(BRT_BUNDLE_SH, &data)
    }

    #[test]
    fn sheet_list_names_relationships() {
        let mut part = record(0x0083, &[]);
        part.extend(bundle_sheet(Some("rId1"), "Patients"));
        part.extend(bundle_sheet(None, "Macro"));
        part.extend(bundle_sheet(Some("rId3"), "Archive"));
        part.extend(record(BRT_BUNDLE_SH, &[0; 10]));
        assert_eq!(
            sheet_relationships(&part),
            vec![
                ("Patients".to_string(), "rId1".to_string()),
                ("Archive".to_string(), "rId3".to_string())
            ]
        );
    }

    #[test]
    fn shared_strings_read_up_to_the_limit() {
        let mut part = record(0x009F, &[0; 8]);
        for text in ["MRN", "Patient", "SSN"] {
            part.extend(record(BRT_SST_ITEM, &rich(text)));
        }
        assert_eq!(shared_strings(&part, 10), vec!["MRN", "Patient", "SSN"]);
        assert_eq!(shared_strings(&part, 2), vec!["MRN", "Patient"]);
    }
}
