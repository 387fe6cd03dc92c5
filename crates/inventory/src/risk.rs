//! The suggested risk level of an inventory location, with reasons and
//! recommended actions.
//!
//! The rules are deliberately simple and stated in `docs/inventory.md`, so a
//! compliance officer can check each level against the figures next to it.
//! They suggest a level for the risk analysis; they do not replace it.

use crate::aggregate::{BREACH_NOTICE_INDIVIDUALS, LocationRow, RiskLevel, RiskReason};

/// Returns every reason that applies to a location, highest level first.
pub fn assess(row: &LocationRow) -> Vec<RiskReason> {
    let mut reasons = Vec::new();
    let phi = row.phi_items();
    let sensitive = row.sensitive_items();
    let add = |reasons: &mut Vec<RiskReason>, level, reason: String, action: &str| {
        reasons.push(RiskReason {
            level,
            reason,
            action: action.to_string(),
        })
    };

    if row.exposure.world > 0 {
        add(
            &mut reasons,
            RiskLevel::High,
            format!(
                "{} with identifiers {} readable by every user account",
                items(row.exposure.world),
                be(row.exposure.world)
            ),
            "Remove read access for others (chmod o-r, or remove Everyone, Anonymous Logon, Authenticated Users, Users and Domain Users from the access control list) and keep the files in a folder only the staff who need them can open.",
        );
    }
    for (place, count) in &row.places {
        let (level, what, action) = place_advice(place);
        add(
            &mut reasons,
            level,
            format!(
                "{} with identifiers {} in {what}",
                items(*count),
                be(*count)
            ),
            action,
        );
    }
    if row.protection.weak > 0 {
        add(
            &mut reasons,
            RiskLevel::Medium,
            format!(
                "{} {} encrypted with a weak legacy cipher (ZipCrypto, RC4) that does not protect its content, and {} not examined",
                items(row.protection.weak),
                be(row.protection.weak),
                if row.protection.weak == 1 {
                    "was"
                } else {
                    "were"
                }
            ),
            "Open each file with its password and save it again with AES encryption (7-Zip AES-256, or password protection in Office 2010 or later), or move its records into the EHR.",
        );
    }
    if row.flows.external_unencrypted > 0 {
        add(
            &mut reasons,
            RiskLevel::High,
            format!(
                "{} with PHI went unencrypted to outside domains ({})",
                messages(row.flows.external_unencrypted),
                row.flows.domains.join(", ")
            ),
            "Send PHI outside the practice only by encrypted email or the patient portal, and review mailbox forwarding rules.",
        );
    } else if row.flows.external > 0 {
        add(
            &mut reasons,
            RiskLevel::Low,
            format!(
                "{} with PHI went encrypted to outside domains",
                messages(row.flows.external)
            ),
            "Confirm that each recipient organization has a business associate agreement or a treatment relationship.",
        );
    }
    if row.flows.auto_forwarded > 0 {
        add(
            &mut reasons,
            RiskLevel::High,
            format!(
                "{} with PHI {} forwarded by a mailbox rule",
                messages(row.flows.auto_forwarded),
                if row.flows.auto_forwarded == 1 {
                    "was"
                } else {
                    "were"
                }
            ),
            "Remove automatic forwarding of practice mail to other mailboxes.",
        );
    }
    if row.individuals.high >= BREACH_NOTICE_INDIVIDUALS && phi > 0 {
        add(
            &mut reasons,
            RiskLevel::High,
            format!(
                "PHI of an estimated {} to {} individuals: a breach of 500 or more must be reported to HHS within 60 days",
                row.individuals.low, row.individuals.high
            ),
            "Reduce what is kept here: move records into the EHR, delete old exports, and encrypt what must stay.",
        );
    }
    if row.exposure.group > 0 {
        add(
            &mut reasons,
            RiskLevel::Medium,
            format!(
                "{} with identifiers {} readable by a group of accounts",
                items(row.exposure.group),
                be(row.exposure.group)
            ),
            "Check that every member of the group needs these files (the file's group, or Guests in the access control list); otherwise remove its read access (chmod g-r, or remove the entry from the access control list).",
        );
    }
    if row.copies > 0 && sensitive > 0 {
        add(
            &mut reasons,
            RiskLevel::Medium,
            format!(
                "{} with identifiers {} identical copies elsewhere",
                items(row.copies),
                if row.copies == 1 { "has" } else { "have" }
            ),
            "Keep one copy in the system of record and delete the others.",
        );
    }
    if phi > 0
        && reasons
            .iter()
            .all(|reason| reason.level < RiskLevel::Medium)
    {
        add(
            &mut reasons,
            RiskLevel::Medium,
            format!("{} with PHI {} stored unencrypted", items(phi), be(phi)),
            "Move the records into the EHR or an access-controlled share, and encrypt the volume (BitLocker, FileVault, LUKS).",
        );
    }
    let pii = row.count(phiscan_core::Class::Pii);
    if pii > 0 && phi == 0 && reasons.is_empty() {
        add(
            &mut reasons,
            RiskLevel::Low,
            format!(
                "{} {} identifiers without health information",
                items(pii),
                hold(pii)
            ),
            "Confirm the files are needed; restrict access or delete them under the retention policy.",
        );
    }
    let health_only = row.count(phiscan_core::Class::HealthOnly);
    if health_only > 0 && sensitive == 0 {
        add(
            &mut reasons,
            RiskLevel::Low,
            format!(
                "{} {} health information without identifiers",
                items(health_only),
                hold(health_only)
            ),
            "Check whether the files can be tied to patients by their names or folders.",
        );
    }
    if row.incomplete > 0 {
        add(
            &mut reasons,
            RiskLevel::Low,
            format!(
                "{} {} not fully examined and may hold PHI",
                items(row.incomplete),
                if row.incomplete == 1 { "was" } else { "were" }
            ),
            "Review the coverage section: scan again as an account that can read the items that could not be opened, run OCR on scanned or faxed pages (phiscan reads no images) or review them by hand, and decrypt or convert the others.",
        );
    }
    reasons.sort_by_key(|reason| std::cmp::Reverse(reason.level));
    reasons
}

/// Returns `1 item` or `N items`.
fn items(count: u64) -> String {
    if count == 1 {
        "1 item".into()
    } else {
        format!("{count} items")
    }
}

/// Returns `1 message` or `N messages`.
fn messages(count: u64) -> String {
    if count == 1 {
        "1 message".into()
    } else {
        format!("{count} messages")
    }
}

/// Returns `is` for one, `are` otherwise.
fn be(count: u64) -> &'static str {
    if count == 1 { "is" } else { "are" }
}

/// Returns `holds` for one, `hold` otherwise.
fn hold(count: u64) -> &'static str {
    if count == 1 { "holds" } else { "hold" }
}

/// Returns the level, description and action for a risky place.
fn place_advice(place: &str) -> (RiskLevel, String, &'static str) {
    match place {
        "removable" => (
            RiskLevel::High,
            "removable media".into(),
            "Move PHI off removable media, or encrypt the device (BitLocker To Go, LUKS) and track it in the device inventory.",
        ),
        sync if sync.starts_with("sync-") => (
            RiskLevel::High,
            format!("a cloud sync folder ({})", &sync[5..]),
            "Remove PHI from the sync folder, or confirm the service is covered by a business associate agreement and set to the practice's account.",
        ),
        "recycle-bin" => (
            RiskLevel::Medium,
            "a recycle bin or trash folder".into(),
            "Empty the recycle bin: deleted files stay readable until then.",
        ),
        "mail-export" => (
            RiskLevel::Medium,
            "stray mailbox exports".into(),
            "Import the mailbox export into the mail system or delete it under the retention policy.",
        ),
        "desktop" | "downloads" | "temp" => (
            RiskLevel::Medium,
            format!("a {place} folder"),
            "Move the files into the EHR or an access-controlled share, then delete the local copies.",
        ),
        other => (
            RiskLevel::Medium,
            format!("a risky place ({other})"),
            "Move the files into the EHR or an access-controlled share.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Exposure, FlowCounts, Protection};
    use phiscan_core::Class;
    use phiscan_core::records::Individuals;
    use std::collections::BTreeMap;

    fn row(phi: u64, pii: u64) -> LocationRow {
        let mut by_class: BTreeMap<Class, u64> = Class::ALL.into_iter().map(|c| (c, 0)).collect();
        by_class.insert(Class::Phi, phi);
        by_class.insert(Class::Pii, pii);
        LocationRow {
            location: "share/a".into(),
            system: "host".into(),
            items: phi + pii,
            files: phi + pii,
            by_class,
            identifiers: Vec::new(),
            health: Vec::new(),
            individuals: Individuals::default(),
            bytes: 0,
            oldest: None,
            newest: None,
            protection: Protection::default(),
            exposure: Exposure::default(),
            places: BTreeMap::new(),
            copies: 0,
            copies_in: Vec::new(),
            flows: FlowCounts::default(),
            incomplete: 0,
            risk: RiskLevel::None,
            reasons: Vec::new(),
        }
    }

    fn levels(row: &LocationRow) -> Vec<(RiskLevel, String)> {
        assess(row)
            .into_iter()
            .map(|reason| (reason.level, reason.reason))
            .collect()
    }

    #[test]
    fn weak_encryption_is_medium() {
        let mut weak = row(0, 0);
        weak.protection.weak = 2;
        weak.protection.encrypted = 1;
        let found = levels(&weak);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, RiskLevel::Medium);
        assert!(
            found[0]
                .1
                .starts_with("2 items are encrypted with a weak legacy cipher"),
            "{found:?}"
        );

        let mut strong = row(0, 0);
        strong.protection.encrypted = 3;
        assert!(levels(&strong).is_empty());
    }

    #[test]
    fn unencrypted_phi_alone_is_medium() {
        assert_eq!(
            levels(&row(1, 0)),
            vec![(
                RiskLevel::Medium,
                "1 item with PHI is stored unencrypted".to_string()
            )]
        );
    }

    #[test]
    fn world_readable_and_places_are_high() {
        let mut row = row(3, 0);
        row.exposure.world = 2;
        row.places.insert("sync-dropbox".into(), 3);
        let reasons = levels(&row);
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert_eq!(
            reasons[0],
            (
                RiskLevel::High,
                "2 items with identifiers are readable by every user account".to_string()
            )
        );
        assert_eq!(
            reasons[1],
            (
                RiskLevel::High,
                "3 items with identifiers are in a cloud sync folder (dropbox)".to_string()
            )
        );
    }

    #[test]
    fn group_readable_is_medium() {
        let mut row = row(0, 1);
        row.exposure.group = 1;
        let reasons = levels(&row);
        assert_eq!(
            reasons,
            vec![(
                RiskLevel::Medium,
                "1 item with identifiers is readable by a group of accounts".to_string()
            )]
        );
    }

    #[test]
    fn breach_threshold_counts_the_high_estimate() {
        let mut row = row(1, 0);
        row.individuals = Individuals {
            low: 300,
            high: 500,
        };
        assert!(
            assess(&row)
                .iter()
                .any(|reason| reason.level == RiskLevel::High)
        );
        row.individuals.high = 499;
        assert!(
            assess(&row)
                .iter()
                .all(|reason| reason.level < RiskLevel::High)
        );
    }

    #[test]
    fn identifiers_only_is_low() {
        assert_eq!(
            levels(&row(0, 2)),
            vec![(
                RiskLevel::Low,
                "2 items hold identifiers without health information".to_string()
            )]
        );
    }

    #[test]
    fn nothing_found_is_none() {
        assert!(assess(&row(0, 0)).is_empty());
    }
}
