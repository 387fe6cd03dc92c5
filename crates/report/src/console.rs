//! The summary printed at the end of a scan.

use phiscan_core::records::SummaryRecord;
use std::fmt::Write;

/// Renders a summary for the terminal: items by class and coverage, findings
/// by category, bytes, duration and throughput.
pub fn summary_text(summary: &SummaryRecord) -> String {
    let mut out = String::new();
    let state = if summary.complete {
        ""
    } else {
        " (interrupted: not every item was scanned)"
    };
    let _ = writeln!(
        out,
        "Scanned {} items, {} in {} ({}/s){state}",
        summary.items,
        human_bytes(summary.bytes),
        seconds(summary.duration),
        human_bytes(rate(summary.bytes, summary.duration)),
    );

    let classes: Vec<String> = summary
        .by_class
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(class, count)| format!("{class} {count}"))
        .collect();
    let _ = writeln!(out, "  items by class:    {}", or_none(&classes));

    let coverage: Vec<String> = summary
        .by_coverage
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(coverage, count)| format!("{coverage} {count}"))
        .collect();
    let _ = writeln!(out, "  items by coverage: {}", or_none(&coverage));

    let mut categories: Vec<(&phiscan_core::Category, &u64)> = summary.by_category.iter().collect();
    categories.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let categories: Vec<String> = categories
        .iter()
        .map(|(category, count)| format!("{category} {count}"))
        .collect();
    let _ = writeln!(
        out,
        "  findings:          {} ({})",
        summary.findings,
        or_none(&categories)
    );
    if !summary.individuals.is_zero() {
        let _ = writeln!(
            out,
            "  individuals:       an estimated {} to {} distinct people",
            summary.individuals.low, summary.individuals.high
        );
    }
    out
}

fn or_none(parts: &[String]) -> String {
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn rate(bytes: u64, seconds: f64) -> u64 {
    if seconds > 0.0 {
        (bytes as f64 / seconds) as u64
    } else {
        bytes
    }
}

/// Formats a byte count with a binary unit, such as `1.5 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Formats a duration in seconds: two decimals below one second, so that a
/// short scan does not read "0.0s", one above.
fn seconds(duration: f64) -> String {
    if duration < 1.0 {
        format!("{duration:.2}s")
    } else {
        format!("{duration:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phiscan_core::{Category, Class, Coverage};

    #[test]
    fn summary_lists_counts() {
        let mut summary = SummaryRecord {
            scan: "s".into(),
            items: 3,
            findings: 4,
            bytes: 2048,
            duration: 2.0,
            complete: true,
            ..SummaryRecord::default()
        };
        summary.by_class.insert(Class::Phi, 1);
        summary.by_class.insert(Class::None, 2);
        summary.by_coverage.insert(Coverage::Complete, 3);
        summary.by_category.insert(Category::Ssn, 3);
        summary.by_category.insert(Category::Date, 1);
        let text = summary_text(&summary);
        assert!(
            text.contains("Scanned 3 items, 2.0 KiB in 2.0s (1.0 KiB/s)"),
            "{text}"
        );
        assert!(text.contains("phi 1, none 2"), "{text}");
        assert!(text.contains("4 (ssn 3, date 1)"), "{text}");
        assert!(!text.contains("interrupted"), "{text}");
    }

    #[test]
    fn short_durations_keep_two_digits() {
        assert_eq!(seconds(0.035), "0.04s");
        assert_eq!(seconds(0.0), "0.00s");
        assert_eq!(seconds(2.0), "2.0s");
        assert_eq!(seconds(207.04), "207.0s");
    }

    #[test]
    fn bytes_are_human_readable() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
    }
}
