//! Zip-based document packages (Office Open XML and OpenDocument): reading
//! parts within the expansion limits, relationships and document properties.

use crate::archive::{Expansion, MemberError};
use crate::xml;
use crate::{Child, Flow, Format, Limits, Outcome, Sink};
use phiscan_core::Coverage;
use quick_xml::events::Event;
use std::collections::HashMap;
use std::io::{self, Cursor, Read};

/// An open package: its zip directory and what has been expanded so far.
pub struct Package<'b, 'l> {
    zip: zip::ZipArchive<Cursor<&'b [u8]>>,
    pub expansion: Expansion<'l>,
    /// Part names, in archive order.
    pub names: Vec<String>,
}

impl<'b, 'l> Package<'b, 'l> {
    /// Opens a package from bytes.
    pub fn open(bytes: &'b [u8], limits: &'l Limits) -> Result<Package<'b, 'l>, String> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|err| {
            format!(
                "damaged or truncated document (a zip package): {}",
                crate::archive::plain_zip_error(&err)
            )
        })?;
        let names = zip
            .file_names()
            .filter_map(Result::ok)
            .map(|name| name.into_owned())
            .collect::<Vec<_>>();
        Ok(Package {
            zip,
            expansion: Expansion::new(limits),
            names,
        })
    }

    /// Returns true when the package has this part.
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|part| part == name)
    }

    /// Expands one part; `None` when the package has no such part.
    pub fn part(&mut self, name: &str) -> Option<Result<Vec<u8>, MemberError>> {
        let entry = match self.zip.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return None,
            Err(err) => return Some(Err(MemberError::Io(io::Error::other(err.to_string())))),
        };
        if entry.encrypted() {
            return Some(Err(MemberError::Io(io::Error::other(
                "the part is encrypted",
            ))));
        }
        let compressed = entry.compressed_size();
        Some(self.expansion.read_member(entry, compressed))
    }
}

/// Checks that every member of a zip package expands within the limits,
/// without keeping the data. Used before handing a package to a parser that
/// reads parts whole (calamine loads the shared-strings table at once).
pub fn check_expansion(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|err| {
        format!(
            "damaged or truncated document (a zip package): {}",
            crate::archive::plain_zip_error(&err)
        )
    })?;
    let mut total = 0u64;
    if zip.len() as u64 > limits.max_entries {
        return Err(format!(
            "package has more than {} parts (member limit)",
            limits.max_entries
        ));
    }
    for index in 0..zip.len() {
        let Ok(entry) = zip.by_index(index) else {
            continue;
        };
        let compressed = entry.compressed_size().max(1);
        let mut counter = CountingSink::default();
        let cap = limits
            .max_whole_bytes
            .min(limits.max_expanded_bytes.saturating_sub(total));
        let mut limited = entry.take(cap.saturating_add(1));
        let mut buffer = [0u8; 64 * 1024];
        loop {
            let read = match limited.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            counter.0 += read as u64;
            if counter.0 > limits.ratio_grace_bytes && counter.0 / compressed > limits.max_ratio {
                return Err(format!(
                    "a part expands more than {}:1 (a likely decompression bomb)",
                    limits.max_ratio
                ));
            }
            if counter.0 > cap {
                return Err(format!(
                    "parts expand past the limit of {} MiB",
                    limits.max_whole_bytes.min(limits.max_expanded_bytes) >> 20
                ));
            }
        }
        total += counter.0;
    }
    Ok(())
}

#[derive(Default)]
struct CountingSink(u64);

/// Scans a package that its structured reader refused (over a limit, or
/// invalid) as a plain zip archive: every part within the limits becomes a
/// child item, so XML text is still examined without its structure.
pub fn fallback_as_zip(
    bytes: &[u8],
    format: Format,
    why: &str,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> Outcome {
    let outcome = crate::archive::extract_zip(bytes, limits, sink);
    let reason = match outcome.reason {
        Some(limit) => format!("{why}; parts were scanned as a zip archive ({limit})"),
        None => {
            format!("{why}; parts were scanned as a zip archive without their document structure")
        }
    };
    let coverage = match outcome.coverage {
        Coverage::Error => Coverage::Error,
        _ => Coverage::Partial,
    };
    Outcome {
        format,
        coverage,
        reason: Some(reason),
        stopped: outcome.stopped,
    }
}

/// Parses an OPC relationships part into id → (type, target).
pub fn relationships(bytes: &[u8]) -> HashMap<String, (String, String)> {
    let mut map = HashMap::new();
    let mut reader = xml::reader(bytes);
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(element) | Event::Empty(element))
                if element.local_name().as_ref() == b"Relationship" =>
            {
                if let (Some(id), Some(target)) =
                    (xml::attr(&element, b"Id"), xml::attr(&element, b"Target"))
                {
                    let kind = xml::attr(&element, b"Type").unwrap_or_default();
                    map.insert(id, (kind, target));
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buffer.clear();
    }
    map
}

/// Emits the external targets of every relationships part (hyperlinks such as
/// `mailto:` addresses, which the document text may not show).
pub(crate) fn emit_external_targets(
    package: &mut Package<'_, '_>,
    out: &mut crate::Emitter<'_>,
) -> Flow {
    let rels_parts: Vec<String> = package
        .names
        .iter()
        .filter(|name| name.ends_with(".rels"))
        .cloned()
        .collect();
    for part in rels_parts {
        let Some(Ok(bytes)) = package.part(&part) else {
            continue;
        };
        let mut targets: Vec<String> = external_targets(&bytes);
        targets.sort();
        targets.dedup();
        for target in targets {
            let locator = phiscan_core::Locator::Part {
                part: part.clone(),
                detail: Some("hyperlink target".into()),
            };
            let scope = phiscan_detect::RecordScope::Window;
            if out.text(&target, Some("hyperlink"), scope, locator) == Flow::Stop {
                return Flow::Stop;
            }
        }
    }
    Flow::Continue
}

/// Returns the targets of relationships with `TargetMode="External"`.
fn external_targets(bytes: &[u8]) -> Vec<String> {
    let mut targets = Vec::new();
    let mut reader = xml::reader(bytes);
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(element) | Event::Empty(element))
                if element.local_name().as_ref() == b"Relationship" =>
            {
                let external =
                    xml::attr(&element, b"TargetMode").is_some_and(|mode| mode == "External");
                if external && let Some(target) = xml::attr(&element, b"Target") {
                    targets.push(target);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buffer.clear();
    }
    targets
}

/// Resolves a relationship target against the folder of its source part.
pub fn resolve_target(source: &str, target: &str) -> String {
    if let Some(absolute) = target.strip_prefix('/') {
        return absolute.to_string();
    }
    let mut parts: Vec<&str> = match source.rfind('/') {
        Some(slash) => source[..slash].split('/').collect(),
        None => Vec::new(),
    };
    for piece in target.split('/') {
        match piece {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Returns the name of a part's relationships part (`xl/_rels/workbook.xml.rels`).
pub fn rels_name(source: &str) -> String {
    match source.rfind('/') {
        Some(slash) => format!("{}/_rels/{}.rels", &source[..slash], &source[slash + 1..]),
        None => format!("_rels/{source}.rels"),
    }
}

/// Reads the document properties of an OOXML package: core (author, last
/// modified by, title...), extended (company, manager) and custom properties.
pub fn ooxml_properties(package: &mut Package<'_, '_>) -> Vec<(String, String)> {
    let mut properties = Vec::new();
    if let Some(Ok(core)) = package.part("docProps/core.xml") {
        collect_leaf_text(&core, &mut properties, |name| {
            !matches!(
                name,
                "created" | "modified" | "revision" | "lastPrinted" | "version"
            )
        });
    }
    if let Some(Ok(app)) = package.part("docProps/app.xml") {
        collect_leaf_text(&app, &mut properties, |name| {
            matches!(name, "Company" | "Manager" | "HyperlinkBase")
        });
    }
    if let Some(Ok(custom)) = package.part("docProps/custom.xml") {
        collect_named_properties(&custom, b"property", b"name", &mut properties);
    }
    properties
}

/// Reads the metadata of an OpenDocument package (`meta.xml`): creator,
/// initial creator, title, subject, description, keywords and user-defined fields.
pub fn odf_properties(package: &mut Package<'_, '_>) -> Vec<(String, String)> {
    let mut properties = Vec::new();
    if let Some(Ok(meta)) = package.part("meta.xml") {
        collect_leaf_text(&meta, &mut properties, |name| {
            matches!(
                name,
                "creator"
                    | "initial-creator"
                    | "title"
                    | "subject"
                    | "description"
                    | "keyword"
                    | "printed-by"
            )
        });
        collect_named_properties(&meta, b"user-defined", b"name", &mut properties);
    }
    properties
}

/// Collects the text of leaf elements whose local name passes `keep`, as
/// (local name, text) pairs.
fn collect_leaf_text(bytes: &[u8], out: &mut Vec<(String, String)>, keep: impl Fn(&str) -> bool) {
    let mut reader = xml::reader(bytes);
    let mut buffer = Vec::new();
    let mut current: Option<String> = None;
    let mut text = String::new();
    loop {
        let event = match reader.read_event_into(&mut buffer) {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match &event {
            Event::Start(element) => {
                let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
                current = keep(&name).then_some(name);
                text.clear();
            }
            Event::End(_) => {
                if let Some(name) = current.take()
                    && !text.trim().is_empty()
                {
                    out.push((name, text.trim().to_string()));
                }
                text.clear();
            }
            other => {
                if current.is_some() {
                    xml::push_text(other, &mut text);
                }
            }
        }
        buffer.clear();
    }
}

/// Collects custom properties: elements named `element` with a name
/// attribute, and the text inside them.
fn collect_named_properties(
    bytes: &[u8],
    element_name: &[u8],
    name_attr: &[u8],
    out: &mut Vec<(String, String)>,
) {
    let mut reader = xml::reader(bytes);
    let mut buffer = Vec::new();
    let mut current: Option<String> = None;
    let mut text = String::new();
    loop {
        let event = match reader.read_event_into(&mut buffer) {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match &event {
            Event::Start(element) if element.local_name().as_ref() == element_name => {
                current = xml::attr(element, name_attr);
                text.clear();
            }
            Event::End(element) if element.local_name().as_ref() == element_name => {
                if let Some(name) = current.take()
                    && !text.trim().is_empty()
                {
                    out.push((name, text.trim().to_string()));
                }
            }
            other => {
                if current.is_some() {
                    xml::push_text(other, &mut text);
                }
            }
        }
        buffer.clear();
    }
}

/// Hands embedded files (OLE objects, packages, nested workbooks) under the
/// given folders to the sink as child items.
pub fn embedded_children(
    package: &mut Package<'_, '_>,
    folders: &[&str],
    sink: &mut dyn Sink,
) -> Flow {
    let names: Vec<String> = package
        .names
        .iter()
        .filter(|name| {
            !name.ends_with('/') && folders.iter().any(|folder| name.starts_with(folder))
        })
        .cloned()
        .collect();
    for name in names {
        if !package.expansion.admit_entry() {
            break;
        }
        let flow = match package.part(&name) {
            Some(Ok(data)) => sink.child(Child {
                name: &name,
                data: &data,
                modified: None,
                unreadable: None,
                damaged: None,
            }),
            Some(Err(error)) => {
                let (coverage, reason) = match error {
                    MemberError::Limit(reason) => (Coverage::Skipped, reason),
                    MemberError::Io(err) => {
                        (Coverage::Error, format!("embedded part is corrupt: {err}"))
                    }
                };
                sink.child(Child {
                    name: &name,
                    data: &[],
                    modified: None,
                    unreadable: Some((coverage, reason)),
                    damaged: None,
                })
            }
            None => Flow::Continue,
        };
        if flow == Flow::Stop {
            return Flow::Stop;
        }
    }
    Flow::Continue
}
