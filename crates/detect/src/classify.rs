//! Record linking and item classification.
//!
//! An identifier makes a document PHI only when it is tied to health
//! information about the same person. Findings are linked when they fall in one
//! record: a spreadsheet or CSV row, a page, a message, a structured record
//! such as an HL7 message, or, in running text, a window of 300 characters.

use phiscan_core::records::Individuals;
use phiscan_core::{Category, Class, Role};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Characters of running text within which an identifier and a health signal
/// count as one record.
pub const LINK_WINDOW: usize = 300;

/// How the findings of one segment group into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordScope {
    /// Running text: findings within [`LINK_WINDOW`] bytes of each other are linked.
    Window,
    /// Every segment with this key forms one record (a row, a page, a message).
    /// Extractors emit the segments of one record consecutively.
    Record(u64),
}

/// What the classifier needs of one finding.
#[derive(Clone, Copy, Debug)]
pub struct LinkInput {
    pub category: Category,
    pub role: Role,
    /// Byte offsets in the segment, used for window linking.
    pub start: usize,
    pub end: usize,
    pub fingerprint: [u8; 16],
    /// Whether the value identifies one person for the people estimate; see
    /// [`counts_person`].
    pub counts_person: bool,
}

/// Returns true when a value of this category and canonical form identifies
/// one person: an SSN, MRN, health plan id or email, or a name of at least two
/// words. A first or last name alone, as in a spreadsheet's separate name
/// columns, would count each person twice.
pub fn counts_person(category: Category, canonical: &str) -> bool {
    PeopleCounter::PERSON_KEYS.contains(&category)
        && (category != Category::Name || canonical.contains(' '))
}

#[derive(Clone, Copy, Debug, Default)]
struct RoleFlags {
    direct: bool,
    quasi: bool,
    health: bool,
}

impl RoleFlags {
    fn add(&mut self, role: Role) {
        match role {
            Role::Direct => self.direct = true,
            Role::Quasi => self.quasi = true,
            Role::Health => self.health = true,
            Role::Provider => {}
        }
    }
}

/// Accumulates the findings of one item and decides its class.
#[derive(Debug, Default)]
pub struct ItemClassifier {
    any: RoleFlags,
    linked_direct: bool,
    linked_quasi: bool,
    current_key: Option<u64>,
    current: RoleFlags,
    categories: BTreeSet<Category>,
    findings: u64,
    people: PeopleCounter,
    window_scratch: Vec<(usize, usize, Role)>,
}

/// The classifier's verdict on an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub class: Class,
    pub categories: Vec<Category>,
    pub findings: u64,
    pub individuals: Individuals,
}

impl ItemClassifier {
    /// Creates an empty classifier.
    pub fn new() -> ItemClassifier {
        ItemClassifier::default()
    }

    /// Adds the findings of one segment.
    pub fn add_segment(&mut self, scope: RecordScope, findings: &[LinkInput]) {
        for finding in findings {
            self.any.add(finding.role);
            self.categories.insert(finding.category);
            self.findings += 1;
            if finding.counts_person {
                self.people
                    .add(finding.category, finding.role, finding.fingerprint);
            }
        }

        match scope {
            RecordScope::Record(key) => {
                if self.current_key != Some(key) {
                    self.close_record();
                    self.current_key = Some(key);
                }
                for finding in findings {
                    self.current.add(finding.role);
                }
            }
            RecordScope::Window => {
                self.close_record();
                self.link_window(findings);
            }
        }
    }

    fn close_record(&mut self) {
        let record = std::mem::take(&mut self.current);
        self.linked_direct |= record.direct && record.health;
        self.linked_quasi |= record.quasi && record.health;
        self.current_key = None;
    }

    fn link_window(&mut self, findings: &[LinkInput]) {
        let scratch = &mut self.window_scratch;
        scratch.clear();
        scratch.extend(
            findings
                .iter()
                .filter(|f| f.role != Role::Provider)
                .map(|f| (f.start, f.end, f.role)),
        );
        scratch.sort_unstable_by_key(|&(start, _, _)| start);
        for (i, &(start, end, role)) in scratch.iter().enumerate() {
            if role != Role::Health {
                continue;
            }
            let near = |&&(other_start, other_end, _): &&(usize, usize, Role)| {
                other_start <= end + LINK_WINDOW && start <= other_end + LINK_WINDOW
            };
            let before = scratch[..i].iter().rev().take_while(|other| near(other));
            let after = scratch[i + 1..].iter().take_while(|other| near(other));
            for &(_, _, other_role) in before.chain(after) {
                match other_role {
                    Role::Direct => self.linked_direct = true,
                    Role::Quasi => self.linked_quasi = true,
                    _ => {}
                }
            }
        }
    }

    /// Counts a person identified by a value that is not a finding of its
    /// own: a whole name put together from parts in separate fields.
    pub fn add_person(&mut self, category: Category, fingerprint: [u8; 16]) {
        self.people.add(category, Role::Direct, fingerprint);
    }

    /// The distinct person-identifying values seen so far.
    pub fn people(&self) -> &PeopleCounter {
        &self.people
    }

    /// Closes the last record and returns the item's verdict.
    pub fn finish(mut self) -> Verdict {
        self.close_record();
        let class = if self.linked_direct {
            Class::Phi
        } else if (self.any.direct && self.any.health) || self.linked_quasi {
            Class::PhiLikely
        } else if self.any.direct {
            Class::Pii
        } else if self.any.health {
            Class::HealthOnly
        } else {
            Class::None
        };
        Verdict {
            class,
            categories: self.categories.into_iter().collect(),
            findings: self.findings,
            individuals: self.people.estimate(),
        }
    }
}

/// Hashing for keyed fingerprints. They are already uniformly random HMAC
/// outputs, so their first eight bytes serve as the hash as they are; SipHash
/// cost more than the rest of counting people.
type FingerprintHashing = std::hash::BuildHasherDefault<FingerprintHasher>;

/// A hasher that keeps the first eight bytes written to it.
#[derive(Default)]
pub struct FingerprintHasher {
    hash: u64,
}

impl std::hash::Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.hash
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 16]` hashes as its length prefix then its bytes; only the
        // 16-byte write carries the fingerprint.
        if bytes.len() >= 8 {
            let mut head = [0u8; 8];
            head.copy_from_slice(&bytes[..8]);
            self.hash ^= u64::from_le_bytes(head);
        }
    }

    fn write_usize(&mut self, _length: usize) {}
}

/// Distinct values a category counts exactly before it switches to a
/// sketch: about 2 MB of fingerprints per category.
const EXACT_LIMIT: usize = 100_000;

/// Bits of a fingerprint that pick a sketch register: 2^14 registers, 16 KiB,
/// with a standard error of about 0.8% (1.04 / sqrt(2^14)).
const SKETCH_BITS: u32 = 14;
const REGISTERS: usize = 1 << SKETCH_BITS;

/// Distinct fingerprints of one category: a set while it is small, then a
/// HyperLogLog sketch, so that the count of a share with millions of people
/// takes fixed memory. Fingerprints are keyed HMAC outputs, so their bits
/// serve as the sketch's hash.
#[derive(Debug, Clone)]
enum Distinct {
    Exact(HashSet<[u8; 16], FingerprintHashing>),
    Sketch(Box<[u8]>),
}

impl Default for Distinct {
    fn default() -> Distinct {
        Distinct::Exact(HashSet::default())
    }
}

impl Distinct {
    fn insert(&mut self, fingerprint: [u8; 16]) {
        match self {
            Distinct::Exact(values) => {
                values.insert(fingerprint);
                if values.len() > EXACT_LIMIT {
                    self.switch_to_sketch();
                }
            }
            Distinct::Sketch(registers) => sketch_add(registers, &fingerprint),
        }
    }

    fn switch_to_sketch(&mut self) {
        if let Distinct::Exact(values) = self {
            let mut registers = vec![0u8; REGISTERS].into_boxed_slice();
            for fingerprint in values.iter() {
                sketch_add(&mut registers, fingerprint);
            }
            *self = Distinct::Sketch(registers);
        }
    }

    fn merge(&mut self, other: Distinct) {
        match other {
            Distinct::Exact(values) => {
                for fingerprint in values {
                    self.insert(fingerprint);
                }
            }
            Distinct::Sketch(theirs) => {
                self.switch_to_sketch();
                if let Distinct::Sketch(ours) = self {
                    for (own, their) in ours.iter_mut().zip(theirs.iter()) {
                        *own = (*own).max(*their);
                    }
                }
            }
        }
    }

    fn count(&self) -> u64 {
        match self {
            Distinct::Exact(values) => values.len() as u64,
            Distinct::Sketch(registers) => sketch_estimate(registers),
        }
    }
}

/// Adds a fingerprint to a HyperLogLog sketch: the first bits pick the
/// register, which keeps the longest run of leading zeros seen after them.
fn sketch_add(registers: &mut [u8], fingerprint: &[u8; 16]) {
    let mut head = [0u8; 8];
    head.copy_from_slice(&fingerprint[..8]);
    let bits = u64::from_be_bytes(head);
    let index = (bits >> (64 - SKETCH_BITS)) as usize;
    let rest = (bits << SKETCH_BITS) | (1 << (SKETCH_BITS - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    registers[index] = registers[index].max(rank);
}

/// Returns the HyperLogLog estimate, with the linear-counting correction
/// for small counts (Flajolet et al., 2007).
fn sketch_estimate(registers: &[u8]) -> u64 {
    let m = registers.len() as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers
        .iter()
        .map(|&rank| (-f64::from(rank)).exp2())
        .sum();
    let raw = alpha * m * m / sum;
    let zeros = registers.iter().filter(|&&rank| rank == 0).count();
    let estimate = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    estimate.round() as u64
}

/// Counts distinct values of the categories that identify one person:
/// exactly up to 100,000 per category, then within about 1% (see
/// [`Distinct`]).
#[derive(Debug, Default, Clone)]
pub struct PeopleCounter {
    seen: HashMap<Category, Distinct>,
}

impl PeopleCounter {
    /// Categories whose values each belong to one person.
    pub const PERSON_KEYS: [Category; 5] = [
        Category::Ssn,
        Category::Mrn,
        Category::HealthPlanId,
        Category::Name,
        Category::Email,
    ];

    /// Records a fingerprint if its category identifies a person.
    pub fn add(&mut self, category: Category, role: Role, fingerprint: [u8; 16]) {
        if role == Role::Direct && Self::PERSON_KEYS.contains(&category) {
            self.seen.entry(category).or_default().insert(fingerprint);
        }
    }

    /// Merges another counter into this one.
    pub fn merge(&mut self, other: PeopleCounter) {
        for (category, values) in other.seen {
            self.seen.entry(category).or_default().merge(values);
        }
    }

    /// Returns the estimate: at least the largest category count, at most
    /// their sum.
    pub fn estimate(&self) -> Individuals {
        let counts = self.seen.values().map(Distinct::count);
        Individuals {
            low: counts.clone().max().unwrap_or(0),
            high: counts.sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(category: Category, start: usize, id: u8) -> LinkInput {
        LinkInput {
            category,
            role: category.default_role(),
            start,
            end: start + 5,
            fingerprint: [id; 16],
            counts_person: true,
        }
    }

    #[test]
    fn identifier_and_diagnosis_in_one_row_is_phi() {
        let mut classifier = ItemClassifier::new();
        classifier.add_segment(RecordScope::Record(1), &[finding(Category::Ssn, 0, 1)]);
        classifier.add_segment(
            RecordScope::Record(1),
            &[finding(Category::Diagnosis, 0, 2)],
        );
        assert_eq!(classifier.finish().class, Class::Phi);
    }

    #[test]
    fn identifier_and_diagnosis_in_different_rows_is_phi_likely() {
        let mut classifier = ItemClassifier::new();
        classifier.add_segment(RecordScope::Record(1), &[finding(Category::Ssn, 0, 1)]);
        classifier.add_segment(
            RecordScope::Record(2),
            &[finding(Category::Diagnosis, 0, 2)],
        );
        assert_eq!(classifier.finish().class, Class::PhiLikely);
    }

    #[test]
    fn window_links_nearby_findings_only() {
        let mut near = ItemClassifier::new();
        near.add_segment(
            RecordScope::Window,
            &[
                finding(Category::Mrn, 0, 1),
                finding(Category::Diagnosis, 200, 2),
            ],
        );
        assert_eq!(near.finish().class, Class::Phi);

        let mut far = ItemClassifier::new();
        far.add_segment(
            RecordScope::Window,
            &[
                finding(Category::Mrn, 0, 1),
                finding(Category::Diagnosis, 2000, 2),
            ],
        );
        assert_eq!(far.finish().class, Class::PhiLikely);
    }

    #[test]
    fn date_with_diagnosis_is_phi_likely() {
        let mut classifier = ItemClassifier::new();
        classifier.add_segment(
            RecordScope::Window,
            &[
                finding(Category::Date, 0, 1),
                finding(Category::Diagnosis, 20, 2),
            ],
        );
        assert_eq!(classifier.finish().class, Class::PhiLikely);
    }

    #[test]
    fn classes_without_links() {
        let mut pii = ItemClassifier::new();
        pii.add_segment(RecordScope::Window, &[finding(Category::Phone, 0, 1)]);
        assert_eq!(pii.finish().class, Class::Pii);

        let mut health = ItemClassifier::new();
        health.add_segment(RecordScope::Window, &[finding(Category::Diagnosis, 0, 1)]);
        assert_eq!(health.finish().class, Class::HealthOnly);

        let mut dates = ItemClassifier::new();
        dates.add_segment(RecordScope::Window, &[finding(Category::Date, 0, 1)]);
        assert_eq!(dates.finish().class, Class::None);

        assert_eq!(ItemClassifier::new().finish().class, Class::None);
    }

    #[test]
    fn provider_ids_do_not_link() {
        let mut classifier = ItemClassifier::new();
        classifier.add_segment(
            RecordScope::Window,
            &[
                finding(Category::ProviderId, 0, 1),
                finding(Category::Diagnosis, 10, 2),
            ],
        );
        assert_eq!(classifier.finish().class, Class::HealthOnly);
    }

    #[test]
    fn single_name_words_do_not_count_as_people() {
        assert!(counts_person(Category::Name, "john whitaker"));
        assert!(!counts_person(Category::Name, "whitaker"));
        assert!(counts_person(Category::Mrn, "00482913"));
        assert!(!counts_person(Category::Phone, "+16174320142"));

        let mut classifier = ItemClassifier::new();
        let mut last_name = finding(Category::Name, 0, 1);
        last_name.counts_person = false;
        classifier.add_segment(
            RecordScope::Window,
            &[last_name, finding(Category::Mrn, 20, 2)],
        );
        assert_eq!(
            classifier.finish().individuals,
            Individuals { low: 1, high: 1 }
        );
    }

    #[test]
    fn individuals_range_from_fingerprints() {
        let mut classifier = ItemClassifier::new();
        classifier.add_segment(
            RecordScope::Window,
            &[
                finding(Category::Ssn, 0, 1),
                finding(Category::Ssn, 20, 2),
                finding(Category::Ssn, 40, 1),
                finding(Category::Mrn, 60, 3),
                finding(Category::Phone, 80, 4),
            ],
        );
        let verdict = classifier.finish();
        assert_eq!(verdict.individuals, Individuals { low: 2, high: 3 });
        assert_eq!(verdict.findings, 5);
        assert_eq!(
            verdict.categories,
            vec![Category::Phone, Category::Ssn, Category::Mrn]
        );
    }

    /// Fingerprints spread like HMAC outputs, from a simple mixing function.
    fn spread(index: u64) -> [u8; 16] {
        let mut x = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        let mut fingerprint = [0u8; 16];
        fingerprint[..8].copy_from_slice(&x.to_be_bytes());
        fingerprint[8..].copy_from_slice(&index.to_le_bytes());
        fingerprint
    }

    #[test]
    fn people_count_exactly_below_limit() {
        let mut counter = PeopleCounter::default();
        for index in 0..1000 {
            counter.add(Category::Ssn, Role::Direct, spread(index % 700));
        }
        assert_eq!(counter.estimate().low, 700);
    }

    #[test]
    fn people_sketch_within_two_percent() {
        let mut counter = PeopleCounter::default();
        let total = 3 * EXACT_LIMIT as u64;
        for index in 0..total {
            counter.add(Category::Mrn, Role::Direct, spread(index));
            // Repeats do not count again.
            counter.add(Category::Mrn, Role::Direct, spread(index / 2));
        }
        let counted = counter.estimate().low as f64;
        let error = (counted - total as f64).abs() / total as f64;
        assert!(error < 0.02, "counted {counted} of {total}");
        assert!(matches!(counter.seen[&Category::Mrn], Distinct::Sketch(_)));
    }

    #[test]
    fn merged_sketches_count_the_union() {
        let mut first = PeopleCounter::default();
        let mut second = PeopleCounter::default();
        for index in 0..200_000 {
            first.add(Category::Email, Role::Direct, spread(index));
            second.add(Category::Email, Role::Direct, spread(index + 100_000));
        }
        let mut small = PeopleCounter::default();
        for index in 0..50 {
            small.add(Category::Email, Role::Direct, spread(index + 1_000_000));
        }
        first.merge(second);
        first.merge(small);
        let counted = first.estimate().low as f64;
        let expected = 300_050.0;
        assert!(
            (counted - expected).abs() / expected < 0.02,
            "counted {counted} of {expected}"
        );
    }
}
