//! Keeping matched values private: masked previews and keyed fingerprints.
//!
//! A finding never carries its raw value into a store or report. It carries a
//! preview with most characters masked, for a human to recognize, and a keyed
//! fingerprint, so that the same value seen twice can be counted once without
//! being recoverable: an unkeyed hash of a 9-digit SSN can be reversed by
//! trying all 10^9 values.

use hmac::{Hmac, Mac};
use phiscan_core::Category;
use sha2::Sha256;

/// Length in bytes of a secret fingerprint key.
pub const KEY_LEN: usize = 32;

/// Computes keyed fingerprints of normalized values.
#[derive(Clone)]
pub struct Fingerprinter {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter { key: <redacted> }")
    }
}

impl Fingerprinter {
    /// Creates a fingerprinter from the installation's secret key.
    pub fn new(key: &[u8; KEY_LEN]) -> Fingerprinter {
        Fingerprinter {
            mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length"),
        }
    }

    /// Returns the fingerprint of a canonical value: HMAC-SHA256 over the
    /// category name and the value, truncated to 128 bits.
    ///
    /// The category is part of the input so that the same digits as an SSN and
    /// as an account number do not look like one value.
    pub fn fingerprint(&self, category: Category, canonical: &str) -> [u8; 16] {
        let mut mac = self.mac.clone();
        mac.update(category.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(canonical.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }

    /// Keyed fingerprint as lowercase hex.
    pub fn fingerprint_hex(&self, category: Category, canonical: &str) -> String {
        hex_fingerprint(&self.fingerprint(category, canonical))
    }
}

/// Formats a fingerprint as lowercase hex.
pub fn hex_fingerprint(fingerprint: &[u8; 16]) -> String {
    phiscan_core::blocks::hex_digits(fingerprint)
        .as_str()
        .to_string()
}

/// Masks a value for display, keeping its shape and a few characters.
///
/// Identifiers keep their last four letters or digits when they have at least
/// eight (`***-**-6789`), their last two when they have five to seven, and
/// nothing when shorter. Emails keep the domain and, when the part before `@`
/// has four or more characters, its first letter. Names keep their initials.
/// Dates keep only a four-digit year (`**/**/1961`, `1961-**-**`), the one
/// element of a date that Safe Harbor allows. Health signals keep their first
/// three characters (`E11.*`, the ICD-10 category), because a code or drug
/// name on its own does not identify anyone. A code of three characters or
/// a word of four or fewer keeps only its first (`B**`, `A***`), because it
/// would otherwise show whole or nearly so.
/// Punctuation and spacing are kept as they are.
pub fn mask(category: Category, value: &str) -> String {
    match category {
        Category::Email => mask_email(value),
        Category::Name => mask_words(value),
        Category::Date => mask_date(value),
        category if category.is_health() => {
            let alphanumerics = value.chars().filter(|c| c.is_alphanumeric()).count();
            let has_digit = value.chars().any(|c| c.is_ascii_digit());
            let short = alphanumerics <= 3 || alphanumerics == 4 && !has_digit;
            mask_keep_prefix(value, if short { 1 } else { 3 })
        }
        _ => mask_keep_suffix(value),
    }
}

/// Masks every letter and digit of a date except a year: a run of four
/// digits from 1800 to 2199, or the first four digits of an eight-digit run
/// that starts with such a year (`19610722`).
fn mask_date(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut keep = 0..0;
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start].is_ascii_digit() {
            start += 1;
            continue;
        }
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        let is_year = |digits: &str| matches!(digits.parse::<u16>(), Ok(1800..=2199));
        let run = &value[start..end];
        if (run.len() == 4 || run.len() == 8) && is_year(&run[..4]) {
            keep = start..start + 4;
            break;
        }
        start = end;
    }
    value
        .char_indices()
        .map(|(index, c)| {
            if keep.contains(&index) {
                c
            } else if c.is_alphanumeric() {
                '*'
            } else if c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn mask_keep_suffix(value: &str) -> String {
    let alphanumerics = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep = match alphanumerics {
        8.. => 4,
        5..=7 => 2,
        _ => 0,
    };
    let mut seen = 0;
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        out.push(if c.is_alphanumeric() {
            seen += 1;
            if seen > alphanumerics - keep { c } else { '*' }
        } else if c.is_whitespace() {
            ' '
        } else {
            c
        });
    }
    out
}

fn mask_keep_prefix(value: &str, keep: usize) -> String {
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen <= keep { c } else { '*' }
            } else if c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn mask_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut at_word_start = true;
    for c in value.chars() {
        if c.is_alphanumeric() {
            out.push(if at_word_start { c } else { '*' });
            at_word_start = false;
        } else {
            out.push(if c.is_whitespace() { ' ' } else { c });
            at_word_start = true;
        }
    }
    out
}

fn mask_email(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((local, domain)) => {
            // A short local part would be given away by its first letter.
            let keep = usize::from(local.chars().count() >= 4);
            let mut out = String::with_capacity(value.len());
            for (i, c) in local.chars().enumerate() {
                out.push(if i < keep { c } else { '*' });
            }
            out.push('@');
            out.push_str(domain);
            out
        }
        None => mask_keep_suffix(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = [7; KEY_LEN];

    #[test]
    fn ssn_keeps_last_four() {
        assert_eq!(mask(Category::Ssn, "234-56-7890"), "***-**-7890");
    }

    #[test]
    fn short_values_are_fully_masked() {
        assert_eq!(mask(Category::Mrn, "1234"), "****");
        assert_eq!(mask(Category::Mrn, "A12345"), "****45");
    }

    #[test]
    fn email_keeps_domain() {
        assert_eq!(
            mask(Category::Email, "jane.doe@gmail.com"),
            "j*******@gmail.com"
        );
    }

    #[test]
    fn short_email_local_part_fully_masked() {
        assert_eq!(mask(Category::Email, "a@example.org"), "*@example.org");
        assert_eq!(mask(Category::Email, "abc@example.org"), "***@example.org");
        assert_eq!(
            mask(Category::Email, "abcd@example.org"),
            "a***@example.org"
        );
    }

    #[test]
    fn name_keeps_initials() {
        assert_eq!(
            mask(Category::Name, "Maria Lopez-Garcia"),
            "M**** L****-G*****"
        );
    }

    #[test]
    fn diagnosis_keeps_category() {
        assert_eq!(mask(Category::Diagnosis, "E11.9"), "E11.*");
    }

    #[test]
    fn short_health_values_keep_one_character() {
        assert_eq!(mask(Category::Diagnosis, "B20"), "B**");
        assert_eq!(mask(Category::ClinicalTerm, "HIV"), "H**");
        assert_eq!(mask(Category::ClinicalTerm, "AIDS"), "A***");
        assert_eq!(mask(Category::Diagnosis, "E119"), "E11*");
        assert_eq!(mask(Category::Medication, "metformin"), "met******");
    }

    #[test]
    fn dates_keep_only_the_year() {
        let cases = [
            ("03/14/1961", "**/**/1961"),
            ("1961-07-22", "1961-**-**"),
            ("July 22, 1961", "**** **, 1961"),
            ("22-Jul-1961", "**-***-1961"),
            ("19610722", "1961****"),
            ("07/22/61", "**/**/**"),
            ("2024-03-14T09:30", "2024-**-*****:**"),
        ];
        for (date, masked) in cases {
            assert_eq!(mask(Category::Date, date), masked, "{date}");
        }
    }

    #[test]
    fn whitespace_cannot_break_lines() {
        assert_eq!(
            mask(Category::Address, "12 Elm\nSt"),
            "** Elm St".replace("Elm", "***")
        );
    }

    #[test]
    fn fingerprint_depends_on_key_and_category() {
        let a = Fingerprinter::new(&KEY);
        let b = Fingerprinter::new(&[8; KEY_LEN]);
        assert_eq!(
            a.fingerprint(Category::Ssn, "234567890"),
            a.fingerprint(Category::Ssn, "234567890")
        );
        assert_ne!(
            a.fingerprint(Category::Ssn, "234567890"),
            b.fingerprint(Category::Ssn, "234567890")
        );
        assert_ne!(
            a.fingerprint(Category::Ssn, "234567890"),
            a.fingerprint(Category::AccountNumber, "234567890")
        );
        assert_eq!(a.fingerprint_hex(Category::Ssn, "1").len(), 32);
    }

    #[test]
    fn hex_matches_generic_encoder() {
        let fingerprint: [u8; 16] =
            std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(5));
        assert_eq!(hex_fingerprint(&fingerprint), hex::encode(fingerprint));
    }

    #[test]
    fn debug_hides_key() {
        let text = format!("{:?}", Fingerprinter::new(&KEY));
        assert!(text.contains("redacted"));
    }
}
