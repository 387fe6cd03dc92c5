//! JSON text written by hand for the records a scan emits by the million.
//! serde_json's general path spends most of its time per call rather than
//! per byte; these append straight to a buffer and produce the same text.

/// Appends `number` in decimal.
pub fn push_number(out: &mut Vec<u8>, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut first = digits.len();
    loop {
        first -= 1;
        digits[first] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[first..]);
}

/// Appends `text` as a JSON string, escaping quotes, backslashes and
/// control characters the way serde_json does.
pub fn push_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..index]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        clean_from = index + 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

/// Appends a locator's JSON object, the text serde_json writes for it. Text,
/// the locator of most findings, is written directly.
pub fn push_locator(out: &mut Vec<u8>, locator: &crate::Locator) {
    match locator {
        crate::Locator::Text => out.extend_from_slice(br#"{"kind":"text"}"#),
        // Writing to a Vec cannot fail, and the fields of `Locator` are
        // strings and integers, which serde_json writes without error.
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_match_serde() {
        let texts = [
            "",
            "plain",
            "quote \" and \\ backslash",
            "tab\tnew\nline\rreturn",
            "\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}",
            "accents é, dashes – and emoji 🩺",
        ];
        for text in texts {
            let mut out = Vec::new();
            push_string(&mut out, text);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn locators_match_serde() {
        let locators = [
            crate::Locator::Text,
            crate::Locator::Csv {
                row: 2,
                column: 3,
                header: Some("SSN \"primary\"".into()),
            },
        ];
        for locator in &locators {
            let mut out = Vec::new();
            push_locator(&mut out, locator);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(locator).unwrap()
            );
        }
    }

    #[test]
    fn numbers_match_display() {
        for number in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            let mut out = Vec::new();
            push_number(&mut out, number);
            assert_eq!(out, number.to_string().into_bytes());
        }
    }
}
