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
/// has four or more characters, its first letter. Names keep their initials,
/// and health signals their first three characters (`E11.*`, the ICD-10
/// category), because a code or drug name on its own does not identify
/// anyone. Punctuation and spacing are kept as they are.
pub fn mask(category: Category, value: &str) -> String {
    match category {
        Category::Email => mask_email(value),
        Category::Name => mask_words(value),
        category if category.is_health() => mask_keep_prefix(value, 3),
        _ => mask_keep_suffix(value),
    }
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
