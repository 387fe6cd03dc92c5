//! Content sniffing: the real type of an item from its first bytes, never
//! from its name.

use crate::decode::{TextEncoding, decode_all, detect_encoding};

/// Bytes of an item read for sniffing.
pub const SNIFF_LEN: usize = 64 * 1024;

/// The format of an item, as detected from content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Empty,
    Text,
    Csv,
    Tsv,
    Json,
    Xml,
    Html,
    Rtf,
    Hl7v2,
    X12,
    Eml,
    Mbox,
    Pdf,
    Zip,
    Docx,
    Xlsx,
    /// Excel binary workbook: a zip package like xlsx, recognized by its
    /// `xl/workbook.bin` part when it is opened.
    Xlsb,
    Pptx,
    Odt,
    Ods,
    Odp,
    /// OLE2 compound file: legacy .doc, .xls, .ppt, or an encrypted Office
    /// document.
    Ole2,
    /// Legacy Word document (an OLE2 file with a `WordDocument` stream).
    Doc,
    /// Legacy Excel workbook (an OLE2 file with a `Workbook` or `Book` stream).
    Xls,
    /// Legacy PowerPoint presentation.
    Ppt,
    /// Outlook message: a .msg file (an OLE2 compound file with MAPI
    /// property streams), or a message inside a PST store.
    Msg,
    Gzip,
    Bzip2,
    Xz,
    Tar,
    SevenZip,
    Rar,
    Pst,
    Dicom,
    Sqlite,
    Png,
    Jpeg,
    Gif,
    Tiff,
    Bmp,
    Webp,
    Heic,
    Executable,
    Binary,
}

impl Format {
    /// Returns the name written in item records.
    pub fn name(self) -> &'static str {
        match self {
            Format::Empty => "empty",
            Format::Text => "text",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Json => "json",
            Format::Xml => "xml",
            Format::Html => "html",
            Format::Rtf => "rtf",
            Format::Hl7v2 => "hl7v2",
            Format::X12 => "x12",
            Format::Eml => "eml",
            Format::Mbox => "mbox",
            Format::Pdf => "pdf",
            Format::Zip => "zip",
            Format::Docx => "docx",
            Format::Xlsx => "xlsx",
            Format::Xlsb => "xlsb",
            Format::Pptx => "pptx",
            Format::Odt => "odt",
            Format::Ods => "ods",
            Format::Odp => "odp",
            Format::Ole2 => "ole2",
            Format::Doc => "doc",
            Format::Xls => "xls",
            Format::Ppt => "ppt",
            Format::Msg => "msg",
            Format::Gzip => "gzip",
            Format::Bzip2 => "bzip2",
            Format::Xz => "xz",
            Format::Tar => "tar",
            Format::SevenZip => "7z",
            Format::Rar => "rar",
            Format::Pst => "pst",
            Format::Dicom => "dicom",
            Format::Sqlite => "sqlite",
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Gif => "gif",
            Format::Tiff => "tiff",
            Format::Bmp => "bmp",
            Format::Webp => "webp",
            Format::Heic => "heic",
            Format::Executable => "executable",
            Format::Binary => "binary",
        }
    }

    /// Returns true for formats whose bytes are text.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Format::Text
                | Format::Csv
                | Format::Tsv
                | Format::Json
                | Format::Xml
                | Format::Html
                | Format::Rtf
                | Format::Hl7v2
                | Format::X12
                | Format::Eml
                | Format::Mbox
        )
    }

    /// Returns true for image formats: photos and scanned pages, which phiscan
    /// does not read.
    pub fn is_image(self) -> bool {
        matches!(
            self,
            Format::Png
                | Format::Jpeg
                | Format::Gif
                | Format::Tiff
                | Format::Bmp
                | Format::Webp
                | Format::Heic
        )
    }
}

/// The result of sniffing: the format, and for text its encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sniffed {
    pub format: Format,
    pub encoding: Option<TextEncoding>,
    /// The binary document format the item's name claims (`.xls`, `.pdf`)
    /// when its content is not that format: a truncated, damaged or
    /// replaced file.
    pub claimed: Option<Format>,
}

/// Detects the format from the first bytes of an item (up to [`SNIFF_LEN`]).
///
/// `total_len` is the item's full size, used to tell an empty item apart.
pub fn sniff(head: &[u8], total_len: u64) -> Sniffed {
    let binary = |format| Sniffed {
        format,
        encoding: None,
        claimed: None,
    };
    if total_len == 0 || head.is_empty() {
        return binary(Format::Empty);
    }
    if let Some(format) = sniff_magic(head) {
        return binary(format);
    }
    match detect_encoding(head) {
        Some(encoding) => Sniffed {
            format: sniff_text(head, encoding),
            encoding: Some(encoding),
            claimed: None,
        },
        // A zip preceded by other bytes (a self-extractor stub, junk)
        // still opens from its central directory at the end.
        None if memchr::memmem::find(head, b"PK\x03\x04").is_some() => binary(Format::Zip),
        None if looks_like_bare_dicom(head) => binary(Format::Dicom),
        None => binary(Format::Binary),
    }
}

/// Detects the format like [`sniff`], and also notes when the item's name
/// claims a binary document format that the content does not have.
pub fn sniff_named(head: &[u8], total_len: u64, name: &str) -> Sniffed {
    let mut sniffed = sniff(head, total_len);
    if sniffed.format == Format::Text
        && let Some(encoding) = sniffed.encoding
        && names_delimited_text(name)
    {
        match crate::csv::sniff_delimiter_bytes(head, encoding) {
            Some(b'\t') => sniffed.format = Format::Tsv,
            Some(_) => sniffed.format = Format::Csv,
            None => {}
        }
    }
    let claimed = claimed_format(name);
    let unrecognized = matches!(
        sniffed.format,
        Format::Text | Format::Binary | Format::Csv | Format::Tsv
    );
    if unrecognized && claimed.is_some() {
        sniffed.claimed = claimed;
    }
    sniffed
}

/// Returns true when a file name has the extension of delimited text.
fn names_delimited_text(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, extension)| {
        ["csv", "tsv", "tab"]
            .iter()
            .any(|known| extension.eq_ignore_ascii_case(known))
    })
}

/// Returns the binary format a file name's extension names, for formats
/// whose content is never plain text.
fn claimed_format(name: &str) -> Option<Format> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "xlsx" | "xlsm" | "xlsb" => Format::Xlsx,
        "docx" | "docm" => Format::Docx,
        "pptx" | "pptm" => Format::Pptx,
        "xls" => Format::Xls,
        "doc" => Format::Doc,
        "ppt" => Format::Ppt,
        "ods" => Format::Ods,
        "odt" => Format::Odt,
        "odp" => Format::Odp,
        "pdf" => Format::Pdf,
        "zip" => Format::Zip,
        "gz" | "tgz" => Format::Gzip,
        "dcm" => Format::Dicom,
        _ => return None,
    })
}

fn sniff_magic(head: &[u8]) -> Option<Format> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);

    if memchr::memmem::find(&head[..head.len().min(1024)], b"%PDF-").is_some() {
        return Some(Format::Pdf);
    }
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return Some(sniff_zip_kind(head));
    }
    if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        if crate::mail::msg::looks_like_msg(head) {
            return Some(Format::Msg);
        }
        return Some(Format::Ole2);
    }
    if at(128, b"DICM") {
        return Some(Format::Dicom);
    }
    if at(257, b"ustar") {
        return Some(Format::Tar);
    }
    let format = if starts(&[0x1F, 0x8B]) {
        Format::Gzip
    } else if starts(b"BZh") && head.len() > 3 && (b'1'..=b'9').contains(&head[3]) {
        Format::Bzip2
    } else if starts(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        Format::Xz
    } else if starts(&[b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C]) {
        Format::SevenZip
    } else if starts(b"Rar!\x1A\x07") {
        Format::Rar
    } else if starts(b"!BDN") {
        Format::Pst
    } else if starts(b"SQLite format 3\0") {
        Format::Sqlite
    } else if starts(b"\x89PNG\r\n\x1A\n") {
        Format::Png
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Format::Jpeg
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Format::Gif
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Format::Tiff
    } else if starts(b"RIFF") && at(8, b"WEBP") {
        Format::Webp
    } else if at(4, b"ftypheic") || at(4, b"ftypheix") || at(4, b"ftypmif1") {
        Format::Heic
    } else if starts(b"BM") && head.len() > 14 && bmp_header_plausible(head) {
        Format::Bmp
    } else if starts(b"\x7FELF")
        || starts(b"MZ")
        || starts(&[0xCF, 0xFA, 0xED, 0xFE])
        || starts(&[0xCA, 0xFE, 0xBA, 0xBE])
    {
        Format::Executable
    } else if starts(b"{\\rtf") {
        Format::Rtf
    } else {
        return None;
    };
    Some(format)
}

/// Returns true for a DICOM data set written without preamble and meta
/// group: it opens with an element of group 0008 (little endian), followed by
/// either a two-letter value representation or a small implicit length.
fn looks_like_bare_dicom(head: &[u8]) -> bool {
    if head.len() < 16 || head[0..2] != [0x08, 0x00] || head[3] != 0x00 {
        return false;
    }
    let explicit = head[4..6].iter().all(u8::is_ascii_uppercase);
    let implicit_length = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    explicit || implicit_length < 1024
}

fn bmp_header_plausible(head: &[u8]) -> bool {
    // The 4 reserved bytes after the file size are zero in real bitmaps.
    head[6..10] == [0, 0, 0, 0]
}

/// Tells Office Open XML and OpenDocument files from plain zip archives by the
/// member names and the ODF `mimetype` member in the first bytes.
fn sniff_zip_kind(head: &[u8]) -> Format {
    let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    if head.get(30..38) == Some(b"mimetype") {
        let mime = &head[38..head.len().min(38 + 80)];
        let mime_has = |needle: &[u8]| memchr::memmem::find(mime, needle).is_some();
        if mime_has(b"opendocument.text") {
            return Format::Odt;
        }
        if mime_has(b"opendocument.spreadsheet") {
            return Format::Ods;
        }
        if mime_has(b"opendocument.presentation") {
            return Format::Odp;
        }
    }
    if has(b"[Content_Types].xml") || has(b"_rels/.rels") {
        if has(b"word/") {
            return Format::Docx;
        }
        if has(b"xl/") {
            return Format::Xlsx;
        }
        if has(b"ppt/") {
            return Format::Pptx;
        }
    }
    Format::Zip
}

fn sniff_text(head: &[u8], encoding: TextEncoding) -> Format {
    // Decode a bounded prefix: enough to see headers and a few records.
    let sample_len = head.len().min(16 * 1024);
    let text = decode_all(&head[..sample_len], encoding);
    let text = text.trim_start_matches(['\u{FEFF}', '\u{0B}']);
    let trimmed = text.trim_start();

    if text.starts_with("MSH|") || text.starts_with("FHS|") || text.starts_with("BHS|") {
        return Format::Hl7v2;
    }
    if looks_like_x12(trimmed) {
        return Format::X12;
    }
    // A `From` line of any shape (a damaged separator too) before headers.
    if text.starts_with("From")
        && !text.starts_with("From:")
        && looks_like_mail_headers(text.split_once('\n').map_or("", |(_, rest)| rest))
    {
        return Format::Mbox;
    }
    // NOTE: a mailbox that lost its first separator line reads as one
    // message. A later separator cannot tell it apart from a message that
    // attaches another message starting with a `From ` line.
    if looks_like_mail_headers(text) {
        return Format::Eml;
    }
    if trimmed.starts_with("{\\rtf") {
        return Format::Rtf;
    }
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && crate::json::looks_like_json(trimmed)
    {
        return Format::Json;
    }
    if trimmed.starts_with('<') {
        let lower: String = trimmed
            .chars()
            .take(4096)
            .collect::<String>()
            .to_ascii_lowercase();
        if lower.starts_with("<!doctype html") || lower.contains("<html") {
            return Format::Html;
        }
        if lower.starts_with("<?xml") || lower.starts_with("<!--") || starts_with_tag(trimmed) {
            let html_tags = ["<body", "<div", "<table", "<p>", "<br", "<span", "<head"];
            if !lower.starts_with("<?xml") && html_tags.iter().any(|tag| lower.contains(tag)) {
                return Format::Html;
            }
            return Format::Xml;
        }
    }
    match crate::csv::sniff_delimiter(text) {
        Some(b'\t') => Format::Tsv,
        Some(_) => Format::Csv,
        None => Format::Text,
    }
}

fn starts_with_tag(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next() == Some('<') && chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

fn looks_like_x12(text: &str) -> bool {
    // ISA is a fixed-width segment: the element separator follows "ISA", and
    // the segment is 106 characters long.
    let bytes = text.as_bytes();
    bytes.len() >= 106
        && text.starts_with("ISA")
        && !bytes[3].is_ascii_alphanumeric()
        && bytes[..106].iter().filter(|&&b| b == bytes[3]).count() == 16
}

/// Returns true when the text opens with an RFC 5322 header block holding at
/// least two of the common message headers.
fn looks_like_mail_headers(text: &str) -> bool {
    const KNOWN: [&str; 10] = [
        "from",
        "to",
        "subject",
        "date",
        "received",
        "message-id",
        "mime-version",
        "return-path",
        "cc",
        "content-type",
    ];
    let mut known = 0;
    for line in text.lines().take(60) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid_name {
            return false;
        }
        if KNOWN.contains(&name.to_ascii_lowercase().as_str()) {
            known += 1;
        }
    }
    known >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_of(bytes: &[u8]) -> Format {
        sniff(bytes, bytes.len() as u64).format
    }

    #[test]
    fn short_export_named_csv_is_delimited() {
        let export = b"Patient,SSN\nDana Whitfield,219-44-7381\n";
        assert_eq!(format_of(export), Format::Text, "two lines alone are prose");
        assert_eq!(sniff_named(export, 40, "export.csv").format, Format::Csv);
        assert_eq!(sniff_named(export, 40, "EXPORT.CSV").format, Format::Csv);
        let tabs = b"Patient\tSSN\nDana Whitfield\t219-44-7381\n";
        assert_eq!(sniff_named(tabs, 40, "export.tsv").format, Format::Tsv);
        let prose = b"Dear colleague, thank you\n";
        assert_eq!(sniff_named(prose, 26, "letter.csv").format, Format::Text);
        assert_eq!(sniff_named(export, 40, "export.txt").format, Format::Text);
    }

    #[test]
    fn binary_magic() {
        assert_eq!(format_of(b"%PDF-1.7\n"), Format::Pdf);
        assert_eq!(format_of(b"\x89PNG\r\n\x1A\n...."), Format::Png);
        assert_eq!(format_of(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Format::Jpeg);
        assert_eq!(format_of(&[0x1F, 0x8B, 8, 0]), Format::Gzip);
        assert_eq!(format_of(b"!BDN...."), Format::Pst);
        assert_eq!(format_of(b"\x7FELF\x02\x01"), Format::Executable);
        let mut dicom = vec![0u8; 132];
        dicom[128..132].copy_from_slice(b"DICM");
        assert_eq!(format_of(&dicom), Format::Dicom);
    }

    #[test]
    fn zip_kinds() {
        let mut docx = b"PK\x03\x04".to_vec();
        docx.extend_from_slice(&[0; 26]);
        docx.extend_from_slice(b"[Content_Types].xml....word/document.xml");
        assert_eq!(format_of(&docx), Format::Docx);
        let mut odt = b"PK\x03\x04".to_vec();
        odt.extend_from_slice(&[0; 26]);
        odt.extend_from_slice(b"mimetypeapplication/vnd.oasis.opendocument.text");
        assert_eq!(format_of(&odt), Format::Odt);
        assert_eq!(format_of(b"PK\x03\x04plain.txt"), Format::Zip);
    }

    #[test]
    fn text_kinds() {
        assert_eq!(format_of(b""), Format::Empty);
        assert_eq!(
            format_of(b"Visit note\nPatient doing well.\n"),
            Format::Text
        );
        assert_eq!(format_of(b"name,dob,mrn\nA,1,2\nB,3,4\n"), Format::Csv);
        assert_eq!(
            format_of(b"name\tdob\tmrn\nA\t1\t2\nB\t3\t4\n"),
            Format::Tsv
        );
        assert_eq!(format_of(b"{\"a\": [1, 2]}"), Format::Json);
        assert_eq!(format_of(b"<?xml version=\"1.0\"?><a/>"), Format::Xml);
        assert_eq!(
            format_of(b"<!DOCTYPE html><html><body>x</body></html>"),
            Format::Html
        );
        assert_eq!(format_of(b"<div><p>Hello</p></div>"), Format::Html);
        assert_eq!(format_of(b"MSH|^~\\&|LAB|..."), Format::Hl7v2);
        assert_eq!(format_of(b"{\\rtf1\\ansi hello}"), Format::Rtf);
        assert_eq!(
            format_of(b"From: a@b.org\nTo: c@d.org\nSubject: hi\n\nbody"),
            Format::Eml
        );
        assert_eq!(
            format_of(b"From a@b.org Mon Jan 1 00:00:00 2024\nFrom: a@b.org\nSubject: x\n\nbody\n"),
            Format::Mbox
        );
        // A mailbox whose first separator is damaged.
        assert_eq!(
            format_of(b"From\nFrom: a@b.org\nSubject: x\n\nbody\n"),
            Format::Mbox
        );
        // A message that attaches a message starting with a separator line.
        assert_eq!(
            format_of(
                b"From: a@b.org\r\nSubject: x\r\n\r\nbody\r\n\r\nFrom c@d.org Mon Jan 1 00:00:00 2024\r\nFrom: c@d.org\r\nSubject: y\r\n\r\nz\r\n"
            ),
            Format::Eml
        );
    }

    #[test]
    fn x12_interchange() {
        let isa = "ISA*00*          *00*          *ZZ*SUBMITTERS.ID  *ZZ*RECEIVERS.ID   *030101*1253*^*00501*000000905*0*T*:~GS*HC";
        assert_eq!(format_of(isa.as_bytes()), Format::X12);
    }

    #[test]
    fn binary_with_text_name_is_binary() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        assert_eq!(format_of(&bytes), Format::Binary);
    }
}
