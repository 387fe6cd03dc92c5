//! The data inventory: one scan's items, findings and flows aggregated per
//! location, with exposure, protection, risky places, copies, flows and a
//! suggested risk level.

use crate::model::{ScanData, ScanInfo};
use phiscan_core::records::{FlowRecord, Individuals, ItemMeta, ItemRecord};
use phiscan_core::{Category, Class, Coverage, Role};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Estimated individuals at or above which a breach must be reported to
/// HHS within 60 days of discovery rather than in a yearly log (45 CFR
/// 164.408(b)).
pub const BREACH_NOTICE_INDIVIDUALS: u64 = 500;

/// Formats of mailbox files; outside a mail server they are stray exports.
const MAILBOX_FORMATS: &[&str] = &["mbox", "pst", "eml"];

/// How to cut the scan into inventory locations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// One location per scanned root.
    Root,
    /// One location per folder N levels below its root; files above that
    /// depth count in their own folder.
    Folder(usize),
    /// One location per mailbox folder (inside a mailbox file or an IMAP
    /// account); other items count in their folder.
    Mailbox,
    /// One location per file on disk (or mailbox on a mail server): the
    /// members of an archive or mailbox file count in that file.
    File,
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    fn from_str(text: &str) -> Result<GroupBy, String> {
        let invalid = || {
            format!(
                "invalid grouping {text:?}: use root, folder:N with N from 1 (folder:2 is two levels below each root), mailbox, or file"
            )
        };
        match text {
            "root" => Ok(GroupBy::Root),
            "mailbox" => Ok(GroupBy::Mailbox),
            "file" => Ok(GroupBy::File),
            _ => {
                let depth = text.strip_prefix("folder:").ok_or_else(invalid)?;
                match depth.parse::<usize>() {
                    Ok(depth) if depth >= 1 => Ok(GroupBy::Folder(depth)),
                    _ => Err(invalid()),
                }
            }
        }
    }
}

impl std::fmt::Display for GroupBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupBy::Root => f.write_str("root"),
            GroupBy::Folder(depth) => write!(f, "folder:{depth}"),
            GroupBy::Mailbox => f.write_str("mailbox"),
            GroupBy::File => f.write_str("file"),
        }
    }
}

/// Options of the aggregation.
#[derive(Clone, Debug)]
pub struct InventoryOptions {
    pub group_by: GroupBy,
    /// The practice's own mail domains. When given, a flow is external
    /// when its recipient domain is neither one of them nor a subdomain.
    /// Otherwise the flow record's own `external` flag counts.
    pub internal_domains: Vec<String>,
}

impl Default for InventoryOptions {
    fn default() -> InventoryOptions {
        InventoryOptions {
            group_by: GroupBy::Folder(1),
            internal_domains: Vec::new(),
        }
    }
}

/// Suggested risk level of a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskLevel {
    None,
    Low,
    Medium,
    High,
}

impl RiskLevel {
    /// Returns the name used in outputs, such as `medium`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::None => "none",
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

/// One reason for a risk level, with the action that addresses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskReason {
    pub level: RiskLevel,
    pub reason: String,
    pub action: String,
}

/// Items encrypted versus sensitive items readable as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Protection {
    /// Items phiscan found encrypted with a current cipher and could not read.
    pub encrypted: u64,
    /// Items encrypted with a weak legacy cipher (ZipCrypto, RC4, XOR
    /// obfuscation), which anyone can break. They are not in `encrypted`.
    pub weak: u64,
    /// Items classed phi, phi-likely or pii that are not encrypted.
    pub unprotected: u64,
}

/// Returns true when an encrypted item's reason names a weak legacy cipher.
/// The extractors' reasons contain `weak` for ZipCrypto and RC4, and `not
/// real encryption` for the XOR obfuscation of old Word files.
/// NOTE: the item record carries no cipher field, so this reads the reason
/// text. A new extractor must use the same words, or its weak cipher counts
/// as encryption.
fn is_weak_encryption(reason: &str) -> bool {
    reason.contains("weak") || reason.contains("not real encryption")
}

/// Sensitive items readable by others than their owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Exposure {
    /// Readable by every account: the other-read bit, or Everyone, Anonymous
    /// Logon, Authenticated Users, Users or Domain Users in the access
    /// control list.
    pub world: u64,
    /// Readable by a group of accounts, and not by every account: the
    /// group-read bit, or Guests in the access control list.
    pub group: u64,
    /// Readable by their owner only, as far as their permissions show. Items
    /// without permissions (mail on a server) are in no tier.
    pub owner_only: u64,
}

/// Email flows of PHI from one location, counted in messages: a message to
/// two outside domains, or forwarded to one, is one message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowCounts {
    /// Messages with a recipient outside the practice's domains.
    pub external: u64,
    /// Messages that went unencrypted to an outside recipient.
    pub external_unencrypted: u64,
    /// Messages to a recipient at a personal webmail provider.
    pub webmail: u64,
    /// Messages forwarded by a mailbox rule.
    pub auto_forwarded: u64,
    /// External recipient domains.
    pub domains: Vec<String>,
}

/// The inventory figures of one location.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocationRow {
    /// The location: a root, a folder, or a mailbox folder.
    pub location: String,
    /// Host name of the system that was scanned.
    pub system: String,
    /// Item records: files, container members and messages.
    pub items: u64,
    /// Top-level files.
    pub files: u64,
    /// Items per class (every class present).
    pub by_class: BTreeMap<Class, u64>,
    /// Identifier categories found.
    pub identifiers: Vec<Category>,
    /// Health signal categories found.
    pub health: Vec<Category>,
    /// Estimated distinct individuals, from keyed fingerprints.
    pub individuals: Individuals,
    /// Bytes of the top-level files.
    pub bytes: u64,
    /// Oldest modification among items with findings, RFC 3339 UTC.
    pub oldest: Option<String>,
    /// Newest modification among items with findings, RFC 3339 UTC.
    pub newest: Option<String>,
    pub protection: Protection,
    pub exposure: Exposure,
    /// Sensitive items per risky place (`desktop`, `sync-onedrive`,
    /// `removable`, `mail-export`, ...).
    pub places: BTreeMap<String, u64>,
    /// Sensitive items whose content also exists at another location.
    pub copies: u64,
    /// Other inventory locations holding those copies.
    pub copies_in: Vec<String>,
    pub flows: FlowCounts,
    /// Items not fully examined (coverage other than complete).
    pub incomplete: u64,
    pub risk: RiskLevel,
    pub reasons: Vec<RiskReason>,
}

impl LocationRow {
    /// Items classed phi or phi-likely.
    pub fn phi_items(&self) -> u64 {
        self.count(Class::Phi) + self.count(Class::PhiLikely)
    }

    /// Items classed phi, phi-likely or pii.
    pub fn sensitive_items(&self) -> u64 {
        self.phi_items() + self.count(Class::Pii)
    }

    /// Items of one class.
    pub fn count(&self, class: Class) -> u64 {
        self.by_class.get(&class).copied().unwrap_or(0)
    }
}

/// Content found at more than one location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopySet {
    /// The class of the content.
    pub class: Class,
    /// Every item location holding the content.
    pub items: Vec<String>,
    /// The inventory locations of those items.
    pub locations: Vec<String>,
}

/// PHI sent from one inventory location to one external domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowEdge {
    pub from: String,
    pub to_domain: String,
    pub messages: u64,
    pub unencrypted: u64,
    pub webmail: bool,
}

/// An item that was not fully examined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CoverageGap {
    pub location: String,
    pub coverage: Coverage,
    pub reason: Option<String>,
}

/// The data inventory of one scan.
#[derive(Clone, Debug, Serialize)]
pub struct Inventory {
    pub scan: ScanInfo,
    pub group_by: String,
    pub totals: LocationRow,
    pub locations: Vec<LocationRow>,
    pub copies: Vec<CopySet>,
    pub flows: Vec<FlowEdge>,
    pub coverage: BTreeMap<Coverage, u64>,
    pub gaps: Vec<CoverageGap>,
}

impl Inventory {
    /// Aggregates one scan.
    pub fn build(scan: &ScanInfo, data: &ScanData, options: &InventoryOptions) -> Inventory {
        let grouper = Grouper {
            roots: &scan.roots,
            group_by: options.group_by,
        };
        let system = scan.host.clone().unwrap_or_else(|| "unknown".into());
        let files: HashMap<&str, &ItemRecord> = data
            .items
            .iter()
            .filter(|item| item.parent.is_none())
            .map(|item| (item.path.as_str(), item))
            .collect();
        let group_of: HashMap<&str, String> = data
            .items
            .iter()
            .map(|item| {
                let container = files
                    .get(item.path.as_str())
                    .map(|file| file.format.as_str());
                (item.location.as_str(), grouper.key(item, container))
            })
            .collect();

        let mut builders: BTreeMap<String, RowBuilder> = BTreeMap::new();
        let mut totals = RowBuilder::new("all locations".into(), system.clone());
        for item in &data.items {
            let key = &group_of[item.location.as_str()];
            let file = files.get(item.path.as_str()).copied().unwrap_or(item);
            // The bytes of a group are those of its outermost items: the
            // messages of a mailbox group, not the attachments inside them.
            let outermost = item
                .parent
                .as_deref()
                .is_none_or(|parent| group_of.get(parent) != Some(key));
            builders
                .entry(key.clone())
                .or_insert_with(|| RowBuilder::new(key.clone(), system.clone()))
                .add_item(item, file, outermost);
            totals.add_item(item, file, item.parent.is_none());
        }
        for person in &data.people {
            if let Some(key) = group_of.get(person.location.as_str())
                && let Some(builder) = builders.get_mut(key)
            {
                builder.add_person(person.category, &person.fingerprint);
            }
            totals.add_person(person.category, &person.fingerprint);
        }

        let copies = copy_sets(&data.items, &group_of);
        for set in &copies {
            for key in set_item_groups(set, &group_of) {
                if let Some(builder) = builders.get_mut(&key) {
                    builder.copies += 1;
                    let others = set.locations.iter().filter(|other| **other != key);
                    builder.copies_in.extend(others.cloned());
                }
                totals.copies += 1;
            }
        }

        let flows = flow_edges(&data.flows, &group_of, &grouper, options);
        for flow in &data.flows {
            let external = is_external(flow, &options.internal_domains);
            let key = flow_group(flow, &group_of, &grouper);
            if let Some(builder) = builders.get_mut(&key) {
                builder.add_flow(flow, external);
            }
            totals.add_flow(flow, external);
        }

        let mut coverage: BTreeMap<Coverage, u64> =
            Coverage::ALL.into_iter().map(|state| (state, 0)).collect();
        let mut gaps = Vec::new();
        for item in &data.items {
            *coverage.entry(item.coverage).or_insert(0) += 1;
            if item.coverage != Coverage::Complete {
                gaps.push(CoverageGap {
                    location: item.location.clone(),
                    coverage: item.coverage,
                    reason: item.reason.clone(),
                });
            }
        }
        // Items arrive in the order worker threads finished them; sort so two
        // inventories of the same data read the same.
        gaps.sort_by(|a, b| a.location.cmp(&b.location));

        let mut locations: Vec<LocationRow> =
            builders.into_values().map(RowBuilder::finish).collect();
        locations.sort_by(|a, b| {
            b.risk
                .cmp(&a.risk)
                .then(b.phi_items().cmp(&a.phi_items()))
                .then(b.sensitive_items().cmp(&a.sensitive_items()))
                .then(a.location.cmp(&b.location))
        });
        Inventory {
            scan: scan.clone(),
            group_by: options.group_by.to_string(),
            totals: totals.finish(),
            locations,
            copies,
            flows,
            coverage,
            gaps,
        }
    }

    /// Returns the locations with a risk level above none, highest first.
    pub fn top_risks(&self, limit: usize) -> impl Iterator<Item = &LocationRow> {
        self.locations
            .iter()
            .filter(|row| row.risk > RiskLevel::None)
            .take(limit)
    }
}

fn set_item_groups(set: &CopySet, group_of: &HashMap<&str, String>) -> Vec<String> {
    set.items
        .iter()
        .map(|item| group_of.get(item.as_str()).cloned().unwrap_or_default())
        .collect()
}

/// Cuts locations into inventory locations.
struct Grouper<'a> {
    roots: &'a [String],
    group_by: GroupBy,
}

impl Grouper<'_> {
    /// Returns the root a path lies under (the longest that matches).
    fn root_of<'p>(&self, path: &'p str) -> (&'p str, &'p str) {
        let mut best: Option<usize> = None;
        for root in self.roots {
            let root = root.trim_end_matches(['/', '\\']);
            let matches = path == root
                || (path.starts_with(root) && path[root.len()..].starts_with(['/', '\\']))
                || root.is_empty();
            if matches && best.is_none_or(|length| root.len() > length) {
                best = Some(root.len());
            }
        }
        match best {
            Some(length) => (
                &path[..length],
                path[length..].trim_start_matches(['/', '\\']),
            ),
            None => ("", path),
        }
    }

    /// Returns the location an item counts in. `container` is the format of
    /// the top-level file that contains the item, when known.
    fn key(&self, item: &ItemRecord, container: Option<&str>) -> String {
        let (root, relative) = self.root_of(&item.path);
        match self.group_by {
            GroupBy::Root => {
                if root.is_empty() {
                    item.path.clone()
                } else {
                    root.to_string()
                }
            }
            GroupBy::Folder(depth) => {
                let folders: Vec<&str> = folder_parts(relative);
                join_location(root, &folders[..folders.len().min(depth)])
            }
            GroupBy::Mailbox => mailbox_key(item, container, root, relative),
            GroupBy::File => item.path.clone(),
        }
    }
}

/// Returns the folder components of a relative file path, without the file name.
fn folder_parts(relative: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = relative
        .split(['/', '\\'])
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    parts.pop();
    parts
}

fn join_location(root: &str, folders: &[&str]) -> String {
    let mut key = root.to_string();
    for folder in folders {
        if !key.is_empty() && !key.ends_with(['/', '\\']) {
            key.push('/');
        }
        key.push_str(folder);
    }
    if key.is_empty() { ".".into() } else { key }
}

/// Mailbox folder of a message and its attachments: the folder inside a
/// mailbox file (`export.pst!/Inbox`) or of an IMAP account
/// (`imaps://user@host:993!/INBOX`). Other items, members of an archive or
/// a document included, count in their folder.
fn mailbox_key(item: &ItemRecord, container: Option<&str>, root: &str, relative: &str) -> String {
    let in_mailbox = item.path.starts_with("imap://")
        || item.path.starts_with("imaps://")
        || matches!(container, Some("mbox" | "pst"));
    if in_mailbox
        && let Some(inner) = item.location.strip_prefix(item.path.as_str())
        && let Some(inner) = inner.strip_prefix('!')
    {
        let first_member = inner.split('!').next().unwrap_or("");
        let folder = match first_member.rfind('/') {
            Some(end) => &first_member[..end],
            None => "",
        };
        return if folder.is_empty() || folder == "/" {
            item.path.clone()
        } else {
            format!("{}!{}", item.path, folder)
        };
    }
    let folders = folder_parts(relative);
    join_location(root, &folders)
}

/// Accumulates one row.
struct RowBuilder {
    row: LocationRow,
    people: HashMap<Category, HashSet<String>>,
    categories: BTreeSet<Category>,
    domains: BTreeSet<String>,
    /// Messages per kind of flow, counted once each in [`FlowCounts`].
    external_messages: HashSet<String>,
    unencrypted_messages: HashSet<String>,
    webmail_messages: HashSet<String>,
    forwarded_messages: HashSet<String>,
    copies: u64,
    copies_in: BTreeSet<String>,
    mail_exports: u64,
}

impl RowBuilder {
    fn new(location: String, system: String) -> RowBuilder {
        RowBuilder {
            row: LocationRow {
                location,
                system,
                items: 0,
                files: 0,
                by_class: Class::ALL.into_iter().map(|class| (class, 0)).collect(),
                identifiers: Vec::new(),
                health: Vec::new(),
                individuals: Individuals::default(),
                bytes: 0,
                oldest: None,
                newest: None,
                protection: Protection::default(),
                exposure: Exposure::default(),
                places: BTreeMap::new(),
                copies: 0,
                copies_in: Vec::new(),
                flows: FlowCounts::default(),
                incomplete: 0,
                risk: RiskLevel::None,
                reasons: Vec::new(),
            },
            people: HashMap::new(),
            categories: BTreeSet::new(),
            domains: BTreeSet::new(),
            external_messages: HashSet::new(),
            unencrypted_messages: HashSet::new(),
            webmail_messages: HashSet::new(),
            forwarded_messages: HashSet::new(),
            copies: 0,
            copies_in: BTreeSet::new(),
            mail_exports: 0,
        }
    }

    /// Adds one item. `file` is the top-level file that contains it (the
    /// item itself for files), whose facts give exposure and places.
    /// `outermost` is true when no container of the item is in the row, so
    /// that its size counts in the row's bytes.
    fn add_item(&mut self, item: &ItemRecord, file: &ItemRecord, outermost: bool) {
        let row = &mut self.row;
        row.items += 1;
        *row.by_class.entry(item.class).or_insert(0) += 1;
        if item.format != "folder" {
            if item.parent.is_none() {
                row.files += 1;
            }
            if outermost {
                row.bytes += item.size;
            }
        }
        if item.coverage != Coverage::Complete {
            row.incomplete += 1;
        }
        if item.coverage == Coverage::Encrypted {
            if item.reason.as_deref().is_some_and(is_weak_encryption) {
                row.protection.weak += 1;
            } else {
                row.protection.encrypted += 1;
            }
        }
        self.categories.extend(item.categories.iter().copied());
        if item.findings > 0
            && let Some(modified) = &item.modified
        {
            if row.oldest.as_ref().is_none_or(|oldest| modified < oldest) {
                row.oldest = Some(modified.clone());
            }
            if row.newest.as_ref().is_none_or(|newest| modified > newest) {
                row.newest = Some(modified.clone());
            }
        }

        let sensitive = matches!(item.class, Class::Phi | Class::PhiLikely | Class::Pii);
        if !sensitive {
            return;
        }
        row.protection.unprotected += 1;
        count_exposure(&mut row.exposure, &file.meta);
        for place in &file.meta.places {
            *row.places.entry(place.clone()).or_insert(0) += 1;
        }
        if MAILBOX_FORMATS.contains(&file.format.as_str()) && !item.location.starts_with("imap") {
            self.mail_exports += 1;
        }
    }

    fn add_person(&mut self, category: Category, fingerprint: &str) {
        self.people
            .entry(category)
            .or_default()
            .insert(fingerprint.to_string());
    }

    fn add_flow(&mut self, flow: &FlowRecord, external: bool) {
        let message = || flow.location.clone();
        if flow.auto_forwarded {
            self.forwarded_messages.insert(message());
        }
        if !external {
            return;
        }
        self.external_messages.insert(message());
        if flow.protection != "encrypted" {
            self.unencrypted_messages.insert(message());
        }
        if flow.webmail {
            self.webmail_messages.insert(message());
        }
        self.domains.insert(flow.to_domain.to_lowercase());
    }

    fn finish(mut self) -> LocationRow {
        let counts = self.people.values().map(|values| values.len() as u64);
        self.row.individuals = Individuals {
            low: counts.clone().max().unwrap_or(0),
            high: counts.sum(),
        };
        for category in &self.categories {
            if category.default_role() == Role::Health {
                self.row.health.push(*category);
            } else {
                self.row.identifiers.push(*category);
            }
        }
        if self.mail_exports > 0 {
            self.row
                .places
                .insert("mail-export".into(), self.mail_exports);
        }
        self.row.copies = self.copies;
        self.row.copies_in = self.copies_in.into_iter().collect();
        let flows = &mut self.row.flows;
        flows.external = self.external_messages.len() as u64;
        flows.external_unencrypted = self.unencrypted_messages.len() as u64;
        flows.webmail = self.webmail_messages.len() as u64;
        flows.auto_forwarded = self.forwarded_messages.len() as u64;
        flows.domains = self.domains.into_iter().collect();
        let reasons = crate::risk::assess(&self.row);
        self.row.risk = reasons
            .iter()
            .map(|reason| reason.level)
            .max()
            .unwrap_or(RiskLevel::None);
        self.row.reasons = reasons;
        self.row
    }
}

/// Exposure values that let every account read a file: the other-read bit,
/// and the Everyone, Anonymous Logon, Authenticated Users, Users and Domain
/// Users entries of a Windows access control list. Windows puts
/// Authenticated Users in Users by default and a domain member adds Domain
/// Users, and in a practice's domain every staff account is a Domain User,
/// so both reach every account that can sign in.
const EVERY_ACCOUNT_READERS: &[&str] = &[
    "world",
    "everyone",
    "anonymous",
    "authenticated-users",
    "users",
    "domain-users",
];

/// Exposure values that let a group of accounts read a file: the group-read
/// bit, and the Guests entry of a Windows access control list.
const GROUP_READERS: &[&str] = &["group", "guests"];

/// Counts one sensitive item in the widest exposure tier its file's readers
/// reach.
fn count_exposure(exposure: &mut Exposure, meta: &ItemMeta) {
    let readers = &meta.exposure;
    let any_of = |tier: &[&str]| readers.iter().any(|reader| tier.contains(&reader.as_str()));
    if any_of(EVERY_ACCOUNT_READERS) {
        exposure.world += 1;
    } else if any_of(GROUP_READERS) {
        exposure.group += 1;
    } else if meta.mode.is_some() || !readers.is_empty() {
        exposure.owner_only += 1;
    }
}

/// Finds contents present at more than one item location, among items with
/// identifiers (phi, phi-likely, pii).
fn copy_sets(items: &[ItemRecord], group_of: &HashMap<&str, String>) -> Vec<CopySet> {
    let mut by_content: BTreeMap<&str, Vec<&ItemRecord>> = BTreeMap::new();
    for item in items {
        let sensitive = matches!(item.class, Class::Phi | Class::PhiLikely | Class::Pii);
        if let (true, Some(content)) = (sensitive, item.content_id.as_deref()) {
            by_content.entry(content).or_default().push(item);
        }
    }
    let mut sets: Vec<CopySet> = by_content
        .into_values()
        .filter(|holders| holders.len() > 1)
        .map(|holders| {
            let locations: BTreeSet<String> = holders
                .iter()
                .filter_map(|item| group_of.get(item.location.as_str()).cloned())
                .collect();
            CopySet {
                class: holders
                    .iter()
                    .map(|item| item.class)
                    .min()
                    .unwrap_or(Class::None),
                items: holders.iter().map(|item| item.location.clone()).collect(),
                locations: locations.into_iter().collect(),
            }
        })
        .collect();
    sets.sort_by(|a, b| {
        a.class
            .cmp(&b.class)
            .then(b.items.len().cmp(&a.items.len()))
    });
    sets
}

fn is_external(flow: &FlowRecord, internal_domains: &[String]) -> bool {
    if internal_domains.is_empty() {
        return flow.external;
    }
    let domain = flow.to_domain.to_lowercase();
    !internal_domains.iter().any(|internal| {
        let internal = internal.to_lowercase();
        domain == internal || domain.ends_with(&format!(".{internal}"))
    })
}

fn flow_group(
    flow: &FlowRecord,
    group_of: &HashMap<&str, String>,
    grouper: &Grouper<'_>,
) -> String {
    if let Some(key) = group_of.get(flow.location.as_str()) {
        return key.clone();
    }
    // A flow whose message item is missing (written by an older phiscan or
    // cut by an interruption) counts where its location places it.
    let (root, relative) = grouper.root_of(&flow.location);
    join_location(root, &folder_parts(relative))
}

/// An edge being built, with the messages it counts and those of them
/// that went unencrypted.
type EdgeMessages<'a> = (FlowEdge, HashSet<&'a str>, HashSet<&'a str>);

fn flow_edges(
    flows: &[FlowRecord],
    group_of: &HashMap<&str, String>,
    grouper: &Grouper<'_>,
    options: &InventoryOptions,
) -> Vec<FlowEdge> {
    // A message counts once per domain, even when it reached the domain
    // through two header fields (To and a forwarding rule's X-Forwarded-To).
    let mut edges: BTreeMap<(String, String), EdgeMessages<'_>> = BTreeMap::new();
    for flow in flows {
        if !is_external(flow, &options.internal_domains) {
            continue;
        }
        let from = flow_group(flow, group_of, grouper);
        let domain = flow.to_domain.to_lowercase();
        let (edge, messages, unencrypted) = edges
            .entry((from.clone(), domain.clone()))
            .or_insert_with(|| {
                let edge = FlowEdge {
                    from,
                    to_domain: domain,
                    messages: 0,
                    unencrypted: 0,
                    webmail: false,
                };
                (edge, HashSet::new(), HashSet::new())
            });
        messages.insert(flow.location.as_str());
        if flow.protection != "encrypted" {
            unencrypted.insert(flow.location.as_str());
        }
        edge.webmail |= flow.webmail;
    }
    edges
        .into_values()
        .map(|(mut edge, messages, unencrypted)| {
            edge.messages = messages.len() as u64;
            edge.unencrypted = unencrypted.len() as u64;
            edge
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_message_counts_once_per_domain() {
        let flow = |location: &str, field: &str, forwarded: bool| FlowRecord {
            location: location.into(),
            sent: None,
            from_domain: "clinic.example".into(),
            to_domain: "yahoo.com".into(),
            field: field.into(),
            external: true,
            webmail: true,
            protection: "none".into(),
            auto_forwarded: forwarded,
            attachments: 0,
            class: Class::Phi,
            categories: Vec::new(),
        };
        let flows = [
            flow("mail/a.eml", "to", false),
            flow("mail/a.eml", "x-forwarded-to", true),
            flow("mail/b.eml", "to", false),
        ];
        let roots = vec!["mail".to_string()];
        let grouper = Grouper {
            roots: &roots,
            group_by: GroupBy::Root,
        };
        let group_of = HashMap::new();
        let edges = flow_edges(&flows, &group_of, &grouper, &InventoryOptions::default());
        assert_eq!(edges.len(), 1);
        assert_eq!(edges[0].messages, 2);
        assert_eq!(edges[0].unencrypted, 2);

        let mut row = RowBuilder::new("mail".into(), "host".into());
        for flow in &flows {
            row.add_flow(flow, true);
        }
        let row = row.finish();
        assert_eq!(row.flows.external, 2);
        assert_eq!(row.flows.external_unencrypted, 2);
        assert_eq!(row.flows.webmail, 2);
        assert_eq!(row.flows.auto_forwarded, 1);
    }

    #[test]
    fn weak_ciphers_from_extractor_reasons() {
        let cases = [
            (
                "encrypted zip entry (ZipCrypto, a weak legacy cipher that does not protect PHI); content not examined",
                true,
            ),
            ("encrypted PDF (RC4 40-bit, weak)", true),
            (
                "encrypted .doc (XOR obfuscation, not real encryption)",
                true,
            ),
            ("encrypted zip entry (AES-256); content not examined", false),
            ("encrypted workbook (Agile encryption, AES-256)", false),
        ];
        for (reason, weak) in cases {
            assert_eq!(is_weak_encryption(reason), weak, "{reason}");
        }
    }

    #[test]
    fn group_by_parses_and_rejects() {
        assert_eq!("root".parse::<GroupBy>(), Ok(GroupBy::Root));
        assert_eq!("folder:2".parse::<GroupBy>(), Ok(GroupBy::Folder(2)));
        assert_eq!("mailbox".parse::<GroupBy>(), Ok(GroupBy::Mailbox));
        let err = "folder:0".parse::<GroupBy>().unwrap_err();
        assert!(err.contains("\"folder:0\""), "{err}");
        assert!("disk".parse::<GroupBy>().is_err());
    }

    fn item(location: &str, path: &str) -> ItemRecord {
        ItemRecord {
            location: location.into(),
            path: path.into(),
            format: "text".into(),
            size: 1,
            modified: None,
            class: Class::None,
            coverage: Coverage::Complete,
            reason: None,
            parent: None,
            findings: 0,
            categories: Vec::new(),
            individuals: Individuals::default(),
            content_id: None,
            meta: Default::default(),
        }
    }

    #[test]
    fn exposure_values_count_in_tiers() {
        // (readers, permission bits known, (world, group, owner only))
        type Case<'a> = (&'a [&'a str], bool, (u64, u64, u64));
        let cases: &[Case] = &[
            (&["world", "group"], true, (1, 0, 0)),
            (&["group"], true, (0, 1, 0)),
            (&["everyone"], false, (1, 0, 0)),
            (&["anonymous"], false, (1, 0, 0)),
            (&["authenticated-users"], false, (1, 0, 0)),
            (&["users"], false, (1, 0, 0)),
            (&["domain-users"], false, (1, 0, 0)),
            (&["guests"], false, (0, 1, 0)),
            (&["users", "everyone"], false, (1, 0, 0)),
            (&[], true, (0, 0, 1)),
            (&[], false, (0, 0, 0)),
            (&["unknown-group"], false, (0, 0, 1)),
        ];
        for (readers, known, (world, group, owner_only)) in cases {
            let meta = ItemMeta {
                exposure: readers.iter().map(|reader| reader.to_string()).collect(),
                mode: known.then(|| "-rw-------".to_string()),
                ..ItemMeta::default()
            };
            let mut exposure = Exposure::default();
            count_exposure(&mut exposure, &meta);
            assert_eq!(exposure.world, *world, "{readers:?}");
            assert_eq!(exposure.group, *group, "{readers:?}");
            assert_eq!(exposure.owner_only, *owner_only, "{readers:?} {known}");
        }
    }

    #[test]
    fn keys_follow_the_grouping() {
        let roots = vec!["share".to_string(), "/home/ana".to_string()];
        let key = |group_by, location: &str, path: &str| {
            let container = if path.ends_with(".pst") {
                Some("pst")
            } else if path.ends_with(".zip") {
                Some("zip")
            } else {
                None
            };
            Grouper {
                roots: &roots,
                group_by,
            }
            .key(&item(location, path), container)
        };
        assert_eq!(
            key(GroupBy::Root, "share/a/b/c.txt", "share/a/b/c.txt"),
            "share"
        );
        assert_eq!(
            key(GroupBy::Folder(1), "share/a/b/c.txt", "share/a/b/c.txt"),
            "share/a"
        );
        assert_eq!(
            key(GroupBy::Folder(2), "share/a/b/c.txt", "share/a/b/c.txt"),
            "share/a/b"
        );
        assert_eq!(
            key(GroupBy::Folder(3), "share/a/b/c.txt", "share/a/b/c.txt"),
            "share/a/b"
        );
        assert_eq!(
            key(GroupBy::Folder(1), "share/c.txt", "share/c.txt"),
            "share"
        );
        assert_eq!(
            key(
                GroupBy::Folder(1),
                "/home/ana/Desktop/x.csv",
                "/home/ana/Desktop/x.csv"
            ),
            "/home/ana/Desktop"
        );
        assert_eq!(
            key(
                GroupBy::Mailbox,
                "share/mail/export.pst!/Inbox/000123",
                "share/mail/export.pst"
            ),
            "share/mail/export.pst!/Inbox"
        );
        assert_eq!(
            key(
                GroupBy::Mailbox,
                "share/mail/export.pst!/Inbox/000123!/lab.pdf",
                "share/mail/export.pst"
            ),
            "share/mail/export.pst!/Inbox"
        );
        let account = "imaps://frontdesk@mail.clinic.example:993";
        for location in ["INBOX/17", "INBOX/17!/lab.pdf"] {
            assert_eq!(
                key(GroupBy::Mailbox, &format!("{account}!/{location}"), account),
                format!("{account}!/INBOX")
            );
        }
        assert_eq!(
            key(GroupBy::Mailbox, "share/a/c.txt", "share/a/c.txt"),
            "share/a"
        );
        // An archive's members count in the archive's folder.
        assert_eq!(
            key(
                GroupBy::Mailbox,
                "share/a/archive.zip!/2024/jan.csv",
                "share/a/archive.zip"
            ),
            "share/a"
        );
    }
}
