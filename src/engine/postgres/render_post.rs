//! What is added to tables after they exist: constraints, indexes, triggers, rules, row-level
//! security, policies and replica identity.
//!
//! Objects that the server clones from a parent to its partitions and inheritance children
//! (marked `inherited` in the model) are created on the parent without `ONLY`, so that the
//! server clones them as it did originally. The exception is constraints that a partitioned
//! parent *adopts*: PostgreSQL attaches a partition's existing matching index-backed constraint
//! or foreign key instead of creating one with a generated name. Those are created on the
//! partitions first, under their own names, deepest partitions first, then on the parent.

use std::cmp::Reverse;

use super::tables::{parent_table, partition_depth};
use super::{ident, qualified, role, terminated, Names, Script};
use crate::schema::key::ObjectKey;
use crate::schema::{
    qualified as raw_qualified, Constraint, ConstraintKind, Schema, Table, Trigger,
};

fn constraint_key(t: &Table, c: &Constraint) -> ObjectKey {
    ObjectKey::Constraint {
        table: raw_qualified(&t.schema, &t.name),
        name: c.name.clone(),
    }
}

/// The key of a trigger of the relation (table or view) `relation`, raw.
fn trigger_key(relation: &str, tr: &Trigger) -> ObjectKey {
    ObjectKey::Trigger {
        table: relation.to_string(),
        name: tr.name.clone(),
    }
}

/// Primary keys and unique constraints.
pub(super) fn keys(script: &mut Script, schema: &Schema, names: &Names) {
    let selected =
        |c: &Constraint| matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique);
    add_constraints(script, schema, names, selected, |_, _| true);
}

/// Exclusion constraints (adopted like keys), then CHECK constraints (cloned by recursion).
pub(super) fn checks_and_exclusions(script: &mut Script, schema: &Schema, names: &Names) {
    let exclusion = |c: &Constraint| c.kind == ConstraintKind::Exclusion;
    add_constraints(script, schema, names, exclusion, |_, _| true);
    let check = |c: &Constraint| c.kind == ConstraintKind::Check;
    add_constraints(script, schema, names, check, |_, c| !c.inherited);
}

/// Foreign keys, once every key they may reference exists. A partition's inherited foreign
/// key is adopted by its parent's; the clones PostgreSQL adds for each partition of a
/// *referenced* partitioned table (they reference a partition) only come from recursion.
pub(super) fn foreign_keys(script: &mut Script, schema: &Schema, names: &Names) {
    let foreign_key = |c: &Constraint| c.kind == ConstraintKind::ForeignKey;
    let adopted = |t: &Table, c: &Constraint| {
        !c.inherited
            || (t.partition_of.is_some()
                && c.references.as_ref().is_some_and(|r| {
                    parent_table(schema, names, &r.table).is_none_or(|t| t.partition_of.is_none())
                }))
    };
    add_constraints(script, schema, names, foreign_key, adopted);
}

/// Adds the `selected` constraints for which `rendered` holds, deepest partitions first (so a
/// parent finds its partitions' constraints to adopt); the others exist only once their parent's
/// constraint was added, so their comments come last.
fn add_constraints(
    script: &mut Script,
    schema: &Schema,
    names: &Names,
    selected: impl Fn(&Constraint) -> bool,
    rendered: impl Fn(&Table, &Constraint) -> bool,
) {
    let mut constraints: Vec<(usize, &Table, &Constraint)> = Vec::new();
    for t in &schema.tables {
        let depth = partition_depth(t, schema, names);
        for c in t.constraints.iter().filter(|c| selected(c)) {
            constraints.push((depth, t, c));
        }
    }
    // Stable: within a depth, tables and constraints keep their canonical (name) order.
    constraints.sort_by_key(|(depth, _, _)| Reverse(*depth));
    let (created, cloned): (Vec<_>, Vec<_>) = constraints
        .into_iter()
        .partition(|(_, t, c)| rendered(t, c));
    for (_, t, c) in created {
        add_constraint(script, t, c);
    }
    for (_, t, c) in cloned {
        constraint_comment(script, t, c);
    }
}

/// `ALTER TABLE [ONLY] t ADD CONSTRAINT …`. Without ONLY, a CHECK recurses to inheritance
/// children and partitions (which is how their inherited copies come about), and anything on a
/// partitioned table recurses to the partitions (which PostgreSQL requires).
fn add_constraint(script: &mut Script, t: &Table, c: &Constraint) {
    let recurse = t.partition_by.is_some() || c.kind == ConstraintKind::Check;
    let only = if recurse { "" } else { "ONLY " };
    let sql = format!(
        "ALTER TABLE {only}{} ADD CONSTRAINT {} {};",
        qualified(&t.schema, &t.name),
        ident(&c.name),
        c.definition
    );
    script.push(constraint_key(t, c), sql);
    constraint_comment(script, t, c);
}

fn constraint_comment(script: &mut Script, t: &Table, c: &Constraint) {
    let target = format!("{} ON {}", ident(&c.name), qualified(&t.schema, &t.name));
    script.comment(
        &constraint_key(t, c),
        "CONSTRAINT",
        &target,
        c.comment.as_ref(),
    );
}

/// Indexes of tables and materialized views, then the attachment of partitions' indexes to
/// their partitioned parents' (deepest first, so a parent index is complete when attached).
pub(super) fn indexes(script: &mut Script, schema: &Schema, names: &Names) {
    let tables = schema.tables.iter().map(|t| (&t.schema, &t.indexes));
    let views = schema.views.iter().map(|v| (&v.schema, &v.indexes));
    for (table_schema, indexes) in tables.chain(views) {
        for i in indexes {
            let key = ObjectKey::Index {
                name: raw_qualified(table_schema, &i.name),
            };
            script.push(key.clone(), terminated(&i.definition));
            let name = qualified(table_schema, &i.name);
            script.comment(&key, "INDEX", &name, i.comment.as_ref());
        }
    }
    let mut attachments: Vec<(usize, &Table, &str, String)> = Vec::new();
    for t in &schema.tables {
        let depth = partition_depth(t, schema, names);
        for i in &t.indexes {
            if let Some(parent) = &i.attached_to {
                attachments.push((depth, t, &i.name, names.reference(parent)));
            }
        }
    }
    attachments.sort_by_key(|(depth, _, _, _)| Reverse(*depth));
    for (_, t, child, parent) in attachments {
        let key = ObjectKey::IndexAttachment {
            name: raw_qualified(&t.schema, child),
        };
        let child = qualified(&t.schema, child);
        script.push(
            key,
            format!("ALTER INDEX {parent} ATTACH PARTITION {child};"),
        );
    }
}

/// Triggers of tables and views, then the states of table triggers (a view's triggers can
/// only fire on origin), then the comments of the clones the server made meanwhile.
pub(super) fn triggers(script: &mut Script, schema: &Schema, names: &Names) {
    let tables = schema
        .tables
        .iter()
        .map(|t| (&t.schema, &t.name, &t.triggers));
    let views = schema
        .views
        .iter()
        .map(|v| (&v.schema, &v.name, &v.triggers));
    let all: Vec<(String, String, &Vec<Trigger>)> = tables
        .chain(views)
        .map(|(s, n, triggers)| (qualified(s, n), raw_qualified(s, n), triggers))
        .collect();
    for (relation, raw, triggers) in &all {
        for tr in triggers.iter().filter(|tr| !tr.inherited) {
            script.push(trigger_key(raw, tr), terminated(&tr.definition));
            trigger_comment(script, relation, raw, tr);
        }
    }
    trigger_states(script, schema, names);
    for (relation, raw, triggers) in &all {
        for tr in triggers.iter().filter(|tr| tr.inherited) {
            trigger_comment(script, relation, raw, tr);
        }
    }
}

/// `ALTER TABLE … DISABLE TRIGGER` and the like. A trigger on a partitioned table is cloned to
/// its partitions and these statements recurse likewise, so states are set from the top of each
/// partition tree down, and on a clone only where it differs from its parent's.
fn trigger_states(script: &mut Script, schema: &Schema, names: &Names) {
    let mut states: Vec<(usize, &Table, &Trigger)> = Vec::new();
    for t in &schema.tables {
        let depth = partition_depth(t, schema, names);
        states.extend(t.triggers.iter().map(|tr| (depth, t, tr)));
    }
    states.sort_by_key(|(depth, _, _)| *depth);
    for (_, t, tr) in states {
        if tr.enabled != inherited_state(t, tr, schema, names) {
            let sql = format!(
                "ALTER TABLE {} {} TRIGGER {};",
                qualified(&t.schema, &t.name),
                enable_action(&tr.enabled),
                ident(&tr.name)
            );
            script.push(trigger_key(&raw_qualified(&t.schema, &t.name), tr), sql);
        }
    }
}

/// The state a trigger has right after creation: a clone takes its parent's (the parent's own
/// `ALTER … TRIGGER` recursed), anything else fires on origin.
fn inherited_state<'a>(t: &Table, tr: &Trigger, schema: &'a Schema, names: &Names) -> &'a str {
    if !tr.inherited {
        return "origin";
    }
    t.partition_of
        .as_ref()
        .and_then(|p| parent_table(schema, names, &p.parent))
        .and_then(|parent| parent.triggers.iter().find(|pt| pt.name == tr.name))
        .map_or("origin", |pt| pt.enabled.as_str())
}

fn trigger_comment(script: &mut Script, relation: &str, raw: &str, tr: &Trigger) {
    let target = format!("{} ON {relation}", ident(&tr.name));
    script.comment(
        &trigger_key(raw, tr),
        "TRIGGER",
        &target,
        tr.comment.as_ref(),
    );
}

/// The `ALTER TABLE` keyword for a trigger or rule state (`origin` is plain ENABLE).
fn enable_action(state: &str) -> &'static str {
    match state {
        "disabled" => "DISABLE",
        "always" => "ENABLE ALWAYS",
        "replica" => "ENABLE REPLICA",
        _ => "ENABLE",
    }
}

/// Rewrite rules of tables and views, with their states (a view's rules can only fire on
/// origin).
pub(super) fn rules(script: &mut Script, schema: &Schema) {
    let tables = schema.tables.iter().map(|t| (&t.schema, &t.name, &t.rules));
    let views = schema.views.iter().map(|v| (&v.schema, &v.name, &v.rules));
    for (relation_schema, relation_name, rules) in tables.chain(views) {
        let relation = qualified(relation_schema, relation_name);
        for r in rules {
            let key = ObjectKey::Rule {
                table: raw_qualified(relation_schema, relation_name),
                name: r.name.clone(),
            };
            script.push(key.clone(), terminated(&r.definition));
            if r.enabled != "origin" {
                let action = enable_action(&r.enabled);
                let sql = format!("ALTER TABLE {relation} {action} RULE {};", ident(&r.name));
                script.push(key.clone(), sql);
            }
            let target = format!("{} ON {relation}", ident(&r.name));
            script.comment(&key, "RULE", &target, r.comment.as_ref());
        }
    }
}

/// Row-level security switches, policies and replica identity.
pub(super) fn row_security(script: &mut Script, schema: &Schema) {
    for t in &schema.tables {
        let name = qualified(&t.schema, &t.name);
        let raw = raw_qualified(&t.schema, &t.name);
        let security = ObjectKey::RowSecurity { table: raw.clone() };
        if t.row_level_security {
            let sql = format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;");
            script.push(security.clone(), sql);
        }
        if t.force_row_level_security {
            let sql = format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY;");
            script.push(security, sql);
        }
        for p in &t.policies {
            let key = ObjectKey::Policy {
                table: raw.clone(),
                name: p.name.clone(),
            };
            script.push(key.clone(), policy(&name, p));
            let target = format!("{} ON {name}", ident(&p.name));
            script.comment(&key, "POLICY", &target, p.comment.as_ref());
        }
        if let Some(identity) = t.replica_identity.as_deref().and_then(replica_identity) {
            let sql = format!("ALTER TABLE {name} REPLICA IDENTITY {identity};");
            script.push(ObjectKey::ReplicaIdentity { table: raw }, sql);
        }
    }
}

fn policy(table: &str, p: &crate::schema::Policy) -> String {
    let mut text = format!("CREATE POLICY {} ON {table}", ident(&p.name));
    if !p.permissive {
        text.push_str(" AS RESTRICTIVE");
    }
    text.push_str(&format!(" FOR {}", p.command.to_uppercase()));
    if !p.roles.is_empty() {
        let roles: Vec<String> = p.roles.iter().map(|r| role(r)).collect();
        text.push_str(&format!(" TO {}", roles.join(", ")));
    }
    if let Some(using) = &p.using {
        text.push_str(&format!("\n    USING ({using})"));
    }
    if let Some(check) = &p.with_check {
        text.push_str(&format!("\n    WITH CHECK ({check})"));
    }
    text.push(';');
    text
}

/// The `REPLICA IDENTITY` clause for the model's `full` / `nothing` / `index NAME`.
fn replica_identity(value: &str) -> Option<String> {
    match value {
        "full" => Some("FULL".to_string()),
        "nothing" => Some("NOTHING".to_string()),
        _ => value
            .strip_prefix("index ")
            .map(|index| format!("USING INDEX {}", ident(index))),
    }
}
