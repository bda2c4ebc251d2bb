//! Schema model → SQLite DDL that recreates the schema in an empty database.
//!
//! One keyed renderer ([`statements`]) serves the snapshot's `--format sql`, the restore's
//! phases and the planner's creation script. The output is deterministic: tables in name order
//! (SQLite does not check foreign keys when a table is created, so no dependency order is
//! needed), then their indexes, then views ordered so each comes after the views it reads, then
//! triggers (last, because their bodies may name any table or view). Table and column names
//! are always double-quoted; constraints are always emitted with their names, so inspecting
//! the result gives back the same model.

use std::collections::HashSet;

use super::constraints::collation_sql;
use super::create_table::{parse_constraint_clause, ConstraintBody};
use super::lexer::quote_ident;
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{Column, Constraint, ConstraintKind, GeneratedStorage, Schema, Table, View};

/// Deterministic DDL that recreates `schema` in an empty SQLite database.
pub fn schema_sql(schema: &Schema) -> String {
    statements(schema)
        .iter()
        .map(|s| format!("{}\n", s.sql))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The creation script, each statement (with its semicolon) tagged with the object it
/// creates: `Table`, `Index`, `View`, and `Trigger` keyed by the table or view it is on.
/// Names in keys are the raw names (SQLite has no schemas). Columns and constraints are part
/// of their table's `CREATE TABLE`: SQLite has no other way to declare them.
pub fn statements(schema: &Schema) -> Vec<Statement> {
    let mut schema = schema.clone();
    schema.canonicalize();
    let statement = |key: ObjectKey, sql: &str| Statement {
        key,
        sql: format!("{sql};"),
    };
    let mut script: Vec<Statement> = schema
        .tables
        .iter()
        .map(|t| {
            let key = ObjectKey::Table {
                name: t.name.clone(),
            };
            statement(key, &create_table(t, &t.name))
        })
        .collect();
    for index in schema.tables.iter().flat_map(|t| &t.indexes) {
        let key = ObjectKey::Index {
            name: index.name.clone(),
        };
        script.push(statement(key, &index.definition));
    }
    for view in views_in_creation_order(&schema.views) {
        let key = ObjectKey::View {
            name: view.name.clone(),
        };
        script.push(statement(key, &view.definition));
    }
    let table_triggers = schema
        .tables
        .iter()
        .flat_map(|t| t.triggers.iter().map(move |tr| (&t.name, tr)));
    let view_triggers = schema
        .views
        .iter()
        .flat_map(|v| v.triggers.iter().map(move |tr| (&v.name, tr)));
    for (on, trigger) in table_triggers.chain(view_triggers) {
        let key = ObjectKey::Trigger {
            table: on.clone(),
            name: trigger.name.clone(),
        };
        script.push(statement(key, &trigger.definition));
    }
    script
}

/// The creation script split for a restore: the tables (with their keys, checks and foreign
/// keys, which SQLite only accepts inside `CREATE TABLE`), then what is best built once the
/// rows are in — indexes, views and triggers (so no trigger fires while rows are loaded).
/// Statements carry no trailing semicolon.
pub fn creation_phases(schema: &Schema) -> (Vec<String>, Vec<String>) {
    let (tables, post): (Vec<Statement>, Vec<Statement>) = statements(schema)
        .into_iter()
        .partition(|s| matches!(s.key, ObjectKey::Table { .. }));
    let bare = |list: Vec<Statement>| -> Vec<String> {
        list.into_iter()
            .map(|s| s.sql.trim_end_matches(';').to_string())
            .collect()
    };
    (bare(tables), bare(post))
}

/// `CREATE TABLE "name" (columns, constraints) [WITHOUT ROWID][, STRICT]` for `table`, under
/// `name` (a rebuild creates the new version of a table under a temporary name).
pub(super) fn create_table(table: &Table, name: &str) -> String {
    let autoincrement_key = autoincrement_key(table);
    let mut lines: Vec<String> = table
        .columns
        .iter()
        .map(|c| column_sql(c, autoincrement_key.filter(|_| is_autoincrement(c))))
        .collect();
    for constraint in &table.constraints {
        if !autoincrement_key.is_some_and(|k| std::ptr::eq(k, constraint)) {
            lines.push(format!(
                "CONSTRAINT {} {}",
                quote_ident(&constraint.name),
                constraint.definition
            ));
        }
    }
    let mut options = vec![];
    if table.without_rowid {
        options.push("WITHOUT ROWID");
    }
    if table.strict {
        options.push("STRICT");
    }
    let suffix = if options.is_empty() {
        String::new()
    } else {
        format!(" {}", options.join(", "))
    };
    format!(
        "CREATE TABLE {} (\n    {}\n){suffix}",
        quote_ident(name),
        lines.join(",\n    ")
    )
}

fn is_autoincrement(column: &Column) -> bool {
    column.identity.as_ref().is_some_and(|i| i.autoincrement)
}

/// The primary key an AUTOINCREMENT column must carry on its own definition (SQLite accepts
/// AUTOINCREMENT only on a column's `INTEGER PRIMARY KEY`).
fn autoincrement_key(table: &Table) -> Option<&Constraint> {
    let column = table.columns.iter().find(|c| is_autoincrement(c))?;
    table
        .constraints
        .iter()
        .find(|k| k.kind == ConstraintKind::PrimaryKey && k.columns == [column.name.clone()])
}

/// `"name" TYPE [COLLATE c] [NOT NULL] [DEFAULT d] [GENERATED ALWAYS AS (e) STORED]
/// [CONSTRAINT "k" PRIMARY KEY … AUTOINCREMENT]`
pub(super) fn column_sql(column: &Column, autoincrement_key: Option<&Constraint>) -> String {
    let mut parts = vec![quote_ident(&column.name)];
    if !column.data_type.is_empty() {
        parts.push(column.data_type.clone());
    }
    if let Some(collation) = &column.collation {
        parts.push(format!("COLLATE {}", collation_sql(collation)));
    }
    if column.not_null {
        parts.push("NOT NULL".into());
    }
    if let Some(default) = &column.default {
        parts.push(format!("DEFAULT {default}"));
    }
    if let Some(generated) = &column.generated {
        let storage = match generated.storage {
            GeneratedStorage::Stored => "STORED",
            GeneratedStorage::Virtual => "VIRTUAL",
        };
        parts.push(format!(
            "GENERATED ALWAYS AS ({}) {storage}",
            generated.expression
        ));
    }
    if is_autoincrement(column) {
        parts.push(autoincrement_key_sql(autoincrement_key));
    }
    parts.join(" ")
}

/// `[CONSTRAINT "k"] PRIMARY KEY [ON CONFLICT x] AUTOINCREMENT`, keeping the key's name and
/// conflict resolution from its table-level definition.
fn autoincrement_key_sql(key: Option<&Constraint>) -> String {
    let Some(key) = key else {
        return "PRIMARY KEY AUTOINCREMENT".into();
    };
    let conflict = match parse_constraint_clause(&key.definition).map(|c| c.body) {
        Ok(ConstraintBody::PrimaryKey {
            conflict: Some(resolution),
            ..
        }) => format!(" ON CONFLICT {resolution}"),
        _ => String::new(),
    };
    format!(
        "CONSTRAINT {} PRIMARY KEY{conflict} AUTOINCREMENT",
        quote_ident(&key.name)
    )
}

/// Views in name order, except that a view comes after the views it depends on. A cycle
/// (possible only through an over-approximated `depends_on`) is broken in name order.
fn views_in_creation_order(views: &[View]) -> Vec<&View> {
    let names: HashSet<&str> = views.iter().map(|v| v.name.as_str()).collect();
    let mut remaining: Vec<&View> = views.iter().collect();
    remaining.sort_by(|a, b| a.name.cmp(&b.name));
    let mut created: HashSet<&str> = HashSet::new();
    let mut order = Vec::with_capacity(views.len());
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|v| {
            v.depends_on.iter().all(|d| {
                d == &v.name || !names.contains(d.as_str()) || created.contains(d.as_str())
            })
        });
        let view = remaining.remove(ready.unwrap_or(0));
        created.insert(view.name.as_str());
        order.push(view);
    }
    order
}
