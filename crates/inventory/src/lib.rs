//! The inventory store: where scans, items and findings are kept between runs.
//!
//! [`Store`] opens or creates a SQLite database (owner-only permissions, WAL
//! journal, versioned schema with migrations) and implements
//! [`RecordSink`](phiscan_core::records::RecordSink), so a scan's writer
//! thread feeds it records and it inserts them in batched transactions.
//!
//! The store never holds a raw value: finding records are stored with their
//! masked preview and keyed fingerprint, and the `value` field that
//! `--show-values` adds for the terminal is dropped here.

pub mod imap_state;
pub mod store;

pub use imap_state::{ImapState, StoredFolder};
pub use store::{Store, StoreError};
