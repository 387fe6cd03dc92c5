//! The SQLite store's schema: migrations applied in order. The PostgreSQL
//! store (postgres.rs) keeps a list of the same length with the same tables,
//! views and columns.

/// Schema migrations, applied in order. The store's `user_version` pragma is
/// the number of migrations applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: scans, items and findings.
    r#"
    CREATE TABLE scans (
        id TEXT PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT,
        roots TEXT NOT NULL,
        version TEXT NOT NULL,
        rules_version TEXT NOT NULL,
        host TEXT,
        complete INTEGER NOT NULL DEFAULT 0,
        summary TEXT
    );
    CREATE TABLE items (
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        path TEXT NOT NULL,
        parent TEXT,
        format TEXT NOT NULL,
        size INTEGER NOT NULL,
        modified TEXT,
        class TEXT NOT NULL,
        coverage TEXT NOT NULL,
        reason TEXT,
        findings INTEGER NOT NULL,
        categories TEXT NOT NULL,
        individuals_low INTEGER NOT NULL,
        individuals_high INTEGER NOT NULL,
        content_id TEXT,
        PRIMARY KEY (scan_id, location)
    );
    CREATE TABLE findings (
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        rule TEXT NOT NULL,
        category TEXT NOT NULL,
        confidence INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        line INTEGER NOT NULL,
        "column" INTEGER NOT NULL,
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
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        sent TEXT,
        from_domain TEXT NOT NULL,
        to_domain TEXT NOT NULL,
        field TEXT NOT NULL,
        external INTEGER NOT NULL,
        webmail INTEGER NOT NULL,
        protection TEXT NOT NULL,
        auto_forwarded INTEGER NOT NULL,
        attachments INTEGER NOT NULL,
        class TEXT NOT NULL,
        categories TEXT NOT NULL
    );
    CREATE INDEX flows_by_scan ON flows (scan_id, to_domain);
    "#,
    // 3: where the last IMAP sweep of each folder stopped (see imap_state.rs).
    r#"
    CREATE TABLE imap_folders (
        account TEXT NOT NULL,
        folder TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL,
        pending TEXT NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (account, folder)
    );
    "#,
    // 4: file facts for exposure and risky places, the incremental cache
    // keys, sweep names and resumed scans, and the coverage view.
    r#"
    ALTER TABLE scans ADD COLUMN sweep TEXT;
    ALTER TABLE scans ADD COLUMN resumed_from TEXT;
    ALTER TABLE items ADD COLUMN mode TEXT;
    ALTER TABLE items ADD COLUMN uid INTEGER;
    ALTER TABLE items ADD COLUMN gid INTEGER;
    ALTER TABLE items ADD COLUMN file_id TEXT;
    ALTER TABLE items ADD COLUMN modified_ns INTEGER;
    ALTER TABLE items ADD COLUMN exposure TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE items ADD COLUMN places TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE items ADD COLUMN reused INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX items_by_path ON items (scan_id, path);
    CREATE INDEX items_by_content ON items (scan_id, content_id) WHERE parent IS NULL;
    CREATE TABLE reused_items (
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        path TEXT NOT NULL,
        parent TEXT,
        origin_scan TEXT NOT NULL,
        origin_location TEXT NOT NULL,
        mode TEXT,
        uid INTEGER,
        gid INTEGER,
        file_id TEXT,
        modified_ns INTEGER,
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
               scan_id AS origin_scan, location AS origin_location, rowid AS seq
        FROM items
        UNION ALL
        SELECT r.scan_id, r.location, r.path, r.parent, o.format, o.size,
               o.modified, o.class, o.coverage, o.reason, o.findings,
               o.categories, o.individuals_low, o.individuals_high,
               o.content_id, r.mode, r.uid, r.gid, r.file_id, r.modified_ns,
               r.exposure, r.places, 1, r.origin_scan, r.origin_location,
               r.rowid
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
    ALTER TABLE findings ADD COLUMN person INTEGER NOT NULL DEFAULT 0;
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
    // 6: findings in blocks, one row per item and batch (see blocks.rs).
    // The distinct person fingerprints of each item get their own table.
    // Item rows are numbered, and unchanged items are listed as ranges of
    // those numbers (see ranges.rs) instead of one reference row each.
    // The findings table becomes a view over the blocks.
    r#"
    CREATE TABLE finding_blocks (
        seq INTEGER PRIMARY KEY,
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        findings TEXT NOT NULL
    );
    CREATE INDEX finding_blocks_by_item ON finding_blocks (scan_id, location);
    CREATE TABLE people (
        scan_id TEXT NOT NULL REFERENCES scans(id),
        location TEXT NOT NULL,
        category TEXT NOT NULL,
        fingerprints TEXT NOT NULL
    );
    CREATE INDEX people_by_item ON people (scan_id, location);
    INSERT INTO finding_blocks (scan_id, location, findings)
        SELECT scan_id, location,
               json_group_array(json_array(rule, category, confidence, start,
                   "end", line, "column", json(locator), preview, fingerprint,
                   person) ORDER BY rowid)
        FROM findings
        GROUP BY scan_id, location
        ORDER BY min(rowid);
    INSERT INTO people (scan_id, location, category, fingerprints)
        SELECT scan_id, location, category,
               json_group_array(fingerprint ORDER BY fingerprint)
        FROM (SELECT DISTINCT scan_id, location, category, fingerprint
              FROM findings WHERE person = 1)
        GROUP BY scan_id, location, category;
    ALTER TABLE items ADD COLUMN ordinal INTEGER;
    UPDATE items SET ordinal = numbered.ordinal
        FROM (SELECT rowid AS id,
                     row_number() OVER (PARTITION BY scan_id ORDER BY rowid) - 1 AS ordinal
              FROM items) AS numbered
        WHERE items.rowid = numbered.id;
    CREATE INDEX items_by_ordinal ON items (scan_id, ordinal);
    CREATE INDEX items_members_by_path ON items (scan_id, path) WHERE parent IS NOT NULL;
    CREATE TABLE unchanged_items (
        scan_id TEXT NOT NULL REFERENCES scans(id),
        origin_scan TEXT NOT NULL,
        ranges TEXT NOT NULL
    );
    CREATE INDEX unchanged_items_by_scan ON unchanged_items (scan_id);
    DROP VIEW incremental_cache;
    DROP VIEW coverage;
    DROP VIEW all_findings;
    DROP VIEW all_items;
    DROP TABLE findings;
    CREATE VIEW findings AS
        SELECT b.scan_id AS scan_id, b.location AS location,
               f.value ->> 0 AS rule, f.value ->> 1 AS category,
               f.value ->> 2 AS confidence, f.value ->> 3 AS start,
               f.value ->> 4 AS "end", f.value ->> 5 AS line,
               f.value ->> 6 AS "column", f.value -> 7 AS locator,
               f.value ->> 8 AS preview, f.value ->> 9 AS fingerprint,
               f.value ->> 10 AS person
        FROM finding_blocks b, json_each(b.findings) f;
    CREATE VIEW all_items AS
        SELECT scan_id, location, path, parent, format, size, modified, class,
               coverage, reason, findings, categories, individuals_low,
               individuals_high, content_id, mode, uid, gid, file_id,
               modified_ns, exposure, places, reused,
               scan_id AS origin_scan, location AS origin_location, rowid AS seq
        FROM items
        UNION ALL
        SELECT r.scan_id, r.location, r.path, r.parent, o.format, o.size,
               o.modified, o.class, o.coverage, o.reason, o.findings,
               o.categories, o.individuals_low, o.individuals_high,
               o.content_id, r.mode, r.uid, r.gid, r.file_id, r.modified_ns,
               r.exposure, r.places, 1, r.origin_scan, r.origin_location,
               r.rowid
        FROM reused_items r
        JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location
        UNION ALL
        SELECT u.scan_id, o.location, o.path, o.parent, o.format, o.size,
               o.modified, o.class, o.coverage, o.reason, o.findings,
               o.categories, o.individuals_low, o.individuals_high,
               o.content_id, o.mode, o.uid, o.gid, o.file_id, o.modified_ns,
               o.exposure, o.places, 1, o.scan_id, o.location, o.rowid
        FROM unchanged_items u, json_each(u.ranges) r
        JOIN items o ON o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN r.value ->> 0 AND r.value ->> 1;
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
        FROM unchanged_items u, json_each(u.ranges) r
        JOIN items o ON o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN r.value ->> 0 AND r.value ->> 1
        JOIN findings f ON f.scan_id = o.scan_id AND f.location = o.location;
    CREATE VIEW all_people AS
        SELECT p.scan_id, p.location, p.category, f.value AS fingerprint
        FROM people p, json_each(p.fingerprints) f
        UNION ALL
        SELECT r.scan_id, r.location, p.category, f.value
        FROM reused_items r
        JOIN people p ON p.scan_id = r.origin_scan AND p.location = r.origin_location,
             json_each(p.fingerprints) f
        UNION ALL
        SELECT u.scan_id, o.location, p.category, f.value
        FROM unchanged_items u, json_each(u.ranges) r
        JOIN items o ON o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN r.value ->> 0 AND r.value ->> 1
        JOIN people p ON p.scan_id = o.scan_id AND p.location = o.location,
             json_each(p.fingerprints) f;
    CREATE VIEW coverage AS
        SELECT scan_id, location, path, format, coverage, reason
        FROM all_items WHERE coverage <> 'complete';
    CREATE VIEW incremental_cache AS
        SELECT s.rules_version, s.sweep, i.scan_id, i.location, i.size,
               i.modified_ns, i.file_id, i.content_id
        FROM all_items i JOIN scans s ON s.id = i.scan_id
        WHERE i.parent IS NULL;
    "#,
    // 7: a rule table per finding block, and short locators for text and
    // delimited cells (see phiscan_core::blocks). Blocks written before
    // have no rule table and keep their self-describing findings.
    r#"
    ALTER TABLE finding_blocks ADD COLUMN rules TEXT;
    DROP VIEW findings;
    CREATE VIEW findings AS
        SELECT b.scan_id AS scan_id, b.location AS location,
               CASE WHEN b.rules IS NULL THEN f.value ->> 0
                    ELSE b.rules -> (f.value ->> 0) ->> 0 END AS rule,
               CASE WHEN b.rules IS NULL THEN f.value ->> 1
                    ELSE b.rules -> (f.value ->> 0) ->> 1 END AS category,
               f.value ->> (1 + (b.rules IS NULL)) AS confidence,
               f.value ->> (2 + (b.rules IS NULL)) AS start,
               f.value ->> (3 + (b.rules IS NULL)) AS "end",
               f.value ->> (4 + (b.rules IS NULL)) AS line,
               f.value ->> (5 + (b.rules IS NULL)) AS "column",
               CASE WHEN b.rules IS NULL THEN f.value -> 7
                    ELSE CASE json_type(f.value, '$[6]')
                        WHEN 'integer' THEN '{"kind":"text"}'
                        WHEN 'array' THEN
                            CASE WHEN json_type(f.value, '$[6][2]') IS NULL
                                THEN json_object('kind', 'csv', 'row', f.value -> 6 ->> 0,
                                                 'column', f.value -> 6 ->> 1)
                                ELSE json_object('kind', 'csv', 'row', f.value -> 6 ->> 0,
                                                 'column', f.value -> 6 ->> 1,
                                                 'header', f.value -> 6 ->> 2)
                            END
                        ELSE f.value -> 6
                    END
               END AS locator,
               f.value ->> (7 + (b.rules IS NULL)) AS preview,
               f.value ->> (8 + (b.rules IS NULL)) AS fingerprint,
               f.value ->> (9 + (b.rules IS NULL)) AS person
        FROM finding_blocks b, json_each(b.findings) f;
    "#,
    // 8: the views read a sweep's unchanged ranges before the item rows
    // in them. Left to itself, SQLite's planner looped over every range for
    // every row of the origin scan: `phiscan inventory` on a sweep of
    // 22,000 items that reused 1,844 ranges took 35 s. CROSS JOIN fixes the
    // order, so each range is one index range of `items_by_ordinal`.
    r#"
    DROP VIEW incremental_cache;
    DROP VIEW coverage;
    DROP VIEW all_people;
    DROP VIEW all_findings;
    DROP VIEW all_items;
    CREATE VIEW all_items AS
        SELECT scan_id, location, path, parent, format, size, modified, class,
               coverage, reason, findings, categories, individuals_low,
               individuals_high, content_id, mode, uid, gid, file_id,
               modified_ns, exposure, places, reused,
               scan_id AS origin_scan, location AS origin_location, rowid AS seq
        FROM items
        UNION ALL
        SELECT r.scan_id, r.location, r.path, r.parent, o.format, o.size,
               o.modified, o.class, o.coverage, o.reason, o.findings,
               o.categories, o.individuals_low, o.individuals_high,
               o.content_id, r.mode, r.uid, r.gid, r.file_id, r.modified_ns,
               r.exposure, r.places, 1, r.origin_scan, r.origin_location,
               r.rowid
        FROM reused_items r
        JOIN items o ON o.scan_id = r.origin_scan AND o.location = r.origin_location
        UNION ALL
        SELECT u.scan_id, o.location, o.path, o.parent, o.format, o.size,
               o.modified, o.class, o.coverage, o.reason, o.findings,
               o.categories, o.individuals_low, o.individuals_high,
               o.content_id, o.mode, o.uid, o.gid, o.file_id, o.modified_ns,
               o.exposure, o.places, 1, o.scan_id, o.location, o.rowid
        FROM unchanged_items u CROSS JOIN json_each(u.ranges) r
        CROSS JOIN items o
        WHERE o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN r.value ->> 0 AND r.value ->> 1;
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
        FROM unchanged_items u CROSS JOIN json_each(u.ranges) r
        CROSS JOIN items o ON o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN r.value ->> 0 AND r.value ->> 1
        CROSS JOIN findings f ON f.scan_id = o.scan_id AND f.location = o.location;
    CREATE VIEW all_people AS
        SELECT p.scan_id, p.location, p.category, f.value AS fingerprint
        FROM people p, json_each(p.fingerprints) f
        UNION ALL
        SELECT r.scan_id, r.location, p.category, f.value
        FROM reused_items r
        JOIN people p ON p.scan_id = r.origin_scan AND p.location = r.origin_location,
             json_each(p.fingerprints) f
        UNION ALL
        SELECT u.scan_id, o.location, p.category, f.value
        FROM unchanged_items u CROSS JOIN json_each(u.ranges) r
        CROSS JOIN items o ON o.scan_id = u.origin_scan
            AND o.ordinal BETWEEN r.value ->> 0 AND r.value ->> 1
        CROSS JOIN people p ON p.scan_id = o.scan_id AND p.location = o.location
        CROSS JOIN json_each(p.fingerprints) f;
    CREATE VIEW coverage AS
        SELECT scan_id, location, path, format, coverage, reason
        FROM all_items WHERE coverage <> 'complete';
    CREATE VIEW incremental_cache AS
        SELECT s.rules_version, s.sweep, i.scan_id, i.location, i.size,
               i.modified_ns, i.file_id, i.content_id
        FROM all_items i JOIN scans s ON s.id = i.scan_id
        WHERE i.parent IS NULL;
    "#,
];
