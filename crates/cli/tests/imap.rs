//! The IMAP source against a real Dovecot server that each test starts on
//! loopback (tests/servers/dovecot.sh), with fixture messages seeded by
//! doveadm. Every seeded value is found at its folder, UID and part, no
//! message's flags change, sweeps resume, and lost connections and odd
//! responses end in recorded items, never in a silent skip.

mod common;

use common::{is_subset, phiscan, scan_with_env};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A Dovecot instance with its own configuration, stopped on drop.
struct Dovecot {
    dir: tempfile::TempDir,
    imaps: u16,
    imap: u16,
    password: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/servers/dovecot.sh")
}

/// Returns two different free ports, holding the first while finding the second.
fn free_ports() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    )
}

impl Dovecot {
    /// Starts a server, trying fresh ports up to three times, because another
    /// test's connection can take a free port before Dovecot binds it.
    fn start() -> Dovecot {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Dovecot::try_start() {
                Ok(dovecot) => return dovecot,
                Err(message) => failures.push(message),
            }
        }
        panic!("dovecot did not start:\n{}", failures.join("\n---\n"));
    }

    fn try_start() -> Result<Dovecot, String> {
        let dir = tempfile::tempdir().unwrap();
        let (imaps, imap) = free_ports();
        let output = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .arg(imaps.to_string())
            .arg(imap.to_string())
            .output()
            .expect("bash runs");
        if !output.status.success() {
            let _ = Command::new("bash")
                .arg(script())
                .arg("stop")
                .arg(dir.path())
                .status();
            return Err(format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let password = std::fs::read_to_string(dir.path().join("password"))
            .unwrap()
            .trim()
            .to_string();
        Ok(Dovecot {
            dir,
            imaps,
            imap,
            password,
        })
    }

    fn doveadm(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let mut child = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("doveadm runs");
        if let Some(data) = stdin {
            child.stdin.take().unwrap().write_all(data).unwrap();
        }
        drop(child.stdin.take());
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "doveadm {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn create(&self, user: &str, mailbox: &str) {
        self.doveadm(&["mailbox", "create", "-u", user, mailbox], None);
    }

    fn save(&self, user: &str, mailbox: &str, message: &[u8]) {
        self.doveadm(&["save", "-u", user, "-m", mailbox], Some(message));
    }

    fn add_flag(&self, user: &str, mailbox: &str, uid: u32, flag: &str) {
        let uid = uid.to_string();
        self.doveadm(
            &[
                "flags", "add", "-u", user, flag, "mailbox", mailbox, "uid", &uid,
            ],
            None,
        );
    }

    /// Returns every message's mailbox, UID and flags, as doveadm reads them.
    fn flags(&self, user: &str) -> String {
        self.doveadm(&["fetch", "-u", user, "mailbox uid flags", "all"], None)
    }

    fn ca(&self) -> String {
        self.dir
            .path()
            .join("certs/ca.pem")
            .to_str()
            .unwrap()
            .to_string()
    }

    fn mailbox(&self, user: &str) -> String {
        format!("imaps://{user}@127.0.0.1:{}", self.imaps)
    }

    fn scan(&self, home: &Path, args: &[&str]) -> common::Scan {
        let result = scan_with_env(
            home,
            home,
            args,
            &[("PHISCAN_IMAP_PASSWORD", self.password.as_str())],
        );
        assert!(
            !result.stderr.contains(&self.password),
            "password printed on stderr"
        );
        result
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

// Invented values that pass the detectors' format rules.
const SSN_INBOX: &str = "287-45-6612";
const MRN_INBOX: &str = "4471829";
const SSN_ATTACHMENT: &str = "512-38-9047";
const PHONE_PARTNER: &str = "(508) 364-2291";
const SSN_LARGE: &str = "403-21-7788";

fn message(subject: &str, from: &str, to: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 11 Mar 2024 09:00:00 -0400\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
    .into_bytes()
}

fn with_attachment(subject: &str, body: &str, name: &str, data: &[u8]) -> Vec<u8> {
    let mut encoded = String::new();
    for chunk in base64_lines(data) {
        encoded.push_str(&chunk);
        encoded.push_str("\r\n");
    }
    format!(
        "From: Lab <results@quarrylab-diagnostics.com>\r\nTo: Front Desk <frontdesk@riverbend-clinic.org>\r\nSubject: {subject}\r\nDate: Tue, 12 Mar 2024 10:00:00 -0400\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n--sep\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--sep\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}--sep--\r\n"
    )
    .into_bytes()
}

fn base64_lines(data: &[u8]) -> Vec<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in data.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let value = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for index in 0..4 {
            if index <= chunk.len() {
                text.push(ALPHABET[(value >> (18 - 6 * index) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text.as_bytes()
        .chunks(76)
        .map(|line| String::from_utf8(line.to_vec()).unwrap())
        .collect()
}

/// Seeds alice's mailbox: INBOX (2), Patienten/Ärzte (1), Befunde/日本語 (1,
/// with a 3 MiB text attachment); sets flags on three messages.
fn seed(server: &Dovecot) {
    server.create("alice", "Patienten/Ärzte");
    server.create("alice", "Befunde/日本語");
    let inbox = message(
        &format!("Chart request MRN {MRN_INBOX}"),
        "Grace Okafor <grace.okafor71@yahoo.com>",
        "Front Desk <frontdesk@riverbend-clinic.org>",
        &format!("My SSN is {SSN_INBOX}.\r\nDx: E11.9\r\n"),
    );
    server.save("alice", "INBOX", &inbox);
    let memo = message(
        "Holiday hours",
        "Front Desk <frontdesk@riverbend-clinic.org>",
        "Nurse Line <nurse@riverbend-clinic.org>",
        "We close at noon on the 24th.\r\n",
    );
    server.save("alice", "INBOX", &memo);
    let csv = format!("Patient,SSN,Dx\nOkafor,{SSN_ATTACHMENT},I10\n");
    let partner = with_attachment(
        "Befunde",
        &format!("Phone: {PHONE_PARTNER}"),
        "befunde.csv",
        csv.as_bytes(),
    );
    server.save("alice", "Patienten/Ärzte", &partner);
    let mut large = String::with_capacity(3 << 20);
    let mut row = 0;
    while large.len() < (3 << 20) - 64 {
        row += 1;
        large.push_str(&format!("row {row:07}: no identifier in this line\n"));
    }
    large.push_str(&"-".repeat((3 << 20) - 1 - large.len()));
    large.push('\n');
    let scan = with_attachment(
        "Scan",
        &format!("SSN {SSN_LARGE}, Dx: I10"),
        "scan.txt",
        large.as_bytes(),
    );
    server.save("alice", "Befunde/日本語", &scan);
    server.add_flag("alice", "INBOX", 1, "\\Seen");
    server.add_flag("alice", "INBOX", 2, "\\Flagged");
    server.add_flag("alice", "Befunde/日本語", 1, "\\Answered");
}

fn finding<'a>(
    result: &'a common::Scan,
    location: &str,
    category: &str,
    value: &str,
) -> Option<&'a Value> {
    result.findings.iter().find(|finding| {
        finding["location"] == location
            && finding["category"] == category
            && finding["value"] == value
    })
}

#[test]
fn sweep_finds_seeded_values_and_keeps_flags() {
    let server = Dovecot::start();
    seed(&server);
    let before = server.flags("alice");
    assert!(before.contains("\\Seen"), "{before}");

    let home = tempfile::tempdir().unwrap();
    let mailbox = server.mailbox("alice");
    let ca = server.ca();
    let result = server.scan(
        home.path(),
        &[
            &mailbox,
            "--ca-cert",
            &ca,
            "--show-values",
            "--quiet",
            "--no-db",
        ],
    );
    assert_eq!(result.status, Some(1), "stderr: {}", result.stderr);

    let expected = [
        (
            format!("{mailbox}!/INBOX/1"),
            "ssn",
            SSN_INBOX,
            json!({"kind": "mail-body", "part": "1"}),
        ),
        (
            format!("{mailbox}!/INBOX/1"),
            "mrn",
            MRN_INBOX,
            json!({"kind": "mail-header", "header": "Subject"}),
        ),
        (
            format!("{mailbox}!/INBOX/1"),
            "email",
            "grace.okafor71@yahoo.com",
            json!({"kind": "mail-header", "header": "From"}),
        ),
        (
            format!("{mailbox}!/Patienten/Ärzte/1"),
            "phone",
            PHONE_PARTNER,
            json!({"kind": "mail-body", "part": "1", "media_type": "text/plain"}),
        ),
        (
            format!("{mailbox}!/Patienten/Ärzte/1!/befunde.csv"),
            "ssn",
            SSN_ATTACHMENT,
            json!({"kind": "csv", "row": 2, "header": "SSN"}),
        ),
        (
            format!("{mailbox}!/Befunde/日本語/1"),
            "ssn",
            SSN_LARGE,
            json!({"kind": "mail-body", "part": "1"}),
        ),
    ];
    for (location, category, value, locator) in &expected {
        let found = finding(&result, location, category, value)
            .unwrap_or_else(|| panic!("{location}: no {category} finding"));
        assert!(
            is_subset(locator, &found["locator"]),
            "{location}: {}",
            found["locator"]
        );
    }
    for location in [
        "INBOX/1",
        "INBOX/2",
        "Patienten/Ärzte/1",
        "Befunde/日本語/1",
    ] {
        let item = result
            .item(&format!("{mailbox}!/{location}"))
            .unwrap_or_else(|| panic!("{location}: no item"));
        assert_eq!(
            item["coverage"], "complete",
            "{location}: {}",
            item["reason"]
        );
        assert_eq!(item["format"], "eml", "{location}");
    }
    let large = result
        .item(&format!("{mailbox}!/Befunde/日本語/1!/scan.txt"))
        .unwrap();
    assert_eq!(large["size"], 3u64 << 20);
    assert!(
        result
            .flows
            .iter()
            .any(|flow| flow["location"] == format!("{mailbox}!/INBOX/1")
                && flow["from_domain"] == "yahoo.com"
                && flow["to_domain"] == "riverbend-clinic.org")
    );

    assert_eq!(server.flags("alice"), before, "message flags changed");

    // A message over the in-memory limit is recorded as skipped, not fetched.
    let result = server.scan(
        home.path(),
        &[
            &mailbox,
            "--ca-cert",
            &ca,
            "--max-item-mib",
            "1",
            "--quiet",
            "--no-db",
        ],
    );
    let large = result
        .item(&format!("{mailbox}!/Befunde/日本語/1"))
        .expect("large message item");
    assert_eq!(large["coverage"], "skipped");
    assert!(
        large["reason"].as_str().unwrap().contains("--max-item-mib"),
        "{large}"
    );
    assert!(result.item(&format!("{mailbox}!/INBOX/1")).is_some());
}

/// Returns the sorted locations of the messages a scan recorded, and of
/// those among them it fetched rather than reused.
fn message_items(result: &common::Scan) -> (Vec<String>, Vec<String>) {
    let mut all = Vec::new();
    let mut fetched = Vec::new();
    for item in result.items.iter().filter(|item| item["parent"].is_null()) {
        let location = item["location"].as_str().unwrap().to_string();
        if item["reused"] != true {
            fetched.push(location.clone());
        }
        all.push(location);
    }
    all.sort();
    fetched.sort();
    (all, fetched)
}

#[test]
fn resumed_scan_reuses_earlier_messages() {
    let server = Dovecot::start();
    seed(&server);
    let home = tempfile::tempdir().unwrap();
    let mailbox = server.mailbox("alice");
    let ca = server.ca();
    let args = [mailbox.as_str(), "--ca-cert", ca.as_str(), "--quiet"];
    let at = |location: &str| format!("{mailbox}!/{location}");

    let first = server.scan(home.path(), &args);
    let (all, fetched) = message_items(&first);
    assert_eq!(all.len(), 4, "{}", first.stderr);
    assert_eq!(fetched, all);

    // Nothing new: every message is recorded from the first scan's results,
    // with its attachments, findings and flows.
    let second = server.scan(home.path(), &args);
    let (all, fetched) = message_items(&second);
    assert_eq!(all, message_items(&first).0, "{}", second.stderr);
    assert!(fetched.is_empty(), "{fetched:?}");
    assert_eq!(second.summary["complete"], true);
    assert_eq!(second.summary["items_reused"], first.items.len());
    assert_eq!(second.findings.len(), first.findings.len());
    assert!(second.item(&at("Patienten/Ärzte/1!/befunde.csv")).is_some());
    assert!(
        second
            .findings_at(&at("INBOX/1"))
            .any(|finding| finding["category"] == "ssn")
    );
    assert!(
        second
            .flows
            .iter()
            .any(|flow| flow["location"] == at("INBOX/1")),
        "{:?}",
        second.flows
    );
    assert_eq!(first.summary["by_class"], second.summary["by_class"]);
    // So the diff between the two scans lists nothing.
    let output = common::phiscan(home.path())
        .args(["diff", "--json"])
        .output()
        .unwrap();
    let changes: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{changes}");
    assert!(
        changes["changes"].as_array().is_some_and(Vec::is_empty),
        "{changes}"
    );

    // --imap-full fetches every message again, whatever the store's state.
    let full_args = [
        mailbox.as_str(),
        "--ca-cert",
        ca.as_str(),
        "--quiet",
        "--imap-full",
    ];
    let full = server.scan(home.path(), &full_args);
    let (all, fetched) = message_items(&full);
    assert_eq!(all.len(), 4, "{}", full.stderr);
    assert_eq!(fetched, all);

    let new = message(
        "Follow-up",
        "a@clinic-x.org",
        "b@clinic-x.org",
        "No PHI here.\r\n",
    );
    server.save("alice", "Patienten/Ärzte", &new);
    let third = server.scan(home.path(), &args);
    let (all, fetched) = message_items(&third);
    assert_eq!(fetched, [at("Patienten/Ärzte/2")]);
    assert_eq!(all.len(), 5);

    // A message deleted on the server is no longer recorded, and a new
    // UIDVALIDITY means the UIDs name other messages: the folder is read again.
    server.doveadm(
        &[
            "expunge",
            "-u",
            "alice",
            "mailbox",
            "Patienten/Ärzte",
            "uid",
            "1",
        ],
        None,
    );
    server.doveadm(
        &[
            "mailbox",
            "update",
            "-u",
            "alice",
            "--uid-validity",
            "77",
            "INBOX",
        ],
        None,
    );
    let fourth = server.scan(home.path(), &args);
    let (all, fetched) = message_items(&fourth);
    assert_eq!(fetched, [at("INBOX/1"), at("INBOX/2")]);
    assert_eq!(
        all,
        [
            at("Befunde/日本語/1"),
            at("INBOX/1"),
            at("INBOX/2"),
            at("Patienten/Ärzte/2")
        ]
    );
    assert!(fourth.item(&at("Patienten/Ärzte/1!/befunde.csv")).is_none());
}

#[test]
fn starttls_plaintext_and_untrusted_certificates() {
    let server = Dovecot::start();
    server.save(
        "bob",
        "INBOX",
        &message(
            "Note",
            "a@x-clinic.org",
            "b@x-clinic.org",
            &format!("SSN {SSN_INBOX}\r\n"),
        ),
    );
    let ca = server.ca();
    let home = tempfile::tempdir().unwrap();

    let starttls = format!("imap://bob@127.0.0.1:{}", server.imap);
    let result = server.scan(
        home.path(),
        &[&starttls, "--ca-cert", &ca, "--quiet", "--no-db"],
    );
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    assert!(
        result
            .item(&format!("imap://bob@127.0.0.1:{}!/INBOX/1", server.imap))
            .is_some()
    );

    let result = server.scan(
        home.path(),
        &[&starttls, "--insecure-plaintext", "--quiet", "--no-db"],
    );
    assert_eq!(result.status, Some(1), "{}", result.stderr);

    // Without --ca-cert the test CA is not trusted: the mailbox is recorded
    // as an error, nothing is read, and the root counts as unreadable.
    let mailbox = server.mailbox("bob");
    let result = server.scan(home.path(), &[&mailbox, "--quiet", "--no-db"]);
    assert_eq!(result.status, Some(2), "{}", result.stderr);
    assert!(
        result.stderr.contains("cannot scan this mailbox"),
        "{}",
        result.stderr
    );
    let item = result.item(&mailbox).expect("mailbox item");
    assert_eq!(item["coverage"], "error");
    let reason = item["reason"].as_str().unwrap();
    assert!(
        reason.contains("TLS") || reason.contains("certificate"),
        "{reason}"
    );
    assert!(reason.contains("--ca-cert"), "{reason}");

    // A wrong password is an error item too, and is never printed.
    let result = scan_with_env(
        home.path(),
        home.path(),
        &[&mailbox, "--ca-cert", &ca, "--quiet", "--no-db"],
        &[("PHISCAN_IMAP_PASSWORD", "wrong-password-1")],
    );
    assert_eq!(result.status, Some(2), "{}", result.stderr);
    let item = result.item(&mailbox).expect("mailbox item");
    assert!(
        item["reason"].as_str().unwrap().contains("login failed"),
        "{item}"
    );
    assert!(!result.stderr.contains("wrong-password-1"));
}

#[test]
fn password_sources() {
    let home = tempfile::tempdir().unwrap();
    let output = phiscan(home.path())
        .args(["scan", "imaps://alice:hunter2@127.0.0.1:1", "--no-db"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("password in the URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let output = phiscan(home.path())
        .env_remove("PHISCAN_IMAP_PASSWORD")
        .args(["scan", "imaps://alice@127.0.0.1:1", "--no-db"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no IMAP password"), "{stderr}");

    let server = Dovecot::start();
    server.save(
        "bob",
        "INBOX",
        &message("Note", "a@x-clinic.org", "b@x-clinic.org", "hello\r\n"),
    );
    let file = home.path().join("password.txt");
    std::fs::write(&file, format!("{}\n", server.password)).unwrap();
    let output = phiscan(home.path())
        .env_remove("PHISCAN_IMAP_PASSWORD")
        .arg("scan")
        .arg(server.mailbox("bob"))
        .args([
            "--ca-cert",
            &server.ca(),
            "--no-db",
            "--quiet",
            "--password-file",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Scanned 1 items"),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The prompt, on a terminal that script(1) provides: the password is
    // typed, not echoed, and opens the mailbox.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped the prompt check: script(1) from util-linux is not installed");
        return;
    }
    let command = format!(
        "{} scan {} --ca-cert {} --no-db --quiet",
        env!("CARGO_BIN_EXE_phiscan"),
        server.mailbox("bob"),
        server.ca()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("PHISCAN_HOME", home.path())
        .env_remove("PHISCAN_IMAP_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Type only once the prompt is shown.
    let mut stdout = child.stdout.take().unwrap();
    let mut terminal = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&terminal).contains("IMAP password for bob@127.0.0.1: ") {
        assert_eq!(
            stdout.read(&mut byte).unwrap(),
            1,
            "no prompt: {terminal:?}"
        );
        terminal.push(byte[0]);
    }
    // rpassword prints the prompt before it turns echo off: give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", server.password).unwrap();
    stdout.read_to_end(&mut terminal).unwrap();
    child.wait().unwrap();
    let terminal = String::from_utf8_lossy(&terminal);
    assert!(terminal.contains("Scanned 1 items"), "{terminal}");
    assert!(!terminal.contains(&server.password), "password echoed");
}

/// A loopback proxy in front of the server that cuts the next `cuts`
/// connections after `limit` bytes from the server.
struct CutProxy {
    port: u16,
    connections: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
}

impl CutProxy {
    fn start(upstream: u16, cuts: usize, limit: usize) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let cuts = Arc::new(AtomicUsize::new(cuts));
        let (counter, remaining) = (connections.clone(), cuts.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    break;
                };
                let cut = remaining
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                        left.checked_sub(1)
                    })
                    .is_ok();
                relay(client, server, cut.then_some(limit));
            }
        });
        CutProxy {
            port,
            connections,
            cuts,
        }
    }

    fn stop_cutting(&self) {
        self.cuts.store(0, Ordering::SeqCst);
    }
}

fn relay(client: TcpStream, server: TcpStream, limit: Option<usize>) {
    let (mut client_read, mut server_write) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(std::net::Shutdown::Both);
    });
    std::thread::spawn(move || {
        let (mut server_read, mut client_write) = (server, client);
        let mut sent = 0usize;
        let mut buffer = [0u8; 16384];
        while let Ok(read) = server_read.read(&mut buffer) {
            if read == 0 {
                break;
            }
            let allowed = limit.map_or(read, |limit| read.min(limit.saturating_sub(sent)));
            if client_write.write_all(&buffer[..allowed]).is_err() {
                break;
            }
            sent += allowed;
            if allowed < read {
                break;
            }
        }
        let _ = client_write.shutdown(std::net::Shutdown::Both);
        let _ = server_read.shutdown(std::net::Shutdown::Both);
    });
}

#[test]
fn lost_connection_is_retried_then_recorded() {
    let server = Dovecot::start();
    seed(&server);
    let ca = server.ca();
    let home = tempfile::tempdir().unwrap();

    // The first connection drops in the middle of the 3 MiB message; the
    // retry fetches everything.
    let proxy = CutProxy::start(server.imaps, 1, 1 << 20);
    let url = format!("imaps://alice@127.0.0.1:{}", proxy.port);
    let retry = ["--imap-retry-delay", "20", "--quiet", "--no-db"];
    let mut args = vec![url.as_str(), "--ca-cert", ca.as_str()];
    args.extend_from_slice(&retry);
    let result = server.scan(home.path(), &args);
    assert_eq!(result.status, Some(1), "{}", result.stderr);
    assert!(proxy.connections.load(Ordering::SeqCst) >= 2);
    assert!(result.stderr.contains("reconnecting"), "{}", result.stderr);
    let large = result
        .item(&format!("{url}!/Befunde/日本語/1"))
        .expect("large message");
    assert_eq!(large["coverage"], "complete");
    assert_eq!(message_items(&result).0.len(), 4);

    // Every connection drops: the large message is recorded as not fetched,
    // the others are read, and the next sweep fetches only what is missing.
    let proxy = CutProxy::start(server.imaps, usize::MAX, 1 << 20);
    let url = format!("imaps://alice@127.0.0.1:{}", proxy.port);
    let db = home.path().join("resume.sqlite");
    let db = db.to_str().unwrap();
    let result = server.scan(
        home.path(),
        &[
            &url,
            "--ca-cert",
            &ca,
            "--imap-retry-delay",
            "20",
            "--imap-attempts",
            "2",
            "--quiet",
            "--db",
            db,
        ],
    );
    let failed = result
        .item(&format!("{url}!/Befunde/日本語/1"))
        .expect("failed message");
    assert_eq!(failed["coverage"], "error");
    assert!(
        failed["reason"].as_str().unwrap().contains("not fetched"),
        "{failed}"
    );
    assert!(result.item(&format!("{url}!/INBOX/1")).is_some());
    assert_eq!(result.summary["complete"], true);

    let state = phiscan_inventory::ImapState::open(Path::new(db)).unwrap();
    let pending: Vec<(String, Vec<u32>)> = state
        .load(&url)
        .unwrap()
        .into_iter()
        .filter(|folder| !folder.pending.is_empty())
        .map(|folder| (folder.folder, folder.pending))
        .collect();
    assert_eq!(pending, [("Befunde/日本語".to_string(), vec![1])]);
    drop(state);

    proxy.stop_cutting();
    let result = server.scan(
        home.path(),
        &[&url, "--ca-cert", &ca, "--quiet", "--db", db],
    );
    let (all, fetched) = message_items(&result);
    assert_eq!(
        fetched,
        [format!("{url}!/Befunde/日本語/1")],
        "{}",
        result.stderr
    );
    assert_eq!(all.len(), 4);
    let fetched = result.item(&format!("{url}!/Befunde/日本語/1")).unwrap();
    assert_eq!(fetched["coverage"], "complete");
    let state = phiscan_inventory::ImapState::open(Path::new(db)).unwrap();
    assert!(
        state
            .load(&url)
            .unwrap()
            .iter()
            .all(|folder| folder.pending.is_empty())
    );
}

/// A server that greets, logs in and lists one folder, then replies to
/// FETCH without the requested message body.
fn odd_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().take(8) {
            let Ok(client) = client else { break };
            std::thread::spawn(move || {
                let mut writer = client.try_clone().unwrap();
                let mut reader = BufReader::new(client);
                let _ = writer.write_all(b"* OK odd test server ready\r\n");
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    let (tag, command) = line.trim_end().split_once(' ').unwrap_or(("*", ""));
                    let upper = command.to_ascii_uppercase();
                    let reply = if upper.starts_with("LOGIN") {
                        format!("{tag} OK logged in\r\n")
                    } else if upper.starts_with("LIST") {
                        format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK done\r\n")
                    } else if upper.starts_with("EXAMINE") {
                        format!(
                            "* 1 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\n{tag} OK [READ-ONLY] done\r\n"
                        )
                    } else if upper.starts_with("UID SEARCH") {
                        format!("* SEARCH 1\r\n{tag} OK done\r\n")
                    } else if upper.starts_with("UID FETCH") && upper.contains("RFC822.SIZE)") {
                        format!("* 1 FETCH (UID 1 RFC822.SIZE 20)\r\n{tag} OK done\r\n")
                    } else if upper.starts_with("UID FETCH") {
                        format!("* 1 FETCH (UID 1 FLAGS ())\r\n{tag} OK done\r\n")
                    } else if upper.starts_with("LOGOUT") {
                        format!("* BYE\r\n{tag} OK bye\r\n")
                    } else {
                        format!("{tag} BAD unknown\r\n")
                    };
                    if writer.write_all(reply.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    port
}

#[test]
fn odd_server_answers_are_recorded() {
    let port = odd_server();
    let home = tempfile::tempdir().unwrap();
    let url = format!("imap://alice@127.0.0.1:{port}");
    let result = scan_with_env(
        home.path(),
        home.path(),
        &[
            &url,
            "--insecure-plaintext",
            "--imap-attempts",
            "2",
            "--imap-retry-delay",
            "10",
            "--quiet",
            "--no-db",
        ],
        &[("PHISCAN_IMAP_PASSWORD", "x")],
    );
    assert_eq!(result.status, Some(0), "{}", result.stderr);
    let item = result
        .item(&format!("{url}!/INBOX/1"))
        .expect("message item");
    assert_eq!(item["coverage"], "error");
    assert!(
        item["reason"].as_str().unwrap().contains("no message body"),
        "{item}"
    );
    assert_eq!(result.summary["complete"], true);
}
