//! The HTML report: one self-contained file with inline CSS and SVG, no
//! script and no reference to another file or host, readable on screen and
//! when printed to PDF.

use crate::columns;
use crate::markdown::TOP_RISKS;
use crate::svg::{Bar, bar_chart, flow_diagram};
use phiscan_core::Class;
use phiscan_inventory::Inventory;
use std::fmt::Write;

/// Gaps listed in the coverage section before the list is cut.
const GAPS_LISTED: usize = 500;

/// The content security policy forbids every fetch (scripts, images, fonts,
/// frames, connections) and allows only the inline styles and SVG of the
/// page itself, so a browser opening the report makes no network request.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1d2733; max-width: 1200px; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ccd; padding-bottom: 0.2rem; margin-top: 2rem; }
.muted { color: #667; fill: #667; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; }
.card { border: 1px solid #ccd; border-radius: 6px; padding: 0.6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.5rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { border: 1px solid #ccd; padding: 0.25rem 0.4rem; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
td.num { text-align: right; }
.risk-high { background: #fbe3e1; } .risk-medium { background: #fdf3dc; } .risk-low { background: #eef6ec; }
svg text { font-size: 12px; font-family: inherit; }
code { word-break: break-all; }
@media print {
  body { margin: 0; max-width: none; }
  h2 { break-after: avoid; }
  tr, .card, svg { break-inside: avoid; }
  table { font-size: 0.7rem; }
}
"#;

/// Renders the inventory as one HTML page.
pub fn render(inventory: &Inventory, generated: &str, mask_paths: bool) -> String {
    let mut out = String::new();
    let scan = &inventory.scan;
    let host = scan.host.as_deref().unwrap_or("unknown host");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>PHI inventory: {}</title><style>{STYLE}</style></head><body>\n",
        escape(host)
    );
    let _ = writeln!(out, "<h1>PHI inventory</h1>");
    let _ = writeln!(
        out,
        "<p class=\"muted\">{} scanned {}, started {}{}. Report generated {}.</p>",
        escape(host),
        escape(&scan.roots.join(", ")),
        escape(&scan.started),
        if scan.complete {
            ""
        } else {
            " <b>(interrupted: not every item was scanned)</b>"
        },
        escape(generated)
    );
    summary(&mut out, inventory);
    top_risks(&mut out, inventory);
    inventory_table(&mut out, inventory);
    charts(&mut out, inventory);
    let _ = writeln!(out, "<h2 id=\"flows\">Data flows and copies</h2>");
    let _ = writeln!(
        out,
        "<p class=\"muted\">Left: inventory locations. Right: outside mail domains that received PHI; red lines were unencrypted. Dashed arcs join locations holding identical copies.</p>"
    );
    out.push_str(&flow_diagram(inventory));
    copies(&mut out, inventory);
    coverage(&mut out, inventory);
    method(&mut out, inventory, mask_paths);
    out.push_str("</body></html>\n");
    out
}

fn summary(out: &mut String, inventory: &Inventory) {
    let totals = &inventory.totals;
    let high = inventory
        .locations
        .iter()
        .filter(|row| row.risk == phiscan_inventory::RiskLevel::High)
        .count();
    let cards = [
        ("items examined", totals.items.to_string()),
        ("items with PHI", totals.phi_items().to_string()),
        ("identifiers only", totals.count(Class::Pii).to_string()),
        (
            "estimated individuals",
            format!("{}–{}", totals.individuals.low, totals.individuals.high),
        ),
        ("high-risk locations", high.to_string()),
        ("encrypted items", totals.protection.encrypted.to_string()),
        (
            "weakly encrypted items (ZipCrypto, RC4)",
            totals.protection.weak.to_string(),
        ),
        ("not fully examined", totals.incomplete.to_string()),
    ];
    let _ = writeln!(out, "<h2 id=\"summary\">Summary</h2><div class=\"cards\">");
    for (label, value) in cards {
        let _ = writeln!(
            out,
            "<div class=\"card\"><b>{}</b>{}</div>",
            escape(&value),
            label
        );
    }
    out.push_str("</div>\n");
}

fn top_risks(out: &mut String, inventory: &Inventory) {
    let _ = writeln!(
        out,
        "<h2 id=\"risks\">Top risks and recommended actions</h2>"
    );
    let mut any = false;
    out.push_str("<ol>\n");
    for row in inventory.top_risks(TOP_RISKS) {
        any = true;
        let _ = writeln!(
            out,
            "<li class=\"risk-{}\"><b>{}</b>, risk {}<ul>",
            row.risk.as_str(),
            escape(&row.location),
            row.risk.as_str()
        );
        for reason in &row.reasons {
            let _ = writeln!(
                out,
                "<li>{}. <i>Action:</i> {}</li>",
                escape(&reason.reason),
                escape(&reason.action)
            );
        }
        out.push_str("</ul></li>\n");
    }
    out.push_str("</ol>\n");
    if !any {
        out.push_str("<p>No location holds identifiers or PHI.</p>\n");
    }
}

fn inventory_table(out: &mut String, inventory: &Inventory) {
    let _ = writeln!(
        out,
        "<h2 id=\"inventory\">Inventory</h2><p class=\"muted\">One row per location, grouped by {}.</p>",
        escape(&inventory.group_by)
    );
    out.push_str(
        "<table><thead><tr><th>location</th><th>system</th><th>data types</th><th>items</th>\
         <th>PHI items</th><th>PII items</th><th>individuals</th><th>bytes</th><th>modified</th>\
         <th>protection</th><th>exposure</th><th>risky places</th><th>copies elsewhere</th>\
         <th>flows</th><th>not fully examined</th><th>risk</th></tr></thead><tbody>\n",
    );
    for row in &inventory.locations {
        let modified = match (&row.oldest, &row.newest) {
            (Some(oldest), Some(newest)) => format!("{oldest} to {newest}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr class=\"risk-{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}–{}</td><td class=\"num\">{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            row.risk.as_str(),
            escape(&row.location),
            escape(&row.system),
            escape(&columns::data_types(row)),
            row.items,
            row.phi_items(),
            row.count(Class::Pii),
            row.individuals.low,
            row.individuals.high,
            crate::console::human_bytes(row.bytes),
            escape(&modified),
            escape(&columns::protection(row)),
            escape(&columns::exposure(row)),
            escape(&columns::places(row)),
            row.copies,
            escape(&columns::flows(row)),
            row.incomplete,
            row.risk.as_str(),
        );
    }
    out.push_str("</tbody></table>\n");
}

fn charts(out: &mut String, inventory: &Inventory) {
    let _ = writeln!(out, "<h2 id=\"charts\">PHI by location and category</h2>");
    let mut by_location: Vec<Bar> = inventory
        .locations
        .iter()
        .filter(|row| row.sensitive_items() > 0)
        .map(|row| Bar {
            label: row.location.clone(),
            value: row.sensitive_items(),
        })
        .collect();
    by_location.sort_by(|a, b| b.value.cmp(&a.value).then(a.label.cmp(&b.label)));
    by_location.truncate(15);
    out.push_str("<h3>Items with identifiers or PHI, by location</h3>\n");
    out.push_str(&bar_chart(
        "items with identifiers by location",
        &by_location,
        "#4a6fa5",
    ));

    let mut by_category: Vec<Bar> = inventory
        .scan
        .summary
        .as_ref()
        .map(|summary| {
            summary
                .by_category
                .iter()
                .map(|(category, count)| Bar {
                    label: category.as_str().to_string(),
                    value: *count,
                })
                .collect()
        })
        .unwrap_or_default();
    by_category.sort_by(|a, b| b.value.cmp(&a.value).then(a.label.cmp(&b.label)));
    out.push_str("<h3>Findings by category</h3>\n");
    out.push_str(&bar_chart("findings by category", &by_category, "#c0392b"));
}

fn copies(out: &mut String, inventory: &Inventory) {
    if inventory.copies.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h3>Identical copies</h3><table><thead><tr><th>class</th><th>items holding the same content</th></tr></thead><tbody>"
    );
    for set in inventory.copies.iter().take(100) {
        let items: Vec<String> = set
            .items
            .iter()
            .map(|item| format!("<code>{}</code>", escape(item)))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            set.class,
            items.join("<br>")
        );
    }
    out.push_str("</tbody></table>\n");
}

fn coverage(out: &mut String, inventory: &Inventory) {
    let _ = writeln!(
        out,
        "<h2 id=\"coverage\">Coverage: what was not fully examined</h2>"
    );
    let states: Vec<String> = inventory
        .coverage
        .iter()
        .map(|(state, count)| format!("{state}: {count}"))
        .collect();
    let _ = writeln!(
        out,
        "<p>Items by coverage: {}. Only complete items without findings are clean; the items below may hold PHI.</p>",
        escape(&states.join(", "))
    );
    if inventory.gaps.is_empty() {
        out.push_str("<p>Every item was examined completely.</p>\n");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>item</th><th>coverage</th><th>reason</th></tr></thead><tbody>\n",
    );
    for gap in inventory.gaps.iter().take(GAPS_LISTED) {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            escape(&gap.location),
            gap.coverage,
            escape(gap.reason.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</tbody></table>\n");
    if inventory.gaps.len() > GAPS_LISTED {
        let _ = writeln!(
            out,
            "<p>and {} more; the JSON report lists all.</p>",
            inventory.gaps.len() - GAPS_LISTED
        );
    }
}

fn method(out: &mut String, inventory: &Inventory, mask_paths: bool) {
    let scan = &inventory.scan;
    let _ = writeln!(out, "<h2 id=\"method\">Method</h2><table><tbody>");
    let rows = [
        ("phiscan version", scan.version.clone()),
        ("rules version", scan.rules_version.clone()),
        ("scan id", scan.id.clone()),
        ("started", scan.started.clone()),
        (
            "finished",
            scan.finished
                .clone()
                .unwrap_or_else(|| "not finished".into()),
        ),
        ("roots", scan.roots.join(", ")),
        (
            "sweep",
            scan.sweep
                .clone()
                .unwrap_or_else(|| "none (one-off scan)".into()),
        ),
        ("grouping", inventory.group_by.clone()),
        (
            "file and folder names",
            if mask_paths {
                "masked".into()
            } else {
                "shown".into()
            },
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(
            out,
            "<tr><th>{label}</th><td><code>{}</code></td></tr>",
            escape(&value)
        );
    }
    out.push_str("</tbody></table>\n");
    out.push_str(
        "<p>phiscan reads each file, detects identifiers and health information with versioned rules, \
         and links them per record (row, page, message) to class each item. Matched values are never \
         stored or shown here: only categories, counts and keyed fingerprints, from which the number of \
         distinct individuals is estimated as a range. Exposure comes from file permissions, risky places \
         from folder names and device types, copies from keyed content digests. Risk levels are \
         suggestions for the risk analysis, from the rules described in phiscan's inventory documentation.</p>\n",
    );
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            ch if ch.is_control() => out.push('\u{FFFD}'),
            ch => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_controls() {
        assert_eq!(
            escape("<img src=x onerror='a'>&"),
            "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;"
        );
        assert_eq!(escape("a\u{1b}b"), "a\u{FFFD}b");
    }
}
