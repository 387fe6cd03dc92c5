//! Number formats, short cell records and comments of xlsb workbooks,
//! BIFF5 (Excel 95) workbooks, and ods comments, read through `extract`.
//!
//! The corpus tests read the real-world files under the folder named by
//! `PHISCAN_CORPUS` and skip with a note when it is unset.

use calamine::Reader;
use phiscan_core::{Coverage, Locator};
use phiscan_extract::sheet::xlsb;
use phiscan_extract::{
    Child, Flow, Input, Limits, Outcome, SNIFF_LEN, Segment, Sink, extract, sniff,
};
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

/// Cell texts by (sheet, cell), and comments, of one workbook.
#[derive(Default)]
struct Cells {
    values: BTreeMap<(String, String), String>,
    comments: BTreeMap<(String, String), String>,
}

impl Sink for Cells {
    fn segment(&mut self, segment: &Segment<'_>) -> Flow {
        // A row is its cells joined by tabs; a comment is one segment.
        let mut offset = 0;
        for piece in segment.text.split('\t') {
            if let Locator::Cell {
                sheet,
                cell,
                header,
            } = (segment.locate)(offset)
            {
                let target = if header.as_deref() == Some("comment") {
                    &mut self.comments
                } else {
                    &mut self.values
                };
                target.insert((sheet, cell), piece.to_string());
            }
            offset += piece.len() + 1;
        }
        Flow::Continue
    }

    fn child(&mut self, _child: Child<'_>) -> Flow {
        Flow::Continue
    }
}

fn read_cells(bytes: &[u8]) -> (Outcome, Cells) {
    let sniffed = sniff(&bytes[..bytes.len().min(SNIFF_LEN)], bytes.len() as u64);
    let mut cells = Cells::default();
    let outcome = extract(Input::Bytes(bytes), sniffed, &Limits::default(), &mut cells);
    (outcome, cells)
}

fn value<'c>(cells: &'c Cells, sheet: &str, cell: &str) -> Option<&'c str> {
    cells
        .values
        .get(&(sheet.to_string(), cell.to_string()))
        .map(String::as_str)
}

fn fixture(path: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/share");
    std::fs::read(root.join(path)).unwrap()
}

/// Returns a corpus file, or `None` when PHISCAN_CORPUS is unset.
fn corpus(path: &str) -> Option<Vec<u8>> {
    let Some(root) = std::env::var_os("PHISCAN_CORPUS") else {
        eprintln!("PHISCAN_CORPUS is not set; skipping the real-world corpus test");
        return None;
    };
    Some(std::fs::read(PathBuf::from(root).join(path)).unwrap())
}

/// Returns true when `text` has the shape of `pattern`, where `9` is any digit.
fn has_shape(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text
            .chars()
            .zip(pattern.chars())
            .all(|(ch, expected)| match expected {
                '9' => ch.is_ascii_digit(),
                other => ch == other,
            })
}

#[test]
fn xlsb_fixture_reads_short_records_with_formats() {
    let (outcome, cells) = read_cells(&fixture("Billing/intake-2025.xlsb"));
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");

    // SheetJS writes every cell right of another as a short record, so all
    // but column A of each row are read from the sheet's own records.
    for (sheet, rows) in [("Patients", 4), ("Archive", 3)] {
        for row in 1..=rows {
            for column in ["A", "B", "C", "D", "F", "G"] {
                let cell = format!("{column}{row}");
                assert!(value(&cells, sheet, &cell).is_some(), "{sheet}!{cell}");
            }
        }
    }
    assert_eq!(
        value(&cells, "Patients", "E4"),
        None,
        "the row has no phone"
    );

    for (sheet, cell) in [("Patients", "F2"), ("Patients", "F4"), ("Archive", "F3")] {
        let zip = value(&cells, sheet, cell).unwrap();
        assert!(
            has_shape(zip, "09999"),
            "{sheet}!{cell} is not a padded ZIP"
        );
    }
    let ssn = value(&cells, "Patients", "D3").unwrap();
    assert!(
        has_shape(ssn, "999-99-9999"),
        "Patients!D3 has no SSN dashes"
    );
    let birth = value(&cells, "Archive", "C2").unwrap();
    assert!(
        has_shape(birth, "9999-99-99"),
        "Archive!C2 is not an ISO date"
    );

    let commented: Vec<(&str, &str)> = cells
        .comments
        .keys()
        .map(|(sheet, cell)| (sheet.as_str(), cell.as_str()))
        .collect();
    assert_eq!(commented, vec![("Archive", "B2"), ("Patients", "B2")]);
}

/// Encodes an xlsb record header (type, then size, 7 bits per byte) and data.
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

fn real_cell(column: Option<u32>, style: u32, value: f64) -> Vec<u8> {
    let mut data = column.map_or(Vec::new(), |column| column.to_le_bytes().to_vec());
    data.extend_from_slice(&style.to_le_bytes());
    data.extend_from_slice(&value.to_le_bytes());
    // BrtCellReal, or BrtShortReal without a column.
    record(if column.is_some() { 0x0005 } else { 0x0010 }, &data)
}

/// Builds an xlsb whose only sheet contains 1608 under four cell formats: a
/// zero-padding format, a format id without a BrtFmt record, and iStyleRefs
/// past the cell format list, in full and in short records. Its second row
/// has a formula error, then 1608 under the zero-padding format.
fn xlsb_with_broken_styles() -> Vec<u8> {
    let mut workbook = record(0x0083, &[]);
    workbook.extend(record(0x008F, &[]));
    let mut sheet = vec![0u8; 8];
    sheet.extend(wide("rId1"));
    sheet.extend(wide("Intake"));
    workbook.extend(record(0x009C, &sheet));
    workbook.extend(record(0x0090, &[]));
    workbook.extend(record(0x009D, &[0; 26]));
    workbook.extend(record(0x0084, &[]));

    let xf = |format: u16| {
        let mut data = vec![0, 0];
        data.extend_from_slice(&format.to_le_bytes());
        data.extend_from_slice(&[0; 12]);
        record(0x002F, &data)
    };
    let mut styles = record(0x0267, &1u32.to_le_bytes());
    let mut format = 164u16.to_le_bytes().to_vec();
    format.extend(wide("00000"));
    styles.extend(record(0x002C, &format));
    styles.extend(record(0x0268, &[]));
    styles.extend(record(0x0269, &3u32.to_le_bytes()));
    styles.extend(xf(0));
    styles.extend(xf(164));
    styles.extend(xf(200));
    styles.extend(record(0x026A, &[]));

    let mut cells = record(0x0081, &[]);
    let mut dimension = vec![0u8; 16];
    dimension[12] = 4;
    cells.extend(record(0x0094, &dimension));
    cells.extend(record(0x0091, &[]));
    let mut row = 0u32.to_le_bytes().to_vec();
    row.extend_from_slice(&[0; 13]);
    cells.extend(record(0x0000, &row));
    cells.extend(real_cell(Some(0), 1, 1608.0));
    cells.extend(real_cell(None, 2, 1608.0));
    cells.extend(real_cell(None, 7, 1608.0));
    cells.extend(real_cell(Some(4), 0x00FF_FFFF, 1608.0));
    let mut row = 1u32.to_le_bytes().to_vec();
    row.extend_from_slice(&[0; 13]);
    cells.extend(record(0x0000, &row));
    // A formula error (BrtFmlaError: cell, #DIV/0!, flags, empty formula),
    // which calamine skips, before a formatted cell.
    let mut error = vec![0u8; 8];
    error.extend_from_slice(&[0x07, 0, 0, 0, 0, 0, 0]);
    cells.extend(record(0x000B, &error));
    cells.extend(real_cell(Some(1), 1, 1608.0));
    cells.extend(record(0x0092, &[]));
    cells.extend(record(0x0082, &[]));

    let relationships = br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.bin"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.bin"/></Relationships>"#;
    let parts: Vec<(&str, Vec<u8>)> = vec![
        ("[Content_Types].xml", b"<Types/>".to_vec()),
        ("xl/workbook.bin", workbook),
        ("xl/_rels/workbook.bin.rels", relationships.to_vec()),
        ("xl/styles.bin", styles),
        ("xl/worksheets/sheet1.bin", cells),
    ];
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in parts {
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn xlsb_broken_styles_show_plain_numbers() {
    let (outcome, cells) = read_cells(&xlsb_with_broken_styles());
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");
    assert_eq!(value(&cells, "Intake", "A1"), Some("01608"));
    assert_eq!(
        value(&cells, "Intake", "B1"),
        Some("1608"),
        "format without BrtFmt"
    );
    assert_eq!(
        value(&cells, "Intake", "C1"),
        Some("1608"),
        "short record, style past the list"
    );
    assert_eq!(
        value(&cells, "Intake", "E1"),
        Some("1608"),
        "full record, style past the list"
    );
    assert_eq!(value(&cells, "Intake", "A2"), None, "formula error");
    assert_eq!(
        value(&cells, "Intake", "B2"),
        Some("01608"),
        "formats stay in step after a cell calamine skips"
    );
}

/// Returns the format code of every numeric cell of an xlsx, by (sheet, row,
/// column), as calamine reads the xlsx styles.
fn xlsx_format_codes(bytes: &[u8]) -> BTreeMap<(String, u32, u32), String> {
    let mut workbook: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(bytes)).unwrap();
    let mut codes = BTreeMap::new();
    for name in workbook.sheet_names() {
        let mut reader = workbook.worksheet_cells_reader(&name).unwrap();
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
        while let Some((cell, style)) = reader.next_cell_with_style_id().unwrap() {
            let numeric = matches!(
                cell.get_value(),
                calamine::DataRef::Float(_)
                    | calamine::DataRef::Int(_)
                    | calamine::DataRef::DateTime(_)
            );
            if let Some(Some(code)) = styles.get(style)
                && numeric
            {
                let (row, column) = cell.get_position();
                codes.insert((name.clone(), row, column), code.clone());
            }
        }
    }
    codes
}

/// Returns the format code of every numeric cell of an xlsb, as the xlsb
/// record walk finds it.
fn xlsb_format_codes(bytes: &[u8]) -> BTreeMap<(String, u32, u32), String> {
    let limits = Limits::default();
    let mut package = phiscan_extract::package::Package::open(bytes, &limits).unwrap();
    let book = xlsb::Workbook::read(&mut package);
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut codes = BTreeMap::new();
    for (name, part) in &book.sheets {
        let walk = xlsb::open_sheet(&mut archive, part, &limits).unwrap();
        for record in walk.filter(xlsb::CellRecord::is_number) {
            if let Some(code) = book.styles.format_code(record.style) {
                codes.insert((name.clone(), record.row, record.column), code.to_string());
            }
        }
    }
    codes
}

#[test]
fn corpus_xlsb_formats_match_xlsx() {
    // The same workbook saved as xlsx and as xlsb.
    let (Some(xlsx), Some(xlsb)) = (
        corpus("spreadsheet/calamine/date.xlsx"),
        corpus("spreadsheet/calamine/date.xlsb"),
    ) else {
        return;
    };
    let expected = xlsx_format_codes(&xlsx);
    let found = xlsb_format_codes(&xlsb);
    assert_eq!(expected.len(), 6);
    assert_eq!(found, expected);
    let codes: Vec<&str> = found.values().map(String::as_str).collect();
    assert!(codes.contains(&"yyyy\\-mm\\-dd"), "{codes:?}");
    assert!(codes.contains(&"[hh]:mm:ss"), "{codes:?}");

    let (_, from_xlsx) = read_cells(&xlsx);
    let (_, from_xlsb) = read_cells(&xlsb);
    assert_eq!(from_xlsb.values, from_xlsx.values);
}

/// Copies one stream of a compound file into a new compound file of its own.
fn compound_file_with(bytes: &[u8], stream: &str) -> Vec<u8> {
    let mut source = cfb::CompoundFile::open(Cursor::new(bytes)).unwrap();
    let mut data = Vec::new();
    source
        .open_stream(stream)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    let mut target =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new())).unwrap();
    target
        .create_stream(stream)
        .unwrap()
        .write_all(&data)
        .unwrap();
    target.flush().unwrap();
    target.into_inner().into_inner()
}

#[test]
fn corpus_biff5_book_stream_is_read() {
    // This file contains the same workbook twice: BIFF8 in `Workbook` and BIFF5
    // in `Book`. Readers take `Workbook`, so the BIFF5 stream is read from a
    // file of its own.
    let Some(both) = corpus("spreadsheet/calamine/biff5-rich-text-string.xls") else {
        return;
    };
    let biff5 = compound_file_with(&both, "/Book");
    let (outcome, from_biff5) = read_cells(&biff5);
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");
    assert!(
        from_biff5.values.len() > 50,
        "{} cells",
        from_biff5.values.len()
    );
    assert_eq!(value(&from_biff5, "Sheet1", "B4"), Some("McNally"));
    assert_eq!(value(&from_biff5, "Sheet1", "A4"), Some("1788"));

    // Both streams contain the same cells. The one difference: Windows-1252, the
    // BIFF5 stream's code page, has no black square, so Excel stored `?`.
    let (_, from_biff8) = read_cells(&both);
    assert_eq!(from_biff5.values.len(), from_biff8.values.len());
    let differing: Vec<(&(String, String), &str, &str)> = from_biff5
        .values
        .iter()
        .filter_map(|(cell, text)| {
            let other = from_biff8.values.get(cell).map_or("", String::as_str);
            (text != other).then_some((cell, text.as_str(), other))
        })
        .collect();
    assert_eq!(
        differing,
        vec![(
            &("Sheet1".to_string(), "H3".to_string()),
            "ri ? s g \u{2022}rM S \u{2019}",
            "ri \u{25a0} s g \u{2022}rM S \u{2019}"
        )]
    );
}

#[test]
fn biff5_fixture_shows_padded_numbers_and_notes() {
    // Written by Gnumeric, whose BIFF5 custom formats are numbered from 50.
    let (outcome, cells) = read_cells(&fixture("Billing/intake-1996.xls"));
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");
    let sheet = "Intake \u{2013} 1996";
    for row in 2..=4 {
        let zip = value(&cells, sheet, &format!("F{row}")).unwrap();
        assert!(has_shape(zip, "09999"), "F{row} is not a padded ZIP");
        let ssn = value(&cells, sheet, &format!("D{row}")).unwrap();
        assert!(has_shape(ssn, "999-99-9999"), "D{row} has no SSN dashes");
    }
    // The note is longer than one NOTE record can contain.
    let note = &cells.comments[&(sheet.to_string(), "B2".to_string())];
    assert!(note.len() > 2048, "{} bytes", note.len());
    assert!(note.ends_with("on the old chart."));
}

/// A LibreOffice comment names its author and creation date in `dc:creator`
/// and `dc:date`. Only the comment's own paragraphs are its text, so the
/// date is not reported as a date in the sheet.
#[test]
fn ods_comment_omits_author_and_date() {
    let content = br#"<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><office:body><office:spreadsheet><table:table table:name="Visits"><table:table-row><table:table-cell office:value-type="string"><text:p>follow-up</text:p><office:annotation><dc:creator>Front Desk</dc:creator><dc:date>2026-12-05T10:11:12</dc:date><text:p>call back</text:p><text:p>after labs</text:p></office:annotation></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
    let mut package = Vec::new();
    {
        let mut writer = zip::ZipWriter::new(Cursor::new(&mut package));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        writer.start_file("mimetype", stored).unwrap();
        writer
            .write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap();
        writer.start_file("content.xml", stored).unwrap();
        writer.write_all(content).unwrap();
        writer.finish().unwrap();
    }
    let (outcome, cells) = read_cells(&package);
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");
    assert_eq!(value(&cells, "Visits", "A1"), Some("follow-up"));
    assert_eq!(
        cells
            .comments
            .get(&("Visits".to_string(), "A1".to_string()))
            .map(String::as_str),
        Some("call back\nafter labs")
    );
}
