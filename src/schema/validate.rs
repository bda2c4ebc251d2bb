//! Semantic checks on a parsed schema: names are unique and references point at objects that
//! exist in the same file. Syntax and unknown keys are caught earlier by the parser.

use std::collections::HashSet;

use crate::schema::{qualified, Schema, Table};

/// Returns the first problem found, naming the object it concerns.
pub fn validate(schema: &Schema) -> Result<(), String> {
    let mut relations = HashSet::new();
    for t in &schema.tables {
        require_name("table", &t.schema, &t.name)?;
        if !relations.insert(qualified(&t.schema, &t.name)) {
            return Err(format!(
                "table {} is defined twice",
                qualified(&t.schema, &t.name)
            ));
        }
    }
    for v in &schema.views {
        require_name("view", &v.schema, &v.name)?;
        if !relations.insert(qualified(&v.schema, &v.name)) {
            return Err(format!(
                "view {} has the same name as another table or view",
                qualified(&v.schema, &v.name)
            ));
        }
    }
    unique(
        "sequence",
        schema
            .sequences
            .iter()
            .map(|s| qualified(&s.schema, &s.name)),
    )?;
    unique(
        "type",
        schema
            .enums
            .iter()
            .map(|t| qualified(&t.schema, &t.name))
            .chain(schema.domains.iter().map(|t| qualified(&t.schema, &t.name)))
            .chain(
                schema
                    .composite_types
                    .iter()
                    .map(|t| qualified(&t.schema, &t.name)),
            )
            .chain(
                schema
                    .range_types
                    .iter()
                    .map(|t| qualified(&t.schema, &t.name)),
            ),
    )?;
    unique(
        "function",
        schema
            .functions
            .iter()
            .map(|f| format!("{}({})", qualified(&f.schema, &f.name), f.arguments)),
    )?;
    unique("schema", schema.schemas.iter().map(|s| s.name.clone()))?;
    unique(
        "extension",
        schema.extensions.iter().map(|e| e.name.clone()),
    )?;
    for t in &schema.tables {
        validate_table(t, &relations)?;
    }
    for s in &schema.sequences {
        if let Some(owner) = &s.owned_by {
            let (table, column) = owner.rsplit_once('.').ok_or_else(|| {
                format!(
                    "sequence {}: owned_by '{owner}' must be TABLE.COLUMN",
                    qualified(&s.schema, &s.name)
                )
            })?;
            let owner_table = schema
                .tables
                .iter()
                .find(|t| qualified(&t.schema, &t.name) == table);
            match owner_table {
                Some(t) if t.columns.iter().any(|c| c.name == column) => {}
                _ => {
                    return Err(format!(
                        "sequence {}: owned_by {owner} names a column that is not in the file",
                        qualified(&s.schema, &s.name)
                    ))
                }
            }
        }
    }
    Ok(())
}

fn validate_table(t: &Table, relations: &HashSet<String>) -> Result<(), String> {
    let name = qualified(&t.schema, &t.name);
    unique(
        &format!("column of table {name}"),
        t.columns.iter().map(|c| c.name.clone()),
    )?;
    for c in &t.columns {
        if c.name.is_empty() {
            return Err(format!("table {name}: a column has an empty name"));
        }
    }
    unique(
        &format!("constraint of table {name}"),
        t.constraints.iter().map(|c| c.name.clone()),
    )?;
    unique(
        &format!("index of table {name}"),
        t.indexes.iter().map(|c| c.name.clone()),
    )?;
    unique(
        &format!("trigger of table {name}"),
        t.triggers.iter().map(|c| c.name.clone()),
    )?;
    unique(
        &format!("policy of table {name}"),
        t.policies.iter().map(|c| c.name.clone()),
    )?;
    for c in &t.constraints {
        for col in &c.columns {
            if !t.columns.iter().any(|x| &x.name == col) {
                return Err(format!(
                    "table {name}: constraint {} names column {col}, which the table does not have",
                    c.name
                ));
            }
        }
        // A foreign key may point outside the file: SQLite allows references to missing
        // tables, and `--schema` / `--exclude-table` can leave the referenced table out.
    }
    if let Some(p) = &t.partition_of {
        if !relations.contains(&p.parent) {
            return Err(format!(
                "table {name}: partition of {}, which is not in the file",
                p.parent
            ));
        }
    }
    for parent in &t.inherits {
        if !relations.contains(parent) {
            return Err(format!(
                "table {name}: inherits from {parent}, which is not in the file"
            ));
        }
    }
    Ok(())
}

fn require_name(kind: &str, schema: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("a {kind} in schema '{schema}' has an empty name"));
    }
    Ok(())
}

fn unique(kind: &str, names: impl Iterator<Item = String>) -> Result<(), String> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n.clone()) {
            return Err(format!("{kind} {n} is defined twice"));
        }
    }
    Ok(())
}
