//! Text normalization before matching, with offsets mapped back to the original.
//!
//! Documents write the same identifier in many ways: `123–45–6789` with en
//! dashes, `555 0142` with a no-break space, digits in full width from East
//! Asian input methods, or a zero-width space pasted from a web page. Rules are
//! written for ASCII, so this module rewrites those characters first and keeps
//! a map from each normalized byte offset to the original one.

use std::borrow::Cow;

/// Text ready for matching, plus the map back to the original offsets.
#[derive(Debug)]
pub struct Normalized<'a> {
    text: Cow<'a, str>,
    /// Sorted `(normalized offset, original offset)` pairs at each point where
    /// the two stop being aligned. Empty when the text was not changed.
    breakpoints: Vec<(usize, usize)>,
}

impl<'a> Normalized<'a> {
    /// Normalizes `text`, borrowing it unchanged when it needs no rewrite.
    pub fn new(text: &'a str) -> Normalized<'a> {
        if text.is_ascii() || !text.chars().any(|ch| replacement(ch).is_some()) {
            return Normalized {
                text: Cow::Borrowed(text),
                breakpoints: Vec::new(),
            };
        }

        let mut out = String::with_capacity(text.len());
        let mut breakpoints = Vec::new();
        for (offset, ch) in text.char_indices() {
            match replacement(ch) {
                None => out.push(ch),
                Some(Replacement::Remove) => {
                    breakpoints.push((out.len(), offset + ch.len_utf8()));
                }
                Some(Replacement::With(ascii)) => {
                    out.push(ascii);
                    breakpoints.push((out.len(), offset + ch.len_utf8()));
                }
            }
        }
        Normalized {
            text: Cow::Owned(out),
            breakpoints,
        }
    }

    /// The normalized text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Returns true when normalization changed nothing.
    pub fn is_identity(&self) -> bool {
        self.breakpoints.is_empty()
    }

    /// Maps an offset in the normalized text to the original text.
    pub fn to_original(&self, offset: usize) -> usize {
        let index = self
            .breakpoints
            .partition_point(|&(norm, _)| norm <= offset);
        if index == 0 {
            return offset;
        }
        let (norm, orig) = self.breakpoints[index - 1];
        orig + (offset - norm)
    }
}

impl Normalized<'_> {
    /// Maps an offset in the original text to the normalized text. An offset
    /// inside a rewritten character maps to the end of its replacement.
    pub fn to_normalized(&self, offset: usize) -> usize {
        let index = self
            .breakpoints
            .partition_point(|&(_, orig)| orig <= offset);
        if index == 0 {
            // Before the first breakpoint the texts are aligned, except inside
            // the first rewritten character.
            return match self.breakpoints.first() {
                Some(&(norm, _)) => offset.min(norm),
                None => offset,
            };
        }
        let (norm, orig) = self.breakpoints[index - 1];
        let mapped = norm + (offset - orig);
        match self.breakpoints.get(index) {
            Some(&(next_norm, _)) => mapped.min(next_norm),
            None => mapped.min(self.text.len()),
        }
    }
}

enum Replacement {
    Remove,
    With(char),
}

fn replacement(ch: char) -> Option<Replacement> {
    let ascii = match ch {
        // Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal
        // bar, minus sign, small and full-width hyphen-minus.
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' => '-',
        // No-break space, the typographic spaces, narrow no-break space and the
        // ideographic space.
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
        // Zero-width space, joiners, word joiner, byte order mark, soft hyphen.
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {
            return Some(Replacement::Remove);
        }
        // Full-width forms of printable ASCII (digits, letters, @, ., -).
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFF01 + 0x21)?,
        _ => return None,
    };
    Some(Replacement::With(ascii))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_text_is_borrowed() {
        let normalized = Normalized::new("SSN 123-45-6789");
        assert!(normalized.is_identity());
        assert_eq!(normalized.to_original(7), 7);
    }

    #[test]
    fn dashes_become_hyphens_with_offsets_mapped() {
        let original = "ID 123\u{2013}45\u{2013}6789 end";
        let normalized = Normalized::new(original);
        assert_eq!(normalized.text(), "ID 123-45-6789 end");
        let start = normalized.text().find("123").unwrap();
        let end = start + "123-45-6789".len();
        assert_eq!(
            &original[normalized.to_original(start)..normalized.to_original(end)],
            "123\u{2013}45\u{2013}6789"
        );
        assert_eq!(&original[normalized.to_original(end)..], " end");
    }

    #[test]
    fn offsets_map_both_ways() {
        let original = "a\u{2013}b\u{00A0}c";
        let normalized = Normalized::new(original);
        assert_eq!(normalized.text(), "a-b c");
        for (norm, orig) in [(0, 0), (1, 1), (2, 4), (3, 5), (4, 7), (5, 8)] {
            assert_eq!(normalized.to_original(norm), orig, "to_original({norm})");
            assert_eq!(
                normalized.to_normalized(orig),
                norm,
                "to_normalized({orig})"
            );
        }
    }

    #[test]
    fn zero_width_space_is_removed() {
        let original = "12\u{200B}3-45-6789";
        let normalized = Normalized::new(original);
        assert_eq!(normalized.text(), "123-45-6789");
        assert_eq!(normalized.to_original(0), 0);
        assert_eq!(normalized.to_original(11), original.len());
    }

    #[test]
    fn full_width_digits_become_ascii() {
        let original = "\u{FF11}\u{FF12}\u{FF13}-45-6789";
        let normalized = Normalized::new(original);
        assert_eq!(normalized.text(), "123-45-6789");
        assert_eq!(normalized.to_original(3), 9);
        assert_eq!(normalized.to_original(11), original.len());
    }

    #[test]
    fn no_break_space_becomes_space() {
        let normalized = Normalized::new("555\u{00A0}0142");
        assert_eq!(normalized.text(), "555 0142");
    }

    #[test]
    fn unrelated_unicode_is_borrowed() {
        let normalized = Normalized::new("José Müller");
        assert!(normalized.is_identity());
    }
}
