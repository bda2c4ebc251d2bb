//! SQLite catalog (`sqlite_schema`, `PRAGMA table_list`, `PRAGMA table_xinfo`) → schema model.
//!
//! The PRAGMAs are the authority on what they report reliably: which columns a table has, in
//! which order, whether they are NOT NULL or generated (and how), and whether the table is
//! STRICT or WITHOUT ROWID. Everything else — declared types as written, DEFAULT and
//! generated expressions, COLLATE, constraint names, CHECK expressions, foreign-key clauses,
//! AUTOINCREMENT — is read from the stored `CREATE TABLE` text (`create_table.rs`), because the
//! PRAGMAs either do not report it or report it rewritten. Index, view and trigger definitions
//! are the stored statements, normalized (`lexer::normalize_statement`).
//!
//! Inspection runs in one read transaction, so a concurrent writer cannot change the schema
//! halfway through. Nothing here writes to the database.

use std::collections::HashMap;

use super::constraints::{canonical_collation, model_constraints, ParentTable};
use super::create_table::{parse_create_table, ColumnDefinition, ConstraintBody, TableDefinition};
use super::lexer::{self, TokenKind};
use crate::engine::InspectOptions;
use crate::error::{Error, Result};
use crate::schema::{
    Access, Column, EngineKind, Generated, GeneratedStorage, Identity, IdentityGeneration, Index,
    Schema, Table, Trigger, View,
};

/// The server version recorded for every SQLite schema: the library's major version.
const SQLITE_MAJOR_VERSION: &str = "3";

/// Reads the schema, and notes (one line each) about objects the model cannot record yet.
pub(super) fn inspect(
    conn: &rusqlite::Connection,
    display: &str,
    options: &InspectOptions,
) -> Result<(Schema, Vec<String>)> {
    // One read transaction, unless the caller already holds one (an apply verifying its work
    // before it commits).
    let transaction = if conn.is_autocommit() {
        Some(
            conn.unchecked_transaction()
                .map_err(query_error(display, "starting a read transaction"))?,
        )
    } else {
        None
    };
    let catalog = Catalog { conn, display };
    let entries = catalog.entries()?;
    let mut notes = vec![];
    let tables = catalog.ordinary_tables(&entries, options, &mut notes)?;
    let parents = parent_tables(&tables);
    let relations = relation_names(&entries);

    let mut schema = Schema::new(EngineKind::Sqlite, SQLITE_MAJOR_VERSION);
    for facts in tables
        .iter()
        .filter(|t| options.keeps_relation("", &t.name))
    {
        schema
            .tables
            .push(model_table(facts, &parents, display, &mut notes)?);
    }
    for entry in entries.iter().filter(|e| e.kind == "view") {
        if options.keeps_relation("", &entry.name) {
            schema.views.push(model_view(entry, &relations, display)?);
        }
    }
    attach_indexes_and_triggers(&mut schema, &entries, display)?;
    schema.canonicalize();
    drop(transaction);
    Ok((schema, notes))
}

/// One row of `sqlite_schema`.
struct CatalogEntry {
    /// `table`, `index`, `view` or `trigger`.
    kind: String,
    name: String,
    /// The table or view an index or trigger belongs to (the object itself otherwise).
    table: String,
    /// NULL for the automatic indexes behind PRIMARY KEY and UNIQUE constraints.
    sql: Option<String>,
}

/// What the PRAGMAs say about an ordinary table, with its stored `CREATE TABLE` text.
struct TableFacts {
    name: String,
    sql: String,
    columns: Vec<ColumnFacts>,
    /// How many foreign keys `PRAGMA foreign_key_list` reports: a check on the parser.
    foreign_keys: usize,
    without_rowid: bool,
    strict: bool,
}

/// One row of `PRAGMA table_xinfo`.
struct ColumnFacts {
    name: String,
    not_null: bool,
    /// 1-based position in the primary key, 0 when not part of it.
    primary_key_position: i64,
    /// 0 ordinary, 2 generated VIRTUAL, 3 generated STORED.
    hidden: i64,
}

struct Catalog<'c> {
    conn: &'c rusqlite::Connection,
    display: &'c str,
}

impl Catalog<'_> {
    /// Every object of the main database except SQLite's own (`sqlite_*`).
    fn entries(&self) -> Result<Vec<CatalogEntry>> {
        let what = "reading sqlite_schema";
        let mut statement = self
            .conn
            .prepare(
                "SELECT type, name, tbl_name, sql FROM main.sqlite_schema \
                 WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
            )
            .map_err(query_error(self.display, what))?;
        let rows = statement
            .query_map([], |row| {
                Ok(CatalogEntry {
                    kind: row.get(0)?,
                    name: row.get(1)?,
                    table: row.get(2)?,
                    sql: row.get(3)?,
                })
            })
            .map_err(query_error(self.display, what))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(query_error(self.display, what))
    }

    /// The ordinary tables, with their columns. A virtual table has no place in the model
    /// yet: it is skipped with a note (unless excluded anyway), and so are the shadow tables
    /// that hold its data, which its module recreates.
    fn ordinary_tables(
        &self,
        entries: &[CatalogEntry],
        options: &InspectOptions,
        notes: &mut Vec<String>,
    ) -> Result<Vec<TableFacts>> {
        let kinds = self.table_kinds()?;
        let mut tables = vec![];
        for entry in entries.iter().filter(|e| e.kind == "table") {
            let Some((kind, without_rowid, strict)) = kinds.get(&entry.name) else {
                continue;
            };
            match kind.as_str() {
                "table" => {}
                "virtual" if options.keeps_relation("", &entry.name) => {
                    notes.push(virtual_table_note(entry));
                    continue;
                }
                _ => continue,
            }
            let sql = entry.sql.clone().ok_or_else(|| Error::Query {
                target: self.display.to_string(),
                what: format!("reading table {:?}", entry.name),
                cause: "sqlite_schema holds no CREATE TABLE text for it".into(),
            })?;
            tables.push(TableFacts {
                name: entry.name.clone(),
                sql,
                columns: self.columns(&entry.name)?,
                foreign_keys: self.foreign_key_count(&entry.name)?,
                without_rowid: *without_rowid,
                strict: *strict,
            });
        }
        Ok(tables)
    }

    /// `PRAGMA table_list`: name → (type, WITHOUT ROWID, STRICT) for the main database.
    fn table_kinds(&self) -> Result<HashMap<String, (String, bool, bool)>> {
        let what = "reading PRAGMA table_list";
        let mut statement = self
            .conn
            .prepare("SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'")
            .map_err(query_error(self.display, what))?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get(0)?, (row.get(1)?, row.get(2)?, row.get(3)?)))
            })
            .map_err(query_error(self.display, what))?;
        rows.collect::<rusqlite::Result<HashMap<_, _>>>()
            .map_err(query_error(self.display, what))
    }

    fn columns(&self, table: &str) -> Result<Vec<ColumnFacts>> {
        let what = format!("reading the columns of table {table:?}");
        let mut statement = self
            .conn
            .prepare(
                "SELECT name, \"notnull\", pk, hidden FROM pragma_table_xinfo(?1, 'main') \
                 ORDER BY cid",
            )
            .map_err(query_error(self.display, &what))?;
        let rows = statement
            .query_map([table], |row| {
                Ok(ColumnFacts {
                    name: row.get(0)?,
                    not_null: row.get(1)?,
                    primary_key_position: row.get(2)?,
                    hidden: row.get(3)?,
                })
            })
            .map_err(query_error(self.display, &what))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(query_error(self.display, &what))
    }

    fn foreign_key_count(&self, table: &str) -> Result<usize> {
        let what = format!("reading the foreign keys of table {table:?}");
        self.conn
            .query_row(
                "SELECT count(DISTINCT id) FROM pragma_foreign_key_list(?1, 'main')",
                [table],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(query_error(self.display, &what))
    }
}

fn virtual_table_note(entry: &CatalogEntry) -> String {
    let module = entry.sql.as_deref().and_then(|sql| {
        let tokens = lexer::tokenize(sql).ok()?;
        let using = tokens.iter().position(|t| t.is_keyword("USING"))?;
        tokens
            .get(using + 1)
            .map(|t| format!(" (USING {})", t.text))
    });
    format!(
        "virtual table {:?}{} not recorded (this object kind is not covered yet)",
        entry.name,
        module.unwrap_or_default()
    )
}

/// Every table, by lowercase name (SQLite names are case-insensitive), as foreign keys see it.
fn parent_tables(tables: &[TableFacts]) -> HashMap<String, ParentTable> {
    tables
        .iter()
        .map(|t| {
            let mut key: Vec<&ColumnFacts> = t
                .columns
                .iter()
                .filter(|c| c.primary_key_position > 0)
                .collect();
            key.sort_by_key(|c| c.primary_key_position);
            let parent = ParentTable {
                name: t.name.clone(),
                columns: t.columns.iter().map(|c| c.name.clone()).collect(),
                primary_key: key.iter().map(|c| c.name.clone()).collect(),
            };
            (t.name.to_lowercase(), parent)
        })
        .collect()
}

/// Tables and views by lowercase name, mapped to their spelling.
fn relation_names(entries: &[CatalogEntry]) -> HashMap<String, String> {
    entries
        .iter()
        .filter(|e| e.kind == "table" || e.kind == "view")
        .map(|e| (e.name.to_lowercase(), e.name.clone()))
        .collect()
}

fn model_table(
    facts: &TableFacts,
    parents: &HashMap<String, ParentTable>,
    display: &str,
    notes: &mut Vec<String>,
) -> Result<Table> {
    let definition_error = |cause| definition_error(display, "table", &facts.name, cause);
    let definition = parse_create_table(&facts.sql).map_err(definition_error)?;
    check_against_pragmas(&definition, facts).map_err(definition_error)?;
    let mut columns = vec![];
    for (parsed, pragma) in definition.columns.iter().zip(&facts.columns) {
        if let Some(resolution) = &parsed.not_null_conflict {
            notes.push(format!(
                "column {:?}.{:?}: NOT NULL ON CONFLICT {resolution} not recorded (the model has \
                 no place for it)",
                facts.name, parsed.name
            ));
        }
        columns.push(model_column(parsed, pragma).map_err(definition_error)?);
    }
    let column_names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let constraints = model_constraints(
        &facts.name,
        &column_names,
        &definition.constraints,
        |name| parents.get(&name.to_lowercase()).cloned(),
    );
    Ok(Table {
        schema: String::new(),
        name: facts.name.clone(),
        renamed_from: None,
        unlogged: false,
        partition_by: None,
        partition_of: None,
        inherits: vec![],
        columns,
        constraints,
        indexes: vec![],
        triggers: vec![],
        rules: vec![],
        row_level_security: false,
        force_row_level_security: false,
        policies: vec![],
        replica_identity: None,
        options: vec![],
        without_rowid: facts.without_rowid,
        strict: facts.strict,
        comment: None,
        access: Access::default(),
    })
}

/// The parser must see the columns and foreign keys SQLite itself reports; a disagreement
/// means the text was misread, and a wrong snapshot is worse than an error.
fn check_against_pragmas(
    definition: &TableDefinition,
    facts: &TableFacts,
) -> std::result::Result<(), String> {
    let declared: Vec<&str> = definition.columns.iter().map(|c| c.name.as_str()).collect();
    let reported: Vec<&str> = facts.columns.iter().map(|c| c.name.as_str()).collect();
    if declared != reported {
        return Err(format!(
            "its CREATE TABLE text declares columns {declared:?} but PRAGMA table_xinfo \
             reports {reported:?}"
        ));
    }
    let foreign_keys = definition
        .constraints
        .iter()
        .filter(|c| matches!(c.body, ConstraintBody::ForeignKey { .. }))
        .count();
    if foreign_keys != facts.foreign_keys {
        return Err(format!(
            "its CREATE TABLE text declares {foreign_keys} foreign keys but PRAGMA \
             foreign_key_list reports {}",
            facts.foreign_keys
        ));
    }
    Ok(())
}

fn model_column(
    parsed: &ColumnDefinition,
    pragma: &ColumnFacts,
) -> std::result::Result<Column, String> {
    let storage = match pragma.hidden {
        2 => Some(GeneratedStorage::Virtual),
        3 => Some(GeneratedStorage::Stored),
        _ => None,
    };
    let generated = match (storage, &parsed.generated) {
        (Some(storage), Some(expression)) => Some(Generated {
            expression: expression.clone(),
            storage,
        }),
        (None, None) => None,
        _ => {
            return Err(format!(
                "column {:?}: the CREATE TABLE text and PRAGMA table_xinfo disagree on whether \
                 it is generated",
                parsed.name
            ))
        }
    };
    // AUTOINCREMENT is SQLite's identity: values come from sqlite_sequence unless given.
    let identity = parsed.autoincrement.then_some(Identity {
        generation: IdentityGeneration::ByDefault,
        sequence: None,
        options: None,
        autoincrement: true,
    });
    Ok(Column {
        name: pragma.name.clone(),
        renamed_from: None,
        data_type: parsed.data_type.clone(),
        collation: parsed.collation.as_deref().map(canonical_collation),
        not_null: pragma.not_null,
        default: parsed.default.clone(),
        identity,
        generated,
        inherited: false,
        comment: None,
    })
}

fn model_view(
    entry: &CatalogEntry,
    relations: &HashMap<String, String>,
    display: &str,
) -> Result<View> {
    let definition = stored_definition(entry, display)?;
    Ok(View {
        schema: String::new(),
        name: entry.name.clone(),
        materialized: false,
        depends_on: view_dependencies(&definition, &entry.name, relations),
        definition,
        check_option: None,
        options: vec![],
        populated: true,
        column_comments: vec![],
        indexes: vec![],
        triggers: vec![],
        rules: vec![],
        comment: None,
        access: Access::default(),
    })
}

/// Tables and views a view's query names, best effort: every name token after the view's
/// own `AS` that is the name of a relation, except `x.name` (a column), `AS name` (an alias)
/// and `name(` (a function). It may over-approximate (a column spelled like a table); it only orders
/// creation, and rendering tolerates cycles.
fn view_dependencies(
    definition: &str,
    view: &str,
    relations: &HashMap<String, String>,
) -> Vec<String> {
    let Ok(tokens) = lexer::tokenize(definition) else {
        return vec![];
    };
    let query_start = tokens
        .iter()
        .position(|t| t.is_keyword("AS"))
        .map_or(tokens.len(), |i| i + 1);
    let mut names = vec![];
    for (i, token) in tokens.iter().enumerate().skip(query_start) {
        let is_identifier = matches!(token.kind, TokenKind::Word | TokenKind::QuotedIdent);
        let previous = i.checked_sub(1).and_then(|p| tokens.get(p));
        let column_or_alias = previous.is_some_and(|t| t.is_punct(".") || t.is_keyword("AS"));
        let function = tokens.get(i + 1).is_some_and(|t| t.is_punct("("));
        if !is_identifier || column_or_alias || function {
            continue;
        }
        if let Some(relation) = relations.get(&token.name().to_lowercase()) {
            if !relation.eq_ignore_ascii_case(view) {
                names.push(relation.clone());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Puts each stored index and trigger on the table or view it belongs to; objects of
/// excluded relations are left out with them. Automatic indexes (no SQL) belong to their
/// PRIMARY KEY or UNIQUE constraint.
fn attach_indexes_and_triggers(
    schema: &mut Schema,
    entries: &[CatalogEntry],
    display: &str,
) -> Result<()> {
    for entry in entries {
        match entry.kind.as_str() {
            "index" if entry.sql.is_some() => {
                if let Some(table) = schema.tables.iter_mut().find(|t| t.name == entry.table) {
                    table.indexes.push(Index {
                        name: entry.name.clone(),
                        definition: stored_definition(entry, display)?,
                        attached_to: None,
                        invalid: false,
                        comment: None,
                    });
                }
            }
            "trigger" => {
                let trigger = Trigger {
                    name: entry.name.clone(),
                    definition: stored_definition(entry, display)?,
                    enabled: "origin".into(),
                    inherited: false,
                    comment: None,
                };
                if let Some(table) = schema.tables.iter_mut().find(|t| t.name == entry.table) {
                    table.triggers.push(trigger);
                } else if let Some(view) = schema.views.iter_mut().find(|v| v.name == entry.table) {
                    view.triggers.push(trigger);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The stored statement of an index, view or trigger, normalized.
fn stored_definition(entry: &CatalogEntry, display: &str) -> Result<String> {
    let sql = entry.sql.as_deref().ok_or_else(|| {
        definition_error(
            display,
            &entry.kind,
            &entry.name,
            "sqlite_schema holds no SQL for it",
        )
    })?;
    lexer::normalize_statement(sql)
        .map_err(|cause| definition_error(display, &entry.kind, &entry.name, cause))
}

fn query_error<'a>(
    display: &'a str,
    what: impl Into<String> + 'a,
) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
    move |e| Error::Query {
        target: display.to_string(),
        what: what.into(),
        cause: e.to_string(),
    }
}

/// A stored definition strata could not read: names the object, so the user can find it.
fn definition_error(display: &str, kind: &str, name: &str, cause: impl std::fmt::Display) -> Error {
    Error::Query {
        target: display.to_string(),
        what: format!("reading the definition of {kind} {name:?}"),
        cause: cause.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_dependencies_skip_columns_aliases_and_functions() {
        let relations: HashMap<String, String> = ["Orders", "order total", "max", "v", "total"]
            .iter()
            .map(|n| (n.to_lowercase(), n.to_string()))
            .collect();
        let definition = "CREATE VIEW v AS SELECT o.total, max(o.id) AS total \
                          FROM orders o JOIN [Order Total] t ON t.v = o.id";
        assert_eq!(
            view_dependencies(definition, "v", &relations),
            ["Orders", "order total"]
        );
    }

    #[test]
    fn inspecting_an_empty_database_gives_an_empty_schema() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let (schema, notes) =
            inspect(&conn, "sqlite::memory:", &InspectOptions::default()).unwrap();
        assert_eq!(schema, Schema::new(EngineKind::Sqlite, "3"));
        assert!(notes.is_empty());
    }

    #[test]
    fn a_not_null_conflict_clause_is_noted() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INT NOT NULL ON CONFLICT REPLACE DEFAULT 0)")
            .unwrap();
        let (schema, notes) = inspect(&conn, "mem", &InspectOptions::default()).unwrap();
        assert!(schema.tables[0].columns[0].not_null);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("NOT NULL ON CONFLICT REPLACE"),
            "{}",
            notes[0]
        );
    }
}
