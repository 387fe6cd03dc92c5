//! `phiscan scan`: walk paths, detect PHI, write the records.

use crate::console::{ConsoleSink, FlowTally, start_progress};
use crate::exit;
use crate::paths;
use anyhow::{Context, Result};
use clap::Args;
use phiscan_core::Class;
use phiscan_core::cache::ItemCache;
use phiscan_core::records::{RecordSink, SummaryRecord};
use phiscan_detect::{RuleSet, RuleSources};
use phiscan_engine::{Progress, ScanOptions, Scanner};
use phiscan_extract::Limits;
use phiscan_inventory::store::DEFAULT_BUSY_TIMEOUT;
use phiscan_inventory::{Database, StoreTarget};
use phiscan_report::JsonLines;
use phiscan_sources::WalkOptions;
use phiscan_sources::imap::{ImapAccount, ImapUrl, MailboxState, Password, RetryPolicy, Sweep};
use std::collections::HashMap;
use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Folders and files to scan, and mailboxes on IMAP servers as
    /// imaps://user@host[:port][/folder] (imap:// uses STARTTLS).
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
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true, value_parser = parse_threads)]
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
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true, value_parser = clap::value_parser!(u8).range(0..=100))]
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

    /// A mail domain of the practice (repeatable; subdomains included). Flows
    /// of PHI to any other domain are marked external.
    #[arg(long, value_name = "DOMAIN")]
    pub internal_domain: Vec<String>,

    /// Environment variable holding the IMAP password.
    #[arg(long, value_name = "NAME", default_value = "PHISCAN_IMAP_PASSWORD")]
    pub password_env: String,

    /// File whose first line is the IMAP password (used when the variable
    /// of --password-env is unset; otherwise phiscan prompts on the terminal).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// PEM file of certificate authorities to trust for IMAP TLS instead of
    /// the system trust store.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Allow imap:// without STARTTLS: the password and the mail cross the
    /// network unencrypted. Only for servers on a trusted local network.
    #[arg(long)]
    pub insecure_plaintext: bool,

    /// Connections tried for one IMAP step (login, folder, batch of
    /// messages) before its messages are recorded as not fetched.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub imap_attempts: u32,

    /// Milliseconds to wait before reconnecting to an IMAP server; doubled
    /// after each failed try.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub imap_retry_delay: u64,

    /// Fetch every message of an IMAP mailbox again. Without it, a mailbox
    /// scanned into the same store before is read from where that scan
    /// stopped, and the messages read before are recorded from their earlier
    /// results.
    #[arg(long)]
    pub imap_full: bool,

    /// Print only errors and the summary, not each finding.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: ScanArgs) -> Result<u8> {
    let (paths, urls) = split_roots(&args)?;
    phiscan_engine::check_roots(&paths)?;
    let password = if urls.is_empty() {
        None
    } else {
        Some(read_password(&args, &urls[0])?)
    };

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
            let file = paths::open_private_output(path, paths::MissingFolder::Reject)?;
            own_files.push(path.clone());
            sinks.push(Box::new(JsonLines::new(BufWriter::new(file))));
        }
    }
    let store_path = (!args.no_db).then(|| {
        args.db
            .clone()
            .unwrap_or_else(|| paths::default_store(&data))
    });
    // IMAP resume state lives in SQLite stores only.
    let mut imap_state_path = None;
    let mut mailbox_caches = HashMap::new();
    if let Some(store_path) = &store_path {
        let target = StoreTarget::parse(store_path);
        let mut store = Database::open(&target, DEFAULT_BUSY_TIMEOUT)?;
        if !args.imap_full {
            for url in &urls {
                let mailbox = url.mailbox();
                let cache = store.mailbox_cache(&mailbox, rules.version(), args.jsonl.is_none())?;
                if let Some(cache) = cache {
                    mailbox_caches.insert(mailbox, cache);
                }
            }
        }
        if let Some(sqlite_path) = target.sqlite_path() {
            imap_state_path = Some(sqlite_path.to_path_buf());
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut name = sqlite_path.as_os_str().to_owned();
                name.push(suffix);
                own_files.push(PathBuf::from(name));
            }
        }
        sinks.push(store.into_sink());
    }

    let progress = Arc::new(Progress::default());
    let list_findings = !args.quiet && !jsonl_to_stdout;
    // Finding lines on a terminal show progress themselves, and redrawing a
    // bar around each of them would slow the scan down.
    let listing_to_terminal = list_findings && std::io::stdout().is_terminal();
    let progress_bar = if args.quiet || listing_to_terminal {
        None
    } else {
        start_progress(progress.clone())
    };
    sinks.push(Box::new(ConsoleSink {
        list_findings,
        summary_to_stdout: !jsonl_to_stdout,
        bar: progress_bar.as_ref().map(|(bar, _)| bar.clone()),
        out: BufWriter::with_capacity(64 * 1024, std::io::stdout()),
        out_is_terminal: std::io::stdout().is_terminal(),
        flows: FlowTally::default(),
    }));

    let mut options = ScanOptions {
        roots: paths,
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
        internal_domains: args.internal_domain.clone(),
        imap: Vec::new(),
    };
    if let Some(password) = password {
        options.imap = sweeps(
            &args,
            urls,
            password,
            imap_state_path.as_deref(),
            mailbox_caches,
            options.limits.max_whole_bytes,
        )?;
    }
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
    if let Some(store_path) = &store_path {
        save_imap_states(&scanner, store_path)?;
    }
    // A mailbox that could not be opened is an unreadable root.
    let failures = scanner.imap_failures();
    for (mailbox, reason) in &failures {
        eprintln!("phiscan: {mailbox}: cannot scan this mailbox: {reason}");
    }
    if !failures.is_empty() {
        return Ok(exit::FAILED);
    }
    Ok(exit_status(&summary, args.fail_on_incomplete))
}

/// Splits the roots into paths and IMAP URLs.
fn split_roots(args: &ScanArgs) -> Result<(Vec<PathBuf>, Vec<ImapUrl>)> {
    let mut paths = Vec::new();
    let mut urls = Vec::new();
    for root in &args.paths {
        match root.to_str().filter(|text| ImapUrl::is_imap(text)) {
            Some(text) => urls.push(ImapUrl::parse(text, args.insecure_plaintext)?),
            None => paths.push(root.clone()),
        }
    }
    if args.insecure_plaintext && urls.is_empty() {
        anyhow::bail!("--insecure-plaintext applies to imap:// mailboxes only, and none was given");
    }
    Ok((paths, urls))
}

/// Reads the IMAP password from the environment, a file or the terminal;
/// never from the command line.
fn read_password(args: &ScanArgs, url: &ImapUrl) -> Result<Password> {
    if let Some(value) = std::env::var_os(&args.password_env).filter(|value| !value.is_empty()) {
        let value = value.into_string().map_err(|_| {
            anyhow::anyhow!(
                "the variable {} does not hold valid UTF-8",
                args.password_env
            )
        })?;
        return Ok(Password::new(value));
    }
    if let Some(path) = &args.password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?;
        warn_if_shared(path);
        let line = text.lines().next().unwrap_or("");
        if line.is_empty() {
            anyhow::bail!("the password file {} is empty", path.display());
        }
        return Ok(Password::new(line.to_string()));
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "no IMAP password: set the variable {} or pass --password-file FILE (there is no terminal to prompt on)",
            args.password_env
        );
    }
    let prompt = format!("IMAP password for {}@{}: ", url.user, url.host);
    let value =
        rpassword::prompt_password(prompt).context("cannot read the password from the terminal")?;
    Ok(Password::new(value))
}

fn warn_if_shared(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the password file is readable by other users; run chmod 600 on it");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Prepares one sweep per mailbox, resuming from the store's state: a
/// message an earlier scan read is recorded again from `caches`, by mailbox,
/// instead of being fetched.
fn sweeps(
    args: &ScanArgs,
    urls: Vec<ImapUrl>,
    password: Password,
    store_path: Option<&std::path::Path>,
    mut caches: HashMap<String, Arc<dyn ItemCache>>,
    max_message_bytes: u64,
) -> Result<Vec<Arc<Sweep>>> {
    let state = store_path
        .map(phiscan_inventory::ImapState::open)
        .transpose()?;
    let retry = RetryPolicy {
        attempts: args.imap_attempts,
        first_delay: Duration::from_millis(args.imap_retry_delay),
        ..RetryPolicy::default()
    };
    let mut sweeps = Vec::new();
    for url in urls {
        let mut prior = MailboxState::new();
        if let Some(state) = state.as_ref().filter(|_| !args.imap_full) {
            for folder in state.load(&url.mailbox())? {
                prior.insert(
                    folder.folder,
                    phiscan_sources::imap::FolderState {
                        uidvalidity: folder.uidvalidity,
                        last_uid: folder.last_uid,
                        pending: folder.pending,
                    },
                );
            }
        }
        let cache = caches.remove(&url.mailbox());
        let account = ImapAccount {
            url,
            password: password.clone(),
            ca_cert: args.ca_cert.clone(),
        };
        sweeps.push(Arc::new(Sweep::new(
            account,
            prior,
            retry.clone(),
            max_message_bytes,
            cache,
        )));
    }
    Ok(sweeps)
}

/// Saves where each IMAP sweep stopped, for the next sweep to resume.
fn save_imap_states(scanner: &Scanner, store_path: &std::path::Path) -> Result<()> {
    let states = scanner.imap_states();
    if states.is_empty() {
        return Ok(());
    }
    let mut store = phiscan_inventory::ImapState::open(store_path)?;
    for (mailbox, folders) in states {
        let folders: Vec<phiscan_inventory::StoredFolder> = folders
            .into_iter()
            .map(|(folder, state)| phiscan_inventory::StoredFolder {
                folder,
                uidvalidity: state.uidvalidity,
                last_uid: state.last_uid,
                pending: state.pending,
            })
            .collect();
        store
            .save(&mailbox, &folders)
            .context("cannot save the IMAP sweep state")?;
    }
    Ok(())
}

/// The exit status for a finished scan.
fn exit_status(summary: &SummaryRecord, fail_on_incomplete: bool) -> u8 {
    if !summary.complete {
        eprintln!("phiscan: the scan was interrupted before every item was scanned");
        return exit::FAILED;
    }
    let incomplete = summary.not_complete();
    if fail_on_incomplete && incomplete > 0 {
        return exit::INCOMPLETE;
    }
    let identified = [Class::Phi, Class::PhiLikely, Class::Pii]
        .iter()
        .any(|class| summary.by_class.get(class).copied().unwrap_or(0) > 0);
    if identified {
        return exit::FINDINGS;
    }
    // Status 0 covers only what was read, so a script that checks only the
    // status would take an unreadable share for a clean one.
    if incomplete > 0 {
        eprintln!(
            "phiscan: no identifier found in what was read, but {}; use --fail-on-incomplete to exit with status 3 when that happens",
            not_examined(incomplete)
        );
    }
    exit::CLEAN
}

/// Returns `N items were not fully examined (see items by coverage)`.
pub(crate) fn not_examined(items: u64) -> String {
    let verb = if items == 1 { "item was" } else { "items were" };
    format!("{items} {verb} not fully examined (see items by coverage)")
}

/// Maximum number of worker threads. Each thread keeps its own regex caches,
/// and a Linux test machine refused to start a thread before reaching 20,000.
pub const MAX_THREADS: usize = 1024;

/// Parses `--threads`: 0 for one thread per core, or 1 to [`MAX_THREADS`].
fn parse_threads(text: &str) -> Result<usize, String> {
    let threads: usize = text
        .parse()
        .map_err(|_| format!("{text} is not a whole number; use 0 for one thread per core"))?;
    if threads > MAX_THREADS {
        return Err(format!(
            "{threads} is more than {MAX_THREADS}; use 0 for one thread per core, or at most {MAX_THREADS}"
        ));
    }
    Ok(threads)
}
