//! Spreadsheets: xlsx, xlsm and xlsb (calamine's streaming cell readers, with
//! the xlsb styles, short cell records and comments read in [`xlsb`]), xls
//! (calamine, with formats and notes read in [`biff`]), and ods (read here from
//! `content.xml`, see [`ods`]).
//!
//! Every sheet is read, hidden and very hidden ones included. Each row is one
//! segment and one record; each cell is a field under its column header when
//! the sheet's first row looks like headers, and findings carry `Sheet!A1`
//! cell locators. Date-formatted serial numbers are written as ISO dates, and
//! numbers whose format pads leading zeros (ZIP codes, SSNs, MRNs) are written
//! as displayed. Cell comments, defined names and document properties are
//! scanned too. A workbook-wide cell limit bounds memory and time.

pub mod biff;
pub mod ods;
pub mod xlsb;

use crate::package::{self, Package};
use crate::{Emitter, Flow, Format, Limits, Outcome, PROPERTIES_RECORD, xml};
use calamine::{DataRef, Reader};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::{Field, RecordScope};
use quick_xml::events::Event;
use std::collections::HashMap;
use std::io::Cursor;

/// One row's non-empty cells, by column index from 0.
#[derive(Default)]
pub(crate) struct RowCells {
    pub row: u32,
    pub cells: Vec<(u32, String)>,
}

/// Writes rows of one workbook to the sink, tracking headers and the cell limit.
pub(crate) struct SheetWriter<'e, 's> {
    pub out: &'e mut Emitter<'s>,
    sheet_index: u64,
    sheet: String,
    headers: Option<HashMap<u32, String>>,
    rows_seen: u64,
    pub cells: u64,
    pub max_cells: u64,
}

impl<'e, 's> SheetWriter<'e, 's> {
    pub fn new(out: &'e mut Emitter<'s>, max_cells: u64) -> SheetWriter<'e, 's> {
        SheetWriter {
            out,
            sheet_index: 0,
            sheet: String::new(),
            headers: None,
            rows_seen: 0,
            cells: 0,
            max_cells,
        }
    }

    /// Starts a new sheet.
    pub fn start_sheet(&mut self, name: &str) {
        self.sheet_index += 1;
        self.sheet = name.to_string();
        self.headers = None;
        self.rows_seen = 0;
    }

    /// Returns false once the workbook's cell limit is reached.
    pub fn admit_cell(&mut self) -> bool {
        self.cells += 1;
        self.cells <= self.max_cells
    }

    /// Emits one row as a segment; its first non-empty row may become the
    /// sheet's headers.
    pub fn row(&mut self, row: &RowCells) -> Flow {
        if row.cells.is_empty() {
            return Flow::Continue;
        }
        self.rows_seen += 1;
        let mut text = String::new();
        let mut spans: Vec<(std::ops::Range<usize>, u32)> = Vec::with_capacity(row.cells.len());
        for (column, value) in &row.cells {
            if !text.is_empty() {
                text.push('\t');
            }
            let start = text.len();
            text.push_str(value);
            spans.push((start..text.len(), *column));
        }
        let fields: Vec<Field<'_>> = match &self.headers {
            Some(headers) => spans
                .iter()
                .filter_map(|(range, column)| {
                    headers.get(column).map(|label| Field {
                        range: range.clone(),
                        label: label.as_str(),
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let sheet = self.sheet.clone();
        let headers = self.headers.clone();
        let row_number = row.row;
        let locate = move |offset: usize| {
            let index = spans
                .partition_point(|(range, _)| range.start <= offset)
                .saturating_sub(1);
            let column = spans.get(index).map_or(0, |(_, column)| *column);
            Locator::Cell {
                sheet: sheet.clone(),
                cell: cell_name(row_number, column),
                header: headers
                    .as_ref()
                    .and_then(|headers| headers.get(&column).cloned()),
            }
        };
        let record = (self.sheet_index << 32) | u64::from(row.row);
        let flow = self
            .out
            .with_fields(&text, None, &fields, RecordScope::Record(record), &locate);

        if self.rows_seen == 1 && self.headers.is_none() {
            let values: Vec<&str> = row.cells.iter().map(|(_, value)| value.as_str()).collect();
            if row.cells.len() >= 2 && crate::csv::looks_like_header(&values) {
                self.headers = Some(row.cells.iter().cloned().collect());
            }
        }
        flow
    }

    /// Emits a cell comment or note under the cell's locator.
    pub fn comment(&mut self, sheet: &str, cell: &str, text: &str) -> Flow {
        let locator = Locator::Cell {
            sheet: sheet.to_string(),
            cell: cell.to_string(),
            header: Some("comment".into()),
        };
        self.out
            .text(text, Some("comment"), RecordScope::Window, locator)
    }
}

/// `A1` notation of a zero-based row and column.
pub fn cell_name(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut column = u64::from(column) + 1;
    while column > 0 {
        let remainder = ((column - 1) % 26) as u8;
        letters.push(b'A' + remainder);
        column = (column - 1) / 26;
    }
    letters.reverse();
    format!(
        "{}{}",
        String::from_utf8_lossy(&letters),
        u64::from(row) + 1
    )
}

/// Parses `A1` notation into a zero-based row and column.
pub fn parse_cell_name(name: &str) -> Option<(u32, u32)> {
    let name = name.trim().trim_start_matches('$');
    let split = name.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = name.split_at(split);
    let mut column = 0u64;
    for letter in letters.trim_end_matches('$').bytes() {
        if !letter.is_ascii_alphabetic() {
            return None;
        }
        column = column * 26 + u64::from(letter.to_ascii_uppercase() - b'A' + 1);
    }
    let row: u64 = digits.parse().ok()?;
    Some((
        u32::try_from(row.checked_sub(1)?).ok()?,
        u32::try_from(column.checked_sub(1)?).ok()?,
    ))
}

/// Renders a cell value as a spreadsheet program shows it, as far as the
/// format is known; `None` for empty and error cells.
pub fn render(value: &DataRef<'_>, format_code: Option<&str>) -> Option<String> {
    match value {
        DataRef::Empty | DataRef::Error(_) => None,
        DataRef::String(text) => Some(text.clone()),
        DataRef::SharedString(text) => Some((*text).to_string()),
        DataRef::Bool(value) => Some(if *value { "TRUE" } else { "FALSE" }.into()),
        DataRef::Int(value) => Some(render_number(*value as f64, format_code)),
        DataRef::Float(value) => Some(render_number(*value, format_code)),
        DataRef::DateTime(value) => Some(render_datetime(value)),
        DataRef::DateTimeIso(text) | DataRef::DurationIso(text) => Some(text.clone()),
    }
}

/// Renders an owned calamine value.
pub fn render_data(value: &calamine::Data) -> Option<String> {
    use calamine::Data;
    match value {
        Data::Empty | Data::Error(_) => None,
        Data::String(text) => Some(text.clone()),
        Data::Bool(value) => Some(if *value { "TRUE" } else { "FALSE" }.into()),
        Data::Int(value) => Some(render_number(*value as f64, None)),
        Data::Float(value) => Some(render_number(*value, None)),
        Data::DateTime(value) => Some(render_datetime(value)),
        Data::DateTimeIso(text) | Data::DurationIso(text) => Some(text.clone()),
    }
}

/// Writes a date-formatted serial as an ISO date, with the time when it is
/// not midnight; durations keep their number.
fn render_datetime(value: &calamine::ExcelDateTime) -> String {
    if value.is_duration() {
        return render_number(value.as_f64(), None);
    }
    let (year, month, day, hour, minute, second, _) = value.to_ymd_hms_milli();
    if (hour, minute, second) == (0, 0, 0) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    }
}

/// Writes a number as displayed: integers without a decimal point, and
/// integers under a zero-padding format (`00000`, `000-00-0000`) padded and
/// punctuated as the format specifies.
pub fn render_number(value: f64, format_code: Option<&str>) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        let integer = value as i64;
        if let Some(code) = format_code
            && integer >= 0
            && let Some(shown) = apply_digit_format(integer as u64, code)
        {
            return shown;
        }
        return integer.to_string();
    }
    // Spreadsheet programs show at most 15 significant digits, so binary
    // rounding noise (1081.2800000000002) is not shown.
    let rounded: f64 = format!("{value:.14e}").parse().unwrap_or(value);
    rounded.to_string()
}

/// Applies a number format made only of digit placeholders (`0`, `#`) and
/// literal text, such as `00000`, `000-00-0000` or `[<=9999999]###-####;(###) ###-####`.
/// Returns `None` for other formats (decimals, percentages, dates, scientific).
pub(crate) fn apply_digit_format(value: u64, code: &str) -> Option<String> {
    let section = pick_section(value, code)?;
    let mut pattern: Vec<(bool, char)> = Vec::new(); // (is placeholder, char)
    let mut chars = section.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '0' | '#' => pattern.push((true, ch)),
            '"' => {
                for quoted in chars.by_ref() {
                    if quoted == '"' {
                        break;
                    }
                    pattern.push((false, quoted));
                }
            }
            '\\' => pattern.push((false, chars.next()?)),
            '-' | ' ' | '(' | ')' | '/' | ':' | '+' => pattern.push((false, ch)),
            '_' => {
                // `_x` adds the width of x as space; nothing shows.
                chars.next();
            }
            _ => return None,
        }
    }
    let placeholders = pattern
        .iter()
        .filter(|(is_placeholder, _)| *is_placeholder)
        .count();
    let zeros = pattern
        .iter()
        .filter(|&&(is_placeholder, ch)| is_placeholder && ch == '0')
        .count();
    if placeholders == 0 {
        return None;
    }
    let digits = value.to_string();
    if zeros == 0 && digits.len() < placeholders && !section.contains('-') {
        return None;
    }
    // Fill placeholders from the right; extra digits go before the first one.
    let mut digits: Vec<char> = digits.chars().collect();
    let mut out: Vec<String> = Vec::with_capacity(pattern.len());
    let mut placeholder_index = placeholders;
    for (is_placeholder, ch) in pattern.iter().rev() {
        if !*is_placeholder {
            out.push(ch.to_string());
            continue;
        }
        placeholder_index -= 1;
        let shown = if placeholder_index == 0 {
            let rest: String = digits.drain(..).collect();
            if rest.is_empty() && *ch == '0' {
                "0".to_string()
            } else {
                rest
            }
        } else {
            match digits.pop() {
                Some(digit) => digit.to_string(),
                None if *ch == '0' => "0".to_string(),
                None => String::new(),
            }
        };
        out.push(shown);
    }
    out.reverse();
    let shown = out.concat();
    Some(shown.trim_start_matches(['-', ' ', ')', '/']).to_string())
}

/// Picks the format section for a non-negative value, honouring a leading
/// `[<=N]`-style condition. Returns `None` when a condition cannot be read.
fn pick_section(value: u64, code: &str) -> Option<String> {
    let sections: Vec<&str> = code.split(';').collect();
    let first = sections.first()?.trim();
    let (condition, body) = split_condition(first);
    let chosen = match condition {
        None => body,
        Some((operator, limit)) => {
            let value = value as f64;
            let holds = match operator {
                "<=" => value <= limit,
                "<" => value < limit,
                ">=" => value >= limit,
                ">" => value > limit,
                "=" => value == limit,
                _ => return None,
            };
            if holds {
                body
            } else {
                split_condition(sections.get(1)?.trim()).1
            }
        }
    };
    Some(chosen.to_string())
}

fn split_condition(section: &str) -> (Option<(&str, f64)>, &str) {
    if let Some(rest) = section.strip_prefix('[')
        && let Some(close) = rest.find(']')
    {
        let inside = &rest[..close];
        let body = &rest[close + 1..];
        for operator in ["<=", ">=", "<", ">", "="] {
            if let Some(number) = inside.strip_prefix(operator)
                && let Ok(limit) = number.trim().parse::<f64>()
            {
                return (Some((operator, limit)), body);
            }
        }
    }
    (None, section)
}

/// Extracts an xlsx, xlsm or xlsb workbook.
pub fn extract_ooxml_workbook(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
    sink: &mut dyn crate::Sink,
) -> Outcome {
    if let Err(why) = package::check_expansion(bytes, limits) {
        return package::fallback_as_zip(bytes, format, &why, limits, sink);
    }
    let mut package = match Package::open(bytes, limits) {
        Ok(package) => package,
        Err(why) => return Outcome::with(format, Coverage::Error, why),
    };
    let binary = package.has("xl/workbook.bin");
    let properties = package::ooxml_properties(&mut package);
    let mut binary_book = if binary {
        xlsb::Workbook::read(&mut package)
    } else {
        xlsb::Workbook::default()
    };
    let comments = if binary {
        binary_book.comments(&mut package, limits)
    } else {
        xlsx_comments(&mut package)
    };

    let mut out = Emitter::new(sink);
    if out.properties(&properties, PROPERTIES_RECORD) == Flow::Stop {
        return Outcome::stopped(format);
    }
    let result = if binary {
        read_xlsb(bytes, &mut out, limits, &mut binary_book)
    } else {
        read_xlsx(bytes, &mut out, limits)
    };
    let mut outcome = match result {
        Ok(outcome) => outcome,
        Err(SheetError::Encrypted) => {
            return Outcome::with(
                format,
                Coverage::Encrypted,
                "password-protected workbook; not examined",
            );
        }
        Err(SheetError::Parse(why)) => {
            return package::fallback_as_zip(
                bytes,
                format,
                &format!("workbook could not be parsed ({why})"),
                limits,
                sink,
            );
        }
    };
    outcome.format = if binary { Format::Xlsb } else { format };
    if outcome.stopped {
        return outcome;
    }

    for (sheet, cell, text) in &comments {
        let mut writer = SheetWriter::new(&mut out, u64::MAX);
        if writer.comment(sheet, cell, text) == Flow::Stop {
            return Outcome::stopped(format);
        }
    }
    if package::emit_external_targets(&mut package, &mut out) == Flow::Stop {
        return Outcome::stopped(format);
    }
    if embedded(&mut package, &mut out) == Flow::Stop {
        return Outcome::stopped(format);
    }
    outcome
}

fn embedded(package: &mut Package<'_, '_>, out: &mut Emitter<'_>) -> Flow {
    package::embedded_children(package, &["xl/embeddings/"], out.sink)
}

enum SheetError {
    Encrypted,
    Parse(String),
}

/// Ends a workbook read: partial when the cell limit stopped it.
fn workbook_outcome(
    format: Format,
    writer: &SheetWriter<'_, '_>,
    limit_sheet: Option<String>,
) -> Outcome {
    match limit_sheet {
        Some(sheet) => Outcome::with(
            format,
            Coverage::Partial,
            format!(
                "cell limit of {} reached in sheet {sheet:?}; later cells were not examined",
                writer.max_cells
            ),
        ),
        None => Outcome::complete(format),
    }
}

fn read_xlsx(bytes: &[u8], out: &mut Emitter<'_>, limits: &Limits) -> Result<Outcome, SheetError> {
    let mut workbook: calamine::Xlsx<_> = match calamine::Xlsx::new(Cursor::new(bytes)) {
        Ok(workbook) => workbook,
        Err(calamine::XlsxError::Password) => return Err(SheetError::Encrypted),
        Err(err) => return Err(SheetError::Parse(err.to_string())),
    };
    let names = workbook.sheet_names();
    let defined = workbook.defined_names().to_vec();
    let mut writer = SheetWriter::new(out, limits.max_cells);
    let mut limit_sheet = None;
    'sheets: for name in names {
        writer.start_sheet(&name);
        let mut reader = match workbook.worksheet_cells_reader(&name) {
            Ok(reader) => reader,
            // Chart sheets and dialog sheets have no cells.
            Err(_) => continue,
        };
        let styles: Vec<Option<String>> = reader
            .styles()
            .iter()
            .map(|style| {
                style
                    .number_format
                    .as_ref()
                    .map(|format| format.format_code.clone())
            })
            .collect();
        let mut row = RowCells::default();
        loop {
            let (cell, style) = match reader.next_cell_with_style_id() {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(err) => return Err(SheetError::Parse(err.to_string())),
            };
            let (row_index, column) = cell.get_position();
            if row_index != row.row && !row.cells.is_empty() {
                if writer.row(&row) == Flow::Stop {
                    return Ok(Outcome::stopped(Format::Xlsx));
                }
                row.cells.clear();
            }
            row.row = row_index;
            let format_code = styles.get(style).and_then(|code| code.as_deref());
            if let Some(text) = render(cell.get_value(), format_code) {
                if !writer.admit_cell() {
                    limit_sheet = Some(name.clone());
                    break 'sheets;
                }
                row.cells.push((column, text));
            }
        }
        if writer.row(&row) == Flow::Stop {
            return Ok(Outcome::stopped(Format::Xlsx));
        }
    }
    if limit_sheet.is_none() && defined_names(&mut writer, &defined) == Flow::Stop {
        return Ok(Outcome::stopped(Format::Xlsx));
    }
    Ok(workbook_outcome(Format::Xlsx, &writer, limit_sheet))
}

/// Reads an xlsb workbook: calamine decodes the full cell records, and the
/// sheet's own record walk ([`xlsb::SheetCells`]) supplies each cell's number
/// format and the short and rich-string cells calamine skips, in file order.
fn read_xlsb(
    bytes: &[u8],
    out: &mut Emitter<'_>,
    limits: &Limits,
    book: &mut xlsb::Workbook,
) -> Result<Outcome, SheetError> {
    let mut workbook: calamine::Xlsb<_> = match calamine::Xlsb::new(Cursor::new(bytes)) {
        Ok(workbook) => workbook,
        Err(calamine::XlsbError::Password) => return Err(SheetError::Encrypted),
        Err(err) => return Err(SheetError::Parse(err.to_string())),
    };
    let context = XlsbContext {
        bytes,
        limits,
        is_1904: workbook.has_1904_epoch(),
    };
    let names = workbook.sheet_names();
    let defined = workbook.defined_names().to_vec();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).ok();
    let mut writer = SheetWriter::new(out, limits.max_cells);
    let mut limit_sheet = None;
    for name in names {
        writer.start_sheet(&name);
        let mut reader = match workbook.worksheet_cells_reader(&name) {
            Ok(reader) => reader,
            Err(_) => continue,
        };
        let records = match (archive.as_mut(), book.sheet_part(&name)) {
            (Some(archive), Some(part)) => xlsb::open_sheet(archive, part, limits),
            _ => None,
        };
        let next_cell = || reader.next_cell();
        match read_xlsb_sheet(next_cell, records, &mut writer, book, &context)? {
            CellFlow::Continue => {}
            CellFlow::Stop => return Ok(Outcome::stopped(Format::Xlsx)),
            CellFlow::Limit => {
                limit_sheet = Some(name.clone());
                break;
            }
        }
    }
    if limit_sheet.is_none() && defined_names(&mut writer, &defined) == Flow::Stop {
        return Ok(Outcome::stopped(Format::Xlsx));
    }
    Ok(workbook_outcome(Format::Xlsx, &writer, limit_sheet))
}

/// The workbook bytes and settings that rendering an xlsb record needs.
struct XlsbContext<'b> {
    bytes: &'b [u8],
    limits: &'b Limits,
    is_1904: bool,
}

/// Reads one xlsb sheet, merging calamine's cells (`next_cell`) with the
/// sheet's record walk. Without a walk, every number shows plain.
fn read_xlsb_sheet<'v>(
    mut next_cell: impl FnMut() -> Result<Option<calamine::Cell<DataRef<'v>>>, calamine::XlsbError>,
    mut records: Option<xlsb::SheetCells<impl std::io::Read>>,
    writer: &mut SheetWriter<'_, '_>,
    book: &mut xlsb::Workbook,
    context: &XlsbContext<'_>,
) -> Result<CellFlow, SheetError> {
    let mut row = RowCells::default();
    loop {
        let cell = match next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(err) => return Err(SheetError::Parse(err.to_string())),
        };
        let position = cell.get_position();

        // Walk the records up to this cell's own: the cells calamine skipped
        // on the way come first, in file order.
        let mut style = None;
        if let Some(walk) = records.as_mut() {
            let mut matched = false;
            for record in walk.by_ref() {
                if record.read_by_calamine() {
                    matched = (record.row, record.column) == position;
                    style = Some(record.style);
                    break;
                }
                let text = render_xlsb_record(&record, book, context);
                let flow = add_cell(writer, &mut row, (record.row, record.column), text);
                if !matches!(flow, CellFlow::Continue) {
                    return Ok(flow);
                }
            }
            if !matched {
                // The walk lost step with calamine (a damaged record), so the
                // rest of the sheet shows plain numbers.
                tracing::trace!(
                    "xlsb cell records out of step with calamine; the rest of the sheet shows plain numbers"
                );
                records = None;
                style = None;
            }
        }

        let format_code = style.and_then(|style| book.styles.format_code(style));
        let text = render(cell.get_value(), format_code);
        let flow = add_cell(writer, &mut row, position, text);
        if !matches!(flow, CellFlow::Continue) {
            return Ok(flow);
        }
    }

    // Cells skipped by calamine after its last cell.
    for record in records.into_iter().flatten() {
        if record.read_by_calamine() {
            continue;
        }
        let text = render_xlsb_record(&record, book, context);
        let flow = add_cell(writer, &mut row, (record.row, record.column), text);
        if !matches!(flow, CellFlow::Continue) {
            return Ok(flow);
        }
    }
    if writer.row(&row) == Flow::Stop {
        return Ok(CellFlow::Stop);
    }
    Ok(CellFlow::Continue)
}

/// Result of adding a cell to a row.
enum CellFlow {
    Continue,
    Stop,
    /// The workbook's cell limit was reached, so the cell was not added.
    Limit,
}

/// Adds a rendered cell to the row being built, emitting the row before it
/// when the cell starts a new one. `None` (an empty cell) adds nothing.
fn add_cell(
    writer: &mut SheetWriter<'_, '_>,
    row: &mut RowCells,
    (row_index, column): (u32, u32),
    text: Option<String>,
) -> CellFlow {
    if row_index != row.row && !row.cells.is_empty() {
        if writer.row(row) == Flow::Stop {
            return CellFlow::Stop;
        }
        row.cells.clear();
    }
    row.row = row_index;
    let Some(text) = text else {
        return CellFlow::Continue;
    };
    if !writer.admit_cell() {
        return CellFlow::Limit;
    }
    row.cells.push((column, text));
    CellFlow::Continue
}

/// Renders a cell decoded from its xlsb record, as [`render`] renders
/// calamine's values: dates by their number format, numbers as displayed.
fn render_xlsb_record(
    record: &xlsb::CellRecord,
    book: &mut xlsb::Workbook,
    context: &XlsbContext<'_>,
) -> Option<String> {
    use calamine::{ExcelDateTime, ExcelDateTimeType};
    let format = book.styles.number_format(record.style);
    match &record.value {
        xlsb::CellValue::Empty => None,
        xlsb::CellValue::Number(number) => {
            let kind = format.map_or(xlsb::NumberKind::Number, xlsb::number_kind);
            let value = match kind {
                xlsb::NumberKind::Number => DataRef::Float(*number),
                xlsb::NumberKind::DateTime => DataRef::DateTime(ExcelDateTime::new(
                    *number,
                    ExcelDateTimeType::DateTime,
                    context.is_1904,
                )),
                xlsb::NumberKind::Duration => DataRef::DateTime(ExcelDateTime::new(
                    *number,
                    ExcelDateTimeType::TimeDelta,
                    context.is_1904,
                )),
            };
            render(&value, format.and_then(|format| format.code))
        }
        xlsb::CellValue::String(text) => Some(text.clone()),
        xlsb::CellValue::SharedString(index) => book
            .shared_string(context.bytes, *index, context.limits)
            .map(str::to_string),
        xlsb::CellValue::Bool(value) => Some(if *value { "TRUE" } else { "FALSE" }.into()),
    }
}

/// Emits defined names (`PatientList` → `Sheet1!$A$1:$C$9`) as properties.
fn defined_names(writer: &mut SheetWriter<'_, '_>, defined: &[(String, String)]) -> Flow {
    for (name, formula) in defined {
        let text = format!("{name} = {formula}");
        let locator = Locator::Property {
            name: format!("defined name {name}"),
        };
        if writer
            .out
            .text(&text, Some("defined name"), RecordScope::Window, locator)
            == Flow::Stop
        {
            return Flow::Stop;
        }
    }
    Flow::Continue
}

fn encrypted_xls(format: Format, method: &str) -> Outcome {
    Outcome::with(
        format,
        Coverage::Encrypted,
        format!("password-protected .xls workbook ({method}); content not examined"),
    )
}

/// Extracts a legacy .xls workbook (BIFF5 or BIFF8) from an OLE2 file.
pub fn extract_xls(bytes: &[u8], limits: &Limits, sink: &mut dyn crate::Sink) -> Outcome {
    let format = Format::Ole2;

    // calamine parses every sheet when it opens the file and holds each
    // sheet's whole bounding box, so a few far-apart cells could cost
    // gigabytes. NOTE: the budget of four times the cell limit (about 640 MB
    // at calamine's 32 bytes per cell with the default limit) is an estimate.
    let span = match biff::cell_span(bytes, limits) {
        Ok(span) => span,
        Err(method) => return encrypted_xls(format, method),
    };
    let budget = limits.max_cells.saturating_mul(4);
    if span > budget {
        let claimed = match span {
            u64::MAX => {
                "a DIMENSIONS record claims more rows or columns than an .xls can hold".to_string()
            }
            cells => format!("its sheets span {cells} cells between their first and last cells"),
        };
        return Outcome::with(
            format,
            Coverage::Skipped,
            format!(
                "not read because {claimed}, over the limit of {budget} cells held in memory for .xls files"
            ),
        );
    }
    let extras = biff::read_extras(bytes, limits);
    let mut options = calamine::XlsOptions::default();
    options.force_codepage = extras.assumed_codepage;
    let opened = calamine::Xls::new_with_options(Cursor::new(bytes), options);
    let mut workbook: calamine::Xls<_> = match opened {
        Ok(workbook) => workbook,
        Err(calamine::XlsError::Password) => {
            return encrypted_xls(format, "XOR obfuscation or RC4, weak legacy ciphers");
        }
        Err(err) => {
            return Outcome::with(
                format,
                Coverage::Error,
                format!("invalid .xls workbook: {err}"),
            );
        }
    };
    let mut out = Emitter::new(sink);
    if let Ok(properties) = workbook.workbook_properties() {
        let list = workbook_property_list(&properties);
        if out.properties(&list, PROPERTIES_RECORD) == Flow::Stop {
            return Outcome::stopped(format);
        }
    }
    let names = workbook.sheet_names();
    let defined = workbook.defined_names().to_vec();
    let mut writer = SheetWriter::new(&mut out, limits.max_cells);
    let mut limit_sheet = None;
    'sheets: for name in names {
        writer.start_sheet(&name);
        let Ok(range) = workbook.worksheet_range(&name) else {
            continue;
        };
        let (first_row, first_column) = range.start().unwrap_or((0, 0));
        for (offset, cells) in range.rows().enumerate() {
            let mut row = RowCells {
                row: first_row + offset as u32,
                cells: Vec::new(),
            };
            for (column, value) in cells.iter().enumerate() {
                let position = (first_row + offset as u32, first_column + column as u32);
                let format_code = extras.format_code(&name, position);
                let rendered = match value {
                    calamine::Data::Float(number) => Some(render_number(*number, format_code)),
                    calamine::Data::Int(number) => Some(render_number(*number as f64, format_code)),
                    // calamine 0.38 reads only format ids 164 and up as custom
                    // formats, so a BIFF5 custom format numbered 50 to 58 (as
                    // Gnumeric numbers them) passes for a built-in date format.
                    // A digit format has no date part.
                    calamine::Data::DateTime(date) if format_code.is_some() => {
                        Some(render_number(date.as_f64(), format_code))
                    }
                    other => render_data(other),
                };
                if let Some(text) = rendered {
                    if !writer.admit_cell() {
                        limit_sheet = Some(name.clone());
                        break 'sheets;
                    }
                    row.cells.push((first_column + column as u32, text));
                }
            }
            if writer.row(&row) == Flow::Stop {
                return Outcome::stopped(format);
            }
        }
    }
    if limit_sheet.is_none() && defined_names(&mut writer, &defined) == Flow::Stop {
        return Outcome::stopped(format);
    }
    for (sheet, cell, text) in &extras.notes {
        if writer.comment(sheet, cell, text) == Flow::Stop {
            return Outcome::stopped(format);
        }
    }
    workbook_outcome(format, &writer, limit_sheet)
}

fn workbook_property_list(properties: &calamine::WorkbookProperties) -> Vec<(String, String)> {
    let fields = [
        ("creator", &properties.creator),
        ("lastModifiedBy", &properties.last_modified_by),
        ("title", &properties.title),
        ("subject", &properties.subject),
        ("description", &properties.description),
        ("keywords", &properties.keywords),
        ("category", &properties.category),
        ("company", &properties.company),
        ("manager", &properties.manager),
    ];
    fields
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|value| (name.to_string(), value.clone()))
        })
        .filter(|(_, value)| !value.trim().is_empty())
        .collect()
}

/// Reads the cell comments and notes of an xlsx workbook as (sheet, cell, text),
/// following the workbook's and each sheet's relationships.
fn xlsx_comments(package: &mut Package<'_, '_>) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let Some(Ok(workbook)) = package.part("xl/workbook.xml") else {
        return found;
    };
    let workbook_rels = match package.part("xl/_rels/workbook.xml.rels") {
        Some(Ok(rels)) => package::relationships(&rels),
        _ => return found,
    };
    for (sheet_name, relationship) in sheet_relationships(&workbook) {
        let Some((_, target)) = workbook_rels.get(&relationship) else {
            continue;
        };
        let sheet_part = package::resolve_target("xl/workbook.xml", target);
        let Some(Ok(sheet_rels)) = package.part(&package::rels_name(&sheet_part)) else {
            continue;
        };
        for (kind, target) in package::relationships(&sheet_rels).into_values() {
            if !(kind.ends_with("/comments") || kind.ends_with("/threadedComment")) {
                continue;
            }
            let comments_part = package::resolve_target(&sheet_part, &target);
            if let Some(Ok(comments)) = package.part(&comments_part) {
                for (cell, text) in comment_texts(&comments) {
                    found.push((sheet_name.clone(), cell, text));
                }
            }
        }
    }
    found
}

/// Returns the (name, relationship id) of each `<sheet>` in `xl/workbook.xml`.
fn sheet_relationships(workbook: &[u8]) -> Vec<(String, String)> {
    let mut sheets = Vec::new();
    let mut reader = xml::reader(workbook);
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(element) | Event::Empty(element))
                if element.local_name().as_ref() == b"sheet" =>
            {
                if let (Some(name), Some(id)) =
                    (xml::attr(&element, b"name"), xml::attr(&element, b"id"))
                {
                    sheets.push((name, id));
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buffer.clear();
    }
    sheets
}

/// Returns the (cell, text) of each `<comment ref="B2">` or `<threadedComment ref="B2">`.
fn comment_texts(bytes: &[u8]) -> Vec<(String, String)> {
    let mut comments = Vec::new();
    let mut reader = xml::reader(bytes);
    let mut buffer = Vec::new();
    let mut current: Option<String> = None;
    let mut text = String::new();
    // Comment text sits in `<text>`; other children (anchors, shape
    // properties) hold layout numbers.
    let mut in_text = 0u32;
    loop {
        let event = match reader.read_event_into(&mut buffer) {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match &event {
            Event::Start(element) if element.local_name().as_ref() == b"text" => in_text += 1,
            Event::End(element) if element.local_name().as_ref() == b"text" => {
                in_text = in_text.saturating_sub(1);
            }
            Event::Start(element)
                if matches!(
                    element.local_name().as_ref(),
                    b"comment" | b"threadedComment"
                ) =>
            {
                current = xml::attr(element, b"ref");
                text.clear();
            }
            Event::End(element)
                if matches!(
                    element.local_name().as_ref(),
                    b"comment" | b"threadedComment"
                ) =>
            {
                if let Some(cell) = current.take() {
                    comments.push((cell, text.trim().to_string()));
                }
            }
            Event::End(element) if element.local_name().as_ref() == b"p" => text.push('\n'),
            other => {
                if current.is_some() && in_text > 0 {
                    xml::push_text(other, &mut text);
                }
            }
        }
        buffer.clear();
    }
    comments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_names_round_trip() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(3, 2), "C4");
        assert_eq!(cell_name(0, 25), "Z1");
        assert_eq!(cell_name(0, 26), "AA1");
        assert_eq!(cell_name(9, 16383), "XFD10");
        assert_eq!(parse_cell_name("XFD10"), Some((9, 16383)));
        assert_eq!(parse_cell_name("$C$4"), Some((3, 2)));
        assert_eq!(parse_cell_name("4C"), None);
    }

    #[test]
    fn zero_padded_formats_show_leading_zeros() {
        assert_eq!(render_number(2134.0, Some("00000")), "02134");
        assert_eq!(
            render_number(12345678.0, Some("000-00-0000")),
            "012-34-5678"
        );
        assert_eq!(
            render_number(234567890.0, Some("000\\-00\\-0000")),
            "234-56-7890"
        );
        assert_eq!(render_number(21340001.0, Some("00000-0000")), "02134-0001");
        assert_eq!(
            render_number(
                6175550199.0,
                Some("[<=9999999]###-####;\\(###\\)\\ ###-####")
            ),
            "(617) 555-0199"
        );
        assert_eq!(render_number(42.0, Some("\"MRN\"000000")), "MRN000042");
    }

    #[test]
    fn other_formats_keep_plain_numbers() {
        assert_eq!(render_number(2134.0, None), "2134");
        assert_eq!(render_number(2134.0, Some("General")), "2134");
        assert_eq!(render_number(0.25, Some("0%")), "0.25");
        assert_eq!(render_number(1.5, Some("00000")), "1.5");
        assert_eq!(render_number(1081.2800000000002, None), "1081.28");
    }
}
