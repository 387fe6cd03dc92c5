#!/usr/bin/env python3
"""Generate a tree of small text files for the incremental sweep benchmark.

Every value is invented. One file in ten is a visit note with a fake SSN,
MRN and diagnosis code (phi), one in ten a contact list without health
information (pii), and the rest are PHI-free office text, in folders of 100
files. Each file is padded with office text to a size drawn from a
log-normal distribution with a median of MEDIAN_KIB, so that sizes range
from a few hundred bytes to a few hundred KiB as in a practice's share.
The script is seeded, so the same arguments give the same tree:

    python3 benches/sweep/gen_tree.py DIR [COUNT] [MEDIAN_KIB]

COUNT defaults to 100000 and MEDIAN_KIB to 8; MEDIAN_KIB 0 writes the
unpadded files of a few hundred bytes.
"""

import random
import sys
from pathlib import Path

SEED = 20261205
FIRST = ["Maria", "James", "Aisha", "Robert", "Linh", "David", "Sofia", "Michael"]
LAST = ["Alvarez", "Okafor", "Nguyen", "Kowalski", "Brennan", "Haddad", "Moreau"]
CODES = ["E11.9", "I10", "J45.909", "E78.5", "K21.9", "F41.1"]
OFFICE = [
    "Order gloves, gauze and paper towels before Friday.",
    "The staff meeting moves to Tuesday at noon in the break room.",
    "Reminder: the copier on the second floor is out of toner.",
    "Parking lot resurfacing is scheduled for the first week of June.",
]


def fake_ssn(rng):
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def main():
    root = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    median_kib = float(sys.argv[3]) if len(sys.argv) > 3 else 8.0
    rng = random.Random(SEED)
    padding = "\n".join(OFFICE * 64) + "\n"
    for index in range(count):
        folder = root / f"dept-{index // 10_000:02d}" / f"box-{index // 100:04d}"
        if index % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        kind = index % 10
        if kind == 0:
            text = (
                f"PROGRESS NOTE\nPatient: {name}\nMRN: {rng.randint(1_000_000, 9_999_999)}\n"
                f"SSN: {fake_ssn(rng)}\nAssessment: {rng.choice(CODES)}.\n"
            )
        elif kind == 1:
            text = f"Contact: {name}\nSSN: {fake_ssn(rng)}\n"
        else:
            text = "\n".join(rng.choice(OFFICE) for _ in range(rng.randint(3, 12))) + "\n"
        if median_kib > 0:
            target = int(rng.lognormvariate(0.0, 1.0) * median_kib * 1024)
            while len(text) < target:
                text += padding[: target - len(text)]
        (folder / f"doc-{index:06d}.txt").write_text(text)


if __name__ == "__main__":
    main()
