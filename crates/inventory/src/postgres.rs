//! The PostgreSQL store, for consultants who consolidate many hosts or
//! practices in one database: each host scans its own data and writes its
//! records here, with the same tables and columns as the SQLite store.
//!
//! NOTE: the connection is made without TLS. Reach a server on another
//! machine through an SSH tunnel or a VPN; locations and masked previews
//! travel in the clear otherwise.

use crate::blocks::{Block, PendingFindings, PeopleRow, decode_block};
use crate::cache::{EarlierResults, LoadedItem, Stored};
use crate::model::{PERSON_CATEGORIES, PersonKey, ScanData, ScanInfo};
use crate::read::{FLOW_COLUMNS, parse_categories, parse_category};
use phiscan_core::cache::{CachedFile, CachedItem, FileKey, ItemCache};
use phiscan_core::location::MEMBER_SEPARATOR;
use phiscan_core::records::{
    FindingForm, FindingRecord, FlowRecord, Individuals, ItemMeta, ItemRecord, Record, RecordSink,
    ScanRecord, SinkError, SummaryRecord,
};
use phiscan_core::{Category, Class, Coverage};
use postgres::{Client, NoTls, Row, Statement};
use std::collections::HashSet;
use std::sync::Mutex;

/// Schema migrations, in the same order and with the same tables, views and
/// columns as the SQLite store's; types follow PostgreSQL (BIGINT, BOOLEAN).
/// A migration added to the SQLite store needs its counterpart here. This
/// store copies reused rows (the default of `RecordSink::record_reused`), so
/// its `reused_items` table stays empty.
const MIGRATIONS: &[&str] = &[
    // 1: scans, items and findings.
    r#"
    CREATE TABLE scans (
        seq BIGSERIAL,
        id TEXT PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT,
        roots TEXT NOT NULL,
        version TEXT NOT NULL,
        rules_version TEXT NOT NULL,
        host TEXT,
        complete BOOLEAN NOT NULL DEFAULT FALSE,
        summary TEXT
    );
    CREATE TABLE items (
        seq BIGSERIAL,
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        path TEXT NOT NULL,
        parent TEXT,
        format TEXT NOT NULL,
        size BIGINT NOT NULL,
        modified TEXT,
        class TEXT NOT NULL,
        coverage TEXT NOT NULL,
        reason TEXT,
        findings BIGINT NOT NULL,
        categories TEXT NOT NULL,
        individuals_low BIGINT NOT NULL,
        individuals_high BIGINT NOT NULL,
        content_id TEXT,
        PRIMARY KEY (scan_id, location)
    );
    CREATE TABLE findings (
        seq BIGSERIAL,
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        rule TEXT NOT NULL,
        category TEXT NOT NULL,
        confidence INTEGER NOT NULL,
        start BIGINT NOT NULL,
        "end" BIGINT NOT NULL,
        line BIGINT NOT NULL,
        "column" BIGINT NOT NULL,
        locator TEXT NOT NULL,
        preview TEXT NOT NULL,
        fingerprint TEXT NOT NULL
    );
    CREATE INDEX findings_by_item ON findings (scan_id, location);
    CREATE INDEX findings_by_fingerprint ON findings (fingerprint);
    CREATE INDEX items_by_class ON items (scan_id, class);
    "#,
    // 2: data flows by email.
    r#"
    CREATE TABLE flows (
        seq BIGSERIAL,
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        sent TEXT,
        from_domain TEXT NOT NULL,
        to_domain TEXT NOT NULL,
        field TEXT NOT NULL,
        external BOOLEAN NOT NULL,
        webmail BOOLEAN NOT NULL,
        protection TEXT NOT NULL,
        auto_forwarded BOOLEAN NOT NULL,
        attachments INTEGER NOT NULL,
        class TEXT NOT NULL,
        categories TEXT NOT NULL
    );
    CREATE INDEX flows_by_scan ON flows (scan_id, to_domain);
    "#,
    // 3: where the last IMAP sweep of each folder stopped. phiscan keeps
    // this state in SQLite stores only; the table keeps both schemas alike.
    r#"
    CREATE TABLE imap_folders (
        account TEXT NOT NULL,
        folder TEXT NOT NULL,
        uidvalidity BIGINT NOT NULL,
        last_uid BIGINT NOT NULL,
        pending TEXT NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (account, folder)
    );
    "#,
    // 4: file facts, incremental cache keys, sweeps, and the views.
    r#"
    ALTER TABLE scans ADD COLUMN sweep TEXT;
    ALTER TABLE scans ADD COLUMN resumed_from TEXT;
    ALTER TABLE items ADD COLUMN mode TEXT;
    ALTER TABLE items ADD COLUMN uid BIGINT;
    ALTER TABLE items ADD COLUMN gid BIGINT;
    ALTER TABLE items ADD COLUMN file_id TEXT;
    ALTER TABLE items ADD COLUMN modified_ns BIGINT;
    ALTER TABLE items ADD COLUMN exposure TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE items ADD COLUMN places TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE items ADD COLUMN reused BOOLEAN NOT NULL DEFAULT FALSE;
    CREATE INDEX items_by_path ON items (scan_id, path);
    CREATE INDEX items_by_content ON items (scan_id, content_id) WHERE parent IS NULL;
    CREATE TABLE reused_items (
        seq BIGSERIAL,
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        path TEXT NOT NULL,
        parent TEXT,
        origin_scan TEXT NOT NULL,
        origin_location TEXT NOT NULL,
        mode TEXT,
        uid BIGINT,
        gid BIGINT,
        file_id TEXT,
        modified_ns BIGINT,
        exposure TEXT NOT NULL DEFAULT '[]',
        places TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (scan_id, location)
    );
    CREATE INDEX reused_items_by_path ON reused_items (scan_id, path);
    CREATE VIEW all_items AS
        SELECT scan_id, location, path, parent, format, size, modified, class,
               coverage, reason, findings, categories, individuals_low,
               individuals_high, content_id, mode, uid, gid, file_id,
               modified_ns, exposure, places, reused,
               scan_id AS origin_scan, location AS origin_location, seq
        FROM items
        UNION ALL
        SELECT r.scan_id, r.location, r.path, r.parent, o.format, o.size,
               o.modified, o.class, o.coverage, o.reason, o.findings,
               o.categories, o.individuals_low, o.individuals_high,
               o.content_id, r.mode, r.uid, r.gid, r.file_id, r.modified_ns,
               r.exposure, r.places, TRUE, r.origin_scan, r.origin_location,
               r.seq
        FROM reused_items r
        JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location;
    CREATE VIEW all_findings AS
        SELECT scan_id, location, rule, category, confidence, start, "end",
               line, "column", locator, preview, fingerprint
        FROM findings
        UNION ALL
        SELECT r.scan_id, r.location, f.rule, f.category, f.confidence,
               f.start, f."end", f.line, f."column", f.locator, f.preview,
               f.fingerprint
        FROM reused_items r
        JOIN findings f ON f.scan_id = r.origin_scan AND f.location = r.origin_location;
    CREATE VIEW coverage AS
        SELECT scan_id, location, path, format, coverage, reason
        FROM all_items WHERE coverage <> 'complete';
    CREATE VIEW incremental_cache AS
        SELECT s.rules_version, s.sweep, i.scan_id, i.location, i.size,
               i.modified_ns, i.file_id, i.content_id
        FROM all_items i JOIN scans s ON s.id = i.scan_id
        WHERE i.parent IS NULL;
    "#,
    // 5: which findings identify one patient, for the individuals estimate.
    r#"
    ALTER TABLE findings ADD COLUMN person BOOLEAN NOT NULL DEFAULT FALSE;
    DROP VIEW all_findings;
    CREATE VIEW all_findings AS
        SELECT scan_id, location, rule, category, confidence, start, "end",
               line, "column", locator, preview, fingerprint, person
        FROM findings
        UNION ALL
        SELECT r.scan_id, r.location, f.rule, f.category, f.confidence,
               f.start, f."end", f.line, f."column", f.locator, f.preview,
               f.fingerprint, f.person
        FROM reused_items r
        JOIN findings f ON f.scan_id = r.origin_scan AND f.location = r.origin_location;
    "#,
    // 6: findings in blocks, person fingerprints per item, numbered item
    // rows and unchanged items by ranges of numbers, as in the SQLite store.
    // This store copies reused rows, so unchanged_items stays empty too.
    r#"
    CREATE TABLE finding_blocks (
        seq BIGSERIAL PRIMARY KEY,
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        findings JSONB NOT NULL
    );
    CREATE INDEX finding_blocks_by_item ON finding_blocks (scan_id, location);
    CREATE TABLE people (
        seq BIGSERIAL,
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        category TEXT NOT NULL,
        fingerprints JSONB NOT NULL
    );
    CREATE INDEX people_by_item ON people (scan_id, location);
    INSERT INTO finding_blocks (scan_id, location, findings)
        SELECT scan_id, location,
               jsonb_agg(jsonb_build_array(rule, category, confidence, start,
                   "end", line, "column", locator::jsonb, preview, fingerprint,
                   person::integer) ORDER BY seq)
        FROM findings
        GROUP BY scan_id, location
        ORDER BY min(seq);
    INSERT INTO people (scan_id, location, category, fingerprints)
        SELECT scan_id, location, category,
               jsonb_agg(DISTINCT fingerprint ORDER BY fingerprint)
        FROM findings WHERE person
        GROUP BY scan_id, location, category;
    ALTER TABLE items ADD COLUMN ordinal BIGINT;
    UPDATE items SET ordinal = numbered.ordinal
        FROM (SELECT seq AS id,
                     row_number() OVER (PARTITION BY scan_id ORDER BY seq) - 1 AS ordinal
              FROM items) AS numbered
        WHERE items.seq = numbered.id;
    CREATE INDEX items_by_ordinal ON items (scan_id, ordinal);
    CREATE INDEX items_members_by_path ON items (scan_id, path) WHERE parent IS NOT NULL;
    CREATE TABLE unchanged_items (
        seq BIGSERIAL,
        scan_id TEXT NOT NULL REFERENCES scans(id),
        origin_scan TEXT NOT NULL,
        ranges JSONB NOT NULL
    );
    CREATE INDEX unchanged_items_by_scan ON unchanged_items (scan_id);
    DROP VIEW incremental_cache;
    DROP VIEW coverage;
    DROP VIEW all_findings;
    DROP VIEW all_items;
    DROP TABLE findings;
    CREATE VIEW findings AS
        SELECT b.scan_id, b.location,
               f.value ->> 0 AS rule, f.value ->> 1 AS category,
               (f.value ->> 2)::integer AS confidence,
               (f.value ->> 3)::bigint AS start, (f.value ->> 4)::bigint AS "end",
               (f.value ->> 5)::bigint AS line, (f.value ->> 6)::bigint AS "column",
               (f.value -> 7)::text AS locator, f.value ->> 8 AS preview,
               f.value ->> 9 AS fingerprint, (f.value ->> 10)::boolean AS person
        FROM finding_blocks b CROSS JOIN LATERAL jsonb_array_elements(b.findings) AS f(value);
    CREATE VIEW all_items AS
        SELECT scan_id, location, path, parent, format, size, modified, class,
               coverage, reason, findings, categories, individuals_low,
               individuals_high, content_id, mode, uid, gid, file_id,
               modified_ns, exposure, places, reused,
               scan_id AS origin_scan, location AS origin_location, seq
        FROM items
        UNION ALL
        SELECT r.scan_id, r.location, r.path, r.parent, o.format, o.size,
               o.modified, o.class, o.coverage, o.reason, o.findings,
               o.categories, o.individuals_low, o.individuals_high,
               o.content_id, r.mode, r.uid, r.gid, r.file_id, r.modified_ns,
               r.exposure, r.places, TRUE, r.origin_scan, r.origin_location,
               r.seq
        FROM reused_items r
        JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location
        UNION ALL
        SELECT u.scan_id, o.location, o.path, o.parent, o.format, o.size,
               o.modified, o.class, o.coverage, o.reason, o.findings,
               o.categories, o.individuals_low, o.individuals_high,
               o.content_id, o.mode, o.uid, o.gid, o.file_id, o.modified_ns,
               o.exposure, o.places, TRUE, o.scan_id, o.location, o.seq
        FROM unchanged_items u
        CROSS JOIN LATERAL jsonb_array_elements(u.ranges) AS r(value)
        JOIN items o ON o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN (r.value ->> 0)::bigint AND (r.value ->> 1)::bigint;
    CREATE VIEW all_findings AS
        SELECT scan_id, location, rule, category, confidence, start, "end",
               line, "column", locator, preview, fingerprint, person
        FROM findings
        UNION ALL
        SELECT r.scan_id, r.location, f.rule, f.category, f.confidence,
               f.start, f."end", f.line, f."column", f.locator, f.preview,
               f.fingerprint, f.person
        FROM reused_items r
        JOIN findings f ON f.scan_id = r.origin_scan AND f.location = r.origin_location
        UNION ALL
        SELECT u.scan_id, o.location, f.rule, f.category, f.confidence,
               f.start, f."end", f.line, f."column", f.locator, f.preview,
               f.fingerprint, f.person
        FROM unchanged_items u
        CROSS JOIN LATERAL jsonb_array_elements(u.ranges) AS r(value)
        JOIN items o ON o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN (r.value ->> 0)::bigint AND (r.value ->> 1)::bigint
        JOIN findings f ON f.scan_id = o.scan_id AND f.location = o.location;
    CREATE VIEW all_people AS
        SELECT p.scan_id, p.location, p.category, f.value AS fingerprint
        FROM people p CROSS JOIN LATERAL jsonb_array_elements_text(p.fingerprints) AS f(value)
        UNION ALL
        SELECT r.scan_id, r.location, p.category, f.value
        FROM reused_items r
        JOIN people p ON p.scan_id = r.origin_scan AND p.location = r.origin_location
        CROSS JOIN LATERAL jsonb_array_elements_text(p.fingerprints) AS f(value)
        UNION ALL
        SELECT u.scan_id, o.location, p.category, f.value
        FROM unchanged_items u
        CROSS JOIN LATERAL jsonb_array_elements(u.ranges) AS r(value)
        JOIN items o ON o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN (r.value ->> 0)::bigint AND (r.value ->> 1)::bigint
        JOIN people p ON p.scan_id = o.scan_id AND p.location = o.location
        CROSS JOIN LATERAL jsonb_array_elements_text(p.fingerprints) AS f(value);
    CREATE VIEW coverage AS
        SELECT scan_id, location, path, format, coverage, reason
        FROM all_items WHERE coverage <> 'complete';
    CREATE VIEW incremental_cache AS
        SELECT s.rules_version, s.sweep, i.scan_id, i.location, i.size,
               i.modified_ns, i.file_id, i.content_id
        FROM all_items i JOIN scans s ON s.id = i.scan_id
        WHERE i.parent IS NULL;
    "#,
    // 7: a rule table per finding block and short locators, as in the
    // SQLite store. Blocks written before have no rule table.
    r#"
    ALTER TABLE finding_blocks ADD COLUMN rules JSONB;
    CREATE OR REPLACE VIEW findings AS
        SELECT b.scan_id, b.location,
               CASE WHEN b.rules IS NULL THEN f.value ->> 0
                    ELSE b.rules -> ((f.value ->> 0)::integer) ->> 0 END AS rule,
               CASE WHEN b.rules IS NULL THEN f.value ->> 1
                    ELSE b.rules -> ((f.value ->> 0)::integer) ->> 1 END AS category,
               (f.value ->> (1 + (b.rules IS NULL)::integer))::integer AS confidence,
               (f.value ->> (2 + (b.rules IS NULL)::integer))::bigint AS start,
               (f.value ->> (3 + (b.rules IS NULL)::integer))::bigint AS "end",
               (f.value ->> (4 + (b.rules IS NULL)::integer))::bigint AS line,
               (f.value ->> (5 + (b.rules IS NULL)::integer))::bigint AS "column",
               (CASE WHEN b.rules IS NULL THEN f.value -> 7
                     ELSE CASE jsonb_typeof(f.value -> 6)
                         WHEN 'number' THEN '{"kind": "text"}'::jsonb
                         WHEN 'array' THEN jsonb_strip_nulls(jsonb_build_object(
                             'kind', 'csv', 'row', f.value -> 6 -> 0,
                             'column', f.value -> 6 -> 1, 'header', f.value -> 6 -> 2))
                         ELSE f.value -> 6
                     END
                END)::text AS locator,
               f.value ->> (7 + (b.rules IS NULL)::integer) AS preview,
               f.value ->> (8 + (b.rules IS NULL)::integer) AS fingerprint,
               (f.value ->> (9 + (b.rules IS NULL)::integer))::boolean AS person
        FROM finding_blocks b CROSS JOIN LATERAL jsonb_array_elements(b.findings) AS f(value);
    "#,
    // 8: the SQLite store's views fix the order in which they read a
    // sweep's unchanged ranges. This store copies reused rows, so its
    // ranges stay empty and its views need no change.
    r#"
    SELECT 1;
    "#,
];

/// Records inserted per transaction.
const BATCH: usize = 4096;

/// Advisory lock keys: the first number marks phiscan's locks, the second
/// names what is locked.
const LOCK_CLASS: i32 = 0x5048_4953;
const LOCK_MIGRATION: i32 = 1;
const LOCK_SWEEP: i32 = 2;

const ITEM_COLUMNS: &str = "location, path, parent, format, size, modified, class, coverage, reason, findings, categories, individuals_low, individuals_high, content_id, mode, uid, gid, file_id, modified_ns, exposure, places, reused";

/// An error of the PostgreSQL store. Messages name the server without the password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "cannot connect to the PostgreSQL store {target}: {source}; check that the server runs and the URL's user, database and password are right"
    )]
    Connect {
        target: String,
        source: postgres::Error,
    },
    #[error(
        "the PostgreSQL store {target} has schema version {found}, newer than this phiscan supports ({supported}); upgrade phiscan"
    )]
    TooNew {
        target: String,
        found: i32,
        supported: usize,
    },
    #[error("PostgreSQL store {target}: {source}")]
    Query {
        target: String,
        source: postgres::Error,
    },
    #[error(
        "another sweep is running on the PostgreSQL store {target} ({holder}); it releases the store when it ends. Run this sweep later, or set lock_timeout in the sweep configuration to wait for it"
    )]
    Busy { target: String, holder: String },
}

/// Returns true for `postgres://` and `postgresql://` URLs.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// Returns the URL with its password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

fn connect(url: &str, application: &str) -> Result<Client, PgError> {
    let mut config: postgres::Config = url.parse().map_err(|source| PgError::Connect {
        target: redact(url),
        source,
    })?;
    config.application_name(application);
    config.connect(NoTls).map_err(|source| PgError::Connect {
        target: redact(url),
        source,
    })
}

/// An open PostgreSQL store: a record sink and the queries the inventory needs.
pub struct PgStore {
    client: Client,
    target: String,
    url: String,
    scan_id: Option<String>,
    pending: usize,
    /// Number of the next item row of the scan.
    next_ordinal: i64,
    /// Findings of items whose item record has not arrived yet.
    findings: PendingFindings,
    item_insert: Statement,
    block_insert: Statement,
    people_insert: Statement,
    flow_insert: Statement,
}

impl PgStore {
    /// Connects and applies pending migrations.
    pub fn open(url: &str) -> Result<PgStore, PgError> {
        let target = redact(url);
        let mut client = connect(url, &format!("phiscan {}", std::process::id()))?;
        migrate(&mut client, &target)?;
        let query_error = |source| PgError::Query {
            target: target.clone(),
            source,
        };
        let item_insert = client
            .prepare(&format!(
                "INSERT INTO items (scan_id, {ITEM_COLUMNS}, ordinal) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
                 ON CONFLICT (scan_id, location) DO UPDATE SET path = EXCLUDED.path, parent = EXCLUDED.parent, format = EXCLUDED.format, size = EXCLUDED.size, modified = EXCLUDED.modified, class = EXCLUDED.class, coverage = EXCLUDED.coverage, reason = EXCLUDED.reason, findings = EXCLUDED.findings, categories = EXCLUDED.categories, individuals_low = EXCLUDED.individuals_low, individuals_high = EXCLUDED.individuals_high, content_id = EXCLUDED.content_id, mode = EXCLUDED.mode, uid = EXCLUDED.uid, gid = EXCLUDED.gid, file_id = EXCLUDED.file_id, modified_ns = EXCLUDED.modified_ns, exposure = EXCLUDED.exposure, places = EXCLUDED.places, reused = EXCLUDED.reused, ordinal = EXCLUDED.ordinal"
            ))
            .map_err(query_error)?;
        // The JSON text is sent as text and stored as jsonb.
        let block_insert = client
            .prepare(
                "INSERT INTO finding_blocks (scan_id, location, rules, findings) VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb)",
            )
            .map_err(query_error)?;
        let people_insert = client
            .prepare(
                "INSERT INTO people (scan_id, location, category, fingerprints) VALUES ($1, $2, $3, $4::text::jsonb)",
            )
            .map_err(query_error)?;
        let flow_insert = client
            .prepare(
                "INSERT INTO flows (scan_id, location, sent, from_domain, to_domain, field, external, webmail, protection, auto_forwarded, attachments, class, categories)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .map_err(query_error)?;
        Ok(PgStore {
            client,
            target,
            url: url.to_string(),
            scan_id: None,
            pending: 0,
            next_ordinal: 0,
            findings: PendingFindings::default(),
            item_insert,
            block_insert,
            people_insert,
            flow_insert,
        })
    }

    /// Returns the server and database, without the password.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn query_error(&self, source: postgres::Error) -> PgError {
        PgError::Query {
            target: self.target.clone(),
            source,
        }
    }

    /// Returns every scan, oldest first.
    pub fn scans(&mut self) -> Result<Vec<ScanInfo>, PgError> {
        let rows = self
            .client
            .query(
                "SELECT id, started, finished, roots, version, rules_version, host, complete, sweep, resumed_from, summary FROM scans ORDER BY started, seq",
                &[],
            )
            .map_err(|err| self.query_error(err))?;
        Ok(rows.iter().map(scan_from_row).collect())
    }

    /// Returns the item row a scan wrote itself at `location`, if any.
    pub fn own_item(
        &mut self,
        scan_id: &str,
        location: &str,
    ) -> Result<Option<ItemRecord>, PgError> {
        let rows = self
            .client
            .query(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE scan_id = $1 AND location = $2"),
                &[&scan_id, &location],
            )
            .map_err(|err| self.query_error(err))?;
        Ok(rows.first().map(item_from_row))
    }

    /// Returns true when a scan recorded a file below `folder`.
    pub fn has_items_under(&mut self, scan_id: &str, folder: &str) -> Result<bool, PgError> {
        let (low, high) = crate::read::below(folder);
        let rows = self
            .client
            .query(
                "SELECT 1 FROM all_items WHERE scan_id = $1 AND path > $2 AND path < $3 LIMIT 1",
                &[&scan_id, &low, &high],
            )
            .map_err(|err| self.query_error(err))?;
        Ok(!rows.is_empty())
    }

    /// Returns the category and fingerprint of each finding of one item in
    /// a scan, sorted, wherever the scan keeps them.
    pub fn fingerprints_of(
        &mut self,
        scan_id: &str,
        location: &str,
    ) -> Result<Vec<(Category, String)>, PgError> {
        let rows = self
            .client
            .query(
                "SELECT category, fingerprint FROM all_findings WHERE scan_id = $1 AND location = $2",
                &[&scan_id, &location],
            )
            .map_err(|err| self.query_error(err))?;
        let mut fingerprints: Vec<(Category, String)> = rows
            .iter()
            .map(|row| (parse_category(row.get(0)), row.get(1)))
            .collect();
        fingerprints.sort_unstable();
        Ok(fingerprints)
    }

    /// Loads the items, person fingerprints and flows of one scan.
    pub fn scan_data(&mut self, scan_id: &str) -> Result<ScanData, PgError> {
        let rows = self
            .client
            .query(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE scan_id = $1 ORDER BY seq"),
                &[&scan_id],
            )
            .map_err(|err| self.query_error(err))?;
        let items = rows.iter().map(item_from_row).collect();
        let categories: Vec<String> = PERSON_CATEGORIES
            .iter()
            .map(|category| category.as_str().to_string())
            .collect();
        let rows = self
            .client
            .query(
                "SELECT DISTINCT location, category, fingerprint FROM all_people WHERE scan_id = $1 AND category = ANY($2)",
                &[&scan_id, &categories],
            )
            .map_err(|err| self.query_error(err))?;
        let people = rows
            .iter()
            .map(|row| PersonKey {
                location: row.get(0),
                category: parse_category(row.get(1)),
                fingerprint: row.get(2),
            })
            .collect();
        let rows = self
            .client
            .query(
                &format!("SELECT {FLOW_COLUMNS} FROM flows WHERE scan_id = $1 ORDER BY seq"),
                &[&scan_id],
            )
            .map_err(|err| self.query_error(err))?;
        let flows = rows.iter().map(flow_from_row).collect();
        Ok(ScanData {
            items,
            people,
            flows,
        })
    }

    /// Builds the incremental cache over its own connection.
    pub fn cache(&mut self, sources: &[&ScanInfo]) -> Result<PgCache, PgError> {
        let mut client = connect(&self.url, "phiscan cache")?;
        let target = self.target.clone();
        let query_error = |source| PgError::Query {
            target: target.clone(),
            source,
        };
        let mut loaded = Vec::new();
        for scan in sources {
            let rows = client
                .query(
                    &format!("SELECT {ITEM_COLUMNS} FROM items WHERE scan_id = $1 AND parent IS NULL ORDER BY seq"),
                    &[&scan.id],
                )
                .map_err(query_error)?;
            let items: Vec<LoadedItem> = rows
                .iter()
                .map(|row| LoadedItem::whole(item_from_row(row), None, Stored::Row))
                .collect();
            let rows = client
                .query(
                    "SELECT DISTINCT path FROM items WHERE scan_id = $1 AND parent IS NOT NULL",
                    &[&scan.id],
                )
                .map_err(query_error)?;
            let containers: HashSet<String> = rows.iter().map(|row| row.get(0)).collect();
            loaded.push((*scan, items, containers));
        }
        Ok(PgCache {
            results: EarlierResults::build(loaded),
            client: Mutex::new(client),
        })
    }

    /// Takes the sweep lock: a session advisory lock on its own connection,
    /// which the server releases when the connection ends, even after a kill.
    pub fn lock_sweeps(&mut self, wait: std::time::Duration) -> Result<Client, PgError> {
        let mut client = connect(
            &self.url,
            &format!("phiscan sweep, process {}", std::process::id()),
        )?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            let row = client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, $2)",
                    &[&LOCK_CLASS, &LOCK_SWEEP],
                )
                .map_err(|err| self.query_error(err))?;
            if row.get::<_, bool>(0) {
                return Ok(client);
            }
            if std::time::Instant::now() >= deadline {
                let holder = client
                    .query_opt(
                        "SELECT a.application_name || ' from ' || coalesce(host(a.client_addr), 'a local socket') || ' since ' || a.backend_start::text
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                         WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.granted",
                        &[&(LOCK_CLASS as i64), &(LOCK_SWEEP as i64)],
                    )
                    .ok()
                    .flatten()
                    .map(|row| row.get::<_, String>(0))
                    .unwrap_or_else(|| "holder unknown".into());
                return Err(PgError::Busy {
                    target: self.target.clone(),
                    holder,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    fn begin_if_needed(&mut self) -> Result<(), postgres::Error> {
        if self.pending == 0 {
            self.client.batch_execute("BEGIN")?;
        }
        Ok(())
    }

    fn commit_if_full(&mut self) -> Result<(), postgres::Error> {
        self.pending += 1;
        if self.pending >= BATCH {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), postgres::Error> {
        if self.pending > 0 {
            self.client.batch_execute("COMMIT")?;
        }
        self.pending = 0;
        Ok(())
    }

    fn insert_scan(&mut self, scan: &ScanRecord) -> Result<(), postgres::Error> {
        self.client.execute(
            "INSERT INTO scans (id, started, roots, version, rules_version, host, sweep, resumed_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &scan.id,
                &scan.started,
                &serde_json::to_string(&scan.roots).unwrap_or_default(),
                &scan.version,
                &scan.rules_version,
                &scan.host,
                &scan.sweep,
                &scan.resumed_from,
            ],
        )?;
        self.scan_id = Some(scan.id.clone());
        self.next_ordinal = 0;
        Ok(())
    }

    /// Writes an item row after the last block and the people of its findings.
    fn insert_item(&mut self, item: &ItemRecord) -> Result<(), postgres::Error> {
        let (block, people) = self.findings.close(&item.location);
        self.insert_findings_of_item(block.as_ref(), &people)?;
        self.begin_if_needed()?;
        let meta = &item.meta;
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        let statement = self.item_insert.clone();
        self.client.execute(
            &statement,
            &[
                &self.scan_id,
                &item.location,
                &item.path,
                &item.parent,
                &item.format,
                &(item.size as i64),
                &item.modified,
                &item.class.as_str(),
                &item.coverage.as_str(),
                &item.reason,
                &(item.findings as i64),
                &serde_json::to_string(&item.categories).unwrap_or_default(),
                &(item.individuals.low as i64),
                &(item.individuals.high as i64),
                &item.content_id,
                &meta.mode,
                &meta.uid.map(i64::from),
                &meta.gid.map(i64::from),
                &meta.file_id,
                &meta.modified_ns,
                &serde_json::to_string(&meta.exposure).unwrap_or_default(),
                &serde_json::to_string(&meta.places).unwrap_or_default(),
                &meta.reused,
                &ordinal,
            ],
        )?;
        self.commit_if_full()
    }

    /// Adds a finding to its item's block; writes the block once it is full.
    fn insert_finding(&mut self, finding: &FindingRecord) -> Result<(), postgres::Error> {
        match self.findings.add(finding) {
            Some((block, people)) => self.insert_findings_of_item(block.as_ref(), &people),
            None => Ok(()),
        }
    }

    fn insert_findings_of_item(
        &mut self,
        block: Option<&Block>,
        people: &[PeopleRow],
    ) -> Result<(), postgres::Error> {
        if let Some(block) = block {
            self.insert_block(block)?;
        }
        for row in people {
            self.begin_if_needed()?;
            let statement = self.people_insert.clone();
            self.client.execute(
                &statement,
                &[
                    &self.scan_id,
                    &row.location,
                    &row.category.as_str(),
                    &row.fingerprints,
                ],
            )?;
            self.commit_if_full()?;
        }
        Ok(())
    }

    fn insert_block(&mut self, block: &Block) -> Result<(), postgres::Error> {
        self.begin_if_needed()?;
        let statement = self.block_insert.clone();
        self.client.execute(
            &statement,
            &[
                &self.scan_id,
                &block.location,
                &block.rules,
                &block.findings,
            ],
        )?;
        self.commit_if_full()
    }

    /// Writes the blocks of items whose item record never came (a scan
    /// that stopped early), then commits.
    fn flush(&mut self) -> Result<(), postgres::Error> {
        for (block, people) in self.findings.close_all() {
            self.insert_findings_of_item(block.as_ref(), &people)?;
        }
        self.commit()
    }

    fn insert_flow(&mut self, flow: &FlowRecord) -> Result<(), postgres::Error> {
        self.begin_if_needed()?;
        let statement = self.flow_insert.clone();
        self.client.execute(
            &statement,
            &[
                &self.scan_id,
                &flow.location,
                &flow.sent,
                &flow.from_domain,
                &flow.to_domain,
                &flow.field,
                &flow.external,
                &flow.webmail,
                &flow.protection,
                &flow.auto_forwarded,
                &i32::try_from(flow.attachments).unwrap_or(i32::MAX),
                &flow.class.as_str(),
                &serde_json::to_string(&flow.categories).unwrap_or_default(),
            ],
        )?;
        self.commit_if_full()
    }

    fn finish_scan(&mut self, summary: &SummaryRecord) -> Result<(), postgres::Error> {
        self.flush()?;
        self.client.execute(
            "UPDATE scans SET finished = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), complete = $2, summary = $3 WHERE id = $1",
            &[
                &summary.scan,
                &summary.complete,
                &serde_json::to_string(summary).unwrap_or_default(),
            ],
        )?;
        Ok(())
    }
}

impl RecordSink for PgStore {
    fn record(&mut self, record: &Record) -> Result<(), SinkError> {
        let result = match record {
            Record::Scan(scan) => self.insert_scan(scan),
            Record::Item(item) => self.insert_item(item),
            Record::Finding(finding) => self.insert_finding(finding),
            Record::Flow(flow) => self.insert_flow(flow),
            Record::Summary(summary) => self.finish_scan(summary),
        };
        result.map_err(|err| Box::new(self.query_error(err)) as SinkError)
    }

    /// Takes blocks encoded by the workers, so that the writer thread
    /// only inserts rows.
    fn finding_form(&self) -> FindingForm {
        FindingForm::Blocks
    }

    fn record_blocks(
        &mut self,
        block: Option<&Block>,
        people: &[PeopleRow],
    ) -> Result<(), SinkError> {
        self.insert_findings_of_item(block, people)
            .map_err(|err| Box::new(self.query_error(err)) as SinkError)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.flush()
            .map_err(|err| Box::new(self.query_error(err)) as SinkError)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // An interrupted scan keeps what was written; its row stays incomplete.
        if let Err(err) = self.flush() {
            tracing::warn!(error = %err, "final store commit failed");
        }
    }
}

fn migrate(client: &mut Client, target: &str) -> Result<(), PgError> {
    let query_error = |source| PgError::Query {
        target: target.to_string(),
        source,
    };
    let mut transaction = client.transaction().map_err(query_error)?;
    // Two hosts starting their first scan at once must not both migrate.
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&LOCK_CLASS, &LOCK_MIGRATION],
        )
        .map_err(query_error)?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS phiscan_schema (version INTEGER NOT NULL)")
        .map_err(query_error)?;
    let version: i32 = transaction
        .query_opt("SELECT version FROM phiscan_schema", &[])
        .map_err(query_error)?
        .map(|row| row.get(0))
        .unwrap_or(0);
    if version as usize > MIGRATIONS.len() {
        return Err(PgError::TooNew {
            target: target.to_string(),
            found: version,
            supported: MIGRATIONS.len(),
        });
    }
    for migration in MIGRATIONS.iter().skip(version as usize) {
        transaction.batch_execute(migration).map_err(query_error)?;
    }
    transaction
        .batch_execute("DELETE FROM phiscan_schema")
        .map_err(query_error)?;
    transaction
        .execute(
            "INSERT INTO phiscan_schema (version) VALUES ($1)",
            &[&(MIGRATIONS.len() as i32)],
        )
        .map_err(query_error)?;
    transaction.commit().map_err(query_error)
}

fn scan_from_row(row: &Row) -> ScanInfo {
    let roots: String = row.get(3);
    let summary: Option<String> = row.get(10);
    ScanInfo {
        id: row.get(0),
        started: row.get(1),
        finished: row.get(2),
        roots: serde_json::from_str(&roots).unwrap_or_default(),
        version: row.get(4),
        rules_version: row.get(5),
        host: row.get(6),
        complete: row.get(7),
        sweep: row.get(8),
        resumed_from: row.get(9),
        summary: summary.and_then(|text| serde_json::from_str(&text).ok()),
    }
}

fn item_from_row(row: &Row) -> ItemRecord {
    let exposure: String = row.get(19);
    let places: String = row.get(20);
    ItemRecord {
        location: row.get(0),
        path: row.get(1),
        parent: row.get(2),
        format: row.get(3),
        size: row.get::<_, i64>(4) as u64,
        modified: row.get(5),
        class: Class::parse(row.get(6)).unwrap_or(Class::None),
        coverage: Coverage::parse(row.get(7)).unwrap_or(Coverage::Error),
        reason: row.get(8),
        findings: row.get::<_, i64>(9) as u64,
        categories: parse_categories(row.get(10)),
        individuals: Individuals {
            low: row.get::<_, i64>(11) as u64,
            high: row.get::<_, i64>(12) as u64,
        },
        content_id: row.get(13),
        meta: ItemMeta {
            mode: row.get(14),
            uid: row
                .get::<_, Option<i64>>(15)
                .and_then(|id| u32::try_from(id).ok()),
            gid: row
                .get::<_, Option<i64>>(16)
                .and_then(|id| u32::try_from(id).ok()),
            file_id: row.get(17),
            modified_ns: row.get(18),
            exposure: serde_json::from_str(&exposure).unwrap_or_default(),
            places: serde_json::from_str(&places).unwrap_or_default(),
            reused: row.get(21),
        },
    }
}

/// The incremental cache over a PostgreSQL store.
pub struct PgCache {
    results: EarlierResults,
    client: Mutex<Client>,
}

impl PgCache {
    /// Returns the indexed earlier results.
    pub fn results(&self) -> &EarlierResults {
        &self.results
    }

    fn load(
        &self,
        scan_id: &str,
        record: &ItemRecord,
        has_members: bool,
    ) -> Result<Option<CachedFile>, postgres::Error> {
        let mut client = self
            .client
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut records: Vec<ItemRecord> = if has_members {
            client
                .query(
                    &format!("SELECT {ITEM_COLUMNS} FROM items WHERE scan_id = $1 AND path = $2 AND parent IS NOT NULL ORDER BY seq"),
                    &[&scan_id, &record.location],
                )?
                .iter()
                .map(item_from_row)
                .collect()
        } else {
            Vec::new()
        };
        records.push(record.clone());
        let mut items = Vec::with_capacity(records.len());
        for record in records {
            let mut findings = Vec::new();
            if record.findings > 0 {
                let blocks = client.query(
                    "SELECT findings::text, rules::text FROM finding_blocks WHERE scan_id = $1 AND location = $2 ORDER BY seq",
                    &[&scan_id, &record.location],
                )?;
                for block in blocks {
                    let text: &str = block.get(0);
                    let rules: Option<&str> = block.get(1);
                    match decode_block(text, rules, &record.location) {
                        Ok(decoded) => findings.extend(decoded),
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot read a stored finding block; reading the file again");
                            return Ok(None);
                        }
                    }
                }
            }
            let mut people = None;
            if crate::read::may_have_whole_names(&findings) {
                let rows = client.query(
                    "SELECT category, fingerprints::text FROM people WHERE scan_id = $1 AND location = $2",
                    &[&scan_id, &record.location],
                )?;
                let mut found = Vec::new();
                for row in rows {
                    let Ok(category) = row.get::<_, &str>(0).parse::<Category>() else {
                        continue;
                    };
                    match serde_json::from_str::<Vec<String>>(row.get(1)) {
                        Ok(fingerprints) => {
                            found.extend(fingerprints.into_iter().map(|hex| (category, hex)));
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot read stored person fingerprints; reading the file again");
                            return Ok(None);
                        }
                    }
                }
                people = Some(found);
            }
            items.push(CachedItem {
                record,
                findings,
                origin: None,
                people,
            });
        }
        // Messages with PHI have findings, so every file with flows comes
        // through here.
        let members = format!("{}{MEMBER_SEPARATOR}", record.location);
        let flows = client
            .query(
                &format!(
                    "SELECT {FLOW_COLUMNS} FROM flows
                     WHERE scan_id = $1 AND (location = $2 OR left(location, char_length($3)) = $3)
                     ORDER BY seq"
                ),
                &[&scan_id, &record.location, &members],
            )?
            .iter()
            .map(flow_from_row)
            .collect();
        Ok(Some(CachedFile { items, flows }))
    }

    /// Returns the records of a found item. The PostgreSQL store copies
    /// reused rows, so no origin is passed on.
    fn cached(&self, found: Option<crate::cache::Found<'_>>) -> Option<CachedFile> {
        let found = found?;
        // This store's index keeps every record whole.
        let (scan_id, record, has_members) = (found.scan_id, found.record?, found.has_members);
        if !has_members && record.findings == 0 {
            return Some(CachedFile {
                flows: Vec::new(),
                items: vec![CachedItem {
                    record: record.clone(),
                    findings: Vec::new(),
                    origin: None,
                    people: None,
                }],
            });
        }
        match self.load(scan_id, record, has_members) {
            Ok(file) => file,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read earlier results from the store; reading the file again");
                None
            }
        }
    }
}

/// Reads a flow row as [`FLOW_COLUMNS`] selects it.
fn flow_from_row(row: &postgres::Row) -> FlowRecord {
    FlowRecord {
        location: row.get(0),
        sent: row.get(1),
        from_domain: row.get(2),
        to_domain: row.get(3),
        field: row.get(4),
        external: row.get(5),
        webmail: row.get(6),
        protection: row.get(7),
        auto_forwarded: row.get(8),
        attachments: row.get::<_, i32>(9).max(0) as u32,
        class: Class::parse(row.get(10)).unwrap_or(Class::None),
        categories: parse_categories(row.get(11)),
    }
}

impl ItemCache for PgCache {
    fn unchanged(&self, key: &FileKey<'_>) -> Option<CachedFile> {
        self.cached(self.results.unchanged(key))
    }

    fn may_be_copy(&self, size: u64, name: &str) -> bool {
        self.results.may_be_copy(size, name)
    }

    fn by_content(&self, content_id: &str, size: u64, name: &str) -> Option<CachedFile> {
        self.cached(self.results.by_content(content_id, size, name))
    }

    // The point where a mailbox scan stopped is kept in SQLite stores only,
    // so a scan into this store fetches every message and looks up none.
    fn has_message(&self, _location: &str) -> bool {
        false
    }

    fn message(&self, _location: &str) -> Option<CachedFile> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://phiscan:s3cret@db.example:5432/inventory"),
            "postgres://phiscan:***@db.example:5432/inventory"
        );
        assert_eq!(
            redact("postgres://phiscan@127.0.0.1/x"),
            "postgres://phiscan@127.0.0.1/x"
        );
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("/var/lib/phiscan/inventory.sqlite"));
    }

    #[test]
    fn migrations_match_the_sqlite_store() {
        assert_eq!(MIGRATIONS.len() as u32, crate::Store::schema_version());
    }
}
