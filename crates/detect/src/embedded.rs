//! The default rule files and data, embedded at build time from `rules/`.

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// Returns the contents of an embedded data file by name.
pub fn data_file(name: &str) -> Option<&'static str> {
    DATA_FILES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, contents)| *contents)
}
