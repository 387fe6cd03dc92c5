//! Sets of item ordinals kept as sorted ranges.
//!
//! A sweep over an unchanged share reuses nearly every row of an earlier
//! scan, and a few ranges of row numbers describe that set in bytes instead
//! of one reference row per item. The store keeps a set as the JSON array
//! `[[first, last], ...]` (both ends included), which the `all_items` view
//! expands with `json_each`.

use serde::{Deserialize, Serialize};

/// The largest ordinal a store can hold: SQLite and PostgreSQL integers are signed.
pub const MAX_ORDINAL: u64 = i64::MAX as u64;

/// A set of ordinals as sorted, disjoint and non-adjacent ranges with both
/// ends included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    /// Returns the set of every ordinal a store can hold.
    pub fn everything() -> RangeSet {
        RangeSet {
            ranges: vec![(0, MAX_ORDINAL)],
        }
    }

    /// Builds a set from ordinals in any order; duplicates are allowed.
    pub fn from_ordinals(mut ordinals: Vec<u64>) -> RangeSet {
        ordinals.sort_unstable();
        let mut set = RangeSet::default();
        for ordinal in ordinals {
            set.push_sorted(ordinal, ordinal);
        }
        set
    }

    /// Builds a set from ranges in any order, overlapping or not. Ranges
    /// whose first end is past their last are ignored.
    pub fn from_ranges(mut ranges: Vec<(u64, u64)>) -> RangeSet {
        ranges.retain(|(first, last)| first <= last);
        ranges.sort_unstable();
        let mut set = RangeSet::default();
        for (first, last) in ranges {
            set.push_sorted(first, last);
        }
        set
    }

    /// Parses the stored JSON form; stored ranges out of order are sorted.
    pub fn from_json(text: &str) -> serde_json::Result<RangeSet> {
        let ranges: Vec<(u64, u64)> = serde_json::from_str(text)?;
        Ok(RangeSet::from_ranges(ranges))
    }

    /// Returns the stored JSON form, such as `[[0,4095],[4100,4100]]`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.ranges).unwrap_or_else(|_| "[]".into())
    }

    /// Appends a range that starts after every range in the set, merging
    /// it with the last range when they overlap or touch.
    fn push_sorted(&mut self, first: u64, last: u64) {
        if let Some(previous) = self.ranges.last_mut()
            && first <= previous.1.saturating_add(1)
        {
            previous.1 = previous.1.max(last);
            return;
        }
        self.ranges.push((first, last));
    }

    /// Returns the ranges, in order.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Returns true when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of ordinals in the set.
    pub fn len(&self) -> u64 {
        self.ranges
            .iter()
            .map(|(first, last)| last - first + 1)
            .sum()
    }

    /// Returns true when `ordinal` is in the set.
    pub fn contains(&self, ordinal: u64) -> bool {
        let index = self.ranges.partition_point(|(_, last)| *last < ordinal);
        self.ranges
            .get(index)
            .is_some_and(|(first, _)| *first <= ordinal)
    }

    /// Returns the ordinals in either set.
    pub fn union(&self, other: &RangeSet) -> RangeSet {
        let mut all = self.ranges.clone();
        all.extend_from_slice(&other.ranges);
        RangeSet::from_ranges(all)
    }

    /// Returns the ordinals in both sets.
    pub fn intersection(&self, other: &RangeSet) -> RangeSet {
        let mut out = RangeSet::default();
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a_first, a_last) = self.ranges[i];
            let (b_first, b_last) = other.ranges[j];
            let first = a_first.max(b_first);
            let last = a_last.min(b_last);
            if first <= last {
                out.push_sorted(first, last);
            }
            if a_last < b_last {
                i += 1;
            } else {
                j += 1;
            }
        }
        out
    }

    /// Returns the ordinals in this set and not in `other`.
    pub fn difference(&self, other: &RangeSet) -> RangeSet {
        let mut out = RangeSet::default();
        let mut skipped = 0;
        for &(first, last) in &self.ranges {
            // Ranges of `other` that end before this range cannot cut it.
            while other
                .ranges
                .get(skipped)
                .is_some_and(|(_, cut_last)| *cut_last < first)
            {
                skipped += 1;
            }
            let mut start = first;
            let mut covered = false;
            for &(cut_first, cut_last) in &other.ranges[skipped..] {
                if cut_first > last {
                    break;
                }
                if cut_first > start {
                    out.push_sorted(start, cut_first - 1);
                }
                if cut_last >= last {
                    covered = true;
                    break;
                }
                start = start.max(cut_last + 1);
            }
            if !covered {
                out.push_sorted(start, last);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u64, u64)]) -> RangeSet {
        RangeSet::from_ranges(ranges.to_vec())
    }

    #[test]
    fn ordinals_merge_into_ranges() {
        let built = RangeSet::from_ordinals(vec![5, 1, 2, 3, 9, 8, 3]);
        assert_eq!(built.ranges(), &[(1, 3), (5, 5), (8, 9)]);
        assert_eq!(built.len(), 6);
        assert!(built.contains(2));
        assert!(built.contains(9));
        assert!(!built.contains(4));
        assert!(!built.contains(10));
    }

    #[test]
    fn json_round_trip() {
        let built = set(&[(0, 4095), (4100, 4100)]);
        assert_eq!(built.to_json(), "[[0,4095],[4100,4100]]");
        assert_eq!(RangeSet::from_json(&built.to_json()).unwrap(), built);
        assert_eq!(
            RangeSet::from_json("[[7,9],[1,2],[3,3]]").unwrap().ranges(),
            &[(1, 3), (7, 9)]
        );
        assert!(RangeSet::from_json("[[1]]").is_err());
    }

    #[test]
    fn union_intersection_difference() {
        let a = set(&[(0, 9), (20, 29)]);
        let b = set(&[(5, 24), (40, 41)]);
        assert_eq!(a.union(&b).ranges(), &[(0, 29), (40, 41)]);
        assert_eq!(a.intersection(&b).ranges(), &[(5, 9), (20, 24)]);
        assert_eq!(a.difference(&b).ranges(), &[(0, 4), (25, 29)]);
        assert_eq!(b.difference(&a).ranges(), &[(10, 19), (40, 41)]);
        assert!(a.difference(&a).is_empty());
        assert_eq!(a.difference(&RangeSet::default()), a);
    }

    #[test]
    fn complement_of_everything() {
        let listed = set(&[(0, 2), (10, 10)]);
        let rest = RangeSet::everything().difference(&listed);
        assert_eq!(rest.ranges(), &[(3, 9), (11, MAX_ORDINAL)]);
        assert!(
            RangeSet::everything()
                .difference(&RangeSet::everything())
                .is_empty()
        );
    }

    #[test]
    fn difference_matches_a_naive_one() {
        // Small sets checked against a bitmap, over many shapes.
        let mut seed = 0x2545_f491_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut draw = || -> Vec<u64> { (0..12).map(|_| next() % 40).collect() };
            let (a, b) = (draw(), draw());
            let set_a = RangeSet::from_ordinals(a.clone());
            let set_b = RangeSet::from_ordinals(b.clone());
            for ordinal in 0..40 {
                let (in_a, in_b) = (a.contains(&ordinal), b.contains(&ordinal));
                assert_eq!(set_a.difference(&set_b).contains(ordinal), in_a && !in_b);
                assert_eq!(set_a.intersection(&set_b).contains(ordinal), in_a && in_b);
                assert_eq!(set_a.union(&set_b).contains(ordinal), in_a || in_b);
            }
        }
    }
}
