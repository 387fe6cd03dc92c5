//! Hostile and damaged inputs: every one must end in a coverage state with a
//! reason, within bounded time, without the caller seeing a panic.

use phiscan_core::Coverage;
use phiscan_extract::{
    Child, Flow, Format, Input, Limits, Outcome, SNIFF_LEN, Segment, Sink, Sniffed, extract, sniff,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest time one damaged fixture may take to extract in a debug build.
const TIME_BOUND: Duration = Duration::from_secs(20);

/// Extracts children in turn, like the engine, up to a small depth.
struct Recursing {
    depth: u32,
    limits: Limits,
    segments: u64,
    children: Vec<(String, Coverage, Option<String>)>,
}

impl Recursing {
    fn new(limits: Limits) -> Recursing {
        Recursing {
            depth: 0,
            limits,
            segments: 0,
            children: Vec::new(),
        }
    }
}

impl Sink for Recursing {
    fn segment(&mut self, _segment: &Segment<'_>) -> Flow {
        self.segments += 1;
        Flow::Continue
    }

    fn child(&mut self, child: Child<'_>) -> Flow {
        let outcome = match child.unreadable {
            Some((coverage, reason)) => (coverage, Some(reason)),
            None if self.depth >= 3 => (Coverage::Skipped, None),
            None => {
                let sniffed = sniff(
                    &child.data[..child.data.len().min(SNIFF_LEN)],
                    child.data.len() as u64,
                );
                let mut nested = Recursing::new(self.limits.clone());
                nested.depth = self.depth + 1;
                let outcome = extract(Input::Bytes(child.data), sniffed, &self.limits, &mut nested);
                self.segments += nested.segments;
                (outcome.coverage, outcome.reason)
            }
        };
        self.children
            .push((child.name.to_string(), outcome.0, outcome.1));
        Flow::Continue
    }
}

fn run(bytes: &[u8], limits: &Limits) -> (Outcome, Recursing) {
    let sniffed = sniff(&bytes[..bytes.len().min(SNIFF_LEN)], bytes.len() as u64);
    run_as(bytes, sniffed, limits)
}

fn run_as(bytes: &[u8], sniffed: Sniffed, limits: &Limits) -> (Outcome, Recursing) {
    let mut sink = Recursing::new(limits.clone());
    let outcome = extract(Input::Bytes(bytes), sniffed, limits, &mut sink);
    (outcome, sink)
}

fn forced(format: Format) -> Sniffed {
    let mut sniffed = sniff(b"", 0);
    sniffed.format = format;
    sniffed
}

fn fixture_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/share");
    let mut files = Vec::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A small deterministic byte scrambler (xorshift), so failures replay.
fn corrupt(bytes: &[u8], seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = bytes.to_vec();
    for _ in 0..(out.len() / 64).max(4) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = (state as usize) % out.len().max(1);
        if let Some(byte) = out.get_mut(index) {
            *byte ^= (state >> 32) as u8 | 1;
        }
    }
    out
}

fn assert_recorded(name: &str, outcome: &Outcome, started: Instant) {
    assert!(
        started.elapsed() < TIME_BOUND,
        "{name}: took {:?}",
        started.elapsed()
    );
    if outcome.coverage != Coverage::Complete {
        assert!(
            outcome
                .reason
                .as_deref()
                .is_some_and(|reason| !reason.is_empty()),
            "{name}: {outcome:?} without a reason"
        );
    }
}

#[test]
fn truncated_fixtures_end_with_a_reason() {
    let files = fixture_files();
    assert!(files.len() > 20, "fixtures missing");
    let limits = Limits::default();
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        for fraction in [10, 50, 90] {
            let cut = &bytes[..bytes.len() * fraction / 100];
            let started = Instant::now();
            let (outcome, _) = run(cut, &limits);
            assert_recorded(
                &format!("{} cut at {fraction}%", path.display()),
                &outcome,
                started,
            );
        }
    }
}

#[test]
fn corrupted_fixtures_end_with_a_reason() {
    let limits = Limits::default();
    for path in fixture_files() {
        let bytes = std::fs::read(&path).unwrap();
        for seed in [1, 2] {
            let damaged = corrupt(&bytes, seed);
            let started = Instant::now();
            let (outcome, _) = run(&damaged, &limits);
            assert_recorded(
                &format!("{} corrupted ({seed})", path.display()),
                &outcome,
                started,
            );
        }
    }
}

#[test]
fn garbage_under_every_format_is_recorded() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let formats = [
        Format::Zip,
        Format::Gzip,
        Format::Bzip2,
        Format::Tar,
        Format::Xlsx,
        Format::Docx,
        Format::Pptx,
        Format::Odt,
        Format::Ods,
        Format::Odp,
        Format::Ole2,
        Format::Pdf,
        Format::Rtf,
        Format::Dicom,
        Format::Hl7v2,
        Format::X12,
        Format::Json,
        Format::Xml,
    ];
    for format in formats {
        let started = Instant::now();
        let (outcome, _) = run_as(&garbage, forced(format), &Limits::default());
        assert_recorded(format.name(), &outcome, started);
        let parsed_as_text = matches!(
            format,
            Format::Hl7v2 | Format::X12 | Format::Json | Format::Xml | Format::Rtf
        );
        if !parsed_as_text {
            assert_ne!(
                outcome.coverage,
                Coverage::Complete,
                "{}: garbage called complete",
                format.name()
            );
        }
    }
}

fn zip_of(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn small_limits() -> Limits {
    Limits {
        max_whole_bytes: 64 << 20,
        max_expanded_bytes: 32 << 20,
        ratio_grace_bytes: 1 << 20,
        max_ratio: 100,
        max_entries: 50,
        ..Limits::default()
    }
}

#[test]
fn zip_bomb_member_is_skipped_by_ratio() {
    let zeros = vec![0u8; 16 << 20];
    let bomb = zip_of(
        &[("notes.txt", b"clinic notes"), ("bomb.txt", &zeros)],
        zip::CompressionMethod::Deflated,
    );
    let started = Instant::now();
    let (outcome, sink) = run(&bomb, &small_limits());
    assert_recorded("zip bomb", &outcome, started);
    assert_eq!(outcome.coverage, Coverage::Partial);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("compression ratio"),
        "{outcome:?}"
    );
    let bomb_member = sink
        .children
        .iter()
        .find(|(name, ..)| name == "bomb.txt")
        .unwrap();
    assert_eq!(bomb_member.1, Coverage::Skipped);
    let notes = sink
        .children
        .iter()
        .find(|(name, ..)| name == "notes.txt")
        .unwrap();
    assert_eq!(notes.1, Coverage::Complete);
}

#[test]
fn zip_limits_on_total_size_and_entries() {
    let text: Vec<u8> = (0..(1 << 20)).map(|i| b'a' + (i % 26) as u8).collect();
    let members: Vec<(String, &[u8])> = (0..8)
        .map(|i| (format!("part{i}.txt"), &text[..]))
        .collect();
    let borrowed: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(name, data)| (name.as_str(), *data))
        .collect();
    let archive = zip_of(&borrowed, zip::CompressionMethod::Stored);
    let limits = Limits {
        max_expanded_bytes: 3 << 20,
        ..small_limits()
    };
    let (outcome, _) = run(&archive, &limits);
    assert_eq!(outcome.coverage, Coverage::Partial);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("expanded-size limit"),
        "{outcome:?}"
    );

    let limits = Limits {
        max_entries: 3,
        ..small_limits()
    };
    let (outcome, sink) = run(&archive, &limits);
    assert_eq!(outcome.coverage, Coverage::Partial);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("member limit of 3"),
        "{outcome:?}"
    );
    assert_eq!(sink.children.len(), 3);
}

#[test]
fn gzip_bomb_is_partial() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b'x'; 32 << 20]).unwrap();
    let bomb = encoder.finish().unwrap();
    let started = Instant::now();
    let (outcome, sink) = run(&bomb, &small_limits());
    assert_recorded("gzip bomb", &outcome, started);
    assert_eq!(outcome.coverage, Coverage::Partial);
    assert_eq!(sink.children[0].1, Coverage::Skipped);
}

#[test]
fn shared_strings_bomb_falls_back_to_parts() {
    let mut strings = b"<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">".to_vec();
    for _ in 0..400_000 {
        strings.extend_from_slice(b"<si><t>aaaaaaaaaaaaaaaaaaaaaaaa</t></si>");
    }
    strings.extend_from_slice(b"</sst>");
    let workbook = br#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let sheet = br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>SSN 234-56-7890</t></is></c></row></sheetData></worksheet>"#;
    let package = zip_of(
        &[
            ("[Content_Types].xml", b"<Types/>"),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", br#"<Relationships><Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#),
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/sharedStrings.xml", &strings),
        ],
        zip::CompressionMethod::Deflated,
    );
    let started = Instant::now();
    let (outcome, sink) = run_as(&package, forced(Format::Xlsx), &small_limits());
    assert_recorded("shared strings bomb", &outcome, started);
    assert_eq!(outcome.coverage, Coverage::Partial);
    assert!(
        outcome.reason.as_deref().unwrap().contains(":1"),
        "{outcome:?}"
    );
    // The sheet itself is still examined, as XML.
    let sheet_member = sink
        .children
        .iter()
        .find(|(name, ..)| name == "xl/worksheets/sheet1.xml")
        .unwrap();
    assert_eq!(sheet_member.1, Coverage::Complete);
}

#[test]
fn ods_claiming_billions_of_cells_stops_at_the_limit() {
    let content = br#"<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table table:name="S"><table:table-row table:number-rows-repeated="1048576"><table:table-cell table:number-columns-repeated="16384" office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
    let package = zip_of(
        &[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", content),
        ],
        zip::CompressionMethod::Deflated,
    );
    let limits = Limits {
        max_cells: 100_000,
        ..Limits::default()
    };
    let started = Instant::now();
    let (outcome, _) = run_as(&package, forced(Format::Ods), &limits);
    assert_recorded("ods cell bomb", &outcome, started);
    assert_eq!(outcome.coverage, Coverage::Partial);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("cell limit of 100000")
    );
}

#[test]
fn xlsx_with_far_apart_cells_is_read_in_bounded_memory() {
    let workbook = br#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let sheet = br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>first</t></is></c></row><row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>last</t></is></c></row></sheetData></worksheet>"#;
    let package = zip_of(
        &[
            ("[Content_Types].xml", b"<Types/>"),
            ("_rels/.rels", br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#),
            ("xl/worksheets/sheet1.xml", sheet),
        ],
        zip::CompressionMethod::Deflated,
    );
    let started = Instant::now();
    let (outcome, sink) = run_as(&package, forced(Format::Xlsx), &Limits::default());
    assert_recorded("far apart cells", &outcome, started);
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");
    assert_eq!(sink.segments, 2);
}

/// A PDF whose page tree points back at itself and whose xref offsets are wrong.
fn cyclic_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend_from_slice(b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
    pdf.extend_from_slice(b"2 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >> endobj\n");
    pdf.extend_from_slice(b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n");
    pdf.extend_from_slice(
        b"4 0 obj << /Length 30 >> stream\nBT /F1 12 Tf (Hello) Tj ET\nendstream endobj\n",
    );
    pdf.extend_from_slice(b"xref\n0 5\n0000000000 65535 f \n0000000999 00000 n \n0000000999 00000 n \n0000000999 00000 n \n0000000999 00000 n \n");
    pdf.extend_from_slice(b"trailer << /Size 5 /Root 1 0 R >>\nstartxref\n9999\n%%EOF\n");
    pdf
}

#[test]
fn pdf_reference_cycle_and_broken_xref_end() {
    let started = Instant::now();
    let (outcome, _) = run(&cyclic_pdf(), &Limits::default());
    assert_recorded("cyclic pdf", &outcome, started);
    assert_ne!(outcome.coverage, Coverage::Complete, "{outcome:?}");
}

#[test]
fn pdf_parser_time_limit_is_recorded() {
    let limits = Limits {
        parse_timeout: Duration::from_millis(0),
        ..Limits::default()
    };
    let pdf = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/share/Scans/visit-summary.pdf"),
    )
    .unwrap();
    let (outcome, _) = run(&pdf, &limits);
    assert_ne!(outcome.coverage, Coverage::Complete);
    assert!(
        outcome.reason.as_deref().unwrap().contains("time limit"),
        "{outcome:?}"
    );
}

#[test]
fn malformed_hl7_and_x12_are_scanned_as_text() {
    let hl7 = b"MSH|^~\\&|A\rPID|||\x01\x02|||\rgarbage line with 234-56-7890\rPID";
    let (outcome, sink) = run_as(hl7, forced(Format::Hl7v2), &Limits::default());
    assert_eq!(outcome.coverage, Coverage::Complete);
    assert!(sink.segments >= 2);

    let x12 = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*^*00501*000000001*0*P*:~NM1*IL*1~REF*SY~~~*~\xff\xfe";
    let (outcome, sink) = run_as(x12, forced(Format::X12), &Limits::default());
    assert_ne!(outcome.coverage, Coverage::Error, "{outcome:?}");
    assert!(sink.segments >= 2);

    let cut = &x12[..40];
    let (outcome, _) = run_as(cut, forced(Format::X12), &Limits::default());
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");
}

/// Finds a BIFF record header (type, length) in a compound file's raw bytes;
/// small workbooks keep their stream in order, so the record can be patched.
fn find_record(bytes: &[u8], kind: u16, length: u16) -> usize {
    let mut header = kind.to_le_bytes().to_vec();
    header.extend_from_slice(&length.to_le_bytes());
    bytes
        .windows(4)
        .position(|window| window == header.as_slice())
        .expect("record present")
}

#[test]
fn xls_with_far_apart_cells_is_skipped() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/share/Billing/claims-2024.xls");
    let original = std::fs::read(path).unwrap();
    let (outcome, _) = run(&original, &Limits::default());
    assert_eq!(outcome.coverage, Coverage::Complete, "{outcome:?}");

    // A NUMBER record moved to row 65535, column 65535.
    let mut far = original.clone();
    let number = find_record(&far, 0x0203, 14);
    far[number + 4..number + 8].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    let started = Instant::now();
    let (outcome, _) = run(&far, &Limits::default());
    assert_recorded("far apart xls cells", &outcome, started);
    assert_eq!(outcome.coverage, Coverage::Skipped, "{outcome:?}");
    assert!(outcome.reason.as_deref().unwrap().contains("span"));

    // A DIMENSIONS record claiming four billion rows.
    let mut claimed = original;
    let dimensions = find_record(&claimed, 0x0200, 14);
    claimed[dimensions + 8..dimensions + 12].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    let (outcome, _) = run(&claimed, &Limits::default());
    assert_eq!(outcome.coverage, Coverage::Skipped, "{outcome:?}");
    assert!(outcome.reason.as_deref().unwrap().contains("DIMENSIONS"));
}

#[test]
fn pdf_object_stream_bomb_is_not_parsed() {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(b"0 0 ").unwrap();
    encoder.write_all(&vec![b' '; 64 << 20]).unwrap();
    let payload = encoder.finish().unwrap();
    let mut pdf = b"%PDF-1.5\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n".to_vec();
    pdf.extend_from_slice(
        format!(
            "3 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length {} >>\nstream\n",
            payload.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&payload);
    pdf.extend_from_slice(b"\nendstream endobj\ntrailer << /Size 4 /Root 1 0 R >>\n%%EOF\n");
    let started = Instant::now();
    let (outcome, _) = run(&pdf, &small_limits());
    assert_recorded("pdf object stream bomb", &outcome, started);
    assert_eq!(outcome.coverage, Coverage::Skipped, "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("decompression bomb")
    );
}

#[test]
fn truncated_zip_reason_gives_advice() {
    let package = zip_of(
        &[("xl/workbook.xml", b"<workbook/>")],
        zip::CompressionMethod::Deflated,
    );
    let truncated = &package[..package.len() / 2];
    let started = Instant::now();
    let (outcome, _) = run_as(truncated, forced(Format::Zip), &Limits::default());
    assert_recorded("truncated zip", &outcome, started);
    assert_eq!(outcome.coverage, Coverage::Error);
    let reason = outcome.reason.as_deref().unwrap();
    assert!(
        reason.contains("damaged or truncated zip archive"),
        "{reason}"
    );
    assert!(
        reason.contains("zip directory at the end of the file is missing"),
        "{reason}"
    );
}
