//! A load: a schema created in a target and filled from a [`RowSource`] — a backup for
//! `restore`, a live database for `copy` — in three phases (pre-data, the rows on several
//! sessions, post-data), the rows passing through an optional [`RowTransform`] (sanitizing).
//!
//! Each table's keys and indexes are built as soon as its rows are in, on whichever session is
//! free, while other tables are still loading ([`super::queue`]); the rest of post-data
//! (foreign keys, views, triggers...) follows once every table is loaded.
//!
//! When the load created the schema and the data phase fails half-way (a damaged chunk, a lost
//! connection, a key that does not build), the target is emptied again before the error is
//! returned: what is there is the load's own tables with partial rows, useless to anyone and in
//! the way of the next attempt.

use std::io::Read;
use std::sync::Mutex;

use crate::engine::{self, DataTable, SequenceState};
use crate::error::{Error, Result};
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

use super::key_order;
use super::post_data::PostData;
use super::queue::{Queue, Task};
use super::sessions::on_sessions;
use super::target::{check_prerequisites, empty_again, prepare_target, split_keyed};
use super::{RestoreOptions, TableRestored};

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

/// Creates `load.schema` in `target` and fills it, in three phases: pre-data, the rows (on
/// `options.jobs` sessions), post-data (keys and indexes on `options.jobs` sessions). Shared by
/// restore and copy. Returns the rows loaded per table, sorted by table. When the rows fail and
/// the load created the schema (not `data_only`), the target is emptied again first.
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
    let (pre, mut post) = match schema.engine {
        EngineKind::Sqlite => {
            let (pre, post) = engine::sqlite::render::creation_phases(schema);
            (pre, PostData::serial(post))
        }
        EngineKind::Postgres => {
            let (pre, post) = split_keyed(database.dialect()?.creation_script(schema));
            (pre, PostData::split(schema, post))
        }
    };
    let mut loader = database.loader()?;
    if !options.data_only {
        loader.run_script(&pre)?;
    }
    let fill = || -> Result<Vec<TableRestored>> {
        let mut tables = Vec::new();
        if let Some(rows) = load.rows {
            // Keys and indexes are built as each table's rows are in, unless rows are still to
            // be deleted once all are loaded (a transform's row filters).
            let groups = match &options.rows {
                Some(transform) if !transform.after_load().is_empty() => Vec::new(),
                _ if options.data_only => Vec::new(),
                _ => post.take_early_groups(),
            };
            tables = load_rows(
                rows,
                loader.as_mut(),
                database.as_ref(),
                load,
                options,
                progress,
                &groups,
            )?;
        }
        if !options.data_only {
            let rows = tables.iter().map(|t| (t.table.as_str(), t.rows)).collect();
            post.run(database.as_ref(), loader.as_mut(), options.jobs, &rows)?;
        }
        Ok(tables)
    };
    // A failure after the schema was created (rows, or a key that does not hold) leaves the
    // target as it was found.
    let mut tables = match fill() {
        Ok(tables) => tables,
        Err(e) if options.data_only => return Err(e),
        Err(e) => {
            drop(loader);
            return Err(undo_schema(database.as_mut(), target, e));
        }
    };
    tables.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(tables)
}

/// The data phase: the transform's preparation, every table's rows, the sequence positions,
/// the transform's finishing statements.
fn load_rows(
    rows: &dyn RowSource,
    loader: &mut dyn engine::Loader,
    database: &dyn engine::Engine,
    load: &Load<'_>,
    options: &RestoreOptions,
    progress: &(dyn Fn(&TableRestored) + Sync),
    groups: &[(String, Vec<String>)],
) -> Result<Vec<TableRestored>> {
    if let Some(transform) = &options.rows {
        loader.run_script(&transform.before_load())?;
    }
    // Only into tables the load did not create are foreign keys in place while rows load
    // (SQLite's loader turns their enforcement off).
    let keys_in_place =
        (options.data_only && load.schema.engine == EngineKind::Postgres).then_some(load.schema);
    let tables = load_tables(rows, database, options, progress, groups, keys_in_place)?;
    match &load.sequences {
        SequencePositions::Values(values) => loader.set_sequences(values)?,
        SequencePositions::Script(script) => loader.run_script(script)?,
    }
    if let Some(transform) = &options.rows {
        loader.run_script(&transform.after_load())?;
    }
    Ok(tables)
}

/// After a failed data phase of a load that created the schema: empties the target again and
/// says so in the error (or says that it could not, and what is left).
fn undo_schema(database: &mut dyn engine::Engine, target: &Target, failure: Error) -> Error {
    match empty_again(database, target) {
        Ok(()) => Error::Refused(format!(
            "{failure} — the restore stopped half-way and dropped what it had created: {} is \
             empty again",
            target.display()
        )),
        Err(undo) => Error::Refused(format!(
            "{failure} — the restore stopped half-way; dropping what it had created failed \
             too ({undo}): {} holds tables with partial rows, drop them (or restore again with \
             --clean)",
            target.display()
        )),
    }
}

/// Loads every table's rows on `jobs` sessions, and builds the key and index `groups` (each
/// named by its table) as their tables' rows are in (see [`Queue`]). A table in several parts
/// is loaded part by part, on several sessions at once (PostgreSQL allows concurrent COPY into
/// one table); its row count is checked against the source's, and reported, once its last
/// part is in. With `keys_in_place` (the schema whose foreign keys the target enforces), a
/// table loads after the tables it references ([`key_order`]).
fn load_tables(
    source: &dyn RowSource,
    database: &dyn engine::Engine,
    options: &RestoreOptions,
    progress: &(dyn Fn(&TableRestored) + Sync),
    groups: &[(String, Vec<String>)],
    keys_in_place: Option<&Schema>,
) -> Result<Vec<TableRestored>> {
    let entries: Vec<(usize, SourceTable)> = source
        .tables()?
        .into_iter()
        .enumerate()
        .filter(|(_, t)| crate::backup::selected(&options.tables, &t.name))
        .collect();
    // One task per part, biggest tables first.
    let mut order: Vec<(usize, usize)> = entries
        .iter()
        .enumerate()
        .flat_map(|(e, (_, entry))| (0..entry.parts.max(1)).map(move |s| (e, s)))
        .collect();
    order.sort_by_key(|&(e, s)| (std::cmp::Reverse(entries[e].1.table.size_bytes), e, s));
    let parts: Vec<usize> = entries.iter().map(|(_, entry)| entry.parts).collect();
    let after = match keys_in_place {
        Some(schema) => {
            let names: Vec<&str> = entries.iter().map(|(_, e)| e.table.name.as_str()).collect();
            key_order::tables_before(schema, &names, &parts)?
        }
        None => Vec::new(),
    };
    let group_of = entries
        .iter()
        .map(|(_, entry)| groups.iter().position(|(t, _)| *t == entry.table.name))
        .collect();
    let jobs = options.jobs.max(1).min((order.len() + groups.len()).max(1));
    let queue = Queue::new(order, &parts, group_of, groups.len(), &after);
    let rows: Mutex<Vec<u64>> = Mutex::new(vec![0; entries.len()]);
    let loaded: Mutex<Vec<(usize, TableRestored)>> = Mutex::new(Vec::with_capacity(entries.len()));
    let load_tasks = |loader: &mut dyn engine::Loader| -> Result<()> {
        let mut reader = source.reader()?;
        while let Some(task) = queue.next() {
            let (e, part) = match task {
                Task::Build { group } => {
                    loader.run_script(&groups[group].1)?;
                    continue;
                }
                Task::Part { entry, part } => (entry, part),
            };
            let (index, entry) = &entries[e];
            let table = &entry.table;
            let count = reader.read(*index, part, &mut |stream| match &options.rows {
                Some(transform) => loader.copy_in(table, &mut transform.rows(table, stream)?),
                None => loader.copy_in(table, stream),
            })?;
            let total = {
                let mut rows = rows.lock().unwrap_or_else(|p| p.into_inner());
                rows[e] += count;
                rows[e]
            };
            if queue.part_done(e) {
                let done = table_loaded(entry, total)?;
                progress(&done);
                loaded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((e, done));
            }
        }
        Ok(())
    };
    on_sessions(database, jobs, &|| queue.stop(), &load_tasks)?;
    // Reported in the source's order, not in the order the sessions happened to finish.
    let mut loaded = loaded.into_inner().unwrap_or_else(|p| p.into_inner());
    loaded.sort_by_key(|(e, _)| *e);
    Ok(loaded.into_iter().map(|(_, done)| done).collect())
}

/// A table whose last part is in: its row count, checked against the source's.
fn table_loaded(entry: &SourceTable, rows: u64) -> Result<TableRestored> {
    if let Some(expected) = entry.rows.filter(|&n| n != rows) {
        return Err(Error::Refused(format!(
            "{}: loaded {rows} rows, the source holds {expected}",
            entry.name
        )));
    }
    Ok(TableRestored {
        table: entry.name.clone(),
        rows,
    })
}
