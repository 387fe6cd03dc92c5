//! Item locations: a file path, extended with `!` and an inner path for items
//! inside containers (`claims.zip!/2024/jan.csv`).

use std::ffi::OsStr;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Separator between a container's location and the inner path of a member.
pub const MEMBER_SEPARATOR: char = '!';

/// Returns true when `location` is in a mailbox on a mail server
/// (`imaps://user@host:993!/INBOX/7`), not in a file.
pub fn is_mail_server_location(location: &str) -> bool {
    location.starts_with("imap://") || location.starts_with("imaps://")
}

/// Formats a path as a location string.
///
/// Valid UTF-8 is kept as is. Bytes that are not UTF-8 (possible in Unix file
/// names) are written as `\xNN`, so the location stays valid JSON text and still
/// tells distinct names apart.
pub fn path_to_location(path: &Path) -> String {
    os_str_to_text(path.as_os_str())
}

/// Formats an OS string as text, escaping bytes that are not UTF-8 as `\xNN`.
pub fn os_str_to_text(name: &OsStr) -> String {
    if let Some(text) = name.to_str() {
        return text.to_string();
    }
    escape_invalid_utf8(os_str_bytes(name))
}

/// Formats bytes as text, escaping bytes that are not UTF-8 as `\xNN`.
pub fn escape_invalid_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02X}");
        }
    }
    out
}

#[cfg(unix)]
fn os_str_bytes(name: &OsStr) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes()
}

#[cfg(not(unix))]
fn os_str_bytes(name: &OsStr) -> &[u8] {
    name.as_encoded_bytes()
}

/// Extends a container's location with a member's inner path.
///
/// The inner path always starts with `/` for archive and mailbox members, so
/// `child_location("a.zip", "2024/jan.csv")` is `a.zip!/2024/jan.csv`.
pub fn child_location(parent: &str, inner: &str) -> String {
    let mut out = String::with_capacity(parent.len() + inner.len() + 2);
    out.push_str(parent);
    out.push(MEMBER_SEPARATOR);
    if !inner.starts_with('/') {
        out.push('/');
    }
    out.push_str(inner);
    out
}

/// Makes untrusted text safe to print on a terminal.
///
/// Control characters (including ESC, which starts terminal escape sequences,
/// and bidirectional overrides, which can reorder what a reader sees) are
/// replaced by their `\u{..}` escape.
pub fn sanitize_for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unsafe_on_terminal) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if is_unsafe_on_terminal(ch) {
            let _ = write!(out, "\\u{{{:x}}}", ch as u32);
        } else {
            out.push(ch);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_unsafe_on_terminal(ch: char) -> bool {
    ch.is_control() || matches!(ch, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Returns `path` made absolute against the working directory, which is
/// read once per process. `std::path::absolute` reads it from the kernel on
/// every call, three times per file in a walk. The path is not resolved (no
/// symlinks followed, `..` kept), like `std::path::absolute`.
pub fn absolute_path(path: &Path) -> PathBuf {
    static WORKING_DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    if path.is_absolute() {
        return std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    }
    match WORKING_DIR.get_or_init(|| std::env::current_dir().ok()) {
        Some(dir) => std::path::absolute(dir.join(path)).unwrap_or_else(|_| path.to_path_buf()),
        None => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_location_adds_separator_and_slash() {
        assert_eq!(
            child_location("a.zip", "2024/jan.csv"),
            "a.zip!/2024/jan.csv"
        );
        assert_eq!(child_location("a.zip", "/x"), "a.zip!/x");
    }

    #[test]
    fn invalid_utf8_is_escaped() {
        assert_eq!(escape_invalid_utf8(b"caf\xE9.txt"), "caf\\xE9.txt");
        assert_eq!(escape_invalid_utf8("café".as_bytes()), "café");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_path_becomes_text() {
        use std::os::unix::ffi::OsStrExt;
        let name = OsStr::from_bytes(b"notes-\xFF.txt");
        assert_eq!(os_str_to_text(name), "notes-\\xFF.txt");
    }

    #[test]
    fn terminal_escapes_are_neutralized() {
        assert_eq!(sanitize_for_terminal("plain.txt"), "plain.txt");
        assert_eq!(
            sanitize_for_terminal("evil\u{1b}[31m.txt"),
            "evil\\u{1b}[31m.txt"
        );
        assert_eq!(sanitize_for_terminal("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(sanitize_for_terminal("line\nbreak"), "line\\u{a}break");
    }

    #[test]
    fn absolute_path_joins_the_working_directory_once() {
        let working_dir = std::env::current_dir().unwrap();
        assert_eq!(
            absolute_path(Path::new("a/b.txt")),
            working_dir.join("a/b.txt")
        );
        assert_eq!(
            absolute_path(Path::new("/srv/share")),
            PathBuf::from("/srv/share")
        );
    }
}
