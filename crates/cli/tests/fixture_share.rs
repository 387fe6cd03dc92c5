//! The sample practice share in fixtures/share: every labelled value is found
//! with the right category and place, PHI-free files have no finding, files
//! phiscan cannot read carry that coverage state, and every file is recorded.

mod common;

use common::{fixtures, is_subset, scan};
use serde_json::Value;
use std::path::Path;

fn labels() -> Vec<Value> {
    let mut labels = Vec::new();
    let dir = fixtures().join("labels");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    for file in files
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let label: Value = serde_json::from_str(line).unwrap_or_else(|err| {
                panic!("{}:{}: invalid label: {err}", file.display(), number + 1)
            });
            labels.push(label);
        }
    }
    labels
}

fn scan_share() -> common::Scan {
    let home = tempfile::tempdir().unwrap();
    let result = scan(
        &fixtures(),
        home.path(),
        &["share", "--no-db", "--show-values", "--quiet"],
    );
    assert_eq!(
        result.status,
        Some(1),
        "exit status; stderr: {}",
        result.stderr
    );
    result
}

#[test]
fn labelled_values_are_found() {
    let result = scan_share();
    let labels = labels();
    assert!(labels.len() > 50, "only {} labels", labels.len());
    let mut missing = Vec::new();
    for label in labels
        .iter()
        .filter(|label| label.get("category").is_some())
    {
        let location = label["location"].as_str().unwrap();
        let found = result.findings_at(location).any(|finding| {
            finding["category"] == label["category"]
                && finding["value"] == label["value"]
                && label
                    .get("line")
                    .is_none_or(|line| &finding["line"] == line)
                && label
                    .get("locator")
                    .is_none_or(|locator| is_subset(locator, &finding["locator"]))
        });
        if !found {
            missing.push(label.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "{} labels not found:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn clean_files_have_no_finding() {
    let result = scan_share();
    for label in labels().iter().filter(|label| label["clean"] == true) {
        let location = label["location"].as_str().unwrap();
        let item = result
            .item(location)
            .unwrap_or_else(|| panic!("{location}: no item record"));
        assert_eq!(item["coverage"], "complete", "{location}");
        assert_eq!(item["class"], "none", "{location}");
        let findings: Vec<&Value> = result.findings_at(location).collect();
        assert!(findings.is_empty(), "{location}: {findings:?}");
    }
}

#[test]
fn coverage_labels_hold() {
    let result = scan_share();
    for label in labels()
        .iter()
        .filter(|label| label.get("coverage").is_some())
    {
        let location = label["location"].as_str().unwrap();
        let item = result
            .item(location)
            .unwrap_or_else(|| panic!("{location}: no item record"));
        assert_eq!(item["coverage"], label["coverage"], "{location}");
        if label["coverage"] != "complete" {
            let reason = item["reason"].as_str().unwrap_or("");
            assert!(!reason.is_empty(), "{location}: no reason");
        }
    }
}

#[test]
fn every_file_is_recorded() {
    let result = scan_share();
    let share = fixtures().join("share");
    let mut files = Vec::new();
    collect_files(&share, &mut files);
    assert!(files.len() > 10);
    for file in files {
        let relative = file
            .strip_prefix(fixtures())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let item = result
            .item(&relative)
            .unwrap_or_else(|| panic!("{relative}: no item record"));
        assert!(item["coverage"].is_string(), "{relative}");
    }
    assert_eq!(
        result.summary["items"].as_u64().unwrap() as usize,
        result.items.len()
    );
    assert_eq!(result.summary["complete"], true);
}

#[test]
fn outputs_carry_no_value_without_flag() {
    let home = tempfile::tempdir().unwrap();
    let result = scan(&fixtures(), home.path(), &["share", "--quiet"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    assert!(!result.findings.is_empty());
    assert!(
        result
            .findings
            .iter()
            .all(|finding| finding.get("value").is_none())
    );

    // Neither the JSON Lines file nor the store may hold a labelled value,
    // except values in file and folder names, which locations must name.
    let jsonl = std::fs::read(home.path().join("scan.jsonl")).unwrap();
    let store = std::fs::read(home.path().join("inventory.sqlite")).unwrap();
    let wal = std::fs::read(home.path().join("inventory.sqlite-wal")).unwrap_or_default();
    for label in labels().iter().filter(|label| label.get("value").is_some()) {
        let value = label["value"].as_str().unwrap();
        let in_path = result
            .items
            .iter()
            .any(|item| item["location"].as_str().unwrap().contains(value));
        if value.len() < 6 || in_path {
            continue;
        }
        let value = value.as_bytes();
        for (name, content) in [("jsonl", &jsonl), ("store", &store), ("wal", &wal)] {
            assert!(
                !content.windows(value.len()).any(|window| window == value),
                "{name} holds a raw value of category {}",
                label["category"]
            );
        }
    }
}

/// The most detailed log has a line for each file read, no color codes when
/// written to a file, and no labelled value outside file and folder names.
#[test]
fn trace_log_lists_items_without_values() {
    let home = tempfile::tempdir().unwrap();
    let result = scan(&fixtures(), home.path(), &["share", "--quiet", "-vvv"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    let log = &result.stderr;
    assert!(!log.contains('\u{1b}'), "color codes in a redirected log");
    let text_files: Vec<&Value> = result
        .items
        .iter()
        .filter(|item| item["parent"].is_null() && item["format"] == "text")
        .collect();
    assert!(!text_files.is_empty());
    for item in text_files {
        let location = item["location"].as_str().unwrap();
        assert!(
            log.lines()
                .any(|line| line.contains("item read") && line.contains(location)),
            "no trace line for {location}"
        );
    }
    for label in labels().iter().filter(|label| label.get("value").is_some()) {
        let value = label["value"].as_str().unwrap();
        let in_path = result
            .items
            .iter()
            .any(|item| item["location"].as_str().unwrap().contains(value));
        if value.len() < 6 || in_path {
            continue;
        }
        assert!(
            !log.contains(value),
            "the log holds a raw value of category {}",
            label["category"]
        );
    }
}

/// A sheet whose first row is data gives that row as column headers. The
/// values in them are masked in every locator, and a true header row stays
/// as it is.
/// A lab export names the test in one column and its result in another:
/// the test name under a test header is health information, so the rows
/// with a patient are PHI. A test name under another header is not.
#[test]
fn lab_test_column_makes_rows_phi() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("labs.csv"),
        "Patient,MRN,Test,Result\n\
         Oswald Fairbanks,MRN-4417,Hemoglobin A1c,7.2%\n\
         Delphine Marchetti,MRN-5520,LDL cholesterol,162 mg/dL\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("supplies.csv"),
        "Item,Count\nsodium chloride wipes,40\nglucose meter strips,12\n",
    )
    .unwrap();
    let result = scan(dir.path(), home.path(), &[".", "--no-db", "--quiet"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);

    let labs: Vec<&Value> = result
        .findings_at("./labs.csv")
        .filter(|finding| finding["category"] == "lab")
        .collect();
    assert_eq!(labs.len(), 2, "{:?}", result.findings);
    assert!(labs.iter().all(|finding| finding["rule"] == "lab.test"));
    assert_eq!(result.item("./labs.csv").unwrap()["class"], "phi");
    assert_eq!(
        result.findings_at("./supplies.csv").count(),
        0,
        "{:?}",
        result.findings
    );
}

#[test]
fn headers_from_data_rows_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("list.csv"),
        "Tobias Wren,Chart RVC-551902,Asthma\n\
         Oswald Fairbanks,412-67-3391,Hypertension\n\
         Delphine Marchetti,529-18-4476,Diabetes\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("roster.csv"),
        "Patient,SSN,Diagnosis\n\
         Oswald Fairbanks,412-67-3391,Hypertension\n\
         Delphine Marchetti,529-18-4476,Diabetes\n",
    )
    .unwrap();
    let result = scan(dir.path(), home.path(), &[".", "--quiet"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);

    let headers = |file: &str| -> Vec<String> {
        let mut headers: Vec<String> = result
            .findings
            .iter()
            .filter(|finding| {
                finding["location"]
                    .as_str()
                    .is_some_and(|location| location.ends_with(file))
            })
            .filter_map(|finding| finding["locator"]["header"].as_str())
            .map(str::to_string)
            .collect();
        headers.sort();
        headers.dedup();
        headers
    };
    assert_eq!(
        headers("list.csv"),
        vec!["Ast***", "Chart ***-**1902", "T***** W***"]
    );
    assert_eq!(headers("roster.csv"), vec!["Diagnosis", "Patient", "SSN"]);

    let jsonl = std::fs::read(home.path().join("scan.jsonl")).unwrap();
    let store = std::fs::read(home.path().join("inventory.sqlite")).unwrap();
    let wal = std::fs::read(home.path().join("inventory.sqlite-wal")).unwrap_or_default();
    for value in ["Tobias Wren", "RVC-551902", "Oswald", "412-67-3391"] {
        for (name, content) in [("jsonl", &jsonl), ("store", &store), ("wal", &wal)] {
            assert!(
                !content
                    .windows(value.len())
                    .any(|window| window == value.as_bytes()),
                "{name} holds {value}"
            );
        }
    }
}

/// Writes a minimal .docx whose body is one table of the given rows.
fn docx_with_table(path: &Path, rows: &[&[&str]]) {
    use std::io::Write;
    let mut body = String::new();
    for row in rows {
        body.push_str("<w:tr>");
        for cell in *row {
            body.push_str(&format!(
                "<w:tc><w:p><w:r><w:t>{cell}</w:t></w:r></w:p></w:tc>"
            ));
        }
        body.push_str("</w:tr>");
    }
    let document = format!(
        r#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Referral</w:t></w:r></w:p><w:tbl>{body}</w:tbl></w:body></w:document>"#
    );
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_string(),
        ),
        ("word/document.xml", document),
    ];
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, text) in parts {
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(text.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
}

/// A label/value table in a letter is about one person, so its name and
/// diagnosis rows link, and its first row is not taken as column headers.
/// The rows of a wider table are separate records.
#[test]
fn label_value_table_links_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    docx_with_table(
        &dir.path().join("vertical.docx"),
        &[
            &["Name", "Cordelia Pennyworth"],
            &["DOB", "05/17/1949"],
            &["Diagnosis", "Chronic obstructive pulmonary disease"],
        ],
    );
    docx_with_table(
        &dir.path().join("wide.docx"),
        &[
            &["Name", "Room", "Visit"],
            &["Tobias Wren", "4", "walk-in"],
            &["Clinic", "2", "Chronic obstructive pulmonary disease"],
        ],
    );
    let result = scan(dir.path(), home.path(), &[".", "--no-db", "--quiet"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    let class = |name: &str| result.item(&format!("./{name}")).unwrap()["class"].clone();
    assert_eq!(class("vertical.docx"), "phi");
    assert_eq!(class("wide.docx"), "phi-likely");

    // The first cell labels the second: the name under `Name` is found, and
    // no locator takes the first row's value as a column header.
    let names = result
        .findings_at("./vertical.docx")
        .filter(|finding| finding["category"] == "name")
        .count();
    assert_eq!(names, 1);
    let jsonl = std::fs::read_to_string(home.path().join("scan.jsonl")).unwrap();
    assert!(!jsonl.contains("Pennyworth"), "a raw name in the output");
    assert!(!result.stdout.contains("Pennyworth"));
}

/// The store takes findings as blocks encoded by the workers, JSON Lines as
/// records: both must hold the same findings, and the store's people rows
/// the distinct fingerprints of the records that identify a person.
#[test]
fn store_blocks_hold_the_jsonl_findings() {
    let home = tempfile::tempdir().unwrap();
    let result = scan(&fixtures(), home.path(), &["share", "--quiet"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    let key = |finding: &Value| {
        [
            "location",
            "rule",
            "category",
            "confidence",
            "start",
            "end",
            "line",
            "column",
            "locator",
            "preview",
            "fingerprint",
        ]
        .map(|field| finding[field].to_string())
        .join("|")
            + if finding["person"] == true {
                "|person"
            } else {
                ""
            }
    };
    let mut from_jsonl: Vec<String> = result.findings.iter().map(key).collect();
    from_jsonl.sort();
    assert!(from_jsonl.len() > 500, "{} findings", from_jsonl.len());

    let store = rusqlite::Connection::open(home.path().join("inventory.sqlite")).unwrap();
    let mut statement = store
        .prepare(
            "SELECT location, rule, category, confidence, start, \"end\", line, \"column\",
                    locator, preview, fingerprint, person FROM findings",
        )
        .unwrap();
    let mut from_store: Vec<String> = statement
        .query_map([], |row| {
            let locator: String = row.get(8)?;
            Ok(key(&serde_json::json!({
                "location": row.get::<_, String>(0)?,
                "rule": row.get::<_, String>(1)?,
                "category": row.get::<_, String>(2)?,
                "confidence": row.get::<_, i64>(3)?,
                "start": row.get::<_, i64>(4)?,
                "end": row.get::<_, i64>(5)?,
                "line": row.get::<_, i64>(6)?,
                "column": row.get::<_, i64>(7)?,
                "locator": serde_json::from_str::<Value>(&locator).unwrap(),
                "preview": row.get::<_, String>(9)?,
                "fingerprint": row.get::<_, String>(10)?,
                "person": row.get::<_, i64>(11)? == 1,
            })))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    from_store.sort();
    assert_eq!(from_store.len(), from_jsonl.len());
    let differing = from_store.iter().zip(&from_jsonl).position(|(a, b)| a != b);
    assert_eq!(
        differing, None,
        "first finding that differs, in sorted order"
    );

    let mut people_jsonl: Vec<String> = result
        .findings
        .iter()
        .filter(|finding| finding["person"] == true)
        .map(|finding| {
            format!(
                "{}|{}|{}",
                finding["location"].as_str().unwrap(),
                finding["category"].as_str().unwrap(),
                finding["fingerprint"].as_str().unwrap()
            )
        })
        .collect();
    people_jsonl.sort();
    people_jsonl.dedup();
    let mut statement = store
        .prepare("SELECT location, category, value FROM people, json_each(people.fingerprints)")
        .unwrap();
    let mut people_store: Vec<String> = statement
        .query_map([], |row| {
            Ok(format!(
                "{}|{}|{}",
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    people_store.sort();
    assert!(!people_store.is_empty());
    let missing: Vec<&String> = people_jsonl
        .iter()
        .filter(|person| !people_store.contains(person))
        .collect();
    assert!(missing.is_empty(), "people rows missing: {missing:?}");
    // The store also counts whole names put together from name parts in
    // separate fields, which are not findings of their own.
    let with_name_parts: Vec<&str> = result
        .findings
        .iter()
        .filter(|finding| finding["category"] == "name" && finding["person"] != true)
        .map(|finding| finding["location"].as_str().unwrap())
        .collect();
    for extra in people_store
        .iter()
        .filter(|person| !people_jsonl.contains(person))
    {
        let (location, rest) = extra.split_once('|').unwrap();
        assert!(rest.starts_with("name|"), "{extra}");
        assert!(with_name_parts.contains(&location), "{extra}");
    }
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}
