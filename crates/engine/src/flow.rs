//! Data flows by email: which messages with PHI went from which domain to
//! which, and how they were protected.
//!
//! A message's class for flows counts its attachments: a message whose
//! attachment is `phi` is a PHI flow even when its own text is clean, and a
//! patient's name in the body with a diagnosis in an attached file is
//! `phi-likely`. Addresses are turned into domains here and go no further.

use phiscan_core::records::FlowRecord;
use phiscan_core::{Category, Class};
use phiscan_extract::mail::{Envelope, domain_of};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// Domains of personal webmail providers: mail sent there leaves the
/// practice's control even when the recipient is a colleague.
const WEBMAIL_DOMAINS: [&str; 30] = [
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "ymail.com",
    "rocketmail.com",
    "aol.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "protonmail.com",
    "proton.me",
    "pm.me",
    "gmx.com",
    "gmx.net",
    "mail.com",
    "zoho.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "fastmail.com",
    "tutanota.com",
    "comcast.net",
    "att.net",
    "verizon.net",
    "sbcglobal.net",
    "cox.net",
];

/// Local parts of addresses that name a role or a service, not a person:
/// common service mailboxes (`postmaster`, `info`) and the desks of a
/// medical office.
const ROLE_MAILBOXES: [&str; 44] = [
    "abuse",
    "accounts",
    "admin",
    "appointments",
    "billing",
    "claims",
    "contact",
    "donotreply",
    "do-not-reply",
    "fax",
    "frontdesk",
    "front-desk",
    "front.desk",
    "help",
    "hostmaster",
    "hr",
    "info",
    "intake",
    "lab",
    "labs",
    "mail",
    "marketing",
    "medicalrecords",
    "medical.records",
    "noc",
    "noreply",
    "no-reply",
    "nurse",
    "office",
    "pharmacy",
    "postmaster",
    "reception",
    "records",
    "referral",
    "referrals",
    "results",
    "sales",
    "scheduling",
    "security",
    "staff",
    "support",
    "team",
    "triage",
    "webmaster",
];

/// Returns true for an address of the practice itself (one of its domains)
/// or of a role (`referrals@`, `frontdesk@`), which names no patient. Such an
/// address is still a finding, but it is not a person and does not give the
/// item a class.
pub(crate) fn is_organization_address(address: &str, internal: &InternalDomains) -> bool {
    let Some((local, _)) = address.rsplit_once('@') else {
        return false;
    };
    if domain_of(address).is_some_and(|domain| internal.contains(&domain)) {
        return true;
    }
    // A tag (`billing+2024@`) does not change the mailbox.
    let mailbox = local
        .split('+')
        .next()
        .unwrap_or(local)
        .to_ascii_lowercase();
    ROLE_MAILBOXES.contains(&mailbox.as_str())
}

/// What an item and its members hold, for the class of a message's flows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rollup {
    phi: bool,
    phi_likely: bool,
    identifiers: bool,
    health: bool,
    pub(crate) categories: BTreeSet<Category>,
}

impl Rollup {
    /// Adds an item's own class and categories.
    pub(crate) fn add_class(&mut self, class: Class, categories: &[Category]) {
        match class {
            Class::Phi => self.phi = true,
            Class::PhiLikely => self.phi_likely = true,
            Class::Pii => self.identifiers = true,
            Class::HealthOnly => self.health = true,
            Class::None => {}
        }
        self.categories.extend(categories.iter().copied());
    }

    /// Adds what a member holds.
    pub(crate) fn merge(&mut self, other: &Rollup) {
        self.phi |= other.phi;
        self.phi_likely |= other.phi_likely;
        self.identifiers |= other.identifiers;
        self.health |= other.health;
        self.categories.extend(other.categories.iter().copied());
    }

    /// The class for flows: `phi` or `phi-likely`, or None when the item and
    /// its members hold no PHI.
    pub(crate) fn flow_class(&self) -> Option<Class> {
        if self.phi {
            Some(Class::Phi)
        } else if self.phi_likely || (self.identifiers && self.health) {
            Some(Class::PhiLikely)
        } else {
            None
        }
    }
}

/// The practice's own mail domains.
#[derive(Clone, Debug, Default)]
pub struct InternalDomains {
    domains: Vec<String>,
}

impl InternalDomains {
    /// Creates the set from domain names; case and a leading `@` are ignored.
    pub fn new(domains: &[String]) -> InternalDomains {
        InternalDomains {
            domains: domains
                .iter()
                .map(|domain| {
                    domain
                        .trim()
                        .trim_start_matches('@')
                        .trim_end_matches('.')
                        .to_ascii_lowercase()
                })
                .filter(|domain| !domain.is_empty())
                .collect(),
        }
    }

    /// Returns true for one of the domains or a subdomain of one.
    pub fn contains(&self, domain: &str) -> bool {
        self.domains.iter().any(|own| {
            domain == own
                || domain
                    .strip_suffix(own.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }
}

/// Returns true for a personal webmail domain.
pub(crate) fn is_webmail(domain: &str) -> bool {
    WEBMAIL_DOMAINS.contains(&domain)
}

/// Builds one flow per recipient of a message whose rollup holds PHI.
pub(crate) fn flows(
    location: &str,
    envelope: &Envelope,
    rollup: &Rollup,
    internal: &InternalDomains,
) -> Vec<FlowRecord> {
    let Some(class) = rollup.flow_class() else {
        return Vec::new();
    };
    let from_domain = envelope
        .from
        .as_deref()
        .and_then(domain_of)
        .unwrap_or_else(|| "unknown".to_string());
    let sent = envelope.sent.and_then(|seconds| {
        let time = if seconds >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds as u64))
        } else {
            SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs()))
        };
        time.map(crate::rfc3339)
    });
    let categories: Vec<Category> = rollup.categories.iter().copied().collect();
    let mut seen = BTreeSet::new();
    let mut records = Vec::new();
    for recipient in &envelope.recipients {
        let Some(to_domain) = domain_of(&recipient.address) else {
            continue;
        };
        // One flow per header and domain: ten colleagues on Cc are one path.
        if !seen.insert((recipient.field, to_domain.clone())) {
            continue;
        }
        records.push(FlowRecord {
            location: location.to_string(),
            sent: sent.clone(),
            from_domain: from_domain.clone(),
            external: !internal.contains(&to_domain),
            webmail: is_webmail(&to_domain),
            to_domain,
            field: recipient.field.to_string(),
            protection: envelope.protection.as_str().to_string(),
            auto_forwarded: envelope.auto_forwarded,
            attachments: envelope.attachments,
            class,
            categories: categories.clone(),
        });
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use phiscan_extract::mail::{Protection, Recipient};

    #[test]
    fn organization_addresses_are_not_people() {
        let internal = InternalDomains::new(&["clinic-a.org".to_string()]);
        let cases = [
            ("dana.kowalski@mail.clinic-a.org", true),
            ("referrals@northshore-cardiology.net", true),
            ("FrontDesk@example.org", true),
            ("billing+2024@example.org", true),
            ("dana.kowalski@gmail.com", false),
            ("info.kowalski@gmail.com", false),
            ("not-an-address", false),
        ];
        for (address, expected) in cases {
            assert_eq!(
                is_organization_address(address, &internal),
                expected,
                "{address}"
            );
        }
    }

    fn envelope() -> Envelope {
        Envelope {
            from: Some("Desk@Clinic-A.org".into()),
            recipients: vec![
                Recipient {
                    field: "to",
                    address: "pat@gmail.com".into(),
                },
                Recipient {
                    field: "cc",
                    address: "billing@mail.clinic-a.org".into(),
                },
                Recipient {
                    field: "cc",
                    address: "other@mail.clinic-a.org".into(),
                },
                Recipient {
                    field: "bcc",
                    address: "no-domain".into(),
                },
            ],
            sent: Some(1709650800),
            auto_forwarded: false,
            protection: Protection::Signed,
            attachments: 2,
        }
    }

    #[test]
    fn flows_per_recipient_domain() {
        let mut rollup = Rollup::default();
        rollup.add_class(Class::Phi, &[Category::Ssn]);
        let internal = InternalDomains::new(&["clinic-a.org".to_string()]);
        let records = flows("m.eml", &envelope(), &rollup, &internal);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].from_domain, "clinic-a.org");
        assert_eq!(records[0].to_domain, "gmail.com");
        assert!(records[0].external);
        assert!(records[0].webmail);
        assert_eq!(records[1].to_domain, "mail.clinic-a.org");
        assert!(!records[1].external);
        assert_eq!(records[1].protection, "signed");
        assert_eq!(records[1].sent.as_deref(), Some("2024-03-05T15:00:00Z"));
        assert_eq!(records[1].attachments, 2);
    }

    #[test]
    fn no_flow_without_phi() {
        let mut rollup = Rollup::default();
        rollup.add_class(Class::Pii, &[Category::Email]);
        let records = flows("m.eml", &envelope(), &rollup, &InternalDomains::default());
        assert!(records.is_empty());
    }

    #[test]
    fn attachment_health_with_body_identifier_is_phi_likely() {
        let mut message = Rollup::default();
        message.add_class(Class::Pii, &[Category::Name]);
        let mut attachment = Rollup::default();
        attachment.add_class(Class::HealthOnly, &[Category::Diagnosis]);
        message.merge(&attachment);
        assert_eq!(message.flow_class(), Some(Class::PhiLikely));
    }

    #[test]
    fn subdomains_are_internal() {
        let internal = InternalDomains::new(&["@Clinic-A.org".to_string()]);
        assert!(internal.contains("clinic-a.org"));
        assert!(internal.contains("mail.clinic-a.org"));
        assert!(!internal.contains("notclinic-a.org"));
    }
}
