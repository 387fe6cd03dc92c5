//! Data that validators look values up in, such as the ICD-10-CM code list.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

/// File name of the ICD-10-CM code list in `rules/data/`: one code per line,
/// without the dot, optionally followed by a tab and a description.
pub const ICD10CM_FILE: &str = "icd10cm-codes.txt";

/// Lookup tables shared by all validators of a rule set.
#[derive(Clone, Debug)]
pub struct RuleData {
    icd10cm: Arc<HashSet<u64>>,
}

impl RuleData {
    /// Builds the tables from the data files embedded in the binary.
    ///
    /// The tables are parsed once per process and shared.
    pub fn embedded() -> RuleData {
        static ICD10CM: OnceLock<Arc<HashSet<u64>>> = OnceLock::new();
        let icd10cm = ICD10CM
            .get_or_init(|| {
                let text = crate::embedded::data_file(ICD10CM_FILE).unwrap_or("");
                Arc::new(parse_code_list(text))
            })
            .clone();
        RuleData { icd10cm }
    }

    /// Returns true when `code` (uppercase, without the dot) is in the
    /// ICD-10-CM code list.
    pub fn icd10cm_contains(&self, code: &str) -> bool {
        pack_code(code).is_some_and(|packed| self.icd10cm.contains(&packed))
    }

    /// Number of codes in the ICD-10-CM list.
    pub fn icd10cm_len(&self) -> usize {
        self.icd10cm.len()
    }
}

fn parse_code_list(text: &str) -> HashSet<u64> {
    text.lines()
        .filter_map(|line| line.split('\t').next())
        .filter_map(|code| pack_code(code.trim()))
        .collect()
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
}
