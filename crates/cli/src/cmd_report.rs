//! `phiscan report`: HTML, CSV, JSON or Markdown reports over a scan.

use crate::cmd_inventory::InventoryArgs;
use crate::console::print_stdout;
use crate::exit;
use crate::paths;
use anyhow::{Context, Result};
use clap::Args;
use phiscan_core::location::sanitize_for_terminal;
use phiscan_report::ReportFormat;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportCommand {
    #[command(flatten)]
    pub store: InventoryArgs,

    /// Report format: html (self-contained page), csv (asset inventory),
    /// json (documented schema) or md (Markdown).
    #[arg(
        long,
        value_name = "html|csv|json|md",
        required_unless_present = "list"
    )]
    pub format: Option<ReportFormat>,

    /// Write the report to FILE (`-` for stdout); created with mode 0600.
    #[arg(short, long, value_name = "FILE", required_unless_present = "list")]
    pub output: Option<PathBuf>,

    /// Replace file and folder names below the roots with numbered placeholders.
    #[arg(long)]
    pub mask_paths: bool,

    /// List the scans in the store instead of writing a report.
    #[arg(long)]
    pub list: bool,
}

pub fn run(command: ReportCommand) -> Result<u8> {
    let mut database = command.store.open()?;
    if command.list {
        let scans = database.scans()?;
        if scans.is_empty() {
            eprintln!(
                "phiscan: the store contains no scan yet; run `phiscan scan` or `phiscan sweep` with it first"
            );
        }
        let mut out = String::new();
        for scan in scans {
            writeln!(
                out,
                "{}  {}  {:<10}  {}  {}",
                scan.id,
                scan.started,
                if scan.complete {
                    "complete"
                } else {
                    "incomplete"
                },
                sanitize_for_terminal(scan.sweep.as_deref().unwrap_or("-")),
                sanitize_for_terminal(&scan.roots.join(" "))
            )?;
        }
        print_stdout(&out)?;
        return Ok(exit::CLEAN);
    }
    let (Some(format), Some(output)) = (command.format, &command.output) else {
        anyhow::bail!("--format and --output are required to write a report");
    };
    let inventory = command.store.inventory(&mut database)?;
    let generated = phiscan_engine::rfc3339(std::time::SystemTime::now());
    let text = phiscan_report::render(&inventory, format, &generated, command.mask_paths);
    write_report(output, &text, paths::MissingFolder::Reject)?;
    Ok(exit::CLEAN)
}

/// Writes a report to a file with mode 0600, or to stdout for `-`.
pub fn write_report(
    output: &std::path::Path,
    text: &str,
    missing: paths::MissingFolder,
) -> Result<()> {
    if output.as_os_str() == "-" {
        std::io::stdout()
            .write_all(text.as_bytes())
            .context("cannot write the report to stdout")?;
        return Ok(());
    }
    let mut file = paths::open_private_output(output, missing)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write the report {}", output.display()))?;
    Ok(())
}
