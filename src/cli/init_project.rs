//! `strata init-project`: writes a commented starter `strata.toml` in the working directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::project::{self, Project};

#[derive(Debug, Args)]
pub struct InitProjectArgs {
    /// Where to write the file (default: ./strata.toml).
    #[arg(long, short = 'o', default_value = project::FILE_NAME)]
    pub output: PathBuf,
    /// The schema file the project keeps.
    #[arg(long, default_value = "schema.yaml")]
    pub schema: String,
    /// The backup repository: a directory, s3://bucket/prefix, gs://bucket/prefix or
    /// az://container/prefix.
    #[arg(long, default_value = "backups")]
    pub repo: String,
    /// The local environment's database.
    #[arg(long, default_value = "sqlite:dev.db")]
    pub local: String,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// Print {"path": …} as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InitProjectArgs) -> Result<ExitCode> {
    if args.output.exists() && !args.force {
        return Err(Error::Refused(format!(
            "{} already exists — edit it, or pass --force to replace it",
            args.output.display()
        )));
    }
    let text = project::starter_file(&args.schema, &args.repo, &args.local);
    // What we write must be what we read back (a URL with a password is refused here too).
    Project::parse(&text, &args.output)?;
    super::write_atomically(&args.output, &text)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "path": args.output.display().to_string() })
        );
    } else {
        println!(
            "wrote {} — edit the environments, then try `strata status`",
            args.output.display()
        );
    }
    Ok(ExitCode::from(super::exit::OK))
}
