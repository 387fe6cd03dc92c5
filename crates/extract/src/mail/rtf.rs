//! Outlook's compressed RTF bodies: decompression (MS-OXRTFCP) and a plain
//! text rendering of the RTF for scanning.

/// The dictionary's initial content, defined by MS-OXRTFCP section 2.1.3.1.
const PREBUFFER: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// `LZFu`: compressed content.
const COMPRESSED: u32 = 0x7546_5A4C;
/// `MELA`: stored without compression.
const UNCOMPRESSED: u32 = 0x414C_454D;

/// Largest decompressed body accepted, in bytes; the header's size field is
/// untrusted.
const MAX_RAW_SIZE: usize = 64 << 20;

/// An invalid compressed RTF stream.
#[derive(Debug, thiserror::Error)]
pub enum RtfError {
    #[error("shorter than its 16-byte header")]
    TooShort,
    #[error("unknown compression type 0x{0:08X}")]
    UnknownType(u32),
    #[error("declared size of {0} bytes is over the limit")]
    TooLarge(usize),
}

/// Decompresses a PR_RTF_COMPRESSED stream.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, RtfError> {
    if data.len() < 16 {
        return Err(RtfError::TooShort);
    }
    let field =
        |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let raw_size = field(4) as usize;
    let kind = field(8);
    if raw_size > MAX_RAW_SIZE {
        return Err(RtfError::TooLarge(raw_size));
    }
    let body = &data[16..];
    match kind {
        UNCOMPRESSED => Ok(body[..body.len().min(raw_size)].to_vec()),
        COMPRESSED => Ok(decompress_lzfu(body, raw_size)),
        other => Err(RtfError::UnknownType(other)),
    }
}

/// Runs the LZ77 variant of MS-OXRTFCP. Each control byte announces eight
/// items, least significant bit first. A 0 bit is a literal byte, and a 1
/// bit a big-endian 16-bit reference (12-bit dictionary offset, 4-bit
/// length - 2). A reference to the current write position ends the stream.
fn decompress_lzfu(body: &[u8], raw_size: usize) -> Vec<u8> {
    let mut dictionary = [0u8; 4096];
    dictionary[..PREBUFFER.len()].copy_from_slice(PREBUFFER);
    let mut write = PREBUFFER.len();
    let mut out = Vec::with_capacity(raw_size);
    let mut input = body.iter().copied();

    'stream: while let Some(control) = input.next() {
        for bit in 0..8 {
            if control & (1 << bit) == 0 {
                let Some(byte) = input.next() else {
                    break 'stream;
                };
                out.push(byte);
                dictionary[write] = byte;
                write = (write + 1) % 4096;
                continue;
            }
            let (Some(high), Some(low)) = (input.next(), input.next()) else {
                break 'stream;
            };
            let reference = u16::from_be_bytes([high, low]);
            let mut offset = usize::from(reference >> 4);
            let length = usize::from(reference & 0xF) + 2;
            if offset == write {
                break 'stream;
            }
            for _ in 0..length {
                let byte = dictionary[offset];
                out.push(byte);
                dictionary[write] = byte;
                write = (write + 1) % 4096;
                offset = (offset + 1) % 4096;
            }
            if out.len() >= raw_size.max(1) * 2 + 4096 {
                // Far past the declared size: a damaged stream, not text.
                break 'stream;
            }
        }
    }
    out.truncate(raw_size);
    out
}

/// Destinations whose text is not part of the visible body.
const SKIPPED_DESTINATIONS: [&str; 10] = [
    "fonttbl",
    "colortbl",
    "stylesheet",
    "pict",
    "object",
    "themedata",
    "datastore",
    "listtable",
    "listoverridetable",
    "rsidtbl",
];

/// Renders RTF as plain text: visible text, with `\par` and `\line` as line
/// breaks, hex escapes decoded in the document's code page, and `\uN`
/// characters. Groups marked `\*` (HTML tags in HTML-derived bodies,
/// generator data) and font, color and style tables are left out.
pub fn to_text(rtf: &[u8]) -> String {
    let mut out = String::with_capacity(rtf.len() / 2);
    // Per group: whether its text is skipped, and the \uc skip count.
    let mut stack: Vec<(bool, usize)> = vec![(false, 1)];
    let mut codepage = 1252i64;
    let mut pending_skip = 0usize;
    let mut bytes: Vec<u8> = Vec::new();
    let mut index = 0;

    let flush = |bytes: &mut Vec<u8>, out: &mut String, codepage: i64| {
        if !bytes.is_empty() {
            out.push_str(&super::mapi::decode_codepage(bytes, codepage));
            bytes.clear();
        }
    };

    while index < rtf.len() {
        let skipping = stack.last().is_some_and(|&(skip, _)| skip);
        let byte = rtf[index];
        match byte {
            b'{' => {
                flush(&mut bytes, &mut out, codepage);
                let (skip, uc) = *stack.last().unwrap_or(&(false, 1));
                stack.push((skip, uc));
                index += 1;
            }
            b'}' => {
                flush(&mut bytes, &mut out, codepage);
                if stack.len() > 1 {
                    stack.pop();
                }
                index += 1;
            }
            b'\\' => {
                let (word, parameter, next) = control_word(rtf, index + 1);
                index = next;
                if word == "'" {
                    if pending_skip > 0 {
                        pending_skip -= 1;
                    } else if !skipping {
                        bytes.push(parameter.unwrap_or(0) as u8);
                    }
                    continue;
                }
                flush(&mut bytes, &mut out, codepage);
                let top = stack.len() - 1;
                match word.as_str() {
                    "*" => stack[top].0 = true,
                    "ansicpg" => codepage = parameter.unwrap_or(1252),
                    "uc" => stack[top].1 = parameter.unwrap_or(1).max(0) as usize,
                    "u" if !skipping => {
                        let value = parameter.unwrap_or(0);
                        let code = if value < 0 { value + 65536 } else { value } as u32;
                        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        pending_skip = stack[top].1;
                    }
                    "par" | "line" | "row" | "sect" | "page" if !skipping => out.push('\n'),
                    "tab" | "cell" if !skipping => out.push('\t'),
                    "\\" | "{" | "}" if !skipping => out.push_str(&word),
                    "~" if !skipping => out.push(' '),
                    word if SKIPPED_DESTINATIONS.contains(&word) => stack[top].0 = true,
                    _ => {}
                }
            }
            b'\r' | b'\n' => index += 1,
            _ => {
                if pending_skip > 0 {
                    pending_skip -= 1;
                } else if !skipping {
                    bytes.push(byte);
                }
                index += 1;
            }
        }
    }
    flush(&mut bytes, &mut out, codepage);
    out
}

/// Reads a control word after a backslash at `start`: its name, its numeric
/// parameter, and the index after it (and after one delimiting space).
fn control_word(rtf: &[u8], start: usize) -> (String, Option<i64>, usize) {
    let Some(&first) = rtf.get(start) else {
        return (String::new(), None, start);
    };
    if first == b'\'' {
        let hex = rtf.get(start + 1..start + 3).unwrap_or_default();
        let value = std::str::from_utf8(hex)
            .ok()
            .and_then(|hex| i64::from_str_radix(hex, 16).ok());
        return ("'".to_string(), value, (start + 3).min(rtf.len()));
    }
    if !first.is_ascii_alphabetic() {
        return ((first as char).to_string(), None, start + 1);
    }
    let mut end = start;
    while end < rtf.len() && rtf[end].is_ascii_alphabetic() {
        end += 1;
    }
    let word = String::from_utf8_lossy(&rtf[start..end]).into_owned();
    let number_start = end;
    if end < rtf.len() && rtf[end] == b'-' {
        end += 1;
    }
    while end < rtf.len() && rtf[end].is_ascii_digit() {
        end += 1;
    }
    let parameter = std::str::from_utf8(&rtf[number_start..end])
        .ok()
        .and_then(|digits| digits.parse().ok());
    if end < rtf.len() && rtf[end] == b' ' {
        end += 1;
    }
    (word, parameter, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prebuffer_has_specified_length() {
        assert_eq!(PREBUFFER.len(), 207);
    }

    #[test]
    fn decompresses_specification_example() {
        // The compressed example of MS-OXRTFCP section 3.1.1, "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n".
        let data: [u8; 61] = [
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
            0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
            0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
            0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let rtf = decompress(&data).unwrap();
        assert_eq!(rtf, b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
    }

    #[test]
    fn uncompressed_stream_is_copied() {
        let mut data = vec![0u8; 16];
        data[4..8].copy_from_slice(&5u32.to_le_bytes());
        data[8..12].copy_from_slice(&UNCOMPRESSED.to_le_bytes());
        data.extend_from_slice(b"{\\rtf}");
        assert_eq!(decompress(&data).unwrap(), b"{\\rtf");
    }

    #[test]
    fn text_rendering() {
        let rtf = br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}{\*\htmltag <p>}Jos\'e9 Alvarez\par DOB\tab 04/12/2006\uc1\u8212?end}";
        assert_eq!(to_text(rtf), "José Alvarez\nDOB\t04/12/2006\u{2014}end");
    }

    #[test]
    fn damaged_header_is_an_error() {
        assert!(decompress(b"short").is_err());
        let mut data = vec![0u8; 16];
        data[8..12].copy_from_slice(b"ABCD");
        assert!(matches!(decompress(&data), Err(RtfError::UnknownType(_))));
    }
}
