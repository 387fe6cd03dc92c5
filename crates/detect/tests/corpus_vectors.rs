//! Validator test vectors and the ICD-10-CM list from the shared test corpus.
//!
//! The corpus lives outside the repository; set PHISCAN_CORPUS to its folder
//! to run these checks. Without it they print a note and pass, so that the
//! test suite runs anywhere. The unit tests of each validator carry copies of
//! the vectors they need.

use phiscan_detect::data::RuleData;
use phiscan_detect::validate::Validator;
use serde_json::Value;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("PHISCAN_CORPUS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!("note: PHISCAN_CORPUS is not set; skipping the shared corpus checks");
            None
        }
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_valid(validator: &str, values: &[String], expected: bool) {
    let validator = Validator::from_name(validator).unwrap();
    let data = RuleData::embedded();
    for value in values {
        assert_eq!(
            validator.check(value, &data).is_some(),
            expected,
            "{validator:?} on {value}"
        );
    }
}

#[test]
fn validators_agree_with_corpus_vectors() {
    let Some(corpus) = corpus() else {
        return;
    };
    let text = std::fs::read_to_string(corpus.join("data/validator_test_vectors.json")).unwrap();
    let vectors: Value = serde_json::from_str(&text).unwrap();

    assert_valid("npi", &strings(&vectors["npi"]["valid"]), true);
    assert_valid("npi", &strings(&vectors["npi"]["invalid_checksum"]), false);
    assert_valid("dea", &strings(&vectors["dea"]["valid"]), true);
    assert_valid("dea", &strings(&vectors["dea"]["invalid_checksum"]), false);
    assert_valid("mbi", &strings(&vectors["mbi"]["valid"]), true);
    assert_valid("mbi", &strings(&vectors["mbi"]["invalid"]), false);
    assert_valid(
        "ssn",
        &strings(&vectors["ssn"]["structurally_valid_synthetic"]),
        true,
    );
    assert_valid("ssn", &strings(&vectors["ssn"]["invalid"]), false);
    assert_valid(
        "ssn",
        &strings(&vectors["ssn"]["known_non_personal"]),
        false,
    );
    assert_valid("vin", &strings(&vectors["vin"]["valid"]), true);
    assert_valid(
        "vin",
        &strings(&vectors["vin"]["false_positive_examples"]),
        false,
    );
    assert_valid("loinc", &strings(&vectors["loinc"]["valid"]), true);
    assert_valid("loinc", &strings(&vectors["loinc"]["invalid"]), false);
    let ndc_formats: Vec<String> = vectors["ndc"]["formats"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|value| value.as_str().map(str::to_string))
        .collect();
    assert_valid("ndc", &ndc_formats, true);
    assert_valid("icd10cm", &strings(&vectors["icd10cm"]["valid"]), true);
    assert_valid(
        "icd10cm",
        &strings(&vectors["icd10cm"]["invalid_not_in_list"]),
        false,
    );
    assert_valid(
        "restricted-zip3",
        &strings(&vectors["restricted_zip3_2000_census"]),
        true,
    );
}

#[test]
fn shipped_icd10cm_list_matches_corpus() {
    let Some(corpus) = corpus() else {
        return;
    };
    let text = std::fs::read_to_string(corpus.join("data/icd10cm_leaf_codes_2026-04.txt")).unwrap();
    let data = RuleData::embedded();
    let mut codes = std::collections::BTreeSet::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let code = line.split('\t').next().unwrap().trim();
        assert!(
            data.icd10cm_contains(code),
            "{code} missing from rules/data"
        );
        codes.insert(code.to_string());
    }
    // The source list names a few codes twice; the shipped list once.
    assert_eq!(codes.len(), data.icd10cm_len());
}
