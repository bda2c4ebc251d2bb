//! SQLite expressions and queries → PostgreSQL, over SQLite's own tokens
//! (`engine::sqlite::lexer`).
//!
//! This is a translator, not a parser: it walks the tokens and rewrites what differs —
//! quoting (`[x]`, `` `x` `` and bare names become PostgreSQL identifiers in the spelling the
//! schema declares, since SQLite names are case-insensitive and PostgreSQL's quoted names are
//! not), operators (`==`, `IS`, `LIKE` → `ILIKE`), literals (blobs, hexadecimal integers, 0/1
//! compared with a boolean column), `CAST` types, a known set of functions (`ifnull` →
//! `coalesce`, `datetime('now')`, …) and, in view queries, the relations a `FROM` or `JOIN`
//! names (qualified with the target schema). Anything it does not know — an unknown function,
//! `GLOB`, `strftime`, JSON operators, `rowid` — makes the translation fail with the reason,
//! so the object is reported, never emitted wrong. The target server is the final judge: a
//! converted schema is validated by loading it there.

use std::collections::HashMap;

use super::functions::{self, clock_reading, clock_text, typed_clock};
use super::types::{self, ValueKind};
use crate::engine::postgres::migrate::PostgresDialect;
use crate::engine::sqlite::lexer::{self, Token, TokenKind};
use crate::engine::Dialect;

/// Why a translation is impossible; becomes the reason of an `omitted` report entry.
pub type Untranslatable = String;

/// A PostgreSQL identifier, quoted only when it needs to be.
pub fn pg_ident(name: &str) -> String {
    PostgresDialect.quote_ident(name)
}

/// Translated SQL and the remarks worth reporting (a `LIKE` that became `ILIKE`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub sql: String,
    pub notes: Vec<String>,
}

/// The names an expression or query may use. SQLite names are case-insensitive, so every
/// lookup is by lowercase name and gives the declared spelling.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    namespace: String,
    relations: HashMap<String, String>,
    all_columns: HashMap<String, (String, ValueKind)>,
    /// The columns of the table an expression belongs to (empty for queries).
    columns: HashMap<String, (String, ValueKind)>,
}

impl Scope {
    /// `namespace` is the PostgreSQL schema relations are created in.
    pub fn new(namespace: &str) -> Scope {
        Scope {
            namespace: namespace.to_string(),
            ..Scope::default()
        }
    }

    pub fn add_relation(&mut self, name: &str) {
        self.relations
            .entry(name.to_lowercase())
            .or_insert_with(|| name.to_string());
    }

    pub fn add_column(&mut self, name: &str, kind: ValueKind) {
        self.all_columns
            .entry(name.to_lowercase())
            .or_insert_with(|| (name.to_string(), kind));
    }

    /// The scope of one table's expressions: its own columns come first.
    pub fn for_table<'a>(&self, columns: impl Iterator<Item = (&'a str, ValueKind)>) -> Scope {
        let mut scope = self.clone();
        scope.columns = columns
            .map(|(name, kind)| (name.to_lowercase(), (name.to_string(), kind)))
            .collect();
        scope
    }

    fn column(&self, name: &str) -> Option<&(String, ValueKind)> {
        let key = name.to_lowercase();
        self.columns
            .get(&key)
            .or_else(|| self.all_columns.get(&key))
    }
}

/// Translates an expression (CHECK, index key or predicate, generated column).
pub fn expression(sql: &str, scope: &Scope) -> Result<Translation, Untranslatable> {
    let tokens = lexer::tokenize(sql).map_err(|e| format!("cannot read {sql:?}: {e}"))?;
    translate(&tokens, scope)
}

/// Translates a token slice of an expression or query.
pub fn translate(tokens: &[Token<'_>], scope: &Scope) -> Result<Translation, Untranslatable> {
    let mut translator = Translator::new(scope);
    translator.run(tokens)?;
    Ok(Translation {
        sql: translator.out,
        notes: translator.notes,
    })
}

/// Translates a column DEFAULT as SQLite stores it (a literal, a signed number or
/// `(expr)`) for a column holding `kind`; `None` when the default is NULL (no default).
pub fn default_value(
    sql: &str,
    kind: ValueKind,
    scope: &Scope,
) -> Result<Option<Translation>, Untranslatable> {
    let tokens = lexer::tokenize(sql).map_err(|e| format!("cannot read {sql:?}: {e}"))?;
    let tokens = unwrap_parentheses(&tokens);
    if let [only] = tokens {
        if only.is_keyword("NULL") {
            return Ok(None);
        }
        if kind == ValueKind::Boolean && only.kind == TokenKind::Number {
            let value = match only.text {
                "0" => "false",
                "1" => "true",
                other => return Err(format!("{other} is not a boolean (0 or 1)")),
            };
            return Ok(Some(Translation {
                sql: value.into(),
                notes: vec![format!("SQLite's {} is {value}", only.text)],
            }));
        }
    }
    if kind.is_temporal() && clock_reading(tokens).is_some() {
        return Ok(Some(Translation {
            sql: typed_clock(kind).to_string(),
            notes: vec![format!(
                "{} reads SQLite's clock in UTC; the default reads PostgreSQL's in UTC too",
                lexer::join(tokens)
            )],
        }));
    }
    translate(tokens, scope).map(Some)
}

/// Without the parentheses that enclose the whole token list (as in `DEFAULT (expr)`).
pub fn unwrap_parentheses<'t, 'a>(mut tokens: &'t [Token<'a>]) -> &'t [Token<'a>] {
    while tokens.len() >= 2
        && tokens[0].is_punct("(")
        && matching_paren(tokens, 0) == Some(tokens.len() - 1)
    {
        tokens = &tokens[1..tokens.len() - 1];
    }
    tokens
}

/// The index of the `)` closing the `(` at `open`.
pub fn matching_paren(tokens: &[Token<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Splits tokens at the commas outside parentheses.
pub fn split_top_level<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth -= 1;
        } else if t.is_punct(",") && depth == 0 {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    if start < tokens.len() || !parts.is_empty() {
        parts.push(&tokens[start..]);
    }
    parts
}

/// Words that are always keywords in an expression or query.
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "ALL", "AND", "AS", "ASC", "BETWEEN", "BY", "CASE", "CROSS", "DESC", "DISTINCT", "ELSE", "END",
    "ESCAPE", "EXCEPT", "EXISTS", "FALSE", "FROM", "FULL", "GROUP", "HAVING", "IN", "INNER",
    "INTERSECT", "IS", "JOIN", "LEFT", "LIMIT", "NATURAL", "NOT", "NULL", "OFFSET", "ON", "OR",
    "ORDER", "OUTER", "RIGHT", "SELECT", "THEN", "TRUE", "UNION", "USING", "VALUES", "WHEN",
    "WHERE", "WITH",
];

/// Words that are keywords only where they are not the name of a column or relation.
#[rustfmt::skip]
const SOFT_KEYWORDS: &[&str] = &[
    "CURRENT", "EXCLUDE", "FILTER", "FIRST", "FOLLOWING", "GROUPS", "LAST", "NO", "NULLS",
    "OTHERS", "OVER", "PARTITION", "PRECEDING", "RANGE", "RECURSIVE", "ROW", "ROWS", "TIES",
    "UNBOUNDED", "WINDOW",
];

/// Keywords after which a query's `FROM` list is over.
#[rustfmt::skip]
const FROM_ENDS: &[&str] = &[
    "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW", "UNION", "INTERSECT", "EXCEPT",
    "SELECT", "VALUES",
];

/// Where a boolean column's comparison stands, to turn SQLite's 0/1 into false/true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boolean {
    None,
    AfterColumn,
    /// `NOT` after the column: `NOT IN` may follow.
    Negated,
    AfterOperator,
    ExpectList,
    InList,
}

struct Translator<'s> {
    scope: &'s Scope,
    out: String,
    notes: Vec<String>,
    /// Per parenthesis depth: inside a `FROM` list.
    in_from: Vec<bool>,
    expect_relation: bool,
    boolean: Boolean,
}

impl<'s> Translator<'s> {
    fn new(scope: &'s Scope) -> Translator<'s> {
        Translator {
            scope,
            out: String::new(),
            notes: Vec::new(),
            in_from: vec![false],
            expect_relation: false,
            boolean: Boolean::None,
        }
    }

    fn emit(&mut self, space: bool, text: &str) {
        if space && !self.out.is_empty() {
            self.out.push(' ');
        }
        self.out.push_str(text);
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Translates a sub-list on its own (a function argument), with the same scope.
    fn sub(&mut self, tokens: &[Token<'_>]) -> Result<String, Untranslatable> {
        let mut inner = Translator::new(self.scope);
        inner.run(tokens)?;
        for note in inner.notes {
            self.note(note);
        }
        Ok(inner.out)
    }

    fn run(&mut self, tokens: &[Token<'_>]) -> Result<(), Untranslatable> {
        let mut i = 0;
        while i < tokens.len() {
            let before = self.boolean;
            i = self.step(tokens, i)?;
            if self.boolean == before && !matches!(before, Boolean::InList | Boolean::None) {
                self.boolean = Boolean::None;
            }
        }
        Ok(())
    }

    fn step(&mut self, tokens: &[Token<'_>], i: usize) -> Result<usize, Untranslatable> {
        let t = tokens[i];
        let space = t.space_before;
        if self.expect_relation && t.is_name() && !t.is_punct("(") {
            return self.relation(tokens, i);
        }
        match t.kind {
            TokenKind::String => self.emit(space, t.text),
            TokenKind::Blob => {
                let hex = &t.text[2..t.text.len() - 1];
                self.emit(space, &format!("'\\x{}'::bytea", hex.to_ascii_lowercase()));
            }
            TokenKind::Number => {
                let number = number(t.text)?;
                let boolean = match (self.boolean, number.as_str()) {
                    (Boolean::AfterOperator | Boolean::InList, "0") => Some("false"),
                    (Boolean::AfterOperator | Boolean::InList, "1") => Some("true"),
                    _ => None,
                };
                if self.boolean == Boolean::AfterOperator {
                    self.boolean = Boolean::None;
                }
                self.emit(space, boolean.unwrap_or(&number));
            }
            TokenKind::Variable => return Err(format!("a bound parameter ({})", t.text)),
            TokenKind::QuotedIdent => return Ok(self.identifier(tokens, i)),
            TokenKind::Word => return self.word(tokens, i),
            TokenKind::Punct if t.text == "->" || t.text == "->>" => {
                return Err(format!(
                    "SQLite's JSON operator {} has no equivalent",
                    t.text
                ))
            }
            TokenKind::Punct => self.punct(t),
        }
        Ok(i + 1)
    }

    fn punct(&mut self, t: Token<'_>) {
        let space = t.space_before;
        match t.text {
            "==" | "=" | "!=" | "<>" => {
                if self.boolean == Boolean::AfterColumn {
                    self.boolean = Boolean::AfterOperator;
                }
                self.emit(space, if t.text == "==" { "=" } else { t.text });
                return;
            }
            "(" => {
                self.in_from.push(false);
                self.expect_relation = false;
                if self.boolean == Boolean::ExpectList {
                    self.boolean = Boolean::InList;
                }
            }
            ")" => {
                if self.in_from.len() > 1 {
                    self.in_from.pop();
                }
                if self.boolean == Boolean::InList {
                    self.boolean = Boolean::None;
                }
            }
            "," if self.in_from.last() == Some(&true) => self.expect_relation = true,
            _ => {}
        }
        self.emit(space, t.text);
    }

    fn word(&mut self, tokens: &[Token<'_>], i: usize) -> Result<usize, Untranslatable> {
        let t = tokens[i];
        let space = t.space_before;
        let upper = t.text.to_ascii_uppercase();
        let called = tokens.get(i + 1).is_some_and(|n| n.is_punct("("));
        match upper.as_str() {
            "CAST" if called => return self.cast(tokens, i),
            "LIKE" => {
                self.note("SQLite's LIKE ignores the case of ASCII letters: ILIKE".into());
                self.emit(space, "ILIKE");
            }
            "GLOB" | "REGEXP" | "MATCH" => {
                return Err(format!("{upper} has no PostgreSQL equivalent"))
            }
            "RAISE" => return Err("RAISE only exists in SQLite triggers".into()),
            "IS" => return Ok(self.is(tokens, i)),
            "ISNULL" => self.emit(space, "IS NULL"),
            "NOTNULL" => self.emit(space, "IS NOT NULL"),
            "COLLATE" => return self.collate(tokens, i),
            "CURRENT_TIMESTAMP" | "CURRENT_DATE" | "CURRENT_TIME" => {
                let function = clock_reading(&tokens[i..=i]).unwrap_or("datetime");
                self.clock(space, &upper, function);
            }
            "IN" if matches!(self.boolean, Boolean::AfterColumn | Boolean::Negated) => {
                self.boolean = Boolean::ExpectList;
                self.emit(space, "IN");
            }
            "NOT" if self.boolean == Boolean::AfterColumn => {
                self.boolean = Boolean::Negated;
                self.emit(space, "NOT");
            }
            _ if KEYWORDS.contains(&upper.as_str()) => {
                self.keyword(&upper);
                self.emit(space, &upper);
            }
            _ if SOFT_KEYWORDS.contains(&upper.as_str())
                && self.scope.column(t.text).is_none()
                && !self.scope.relations.contains_key(&t.text.to_lowercase()) =>
            {
                self.emit(space, &upper);
            }
            _ if called => return self.function(tokens, i),
            _ => return Ok(self.identifier(tokens, i)),
        }
        Ok(i + 1)
    }

    /// Tracks the FROM list of a query.
    fn keyword(&mut self, upper: &str) {
        let depth = self.in_from.len() - 1;
        if upper == "FROM" || upper == "JOIN" {
            self.in_from[depth] = true;
            self.expect_relation = true;
        } else if FROM_ENDS.contains(&upper) {
            self.in_from[depth] = false;
        }
    }

    fn clock(&mut self, space: bool, written: &str, function: &str) {
        self.note(format!(
            "{written} is SQLite's clock in UTC as text: to_char() of PostgreSQL's clock in UTC"
        ));
        self.emit(space, &clock_text(function));
    }

    /// A name (column, alias, or the qualifier of `x.column`).
    fn identifier(&mut self, tokens: &[Token<'_>], i: usize) -> usize {
        let t = tokens[i];
        let name = t.name();
        let qualifies = tokens.get(i + 1).is_some_and(|n| n.is_punct("."));
        let after_dot = i > 0 && tokens[i - 1].is_punct(".");
        let spelled = if qualifies {
            self.scope
                .relations
                .get(&name.to_lowercase())
                .cloned()
                .unwrap_or_else(|| name.to_lowercase())
        } else {
            match self.scope.column(&name) {
                Some((spelling, kind)) => {
                    self.boolean = if *kind == ValueKind::Boolean {
                        Boolean::AfterColumn
                    } else {
                        Boolean::None
                    };
                    spelling.clone()
                }
                None => self
                    .scope
                    .relations
                    .get(&name.to_lowercase())
                    .cloned()
                    .unwrap_or_else(|| name.to_lowercase()),
            }
        };
        self.emit(t.space_before && !after_dot, &pg_ident(&spelled));
        i + 1
    }

    /// A relation named by FROM or JOIN: qualified with the target schema.
    fn relation(&mut self, tokens: &[Token<'_>], i: usize) -> Result<usize, Untranslatable> {
        self.expect_relation = false;
        let space = tokens[i].space_before;
        let mut i = i;
        // `main.t` / `temp.t`: SQLite's database names have no meaning in PostgreSQL.
        if tokens.get(i + 1).is_some_and(|n| n.is_punct("."))
            && tokens.get(i + 2).is_some_and(|n| n.is_name())
        {
            i += 2;
        }
        let t = tokens[i];
        if tokens.get(i + 1).is_some_and(|n| n.is_punct("(")) {
            return Err(format!(
                "the table-valued function {}() has no PostgreSQL equivalent",
                t.text
            ));
        }
        let name = t.name();
        let text = match self.scope.relations.get(&name.to_lowercase()) {
            Some(spelling) => format!("{}.{}", pg_ident(&self.scope.namespace), pg_ident(spelling)),
            // A common table expression.
            None => pg_ident(&name.to_lowercase()),
        };
        self.emit(space, &text);
        Ok(i + 1)
    }

    /// `IS [NOT] x`: SQLite's IS compares like IS [NOT] DISTINCT FROM.
    fn is(&mut self, tokens: &[Token<'_>], i: usize) -> usize {
        let space = tokens[i].space_before;
        let negated = tokens.get(i + 1).is_some_and(|t| t.is_keyword("NOT"));
        let operand = tokens.get(i + 1 + usize::from(negated));
        let plain = operand.is_some_and(|t| {
            ["NULL", "TRUE", "FALSE", "DISTINCT"]
                .iter()
                .any(|k| t.is_keyword(k))
        });
        let text = match (plain, negated) {
            (true, false) => "IS",
            (true, true) => "IS NOT",
            (false, false) => "IS NOT DISTINCT FROM",
            (false, true) => "IS DISTINCT FROM",
        };
        if !plain {
            self.note(format!(
                "SQLite's {} compares like {text}",
                if negated { "IS NOT" } else { "IS" }
            ));
        }
        self.emit(space, text);
        i + 1 + usize::from(negated)
    }

    fn collate(&mut self, tokens: &[Token<'_>], i: usize) -> Result<usize, Untranslatable> {
        let Some(name) = tokens.get(i + 1) else {
            return Err("COLLATE without a collation name".into());
        };
        if name.name().eq_ignore_ascii_case("BINARY") {
            self.emit(tokens[i].space_before, "COLLATE \"C\"");
            return Ok(i + 2);
        }
        Err(format!(
            "COLLATE {} in an expression has no PostgreSQL equivalent",
            name.name().to_ascii_uppercase()
        ))
    }

    /// `CAST(expr AS type)` with the type mapped.
    fn cast(&mut self, tokens: &[Token<'_>], i: usize) -> Result<usize, Untranslatable> {
        let close = matching_paren(tokens, i + 1).ok_or("unbalanced parentheses in CAST")?;
        let inner = &tokens[i + 2..close];
        let as_at = inner
            .iter()
            .rposition(|t| t.is_keyword("AS"))
            .ok_or("CAST without AS")?;
        let operand = self.sub(&inner[..as_at])?;
        let declared = lexer::join(&inner[as_at + 1..]);
        let mapped = types::sqlite_to_postgres(&declared).to;
        self.emit(
            tokens[i].space_before,
            &format!("CAST({operand} AS {mapped})"),
        );
        Ok(close + 1)
    }

    fn function(&mut self, tokens: &[Token<'_>], i: usize) -> Result<usize, Untranslatable> {
        let t = tokens[i];
        let close = matching_paren(tokens, i + 1)
            .ok_or_else(|| format!("unbalanced parentheses after {}", t.text))?;
        let inner = &tokens[i + 2..close];
        if let Some(function) = clock_reading(&tokens[i..=close]) {
            self.clock(t.space_before, &lexer::join(&tokens[i..=close]), function);
            return Ok(close + 1);
        }
        let mut args = Vec::new();
        for arg in split_top_level(inner) {
            args.push(self.sub(arg)?);
        }
        let (text, note) = functions::call(&t.name(), &args)?;
        if let Some(note) = note {
            self.note(note);
        }
        self.emit(t.space_before, &text);
        Ok(close + 1)
    }
}

/// A numeric literal as PostgreSQL 15 reads it: hexadecimal in decimal, no digit separators.
fn number(text: &str) -> Result<String, Untranslatable> {
    let plain = text.replace('_', "");
    if let Some(hex) = plain
        .strip_prefix("0x")
        .or_else(|| plain.strip_prefix("0X"))
    {
        let value = u64::from_str_radix(hex, 16)
            .map_err(|_| format!("hexadecimal literal {text} does not fit 64 bits"))?;
        // SQLite reads hexadecimal literals as two's-complement 64-bit integers.
        return Ok((value as i64).to_string());
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut scope = Scope::new("public");
        for relation in ["order", "Customer", "order_total"] {
            scope.add_relation(relation);
        }
        scope.add_column("Email", ValueKind::Text { max_chars: None });
        scope.add_column("total", ValueKind::Numeric);
        scope.for_table(
            [
                ("status", ValueKind::Text { max_chars: None }),
                ("Active", ValueKind::Boolean),
                ("credit", ValueKind::Numeric),
            ]
            .into_iter(),
        )
    }

    fn pg(sql: &str) -> String {
        expression(sql, &scope()).unwrap().sql
    }

    #[test]
    fn names_take_their_declared_spelling_and_postgres_quoting() {
        assert_eq!(pg("[STATUS] <> 'x'"), "status <> 'x'");
        assert_eq!(pg("`email` == 'a'"), "\"Email\" = 'a'");
        assert_eq!(pg("\"Order\".credit > 0"), "\"order\".credit > 0");
        assert_eq!(pg("SomeAlias.x"), "somealias.x");
    }

    #[test]
    fn operators_and_literals() {
        assert_eq!(pg("status IN ('new', 'paid')"), "status IN ('new', 'paid')");
        assert_eq!(pg("credit >= -1"), "credit >= -1");
        assert_eq!(pg("credit = 0x1F"), "credit = 31");
        assert_eq!(pg("x'0A' IS NOT NULL"), "'\\x0a'::bytea IS NOT NULL");
        assert_eq!(pg("status IS 'a'"), "status IS NOT DISTINCT FROM 'a'");
        assert_eq!(pg("status IS NOT NULL"), "status IS NOT NULL");
        assert_eq!(pg("status NOTNULL"), "status IS NOT NULL");
        let like = expression("status LIKE 'a%'", &scope()).unwrap();
        assert_eq!(like.sql, "status ILIKE 'a%'");
        assert_eq!(like.notes.len(), 1);
        assert_eq!(
            pg("CAST(credit AS INTEGER) > 2"),
            "CAST(credit AS bigint) > 2"
        );
        assert_eq!(
            pg("status || ' (' || credit || ')'"),
            "status || ' (' || credit || ')'"
        );
    }

    #[test]
    fn boolean_columns_compare_with_false_and_true() {
        assert_eq!(pg("Active IN (0, 1)"), "\"Active\" IN (false, true)");
        assert_eq!(
            pg("active = 1 AND credit = 1"),
            "\"Active\" = true AND credit = 1"
        );
        assert_eq!(pg("active NOT IN (0)"), "\"Active\" NOT IN (false)");
    }

    #[test]
    fn functions_map_or_fail_with_a_reason() {
        assert_eq!(pg("ifnull(credit, 0) > 1"), "coalesce(credit, 0) > 1");
        assert_eq!(pg("length(trim(status)) > 0"), "length(trim(status)) > 0");
        assert_eq!(pg("max(credit, 1)"), "greatest(credit, 1)");
        assert_eq!(pg("instr(status, 'a')"), "strpos(status, 'a')");
        assert_eq!(
            pg("datetime('now')"),
            "to_char((now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS')"
        );
        for bad in [
            "strftime('%Y', 'now')",
            "json_extract(status, '$.a')",
            "status GLOB 'a*'",
            "status -> 'a'",
            "datetime(credit, 'unixepoch')",
            "status COLLATE NOCASE = 'a'",
            "status = ?",
        ] {
            assert!(expression(bad, &scope()).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn defaults_follow_the_column_type() {
        let kind = ValueKind::Text { max_chars: None };
        let text = default_value("(datetime('now'))", kind, &scope())
            .unwrap()
            .unwrap();
        assert!(text.sql.starts_with("to_char("), "{}", text.sql);
        let typed = default_value("CURRENT_TIMESTAMP", ValueKind::Timestamp, &scope())
            .unwrap()
            .unwrap();
        assert_eq!(typed.sql, "(now() AT TIME ZONE 'UTC')");
        let boolean = default_value("1", ValueKind::Boolean, &scope())
            .unwrap()
            .unwrap();
        assert_eq!(boolean.sql, "true");
        assert!(default_value("2", ValueKind::Boolean, &scope()).is_err());
        assert_eq!(default_value("NULL", kind, &scope()).unwrap(), None);
        let negative = default_value("-1", ValueKind::Numeric, &scope())
            .unwrap()
            .unwrap();
        assert_eq!(negative.sql, "-1");
    }

    #[test]
    fn queries_qualify_the_relations_they_read() {
        let query = "SELECT o.id AS Order_Id, sum(total) FROM \"order\" o \
                     JOIN customer c ON c.email = o.email, main.order_total t \
                     WHERE o.status LIKE 'x' GROUP BY o.id";
        let tokens = lexer::tokenize(query).unwrap();
        let sql = translate(&tokens, &scope()).unwrap().sql;
        assert_eq!(
            sql,
            "SELECT o.id AS order_id, sum(total) FROM public.\"order\" o JOIN public.\"Customer\" \
             c ON c.\"Email\" = o.\"Email\", public.order_total t WHERE o.status ILIKE 'x' \
             GROUP BY o.id"
        );
        let sub = lexer::tokenize("SELECT x FROM (SELECT 1 AS x) s").unwrap();
        assert_eq!(
            translate(&sub, &scope()).unwrap().sql,
            "SELECT x FROM (SELECT 1 AS x) s"
        );
    }
}
