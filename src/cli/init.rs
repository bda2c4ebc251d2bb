//! `strata init REPO`: create an empty backup repository, encrypted unless told otherwise.

use std::process::ExitCode;

use clap::Args;

use super::password::{kdf_for_new_keys, PasswordArgs};
use crate::error::Result;
use crate::repo::{Config, RepoError, Repository};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where the repository lives: a local directory (created if missing; must be empty),
    /// s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX (the bucket or container
    /// must exist; credentials and endpoint from the AWS_*, GOOGLE_* or AZURE_* variables, see
    /// the README). Default: $STRATA_REPO, else the `[repo]` location of strata.toml.
    #[arg(env = "STRATA_REPO")]
    pub repo: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Store everything unencrypted (still checksummed): anyone who can read the repository
    /// can read the data. Encryption is on by default.
    #[arg(long)]
    pub insecure_no_encryption: bool,
    /// Print the result as JSON: {"repository": "...", "id": "...", "encrypted": true|false,
    /// "key": "..." (encrypted only)}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let (location, password) = super::repo_args::RepoArgs {
        repo: args.repo,
        password: args.password,
    }
    .resolve()?;
    let store = crate::store::from_location(&location)?;
    let repo = if args.insecure_no_encryption {
        Repository::init(store)?
    } else {
        let location = store.location();
        let passphrase =
            password
                .read_new(&location)
                .map_err(|reason| RepoError::PassphraseNeeded {
                    location: location.clone(),
                    reason,
                })?;
        Repository::init_encrypted(store, Config::new(), &passphrase, kdf_for_new_keys()?)?
    };
    let encrypted = repo.config().is_encrypted();
    if args.json {
        let mut document = serde_json::json!({
            "repository": repo.location(),
            "id": repo.config().id.to_string(),
            "encrypted": encrypted,
        });
        if let Some(key) = repo.key_id() {
            document["key"] = key.to_string().into();
        }
        println!("{document}");
    } else if encrypted {
        println!(
            "created encrypted repository {}; keep its passphrase safe: without it the backups cannot be read",
            repo.location()
        );
    } else {
        println!("created unencrypted repository {}", repo.location());
    }
    Ok(ExitCode::from(super::exit::OK))
}
