//! Masking values in the text that locators take from an item's content.
//!
//! A column header, a table label, a sheet name or a form field name comes
//! from the file itself. In a sheet without a header row, the first data row
//! gives the headers, so `header` would carry a patient's name into every
//! output. Each such text is matched with the scan's rules, and every value
//! found in it is masked the way a finding's preview is.

use crate::item::MatcherPool;
use phiscan_core::Locator;
use phiscan_detect::{Match, RuleSet, SegmentInput, mask};
use rustc_hash::FxHashMap;
use std::sync::Mutex;

/// Distinct texts kept before the cache is cleared. Sheets usually have
/// tens of headers, so the limit bounds memory more than the hit rate.
const CACHE_LIMIT: usize = 4096;

/// The masked form of each locator text seen, shared by the scan's threads.
#[derive(Default)]
pub(crate) struct LocatorGuard {
    /// `None` when the text contains no value and is kept as it is.
    masked: Mutex<FxHashMap<String, Option<String>>>,
}

impl LocatorGuard {
    /// Masks the values in a locator's content text, in place. A text not
    /// seen before is matched with a matcher from `pool`.
    pub(crate) fn apply(&self, rules: &RuleSet, pool: &MatcherPool, locator: &mut Locator) {
        let texts: [Option<&mut String>; 2] = match locator {
            Locator::Csv {
                header: Some(header),
                ..
            } => [Some(header), None],
            // `comment` marks a cell comment, not a header.
            Locator::Cell { sheet, header, .. } => [
                Some(sheet),
                header.as_mut().filter(|header| *header != "comment"),
            ],
            Locator::Part {
                detail: Some(detail),
                ..
            } => [Some(detail), None],
            Locator::FormField { name, .. } => [Some(name), None],
            _ => return,
        };
        for text in texts.into_iter().flatten() {
            if let Some(masked) = self.masked_text(rules, pool, text) {
                *text = masked;
            }
        }
    }

    /// Returns the text with its values masked, or `None` when it has none.
    fn masked_text(&self, rules: &RuleSet, pool: &MatcherPool, text: &str) -> Option<String> {
        if let Some(known) = self.lock().get(text) {
            return known.clone();
        }
        let mut matcher = pool.take(rules);
        let mut found = Vec::new();
        matcher.find(rules, &SegmentInput::plain(text), &mut found);
        pool.put(matcher);
        let masked = mask_matches(rules, text, &mut found);
        let mut cache = self.lock();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(text.to_string(), masked.clone());
        masked
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<String, Option<String>>> {
        self.masked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Replaces each match in `text` with its masked preview. A match that
/// overlaps an earlier, longer one is already masked and is skipped.
fn mask_matches(rules: &RuleSet, text: &str, found: &mut [Match]) -> Option<String> {
    if found.is_empty() {
        return None;
    }
    found.sort_by_key(|found| (found.start, std::cmp::Reverse(found.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for found in found.iter() {
        if found.start < at {
            continue;
        }
        out.push_str(&text[at..found.start]);
        let category = rules.rule(found.rule).category;
        out.push_str(&mask(category, &text[found.start..found.end]));
        at = found.end;
    }
    out.push_str(&text[at..]);
    Some(out)
}
