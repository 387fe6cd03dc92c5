//! Outlook PST stores, read with the outlook-pst crate: the folder tree
//! under the top of the personal folders (Inbox, Sent Items, user folders),
//! every message in each folder, and each message's recipients and
//! attachments.
//!
//! Each message is a nested item named `Folder/Sub/N`, N being its position
//! in the folder's contents table from 1. A message that cannot be read is
//! recorded with coverage `error`, and the rest of the store is still read.
//! A folder that yields fewer messages than its content count claims makes
//! the store `partial`.

use super::mapi::{self, AttachmentContent, MapiAttachment, MapiMessage, Props, Value};
use crate::{Child, Flow, Format, Limits, Nested, Outcome, Sink};
use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::ltp::table_context::TableContext;
use outlook_pst::messaging::attachment::{Attachment, AttachmentData};
use outlook_pst::messaging::folder::Folder;
use outlook_pst::messaging::message::{AnsiMessage, Message, UnicodeMessage};
use outlook_pst::messaging::store::{AnsiStore, EntryId, Store, UnicodeStore};
use outlook_pst::ndb::node_id::NodeId;
use outlook_pst::{AnsiPstFile, UnicodePstFile};
use phiscan_core::Coverage;
use std::io::Cursor;
use std::rc::Rc;

/// Deepest folder nesting followed; deeper folders are reported, not read.
const MAX_FOLDER_DEPTH: usize = 64;

/// The store, with its concrete type kept for reading attachments.
enum PstStore {
    Unicode(Rc<UnicodeStore>),
    Ansi(Rc<AnsiStore>),
}

impl PstStore {
    fn open(bytes: Vec<u8>) -> std::io::Result<PstStore> {
        let unicode = UnicodePstFile::read_from(Box::new(Cursor::new(bytes.clone())));
        match unicode {
            Ok(file) => Ok(PstStore::Unicode(UnicodeStore::read(Rc::new(file))?)),
            Err(_) => {
                let file = AnsiPstFile::read_from(Box::new(Cursor::new(bytes)))?;
                Ok(PstStore::Ansi(AnsiStore::read(Rc::new(file))?))
            }
        }
    }

    fn store(&self) -> Rc<dyn Store> {
        match self {
            PstStore::Unicode(store) => store.clone(),
            PstStore::Ansi(store) => store.clone(),
        }
    }

    /// Reads the attachments of a message stored at `entry_id`.
    fn attachments(
        &self,
        entry_id: &EntryId,
        rows: &[NodeId],
    ) -> Vec<std::io::Result<Rc<dyn Attachment>>> {
        match self {
            PstStore::Unicode(store) => match UnicodeMessage::read(store.clone(), entry_id, None) {
                Ok(message) => rows
                    .iter()
                    .map(|&node| {
                        outlook_pst::messaging::attachment::UnicodeAttachment::read(
                            message.clone(),
                            node,
                            None,
                        )
                        .map(|a| a as Rc<dyn Attachment>)
                    })
                    .collect(),
                Err(err) => vec![Err(err)],
            },
            PstStore::Ansi(store) => match AnsiMessage::read(store.clone(), entry_id, None) {
                Ok(message) => rows
                    .iter()
                    .map(|&node| {
                        outlook_pst::messaging::attachment::AnsiAttachment::read(
                            message.clone(),
                            node,
                            None,
                        )
                        .map(|a| a as Rc<dyn Attachment>)
                    })
                    .collect(),
                Err(err) => vec![Err(err)],
            },
        }
    }
}

/// Extracts a PST store held in memory.
pub fn extract(bytes: Vec<u8>, limits: &Limits, sink: &mut dyn Sink) -> Outcome {
    let pst = match PstStore::open(bytes) {
        Ok(pst) => pst,
        Err(err) => {
            return Outcome::with(
                Format::Pst,
                Coverage::Error,
                format!(
                    "invalid or unsupported PST file ({err}); the file may be damaged or truncated: check it with Outlook's Inbox Repair Tool (scanpst.exe) or export it again"
                ),
            );
        }
    };
    let store = pst.store();
    let top = match store
        .properties()
        .ipm_sub_tree_entry_id()
        .and_then(|entry_id| store.open_folder(&entry_id))
    {
        Ok(folder) => folder,
        Err(err) => {
            return Outcome::with(
                Format::Pst,
                Coverage::Error,
                format!("the PST has no readable top of personal folders: {err}"),
            );
        }
    };
    let mut reader = StoreReader {
        pst: &pst,
        limits,
        problems: super::Problems::default(),
        messages: 0,
    };
    if reader.folder_children(&top, "", 0, sink) == Flow::Stop {
        return Outcome::stopped(Format::Pst);
    }
    tracing::debug!(messages = reader.messages, "PST store read");
    reader.problems.outcome(Format::Pst)
}

struct StoreReader<'a> {
    pst: &'a PstStore,
    limits: &'a Limits,
    problems: super::Problems,
    messages: u64,
}

impl StoreReader<'_> {
    /// Reads the sub-folders of `folder`, whose path is `path`.
    fn folder_children(
        &mut self,
        folder: &Rc<dyn Folder>,
        path: &str,
        depth: usize,
        sink: &mut dyn Sink,
    ) -> Flow {
        let Some(table) = folder.hierarchy_table() else {
            // outlook-pst returns no table when reading it fails, so only a
            // folder known to have no sub-folders may lack one.
            if !matches!(folder.properties().has_sub_folders(), Ok(false)) {
                let shown = if path.is_empty() {
                    "the top of the store"
                } else {
                    path
                };
                self.problems
                    .partial(format!("the sub-folder list of /{shown} is unreadable"));
            }
            return Flow::Continue;
        };
        let store = self.pst.store();
        let mut children: Vec<(String, Rc<dyn Folder>)> = Vec::new();
        for row in table.rows_matrix() {
            let node = NodeId::from(u32::from(row.id()));
            let opened = store
                .properties()
                .make_entry_id(node)
                .and_then(|entry_id| store.open_folder(&entry_id));
            match opened {
                Ok(child) => {
                    let name = child
                        .properties()
                        .display_name()
                        .unwrap_or_else(|_| format!("folder-{}", u32::from(node)));
                    children.push((clean_folder_name(&name), child));
                }
                Err(err) => self
                    .problems
                    .partial(format!("a folder under /{path} is unreadable: {err}")),
            }
        }
        for (name, child) in children {
            let child_path = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            if depth >= MAX_FOLDER_DEPTH {
                self.problems.partial(format!(
                    "folder /{child_path} is nested deeper than {MAX_FOLDER_DEPTH} folders; not read"
                ));
                continue;
            }
            if self.folder(&child, &child_path, sink) == Flow::Stop
                || self.folder_children(&child, &child_path, depth + 1, sink) == Flow::Stop
            {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Reads the messages of one folder.
    fn folder(&mut self, folder: &Rc<dyn Folder>, path: &str, sink: &mut dyn Sink) -> Flow {
        let count = folder.properties().content_count();
        let claimed = count.as_ref().map_or(0, |&count| count.max(0) as u64);
        let Some(table) = folder.contents_table() else {
            if claimed > 0 || count.is_err() {
                self.problems.partial(format!(
                    "the message list of folder /{path} is unreadable (content count: {})",
                    count.map_or_else(|_| "unreadable".to_string(), |count| count.to_string())
                ));
            }
            return Flow::Continue;
        };
        let store = self.pst.store();
        let nodes: Vec<NodeId> = table
            .rows_matrix()
            .map(|row| NodeId::from(u32::from(row.id())))
            .collect();
        if (nodes.len() as u64) < claimed {
            self.problems.partial(format!(
                "folder /{path} claims {claimed} messages but its contents table lists {}",
                nodes.len()
            ));
        }
        for (index, node) in nodes.into_iter().enumerate() {
            self.messages += 1;
            let name = format!("{path}/{}", index + 1);
            let read = store
                .properties()
                .make_entry_id(node)
                .and_then(|entry_id| self.read_message(&entry_id));
            let flow = match read {
                Ok(message) => {
                    let item = Nested {
                        name: &name,
                        size: 0,
                        modified: None,
                    };
                    let limits = self.limits;
                    sink.nested(item, &mut |sink| mapi::emit(&message, limits, sink))
                }
                Err(err) => sink.child(Child {
                    name: &name,
                    data: &[],
                    modified: None,
                    unreadable: Some((
                        Coverage::Error,
                        format!(
                            "the message is damaged or stored in a form phiscan cannot read (PST reader: {err}); export the mailbox again from Outlook, or scan it on the mail server"
                        ),
                    )),
                 damaged: None, }),
            };
            if flow == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    fn read_message(&self, entry_id: &EntryId) -> std::io::Result<MapiMessage> {
        let message = self.pst.store().open_message(entry_id, None)?;
        let mut mapi = message_props(message.as_ref());
        if let Some(table) = message.attachment_table() {
            let rows: Vec<NodeId> = table
                .rows_matrix()
                .map(|row| NodeId::from(u32::from(row.id())))
                .collect();
            for (index, attachment) in self
                .pst
                .attachments(entry_id, &rows)
                .into_iter()
                .enumerate()
            {
                match attachment {
                    Ok(attachment) => mapi.attachments.push(attachment_of(attachment.as_ref())),
                    Err(err) => mapi
                        .problems
                        .push(format!(
                            "attachment {} is damaged or stored in a form phiscan cannot read (PST reader: {err})",
                            index + 1
                        )),
                }
            }
        }
        Ok(mapi)
    }
}

/// Reads a message's properties and recipients; attachments are added by the caller.
fn message_props(message: &dyn Message) -> MapiMessage {
    let mut mapi = MapiMessage::default();
    for (&id, value) in message.properties().iter() {
        if let Some(value) = convert(value) {
            mapi.props.values.insert(id, value);
        }
    }
    strip_subject_prefix(&mut mapi.props);
    if let Some(table) = message.recipient_table() {
        mapi.recipients = table_rows(table.as_ref(), &mut mapi.problems);
    }
    mapi
}

fn attachment_of(attachment: &dyn Attachment) -> MapiAttachment {
    let mut props = Props::default();
    for (&id, value) in attachment.properties().iter() {
        if let Some(value) = convert(value) {
            props.values.insert(id, value);
        }
    }
    let content = match attachment.data() {
        Some(AttachmentData::Binary(data)) => AttachmentContent::Data(data.buffer().to_vec()),
        Some(AttachmentData::Message(message)) => {
            let mut nested = message_props(message.as_ref());
            if message
                .attachment_table()
                .is_some_and(|table| table.rows_matrix().next().is_some())
            {
                // NOTE: outlook-pst 1.2 opens the attachments of an attached
                // message only through its concrete type, which an attached
                // message does not expose.
                nested
                    .problems
                    .push("the attachments of this attached message were not read".to_string());
            }
            AttachmentContent::Message(Box::new(nested))
        }
        None => AttachmentContent::Unreadable(
            "attachment has no content stored in the PST (a link or an OLE object)".to_string(),
        ),
    };
    MapiAttachment { props, content }
}

/// Reads every row of a table (the recipients) as property sets.
fn table_rows(table: &dyn TableContext, problems: &mut Vec<String>) -> Vec<Props> {
    let context = table.context();
    let mut rows = Vec::new();
    for row in table.rows_matrix() {
        let mut props = Props::default();
        match row.columns(context) {
            Ok(values) => {
                for (column, value) in context.columns().iter().zip(values) {
                    let Some(value) = value else { continue };
                    if let Ok(value) = table.read_column(&value, column.prop_type())
                        && let Some(value) = convert(&value)
                    {
                        props.values.insert(column.prop_id(), value);
                    }
                }
            }
            Err(err) => problems.push(format!("a recipient row is unreadable: {err:?}")),
        }
        rows.push(props);
    }
    rows
}

fn convert(value: &PropertyValue) -> Option<Value> {
    Some(match value {
        PropertyValue::Unicode(text) => Value::Text(String::from_utf16_lossy(text.buffer())),
        PropertyValue::String8(text) => Value::String8(text.buffer().to_vec()),
        PropertyValue::Binary(data) => Value::Binary(data.buffer().to_vec()),
        PropertyValue::Boolean(flag) => Value::Bool(*flag),
        PropertyValue::Integer16(number) => Value::Int(i64::from(*number)),
        PropertyValue::Integer32(number) => Value::Int(i64::from(*number)),
        PropertyValue::Integer64(number) => Value::Int(*number),
        PropertyValue::Time(ticks) => Value::Time(mapi::filetime_to_unix(*ticks)),
        PropertyValue::MultipleUnicode(list) => Value::Text(
            list.iter()
                .map(|text| String::from_utf16_lossy(text.buffer()))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => return None,
    })
}

/// Removes the subject prefix marker: PST subjects may start with U+0001
/// and a character giving the length of a prefix such as `RE: `.
fn strip_subject_prefix(props: &mut Props) {
    if let Some(Value::Text(subject)) = props.values.get_mut(&mapi::SUBJECT)
        && subject.starts_with('\u{1}')
    {
        *subject = subject.chars().skip(2).collect();
    }
    if let Some(Value::String8(subject)) = props.values.get_mut(&mapi::SUBJECT)
        && subject.first() == Some(&1)
    {
        subject.drain(..subject.len().min(2));
    }
}

fn clean_folder_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '!' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".to_string()
    } else {
        cleaned
    }
}
