//! The inventory store: where scans, items and findings are kept between runs.
//!
//! [`Store`] opens or creates a SQLite database (owner-only permissions, WAL
//! journal, versioned schema with migrations) and implements
//! [`RecordSink`](phiscan_core::records::RecordSink), so a scan's writer
//! thread feeds it records and it inserts them in batched transactions.
//!
//! [`Database`] opens a store by name and reads scans back. The name is a
//! SQLite file or a `postgres://` URL for a consolidated PostgreSQL store with
//! the same tables. [`Inventory`] aggregates one scan per location,
//! [`ScanDiff`] compares two scans, and the caches serve earlier results to
//! incremental sweeps.
//!
//! The store never holds a raw value: finding records are stored with their
//! masked preview and keyed fingerprint, and the `value` field that
//! `--show-values` adds for the terminal is dropped here.

pub mod aggregate;
mod blocks;
pub mod cache;
pub mod db;
pub mod diff;
pub mod imap_state;
pub mod lock;
pub mod model;
pub mod postgres;
pub mod ranges;
pub mod read;
pub mod risk;
mod schema;
pub mod store;

pub use aggregate::{GroupBy, Inventory, InventoryOptions, LocationRow, RiskLevel};
pub use cache::{EarlierResults, SqliteCache};
pub use db::{Database, StoreTarget};
pub use diff::{ChangeKind, ScanDiff};
pub use imap_state::{ImapState, StoredFolder};
pub use lock::{LockError, SweepLock};
pub use model::{PersonKey, ScanData, ScanInfo};
pub use store::{Store, StoreError};
