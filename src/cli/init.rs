//! `strata init REPO`: create an empty backup repository.

use std::process::ExitCode;

use clap::Args;

use crate::error::Result;
use crate::repo::Repository;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where the repository lives: a local directory (created if missing; must be empty) or
    /// s3://BUCKET/PREFIX (the bucket must exist; credentials, region and endpoint from the
    /// AWS_* variables, see the README).
    pub repo: String,
    /// Print the result as JSON: {"repository": "...", "id": "..."}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let store = crate::store::from_location(&args.repo)?;
    let repo = Repository::init(store)?;
    if args.json {
        let document = serde_json::json!({
            "repository": repo.location(),
            "id": repo.config().id.to_string(),
        });
        println!("{document}");
    } else {
        println!("created repository {}", repo.location());
    }
    Ok(ExitCode::from(super::exit::OK))
}
