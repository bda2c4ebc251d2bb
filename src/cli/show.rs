//! `strata show ID --repo REPO`: one backup in detail.

use std::process::ExitCode;

use clap::Args;

use super::backup::human_bytes;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Backup id (or a unique prefix of it).
    pub id: String,
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    /// Print the whole manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ShowArgs) -> Result<ExitCode> {
    let repo = args.repo.open()?;
    let backup = repo.load_backup(&args.id)?;
    let m = &backup.manifest;
    if args.json {
        let document = serde_json::json!({ "id": backup.id.to_string(), "manifest": m });
        println!("{}", serde_json::to_string_pretty(&document).expect("JSON"));
        return Ok(ExitCode::from(super::exit::OK));
    }
    println!("backup   {}", backup.id);
    println!("time     {}", m.time);
    println!(
        "source   {} ({} {}) on {}",
        m.source.database, m.source.engine, m.source.server_version, m.source.host
    );
    println!("kind     {}", m.kind);
    if !m.tags.is_empty() {
        println!("tags     {}", m.tags.join(", "));
    }
    println!(
        "size     {} ({} new, {} stored)",
        human_bytes(m.stats.bytes),
        human_bytes(m.stats.new_bytes),
        human_bytes(m.stats.stored_bytes)
    );
    println!("tables   {}", m.tables.len());
    for t in &m.tables {
        println!(
            "  {:<40} {:>12} rows {:>10}",
            t.name,
            t.rows,
            human_bytes(t.bytes)
        );
    }
    let sequences = m.all_sequences().count();
    if sequences > 0 {
        println!("sequences {sequences}");
    }
    Ok(ExitCode::from(super::exit::OK))
}
