//! `phiscan sweep`: a scheduled scan from a configuration file, incremental
//! over the previous sweep, resuming an interrupted one, with reports and a
//! diff at the end.

use crate::cmd_diff;
use crate::cmd_report::write_report;
use crate::console::{ConsoleSink, FlowTally, start_progress};
use crate::exit;
use crate::paths;
use anyhow::{Context, Result, bail};
use clap::Args;
use phiscan_core::records::{RecordSink, SummaryRecord};
use phiscan_detect::{RuleSet, RuleSources};
use phiscan_engine::{Progress, ScanOptions, Scanner, SweepContext};
use phiscan_extract::Limits;
use phiscan_inventory::{Database, GroupBy, Inventory, InventoryOptions, ScanInfo, StoreTarget};
use phiscan_report::{JsonLines, ReportFormat};
use phiscan_sources::WalkOptions;
use serde::Deserialize;
use std::io::{BufWriter, IsTerminal};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct SweepCommand {
    /// The sweep configuration (TOML); docs/sweeps.md lists its keys.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Print only errors and the summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// Sweep a target folder that is empty although the last complete
    /// sweep recorded files in it, because it was emptied on purpose.
    #[arg(long)]
    pub allow_empty: bool,
}

/// The sweep configuration file. Relative paths are taken from the folder
/// that contains the configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Name that ties the sweeps of one configuration together in the store
    /// (default: the configuration file's name without extension).
    pub name: Option<String>,
    /// Folders and files to scan.
    pub targets: Vec<PathBuf>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Folders of extra rule files.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    #[serde(default)]
    pub no_default_rules: bool,
    /// The practice's own mail domains.
    #[serde(default)]
    pub internal_domains: Vec<String>,
    /// The store: a SQLite file or a postgres:// URL (default:
    /// inventory.sqlite in the data folder).
    pub store: Option<PathBuf>,
    /// Seconds to wait for another sweep on the same store (default 0: exit).
    #[serde(default)]
    pub lock_timeout: u64,
    /// Seconds to wait for another program's write lock on the store.
    #[serde(default = "default_busy_timeout")]
    pub busy_timeout: u64,
    #[serde(default)]
    pub threads: usize,
    #[serde(default)]
    pub follow_symlinks: bool,
    #[serde(default)]
    pub min_confidence: u8,
    #[serde(default = "default_item_timeout")]
    pub item_timeout: u64,
    #[serde(default = "default_max_depth")]
    pub max_depth: u32,
    #[serde(default = "default_max_item_mib")]
    pub max_item_mib: u64,
    /// Exit with status 3 when an item was not fully examined.
    #[serde(default)]
    pub fail_on_incomplete: bool,
    #[serde(default)]
    pub outputs: Outputs,
}

/// Files written after each sweep.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    pub jsonl: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    #[serde(default)]
    pub mask_paths: bool,
    /// Inventory grouping of the reports: root, folder:N, mailbox or file.
    pub group_by: Option<String>,
}

fn default_busy_timeout() -> u64 {
    30
}
fn default_item_timeout() -> u64 {
    300
}
fn default_max_depth() -> u32 {
    8
}
fn default_max_item_mib() -> u64 {
    256
}

/// Returns the folder of a sweep configuration as an absolute path without
/// symbolic links, so that its relative paths resolve the same way from any
/// working folder.
fn config_folder(config: &Path) -> PathBuf {
    let folder = match config.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    std::fs::canonicalize(folder)
        .or_else(|_| std::path::absolute(folder))
        .unwrap_or_else(|_| folder.to_path_buf())
}

/// Joins a relative path of a sweep configuration to the configuration's
/// folder and resolves `.` and `..`. A target must get the same root, and
/// its items the same locations, however the sweep was started: a root
/// spelled `sw/../share` one night and `../share` the next made every item
/// look moved and raised the new-PHI exit status.
///
/// The part up to the last `..` is resolved by the file system, so that
/// `link/..` is the parent of the link's target, as when a program opens it.
/// The rest is joined by name, which keeps a target that is itself a
/// symbolic link under the name it was given.
///
/// NOTE: when the part up to the last `..` does not exist, `..` is resolved
/// by name instead.
fn join_relative(base: &Path, relative: &Path) -> PathBuf {
    let components: Vec<Component> = relative.components().collect();
    let last_parent = components
        .iter()
        .rposition(|component| *component == Component::ParentDir);
    let (mut joined, rest) = match last_parent {
        Some(last) => {
            let prefix: PathBuf = components[..=last].iter().collect();
            match std::fs::canonicalize(base.join(prefix)) {
                Ok(real) => (real, &components[last + 1..]),
                Err(_) => (base.to_path_buf(), &components[..]),
            }
        }
        None => (base.to_path_buf(), &components[..]),
    };
    for component in rest {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                joined.pop();
            }
            other => joined.push(other),
        }
    }
    joined
}

/// Replaces the Rust type names in a TOML error with plain words, so that
/// `expected u64` becomes `expected a whole number`.
fn plain_type_names(message: &str) -> String {
    let mut text = message.to_string();
    for (rust, plain) in [
        ("expected usize", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u8", "expected a whole number from 0 to 255"),
        (
            "expected a sequence",
            "expected a list in brackets, such as [\"a\", \"b\"]",
        ),
        ("expected a boolean", "expected true or false"),
    ] {
        text = text.replace(rust, plain);
    }
    text
}

impl SweepConfig {
    /// Reads and checks a configuration file; errors name the key and line.
    pub fn load(path: &Path) -> Result<SweepConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the sweep configuration {}", path.display()))?;
        let mut config: SweepConfig = toml::from_str(&text).map_err(|err| {
            anyhow::anyhow!(
                "invalid sweep configuration {}: {}",
                path.display(),
                plain_type_names(err.to_string().trim_end())
            )
        })?;
        if config.targets.is_empty() {
            bail!(
                "invalid sweep configuration {}: targets is empty; list the folders to scan, such as targets = [\"/srv/share\"]",
                path.display()
            );
        }
        // NOTE: sweeps read folders only. A mail server is scanned with
        // `phiscan scan imaps://...`, which keeps its own resume state.
        if let Some(url) = config
            .targets
            .iter()
            .filter_map(|target| target.to_str())
            .find(|target| target.contains("://"))
        {
            bail!(
                "invalid sweep configuration {}: target {url} is a URL, but sweep targets are folders; \
                 scan a mailbox on a mail server with `phiscan scan {url}` instead",
                path.display()
            );
        }
        if let Some(group_by) = &config.outputs.group_by
            && let Err(err) = group_by.parse::<GroupBy>()
        {
            bail!(
                "invalid sweep configuration {}: outputs.group_by: {err}",
                path.display()
            );
        }
        if config.threads > crate::cmd_scan::MAX_THREADS {
            bail!(
                "invalid sweep configuration {}: threads is {}; use 0 for one per core, or at most {}",
                path.display(),
                config.threads,
                crate::cmd_scan::MAX_THREADS
            );
        }
        if config.min_confidence > 100 {
            bail!(
                "invalid sweep configuration {}: min_confidence is {}; use 0 to 100",
                path.display(),
                config.min_confidence
            );
        }
        let base = config_folder(path);
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = join_relative(&base, p);
            }
        };
        config.targets.iter_mut().for_each(resolve);
        config.rules.iter_mut().for_each(resolve);
        if let Some(store) = &mut config.store
            && StoreTarget::parse(store).sqlite_path().is_some()
        {
            resolve(store);
        }
        let outputs = &mut config.outputs;
        for output in [
            &mut outputs.jsonl,
            &mut outputs.html,
            &mut outputs.csv,
            &mut outputs.json,
            &mut outputs.markdown,
        ]
        .into_iter()
        .flatten()
        {
            resolve(output);
        }
        if config.name.is_none() {
            config.name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned());
        }
        Ok(config)
    }
}

pub fn run(command: SweepCommand) -> Result<u8> {
    let config = SweepConfig::load(&command.config)?;
    let name = config.name.clone().unwrap_or_else(|| "sweep".into());
    let rules = RuleSet::load(&RuleSources {
        no_defaults: config.no_default_rules,
        dirs: config.rules.clone(),
    })
    .context("invalid rules")?;

    let data = paths::data_dir()?;
    let key = paths::load_or_create_key(&data)?;
    let target = StoreTarget::parse(
        &config
            .store
            .clone()
            .unwrap_or_else(|| paths::default_store(&data)),
    );
    let mut database = Database::open(&target, Duration::from_secs(config.busy_timeout))?;
    let _lock = database.lock_sweeps(Duration::from_secs(config.lock_timeout))?;

    // Resume: an interrupted sweep newer than the last complete one.
    let scans = database.scans()?;
    if !command.allow_empty {
        check_targets_not_emptied(&mut database, &scans, &name, &config.targets)?;
    }
    let resumed = interrupted_sweep(&scans, &name);
    // Without a JSON Lines output, the other outputs (the store and the
    // summary on the terminal) need only the class, coverage and findings
    // of an unchanged file.
    let summaries_suffice = config.outputs.jsonl.is_none();
    let cache = database.sweep_cache(&name, rules.version(), summaries_suffice)?;
    if let Some(scan) = &resumed {
        eprintln!(
            "phiscan: resuming the interrupted sweep {} started {}; the files it or the last complete sweep recorded are reused when unchanged",
            scan.id, scan.started
        );
    }

    let mut own_files = vec![paths::key_path(&data)];
    if let Some(store_path) = target.sqlite_path() {
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
            let mut file = store_path.as_os_str().to_owned();
            file.push(suffix);
            own_files.push(PathBuf::from(file));
        }
    }
    let outputs = &config.outputs;
    own_files.extend(
        [
            &outputs.jsonl,
            &outputs.html,
            &outputs.csv,
            &outputs.json,
            &outputs.markdown,
        ]
        .into_iter()
        .flatten()
        .cloned(),
    );

    let mut sinks: Vec<Box<dyn RecordSink>> = Vec::new();
    if let Some(path) = &outputs.jsonl {
        let file = paths::open_private_output(path, paths::MissingFolder::Create)?;
        sinks.push(Box::new(JsonLines::new(BufWriter::new(file))));
    }
    sinks.push(database.into_sink());
    let progress = Arc::new(Progress::default());
    let progress_bar = if command.quiet {
        None
    } else {
        start_progress(progress.clone())
    };
    sinks.push(Box::new(ConsoleSink {
        list_findings: false,
        summary_to_stdout: true,
        bar: progress_bar.as_ref().map(|(bar, _)| bar.clone()),
        flows: FlowTally::default(),
        out: BufWriter::new(std::io::stdout()),
        out_is_terminal: std::io::stdout().is_terminal(),
    }));

    let options = ScanOptions {
        roots: config.targets.clone(),
        threads: config.threads,
        walk: WalkOptions {
            follow_symlinks: config.follow_symlinks,
            excludes: config.exclude.clone(),
            own_files,
        },
        limits: Limits {
            max_depth: config.max_depth,
            max_whole_bytes: config.max_item_mib.saturating_mul(1 << 20),
            ..Limits::default()
        },
        show_values: false,
        min_confidence: config.min_confidence,
        item_timeout: Duration::from_secs(config.item_timeout.max(1)),
        internal_domains: config.internal_domains.clone(),
        imap: Vec::new(),
    };
    let scanner = Scanner::new(Arc::new(rules), &key, options).with_sweep(SweepContext {
        name: Some(name.clone()),
        resumed_from: resumed.map(|scan| scan.id),
        cache: Some(cache),
    });

    let cancel = Arc::new(AtomicBool::new(false));
    install_interrupt_handler(cancel.clone());
    let clock = std::time::Instant::now();
    let result = scanner.run(sinks, progress, cancel);
    tracing::info!(seconds = clock.elapsed().as_secs_f64(), "scan finished");
    if let Some((bar, done)) = progress_bar {
        done.store(true, Ordering::Relaxed);
        bar.finish_and_clear();
    }
    let summary = result?;
    if !command.quiet {
        // Folders, and items that could not be opened, are neither read nor
        // reused, so counting them makes the line add up to the items scanned.
        let others = summary
            .items
            .saturating_sub(summary.items_read + summary.items_reused);
        let items = if summary.items_read == 1 {
            "item"
        } else {
            "items"
        };
        println!(
            "  incremental:       {} {items} read, {} reused from earlier sweeps, {others} neither (folders, items that could not be opened)",
            summary.items_read, summary.items_reused
        );
    }
    if !summary.complete {
        eprintln!(
            "phiscan: the sweep was interrupted; it is recorded as incomplete and the next sweep resumes it"
        );
        return Ok(exit::FAILED);
    }
    finish(&config, &target, &summary)
}

/// Returns the newest scan of the sweep when it did not complete.
/// Rejects a target folder that is empty when the last complete sweep
/// recorded files in it. An unmounted share looks like that, and recording
/// it would list every file as lost, then as new PHI when the share is back.
fn check_targets_not_emptied(
    database: &mut Database,
    scans: &[ScanInfo],
    name: &str,
    targets: &[PathBuf],
) -> Result<()> {
    let Some(last) = scans
        .iter()
        .rev()
        .find(|scan| scan.sweep.as_deref() == Some(name) && scan.complete)
    else {
        return Ok(());
    };
    for target in targets {
        let empty = std::fs::read_dir(target).is_ok_and(|mut entries| entries.next().is_none());
        if empty && database.has_items_under(&last.id, target)? {
            bail!(
                "sweep target {} is an empty folder, but the last complete sweep (started {}) recorded files in it; check that the share is mounted and reachable, or run the sweep once with --allow-empty if the folder was emptied on purpose",
                target.display(),
                last.started
            );
        }
    }
    Ok(())
}

fn interrupted_sweep(scans: &[ScanInfo], name: &str) -> Option<ScanInfo> {
    scans
        .iter()
        .rev()
        .find(|scan| scan.sweep.as_deref() == Some(name))
        .filter(|scan| !scan.complete)
        .cloned()
}

/// Writes the reports, prints the diff with the previous sweep, and picks
/// the exit status.
fn finish(config: &SweepConfig, target: &StoreTarget, summary: &SummaryRecord) -> Result<u8> {
    let mut database = Database::open_existing(target)?;
    let scans = database.scans()?;
    let Some(new) = scans.iter().find(|scan| scan.id == summary.scan).cloned() else {
        bail!(
            "the sweep's scan {} is missing from the store {target}",
            summary.scan
        );
    };
    let outputs = &config.outputs;
    let reports = [
        (&outputs.html, ReportFormat::Html),
        (&outputs.csv, ReportFormat::Csv),
        (&outputs.json, ReportFormat::Json),
        (&outputs.markdown, ReportFormat::Markdown),
    ];
    if reports.iter().any(|(path, _)| path.is_some()) {
        let data = database.scan_data(&new.id)?;
        let group_by = match &outputs.group_by {
            Some(text) => text.parse::<GroupBy>().map_err(anyhow::Error::msg)?,
            None => GroupBy::Folder(1),
        };
        let inventory = Inventory::build(
            &new,
            &data,
            &InventoryOptions {
                group_by,
                internal_domains: config.internal_domains.clone(),
            },
        );
        let generated = phiscan_engine::rfc3339(std::time::SystemTime::now());
        for (path, format) in reports {
            if let Some(path) = path {
                let text =
                    phiscan_report::render(&inventory, format, &generated, outputs.mask_paths);
                write_report(path, &text, paths::MissingFolder::Create)?;
            }
        }
    }

    let incomplete = summary.not_complete();
    let new_phi = match cmd_diff::previous_scan(&scans, &new) {
        Some(old) => {
            let clock = std::time::Instant::now();
            let diff = cmd_diff::compare(&mut database, &old, &new)?;
            tracing::info!(
                changes = diff.changes.len(),
                seconds = clock.elapsed().as_secs_f64(),
                "compared with the previous sweep"
            );
            println!("  since last sweep:  {}", cmd_diff::change_counts(&diff));
            diff.new_phi() > 0
        }
        None => summary
            .by_class
            .iter()
            .any(|(class, count)| class.is_phi() && *count > 0),
    };
    if config.fail_on_incomplete && incomplete > 0 {
        return Ok(exit::INCOMPLETE);
    }
    if new_phi {
        return Ok(exit::FINDINGS);
    }
    // As for a scan, status 0 covers only the items that were read.
    if incomplete > 0 {
        eprintln!(
            "phiscan: no new PHI found in what was read, but {}; set fail_on_incomplete = true in the sweep configuration to exit with status 3 when that happens",
            crate::cmd_scan::not_examined(incomplete)
        );
    }
    Ok(exit::CLEAN)
}

fn install_interrupt_handler(cancel: Arc<AtomicBool>) {
    if let Err(err) = ctrlc::set_handler(move || {
        if cancel.swap(true, Ordering::Relaxed) {
            // A second Ctrl-C stops at once; committed batches stay and the
            // scan row stays incomplete, so the next sweep resumes.
            std::process::exit(i32::from(exit::FAILED));
        }
        eprintln!(
            "phiscan: interrupted; finishing the current items (press Ctrl-C again to stop at once)"
        );
    }) {
        tracing::warn!(error = %err, "cannot install the Ctrl-C handler");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn join_relative_cases() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(base.join("deep/inner")).unwrap();
        std::fs::create_dir_all(base.join("sweeps")).unwrap();
        std::os::unix::fs::symlink(base.join("deep/inner"), base.join("link")).unwrap();
        let sweeps = base.join("sweeps");

        let cases = [
            (base.as_path(), "a/./b", base.join("a/b")),
            (sweeps.as_path(), "../share", base.join("share")),
            // `..` after a link leaves the link's target, as opening the path does.
            (base.as_path(), "link/../x", base.join("deep/x")),
            // A link named last keeps its name.
            (base.as_path(), "./link", base.join("link")),
            // A missing part before `..` falls back to resolving by name.
            (base.as_path(), "missing/../x", base.join("x")),
        ];
        for (folder, relative, expected) in cases {
            assert_eq!(
                join_relative(folder, Path::new(relative)),
                expected,
                "{relative}"
            );
        }
    }
}
