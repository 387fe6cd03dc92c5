//! Compiling rules into one multi-pattern matcher.

use crate::data::{RuleData, data_lines};
use crate::rule::{
    Anchor, MAX_MATCH_LEN, Rule, RuleError, allow_key, parse_rule_file_with_allowed, read_rule_dir,
};
use aho_corasick::nfa::contiguous::NFA;
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

/// Most terms one dictionary rule may list.
const MAX_DICTIONARY_TERMS: usize = 200_000;

/// A rule ready to match: its spec plus compiled pattern and lookup tables.
#[derive(Debug)]
pub struct CompiledRule {
    pub rule: Rule,
    /// The rule's own pattern, run anchored at each candidate start; None for
    /// dictionary rules.
    pub(crate) regex: Option<meta::Regex>,
    /// Capture group index of the `value` group, when the pattern has one.
    pub(crate) value_group: Option<usize>,
    /// Column headers and field names, normalized with [`normalize_label`].
    pub(crate) headers: Vec<String>,
    /// Exclude keywords normalized as labels, for headers that exclude.
    pub(crate) exclude_labels: Vec<String>,
    /// Excluded values in canonical or plain lowercase form.
    pub(crate) exclude: HashSet<String>,
    /// Whether the rule has context keywords, so candidates need a keyword look-up.
    pub(crate) has_context_keywords: bool,
    /// Whether the rule has exclude keywords.
    pub(crate) has_exclude_keywords: bool,
}

/// The part a keyword-automaton pattern plays for a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeywordUse {
    /// Gives context to the rule's candidates within its window.
    Context,
    /// Marks where the keyword-anchored rule's pattern is tried.
    Anchor,
    /// Drops the rule's candidates within its window.
    Exclude,
    /// Is a term of the dictionary rule.
    Term,
}

/// A loaded, compiled rule set.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    /// Leftmost-first search over the patterns of `pattern_rules`: finds the
    /// next candidate start.
    pub(crate) candidates: meta::Regex,
    /// All-matches search over the same patterns: which rules match at a start.
    pub(crate) starts: meta::Regex,
    /// Rule index of each pattern of `candidates` and `starts`.
    pub(crate) pattern_rules: Vec<usize>,
    /// Keywords, exclude keywords and dictionary terms of all rules, ASCII
    /// case-insensitive. The automaton is walked anchored from the start of
    /// each word that may begin a keyword, so every hit starts at a word
    /// boundary. A contiguous NFA: its 170 KB stay in the processor's
    /// cache, where a DFA of the same keywords took 2.8 MB.
    pub(crate) keywords: Option<NFA>,
    /// Filter over the words that begin a keyword: see [`RuleSet::may_begin_keyword`].
    keyword_words: Box<[u64; KEYWORD_FILTER_WORDS]>,
    /// For each keyword-automaton pattern, the rules it serves and how.
    pub(crate) keyword_uses: Vec<Vec<(u32, KeywordUse)>>,
    /// Length in bytes of the longest keyword.
    pub(crate) max_keyword_len: usize,
    pub(crate) data: RuleData,
    /// Terms of the dictionary rules, by dictionary name.
    dictionaries: Dictionaries,
    /// Values never reported, in [`allow_key`] form, from the rule files'
    /// `allow` lists.
    pub(crate) allowed: HashSet<String>,
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
        let mut allowed = HashSet::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut digest = Sha256::new();
        for (file, text) in files {
            let (file_rules, file_allowed) = parse_rule_file_with_allowed(file, text)?;
            allowed.extend(file_allowed.iter().map(|value| allow_key(value)));
            for rule in file_rules {
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
        let dictionaries = load_dictionaries(&rules)?;
        // HashMap order changes from run to run; the version must not.
        let mut names: Vec<&String> = dictionaries.keys().collect();
        names.sort();
        for name in names {
            let terms = &dictionaries[name];
            digest.update(name.as_bytes());
            for term in terms {
                digest.update(term.as_bytes());
                digest.update([0]);
            }
        }
        let version = format!("sha256:{}", &hex::encode(digest.finalize())[..16]);
        let mut set = compile(rules, &dictionaries, version)?;
        set.allowed = allowed;
        Ok(set)
    }

    /// Number of values the rule files allow.
    pub fn allowed_values(&self) -> usize {
        self.allowed.len()
    }

    /// Returns true when a word of the text, given by its [`word_hash`],
    /// may begin a keyword; false means that no keyword starts there.
    ///
    /// A keyword found at a word start covers the whole word: either the
    /// keyword ends where the word ends, or its next byte is a space or
    /// punctuation, which ends the word. So the word, lowercased, equals the
    /// keyword's leading run of letters and digits. The filter contains those
    /// runs, two bits each; about one word in 300 that begins no keyword
    /// passes it.
    pub(crate) fn may_begin_keyword(&self, hash: u64) -> bool {
        let [first, second] = filter_bits(hash);
        let words = &self.keyword_words;
        words[first / 64] >> (first % 64) & 1 == 1 && words[second / 64] >> (second % 64) & 1 == 1
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

impl RuleSet {
    /// Returns the pattern ripgrep needs to find the same candidates as the
    /// matcher's first pass: the rule's pattern, preceded by its keywords for
    /// a keyword-anchored rule, or its terms for a dictionary rule. `(?-u)`
    /// gives ripgrep, which defaults to Unicode mode, the matcher's ASCII
    /// classes and word boundaries.
    pub fn ripgrep_pattern(&self, rule: &Rule) -> String {
        let spec = &rule.spec;
        if let Some(dictionary) = &spec.dictionary {
            let terms = self
                .dictionaries
                .get(dictionary)
                .map_or(&[][..], Vec::as_slice);
            // A word boundary follows a term only when it ends in a letter
            // or digit: after `(test)` there is none to match.
            let alternation: Vec<String> = terms
                .iter()
                .map(|term| {
                    let boundary = if term.ends_with(|c: char| c.is_ascii_alphanumeric()) {
                        "\\b"
                    } else {
                        ""
                    };
                    format!("{}{boundary}", escape_literal(term))
                })
                .collect();
            return format!("(?-u)(?i)\\b(?:{})", alternation.join("|"));
        }
        // ripgrep joins the lines of a pattern file into one alternation, in
        // which a group name may appear only once. It also searches line by
        // line and rejects patterns that can match a line break unless run
        // with --multiline, which slows every pattern down. So a label and a
        // name on consecutive lines are matched as if on one line instead.
        let pattern = spec
            .pattern
            .replace("(?P<value>", "(?:")
            .replace(r"\r?\n", r"[ \t]")
            .replace(r"\n", r"[ \t]");
        match spec.anchor {
            Anchor::Keyword if spec.anchor_words().is_empty() => format!("(?-u){pattern}"),
            // The pattern of a keyword-start rule matches the keyword itself.
            Anchor::Pattern | Anchor::KeywordStart => format!("(?-u){pattern}"),
            Anchor::Keyword => {
                let keywords: Vec<String> = spec
                    .anchor_words()
                    .iter()
                    .map(|keyword| escape_literal(keyword))
                    .collect();
                format!("(?-u)(?i:\\b(?:{}))(?-i:{pattern})", keywords.join("|"))
            }
        }
    }
}

/// Escapes regex metacharacters in a literal keyword or term.
fn escape_literal(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for c in literal.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Term lists by dictionary name, read from the embedded data or from the
/// folder of the rule file that names them.
type Dictionaries = HashMap<String, Vec<String>>;

fn load_dictionaries(rules: &[Rule]) -> Result<Dictionaries, RuleError> {
    let mut dictionaries = Dictionaries::new();
    for rule in rules {
        let Some(name) = &rule.spec.dictionary else {
            continue;
        };
        if dictionaries.contains_key(name) {
            continue;
        }
        let fail = |message: String| RuleError {
            file: rule.file.clone(),
            rule: Some(rule.spec.id.clone()),
            message,
        };
        let beside_rule_file = Path::new(&rule.file)
            .parent()
            .map(|dir| dir.join(name))
            .filter(|path| !name.contains(['/', '\\']) && path.is_file());
        let text = match (crate::embedded::data_file(name), beside_rule_file) {
            (Some(text), _) => text.to_string(),
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|err| fail(format!("cannot read dictionary {}: {err}", path.display())))?,
            (None, None) => {
                return Err(fail(format!(
                    "dictionary {name:?} not found: put the file beside the rule file, or name one of the built-in lists ({})",
                    crate::embedded::DATA_FILES
                        .iter()
                        .map(|(file, _)| *file)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let terms: Vec<String> = data_lines(&text).map(str::to_ascii_lowercase).collect();
        if let Some(term) = terms
            .iter()
            .find(|term| !term.starts_with(|c: char| c.is_ascii_alphanumeric()))
        {
            return Err(fail(format!(
                "dictionary {name:?}: term {term:?} must start with a letter or digit, because terms match from the start of a word"
            )));
        }
        if terms.is_empty() {
            return Err(fail(format!("dictionary {name:?} lists no terms")));
        }
        if terms.len() > MAX_DICTIONARY_TERMS {
            return Err(fail(format!(
                "dictionary {name:?} lists {} terms; the maximum is {MAX_DICTIONARY_TERMS}",
                terms.len()
            )));
        }
        dictionaries.insert(name.clone(), terms);
    }
    Ok(dictionaries)
}

fn compile(
    rules: Vec<Rule>,
    dictionaries: &Dictionaries,
    version: String,
) -> Result<RuleSet, RuleError> {
    let mut compiled = Vec::with_capacity(rules.len());
    for rule in rules {
        compiled.push(compile_rule(rule)?);
    }

    let pattern_rules: Vec<usize> = compiled
        .iter()
        .enumerate()
        .filter(|(_, c)| c.regex.is_some() && c.rule.spec.anchor == Anchor::Pattern)
        .map(|(index, _)| index)
        .collect();
    let patterns: Vec<&str> = pattern_rules
        .iter()
        .map(|&index| compiled[index].rule.spec.pattern.as_str())
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

    let (keywords, keyword_uses, max_keyword_len, keyword_words) =
        compile_keywords(&compiled, dictionaries)?;
    Ok(RuleSet {
        rules: compiled,
        candidates,
        starts,
        pattern_rules,
        keywords,
        keyword_words,
        keyword_uses,
        max_keyword_len,
        data: RuleData::embedded(),
        dictionaries: dictionaries.clone(),
        allowed: HashSet::new(),
        version,
    })
}

fn compile_rule(rule: Rule) -> Result<CompiledRule, RuleError> {
    let fail = |message: String| RuleError {
        file: rule.file.clone(),
        rule: Some(rule.spec.id.clone()),
        message,
    };
    let (regex, value_group) = if rule.spec.dictionary.is_some() {
        (None, None)
    } else {
        let (regex, value_group) = compile_pattern(&rule.spec.pattern).map_err(fail)?;
        (Some(regex), value_group)
    };

    // A header written `=name` matches only a label that is exactly `name`.
    let headers = rule
        .spec
        .headers
        .iter()
        .map(|header| match header.strip_prefix('=') {
            Some(exact) => format!("={}", normalize_label(exact)),
            None => normalize_label(header),
        })
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
    let exclude_labels = rule
        .spec
        .exclude_keywords
        .iter()
        .map(|keyword| normalize_label(keyword))
        .filter(|label| !label.is_empty())
        .collect();
    let has_context_keywords = !rule.spec.anchor_gives_context() && !rule.spec.keywords.is_empty();
    let has_exclude_keywords = !rule.spec.exclude_keywords.is_empty();
    Ok(CompiledRule {
        rule,
        regex,
        value_group,
        headers,
        exclude_labels,
        exclude,
        has_context_keywords,
        has_exclude_keywords,
    })
}

/// Compiles one rule's pattern and checks that its matches are bounded and non-empty.
fn compile_pattern(pattern: &str) -> Result<(meta::Regex, Option<usize>), String> {
    let hir = syntax::parse_with(pattern, &syntax_config())
        .map_err(|err| format!("invalid pattern: {err}"))?;
    match hir.properties().maximum_len() {
        Some(len) if len <= MAX_MATCH_LEN => {}
        Some(len) => {
            return Err(format!(
                "pattern can match up to {len} bytes; the maximum is {MAX_MATCH_LEN}: lower the repetition bounds"
            ));
        }
        None => {
            return Err(format!(
                "pattern has an unbounded repetition (`*`, `+` or `{{n,}}`), so a match could run through a whole file; bound it, for example `\\d{{5,12}}` instead of `\\d+` (at most {MAX_MATCH_LEN} bytes)"
            ));
        }
    }
    if hir.properties().minimum_len() == Some(0) {
        return Err("pattern matches the empty string, so it would match everywhere".into());
    }
    let regex = meta::Regex::builder()
        .syntax(syntax_config())
        .configure(
            meta::Config::new()
                .utf8_empty(false)
                .nfa_size_limit(Some(PATTERN_SIZE_LIMIT)),
        )
        .build(pattern)
        .map_err(|err| format!("invalid pattern: {err}"))?;
    let value_group = regex
        .group_info()
        .to_index(regex_automata::PatternID::ZERO, "value")
        .filter(|_| !value_is_whole_match(&hir));
    Ok((regex, value_group))
}

/// Returns true when the `value` group spans the whole match, as in
/// `\b(?P<value>...)\b`: the value is then found without capture groups,
/// which costs a fraction of a capturing search.
fn value_is_whole_match(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::HirKind;
    let items: &[regex_syntax::hir::Hir] = match hir.kind() {
        HirKind::Concat(items) => items,
        _ => std::slice::from_ref(hir),
    };
    let inner: Vec<&regex_syntax::hir::Hir> = items
        .iter()
        .filter(|item| !matches!(item.kind(), HirKind::Look(_)))
        .collect();
    matches!(inner.as_slice(), [only] if matches!(only.kind(), HirKind::Capture(capture) if capture.name.as_deref() == Some("value")))
}

/// Bits in the keyword word filter: 65,536 bits (8 KB) hold the leading
/// words of about a thousand keywords with few false passes.
const KEYWORD_FILTER_BITS: usize = 1 << 16;
const KEYWORD_FILTER_WORDS: usize = KEYWORD_FILTER_BITS / 64;

/// Adds one more letter or digit of a word to its hash for
/// [`RuleSet::may_begin_keyword`], ignoring ASCII case. Start from 0.
///
/// A rotation and an exclusive or per byte keep the word loop short; the
/// filter mixes the result once per word. Setting bit 0x20 lowercases an
/// ASCII letter and leaves a digit as it is.
#[inline]
pub(crate) fn word_hash(hash: u64, byte: u8) -> u64 {
    hash.rotate_left(5) ^ u64::from(byte | 0x20)
}

/// Returns the two filter bits of a word hash.
#[inline]
fn filter_bits(hash: u64) -> [usize; 2] {
    let mixed = hash.wrapping_mul(0x517c_c1b7_2722_0a95);
    let mask = KEYWORD_FILTER_BITS as u64 - 1;
    [
        ((mixed >> 48) & mask) as usize,
        ((mixed >> 24) & mask) as usize,
    ]
}

type KeywordTables = (
    Option<NFA>,
    Vec<Vec<(u32, KeywordUse)>>,
    usize,
    Box<[u64; KEYWORD_FILTER_WORDS]>,
);

fn compile_keywords(
    rules: &[CompiledRule],
    dictionaries: &Dictionaries,
) -> Result<KeywordTables, RuleError> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut words: Vec<String> = Vec::new();
    let mut uses: Vec<Vec<(u32, KeywordUse)>> = Vec::new();
    let mut add = |word: &str, rule: usize, kind: KeywordUse| {
        let key = word.to_ascii_lowercase();
        let id = *ids.entry(key.clone()).or_insert_with(|| {
            words.push(key);
            uses.push(Vec::new());
            words.len() - 1
        });
        let entry = (rule as u32, kind);
        if !uses[id].contains(&entry) {
            uses[id].push(entry);
        }
    };
    for (index, compiled) in rules.iter().enumerate() {
        let spec = &compiled.rule.spec;
        if spec.anchor != Anchor::Pattern {
            for keyword in spec.anchor_words() {
                add(keyword, index, KeywordUse::Anchor);
            }
        }
        if !spec.anchor_gives_context() {
            for keyword in &spec.keywords {
                add(keyword, index, KeywordUse::Context);
            }
        }
        for keyword in &spec.exclude_keywords {
            add(keyword, index, KeywordUse::Exclude);
        }
        if let Some(name) = &spec.dictionary {
            for term in &dictionaries[name] {
                add(term, index, KeywordUse::Term);
            }
        }
    }
    let mut filter = Box::new([0u64; KEYWORD_FILTER_WORDS]);
    if words.is_empty() {
        return Ok((None, uses, 0, filter));
    }
    for word in &words {
        // Keywords that begin with a space or punctuation never start at a
        // word start, so they need no bits.
        let hash = word
            .bytes()
            .take_while(u8::is_ascii_alphanumeric)
            .fold(0, word_hash);
        if word
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric)
        {
            for bit in filter_bits(hash) {
                filter[bit / 64] |= 1 << (bit % 64);
            }
        }
    }
    let max_len = words.iter().map(String::len).max().unwrap_or(0);
    let automaton = NFA::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::Standard)
        .build(&words)
        .map_err(|err| RuleError {
            file: "(rule set)".into(),
            rule: None,
            message: format!("keywords failed to compile: {err}"),
        })?;
    Ok((Some(automaton), uses, max_len, filter))
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
    if let Some(exact) = header.strip_prefix('=') {
        return label == exact;
    }
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
        assert!(label_contains("name", "=name"));
        assert!(!label_contains("drug name", "=name"));
    }

    #[test]
    fn embedded_rules_compile() {
        let rules = RuleSet::embedded().unwrap();
        assert!(rules.len() >= 6);
        assert!(rules.version().starts_with("sha256:"));
        let again = RuleSet::embedded().unwrap();
        assert_eq!(again.version(), rules.version(), "version is deterministic");
        assert!(rules.find("us.ssn").is_some());
    }

    #[test]
    fn ripgrep_export_prefixes_ascii_mode() {
        let rules = RuleSet::embedded().unwrap();
        let (_, ssn) = rules.find("us.ssn").unwrap();
        let expected = ssn.spec.pattern.replace("(?P<value>", "(?:");
        assert_eq!(rules.ripgrep_pattern(ssn), format!("(?-u){expected}"));
    }

    #[test]
    fn ripgrep_export_puts_keywords_before_anchored_patterns() {
        let rules = RuleSet::embedded().unwrap();
        let (_, mrn) = rules.find("us.mrn.labelled").unwrap();
        let pattern = rules.ripgrep_pattern(mrn);
        assert!(
            pattern.starts_with("(?-u)(?i:\\b(?:mrn|mrn\\#|"),
            "{pattern}"
        );
        let expected = mrn.spec.pattern.replace("(?P<value>", "(?:");
        assert!(pattern.ends_with(&format!("(?-i:{expected})")), "{pattern}");
    }

    #[test]
    fn ripgrep_export_lists_dictionary_terms() {
        let rules = RuleSet::embedded().unwrap();
        let (_, drugs) = rules.find("medication.name").unwrap();
        let pattern = rules.ripgrep_pattern(drugs);
        assert!(pattern.contains("|metformin\\b|"), "{pattern}");
        assert!(pattern.contains("insulin glargine"), "{pattern}");
    }

    #[test]
    fn ripgrep_export_parses_as_one_alternation() {
        let rules = RuleSet::embedded().unwrap();
        let patterns: Vec<String> = rules
            .rules()
            .map(|rule| rules.ripgrep_pattern(rule))
            .collect();
        for (rule, pattern) in rules.rules().zip(&patterns) {
            assert!(
                !pattern.contains("(?:))"),
                "{}: empty keyword list",
                rule.spec.id
            );
        }
        let joined = patterns.join("|");
        let parsed = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(&joined);
        assert!(parsed.is_ok(), "{:?}", parsed.err());
    }

    #[test]
    fn literal_escape_keeps_letters() {
        assert_eq!(escape_literal("mr#"), "mr\\#");
        assert_eq!(escape_literal("s/n"), "s/n");
        assert_eq!(escape_literal("d.o.b"), "d\\.o\\.b");
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
pattern = '\d{0,3}'
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
        assert!(err.message.contains("maximum is 512"), "{err}");
    }

    #[test]
    fn unbounded_pattern_is_rejected() {
        let text = r#"
[[rule]]
id = "user.runaway"
name = "Runaway"
category = "other-id"
description = "Nested unbounded repetition."
pattern = '(\d+)+X'
confidence = 50
examples = ["1X"]
"#;
        let err = RuleSet::from_files(&[("u.toml".into(), text.into())]).unwrap_err();
        assert_eq!(err.file, "u.toml");
        assert_eq!(err.rule.as_deref(), Some("user.runaway"));
        assert!(err.message.contains("unbounded repetition"), "{err}");
    }

    #[test]
    fn ripgrep_export_reads_user_dictionaries() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(
            folder.path().join("procs.txt"),
            "arthroscopy\nbunionectomy\nknee scope (left)\n",
        )
        .unwrap();
        let text = r#"
[[rule]]
id = "practice.procedures"
name = "Procedures"
category = "procedure"
description = "Procedures the practice performs."
dictionary = "procs.txt"
confidence = 60
examples = ["arthroscopy"]
"#;
        std::fs::write(folder.path().join("procs.toml"), text).unwrap();
        let rules = RuleSet::from_dir(folder.path()).unwrap();
        let (_, procedures) = rules.find("practice.procedures").unwrap();
        assert_eq!(
            rules.ripgrep_pattern(procedures),
            "(?-u)(?i)\\b(?:arthroscopy\\b|bunionectomy\\b|knee scope \\(left\\))"
        );
    }

    #[test]
    fn missing_dictionary_is_rejected() {
        let text = r#"
[[rule]]
id = "user.terms"
name = "Terms"
category = "clinical-term"
description = "Terms from a list that does not exist."
dictionary = "no-such-list.txt"
confidence = 50
examples = ["x"]
"#;
        let err = RuleSet::from_files(&[("u.toml".into(), text.into())]).unwrap_err();
        assert_eq!(err.rule.as_deref(), Some("user.terms"));
        assert!(
            err.message
                .contains("dictionary \"no-such-list.txt\" not found"),
            "{err}"
        );
    }
}
