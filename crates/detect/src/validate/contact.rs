//! Validators for contact details and network addresses: phone numbers,
//! email, IP addresses and US ZIP codes.

use super::digits_of;
use crate::data::RuleData;
use std::net::{Ipv4Addr, Ipv6Addr};

pub(super) fn nanp_phone(value: &str) -> Option<String> {
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
    let mut canonical = String::with_capacity(2 + digits.len());
    canonical.push_str("+1");
    canonical.push_str(&digits);
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

/// Domains reserved for documentation by RFC 2606 and RFC 6761.
const RESERVED_EMAIL_DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];
const RESERVED_EMAIL_SUFFIXES: [&str; 4] = [".example", ".test", ".invalid", ".localhost"];

pub(super) fn email(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let (local, domain) = lower.rsplit_once('@')?;
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return None;
    }
    let tld = domain.rsplit('.').next()?;
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    if is_machine_identifier(local) {
        return None;
    }
    let reserved = RESERVED_EMAIL_DOMAINS.iter().any(|reserved| {
        domain
            .strip_suffix(reserved)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    }) || RESERVED_EMAIL_SUFFIXES
        .iter()
        .any(|suffix| domain.ends_with(suffix))
        || domain == "localhost";
    (!reserved).then_some(lower)
}

/// Returns true for the part before `@` of a message id or other machine
/// identifier written like an address (`<BY3PR11MB4721...@...outlook.com>`):
/// at least 24 characters with six or more digits and no `.`, `_` or `-`.
/// A person's address of that length separates its words.
fn is_machine_identifier(local: &str) -> bool {
    local.len() >= 24
        && !local.contains(['.', '_', '-'])
        && local.bytes().filter(u8::is_ascii_digit).count() >= 6
}

/// Accepts public IPv4 addresses.
pub(super) fn ipv4(value: &str) -> Option<String> {
    ipv4_in(value, Ipv4Range::Public)
}

/// Accepts private, shared and link-local IPv4 addresses only. The rule that
/// uses it requires an IP label right before the address.
pub(super) fn ipv4_local(value: &str) -> Option<String> {
    ipv4_in(value, Ipv4Range::Local)
}

/// Returns the address when it is a dotted quad in `range`.
fn ipv4_in(value: &str, range: Ipv4Range) -> Option<String> {
    // Leading zeros are rejected: `010.1.1.1` is read as octal by some tools
    // and is more often a version or part number than an address.
    if value
        .split('.')
        .any(|octet| octet.len() > 1 && octet.starts_with('0'))
    {
        return None;
    }
    let address: Ipv4Addr = value.parse().ok()?;
    // A dotted quad that parses, without leading zeros, is already written
    // the way `Ipv4Addr` displays it, so the text is copied, not formatted.
    (ipv4_range(address) == range).then(|| value.to_string())
}

/// Range of an IPv4 address, by what it reveals about a person.
#[derive(Debug, PartialEq, Eq)]
enum Ipv4Range {
    /// Routed on the internet.
    Public,
    /// Private (RFC 1918), shared (RFC 6598) and link-local addresses, which
    /// every home and office network reuses. In a practice's logs they name
    /// its own workstations, so they count only after an IP label.
    Local,
    /// Documentation ranges (RFC 5737), loopback, unspecified and broadcast
    /// addresses, which identify no one.
    Reserved,
}

fn ipv4_range(address: Ipv4Addr) -> Ipv4Range {
    let octets = address.octets();
    let documentation = matches!(
        octets,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]
    );
    let shared = octets[0] == 100 && (64..128).contains(&octets[1]);
    if documentation || address.is_loopback() || address.is_unspecified() || address.is_broadcast()
    {
        Ipv4Range::Reserved
    } else if shared || address.is_private() || address.is_link_local() {
        Ipv4Range::Local
    } else {
        Ipv4Range::Public
    }
}

pub(super) fn ipv6(value: &str) -> Option<String> {
    let address: Ipv6Addr = value.parse().ok()?;
    let segments = address.segments();
    // 2001:db8::/32 is reserved for documentation (RFC 3849).
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    // Unique local (fc00::/7) and link-local (fe80::/10) addresses are not
    // globally unique, like private IPv4 addresses.
    let local = (segments[0] & 0xfe00) == 0xfc00 || (segments[0] & 0xffc0) == 0xfe80;
    let rejected = documentation || local || address.is_loopback() || address.is_unspecified();
    // A bare `::` run with one group (such as `12::34` in a time stamp) is
    // too short to be an address someone wrote on purpose.
    let groups = value.split(':').filter(|group| !group.is_empty()).count();
    (!rejected && groups >= 3).then(|| address.to_string())
}

/// Splits `Springfield, IL 62704-1234` into the state code and the 5-digit ZIP.
fn state_and_zip(value: &str) -> Option<(&str, &str)> {
    let mut words = value.rsplit([' ', ',']).filter(|word| !word.is_empty());
    let zip = words.next()?;
    let state = words.next()?;
    let zip5 = zip.split('-').next()?;
    (zip5.len() == 5 && state.len() == 2).then_some((state, zip5))
}

pub(super) fn city_state_zip(value: &str, data: &RuleData) -> Option<String> {
    let (state, zip) = state_and_zip(value)?;
    let zip_state = data.zip_state(zip)?;
    if !zip_state
        .split(',')
        .any(|known| known.eq_ignore_ascii_case(state))
    {
        return None;
    }
    Some(
        value
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_lowercase(),
    )
}

pub(super) fn zip(value: &str, data: &RuleData) -> Option<String> {
    let digits = digits_of(value);
    if digits.len() != 5 && digits.len() != 9 {
        return None;
    }
    data.zip_state(&digits[..5])?;
    Some(digits)
}

pub(super) fn restricted_zip3(value: &str, data: &RuleData) -> Option<String> {
    let digits = digits_of(value);
    (digits.len() == 3 && data.is_restricted_zip3(&digits)).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn email_rejects_reserved_domains() {
        assert_eq!(
            email("Jane.Doe@Gmail.com").as_deref(),
            Some("jane.doe@gmail.com")
        );
        assert_eq!(email("you@example.com"), None);
        assert_eq!(email("a@mail.example.org"), None);
        assert_eq!(
            email("a@myexample.com").as_deref(),
            Some("a@myexample.com"),
            "only the domain and its subdomains are reserved"
        );
        assert_eq!(email("a@host.test"), None);
        assert_eq!(email("a@b.c1"), None);
    }

    #[test]
    fn email_rejects_message_ids() {
        assert_eq!(
            email("BY3PR11MB4721C0FFEE12345678ABCDEF90@BY3PR11MB4721.namprd11.prod.outlook.com"),
            None
        );
        assert!(email("jonathan.whitfield19840412@gmail.com").is_some());
        assert!(email("theodoraquinlan1944@yahoo.com").is_some());
    }

    #[test]
    fn ipv4_canonical_is_the_displayed_address() {
        for value in ["73.162.44.201", "8.8.8.8", "100.0.0.1", "203.0.113.255"] {
            let address: Ipv4Addr = value.parse().unwrap();
            if let Some(canonical) = ipv4(value) {
                assert_eq!(canonical, address.to_string());
            }
        }
        for value in ["10.0.0.7", "192.168.1.20", "172.19.234.144"] {
            let address: Ipv4Addr = value.parse().unwrap();
            assert_eq!(ipv4_local(value).unwrap(), address.to_string());
        }
        assert_eq!(ipv4("8.8.8.8 "), None, "no spaces around the address");
    }

    #[test]
    fn ipv4_octets_and_reserved_ranges() {
        assert_eq!(ipv4("73.162.44.201").as_deref(), Some("73.162.44.201"));
        assert_eq!(ipv4("172.32.254.1").as_deref(), Some("172.32.254.1"));
        for rejected in [
            "10.20.30.40",
            "172.16.254.1",
            "192.168.1.20",
            "100.64.3.4",
            "169.254.10.1",
            "256.1.1.1",
            "192.0.2.15",
            "127.0.0.1",
            "0.0.0.0",
            "010.1.1.1",
            "255.255.255.255",
        ] {
            assert_eq!(ipv4(rejected), None, "{rejected}");
        }
    }

    #[test]
    fn ipv4_local_takes_only_local_ranges() {
        for local in [
            "10.4.7.21",
            "172.19.234.144",
            "192.168.40.12",
            "100.64.0.9",
            "169.254.3.4",
        ] {
            assert_eq!(ipv4_local(local).as_deref(), Some(local));
        }
        for other in [
            "73.162.44.201",
            "127.0.0.1",
            "192.0.2.15",
            "255.255.255.255",
            "010.1.1.1",
        ] {
            assert_eq!(ipv4_local(other), None, "{other}");
        }
    }

    #[test]
    fn ipv6_forms() {
        assert_eq!(
            ipv6("2600:1f18:0:0:1a2b:3c4d:5e6f:7081").as_deref(),
            Some("2600:1f18::1a2b:3c4d:5e6f:7081")
        );
        assert_eq!(ipv6("fe80::1ff:fe23:4567:890a"), None, "link-local");
        assert_eq!(ipv6("fd12:3456:789a::1"), None, "unique local");
        assert_eq!(ipv6("2001:db8::1"), None, "documentation");
        assert_eq!(ipv6("::1"), None);
        assert_eq!(ipv6("12::34"), None);
    }

    #[test]
    fn city_state_zip_checks_existence_and_state() {
        let data = RuleData::embedded();
        assert_eq!(
            city_state_zip("Springfield, IL 62704", &data).as_deref(),
            Some("springfield il 62704")
        );
        assert!(city_state_zip("Boston, MA 02118-2393", &data).is_some());
        assert_eq!(
            city_state_zip("Boston, TX 02118", &data),
            None,
            "wrong state"
        );
        assert_eq!(
            city_state_zip("Nowhere, NY 00000", &data),
            None,
            "no such ZIP"
        );
    }

    #[test]
    fn zip_existence() {
        let data = RuleData::embedded();
        assert_eq!(zip("62704", &data).as_deref(), Some("62704"));
        assert_eq!(zip("62704-1234", &data).as_deref(), Some("627041234"));
        assert_eq!(zip("00000", &data), None);
        assert_eq!(zip("99999", &data), None);
    }

    #[test]
    fn restricted_zip3_list() {
        let data = RuleData::embedded();
        // The 17 areas of 20,000 or fewer people in the 2000 Census that
        // Safe Harbor requires to be written as 000.
        for restricted in [
            "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831",
            "878", "879", "884", "890", "893",
        ] {
            assert!(restricted_zip3(restricted, &data).is_some(), "{restricted}");
        }
        assert_eq!(restricted_zip3("021", &data), None);
    }
}
