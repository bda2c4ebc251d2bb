//! A PostgreSQL index definition, as `pg_get_indexdef` writes it, → SQLite's `CREATE INDEX`:
//! btree indexes only; operator classes, `NULLS FIRST/LAST`, `INCLUDE` and key collations are
//! dropped (SQLite has none of them), expressions and predicates go through
//! `pg_expressions.rs`.

use super::pg_expressions;
use crate::engine::sqlite::lexer::quote_ident;

/// `CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING method (items) [INCLUDE (…)]
/// [WHERE predicate]` (as `pg_get_indexdef` writes it) → SQLite's form.
pub fn index_definition(
    definition: &str,
    name: &str,
    table: &str,
    schemas: &[String],
) -> Result<String, String> {
    let unique = definition.starts_with("CREATE UNIQUE INDEX");
    let using = definition.find(" USING ").ok_or("no USING clause")?;
    let rest = &definition[using + 7..];
    let method = rest.split_whitespace().next().unwrap_or_default();
    if method != "btree" {
        return Err(format!("a {method} index: SQLite only has b-trees"));
    }
    let open = rest.find('(').ok_or("no column list")?;
    let close = matching(rest, open).ok_or("unbalanced parentheses")?;
    let mut items = Vec::new();
    for item in split_items(&rest[open + 1..close]) {
        items.push(index_item(item.trim(), schemas)?);
    }
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if unique { "UNIQUE " } else { "" },
        quote_ident(name),
        quote_ident(table),
        items.join(", ")
    );
    let tail = rest[close + 1..].trim();
    if let Some(at) = tail.find("WHERE ") {
        let predicate = pg_expressions::expression(&tail[at + 6..], schemas)?;
        sql.push_str(&format!(" WHERE {predicate}"));
    }
    Ok(sql)
}

/// One index key: `expr [COLLATE c] [opclass] [ASC|DESC] [NULLS FIRST|LAST]`.
fn index_item(item: &str, schemas: &[String]) -> Result<String, String> {
    let mut words: Vec<&str> = item.split(' ').collect();
    let mut order = "";
    if words.len() >= 2 && words[words.len() - 2] == "NULLS" {
        words.truncate(words.len() - 2);
    }
    if words.last().is_some_and(|w| *w == "DESC" || *w == "ASC") {
        order = if words.last() == Some(&"DESC") {
            " DESC"
        } else {
            ""
        };
        words.pop();
    }
    if words.len() >= 2 && words.last().is_some_and(|w| w.ends_with("_ops")) {
        words.pop();
    }
    if words.len() >= 3 && words[words.len() - 2] == "COLLATE" {
        words.truncate(words.len() - 2);
    }
    let expression = pg_expressions::expression(&words.join(" "), schemas)?;
    Ok(format!("{expression}{order}"))
}

fn matching(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quoted = None;
    for (i, ch) in text.char_indices().skip_while(|(i, _)| *i < open) {
        match (quoted, ch) {
            (Some(q), c) if c == q => quoted = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quoted = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits at commas outside parentheses and quotes.
fn split_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut quoted, mut start) = (0, None, 0);
    for (i, ch) in text.char_indices() {
        match (quoted, ch) {
            (Some(q), c) if c == q => quoted = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quoted = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deparsed_indexes_become_sqlite_indexes() {
        let schemas = ["public".to_string()];
        assert_eq!(
            index_definition("CREATE UNIQUE INDEX idx ON public.t USING btree (lower((email)::text), b DESC NULLS LAST) WHERE (b > 0)", "idx", "t", &schemas).unwrap(),
            "CREATE UNIQUE INDEX \"idx\" ON \"t\" (lower(CAST((email) AS TEXT)), b DESC) WHERE (b > 0)"
        );
        assert_eq!(
            index_definition(
                "CREATE INDEX \"I x\" ON ONLY public.t USING btree (name text_pattern_ops)",
                "I x",
                "t",
                &schemas
            )
            .unwrap(),
            "CREATE INDEX \"I x\" ON \"t\" (name)"
        );
        assert!(index_definition(
            "CREATE INDEX g ON public.t USING gin (doc)",
            "g",
            "t",
            &schemas
        )
        .is_err());
    }
}
