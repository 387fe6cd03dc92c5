//! Facts about where and how a file is kept: permission bits, owner, file
//! id, readers besides the owner, and risky places (desktop, downloads, temp
//! folders, recycle bins, sync folders, removable media).

use phiscan_core::records::ItemMeta;
use phiscan_sources::{Entry, EntryKind};
use std::collections::HashMap;
use std::path::{Component, Path};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

/// Folder names that mark a risky place, compared without case. The first
/// match on a path wins for each place.
const PLACE_FOLDERS: &[(&str, &str)] = &[
    ("desktop", "desktop"),
    ("downloads", "downloads"),
    ("tmp", "temp"),
    ("temp", "temp"),
    ("$recycle.bin", "recycle-bin"),
    ("recycler", "recycle-bin"),
    ("recycled", "recycle-bin"),
    (".trash", "recycle-bin"),
    ("dropbox", "sync-dropbox"),
    ("google drive", "sync-google-drive"),
    ("googledrive", "sync-google-drive"),
    ("my drive", "sync-google-drive"),
    ("icloud drive", "sync-icloud"),
    ("iclouddrive", "sync-icloud"),
];

/// Reads file facts for walk entries; remembers per device whether it is
/// removable, so `/sys` is read once per device.
#[derive(Default)]
pub(crate) struct FactReader {
    removable: Mutex<HashMap<u64, bool>>,
}

impl FactReader {
    /// Returns the facts of a regular file entry.
    pub(crate) fn facts(&self, entry: &Entry) -> ItemMeta {
        let meta = &entry.meta;
        let mut facts = ItemMeta {
            mode: meta.mode.map(|mode| format!("{:04o}", mode & 0o7777)),
            uid: meta.uid,
            gid: meta.gid,
            file_id: meta.file_id.map(|(dev, inode)| format!("{dev}:{inode}")),
            modified_ns: meta.modified.and_then(nanos_since_epoch),
            exposure: exposure_from_mode(meta.mode),
            places: places_of(&entry.path),
            reused: false,
        };
        let device = meta.file_id.map(|(dev, _)| dev);
        if entry.kind == EntryKind::File
            && device.is_some_and(|dev| self.is_removable(dev, &entry.path))
        {
            facts.places.push("removable".into());
        }
        facts
    }

    fn is_removable(&self, device: u64, path: &Path) -> bool {
        let mut known = self
            .removable
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *known
            .entry(device)
            .or_insert_with(|| device_is_removable(device, path))
    }
}

fn nanos_since_epoch(at: std::time::SystemTime) -> Option<i64> {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).ok(),
        Err(before) => i64::try_from(before.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// Returns who besides the owner may read a file with these POSIX bits.
///
/// NOTE: only the file's own bits are read. A world-readable file inside a
/// folder that others cannot enter is reported as `world` all the same, and
/// POSIX ACLs (`getfacl`) are not read.
pub(crate) fn exposure_from_mode(mode: Option<u32>) -> Vec<String> {
    let Some(mode) = mode else {
        // TODO: read the Windows access control list (Everyone, Authenticated
        // Users, Users entries) where the platform has no POSIX bits.
        return Vec::new();
    };
    let mut readers = Vec::new();
    if mode & 0o004 != 0 {
        readers.push("world".to_string());
    }
    if mode & 0o040 != 0 {
        readers.push("group".to_string());
    }
    readers
}

/// Returns the risky places a path lies in, judged from its folder names.
pub(crate) fn places_of(path: &Path) -> Vec<String> {
    let absolute = phiscan_core::location::absolute_path(path);
    let folders: Vec<String> = absolute
        .parent()
        .map(|parent| {
            parent
                .components()
                .filter_map(|component| match component {
                    Component::Normal(name) => Some(name.to_string_lossy().to_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut places: Vec<String> = Vec::new();
    let mut add = |place: &str| {
        if !places.iter().any(|known| known == place) {
            places.push(place.to_string());
        }
    };
    for (index, folder) in folders.iter().enumerate() {
        if let Some((_, place)) = PLACE_FOLDERS.iter().find(|(name, _)| name == folder) {
            add(place);
        }
        // OneDrive folders are named `OneDrive` or `OneDrive - Practice Name`;
        // Linux desktops keep the trash in ~/.local/share/Trash and on other
        // volumes in .Trash-UID.
        if folder == "onedrive" || folder.starts_with("onedrive - ") {
            add("sync-onedrive");
        }
        if folder.starts_with(".trash-")
            || (folder == "trash" && index > 0 && folders[index - 1] == "share")
        {
            add("recycle-bin");
        }
        if folder == "var" && folders.get(index + 1).is_some_and(|next| next == "tmp") {
            add("temp");
        }
    }
    places
}

/// Returns true when the block device holding a file is removable (USB
/// sticks, SD cards) or mounted where desktops mount removable media.
fn device_is_removable(device: u64, path: &Path) -> bool {
    let absolute = phiscan_core::location::absolute_path(path);
    if absolute.starts_with("/media") || absolute.starts_with("/run/media") {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        let (major, minor) = (libc::major(device), libc::minor(device));
        // A partition's own folder has no `removable` file; its disk's
        // folder, one level up, has it.
        let folder = std::path::PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
        for candidate in [folder.join("removable"), folder.join("../removable")] {
            if let Ok(text) = std::fs::read_to_string(&candidate) {
                return text.trim() == "1";
            }
        }
        false
    }
    #[cfg(not(target_os = "linux"))]
    {
        // TODO: ask the platform (GetDriveTypeW on Windows, DiskArbitration
        // on macOS); only the mount folder is judged there.
        let _ = device;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_bits_give_readers() {
        assert_eq!(exposure_from_mode(Some(0o100644)), vec!["world", "group"]);
        assert_eq!(exposure_from_mode(Some(0o640)), vec!["group"]);
        assert!(exposure_from_mode(Some(0o600)).is_empty());
        assert!(exposure_from_mode(None).is_empty());
    }

    #[test]
    fn folder_names_give_places() {
        let cases: &[(&str, &[&str])] = &[
            ("/home/ana/Desktop/list.xlsx", &["desktop"]),
            ("/home/ana/Downloads/a/b.pdf", &["downloads"]),
            ("/tmp/x.csv", &["temp"]),
            ("/var/tmp/x.csv", &["temp"]),
            ("C/Users/ana/AppData/Local/Temp/x.csv", &["temp"]),
            ("/mnt/c/$Recycle.Bin/S-1-5/$R1.docx", &["recycle-bin"]),
            ("/home/ana/.local/share/Trash/files/a.txt", &["recycle-bin"]),
            ("/media/usb/.Trash-1000/files/a.txt", &["recycle-bin"]),
            (
                "/home/ana/OneDrive - Valley Clinic/a.txt",
                &["sync-onedrive"],
            ),
            (
                "/home/ana/Dropbox/Desktop/a.txt",
                &["sync-dropbox", "desktop"],
            ),
            (
                "/Volumes/GoogleDrive/My Drive/a.txt",
                &["sync-google-drive"],
            ),
            ("/srv/share/Notes/a.txt", &[]),
            ("/srv/share/Desktop.txt", &[]),
        ];
        for (path, expected) in cases {
            assert_eq!(places_of(Path::new(path)), *expected, "{path}");
        }
    }

    #[test]
    fn media_mounts_are_removable() {
        assert!(device_is_removable(0, Path::new("/media/usb/a.txt")));
        assert!(device_is_removable(
            0,
            Path::new("/run/media/ana/STICK/a.txt")
        ));
    }
}
