//! The status workflow: for every environment of a project, is it reachable, which schema does
//! it have, has it drifted from the schema file, and when was it last backed up.
//!
//! Environments are examined at once (one thread each), so one slow or unreachable server does
//! not hold up the report; a failure in one environment is recorded in its row, never fatal.

use serde::Serialize;

use crate::convert::{settle, POSTGRES_NAMESPACE};
use crate::diff::summary::Summary;
use crate::diff::{self, PlanOptions};
use crate::engine::{self, InspectOptions};
use crate::error::Result;
use crate::project::{Environment, Project};
use crate::repo::{Repository, Timestamp};
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

/// The state of one environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentStatus {
    pub name: String,
    /// The database, password removed (empty when its URL could not be resolved).
    pub database: String,
    pub reachable: bool,
    /// Why the environment could not be examined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The hash of its schema (`strata diff`'s plans carry the same hashes).
    pub schema_hash: Option<String>,
    /// Whether it differs from the schema file (`None`: not compared — no schema file, or it
    /// could not be compared, see `drift_error`).
    pub drift: Option<bool>,
    pub summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_error: Option<String>,
    pub last_backup: Option<LastBackup>,
}

/// The newest backup of an environment's database.
#[derive(Debug, Clone, Serialize)]
pub struct LastBackup {
    pub id: String,
    pub time: String,
    pub age_seconds: i64,
    pub kind: String,
}

/// What the project's schema file and repository are.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub project: String,
    pub schema_file: Option<String>,
    pub schema_hash: Option<String>,
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_error: Option<String>,
    pub environments: Vec<EnvironmentStatus>,
}

impl StatusReport {
    /// True when every environment was reachable and none drifted.
    pub fn all_in_sync(&self) -> bool {
        self.environments
            .iter()
            .all(|e| e.reachable && e.drift != Some(true) && e.drift_error.is_none())
    }
}

/// Examines every environment of `project`. `repository` is the project's repository opened by
/// the caller (or the error that prevented it), for the last-backup column.
pub fn status(
    project: &Project,
    repository: Option<std::result::Result<&Repository, String>>,
) -> Result<StatusReport> {
    let expected = match &project.schema {
        Some(path) => Some(Schema::load(path)?),
        None => None,
    };
    let (backups, repository_error) = match repository {
        Some(Ok(repo)) => match repo.list_backups() {
            Ok(list) => (list.backups, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        },
        Some(Err(e)) => (Vec::new(), Some(e)),
        None => (Vec::new(), None),
    };
    let environments: Vec<EnvironmentStatus> = std::thread::scope(|scope| {
        let running: Vec<_> = project
            .environments
            .values()
            .map(|env| scope.spawn(|| examine(env, expected.as_ref(), &backups)))
            .collect();
        running
            .into_iter()
            .zip(project.environments.values())
            .map(|(thread, env)| {
                thread
                    .join()
                    .unwrap_or_else(|_| failed(env, String::new(), "examining it panicked".into()))
            })
            .collect()
    });
    Ok(StatusReport {
        project: project.path.display().to_string(),
        schema_file: project.schema.as_ref().map(|p| p.display().to_string()),
        schema_hash: expected.as_ref().map(diff::schema_hash),
        repository: project.repo.as_ref().map(|r| r.location.clone()),
        repository_error,
        environments,
    })
}

fn examine(
    env: &Environment,
    expected: Option<&Schema>,
    backups: &[crate::repo::Backup],
) -> EnvironmentStatus {
    let target = match env.target() {
        Ok(target) => target,
        Err(e) => return failed(env, String::new(), e.to_string()),
    };
    let database = target.display();
    let last_backup = backups
        .iter()
        .filter(|b| b.manifest.source.database == database)
        .max_by_key(|b| b.manifest.time)
        .map(|b| LastBackup {
            id: b.id.to_string(),
            time: b.manifest.time.to_string(),
            age_seconds: Timestamp::now().unix_seconds() - b.manifest.time.unix_seconds(),
            kind: b.manifest.kind.to_string(),
        });
    let actual = match engine::inspect(&target, &InspectOptions::default()) {
        Ok((schema, _)) => schema,
        Err(e) => {
            let mut status = failed(env, database, e.to_string());
            status.last_backup = last_backup;
            return status;
        }
    };
    let mut status = EnvironmentStatus {
        name: env.name.clone(),
        database,
        reachable: true,
        error: None,
        schema_hash: Some(diff::schema_hash(&actual)),
        drift: None,
        summary: None,
        drift_error: None,
        last_backup,
    };
    if let Some(expected) = expected {
        match comparable(expected, &actual, &target).and_then(|e| drift(&actual, &e)) {
            Ok(summary) => {
                status.drift = Some(!summary.is_empty());
                status.summary = Some(summary);
            }
            Err(e) => status.drift_error = Some(e.to_string()),
        }
    }
    status
}

/// The schema file as the environment's engine spells it: a SQLite schema compared with a
/// PostgreSQL environment is converted and settled on that server first, as `strata drift`
/// does, so one file can describe SQLite and PostgreSQL environments alike.
fn comparable<'a>(
    expected: &'a Schema,
    actual: &Schema,
    target: &Target,
) -> Result<std::borrow::Cow<'a, Schema>> {
    if expected.engine != EngineKind::Sqlite || actual.engine != EngineKind::Postgres {
        return Ok(std::borrow::Cow::Borrowed(expected));
    }
    let mut server = engine::open(target)?;
    let public = actual
        .schemas
        .iter()
        .find(|s| s.name == POSTGRES_NAMESPACE)
        .cloned();
    let conversion = settle::on_postgres(expected, server.as_mut(), &target.display(), public)?;
    Ok(std::borrow::Cow::Owned(conversion.schema))
}

fn drift(actual: &Schema, expected: &Schema) -> Result<Summary> {
    let plan = diff::plan(
        actual,
        expected,
        engine::dialect(actual.engine)?,
        &PlanOptions::default(),
    )?;
    Ok(Summary::of(&plan))
}

fn failed(env: &Environment, database: String, error: String) -> EnvironmentStatus {
    EnvironmentStatus {
        name: env.name.clone(),
        database,
        reachable: false,
        error: Some(error),
        schema_hash: None,
        drift: None,
        summary: None,
        drift_error: None,
        last_backup: None,
    }
}

/// `3d`, `5h`, `12m`, `40s`: the largest unit, for an age column.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_use_the_largest_unit() {
        assert_eq!(super::human_age(42), "42s");
        assert_eq!(super::human_age(3 * 3600 + 5), "3h");
        assert_eq!(super::human_age(9 * 86_400), "9d");
        assert_eq!(super::human_age(-5), "0s");
    }
}
