//! Sources enumerate items to scan.
//!
//! [`fs`] walks folder trees (local disks and mounted SMB or NFS shares) and
//! reports every entry with its metadata: regular files to read, folders whose
//! names are scanned, and the entries that are never opened (symbolic links
//! not followed, FIFOs, sockets and devices, excluded paths), each with its
//! kind so the caller can record why. Errors (an unreadable folder, a
//! symbolic link loop) are reported as events and the walk goes on.
//!
//! [`imap`] sweeps the folders of a mailbox on a live mail server, read-only,
//! and hands each message on with its folder and UID.

pub mod fs;
pub mod imap;

pub use fs::{Entry, EntryKind, FileMeta, WalkError, WalkEvent, WalkOptions, Walker};
