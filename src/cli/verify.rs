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
    #[arg(long)]
    pub repo: String,
    #[command(flatten)]
    pub password: super::password::PasswordArgs,
    /// Also read, decompress and hash every chunk, and check each table's content hash.
    #[arg(long)]
    pub read_data: bool,
    /// Print the report as JSON: {"ok", "backups_checked", "packs_checked", "blobs_checked", "bytes_read", "problems": [...]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let repo = super::password::open_repository(&args.repo, &args.password)?;
    let backups = match &args.id {
        Some(prefix) => Some(vec![repo.resolve_backup(prefix)?]),
        None => None,
    };
    let report = repo.check(&CheckOptions {
        read_data: args.read_data,
        backups,
    })?;
    if args.json {
        let document = serde_json::json!({
            "ok": report.is_ok(),
            "backups_checked": report.backups_checked,
            "packs_checked": report.packs_checked,
            "blobs_checked": report.blobs_checked,
            "bytes_read": report.bytes_read,
            "problems": report.problems,
        });
        println!("{}", serde_json::to_string_pretty(&document).expect("JSON"));
    } else if report.is_ok() {
        println!(
            "ok: {} backup(s), {} pack(s), {} chunk(s) checked{}",
            report.backups_checked,
            report.packs_checked,
            report.blobs_checked,
            if args.read_data {
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
    Ok(ExitCode::from(if report.is_ok() {
        super::exit::OK
    } else {
        super::exit::DIFFERENCES
    }))
}
