//! `phiscan rules`: list, check, explain and export detection rules.

use crate::exit;
use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use phiscan_detect::check::check_examples;
use phiscan_detect::rule::Anchor;
use phiscan_detect::ruleset::ripgrep_pattern;
use phiscan_detect::{RuleSet, RuleSources};
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
    println!(
        "{:width$}  {:15}  {:>10}  DESCRIPTION",
        "ID", "CATEGORY", "CONFIDENCE"
    );
    for rule in rules.rules() {
        let confidence = format!("{}/{}", rule.spec.confidence, rule.context_confidence());
        println!(
            "{:width$}  {:15}  {:>10}  {}",
            rule.spec.id, rule.category, confidence, rule.spec.description
        );
    }
    Ok(exit::CLEAN)
}

fn check(dir: Option<PathBuf>) -> Result<u8> {
    let rules = match &dir {
        Some(dir) => RuleSet::from_dir(dir),
        None => RuleSet::embedded(),
    }
    .context("invalid rules")?;
    let failures = check_examples(&rules);
    let examples: usize = rules
        .rules()
        .map(|rule| rule.spec.examples.len() + rule.spec.negative_examples.len())
        .sum();
    for failure in &failures {
        eprintln!("{failure}");
    }
    if failures.is_empty() {
        println!("{} rules, {examples} examples: all passed", rules.len());
        Ok(exit::CLEAN)
    } else {
        println!(
            "{} rules, {examples} examples: {} failed",
            rules.len(),
            failures.len()
        );
        Ok(exit::FINDINGS)
    }
}

fn explain(rules: &RuleSet, id: &str) -> Result<u8> {
    let Some((_, rule)) = rules.find(id) else {
        bail!("no rule with id {id:?}; `phiscan rules list` shows the ids");
    };
    let spec = &rule.spec;
    println!("id:                 {}", spec.id);
    println!("name:               {}", spec.name);
    println!("file:               {}", rule.file);
    println!("category:           {}", rule.category);
    println!("role:               {}", rule.role.as_str());
    println!("description:        {}", spec.description);

    match &spec.dictionary {
        Some(dictionary) => {
            println!("dictionary:         {dictionary} (terms matched as whole words)")
        }
        None => println!("pattern:            {}", spec.pattern),
    }
    println!(
        "anchor:             {}",
        match spec.anchor {
            Anchor::Pattern => "pattern (tried everywhere)",
            Anchor::Keyword => "keyword (tried after a keyword or under a header)",
            Anchor::KeywordStart => "keyword-start (tried where a keyword starts)",
        }
    );

    println!(
        "validator:          {}",
        spec.validator.as_deref().unwrap_or("none")
    );
    println!(
        "confidence:         {} without context, {} with context",
        spec.confidence,
        rule.context_confidence()
    );
    println!(
        "requires context:   {}",
        if spec.requires_context { "yes" } else { "no" }
    );

    println!("keywords:           {}", join_or_none(&spec.keywords));
    println!(
        "anchor keywords:    {}",
        join_or_none(&spec.anchor_keywords)
    );
    println!(
        "exclude keywords:   {}",
        join_or_none(&spec.exclude_keywords)
    );
    println!(
        "keyword window:     {} characters before, {} after",
        spec.window.before, spec.window.after
    );
    println!("headers:            {}", join_or_none(&spec.headers));
    println!("excluded values:    {}", join_or_none(&spec.exclude));

    println!("examples:           {}", join_or_none(&spec.examples));
    println!(
        "negative examples:  {}",
        join_or_none(&spec.negative_examples)
    );
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
    for rule in rules.rules() {
        println!("{}", ripgrep_pattern(rule));
    }
    Ok(exit::CLEAN)
}
