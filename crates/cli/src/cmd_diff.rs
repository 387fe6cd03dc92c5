//! `phiscan diff`: items that gained, lost or changed identifiers or PHI
//! between two scans.

use crate::console::print_stdout;
use crate::exit;
use crate::paths;
use anyhow::{Result, bail};
use clap::Args;
use phiscan_core::Coverage;
use phiscan_core::location::sanitize_for_terminal;
use phiscan_core::records::ItemRecord;
use phiscan_inventory::{Database, ScanDiff, ScanInfo, StoreTarget};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DiffCommand {
    /// The older scan id (or unique prefix). Default: the complete scan of
    /// the same sweep (or the same roots) before NEW.
    #[arg(value_name = "OLD")]
    pub old: Option<String>,

    /// The newer scan id (or unique prefix). Default: the newest complete scan.
    #[arg(value_name = "NEW")]
    pub new: Option<String>,

    /// Inventory store: a SQLite file or a postgres:// URL. Default:
    /// inventory.sqlite in the data folder.
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<PathBuf>,

    /// Print the changes as JSON.
    #[arg(long)]
    pub json: bool,

    /// Replace file and folder names below the scanned roots with numbered
    /// placeholders, because names can hold patient names.
    #[arg(long)]
    pub mask_paths: bool,
}

pub fn run(command: DiffCommand) -> Result<u8> {
    let path = match &command.db {
        Some(path) => path.clone(),
        None => paths::default_store(&paths::data_dir()?),
    };
    let mut database = Database::open_existing(&StoreTarget::parse(&path))?;
    let (old, new) = match (&command.old, &command.new) {
        (Some(old), Some(new)) => (database.scan(old)?, database.scan(new)?),
        (Some(old), None) => (database.scan(old)?, database.latest_scan()?),
        _ => {
            let new = database.latest_scan()?;
            let Some(old) = previous_scan(&database.scans()?, &new) else {
                bail!(
                    "no earlier complete scan of {} to compare scan {} with; run another scan or sweep first, or give OLD and NEW",
                    new.roots.join(", "),
                    new.id
                );
            };
            (old, new)
        }
    };
    if old.started > new.started {
        eprintln!(
            "phiscan: note: scan {} started after scan {}, so gained and lost read backwards; give the older scan first",
            old.id, new.id
        );
    }
    let mut diff = compare(&mut database, &old, &new)?;
    if command.mask_paths {
        mask_paths(&mut diff);
    }
    print_diff(&diff, command.json)?;
    Ok(status(&diff))
}

/// Compares two scans of a store.
pub fn compare(database: &mut Database, old: &ScanInfo, new: &ScanInfo) -> Result<ScanDiff> {
    let (old_items, new_items) = database.diff_items(&old.id, &new.id)?;
    let old_data = phiscan_inventory::ScanData {
        items: old_items,
        ..Default::default()
    };
    let new_data = phiscan_inventory::ScanData {
        items: new_items,
        ..Default::default()
    };
    let mut values_differ = |before: &ItemRecord, after: &ItemRecord| {
        let old_values = database.fingerprints_of(&old.id, &before.location)?;
        let new_values = database.fingerprints_of(&new.id, &after.location)?;
        Ok::<_, phiscan_inventory::StoreError>(old_values != new_values)
    };
    let mut diff = ScanDiff::compare((old, &old_data), (new, &new_data), &mut values_differ)?;

    // Scans before `old` of the same sweep or roots, newest first: where an
    // item that `old` could not read was last read whole.
    let scans = database.scans()?;
    let earlier: Vec<&ScanInfo> = scans
        .iter()
        .take_while(|scan| scan.id != old.id)
        .filter(|scan| same_series(scan, new))
        .collect();
    let mut read_whole = |location: &str| {
        for scan in earlier.iter().rev() {
            if let Some(item) = database.own_item(&scan.id, location)?
                && item.coverage == Coverage::Complete
            {
                return Ok::<_, phiscan_inventory::StoreError>(Some((scan.id.clone(), item)));
            }
        }
        Ok(None)
    };
    diff.judge_unread(&mut read_whole)?;
    Ok(diff)
}

/// Replaces names below both scans' roots in the changed locations.
fn mask_paths(diff: &mut ScanDiff) {
    let roots: Vec<String> = diff
        .old
        .roots
        .iter()
        .chain(&diff.new.roots)
        .cloned()
        .collect();
    let mut masker = phiscan_report::PathMasker::new(&roots);
    for change in &mut diff.changes {
        change.location = masker.mask(&change.location);
        if let Some(from) = &change.moved_from {
            change.moved_from = Some(masker.mask(from));
        }
    }
}

/// Returns the complete scan before `new` of the same sweep, or of the same
/// roots for one-off scans.
pub fn previous_scan(scans: &[ScanInfo], new: &ScanInfo) -> Option<ScanInfo> {
    let position = scans.iter().position(|scan| scan.id == new.id)?;
    scans[..position]
        .iter()
        .rev()
        .find(|scan| scan.complete && same_series(scan, new))
        .cloned()
}

/// Returns true when `scan` belongs to the same sweep as `new`, or, for
/// one-off scans, covered the same roots.
fn same_series(scan: &ScanInfo, new: &ScanInfo) -> bool {
    match &new.sweep {
        Some(sweep) => scan.sweep.as_ref() == Some(sweep),
        None => scan.sweep.is_none() && scan.roots == new.roots,
    }
}

/// Returns the exit status for a scheduler: 1 when an item contains PHI
/// that it did not contain in the older scan, 0 otherwise.
pub fn status(diff: &ScanDiff) -> u8 {
    if diff.new_phi() > 0 {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}

/// Prints the changes, one line each: `+` gained, `-` lost, `~` changed,
/// `>` moved, `!` incomplete.
pub fn print_diff(diff: &ScanDiff, json: bool) -> Result<()> {
    if json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(diff)?))?;
        return Ok(());
    }
    let mut out = String::new();
    writeln!(
        out,
        "Changes from scan {} ({}) to scan {} ({}):",
        diff.old.id, diff.old.started, diff.new.id, diff.new.started
    )?;
    for change in &diff.changes {
        let mark = match change.change {
            phiscan_inventory::ChangeKind::Gained => '+',
            phiscan_inventory::ChangeKind::Lost => '-',
            phiscan_inventory::ChangeKind::Changed => '~',
            phiscan_inventory::ChangeKind::Moved => '>',
            phiscan_inventory::ChangeKind::Incomplete => '!',
        };
        let class = |class: Option<phiscan_core::Class>| class.map_or("absent", |c| c.as_str());
        // An item whose content was not read at all has no class to show,
        // and neither has a member missing because its container was not
        // read: neither is known to be clean or absent.
        let read_nothing = matches!(
            change.new_coverage,
            Some(Coverage::Encrypted | Coverage::Unsupported | Coverage::Error | Coverage::Skipped)
        );
        let new_class = if change.change == phiscan_inventory::ChangeKind::Incomplete
            && (change.new_class.is_none() || read_nothing)
        {
            "not read"
        } else {
            class(change.new_class)
        };
        // A changed item, or a moved one whose categories changed on the
        // way, lists the categories it gained and lost. Others list those
        // they contain.
        let compared = match change.change {
            phiscan_inventory::ChangeKind::Changed => true,
            phiscan_inventory::ChangeKind::Moved => change.old_categories != change.new_categories,
            _ => false,
        };
        let categories: Vec<String> = if compared {
            let added = change
                .new_categories
                .iter()
                .filter(|category| !change.old_categories.contains(category))
                .map(|category| format!("+{}", category.as_str()));
            let removed = change
                .old_categories
                .iter()
                .filter(|category| !change.new_categories.contains(category))
                .map(|category| format!("-{}", category.as_str()));
            added.chain(removed).collect()
        } else {
            let present = if change.new_categories.is_empty() {
                &change.old_categories
            } else {
                &change.new_categories
            };
            present.iter().map(|c| c.as_str().to_string()).collect()
        };
        let mut line = format!(
            "{mark} {:<8} {} ({} -> {}; {} -> {} findings",
            change.change.as_str(),
            sanitize_for_terminal(&change.location),
            class(change.old_class),
            new_class,
            change.old_findings,
            change.new_findings,
        );
        if change.old_coverage != change.new_coverage
            && let (Some(old), Some(new)) = (change.old_coverage, change.new_coverage)
        {
            line.push_str(&format!("; coverage {} -> {}", old.as_str(), new.as_str()));
        }
        if change.old_coverage.is_none()
            && let Some(new) = change.new_coverage.filter(|new| *new != Coverage::Complete)
        {
            line.push_str(&format!("; coverage {}", new.as_str()));
        }
        if !categories.is_empty() {
            line.push_str(&format!("; {}", categories.join(", ")));
        }
        if change.other_values {
            line.push_str("; other values");
        }
        if let Some(scan) = &change.known_from {
            line.push_str(&format!("; last read whole in scan {scan}"));
        }
        line.push(')');
        if let Some(from) = &change.moved_from {
            line.push_str(&format!(" from {}", sanitize_for_terminal(from)));
        }
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", change_counts(diff))?;
    if diff.old.rules_version != diff.new.rules_version {
        writeln!(
            out,
            "Note: the two scans used different rules ({} and {}), so a change may come from the rules rather than the files; compare scans made under the same rules to see what changed on the share.",
            diff.old.rules_version, diff.new.rules_version
        )?;
    }
    print_stdout(&out)?;
    Ok(())
}

/// Returns `G gained, L lost, C changed, M moved, I incomplete; N items
/// hold new PHI`.
pub(crate) fn change_counts(diff: &phiscan_inventory::ScanDiff) -> String {
    let new_phi = diff.new_phi();
    format!(
        "{} gained, {} lost, {} changed, {} moved, {} incomplete; {new_phi} {} new PHI",
        diff.count(phiscan_inventory::ChangeKind::Gained),
        diff.count(phiscan_inventory::ChangeKind::Lost),
        diff.count(phiscan_inventory::ChangeKind::Changed),
        diff.count(phiscan_inventory::ChangeKind::Moved),
        diff.count(phiscan_inventory::ChangeKind::Incomplete),
        if new_phi == 1 {
            "item holds"
        } else {
            "items hold"
        }
    )
}
