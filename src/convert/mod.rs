//! Cross-engine conversion: a schema of one engine → the same schema for the other, with a
//! [`Report`] of every mapping that is a choice, a guess or a loss.
//!
//! SQLite → PostgreSQL is the main direction (develop on SQLite, run PostgreSQL):
//! `sqlite_to_postgres.rs` (tables, columns, keys, checks, foreign keys) and
//! `sqlite_objects.rs` (indexes, views, triggers), over the expression translator
//! (`expressions.rs`, with the function mapping in `functions.rs`) and the type mapping
//! (`types.rs`). PostgreSQL → SQLite (`postgres_to_sqlite.rs`, over `pg_expressions.rs` and
//! `pg_indexes.rs`) covers what SQLite can hold: tables, columns, keys, foreign keys, indexes,
//! simple defaults and checks, enums as TEXT with a CHECK.
//!
//! A conversion never fails because one object cannot be translated: the object is left out
//! and named in the report ([`Severity::Omitted`]); callers refuse such a result unless the
//! user passed `--allow-lossy` ([`Report::check_lossless`]). `settle.rs` proves a result by
//! loading it into a real database of the target engine and keeps that database's spelling.
//! `rows.rs` adapts a SQLite backup's row stream to the converted PostgreSQL tables, value by
//! value (`values.rs`, `time_strings.rs`).
//!
//! Used by `strata convert`, by `strata apply`/`diff` when the schema file and the database
//! are of different engines, and by `strata restore` of a SQLite backup into PostgreSQL.

mod expressions;
mod functions;
mod pg_expressions;
mod pg_indexes;
mod postgres_to_sqlite;
pub mod report;
pub mod rows;
pub mod settle;
mod sqlite_objects;
mod sqlite_to_postgres;
mod time_strings;
pub mod types;
mod values;

pub use report::{Entry, Report, Severity};

use crate::error::{Error, Result};
use crate::schema::{
    Column, Constraint, EngineKind, ForeignKeyTarget, Generated, GeneratedStorage, Index, Schema,
    Table,
};

/// The PostgreSQL schema a converted SQLite schema lives in.
pub const POSTGRES_NAMESPACE: &str = "public";

/// A converted schema and what the conversion chose, guessed or left out.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub schema: Schema,
    pub report: Report,
}

/// Converts `source` to engine `to`, without a server: a conversion to SQLite is still
/// validated (in a temporary SQLite database); a conversion to PostgreSQL is the translation
/// as written — [`settle::on_postgres`] validates it on a server.
pub fn convert(source: &Schema, to: EngineKind) -> Result<Conversion> {
    check_direction(source, to)?;
    match (source.engine, to) {
        (EngineKind::Sqlite, EngineKind::Postgres) => {
            let (schema, report) = sqlite_to_postgres::convert(source, POSTGRES_NAMESPACE);
            Ok(Conversion { schema, report })
        }
        (EngineKind::Postgres, EngineKind::Sqlite) => {
            let (model, mut report) = postgres_to_sqlite::convert(source);
            let schema = settle::on_sqlite(&model)?;
            report.validated = true;
            Ok(Conversion { schema, report })
        }
        (from, to) => Err(same_engine(from, to)),
    }
}

/// Refuses a conversion to the engine the schema already is of.
pub fn check_direction(source: &Schema, to: EngineKind) -> Result<()> {
    if source.engine == to {
        return Err(same_engine(source.engine, to));
    }
    Ok(())
}

fn same_engine(from: EngineKind, to: EngineKind) -> Error {
    Error::Unsupported(format!(
        "the schema is already a {from} schema — there is nothing to convert to {to}"
    ))
}

/// The PostgreSQL version converted schemas are written for.
pub use sqlite_to_postgres::POSTGRES_VERSION;

/// A table with nothing but columns, keys, checks and indexes: what a converted table is.
fn plain_table(
    schema: String,
    name: &str,
    columns: Vec<Column>,
    constraints: Vec<Constraint>,
    indexes: Vec<Index>,
    comment: Option<String>,
) -> Table {
    Table {
        schema,
        name: name.to_string(),
        renamed_from: None,
        unlogged: false,
        partition_by: None,
        partition_of: None,
        inherits: vec![],
        columns,
        constraints,
        indexes,
        triggers: vec![],
        rules: vec![],
        row_level_security: false,
        force_row_level_security: false,
        policies: vec![],
        replica_identity: None,
        options: vec![],
        without_rowid: false,
        strict: false,
        comment,
        access: Default::default(),
    }
}

/// ` ON UPDATE … ON DELETE … DEFERRABLE …` of a foreign key, as both engines write it.
fn foreign_key_actions(target: &ForeignKeyTarget, key: &Constraint) -> String {
    let mut text = String::new();
    for (event, action) in [("UPDATE", &target.on_update), ("DELETE", &target.on_delete)] {
        if action != "no action" {
            text.push_str(&format!(" ON {event} {}", action.to_ascii_uppercase()));
        }
    }
    match (key.deferrable, key.initially_deferred) {
        (true, true) => text.push_str(" DEFERRABLE INITIALLY DEFERRED"),
        (true, false) => text.push_str(" DEFERRABLE"),
        _ => {}
    }
    text
}

/// A generated column's translated expression (always STORED: the one storage both engines
/// have), or `None` with the column reported as left out.
fn generated_column(
    report: &mut Report,
    object: &str,
    expression: &str,
    translated: std::result::Result<String, String>,
) -> Option<Generated> {
    match translated {
        Ok(expression) => Some(Generated {
            expression,
            storage: GeneratedStorage::Stored,
        }),
        Err(reason) => {
            report.omit("generated column", object, expression, reason);
            None
        }
    }
}
