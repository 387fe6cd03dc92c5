//! `phiscan inventory`: the data inventory of a scan, per location.

use crate::console::print_stdout;
use crate::exit;
use crate::paths;
use anyhow::Result;
use clap::Args;
use phiscan_core::Class;
use phiscan_core::location::sanitize_for_terminal;
use phiscan_inventory::{Database, GroupBy, Inventory, InventoryOptions, ScanInfo, StoreTarget};
use phiscan_report::columns;
use phiscan_report::console::human_bytes;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InventoryCommand {
    #[command(flatten)]
    pub store: InventoryArgs,

    /// Print the inventory as JSON (the JSON report's schema) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Replace file and folder names below the roots with numbered placeholders.
    #[arg(long)]
    pub mask_paths: bool,
}

pub fn run(command: InventoryCommand) -> Result<u8> {
    let mut database = command.store.open()?;
    let mut inventory = command.store.inventory(&mut database)?;
    if command.json {
        let generated = phiscan_engine::rfc3339(std::time::SystemTime::now());
        let text = phiscan_report::render(
            &inventory,
            phiscan_report::ReportFormat::Json,
            &generated,
            command.mask_paths,
        );
        print_stdout(&text)?;
        return Ok(exit::CLEAN);
    }
    if command.mask_paths {
        let roots = inventory.scan.roots.clone();
        phiscan_report::PathMasker::new(&roots).mask_inventory(&mut inventory);
    }

    // Written at once, so that a reader closing the pipe early (`| head`)
    // ends the output quietly.
    let mut out = String::new();
    let scan = &inventory.scan;
    writeln!(
        out,
        "Inventory of scan {} ({}, started {}{}), grouped by {}",
        scan.id,
        sanitize_for_terminal(scan.host.as_deref().unwrap_or("unknown host")),
        scan.started,
        if scan.complete { "" } else { ", interrupted" },
        inventory.group_by
    )?;
    let rows: Vec<_> = inventory
        .locations
        .iter()
        .chain(std::iter::once(&inventory.totals))
        .map(|row| (sanitize_for_terminal(&row.location), row))
        .collect();
    // The location column is as wide as its longest entry, so that a deep
    // mailbox folder does not push its own row's figures out of line.
    let width = rows
        .iter()
        .map(|(location, _)| location.chars().count())
        .max()
        .unwrap_or(0)
        .max(40);
    writeln!(
        out,
        "{:<width$} {:>6} {:>6} {:>6} {:>13} {:>10} {:>14} {:<42} {:<6}",
        "LOCATION", "ITEMS", "PHI", "PII", "INDIVIDUALS", "BYTES", "ENCRYPTED", "EXPOSURE", "RISK"
    )?;
    for (location, row) in rows {
        // Items phiscan could not read because they are encrypted, and how
        // many of them use a weak legacy cipher.
        let encrypted = match row.protection.weak {
            0 => row.protection.encrypted.to_string(),
            weak => format!("{} ({weak} weak)", row.protection.encrypted + weak),
        };
        writeln!(
            out,
            "{:<width$} {:>6} {:>6} {:>6} {:>13} {:>10} {:>14} {:<42} {:<6}",
            location,
            row.items,
            row.phi_items(),
            row.count(Class::Pii),
            format!("{}-{}", row.individuals.low, row.individuals.high),
            human_bytes(row.bytes),
            encrypted,
            columns::exposure(row),
            row.risk.as_str()
        )?;
    }
    let mut printed_header = false;
    for row in inventory.top_risks(10) {
        if !printed_header {
            writeln!(out, "\nRisks and recommended actions:")?;
            printed_header = true;
        }
        writeln!(
            out,
            "  {} ({})",
            sanitize_for_terminal(&row.location),
            row.risk.as_str()
        )?;
        for reason in &row.reasons {
            writeln!(out, "    - {}", sanitize_for_terminal(&reason.reason))?;
            writeln!(out, "      action: {}", reason.action)?;
        }
    }
    print_stdout(&out)?;
    Ok(exit::CLEAN)
}

/// The store and scan to read, and the grouping of the inventory.
#[derive(Args, Debug, Clone)]
pub struct InventoryArgs {
    /// Inventory store: a SQLite file or a postgres:// URL. Default:
    /// inventory.sqlite in the data folder ($PHISCAN_HOME, or phiscan under
    /// the user's data folder).
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<PathBuf>,

    /// Scan id, or a unique prefix of it (default: the newest complete scan).
    #[arg(long, value_name = "ID")]
    pub scan: Option<String>,

    /// One inventory location per root, per folder N levels below each root
    /// (folder:N), per mailbox folder, or per file.
    #[arg(
        long,
        value_name = "root|folder:N|mailbox|file",
        default_value = "folder:1"
    )]
    pub group_by: GroupBy,

    /// A mail domain of the practice (repeatable); mail to other domains
    /// counts as external. Without it, each flow record's own flag counts.
    #[arg(long, value_name = "DOMAIN")]
    pub internal_domain: Vec<String>,
}

impl InventoryArgs {
    /// Opens the store named by `--db` or the default one.
    pub fn open(&self) -> Result<Database> {
        let path = match &self.db {
            Some(path) => path.clone(),
            None => paths::default_store(&paths::data_dir()?),
        };
        Ok(Database::open_existing(&StoreTarget::parse(&path))?)
    }

    /// Returns the scan named by `--scan`, or the newest complete one.
    pub fn pick_scan(&self, database: &mut Database) -> Result<ScanInfo> {
        Ok(match &self.scan {
            Some(id) => database.scan(id)?,
            None => database.latest_scan()?,
        })
    }

    /// Builds the inventory of the chosen scan.
    pub fn inventory(&self, database: &mut Database) -> Result<Inventory> {
        let scan = self.pick_scan(database)?;
        let data = database.scan_data(&scan.id)?;
        let options = InventoryOptions {
            group_by: self.group_by,
            internal_domains: self.internal_domain.clone(),
        };
        Ok(Inventory::build(&scan, &data, &options))
    }
}
