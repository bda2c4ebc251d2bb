//! SQLite's table rebuild (<https://www.sqlite.org/lang_altertable.html#otheralter>), for the
//! changes `ALTER TABLE` cannot make: create the new version of the table under a temporary
//! name, copy the rows, drop the old table, rename the new one.
//!
//! The executor runs it with `PRAGMA foreign_keys=OFF` (so dropping the old table never fires
//! `ON DELETE CASCADE` on child rows) and checks every foreign key before committing. The
//! rename runs with `legacy_alter_table=ON`, so SQLite renames the table alone: references
//! elsewhere already name the final table and are left as they are. The planner drops the
//! table's indexes and triggers, and the views and triggers that read it, before the rebuild
//! and creates them again after it.
//!
//! Rows keep their values in every kept column (matched by name: renames have run first), and
//! rowid tables keep their rowids. AUTOINCREMENT keeps its high-water mark.

use crate::diff::{Action, HazardKind, Step};
use crate::schema::key::ObjectKey;
use crate::schema::{Column, Constraint, ConstraintKind, Schema, Table};

use super::affinity::affinity;
use super::lexer::{quote_ident, quote_literal};
use super::migrate_table::dropped_column_hazards;
use super::render::create_table;

/// The four steps that rebuild `from` as `to`.
pub(super) fn steps(from: &Table, to: &Table, source: &Schema, target: &Schema) -> Vec<Step> {
    let temp = temporary_name(&to.name, source, target);
    let (name, quoted, quoted_temp) = (&to.name, quote_ident(&to.name), quote_ident(&temp));
    let key = ObjectKey::Table { name: name.clone() };
    let step = |reason: String, sql: String| Step::new(key.clone(), Action::Alter, reason, sql);

    let changes = describe_changes(from, to);
    let why = if changes.is_empty() {
        "to write out the names of its constraints".to_string()
    } else {
        changes
    };
    let create = step(
        format!("rebuild table {name} ({why}): create the new version as {temp}"),
        format!("{};", create_table(to, &temp)),
    )
    .with_inverse(format!("DROP TABLE {quoted_temp};"));

    let mut copy = step(
        format!("rebuild table {name}: copy its rows into {temp}"),
        copy_rows(to, &temp, from, name),
    )
    .with_inverse(format!("DELETE FROM {quoted_temp};"))
    .with_hazard(
        HazardKind::TableRewrite,
        format!("copies every row of {name} into a new table"),
    );
    let mut counts = Vec::new();
    for check in row_checks(from, to, source) {
        copy = copy.with_hazard(check.kind, check.message);
        counts.extend(check.count);
    }
    copy.precheck = match counts.len() {
        0 => None,
        1 => counts.pop(),
        _ => Some(format!(
            "SELECT {}",
            counts
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" + ")
        )),
    };

    let drop_old = step(
        format!("rebuild table {name}: drop the old version (its rows are in {temp})"),
        format!("DROP TABLE {quoted};"),
    )
    .with_inverse(format!(
        "{};\n{}",
        create_table(from, name),
        copy_rows(from, name, to, &temp)
    ));

    let rename = |old: &str, new: &str| {
        format!(
            "PRAGMA legacy_alter_table = ON;\nALTER TABLE {} RENAME TO {};\nPRAGMA legacy_alter_table = OFF;",
            quote_ident(old),
            quote_ident(new)
        )
    };
    let swap = step(
        format!("rebuild table {name}: give the new version its name"),
        rename(&temp, name),
    )
    .with_inverse(rename(name, &temp));

    vec![create, copy, drop_old, swap]
}

/// `strata_new_<name>`, with a numeric suffix if that name is taken by a table, view or
/// index on either side (SQLite names are case-insensitive).
fn temporary_name(name: &str, source: &Schema, target: &Schema) -> String {
    let taken = |candidate: &str| {
        [source, target].iter().any(|s| {
            let relations = s
                .tables
                .iter()
                .map(|t| &t.name)
                .chain(s.views.iter().map(|v| &v.name));
            let indexes = s
                .tables
                .iter()
                .flat_map(|t| t.indexes.iter().map(|i| &i.name));
            relations
                .chain(indexes)
                .any(|n| n.eq_ignore_ascii_case(candidate))
        })
    };
    let base = format!("strata_new_{name}");
    let mut candidate = base.clone();
    let mut suffix = 2;
    while taken(&candidate) {
        candidate = format!("{base}_{suffix}");
        suffix += 1;
    }
    candidate
}

/// `INSERT INTO into_name (…) SELECT … FROM from_name`: every column of `into` that `from`
/// has and that is not generated (generated columns compute themselves), and, when both are
/// rowid tables, the rowid (into `into`'s rowid alias if it has a new one); then, when both
/// use AUTOINCREMENT, the old high-water mark (the copy only raises it to the largest key
/// copied).
fn copy_rows(into: &Table, into_name: &str, from: &Table, from_name: &str) -> String {
    let kept = |c: &&Column| from.columns.iter().any(|f| f.name == c.name);
    let mut targets: Vec<String> = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    if !into.without_rowid && !from.without_rowid {
        let rowid = rowid_name(into, from);
        let target = match rowid_alias(into) {
            Some(alias) if !kept(&alias) => Some(quote_ident(&alias.name)),
            Some(_) => None,
            None => rowid.map(str::to_string),
        };
        if let (Some(target), Some(rowid)) = (target, rowid) {
            targets.push(target);
            sources.push(rowid.to_string());
        }
    }
    for c in into.columns.iter().filter(kept) {
        if c.generated.is_none() {
            targets.push(quote_ident(&c.name));
            sources.push(quote_ident(&c.name));
        }
    }
    let (into_quoted, from_quoted) = (quote_ident(into_name), quote_ident(from_name));
    let mut sql = if targets.is_empty() {
        format!("-- no column of {from_name} is kept: there is no row to copy")
    } else {
        format!(
            "INSERT INTO {into_quoted} ({}) SELECT {} FROM {from_quoted};",
            targets.join(", "),
            sources.join(", ")
        )
    };
    if has_autoincrement(into) && has_autoincrement(from) {
        let (new, old) = (quote_literal(into_name), quote_literal(from_name));
        let old_seq = format!("(SELECT seq FROM sqlite_sequence WHERE name = {old})");
        sql.push_str(&format!(
            "\nUPDATE sqlite_sequence SET seq = {old_seq} WHERE name = {new} AND seq < {old_seq};\
             \nINSERT INTO sqlite_sequence (name, seq) SELECT {new}, seq FROM sqlite_sequence \
             WHERE name = {old} AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = {new});"
        ));
    }
    sql
}

fn has_autoincrement(table: &Table) -> bool {
    table
        .columns
        .iter()
        .any(|c| c.identity.as_ref().is_some_and(|i| i.autoincrement))
}

/// The column that is the table's rowid: a lone `INTEGER PRIMARY KEY` (not `DESC`) of a rowid
/// table.
fn rowid_alias(table: &Table) -> Option<&Column> {
    if table.without_rowid {
        return None;
    }
    let key = table
        .constraints
        .iter()
        .find(|k| k.kind == ConstraintKind::PrimaryKey && k.columns.len() == 1)?;
    if key.definition.contains(" DESC") {
        return None;
    }
    table
        .columns
        .iter()
        .find(|c| c.name == key.columns[0] && c.data_type.eq_ignore_ascii_case("INTEGER"))
}

/// A name for the rowid that no column of either table shadows.
fn rowid_name(a: &Table, b: &Table) -> Option<&'static str> {
    ["rowid", "oid", "_rowid_"].into_iter().find(|name| {
        !a.columns
            .iter()
            .chain(&b.columns)
            .any(|c| c.name.eq_ignore_ascii_case(name))
    })
}

/// What the rebuild changes, for the plan's reason: at most a few items.
fn describe_changes(from: &Table, to: &Table) -> String {
    let mut changes = Vec::new();
    for c in &from.columns {
        match to.columns.iter().find(|n| n.name == c.name) {
            None => changes.push(format!("column {} dropped", c.name)),
            Some(n) => changes.extend(column_changes(c, n)),
        }
    }
    for n in to
        .columns
        .iter()
        .filter(|n| !from.columns.iter().any(|c| c.name == n.name))
    {
        changes.push(format!("column {} added", n.name));
    }
    let order = |t: &Table, other: &Table| -> Vec<String> {
        t.columns
            .iter()
            .filter(|c| other.columns.iter().any(|o| o.name == c.name))
            .map(|c| c.name.clone())
            .collect()
    };
    if order(from, to) != order(to, from) {
        changes.push("column order".into());
    }
    for k in &from.constraints {
        match to.constraints.iter().find(|n| n.name == k.name) {
            None => changes.push(format!("{} {} dropped", constraint_kind(k), k.name)),
            Some(n) if n != k => changes.push(format!("{} {} changed", constraint_kind(k), k.name)),
            Some(_) => {}
        }
    }
    for n in &to.constraints {
        if !from.constraints.iter().any(|k| k.name == n.name) {
            changes.push(format!("{} {} added", constraint_kind(n), n.name));
        }
    }
    for (was, is, option) in [
        (from.without_rowid, to.without_rowid, "WITHOUT ROWID"),
        (from.strict, to.strict, "STRICT"),
    ] {
        if was != is {
            changes.push(format!("{option} {}", if is { "on" } else { "off" }));
        }
    }
    const SHOWN: usize = 4;
    if changes.len() > SHOWN {
        let more = changes.len() - SHOWN;
        changes.truncate(SHOWN);
        changes.push(format!("{more} more"));
    }
    changes.join(", ")
}

fn column_changes(from: &Column, to: &Column) -> Vec<String> {
    let name = &to.name;
    let mut changes = Vec::new();
    if from.data_type != to.data_type {
        changes.push(format!(
            "type of {name} {} → {}",
            shown_type(&from.data_type),
            shown_type(&to.data_type)
        ));
    }
    if from.not_null != to.not_null {
        changes.push(if to.not_null {
            format!("{name} NOT NULL")
        } else {
            format!("{name} nullable")
        });
    }
    if from.default != to.default {
        changes.push(format!("default of {name}"));
    }
    if from.collation != to.collation {
        changes.push(format!("collation of {name}"));
    }
    if from.generated != to.generated {
        changes.push(format!("generated expression of {name}"));
    }
    if from.identity != to.identity {
        changes.push(format!("AUTOINCREMENT of {name}"));
    }
    changes
}

fn shown_type(declared: &str) -> &str {
    if declared.is_empty() {
        "(none)"
    } else {
        declared
    }
}

fn constraint_kind(k: &Constraint) -> &'static str {
    match k.kind {
        ConstraintKind::PrimaryKey => "primary key",
        ConstraintKind::Unique => "unique constraint",
        ConstraintKind::Check => "check",
        ConstraintKind::ForeignKey => "foreign key",
        ConstraintKind::Exclusion => "exclusion constraint",
    }
}

/// One thing existing rows could make go wrong, with a query counting those rows when it can
/// be written against the table as it is now.
struct RowCheck {
    kind: HazardKind,
    message: String,
    count: Option<String>,
}

impl RowCheck {
    fn new(kind: HazardKind, message: String, count: Option<String>) -> RowCheck {
        RowCheck {
            kind,
            message,
            count,
        }
    }
}

/// What copying `from`'s rows into `to` can lose or fail on.
fn row_checks(from: &Table, to: &Table, source: &Schema) -> Vec<RowCheck> {
    let table = quote_ident(&from.name);
    let mut checks = Vec::new();
    for c in &from.columns {
        let Some(new) = to.columns.iter().find(|n| n.name == c.name) else {
            checks.extend(
                dropped_column_hazards(from, to, c)
                    .into_iter()
                    .map(|(kind, message)| RowCheck::new(kind, message, None)),
            );
            continue;
        };
        let column = quote_ident(&c.name);
        if new.not_null && !c.not_null && new.generated.is_none() {
            checks.push(RowCheck::new(
                HazardKind::MayFail,
                format!("fails if {}.{} holds NULLs", from.name, c.name),
                Some(format!(
                    "SELECT count(*) FROM {table} WHERE {column} IS NULL"
                )),
            ));
        }
        checks.extend(conversion_check(from, to, c, new));
    }
    for n in &to.columns {
        let is_new = !from.columns.iter().any(|c| c.name == n.name);
        let no_default = n
            .default
            .as_deref()
            .is_none_or(|d| d.eq_ignore_ascii_case("NULL"));
        let needs_value = n.not_null && no_default && n.generated.is_none();
        if is_new && needs_value {
            checks.push(RowCheck::new(
                HazardKind::MayFail,
                format!(
                    "new column {}.{} is NOT NULL without a default: fails if the table has rows",
                    to.name, n.name
                ),
                Some(format!("SELECT count(*) FROM {table}")),
            ));
        }
    }
    if to.strict && !from.strict {
        checks.push(RowCheck::new(
            HazardKind::MayFail,
            format!(
                "fails if a value of {} does not fit its column's type (STRICT)",
                to.name
            ),
            None,
        ));
    }
    for k in to
        .constraints
        .iter()
        .filter(|k| !from.constraints.contains(k))
    {
        checks.push(constraint_check(from, to, k, source));
    }
    if to.without_rowid && !from.without_rowid {
        if let Some(key) = to
            .constraints
            .iter()
            .find(|k| k.kind == ConstraintKind::PrimaryKey && from.constraints.contains(k))
        {
            checks.push(RowCheck::new(
                HazardKind::MayFail,
                "fails if a primary key column holds NULL (WITHOUT ROWID)".into(),
                null_count(&table, &key.columns, from),
            ));
        }
    }
    checks
}

/// A retyped column's values take the new type's affinity: text that reads as a number becomes
/// a number (`'007'` becomes 7), and a REAL column rounds integers beyond 2^53.
fn conversion_check(from: &Table, to: &Table, old: &Column, new: &Column) -> Option<RowCheck> {
    let (was, is) = (
        affinity(&old.data_type, from.strict),
        affinity(&new.data_type, to.strict),
    );
    let name = format!("{}.{}", to.name, new.name);
    if to.strict && (old.data_type != new.data_type || !from.strict) && new.generated.is_none() {
        return Some(RowCheck::new(
            HazardKind::MayFail,
            format!(
                "fails if a value of {name} is not a {} (STRICT)",
                new.data_type
            ),
            None,
        ));
    }
    let lossy = (is.reads_numbers() && !was.reads_numbers())
        || (is == super::affinity::Affinity::Real && was != is);
    lossy.then(|| {
        RowCheck::new(
            HazardKind::DataLoss,
            format!(
                "{name} changes from {} to {}: its values take the new type's affinity (text \
                 that reads as a number is stored as a number, e.g. '007' becomes 7)",
                shown_type(&old.data_type),
                shown_type(&new.data_type)
            ),
            None,
        )
    })
}

/// A constraint the new table adds or changes, checked against every copied row.
fn constraint_check(from: &Table, to: &Table, k: &Constraint, source: &Schema) -> RowCheck {
    let table = quote_ident(&from.name);
    // A count can only be written when the columns it reads exist in the table now.
    let present = k
        .columns
        .iter()
        .all(|c| from.columns.iter().any(|f| &f.name == c));
    let quoted: Vec<String> = k.columns.iter().map(|c| quote_ident(c)).collect();
    match k.kind {
        ConstraintKind::Check => {
            let expression = k.definition.trim_start_matches("CHECK ");
            RowCheck::new(
                HazardKind::MayFail,
                format!("fails if existing rows violate check {}", k.name),
                present.then(|| format!("SELECT count(*) FROM {table} WHERE NOT {expression}")),
            )
        }
        ConstraintKind::PrimaryKey | ConstraintKind::Unique => {
            let groups: Vec<String> = k
                .columns
                .iter()
                .map(|c| {
                    let collation = to
                        .columns
                        .iter()
                        .find(|n| &n.name == c)
                        .and_then(|n| n.collation.clone())
                        .unwrap_or_else(|| "BINARY".into());
                    format!(
                        "{} COLLATE {}",
                        quote_ident(c),
                        super::constraints::collation_sql(&collation)
                    )
                })
                .collect();
            let not_null: Vec<String> = quoted.iter().map(|c| format!("{c} IS NOT NULL")).collect();
            let duplicates = format!(
                "SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {} GROUP BY {} HAVING count(*) > 1)",
                not_null.join(" AND "),
                groups.join(", ")
            );
            let count = match null_count(&table, &k.columns, from) {
                Some(nulls) if to.without_rowid && k.kind == ConstraintKind::PrimaryKey => {
                    format!("SELECT ({duplicates}) + ({nulls})")
                }
                _ => duplicates,
            };
            RowCheck::new(
                HazardKind::MayFail,
                format!("fails if existing rows hold duplicates of {}", k.name),
                present.then_some(count),
            )
        }
        ConstraintKind::Exclusion => RowCheck::new(
            HazardKind::MayFail,
            format!("fails if existing rows conflict under {}", k.name),
            None,
        ),
        ConstraintKind::ForeignKey => {
            let count = k.references.as_ref().filter(|_| present).and_then(|r| {
                let parent = if r.table == from.name {
                    Some(from)
                } else {
                    source.tables.iter().find(|t| t.name == r.table)
                }?;
                let parent_has = r
                    .columns
                    .iter()
                    .all(|c| parent.columns.iter().any(|p| &p.name == c));
                (parent_has && r.columns.len() == quoted.len()).then(|| {
                    let joins: Vec<String> = quoted
                        .iter()
                        .zip(&r.columns)
                        .map(|(child, p)| format!("p.{} = c.{child}", quote_ident(p)))
                        .collect();
                    let set: Vec<String> = quoted
                        .iter()
                        .map(|c| format!("c.{c} IS NOT NULL"))
                        .collect();
                    format!(
                        "SELECT count(*) FROM {table} AS c WHERE {} AND NOT EXISTS \
                             (SELECT 1 FROM {} AS p WHERE {})",
                        set.join(" AND "),
                        quote_ident(&parent.name),
                        joins.join(" AND ")
                    )
                })
            });
            RowCheck::new(
                HazardKind::MayFail,
                format!(
                    "the apply fails before committing if existing rows break foreign key {}",
                    k.name
                ),
                count,
            )
        }
    }
}

/// Counts rows with a NULL in any of `columns`, when they all exist in `from`.
fn null_count(table: &str, columns: &[String], from: &Table) -> Option<String> {
    let present = columns
        .iter()
        .all(|c| from.columns.iter().any(|f| &f.name == c));
    let nulls: Vec<String> = columns
        .iter()
        .map(|c| format!("{} IS NULL", quote_ident(c)))
        .collect();
    (present && !nulls.is_empty())
        .then(|| format!("SELECT count(*) FROM {table} WHERE {}", nulls.join(" OR ")))
}
