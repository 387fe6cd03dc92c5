//! The IMAP source: every message of every folder of a mailbox on a live
//! server, read without changing anything.
//!
//! The source opens folders with EXAMINE (read-only) and fetches with
//! `BODY.PEEK[]`, so no flag changes and no message is marked read. Folder
//! names are decoded from modified UTF-7. Each message is handed on as a
//! [`MailEvent::Message`] whose location is
//! `imaps://user@host:port!/Folder/Sub/UID`.
//!
//! Sweeps resume: [`FolderState`] keeps, per folder, the UIDVALIDITY, the
//! highest UID looked at and the UIDs that were not fetched. The next sweep
//! fetches the pending UIDs and those above the highest, or the whole folder
//! when UIDVALIDITY changed. A message read before and still on the server
//! is not fetched: it becomes a [`MailEvent::Known`], whose earlier results
//! the scan records again, as a file sweep does for an unchanged file. A
//! connection lost mid-fetch is reopened with backoff; messages still not
//! fetched become [`MailEvent::Failed`] and stay pending.

mod connect;
mod sweep;
pub mod utf7;

pub use sweep::{FolderPlan, RetryPolicy, Sweep};

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Transport security of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps://`, port 993).
    Tls,
    /// STARTTLS before login (`imap://`, port 143).
    StartTls,
    /// No encryption (`imap://` with `--insecure-plaintext`).
    Plaintext,
}

/// A parsed `imaps://user@host[:port][/folder]` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImapUrl {
    pub user: String,
    pub host: String,
    pub port: u16,
    /// Folder to sweep with its sub-folders; None for every folder.
    pub folder: Option<String>,
    pub security: Security,
}

/// An invalid IMAP URL or a failed connection.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("invalid IMAP URL {url:?}: {message}")]
    Url { url: String, message: String },
    #[error("cannot read the CA certificate {path}: {message}")]
    Certificate { path: PathBuf, message: String },
    #[error("no certificate could be loaded from the system trust store; pass --ca-cert FILE")]
    NoTrustStore,
    #[error("{0}")]
    Connect(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error(
        "the server refused STARTTLS; use imaps:// or, on a trusted network only, --insecure-plaintext"
    )]
    StartTls,
    #[error("login failed for user {0:?}: check the user name and password")]
    Login(String),
    #[error("unexpected server response: {0}")]
    Protocol(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl ImapError {
    /// Returns true for failures that another connection may not repeat.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ImapError::Connect(_) | ImapError::Io(_) | ImapError::Protocol(_)
        )
    }
}

impl ImapUrl {
    /// Returns true when `text` names an IMAP mailbox rather than a path.
    pub fn is_imap(text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        lower.starts_with("imap://") || lower.starts_with("imaps://")
    }

    /// Parses a URL. `imap://` means STARTTLS unless `plaintext` is set. A
    /// password in the URL is rejected: it would show in process lists and
    /// shell history.
    pub fn parse(text: &str, plaintext: bool) -> Result<ImapUrl, ImapError> {
        let invalid = |message: &str| ImapError::Url {
            url: redact(text),
            message: message.to_string(),
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| invalid("missing scheme"))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "imaps" if plaintext => {
                return Err(invalid("--insecure-plaintext applies to imap:// URLs only"));
            }
            "imaps" => (Security::Tls, 993),
            "imap" if plaintext => (Security::Plaintext, 143),
            "imap" => (Security::StartTls, 143),
            _ => return Err(invalid("the scheme must be imap or imaps")),
        };
        let (authority, folder) = match rest.split_once('/') {
            Some((authority, folder)) => (authority, Some(folder.trim_end_matches('/'))),
            None => (rest, None),
        };
        let (user, host_port) = authority
            .rsplit_once('@')
            .ok_or_else(|| invalid("missing user name (imaps://user@host)"))?;
        if user.contains(':') {
            return Err(invalid(
                "a password in the URL is not accepted; use --password-env, --password-file or the prompt",
            ));
        }
        let user = percent_decode(user)
            .ok_or_else(|| invalid("invalid percent escape in the user name"))?;
        if user.is_empty() {
            return Err(invalid("missing user name (imaps://user@host)"));
        }
        let (host, port) =
            split_host_port(host_port).ok_or_else(|| invalid("invalid host or port"))?;
        let folder = match folder.filter(|folder| !folder.is_empty()) {
            Some(folder) => Some(
                percent_decode(folder)
                    .ok_or_else(|| invalid("invalid percent escape in the folder"))?,
            ),
            None => None,
        };
        Ok(ImapUrl {
            user,
            host,
            port: port.unwrap_or(default_port),
            folder,
            security,
        })
    }

    /// Returns the mailbox part of locations: `imaps://user@host:port`.
    pub fn mailbox(&self) -> String {
        let scheme = match self.security {
            Security::Tls => "imaps",
            _ => "imap",
        };
        format!("{scheme}://{}@{}:{}", self.user, self.host, self.port)
    }
}

fn split_host_port(text: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse().ok()?)),
        None => (text, None),
    };
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then(|| (host.to_ascii_lowercase(), port))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Removes what could be a password from a URL before it is shown.
fn redact(text: &str) -> String {
    match (text.split_once("://"), text.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => match rest.split_once('@') {
            Some((user, host)) if user.contains(':') => {
                let name = user.split(':').next().unwrap_or("");
                format!("{scheme}://{name}:***@{host}")
            }
            _ => text.to_string(),
        },
        _ => text.to_string(),
    }
}

/// A password that is never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(password: String) -> Password {
        Password(password)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Everything needed to sweep one mailbox.
#[derive(Clone, Debug)]
pub struct ImapAccount {
    pub url: ImapUrl,
    pub password: Password,
    /// PEM file of certificate authorities to trust instead of the system's.
    pub ca_cert: Option<PathBuf>,
}

/// Folder state kept from one sweep to the next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderState {
    pub uidvalidity: u32,
    /// Every UID up to this one was fetched, or is listed in `pending`.
    pub last_uid: u32,
    /// UIDs at or below `last_uid` that were not fetched.
    pub pending: Vec<u32>,
}

/// Folder states of one mailbox, by decoded folder name.
pub type MailboxState = BTreeMap<String, FolderState>;

/// Something the sweep found.
#[derive(Debug)]
pub enum MailEvent {
    /// A fetched message.
    Message {
        location: String,
        folder: String,
        uid: u32,
        data: Vec<u8>,
        /// INTERNALDATE, the server's arrival time, as Unix seconds.
        received: Option<i64>,
    },
    /// A message an earlier scan read, left on the server: its earlier
    /// results are reused from the sweep's cache.
    Known { location: String },
    /// A message, a folder or the whole mailbox that could not be read.
    Failed {
        location: String,
        coverage: phiscan_core::Coverage,
        reason: String,
        size: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url =
            ImapUrl::parse("imaps://front.desk@Mail.Clinic.org/Patients/2024", false).unwrap();
        assert_eq!(url.user, "front.desk");
        assert_eq!(url.host, "mail.clinic.org");
        assert_eq!(url.port, 993);
        assert_eq!(url.folder.as_deref(), Some("Patients/2024"));
        assert_eq!(url.security, Security::Tls);
        assert_eq!(url.mailbox(), "imaps://front.desk@mail.clinic.org:993");

        let url = ImapUrl::parse("imap://a%40b@127.0.0.1:1143", false).unwrap();
        assert_eq!(url.user, "a@b");
        assert_eq!(url.port, 1143);
        assert_eq!(url.security, Security::StartTls);
        assert_eq!(
            ImapUrl::parse("imap://u@[::1]:20143", true)
                .unwrap()
                .security,
            Security::Plaintext
        );
    }

    #[test]
    fn rejects_bad_urls() {
        let err = ImapUrl::parse("imaps://user:secret@host", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("password in the URL"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(ImapUrl::parse("imaps://host", false).is_err());
        assert!(ImapUrl::parse("imaps://u@host:notaport", false).is_err());
        assert!(ImapUrl::parse("imaps://u@host", true).is_err());
        assert!(ImapUrl::parse("ftp://u@host", false).is_err());
    }

    #[test]
    fn password_is_not_printed() {
        let password = Password::new("hunter2".into());
        assert_eq!(format!("{password:?}"), "Password(***)");
    }
}
