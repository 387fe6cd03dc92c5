//! The PostgreSQL store: a real server started on loopback by
//! `tests/servers/postgres.sh` (which installs Debian's postgresql package
//! when missing) receives scans and sweeps with the same schema and returns
//! the same inventory as the SQLite store.

mod sweep_common;

use serde_json::Value;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use sweep_common::{
    copy_share_folder, copy_share_subset, diff_lines, run, summary, tempdir, texts, visit_note,
    write_config, write_file,
};

/// A PostgreSQL server on a free loopback port, stopped on drop.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // In the system's temp folder: the postgres account must be able to
        // reach the cluster folder.
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/servers/postgres.sh");
        let child = Command::new("bash")
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("tests/servers/postgres.sh starts");
        let url = format!("postgres://phiscan@127.0.0.1:{port}/postgres");
        let mut server = Server {
            child,
            url,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if postgres::Client::connect(&server.url, postgres::NoTls).is_ok() {
                return server;
            }
            if let Some(exit) = server.child.try_wait().unwrap() {
                panic!("postgres.sh exited with {exit}; see its messages above");
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start in time"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// Starts over with an empty database.
    fn reset(&self) {
        self.client()
            .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Scans the sample share into `db` and returns the inventory JSON, without
/// the fields that differ between two scans (ids, times, file ids).
fn scan_and_inventory(home: &Path, db: &str) -> Value {
    let scan = Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .env("PHISCAN_HOME", home)
        .current_dir(fixtures())
        .args(["scan", "share", "-q", "--db", db])
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1), "{:?}", texts(&scan));
    let output = run(home, &["inventory", "--db", db, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    let mut inventory: Value = serde_json::from_slice(&output.stdout).unwrap();
    let object = inventory.as_object_mut().unwrap();
    for varying in ["scan", "generated"] {
        object.remove(varying);
    }
    inventory
}

/// One server for every case: starting PostgreSQL costs seconds.
#[test]
fn postgres_store() {
    let server = Server::start();
    same_inventory_as_sqlite(&server);
    server.reset();
    schema_and_no_values(&server);
    server.reset();
    sweeps_are_incremental_and_locked(&server);
    server.reset();
    reused_mail_keeps_its_flows(&server);
}

fn same_inventory_as_sqlite(server: &Server) {
    let home = tempdir();
    let sqlite = home.path().join("inventory.sqlite");
    let from_sqlite = scan_and_inventory(home.path(), sqlite.to_str().unwrap());
    let from_postgres = scan_and_inventory(home.path(), &server.url);
    if let Some(difference) = first_difference("", &from_postgres, &from_sqlite) {
        panic!("inventories differ (PostgreSQL, then SQLite): {difference}");
    }

    // The two stores' `findings` views expand the blocks into the same rows.
    let columns = r#"location, rule, category, confidence, start, "end", line, "column",
                     locator, preview, fingerprint"#;
    let order = r#"ORDER BY location, start, "end", rule"#;
    let connection = rusqlite::Connection::open(&sqlite).unwrap();
    let from_sqlite: Vec<Value> = connection
        .prepare(&format!("SELECT {columns}, person FROM findings {order}"))
        .unwrap()
        .query_map([], |row| {
            let locator: String = row.get(8)?;
            Ok(serde_json::json!([
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, i64>(7)?,
                serde_json::from_str::<Value>(&locator).unwrap(),
                row.get::<_, String>(9)?,
                row.get::<_, String>(10)?,
                row.get::<_, i64>(11)? == 1,
            ]))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let from_postgres: Vec<Value> = server
        .client()
        .query(
            &format!("SELECT {columns}, person FROM findings {order}"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| {
            let locator: String = row.get(8);
            serde_json::json!([
                row.get::<_, String>(0),
                row.get::<_, String>(1),
                row.get::<_, String>(2),
                i64::from(row.get::<_, i32>(3)),
                row.get::<_, i64>(4),
                row.get::<_, i64>(5),
                row.get::<_, i64>(6),
                row.get::<_, i64>(7),
                serde_json::from_str::<Value>(&locator).unwrap(),
                row.get::<_, String>(9),
                row.get::<_, String>(10),
                row.get::<_, bool>(11),
            ])
        })
        .collect();
    assert!(from_sqlite.len() > 100, "{}", from_sqlite.len());
    let kinds: std::collections::BTreeSet<&str> = from_sqlite
        .iter()
        .filter_map(|row| row[8]["kind"].as_str())
        .collect();
    for kind in ["text", "csv", "cell"] {
        assert!(
            kinds.contains(kind),
            "{kind} locators in the sample share: {kinds:?}"
        );
    }
    if let Some(difference) =
        first_difference("", &Value::Array(from_postgres), &Value::Array(from_sqlite))
    {
        panic!("findings views differ (PostgreSQL, then SQLite): {difference}");
    }
}

/// Returns the path and both values of the first place where two JSON
/// values differ, so a failure message stays readable.
fn first_difference(path: &str, left: &Value, right: &Value) -> Option<String> {
    match (left, right) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|key| {
                let child = format!("{path}/{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => first_difference(&child, x, y),
                    (x, y) => Some(format!("{child}: {x:?} vs {y:?}")),
                }
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(index, (x, y))| first_difference(&format!("{path}/{index}"), x, y)),
        _ if left == right => None,
        _ => {
            let shorten = |value: &Value| value.to_string().chars().take(300).collect::<String>();
            Some(format!("{path}: {} vs {}", shorten(left), shorten(right)))
        }
    }
}

fn schema_and_no_values(server: &Server) {
    let home = tempdir();
    copy_share_subset(&home.path().join("copy/share"));
    let scan = Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .env("PHISCAN_HOME", home.path())
        .current_dir(home.path().join("copy"))
        .args(["scan", "share", "-q", "--show-values", "--db", &server.url])
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1), "{:?}", texts(&scan));
    let mut client = server.client();
    let names: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        names,
        [
            "all_findings",
            "all_items",
            "all_people",
            "coverage",
            "finding_blocks",
            "findings",
            "flows",
            "imap_folders",
            "incremental_cache",
            "items",
            "people",
            "phiscan_schema",
            "reused_items",
            "scans",
            "unchanged_items"
        ]
    );
    let version: i32 = client
        .query_one("SELECT version FROM phiscan_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version as u32, phiscan_inventory::Store::schema_version());
    // A raw SSN of the sample share, shown on the terminal by --show-values,
    // is in no column of the store.
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM findings WHERE preview LIKE '%362-11-3345%' OR locator LIKE '%362-11-3345%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);
    let findings: i64 = client
        .query_one("SELECT count(*) FROM findings", &[])
        .unwrap()
        .get(0);
    assert_eq!(findings, 101);
    // A block as phiscan wrote it before the rule table reads the same way.
    client
        .batch_execute(
            r#"INSERT INTO finding_blocks (scan_id, location, findings)
               SELECT id, 'old/a.csv', '[["us.ssn","ssn",98,5,16,2,6,{"kind":"csv","row":2,"column":3},"***-**-7890","ab",1]]'
               FROM scans"#,
        )
        .unwrap();
    let old = client
        .query_one(
            r#"SELECT rule, category, confidence, start, "end", line, "column", locator, preview, fingerprint, person
               FROM findings WHERE location = 'old/a.csv'"#,
            &[],
        )
        .unwrap();
    let locator: Value = serde_json::from_str(old.get::<_, &str>(7)).unwrap();
    assert_eq!(
        (
            old.get::<_, &str>(0),
            old.get::<_, &str>(1),
            old.get::<_, i32>(2),
            [old.get::<_, i64>(3), old.get(4), old.get(5), old.get(6)],
            locator,
            old.get::<_, &str>(8),
            old.get::<_, &str>(9),
            old.get::<_, bool>(10),
        ),
        (
            "us.ssn",
            "ssn",
            98,
            [5, 16, 2, 6],
            serde_json::json!({"kind": "csv", "row": 2, "column": 3}),
            "***-**-7890",
            "ab",
            true,
        )
    );
    let gaps: i64 = client
        .query_one("SELECT count(*) FROM coverage", &[])
        .unwrap()
        .get(0);
    assert_eq!(gaps, 2);
}

fn sweeps_are_incremental_and_locked(server: &Server) {
    let home = tempdir();
    let jsonl = home.path().join("last.jsonl");
    let share = home.path().join("copy/share");
    copy_share_subset(&share);
    let intake = write_file(
        &share,
        "Intake/today.txt",
        &visit_note("234-56-7890", "MRN-4417"),
        0o644,
    );
    let config = write_config(home.path(), &[&share], Path::new(&server.url), &jsonl, "");
    let config_arg = config.to_str().unwrap();
    let first = run(home.path(), &["sweep", "-q", "--config", config_arg]);
    assert_eq!(first.status.code(), Some(1), "{:?}", texts(&first));
    assert_eq!(summary(&jsonl)["items_read"], 14);

    let second = run(home.path(), &["sweep", "-q", "--config", config_arg]);
    assert_eq!(second.status.code(), Some(0), "{:?}", texts(&second));
    let second = summary(&jsonl);
    assert_eq!(second["items_read"], 0, "{second}");
    assert_eq!(second["items_reused"], 16, "{second}");

    // Hold the advisory lock the way a running sweep does.
    let mut holder = server.client();
    holder
        .execute(
            "SELECT pg_advisory_lock($1, $2)",
            &[&0x5048_4953_i32, &2_i32],
        )
        .unwrap();
    let blocked = run(home.path(), &["sweep", "-q", "--config", config_arg]);
    let (stdout, stderr) = texts(&blocked);
    assert_eq!(blocked.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("another sweep is running on the PostgreSQL store"),
        "{stderr}"
    );
    assert!(!stderr.contains("password"), "{stderr}");
    drop(holder);
    // The same counts of another patient's values.
    std::fs::write(&intake, visit_note("345-12-6789", "MRN-6631")).unwrap();
    let freed = run(home.path(), &["sweep", "-q", "--config", config_arg]);
    assert_eq!(freed.status.code(), Some(0), "{:?}", texts(&freed));

    let diff = run(home.path(), &["diff", "--db", &server.url]);
    let (stdout, stderr) = texts(&diff);
    assert_eq!(diff.status.code(), Some(0), "{stdout}{stderr}");
    let changed = diff_lines(&stdout, "~ changed");
    assert_eq!(changed.len(), 1, "{stdout}");
    assert!(changed[0].contains("Intake/today.txt"), "{stdout}");
    assert!(changed[0].contains("other values"), "{stdout}");
}

/// Checks that a second sweep over unchanged mail copies the rows of the
/// first, and with them the email flows.
fn reused_mail_keeps_its_flows(server: &Server) {
    let home = tempdir();
    let jsonl = home.path().join("last.jsonl");
    let mail = home.path().join("copy/Mail");
    copy_share_folder("Mail", &mail);
    let config = write_config(
        home.path(),
        &[&mail],
        Path::new(&server.url),
        &jsonl,
        "internal_domains = [\"riverbend-clinic.org\"]",
    );
    let config_arg = config.to_str().unwrap();

    let first = run(home.path(), &["sweep", "-q", "--config", config_arg]);
    assert_eq!(first.status.code(), Some(1), "{:?}", texts(&first));
    let first = summary(&jsonl);
    let second = run(home.path(), &["sweep", "-q", "--config", config_arg]);
    assert_eq!(second.status.code(), Some(0), "{:?}", texts(&second));
    let second = summary(&jsonl);
    assert_eq!(second["items_read"], 0, "{second}");
    assert!(first["flows"].as_u64().unwrap() >= 10, "{first}");
    assert_eq!(second["flows"], first["flows"]);

    let mut client = server.client();
    let counts: Vec<i64> = client
        .query(
            "SELECT count(f.*) FROM scans s LEFT JOIN flows f ON f.scan_id = s.id GROUP BY s.id, s.started ORDER BY s.started",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(counts.len(), 2);
    assert_eq!(counts[0], counts[1], "flows per scan: {counts:?}");
}
