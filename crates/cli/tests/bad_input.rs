//! Inputs that must not stop or mislead a scan: each ends in a recorded
//! coverage state with a clear reason, and the scan completes.

mod common;

use common::{phiscan, scan};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    name.to_string()
}

#[test]
fn empty_file_is_complete_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(dir.path(), "empty.txt", b"");
    let result = scan(dir.path(), home.path(), &[".", "--no-db"]);
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    let item = result.item("./empty.txt").unwrap();
    assert_eq!(item["format"], "empty");
    assert_eq!(item["coverage"], "complete");
    assert_eq!(item["class"], "none");
}

#[test]
fn huge_line_is_streamed_and_boundary_match_found() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // One 6 MiB line: an SSN straddles the first 1 MiB chunk boundary and
    // another sits near the end.
    let mut content = vec![b'x'; 6 << 20];
    let first = (1 << 20) - 6;
    content[first - 5..first].copy_from_slice(b" SSN ");
    content[first..first + 11].copy_from_slice(b"234-56-7890");
    content[first + 11] = b' ';
    let second = (6 << 20) - 20;
    content[second - 1] = b' ';
    content[second..second + 11].copy_from_slice(b"345-67-8901");
    content[second + 11] = b' ';
    write(dir.path(), "huge-line.log", &content);

    let result = scan(dir.path(), home.path(), &[".", "--no-db"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    let starts: Vec<u64> = result
        .findings_at("./huge-line.log")
        .filter(|finding| finding["category"] == "ssn")
        .map(|finding| finding["start"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, vec![first as u64, second as u64]);
    let columns: Vec<u64> = result
        .findings_at("./huge-line.log")
        .map(|finding| finding["column"].as_u64().unwrap())
        .collect();
    assert_eq!(columns, vec![first as u64 + 1, second as u64 + 1]);
    assert_eq!(
        result.item("./huge-line.log").unwrap()["coverage"],
        "complete"
    );
}

/// Scans one file of `dir` on one and on three threads and checks that the
/// findings (with their lines, columns and locators) and the item's verdict
/// are the same. Returns the number of findings.
fn same_findings_on_one_and_three_threads(dir: &Path, name: &str) -> usize {
    // One data folder for both runs, so that both use the same fingerprint key.
    let home = tempfile::tempdir().unwrap();
    let location = format!("./{name}");

    let findings = |threads: &str| {
        let result = scan(dir, home.path(), &[".", "--no-db", "--threads", threads]);
        assert_eq!(result.status, Some(1), "{}", result.stderr);
        let item = result.item(&location).unwrap().clone();
        let mut found: Vec<String> = result
            .findings_at(&location)
            .map(|finding| {
                [
                    "rule",
                    "start",
                    "end",
                    "line",
                    "column",
                    "locator",
                    "fingerprint",
                ]
                .map(|field| finding[field].to_string())
                .join(" ")
            })
            .collect();
        found.sort();
        (found, item["class"].clone(), item["findings"].clone())
    };

    let (one, one_class, one_count) = findings("1");
    let (three, three_class, three_count) = findings("3");

    assert_eq!(one.len(), three.len());
    let differing = one.iter().zip(&three).position(|(a, b)| a != b);
    assert_eq!(
        differing, None,
        "first finding that differs, in sorted order"
    );
    assert_eq!(one_class, three_class);
    assert_eq!(one_count, three_count);

    // A store alone takes the findings as blocks, which threads encode
    // apart from the records above, and they contain the same findings.
    for threads in ["1", "3"] {
        let db = home.path().join(format!("threads-{threads}.sqlite"));
        let output = phiscan(home.path())
            .current_dir(dir)
            .args(["scan", ".", "--quiet", "--threads", threads, "--db"])
            .arg(&db)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stored = stored_findings(&db, &location);
        assert_eq!(
            stored.len(),
            one.len(),
            "findings in the store on {threads} threads"
        );
        let differing = stored.iter().zip(&one).position(|(a, b)| a != b);
        assert_eq!(
            differing, None,
            "first stored finding that differs from JSON Lines, in sorted order, on {threads} threads"
        );
    }
    one.len()
}

/// Reads the findings of one item from a store's `findings` view, in the
/// form and order of [`same_findings_on_one_and_three_threads`].
fn stored_findings(db: &Path, location: &str) -> Vec<String> {
    let connection = rusqlite::Connection::open(db).unwrap();
    let mut statement = connection
        .prepare(
            r#"SELECT rule, start, "end", line, "column", locator, fingerprint
               FROM findings WHERE location = ?1"#,
        )
        .unwrap();
    let mut found: Vec<String> = statement
        .query_map([location], |row| {
            let locator: String = row.get(5)?;
            let locator: serde_json::Value = serde_json::from_str(&locator).unwrap();
            Ok([
                serde_json::Value::from(row.get::<_, String>(0)?).to_string(),
                row.get::<_, i64>(1)?.to_string(),
                row.get::<_, i64>(2)?.to_string(),
                row.get::<_, i64>(3)?.to_string(),
                row.get::<_, i64>(4)?.to_string(),
                locator.to_string(),
                serde_json::Value::from(row.get::<_, String>(6)?).to_string(),
            ]
            .join(" "))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    found.sort();
    found
}

/// A large log is matched in chunks on several threads when more than one
/// is available, chunk boundaries included.
#[test]
fn large_log_same_findings_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = String::new();
    let mut line = 0u32;
    while content.len() < 5 << 20 {
        line += 1;
        let ssn = format!(
            "{:03}-{:02}-{:04}",
            200 + line % 500,
            10 + line % 80,
            1000 + line % 8999
        );
        content.push_str(&format!(
            "2024-03-{:02}T10:00:00Z visit patient SSN {ssn} seen, status ok, entry {line}\n",
            1 + line % 28
        ));
    }
    write(dir.path(), "visits.log", content.as_bytes());
    let found = same_findings_on_one_and_three_threads(dir.path(), "visits.log");
    assert!(found > 100_000, "{found} findings");
}

/// The records of a large delimited export are matched in runs on several
/// threads: the findings and their row, column and header are the same.
#[test]
fn large_csv_same_findings_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = String::from("MRN,Patient,SSN,DOB,Note\n");
    let mut row = 0u32;
    while content.len() < 3 << 20 {
        row += 1;
        content.push_str(&format!(
            "{},Pat {row},{:03}-{:02}-{:04},03/{:02}/1961,\"seen, no change\"\n",
            1_000_000 + row,
            200 + row % 500,
            10 + row % 80,
            1000 + row % 8999,
            1 + row % 28
        ));
    }
    write(dir.path(), "export.csv", content.as_bytes());
    let found = same_findings_on_one_and_three_threads(dir.path(), "export.csv");
    assert!(found > 50_000, "{found} findings");
}

#[test]
fn binary_with_text_name_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write(dir.path(), "notes.txt", &noise);
    let result = scan(dir.path(), home.path(), &[".", "--no-db"]);
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    let item = result.item("./notes.txt").unwrap();
    assert_eq!(item["format"], "binary");
    assert_eq!(item["coverage"], "unsupported");
    assert!(item["reason"].as_str().unwrap().contains("binary"));
}

#[test]
fn invalid_utf8_is_decoded_and_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mixed.txt",
        b"Name: Ren\xe9e\nSSN: 234-56-7890\nbad bytes \xff\xfe\x80 end\n",
    );
    let result = scan(dir.path(), home.path(), &[".", "--no-db"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    let item = result.item("./mixed.txt").unwrap();
    assert_eq!(item["coverage"], "complete");
    assert!(
        result
            .findings_at("./mixed.txt")
            .any(|finding| finding["category"] == "ssn" && finding["line"] == 2)
    );
}

#[cfg(unix)]
#[test]
fn fifo_is_skipped_without_opening() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    // A scan that opened the FIFO for reading would block forever; give it
    // a deadline.
    let jsonl = home.path().join("out.jsonl");
    let mut child = phiscan(home.path())
        .current_dir(dir.path())
        .args(["scan", ".", "--no-db", "--jsonl"])
        .arg(&jsonl)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("scan blocked on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let text = fs::read_to_string(&jsonl).unwrap();
    let item = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|record| record["location"] == "./pipe")
        .unwrap();
    assert_eq!(item["coverage"], "skipped");
    assert!(item["reason"].as_str().unwrap().contains("FIFO"));
}

#[cfg(unix)]
#[test]
fn device_root_is_skipped() {
    let home = tempfile::tempdir().unwrap();
    let result = scan(Path::new("/"), home.path(), &["/dev/null", "--no-db"]);
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    let item = result.item("/dev/null").unwrap();
    assert_eq!(item["coverage"], "skipped");
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("character device")
    );
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("a")).unwrap();
    std::os::unix::fs::symlink("..", dir.path().join("a/up")).unwrap();
    write(dir.path(), "a/note.txt", b"SSN 234-56-7890\n");

    let result = scan(dir.path(), home.path(), &[".", "--no-db"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    assert_eq!(result.item("./a/up").unwrap()["coverage"], "skipped");

    let result = scan(
        dir.path(),
        home.path(),
        &[".", "--no-db", "--follow-symlinks"],
    );
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    let looped = result.item("./a/up").unwrap();
    assert_eq!(looped["coverage"], "error");
    assert!(
        looped["reason"]
            .as_str()
            .unwrap()
            .contains("symbolic link loop")
    );
    assert!(
        result.stderr.contains("./a/up: symbolic link loop"),
        "{}",
        result.stderr
    );
    assert_eq!(result.findings.len(), 1, "the note is scanned once");
}

#[cfg(unix)]
#[test]
fn dangling_link_is_an_error_record() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("gone.txt", dir.path().join("link.txt")).unwrap();
    write(dir.path(), "kept.txt", b"nothing here\n");
    let result = scan(
        dir.path(),
        home.path(),
        &[".", "--no-db", "--follow-symlinks"],
    );
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    let item = result.item("./link.txt").unwrap();
    assert_eq!(item["coverage"], "error");
    assert!(
        item["reason"].as_str().unwrap().contains("not found"),
        "{item}"
    );
    assert_eq!(result.item("./kept.txt").unwrap()["coverage"], "complete");
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_an_error_record() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } == 0 {
        eprintln!("skipped: root reads files whatever their permissions");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(dir.path(), "locked.txt", b"SSN 234-56-7890\n");
    fs::set_permissions(
        dir.path().join("locked.txt"),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let result = scan(dir.path(), home.path(), &[".", "--no-db"]);
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    let item = result.item("./locked.txt").unwrap();
    assert_eq!(item["coverage"], "error");
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("permission denied")
    );
    assert!(
        result
            .stderr
            .contains("./locked.txt: cannot open: permission denied")
    );
}

#[cfg(unix)]
unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[cfg(unix)]
#[test]
fn non_utf8_file_name_is_escaped() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"lab-\xff.txt");
    fs::write(dir.path().join(name), b"SSN 234-56-7890\n").unwrap();
    let result = scan(dir.path(), home.path(), &[".", "--no-db"]);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    assert!(
        result.item("./lab-\\xFF.txt").is_some(),
        "{:?}",
        result.items
    );
    assert_eq!(result.findings_at("./lab-\\xFF.txt").count(), 1);
}

#[test]
fn control_characters_in_names_are_escaped_on_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(dir.path(), "evil\u{1b}[31m.txt", b"SSN 234-56-7890\n");
    let output = phiscan(home.path())
        .current_dir(dir.path())
        .args(["scan", ".", "--no-db"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(stdout.contains("evil\\u{1b}[31m.txt"), "{stdout}");
}

#[test]
fn missing_root_is_fatal() {
    let home = tempfile::tempdir().unwrap();
    let output = phiscan(home.path())
        .args(["scan", "/nonexistent/share", "--no-db"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("/nonexistent/share: cannot scan this root: not found"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was scanned"), "{stderr}");
}

#[test]
fn unwritable_store_folder_suggests_another() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // A regular file where the store's folder should be fails for root too.
    fs::write(dir.path().join("blocker"), b"").unwrap();
    let output = phiscan(home.path())
        .current_dir(dir.path())
        .args(["scan", ".", "--db", "blocker/inventory.sqlite"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot create the store"), "{stderr}");
    assert!(stderr.contains("--no-db"), "{stderr}");
}

#[test]
fn missing_root_creates_no_store() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("stores/inventory.sqlite");
    let output = phiscan(home.path())
        .args([
            "scan",
            "/nonexistent/share",
            "--db",
            store.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!store.exists());
    assert!(!home.path().join("stores").exists());
}

#[test]
fn fail_on_incomplete_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(dir.path(), "photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    write(dir.path(), "note.txt", b"nothing\n");
    let result = scan(dir.path(), home.path(), &[".", "--no-db"]);
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    let result = scan(
        dir.path(),
        home.path(),
        &[".", "--no-db", "--fail-on-incomplete"],
    );
    assert_eq!(result.status, Some(3), "{}", result.stderr);
}

#[test]
fn excluded_paths_are_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("backup")).unwrap();
    write(dir.path(), "backup/old.txt", b"SSN 234-56-7890\n");
    write(dir.path(), "keep.txt", b"nothing\n");
    let result = scan(
        dir.path(),
        home.path(),
        &[".", "--no-db", "--exclude", "backup"],
    );
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    let backup = result.item("./backup").unwrap();
    assert_eq!(backup["coverage"], "skipped");
    assert_eq!(backup["reason"], "excluded by --exclude backup");
    assert!(result.item("./backup/old.txt").is_none());
}

#[test]
fn invalid_exclude_pattern_is_fatal() {
    let home = tempfile::tempdir().unwrap();
    let output = phiscan(home.path())
        .args(["scan", ".", "--no-db", "--exclude", "a[b"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("invalid --exclude pattern \"a[b\""),
        "{stderr}"
    );
}

/// Tens of thousands of threads made the system refuse one and the process
/// abort; the option now names its limit.
#[test]
fn too_many_threads_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let output = phiscan(home.path())
        .current_dir(dir.path())
        .args(["scan", ".", "--no-db", "--threads", "20000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("20000 is more than 1024"), "{stderr}");

    let config = dir.path().join("sweep.toml");
    fs::write(&config, "targets = [\".\"]\nthreads = 20000\n").unwrap();
    let output = phiscan(home.path())
        .args(["sweep", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("threads is 20000"), "{stderr}");
}

/// A scan that could read nothing still exits 0, so it warns on stderr.
#[test]
fn unreadable_scan_warns_on_clean_exit() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.zip", b"PK\x03\x04not really a zip");
    let result = scan(dir.path(), home.path(), &[".", "--no-db", "--quiet"]);
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    assert!(
        result.stderr.contains("1 item was not fully examined"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("--fail-on-incomplete"));

    let strict = scan(
        dir.path(),
        home.path(),
        &[".", "--no-db", "--quiet", "--fail-on-incomplete"],
    );
    assert_eq!(strict.status, Some(3), "{}", strict.stderr);
}

/// A store, key and JSON Lines output kept inside the scanned folder are
/// phiscan's own: they are neither items nor counted as not examined.
#[test]
fn store_inside_root_is_not_scanned() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "note.txt", b"SSN 234-56-7890\n");
    let store = dir.path().join("inventory.sqlite");
    // The key and the JSON Lines output go to the scanned folder as well.
    let result = scan(
        dir.path(),
        dir.path(),
        &[".", "--db", store.to_str().unwrap()],
    );
    assert_eq!(result.status, Some(1), "{}", result.stderr);

    let locations: Vec<&str> = result
        .items
        .iter()
        .map(|item| item["location"].as_str().unwrap())
        .collect();
    assert_eq!(locations, vec!["./note.txt"], "{:?}", result.items);
    assert_eq!(result.summary["items"], 1, "{}", result.summary);
    assert_eq!(
        result.summary["by_coverage"]["skipped"], 0,
        "{}",
        result.summary
    );
}
