//! PDF: text per page, AcroForm field values, document info and XMP
//! metadata, and embedded files as child items.
//!
//! Parsing runs on a separate thread that streams results back through a
//! bounded channel. A parser stuck on a hostile file (reference cycles,
//! broken cross-reference tables) so costs at most [`Limits::parse_timeout`],
//! and a panic inside lopdf or pdf-extract ends that thread only. Page text comes
//! from pdf-extract, which kept more word boundaries than lopdf's own
//! extractor on real-world forms (see `examples/pdf_text_compare.rs`). A page
//! where pdf-extract fails or panics falls back to lopdf's extractor.
//!
//! A PDF that needs a user password is `encrypted`, naming the cipher. One with
//! only an owner password opens without a password, so it is read, and its
//! reason says the encryption does not protect it. Pages without text but
//! with images (scans, faxes) make the item `partial`.

use crate::{Child, Emitter, Flow, Format, Limits, Outcome, PROPERTIES_RECORD};
use lopdf::{Dictionary, Document, Object, ObjectId};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Instant;

/// Results sent from the parsing thread.
enum Event {
    /// A user password is needed; the text names the cipher.
    Encrypted(String),
    /// Encrypted with an owner password only; the text names the cipher.
    OwnerOnly(String),
    Properties(Vec<(String, String)>),
    Page {
        number: u32,
        text: String,
        has_images: bool,
    },
    /// A page whose text could not be extracted.
    PageFailed {
        number: u32,
    },
    Field {
        name: String,
        label: Option<String>,
        value: String,
        page: Option<u32>,
    },
    Attachment {
        name: String,
        data: Result<Vec<u8>, String>,
    },
    /// Something was left unread, described by the text.
    Problem(String),
    /// The document could not be parsed at all.
    Invalid(String),
    /// The document was not parsed because a limit would be exceeded.
    OverLimit(String),
    Done,
}

/// Extracts a PDF held in memory.
pub fn extract(bytes: Arc<Vec<u8>>, limits: &Limits, sink: &mut dyn crate::Sink) -> Outcome {
    let format = Format::Pdf;
    let (sender, receiver) = sync_channel::<Event>(16);
    let worker_limits = limits.clone();
    let spawned = std::thread::Builder::new()
        .name("phiscan-worker-pdf".into())
        .spawn(move || {
            let sender_for_panic = sender.clone();
            if catch_unwind(AssertUnwindSafe(|| parse(&bytes, &worker_limits, &sender))).is_err() {
                let _ = sender_for_panic.send(Event::Invalid(
                    "the PDF parser failed with an internal error (panic)".into(),
                ));
            }
        });
    if let Err(err) = spawned {
        return Outcome::with(
            format,
            Coverage::Error,
            format!("cannot start the PDF parser thread: {err}"),
        );
    }
    receive(receiver, limits, sink)
}

/// Counts and problems seen by the receiving side, to word the outcome.
#[derive(Default)]
struct Tally {
    pages: u32,
    image_only: Vec<u32>,
    failed: Vec<u32>,
    problems: Vec<String>,
    owner_only: Option<String>,
}

fn receive(receiver: Receiver<Event>, limits: &Limits, sink: &mut dyn crate::Sink) -> Outcome {
    let format = Format::Pdf;
    let deadline = Instant::now() + limits.parse_timeout;
    let mut out = Emitter::new(sink);
    let mut tally = Tally::default();
    let mut received_any = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        // A result already queued when the time is up is not taken, so the
        // limit applies however fast the parser produces results.
        let received = match remaining.is_zero() {
            true => Err(RecvTimeoutError::Timeout),
            false => receiver.recv_timeout(remaining),
        };
        let event = match received {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                // NOTE: the parser thread cannot be killed. It ends at its next
                // send, which fails because the channel is closed.
                tally.problems.push(format!(
                    "PDF parsing exceeded the time limit of {} s after {} pages",
                    limits.parse_timeout.as_secs(),
                    tally.pages
                ));
                break;
            }
            Err(RecvTimeoutError::Disconnected) => {
                tally
                    .problems
                    .push("the PDF parser stopped before the end of the document".into());
                break;
            }
        };
        received_any = true;
        let flow = match event {
            Event::Done => break,
            Event::Encrypted(cipher) => {
                return Outcome::with(
                    format,
                    Coverage::Encrypted,
                    format!("PDF protected by a user password ({cipher}); content not examined"),
                );
            }
            Event::OverLimit(why) => {
                return Outcome::with(format, Coverage::Skipped, why);
            }
            Event::Invalid(why) if tally.pages == 0 => {
                return Outcome::with(format, Coverage::Error, why);
            }
            Event::Invalid(why) | Event::Problem(why) => {
                tally.problems.push(why);
                Flow::Continue
            }
            Event::OwnerOnly(cipher) => {
                tally.owner_only = Some(cipher);
                Flow::Continue
            }
            Event::Properties(properties) => out.properties(&properties, PROPERTIES_RECORD),
            Event::Page {
                number,
                text,
                has_images,
            } => {
                tally.pages += 1;
                if text.trim().is_empty() {
                    if has_images {
                        tally.image_only.push(number);
                    }
                    Flow::Continue
                } else {
                    let locator = Locator::Page { page: number };
                    out.text(&text, None, RecordScope::Record(u64::from(number)), locator)
                }
            }
            Event::PageFailed { number } => {
                tally.pages += 1;
                tally.failed.push(number);
                Flow::Continue
            }
            Event::Field {
                name,
                label,
                value,
                page,
            } => {
                let locator = Locator::FormField {
                    name: name.clone(),
                    page,
                };
                let label = label.unwrap_or_else(|| name.clone());
                let record = page.map_or(PROPERTIES_RECORD - 1, u64::from);
                out.text(&value, Some(&label), RecordScope::Record(record), locator)
            }
            Event::Attachment { name, data } => match data {
                Ok(data) => out.sink.child(Child {
                    name: &name,
                    data: &data,
                    modified: None,
                    unreadable: None,
                    damaged: None,
                }),
                Err(why) => out.sink.child(Child {
                    name: &name,
                    data: &[],
                    modified: None,
                    unreadable: Some((Coverage::Skipped, why)),
                    damaged: None,
                }),
            },
        };
        if flow == Flow::Stop {
            return Outcome::stopped(format);
        }
    }
    if !received_any {
        let reason = match tally.problems.is_empty() {
            true => "the PDF parser produced no result".to_string(),
            false => tally.problems.join("; "),
        };
        return Outcome::with(format, Coverage::Error, reason);
    }
    outcome_of(tally)
}

fn outcome_of(tally: Tally) -> Outcome {
    let format = Format::Pdf;
    let mut reasons = Vec::new();
    if !tally.image_only.is_empty() {
        reasons.push(format!(
            "{} of {} pages have no text layer (scanned or faxed images: {}); their content was not examined, as phiscan does no OCR",
            tally.image_only.len(),
            tally.pages,
            page_list(&tally.image_only)
        ));
    }
    if !tally.failed.is_empty() {
        reasons.push(format!(
            "text could not be extracted from {} of {} pages ({})",
            tally.failed.len(),
            tally.pages,
            page_list(&tally.failed)
        ));
    }
    reasons.extend(tally.problems);
    if reasons.is_empty() {
        return match tally.owner_only {
            Some(cipher) => Outcome {
                format,
                coverage: Coverage::Complete,
                reason: Some(format!(
                    "encrypted with an owner password only ({cipher}): it opens without a password, so the encryption does not protect its content"
                )),
                stopped: false,
            },
            None => Outcome::complete(format),
        };
    }
    if let Some(cipher) = tally.owner_only {
        reasons.push(format!(
            "owner password only ({cipher}), so the content is not protected"
        ));
    }
    Outcome::with(format, Coverage::Partial, reasons.join("; "))
}

/// Formats page numbers as `1, 3, 4` (at most 20, then a count).
fn page_list(pages: &[u32]) -> String {
    let mut listed: Vec<String> = pages.iter().take(20).map(u32::to_string).collect();
    if pages.len() > 20 {
        listed.push(format!("and {} more", pages.len() - 20));
    }
    format!("page {}", listed.join(", "))
}

/// Parses the document on the worker thread and sends what it finds.
fn parse(bytes: &[u8], limits: &Limits, sender: &SyncSender<Event>) {
    let send = |event: Event| sender.send(event).is_ok();
    if let Some(why) = load_time_bomb(bytes, limits) {
        send(Event::OverLimit(why));
        return;
    }
    let document = match Document::load_mem(bytes) {
        Ok(document) => document,
        Err(err) => {
            match repair_xref(bytes).and_then(|repaired| Document::load_mem(&repaired).ok()) {
                Some(document) => {
                    tracing::debug!("PDF cross-reference table rebuilt from object headers");
                    if !send(Event::Problem(format!(
                        "the PDF's cross-reference table is damaged ({err}); it was rebuilt from the object headers, so objects may be missing"
                    ))) {
                        return;
                    }
                    document
                }
                None => {
                    send(Event::Invalid(format!("invalid or damaged PDF: {err}")));
                    return;
                }
            }
        }
    };
    if let Ok(encrypt) = document
        .trailer
        .get_deref(b"Encrypt", &document)
        .and_then(Object::as_dict)
    {
        // lopdf tried the empty user password while loading and left the
        // dictionary in place because it did not open the document.
        send(Event::Encrypted(cipher_name(encrypt, &document)));
        return;
    }
    if let Some(state) = &document.encryption_state
        && !send(Event::OwnerOnly(state_cipher_name(state)))
    {
        return;
    }

    if !send(Event::Properties(properties(&document, limits))) {
        return;
    }
    let oversized = oversized_stream(&document, limits);
    if let Some(why) = &oversized {
        if !send(Event::Problem(format!(
            "page text was not extracted: {why}"
        ))) {
            return;
        }
    } else {
        for (number, page_id) in document.get_pages() {
            let has_images = page_has_images(&document, page_id);
            let event = match page_text(&document, number) {
                Some(text) => Event::Page {
                    number,
                    text,
                    has_images,
                },
                None => Event::PageFailed { number },
            };
            if !send(event) {
                return;
            }
        }
    }
    for field in form_fields(&document) {
        if !send(field) {
            return;
        }
    }
    for attachment in attachments(&document, limits) {
        if !send(attachment) {
            return;
        }
    }
    send(Event::Done);
}

/// Names the cipher of a standard security handler from its dictionary
/// (PDF 32000-1 7.6): RC4 for V 1 and 2, crypt filters for V 4 and 5.
fn cipher_name(encrypt: &Dictionary, document: &Document) -> String {
    let integer = |key: &[u8]| encrypt.get(key).and_then(Object::as_i64).ok();
    let version = integer(b"V").unwrap_or(0);
    let bits = integer(b"Length").unwrap_or(40);
    let crypt_filter = || -> Option<Vec<u8>> {
        let filters = encrypt
            .get_deref(b"CF", document)
            .and_then(Object::as_dict)
            .ok()?;
        let default = encrypt
            .get(b"StmF")
            .and_then(Object::as_name)
            .unwrap_or(b"StdCF");
        let filter = filters
            .get_deref(default, document)
            .and_then(Object::as_dict)
            .ok()?;
        filter
            .get(b"CFM")
            .and_then(Object::as_name)
            .ok()
            .map(<[u8]>::to_vec)
    };
    match version {
        1 => "RC4 40-bit, weak".into(),
        2 | 3 => format!("RC4 {bits}-bit, weak"),
        4 => match crypt_filter().as_deref() {
            Some(b"AESV2") => "AES-128, strong".into(),
            Some(b"V2") => "RC4 128-bit, weak".into(),
            _ => "crypt filter of an unknown method".into(),
        },
        5 => "AES-256, strong".into(),
        _ => "an unknown security handler".into(),
    }
}

/// Checks the streams lopdf inflates while loading (object streams and
/// cross-reference streams) against the expansion limits, by finding them in
/// the raw bytes; returns why the document must not be loaded. An 800 KiB
/// PDF whose object stream expands to 800 MiB would otherwise cost that much
/// memory before any other check runs.
fn load_time_bomb(bytes: &[u8], limits: &Limits) -> Option<String> {
    let mut total = 0u64;
    for marker in [&b"/ObjStm"[..], b"/XRef"] {
        for found in memchr::memmem::find_iter(bytes, marker) {
            let window = &bytes[found..bytes.len().min(found + 4096)];
            let Some(keyword) = memchr::memmem::find(window, b"stream") else {
                continue;
            };
            let mut start = found + keyword + b"stream".len();
            if bytes.get(start) == Some(&b'\r') {
                start += 1;
            }
            if bytes.get(start) == Some(&b'\n') {
                start += 1;
            }
            let Some(length) = memchr::memmem::find(&bytes[start.min(bytes.len())..], b"endstream")
            else {
                continue;
            };
            let data = &bytes[start..start + length];
            let cap = limits.max_whole_bytes.saturating_add(1);
            let mut decoder = flate2::read::ZlibDecoder::new(data).take(cap);
            let mut expanded = 0u64;
            let mut buffer = [0u8; 64 * 1024];
            while let Ok(read) = decoder.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                expanded += read as u64;
            }
            if expanded > limits.ratio_grace_bytes
                && expanded / (data.len().max(1) as u64) > limits.max_ratio
            {
                return Some(format!(
                    "an object stream expands more than {}:1 (a likely decompression bomb); the PDF was not parsed",
                    limits.max_ratio
                ));
            }
            total += expanded;
            if expanded > limits.max_whole_bytes || total > limits.max_expanded_bytes {
                return Some(format!(
                    "object streams expand past {} MiB; the PDF was not parsed",
                    limits.max_whole_bytes.min(limits.max_expanded_bytes) >> 20
                ));
            }
        }
    }
    None
}

/// Names the cipher of a document lopdf decrypted with the empty password.
fn state_cipher_name(state: &lopdf::encryption::EncryptionState) -> String {
    let bits = state
        .key_length()
        .map_or(40, |bytes| if bytes <= 16 { bytes * 8 } else { bytes });
    match state.version() {
        1 => "RC4 40-bit, weak".into(),
        2 | 3 => format!("RC4 {bits}-bit, weak"),
        4 => {
            let filter = state.crypt_filters().get(state.default_stream_filter());
            match filter.map(|filter| filter.method()) {
                Some(b"AESV2") => "AES-128, strong".into(),
                Some(b"V2") => "RC4 128-bit, weak".into(),
                _ => "crypt filter of an unknown method".into(),
            }
        }
        5 => "AES-256, strong".into(),
        _ => "an unknown security handler".into(),
    }
}

/// Rebuilds a damaged cross-reference table: finds every `N G obj` header,
/// keeps the last definition of each object (incremental updates), and
/// appends a fresh table and trailer. The trailer keeps `/Root`, `/Info`,
/// `/Encrypt` and `/ID` from the last old trailer, or finds the catalog.
fn repair_xref(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut offsets: std::collections::BTreeMap<u32, (u64, u16)> =
        std::collections::BTreeMap::new();
    let mut catalog = None;
    for found in memchr::memmem::find_iter(bytes, b" obj") {
        let Some((number, generation, start)) = object_header_before(bytes, found) else {
            continue;
        };
        offsets.insert(number, (start as u64, generation));
        let window = &bytes[found..bytes.len().min(found + 400)];
        let compact: Vec<u8> = window
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if memchr::memmem::find(&compact, b"/Type/Catalog").is_some() {
            catalog = Some((number, generation));
        }
    }
    if offsets.is_empty() {
        return None;
    }
    let old_trailer = memchr::memmem::rfind(bytes, b"trailer").map(|at| {
        let end =
            memchr::memmem::find(&bytes[at..], b"startxref").map_or(bytes.len(), |end| at + end);
        String::from_utf8_lossy(&bytes[at..end]).into_owned()
    });
    let reference_in = |text: &str, key: &str| -> Option<String> {
        let start = text.find(key)? + key.len();
        let rest = text[start..].trim_start();
        let end = rest.find('R')?;
        let reference = rest[..=end].trim().to_string();
        reference
            .split_whitespace()
            .count()
            .eq(&3)
            .then_some(reference)
    };
    let root = old_trailer
        .as_deref()
        .and_then(|text| reference_in(text, "/Root"))
        .or_else(|| catalog.map(|(number, generation)| format!("{number} {generation} R")))?;
    let mut trailer = format!("/Root {root}");
    for key in ["/Info", "/Encrypt"] {
        if let Some(reference) = old_trailer
            .as_deref()
            .and_then(|text| reference_in(text, key))
        {
            trailer.push_str(&format!(" {key} {reference}"));
        }
    }
    if let Some(text) = old_trailer.as_deref()
        && let Some(start) = text.find("/ID")
        && let Some(end) = text[start..].find(']')
    {
        trailer.push(' ');
        trailer.push_str(&text[start..=start + end]);
    }

    let size = offsets.keys().next_back().copied()? + 1;
    let mut repaired = bytes.to_vec();
    repaired.push(b'\n');
    let xref_at = repaired.len();
    repaired.extend_from_slice(format!("xref\n0 {size}\n").as_bytes());
    for number in 0..size {
        let line = match offsets.get(&number) {
            Some((offset, generation)) => format!("{offset:010} {generation:05} n\r\n"),
            None => "0000000000 65535 f\r\n".to_string(),
        };
        repaired.extend_from_slice(line.as_bytes());
    }
    repaired.extend_from_slice(
        format!("trailer\n<< /Size {size} {trailer} >>\nstartxref\n{xref_at}\n%%EOF\n").as_bytes(),
    );
    Some(repaired)
}

/// Parses `N G` before the ` obj` at `at`, at the start of a line or after
/// whitespace; returns the object number, generation and header offset.
fn object_header_before(bytes: &[u8], at: usize) -> Option<(u32, u16, usize)> {
    let after = bytes.get(at + 4).copied().unwrap_or(b' ');
    if after.is_ascii_alphanumeric() {
        return None;
    }
    let mut end = at;
    let digits = |end: usize| {
        let mut start = end;
        while start > 0 && bytes[start - 1].is_ascii_digit() {
            start -= 1;
        }
        (start < end).then_some(start)
    };
    let generation_start = digits(end)?;
    let generation: u16 = std::str::from_utf8(&bytes[generation_start..end])
        .ok()?
        .parse()
        .ok()?;
    end = generation_start;
    if end == 0 || bytes[end - 1] != b' ' {
        return None;
    }
    end -= 1;
    let number_start = digits(end)?;
    let number: u32 = std::str::from_utf8(&bytes[number_start..end])
        .ok()?
        .parse()
        .ok()?;
    if number_start > 0 && !bytes[number_start - 1].is_ascii_whitespace() {
        return None;
    }
    Some((number, generation, number_start))
}

/// Checks every Flate stream's expanded size against the limits before a
/// text extractor inflates them whole; returns why extraction must be skipped.
fn oversized_stream(document: &Document, limits: &Limits) -> Option<String> {
    let mut total = 0u64;
    for object in document.objects.values() {
        let Ok(stream) = object.as_stream() else {
            continue;
        };
        let Ok(filter) = stream.dict.get(b"Filter") else {
            continue;
        };
        let flate = match filter {
            Object::Name(name) => name == b"FlateDecode",
            Object::Array(names) => {
                names.len() == 1 && names[0].as_name().ok() == Some(b"FlateDecode")
            }
            _ => false,
        };
        if !flate {
            continue;
        }
        let cap = limits.max_whole_bytes.saturating_add(1);
        let mut decoder = flate2::read::ZlibDecoder::new(&stream.content[..]).take(cap);
        let mut counted = 0u64;
        let mut buffer = [0u8; 64 * 1024];
        while let Ok(read) = decoder.read(&mut buffer) {
            if read == 0 {
                break;
            }
            counted += read as u64;
        }
        let compressed = stream.content.len().max(1) as u64;
        if counted > limits.ratio_grace_bytes && counted / compressed > limits.max_ratio {
            return Some(format!(
                "a stream expands more than {}:1 (a likely decompression bomb)",
                limits.max_ratio
            ));
        }
        if counted > limits.max_whole_bytes {
            return Some(format!(
                "a stream expands past {} MiB",
                limits.max_whole_bytes >> 20
            ));
        }
        total += counted;
        if total > limits.max_expanded_bytes {
            return Some(format!(
                "streams expand past the limit of {} MiB for one item",
                limits.max_expanded_bytes >> 20
            ));
        }
    }
    None
}

/// Extracts one page's text with pdf-extract, falling back to lopdf.
fn page_text(document: &Document, number: u32) -> Option<String> {
    let primary = catch_unwind(AssertUnwindSafe(|| {
        let mut text = String::new();
        let mut output = pdf_extract::PlainTextOutput::new(&mut text);
        pdf_extract::output_doc_page(document, &mut output, number).map(|()| text)
    }));
    match primary {
        Ok(Ok(text)) => Some(text),
        _ => {
            tracing::debug!(
                page = number,
                "pdf-extract failed on a page; using lopdf's extractor"
            );
            catch_unwind(AssertUnwindSafe(|| document.extract_text(&[number])))
                .ok()
                .and_then(Result::ok)
        }
    }
}

/// Returns true when the page draws an image (an image XObject, directly or
/// inside a form XObject, or an inline image in its content).
fn page_has_images(document: &Document, page_id: ObjectId) -> bool {
    if let Ok(images) = document.get_page_images(page_id)
        && !images.is_empty()
    {
        return true;
    }
    let Ok((resources, resource_ids)) = document.get_page_resources(page_id) else {
        return false;
    };
    let mut dictionaries: Vec<&Dictionary> = resources.into_iter().collect();
    dictionaries.extend(
        resource_ids
            .iter()
            .filter_map(|id| document.get_dictionary(*id).ok()),
    );
    let mut seen = HashSet::new();
    for resources in dictionaries {
        if xobjects_have_image(document, resources, &mut seen, 0) {
            return true;
        }
    }
    document
        .get_page_content(page_id)
        .map(|content| {
            memchr::memmem::find(&content, b"BI").is_some()
                && memchr::memmem::find(&content, b"ID").is_some()
        })
        .unwrap_or(false)
}

fn xobjects_have_image(
    document: &Document,
    resources: &Dictionary,
    seen: &mut HashSet<ObjectId>,
    depth: u32,
) -> bool {
    if depth > 8 {
        return false;
    }
    let Ok(xobjects) = resources
        .get_deref(b"XObject", document)
        .and_then(Object::as_dict)
    else {
        return false;
    };
    for (_, reference) in xobjects.iter() {
        let Ok(id) = reference.as_reference() else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        let Ok(stream) = document.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => return true,
            Ok(b"Form") => {
                if let Ok(inner) = stream
                    .dict
                    .get_deref(b"Resources", document)
                    .and_then(Object::as_dict)
                    && xobjects_have_image(document, inner, seen, depth + 1)
                {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Decodes a PDF text string: UTF-16BE or UTF-8 with a byte-order mark,
/// PDFDocEncoding (read as Latin-1) otherwise.
pub fn text_string(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
        return char::decode_utf16(units)
            .map(|ch| ch.unwrap_or('\u{FFFD}'))
            .collect();
    }
    if let Some(utf8) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(utf8).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text of a string or name object; arrays are joined with commas.
fn object_text(object: &Object, document: &Document, depth: u32) -> Option<String> {
    match object {
        Object::String(bytes, _) => Some(text_string(bytes)),
        Object::Name(name) => Some(String::from_utf8_lossy(name).into_owned()),
        Object::Integer(value) => Some(value.to_string()),
        Object::Real(value) => Some(value.to_string()),
        Object::Reference(id) if depth < 4 => document
            .get_object(*id)
            .ok()
            .and_then(|object| object_text(object, document, depth + 1)),
        Object::Array(items) if depth < 4 => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|item| object_text(item, document, depth + 1))
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Object::Stream(stream) => stream
            .decompressed_content()
            .ok()
            .map(|content| String::from_utf8_lossy(&content).into_owned()),
        _ => None,
    }
}

/// Document information entries and XMP metadata text.
fn properties(document: &Document, limits: &Limits) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if let Ok(info) = document
        .trailer
        .get_deref(b"Info", document)
        .and_then(Object::as_dict)
    {
        for (key, value) in info.iter() {
            let name = String::from_utf8_lossy(key).into_owned();
            if matches!(name.as_str(), "CreationDate" | "ModDate" | "Trapped") {
                continue;
            }
            if let Some(text) = object_text(value, document, 0)
                && !text.trim().is_empty()
            {
                found.push((name, text));
            }
        }
    }
    let metadata = document
        .catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"Metadata").ok())
        .and_then(|reference| reference.as_reference().ok())
        .and_then(|id| document.get_object(id).ok())
        .and_then(|object| object.as_stream().ok());
    if let Some(stream) = metadata
        && (stream.content.len() as u64) < limits.max_whole_bytes
        && let Ok(xmp) = stream.decompressed_content()
    {
        found.extend(xmp_properties(&xmp));
    }
    found
}

/// Text of the XMP packet's leaf elements, named by their qualified names.
fn xmp_properties(xmp: &[u8]) -> Vec<(String, String)> {
    use quick_xml::events::Event as XmlEvent;
    let mut found = Vec::new();
    let mut reader = crate::xml::reader(xmp);
    let mut buffer = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let event = match reader.read_event_into(&mut buffer) {
            Ok(XmlEvent::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match &event {
            XmlEvent::Start(element) => {
                stack.push(String::from_utf8_lossy(element.name().as_ref()).into_owned());
                text.clear();
            }
            XmlEvent::End(_) => {
                let trimmed = text.trim();
                if !trimmed.is_empty() {
                    // `rdf:li` items take the name of their property (dc:creator).
                    let name = stack
                        .iter()
                        .rev()
                        .find(|name| !name.starts_with("rdf:"))
                        .cloned()
                        .unwrap_or_default();
                    let skipped = name.contains("Date")
                        || name.starts_with("xmpMM:")
                        || name == "pdf:Producer";
                    if !skipped {
                        found.push((format!("xmp {name}"), trimmed.to_string()));
                    }
                }
                text.clear();
                stack.pop();
            }
            other => {
                crate::xml::push_text(other, &mut text);
            }
        }
        buffer.clear();
    }
    found
}

/// AcroForm field values, by fully qualified name, with their tooltip as
/// label and the page of their widget.
fn form_fields(document: &Document) -> Vec<Event> {
    let mut events = Vec::new();
    let Ok(catalog) = document.catalog() else {
        return events;
    };
    let Ok(form) = catalog
        .get_deref(b"AcroForm", document)
        .and_then(Object::as_dict)
    else {
        return events;
    };
    let Ok(fields) = form
        .get_deref(b"Fields", document)
        .and_then(Object::as_array)
    else {
        return events;
    };
    let pages: HashMap<ObjectId, u32> = document
        .get_pages()
        .into_iter()
        .map(|(number, id)| (id, number))
        .collect();
    let mut seen = HashSet::new();
    let mut stack: Vec<(Object, String, u32)> = fields
        .iter()
        .rev()
        .map(|field| (field.clone(), String::new(), 0))
        .collect();
    while let Some((field, parent, depth)) = stack.pop() {
        let Ok(id) = field.as_reference() else {
            continue;
        };
        if depth > 32 || !seen.insert(id) || events.len() > 100_000 {
            continue;
        }
        let Ok(dictionary) = document.get_dictionary(id) else {
            continue;
        };
        let partial = dictionary
            .get(b"T")
            .ok()
            .and_then(|name| object_text(name, document, 0))
            .unwrap_or_default();
        let name = match (parent.is_empty(), partial.is_empty()) {
            (true, _) => partial.clone(),
            (false, true) => parent.clone(),
            (false, false) => format!("{parent}.{partial}"),
        };
        if let Ok(value) = dictionary.get(b"V")
            && let Some(text) = object_text(value, document, 0)
            && !text.trim().is_empty()
            && text != "Off"
        {
            let label = dictionary
                .get(b"TU")
                .ok()
                .and_then(|tooltip| object_text(tooltip, document, 0))
                .map(|tooltip| format!("{name} {tooltip}"));
            let page = widget_page(dictionary, &pages);
            events.push(Event::Field {
                name: name.clone(),
                label,
                value: text,
                page,
            });
        }
        if let Ok(kids) = dictionary
            .get_deref(b"Kids", document)
            .and_then(Object::as_array)
        {
            for kid in kids.iter().rev() {
                stack.push((kid.clone(), name.clone(), depth + 1));
            }
        }
    }
    events
}

fn widget_page(field: &Dictionary, pages: &HashMap<ObjectId, u32>) -> Option<u32> {
    field
        .get(b"P")
        .ok()
        .and_then(|page| page.as_reference().ok())
        .and_then(|id| pages.get(&id).copied())
}

/// Embedded files from the `EmbeddedFiles` name tree and file attachment
/// annotations.
fn attachments(document: &Document, limits: &Limits) -> Vec<Event> {
    let mut specs: Vec<(String, ObjectId)> = Vec::new();
    let mut seen = HashSet::new();
    if let Ok(catalog) = document.catalog()
        && let Ok(names) = catalog
            .get_deref(b"Names", document)
            .and_then(Object::as_dict)
        && let Ok(tree) = names
            .get_deref(b"EmbeddedFiles", document)
            .and_then(Object::as_dict)
    {
        collect_name_tree(document, tree, &mut specs, &mut seen, 0);
    }
    for (_, page_id) in document.get_pages() {
        let Ok(annotations) = document.get_page_annotations(page_id) else {
            continue;
        };
        for annotation in annotations {
            if annotation.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"FileAttachment")
                && let Ok(spec) = annotation.get(b"FS").and_then(Object::as_reference)
            {
                specs.push((String::new(), spec));
            }
        }
    }
    let mut events = Vec::new();
    let mut used = HashSet::new();
    for (key, spec_id) in specs {
        if !used.insert(spec_id) || events.len() as u64 >= limits.max_entries {
            continue;
        }
        let Ok(spec) = document.get_dictionary(spec_id) else {
            continue;
        };
        let name = [b"UF".as_slice(), b"F"]
            .iter()
            .find_map(|key| {
                spec.get(key)
                    .ok()
                    .and_then(|name| object_text(name, document, 0))
            })
            .filter(|name| !name.is_empty())
            .unwrap_or(if key.is_empty() {
                "attachment".into()
            } else {
                key
            });
        let stream = spec
            .get_deref(b"EF", document)
            .and_then(Object::as_dict)
            .and_then(|files| {
                files
                    .get_deref(b"UF", document)
                    .or_else(|_| files.get_deref(b"F", document))
            })
            .and_then(Object::as_stream);
        let Ok(stream) = stream else {
            continue;
        };
        let data = if stream.content.len() as u64 > limits.max_whole_bytes {
            Err(format!(
                "embedded file larger than {} MiB; not examined",
                limits.max_whole_bytes >> 20
            ))
        } else {
            bounded_stream_content(stream, limits)
        };
        events.push(Event::Attachment {
            name: crate::location_name(name.as_bytes()),
            data,
        });
    }
    events
}

/// Decodes a stream, inflating Flate data within the limits.
fn bounded_stream_content(stream: &lopdf::Stream, limits: &Limits) -> Result<Vec<u8>, String> {
    let flate = stream.dict.get(b"Filter").and_then(Object::as_name).ok() == Some(b"FlateDecode");
    if !flate {
        return stream
            .decompressed_content()
            .map_err(|err| format!("embedded file cannot be decoded: {err}"));
    }
    let mut expansion = crate::archive::Expansion::new(limits);
    let decoder = flate2::read::ZlibDecoder::new(&stream.content[..]);
    expansion
        .read_member(decoder, stream.content.len() as u64)
        .map_err(|error| match error {
            crate::archive::MemberError::Limit(why) => why,
            crate::archive::MemberError::Io(err) => format!("embedded file is corrupt: {err}"),
        })
}

fn collect_name_tree(
    document: &Document,
    node: &Dictionary,
    out: &mut Vec<(String, ObjectId)>,
    seen: &mut HashSet<ObjectId>,
    depth: u32,
) {
    if depth > 32 {
        return;
    }
    if let Ok(names) = node
        .get_deref(b"Names", document)
        .and_then(Object::as_array)
    {
        for pair in names.chunks(2) {
            if let [key, Object::Reference(spec)] = pair {
                let key = object_text(key, document, 0).unwrap_or_default();
                out.push((key, *spec));
            }
        }
    }
    if let Ok(kids) = node.get_deref(b"Kids", document).and_then(Object::as_array) {
        for kid in kids {
            if let Ok(id) = kid.as_reference()
                && seen.insert(id)
                && let Ok(child) = document.get_dictionary(id)
            {
                collect_name_tree(document, child, out, seen, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_strings_decode() {
        assert_eq!(text_string(b"\xFE\xFF\x00J\x00o"), "Jo");
        assert_eq!(text_string(b"Jos\xE9"), "José");
        assert_eq!(text_string(b"\xEF\xBB\xBFJos\xC3\xA9"), "José");
    }

    #[test]
    fn page_list_caps_at_twenty() {
        let pages: Vec<u32> = (1..=25).collect();
        assert!(page_list(&pages).ends_with("and 5 more"));
        assert_eq!(page_list(&[2, 5]), "page 2, 5");
    }
}
