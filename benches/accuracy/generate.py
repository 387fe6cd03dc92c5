#!/usr/bin/env python3
"""Generate the labelled accuracy corpus: fake practice documents with every
identifier and health signal marked by byte offsets.

All values are fake. Names and cities come from Faker (seeded). Numbers are
drawn at random and made valid (SSN ranges, NANP rules, check digits), so
they look like real ones without belonging to anyone. ZIP codes are drawn from
rules/data/zip-codes.txt, so addresses carry ZIP codes that exist, as real
ones do. Look-alikes are values a careless scanner flags but that are not PHI:
published specimen numbers, the fictitious 555-01xx phones, reserved
documentation domains, test card numbers and codes that fail their checks.

Usage: generate.py OUT_DIR [--seed N] [--docs-per-style N]
Writes OUT_DIR/docs/<style>/<n>.txt|csv and OUT_DIR/labels.jsonl.
"""

import argparse
import json
import random
import shutil
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parents[2]
STYLES = ["intake", "progress", "referral", "billing", "lab", "message"]


class Doc:
    """A document under construction: text plus labelled spans."""

    def __init__(self):
        self.parts = []
        self.length = 0
        self.spans = []

    def add(self, text):
        self.parts.append(text)
        self.length += len(text)

    def span(self, category, value, kind="phi"):
        self.spans.append((self.length, self.length + len(value), category, kind))
        self.add(value)

    def text(self):
        return "".join(self.parts)


class Fakes:
    """Seeded generators of fake identifiers and health signals."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.faker = Faker("en_US")
        self.faker.seed_instance(seed)
        self.foreign = [Faker(locale) for locale in ["es_MX", "it_IT", "pl_PL", "de_DE", "fr_FR"]]
        for i, faker in enumerate(self.foreign):
            faker.seed_instance(seed + i + 1)
        self.zips = self._load_zips()
        self.icd_codes = [line.strip() for line in open(ROOT / "rules/data/icd10cm-codes.txt")
                    if line.strip() and not line.startswith("#")]

    def _load_zips(self):
        zips = []
        for line in open(ROOT / "rules/data/zip-codes.txt"):
            if line.startswith("#") or not line.strip():
                continue
            prefix, states, bitmap = line.split()
            bits = int(bitmap, 16)
            for n in range(100):
                if bits >> (99 - n) & 1:
                    zips.append((f"{prefix}{n:02d}", states.split(",")[0]))
        return zips

    def choice(self, items):
        return self.r.choice(items)

    def chance(self, p):
        return self.r.random() < p

    def digits(self, n):
        return "".join(self.r.choice("0123456789") for _ in range(n))

    # People

    def person(self):
        faker = self.faker if self.chance(0.85) else self.choice(self.foreign)
        first = faker.first_name()
        last = faker.last_name()
        middle = self.r.choice("ABCDEFGHJKLMNPRSTW") if self.chance(0.2) else None
        return first, middle, last

    def full_name(self, person=None, style=None):
        first, middle, last = person or self.person()
        style = style or self.choice(["first last"] * 6 + ["first m last", "last, first", "LAST, FIRST"])
        if style == "first m last" and middle:
            return f"{first} {middle}. {last}"
        if style == "last, first":
            return f"{last}, {first}"
        if style == "LAST, FIRST":
            return f"{last.upper()}, {first.upper()}"
        return f"{first} {last}"

    # Numbers

    def ssn(self):
        while True:
            area = self.r.randint(1, 899)
            if area != 666:
                break
        group, serial = self.r.randint(1, 99), self.r.randint(1, 9999)
        value = f"{area:03d}{group:02d}{serial:04d}"
        if value in ("078051120", "219099999", "123456789"):
            return self.ssn()
        form = self.r.random()
        if form < 0.7:
            return f"{value[:3]}-{value[3:5]}-{value[5:]}"
        if form < 0.8:
            return f"{value[:3]} {value[3:5]} {value[5:]}"
        if form < 0.85:
            return f"{value[:3]}\u2013{value[3:5]}\u2013{value[5:]}"
        return value

    def phone(self, plain_ok=True):
        while True:
            area = f"{self.r.randint(2, 9)}{self.r.randint(0, 8)}{self.r.randint(0, 9)}"
            exchange = f"{self.r.randint(2, 9)}{self.digits(2)}"
            if area[1:] == "11" or exchange[1:] == "11":
                continue
            if exchange == "555":
                continue
            break
        line = self.digits(4)
        forms = [f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}",
                 f"{area}.{exchange}.{line}", f"+1 {area} {exchange} {line}",
                 f"1-{area}-{exchange}-{line}", f"({area}) {exchange}-{line} ext. {self.r.randint(10, 999)}"]
        if plain_ok:
            forms.append(f"{area}{exchange}{line}")
        return self.choice(forms)

    def email(self, person=None):
        first, _, last = person or self.person()
        local = self.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{self.r.randint(1, 99)}",
                             f"{last}.{first[0]}", f"{first}_{last}{self.r.randint(1, 9)}"])
        local = "".join(c for c in local.lower() if c.isascii() and (c.isalnum() or c in "._"))
        domain = self.choice(["gmail.com", "yahoo.com", "outlook.com", "comcast.net", "icloud.com",
                              "aol.com", "hotmail.com", "protonmail.com", "verizon.net", "att.net"])
        return f"{local}@{domain}"

    def mrn(self):
        return self.choice([self.digits(7), self.digits(8), "00" + self.digits(6), f"MR{self.digits(7)}",
                            f"A{self.digits(7)}", f"MR-{self.digits(7)}", self.digits(10)])

    def mbi(self):
        letters = "ACDEFGHJKMNPQRTUVWXY"
        alnum = letters + "0123456789"
        c = self.r.choice
        value = (str(self.r.randint(1, 9)) + c(letters) + c(alnum) + c("0123456789") + c(letters)
                 + c(alnum) + c("0123456789") + c(letters) + c(letters) + self.digits(2))
        return value if self.chance(0.6) else f"{value[:4]}-{value[4:7]}-{value[7:]}"

    def member_id(self):
        return self.choice([f"{self.choice(['XEH', 'YLW', 'ZGP', 'JQU', 'W'])}{self.digits(9)}",
                            f"{self.digits(9)} {self.digits(2)}", f"U{self.digits(8)}",
                            f"H{self.digits(8)}", self.digits(11)])

    def group_number(self):
        return self.choice([self.digits(7), f"GRP{self.digits(6)}", self.digits(5)])

    @staticmethod
    def luhn_digit(digits):
        total = 0
        for i, d in enumerate(reversed(digits)):
            d = int(d)
            if i % 2 == 0:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
        return str((10 - total % 10) % 10)

    def npi(self):
        body = self.choice("12") + self.digits(8)
        return body + self.luhn_digit("80840" + body)

    def dea(self, last_name):
        initial = last_name[0].upper() if last_name[0].isascii() and last_name[0].isalpha() else "9"
        d = [self.r.randint(0, 9) for _ in range(6)]
        check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
        return self.choice("ABFGM") + initial + "".join(map(str, d)) + str(check)

    def card(self):
        prefix = self.choice(["4", "51", "52", "53", "54", "55", "6011", "37"])
        length = 15 if prefix == "37" else 16
        body = prefix + self.digits(length - len(prefix) - 1)
        number = body + self.luhn_digit(body)
        if length == 15:
            return f"{number[:4]} {number[4:10]} {number[10:]}"
        sep = self.choice([" ", "-", ""])
        return sep.join(number[i:i + 4] for i in range(0, 16, 4))

    def vin(self):
        chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
        values = {c: i for i, c in enumerate("0123456789")}
        values.update(dict(zip("ABCDEFGH", range(1, 9))))
        values.update(dict(zip("JKLMN", range(1, 6))))
        values.update({"P": 7, "R": 9})
        values.update(dict(zip("STUVWXYZ", range(2, 10))))
        weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
        while True:
            vin = [self.choice("12345JKLSWYZ"), self.choice("ABCGHNF"), self.choice("ABCDEGHJ")]
            vin += [self.choice(chars) for _ in range(14)]
            total = sum(values[c] * w for c, w in zip(vin, weights))
            check = total % 11
            vin[8] = "X" if check == 10 else str(check)
            total = sum(values[c] * w for c, w in zip(vin, weights))
            if sum(c.isalpha() for c in vin) >= 2:
                return "".join(vin)

    def loinc(self):
        number = str(self.r.randint(100, 99999))
        return f"{number}-{self.luhn_digit(number)}"

    def ndc(self):
        layout = self.choice([(4, 4, 2), (5, 3, 2), (5, 4, 1)])
        parts = ["".join(self.choice("0123456789") for _ in range(n)) for n in layout]
        parts[0] = str(self.r.randint(1, 9)) + parts[0][1:]
        parts[1] = str(self.r.randint(1, 9)) + parts[1][1:]
        return "-".join(parts)

    def ip(self):
        first = self.choice([24, 50, 67, 68, 71, 73, 76, 98, 99, 104, 107, 108, 172, 174])
        return f"{first}.{self.r.randint(0, 255)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}"

    def license(self):
        return self.choice([f"S{self.digits(8)}", self.digits(9), f"D{self.digits(7)}",
                            f"{self.choice('ABCFGHJKLMNPRSTW')}{self.digits(12)}"])

    def account(self):
        return self.choice([self.digits(9), f"A{self.digits(7)}", self.digits(12), f"{self.digits(6)}-{self.digits(2)}"])

    # Dates and places

    def date(self, start=1930, end=2025, forms=None):
        year = self.r.randint(start, end)
        month = self.r.randint(1, 12)
        day = self.r.randint(1, 28)
        months = ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"]
        form = self.choice(forms or ["mdy", "mdy", "mdy", "m/d/yy", "iso", "long", "dmy-text", "dd-MON-yyyy", "mdy-dash"])
        return {
            "mdy": f"{month:02d}/{day:02d}/{year}",
            "m/d/yy": f"{month}/{day}/{year % 100:02d}",
            "iso": f"{year}-{month:02d}-{day:02d}",
            "long": f"{months[month - 1]} {day}, {year}",
            "dmy-text": f"{day} {months[month - 1][:3]} {year}",
            "dd-MON-yyyy": f"{day:02d}-{months[month - 1][:3].upper()}-{year}",
            "mdy-dash": f"{month}-{day}-{year}",
        }[form]

    def street(self):
        number = str(self.r.randint(1, 9999))
        name = self.choice([self.faker.last_name(), self.faker.first_name(),
                            self.choice(["Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake",
                                         "Hill", "Park", "Main", "Church", "Mill", "Spring", "Ridge"]),
                            self.choice(["1st", "2nd", "3rd", "4th", "5th", "12th", "21st", "42nd"])])
        if self.chance(0.8):
            suffix = self.choice(["St", "Street", "Ave", "Avenue", "Rd", "Road", "Dr", "Drive", "Ln", "Lane",
                                  "Blvd", "Ct", "Court", "Way", "Pl", "Terrace", "Circle", "Pkwy", "Hwy"])
        else:
            suffix = self.faker.street_suffix()
        direction = self.choice(["N. ", "S. ", "E. ", "W. ", "North ", ""]) if self.chance(0.15) else ""
        unit = self.choice([f" Apt {self.r.randint(1, 40)}{self.choice('ABCD')}", f" Apt. {self.r.randint(100, 999)}",
                            f" Unit {self.r.randint(1, 20)}", f", Suite {self.r.randint(100, 400)}"]) if self.chance(0.25) else ""
        return f"{number} {direction}{name} {suffix}{unit}"

    def city_state_zip(self):
        zip_code, state = self.choice(self.zips)
        city = self.faker.city()
        zip_text = zip_code if self.chance(0.85) else f"{zip_code}-{self.digits(4)}"
        return self.choice([f"{city}, {state} {zip_text}", f"{city} {state} {zip_text}",
                            f"{city.upper()}, {state} {zip_text}"])

    def age_over_89(self):
        return self.r.randint(90, 104)

    # Health

    def icd(self):
        code = self.choice(self.icd_codes)
        return code[:3] + "." + code[3:] if len(code) > 3 else code

    def cpt(self):
        return self.choice(["99213", "99214", "99203", "99204", "99395", "99396", "36415", "80053", "83036",
                            "85025", "93000", "90471", "90686", "71046", "G0438", "J1100", "3074F", "96127"])

    DRUGS = ["metformin", "lisinopril", "atorvastatin", "amlodipine", "levothyroxine", "omeprazole", "sertraline",
             "losartan", "gabapentin", "hydrochlorothiazide", "albuterol", "insulin glargine", "apixaban",
             "escitalopram", "montelukast", "furosemide", "pantoprazole", "tamsulosin", "prednisone", "semaglutide",
             "sacubitril", "ticagrelor", "apremilast", "dupilumab", "Metformin", "Lisinopril", "Eliquis", "Ozempic"]
    TERMS = ["hypertension", "type 2 diabetes", "hyperlipidemia", "major depressive disorder", "asthma",
             "chronic kidney disease", "atrial fibrillation", "osteoarthritis", "COPD", "hypothyroidism",
             "generalized anxiety disorder", "obstructive sleep apnea", "GERD", "migraine", "obesity"]
    LABS = [("Hemoglobin A1c", "%", (5.2, 11.5)), ("LDL", "mg/dL", (60, 190)), ("TSH", "mIU/L", (0.3, 8.0)),
            ("Creatinine", "mg/dL", (0.6, 2.4)), ("eGFR", "mL/min/1.73m2", (25, 110)),
            ("Glucose", "mg/dL", (70, 260)), ("Potassium", "mmol/L", (3.2, 5.6)), ("Hemoglobin", "g/dL", (9.5, 16.5)),
            ("Sodium", "mmol/L", (131, 146)), ("ALT", "U/L", (8, 90)), ("Vitamin D", "ng/mL", (12, 60)),
            ("PSA", "ng/mL", (0.2, 9.0)), ("Platelets", "K/uL", (120, 420))]

    def lab(self):
        name, unit, (low, high) = self.choice(self.LABS)
        value = round(self.r.uniform(low, high), 1)
        return name, f"{value} {unit}"


# Look-alikes: (category they imitate, text before, value).
def lookalike(f):
    return f.choice([
        ("ssn", "Sample form shows SSN ", f.choice(["078-05-1120", "219-09-9999", "123-45-6789"])),
        ("ssn", "Invalid SSN on file: ", f.choice(["000-12-3456", "666-45-1234", "123-00-4567", "234-56-0000"])),
        ("ssn", "Lot # ", f"{f.r.randint(100, 899)}-{f.r.randint(10, 99)}-{f.digits(4)}"),
        ("phone", "For the demo call ", f"({f.r.randint(2, 9)}{f.digits(2)}) 555-01{f.digits(2)}"),
        ("phone", "Order line ", f"(1{f.digits(2)}) {f.r.randint(2, 9)}{f.digits(2)}-{f.digits(4)}"),
        ("email", "Template address: ", f.choice(["jane.doe@example.com", "patient@example.org", "user@clinic.test"])),
        ("account-number", "Test card ", f.choice(["4111 1111 1111 1111", "4242 4242 4242 4242", "5555 5555 5555 4444"])),
        ("account-number", "Card on file ", "4556 7375 8689 9856"),
        ("provider-id", "NPI: ", f.choice(["1234567890", "1112223334", "1999999990"])),
        ("provider-id", "DEA: ", f.choice(["AB1234567", "BX7654320"])),
        ("date", "Ratio ", "1/2/3"),
        ("date", "Entered in error: ", f.choice(["02/30/2021", "13/32/2019", "00/12/2020"])),
        ("date", "BP ", f"{f.r.randint(100, 160)}/{f.r.randint(60, 99)}"),
        ("diagnosis", "Code ", f.choice(["E11.99", "Z99.999", "R69.1"])),
        ("health-plan-id", "Sample MBI ", f.choice(["1SG4-TE5-MK73", "0EG4-TE5-MK73"])),
        ("vehicle-id", "VIN field ", "11111111111111111"),
        ("ip-address", "Software version ", f"{f.r.randint(1, 12)}.{f.r.randint(0, 9)}.{f.r.randint(0, 9)}.{f.r.randint(0, 99)}"),
        ("ip-address", "Docs use ", f"192.0.2.{f.r.randint(1, 254)}"),
        ("ssn", "Order ", f.digits(9)),
        ("phone", "Tracking ", f.digits(10)),
        ("medication", "Ref: ", f"20{f.r.randint(10, 25)}-{f.r.randint(1000, 9999)}-{f.r.randint(10, 99)}"),
        ("provider-id", "Model no. ", "1" + f.digits(9)),
        ("date", "Score ", f"{f.r.randint(1, 9)}/{f.r.randint(10, 30)}"),
        ("phone", "Reference line ", f"(800) 555-01{f.digits(2)}"),
        ("email", "Send to ", f"noreply@{f.choice(['example.net', 'invalid.invalid', 'demo.test'])}"),
        ("address", "Suite ", f"{f.r.randint(100, 999)} of the {f.choice(['Main', 'North', 'East'])} Building"),
    ])


def add_lookalikes(doc, f, count):
    for _ in range(count):
        category, before, value = lookalike(f)
        doc.add(before)
        doc.span(category, value, kind="lookalike")
        doc.add(".\n")


def labelled_line(doc, label, category, value, end="\n"):
    doc.add(label)
    doc.span(category, value)
    doc.add(end)


def intake(f):
    doc = Doc()
    person = f.person()
    doc.add(f.choice(["NEW PATIENT INTAKE FORM\n", "Patient Registration\n", "PATIENT INFORMATION SHEET\n"]))
    doc.add(f"Springfield Family Medicine - {f.choice(['Main Office', 'Westside Clinic', 'Pediatrics'])}\n\n")
    label = f.choice(["Patient Name: ", "Name: ", "Patient: ", "Full Name: "])
    labelled_line(doc, label, "name", f.full_name(person))
    labelled_line(doc, f.choice(["Date of Birth: ", "DOB: ", "Birth Date: "]), "date", f.date(1925, 2020))
    if f.chance(0.3):
        doc.add("Age: ")
        age = f.age_over_89() if f.chance(0.5) else f.r.randint(20, 85)
        if age >= 90:
            doc.span("age-over-89", str(age))
        else:
            doc.add(str(age))
        doc.add("\n")
    labelled_line(doc, f.choice(["SSN: ", "Social Security #: ", "Social Security Number: "]), "ssn", f.ssn())
    doc.add("Address: ")
    doc.span("address", f.street())
    doc.add(f.choice([", ", "\n         "]))
    doc.span("address", f.city_state_zip())
    doc.add("\n")
    labelled_line(doc, f.choice(["Home Phone: ", "Phone: ", "Cell: ", "Mobile Phone: "]), "phone", f.phone())
    if f.chance(0.5):
        labelled_line(doc, "Work Phone: ", "phone", f.phone(plain_ok=False))
    labelled_line(doc, f.choice(["Email: ", "E-mail: "]), "email", f.email(person))
    labelled_line(doc, f.choice(["MRN: ", "Medical Record #: ", "Chart No.: ", "Patient ID: "]), "mrn", f.mrn())
    if f.chance(0.5):
        labelled_line(doc, f.choice(["Driver's License: ", "DL#: "]), "license-number", f.license())

    doc.add("\nINSURANCE\n")
    if f.chance(0.4):
        doc.add("Primary: Medicare Part B\n")
        labelled_line(doc, f.choice(["Medicare ID (MBI): ", "MBI: ", "Medicare #: "]), "health-plan-id", f.mbi())
    else:
        doc.add(f"Primary: {f.choice(['Blue Cross Blue Shield', 'Aetna', 'UnitedHealthcare', 'Cigna', 'Harvard Pilgrim'])}\n")
        labelled_line(doc, f.choice(["Member ID: ", "Subscriber ID: ", "Policy Number: "]), "health-plan-id", f.member_id())
        labelled_line(doc, f.choice(["Group #: ", "Group Number: "]), "health-plan-id", f.group_number())
    subscriber = f.person()
    labelled_line(doc, "Subscriber Name: ", "name", f.full_name(subscriber, "first last"))

    doc.add("\nEMERGENCY CONTACT\n")
    contact = f.person()
    labelled_line(doc, f.choice(["Emergency Contact: ", "Contact: "]), "name", f.full_name(contact, "first last"))
    doc.add(f"Relationship: {f.choice(['Spouse', 'Daughter', 'Son', 'Sister', 'Friend'])}\n")
    labelled_line(doc, "Contact Phone: ", "phone", f.phone(plain_ok=False))
    if f.chance(0.2):
        labelled_line(doc, "Vehicle (for accident claim) VIN: ", "vehicle-id", f.vin())

    doc.add("\nMEDICAL HISTORY\nConditions: ")
    for i in range(f.r.randint(1, 3)):
        if i:
            doc.add(", ")
        doc.span("clinical-term", f.choice(Fakes.TERMS))

    doc.add("\nCurrent medications: ")
    for i in range(f.r.randint(1, 3)):
        if i:
            doc.add("; ")
        doc.span("medication", f.choice(Fakes.DRUGS))
        doc.add(f" {f.choice([5, 10, 20, 25, 40, 50, 100, 500])} mg {f.choice(['daily', 'twice daily', 'at bedtime'])}")

    doc.add("\nAllergies: NKDA\n")
    if f.chance(0.3):
        doc.add("Payment card on file: ")
        doc.span("account-number", f.card())
        doc.add("\n")

    doc.add("\nI certify the above is correct.\nSignature: ____________  Date: ")
    doc.span("date", f.date(2023, 2025, ["mdy"]))
    doc.add("\n")

    if f.chance(0.4):
        add_lookalikes(doc, f, 1)

    return doc, "txt"


def progress(f):
    doc = Doc()
    person = f.person()
    first, _, last = person
    doc.add("PROGRESS NOTE\n")
    labelled_line(doc, "Patient: ", "name", f.full_name(person, "first last"), "    ")
    labelled_line(doc, "DOB: ", "date", f.date(1925, 2015, ["mdy", "m/d/yy", "iso"]), "    ")
    labelled_line(doc, "MRN: ", "mrn", f.mrn())
    labelled_line(doc, "Date of Service: ", "date", f.date(2022, 2025, ["mdy", "long", "iso"]))
    clinician = f.person()
    doc.add("Provider: ")
    doc.span("name", f"{clinician[0]} {clinician[2]}", kind="clinician")
    doc.add(f", {f.choice(['MD', 'DO', 'NP', 'PA-C'])}\n\n")
    honorific = f.choice(["Mr.", "Ms.", "Mrs."])
    age = f.age_over_89() if f.chance(0.15) else f.r.randint(22, 88)
    doc.add("SUBJECTIVE: ")
    if f.chance(0.3):
        doc.add(f.choice(["Pt ", "Patient ", ""]))
        doc.span("name", f"{first} {last}")
    else:
        doc.add(f"{honorific} ")
        doc.span("name", last)
    if age >= 90:
        doc.add(" is a ")
        doc.span("age-over-89", f"{age}-year-old")
        doc.add(f" {f.choice(['man', 'woman'])} ")
    else:
        doc.add(f" is a {age}-year-old {f.choice(['man', 'woman'])} ")
    doc.add("with a history of ")
    doc.span("clinical-term", f.choice(Fakes.TERMS))
    doc.add(" and ")
    doc.span("clinical-term", f.choice(Fakes.TERMS))
    doc.add(f" who presents for follow-up. {f.choice(['She', 'He'])} reports good adherence to ")
    doc.span("medication", f.choice(Fakes.DRUGS))
    doc.add(". Last seen on ")
    if f.chance(0.25):
        month = f.choice(["January", "March", "May", "July", "Sept.", "Oct", "December"])
        doc.span("date", f"{month} {f.r.randint(1, 28)}")
    else:
        doc.span("date", f.date(2021, 2025, ["mdy", "long"]))
    doc.add(". ")
    if f.chance(0.5):
        relative = f.person()
        doc.add(f"Accompanied by {f.choice(['his wife', 'her husband', 'her daughter', 'his son'])}, ")
        doc.span("name", f"{relative[0]} {last}")
        doc.add(", who can be reached at ")
        doc.span("phone", f.phone(plain_ok=False))
        doc.add(". ")

    doc.add("\n\nOBJECTIVE: BP ")
    doc.add(f"{f.r.randint(105, 165)}/{f.r.randint(60, 98)}, HR {f.r.randint(55, 105)}, Temp 98.{f.r.randint(0, 9)} F. ")
    name, value = f.lab()
    doc.add("Recent labs: ")
    doc.span("lab", f"{name} {value}")
    doc.add(".\n\nASSESSMENT/PLAN:\n1. ")
    doc.span("clinical-term", f.choice(Fakes.TERMS))
    doc.add(" (")
    doc.span("diagnosis", f.icd())
    doc.add(") - continue ")
    doc.span("medication", f.choice(Fakes.DRUGS))
    doc.add(f" {f.choice([10, 20, 40, 500])} mg daily.\n2. Dx ")
    doc.span("diagnosis", f.icd())
    doc.add(f" - follow up in {f.r.randint(2, 12)} weeks.\n")
    if f.chance(0.5):
        doc.add("CPT: ")
        doc.span("procedure", f.cpt())
        doc.add("\n")

    doc.add("\nElectronically signed by ")
    doc.span("name", f"{clinician[0]} {clinician[2]}", kind="clinician")
    doc.add(f", {f.choice(['MD', 'DO', 'NP'])} on ")
    doc.span("date", f.date(2023, 2025, ["mdy"]))

    doc.add("\nNPI: ")
    doc.span("provider-id", f.npi())
    doc.add("\n")

    if f.chance(0.4):
        add_lookalikes(doc, f, 1)

    return doc, "txt"


def referral(f):
    doc = Doc()
    person = f.person()
    specialist = f.person()
    referrer = f.person()
    doc.add("Springfield Family Medicine\n")
    doc.span("address", f.street())
    doc.add("\n")
    doc.span("address", f.city_state_zip())

    doc.add("\nPhone ")
    doc.span("phone", f.phone(plain_ok=False))
    doc.add("  Fax: ")
    doc.span("fax", f.phone(plain_ok=False))

    doc.add("\n\n")
    doc.span("date", f.date(2023, 2025, ["long"]))

    doc.add("\n\nDear Dr. ")
    doc.span("name", specialist[2], kind="clinician")
    doc.add(",\n\nRe: ")
    doc.span("name", f.full_name(person, f.choice(["first last", "last, first"])))
    doc.add("   DOB: ")
    doc.span("date", f.date(1930, 2015, ["mdy"]))

    doc.add("\n\nI am referring my patient, ")
    doc.span("name", f"{person[0]} {person[2]}")
    doc.add(", for evaluation of ")
    doc.span("clinical-term", f.choice(Fakes.TERMS))
    doc.add(" (ICD-10 ")
    doc.span("diagnosis", f.icd())
    doc.add("). ")
    doc.add(f"{f.choice(['Her', 'His'])} current medications include ")
    doc.span("medication", f.choice(Fakes.DRUGS))
    doc.add(" and ")
    doc.span("medication", f.choice(Fakes.DRUGS))
    doc.add(". ")
    name, value = f.lab()
    doc.add("Most recent ")
    doc.span("lab", f"{name} {value}")
    doc.add(" on ")
    doc.span("date", f.date(2023, 2025, ["mdy"]))
    doc.add(".\n\n")
    doc.add("Insurance: ")
    doc.add(f.choice(["Aetna", "Cigna", "Tufts Health Plan"]))
    doc.add(", Member ID: ")
    doc.span("health-plan-id", f.member_id())

    doc.add("\nThe patient can be reached at ")
    doc.span("phone", f.phone(plain_ok=False))
    doc.add(" or ")
    doc.span("email", f.email(person))
    doc.add(".\n\nThank you for seeing this patient.\n\nSincerely,\n\n")
    doc.span("name", f"{referrer[0]} {referrer[2]}", kind="clinician")
    doc.add(f", {f.choice(['MD', 'DO'])}\nNPI ")
    doc.span("provider-id", f.npi())
    doc.add("   DEA: ")
    doc.span("provider-id", f.dea(referrer[2]))
    doc.add("\n")

    if f.chance(0.4):
        add_lookalikes(doc, f, 1)

    return doc, "txt"


def csv_cell(value):
    if any(c in value for c in ",\"\n"):
        return '"' + value.replace('"', '""') + '"'
    return value


def billing(f):
    doc = Doc()
    headers = ["Claim ID", "Patient Last Name", "Patient First Name", "DOB", "MRN", "Member ID", "Address",
               "City", "State", "ZIP", "Phone", "DOS", "CPT", "ICD-10", "Rendering NPI", "Charge", "Account #"]
    doc.add(",".join(headers) + "\n")
    for _ in range(f.r.randint(5, 9)):
        first, _, last = f.person()
        zip_code, state = f.choice(f.zips)
        row = [
            ("", f"CLM{f.digits(8)}"), ("name", last), ("name", first), ("date", f.date(1930, 2018, ["mdy", "iso"])),
            ("mrn", f.mrn()), ("health-plan-id", f.member_id()), ("address", f.street()),
            ("address", f.faker.city()), ("", state), ("address", zip_code), ("phone", f.phone()),
            ("date", f.date(2024, 2025, ["mdy"])), ("procedure", f.cpt()), ("diagnosis", f.icd()),
            ("provider-id", f.npi()), ("", f"{f.r.randint(40, 900)}.00"), ("account-number", f.account()),
        ]
        for i, (category, value) in enumerate(row):
            if i:
                doc.add(",")
            cell = csv_cell(value)
            if category and cell == value:
                doc.span(category, value)
            elif category:
                doc.add('"')
                doc.span(category, value)
                doc.add('"')
            else:
                doc.add(cell)
        doc.add("\n")

    return doc, "csv"


def lab_report(f):
    doc = Doc()
    person = f.person()
    doc.add("CLINICAL LABORATORY REPORT\nQuest-Lab Partners, ")
    doc.span("address", f.city_state_zip())

    doc.add("\n\n")
    labelled_line(doc, "Patient Name: ", "name", f.full_name(person, f.choice(["LAST, FIRST", "last, first", "first last"])))
    labelled_line(doc, "DOB: ", "date", f.date(1925, 2018, ["mdy", "dd-MON-yyyy"]))
    labelled_line(doc, "Patient ID: ", "mrn", f.mrn())
    doc.add("Ordering Physician: Dr. ")
    clinician = f.person()
    doc.span("name", f"{clinician[0]} {clinician[2]}", kind="clinician")

    doc.add("\nCollected: ")
    doc.span("date", f.date(2024, 2025, ["dd-MON-yyyy", "iso"]))

    doc.add("\n\nTEST                      RESULT        LOINC\n")
    for _ in range(f.r.randint(3, 6)):
        name, value = f.lab()
        doc.span("lab", f"{name} {value}")
        doc.add("      LOINC ")
        doc.span("lab", f.loinc())
        doc.add("\n")
    if f.chance(0.5):
        test = f.choice(["HIV antibody", "Hepatitis C antibody", "COVID-19 PCR", "Rapid strep test"])
        doc.span("lab", f"{test} {f.choice(['negative', 'positive', 'not detected'])}")
        doc.add("\n")

    doc.add("\nDiagnosis code: ")
    doc.span("diagnosis", f.icd())

    doc.add("\nClient phone: ")
    doc.span("phone", f.phone(plain_ok=False))
    doc.add("\n")

    if f.chance(0.5):
        add_lookalikes(doc, f, 2)

    return doc, "txt"


def message(f):
    doc = Doc()
    person = f.person()
    first, _, last = person
    doc.add("From: ")
    doc.span("name", f"{first} {last}")
    doc.add(" <")
    doc.span("email", f.email(person))
    doc.add(">\nTo: Front Desk <")
    # The practice's own address is an email address too, though not the patient's.
    doc.span("email", "frontdesk@springfieldfm.org", kind="practice")
    doc.add(">\nSubject: ")
    doc.add(f.choice(["Refill request", "Question about my bill", "Lab results", "Appointment change"]))

    doc.add("\nSent: ")
    doc.span("date", f.date(2024, 2025, ["long"]))
    doc.add(" from IP ")
    doc.span("ip-address", f.ip())

    doc.add("\n\n")
    greeting = f.choice(["Hi, this is ", "Hello, my name is ", "Hi, it's ", "Good morning. ", "hi its "])
    doc.add(greeting)
    if greeting == "hi its ":
        # Patients write their own names in lower case often enough to matter.
        doc.span("name", f"{first} {last}".lower())
    elif greeting == "Good morning. ":
        doc.span("name", f"{first} {last}")
        doc.add(" here")
    else:
        doc.span("name", f"{first} {last}")
    doc.add(" (date of birth ")
    doc.span("date", f.date(1930, 2010, ["mdy", "long"]))
    doc.add("). ")
    doc.add(f.choice(["I need a refill of my ", "I'm almost out of ", "Can you renew my prescription for "]))
    doc.span("medication", f.choice(Fakes.DRUGS))
    doc.add(". ")
    if f.chance(0.5):
        doc.add("Dr. ")
        clinician = f.person()
        doc.span("name", clinician[2], kind="clinician")
        doc.add(" said my ")
        doc.span("clinical-term", f.choice(Fakes.TERMS))
        doc.add(" is getting better. ")
    if f.chance(0.5):
        doc.add("My new address is ")
        doc.span("address", f.street())
        doc.add(f.choice([", ", " "]))
        doc.span("address", f.city_state_zip())
        doc.add(". ")
    doc.add("You can call me at ")
    doc.span("phone", f.phone(plain_ok=False))
    doc.add(".")
    if f.chance(0.3):
        doc.add(" My Medicare number is ")
        doc.span("health-plan-id", f.mbi())
        doc.add(".")
    if f.chance(0.2):
        doc.add(" My blog with updates is ")
        doc.span("url", f"https://www.{first.lower()}{last.lower()}.net/health".encode("ascii", "ignore").decode())
        doc.add(".")
    if f.chance(0.2):
        doc.add(" The serial number of my insulin pump is ")
        doc.span("device-id", f"{f.choice(['PMP', 'NG', 'TX'])}{f.digits(7)}")
        doc.add(".")
    doc.add(f"\n\nThanks,\n")
    doc.span("name", first)
    doc.add("\n")
    if f.chance(0.4):
        doc.add("\n")
        add_lookalikes(doc, f, 1)

    return doc, "txt"


def discharge(f):
    """Discharge summaries, with phrasings the other styles do not use. The
    held-out set (--held-out) is made of these, and the rules were not tuned
    on them."""
    doc = Doc()
    person = f.person()
    first, _, last = person
    attending = f.person()
    doc.add(f.choice(["DISCHARGE SUMMARY\n", "Hospital Discharge Summary\n"]))
    doc.add(f.choice(["Name of patient: ", "PATIENT NAME:  ", "Pt name - "]))
    doc.span("name", f.full_name(person, f.choice(["first last", "LAST, FIRST", "first m last"])))
    doc.add(f.choice(["\nMedical record no. ", "\nMR #", "\nAcct/MRN: "]))
    doc.span("mrn", f.mrn())

    doc.add("\nDate of birth ")
    doc.span("date", f.date(1925, 2000, ["long", "mdy", "dmy-text"]))
    doc.add(f.choice(["\nAdmitted: ", "\nAdmission date - "]))
    doc.span("date", f.date(2024, 2025, ["mdy", "iso", "long"]))
    doc.add(f.choice(["   Discharged: ", "\nDischarge date - "]))
    doc.span("date", f.date(2024, 2025, ["mdy", "iso", "long"]))

    doc.add("\nAttending: ")
    doc.span("name", f"{attending[0]} {attending[2]}", kind="clinician")
    doc.add(f", {f.choice(['MD', 'DO'])}\n\nHOSPITAL COURSE: ")
    age = f.age_over_89() if f.chance(0.3) else f.r.randint(40, 88)
    if age >= 90:
        doc.add("This ")
        doc.span("age-over-89", f"{age} yo")
        doc.add(f" {f.choice(['female', 'male'])} ")
    else:
        doc.add(f"This {age} yo {f.choice(['female', 'male'])} ")
    doc.add("was admitted with an exacerbation of ")
    doc.span("clinical-term", f.choice(Fakes.TERMS))
    doc.add(". ")
    doc.span("name", f"{first} {last}")
    doc.add(f" was treated with IV antibiotics and {f.choice(['improved', 'recovered well'])}. ")
    doc.add("The family (")
    relative = f.person()
    doc.span("name", f"{relative[0]} {relative[2]}")
    doc.add(f", {f.choice(['daughter', 'son', 'spouse'])}, ")
    doc.span("phone", f.phone(plain_ok=False))
    doc.add(") was updated daily.\n\nDISCHARGE DIAGNOSES: ")
    doc.span("diagnosis", f.icd())
    doc.add(", ")
    doc.span("diagnosis", f.icd())

    doc.add("\nDISCHARGE MEDICATIONS: ")
    doc.span("medication", f.choice(Fakes.DRUGS))
    doc.add(", ")
    doc.span("medication", f.choice(Fakes.DRUGS))

    doc.add("\nFOLLOW-UP: with Dr. ")
    doc.span("name", f.faker.last_name(), kind="clinician")
    doc.add(" in 1 week, tel ")
    doc.span("phone", f.phone(plain_ok=False))
    doc.add(".\nDischarged to home at ")
    doc.span("address", f.street())
    doc.add(" ")
    doc.span("address", f.city_state_zip())
    doc.add(".\n")
    if f.chance(0.4):
        doc.add("Insurance: Medicaid, recipient ID ")
        doc.span("health-plan-id", f.member_id())
        doc.add(".\n")
    if f.chance(0.3):
        doc.add("SSN on file ")
        doc.span("ssn", f.ssn())
        doc.add(".\n")

    if f.chance(0.5):
        add_lookalikes(doc, f, 2)

    return doc, "txt"


BUILDERS = {"intake": intake, "progress": progress, "referral": referral, "billing": billing,
            "lab": lab_report, "message": message, "discharge": discharge}


def main():
    parser = argparse.ArgumentParser(description="Generate the labelled accuracy corpus.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=20260)
    parser.add_argument("--docs-per-style", type=int, default=60)
    parser.add_argument("--held-out", action="store_true",
                        help="generate only discharge summaries, the style the rules were not tuned on")
    args = parser.parse_args()
    styles = ["discharge"] if args.held_out else STYLES

    fakes = Fakes(args.seed)
    docs_dir = args.out / "docs"
    if docs_dir.exists():
        shutil.rmtree(docs_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    spans = 0
    with open(args.out / "labels.jsonl", "w") as labels:
        for style in styles:
            (docs_dir / style).mkdir(parents=True)
            for n in range(args.docs_per_style):
                doc, extension = BUILDERS[style](fakes)
                text = doc.text()
                relative = f"{style}/{n:03d}.{extension}"
                (docs_dir / relative).write_bytes(text.encode("utf-8"))
                for start, end, category, kind in doc.spans:
                    byte_start = len(text[:start].encode("utf-8"))
                    byte_end = byte_start + len(text[start:end].encode("utf-8"))
                    labels.write(json.dumps({"doc": relative, "start": byte_start, "end": byte_end,
                                             "category": category, "kind": kind}) + "\n")
                    spans += 1
    print(f"generated {len(styles) * args.docs_per_style} documents with {spans} labelled spans in {args.out}")


if __name__ == "__main__":
    main()
