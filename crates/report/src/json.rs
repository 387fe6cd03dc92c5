//! The JSON report: the inventory with a versioned schema.

use phiscan_inventory::Inventory;
use serde::Serialize;

/// Schema name and version of the JSON report; the version changes only
/// when a field changes meaning or is removed.
pub const SCHEMA: &str = "phiscan-report/1";

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    generated: &'a str,
    phiscan_version: &'static str,
    mask_paths: bool,
    #[serde(flatten)]
    inventory: &'a Inventory,
}

/// Renders the inventory as pretty-printed JSON.
pub fn render(inventory: &Inventory, generated: &str, mask_paths: bool) -> String {
    let document = Document {
        schema: SCHEMA,
        generated,
        phiscan_version: env!("CARGO_PKG_VERSION"),
        mask_paths,
        inventory,
    };
    let mut text = serde_json::to_string_pretty(&document)
        .unwrap_or_else(|err| format!("{{\"error\": \"cannot serialize the report: {err}\"}}"));
    text.push('\n');
    text
}
