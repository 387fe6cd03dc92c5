//! The incremental cache interface: earlier results a sweep may reuse
//! instead of reading a file again.
//!
//! The scan pipeline asks an [`ItemCache`] before it opens a top-level file.
//! The inventory store implements it over the records of earlier scans, so
//! the pipeline does not depend on the store.

use crate::records::{FindingRecord, FlowRecord, ItemMeta, ItemRecord};
use std::hash::{Hash, Hasher};

/// What identifies an unchanged file between two scans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileKey<'a> {
    /// The file's location, as the item record has it.
    pub location: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub modified_ns: Option<i64>,
    /// Device and inode as `DEV:INODE`, when the platform reports them.
    pub file_id: Option<&'a str>,
    /// The file's current facts (permissions, owner, exposure, places).
    pub meta: &'a ItemMeta,
}

/// Digest of the facts a stored item row keeps about its file besides size,
/// modification time and file id: permission bits, owner, group, exposure
/// and places, the last two as the JSON text the store writes. Equal facts
/// give equal digests within one process, so a cache can compare a stored
/// row with the file on disk without reading the whole row.
pub fn facts_digest(
    mode: Option<&str>,
    uid: Option<u32>,
    gid: Option<u32>,
    exposure_json: &str,
    places_json: &str,
) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (mode, uid, gid, exposure_json, places_json).hash(&mut hasher);
    hasher.finish()
}

/// Computes the [`facts_digest`] of an item's facts.
pub fn meta_digest(meta: &ItemMeta) -> u64 {
    let exposure = serde_json::to_string(&meta.exposure).unwrap_or_default();
    let places = serde_json::to_string(&meta.places).unwrap_or_default();
    facts_digest(meta.mode.as_deref(), meta.uid, meta.gid, &exposure, &places)
}

/// One earlier item record with its findings.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedItem {
    pub record: ItemRecord,
    pub findings: Vec<FindingRecord>,
    /// The scan and location whose stored rows hold the item and its
    /// findings, so a store can refer to them instead of copying them.
    pub origin: Option<ItemOrigin>,
    /// The item's stored person fingerprints (category and hex), when they
    /// may differ from its findings' `person` flags: a whole name put
    /// together from name parts is counted without a finding of its own.
    /// None means the flags suffice.
    pub people: Option<Vec<(crate::Category, String)>>,
}

/// The stored rows an item was first recorded as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemOrigin {
    pub scan_id: String,
    pub location: String,
    /// Number of the item's row within its scan, set only when the cached
    /// record's file facts are those stored in that row. A store can then
    /// list an unchanged item by number instead of writing a reference row.
    pub ordinal: Option<u64>,
}

/// The earlier records of one top-level file: its container members first,
/// in the order they were recorded, and the file's own item last, with the
/// email flows of the messages in it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CachedFile {
    pub items: Vec<CachedItem>,
    pub flows: Vec<FlowRecord>,
}

/// A source of earlier results, keyed by the rule set's version: an
/// implementation only returns results recorded under the rules in use.
///
/// Lookups that fail (a database error) return `None`, so the file is read
/// again; a cache never makes a scan miss an item.
pub trait ItemCache: Send + Sync {
    /// Returns the earlier records of the file at `key.location` when its
    /// size, modification time and file id are unchanged.
    fn unchanged(&self, key: &FileKey<'_>) -> Option<CachedFile>;

    /// Returns true when an earlier top-level file with this size and file
    /// name exists elsewhere, so hashing this file may find it was moved or
    /// copied.
    fn may_be_copy(&self, size: u64, name: &str) -> bool;

    /// Returns the earlier records of a top-level file with this content
    /// digest, size and file name, wherever it was.
    fn by_content(&self, content_id: &str, size: u64, name: &str) -> Option<CachedFile>;

    /// Returns true when an earlier scan recorded the mail message at
    /// `location` in a way that may be reused. RFC 3501 requires a UID under
    /// the same UIDVALIDITY to name the same message, so the location alone
    /// identifies it.
    fn has_message(&self, location: &str) -> bool;

    /// Returns the earlier records of the mail message at `location`: its
    /// attachments first and the message's own item last, with its flows.
    fn message(&self, location: &str) -> Option<CachedFile>;
}
