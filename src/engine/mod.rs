//! Database engines. Each engine lives in its own folder with the same files (`inspect.rs`:
//! catalog → model, `render.rs`: model → SQL) behind the [`Engine`] trait; no engine-specific
//! code lives outside `engine/`.

pub mod postgres;
pub mod sqlite;
pub mod staging;

use crate::diff::Step;
use crate::error::Result;
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{Column, EngineKind, Schema, Table};
use crate::target::Target;

/// What to include when inspecting a database.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Only these schemas (PostgreSQL); empty means every non-system schema.
    pub schemas: Vec<String>,
    /// Tables (and views) to leave out: shell-style patterns (`*`, `?`) matched against the
    /// bare name and against `schema.name`.
    pub exclude_tables: Vec<String>,
    /// Record object owners.
    pub with_owners: bool,
    /// Record grants.
    pub with_privileges: bool,
}

impl InspectOptions {
    /// Whether a relation passes the `--exclude-table` patterns.
    pub fn keeps_relation(&self, schema: &str, name: &str) -> bool {
        let qualified = crate::schema::qualified(schema, name);
        !self
            .exclude_tables
            .iter()
            .any(|p| glob_match(p, name) || glob_match(p, &qualified))
    }
}

/// A connection to a live database.
pub trait Engine {
    fn kind(&self) -> EngineKind;

    /// Reads the database's schema into the model, in canonical order.
    fn inspect(&mut self, options: &InspectOptions) -> Result<Schema>;

    /// What the last inspection saw but could not record (object kinds the model does not
    /// cover yet), one line each; callers show these so nothing is left out silently.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Runs plan steps atomically where the engine allows. `verify` sees the schema as the
    /// steps left it, before anything is committed; an error from it rolls everything back.
    fn execute(
        &mut self,
        steps: &[Step],
        options: &ExecuteOptions,
        verify: &mut dyn FnMut(&Schema) -> Result<()>,
    ) -> Result<()>;

    /// Runs a query returning one count (a step's pre-check).
    fn count(&mut self, sql: &str) -> Result<i64>;

    /// How this engine spells schema changes.
    fn dialect(&self) -> Result<&'static dyn Dialect> {
        dialect(self.kind())
    }

    /// Starts a consistent read of the database: its schema and every table's rows as they
    /// were at one instant, readable by several workers at once.
    fn export(&mut self, _options: &InspectOptions) -> Result<Box<dyn Export>> {
        Err(crate::Error::Unsupported(format!(
            "backing up {} databases is not supported yet",
            self.kind()
        )))
    }

    /// Opens a loader session (for restore) on the same database.
    fn loader(&self) -> Result<Box<dyn Loader>> {
        Err(crate::Error::Unsupported(format!(
            "restoring into {} databases is not supported yet",
            self.kind()
        )))
    }
}

/// A table whose rows are exported or loaded, as COPY text (one row per line, tab-separated,
/// `\N` for NULL, PostgreSQL's text-format escapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTable {
    /// Raw qualified name (`schema.table`).
    pub name: String,
    /// Columns in stream order (generated columns are not in the stream).
    pub columns: Vec<String>,
    /// The table's size on disk, to start the biggest tables first.
    pub size_bytes: i64,
}

/// A sequence's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceState {
    /// Raw qualified name.
    pub name: String,
    pub last_value: i64,
    pub is_called: bool,
}

/// A consistent view of a database being exported.
pub trait Export: Send + Sync {
    fn schema(&self) -> &Schema;
    /// Tables that hold rows (leaf tables: partitions, not their partitioned parents).
    fn tables(&self) -> &[DataTable];
    /// Every sequence's position, identity sequences included.
    fn sequences(&self) -> &[SequenceState];
    /// A session that reads the same snapshot (one per worker thread).
    fn worker(&self) -> Result<Box<dyn ExportWorker>>;

    /// How to cut a table into parts of about `part_bytes` that workers can read at once and
    /// that, concatenated in order, give the same rows as one read. Engines that cannot address
    /// storage read a table whole.
    fn parts(&self, _table: &DataTable, _part_bytes: u64) -> Vec<TablePart> {
        vec![TablePart::WHOLE]
    }
}

/// A slice of a table by storage block: blocks `first..end` (`end: None` means to the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TablePart {
    pub first_block: u64,
    pub end_block: Option<u64>,
}

impl TablePart {
    pub const WHOLE: TablePart = TablePart {
        first_block: 0,
        end_block: None,
    };
}

/// One reader of an export.
pub trait ExportWorker: Send {
    /// Streams a part of the table's rows to `out`; returns the bytes written.
    fn copy_out(
        &mut self,
        table: &DataTable,
        part: &TablePart,
        out: &mut dyn std::io::Write,
    ) -> Result<u64>;
}

/// A session that loads a restore.
pub trait Loader: Send {
    /// Runs DDL statements in one transaction.
    fn run_script(&mut self, statements: &[String]) -> Result<()>;
    /// Loads a table's rows from COPY text in one transaction; returns the rows loaded.
    fn copy_in(&mut self, table: &DataTable, rows: &mut dyn std::io::Read) -> Result<u64>;
    /// Sets sequence positions.
    fn set_sequences(&mut self, sequences: &[SequenceState]) -> Result<()>;
}

/// How a plan is executed.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// Longest wait for a lock before a step gives up (so an apply never queues behind a
    /// long transaction and blocks the application behind it).
    pub lock_timeout: std::time::Duration,
    /// Scope of the verifying inspection (the same as the plan's).
    pub inspect: InspectOptions,
}

/// Opens a connection to the named database (read-only where the engine allows).
pub fn open(target: &Target) -> Result<Box<dyn Engine>> {
    match target {
        Target::Postgres(url) => Ok(Box::new(postgres::Postgres::connect(url)?)),
        Target::Sqlite(path) => Ok(Box::new(sqlite::Sqlite::open_read_only(path)?)),
    }
}

/// Inspects the named database: the library's one-call entry point. Returns the schema and
/// the engine's notes about objects it could not record.
pub fn inspect(target: &Target, options: &InspectOptions) -> Result<(Schema, Vec<String>)> {
    let mut engine = open(target)?;
    let schema = engine.inspect(options)?;
    Ok((schema, engine.notes()))
}

/// How an engine spells schema changes. The planner ([`crate::diff`]) decides *what* changes;
/// the dialect writes the SQL, with the hazards, inverse and pre-check of each statement.
pub trait Dialect: Sync {
    /// The whole schema's creation script, each statement tagged with its object, in an order
    /// the engine accepts on an empty database.
    fn creation_script(&self, schema: &Schema) -> Vec<Statement>;

    /// The step(s) running one statement of the target's creation script.
    fn create(&self, statement: &Statement, target: &Schema, context: CreateContext) -> Vec<Step>;

    /// The step(s) removing an object as it exists in `source`. `created_by` holds the
    /// source statements that created it (the inverse of the drop).
    fn drop(&self, key: &ObjectKey, source: &Schema, created_by: &[String]) -> Vec<Step>;

    /// How to turn table `from` into `to` without recreating it, if possible.
    fn alter_table(
        &self,
        from: &Table,
        to: &Table,
        source: &Schema,
        target: &Schema,
    ) -> TableChange;

    /// The steps that rebuild table `from` as `to` with its rows (the two may be the same),
    /// for a table the plan must rebuild whatever changed (see
    /// [`Dialect::rename_may_change_constraints`]); `None` when the engine has no rebuild.
    fn rebuild_table(
        &self,
        _from: &Table,
        _to: &Table,
        _source: &Schema,
        _target: &Schema,
    ) -> Option<Vec<Step>> {
        None
    }

    /// Whether renaming a table or its columns (`before` → `after`, as the model renames them)
    /// may rename constraints in a way the model cannot tell. SQLite names an unnamed
    /// constraint after its table and columns when it is read, and the model does not record
    /// which names were written out: after a rename, such a name may or may not follow. The
    /// planner then rebuilds the table, which writes every name out.
    fn rename_may_change_constraints(&self, _before: &Table, _after: &Table) -> bool {
        false
    }

    /// Whether `source_sql` and `target_sql`, two creation statements of object `key`, create
    /// the same object. By default they must be the same text; an engine that keeps
    /// definitions as written (SQLite) ignores differences it does not store.
    fn same_statement(&self, _key: &ObjectKey, source_sql: &str, target_sql: &str) -> bool {
        source_sql == target_sql
    }

    /// An in-place change of any other object, or `None` when it must be dropped and created.
    /// `target_sql` holds the target's creation statements of the object.
    fn alter_in_place(
        &self,
        key: &ObjectKey,
        source: &Schema,
        target: &Schema,
        target_sql: &[String],
    ) -> Option<InPlace>;

    fn rename_table(
        &self,
        old_schema: &str,
        old_name: &str,
        new_schema: &str,
        new_name: &str,
    ) -> String;
    fn rename_column(&self, schema: &str, table: &str, old: &str, new: &str) -> String;
    fn quote_ident(&self, name: &str) -> String;
    fn quote_qualified(&self, schema: &str, name: &str) -> String;

    /// The type a staging table ([`staging`]) gives a column, so that COPY text of `column`
    /// loads into it as it would into the column itself.
    fn staging_type(&self, column: &Column) -> String;
    /// An expression reading `value`, a staging column, as `column`'s type.
    fn read_staged(&self, value: &str, column: &Column) -> String;
    /// What an `INSERT … SELECT` says to write identity columns too (may be empty).
    fn insert_override(&self) -> &'static str;
}

/// Where a created statement stands in the plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateContext {
    /// The object existed before and was dropped earlier in the plan.
    pub recreated: bool,
    /// The table the object belongs to is created by this plan (so it is empty).
    pub table_is_new: bool,
    pub online: bool,
}

/// The outcome of comparing two versions of a table.
pub enum TableChange {
    /// Altered in place by these steps. `changed_columns` lists columns whose type changed or
    /// that were dropped: what reads them must be recreated around the change.
    InPlace {
        steps: Vec<Step>,
        changed_columns: Vec<String>,
    },
    /// Rebuilt with its rows under the same name, by these steps (SQLite's table rebuild:
    /// create the new version under another name, copy the rows, drop the old table, rename).
    /// The old table's indexes and triggers go with it, and views and triggers elsewhere that
    /// read it are in the way of the swap: the planner drops all of them before the rebuild and
    /// creates them again after it.
    Rebuild { steps: Vec<Step> },
    /// Must be dropped and created again (e.g. a different partition key).
    Recreate,
}

/// An in-place change of a non-table object.
pub struct InPlace {
    pub steps: Vec<Step>,
    /// `(table, column)` pairs whose type the change rewrites (an enum rebuilt).
    pub changed_columns: Vec<(String, String)>,
}

/// The dialect of an engine.
pub fn dialect(engine: EngineKind) -> Result<&'static dyn Dialect> {
    match engine {
        EngineKind::Postgres => Ok(&postgres::migrate::PostgresDialect),
        EngineKind::Sqlite => Ok(&sqlite::migrate::SqliteDialect),
    }
}

/// Deterministic DDL that recreates `schema` on an empty database of its engine.
pub fn render_sql(schema: &Schema) -> String {
    match schema.engine {
        EngineKind::Postgres => postgres::render::schema_sql(schema),
        EngineKind::Sqlite => sqlite::render::schema_sql(schema),
    }
}

/// Shell-style pattern match: `*` any run of characters, `?` one character.
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_patterns_match_bare_and_qualified_names() {
        let options = InspectOptions {
            exclude_tables: vec!["payment_p*".into(), "audit.*".into()],
            ..Default::default()
        };
        assert!(!options.keeps_relation("public", "payment_p2022_01"));
        assert!(!options.keeps_relation("audit", "log"));
        assert!(options.keeps_relation("public", "payment"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
    }
}
