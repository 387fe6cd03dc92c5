//! Security descriptors of files on Windows shares mounted with the Linux
//! cifs client (`mount -t cifs`). The client serves each file's descriptor
//! as the extended attribute `system.cifs_acl`, which `getcifsacl` reads.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `statfs` file system types of cifs mounts: CIFS_SUPER_MAGIC and
/// SMB2_SUPER_MAGIC in Linux's `include/uapi/linux/magic.h`.
const CIFS_SUPER_MAGIC: u32 = 0xFF53_4D42;
const SMB2_SUPER_MAGIC: u32 = 0xFE53_4D42;

const ACL_ATTRIBUTE: &CStr = c"system.cifs_acl";

/// Buffer sizes tried in turn. Most descriptors fit the first. The second
/// has room for the largest possible one: a DACL of at most 65,535 bytes, the
/// 20-byte header and two SIDs of at most 68 bytes each.
const BUFFER_SIZES: [usize; 2] = [4096, 128 * 1024];

/// Returns true when `path` lies on a cifs or smb3 mount. Any failure
/// returns false, so the file keeps the exposure of its permission bits.
pub(crate) fn is_cifs_mount(path: &Path) -> bool {
    let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut info = MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `path` is NUL-terminated, and `info` has room for the struct
    // that statfs fills when it returns 0.
    if unsafe { libc::statfs(path.as_ptr(), info.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: statfs returned 0, so it filled `info`.
    let info = unsafe { info.assume_init() };
    // `f_type` is a signed long on x86_64 glibc; the magic numbers are
    // compared as the 32-bit patterns the kernel stores.
    matches!(info.f_type as u32, CIFS_SUPER_MAGIC | SMB2_SUPER_MAGIC)
}

/// Reads the self-relative security descriptor of a file on a cifs mount.
pub(crate) fn read_descriptor(path: &Path) -> io::Result<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut error = io::Error::from(io::ErrorKind::InvalidData);
    for size in BUFFER_SIZES {
        let mut buffer = vec![0u8; size];
        // SAFETY: `path` and the attribute name are NUL-terminated, and
        // `buffer` is valid for writes of `buffer.len()` bytes.
        let length = unsafe {
            libc::getxattr(
                path.as_ptr(),
                ACL_ATTRIBUTE.as_ptr(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
            )
        };
        if let Ok(length) = usize::try_from(length) {
            buffer.truncate(length);
            return Ok(buffer);
        }
        error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ERANGE) {
            break;
        }
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_folder_is_not_cifs() {
        let folder = tempfile::tempdir().unwrap();
        assert!(!is_cifs_mount(folder.path()));
    }

    #[test]
    fn missing_path_is_not_cifs() {
        let folder = tempfile::tempdir().unwrap();
        assert!(!is_cifs_mount(&folder.path().join("missing")));
    }

    #[test]
    fn local_file_has_no_descriptor() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("notes.txt");
        std::fs::write(&file, "no PHI here").unwrap();
        assert!(read_descriptor(&file).is_err());
    }
}
