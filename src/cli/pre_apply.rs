//! The pre-apply backup as `apply` and `promote` show it: where it goes (or why none is
//! taken), the message before the plan runs, the record after, and their JSON fields.

use serde_json::{json, Value};

use super::apply::ApplyOptions;
use crate::diff::Plan;
use crate::error::{Error, Result};
use crate::pre_apply::{self, PreApply};
use crate::repo::{RepoError, Repository};
use crate::schema::Schema;
use crate::target::Target;

/// Whether this apply takes a pre-apply backup.
pub(super) enum Safety {
    /// Into this repository.
    Backup(Box<Repository>),
    /// No backup, for this reason (shown once).
    Skipped(String),
}

impl Safety {
    /// Opens the configured repository (before confirmation, so a wrong passphrase stops the
    /// apply before anything happens), unless `--no-backup` or none is configured.
    pub(super) fn open(args: &ApplyOptions) -> Result<Safety> {
        if args.no_backup {
            return Ok(Safety::Skipped(
                "no pre-apply backup taken (--no-backup)".into(),
            ));
        }
        let explicit = args.repo.repo.is_some();
        match args.repo.configured()? {
            Some((location, password)) => {
                match super::password::open_repository(&location, &password) {
                    Ok(repo) => Ok(Safety::Backup(Box::new(repo))),
                    // The starter project file names a repository before it is created: until
                    // `strata init`, apply works as without one, and says so.
                    Err(Error::Repo(RepoError::NotARepository { location })) if !explicit => {
                        Ok(Safety::Skipped(format!(
                            "no pre-apply backup taken: the project's repository {location} \
                             does not exist yet — create it with `strata init`"
                        )))
                    }
                    Err(e) => Err(e),
                }
            }
            None => Ok(Safety::Skipped(
                "no pre-apply backup taken: no repository is configured — pass --repo REPO, \
                 set STRATA_REPO or add a [repo] section to strata.toml to have apply back up \
                 what it changes (and `strata rollback` undo it)"
                    .into(),
            )),
        }
    }

    /// The line a dry run prints about the backup an apply would take.
    pub(super) fn dry_run_note(&self, plan: &Plan, before: &Schema) -> String {
        match self {
            Safety::Backup(repo) => {
                let tables = pre_apply::affected_tables(plan, before);
                format!(
                    "dry run: no pre-apply backup taken; applying would first back up the schema \
                     and {} into {}",
                    table_list(&tables),
                    repo.location()
                )
            }
            Safety::Skipped(reason) => reason.clone(),
        }
    }
}

/// What the safety net did for one apply, for the outcome.
#[derive(Default)]
pub(super) struct Outcome {
    pub backup: Option<PreApply>,
    pub record: Option<String>,
    pub skipped: Option<String>,
}

impl Outcome {
    /// Takes the pre-apply backup, if this apply takes one, and says so on stderr.
    pub(super) fn before(
        safety: &Safety,
        target: &Target,
        plan: &Plan,
        before: &Schema,
        quiet: bool,
    ) -> Result<Outcome> {
        let repo = match safety {
            Safety::Backup(repo) => repo,
            Safety::Skipped(reason) => {
                if !quiet {
                    eprintln!("strata: {reason}");
                }
                return Ok(Outcome {
                    skipped: Some(reason.clone()),
                    ..Outcome::default()
                });
            }
        };
        let pre = pre_apply::take_backup(repo, target, plan, before)?;
        if !quiet {
            eprintln!(
                "strata: pre-apply backup {} (schema and {}) in {}",
                pre.backup.id.short(),
                table_list(&pre.tables),
                repo.location()
            );
        }
        Ok(Outcome {
            backup: Some(pre),
            ..Outcome::default()
        })
    }

    /// Records the apply that ran, when a backup was taken.
    pub(super) fn after(
        &mut self,
        safety: &Safety,
        target: &Target,
        to: &str,
        plan: &Plan,
        quiet: bool,
    ) -> Result<()> {
        let (Safety::Backup(repo), Some(pre)) = (safety, &self.backup) else {
            return Ok(());
        };
        let (id, _) = pre_apply::record(repo, target, plan, pre).map_err(|e| {
            Error::Refused(format!(
                "the plan was applied, but recording it for rollback failed: {e} — pre-apply \
                 backup {} holds what it changed",
                pre.backup.id
            ))
        })?;
        if !quiet {
            eprintln!(
                "strata: recorded as plan {}; undo with `strata rollback {} --to {to}`",
                pre.plan_id, pre.plan_id
            );
        }
        self.record = Some(id.to_string());
        Ok(())
    }

    /// The `backup` field of apply's JSON outcome.
    pub(super) fn to_json(&self) -> Value {
        match &self.backup {
            Some(pre) => json!({
                "id": pre.backup.id.to_string(),
                "plan_id": pre.plan_id,
                "tags": pre.backup.manifest.tags,
                "tables": pre.tables,
                "record": self.record,
            }),
            None => json!({ "skipped": self.skipped }),
        }
    }
}

fn table_list(tables: &[String]) -> String {
    match tables.len() {
        0 => "no table rows (no step destroys or rewrites rows)".to_string(),
        _ => format!("the rows of {}", tables.join(", ")),
    }
}
