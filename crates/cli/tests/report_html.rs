//! The HTML report in a real browser: headless Chromium driven through
//! ChromeDriver renders it, prints it to PDF, and makes no network request,
//! even when file names in the scanned tree hold markup.
//!
//! `tests/servers/chromedriver.sh` installs Debian's chromium and
//! chromium-driver when missing and starts ChromeDriver on 127.0.0.1.

mod sweep_common;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use sweep_common::{run, tempdir, texts, visit_note, write_file};

/// ChromeDriver on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/servers/chromedriver.sh");
        let child = Command::new("bash")
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("tests/servers/chromedriver.sh starts");
        let mut driver = Driver { child, port };
        // The first run may install the packages.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Ok(status) = driver.request("GET", "/status", None)
                && status["value"]["ready"] == true
            {
                return driver;
            }
            if let Some(exit) = driver.child.try_wait().unwrap() {
                panic!("chromedriver.sh exited with {exit}; see its messages above");
            }
            assert!(
                Instant::now() < deadline,
                "ChromeDriver did not start in time"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends one WebDriver request and returns the JSON response.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Value> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let response = read_response(&mut stream)?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        serde_json::from_str(&body)
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let response = self
            .request(method, path, (!body.is_null()).then_some(&body))
            .unwrap_or_else(|err| panic!("{method} {path}: {err}"));
        assert!(
            response["value"].get("error").is_none(),
            "{method} {path}: {response}"
        );
        response["value"].clone()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one HTTP response: the head, then the body by its
/// Content-Length, or to the end of the stream when the server sends none.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(response);
        }
        response.extend_from_slice(&buffer[..read]);
        let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok());
        if let Some(length) = length
            && response.len() >= end + 4 + length
        {
            return Ok(response);
        }
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// Scans a tree with PHI and hostile file names and writes the HTML report.
fn write_report(dir: &Path, home: &Path, extra_args: &[&str]) -> PathBuf {
    let share = dir.join("share");
    write_file(
        &share,
        "Notes/visit.txt",
        &visit_note("362-11-3345", "9857607"),
        0o644,
    );
    write_file(
        &share,
        "Desktop/copy.txt",
        &visit_note("362-11-3345", "9857607"),
        0o600,
    );
    // File names are untrusted: markup in them must stay text.
    write_file(
        &share,
        "<img src=x onerror=alert(1)>/visit.txt",
        &visit_note("418-23-5561", "4412093"),
        0o600,
    );
    // An image is not read, so this name is listed in the coverage section.
    write_file(
        &share,
        "Scans/<link rel=stylesheet href=y.css>.png",
        "\u{89}PNG\r\n\u{1a}\n\0\0\0\rIHDR",
        0o600,
    );
    let store = home.join("inventory.sqlite");
    let scan = run(
        home,
        &[
            "scan",
            share.to_str().unwrap(),
            "-q",
            "--db",
            store.to_str().unwrap(),
        ],
    );
    assert_eq!(scan.status.code(), Some(1), "{:?}", texts(&scan));
    let report = dir.join("report.html");
    let mut args = vec![
        "report",
        "--db",
        store.to_str().unwrap(),
        "--format",
        "html",
        "-o",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra_args);
    let output = run(home, &args);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    report
}

#[test]
fn html_report_renders_offline_in_chromium() {
    let dir = tempdir();
    let home = tempdir();
    let report = write_report(dir.path(), home.path(), &[]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(!html.contains("362-11-3345"), "no value in the report");
    assert!(!html.contains("<img src=x"), "markup in names is escaped");

    let driver = Driver::start();
    let profile = tempdir();
    let capabilities = json!({
        "capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": {"performance": "ALL"},
        }}
    });
    let session = driver.call("POST", "/session", capabilities);
    let id = session["sessionId"].as_str().unwrap().to_string();
    let url = format!("file://{}", report.display());
    driver.call("POST", &format!("/session/{id}/url"), json!({"url": url}));

    let facts = driver.call(
        "POST",
        &format!("/session/{id}/execute/sync"),
        json!({"script": "return {
            title: document.title,
            rows: document.querySelectorAll('table tbody tr').length,
            charts: document.querySelectorAll('svg').length,
            bars: document.querySelectorAll('svg rect').length,
            sections: Array.from(document.querySelectorAll('h2')).map(h => h.textContent),
            images: document.images.length,
            resources: performance.getEntriesByType('resource').length,
            hostile_folder: document.body.innerText.includes('<img src=x onerror=alert(1)>'),
            hostile_file: document.body.innerText.includes('<link rel=stylesheet href=y.css>.png'),
            stylesheets: document.styleSheets.length,
            width: document.documentElement.scrollWidth
        };", "args": []}),
    );
    assert!(
        facts["title"]
            .as_str()
            .unwrap()
            .starts_with("PHI inventory"),
        "{facts}"
    );
    assert!(facts["rows"].as_u64().unwrap() >= 6, "{facts}");
    assert_eq!(
        facts["charts"], 3,
        "two bar charts and the flow diagram: {facts}"
    );
    assert!(facts["bars"].as_u64().unwrap() >= 3, "{facts}");
    let sections: Vec<&str> = facts["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for expected in [
        "Summary",
        "Top risks",
        "Inventory",
        "PHI by location",
        "Data flows",
        "Coverage",
        "Method",
    ] {
        assert!(
            sections.iter().any(|s| s.starts_with(expected)),
            "{expected} in {sections:?}"
        );
    }
    assert_eq!(facts["images"], 0, "the hostile name made no image element");
    assert_eq!(facts["resources"], 0, "no subresource was fetched");
    assert_eq!(
        facts["hostile_folder"], true,
        "the hostile folder name shows as text"
    );
    assert_eq!(
        facts["hostile_file"], true,
        "the hostile file name shows as text"
    );
    assert_eq!(
        facts["stylesheets"], 1,
        "only the report's own style element"
    );

    // Every network event in the DevTools log is for the report itself.
    let log = driver.call(
        "POST",
        &format!("/session/{id}/se/log"),
        json!({"type": "performance"}),
    );
    let mut requests = Vec::new();
    for entry in log.as_array().unwrap() {
        let message: Value = serde_json::from_str(entry["message"].as_str().unwrap()).unwrap();
        let method = message["message"]["method"].as_str().unwrap_or("");
        if method == "Network.requestWillBeSent" {
            requests.push(
                message["message"]["params"]["request"]["url"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    // Chromium's own new-tab page (chrome:// and data: URLs) loads before
    // the report; none of that leaves the machine.
    let network: Vec<&String> = requests
        .iter()
        .filter(|request| !request.starts_with("chrome://") && !request.starts_with("data:"))
        .collect();
    assert_eq!(network, vec![&url], "the only request loads the report");
    let report_load = requests.iter().position(|request| *request == url).unwrap();
    assert_eq!(
        requests.len(),
        report_load + 1,
        "nothing loaded after the report: {:?}",
        &requests[report_load..]
    );

    let screenshot = driver.call("GET", &format!("/session/{id}/screenshot"), Value::Null);
    assert!(
        screenshot.as_str().unwrap().len() > 10_000,
        "a rendered page"
    );
    let pdf = driver.call(
        "POST",
        &format!("/session/{id}/print"),
        json!({"orientation": "landscape", "background": true}),
    );
    let pdf = pdf.as_str().unwrap();
    assert!(pdf.starts_with("JVBERi0"), "a PDF (%PDF- in base64)");
    assert!(pdf.len() > 20_000, "the printed report has content");
    if let Ok(folder) = std::env::var("PHISCAN_REPORT_ARTIFACTS") {
        std::fs::write(
            Path::new(&folder).join("report.png.b64"),
            screenshot.as_str().unwrap(),
        )
        .unwrap();
        std::fs::write(Path::new(&folder).join("report.pdf.b64"), pdf).unwrap();
    }
    let _ = driver.request("DELETE", &format!("/session/{id}"), None);
}

#[test]
fn masked_report_hides_names() {
    let dir = tempdir();
    let home = tempdir();
    let report = write_report(dir.path(), home.path(), &["--mask-paths"]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(!html.contains("visit.txt"), "file names masked");
    assert!(!html.contains("Notes"), "folder names masked");
    assert!(!html.contains("onerror"), "hostile names masked");
    assert!(html.contains("Desktop"), "standard folder names kept");
    assert!(html.contains("folder-"), "placeholders shown");
    assert!(
        html.contains("file and folder names</th><td><code>masked"),
        "the method says so"
    );
}

/// A report path in a missing folder is rejected, as a typo would be, and
/// a report written over a file readable by others is made owner-only.
#[cfg(unix)]
#[test]
fn report_output_folder_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let home = tempdir();
    let report = write_report(dir.path(), home.path(), &[]);
    let store = home.path().join("inventory.sqlite");
    let write_html = |output: &Path| {
        let args = [
            "report",
            "--db",
            store.to_str().unwrap(),
            "--format",
            "html",
            "--output",
            output.to_str().unwrap(),
        ];
        run(home.path(), &args)
    };

    let missing = dir.path().join("no-such-folder/report.html");
    let output = write_html(&missing);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!missing.parent().unwrap().exists());

    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = write_html(&report);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    let mode = std::fs::metadata(&report).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
