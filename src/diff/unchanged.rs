//! Leaving unchanged tables out of a plan's comparison.
//!
//! Most changes touch few tables, and rendering and comparing thousands of identical tables is
//! most of the time a large schema takes to plan. Tables that are the same on both sides are
//! left out of both creation scripts when that cannot change the plan: when nothing they could
//! depend on is dropped or rebuilt, and nothing they mention is retyped; tables that mention
//! what is recreated or retyped are brought back into the comparison.

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
/// when the plan invalidates objects that other tables may depend on (a view, a function, a
/// unique constraint …) or retypes columns, the tables that mention them by name are compared
/// too, repeatedly, until nothing left out is touched. A table dropped or rebuilt, or an object
/// whose dependents cannot be found by name, makes `None`: the full comparison.
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
    let mut unchanged: HashSet<String> = source
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
    // Compare without the unchanged tables. When the plan invalidates something other tables
    // could depend on, or retypes columns they could read, the tables that mention it are
    // compared too, and so on until nothing left out is touched.
    let mut texts: Option<HashMap<String, String>> = None;
    loop {
        if unchanged.is_empty() {
            return None;
        }
        let (steps, invalidated, retyped, pruned_source) =
            compare_without(source, target, &unchanged, dialect, options);
        let lookup = Lookup::new(&pruned_source);
        let mut needles = Vec::new();
        for key in invalidated.iter().filter(|k| !is_local(k, &lookup)) {
            needles.extend(needles_of(key, &lookup)?);
        }
        if needles.is_empty() && retyped.is_empty() {
            return Some(steps);
        }
        // Each left-out table's content as lower-case JSON: every name it mentions is there.
        if texts.is_none() {
            let mut all = HashMap::new();
            for t in &source.tables {
                let name = crate::schema::qualified(&t.schema, &t.name);
                if unchanged.contains(&name) {
                    all.insert(name, serde_json::to_string(t).ok()?.to_lowercase());
                }
            }
            texts = Some(all);
        }
        let texts = texts.as_ref()?;
        let touched: Vec<String> = source
            .tables
            .iter()
            .filter_map(|t| {
                let name = crate::schema::qualified(&t.schema, &t.name);
                let text = texts.get(&name).filter(|_| unchanged.contains(&name))?;
                let touched = needles.iter().any(|n| text.contains(n.as_str()))
                    || retyped.iter().any(|table| mentioned_by(table, &[t]));
                touched.then_some(name)
            })
            .collect();
        if touched.is_empty() {
            return Some(steps);
        }
        for name in touched {
            unchanged.remove(&name);
        }
    }
}

/// The plan between `source` and `target` without the tables named in `left_out`, every
/// object it invalidates, the tables whose columns it retypes or drops, and the pruned source.
fn compare_without(
    source: &Schema,
    target: &Schema,
    left_out: &HashSet<String>,
    dialect: &dyn Dialect,
    options: &PlanOptions,
) -> (Vec<Step>, Vec<ObjectKey>, Vec<String>, Schema) {
    // Clone everything but the tables, then only the tables that stay.
    let without = |schema: &Schema| -> Schema {
        let mut pruned = schema.clone_without_tables();
        pruned.tables = schema
            .tables
            .iter()
            .filter(|t| !left_out.contains(&crate::schema::qualified(&t.schema, &t.name)))
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
    (steps, invalidated, retyped, pruned_source)
}

/// Lower-case, JSON-escaped words that a table's content must contain to depend on `key`:
/// the last part of its name (any mention of `schema.name`, quoted or not, contains it), and
/// for an index also its relation's. `None` for objects whose dependents cannot be found by
/// name (schemas, extensions, partition attachments) or whose plan reads other tables (a
/// dropped or rebuilt table): the full comparison is needed then.
fn needles_of(key: &ObjectKey, lookup: &Lookup) -> Option<Vec<String>> {
    let last = |name: &str| -> String {
        let name = name.split_once('(').map_or(name, |(n, _)| n);
        let word = name.rsplit_once('.').map_or(name, |(_, w)| w);
        let escaped = serde_json::to_string(word).unwrap_or_default();
        escaped.trim_matches('"').to_lowercase()
    };
    let names = match key {
        // A dropped or rebuilt table: its dialect reads the tables around it (references,
        // rows to check), which must all be there.
        ObjectKey::Table { .. } => return None,
        ObjectKey::View { name }
        | ObjectKey::Function { name }
        | ObjectKey::Type { name }
        | ObjectKey::Sequence { name }
        | ObjectKey::SequenceOwner { name }
        | ObjectKey::Collation { name }
        | ObjectKey::Publication { name }
        | ObjectKey::EventTrigger { name } => vec![last(name)],
        ObjectKey::Index { name } => {
            let mut words = vec![last(name)];
            if let Some((ObjectKey::Table { name } | ObjectKey::View { name }, _)) =
                lookup.indexes.get(name)
            {
                words.push(last(name));
            }
            words
        }
        ObjectKey::Comment { on } | ObjectKey::Access { on } => needles_of(on, lookup)?,
        other => match other.table() {
            Some(table) => vec![last(table)],
            None => return None,
        },
    };
    names.iter().all(|n| !n.is_empty()).then_some(names)
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
                    crate::schema::qualified(&t.schema, &i.name) == *name && !i.is_unique()
                })
            })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `accounts.code` is retyped, which recreates the view over it; an unchanged table's
    /// policy reads that view, another unchanged table has a foreign key to `accounts`, and a
    /// third is unrelated.
    fn schemas() -> (Schema, Schema) {
        let table = |name: &str, extra: serde_json::Value| {
            let mut t = serde_json::json!({
                "schema": "public",
                "name": name,
                "columns": [
                    {"name": "id", "type": "bigint", "not_null": true},
                    {"name": "code", "type": "text", "not_null": true},
                    {"name": "account_id", "type": "bigint"}
                ],
                "constraints": [
                    {"name": format!("{name}_pkey"), "kind": "primary_key",
                     "definition": "PRIMARY KEY (id)", "columns": ["id"]}
                ]
            });
            if let (Some(t), Some(extra)) = (t.as_object_mut(), extra.as_object()) {
                t.extend(extra.clone());
            }
            t
        };
        let mut accounts = table("accounts", serde_json::json!({}));
        accounts["constraints"].as_array_mut().unwrap().push(
            serde_json::json!({"name": "accounts_code_key", "kind": "unique",
                                     "definition": "UNIQUE (code)", "columns": ["code"]}),
        );
        let orders = table(
            "orders",
            serde_json::json!({"constraints": [
                {"name": "orders_pkey", "kind": "primary_key",
                 "definition": "PRIMARY KEY (id)", "columns": ["id"]},
                {"name": "orders_account_id_fkey", "kind": "foreign_key",
                 "definition": "FOREIGN KEY (account_id) REFERENCES public.accounts(id)",
                 "columns": ["account_id"],
                 "references": {"table": "public.accounts", "columns": ["id"]}}
            ]}),
        );
        let audits = table(
            "audits",
            serde_json::json!({"policies": [
                {"name": "known_codes", "command": "select", "roles": ["public"],
                 "using": "(EXISTS ( SELECT 1\n   FROM public.account_codes c\n  WHERE (c.code = audits.code)))"}
            ]}),
        );
        let notes = table("notes", serde_json::json!({}));
        let source = serde_json::json!({
            "format": crate::schema::FORMAT_VERSION,
            "engine": "postgres",
            "server_version": "15",
            "tables": [accounts, audits, notes, orders],
            "views": [{"schema": "public", "name": "account_codes",
                       "definition": " SELECT accounts.id,\n    accounts.code\n   FROM public.accounts",
                       "depends_on": ["public.accounts"]}]
        });
        let mut target = source.clone();
        target["tables"][0]["columns"][1]["type"] = "character varying(200)".into();
        let read = |v: &serde_json::Value| Schema::from_json(&v.to_string(), "test").unwrap();
        (read(&source), read(&target))
    }

    #[test]
    fn leaving_out_unchanged_tables_plans_what_the_full_comparison_plans() {
        let (source, target) = schemas();
        let dialect = crate::engine::dialect(source.engine).unwrap();
        let options = PlanOptions::default();
        let full = compare(
            &source,
            &target,
            dialect,
            &options,
            &Rebuild {
                uncertain: &HashSet::new(),
                recreate: &HashSet::new(),
            },
        )
        .0;
        let pruned = steps_without_unchanged_tables(&source, &target, dialect, &options)
            .expect("the view's dependents can be found by name");
        assert_eq!(pruned, full);
        let objects: Vec<String> = pruned.iter().map(|s| s.object.describe()).collect();
        assert!(
            objects.iter().any(|o| o.contains("known_codes")),
            "the policy reading the recreated view is recreated: {objects:?}"
        );
        assert!(!objects.iter().any(|o| o.contains("notes")), "{objects:?}");
    }
}
