//! Internet messages (RFC 5322 with MIME): EML files, mbox members, messages
//! fetched over IMAP and message/rfc822 attachments.
//!
//! mail-parser splits the message into parts and decodes headers (RFC 2047
//! words, RFC 2231 parameters), transfer encodings and charsets. This module
//! decides what each part is: a text body, an attachment or a nested message.
//! It checks what mail-parser repairs silently (a broken base64 or
//! quoted-printable body, a missing closing boundary), so that such a message
//! is recorded `partial`. It also reads the envelope for data flows.

use super::{
    BodySink, Envelope, LineIndex, MESSAGE_RECORD, MemberNames, Problems, Protection, Recipient,
    TextPiece,
};
use crate::{Child, Flow, Format, Limits, Outcome, Sink};
use mail_parser::{
    Address, ContentType, Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart,
    MimeHeaders, PartType,
};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;

/// Headers written by mail software for routing, threading and MIME
/// structure, not by people. Their values (dates, hosts, message ids, IP
/// addresses) are not scanned: a Date header would otherwise tie a
/// quasi-identifier to every message. The Date and Received values feed the
/// envelope instead.
const MACHINE_HEADERS: [&str; 18] = [
    "date",
    "received",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "return-path",
    "dkim-signature",
    "domainkey-signature",
    "authentication-results",
    "received-spf",
    "thread-index",
    "x-mailer",
    "user-agent",
];

/// Prefixes of machine-written header names (see [`MACHINE_HEADERS`]).
const MACHINE_PREFIXES: [&str; 9] = [
    "arc-",
    "list-",
    "x-ms-",
    "x-microsoft-",
    "x-forefront-",
    "x-google-",
    "x-gm-",
    "x-spam",
    "x-received",
];

/// Extracts one message held in memory.
pub fn extract_message(raw: &[u8], limits: &Limits, sink: &mut dyn Sink) -> Outcome {
    let format = Format::Eml;
    let Some(message) = MessageParser::default().parse(raw) else {
        return Outcome::with(
            format,
            Coverage::Error,
            "no message headers found: not an Internet message",
        );
    };
    let mut walk = Walk {
        raw,
        message: &message,
        lines: LineIndex::new(raw),
        limits,
        problems: Problems::default(),
        names: MemberNames::default(),
        attachments: 0,
        protection: Protection::None,
        part_damage: None,
    };

    walk.protection = protection_of(&message);
    if walk.scan_headers(sink) == Flow::Stop {
        return Outcome::stopped(format);
    }
    if walk.protection == Protection::Encrypted {
        walk.problems.encrypted(
            "the message body is encrypted (S/MIME or PGP) and was not read; only its headers were scanned",
        );
    } else if walk.part(0, "", sink) == Flow::Stop {
        return Outcome::stopped(format);
    }
    let envelope = envelope_of(&message, walk.protection, walk.attachments);
    sink.envelope(&envelope);
    walk.problems.outcome(format)
}

struct Walk<'a, 'x> {
    raw: &'a [u8],
    message: &'a Message<'x>,
    lines: LineIndex,
    limits: &'a Limits,
    problems: Problems,
    names: MemberNames,
    attachments: u32,
    protection: Protection,
    /// The reason the current part's content is damaged, for its attachment item.
    part_damage: Option<String>,
}

impl<'a> Walk<'a, '_> {
    /// Scans the headers: each in its own record, except the subject, which
    /// shares the message record with the bodies and so goes last.
    fn scan_headers(&mut self, sink: &mut dyn Sink) -> Flow {
        let headers = &self.message.parts[0].headers;
        let mut subject = None;
        for (index, header) in headers.iter().enumerate() {
            let name = header_name(&header.name);
            let lower = name.to_ascii_lowercase();
            if is_machine_header(&lower) {
                continue;
            }
            let Some(text) = header_text(&header.value) else {
                continue;
            };
            if lower == "subject" {
                subject = Some((header, text));
                continue;
            }
            let scope = RecordScope::Record(MESSAGE_RECORD + 1 + index as u64);
            if self.send_header(name, header.offset_start, &text, scope, sink) == Flow::Stop {
                return Flow::Stop;
            }
        }
        if let Some((header, text)) = subject {
            let scope = RecordScope::Record(MESSAGE_RECORD);
            let name = header_name(&header.name);
            return self.send_header(name, header.offset_start, &text, scope, sink);
        }
        Flow::Continue
    }

    fn send_header(
        &self,
        name: &str,
        offset: u32,
        text: &str,
        scope: RecordScope,
        sink: &mut dyn Sink,
    ) -> Flow {
        // The value starts after the colon; skip the folding white space.
        let mut start = offset as usize;
        while self
            .raw
            .get(start)
            .is_some_and(|&b| b == b' ' || b == b'\t')
        {
            start += 1;
        }
        let (line, column) = self.lines.position(start);
        TextPiece {
            text,
            offset: start as u64,
            line,
            column,
            scope,
            locator: Locator::MailHeader {
                header: name.to_string(),
            },
        }
        .send(sink)
    }

    /// Walks one MIME part and its children. `number` is the part's IMAP
    /// section number, empty for the root of a message.
    fn part(&mut self, id: u32, number: &str, sink: &mut dyn Sink) -> Flow {
        let Some(part) = self.message.parts.get(id as usize) else {
            return Flow::Continue;
        };
        match &part.body {
            PartType::Multipart(children) => {
                self.check_closing_boundary(part, number);
                let children = children.clone();
                for (index, child) in children.into_iter().enumerate() {
                    let child_number = if number.is_empty() {
                        (index + 1).to_string()
                    } else {
                        format!("{number}.{}", index + 1)
                    };
                    if self.part(child, &child_number, sink) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                Flow::Continue
            }
            body => {
                let number = if number.is_empty() { "1" } else { number };
                self.leaf(id, part, body, number, sink)
            }
        }
    }

    fn leaf(
        &mut self,
        id: u32,
        part: &MessagePart<'_>,
        body: &PartType<'_>,
        number: &str,
        sink: &mut dyn Sink,
    ) -> Flow {
        let media_type = media_type(part.content_type());
        // mail-parser lists the bodies it chose; an unnamed inline text part
        // that it left out (after a broken boundary) is a body too.
        let inline_text = matches!(media_type.as_str(), "text/plain" | "text/html")
            && part.attachment_name().is_none()
            && !part
                .content_disposition()
                .is_some_and(|d| d.is_attachment());
        let is_body = self.message.text_body.contains(&id)
            || self.message.html_body.contains(&id)
            || inline_text;
        let recovered = self.recover_encoding(part, number);

        match body {
            PartType::Text(text) | PartType::Html(text) if is_body => {
                let text = match &recovered {
                    Some(bytes) => decode_charset(bytes, part.content_type()),
                    None => match self.undeclared_8bit(part) {
                        Some(text) => text,
                        None => fix_latin1(text, part.content_type()),
                    },
                };
                self.check_inline_pgp(&text);
                let html = matches!(body, PartType::Html(_));
                self.send_body(part, number, &media_type, &text, html, sink)
            }
            PartType::Text(text) | PartType::Html(text) => {
                let bytes = match recovered {
                    Some(bytes) => bytes,
                    None => fix_latin1(text, part.content_type()).into_bytes(),
                };
                self.send_attachment(part, number, &bytes, "", sink)
            }
            // A detached signature contains a certificate and a digest, no
            // content, so it is not an attachment to read.
            PartType::Binary(_) | PartType::InlineBinary(_)
                if matches!(
                    media_type.as_str(),
                    "application/pkcs7-signature"
                        | "application/x-pkcs7-signature"
                        | "application/pgp-signature"
                ) =>
            {
                Flow::Continue
            }
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                let bytes = recovered.as_deref().unwrap_or(bytes);
                self.send_attachment(part, number, bytes, "", sink)
            }
            PartType::Message(nested) => {
                // A nested message is re-read from its own bytes, as an item of its own.
                let start = part.offset_body as usize;
                let end = (part.offset_end as usize).min(self.raw.len());
                let bytes = if part.encoding == Encoding::None && start < end {
                    &self.raw[start..end]
                } else {
                    nested.raw_message()
                };
                self.send_attachment(part, number, bytes, ".eml", sink)
            }
            PartType::Multipart(_) => Flow::Continue,
        }
    }

    fn send_body(
        &mut self,
        part: &MessagePart<'_>,
        number: &str,
        media_type: &str,
        text: &str,
        html: bool,
        sink: &mut dyn Sink,
    ) -> Flow {
        let offset = part.offset_body as usize;
        let (line, column) = self.lines.position(offset.min(self.raw.len()));
        let locator = Locator::MailBody {
            part: number.to_string(),
            media_type: Some(media_type.to_string()),
        };
        if html {
            let mut body_sink = BodySink {
                inner: sink,
                locator,
                offset: offset as u64,
                line,
            };
            let outcome = crate::markup::extract(text, true, &mut body_sink);
            if outcome.stopped {
                return Flow::Stop;
            }
            if outcome.coverage != Coverage::Complete {
                self.problems.partial(format!(
                    "part {number} (HTML): {}",
                    outcome.reason.unwrap_or_default()
                ));
            }
            return Flow::Continue;
        }
        TextPiece {
            text,
            offset: offset as u64,
            line,
            column,
            scope: RecordScope::Record(MESSAGE_RECORD),
            locator,
        }
        .send(sink)
    }

    fn send_attachment(
        &mut self,
        part: &MessagePart<'_>,
        number: &str,
        data: &[u8],
        extension: &str,
        sink: &mut dyn Sink,
    ) -> Flow {
        self.attachments += 1;
        let fallback = format!("part-{number}{extension}");
        let name = self.names.unique(part.attachment_name(), &fallback);
        let too_large = data.len() as u64 > self.limits.max_whole_bytes;
        let unreadable = too_large.then(|| {
            (
                Coverage::Skipped,
                format!(
                    "attachment of {} MiB is larger than the in-memory limit (--max-item-mib)",
                    data.len() >> 20
                ),
            )
        });
        sink.child(Child {
            name: &name,
            data: if too_large { &[] } else { data },
            modified: None,
            unreadable,
            damaged: self.part_damage.clone(),
        })
    }

    /// Returns a part's body as it is in the message, before any transfer
    /// decoding.
    fn raw_body(&self, part: &MessagePart<'_>) -> &'a [u8] {
        let start = (part.offset_body as usize).min(self.raw.len());
        let end = (part.offset_end as usize).clamp(start, self.raw.len());
        &self.raw[start..end]
    }

    /// Decodes an unencoded part with 8-bit bytes that are not UTF-8 and no
    /// charset, or US-ASCII, declared as Windows-1252, as mail clients do:
    /// such text comes from Windows programs. Returns None for other parts.
    fn undeclared_8bit(&self, part: &MessagePart<'_>) -> Option<String> {
        let declared = part
            .content_type()
            .and_then(|ct| ct.attribute("charset"))
            .map(|label| label.trim().to_ascii_lowercase());
        if !matches!(declared.as_deref(), None | Some("us-ascii" | "ascii")) {
            return None;
        }
        let transfer = part
            .content_transfer_encoding()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(transfer.as_str(), "" | "7bit" | "8bit" | "binary") {
            return None;
        }
        let raw = self.raw_body(part);
        if std::str::from_utf8(raw).is_ok() {
            return None;
        }
        Some(
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(raw)
                .0
                .into_owned(),
        )
    }

    /// Decodes a part that mail-parser gave up on, as far as it decodes, and
    /// notes the damage. Quoted-printable parts are checked for invalid
    /// escapes, because decoders pass them through unchanged.
    fn recover_encoding(&mut self, part: &MessagePart<'_>, number: &str) -> Option<Vec<u8>> {
        let transfer = part
            .content_transfer_encoding()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let encoded = self.raw_body(part);
        self.part_damage = None;
        match transfer.as_str() {
            "base64" if part.is_encoding_problem => {
                let (bytes, _) = decode_base64_lenient(encoded);
                self.damage(format!(
                    "part {number}: invalid base64, decoded as far as possible"
                ));
                Some(bytes)
            }
            "base64" => {
                if !base64_is_clean(encoded) {
                    self.damage(format!(
                        "part {number}: invalid characters or a truncated end in base64, decoded as far as possible"
                    ));
                }
                None
            }
            "quoted-printable" => {
                if !quoted_printable_is_clean(encoded) {
                    self.damage(format!(
                        "part {number}: invalid quoted-printable escapes, kept as written"
                    ));
                }
                None
            }
            _ if part.is_encoding_problem => {
                self.problems.partial(format!(
                    "part {number}: malformed MIME part, read as plain text"
                ));
                None
            }
            _ => None,
        }
    }

    /// Notes damage to the current part: the message is partial, and so is
    /// the attachment item made from the part.
    fn damage(&mut self, reason: String) {
        self.problems.partial(reason.clone());
        self.part_damage = Some(reason);
    }

    fn check_closing_boundary(&mut self, part: &MessagePart<'_>, number: &str) {
        let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary")) else {
            return;
        };
        let start = (part.offset_body as usize).min(self.raw.len());
        let closing = format!("--{boundary}--");
        if memchr::memmem::find(&self.raw[start..], closing.as_bytes()).is_none() {
            let which = if number.is_empty() {
                "the message".to_string()
            } else {
                format!("multipart part {number}")
            };
            self.problems.partial(format!(
                "{which}: closing MIME boundary missing; the message may be truncated"
            ));
        }
    }

    fn check_inline_pgp(&mut self, text: &str) {
        if text.contains("-----BEGIN PGP MESSAGE-----") {
            self.protection = Protection::Encrypted;
            self.problems
                .encrypted("a body holds a PGP-encrypted block, which was not read");
        } else if text.contains("-----BEGIN PGP SIGNED MESSAGE-----")
            && self.protection == Protection::None
        {
            self.protection = Protection::Signed;
        }
    }
}

fn header_name<'h>(name: &'h HeaderName<'_>) -> &'h str {
    match name {
        HeaderName::Other(name) => name.as_ref(),
        known => known.as_static_str(),
    }
}

fn is_machine_header(lower: &str) -> bool {
    MACHINE_HEADERS.contains(&lower) || MACHINE_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// Returns the decoded text of a header for scanning, or None for values
/// that are not text (dates, content types).
fn header_text(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(text) => Some(text.to_string()),
        HeaderValue::TextList(list) => Some(list.join(", ")),
        HeaderValue::Address(address) => Some(address_text(address)),
        _ => None,
    }
}

/// Writes an address list as `Name <address>, ...`, group names included.
fn address_text(address: &Address<'_>) -> String {
    let mut parts = Vec::new();
    if let Address::Group(groups) = address {
        for group in groups {
            if let Some(name) = &group.name {
                parts.push(format!("{name}:"));
            }
        }
    }
    for addr in address.iter() {
        match (addr.name(), addr.address()) {
            (Some(name), Some(address)) => parts.push(format!("{name} <{address}>")),
            (None, Some(address)) => parts.push(address.to_string()),
            (Some(name), None) => parts.push(name.to_string()),
            (None, None) => {}
        }
    }
    parts.join(", ")
}

fn media_type(content_type: Option<&ContentType<'_>>) -> String {
    match content_type {
        Some(ct) => match ct.subtype() {
            Some(subtype) => format!("{}/{}", ct.ctype(), subtype).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => "text/plain".to_string(),
    }
}

/// Decodes recovered bytes in the part's charset (UTF-8 when unknown).
fn decode_charset(bytes: &[u8], content_type: Option<&ContentType<'_>>) -> String {
    let label = content_type
        .and_then(|ct| ct.attribute("charset"))
        .unwrap_or("utf-8");
    let encoding =
        encoding_rs::Encoding::for_label(label.trim().as_bytes()).unwrap_or(encoding_rs::UTF_8);
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

/// Re-reads text labelled ISO-8859-1 or US-ASCII as Windows-1252, as mail
/// clients do: Windows programs label Windows-1252 text (curly quotes,
/// dashes, the euro sign) as ISO-8859-1, whose decoding turns those bytes
/// into C1 control characters.
fn fix_latin1(text: &str, content_type: Option<&ContentType<'_>>) -> String {
    let latin1 = content_type
        .and_then(|ct| ct.attribute("charset"))
        .is_some_and(|label| {
            let label = label.trim().to_ascii_lowercase();
            matches!(
                label.as_str(),
                "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1" | "us-ascii" | "ascii"
            )
        });
    if !latin1 || !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if ('\u{80}'..='\u{9f}').contains(&c) {
                let byte = [c as u32 as u8];
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(&byte)
                    .0
                    .chars()
                    .next()
                    .unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Decodes base64, skipping characters outside the alphabet and stopping at
/// padding; returns the bytes and whether anything was skipped or cut.
pub(crate) fn decode_base64_lenient(encoded: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(encoded.len() / 4 * 3);
    let mut quantum = 0u32;
    let mut count = 0;
    let mut damaged = false;
    for &byte in encoded {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => {
                damaged = true;
                continue;
            }
        };
        quantum = (quantum << 6) | u32::from(value);
        count += 1;
        if count == 4 {
            out.extend_from_slice(&[(quantum >> 16) as u8, (quantum >> 8) as u8, quantum as u8]);
            quantum = 0;
            count = 0;
        }
    }
    match count {
        2 => out.push((quantum >> 4) as u8),
        3 => out.extend_from_slice(&[(quantum >> 10) as u8, (quantum >> 2) as u8]),
        1 => damaged = true,
        _ => {}
    }
    (out, damaged)
}

/// Returns true when base64 text holds only the alphabet, white space and
/// final padding, in whole 4-character groups.
fn base64_is_clean(encoded: &[u8]) -> bool {
    let mut count = 0usize;
    let mut padding = 0usize;
    for &byte in encoded {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if padding == 0 => count += 1,
            b'=' => padding += 1,
            b'\r' | b'\n' | b' ' | b'\t' => {}
            // A boundary line after the part ends the encoded text.
            b'-' if count.is_multiple_of(4) => break,
            _ => return false,
        }
    }
    (count + padding).is_multiple_of(4) && padding <= 2
}

/// Returns true when every `=` in quoted-printable text starts a soft line
/// break or a two-digit hex escape.
fn quoted_printable_is_clean(encoded: &[u8]) -> bool {
    let mut index = 0;
    while let Some(found) = memchr::memchr(b'=', &encoded[index..]) {
        let at = index + found;
        let rest = &encoded[at + 1..];
        let soft_break = {
            let trimmed = rest
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .map_or(&[][..], |skip| &rest[skip..]);
            trimmed.is_empty() || trimmed.starts_with(b"\n") || trimmed.starts_with(b"\r\n")
        };
        let hex = rest.len() >= 2 && rest[0].is_ascii_hexdigit() && rest[1].is_ascii_hexdigit();
        if !soft_break && !hex {
            return false;
        }
        index = at + 1;
    }
    true
}

/// Reads S/MIME and PGP/MIME protection from the root content type.
fn protection_of(message: &Message<'_>) -> Protection {
    let Some(content_type) = message.content_type() else {
        return Protection::None;
    };
    let media = media_type(Some(content_type));
    let protocol = content_type
        .attribute("protocol")
        .unwrap_or("")
        .to_ascii_lowercase();
    match media.as_str() {
        "multipart/encrypted" => Protection::Encrypted,
        "multipart/signed" => Protection::Signed,
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            let smime_type = content_type
                .attribute("smime-type")
                .unwrap_or("")
                .to_ascii_lowercase();
            if smime_type == "signed-data" || smime_type == "certs-only" {
                Protection::Signed
            } else {
                Protection::Encrypted
            }
        }
        _ if protocol.contains("pgp-encrypted") => Protection::Encrypted,
        _ => Protection::None,
    }
}

/// Collects the envelope from the root headers.
fn envelope_of(message: &Message<'_>, protection: Protection, attachments: u32) -> Envelope {
    let first = |address: Option<&Address<'_>>| {
        address
            .and_then(|address| address.iter().find_map(|addr| addr.address()))
            .map(str::to_string)
    };
    let from = first(message.resent_from())
        .or_else(|| first(message.from()))
        .or_else(|| first(message.sender()))
        .or_else(|| first(message.reply_to()));

    let mut recipients = Vec::new();
    let fields: [(&'static str, HeaderName<'_>); 6] = [
        ("to", HeaderName::To),
        ("cc", HeaderName::Cc),
        ("bcc", HeaderName::Bcc),
        ("resent-to", HeaderName::ResentTo),
        ("resent-cc", HeaderName::ResentCc),
        ("resent-bcc", HeaderName::ResentBcc),
    ];
    for (field, name) in fields {
        for value in message.header_values(name) {
            if let Some(address) = value.as_address() {
                for addr in address.iter() {
                    if let Some(address) = addr.address() {
                        recipients.push(Recipient {
                            field,
                            address: address.to_string(),
                        });
                    }
                }
            }
        }
    }

    let mut auto_forwarded = false;
    for header in message.headers() {
        let name = header_name(&header.name).to_ascii_lowercase();
        let text = header
            .value
            .as_text()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "x-ms-exchange-organization-autoforwarded" | "x-autoforwarded" => {
                auto_forwarded |= text == "true" || text == "yes";
            }
            "x-ms-exchange-inbox-rules-loop" => auto_forwarded = true,
            "auto-submitted" => auto_forwarded |= text.starts_with("auto-forwarded"),
            "x-forwarded-to" => {
                auto_forwarded = true;
                for address in text.split([',', ' ']).filter(|a| a.contains('@')) {
                    recipients.push(Recipient {
                        field: "x-forwarded-to",
                        address: address.to_string(),
                    });
                }
            }
            _ => {}
        }
    }

    let sent = message.date().map(|date| date.to_timestamp()).or_else(|| {
        message
            .received()
            .and_then(|received| received.date.as_ref())
            .map(|date| date.to_timestamp())
    });

    Envelope {
        from,
        recipients,
        sent,
        auto_forwarded,
        protection,
        attachments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Segment;

    #[derive(Default)]
    struct Collect {
        texts: Vec<(String, Locator, RecordScope)>,
        children: Vec<(String, Vec<u8>)>,
        skipped: Vec<String>,
        damaged: Vec<String>,
        envelope: Option<Envelope>,
    }

    impl Sink for Collect {
        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            self.texts
                .push((segment.text.to_string(), (segment.locate)(0), segment.scope));
            Flow::Continue
        }

        fn child(&mut self, child: Child<'_>) -> Flow {
            if child.unreadable.is_some() {
                self.skipped.push(child.name.to_string());
            }
            if child.damaged.is_some() {
                self.damaged.push(child.name.to_string());
            }
            self.children
                .push((child.name.to_string(), child.data.to_vec()));
            Flow::Continue
        }

        fn envelope(&mut self, envelope: &Envelope) {
            self.envelope = Some(envelope.clone());
        }
    }

    fn run(raw: &str) -> (Outcome, Collect) {
        let mut sink = Collect::default();
        let outcome = extract_message(raw.as_bytes(), &Limits::default(), &mut sink);
        (outcome, sink)
    }

    fn body_texts(sink: &Collect) -> Vec<&str> {
        sink.texts
            .iter()
            .filter(|(_, locator, _)| locator.kind() == "mail-body")
            .map(|(text, _, _)| text.as_str())
            .collect()
    }

    const MULTIPART: &str = "From: Front Desk <desk@clinic-a.org>\r\n\
To: pat@webmail-b.net\r\n\
Cc: Billing <billing@clinic-a.org>\r\n\
Subject: =?utf-8?q?Lab_results_for_Jos=C3=A9?=\r\n\
Date: Tue, 05 Mar 2024 10:00:00 -0500\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Caf=E9 =93quoted=94 note\r\n\
--b1\r\n\
Content-Type: text/csv; name*=UTF-8''r%C3%A9sultats.csv\r\n\
Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sultats.csv\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
bmFtZSxkb2IKQSwx\r\n\
--b1--\r\n";

    #[test]
    fn multipart_headers_body_and_attachment() {
        let (outcome, sink) = run(MULTIPART);
        assert_eq!(outcome.coverage, Coverage::Complete, "{:?}", outcome.reason);
        let subject = sink
            .texts
            .iter()
            .find(|(_, locator, _)| {
                *locator
                    == Locator::MailHeader {
                        header: "Subject".into(),
                    }
            })
            .unwrap();
        assert_eq!(subject.0, "Lab results for José");
        assert_eq!(subject.2, RecordScope::Record(MESSAGE_RECORD));
        assert_eq!(body_texts(&sink), ["Café \u{201c}quoted\u{201d} note"]);
        assert_eq!(sink.children.len(), 1);
        assert_eq!(sink.children[0].0, "résultats.csv");
        assert_eq!(sink.children[0].1, b"name,dob\nA,1");
    }

    #[test]
    fn subject_comes_after_other_headers() {
        let (_, sink) = run(MULTIPART);
        let last_header = sink
            .texts
            .iter()
            .rposition(|(_, locator, _)| locator.kind() == "mail-header")
            .unwrap();
        assert_eq!(
            sink.texts[last_header].1,
            Locator::MailHeader {
                header: "Subject".into()
            }
        );
        assert!(
            !sink.texts.iter().any(|(text, _, _)| text.contains("2024")),
            "Date header scanned"
        );
    }

    #[test]
    fn envelope_lists_recipients() {
        let (_, sink) = run(MULTIPART);
        let envelope = sink.envelope.unwrap();
        assert_eq!(envelope.from.as_deref(), Some("desk@clinic-a.org"));
        let fields: Vec<(&str, &str)> = envelope
            .recipients
            .iter()
            .map(|r| (r.field, r.address.as_str()))
            .collect();
        assert_eq!(
            fields,
            [("to", "pat@webmail-b.net"), ("cc", "billing@clinic-a.org")]
        );
        assert_eq!(envelope.sent, Some(1709650800));
        assert_eq!(envelope.attachments, 1);
        assert_eq!(envelope.protection, Protection::None);
        assert!(!envelope.auto_forwarded);
    }

    #[test]
    fn broken_base64_is_partial_and_decoded() {
        let raw = "From: a@b.org\nTo: c@d.org\nSubject: x\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29y*bGQ\n";
        let (outcome, sink) = run(raw);
        assert_eq!(outcome.coverage, Coverage::Partial);
        assert!(outcome.reason.unwrap().contains("base64"));
        assert!(body_texts(&sink).concat().contains("hello"));
        assert!(sink.damaged.is_empty(), "a body is not an attachment");

        // An attachment cut off in its base64 is read, and marked damaged.
        let raw = "From: a@b.org\nTo: c@d.org\nSubject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee list\n--b\nContent-Type: text/csv; name=list.csv\nContent-Disposition: attachment; filename=list.csv\nContent-Transfer-Encoding: base64\n\nbmFtZSxkb2IKQSwx*bmFt\n--b--\n";
        let (_, sink) = run(raw);
        assert_eq!(sink.damaged, ["list.csv"]);
    }

    #[test]
    fn broken_quoted_printable_is_partial() {
        let raw = "From: a@b.org\nTo: c@d.org\nSubject: x\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nvalue =ZZ here\n";
        let (outcome, _) = run(raw);
        assert_eq!(outcome.coverage, Coverage::Partial);
        assert!(outcome.reason.unwrap().contains("quoted-printable"));
    }

    #[test]
    fn missing_closing_boundary_is_partial() {
        let raw = "From: a@b.org\nTo: c@d.org\nSubject: x\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nfirst part\n";
        let (outcome, sink) = run(raw);
        assert_eq!(outcome.coverage, Coverage::Partial);
        assert!(outcome.reason.unwrap().contains("boundary"));
        assert!(body_texts(&sink).concat().contains("first part"));
    }

    #[test]
    fn nested_message_is_a_child() {
        let raw = "From: a@b.org\nTo: c@d.org\nSubject: fwd\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\nsee below\n--q\nContent-Type: message/rfc822\n\nFrom: x@y.org\nTo: z@w.org\nSubject: inner\n\ninner body\n--q--\n";
        let (outcome, sink) = run(raw);
        assert_eq!(outcome.coverage, Coverage::Complete, "{:?}", outcome.reason);
        assert_eq!(sink.children.len(), 1);
        assert_eq!(sink.children[0].0, "part-2.eml");
        let inner = String::from_utf8(sink.children[0].1.clone()).unwrap();
        assert!(inner.starts_with("From: x@y.org"), "{inner}");
        assert!(inner.contains("inner body"));
    }

    #[test]
    fn encrypted_smime_is_encrypted() {
        let raw = "From: a@b.org\nTo: c@d.org\nSubject: Results for Maria\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHA6CAMIACAQAx\n";
        let (outcome, sink) = run(raw);
        assert_eq!(outcome.coverage, Coverage::Encrypted);
        assert!(sink.children.is_empty());
        assert_eq!(sink.envelope.unwrap().protection, Protection::Encrypted);
        assert!(
            sink.texts
                .iter()
                .any(|(text, _, _)| text == "Results for Maria")
        );
    }

    #[test]
    fn signed_is_signed_and_read() {
        let raw = "From: a@b.org\nTo: c@d.org\nSubject: s\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=s1\n\n--s1\nContent-Type: text/plain\n\nreadable body\n--s1\nContent-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n\nMIAGCSqG\n--s1--\n";
        let (_, sink) = run(raw);
        assert_eq!(
            sink.envelope.as_ref().unwrap().protection,
            Protection::Signed
        );
        assert!(body_texts(&sink).concat().contains("readable body"));
        assert!(sink.children.is_empty(), "{:?}", sink.children);
    }

    #[test]
    fn auto_forward_and_resent() {
        let raw = "From: a@b.org\nTo: c@d.org\nResent-From: fwd@clinic.org\nResent-To: home@mail.net\nX-MS-Exchange-Organization-AutoForwarded: true\nSubject: s\n\nbody\n";
        let (_, sink) = run(raw);
        let envelope = sink.envelope.unwrap();
        assert!(envelope.auto_forwarded);
        assert_eq!(envelope.from.as_deref(), Some("fwd@clinic.org"));
        assert!(
            envelope
                .recipients
                .iter()
                .any(|r| r.field == "resent-to" && r.address == "home@mail.net")
        );
    }

    #[test]
    fn attachment_over_limit_is_skipped() {
        let limits = Limits {
            max_whole_bytes: 8,
            ..Limits::default()
        };
        let mut sink = Collect::default();
        let outcome = extract_message(MULTIPART.as_bytes(), &limits, &mut sink);
        assert_eq!(outcome.coverage, Coverage::Complete);
        assert_eq!(sink.children.len(), 1);
        assert!(sink.children[0].1.is_empty(), "data handed on");
        assert_eq!(sink.skipped, ["résultats.csv"]);
    }

    #[test]
    fn undeclared_8bit_text_is_windows_1252() {
        let mut raw =
            b"From: a@clinic-a.org\r\nTo: b@clinic-b.org\r\nSubject: x\r\n\r\nPatient Jos".to_vec();
        raw.extend_from_slice(&[0xE9]);
        raw.extend_from_slice(b" Mu\xF1oz\r\n".as_slice());
        let mut sink = Collect::default();
        extract_message(&raw, &Limits::default(), &mut sink);
        assert!(
            body_texts(&sink)
                .iter()
                .any(|text| text.contains("Patient José Muñoz")),
            "{:?}",
            body_texts(&sink)
        );
    }

    #[test]
    fn lenient_base64_decoding() {
        assert_eq!(decode_base64_lenient(b"aGVsbG8=").0, b"hello");
        let (bytes, damaged) = decode_base64_lenient(b"aGV*sbG8");
        assert_eq!(bytes, b"hello");
        assert!(damaged);
        assert!(base64_is_clean(b"aGVs\r\nbG8=\r\n"));
        assert!(!base64_is_clean(b"aGVsb"));
        assert!(quoted_printable_is_clean(b"a=3D b=\r\nc"));
        assert!(!quoted_printable_is_clean(b"a=ZZ"));
    }
}
