//! `phiscan rules`: list, check, explain and export detection rules.

use crate::console::print_stdout;
use crate::exit;
use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use phiscan_detect::check::check_examples;
use phiscan_detect::rule::Anchor;
use phiscan_detect::{RuleSet, RuleSources};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// List rules: id, category, confidence without and with context, description.
    List {
        /// Add the rules of DIR (repeatable).
        #[arg(long, value_name = "DIR")]
        rules: Vec<PathBuf>,
    },
    /// Check that every example of every rule matches and no negative example
    /// does. Checks the default rules, or only the rules in DIR.
    Check {
        /// A folder of rule files to check instead of the defaults.
        dir: Option<PathBuf>,
    },
    /// Show everything about one rule.
    Explain {
        /// Rule id, such as us.ssn.
        id: String,
        /// Add the rules of DIR (repeatable).
        #[arg(long, value_name = "DIR")]
        rules: Vec<PathBuf>,
    },
    /// Print the candidate patterns, one per line, for side-by-side benchmarks
    /// (`rg -U -f FILE`: -U because some patterns span a line break).
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Ripgrep)]
        format: ExportFormat,
        /// Add the rules of DIR (repeatable).
        #[arg(long, value_name = "DIR")]
        rules: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    /// One pattern per line, for `rg -f FILE`; ASCII mode like phiscan's matcher.
    Ripgrep,
}

pub fn run(command: RulesCommand) -> Result<u8> {
    match command {
        RulesCommand::List { rules } => list(&load(rules)?),
        RulesCommand::Check { dir } => check(dir),
        RulesCommand::Explain { id, rules } => explain(&load(rules)?, &id),
        RulesCommand::Export {
            format: ExportFormat::Ripgrep,
            rules,
        } => export_ripgrep(&load(rules)?),
    }
}

fn load(dirs: Vec<PathBuf>) -> Result<RuleSet> {
    RuleSet::load(&RuleSources {
        no_defaults: false,
        dirs,
    })
    .context("invalid rules")
}

fn list(rules: &RuleSet) -> Result<u8> {
    let width = rules
        .rules()
        .map(|rule| rule.spec.id.len())
        .max()
        .unwrap_or(2);
    let mut out = format!(
        "{:width$}  {:15}  {:>10}  DESCRIPTION\n",
        "ID", "CATEGORY", "CONFIDENCE"
    );
    for rule in rules.rules() {
        let confidence = format!("{}/{}", rule.spec.confidence, rule.context_confidence());
        writeln!(
            out,
            "{:width$}  {:15}  {:>10}  {}",
            rule.spec.id,
            rule.category.as_str(),
            confidence,
            rule.spec.description
        )?;
    }
    print_stdout(&out)?;
    Ok(exit::CLEAN)
}

/// Runs the examples of the default rules, with a directory's rules and
/// allowed values added to them as a scan with `--rules DIR` would load them.
fn check(dir: Option<PathBuf>) -> Result<u8> {
    let rules = RuleSet::load(&RuleSources {
        no_defaults: false,
        dirs: dir.into_iter().collect(),
    })
    .context("invalid rules")?;
    let failures = check_examples(&rules);
    let examples: usize = rules
        .rules()
        .map(|rule| rule.spec.examples.len() + rule.spec.negative_examples.len())
        .sum();
    for failure in &failures {
        eprintln!("{failure}");
    }
    let allowed = match rules.allowed_values() {
        0 => String::new(),
        1 => "; 1 allowed value".to_string(),
        count => format!("; {count} allowed values"),
    };
    if failures.is_empty() {
        println!(
            "{} rules, {examples} examples: all passed{allowed}",
            rules.len()
        );
        Ok(exit::CLEAN)
    } else {
        println!(
            "{} rules, {examples} examples: {} failed{allowed}",
            rules.len(),
            failures.len()
        );
        Ok(exit::FINDINGS)
    }
}

fn explain(rules: &RuleSet, id: &str) -> Result<u8> {
    let Some((_, rule)) = rules.find(id) else {
        bail!(
            "no rule with id {id:?}; `phiscan rules list` shows the ids, and a rule of your own needs --rules DIR"
        );
    };
    let spec = &rule.spec;
    let (source_label, source) = match &spec.dictionary {
        Some(dictionary) => (
            "dictionary",
            format!("{dictionary} (terms matched as whole words)"),
        ),
        None => ("pattern", spec.pattern.clone()),
    };
    let anchor = match spec.anchor {
        Anchor::Pattern => "pattern (tried everywhere)",
        Anchor::Keyword => "keyword (tried after a keyword or under a header)",
        Anchor::KeywordStart => "keyword-start (tried where a keyword starts)",
    };
    let fields = [
        ("id", spec.id.clone()),
        ("name", spec.name.clone()),
        ("file", rule.file.clone()),
        ("category", rule.category.as_str().to_string()),
        ("role", rule.role.as_str().to_string()),
        ("description", spec.description.clone()),
        (source_label, source),
        ("anchor", anchor.to_string()),
        (
            "validator",
            spec.validator.as_deref().unwrap_or("none").to_string(),
        ),
        (
            "confidence",
            format!(
                "{} without context, {} with context",
                spec.confidence,
                rule.context_confidence()
            ),
        ),
        (
            "requires context",
            if spec.requires_context { "yes" } else { "no" }.to_string(),
        ),
        ("keywords", join_or_none(&spec.keywords)),
        ("anchor keywords", join_or_none(&spec.anchor_keywords)),
        ("exclude keywords", join_or_none(&spec.exclude_keywords)),
        (
            "keyword window",
            format!(
                "{} characters before, {} after",
                spec.window.before, spec.window.after
            ),
        ),
        ("headers", join_or_none(&spec.headers)),
        ("excluded values", join_or_none(&spec.exclude)),
        ("examples", join_or_none(&spec.examples)),
        ("negative examples", join_or_none(&spec.negative_examples)),
    ];
    let mut out = String::new();
    for (label, value) in fields {
        writeln!(out, "{:20}{value}", format!("{label}:"))?;
    }
    print_stdout(&out)?;
    Ok(exit::CLEAN)
}

fn join_or_none(values: &[String]) -> String {
    if values.is_empty() {
        "none".into()
    } else {
        values
            .iter()
            .map(|value| format!("{value:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn export_ripgrep(rules: &RuleSet) -> Result<u8> {
    let mut out = String::new();
    for rule in rules.rules() {
        writeln!(out, "{}", rules.ripgrep_pattern(rule))?;
    }
    print_stdout(&out)?;
    Ok(exit::CLEAN)
}
