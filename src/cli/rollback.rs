//! `strata rollback [PLAN_ID] --to DATABASE`: undo a recorded apply — schema back to what it
//! was, and the rows its data-losing or rewriting steps took back from the pre-apply backup.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::apply::{confirm, parse_duration, parse_hazard};
use crate::apply::{self, Allowed};
use crate::diff::HazardKind;
use crate::engine::{ExecuteOptions, InspectOptions};
use crate::error::Result;
use crate::rollback::{self, Prepared};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The plan id (or a prefix of it, or of the record id) of the apply to undo; default:
    /// the latest apply recorded for the database.
    pub plan_id: Option<String>,
    /// The database to roll back: URL, SQLite file or an environment of strata.toml.
    #[arg(long)]
    pub to: String,
    /// The repository holding the apply's record and pre-apply backup.
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    #[command(flatten)]
    pub lock: super::repo_args::ReadLockArgs,
    /// Print the rollback plan (and what changed since the apply) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Roll back even though the database changed since the apply (rows written to a table
    /// whose rows come back from the backup, schema changed): those changes are lost.
    #[arg(long)]
    pub force: bool,
    /// Allow rollback steps with this hazard (as in apply); repeatable.
    #[arg(long = "allow-hazard", value_name = "KIND", value_parser = parse_hazard)]
    pub allow_hazards: Vec<HazardKind>,
    /// Allow every hazard.
    #[arg(long)]
    pub allow_all_hazards: bool,
    /// Longest wait for a lock (as in apply).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Print the outcome as JSON: {"rolled_back": bool, "record": id, "plan_id", "backup",
    /// "applied_at", "target", "restored_tables": [...], "changes": [...], "plan": {...}}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RollbackArgs) -> Result<ExitCode> {
    let target = super::context::database(&args.to)?;
    let repo = args.repo.open()?;
    let _lock = args.lock.lock(&repo, "rollback")?;
    let prepared = rollback::prepare(&repo, &target, args.plan_id.as_deref())?;
    if !args.json {
        let printed = describe(&prepared) + &super::plan_text::render(&prepared.plan, &[]);
        if args.dry_run {
            print!("{printed}");
        } else {
            eprint!("{printed}");
        }
    }
    if args.dry_run {
        print_outcome(args.json, &prepared, false);
        return Ok(ExitCode::from(super::exit::OK));
    }
    rollback::check_unchanged(&prepared, args.force)?;
    let allowed = Allowed {
        all: args.allow_all_hazards,
        kinds: args.allow_hazards.iter().copied().collect(),
    };
    apply::check_hazards(&prepared.plan, &allowed)?;
    confirm(args.yes, &target, prepared.plan.steps.len())?;
    let options = ExecuteOptions {
        lock_timeout: args.lock_timeout,
        inspect: InspectOptions::default(),
    };
    let summary = outcome_json(&prepared, true);
    let steps = prepared.plan.steps.len();
    let plan_id = prepared.record.plan_id.clone();
    rollback::execute(&repo, &target, prepared, &options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("JSON"));
    } else {
        eprintln!(
            "strata: rolled back plan {plan_id} on {} ({steps} step(s))",
            target.display()
        );
    }
    Ok(ExitCode::from(super::exit::OK))
}

/// The header above the plan: which apply, which backup, what changed since.
fn describe(prepared: &Prepared) -> String {
    let record = &prepared.record;
    let mut out = format!(
        "-- Rollback of plan {} (applied {} to {}; record {})\n-- Pre-apply backup: {}\n",
        record.plan_id,
        record.time,
        record.target,
        prepared.record_id.short(),
        prepared.backup.id.short()
    );
    if !prepared.restored.is_empty() {
        out.push_str(&format!(
            "-- Rows restored from it: {}\n",
            prepared.restored.join(", ")
        ));
    }
    for change in &prepared.changes {
        out.push_str(&format!("-- Changed since the apply: {change}\n"));
    }
    out
}

fn outcome_json(prepared: &Prepared, rolled_back: bool) -> serde_json::Value {
    serde_json::json!({
        "rolled_back": rolled_back,
        "record": prepared.record_id.to_string(),
        "plan_id": prepared.record.plan_id,
        "backup": prepared.backup.id.to_string(),
        "applied_at": prepared.record.time.to_string(),
        "target": prepared.record.target,
        "restored_tables": prepared.restored,
        "changes": prepared.changes,
        "plan": prepared.plan,
    })
}

fn print_outcome(json: bool, prepared: &Prepared, rolled_back: bool) {
    if json {
        let document = outcome_json(prepared, rolled_back);
        println!("{}", serde_json::to_string_pretty(&document).expect("JSON"));
    }
}
