//! `strata restore ID --repo REPO --to DATABASE`: a backup into a database, verified first.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;

use crate::error::Result;
use crate::restore::{self, RestoreOptions, TableRestored};

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Backup id (or a unique prefix of it).
    pub id: String,
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    /// The database to restore into (must be empty unless --clean).
    #[arg(long)]
    pub to: String,
    /// Only the schema.
    #[arg(long, conflicts_with = "data_only")]
    pub schema_only: bool,
    /// Only the rows, into tables that already exist.
    #[arg(long)]
    pub data_only: bool,
    /// Only the rows of tables matching PATTERN (repeatable).
    #[arg(long = "table", value_name = "PATTERN")]
    pub tables: Vec<String>,
    /// Tables loaded at once.
    #[arg(long, short = 'j', default_value_t = 2)]
    pub jobs: usize,
    /// Drop everything in the target first.
    #[arg(long)]
    pub clean: bool,
    /// With --data-only: do not read the whole backup before writing (a damaged chunk then fails
    /// the restore half-way). Other restores check each chunk as they load it.
    #[arg(long)]
    pub no_verify: bool,
    /// Restore owners and grants recorded in the backup (taken with --with-owners); skipped by
    /// default, since another server rarely has the same roles.
    #[arg(long)]
    pub with_owners: bool,
    /// Rename a role while restoring owners, grants and policies: OLD=NEW (repeatable).
    #[arg(long = "role-map", value_name = "OLD=NEW", value_parser = parse_role_map)]
    pub role_map: Vec<(String, String)>,
    #[command(flatten)]
    pub sanitize: super::sanitize::SanitizeArgs,
    /// Print the per-table report as JSON (with the conversion's report under "conversion"
    /// when the backup is of another engine).
    #[arg(long)]
    pub json: bool,
    /// Restoring a SQLite backup into PostgreSQL: leave out the objects the conversion cannot
    /// translate (named in the report) instead of refusing.
    #[arg(long)]
    pub allow_lossy: bool,
}

fn parse_role_map(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((old, new)) if !old.is_empty() && !new.is_empty() => {
            Ok((old.to_string(), new.to_string()))
        }
        _ => Err(format!("'{s}' is not OLD=NEW")),
    }
}

pub fn run(args: RestoreArgs) -> Result<ExitCode> {
    let repo = args.repo.open()?;
    let backup = repo.load_backup(&args.id)?;
    let target = super::context::database(&args.to)?;
    let mut options = RestoreOptions {
        schema_only: args.schema_only,
        data_only: args.data_only,
        tables: args.tables.clone(),
        jobs: args.jobs,
        clean: args.clean,
        no_verify: args.no_verify,
        with_owners: args.with_owners,
        role_map: args.role_map.clone(),
        allow_lossy: args.allow_lossy,
        rows: None,
    };
    // The rules are checked against the schema the target gets (converted, across engines).
    let sanitizer = match &args.sanitize.sanitize {
        Some(_) => {
            let schema = restore::target_schema(&backup, &target, &options)?;
            args.sanitize.sanitizer(&schema, args.data_only)?
        }
        None => None,
    };
    options.rows = super::sanitize::as_transform(&sanitizer);
    let on_terminal = std::io::stderr().is_terminal() && !args.json;
    let progress = |t: &TableRestored| {
        if on_terminal {
            eprintln!("  {}: {} rows", t.table, t.rows);
        }
    };
    let report = restore::restore(&repo, &backup, &target, &options, &progress)?;
    if let (Some(conversion), false) = (&report.conversion, args.json) {
        eprintln!(
            "strata: the backup is of a {} database; its schema was converted for {}:",
            conversion.from, conversion.to
        );
        super::convert::write_report(conversion, None, false)?;
    }
    let sanitized = super::sanitize::summary(sanitizer.as_deref(), &target)?;
    if args.json {
        println!("{}", super::sanitize::json_with(&report, &sanitized));
    } else {
        let what = format!(
            "restored backup {} into {}",
            backup.id.short(),
            target.display()
        );
        print_loaded(&what, &report.tables, report.sequences);
        super::sanitize::print_summary(&sanitized);
    }
    Ok(ExitCode::from(super::exit::OK))
}

/// The one-line summary of a load and its rows per table (restore and copy).
pub(super) fn print_loaded(what: &str, tables: &[TableRestored], sequences: usize) {
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    println!(
        "{what}: {} tables, {rows} rows, {sequences} sequences",
        tables.len()
    );
    for t in tables {
        println!("  {:<40} {:>12} rows", t.table, t.rows);
    }
}
