//! Item classes and coverage states.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What an item holds, judged from its findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// A direct identifier tied to health information in the same record.
    Phi,
    /// Identifiers and health information in one item but not tied to one record,
    /// or only quasi-identifiers (dates, ZIP codes) tied to health information.
    PhiLikely,
    /// Identifiers without health information.
    Pii,
    /// Health information without identifiers.
    HealthOnly,
    /// No finding.
    None,
}

impl Class {
    /// Every class, from the most to the least sensitive.
    pub const ALL: [Class; 5] = [
        Class::Phi,
        Class::PhiLikely,
        Class::Pii,
        Class::HealthOnly,
        Class::None,
    ];

    /// The name used in outputs, such as `phi-likely`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Phi => "phi",
            Class::PhiLikely => "phi-likely",
            Class::Pii => "pii",
            Class::HealthOnly => "health-only",
            Class::None => "none",
        }
    }

    /// Parses an output name back into a class.
    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|class| class.as_str() == name)
    }

    /// Returns true for `phi` and `phi-likely`.
    pub fn is_phi(self) -> bool {
        matches!(self, Class::Phi | Class::PhiLikely)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of an item was examined.
///
/// Only `complete` means that the absence of findings says the item is clean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coverage {
    /// Every byte of the item's content reached the detectors.
    Complete,
    /// Some content was examined and some was not (a limit was hit, a part
    /// could not be decoded, pages have no text layer).
    Partial,
    /// The content is encrypted and was not read.
    Encrypted,
    /// The format was recognized but phiscan cannot read it yet.
    Unsupported,
    /// Reading or parsing the item failed.
    Error,
    /// The item was deliberately not read (special file, excluded, too large).
    Skipped,
}

impl Coverage {
    /// Every coverage state, from complete to skipped.
    pub const ALL: [Coverage; 6] = [
        Coverage::Complete,
        Coverage::Partial,
        Coverage::Encrypted,
        Coverage::Unsupported,
        Coverage::Error,
        Coverage::Skipped,
    ];

    /// The name used in outputs, such as `unsupported`.
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Complete => "complete",
            Coverage::Partial => "partial",
            Coverage::Encrypted => "encrypted",
            Coverage::Unsupported => "unsupported",
            Coverage::Error => "error",
            Coverage::Skipped => "skipped",
        }
    }

    /// Parses an output name back into a coverage state.
    pub fn parse(name: &str) -> Option<Coverage> {
        Coverage::ALL
            .into_iter()
            .find(|coverage| coverage.as_str() == name)
    }

    /// Combines the coverage of two parts of one item: the less complete wins.
    ///
    /// A container whose members are all complete is complete; one encrypted or
    /// failed member makes the container partial, because the rest was read.
    pub fn merge_child(self, child: Coverage) -> Coverage {
        match (self, child) {
            (Coverage::Complete, Coverage::Complete) => Coverage::Complete,
            (Coverage::Complete, _) => Coverage::Partial,
            (own, _) => own,
        }
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for class in Class::ALL {
            assert_eq!(Class::parse(class.as_str()), Some(class));
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
        }
    }

    #[test]
    fn coverage_names_round_trip() {
        for coverage in Coverage::ALL {
            assert_eq!(Coverage::parse(coverage.as_str()), Some(coverage));
            let json = serde_json::to_string(&coverage).unwrap();
            assert_eq!(json, format!("\"{}\"", coverage.as_str()));
        }
    }

    #[test]
    fn child_failure_makes_parent_partial() {
        assert_eq!(
            Coverage::Complete.merge_child(Coverage::Complete),
            Coverage::Complete
        );
        assert_eq!(
            Coverage::Complete.merge_child(Coverage::Encrypted),
            Coverage::Partial
        );
        assert_eq!(
            Coverage::Error.merge_child(Coverage::Complete),
            Coverage::Error
        );
    }
}
