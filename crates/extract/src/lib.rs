//! The extraction stage: items in, text segments and child items out.
//!
//! [`sniff`] finds an item's real format from its first bytes. [`extract`]
//! turns the item into [`Segment`]s, each a piece of text with its position in
//! the item, a locator and the structure around it (column headers, field
//! names, record boundaries), and hands them to a [`Sink`]. Containers hand
//! their members to the sink as [`Child`] items, which the caller extracts in
//! turn. Every call ends in an [`Outcome`] with a coverage state: an item is
//! only called complete when every byte of its content reached the sink.
//!
//! Extraction runs under `catch_unwind`: a parser that panics on a malformed
//! file yields an `error` outcome, and the panic message (which may quote the
//! file's content) is not kept.

pub mod archive;
pub mod csv;
pub mod decode;
pub mod dicom;
pub mod fhir;
pub mod hl7;
pub mod json;
pub mod lines;
pub mod mail;
pub mod markup;
pub mod office;
pub mod ole;
pub mod package;
pub mod pdf;
pub mod rtf;
pub mod sheet;
pub mod sniff;
pub mod text;
pub mod x12;
pub mod xml;

use phiscan_core::{Coverage, Locator};
use phiscan_detect::{Field, RecordScope};
use std::io::Read;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::SystemTime;

pub use decode::TextEncoding;
pub use sniff::{Format, SNIFF_LEN, Sniffed, sniff, sniff_named};

/// Bounds on the work and memory spent on one item.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest item, in bytes, read whole into memory. Plain text and delimited
    /// text are streamed and have no size limit.
    pub max_whole_bytes: u64,
    /// Bytes decoded per chunk when streaming text.
    pub chunk_bytes: usize,
    /// Bytes of context carried between streamed chunks; also the longest
    /// match that can span a chunk boundary.
    pub overlap_bytes: usize,
    /// Number of chunks of streamed plain text read before they are handed
    /// to the sink together, so that a sink may match them on several
    /// threads. Above one, the records of a delimited file's chunk also go
    /// together. With 1, each chunk or record goes as soon as it is read.
    pub parallel_chunks: usize,
    /// Maximum size, in bytes, of a delimited-text record; a longer one is scanned as plain text.
    pub max_record_bytes: usize,
    /// Deepest nesting of containers (a zip in a zip is depth 2).
    pub max_depth: u32,
    /// Most bytes expanded from one container's members, all members together.
    pub max_expanded_bytes: u64,
    /// Highest expanded-to-compressed size ratio accepted for one member once
    /// it has expanded past `ratio_grace_bytes`.
    pub max_ratio: u64,
    /// Expanded bytes of a member below which the ratio is not checked, since
    /// small, repetitive members legitimately compress very well.
    pub ratio_grace_bytes: u64,
    /// Most members opened in one container.
    pub max_entries: u64,
    /// Most cells read from one workbook, all sheets together.
    pub max_cells: u64,
    /// Longest time one third-party parser may run on an item before its
    /// result is abandoned.
    pub parse_timeout: std::time::Duration,
}

impl Limits {
    /// Returns the limits for an item of `size` bytes: the streaming chunk
    /// shrinks to the item, so a small file does not allocate and clear a
    /// full chunk buffer.
    pub fn for_size(&self, size: u64) -> Limits {
        let fitting = usize::try_from(size.saturating_add(1)).unwrap_or(usize::MAX);
        // A file of less than two chunks is matched on its own thread: the
        // other threads have files of their own, and handing work over
        // costs more than it saves.
        let parallel_chunks = if fitting < self.chunk_bytes.saturating_mul(2) {
            1
        } else {
            self.parallel_chunks
        };
        Limits {
            chunk_bytes: self.chunk_bytes.min(fitting.max(4096)),
            parallel_chunks,
            ..self.clone()
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_whole_bytes: 256 << 20,
            chunk_bytes: 1 << 20,
            overlap_bytes: 4096,
            parallel_chunks: 1,
            max_record_bytes: 8 << 20,
            max_depth: 8,
            max_expanded_bytes: 1 << 30,
            max_ratio: 100,
            ratio_grace_bytes: 1 << 20,
            max_entries: 10_000,
            max_cells: 5_000_000,
            parse_timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// Whether the sink wants more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop extracting this item (a time limit, or the scan is cancelled).
    Stop,
}

/// A piece of an item's text, with where it is and what surrounds it.
pub struct Segment<'a> {
    pub text: &'a str,
    /// Offset of `text[0]` in the item's text: byte offsets into the file for
    /// UTF-8 text formats, into the decoded text otherwise.
    pub offset: u64,
    /// Breakpoints where offsets stop being aligned: sorted `(segment offset,
    /// item offset)` pairs, for text decoded from escapes. Empty when aligned.
    pub offset_map: &'a [(usize, u64)],
    /// Line (from 1) and byte column (from 1) of `text[0]`.
    pub line: u64,
    pub column: u64,
    /// Field name that applies to the whole segment.
    pub label: Option<&'a str>,
    /// Named sub-ranges, such as the cells of a row under their headers.
    pub fields: &'a [Field<'a>],
    /// Matches starting outside this range are context only.
    pub report: Range<usize>,
    pub scope: RecordScope,
    /// Builds the locator of a finding at a segment offset. The findings
    /// of a large item are prepared on several threads, hence `Sync`.
    pub locate: &'a (dyn Fn(usize) -> Locator + Sync),
}

impl Segment<'_> {
    /// Maps a segment offset to an offset in the item's text.
    pub fn item_offset(&self, offset: usize) -> u64 {
        let index = self
            .offset_map
            .partition_point(|&(segment, _)| segment <= offset);
        match index.checked_sub(1) {
            None => self.offset + offset as u64,
            Some(i) => {
                let (segment, item) = self.offset_map[i];
                item + (offset - segment) as u64
            }
        }
    }
}

/// A member of a container, handed to the sink to be extracted in turn.
pub struct Child<'a> {
    /// Inner path within the container, such as `2024/jan.csv`.
    pub name: &'a str,
    pub data: &'a [u8],
    pub modified: Option<SystemTime>,
    /// Set when the member cannot be read (encrypted entry, unsupported
    /// compression); `data` is then empty.
    pub unreadable: Option<(Coverage, String)>,
    /// Set when `data` is only part of the member, recovered from a damaged
    /// container: the member is read, and is at most `partial`, with this
    /// reason.
    pub damaged: Option<String>,
}

/// An item nested in the one being extracted whose content the extractor
/// produces itself, such as a message in a mailbox.
#[derive(Clone, Copy, Debug)]
pub struct Nested<'a> {
    /// Inner path within the container, such as `Inbox/3`.
    pub name: &'a str,
    /// Size of the nested item's content in bytes.
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// Receives what an extractor produces.
pub trait Sink {
    /// Receives one segment of text.
    fn segment(&mut self, segment: &Segment<'_>) -> Flow;

    /// Receives consecutive segments of one item at once, in order. The
    /// default hands them to [`Sink::segment`] one by one.
    fn segments(&mut self, segments: &[Segment<'_>]) -> Flow {
        for segment in segments {
            if self.segment(segment) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Receives one member of a container.
    fn child(&mut self, child: Child<'_>) -> Flow;

    /// Receives the envelope of the message being extracted: who sent it to
    /// whom, how it was protected. The default ignores it.
    fn envelope(&mut self, _envelope: &mail::Envelope) {}

    /// Receives a nested item: `extract` is called with the sink of that item
    /// and returns how its extraction ended.
    ///
    /// The default runs `extract` on this sink, so the nested item's segments
    /// and members count as this item's own.
    fn nested(
        &mut self,
        _item: Nested<'_>,
        extract: &mut dyn FnMut(&mut dyn Sink) -> Outcome,
    ) -> Flow {
        let outcome = extract(&mut Forward(self));
        if outcome.stopped {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

/// Forwards everything to another sink; lets a default method hand `self` on
/// as a `dyn Sink`.
struct Forward<'a, S: ?Sized>(&'a mut S);

impl<S: Sink + ?Sized> Sink for Forward<'_, S> {
    fn segment(&mut self, segment: &Segment<'_>) -> Flow {
        self.0.segment(segment)
    }

    fn segments(&mut self, segments: &[Segment<'_>]) -> Flow {
        self.0.segments(segments)
    }

    fn child(&mut self, child: Child<'_>) -> Flow {
        self.0.child(child)
    }

    fn envelope(&mut self, envelope: &mail::Envelope) {
        self.0.envelope(envelope)
    }

    fn nested(
        &mut self,
        item: Nested<'_>,
        extract: &mut dyn FnMut(&mut dyn Sink) -> Outcome,
    ) -> Flow {
        self.0.nested(item, extract)
    }
}

/// How extraction of one item ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub format: Format,
    pub coverage: Coverage,
    pub reason: Option<String>,
    /// Set when the sink asked to stop; the caller knows why and words the reason.
    pub stopped: bool,
}

impl Outcome {
    /// Creates a complete outcome.
    pub fn complete(format: Format) -> Outcome {
        Outcome {
            format,
            coverage: Coverage::Complete,
            reason: None,
            stopped: false,
        }
    }

    /// Creates an outcome with a coverage state other than complete, and its reason.
    pub fn with(format: Format, coverage: Coverage, reason: impl Into<String>) -> Outcome {
        Outcome {
            format,
            coverage,
            reason: Some(reason.into()),
            stopped: false,
        }
    }

    /// Creates the outcome of an extractor that the sink stopped.
    pub fn stopped(format: Format) -> Outcome {
        Outcome {
            format,
            coverage: Coverage::Partial,
            reason: Some("extraction stopped before the end".into()),
            stopped: true,
        }
    }
}

/// The content of an item: whole bytes, or the first bytes and a reader for
/// the rest (files on disk).
pub enum Input<'a> {
    Bytes(&'a [u8]),
    Stream {
        head: &'a [u8],
        rest: &'a mut dyn Read,
        size: u64,
    },
}

impl Input<'_> {
    /// Size of the whole input in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Input::Bytes(bytes) => bytes.len() as u64,
            Input::Stream { size, .. } => *size,
        }
    }

    fn head(&self) -> &[u8] {
        match self {
            Input::Bytes(bytes) => &bytes[..bytes.len().min(SNIFF_LEN)],
            Input::Stream { head, .. } => head,
        }
    }
}

/// Extracts an item, isolating panics: a panicking parser yields an `error`
/// outcome.
pub fn extract(
    input: Input<'_>,
    sniffed: Sniffed,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> Outcome {
    let format = sniffed.format;
    let claimed = sniffed.claimed;
    match catch_unwind(AssertUnwindSafe(|| dispatch(input, sniffed, limits, sink))) {
        Ok(Ok(outcome)) => match claimed {
            Some(claimed) => claimed_mismatch(claimed, outcome),
            None => outcome,
        },
        Ok(Err(err)) => Outcome::with(format, Coverage::Error, format!("read failed: {err}")),
        Err(_) => {
            tracing::debug!(format = format.name(), "extractor panicked");
            Outcome::with(
                format,
                Coverage::Error,
                format!(
                    "the {} parser failed with an internal error (panic)",
                    format.name()
                ),
            )
        }
    }
}

/// Records a file whose name claims a binary format its content lacks as an
/// error: its bytes were still scanned as what they are, but the document it
/// should be (a truncated or replaced workbook, say) was not read.
fn claimed_mismatch(claimed: Format, outcome: Outcome) -> Outcome {
    let examined = match outcome.coverage {
        Coverage::Complete => format!("its bytes were scanned as {}", outcome.format.name()),
        Coverage::Unsupported => "its bytes were not examined".to_string(),
        _ => format!(
            "its bytes were scanned as {} ({})",
            outcome.format.name(),
            outcome.reason.as_deref().unwrap_or("incomplete")
        ),
    };
    Outcome {
        format: outcome.format,
        coverage: Coverage::Error,
        reason: Some(format!(
            "the file extension indicates {0}, but the content is not valid {0} (truncated, damaged or replaced); {examined}",
            claimed.name()
        )),
        stopped: outcome.stopped,
    }
}

fn dispatch(
    input: Input<'_>,
    sniffed: Sniffed,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> std::io::Result<Outcome> {
    let format = sniffed.format;
    let encoding = sniffed.encoding.unwrap_or(TextEncoding::Utf8);
    let sized = limits.for_size(input.size());
    let limits = &sized;
    match format {
        Format::Empty => Ok(Outcome::complete(format)),
        Format::Text => text::extract_stream(reader_of(input), encoding, format, limits, sink),
        Format::Eml | Format::Mbox | Format::Msg | Format::Pst => {
            mail::extract(input, format, limits, sink)
        }
        Format::Csv | Format::Tsv => {
            let usual = if format == Format::Tsv { b'\t' } else { b',' };
            let delimiter = csv::sniff_delimiter_bytes(input.head(), encoding).unwrap_or(usual);
            csv::extract_stream(reader_of(input), encoding, format, delimiter, limits, sink)
        }
        Format::Json | Format::Xml | Format::Html | Format::Hl7v2 | Format::X12 => {
            if input.size() > limits.max_whole_bytes {
                // Too large to hold in memory: every byte is still scanned, as
                // plain text, without the structure.
                tracing::debug!(
                    format = format.name(),
                    "structured text over the in-memory limit, scanned as plain text"
                );
                return text::extract_stream(reader_of(input), encoding, format, limits, sink);
            }
            let bytes = read_whole(input)?;
            let text = decode::decode_all(&bytes, encoding);
            Ok(match format {
                Format::Json => json::extract(&text, sink),
                Format::Hl7v2 => hl7::extract(&text, sink),
                Format::X12 => x12::extract(&text, sink),
                _ => markup::extract(&text, format == Format::Html, sink),
            })
        }
        Format::Zip => archive::extract_zip_input(input, limits, sink),
        Format::Rtf => {
            if input.size() > limits.max_whole_bytes {
                let mut outcome =
                    text::extract_stream(reader_of(input), encoding, format, limits, sink)?;
                if outcome.coverage == Coverage::Complete {
                    outcome.coverage = Coverage::Partial;
                    outcome.reason = Some(format!(
                        "RTF larger than the in-memory limit of {} MiB; scanned as plain text, without decoding escapes or embedded objects",
                        limits.max_whole_bytes >> 20
                    ));
                }
                return Ok(outcome);
            }
            let bytes = read_whole(input)?;
            Ok(rtf::extract(&bytes, limits, sink))
        }
        Format::Dicom => {
            let bytes = match read_whole_limited(input, limits, format)? {
                Ok(bytes) => bytes,
                Err(outcome) => return Ok(outcome),
            };
            Ok(dicom::extract(&bytes, limits, sink))
        }
        Format::Pdf => {
            let bytes = match read_whole_limited(input, limits, format)? {
                Ok(bytes) => bytes.into_owned(),
                Err(outcome) => return Ok(outcome),
            };
            Ok(pdf::extract(std::sync::Arc::new(bytes), limits, sink))
        }
        Format::Xlsx
        | Format::Xlsb
        | Format::Docx
        | Format::Pptx
        | Format::Odt
        | Format::Ods
        | Format::Odp
        | Format::Ole2
        | Format::Doc
        | Format::Xls
        | Format::Ppt => {
            let bytes = match read_whole_limited(input, limits, format)? {
                Ok(bytes) => bytes,
                Err(outcome) => return Ok(outcome),
            };
            Ok(match format {
                Format::Xlsx | Format::Xlsb => {
                    sheet::extract_ooxml_workbook(&bytes, format, limits, sink)
                }
                Format::Ods => sheet::ods::extract(&bytes, limits, sink),
                Format::Docx | Format::Pptx => {
                    office::extract_ooxml_document(&bytes, format, limits, sink)
                }
                Format::Odt | Format::Odp => {
                    office::extract_odf_document(&bytes, format, limits, sink)
                }
                _ => ole::extract(&bytes, limits, sink),
            })
        }
        Format::SevenZip => match read_whole_limited(input, limits, format)? {
            Ok(bytes) => Ok(archive::seven_zip_outcome(&bytes)),
            Err(_) => Ok(unsupported(format)),
        },
        Format::Gzip => archive::extract_gzip(input, limits, sink),
        Format::Bzip2 => archive::extract_bzip2(input, limits, sink),
        Format::Tar => archive::extract_tar(input, limits, sink),
        other => Ok(unsupported(other)),
    }
}

/// Scans a whole text as one plain segment; used where a structured reader
/// finds no structure to follow.
pub(crate) fn text_segment_outcome(text: &str, format: Format, sink: &mut dyn Sink) -> Outcome {
    let locate = |_: usize| Locator::Text;
    let segment = Segment {
        text,
        offset: 0,
        offset_map: &[],
        line: 1,
        column: 1,
        label: None,
        fields: &[],
        report: 0..text.len(),
        scope: RecordScope::Window,
        locate: &locate,
    };
    match sink.segment(&segment) {
        Flow::Continue => Outcome::complete(format),
        Flow::Stop => Outcome::stopped(format),
    }
}

/// Returns the outcome for formats phiscan detects but does not read.
pub fn unsupported(format: Format) -> Outcome {
    let reason = if format.is_image() {
        format!(
            "{} image: images are not examined, and photos or scanned pages may hold PHI",
            format.name()
        )
    } else {
        match format {
            Format::Executable => "executable program: not examined".to_string(),
            Format::Binary => "unrecognized binary data: not examined".to_string(),
            other => format!("{} files are not read yet", other.name()),
        }
    };
    Outcome::with(format, Coverage::Unsupported, reason)
}

pub(crate) fn reader_of<'a>(input: Input<'a>) -> Box<dyn Read + 'a> {
    match input {
        Input::Bytes(bytes) => Box::new(bytes),
        Input::Stream { head, rest, .. } => Box::new(head.chain(rest)),
    }
}

/// Reads the whole input into memory, or returns a `skipped` outcome when it
/// is larger than [`Limits::max_whole_bytes`].
pub(crate) fn read_whole_limited<'a>(
    input: Input<'a>,
    limits: &Limits,
    format: Format,
) -> std::io::Result<Result<std::borrow::Cow<'a, [u8]>, Outcome>> {
    if input.size() > limits.max_whole_bytes {
        return Ok(Err(Outcome::with(
            format,
            Coverage::Skipped,
            format!(
                "{} file larger than the in-memory limit of {} MiB (--max-item-mib); not examined",
                format.name(),
                limits.max_whole_bytes >> 20
            ),
        )));
    }
    read_whole(input).map(Ok)
}

/// Turns a member name from a container into text for its location: invalid
/// UTF-8 is escaped and leading `./` and `/` are dropped.
pub(crate) fn location_name(raw: impl AsRef<[u8]>) -> String {
    let name = phiscan_core::location::escape_invalid_utf8(raw.as_ref());
    let trimmed = name.trim_start_matches("./").trim_start_matches('/');
    trimmed.to_string()
}

/// Reads the whole input into memory; callers check the size limit first.
fn read_whole<'a>(input: Input<'a>) -> std::io::Result<std::borrow::Cow<'a, [u8]>> {
    match input {
        Input::Bytes(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
        Input::Stream { head, rest, size } => {
            let mut bytes = Vec::with_capacity(size as usize);
            bytes.extend_from_slice(head);
            rest.read_to_end(&mut bytes)?;
            Ok(std::borrow::Cow::Owned(bytes))
        }
    }
}

/// Hands text pieces of a structured document to a sink, counting offsets in
/// the item's extracted text (each piece followed by one separator byte).
pub(crate) struct Emitter<'s> {
    pub sink: &'s mut dyn Sink,
    pub offset: u64,
}

impl<'s> Emitter<'s> {
    pub fn new(sink: &'s mut dyn Sink) -> Emitter<'s> {
        Emitter { sink, offset: 0 }
    }

    /// Emits one piece of text under one locator.
    pub fn text(
        &mut self,
        text: &str,
        label: Option<&str>,
        scope: RecordScope,
        locator: Locator,
    ) -> Flow {
        let locate = move |_: usize| locator.clone();
        self.with_fields(text, label, &[], scope, &locate)
    }

    /// Emits one piece of text with named sub-ranges and its own locator function.
    pub fn with_fields(
        &mut self,
        text: &str,
        label: Option<&str>,
        fields: &[Field<'_>],
        scope: RecordScope,
        locate: &(dyn Fn(usize) -> Locator + Sync),
    ) -> Flow {
        if text.trim().is_empty() {
            return Flow::Continue;
        }
        let segment = Segment {
            text,
            offset: self.offset,
            offset_map: &[],
            line: 1,
            column: 1,
            label,
            fields,
            report: 0..text.len(),
            scope,
            locate,
        };
        self.offset += text.len() as u64 + 1;
        self.sink.segment(&segment)
    }

    /// Emits document properties, one segment each, as one record.
    pub fn properties(&mut self, properties: &[(String, String)], record: u64) -> Flow {
        for (name, value) in properties {
            let locator = Locator::Property { name: name.clone() };
            if self.text(value, Some(name), RecordScope::Record(record), locator) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }
}

/// Record key for an item's document properties, apart from its content.
pub(crate) const PROPERTIES_RECORD: u64 = u64::MAX - 1;
