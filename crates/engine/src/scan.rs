//! Scan configuration and the pipeline run.

use crate::item::Worker;
use crate::writer::{Message, Writer};
use phiscan_core::location::path_to_location;
use phiscan_core::records::{Record, RecordSink, ScanRecord, SinkError, SummaryRecord};
use phiscan_detect::{Fingerprinter, RuleSet};
use phiscan_extract::Limits;
use phiscan_sources::imap::{MailEvent, MailboxState, Sweep};
use phiscan_sources::{WalkEvent, WalkOptions, Walker};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Entries and messages that may wait in each channel; bounds memory when
/// one stage is slower than the next.
const CHANNEL_CAPACITY: usize = 1024;

/// Walk entries that may wait for the workers in a sweep. The workers wait
/// for the cache of earlier results, which loads while the walk starts, so a
/// deeper queue lets the walker list and examine files meanwhile. It raised
/// the peak memory of a second sweep over 100,000 files by about 20 MB.
const SWEEP_CHANNEL_CAPACITY: usize = 65_536;

/// Walk entries sent to the workers at a time.
const ENTRY_BATCH: usize = 16;

/// What to scan and how.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    pub roots: Vec<PathBuf>,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    pub walk: WalkOptions,
    pub limits: Limits,
    /// Add raw values to finding records (terminal and JSON Lines only).
    pub show_values: bool,
    /// Findings below this confidence (0-100) are dropped.
    pub min_confidence: u8,
    /// Wall-clock time one item may take before it is recorded as partial.
    pub item_timeout: Duration,
    /// The practice's own mail domains; flows to other domains are external.
    pub internal_domains: Vec<String>,
    /// Mailboxes on IMAP servers to sweep, after or alongside the roots.
    pub imap: Vec<Arc<Sweep>>,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            roots: Vec::new(),
            threads: 0,
            walk: WalkOptions::default(),
            limits: Limits::default(),
            show_values: false,
            min_confidence: 0,
            item_timeout: Duration::from_secs(300),
            internal_domains: Vec::new(),
            imap: Vec::new(),
        }
    }
}

/// Counters a progress display can poll while a scan runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub items: AtomicU64,
    pub bytes: AtomicU64,
    pub findings: AtomicU64,
}

/// A scan that could not run, or whose output failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(
        "{path}: cannot scan this root: {message}; nothing was scanned, so check the path or leave it out and run again"
    )]
    Root { path: String, message: String },
    #[error(transparent)]
    Pattern(#[from] phiscan_sources::fs::PatternError),
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    #[error("output failed: {0}")]
    Output(SinkError),
}

/// A configured scanner: rules, key and options.
pub struct Scanner {
    pub(crate) rules: Arc<RuleSet>,
    pub(crate) fingerprinter: Fingerprinter,
    pub(crate) content_key: [u8; 32],
    pub(crate) internal_domains: crate::InternalDomains,
    pub(crate) options: ScanOptions,
    /// IMAP messages whose records were written.
    mail_done: crate::writer::MailDone,
    pub(crate) facts: crate::file_facts::FactReader,
    pub(crate) sweep: crate::incremental::SweepContext,
    /// Matchers for segments of one item matched on several threads.
    pub(crate) matchers: crate::item::MatcherPool,
    /// Masked forms of the headers, labels and names that locators take from content.
    pub(crate) locator_guard: crate::locator_guard::LocatorGuard,
}

impl Scanner {
    /// Creates a scanner. `key` is the installation's secret fingerprint key.
    pub fn new(rules: Arc<RuleSet>, key: &[u8; 32], mut options: ScanOptions) -> Scanner {
        // Two chunks of a large plain-text file per thread keep every
        // thread busy while the others finish their share. The cap bounds
        // the memory of each large file on a machine with many cores.
        let threads = worker_threads(options.threads);
        if threads > 1 {
            options.limits.parallel_chunks = (2 * threads).min(MAX_PARALLEL_CHUNKS);
        }
        Scanner {
            rules,
            fingerprinter: Fingerprinter::new(key),
            content_key: blake3::derive_key("phiscan 2026 content id", key),
            internal_domains: crate::InternalDomains::new(&options.internal_domains),
            options,
            mail_done: Default::default(),
            facts: Default::default(),
            sweep: Default::default(),
            matchers: Default::default(),
            locator_guard: Default::default(),
        }
    }

    /// The rule set in use.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Returns the IMAP mailboxes that could not be read at all, with the reason.
    pub fn imap_failures(&self) -> Vec<(String, String)> {
        self.options
            .imap
            .iter()
            .filter_map(|sweep| sweep.failure().map(|reason| (sweep.mailbox(), reason)))
            .collect()
    }

    /// Returns the state each IMAP sweep leaves after [`Scanner::run`]: by mailbox,
    /// the folders with their UIDVALIDITY, highest UID and the UIDs still to fetch.
    pub fn imap_states(&self) -> Vec<(String, MailboxState)> {
        let done = self.mail_done.lock().unwrap_or_else(|e| e.into_inner());
        self.options
            .imap
            .iter()
            .enumerate()
            .map(|(index, sweep)| {
                let mine: HashSet<(String, u32)> = done
                    .iter()
                    .filter(|(sweep, _, _)| *sweep == index)
                    .map(|(_, folder, uid)| (folder.clone(), *uid))
                    .collect();
                (sweep.mailbox(), sweep.state_after(&mine))
            })
            .collect()
    }

    /// Runs the scan, handing every record to `sinks`; returns the summary.
    ///
    /// Setting `cancel` stops the scan at the next item boundary; the summary
    /// then says the scan is not complete.
    pub fn run(
        &self,
        sinks: Vec<Box<dyn RecordSink>>,
        progress: Arc<Progress>,
        cancel: Arc<AtomicBool>,
    ) -> Result<SummaryRecord, ScanError> {
        check_roots(&self.options.roots)?;
        let walker = Walker::new(self.options.roots.clone(), &self.options.walk)?;
        let threads = worker_threads(self.options.threads);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|index| format!("phiscan-worker-{index}"))
            .build()
            .map_err(|err| ScanError::Threads(err.to_string()))?;

        let started = SystemTime::now();
        let clock = Instant::now();
        let scan = ScanRecord {
            id: uuid::Uuid::new_v4().to_string(),
            started: crate::rfc3339(started),
            roots: self
                .options
                .roots
                .iter()
                .map(|root| path_to_location(root))
                .chain(self.options.imap.iter().map(|sweep| sweep.mailbox()))
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            rules_version: self.rules.version().to_string(),
            host: host_name(),
            sweep: self.sweep.name.clone(),
            resumed_from: self.sweep.resumed_from.clone(),
        };
        let mut writer = Writer::new(
            sinks,
            &scan.id,
            progress,
            cancel.clone(),
            self.mail_done.clone(),
        );
        let forms = writer.finding_forms();
        writer.send(&Record::Scan(scan));
        if writer.failure().is_some() {
            let err = writer.finish(0.0, false).err();
            return Err(ScanError::Output(
                err.unwrap_or_else(|| "output failed".into()),
            ));
        }

        // The walker hands entries over in small batches: one channel
        // operation per file costs a context switch, and a batch small enough
        // still spreads a folder of large files over the workers.
        let entry_capacity = match self.sweep.cache {
            Some(_) => SWEEP_CHANNEL_CAPACITY,
            None => CHANNEL_CAPACITY,
        };
        let (entry_sender, entry_receiver) =
            crossbeam_channel::bounded::<Vec<WalkEvent>>(entry_capacity / ENTRY_BATCH);
        // Fetched messages are held in memory: a short queue bounds it.
        let (mail_sender, mail_receiver) =
            crossbeam_channel::bounded::<(usize, MailEvent)>(threads);
        // Workers send messages in batches of writer::OUTBOX_WEIGHT. While
        // the writer checkpoints the store's log, it takes no batch. With
        // four batches per worker, the workers waited for about 13% of a
        // one-thread scan. With sixteen they keep working.
        let (message_sender, message_receiver) =
            crossbeam_channel::bounded::<Vec<Message>>(MESSAGE_BATCHES_PER_WORKER * threads.max(1));
        let writer_thread = std::thread::Builder::new()
            .name("phiscan-writer".into())
            .spawn(move || {
                for batch in message_receiver {
                    for message in batch {
                        writer.handle(message);
                    }
                }
                writer
            })
            .map_err(|err| ScanError::Threads(err.to_string()))?;

        let walk_complete = AtomicBool::new(true);
        std::thread::scope(|scope| {
            let walk_cancel = &cancel;
            let walk_complete = &walk_complete;
            let walker = &walker;
            scope.spawn(move || {
                let mut batch = Vec::with_capacity(ENTRY_BATCH);
                let mut open = true;
                walker.walk(&mut |event| {
                    if walk_cancel.load(Ordering::Relaxed) {
                        walk_complete.store(false, Ordering::Relaxed);
                        return false;
                    }
                    batch.push(event);
                    if batch.len() >= ENTRY_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(ENTRY_BATCH));
                        open = entry_sender.send(full).is_ok();
                    }
                    open
                });
                if open && !batch.is_empty() {
                    let _ = entry_sender.send(batch);
                }
                drop(entry_sender);
            });

            let mail_cancel = &cancel;
            scope.spawn(move || {
                for (index, sweep) in self.options.imap.iter().enumerate() {
                    if mail_cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    sweep.run(mail_cancel, &mut |event| {
                        mail_sender.send((index, event)).is_ok()
                    });
                }
                drop(mail_sender);
            });

            pool.scope(|pool_scope| {
                for _ in 0..threads {
                    let entries = entry_receiver.clone();
                    let mail = mail_receiver.clone();
                    let sender = crate::writer::Sender::new(message_sender.clone());
                    let cancel = &cancel;
                    pool_scope.spawn(move |_| {
                        let mut worker = Worker::new(&self.rules, forms);
                        self.work(&mut worker, entries, mail, &sender, cancel);
                        let _ = sender.flush();
                    });
                }
            });
        });
        drop(message_sender);

        let writer = writer_thread
            .join()
            .map_err(|_| ScanError::Threads("the writer thread failed".into()))?;
        let complete = walk_complete.load(Ordering::Relaxed) && !cancel.load(Ordering::Relaxed);
        writer
            .finish(clock.elapsed().as_secs_f64(), complete)
            .map_err(ScanError::Output)
    }
}

/// Largest number of chunks of one large text file read before they are
/// matched together: 8 MiB with the default chunk size.
const MAX_PARALLEL_CHUNKS: usize = 8;

/// Batches of messages queued for the writer, per worker thread.
const MESSAGE_BATCHES_PER_WORKER: usize = 16;

/// Returns the number of worker threads for `--threads`: one per core for 0.
fn worker_threads(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Returns an error naming the first root that cannot be read. A command
/// checks its roots before it creates a store or output files.
pub fn check_roots(roots: &[PathBuf]) -> Result<(), ScanError> {
    for root in roots {
        if let Err(err) = std::fs::metadata(root) {
            return Err(ScanError::Root {
                path: path_to_location(root),
                message: describe_io_error(&err),
            });
        }
    }
    Ok(())
}

impl Scanner {
    /// Takes entries and IMAP messages until both queues are closed.
    fn work(
        &self,
        worker: &mut Worker,
        entries: crossbeam_channel::Receiver<Vec<WalkEvent>>,
        mail: crossbeam_channel::Receiver<(usize, MailEvent)>,
        sender: &crate::writer::Sender<Message>,
        cancel: &AtomicBool,
    ) {
        let closed_entries = crossbeam_channel::never();
        let closed_mail = crossbeam_channel::never();
        let mut entries_open = true;
        let mut mail_open = true;
        while entries_open || mail_open {
            let entry_source = if entries_open {
                &entries
            } else {
                &closed_entries
            };
            let mail_source = if mail_open { &mail } else { &closed_mail };
            crossbeam_channel::select! {
                recv(entry_source) -> batch => match batch {
                    Ok(batch) => {
                        for event in batch {
                            if cancel.load(Ordering::Relaxed) {
                                break;
                            }
                            self.process_event(worker, event, sender, cancel);
                            let _ = sender.flush_if_stale();
                        }
                    }
                    Err(_) => entries_open = false,
                },
                recv(mail_source) -> event => match event {
                    Ok((index, event)) if !cancel.load(Ordering::Relaxed) => {
                        self.process_mail(worker, index, event, sender, cancel);
                        let _ = sender.flush_if_stale();
                    }
                    Ok(_) => {}
                    Err(_) => mail_open = false,
                },
            }
        }
    }
}

/// Words an I/O error the way a user reads it.
pub(crate) fn describe_io_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    }
}

fn host_name() -> Option<String> {
    #[cfg(unix)]
    {
        let mut buffer = [0u8; 256];
        // SAFETY: the buffer is valid for its whole length, and gethostname
        // writes at most that many bytes.
        let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
        if result == 0 {
            let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
            return String::from_utf8(buffer[..end].to_vec())
                .ok()
                .filter(|name| !name.is_empty());
        }
        None
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").ok()
    }
}
