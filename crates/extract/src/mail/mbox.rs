//! mbox mailboxes: messages separated by `From ` lines, read as a stream so
//! a mailbox of any size is scanned with one message in memory at a time.
//!
//! A separator is a line that starts with `From `, carries a time (`hh:mm`)
//! and a four-digit year, and follows a blank line or starts the file. This
//! matches the lines written by Thunderbird (`From - Mon Jan  1 ...`), Apple
//! Mail, Python's `mailbox` and Google Takeout, while a body line that merely
//! starts with "From" does not split a message. Lines escaped as `>From `
//! (mboxo) or `>>From ` (mboxrd) lose one `>`.

use super::mime;
use crate::{Child, Flow, Format, Limits, Nested, Outcome, Sink};
use phiscan_core::Coverage;
use std::io::{BufRead, BufReader, Read};

/// Extracts every message of an mbox stream as a nested item named by its
/// position in the mailbox, counted from 1.
pub fn extract(
    reader: impl Read,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> std::io::Result<Outcome> {
    let mut reader = BufReader::new(reader);
    let mut current: Option<Pending> = None;
    let mut line = Vec::new();
    let mut previous_blank = true;
    let mut first_line = true;
    let mut messages = 0u64;
    let mut ends_with_newline = true;
    // Damage to the mailbox's own structure: the messages are still
    // read, but the mailbox is partial.
    let mut damage: Vec<String> = Vec::new();
    // A line after a blank line that starts like a separator but is not
    // one, held until the next line shows whether headers follow it.
    let mut suspect: Option<(Vec<u8>, u64)> = None;
    let mut line_number = 0u64;

    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        line_number += 1;
        if first_line && line.starts_with(&[0xEF, 0xBB, 0xBF]) {
            line.drain(..3);
        }
        ends_with_newline = line.ends_with(b"\n");

        if let Some((held, held_line)) = suspect.take() {
            if starts_message_header(&line) {
                damage.push(format!(
                    "line {held_line} looks like a damaged message separator (`From ` line); it was read as the start of a message"
                ));
                if let Some(pending) = current.take()
                    && pending.finish(false, limits, sink) == Flow::Stop
                {
                    return Ok(Outcome::stopped(Format::Mbox));
                }
                messages += 1;
                current = Some(Pending::new(messages));
            } else if let Some(pending) = &mut current {
                pending.push(&held, limits.max_whole_bytes);
            }
        }
        // Text before the first separator is a message whose separator is
        // damaged or missing, when it starts with mail headers.
        if first_line && !is_separator(&line) {
            first_line = false;
            let damaged_separator = line.starts_with(b"From") && !line.starts_with(b"From:");
            if damaged_separator || is_header_line(&line) {
                damage.push(
                    "the mailbox does not start with a valid message separator (`From ` line); the text before the first separator was read as a message".into(),
                );
                messages += 1;
                let mut pending = Pending::new(messages);
                if !damaged_separator {
                    pending.push(&line, limits.max_whole_bytes);
                }
                current = Some(pending);
                previous_blank = false;
                continue;
            }
        }
        first_line = false;

        if previous_blank && is_separator(&line) {
            if let Some(pending) = current.take()
                && pending.finish(false, limits, sink) == Flow::Stop
            {
                return Ok(Outcome::stopped(Format::Mbox));
            }
            messages += 1;
            current = Some(Pending::new(messages));
            previous_blank = false;
            continue;
        }
        if previous_blank && current.is_some() && line.starts_with(b"From ") {
            suspect = Some((line.clone(), line_number));
            previous_blank = false;
            continue;
        }
        previous_blank = line == b"\n" || line == b"\r\n";
        if let Some(pending) = &mut current {
            pending.push(&line, limits.max_whole_bytes);
        }
    }
    if let Some((held, _)) = suspect.take()
        && let Some(pending) = &mut current
    {
        pending.push(&held, limits.max_whole_bytes);
    }

    if let Some(pending) = current.take()
        && pending.finish(!ends_with_newline, limits, sink) == Flow::Stop
    {
        return Ok(Outcome::stopped(Format::Mbox));
    }
    if messages == 0 {
        return Ok(Outcome::with(
            Format::Mbox,
            Coverage::Error,
            "no message separator (a `From ` line) found in the mailbox",
        ));
    }
    if !damage.is_empty() {
        return Ok(Outcome::with(
            Format::Mbox,
            Coverage::Partial,
            damage.join("; "),
        ));
    }
    Ok(Outcome::complete(Format::Mbox))
}

/// Returns true for a header field that starts a message in mailboxes
/// (`Return-Path:`, `Received:`, `From:`...), as the line after a damaged
/// separator would be. A body line such as `Re: your results` is not one.
fn starts_message_header(line: &[u8]) -> bool {
    const FIRST_FIELDS: [&[u8]; 8] = [
        b"return-path:",
        b"received:",
        b"delivered-to:",
        b"from:",
        b"date:",
        b"message-id:",
        b"x-mozilla-status:",
        b"x-gm-thrid:",
    ];
    FIRST_FIELDS
        .iter()
        .any(|field| line.len() >= field.len() && line[..field.len()].eq_ignore_ascii_case(field))
}

/// Returns true for a line that starts a mail header field (`Subject: ...`).
fn is_header_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// A message being collected.
struct Pending {
    index: u64,
    bytes: Vec<u8>,
    size: u64,
    oversized: bool,
}

impl Pending {
    fn new(index: u64) -> Pending {
        Pending {
            index,
            bytes: Vec::new(),
            size: 0,
            oversized: false,
        }
    }

    fn push(&mut self, line: &[u8], limit: u64) {
        let line = unescape(line);
        self.size += line.len() as u64;
        if self.oversized {
            return;
        }
        if self.size > limit {
            self.oversized = true;
            self.bytes = Vec::new();
            return;
        }
        self.bytes.extend_from_slice(line);
    }

    /// Hands the message to the sink. `truncated` is set when the mailbox
    /// ends in the middle of a line.
    fn finish(self, truncated: bool, limits: &Limits, sink: &mut dyn Sink) -> Flow {
        let name = self.index.to_string();
        if self.oversized {
            return sink.child(Child {
                name: &name,
                data: &[],
                modified: None,
                unreadable: Some((
                    Coverage::Skipped,
                    format!(
                        "message of {} MiB is larger than the in-memory limit; raise --max-item-mib to read it",
                        self.size >> 20
                    ),
                )),
             damaged: None, });
        }
        let item = Nested {
            name: &name,
            size: self.size,
            modified: None,
        };
        sink.nested(item, &mut |sink| {
            let mut outcome = mime::extract_message(&self.bytes, limits, sink);
            if truncated && outcome.coverage == Coverage::Complete && !outcome.stopped {
                outcome.coverage = Coverage::Partial;
                outcome.reason =
                    Some("the mailbox ends in the middle of this message (truncated file?)".into());
            }
            outcome
        })
    }
}

/// Returns true for a `From ` separator line (see the module documentation).
fn is_separator(line: &[u8]) -> bool {
    if !line.starts_with(b"From ") {
        return false;
    }
    let has_time = line.windows(5).any(|w| {
        w[0].is_ascii_digit()
            && w[1].is_ascii_digit()
            && w[2] == b':'
            && w[3].is_ascii_digit()
            && w[4].is_ascii_digit()
    });
    let has_year = line.split(|b| b.is_ascii_whitespace()).any(|word| {
        word.len() == 4 && word.iter().all(u8::is_ascii_digit) && (b'1'..=b'2').contains(&word[0])
    });
    has_time && has_year
}

/// Removes one `>` from a `>From ` or `>>From ` line.
fn unescape(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Segment;

    #[derive(Default)]
    struct Collect {
        items: Vec<(String, Outcome)>,
        texts: Vec<String>,
        skipped: Vec<String>,
    }

    impl Sink for Collect {
        fn segment(&mut self, segment: &Segment<'_>) -> Flow {
            self.texts.push(segment.text.to_string());
            Flow::Continue
        }

        fn child(&mut self, child: Child<'_>) -> Flow {
            if child.unreadable.is_some() {
                self.skipped.push(child.name.to_string());
            }
            Flow::Continue
        }

        fn nested(
            &mut self,
            item: Nested<'_>,
            extract: &mut dyn FnMut(&mut dyn Sink) -> Outcome,
        ) -> Flow {
            let outcome = extract(self);
            self.items.push((item.name.to_string(), outcome));
            Flow::Continue
        }
    }

    const MAILBOX: &str = "From alice@clinic.org Mon Jan  1 09:00:00 2024\n\
From: alice@clinic.org\nTo: bob@lab.net\nSubject: one\n\n\
First body.\n>From the lab: results attached.\n>>From here quoted.\n\n\
From - Tue Jan 02 10:00:00 2024\n\
From: bob@lab.net\nTo: alice@clinic.org\nSubject: two\n\n\
From now on, a body line that is not a separator.\n";

    fn run(text: &[u8], limits: &Limits) -> (Outcome, Collect) {
        let mut sink = Collect::default();
        let outcome = extract(text, limits, &mut sink).unwrap();
        (outcome, sink)
    }

    #[test]
    fn splits_and_unescapes() {
        let (outcome, sink) = run(MAILBOX.as_bytes(), &Limits::default());
        assert_eq!(outcome.coverage, Coverage::Complete);
        let names: Vec<&str> = sink.items.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["1", "2"]);
        let bodies = sink.texts.join("|");
        assert!(bodies.contains("\nFrom the lab: results"), "{bodies}");
        assert!(bodies.contains("\n>From here quoted."), "{bodies}");
        assert!(bodies.contains("From now on, a body line"), "{bodies}");
        for (name, outcome) in &sink.items {
            assert_eq!(outcome.coverage, Coverage::Complete, "message {name}");
        }
    }

    #[test]
    fn damaged_separators_start_messages_and_mark_partial() {
        let damaged_first =
            MAILBOX.replacen("From alice@clinic.org Mon Jan  1 09:00:00 2024", "From", 1);
        let missing_first =
            MAILBOX.replacen("From alice@clinic.org Mon Jan  1 09:00:00 2024\n", "", 1);
        let damaged_middle = MAILBOX.replacen("From - Tue Jan 02 10:00:00 2024", "From ", 1);
        for text in [damaged_first, missing_first, damaged_middle] {
            let (outcome, sink) = run(text.as_bytes(), &Limits::default());
            assert_eq!(outcome.coverage, Coverage::Partial, "{text}");
            assert!(outcome.reason.unwrap().contains("separator"));
            let names: Vec<&str> = sink.items.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(names, ["1", "2"], "{text}");
            let bodies = sink.texts.join("|");
            assert!(bodies.contains("First body."), "{bodies}");
            assert!(bodies.contains("From now on"), "{bodies}");
        }
        // A body line after a blank line that starts with `From ` stays
        // text, even before a line shaped like a header.
        let letter = MAILBOX.replace(
            "First body.\n",
            "First body.\n\nFrom the desk of Dr. Lee\nRe: your results\n",
        );
        let (outcome, sink) = run(letter.as_bytes(), &Limits::default());
        assert_eq!(outcome.coverage, Coverage::Complete);
        assert_eq!(sink.items.len(), 2);
        let (outcome, sink) = run(MAILBOX.as_bytes(), &Limits::default());
        assert_eq!(outcome.coverage, Coverage::Complete);
        assert_eq!(sink.items.len(), 2);
    }

    #[test]
    fn truncated_mailbox_marks_last_message_partial() {
        let cut = &MAILBOX.as_bytes()[..MAILBOX.len() - 10];
        let (_, sink) = run(cut, &Limits::default());
        assert_eq!(sink.items[1].1.coverage, Coverage::Partial);
        assert_eq!(sink.items[0].1.coverage, Coverage::Complete);
    }

    #[test]
    fn oversized_message_is_skipped_with_reason() {
        let limits = Limits {
            max_whole_bytes: 110,
            ..Limits::default()
        };
        let (_, sink) = run(MAILBOX.as_bytes(), &limits);
        assert_eq!(sink.skipped, ["1"]);
        assert_eq!(sink.items.len(), 1);
    }

    #[test]
    fn separator_needs_time_and_year() {
        assert!(is_separator(
            b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"
        ));
        assert!(is_separator(b"From - Sat Jan 03 01:05:34 1996\r\n"));
        assert!(!is_separator(b"From the desk of Dr. Lee\n"));
        assert!(!is_separator(b"From: a@b.org\n"));
    }
}
