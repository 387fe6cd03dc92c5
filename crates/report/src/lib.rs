//! Outputs: JSON Lines records and the console summary.
//!
//! [`JsonLines`] writes one record per line, as `docs/output.md` documents.
//! [`summary_text`] renders a summary record for the terminal.

pub mod console;
pub mod jsonl;

pub use console::summary_text;
pub use jsonl::JsonLines;
