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
                "{} items with identifiers are readable by every user account",
                row.exposure.world
            ),
            "Remove read access for others (chmod o-r, or remove Everyone, Authenticated Users and Users from the access control list) and keep the files in a folder only the staff who need them can open.",
        );
    }
    for (place, count) in &row.places {
        let (level, what, action) = place_advice(place);
        add(
            &mut reasons,
            level,
            format!("{count} items with identifiers are in {what}"),
            action,
        );
    }
    if row.flows.external_unencrypted > 0 {
        add(
            &mut reasons,
            RiskLevel::High,
            format!(
                "{} messages with PHI went unencrypted to outside domains ({})",
                row.flows.external_unencrypted,
                row.flows.domains.join(", ")
            ),
            "Send PHI outside the practice only by encrypted email or the patient portal, and review mailbox forwarding rules.",
        );
    } else if row.flows.external > 0 {
        add(
            &mut reasons,
            RiskLevel::Low,
            format!(
                "{} encrypted messages with PHI went to outside domains",
                row.flows.external
            ),
            "Confirm that each recipient organization has a business associate agreement or a treatment relationship.",
        );
    }
    if row.flows.auto_forwarded > 0 {
        add(
            &mut reasons,
            RiskLevel::High,
            format!(
                "{} messages with PHI were forwarded by a mailbox rule",
                row.flows.auto_forwarded
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
                "{} items with identifiers are readable by the file's group",
                row.exposure.group
            ),
            "Check that every member of the owning group needs these files; otherwise remove group read access (chmod g-r).",
        );
    }
    if row.copies > 0 && sensitive > 0 {
        add(
            &mut reasons,
            RiskLevel::Medium,
            format!(
                "{} items with identifiers have identical copies elsewhere",
                row.copies
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
            format!("{phi} items with PHI are stored unencrypted"),
            "Move the records into the EHR or an access-controlled share, and encrypt the volume (BitLocker, FileVault, LUKS).",
        );
    }
    let pii = row.count(phiscan_core::Class::Pii);
    if pii > 0 && phi == 0 && reasons.is_empty() {
        add(
            &mut reasons,
            RiskLevel::Low,
            format!("{pii} items hold identifiers without health information"),
            "Confirm the files are needed; restrict access or delete them under the retention policy.",
        );
    }
    let health_only = row.count(phiscan_core::Class::HealthOnly);
    if health_only > 0 && sensitive == 0 {
        add(
            &mut reasons,
            RiskLevel::Low,
            format!("{health_only} items hold health information without identifiers"),
            "Check whether the files can be tied to patients by their names or folders.",
        );
    }
    if row.incomplete > 0 {
        add(
            &mut reasons,
            RiskLevel::Low,
            format!(
                "{} items were not fully examined and may hold PHI",
                row.incomplete
            ),
            "Review the coverage section: decrypt, convert or inspect these items by hand.",
        );
    }
    reasons.sort_by_key(|reason| std::cmp::Reverse(reason.level));
    reasons
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
