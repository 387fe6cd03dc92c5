//! Record linking and classification of real matcher output: the path the
//! engine takes from a segment's text to an item's class and people count.

use phiscan_core::{Category, Class};
use phiscan_detect::{
    Field, Fingerprinter, ItemClassifier, LinkInput, Matcher, RecordScope, RuleSet, SegmentInput,
    counts_person,
};

const KEY: [u8; 32] = [9; 32];

/// Matches one segment and returns its findings as classifier input.
fn links(rules: &RuleSet, text: &str) -> Vec<LinkInput> {
    let fingerprinter = Fingerprinter::new(&KEY);
    let mut matcher = Matcher::new(rules);
    let mut found = Vec::new();
    matcher.find(rules, &SegmentInput::plain(text), &mut found);
    found
        .iter()
        .map(|m| {
            let rule = rules.rule(m.rule);
            LinkInput {
                category: rule.category,
                role: rule.role,
                start: m.start,
                end: m.end,
                fingerprint: fingerprinter.fingerprint(rule.category, &m.canonical),
                counts_person: counts_person(rule.category, &m.canonical),
            }
        })
        .collect()
}

fn classify(rules: &RuleSet, segments: &[(RecordScope, &str)]) -> phiscan_detect::Verdict {
    let mut classifier = ItemClassifier::new();
    for (scope, text) in segments {
        classifier.add_segment(*scope, &links(rules, text));
    }
    classifier.finish()
}

#[test]
fn note_with_patient_and_diagnosis_is_phi() {
    let rules = RuleSet::embedded().unwrap();
    let note = "Patient: Maria Lopez   DOB: 03/14/1958   MRN: 00482913\n\
                Assessment: type 2 diabetes (E11.9), continue metformin 500 mg.";
    let verdict = classify(&rules, &[(RecordScope::Window, note)]);
    assert_eq!(verdict.class, Class::Phi);
    assert!(verdict.categories.contains(&Category::Name));
    assert!(verdict.categories.contains(&Category::Diagnosis));
    assert_eq!(verdict.individuals.low, 1);
}

#[test]
fn clinician_names_do_not_make_phi() {
    let rules = RuleSet::embedded().unwrap();
    let text = "Clinic protocol reviewed by Dr. Anita Patel and Robert Lee, NP.\n\
                Screen adults for type 2 diabetes (E11.9) every three years.";
    let verdict = classify(&rules, &[(RecordScope::Window, text)]);
    assert!(verdict.categories.contains(&Category::Name));
    assert_eq!(verdict.class, Class::HealthOnly);
    assert_eq!(
        verdict.individuals.low, 0,
        "clinicians are not counted as people"
    );
}

#[test]
fn identifier_far_from_diagnosis_is_phi_likely() {
    let rules = RuleSet::embedded().unwrap();
    let filler = "The clinic will be closed for the holiday. ".repeat(12);
    let text = format!("SSN: 234-56-7890\n{filler}\nDiagnosis: I10");
    let verdict = classify(&rules, &[(RecordScope::Window, &text)]);
    assert_eq!(verdict.class, Class::PhiLikely);
}

#[test]
fn rows_link_within_their_record_only() {
    let rules = RuleSet::embedded().unwrap();
    let rows = [
        (RecordScope::Record(1), "Name: John Whitaker"),
        (RecordScope::Record(1), "Dx: J45.909"),
        (RecordScope::Record(2), "Name: Dana Kowalski"),
    ];
    assert_eq!(classify(&rules, &rows).class, Class::Phi);

    let unlinked = [
        (RecordScope::Record(1), "Name: John Whitaker"),
        (RecordScope::Record(2), "Dx: J45.909"),
    ];
    assert_eq!(classify(&rules, &unlinked).class, Class::PhiLikely);
}

#[test]
fn people_count_merges_name_forms() {
    let rules = RuleSet::embedded().unwrap();
    let text = "Patient: Whitaker, John\nRe: John Whitaker\nPatient Name: Dana Kowalski\n\
                MRN: 4471029\nMRN: 4471030\nMRN: 4471029";
    let verdict = classify(&rules, &[(RecordScope::Window, text)]);
    assert_eq!(verdict.individuals.low, 2);
    assert_eq!(verdict.individuals.high, 4);
}

#[test]
fn split_name_columns_count_one_person_per_row() {
    let rules = RuleSet::embedded().unwrap();
    let fingerprinter = Fingerprinter::new(&KEY);
    let mut matcher = Matcher::new(&rules);
    let mut classifier = ItemClassifier::new();
    let rows = [
        ("Whitaker", "John", "00482913"),
        ("Kowalski", "Dana", "00482914"),
    ];
    for (row, (last, first, mrn)) in rows.into_iter().enumerate() {
        let scope = RecordScope::Record(row as u64);
        for (label, value) in [("Last Name", last), ("First Name", first), ("MRN", mrn)] {
            let fields = [Field {
                range: 0..value.len(),
                label,
            }];
            let input = SegmentInput {
                text: value,
                label: None,
                fields: &fields,
                report: 0..value.len(),
            };
            let mut found = Vec::new();
            matcher.find(&rules, &input, &mut found);
            assert_eq!(found.len(), 1, "{label}");
            let rule = rules.rule(found[0].rule);
            let link = LinkInput {
                category: rule.category,
                role: rule.role,
                start: found[0].start,
                end: found[0].end,
                fingerprint: fingerprinter.fingerprint(rule.category, &found[0].canonical),
                counts_person: counts_person(rule.category, &found[0].canonical),
            };
            classifier.add_segment(scope, &[link]);
        }
    }
    let verdict = classifier.finish();
    assert_eq!(verdict.individuals.low, 2);
    assert_eq!(verdict.individuals.high, 2);
}

#[test]
fn contact_details_alone_are_pii() {
    let rules = RuleSet::embedded().unwrap();
    let verdict = classify(
        &rules,
        &[(
            RecordScope::Window,
            "Call me at (617) 432-0142 or jane.roe@gmail.com",
        )],
    );
    assert_eq!(verdict.class, Class::Pii);
}

/// A one-letter middle initial must end at a word boundary, so that the
/// next label's first letter is not taken as one.
#[test]
fn name_stops_before_next_label() {
    let rules = RuleSet::embedded().unwrap();
    let mut matcher = Matcher::new(&rules);
    let cases = [
        (
            "Patient: Oswald Fairbanks SSN 529-18-4476 asthma",
            "Oswald Fairbanks",
        ),
        (
            "Patient: Oswald Fairbanks J. seen today",
            "Oswald Fairbanks J.",
        ),
        ("Patient: Fairbanks, Oswald J", "Fairbanks, Oswald J"),
    ];
    for (text, expected) in cases {
        let mut found = Vec::new();
        matcher.find(&rules, &SegmentInput::plain(text), &mut found);
        let names: Vec<&str> = found
            .iter()
            .filter(|m| rules.rule(m.rule).category == Category::Name)
            .map(|m| &text[m.start..m.end])
            .collect();
        assert_eq!(names, vec![expected], "{text}");
    }
}
