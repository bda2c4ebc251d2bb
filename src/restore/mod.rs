//! The restore workflow: a backup into a database, in three phases.
//!
//! 1. pre-data: schemas, types, sequences, functions and tables — no keys, indexes or
//!    constraints yet;
//! 2. data: every table's rows, several tables at once, each in its own transaction; a
//!    table's primary key, unique constraints and indexes are built as soon as its rows are in;
//! 3. post-data: check constraints, views, foreign keys, triggers, policies — in the creation
//!    script's order (foreign keys next to each other on several sessions).
//!
//! Loading rows into bare tables means circular and self-referencing foreign keys, triggers
//! and constraints never get in the way, and no superuser rights are needed.
//!
//! The backup is read once: before anything is written its structure is checked (every chunk
//! it needs is in the index, every pack present), then each chunk is authenticated and hashed
//! as it is loaded, before any of its rows reach the target. A chunk that fails the check
//! aborts its COPY (its transaction rolls back); a restore that created the schema then drops
//! what it had created, so a damaged backup leaves the target as empty as it was found
//! ([`load::load_into`]). A `--data-only` restore writes into tables it cannot drop, so it still
//! reads and hashes the whole backup before writing a row.
//!
//! This module owns the backup side (options, the schema to create, the cross-engine
//! conversion, the report); [`load`] the three phases shared with `copy`; [`queue`] the data
//! phase's work on several sessions, each table's keys and indexes built as soon as its rows
//! are in, and [`key_order`] the order of a data-only load into tables whose foreign keys are
//! in place; [`post_data`] the post-data statements sorted into those per-table groups and the
//! rest, [`foreign_keys`] a run of foreign keys added on several sessions, [`sessions`] how
//! each of those parallel steps shares its work out; [`backup_rows`] the
//! backup as a row source; [`target`] what is checked and done to the target around a load.
//!
//! A SQLite backup restored into PostgreSQL goes through the cross-engine conversion
//! (`crate::convert`): the converted schema is created in the same three phases, each table's
//! row stream is adapted to its converted column types on the way in (`convert::rows`), and
//! identity sequences are set past the highest id loaded instead of restoring SQLite's
//! counters.

mod backup_rows;
mod foreign_keys;
mod key_order;
mod load;
mod post_data;
mod queue;
mod sessions;
mod target;

use std::sync::Arc;

use serde::Serialize;

use crate::convert::rows::{self, RowConversion};
use crate::convert::{self, Conversion, Report};
use crate::engine::SequenceState;
use crate::error::{Error, Result};
use crate::repo::{Backup, BackupKind, CheckOptions, Repository};
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

use backup_rows::BackupRows;
pub use load::{
    load_into, Load, PartReader, RowSource, RowTransform, SequencePositions, SourceTable,
};
pub use target::{emptied, split_phases};

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub schema_only: bool,
    pub data_only: bool,
    /// Only the rows of tables matching these patterns.
    pub tables: Vec<String>,
    pub jobs: usize,
    /// Drop what the target has first (otherwise a non-empty target is refused).
    pub clean: bool,
    /// With `data_only`: skip reading the whole backup before writing (a damaged chunk then
    /// fails the restore half-way, leaving the tables loaded before it). Other restores verify
    /// each chunk as it is loaded and need no separate pass.
    pub no_verify: bool,
    /// Restore the owners and grants the backup recorded (skipped by default: the roles of one
    /// server rarely exist on another).
    pub with_owners: bool,
    /// Role renames applied to owners and grantees: `(old, new)`.
    pub role_map: Vec<(String, String)>,
    /// Across engines: leave out the objects the conversion cannot translate (named in the
    /// report) instead of refusing.
    pub allow_lossy: bool,
    /// Rewrites every table's rows on their way into the target (sanitizing, see
    /// [`crate::sanitize`]); `None` loads them as they are.
    pub rows: Option<Arc<dyn RowTransform>>,
}

/// Rows loaded per table.
#[derive(Debug, Clone, Serialize)]
pub struct TableRestored {
    pub table: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub backup: String,
    pub tables: Vec<TableRestored>,
    pub sequences: usize,
    /// The conversion's report, when the backup was of another engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<Report>,
}

/// A restore across engines: the converted schema and how rows load into it.
struct CrossEngine {
    conversion: Conversion,
    rows: RowConversion,
}

pub fn restore(
    repo: &Repository,
    backup: &Backup,
    target: &Target,
    options: &RestoreOptions,
    progress: &(dyn Fn(&TableRestored) + Sync),
) -> Result<RestoreReport> {
    let (schema, cross) = prepare_schema(backup, target, options)?;
    verify_backup(repo, backup, options)?;
    let with_data = !options.schema_only && backup.manifest.kind != BackupKind::SchemaOnly;
    let sequences: Vec<SequenceState> = backup
        .manifest
        .all_sequences()
        .map(|s| SequenceState {
            name: s.name.clone(),
            last_value: s.last_value,
            is_called: s.is_called,
        })
        .collect();
    let positions = match &cross {
        Some(_) => SequencePositions::Script(rows::identity_positions(&schema, &sequences)),
        None => SequencePositions::Values(&sequences),
    };
    let sequence_count = match &positions {
        SequencePositions::Script(script) if with_data => script.len(),
        _ => sequences.len(),
    };
    let rows = BackupRows {
        repo,
        backup,
        converted: cross.as_ref().map(|c| &c.rows),
    };
    let load = Load {
        source: format!("backup {}", backup.id),
        schema: &schema,
        rows: with_data.then_some(&rows as &dyn RowSource),
        sequences: positions,
    };
    let tables = load_into(target, &load, options, progress)?;
    Ok(RestoreReport {
        backup: backup.id.to_string(),
        tables,
        sequences: sequence_count,
        conversion: cross.map(|c| Report {
            // The target's server accepted the converted schema.
            validated: !options.data_only,
            ..c.conversion.report
        }),
    })
}

/// The schema a restore of `backup` creates in `target`: the backup's (owners and grants
/// adapted), or its conversion when the engines differ. What rules about the rows (sanitizing)
/// are checked against.
pub fn target_schema(backup: &Backup, target: &Target, options: &RestoreOptions) -> Result<Schema> {
    prepare_schema(backup, target, options).map(|(schema, _)| schema)
}

fn prepare_schema(
    backup: &Backup,
    target: &Target,
    options: &RestoreOptions,
) -> Result<(Schema, Option<CrossEngine>)> {
    let mut schema = backup
        .manifest
        .schema
        .clone()
        .ok_or_else(|| Error::Unsupported(format!("backup {} holds no schema", backup.id)))?;
    adapt_access(&mut schema, options);
    let cross = cross_engine(&schema, backup, target, options)?;
    if let Some(cross) = &cross {
        schema = cross.conversion.schema.clone();
    }
    Ok((schema, cross))
}

/// The conversion a backup of another engine needs (SQLite into PostgreSQL), refused when it
/// would leave objects out and the user did not allow it.
fn cross_engine(
    schema: &Schema,
    backup: &Backup,
    target: &Target,
    options: &RestoreOptions,
) -> Result<Option<CrossEngine>> {
    let target_engine = match target {
        Target::Sqlite(_) => EngineKind::Sqlite,
        Target::Postgres(_) => EngineKind::Postgres,
    };
    match (schema.engine, target_engine) {
        (from, to) if from == to => Ok(None),
        (EngineKind::Sqlite, EngineKind::Postgres) => {
            let conversion = convert::convert(schema, EngineKind::Postgres)?;
            conversion.report.check_lossless(options.allow_lossy)?;
            let rows = RowConversion::new(schema, &conversion.schema);
            Ok(Some(CrossEngine { conversion, rows }))
        }
        (from, to) => Err(Error::Unsupported(format!(
            "backup {} is of a {from} database and {} is {to}: only SQLite backups can be \
             restored across engines (into PostgreSQL)",
            backup.id,
            target.display()
        ))),
    }
}

/// Proves the backup complete before the target is touched: every chunk it needs is indexed
/// and its pack present. The chunks' content is checked as they are loaded, except for a
/// `--data-only` restore: it writes into tables it did not create and cannot drop again, so it
/// reads and hashes every chunk first (unless `no_verify`).
fn verify_backup(repo: &Repository, backup: &Backup, options: &RestoreOptions) -> Result<()> {
    let report = repo.check(&CheckOptions {
        read_data: options.data_only && !options.no_verify && !options.schema_only,
        backups: Some(vec![backup.id]),
    })?;
    if let Some(problem) = report.problems.first() {
        return Err(Error::Refused(format!(
            "backup {} is damaged ({} problem(s), first: {problem}) — nothing was written; run \
             `strata verify {} --read-data` for details",
            backup.id,
            report.problems.len(),
            backup.id
        )));
    }
    Ok(())
}

/// Owners and grants are dropped unless asked for; when kept, roles are renamed by the map.
fn adapt_access(schema: &mut Schema, options: &RestoreOptions) {
    let rename = |role: &mut String| {
        if let Some((_, new)) = options.role_map.iter().find(|(old, _)| old == role) {
            *role = new.clone();
        }
    };
    for access in schema.access_mut() {
        if !options.with_owners {
            *access = Default::default();
            continue;
        }
        if let Some(owner) = access.owner.as_mut() {
            rename(owner);
        }
        for grant in &mut access.grants {
            rename(&mut grant.to);
        }
    }
    for policy in schema.tables.iter_mut().flat_map(|t| t.policies.iter_mut()) {
        for role in &mut policy.roles {
            rename(role);
        }
    }
}
