//! `strata backup DATABASE --repo REPO`: a consistent, deduplicated backup.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;

use crate::backup::{self, BackupOptions, TableDone};
use crate::engine::InspectOptions;
use crate::error::Result;
use crate::repo::BackupKind;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The database: postgres:// URL.
    pub database: String,
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    /// Only the schema.
    #[arg(long, conflicts_with = "data_only")]
    pub schema_only: bool,
    /// Only the rows (the schema is still recorded, for restore to know the columns).
    #[arg(long)]
    pub data_only: bool,
    /// A tag to find the backup by (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Tables read at once, each on its own session in the same snapshot.
    #[arg(long, short = 'j', default_value_t = 2)]
    pub jobs: usize,
    /// Only the rows of tables matching PATTERN (`*`, `?`; repeatable).
    #[arg(long = "table", value_name = "PATTERN")]
    pub tables: Vec<String>,
    /// Leave out tables matching PATTERN entirely (repeatable).
    #[arg(long = "exclude-table", value_name = "PATTERN")]
    pub exclude_tables: Vec<String>,
    /// Only these schemas (repeatable).
    #[arg(long = "schema", value_name = "NAME")]
    pub schemas: Vec<String>,
    /// Also record owners and grants (restore applies them only with --with-owners).
    #[arg(long)]
    pub with_owners: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BackupArgs) -> Result<ExitCode> {
    let target = super::context::database(&args.database)?;
    let repo = args.repo.open()?;
    let kind = if args.schema_only {
        BackupKind::SchemaOnly
    } else if args.data_only {
        BackupKind::DataOnly
    } else {
        BackupKind::Complete
    };
    let options = BackupOptions {
        kind,
        tags: args.tags.clone(),
        jobs: args.jobs,
        tables: args.tables.clone(),
        inspect: InspectOptions {
            schemas: args.schemas.clone(),
            exclude_tables: args.exclude_tables.clone(),
            with_owners: args.with_owners,
            with_privileges: args.with_owners,
        },
    };
    let on_terminal = std::io::stderr().is_terminal() && !args.json;
    let progress = |t: &TableDone| {
        if on_terminal {
            let seconds = t.elapsed.as_secs_f64().max(0.001);
            let rate = t.streamed as f64 / seconds;
            let left = t.estimated.saturating_sub(t.streamed) as f64 / rate.max(1.0);
            let eta = if t.done < t.total {
                format!(", ~{left:.0} s left")
            } else {
                String::new()
            };
            eprintln!(
                "  [{}/{}] {}: {} rows, {} — {} at {}/s{eta}",
                t.done,
                t.total,
                t.table,
                t.rows,
                human_bytes(t.bytes),
                human_bytes(t.streamed),
                human_bytes(rate as u64)
            );
        }
    };
    let backup = backup::backup(&target, &repo, &options, &progress)?;
    let stats = &backup.manifest.stats;
    let rows: u64 = backup.manifest.tables.iter().map(|t| t.rows).sum();
    if args.json {
        let document = serde_json::json!({
            "id": backup.id.to_string(),
            "kind": backup.manifest.kind,
            "tables": backup.manifest.tables.len(),
            "rows": rows,
            "bytes": stats.bytes,
            "new_bytes": stats.new_bytes,
            "stored_bytes": stats.stored_bytes,
            "duration_ms": stats.duration_ms,
        });
        println!("{}", serde_json::to_string_pretty(&document).expect("JSON"));
    } else {
        let dedup = if stats.bytes > 0 {
            100.0 * (1.0 - stats.new_bytes as f64 / stats.bytes as f64)
        } else {
            100.0
        };
        println!(
            "backup {} of {}: {} tables, {} rows, {} read, {} new ({dedup:.1}% deduplicated), {} stored, {:.1} s",
            backup.id.short(),
            target.display(),
            backup.manifest.tables.len(),
            rows,
            human_bytes(stats.bytes),
            human_bytes(stats.new_bytes),
            human_bytes(stats.stored_bytes),
            stats.duration_ms as f64 / 1000.0
        );
    }
    Ok(ExitCode::from(super::exit::OK))
}

/// `12.3 MB` style sizes (decimal units).
pub(crate) fn human_bytes(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}
