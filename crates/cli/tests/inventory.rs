//! The inventory over the sample share and over trees built to show
//! exposure, risky places, copies and mail flows.

mod sweep_common;

use phiscan_core::records::{
    FlowRecord, Individuals, ItemRecord, Record, RecordSink, ScanRecord, SummaryRecord,
};
use phiscan_core::{Category, Class, Coverage};
use serde_json::Value;
use std::path::Path;
use sweep_common::{
    CLEAN_TEXT, copy_share_subset, row, run, tempdir, texts, visit_note, write_file,
};

/// Scans the text subset of the sample share, copied into `home`, into a new
/// store and returns the inventory JSON.
fn fixture_inventory(home: &Path, group_by: &str) -> Value {
    copy_share_subset(&home.join("copy/share"));
    let store = home.join("inventory.sqlite");
    let store_arg = store.to_str().unwrap();
    let scan = std::process::Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .env("PHISCAN_HOME", home)
        .current_dir(home.join("copy"))
        .args(["scan", "share", "-q", "--db", store_arg])
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1), "{:?}", texts(&scan));
    inventory_json(home, store_arg, &["--group-by", group_by])
}

/// Runs `phiscan inventory --json` on a store with `extra` arguments and
/// returns the parsed report.
fn inventory_json(home: &Path, store: &str, extra: &[&str]) -> Value {
    let mut args = vec!["inventory", "--db", store, "--json"];
    args.extend_from_slice(extra);
    let output = run(home, &args);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn folder_bytes(folder: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    for entry in std::fs::read_dir(folder).unwrap() {
        let entry = entry.unwrap();
        let metadata = entry.metadata().unwrap();
        if metadata.is_file() {
            bytes += metadata.len();
            files += 1;
        } else if metadata.is_dir() {
            let (inner_bytes, inner_files) = folder_bytes(&entry.path());
            bytes += inner_bytes;
            files += inner_files;
        }
    }
    (bytes, files)
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn fixture_figures_per_folder() {
    let home = tempdir();
    let inventory = fixture_inventory(home.path(), "folder:1");

    // (location, items, phi, phi-likely, pii, identifiers, health, individuals low-high)
    type Expected<'a> = (
        &'a str,
        u64,
        u64,
        u64,
        u64,
        &'a [&'a str],
        &'a [&'a str],
        (u64, u64),
    );
    let expected: &[Expected] = &[
        (
            "share/Exports",
            3,
            3,
            0,
            0,
            &[
                "name",
                "date",
                "phone",
                "email",
                "ssn",
                "mrn",
                "account-number",
            ],
            &["diagnosis", "clinical-term"],
            (7, 23),
        ),
        (
            "share/Notes",
            2,
            2,
            0,
            0,
            &["name", "date", "phone", "ssn", "mrn"],
            &["diagnosis", "clinical-term"],
            (2, 6),
        ),
        (
            "share/Lab",
            1,
            1,
            0,
            0,
            &["date", "phone", "mrn"],
            &["diagnosis", "lab"],
            (1, 1),
        ),
        (
            "share/Letters",
            1,
            0,
            1,
            0,
            &["name", "date", "phone", "fax", "ssn"],
            &["diagnosis"],
            (1, 1),
        ),
        (
            "share/Intake",
            1,
            0,
            0,
            1,
            &["name", "date", "phone", "ssn"],
            &[],
            (1, 2),
        ),
        ("share/Admin", 5, 0, 0, 0, &[], &[], (0, 0)),
        ("share/Scans", 1, 0, 0, 0, &[], &[], (0, 0)),
    ];
    for (location, items, phi, likely, pii, identifiers, health, (low, high)) in expected {
        let row = row(&inventory, location);
        assert_eq!(row["items"], *items, "{location} items");
        assert_eq!(row["by_class"]["phi"], *phi, "{location} phi");
        assert_eq!(
            row["by_class"]["phi-likely"], *likely,
            "{location} phi-likely"
        );
        assert_eq!(row["by_class"]["pii"], *pii, "{location} pii");
        assert_eq!(
            strings(&row["identifiers"]),
            *identifiers,
            "{location} identifiers"
        );
        assert_eq!(strings(&row["health"]), *health, "{location} health");
        assert_eq!(
            row["individuals"]["low"], *low,
            "{location} individuals low"
        );
        assert_eq!(
            row["individuals"]["high"], *high,
            "{location} individuals high"
        );

        let (bytes, files) = folder_bytes(&home.path().join("copy").join(location));
        assert_eq!(row["bytes"], bytes, "{location} bytes");
        assert_eq!(row["files"], files, "{location} files");
    }

    // The folder named after an MRN is an item of its own, next to the file in it.
    let patients = row(&inventory, "share/Patients");
    assert_eq!(patients["items"], 2);
    assert_eq!(patients["by_class"]["pii"], 1);
    assert_eq!(strings(&patients["identifiers"]), ["date", "mrn"]);

    let totals = &inventory["totals"];
    assert_eq!(totals["items"], 16);
    assert_eq!(totals["individuals"]["low"], 8);
    assert_eq!(totals["individuals"]["high"], 29);
    assert_eq!(inventory["coverage"]["unsupported"], 2);
    assert_eq!(inventory["gaps"].as_array().unwrap().len(), 2);
    assert_eq!(row(&inventory, "share/Scans")["incomplete"], 1);
    assert_eq!(
        row(&inventory, "share/Exports")["risk"],
        "high",
        "PHI of several people"
    );
}

#[test]
fn fixture_grouped_by_root() {
    let home = tempdir();
    let inventory = fixture_inventory(home.path(), "root");
    let locations = inventory["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 1);
    let share = row(&inventory, "share");
    assert_eq!(share["items"], 16);
    assert_eq!(share["by_class"]["phi"], 6);
    assert_eq!(share["individuals"]["high"], 29);
}

#[cfg(unix)]
#[test]
fn exposure_places_and_copies() {
    let dir = tempdir();
    let home = tempdir();
    let root = dir.path().join("share");
    write_file(
        &root,
        "Desktop/list.csv",
        &visit_note("362-11-3345", "9857607"),
        0o644,
    );
    write_file(
        &root,
        "private/note.txt",
        &visit_note("418-23-5561", "4412093"),
        0o600,
    );
    write_file(
        &root,
        "team/note.txt",
        &visit_note("529-34-6672", "5523104"),
        0o640,
    );
    write_file(
        &root,
        "copies-a/same.txt",
        &visit_note("630-45-7783", "6634215"),
        0o600,
    );
    write_file(
        &root,
        "copies-b/same.txt",
        &visit_note("630-45-7783", "6634215"),
        0o600,
    );
    write_file(
        &root,
        "OneDrive - Valley Clinic/x.txt",
        &visit_note("741-56-8894", "7745326"),
        0o600,
    );
    write_file(&root, "clean/supplies.txt", CLEAN_TEXT, 0o644);

    let store = home.path().join("inventory.sqlite");
    let store_arg = store.to_str().unwrap();
    let root_arg = root.to_str().unwrap();
    let scan = run(home.path(), &["scan", root_arg, "-q", "--db", store_arg]);
    assert_eq!(scan.status.code(), Some(1), "{:?}", texts(&scan));
    let output = run(home.path(), &["inventory", "--db", store_arg, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    let inventory: Value = serde_json::from_slice(&output.stdout).unwrap();
    let at = |folder: &str| row(&inventory, &format!("{root_arg}/{folder}")).clone();

    let desktop = at("Desktop");
    assert_eq!(desktop["exposure"]["world"], 1);
    assert_eq!(desktop["places"]["desktop"], 1);
    assert_eq!(desktop["risk"], "high");
    let reasons: Vec<&str> = desktop["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reason| reason["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("readable by every user account")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("desktop folder")),
        "{reasons:?}"
    );

    let private = at("private");
    assert_eq!(private["exposure"]["world"], 0);
    assert_eq!(private["exposure"]["group"], 0);
    assert!(private["places"].get("desktop").is_none());
    assert_eq!(private["by_class"]["phi"], 1);
    assert_eq!(private["protection"]["unprotected"], 1);
    assert_eq!(private["risk"], "medium", "unencrypted PHI, nothing worse");

    let team = at("team");
    assert_eq!(team["exposure"]["group"], 1);
    assert_eq!(team["exposure"]["world"], 0);
    assert_eq!(team["risk"], "medium");

    for folder in ["copies-a", "copies-b"] {
        let copies = at(folder);
        assert_eq!(copies["copies"], 1, "{folder}");
        assert_eq!(copies["copies_in"].as_array().unwrap().len(), 1, "{folder}");
    }
    let sets = inventory["copies"].as_array().unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0]["items"].as_array().unwrap().len(), 2);

    let synced = at("OneDrive - Valley Clinic");
    assert_eq!(synced["places"]["sync-onedrive"], 1);
    assert_eq!(synced["risk"], "high");

    let clean = at("clean");
    assert_eq!(clean["risk"], "none");
    assert_eq!(
        clean["exposure"]["world"], 0,
        "exposure counts items with identifiers only"
    );
}

fn item(location: &str, path: &str, parent: Option<&str>, class: Class) -> ItemRecord {
    ItemRecord {
        location: location.into(),
        path: path.into(),
        format: if parent.is_some() {
            "eml".into()
        } else {
            "mbox".into()
        },
        size: 100,
        modified: Some("2025-06-01T10:00:00Z".into()),
        class,
        coverage: Coverage::Complete,
        reason: None,
        parent: parent.map(str::to_string),
        findings: if class == Class::None { 0 } else { 2 },
        categories: if class == Class::None {
            vec![]
        } else {
            vec![Category::Ssn, Category::Diagnosis]
        },
        individuals: Individuals::default(),
        content_id: None,
        meta: Default::default(),
    }
}

fn flow(location: &str, to: &str, protection: &str, webmail: bool) -> FlowRecord {
    FlowRecord {
        location: location.into(),
        sent: Some("2025-06-01T10:00:00Z".into()),
        from_domain: "valleyclinic.example".into(),
        to_domain: to.into(),
        field: "to".into(),
        external: !to.ends_with("valleyclinic.example"),
        webmail,
        protection: protection.into(),
        auto_forwarded: false,
        attachments: 1,
        class: Class::Phi,
        categories: vec![Category::Ssn, Category::Diagnosis],
    }
}

/// Writes a scan of one mailbox export with three messages, one attached
/// message and four flows through the store's record sink.
fn store_mail_scan(path: &Path) {
    let mut store = phiscan_inventory::Store::open(path).unwrap();
    let mailbox = "mail/export.mbox";
    let records = vec![
        Record::Scan(ScanRecord {
            id: "mail-scan".into(),
            started: "2025-06-02T00:00:00Z".into(),
            roots: vec!["mail".into()],
            version: "test".into(),
            rules_version: "test".into(),
            host: Some("frontdesk".into()),
            sweep: None,
            resumed_from: None,
        }),
        Record::Item(item(
            "mail/export.mbox!/Inbox/1",
            mailbox,
            Some(mailbox),
            Class::Phi,
        )),
        Record::Item(item(
            "mail/export.mbox!/Sent/2",
            mailbox,
            Some(mailbox),
            Class::Phi,
        )),
        Record::Item(item(
            "mail/export.mbox!/Sent/3",
            mailbox,
            Some(mailbox),
            Class::Phi,
        )),
        Record::Item(item(
            "mail/export.mbox!/Sent/2!/lab.eml",
            mailbox,
            Some("mail/export.mbox!/Sent/2"),
            Class::None,
        )),
        Record::Item(item(mailbox, mailbox, None, Class::None)),
        Record::Flow(flow("mail/export.mbox!/Sent/2", "gmail.com", "none", true)),
        Record::Flow(flow(
            "mail/export.mbox!/Sent/2",
            "lab.example",
            "encrypted",
            false,
        )),
        Record::Flow(flow("mail/export.mbox!/Sent/3", "gmail.com", "none", true)),
        Record::Flow(flow(
            "mail/export.mbox!/Inbox/1",
            "valleyclinic.example",
            "none",
            false,
        )),
        Record::Summary(SummaryRecord {
            scan: "mail-scan".into(),
            complete: true,
            ..SummaryRecord::default()
        }),
    ];
    for record in &records {
        store.record(record).unwrap();
    }
    store.finish().unwrap();
}

#[test]
fn mail_flows_per_mailbox_folder() {
    let home = tempdir();
    let store = home.path().join("inventory.sqlite");
    store_mail_scan(&store);
    let store_arg = store.to_str().unwrap();
    let inventory = inventory_json(home.path(), store_arg, &["--group-by", "mailbox"]);

    let sent = row(&inventory, "mail/export.mbox!/Sent");
    // Two messages and the message attached to one of them.
    assert_eq!(sent["items"], 3);
    // The messages' bytes, without the attachment inside one of them.
    assert_eq!(sent["bytes"], 200);
    assert_eq!(row(&inventory, "mail")["bytes"], 100);
    assert_eq!(sent["system"], "frontdesk");
    // Three external flows from two messages: message 2 went to two domains.
    assert_eq!(sent["flows"]["external"], 2);
    assert_eq!(sent["flows"]["external_unencrypted"], 2);
    assert_eq!(sent["flows"]["webmail"], 2);
    assert_eq!(
        strings(&sent["flows"]["domains"]),
        ["gmail.com", "lab.example"]
    );
    assert_eq!(sent["places"]["mail-export"], 2);
    assert_eq!(sent["risk"], "high");

    let inbox = row(&inventory, "mail/export.mbox!/Inbox");
    assert_eq!(
        inbox["flows"]["external"], 0,
        "mail to the practice's own domain"
    );

    let edges = inventory["flows"].as_array().unwrap();
    let gmail = edges
        .iter()
        .find(|edge| edge["to_domain"] == "gmail.com")
        .unwrap();
    assert_eq!(gmail["from"], "mail/export.mbox!/Sent");
    assert_eq!(gmail["messages"], 2);
    assert_eq!(gmail["unencrypted"], 2);
    assert_eq!(gmail["webmail"], true);
    assert_eq!(edges.len(), 2);
}

/// The text table keeps its columns in line when a location is longer than
/// the usual width.
#[test]
fn text_table_counts_encrypted_items() {
    let home = tempdir();
    let store = home.path().join("inventory.sqlite");
    {
        let mut sink = phiscan_inventory::Store::open(&store).unwrap();
        let encrypted = |location: &str, reason: &str| ItemRecord {
            format: "zip".into(),
            class: Class::None,
            coverage: Coverage::Encrypted,
            reason: Some(reason.into()),
            ..item(location, location, None, Class::None)
        };
        let records = [
            Record::Scan(ScanRecord {
                id: "crypt-scan".into(),
                started: "2025-06-02T00:00:00Z".into(),
                roots: vec!["share".into()],
                version: "test".into(),
                rules_version: "test".into(),
                host: None,
                sweep: None,
                resumed_from: None,
            }),
            Record::Item(encrypted("share/a.zip", "encrypted with AES-256")),
            Record::Item(encrypted(
                "share/b.zip",
                "encrypted with ZipCrypto, a weak legacy cipher",
            )),
            Record::Summary(SummaryRecord {
                scan: "crypt-scan".into(),
                complete: true,
                ..SummaryRecord::default()
            }),
        ];
        for record in &records {
            sink.record(record).unwrap();
        }
        sink.finish().unwrap();
    }
    let output = run(home.path(), &["inventory", "--db", store.to_str().unwrap()]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("ENCRYPTED"), "{stdout}");
    let totals = stdout
        .lines()
        .find(|line| line.starts_with("all locations"))
        .unwrap();
    assert!(totals.contains("2 (1 weak)"), "{stdout}");
}

#[test]
fn columns_align_with_long_locations() {
    let home = tempdir();
    let store = home.path().join("inventory.sqlite");
    {
        let mut sink = phiscan_inventory::Store::open(&store).unwrap();
        let mailbox = "mail/front-desk/archive/2024/referrals-exported-by-outlook.mbox";
        let records = [
            Record::Scan(ScanRecord {
                id: "long-scan".into(),
                started: "2025-06-02T00:00:00Z".into(),
                roots: vec!["mail".into()],
                version: "test".into(),
                rules_version: "test".into(),
                host: None,
                sweep: None,
                resumed_from: None,
            }),
            Record::Item(item(
                &format!("{mailbox}!/Inbox/1"),
                mailbox,
                Some(mailbox),
                Class::Phi,
            )),
            Record::Item(item(mailbox, mailbox, None, Class::None)),
            Record::Summary(SummaryRecord {
                scan: "long-scan".into(),
                complete: true,
                ..SummaryRecord::default()
            }),
        ];
        for record in &records {
            sink.record(record).unwrap();
        }
        sink.finish().unwrap();
    }
    let output = run(
        home.path(),
        &[
            "inventory",
            "--db",
            store.to_str().unwrap(),
            "--group-by",
            "mailbox",
        ],
    );
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect();
    let items_end = lines[0].find("ITEMS").unwrap() + "ITEMS".len();
    assert!(lines.len() > 2, "{stdout}");
    for line in &lines[1..] {
        let before: String = line.chars().take(items_end).collect();
        assert!(
            before.ends_with(|c: char| c.is_ascii_digit()),
            "items column out of line: {line}"
        );
    }
}

#[test]
fn internal_domains_override_flow_flags() {
    let home = tempdir();
    let store = home.path().join("inventory.sqlite");
    store_mail_scan(&store);
    let store_arg = store.to_str().unwrap();
    let inventory = inventory_json(
        home.path(),
        store_arg,
        &[
            "--group-by",
            "mailbox",
            "--internal-domain",
            "valleyclinic.example",
            "--internal-domain",
            "lab.example",
        ],
    );
    let sent = row(&inventory, "mail/export.mbox!/Sent");
    assert_eq!(sent["flows"]["external"], 2, "lab.example is internal now");
}

#[test]
fn invalid_group_by_names_the_value() {
    let home = tempdir();
    let output = run(home.path(), &["inventory", "--group-by", "folder:zero"]);
    assert_eq!(output.status.code(), Some(2));
    let (_, stderr) = texts(&output);
    assert!(stderr.contains("\"folder:zero\""), "{stderr}");
    assert!(stderr.contains("folder:N"), "{stderr}");
}

#[test]
fn missing_store_is_not_created() {
    let home = tempdir();
    let store = home.path().join("none.sqlite");
    let output = run(home.path(), &["inventory", "--db", store.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let (_, stderr) = texts(&output);
    assert!(stderr.contains("no store at"), "{stderr}");
    assert!(!store.exists());
}

/// A reader that stops early (`phiscan inventory | head -1`) ends the
/// output quietly: exit status 0 and no internal error.
#[test]
fn closed_pipe_ends_output_quietly() {
    let home = tempdir();
    fixture_inventory(home.path(), "root");
    let store = home.path().join("inventory.sqlite");
    for args in [
        vec!["inventory", "--db", store.to_str().unwrap()],
        vec!["inventory", "--db", store.to_str().unwrap(), "--json"],
        vec!["diff", "--db", store.to_str().unwrap(), "--json"],
        vec!["rules", "list"],
        vec!["rules", "explain", "us.ssn"],
        vec!["rules", "export"],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_phiscan"))
            .env("PHISCAN_HOME", home.path())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before phiscan writes.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("internal error"), "{args:?}: {stderr}");
        assert_ne!(output.status.code(), Some(101), "{args:?}: {stderr}");
    }
}

#[test]
fn store_without_scans_says_to_scan() {
    let home = tempdir();
    let folder = home.path().join("empty");
    std::fs::create_dir_all(&folder).unwrap();
    let store = home.path().join("inventory.sqlite");
    let store_arg = store.to_str().unwrap();
    let output = run(
        home.path(),
        &["scan", folder.to_str().unwrap(), "-q", "--db", store_arg],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    let connection = rusqlite::Connection::open(&store).unwrap();
    connection
        .execute_batch(
            "DELETE FROM unchanged_items; DELETE FROM finding_blocks; DELETE FROM people;
             DELETE FROM items; DELETE FROM flows; DELETE FROM scans;",
        )
        .unwrap();
    drop(connection);
    for args in [
        vec!["inventory", "--db", store_arg],
        vec!["report", "--list", "--db", store_arg],
    ] {
        let output = run(home.path(), &args);
        let (_, stderr) = texts(&output);
        assert!(
            stderr.contains("contains no scan yet"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("phiscan scan"), "{args:?}: {stderr}");
    }
}

/// `--group-by file` gives each file a row, with the members of an archive
/// counted in the archive's row, and `--mask-paths` keeps each file's
/// extension.
#[test]
fn grouped_by_file() {
    let home = tempdir();
    let share = home.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(share.join("records.zip")).unwrap());
    for (name, mrn) in [("a.txt", "MRN-4417"), ("b.txt", "MRN-5520")] {
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(
            &mut writer,
            format!("Patient: Maria Alvarez\nMRN: {mrn}\nAssessment: asthma (J45.909).\n")
                .as_bytes(),
        )
        .unwrap();
    }
    writer.finish().unwrap();
    std::fs::write(share.join("supplies.txt"), "Gloves and gauze.\n").unwrap();
    let store = home.path().join("inventory.sqlite");
    let store_arg = store.to_str().unwrap();
    let scan = std::process::Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .env("PHISCAN_HOME", home.path())
        .current_dir(home.path())
        .args(["scan", "share", "-q", "--db", store_arg])
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1), "{:?}", texts(&scan));

    let inventory = inventory_json(home.path(), store_arg, &["--group-by", "file"]);
    assert_eq!(inventory["group_by"], "file");
    let archive = row(&inventory, "share/records.zip");
    assert_eq!(archive["items"], 3, "the archive and its two members");
    assert_eq!(archive["by_class"]["phi"], 2);
    assert_eq!(row(&inventory, "share/supplies.txt")["items"], 1);

    let report = home.path().join("report.json");
    let output = run(
        home.path(),
        &[
            "report",
            "--db",
            store_arg,
            "--format",
            "json",
            "--group-by",
            "file",
            "--mask-paths",
            "-o",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("share/file-1.zip"), "{text}");
    assert!(!text.contains("records"), "{text}");
}
