//! Small helpers over quick-xml shared by the package formats (OOXML, ODF).

use quick_xml::events::{BytesRef, BytesStart, Event};

/// Returns the unescaped value of the attribute with this local name.
pub fn attr(element: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.local_name().as_ref() == local)
        .map(|attribute| match attribute.unescape_value() {
            Ok(value) => value.into_owned(),
            Err(_) => String::from_utf8_lossy(&attribute.value).into_owned(),
        })
}

/// Appends the text an event carries (text, CDATA or an entity reference) to
/// `out`; returns false for other events.
pub fn push_text(event: &Event<'_>, out: &mut String) -> bool {
    match event {
        Event::Text(text) => {
            match text.decode() {
                Ok(decoded) => out.push_str(&decoded),
                Err(_) => out.push_str(&String::from_utf8_lossy(text)),
            }
            true
        }
        Event::CData(data) => {
            out.push_str(&String::from_utf8_lossy(data));
            true
        }
        Event::GeneralRef(reference) => {
            push_reference(reference, out);
            true
        }
        _ => false,
    }
}

/// Appends the character an entity or character reference stands for.
fn push_reference(reference: &BytesRef<'_>, out: &mut String) {
    if let Ok(Some(ch)) = reference.resolve_char_ref() {
        out.push(ch);
        return;
    }
    let name = String::from_utf8_lossy(reference);
    let resolved = match name.as_ref() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        // An unknown entity is kept as written, so its name is still scanned.
        _ => {
            out.push('&');
            out.push_str(&name);
            out.push(';');
            return;
        }
    };
    out.push_str(resolved);
}

/// A quick-xml reader over bytes, with text trimming off.
pub fn reader(bytes: &[u8]) -> quick_xml::Reader<&[u8]> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(false);
    reader
}
