//! A scan over the shared corpus of real files made by other tools
//! (`$PHISCAN_CORPUS`): it completes, and every file ends in a coverage state.

mod common;

use common::scan;
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("PHISCAN_CORPUS") {
        Some(path) if Path::new(&path).is_dir() => Some(PathBuf::from(path)),
        _ => {
            eprintln!("skipped: set PHISCAN_CORPUS to the corpus folder to run this test");
            None
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn corpus_scan_completes_with_every_file_recorded() {
    let Some(corpus) = corpus() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let result = scan(&corpus, home.path(), &[".", "--no-db", "--quiet"]);
    assert!(
        matches!(result.status, Some(0 | 1)),
        "status {:?}; stderr: {}",
        result.status,
        result.stderr
    );
    assert_eq!(result.summary["complete"], true);
    assert!(
        !result.stderr.contains("internal error"),
        "{}",
        result.stderr
    );

    let mut all = Vec::new();
    files(&corpus, &mut all);
    assert!(all.len() > 100, "corpus has only {} files", all.len());
    const STATES: [&str; 6] = [
        "complete",
        "partial",
        "encrypted",
        "unsupported",
        "error",
        "skipped",
    ];
    for file in all {
        let location = format!("./{}", file.strip_prefix(&corpus).unwrap().display());
        let item = result
            .item(&location)
            .unwrap_or_else(|| panic!("{location}: no item record"));
        let coverage = item["coverage"].as_str().unwrap();
        assert!(STATES.contains(&coverage), "{location}: {coverage}");
        if coverage != "complete" {
            assert!(
                item["reason"]
                    .as_str()
                    .is_some_and(|reason| !reason.is_empty()),
                "{location}: no reason"
            );
        }
    }
}
