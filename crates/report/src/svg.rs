//! Inline SVG charts for the HTML report: horizontal bar charts and the
//! data-flow diagram. Every text is escaped; nothing refers to another file.

use crate::html::escape;
use phiscan_inventory::Inventory;
use std::fmt::Write;

/// One bar: label and value.
pub struct Bar {
    pub label: String,
    pub value: u64,
}

const WIDTH: u32 = 720;
const LABEL_WIDTH: u32 = 300;
const ROW_HEIGHT: u32 = 22;

/// Renders a horizontal bar chart; labels longer than 45 characters are
/// shortened from the left, because the end of a path tells the most.
pub fn bar_chart(title: &str, bars: &[Bar], color: &str) -> String {
    let height = ROW_HEIGHT * bars.len().max(1) as u32 + 10;
    let max = bars.iter().map(|bar| bar.value).max().unwrap_or(0).max(1);
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg role="img" aria-label="{}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">"##,
        escape(title)
    );
    if bars.is_empty() {
        let _ = write!(
            out,
            r##"<text x="0" y="16" class="muted">nothing to show</text>"##
        );
    }
    for (index, bar) in bars.iter().enumerate() {
        let y = index as u32 * ROW_HEIGHT + 4;
        let length =
            ((WIDTH - LABEL_WIDTH - 60) as f64 * bar.value as f64 / max as f64).round() as u32;
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{LABEL_WIDTH}" y="{y}" width="{}" height="{}" fill="{color}"/><text x="{}" y="{}">{}</text>"##,
            LABEL_WIDTH - 6,
            y + 14,
            escape(&shorten(&bar.label, 45)),
            length.max(1),
            ROW_HEIGHT - 6,
            LABEL_WIDTH + length + 6,
            y + 14,
            bar.value
        );
    }
    out.push_str("</svg>");
    out
}

fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let tail: String = text.chars().skip(count - (max - 1)).collect();
    format!("…{tail}")
}

/// Draws locations on the left and external domains on the right, with a
/// line per flow (red when unencrypted, width by messages), and dashed arcs
/// between locations that hold copies of the same content.
pub fn flow_diagram(inventory: &Inventory) -> String {
    let mut locations: Vec<&str> = Vec::new();
    let mut domains: Vec<&str> = Vec::new();
    for flow in &inventory.flows {
        if !locations.contains(&flow.from.as_str()) {
            locations.push(&flow.from);
        }
        if !domains.contains(&flow.to_domain.as_str()) {
            domains.push(&flow.to_domain);
        }
    }
    let mut copy_pairs: Vec<(&str, &str)> = Vec::new();
    for set in &inventory.copies {
        for (index, first) in set.locations.iter().enumerate() {
            for second in &set.locations[index + 1..] {
                if !copy_pairs.contains(&(first.as_str(), second.as_str())) {
                    copy_pairs.push((first, second));
                }
            }
        }
    }
    for (first, second) in &copy_pairs {
        for location in [first, second] {
            if !locations.contains(location) {
                locations.push(location);
            }
        }
    }
    if locations.is_empty() {
        return "<p class=\"muted\">No flow of PHI to outside domains and no copy across locations was found.</p>".into();
    }
    locations.truncate(30);
    domains.truncate(30);

    let box_height = 24;
    let gap = 12;
    let rows = locations.len().max(domains.len()) as u32;
    let height = rows * (box_height + gap) + 20;
    let (left_x, right_x, box_width) = (150u32, 520u32, 200u32);
    let center = |index: usize| 10 + index as u32 * (box_height + gap) + box_height / 2;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg role="img" aria-label="data flows" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">"##
    );
    for (first, second) in &copy_pairs {
        let (Some(a), Some(b)) = (
            locations.iter().position(|l| l == first),
            locations.iter().position(|l| l == second),
        ) else {
            continue;
        };
        let (y1, y2) = (center(a), center(b));
        let bend = left_x.saturating_sub(40 + 10 * (a.abs_diff(b) as u32).min(10));
        let _ = write!(
            out,
            r##"<path d="M {left_x} {y1} C {bend} {y1}, {bend} {y2}, {left_x} {y2}" fill="none" stroke="#7a5cc2" stroke-dasharray="4 3" stroke-width="1.5"><title>copies of the same content</title></path>"##
        );
    }
    for flow in &inventory.flows {
        let (Some(a), Some(b)) = (
            locations.iter().position(|l| *l == flow.from),
            domains.iter().position(|d| *d == flow.to_domain),
        ) else {
            continue;
        };
        let color = if flow.unencrypted > 0 {
            "#c0392b"
        } else {
            "#2e7d32"
        };
        let width = 1.0 + (flow.messages as f64).log2().max(0.0);
        let _ = write!(
            out,
            r##"<line x1="{}" y1="{}" x2="{right_x}" y2="{}" stroke="{color}" stroke-width="{width:.1}"><title>{} {}, {} unencrypted</title></line>"##,
            left_x + box_width,
            center(a),
            center(b),
            flow.messages,
            if flow.messages == 1 {
                "message"
            } else {
                "messages"
            },
            flow.unencrypted
        );
    }
    for (index, location) in locations.iter().enumerate() {
        let y = center(index) - box_height / 2;
        let _ = write!(
            out,
            r##"<rect x="{left_x}" y="{y}" width="{box_width}" height="{box_height}" rx="4" fill="#eef3fb" stroke="#4a6fa5"/><text x="{}" y="{}" text-anchor="middle">{}</text>"##,
            left_x + box_width / 2,
            y + 16,
            escape(&shorten(location, 28))
        );
    }
    for (index, domain) in domains.iter().enumerate() {
        let y = center(index) - box_height / 2;
        let _ = write!(
            out,
            r##"<rect x="{right_x}" y="{y}" width="{box_width}" height="{box_height}" rx="4" fill="#fdf0ef" stroke="#c0392b"/><text x="{}" y="{}" text-anchor="middle">{}</text>"##,
            right_x + box_width / 2,
            y + 16,
            escape(&shorten(domain, 28))
        );
    }
    out.push_str("</svg>");
    out
}
