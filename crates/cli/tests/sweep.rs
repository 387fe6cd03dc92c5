//! Scheduled sweeps: incremental runs, moved files, diffs, resumption after
//! a kill, and the inputs that must get a clear error.

mod sweep_common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use sweep_common::{
    CLEAN_TEXT, copy_share_folder, copy_share_subset, diff_lines, records, run, summary, tempdir,
    texts, visit_note, write_config, write_file,
};

/// A copy of the sample share with a sweep configuration and a private data folder.
struct Setup {
    /// Keeps the share and configuration until the test ends.
    _dir: tempfile::TempDir,
    home: tempfile::TempDir,
    share: PathBuf,
    store: PathBuf,
    jsonl: PathBuf,
    config: PathBuf,
}

impl Setup {
    fn new(extra: &str) -> Setup {
        let dir = tempdir();
        let home = tempdir();
        let share = dir.path().join("share");
        copy_share_subset(&share);
        let store = home.path().join("inventory.sqlite");
        let jsonl = home.path().join("last.jsonl");
        let config = write_config(dir.path(), &[&share], &store, &jsonl, extra);
        Setup {
            _dir: dir,
            home,
            share,
            store,
            jsonl,
            config,
        }
    }

    fn sweep(&self) -> (Option<i32>, Value, String, String) {
        let output = run(
            self.home.path(),
            &["sweep", "-q", "--config", self.config.to_str().unwrap()],
        );
        let (stdout, stderr) = texts(&output);
        let summary = if self.jsonl.exists() {
            summary(&self.jsonl)
        } else {
            Value::Null
        };
        (output.status.code(), summary, stdout, stderr)
    }

    fn diff(&self) -> (Option<i32>, String) {
        let output = run(
            self.home.path(),
            &["diff", "--db", self.store.to_str().unwrap()],
        );
        let (stdout, stderr) = texts(&output);
        (output.status.code(), format!("{stdout}{stderr}"))
    }
}

/// A sweep with no new PHI exits 0 and warns on stderr when items could not
/// be fully examined. With fail_on_incomplete it exits 3.
#[test]
fn clean_sweep_warns_about_unread_items() {
    let setup = Setup::new("");
    std::fs::write(setup.share.join("broken.zip"), b"PK\x03\x04not a zip").unwrap();
    assert_eq!(setup.sweep().0, Some(1));
    let (status, _, _, stderr) = setup.sweep();
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.contains("not fully examined"), "{stderr}");
    assert!(stderr.contains("fail_on_incomplete = true"), "{stderr}");

    let strict = Setup::new("fail_on_incomplete = true");
    std::fs::write(strict.share.join("broken.zip"), b"PK\x03\x04not a zip").unwrap();
    assert_eq!(strict.sweep().0, Some(3));
}

#[test]
fn second_sweep_reads_nothing_again() {
    let setup = Setup::new("");
    let (status, first, _, stderr) = setup.sweep();
    assert_eq!(status, Some(1), "first sweep finds PHI: {stderr}");
    assert_eq!(first["items_reused"], 0);
    assert_eq!(first["items_read"], 13, "{first}");

    let (status, second, stdout, stderr) = setup.sweep();
    assert_eq!(
        status,
        Some(0),
        "nothing new since the first sweep: {stdout}{stderr}"
    );
    assert_eq!(second["items_read"], 0, "{second}");
    assert_eq!(second["bytes"], 0, "{second}");
    assert_eq!(second["items_reused"], 15, "every file, none of them read");
    assert_eq!(second["items"], first["items"]);
    assert_eq!(second["by_class"], first["by_class"]);
    assert_eq!(second["findings"], first["findings"]);
    assert_eq!(second["individuals"], first["individuals"]);

    let reused: Vec<Value> = records(&setup.jsonl)
        .into_iter()
        .filter(|record| record["type"] == "item" && record["reused"] == true)
        .collect();
    assert_eq!(reused.len(), 15);
    let note = reused
        .iter()
        .find(|item| {
            item["location"]
                .as_str()
                .unwrap()
                .ends_with("visit-2024-03-14.txt")
        })
        .unwrap();
    assert_eq!(note["class"], "phi");
    assert!(
        note["mode"].is_string(),
        "fresh file facts on reused items: {note}"
    );

    // The store lists the first sweep's rows as unchanged, by their numbers
    // in one range row, and reads them back as the same inventory.
    let connection = rusqlite::Connection::open(&setup.store).unwrap();
    let count = |sql: &str| -> i64 { connection.query_row(sql, [], |row| row.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM reused_items"), 0);
    assert_eq!(count("SELECT count(*) FROM unchanged_items"), 1);
    assert_eq!(
        count(
            "SELECT count(*) FROM all_items WHERE reused = 1 \
             AND scan_id = (SELECT id FROM scans ORDER BY rowid DESC LIMIT 1)"
        ),
        15
    );
    assert_eq!(
        count("SELECT count(*) FROM items"),
        16 + 1,
        "only the folder item is written again"
    );
    assert_eq!(count("SELECT count(DISTINCT scan_id) FROM all_findings"), 2);
    let store = setup.store.to_str().unwrap();
    let inventory = |scan: &str| -> Value {
        let output = run(
            setup.home.path(),
            &["inventory", "--db", store, "--json", "--scan", scan],
        );
        assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
        let mut inventory: Value = serde_json::from_slice(&output.stdout).unwrap();
        inventory.as_object_mut().unwrap().remove("scan");
        inventory.as_object_mut().unwrap().remove("generated");
        inventory
    };
    let first_id = first["scan"].as_str().unwrap();
    let second_id = second["scan"].as_str().unwrap();
    assert_eq!(inventory(second_id), inventory(first_id));
}

/// Writes a sweep configuration of one target with no outputs besides the
/// store, followed by `extra` lines.
fn config_without_jsonl(dir: &Path, target: &Path, store: &Path, extra: &str) -> PathBuf {
    let config = dir.join("sweep.toml");
    let text = format!(
        "name = \"nightly\"\ntargets = [{:?}]\nstore = {:?}\n{extra}",
        target.display().to_string(),
        store.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// Runs one sweep and checks that it ended with status 0 or 1.
fn sweep_ok(home: &Path, config: &Path) {
    let output = run(home, &["sweep", "-q", "--config", config.to_str().unwrap()]);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{:?}",
        texts(&output)
    );
}

/// Without a JSON Lines output, an unchanged clean file is served from the
/// sweep's index without reading its stored row. The store must hold the
/// same inventory all the same, and fresh facts after a `chmod`.
#[test]
fn sweep_without_record_stream_stores_the_same_inventory() {
    let dir = tempdir();
    let home = tempdir();
    let share = dir.path().join("share");
    copy_share_subset(&share);
    let store = home.path().join("inventory.sqlite");
    let config = config_without_jsonl(dir.path(), &share, &store, "");
    let sweep = || sweep_ok(home.path(), &config);
    let connection = || rusqlite::Connection::open(&store).unwrap();
    let newest_scan = || -> (String, Value) {
        connection()
            .query_row(
                "SELECT id, summary FROM scans ORDER BY rowid DESC LIMIT 1",
                [],
                |row| {
                    let summary: String = row.get(1)?;
                    Ok((row.get(0)?, serde_json::from_str(&summary).unwrap()))
                },
            )
            .unwrap()
    };
    let inventory = |scan: &str| -> Value {
        let output = run(
            home.path(),
            &[
                "inventory",
                "--db",
                store.to_str().unwrap(),
                "--json",
                "--scan",
                scan,
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
        let mut inventory: Value = serde_json::from_slice(&output.stdout).unwrap();
        inventory.as_object_mut().unwrap().remove("scan");
        inventory.as_object_mut().unwrap().remove("generated");
        inventory
    };

    sweep();
    let (first_id, first) = newest_scan();
    sweep();
    let (second_id, second) = newest_scan();
    assert_eq!(second["items_read"], 0, "{second}");
    assert_eq!(second["items_reused"], 15, "{second}");
    for field in [
        "items",
        "by_class",
        "by_coverage",
        "by_category",
        "findings",
        "individuals",
    ] {
        assert_eq!(second[field], first[field], "{field}");
    }
    assert_eq!(inventory(&second_id), inventory(&first_id));
    let items_of = |scan: &str| -> Vec<(String, String, String, Option<String>, String, i64)> {
        let connection = connection();
        let mut statement = connection
            .prepare(
                "SELECT location, format, class, mode, exposure, findings FROM all_items
                 WHERE scan_id = ?1 AND format != 'folder' ORDER BY location",
            )
            .unwrap();
        statement
            .query_map([scan], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(items_of(&second_id), items_of(&first_id));

    // A clean file made private: its facts differ from the stored row, so
    // the third sweep stores them, without reading the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let clean = share.join("Admin/newsletter-spring.txt");
        std::fs::set_permissions(&clean, std::fs::Permissions::from_mode(0o600)).unwrap();
        sweep();
        let (third_id, third) = newest_scan();
        assert_eq!(third["items_read"], 0, "{third}");
        let items = items_of(&third_id);
        let newsletter = items
            .iter()
            .find(|item| item.0.ends_with("newsletter-spring.txt"))
            .unwrap();
        assert_eq!(newsletter.3.as_deref(), Some("0600"));
        assert_eq!(newsletter.4, "[]", "no reader besides the owner");
        assert_eq!(newsletter.2, "none");
    }
}

/// Reused mailboxes and messages keep their email flows: a second sweep
/// over unchanged mail stores the same flows as the first, with and
/// without a JSON Lines output.
#[test]
fn reused_mail_keeps_its_flows() {
    for jsonl in [false, true] {
        let dir = tempdir();
        let home = tempdir();
        let mail = dir.path().join("Mail");
        copy_share_folder("Mail", &mail);
        let store = home.path().join("inventory.sqlite");
        let outputs = if jsonl {
            format!(
                "[outputs]\njsonl = {:?}\n",
                home.path().join("last.jsonl").display().to_string()
            )
        } else {
            String::new()
        };
        let extra = format!("internal_domains = [\"riverbend-clinic.org\"]\n{outputs}");
        let config = config_without_jsonl(dir.path(), &mail, &store, &extra);
        let sweep = || sweep_ok(home.path(), &config);
        sweep();
        sweep();
        let connection = rusqlite::Connection::open(&store).unwrap();
        let mut statement = connection
            .prepare("SELECT id, summary FROM scans ORDER BY rowid")
            .unwrap();
        let scans: Vec<(String, Value)> = statement
            .query_map([], |row| {
                let summary: String = row.get(1)?;
                Ok((row.get(0)?, serde_json::from_str(&summary).unwrap()))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(scans.len(), 2);
        let flows_of = |scan: &str| -> Vec<(String, String, bool)> {
            let mut statement = connection
                .prepare("SELECT location, to_domain, external FROM flows WHERE scan_id = ?1 ORDER BY location, to_domain")
                .unwrap();
            statement
                .query_map([scan], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let (first, second) = (&scans[0], &scans[1]);
        assert_eq!(second.1["items_read"], 0, "jsonl {jsonl}: {}", second.1);
        let first_flows = flows_of(&first.0);
        assert!(
            first_flows.len() >= 10,
            "the sample mail has flows: {}",
            first_flows.len()
        );
        assert_eq!(flows_of(&second.0), first_flows, "jsonl {jsonl}");
        assert_eq!(second.1["flows"], first.1["flows"], "jsonl {jsonl}");
    }
}

#[test]
fn changed_file_appears_in_diff() {
    let setup = Setup::new("");
    assert_eq!(setup.sweep().0, Some(1));
    let supplies = setup.share.join("Admin/supplies.csv");
    let mut text = std::fs::read_to_string(&supplies).unwrap();
    text.push_str(&visit_note("362-11-3345", "9857607"));
    std::fs::write(&supplies, text).unwrap();

    let (status, summary, stdout, stderr) = setup.sweep();
    assert_eq!(
        status,
        Some(1),
        "new PHI since the last sweep: {stdout}{stderr}"
    );
    assert_eq!(summary["items_read"], 1, "only the changed file is read");
    assert_eq!(summary["items_reused"], 14);
    assert!(stdout.contains("1 gained"), "{stdout}");

    let (status, diff) = setup.diff();
    assert_eq!(status, Some(1), "{diff}");
    let gained = diff_lines(&diff, "+ gained");
    assert_eq!(gained.len(), 1, "{diff}");
    assert!(gained[0].contains("Admin/supplies.csv"), "{diff}");
    assert!(gained[0].contains("none -> phi"), "{diff}");
    assert!(
        !diff.contains("362-11-3345"),
        "no value in the diff: {diff}"
    );

    // The next sweep finds no further change.
    let (status, summary, _, _) = setup.sweep();
    assert_eq!(status, Some(0));
    assert_eq!(summary["items_read"], 0);
    let (status, diff) = setup.diff();
    assert_eq!(status, Some(0), "{diff}");
    assert!(
        diff.contains("0 gained, 0 lost, 0 changed, 0 moved, 0 incomplete"),
        "{diff}"
    );
}

/// The summary's incremental line accounts for every item scanned.
#[test]
fn incremental_line_adds_up() {
    let setup = Setup::new("");
    assert_eq!(setup.sweep().0, Some(1));
    let output = run(
        setup.home.path(),
        &["sweep", "--config", setup.config.to_str().unwrap()],
    );
    let (stdout, stderr) = texts(&output);

    let numbers = |line: &str| -> Vec<u64> {
        line.split(|c: char| !c.is_ascii_digit())
            .filter(|word| !word.is_empty())
            .map(|word| word.parse().unwrap())
            .collect()
    };
    let scanned = stdout
        .lines()
        .find(|line| line.starts_with("Scanned "))
        .unwrap_or_else(|| panic!("no summary: {stdout}{stderr}"));
    let incremental = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("incremental:"))
        .unwrap_or_else(|| panic!("no incremental line: {stdout}{stderr}"));

    let parts = numbers(incremental);
    assert_eq!(parts.len(), 3, "{incremental}");
    assert_eq!(parts[0], 0, "nothing read again: {incremental}");
    assert!(parts[2] > 0, "the share has folders: {incremental}");
    assert_eq!(
        parts.iter().sum::<u64>(),
        numbers(scanned)[0],
        "{scanned}\n{incremental}"
    );
}

/// A relative target resolves from the configuration's folder to the same
/// root whatever folder the sweep starts in and however the configuration
/// is named, so an unchanged share stays unchanged.
#[test]
fn relative_target_same_from_any_folder() {
    let dir = tempdir();
    let home = tempdir();
    copy_share_subset(&dir.path().join("share"));
    let config_dir = dir.path().join("sweeps");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("nightly.toml"),
        "name = \"nightly\"\ntargets = [\"../share\"]\nstore = \"inventory.sqlite\"\n",
    )
    .unwrap();
    let sweep_from = |folder: &Path, config: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_phiscan"))
            .env("PHISCAN_HOME", home.path())
            .env_remove("PHISCAN_LOG")
            .current_dir(folder)
            .args(["sweep", "-q", "--config", config])
            .output()
            .unwrap();
        let (stdout, stderr) = texts(&output);
        (output.status.code(), format!("{stdout}{stderr}"))
    };

    let (status, text) = sweep_from(dir.path(), "sweeps/nightly.toml");
    assert_eq!(status, Some(1), "{text}");
    let (status, text) = sweep_from(&config_dir, "nightly.toml");
    assert_eq!(status, Some(0), "no new PHI: {text}");
    assert!(
        text.contains("0 gained, 0 lost, 0 changed, 0 moved, 0 incomplete"),
        "{text}"
    );
    let absolute = config_dir.join("nightly.toml");
    let (status, text) = sweep_from(Path::new("/"), absolute.to_str().unwrap());
    assert_eq!(status, Some(0), "no new PHI: {text}");
    assert!(
        text.contains("0 gained, 0 lost, 0 changed, 0 moved, 0 incomplete"),
        "{text}"
    );

    // The store records one root, absolute and without `..`.
    let store = config_dir.join("inventory.sqlite");
    let connection = rusqlite::Connection::open(&store).unwrap();
    let roots: Vec<String> = connection
        .prepare("SELECT DISTINCT roots FROM scans")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let share = std::fs::canonicalize(dir.path().join("share")).unwrap();
    assert_eq!(roots, vec![serde_json::to_string(&[share]).unwrap()]);
}

#[test]
fn removed_phi_is_lost_in_diff() {
    let setup = Setup::new("");
    assert_eq!(setup.sweep().0, Some(1));
    let note = setup.share.join("Notes/visit-2024-03-14.txt");
    std::fs::write(&note, CLEAN_TEXT).unwrap();
    let (status, summary, _, _) = setup.sweep();
    assert_eq!(status, Some(0), "losing PHI is not new PHI");
    assert_eq!(summary["items_read"], 1);
    let (status, diff) = setup.diff();
    assert_eq!(status, Some(0), "{diff}");
    assert!(
        diff.lines()
            .any(|line| line.starts_with("- lost") && line.contains("visit-2024-03-14.txt")),
        "{diff}"
    );
}

/// Writes a zip archive at `archive`, creating its folder, with one member
/// `visit.txt` holding `text`.
fn write_zip_note(archive: &Path, text: &str) {
    std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(archive).unwrap());
    writer
        .start_file("visit.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut writer, text.as_bytes()).unwrap();
    writer.finish().unwrap();
}

/// A damaged archive hides its members: the diff lists the archive and the
/// members it held PHI in as incomplete, not as lost.
#[test]
fn damaged_archive_is_incomplete_in_diff() {
    let setup = Setup::new("");
    let archive = setup.share.join("Exports/records.zip");
    write_zip_note(&archive, &visit_note("219-09-9999", "MRN-4417"));
    assert_eq!(setup.sweep().0, Some(1));

    // Cut off the end, where the zip directory is.
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let (status, _, stdout, stderr) = setup.sweep();
    assert_eq!(status, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("2 incomplete"), "{stdout}");

    let (status, diff) = setup.diff();
    assert_eq!(status, Some(0), "{diff}");
    let incomplete = diff_lines(&diff, "! incomplete");
    assert_eq!(incomplete.len(), 2, "{diff}");
    for line in &incomplete {
        assert!(line.contains("records.zip"), "{diff}");
        assert!(line.contains("coverage complete -> error"), "{diff}");
    }
    assert!(
        incomplete
            .iter()
            .any(|line| line.contains("phi -> not read")),
        "the member with PHI was not seen: {diff}"
    );
    assert!(!diff.contains("- lost"), "{diff}");
}

/// A note rewritten for another patient keeps its class and counts: the
/// diff lists it as changed with other values. A note saved again with the
/// same values is not listed.
/// A damaged archive restored from a backup brings back PHI that the last
/// sweep to read it whole had found: no new PHI. The same archive restored
/// with an SSN added is new PHI.
#[test]
fn restored_archive_is_not_new_phi() {
    let setup = Setup::new("");
    let archive = setup.share.join("Exports/records.zip");
    let note = "PROGRESS NOTE\nPatient: Maria Alvarez\nMRN: MRN-4417\nAssessment: type 2 diabetes mellitus (E11.9).\n";
    write_zip_note(&archive, note);
    let original = std::fs::read(&archive).unwrap();
    assert_eq!(setup.sweep().0, Some(1));

    std::fs::write(&archive, &original[..original.len() / 2]).unwrap();
    assert_eq!(setup.sweep().0, Some(0));

    std::fs::write(&archive, &original).unwrap();
    let (status, _, stdout, stderr) = setup.sweep();
    assert_eq!(
        status,
        Some(0),
        "PHI known before the damage: {stdout}{stderr}"
    );
    let (status, diff) = setup.diff();
    assert_eq!(status, Some(0), "{diff}");
    let gained = diff_lines(&diff, "+ gained");
    assert_eq!(gained.len(), 1, "{diff}");
    assert!(gained[0].contains("records.zip!"), "{diff}");
    assert!(gained[0].contains("coverage error -> complete"), "{diff}");
    assert!(gained[0].contains("last read whole in scan"), "{diff}");

    std::fs::write(&archive, &original[..original.len() / 2]).unwrap();
    assert_eq!(setup.sweep().0, Some(0));
    write_zip_note(&archive, &format!("{note}SSN: 234-56-7890\n"));
    let (status, _, stdout, stderr) = setup.sweep();
    assert_eq!(
        status,
        Some(1),
        "an SSN that no read found before: {stdout}{stderr}"
    );
}

#[test]
fn same_counts_of_other_values_are_changed() {
    let setup = Setup::new("");
    let intake = write_file(
        &setup.share,
        "Intake/today.txt",
        &visit_note("234-56-7890", "MRN-4417"),
        0o644,
    );
    let resaved = write_file(
        &setup.share,
        "Intake/resaved.txt",
        &visit_note("412-36-5178", "MRN-5520"),
        0o644,
    );
    assert_eq!(setup.sweep().0, Some(1));
    // The second sweep lists every file as unchanged, so the third is
    // compared with rows the first sweep wrote.
    let (status, summary, _, _) = setup.sweep();
    assert_eq!(status, Some(0));
    assert_eq!(summary["items_read"], 0, "{summary}");

    std::fs::write(&intake, visit_note("345-12-6789", "MRN-6631")).unwrap();
    std::fs::write(
        &resaved,
        format!("{}\n", visit_note("412-36-5178", "MRN-5520")),
    )
    .unwrap();
    let (status, summary, stdout, stderr) = setup.sweep();
    assert_eq!(
        status,
        Some(0),
        "same counts are not new PHI: {stdout}{stderr}"
    );
    assert_eq!(summary["items_read"], 2, "{summary}");

    let (status, diff) = setup.diff();
    assert_eq!(status, Some(0), "{diff}");
    let changed = diff_lines(&diff, "~ changed");
    assert_eq!(changed.len(), 1, "{diff}");
    assert!(changed[0].contains("Intake/today.txt"), "{diff}");
    assert!(changed[0].contains("other values"), "{diff}");
    assert!(!diff.contains("resaved.txt"), "{diff}");
    for value in ["234-56-7890", "345-12-6789", "MRN-4417", "MRN-6631"] {
        assert!(!diff.contains(value), "no value in the diff: {diff}");
    }
}

/// An empty target that held files in the last sweep looks like an
/// unmounted share: the sweep stops before recording it, and the next sweep
/// with the share back reads nothing again.
#[test]
fn emptied_target_is_rejected_unless_allowed() {
    let setup = Setup::new("");
    assert_eq!(setup.sweep().0, Some(1));
    let parked = setup.home.path().join("parked");
    std::fs::rename(&setup.share, &parked).unwrap();
    std::fs::create_dir(&setup.share).unwrap();

    let (status, _, stdout, stderr) = setup.sweep();
    assert_eq!(status, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("is an empty folder"), "{stderr}");
    assert!(stderr.contains("--allow-empty"), "{stderr}");
    let connection = rusqlite::Connection::open(&setup.store).unwrap();
    let scans: i64 = connection
        .query_row("SELECT count(*) FROM scans", [], |row| row.get(0))
        .unwrap();
    assert_eq!(scans, 1, "the empty sweep is not recorded");

    std::fs::remove_dir(&setup.share).unwrap();
    std::fs::rename(&parked, &setup.share).unwrap();
    let (status, summary, stdout, stderr) = setup.sweep();
    assert_eq!(status, Some(0), "{stdout}{stderr}");
    assert_eq!(summary["items_read"], 0, "{summary}");

    // The last sweep recorded the files as unchanged rows of the first.
    std::fs::remove_dir_all(&setup.share).unwrap();
    std::fs::create_dir(&setup.share).unwrap();
    assert_eq!(setup.sweep().0, Some(2));
    let output = run(
        setup.home.path(),
        &[
            "sweep",
            "-q",
            "--allow-empty",
            "--config",
            setup.config.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    let (_, diff) = setup.diff();
    assert!(diff.contains(" lost, "), "{diff}");
    assert!(
        diff.lines().any(|line| line.starts_with("- lost")),
        "{diff}"
    );
}

/// `--mask-paths` hides a patient's name in a folder name, in text and JSON,
/// and OLD alone is compared with the newest scan.
#[test]
fn diff_mask_paths_and_old_only() {
    let setup = Setup::new("");
    assert_eq!(setup.sweep().0, Some(1));
    write_file(
        &setup.share,
        "Patients/Quinlan, Theodora/intake.txt",
        &visit_note("234-56-7890", "MRN-4417"),
        0o644,
    );
    assert_eq!(setup.sweep().0, Some(1));
    let connection = rusqlite::Connection::open(&setup.store).unwrap();
    let first: String = connection
        .query_row(
            "SELECT id FROM scans ORDER BY started, rowid LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();

    let store = setup.store.to_str().unwrap();
    let plain = run(setup.home.path(), &["diff", &first[..8], "--db", store]);
    let (stdout, stderr) = texts(&plain);
    assert_eq!(plain.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("Quinlan"), "{stdout}");

    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec!["diff", &first[..8], "--db", store, "--mask-paths"];
        args.extend_from_slice(extra);
        let masked = run(setup.home.path(), &args);
        let (stdout, stderr) = texts(&masked);
        assert_eq!(masked.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stdout.contains("intake") || stdout.contains("file-"),
            "{stdout}"
        );
        assert!(!stdout.contains("Quinlan"), "{stdout}");
        assert!(!stdout.contains("Theodora"), "{stdout}");
    }
}

/// A folder renamed from a patient's name to a chart number moves, and the
/// line shows the category it gained and the one it lost.
#[test]
fn renamed_folder_lists_changed_categories() {
    let setup = Setup::new("");
    write_file(
        &setup.share,
        "Patients/Quinlan, Theodora/intake.txt",
        &visit_note("234-56-7890", "MRN-4417"),
        0o644,
    );
    assert_eq!(setup.sweep().0, Some(1));
    std::fs::rename(
        setup.share.join("Patients/Quinlan, Theodora"),
        setup.share.join("Patients/Chart 4471029"),
    )
    .unwrap();
    let (status, _, stdout, stderr) = setup.sweep();
    assert_eq!(status, Some(0), "a move is not new PHI: {stdout}{stderr}");

    let (_, diff) = setup.diff();
    let folder: Vec<&str> = diff_lines(&diff, "> moved")
        .into_iter()
        .filter(|line| line.contains("Chart 4471029 ("))
        .collect();
    assert_eq!(folder.len(), 1, "{diff}");
    assert!(folder[0].contains("+mrn"), "{diff}");
    assert!(folder[0].contains("-name"), "{diff}");
}

#[test]
fn moved_file_is_recognized_by_content() {
    let setup = Setup::new("");
    assert_eq!(setup.sweep().0, Some(1));
    // A copy and delete gives the file a new inode, as a move across
    // volumes or over SMB does.
    let old = setup.share.join("Notes/visit-2024-03-14.txt");
    let archive = setup.share.join("Archive");
    std::fs::create_dir(&archive).unwrap();
    let new = archive.join("visit-2024-03-14.txt");
    std::fs::copy(&old, &new).unwrap();
    std::fs::remove_file(&old).unwrap();
    let size = std::fs::metadata(&new).unwrap().len();

    let (status, summary, stdout, stderr) = setup.sweep();
    assert_eq!(status, Some(0), "a move is not new PHI: {stdout}{stderr}");
    assert_eq!(summary["items_read"], 0, "hashed, not extracted: {summary}");
    assert_eq!(summary["items_reused"], 15);
    assert_eq!(
        summary["bytes"], size,
        "the moved file is read once to hash it"
    );
    let moved = records(&setup.jsonl)
        .into_iter()
        .find(|record| {
            record["type"] == "item"
                && record["location"]
                    .as_str()
                    .unwrap()
                    .ends_with("Archive/visit-2024-03-14.txt")
        })
        .unwrap();
    assert_eq!(moved["class"], "phi");
    assert_eq!(moved["reused"], true);
    let findings = records(&setup.jsonl)
        .into_iter()
        .filter(|record| record["type"] == "finding" && record["location"] == moved["location"])
        .count();
    assert_eq!(findings as u64, moved["findings"].as_u64().unwrap());

    let (status, diff) = setup.diff();
    assert_eq!(status, Some(0), "{diff}");
    let line = diff
        .lines()
        .find(|line| line.starts_with("> moved"))
        .unwrap_or_else(|| panic!("{diff}"));
    assert!(line.contains("Archive/visit-2024-03-14.txt"), "{line}");
    assert!(
        line.contains("from ") && line.contains("Notes/visit-2024-03-14.txt"),
        "{line}"
    );
}

/// Runs a sweep with the configuration `text`, expects the fatal status 2,
/// and returns its standard error.
fn rejected_config(text: &str) -> String {
    let dir = tempdir();
    let home = tempdir();
    let config = dir.path().join("sweep.toml");
    std::fs::write(&config, text).unwrap();
    let output = run(
        home.path(),
        &["sweep", "--config", config.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(2));
    texts(&output).1
}

#[test]
fn unknown_key_names_key_and_line() {
    let stderr = rejected_config("targets = [\"/srv/share\"]\nexclude = []\nthreds = 4\n");
    assert!(stderr.contains("unknown field `threds`"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
}

#[test]
fn mail_server_target_is_rejected_clearly() {
    let stderr =
        rejected_config("targets = [\"/srv/share\", \"imaps://frontdesk@127.0.0.1/INBOX\"]\n");
    assert!(
        stderr.contains("imaps://frontdesk@127.0.0.1/INBOX"),
        "{stderr}"
    );
    assert!(stderr.contains("phiscan scan imaps://"), "{stderr}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let stderr = rejected_config("targets = [\"/srv/share\"]\n\n[outputs]\nmask_paths = \"yes\"\n");
    assert!(stderr.contains("line 4"), "{stderr}");
    assert!(stderr.contains("mask_paths"), "{stderr}");
    assert!(stderr.contains("expected true or false"), "{stderr}");
    let stderr = rejected_config("targets = [\"/srv/share\"]\nthreads = \"four\"\n");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("expected a whole number"), "{stderr}");
    let stderr = rejected_config("targets = \"/srv/share\"\n");
    assert!(stderr.contains("expected a list in brackets"), "{stderr}");
}

#[test]
fn second_concurrent_sweep_exits_clearly() {
    let setup = Setup::new("");
    let lock = phiscan_inventory::SweepLock::acquire(&setup.store, Duration::ZERO).unwrap();
    let (status, _, stdout, stderr) = setup.sweep();
    assert_eq!(status, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("another sweep is running on the store"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("process {}", std::process::id())),
        "{stderr}"
    );
    drop(lock);
    assert_eq!(setup.sweep().0, Some(1), "runs once the lock is free");
}

#[test]
fn concurrent_sweep_waits_with_lock_timeout() {
    let setup = Setup::new("lock_timeout = 30");
    let lock = phiscan_inventory::SweepLock::acquire(&setup.store, Duration::ZERO).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        drop(lock);
    });
    let started = Instant::now();
    let (status, _, stdout, stderr) = setup.sweep();
    releaser.join().unwrap();
    assert_eq!(status, Some(1), "{stdout}{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn corrupt_store_is_reported_and_kept() {
    let setup = Setup::new("");
    let garbage = vec![0x5Au8; 8192];
    std::fs::write(&setup.store, &garbage).unwrap();
    let (status, _, _, stderr) = setup.sweep();
    assert_eq!(status, Some(2));
    assert!(stderr.contains("cannot open the store"), "{stderr}");
    assert!(stderr.contains(setup.store.to_str().unwrap()), "{stderr}");
    assert_eq!(
        std::fs::read(&setup.store).unwrap(),
        garbage,
        "nothing overwritten"
    );

    let output = run(
        setup.home.path(),
        &[
            "report",
            "--db",
            setup.store.to_str().unwrap(),
            "--format",
            "csv",
            "-o",
            "-",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(std::fs::read(&setup.store).unwrap(), garbage);
}

#[test]
fn locked_store_is_reported_and_kept() {
    let setup = Setup::new("busy_timeout = 1");
    assert_eq!(setup.sweep().0, Some(1));
    let holder = rusqlite::Connection::open(&setup.store).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let before = std::fs::read(&setup.store).unwrap();

    let (status, _, stdout, stderr) = setup.sweep();
    assert_eq!(status, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("is locked by another program"), "{stderr}");
    assert_eq!(
        std::fs::read(&setup.store).unwrap(),
        before,
        "nothing overwritten"
    );
    drop(holder);
    assert_eq!(setup.sweep().0, Some(0), "works once the lock is gone");
}

/// Writes `count` small files with PHI into `root`, ten per folder.
fn many_files(root: &Path, count: usize) {
    for index in 0..count {
        let ssn = format!(
            "{:03}-{:02}-{:04}",
            100 + index % 600,
            10 + index % 80,
            1000 + index
        );
        let mrn = format!("{}", 3_000_000 + index);
        write_file(
            root,
            &format!("batch-{:04}/note-{index:05}.txt", index / 10),
            &visit_note(&ssn, &mrn),
            0o600,
        );
    }
}

fn count_items(store: &Path) -> i64 {
    let Ok(connection) =
        rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    connection
        .query_row("SELECT count(*) FROM items", [], |row| row.get(0))
        .unwrap_or(0)
}

#[cfg(unix)]
#[test]
fn killed_sweep_is_incomplete_and_resumes() {
    let dir = tempdir();
    let home = tempdir();
    let share = dir.path().join("share");
    many_files(&share, 6000);
    let store = home.path().join("inventory.sqlite");
    let jsonl = home.path().join("last.jsonl");
    let config = write_config(dir.path(), &[&share], &store, &jsonl, "threads = 1");

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .env("PHISCAN_HOME", home.path())
        .args(["sweep", "-q", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while count_items(&store) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it could be killed"
        );
        assert!(Instant::now() < deadline, "no item was committed in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up.
    child.wait().unwrap();

    let recorded = count_items(&store);
    assert!(recorded > 0, "killed after the first commit");
    assert!(recorded < 6000, "killed mid-sweep: {recorded} items");
    let connection = rusqlite::Connection::open(&store).unwrap();
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let (complete, killed_id): (bool, String) = connection
        .query_row("SELECT complete, id FROM scans", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert!(!complete, "the killed sweep stays incomplete");
    drop(connection);

    let output = run(
        home.path(),
        &["sweep", "-q", "--config", config.to_str().unwrap()],
    );
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("resuming the interrupted sweep {killed_id}")),
        "{stderr}"
    );
    let summary = summary(&jsonl);
    assert_eq!(summary["complete"], true);
    assert_eq!(summary["items"], 6000);
    assert_eq!(
        summary["items_reused"].as_i64().unwrap(),
        recorded,
        "{summary}"
    );
    assert_eq!(summary["items_read"].as_i64().unwrap(), 6000 - recorded);
    let connection = rusqlite::Connection::open(&store).unwrap();
    let resumed_from: Option<String> = connection
        .query_row(
            "SELECT resumed_from FROM scans WHERE complete = 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(resumed_from.as_deref(), Some(killed_id.as_str()));
}

#[cfg(unix)]
#[test]
fn interrupted_sweep_is_incomplete_and_resumes() {
    let dir = tempdir();
    let home = tempdir();
    let share = dir.path().join("share");
    many_files(&share, 6000);
    let store = home.path().join("inventory.sqlite");
    let jsonl = home.path().join("last.jsonl");
    let config = write_config(dir.path(), &[&share], &store, &jsonl, "threads = 1");

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .env("PHISCAN_HOME", home.path())
        .args(["sweep", "-q", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while count_items(&store) == 0 {
        assert!(Instant::now() < deadline, "no item was committed in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    // What systemd and `kill` send to stop a process. Ctrl-C's SIGINT goes
    // to the same handler.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("recorded as incomplete"), "{stderr}");
    let interrupted = summary(&jsonl);
    assert_eq!(interrupted["complete"], false);
    let recorded = interrupted["items"].as_i64().unwrap();
    assert!(recorded > 0, "{interrupted}");
    assert!(recorded < 6000, "{interrupted}");

    let output = run(
        home.path(),
        &["sweep", "-q", "--config", config.to_str().unwrap()],
    );
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("resuming the interrupted sweep"),
        "{stderr}"
    );
    let resumed = summary(&jsonl);
    assert_eq!(resumed["complete"], true);
    assert_eq!(resumed["items"], 6000);
    // Items cut short by the interruption are read again, so at most what
    // the interrupted sweep recorded is reused.
    let reused = resumed["items_reused"].as_i64().unwrap();
    assert!(reused > 0, "{resumed}");
    assert!(reused <= recorded, "{resumed}");
    assert_eq!(resumed["items_read"].as_i64().unwrap(), 6000 - reused);
}

/// Output files of a sweep go into folders created for them, private to
/// the user, like the store's folder.
#[test]
fn missing_output_folder_is_created() {
    let dir = tempdir();
    let home = tempdir();
    let share = dir.path().join("share");
    copy_share_subset(&share);
    let jsonl = dir.path().join("out/nightly/last.jsonl");
    let store = dir.path().join("store/inventory.sqlite");
    let config = write_config(dir.path(), &[&share], &store, &jsonl, "");
    let output = run(
        home.path(),
        &["sweep", "-q", "--config", config.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{:?}", texts(&output));
    assert!(jsonl.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(jsonl.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

/// A changed item lists the categories it gained, and a diff across a rules
/// change notes that the rules differ.
#[test]
fn diff_notes_changed_rules_and_categories() {
    let home = tempdir();
    let share = home.path().join("share");
    let note = "Patient: Theodora Quinlan\nDx: E11.9\n";
    write_file(&share, "note.txt", note, 0o644);
    let store = home.path().join("inventory.sqlite");
    let store = store.to_str().unwrap();
    let share_arg = share.to_str().unwrap();
    let first = run(home.path(), &["scan", "-q", "--db", store, share_arg]);
    assert_eq!(first.status.code(), Some(1), "{:?}", texts(&first));

    write_file(
        &share,
        "note.txt",
        &format!("{note}SSN 287-45-6612\n"),
        0o644,
    );
    let rules = home.path().join("rules");
    write_file(
        &rules,
        "practice.toml",
        r#"
[[rule]]
id = "practice.chart"
name = "Practice chart number"
category = "mrn"
description = "Chart numbers of the practice: CH- and six digits."
pattern = '\bCH-\d{6}\b'
confidence = 90
examples = ["CH-123456"]
"#,
        0o644,
    );
    let second = run(
        home.path(),
        &[
            "scan",
            "-q",
            "--db",
            store,
            "--rules",
            rules.to_str().unwrap(),
            share_arg,
        ],
    );
    assert_eq!(second.status.code(), Some(1), "{:?}", texts(&second));

    let output = run(home.path(), &["diff", "--db", store]);
    let (stdout, stderr) = texts(&output);
    assert!(stdout.contains("used different rules"), "{stdout}{stderr}");
    let changed = diff_lines(&stdout, "~ changed");
    assert_eq!(changed.len(), 1, "{stdout}");
    assert!(changed[0].contains("; +ssn)"), "{stdout}");
}
