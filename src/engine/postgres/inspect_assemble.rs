//! Joining what the catalog reads found into one canonical schema model.
//!
//! The reads ([`super::inspect`]) come back as flat lists keyed by oid, from any session in
//! any order; this puts each part on its table or view, names constraint key columns from the
//! columns read, attaches comments and identity sequences, and sorts. It runs on the main
//! session: the only query it may issue (column names of relations outside the model) must see
//! the same snapshot.

use std::collections::{BTreeSet, HashMap};

use postgres::types::Oid;

use crate::error::{Error, Result};
use crate::schema::{
    Column, ColumnComment, Constraint, EngineKind, Index, Policy, Rule, Schema, Table, Trigger,
    View,
};

use super::catalog::{Catalog, Described, Descriptions};
use super::inspect::{Found, Relation};
use super::inspect_parts::{self as parts, ColumnPart, ConstraintPart, IdentitySequence};

/// Where each relation oid went: a table or a view, by index.
#[derive(Clone, Copy)]
enum Slot {
    Table(usize),
    View(usize),
}

/// Joins what the reads found into one canonical schema; also returns the notes on what
/// it leaves out.
pub(super) fn assemble(catalog: &mut Catalog, found: Vec<Found>) -> Result<(Schema, Vec<String>)> {
    let mut schema = None;
    let (mut relations, mut descriptions, mut rest) = (Vec::new(), Descriptions::default(), None);
    let (mut columns, mut constraints) = (Vec::new(), Vec::new());
    let (mut indexes, mut triggers) = (Vec::new(), Vec::new());
    for f in found {
        match f {
            Found::Columns(c) => columns.push(c),
            Found::Constraints(c) => constraints.extend(c),
            Found::Indexes(i) => indexes.extend(i),
            Found::Triggers(t) => triggers.extend(t),
            Found::Relations(r) => relations = r,
            Found::FreeStanding(s) => schema = Some(*s),
            Found::Descriptions(d) => descriptions = d,
            Found::Rest(r) => rest = Some(r),
        }
    }
    let mut schema =
        schema.unwrap_or_else(|| Schema::new(EngineKind::Postgres, catalog.version.to_string()));
    let rest = rest.unwrap_or_default();

    let mut slots: HashMap<Oid, Slot> = HashMap::with_capacity(relations.len());
    for (oid, relation) in relations {
        let comment = descriptions.take(Described::Relation, oid, 0);
        match relation {
            Relation::Table(table) => {
                slots.insert(oid, Slot::Table(schema.tables.len()));
                schema.tables.push(Table { comment, ..*table });
            }
            Relation::View(view) => {
                slots.insert(oid, Slot::View(schema.views.len()));
                schema.views.push(View { comment, ..*view });
            }
        }
    }
    for (oid, parent) in rest.inheritance {
        let Some(Slot::Table(i)) = slots.get(&oid) else {
            continue;
        };
        if let Some(table) = schema.tables.get_mut(*i) {
            match &mut table.partition_of {
                Some(p) => p.parent = parent,
                None => table.inherits.push(parent),
            }
        }
    }
    let table_columns = place_columns(
        columns,
        rest.identity_sequences,
        &mut descriptions,
        &slots,
        schema.tables.len(),
    );
    name_constraint_keys(catalog, &table_columns, &mut constraints, &slots)?;
    let mut relation = Relations {
        schema: &mut schema,
        slots: &slots,
    };
    for (table, placed) in relation.schema.tables.iter_mut().zip(table_columns) {
        table.columns = placed.columns;
    }
    for (oid, column, comment) in rest.view_column_comments {
        if let Some(view) = relation.view(oid) {
            view.column_comments.push(ColumnComment { column, comment });
        }
    }
    for c in constraints {
        if let Some(table) = relation.table(c.relation) {
            let comment = descriptions.take(Described::Constraint, c.oid, 0);
            table.constraints.push(Constraint {
                comment,
                ..c.constraint
            });
        }
    }
    for p in indexes {
        let index = Index {
            comment: descriptions.take(Described::Relation, p.oid, 0),
            ..p.item
        };
        if let Some(table) = relation.table(p.relation) {
            table.indexes.push(index);
        } else if let Some(view) = relation.view(p.relation) {
            view.indexes.push(index);
        }
    }
    for p in triggers {
        let trigger = Trigger {
            comment: descriptions.take(Described::Trigger, p.oid, 0),
            ..p.item
        };
        if let Some(table) = relation.table(p.relation) {
            table.triggers.push(trigger);
        } else if let Some(view) = relation.view(p.relation) {
            view.triggers.push(trigger);
        }
    }
    for p in rest.rules {
        let rule = Rule {
            comment: descriptions.take(Described::Rule, p.oid, 0),
            ..p.item
        };
        if let Some(table) = relation.table(p.relation) {
            table.rules.push(rule);
        } else if let Some(view) = relation.view(p.relation) {
            view.rules.push(rule);
        }
    }
    for p in rest.policies {
        if let Some(table) = relation.table(p.relation) {
            let comment = descriptions.take(Described::Policy, p.oid, 0);
            table.policies.push(Policy { comment, ..p.item });
        }
    }
    for (oid, dependency) in rest.view_dependencies {
        if let Some(view) = relation.view(oid) {
            view.depends_on.push(dependency);
        }
    }
    check_partitions_have_parents(&catalog.display, &schema)?;
    schema.canonicalize();
    Ok((schema, rest.notes))
}

/// The columns of one table in column order, with their numbers.
struct PlacedColumns {
    numbers: Vec<i16>,
    columns: Vec<Column>,
}

impl PlacedColumns {
    fn name(&self, number: i16) -> Option<&str> {
        let at = self.numbers.binary_search(&number).ok()?;
        self.columns.get(at).map(|c| c.name.as_str())
    }
}

/// The columns of each table (by table index) with their comments and identity sequences.
/// Shards come back in any order; columns of relations outside the model are dropped.
fn place_columns(
    shards: Vec<Vec<ColumnPart>>,
    identity_sequences: Vec<IdentitySequence>,
    descriptions: &mut Descriptions,
    slots: &HashMap<Oid, Slot>,
    tables: usize,
) -> Vec<PlacedColumns> {
    let mut sequences: HashMap<(Oid, i32), IdentitySequence> = identity_sequences
        .into_iter()
        .map(|s| ((s.relation, s.number), s))
        .collect();
    let table_of = |c: &ColumnPart| match slots.get(&c.relation) {
        Some(Slot::Table(i)) => Some(*i),
        _ => None,
    };
    // Sized up front: growing 2,000 vectors of large values one push at a time showed up as
    // a good part of the time spent here.
    let mut counts = vec![0usize; tables];
    for i in shards.iter().flatten().filter_map(table_of) {
        if let Some(count) = counts.get_mut(i) {
            *count += 1;
        }
    }
    let mut placed: Vec<PlacedColumns> = counts
        .into_iter()
        .map(|n| PlacedColumns {
            numbers: Vec::with_capacity(n),
            columns: Vec::with_capacity(n),
        })
        .collect();
    for c in shards.into_iter().flatten() {
        let Some(table) = table_of(&c).and_then(|i| placed.get_mut(i)) else {
            continue;
        };
        let mut column = c.column;
        column.comment = descriptions.take(Described::Relation, c.relation, c.number.into());
        if let Some(identity) = &mut column.identity {
            if let Some(sequence) = sequences.remove(&(c.relation, c.number.into())) {
                identity.sequence = Some(sequence.name);
                identity.options = Some(sequence.options);
            }
        }
        table.numbers.push(c.number);
        table.columns.push(column);
    }
    // The server returns a table's columns in attribute order in practice; sort only when not.
    for table in &mut placed {
        if !table.numbers.is_sorted() {
            let mut pairs: Vec<(i16, Column)> = std::mem::take(&mut table.numbers)
                .into_iter()
                .zip(std::mem::take(&mut table.columns))
                .collect();
            pairs.sort_unstable_by_key(|(number, _)| *number);
            (table.numbers, table.columns) = pairs.into_iter().unzip();
        }
    }
    placed
}

/// The model's tables and views, found by relation oid.
struct Relations<'s> {
    schema: &'s mut Schema,
    slots: &'s HashMap<Oid, Slot>,
}

impl Relations<'_> {
    fn table(&mut self, oid: Oid) -> Option<&mut Table> {
        match self.slots.get(&oid) {
            Some(Slot::Table(i)) => self.schema.tables.get_mut(*i),
            _ => None,
        }
    }

    fn view(&mut self, oid: Oid) -> Option<&mut View> {
        match self.slots.get(&oid) {
            Some(Slot::View(i)) => self.schema.views.get_mut(*i),
            _ => None,
        }
    }
}

/// Names the key columns of the constraints of inspected tables, from the columns already
/// read; columns of other relations (a foreign key's target in another schema or excluded by
/// a filter) and system columns (`tableoid` in a CHECK) are looked up in one more query. A
/// number without a column is skipped, as the former per-row SQL lookup skipped it.
fn name_constraint_keys(
    catalog: &mut Catalog,
    table_columns: &[PlacedColumns],
    constraints: &mut [ConstraintPart],
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let known = |relation: Oid, number: i16| -> Option<&str> {
        let Some(Slot::Table(i)) = slots.get(&relation) else {
            return None;
        };
        table_columns.get(*i)?.name(number)
    };
    let kept = |c: &ConstraintPart| matches!(slots.get(&c.relation), Some(Slot::Table(_)));
    let mut unknown: BTreeSet<Oid> = BTreeSet::new();
    for c in constraints.iter().filter(|c| kept(c)) {
        let keys = c.keys.iter().map(|k| (c.relation, *k));
        let referenced = c.referenced_keys.iter().map(|k| (c.referenced, *k));
        for (relation, number) in keys.chain(referenced) {
            if known(relation, number).is_none() {
                unknown.insert(relation);
            }
        }
    }
    let looked_up: HashMap<(Oid, i16), String> = if unknown.is_empty() {
        HashMap::new()
    } else {
        let relations: Vec<Oid> = unknown.into_iter().collect();
        parts::read_column_names(catalog, &relations)?
            .into_iter()
            .map(|(relation, number, name)| ((relation, number), name))
            .collect()
    };
    let name_all = |relation: Oid, keys: &[i16]| -> Vec<String> {
        keys.iter()
            .filter_map(|&k| {
                known(relation, k).or_else(|| looked_up.get(&(relation, k)).map(String::as_str))
            })
            .map(str::to_string)
            .collect()
    };
    for c in constraints.iter_mut().filter(|c| kept(c)) {
        c.constraint.columns = name_all(c.relation, &c.keys);
        if let Some(target) = &mut c.constraint.references {
            target.columns = name_all(c.referenced, &c.referenced_keys);
        }
    }
    Ok(())
}

/// A partition whose parent was filtered out keeps its bound but has no parent to attach
/// to; say so instead of writing an invalid file.
fn check_partitions_have_parents(display: &str, schema: &Schema) -> Result<()> {
    for t in &schema.tables {
        if let Some(p) = &t.partition_of {
            if p.parent.is_empty() {
                return Err(Error::Unsupported(format!(
                    "{display}: partition {}.{} is included but its parent table is excluded — \
                     exclude the partition too",
                    t.schema, t.name
                )));
            }
        }
    }
    Ok(())
}
