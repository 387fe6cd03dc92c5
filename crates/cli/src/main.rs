//! The `phiscan` command line.

mod cmd_diff;
mod cmd_inventory;
mod cmd_report;
mod cmd_rules;
mod cmd_scan;
mod cmd_sweep;
mod console;
mod exit;
mod paths;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Allocator for the whole program. Workers allocate findings and the
/// writer thread frees them. glibc's allocator serialises that hand-over on
/// an arena lock, which cost the writer a tenth of its time in profiles.
/// mimalloc frees across threads without one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Find unprotected protected health information (PHI) in file shares and
/// mailbox exports, and map where it lives.
#[derive(Parser, Debug)]
#[command(name = "phiscan", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output on stderr: -v for progress notes, -vv to say why each
    /// item was skipped, -vvv for how each item was read. Logs never carry matched values.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan folders and files for PHI.
    Scan(Box<cmd_scan::ScanArgs>),
    /// List, check, explain and export detection rules.
    #[command(subcommand)]
    Rules(cmd_rules::RulesCommand),
    /// Show the data inventory of a scan: PHI per location, exposure,
    /// protection, risky places, copies, flows and risk.
    Inventory(cmd_inventory::InventoryCommand),
    /// Write an HTML, CSV, JSON or Markdown report of a scan.
    Report(cmd_report::ReportCommand),
    /// Run a scheduled sweep from a configuration file: incremental, resumable,
    /// with reports and a diff against the previous sweep.
    Sweep(cmd_sweep::SweepCommand),
    /// List items that gained, lost or changed PHI between two scans; exit
    /// status 1 when new PHI appeared.
    Diff(cmd_diff::DiffCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    install_panic_hook();

    let result = match cli.command {
        Command::Scan(args) => cmd_scan::run(*args),
        Command::Rules(command) => cmd_rules::run(command),
        Command::Inventory(command) => cmd_inventory::run(command),
        Command::Report(command) => cmd_report::run(command),
        Command::Sweep(command) => cmd_sweep::run(command),
        Command::Diff(command) => cmd_diff::run(command),
    };
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("phiscan: {}", error_text(&err));
            exit::FAILED.into()
        }
    }
}

/// Joins an error and its causes with `: `, leaving out a cause whose text
/// the message already contains (many messages quote their cause).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Sets up logging on stderr. Only phiscan's own crates log by default:
/// third-party parsers log warnings about the files they read, which are
/// noise to a user and may quote file content. `PHISCAN_LOG` (an env-filter
/// directive such as `debug,lopdf=warn`) overrides the default.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "off,phiscan=warn",
        1 => "off,phiscan=info",
        2 => "off,phiscan=debug",
        _ => "off,phiscan=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PHISCAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colors only on a terminal: a log written to a file stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}

/// Replaces the default panic message, which would print the panic payload:
/// a parser panicking on a malformed file may quote the file's content.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|location| format!("{}:{}", location.file(), location.line()))
            .unwrap_or_else(|| "unknown location".into());
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        if name.starts_with("phiscan-worker") {
            // Parsers run under catch_unwind, and the caller records the
            // item's coverage, so a parser panic is expected on damaged files.
            tracing::debug!(%location, "a parser panicked; the item's coverage records the failure");
        } else {
            eprintln!(
                "phiscan: internal error at {location} in thread {name}; the panic message is withheld because it may quote scanned content"
            );
        }
    }));
}
