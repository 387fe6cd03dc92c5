//! Text encoding detection and streaming decoding to UTF-8.
//!
//! A practice's files come in UTF-8, in UTF-16 (Windows "Unicode text" exports,
//! often without a byte order mark) and in Windows-1252 (older exports and
//! anything saved by legacy Windows programs). Offsets of UTF-8 files stay
//! byte-exact: an invalid byte is replaced by U+001A, which is one byte too, so
//! every offset still points into the file.

use encoding_rs::{Decoder, Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use std::io::{self, Read};

/// Text encoding of an item's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8, with or without a byte order mark.
    Utf8,
    /// UTF-16 little or big endian, with or without a byte order mark.
    Utf16 { little_endian: bool, bom: bool },
    /// A legacy single- or multi-byte encoding guessed from content.
    Legacy(&'static Encoding),
}

impl TextEncoding {
    /// Name for messages and item records, such as `UTF-16LE`.
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf16 {
                little_endian: true,
                ..
            } => "UTF-16LE",
            TextEncoding::Utf16 {
                little_endian: false,
                ..
            } => "UTF-16BE",
            TextEncoding::Legacy(encoding) => encoding.name(),
        }
    }

    /// Returns true when decoded offsets equal byte offsets into the item.
    pub fn offsets_are_exact(self) -> bool {
        self == TextEncoding::Utf8
    }
}

/// Detects the encoding of text from its first bytes; returns `None` for
/// binary data.
pub fn detect_encoding(head: &[u8]) -> Option<TextEncoding> {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Some(TextEncoding::Utf8);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Some(TextEncoding::Utf16 {
            little_endian: true,
            bom: true,
        });
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Some(TextEncoding::Utf16 {
            little_endian: false,
            bom: true,
        });
    }
    if let Some(little_endian) = utf16_without_bom(head) {
        return Some(TextEncoding::Utf16 {
            little_endian,
            bom: false,
        });
    }
    if head.contains(&0) || control_ratio_is_binary(head) {
        return None;
    }
    if is_utf8_prefix(head) {
        return Some(TextEncoding::Utf8);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(head, false);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    // chardetng does not guess UTF-8 when UTF-8 detection is denied. Mostly
    // UTF-8 text with a stray byte is decoded as Windows-1252, which keeps ASCII intact.
    let encoding = if guess == UTF_8 { WINDOWS_1252 } else { guess };
    Some(TextEncoding::Legacy(encoding))
}

/// Returns true when `head` is valid UTF-8, allowing a sequence cut at the end.
fn is_utf8_prefix(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(err) => err.error_len().is_none() && head.len() - err.valid_up_to() < 4,
    }
}

/// Recognizes UTF-16 without a byte order mark from where its zero bytes fall:
/// ASCII-range text in UTF-16LE has a zero in nearly every odd byte.
fn utf16_without_bom(head: &[u8]) -> Option<bool> {
    let sample = &head[..head.len().min(4096) & !1];
    if sample.len() < 8 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_zeros = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_zeros = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    let mostly = |count: usize| count * 10 >= pairs * 7;
    let rarely = |count: usize| count * 10 <= pairs;
    if mostly(odd_zeros) && rarely(even_zeros) {
        Some(true)
    } else if mostly(even_zeros) && rarely(odd_zeros) {
        Some(false)
    } else {
        None
    }
}

/// Returns true when more than 10% of the bytes are control characters that
/// text files do not use (everything below 0x20 except tab, line feed, form
/// feed, carriage return and escape).
fn control_ratio_is_binary(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r' | 0x1B))
        .count();
    controls * 10 > head.len()
}

/// Reads text from a byte stream in UTF-8 chunks.
pub struct TextReader<R> {
    reader: R,
    encoding: TextEncoding,
    decoder: Option<Decoder>,
    raw: Vec<u8>,
    /// Undecoded bytes of an incomplete UTF-8 sequence from the previous read.
    carry: Vec<u8>,
    eof: bool,
    /// Bytes read from the source so far.
    pub bytes_read: u64,
    /// Number of invalid UTF-8 bytes replaced by U+001A.
    pub replaced: u64,
}

impl<R: Read> TextReader<R> {
    /// Creates a reader that decodes `reader` as `encoding`, `chunk` bytes at a time.
    pub fn new(reader: R, encoding: TextEncoding, chunk: usize) -> TextReader<R> {
        let decoder = match encoding {
            TextEncoding::Utf8 => None,
            TextEncoding::Utf16 { little_endian, bom } => {
                let encoding = if little_endian { UTF_16LE } else { UTF_16BE };
                Some(if bom {
                    encoding.new_decoder_with_bom_removal()
                } else {
                    encoding.new_decoder_without_bom_handling()
                })
            }
            TextEncoding::Legacy(encoding) => Some(encoding.new_decoder_without_bom_handling()),
        };
        TextReader {
            reader,
            encoding,
            decoder,
            raw: vec![0; chunk.max(4096)],
            carry: Vec::new(),
            eof: false,
            bytes_read: 0,
            replaced: 0,
        }
    }

    /// Returns true once the source is exhausted.
    pub fn is_finished(&self) -> bool {
        self.eof
    }

    /// Returns the encoding being decoded.
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// Appends the next decoded chunk to `out`; returns false at the end.
    pub fn read_chunk(&mut self, out: &mut String) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let read = read_full(&mut self.reader, &mut self.raw)?;
        self.bytes_read += read as u64;
        let last = read < self.raw.len();
        if last {
            self.eof = true;
        }
        match &mut self.decoder {
            None if self.carry.is_empty() => {
                self.replaced += push_utf8_lossless(&self.raw[..read], out, last, &mut self.carry);
            }
            None => {
                let mut bytes = std::mem::take(&mut self.carry);
                bytes.extend_from_slice(&self.raw[..read]);
                self.replaced += push_utf8_lossless(&bytes, out, last, &mut self.carry);
            }
            Some(decoder) => {
                let needed = decoder
                    .max_utf8_buffer_length(read)
                    .unwrap_or(read * 3 + 16);
                out.reserve(needed);
                let (_, _, _) = decoder.decode_to_string(&self.raw[..read], out, last);
            }
        }
        Ok(read > 0 || !out.is_empty())
    }
}

/// Fills `buffer` as far as the reader allows; returns the bytes read.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
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

/// Appends UTF-8 bytes to `out`, replacing each invalid byte by U+001A so that
/// offsets stay aligned. An incomplete sequence at the end goes to `carry`
/// unless this is the last chunk. Returns the number of replaced bytes.
fn push_utf8_lossless(bytes: &[u8], out: &mut String, last: bool, carry: &mut Vec<u8>) -> u64 {
    // Nearly every chunk is valid text. The standard library's validator
    // reads ASCII a word at a time, and the chunk iterator below goes byte
    // by byte.
    if let Ok(text) = std::str::from_utf8(bytes) {
        out.push_str(text);
        return 0;
    }
    let mut replaced = 0;
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        out.push_str(chunk.valid());
        let invalid = chunk.invalid();
        if invalid.is_empty() {
            continue;
        }
        let at_end = chunks.peek().is_none();
        if at_end && !last && invalid.len() < 4 && starts_incomplete_sequence(invalid) {
            carry.extend_from_slice(invalid);
        } else {
            for _ in invalid {
                out.push('\u{1A}');
                replaced += 1;
            }
        }
    }
    replaced
}

/// Returns true when `bytes` could be the start of a multi-byte UTF-8 sequence.
fn starts_incomplete_sequence(bytes: &[u8]) -> bool {
    let expected = match bytes[0] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return false,
    };
    bytes.len() < expected && bytes[1..].iter().all(|&b| (0x80..=0xBF).contains(&b))
}

/// Decodes a whole buffer: UTF-8 with invalid bytes replaced one for one, or
/// the given encoding.
pub fn decode_all(bytes: &[u8], encoding: TextEncoding) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut reader = TextReader::new(bytes, encoding, bytes.len().max(1) + 1);
    while reader.read_chunk(&mut out).unwrap_or(false) {}
    out
}

/// Returns the encoding of a Windows code page number, as MAPI properties,
/// RTF `\ansicpg` and BIFF CODEPAGE records give it. Returns Windows-1252 for
/// a code page encoding_rs does not have.
pub(crate) fn codepage_encoding(codepage: i64) -> &'static Encoding {
    match codepage {
        65001 => encoding_rs::UTF_8,
        932 => encoding_rs::SHIFT_JIS,
        936 | 54936 => encoding_rs::GB18030,
        949 => encoding_rs::EUC_KR,
        950 => encoding_rs::BIG5,
        20932 | 51932 => encoding_rs::EUC_JP,
        866 => encoding_rs::IBM866,
        874 => encoding_rs::WINDOWS_874,
        1200 => encoding_rs::UTF_16LE,
        1250 => encoding_rs::WINDOWS_1250,
        1251 => encoding_rs::WINDOWS_1251,
        1253 => encoding_rs::WINDOWS_1253,
        1254 => encoding_rs::WINDOWS_1254,
        1255 => encoding_rs::WINDOWS_1255,
        1256 => encoding_rs::WINDOWS_1256,
        1257 => encoding_rs::WINDOWS_1257,
        1258 => encoding_rs::WINDOWS_1258,
        10000 => encoding_rs::MACINTOSH,
        _ => encoding_rs::WINDOWS_1252,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(&[0xFF, 0xFE]);
        }
        for unit in text.encode_utf16() {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out
    }

    #[test]
    fn utf8_detected() {
        assert_eq!(
            detect_encoding("Patient José".as_bytes()),
            Some(TextEncoding::Utf8)
        );
        assert_eq!(
            detect_encoding(b"\xEF\xBB\xBFhello"),
            Some(TextEncoding::Utf8)
        );
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let text = "Patient: Maria Lopez SSN 234-56-7890";
        assert_eq!(
            detect_encoding(&utf16le(text, true)),
            Some(TextEncoding::Utf16 {
                little_endian: true,
                bom: true
            })
        );
        assert_eq!(
            detect_encoding(&utf16le(text, false)),
            Some(TextEncoding::Utf16 {
                little_endian: true,
                bom: false
            })
        );
        assert_eq!(
            decode_all(
                &utf16le(text, true),
                detect_encoding(&utf16le(text, true)).unwrap()
            ),
            text
        );
        assert_eq!(
            decode_all(
                &utf16le(text, false),
                detect_encoding(&utf16le(text, false)).unwrap()
            ),
            text
        );
    }

    #[test]
    fn windows_1252_detected_and_decoded() {
        let bytes = b"Caf\xe9 au lait \x96 Jos\xe9 M\xfcller \x93quoted\x94 notes for the visit";
        let encoding = detect_encoding(bytes).unwrap();
        assert_eq!(encoding, TextEncoding::Legacy(WINDOWS_1252));
        let text = decode_all(bytes, encoding);
        assert!(text.contains("José Müller"), "{text}");
        assert!(text.contains('\u{2013}'), "{text}");
    }

    #[test]
    fn binary_is_rejected() {
        assert_eq!(detect_encoding(b"\x7FELF\x02\x01\x01\x00\x00\x00"), None);
        let noise: Vec<u8> = (0..200u8).map(|i| i % 7).collect();
        assert_eq!(detect_encoding(&noise), None);
    }

    #[test]
    fn invalid_utf8_keeps_offsets() {
        let bytes = b"abc\xFFdef";
        let text = decode_all(bytes, TextEncoding::Utf8);
        assert_eq!(text.len(), bytes.len());
        assert_eq!(text, "abc\u{1A}def");
    }

    #[test]
    fn split_sequence_across_chunks_is_kept() {
        let text = "aé".repeat(5000);
        let mut reader = TextReader::new(text.as_bytes(), TextEncoding::Utf8, 4097);
        let mut out = String::new();
        while reader.read_chunk(&mut out).unwrap() {}
        assert_eq!(out, text);
        assert_eq!(reader.replaced, 0);
    }
}
