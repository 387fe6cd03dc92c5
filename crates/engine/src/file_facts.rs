//! Facts about where and how a file is kept: permission bits, owner, file
//! id, readers besides the owner, and risky places (desktop, downloads, temp
//! folders, recycle bins, sync folders, removable media).
//!
//! Readers come from the POSIX permission bits, except where the file has a
//! Windows access control list: on Windows itself, and on Windows shares
//! mounted on Linux with the cifs client, whose permission bits are made up
//! from mount options.

use phiscan_core::records::ItemMeta;
use phiscan_sources::{Entry, EntryKind};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
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

/// Reads file facts for walk entries. Remembers the facts of each device,
/// so `/sys` and `statfs` are read once per device.
#[derive(Default)]
pub(crate) struct FactReader {
    devices: Mutex<HashMap<u64, DeviceFacts>>,
}

/// Facts about a device, read from the first file seen on it.
#[derive(Clone, Copy)]
struct DeviceFacts {
    removable: bool,
    /// The device is a Windows share mounted with the Linux cifs client,
    /// which serves each file's security descriptor.
    cifs: bool,
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
            places: places_in_folder_of(&entry.path),
            reused: false,
        };
        if entry.kind != EntryKind::File {
            return facts;
        }
        if let Some((device, _)) = meta.file_id {
            let device_facts = self.device_facts(device, &entry.path);
            if device_facts.removable {
                facts.places.push("removable".into());
            }
            // Only Linux detects cifs mounts, so elsewhere `cifs` is false.
            if device_facts.cifs {
                #[cfg(target_os = "linux")]
                if let Some(readers) = acl_exposure(&entry.path, crate::acl::cifs::read_descriptor)
                {
                    facts.exposure = readers;
                }
            }
        }
        #[cfg(windows)]
        if let Some(readers) = acl_exposure(&entry.path, crate::acl::windows::read_descriptor) {
            facts.exposure = readers;
        }
        facts
    }

    fn device_facts(&self, device: u64, path: &Path) -> DeviceFacts {
        let mut known = self
            .devices
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *known.entry(device).or_insert_with(|| DeviceFacts {
            removable: device_is_removable(device, path),
            cifs: device_is_cifs(path),
        })
    }
}

/// Returns the readers granted by a file's access control list, or `None`
/// when the descriptor cannot be read or parsed, so that the caller keeps
/// the exposure it has.
#[cfg(any(target_os = "linux", windows))]
fn acl_exposure(
    path: &Path,
    read_descriptor: fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Option<Vec<String>> {
    let location = || {
        let location = phiscan_core::location::path_to_location(path);
        phiscan_core::location::sanitize_for_terminal(&location).into_owned()
    };
    let descriptor = match read_descriptor(path) {
        Ok(descriptor) => descriptor,
        Err(error) => {
            tracing::debug!(location = %location(), %error, "cannot read the access control list; exposure comes from the permission bits");
            return None;
        }
    };
    match crate::acl::readers(&descriptor) {
        Ok(readers) => Some(crate::acl::exposure(&readers)),
        Err(error) => {
            tracing::debug!(location = %location(), %error, "invalid security descriptor; exposure comes from the permission bits");
            None
        }
    }
}

/// Returns true when the file system holding `path` is a Windows share
/// mounted with the cifs client.
fn device_is_cifs(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        crate::acl::cifs::is_cifs_mount(path)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        false
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

/// Returns [`places_of`] a path, remembering the result for the last folder
/// on each thread: the walk hands files over folder by folder, and the
/// places depend on the folder alone.
fn places_in_folder_of(path: &Path) -> Vec<String> {
    thread_local! {
        static LAST_FOLDER: RefCell<Option<(OsString, Vec<String>)>> = const { RefCell::new(None) };
    }
    let folder = path.parent().map(Path::as_os_str).unwrap_or_default();
    LAST_FOLDER.with_borrow_mut(|last| {
        if let Some((known, places)) = last
            && known.as_os_str() == folder
        {
            return places.clone();
        }
        let places = places_of(path);
        *last = Some((folder.to_os_string(), places.clone()));
        places
    })
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

    #[cfg(unix)]
    #[test]
    fn local_file_keeps_mode_exposure() {
        use std::os::unix::fs::PermissionsExt;

        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("roster.csv");
        std::fs::write(&path, "id\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let entry = Entry {
            meta: phiscan_sources::FileMeta::from_metadata(&std::fs::metadata(&path).unwrap()),
            path,
            root: 0,
            depth: 1,
            kind: EntryKind::File,
            excluded: None,
        };
        let reader = FactReader::default();
        assert_eq!(reader.facts(&entry).exposure, vec!["world", "group"]);
        assert_eq!(reader.devices.lock().unwrap().len(), 1);
        assert!(
            !reader
                .devices
                .lock()
                .unwrap()
                .values()
                .any(|facts| facts.cifs)
        );
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
