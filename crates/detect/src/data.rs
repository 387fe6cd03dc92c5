//! Data that validators look values up in: the ICD-10-CM code list, name
//! lists, ZIP codes, and the term lists of dictionary rules.
//!
//! The files live in `rules/data/` and are embedded at build time.
//! `rules/scripts/regenerate_data.py` rebuilds the code, name and ZIP lists
//! from their public sources. Lines starting with `#` are comments.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

/// FNV-1a: validators look up short words and codes on every candidate, and
/// the standard library's DoS-resistant hasher costs more than the rest of
/// the look-up. The tables hold fixed data, so hash flooding is not a concern.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastSet<T> = HashSet<T, BuildHasherDefault<Fnv>>;

/// File name of the ICD-10-CM code list in `rules/data/`: one code per line,
/// without the dot, optionally followed by a tab and a description.
pub const ICD10CM_FILE: &str = "icd10cm-codes.txt";
/// First names, one per line, upper case.
pub const FIRST_NAMES_FILE: &str = "first-names.txt";
/// Surnames, one per line, upper case.
pub const SURNAMES_FILE: &str = "surnames.txt";
/// Capitalized words that are not names, one per line, lower case.
pub const NAME_STOPWORDS_FILE: &str = "name-stopwords.txt";
/// Existing ZIP codes packed per 3-digit prefix: `PREFIX STATES BITMAP`.
pub const ZIP_CODES_FILE: &str = "zip-codes.txt";
/// 3-digit ZIP areas that Safe Harbor requires to be written as 000.
pub const RESTRICTED_ZIP3_FILE: &str = "restricted-zip3.txt";

/// States and existing ZIP codes of one 3-digit prefix.
#[derive(Debug)]
struct ZipPrefix {
    states: String,
    /// Bit N set when the ZIP code `prefix * 100 + N` exists.
    codes: u128,
}

#[derive(Debug, Default)]
struct Tables {
    icd10cm: FastSet<u64>,
    first_names: FastSet<Box<str>>,
    surnames: FastSet<Box<str>>,
    name_stopwords: FastSet<Box<str>>,
    zip_prefixes: HashMap<u16, ZipPrefix>,
    restricted_zip3: FastSet<Box<str>>,
}

/// Lookup tables shared by all validators of a rule set.
#[derive(Clone, Debug)]
pub struct RuleData {
    tables: Arc<Tables>,
}

impl RuleData {
    /// Builds the tables from the data files embedded in the binary.
    ///
    /// The tables are parsed once per process and shared.
    pub fn embedded() -> RuleData {
        static TABLES: OnceLock<Arc<Tables>> = OnceLock::new();
        let tables = TABLES
            .get_or_init(|| {
                let file = |name| crate::embedded::data_file(name).unwrap_or("");
                Arc::new(Tables {
                    icd10cm: parse_code_list(file(ICD10CM_FILE)),
                    first_names: word_set(file(FIRST_NAMES_FILE), false),
                    surnames: word_set(file(SURNAMES_FILE), false),
                    name_stopwords: word_set(file(NAME_STOPWORDS_FILE), true),
                    zip_prefixes: parse_zip_codes(file(ZIP_CODES_FILE)),
                    restricted_zip3: word_set(file(RESTRICTED_ZIP3_FILE), true),
                })
            })
            .clone();
        RuleData { tables }
    }

    /// Returns true when `code` (uppercase, without the dot) is in the
    /// ICD-10-CM code list.
    pub fn icd10cm_contains(&self, code: &str) -> bool {
        pack_code(code).is_some_and(|packed| self.tables.icd10cm.contains(&packed))
    }

    /// Number of codes in the ICD-10-CM list.
    pub fn icd10cm_len(&self) -> usize {
        self.tables.icd10cm.len()
    }

    /// Returns true when the word, in any case, is in the first-name list.
    pub fn is_first_name(&self, word: &str) -> bool {
        with_case_key(word, true, |key| self.tables.first_names.contains(key))
    }

    /// Returns true when the word, in any case, is in the surname list.
    /// Hyphenated surnames count when any part is listed.
    pub fn is_surname(&self, word: &str) -> bool {
        with_case_key(word, true, |key| {
            self.tables.surnames.contains(key)
                || (key.contains('-')
                    && key
                        .split('-')
                        .any(|part| self.tables.surnames.contains(part)))
        })
    }

    /// Returns true when the word is a capitalized non-name word such as `Patient`.
    pub fn is_name_stopword(&self, word: &str) -> bool {
        with_case_key(word, false, |key| self.tables.name_stopwords.contains(key))
    }

    /// Returns the state codes of an existing 5-digit ZIP code, separated by
    /// commas, because a few ZIP codes serve more than one state.
    pub fn zip_state(&self, zip: &str) -> Option<&str> {
        if zip.len() != 5 || !zip.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix: u16 = zip[..3].parse().ok()?;
        let low: u32 = zip[3..].parse().ok()?;
        let entry = self.tables.zip_prefixes.get(&prefix)?;
        (entry.codes >> low & 1 == 1).then_some(entry.states.as_str())
    }

    /// Returns true when a 3-digit ZIP area has too few people for Safe Harbor.
    pub fn is_restricted_zip3(&self, prefix: &str) -> bool {
        self.tables.restricted_zip3.contains(prefix)
    }
}

/// Calls `lookup` with the word, without a trailing period, in upper or
/// lower case. Short ASCII words are converted on the stack.
fn with_case_key<T>(word: &str, upper: bool, lookup: impl FnOnce(&str) -> T) -> T {
    let word = word.trim_end_matches('.');
    let mut buffer = [0u8; 32];
    if word.is_ascii() && word.len() <= buffer.len() {
        let key = &mut buffer[..word.len()];
        key.copy_from_slice(word.as_bytes());
        if upper {
            key.make_ascii_uppercase();
        } else {
            key.make_ascii_lowercase();
        }
        // ASCII stays ASCII under case conversion, so the bytes are UTF-8.
        return lookup(std::str::from_utf8(key).unwrap_or_default());
    }
    let key = if upper {
        word.to_uppercase()
    } else {
        word.to_lowercase()
    };
    lookup(&key)
}

/// Reads the lines of a data file, without comments and blank lines.
pub(crate) fn data_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

fn word_set(text: &str, lowercase: bool) -> FastSet<Box<str>> {
    data_lines(text)
        .map(|line| {
            if lowercase {
                line.to_lowercase().into()
            } else {
                line.to_uppercase().into()
            }
        })
        .collect()
}

fn parse_code_list(text: &str) -> FastSet<u64> {
    data_lines(text)
        .filter_map(|line| line.split('\t').next())
        .filter_map(|code| pack_code(code.trim()))
        .collect()
}

fn parse_zip_codes(text: &str) -> HashMap<u16, ZipPrefix> {
    let mut prefixes = HashMap::new();
    for line in data_lines(text) {
        let mut fields = line.split_whitespace();
        let (Some(prefix), Some(states), Some(bitmap)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Ok(prefix), Ok(bits)) = (prefix.parse::<u16>(), u128::from_str_radix(bitmap, 16))
        else {
            continue;
        };
        // The file writes bit 0 (PREFIX00) as the most significant of 100 bits.
        let codes = (0..100).fold(0u128, |acc, n| acc | ((bits >> (99 - n) & 1) << n));
        prefixes.insert(
            prefix,
            ZipPrefix {
                states: states.to_string(),
                codes,
            },
        );
    }
    prefixes
}

/// Packs a code of up to 8 ASCII characters into a u64 for a compact set.
fn pack_code(code: &str) -> Option<u64> {
    if code.is_empty() || code.len() > 8 || !code.is_ascii() {
        return None;
    }
    Some(code.bytes().fold(0u64, |acc, b| (acc << 8) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_code_list_is_loaded() {
        let data = RuleData::embedded();
        assert!(data.icd10cm_len() > 70_000, "{}", data.icd10cm_len());
        assert!(data.icd10cm_contains("E119"));
        assert!(!data.icd10cm_contains("E1199"));
        assert!(!data.icd10cm_contains(""));
    }

    #[test]
    fn name_lists_are_loaded() {
        let data = RuleData::embedded();
        assert!(data.is_first_name("Maria"));
        assert!(data.is_first_name("JAMES"));
        assert!(data.is_surname("Nguyen"));
        assert!(data.is_surname("Lopez-Garcia"));
        assert!(!data.is_surname("Hypertension"));
        assert!(data.is_name_stopword("Patient"));
        assert!(!data.is_name_stopword("Maria"));
    }

    #[test]
    fn zip_codes_unpack() {
        let data = RuleData::embedded();
        assert_eq!(data.zip_state("62704"), Some("IL"));
        assert_eq!(data.zip_state("02118"), Some("MA"));
        assert_eq!(data.zip_state("00000"), None);
        assert_eq!(data.zip_state("6270"), None);
        assert!(data.is_restricted_zip3("036"));
        assert!(!data.is_restricted_zip3("021"));
    }
}
