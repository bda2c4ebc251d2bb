//! `strata check --repo REPO [--read-data]`: find damage anywhere in a repository, whether a
//! backup needs the damaged object or not. Exit 1 when anything is damaged. Also the report
//! printer shared with `verify`.

use std::process::ExitCode;

use clap::Args;

use crate::error::Result;
use crate::repo::CheckReport;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    #[command(flatten)]
    pub lock: super::repo_args::ReadLockArgs,
    /// Also read every pack whole and hash every blob, and read back every backup's tables.
    #[arg(long)]
    pub read_data: bool,
    /// Print the report as JSON: {"ok", "backups_checked", "packs_checked", "blobs_checked", "bytes_read", "unindexed_packs": [...], "problems": [...]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let repo = args.repo.open()?;
    let _lock = args.lock.lock(&repo, "check")?;
    let report = repo.check_repository(args.read_data)?;
    print_report(&report, args.read_data, args.json, true);
    if !args.json && !report.unindexed_packs.is_empty() {
        println!(
            "note: {} pack(s) are in no index file (left by an interrupted backup; harmless, \
             the next backup or `strata repair index` indexes them)",
            report.unindexed_packs.len()
        );
    }
    Ok(exit_code(&report))
}

/// Prints a check report; `whole_repository` adds the fields only `check` fills.
pub(super) fn print_report(
    report: &CheckReport,
    read_data: bool,
    json: bool,
    whole_repository: bool,
) {
    if json {
        let mut document = serde_json::json!({
            "ok": report.is_ok(),
            "backups_checked": report.backups_checked,
            "packs_checked": report.packs_checked,
            "blobs_checked": report.blobs_checked,
            "bytes_read": report.bytes_read,
            "problems": report.problems,
        });
        if whole_repository {
            document["unindexed_packs"] = serde_json::json!(report.unindexed_packs);
        }
        println!("{}", serde_json::to_string_pretty(&document).expect("JSON"));
    } else if report.is_ok() {
        println!(
            "ok: {} backup(s), {} pack(s), {} chunk(s) checked{}",
            report.backups_checked,
            report.packs_checked,
            report.blobs_checked,
            if read_data {
                ", all data read and hashed"
            } else {
                ""
            }
        );
    } else {
        println!("damaged: {} problem(s)", report.problems.len());
        for problem in &report.problems {
            println!("  {problem}");
        }
    }
}

/// 0 when intact, 1 when damage was found.
pub(super) fn exit_code(report: &CheckReport) -> ExitCode {
    ExitCode::from(if report.is_ok() {
        super::exit::OK
    } else {
        super::exit::DIFFERENCES
    })
}
