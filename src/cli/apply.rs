//! `strata apply [FILE] --to DATABASE`: show the plan, then make the database match the file,
//! atomically.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::pre_apply::{Outcome, Safety};
use crate::apply::{self, Allowed};
use crate::diff::{HazardKind, Plan, PlanOptions};
use crate::engine::{ExecuteOptions, InspectOptions};
use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::target::Target;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The schema file the database should match (default: the project's, from strata.toml).
    pub file: Option<PathBuf>,
    /// The database to change: URL, SQLite file or an environment of strata.toml.
    #[arg(long)]
    pub to: String,
    #[command(flatten)]
    pub options: ApplyOptions,
}

/// How a desired schema is applied (shared by `apply` and `promote`).
#[derive(Debug, Args)]
pub struct ApplyOptions {
    /// Print the plan (and the pre-check counts) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Allow steps with this hazard (data-loss, table-rewrite, long-lock, irreversible,
    /// may-fail, possible-rename); repeatable. Only data-loss is refused by default.
    #[arg(long = "allow-hazard", value_name = "KIND", value_parser = parse_hazard)]
    pub allow_hazards: Vec<HazardKind>,
    /// Allow every hazard.
    #[arg(long)]
    pub allow_all_hazards: bool,
    /// Apply this reviewed plan (from `strata diff --format json`) instead of planning again;
    /// refused if the database changed since it was made.
    #[arg(long, value_name = "PLAN.json")]
    pub plan: Option<PathBuf>,
    /// Use lock-light forms (PostgreSQL: concurrent index builds, NOT VALID + VALIDATE; SQLite
    /// has none, and its plans are the same with or without it).
    #[arg(long)]
    pub online: bool,
    /// Longest wait for a lock, e.g. 5s, 500ms, 1m: per statement on PostgreSQL; on SQLite,
    /// for another connection to finish writing.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Print the outcome as JSON: {"applied": bool, "plan": {...}, "prechecks": [...],
    /// "backup": {"id", "plan_id", "tags", "tables", "record"} or {"skipped": reason},
    /// "conversion": {...} when the file was converted from another engine}.
    #[arg(long)]
    pub json: bool,
    /// Do not take the pre-apply backup. By default, when a repository is configured (--repo,
    /// STRATA_REPO or the project's [repo]), apply first backs up the schema and the rows of
    /// every table a data-losing or rewriting step touches, tagged `pre-apply` and
    /// `plan:PLAN_ID`, and records the apply so `strata rollback` can undo it.
    #[arg(long)]
    pub no_backup: bool,
    /// Where the pre-apply backup goes.
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    /// When the schema file is of another engine (a SQLite snapshot applied to PostgreSQL):
    /// leave out the objects that cannot be translated (named in the report) instead of
    /// refusing.
    #[arg(long)]
    pub allow_lossy: bool,
}

pub(super) fn parse_hazard(s: &str) -> std::result::Result<HazardKind, String> {
    HazardKind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = crate::diff::hazard_kinds()
            .iter()
            .map(|k| k.name())
            .collect();
        format!("unknown hazard '{s}' (one of: {})", names.join(", "))
    })
}

/// `5s`, `500ms`, `2m`, or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 5s, 500ms, 1m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

pub fn run(args: ApplyArgs) -> Result<ExitCode> {
    let file = match &args.file {
        Some(file) => file.clone(),
        None => super::context::schema_file()?,
    };
    let desired = Schema::load(&file)?;
    apply_schema(
        &desired,
        &file.display().to_string(),
        &args.to,
        &args.options,
    )
}

/// Shows the plan that makes database `to` match `desired` (described as `origin` in
/// messages), then applies it as the options say.
pub(crate) fn apply_schema(
    desired: &Schema,
    origin: &str,
    to: &str,
    args: &ApplyOptions,
) -> Result<ExitCode> {
    let target = super::context::database(to)?;
    let reviewed = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            Some(Plan::from_json(&text, &path.display().to_string())?)
        }
        None => None,
    };
    let inspect = InspectOptions::default();
    let plan_options = PlanOptions {
        online: args.online,
    };
    let mut prepared = apply::prepare(desired, &target, reviewed, &plan_options, &inspect)?;
    if let (Some(conversion), false) = (&prepared.conversion, args.json) {
        eprintln!(
            "strata: {origin} is a {} schema; converted it for {} (same as `strata convert`):",
            desired.engine, prepared.current.engine
        );
        super::convert::write_report(&conversion.report, None, false)?;
    }
    let prechecks = if args.dry_run {
        apply::run_prechecks(prepared.engine.as_mut(), &prepared.plan)?
    } else {
        vec![]
    };
    let plan_text = super::plan_text::render(&prepared.plan, &prechecks);
    if !args.json {
        // The plan goes to stderr when applying so stdout stays for results; a dry run's plan
        // is its result.
        if args.dry_run {
            print!("{plan_text}");
        } else {
            eprint!("{plan_text}");
        }
    }
    if prepared.plan.is_empty() {
        print_outcome(args.json, &prepared, &prechecks, false, None);
        return Ok(ExitCode::from(super::exit::OK));
    }
    let safety = Safety::open(args)?;
    if args.dry_run {
        if !args.json {
            eprintln!(
                "strata: {}",
                safety.dry_run_note(&prepared.plan, &prepared.current)
            );
        }
        print_outcome(args.json, &prepared, &prechecks, false, None);
        return Ok(ExitCode::from(super::exit::OK));
    }
    if let Some(conversion) = &prepared.conversion {
        conversion.report.check_lossless(args.allow_lossy)?;
    }
    let allowed = Allowed {
        all: args.allow_all_hazards,
        kinds: args.allow_hazards.iter().copied().collect(),
    };
    apply::check_hazards(&prepared.plan, &allowed)?;
    confirm(args.yes, &target, prepared.plan.steps.len())?;
    let mut outcome = Outcome::before(
        &safety,
        &target,
        &prepared.plan,
        &prepared.current,
        args.json,
    )?;
    let options = ExecuteOptions {
        lock_timeout: args.lock_timeout,
        inspect,
    };
    apply::execute(&mut prepared, desired, &options)?;
    if !args.json {
        eprintln!(
            "strata: applied {} step(s) to {}",
            prepared.plan.steps.len(),
            target.display()
        );
    }
    outcome.after(&safety, &target, to, &prepared.plan, args.json)?;
    print_outcome(args.json, &prepared, &prechecks, true, Some(&outcome));
    Ok(ExitCode::from(super::exit::OK))
}

fn print_outcome(
    json: bool,
    prepared: &apply::Prepared,
    prechecks: &[apply::PrecheckResult],
    applied: bool,
    outcome: Option<&Outcome>,
) {
    if json {
        let mut document = serde_json::json!({
            "applied": applied,
            "plan": prepared.plan,
            "prechecks": prechecks,
            "backup": outcome.map(Outcome::to_json),
        });
        if let Some(conversion) = &prepared.conversion {
            document["conversion"] = serde_json::json!(conversion.report);
        }
        println!("{}", serde_json::to_string_pretty(&document).expect("JSON"));
    }
}

/// Asks on a terminal; without one, `--yes` is required (apply and rollback).
pub(super) fn confirm(yes: bool, target: &Target, steps: usize) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused(
            "not applying without confirmation: standard input is not a terminal — review the \
             plan (--dry-run) and rerun with --yes"
                .into(),
        ));
    }
    eprint!("Apply {steps} step(s) to {}? [y/N] ", target.display());
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::io("<stdin>", e))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Refused("not applied: not confirmed".into()))
    }
}
