#!/usr/bin/env bash
# Incremental sweep benchmark: times a first sweep over a generated tree of
# COUNT files and a second sweep over the unchanged tree, and prints the
# ratio. The second sweep must take at most 10% of the first.
#
#     benches/sweep/run.sh [COUNT] [MEDIAN_KIB]
#
# COUNT defaults to 100000 and MEDIAN_KIB (the median file size, see
# gen_tree.py) to 8; MEDIAN_KIB 0 gives files of a few hundred bytes.
# The tree, store and data folder live in a temporary folder that is
# removed at the end. The page cache is warm for both sweeps, because the
# tree was just written: the first sweep's time is CPU and system-call time,
# not disk time, which is the harder case for the ratio. `sync` before each
# sweep writes out the generated tree and the store first, so that the
# kernel's write-back of 1.3 GB does not run during a sweep.
set -euo pipefail
cd "$(dirname "$0")/../.."

count="${1:-100000}"
median_kib="${2:-8}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -p phiscan >&2
binary="$PWD/target/release/phiscan"

echo "generating $count files (median $median_kib KiB) in $work/tree" >&2
python3 benches/sweep/gen_tree.py "$work/tree" "$count" "$median_kib"
du -sh "$work/tree" >&2

cat > "$work/sweep.toml" <<TOML
name = "bench"
targets = ["tree"]
store = "inventory.sqlite"
TOML

run_sweep() {
    local start end status
    sync
    start=$(date +%s.%N)
    set +e
    PHISCAN_HOME="$work/home" "$binary" sweep -q --config "$work/sweep.toml" > "$work/out.txt" 2>&1
    status=$?
    set -e
    end=$(date +%s.%N)
    if [ "$status" -gt 1 ]; then
        cat "$work/out.txt" >&2
        echo "sweep failed with status $status" >&2
        exit 1
    fi
    # The newest scan's summary record, from the store.
    python3 - "$work/inventory.sqlite" "$start" "$end" <<'PY'
import json, sqlite3, sys
row = sqlite3.connect(sys.argv[1]).execute(
    "SELECT summary FROM scans ORDER BY started DESC, rowid DESC LIMIT 1").fetchone()
summary = json.loads(row[0])
seconds = float(sys.argv[3]) - float(sys.argv[2])
print(f"{seconds:.3f} {summary['items']} {summary['items_read']} {summary['items_reused']} {summary['bytes']}")
PY
}

read -r first items read reused bytes < <(run_sweep)
echo "first sweep:  ${first}s, $items items, $read read, $reused reused, $bytes bytes" >&2
read -r second items read reused bytes < <(run_sweep)
echo "second sweep: ${second}s, $items items, $read read, $reused reused, $bytes bytes" >&2

python3 - "$first" "$second" "$read" <<'PY'
import sys
first, second, read = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
ratio = second / first
print(f"second/first = {ratio:.3f} ({ratio * 100:.1f}%)")
if read != 0:
    sys.exit(f"the second sweep read {read} items; expected 0")
if ratio > 0.10:
    sys.exit("the second sweep took more than 10% of the first")
PY
