//! `strata drift FILE DATABASE`: does the database still match its schema file? Exit 1 with a
//! summary when it does not (for CI), 0 when it does.

use std::process::ExitCode;

use clap::Args;

use super::source::read_schema;
use crate::diff::summary::Summary;
use crate::diff::{self, PlanOptions};
use crate::engine::{self, InspectOptions};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The schema file the database should match.
    pub file: String,
    /// The database: URL or SQLite file.
    pub database: String,
    /// Print the result as JSON: {"drift": bool, "summary": {...}, "steps": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Only these schemas of the database (repeatable).
    #[arg(long = "schema", value_name = "NAME")]
    pub schemas: Vec<String>,
}

pub fn run(args: DriftArgs) -> Result<ExitCode> {
    let inspect = InspectOptions {
        schemas: args.schemas.clone(),
        ..Default::default()
    };
    let (expected, _) = read_schema(&args.file, &inspect)?;
    let (actual, actual_source) = read_schema(&args.database, &inspect)?;
    let expected = super::convert::compared_with(expected, &actual, &actual_source)?;
    let plan = diff::plan(
        &actual,
        &expected,
        engine::dialect(actual.engine)?,
        &PlanOptions::default(),
    )?;
    let summary = Summary::of(&plan);
    if args.json {
        let document = serde_json::json!({
            "drift": !plan.is_empty(),
            "summary": summary,
            "steps": plan.steps,
        });
        println!("{}", serde_json::to_string_pretty(&document).expect("JSON"));
    } else if plan.is_empty() {
        println!(
            "no drift: {} matches {}",
            args.database_display(),
            args.file
        );
    } else {
        println!(
            "drift: {} differs from {}: {summary}",
            args.database_display(),
            args.file
        );
        for step in &plan.steps {
            println!("  {}", step.reason);
        }
    }
    Ok(ExitCode::from(if plan.is_empty() {
        super::exit::OK
    } else {
        super::exit::DIFFERENCES
    }))
}

impl DriftArgs {
    fn database_display(&self) -> String {
        crate::target::redact_url(&self.database)
    }
}
