//! Outlook messages as MAPI property sets, read from a .msg file or a PST
//! store, and how they become segments, an envelope and attachments.
//!
//! An Outlook message has no raw text: its subject, addresses and bodies are
//! properties. The item's text is the concatenation of the scanned
//! properties, one per line, in the order they are sent; finding offsets and
//! lines point into that text.

use super::{
    BodySink, Envelope, MESSAGE_RECORD, MemberNames, Problems, Protection, Recipient, TextPiece,
};
use crate::{Child, Flow, Format, Limits, Nested, Outcome, Sink};
use phiscan_core::{Coverage, Locator};
use phiscan_detect::RecordScope;
use std::collections::BTreeMap;

// Property ids (MS-OXPROPS).
pub(crate) const AUTO_FORWARDED: u16 = 0x0005;
pub(crate) const MESSAGE_CLASS: u16 = 0x001A;
pub(crate) const SUBJECT: u16 = 0x0037;
pub(crate) const CLIENT_SUBMIT_TIME: u16 = 0x0039;
pub(crate) const SENT_REPRESENTING_NAME: u16 = 0x0042;
pub(crate) const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
pub(crate) const TRANSPORT_HEADERS: u16 = 0x007D;
pub(crate) const RECIPIENT_TYPE: u16 = 0x0C15;
pub(crate) const SENDER_NAME: u16 = 0x0C1A;
pub(crate) const SENDER_EMAIL: u16 = 0x0C1F;
pub(crate) const DELIVERY_TIME: u16 = 0x0E06;
pub(crate) const BODY: u16 = 0x1000;
pub(crate) const RTF_COMPRESSED: u16 = 0x1009;
pub(crate) const HTML: u16 = 0x1013;
pub(crate) const DISPLAY_NAME: u16 = 0x3001;
pub(crate) const EMAIL_ADDRESS: u16 = 0x3003;
pub(crate) const ATTACH_DATA: u16 = 0x3701;
pub(crate) const ATTACH_FILENAME: u16 = 0x3704;
pub(crate) const ATTACH_METHOD: u16 = 0x3705;
pub(crate) const ATTACH_LONG_FILENAME: u16 = 0x3707;
pub(crate) const SMTP_ADDRESS: u16 = 0x39FE;
pub(crate) const INTERNET_CODEPAGE: u16 = 0x3FDE;
pub(crate) const MESSAGE_CODEPAGE: u16 = 0x3FFD;
pub(crate) const SENDER_SMTP: u16 = 0x5D01;
pub(crate) const SENT_REPRESENTING_SMTP: u16 = 0x5D02;

/// Text properties that are not scanned as properties: read as headers or
/// bodies above, copies of those (display lists, normalized subject,
/// conversation topic), or written by software (ids, classes, keys).
const NOT_SCANNED: [u16; 22] = [
    MESSAGE_CLASS,
    SUBJECT,
    SENT_REPRESENTING_NAME,
    SENT_REPRESENTING_EMAIL,
    TRANSPORT_HEADERS,
    SENDER_NAME,
    SENDER_EMAIL,
    BODY,
    HTML,
    SENDER_SMTP,
    SENT_REPRESENTING_SMTP,
    0x0070, // conversation topic
    0x0E02, // display Bcc
    0x0E03, // display Cc
    0x0E04, // display To
    0x0E1D, // normalized subject
    0x1035, // Internet message id
    0x1039, // Internet references
    0x1042, // in-reply-to id
    0x0064, // sent-representing address type
    0x0C1E, // sender address type
    0x3002, // address type
];

/// A property value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Text(String),
    /// A string in the message's code page, decoded when the code page is known.
    String8(Vec<u8>),
    Binary(Vec<u8>),
    Bool(bool),
    Int(i64),
    /// A time, in seconds since the Unix epoch.
    Time(i64),
}

/// The properties of one object: a message, a recipient or an attachment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Props {
    pub values: BTreeMap<u16, Value>,
}

impl Props {
    pub(crate) fn text(&self, id: u16) -> Option<String> {
        match self.values.get(&id)? {
            Value::Text(text) => Some(text.clone()),
            Value::String8(bytes) => Some(decode_codepage(bytes, self.codepage())),
            _ => None,
        }
    }

    pub(crate) fn bytes(&self, id: u16) -> Option<&[u8]> {
        match self.values.get(&id)? {
            Value::Binary(bytes) | Value::String8(bytes) => Some(bytes),
            _ => None,
        }
    }

    fn int(&self, id: u16) -> Option<i64> {
        match self.values.get(&id)? {
            Value::Int(value) => Some(*value),
            _ => None,
        }
    }

    fn codepage(&self) -> i64 {
        self.int(MESSAGE_CODEPAGE)
            .or_else(|| self.int(INTERNET_CODEPAGE))
            .unwrap_or(1252)
    }

    /// Returns the first value of `ids` that holds an email address.
    fn address(&self, ids: &[u16]) -> Option<String> {
        ids.iter()
            .filter_map(|&id| self.text(id))
            .find(|value| value.contains('@'))
    }
}

/// An Outlook message with its recipients and attachments.
#[derive(Clone, Debug, Default)]
pub(crate) struct MapiMessage {
    pub props: Props,
    pub recipients: Vec<Props>,
    pub attachments: Vec<MapiAttachment>,
    /// Parts that could not be read, as coverage reasons.
    pub problems: Vec<String>,
    /// Names of the file's named properties (ids 0x8000 and up) that are
    /// named by a string, such as `x-ms-exchange-organization-originalclientipaddress`.
    pub property_names: std::sync::Arc<BTreeMap<u16, String>>,
}

#[derive(Clone, Debug)]
pub(crate) struct MapiAttachment {
    pub props: Props,
    pub content: AttachmentContent,
}

#[derive(Clone, Debug)]
pub(crate) enum AttachmentContent {
    Data(Vec<u8>),
    Message(Box<MapiMessage>),
    /// Not stored in the message (a link or an OLE object); the reason.
    Unreadable(String),
}

/// Sends a message's properties, envelope and attachments to the sink.
pub(crate) fn emit(message: &MapiMessage, limits: &Limits, sink: &mut dyn Sink) -> Outcome {
    let mut emitter = Emitter {
        text_len: 0,
        lines: 1,
        problems: Problems::default(),
    };
    for problem in &message.problems {
        emitter.problems.partial(problem.clone());
    }
    match emitter.run(message, limits, sink) {
        Flow::Stop => Outcome::stopped(Format::Msg),
        Flow::Continue => emitter.problems.outcome(Format::Msg),
    }
}

struct Emitter {
    /// Length of the item text sent so far, and its line count.
    text_len: u64,
    lines: u64,
    problems: Problems,
}

impl Emitter {
    fn run(&mut self, message: &MapiMessage, limits: &Limits, sink: &mut dyn Sink) -> Flow {
        let props = &message.props;
        let protection = protection_of(props);
        let mut scope = MESSAGE_RECORD;
        let mut next_scope = || {
            scope += 1;
            RecordScope::Record(scope)
        };

        // Addresses, each header in its own record.
        let sender = join_name_address(
            props
                .text(SENT_REPRESENTING_NAME)
                .or(props.text(SENDER_NAME)),
            props.address(&[
                SENT_REPRESENTING_SMTP,
                SENT_REPRESENTING_EMAIL,
                SENDER_SMTP,
                SENDER_EMAIL,
            ]),
        );
        if let Some(sender) = sender
            && self.send(&sender, header("From"), next_scope(), sink) == Flow::Stop
        {
            return Flow::Stop;
        }
        for (field, kind) in [("To", 1), ("Cc", 2), ("Bcc", 3)] {
            let list: Vec<String> = message
                .recipients
                .iter()
                .filter(|recipient| recipient.int(RECIPIENT_TYPE).unwrap_or(1) & 0xF == kind)
                .filter_map(|recipient| {
                    join_name_address(
                        recipient.text(DISPLAY_NAME),
                        recipient.address(&[SMTP_ADDRESS, EMAIL_ADDRESS]),
                    )
                })
                .collect();
            if !list.is_empty()
                && self.send(&list.join(", "), header(field), next_scope(), sink) == Flow::Stop
            {
                return Flow::Stop;
            }
        }

        // Other text properties: contact fields, locations, categories.
        for (&id, value) in &props.values {
            if NOT_SCANNED.contains(&id) || !matches!(value, Value::Text(_) | Value::String8(_)) {
                continue;
            }
            let Some(text) = props.text(id) else { continue };
            let locator = Locator::Property {
                name: property_name(id, &message.property_names),
            };
            if self.send(&text, locator, next_scope(), sink) == Flow::Stop {
                return Flow::Stop;
            }
        }

        // The subject and the body share the message record.
        if let Some(subject) = props.text(SUBJECT)
            && self.send(
                &subject,
                header("Subject"),
                RecordScope::Record(MESSAGE_RECORD),
                sink,
            ) == Flow::Stop
        {
            return Flow::Stop;
        }
        if protection == Protection::Encrypted {
            self.problems.encrypted(
                "the message body is S/MIME encrypted and was not read; only its properties were scanned",
            );
        } else if self.send_body(props, sink) == Flow::Stop {
            return Flow::Stop;
        }

        let mut attachments = 0;
        if protection != Protection::Encrypted {
            let mut names = MemberNames::default();
            for (index, attachment) in message.attachments.iter().enumerate() {
                attachments += 1;
                if self.send_attachment(attachment, index, &mut names, limits, sink) == Flow::Stop {
                    return Flow::Stop;
                }
            }
        }

        sink.envelope(&envelope_of(message, protection, attachments));
        Flow::Continue
    }

    fn send(
        &mut self,
        text: &str,
        locator: Locator,
        scope: RecordScope,
        sink: &mut dyn Sink,
    ) -> Flow {
        let flow = TextPiece {
            text,
            offset: self.text_len,
            line: self.lines,
            column: 1,
            scope,
            locator,
        }
        .send(sink);
        self.advance(text);
        flow
    }

    fn advance(&mut self, text: &str) {
        self.text_len += text.len() as u64 + 1;
        self.lines += memchr::memchr_iter(b'\n', text.as_bytes()).count() as u64 + 1;
    }

    /// Scans one body: plain text when present, else HTML, else RTF. Outlook
    /// derives the plain body from the HTML or RTF body, so they hold the same text.
    fn send_body(&mut self, props: &Props, sink: &mut dyn Sink) -> Flow {
        let scope = RecordScope::Record(MESSAGE_RECORD);
        if let Some(body) = props.text(BODY) {
            let locator = body_locator("body", "text/plain");
            return self.send(&body, locator, scope, sink);
        }
        if let Some(html) = props.bytes(HTML) {
            // The HTML body is in the Internet code page; without one, UTF-8
            // when it decodes as such, else the message's code page.
            let codepage = match props.int(INTERNET_CODEPAGE) {
                Some(codepage) => codepage,
                None if std::str::from_utf8(html).is_ok() => 65001,
                None => props.codepage(),
            };
            let text = decode_codepage(html, codepage);
            let mut body_sink = BodySink {
                inner: sink,
                locator: body_locator("html", "text/html"),
                offset: self.text_len,
                line: self.lines,
            };
            let outcome = crate::markup::extract(&text, true, &mut body_sink);
            self.advance(&text);
            if outcome.stopped {
                return Flow::Stop;
            }
            return Flow::Continue;
        }
        if let Some(compressed) = props.bytes(RTF_COMPRESSED) {
            match super::rtf::decompress(compressed) {
                Ok(rtf) => {
                    let text = super::rtf::to_text(&rtf);
                    let locator = body_locator("rtf", "text/rtf");
                    return self.send(&text, locator, scope, sink);
                }
                Err(err) => self.problems.partial(format!(
                    "the compressed RTF body is invalid ({err}) and was not read"
                )),
            }
        }
        Flow::Continue
    }

    fn send_attachment(
        &mut self,
        attachment: &MapiAttachment,
        index: usize,
        names: &mut MemberNames,
        limits: &Limits,
        sink: &mut dyn Sink,
    ) -> Flow {
        let props = &attachment.props;
        let given = props
            .text(ATTACH_LONG_FILENAME)
            .or_else(|| props.text(ATTACH_FILENAME))
            .or_else(|| props.text(DISPLAY_NAME));
        match &attachment.content {
            AttachmentContent::Data(data) => {
                let name = names.unique(given.as_deref(), &format!("attachment-{}", index + 1));
                let too_large = data.len() as u64 > limits.max_whole_bytes;
                sink.child(Child {
                    name: &name,
                    data: if too_large { &[] } else { data },
                    modified: None,
                    unreadable: too_large.then(|| {
                        (
                            Coverage::Skipped,
                            format!(
                                "attachment of {} MiB is larger than the in-memory limit (--max-item-mib)",
                                data.len() >> 20
                            ),
                        )
                    }),
                 damaged: None, })
            }
            AttachmentContent::Message(nested) => {
                let fallback = format!("attachment-{}.msg", index + 1);
                // The display name of an attached message is its subject, which
                // may name a patient: the location uses the position instead.
                let name = names.unique(None, &fallback);
                let item = Nested {
                    name: &name,
                    size: 0,
                    modified: None,
                };
                sink.nested(item, &mut |sink| emit(nested, limits, sink))
            }
            AttachmentContent::Unreadable(reason) => {
                let name = names.unique(given.as_deref(), &format!("attachment-{}", index + 1));
                sink.child(Child {
                    name: &name,
                    data: &[],
                    modified: None,
                    unreadable: Some((Coverage::Unsupported, reason.clone())),
                    damaged: None,
                })
            }
        }
    }
}

fn header(name: &str) -> Locator {
    Locator::MailHeader {
        header: name.to_string(),
    }
}

fn body_locator(part: &str, media_type: &str) -> Locator {
    Locator::MailBody {
        part: part.to_string(),
        media_type: Some(media_type.to_string()),
    }
}

fn join_name_address(name: Option<String>, address: Option<String>) -> Option<String> {
    match (name, address) {
        (Some(name), Some(address)) if name != address => Some(format!("{name} <{address}>")),
        (_, Some(address)) => Some(address),
        (Some(name), None) => Some(name),
        (None, None) => None,
    }
}

/// Names a property for locators: the MS-OXPROPS name of common contact
/// and appointment properties, the string name of a named property, or the
/// id (`0x3A06`).
fn property_name(id: u16, named: &BTreeMap<u16, String>) -> String {
    if let Some(name) = named.get(&id) {
        return name.clone();
    }
    let known = match id {
        0x3A06 => "GivenName",
        0x3A11 => "Surname",
        0x3A08 => "BusinessTelephoneNumber",
        0x3A09 => "HomeTelephoneNumber",
        0x3A1C => "MobileTelephoneNumber",
        0x3A42 => "Birthday",
        0x3001 => "DisplayName",
        0x3004 => "Comment",
        0x0E1D => "NormalizedSubject",
        _ => "",
    };
    if known.is_empty() {
        format!("0x{id:04X}")
    } else {
        known.to_string()
    }
}

fn protection_of(props: &Props) -> Protection {
    let class = props
        .text(MESSAGE_CLASS)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if class.starts_with("ipm.note.smime.multipartsigned") {
        Protection::Signed
    } else if class.starts_with("ipm.note.smime") {
        Protection::Encrypted
    } else {
        Protection::None
    }
}

fn envelope_of(message: &MapiMessage, protection: Protection, attachments: u32) -> Envelope {
    let props = &message.props;
    let mut envelope = Envelope {
        from: props.address(&[
            SENT_REPRESENTING_SMTP,
            SENDER_SMTP,
            SENT_REPRESENTING_EMAIL,
            SENDER_EMAIL,
        ]),
        recipients: Vec::new(),
        sent: match props
            .values
            .get(&CLIENT_SUBMIT_TIME)
            .or(props.values.get(&DELIVERY_TIME))
        {
            Some(Value::Time(time)) => Some(*time),
            _ => None,
        },
        auto_forwarded: matches!(props.values.get(&AUTO_FORWARDED), Some(Value::Bool(true))),
        protection,
        attachments,
    };
    for recipient in &message.recipients {
        let field = match recipient.int(RECIPIENT_TYPE).unwrap_or(1) & 0xF {
            2 => "cc",
            3 => "bcc",
            _ => "to",
        };
        if let Some(address) = recipient.address(&[SMTP_ADDRESS, EMAIL_ADDRESS]) {
            envelope.recipients.push(Recipient { field, address });
        }
    }
    // Received messages keep their Internet headers: they fill what the
    // properties lack (Exchange-internal senders have no SMTP address) and
    // carry the auto-forward markers.
    if let Some(headers) = props.text(TRANSPORT_HEADERS) {
        let mut raw = headers.into_bytes();
        raw.extend_from_slice(b"\r\n\r\n");
        let mut sink = EnvelopeOnly(None);
        super::mime::extract_message(&raw, &Limits::default(), &mut sink);
        if let Some(from_headers) = sink.0 {
            envelope.from = envelope.from.or(from_headers.from);
            if envelope.recipients.is_empty() {
                envelope.recipients = from_headers.recipients;
            }
            envelope.sent = envelope.sent.or(from_headers.sent);
            envelope.auto_forwarded |= from_headers.auto_forwarded;
        }
    }
    envelope
}

/// Keeps only the envelope of a header block.
struct EnvelopeOnly(Option<Envelope>);

impl Sink for EnvelopeOnly {
    fn segment(&mut self, _segment: &crate::Segment<'_>) -> Flow {
        Flow::Continue
    }

    fn child(&mut self, _child: Child<'_>) -> Flow {
        Flow::Continue
    }

    fn envelope(&mut self, envelope: &Envelope) {
        self.0 = Some(envelope.clone());
    }
}

/// Converts a FILETIME (100 ns ticks since 1601) to Unix seconds.
pub(crate) fn filetime_to_unix(ticks: i64) -> i64 {
    ticks / 10_000_000 - 11_644_473_600
}

/// Decodes bytes in a Windows code page.
pub(crate) fn decode_codepage(bytes: &[u8], codepage: i64) -> String {
    let encoding = crate::decode::codepage_encoding(codepage);
    let trimmed = match bytes.iter().rposition(|&b| b != 0) {
        Some(end) => &bytes[..=end],
        None => &[],
    };
    encoding.decode_without_bom_handling(trimmed).0.into_owned()
}
