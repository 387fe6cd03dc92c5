//! The columns of the asset inventory, shared by the CSV and Markdown reports.

use phiscan_core::Class;
use phiscan_inventory::LocationRow;

/// Column names of the CSV report, in order; `docs/reports.md` explains each.
pub const CSV_COLUMNS: [&str; 21] = [
    "asset",
    "system",
    "data_types",
    "highest_class",
    "items",
    "files",
    "items_phi",
    "items_pii",
    "bytes",
    "individuals_low",
    "individuals_high",
    "oldest_modified",
    "newest_modified",
    "protection",
    "exposure",
    "risky_places",
    "copies_elsewhere",
    "flows",
    "not_fully_examined",
    "risk",
    "recommended_action",
];

/// Returns the cells of one row, in the order of [`CSV_COLUMNS`].
pub fn row_cells(row: &LocationRow) -> Vec<String> {
    vec![
        row.location.clone(),
        row.system.clone(),
        data_types(row),
        highest_class(row).to_string(),
        row.items.to_string(),
        row.files.to_string(),
        row.phi_items().to_string(),
        row.count(Class::Pii).to_string(),
        row.bytes.to_string(),
        row.individuals.low.to_string(),
        row.individuals.high.to_string(),
        row.oldest.clone().unwrap_or_default(),
        row.newest.clone().unwrap_or_default(),
        protection(row),
        exposure(row),
        places(row),
        row.copies.to_string(),
        flows(row),
        row.incomplete.to_string(),
        row.risk.as_str().to_string(),
        actions(row),
    ]
}

/// Identifier and health categories, such as `ssn, mrn; diagnosis`.
pub fn data_types(row: &LocationRow) -> String {
    let identifiers: Vec<&str> = row.identifiers.iter().map(|c| c.as_str()).collect();
    let health: Vec<&str> = row.health.iter().map(|c| c.as_str()).collect();
    match (identifiers.is_empty(), health.is_empty()) {
        (true, true) => String::new(),
        (false, true) => identifiers.join(", "),
        (true, false) => health.join(", "),
        (false, false) => format!("{}; {}", identifiers.join(", "), health.join(", ")),
    }
}

/// Returns the most sensitive class present.
pub fn highest_class(row: &LocationRow) -> Class {
    Class::ALL
        .into_iter()
        .find(|class| row.count(*class) > 0)
        .unwrap_or(Class::None)
}

/// `N encrypted, M unprotected`, with `W weakly encrypted` between them
/// when a weak legacy cipher was found.
pub fn protection(row: &LocationRow) -> String {
    let protection = &row.protection;
    if protection.weak > 0 {
        format!(
            "{} encrypted, {} weakly encrypted, {} unprotected",
            protection.encrypted, protection.weak, protection.unprotected
        )
    } else {
        format!(
            "{} encrypted, {} unprotected",
            protection.encrypted, protection.unprotected
        )
    }
}

/// `N readable by all accounts, M by a group`, `owner only`, or nothing
/// when no sensitive item has permissions to judge by.
pub fn exposure(row: &LocationRow) -> String {
    if row.exposure.world == 0 && row.exposure.group == 0 {
        let text = if row.exposure.owner_only > 0 {
            "owner only"
        } else {
            ""
        };
        return text.into();
    }
    format!(
        "{} readable by all accounts, {} by a group",
        row.exposure.world, row.exposure.group
    )
}

/// `desktop: 2, sync-onedrive: 1`.
pub fn places(row: &LocationRow) -> String {
    row.places
        .iter()
        .map(|(place, count)| format!("{place}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `N external (M unencrypted) to a.example, b.example`.
pub fn flows(row: &LocationRow) -> String {
    let flows = &row.flows;
    if flows.external == 0 && flows.auto_forwarded == 0 {
        return String::new();
    }
    let mut text = format!(
        "{} external ({} unencrypted, {} webmail)",
        flows.external, flows.external_unencrypted, flows.webmail
    );
    if !flows.domains.is_empty() {
        text.push_str(" to ");
        text.push_str(&flows.domains.join(", "));
    }
    if flows.auto_forwarded > 0 {
        text.push_str(&format!("; {} auto-forwarded", flows.auto_forwarded));
    }
    text
}

/// Returns the recommended actions of every reason, without repeats.
pub fn actions(row: &LocationRow) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for reason in &row.reasons {
        if !seen.contains(&reason.action.as_str()) {
            seen.push(&reason.action);
        }
    }
    seen.join(" ")
}

/// Returns the reasons, joined by semicolons.
pub fn reasons(row: &LocationRow) -> String {
    row.reasons
        .iter()
        .map(|reason| reason.reason.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}
