//! Hidden and very hidden worksheets are read like visible ones.

use phiscan_core::{Coverage, Locator};
use phiscan_extract::{Child, Flow, Input, Limits, SNIFF_LEN, Segment, Sink, extract, sniff};
use std::collections::BTreeSet;
use std::io::Write;

/// Collects the sheet names of cell locators.
#[derive(Default)]
struct Sheets(BTreeSet<String>);

impl Sink for Sheets {
    fn segment(&mut self, segment: &Segment<'_>) -> Flow {
        if let Locator::Cell { sheet, .. } = (segment.locate)(0) {
            self.0.insert(sheet);
        }
        Flow::Continue
    }

    fn child(&mut self, _child: Child<'_>) -> Flow {
        Flow::Continue
    }
}

fn sheet_xml(text: &str) -> Vec<u8> {
    format!(
        r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{text}</t></is></c></row></sheetData></worksheet>"#
    )
    .into_bytes()
}

/// Builds an xlsx with a visible, a hidden and a very hidden sheet, marked
/// as Excel marks them in `xl/workbook.xml`.
fn workbook() -> Vec<u8> {
    let workbook = br#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Shown" sheetId="1" r:id="rId1"/><sheet name="Hidden" sheetId="2" state="hidden" r:id="rId2"/><sheet name="VeryHidden" sheetId="3" state="veryHidden" r:id="rId3"/></sheets></workbook>"#;
    let relationships = br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet3.xml"/></Relationships>"#;
    let parts: Vec<(&str, Vec<u8>)> = vec![
        ("[Content_Types].xml", b"<Types/>".to_vec()),
        (
            "_rels/.rels",
            br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_vec(),
        ),
        ("xl/workbook.xml", workbook.to_vec()),
        ("xl/_rels/workbook.xml.rels", relationships.to_vec()),
        ("xl/worksheets/sheet1.xml", sheet_xml("shown")),
        ("xl/worksheets/sheet2.xml", sheet_xml("hidden")),
        ("xl/worksheets/sheet3.xml", sheet_xml("very hidden")),
    ];
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in parts {
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn hidden_sheets_are_read() {
    let bytes = workbook();
    let sniffed = sniff(&bytes[..bytes.len().min(SNIFF_LEN)], bytes.len() as u64);
    let mut sheets = Sheets::default();
    let outcome = extract(
        Input::Bytes(&bytes),
        sniffed,
        &Limits::default(),
        &mut sheets,
    );
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");
    assert!(sheets.0.contains("Shown"), "{:?}", sheets.0);
    assert!(sheets.0.contains("Hidden"), "{:?}", sheets.0);
    assert!(sheets.0.contains("VeryHidden"), "{:?}", sheets.0);
}
