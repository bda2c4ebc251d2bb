//! From two schemas to ordered steps.
//!
//! The engine renders each schema as a creation script whose statements are tagged with the
//! object they create ([`Statement`]). Objects are compared by the SQL that creates them: two
//! objects with the same creation SQL are the same object. Then:
//!
//! 1. objects only in the source are dropped; objects only in the target are created;
//! 2. changed objects are altered in place when the dialect knows how (tables column by
//!    column, sequences, enum values, function bodies, comments, …), otherwise dropped and
//!    created again — except tables the dialect rebuilds with their rows (SQLite), whose
//!    dependents are then recreated around the rebuild;
//! 3. every object that depends on something dropped, recreated or structurally changed is
//!    recreated too, transitively (views over a table whose column changes type, foreign keys
//!    to a recreated table, comments of a recreated object, …);
//! 4. drops run first, in the reverse of the source script's order; creates and in-place
//!    changes follow in the target script's order — an order the engine already accepts for
//!    the whole schema, so it accepts it for any part whose prerequisites exist.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::diff::dependencies::{Dependents, Lookup};
use crate::diff::{rename, unchanged, Action, Hazard, HazardKind, PlanOptions, Step};
use crate::engine::{CreateContext, Dialect, TableChange};
use crate::error::Result;
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{Schema, Table};

/// A creation script grouped by object, remembering where each object first appears.
struct Objects {
    statements: Vec<Statement>,
    /// For each object, the positions of its statements in the script, in order.
    members: HashMap<ObjectKey, Vec<usize>>,
}

impl Objects {
    fn new(statements: Vec<Statement>) -> Objects {
        let mut members: HashMap<ObjectKey, Vec<usize>> = HashMap::with_capacity(statements.len());
        for (i, s) in statements.iter().enumerate() {
            match members.get_mut(&s.key) {
                Some(list) => list.push(i),
                None => {
                    members.insert(s.key.clone(), vec![i]);
                }
            }
        }
        Objects {
            statements,
            members,
        }
    }

    fn contains(&self, key: &ObjectKey) -> bool {
        self.members.contains_key(key)
    }

    /// Where the object first appears in the script.
    fn position(&self, key: &ObjectKey) -> usize {
        self.members[key][0]
    }

    /// The object's statements, in order.
    fn parts(&self, key: &ObjectKey) -> Vec<String> {
        self.members
            .get(key)
            .map(|m| m.iter().map(|&i| self.statements[i].sql.clone()).collect())
            .unwrap_or_default()
    }

    fn sql_parts(&self, key: &ObjectKey) -> impl Iterator<Item = &str> {
        self.members
            .get(key)
            .into_iter()
            .flatten()
            .map(|&i| self.statements[i].sql.as_str())
    }

    /// True when both scripts create the object with the same statements, as the dialect
    /// compares them.
    fn same_as(&self, other: &Objects, key: &ObjectKey, dialect: &dyn Dialect) -> bool {
        let (mine, theirs) = (self.sql_parts(key), other.sql_parts(key));
        mine.count() == theirs.count()
            && self
                .sql_parts(key)
                .zip(other.sql_parts(key))
                .all(|(a, b)| dialect.same_statement(key, a, b))
    }

    /// Keys in script order.
    fn keys(&self) -> impl Iterator<Item = &ObjectKey> {
        self.statements
            .iter()
            .enumerate()
            .filter(|(i, s)| self.members[&s.key][0] == *i)
            .map(|(_, s)| &s.key)
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
    /// Every object ever invalidated (the cascade consumes `invalidated`).
    all_invalidated: Vec<ObjectKey>,
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
        self.invalidate(key);
    }

    fn invalidate(&mut self, key: &ObjectKey) {
        self.invalidated.push(key.clone());
        self.all_invalidated.push(key.clone());
    }
}

pub(super) fn steps(
    source: &Schema,
    target: &Schema,
    dialect: &dyn Dialect,
    options: &PlanOptions,
    recreate: &HashSet<String>,
) -> Result<Vec<Step>> {
    let renamed = rename::apply_renames(source, target, dialect)?;
    let source = renamed.source;
    if renamed.steps.is_empty() && recreate.is_empty() {
        if let Some(steps) =
            unchanged::steps_without_unchanged_tables(&source, target, dialect, options)
        {
            return Ok(steps);
        }
    }
    let rebuild = Rebuild {
        uncertain: &renamed.uncertain,
        recreate,
    };
    let (steps, _, _) = compare(&source, target, dialect, options, &rebuild);
    Ok(renamed.steps.into_iter().chain(steps).collect())
}

/// Indexes a failed concurrent build left invalid: they are dropped and built again.
fn invalid_indexes(schema: &Schema) -> Vec<ObjectKey> {
    let on_tables = schema
        .tables
        .iter()
        .flat_map(|t| t.indexes.iter().map(move |i| (&t.schema, i)));
    let on_views = schema
        .views
        .iter()
        .flat_map(|v| v.indexes.iter().map(move |i| (&v.schema, i)));
    on_tables
        .chain(on_views)
        .filter(|(_, i)| i.invalid)
        .map(|(schema, i)| ObjectKey::Index {
            name: crate::schema::qualified(schema, &i.name),
        })
        .collect()
}

/// Tables a plan replaces whatever they compare like.
pub(super) struct Rebuild<'a> {
    /// Tables to rebuild with their rows even when they compare equal (see
    /// [`rename::Renamed`]).
    pub uncertain: &'a HashSet<String>,
    /// Tables to drop and create again, with everything that depends on them.
    pub recreate: &'a HashSet<String>,
}

/// The plan for two schemas (renames already applied to `source`), every object the plan
/// invalidates (drops or rebuilds), and the tables whose columns it retypes or drops.
pub(super) fn compare(
    source: &Schema,
    target: &Schema,
    dialect: &dyn Dialect,
    options: &PlanOptions,
    rebuild: &Rebuild,
) -> (Vec<Step>, Vec<ObjectKey>, Vec<String>) {
    // The two scripts are independent: render them on two threads.
    let (src, tgt) = std::thread::scope(|scope| {
        let source_side = scope.spawn(|| Objects::new(dialect.creation_script(source)));
        let tgt = Objects::new(dialect.creation_script(target));
        (source_side.join(), tgt)
    });
    let src = src.expect("rendering a creation script does not panic");
    let sides = Sides {
        source: Lookup::new(source),
        target: Lookup::new(target),
    };
    let mut decisions = Decisions::default();

    for key in src.keys().collect::<Vec<_>>() {
        if !tgt.contains(key) {
            decisions.drop.insert(key.clone());
            decisions.invalidate(key);
        }
    }
    for key in invalid_indexes(source) {
        if src.contains(&key) {
            decisions.recreate(&key, &src, &tgt);
        }
    }
    for key in tgt.keys().collect::<Vec<_>>() {
        if decisions.drop.contains(key) {
            continue;
        }
        let must_rebuild =
            matches!(key, ObjectKey::Table { name } if rebuild.uncertain.contains(name));
        if !src.contains(key) {
            decisions.create.insert(key.clone());
        } else if !src.same_as(&tgt, key, dialect) || must_rebuild {
            let both = Both {
                source,
                target,
                src: &src,
                tgt: &tgt,
                sides: &sides,
            };
            decide_change(key, &both, dialect, must_rebuild, &mut decisions);
        }
    }
    for name in rebuild.recreate {
        let key = ObjectKey::Table { name: name.clone() };
        if src.contains(&key) && tgt.contains(&key) {
            decisions.recreate(&key, &src, &tgt);
        }
    }
    cascade(&sides, &src, &tgt, &mut decisions);

    let mut steps = drop_steps(source, &sides.source, &src, &decisions, dialect);
    flag_possible_renames(&mut steps, &sides, &decisions);
    steps.extend(forward_steps(
        &tgt,
        (target, &sides.target),
        &decisions,
        options,
        dialect,
    ));
    let retyped = decisions.changed_columns.keys().cloned().collect();
    (
        order_by_transaction(steps),
        decisions.all_invalidated,
        retyped,
    )
}

/// Everything known about the two schemas being compared.
struct Sides<'a> {
    source: Lookup<'a>,
    target: Lookup<'a>,
}

struct Both<'a> {
    source: &'a Schema,
    target: &'a Schema,
    src: &'a Objects,
    tgt: &'a Objects,
    sides: &'a Sides<'a>,
}

fn decide_change(
    key: &ObjectKey,
    both: &Both,
    dialect: &dyn Dialect,
    must_rebuild: bool,
    decisions: &mut Decisions,
) {
    let (source, target, src, tgt) = (both.source, both.target, both.src, both.tgt);
    if let ObjectKey::Table { name } = key {
        let from = both.sides.source.tables.get(name);
        let to = both.sides.target.tables.get(name);
        let (Some(from), Some(to)) = (from, to) else {
            decisions.recreate(key, src, tgt);
            return;
        };
        let rebuild = must_rebuild
            .then(|| dialect.rebuild_table(from, to, source, target))
            .flatten();
        let change = match rebuild {
            Some(steps) => TableChange::Rebuild { steps },
            None => dialect.alter_table(from, to, source, target),
        };
        match change {
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
            TableChange::Rebuild { steps } => {
                // The table keeps its name and rows but is replaced: what hangs off it or
                // reads it is dropped before and created again after, like the dependents of
                // a recreated object.
                decisions.alter.insert(key.clone(), steps);
                decisions.invalidate(key);
            }
            TableChange::Recreate => decisions.recreate(key, src, tgt),
        }
        return;
    }
    match dialect.alter_in_place(key, source, target, &tgt.parts(key)) {
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

/// Recreates, transitively, everything that depends on what is dropped or rebuilt.
fn cascade(sides: &Sides, src: &Objects, tgt: &Objects, d: &mut Decisions) {
    // Nothing dropped, rebuilt or retyped: nothing to cascade, and no graph to build.
    if d.invalidated.is_empty() && d.changed_columns.is_empty() {
        return;
    }
    let mut source_objects = src.statements.iter().map(|s| (&s.key, s.sql.as_str()));
    let mut target_objects = tgt.statements.iter().map(|s| (&s.key, s.sql.as_str()));
    let graph = Dependents::new([
        (&sides.source, &mut source_objects),
        (&sides.target, &mut target_objects),
    ]);
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
            // Views, functions and triggers of other tables that name the table read it.
            let reads_table = match dependent {
                ObjectKey::View { .. } | ObjectKey::Function { .. } => true,
                ObjectKey::Trigger { .. } => !on_same_table,
                _ => false,
            };
            let mentions_column = src.sql_parts(dependent).any(|sql| {
                columns
                    .iter()
                    .any(|c| crate::diff::rename::mentions_word(sql, c))
            });
            // Indexes and constraints are rebuilt by PostgreSQL itself when a column changes
            // type; policies, triggers, rules and defaults that mention it are in the way.
            let in_the_way = matches!(
                dependent,
                ObjectKey::Policy { .. }
                    | ObjectKey::Trigger { .. }
                    | ObjectKey::Rule { .. }
                    | ObjectKey::Column { .. }
            );
            if reads_table || (on_same_table && in_the_way && mentions_column) {
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

/// A table dropped while a table of the same shape (column names and types) is created was
/// perhaps renamed: say so on the drop, since without `renamed_from` its rows are lost.
fn flag_possible_renames(steps: &mut [Step], sides: &Sides, d: &Decisions) {
    let shape = |t: &Table| -> Vec<(String, String)> {
        t.columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .collect()
    };
    let created: HashMap<Vec<(String, String)>, String> = d
        .create
        .iter()
        .filter(|k| !d.drop.contains(*k))
        .filter_map(|k| match k {
            ObjectKey::Table { name } => sides.target.tables.get(name),
            _ => None,
        })
        .map(|t| (shape(t), crate::schema::qualified(&t.schema, &t.name)))
        .collect();
    for step in steps.iter_mut() {
        let ObjectKey::Table { name } = &step.object else {
            continue;
        };
        if step.action != Action::Drop || d.create.contains(&step.object) {
            continue;
        }
        let Some(dropped) = sides.source.tables.get(name) else {
            continue;
        };
        if let Some(twin) = created.get(&shape(dropped)) {
            step.hazards.push(Hazard::new(
                HazardKind::PossibleRename,
                format!(
                    "{name} has the same columns as the new table {twin}: if this is a rename, \
                     add `renamed_from: {name}` to that table in the schema file to keep the rows"
                ),
            ));
        }
    }
}

fn drop_steps(
    source: &Schema,
    lookup: &Lookup,
    src: &Objects,
    d: &Decisions,
    dialect: &dyn Dialect,
) -> Vec<Step> {
    let dropped_tables: HashSet<&str> = d
        .drop
        .iter()
        .filter_map(|k| match k {
            ObjectKey::Table { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let implied = |k: &ObjectKey| -> bool {
        // Dropping a table drops what hangs off it (but a foreign key to another dropped
        // table must go first, or that table cannot be dropped); dropping an object drops its
        // comment and grants; dropping a partitioned index drops its partitions' indexes.
        let owner = k.owner();
        if !std::ptr::eq(owner, k) && d.drop.contains(owner) {
            return true;
        }
        if let ObjectKey::Constraint { table, name } = k {
            let is_foreign_key = lookup
                .tables
                .get(table)
                .and_then(|t| t.constraints.iter().find(|c| &c.name == name))
                .is_some_and(|c| c.references.is_some());
            return !is_foreign_key && dropped_tables.contains(table.as_str());
        }
        if let ObjectKey::Index { name } = k {
            let Some((relation, parent)) = lookup.indexes.get(name) else {
                return false;
            };
            let parent_dropped = parent
                .as_ref()
                .is_some_and(|p| d.drop.contains(&ObjectKey::Index { name: p.clone() }));
            let relation_dropped = match relation {
                ObjectKey::Table { name } => dropped_tables.contains(name.as_str()),
                other => d.drop.contains(other),
            };
            return parent_dropped || relation_dropped;
        }
        !matches!(k, ObjectKey::Table { .. })
            && k.table().is_some_and(|t| dropped_tables.contains(t))
    };
    let mut keys: Vec<&ObjectKey> = d.drop.iter().filter(|k| !implied(k)).collect();
    keys.sort_by_key(|k| std::cmp::Reverse(src.position(k)));
    keys.into_iter()
        .flat_map(|k| {
            let recreated = d.create.contains(k);
            dialect
                .drop(k, source, &src.parts(k))
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
    (target, lookup): (&Schema, &Lookup),
    d: &Decisions,
    options: &PlanOptions,
    dialect: &dyn Dialect,
) -> Vec<Step> {
    // The table an object belongs to: an index's is its relation's.
    let table_of = |key: &ObjectKey| -> Option<String> {
        match key {
            ObjectKey::Index { name } => match lookup.indexes.get(name) {
                Some((ObjectKey::Table { name }, _)) => Some(name.clone()),
                _ => None,
            },
            other => other.table().map(str::to_string),
        }
    };
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
            let table_is_new =
                table_of(key).is_some_and(|name| d.create.contains(&ObjectKey::Table { name }));
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
    let mut ordered = steps;
    // A stable sort keeps the order within each phase.
    ordered.sort_by_key(|s| s.run);
    ordered
}

/// A step that creates something new.
pub(crate) fn create_step(key: &ObjectKey, sql: String, recreated: bool) -> Step {
    let reason = if recreated {
        format!("recreate {}", key.describe())
    } else {
        format!("create {}", key.describe())
    };
    Step::new(key.clone(), Action::Create, reason, sql)
}
