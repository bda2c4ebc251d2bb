//! Parsed SQLite constraints → model [`Constraint`]s: the naming rule for constraints SQLite
//! leaves unnamed, and the canonical SQL of each clause.
//!
//! # Naming rule
//! A constraint declared as `CONSTRAINT name …` keeps its name. Otherwise it gets one built
//! from what it is, so the same table always yields the same names:
//! - primary key: `<table>_pkey`
//! - unique: `<table>_<col>[_<col>…]_key`
//! - foreign key: `<table>_<col>[_<col>…]_fkey`
//! - check: `<table>_check_<n>`, where n is the check's 1-based position among all the
//!   table's CHECK constraints (named or not, column-level ones where their column is).
//!
//! Names must be unique within a table, and SQLite does not enforce that: a name already taken
//! (declared names first, then earlier constraints in declaration order) gets `_2`, `_3`, …
//!
//! # Canonical SQL
//! Identifiers are always double-quoted and resolved to the spelling the table uses; default
//! actions (`NO ACTION`, no `MATCH`) are left out; expressions stay as written, whitespace
//! collapsed. Rendering emits every constraint with its name, so names survive a round trip.

use std::collections::HashSet;

use super::create_table::{ConstraintBody, ConstraintDefinition, ForeignKeyClause, KeyColumn};
use super::lexer::{self, quote_ident, TokenKind};
use crate::schema::{Constraint, ConstraintKind, ForeignKeyTarget};

/// What a foreign key needs to know about the table it references.
#[derive(Debug, Clone)]
pub(super) struct ParentTable {
    pub name: String,
    pub columns: Vec<String>,
    /// Primary-key columns in key order; an FK without a column list references these.
    pub primary_key: Vec<String>,
}

/// Builds the model constraints of table `table` (whose columns are `columns`, in order).
/// `parent` looks a referenced table up by name, case-insensitively.
pub(super) fn model_constraints(
    table: &str,
    columns: &[String],
    parsed: &[ConstraintDefinition],
    parent: impl Fn(&str) -> Option<ParentTable>,
) -> Vec<Constraint> {
    let names = constraint_names(table, columns, parsed);
    parsed
        .iter()
        .zip(names)
        .map(|(definition, name)| model_constraint(name, columns, &definition.body, &parent))
        .collect()
}

fn model_constraint(
    name: String,
    columns: &[String],
    body: &ConstraintBody,
    parent: &impl Fn(&str) -> Option<ParentTable>,
) -> Constraint {
    let mut constraint = Constraint {
        name,
        kind: ConstraintKind::Check,
        definition: String::new(),
        columns: vec![],
        references: None,
        deferrable: false,
        initially_deferred: false,
        not_valid: false,
        inherited: false,
        comment: None,
    };
    match body {
        ConstraintBody::PrimaryKey {
            columns: keys,
            conflict,
            ..
        } => {
            constraint.kind = ConstraintKind::PrimaryKey;
            constraint.columns = keys.iter().map(|k| resolve(columns, &k.name)).collect();
            constraint.definition = key_definition("PRIMARY KEY", columns, keys, conflict);
        }
        ConstraintBody::Unique {
            columns: keys,
            conflict,
        } => {
            constraint.kind = ConstraintKind::Unique;
            constraint.columns = keys.iter().map(|k| resolve(columns, &k.name)).collect();
            constraint.definition = key_definition("UNIQUE", columns, keys, conflict);
        }
        ConstraintBody::Check { expression } => {
            constraint.columns = columns_mentioned(columns, expression);
            constraint.definition = format!("CHECK ({expression})");
        }
        ConstraintBody::ForeignKey {
            columns: child,
            target,
        } => {
            constraint.kind = ConstraintKind::ForeignKey;
            constraint.columns = child.iter().map(|c| resolve(columns, c)).collect();
            constraint.deferrable = target.deferrable;
            constraint.initially_deferred = target.initially_deferred;
            let references = foreign_key_target(target, parent(&target.table));
            constraint.definition =
                foreign_key_definition(&constraint.columns, target, &references);
            constraint.references = Some(references);
        }
    }
    constraint
}

/// One unique name per constraint, in the order of `parsed` (see the module doc).
fn constraint_names(
    table: &str,
    columns: &[String],
    parsed: &[ConstraintDefinition],
) -> Vec<String> {
    let mut taken = HashSet::new();
    let mut names: Vec<Option<String>> = parsed
        .iter()
        .map(|c| c.name.clone().filter(|n| taken.insert(n.clone())))
        .collect();
    let mut check_position = 0;
    for (slot, definition) in names.iter_mut().zip(parsed) {
        if matches!(definition.body, ConstraintBody::Check { .. }) {
            check_position += 1;
        }
        if slot.is_none() {
            let base = definition.name.clone().unwrap_or_else(|| {
                synthesized_name(table, columns, &definition.body, check_position)
            });
            *slot = Some(first_free(base, &mut taken));
        }
    }
    names.into_iter().flatten().collect()
}

fn synthesized_name(
    table: &str,
    columns: &[String],
    body: &ConstraintBody,
    check_position: usize,
) -> String {
    let joined = |names: Vec<String>| names.join("_");
    let keys =
        |keys: &[KeyColumn]| joined(keys.iter().map(|k| resolve(columns, &k.name)).collect());
    match body {
        ConstraintBody::PrimaryKey { .. } => format!("{table}_pkey"),
        ConstraintBody::Unique { columns: k, .. } => format!("{table}_{}_key", keys(k)),
        ConstraintBody::Check { .. } => format!("{table}_check_{check_position}"),
        ConstraintBody::ForeignKey { columns: c, .. } => format!(
            "{table}_{}_fkey",
            joined(c.iter().map(|n| resolve(columns, n)).collect())
        ),
    }
}

/// Whether `constraint` of table `table` has a name the rule above could have given it (with
/// or without a numeric suffix): then nothing tells whether it was written out or derived.
pub(super) fn may_be_derived(table: &str, constraint: &Constraint) -> bool {
    let joined = constraint.columns.join("_");
    let base = match constraint.kind {
        ConstraintKind::PrimaryKey => format!("{table}_pkey"),
        ConstraintKind::Unique => format!("{table}_{joined}_key"),
        ConstraintKind::ForeignKey => format!("{table}_{joined}_fkey"),
        ConstraintKind::Check => {
            let Some(rest) = constraint.name.strip_prefix(&format!("{table}_check_")) else {
                return false;
            };
            return is_number_with_suffix(rest);
        }
        ConstraintKind::Exclusion => return false,
    };
    match constraint.name.strip_prefix(&base) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('_').is_some_and(is_number),
        None => false,
    }
}

/// `3` or `3_2`.
fn is_number_with_suffix(text: &str) -> bool {
    match text.split_once('_') {
        Some((n, suffix)) => is_number(n) && is_number(suffix),
        None => is_number(text),
    }
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn first_free(base: String, taken: &mut HashSet<String>) -> String {
    let mut candidate = base.clone();
    let mut suffix = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{base}_{suffix}");
        suffix += 1;
    }
    candidate
}

/// The spelling `columns` uses for `name` (SQLite names are case-insensitive), or `name`
/// itself when the table has no such column.
fn resolve(columns: &[String], name: &str) -> String {
    columns
        .iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// `PRIMARY KEY ("a", "b" COLLATE NOCASE DESC) ON CONFLICT REPLACE`
fn key_definition(
    keyword: &str,
    columns: &[String],
    keys: &[KeyColumn],
    conflict: &Option<String>,
) -> String {
    let list: Vec<String> = keys
        .iter()
        .map(|k| {
            let mut item = quote_ident(&resolve(columns, &k.name));
            if let Some(collation) = &k.collation {
                let collation = canonical_collation(collation);
                item.push_str(&format!(" COLLATE {}", collation_sql(&collation)));
            }
            if let Some(order) = &k.order {
                item.push_str(&format!(" {order}"));
            }
            item
        })
        .collect();
    let mut definition = format!("{keyword} ({})", list.join(", "));
    if let Some(resolution) = conflict {
        definition.push_str(&format!(" ON CONFLICT {resolution}"));
    }
    definition
}

/// Columns of the table an expression names, in table order.
fn columns_mentioned(columns: &[String], expression: &str) -> Vec<String> {
    let Ok(tokens) = lexer::tokenize(expression) else {
        return vec![];
    };
    let names: Vec<String> = tokens
        .iter()
        .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent))
        .map(|t| t.name())
        .collect();
    columns
        .iter()
        .filter(|c| names.iter().any(|n| n.eq_ignore_ascii_case(c)))
        .cloned()
        .collect()
}

fn foreign_key_target(clause: &ForeignKeyClause, parent: Option<ParentTable>) -> ForeignKeyTarget {
    let (table, columns) = match parent {
        Some(parent) if clause.columns.is_empty() => (parent.name, parent.primary_key),
        Some(parent) => {
            let columns = clause
                .columns
                .iter()
                .map(|c| resolve(&parent.columns, c))
                .collect();
            (parent.name, columns)
        }
        None => (clause.table.clone(), clause.columns.clone()),
    };
    ForeignKeyTarget {
        table,
        columns,
        on_update: clause.on_update.clone(),
        on_delete: clause.on_delete.clone(),
        match_type: clause.match_type.clone().unwrap_or_else(|| "simple".into()),
    }
}

/// `FOREIGN KEY ("a") REFERENCES "T" ("x") MATCH FULL ON UPDATE … ON DELETE … DEFERRABLE …`.
/// A clause written without a column list keeps none: it follows the parent's primary key.
fn foreign_key_definition(
    child: &[String],
    clause: &ForeignKeyClause,
    target: &ForeignKeyTarget,
) -> String {
    let quoted = |names: &[String]| {
        names
            .iter()
            .map(|n| quote_ident(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut definition = format!(
        "FOREIGN KEY ({}) REFERENCES {}",
        quoted(child),
        quote_ident(&target.table)
    );
    if !clause.columns.is_empty() {
        definition.push_str(&format!(" ({})", quoted(&target.columns)));
    }
    if let Some(match_type) = &clause.match_type {
        definition.push_str(&format!(" MATCH {}", match_name_sql(match_type)));
    }
    for (event, action) in [("UPDATE", &clause.on_update), ("DELETE", &clause.on_delete)] {
        if action != "no action" {
            definition.push_str(&format!(" ON {event} {}", action.to_ascii_uppercase()));
        }
    }
    match (clause.deferrable, clause.initially_deferred) {
        (true, true) => definition.push_str(" DEFERRABLE INITIALLY DEFERRED"),
        (true, false) => definition.push_str(" DEFERRABLE"),
        _ => {}
    }
    definition
}

/// A MATCH name as SQL: the usual `FULL`, `PARTIAL`, `SIMPLE` bare, anything odd quoted.
fn match_name_sql(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        name.to_ascii_uppercase()
    } else {
        quote_ident(name)
    }
}

/// SQLite's built-in collations; their names are case-insensitive like every SQLite name.
const BUILT_IN_COLLATIONS: [&str; 3] = ["BINARY", "NOCASE", "RTRIM"];

/// A collation name in canonical form: built-in collations uppercase (so `collate nocase` and
/// `COLLATE NOCASE` are the same schema), any other as written.
pub(super) fn canonical_collation(name: &str) -> String {
    match BUILT_IN_COLLATIONS
        .iter()
        .find(|b| b.eq_ignore_ascii_case(name))
    {
        Some(built_in) => built_in.to_string(),
        None => name.to_string(),
    }
}

/// A collation name as SQL: SQLite's built-in collations bare, any other quoted.
pub(super) fn collation_sql(name: &str) -> String {
    if BUILT_IN_COLLATIONS.contains(&name) {
        name.to_string()
    } else {
        quote_ident(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sqlite::create_table::parse_create_table;

    fn constraints(sql: &str) -> Vec<Constraint> {
        let table = parse_create_table(sql).unwrap();
        let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let parent = |name: &str| {
            name.eq_ignore_ascii_case("parent").then(|| ParentTable {
                name: "Parent".into(),
                columns: vec!["Id".into(), "Code".into()],
                primary_key: vec!["Id".into()],
            })
        };
        model_constraints("t", &columns, &table.constraints, parent)
    }

    fn names(constraints: &[Constraint]) -> Vec<&str> {
        constraints.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn unnamed_constraints_get_names_from_what_they_are() {
        let c = constraints(
            "CREATE TABLE t (a INT PRIMARY KEY, b INT UNIQUE CHECK (b > 0), c INT,
             CONSTRAINT named CHECK (c > 0), CHECK (c < 9), UNIQUE (b, c),
             FOREIGN KEY (c) REFERENCES parent)",
        );
        assert_eq!(
            names(&c),
            [
                "t_pkey",
                "t_b_key",
                "t_check_1",
                "named",
                "t_check_3",
                "t_b_c_key",
                "t_c_fkey"
            ]
        );
    }

    #[test]
    fn clashing_names_get_a_numeric_suffix() {
        let c = constraints(
            "CREATE TABLE t (a INT, CONSTRAINT t_check_2 CHECK (a > 0), CHECK (a < 9),
             CONSTRAINT dup CHECK (a <> 1), CONSTRAINT dup CHECK (a <> 2),
             FOREIGN KEY (a) REFERENCES parent, FOREIGN KEY (a) REFERENCES parent)",
        );
        assert_eq!(
            names(&c),
            [
                "t_check_2",
                "t_check_2_2",
                "dup",
                "dup_2",
                "t_a_fkey",
                "t_a_fkey_2"
            ]
        );
    }

    #[test]
    fn derived_names_are_recognised_with_their_suffixes() {
        let c = constraints(
            "CREATE TABLE t (a INT PRIMARY KEY, b INT UNIQUE CHECK (b > 0), CONSTRAINT mine CHECK (a > 0),
             UNIQUE (b), FOREIGN KEY (a, b) REFERENCES parent)",
        );
        let derived: Vec<bool> = c.iter().map(|k| may_be_derived("t", k)).collect();
        assert_eq!(
            names(&c),
            [
                "t_pkey",
                "t_b_key",
                "t_check_1",
                "mine",
                "t_b_key_2",
                "t_a_b_fkey"
            ]
        );
        assert_eq!(derived, [true, true, true, false, true, true]);
        assert!(!may_be_derived("other", &c[0]));
    }

    #[test]
    fn definitions_are_canonical_sql() {
        let c = constraints(
            "CREATE TABLE t (A INT, b TEXT,
             primary key (a, B desc) on conflict replace,
             unique ([b] collate nocase),
             check (  a >   0 ),
             foreign key (a) references PARENT (id) match simple on delete cascade
                 on update set default deferrable initially deferred,
             foreign key (b) references parent on delete no action,
             foreign key (b) references elsewhere (z))",
        );
        let definitions: Vec<&str> = c.iter().map(|c| c.definition.as_str()).collect();
        assert_eq!(
            definitions,
            [
                r#"PRIMARY KEY ("A", "b" DESC) ON CONFLICT REPLACE"#,
                r#"UNIQUE ("b" COLLATE NOCASE)"#,
                "CHECK (a > 0)",
                r#"FOREIGN KEY ("A") REFERENCES "Parent" ("Id") MATCH SIMPLE ON UPDATE SET DEFAULT ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"#,
                r#"FOREIGN KEY ("b") REFERENCES "Parent""#,
                r#"FOREIGN KEY ("b") REFERENCES "elsewhere" ("z")"#,
            ]
        );
        assert_eq!(c[0].columns, ["A", "b"], "columns use the table's spelling");
        assert_eq!(c[2].columns, ["A"], "a CHECK lists the columns it reads");
        let implicit = c[4].references.as_ref().unwrap();
        assert_eq!(
            (implicit.table.as_str(), implicit.columns.as_slice()),
            ("Parent", &["Id".to_string()][..])
        );
        assert!(c[3].deferrable && c[3].initially_deferred);
    }

    #[test]
    fn definitions_parse_back_to_the_same_clause() {
        let c = constraints(
            "CREATE TABLE t (a INT, b TEXT, PRIMARY KEY (a, b DESC) ON CONFLICT ABORT,
             FOREIGN KEY (b) REFERENCES parent (code) ON DELETE SET NULL MATCH FULL)",
        );
        for constraint in &c {
            let reparsed = crate::engine::sqlite::create_table::parse_constraint_clause(
                &constraint.definition,
            )
            .unwrap();
            let again = model_constraints("t", &["a".into(), "b".into()], &[reparsed], |name| {
                name.eq_ignore_ascii_case("parent").then(|| ParentTable {
                    name: "Parent".into(),
                    columns: vec!["Id".into(), "Code".into()],
                    primary_key: vec!["Id".into()],
                })
            });
            assert_eq!(again[0].definition, constraint.definition);
        }
    }
}
