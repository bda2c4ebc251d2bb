//! The restore workflow: a backup into a database, in three phases.
//!
//! 1. pre-data: schemas, types, sequences, functions and tables — no keys, indexes or
//!    constraints yet;
//! 2. data: every table's rows, several tables at once, each in its own transaction;
//! 3. post-data: primary keys, unique and check constraints, indexes, views, foreign keys,
//!    triggers, policies — in the creation script's order.
//!
//! Loading rows into bare tables means circular and self-referencing foreign keys, triggers
//! and constraints never get in the way, and no superuser rights are needed. Before anything is
//! written the backup is verified (every chunk it needs is read and hashed), so a damaged
//! backup fails before the target is touched.
//!
//! A SQLite backup restored into PostgreSQL goes through the cross-engine conversion
//! (`crate::convert`): the converted schema is created in the same three phases, each table's
//! row stream is adapted to its converted column types on the way in (`convert::rows`), and
//! identity sequences are set past the highest id loaded instead of restoring SQLite's
//! counters.
//!
//! The three phases ([`load_into`]) take their rows from a [`RowSource`] — a backup here, a
//! live database for `copy` — and may pass them through a [`RowTransform`] (sanitizing).

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::convert::rows::{self, RowConversion};
use crate::convert::{self, Conversion, Report};
use crate::diff::{self, PlanOptions};
use crate::engine::{self, DataTable, ExecuteOptions, InspectOptions, SequenceState};
use crate::error::{Error, Result};
use crate::repo::{Backup, BackupKind, CheckOptions, Repository};
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub schema_only: bool,
    pub data_only: bool,
    /// Only the rows of tables matching these patterns.
    pub tables: Vec<String>,
    pub jobs: usize,
    /// Drop what the target has first (otherwise a non-empty target is refused).
    pub clean: bool,
    /// Skip reading the whole backup before writing (faster; a damaged chunk then fails the
    /// restore half-way).
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

/// Rewrites rows between the source and the target. Every table's COPY text passes through
/// [`RowTransform::rows`] before the loader sees a byte of it; [`RowTransform::before_load`]
/// runs on the empty tables and [`RowTransform::after_load`] once every row is in, before
/// keys and indexes are built.
pub trait RowTransform: Send + Sync + std::fmt::Debug {
    /// The stream the loader reads instead of `rows` (COPY text of `table`, in its columns).
    fn rows<'a>(&'a self, table: &DataTable, rows: &'a mut dyn Read) -> Result<Box<dyn Read + 'a>>;
    /// Statements run in one transaction before any row is loaded (e.g. checks).
    fn before_load(&self) -> Vec<String>;
    /// Statements run in one transaction after the rows are loaded (e.g. row filters).
    fn after_load(&self) -> Vec<String>;
}

/// Where the rows of a load come from: a backup's segments, or a live database's export.
pub trait RowSource: Sync {
    /// The tables that have rows, in the source's order.
    fn tables(&self) -> Result<Vec<SourceTable>>;
    /// A reader for one loading thread (a database session, for a live source).
    fn reader(&self) -> Result<Box<dyn PartReader + '_>>;
}

/// A table of a [`RowSource`]: its stream, in how many parts, and how many rows it holds.
#[derive(Debug, Clone)]
pub struct SourceTable {
    /// The table's name in the source (for reports and `--table` patterns).
    pub name: String,
    /// The table as the loader writes it (converted, across engines).
    pub table: DataTable,
    /// Parts that can be loaded at once (at least 1).
    pub parts: usize,
    /// Rows the source holds, when it knows (checked once every part is loaded).
    pub rows: Option<u64>,
}

/// Streams parts of a source's tables.
pub trait PartReader {
    /// Hands part `part` of table number `table` (an index into [`RowSource::tables`]) to
    /// `load` as COPY text; returns what `load` returned.
    fn read(
        &mut self,
        table: usize,
        part: usize,
        load: &mut dyn FnMut(&mut dyn Read) -> Result<u64>,
    ) -> Result<u64>;
}

/// What a load writes: a schema, its rows and its sequence positions.
pub struct Load<'a> {
    /// Names the source in messages (`backup 7b11705a`, a database).
    pub source: String,
    pub schema: &'a Schema,
    /// `None`: the schema only.
    pub rows: Option<&'a dyn RowSource>,
    pub sequences: SequencePositions<'a>,
}

/// How sequences are positioned once the rows are in.
pub enum SequencePositions<'a> {
    /// At the source's values.
    Values(&'a [SequenceState]),
    /// By statements (across engines: identity sequences past the highest id loaded).
    Script(Vec<String>),
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

/// Creates `load.schema` in `target` and fills it, in three phases: pre-data, the rows (on
/// `options.jobs` sessions), post-data. Shared by restore and copy. Returns the rows loaded
/// per table, sorted by table.
pub fn load_into(
    target: &Target,
    load: &Load<'_>,
    options: &RestoreOptions,
    progress: &(dyn Fn(&TableRestored) + Sync),
) -> Result<Vec<TableRestored>> {
    let schema = load.schema;
    // A SQLite target is a file to create (or an empty one to fill): open it for writing.
    let mut database: Box<dyn engine::Engine> = match target {
        Target::Sqlite(path) => Box::new(engine::sqlite::Sqlite::open_for_restore(path)?),
        Target::Postgres(_) => engine::open(target)?,
    };
    if database.kind() != schema.engine {
        return Err(Error::Unsupported(format!(
            "{} is of a {} database and {} is {}: restoring across engines is not supported yet",
            load.source,
            schema.engine,
            target.display(),
            database.kind()
        )));
    }
    if !options.data_only {
        check_prerequisites(database.as_mut(), schema, target)?;
        prepare_target(database.as_mut(), target, options.clean)?;
    }
    let (pre, post) = match schema.engine {
        EngineKind::Sqlite => engine::sqlite::render::creation_phases(schema),
        EngineKind::Postgres => split_phases(database.dialect()?.creation_script(schema)),
    };
    let mut loader = database.loader()?;
    if !options.data_only {
        loader.run_script(&pre)?;
    }
    let mut tables = Vec::new();
    if let Some(rows) = load.rows {
        if let Some(transform) = &options.rows {
            loader.run_script(&transform.before_load())?;
        }
        tables = load_tables(rows, database.as_ref(), options, progress)?;
        match &load.sequences {
            SequencePositions::Values(values) => loader.set_sequences(values)?,
            SequencePositions::Script(script) => loader.run_script(script)?,
        }
        if let Some(transform) = &options.rows {
            loader.run_script(&transform.after_load())?;
        }
    }
    if !options.data_only {
        loader.run_script(&post)?;
    }
    tables.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(tables)
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

/// A backup's table segments, read (and verified chunk by chunk) from the repository.
struct BackupRows<'a> {
    repo: &'a Repository,
    backup: &'a Backup,
    /// Across engines: how the rows load into the converted tables.
    converted: Option<&'a RowConversion>,
}

impl RowSource for BackupRows<'_> {
    fn tables(&self) -> Result<Vec<SourceTable>> {
        self.backup
            .manifest
            .tables
            .iter()
            .map(|entry| {
                let table = DataTable {
                    name: entry.name.clone(),
                    columns: entry.columns.clone(),
                    size_bytes: entry.bytes as i64,
                };
                // Across engines the rows load into the converted table.
                let table = match self.converted {
                    Some(c) => {
                        c.table(&entry.name, &entry.columns, table.size_bytes)?
                            .table
                    }
                    None => table,
                };
                Ok(SourceTable {
                    name: entry.name.clone(),
                    table,
                    parts: entry.segments.len().max(1),
                    rows: Some(entry.rows),
                })
            })
            .collect()
    }

    fn reader(&self) -> Result<Box<dyn PartReader + '_>> {
        Ok(Box::new(BackupRows {
            repo: self.repo,
            backup: self.backup,
            converted: self.converted,
        }))
    }
}

impl PartReader for BackupRows<'_> {
    fn read(
        &mut self,
        table: usize,
        part: usize,
        load: &mut dyn FnMut(&mut dyn Read) -> Result<u64>,
    ) -> Result<u64> {
        let entry = &self.backup.manifest.tables[table];
        if entry.segments.is_empty() {
            return load(&mut std::io::empty());
        }
        let stream = self.repo.read_segment(self.backup, entry, part)?;
        match self.converted {
            // Across engines each value is adapted to its converted column.
            Some(c) => {
                let rows = c.table(&entry.name, &entry.columns, entry.bytes as i64)?;
                load(&mut rows.adapt(stream, part))
            }
            None => load(&mut { stream }),
        }
    }
}

/// Proves the backup complete and intact before the target is touched.
fn verify_backup(repo: &Repository, backup: &Backup, options: &RestoreOptions) -> Result<()> {
    let report = repo.check(&CheckOptions {
        read_data: !options.no_verify && !options.schema_only,
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

/// Extensions the schema uses must be installable on the target, and roles its policies name
/// must exist there: checked before anything is written, so a restore on a managed server
/// fails up front with the list of what is missing rather than half-way.
fn check_prerequisites(
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
fn prepare_target(database: &mut dyn engine::Engine, target: &Target, clean: bool) -> Result<()> {
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
    let mut empty = Schema::new(current.engine, current.server_version.clone());
    empty.schemas = current
        .schemas
        .iter()
        .filter(|s| s.name == "public")
        .cloned()
        .collect();
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
    let mut sql: Vec<String> = statements.into_iter().map(|s| s.sql).collect();
    let post = sql.split_off(split);
    (sql, post)
}

/// Loads every table's rows on `jobs` sessions. A table in several parts is loaded part by
/// part, on several sessions at once (PostgreSQL allows concurrent COPY into one table); the
/// row counts are checked against the source's once all parts are in.
fn load_tables(
    source: &dyn RowSource,
    database: &dyn engine::Engine,
    options: &RestoreOptions,
    progress: &(dyn Fn(&TableRestored) + Sync),
) -> Result<Vec<TableRestored>> {
    let entries: Vec<(usize, SourceTable)> = source
        .tables()?
        .into_iter()
        .enumerate()
        .filter(|(_, t)| crate::backup::selected(&options.tables, &t.name))
        .collect();
    // One task per part, biggest tables first.
    let mut tasks: Vec<(usize, usize)> = entries
        .iter()
        .enumerate()
        .flat_map(|(e, (_, entry))| (0..entry.parts.max(1)).map(move |s| (e, s)))
        .collect();
    tasks.sort_by_key(|&(e, s)| (std::cmp::Reverse(entries[e].1.table.size_bytes), e, s));
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<u64>> = Mutex::new(vec![0; entries.len()]);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let jobs = options.jobs.max(1).min(tasks.len().max(1));
    let loaders = (0..jobs)
        .map(|_| database.loader())
        .collect::<Result<Vec<_>>>()?;
    std::thread::scope(|scope| {
        for mut loader in loaders {
            let (next, rows, failure, entries, tasks) = (&next, &rows, &failure, &entries, &tasks);
            scope.spawn(move || {
                let mut run = || -> Result<()> {
                    let mut reader = source.reader()?;
                    loop {
                        if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                            return Ok(());
                        }
                        let Some(&(e, part)) = tasks.get(next.fetch_add(1, Ordering::SeqCst))
                        else {
                            return Ok(());
                        };
                        let (index, entry) = &entries[e];
                        let table = &entry.table;
                        let count =
                            reader.read(*index, part, &mut |stream| match &options.rows {
                                Some(transform) => {
                                    loader.copy_in(table, &mut transform.rows(table, stream)?)
                                }
                                None => loader.copy_in(table, stream),
                            })?;
                        if let Ok(mut r) = rows.lock() {
                            r[e] += count;
                        }
                    }
                };
                if let Err(e) = run() {
                    if let Ok(mut f) = failure.lock() {
                        f.get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let rows = rows
        .into_inner()
        .map_err(|_| Error::Unsupported("a restore worker panicked".into()))?;
    let mut loaded = Vec::with_capacity(entries.len());
    for ((_, entry), count) in entries.iter().zip(rows) {
        if let Some(expected) = entry.rows.filter(|&n| n != count) {
            return Err(Error::Refused(format!(
                "{}: loaded {count} rows, the source holds {expected}",
                entry.name
            )));
        }
        let done = TableRestored {
            table: entry.name.clone(),
            rows: count,
        };
        progress(&done);
        loaded.push(done);
    }
    Ok(loaded)
}
