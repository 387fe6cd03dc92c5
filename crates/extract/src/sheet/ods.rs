//! OpenDocument spreadsheets, read from `content.xml` in one streaming pass.
//!
//! calamine's ods reader expands repeated rows and cells into memory and
//! keeps neither the displayed text nor annotations, so this reader walks
//! the XML itself: each cell's displayed text (`<text:p>`, which keeps
//! leading zeros and date formatting as the user sees them), annotations,
//! and named ranges. Repeated empty cells only move the position, so a sheet
//! claiming billions of cells costs nothing; repeated non-empty cells count
//! against the cell limit.

use super::{RowCells, SheetWriter};
use crate::package::{self, Package};
use crate::{Emitter, Flow, Format, Limits, Outcome, PROPERTIES_RECORD, xml};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;
use quick_xml::events::{BytesStart, Event};

/// Extracts an OpenDocument spreadsheet.
pub fn extract(bytes: &[u8], limits: &Limits, sink: &mut dyn crate::Sink) -> Outcome {
    let format = Format::Ods;
    let mut package = match Package::open(bytes, limits) {
        Ok(package) => package,
        Err(why) => return Outcome::with(format, Coverage::Error, why),
    };
    if let Some(reason) = crate::office::odf_encryption(&mut package) {
        return Outcome::with(format, Coverage::Encrypted, reason);
    }
    let properties = package::odf_properties(&mut package);
    let content = match package.part("content.xml") {
        Some(Ok(content)) => content,
        Some(Err(crate::archive::MemberError::Limit(why))) => {
            return package::fallback_as_zip(
                bytes,
                format,
                &format!("content.xml not read: {why}"),
                limits,
                sink,
            );
        }
        Some(Err(crate::archive::MemberError::Io(err))) => {
            return Outcome::with(
                format,
                Coverage::Error,
                format!("content.xml is corrupt: {err}"),
            );
        }
        None => {
            return Outcome::with(
                format,
                Coverage::Error,
                "not a spreadsheet: content.xml is missing",
            );
        }
    };
    let mut out = Emitter::new(sink);
    if out.properties(&properties, PROPERTIES_RECORD) == Flow::Stop {
        return Outcome::stopped(format);
    }
    let mut writer = SheetWriter::new(&mut out, limits.max_cells);
    let outcome = read_content(&content, &mut writer);
    if outcome.coverage == Coverage::Complete
        && package::embedded_children(&mut package, &["Object ", "ObjectReplacements/"], out.sink)
            == Flow::Stop
    {
        return Outcome::stopped(format);
    }
    outcome
}

/// Where the reader is inside the cell being read.
#[derive(Default)]
struct CellState {
    column: u32,
    repeat: u32,
    text: String,
    value: Option<String>,
    paragraphs: u32,
    in_annotation: u32,
    /// Depth inside an annotation's author or date, which are not its text.
    in_annotation_meta: u32,
    annotation: String,
}

fn repeat_of(element: &BytesStart<'_>, name: &[u8]) -> u32 {
    xml::attr(element, name)
        .and_then(|value| value.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}

fn read_content(content: &[u8], writer: &mut SheetWriter<'_, '_>) -> Outcome {
    let format = Format::Ods;
    let mut reader = xml::reader(content);
    let mut buffer = Vec::new();
    let mut sheet = String::new();
    let mut row = RowCells::default();
    let mut row_repeat = 1u32;
    let mut next_row = 0u32;
    let mut next_column = 0u32;
    let mut cell: Option<CellState> = None;
    let mut annotations: Vec<(String, String, String)> = Vec::new();
    let mut named: Vec<(String, String)> = Vec::new();

    loop {
        let event = match reader.read_event_into(&mut buffer) {
            Ok(Event::Eof) => break,
            Ok(event) => event,
            Err(err) => {
                return Outcome::with(
                    format,
                    Coverage::Partial,
                    format!(
                        "content.xml is malformed after {} cells: {err}",
                        writer.cells
                    ),
                );
            }
        };
        let empty = matches!(event, Event::Empty(_));
        match &event {
            Event::Start(element) | Event::Empty(element) => match element.local_name().as_ref() {
                b"table" => {
                    sheet = xml::attr(element, b"name").unwrap_or_default();
                    writer.start_sheet(&sheet);
                    next_row = 0;
                }
                b"table-row" => {
                    row_repeat = repeat_of(element, b"number-rows-repeated");
                    row = RowCells {
                        row: next_row,
                        cells: Vec::new(),
                    };
                    next_column = 0;
                    if empty {
                        next_row = next_row.saturating_add(row_repeat);
                    }
                }
                b"table-cell" | b"covered-table-cell" => {
                    let repeat = repeat_of(element, b"number-columns-repeated");
                    let state = CellState {
                        column: next_column,
                        repeat,
                        value: xml::attr(element, b"value")
                            .or_else(|| xml::attr(element, b"date-value"))
                            .or_else(|| xml::attr(element, b"string-value")),
                        ..CellState::default()
                    };
                    next_column = next_column.saturating_add(repeat);
                    if empty {
                        if let Some(value) = state.value.clone()
                            && place_cell(writer, &mut row, state.column, repeat, value).is_err()
                        {
                            return limit_outcome(writer, &sheet);
                        }
                    } else {
                        cell = Some(state);
                    }
                }
                b"annotation" => {
                    if let Some(state) = cell.as_mut() {
                        state.in_annotation += 1;
                    }
                }
                // LibreOffice writes who made a comment and when (dc:creator,
                // dc:date) inside it, so the date would read as a date of service.
                b"creator" | b"date" => {
                    if let Some(state) = cell.as_mut()
                        && state.in_annotation > 0
                    {
                        state.in_annotation_meta += 1;
                    }
                }
                b"p" | b"h" => {
                    if let Some(state) = cell.as_mut() {
                        let target = if state.in_annotation > 0 {
                            &mut state.annotation
                        } else {
                            &mut state.text
                        };
                        if state.in_annotation == 0 && state.paragraphs > 0
                            || state.in_annotation > 0 && !target.is_empty()
                        {
                            target.push('\n');
                        }
                        if state.in_annotation == 0 {
                            state.paragraphs += 1;
                        }
                    }
                }
                b"s" => push_to_cell(
                    &mut cell,
                    &" ".repeat(repeat_of(element, b"c").min(64) as usize),
                ),
                b"tab" => push_to_cell(&mut cell, "\t"),
                b"line-break" => push_to_cell(&mut cell, "\n"),
                b"named-range" | b"named-expression" => {
                    if let Some(name) = xml::attr(element, b"name") {
                        let target = xml::attr(element, b"cell-range-address")
                            .or_else(|| xml::attr(element, b"expression"))
                            .unwrap_or_default();
                        named.push((name, target));
                    }
                }
                _ => {}
            },
            Event::End(element) => match element.local_name().as_ref() {
                b"table-cell" | b"covered-table-cell" => {
                    if let Some(state) = cell.take() {
                        if !state.annotation.trim().is_empty() {
                            annotations.push((
                                sheet.clone(),
                                super::cell_name(row.row, state.column),
                                state.annotation.clone(),
                            ));
                        }
                        let text = if state.text.trim().is_empty() {
                            state.value.unwrap_or_default()
                        } else {
                            state.text
                        };
                        if !text.trim().is_empty()
                            && place_cell(writer, &mut row, state.column, state.repeat, text)
                                .is_err()
                        {
                            return limit_outcome(writer, &sheet);
                        }
                    }
                }
                b"annotation" => {
                    if let Some(state) = cell.as_mut() {
                        state.in_annotation = state.in_annotation.saturating_sub(1);
                    }
                }
                b"creator" | b"date" => {
                    if let Some(state) = cell.as_mut()
                        && state.in_annotation > 0
                    {
                        state.in_annotation_meta = state.in_annotation_meta.saturating_sub(1);
                    }
                }
                b"table-row" => {
                    // A repeated row with content is the same row several times.
                    let repeats = if row.cells.is_empty() { 1 } else { row_repeat };
                    for repetition in 0..repeats {
                        if repetition > 0 {
                            for _ in 0..row.cells.len() {
                                if !writer.admit_cell() {
                                    return limit_outcome(writer, &sheet);
                                }
                            }
                        }
                        row.row = next_row.saturating_add(repetition);
                        if writer.row(&row) == Flow::Stop {
                            return Outcome::stopped(format);
                        }
                    }
                    next_row = next_row.saturating_add(row_repeat);
                    row.cells.clear();
                }
                _ => {}
            },
            other => {
                if let Some(state) = cell.as_mut()
                    && state.in_annotation_meta == 0
                {
                    let target = if state.in_annotation > 0 {
                        &mut state.annotation
                    } else {
                        &mut state.text
                    };
                    xml::push_text(other, target);
                }
            }
        }
        buffer.clear();
    }

    for (sheet, cell, text) in &annotations {
        if writer.comment(sheet, cell, text) == Flow::Stop {
            return Outcome::stopped(format);
        }
    }
    for (name, target) in &named {
        let text = format!("{name} = {target}");
        let locator = Locator::Property {
            name: format!("defined name {name}"),
        };
        if writer
            .out
            .text(&text, Some("defined name"), RecordScope::Window, locator)
            == Flow::Stop
        {
            return Outcome::stopped(format);
        }
    }
    Outcome::complete(format)
}

fn push_to_cell(cell: &mut Option<CellState>, text: &str) {
    if let Some(state) = cell.as_mut() {
        if state.in_annotation > 0 {
            state.annotation.push_str(text);
        } else {
            state.text.push_str(text);
        }
    }
}

/// Adds a cell (and its repetitions) to the row; fails at the cell limit.
fn place_cell(
    writer: &mut SheetWriter<'_, '_>,
    row: &mut RowCells,
    column: u32,
    repeat: u32,
    text: String,
) -> Result<(), ()> {
    for repetition in 0..repeat {
        if !writer.admit_cell() {
            return Err(());
        }
        row.cells
            .push((column.saturating_add(repetition), text.clone()));
    }
    Ok(())
}

fn limit_outcome(writer: &SheetWriter<'_, '_>, sheet: &str) -> Outcome {
    Outcome::with(
        Format::Ods,
        Coverage::Partial,
        format!(
            "cell limit of {} reached in sheet {sheet:?}; later cells were not examined",
            writer.max_cells
        ),
    )
}
