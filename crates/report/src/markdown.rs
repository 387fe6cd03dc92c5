//! The Markdown report, for pasting into a risk-analysis document.

use crate::columns;
use phiscan_core::Class;
use phiscan_inventory::Inventory;
use std::fmt::Write;

/// Top risks listed in the Markdown and HTML reports.
pub const TOP_RISKS: usize = 10;

/// Renders the inventory as GitHub-flavored Markdown.
pub fn render(inventory: &Inventory, generated: &str) -> String {
    let mut out = String::new();
    let scan = &inventory.scan;
    let totals = &inventory.totals;
    let _ = writeln!(out, "# PHI inventory\n");
    let _ = writeln!(
        out,
        "Scan `{}` of {} on {}, started {}{}. Report generated {generated}.\n",
        scan.id,
        cell(&scan.roots.join(", ")),
        cell(scan.host.as_deref().unwrap_or("an unknown host")),
        scan.started,
        if scan.complete {
            ""
        } else {
            " (interrupted: not every item was scanned)"
        },
    );

    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(out, "| measure | value |\n|---|---|");
    let _ = writeln!(out, "| items examined | {} |", totals.items);
    let _ = writeln!(out, "| items with PHI | {} |", totals.phi_items());
    let _ = writeln!(
        out,
        "| items with identifiers only | {} |",
        totals.count(Class::Pii)
    );
    let _ = writeln!(
        out,
        "| estimated individuals | {} to {} |",
        totals.individuals.low, totals.individuals.high
    );
    let _ = writeln!(out, "| encrypted items | {} |", totals.protection.encrypted);
    let _ = writeln!(
        out,
        "| weakly encrypted items (ZipCrypto, RC4) | {} |",
        totals.protection.weak
    );
    let _ = writeln!(out, "| items not fully examined | {} |", totals.incomplete);
    let _ = writeln!(
        out,
        "| locations | {} (grouped by {}) |\n",
        inventory.locations.len(),
        inventory.group_by
    );

    let _ = writeln!(out, "## Top risks\n");
    let mut any = false;
    for (rank, row) in inventory.top_risks(TOP_RISKS).enumerate() {
        any = true;
        let _ = writeln!(
            out,
            "{}. **{}**, risk {}",
            rank + 1,
            cell(&row.location),
            row.risk.as_str()
        );
        for reason in &row.reasons {
            let _ = writeln!(
                out,
                "   - {}. Action: {}",
                cell(&reason.reason),
                cell(&reason.action)
            );
        }
    }
    if !any {
        let _ = writeln!(out, "No location holds identifiers or PHI.");
    }

    let _ = writeln!(out, "\n## Inventory\n");
    let _ = writeln!(
        out,
        "| location | system | data types | PHI items | PII items | individuals | bytes | modified | protection | exposure | risky places | flows | risk |"
    );
    let _ = writeln!(out, "|---|---|---|--:|--:|---|--:|---|---|---|---|---|---|");
    for row in &inventory.locations {
        let modified = match (&row.oldest, &row.newest) {
            (Some(oldest), Some(newest)) => format!(
                "{} to {}",
                &oldest[..10.min(oldest.len())],
                &newest[..10.min(newest.len())]
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} to {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&row.location),
            cell(&row.system),
            cell(&columns::data_types(row)),
            row.phi_items(),
            row.count(Class::Pii),
            row.individuals.low,
            row.individuals.high,
            row.bytes,
            modified,
            columns::protection(row),
            columns::exposure(row),
            cell(&columns::places(row)),
            cell(&columns::flows(row)),
            row.risk.as_str(),
        );
    }

    let _ = writeln!(out, "\n## Coverage\n");
    let states: Vec<String> = inventory
        .coverage
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(state, count)| format!("{state} {count}"))
        .collect();
    let _ = writeln!(out, "Items by coverage: {}.\n", states.join(", "));
    for gap in inventory.gaps.iter().take(50) {
        let _ = writeln!(
            out,
            "- `{}`: {} ({})",
            gap.location.replace('`', "'"),
            gap.coverage,
            cell(gap.reason.as_deref().unwrap_or("no reason recorded"))
        );
    }
    if inventory.gaps.len() > 50 {
        let _ = writeln!(
            out,
            "- and {} more; the JSON and HTML reports list all",
            inventory.gaps.len() - 50
        );
    }

    let _ = writeln!(out, "\n## Method\n");
    let _ = writeln!(
        out,
        "phiscan {} with rules version `{}`. Findings are masked and counted, never stored as values; individuals are estimated from keyed fingerprints.",
        scan.version, scan.rules_version
    );
    out
}

/// Escapes text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
