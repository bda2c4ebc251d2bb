//! SQLite's dialect of schema changes: the SQL of each planned change, with its hazards, its
//! inverse and, where existing rows could make it fail, a query that counts them.
//!
//! Creation statements come from [`super::render::statements`]. SQLite changes little in
//! place: indexes, views and triggers are dropped and created again when they change, and a
//! table is altered in place only where `ALTER TABLE` can (`ADD COLUMN`, `DROP COLUMN`,
//! `RENAME`); everything else rebuilds the table with its rows ([`super::migrate_table`]).

use crate::diff::{Action, HazardKind, Step};
use crate::engine::{CreateContext, Dialect, InPlace, TableChange};
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{Column, Schema, Table};

use super::constraints::may_be_derived;
use super::lexer::{self, quote_ident, Token};

/// SQLite's [`Dialect`].
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn creation_script(&self, schema: &Schema) -> Vec<Statement> {
        super::render::statements(schema)
    }

    fn create(&self, statement: &Statement, _target: &Schema, context: CreateContext) -> Vec<Step> {
        let key = &statement.key;
        let mut s = crate::diff::create_step(key, statement.sql.clone(), context.recreated);
        s.inverse = drop_sql(key);
        let unique_index = matches!(key, ObjectKey::Index { .. })
            && lexer::tokenize(&statement.sql)
                .is_ok_and(|tokens| tokens.get(1).is_some_and(|t| t.is_keyword("UNIQUE")));
        if unique_index && !context.table_is_new {
            s = s.with_hazard(
                HazardKind::MayFail,
                "fails if existing rows hold duplicates",
            );
            s.precheck = unique_index_precheck(&statement.sql);
        }
        vec![s]
    }

    fn drop(&self, key: &ObjectKey, _source: &Schema, created_by: &[String]) -> Vec<Step> {
        let Some(sql) = drop_sql(key) else {
            return vec![];
        };
        let s = Step::new(
            key.clone(),
            Action::Drop,
            format!("drop {}", key.describe()),
            sql,
        );
        match key {
            ObjectKey::Table { name } => vec![s
                .with_hazard(
                    HazardKind::DataLoss,
                    format!("drops table {name} with all its rows"),
                )
                .with_hazard(HazardKind::Irreversible, "the rows cannot be brought back")],
            _ => vec![s.with_inverse(created_by.join("\n"))],
        }
    }

    fn alter_table(
        &self,
        from: &Table,
        to: &Table,
        source: &Schema,
        target: &Schema,
    ) -> TableChange {
        super::migrate_table::alter_table(from, to, source, target)
    }

    fn rebuild_table(
        &self,
        from: &Table,
        to: &Table,
        source: &Schema,
        target: &Schema,
    ) -> Option<Vec<Step>> {
        Some(super::rebuild::steps(from, to, source, target))
    }

    /// A constraint whose name the naming rule could have derived from the old table or
    /// column names, and could not derive from the new ones, may or may not keep its name.
    fn rename_may_change_constraints(&self, before: &Table, after: &Table) -> bool {
        before
            .constraints
            .iter()
            .zip(&after.constraints)
            .any(|(old, new)| {
                may_be_derived(&before.name, old) && !may_be_derived(&after.name, new)
            })
    }

    /// SQLite keeps an index, view or trigger as written: one that differs from the stored
    /// text only in spacing, comments, keyword case or what SQLite rewrites before the name
    /// is the same object ([`super::canonical`]).
    fn same_statement(&self, key: &ObjectKey, source_sql: &str, target_sql: &str) -> bool {
        match key {
            ObjectKey::Index { .. } | ObjectKey::View { .. } | ObjectKey::Trigger { .. } => {
                super::canonical::same_definition(source_sql, target_sql)
            }
            _ => source_sql == target_sql,
        }
    }

    /// Indexes, views and triggers have no in-place form in SQLite.
    fn alter_in_place(
        &self,
        _key: &ObjectKey,
        _source: &Schema,
        _target: &Schema,
        _target_sql: &[String],
    ) -> Option<InPlace> {
        None
    }

    fn rename_table(
        &self,
        _old_schema: &str,
        old_name: &str,
        _new_schema: &str,
        new_name: &str,
    ) -> String {
        format!(
            "ALTER TABLE {} RENAME TO {};",
            quote_ident(old_name),
            quote_ident(new_name)
        )
    }

    fn rename_column(&self, _schema: &str, table: &str, old: &str, new: &str) -> String {
        format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {};",
            quote_ident(table),
            quote_ident(old),
            quote_ident(new)
        )
    }

    fn quote_ident(&self, name: &str) -> String {
        quote_ident(name)
    }

    /// SQLite has no schemas: the name alone.
    fn quote_qualified(&self, _schema: &str, name: &str) -> String {
        quote_ident(name)
    }

    /// The declared type itself: the same affinity stores the same values.
    fn staging_type(&self, column: &Column) -> String {
        column.data_type.clone()
    }

    fn read_staged(&self, value: &str, _column: &Column) -> String {
        value.to_string()
    }

    fn insert_override(&self) -> &'static str {
        ""
    }
}

/// The statement that removes an object; `None` for keys SQLite's creation script never has.
fn drop_sql(key: &ObjectKey) -> Option<String> {
    let (kind, name) = match key {
        ObjectKey::Table { name } => ("TABLE", name),
        ObjectKey::Index { name } => ("INDEX", name),
        ObjectKey::View { name } => ("VIEW", name),
        ObjectKey::Trigger { name, .. } => ("TRIGGER", name),
        _ => return None,
    };
    Some(format!("DROP {kind} {};", quote_ident(name)))
}

/// Counts the groups of rows a new unique index would find duplicated: rows whose indexed
/// values are all non-NULL (SQLite lets NULLs repeat in a unique index) and equal, among the
/// rows the index covers (its WHERE clause). `None` when the statement cannot be read.
fn unique_index_precheck(sql: &str) -> Option<String> {
    let tokens = lexer::tokenize(sql.trim_end_matches(';')).ok()?;
    let on = tokens.iter().position(|t| t.is_keyword("ON"))?;
    let table = tokens.get(on + 1)?;
    let open = on + 2;
    if !tokens.get(open)?.is_punct("(") {
        return None;
    }
    let (terms, close) = index_terms(&tokens, open + 1)?;
    let filter = match tokens.get(close + 1) {
        Some(t) if t.is_keyword("WHERE") => Some(lexer::join(&tokens[close + 2..])),
        None => None,
        Some(_) => return None,
    };
    let mut conditions: Vec<String> = terms
        .iter()
        .map(|term| format!("({term}) IS NOT NULL"))
        .collect();
    if let Some(filter) = filter {
        conditions.push(format!("({filter})"));
    }
    Some(format!(
        "SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} GROUP BY {} HAVING count(*) > 1)",
        quote_ident(&table.name()),
        conditions.join(" AND "),
        terms.join(", ")
    ))
}

/// The indexed terms from `start` (just after the opening parenthesis) to the matching `)`,
/// without their sort order (`ASC`/`DESC`), and the position of that `)`.
fn index_terms(tokens: &[Token<'_>], start: usize) -> Option<(Vec<String>, usize)> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut term_start = start;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        if token.is_punct("(") {
            depth += 1;
        } else if token.is_punct(")") && depth > 0 {
            depth -= 1;
        } else if depth == 0 && (token.is_punct(",") || token.is_punct(")")) {
            let mut term = &tokens[term_start..i];
            if term
                .last()
                .is_some_and(|t| t.is_keyword("ASC") || t.is_keyword("DESC"))
            {
                term = &term[..term.len() - 1];
            }
            if term.is_empty() {
                return None;
            }
            terms.push(lexer::join(term));
            if token.is_punct(")") {
                return Some((terms, i));
            }
            term_start = i + 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_index_precheck_groups_the_indexed_terms() {
        assert_eq!(
            unique_index_precheck(
                "CREATE UNIQUE INDEX i ON [order] (lower(email) COLLATE NOCASE, \"b\" DESC) WHERE a > 0;"
            )
            .as_deref(),
            Some(
                "SELECT count(*) FROM (SELECT 1 FROM \"order\" WHERE (lower(email) COLLATE NOCASE) IS NOT NULL \
                 AND (\"b\") IS NOT NULL AND (a > 0) GROUP BY lower(email) COLLATE NOCASE, \"b\" HAVING count(*) > 1)"
            )
        );
        assert!(unique_index_precheck("CREATE UNIQUE INDEX i ON t").is_none());
        assert!(unique_index_precheck("CREATE UNIQUE INDEX i ON t (a").is_none());
    }

    #[test]
    fn drops_name_the_object_kind() {
        let trigger = ObjectKey::Trigger {
            table: "t".into(),
            name: "tr".into(),
        };
        assert_eq!(drop_sql(&trigger).as_deref(), Some("DROP TRIGGER \"tr\";"));
        assert!(drop_sql(&ObjectKey::Schema { name: "x".into() }).is_none());
    }
}
