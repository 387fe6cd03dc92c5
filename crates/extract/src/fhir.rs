//! FHIR JSON resources: labels that name what a value is, from the
//! structure around it, handed to the JSON extractor by pointer.
//!
//! A FHIR identifier's `value` key names no kind of value, but its `system`
//! (`http://hl7.org/fhir/sid/us-ssn`) or type code (`SS`, `MR`) does. The
//! same is true of `telecom` values (phone, fax or email by `system`) and for
//! the codes of conditions, medications and observations.

use serde_json::Value;
use std::collections::HashMap;

/// Largest JSON text given FHIR labels. The labels come from a parse into
/// `serde_json::Value`, which takes several times the text's size in memory.
/// Larger bundles are still scanned, with their JSON keys as labels.
pub const MAX_LABELLED_BYTES: usize = 32 << 20;

/// Returns true when JSON text looks like a FHIR resource or bundle small
/// enough to be given labels.
pub fn looks_like_fhir(text: &str) -> bool {
    let head = &text[..text.floor_char_boundary(4096)];
    text.len() <= MAX_LABELLED_BYTES && head.contains("\"resourceType\"")
}

/// Computes labels for values inside FHIR resources, by RFC 6901 pointer.
/// Returns an empty map for text that does not parse as JSON.
pub fn labels(text: &str) -> HashMap<String, String> {
    let mut labels = HashMap::new();
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        walk(&value, &mut String::new(), "", &mut labels, 0);
    }
    labels
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(
    value: &Value,
    pointer: &mut String,
    resource: &str,
    labels: &mut HashMap<String, String>,
    depth: u32,
) {
    if depth > 128 {
        return;
    }
    match value {
        Value::Object(map) => {
            let resource = map
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or(resource);
            for (key, child) in map {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape(key));
                match key.as_str() {
                    "identifier" => label_each(child, pointer, labels, identifier_label),
                    "telecom" if is_provider_resource(resource) => {
                        label_each(child, pointer, labels, provider_telecom_label);
                    }
                    "telecom" => label_each(child, pointer, labels, telecom_label),
                    "birthDate" => {
                        labels.insert(pointer.clone(), "birthDate date of birth".into());
                    }
                    "deceasedDateTime" => {
                        labels.insert(pointer.clone(), "date of death".into());
                    }
                    "code" | "medicationCodeableConcept" | "valueCodeableConcept" => {
                        label_codings(child, pointer, labels, code_meaning(resource));
                    }
                    "name" | "address" if is_provider_resource(resource) => {
                        label_strings(child, pointer, &format!("practitioner {key}"), labels, 0);
                    }
                    _ => {}
                }
                walk(child, pointer, resource, labels, depth + 1);
                pointer.truncate(length);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                walk(child, pointer, resource, labels, depth + 1);
                pointer.truncate(length);
            }
        }
        _ => {}
    }
}

/// Returns true for resources that describe a clinician or an organization,
/// whose names, addresses and contacts are not a patient's.
fn is_provider_resource(resource: &str) -> bool {
    matches!(
        resource,
        "Practitioner"
            | "PractitionerRole"
            | "Organization"
            | "Location"
            | "HealthcareService"
            | "Endpoint"
    )
}

/// Labels every string below `value` with `prefix` and the key that contains
/// it (`practitioner name given`), replacing labels set before.
fn label_strings(
    value: &Value,
    pointer: &str,
    prefix: &str,
    labels: &mut HashMap<String, String>,
    depth: u32,
) {
    if depth > 8 {
        return;
    }
    match value {
        Value::String(_) => {
            let key = pointer
                .rsplit('/')
                .find(|part| !part.bytes().all(|byte| byte.is_ascii_digit()))
                .unwrap_or("");
            labels.insert(pointer.to_string(), format!("{prefix} {key}"));
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                label_strings(
                    item,
                    &format!("{pointer}/{index}"),
                    prefix,
                    labels,
                    depth + 1,
                );
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                label_strings(
                    child,
                    &format!("{pointer}/{}", escape(key)),
                    prefix,
                    labels,
                    depth + 1,
                );
            }
        }
        _ => {}
    }
}

/// Labels the `value` of each object in an array (or of one object).
fn label_each(
    value: &Value,
    pointer: &str,
    labels: &mut HashMap<String, String>,
    label_of: fn(&Value) -> String,
) {
    let items: Vec<(String, &Value)> = match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| (format!("{pointer}/{index}"), item))
            .collect(),
        other => vec![(pointer.to_string(), other)],
    };
    for (item_pointer, item) in items {
        if item.get("value").is_some() {
            labels.insert(format!("{item_pointer}/value"), label_of(item));
        }
    }
}

fn identifier_label(identifier: &Value) -> String {
    let system = identifier
        .get("system")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let codes: Vec<String> = identifier
        .pointer("/type/coding")
        .and_then(Value::as_array)
        .map(|codings| {
            codings
                .iter()
                .filter_map(|coding| coding.get("code").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let has = |code: &str| codes.iter().any(|found| found == code);
    let meaning =
        if system.contains("us-ssn") || system.contains("2.16.840.1.113883.4.1") || has("SS") {
            "SSN social security number"
        } else if has("MR") || system.contains("mrn") {
            "MRN medical record number"
        } else if system.contains("us-npi") || has("NPI") {
            "NPI"
        } else if has("DL") {
            "driver license number"
        } else if has("PPN") {
            "passport number"
        } else if has("MB") || has("MC") || system.contains("medicare") {
            "member id medicare number"
        } else {
            "identifier"
        };
    format!("identifier value {meaning}")
}

/// Labels a clinician's or an organization's phone, fax or email.
fn provider_telecom_label(telecom: &Value) -> String {
    format!("practitioner {}", telecom_label(telecom))
}

fn telecom_label(telecom: &Value) -> String {
    match telecom.get("system").and_then(Value::as_str) {
        Some("phone") | Some("sms") => "telecom phone number".into(),
        Some("fax") => "telecom fax number".into(),
        Some("email") => "telecom email".into(),
        _ => "telecom contact".into(),
    }
}

/// Returns what a coded value means in a resource type.
fn code_meaning(resource: &str) -> &'static str {
    match resource {
        "Condition" | "Encounter" | "Claim" | "ExplanationOfBenefit" => "diagnosis code",
        "MedicationRequest" | "MedicationStatement" | "MedicationAdministration" | "Medication" => {
            "medication code"
        }
        "Observation" | "DiagnosticReport" => "lab test code",
        "Procedure" => "procedure code",
        "Immunization" => "vaccine code",
        "AllergyIntolerance" => "allergy code",
        _ => "code",
    }
}

/// Labels `coding[].code` and `coding[].display` under a CodeableConcept.
fn label_codings(
    concept: &Value,
    pointer: &str,
    labels: &mut HashMap<String, String>,
    meaning: &str,
) {
    let Some(codings) = concept.get("coding").and_then(Value::as_array) else {
        return;
    };
    for (index, coding) in codings.iter().enumerate() {
        let system = coding
            .get("system")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let scheme = if system.contains("icd-10") || system.contains("icd10") {
            " icd-10"
        } else if system.contains("snomed") {
            " snomed"
        } else if system.contains("loinc") {
            " loinc"
        } else if system.contains("rxnorm") {
            " rxnorm"
        } else {
            ""
        };
        labels.insert(
            format!("{pointer}/coding/{index}/code"),
            format!("{meaning}{scheme}"),
        );
        labels.insert(
            format!("{pointer}/coding/{index}/display"),
            format!("{meaning} description"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_head_with_multibyte_characters() {
        // The sniffing window ends inside a two-byte character.
        let text = format!(
            "{{\"note\":\"{}é\",\"resourceType\":\"Patient\"}}",
            "a".repeat(4086)
        );
        assert!(!text.is_char_boundary(4096));
        assert!(!looks_like_fhir(&text));
    }

    #[test]
    fn identifiers_telecoms_and_codes_get_labels() {
        let text = r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient",
            "identifier":[{"system":"http://hl7.org/fhir/sid/us-ssn","value":"234-56-7890"},
                          {"type":{"coding":[{"code":"MR"}]},"value":"A1"}],
            "telecom":[{"system":"phone","value":"217-555-0143"}],
            "birthDate":"1980-01-02"}},
          {"resource":{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"E11.9"}]}}}]}"#;
        let labels = labels(text);
        let label = |pointer: &str| labels.get(pointer).map(String::as_str).unwrap_or("");
        assert!(label("/entry/0/resource/identifier/0/value").contains("SSN"));
        assert!(label("/entry/0/resource/identifier/1/value").contains("MRN"));
        assert!(label("/entry/0/resource/telecom/0/value").contains("phone"));
        assert!(label("/entry/0/resource/birthDate").contains("date of birth"));
        assert_eq!(
            label("/entry/1/resource/code/coding/0/code"),
            "diagnosis code icd-10"
        );
    }
}
