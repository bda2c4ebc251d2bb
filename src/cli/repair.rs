//! `strata repair index --repo REPO`: rebuild the index from the packs' trailers, when index
//! files are damaged or lost but the packs survive. Exit 1 when packs had to be left out.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::error::Result;

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(subcommand)]
    pub what: RepairCommand,
}

#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// Rebuild the index from the packs' trailers (takes the exclusive lock).
    Index(RepairIndexArgs),
}

#[derive(Debug, Args)]
pub struct RepairIndexArgs {
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    /// Print the result as JSON: {"packs_indexed", "blobs_indexed", "index_files_written", "index_files_deleted", "damaged_packs": [{"pack", "reason"}]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RepairArgs) -> Result<ExitCode> {
    let RepairCommand::Index(args) = args.what;
    let repo = args.repo.open()?;
    let report = repo.repair_index()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    } else {
        println!(
            "indexed {} pack(s) ({} blob(s)) in {} index file(s); removed {} old index file(s)",
            report.packs_indexed,
            report.blobs_indexed,
            report.index_files_written,
            report.index_files_deleted
        );
        for damaged in &report.damaged_packs {
            println!(
                "  left out damaged pack {}: {} (the backups that need it stay damaged; `strata check` names them)",
                damaged.pack, damaged.reason
            );
        }
    }
    Ok(ExitCode::from(if report.damaged_packs.is_empty() {
        super::exit::OK
    } else {
        super::exit::DIFFERENCES
    }))
}
