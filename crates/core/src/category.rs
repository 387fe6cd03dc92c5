//! Finding categories: the 18 Safe Harbor identifier kinds, provider ids and
//! health signals.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of value a finding is.
///
/// The identifier kinds follow the HIPAA Safe Harbor list in 45 CFR
/// 164.514(b)(2)(i); `provider-id` covers NPI and DEA numbers, which identify
/// clinicians rather than patients; the last five are health signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Name,
    Address,
    Date,
    #[serde(rename = "age-over-89")]
    AgeOver89,
    Phone,
    Fax,
    Email,
    Ssn,
    Mrn,
    HealthPlanId,
    AccountNumber,
    LicenseNumber,
    VehicleId,
    DeviceId,
    Url,
    IpAddress,
    Biometric,
    Photo,
    OtherId,
    ProviderId,
    Diagnosis,
    Procedure,
    Medication,
    Lab,
    ClinicalTerm,
}

/// How a finding counts when an item is classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Identifies a person on its own (SSN, MRN, name, phone...).
    Direct,
    /// Narrows down a person only together with other values (dates, ZIP codes, URLs).
    Quasi,
    /// Health information: a diagnosis, procedure, medication, lab result or clinical term.
    Health,
    /// Identifies a clinician or organization, not a patient.
    Provider,
}

impl Category {
    /// Every category, in the order the output contract lists them.
    pub const ALL: [Category; 25] = [
        Category::Name,
        Category::Address,
        Category::Date,
        Category::AgeOver89,
        Category::Phone,
        Category::Fax,
        Category::Email,
        Category::Ssn,
        Category::Mrn,
        Category::HealthPlanId,
        Category::AccountNumber,
        Category::LicenseNumber,
        Category::VehicleId,
        Category::DeviceId,
        Category::Url,
        Category::IpAddress,
        Category::Biometric,
        Category::Photo,
        Category::OtherId,
        Category::ProviderId,
        Category::Diagnosis,
        Category::Procedure,
        Category::Medication,
        Category::Lab,
        Category::ClinicalTerm,
    ];

    /// The name used in rule files and outputs, such as `health-plan-id`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Name => "name",
            Category::Address => "address",
            Category::Date => "date",
            Category::AgeOver89 => "age-over-89",
            Category::Phone => "phone",
            Category::Fax => "fax",
            Category::Email => "email",
            Category::Ssn => "ssn",
            Category::Mrn => "mrn",
            Category::HealthPlanId => "health-plan-id",
            Category::AccountNumber => "account-number",
            Category::LicenseNumber => "license-number",
            Category::VehicleId => "vehicle-id",
            Category::DeviceId => "device-id",
            Category::Url => "url",
            Category::IpAddress => "ip-address",
            Category::Biometric => "biometric",
            Category::Photo => "photo",
            Category::OtherId => "other-id",
            Category::ProviderId => "provider-id",
            Category::Diagnosis => "diagnosis",
            Category::Procedure => "procedure",
            Category::Medication => "medication",
            Category::Lab => "lab",
            Category::ClinicalTerm => "clinical-term",
        }
    }

    /// The role a category plays in classification unless a rule overrides it.
    ///
    /// Dates, ages, URLs and IP addresses are Safe Harbor identifiers, but a
    /// document full of them is rarely about one patient, so they only count as
    /// quasi-identifiers.
    pub fn default_role(self) -> Role {
        match self {
            Category::Date | Category::AgeOver89 | Category::Url | Category::IpAddress => {
                Role::Quasi
            }
            Category::ProviderId => Role::Provider,
            Category::Diagnosis
            | Category::Procedure
            | Category::Medication
            | Category::Lab
            | Category::ClinicalTerm => Role::Health,
            _ => Role::Direct,
        }
    }

    /// Returns true for the health-signal categories.
    pub fn is_health(self) -> bool {
        self.default_role() == Role::Health
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a category name outside the output contract's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCategory(pub String);

impl fmt::Display for UnknownCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown category {:?}; expected one of: ", self.0)?;
        for (i, category) in Category::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(category.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownCategory {}

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .iter()
            .copied()
            .find(|category| category.as_str() == s)
            .ok_or_else(|| UnknownCategory(s.to_string()))
    }
}

impl Role {
    /// The name used in rule files, such as `quasi`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Direct => "direct",
            Role::Quasi => "quasi",
            Role::Health => "health",
            Role::Provider => "provider",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for category in Category::ALL {
            assert_eq!(category.as_str().parse::<Category>(), Ok(category));
            let json = serde_json::to_string(&category).unwrap();
            assert_eq!(json, format!("\"{}\"", category.as_str()));
        }
    }

    #[test]
    fn unknown_name_lists_vocabulary() {
        let err = "social".parse::<Category>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"social\""), "{message}");
        assert!(message.contains("health-plan-id"), "{message}");
    }

    #[test]
    fn health_signals_have_health_role() {
        assert!(Category::Diagnosis.is_health());
        assert!(!Category::Ssn.is_health());
        assert_eq!(Category::Date.default_role(), Role::Quasi);
        assert_eq!(Category::ProviderId.default_role(), Role::Provider);
    }
}
