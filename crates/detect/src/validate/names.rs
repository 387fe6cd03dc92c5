//! Validators for person names: the shape of a written name, and lookups in
//! the bundled first-name and surname lists.

use crate::data::RuleData;

/// Splits a name into its words, in first-to-last order: `Smith, Jane A.`
/// becomes `Jane`, `A.`, `Smith`.
fn name_words(value: &str) -> Vec<&str> {
    match value.split_once(',') {
        Some((last, rest)) if !rest.trim().is_empty() => {
            let mut words = split_words(rest);
            words.extend(split_words(last));
            words
        }
        _ => split_words(value),
    }
}

fn split_words(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .map(|word| word.trim_end_matches(','))
        .filter(|word| !word.is_empty())
        .collect()
}

/// Returns true for a word written like part of a name: a capital letter,
/// then letters with at most inner apostrophes and hyphens (`O'Neil`,
/// `Lopez-Garcia`), or an initial (`J.`).
fn is_name_word(word: &str) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !first.is_uppercase() {
        return false;
    }
    let rest = chars.as_str();
    if rest.is_empty() || rest == "." {
        return true;
    }
    let letters_only = rest
        .chars()
        .all(|c| c.is_alphabetic() || c == '\'' || c == '-');
    let ends_with_letter = rest.chars().last().is_some_and(char::is_alphabetic);
    let all_caps = rest.chars().all(|c| !c.is_lowercase());
    let has_lower = rest.chars().any(char::is_lowercase);
    // `McDonald` and `DeLuca` mix cases; `SMITH` is all capitals. Words like
    // `PhD` or `iPhone` are not names.
    letters_only && ends_with_letter && (all_caps || has_lower)
}

/// Returns true for an initial: one capital letter, with or without a period.
fn is_initial(word: &str) -> bool {
    let letters = word.strip_suffix('.').unwrap_or(word);
    letters.chars().count() == 1 && letters.chars().all(char::is_uppercase)
}

fn canonical(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| word.trim_end_matches('.').to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn person_name(value: &str, data: &RuleData) -> Option<String> {
    let words = name_words(value);
    // Five words fit a given name and a family name of two or three words
    // each: `Ana Sofia De La Cruz`.
    if words.is_empty() || words.len() > 5 || !words.iter().all(|word| is_name_word(word)) {
        return None;
    }
    if words.iter().all(|word| is_initial(word)) {
        return None;
    }
    if words.iter().any(|word| data.is_name_stopword(word)) {
        return None;
    }
    Some(canonical(&words))
}

pub(super) fn full_name(value: &str, data: &RuleData) -> Option<String> {
    let words = name_words(value);
    if words.len() < 2 || words.len() > 4 {
        return None;
    }
    let first = words[0];
    let last = words[words.len() - 1];
    let middle_ok = words[1..words.len() - 1]
        .iter()
        .all(|word| is_initial(word) || data.is_first_name(word) || data.is_surname(word));
    let valid = data.is_first_name(first)
        && data.is_surname(last)
        && middle_ok
        && !words.iter().any(|word| data.is_name_stopword(word));
    valid.then(|| canonical(&words))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_words_reorder_last_first() {
        assert_eq!(name_words("Smith, Jane A."), vec!["Jane", "A.", "Smith"]);
        assert_eq!(name_words("Jane Smith"), vec!["Jane", "Smith"]);
    }

    #[test]
    fn person_name_shapes() {
        let data = RuleData::embedded();
        assert_eq!(
            person_name("Maria Lopez-Garcia", &data).as_deref(),
            Some("maria lopez-garcia")
        );
        assert_eq!(
            person_name("O'Neil, Sean", &data).as_deref(),
            Some("sean o'neil")
        );
        assert_eq!(
            person_name("JOHNSON, ROBERT", &data).as_deref(),
            Some("robert johnson")
        );
        assert_eq!(
            person_name("José Müller", &data).as_deref(),
            Some("josé müller")
        );
        assert_eq!(person_name("J. K.", &data), None, "initials only");
        assert_eq!(
            person_name("Li", &data).as_deref(),
            Some("li"),
            "two-letter surname"
        );
        assert_eq!(person_name("Patient Portal", &data), None, "stopword");
        assert_eq!(person_name("iPhone", &data), None);
    }

    #[test]
    fn full_name_needs_both_lists() {
        let data = RuleData::embedded();
        assert_eq!(
            full_name("Jane Q. Smith", &data).as_deref(),
            Some("jane q smith")
        );
        assert_eq!(
            full_name("Robert Johnson", &data).as_deref(),
            Some("robert johnson")
        );
        assert_eq!(full_name("Blood Pressure", &data), None);
        assert_eq!(full_name("Jane", &data), None);
        assert_eq!(full_name("Emergency Department", &data), None);
    }
}
