//! Helpers for the inventory, report and sweep tests: fake PHI files, sweep
//! configurations and store queries.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Returns a visit note with a fake patient: an SSN and an MRN tied to a diagnosis
/// code in one record, so the item is classed phi.
pub fn visit_note(ssn: &str, mrn: &str) -> String {
    format!(
        "PROGRESS NOTE\nPatient: Maria Alvarez\nMRN: {mrn}\nSSN: {ssn}\nAssessment: type 2 diabetes mellitus (E11.9).\n"
    )
}

/// Returns the lines of a `phiscan diff` output that start with `mark`,
/// such as `+ gained`.
pub fn diff_lines<'a>(diff: &'a str, mark: &str) -> Vec<&'a str> {
    diff.lines().filter(|line| line.starts_with(mark)).collect()
}

/// A file without any identifier.
pub const CLEAN_TEXT: &str = "Supplies: gloves, gauze, paper towels.\n";

/// Writes `content` to `root/relative`, creating folders, with POSIX `mode`.
pub fn write_file(root: &Path, relative: &str, content: &str, mode: u32) -> PathBuf {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
    path
}

/// Runs phiscan with a private data folder.
pub fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .env("PHISCAN_HOME", home)
        .env_remove("PHISCAN_LOG")
        .args(args)
        .output()
        .expect("phiscan runs")
}

/// Text of stdout and stderr, for assertion messages.
pub fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Writes a sweep configuration that scans `targets` into `store` and
/// writes JSON Lines to `jsonl`, plus `extra` TOML lines.
pub fn write_config(
    dir: &Path,
    targets: &[&Path],
    store: &Path,
    jsonl: &Path,
    extra: &str,
) -> PathBuf {
    let targets: Vec<String> = targets
        .iter()
        .map(|target| format!("{:?}", target.display().to_string()))
        .collect();
    let text = format!(
        "name = \"nightly\"\ntargets = [{}]\nstore = {:?}\n{extra}\n[outputs]\njsonl = {:?}\n",
        targets.join(", "),
        store.display().to_string(),
        jsonl.display().to_string()
    );
    let path = dir.join("sweep.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Parses a JSON Lines file and returns its records.
pub fn records(jsonl: &Path) -> Vec<Value> {
    std::fs::read_to_string(jsonl)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Returns the summary record of a JSON Lines file.
pub fn summary(jsonl: &Path) -> Value {
    records(jsonl)
        .into_iter()
        .find(|record| record["type"] == "summary")
        .expect("a summary record")
}

/// Returns the location row of an inventory JSON document.
pub fn row<'a>(inventory: &'a Value, location: &str) -> &'a Value {
    inventory["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["location"] == location)
        .unwrap_or_else(|| panic!("no row {location} in {inventory:#}"))
}

/// Creates a temporary folder under the build's target folder rather than the
/// system's temp folder, whose name would mark every file as in a temp place.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("phiscan-test")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// The text files of the sample share that the inventory and sweep tests copy.
/// A fixed list keeps their expected figures stable when other fixtures are
/// added to the share.
pub const SHARE_SUBSET: [&str; 15] = [
    "Admin/catalog-notes.txt",
    "Admin/empty-placeholder.txt",
    "Admin/export-corrupted.txt",
    "Admin/newsletter-spring.txt",
    "Admin/supplies.csv",
    "Exports/appointments-2024-q1.csv",
    "Exports/billing-unicode-text.txt",
    "Exports/patient-portal.json",
    "Intake/intake-form-export.txt",
    "Lab/results-batch-0412.xml",
    "Letters/referral-cardiology.html",
    "Notes/progress-note-unicode.txt",
    "Notes/visit-2024-03-14.txt",
    "Patients/MRN 6293186/scan-request DOB 1943-03-21.txt",
    "Scans/insurance-card-front.png",
];

/// Copies the files of [`SHARE_SUBSET`] from the sample share into `to`.
pub fn copy_share_subset(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/share");
    for relative in SHARE_SUBSET {
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(from.join(relative), &target).unwrap();
    }
}

/// Copies a folder of the sample share, such as `Mail`, into `to`.
pub fn copy_share_folder(folder: &str, to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/share")
        .join(folder);
    copy(&from, to);
}
