//! `strata key add|list|remove|passwd --repo REPO`: the passphrases of an encrypted repository;
//! `strata key generate-identity`: an age key pair for public-key repositories.
//! Each passphrase is a key file wrapping the same master key, so none of these re-encrypts
//! any data.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::password::{kdf_for_new_keys, NewPasswordArgs};
use super::repo_args::RepoArgs;
use crate::error::{Error, Result};
use crate::repo::{Identities, RepoError, Repository};

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the keys (one per passphrase): id, created, host and user; `*` marks the key the
    /// given passphrase opens.
    List(ListArgs),
    /// Add a passphrase (the current one keeps working).
    Add(AddArgs),
    /// Remove a key by id (or unique prefix). The last key and the key of the passphrase in use
    /// are refused.
    Remove(RemoveArgs),
    /// Change the current passphrase: add a key for the new one, remove the current one.
    Passwd(AddArgs),
    /// Create an age X25519 identity for `strata init --recipient`: writes the identity
    /// (secret) to FILE, prints its recipient (public key). Keep FILE off the backup host.
    GenerateIdentity(GenerateIdentityArgs),
}

#[derive(Debug, Args)]
pub struct GenerateIdentityArgs {
    /// Where to write the identity; an existing file is never overwritten.
    #[arg(long, short, value_name = "FILE")]
    pub output: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Print the keys as JSON: [{"id", "current", "created", "hostname", "username", "kdf":
    /// {"algorithm", "memory_kib", "iterations", "parallelism"}, "damaged"}].
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub new_password: NewPasswordArgs,
    /// Print the new key as JSON: {"id": "..."} (passwd adds "removed").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Key id (or a unique prefix of it), as `strata key list` shows it.
    pub id: String,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Print the removed key as JSON: {"removed": "..."}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: KeyArgs) -> Result<ExitCode> {
    match args.command {
        KeyCommand::List(args) => list(args),
        KeyCommand::Add(args) => add(args, false),
        KeyCommand::Remove(args) => remove(args),
        KeyCommand::Passwd(args) => add(args, true),
        KeyCommand::GenerateIdentity(args) => generate_identity(args),
    }
}

fn generate_identity(args: GenerateIdentityArgs) -> Result<ExitCode> {
    use std::io::Write;
    let (secret, public) = Identities::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let path = &args.output;
    options
        .open(path)
        .and_then(|mut file| {
            let created = crate::repo::Timestamp::now();
            write!(
                file,
                "# created: {created}\n# public key: {public}\n{}\n",
                secret.as_str()
            )?;
            file.sync_all()
        })
        .map_err(|e| {
            Error::Refused(format!(
                "cannot write identity file {}: {e}",
                path.display()
            ))
        })?;
    println!("{public}");
    Ok(ExitCode::from(super::exit::OK))
}

fn open(args: &RepoArgs) -> Result<Repository> {
    let repo = args.open()?;
    if repo.key_id().is_none() {
        return Err(RepoError::NotEncrypted {
            location: repo.location(),
        }
        .into());
    }
    Ok(repo)
}

fn list(args: ListArgs) -> Result<ExitCode> {
    let repo = open(&args.repo)?;
    let keys = repo.keys()?;
    if args.json {
        let items: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                let mut item = serde_json::json!({ "id": k.id.to_string(), "current": k.current });
                if let Some(h) = &k.header {
                    item["created"] = h.created.to_string().into();
                    item["hostname"] = h.hostname.clone().into();
                    item["username"] = h.username.clone().into();
                    item["kdf"] = serde_json::json!({
                        "algorithm": h.kdf.algorithm,
                        "memory_kib": h.kdf.memory_kib,
                        "iterations": h.kdf.iterations,
                        "parallelism": h.kdf.parallelism,
                    });
                }
                if let Some(reason) = &k.damaged {
                    item["damaged"] = reason.clone().into();
                }
                item
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items).expect("JSON"));
        return Ok(ExitCode::from(super::exit::OK));
    }
    println!(
        "  {:<10} {:<20} {:<20} {:<12} KDF",
        "ID", "CREATED", "HOST", "USER"
    );
    for k in &keys {
        let mark = if k.current { '*' } else { ' ' };
        match (&k.header, &k.damaged) {
            (Some(h), _) => println!(
                "{mark} {:<10} {:<20} {:<20} {:<12} argon2id {} × {}",
                k.id.short(),
                h.created.to_string(),
                h.hostname,
                h.username,
                kib(h.kdf.memory_kib),
                h.kdf.iterations
            ),
            (None, reason) => println!(
                "{mark} {:<10} damaged: {}",
                k.id.short(),
                reason.as_deref().unwrap_or("unreadable")
            ),
        }
    }
    Ok(ExitCode::from(super::exit::OK))
}

fn add(args: AddArgs, replace_current: bool) -> Result<ExitCode> {
    let mut repo = open(&args.repo)?;
    let location = repo.location();
    let passphrase = args
        .new_password
        .read(&location)
        .map_err(|reason| RepoError::PassphraseNeeded { location, reason })?;
    let kdf = kdf_for_new_keys()?;
    let old = repo.key_id();
    let id = if replace_current {
        repo.change_passphrase(&passphrase, kdf)?
    } else {
        repo.add_key(&passphrase, kdf)?
    };
    if args.json {
        let mut document = serde_json::json!({ "id": id.to_string() });
        if let (true, Some(old)) = (replace_current, old) {
            document["removed"] = old.to_string().into();
        }
        println!("{document}");
    } else if let (true, Some(old)) = (replace_current, old) {
        println!(
            "changed the passphrase: key {} replaces key {}; the old passphrase no longer opens {}",
            id.short(),
            old.short(),
            repo.location()
        );
    } else {
        println!("added key {} to {}", id.short(), repo.location());
    }
    Ok(ExitCode::from(super::exit::OK))
}

fn remove(args: RemoveArgs) -> Result<ExitCode> {
    let repo = open(&args.repo)?;
    let id = repo.remove_key(&args.id)?;
    if args.json {
        println!("{}", serde_json::json!({ "removed": id.to_string() }));
    } else {
        println!("removed key {} from {}", id.short(), repo.location());
    }
    Ok(ExitCode::from(super::exit::OK))
}

/// `64 MiB`, or `8 KiB` for sizes that are not whole mebibytes.
fn kib(memory_kib: u32) -> String {
    if memory_kib.is_multiple_of(1024) {
        format!("{} MiB", memory_kib / 1024)
    } else {
        format!("{memory_kib} KiB")
    }
}
