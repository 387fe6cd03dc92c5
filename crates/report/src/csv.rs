//! The CSV report: one row per inventory location, for the asset inventory
//! of a risk analysis.

use crate::columns::{CSV_COLUMNS, row_cells};
use phiscan_inventory::Inventory;

/// Renders the inventory as CSV (RFC 4180, CRLF line ends).
pub fn render(inventory: &Inventory) -> String {
    let mut out = String::new();
    push_row(&mut out, CSV_COLUMNS.iter().map(|name| name.to_string()));
    for row in &inventory.locations {
        push_row(&mut out, row_cells(row).into_iter());
    }
    out
}

fn push_row(out: &mut String, cells: impl Iterator<Item = String>) {
    let cells: Vec<String> = cells
        .map(|cell| quote(&neutralize_formula(&cell)))
        .collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// Prefixes an apostrophe to a cell that starts with `=`, `+`, `-` or `@`.
/// Spreadsheets run such a cell as a formula, and file names from a share
/// are untrusted.
fn neutralize_formula(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_neutralized() {
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(
            neutralize_formula("=HYPERLINK(\"x\")"),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(neutralize_formula("share/a"), "share/a");
    }
}
