//! Putting a table's rows back from a staging table, inside a plan's transaction (rollback).
//!
//! The rows come from a backup and are first loaded, outside the transaction, into a staging
//! table of the same column names (types as the dialect chooses: PostgreSQL stages text, which
//! the backup's COPY text loads into whatever types were dropped since). The statements here
//! then run as plan steps: rows are matched by primary key — existing rows get every column
//! back, missing rows are inserted — so foreign keys from other tables never see their parent
//! rows disappear, and rows written since the backup stay. A table without a primary key is
//! emptied and filled again. Only the SQL is written here; when it runs is the rollback's call.
//!
//! A table the rollback drops and creates again (to give a PostgreSQL table its column order
//! back) first has its rows copied into a *keep* table inside the transaction; once the table
//! is back, the kept rows the backup does not hold (by primary key) go back in too, so the
//! merge is the same as for a table altered in place.

use crate::schema::{Column, ConstraintKind, IdentityGeneration, Table};

use super::Dialect;

/// The statements creating an empty staging table `schema.name` for `columns` (dropping a
/// leftover of an interrupted run first).
pub fn create_staging(
    dialect: &dyn Dialect,
    schema: &str,
    name: &str,
    columns: &[&Column],
) -> Vec<String> {
    let definitions: Vec<String> = columns
        .iter()
        .map(|c| {
            let kind = dialect.staging_type(c);
            let name = dialect.quote_ident(&c.name);
            if kind.is_empty() {
                name
            } else {
                format!("{name} {kind}")
            }
        })
        .collect();
    vec![
        drop_staging(dialect, schema, name),
        format!(
            "CREATE TABLE {} ({});",
            dialect.quote_qualified(schema, name),
            definitions.join(", ")
        ),
    ]
}

/// The statement removing a staging table.
pub fn drop_staging(dialect: &dyn Dialect, schema: &str, name: &str) -> String {
    format!(
        "DROP TABLE IF EXISTS {};",
        dialect.quote_qualified(schema, name)
    )
}

/// The statements that give `table` the rows of staging table `schema.name`, whose columns
/// are `columns` (columns of `table`, generated ones excluded).
pub fn restore_rows(
    dialect: &dyn Dialect,
    table: &Table,
    (schema, name): (&str, &str),
    columns: &[&Column],
) -> Vec<String> {
    let target = dialect.quote_qualified(&table.schema, &table.name);
    let staging = dialect.quote_qualified(schema, name);
    let staged =
        |c: &Column| dialect.read_staged(&format!("s.{}", dialect.quote_ident(&c.name)), c);
    let values: Vec<String> = columns.iter().map(|c| staged(c)).collect();
    let insert = format!(
        "INSERT INTO {target} ({}){} SELECT {} FROM {staging} AS s",
        column_list(dialect, columns),
        dialect.insert_override(),
        values.join(", ")
    );
    let key = primary_key(table);
    let keyed = !key.is_empty() && key.iter().all(|k| columns.iter().any(|c| &c.name == k));
    if !keyed {
        return vec![format!("DELETE FROM {target};"), format!("{insert};")];
    }
    let matched: Vec<String> = columns
        .iter()
        .filter(|c| key.contains(&c.name))
        .map(|c| format!("d.{} = {}", dialect.quote_ident(&c.name), staged(c)))
        .collect();
    let matched = matched.join(" AND ");
    let mut statements = Vec::new();
    // Identity columns GENERATED ALWAYS cannot be updated (and a key never changed anyway).
    let set: Vec<String> = columns
        .iter()
        .filter(|c| !key.contains(&c.name) && !always_identity(c))
        .map(|c| format!("{} = {}", dialect.quote_ident(&c.name), staged(c)))
        .collect();
    if !set.is_empty() {
        statements.push(format!(
            "UPDATE {target} AS d SET {} FROM {staging} AS s WHERE {matched};",
            set.join(", ")
        ));
    }
    statements.push(format!(
        "{insert} WHERE NOT EXISTS (SELECT 1 FROM {target} AS d WHERE {matched});"
    ));
    statements
}

/// The statement copying the rows of `table` (as it is now, with `columns`) into a new keep
/// table `schema.name`.
pub fn keep_rows(
    dialect: &dyn Dialect,
    table: &Table,
    (schema, name): (&str, &str),
    columns: &[&Column],
) -> String {
    format!(
        "CREATE TABLE {} AS SELECT {} FROM {};",
        dialect.quote_qualified(schema, name),
        column_list(dialect, columns),
        dialect.quote_qualified(&table.schema, &table.name)
    )
}

/// The statement putting back into `table` (the pre-apply table) the rows of keep table
/// `schema.name` (whose columns are `columns`, of `table`): all of them, or with `only_missing` those whose primary key the
/// table does not hold already (the backup's rows win, as in [`restore_rows`]). `None` when
/// rows cannot be matched so (no primary key, or a key column not kept): the backup's rows
/// replace the table's then.
pub fn restore_kept(
    dialect: &dyn Dialect,
    table: &Table,
    (schema, name): (&str, &str),
    columns: &[&Column],
    only_missing: bool,
) -> Option<String> {
    let target = dialect.quote_qualified(&table.schema, &table.name);
    // Read as the pre-apply types: a kept column may have had another type since.
    let values: Vec<String> = columns
        .iter()
        .map(|c| dialect.read_staged(&format!("k.{}", dialect.quote_ident(&c.name)), c))
        .collect();
    let insert = format!(
        "INSERT INTO {target} ({}){} SELECT {} FROM {} AS k",
        column_list(dialect, columns),
        dialect.insert_override(),
        values.join(", "),
        dialect.quote_qualified(schema, name)
    );
    if !only_missing {
        return Some(format!("{insert};"));
    }
    let key = primary_key(table);
    if key.is_empty() || !key.iter().all(|k| columns.iter().any(|c| &c.name == k)) {
        return None;
    }
    let matched: Vec<String> = key
        .iter()
        .map(|k| {
            let k = dialect.quote_ident(k);
            format!("d.{k} = k.{k}")
        })
        .collect();
    Some(format!(
        "{insert} WHERE NOT EXISTS (SELECT 1 FROM {target} AS d WHERE {});",
        matched.join(" AND ")
    ))
}

fn column_list(dialect: &dyn Dialect, columns: &[&Column]) -> String {
    columns
        .iter()
        .map(|c| dialect.quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn primary_key(table: &Table) -> Vec<String> {
    table
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .map(|c| c.columns.clone())
        .unwrap_or_default()
}

fn always_identity(column: &Column) -> bool {
    column
        .identity
        .as_ref()
        .is_some_and(|i| i.generation == IdentityGeneration::Always)
}
