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

pub mod cache;
pub mod model;
pub mod read;
pub mod store;

pub use cache::{EarlierResults, SqliteCache};
pub use model::{PersonKey, ScanData, ScanInfo};
pub use store::{Store, StoreError};
