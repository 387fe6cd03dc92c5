//! The writer thread: hands every record to the sinks and keeps the summary.

use crate::scan::Progress;
use phiscan_core::blocks::{Block, PeopleRow};
use phiscan_core::cache::ItemOrigin;
use phiscan_core::records::{
    FindingForm, FindingRecord, FlowRecord, ItemMeta, ItemRecord, Record, RecordSink, SinkError,
    SummaryRecord,
};
use phiscan_core::{Category, Class, Coverage};
use phiscan_detect::PeopleCounter;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Weight of the messages a worker collects before it hands them to the
/// writer, where a message weighs one plus the findings it carries. One
/// channel operation per item woke the writer for every small file, and
/// those context switches cost a tenth of a scan's time. Counting findings
/// keeps each batch small in memory when items hold thousands of findings.
pub(crate) const OUTBOX_WEIGHT: usize = 2048;

/// The weight of a queued message, counted against [`OUTBOX_WEIGHT`].
pub(crate) trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for Message {
    fn weight(&self) -> usize {
        1 + match self {
            Message::Findings(batch) => batch.findings() as usize,
            Message::Reused(reused) => reused.findings.len(),
            Message::Flows(flows) => flows.len(),
            Message::Item(_) | Message::Meta(..) => 0,
        }
    }
}

/// How long a message may wait in a worker's outbox, so progress stays current.
const OUTBOX_DELAY: Duration = Duration::from_millis(200);

/// A worker's sending end to the writer: collects messages and sends them
/// in batches. Dropping it sends what is left.
pub(crate) struct Sender<T: Weight> {
    channel: crossbeam_channel::Sender<Vec<T>>,
    pending: RefCell<Vec<T>>,
    /// Total weight of `pending`.
    weight: Cell<usize>,
    oldest: Cell<Option<Instant>>,
}

/// The writer hung up: the scan is ending because an output failed.
#[derive(Debug)]
pub(crate) struct Disconnected;

impl<T: Weight> Sender<T> {
    pub(crate) fn new(channel: crossbeam_channel::Sender<Vec<T>>) -> Sender<T> {
        Sender {
            channel,
            pending: RefCell::new(Vec::new()),
            weight: Cell::new(0),
            oldest: Cell::new(None),
        }
    }

    /// Queues a message; sends the batch when it is full.
    pub(crate) fn send(&self, message: T) -> Result<(), Disconnected> {
        let full = {
            let weight = self.weight.get() + message.weight();
            self.weight.set(weight);
            let mut pending = self.pending.borrow_mut();
            pending.push(message);
            if pending.len() == 1 {
                self.oldest.set(Some(Instant::now()));
            }
            weight >= OUTBOX_WEIGHT
        };
        if full { self.flush() } else { Ok(()) }
    }

    /// Sends the queued messages when the oldest has waited long enough.
    pub(crate) fn flush_if_stale(&self) -> Result<(), Disconnected> {
        match self.oldest.get() {
            Some(oldest) if oldest.elapsed() >= OUTBOX_DELAY => self.flush(),
            _ => Ok(()),
        }
    }

    /// Sends every queued message.
    pub(crate) fn flush(&self) -> Result<(), Disconnected> {
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        self.weight.set(0);
        self.oldest.set(None);
        if batch.is_empty() {
            return Ok(());
        }
        self.channel.send(batch).map_err(|_| Disconnected)
    }
}

impl<T: Weight> Drop for Sender<T> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Findings of one item, in the forms the sinks take.
#[derive(Default)]
pub(crate) struct FindingBatch {
    /// Finding records, when a sink takes them.
    pub(crate) records: Vec<FindingRecord>,
    /// A finished block, when a sink takes blocks and the item ended or
    /// its block filled up.
    pub(crate) block: Option<Block>,
    /// People rows, on the same terms as the block.
    pub(crate) people: Vec<PeopleRow>,
    /// How many findings the batch accounts for, per category, whatever
    /// forms it carries them in.
    pub(crate) counts: Vec<(Category, u64)>,
}

impl FindingBatch {
    /// Counts a finding of `category`.
    pub(crate) fn count(&mut self, category: Category) {
        match self.counts.iter_mut().find(|(seen, _)| *seen == category) {
            Some((_, count)) => *count += 1,
            None => self.counts.push((category, 1)),
        }
    }

    /// Findings the batch accounts for.
    pub(crate) fn findings(&self) -> u64 {
        self.counts.iter().map(|(_, count)| count).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.block.is_none() && self.people.is_empty()
    }
}

/// Message from a worker to the writer.
pub(crate) enum Message {
    /// Findings of the item being extracted.
    Findings(Box<FindingBatch>),
    /// An item is done; its findings were sent before.
    Item(Box<FinishedItem>),
    /// The flows of a message with PHI, after its item.
    Flows(Vec<FlowRecord>),
    /// Facts of the file at a location, sent before the file's item; the
    /// writer adds them to the top-level item record with that location.
    Meta(String, Box<ItemMeta>),
    /// An item copied from an earlier scan, with its findings.
    Reused(Box<ReusedItem>),
}

/// An item copied from an earlier scan.
pub(crate) struct ReusedItem {
    pub(crate) finished: FinishedItem,
    pub(crate) findings: Vec<FindingRecord>,
    pub(crate) origin: Option<ItemOrigin>,
}

/// An item's record and what the summary needs of it.
pub(crate) struct FinishedItem {
    pub(crate) record: ItemRecord,
    pub(crate) people: PeopleCounter,
    /// Bytes of a top-level file read from disk (0 for container members).
    pub(crate) bytes_read: u64,
    /// Whether the item's content was read at all.
    pub(crate) content_read: bool,
    /// Set for a message fetched over IMAP: the sweep counts it as done once
    /// its record reached every output.
    pub(crate) mark: Option<MailMark>,
}

/// A fetched IMAP message: index of its sweep, folder and UID.
pub(crate) type MailMark = (usize, String, u32);

/// Messages whose records were written, shared with the scanner.
pub(crate) type MailDone = Arc<Mutex<HashSet<MailMark>>>;

/// The forms of findings some sink takes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FindingForms {
    pub(crate) records: bool,
    pub(crate) blocks: bool,
}

pub(crate) struct Writer {
    sinks: Vec<Box<dyn RecordSink>>,
    /// Finding form of each sink, in the order of `sinks`.
    forms: Vec<FindingForm>,
    failed: Vec<bool>,
    failure: Option<SinkError>,
    summary: SummaryRecord,
    people: PeopleCounter,
    progress: Arc<Progress>,
    cancel: Arc<AtomicBool>,
    mail_done: MailDone,
    /// File facts waiting for their item record, by location.
    metas: HashMap<String, ItemMeta>,
}

impl Writer {
    pub(crate) fn new(
        sinks: Vec<Box<dyn RecordSink>>,
        scan_id: &str,
        progress: Arc<Progress>,
        cancel: Arc<AtomicBool>,
        mail_done: MailDone,
    ) -> Writer {
        let mut summary = SummaryRecord {
            scan: scan_id.to_string(),
            ..SummaryRecord::default()
        };
        for class in Class::ALL {
            summary.by_class.insert(class, 0);
        }
        for coverage in Coverage::ALL {
            summary.by_coverage.insert(coverage, 0);
        }
        Writer {
            failed: vec![false; sinks.len()],
            forms: sinks.iter().map(|sink| sink.finding_form()).collect(),
            sinks,
            failure: None,
            summary,
            people: PeopleCounter::default(),
            progress,
            cancel,
            mail_done,
            metas: HashMap::new(),
        }
    }

    /// Returns the forms the workers build: records when some sink takes
    /// finding records, blocks when some sink takes blocks.
    pub(crate) fn finding_forms(&self) -> FindingForms {
        FindingForms {
            records: self.forms.contains(&FindingForm::Records),
            blocks: self.forms.contains(&FindingForm::Blocks),
        }
    }

    /// Hands a record to every sink that has not failed.
    pub(crate) fn send(&mut self, record: &Record) {
        self.send_to(record, |_| true);
    }

    /// Hands a record to the sinks whose finding form `to` accepts.
    fn send_to(&mut self, record: &Record, to: impl Fn(FindingForm) -> bool) {
        self.each_sink(|sink, form| {
            if to(form) {
                sink.record(record)
            } else {
                Ok(())
            }
        });
    }

    /// Calls `write` with every sink that has not failed, and its finding
    /// form. The first failure cancels the scan, because a store that
    /// cannot be written makes the run fail.
    fn each_sink(
        &mut self,
        mut write: impl FnMut(&mut dyn RecordSink, FindingForm) -> Result<(), SinkError>,
    ) {
        for ((sink, failed), form) in self
            .sinks
            .iter_mut()
            .zip(self.failed.iter_mut())
            .zip(&self.forms)
        {
            if *failed {
                continue;
            }
            if let Err(err) = write(sink.as_mut(), *form) {
                tracing::error!(error = %err, "output failed; stopping the scan");
                *failed = true;
                self.cancel.store(true, Ordering::Relaxed);
                self.failure.get_or_insert(err);
            }
        }
    }

    /// Counts a batch of findings and hands each form to the sinks that
    /// take it.
    fn handle_findings(&mut self, batch: FindingBatch) {
        let FindingBatch {
            records,
            block,
            people,
            counts,
        } = batch;
        let mut total = 0;
        for (category, count) in counts {
            *self.summary.by_category.entry(category).or_insert(0) += count;
            total += count;
        }
        self.summary.findings += total;
        self.progress.findings.fetch_add(total, Ordering::Relaxed);
        if block.is_some() || !people.is_empty() {
            self.each_sink(|sink, form| match form {
                FindingForm::Blocks => sink.record_blocks(block.as_ref(), &people),
                FindingForm::Records | FindingForm::Neither => Ok(()),
            });
        }
        for finding in records {
            self.send_to(&Record::Finding(finding), |form| {
                form == FindingForm::Records
            });
        }
    }

    pub(crate) fn failure(&self) -> Option<&SinkError> {
        self.failure.as_ref()
    }

    pub(crate) fn handle(&mut self, message: Message) {
        match message {
            Message::Findings(batch) => self.handle_findings(*batch),
            Message::Meta(location, meta) => {
                self.metas.insert(location, *meta);
            }
            Message::Item(finished) => {
                let mark = finished.mark.clone();
                let record = self.count_item(*finished);
                self.send(&Record::Item(record));
                if let Some(mark) = mark
                    && self.failure.is_none()
                {
                    self.mail_done
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(mark);
                }
            }
            Message::Flows(flows) => {
                for flow in flows {
                    self.summary.flows += 1;
                    self.send(&Record::Flow(flow));
                }
            }
            Message::Reused(reused) => self.handle_reused(*reused),
        }
    }

    fn count_finding(&mut self, finding: &FindingRecord) {
        self.progress.findings.fetch_add(1, Ordering::Relaxed);
        *self
            .summary
            .by_category
            .entry(finding.category)
            .or_insert(0) += 1;
        self.summary.findings += 1;
    }

    /// Adds an item to the summary and returns its record, with the file
    /// facts sent for its location.
    fn count_item(&mut self, finished: FinishedItem) -> ItemRecord {
        let FinishedItem {
            mut record,
            people,
            bytes_read,
            content_read,
            mark: _,
        } = finished;
        self.summary.items += 1;
        *self.summary.by_class.entry(record.class).or_insert(0) += 1;
        *self.summary.by_coverage.entry(record.coverage).or_insert(0) += 1;
        self.summary.bytes += bytes_read;
        if content_read {
            self.summary.items_read += 1;
        }
        if record.meta.reused {
            self.summary.items_reused += 1;
        }
        if record.parent.is_none()
            && let Some(meta) = self.metas.remove(&record.location)
        {
            record.meta = meta;
        }
        self.people.merge(people);
        self.progress.items.fetch_add(1, Ordering::Relaxed);
        self.progress.bytes.fetch_add(bytes_read, Ordering::Relaxed);
        record
    }

    /// Hands a reused item to each sink: by reference where the sink keeps
    /// references (the SQLite store), as finding and item records otherwise.
    fn handle_reused(&mut self, reused: ReusedItem) {
        for finding in &reused.findings {
            self.count_finding(finding);
        }
        let record = self.count_item(reused.finished);
        let findings: Vec<Record> = reused.findings.into_iter().map(Record::Finding).collect();
        let item = Record::Item(record);
        let Record::Item(item_record) = &item else {
            unreachable!("built as an item record above")
        };
        self.each_sink(|sink, _| {
            let by_reference = match &reused.origin {
                Some(origin) => sink.record_reused(item_record, origin)?,
                None => false,
            };
            if by_reference {
                return Ok(());
            }
            findings
                .iter()
                .chain(std::iter::once(&item))
                .try_for_each(|record| sink.record(record))
        });
    }

    /// Writes the summary record and flushes every sink.
    pub(crate) fn finish(
        mut self,
        duration: f64,
        complete: bool,
    ) -> Result<SummaryRecord, SinkError> {
        self.summary.duration = duration;
        self.summary.complete = complete && self.failure.is_none();
        self.summary.individuals = self.people.estimate();
        let summary = self.summary.clone();
        self.send(&Record::Summary(summary.clone()));
        for (sink, failed) in self.sinks.iter_mut().zip(self.failed.iter_mut()) {
            if !*failed && let Err(err) = sink.finish() {
                self.failure.get_or_insert(err);
            }
        }
        match self.failure {
            Some(err) => Err(err),
            None => Ok(summary),
        }
    }
}
