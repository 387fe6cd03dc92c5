//! `phiscan scan`: walk paths, detect PHI, write the records.

use crate::console::{ConsoleSink, start_progress};
use crate::exit;
use crate::paths;
use anyhow::{Context, Result};
use clap::Args;
use phiscan_core::Class;
use phiscan_core::records::{RecordSink, SummaryRecord};
use phiscan_detect::{RuleSet, RuleSources};
use phiscan_engine::{Progress, ScanOptions, Scanner};
use phiscan_extract::Limits;
use phiscan_inventory::store::DEFAULT_BUSY_TIMEOUT;
use phiscan_inventory::{Database, StoreTarget};
use phiscan_report::JsonLines;
use phiscan_sources::WalkOptions;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Folders and files to scan.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Write JSON Lines records to FILE (`-` for stdout); created with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<PathBuf>,

    /// Inventory store (SQLite). Default: inventory.sqlite in the data folder
    /// ($PHISCAN_HOME, or phiscan under the user's data folder).
    #[arg(long, value_name = "FILE", conflicts_with = "no_db")]
    pub db: Option<PathBuf>,

    /// Do not write the inventory store.
    #[arg(long)]
    pub no_db: bool,

    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Leave out paths matching GLOB (relative to the root, full path or file
    /// name; repeatable). Excluded folders are recorded once, not entered.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Follow symbolic links (loops are detected and recorded).
    #[arg(long)]
    pub follow_symlinks: bool,

    /// Add the rules of every *.toml file in DIR to the defaults (repeatable).
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,

    /// Use only the rules given with --rules.
    #[arg(long, requires = "rules")]
    pub no_default_rules: bool,

    /// Print raw matched values on the terminal and in JSON Lines output, to
    /// verify findings. Never written to the store or reports.
    #[arg(long)]
    pub show_values: bool,

    /// Drop findings below this confidence (0-100).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub min_confidence: u8,

    /// Exit with status 3 when any item was not fully examined.
    #[arg(long)]
    pub fail_on_incomplete: bool,

    /// Seconds one item may take before it is recorded as partial.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub item_timeout: u64,

    /// Deepest nesting of containers to open (a zip in a zip is 2).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_depth: u32,

    /// Largest item, in MiB, read whole into memory for structured formats;
    /// plain and delimited text are streamed whatever their size.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub max_item_mib: u64,

    /// Print only errors and the summary, not each finding.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: ScanArgs) -> Result<u8> {
    let rules = RuleSet::load(&RuleSources {
        no_defaults: args.no_default_rules,
        dirs: args.rules.clone(),
    })
    .context("invalid rules")?;

    let data = paths::data_dir()?;
    let key = paths::load_or_create_key(&data)?;
    let mut own_files = vec![paths::key_path(&data)];
    let mut sinks: Vec<Box<dyn RecordSink>> = Vec::new();

    let jsonl_to_stdout = args
        .jsonl
        .as_deref()
        .is_some_and(|path| path.as_os_str() == "-");
    if let Some(path) = &args.jsonl {
        if jsonl_to_stdout {
            sinks.push(Box::new(JsonLines::new(BufWriter::new(std::io::stdout()))));
        } else {
            let file = paths::open_private_output(path)?;
            own_files.push(path.clone());
            sinks.push(Box::new(JsonLines::new(BufWriter::new(file))));
        }
    }
    if !args.no_db {
        let store_path = args
            .db
            .clone()
            .unwrap_or_else(|| paths::default_store(&data));
        let target = StoreTarget::parse(&store_path);
        let store = Database::open(&target, DEFAULT_BUSY_TIMEOUT)?;
        if let Some(store_path) = target.sqlite_path() {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut name = store_path.as_os_str().to_owned();
                name.push(suffix);
                own_files.push(PathBuf::from(name));
            }
        }
        sinks.push(store.into_sink());
    }

    let progress = Arc::new(Progress::default());
    let progress_bar = if args.quiet {
        None
    } else {
        start_progress(progress.clone())
    };
    sinks.push(Box::new(ConsoleSink {
        list_findings: !args.quiet && !jsonl_to_stdout,
        summary_to_stdout: !jsonl_to_stdout,
        bar: progress_bar.as_ref().map(|(bar, _)| bar.clone()),
    }));

    let options = ScanOptions {
        roots: args.paths.clone(),
        threads: args.threads,
        walk: WalkOptions {
            follow_symlinks: args.follow_symlinks,
            excludes: args.exclude.clone(),
            own_files,
        },
        limits: Limits {
            max_depth: args.max_depth,
            max_whole_bytes: args.max_item_mib.saturating_mul(1 << 20),
            ..Limits::default()
        },
        show_values: args.show_values,
        min_confidence: args.min_confidence,
        item_timeout: Duration::from_secs(args.item_timeout.max(1)),
    };
    let scanner = Scanner::new(Arc::new(rules), &key, options);

    let cancel = Arc::new(AtomicBool::new(false));
    let handler_cancel = cancel.clone();
    if let Err(err) = ctrlc::set_handler(move || {
        if handler_cancel.swap(true, Ordering::Relaxed) {
            // A second Ctrl-C stops at once; the store stays consistent
            // because every batch is one transaction.
            std::process::exit(i32::from(exit::FAILED));
        }
        eprintln!(
            "phiscan: interrupted; finishing the current items (press Ctrl-C again to stop at once)"
        );
    }) {
        tracing::warn!(error = %err, "cannot install the Ctrl-C handler");
    }

    let result = scanner.run(sinks, progress, cancel);
    if let Some((bar, done)) = progress_bar {
        done.store(true, Ordering::Relaxed);
        bar.finish_and_clear();
    }
    let summary = result?;
    Ok(exit_status(&summary, args.fail_on_incomplete))
}

/// The exit status for a finished scan.
fn exit_status(summary: &SummaryRecord, fail_on_incomplete: bool) -> u8 {
    if !summary.complete {
        eprintln!("phiscan: the scan was interrupted before every item was scanned");
        return exit::FAILED;
    }
    let incomplete = summary
        .by_coverage
        .iter()
        .any(|(coverage, count)| *coverage != phiscan_core::Coverage::Complete && *count > 0);
    if fail_on_incomplete && incomplete {
        return exit::INCOMPLETE;
    }
    let identified = [Class::Phi, Class::PhiLikely, Class::Pii]
        .iter()
        .any(|class| summary.by_class.get(class).copied().unwrap_or(0) > 0);
    if identified {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}
