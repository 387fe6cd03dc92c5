//! Terminal output: the finding list, per-item errors, progress and the summary.

use indicatif::{ProgressBar, ProgressStyle};
use phiscan_core::Coverage;
use phiscan_core::location::sanitize_for_terminal;
use phiscan_core::records::{FindingRecord, Record, RecordSink, SinkError};
use phiscan_engine::Progress;
use phiscan_report::console::human_bytes;
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
    if let Some(value) = &finding.value {
        line.push_str(&format!(" value={:?}", sanitize_for_terminal(value)));
    }
    line
}

impl RecordSink for ConsoleSink {
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
            Record::Summary(summary) => {
                if let Some(bar) = &self.bar {
                    bar.finish_and_clear();
                }
                let text = phiscan_report::summary_text(summary);
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
