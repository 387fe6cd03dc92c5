#!/usr/bin/env python3
"""Score phiscan and Presidio findings against the corpus labels.

A labelled span counts as found (recall) when a finding of its category
overlaps it. A finding counts as correct (precision) when it overlaps a
labelled span of its category. Clinician names count as names. Look-alikes
are labelled non-PHI values, and the flagged rate is the share of them that
any finding overlaps.

Usage: score.py LABELS PHISCAN_JSONL PRESIDIO_JSONL DOCS_DIR
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

# Presidio entity types and the phiscan categories they stand for. A phone
# number is right for a fax line too: Presidio has no fax type.
PRESIDIO_CATEGORIES = {
    "US_SSN": ["ssn"], "PHONE_NUMBER": ["phone", "fax"], "EMAIL_ADDRESS": ["email"],
    "DATE_TIME": ["date"], "PERSON": ["name"], "LOCATION": ["address"],
    "US_DRIVER_LICENSE": ["license-number"], "CREDIT_CARD": ["account-number"],
    "US_BANK_NUMBER": ["account-number"], "IBAN_CODE": ["account-number"],
    "IP_ADDRESS": ["ip-address"], "URL": ["url"], "US_ITIN": ["other-id"],
    "US_PASSPORT": ["other-id"], "MEDICAL_LICENSE": ["provider-id"],
}
IDENTIFIER_TARGETS = ["ssn", "phone", "email", "mrn", "health-plan-id", "provider-id", "date"]
NAME_ADDRESS_TARGETS = ["name", "address"]
CLINICIAN_RULES = ("person.clinician.",)


def overlaps(a, b):
    return a[0] < b[1] and b[0] < a[1]


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def phiscan_findings(path, docs):
    root = str(Path(docs).resolve())
    found = []
    for record in load_jsonl(path):
        if record.get("type") != "finding" or record["locator"].get("kind") == "file-name":
            continue
        location = record["location"]
        location = str(Path(location).resolve()) if not location.startswith(root) else location
        doc = location[len(root):].lstrip("/")
        found.append({"doc": doc, "start": record["start"], "end": record["end"],
                      "categories": [record["category"]], "rule": record["rule"],
                      "score": record["confidence"] / 100})
    return found


def presidio_findings(path):
    found = []
    for record in load_jsonl(path):
        categories = PRESIDIO_CATEGORIES.get(record["entity"])
        if categories:
            found.append({"doc": record["doc"], "start": record["start"], "end": record["end"],
                          "categories": categories, "rule": record["entity"], "score": record["score"]})
    return found


def index(items):
    by_doc = defaultdict(list)
    for item in items:
        by_doc[item["doc"]].append(item)
    return by_doc


def score(labels, findings, threshold=0.0):
    findings = [f for f in findings if f["score"] >= threshold]
    gold_by_doc = index([l for l in labels if l["kind"] != "lookalike"])
    look_by_doc = index([l for l in labels if l["kind"] == "lookalike"])
    found_by_doc = index(findings)
    stats = defaultdict(lambda: {"gold": 0, "hit": 0, "pred": 0, "correct": 0})
    flagged = 0
    for doc in set(gold_by_doc) | set(found_by_doc) | set(look_by_doc):
        gold, found = gold_by_doc.get(doc, []), found_by_doc.get(doc, [])
        for label in gold:
            span = (label["start"], label["end"])
            stats[label["category"]]["gold"] += 1
            if any(label["category"] in f["categories"] and overlaps(span, (f["start"], f["end"])) for f in found):
                stats[label["category"]]["hit"] += 1
        for f in found:
            span = (f["start"], f["end"])
            matched = [l["category"] for l in gold
                       if l["category"] in f["categories"] and overlaps(span, (l["start"], l["end"]))]
            category = matched[0] if matched else f["categories"][0]
            stats[category]["pred"] += 1
            stats[category]["correct"] += bool(matched)
        for look in look_by_doc.get(doc, []):
            span = (look["start"], look["end"])
            flagged += any(overlaps(span, (f["start"], f["end"])) for f in found)
    lookalikes = sum(1 for l in labels if l["kind"] == "lookalike")
    return stats, flagged, lookalikes


def measures(s):
    recall = s["hit"] / s["gold"] if s["gold"] else 0.0
    precision = s["correct"] / s["pred"] if s["pred"] else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
    return recall, precision, f1, f2


def best_threshold(labels, findings, category):
    best = (0.0, 0.0)
    for threshold in sorted({round(f["score"], 2) for f in findings if category in f["categories"]}):
        stats, _, _ = score(labels, findings, threshold)
        f2 = measures(stats[category])[3]
        if f2 > best[0]:
            best = (f2, threshold)
    return best


def clinician_roles(labels, findings):
    """Share of clinician names reported by a clinician rule, and of patient
    names wrongly reported by one."""
    found = index([f for f in findings if "name" in f["categories"]])
    counts = {"clinician": [0, 0], "phi": [0, 0]}
    for label in labels:
        if label["category"] != "name" or label["kind"] not in counts:
            continue
        span = (label["start"], label["end"])
        hits = [f for f in found.get(label["doc"], []) if overlaps(span, (f["start"], f["end"]))]
        if hits:
            counts[label["kind"]][0] += 1
            counts[label["kind"]][1] += any(f["rule"].startswith(CLINICIAN_RULES) for f in hits)
    return counts


def print_errors(labels, findings, docs, category):
    """Prints phiscan's misses and false findings of one category, with context."""
    gold_by_doc = index([l for l in labels if l["kind"] != "lookalike" and l["category"] == category])
    found_by_doc = index([f for f in findings if category in f["categories"]])
    for doc in sorted(set(gold_by_doc) | set(found_by_doc)):
        text = (Path(docs) / doc).read_bytes()
        gold, found = gold_by_doc.get(doc, []), found_by_doc.get(doc, [])
        show = lambda s, e: text[max(0, s - 30):e + 15].decode("utf-8", "replace").replace("\n", "|")
        for l in gold:
            if not any(overlaps((l["start"], l["end"]), (f["start"], f["end"])) for f in found):
                print(f"MISS {doc}: {text[l['start']:l['end']].decode()!r} in {show(l['start'], l['end'])!r}")
        for f in found:
            if not any(overlaps((l["start"], l["end"]), (f["start"], f["end"])) for l in gold):
                print(f"FALSE {doc} {f['rule']}: {text[f['start']:f['end']].decode()!r} in {show(f['start'], f['end'])!r}")


def main():
    labels_path, phiscan_path, presidio_path, docs = sys.argv[1:5]
    if len(sys.argv) > 6 and sys.argv[5] == "--errors":
        print_errors(load_jsonl(labels_path), phiscan_findings(phiscan_path, docs), docs, sys.argv[6])
        return
    labels = load_jsonl(labels_path)
    ours = phiscan_findings(phiscan_path, docs)
    theirs = presidio_findings(presidio_path)
    our_stats, our_flagged, lookalikes = score(labels, ours)
    their_stats, their_flagged, _ = score(labels, theirs)
    covered = {c for categories in PRESIDIO_CATEGORIES.values() for c in categories}

    documents = len({l["doc"] for l in labels})
    spans = sum(1 for l in labels if l["kind"] != "lookalike")
    print(f"{documents} documents, {spans} labelled spans, {lookalikes} look-alikes\n")
    header = (f"| category | spans | phiscan R | P | F1 | F2 | Presidio R | P | F1 | F2 | "
              f"Presidio best F2 (score >=) |")
    print(header)
    print("|" + "---|" * 12)
    failures = []
    wins = []
    for category in sorted(our_stats, key=lambda c: (-our_stats[c]["gold"], c)):
        s = our_stats[category]
        if s["gold"] == 0:
            continue
        r, p, f1, f2 = measures(s)
        row = f"| {category} | {s['gold']} | {r:.3f} | {p:.3f} | {f1:.3f} | {f2:.3f} |"
        if category in covered:
            tr, tp, tf1, tf2 = measures(their_stats[category])
            best, threshold = best_threshold(labels, theirs, category)
            row += f" {tr:.3f} | {tp:.3f} | {tf1:.3f} | {tf2:.3f} | {best:.3f} ({threshold:.2f}) |"
            wins.append((category, f2 > tf2))
        else:
            row += " - | - | - | - | - |"
        print(row)
        if category in IDENTIFIER_TARGETS and (r < 0.99 or p < 0.97):
            failures.append(f"{category}: recall {r:.3f} (target 0.99), precision {p:.3f} (target 0.97)")
        if category in NAME_ADDRESS_TARGETS and (r < 0.95 or p < 0.90):
            failures.append(f"{category}: recall {r:.3f} (target 0.95), precision {p:.3f} (target 0.90)")

    print(f"\nlook-alikes flagged: phiscan {our_flagged}/{lookalikes} ({our_flagged / lookalikes:.1%}), "
          f"Presidio {their_flagged}/{lookalikes} ({their_flagged / lookalikes:.1%})")
    roles = clinician_roles(labels, ours)
    clinician, patient = roles["clinician"], roles["phi"]
    print(f"phiscan names with the provider role: {clinician[1]}/{clinician[0]} clinician names found, "
          f"{patient[1]}/{patient[0]} patient and relative names found")
    if our_flagged / lookalikes > 0.02:
        failures.append(f"look-alikes flagged {our_flagged / lookalikes:.1%} (target 2%)")
    lost = [category for category, won in wins if not won]
    if lost:
        failures.append("F2 not above Presidio (default settings) in: " + ", ".join(lost))
    print("\ntargets: " + ("all met" if not failures else "MISSED\n  " + "\n  ".join(failures)))


if __name__ == "__main__":
    main()
