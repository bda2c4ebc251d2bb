//! `strata list --repo REPO`: the backups in a repository, oldest first.

use std::process::ExitCode;

use clap::Args;

use super::backup::human_bytes;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    /// Print the list as JSON: [{"id", "time", "source", "kind", "tags", "bytes", "new_bytes", "tables", "rows"}]
    /// (`tables` and `rows` are null in a public-key repository opened without its identity).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ListArgs) -> Result<ExitCode> {
    let repo = args.repo.open()?;
    let list = repo.list_backups()?;
    for damaged in &list.damaged {
        eprintln!("strata: warning: {damaged}");
    }
    if args.json {
        let items: Vec<serde_json::Value> = list
            .backups
            .iter()
            .map(|b| {
                let m = &b.manifest;
                serde_json::json!({
                    "id": b.id.to_string(),
                    "time": m.time.to_string(),
                    "source": m.source.database,
                    "engine": m.source.engine,
                    "kind": m.kind,
                    "tags": m.tags,
                    "bytes": m.stats.bytes,
                    "new_bytes": m.stats.new_bytes,
                    // Unknown to a public-key repository's writer (no identity).
                    "tables": (!b.content_withheld).then_some(m.tables.len()),
                    "rows": (!b.content_withheld).then(|| m.tables.iter().map(|t| t.rows).sum::<u64>()),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items).expect("JSON"));
        return Ok(ExitCode::from(super::exit::OK));
    }
    if list.backups.is_empty() {
        println!("no backups in {}", repo.location());
        return Ok(ExitCode::from(super::exit::OK));
    }
    println!(
        "{:<10} {:<20} {:<12} {:>10} {:>10}  {:<}",
        "ID", "TIME", "KIND", "SIZE", "NEW", "SOURCE [TAGS]"
    );
    for b in &list.backups {
        let m = &b.manifest;
        let tags = if m.tags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.tags.join(", "))
        };
        println!(
            "{:<10} {:<20} {:<12} {:>10} {:>10}  {}{tags}",
            b.id.short(),
            m.time.to_string(),
            m.kind.to_string(),
            human_bytes(m.stats.bytes),
            human_bytes(m.stats.new_bytes),
            m.source.database
        );
    }
    Ok(ExitCode::from(super::exit::OK))
}
