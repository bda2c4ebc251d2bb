//! The rules file: which transform masks each column, and which rows of a table to keep.
//!
//! TOML, either a file of its own (`sanitize.toml`) or the `[sanitize]` section of a
//! `strata.toml`. `docs/SANITIZE.md` documents the syntax; in short:
//!
//! ```toml
//! [tables.customer]                      # bare name, or "schema.table"
//! where = "create_date > now() - interval '1 year'"
//! [tables.customer.columns]
//! first_name = { fake = "first_name" }
//! email      = { fake = "email" }
//! notes      = "null"
//! token      = "hash"
//! profile    = { json = { "$.phone" = { fake = "phone" }, "$.ssn" = "remove" } }
//! ```
//!
//! This module only reads and checks the syntax, reporting the file, line and column of every
//! mistake; whether the named tables and columns exist, and whether a transform fits its
//! column, is decided against a schema in [`super::resolve`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::json::JsonPath;
use crate::error::{Error, Result};

/// A parsed rules file.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Where the rules came from, for messages.
    pub origin: String,
    pub tables: Vec<TableRules>,
}

/// The rules of one table.
#[derive(Debug, Clone)]
pub struct TableRules {
    /// As written: `schema.table` or a bare table name.
    pub name: String,
    pub at: Location,
    /// SQL condition on the table's rows (`where = "…"`): rows that fail it are dropped unless
    /// a kept row references them.
    pub filter: Option<String>,
    pub columns: Vec<ColumnRule>,
}

/// The transform of one column.
#[derive(Debug, Clone)]
pub struct ColumnRule {
    pub column: String,
    pub at: Location,
    pub transform: Transform,
}

/// A position in the rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub origin: String,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)
    }
}

/// How a value is masked.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// Copied as it is.
    Keep,
    /// Replaced by NULL.
    Null,
    /// Replaced by the same value in every row.
    Fixed(Fixed),
    /// A keyed hash that fits the column's type (token, integer, uuid, bytes).
    Hash,
    /// A realistic made-up value seeded by the keyed hash of the original.
    Fake(FakeKind),
    /// The column's values permuted among blocks of `window` rows.
    Shuffle { window: usize },
    /// The value moved by a deterministic amount within ± the spread.
    Range(Spread),
    /// Paths inside a JSON document, each with its own action.
    Json(Vec<(JsonPath, JsonAction)>),
}

/// What happens at a JSON path.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonAction {
    /// The member or element is removed from the document.
    Remove,
    /// The value is masked like a column value (`null`, `fixed`, `hash`, `fake`, `range`).
    Mask(Transform),
}

/// A constant value.
#[derive(Debug, Clone, PartialEq)]
pub enum Fixed {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// A table or array, for JSON paths.
    Json(serde_json::Value),
}

/// How far `range` may move a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// For numbers: ± this amount.
    Number(f64),
    /// For dates and timestamps: ± this many seconds.
    Seconds(i64),
}

/// The kinds of fake values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FakeKind {
    Email,
    Name,
    FirstName,
    LastName,
    Username,
    Phone,
    Address,
    City,
    PostalCode,
    Company,
    Text,
    Ip,
    Format,
}

impl FakeKind {
    /// Every kind with its name in the rules file.
    pub const ALL: [(&'static str, FakeKind); 13] = [
        ("email", FakeKind::Email),
        ("name", FakeKind::Name),
        ("first_name", FakeKind::FirstName),
        ("last_name", FakeKind::LastName),
        ("username", FakeKind::Username),
        ("phone", FakeKind::Phone),
        ("address", FakeKind::Address),
        ("city", FakeKind::City),
        ("postal_code", FakeKind::PostalCode),
        ("company", FakeKind::Company),
        ("text", FakeKind::Text),
        ("ip", FakeKind::Ip),
        ("format", FakeKind::Format),
    ];

    pub fn name(self) -> &'static str {
        FakeKind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether distinct originals give distinct fakes (up to a negligible hash collision),
    /// so the kind may mask a unique column.
    pub fn stays_unique(self) -> bool {
        matches!(self, FakeKind::Email | FakeKind::Username)
    }
}

impl Transform {
    /// The rule's name as written, for messages.
    pub fn describe(&self) -> String {
        match self {
            Transform::Keep => "keep".into(),
            Transform::Null => "null".into(),
            Transform::Fixed(_) => "fixed".into(),
            Transform::Hash => "hash".into(),
            Transform::Fake(kind) => format!("fake = \"{}\"", kind.name()),
            Transform::Shuffle { .. } => "shuffle".into(),
            Transform::Range(_) => "range".into(),
            Transform::Json(_) => "json".into(),
        }
    }
}

/// Rows of a shuffle block unless the rule says otherwise.
pub const DEFAULT_SHUFFLE_WINDOW: usize = 4096;
const MAX_SHUFFLE_WINDOW: usize = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    tables: BTreeMap<String, Spanned<RawTable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(rename = "where", default)]
    filter: Option<Spanned<String>>,
    #[serde(default)]
    columns: BTreeMap<String, Spanned<toml::Value>>,
}

/// `strata.toml`: other sections belong to other commands.
#[derive(Deserialize)]
struct RawConfig {
    sanitize: RawRules,
}

impl Rules {
    /// Reads a rules file.
    pub fn load(path: &Path) -> Result<Rules> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Rules::parse(&text, &path.display().to_string())
    }

    /// Parses rules text; `origin` names it in messages. A document with a top-level
    /// `[sanitize]` table is a `strata.toml` and only that section is read.
    pub fn parse(text: &str, origin: &str) -> Result<Rules> {
        let at = |span: std::ops::Range<usize>| location(text, origin, span.start);
        let syntax = |e: toml::de::Error| {
            let place = e.span().map(|s| at(s).to_string());
            Error::SchemaFile {
                path: place.unwrap_or_else(|| origin.to_string()),
                line: None,
                column: None,
                message: e.message().trim().replace('\n', " "),
            }
        };
        let document: toml::Table = toml::from_str(text).map_err(syntax)?;
        let raw = if document.contains_key("sanitize") {
            toml::from_str::<RawConfig>(text).map_err(syntax)?.sanitize
        } else {
            toml::from_str::<RawRules>(text).map_err(syntax)?
        };
        let mut tables = Vec::new();
        for (name, table) in raw.tables {
            let table_at = at(table.span());
            let table = table.into_inner();
            let mut columns = Vec::new();
            for (column, value) in table.columns {
                let column_at = at(value.span());
                let transform = parse_transform(value.get_ref(), false).map_err(|message| {
                    rule_error(&column_at, &format!("{name}.{column}: {message}"))
                })?;
                columns.push(ColumnRule {
                    column,
                    at: column_at,
                    transform,
                });
            }
            let filter = match table.filter {
                Some(f) if f.get_ref().trim().is_empty() => {
                    return Err(rule_error(
                        &at(f.span()),
                        &format!("{name}: `where` is empty — remove it to keep every row"),
                    ))
                }
                Some(f) => Some(f.into_inner()),
                None => None,
            };
            tables.push(TableRules {
                name,
                at: table_at,
                filter,
                columns,
            });
        }
        Ok(Rules {
            origin: origin.to_string(),
            tables,
        })
    }
}

fn rule_error(at: &Location, message: &str) -> Error {
    Error::SchemaFile {
        path: at.origin.clone(),
        line: Some(at.line),
        column: Some(at.column),
        message: message.to_string(),
    }
}

/// 1-based line and column of a byte offset.
fn location(text: &str, origin: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Location {
        origin: origin.to_string(),
        line,
        column,
    }
}

const EXPECTED: &str = "expected \"keep\", \"null\", \"hash\", \"shuffle\", { fixed = VALUE }, \
                        { fake = KIND }, { range = AMOUNT }, { shuffle = { window = ROWS } } or \
                        { json = { PATH = RULE, … } }";

/// One rule: a word, or a table with exactly one transform key. Inside `json`, paths take
/// the same rules (but neither `shuffle` nor `json`) and also `"remove"`.
fn parse_transform(value: &toml::Value, in_json: bool) -> std::result::Result<Transform, String> {
    match value {
        toml::Value::String(word) => match word.as_str() {
            "keep" => Ok(Transform::Keep),
            "null" => Ok(Transform::Null),
            "hash" => Ok(Transform::Hash),
            "shuffle" if !in_json => Ok(Transform::Shuffle {
                window: DEFAULT_SHUFFLE_WINDOW,
            }),
            other => Err(format!("unknown rule \"{other}\" — {EXPECTED}")),
        },
        toml::Value::Table(table) => {
            let mut keys = table.keys();
            let (Some(key), None) = (keys.next(), keys.next()) else {
                return Err(format!(
                    "a rule table has exactly one key, found {} — {EXPECTED}",
                    table.len()
                ));
            };
            let argument = &table[key];
            match key.as_str() {
                "fixed" => fixed(argument, in_json).map(Transform::Fixed),
                "fake" => fake_kind(argument).map(Transform::Fake),
                "range" => spread(argument).map(Transform::Range),
                "shuffle" if !in_json => shuffle(argument),
                "json" if !in_json => json_rules(argument).map(Transform::Json),
                other => Err(format!("unknown rule key `{other}` — {EXPECTED}")),
            }
        }
        other => Err(format!(
            "a rule is a string or a table, not {} — {EXPECTED}",
            other.type_str()
        )),
    }
}

fn fixed(value: &toml::Value, in_json: bool) -> std::result::Result<Fixed, String> {
    Ok(match value {
        toml::Value::String(s) => Fixed::Text(s.clone()),
        toml::Value::Integer(i) => Fixed::Integer(*i),
        toml::Value::Float(f) => Fixed::Float(*f),
        toml::Value::Boolean(b) => Fixed::Bool(*b),
        toml::Value::Datetime(d) => Fixed::Text(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) if in_json => {
            Fixed::Json(serde_json::to_value(value).map_err(|e| format!("fixed: {e}"))?)
        }
        _ => {
            return Err(
                "`fixed` takes a string, number or boolean (tables and arrays only inside json)"
                    .into(),
            )
        }
    })
}

fn fake_kind(value: &toml::Value) -> std::result::Result<FakeKind, String> {
    let names: Vec<&str> = FakeKind::ALL.iter().map(|(n, _)| *n).collect();
    let name = value
        .as_str()
        .ok_or_else(|| format!("`fake` takes one of {}", names.join(", ")))?;
    FakeKind::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
        .ok_or_else(|| format!("unknown fake \"{name}\" — one of {}", names.join(", ")))
}

/// `range = 10`, `range = 0.5` (numbers) or `range = "30 days"` (dates and times; units
/// seconds, minutes, hours, days, weeks).
fn spread(value: &toml::Value) -> std::result::Result<Spread, String> {
    let positive = |n: f64| {
        if n.is_finite() && n > 0.0 {
            Ok(n)
        } else {
            Err("`range` must be positive".to_string())
        }
    };
    match value {
        toml::Value::Integer(i) => Ok(Spread::Number(positive(*i as f64)?)),
        toml::Value::Float(f) => Ok(Spread::Number(positive(*f)?)),
        toml::Value::String(s) => {
            let mut words = s.split_whitespace();
            let (Some(amount), Some(unit), None) = (words.next(), words.next(), words.next())
            else {
                return Err(format!(
                    "range \"{s}\": expected AMOUNT UNIT, e.g. \"30 days\" or \"12 hours\""
                ));
            };
            let amount: i64 =
                amount.parse().ok().filter(|a| *a > 0).ok_or_else(|| {
                    format!("range \"{s}\": the amount must be a positive integer")
                })?;
            let unit = match unit.trim_end_matches('s') {
                "second" => 1,
                "minute" => 60,
                "hour" => 3600,
                "day" => 86_400,
                "week" => 604_800,
                _ => {
                    return Err(format!(
                        "range \"{s}\": unit must be seconds, minutes, hours, days or weeks"
                    ))
                }
            };
            amount
                .checked_mul(unit)
                .map(Spread::Seconds)
                .ok_or_else(|| format!("range \"{s}\" is too large"))
        }
        _ => Err("`range` takes a number or a duration such as \"30 days\"".into()),
    }
}

fn shuffle(value: &toml::Value) -> std::result::Result<Transform, String> {
    let window = value
        .as_table()
        .filter(|t| t.len() == 1)
        .and_then(|t| t.get("window"))
        .and_then(|w| w.as_integer())
        .ok_or("`shuffle` takes { window = ROWS }")?;
    if !(2..=MAX_SHUFFLE_WINDOW as i64).contains(&window) {
        return Err(format!(
            "shuffle window must be between 2 and {MAX_SHUFFLE_WINDOW} rows"
        ));
    }
    Ok(Transform::Shuffle {
        window: window as usize,
    })
}

fn json_rules(value: &toml::Value) -> std::result::Result<Vec<(JsonPath, JsonAction)>, String> {
    let table = value
        .as_table()
        .filter(|t| !t.is_empty())
        .ok_or("`json` takes a table of paths, e.g. { \"$.email\" = { fake = \"email\" } }")?;
    let mut rules = Vec::new();
    for (path, rule) in table {
        let parsed = JsonPath::parse(path).map_err(|e| format!("json path \"{path}\": {e}"))?;
        let action = match rule {
            toml::Value::String(word) if word == "remove" => JsonAction::Remove,
            _ => JsonAction::Mask(
                parse_transform(rule, true).map_err(|e| format!("json path \"{path}\": {e}"))?,
            ),
        };
        rules.push((parsed, action));
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_form_parses() {
        let rules = Rules::parse(
            r#"
[tables."public.customer"]
where = "active"
[tables."public.customer".columns]
a = "keep"
b = "null"
c = "hash"
d = "shuffle"
e = { fixed = "x" }
f = { fake = "email" }
g = { range = 10 }
h = { range = "30 days" }
i = { shuffle = { window = 100 } }
j = { json = { "$.phone" = { fake = "phone" }, "$.ssn" = "remove", "$.tags[*]" = "hash" } }
"#,
            "sanitize.toml",
        )
        .unwrap();
        let table = &rules.tables[0];
        assert_eq!(table.name, "public.customer");
        assert_eq!(table.filter.as_deref(), Some("active"));
        let by_name = |n: &str| {
            &table
                .columns
                .iter()
                .find(|c| c.column == n)
                .unwrap()
                .transform
        };
        assert_eq!(by_name("a"), &Transform::Keep);
        assert_eq!(by_name("f"), &Transform::Fake(FakeKind::Email));
        assert_eq!(
            by_name("h"),
            &Transform::Range(Spread::Seconds(30 * 86_400))
        );
        assert_eq!(by_name("i"), &Transform::Shuffle { window: 100 });
        match by_name("j") {
            Transform::Json(paths) => assert_eq!(paths.len(), 3),
            other => panic!("{other:?}"),
        }
        assert_eq!(table.columns[0].at.line, 5);
    }

    #[test]
    fn a_strata_toml_section_is_read() {
        let rules = Rules::parse(
            "[backup]\nrepo = \"x\"\n[sanitize.tables.users.columns]\nemail = \"hash\"\n",
            "strata.toml",
        )
        .unwrap();
        assert_eq!(rules.tables[0].name, "users");
    }

    #[test]
    fn mistakes_name_the_line_and_column() {
        let error = |text: &str| Rules::parse(text, "s.toml").unwrap_err().to_string();
        let e = error("[tables.users.columns]\nemail = \"hsh\"\n");
        assert!(
            e.starts_with("s.toml:2:9: users.email: unknown rule \"hsh\""),
            "{e}"
        );
        let e = error("[tables.users]\nwher = \"x\"\n");
        assert!(e.contains("s.toml:2:1") && e.contains("wher"), "{e}");
        let e = error("[tables.users.columns]\nemail = { fake = \"emial\" }\n");
        assert!(e.contains("unknown fake \"emial\""), "{e}");
        let e = error("[tables.users.columns]\nx = { json = { \"phone\" = \"null\" } }\n");
        assert!(e.contains("json path \"phone\""), "{e}");
        let e = error("[tables.users.columns]\nx = { range = \"3 fortnights\" }\n");
        assert!(e.contains("unit must be"), "{e}");
        let e = error("[tables.users.columns]\nx = { fixed = 1, fake = \"email\" }\n");
        assert!(e.contains("exactly one key"), "{e}");
    }
}
