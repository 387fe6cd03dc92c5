//! Timestamps in RFC 3339, UTC, whole seconds.

use std::time::SystemTime;
use time::OffsetDateTime;
use time::macros::format_description;

/// Formats a time as `2026-03-14T09:26:53Z`.
pub fn rfc3339(at: SystemTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from(at)
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_utc_seconds() {
        let at = UNIX_EPOCH + Duration::from_secs(1_710_408_413);
        assert_eq!(rfc3339(at), "2024-03-14T09:26:53Z");
    }
}
