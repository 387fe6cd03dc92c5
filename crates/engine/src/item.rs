//! Processing one entry: open, sniff, extract, detect, classify, record.

use crate::flow::{self, Rollup};
use crate::scan::{Scanner, describe_io_error};
use crate::writer::Sender;
use crate::writer::{FindingBatch, FindingForms, FinishedItem, MailMark, Message};
use phiscan_core::blocks::{BlockBuilder, BlockFinding, PeopleBuilder, encode_fields, hex_digits};
use phiscan_core::location::{child_location, os_str_to_text, path_to_location};
use phiscan_core::records::{FindingRecord, FlowRecord, Individuals, ItemMeta, ItemRecord};
use phiscan_core::{Category, Class, Coverage, Locator, Role};
use phiscan_detect::privacy::hex_fingerprint;
use phiscan_detect::{
    ItemClassifier, LinkInput, Match, Matcher, NamePart, NameParts, PeopleCounter, RecordScope,
    RuleSet, SegmentInput, counts_person, is_provider_label, mask, name_part,
};
use phiscan_extract::mail::Envelope;
use phiscan_extract::{
    Child, Flow, Format, Input, Nested, Outcome, SNIFF_LEN, Segment, Sink, extract, sniff_named,
};
use phiscan_sources::imap::MailEvent;
use phiscan_sources::{Entry, EntryKind, WalkError, WalkEvent};
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

/// Finding records buffered per item before they are sent to the writer.
/// Blocks are sent when they are full or their item ends.
const FINDING_BATCH: usize = 1024;

/// Record key of the segment with an item's own name, kept apart from its content.
const NAME_RECORD: u64 = u64::MAX;

/// Per-thread state, built once and reused for every item.
pub(crate) struct Worker {
    matcher: Matcher,
    matches: Vec<Match>,
    links: Vec<LinkInput>,
    prepared: PreparedSegment,
    head: Vec<u8>,
    /// The forms of findings the sinks take.
    forms: FindingForms,
}

impl Worker {
    pub(crate) fn new(rules: &RuleSet, forms: FindingForms) -> Worker {
        Worker {
            matcher: Matcher::new(rules),
            matches: Vec::new(),
            links: Vec::new(),
            prepared: PreparedSegment::default(),
            head: vec![0; SNIFF_LEN],
            forms,
        }
    }
}

/// A finding prepared on the thread that matched its segment: the work
/// that does not depend on the findings before it.
struct PreparedFinding {
    /// Index of the rule in the rule set.
    rule: usize,
    fingerprint: [u8; 16],
    person: bool,
    /// The value names the practice or one of its desks, not a patient: an
    /// address in an internal domain or of a role, or the display name
    /// before one. It is still a finding, but does not make the item hold
    /// identifiers.
    staff: bool,
    /// Byte offsets in the segment.
    start: usize,
    end: usize,
    /// A first, middle or last name alone in a field labelled with that part: the
    /// part, whose name it is, and the canonical value, kept in memory only
    /// until the record's parts are put together.
    name_part: Option<Box<(NamePart, String, String)>>,
    /// The finding's block fields after the rule number, in
    /// [`PreparedSegment::fields`], or empty when no sink takes blocks.
    fields: Range<usize>,
}

/// The prepared findings of one segment.
#[derive(Default)]
struct PreparedSegment {
    findings: Vec<PreparedFinding>,
    /// Block fields of every finding, one after the other.
    fields: Vec<u8>,
    /// Finding records, when a sink takes records.
    records: Vec<FindingRecord>,
}

/// Prepares the findings of a segment's matches: fingerprint, person flag,
/// and for the sinks that take them, the block fields and the finding
/// record. Runs on any thread, and [`ItemSink::record_prepared`] adds the
/// results to the item in order.
fn prepare_findings(
    scanner: &Scanner,
    forms: FindingForms,
    location: &str,
    segment: &Segment<'_>,
    matches: &[Match],
    out: &mut PreparedSegment,
) {
    let rules = &*scanner.rules;
    let mut lines = SegmentLines::new(segment);
    for found in matches {
        if found.confidence < scanner.options.min_confidence {
            continue;
        }
        let rule = rules.rule(found.rule);
        let value = &segment.text[found.start..found.end];
        let fingerprint = scanner
            .fingerprinter
            .fingerprint(rule.category, &found.canonical);
        let staff = match rule.category {
            Category::Email => {
                flow::is_organization_address(&found.canonical, &scanner.internal_domains)
                    || under_provider_label(segment, found.start)
            }
            Category::Name => {
                display_name_of_organization(&segment.text[found.end..], &scanner.internal_domains)
                    || under_provider_label(segment, found.start)
            }
            Category::Phone | Category::Fax | Category::Address => {
                under_provider_label(segment, found.start)
            }
            _ => false,
        };
        // A value under a first, middle or last name label is a part even
        // when it has several words (`Ana Sofia`, `De La Cruz`).
        let name_part = (rule.category == Category::Name && rule.role == Role::Direct && !staff)
            .then(|| label_at(segment, found.start))
            .flatten()
            .and_then(name_part)
            .map(|(part, owner)| Box::new((part, owner, found.canonical.clone())));
        let person = rule.role == Role::Direct
            && !staff
            && name_part.is_none()
            && counts_person(rule.category, &found.canonical);
        let mut prepared = PreparedFinding {
            rule: found.rule,
            fingerprint,
            person,
            staff,
            start: found.start,
            end: found.end,
            name_part,
            fields: 0..0,
        };
        // Without a sink for findings (`--no-db --quiet`), only counts.
        if forms.blocks || forms.records {
            let (line, column) = lines.at(found.start);
            let mut locator = (segment.locate)(found.start);
            scanner
                .locator_guard
                .apply(rules, &scanner.matchers, &mut locator);
            let preview = mask(rule.category, value);
            let start = segment.item_offset(found.start);
            let end = segment.item_offset(found.end);
            if forms.blocks {
                let hex = hex_digits(&fingerprint);
                let first = out.fields.len();
                encode_fields(
                    &mut out.fields,
                    &BlockFinding {
                        rule: &rule.spec.id,
                        category: rule.category,
                        confidence: found.confidence,
                        start,
                        end,
                        line,
                        column,
                        locator: &locator,
                        preview: &preview,
                        fingerprint: hex.as_str(),
                        person,
                    },
                );
                prepared.fields = first..out.fields.len();
            }
            if forms.records {
                out.records.push(FindingRecord {
                    location: location.to_string(),
                    rule: rule.spec.id.clone(),
                    category: rule.category,
                    confidence: found.confidence,
                    start,
                    end,
                    line,
                    column,
                    locator,
                    preview,
                    fingerprint: hex_fingerprint(&fingerprint),
                    person,
                    value: scanner.options.show_values.then(|| value.to_string()),
                });
            }
        }
        out.findings.push(prepared);
    }
}

/// Returns true when the field over a segment offset belongs to a clinician
/// or an organization (see [`is_provider_label`]).
fn under_provider_label(segment: &Segment<'_>, offset: usize) -> bool {
    label_at(segment, offset).is_some_and(is_provider_label)
}

/// Returns the field label over a segment offset, or the segment's label.
fn label_at<'a>(segment: &Segment<'a>, offset: usize) -> Option<&'a str> {
    segment
        .fields
        .iter()
        .find(|field| field.range.contains(&offset))
        .map(|field| field.label)
        .or(segment.label)
}

/// Returns true when the text after a name is the address of a mail header's
/// `Name <address>` form, and that address belongs to the practice or a
/// role: the name is then a staff member's display name.
fn display_name_of_organization(after: &str, internal: &crate::InternalDomains) -> bool {
    let rest = after.trim_start_matches(['"', '\'', ' ', '\t']);
    let Some(address) = rest.strip_prefix('<').and_then(|rest| rest.split_once('>')) else {
        return false;
    };
    flow::is_organization_address(address.0.trim(), internal)
}

/// Returns the matcher input of a segment.
fn segment_input<'a>(segment: &Segment<'a>) -> SegmentInput<'a> {
    SegmentInput {
        text: segment.text,
        label: segment.label,
        fields: segment.fields,
        report: segment.report.clone(),
    }
}

/// Matchers for work split off an item onto other threads, kept between
/// uses because each keeps the caches of every rule's regex.
#[derive(Default)]
pub(crate) struct MatcherPool {
    idle: std::sync::Mutex<Vec<Matcher>>,
}

impl MatcherPool {
    pub(crate) fn take(&self, rules: &RuleSet) -> Matcher {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        idle.unwrap_or_else(|| Matcher::new(rules))
    }

    pub(crate) fn put(&self, matcher: Matcher) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(matcher);
    }
}

/// Place of an item: its location, the file on disk that contains it, and its container.
pub(crate) struct ItemPlace<'a> {
    pub(crate) location: String,
    pub(crate) path: &'a str,
    pub(crate) parent: Option<&'a str>,
    pub(crate) depth: u32,
}

impl Scanner {
    pub(crate) fn process_event(
        &self,
        worker: &mut Worker,
        event: WalkEvent,
        sender: &Sender<Message>,
        cancel: &AtomicBool,
    ) {
        match event {
            WalkEvent::Error(err) => self.record_walk_error(&err, sender),
            WalkEvent::Entry(entry) => {
                if !self.before_entry(&entry, sender) {
                    self.process_entry(worker, &entry, sender, cancel)
                }
            }
        }
    }

    fn record_walk_error(&self, err: &WalkError, sender: &Sender<Message>) {
        let path = err
            .path
            .clone()
            .unwrap_or_else(|| self.options.roots[err.root].clone());
        let location = path_to_location(&path);
        let record = bare_item(
            &location,
            &location,
            "unknown",
            0,
            None,
            Coverage::Error,
            Some(err.message.clone()),
        );
        send_item(sender, record, PeopleCounter::default(), 0, false);
    }

    fn process_entry(
        &self,
        worker: &mut Worker,
        entry: &Entry,
        sender: &Sender<Message>,
        cancel: &AtomicBool,
    ) {
        let location = path_to_location(&entry.path);
        let modified = entry.meta.modified;
        let format = match entry.kind {
            EntryKind::Directory => "folder",
            EntryKind::Symlink => "symlink",
            EntryKind::Fifo => "fifo",
            EntryKind::Socket => "socket",
            EntryKind::BlockDevice | EntryKind::CharDevice => "device",
            EntryKind::File | EntryKind::Other => "unknown",
        };

        if let Some(reason) = &entry.excluded {
            let record = bare_item(
                &location,
                &location,
                format,
                entry.meta.size,
                modified,
                Coverage::Skipped,
                Some(reason.clone()),
            );
            send_item(sender, record, PeopleCounter::default(), 0, false);
            return;
        }
        match entry.kind {
            EntryKind::File => self.process_file(worker, entry, &location, sender, cancel),
            EntryKind::Directory => self.process_folder(worker, entry, &location, sender, cancel),
            EntryKind::Symlink => {
                let reason = "symbolic link, not followed (use --follow-symlinks to follow links)";
                let record = bare_item(
                    &location,
                    &location,
                    format,
                    0,
                    modified,
                    Coverage::Skipped,
                    Some(reason.into()),
                );
                send_item(sender, record, PeopleCounter::default(), 0, false);
            }
            kind => {
                let reason = format!(
                    "{}: not opened, because reading it could block or change a device",
                    kind.describe()
                );
                let record = bare_item(
                    &location,
                    &location,
                    format,
                    0,
                    modified,
                    Coverage::Skipped,
                    Some(reason),
                );
                send_item(sender, record, PeopleCounter::default(), 0, false);
            }
        }
    }

    /// Scans a folder's name, and records the folder only when its name has a finding.
    fn process_folder(
        &self,
        worker: &mut Worker,
        entry: &Entry,
        location: &str,
        sender: &Sender<Message>,
        cancel: &AtomicBool,
    ) {
        let place = ItemPlace {
            location: location.to_string(),
            path: location,
            parent: None,
            depth: 0,
        };
        let mut sink = ItemSink::new(self, worker, &place, sender, cancel);
        sink.scan_name(&entry.path);
        if sink.findings == 0 {
            return;
        }
        let finished = sink.finish(
            Outcome::complete(phiscan_extract::Format::Empty),
            "folder",
            0,
            entry.meta.modified,
            None,
        );
        finished.send(sender, 0, false);
    }

    fn process_file(
        &self,
        worker: &mut Worker,
        entry: &Entry,
        location: &str,
        sender: &Sender<Message>,
        cancel: &AtomicBool,
    ) {
        let modified = entry.meta.modified;
        let file = match open_read_only(&entry.path, self.options.walk.follow_symlinks) {
            Ok(file) => file,
            Err(err) => {
                let reason = format!("cannot open: {}", describe_io_error(&err));
                let record = bare_item(
                    location,
                    location,
                    "unknown",
                    entry.meta.size,
                    modified,
                    Coverage::Error,
                    Some(reason),
                );
                send_item(sender, record, PeopleCounter::default(), 0, false);
                return;
            }
        };
        let size = match file.metadata() {
            Ok(metadata) if metadata.is_file() => metadata.len(),
            Ok(_) => {
                let reason = "no longer a regular file when opened; not read".to_string();
                let record = bare_item(
                    location,
                    location,
                    "unknown",
                    0,
                    modified,
                    Coverage::Skipped,
                    Some(reason),
                );
                send_item(sender, record, PeopleCounter::default(), 0, false);
                return;
            }
            Err(err) => {
                let reason = format!("cannot read metadata: {}", describe_io_error(&err));
                let record = bare_item(
                    location,
                    location,
                    "unknown",
                    0,
                    modified,
                    Coverage::Error,
                    Some(reason),
                );
                send_item(sender, record, PeopleCounter::default(), 0, false);
                return;
            }
        };

        let mut reader = HashingReader::new(file, &self.content_key);
        let mut head = std::mem::take(&mut worker.head);
        head.resize(SNIFF_LEN, 0);
        let head_len = match read_up_to(&mut reader, &mut head) {
            Ok(len) => len,
            Err(err) => {
                worker.head = head;
                let reason = format!("read failed: {}", describe_io_error(&err));
                let record = bare_item(
                    location,
                    location,
                    "unknown",
                    size,
                    modified,
                    Coverage::Error,
                    Some(reason),
                );
                send_item(sender, record, PeopleCounter::default(), 0, false);
                return;
            }
        };
        let file_name = entry
            .path
            .file_name()
            .map(os_str_to_text)
            .unwrap_or_default();
        let sniffed = sniff_named(&head[..head_len], size, &file_name);

        let place = ItemPlace {
            location: location.to_string(),
            path: location,
            parent: None,
            depth: 0,
        };
        let mut sink = ItemSink::new(self, worker, &place, sender, cancel);
        sink.scan_name(&entry.path);
        let mut rest = ReadCounter::new(&mut reader);
        let input = Input::Stream {
            head: &head[..head_len],
            rest: &mut rest,
            size,
        };
        let outcome = extract(input, sniffed, &self.options.limits, &mut sink);
        let bytes_read = head_len as u64 + rest.count;
        let content_read = outcome.coverage != Coverage::Unsupported;
        let content_id = (bytes_read == size).then(|| reader.digest());
        let finished = sink.finish(outcome, "", size, modified, content_id);
        worker.head = head;
        finished.send(sender, bytes_read, content_read);
    }

    /// Processes a container member held in memory; returns its coverage
    /// and what it and its own members hold.
    /// Processes a member's bytes. `damaged` is the reason the bytes are
    /// only part of the member, which is then at most `partial`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn process_bytes(
        &self,
        worker: &mut Worker,
        place: &ItemPlace<'_>,
        data: &[u8],
        modified: Option<SystemTime>,
        damaged: Option<String>,
        sender: &Sender<Message>,
        cancel: &AtomicBool,
    ) -> (Coverage, Rollup) {
        let name = place.location.rsplit(['/', '!']).next().unwrap_or("");
        let sniffed = sniff_named(&data[..data.len().min(SNIFF_LEN)], data.len() as u64, name);
        let mut sink = ItemSink::new(self, worker, place, sender, cancel);
        sink.scan_name_text(name);
        let mut outcome = extract(Input::Bytes(data), sniffed, &self.options.limits, &mut sink);
        if let Some(reason) = damaged
            && outcome.coverage == Coverage::Complete
        {
            outcome.coverage = Coverage::Partial;
            outcome.reason = Some(reason);
        }
        let content_id = Some(keyed_digest(&self.content_key, data));
        let finished = sink.finish(outcome, "", data.len() as u64, modified, content_id);
        let result = (finished.record.coverage, finished.rollup.clone());
        finished.send(sender, 0, true);
        result
    }

    /// Processes a nested item whose extractor produces its content itself,
    /// such as a message in a mailbox. A panic in `extract` ends the item in
    /// coverage `error` and leaves the container's other items unharmed.
    fn process_nested(
        &self,
        worker: &mut Worker,
        place: &ItemPlace<'_>,
        item: Nested<'_>,
        extract: &mut dyn FnMut(&mut dyn Sink) -> Outcome,
        sender: &Sender<Message>,
        cancel: &AtomicBool,
    ) -> (Coverage, Rollup) {
        let mut sink = ItemSink::new(self, worker, place, sender, cancel);
        let outcome = match catch_unwind(AssertUnwindSafe(|| extract(&mut sink))) {
            Ok(outcome) => outcome,
            Err(_) => Outcome::with(
                Format::Binary,
                Coverage::Error,
                "the message parser failed with an internal error (panic)",
            ),
        };
        let format = if outcome.coverage == Coverage::Error && outcome.format == Format::Binary {
            "unknown"
        } else {
            ""
        };
        let finished = sink.finish(outcome, format, item.size, item.modified, None);
        let result = (finished.record.coverage, finished.rollup.clone());
        finished.send(sender, 0, true);
        result
    }
}

impl Scanner {
    /// Processes what an IMAP sweep found: a fetched message, or a message,
    /// folder or mailbox that could not be read. `sweep` is the sweep's index.
    pub(crate) fn process_mail(
        &self,
        worker: &mut Worker,
        sweep: usize,
        event: MailEvent,
        sender: &Sender<Message>,
        cancel: &AtomicBool,
    ) {
        let mailbox = self.options.imap[sweep].mailbox();
        match event {
            MailEvent::Failed {
                location,
                coverage,
                reason,
                size,
            } => {
                let record = bare_item(
                    &location,
                    &mailbox,
                    "unknown",
                    size,
                    None,
                    coverage,
                    Some(reason),
                );
                send_item(sender, record, PeopleCounter::default(), 0, false);
            }
            MailEvent::Known { location } => {
                let earlier = self.options.imap[sweep]
                    .cache()
                    .and_then(|cache| cache.message(&location));
                match earlier {
                    Some(earlier) => {
                        // A message has no file facts to refresh: its own
                        // earlier facts stay.
                        let meta = earlier
                            .items
                            .last()
                            .map(|item| item.record.meta.clone())
                            .unwrap_or_default();
                        self.send_cached(earlier, &location, &location, meta, 0, sender);
                    }
                    None => {
                        // Error items are never reused, so the next scan
                        // fetches this message again.
                        let reason = "the results of an earlier scan could not be read from the store; the message is fetched again on the next scan";
                        let record = bare_item(
                            &location,
                            &mailbox,
                            "unknown",
                            0,
                            None,
                            Coverage::Error,
                            Some(reason.to_string()),
                        );
                        send_item(sender, record, PeopleCounter::default(), 0, false);
                    }
                }
            }
            MailEvent::Message {
                location,
                folder,
                uid,
                data,
                received,
            } => {
                let place = ItemPlace {
                    location,
                    path: &mailbox,
                    parent: None,
                    depth: 0,
                };
                let limits = &self.options.limits;
                let mut sink = ItemSink::new(self, worker, &place, sender, cancel);
                let extracted = catch_unwind(AssertUnwindSafe(|| {
                    phiscan_extract::mail::mime::extract_message(&data, limits, &mut sink)
                }));
                let outcome = extracted.unwrap_or_else(|_| {
                    Outcome::with(
                        Format::Eml,
                        Coverage::Error,
                        "the message parser failed with an internal error (panic)",
                    )
                });
                let modified = received.and_then(|seconds| {
                    u64::try_from(seconds).ok().map(|seconds| {
                        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds)
                    })
                });
                let content_id = Some(keyed_digest(&self.content_key, &data));
                let finished = sink.finish(outcome, "", data.len() as u64, modified, content_id);
                finished.send_marked(sender, data.len() as u64, true, Some((sweep, folder, uid)));
            }
        }
    }
}

/// An item's record, with what the writer and the item's container need.
pub(crate) struct Finished {
    pub(crate) record: ItemRecord,
    people: PeopleCounter,
    /// Flow records of a message with PHI, written after its item record.
    flows: Vec<FlowRecord>,
    /// Classes and categories of the item and its members.
    rollup: Rollup,
}

impl Finished {
    pub(crate) fn send(self, sender: &Sender<Message>, bytes_read: u64, content_read: bool) {
        self.send_marked(sender, bytes_read, content_read, None);
    }

    fn send_marked(
        self,
        sender: &Sender<Message>,
        bytes_read: u64,
        content_read: bool,
        mark: Option<MailMark>,
    ) {
        let _ = sender.send(Message::Item(Box::new(FinishedItem {
            record: self.record,
            people: self.people,
            bytes_read,
            content_read,
            mark,
        })));
        if !self.flows.is_empty() {
            let _ = sender.send(Message::Flows(self.flows));
        }
    }
}

/// Receives one item's segments and children: matches, classifies, batches findings.
struct ItemSink<'s> {
    scanner: &'s Scanner,
    worker: &'s mut Worker,
    place: &'s ItemPlace<'s>,
    sender: &'s Sender<Message>,
    cancel: &'s AtomicBool,
    started: Instant,
    deadline: Instant,
    /// Segments of text matched, for the trace log.
    segments: u64,
    classifier: ItemClassifier,
    /// Findings not sent yet: records and counts.
    batch: FindingBatch,
    /// The item's block being built, when a sink takes blocks.
    block: BlockBuilder,
    /// The item's person fingerprints, when a sink takes blocks.
    people: PeopleBuilder,
    findings: u64,
    stop_reason: Option<String>,
    children: u64,
    incomplete_children: u64,
    /// The envelope, when the item is a message.
    envelope: Option<Envelope>,
    /// Classes and categories of the item's members.
    members: Rollup,
    /// Name parts of the current record, and the record's key.
    name_parts: NameParts,
    name_record: Option<u64>,
}

impl<'s> ItemSink<'s> {
    fn new(
        scanner: &'s Scanner,
        worker: &'s mut Worker,
        place: &'s ItemPlace<'s>,
        sender: &'s Sender<Message>,
        cancel: &'s AtomicBool,
    ) -> ItemSink<'s> {
        ItemSink {
            scanner,
            worker,
            place,
            sender,
            cancel,
            started: Instant::now(),
            deadline: Instant::now() + scanner.options.item_timeout,
            segments: 0,
            classifier: ItemClassifier::new(),
            batch: FindingBatch::default(),
            block: BlockBuilder::default(),
            people: PeopleBuilder::default(),
            findings: 0,
            stop_reason: None,
            children: 0,
            incomplete_children: 0,
            envelope: None,
            members: Rollup::default(),
            name_parts: NameParts::default(),
            name_record: None,
        }
    }

    /// Scans the last component of a path as text.
    fn scan_name(&mut self, path: &Path) {
        let name = path
            .file_name()
            .map(os_str_to_text)
            .unwrap_or_else(|| path_to_location(path));
        self.scan_name_text(&name);
    }

    fn scan_name_text(&mut self, name: &str) {
        if name.is_empty() {
            return;
        }
        let locate = |_: usize| Locator::FileName;
        let segment = Segment {
            text: name,
            offset: 0,
            offset_map: &[],
            line: 1,
            column: 1,
            label: None,
            fields: &[],
            report: 0..name.len(),
            scope: RecordScope::Record(NAME_RECORD),
            locate: &locate,
        };
        self.match_segment(&segment);
    }

    fn match_segment(&mut self, segment: &Segment<'_>) {
        self.segments += 1;
        let rules = &*self.scanner.rules;
        let worker = &mut *self.worker;
        worker.matches.clear();
        worker
            .matcher
            .find(rules, &segment_input(segment), &mut worker.matches);
        self.record_matches(segment);
    }

    /// Matches consecutive segments on the scan's worker threads, and
    /// prepares their findings there, then records them in order. Threads
    /// with no file of their own take part, so that one large file is not
    /// left to a single core.
    fn match_segments(&mut self, segments: &[Segment<'_>]) {
        self.segments += segments.len() as u64;
        use rayon::prelude::*;
        let scanner = self.scanner;
        let rules = &*scanner.rules;
        let forms = self.worker.forms;
        let location = self.place.location.as_str();
        // Two tasks per thread, each with one matcher: a chunk of text is
        // one task, and the records of a delimited file go in runs.
        let per_task = segments
            .len()
            .div_ceil(2 * rayon::current_num_threads())
            .max(1);
        let prepared: Vec<Vec<PreparedSegment>> = segments
            .par_chunks(per_task)
            .map(|run| {
                let mut matcher = scanner.matchers.take(rules);
                let mut matches = Vec::new();
                let prepared = run
                    .iter()
                    .map(|segment| {
                        matches.clear();
                        matcher.find(rules, &segment_input(segment), &mut matches);
                        let mut prepared = PreparedSegment::default();
                        prepare_findings(
                            scanner,
                            forms,
                            location,
                            segment,
                            &matches,
                            &mut prepared,
                        );
                        prepared
                    })
                    .collect();
                scanner.matchers.put(matcher);
                prepared
            })
            .collect();
        for (segment, mut prepared) in segments.iter().zip(prepared.into_iter().flatten()) {
            self.record_prepared(segment, &mut prepared);
        }
    }

    /// Records the matches in `worker.matches`, found in `segment`.
    fn record_matches(&mut self, segment: &Segment<'_>) {
        let mut prepared = std::mem::take(&mut self.worker.prepared);
        prepare_findings(
            self.scanner,
            self.worker.forms,
            &self.place.location,
            segment,
            &self.worker.matches,
            &mut prepared,
        );
        self.record_prepared(segment, &mut prepared);
        self.worker.prepared = prepared;
    }

    /// Adds a segment's prepared findings to the item, in order: counts,
    /// block, people, records and the links that classify the item.
    fn record_prepared(&mut self, segment: &Segment<'_>, prepared: &mut PreparedSegment) {
        let record = match segment.scope {
            RecordScope::Record(key) => Some(key),
            RecordScope::Window => None,
        };
        if record.is_none() || record != self.name_record {
            self.count_whole_names();
            self.name_record = record;
        }
        let rules = &*self.scanner.rules;
        let worker = &mut *self.worker;
        worker.links.clear();
        for finding in prepared.findings.drain(..) {
            if let Some(part) = &finding.name_part {
                let (part, owner, canonical) = &**part;
                self.name_parts.add(*part, owner, canonical);
            }
            let rule = rules.rule(finding.rule);
            self.batch.count(rule.category);
            if worker.forms.blocks {
                self.block.add_encoded(
                    &rule.spec.id,
                    rule.category,
                    &prepared.fields[finding.fields],
                );
                if finding.person {
                    self.people.add(rule.category, finding.fingerprint);
                }
            }
            worker.links.push(LinkInput {
                category: rule.category,
                role: if finding.staff {
                    Role::Provider
                } else {
                    rule.role
                },
                start: finding.start,
                end: finding.end,
                fingerprint: finding.fingerprint,
                counts_person: finding.person,
            });
        }
        prepared.fields.clear();
        self.batch.records.append(&mut prepared.records);
        self.findings += worker.links.len() as u64;
        self.classifier.add_segment(segment.scope, &worker.links);
        if self.batch.records.len() >= FINDING_BATCH
            || self.block.is_full()
            || self.people.is_full()
        {
            self.flush(false);
        }
    }

    /// Counts the people named by the whole names that the current record's
    /// name parts make up.
    fn count_whole_names(&mut self) {
        if self.name_parts.is_empty() {
            return;
        }
        for name in self.name_parts.close() {
            let fingerprint = self
                .scanner
                .fingerprinter
                .fingerprint(Category::Name, &name);
            if self.worker.forms.blocks {
                self.people.add(Category::Name, fingerprint);
            }
            self.classifier.add_person(Category::Name, fingerprint);
        }
    }

    /// Sends the findings gathered so far. The block and the people rows go
    /// when they are full or, with `closing`, because the item ends.
    fn flush(&mut self, closing: bool) {
        let location = &self.place.location;
        if closing || self.block.is_full() {
            self.batch.block = self.block.take(location);
        }
        if closing || self.people.is_full() {
            self.batch.people = self.people.take(location);
        }
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            let _ = self.sender.send(Message::Findings(Box::new(batch)));
        }
    }

    fn should_stop(&mut self) -> bool {
        if self.cancel.load(Ordering::Relaxed) {
            self.stop_reason =
                Some("the scan was interrupted before this item was finished".into());
            return true;
        }
        if Instant::now() > self.deadline {
            self.stop_reason = Some(format!(
                "time limit of {} seconds per item reached (--item-timeout)",
                self.scanner.options.item_timeout.as_secs()
            ));
            return true;
        }
        false
    }

    /// Ends the item: flushes findings and builds its record and, for a
    /// message with PHI, its flows.
    fn finish(
        mut self,
        outcome: Outcome,
        format_override: &str,
        size: u64,
        modified: Option<SystemTime>,
        content_id: Option<String>,
    ) -> Finished {
        self.count_whole_names();
        self.flush(true);
        let mut coverage = outcome.coverage;
        let mut reason = outcome.reason;
        if outcome.stopped {
            reason = self.stop_reason.take().or(reason);
        }
        if self.incomplete_children > 0 && coverage == Coverage::Complete {
            coverage = Coverage::Partial;
            reason = Some(format!(
                "{} of {} members not fully examined; each is listed with its own reason",
                self.incomplete_children, self.children
            ));
        }
        let people = self.classifier.people().clone();
        let verdict = self.classifier.finish();
        let format = if format_override.is_empty() {
            outcome.format.name()
        } else {
            format_override
        };
        let record = ItemRecord {
            location: self.place.location.clone(),
            path: self.place.path.to_string(),
            format: format.to_string(),
            size,
            modified: modified.map(crate::rfc3339),
            class: verdict.class,
            coverage,
            reason,
            parent: self.place.parent.map(str::to_string),
            findings: verdict.findings,
            categories: verdict.categories,
            individuals: verdict.individuals,
            content_id,
            meta: ItemMeta::default(),
        };
        tracing::trace!(
            location = %record.location,
            format = %record.format,
            coverage = %record.coverage.as_str(),
            class = %record.class.as_str(),
            segments = self.segments,
            members = self.children,
            findings = record.findings,
            millis = self.started.elapsed().as_millis() as u64,
            "item read"
        );
        let mut rollup = std::mem::take(&mut self.members);
        rollup.add_class(record.class, &record.categories);
        let flows = match &self.envelope {
            Some(envelope) => flow::flows(
                &record.location,
                envelope,
                &rollup,
                &self.scanner.internal_domains,
            ),
            None => Vec::new(),
        };
        Finished {
            record,
            people,
            flows,
            rollup,
        }
    }

    /// Records a member that is not opened (unreadable, or nested too deep).
    fn record_unopened(
        &self,
        place: &ItemPlace<'_>,
        size: u64,
        modified: Option<SystemTime>,
        coverage: Coverage,
        reason: String,
    ) {
        let record = bare_item(
            &place.location,
            place.path,
            "unknown",
            size,
            modified,
            coverage,
            Some(reason),
        );
        let record = ItemRecord {
            parent: place.parent.map(str::to_string),
            ..record
        };
        send_item(self.sender, record, PeopleCounter::default(), 0, false);
    }
}

impl Sink for ItemSink<'_> {
    fn segment(&mut self, segment: &Segment<'_>) -> Flow {
        if self.should_stop() {
            return Flow::Stop;
        }
        self.match_segment(segment);
        Flow::Continue
    }

    fn segments(&mut self, segments: &[Segment<'_>]) -> Flow {
        if self.should_stop() {
            return Flow::Stop;
        }
        match segments {
            [] => {}
            [segment] => self.match_segment(segment),
            _ => self.match_segments(segments),
        }
        Flow::Continue
    }

    fn child(&mut self, child: Child<'_>) -> Flow {
        if self.should_stop() {
            return Flow::Stop;
        }
        self.flush(false);
        self.children += 1;
        let place = ItemPlace {
            location: child_location(&self.place.location, child.name),
            path: self.place.path,
            parent: Some(&self.place.location),
            depth: self.place.depth + 1,
        };
        let max_depth = self.scanner.options.limits.max_depth;
        let coverage = if let Some((coverage, reason)) = child.unreadable {
            self.record_unopened(&place, 0, child.modified, coverage, reason);
            coverage
        } else if place.depth > max_depth {
            let reason = format!("nested deeper than {max_depth} containers; not opened");
            let size = child.data.len() as u64;
            self.record_unopened(&place, size, child.modified, Coverage::Skipped, reason);
            Coverage::Skipped
        } else {
            let (coverage, rollup) = self.scanner.process_bytes(
                self.worker,
                &place,
                child.data,
                child.modified,
                child.damaged,
                self.sender,
                self.cancel,
            );
            self.members.merge(&rollup);
            coverage
        };
        if coverage != Coverage::Complete {
            self.incomplete_children += 1;
        }
        Flow::Continue
    }

    fn envelope(&mut self, envelope: &Envelope) {
        self.envelope = Some(envelope.clone());
    }

    fn nested(
        &mut self,
        item: Nested<'_>,
        extract: &mut dyn FnMut(&mut dyn Sink) -> Outcome,
    ) -> Flow {
        if self.should_stop() {
            return Flow::Stop;
        }
        self.flush(false);
        self.children += 1;
        let place = ItemPlace {
            location: child_location(&self.place.location, item.name),
            path: self.place.path,
            parent: Some(&self.place.location),
            depth: self.place.depth + 1,
        };
        let max_depth = self.scanner.options.limits.max_depth;
        let coverage = if place.depth > max_depth {
            let reason = format!("nested deeper than {max_depth} containers; not opened");
            self.record_unopened(&place, item.size, item.modified, Coverage::Skipped, reason);
            Coverage::Skipped
        } else {
            let started = Instant::now();
            let (coverage, rollup) = self.scanner.process_nested(
                self.worker,
                &place,
                item,
                extract,
                self.sender,
                self.cancel,
            );
            // Each message has its own time limit; the mailbox's limit covers
            // only the time spent outside its messages, or every large
            // mailbox would end partial.
            self.deadline += started.elapsed();
            self.members.merge(&rollup);
            coverage
        };
        if coverage != Coverage::Complete {
            self.incomplete_children += 1;
        }
        Flow::Continue
    }
}

/// Line and column of offsets in one segment, visited in increasing order.
struct SegmentLines<'a> {
    text: &'a [u8],
    first_line: u64,
    first_column: u64,
    position: usize,
    line: u64,
    /// Offset in the segment where the current line starts, or None while on
    /// the segment's first line.
    line_start: Option<usize>,
}

impl<'a> SegmentLines<'a> {
    fn new(segment: &'a Segment<'a>) -> SegmentLines<'a> {
        SegmentLines {
            text: segment.text.as_bytes(),
            first_line: segment.line,
            first_column: segment.column,
            position: 0,
            line: segment.line,
            line_start: None,
        }
    }

    fn at(&mut self, offset: usize) -> (u64, u64) {
        if offset < self.position {
            self.position = 0;
            self.line = self.first_line;
            self.line_start = None;
        }
        let end = offset.min(self.text.len());
        for newline in memchr::memchr_iter(b'\n', &self.text[self.position..end]) {
            self.line += 1;
            self.line_start = Some(self.position + newline + 1);
        }
        self.position = end;
        match self.line_start {
            Some(start) => (self.line, (offset - start) as u64 + 1),
            None => (self.line, self.first_column + offset as u64),
        }
    }
}

fn bare_item(
    location: &str,
    path: &str,
    format: &str,
    size: u64,
    modified: Option<SystemTime>,
    coverage: Coverage,
    reason: Option<String>,
) -> ItemRecord {
    ItemRecord {
        location: location.to_string(),
        path: path.to_string(),
        format: format.to_string(),
        size,
        modified: modified.map(crate::rfc3339),
        class: Class::None,
        coverage,
        reason,
        parent: None,
        findings: 0,
        categories: Vec::new(),
        individuals: Individuals::default(),
        content_id: None,
        meta: ItemMeta::default(),
    }
}

fn send_item(
    sender: &Sender<Message>,
    record: ItemRecord,
    people: PeopleCounter,
    bytes_read: u64,
    content_read: bool,
) {
    let _ = sender.send(Message::Item(Box::new(FinishedItem {
        record,
        people,
        bytes_read,
        content_read,
        mark: None,
    })));
}

/// Opens a file for reading without changing it: read-only, without updating
/// its access time where the platform allows, and without blocking if the path
/// was replaced by a FIFO after the walk saw a regular file.
pub(crate) fn open_read_only(path: &Path, follow_symlinks: bool) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK;
        if !follow_symlinks {
            flags |= libc::O_NOFOLLOW;
        }
        // O_NOATIME is allowed only for the file's owner (or with
        // CAP_FOWNER); fall back to a plain open when it is refused.
        let attempt = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags | libc::O_NOATIME)
            .open(path);
        match attempt {
            Err(err) if err.raw_os_error() == Some(libc::EPERM) => std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(flags)
                .open(path),
            other => other,
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK;
        if !follow_symlinks {
            flags |= libc::O_NOFOLLOW;
        }
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
    }
    #[cfg(not(unix))]
    {
        let _ = follow_symlinks;
        File::open(path)
    }
}

fn read_up_to(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// A reader that feeds every byte to a keyed BLAKE3 hasher.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R, key: &[u8; 32]) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: blake3::Hasher::new_keyed(key),
        }
    }

    /// Hex digest of what was read, truncated to 128 bits.
    fn digest(&self) -> String {
        let hash = self.hasher.finalize();
        hash.to_hex()[..32].to_string()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        Ok(read)
    }
}

fn keyed_digest(key: &[u8; 32], data: &[u8]) -> String {
    blake3::keyed_hash(key, data).to_hex()[..32].to_string()
}

/// Counts the bytes read through it.
struct ReadCounter<'r, R> {
    inner: &'r mut R,
    count: u64,
}

impl<'r, R: Read> ReadCounter<'r, R> {
    fn new(inner: &'r mut R) -> ReadCounter<'r, R> {
        ReadCounter { inner, count: 0 }
    }
}

impl<R: Read> Read for ReadCounter<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.count += read as u64;
        Ok(read)
    }
}
