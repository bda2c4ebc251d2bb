//! SQLite indexes, views and triggers → PostgreSQL, and the names PostgreSQL keeps in one
//! namespace.
//!
//! An index is re-spelled item by item (`COLLATE NOCASE` on a unique index becomes `lower()`,
//! as for unique constraints); a view's query goes through the expression translator with the
//! relations it reads qualified; a trigger is never translated: SQLite trigger bodies are
//! statements run per row, PostgreSQL needs a PL/pgSQL function, and guessing one would be
//! worse than naming the trigger in the report.

use std::collections::HashSet;

use super::expressions::{self, pg_ident, split_top_level, Scope};
use super::report::{Report, Severity};
use super::sqlite_to_postgres::Converter;
use crate::engine::sqlite::lexer::{self, Token};
use crate::schema::{qualified, Access, ConstraintKind, Index, Schema, Table, View};

/// PostgreSQL cuts longer names to this many bytes.
const MAX_NAME_BYTES: usize = 63;

/// Translates every table's indexes onto the converted tables.
pub(super) fn indexes(converter: &mut Converter<'_>, source: &Schema, target: &mut Schema) {
    for table in &source.tables {
        let scope = converter.table_scope(table);
        for index in &table.indexes {
            let converted = index_definition(converter, table, &index.definition, &scope);
            let Some(target_table) = target.tables.iter_mut().find(|t| t.name == table.name) else {
                continue;
            };
            match converted {
                Ok(definition) => target_table.indexes.push(Index {
                    name: index.name.clone(),
                    definition,
                    attached_to: None,
                    invalid: false,
                    comment: index.comment.clone(),
                }),
                Err(reason) => {
                    converter
                        .report
                        .omit("index", &index.name, &index.definition, reason)
                }
            }
        }
    }
}

/// `CREATE [UNIQUE] INDEX name ON table (items) [WHERE predicate]` in PostgreSQL's form.
fn index_definition(
    converter: &mut Converter<'_>,
    table: &Table,
    sql: &str,
    scope: &Scope,
) -> Result<String, String> {
    let tokens = lexer::tokenize(sql).map_err(|e| e.to_string())?;
    let unique = tokens.get(1).is_some_and(|t| t.is_keyword("UNIQUE"));
    let open = tokens
        .iter()
        .position(|t| t.is_punct("("))
        .ok_or("no column list")?;
    let close = expressions::matching_paren(&tokens, open).ok_or("unbalanced parentheses")?;
    let mut items = Vec::new();
    for item in split_top_level(&tokens[open + 1..close]) {
        items.push(index_item(converter, item, unique, sql, scope)?);
    }
    let mut definition = format!(
        "CREATE {}INDEX {} ON {} USING btree ({})",
        if unique { "UNIQUE " } else { "" },
        pg_ident(&index_name(&tokens)),
        converter.relation(&table.name),
        items.join(", ")
    );
    match tokens[close + 1..].split_first() {
        None => {}
        Some((keyword, predicate)) if keyword.is_keyword("WHERE") => {
            let translation = expressions::translate(predicate, scope)?;
            converter.notes("index", &index_name(&tokens), &translation);
            definition.push_str(&format!(" WHERE {}", translation.sql));
        }
        Some((other, _)) => {
            return Err(format!("unexpected {:?} after the column list", other.text))
        }
    }
    Ok(definition)
}

/// The index's own name (`schema.name` keeps the name).
fn index_name(tokens: &[Token<'_>]) -> String {
    let on = tokens.iter().position(|t| t.is_keyword("ON")).unwrap_or(0);
    on.checked_sub(1)
        .and_then(|i| tokens.get(i))
        .map(Token::name)
        .unwrap_or_default()
}

/// One key of an index: `expr [COLLATE c] [ASC|DESC]`.
fn index_item(
    converter: &mut Converter<'_>,
    item: &[Token<'_>],
    unique: bool,
    sql: &str,
    scope: &Scope,
) -> Result<String, String> {
    let mut item = item;
    let mut order = "";
    if let Some(last) = item.last() {
        if last.is_keyword("DESC") || last.is_keyword("ASC") {
            order = if last.is_keyword("DESC") { " DESC" } else { "" };
            item = &item[..item.len() - 1];
        }
    }
    let mut collation = None;
    if let Some(at) = item.iter().rposition(|t| t.is_keyword("COLLATE")) {
        collation = item.get(at + 1).map(|t| t.name().to_ascii_uppercase());
        item = &item[..at];
    }
    let translation = expressions::translate(item, scope)?;
    let object = index_name(&lexer::tokenize(sql).unwrap_or_default());
    converter.notes("index", &object, &translation);
    let mut key = if item.len() == 1 {
        translation.sql
    } else {
        format!("({})", translation.sql)
    };
    match collation.as_deref() {
        None => {}
        Some("BINARY") => key.push_str(" COLLATE \"C\""),
        Some("NOCASE") if unique => {
            converter.report.add(
                Severity::Info,
                "index",
                &object,
                "COLLATE NOCASE",
                format!("lower({key})"),
                "a unique index on lower() keeps uniqueness case-insensitive",
            );
            key = format!("lower({key})");
        }
        Some(other) => converter.report.add(
            Severity::Warning,
            "index",
            &object,
            format!("COLLATE {other}"),
            "",
            "PostgreSQL has no such collation; the index uses the column's own",
        ),
    }
    Ok(format!("{key}{order}"))
}

/// Translates every view's query; a view that cannot be translated is left out.
pub(super) fn views(converter: &mut Converter<'_>, source: &Schema, target: &mut Schema) {
    for view in &source.views {
        match view_query(&view.definition, &converter.scope) {
            Ok(translation) => {
                converter.notes("view", &view.name, &translation);
                let depends_on = view
                    .depends_on
                    .iter()
                    .map(|d| qualified(&converter.namespace, d))
                    .collect();
                target.views.push(View {
                    schema: converter.namespace.clone(),
                    name: view.name.clone(),
                    materialized: false,
                    definition: translation.sql,
                    check_option: None,
                    options: vec![],
                    populated: true,
                    depends_on,
                    column_comments: vec![],
                    indexes: vec![],
                    triggers: vec![],
                    rules: vec![],
                    comment: view.comment.clone(),
                    access: Access::default(),
                });
            }
            Err(reason) => converter
                .report
                .omit("view", &view.name, &view.definition, reason),
        }
    }
}

/// The query of `CREATE [TEMP] VIEW [IF NOT EXISTS] name [(columns)] AS query`, translated.
fn view_query(definition: &str, scope: &Scope) -> Result<expressions::Translation, String> {
    let tokens = lexer::tokenize(definition).map_err(|e| e.to_string())?;
    let as_at = tokens
        .iter()
        .position(|t| t.is_keyword("AS"))
        .ok_or("no AS in the view definition")?;
    if tokens[..as_at].iter().any(|t| t.is_punct("(")) {
        return Err("a view with a column list (write the names as aliases in the query)".into());
    }
    expressions::translate(&tokens[as_at + 1..], scope)
}

/// Names every trigger: none can be translated (see the module doc).
pub(super) fn triggers(report: &mut Report, source: &Schema) {
    let on_tables = source
        .tables
        .iter()
        .flat_map(|t| t.triggers.iter().map(move |tr| (&t.name, tr)));
    let on_views = source
        .views
        .iter()
        .flat_map(|v| v.triggers.iter().map(move |tr| (&v.name, tr)));
    for (relation, trigger) in on_tables.chain(on_views) {
        report.omit(
            "trigger",
            format!("{relation}.{}", trigger.name),
            &trigger.definition,
            "a SQLite trigger body cannot become PL/pgSQL automatically: write a trigger \
             function for it by hand",
        );
    }
}

/// PostgreSQL keeps tables, views, indexes and the indexes behind primary keys and unique
/// constraints in one namespace; SQLite does not count constraint names. A clash gets a
/// numeric suffix (on the constraint or index), and names PostgreSQL would cut are reported.
pub(super) fn resolve_name_clashes(report: &mut Report, target: &mut Schema) {
    let mut taken: HashSet<String> = target.tables.iter().map(|t| t.name.clone()).collect();
    taken.extend(target.views.iter().map(|v| v.name.clone()));
    for name in &taken {
        warn_if_long(report, "relation", name, name);
    }
    for table in &mut target.tables {
        for c in &mut table.constraints {
            let object = format!("{}.{}", table.name, c.name);
            warn_if_long(report, "constraint", &object, &c.name);
            if matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique) {
                rename_if_taken(report, &mut taken, "constraint", &object, &mut c.name);
            }
        }
        for index in &mut table.indexes {
            let old = index.name.clone();
            warn_if_long(report, "index", &old, &old);
            rename_if_taken(report, &mut taken, "index", &old, &mut index.name);
            if index.name != old {
                index.definition = index.definition.replacen(
                    &format!("INDEX {} ON", pg_ident(&old)),
                    &format!("INDEX {} ON", pg_ident(&index.name)),
                    1,
                );
            }
        }
        for column in &table.columns {
            let object = format!("{}.{}", table.name, column.name);
            warn_if_long(report, "column", &object, &column.name);
        }
    }
}

fn rename_if_taken(
    report: &mut Report,
    taken: &mut HashSet<String>,
    kind: &str,
    object: &str,
    name: &mut String,
) {
    if taken.insert(name.clone()) {
        return;
    }
    let mut suffix = 2;
    while !taken.insert(format!("{name}_{suffix}")) {
        suffix += 1;
    }
    let renamed = format!("{name}_{suffix}");
    report.add(
        Severity::Warning,
        kind,
        object,
        name.clone(),
        renamed.clone(),
        "PostgreSQL keeps tables, views, indexes and key constraints in one namespace per \
         schema, and the name was taken",
    );
    *name = renamed;
}

fn warn_if_long(report: &mut Report, kind: &str, object: &str, name: &str) {
    if name.len() > MAX_NAME_BYTES {
        report.add(
            Severity::Warning,
            kind,
            object,
            name,
            "",
            format!("PostgreSQL cuts names to {MAX_NAME_BYTES} bytes"),
        );
    }
}
