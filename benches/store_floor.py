#!/usr/bin/env python3
"""Time the store's writes alone: the floor under any scan that stores.

    python3 benches/store_floor.py STORE [--runs 3] [--rg-seconds S]

STORE is a SQLite store written by `phiscan scan --db STORE`. The script
loads the finding blocks and people rows of its latest scan into memory.
It then inserts them into a new database in a temporary folder with the
store's settings. Those are the write-ahead log, `synchronous=NORMAL`, a
checkpoint every 10,000 pages, a commit every 4,096 rows or 32 MiB, the
same indexes, and the final checkpoint at close. Nothing is read,
matched or encoded while the clock runs, so the time is what writing the
scan's findings costs on this machine and disk.

With --rg-seconds, it also prints the floor as a multiple of that ripgrep
time (for example, the `rg -c` median that benches/run.py printed for the
same corpus).
"""

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time

BATCH_ROWS = 4096
BATCH_BYTES = 32 << 20

SCHEMA = """
CREATE TABLE finding_blocks (
    seq INTEGER PRIMARY KEY,
    scan_id TEXT NOT NULL,
    location TEXT NOT NULL,
    findings TEXT NOT NULL,
    rules TEXT
);
CREATE INDEX finding_blocks_by_item ON finding_blocks (scan_id, location);
CREATE TABLE people (
    scan_id TEXT NOT NULL,
    location TEXT NOT NULL,
    category TEXT NOT NULL,
    fingerprints TEXT NOT NULL
);
CREATE INDEX people_by_item ON people (scan_id, location);
"""


def load(store):
    """Load the block rows and people rows of the store's latest scan."""
    try:
        source = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        latest = source.execute(
            "SELECT id FROM scans ORDER BY started DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error as err:
        sys.exit(f"store_floor: cannot read {store} as a phiscan store: {err}")
    if latest is None:
        sys.exit(f"store_floor: {store} holds no scan; run `phiscan scan DIR --db {store}` first")
    blocks = source.execute(
        "SELECT scan_id, location, findings, rules FROM finding_blocks "
        "WHERE scan_id = ? ORDER BY seq",
        latest,
    ).fetchall()
    people = source.execute(
        "SELECT scan_id, location, category, fingerprints FROM people WHERE scan_id = ?",
        latest,
    ).fetchall()
    source.close()
    return blocks, people


def write(path, blocks, people):
    """Insert the rows as the store's writer does and return the wall seconds."""
    started = time.perf_counter()
    target = sqlite3.connect(path, isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    target.execute("PRAGMA cache_size=-65536")
    target.execute("PRAGMA wal_autocheckpoint=10000")
    target.executescript(SCHEMA)
    rows, size = 0, 0
    target.execute("BEGIN")
    statements = [
        ("INSERT INTO finding_blocks (scan_id, location, findings, rules) VALUES (?, ?, ?, ?)", blocks),
        ("INSERT INTO people (scan_id, location, category, fingerprints) VALUES (?, ?, ?, ?)", people),
    ]
    for sql, table in statements:
        for row in table:
            target.execute(sql, row)
            rows += 1
            size += len(row[2]) + len(row[3] or "")
            if rows >= BATCH_ROWS or size >= BATCH_BYTES:
                target.execute("COMMIT")
                target.execute("BEGIN")
                rows, size = 0, 0
    target.execute("COMMIT")
    target.close()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rg-seconds", type=float)
    args = parser.parse_args()
    if not os.path.isfile(args.store):
        sys.exit(f"store_floor: no file at {args.store}; pass the --db file of a finished scan")
    blocks, people = load(args.store)
    megabytes = sum(len(row[2]) + len(row[3] or "") for row in blocks) / 1e6
    megabytes += sum(len(row[3]) for row in people) / 1e6
    times = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(args.store))) as folder:
            times.append(write(os.path.join(folder, "floor.db"), blocks, people))
    median = statistics.median(times)
    print(f"rows: {len(blocks)} finding blocks, {len(people)} people rows, {megabytes:.1f} MB")
    print("runs: " + ", ".join(f"{seconds:.2f} s" for seconds in times))
    print(f"median: {median:.2f} s")
    if args.rg_seconds:
        print(f"median / ripgrep: {median / args.rg_seconds:.1f}")


if __name__ == "__main__":
    main()
