//! `strata drift [FILE] DATABASE`: does the database still match its schema file? Exit 1 with
//! a summary when it does not (for CI), 0 when it does. Without FILE, the project's schema file
//! (`schema = …` in strata.toml) is used.

use std::process::ExitCode;

use clap::Args;

use super::source::read_schema;
use crate::diff::summary::Summary;
use crate::diff::{self, PlanOptions};
use crate::engine::{self, InspectOptions};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The schema file the database should match, then the database (URL, SQLite file or an
    /// environment of strata.toml). With only the database, the project's schema file is used.
    #[arg(value_name = "[FILE] DATABASE", num_args = 1..=2, required = true)]
    pub operands: Vec<String>,
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
    let (file, database) = args.file_and_database()?;
    let (expected, _) = read_schema(&file, &inspect)?;
    let (actual, actual_source) = read_schema(&database, &inspect)?;
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
            crate::target::redact_url(&database),
            file
        );
    } else {
        println!(
            "drift: {} differs from {}: {summary}",
            crate::target::redact_url(&database),
            file
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
    fn file_and_database(&self) -> Result<(String, String)> {
        match self.operands.as_slice() {
            [file, database] => Ok((file.clone(), database.clone())),
            [database] => {
                let file = super::context::schema_file()?;
                Ok((file.display().to_string(), database.clone()))
            }
            _ => unreachable!("clap allows one or two operands"),
        }
    }
}
