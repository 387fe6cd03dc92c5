//! Whole names put together from parts kept in separate fields: `Last Name`
//! and `First Name` columns, X12 NM1-03 and NM1-04, the components of HL7
//! PID-5, C-CDA `family` and `given`. A part alone would count each person
//! twice, so a person is counted by the whole name, fingerprinted like the
//! same name written in one field (`first middle last`).

use crate::ruleset::normalize_label;

/// Returns true when a field label marks its value as belonging to a
/// clinician or an organization (`Attending Physician`, `practitioner name
/// given`), not to a patient.
pub fn is_provider_label(label: &str) -> bool {
    normalize_label(label).split(' ').any(|word| {
        matches!(
            word,
            "provider"
                | "practitioner"
                | "physician"
                | "clinician"
                | "doctor"
                | "prescriber"
                | "attending"
                | "referring"
                | "npi"
        )
    })
}

/// The part of a person's name that a field contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamePart {
    First,
    Middle,
    Last,
}

/// Returns the name part a field label announces, with the label's other
/// words that name its owner (`guarantor` in `Guarantor Last Name`).
/// Returns None when the label announces no part, or more than one.
pub fn name_part(label: &str) -> Option<(NamePart, String)> {
    let normalized = normalize_label(label);
    let mut part = None;
    let mut owner: Vec<&str> = Vec::new();
    for word in normalized.split(' ') {
        let this = match word {
            "first" | "given" | "fname" | "firstname" | "givenname" => NamePart::First,
            "middle" | "mname" | "middlename" | "mi" => NamePart::Middle,
            "last" | "family" | "surname" | "lname" | "lastname" | "familyname" => NamePart::Last,
            // Field references (`nm1`, `03`) and filler words do not name
            // the owner.
            "name" | "initial" | "organization" | "s" | "of" | "the" => continue,
            _ if word.bytes().any(|byte| byte.is_ascii_digit()) => continue,
            _ => {
                owner.push(word);
                continue;
            }
        };
        if part.is_some_and(|part| part != this) {
            return None;
        }
        part = Some(this);
    }
    part.map(|part| (part, owner.join(" ")))
}

/// The name parts of one record, paired into whole names in the order the
/// fields come: a part whose place is already taken starts the next name.
#[derive(Debug, Default)]
pub struct NameParts {
    open: Vec<PartialName>,
    whole: Vec<String>,
}

#[derive(Debug)]
struct PartialName {
    owner: String,
    first: Option<String>,
    middle: Option<String>,
    last: Option<String>,
}

impl PartialName {
    fn slot(&mut self, part: NamePart) -> &mut Option<String> {
        match part {
            NamePart::First => &mut self.first,
            NamePart::Middle => &mut self.middle,
            NamePart::Last => &mut self.last,
        }
    }

    /// Returns the canonical whole name when both first and last name are known.
    fn whole(self) -> Option<String> {
        let (first, last) = (self.first?, self.last?);
        Some(match self.middle {
            Some(middle) => format!("{first} {middle} {last}"),
            None => format!("{first} {last}"),
        })
    }
}

impl NameParts {
    /// Adds one part, given in canonical form (lower case, without periods).
    pub fn add(&mut self, part: NamePart, owner: &str, canonical: &str) {
        let index = match self.open.iter().position(|name| name.owner == owner) {
            Some(index) => index,
            None => {
                self.open.push(PartialName {
                    owner: owner.to_string(),
                    first: None,
                    middle: None,
                    last: None,
                });
                self.open.len() - 1
            }
        };
        // A second given name before the family name is a middle name, as
        // C-CDA writes `<given>Ralph</given><given>B</given>`.
        let name = &self.open[index];
        if part == NamePart::First
            && name.first.is_some()
            && name.middle.is_none()
            && name.last.is_none()
        {
            self.open[index].middle = Some(canonical.to_string());
            return;
        }
        if self.open[index].slot(part).is_some() {
            let done = self.open.swap_remove(index);
            self.whole.extend(done.whole());
            self.add(part, owner, canonical);
            return;
        }
        *self.open[index].slot(part) = Some(canonical.to_string());
    }

    /// Ends the record and returns the whole names found in it.
    pub fn close(&mut self) -> Vec<String> {
        let open = std::mem::take(&mut self.open);
        self.whole
            .extend(open.into_iter().filter_map(PartialName::whole));
        std::mem::take(&mut self.whole)
    }

    /// Returns true when no part is waiting for the record to end.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty() && self.whole.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_give_parts_and_owners() {
        let cases = [
            ("Last Name", Some((NamePart::Last, ""))),
            ("FIRST", Some((NamePart::First, ""))),
            ("LNAME", Some((NamePart::Last, ""))),
            ("PatFirst", Some((NamePart::First, "pat"))),
            ("Guarantor Last Name", Some((NamePart::Last, "guarantor"))),
            (
                "NM1-03 last name organization name",
                Some((NamePart::Last, "")),
            ),
            ("NM1-04 first name", Some((NamePart::First, ""))),
            ("PID-5 given name", Some((NamePart::First, "pid"))),
            ("Middle Initial", Some((NamePart::Middle, ""))),
            ("Patient Name", None),
            ("Last Visit First Name", None),
            ("Diagnosis", None),
        ];
        for (label, expected) in cases {
            let found = name_part(label);
            let found = found.as_ref().map(|(part, owner)| (*part, owner.as_str()));
            assert_eq!(found, expected, "{label}");
        }
    }

    #[test]
    fn provider_labels() {
        assert!(is_provider_label("Attending Physician"));
        assert!(is_provider_label("practitioner name given"));
        assert!(!is_provider_label("Patient Name"));
        assert!(!is_provider_label("guardianPerson name given"));
    }

    #[test]
    fn second_given_name_is_a_middle_name() {
        let mut parts = NameParts::default();
        parts.add(NamePart::First, "", "ralph");
        parts.add(NamePart::First, "", "b");
        parts.add(NamePart::Last, "", "jones");
        assert_eq!(parts.close(), ["ralph b jones"]);
    }

    #[test]
    fn parts_pair_in_field_order() {
        let mut parts = NameParts::default();
        parts.add(NamePart::Last, "", "quinlan");
        parts.add(NamePart::First, "", "theodora");
        parts.add(NamePart::Last, "", "ashcroft");
        parts.add(NamePart::Middle, "", "j");
        parts.add(NamePart::First, "", "wendell");
        parts.add(NamePart::Last, "guarantor", "platt");
        assert_eq!(parts.close(), ["theodora quinlan", "wendell j ashcroft"]);
        assert!(parts.is_empty());
    }
}
