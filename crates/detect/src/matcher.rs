//! Two-stage matching: one multi-pattern pass finds candidates for every rule,
//! then validators and context scoring run on the candidates only.

use crate::normalize::Normalized;
use crate::rule::{Anchor, MAX_MATCH_LEN, allow_key};
use crate::ruleset::{
    CompiledRule, KeywordUse, RuleSet, label_contains, normalize_label, word_hash,
};
use aho_corasick::Anchored as AcAnchored;
use aho_corasick::automaton::Automaton;
use phiscan_core::Category;
use regex_automata::meta;
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input, PatternSet};
use rustc_hash::FxHashMap;
use std::ops::Range;
use std::sync::Arc;

/// A byte range of a segment that belongs to a named field, such as a CSV cell
/// under its column header.
#[derive(Clone, Debug)]
pub struct Field<'a> {
    pub range: Range<usize>,
    pub label: &'a str,
}

/// The text handed to the matcher, with its structure.
#[derive(Clone, Debug)]
pub struct SegmentInput<'a> {
    pub text: &'a str,
    /// Field name that applies to the whole text (JSON key, XML element, HL7 field).
    pub label: Option<&'a str>,
    /// Named sub-ranges, sorted by start and not overlapping.
    pub fields: &'a [Field<'a>],
    /// Matches starting outside this byte range are not reported; text around it
    /// only gives context. Lets a caller scan overlapping chunks of a stream.
    pub report: Range<usize>,
}

impl<'a> SegmentInput<'a> {
    /// Plain text with no structure, all of it reported.
    pub fn plain(text: &'a str) -> SegmentInput<'a> {
        SegmentInput {
            text,
            label: None,
            fields: &[],
            report: 0..text.len(),
        }
    }
}

/// A validated, scored match. Offsets are byte offsets into the segment text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Index of the rule in its [`RuleSet`].
    pub rule: usize,
    pub start: usize,
    pub end: usize,
    pub confidence: u8,
    /// Whether a keyword, header or field name gave context.
    pub context: bool,
    /// The value in canonical form, input to the fingerprint.
    pub canonical: String,
}

#[derive(Clone, Copy, Debug)]
struct KeywordHit {
    start: usize,
    end: usize,
    keyword: u32,
}

/// ASCII letters and digits: the bytes keywords are made of.
static WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = (byte as u8).is_ascii_alphanumeric();
        byte += 1;
    }
    table
};

/// Labels seen by one matcher before its label cache is cleared.
const LABEL_CACHE_LIMIT: usize = 4096;

/// Per-thread matching state, built once and reused for every segment.
pub struct Matcher {
    candidates_cache: meta::Cache,
    starts_cache: meta::Cache,
    pattern_set: PatternSet,
    /// One cache and capture buffer per rule, for anchored searches.
    rule_caches: Vec<Option<(meta::Cache, Captures)>>,
    /// Word-bounded keyword hits of the current segment, sorted by start.
    hits: Vec<KeywordHit>,
    /// For each rule, the spans of its context keywords in the current
    /// segment, sorted by start; then the same for its exclude keywords.
    context_spans: Vec<Vec<(usize, usize)>>,
    exclude_spans: Vec<Vec<(usize, usize)>>,
    /// Rules whose span lists are filled for the current segment, to clear them cheaply.
    touched_rules: Vec<u32>,
    /// For each label seen, the rules it gives context to.
    label_rules: FxHashMap<String, Arc<[u32]>>,
    /// For each label seen, the rules whose exclude keywords it contains.
    label_exclusions: FxHashMap<String, Arc<[u32]>>,
    raw: Vec<Match>,
    /// Rules matching at the current candidate start, reused between candidates.
    matched_rules: Vec<usize>,
}

/// Returns the rules that `keep` selects for a label, given the label in
/// normalized form, from `cache` or computed and cached.
fn rules_of_label(
    cache: &mut FxHashMap<String, Arc<[u32]>>,
    rules: &RuleSet,
    label: &str,
    keep: impl Fn(&CompiledRule, &str) -> bool,
) -> Arc<[u32]> {
    if let Some(selected) = cache.get(label) {
        return selected.clone();
    }
    let normalized = normalize_label(label);
    let selected: Arc<[u32]> = rules
        .rules
        .iter()
        .enumerate()
        .filter(|(_, compiled)| keep(compiled, &normalized))
        .map(|(index, _)| index as u32)
        .collect::<Vec<u32>>()
        .into();
    if cache.len() >= LABEL_CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(label.to_string(), selected.clone());
    selected
}

/// Why a candidate is being checked, which decides whether it has context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Found by the shared candidate pass or a dictionary term.
    Scan,
    /// Found right after one of the rule's keywords or under one of its headers.
    Anchored,
}

impl Matcher {
    /// Creates matching state for a rule set.
    pub fn new(rules: &RuleSet) -> Matcher {
        Matcher {
            candidates_cache: rules.candidates.create_cache(),
            starts_cache: rules.starts.create_cache(),
            pattern_set: PatternSet::new(rules.starts.pattern_len()),
            rule_caches: rules
                .rules
                .iter()
                .map(|compiled| {
                    compiled
                        .regex
                        .as_ref()
                        .map(|regex| (regex.create_cache(), regex.create_captures()))
                })
                .collect(),
            hits: Vec::new(),
            context_spans: vec![Vec::new(); rules.rules.len()],
            exclude_spans: vec![Vec::new(); rules.rules.len()],
            touched_rules: Vec::new(),
            label_rules: FxHashMap::default(),
            label_exclusions: FxHashMap::default(),
            raw: Vec::new(),
            matched_rules: Vec::new(),
        }
    }

    /// Finds every match in a segment and appends them to `out`, sorted by start.
    ///
    /// Offsets refer to `input.text` as given, before normalization.
    pub fn find(&mut self, rules: &RuleSet, input: &SegmentInput<'_>, out: &mut Vec<Match>) {
        let normalized = Normalized::new(input.text);
        self.raw.clear();
        self.collect_keyword_hits(rules, normalized.text());

        let segment_label_rules = input.label.map(|label| self.rules_for_label(rules, label));
        self.scan_candidates(rules, input, &normalized, &segment_label_rules);
        self.scan_keyword_hits(rules, input, &normalized, &segment_label_rules);
        self.scan_labelled_values(rules, input, &normalized, &segment_label_rules);

        resolve_overlaps(rules, &mut self.raw);
        out.append(&mut self.raw);
    }

    /// Walks the keyword automaton from every word start of the segment.
    ///
    /// Hits come out sorted by start, then end, and every hit is a whole
    /// word or phrase: an unanchored search would also report `on` inside
    /// `condition`, and most of its time would go to such hits.
    fn collect_keyword_hits(&mut self, rules: &RuleSet, text: &str) {
        self.hits.clear();
        for &rule in &self.touched_rules {
            self.context_spans[rule as usize].clear();
            self.exclude_spans[rule as usize].clear();
        }
        self.touched_rules.clear();
        let Some(automaton) = &rules.keywords else {
            return;
        };
        let Ok(start_state) = automaton.start_state(AcAnchored::Yes) else {
            return;
        };
        let bytes = text.as_bytes();
        let mut position = 0;
        while position < bytes.len() {
            // Skip to the next word start, then past the word, hashing it.
            position += bytes[position..]
                .iter()
                .position(|&byte| WORD_BYTES[usize::from(byte)])
                .unwrap_or(bytes.len() - position);
            let start = position;
            let mut hash = 0;
            while let Some(&byte) = bytes.get(position)
                && WORD_BYTES[usize::from(byte)]
            {
                hash = word_hash(hash, byte);
                position += 1;
            }
            if start == bytes.len() {
                break;
            }
            // Most words begin no keyword, and the filter rejects nearly all of them.
            if !rules.may_begin_keyword(hash) {
                continue;
            }
            let mut state = start_state;
            let end_limit = bytes.len().min(start + rules.max_keyword_len);
            for end in start..end_limit {
                state = automaton.next_state(AcAnchored::Yes, state, bytes[end]);
                if automaton.is_dead(state) {
                    break;
                }
                if !automaton.is_match(state) || !is_word_bounded(bytes, start, end + 1) {
                    continue;
                }
                for index in 0..automaton.match_len(state) {
                    let keyword = automaton.match_pattern(state, index);
                    // Match states also list keywords that are suffixes of
                    // the walked text; only those starting here count.
                    if automaton.pattern_len(keyword) == end + 1 - start {
                        self.hits.push(KeywordHit {
                            start,
                            end: end + 1,
                            keyword: keyword.as_u32(),
                        });
                        self.index_keyword(rules, start, end + 1, keyword.as_usize());
                    }
                }
            }
        }
    }

    /// Files a keyword hit under each rule it gives context to or excludes for.
    fn index_keyword(&mut self, rules: &RuleSet, start: usize, end: usize, keyword: usize) {
        for &(rule, kind) in &rules.keyword_uses[keyword] {
            let spans = match kind {
                KeywordUse::Context => &mut self.context_spans[rule as usize],
                KeywordUse::Exclude => &mut self.exclude_spans[rule as usize],
                KeywordUse::Anchor | KeywordUse::Term => continue,
            };
            if spans.is_empty() {
                self.touched_rules.push(rule);
            }
            spans.push((start, end));
        }
    }

    /// Runs the shared candidate pass: every pattern rule, in one automaton.
    fn scan_candidates(
        &mut self,
        rules: &RuleSet,
        input: &SegmentInput<'_>,
        normalized: &Normalized<'_>,
        segment_label_rules: &Option<Arc<[u32]>>,
    ) {
        if rules.pattern_rules.is_empty() {
            return;
        }
        let text = normalized.text();
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let search = Input::new(bytes).range(at..);
            let Some(candidate) = rules
                .candidates
                .search_with(&mut self.candidates_cache, &search)
            else {
                break;
            };
            let start = candidate.start();
            self.pattern_set.clear();
            let anchored = Input::new(bytes)
                .range(start..bytes.len().min(start + MAX_MATCH_LEN))
                .anchored(Anchored::Yes);
            rules.starts.which_overlapping_matches_with(
                &mut self.starts_cache,
                &anchored,
                &mut self.pattern_set,
            );
            let mut matched = std::mem::take(&mut self.matched_rules);
            matched.clear();
            matched.extend(
                self.pattern_set
                    .iter()
                    .map(|pattern| rules.pattern_rules[pattern.as_usize()]),
            );
            let winner = rules.pattern_rules[candidate.pattern().as_usize()];
            for &rule_index in &matched {
                // The leftmost-first search already found the winning rule's
                // whole match; only a value group needs a second search.
                if rule_index == winner && rules.rules[rule_index].value_group.is_none() {
                    self.check_value(
                        rules,
                        input,
                        normalized,
                        candidate.range(),
                        rule_index,
                        Origin::Scan,
                        segment_label_rules,
                    );
                    continue;
                }
                self.check_pattern_at(
                    rules,
                    input,
                    normalized,
                    start,
                    rule_index,
                    Origin::Scan,
                    segment_label_rules,
                );
            }
            self.matched_rules = matched;
            at = next_char_boundary(text, start);
        }
    }

    /// Tries keyword-anchored rules where their keywords end, and checks
    /// dictionary terms.
    fn scan_keyword_hits(
        &mut self,
        rules: &RuleSet,
        input: &SegmentInput<'_>,
        normalized: &Normalized<'_>,
        segment_label_rules: &Option<Arc<[u32]>>,
    ) {
        for index in 0..self.hits.len() {
            let hit = self.hits[index];
            for &(rule_index, kind) in &rules.keyword_uses[hit.keyword as usize] {
                let rule_index = rule_index as usize;
                match kind {
                    KeywordUse::Anchor => {
                        let start = match rules.rules[rule_index].rule.spec.anchor {
                            Anchor::KeywordStart => hit.start,
                            _ => hit.end,
                        };
                        self.check_pattern_at(
                            rules,
                            input,
                            normalized,
                            start,
                            rule_index,
                            Origin::Anchored,
                            segment_label_rules,
                        )
                    }
                    KeywordUse::Term => self.check_value(
                        rules,
                        input,
                        normalized,
                        hit.start..hit.end,
                        rule_index,
                        Origin::Scan,
                        segment_label_rules,
                    ),
                    KeywordUse::Context | KeywordUse::Exclude => {}
                }
            }
        }
    }

    /// Tries keyword-anchored rules at the start of values whose field name
    /// or segment label matches one of their headers.
    fn scan_labelled_values(
        &mut self,
        rules: &RuleSet,
        input: &SegmentInput<'_>,
        normalized: &Normalized<'_>,
        segment_label_rules: &Option<Arc<[u32]>>,
    ) {
        let text = normalized.text();
        let mut anchors: Vec<(usize, Arc<[u32]>)> = Vec::new();
        if let Some(marked) = segment_label_rules {
            anchors.push((0, marked.clone()));
        }
        for field in input.fields {
            let marked = self.rules_for_label(rules, field.label);
            if !marked.is_empty() {
                anchors.push((normalized.to_normalized(field.range.start), marked));
            }
        }
        for (start, marked) in anchors {
            let start = skip_spaces(text, start);
            for &rule_index in marked.iter() {
                let rule_index = rule_index as usize;
                if rules.rules[rule_index].rule.spec.anchor == Anchor::Keyword {
                    self.check_pattern_at(
                        rules,
                        input,
                        normalized,
                        start,
                        rule_index,
                        Origin::Anchored,
                        segment_label_rules,
                    );
                }
            }
        }
    }

    /// Runs one rule's pattern anchored at `start` and checks the value it captures.
    #[allow(clippy::too_many_arguments)]
    fn check_pattern_at(
        &mut self,
        rules: &RuleSet,
        input: &SegmentInput<'_>,
        normalized: &Normalized<'_>,
        start: usize,
        rule_index: usize,
        origin: Origin,
        segment_label_rules: &Option<Arc<[u32]>>,
    ) {
        let compiled = &rules.rules[rule_index];
        let (Some(regex), Some((cache, captures))) =
            (&compiled.regex, self.rule_caches[rule_index].as_mut())
        else {
            return;
        };
        let bytes = normalized.text().as_bytes();
        if start >= bytes.len() {
            return;
        }
        let anchored = Input::new(bytes)
            .range(start..bytes.len().min(start + MAX_MATCH_LEN))
            .anchored(Anchored::Yes);
        let value = match compiled.value_group {
            // Without a value group the whole match is the value, and the
            // DFA alone finds it.
            None => match regex.search_with(cache, &anchored) {
                Some(found) => found.span(),
                None => return,
            },
            Some(group) => {
                regex.search_captures_with(cache, &anchored, captures);
                match captures.get_group(group) {
                    Some(value) => value,
                    None => return,
                }
            }
        };
        self.check_value(
            rules,
            input,
            normalized,
            value.start..value.end,
            rule_index,
            origin,
            segment_label_rules,
        );
    }

    /// Validates a candidate value, scores its context and records the match.
    #[allow(clippy::too_many_arguments)]
    fn check_value(
        &mut self,
        rules: &RuleSet,
        input: &SegmentInput<'_>,
        normalized: &Normalized<'_>,
        value: Range<usize>,
        rule_index: usize,
        origin: Origin,
        segment_label_rules: &Option<Arc<[u32]>>,
    ) {
        let compiled = &rules.rules[rule_index];
        let text = normalized.text();
        let (value_start, value_end) = (value.start, value.end);
        // A pattern may match across a code point in ASCII mode; only whole
        // characters are reported.
        if value_end <= value_start
            || !text.is_char_boundary(value_start)
            || !text.is_char_boundary(value_end)
        {
            return;
        }
        let original_start = normalized.to_original(value_start);
        let original_end = normalized.to_original(value_end);
        if !input.report.contains(&original_start) || original_end <= original_start {
            return;
        }

        // Context comes before validation: a rule that requires context
        // rejects most candidates here, before its validator runs. Shrinking
        // the value below can only narrow the keyword window, never widen it.
        let field_label = field_at(input.fields, original_start).map(|field| field.label);
        let field_context = match field_label {
            Some(label) => self
                .rules_for_label(rules, label)
                .contains(&(rule_index as u32)),
            None => false,
        };
        let label_context = segment_label_rules
            .as_ref()
            .is_some_and(|marked| marked.contains(&(rule_index as u32)));
        let context = origin == Origin::Anchored && compiled.rule.spec.anchor_gives_context()
            || field_context
            || label_context
            || compiled.has_context_keywords
                && self.keyword_near(
                    rules,
                    text,
                    rule_index,
                    value_start,
                    value_end,
                    KeywordUse::Context,
                );
        if compiled.rule.spec.requires_context && !context {
            return;
        }

        let mut value_end = value_end;
        let canonical = loop {
            let value_text = &text[value_start..value_end];
            let Some(validator) = compiled.rule.validator else {
                break default_canonical(value_text);
            };
            if let Some(canonical) = validator.check(value_text, &rules.data) {
                break canonical;
            }
            // A keyword-anchored pattern takes as many words as it can, so
            // `Patient: John Smith Referral` captures one word too many; try
            // the value without its last words before giving up.
            match value_text.rfind(' ') {
                // Shrink only to two words or more: a lone first word of a
                // rejected phrase (`Valued` of `Valued Patient`) is no name.
                Some(space) if origin == Origin::Anchored && value_text[..space].contains(' ') => {
                    value_end = value_start + value_text[..space].trim_end().len();
                }
                _ => return,
            }
        };
        let original_end = normalized.to_original(value_end);
        let value_text = &text[value_start..value_end];
        if !rules.allowed.is_empty()
            && (rules.allowed.contains(&allow_key(value_text))
                || rules.allowed.contains(&allow_key(&canonical)))
        {
            return;
        }
        if !compiled.exclude.is_empty()
            && (compiled.exclude.contains(&canonical)
                || compiled.exclude.contains(&value_text.to_ascii_lowercase()))
        {
            return;
        }
        if compiled.has_exclude_keywords
            && self.keyword_near(
                rules,
                text,
                rule_index,
                value_start,
                value_end,
                KeywordUse::Exclude,
            )
        {
            return;
        }
        // A column header or field name such as `Part #` or `Item #` excludes
        // the value as a keyword beside it would, unless it also names the
        // rule's own kind.
        if compiled.has_exclude_keywords
            && !field_context
            && !label_context
            && let Some(label) = field_label.or(input.label)
            && self
                .rules_excluded_by_label(rules, label)
                .contains(&(rule_index as u32))
        {
            return;
        }

        let confidence = if context {
            compiled.rule.context_confidence()
        } else {
            compiled.rule.spec.confidence
        };
        self.raw.push(Match {
            rule: rule_index,
            start: original_start,
            end: original_end,
            confidence,
            context,
            canonical,
        });
    }

    /// Returns the rules a column header or field name gives context to.
    fn rules_for_label(&mut self, rules: &RuleSet, label: &str) -> Arc<[u32]> {
        rules_of_label(
            &mut self.label_rules,
            rules,
            label,
            |compiled, normalized| {
                compiled
                    .headers
                    .iter()
                    .any(|header| label_contains(normalized, header))
                    || compiled.rule.spec.anchor == Anchor::Pattern
                        && compiled.rule.spec.keywords.iter().any(|keyword| {
                            // A keyword like `patient #` loses its `#` when
                            // normalized and would claim every `Patient ...` header.
                            let as_label = normalize_label(keyword);
                            as_label == keyword.to_ascii_lowercase()
                                && label_contains(normalized, &as_label)
                        })
            },
        )
    }

    /// Returns the rules whose exclude keywords a column header or field
    /// name contains as whole words.
    fn rules_excluded_by_label(&mut self, rules: &RuleSet, label: &str) -> Arc<[u32]> {
        rules_of_label(
            &mut self.label_exclusions,
            rules,
            label,
            |compiled, normalized| {
                compiled
                    .exclude_labels
                    .iter()
                    .any(|keyword| label_contains(normalized, keyword))
            },
        )
    }

    /// Returns true when a keyword of the given use for the rule lies within
    /// the rule's window around the value.
    fn keyword_near(
        &self,
        rules: &RuleSet,
        text: &str,
        rule_index: usize,
        start: usize,
        end: usize,
        wanted: KeywordUse,
    ) -> bool {
        let spans = match wanted {
            KeywordUse::Exclude => &self.exclude_spans[rule_index],
            _ => &self.context_spans[rule_index],
        };
        if spans.is_empty() {
            return false;
        }
        let window = rules.rules[rule_index].rule.spec.window;
        let low = chars_back(text, start, window.before);
        // Exclude keywords name what precedes a value (`Lot 234-56-7890`);
        // a word after it belongs to the next line as often as not.
        let high = match wanted {
            KeywordUse::Exclude => start,
            _ => chars_forward(text, end, window.after),
        };
        // Spans are sorted by start and no longer than the longest keyword.
        let first =
            spans.partition_point(|&(hit_start, _)| hit_start + rules.max_keyword_len < low);
        spans[first..]
            .iter()
            .take_while(|&&(hit_start, _)| hit_start < high)
            .any(|&(_, hit_end)| hit_end > low)
    }
}

fn skip_spaces(text: &str, mut offset: usize) -> usize {
    let bytes = text.as_bytes();
    while offset < bytes.len() && bytes[offset].is_ascii_whitespace() {
        offset += 1;
    }
    offset
}

/// Canonical form for rules without a validator: lowercase, with runs of
/// whitespace folded into one space.
fn default_canonical(value: &str) -> String {
    let mut canonical = String::with_capacity(value.len());
    for word in value.split_whitespace() {
        if !canonical.is_empty() {
            canonical.push(' ');
        }
        canonical.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    }
    canonical
}

fn field_at<'a, 'b>(fields: &'b [Field<'a>], offset: usize) -> Option<&'b Field<'a>> {
    let index = fields.partition_point(|field| field.range.start <= offset);
    let field = fields.get(index.checked_sub(1)?)?;
    field.range.contains(&offset).then_some(field)
}

fn is_word_bounded(bytes: &[u8], start: usize, end: usize) -> bool {
    let inner_first = bytes[start];
    let inner_last = bytes[end - 1];
    let before_ok = !inner_first.is_ascii_alphanumeric()
        || start == 0
        || !bytes[start - 1].is_ascii_alphanumeric();
    let after_ok = !inner_last.is_ascii_alphanumeric()
        || end == bytes.len()
        || !bytes[end].is_ascii_alphanumeric();
    before_ok && after_ok
}

fn next_char_boundary(text: &str, offset: usize) -> usize {
    let mut next = offset + 1;
    while next < text.len() && !text.is_char_boundary(next) {
        next += 1;
    }
    next
}

fn chars_back(text: &str, offset: usize, count: usize) -> usize {
    // In ASCII text a character is a byte.
    let low = offset.saturating_sub(count);
    if text
        .as_bytes()
        .get(low..offset)
        .is_some_and(<[u8]>::is_ascii)
    {
        return low;
    }
    let mut position = offset;
    for _ in 0..count {
        if position == 0 {
            break;
        }
        position -= 1;
        while !text.is_char_boundary(position) {
            position -= 1;
        }
    }
    position
}

fn chars_forward(text: &str, offset: usize, count: usize) -> usize {
    // In ASCII text a character is a byte.
    let high = offset.saturating_add(count).min(text.len());
    if text
        .as_bytes()
        .get(offset..high)
        .is_some_and(<[u8]>::is_ascii)
    {
        return high;
    }
    let mut position = offset;
    for _ in 0..count {
        if position >= text.len() {
            break;
        }
        position = next_char_boundary(text, position);
    }
    position.min(text.len())
}

/// Orders matches by start and removes duplicates. Of matches with the same
/// span, the most confident is kept. A match nested in another is dropped
/// when both have one category, when both are health signals (`HIV` inside
/// `HIV antibody negative`), or when a name lies inside an address.
fn resolve_overlaps(rules: &RuleSet, matches: &mut Vec<Match>) {
    if matches.len() < 2 {
        return;
    }
    matches.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(b.confidence.cmp(&a.confidence))
            .then(a.rule.cmp(&b.rule))
    });
    matches.dedup_by(|later, earlier| later.start == earlier.start && later.end == earlier.end);

    let mut kept: Vec<Match> = Vec::with_capacity(matches.len());
    for candidate in matches.drain(..) {
        let category = rules.rules[candidate.rule].rule.category;
        let nested = kept.iter().rev().take(8).any(|outer| {
            let outer_category = rules.rules[outer.rule].rule.category;
            outer.start <= candidate.start
                && candidate.end <= outer.end
                && (outer_category == category
                    || outer_category.is_health() && category.is_health()
                    // Street names are often first or last names: `12 Latoya Camp`.
                    || outer_category == Category::Address && category == Category::Name)
        });
        if !nested {
            kept.push(candidate);
        }
    }
    *matches = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        RuleSet::embedded().unwrap()
    }

    fn find(rules: &RuleSet, input: &SegmentInput<'_>) -> Vec<(String, String)> {
        let mut matcher = Matcher::new(rules);
        let mut out = Vec::new();
        matcher.find(rules, input, &mut out);
        out.iter()
            .map(|m| {
                (
                    rules.rule(m.rule).spec.id.clone(),
                    input.text[m.start..m.end].to_string(),
                )
            })
            .collect()
    }

    fn ids(found: &[(String, String)]) -> Vec<&str> {
        found.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn dashed_ssn_found() {
        let rules = rules();
        let found = find(&rules, &SegmentInput::plain("SSN: 234-56-7890."));
        assert_eq!(
            found,
            vec![("us.ssn".to_string(), "234-56-7890".to_string())]
        );
    }

    #[test]
    fn specimen_ssn_rejected() {
        let rules = rules();
        let found = find(&rules, &SegmentInput::plain("SSN: 078-05-1120"));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn plain_ssn_needs_context() {
        let rules = rules();
        assert!(find(&rules, &SegmentInput::plain("order 234567890 shipped")).is_empty());
        let found = find(
            &rules,
            &SegmentInput::plain("social security number 234567890"),
        );
        assert_eq!(ids(&found), vec!["us.ssn.plain"]);
    }

    #[test]
    fn field_label_gives_context() {
        let rules = rules();
        let text = "234567890";
        let fields = [Field {
            range: 0..9,
            label: "Patient SSN",
        }];
        let input = SegmentInput {
            text,
            label: None,
            fields: &fields,
            report: 0..text.len(),
        };
        assert_eq!(ids(&find(&rules, &input)), vec!["us.ssn.plain"]);
    }

    #[test]
    fn en_dashes_are_normalized_and_mapped() {
        let rules = rules();
        let text = "SSN 234\u{2013}56\u{2013}7890";
        let found = find(&rules, &SegmentInput::plain(text));
        assert_eq!(
            found,
            vec![(
                "us.ssn".to_string(),
                "234\u{2013}56\u{2013}7890".to_string()
            )]
        );
    }

    #[test]
    fn report_range_filters_overlap() {
        let rules = rules();
        let text = "SSN 234-56-7890 and 345-67-8901";
        let input = SegmentInput {
            report: 10..text.len(),
            ..SegmentInput::plain(text)
        };
        let found = find(&rules, &input);
        assert_eq!(
            found,
            vec![("us.ssn".to_string(), "345-67-8901".to_string())]
        );
    }

    #[test]
    fn overlapping_rules_both_report() {
        let rules = rules();
        // The date and the MRN overlap nothing, but each starts where the
        // previous candidate ended: both must be found.
        let found = find(&rules, &SegmentInput::plain("MRN: 4471029 DOB 03/14/1984"));
        let found_ids = ids(&found);
        assert!(found_ids.contains(&"us.mrn.labelled"), "{found:?}");
        assert!(
            found_ids.iter().any(|id| id.starts_with("date")),
            "{found:?}"
        );
    }

    #[test]
    fn pathological_text_completes() {
        let rules = rules();
        let digits = "7".repeat(1 << 20);
        assert!(find(&rules, &SegmentInput::plain(&digits)).is_empty());
        let separators = "-/ ".repeat(300_000);
        assert!(find(&rules, &SegmentInput::plain(&separators)).is_empty());
    }

    #[test]
    fn megabyte_lines_complete() {
        let rules = rules();
        // Every position starts a name, email, date or keyword candidate.
        let cases = [
            "Maria Lopez ".repeat(90_000),
            "a@b.".repeat(250_000),
            "1-1-".repeat(250_000),
            "Patient: ".repeat(110_000),
            "12/12/".repeat(170_000),
            "Dr. ".repeat(250_000),
        ];
        for text in &cases {
            let started = std::time::Instant::now();
            let found = find(&rules, &SegmentInput::plain(text));
            // A generous bound for a debug build on a loaded machine: the
            // point is linear time, which finishes in well under a second
            // per megabyte in release builds.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{} bytes of {:?}... took {:?}",
                text.len(),
                &text[..12],
                started.elapsed()
            );
            drop(found);
        }
    }

    #[test]
    fn random_text_keeps_offsets_valid() {
        let rules = rules();
        let alphabet: Vec<char> =
            "0123456789 -/.,:#()@\n\tAaBbCcDdEeMmPpRrSsTtZz\u{2013}\u{00A0}\u{200B}\u{FF11}éÉŁñ"
                .chars()
                .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut matcher = Matcher::new(&rules);
        for _ in 0..400 {
            let text: String = (0..300)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    alphabet[(state >> 33) as usize % alphabet.len()]
                })
                .collect();
            let mut found = Vec::new();
            matcher.find(&rules, &SegmentInput::plain(&text), &mut found);
            for m in &found {
                assert!(m.start < m.end && m.end <= text.len());
                assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            }
        }
    }

    #[test]
    fn keyword_must_be_whole_word() {
        let rules = rules();
        // "assn" contains "ssn" but is not the keyword.
        assert!(find(&rules, &SegmentInput::plain("assn 234567890")).is_empty());
    }

    /// The ASCII shortcut of the context window gives the same offsets as
    /// counting characters one by one.
    #[test]
    fn context_window_counts_characters() {
        let by_chars_back = |text: &str, offset: usize, count: usize| {
            text[..offset]
                .char_indices()
                .rev()
                .take(count)
                .last()
                .map_or(offset, |(at, _)| at)
        };
        let by_chars_forward = |text: &str, offset: usize, count: usize| {
            text[offset..]
                .char_indices()
                .nth(count)
                .map_or(text.len(), |(at, _)| offset + at)
        };
        for text in [
            "MRN 1234 Patient: Ana",
            "Dx — Müller, José 1°",
            "",
            "ééé abc",
        ] {
            for offset in (0..=text.len()).filter(|&at| text.is_char_boundary(at)) {
                for count in [0, 1, 2, 5, 40] {
                    assert_eq!(
                        chars_back(text, offset, count),
                        by_chars_back(text, offset, count),
                        "back {count} from {offset} in {text:?}"
                    );
                    assert_eq!(
                        chars_forward(text, offset, count),
                        by_chars_forward(text, offset, count),
                        "forward {count} from {offset} in {text:?}"
                    );
                }
            }
        }
    }

    /// The word filter must never hide a keyword: every rule keyword is found
    /// at a word start in lower, upper and title case, with punctuation
    /// around it, and a word only beginning with a keyword is not.
    #[test]
    fn word_filter_keeps_every_keyword() {
        let rules = rules();
        let mut matcher = Matcher::new(&rules);
        let mut checked = 0;
        for compiled in &rules.rules {
            let spec = &compiled.rule.spec;
            let words = spec
                .keywords
                .iter()
                .chain(&spec.exclude_keywords)
                .chain(spec.anchor_words());
            for keyword in words {
                if !keyword.as_bytes()[0].is_ascii_alphanumeric() {
                    continue;
                }
                let title = keyword[..1].to_ascii_uppercase() + &keyword[1..];
                for form in [
                    keyword.to_ascii_lowercase(),
                    keyword.to_ascii_uppercase(),
                    title,
                ] {
                    let text = format!("(x) {form}; y");
                    matcher.collect_keyword_hits(&rules, &text);
                    let span = (4, 4 + form.len());
                    assert!(
                        matcher.hits.iter().any(|hit| (hit.start, hit.end) == span),
                        "keyword {form:?} of rule {} not found",
                        spec.id
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 300, "only {checked} keywords checked");
        matcher.collect_keyword_hits(&rules, "ssnx patientsx");
        assert!(matcher.hits.is_empty(), "partial words are not keywords");
    }
}
