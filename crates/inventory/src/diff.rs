//! Changes between two scans: items that gained, lost or changed
//! identifiers or PHI, and items the newer scan could not read whole.

use crate::model::{ScanData, ScanInfo};
use phiscan_core::records::ItemRecord;
use phiscan_core::{Category, Class, Coverage, Role};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The kind of change of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The item now contains identifiers and did not before (or is new).
    Gained,
    /// The item held identifiers and no longer does (or is gone), or it
    /// was never read whole and is gone.
    Lost,
    /// The item contains identifiers in both scans, with another class,
    /// other categories, another number of findings, or the same counts of
    /// other values.
    Changed,
    /// The same content with identifiers is now at another location and
    /// gone from its old one.
    Moved,
    /// The newer scan could not read the whole item (encrypted, damaged,
    /// unsupported, failed or skipped) where the older scan read it in
    /// another way, or the item is new and was not skipped on purpose.
    /// Identifiers it had may still be there, so this is not a loss.
    Incomplete,
}

impl ChangeKind {
    /// Returns the name used in outputs, such as `gained`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Gained => "gained",
            ChangeKind::Lost => "lost",
            ChangeKind::Changed => "changed",
            ChangeKind::Moved => "moved",
            ChangeKind::Incomplete => "incomplete",
        }
    }
}

/// One changed item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemChange {
    pub change: ChangeKind,
    /// The item's location (its new location for moves).
    pub location: String,
    /// The old location, for moves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
    /// Class in the old scan; None when the item did not exist.
    pub old_class: Option<Class>,
    /// Class in the new scan; None when the item is gone.
    pub new_class: Option<Class>,
    pub old_categories: Vec<Category>,
    pub new_categories: Vec<Category>,
    pub old_findings: u64,
    pub new_findings: u64,
    /// Coverage in the old scan; None when the item did not exist.
    pub old_coverage: Option<Coverage>,
    /// Coverage in the new scan; None when the item is gone.
    pub new_coverage: Option<Coverage>,
    /// The scan that last read the item whole, when the older scan could not
    /// read it whole: new PHI is judged against that scan's record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_from: Option<String>,
    /// True when the item contains other identifier values than before with
    /// the same class, categories and number of findings, such as a
    /// patient list exported again for other patients.
    pub other_values: bool,
    /// True when the item contains PHI now and did not before, or contains
    /// PHI with a kind of direct identifier it did not have: new unprotected
    /// PHI for a scheduler.
    pub new_phi: bool,
}

/// The id of a scan that read an item whole, and its record there.
pub type WholeRead = (String, ItemRecord);

/// The changes between two scans.
#[derive(Clone, Debug, Serialize)]
pub struct ScanDiff {
    pub old: ScanInfo,
    pub new: ScanInfo,
    pub changes: Vec<ItemChange>,
}

impl ScanDiff {
    /// Compares the items of two scans by location; an item whose content
    /// disappeared from one location and appeared at another is a move.
    /// `values_differ` is asked about an item with identifiers whose content
    /// changed while its class, categories and number of findings stayed
    /// the same, and returns true when its values changed.
    pub fn compare<E>(
        old: (&ScanInfo, &ScanData),
        new: (&ScanInfo, &ScanData),
        values_differ: &mut dyn FnMut(&ItemRecord, &ItemRecord) -> Result<bool, E>,
    ) -> Result<ScanDiff, E> {
        let old_items: HashMap<&str, &ItemRecord> = old
            .1
            .items
            .iter()
            .map(|item| (item.location.as_str(), item))
            .collect();
        let new_items: HashMap<&str, &ItemRecord> = new
            .1
            .items
            .iter()
            .map(|item| (item.location.as_str(), item))
            .collect();

        let mut changes: Vec<ItemChange> = Vec::new();
        for item in &new.1.items {
            let before = old_items.get(item.location.as_str()).copied();
            if let Some(mut change) = compare_item(before, Some(item)) {
                // A member that is new because its container could not be
                // read whole before may not be new at all.
                if before.is_none()
                    && let Some(container) = unread_container(item, &new_items, &old_items)
                {
                    change.old_coverage = Some(container.coverage);
                }
                if change.change == ChangeKind::Changed
                    && let Some(before) = before
                    && same_counts(before, item)
                {
                    if !values_differ(before, item)? {
                        continue;
                    }
                    change.other_values = true;
                }
                changes.push(change);
            }
        }
        for item in &old.1.items {
            if new_items.contains_key(item.location.as_str()) {
                continue;
            }
            let Some(mut change) = compare_item(Some(item), None) else {
                continue;
            };
            // A member that is gone because its container could not be
            // read whole this time was not seen, not removed.
            if let Some(container) = unread_container(item, &old_items, &new_items) {
                change.change = ChangeKind::Incomplete;
                change.new_coverage = Some(container.coverage);
            }
            changes.push(change);
        }
        let changes = pair_moves(changes, &old_items, &new_items);
        Ok(ScanDiff {
            old: old.0.clone(),
            new: new.0.clone(),
            changes,
        })
    }

    /// Judges new PHI again for items the older scan could not read whole,
    /// against the last earlier record that read them whole, which
    /// `read_whole` returns with its scan id. A file restored from a backup
    /// after damage then raises no alarm for PHI that was known before.
    pub fn judge_unread<E>(
        &mut self,
        read_whole: &mut dyn FnMut(&str) -> Result<Option<WholeRead>, E>,
    ) -> Result<(), E> {
        for change in &mut self.changes {
            let unread_before = change
                .old_coverage
                .is_some_and(|coverage| coverage != Coverage::Complete);
            if !change.new_phi || !unread_before {
                continue;
            }
            let Some((scan, earlier)) = read_whole(&change.location)? else {
                continue;
            };
            change.new_phi = !earlier.class.is_phi()
                || change.new_categories.iter().any(|category| {
                    category.default_role() == Role::Direct
                        && !earlier.categories.contains(category)
                });
            change.known_from = Some(scan);
        }
        Ok(())
    }

    /// Items that hold PHI now and did not before, moves excepted.
    pub fn new_phi(&self) -> usize {
        self.changes.iter().filter(|change| change.new_phi).count()
    }

    /// Number of changes of one kind.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes
            .iter()
            .filter(|change| change.change == kind)
            .count()
    }
}

/// Returns true when both records have the same class, categories and
/// number of findings.
fn same_counts(old: &ItemRecord, new: &ItemRecord) -> bool {
    old.class == new.class && old.categories == new.categories && old.findings == new.findings
}

fn has_identifiers(class: Class) -> bool {
    matches!(class, Class::Phi | Class::PhiLikely | Class::Pii)
}

/// Returns the container of `item` in the other scan when it was not read
/// whole there, looking through the item's containers in its own scan from
/// the nearest.
fn unread_container<'a>(
    item: &ItemRecord,
    own_side: &HashMap<&str, &ItemRecord>,
    other_side: &HashMap<&str, &'a ItemRecord>,
) -> Option<&'a ItemRecord> {
    let mut parent = item.parent.as_deref();
    while let Some(location) = parent {
        if let Some(container) = other_side.get(location) {
            return (container.coverage != Coverage::Complete).then_some(*container);
        }
        parent = own_side
            .get(location)
            .and_then(|container| container.parent.as_deref());
    }
    None
}

fn compare_item(old: Option<&ItemRecord>, new: Option<&ItemRecord>) -> Option<ItemChange> {
    let old_class = old.map(|item| item.class);
    let new_class = new.map(|item| item.class);
    let had = old_class.is_some_and(has_identifiers);
    let has = new_class.is_some_and(has_identifiers);
    // Not read whole now, and read whole or in another way before. A new
    // item skipped on purpose (excluded, a link, a device) is left out.
    let unread = new.is_some_and(|new| {
        new.coverage != Coverage::Complete
            && match old {
                Some(old) => old.coverage != new.coverage,
                None => new.coverage != Coverage::Skipped,
            }
    });
    // Gone, and never read whole: it may have held PHI.
    let gone_unread = new.is_none()
        && old.is_some_and(|old| !matches!(old.coverage, Coverage::Complete | Coverage::Skipped));
    let change = match (had, has) {
        (false, false) if unread => ChangeKind::Incomplete,
        (false, false) if gone_unread => ChangeKind::Lost,
        (false, false) => return None,
        (false, true) => ChangeKind::Gained,
        (true, false) if unread => ChangeKind::Incomplete,
        (true, false) => ChangeKind::Lost,
        (true, true) => {
            let (old, new) = (old?, new?);
            // Other content with the same counts may hold other values: the
            // caller compares them.
            // NOTE: an item without a content digest of its own (a message in
            // a mailbox file) is never compared, so its new values go unlisted.
            let other_content = old.content_id.is_some()
                && new.content_id.is_some()
                && old.content_id != new.content_id;
            match (same_counts(old, new), unread) {
                (true, true) => ChangeKind::Incomplete,
                (true, false) if other_content => ChangeKind::Changed,
                (true, false) => return None,
                (false, _) => ChangeKind::Changed,
            }
        }
    };
    let location = new.or(old).map(|item| item.location.clone())?;
    Some(ItemChange {
        change,
        location,
        moved_from: None,
        old_class,
        new_class,
        old_categories: old.map(|item| item.categories.clone()).unwrap_or_default(),
        new_categories: new.map(|item| item.categories.clone()).unwrap_or_default(),
        old_findings: old.map_or(0, |item| item.findings),
        new_findings: new.map_or(0, |item| item.findings),
        old_coverage: old.map(|item| item.coverage),
        new_coverage: new.map(|item| item.coverage),
        other_values: false,
        known_from: None,
        new_phi: new_class.is_some_and(Class::is_phi)
            && (!old_class.is_some_and(Class::is_phi) || gained_identifier(old, new)),
    })
}

/// Returns true when an item has a kind of direct identifier now that it
/// did not have before, such as an SSN added to a letter that already
/// named the patient.
fn gained_identifier(old: Option<&ItemRecord>, new: Option<&ItemRecord>) -> bool {
    let (Some(old), Some(new)) = (old, new) else {
        return false;
    };
    new.categories.iter().any(|category| {
        category.default_role() == Role::Direct && !old.categories.contains(category)
    })
}

/// Turns a lost item and a gained item with the same content into one move.
fn pair_moves(
    changes: Vec<ItemChange>,
    old_items: &HashMap<&str, &ItemRecord>,
    new_items: &HashMap<&str, &ItemRecord>,
) -> Vec<ItemChange> {
    let mut lost_by_content: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, change) in changes.iter().enumerate() {
        if change.change == ChangeKind::Lost
            && change.new_class.is_none()
            && let Some(content) = old_items
                .get(change.location.as_str())
                .and_then(|item| item.content_id.clone())
        {
            lost_by_content.entry(content).or_default().push(index);
        }
    }
    let mut consumed = vec![false; changes.len()];
    let mut out = Vec::with_capacity(changes.len());
    for (index, change) in changes.iter().enumerate() {
        // A new item that could not be read moves like one with identifiers.
        let appeared = matches!(change.change, ChangeKind::Gained | ChangeKind::Incomplete);
        if !appeared || change.old_class.is_some() {
            continue;
        }
        let content = new_items
            .get(change.location.as_str())
            .and_then(|item| item.content_id.clone());
        let Some(lost) = content.and_then(|content| lost_by_content.get_mut(&content)) else {
            continue;
        };
        let Some(from) = lost.pop() else { continue };
        consumed[index] = true;
        consumed[from] = true;
        out.push(moved(change, &changes[from]));
    }

    // Members of a moved container move with it: a message inside a
    // mailbox file has no content id of its own. A container moved when its
    // content left one location and appeared at another, whatever its own
    // class (a mailbox file is often `none` while its messages hold PHI).
    // Shorter locations first, so that a container inside a moved container
    // is paired before its own members.
    let mut left_by_content: HashMap<&str, Vec<&str>> = HashMap::new();
    for (location, item) in old_items {
        if !new_items.contains_key(location)
            && let Some(content) = item.content_id.as_deref()
        {
            left_by_content.entry(content).or_default().push(location);
        }
    }
    let mut moved_containers: HashMap<String, String> = HashMap::new();
    for (location, item) in new_items {
        if old_items.contains_key(location) {
            continue;
        }
        let from = item
            .content_id
            .as_deref()
            .and_then(|content| left_by_content.get_mut(content))
            .and_then(|locations| locations.pop());
        if let Some(from) = from {
            moved_containers.insert(location.to_string(), from.to_string());
        }
    }
    let lost_at: HashMap<&str, usize> = changes
        .iter()
        .enumerate()
        .filter(|(index, change)| {
            !consumed[*index] && change.change == ChangeKind::Lost && change.new_class.is_none()
        })
        .map(|(index, change)| (change.location.as_str(), index))
        .collect();
    let mut gained: Vec<usize> = (0..changes.len())
        .filter(|&index| {
            !consumed[index]
                && changes[index].change == ChangeKind::Gained
                && changes[index].old_class.is_none()
        })
        .collect();
    gained.sort_by_key(|&index| changes[index].location.len());
    for index in gained {
        let change = &changes[index];
        let Some(parent) = new_items
            .get(change.location.as_str())
            .and_then(|item| item.parent.as_deref())
        else {
            continue;
        };
        let (Some(old_parent), Some(inner)) = (
            moved_containers.get(parent),
            change.location.strip_prefix(parent),
        ) else {
            continue;
        };
        let old_location = format!("{old_parent}{inner}");
        let Some(&from) = lost_at.get(old_location.as_str()) else {
            continue;
        };
        if consumed[from] {
            continue;
        }
        consumed[index] = true;
        consumed[from] = true;
        moved_containers.insert(change.location.clone(), old_location);
        out.push(moved(change, &changes[from]));
    }

    // A folder has no content id either. It moved where the items below it
    // moved, when they kept the same path below it.
    // NOTE: an empty folder, or one whose files were all renamed or changed,
    // still shows as lost and gained.
    let mut moved_below: Vec<(&String, &String)> = moved_containers.iter().collect();
    moved_below.sort();
    let mut moved_folders: HashMap<&str, &str> = HashMap::new();
    for (new_location, old_location) in moved_below {
        for (cut, _) in new_location.match_indices(['/', '\\']) {
            let (folder, below) = new_location.split_at(cut);
            if folder.is_empty() {
                continue;
            }
            if let Some(old_folder) = old_location.strip_suffix(below) {
                moved_folders.entry(folder).or_insert(old_folder);
            }
        }
    }
    for index in 0..changes.len() {
        let change = &changes[index];
        if consumed[index] || change.change != ChangeKind::Gained || change.old_class.is_some() {
            continue;
        }
        let Some(&from) = moved_folders
            .get(change.location.as_str())
            .and_then(|old_folder| lost_at.get(old_folder))
        else {
            continue;
        };
        if consumed[from] {
            continue;
        }
        consumed[index] = true;
        consumed[from] = true;
        out.push(moved(change, &changes[from]));
    }

    out.extend(
        changes
            .into_iter()
            .zip(consumed)
            .filter(|(_, consumed)| !consumed)
            .map(|(change, _)| change),
    );
    out.sort_by(|a, b| a.change.cmp(&b.change).then(a.location.cmp(&b.location)));
    out
}

/// Builds the move of an item that was lost at `from` and gained at `to`.
fn moved(to: &ItemChange, from: &ItemChange) -> ItemChange {
    ItemChange {
        change: ChangeKind::Moved,
        moved_from: Some(from.location.clone()),
        old_class: from.old_class,
        old_categories: from.old_categories.clone(),
        old_findings: from.old_findings,
        old_coverage: from.old_coverage,
        new_phi: false,
        ..to.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phiscan_core::Coverage;
    use phiscan_core::records::Individuals;
    use std::convert::Infallible;

    fn scan(id: &str) -> ScanInfo {
        ScanInfo {
            id: id.into(),
            started: "2026-01-01T00:00:00Z".into(),
            finished: None,
            roots: vec!["share".into()],
            version: "0".into(),
            rules_version: "r".into(),
            host: None,
            complete: true,
            sweep: None,
            resumed_from: None,
            summary: None,
        }
    }

    fn item(location: &str, class: Class, findings: u64, content: &str) -> ItemRecord {
        ItemRecord {
            location: location.into(),
            path: location.into(),
            format: "text".into(),
            size: 10,
            modified: None,
            class,
            coverage: Coverage::Complete,
            reason: None,
            parent: None,
            findings,
            categories: if findings > 0 {
                vec![Category::Ssn]
            } else {
                Vec::new()
            },
            individuals: Individuals::default(),
            content_id: Some(content.into()),
            meta: Default::default(),
        }
    }

    /// Compares two scans whose items' values are the same wherever their
    /// counts are.
    fn compare(old: &ScanData, new: &ScanData) -> ScanDiff {
        let same_values = &mut |_: &ItemRecord, _: &ItemRecord| Ok::<_, Infallible>(false);
        let Ok(diff) = ScanDiff::compare((&scan("1"), old), (&scan("2"), new), same_values);
        diff
    }

    /// Returns each change's kind, location and former location.
    fn kinds_and_moves(diff: &ScanDiff) -> Vec<(ChangeKind, &str, Option<&str>)> {
        diff.changes
            .iter()
            .map(|change| {
                (
                    change.change,
                    change.location.as_str(),
                    change.moved_from.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn gained_lost_changed_and_moved() {
        let old = ScanData {
            items: vec![
                item("share/same.txt", Class::Phi, 2, "a"),
                item("share/cleaned.txt", Class::Pii, 1, "b"),
                item("share/more.txt", Class::Pii, 1, "c"),
                item("share/old-place.txt", Class::Phi, 3, "d"),
                item("share/new-phi.txt", Class::None, 0, "e"),
            ],
            ..ScanData::default()
        };
        let new = ScanData {
            items: vec![
                item("share/same.txt", Class::Phi, 2, "a"),
                item("share/cleaned.txt", Class::None, 0, "b2"),
                item("share/more.txt", Class::Phi, 2, "c2"),
                item("share/new-place.txt", Class::Phi, 3, "d"),
                item("share/new-phi.txt", Class::Phi, 4, "e2"),
            ],
            ..ScanData::default()
        };
        let diff = compare(&old, &new);
        let summary: Vec<(ChangeKind, &str)> = diff
            .changes
            .iter()
            .map(|change| (change.change, change.location.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (ChangeKind::Gained, "share/new-phi.txt"),
                (ChangeKind::Lost, "share/cleaned.txt"),
                (ChangeKind::Changed, "share/more.txt"),
                (ChangeKind::Moved, "share/new-place.txt"),
            ]
        );
        let moved = &diff.changes[3];
        assert_eq!(moved.moved_from.as_deref(), Some("share/old-place.txt"));
        assert_eq!(diff.new_phi(), 2, "new-phi.txt and more.txt now hold PHI");
    }

    #[test]
    fn phi_item_gaining_an_identifier_is_new_phi() {
        let mut before = item("share/letter.txt", Class::Phi, 2, "a");
        before.categories = vec![Category::Name, Category::Diagnosis];
        let mut after = item("share/letter.txt", Class::Phi, 3, "b");
        after.categories = vec![Category::Name, Category::Ssn, Category::Diagnosis];
        let mut dated = item("share/letter.txt", Class::Phi, 3, "c");
        dated.categories = vec![Category::Name, Category::Date, Category::Diagnosis];
        let data = |item: &ItemRecord| ScanData {
            items: vec![item.clone()],
            ..ScanData::default()
        };
        let diff = compare(&data(&before), &data(&after));
        assert_eq!(diff.new_phi(), 1, "an SSN was added");
        let diff = compare(&data(&before), &data(&dated));
        assert_eq!(diff.new_phi(), 0, "a date is not a direct identifier");
    }

    /// Returns `item` as the newer scan saw it: not read whole, without
    /// findings.
    fn unread(item: ItemRecord, coverage: Coverage) -> ItemRecord {
        ItemRecord {
            coverage,
            class: Class::None,
            findings: 0,
            categories: Vec::new(),
            content_id: None,
            ..item
        }
    }

    #[test]
    fn unreadable_items_are_incomplete_not_lost() {
        let zip = item("share/scans.zip", Class::None, 0, "z");
        let member = ItemRecord {
            parent: Some("share/scans.zip".into()),
            ..item("share/scans.zip!/intake.csv", Class::Phi, 3, "m")
        };

        let old = ScanData {
            items: vec![
                item("share/roster.xlsx", Class::Phi, 5, "r"),
                item("share/cleaned.txt", Class::Pii, 1, "c"),
                unread(
                    item("share/broken.pdf", Class::None, 0, "b"),
                    Coverage::Error,
                ),
                zip.clone(),
                member,
            ],
            ..ScanData::default()
        };

        let new = ScanData {
            items: vec![
                unread(
                    item("share/roster.xlsx", Class::None, 0, ""),
                    Coverage::Encrypted,
                ),
                item("share/cleaned.txt", Class::None, 0, "c2"),
                unread(
                    item("share/broken.pdf", Class::None, 0, ""),
                    Coverage::Error,
                ),
                unread(zip, Coverage::Error),
                unread(item("share/fax.pdf", Class::None, 0, ""), Coverage::Partial),
                unread(item("share/link", Class::None, 0, ""), Coverage::Skipped),
            ],
            ..ScanData::default()
        };

        let diff = compare(&old, &new);
        assert_eq!(
            kinds_and_moves(&diff),
            vec![
                (ChangeKind::Lost, "share/cleaned.txt", None),
                (ChangeKind::Incomplete, "share/fax.pdf", None),
                (ChangeKind::Incomplete, "share/roster.xlsx", None),
                (ChangeKind::Incomplete, "share/scans.zip", None),
                (ChangeKind::Incomplete, "share/scans.zip!/intake.csv", None),
            ],
            "an item still unreadable, and a new link skipped on purpose, are not listed"
        );

        let roster = &diff.changes[2];
        assert_eq!(roster.old_coverage, Some(Coverage::Complete));
        assert_eq!(roster.new_coverage, Some(Coverage::Encrypted));
        assert_eq!(roster.old_class, Some(Class::Phi));

        let member = &diff.changes[4];
        assert_eq!(member.new_class, None, "the member was not seen");
        assert_eq!(
            member.new_coverage,
            Some(Coverage::Error),
            "the coverage of the container that was not read"
        );
        assert_eq!(diff.new_phi(), 0);
    }

    #[test]
    fn gone_unread_items_lost_or_moved() {
        let locked = |location: &str, content: &str| ItemRecord {
            coverage: Coverage::Encrypted,
            ..item(location, Class::None, 0, content)
        };
        let old = ScanData {
            items: vec![
                locked("share/claims.zip", "z"),
                locked("share/old/payroll.xlsx", "p"),
                unread(item("share/link", Class::None, 0, "l"), Coverage::Skipped),
            ],
            ..ScanData::default()
        };
        let new = ScanData {
            items: vec![locked("share/new/payroll.xlsx", "p")],
            ..ScanData::default()
        };
        let diff = compare(&old, &new);
        assert_eq!(
            kinds_and_moves(&diff),
            vec![
                (ChangeKind::Lost, "share/claims.zip", None),
                (
                    ChangeKind::Moved,
                    "share/new/payroll.xlsx",
                    Some("share/old/payroll.xlsx")
                ),
            ],
            "a link skipped on purpose is not listed"
        );
        assert_eq!(diff.new_phi(), 0);
    }

    #[test]
    fn unread_item_with_other_findings_is_changed() {
        let old = ScanData {
            items: vec![item("share/notes.docx", Class::Phi, 4, "a")],
            ..ScanData::default()
        };
        let mut partial = item("share/notes.docx", Class::Phi, 2, "b");
        partial.coverage = Coverage::Partial;
        let new = ScanData {
            items: vec![partial],
            ..ScanData::default()
        };
        let diff = compare(&old, &new);
        assert_eq!(
            kinds_and_moves(&diff),
            vec![(ChangeKind::Changed, "share/notes.docx", None)]
        );
        assert_eq!(diff.changes[0].new_coverage, Some(Coverage::Partial));
    }

    #[test]
    fn same_counts_with_other_values_are_changed() {
        let old = ScanData {
            items: vec![
                item("share/list.csv", Class::Phi, 2, "a"),
                item("share/saved-again.txt", Class::Phi, 2, "b"),
            ],
            ..ScanData::default()
        };
        let new = ScanData {
            items: vec![
                item("share/list.csv", Class::Phi, 2, "a2"),
                item("share/saved-again.txt", Class::Phi, 2, "b2"),
            ],
            ..ScanData::default()
        };
        let mut compared = Vec::new();
        let mut values_differ = |before: &ItemRecord, _: &ItemRecord| {
            compared.push(before.location.clone());
            Ok::<_, Infallible>(before.location == "share/list.csv")
        };
        let Ok(diff) =
            ScanDiff::compare((&scan("1"), &old), (&scan("2"), &new), &mut values_differ);

        assert_eq!(compared, vec!["share/list.csv", "share/saved-again.txt"]);
        assert_eq!(
            kinds_and_moves(&diff),
            vec![(ChangeKind::Changed, "share/list.csv", None)]
        );
        assert!(diff.changes[0].other_values);
        assert_eq!(diff.new_phi(), 0, "the same kinds of identifier");
    }

    #[test]
    fn members_move_with_their_container() {
        let member = |location: &str, parent: &str| ItemRecord {
            parent: Some(parent.into()),
            content_id: None,
            ..item(location, Class::Phi, 1, "")
        };
        let old = ScanData {
            items: vec![
                item("share/mail.mbox", Class::None, 0, "m"),
                member("share/mail.mbox!/1", "share/mail.mbox"),
                member("share/mail.mbox!/1!/scan.zip", "share/mail.mbox!/1"),
                member(
                    "share/mail.mbox!/1!/scan.zip!/a.txt",
                    "share/mail.mbox!/1!/scan.zip",
                ),
                member("share/other.mbox!/1", "share/other.mbox"),
            ],
            ..ScanData::default()
        };
        let new = ScanData {
            items: vec![
                item("archive/mail.mbox", Class::None, 0, "m"),
                member("archive/mail.mbox!/1", "archive/mail.mbox"),
                member("archive/mail.mbox!/1!/scan.zip", "archive/mail.mbox!/1"),
                member(
                    "archive/mail.mbox!/1!/scan.zip!/a.txt",
                    "archive/mail.mbox!/1!/scan.zip",
                ),
                member("archive/other.mbox!/1", "archive/other.mbox"),
            ],
            ..ScanData::default()
        };
        let diff = compare(&old, &new);
        let summary = kinds_and_moves(&diff);
        assert_eq!(
            summary,
            vec![
                // Its container has no content id in either scan, so no move is seen.
                (ChangeKind::Gained, "archive/other.mbox!/1", None),
                (ChangeKind::Lost, "share/other.mbox!/1", None),
                (
                    ChangeKind::Moved,
                    "archive/mail.mbox!/1",
                    Some("share/mail.mbox!/1")
                ),
                (
                    ChangeKind::Moved,
                    "archive/mail.mbox!/1!/scan.zip",
                    Some("share/mail.mbox!/1!/scan.zip")
                ),
                (
                    ChangeKind::Moved,
                    "archive/mail.mbox!/1!/scan.zip!/a.txt",
                    Some("share/mail.mbox!/1!/scan.zip!/a.txt")
                ),
            ]
        );
        assert_eq!(diff.new_phi(), 1, "only the member of other.mbox");
    }

    #[test]
    fn folders_move_with_their_files() {
        let folder = |location: &str| ItemRecord {
            format: "folder".into(),
            content_id: None,
            ..item(location, Class::Pii, 1, "")
        };
        let old = ScanData {
            items: vec![
                folder("old/share/MRN 1234567"),
                item("old/share/MRN 1234567/visit.txt", Class::None, 0, "v"),
                folder("old/share/MRN 7654321"),
                folder("old/share/MRN 5555555"),
                item("old/share/MRN 5555555/note.txt", Class::None, 0, "n"),
            ],
            ..ScanData::default()
        };
        let new = ScanData {
            items: vec![
                folder("new/share/MRN 1234567"),
                item("new/share/MRN 1234567/visit.txt", Class::None, 0, "v"),
                folder("new/share/MRN 7654321"),
                folder("new/share/MRN 9999999"),
                item("new/share/MRN 9999999/renamed.txt", Class::None, 0, "n"),
            ],
            ..ScanData::default()
        };
        let diff = compare(&old, &new);
        let summary = kinds_and_moves(&diff);
        assert_eq!(
            summary,
            vec![
                // Nothing below it to pair by.
                (ChangeKind::Gained, "new/share/MRN 7654321", None),
                // Its file moved, but under another name.
                (ChangeKind::Gained, "new/share/MRN 9999999", None),
                (ChangeKind::Lost, "old/share/MRN 5555555", None),
                (ChangeKind::Lost, "old/share/MRN 7654321", None),
                (
                    ChangeKind::Moved,
                    "new/share/MRN 1234567",
                    Some("old/share/MRN 1234567")
                ),
            ]
        );
    }
}
