//! Validators: code that decides whether a candidate is a real value of its
//! kind, and returns its canonical form for fingerprinting.
//!
//! Rules name a validator by string (`validator = "ssn"`); [`Validator::from_name`]
//! lists the names. A validator returns `None` to reject the candidate, or the
//! canonical value, so that `123-45-6789` and `123 45 6789` get one fingerprint.

mod clinical;
mod contact;
mod dates;
mod ids;
mod names;

use crate::data::RuleData;

pub use ids::luhn_valid;

/// A named check applied to every candidate of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    /// US Social Security number: area, group and serial ranges, no ITINs.
    Ssn,
    /// IRS Individual Taxpayer Identification Number (9XX-[50-65,70-88,90-92,94-99]-XXXX).
    Itin,
    /// Medicare Beneficiary Identifier: 11 characters with fixed letter and digit positions.
    Mbi,
    /// Legacy Medicare Health Insurance Claim Number: an SSN plus a beneficiary code.
    Hicn,
    /// Railroad Retirement Board claim number: a letter prefix and 6 or 9 digits.
    Rrb,
    /// North American Numbering Plan phone number; fictitious 555-0100..0199 rejected.
    NanpPhone,
    /// Calendar date in numeric, ISO 8601 or month-name form, years 1875 to 2100.
    Date,
    /// An age of 90 or more, up to 125, as in `92-year-old` or `Age: 95`.
    AgeOver89,
    /// ICD-10-CM code present in the bundled code list.
    Icd10Cm,
    /// CPT code shape: five digits, or four digits and F or T.
    Cpt,
    /// HCPCS Level II code shape: a letter of the assigned ranges and four digits.
    Hcpcs,
    /// National Drug Code in the 4-4-2, 5-3-2, 5-4-1 or 11-digit billing form.
    Ndc,
    /// LOINC code: digits, a dash and the mod-10 check digit.
    Loinc,
    /// Luhn (mod 10) check digit over all digits.
    Luhn,
    /// Payment card number: 13 to 19 digits, a known issuer prefix and the Luhn check.
    PaymentCard,
    /// National Provider Identifier: Luhn over the 80840 prefix and the 10 digits.
    Npi,
    /// DEA registration number: registrant type letter, a letter and 7 digits with a check digit.
    Dea,
    /// Vehicle identification number: 17 characters with the check digit in position 9.
    Vin,
    /// GS1 device identifier: `(01)` and a GTIN-14 with its check digit.
    Gs1Udi,
    /// Email address with a plausible domain, not a reserved example domain.
    Email,
    /// IPv4 address in dotted-quad form, without documentation or unspecified addresses.
    Ipv4,
    /// Private, shared or link-local IPv4 address in dotted-quad form.
    Ipv4Local,
    /// IPv6 address in full or compressed form, not loopback or unspecified.
    Ipv6,
    /// `City, ST 12345`: the ZIP code exists and lies in the named state.
    CityStateZip,
    /// A 5-digit or ZIP+4 code that exists.
    Zip,
    /// A 3-digit ZIP area that Safe Harbor requires to be replaced by 000
    /// (population of 20,000 or less).
    RestrictedZip3,
    /// A person's name: capitalized words, none of them a common non-name word.
    PersonName,
    /// A first and last name that are both in the bundled name lists.
    FullName,
}

impl Validator {
    /// Every validator name accepted in rule files.
    pub const NAMES: [&'static str; 28] = [
        "ssn",
        "itin",
        "mbi",
        "hicn",
        "rrb",
        "nanp-phone",
        "date",
        "age-over-89",
        "icd10cm",
        "cpt",
        "hcpcs",
        "ndc",
        "loinc",
        "luhn",
        "payment-card",
        "npi",
        "dea",
        "vin",
        "gs1-udi",
        "email",
        "ipv4",
        "ipv4-local",
        "ipv6",
        "city-state-zip",
        "zip",
        "restricted-zip3",
        "person-name",
        "full-name",
    ];

    /// Looks up a validator by the name used in rule files.
    pub fn from_name(name: &str) -> Option<Validator> {
        Some(match name {
            "ssn" => Validator::Ssn,
            "itin" => Validator::Itin,
            "mbi" => Validator::Mbi,
            "hicn" => Validator::Hicn,
            "rrb" => Validator::Rrb,
            "nanp-phone" => Validator::NanpPhone,
            "date" => Validator::Date,
            "age-over-89" => Validator::AgeOver89,
            "icd10cm" => Validator::Icd10Cm,
            "cpt" => Validator::Cpt,
            "hcpcs" => Validator::Hcpcs,
            "ndc" => Validator::Ndc,
            "loinc" => Validator::Loinc,
            "luhn" => Validator::Luhn,
            "payment-card" => Validator::PaymentCard,
            "npi" => Validator::Npi,
            "dea" => Validator::Dea,
            "vin" => Validator::Vin,
            "gs1-udi" => Validator::Gs1Udi,
            "email" => Validator::Email,
            "ipv4" => Validator::Ipv4,
            "ipv4-local" => Validator::Ipv4Local,
            "ipv6" => Validator::Ipv6,
            "city-state-zip" => Validator::CityStateZip,
            "zip" => Validator::Zip,
            "restricted-zip3" => Validator::RestrictedZip3,
            "person-name" => Validator::PersonName,
            "full-name" => Validator::FullName,
            _ => return None,
        })
    }

    /// Checks a candidate; returns its canonical form when valid.
    pub fn check(self, value: &str, data: &RuleData) -> Option<String> {
        match self {
            Validator::Ssn => ids::ssn(value),
            Validator::Itin => ids::itin(value),
            Validator::Mbi => ids::mbi(value),
            Validator::Hicn => ids::hicn(value),
            Validator::Rrb => ids::rrb(value),
            Validator::NanpPhone => contact::nanp_phone(value),
            Validator::Date => dates::date(value),
            Validator::AgeOver89 => clinical::age_over_89(value),
            Validator::Icd10Cm => clinical::icd10cm(value, data),
            Validator::Cpt => clinical::cpt(value),
            Validator::Hcpcs => clinical::hcpcs(value),
            Validator::Ndc => clinical::ndc(value),
            Validator::Loinc => clinical::loinc(value),
            Validator::Luhn => {
                let digits = digits_of(value);
                luhn_valid(&digits).then_some(digits)
            }
            Validator::PaymentCard => ids::payment_card(value),
            Validator::Npi => ids::npi(value),
            Validator::Dea => ids::dea(value),
            Validator::Vin => ids::vin(value),
            Validator::Gs1Udi => ids::gs1_udi(value),
            Validator::Email => contact::email(value),
            Validator::Ipv4 => contact::ipv4(value),
            Validator::Ipv4Local => contact::ipv4_local(value),
            Validator::Ipv6 => contact::ipv6(value),
            Validator::CityStateZip => contact::city_state_zip(value, data),
            Validator::Zip => contact::zip(value, data),
            Validator::RestrictedZip3 => contact::restricted_zip3(value, data),
            Validator::PersonName => names::person_name(value, data),
            Validator::FullName => names::full_name(value, data),
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

/// Returns the ASCII letters and digits of `value` in upper case.
fn alphanumerics_upper(value: &str) -> String {
    value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves() {
        for name in Validator::NAMES {
            assert!(Validator::from_name(name).is_some(), "{name}");
        }
        assert_eq!(Validator::from_name("crc"), None);
    }
}
