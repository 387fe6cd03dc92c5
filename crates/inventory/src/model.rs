//! What the store returns when read: scans, and one scan's records.

use phiscan_core::Category;
use phiscan_core::records::{FlowRecord, ItemRecord, SummaryRecord};
use serde::Serialize;

/// One scan as the store recorded it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScanInfo {
    pub id: String,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// End time, RFC 3339 UTC; None while running or after a crash.
    pub finished: Option<String>,
    pub roots: Vec<String>,
    /// phiscan's version.
    pub version: String,
    pub rules_version: String,
    pub host: Option<String>,
    /// False while running, after an interruption, or after a crash.
    pub complete: bool,
    /// Name of the sweep configuration that started it.
    pub sweep: Option<String>,
    /// Id of the interrupted scan it resumed.
    pub resumed_from: Option<String>,
    /// The summary record, once the scan finished.
    pub summary: Option<SummaryRecord>,
}

/// The keyed fingerprint of one value that identifies a person, without the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonKey {
    /// Location of the item holding it.
    pub location: String,
    pub category: Category,
    pub fingerprint: String,
}

/// Everything the inventory and the reports need of one scan.
#[derive(Clone, Debug, Default)]
pub struct ScanData {
    pub items: Vec<ItemRecord>,
    /// Fingerprints of the person-identifying categories (SSN, MRN, health
    /// plan id, name, email), for estimates of distinct individuals.
    pub people: Vec<PersonKey>,
    pub flows: Vec<FlowRecord>,
}

/// The categories whose values each belong to one person, as in the
/// scan summary's estimate.
pub const PERSON_CATEGORIES: [Category; 5] = [
    Category::Ssn,
    Category::Mrn,
    Category::HealthPlanId,
    Category::Name,
    Category::Email,
];
