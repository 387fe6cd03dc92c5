//! Incremental sweeps: reusing the records of files that did not change.
//!
//! Before a worker opens a top-level file, it looks the file up in the
//! scanner's [`ItemCache`]. A file whose location, size, modification time and file id
//! match an earlier scan under the same rules is not read: its earlier item,
//! member and finding records are sent again, marked `reused`. A file at a
//! new location whose size and file name match an earlier file is read once
//! to compute its content digest. When the digest matches, the file was moved
//! or copied, and the earlier records are sent with the new location, so the
//! file is hashed but not extracted or matched.

use crate::item::open_read_only;
use crate::scan::Scanner;
use crate::writer::Sender;
use crate::writer::{FinishedItem, Message, ReusedItem};
use phiscan_core::Role;
use phiscan_core::cache::{CachedFile, FileKey, ItemCache};
use phiscan_core::location::{MEMBER_SEPARATOR, os_str_to_text, path_to_location};
use phiscan_core::records::ItemMeta;
use phiscan_detect::PeopleCounter;
use phiscan_sources::{Entry, EntryKind};
use std::io::Read;
use std::sync::Arc;

/// The sweep context of a scan: its name, the interrupted scan it resumes,
/// and the cache of earlier results.
#[derive(Clone, Default)]
pub struct SweepContext {
    /// Name of the sweep configuration, written to the scan record.
    pub name: Option<String>,
    /// Id of the interrupted scan this one resumes, written to the scan record.
    pub resumed_from: Option<String>,
    /// Earlier results to reuse; None reads every file.
    pub cache: Option<Arc<dyn ItemCache>>,
}

impl Scanner {
    /// Makes the scan a sweep: records its name and resumed scan, and reuses
    /// earlier results from the cache.
    pub fn with_sweep(mut self, sweep: SweepContext) -> Scanner {
        self.sweep = sweep;
        self
    }

    /// Sends the file facts of a regular file to the writer, then looks the
    /// entry up in the cache. Returns true when the entry's records
    /// were sent from the cache and the file must not be read.
    pub(crate) fn before_entry(&self, entry: &Entry, sender: &Sender<Message>) -> bool {
        if entry.kind != EntryKind::File || entry.excluded.is_some() {
            return false;
        }
        let location = path_to_location(&entry.path);
        let meta = self.facts.facts(entry);
        let Some(cache) = &self.sweep.cache else {
            let _ = sender.send(Message::Meta(location, Box::new(meta)));
            return false;
        };

        let key = FileKey {
            location: &location,
            size: entry.meta.size,
            modified_ns: meta.modified_ns,
            file_id: meta.file_id.as_deref(),
            meta: &meta,
        };
        if let Some(earlier) = cache.unchanged(&key) {
            tracing::trace!(location = %location, "unchanged since the last sweep; reusing its results");
            self.send_cached(earlier, &location, &location, meta, 0, sender);
            return true;
        }

        let name = entry
            .path
            .file_name()
            .map(os_str_to_text)
            .unwrap_or_default();
        if entry.meta.size > 0 && cache.may_be_copy(entry.meta.size, &name) {
            match self.content_digest(entry) {
                Ok(digest) => {
                    if let Some(earlier) = cache.by_content(&digest, entry.meta.size, &name) {
                        let old = earlier
                            .items
                            .last()
                            .map(|item| item.record.location.clone());
                        let old = old.unwrap_or_default();
                        tracing::trace!(location = %location, "moved or copied file; reusing the results of the same content");
                        self.send_cached(earlier, &old, &location, meta, entry.meta.size, sender);
                        return true;
                    }
                }
                Err(err) => {
                    tracing::debug!(location = %location, error = %err, "cannot hash a possibly moved file; reading it");
                }
            }
        }
        let _ = sender.send(Message::Meta(location, Box::new(meta)));
        false
    }

    /// Computes the content digest the same way the item worker does.
    fn content_digest(&self, entry: &Entry) -> std::io::Result<String> {
        let mut file = open_read_only(&entry.path, self.options.walk.follow_symlinks)?;
        let mut hasher = blake3::Hasher::new_keyed(&self.content_key);
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            hasher.update(&buffer[..read]);
        }
        Ok(hasher.finalize().to_hex()[..32].to_string())
    }

    /// Sends earlier records again, moved from `old` to `new` when the file
    /// was found by content, with the file's current facts on its own item.
    pub(crate) fn send_cached(
        &self,
        earlier: CachedFile,
        old: &str,
        new: &str,
        meta: ItemMeta,
        bytes_read: u64,
        sender: &Sender<Message>,
    ) {
        let CachedFile { items, mut flows } = earlier;
        let count = items.len();
        for (index, cached) in items.into_iter().enumerate() {
            let mut record = cached.record;
            let mut people = PeopleCounter::default();
            let mut findings = cached.findings;
            for finding in &mut findings {
                finding.location = relocate(&finding.location, old, new);
                // The stored person flag already says whether the value
                // identifies one patient, as the scan that read it decided.
                if cached.people.is_none()
                    && finding.person
                    && let Some(fingerprint) = parse_fingerprint(&finding.fingerprint)
                {
                    people.add(finding.category, Role::Direct, fingerprint);
                }
            }
            for (category, hex) in cached.people.iter().flatten() {
                if let Some(fingerprint) = parse_fingerprint(hex) {
                    people.add(*category, Role::Direct, fingerprint);
                }
            }
            record.location = relocate(&record.location, old, new);
            record.path = relocate(&record.path, old, new);
            record.parent = record.parent.map(|parent| relocate(&parent, old, new));
            let own_item = index + 1 == count;
            let mut origin = cached.origin;
            // A store lists an unchanged item by its row's number only when
            // the row contains the file's current facts. After a `chmod`, the
            // item needs a reference row with the new facts.
            if own_item
                && let Some(origin) = &mut origin
                && !same_file_facts(&record.meta, &meta)
            {
                origin.ordinal = None;
            }
            record.meta = if own_item {
                ItemMeta {
                    reused: true,
                    ..meta.clone()
                }
            } else {
                ItemMeta {
                    reused: true,
                    ..ItemMeta::default()
                }
            };
            let finished = FinishedItem {
                record,
                people,
                bytes_read: if own_item { bytes_read } else { 0 },
                content_read: false,
                mark: None,
            };
            let _ = sender.send(Message::Reused(Box::new(ReusedItem {
                finished,
                findings,
                origin,
            })));
        }
        // Messages sent by email keep their flows, so a sweep's inventory
        // and report still show where PHI went.
        if !flows.is_empty() {
            for flow in &mut flows {
                flow.location = relocate(&flow.location, old, new);
            }
            let _ = sender.send(Message::Flows(flows));
        }
    }
}

/// Returns true when two records describe the file on disk alike, whether
/// or not their results were reused.
fn same_file_facts(a: &ItemMeta, b: &ItemMeta) -> bool {
    a.mode == b.mode
        && a.uid == b.uid
        && a.gid == b.gid
        && a.file_id == b.file_id
        && a.modified_ns == b.modified_ns
        && a.exposure == b.exposure
        && a.places == b.places
}

/// Replaces the location prefix `old` by `new`, for the file itself and its
/// members (`old!/inner`).
fn relocate(location: &str, old: &str, new: &str) -> String {
    if old == new {
        return location.to_string();
    }
    match location.strip_prefix(old) {
        Some("") => new.to_string(),
        Some(rest) if rest.starts_with(MEMBER_SEPARATOR) => format!("{new}{rest}"),
        _ => location.to_string(),
    }
}

fn parse_fingerprint(hex: &str) -> Option<[u8; 16]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (index, pair) in bytes.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[index] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocate_moves_file_and_members_only() {
        assert_eq!(relocate("a/x.zip", "a/x.zip", "b/x.zip"), "b/x.zip");
        assert_eq!(
            relocate("a/x.zip!/in/y.csv", "a/x.zip", "b/x.zip"),
            "b/x.zip!/in/y.csv"
        );
        assert_eq!(relocate("a/x.zip2", "a/x.zip", "b/x.zip"), "a/x.zip2");
    }

    #[test]
    fn file_facts_compare_without_reuse_flag() {
        let read = ItemMeta {
            mode: Some("0640".into()),
            uid: Some(1000),
            file_id: Some("2049:77".into()),
            modified_ns: Some(5),
            exposure: vec!["group".into()],
            ..ItemMeta::default()
        };
        let reused = ItemMeta {
            reused: true,
            ..read.clone()
        };
        assert!(same_file_facts(&read, &reused));
        let chmod = ItemMeta {
            mode: Some("0644".into()),
            exposure: vec!["world".into(), "group".into()],
            ..read.clone()
        };
        assert!(!same_file_facts(&read, &chmod));
        let moved_to_desktop = ItemMeta {
            places: vec!["desktop".into()],
            ..read.clone()
        };
        assert!(!same_file_facts(&read, &moved_to_desktop));
    }

    #[test]
    fn fingerprint_hex_parses() {
        let parsed = parse_fingerprint(&"0a".repeat(16)).unwrap();
        assert_eq!(parsed, [10u8; 16]);
        assert!(parse_fingerprint("0a").is_none());
        assert!(parse_fingerprint(&"zz".repeat(16)).is_none());
    }
}
