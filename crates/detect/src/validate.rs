//! Validators: code that decides whether a candidate is a real value of its
//! kind, and returns its canonical form for fingerprinting.
//!
//! Rules name a validator by string (`validator = "ssn"`); [`Validator::from_name`]
//! lists the names. A validator returns `None` to reject the candidate, or the
//! canonical value, so that `123-45-6789` and `123 45 6789` get one fingerprint.

use crate::data::RuleData;

/// A named check applied to every candidate of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    /// US Social Security number: area, group and serial ranges, no ITINs.
    Ssn,
    /// IRS Individual Taxpayer Identification Number (9XX-[50-65,70-88,90-92,94-99]-XXXX).
    Itin,
    /// North American Numbering Plan phone number; fictitious 555-0100..0199 rejected.
    NanpPhone,
    /// Calendar date in numeric, ISO 8601 or month-name form, years 1875 to 2100.
    Date,
    /// ICD-10-CM code present in the bundled code list.
    Icd10Cm,
    /// Luhn (mod 10) check digit over all digits.
    Luhn,
    /// National Provider Identifier: Luhn over the 80840 prefix and the 10 digits.
    Npi,
    /// Email address with a plausible domain, not a reserved example domain.
    Email,
}

impl Validator {
    /// Every validator name accepted in rule files.
    pub const NAMES: [&'static str; 8] = [
        "ssn",
        "itin",
        "nanp-phone",
        "date",
        "icd10cm",
        "luhn",
        "npi",
        "email",
    ];

    /// Looks up a validator by the name used in rule files.
    pub fn from_name(name: &str) -> Option<Validator> {
        Some(match name {
            "ssn" => Validator::Ssn,
            "itin" => Validator::Itin,
            "nanp-phone" => Validator::NanpPhone,
            "date" => Validator::Date,
            "icd10cm" => Validator::Icd10Cm,
            "luhn" => Validator::Luhn,
            "npi" => Validator::Npi,
            "email" => Validator::Email,
            _ => return None,
        })
    }

    /// Checks a candidate; returns its canonical form when valid.
    pub fn check(self, value: &str, data: &RuleData) -> Option<String> {
        match self {
            Validator::Ssn => ssn(value),
            Validator::Itin => itin(value),
            Validator::NanpPhone => nanp_phone(value),
            Validator::Date => date(value),
            Validator::Icd10Cm => icd10cm(value, data),
            Validator::Luhn => {
                let digits = digits_of(value);
                luhn_valid(&digits).then_some(digits)
            }
            Validator::Npi => npi(value),
            Validator::Email => email(value),
        }
    }
}

/// Returns the ASCII digits of `value`, in order.
pub fn digits_of(value: &str) -> String {
    value.chars().filter(char::is_ascii_digit).collect()
}

fn parse_digits(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
}

/// Social Security numbers never issued: SSA has announced these as specimen
/// or advertising numbers (078-05-1120 appeared on a wallet insert in 1938,
/// 219-09-9999 in a 1940 SSA pamphlet), and 123-45-6789 is the filler value of
/// countless forms.
const SPECIMEN_SSNS: [&str; 3] = ["078051120", "219099999", "123456789"];

fn ssn(value: &str) -> Option<String> {
    let digits = digits_of(value);
    if digits.len() != 9 || SPECIMEN_SSNS.contains(&digits.as_str()) {
        return None;
    }
    let area = parse_digits(&digits[0..3]);
    let group = parse_digits(&digits[3..5]);
    let serial = parse_digits(&digits[5..9]);
    // Area 000, 666 and 900-999 are never assigned as SSNs (900-999 is the
    // ITIN and advertising range); group 00 and serial 0000 are never assigned.
    let area_valid = area != 0 && area != 666 && area < 900;
    (area_valid && group != 0 && serial != 0).then_some(digits)
}

fn itin(value: &str) -> Option<String> {
    let digits = digits_of(value);
    if digits.len() != 9 || !digits.starts_with('9') {
        return None;
    }
    // IRS assigns ITIN middle digits in 50-65, 70-88, 90-92 and 94-99.
    let group = parse_digits(&digits[3..5]);
    let group_valid = matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
    (group_valid && digits[5..] != *"0000").then_some(digits)
}

fn nanp_phone(value: &str) -> Option<String> {
    let (number, extension) = split_extension(value);
    let mut digits = digits_of(number);
    if digits.len() == 11 && digits.starts_with('1') {
        digits.remove(0);
    }
    if digits.len() != 10 {
        return None;
    }
    let bytes = digits.as_bytes();
    // Area code and exchange both start with 2-9 and are never N11 service
    // codes; area codes with 9 in the middle are reserved for expansion.
    let is_n11 = |d: &[u8]| d[1] == b'1' && d[2] == b'1';
    if bytes[0] < b'2' || bytes[1] == b'9' || is_n11(&bytes[0..3]) {
        return None;
    }
    if bytes[3] < b'2' || is_n11(&bytes[3..6]) {
        return None;
    }
    // 555-0100 through 555-0199 are reserved for fiction in every area code.
    if &digits[3..6] == "555" && &digits[6..8] == "01" {
        return None;
    }
    let mut canonical = format!("+1{digits}");
    if let Some(extension) = extension {
        canonical.push('x');
        canonical.push_str(&digits_of(extension));
    }
    Some(canonical)
}

/// Splits `617-555-0142 ext. 12` into the number and the extension part.
fn split_extension(value: &str) -> (&str, Option<&str>) {
    let lower = value.to_ascii_lowercase();
    for marker in ["ext", "x", "#"] {
        if let Some(position) = lower.rfind(marker) {
            let tail = &value[position + marker.len()..];
            if tail
                .trim_start_matches(['.', ' ', ':'])
                .chars()
                .all(|c| c.is_ascii_digit())
                && tail.chars().any(|c| c.is_ascii_digit())
            {
                return (&value[..position], Some(tail));
            }
        }
    }
    (value, None)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month_from_name(word: &str) -> Option<u32> {
    let lower = word.trim_end_matches('.').to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    let index = MONTHS.iter().position(|month| lower.starts_with(month))?;
    // Accept the abbreviation, "Sept", or the full name; reject "Marshall".
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ][index];
    let valid = lower.len() == 3 || lower == "sept" || full == lower;
    valid.then_some(index as u32 + 1)
}

/// Expands a two-digit year: 00-29 is 2000-2029, 30-99 is 1930-1999.
///
/// NOTE: a birth date written as 03/04/25 in 2026 is ambiguous. The pivot
/// favors recent years because visit dates are far more common in records.
fn expand_year(year: u32, written_digits: usize) -> u32 {
    if written_digits == 2 {
        if year < 30 { 2000 + year } else { 1900 + year }
    } else {
        year
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

fn plausible_date(year: u32, month: u32, day: Option<u32>) -> Option<String> {
    if !(1875..=2100).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    match day {
        Some(day) if day == 0 || day > days_in_month(year, month) => None,
        Some(day) => Some(format!("{year:04}-{month:02}-{day:02}")),
        None => Some(format!("{year:04}-{month:02}")),
    }
}

fn date(value: &str) -> Option<String> {
    let parts: Vec<&str> = value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(strip_ordinal)
        .collect();
    let number = |part: &str| -> Option<u32> {
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| parse_digits(part))
    };

    match parts.as_slice() {
        // 2024-03-05, 2024/03/05
        [y, m, d] if y.len() == 4 && number(y).is_some() => {
            plausible_date(number(y)?, number(m)?, Some(number(d)?))
        }
        // 03/05/2024, 3-5-24; US order, month first.
        [m, d, y] if number(m).is_some() && number(d).is_some() && number(y).is_some() => {
            if y.len() != 2 && y.len() != 4 {
                return None;
            }
            let year = expand_year(number(y)?, y.len());
            plausible_date(year, number(m)?, Some(number(d)?))
                // 13/05/2024 can only be day first.
                .or_else(|| plausible_date(year, number(d)?, Some(number(m)?)))
        }
        // March 5, 2024 / Mar 5 2024
        [m, d, y] if number(m).is_none() => {
            let year = expand_year(number(y)?, y.len());
            plausible_date(year, month_from_name(m)?, Some(number(d)?))
        }
        // 5 March 2024
        [d, m, y] if number(m).is_none() => {
            let year = expand_year(number(y)?, y.len());
            plausible_date(year, month_from_name(m)?, Some(number(d)?))
        }
        // March 2024
        [m, y] if number(m).is_none() && y.len() == 4 => {
            plausible_date(number(y)?, month_from_name(m)?, None)
        }
        // 20240305 (compact ISO, as HL7 and X12 write dates)
        [compact] if compact.len() == 8 && number(compact).is_some() => plausible_date(
            parse_digits(&compact[0..4]),
            parse_digits(&compact[4..6]),
            Some(parse_digits(&compact[6..8])),
        ),
        _ => None,
    }
}

fn strip_ordinal(part: &str) -> &str {
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(stripped) = part.strip_suffix(suffix)
            && !stripped.is_empty()
            && stripped.bytes().all(|b| b.is_ascii_digit())
        {
            return stripped;
        }
    }
    part
}

fn icd10cm(value: &str, data: &RuleData) -> Option<String> {
    let code: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data.icd10cm_contains(&code).then_some(code)
}

/// Returns true when the digits pass the Luhn (mod 10) check.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn npi(value: &str) -> Option<String> {
    let digits = digits_of(value);
    let first_valid = digits.starts_with('1') || digits.starts_with('2');
    // The NPI check digit is the Luhn digit of "80840" followed by the first
    // nine digits (CMS, NPI check digit standard).
    (digits.len() == 10 && first_valid && luhn_valid(&format!("80840{digits}"))).then_some(digits)
}

/// Domains reserved for documentation by RFC 2606 and RFC 6761.
const RESERVED_EMAIL_DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];
const RESERVED_EMAIL_SUFFIXES: [&str; 4] = [".example", ".test", ".invalid", ".localhost"];

fn email(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let (local, domain) = lower.rsplit_once('@')?;
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return None;
    }
    let tld = domain.rsplit('.').next()?;
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let reserved = RESERVED_EMAIL_DOMAINS
        .iter()
        .any(|reserved| domain == *reserved || domain.ends_with(&format!(".{reserved}")))
        || RESERVED_EMAIL_SUFFIXES
            .iter()
            .any(|suffix| domain.ends_with(suffix))
        || domain == "localhost";
    (!reserved).then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> RuleData {
        RuleData::embedded()
    }

    #[test]
    fn ssn_accepts_valid_forms() {
        assert_eq!(ssn("234-56-7890").as_deref(), Some("234567890"));
        assert_eq!(ssn("234 56 7890").as_deref(), Some("234567890"));
        assert_eq!(ssn("123-45-6788").as_deref(), Some("123456788"));
    }

    #[test]
    fn ssn_rejects_invalid_ranges() {
        for invalid in [
            "000-12-3456",
            "666-12-3456",
            "912-34-5678",
            "123-00-4567",
            "123-45-0000",
        ] {
            assert_eq!(ssn(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn ssn_rejects_specimens() {
        for specimen in ["078-05-1120", "219-09-9999", "123-45-6789", "987-65-4320"] {
            assert_eq!(ssn(specimen), None, "{specimen}");
        }
    }

    #[test]
    fn itin_requires_group_range() {
        assert!(itin("912-70-1234").is_some());
        assert!(itin("912-34-5678").is_none());
        assert!(itin("812-70-1234").is_none());
    }

    #[test]
    fn phone_follows_nanp() {
        assert_eq!(
            nanp_phone("(617) 432-0142").as_deref(),
            Some("+16174320142")
        );
        assert_eq!(
            nanp_phone("+1 617.432.0142").as_deref(),
            Some("+16174320142")
        );
        assert_eq!(
            nanp_phone("617-432-0142 ext. 12").as_deref(),
            Some("+16174320142x12")
        );
        assert_eq!(nanp_phone("617-555-0142"), None, "fictitious range");
        assert_eq!(nanp_phone("117-432-0142"), None, "area starts with 1");
        assert_eq!(nanp_phone("611-432-0142"), None, "N11 area");
        assert_eq!(nanp_phone("617-132-0142"), None, "exchange starts with 1");
        assert_eq!(
            nanp_phone("697-432-0142"),
            None,
            "area with 9 in the middle"
        );
        assert!(nanp_phone("617-555-0200").is_some());
    }

    #[test]
    fn dates_in_common_forms() {
        assert_eq!(date("03/14/1984").as_deref(), Some("1984-03-14"));
        assert_eq!(date("3-14-84").as_deref(), Some("1984-03-14"));
        assert_eq!(date("1984-03-14").as_deref(), Some("1984-03-14"));
        assert_eq!(date("March 14, 1984").as_deref(), Some("1984-03-14"));
        assert_eq!(date("14 Mar 1984").as_deref(), Some("1984-03-14"));
        assert_eq!(date("Sept. 3rd, 2021").as_deref(), Some("2021-09-03"));
        assert_eq!(date("March 1984").as_deref(), Some("1984-03"));
        assert_eq!(date("19840314").as_deref(), Some("1984-03-14"));
        assert_eq!(date("14/03/1984").as_deref(), Some("1984-03-14"));
    }

    #[test]
    fn dates_reject_impossible_values() {
        for invalid in [
            "02/30/2020",
            "13/13/2020",
            "1800-01-01",
            "Marshall 5, 2020",
            "00/10/2020",
        ] {
            assert_eq!(date(invalid), None, "{invalid}");
        }
        assert_eq!(date("02/29/2024").as_deref(), Some("2024-02-29"));
        assert_eq!(date("02/29/2023"), None);
    }

    #[test]
    fn icd10cm_uses_code_list() {
        let data = data();
        assert_eq!(icd10cm("E11.9", &data).as_deref(), Some("E119"));
        assert_eq!(icd10cm("S72.001A", &data).as_deref(), Some("S72001A"));
        assert_eq!(icd10cm("F32.A", &data).as_deref(), Some("F32A"));
        assert_eq!(icd10cm("E11.99", &data), None);
        assert_eq!(icd10cm("Z99.999", &data), None);
    }

    #[test]
    fn npi_uses_prefixed_luhn() {
        assert!(npi("1234567893").is_some());
        assert!(npi("1993999998").is_some());
        assert!(npi("1234567890").is_none());
        assert!(npi("3234567893").is_none());
    }

    #[test]
    fn luhn_on_card_numbers() {
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn email_rejects_reserved_domains() {
        assert_eq!(
            email("Jane.Doe@Gmail.com").as_deref(),
            Some("jane.doe@gmail.com")
        );
        assert_eq!(email("you@example.com"), None);
        assert_eq!(email("a@mail.example.org"), None);
        assert_eq!(email("a@host.test"), None);
        assert_eq!(email("a@b.c1"), None);
    }
}
