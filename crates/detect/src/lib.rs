//! The detection stage: rules in, findings out.
//!
//! Rules are data ([`rule`]): TOML files with a pattern or a term list, an
//! optional named validator, context keywords, column headers and examples.
//! A [`RuleSet`] compiles the patterns into one multi-pattern regex and all
//! keywords and terms into one keyword automaton. A per-thread [`Matcher`]
//! scans each segment in two stages: the regex and the keyword automaton find
//! candidate spans for all rules (keyword-anchored rules run their pattern only
//! next to their keywords), then validators and context scoring run on
//! candidates only.
//! Text is normalized first ([`normalize`]) and offsets are mapped back to the
//! original. [`classify`] links identifiers and health signals that share a
//! record and gives each item a class; [`privacy`] turns values into masked
//! previews and keyed fingerprints.
//!
//! This crate reads no files except rule files, and never logs a value.

pub mod check;
pub mod classify;
pub mod data;
mod embedded;
pub mod matcher;
pub mod name_parts;
pub mod normalize;
pub mod privacy;
pub mod rule;
pub mod ruleset;
pub mod validate;

pub use classify::{ItemClassifier, LinkInput, PeopleCounter, RecordScope, Verdict, counts_person};
pub use matcher::{Field, Match, Matcher, SegmentInput};
pub use name_parts::{NamePart, NameParts, is_provider_label, name_part};
pub use privacy::{Fingerprinter, KEY_LEN, mask};
pub use rule::{Rule, RuleError, RuleSpec};
pub use ruleset::{RuleSet, RuleSources};
