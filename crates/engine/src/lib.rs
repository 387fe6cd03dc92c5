//! The scan pipeline, tying the stages together.
//!
//! ```text
//! walker thread ──entries──► N worker threads ──messages──► writer thread ──► record sinks
//!  (sources::fs)  bounded      (extract + detect +           bounded       (JSON Lines, store,
//!                 channel       classify, per-thread state)   channel        console)
//!                                  ▲
//! IMAP thread ───fetched mail──────┘
//!  (sources::imap) short bounded channel
//! ```
//!
//! The walker enumerates the roots. Each worker owns a [`Matcher`] and its
//! buffers, built once; it opens a file read-only, sniffs it, extracts it into
//! segments, matches each segment, and sends findings in batches, then the
//! item's record. Container members are extracted depth-first on the same
//! worker. One writer thread hands every record to the sinks in order, so the
//! store sees a single writer, and keeps the summary counts.
//!
//! The IMAP thread sweeps each mailbox in turn and hands fetched messages to
//! the same workers. A message whose text or attachments hold PHI is followed
//! by its flow records, one per recipient domain.
//!
//! Every entry ends as an item record with a coverage state; a failing item is
//! recorded and the scan goes on.
//!
//! [`Matcher`]: phiscan_detect::Matcher

mod acl;
mod file_facts;
mod flow;
mod incremental;
mod item;
mod locator_guard;
mod scan;
mod time_format;
mod writer;

pub use flow::InternalDomains;
pub use incremental::SweepContext;
pub use scan::{Progress, ScanError, ScanOptions, Scanner, check_roots};
pub use time_format::rfc3339;
