//! Altering a SQLite table: in place where `ALTER TABLE` can, rebuilt otherwise.
//!
//! SQLite's `ALTER TABLE` can add a column at the end and drop a column, under conditions
//! (<https://www.sqlite.org/lang_altertable.html>): an added column cannot be a key, needs a
//! constant default, and a NOT NULL one needs a non-NULL default; a dropped column cannot be
//! part of a key, an index, a constraint or a generated expression. A change is made in place
//! only when those statements alone turn the old table into exactly the new one — the same
//! columns in the same order, the same constraints under the same names. Everything else (a
//! type, NOT NULL, default or collation changed, a constraint added or dropped, WITHOUT ROWID
//! or STRICT toggled, AUTOINCREMENT, column order) rebuilds the table ([`super::rebuild`]).
//!
//! An added column carrying a CHECK is rebuilt rather than added: SQLite would insert its
//! CHECK among the table's others, which can shift the position-based names of unnamed checks,
//! and the rebuild checks every row against it.

use crate::diff::{Action, HazardKind, Step};
use crate::engine::TableChange;
use crate::schema::key::ObjectKey;
use crate::schema::{Column, Constraint, ConstraintKind, Schema, Table};

use super::lexer::quote_ident;
use super::render::column_sql;

pub(super) fn alter_table(
    from: &Table,
    to: &Table,
    source: &Schema,
    target: &Schema,
) -> TableChange {
    match in_place(from, to) {
        Some((steps, changed_columns)) => TableChange::InPlace {
            steps,
            changed_columns,
        },
        None => TableChange::Rebuild {
            steps: super::rebuild::steps(from, to, source, target),
        },
    }
}

/// The `ADD COLUMN` / `DROP COLUMN` steps that turn `from` into `to`, and the dropped
/// columns; `None` when the table must be rebuilt.
fn in_place(from: &Table, to: &Table) -> Option<(Vec<Step>, Vec<String>)> {
    let dropped: Vec<&Column> = from
        .columns
        .iter()
        .filter(|c| column(to, &c.name).is_none())
        .collect();
    let added: Vec<&Column> = to
        .columns
        .iter()
        .filter(|c| column(from, &c.name).is_none())
        .collect();
    let new_constraints: Vec<&Constraint> = to
        .constraints
        .iter()
        .filter(|c| !from.constraints.contains(c))
        .collect();
    // The table the statements would leave: the old columns without the dropped ones, the
    // added ones at the end, the old constraints plus the added columns' foreign keys.
    let mut expected = from.clone();
    expected.columns.retain(|c| column(to, &c.name).is_some());
    expected.columns.extend(added.iter().map(|c| (*c).clone()));
    expected
        .constraints
        .extend(new_constraints.iter().map(|c| (*c).clone()));
    if !same_definition(&expected, to) {
        return None;
    }
    let added_keys = |c: &Column| -> Vec<&Constraint> {
        new_constraints
            .iter()
            .copied()
            .filter(|k| k.columns.iter().any(|n| n == &c.name))
            .collect()
    };
    let every_new_constraint_is_a_column_foreign_key = new_constraints.iter().all(|k| {
        k.kind == ConstraintKind::ForeignKey
            && k.columns.len() == 1
            && added.iter().any(|c| c.name == k.columns[0])
    });
    if !every_new_constraint_is_a_column_foreign_key
        || !added.iter().all(|c| can_add(c, &added_keys(c)))
        || !dropped.iter().all(|c| can_drop(c, from, to))
    {
        return None;
    }
    // Adds first: SQLite refuses to drop a table's last column.
    let mut steps: Vec<Step> = added
        .iter()
        .map(|c| add_column(to, c, &added_keys(c)))
        .collect();
    steps.extend(dropped.iter().map(|c| drop_column(from, to, c)));
    let changed = dropped.iter().map(|c| c.name.clone()).collect();
    Some((steps, changed))
}

fn column<'a>(table: &'a Table, name: &str) -> Option<&'a Column> {
    table.columns.iter().find(|c| c.name == name)
}

/// Whether two tables have the same `CREATE TABLE`: columns (ignoring `renamed_from` hints),
/// constraints by name, WITHOUT ROWID and STRICT.
fn same_definition(a: &Table, b: &Table) -> bool {
    let columns = |t: &Table| -> Vec<Column> {
        t.columns
            .iter()
            .map(|c| Column {
                renamed_from: None,
                ..c.clone()
            })
            .collect()
    };
    let constraints = |t: &Table| -> Vec<Constraint> {
        let mut all = t.constraints.clone();
        all.sort_by(|x, y| x.name.cmp(&y.name));
        all
    };
    columns(a) == columns(b)
        && constraints(a) == constraints(b)
        && a.without_rowid == b.without_rowid
        && a.strict == b.strict
}

/// `ALTER TABLE … ADD COLUMN` accepts the column: not a key (keys are new constraints, which
/// only foreign keys may be), not STORED, not AUTOINCREMENT, a constant default, and a
/// non-NULL default when NOT NULL.
fn can_add(c: &Column, keys: &[&Constraint]) -> bool {
    let stored = c
        .generated
        .as_ref()
        .is_some_and(|g| g.storage == crate::schema::GeneratedStorage::Stored);
    let default = c
        .default
        .as_deref()
        .filter(|d| !d.eq_ignore_ascii_case("NULL"));
    let constant_default = default.is_none_or(is_literal);
    let needs_default = c.not_null && c.generated.is_none();
    let is_key = keys.iter().any(|k| k.kind != ConstraintKind::ForeignKey);
    !stored
        && c.identity.is_none()
        && constant_default
        && !is_key
        && (!needs_default || default.is_some())
}

/// A literal default (string, number, blob, NULL, TRUE/FALSE): not an expression in
/// parentheses and not one of the CURRENT_* keywords, which ADD COLUMN refuses.
fn is_literal(default: &str) -> bool {
    let upper = default.to_ascii_uppercase();
    !default.starts_with('(') && !upper.starts_with("CURRENT_")
}

/// `ALTER TABLE … DROP COLUMN` accepts the column: no constraint, generated expression, or
/// kept index or trigger of the table names it. (What is dropped or recreated around the
/// change is gone by then; views reading the table are recreated by the planner.)
fn can_drop(c: &Column, from: &Table, to: &Table) -> bool {
    let mentions = |text: &str| mentions_column(text, &c.name);
    let in_constraint = from
        .constraints
        .iter()
        .any(|k| k.columns.contains(&c.name) || mentions(&k.definition));
    let in_generated = from.columns.iter().any(|other| {
        other.name != c.name
            && other
                .generated
                .as_ref()
                .is_some_and(|g| mentions(&g.expression))
    });
    let kept_index = from
        .indexes
        .iter()
        .any(|i| to.indexes.contains(i) && mentions(&i.definition));
    let kept_trigger = from
        .triggers
        .iter()
        .any(|t| to.triggers.contains(t) && mentions(&t.definition));
    !(in_constraint || in_generated || kept_index || kept_trigger)
}

/// Whether SQL text names a column (SQLite names are case-insensitive).
pub(super) fn mentions_column(text: &str, column: &str) -> bool {
    crate::diff::mentions_word(&text.to_lowercase(), &column.to_lowercase())
}

fn column_key(table: &Table, column: &str) -> ObjectKey {
    ObjectKey::Column {
        table: table.name.clone(),
        column: column.to_string(),
    }
}

fn add_column(to: &Table, c: &Column, keys: &[&Constraint]) -> Step {
    let table = quote_ident(&to.name);
    let mut definition = column_sql(c, None);
    for key in keys {
        // A column's foreign key is written on the column: `REFERENCES …` without the
        // `FOREIGN KEY (column)` that only a table constraint has.
        let clause = key
            .definition
            .split_once(" REFERENCES ")
            .map_or(key.definition.as_str(), |(_, rest)| rest);
        definition.push_str(&format!(
            " CONSTRAINT {} REFERENCES {clause}",
            quote_ident(&key.name)
        ));
    }
    let mut s = Step::new(
        column_key(to, &c.name),
        Action::Create,
        format!("add column {}.{}", to.name, c.name),
        format!("ALTER TABLE {table} ADD COLUMN {definition};"),
    );
    if keys.is_empty() {
        // SQLite refuses to drop a column that is part of a foreign key.
        s = s.with_inverse(format!(
            "ALTER TABLE {table} DROP COLUMN {};",
            quote_ident(&c.name)
        ));
    }
    let default = c
        .default
        .as_deref()
        .filter(|d| !d.eq_ignore_ascii_case("NULL"));
    if let (Some(default), Some(key)) = (default, keys.first()) {
        // Existing rows take the default, which must then reference a parent row.
        if let Some(parent) = key.references.as_ref().filter(|r| r.columns.len() == 1) {
            s = s
                .with_hazard(
                    HazardKind::MayFail,
                    format!(
                        "existing rows take the default {default}: the apply fails before \
                         committing unless {} has that {}",
                        parent.table, parent.columns[0]
                    ),
                )
                .with_precheck(format!(
                    "SELECT count(*) FROM {table} WHERE NOT EXISTS (SELECT 1 FROM {} WHERE {} = {default})",
                    quote_ident(&parent.table),
                    quote_ident(&parent.columns[0])
                ));
        }
    }
    s
}

fn drop_column(from: &Table, to: &Table, c: &Column) -> Step {
    let table = quote_ident(&from.name);
    let mut s = Step::new(
        column_key(from, &c.name),
        Action::Drop,
        format!("drop column {}.{}", from.name, c.name),
        format!("ALTER TABLE {table} DROP COLUMN {};", quote_ident(&c.name)),
    );
    for (kind, message) in dropped_column_hazards(from, to, c) {
        s = s.with_hazard(kind, message);
    }
    s
}

/// What dropping a column with its values risks: the values, and perhaps a rename written as
/// a drop and an add.
pub(super) fn dropped_column_hazards(
    from: &Table,
    to: &Table,
    c: &Column,
) -> Vec<(HazardKind, String)> {
    let mut hazards = vec![
        (
            HazardKind::DataLoss,
            format!("drops column {}.{} and its values", from.name, c.name),
        ),
        (
            HazardKind::Irreversible,
            "the values cannot be brought back".to_string(),
        ),
    ];
    let twin = to.columns.iter().find(|n| {
        n.data_type == c.data_type && n.renamed_from.is_none() && column(from, &n.name).is_none()
    });
    if let Some(twin) = twin {
        hazards.push((
            HazardKind::PossibleRename,
            format!(
                "new column {} has the same type: if this is a rename, add `renamed_from: {}` to \
                 it in the schema file to keep the values",
                twin.name, c.name
            ),
        ));
    }
    hazards
}
