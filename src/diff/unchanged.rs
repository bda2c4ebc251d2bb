//! Leaving unchanged tables out of a plan's comparison.
//!
//! Most changes touch few tables, and rendering and comparing thousands of identical tables is
//! most of the time a large schema takes to plan. Tables that are the same on both sides are
//! left out of both creation scripts when that cannot change the plan: when nothing they could
//! depend on is dropped or rebuilt, and nothing they mention is retyped.

use std::collections::{HashMap, HashSet};

use crate::diff::changes::{compare, Rebuild};
use crate::diff::dependencies::Lookup;
use crate::diff::{PlanOptions, Step};
use crate::engine::Dialect;
use crate::schema::key::ObjectKey;
use crate::schema::{Schema, Table};

/// Most changes touch few tables. Tables that are identical on both sides (and take no part in
/// partitioning or inheritance) are left out of both scripts, which makes planning a large
/// schema fast. This is only sound when nothing they could depend on is dropped or rebuilt:
/// if the plan invalidates anything but objects local to a changed table, `None` asks for the
/// full comparison.
pub(super) fn steps_without_unchanged_tables(
    source: &Schema,
    target: &Schema,
    dialect: &dyn Dialect,
    options: &PlanOptions,
) -> Option<Vec<Step>> {
    let in_hierarchy = |schema: &Schema| -> HashSet<String> {
        let mut names = HashSet::new();
        for t in &schema.tables {
            if t.partition_by.is_some() || t.partition_of.is_some() || !t.inherits.is_empty() {
                names.insert(crate::schema::qualified(&t.schema, &t.name));
            }
            names.extend(t.inherits.iter().cloned());
            names.extend(t.partition_of.iter().map(|p| p.parent.clone()));
        }
        names
    };
    let (source_hierarchy, target_hierarchy) = (in_hierarchy(source), in_hierarchy(target));
    let target_tables: HashMap<String, &Table> = target
        .tables
        .iter()
        .map(|t| (crate::schema::qualified(&t.schema, &t.name), t))
        .collect();
    // A table using a type that changes must stay: an enum rebuilt in place converts its
    // columns.
    let changed_types = changed_types(source, target);
    let uses_changed_type = |t: &Table| {
        t.columns.iter().any(|c| {
            let raw = c.data_type.trim_end_matches("[]").replace('"', "");
            changed_types.contains(&raw)
        })
    };
    let unchanged: HashSet<String> = source
        .tables
        .iter()
        .map(|t| (crate::schema::qualified(&t.schema, &t.name), t))
        .filter(|(name, t)| {
            target_tables.get(name).is_some_and(|other| *other == *t)
                && !source_hierarchy.contains(name)
                && !target_hierarchy.contains(name)
                && !uses_changed_type(t)
        })
        .map(|(name, _)| name)
        .collect();
    if unchanged.is_empty() {
        return None;
    }
    // Clone everything but the tables, then only the tables that stay.
    let without = |schema: &Schema| -> Schema {
        let mut pruned = schema.clone_without_tables();
        pruned.tables = schema
            .tables
            .iter()
            .filter(|t| !unchanged.contains(&crate::schema::qualified(&t.schema, &t.name)))
            .cloned()
            .collect();
        pruned
    };
    let (pruned_source, pruned_target) = (without(source), without(target));
    let (steps, invalidated, retyped) = compare(
        &pruned_source,
        &pruned_target,
        dialect,
        options,
        &Rebuild {
            uncertain: &HashSet::new(),
            recreate: &HashSet::new(),
        },
    );
    let lookup = Lookup::new(&pruned_source);
    let left_out: Vec<&Table> = source
        .tables
        .iter()
        .filter(|t| unchanged.contains(&crate::schema::qualified(&t.schema, &t.name)))
        .collect();
    let safe = invalidated.iter().all(|key| is_local(key, &lookup))
        && retyped.iter().all(|table| !mentioned_by(table, &left_out));
    safe.then_some(steps)
}

/// Whether any of `tables` names `table` in a check, default, index, trigger or policy (a
/// retyped column of `table` could be read there). Foreign keys are fine: PostgreSQL rebuilds
/// them itself when a referenced column changes type.
fn mentioned_by(table: &str, tables: &[&Table]) -> bool {
    let (schema, name) = table.split_once('.').unwrap_or(("", table));
    let needles = [
        table.to_string(),
        format!("\"{schema}\".\"{name}\""),
        format!("{schema}.\"{name}\""),
    ];
    let mentions = |text: &str| needles.iter().any(|n| text.contains(n.as_str()));
    tables.iter().any(|t| {
        t.constraints
            .iter()
            .any(|c| c.references.is_none() && mentions(&c.definition))
            || t.columns
                .iter()
                .any(|c| c.default.as_deref().is_some_and(mentions))
            || t.indexes.iter().any(|i| mentions(&i.definition))
            || t.triggers.iter().any(|tr| mentions(&tr.definition))
            || t.policies.iter().any(|p| {
                p.using.as_deref().is_some_and(mentions)
                    || p.with_check.as_deref().is_some_and(mentions)
            })
    })
}

/// Raw `schema.name` of every type (enum, domain, composite, range) that is not the same on
/// both sides.
fn changed_types(source: &Schema, target: &Schema) -> HashSet<String> {
    fn types(schema: &Schema) -> HashMap<String, String> {
        let mut all = HashMap::new();
        for t in &schema.enums {
            all.insert(
                crate::schema::qualified(&t.schema, &t.name),
                format!("{t:?}"),
            );
        }
        for t in &schema.domains {
            all.insert(
                crate::schema::qualified(&t.schema, &t.name),
                format!("{t:?}"),
            );
        }
        for t in &schema.composite_types {
            all.insert(
                crate::schema::qualified(&t.schema, &t.name),
                format!("{t:?}"),
            );
        }
        for t in &schema.range_types {
            all.insert(
                crate::schema::qualified(&t.schema, &t.name),
                format!("{t:?}"),
            );
        }
        all
    }
    let (before, after) = (types(source), types(target));
    before
        .iter()
        .filter(|(name, definition)| after.get(*name) != Some(*definition))
        .map(|(name, _)| name.clone())
        .chain(after.keys().filter(|n| !before.contains_key(*n)).cloned())
        .collect()
}

/// True when nothing outside the object's own table can depend on it.
fn is_local(key: &ObjectKey, lookup: &Lookup) -> bool {
    match key {
        ObjectKey::Comment { .. }
        | ObjectKey::Access { .. }
        | ObjectKey::Column { .. }
        | ObjectKey::Trigger { .. }
        | ObjectKey::Rule { .. }
        | ObjectKey::Policy { .. }
        | ObjectKey::RowSecurity { .. }
        | ObjectKey::ReplicaIdentity { .. } => true,
        // Foreign keys elsewhere may rely on a primary key, unique constraint or unique index.
        ObjectKey::Constraint { table, name } => lookup
            .tables
            .get(table)
            .and_then(|t| t.constraints.iter().find(|c| &c.name == name))
            .is_some_and(|c| {
                !matches!(
                    c.kind,
                    crate::schema::ConstraintKind::PrimaryKey
                        | crate::schema::ConstraintKind::Unique
                )
            }),
        ObjectKey::Index { name } => {
            let Some((ObjectKey::Table { name: table }, None)) = lookup.indexes.get(name) else {
                return false;
            };
            lookup.tables.get(table).is_some_and(|t| {
                t.indexes.iter().any(|i| {
                    crate::schema::qualified(&t.schema, &i.name) == *name
                        && !i.definition.starts_with("CREATE UNIQUE")
                })
            })
        }
        _ => false,
    }
}
