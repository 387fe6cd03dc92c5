//! Helpers for tests that run the `phiscan` binary.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Returns the fixtures folder of the repository.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Builds a command for the phiscan binary with a private data folder.
pub fn phiscan(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_phiscan"));
    command.env("PHISCAN_HOME", home).env_remove("PHISCAN_LOG");
    command
}

/// The records of a scan, split by type.
#[derive(Debug, Default)]
pub struct Scan {
    pub scan: Value,
    pub items: Vec<Value>,
    pub findings: Vec<Value>,
    pub flows: Vec<Value>,
    pub summary: Value,
    pub status: Option<i32>,
    pub stderr: String,
    pub stdout: String,
}

impl Scan {
    /// Finds the item record at a location.
    pub fn item(&self, location: &str) -> Option<&Value> {
        self.items.iter().find(|item| item["location"] == location)
    }

    /// Iterates over the findings of the item at a location.
    pub fn findings_at<'a>(&'a self, location: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.findings
            .iter()
            .filter(move |finding| finding["location"] == location)
    }
}

/// Runs `phiscan scan` with `args` in `dir`, writing JSON Lines to a temporary
/// file, and parses the records.
pub fn scan(dir: &Path, home: &Path, args: &[&str]) -> Scan {
    scan_with_env(dir, home, args, &[])
}

/// Runs `phiscan scan` like [`scan`], with extra environment variables.
pub fn scan_with_env(dir: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Scan {
    let jsonl = home.join("scan.jsonl");
    let output: Output = phiscan(home)
        .envs(env.iter().copied())
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .arg("--jsonl")
        .arg(&jsonl)
        .output()
        .expect("phiscan runs");
    let text = std::fs::read_to_string(&jsonl).unwrap_or_default();
    let mut scan = Scan {
        status: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        ..Scan::default()
    };
    for line in text.lines() {
        let record: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("invalid JSON line ({err}): {line}"));
        match record["type"].as_str() {
            Some("scan") => scan.scan = record,
            Some("item") => scan.items.push(record),
            Some("finding") => scan.findings.push(record),
            Some("flow") => scan.flows.push(record),
            Some("summary") => scan.summary = record,
            other => panic!("unexpected record type {other:?}"),
        }
    }
    scan
}

/// Returns true when every key of `expected` has the same value in `actual`.
pub fn is_subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => expected
            .iter()
            .all(|(key, value)| actual.get(key).is_some_and(|found| is_subset(value, found))),
        _ => expected == actual,
    }
}
