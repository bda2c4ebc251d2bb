//! `CREATE TABLE` (ordinary, partitioned, partitions, inheritance children) and column
//! defaults.
//!
//! Tables are created bare: only columns, NOT NULL, identity and generation, so that any table
//! can be created before any constraint. Defaults come later in their own phase because they
//! may call functions that need tables. A partition is created with `PARTITION OF` when its
//! columns are in its parent's order, and otherwise as a table of its own plus
//! `ATTACH PARTITION`, which keeps its column order (a partition's columns always count as
//! inherited once attached).

use super::{ident, qualified, table_key, with_options, Names, Script};
use crate::schema::key::ObjectKey;
use crate::schema::{
    qualified as raw_qualified, Column, GeneratedStorage, Identity, IdentityGeneration,
    PartitionOf, Schema, Table,
};

/// The key of a column statement made apart from `CREATE TABLE`, or of a column's comment.
pub(super) fn column_key(t: &Table, column: &str) -> ObjectKey {
    ObjectKey::Column {
        table: raw_qualified(&t.schema, &t.name),
        column: column.to_string(),
    }
}

/// Creates one table with its comments and access; partitions are attached to their parent.
pub(super) fn create(script: &mut Script, t: &Table, schema: &Schema, names: &Names) {
    let name = qualified(&t.schema, &t.name);
    let key = table_key(&t.schema, &t.name);
    let parent = t
        .partition_of
        .as_ref()
        .and_then(|p| parent_table(schema, names, &p.parent));
    match &t.partition_of {
        Some(p) if same_column_order(t, parent) => {
            script.push(key.clone(), partition_of(t, &name, p, parent, names));
        }
        Some(p) => {
            let all: Vec<&Column> = t.columns.iter().collect();
            script.push(key.clone(), standalone(t, &name, &all, names));
            let attach = format!(
                "ALTER TABLE ONLY {} ATTACH PARTITION {name} {};",
                names.reference(&p.parent),
                p.bound
            );
            script.push(key.clone(), attach);
        }
        None => {
            let local: Vec<&Column> = t.columns.iter().filter(|c| !c.inherited).collect();
            script.push(key.clone(), standalone(t, &name, &local, names));
            inherited_not_null(script, t, &name, schema, names);
        }
    }
    script.comment(&key, "TABLE", &name, t.comment.as_ref());
    for c in &t.columns {
        let column = format!("{name}.{}", ident(&c.name));
        script.comment(
            &column_key(t, &c.name),
            "COLUMN",
            &column,
            c.comment.as_ref(),
        );
    }
    script.access(&key, "TABLE", "TABLE", &name, &t.access);
}

/// `CREATE TABLE name (columns) [INHERITS] [PARTITION BY] [WITH]`.
fn standalone(t: &Table, name: &str, columns: &[&Column], names: &Names) -> String {
    let columns: Vec<String> = columns
        .iter()
        .map(|c| format!("    {}", column_definition(c)))
        .collect();
    let body = if columns.is_empty() {
        "()".to_string()
    } else {
        format!("(\n{}\n)", columns.join(",\n"))
    };
    let mut text = format!("CREATE {}TABLE {name} {body}", unlogged(t));
    if !t.inherits.is_empty() {
        let parents: Vec<String> = t.inherits.iter().map(|p| names.reference(p)).collect();
        text.push_str(&format!("\nINHERITS ({})", parents.join(", ")));
    }
    text.push_str(&partition_by(t));
    text.push_str(&with_options(&t.options));
    text.push(';');
    text
}

/// `CREATE TABLE name PARTITION OF parent [(col WITH OPTIONS NOT NULL)] bound …`: a partition
/// takes its columns from the parent and may only add NOT NULL to them.
fn partition_of(
    t: &Table,
    name: &str,
    p: &PartitionOf,
    parent: Option<&Table>,
    names: &Names,
) -> String {
    let added_not_null: Vec<String> = t
        .columns
        .iter()
        .filter(|c| c.not_null && !parent.is_some_and(|p| column_not_null(p, &c.name)))
        .map(|c| format!("    {} WITH OPTIONS NOT NULL", ident(&c.name)))
        .collect();
    let mut text = format!(
        "CREATE {}TABLE {name} PARTITION OF {}",
        unlogged(t),
        names.reference(&p.parent)
    );
    if !added_not_null.is_empty() {
        text.push_str(&format!(" (\n{}\n)", added_not_null.join(",\n")));
    }
    text.push_str(&format!("\n{}", p.bound));
    text.push_str(&partition_by(t));
    text.push_str(&with_options(&t.options));
    text.push(';');
    text
}

/// An inheritance child's inherited columns get NOT NULL from their parents at creation; set
/// or drop it where the child differs.
fn inherited_not_null(script: &mut Script, t: &Table, name: &str, schema: &Schema, names: &Names) {
    if t.inherits.is_empty() {
        return;
    }
    let parents: Vec<&Table> = t
        .inherits
        .iter()
        .filter_map(|p| parent_table(schema, names, p))
        .collect();
    for c in t.columns.iter().filter(|c| c.inherited) {
        let from_parent = parents.iter().any(|p| column_not_null(p, &c.name));
        let action = match (c.not_null, from_parent) {
            (true, false) => "SET",
            (false, true) => "DROP",
            _ => continue,
        };
        let sql = format!(
            "ALTER TABLE ONLY {name} ALTER COLUMN {} {action} NOT NULL;",
            ident(&c.name)
        );
        script.push(column_key(t, &c.name), sql);
    }
}

fn unlogged(t: &Table) -> &'static str {
    if t.unlogged {
        "UNLOGGED "
    } else {
        ""
    }
}

fn partition_by(t: &Table) -> String {
    t.partition_by
        .as_ref()
        .map(|key| format!("\nPARTITION BY {key}"))
        .unwrap_or_default()
}

/// `name type [COLLATE] [GENERATED …] [NOT NULL]`; defaults are set in a later phase.
fn column_definition(c: &Column) -> String {
    let mut text = format!("{} {}", ident(&c.name), c.data_type);
    if let Some(collation) = &c.collation {
        text.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(g) = &c.generated {
        let storage = match g.storage {
            GeneratedStorage::Stored => "STORED",
            GeneratedStorage::Virtual => "VIRTUAL",
        };
        text.push_str(&format!(
            " GENERATED ALWAYS AS ({}) {storage}",
            g.expression
        ));
    }
    if let Some(identity) = &c.identity {
        text.push_str(&identity_clause(identity));
    }
    if c.not_null {
        text.push_str(" NOT NULL");
    }
    text
}

/// `GENERATED … AS IDENTITY (SEQUENCE NAME … options)`, every option spelled out.
fn identity_clause(identity: &Identity) -> String {
    let generation = match identity.generation {
        IdentityGeneration::Always => "ALWAYS",
        IdentityGeneration::ByDefault => "BY DEFAULT",
    };
    let mut options = Vec::new();
    if let Some(sequence) = &identity.sequence {
        let sequence = match sequence.split_once('.') {
            Some((s, n)) => qualified(s, n),
            None => ident(sequence),
        };
        options.push(format!("SEQUENCE NAME {sequence}"));
    }
    if let Some(o) = &identity.options {
        options.push(super::types::sequence_options(o, " "));
    }
    if options.is_empty() {
        format!(" GENERATED {generation} AS IDENTITY")
    } else {
        format!(
            " GENERATED {generation} AS IDENTITY ({})",
            options.join(" ")
        )
    }
}

/// `ALTER TABLE ONLY … SET DEFAULT` for every column default, each table exactly as inspected
/// (ONLY: a parent's default must not overwrite its children's).
pub(super) fn defaults(script: &mut Script, schema: &Schema) {
    for t in &schema.tables {
        let name = qualified(&t.schema, &t.name);
        for c in &t.columns {
            let Some(default) = &c.default else { continue };
            if c.generated.is_some() || c.identity.is_some() {
                continue;
            }
            let sql = format!(
                "ALTER TABLE ONLY {name} ALTER COLUMN {} SET DEFAULT {default};",
                ident(&c.name)
            );
            script.push(column_key(t, &c.name), sql);
        }
    }
}

/// How many partitioned ancestors a table has (0 for a table that is not a partition).
pub(super) fn partition_depth(t: &Table, schema: &Schema, names: &Names) -> usize {
    let mut depth = 0;
    let mut current = t;
    while let Some(p) = &current.partition_of {
        match parent_table(schema, names, &p.parent) {
            // A partition tree is acyclic; the bound guards against a malformed model.
            Some(parent) if depth < schema.tables.len() => {
                depth += 1;
                current = parent;
            }
            _ => return depth + 1,
        }
    }
    depth
}

pub(super) fn parent_table<'a>(schema: &'a Schema, names: &Names, raw: &str) -> Option<&'a Table> {
    let (s, n) = names.split(raw);
    schema.table(s, n)
}

/// Whether `PARTITION OF parent` would give `t` its columns in the same order.
fn same_column_order(t: &Table, parent: Option<&Table>) -> bool {
    let Some(parent) = parent else { return true };
    t.columns.len() == parent.columns.len()
        && t.columns
            .iter()
            .zip(&parent.columns)
            .all(|(c, p)| c.name == p.name)
}

fn column_not_null(t: &Table, column: &str) -> bool {
    t.columns.iter().any(|c| c.name == column && c.not_null)
}
