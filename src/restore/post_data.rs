//! The post-data phase on several sessions: each table's primary key, unique constraints and
//! indexes — the statements that read a whole table and dominate this phase — are built on
//! `jobs` sessions at once, one table per session at a time (its statements in script order,
//! in one transaction), as `pg_restore -j` does: normally during the data phase, as soon as the
//! table's rows are in ([`super::queue`]), else (when rows are filtered after loading) here,
//! biggest tables first; everything else
//! (checks, foreign keys, views, triggers, policies, comments, partitioned tables' keys) then
//! runs in the script's order, when every key a foreign key may reference exists: in one
//! transaction, except that a run of foreign keys is added on several sessions
//! ([`super::foreign_keys`]).
//!
//! Only statements on plain tables go to the parallel part: they depend on nothing in
//! post-data, and each takes locks on its own table only, so sessions never wait on each
//! other. Partitioned and inheriting tables stay in the script's order, where adopting a
//! partition's key or attaching its index relies on that order.

use std::collections::{HashMap, HashSet};

use crate::engine;

use super::foreign_keys::{add_foreign_keys, ForeignKey};
use super::queue::{Queue, Task};
use super::sessions::on_sessions;
use crate::error::Result;
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{qualified, ConstraintKind, Schema};

/// Post-data cut in two: per-table groups that may run at once, then the rest in order.
#[derive(Debug, Default)]
pub(super) struct PostData {
    /// `(table, statements)`, in the script's order of first appearance.
    per_table: Vec<(String, Vec<String>)>,
    /// What runs after every group, in the script's order.
    rest: Vec<Rest>,
    /// `name(` of every function the schema defines: a group whose statements call one may
    /// read other tables (an index expression calling a SQL function that queries a table).
    function_calls: Vec<String>,
}

/// A piece of what runs after the groups.
#[derive(Debug)]
enum Rest {
    /// Statements run in order, in one transaction.
    InOrder(Vec<String>),
    /// Foreign keys next to each other in the script, added on several sessions.
    ForeignKeys(Vec<ForeignKey>),
}

impl PostData {
    /// Takes the groups that can be built as soon as their table's rows are in: those that
    /// call no function of the schema. The others stay for [`PostData::run`], once every
    /// table is loaded, since such a function may read another table (as it would when
    /// rows are inserted later), which must then hold its rows.
    pub(super) fn take_early_groups(&mut self) -> Vec<(String, Vec<String>)> {
        let calls_function = |statements: &[String]| {
            statements.iter().any(|sql| {
                self.function_calls
                    .iter()
                    .any(|call| sql.contains(call.as_str()))
            })
        };
        let (late, early) = std::mem::take(&mut self.per_table)
            .into_iter()
            .partition(|(_, statements)| calls_function(statements));
        self.per_table = late;
        early
    }

    /// Appends a statement to the rest, a foreign key (with the tables it locks) to the run of
    /// foreign keys it continues.
    fn push_rest(&mut self, sql: String, foreign_key: Option<[String; 2]>) {
        match (foreign_key, self.rest.last_mut()) {
            (Some(tables), Some(Rest::ForeignKeys(keys))) => keys.push(ForeignKey { sql, tables }),
            (Some(tables), _) => self
                .rest
                .push(Rest::ForeignKeys(vec![ForeignKey { sql, tables }])),
            (None, Some(Rest::InOrder(statements))) => statements.push(sql),
            (None, _) => self.rest.push(Rest::InOrder(vec![sql])),
        }
    }
}

impl PostData {
    /// Everything in the script's order, on one session (SQLite, which has one writer).
    pub(super) fn serial(statements: Vec<String>) -> PostData {
        PostData {
            rest: vec![Rest::InOrder(statements)],
            ..PostData::default()
        }
    }

    /// Sorts PostgreSQL's post-data statements into per-table groups and the rest.
    pub(super) fn split(schema: &Schema, statements: Vec<Statement>) -> PostData {
        let plain = |t: &&crate::schema::Table| {
            t.partition_by.is_none() && t.partition_of.is_none() && t.inherits.is_empty()
        };
        let mut index_table: HashMap<String, String> = HashMap::new();
        let mut keys: HashSet<(String, String)> = HashSet::new();
        let mut references: HashMap<(String, String), String> = HashMap::new();
        for table in schema.tables.iter().filter(plain) {
            let name = qualified(&table.schema, &table.name);
            for index in table.indexes.iter().filter(|i| i.attached_to.is_none()) {
                index_table.insert(qualified(&table.schema, &index.name), name.clone());
            }
            for constraint in &table.constraints {
                if matches!(
                    constraint.kind,
                    ConstraintKind::PrimaryKey | ConstraintKind::Unique
                ) && !constraint.inherited
                {
                    keys.insert((name.clone(), constraint.name.clone()));
                }
                if let Some(target) = constraint
                    .references
                    .as_ref()
                    .filter(|_| constraint.kind == ConstraintKind::ForeignKey)
                {
                    references.insert(
                        (name.clone(), constraint.name.clone()),
                        target.table.clone(),
                    );
                }
            }
        }
        let mut post = PostData {
            // The name as written, or quoted (`"Name"(`).
            function_calls: schema
                .functions
                .iter()
                .flat_map(|f| [format!("{}(", f.name), format!("{}\"(", f.name)])
                .collect(),
            ..PostData::default()
        };
        let mut slot: HashMap<String, usize> = HashMap::new();
        for statement in statements {
            let table = match &statement.key {
                ObjectKey::Index { name } => index_table.get(name).cloned(),
                ObjectKey::Constraint { table, name }
                    if keys.contains(&(table.clone(), name.clone())) =>
                {
                    Some(table.clone())
                }
                _ => None,
            };
            match table {
                Some(table) => {
                    let next = post.per_table.len();
                    let i = *slot.entry(table.clone()).or_insert(next);
                    if i == next {
                        post.per_table.push((table, Vec::new()));
                    }
                    post.per_table[i].1.push(statement.sql);
                }
                None => {
                    let foreign_key = match &statement.key {
                        ObjectKey::Constraint { table, name } => references
                            .get(&(table.clone(), name.clone()))
                            .map(|referenced| [table.clone(), referenced.clone()]),
                        _ => None,
                    };
                    post.push_rest(statement.sql, foreign_key);
                }
            }
        }
        post
    }

    /// Runs the groups on up to `jobs` sessions, biggest tables (by `rows`) first, then the
    /// rest on `loader`.
    pub(super) fn run(
        mut self,
        database: &dyn engine::Engine,
        loader: &mut dyn engine::Loader,
        jobs: usize,
        rows: &HashMap<&str, u64>,
    ) -> Result<()> {
        self.per_table
            .sort_by_key(|(table, _)| std::cmp::Reverse(rows.get(table.as_str()).copied()));
        let sessions = jobs.max(1).min(self.per_table.len());
        if sessions <= 1 {
            for (_, statements) in &self.per_table {
                loader.run_script(statements)?;
            }
        } else {
            run_groups(database, &self.per_table, sessions)?;
        }
        for rest in &self.rest {
            match rest {
                Rest::ForeignKeys(keys) if jobs > 1 && keys.len() > 1 => {
                    add_foreign_keys(database, keys, jobs)?
                }
                Rest::ForeignKeys(keys) => {
                    let statements: Vec<String> = keys.iter().map(|k| k.sql.clone()).collect();
                    loader.run_script(&statements)?
                }
                Rest::InOrder(statements) => loader.run_script(statements)?,
            }
        }
        Ok(())
    }
}

/// Each session takes the next group until none is left or one failed.
fn run_groups(
    database: &dyn engine::Engine,
    groups: &[(String, Vec<String>)],
    sessions: usize,
) -> Result<()> {
    // No rows to wait for: every group is ready at once.
    let queue = Queue::new(Vec::new(), &[], Vec::new(), groups.len(), &[]);
    let build = |loader: &mut dyn engine::Loader| -> Result<()> {
        while let Some(Task::Build { group }) = queue.next() {
            loader.run_script(&groups[group].1)?;
        }
        Ok(())
    };
    on_sessions(database, sessions, &|| queue.stop(), &build)
}
