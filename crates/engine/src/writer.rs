//! The writer thread: hands every record to the sinks and keeps the summary.

use crate::scan::Progress;
use phiscan_core::records::{
    FindingRecord, ItemMeta, ItemRecord, Record, RecordSink, SinkError, SummaryRecord,
};
use phiscan_core::{Class, Coverage};
use phiscan_detect::PeopleCounter;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Message from a worker to the writer.
pub(crate) enum Message {
    /// A batch of findings of the item being extracted.
    Findings(Vec<FindingRecord>),
    /// An item is done; its findings were sent before.
    Item(Box<FinishedItem>),
    /// Facts of the file at a location, sent before the file's item; the
    /// writer adds them to the top-level item record with that location.
    Meta(String, Box<ItemMeta>),
}

/// An item's record and what the summary needs of it.
pub(crate) struct FinishedItem {
    pub(crate) record: ItemRecord,
    pub(crate) people: PeopleCounter,
    /// Bytes of a top-level file read from disk (0 for container members).
    pub(crate) bytes_read: u64,
    /// Whether the item's content was read at all.
    pub(crate) content_read: bool,
}

pub(crate) struct Writer {
    sinks: Vec<Box<dyn RecordSink>>,
    failed: Vec<bool>,
    failure: Option<SinkError>,
    summary: SummaryRecord,
    people: PeopleCounter,
    progress: Arc<Progress>,
    cancel: Arc<AtomicBool>,
    /// File facts waiting for their item record, by location.
    metas: HashMap<String, ItemMeta>,
}

impl Writer {
    pub(crate) fn new(
        sinks: Vec<Box<dyn RecordSink>>,
        scan_id: &str,
        progress: Arc<Progress>,
        cancel: Arc<AtomicBool>,
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
            sinks,
            failure: None,
            summary,
            people: PeopleCounter::default(),
            progress,
            cancel,
            metas: HashMap::new(),
        }
    }

    /// Hands a record to every sink that has not failed. The first failure
    /// cancels the scan: a store that cannot be written makes the run fail.
    pub(crate) fn send(&mut self, record: &Record) {
        for (sink, failed) in self.sinks.iter_mut().zip(self.failed.iter_mut()) {
            if *failed {
                continue;
            }
            if let Err(err) = sink.record(record) {
                tracing::error!(error = %err, "output failed; stopping the scan");
                *failed = true;
                self.cancel.store(true, Ordering::Relaxed);
                self.failure.get_or_insert(err);
            }
        }
    }

    pub(crate) fn failure(&self) -> Option<&SinkError> {
        self.failure.as_ref()
    }

    pub(crate) fn handle(&mut self, message: Message) {
        match message {
            Message::Findings(findings) => {
                self.progress
                    .findings
                    .fetch_add(findings.len() as u64, Ordering::Relaxed);
                for finding in findings {
                    *self
                        .summary
                        .by_category
                        .entry(finding.category)
                        .or_insert(0) += 1;
                    self.summary.findings += 1;
                    self.send(&Record::Finding(finding));
                }
            }
            Message::Meta(location, meta) => {
                self.metas.insert(location, *meta);
            }
            Message::Item(finished) => {
                let FinishedItem {
                    mut record,
                    people,
                    bytes_read,
                    content_read,
                } = *finished;
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
                self.send(&Record::Item(record));
            }
        }
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
