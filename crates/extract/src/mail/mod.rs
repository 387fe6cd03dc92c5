//! Mailbox formats: single messages (EML, Outlook .msg), mailboxes (mbox,
//! Outlook PST), and what every message reports besides its text.
//!
//! A message is an item of its own. Its headers and text bodies become
//! segments with `mail-header` and `mail-body` locators, its attachments
//! become child items fed through the extractors again, and its [`Envelope`]
//! (sender, recipients, date, protection) goes to the sink so the caller can
//! record where the message's PHI went. Mailboxes hand each message to the
//! sink as a [`Nested`](crate::Nested) item named after its folder path and
//! its position in that folder.

pub mod mbox;
pub mod mime;
pub mod msg;
pub mod pst;
pub mod rtf;

mod mapi;

use crate::{Flow, Format, Input, Limits, Outcome, Segment, Sink};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;
use std::collections::HashSet;

/// Record key shared by a message's subject and text bodies: a patient's
/// name in the subject and a diagnosis in the body belong to one record.
pub const MESSAGE_RECORD: u64 = 1;

/// Who sent a message to whom, when, and how it was protected.
///
/// Addresses stay in memory: callers record only their domains.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Address of the sender: Resent-From for a resent message, else From,
    /// Sender or Reply-To, in that order.
    pub from: Option<String>,
    pub recipients: Vec<Recipient>,
    /// When the message was sent, in seconds since the Unix epoch (UTC): the
    /// Date header, or the newest Received header when Date is missing.
    pub sent: Option<i64>,
    /// Set when a mailbox rule forwarded the message automatically.
    pub auto_forwarded: bool,
    pub protection: Protection,
    /// Number of attachments, nested messages included.
    pub attachments: u32,
}

/// One recipient of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// Header the recipient came from, lowercase: `to`, `cc`, `bcc`,
    /// `resent-to`, `x-forwarded-to`, ...
    pub field: &'static str,
    pub address: String,
}

/// How a message's content was protected in transit and at rest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protection {
    #[default]
    None,
    /// Signed (S/MIME or PGP) but readable by anyone on the path.
    Signed,
    /// S/MIME or PGP encrypted.
    Encrypted,
}

impl Protection {
    /// The name written in flow records.
    pub fn as_str(self) -> &'static str {
        match self {
            Protection::None => "none",
            Protection::Signed => "signed",
            Protection::Encrypted => "encrypted",
        }
    }
}

/// Extracts a mail format: `Eml`, `Mbox`, `Msg` or `Pst`.
pub(crate) fn extract(
    input: Input<'_>,
    format: Format,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> std::io::Result<Outcome> {
    if format == Format::Mbox {
        return mbox::extract(crate::reader_of(input), limits, sink);
    }
    let size = input.size();
    if size > limits.max_whole_bytes {
        if format == Format::Eml {
            // Every byte is still scanned, as plain text, without MIME decoding.
            let encoding = crate::TextEncoding::Utf8;
            let mut outcome = crate::text::extract_stream(
                crate::reader_of(input),
                encoding,
                format,
                limits,
                sink,
            )?;
            if outcome.coverage == Coverage::Complete {
                outcome.coverage = Coverage::Partial;
                outcome.reason = Some(format!(
                    "message of {} MiB is larger than the in-memory limit (--max-item-mib): scanned as plain text, without decoding base64 or quoted-printable parts",
                    size >> 20
                ));
            }
            return Ok(outcome);
        }
        return Ok(Outcome::with(
            format,
            Coverage::Skipped,
            format!(
                "{} file of {} MiB is larger than the in-memory limit; raise --max-item-mib to read it",
                format.name(),
                size >> 20
            ),
        ));
    }
    let bytes = crate::read_whole(input)?;
    Ok(match format {
        Format::Eml => mime::extract_message(&bytes, limits, sink),
        Format::Msg => msg::extract(&bytes, limits, sink),
        _ => pst::extract(bytes.into_owned(), limits, sink),
    })
}

/// Reasons a message was not fully examined, joined into one coverage reason.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    reasons: Vec<String>,
    coverage: Option<Coverage>,
}

impl Problems {
    /// Notes a part that was read only in part.
    pub(crate) fn partial(&mut self, reason: impl Into<String>) {
        self.add(Coverage::Partial, reason.into());
    }

    /// Notes content that is encrypted and was not read.
    pub(crate) fn encrypted(&mut self, reason: impl Into<String>) {
        self.add(Coverage::Encrypted, reason.into());
    }

    fn add(&mut self, coverage: Coverage, reason: String) {
        // Encrypted content outranks a partly decoded part in the summary state.
        if self.coverage != Some(Coverage::Encrypted) {
            self.coverage = Some(coverage);
        }
        if !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }

    /// Builds the outcome: complete when nothing was noted.
    pub(crate) fn outcome(self, format: Format) -> Outcome {
        match self.coverage {
            None => Outcome::complete(format),
            Some(coverage) => Outcome::with(format, coverage, self.reasons.join("; ")),
        }
    }
}

/// Makes attachment names usable as one step of a location, unique within
/// one message.
#[derive(Debug, Default)]
pub(crate) struct MemberNames {
    used: HashSet<String>,
}

impl MemberNames {
    /// Returns `name` with `/`, `!` and control characters replaced, or
    /// `fallback` when it is empty; appends ` (2)`, ` (3)`... to repeats.
    pub(crate) fn unique(&mut self, name: Option<&str>, fallback: &str) -> String {
        let cleaned: String = name
            .unwrap_or("")
            .trim()
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' || c == '!' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let base = if cleaned.is_empty() {
            fallback.to_string()
        } else {
            cleaned
        };
        let mut candidate = base.clone();
        let mut counter = 2;
        while !self.used.insert(candidate.clone()) {
            candidate = format!("{base} ({counter})");
            counter += 1;
        }
        candidate
    }
}

/// Line starts of a text, to turn byte offsets into lines and columns.
pub(crate) struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(bytes: &[u8]) -> LineIndex {
        LineIndex {
            newlines: memchr::memchr_iter(b'\n', bytes).collect(),
        }
    }

    /// Line (from 1) and byte column (from 1) of an offset.
    pub(crate) fn position(&self, offset: usize) -> (u64, u64) {
        let before = self.newlines.partition_point(|&newline| newline < offset);
        let line_start = match before {
            0 => 0,
            n => self.newlines[n - 1] + 1,
        };
        (before as u64 + 1, (offset - line_start) as u64 + 1)
    }
}

/// Hands one piece of message text to the sink as one segment.
pub(crate) struct TextPiece<'a> {
    pub text: &'a str,
    pub offset: u64,
    pub line: u64,
    pub column: u64,
    pub scope: RecordScope,
    pub locator: Locator,
}

impl TextPiece<'_> {
    pub(crate) fn send(self, sink: &mut dyn Sink) -> Flow {
        if self.text.trim().is_empty() {
            return Flow::Continue;
        }
        let locator = self.locator;
        let locate = move |_: usize| locator.clone();
        sink.segment(&Segment {
            text: self.text,
            offset: self.offset,
            offset_map: &[],
            line: self.line,
            column: self.column,
            label: None,
            fields: &[],
            report: 0..self.text.len(),
            scope: self.scope,
            locate: &locate,
        })
    }
}

/// Forwards the segments of a body part extracted by another extractor (HTML,
/// RTF) with the part's locator, its place in the message, and the message's
/// record scope.
pub(crate) struct BodySink<'a> {
    pub inner: &'a mut dyn Sink,
    pub locator: Locator,
    pub offset: u64,
    pub line: u64,
}

impl Sink for BodySink<'_> {
    fn segment(&mut self, segment: &Segment<'_>) -> Flow {
        let locator = self.locator.clone();
        let locate = move |_: usize| locator.clone();
        let offset_map: Vec<(usize, u64)> = segment
            .offset_map
            .iter()
            .map(|&(at, item)| (at, item + self.offset))
            .collect();
        self.inner.segment(&Segment {
            text: segment.text,
            offset: segment.offset + self.offset,
            offset_map: &offset_map,
            line: self.line + segment.line - 1,
            column: segment.column,
            label: segment.label,
            fields: segment.fields,
            report: segment.report.clone(),
            scope: RecordScope::Record(MESSAGE_RECORD),
            locate: &locate,
        })
    }

    fn child(&mut self, child: crate::Child<'_>) -> Flow {
        self.inner.child(child)
    }
}

/// Returns the domain of an address, lowercase, or None when it has none.
pub fn domain_of(address: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b >= 0x80);
    valid.then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_unique_and_safe() {
        let mut names = MemberNames::default();
        assert_eq!(names.unique(Some("lab.pdf"), "part-2"), "lab.pdf");
        assert_eq!(names.unique(Some("lab.pdf"), "part-3"), "lab.pdf (2)");
        assert_eq!(names.unique(Some("a/b!c"), "part-4"), "a_b_c");
        assert_eq!(names.unique(None, "part-5"), "part-5");
        assert_eq!(names.unique(Some("  "), "part-6"), "part-6");
    }

    #[test]
    fn line_index_positions() {
        let index = LineIndex::new(b"ab\ncd\n\nef");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(1), (1, 2));
        assert_eq!(index.position(3), (2, 1));
        assert_eq!(index.position(7), (4, 1));
    }

    struct Count(usize);

    impl Sink for Count {
        fn segment(&mut self, _segment: &Segment<'_>) -> Flow {
            self.0 += 1;
            Flow::Continue
        }

        fn child(&mut self, _child: crate::Child<'_>) -> Flow {
            Flow::Continue
        }
    }

    #[test]
    fn oversized_files_are_not_held_in_memory() {
        let limits = Limits {
            max_whole_bytes: 16,
            ..Limits::default()
        };
        let eml = b"From: a@b.org\nTo: c@d.org\nSubject: x\n\nbody text\n";
        let mut sink = Count(0);
        let outcome = extract(Input::Bytes(eml), Format::Eml, &limits, &mut sink).unwrap();
        assert_eq!(outcome.coverage, Coverage::Partial);
        assert!(outcome.reason.unwrap().contains("plain text"));
        assert!(sink.0 > 0, "the oversized message was not scanned");

        let mut sink = Count(0);
        let pst = [b'!', b'B', b'D', b'N'].repeat(8);
        let outcome = extract(Input::Bytes(&pst), Format::Pst, &limits, &mut sink).unwrap();
        assert_eq!(outcome.coverage, Coverage::Skipped);
        assert!(outcome.reason.unwrap().contains("--max-item-mib"));
    }

    #[test]
    fn domains_are_lowercase() {
        assert_eq!(domain_of("A.B@Clinic.ORG").as_deref(), Some("clinic.org"));
        assert_eq!(
            domain_of("<x@mail.example.net.>").as_deref(),
            Some("mail.example.net")
        );
        assert_eq!(domain_of("no-domain"), None);
        assert_eq!(domain_of("x@bad domain"), None);
    }
}
