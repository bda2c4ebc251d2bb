//! What a load checks and does to its target around the rows: the prerequisites (extensions,
//! roles), an empty target (or one emptied with `--clean`), the creation script cut into its
//! pre-data and post-data phases, and emptying the target again when a load that created the
//! schema fails half-way.

use crate::diff::{self, PlanOptions};
use crate::engine::{self, ExecuteOptions, InspectOptions};
use crate::error::{Error, Result};
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

/// Extensions the schema uses must be installable on the target, and roles its policies name
/// must exist there: checked before anything is written, so a restore on a managed server
/// fails up front with the list of what is missing rather than half-way.
pub(super) fn check_prerequisites(
    database: &mut dyn engine::Engine,
    schema: &Schema,
    target: &Target,
) -> Result<()> {
    if schema.engine != EngineKind::Postgres {
        return Ok(());
    }
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut missing = Vec::new();
    for extension in &schema.extensions {
        let sql = format!(
            "SELECT count(*) FROM pg_catalog.pg_available_extensions WHERE name = {}",
            literal(&extension.name)
        );
        if database.count(&sql)? == 0 {
            missing.push(format!("extension {}", extension.name));
        }
    }
    let mut named: Vec<String> = schema
        .tables
        .iter()
        .flat_map(|t| &t.policies)
        .flat_map(|p| p.roles.iter().cloned())
        .collect();
    for access in schema.access() {
        named.extend(access.owner.iter().cloned());
        named.extend(access.grants.iter().map(|g| g.to.clone()));
    }
    let mut roles: Vec<&str> = named
        .iter()
        .map(String::as_str)
        .filter(|r| !r.eq_ignore_ascii_case("public"))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    for role in roles {
        let sql = format!(
            "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = {}",
            literal(role)
        );
        if database.count(&sql)? == 0 {
            missing.push(format!("role {role}"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{} lacks what the backup needs: {} — install or create them first; nothing was written",
        target.display(),
        missing.join(", ")
    )))
}

/// A target must be empty, or emptied with `--clean` (which drops what is there, using the
/// same planner as `apply`).
pub(super) fn prepare_target(
    database: &mut dyn engine::Engine,
    target: &Target,
    clean: bool,
) -> Result<()> {
    let current = database.inspect(&InspectOptions::default())?;
    if current.engine == EngineKind::Sqlite {
        // SQLite has no planner yet: an empty file or nothing.
        if current.tables.is_empty() && current.views.is_empty() {
            return Ok(());
        }
        return Err(Error::Refused(format!(
            "{} is not empty — restore into a new SQLite file{}",
            target.display(),
            if clean {
                " (--clean is not supported for SQLite yet)"
            } else {
                ""
            }
        )));
    }
    let empty = emptied(&current);
    let dialect = database.dialect()?;
    let plan = diff::plan(&current, &empty, dialect, &PlanOptions::default())?;
    if plan.is_empty() {
        return Ok(());
    }
    if !clean {
        return Err(Error::Refused(format!(
            "{} is not empty ({}) — restore into an empty database, or add --clean to drop what \
             is there first",
            target.display(),
            crate::diff::summary::Summary::of(&plan)
                .to_string()
                .replace('-', "")
        )));
    }
    let options = ExecuteOptions {
        lock_timeout: std::time::Duration::from_secs(30),
        inspect: InspectOptions::default(),
    };
    database.execute(&plan.steps, &options, &mut |_| Ok(()))
}

/// Splits the creation script where post-data begins: at the first key, index, constraint,
/// view, trigger, rule or policy. Everything before (schemas, types, sequences, functions,
/// tables) is what rows need; everything after is best built once the rows are in.
pub fn split_phases(statements: Vec<Statement>) -> (Vec<String>, Vec<String>) {
    let (pre, post) = split_keyed(statements);
    (pre, post.into_iter().map(|s| s.sql).collect())
}

/// [`split_phases`], post-data keeping its keys (to tell what may be built at once).
pub(super) fn split_keyed(mut statements: Vec<Statement>) -> (Vec<String>, Vec<Statement>) {
    let is_post = |key: &ObjectKey| {
        matches!(
            key,
            ObjectKey::Constraint { .. }
                | ObjectKey::Index { .. }
                | ObjectKey::IndexAttachment { .. }
                | ObjectKey::View { .. }
                | ObjectKey::Trigger { .. }
                | ObjectKey::Rule { .. }
                | ObjectKey::RowSecurity { .. }
                | ObjectKey::Policy { .. }
                | ObjectKey::ReplicaIdentity { .. }
                | ObjectKey::Publication { .. }
                | ObjectKey::EventTrigger { .. }
        )
    };
    let split = statements
        .iter()
        .position(|s| is_post(&s.key))
        .unwrap_or(statements.len());
    let post = statements.split_off(split);
    (statements.into_iter().map(|s| s.sql).collect(), post)
}

/// Empties a target this load created the schema of, after a failure before post-data: the
/// target was empty (or emptied with `--clean`) before the load, so what is there now is the
/// load's own tables and their partial rows. PostgreSQL goes through the same planner as
/// `--clean`; a SQLite file gets its tables dropped.
pub(super) fn empty_again(database: &mut dyn engine::Engine, target: &Target) -> Result<()> {
    if database.kind() == EngineKind::Postgres {
        return prepare_target(database, target, true);
    }
    let current = database.inspect(&InspectOptions::default())?;
    let dialect = database.dialect()?;
    let drops: Vec<String> = current
        .tables
        .iter()
        .map(|t| format!("DROP TABLE IF EXISTS {}", dialect.quote_ident(&t.name)))
        .collect();
    database.loader()?.run_script(&drops)
}

/// What `current` would be with nothing in it: only the `public` schema, as a new database has.
pub fn emptied(current: &Schema) -> Schema {
    let mut empty = Schema::new(current.engine, current.server_version.clone());
    empty.format = current.format;
    empty.schemas = current
        .schemas
        .iter()
        .filter(|s| s.name == "public")
        .cloned()
        .collect();
    empty
}
