//! Validators for identifier numbers: SSN and ITIN, Medicare and Railroad
//! Retirement numbers, payment cards, provider ids, VINs and device ids.

use super::{alphanumerics_upper, digits_of, parse_digits};

/// Social Security numbers never issued: SSA has announced these as specimen
/// or advertising numbers (078-05-1120 appeared on a wallet insert in 1938,
/// 219-09-9999 in a 1940 SSA pamphlet), and 123-45-6789 is the filler value of
/// countless forms.
const SPECIMEN_SSNS: [&str; 3] = ["078051120", "219099999", "123456789"];

pub(super) fn ssn(value: &str) -> Option<String> {
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

pub(super) fn itin(value: &str) -> Option<String> {
    let digits = digits_of(value);
    if digits.len() != 9 || !digits.starts_with('9') {
        return None;
    }
    // IRS assigns ITIN middle digits in 50-65, 70-88, 90-92 and 94-99.
    let group = parse_digits(&digits[3..5]);
    let group_valid = matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
    (group_valid && digits[5..] != *"0000").then_some(digits)
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

pub(super) fn npi(value: &str) -> Option<String> {
    let digits = digits_of(value);
    let first_valid = digits.starts_with('1') || digits.starts_with('2');
    // The NPI check digit is the Luhn digit of "80840" followed by the first
    // nine digits (CMS, NPI check digit standard).
    (digits.len() == 10 && first_valid && luhn_valid(&format!("80840{digits}"))).then_some(digits)
}

/// Letters never used in Medicare Beneficiary Identifiers, because they look
/// like digits or other letters.
const MBI_EXCLUDED_LETTERS: &[u8] = b"SLOIBZ";

pub(super) fn mbi(value: &str) -> Option<String> {
    let code = alphanumerics_upper(value);
    let bytes = code.as_bytes();
    if bytes.len() != 11 {
        return None;
    }
    let letter = |b: u8| b.is_ascii_uppercase() && !MBI_EXCLUDED_LETTERS.contains(&b);
    let digit = |b: u8| b.is_ascii_digit();
    let either = |b: u8| digit(b) || letter(b);
    // CMS MBI format: position 1 is 1-9; 2, 5, 8 and 9 are letters; 4, 7,
    // 10 and 11 are digits; 3 and 6 are either.
    let valid = (b'1'..=b'9').contains(&bytes[0])
        && letter(bytes[1])
        && either(bytes[2])
        && digit(bytes[3])
        && letter(bytes[4])
        && either(bytes[5])
        && digit(bytes[6])
        && letter(bytes[7])
        && letter(bytes[8])
        && digit(bytes[9])
        && digit(bytes[10]);
    valid.then_some(code)
}

pub(super) fn hicn(value: &str) -> Option<String> {
    let code = alphanumerics_upper(value);
    if code.len() < 10 || code.len() > 11 {
        return None;
    }
    let (number, suffix) = code.split_at(9);
    ssn(number)?;
    // The beneficiary identification code starts with a letter from the
    // ranges CMS assigned (A-H, J-M, T, W), optionally followed by a digit or letter.
    let mut suffix = suffix.bytes();
    let first = suffix.next()?;
    let first_valid = matches!(first, b'A'..=b'H' | b'J'..=b'M' | b'T' | b'W');
    (first_valid && suffix.all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

/// Prefixes of Railroad Retirement Board claim numbers, as printed on RRB
/// Medicare cards before MBIs replaced them.
const RRB_PREFIXES: [&str; 16] = [
    "A", "CA", "H", "JA", "MA", "MH", "PA", "PD", "PH", "WA", "WCA", "WCD", "WCH", "WD", "WF", "WH",
];

pub(super) fn rrb(value: &str) -> Option<String> {
    let code = alphanumerics_upper(value);
    let split = code.find(|c: char| c.is_ascii_digit())?;
    let (prefix, number) = code.split_at(split);
    if !RRB_PREFIXES.contains(&prefix) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let valid = match number.len() {
        6 => number != "000000",
        9 => ssn(number).is_some(),
        _ => false,
    };
    valid.then_some(code)
}

pub(super) fn payment_card(value: &str) -> Option<String> {
    let digits = digits_of(value);
    if !(13..=19).contains(&digits.len()) || !luhn_valid(&digits) {
        return None;
    }
    if digits.bytes().all(|b| b == digits.as_bytes()[0]) {
        return None;
    }
    let prefix = |n: usize| parse_digits(&digits[..n]);
    let length = digits.len();
    // Issuer identification number ranges of the card networks that US
    // practices take: Visa, Mastercard, American Express, Discover, Diners
    // Club, JCB and UnionPay.
    let known_issuer = match digits.as_bytes()[0] {
        b'4' => matches!(length, 13 | 16 | 19),
        b'5' => (51..=55).contains(&prefix(2)) && length == 16,
        b'2' => (2221..=2720).contains(&prefix(4)) && length == 16,
        b'3' => {
            (matches!(prefix(2), 34 | 37) && length == 15)
                || ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39))
                    && (14..=19).contains(&length)
                || (3528..=3589).contains(&prefix(4)) && length >= 16
        }
        b'6' => {
            (prefix(4) == 6011
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 65
                || prefix(2) == 62)
                && length >= 16
        }
        _ => false,
    };
    known_issuer.then_some(digits)
}

/// First letters of DEA registration numbers: the registrant type (A, B, F
/// and G for practitioners, M for mid-level practitioners, the others for
/// manufacturers, distributors, pharmacies and researchers).
const DEA_TYPE_LETTERS: &[u8] = b"ABCDEFGHJKLMPRSTUX";

pub(super) fn dea(value: &str) -> Option<String> {
    let code = alphanumerics_upper(value);
    let bytes = code.as_bytes();
    if bytes.len() != 9 || !DEA_TYPE_LETTERS.contains(&bytes[0]) {
        return None;
    }
    if !(bytes[1].is_ascii_uppercase() || bytes[1] == b'9') {
        return None;
    }
    let digits = &bytes[2..];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let d = |i: usize| u32::from(digits[i] - b'0');
    // The check digit is the last digit of (d1 + d3 + d5) + 2 * (d2 + d4 + d6).
    let sum = d(0) + d(2) + d(4) + 2 * (d(1) + d(3) + d(5));
    (sum % 10 == d(6)).then_some(code)
}

pub(super) fn vin(value: &str) -> Option<String> {
    let code = alphanumerics_upper(value);
    let bytes = code.as_bytes();
    if bytes.len() != 17 || bytes.iter().any(|b| b"IOQ".contains(b)) {
        return None;
    }

    // A run of one character passes the check digit but is a filler value,
    // and a VIN always has letters in its manufacturer or model-year positions.
    if bytes.iter().all(|&b| b == bytes[0])
        || bytes.iter().filter(|b| b.is_ascii_uppercase()).count() < 2
    {
        return None;
    }
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let transliterate = |b: u8| -> u32 {
        match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'H' => u32::from(b - b'A') + 1,
            b'J'..=b'N' => u32::from(b - b'J') + 1,
            b'P' => 7,
            b'R' => 9,
            b'S'..=b'Z' => u32::from(b - b'S') + 2,
            _ => 0,
        }
    };
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, weight)| transliterate(b) * weight)
        .sum();

    let check = match sum % 11 {
        10 => b'X',
        digit => b'0' + digit as u8,
    };
    (bytes[8] == check).then_some(code)
}

pub(super) fn gs1_udi(value: &str) -> Option<String> {
    let start = value.find("(01)")? + 4;
    let gtin: String = value[start..].chars().take(14).collect();
    if gtin.len() != 14 || !gtin.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // GS1 check digit: weights 3 and 1 alternate from the rightmost data digit.
    let sum: u32 = gtin.as_bytes()[..13]
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    let check = (10 - sum % 10) % 10;
    (u32::from(gtin.as_bytes()[13] - b'0') == check).then(|| alphanumerics_upper(value))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for specimen in [
            "078-05-1120",
            "219-09-9999",
            "123-45-6789",
            "987-65-4320",
            "987-65-4329",
        ] {
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
    fn mbi_positions() {
        assert_eq!(mbi("1EG4TE5MK73").as_deref(), Some("1EG4TE5MK73"));
        assert_eq!(mbi("1EG4-TE5-MK73").as_deref(), Some("1EG4TE5MK73"));
        for invalid in ["0EG4TE5MK73", "1SG4TE5MK73", "1EG4TE5MK7A", "1EG4TE5MK7"] {
            assert_eq!(mbi(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn hicn_needs_ssn_and_code() {
        assert_eq!(hicn("234-56-7890A").as_deref(), Some("234567890A"));
        assert_eq!(hicn("234567890 C1").as_deref(), Some("234567890C1"));
        assert_eq!(hicn("234567890Z"), None, "unassigned code letter");
        assert_eq!(hicn("000567890A"), None, "invalid SSN part");
    }

    #[test]
    fn rrb_prefix_and_length() {
        assert_eq!(rrb("MA123456").as_deref(), Some("MA123456"));
        assert_eq!(rrb("WCA 234-56-7890").as_deref(), Some("WCA234567890"));
        assert_eq!(rrb("ZZ123456"), None);
        assert_eq!(rrb("A12345"), None);
        assert_eq!(rrb("A000000"), None);
    }

    #[test]
    fn payment_cards_by_issuer() {
        assert!(payment_card("4556 7375 8689 9855").is_some());
        assert!(payment_card("3714 496353 98431").is_some());
        assert!(payment_card("5425-2334-3010-9903").is_some());
        assert_eq!(payment_card("4556 7375 8689 9856"), None, "Luhn");
        assert_eq!(payment_card("9556737586899855"), None, "issuer");
        assert_eq!(payment_card("0000000000000000"), None, "filler");
    }

    #[test]
    fn dea_check_digit() {
        for valid in ["AB1234563", "BB1388568", "F91234563"] {
            assert_eq!(dea(valid).as_deref(), Some(valid));
        }
        assert_eq!(dea("AB1234567"), None);
        assert_eq!(dea("QB1234563"), None, "unassigned registrant type");
    }

    #[test]
    fn vin_check_digit() {
        assert!(vin("1M8GDM9AXKP042788").is_some());
        assert!(vin("1HGCM82633A004352").is_some());
        assert_eq!(vin("11111111111111111"), None);
        assert_eq!(vin("1HGCM82643A004352"), None, "check digit");
        assert_eq!(vin("1HGCM8263IA004352"), None, "letter I");
    }

    #[test]
    fn gs1_udi_gtin_check() {
        assert!(gs1_udi("(01)00643169007222(17)160128(21)BOE").is_some());
        assert_eq!(gs1_udi("(01)00643169007223(17)160128"), None);
    }
}
