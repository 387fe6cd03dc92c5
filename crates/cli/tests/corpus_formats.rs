//! Acceptance tests for document, archive and healthcare formats, run
//! through the binary.
//!
//! `document_labels_hold` checks every label of `fixtures/labels/documents.jsonl`
//! against a scan of `fixtures/share`. The other tests scan the real-world
//! corpus named by the `PHISCAN_CORPUS` environment variable (files made by
//! other tools, with known edge cases) and skip with a note when it is unset.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Items by location, and findings, of one scan.
struct Scan {
    items: HashMap<String, Value>,
    findings: Vec<Value>,
}

impl Scan {
    fn item(&self, location: &str) -> &Value {
        self.items
            .get(location)
            .unwrap_or_else(|| panic!("no item record for {location}"))
    }

    fn coverage(&self, location: &str) -> &str {
        self.item(location)["coverage"].as_str().unwrap_or("")
    }

    fn reason(&self, location: &str) -> &str {
        self.item(location)["reason"].as_str().unwrap_or("")
    }

    fn findings_at(&self, location: &str) -> impl Iterator<Item = &Value> {
        self.findings
            .iter()
            .filter(move |finding| finding["location"] == location)
    }
}

/// Scans `target` from `cwd` with raw values shown; returns its records.
fn scan(cwd: &Path, target: &str) -> Scan {
    let home = tempfile::tempdir().unwrap();
    let output = home.path().join("scan.jsonl");
    let status = Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .current_dir(cwd)
        .env("PHISCAN_HOME", home.path())
        .args(["scan", target, "--no-db", "--show-values", "--jsonl"])
        .arg(&output)
        .output()
        .unwrap();
    // Exit status 2 means the scan itself failed; 0, 1 and 3 are results.
    assert!(
        status.status.code().is_some_and(|code| code != 2),
        "scan failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut items = HashMap::new();
    let mut findings = Vec::new();
    for line in std::fs::read_to_string(&output).unwrap().lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        if record.get("coverage").is_some() {
            items.insert(record["location"].as_str().unwrap().to_string(), record);
        } else if record.get("rule").is_some() {
            findings.push(record);
        }
    }
    Scan { items, findings }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Returns true when every key of `expected` has the same value in `actual`.
fn is_subset(expected: &Value, actual: &Value) -> bool {
    match expected.as_object() {
        Some(keys) => keys
            .iter()
            .all(|(key, value)| actual.get(key) == Some(value)),
        None => true,
    }
}

#[test]
fn document_labels_hold() {
    let labels = std::fs::read_to_string(fixtures().join("labels/documents.jsonl")).unwrap();
    let scan = scan(&fixtures(), "share");
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in labels.lines() {
        let label: Value = serde_json::from_str(line).unwrap();
        let location = label["location"].as_str().unwrap();
        checked += 1;
        if let Some(category) = label.get("category") {
            let found = scan.findings_at(location).any(|finding| {
                finding["category"] == *category
                    && finding["value"] == label["value"]
                    && is_subset(&label["locator"], &finding["locator"])
            });
            if !found {
                failures.push(format!("finding not found: {line}"));
            }
        } else if label["clean"] == true {
            let complete = scan.items.get(location).map(|item| &item["coverage"]);
            if complete != Some(&Value::from("complete"))
                || scan.findings_at(location).next().is_some()
            {
                failures.push(format!("not clean: {line}"));
            }
        } else if let Some(coverage) = label.get("coverage") {
            let actual = scan.items.get(location).map(|item| &item["coverage"]);
            if actual != Some(coverage) {
                failures.push(format!("coverage {actual:?}: {line}"));
            }
        }
    }
    assert!(checked > 100, "only {checked} labels");
    assert!(
        failures.is_empty(),
        "{} labels failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Returns the corpus scan shared by the tests below, or `None` when
/// PHISCAN_CORPUS is unset.
fn corpus_scan() -> Option<&'static (String, Scan)> {
    static SCAN: OnceLock<Option<(String, Scan)>> = OnceLock::new();
    SCAN.get_or_init(|| {
        let Some(root) = std::env::var_os("PHISCAN_CORPUS") else {
            eprintln!("PHISCAN_CORPUS is not set; skipping the real-world corpus test");
            return None;
        };
        let root = PathBuf::from(root)
            .canonicalize()
            .expect("PHISCAN_CORPUS must name a folder");
        let parent = root.parent().unwrap().to_path_buf();
        let name = root.file_name().unwrap().to_string_lossy().into_owned();
        Some((name.clone(), scan(&parent, &name)))
    })
    .as_ref()
}

/// Location of a corpus file in the corpus scan.
fn at(prefix: &str, path: &str) -> String {
    format!("{prefix}/{path}")
}

#[test]
fn corpus_encrypted_files_are_encrypted() {
    let Some((root, scan)) = corpus_scan() else {
        return;
    };
    for path in [
        "spreadsheet/calamine/pass_protected.xlsx",
        "spreadsheet/calamine/pass_protected.xlsb",
        "spreadsheet/calamine/pass_protected.ods",
        "pdf/generated/rc4_userpw.pdf",
        "pdf/generated/aes256_userpw.pdf",
        "archive/zip2/aes_archive.zip!/secret_data_256",
        "archive/generated/enc.zip!/phi.txt",
    ] {
        assert_eq!(scan.coverage(&at(root, path)), "encrypted", "{path}");
    }
    assert!(
        scan.reason(&at(root, "pdf/generated/rc4_userpw.pdf"))
            .contains("RC4")
    );
    assert!(
        scan.reason(&at(root, "pdf/generated/aes256_userpw.pdf"))
            .contains("AES-256")
    );
    assert!(
        scan.reason(&at(root, "archive/zip2/aes_archive.zip!/secret_data_256"))
            .contains("AES")
    );
    assert!(
        scan.reason(&at(root, "archive/generated/enc.zip!/phi.txt"))
            .contains("ZipCrypto")
    );
    assert!(
        scan.reason(&at(root, "spreadsheet/calamine/pass_protected.xlsx"))
            .contains("AES")
    );
}

#[test]
fn corpus_owner_password_pdfs_are_read() {
    let Some((root, scan)) = corpus_scan() else {
        return;
    };
    for path in [
        "pdf/generated/aes128_owneronly.pdf",
        "pdf/pdfjs/empty_protected.pdf",
    ] {
        let location = at(root, path);
        assert_eq!(scan.coverage(&location), "complete", "{path}");
        assert!(
            scan.reason(&location).contains("owner password only"),
            "{path}"
        );
    }
    let owner_only = at(root, "pdf/generated/aes128_owneronly.pdf");
    assert!(
        scan.findings_at(&owner_only)
            .any(|finding| finding["category"] == "diagnosis")
    );
}

#[test]
fn corpus_damaged_files_are_not_clean() {
    let Some((root, scan)) = corpus_scan() else {
        return;
    };
    let truncated = at(root, "spreadsheet/calamine/too_small.xls");
    assert_eq!(scan.coverage(&truncated), "error");
    let scanned = at(root, "pdf/pdfjs/scan-bad.pdf");
    assert_eq!(scan.coverage(&scanned), "partial");
    assert!(scan.reason(&scanned).contains("no text layer"));
    let rebuilt = at(root, "pdf/pdfjs/xref_command_missing.pdf");
    assert_eq!(scan.coverage(&rebuilt), "partial");
    // A CID encoding that makes pdf-extract panic: recorded, not fatal.
    let panicking = at(root, "pdf/generated/cid_gbk_euc_h_panic.pdf");
    assert_ne!(scan.coverage(&panicking), "complete");
    let bomb = at(root, "spreadsheet/calamine/issue_594_dos.ods");
    assert_eq!(scan.coverage(&bomb), "partial");
    assert!(scan.reason(&bomb).contains("cell limit"));
    assert_eq!(
        scan.coverage(&at(root, "archive/zip2/invalid_offset.zip")),
        "error"
    );
}

#[test]
fn corpus_readable_formats_are_complete() {
    let Some((root, scan)) = corpus_scan() else {
        return;
    };
    for path in [
        "spreadsheet/calamine/any_sheets.xlsx",
        "spreadsheet/calamine/any_sheets.xls",
        "spreadsheet/calamine/any_sheets.xlsb",
        "spreadsheet/calamine/any_sheets.ods",
        "spreadsheet/calamine/biff5-rich-text-string.xls",
        "spreadsheet/calamine/sst_continue.xls",
        "spreadsheet/calamine/vba.xlsm",
        "spreadsheet/calamine/with-annotation.ods",
        "docx/python-docx/comments-rich-para.docx",
        "docx/python-docx/hdr-header-footer.docx",
        "docx/legacy/sample.doc",
        "pdf/pdfjs/prefilled_f1040.pdf",
        "pdf/generated/cid_identity_h.pdf",
        "archive/zip2/chinese.zip",
        "archive/zip2/zip64_demo.zip",
        "hl7v2/cdc/001_ADT_A01.hl7",
        "x12/badx12/X222-ambulance.edi",
        "cda/CCD.xml",
        "fhir/synthea_Roland928_Nienow652.json",
        "dicom/pydicom/test-SR.dcm",
    ] {
        assert_eq!(
            scan.coverage(&at(root, path)),
            "complete",
            "{path}: {}",
            scan.reason(&at(root, path))
        );
    }
}

#[test]
fn corpus_structured_locators() {
    let Some((root, scan)) = corpus_scan() else {
        return;
    };
    let adt = at(root, "hl7v2/cdc/001_ADT_A01.hl7");
    let ssn = scan
        .findings_at(&adt)
        .find(|finding| finding["category"] == "ssn")
        .expect("the ADT message's PID-19 SSN is found");
    assert_eq!(ssn["locator"]["kind"], "hl7");
    assert_eq!(ssn["locator"]["field"], "PID-19");

    let claim = at(root, "x12/badx12/X222-ambulance.edi");
    assert!(
        scan.findings_at(&claim)
            .all(|finding| finding["locator"]["kind"] == "x12")
    );

    let dicom = at(root, "dicom/pydicom/CT_small.dcm");
    assert_eq!(scan.coverage(&dicom), "partial");
    assert!(scan.reason(&dicom).contains("pixel data"));

    let annotated = at(root, "spreadsheet/calamine/any_sheets.xlsx");
    assert_eq!(scan.item(&annotated)["format"], "xlsx");
    let gzip_member = at(root, "dicom/pydicom/zipMR.gz!/zipMR.gzip");
    assert_eq!(scan.item(&gzip_member)["format"], "dicom");
}

#[test]
fn corpus_outlook_messages_are_read() {
    let Some((root, scan)) = corpus_scan() else {
        return;
    };
    let message = at(root, "email/msg/msgreader_contactUnicode.msg");
    assert_eq!(scan.item(&message)["format"], "msg");
    assert_eq!(scan.coverage(&message), "complete");
}

/// Computes a CRC-32 (IEEE) bit by bit, which is fast enough for the few
/// bytes of a test archive.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Builds a zip archive with one stored member.
fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data).to_le_bytes();
    let size = (data.len() as u32).to_le_bytes();
    let name_length = (name.len() as u16).to_le_bytes();
    let mut zip = Vec::new();
    zip.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00");
    zip.extend_from_slice(&crc);
    zip.extend_from_slice(&size);
    zip.extend_from_slice(&size);
    zip.extend_from_slice(&name_length);
    zip.extend_from_slice(&[0, 0]);
    zip.extend_from_slice(name.as_bytes());
    zip.extend_from_slice(data);
    let central = zip.len() as u32;
    zip.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00");
    zip.extend_from_slice(&crc);
    zip.extend_from_slice(&size);
    zip.extend_from_slice(&size);
    zip.extend_from_slice(&name_length);
    // Extra and comment lengths, disk, attributes, local header offset 0.
    zip.extend_from_slice(&[0; 16]);
    zip.extend_from_slice(name.as_bytes());
    let central_size = (zip.len() as u32 - central).to_le_bytes();
    zip.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00");
    zip.extend_from_slice(&central_size);
    zip.extend_from_slice(&central.to_le_bytes());
    zip.extend_from_slice(&[0, 0]);
    zip
}

#[test]
fn deeply_nested_archives_stop_at_the_depth_limit() {
    let mut data = b"mrn,ssn\n4417285,234-56-7890\n".to_vec();
    let mut name = "inner.csv".to_string();
    for level in 0..12 {
        data = stored_zip(&name, &data);
        name = format!("level{level}.zip");
    }
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("nested.zip"), &data).unwrap();
    let scan = scan(folder.path(), "nested.zip");
    assert_eq!(scan.coverage("nested.zip"), "partial");
    let skipped: Vec<&Value> = scan
        .items
        .values()
        .filter(|item| item["coverage"] == "skipped")
        .collect();
    assert_eq!(
        skipped.len(),
        1,
        "one member past the depth limit is skipped"
    );
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("nested deeper")
    );
    assert!(
        scan.findings.is_empty(),
        "the CSV below the limit is not read"
    );
}
