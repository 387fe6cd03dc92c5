//! The rule file schema, and loading with errors that name the file and rule.
//!
//! A rule file is TOML with one `[[rule]]` table per rule:
//!
//! ```toml
//! [[rule]]
//! id = "practice.mrn"
//! name = "Practice medical record number"
//! category = "mrn"
//! description = "Chart numbers of the practice's EHR: MR followed by 7 digits."
//! pattern = '\bMR\d{7}\b'
//! keywords = ["mrn", "chart"]
//! confidence = 70
//! context_confidence = 95
//! examples = ["Chart MR0012345"]
//! negative_examples = ["MR12"]
//! ```
//!
//! `docs/rules.md` documents every field.

use crate::validate::Validator;
use phiscan_core::{Category, Role};
use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// A rule as written in a rule file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Namespaced id, such as `us.ssn`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// One of the output contract's categories.
    pub category: String,
    /// Overrides the category's role in classification: direct, quasi, health or provider.
    #[serde(default)]
    pub role: Option<String>,
    pub description: String,
    /// Regular expression for candidates. ASCII mode: `\b`, `\d` and `\w` are
    /// ASCII-only, and text is normalized to ASCII punctuation and digits first.
    /// A group named `value` marks the value inside a longer match. Every
    /// repetition must be bounded, so that no match is longer than
    /// [`MAX_MATCH_LEN`] bytes. Empty for dictionary rules.
    #[serde(default)]
    pub pattern: String,
    /// Positions where the pattern is tried: everywhere (`pattern`, the
    /// default), right after an anchor word or at the start of a value under
    /// one of the headers (`keyword`), or where an anchor word starts
    /// (`keyword-start`).
    #[serde(default)]
    pub anchor: Anchor,
    /// Words and phrases that anchor a keyword-anchored rule, when they
    /// differ from its context `keywords`. Without them the `keywords`
    /// anchor the rule and every match counts as having context.
    #[serde(default)]
    pub anchor_keywords: Vec<String>,
    /// Name of a term list in `rules/data/` (or beside a user rule file): the
    /// rule matches each listed term as a whole word, in any case, instead of a pattern.
    #[serde(default)]
    pub dictionary: Option<String>,
    /// Name of the validator applied to each candidate.
    #[serde(default)]
    pub validator: Option<String>,
    /// Words and phrases that give context when found near a candidate (case-insensitive).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Words and phrases that, within the window before a candidate, show it
    /// is something else (`invoice` before a number); such candidates are dropped.
    #[serde(default)]
    pub exclude_keywords: Vec<String>,
    /// How far from a candidate keywords count, in characters.
    #[serde(default)]
    pub window: Window,
    /// Confidence (0-100) of a finding without context.
    pub confidence: u8,
    /// Confidence (0-100) of a finding with context; defaults to `confidence`.
    #[serde(default)]
    pub context_confidence: Option<u8>,
    /// Drop candidates that have no context.
    #[serde(default)]
    pub requires_context: bool,
    /// Column headers and field names that mark a value as this rule's kind.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Values that are never findings, compared after validation and normalization.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Texts the rule must match; `[Header] value` puts the value under that
    /// column header or field name.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts the rule must not match, in the same form as `examples`.
    #[serde(default)]
    pub negative_examples: Vec<String>,
}

/// Positions where a rule's pattern is tried.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Anchor {
    /// At every position of the text, in the shared candidate pass.
    #[default]
    Pattern,
    /// Only where one of the rule's keywords ends, and at the start of a field
    /// whose label matches one of its headers.
    Keyword,
    /// Only where one of the rule's keywords starts: the pattern matches the
    /// keyword itself, as `March 14` starts with the month name.
    KeywordStart,
}

impl Anchor {
    /// Returns the name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Anchor::Pattern => "pattern",
            Anchor::Keyword => "keyword",
            Anchor::KeywordStart => "keyword-start",
        }
    }
}

/// Longest match a pattern may produce, in bytes. Bounding it keeps the
/// candidate pass linear in the text however the text is built.
pub const MAX_MATCH_LEN: usize = 512;

/// The keyword window around a candidate, in characters.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub before: usize,
    pub after: usize,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            before: 40,
            after: 15,
        }
    }
}

/// Largest keyword window, in characters, so one rule cannot make every
/// candidate scan a whole segment.
pub const MAX_WINDOW: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFileSpec {
    #[serde(default)]
    rule: Vec<RuleSpec>,
    /// Values that are never reported, whatever rule finds them: the
    /// practice's own phone numbers, addresses and web sites.
    #[serde(default)]
    allow: Vec<String>,
}

/// Most values one rule file may allow.
pub const MAX_ALLOWED_VALUES: usize = 10_000;

/// A rule file that failed to load, with the file, the rule id and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    pub file: String,
    pub rule: Option<String>,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{}: rule {rule}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl RuleError {
    fn new(file: &str, rule: Option<&str>, message: impl Into<String>) -> RuleError {
        RuleError {
            file: file.to_string(),
            rule: rule.map(str::to_string),
            message: message.into(),
        }
    }
}

/// A rule that passed schema checks, with its file of origin.
#[derive(Clone, Debug)]
pub struct Rule {
    pub spec: RuleSpec,
    pub category: Category,
    pub role: Role,
    pub validator: Option<Validator>,
    /// The file the rule came from, for messages.
    pub file: String,
}

impl RuleSpec {
    /// The words that anchor a keyword-anchored rule: `anchor_keywords`
    /// when set, otherwise `keywords`.
    pub fn anchor_words(&self) -> &[String] {
        if self.anchor_keywords.is_empty() {
            &self.keywords
        } else {
            &self.anchor_keywords
        }
    }

    /// Returns true when every match is found through an anchor that
    /// doubles as its context.
    pub fn anchor_gives_context(&self) -> bool {
        self.anchor != Anchor::Pattern && self.anchor_keywords.is_empty()
    }
}

impl Rule {
    /// Confidence of a finding with context.
    pub fn context_confidence(&self) -> u8 {
        self.spec.context_confidence.unwrap_or(self.spec.confidence)
    }
}

/// Parses one rule file's text. `file` names it in errors.
pub fn parse_rule_file(file: &str, text: &str) -> Result<Vec<Rule>, RuleError> {
    parse_rule_file_with_allowed(file, text).map(|(rules, _)| rules)
}

/// Parses one rule file's text into its rules and its allowed values.
pub(crate) fn parse_rule_file_with_allowed(
    file: &str,
    text: &str,
) -> Result<(Vec<Rule>, Vec<String>), RuleError> {
    let parsed: RuleFileSpec = toml::from_str(text).map_err(|err| {
        RuleError::new(
            file,
            failing_rule_id(text).as_deref(),
            toml_message(&err, text),
        )
    })?;
    if parsed.allow.len() > MAX_ALLOWED_VALUES {
        return Err(RuleError::new(
            file,
            None,
            format!(
                "allow lists {} values, more than the limit of {MAX_ALLOWED_VALUES}; keep the practice's own numbers and addresses there, and write a rule with exclude for a larger list",
                parsed.allow.len()
            ),
        ));
    }
    for value in &parsed.allow {
        if allow_key(value).is_empty() {
            return Err(RuleError::new(
                file,
                None,
                format!(
                    "allow value {value:?} has no letter or digit, so it would match nothing; remove it"
                ),
            ));
        }
    }
    let rules = parsed
        .rule
        .into_iter()
        .map(|spec| check_rule(file, spec))
        .collect::<Result<Vec<Rule>, RuleError>>()?;
    Ok((rules, parsed.allow))
}

/// Returns the form in which allowed values are compared: the letters and
/// digits, lowercased, so `(508) 340-7712` and `508.340.7712` are one value.
pub fn allow_key(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Reads every `*.toml` file of a directory, sorted by name.
pub fn read_rule_dir(dir: &Path) -> Result<Vec<(String, String)>, RuleError> {
    let display = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|err| {
        RuleError::new(&display, None, format!("cannot read rule directory: {err}"))
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| {
            RuleError::new(&display, None, format!("cannot read rule directory: {err}"))
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(RuleError::new(
            &display,
            None,
            "no rule files (*.toml) in this directory",
        ));
    }
    paths
        .into_iter()
        .map(|path| {
            let name = path.display().to_string();
            std::fs::read_to_string(&path)
                .map(|text| (name.clone(), text))
                .map_err(|err| RuleError::new(&name, None, format!("cannot read: {err}")))
        })
        .collect()
}

/// Finds the id of the first rule that does not deserialize on its own, so
/// that a schema error names its rule as well as its line.
fn failing_rule_id(text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let rules = table.get("rule")?.as_array()?;
    rules.iter().find_map(|rule| {
        let failed = RuleSpec::deserialize(rule.clone()).is_err();
        failed.then(|| rule.get("id")?.as_str().map(str::to_string))?
    })
}

fn toml_message(err: &toml::de::Error, text: &str) -> String {
    // Rule authors read TOML, not Rust, so types get plain names. The only
    // u8 fields are the two confidences.
    let mut message = err.message().trim().to_string();
    for (rust, plain) in [
        ("expected u8", "expected a whole number from 0 to 100"),
        (
            "expected a sequence",
            "expected a list in brackets, such as [\"a\", \"b\"]",
        ),
        ("expected a boolean", "expected true or false"),
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected usize", "expected a whole number"),
    ] {
        message = message.replace(rust, plain);
    }
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

fn check_rule(file: &str, spec: RuleSpec) -> Result<Rule, RuleError> {
    let id = spec.id.clone();
    let fail = |message: String| RuleError::new(file, Some(&id), message);

    let id_valid = !id.is_empty()
        && id.contains('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !id_valid {
        return Err(fail(
            "invalid id: use a namespaced lowercase id such as `practice.mrn` (letters, digits, `.`, `_`, `-`)".into(),
        ));
    }
    let category: Category = spec
        .category
        .parse()
        .map_err(|err: phiscan_core::category::UnknownCategory| fail(err.to_string()))?;
    let role = match spec.role.as_deref() {
        None => category.default_role(),
        Some("direct") => Role::Direct,
        Some("quasi") => Role::Quasi,
        Some("health") => Role::Health,
        Some("provider") => Role::Provider,
        Some(other) => {
            return Err(fail(format!(
                "invalid role {other:?}: expected direct, quasi, health or provider"
            )));
        }
    };
    let validator = match spec.validator.as_deref() {
        None => None,
        Some(name) => Some(Validator::from_name(name).ok_or_else(|| {
            fail(format!(
                "unknown validator {name:?}; known validators: {}",
                Validator::NAMES.join(", ")
            ))
        })?),
    };
    if spec.confidence > 100 {
        return Err(fail(format!("confidence {} is above 100", spec.confidence)));
    }
    if let Some(context) = spec.context_confidence {
        if context > 100 {
            return Err(fail(format!("context_confidence {context} is above 100")));
        }
        if context < spec.confidence {
            return Err(fail(format!(
                "context_confidence {context} is below confidence {}; context should raise confidence",
                spec.confidence
            )));
        }
    }
    if spec.window.before > MAX_WINDOW || spec.window.after > MAX_WINDOW {
        return Err(fail(format!(
            "window {{ before = {}, after = {} }} exceeds the maximum of {MAX_WINDOW} characters",
            spec.window.before, spec.window.after
        )));
    }
    if spec.requires_context && spec.keywords.is_empty() && spec.headers.is_empty() {
        return Err(fail(
            "requires_context is set but the rule has no keywords or headers to give context"
                .into(),
        ));
    }
    if spec.anchor == Anchor::Keyword && spec.anchor_words().is_empty() && spec.headers.is_empty() {
        return Err(fail(
            "anchor = \"keyword\" but the rule has no keywords or headers to anchor on".into(),
        ));
    }
    if spec.anchor == Anchor::KeywordStart && spec.anchor_words().is_empty() {
        return Err(fail(
            "anchor = \"keyword-start\" but the rule has no keywords to anchor on".into(),
        ));
    }
    if spec.anchor == Anchor::Pattern && !spec.anchor_keywords.is_empty() {
        return Err(fail(
            "anchor_keywords is set but anchor is \"pattern\"; set anchor = \"keyword\" or \"keyword-start\"".into(),
        ));
    }
    if spec
        .keywords
        .iter()
        .chain(&spec.exclude_keywords)
        .chain(&spec.anchor_keywords)
        .any(|keyword| keyword.trim().is_empty())
    {
        return Err(fail("empty keyword".into()));
    }
    // A header is compared after the label is reduced to lower-case letters
    // and digits, so a header without any would never match.
    if let Some(header) = spec.headers.iter().find(|header| {
        !header
            .trim_start_matches('=')
            .chars()
            .any(|c| c.is_ascii_alphanumeric())
    }) {
        return Err(fail(format!(
            "header {header:?} has no letter or digit, so no column header or field name can match it; remove it or write the header's words"
        )));
    }
    if let Some(keyword) = spec
        .keywords
        .iter()
        .chain(&spec.exclude_keywords)
        .chain(&spec.anchor_keywords)
        .find(|keyword| !keyword.starts_with(|c: char| c.is_ascii_alphanumeric()))
    {
        return Err(fail(format!(
            "keyword {keyword:?} must start with an ASCII letter or digit, because keywords match from the start of a word"
        )));
    }
    if spec.examples.is_empty() {
        return Err(fail(
            "no examples: add at least one text the rule must match, so `phiscan rules check` can verify it".into(),
        ));
    }
    match (&spec.dictionary, spec.pattern.trim().is_empty()) {
        (None, true) => {
            return Err(fail(
                "empty pattern: set `pattern`, or `dictionary` for a term list".into(),
            ));
        }
        (Some(_), false) => {
            return Err(fail(
                "both `pattern` and `dictionary` are set; a rule matches one or the other".into(),
            ));
        }
        (Some(_), true) if spec.anchor != Anchor::Pattern => {
            return Err(fail(
                "a dictionary rule cannot be keyword-anchored; remove `anchor`".into(),
            ));
        }
        _ => {}
    }

    Ok(Rule {
        spec,
        category,
        role,
        validator,
        file: file.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
[[rule]]
id = "practice.mrn"
name = "Practice MRN"
category = "mrn"
description = "Chart numbers."
pattern = '\bMR\d{7}\b'
keywords = ["chart"]
confidence = 70
context_confidence = 95
examples = ["Chart MR0012345"]
"#;

    #[test]
    fn valid_rule_loads() {
        let rules = parse_rule_file("user.toml", VALID).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].category, Category::Mrn);
        assert_eq!(rules[0].role, Role::Direct);
        assert_eq!(rules[0].context_confidence(), 95);
        assert_eq!(rules[0].spec.window, Window::default());
    }

    #[test]
    fn unknown_category_names_file_and_rule() {
        let text = VALID.replace("category = \"mrn\"", "category = \"chart\"");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert_eq!(err.file, "user.toml");
        assert_eq!(err.rule.as_deref(), Some("practice.mrn"));
        assert!(err.message.contains("unknown category \"chart\""), "{err}");
    }

    #[test]
    fn unknown_key_names_line() {
        let text = VALID.replace("confidence = 70", "confidence = 70\nconfidnce = 3");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("confidnce"), "{err}");
        assert!(err.message.starts_with("line "), "{err}");
    }

    #[test]
    fn wrong_type_is_rejected() {
        let text = VALID.replace("confidence = 70", "confidence = \"high\"");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("line 9"), "{err}");
        assert!(
            err.message
                .contains("expected a whole number from 0 to 100"),
            "{err}"
        );
        assert_eq!(err.rule.as_deref(), Some("practice.mrn"));
    }

    #[test]
    fn header_without_letters_is_rejected() {
        let text = VALID.replace("keywords", "headers = [\"=\", \"  \"]\nkeywords");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("header \"=\" has no letter"), "{err}");
    }

    #[test]
    fn unknown_validator_lists_known_ones() {
        let text = VALID.replace("keywords", "validator = \"crc\"\nkeywords");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("unknown validator \"crc\""), "{err}");
        assert!(err.message.contains("luhn"), "{err}");
    }

    #[test]
    fn confidence_above_100_is_rejected() {
        let text = VALID.replace("confidence = 70", "confidence = 170");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.to_string().contains("above 100"), "{err}");
    }

    #[test]
    fn lowered_context_confidence_is_rejected() {
        let text = VALID.replace("context_confidence = 95", "context_confidence = 50");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("below confidence"), "{err}");
    }

    #[test]
    fn rule_without_examples_is_rejected() {
        let text = VALID.replace("examples = [\"Chart MR0012345\"]", "");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("no examples"), "{err}");
    }

    #[test]
    fn bad_id_is_rejected() {
        let text = VALID.replace("practice.mrn", "MRN");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("invalid id"), "{err}");
    }

    #[test]
    fn keyword_anchor_needs_keywords() {
        let text = VALID.replace("keywords = [\"chart\"]", "anchor = \"keyword\"");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("anchor"), "{err}");
    }

    #[test]
    fn anchor_keywords_need_an_anchor() {
        let text = VALID.replace("keywords", "anchor_keywords = [\"mr\"]\nkeywords");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("anchor_keywords is set"), "{err}");
    }

    #[test]
    fn keyword_start_needs_keywords() {
        let text = VALID.replace("keywords = [\"chart\"]", "anchor = \"keyword-start\"");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("keyword-start"), "{err}");
    }

    #[test]
    fn anchor_words_prefer_anchor_keywords() {
        let text = VALID.replace(
            "keywords = [\"chart\"]",
            "anchor = \"keyword-start\"\nanchor_keywords = [\"mr\"]\nkeywords = [\"chart\"]",
        );
        let rules = parse_rule_file("user.toml", &text).unwrap();
        assert_eq!(rules[0].spec.anchor_words(), ["mr".to_string()]);
        assert!(!rules[0].spec.anchor_gives_context());
    }

    #[test]
    fn unknown_anchor_is_rejected() {
        let text = VALID.replace("keywords", "anchor = \"line\"\nkeywords");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("line"), "{err}");
        assert_eq!(err.rule.as_deref(), Some("practice.mrn"));
    }

    #[test]
    fn pattern_and_dictionary_conflict() {
        let text = VALID.replace("keywords", "dictionary = \"drug-names.txt\"\nkeywords");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(
            err.message.contains("both `pattern` and `dictionary`"),
            "{err}"
        );
    }

    #[test]
    fn keyword_must_start_with_word_character() {
        let text = VALID.replace("keywords = [\"chart\"]", "keywords = [\"#chart\"]");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("\"#chart\" must start"), "{err}");
    }

    #[test]
    fn context_requirement_needs_keywords() {
        let text = VALID.replace("keywords = [\"chart\"]", "requires_context = true");
        let err = parse_rule_file("user.toml", &text).unwrap_err();
        assert!(err.message.contains("requires_context"), "{err}");
    }
}
