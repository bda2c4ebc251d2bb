//! PostgreSQL expressions and queries, as the server deparses them (`pg_get_expr`,
//! `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`) → SQLite.
//!
//! The deparser's output is regular, which keeps this small: casts (`'new'::text`,
//! `(price)::numeric`), `= ANY (ARRAY[…])` for IN lists, `~~` for LIKE, schema-qualified
//! names. Casts of literals are dropped (SQLite's column affinity does their work), other casts
//! become `CAST(… AS …)` for the types SQLite has; `x = ANY (ARRAY[a, b])` becomes
//! `x IN (a, b)`; schema qualifiers are dropped (SQLite has one namespace). Anything else that
//! differs — a function SQLite lacks, a regular expression, a cast to a date type (SQLite would
//! turn the text into a number) — fails with the reason.

use super::types;

/// Why a translation is impossible.
pub type Untranslatable = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    QuotedIdent,
    String,
    Number,
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
}

impl Token<'_> {
    fn is(&self, text: &str) -> bool {
        match self.kind {
            Kind::Word => self.text.eq_ignore_ascii_case(text),
            Kind::Punct => self.text == text,
            _ => false,
        }
    }
}

/// Operators of more than one character, longest first.
const OPERATORS: &[&str] = &[
    "!~~*", "~~*", "!~~", "#>>", "->>", "::", "~~", "!~", "~*", "->", "#>", "<>", "!=", ">=", "<=",
    "||", "<<", ">>", "@>", "<@", "&&",
];

fn tokenize(sql: &str) -> Result<Vec<Token<'_>>, Untranslatable> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'\'' | b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err("an unterminated quoted text".into()),
                        Some(&q) if q == b && bytes.get(i + 1) == Some(&b) => i += 2,
                        Some(&q) if q == b => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                if b == b'\'' {
                    Kind::String
                } else {
                    Kind::QuotedIdent
                }
            }
            b'0'..=b'9' => {
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                    i += 1;
                }
                if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
                    i += 1;
                    if i < bytes.len() && matches!(bytes[i], b'+' | b'-') {
                        i += 1;
                    }
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                Kind::Number
            }
            b'$' => return Err("a parameter or dollar-quoted text".into()),
            _ if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                if matches!(b, b'E' | b'e') && bytes.get(i + 1) == Some(&b'\'') {
                    return Err("an escape string (E'…')".into());
                }
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'$')
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                Kind::Word
            }
            _ => {
                let rest = &sql[i..];
                let op = OPERATORS.iter().find(|op| rest.starts_with(*op));
                match op {
                    Some(op) => i += op.len(),
                    None if b"()[],.;+-*/%<>=~!@#^&|".contains(&b) => i += 1,
                    None => {
                        let shown = rest.chars().next().unwrap_or(' ');
                        return Err(format!("unexpected character {shown:?}"));
                    }
                }
                Kind::Punct
            }
        };
        tokens.push(Token {
            kind,
            text: &sql[start..i],
        });
    }
    Ok(tokens)
}

/// Translates an expression; `schemas` are the PostgreSQL schema names to drop as qualifiers.
pub fn expression(sql: &str, schemas: &[String]) -> Result<String, Untranslatable> {
    let tokens = tokenize(sql)?;
    let mut tokens = tokens.as_slice();
    while tokens.last().is_some_and(|t| t.is(";")) {
        tokens = &tokens[..tokens.len() - 1];
    }
    let mut translator = Translator { schemas, pos: 0 };
    let items = translator.sequence(tokens, None)?;
    Ok(join(&items))
}

/// A column default: literals lose their casts; the clock becomes `CURRENT_TIMESTAMP`.
/// Returns the SQLite DEFAULT clause body (`'new'`, `-1`, `(expr)`).
pub fn default_value(sql: &str, schemas: &[String]) -> Result<String, Untranslatable> {
    let lower = sql.trim().to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "now()"
            | "current_timestamp"
            | "statement_timestamp()"
            | "transaction_timestamp()"
            | "localtimestamp"
            | "clock_timestamp()"
    ) {
        return Ok("CURRENT_TIMESTAMP".into());
    }
    // The clock as the SQLite → PostgreSQL conversion spells SQLite's (UTC, as text).
    let compact: String = lower.split_whitespace().collect();
    for (format, function) in [
        ("yyyy-mm-ddhh24:mi:ss", "datetime"),
        ("yyyy-mm-dd", "date"),
        ("hh24:mi:ss", "time"),
    ] {
        if compact == format!("to_char((now()attimezone'utc'::text),'{format}'::text)") {
            return Ok(format!("({function}('now'))"));
        }
    }
    if compact == "timezone('utc'::text,now())" {
        return Ok("CURRENT_TIMESTAMP".into());
    }
    if lower.starts_with("nextval(") {
        return Err(
            "a sequence default (SQLite numbers rows itself only for INTEGER PRIMARY KEY)".into(),
        );
    }
    let text = expression(sql, schemas)?;
    let literal = text.starts_with('\'') && text.ends_with('\'') && text.matches('\'').count() == 2
        || text.parse::<f64>().is_ok()
        || matches!(
            text.to_ascii_uppercase().as_str(),
            "NULL" | "TRUE" | "FALSE" | "CURRENT_TIMESTAMP" | "CURRENT_DATE" | "CURRENT_TIME"
        );
    Ok(if literal { text } else { format!("({text})") })
}

/// One translated piece, and what it is (for casts and IN lists).
#[derive(Debug, Clone)]
struct Item {
    text: String,
    shape: Shape,
}

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// A string literal, with its unquoted content.
    Text(String),
    Number,
    /// `( … )` holding exactly one literal.
    LiteralGroup,
    /// `ARRAY[…]`: the translated elements.
    Array(Vec<String>),
    Other,
}

fn item(text: impl Into<String>, shape: Shape) -> Item {
    Item {
        text: text.into(),
        shape,
    }
}

/// Joins pieces with single spaces, except around `.` and inside parentheses.
fn join(items: &[Item]) -> String {
    let mut out = String::new();
    let mut previous = "";
    for piece in items.iter().map(|i| i.text.as_str()) {
        let tight = previous.is_empty()
            || previous.ends_with('(')
            || previous == "."
            || matches!(piece, "," | ")" | ".");
        if !tight {
            out.push(' ');
        }
        out.push_str(piece);
        previous = piece;
    }
    out
}

struct Translator<'s> {
    schemas: &'s [String],
    pos: usize,
}

impl Translator<'_> {
    /// Translates tokens up to `close` (exclusive, at depth 0) or the end.
    fn sequence(
        &mut self,
        tokens: &[Token<'_>],
        close: Option<&str>,
    ) -> Result<Vec<Item>, Untranslatable> {
        let mut items: Vec<Item> = Vec::new();
        while self.pos < tokens.len() {
            let t = tokens[self.pos];
            if close.is_some_and(|c| t.is(c)) {
                return Ok(items);
            }
            self.pos += 1;
            match t.kind {
                Kind::String => {
                    let content = t.text[1..t.text.len() - 1].replace("''", "'");
                    items.push(item(t.text, Shape::Text(content)));
                }
                Kind::Number => items.push(item(t.text, Shape::Number)),
                Kind::Word if is_keyword(t.text) => self.keyword(tokens, t, &mut items)?,
                Kind::Word | Kind::QuotedIdent => {
                    let name = self.name(tokens, t)?;
                    items.push(name);
                }
                Kind::Punct => self.punct(tokens, t, &mut items)?,
            }
        }
        match close {
            Some(c) => Err(format!("a missing {c:?}")),
            None => Ok(items),
        }
    }

    /// `a.b.c`, or a function call `f(…)` / `pg_catalog.f(…)`: a leading PostgreSQL schema
    /// name is dropped.
    fn name(&mut self, tokens: &[Token<'_>], first: Token<'_>) -> Result<Item, Untranslatable> {
        let mut parts = vec![first.text.to_string()];
        while tokens.get(self.pos).is_some_and(|t| t.is("."))
            && tokens
                .get(self.pos + 1)
                .is_some_and(|t| matches!(t.kind, Kind::Word | Kind::QuotedIdent) || t.is("*"))
        {
            parts.push(tokens[self.pos + 1].text.to_string());
            self.pos += 2;
        }
        if tokens.get(self.pos).is_some_and(|t| t.is("(")) {
            let name = match parts.as_slice() {
                [schema, name] if schema == "pg_catalog" => name.clone(),
                _ => parts.join("."),
            };
            return self.function(tokens, &name);
        }
        if parts.len() >= 2 && self.schemas.iter().any(|s| unquote(&parts[0]) == *s) {
            parts.remove(0);
        }
        Ok(item(parts.join("."), Shape::Other))
    }

    fn keyword(
        &mut self,
        tokens: &[Token<'_>],
        t: Token<'_>,
        items: &mut Vec<Item>,
    ) -> Result<(), Untranslatable> {
        let upper = t.text.to_ascii_uppercase();
        match upper.as_str() {
            "ARRAY" if tokens.get(self.pos).is_some_and(|n| n.is("[")) => {
                self.pos += 1;
                let elements = self.list(tokens, "]")?;
                let text = format!("({})", elements.join(", "));
                items.push(item(text, Shape::Array(elements)));
            }
            "ANY" | "ALL" | "SOME" => {
                let operator = items.pop().map(|i| i.text).unwrap_or_default();
                if !tokens.get(self.pos).is_some_and(|n| n.is("(")) {
                    return Err(format!("{upper} without a list"));
                }
                self.pos += 1;
                let inner = self.sequence(tokens, Some(")"))?;
                self.pos += 1;
                let elements = match inner.as_slice() {
                    [Item {
                        shape: Shape::Array(elements),
                        ..
                    }] => elements.clone(),
                    _ => {
                        return Err(format!(
                            "{operator} {upper} over something other than a list"
                        ))
                    }
                };
                let keyword = match (operator.as_str(), upper.as_str()) {
                    ("=", "ANY" | "SOME") => "IN",
                    ("<>", "ALL") => "NOT IN",
                    _ => return Err(format!("{operator} {upper} (…) has no SQLite equivalent")),
                };
                items.push(item(keyword, Shape::Other));
                items.push(item(format!("({})", elements.join(", ")), Shape::Other));
            }
            "DISTINCT"
                if items
                    .last()
                    .is_some_and(|i| i.text == "IS" || i.text == "IS NOT")
                    && tokens.get(self.pos).is_some_and(|n| n.is("FROM")) =>
            {
                self.pos += 1;
                let negated = items.pop().is_some_and(|i| i.text == "IS NOT");
                items.push(item(if negated { "IS" } else { "IS NOT" }, Shape::Other));
            }
            "NOT" if items.last().is_some_and(|i| i.text == "IS") => {
                items.pop();
                items.push(item("IS NOT", Shape::Other));
            }
            "LOCALTIMESTAMP" | "CURRENT_TIMESTAMP" => {
                items.push(item("CURRENT_TIMESTAMP", Shape::Other))
            }
            "ILIKE" => items.push(item("LIKE", Shape::Other)),
            "SIMILAR" | "OVERLAPS" | "LATERAL" | "TABLESAMPLE" | "ONLY" | "FETCH" => {
                return Err(format!("{upper} has no SQLite equivalent"))
            }
            _ => items.push(item(upper, Shape::Other)),
        }
        Ok(())
    }

    fn punct(
        &mut self,
        tokens: &[Token<'_>],
        t: Token<'_>,
        items: &mut Vec<Item>,
    ) -> Result<(), Untranslatable> {
        match t.text {
            "(" => {
                let inner = self.sequence(tokens, Some(")"))?;
                self.pos += 1;
                let shape = match inner.as_slice() {
                    [only]
                        if matches!(
                            only.shape,
                            Shape::Text(_) | Shape::Number | Shape::LiteralGroup
                        ) =>
                    {
                        Shape::LiteralGroup
                    }
                    [only] if matches!(only.shape, Shape::Array(_)) => only.shape.clone(),
                    _ => Shape::Other,
                };
                items.push(item(format!("({})", join(&inner)), shape));
            }
            "::" => {
                let cast_type = self.type_name(tokens)?;
                let operand = items.pop().ok_or("a cast of nothing")?;
                items.push(cast(operand, &cast_type)?);
            }
            "~~" => items.push(item("LIKE", Shape::Other)),
            "!~~" => items.push(item("NOT LIKE", Shape::Other)),
            "~~*" => items.push(item("LIKE", Shape::Other)),
            "!~~*" => items.push(item("NOT LIKE", Shape::Other)),
            "~" | "!~" | "~*" | "!~*" | "->" | "->>" | "#>" | "#>>" | "@>" | "<@" | "&&" | "["
            | "#" | "^" | "@" | ";" => {
                return Err(format!("the operator {} has no SQLite equivalent", t.text))
            }
            other => items.push(item(other, Shape::Other)),
        }
        Ok(())
    }

    /// Elements up to `close`, split at commas; `self.pos` ends after `close`.
    fn list(&mut self, tokens: &[Token<'_>], close: &str) -> Result<Vec<String>, Untranslatable> {
        let mut elements = Vec::new();
        loop {
            let element = self.sequence_until(tokens, &[",", close])?;
            if !element.is_empty() {
                elements.push(join(&element));
            }
            match tokens.get(self.pos) {
                Some(t) if t.is(",") => self.pos += 1,
                Some(t) if t.is(close) => {
                    self.pos += 1;
                    return Ok(elements);
                }
                _ => return Err(format!("a missing {close:?}")),
            }
        }
    }

    /// Like [`Self::sequence`], stopping at any of `stops` at depth 0.
    fn sequence_until(
        &mut self,
        tokens: &[Token<'_>],
        stops: &[&str],
    ) -> Result<Vec<Item>, Untranslatable> {
        let end = (self.pos..tokens.len())
            .scan(0i32, |depth, i| {
                let t = tokens[i];
                if t.is("(") || t.is("[") {
                    *depth += 1;
                } else if (t.is(")") || t.is("]")) && *depth > 0 {
                    *depth -= 1;
                    return Some((i, false));
                }
                Some((i, *depth == 0 && stops.iter().any(|s| t.is(s))))
            })
            .find(|&(_, stop)| stop)
            .map_or(tokens.len(), |(i, _)| i);
        let mut inner = Translator {
            schemas: self.schemas,
            pos: 0,
        };
        let items = inner.sequence(&tokens[self.pos..end], None)?;
        self.pos = end;
        Ok(items)
    }

    fn function(&mut self, tokens: &[Token<'_>], name: &str) -> Result<Item, Untranslatable> {
        self.pos += 1; // (
        let args = self.list(tokens, ")")?;
        let bare = name.to_ascii_lowercase();
        let call = |f: &str| format!("{f}({})", args.join(", "));
        let text = match bare.as_str() {
            "lower" | "upper" | "length" | "abs" | "coalesce" | "nullif" | "replace" | "substr"
            | "ltrim" | "rtrim" | "count" | "sum" | "avg" | "min" | "max" => call(&bare),
            "round" if args.len() <= 2 => call("round"),
            "char_length" | "character_length" => call("length"),
            "btrim" => call("trim"),
            "strpos" => call("instr"),
            "greatest" => call("max"),
            "least" => call("min"),
            "now" | "statement_timestamp" | "transaction_timestamp" if args.is_empty() => {
                "CURRENT_TIMESTAMP".to_string()
            }
            _ => return Err(format!("function {name}() has no known SQLite equivalent")),
        };
        Ok(item(text, Shape::Other))
    }

    /// The type after `::`: words (`double precision`, `character varying`), an optional
    /// schema, `(n)` and `[]`.
    fn type_name(&mut self, tokens: &[Token<'_>]) -> Result<String, Untranslatable> {
        let mut name = String::new();
        let mut array = false;
        while let Some(t) = tokens.get(self.pos) {
            let word = matches!(t.kind, Kind::Word | Kind::QuotedIdent);
            if word && (name.is_empty() || name.ends_with('.')) {
                name.push_str(t.text);
            } else if word && TYPE_WORDS.iter().any(|w| t.is(w)) {
                name.push(' ');
                name.push_str(t.text);
            } else if t.is(".") && !name.is_empty() {
                name.push('.');
            } else if t.is("(") && !name.is_empty() {
                // A type modifier, `(80)` or `(10,2)`: SQLite ignores sizes.
                while tokens.get(self.pos).is_some_and(|t| !t.is(")")) {
                    self.pos += 1;
                }
            } else if t.is("[") && tokens.get(self.pos + 1).is_some_and(|t| t.is("]")) {
                array = true;
                self.pos += 1;
            } else {
                break;
            }
            self.pos += 1;
        }
        if name.is_empty() {
            return Err("a cast without a type".into());
        }
        Ok(if array { format!("{name}[]") } else { name })
    }
}

/// Words that continue a multi-word type name.
const TYPE_WORDS: &[&str] = &["precision", "varying", "without", "with", "time", "zone"];

fn is_keyword(word: &str) -> bool {
    #[rustfmt::skip]
    const KEYWORDS: &[&str] = &[
        "ALL", "AND", "ANY", "ARRAY", "AS", "ASC", "BETWEEN", "BY", "CASE", "CROSS",
        "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "DESC", "DISTINCT", "ELSE", "END",
        "EXCEPT", "EXISTS", "FALSE", "FETCH", "FILTER", "FIRST", "FROM", "FULL", "GROUP", "HAVING",
        "ILIKE", "IN", "INNER", "INTERSECT", "IS", "JOIN", "LAST", "LATERAL", "LEFT", "LIKE",
        "LIMIT", "LOCALTIMESTAMP", "NATURAL", "NOT", "NULL", "NULLS", "OFFSET", "ON", "ONLY", "OR",
        "ORDER", "OUTER", "OVER", "OVERLAPS", "PARTITION", "RIGHT", "SELECT", "SIMILAR", "SOME",
        "TABLESAMPLE", "THEN", "TRUE", "UNION", "USING", "VALUES", "WHEN", "WHERE", "WINDOW",
        "WITH",
    ];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn unquote(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => name.to_string(),
    }
}

/// `operand::cast_type` in SQLite terms.
fn cast(operand: Item, cast_type: &str) -> Result<Item, Untranslatable> {
    let lower = cast_type.to_ascii_lowercase();
    if lower.ends_with("[]") {
        return match operand.shape {
            Shape::Array(_) => Ok(operand),
            _ => Err(format!("a cast to the array type {cast_type}")),
        };
    }
    let target = types::postgres_to_sqlite(&lower).map(|m| m.to);
    let numeric = matches!(target.as_deref(), Some(t) if t == "INTEGER" || t == "REAL" || t.starts_with("NUMERIC"));
    match (&operand.shape, target.as_deref()) {
        (Shape::Number | Shape::LiteralGroup, _) => Ok(operand),
        (Shape::Text(content), _) if numeric && content.parse::<f64>().is_ok() => {
            Ok(item(content.clone(), Shape::Number))
        }
        (Shape::Text(content), Some("BOOLEAN")) => match content.to_ascii_lowercase().as_str() {
            "t" | "true" => Ok(item("1", Shape::Number)),
            "f" | "false" => Ok(item("0", Shape::Number)),
            _ => Err(format!("{content:?} is not a boolean")),
        },
        // A literal keeps its text: TEXT, dates and times, enum labels.
        (Shape::Text(_), _) => Ok(operand),
        (_, Some(t @ ("TEXT" | "INTEGER" | "REAL" | "BLOB"))) => {
            Ok(item(format!("CAST({} AS {t})", operand.text), Shape::Other))
        }
        (_, Some(t)) if t.starts_with("VARCHAR") || t.starts_with("CHAR") => Ok(item(
            format!("CAST({} AS TEXT)", operand.text),
            Shape::Other,
        )),
        (_, Some(t)) if t.starts_with("NUMERIC") => Ok(item(
            format!("CAST({} AS NUMERIC)", operand.text),
            Shape::Other,
        )),
        _ => Err(format!("a cast to {cast_type} (SQLite has no such type)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(sql: &str) -> String {
        expression(sql, &["public".into()]).unwrap()
    }

    #[test]
    fn deparsed_checks_become_sqlite_expressions() {
        assert_eq!(sqlite("((c >= ('-1'::integer)::numeric))"), "((c >= (-1)))");
        assert_eq!(
            sqlite("(status = ANY (ARRAY['new'::text, 'paid'::text]))"),
            "(status IN ('new', 'paid'))"
        );
        assert_eq!(
            sqlite("((kind)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))"),
            "(CAST((kind) AS TEXT) IN ('a', 'b'))"
        );
        assert_eq!(sqlite("(email ~~ '%@%'::text)"), "(email LIKE '%@%')");
        assert_eq!(sqlite("(a IS DISTINCT FROM b)"), "(a IS NOT b)");
        assert_eq!(
            sqlite("(length(btrim(name)) > 0)"),
            "(length(trim(name)) > 0)"
        );
        assert_eq!(
            sqlite("((price)::integer > 0)"),
            "(CAST((price) AS INTEGER) > 0)"
        );
    }

    #[test]
    fn queries_lose_schema_qualifiers() {
        assert_eq!(
            sqlite(" SELECT o.id,\n    sum(i.q) AS total\n   FROM (public.\"order\" o\n     JOIN public.item i ON ((i.o = o.id)))\n  GROUP BY o.id;"),
            "SELECT o.id, sum(i.q) AS total FROM (\"order\" o JOIN item i ON ((i.o = o.id))) GROUP BY o.id"
        );
    }

    #[test]
    fn what_sqlite_lacks_fails() {
        for bad in [
            "(name ~ '^a'::text)",
            "(created)::date",
            "gen_random_uuid()",
            "(tags @> ARRAY['a'::text])",
            "E'a\\nb'",
            "public.my_function(a)",
        ] {
            assert!(expression(bad, &["public".into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_are_literals_or_parenthesized() {
        let schemas = ["public".to_string()];
        assert_eq!(default_value("'new'::text", &schemas).unwrap(), "'new'");
        assert_eq!(default_value("'-1'::integer", &schemas).unwrap(), "-1");
        assert_eq!(
            default_value("now()", &schemas).unwrap(),
            "CURRENT_TIMESTAMP"
        );
        assert_eq!(default_value("true", &schemas).unwrap(), "TRUE");
        assert_eq!(default_value("(1 + 2)", &schemas).unwrap(), "((1 + 2))");
        assert!(default_value("nextval('s'::regclass)", &schemas).is_err());
        assert_eq!(
            default_value(
                "to_char((now() AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD HH24:MI:SS'::text)",
                &schemas
            )
            .unwrap(),
            "(datetime('now'))"
        );
    }
}
