//! Embeds the default rule files and their data from the workspace `rules/`
//! folder, so the binary carries its rules and users need no install step.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let rules_dir = manifest.join("../../rules");
    let rules_dir = rules_dir.canonicalize().unwrap_or(rules_dir);
    println!("cargo:rerun-if-changed={}", rules_dir.display());

    let mut out = String::new();
    out.push_str("/// Default rule files: (file name, contents).\n");
    out.push_str("pub static RULE_FILES: &[(&str, &str)] = &[\n");
    for path in sorted_files(&rules_dir, "toml") {
        let name = path.file_name().unwrap().to_str().unwrap();
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n\n");

    let data_dir = rules_dir.join("data");
    println!("cargo:rerun-if-changed={}", data_dir.display());
    out.push_str("/// Default rule data files: (file name, contents).\n");
    out.push_str("pub static DATA_FILES: &[(&str, &str)] = &[\n");
    for path in sorted_files(&data_dir, "txt") {
        let name = path.file_name().unwrap().to_str().unwrap();
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");

    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("embedded_rules.rs");
    fs::write(dest, out).unwrap();
}

fn sorted_files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    files
}
