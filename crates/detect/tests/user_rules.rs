//! User rule directories: rules added at run time without recompiling, and
//! the errors that bad rule files produce.

use phiscan_detect::{Matcher, RuleSet, RuleSources, SegmentInput};
use std::fs;
use std::path::Path;

const PRACTICE_RULES: &str = r#"
[[rule]]
id = "practice.mrn"
name = "Springfield chart number"
category = "mrn"
description = "Chart numbers of the practice's EHR: SFM followed by 7 digits, found without a label."
pattern = '\bSFM\d{7}\b'
confidence = 90
examples = ["SFM0012345"]
negative_examples = ["SFM12"]

[[rule]]
id = "practice.programs"
name = "Practice program names"
category = "clinical-term"
description = "Names of the practice's care programs, from a list beside this file."
dictionary = "programs.txt"
confidence = 80
examples = ["enrolled in heart smart"]
"#;

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
}

fn found_ids(rules: &RuleSet, text: &str) -> Vec<String> {
    let mut matcher = Matcher::new(rules);
    let mut found = Vec::new();
    matcher.find(rules, &SegmentInput::plain(text), &mut found);
    found
        .iter()
        .map(|m| rules.rule(m.rule).spec.id.clone())
        .collect()
}

#[test]
fn user_rules_add_to_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "practice.toml", PRACTICE_RULES);
    write(
        dir.path(),
        "programs.txt",
        "# Care programs\nheart smart\nsteady steps\n",
    );
    let rules = RuleSet::load(&RuleSources {
        no_defaults: false,
        dirs: vec![dir.path().to_path_buf()],
    })
    .unwrap();

    let ids = found_ids(
        &rules,
        "Seen today, SFM0012345, enrolled in Heart Smart. SSN 234-56-7890",
    );
    assert!(ids.contains(&"practice.mrn".to_string()), "{ids:?}");
    assert!(ids.contains(&"practice.programs".to_string()), "{ids:?}");
    assert!(ids.contains(&"us.ssn".to_string()), "{ids:?}");
    assert_ne!(rules.version(), RuleSet::embedded().unwrap().version());
}

#[test]
fn user_rules_alone() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "practice.toml", PRACTICE_RULES);
    write(dir.path(), "programs.txt", "heart smart\n");
    let rules = RuleSet::from_dir(dir.path()).unwrap();
    assert_eq!(rules.len(), 2);
    assert!(found_ids(&rules, "SSN 234-56-7890").is_empty());
}

#[test]
fn invalid_user_rule_names_file_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let text = PRACTICE_RULES.replace("category = \"mrn\"", "category = \"chart\"");
    write(dir.path(), "practice.toml", &text);
    let err = RuleSet::from_dir(dir.path()).unwrap_err();
    assert!(err.file.ends_with("practice.toml"), "{err}");
    assert_eq!(err.rule.as_deref(), Some("practice.mrn"));
    assert!(err.message.contains("unknown category \"chart\""), "{err}");
}

#[test]
fn catastrophic_user_pattern_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let text = PRACTICE_RULES.replace(r"'\bSFM\d{7}\b'", r"'(SFM\d+)+$'");
    write(dir.path(), "practice.toml", &text);
    write(dir.path(), "programs.txt", "heart smart\n");
    let err = RuleSet::from_dir(dir.path()).unwrap_err();
    assert_eq!(err.rule.as_deref(), Some("practice.mrn"));
    assert!(err.message.contains("unbounded repetition"), "{err}");
}

#[test]
fn missing_dictionary_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "practice.toml", PRACTICE_RULES);
    let err = RuleSet::from_dir(dir.path()).unwrap_err();
    assert_eq!(err.rule.as_deref(), Some("practice.programs"));
    assert!(err.message.contains("\"programs.txt\" not found"), "{err}");
}

#[test]
fn empty_rule_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = RuleSet::from_dir(dir.path()).unwrap_err();
    assert!(err.message.contains("no rule files"), "{err}");
}

/// A rule file's `allow` list drops the practice's own phone number and
/// address whatever rule finds them, in any written form, and nothing else.
#[test]
fn allowed_values_are_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "practice.toml",
        "allow = [\"(508) 340-7712\", \"1420 Maple Ave\"]\n",
    );
    let with_allow = RuleSet::load(&RuleSources {
        no_defaults: false,
        dirs: vec![dir.path().to_path_buf()],
    })
    .unwrap();
    let defaults = RuleSet::embedded().unwrap();
    assert_eq!(with_allow.allowed_values(), 2);
    assert_ne!(with_allow.version(), defaults.version());

    let text = "Call us at 508.340.7712 or visit 1420 Maple Ave. Patient line: (617) 555-2368.";
    let values = |rules: &RuleSet| -> Vec<String> {
        let mut matcher = Matcher::new(rules);
        let mut found = Vec::new();
        matcher.find(rules, &SegmentInput::plain(text), &mut found);
        found
            .iter()
            .map(|m| text[m.start..m.end].to_string())
            .collect()
    };
    let all = values(&defaults);
    assert!(all.iter().any(|value| value == "508.340.7712"), "{all:?}");
    let reported = values(&with_allow);
    assert!(
        !reported.iter().any(|value| value.contains("340")),
        "{reported:?}"
    );
    assert!(
        !reported.iter().any(|value| value.contains("Maple")),
        "{reported:?}"
    );
    assert!(
        reported.iter().any(|value| value.contains("2368")),
        "{reported:?}"
    );
}

#[test]
fn allow_value_without_letters_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "practice.toml", "allow = [\"--\"]\n");
    let err = RuleSet::from_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("allow value \"--\""), "{err}");
}
