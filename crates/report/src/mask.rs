//! Masking file and folder names in reports (`--mask-paths`): names can
//! hold patient names, so every name below a scanned root is replaced by a
//! numbered placeholder that keeps the file extension.

use phiscan_inventory::{GroupBy, Inventory};
use std::collections::HashMap;

/// Folder names that never name a person and tell where a file is; they are
/// kept as they are.
const KEPT_NAMES: &[&str] = &[
    "desktop",
    "downloads",
    "documents",
    "temp",
    "tmp",
    "onedrive",
    "dropbox",
    "google drive",
    "my drive",
    "$recycle.bin",
    ".trash",
    "trash",
    "inbox",
    "sent",
    "sent items",
    "drafts",
    "deleted items",
    "archive",
    "users",
    "home",
    "appdata",
    "local",
];

/// Replaces names below the roots with `folder-N` and `file-N.EXT`,
/// numbering each distinct name once per report.
pub struct PathMasker {
    roots: Vec<String>,
    names: HashMap<String, String>,
    folders: usize,
    files: usize,
}

impl PathMasker {
    /// Creates a masker that keeps the given roots as they are.
    pub fn new(roots: &[String]) -> PathMasker {
        let mut roots: Vec<String> = roots
            .iter()
            .map(|root| root.trim_end_matches(['/', '\\']).to_string())
            .collect();
        roots.sort_by_key(|root| std::cmp::Reverse(root.len()));
        PathMasker {
            roots,
            names: HashMap::new(),
            folders: 0,
            files: 0,
        }
    }

    /// Masks an item location, whose last name is a file's.
    pub fn mask(&mut self, location: &str) -> String {
        self.mask_location(location, true)
    }

    /// Masks an inventory location, whose last name is a folder's (or a
    /// mailbox folder's).
    pub fn mask_folder(&mut self, location: &str) -> String {
        self.mask_location(location, false)
    }

    /// Masks one location; the part that is a root stays. A name followed by
    /// `!` is a container file's.
    fn mask_location(&mut self, location: &str, last_is_file: bool) -> String {
        let root = self
            .roots
            .iter()
            .find(|root| {
                location == root.as_str()
                    || (location.starts_with(root.as_str())
                        && location[root.len()..].starts_with(['/', '\\', '!']))
            })
            .cloned()
            .unwrap_or_default();
        let rest = &location[root.len()..];
        let mut out = root;
        let mut component = String::new();
        let chars: Vec<char> = rest.chars().collect();
        for (index, ch) in chars.iter().enumerate() {
            if matches!(ch, '/' | '\\' | '!') {
                if !component.is_empty() {
                    let is_file = *ch == '!';
                    out.push_str(&self.mask_name(&component, is_file));
                    component.clear();
                }
                out.push(*ch);
            } else {
                component.push(*ch);
            }
            if index + 1 == chars.len() && !component.is_empty() {
                out.push_str(&self.mask_name(&component, last_is_file));
                component.clear();
            }
        }
        out
    }

    fn mask_name(&mut self, name: &str, is_file: bool) -> String {
        let lower = name.to_lowercase();
        if KEPT_NAMES.contains(&lower.as_str())
            || lower.starts_with("onedrive - ")
            || name == "."
            || name == ".."
        {
            return name.to_string();
        }
        let key = format!("{}{name}", if is_file { "f:" } else { "d:" });
        if let Some(masked) = self.names.get(&key) {
            return masked.clone();
        }
        let masked = if is_file {
            self.files += 1;
            match extension(name) {
                Some(ext) => format!("file-{}.{ext}", self.files),
                None => format!("file-{}", self.files),
            }
        } else {
            self.folders += 1;
            format!("folder-{}", self.folders)
        };
        self.names.insert(key, masked.clone());
        masked
    }

    /// Masks every location in an inventory. Under `--group-by file` a
    /// location is a file, so it keeps its extension.
    pub fn mask_inventory(&mut self, inventory: &mut Inventory) {
        let files = inventory.group_by == GroupBy::File.to_string();
        let mask_location = |masker: &mut PathMasker, location: &str| {
            if files {
                masker.mask(location)
            } else {
                masker.mask_folder(location)
            }
        };
        let mut rows: Vec<&mut phiscan_inventory::LocationRow> =
            inventory.locations.iter_mut().collect();
        for row in rows.iter_mut() {
            row.location = mask_location(self, &row.location);
            row.copies_in = row
                .copies_in
                .iter()
                .map(|other| mask_location(self, other))
                .collect();
        }
        for set in &mut inventory.copies {
            set.items = set.items.iter().map(|item| self.mask(item)).collect();
            set.locations = set
                .locations
                .iter()
                .map(|other| mask_location(self, other))
                .collect();
        }
        for flow in &mut inventory.flows {
            flow.from = mask_location(self, &flow.from);
        }
        for gap in &mut inventory.gaps {
            gap.location = self.mask(&gap.location);
        }
    }
}

/// Returns a short alphanumeric extension, such as `xlsx`.
fn extension(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    let plausible = !stem.is_empty()
        && (1..=5).contains(&ext.len())
        && ext.chars().all(|ch| ch.is_ascii_alphanumeric());
    plausible.then_some(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_below_roots_are_numbered() {
        let mut masker = PathMasker::new(&["share".to_string()]);
        assert_eq!(
            masker.mask("share/Patients/MRN 6293186/Maria Alvarez.docx"),
            "share/folder-1/folder-2/file-1.docx"
        );
        assert_eq!(masker.mask_folder("share/Patients"), "share/folder-1");
        assert_eq!(masker.mask("share/Patients/x"), "share/folder-1/file-2");
        assert_eq!(
            masker.mask("share/Desktop/mail.pst!/Inbox/0001"),
            "share/Desktop/file-3.pst!/Inbox/file-4"
        );
        assert_eq!(masker.mask("share"), "share");
    }
}
