//! Outlook .msg files: an OLE2 compound file holding one message as MAPI
//! property streams (MS-OXMSG), with recipient and attachment storages and
//! attached messages as nested storages.

use super::mapi::{
    ATTACH_DATA, ATTACH_METHOD, AttachmentContent, MapiAttachment, MapiMessage, Props, Value,
    filetime_to_unix,
};
use crate::{Format, Limits, Outcome, Sink};
use phiscan_core::Coverage;
use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};

/// Deepest nesting of attached messages read from one file.
const MAX_NESTING: u32 = 16;

/// Returns true when the first bytes of an OLE2 file list the property
/// streams of an Outlook message in its directory.
///
/// NOTE: only the directory sectors within the sniffed bytes are seen; a .msg
/// file whose directory lies further in is reported as an OLE2 file.
pub fn looks_like_msg(head: &[u8]) -> bool {
    let utf16 =
        |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    memchr::memmem::find(head, &utf16("__properties_version1.0")).is_some()
        && memchr::memmem::find(head, &utf16("__substg1.0_")).is_some()
}

/// Extracts a .msg file held in memory.
pub fn extract(bytes: &[u8], limits: &Limits, sink: &mut dyn Sink) -> Outcome {
    let mut file = match cfb::CompoundFile::open(Cursor::new(bytes)) {
        Ok(file) => file,
        Err(err) => {
            return Outcome::with(
                Format::Msg,
                Coverage::Error,
                format!("invalid Outlook message (compound file): {err}"),
            );
        }
    };
    let names = std::sync::Arc::new(named_property_names(&mut file));
    match read_message(&mut file, Path::new("/"), 32, 0, &names) {
        Ok(message) => super::mapi::emit(&message, limits, sink),
        Err(err) => Outcome::with(
            Format::Msg,
            Coverage::Error,
            format!("invalid Outlook message: {err}"),
        ),
    }
}

/// Reads the message stored under `root`. `header_len` is the size of the
/// property stream's header: 32 bytes for the file's message, 24 for an
/// attached one.
fn read_message<F: Read + Seek>(
    file: &mut cfb::CompoundFile<F>,
    root: &Path,
    header_len: usize,
    depth: u32,
    names: &PropertyNames,
) -> std::io::Result<MapiMessage> {
    let mut message = MapiMessage {
        props: read_props(file, root, header_len)?,
        property_names: names.clone(),
        ..MapiMessage::default()
    };
    let entries: Vec<(String, PathBuf)> = file
        .read_storage(root)?
        .map(|entry| (entry.name().to_string(), entry.path().to_path_buf()))
        .collect();
    let mut recipients: Vec<(String, PathBuf)> = Vec::new();
    let mut attachments: Vec<(String, PathBuf)> = Vec::new();
    for (name, path) in entries {
        if name.starts_with("__recip_version1.0_#") {
            recipients.push((name, path));
        } else if name.starts_with("__attach_version1.0_#") {
            attachments.push((name, path));
        }
    }
    recipients.sort();
    attachments.sort();

    for (name, path) in recipients {
        match read_props(file, &path, 8) {
            Ok(props) => message.recipients.push(props),
            Err(err) => message
                .problems
                .push(format!("recipient {name} is unreadable: {err}")),
        }
    }
    for (name, path) in attachments {
        match read_attachment(file, &path, depth, names) {
            Ok(attachment) => message.attachments.push(attachment),
            Err(err) => message
                .problems
                .push(format!("attachment {name} is unreadable: {err}")),
        }
    }
    Ok(message)
}

fn read_attachment<F: Read + Seek>(
    file: &mut cfb::CompoundFile<F>,
    path: &Path,
    depth: u32,
    names: &PropertyNames,
) -> std::io::Result<MapiAttachment> {
    let props = read_props(file, path, 8)?;
    let embedded = path.join("__substg1.0_3701000D");
    let content = if file.is_storage(&embedded) {
        if depth >= MAX_NESTING {
            AttachmentContent::Unreadable(format!(
                "attached message nested deeper than {MAX_NESTING} messages; not opened"
            ))
        } else {
            AttachmentContent::Message(Box::new(read_message(
                file,
                &embedded,
                24,
                depth + 1,
                names,
            )?))
        }
    } else if let Some(data) = props.bytes(ATTACH_DATA) {
        AttachmentContent::Data(data.to_vec())
    } else {
        let method = match props.values.get(&ATTACH_METHOD) {
            Some(Value::Int(method)) => *method,
            _ => 0,
        };
        let reason = match method {
            2..=4 => "attachment is a link to a file outside the message; not read",
            6 => "attachment is an embedded OLE object; not read",
            _ => "attachment has no content stored in the message",
        };
        AttachmentContent::Unreadable(reason.to_string())
    };
    Ok(MapiAttachment { props, content })
}

/// Reads the properties of one storage: variable-length values from their
/// `__substg1.0_IIIITTTT` streams, fixed-size values from the
/// `__properties_version1.0` stream.
/// String names of named properties, by property id.
type PropertyNames = std::sync::Arc<std::collections::BTreeMap<u16, String>>;

/// Reads the string names of the file's named properties from its name-id
/// storage (MS-OXMSG 2.2.3): 8-byte entries whose first four bytes are an
/// offset into the string stream when the low bit of the next four is set,
/// and whose top 16 bits give the property id less 0x8000. Numeric names
/// and a missing or damaged storage give no name, so the locator keeps the id.
fn named_property_names<F: Read + Seek>(
    file: &mut cfb::CompoundFile<F>,
) -> std::collections::BTreeMap<u16, String> {
    let mut names = std::collections::BTreeMap::new();
    let mut read = |name: &str| -> Option<Vec<u8>> {
        let mut data = Vec::new();
        let path = Path::new("/__nameid_version1.0").join(name);
        file.open_stream(&path).ok()?.read_to_end(&mut data).ok()?;
        Some(data)
    };
    let (Some(entries), Some(strings)) =
        (read("__substg1.0_00030102"), read("__substg1.0_00040102"))
    else {
        return names;
    };
    for entry in entries.chunks_exact(8) {
        let offset = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize;
        let info = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
        let Ok(index) = u16::try_from(info >> 16) else {
            continue;
        };
        let Some(id) = 0x8000u16.checked_add(index) else {
            continue;
        };
        if info & 1 == 0 || offset + 4 > strings.len() {
            continue;
        }
        let length = u32::from_le_bytes([
            strings[offset],
            strings[offset + 1],
            strings[offset + 2],
            strings[offset + 3],
        ]) as usize;
        let Some(bytes) = strings.get(offset + 4..offset + 4 + length) else {
            continue;
        };
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        let name = String::from_utf16_lossy(&units);
        if !name.is_empty() {
            names.insert(id, name);
        }
    }
    names
}

fn read_props<F: Read + Seek>(
    file: &mut cfb::CompoundFile<F>,
    dir: &Path,
    header_len: usize,
) -> std::io::Result<Props> {
    let mut props = Props::default();
    let streams: Vec<(String, PathBuf)> = file
        .read_storage(dir)?
        .filter(|entry| entry.is_stream())
        .map(|entry| (entry.name().to_string(), entry.path().to_path_buf()))
        .collect();
    for (name, path) in &streams {
        let Some(tag) = name.strip_prefix("__substg1.0_") else {
            continue;
        };
        let (tag, multi_index) = match tag.split_once('-') {
            Some((tag, index)) => (tag, Some(index)),
            None => (tag, None),
        };
        let Ok(tag) = u32::from_str_radix(tag, 16) else {
            continue;
        };
        let id = (tag >> 16) as u16;
        let kind = (tag & 0xFFFF) as u16;
        let mut data = Vec::new();
        file.open_stream(path)?.read_to_end(&mut data)?;
        let value = match (kind, multi_index) {
            (0x001F, None) | (0x101F, Some(_)) => Value::Text(utf16_text(&data)),
            (0x001E, None) | (0x101E, Some(_)) => Value::String8(data),
            (0x0102, None) => Value::Binary(data),
            _ => continue,
        };
        // Values of a multi-valued property are joined into one text.
        match (props.values.get_mut(&id), &value) {
            (Some(Value::Text(existing)), Value::Text(more)) if multi_index.is_some() => {
                existing.push_str(", ");
                existing.push_str(more);
            }
            _ => {
                props.values.insert(id, value);
            }
        }
    }

    let fixed = dir.join("__properties_version1.0");
    if file.is_stream(&fixed) {
        let mut data = Vec::new();
        file.open_stream(&fixed)?.read_to_end(&mut data)?;
        for entry in data.get(header_len..).unwrap_or_default().chunks_exact(16) {
            let tag = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            let id = (tag >> 16) as u16;
            let value = &entry[8..16];
            let value = match tag & 0xFFFF {
                0x0003 => Value::Int(i64::from(i32::from_le_bytes([
                    value[0], value[1], value[2], value[3],
                ]))),
                0x000B => Value::Bool(value[0] != 0),
                0x0014 => Value::Int(i64::from_le_bytes(value.try_into().unwrap_or_default())),
                0x0040 => Value::Time(filetime_to_unix(i64::from_le_bytes(
                    value.try_into().unwrap_or_default(),
                ))),
                _ => continue,
            };
            props.values.entry(id).or_insert(value);
        }
    }
    Ok(props)
}

fn utf16_text(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    let end = units
        .iter()
        .rposition(|&unit| unit != 0)
        .map_or(0, |i| i + 1);
    String::from_utf16_lossy(&units[..end])
}
