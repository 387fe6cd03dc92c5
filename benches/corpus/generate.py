#!/usr/bin/env python3
"""Generate a synthetic practice file share for throughput benchmarks.

Every identifier is invented. Documents mix prose, fake identifiers at a
realistic density (a visit note carries eight to twelve), and look-alikes that
must not be reported: part numbers, specimen SSNs, fictitious 555-01xx phones,
invalid dates, reserved example domains.

    python3 benches/corpus/generate.py OUT --size 1G [--seed 7] [--huge-log 4G]
        [--formats text,csv,log,xlsx,docx,pdf,eml,mbox]

The plain-text part has visit notes (50%), referral letters (20%), CSV exports
(10%) and application logs (20%). With the default rules that is about 14,000
findings per MB; the CSV exports alone have about 60,000 per MB.

The plain-text part (text, csv, log) is what the ripgrep comparison runs on.
Office, PDF and mail files need openpyxl, python-docx, fpdf2 (pip) and are
generated only when their format is listed.
"""

import argparse
import os
import random
import sys
from pathlib import Path

FIRST = ["Maria", "James", "Aisha", "Robert", "Linh", "David", "Sofia", "Michael", "Grace",
         "Daniel", "Fatima", "Thomas", "Elena", "Kevin", "Priya", "Samuel", "Olivia", "Noah",
         "Hannah", "Omar", "Chloe", "Ethan", "Zara", "Lucas", "Mei", "Isaac", "Nadia", "Caleb"]
LAST = ["Alvarez", "Okafor", "Nguyen", "Kowalski", "Brennan", "Haddad", "Lindqvist", "Moreau",
        "Castellano", "Whitfield", "Oyelaran", "Petrakis", "Delgado", "Ramsey", "Fitzgerald",
        "Yamamoto", "Rasmussen", "Abernathy", "Quintero", "Sokolov", "Adeyemi", "Harrington"]
STREETS = ["Maple Ave", "Harbor St", "Linden Rd", "Prospect Hill Rd", "Elm Ct", "Quarry Ln",
           "Chestnut St", "Salem Tpke", "Orchard Way", "Mill Pond Dr"]
TOWNS = [("Worcester", "MA", "01608"), ("Springfield", "MA", "01103"), ("Lowell", "MA", "01852"),
         ("Nashua", "NH", "03060"), ("Providence", "RI", "02903"), ("Hartford", "CT", "06103")]
AREA_CODES = ["508", "413", "617", "781", "978", "603", "401", "860"]
DIAGNOSES = [("E11.9", "type 2 diabetes mellitus"), ("I10", "essential hypertension"),
             ("J45.909", "asthma, uncomplicated"), ("F32.A", "depression"),
             ("M54.50", "low back pain"), ("E78.5", "hyperlipidemia"), ("K21.9", "GERD"),
             ("G47.33", "obstructive sleep apnea"), ("F41.1", "generalized anxiety disorder"),
             ("E03.9", "hypothyroidism")]
MEDICATIONS = ["metformin 500 mg twice daily", "lisinopril 10 mg daily", "atorvastatin 20 mg nightly",
               "albuterol inhaler as needed", "sertraline 50 mg daily", "levothyroxine 75 mcg daily",
               "omeprazole 20 mg daily", "amlodipine 5 mg daily"]
PROSE = [
    "Patient reports feeling better since the last visit and denies chest pain or shortness of breath.",
    "Reviewed home glucose log; fasting values mostly between 110 and 140.",
    "Discussed diet, exercise and sleep hygiene; patient agrees to walk thirty minutes five days a week.",
    "No fever, chills or night sweats. Appetite is good and weight is stable.",
    "Lungs clear to auscultation bilaterally. Heart regular rate and rhythm without murmur.",
    "Abdomen soft, non-tender, no organomegaly. Extremities without edema.",
    "Follow up in three months or sooner if symptoms worsen.",
    "Patient was counseled on medication adherence and possible side effects.",
    "Labs ordered: comprehensive metabolic panel, lipid panel and hemoglobin A1c.",
    "Vaccination record reviewed and influenza vaccine administered in the left deltoid.",
]
LOOKALIKES = [
    "Part number {n9} ships in a box of twelve.",
    "The 1938 wallet insert showed 078-05-1120 as a sample.",
    "Call the demo line at (617) 555-01{d2} for a product tour.",
    "Write to support@example.com with questions.",
    "Catalog code E11.99 and room B12 are not diagnoses.",
    "Build 13/13/2020 and serial 000-12-3456 are invalid on purpose.",
    "Tracking {n12} was delivered to the loading dock.",
    "Invoice total was {n4}.{d2} for {n3} units.",
]


class Faker:
    def __init__(self, rng):
        self.rng = rng

    def ssn(self):
        area = self.rng.randint(1, 899)
        if area == 666:
            area = 667
        return f"{area:03d}-{self.rng.randint(1, 99):02d}-{self.rng.randint(1, 9999):04d}"

    def phone(self):
        exchange = self.rng.randint(200, 999)
        if exchange % 100 == 11 or exchange == 555:
            exchange = 432
        return f"({self.rng.choice(AREA_CODES)}) {exchange}-{self.rng.randint(0, 9999):04d}"

    def date(self):
        return f"{self.rng.randint(1, 12):02d}/{self.rng.randint(1, 28):02d}/{self.rng.randint(1935, 2020)}"

    def name(self):
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def mrn(self):
        return str(self.rng.randint(1_000_000, 9_999_999))

    def email(self, name):
        first, last = name.lower().split()
        return f"{first}.{last}{self.rng.randint(1, 99)}@{self.rng.choice(['gmail.com', 'yahoo.com', 'outlook.com', 'comcast.net'])}"

    def address(self):
        town, state, zip_code = self.rng.choice(TOWNS)
        return f"{self.rng.randint(10, 999)} {self.rng.choice(STREETS)}, {town}, {state} {zip_code}"

    def lookalike(self):
        r = self.rng
        return r.choice(LOOKALIKES).format(n9=r.randint(100_000_000, 999_999_999), d2=f"{r.randint(0, 99):02d}",
                                           n12=r.randint(10**11, 10**12 - 1), n4=r.randint(1000, 9999),
                                           n3=r.randint(10, 999))


def visit_note(fake):
    r = fake.rng
    name = fake.name()
    code, description = r.choice(DIAGNOSES)
    lines = [
        "PROGRESS NOTE",
        f"Patient: {name}    DOB: {fake.date()}    MRN: {fake.mrn()}",
        f"Address: {fake.address()}",
        f"Phone: {fake.phone()}    Email: {fake.email(name)}",
        f"Insurance: member ID {r.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{r.randint(10**8, 10**9 - 1)}",
        "",
        "Subjective:",
        paragraph(r, 6, 10),
        "Objective:",
        paragraph(r, 4, 8),
        f"Medications: {r.choice(MEDICATIONS)}; {r.choice(MEDICATIONS)}.",
        f"Assessment: {description} ({code}).",
        fake.lookalike(),
        "Plan:",
        paragraph(r, 4, 8),
    ]
    if r.random() < 0.3:
        lines.append(f"SSN on file: {fake.ssn()}")
    lines.append(f"Signed: Dr. {r.choice(FIRST)} {r.choice(LAST)}, MD  {fake.date()}")
    return "\n".join(lines) + "\n"


def paragraph(r, low, high):
    """Prose of `low` to `high` sentences, as clinicians write between the identifiers."""
    return " ".join(r.choice(PROSE) for _ in range(r.randint(low, high)))


def referral_letter(fake):
    """Write a letter to a specialist: mostly prose, one patient, one diagnosis."""
    r = fake.rng
    code, description = r.choice(DIAGNOSES)
    return "\n\n".join([
        f"Dear Dr. {r.choice(LAST)},",
        f"I am writing to refer {fake.name()}, date of birth {fake.date()}, for evaluation of {description} ({code}).",
        paragraph(r, 8, 14),
        paragraph(r, 6, 12),
        "Thank you for seeing this patient. Please send your consultation note to our office.",
        f"Sincerely,\nDr. {r.choice(FIRST)} {r.choice(LAST)}",
    ]) + "\n"


def csv_rows(fake, count):
    r = fake.rng
    yield "patient,dob,mrn,ssn,phone,email,dx,amount\n"
    for _ in range(count):
        name = fake.name()
        code, _ = r.choice(DIAGNOSES)
        yield (f"\"{name}\",{fake.date()},{fake.mrn()},{fake.ssn()},{fake.phone()},{fake.email(name)},"
               f"{code},{r.randint(20, 900)}.{r.randint(0, 99):02d}\n")


def log_lines(fake, count):
    r = fake.rng
    for i in range(count):
        hour, minute, second = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
        stamp = f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{hour:02d}:{minute:02d}:{second:02d}Z"
        # Internal addresses mostly; now and then a patient-portal client.
        if r.random() < 0.05:
            ip = f"{r.choice([24, 50, 66, 73, 98, 173])}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        else:
            ip = f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        if r.random() < 0.02:
            yield f"{stamp} WARN export user=frontdesk patient_mrn={fake.mrn()} dob={fake.date()} ip={ip}\n"
        else:
            yield (f"{stamp} INFO request id={r.getrandbits(64):016x} method=GET path=/api/v2/schedule/{r.randint(1, 99999)}"
                   f" status=200 duration_ms={r.randint(1, 900)} ip={ip}\n")


def write_until(path, generator, size):
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        buffer = []
        for piece in generator:
            buffer.append(piece)
            written += len(piece)
            if len(buffer) >= 2000:
                out.write("".join(buffer))
                buffer.clear()
            if written >= size:
                break
        out.write("".join(buffer))
    return written


def endless(make):
    while True:
        yield make()


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().rstrip("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def write_documents(folder, prefix, make, budget):
    """Writes small documents made by `make` until `budget` bytes; returns the count."""
    written, index = 0, 0
    while written < budget:
        sub = folder / f"{index // 1000:04d}"
        sub.mkdir(parents=True, exist_ok=True)
        text = make()
        (sub / f"{prefix}-{index:07d}.txt").write_text(text, encoding="utf-8")
        written += len(text)
        index += 1
    return index


def generate_text(out, fake, budget):
    """Plain-text part, in proportions a practice share has: 50% visit notes,
    20% letters, 10% CSV exports (the densest in identifiers), 20% logs."""
    exports_dir, logs_dir = out / "exports", out / "logs"
    for folder in (exports_dir, logs_dir):
        folder.mkdir(parents=True, exist_ok=True)
    notes_budget, letters_budget, csv_budget = budget * 5 // 10, budget * 2 // 10, budget // 10
    log_budget = budget - notes_budget - letters_budget - csv_budget

    r = fake.rng
    files = write_documents(out / "notes", "note",
                            lambda: "".join(visit_note(fake) for _ in range(r.randint(1, 3))), notes_budget)
    files += write_documents(out / "letters", "letter", lambda: referral_letter(fake), letters_budget)

    part = 0
    while csv_budget > 0:
        size = min(csv_budget, 16 << 20)
        write_until(exports_dir / f"export-{part:03d}.csv", csv_rows(fake, 10**12), size)
        csv_budget -= size
        part += 1
        files += 1

    part = 0
    while log_budget > 0:
        size = min(log_budget, 64 << 20)
        write_until(logs_dir / f"app-{part:03d}.log", log_lines(fake, 10**12), size)
        log_budget -= size
        part += 1
        files += 1
    return files


def generate_documents(out, fake, formats, count):
    """Office, PDF and mail files, for the mixed-format benchmark."""
    docs = out / "documents"
    docs.mkdir(parents=True, exist_ok=True)
    if "xlsx" in formats:
        from openpyxl import Workbook
        for i in range(count):
            book = Workbook()
            sheet = book.active
            sheet.title = "Patients"
            for row in csv_rows(fake, 400):
                sheet.append(row.rstrip("\n").replace('"', "").split(","))
            book.save(docs / f"roster-{i:04d}.xlsx")
    if "docx" in formats:
        from docx import Document
        for i in range(count):
            document = Document()
            for _ in range(8):
                for line in visit_note(fake).splitlines():
                    document.add_paragraph(line)
            document.save(docs / f"letter-{i:04d}.docx")
    if "pdf" in formats:
        from fpdf import FPDF
        for i in range(count):
            pdf = FPDF()
            pdf.set_font("Helvetica", size=10)
            for _ in range(4):
                pdf.add_page()
                for line in visit_note(fake).splitlines():
                    pdf.cell(0, 5, line.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT")
            pdf.output(str(docs / f"scan-{i:04d}.pdf"))
    if "eml" in formats or "mbox" in formats:
        from email.message import EmailMessage
        messages = []
        for i in range(count * 4):
            message = EmailMessage()
            name = fake.name()
            message["From"] = "frontdesk@lakesidefamilymed.org"
            message["To"] = fake.email(name)
            message["Subject"] = f"Visit summary for {name}"
            message["Date"] = "Tue, 05 Mar 2024 10:15:00 -0500"
            message.set_content(visit_note(fake))
            messages.append(message)
            if "eml" in formats:
                (docs / f"message-{i:05d}.eml").write_bytes(bytes(message))
        if "mbox" in formats:
            with open(docs / "export.mbox", "wb") as mbox:
                for message in messages:
                    mbox.write(b"From frontdesk@lakesidefamilymed.org Tue Mar  5 10:15:00 2024\n")
                    body = bytes(message).replace(b"\nFrom ", b"\n>From ")
                    mbox.write(body + b"\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", default="100M", help="bytes of plain text (K, M, G suffixes)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--huge-log", default=None, help="also write one log file of this size")
    parser.add_argument("--formats", default="text,csv,log")
    parser.add_argument("--documents", type=int, default=50, help="files per document format")
    args = parser.parse_args()

    fake = Faker(random.Random(args.seed))
    formats = set(args.formats.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    files = 0
    if formats & {"text", "csv", "log"}:
        files += generate_text(args.out, fake, parse_size(args.size))
    if formats & {"xlsx", "docx", "pdf", "eml", "mbox"}:
        generate_documents(args.out, fake, formats, args.documents)
    if args.huge_log:
        huge = args.out / "huge"
        huge.mkdir(exist_ok=True)
        write_until(huge / "server.log", log_lines(fake, 10**15), parse_size(args.huge_log))
        files += 1
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"{args.out}: {total / (1 << 20):.1f} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
