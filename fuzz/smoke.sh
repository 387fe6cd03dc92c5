#!/usr/bin/env bash
# Runs every fuzz target briefly, seeded with the fixtures of its format.
#
#   fuzz/smoke.sh [SECONDS_PER_TARGET]    (default 5)
#
# Needs cargo-fuzz (cargo install cargo-fuzz). cargo-fuzz passes nightly-only
# sanitizer flags, which the stable toolchain accepts with RUSTC_BOOTSTRAP=1.
# Crashes are written under fuzz/artifacts/; the generated corpus stays in a
# temporary folder.
set -euo pipefail

seconds="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export RUSTC_BOOTSTRAP=1

# Fixture file extensions that seed each target.
declare -A seeds=(
  [extract_any]="*"
  [zip]="zip" [gzip]="gz" [tar]="tar" [xlsx]="xlsx" [ole2]="xls doc"
  [ods]="ods" [docx]="docx" [pptx]="pptx" [odt]="odt odp" [pdf]="pdf" [rtf]="rtf"
  [hl7]="hl7" [x12]="x12" [dicom]="dcm" [json]="json" [xml]="xml"
)

# Counts the failing inputs libFuzzer has saved for a target.
count_artifacts() {
  if [ -d "fuzz/artifacts/$1" ]; then
    find "fuzz/artifacts/$1" -type f | wc -l
  else
    echo 0
  fi
}

cargo fuzz build --fuzz-dir fuzz
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
failed=""
for target in $(cargo fuzz list --fuzz-dir fuzz); do
  mkdir -p "$work/$target/corpus" "$work/$target/seeds"
  for extension in ${seeds[$target]:-*}; do
    find fixtures/share -type f -name "*.${extension}" -size -2M -exec cp {} "$work/$target/seeds/" \; 2>/dev/null || true
  done
  echo "== $target"
  before=$(count_artifacts "$target")
  cargo fuzz run --fuzz-dir fuzz "$target" "$work/$target/corpus" "$work/$target/seeds" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|==[0-9]+==|SUMMARY|Done|panic in)" || true
  after=$(count_artifacts "$target")
  if [ "$after" -gt "$before" ]; then
    failed="$failed $target"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz targets found failing inputs:$failed (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz smoke: all targets ran for ${seconds} s each in $(( $(date +%s) - started )) s (plus the build)"
