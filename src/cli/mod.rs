//! Command-line interface: argument parsing (clap derive) and one file per subcommand. The
//! subcommands format results; the work itself happens in the library.

mod apply;
mod backup;
mod check;
mod context;
mod convert;
mod copy;
mod diff;
mod drift;
mod init;
mod init_project;
mod key;
mod list;
mod password;
mod plan_text;
mod pre_apply;
mod promote;
mod prune;
mod repair;
mod repo_args;
mod restore;
mod rollback;
mod sanitize;
mod show;
mod snapshot;
mod source;
mod status;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Result;

/// Strata keeps a relational database's schema as code and its data safe.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, long_about = None)]
pub struct Cli {
    /// The project file (default: the first strata.toml found walking up from the working
    /// directory).
    #[arg(long, global = true, env = "STRATA_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a database's schema as a canonical, deterministic schema file.
    Snapshot(snapshot::SnapshotArgs),
    /// Print the ordered plan (SQL, reasons, hazards) that turns FROM into TO. Exit 1 when
    /// there are differences.
    Diff(diff::DiffArgs),
    /// Make a database match a schema file: show the plan, then apply it atomically.
    Apply(apply::ApplyArgs),
    /// Check that a database still matches its schema file (exit 1 when it drifted).
    Drift(drift::DriftArgs),
    /// Make one environment's schema match another's (staging → prod), as `apply` does.
    Promote(promote::PromoteArgs),
    /// Undo a recorded apply: its schema changes, and the rows its data-losing or rewriting
    /// steps took, from the pre-apply backup (refused if the database changed since).
    Rollback(rollback::RollbackArgs),
    /// Convert a schema to another engine (SQLite ⇄ PostgreSQL), reporting every mapping
    /// that is a choice, a guess or a loss.
    Convert(convert::ConvertArgs),
    /// Create an empty backup repository (encrypted with a passphrase unless
    /// --insecure-no-encryption).
    Init(init::InitArgs),
    /// Write a commented starter project file (strata.toml): schema file, repository and
    /// named environments.
    InitProject(init_project::InitProjectArgs),
    /// Manage the passphrases of an encrypted repository: add, list, remove, passwd.
    Key(key::KeyArgs),
    /// Back up a database (one consistent snapshot) into a repository.
    Backup(backup::BackupArgs),
    /// List the backups in a repository.
    List(list::ListArgs),
    /// Show one backup: source, size, tables.
    Show(show::ShowArgs),
    /// Restore a backup into a database (schema, then rows, then keys and indexes).
    Restore(restore::RestoreArgs),
    /// Check that backups are complete and intact (exit 1 when not).
    Verify(verify::VerifyArgs),
    /// Every environment of the project: reachable, schema hash, drift against the schema
    /// file, last backup (exit 1 when one is unreachable or drifted).
    Status(status::StatusArgs),
    /// Copy a live database into another (one consistent snapshot, three-phase load),
    /// optionally masking personal data on the way (--sanitize).
    Copy(copy::CopyArgs),
    /// Masking rules for sanitized copies: `sanitize check` finds columns they leave exposed.
    Sanitize(sanitize::SanitizeCommand),
    /// Remove the backups a retention policy does not keep, and the data only they used.
    Prune(prune::PruneArgs),
    /// Find damage anywhere in a repository: packs, index files, backups (exit 1 when found).
    Check(check::CheckArgs),
    /// Repair a damaged repository (today: rebuild the index from the packs).
    Repair(repair::RepairArgs),
}

/// Exit codes shared by every subcommand.
pub mod exit {
    /// Success; for diff-like commands, no differences.
    pub const OK: u8 = 0;
    /// Differences or damage found (diff, drift, verify, check, repair, sanitize check).
    pub const DIFFERENCES: u8 = 1;
    /// Any error.
    pub const ERROR: u8 = 2;
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    context::set_config(cli.config);
    let outcome = match cli.command {
        Command::Snapshot(args) => snapshot::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Drift(args) => drift::run(args),
        Command::Promote(args) => promote::run(args),
        Command::Rollback(args) => rollback::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Init(args) => init::run(args),
        Command::InitProject(args) => init_project::run(args),
        Command::Key(args) => key::run(args),
        Command::Backup(args) => backup::run(args),
        Command::List(args) => list::run(args),
        Command::Show(args) => show::run(args),
        Command::Restore(args) => restore::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Status(args) => status::run(args),
        Command::Copy(args) => copy::run(args),
        Command::Sanitize(args) => sanitize::run(args),
        Command::Prune(args) => prune::run(args),
        Command::Check(args) => check::run(args),
        Command::Repair(args) => repair::run(args),
    };
    outcome.map_err(context::name_environment)
}

/// Writes `text` to `path` atomically (temporary file in the same directory, then rename), so
/// an interrupted run never leaves a half-written file behind.
pub(crate) fn write_atomically(path: &std::path::Path, text: &str) -> Result<()> {
    use crate::error::Error;
    use std::io::Write;
    // A device or pipe (`-o /dev/null`, `-o /dev/stdout`) is written to, never replaced.
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            return std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| Error::io(path, e));
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "schema".into());
    let tmp = dir.join(format!(".{file_name}.strata-tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
