//! `strata restore ID --repo REPO --to DATABASE`: a backup into a database, verified first.
//!
//! With `--clean` a non-empty target is first backed up into the same repository (the safety
//! backup, tagged `pre-restore` and `restore-of:ID`), so a wrong restore can itself be undone;
//! if that backup fails, nothing is restored. A SQLite target is restored into a fresh file
//! beside it and then copied over it in one step.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;

use serde::Serialize;

use crate::backup::BackupOptions;
use crate::engine::{self, InspectOptions};
use crate::error::{Error, Result};
use crate::repo::{Backup, BackupKind, Repository};
use crate::restore::{self, RestoreOptions, RestoreReport, TableRestored};
use crate::schema::Schema;
use crate::target::Target;

/// The tag every safety backup carries.
pub const SAFETY_TAG: &str = "pre-restore";

/// The backup of the target taken before a `--clean` restore replaced it.
#[derive(Debug, Clone, Serialize)]
struct SafetyBackup {
    id: String,
    tags: Vec<String>,
}

/// The `--json` document: the restore's report and the safety backup (`null` when none).
#[derive(Serialize)]
struct Outcome<'a> {
    #[serde(flatten)]
    report: &'a RestoreReport,
    safety_backup: Option<SafetyBackup>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Backup id (or a unique prefix of it).
    pub id: String,
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    #[command(flatten)]
    pub lock: super::repo_args::ReadLockArgs,
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
    /// Drop everything in the target first. A non-empty target is backed up into the same
    /// repository beforehand (tagged `pre-restore`), so the restore can itself be undone.
    #[arg(long)]
    pub clean: bool,
    /// With --clean: do not take the safety backup of the target first (what it holds is then
    /// lost for good).
    #[arg(long, requires = "clean")]
    pub no_safety_backup: bool,
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
    let _lock = args.lock.lock(&repo, "restore")?;
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
    let cleans = args.clean && !args.data_only;
    let safety = match cleans && !args.no_safety_backup {
        true => safety_backup(&repo, &target, &backup, args.jobs)?,
        false => None,
    };
    if let Some(safety) = &safety {
        // The target as the user named it (an environment, a file), but never a password.
        let to = match &target {
            Target::Postgres(url) if *url == args.to => target.display(),
            _ => args.to.clone(),
        };
        eprintln!(
            "strata: safety backup {} of {} taken (tags: {}); undo this restore with \
             `strata restore {} --clean --to {}`",
            &safety.id[..8],
            target.display(),
            safety.tags.join(", "),
            &safety.id[..8],
            to
        );
    }
    let report = match (&target, cleans) {
        (Target::Sqlite(path), true) if path.exists() => {
            restore_replacing(&repo, &backup, path, &options, &progress)?
        }
        _ => restore::restore(&repo, &backup, &target, &options, &progress)?,
    };
    if let (Some(conversion), false) = (&report.conversion, args.json) {
        eprintln!(
            "strata: the backup is of a {} database; its schema was converted for {}:",
            conversion.from, conversion.to
        );
        super::convert::write_report(conversion, None, false)?;
    }
    let sanitized = super::sanitize::summary(sanitizer.as_deref(), &target)?;
    if args.json {
        let outcome = Outcome {
            report: &report,
            safety_backup: safety,
        };
        println!("{}", super::sanitize::json_with(&outcome, &sanitized));
    } else {
        let what = format!(
            "restored backup {} into {}",
            backup.id.short(),
            target.display()
        );
        print_loaded(&what, &report.tables, report.sequences);
        super::sanitize::print_summary(&sanitized);
        if let Some(safety) = &safety {
            println!(
                "safety backup {} holds what {} had before (tags: {})",
                &safety.id[..8],
                target.display(),
                safety.tags.join(", ")
            );
        }
    }
    Ok(ExitCode::from(super::exit::OK))
}

/// Backs up `target` into `repo` before a `--clean` restore of `restoring` replaces it; `None`
/// when the target holds nothing (or does not exist yet). A failure stops the restore before
/// it writes anything.
fn safety_backup(
    repo: &Repository,
    target: &Target,
    restoring: &Backup,
    jobs: usize,
) -> Result<Option<SafetyBackup>> {
    if let Target::Sqlite(path) = target {
        if !path.exists() {
            return Ok(None);
        }
    }
    let current = engine::open(target)?.inspect(&InspectOptions::default())?;
    if !holds_objects(&current) {
        return Ok(None);
    }
    let options = BackupOptions {
        kind: BackupKind::Complete,
        tags: vec![
            SAFETY_TAG.to_string(),
            format!("restore-of:{}", restoring.id.short()),
        ],
        jobs,
        tables: Vec::new(),
        inspect: InspectOptions::default(),
    };
    let taken = crate::backup::backup(target, repo, &options, &|_| {}).map_err(|e| {
        Error::Refused(format!(
            "the safety backup of {} failed, so nothing was restored: {e} — fix that, or pass \
             --no-safety-backup to restore without one (what the target holds is then lost)",
            target.display()
        ))
    })?;
    Ok(Some(SafetyBackup {
        id: taken.id.to_string(),
        tags: options.tags,
    }))
}

/// Whether a database holds anything a `--clean` restore would drop: more than an empty
/// `public` schema.
fn holds_objects(schema: &Schema) -> bool {
    *schema != crate::restore::emptied(schema)
}

/// A `--clean` restore into an existing SQLite file: the backup goes into a fresh file beside
/// it, which then replaces the target's contents in one step — a failed restore leaves the
/// target as it was.
fn restore_replacing(
    repo: &Repository,
    backup: &Backup,
    path: &std::path::Path,
    options: &RestoreOptions,
    progress: &(dyn Fn(&TableRestored) + Sync),
) -> Result<RestoreReport> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    let staging = tempfile::Builder::new()
        .prefix(".strata-restore-")
        .tempdir_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let fresh = staging.path().join("restored.db");
    let report = restore::restore(
        repo,
        backup,
        &Target::Sqlite(fresh.clone()),
        options,
        progress,
    )?;
    engine::sqlite::replace_contents(path, &fresh)?;
    Ok(report)
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
