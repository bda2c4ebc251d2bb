//! `strata copy FROM TO`: a live database into another (one consistent snapshot of FROM,
//! loaded into TO in three phases), optionally sanitized on the way.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;

use crate::copy::{self, Source};
use crate::error::Result;
use crate::restore::{RestoreOptions, TableRestored};

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The database to copy (URL, SQLite file or environment name; read in one consistent
    /// snapshot, never written).
    pub from: String,
    /// The database to copy into (must be empty unless --clean; sqlite:PATH creates a file).
    pub to: String,
    #[command(flatten)]
    pub sanitize: super::sanitize::SanitizeArgs,
    /// Tables copied at once (each with a session on both sides).
    #[arg(long, short = 'j', default_value_t = 2)]
    pub jobs: usize,
    /// Only the rows of tables matching PATTERN (repeatable; the whole schema is created).
    #[arg(long = "table", value_name = "PATTERN")]
    pub tables: Vec<String>,
    /// Drop everything in the target first.
    #[arg(long)]
    pub clean: bool,
    /// Print the per-table report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: CopyArgs) -> Result<ExitCode> {
    let from = super::context::database(&args.from)?;
    let to = super::context::database(&args.to)?;
    let source = Source::open(&from)?;
    let sanitizer = args.sanitize.sanitizer(source.schema(), false)?;
    let options = RestoreOptions {
        tables: args.tables.clone(),
        jobs: args.jobs,
        clean: args.clean,
        rows: super::sanitize::as_transform(&sanitizer),
        ..RestoreOptions::default()
    };
    let on_terminal = std::io::stderr().is_terminal() && !args.json;
    let progress = |t: &TableRestored| {
        if on_terminal {
            eprintln!("  {}: {} rows", t.table, t.rows);
        }
    };
    let report = copy::copy(&source, &to, &options, &progress)?;
    let sanitized = super::sanitize::summary(sanitizer.as_deref(), &to)?;
    if args.json {
        println!("{}", super::sanitize::json_with(&report, &sanitized));
    } else {
        let what = format!("copied {} into {}", report.from, report.to);
        super::restore::print_loaded(&what, &report.tables, report.sequences);
        super::sanitize::print_summary(&sanitized);
    }
    Ok(ExitCode::from(super::exit::OK))
}
