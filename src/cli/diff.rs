//! `strata diff FROM TO`: the ordered plan that turns FROM into TO.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::convert::compared_with;
use super::source::{read_schema, Source};
use crate::apply::run_prechecks;
use crate::diff::{self, PlanOptions};
use crate::engine::{self, InspectOptions};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// SQL with each step's reason and hazards as comments.
    Text,
    /// The plan document (docs/PLAN.md).
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// What there is now: a schema file, `-` for standard input, or a database URL / SQLite file.
    pub from: String,
    /// What there should be: a schema file, `-`, or a database.
    pub to: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Same as --format json.
    #[arg(long)]
    pub json: bool,
    /// Plan lock-light forms: indexes built CONCURRENTLY (outside the transaction), foreign
    /// keys and checks added NOT VALID then validated (PostgreSQL; SQLite has none).
    #[arg(long)]
    pub online: bool,
    /// FROM is the database the plan is for: run each risky step's pre-check query against it
    /// and report how many rows would make the step fail.
    #[arg(long)]
    pub to_database: bool,
    /// Only these schemas of a live database (repeatable).
    #[arg(long = "schema", value_name = "NAME")]
    pub schemas: Vec<String>,
}

pub fn run(args: DiffArgs) -> Result<ExitCode> {
    let inspect = InspectOptions {
        schemas: args.schemas.clone(),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let (from, from_source) = read_schema(&args.from, &inspect)?;
    let (to, to_source) = read_schema(&args.to, &inspect)?;
    let from = compared_with(from, &to, &to_source)?;
    let to = compared_with(to, &from, &from_source)?;
    let read = started.elapsed();
    let dialect = engine::dialect(from.engine)?;
    let plan = diff::plan(
        &from,
        &to,
        dialect,
        &PlanOptions {
            online: args.online,
        },
    )?;
    if std::env::var_os("STRATA_TIMINGS").is_some() {
        eprintln!(
            "strata: timings: read both schemas {:.1} ms, planned {:.1} ms",
            read.as_secs_f64() * 1e3,
            (started.elapsed() - read).as_secs_f64() * 1e3
        );
    }
    let prechecks = match (&from_source, args.to_database) {
        (Source::Database(target), true) => {
            let mut engine = engine::open(target)?;
            run_prechecks(engine.as_mut(), &plan)?
        }
        (_, true) => {
            return Err(crate::Error::Unsupported(
                "--to-database needs FROM to be a live database".into(),
            ))
        }
        _ => vec![],
    };
    if args.json || args.format == PlanFormat::Json {
        print!("{}", plan.to_json());
    } else {
        print!("{}", super::plan_text::render(&plan, &prechecks));
    }
    Ok(ExitCode::from(if plan.is_empty() {
        super::exit::OK
    } else {
        super::exit::DIFFERENCES
    }))
}
