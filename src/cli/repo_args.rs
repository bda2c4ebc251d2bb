//! The `--repo` argument every repository command shares: given on the command line, else
//! `STRATA_REPO`, else the `[repo]` of the project file, whose password source then applies
//! unless one is given explicitly.

use clap::Args;

use super::password::{open_repository, PasswordArgs};
use crate::error::{Error, Result};
use crate::repo::{Lock, LockKind, RepoError, Repository};

/// Which repository, and how to unlock it.
#[derive(Debug, Clone, Default, Args)]
pub struct RepoArgs {
    /// The repository: a directory, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or
    /// az://CONTAINER/PREFIX. Default: $STRATA_REPO, else the `[repo]` location of strata.toml.
    #[arg(long, value_name = "REPO", env = "STRATA_REPO")]
    pub repo: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
}

impl RepoArgs {
    /// Where the repository is, and the passphrase sources to use for it.
    pub fn resolve(&self) -> Result<(String, PasswordArgs)> {
        if let Some(found) = self.configured()? {
            return Ok(found);
        }
        Err(Error::Refused(match super::context::project()? {
            Some(project) => format!(
                "no repository given: pass --repo REPO, set STRATA_REPO, or add a [repo] \
                 section to {}",
                project.path.display()
            ),
            None => "no repository given: pass --repo REPO or set STRATA_REPO (or create \
                     a strata.toml with a [repo] section: `strata init-project`)"
                .into(),
        }))
    }

    /// Like [`RepoArgs::resolve`], but `None` when no repository is configured anywhere
    /// (for commands that work without one, like `apply`).
    pub fn configured(&self) -> Result<Option<(String, PasswordArgs)>> {
        if let Some(location) = &self.repo {
            return Ok(Some((location.clone(), self.password.clone())));
        }
        let Some(settings) = super::context::project()?.and_then(|p| p.repo.as_ref()) else {
            return Ok(None);
        };
        let explicit =
            self.password.password_file.is_some() || self.password.password_command.is_some();
        let password = if explicit {
            self.password.clone()
        } else {
            PasswordArgs {
                password_file: settings.password_file.clone(),
                password_command: settings.password_command.clone(),
                identity: self.password.identity.clone(),
            }
        };
        Ok(Some((settings.location.clone(), password)))
    }

    /// Opens the repository, unlocking it if it is encrypted.
    pub fn open(&self) -> Result<Repository> {
        let (location, password) = self.resolve()?;
        open_repository(&location, &password)
    }
}

/// `--no-lock` of the commands that only read a repository (restore, rollback, verify,
/// check).
#[derive(Debug, Clone, Default, Args)]
pub struct ReadLockArgs {
    /// Do not take the shared lock that keeps a prune from deleting what this command reads
    /// (for a repository this machine cannot write to; a prune running meanwhile can then
    /// make the command fail, never return wrong data).
    #[arg(long)]
    pub no_lock: bool,
}

impl ReadLockArgs {
    /// A shared lock on `repo` held while `purpose` reads it (a prune then waits for it to be
    /// released, rather than deleting packs being read), unless `--no-lock`.
    pub fn lock(&self, repo: &Repository, purpose: &str) -> Result<Option<Lock>> {
        if self.no_lock {
            return Ok(None);
        }
        match repo.lock(LockKind::Shared, purpose) {
            Ok(lock) => Ok(Some(lock)),
            Err(e @ RepoError::Locked { .. }) => Err(e.into()),
            Err(e) => Err(Error::Refused(format!(
                "could not take a shared lock in the repository ({e}): if it is read-only to \
                 this machine, run again with --no-lock"
            ))),
        }
    }
}
