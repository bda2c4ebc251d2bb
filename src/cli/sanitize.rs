//! `strata sanitize check RULES --against DATABASE|SCHEMA_FILE`, and the `--sanitize` options
//! that `restore` and `copy` share.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::copy::Source;
use crate::error::{Error, Result};
use crate::restore::RowTransform;
use crate::sanitize::check::{self, CheckReport};
use crate::sanitize::{Rules, SanitizeSummary, Sanitizer};
use crate::schema::Schema;
use crate::target::Target;

#[derive(Debug, Args)]
pub struct SanitizeCommand {
    #[command(subcommand)]
    pub command: SanitizeSubcommand,
}

#[derive(Debug, Subcommand)]
pub enum SanitizeSubcommand {
    /// Check masking rules against a database or a schema file: exit 1 when a table or column
    /// they name does not exist, a rule does not fit its column, or a column without a rule
    /// looks personal (by its name, or by sampled values of a live database).
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The rules: a sanitize.toml, or a strata.toml with a [sanitize] section.
    pub rules: PathBuf,
    /// A database (URL, SQLite file or environment name; the values of columns without a rule
    /// are sampled) or a schema file (.yaml, .yml, .json; names only).
    #[arg(long, value_name = "DATABASE|SCHEMA_FILE")]
    pub against: String,
    /// Also fail on every column without a rule (`keep` counts as a rule).
    #[arg(long)]
    pub strict: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--sanitize RULES [--sanitize-key-file FILE]`, shared by `restore` and `copy`.
#[derive(Debug, Args)]
pub struct SanitizeArgs {
    /// Mask the rows with the rules in RULES (a sanitize.toml, or a strata.toml with a
    /// [sanitize] section) as they are loaded: no unmasked row reaches the target. Needs a
    /// secret key: STRATA_SANITIZE_KEY or --sanitize-key-file.
    #[arg(long, value_name = "RULES")]
    pub sanitize: Option<PathBuf>,
    /// Read the masking key from FILE instead of STRATA_SANITIZE_KEY (same key, same output).
    #[arg(long, value_name = "FILE", requires = "sanitize")]
    pub sanitize_key_file: Option<PathBuf>,
}

impl SanitizeArgs {
    /// The sanitizer for rows of `schema`, when asked for; checked before anything is
    /// written.
    pub fn sanitizer(&self, schema: &Schema, data_only: bool) -> Result<Option<Arc<Sanitizer>>> {
        let Some(rules) = &self.sanitize else {
            return Ok(None);
        };
        let sanitizer = Sanitizer::prepare(rules, self.sanitize_key_file.as_deref(), schema)?;
        if data_only && sanitizer.has_filters() {
            return Err(Error::Refused(
                "row filters (`where`) run before keys and indexes are built, which --data-only \
                 skips — restore the schema too, or remove the filters"
                    .into(),
            ));
        }
        Ok(Some(Arc::new(sanitizer)))
    }
}

/// The row transform of a sanitizer.
pub fn as_transform(sanitizer: &Option<Arc<Sanitizer>>) -> Option<Arc<dyn RowTransform>> {
    sanitizer.clone().map(|s| s as Arc<dyn RowTransform>)
}

/// What a sanitizer did in `target`, once the load is over.
pub fn summary(sanitizer: Option<&Sanitizer>, target: &Target) -> Result<Option<SanitizeSummary>> {
    sanitizer.map(|s| s.summary(target)).transpose()
}

/// A command's JSON report with the sanitize summary added as `sanitize`.
pub fn json_with(report: &impl serde::Serialize, summary: &Option<SanitizeSummary>) -> String {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let (Some(summary), Some(object)) = (summary, value.as_object_mut()) {
        object.insert(
            "sanitize".into(),
            serde_json::to_value(summary).unwrap_or_default(),
        );
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// Prints the sanitize summary after a text report.
pub fn print_summary(summary: &Option<SanitizeSummary>) {
    let Some(summary) = summary else { return };
    println!(
        "sanitized with {}: {} masked column(s)",
        summary.rules, summary.masked_columns
    );
    for table in &summary.filtered {
        println!(
            "  {:<40} {:>12} rows kept by the row filter",
            table.table, table.kept
        );
    }
}

pub fn run(command: SanitizeCommand) -> Result<ExitCode> {
    match command.command {
        SanitizeSubcommand::Check(args) => run_check(args),
    }
}

fn run_check(args: CheckArgs) -> Result<ExitCode> {
    let rules = Rules::load(&args.rules)?;
    let path = Path::new(&args.against);
    let is_schema_file = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    );
    let report = if is_schema_file {
        let schema = Schema::load(path)?;
        check::check(&rules, &schema, None, args.strict)?
    } else {
        let source = Source::open(&super::context::database(&args.against)?)?;
        check::check(&rules, source.schema(), Some(source.export()), args.strict)?
    };
    if args.json {
        let mut value = serde_json::to_value(&report).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "against".into(),
                crate::target::redact_url(&args.against).into(),
            );
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print_check(&report, &args.against);
    }
    let code = if report.findings.is_empty() {
        super::exit::OK
    } else {
        super::exit::DIFFERENCES
    };
    Ok(ExitCode::from(code))
}

fn print_check(report: &CheckReport, against: &str) {
    println!(
        "{} against {}: {} table(s), {} column(s), {} with a rule{}",
        report.rules,
        crate::target::redact_url(against),
        report.tables,
        report.columns,
        report.ruled,
        if report.sampled {
            "; values sampled"
        } else {
            ""
        }
    );
    for finding in &report.findings {
        let kind = serde_json::to_value(finding.kind).unwrap_or_default();
        println!("  [{}] {finding}", kind.as_str().unwrap_or_default());
    }
    if report.findings.is_empty() {
        println!("ok: every column that looks personal has a rule");
    } else {
        println!("{} finding(s)", report.findings.len());
    }
}
