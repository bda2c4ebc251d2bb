//! From two schemas to ordered steps.
//!
//! The engine renders each schema as a creation script whose statements are tagged with the
//! object they create ([`Statement`]). Objects are compared by the SQL that creates them: two
//! objects with the same creation SQL are the same object. Then:
//!
//! 1. objects only in the source are dropped; objects only in the target are created;
//! 2. changed objects are altered in place when the dialect knows how (tables column by
//!    column, sequences, enum values, function bodies, comments, …), otherwise dropped and
//!    created again;
//! 3. every object that depends on something dropped, recreated or structurally changed is
//!    recreated too, transitively (views over a table whose column changes type, foreign keys
//!    to a recreated table, comments of a recreated object, …);
//! 4. drops run first, in the reverse of the source script's order; creates and in-place
//!    changes follow in the target script's order — an order the engine already accepts for
//!    the whole schema, so it accepts it for any part whose prerequisites exist.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::diff::{rename, Action, Hazard, HazardKind, PlanOptions, Step};
use crate::engine::{CreateContext, Dialect, TableChange};
use crate::error::Result;
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{Schema, Table};

/// A creation script grouped by object, remembering where each object first appears.
struct Objects {
    statements: Vec<Statement>,
    sql: HashMap<ObjectKey, String>,
    position: HashMap<ObjectKey, usize>,
}

impl Objects {
    fn new(statements: Vec<Statement>) -> Objects {
        let mut sql: HashMap<ObjectKey, String> = HashMap::new();
        let mut position = HashMap::new();
        for (i, s) in statements.iter().enumerate() {
            position.entry(s.key.clone()).or_insert(i);
            let text = sql.entry(s.key.clone()).or_default();
            text.push_str(&s.sql);
            text.push('\n');
        }
        Objects {
            statements,
            sql,
            position,
        }
    }

    fn contains(&self, key: &ObjectKey) -> bool {
        self.sql.contains_key(key)
    }

    /// Keys in script order.
    fn keys(&self) -> Vec<&ObjectKey> {
        let mut keys: Vec<&ObjectKey> = self.position.keys().collect();
        keys.sort_by_key(|k| self.position[*k]);
        keys
    }
}

/// What happens to each object.
#[derive(Default)]
struct Decisions {
    /// Dropped from the source (and, if also in `create`, created again).
    drop: BTreeSet<ObjectKey>,
    /// Target statements to run.
    create: BTreeSet<ObjectKey>,
    /// In-place changes, emitted where the object stands in the target script.
    alter: HashMap<ObjectKey, Vec<Step>>,
    /// Objects whose dependents must be recreated.
    invalidated: Vec<ObjectKey>,
    /// Tables whose columns changed type or disappeared: dependents that read the table are
    /// recreated, and table-level objects that mention the columns.
    changed_columns: HashMap<String, Vec<String>>,
}

impl Decisions {
    fn recreate(&mut self, key: &ObjectKey, source: &Objects, target: &Objects) {
        if source.contains(key) {
            self.drop.insert(key.clone());
        }
        if target.contains(key) {
            self.create.insert(key.clone());
        }
        self.alter.remove(key);
        self.invalidated.push(key.clone());
    }
}

pub(super) fn steps(
    source: &Schema,
    target: &Schema,
    dialect: &dyn Dialect,
    options: &PlanOptions,
) -> Result<Vec<Step>> {
    let (source, mut steps) = rename::apply_renames(source, target, dialect)?;
    let src = Objects::new(dialect.creation_script(&source));
    let tgt = Objects::new(dialect.creation_script(target));
    let mut decisions = Decisions::default();

    for key in src.keys() {
        if !tgt.contains(key) {
            decisions.drop.insert(key.clone());
            decisions.invalidated.push(key.clone());
        }
    }
    for key in tgt.keys() {
        if !src.contains(key) {
            decisions.create.insert(key.clone());
        } else if src.sql[key] != tgt.sql[key] {
            decide_change(key, &source, target, &src, &tgt, dialect, &mut decisions);
        }
    }
    cascade(&source, target, &src, &tgt, &mut decisions);

    let mut drops = drop_steps(&source, &src, &decisions, dialect);
    flag_possible_renames(&mut drops, &source, target, &decisions);
    steps.extend(drops);
    steps.extend(forward_steps(&tgt, target, &decisions, options, dialect));
    Ok(order_by_transaction(steps))
}

fn decide_change(
    key: &ObjectKey,
    source: &Schema,
    target: &Schema,
    src: &Objects,
    tgt: &Objects,
    dialect: &dyn Dialect,
    decisions: &mut Decisions,
) {
    if let ObjectKey::Table { name } = key {
        let (Some(from), Some(to)) = (find_table(source, name), find_table(target, name)) else {
            decisions.recreate(key, src, tgt);
            return;
        };
        match dialect.alter_table(from, to, source, target) {
            TableChange::InPlace {
                steps,
                changed_columns,
            } => {
                if !changed_columns.is_empty() {
                    decisions
                        .changed_columns
                        .insert(name.clone(), changed_columns);
                }
                decisions.alter.insert(key.clone(), steps);
            }
            TableChange::Recreate => decisions.recreate(key, src, tgt),
        }
        return;
    }
    match dialect.alter_in_place(key, source, target) {
        Some(change) => {
            for (table, column) in change.changed_columns {
                decisions
                    .changed_columns
                    .entry(table)
                    .or_default()
                    .push(column);
            }
            decisions.alter.insert(key.clone(), change.steps);
        }
        None => decisions.recreate(key, src, tgt),
    }
}

fn find_table<'a>(schema: &'a Schema, qualified: &str) -> Option<&'a Table> {
    schema
        .tables
        .iter()
        .find(|t| crate::schema::qualified(&t.schema, &t.name) == qualified)
}

/// Recreates, transitively, everything that depends on what is dropped or rebuilt.
fn cascade(source: &Schema, target: &Schema, src: &Objects, tgt: &Objects, d: &mut Decisions) {
    let graph = Dependents::new(source, target, src, tgt);
    // Tables whose columns change: whatever reads the table is rebuilt, and table-level
    // objects whose SQL mentions a changed column.
    let changed: Vec<(String, Vec<String>)> = d
        .changed_columns
        .iter()
        .map(|(t, c)| (t.clone(), c.clone()))
        .collect();
    for (table, columns) in changed {
        let table_key = ObjectKey::Table {
            name: table.clone(),
        };
        for dependent in graph.of(&table_key) {
            let on_same_table = dependent.table() == Some(table.as_str());
            let reads_table = matches!(
                dependent,
                ObjectKey::View { .. } | ObjectKey::Function { .. }
            );
            let mentions_column = src.sql.get(dependent).is_some_and(|sql| {
                columns
                    .iter()
                    .any(|c| crate::diff::rename::mentions_word(sql, c))
            });
            if reads_table || (on_same_table && mentions_column) {
                d.recreate(dependent, src, tgt);
            }
        }
    }
    let mut seen: HashSet<ObjectKey> = HashSet::new();
    while let Some(key) = d.invalidated.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        for dependent in graph.of(&key) {
            if !seen.contains(dependent) {
                d.recreate(dependent, src, tgt);
            }
        }
    }
}

/// Reverse dependency edges: for each object, the objects that need it.
struct Dependents {
    edges: HashMap<ObjectKey, BTreeSet<ObjectKey>>,
}

impl Dependents {
    fn new(source: &Schema, target: &Schema, src: &Objects, tgt: &Objects) -> Dependents {
        let mut edges: HashMap<ObjectKey, BTreeSet<ObjectKey>> = HashMap::new();
        let mut add = |dependent: &ObjectKey, needed: ObjectKey| {
            if &needed != dependent {
                edges.entry(needed).or_default().insert(dependent.clone());
            }
        };
        for (objects, schema) in [(src, source), (tgt, target)] {
            let functions = function_names(schema);
            for key in objects.keys() {
                for needed in requirements(key, schema, &objects.sql[key], &functions) {
                    add(key, needed);
                }
            }
        }
        Dependents { edges }
    }

    fn of(&self, key: &ObjectKey) -> Vec<&ObjectKey> {
        self.edges
            .get(key)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }
}

/// `schema.name` of every function → its keys (`schema.name(args)`), to find functions
/// mentioned by name in defaults, triggers and policies.
fn function_names(schema: &Schema) -> HashMap<String, Vec<ObjectKey>> {
    let mut names: HashMap<String, Vec<ObjectKey>> = HashMap::new();
    for f in &schema.functions {
        names
            .entry(format!("{}.{}", f.schema, f.name))
            .or_default()
            .push(ObjectKey::Function {
                name: format!("{}.{}({})", f.schema, f.name, f.arguments),
            });
    }
    names
}

/// What one object needs to exist.
fn requirements(
    key: &ObjectKey,
    schema: &Schema,
    sql: &str,
    functions: &HashMap<String, Vec<ObjectKey>>,
) -> Vec<ObjectKey> {
    let mut needs = Vec::new();
    match key {
        ObjectKey::Comment { on } | ObjectKey::Access { on } => needs.push((**on).clone()),
        ObjectKey::SequenceOwner { name } => {
            needs.push(ObjectKey::Sequence { name: name.clone() });
            if let Some(owner) = schema
                .sequences
                .iter()
                .find(|s| &format!("{}.{}", s.schema, s.name) == name)
                .and_then(|s| s.owned_by.as_ref())
            {
                if let Some((table, _)) = owner.rsplit_once('.') {
                    needs.push(ObjectKey::Table {
                        name: table.to_string(),
                    });
                }
            }
        }
        ObjectKey::View { name } => {
            if let Some(v) = schema
                .views
                .iter()
                .find(|v| &crate::schema::qualified(&v.schema, &v.name) == name)
            {
                needs.extend(v.depends_on.iter().map(|d| relation_or_function(schema, d)));
            }
        }
        ObjectKey::Function { name } => {
            if let Some(f) = schema
                .functions
                .iter()
                .find(|f| &format!("{}.{}({})", f.schema, f.name, f.arguments) == name)
            {
                needs.extend(f.depends_on.iter().map(|d| relation_or_function(schema, d)));
            }
        }
        ObjectKey::Publication { name } => {
            if let Some(p) = schema.publications.iter().find(|p| &p.name == name) {
                needs.extend(p.tables.iter().map(|t| ObjectKey::Table {
                    name: t.table.clone(),
                }));
            }
        }
        _ => {}
    }
    if let Some(relation) = key.table() {
        if !matches!(key, ObjectKey::Table { .. }) {
            needs.push(relation_key(schema, relation));
        }
    }
    if let ObjectKey::Index { name } = key {
        if let Some(relation) = index_relation(schema, name) {
            needs.push(relation);
        }
    }
    if let ObjectKey::ReplicaIdentity { table } = key {
        let index = find_table(schema, table).and_then(|t| {
            t.replica_identity
                .as_deref()?
                .strip_prefix("index ")
                .map(|i| (t, i))
        });
        if let Some((t, index)) = index {
            needs.push(ObjectKey::Index {
                name: crate::schema::qualified(&t.schema, index),
            });
        }
    }
    if let ObjectKey::Constraint { table, name } = key {
        if let Some(target) = find_table(schema, table)
            .and_then(|t| t.constraints.iter().find(|c| &c.name == name))
            .and_then(|c| c.references.as_ref())
        {
            needs.push(ObjectKey::Table {
                name: target.table.clone(),
            });
        }
    }
    // Defaults, triggers, policies, domains and event triggers call functions by name.
    if matches!(
        key,
        ObjectKey::Column { .. }
            | ObjectKey::Trigger { .. }
            | ObjectKey::Policy { .. }
            | ObjectKey::Type { .. }
            | ObjectKey::EventTrigger { .. }
            | ObjectKey::Constraint { .. }
            | ObjectKey::Index { .. }
    ) {
        for (name, keys) in functions {
            if sql.contains(&format!("{name}(")) || sql.contains(&quoted_call(name)) {
                needs.extend(keys.iter().cloned());
            }
        }
    }
    needs
}

/// `schema.name(` with the parts as the renderer would quote them, for names that need quotes.
fn quoted_call(raw: &str) -> String {
    match raw.split_once('.') {
        Some((s, n)) => format!("\"{s}\".\"{n}\"("),
        None => format!("\"{raw}\"("),
    }
}

/// The key of a relation named `schema.name`: a view's, or else a table's.
fn relation_key(schema: &Schema, name: &str) -> ObjectKey {
    let is_view = schema
        .views
        .iter()
        .any(|v| crate::schema::qualified(&v.schema, &v.name) == name);
    if is_view {
        ObjectKey::View {
            name: name.to_string(),
        }
    } else {
        ObjectKey::Table {
            name: name.to_string(),
        }
    }
}

/// The table or materialized view an index (`schema.index`) is on.
fn index_relation(schema: &Schema, index: &str) -> Option<ObjectKey> {
    let on_table = schema.tables.iter().find(|t| {
        t.indexes
            .iter()
            .any(|i| crate::schema::qualified(&t.schema, &i.name) == index)
    });
    if let Some(t) = on_table {
        return Some(ObjectKey::Table {
            name: crate::schema::qualified(&t.schema, &t.name),
        });
    }
    schema
        .views
        .iter()
        .find(|v| {
            v.indexes
                .iter()
                .any(|i| crate::schema::qualified(&v.schema, &i.name) == index)
        })
        .map(|v| ObjectKey::View {
            name: crate::schema::qualified(&v.schema, &v.name),
        })
}

/// A `depends_on` entry: `schema.name(args)` is a function, anything else a relation.
fn relation_or_function(schema: &Schema, reference: &str) -> ObjectKey {
    if reference.ends_with(')') && reference.contains('(') {
        return ObjectKey::Function {
            name: reference.to_string(),
        };
    }
    relation_key(schema, reference)
}

/// A table dropped while a table of the same shape (column names and types) is created was
/// perhaps renamed: say so on the drop, since without `renamed_from` its rows are lost.
fn flag_possible_renames(steps: &mut [Step], source: &Schema, target: &Schema, d: &Decisions) {
    let shape = |t: &Table| -> Vec<(String, String)> {
        t.columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .collect()
    };
    for step in steps.iter_mut() {
        let ObjectKey::Table { name } = &step.object else {
            continue;
        };
        if step.action != Action::Drop || d.create.contains(&step.object) {
            continue;
        }
        let Some(dropped) = find_table(source, name) else {
            continue;
        };
        let twin = target.tables.iter().find(|t| {
            let key = ObjectKey::Table {
                name: crate::schema::qualified(&t.schema, &t.name),
            };
            d.create.contains(&key) && !d.drop.contains(&key) && shape(t) == shape(dropped)
        });
        if let Some(twin) = twin {
            step.hazards.push(Hazard::new(
                HazardKind::PossibleRename,
                format!(
                    "{} has the same columns as the new table {}.{}: if this is a rename, add \
                     `renamed_from: {name}` to that table in the schema file to keep the rows",
                    name, twin.schema, twin.name
                ),
            ));
        }
    }
}

/// For each index (`schema.index`): its table and the partitioned index it is attached to.
fn index_owners(schema: &Schema) -> HashMap<String, (String, Option<String>)> {
    let mut owners = HashMap::new();
    for t in &schema.tables {
        for i in &t.indexes {
            owners.insert(
                crate::schema::qualified(&t.schema, &i.name),
                (
                    crate::schema::qualified(&t.schema, &t.name),
                    i.attached_to.clone(),
                ),
            );
        }
    }
    owners
}

fn drop_steps(source: &Schema, src: &Objects, d: &Decisions, dialect: &dyn Dialect) -> Vec<Step> {
    let dropped_tables: HashSet<&str> = d
        .drop
        .iter()
        .filter_map(|k| match k {
            ObjectKey::Table { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let index_owners = index_owners(source);
    let implied = |k: &ObjectKey| -> bool {
        // Dropping a table drops what hangs off it (but a foreign key to another dropped
        // table must go first, or that table cannot be dropped); dropping an object drops its
        // comment and grants; dropping a partitioned index drops its partitions' indexes.
        let owner = k.owner();
        if !std::ptr::eq(owner, k) && d.drop.contains(owner) {
            return true;
        }
        if let ObjectKey::Constraint { table, name } = k {
            let is_foreign_key = find_table(source, table)
                .and_then(|t| t.constraints.iter().find(|c| &c.name == name))
                .is_some_and(|c| c.references.is_some());
            return !is_foreign_key && dropped_tables.contains(table.as_str());
        }
        if let ObjectKey::Index { name } = k {
            let (table, parent) = index_owners.get(name.as_str()).cloned().unwrap_or_default();
            let parent_dropped =
                parent.is_some_and(|p| d.drop.contains(&ObjectKey::Index { name: p }));
            return parent_dropped || dropped_tables.contains(table.as_str());
        }
        !matches!(k, ObjectKey::Table { .. })
            && k.table().is_some_and(|t| dropped_tables.contains(t))
    };
    let mut keys: Vec<&ObjectKey> = d.drop.iter().filter(|k| !implied(k)).collect();
    keys.sort_by_key(|k| std::cmp::Reverse(src.position[*k]));
    keys.into_iter()
        .flat_map(|k| {
            let recreated = d.create.contains(k);
            dialect
                .drop(k, source, &src.sql[k])
                .into_iter()
                .map(move |mut step| {
                    if recreated {
                        step.reason = format!("{} (recreated below)", step.reason);
                        // Recreating loses nothing the create does not bring back, except data.
                        if !matches!(k, ObjectKey::Table { .. }) {
                            step.hazards.retain(|h| h.kind != HazardKind::DataLoss);
                        }
                    }
                    step
                })
        })
        .collect()
}

fn forward_steps(
    tgt: &Objects,
    target: &Schema,
    d: &Decisions,
    options: &PlanOptions,
    dialect: &dyn Dialect,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut altered: HashSet<ObjectKey> = HashSet::new();
    for statement in &tgt.statements {
        let key = &statement.key;
        if let Some(alter) = d.alter.get(key) {
            if altered.insert(key.clone()) {
                steps.extend(alter.iter().cloned());
            }
        }
        if d.create.contains(key) {
            let table_is_new = key.table().is_some_and(|t| {
                d.create.contains(&ObjectKey::Table {
                    name: t.to_string(),
                })
            });
            let context = CreateContext {
                recreated: d.drop.contains(key),
                table_is_new,
                online: options.online,
            };
            steps.extend(dialect.create(statement, target, context));
        }
    }
    steps
}

/// Steps that cannot run in a transaction go before it (enum values, which later steps may
/// use) or after it (concurrent index builds); the rest keep their order.
fn order_by_transaction(steps: Vec<Step>) -> Vec<Step> {
    let (outside, inside): (Vec<Step>, Vec<Step>) =
        steps.into_iter().partition(|s| !s.transactional);
    let (before, after): (Vec<Step>, Vec<Step>) = outside
        .into_iter()
        .partition(|s| !s.sql.contains("CONCURRENTLY"));
    before.into_iter().chain(inside).chain(after).collect()
}

/// A step that creates something new.
pub(crate) fn create_step(key: &ObjectKey, sql: String, recreated: bool) -> Step {
    let reason = if recreated {
        format!("recreate {}", key.describe())
    } else {
        format!("create {}", key.describe())
    };
    Step {
        object: key.clone(),
        action: Action::Create,
        reason,
        sql,
        hazards: vec![],
        inverse: None,
        transactional: true,
        precheck: None,
    }
}
