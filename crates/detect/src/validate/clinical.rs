//! Validators for health signals and ages: ICD-10-CM, CPT and HCPCS shapes,
//! NDC, LOINC, and ages over 89.

use super::{alphanumerics_upper, digits_of, ids::luhn_valid, parse_digits};
use crate::data::RuleData;

pub(super) fn icd10cm(value: &str, data: &RuleData) -> Option<String> {
    let code: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data.icd10cm_contains(&code).then_some(code)
}
pub(super) fn cpt(value: &str) -> Option<String> {
    let code = alphanumerics_upper(value);
    let bytes = code.as_bytes();
    if bytes.len() != 5 || !bytes[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let valid = match bytes[4] {
        // Category I codes run from 00100 (anesthesia) to 99607 (medicine).
        b'0'..=b'9' => (100..=99607).contains(&parse_digits(&code)),
        // Category II (performance measures) and III (emerging technology).
        b'F' | b'T' => parse_digits(&code[..4]) > 0,
        _ => false,
    };
    valid.then_some(code)
}

/// First letters of HCPCS Level II code sections (A transport and supplies
/// through V vision and hearing); D is the CDT dental range.
const HCPCS_LETTERS: &[u8] = b"ABCDEGHJKLMPQRSTUV";

pub(super) fn hcpcs(value: &str) -> Option<String> {
    let code = alphanumerics_upper(value);
    let bytes = code.as_bytes();
    let valid = bytes.len() == 5
        && HCPCS_LETTERS.contains(&bytes[0])
        && bytes[1..].iter().all(u8::is_ascii_digit)
        && parse_digits(&code[1..]) > 0;
    valid.then_some(code)
}

pub(super) fn ndc(value: &str) -> Option<String> {
    let segments: Vec<&str> = value
        .split(['-', ' '])
        .filter(|part| !part.is_empty())
        .collect();
    if !segments
        .iter()
        .all(|segment| segment.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let lengths: Vec<usize> = segments.iter().map(|segment| segment.len()).collect();
    // FDA package codes are 10 digits in three segments; billing (HIPAA
    // 837) uses 11 digits, 5-4-2, padding the short segment with a zero.
    let (labeler, product, package) = match lengths.as_slice() {
        [4, 4, 2] | [5, 3, 2] | [5, 4, 1] | [5, 4, 2] => (segments[0], segments[1], segments[2]),
        [11] => (&segments[0][..5], &segments[0][5..9], &segments[0][9..]),
        _ => return None,
    };
    if parse_digits(labeler) == 0 || parse_digits(product) == 0 {
        return None;
    }
    Some(format!("{labeler:0>5}{product:0>4}{package:0>2}"))
}

pub(super) fn loinc(value: &str) -> Option<String> {
    let (number, check) = value.trim().split_once('-')?;
    if number.is_empty()
        || number.len() > 6
        || check.len() != 1
        || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // The LOINC check digit is the Luhn (mod 10) digit of the number.
    luhn_valid(&format!("{number}{check}")).then(|| format!("{number}-{check}"))
}

pub(super) fn age_over_89(value: &str) -> Option<String> {
    let digits = digits_of(value);
    let first_number: String = value
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.is_empty() || first_number.len() > 3 {
        return None;
    }
    let age = parse_digits(&first_number);
    (90..=125).contains(&age).then(|| age.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10cm_uses_code_list() {
        let data = RuleData::embedded();
        for valid in ["E11.9", "E119", "S72.001A", "Z79.4", "F32.A", "U07.1"] {
            assert!(icd10cm(valid, &data).is_some(), "{valid}");
        }
        assert_eq!(icd10cm("E11.9", &data).as_deref(), Some("E119"));
        assert_eq!(icd10cm("E11.99", &data), None);
        assert_eq!(icd10cm("Z99.999", &data), None);
    }

    #[test]
    fn cpt_ranges() {
        assert_eq!(cpt("99213").as_deref(), Some("99213"));
        assert_eq!(cpt("3074F").as_deref(), Some("3074F"));
        assert_eq!(cpt("0042T").as_deref(), Some("0042T"));
        assert_eq!(cpt("00099"), None);
        assert_eq!(cpt("99999"), None);
        assert_eq!(cpt("1234X"), None);
    }

    #[test]
    fn hcpcs_letters() {
        assert_eq!(hcpcs("J1100").as_deref(), Some("J1100"));
        assert_eq!(hcpcs("g0438").as_deref(), Some("G0438"));
        assert_eq!(hcpcs("F1234"), None);
        assert_eq!(hcpcs("J0000"), None);
    }

    #[test]
    fn ndc_formats_become_eleven_digits() {
        assert_eq!(ndc("0002-0800-01").as_deref(), Some("00002080001"));
        assert_eq!(ndc("12345-678-90").as_deref(), Some("12345067890"));
        assert_eq!(ndc("12345-6789-0").as_deref(), Some("12345678900"));
        assert_eq!(ndc("00002080001").as_deref(), Some("00002080001"));
        assert_eq!(ndc("0000-0800-01"), None, "labeler zero");
        assert_eq!(ndc("123-4567-89"), None, "no such layout");
    }

    #[test]
    fn loinc_check_digit() {
        for valid in ["2345-7", "4548-4", "718-7", "2160-0"] {
            assert_eq!(loinc(valid).as_deref(), Some(valid));
        }
        assert_eq!(loinc("2345-8"), None);
        assert_eq!(loinc("2345"), None);
    }

    #[test]
    fn ages_from_90() {
        assert_eq!(age_over_89("92-year-old").as_deref(), Some("92"));
        assert_eq!(age_over_89("Age: 101").as_deref(), Some("101"));
        assert_eq!(age_over_89("89 yo"), None);
        assert_eq!(age_over_89("130 years"), None);
    }
}
