//! Readers of a file besides its owner, judged from the file's Windows
//! security descriptor.
//!
//! [`readers`] parses a self-relative SECURITY_DESCRIPTOR ([MS-DTYP] 2.4.6):
//! the control flags, the DACL, its ACEs and their SIDs. It returns the
//! well-known groups whose members the DACL lets read the file's data. It
//! works on bytes only, so it builds and is tested on every platform; the
//! `cifs` module (Linux) and the `windows` module fetch the bytes. Malformed
//! input returns a [`DescriptorError`], and the work is bounded by the ACE
//! count, which is at most 65,535.
//!
//! [MS-DTYP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/

#[cfg(target_os = "linux")]
pub(crate) mod cifs;
#[cfg(test)]
mod tests;
#[cfg(windows)]
pub(crate) mod windows;

/// A well-known group that an ACE can grant read access, in report order:
/// the groups that contain every account first, then narrower groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reader {
    /// Everyone (S-1-1-0): every signed-in account, including guests.
    Everyone,
    /// Anonymous Logon (S-1-5-7): callers with no account at all.
    Anonymous,
    /// Authenticated Users (S-1-5-11): every account that signed in with a
    /// password or ticket, from this domain and trusted ones.
    AuthenticatedUsers,
    /// The built-in Users group (S-1-5-32-545) of the machine that stores
    /// the file.
    Users,
    /// Domain Users (S-1-5-21-DOMAIN-513) of any domain: every account of
    /// that domain.
    DomainUsers,
    /// The built-in Guests group (S-1-5-32-546).
    Guests,
}

impl Reader {
    const ALL: [Reader; 6] = [
        Reader::Everyone,
        Reader::Anonymous,
        Reader::AuthenticatedUsers,
        Reader::Users,
        Reader::DomainUsers,
        Reader::Guests,
    ];

    /// Returns the value recorded in an item's `exposure`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Reader::Everyone => "everyone",
            Reader::Anonymous => "anonymous",
            Reader::AuthenticatedUsers => "authenticated-users",
            Reader::Users => "users",
            Reader::DomainUsers => "domain-users",
            Reader::Guests => "guests",
        }
    }

    /// Returns true when an ACE for `group` applies to every member of this
    /// group. An ACE for Everyone applies to all groups but Anonymous,
    /// because anonymous tokens lack the Everyone SID unless the policy
    /// "Let Everyone permissions apply to anonymous users" is on.
    fn is_covered_by(self, group: Reader) -> bool {
        group == self || (group == Reader::Everyone && self != Reader::Anonymous)
    }
}

/// An error in the structure of a security descriptor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DescriptorError {
    #[error(
        "security descriptor is truncated: the {part} at byte {offset} needs {needed} bytes, but {available} are left in the enclosing descriptor, DACL or ACE"
    )]
    Truncated {
        part: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("security descriptor revision {0} is invalid; only revision 1 is defined")]
    Revision(u8),
    #[error(
        "security descriptor is not self-relative: control flags {0:#06x} lack SE_SELF_RELATIVE (0x8000)"
    )]
    NotSelfRelative(u16),
    #[error("DACL offset {0} points into the 20-byte descriptor header")]
    DaclOffset(usize),
    #[error("DACL revision {0} is invalid; only revisions 2 and 4 are defined")]
    AclRevision(u8),
    #[error("DACL size {0} is smaller than its 8-byte header")]
    AclSize(usize),
    #[error("ACE {index} has size {size}, smaller than the {minimum} bytes its type needs")]
    AceSize {
        index: usize,
        size: usize,
        minimum: usize,
    },
    #[error("{part} at byte {offset} has revision {revision}; only revision 1 is defined")]
    SidRevision {
        part: &'static str,
        offset: usize,
        revision: u8,
    },
    #[error("{part} at byte {offset} has {count} sub-authorities; at most 15 are allowed")]
    SubAuthorityCount {
        part: &'static str,
        offset: usize,
        count: u8,
    },
}

// Layout and flag values from [MS-DTYP] 2.4.2.2 (SID), 2.4.4.1 (ACE_HEADER),
// 2.4.5 (ACL) and 2.4.6 (SECURITY_DESCRIPTOR).
const DESCRIPTOR_HEADER_SIZE: usize = 20;
const ACL_HEADER_SIZE: usize = 8;
const ACE_HEADER_SIZE: usize = 4;
/// ACE header, access mask, and a SID with no sub-authorities.
const ALLOW_DENY_ACE_MIN_SIZE: usize = ACE_HEADER_SIZE + 4 + 8;
const MAX_SUB_AUTHORITIES: u8 = 15;

const SE_DACL_PRESENT: u16 = 0x0004;
const SE_SELF_RELATIVE: u16 = 0x8000;
const ACCESS_ALLOWED_ACE_TYPE: u8 = 0x00;
const ACCESS_DENIED_ACE_TYPE: u8 = 0x01;
const INHERIT_ONLY_ACE: u8 = 0x08;

/// Access mask bits that let a caller read a file's data: FILE_READ_DATA,
/// then GENERIC_READ and GENERIC_ALL (which map to it for files), and
/// MAXIMUM_ALLOWED.
const READ_ACCESS: u32 = 0x0000_0001 | 0x8000_0000 | 0x1000_0000 | 0x0200_0000;

/// Parses a self-relative security descriptor and returns the well-known
/// groups allowed to read the file, in [`Reader`] order.
///
/// The ACEs are applied in ACL order, as Windows's access check does, so a
/// deny ACE for a group (or for Everyone) that comes before an allow ACE
/// for that group takes read access away. A group is listed only when an
/// allow ACE names that group itself, so an allow for Everyone does not
/// also list Users. A DACL that is absent or NULL allows everyone full
/// access, and returns Everyone and Anonymous.
///
/// Inherit-only ACEs apply to children, not to this file, and are skipped.
/// Object ACEs (used by directory services, not files), callback ACEs (whose
/// conditions only the server can evaluate) and audit or other ACE types
/// are skipped by their size.
///
/// NOTE: callback ACEs are skipped whatever their condition, so a group that
/// a callback allow ACE lets read is missed, and a listed group may in fact
/// be denied by a callback deny ACE.
pub(crate) fn readers(descriptor: &[u8]) -> Result<Vec<Reader>, DescriptorError> {
    let header = slice(descriptor, 0, DESCRIPTOR_HEADER_SIZE, "descriptor header")?;
    if header[0] != 1 {
        return Err(DescriptorError::Revision(header[0]));
    }
    let control = u16::from_le_bytes([header[2], header[3]]);
    if control & SE_SELF_RELATIVE == 0 {
        return Err(DescriptorError::NotSelfRelative(control));
    }
    let offset_at = |start: usize| {
        u32::from_le_bytes([
            header[start],
            header[start + 1],
            header[start + 2],
            header[start + 3],
        ]) as usize
    };
    // Owner and group are not needed, but are checked so that a descriptor
    // cut off inside them is rejected too. The SACL is not checked.
    for (offset, part) in [(offset_at(4), "owner SID"), (offset_at(8), "group SID")] {
        if offset != 0 {
            sid_group(descriptor, offset, part)?;
        }
    }
    let dacl_offset = offset_at(16);
    if control & SE_DACL_PRESENT == 0 || dacl_offset == 0 {
        return Ok(vec![Reader::Everyone, Reader::Anonymous]);
    }
    if dacl_offset < DESCRIPTOR_HEADER_SIZE {
        return Err(DescriptorError::DaclOffset(dacl_offset));
    }

    let (acl, ace_count) = dacl(descriptor, dacl_offset)?;
    let mut decided: [Option<bool>; Reader::ALL.len()] = [None; Reader::ALL.len()];
    let mut position = dacl_offset + ACL_HEADER_SIZE;
    for index in 0..ace_count {
        let Some(ace) = next_ace(acl, index, &mut position)? else {
            continue;
        };
        if ace.flags & INHERIT_ONLY_ACE != 0 || ace.mask & READ_ACCESS == 0 {
            continue;
        }
        let Some(group) = ace.group else { continue };
        for (reader, decision) in Reader::ALL.iter().zip(decided.iter_mut()) {
            if decision.is_none() && reader.is_covered_by(group) {
                *decision = Some(ace.allows && group == *reader);
            }
        }
    }
    Ok(Reader::ALL
        .into_iter()
        .zip(decided)
        .filter(|(_, decision)| *decision == Some(true))
        .map(|(reader, _)| reader)
        .collect())
}

/// Reads the ACL header at `offset`. Returns the descriptor cut off at the
/// ACL's end, so that ACEs cannot reach past it, and the ACE count.
fn dacl(descriptor: &[u8], offset: usize) -> Result<(&[u8], usize), DescriptorError> {
    let header = slice(descriptor, offset, ACL_HEADER_SIZE, "DACL header")?;
    if !matches!(header[0], 2 | 4) {
        return Err(DescriptorError::AclRevision(header[0]));
    }
    let size = usize::from(u16::from_le_bytes([header[2], header[3]]));
    if size < ACL_HEADER_SIZE {
        return Err(DescriptorError::AclSize(size));
    }
    slice(descriptor, offset, size, "DACL")?;
    let ace_count = usize::from(u16::from_le_bytes([header[4], header[5]]));
    Ok((&descriptor[..offset + size], ace_count))
}

/// An allow or deny ACE that takes part in the access check.
struct Ace {
    allows: bool,
    flags: u8,
    mask: u32,
    /// The well-known group the ACE's SID names, if any.
    group: Option<Reader>,
}

/// Parses the ACE at `*position` and moves past it. `acl` is the descriptor
/// cut off at the ACL's end. Returns `None` for ACE types that are skipped.
fn next_ace(
    acl: &[u8],
    index: usize,
    position: &mut usize,
) -> Result<Option<Ace>, DescriptorError> {
    let offset = *position;
    let header = slice(acl, offset, ACE_HEADER_SIZE, "ACE header")?;
    let (ace_type, flags) = (header[0], header[1]);
    let size = usize::from(u16::from_le_bytes([header[2], header[3]]));
    let is_allow_or_deny = matches!(ace_type, ACCESS_ALLOWED_ACE_TYPE | ACCESS_DENIED_ACE_TYPE);
    let minimum = if is_allow_or_deny {
        ALLOW_DENY_ACE_MIN_SIZE
    } else {
        ACE_HEADER_SIZE
    };
    // A size below the header's would also leave `position` in place, and
    // the next ACE would be read from the same bytes.
    if size < minimum {
        return Err(DescriptorError::AceSize {
            index,
            size,
            minimum,
        });
    }
    let ace = slice(acl, offset, size, "ACE")?;
    *position += size;
    if !is_allow_or_deny {
        return Ok(None);
    }

    let mask = u32::from_le_bytes([ace[4], ace[5], ace[6], ace[7]]);
    let group = sid_group(&acl[..offset + size], offset + 8, "ACE SID")?;
    Ok(Some(Ace {
        allows: ace_type == ACCESS_ALLOWED_ACE_TYPE,
        flags,
        mask,
        group,
    }))
}

/// Parses the SID at `offset` and returns the well-known group it names.
/// `data` ends where the structure that contains the SID ends.
fn sid_group(
    data: &[u8],
    offset: usize,
    part: &'static str,
) -> Result<Option<Reader>, DescriptorError> {
    let fixed = slice(data, offset, 8, part)?;
    let (revision, count) = (fixed[0], fixed[1]);
    if revision != 1 {
        return Err(DescriptorError::SidRevision {
            part,
            offset,
            revision,
        });
    }
    if count > MAX_SUB_AUTHORITIES {
        return Err(DescriptorError::SubAuthorityCount {
            part,
            offset,
            count,
        });
    }
    let sid = slice(data, offset, 8 + 4 * usize::from(count), part)?;

    // The identifier authority is a 48-bit big-endian number.
    let authority = sid[2..8]
        .iter()
        .fold(0u64, |value, byte| value << 8 | u64::from(*byte));
    let mut sub_authorities = [0u32; MAX_SUB_AUTHORITIES as usize];
    for (value, bytes) in sub_authorities.iter_mut().zip(sid[8..].chunks_exact(4)) {
        *value = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let group = match (authority, &sub_authorities[..usize::from(count)]) {
        (1, [0]) => Some(Reader::Everyone),
        (5, [7]) => Some(Reader::Anonymous),
        (5, [11]) => Some(Reader::AuthenticatedUsers),
        (5, [32, 545]) => Some(Reader::Users),
        (5, [32, 546]) => Some(Reader::Guests),
        (5, [21, _, _, _, 513]) => Some(Reader::DomainUsers),
        _ => None,
    };
    Ok(group)
}

/// Returns `length` bytes at `offset`, or a truncation error naming `part`.
fn slice<'a>(
    data: &'a [u8],
    offset: usize,
    length: usize,
    part: &'static str,
) -> Result<&'a [u8], DescriptorError> {
    offset
        .checked_add(length)
        .and_then(|end| data.get(offset..end))
        .ok_or(DescriptorError::Truncated {
            part,
            offset,
            needed: length,
            available: data.len().saturating_sub(offset),
        })
}

/// Returns the exposure values for a descriptor's readers.
pub(crate) fn exposure(readers: &[Reader]) -> Vec<String> {
    readers
        .iter()
        .map(|reader| reader.name().to_string())
        .collect()
}
