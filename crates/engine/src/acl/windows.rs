//! Security descriptors of files on Windows, read with `GetFileSecurityW`.
//!
//! NOTE: this module is only compiled and linted for x86_64-pc-windows-gnu
//! (`cargo check` and `cargo clippy`); no test has run it on Windows.

use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use windows_sys::Win32::Foundation::ERROR_INSUFFICIENT_BUFFER;
use windows_sys::Win32::Security::{DACL_SECURITY_INFORMATION, GetFileSecurityW};

/// First buffer size in bytes; most descriptors fit.
const FIRST_BUFFER_SIZE: usize = 1024;
/// Largest buffer allocated: a DACL of at most 65,535 bytes, the 20-byte
/// header and two SIDs of at most 68 bytes each.
const MAX_BUFFER_SIZE: usize = 128 * 1024;

/// Reads the DACL of a file as a self-relative security descriptor.
///
/// NOTE: paths longer than MAX_PATH (260 characters) fail unless Windows has
/// long paths enabled; the file then keeps an empty exposure.
pub(crate) fn read_descriptor(path: &Path) -> io::Result<Vec<u8>> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut size = FIRST_BUFFER_SIZE;
    loop {
        // u32 words keep the buffer 4-byte aligned, as the descriptor's
        // fields require.
        let mut words = vec![0u32; size.div_ceil(4)];
        let capacity = u32::try_from(words.len() * 4).unwrap_or(u32::MAX);
        let mut needed = 0u32;
        // SAFETY: `wide` is NUL-terminated, `words` is valid for writes of
        // `capacity` bytes, and `needed` is a valid place for a u32.
        let succeeded = unsafe {
            GetFileSecurityW(
                wide.as_ptr(),
                DACL_SECURITY_INFORMATION,
                words.as_mut_ptr().cast(),
                capacity,
                &mut needed,
            )
        } != 0;
        if succeeded {
            let length = match needed {
                0 => capacity,
                needed => needed.min(capacity),
            } as usize;
            return Ok(words
                .iter()
                .flat_map(|word| word.to_ne_bytes())
                .take(length)
                .collect());
        }

        let error = io::Error::last_os_error();
        let too_small = error.raw_os_error() == Some(ERROR_INSUFFICIENT_BUFFER as i32);
        let required = needed as usize;
        if !too_small || required <= size || required > MAX_BUFFER_SIZE {
            return Err(error);
        }
        size = required;
    }
}
