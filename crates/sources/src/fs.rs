//! The filesystem walk.

use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Kind of filesystem object behind an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    /// A symbolic link that was not followed.
    Symlink,
    Fifo,
    Socket,
    BlockDevice,
    CharDevice,
    Other,
}

impl EntryKind {
    /// Returns a phrase for messages, such as `FIFO (named pipe)`.
    pub fn describe(self) -> &'static str {
        match self {
            EntryKind::File => "regular file",
            EntryKind::Directory => "folder",
            EntryKind::Symlink => "symbolic link",
            EntryKind::Fifo => "FIFO (named pipe)",
            EntryKind::Socket => "socket",
            EntryKind::BlockDevice => "block device",
            EntryKind::CharDevice => "character device",
            EntryKind::Other => "special file",
        }
    }
}

/// Metadata of an entry, as far as the platform reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileMeta {
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// Unix permission bits, when known.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Device and inode, which identify a file across renames.
    pub file_id: Option<(u64, u64)>,
}

impl FileMeta {
    /// Reads the metadata fields phiscan records.
    pub fn from_metadata(metadata: &std::fs::Metadata) -> FileMeta {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileMeta {
                size: metadata.len(),
                modified: metadata.modified().ok(),
                mode: Some(metadata.mode()),
                uid: Some(metadata.uid()),
                gid: Some(metadata.gid()),
                file_id: Some((metadata.dev(), metadata.ino())),
            }
        }
        #[cfg(not(unix))]
        {
            FileMeta {
                size: metadata.len(),
                modified: metadata.modified().ok(),
                ..FileMeta::default()
            }
        }
    }
}

/// One entry found by the walk.
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: PathBuf,
    /// Index of the root this entry was found under.
    pub root: usize,
    /// Depth below the root (the root itself is 0).
    pub depth: usize,
    pub kind: EntryKind,
    pub meta: FileMeta,
    /// Reason the entry is not read, when an `--exclude` pattern matches it.
    pub excluded: Option<String>,
}

/// An error met during the walk, for one path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WalkError {
    pub path: Option<PathBuf>,
    pub root: usize,
    pub message: String,
}

/// Event reported by the walk.
#[derive(Debug)]
pub enum WalkEvent {
    Entry(Entry),
    Error(WalkError),
}

/// How to walk.
#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    pub follow_symlinks: bool,
    /// Glob patterns of paths to leave out, matched against the path relative
    /// to its root, the full path and the file name.
    pub excludes: Vec<String>,
    /// Files that belong to phiscan itself (store, key, outputs). The walk
    /// leaves them out, so they are neither scanned nor listed as items.
    pub own_files: Vec<PathBuf>,
}

/// An invalid `--exclude` pattern.
#[derive(Debug, thiserror::Error)]
#[error("invalid --exclude pattern {pattern:?}: {message}")]
pub struct PatternError {
    pub pattern: String,
    pub message: String,
}

/// A configured filesystem walk over several roots.
pub struct Walker {
    roots: Vec<PathBuf>,
    follow_symlinks: bool,
    excludes: GlobSet,
    patterns: Vec<String>,
    own_ids: HashSet<(u64, u64)>,
    own_paths: Vec<PathBuf>,
    /// File names of `own_paths`, compared first: cheaper than making each
    /// walked path absolute.
    own_names: HashSet<OsString>,
}

impl Walker {
    /// Prepares a walk; fails on an invalid exclude pattern.
    pub fn new(roots: Vec<PathBuf>, options: &WalkOptions) -> Result<Walker, PatternError> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &options.excludes {
            let glob = Glob::new(pattern).map_err(|err| PatternError {
                pattern: pattern.clone(),
                message: err.kind().to_string(),
            })?;
            builder.add(glob);
        }
        let excludes = builder.build().map_err(|err| PatternError {
            pattern: options.excludes.join(" "),
            message: err.to_string(),
        })?;
        let own_ids = options
            .own_files
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok())
            .filter_map(|metadata| FileMeta::from_metadata(&metadata).file_id)
            .collect();
        let own_paths: Vec<PathBuf> = options
            .own_files
            .iter()
            .map(|path| phiscan_core::location::absolute_path(path))
            .collect();
        let own_names = own_paths
            .iter()
            .filter_map(|path| path.file_name())
            .map(OsStr::to_os_string)
            .collect();
        Ok(Walker {
            roots,
            follow_symlinks: options.follow_symlinks,
            excludes,
            patterns: options.excludes.clone(),
            own_ids,
            own_paths,
            own_names,
        })
    }

    /// Returns the roots, in order.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Walks every root, calling `emit` for each event. Stops early when `emit`
    /// returns false.
    pub fn walk(&self, emit: &mut dyn FnMut(WalkEvent) -> bool) {
        for (root_index, root) in self.roots.iter().enumerate() {
            if !self.walk_root(root_index, root, emit) {
                return;
            }
        }
    }

    fn walk_root(
        &self,
        root_index: usize,
        root: &Path,
        emit: &mut dyn FnMut(WalkEvent) -> bool,
    ) -> bool {
        let mut walk = walkdir::WalkDir::new(root)
            .follow_links(self.follow_symlinks)
            .follow_root_links(true)
            .sort_by_file_name()
            .into_iter();
        while let Some(next) = walk.next() {
            let event = match next {
                Ok(dir_entry) => {
                    let Some(entry) = self.entry(root_index, root, &dir_entry) else {
                        continue;
                    };
                    // An excluded folder is reported once and not entered.
                    if entry.kind == EntryKind::Directory && entry.excluded.is_some() {
                        walk.skip_current_dir();
                    }
                    WalkEvent::Entry(entry)
                }
                Err(err) => WalkEvent::Error(walk_error(root_index, &err)),
            };
            if !emit(event) {
                return false;
            }
        }
        true
    }

    /// Builds the entry of a walked path, or returns None for one of
    /// phiscan's own files.
    fn entry(
        &self,
        root_index: usize,
        root: &Path,
        dir_entry: &walkdir::DirEntry,
    ) -> Option<Entry> {
        let path = dir_entry.path().to_path_buf();
        let file_type = dir_entry.file_type();
        let kind = kind_of(&file_type);
        let meta = dir_entry
            .metadata()
            .map(|metadata| FileMeta::from_metadata(&metadata))
            .unwrap_or_default();
        if self.is_own(&path, &meta) {
            tracing::debug!(path = %path.display(), "left out: phiscan's own store, key or output file");
            return None;
        }
        let excluded = self.exclusion(root, &path, dir_entry.depth());
        Some(Entry {
            path,
            root: root_index,
            depth: dir_entry.depth(),
            kind,
            meta,
            excluded,
        })
    }

    /// Returns true for one of phiscan's own files, by file id or by path.
    fn is_own(&self, path: &Path, meta: &FileMeta) -> bool {
        meta.file_id.is_some_and(|id| self.own_ids.contains(&id))
            || (path
                .file_name()
                .is_some_and(|name| self.own_names.contains(name))
                && self
                    .own_paths
                    .contains(&phiscan_core::location::absolute_path(path)))
    }

    fn exclusion(&self, root: &Path, path: &Path, depth: usize) -> Option<String> {
        if depth == 0 || self.excludes.is_empty() {
            return None;
        }
        let relative = path.strip_prefix(root).unwrap_or(path);
        let name = path.file_name().map(Path::new);
        let matched = self
            .excludes
            .matches(relative)
            .into_iter()
            .chain(self.excludes.matches(path))
            .chain(
                name.map(|name| self.excludes.matches(name))
                    .unwrap_or_default(),
            )
            .next()?;
        Some(format!("excluded by --exclude {}", self.patterns[matched]))
    }
}

fn kind_of(file_type: &std::fs::FileType) -> EntryKind {
    if file_type.is_file() {
        return EntryKind::File;
    }
    if file_type.is_dir() {
        return EntryKind::Directory;
    }
    if file_type.is_symlink() {
        return EntryKind::Symlink;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return EntryKind::Fifo;
        }
        if file_type.is_socket() {
            return EntryKind::Socket;
        }
        if file_type.is_block_device() {
            return EntryKind::BlockDevice;
        }
        if file_type.is_char_device() {
            return EntryKind::CharDevice;
        }
    }
    EntryKind::Other
}

fn walk_error(root: usize, err: &walkdir::Error) -> WalkError {
    let path = err.path().map(Path::to_path_buf);
    let message = if let Some(ancestor) = err.loop_ancestor() {
        format!(
            "symbolic link loop: points back to {}; not followed again",
            ancestor.display()
        )
    } else if let Some(io) = err.io_error() {
        match io.kind() {
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            std::io::ErrorKind::NotFound => "not found (removed during the scan)".to_string(),
            _ => io.to_string(),
        }
    } else {
        err.to_string()
    };
    WalkError {
        path,
        root,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn collect(walker: &Walker) -> (Vec<Entry>, Vec<WalkError>) {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        walker.walk(&mut |event| {
            match event {
                WalkEvent::Entry(entry) => entries.push(entry),
                WalkEvent::Error(err) => errors.push(err),
            }
            true
        });
        (entries, errors)
    }

    fn relative(entry: &Entry, root: &Path) -> String {
        entry.path.strip_prefix(root).unwrap().display().to_string()
    }

    #[test]
    fn walks_files_and_folders_in_order() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("b")).unwrap();
        fs::write(dir.path().join("b/z.txt"), "z").unwrap();
        fs::write(dir.path().join("a.txt"), "aa").unwrap();
        let walker = Walker::new(vec![dir.path().to_path_buf()], &WalkOptions::default()).unwrap();
        let (entries, errors) = collect(&walker);
        assert!(errors.is_empty());
        let names: Vec<String> = entries.iter().map(|e| relative(e, dir.path())).collect();
        assert_eq!(names, vec!["", "a.txt", "b", "b/z.txt"]);
        assert_eq!(entries[1].kind, EntryKind::File);
        assert_eq!(entries[1].meta.size, 2);
        assert_eq!(entries[2].kind, EntryKind::Directory);
    }

    #[test]
    fn excludes_match_names_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("backup")).unwrap();
        fs::write(dir.path().join("backup/old.txt"), "x").unwrap();
        fs::write(dir.path().join("keep.txt"), "x").unwrap();
        fs::write(dir.path().join("skip.tmp"), "x").unwrap();
        let options = WalkOptions {
            excludes: vec!["*.tmp".into(), "backup".into()],
            ..WalkOptions::default()
        };
        let walker = Walker::new(vec![dir.path().to_path_buf()], &options).unwrap();
        let (entries, _) = collect(&walker);
        let excluded: Vec<(String, String)> = entries
            .iter()
            .filter_map(|e| e.excluded.clone().map(|why| (relative(e, dir.path()), why)))
            .collect();
        assert_eq!(
            excluded,
            vec![
                (
                    "backup".to_string(),
                    "excluded by --exclude backup".to_string()
                ),
                (
                    "skip.tmp".to_string(),
                    "excluded by --exclude *.tmp".to_string()
                ),
            ]
        );
        assert!(!entries.iter().any(|e| e.path.ends_with("old.txt")));
    }

    #[test]
    fn invalid_pattern_is_named() {
        let options = WalkOptions {
            excludes: vec!["a[".into()],
            ..WalkOptions::default()
        };
        let err = Walker::new(vec![], &options).err().unwrap();
        assert!(err.to_string().contains("\"a[\""), "{err}");
    }

    #[test]
    fn own_files_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("inventory.sqlite");
        let wal = dir.path().join("inventory.sqlite-wal");
        let note = dir.path().join("note.txt");
        for path in [&store, &note] {
            fs::write(path, "x").unwrap();
        }
        let options = WalkOptions {
            // The write-ahead log does not exist yet when the walker is built.
            own_files: vec![store.clone(), wal.clone()],
            ..WalkOptions::default()
        };
        let walker = Walker::new(vec![dir.path().to_path_buf()], &options).unwrap();
        fs::write(&wal, "x").unwrap();
        let (entries, _) = collect(&walker);
        let paths: Vec<&Path> = entries.iter().map(|entry| entry.path.as_path()).collect();
        assert_eq!(paths, vec![dir.path(), note.as_path()]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_not_followed_by_default_and_loops_detected() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/loop")).unwrap();

        let walker = Walker::new(vec![dir.path().to_path_buf()], &WalkOptions::default()).unwrap();
        let (entries, errors) = collect(&walker);
        assert!(errors.is_empty());
        let link = entries.iter().find(|e| e.path.ends_with("loop")).unwrap();
        assert_eq!(link.kind, EntryKind::Symlink);

        let options = WalkOptions {
            follow_symlinks: true,
            ..WalkOptions::default()
        };
        let walker = Walker::new(vec![dir.path().to_path_buf()], &options).unwrap();
        let (_, errors) = collect(&walker);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.contains("symbolic link loop"),
            "{}",
            errors[0].message
        );
    }

    #[cfg(unix)]
    #[test]
    fn fifo_is_reported_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a valid NUL-terminated path and creates a FIFO.
        assert_eq!(unsafe { libc_mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let walker = Walker::new(vec![dir.path().to_path_buf()], &WalkOptions::default()).unwrap();
        let (entries, _) = collect(&walker);
        let entry = entries.iter().find(|e| e.path == fifo).unwrap();
        assert_eq!(entry.kind, EntryKind::Fifo);
    }

    #[cfg(unix)]
    unsafe extern "C" {
        #[link_name = "mkfifo"]
        fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
    }
}
