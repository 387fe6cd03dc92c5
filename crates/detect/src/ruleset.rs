//! Compiling rules into one multi-pattern matcher.

use crate::data::RuleData;
use crate::rule::{Rule, RuleError, parse_rule_file, read_rule_dir};
use aho_corasick::AhoCorasick;
use regex_automata::MatchKind;
use regex_automata::meta;
use regex_automata::util::syntax;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Compiled size limit for one rule's pattern. The regex engine runs in time
/// linear in the text, so this bounds memory, not time.
const PATTERN_SIZE_LIMIT: usize = 4 << 20;

/// Compiled size limit for all patterns together.
const COMBINED_SIZE_LIMIT: usize = 64 << 20;

/// A rule ready to match: its spec plus compiled pattern and lookup tables.
#[derive(Debug)]
pub struct CompiledRule {
    pub rule: Rule,
    pub(crate) regex: regex::bytes::Regex,
    /// Capture group index of the `value` group, when the pattern has one.
    pub(crate) value_group: Option<usize>,
    /// Column headers and field names, normalized with [`normalize_label`].
    pub(crate) headers: Vec<String>,
    /// Excluded values in canonical or plain lowercase form.
    pub(crate) exclude: HashSet<String>,
}

/// A loaded, compiled rule set.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    /// Leftmost-first search over all patterns: finds the next candidate start.
    pub(crate) candidates: meta::Regex,
    /// All-matches search over all patterns: which rules match at a start.
    pub(crate) starts: meta::Regex,
    pub(crate) keywords: Option<AhoCorasick>,
    /// For each keyword id, the rules it gives context to.
    pub(crate) keyword_rules: Vec<Vec<u32>>,
    /// Length in bytes of the longest keyword.
    pub(crate) max_keyword_len: usize,
    pub(crate) data: RuleData,
    version: String,
}

/// Where rules come from: the embedded defaults, user directories, or both.
#[derive(Clone, Debug, Default)]
pub struct RuleSources {
    /// Leave out the rules embedded in the binary.
    pub no_defaults: bool,
    /// Directories of user rule files (`*.toml`).
    pub dirs: Vec<std::path::PathBuf>,
}

impl RuleSet {
    /// Loads and compiles rules from the given sources.
    pub fn load(sources: &RuleSources) -> Result<RuleSet, RuleError> {
        let mut files: Vec<(String, String)> = Vec::new();
        if !sources.no_defaults {
            for (name, text) in crate::embedded::RULE_FILES {
                files.push((format!("rules/{name}"), text.to_string()));
            }
        }
        for dir in &sources.dirs {
            files.extend(read_rule_dir(dir)?);
        }
        RuleSet::from_files(&files)
    }

    /// Loads only the rules embedded in the binary.
    pub fn embedded() -> Result<RuleSet, RuleError> {
        RuleSet::load(&RuleSources::default())
    }

    /// Loads the rules of one directory, without the defaults.
    pub fn from_dir(dir: &Path) -> Result<RuleSet, RuleError> {
        RuleSet::load(&RuleSources {
            no_defaults: true,
            dirs: vec![dir.to_path_buf()],
        })
    }

    /// Compiles rules from `(file name, text)` pairs.
    pub fn from_files(files: &[(String, String)]) -> Result<RuleSet, RuleError> {
        let mut rules = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut digest = Sha256::new();
        for (file, text) in files {
            for rule in parse_rule_file(file, text)? {
                if let Some(first) = seen.insert(rule.spec.id.clone(), file.clone()) {
                    return Err(RuleError {
                        file: file.clone(),
                        rule: Some(rule.spec.id.clone()),
                        message: format!("duplicate rule id; it is also defined in {first}"),
                    });
                }
                rules.push(rule);
            }
            digest.update(file.rsplit('/').next().unwrap_or(file).as_bytes());
            digest.update([0]);
            digest.update(text.as_bytes());
            digest.update([0]);
        }
        if rules.is_empty() {
            return Err(RuleError {
                file: "(rule set)".into(),
                rule: None,
                message: "no rules loaded".into(),
            });
        }
        for (name, text) in crate::embedded::DATA_FILES {
            digest.update(name.as_bytes());
            digest.update(text.as_bytes());
        }
        let version = format!("sha256:{}", &hex::encode(digest.finalize())[..16]);
        compile(rules, version)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Returns true when the set has no rules (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in load order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|compiled| &compiled.rule)
    }

    /// The rule at `index`, as reported in [`crate::Match::rule`].
    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index].rule
    }

    /// Finds a rule by id.
    pub fn find(&self, id: &str) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, compiled)| compiled.rule.spec.id == id)
            .map(|(index, compiled)| (index, &compiled.rule))
    }

    /// Digest of all rule files and data: changes whenever any rule changes.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The lookup tables used by validators.
    pub fn data(&self) -> &RuleData {
        &self.data
    }
}

fn syntax_config() -> syntax::Config {
    // ASCII mode: `\b`, `\d` and `\w` stay ASCII so the DFA engines handle all
    // text; with Unicode word boundaries the regex engine falls back to a much
    // slower one wherever a file holds non-ASCII text.
    syntax::Config::new().unicode(false).utf8(false)
}

fn compile(rules: Vec<Rule>, version: String) -> Result<RuleSet, RuleError> {
    let mut compiled = Vec::with_capacity(rules.len());
    for rule in rules {
        compiled.push(compile_rule(rule)?);
    }

    let patterns: Vec<&str> = compiled
        .iter()
        .map(|c| c.rule.spec.pattern.as_str())
        .collect();
    let build = |kind: MatchKind| {
        meta::Regex::builder()
            .syntax(syntax_config())
            .configure(
                meta::Config::new()
                    .match_kind(kind)
                    .utf8_empty(false)
                    .nfa_size_limit(Some(COMBINED_SIZE_LIMIT))
                    .hybrid_cache_capacity(8 << 20),
            )
            .build_many(&patterns)
            .map_err(|err| RuleError {
                file: "(rule set)".into(),
                rule: None,
                message: format!("the combined patterns of all rules failed to compile: {err}"),
            })
    };
    let candidates = build(MatchKind::LeftmostFirst)?;
    let starts = build(MatchKind::All)?;

    let (keywords, keyword_rules, max_keyword_len) = compile_keywords(&compiled)?;
    Ok(RuleSet {
        rules: compiled,
        candidates,
        starts,
        keywords,
        keyword_rules,
        max_keyword_len,
        data: RuleData::embedded(),
        version,
    })
}

fn compile_rule(rule: Rule) -> Result<CompiledRule, RuleError> {
    let fail = |message: String| RuleError {
        file: rule.file.clone(),
        rule: Some(rule.spec.id.clone()),
        message,
    };
    let regex = regex::bytes::RegexBuilder::new(&rule.spec.pattern)
        .unicode(false)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|err| fail(format!("invalid pattern: {err}")))?;
    if regex.is_match(b"") {
        return Err(fail(
            "pattern matches the empty string, so it would match everywhere".into(),
        ));
    }
    let value_group = regex.capture_names().position(|name| name == Some("value"));

    let headers = rule
        .spec
        .headers
        .iter()
        .map(|header| normalize_label(header))
        .collect();
    let exclude = rule
        .spec
        .exclude
        .iter()
        .flat_map(|value| {
            let plain = value.to_ascii_lowercase();
            let canonical = rule
                .validator
                .and_then(|validator| validator.check(value, &RuleData::embedded()));
            std::iter::once(plain).chain(canonical)
        })
        .collect();
    Ok(CompiledRule {
        rule,
        regex,
        value_group,
        headers,
        exclude,
    })
}

type KeywordTables = (Option<AhoCorasick>, Vec<Vec<u32>>, usize);

fn compile_keywords(rules: &[CompiledRule]) -> Result<KeywordTables, RuleError> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut words: Vec<String> = Vec::new();
    let mut keyword_rules: Vec<Vec<u32>> = Vec::new();
    for (index, compiled) in rules.iter().enumerate() {
        for keyword in &compiled.rule.spec.keywords {
            let key = keyword.to_ascii_lowercase();
            let id = *ids.entry(key.clone()).or_insert_with(|| {
                words.push(key);
                keyword_rules.push(Vec::new());
                words.len() - 1
            });
            if !keyword_rules[id].contains(&(index as u32)) {
                keyword_rules[id].push(index as u32);
            }
        }
    }
    if words.is_empty() {
        return Ok((None, keyword_rules, 0));
    }
    let max_len = words.iter().map(String::len).max().unwrap_or(0);
    let automaton = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&words)
        .map_err(|err| RuleError {
            file: "(rule set)".into(),
            rule: None,
            message: format!("keywords failed to compile: {err}"),
        })?;
    Ok((Some(automaton), keyword_rules, max_len))
}

/// Normalizes a column header or field name for comparison: lowercase ASCII
/// letters and digits, other characters turned into single spaces.
///
/// `Patient_SSN`, `patient ssn` and `PATIENT-SSN:` all become `patient ssn`.
/// camelCase names are split too: `birthDate` becomes `birth date`.
pub fn normalize_label(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut previous_lower = false;
    for ch in label.chars() {
        if ch.is_ascii_alphanumeric() {
            if ch.is_ascii_uppercase() && previous_lower && !out.ends_with(' ') {
                out.push(' ');
            }
            previous_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
            out.push(ch.to_ascii_lowercase());
        } else {
            previous_lower = false;
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Returns true when a normalized label names a normalized header: equal, or
/// containing it as a run of whole words (`patient ssn` contains `ssn`).
pub(crate) fn label_contains(label: &str, header: &str) -> bool {
    if header.is_empty() {
        return false;
    }
    if label == header {
        return true;
    }
    let mut from = 0;
    while let Some(position) = label[from..].find(header) {
        let start = from + position;
        let end = start + header.len();
        let starts_word = start == 0 || label.as_bytes()[start - 1] == b' ';
        let ends_word = end == label.len() || label.as_bytes()[end] == b' ';
        if starts_word && ends_word {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_normalize() {
        assert_eq!(normalize_label("Patient_SSN"), "patient ssn");
        assert_eq!(normalize_label(" PATIENT-SSN: "), "patient ssn");
        assert_eq!(normalize_label("birthDate"), "birth date");
        assert_eq!(normalize_label("PID-3"), "pid 3");
    }

    #[test]
    fn label_contains_whole_words() {
        assert!(label_contains("patient ssn", "ssn"));
        assert!(label_contains("ssn", "ssn"));
        assert!(label_contains("date of birth", "date of birth"));
        assert!(!label_contains("lessn", "ssn"));
        assert!(!label_contains("ssnx", "ssn"));
    }

    #[test]
    fn embedded_rules_compile() {
        let rules = RuleSet::embedded().unwrap();
        assert!(rules.len() >= 6);
        assert!(rules.version().starts_with("sha256:"));
        assert!(rules.find("us.ssn").is_some());
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../rules/identifiers.toml"
        ))
        .unwrap();
        let files = vec![
            ("a.toml".to_string(), text.clone()),
            ("b.toml".to_string(), text),
        ];
        let err = RuleSet::from_files(&files).unwrap_err();
        assert_eq!(err.file, "b.toml");
        assert!(err.message.contains("also defined in a.toml"), "{err}");
    }

    #[test]
    fn empty_matching_pattern_is_rejected() {
        let text = r#"
[[rule]]
id = "user.any"
name = "Anything"
category = "other-id"
description = "Matches nothing useful."
pattern = '\d*'
confidence = 50
examples = ["1"]
"#;
        let err = RuleSet::from_files(&[("u.toml".into(), text.into())]).unwrap_err();
        assert_eq!(err.rule.as_deref(), Some("user.any"));
        assert!(err.message.contains("empty string"), "{err}");
    }

    #[test]
    fn oversized_pattern_is_rejected() {
        let text = r#"
[[rule]]
id = "user.huge"
name = "Huge"
category = "other-id"
description = "A pattern that compiles to an enormous automaton."
pattern = '((\w{100}){100}){20}x'
confidence = 50
examples = ["1"]
"#;
        let err = RuleSet::from_files(&[("u.toml".into(), text.into())]).unwrap_err();
        assert_eq!(err.rule.as_deref(), Some("user.huge"));
        assert!(err.message.contains("invalid pattern"), "{err}");
    }
}
