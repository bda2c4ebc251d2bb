//! `strata verify [ID] --repo REPO [--read-data]`: prove backups restorable without a
//! database. Exit 1 when anything is wrong.

use std::process::ExitCode;

use clap::Args;

use crate::error::Result;
use crate::repo::CheckOptions;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this backup (id or unique prefix); default: every backup.
    pub id: Option<String>,
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    #[command(flatten)]
    pub lock: super::repo_args::ReadLockArgs,
    /// Also read, decompress and hash every chunk, and check each table's content hash.
    #[arg(long)]
    pub read_data: bool,
    /// Print the report as JSON: {"ok", "backups_checked", "packs_checked", "blobs_checked", "bytes_read", "problems": [...]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let repo = args.repo.open()?;
    let _lock = args.lock.lock(&repo, "verify")?;
    let backups = match &args.id {
        Some(prefix) => Some(vec![repo.resolve_backup(prefix)?]),
        None => None,
    };
    let report = repo.check(&CheckOptions {
        read_data: args.read_data,
        backups,
    })?;
    super::check::print_report(&report, args.read_data, args.json, false);
    Ok(super::check::exit_code(&report))
}
