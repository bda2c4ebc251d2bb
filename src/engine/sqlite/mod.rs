//! SQLite: inspection (`inspect.rs`), DDL rendering (`render.rs`), schema changes
//! (`migrate.rs`: the dialect; `migrate_table.rs`: in place or rebuilt; `rebuild.rs`: the
//! table rebuild; `execute.rs`: running a plan) and moving rows in and out for backup and
//! restore (`data.rs`), with the pieces they share: a tokenizer for stored SQL (`lexer.rs`),
//! the form in which definitions are compared (`canonical.rs`), a `CREATE TABLE` parser
//! (`create_table.rs`), the constraint naming rule and canonical clauses (`constraints.rs`)
//! and type affinity (`affinity.rs`).

mod affinity;
mod canonical;
mod constraints;
mod create_table;
pub mod data;
mod execute;
mod inspect;
pub(crate) mod lexer;
pub mod migrate;
mod migrate_table;
mod rebuild;
pub mod render;

use std::path::{Path, PathBuf};

use crate::diff::Step;
use crate::engine::{Engine, ExecuteOptions, Export, InspectOptions, Loader};
use crate::error::Result;
use crate::schema::{EngineKind, Schema};

/// An open SQLite database.
pub struct Sqlite {
    conn: rusqlite::Connection,
    display: String,
    path: PathBuf,
    /// Opened for writing ([`Sqlite::open_for_restore`]): only then may a loader write to it.
    writable: bool,
    /// What the last inspection could not record.
    notes: Vec<String>,
}

impl Sqlite {
    /// Opens an existing database file read-only; never creates one.
    pub fn open_read_only(path: &Path) -> Result<Sqlite> {
        crate::target::check_sqlite_file(path)?;
        Self::open(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY, false)
    }

    /// Opens a database file for a restore to write into, creating an empty one when `path`
    /// does not exist (its directory must). An existing file must be a SQLite database.
    pub fn open_for_restore(path: &Path) -> Result<Sqlite> {
        if path.exists() {
            crate::target::check_sqlite_file(path)?;
        }
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE;
        Self::open(path, flags, true)
    }

    fn open(path: &Path, flags: rusqlite::OpenFlags, writable: bool) -> Result<Sqlite> {
        let display = format!("sqlite:{}", path.display());
        let conn = rusqlite::Connection::open_with_flags(
            path,
            flags | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| crate::Error::Connect {
            target: display.clone(),
            cause: e.to_string(),
            hint: String::new(),
        })?;
        Ok(Sqlite {
            conn,
            display,
            path: path.to_path_buf(),
            writable,
            notes: Vec::new(),
        })
    }
}

impl Engine for Sqlite {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    fn inspect(&mut self, options: &InspectOptions) -> Result<Schema> {
        let (schema, notes) = inspect::inspect(&self.conn, &self.display, options)?;
        self.notes = notes;
        Ok(schema)
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    /// Runs the plan on a connection of its own, opened for writing: inspection and
    /// pre-checks need only read, so they also work on a file this process may not write.
    fn execute(
        &mut self,
        steps: &[Step],
        options: &ExecuteOptions,
        verify: &mut dyn FnMut(&Schema) -> Result<()>,
    ) -> Result<()> {
        execute::execute(&self.path, &self.display, steps, options, verify)
    }

    fn export(&mut self, options: &InspectOptions) -> Result<Box<dyn Export>> {
        let (export, notes) = data::begin_export(&self.conn, &self.display, options)?;
        self.notes = notes;
        Ok(Box::new(export))
    }

    fn loader(&self) -> Result<Box<dyn Loader>> {
        if !self.writable {
            return Err(crate::Error::Unsupported(format!(
                "{}: opened read-only; a restore must open it with Sqlite::open_for_restore",
                self.display
            )));
        }
        Ok(Box::new(data::SqliteLoader::open(
            &self.path,
            &self.display,
        )?))
    }

    /// Runs a pre-check. SQLite reads a double-quoted name that matches no column as a
    /// string, which would make a pre-check naming a column that does not exist yet count
    /// nothing; such names are errors while the query runs.
    fn count(&mut self, sql: &str) -> Result<i64> {
        let error = |e: rusqlite::Error| crate::Error::Query {
            target: self.display.clone(),
            what: format!("pre-check `{sql}`"),
            cause: e.to_string(),
        };
        let dqs = rusqlite::config::DbConfig::SQLITE_DBCONFIG_DQS_DML;
        let quoted_strings = self.conn.db_config(dqs).map_err(error)?;
        self.conn.set_db_config(dqs, false).map_err(error)?;
        let count = self.conn.query_row(sql, [], |row| row.get(0));
        self.conn
            .set_db_config(dqs, quoted_strings)
            .map_err(error)?;
        count.map_err(error)
    }
}

/// Replaces the whole content of the database file `target` with that of `source`, in one
/// step through SQLite's online backup API (which also handles a write-ahead log and other
/// connections correctly, unlike renaming files). How `restore --clean` empties a SQLite
/// target: the backup is restored into a fresh file first, then copied over.
pub fn replace_contents(target: &Path, source: &Path) -> Result<()> {
    let display = format!("sqlite:{}", target.display());
    let failed = |cause: rusqlite::Error| crate::Error::Query {
        target: display.clone(),
        what: format!("replacing its contents with {}", source.display()),
        cause: cause.to_string(),
    };
    let mut conn = rusqlite::Connection::open_with_flags(
        target,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    conn.restore(
        rusqlite::MAIN_DB,
        source,
        None::<fn(rusqlite::backup::Progress)>,
    )
    .map_err(failed)
}
