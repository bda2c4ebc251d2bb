//! SQLite: inspection (`inspect.rs`) and DDL rendering (`render.rs`), with the pieces they
//! share: a tokenizer for stored SQL (`lexer.rs`), a `CREATE TABLE` parser (`create_table.rs`)
//! and the constraint naming rule and canonical clauses (`constraints.rs`).

mod constraints;
mod create_table;
mod inspect;
mod lexer;
pub mod render;

use std::path::Path;

use crate::diff::Step;
use crate::engine::{Engine, ExecuteOptions, InspectOptions};
use crate::error::Result;
use crate::schema::{EngineKind, Schema};

/// An open SQLite database.
pub struct Sqlite {
    conn: rusqlite::Connection,
    display: String,
    /// What the last inspection could not record.
    notes: Vec<String>,
}

impl Sqlite {
    /// Opens an existing database file read-only; never creates one.
    pub fn open_read_only(path: &Path) -> Result<Sqlite> {
        crate::target::check_sqlite_file(path)?;
        let display = format!("sqlite:{}", path.display());
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| crate::Error::Connect {
            target: display.clone(),
            cause: e.to_string(),
            hint: String::new(),
        })?;
        Ok(Sqlite {
            conn,
            display,
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

    fn execute(
        &mut self,
        _steps: &[Step],
        _options: &ExecuteOptions,
        _verify: &mut dyn FnMut(&Schema) -> Result<()>,
    ) -> Result<()> {
        Err(crate::Error::Unsupported(format!(
            "{}: applying schema changes to SQLite is not supported yet",
            self.display
        )))
    }

    fn count(&mut self, sql: &str) -> Result<i64> {
        self.conn
            .query_row(sql, [], |row| row.get(0))
            .map_err(|e| crate::Error::Query {
                target: self.display.clone(),
                what: format!("pre-check `{sql}`"),
                cause: e.to_string(),
            })
    }
}
