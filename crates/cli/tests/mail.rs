//! Mail in the sample share (fixtures/share/Mail): flows of PHI by email,
//! written to JSON Lines, the store and the console summary, and the shared
//! corpus of real mail files (`$PHISCAN_CORPUS`).

mod common;

use common::{fixtures, scan};
use serde_json::Value;
use std::path::{Path, PathBuf};

const PRACTICE: &str = "riverbend-clinic.org";

fn expected_flows() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("labels/mail-flows.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn scan_mail(home: &Path, extra: &[&str]) -> common::Scan {
    let mut args = vec!["share/Mail", "--quiet", "--internal-domain", PRACTICE];
    args.extend_from_slice(extra);
    let result = scan(&fixtures(), home, &args);
    assert_eq!(result.status, Some(1), "stderr: {}", result.stderr);
    result
}

#[test]
fn expected_flows_are_recorded() {
    let home = tempfile::tempdir().unwrap();
    let result = scan_mail(home.path(), &["--no-db"]);
    let expected = expected_flows();
    assert!(
        expected.len() > 10,
        "only {} expected flows",
        expected.len()
    );
    for flow in &expected {
        let location = flow["location"].as_str().unwrap();
        let at: Vec<&Value> = result
            .flows
            .iter()
            .filter(|found| found["location"] == location)
            .collect();
        if flow.get("none").is_some() {
            assert!(at.is_empty(), "{location}: unexpected flows {at:?}");
            continue;
        }
        let found = at
            .iter()
            .find(|found| {
                found["to_domain"] == flow["to_domain"] && found["field"] == flow["field"]
            })
            .unwrap_or_else(|| panic!("{location}: no flow to {} in {at:?}", flow["to_domain"]));
        for key in [
            "external",
            "webmail",
            "protection",
            "attachments",
            "auto_forwarded",
            "class",
        ] {
            assert_eq!(
                found[key], flow[key],
                "{location} to {}: {key}",
                flow["to_domain"]
            );
        }
    }
}

#[test]
fn flows_carry_domains_only() {
    let home = tempfile::tempdir().unwrap();
    let result = scan_mail(home.path(), &["--no-db"]);
    assert!(!result.flows.is_empty());
    for flow in &result.flows {
        let text = flow.to_string();
        assert!(!text.contains('@'), "address in flow: {text}");
        assert!(
            flow["sent"]
                .as_str()
                .is_some_and(|sent| sent.starts_with("2024-03-")),
            "{text}"
        );
        let location = flow["location"].as_str().unwrap();
        let item = result
            .item(location)
            .unwrap_or_else(|| panic!("{location}: no item"));
        assert!(item["format"].is_string());
    }
    assert_eq!(
        result.summary["flows"].as_u64(),
        Some(result.flows.len() as u64)
    );
}

#[test]
fn internal_flows_are_not_external() {
    let home = tempfile::tempdir().unwrap();
    let result = scan_mail(home.path(), &["--no-db"]);
    for flow in &result.flows {
        let internal = flow["to_domain"] == PRACTICE;
        assert_eq!(flow["external"], !internal, "{flow}");
    }
    // Without --internal-domain every recipient is external.
    let home = tempfile::tempdir().unwrap();
    let result = scan(
        &fixtures(),
        home.path(),
        &["share/Mail", "--quiet", "--no-db"],
    );
    assert!(result.flows.iter().all(|flow| flow["external"] == true));
}

/// The practice's own addresses, and the names shown with them, identify
/// staff, not patients. A staff-only message contains no identifier, and
/// staff do not count as people.
#[test]
fn staff_addresses_are_not_people() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("staff.eml"),
        "From: Front Desk <frontdesk@valleyclinic.example>\r\n\
         To: Hollis Wren <hwren@valleyclinic.example>, \"Marisol Quade\" <mquade@valleyclinic.example>\r\n\
         Subject: Staff meeting\r\n\r\nThe staff meeting moves to Thursday.\r\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("patient.eml"),
        "From: Hollis Wren <hwren@valleyclinic.example>\r\n\
         To: oswin.tarrant@gmail.com\r\n\
         Subject: Your results\r\n\r\n\
         Your A1C was 7.2; we will adjust your metformin.\r\n",
    )
    .unwrap();

    let result = scan(
        dir.path(),
        home.path(),
        &[
            ".",
            "--quiet",
            "--no-db",
            "--internal-domain",
            "valleyclinic.example",
        ],
    );

    let staff = result.item("./staff.eml").unwrap();
    assert_eq!(staff["class"], "none", "{staff}");
    assert!(
        result.findings_at("./staff.eml").count() > 0,
        "staff names are still findings"
    );
    assert!(
        result
            .findings_at("./staff.eml")
            .all(|finding| finding.get("person").is_none()),
        "a staff finding counted as a person"
    );

    let people: Vec<&Value> = result
        .findings_at("./patient.eml")
        .filter(|finding| finding["person"] == true)
        .collect();
    assert_eq!(people.len(), 1, "{people:?}");
    assert_eq!(people[0]["category"], "email");
}

#[test]
fn flows_reach_store_and_console() {
    let home = tempfile::tempdir().unwrap();
    let result = scan_mail(home.path(), &[]);
    let store = phiscan_inventory::Store::open(&home.path().join("inventory.sqlite")).unwrap();
    let stored: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM flows", [], |row| row.get(0))
        .unwrap();
    assert_eq!(stored as usize, result.flows.len());
    let webmail: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM flows WHERE webmail = 1", [], |row| {
            row.get(0)
        })
        .unwrap();
    let expected_webmail = result
        .flows
        .iter()
        .filter(|flow| flow["webmail"] == true)
        .count();
    assert!(expected_webmail >= 3, "{expected_webmail} webmail flows");
    assert_eq!(webmail as usize, expected_webmail);
    assert!(
        result.stdout.contains("email flows of PHI:"),
        "stdout: {}",
        result.stdout
    );
    assert!(
        result.stdout.contains("gmail.com"),
        "stdout: {}",
        result.stdout
    );
}

#[test]
fn messages_are_items_with_parents() {
    let home = tempfile::tempdir().unwrap();
    let result = scan_mail(home.path(), &["--no-db"]);
    let message = result
        .item("share/Mail/export.mbox!/3")
        .expect("message item");
    assert_eq!(message["parent"], "share/Mail/export.mbox");
    assert_eq!(message["format"], "eml");
    let attachment = result
        .item("share/Mail/export.mbox!/4!/intake.txt")
        .expect("attachment item");
    assert_eq!(attachment["parent"], "share/Mail/export.mbox!/4");
    let rtf = result.item("share/Mail/Outlook/rtf-body.msg").unwrap();
    assert_eq!(rtf["format"], "msg");
    assert_eq!(rtf["coverage"], "complete");
}

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("PHISCAN_CORPUS") {
        Some(path) if Path::new(&path).join("email").is_dir() => Some(PathBuf::from(path)),
        _ => {
            eprintln!("skipped: set PHISCAN_CORPUS to the corpus folder to run this test");
            None
        }
    }
}

#[test]
fn corpus_mail_is_read() {
    let Some(corpus) = corpus() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let result = scan(&corpus, home.path(), &["email", "--no-db", "--quiet"]);
    assert!(matches!(result.status, Some(0 | 1)), "{}", result.stderr);
    for item in &result.items {
        let location = item["location"].as_str().unwrap();
        let reason = item["reason"].as_str().unwrap_or("");
        // A folder whose contents table lists fewer messages than its
        // content count claims means the PST reader lost messages.
        assert!(!reason.contains("claims"), "{location}: {reason}");
        assert!(!reason.contains("panic"), "{location}: {reason}");
    }
    let format = |location: &str| {
        result
            .item(location)
            .unwrap_or_else(|| panic!("{location}: no item"))["format"]
            .clone()
    };
    for name in [
        "ascii",
        "attachment",
        "msgreader_msgInMsg",
        "msgreader_Hello__CJK",
        "msgreader_contactUnicode",
    ] {
        assert_eq!(format(&format!("email/msg/{name}.msg")), "msg", "{name}");
    }
    assert_eq!(format("email/eml/mailparse_test_email_01.eml"), "eml");
    assert_eq!(format("email/pst/javalibpst_dist-list.pst"), "pst");
    // The message inside a message, and the messages of the PST folders.
    assert!(
        result
            .item("email/msg/msgreader_msgInMsg.msg!/attachment-1.msg")
            .is_some()
    );
    for location in [
        "email/pst/javalibpst_dist-list.pst!/Calendar/1",
        "email/pst/javalibpst_dist-list.pst!/Contacts/1",
        "email/pst/javalibpst_dist-list.pst!/Contacts/2",
    ] {
        let item = result
            .item(location)
            .unwrap_or_else(|| panic!("{location}: no item"));
        assert!(item["coverage"].is_string());
    }
    let empty = result.item("email/pst/Empty.pst").unwrap();
    assert_eq!(empty["coverage"], "complete");
    // Non-ASCII attachment names (RFC 2231) are decoded.
    assert!(
        result
            .items
            .iter()
            .any(|item| item["location"].as_str().unwrap().ends_with("!/ciële.txt"))
    );
}

#[test]
fn damaged_pst_is_never_complete() {
    let Some(corpus) = corpus() else {
        return;
    };
    let original = std::fs::read(corpus.join("email/pst/javalibpst_dist-list.pst")).unwrap();
    // Offsets where 64 bytes of 0xFF break, in this file: one message's
    // block (0x1D400), the Calendar folder's message list (0x24800), the
    // folder tree (0x1E200). Found by overwriting every 512-byte step.
    let cases = [
        (0x1D400usize, "members not fully examined"),
        (0x24800, "message list of folder /Calendar is unreadable"),
        (0x1E200, "unreadable"),
    ];
    for (offset, expected_reason) in cases {
        let home = tempfile::tempdir().unwrap();
        let mut damaged = original.clone();
        damaged[offset..offset + 64].fill(0xFF);
        std::fs::write(home.path().join("store.pst"), &damaged).unwrap();
        let result = scan(
            home.path(),
            home.path(),
            &["store.pst", "--no-db", "--quiet"],
        );
        assert!(
            matches!(result.status, Some(0 | 1)),
            "{offset:#x}: {}",
            result.stderr
        );
        assert_eq!(result.summary["complete"], true, "{offset:#x}");
        let store = result.item("store.pst").expect("store item");
        assert_eq!(store["coverage"], "partial", "{offset:#x}: {store}");
        let reason = store["reason"].as_str().unwrap_or("");
        assert!(reason.contains(expected_reason), "{offset:#x}: {reason}");
    }

    // A damaged message is an error of its own; the other messages are read.
    let home = tempfile::tempdir().unwrap();
    let mut damaged = original.clone();
    damaged[0x1D400..0x1D440].fill(0xFF);
    std::fs::write(home.path().join("store.pst"), &damaged).unwrap();
    let result = scan(
        home.path(),
        home.path(),
        &["store.pst", "--no-db", "--quiet"],
    );
    let calendar = result
        .item("store.pst!/Calendar/1")
        .expect("damaged message");
    assert_eq!(calendar["coverage"], "error");
    let contact = result
        .item("store.pst!/Contacts/1")
        .expect("intact message");
    assert_eq!(contact["coverage"], "complete");
}

/// Writes a zip archive at `path` with the named members, deflated.
fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
    use std::io::Write;
    let mut archive = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        archive.start_file(*name, options).unwrap();
        archive.write_all(data).unwrap();
    }
    archive.finish().unwrap();
}

/// Builds a message with one base64 attachment, wrapped at 76 columns.
fn message_with_attachment(name: &str, content_type: &str, data: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = Vec::new();
    for chunk in data.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let group = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for index in 0..4 {
            if index <= chunk.len() {
                encoded.push(ALPHABET[(group >> (18 - 6 * index) & 63) as usize]);
            } else {
                encoded.push(b'=');
            }
        }
    }
    let mut message = format!(
        "From: Front Desk <frontdesk@{PRACTICE}>\r\n\
         To: billing@example-billing.net\r\n\
         Subject: January claims\r\n\
         Date: Tue, 06 Feb 2024 09:12:00 -0500\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"part\"\r\n\r\n\
         --part\r\nContent-Type: text/plain\r\n\r\nThe claims sheet is attached.\r\n\
         --part\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    for line in encoded.chunks(76) {
        message.extend_from_slice(line);
        message.extend_from_slice(b"\r\n");
    }
    message.extend_from_slice(b"--part--\r\n");
    message
}

#[test]
fn spreadsheet_in_message_in_zip_is_found() {
    let home = tempfile::tempdir().unwrap();
    let sheet = std::fs::read(fixtures().join("share/Billing/claims-2024.xlsx")).unwrap();
    let message = message_with_attachment(
        "claims-2024.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &sheet,
    );
    let root = home.path().join("handover");
    std::fs::create_dir(&root).unwrap();
    write_zip(
        &root.join("mail-export.zip"),
        &[("2024/claims.eml", &message)],
    );

    let result = scan(
        home.path(),
        home.path(),
        &["handover", "--no-db", "--quiet"],
    );
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    let message_location = "handover/mail-export.zip!/2024/claims.eml";
    assert_eq!(result.item(message_location).unwrap()["format"], "eml");

    let sheet_item = result
        .items
        .iter()
        .find(|item| item["parent"] == message_location && item["format"] == "xlsx")
        .unwrap_or_else(|| panic!("no xlsx member of the message: {:?}", result.items));
    let sheet_location = sheet_item["location"].as_str().unwrap();
    // The same cell as in the fixture's label, reached through the zip and
    // the message.
    let ssn = result
        .findings_at(sheet_location)
        .find(|finding| finding["category"] == "ssn")
        .unwrap_or_else(|| panic!("no ssn in {sheet_location}"));
    assert_eq!(ssn["locator"]["sheet"], "Patients");
    assert_eq!(ssn["locator"]["cell"], "D2");
    assert_eq!(sheet_item["class"], "phi");
}

#[test]
fn messages_of_pst_in_zip_are_found() {
    let Some(corpus) = corpus() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let pst = std::fs::read(corpus.join("email/pst/javalibpst_dist-list.pst")).unwrap();
    let root = home.path().join("handover");
    std::fs::create_dir_all(root.join("outlook")).unwrap();
    std::fs::write(root.join("outlook/dist-list.pst"), &pst).unwrap();
    write_zip(&root.join("backup.zip"), &[("outlook/dist-list.pst", &pst)]);

    let result = scan(
        home.path(),
        home.path(),
        &["handover", "--no-db", "--quiet"],
    );
    assert!(matches!(result.status, Some(0 | 1)), "{}", result.stderr);
    let zipped = "handover/backup.zip!/outlook/dist-list.pst";
    assert_eq!(result.item(zipped).unwrap()["format"], "pst");

    // Every message reads the same from the zip as from the file on disk:
    // same format, coverage, reason and findings.
    let on_disk = "handover/outlook/dist-list.pst";
    let messages: Vec<&Value> = result
        .items
        .iter()
        .filter(|item| item["parent"] == on_disk)
        .collect();
    assert_eq!(messages.len(), 3, "Calendar/1, Contacts/1 and Contacts/2");
    for message in messages {
        let location = message["location"].as_str().unwrap();
        let inner = location.strip_prefix(on_disk).unwrap();
        let twin = result
            .item(&format!("{zipped}{inner}"))
            .unwrap_or_else(|| panic!("{zipped}{inner}: no item"));
        for field in ["format", "coverage", "reason", "findings", "class"] {
            assert_eq!(twin[field], message[field], "{inner}: {field}");
        }
    }

    let contact = format!("{zipped}!/Contacts/1");
    assert!(
        result
            .findings_at(&contact)
            .any(|finding| finding["category"] == "email"),
        "{contact}: no email address found"
    );
}
