//! Outputs: JSON Lines records, the console summary, and the reports over
//! the inventory.
//!
//! [`JsonLines`] writes one record per line, as `docs/output.md` documents.
//! [`summary_text`] renders a summary record for the terminal.
//! [`render`] turns an [`Inventory`](phiscan_inventory::Inventory) into an
//! HTML, CSV, JSON or Markdown report, as `docs/reports.md` documents. With
//! path masking, every file and folder name below a root is replaced first.
//! Reports never contain matched values or previews.

pub mod columns;
pub mod console;
pub mod csv;
pub mod html;
pub mod json;
pub mod jsonl;
pub mod markdown;
pub mod mask;
pub mod svg;

pub use console::summary_text;
pub use jsonl::JsonLines;
pub use mask::PathMasker;

use phiscan_inventory::Inventory;

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Html,
    Csv,
    Json,
    Markdown,
}

impl std::str::FromStr for ReportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<ReportFormat, String> {
        match text {
            "html" => Ok(ReportFormat::Html),
            "csv" => Ok(ReportFormat::Csv),
            "json" => Ok(ReportFormat::Json),
            "md" | "markdown" => Ok(ReportFormat::Markdown),
            other => Err(format!(
                "invalid report format {other:?}: use html, csv, json or md"
            )),
        }
    }
}

/// Renders a report; `generated` is the report's time stamp. With
/// `mask_paths`, names below the roots are masked in a copy of the inventory.
pub fn render(
    inventory: &Inventory,
    format: ReportFormat,
    generated: &str,
    mask_paths: bool,
) -> String {
    let masked;
    let inventory = if mask_paths {
        let mut copy = inventory.clone();
        PathMasker::new(&copy.scan.roots.clone()).mask_inventory(&mut copy);
        masked = copy;
        &masked
    } else {
        inventory
    };
    match format {
        ReportFormat::Html => html::render(inventory, generated, mask_paths),
        ReportFormat::Csv => csv::render(inventory),
        ReportFormat::Json => json::render(inventory, generated, mask_paths),
        ReportFormat::Markdown => markdown::render(inventory, generated),
    }
}
