//! `strata promote FROM TO`: make environment TO's schema match environment FROM's (staging →
//! prod), with `apply`'s guarantees: the plan first, hazards refused unless allowed, atomic,
//! verified before commit.

use std::process::ExitCode;

use clap::Args;

use super::apply::{apply_schema, ApplyOptions};
use super::source::read_schema;
use crate::engine::InspectOptions;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment (or database, or schema file) whose schema is promoted.
    pub from: String,
    /// The environment (or database) to change.
    pub to: String,
    #[command(flatten)]
    pub options: ApplyOptions,
}

pub fn run(args: PromoteArgs) -> Result<ExitCode> {
    let (desired, _) = read_schema(&args.from, &InspectOptions::default())?;
    apply_schema(&desired, &args.from, &args.to, &args.options)
}
