//! `strata init REPO`: create an empty backup repository, encrypted unless told otherwise;
//! with `--recipient`, a public-key repository whose backups only an age identity can read.

use std::process::ExitCode;

use clap::Args;

use super::password::{kdf_for_new_keys, PasswordArgs};
use crate::error::{Error, Result};
use crate::repo::{Config, Recipients, RepoError, Repository};

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
    #[arg(long, conflicts_with_all = ["recipient", "recipients_file"])]
    pub insecure_no_encryption: bool,
    /// Public-key mode: encrypt the backups' content to this age X25519 recipient (age1…;
    /// repeatable). The passphrase then lets a host write, list and prune backups but not read
    /// them: restore, show and --read-data need the identity (--identity FILE).
    #[arg(long, value_name = "AGE_PUBKEY")]
    pub recipient: Vec<String>,
    /// Public-key mode with the recipients listed in FILE (one age1… per line, `#` comments).
    #[arg(long, value_name = "FILE")]
    pub recipients_file: Option<std::path::PathBuf>,
    /// Print the result as JSON: {"repository": "...", "id": "...", "encrypted": true|false,
    /// "key": "..." (encrypted only), "recipients": [...] (public-key mode only)}.
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
        match recipients(&args.recipient, args.recipients_file.as_deref())? {
            Some(recipients) => Repository::init_public_key(
                store,
                Config::new(),
                &passphrase,
                kdf_for_new_keys()?,
                &recipients,
            )?,
            None => {
                Repository::init_encrypted(store, Config::new(), &passphrase, kdf_for_new_keys()?)?
            }
        }
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
        if repo.config().is_public_key() {
            document["recipients"] = repo.config().recipients.clone().into();
        }
        println!("{document}");
    } else if repo.config().is_public_key() {
        println!(
            "created public-key repository {}: its passphrase writes backups, reading them needs \
             the identity of {}",
            repo.location(),
            repo.config().recipients.join(", ")
        );
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

/// The recipients of `--recipient` and `--recipients-file`, or `None` when neither is given.
fn recipients(keys: &[String], file: Option<&std::path::Path>) -> Result<Option<Recipients>> {
    let mut all = keys.to_vec();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Refused(format!(
                "cannot read recipients file {}: {e}",
                path.display()
            ))
        })?;
        let listed = Recipients::lines(&text);
        if listed.is_empty() {
            return Err(Error::Refused(format!(
                "recipients file {} lists no recipient",
                path.display()
            )));
        }
        all.extend(listed);
    }
    if all.is_empty() {
        return Ok(None);
    }
    Recipients::parse(&all).map(Some).map_err(Error::Refused)
}
