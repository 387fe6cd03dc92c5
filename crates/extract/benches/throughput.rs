//! Extraction throughput per format, in MB/s of input and items/s.
//!
//!     cargo bench -p phiscan-extract --bench throughput
//!
//! The corpus is generated in memory from a fixed seed. Large synthetic files
//! cover the formats that can be written here: delimited text, HL7, X12, FHIR
//! JSON, XML, xlsx, docx, ods, PDF, zip, gzip and tar. The LibreOffice-made
//! fixtures in `fixtures/share` cover the formats that need an office suite
//! (xls, doc, odt, pptx, rtf), and DICOM. Only extraction is
//! timed: segments reach a sink that counts them, without detection, and
//! container members are extracted in turn as the engine does.

use phiscan_extract::{Child, Flow, Input, Limits, SNIFF_LEN, Segment, Sink, extract, sniff};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Minimum time spent on each format, so small inputs are repeated.
const MIN_TIME: Duration = Duration::from_secs(2);

struct Counting {
    text_bytes: u64,
    segments: u64,
    items: u64,
}

impl Sink for Counting {
    fn segment(&mut self, segment: &Segment<'_>) -> Flow {
        self.text_bytes += segment.text.len() as u64;
        self.segments += 1;
        Flow::Continue
    }

    fn child(&mut self, child: Child<'_>) -> Flow {
        if child.unreadable.is_none() {
            self.items += 1;
            extract_into(child.data, self);
        }
        Flow::Continue
    }
}

fn extract_into(data: &[u8], sink: &mut Counting) {
    let sniffed = sniff(&data[..data.len().min(SNIFF_LEN)], data.len() as u64);
    let outcome = extract(Input::Bytes(data), sniffed, &Limits::default(), sink);
    assert!(outcome.reason.is_none() || !outcome.reason.as_deref().unwrap_or("").contains("panic"));
}

/// A deterministic pseudo-random source (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn ssn(&mut self) -> String {
        format!(
            "{:03}-{:02}-{:04}",
            100 + self.below(660),
            1 + self.below(98),
            1 + self.below(9998)
        )
    }

    fn phone(&mut self) -> String {
        format!("(617) {}-{:04}", 200 + self.below(300), self.below(10_000))
    }

    fn name(&mut self) -> &'static str {
        const NAMES: [&str; 8] = [
            "Alvarez", "Okafor", "Nguyen", "Kowalski", "Brennan", "Haddad", "Moreau", "Delgado",
        ];
        NAMES[self.below(8) as usize]
    }
}

fn csv(rng: &mut Rng, rows: usize) -> Vec<u8> {
    let mut out = String::from("mrn,name,dob,ssn,phone,diagnosis,notes\n");
    for _ in 0..rows {
        out.push_str(&format!(
            "{},{},03/{:02}/19{},{},{},E11.9,follow-up visit scheduled with primary care\n",
            1_000_000 + rng.below(8_999_999),
            rng.name(),
            1 + rng.below(28),
            40 + rng.below(59),
            rng.ssn(),
            rng.phone()
        ));
    }
    out.into_bytes()
}

fn hl7(rng: &mut Rng, messages: usize) -> Vec<u8> {
    let mut out = String::new();
    for index in 0..messages {
        out.push_str(&format!(
            "MSH|^~\\&|LAB|CLINIC|EHR|HARBOR|20240412083000||ORU^R01|M{index}|P|2.5.1\rPID|1||{}^^^H^MR||{}^ANA||19800102|F|||12 OAK ST^^WORCESTER^MA^01608||{}||||||{}\rOBX|1|NM|4548-4^Hemoglobin A1c^LN||7.{}|%|4.0-5.6|H|||F\r",
            rng.below(9_999_999),
            rng.name().to_uppercase(),
            rng.phone(),
            rng.ssn(),
            rng.below(9)
        ));
    }
    out.into_bytes()
}

fn x12(rng: &mut Rng, claims: usize) -> Vec<u8> {
    let mut out = String::from(
        "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*:~\nGS*HC*S*R*20240101*1200*1*X*005010X222A1~\nST*837*0001*005010X222A1~\n",
    );
    for index in 0..claims {
        out.push_str(&format!(
            "HL*{}**22*0~\nNM1*IL*1*{}*ANA****MI*W{}~\nN3*12 OAK ST~\nN4*WORCESTER*MA*01608~\nDMG*D8*19800102*F~\nREF*SY*{}~\nCLM*PCN{index}*100***11:B:1~\nHI*ABK:E119~\n",
            index + 1,
            rng.name().to_uppercase(),
            rng.below(999_999_999),
            rng.ssn().replace('-', "")
        ));
    }
    out.push_str("SE*1*0001~\nGE*1*1~\nIEA*1*000000001~\n");
    out.into_bytes()
}

fn fhir(rng: &mut Rng, patients: usize) -> Vec<u8> {
    let mut entries = Vec::new();
    for index in 0..patients {
        entries.push(format!(
            r#"{{"resource":{{"resourceType":"Patient","id":"p{index}","identifier":[{{"system":"http://hl7.org/fhir/sid/us-ssn","value":"{}"}}],"name":[{{"family":"{}","given":["Ana"]}}],"telecom":[{{"system":"phone","value":"{}"}}],"birthDate":"1980-01-02"}}}}"#,
            rng.ssn(),
            rng.name(),
            rng.phone()
        ));
    }
    format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

fn cda(rng: &mut Rng, sections: usize) -> Vec<u8> {
    let mut out = String::from(
        r#"<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id extension="234-56-7890" root="2.16.840.1.113883.4.1"/></patientRole></recordTarget><component><structuredBody>"#,
    );
    for _ in 0..sections {
        out.push_str(&format!(
            "<component><section><title>Note</title><text>Patient {} seen, phone {}, SSN {}. Assessment: type 2 diabetes E11.9.</text></section></component>",
            rng.name(),
            rng.phone(),
            rng.ssn()
        ));
    }
    out.push_str("</structuredBody></component></ClinicalDocument>");
    out.into_bytes()
}

fn zip_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn xlsx(rng: &mut Rng, rows: usize) -> Vec<u8> {
    let mut sheet = String::from(
        r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for row in 1..=rows {
        sheet.push_str(&format!(
            r#"<row r="{row}"><c r="A{row}"><v>{}</v></c><c r="B{row}" t="inlineStr"><is><t>{}</t></is></c><c r="C{row}" t="inlineStr"><is><t>{}</t></is></c><c r="D{row}" t="inlineStr"><is><t>{}</t></is></c><c r="E{row}" t="inlineStr"><is><t>E11.9</t></is></c></row>"#,
            rng.below(9_999_999),
            rng.name(),
            rng.ssn(),
            rng.phone()
        ));
    }
    sheet.push_str("</sheetData></worksheet>");
    zip_of(&[
        ("[Content_Types].xml".into(), br#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#.to_vec()),
        ("_rels/.rels".into(), br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_vec()),
        ("xl/workbook.xml".into(), br#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Patients" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_vec()),
        ("xl/_rels/workbook.xml.rels".into(), br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_vec()),
        ("xl/worksheets/sheet1.xml".into(), sheet.into_bytes()),
    ])
}

fn docx(rng: &mut Rng, paragraphs: usize) -> Vec<u8> {
    let mut body = String::from(
        r#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>"#,
    );
    for _ in 0..paragraphs {
        body.push_str(&format!(
            "<w:p><w:r><w:t xml:space=\"preserve\">Patient {} called from {} about results; SSN </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>{}</w:t></w:r></w:p>",
            rng.name(),
            rng.phone(),
            rng.ssn()
        ));
    }
    body.push_str("</w:body></w:document>");
    zip_of(&[
        ("[Content_Types].xml".into(), b"<Types/>".to_vec()),
        ("word/document.xml".into(), body.into_bytes()),
    ])
}

fn ods(rng: &mut Rng, rows: usize) -> Vec<u8> {
    let mut content = String::from(
        r#"<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table table:name="Patients">"#,
    );
    for _ in 0..rows {
        content.push_str("<table:table-row>");
        for value in [
            rng.name().to_string(),
            rng.ssn(),
            rng.phone(),
            "E11.9".to_string(),
        ] {
            content.push_str(&format!(r#"<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>"#));
        }
        content.push_str("</table:table-row>");
    }
    content.push_str("</table:table></office:spreadsheet></office:body></office:document-content>");
    zip_of(&[
        (
            "mimetype".into(),
            b"application/vnd.oasis.opendocument.spreadsheet".to_vec(),
        ),
        ("content.xml".into(), content.into_bytes()),
    ])
}

/// Builds a text PDF with one block of Helvetica lines per page.
fn pdf(rng: &mut Rng, pages: usize) -> Vec<u8> {
    let mut objects: Vec<String> = Vec::new();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = (0..pages)
        .map(|page| format!("{} 0 R", 4 + page * 2))
        .collect();
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        kids.join(" ")
    ));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for page in 0..pages {
        let mut text = String::from("BT /F1 10 Tf 50 750 Td 12 TL\n");
        for _ in 0..40 {
            text.push_str(&format!(
                "(Patient {} phone {} SSN {}) Tj T*\n",
                rng.name(),
                rng.phone(),
                rng.ssn()
            ));
        }
        text.push_str("ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + page * 2
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{text}\nendstream",
            text.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer << /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn tar_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, &data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

fn fixtures(extension: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/share");
    let mut found = Vec::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|found| found == extension) {
                found.push(std::fs::read(path).unwrap());
            }
        }
    }
    found
}

fn measure(name: &str, items: &[Vec<u8>]) {
    if items.is_empty() {
        println!("| {name} | no input | | | |");
        return;
    }
    let bytes: u64 = items.iter().map(|item| item.len() as u64).sum();
    let started = Instant::now();
    let mut rounds = 0u64;
    let mut sink = Counting {
        text_bytes: 0,
        segments: 0,
        items: 0,
    };
    while started.elapsed() < MIN_TIME || rounds == 0 {
        for item in items {
            sink.items += 1;
            extract_into(item, &mut sink);
        }
        rounds += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let input_items = items.len() as u64 * rounds;
    println!(
        "| {name} | {} × {:.1} KiB | {:.1} | {:.0} | {:.0} |",
        items.len(),
        bytes as f64 / items.len() as f64 / 1024.0,
        (bytes * rounds) as f64 / seconds / 1e6,
        input_items as f64 / seconds,
        sink.segments as f64 / seconds,
    );
}

fn main() {
    let mut rng = Rng(0x5EED_2026);
    println!("| format | corpus (items × mean size) | MB/s | items/s | segments/s |");
    println!("|---|---|---:|---:|---:|");
    measure("csv", &[csv(&mut rng, 100_000)]);
    measure("hl7v2", &[hl7(&mut rng, 20_000)]);
    measure("x12 837", &[x12(&mut rng, 20_000)]);
    measure("fhir json", &[fhir(&mut rng, 20_000)]);
    measure("xml (c-cda)", &[cda(&mut rng, 20_000)]);
    measure("xlsx", &[xlsx(&mut rng, 50_000)]);
    measure("docx", &[docx(&mut rng, 20_000)]);
    measure("ods", &[ods(&mut rng, 50_000)]);
    measure("pdf (text)", &[pdf(&mut rng, 50)]);
    let members: Vec<(String, Vec<u8>)> = (0..50)
        .map(|index| (format!("m{index}.csv"), csv(&mut rng, 1_000)))
        .collect();
    measure("zip (50 csv)", &[zip_of(&members)]);
    measure("tar (50 csv)", &[tar_of(&members)]);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&csv(&mut rng, 100_000)).unwrap();
    measure("gzip (csv)", &[encoder.finish().unwrap()]);
    for (name, extension) in [
        ("xls (fixtures)", "xls"),
        ("xlsb (fixtures)", "xlsb"),
        ("doc (fixtures)", "doc"),
        ("odt (fixtures)", "odt"),
        ("pptx (fixtures)", "pptx"),
        ("rtf (fixtures)", "rtf"),
        ("pdf (fixtures)", "pdf"),
        ("dicom (fixtures)", "dcm"),
    ] {
        measure(name, &fixtures(extension));
    }
}
