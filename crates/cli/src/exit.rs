//! Exit statuses, for schedulers and scripts.

/// The scan completed and found no identifier.
pub const CLEAN: u8 = 0;
/// The scan completed and found identifiers (items classed phi, phi-likely or pii).
pub const FINDINGS: u8 = 1;
/// A fatal error: bad arguments, an unreadable root, a store that cannot be
/// written, or an interrupted scan.
pub const FAILED: u8 = 2;
/// With `--fail-on-incomplete`: at least one item was not fully examined.
pub const INCOMPLETE: u8 = 3;
