//! Renames are never guessed: a `renamed_from` key on a table or column of the target turns
//! what would be a drop and a create into a rename. The renames run first; the rest of the
//! plan is computed against the source *as it is after the renames*, so the other objects
//! compare equal where the rename is all that changed.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::diff::{Action, Step};
use crate::engine::Dialect;
use crate::error::{Error, Result};
use crate::schema::{qualified, Schema};

/// The source as it is after the target's renames, and what it takes to get there.
pub(super) struct Renamed<'a> {
    pub source: Cow<'a, Schema>,
    /// The rename steps, to run first.
    pub steps: Vec<Step>,
    /// Tables (qualified) whose definition after the renames the model cannot tell for sure
    /// (see [`Dialect::rename_may_change_constraints`]): the plan rebuilds them.
    pub uncertain: HashSet<String>,
}

/// Applies the target's renames to the source.
pub(super) fn apply_renames<'a>(
    source: &'a Schema,
    target: &Schema,
    dialect: &dyn Dialect,
) -> Result<Renamed<'a>> {
    let has_hints = target
        .tables
        .iter()
        .any(|t| t.renamed_from.is_some() || t.columns.iter().any(|c| c.renamed_from.is_some()));
    if !has_hints {
        return Ok(Renamed {
            source: Cow::Borrowed(source),
            steps: Vec::new(),
            uncertain: HashSet::new(),
        });
    }
    let mut renamed = source.clone();
    let mut steps = Vec::new();
    let mut uncertain = HashSet::new();
    let find = |schema: &Schema, name: &str| -> Option<usize> {
        schema
            .tables
            .iter()
            .position(|t| qualified(&t.schema, &t.name) == name)
    };
    for table in &target.tables {
        let hinted =
            table.renamed_from.is_some() || table.columns.iter().any(|c| c.renamed_from.is_some());
        if !hinted {
            continue;
        }
        let new_name = qualified(&table.schema, &table.name);
        let steps_before = steps.len();
        let mut before = find(&renamed, &new_name).map(|i| renamed.tables[i].clone());
        if let Some(old) = &table.renamed_from {
            let old_name = if old.contains('.') || table.schema.is_empty() {
                old.clone()
            } else {
                qualified(&table.schema, old)
            };
            let old_index = find(&renamed, &old_name);
            if old_index.is_some() && before.is_some() {
                return Err(Error::Unsupported(format!(
                    "table {new_name} says renamed_from: {old}, but both tables exist in the \
                     database — remove renamed_from, or drop one of them"
                )));
            }
            if let Some(i) = old_index {
                before = Some(renamed.tables[i].clone());
                steps.push(rename_table(
                    &mut renamed,
                    &old_name,
                    &table.schema,
                    &table.name,
                    dialect,
                ));
            }
        }
        for column in &table.columns {
            let Some(old) = &column.renamed_from else {
                continue;
            };
            let Some(t) = find(&renamed, &new_name) else {
                continue;
            };
            let has_old = renamed.tables[t].columns.iter().any(|c| &c.name == old);
            let has_new = renamed.tables[t]
                .columns
                .iter()
                .any(|c| c.name == column.name);
            if has_old && has_new {
                return Err(Error::Unsupported(format!(
                    "column {new_name}.{} says renamed_from: {old}, but both columns exist in \
                     the database — remove renamed_from, or drop one of them",
                    column.name
                )));
            }
            if has_old {
                steps.push(rename_column(&mut renamed, t, old, &column.name, dialect));
            }
        }
        let after = find(&renamed, &new_name).map(|i| &renamed.tables[i]);
        if let (Some(before), Some(after)) = (&before, after) {
            if steps.len() > steps_before && dialect.rename_may_change_constraints(before, after) {
                uncertain.insert(new_name);
            }
        }
    }
    renamed.canonicalize();
    Ok(Renamed {
        source: Cow::Owned(renamed),
        steps,
        uncertain,
    })
}

fn rename_table(
    schema: &mut Schema,
    old_name: &str,
    new_schema: &str,
    new_name: &str,
    dialect: &dyn Dialect,
) -> Step {
    let index = schema
        .tables
        .iter()
        .position(|t| qualified(&t.schema, &t.name) == old_name)
        .expect("caller checked the table exists");
    let (old_schema, old_bare) = {
        let t = &schema.tables[index];
        (t.schema.clone(), t.name.clone())
    };
    let sql = dialect.rename_table(&old_schema, &old_bare, new_schema, new_name);
    let inverse = dialect.rename_table(new_schema, new_name, &old_schema, &old_bare);
    let new_qualified = qualified(new_schema, new_name);
    let old_quoted = dialect.quote_qualified(&old_schema, &old_bare);
    let new_quoted = dialect.quote_qualified(new_schema, new_name);
    {
        let t = &mut schema.tables[index];
        t.schema = new_schema.to_string();
        t.name = new_name.to_string();
    }
    // Everything the server rewrites on a rename: references by name in other objects'
    // definitions and in the model's reference fields.
    for t in &mut schema.tables {
        for c in &mut t.constraints {
            c.definition = replace_word(&c.definition, &old_quoted, &new_quoted);
            if let Some(r) = &mut c.references {
                if r.table == old_name {
                    r.table = new_qualified.clone();
                }
            }
        }
        for i in &mut t.indexes {
            i.definition = replace_word(&i.definition, &old_quoted, &new_quoted);
        }
        for tr in &mut t.triggers {
            tr.definition = replace_word(&tr.definition, &old_quoted, &new_quoted);
        }
        for r in &mut t.rules {
            r.definition = replace_word(&r.definition, &old_quoted, &new_quoted);
        }
        if let Some(p) = &mut t.partition_of {
            if p.parent == old_name {
                p.parent = new_qualified.clone();
            }
        }
        for parent in &mut t.inherits {
            if parent == old_name {
                *parent = new_qualified.clone();
            }
        }
    }
    for v in &mut schema.views {
        v.definition = replace_word(&v.definition, &old_quoted, &new_quoted);
        for d in &mut v.depends_on {
            if d == old_name {
                *d = new_qualified.clone();
            }
        }
    }
    for f in &mut schema.functions {
        for d in &mut f.depends_on {
            if d == old_name {
                *d = new_qualified.clone();
            }
        }
    }
    for s in &mut schema.sequences {
        if let Some(owner) = &mut s.owned_by {
            if let Some(column) = owner.strip_prefix(&format!("{old_name}.")) {
                *owner = format!("{new_qualified}.{column}");
            }
        }
    }
    for p in &mut schema.publications {
        for t in &mut p.tables {
            if t.table == old_name {
                t.table = new_qualified.clone();
            }
        }
    }
    Step::new(
        crate::schema::key::ObjectKey::Table {
            name: new_qualified.clone(),
        },
        Action::Rename,
        format!("rename table {old_name} to {new_qualified} (renamed_from)"),
        sql,
    )
    .with_inverse(inverse)
}

fn rename_column(
    schema: &mut Schema,
    table_index: usize,
    old: &str,
    new: &str,
    dialect: &dyn Dialect,
) -> Step {
    let (table_schema, table_name) = {
        let t = &schema.tables[table_index];
        (t.schema.clone(), t.name.clone())
    };
    let table_qualified = qualified(&table_schema, &table_name);
    let sql = dialect.rename_column(&table_schema, &table_name, old, new);
    let inverse = dialect.rename_column(&table_schema, &table_name, new, old);
    let old_quoted = dialect.quote_ident(old);
    let new_quoted = dialect.quote_ident(new);
    {
        let t = &mut schema.tables[table_index];
        for c in &mut t.columns {
            if c.name == old {
                c.name = new.to_string();
            }
        }
        for c in &mut t.constraints {
            c.definition = replace_word(&c.definition, &old_quoted, &new_quoted);
            for col in &mut c.columns {
                if col == old {
                    *col = new.to_string();
                }
            }
        }
        for i in &mut t.indexes {
            i.definition = replace_word(&i.definition, &old_quoted, &new_quoted);
        }
        for tr in &mut t.triggers {
            tr.definition = replace_word(&tr.definition, &old_quoted, &new_quoted);
        }
        for p in &mut t.policies {
            p.using = p
                .using
                .as_ref()
                .map(|e| replace_word(e, &old_quoted, &new_quoted));
            p.with_check = p
                .with_check
                .as_ref()
                .map(|e| replace_word(e, &old_quoted, &new_quoted));
        }
    }
    for t in &mut schema.tables {
        for c in &mut t.constraints {
            if let Some(r) = &mut c.references {
                if r.table == table_qualified {
                    for col in &mut r.columns {
                        if col == old {
                            *col = new.to_string();
                        }
                    }
                    c.definition = replace_word(&c.definition, &old_quoted, &new_quoted);
                }
            }
        }
    }
    for s in &mut schema.sequences {
        if s.owned_by.as_deref() == Some(&format!("{table_qualified}.{old}")) {
            s.owned_by = Some(format!("{table_qualified}.{new}"));
        }
    }
    Step::new(
        crate::schema::key::ObjectKey::Column {
            table: table_qualified.clone(),
            column: new.to_string(),
        },
        Action::Rename,
        format!("rename column {table_qualified}.{old} to {new} (renamed_from)"),
        sql,
    )
    .with_inverse(inverse)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// True when `word` occurs in `text` with no identifier character on either side.
pub(crate) fn mentions_word(text: &str, word: &str) -> bool {
    word_positions(text, word).next().is_some()
}

fn word_positions<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(word).filter_map(move |(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let quoted = word.starts_with('"');
        let bounded =
            quoted || (!before.is_some_and(is_word_char) && !after.is_some_and(is_word_char));
        bounded.then_some(i)
    })
}

/// Replaces whole-word occurrences of `from` with `to`.
pub(crate) fn replace_word(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for i in word_positions(text, from).collect::<Vec<_>>() {
        if i < last {
            continue;
        }
        out.push_str(&text[last..i]);
        out.push_str(to);
        last = i + from.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_only() {
        assert!(mentions_word("CHECK ((price > 0))", "price"));
        assert!(!mentions_word("CHECK ((unit_price > 0))", "price"));
        assert_eq!(
            replace_word("FOREIGN KEY (a) REFERENCES public.t(a_id)", "a", "b"),
            "FOREIGN KEY (b) REFERENCES public.t(a_id)"
        );
    }
}
