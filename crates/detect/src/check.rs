//! `phiscan rules check`: every example of every rule must match, and no
//! negative example may.

use crate::matcher::{Field, Matcher, SegmentInput};
use crate::ruleset::RuleSet;

/// Whether an example should or should not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExampleKind {
    Positive,
    Negative,
}

/// An example that did not behave as its rule file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    pub rule: String,
    pub file: String,
    pub kind: ExampleKind,
    pub example: String,
}

impl std::fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            ExampleKind::Positive => write!(
                f,
                "{}: rule {}: example {:?} did not match",
                self.file, self.rule, self.example
            ),
            ExampleKind::Negative => write!(
                f,
                "{}: rule {}: negative example {:?} matched",
                self.file, self.rule, self.example
            ),
        }
    }
}

/// Splits `[Header] value` into the header and the value text.
pub fn parse_example(example: &str) -> (Option<&str>, &str) {
    if let Some(rest) = example.strip_prefix('[')
        && let Some((label, value)) = rest.split_once("] ")
    {
        return (Some(label), value);
    }
    (None, example)
}

/// Returns true when the rule at `rule_index` matches the example text.
pub fn example_matches(
    rules: &RuleSet,
    matcher: &mut Matcher,
    rule_index: usize,
    example: &str,
) -> bool {
    let (label, text) = parse_example(example);
    let fields;
    let input = match label {
        Some(label) => {
            fields = [Field {
                range: 0..text.len(),
                label,
            }];
            SegmentInput {
                text,
                label: None,
                fields: &fields,
                report: 0..text.len(),
            }
        }
        None => SegmentInput::plain(text),
    };
    let mut found = Vec::new();
    matcher.find(rules, &input, &mut found);
    found.iter().any(|m| m.rule == rule_index)
}

/// Runs every rule's examples and negative examples; returns the failures.
pub fn check_examples(rules: &RuleSet) -> Vec<CheckFailure> {
    let mut matcher = Matcher::new(rules);
    let mut failures = Vec::new();
    for (index, rule) in rules.rules().enumerate() {
        let cases = rule
            .spec
            .examples
            .iter()
            .map(|example| (ExampleKind::Positive, example))
            .chain(
                rule.spec
                    .negative_examples
                    .iter()
                    .map(|example| (ExampleKind::Negative, example)),
            );
        for (kind, example) in cases {
            let matched = example_matches(rules, &mut matcher, index, example);
            if matched != (kind == ExampleKind::Positive) {
                failures.push(CheckFailure {
                    rule: rule.spec.id.clone(),
                    file: rule.file.clone(),
                    kind,
                    example: example.clone(),
                });
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_example_syntax() {
        assert_eq!(parse_example("[MRN] 0012345"), (Some("MRN"), "0012345"));
        assert_eq!(parse_example("MRN 0012345"), (None, "MRN 0012345"));
        assert_eq!(parse_example("[x]y"), (None, "[x]y"));
    }

    #[test]
    fn default_rules_pass_their_examples() {
        let rules = RuleSet::embedded().unwrap();
        let failures = check_examples(&rules);
        let report: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert!(failures.is_empty(), "{}", report.join("\n"));
    }

    #[test]
    fn wrong_example_is_reported() {
        let text = r#"
[[rule]]
id = "user.code"
name = "Code"
category = "other-id"
description = "Codes."
pattern = '\bZQ\d{4}\b'
confidence = 50
examples = ["ZQ1234", "ZQ12"]
negative_examples = ["ZQ9999"]
"#;
        let rules = RuleSet::from_files(&[("u.toml".into(), text.into())]).unwrap();
        let failures = check_examples(&rules);
        assert_eq!(failures.len(), 2);
        assert_eq!(failures[0].kind, ExampleKind::Positive);
        assert_eq!(failures[0].example, "ZQ12");
        assert_eq!(failures[1].kind, ExampleKind::Negative);
        assert!(
            failures[1]
                .to_string()
                .contains("negative example \"ZQ9999\" matched")
        );
    }
}
