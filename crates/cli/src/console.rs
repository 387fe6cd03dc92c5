//! Terminal output: the finding list, per-item errors, progress and the summary.

use indicatif::{ProgressBar, ProgressStyle};
use phiscan_core::Coverage;
use phiscan_core::location::sanitize_for_terminal;
use phiscan_core::records::{
    FindingForm, FindingRecord, FlowRecord, Record, RecordSink, SinkError,
};
use phiscan_engine::Progress;
use phiscan_report::console::human_bytes;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Prints findings and errors as they arrive and the summary at the end.
pub struct ConsoleSink {
    /// Print each finding on stdout.
    pub list_findings: bool,
    /// Print the summary on stdout (false: on stderr, when stdout carries JSON Lines).
    pub summary_to_stdout: bool,
    pub bar: Option<ProgressBar>,
    pub out: std::io::BufWriter<std::io::Stdout>,
    /// Flush each line, so a person watching sees findings as they come.
    pub out_is_terminal: bool,
    pub flows: FlowTally,
}

/// Counts of PHI flows by email, for the summary.
#[derive(Debug, Default)]
pub struct FlowTally {
    total: u64,
    external: u64,
    webmail: u64,
    auto_forwarded: u64,
    unencrypted: u64,
    external_domains: BTreeMap<String, u64>,
}

impl FlowTally {
    fn add(&mut self, flow: &FlowRecord) {
        self.total += 1;
        if flow.external {
            self.external += 1;
            *self
                .external_domains
                .entry(flow.to_domain.clone())
                .or_insert(0) += 1;
        }
        self.webmail += u64::from(flow.webmail);
        self.auto_forwarded += u64::from(flow.auto_forwarded);
        self.unencrypted += u64::from(flow.protection != "encrypted");
    }

    /// Renders the flow lines of the summary; empty when no PHI was mailed.
    pub fn text(&self) -> String {
        if self.total == 0 {
            return String::new();
        }
        let mut text = format!(
            "  email flows of PHI: {} ({} external, {} to personal webmail, {} auto-forwarded, {} not encrypted)\n",
            self.total, self.external, self.webmail, self.auto_forwarded, self.unencrypted
        );
        let mut domains: Vec<(&String, &u64)> = self.external_domains.iter().collect();
        domains.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        if !domains.is_empty() {
            let top: Vec<String> = domains
                .iter()
                .take(5)
                .map(|(domain, count)| format!("{} {count}", sanitize_for_terminal(domain)))
                .collect();
            text.push_str(&format!("  external domains:   {}\n", top.join(", ")));
        }
        text
    }
}

impl ConsoleSink {
    fn print_out(&mut self, line: &str) {
        // The bar is only shown when stdout is not the terminal, so lines on
        // stdout cannot tear it. Stdout is line-buffered, which costs a
        // system call per finding, so lines go through a buffer of our own.
        let _ = writeln!(self.out, "{line}");
        if self.out_is_terminal {
            let _ = self.out.flush();
        }
    }

    fn print_err(&mut self, line: &str) {
        // Keep finding lines and error lines in order on a shared terminal.
        let _ = self.out.flush();
        let write = || eprintln!("{line}");
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

/// Formats one finding: `location:line:column: category preview (rule, confidence)`.
pub fn finding_line(finding: &FindingRecord) -> String {
    let mut line = format!(
        "{}:{}:{}: {} {} ({}, {}%)",
        sanitize_for_terminal(&finding.location),
        finding.line,
        finding.column,
        finding.category,
        sanitize_for_terminal(&finding.preview),
        finding.rule,
        finding.confidence,
    );
    if let Some(place) = finding.locator.describe() {
        line.push_str(&format!(" at {}", sanitize_for_terminal(&place)));
    }
    if let Some(value) = &finding.value {
        line.push_str(&format!(" value={:?}", sanitize_for_terminal(value)));
    }
    line
}

impl RecordSink for ConsoleSink {
    /// Findings are printed one by one, or not at all with `--quiet`.
    fn finding_form(&self) -> FindingForm {
        if self.list_findings {
            FindingForm::Records
        } else {
            FindingForm::Neither
        }
    }

    fn record(&mut self, record: &Record) -> Result<(), SinkError> {
        match record {
            Record::Finding(finding) if self.list_findings => {
                self.print_out(&finding_line(finding))
            }
            Record::Item(item) => match item.coverage {
                Coverage::Error => self.print_err(&format!(
                    "{}: {}",
                    sanitize_for_terminal(&item.location),
                    sanitize_for_terminal(item.reason.as_deref().unwrap_or("error"))
                )),
                Coverage::Complete => {}
                coverage => tracing::debug!(
                    location = %sanitize_for_terminal(&item.location),
                    %coverage,
                    reason = item.reason.as_deref().unwrap_or(""),
                    "item not fully examined"
                ),
            },
            Record::Flow(flow) => self.flows.add(flow),
            Record::Summary(summary) => {
                if let Some(bar) = &self.bar {
                    bar.finish_and_clear();
                }
                let mut text = phiscan_report::summary_text(summary);
                text.push_str(&self.flows.text());
                if self.summary_to_stdout {
                    let _ = write!(self.out, "{text}");
                    let _ = self.out.flush();
                } else {
                    let _ = self.out.flush();
                    eprint!("{text}");
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Starts a progress spinner on stderr, updated twice a second, when stderr
/// is a terminal. Returns the bar and a flag that stops the updater.
pub fn start_progress(progress: Arc<Progress>) -> Option<(ProgressBar, Arc<AtomicBool>)> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let done = Arc::new(AtomicBool::new(false));
    let updater_bar = bar.clone();
    let updater_done = done.clone();
    std::thread::spawn(move || {
        while !updater_done.load(Ordering::Relaxed) {
            updater_bar.set_message(format!(
                "{} items, {}, {} findings",
                progress.items.load(Ordering::Relaxed),
                human_bytes(progress.bytes.load(Ordering::Relaxed)),
                progress.findings.load(Ordering::Relaxed),
            ));
            updater_bar.tick();
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    Some((bar, done))
}

/// Writes text to standard output. A reader that closes the pipe early
/// (`phiscan inventory | head`) ends the output without an error.
pub fn print_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
