//! SQLite functions and clock readings → PostgreSQL: the known set the expression translator
//! (`expressions.rs`) maps, and the reason for everything else.

use super::expressions::Untranslatable;
use super::types::ValueKind;
use crate::engine::sqlite::lexer::{Token, TokenKind};

/// A call of SQLite function `written` with translated `args`, in PostgreSQL, and a remark
/// worth reporting when the function changes name.
pub fn call(written: &str, args: &[String]) -> Result<(String, Option<String>), Untranslatable> {
    let name = written.to_ascii_lowercase();
    let call = |f: &str| format!("{f}({})", args.join(", "));
    let text = match (name.as_str(), args.len()) {
        (
            "abs" | "avg" | "coalesce" | "count" | "length" | "lower" | "ltrim" | "nullif"
            | "replace" | "rtrim" | "substr" | "substring" | "sum" | "trim" | "upper",
            _,
        ) => call(&name),
        ("max" | "min", 1) => call(&name),
        ("max", _) => call("greatest"),
        ("min", _) => call("least"),
        ("round", 1) => call("round"),
        ("round", 2) => format!("round(CAST({} AS numeric), {})", args[0], args[1]),
        ("ifnull", 2) => call("coalesce"),
        ("instr", 2) => call("strpos"),
        ("total", 1) => format!("coalesce(sum({}), 0)", args[0]),
        ("group_concat", 1) => format!("string_agg(CAST({} AS text), ',')", args[0]),
        ("group_concat", 2) => format!("string_agg(CAST({} AS text), {})", args[0], args[1]),
        ("datetime" | "date" | "time", _) => {
            return Err(format!(
                "{name}() with arguments other than 'now' (SQLite date modifiers have no \
                 PostgreSQL equivalent)"
            ))
        }
        ("strftime", _) => {
            return Err(
                "strftime() formats differ from PostgreSQL's (rewrite it with to_char)".into(),
            )
        }
        _ => {
            return Err(format!(
                "function {written}() has no known PostgreSQL equivalent"
            ))
        }
    };
    let note = matches!(name.as_str(), "ifnull" | "instr" | "group_concat")
        .then(|| format!("{name}() becomes {}", text.split('(').next().unwrap_or("")));
    Ok((text, note))
}

/// Which clock reading a token list is: `CURRENT_TIMESTAMP`, `datetime('now')`, … as the
/// SQLite function that formats it (`datetime`, `date`, `time`).
pub fn clock_reading(tokens: &[Token<'_>]) -> Option<&'static str> {
    match tokens {
        [t] if t.is_keyword("CURRENT_TIMESTAMP") => Some("datetime"),
        [t] if t.is_keyword("CURRENT_DATE") => Some("date"),
        [t] if t.is_keyword("CURRENT_TIME") => Some("time"),
        [f, open, now, close]
            if open.is_punct("(")
                && close.is_punct(")")
                && now.kind == TokenKind::String
                && now.name().eq_ignore_ascii_case("now") =>
        {
            ["datetime", "date", "time"]
                .into_iter()
                .find(|name| f.is_keyword(name))
        }
        _ => None,
    }
}

/// SQLite's clock, in UTC, as the text its `datetime()`, `date()` or `time()` returns.
pub fn clock_text(function: &str) -> String {
    let format = match function {
        "date" => "YYYY-MM-DD",
        "time" => "HH24:MI:SS",
        _ => "YYYY-MM-DD HH24:MI:SS",
    };
    format!("to_char((now() AT TIME ZONE 'UTC'), '{format}')")
}

/// The clock as a value of a date/time column (SQLite's clock is UTC).
pub fn typed_clock(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::TimestampTz => "now()",
        ValueKind::Date => "CAST((now() AT TIME ZONE 'UTC') AS date)",
        ValueKind::Time => "CAST((now() AT TIME ZONE 'UTC') AS time)",
        _ => "(now() AT TIME ZONE 'UTC')",
    }
}
