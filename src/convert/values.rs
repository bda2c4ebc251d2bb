//! One SQLite value → the COPY text of its converted PostgreSQL column (the table in
//! `rows.rs` says what changes for which storage class and column type), or the reason it
//! cannot be converted.
//!
//! A value's storage class is read from its form in the SQLite export stream, with the same
//! rules as the SQLite loader (`engine::sqlite::data`): `\N` is NULL, a leading octal escape
//! marks a TEXT, `\\x` and lowercase hex is a BLOB, and in a column without TEXT affinity a
//! canonical integer or REAL form is that number.

use super::types::ValueKind;
use crate::copy_text::{decode_escape, hex_value as hex_digit};

/// How one column's values are adapted.
#[derive(Debug, Clone)]
pub(super) struct ColumnRule {
    pub name: String,
    /// The SQLite column has TEXT affinity (numbers in it are text).
    pub text_affinity: bool,
    pub kind: ValueKind,
    pub not_null: bool,
}

/// A value's storage class, read from its COPY form (see `engine::sqlite::data`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Class<'a> {
    Null,
    Integer(i64),
    Real(f64),
    /// Still escaped.
    Text(&'a [u8]),
    /// The hex digits.
    Blob(&'a [u8]),
}

fn classify(raw: &[u8], text_affinity: bool) -> Class<'_> {
    if raw == b"\\N" {
        return Class::Null;
    }
    // A leading octal escape marks a text that would read as another class.
    if raw.len() >= 2 && raw[0] == b'\\' && (b'0'..=b'7').contains(&raw[1]) {
        return Class::Text(raw);
    }
    if let Some(hex) = raw.strip_prefix(b"\\\\x") {
        if hex.len() % 2 == 0
            && hex
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        {
            return Class::Blob(hex);
        }
    }
    if !text_affinity {
        if let Ok(s) = std::str::from_utf8(raw) {
            if let Ok(i) = s.parse::<i64>() {
                if i.to_string() == s {
                    return Class::Integer(i);
                }
            }
            match s {
                "Infinity" => return Class::Real(f64::INFINITY),
                "-Infinity" => return Class::Real(f64::NEG_INFINITY),
                _ => {}
            }
            if s.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                if let Ok(r) = s.parse::<f64>() {
                    if r.is_finite() && format!("{r:?}") == s {
                        return Class::Real(r);
                    }
                }
            }
        }
    }
    Class::Text(raw)
}

/// Writes `raw` adapted to `rule`'s column, or says why it cannot be.
pub(super) fn adapt_value(
    raw: &[u8],
    rule: &ColumnRule,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let class = classify(raw, rule.text_affinity);
    if class == Class::Null {
        if rule.not_null {
            return Err(
                "NULL, but the column is NOT NULL in PostgreSQL (SQLite lets a primary \
                        key other than INTEGER PRIMARY KEY hold NULL)"
                    .into(),
            );
        }
        out.extend_from_slice(raw);
        return Ok(());
    }
    let text = |raw: &[u8]| -> std::result::Result<String, String> {
        String::from_utf8(unescape(raw)).map_err(|_| "text that is not valid UTF-8".to_string())
    };
    match (rule.kind, class) {
        (ValueKind::Other, _) | (_, Class::Null) => out.extend_from_slice(raw),
        (ValueKind::Bytea, Class::Blob(_)) => out.extend_from_slice(raw),
        (ValueKind::Bytea, _) => {
            let bytes = match class {
                Class::Real(r) => sqlite_real_text(r).into_bytes(),
                _ => unescape(raw),
            };
            write_hex(out, &bytes);
        }
        (_, Class::Blob(hex)) => match rule.kind {
            ValueKind::Text { max_chars } => {
                let bytes = hex_bytes(hex);
                let text = String::from_utf8(bytes)
                    .map_err(|_| "a BLOB that is not UTF-8 text, in a text column".to_string())?;
                write_text(out, &text, max_chars)?;
            }
            _ => return Err(format!("a BLOB in a {} column", kind_name(rule.kind))),
        },
        (ValueKind::Integer { min, max }, class) => {
            let value = match class {
                Class::Integer(i) => i,
                Class::Text(raw) => {
                    let text = text(raw)?;
                    text.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("text {} is not an integer", shown(&text)))?
                }
                _ => return Err(format!("{} is not an integer", shown_class(class))),
            };
            if value < min || value > max {
                return Err(format!("{value} is out of the column's integer range"));
            }
            out.extend_from_slice(value.to_string().as_bytes());
        }
        (ValueKind::Boolean, class) => {
            let value = match class {
                Class::Integer(0) => "f",
                Class::Integer(1) => "t",
                Class::Real(0.0) => "f",
                Class::Real(1.0) => "t",
                Class::Text(raw) => {
                    let text = text(raw)?;
                    boolean_text(&text)
                        .ok_or_else(|| format!("text {} is not a boolean", shown(&text)))?
                }
                other => return Err(format!("{} is not a boolean (0 or 1)", shown_class(other))),
            };
            out.extend_from_slice(value.as_bytes());
        }
        (ValueKind::Float | ValueKind::Numeric, class) => match class {
            Class::Integer(_) | Class::Real(_) => out.extend_from_slice(raw),
            Class::Text(raw) => {
                let text = text(raw)?;
                if !is_number(text.trim()) {
                    return Err(format!("text {} is not a number", shown(&text)));
                }
                write_text(out, &text, None)?;
            }
            _ => return Err("not a number".into()),
        },
        (ValueKind::Text { max_chars }, class) => {
            let text = match class {
                Class::Integer(i) => i.to_string(),
                Class::Real(r) => sqlite_real_text(r),
                _ => text(raw)?,
            };
            write_text(out, &text, max_chars)?;
        }
        (ValueKind::Json, class) => {
            let text = match class {
                Class::Integer(i) => i.to_string(),
                Class::Real(r) => sqlite_real_text(r),
                _ => text(raw)?,
            };
            serde_json::from_str::<serde_json::Value>(&text)
                .map_err(|e| format!("{} is not valid JSON ({e})", shown(&text)))?;
            write_text(out, &text, None)?;
        }
        (kind, Class::Text(raw)) if kind.is_temporal() => {
            let value = super::time_strings::adapt(&text(raw)?, kind)?;
            write_text(out, &value, None)?;
        }
        (kind, class) => {
            return Err(format!(
                "{} in a {} column (SQLite's date functions would read a number as a Julian \
                 day; store dates as ISO 8601 text)",
                shown_class(class),
                kind_name(kind)
            ))
        }
    }
    Ok(())
}

fn kind_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Integer { .. } => "integer",
        ValueKind::Boolean => "boolean",
        ValueKind::Float => "double precision",
        ValueKind::Numeric => "numeric",
        ValueKind::Text { .. } => "text",
        ValueKind::Bytea => "bytea",
        ValueKind::Date => "date",
        ValueKind::Timestamp => "timestamp",
        ValueKind::TimestampTz => "timestamptz",
        ValueKind::Time => "time",
        ValueKind::Json => "jsonb",
        ValueKind::Other => "other",
    }
}

fn shown_class(class: Class<'_>) -> String {
    match class {
        Class::Null => "NULL".into(),
        Class::Integer(i) => format!("INTEGER {i}"),
        Class::Real(r) => format!("REAL {}", sqlite_real_text(r)),
        Class::Text(raw) => format!("text {}", shown(&String::from_utf8_lossy(&unescape(raw)))),
        Class::Blob(hex) => format!("a BLOB of {} bytes", hex.len() / 2),
    }
}

/// A value quoted for a message, shortened.
fn shown(text: &str) -> String {
    const LIMIT: usize = 60;
    if text.chars().count() <= LIMIT {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(LIMIT).collect();
    format!("{cut:?}…")
}

/// What PostgreSQL's boolean input accepts (`t`, `true`, `yes`, `on`, `1`, … any case).
fn boolean_text(text: &str) -> Option<&'static str> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some("t"),
        "f" | "false" | "n" | "no" | "off" | "0" => Some("f"),
        _ => None,
    }
}

/// A number PostgreSQL's numeric and float input read.
fn is_number(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "infinity" | "-infinity" | "+infinity" | "nan"
    ) || (text.parse::<f64>().is_ok()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')))
}

/// Writes text as a COPY field, checking what PostgreSQL text cannot hold.
fn write_text(
    out: &mut Vec<u8>,
    text: &str,
    max_chars: Option<usize>,
) -> std::result::Result<(), String> {
    if text.contains('\0') {
        return Err("text with a NUL character, which PostgreSQL text cannot hold".into());
    }
    if let Some(max) = max_chars {
        let chars = text.chars().count();
        if chars > max {
            return Err(format!(
                "{chars} characters, longer than the column's {max} (SQLite does not enforce \
                 declared lengths): {}",
                shown(text)
            ));
        }
    }
    crate::copy_text::escape(out, text.as_bytes());
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"\\\\x");
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

fn hex_bytes(hex: &[u8]) -> Vec<u8> {
    hex.chunks_exact(2)
        .map(|p| hex_digit(p[0]).unwrap_or(0) * 16 + hex_digit(p[1]).unwrap_or(0))
        .collect()
}

/// A COPY text field's bytes, as PostgreSQL reads it: `\b \f \n \r \t \v`, `\ooo`, `\xhh`,
/// any other escaped character stands for itself.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' || i + 1 >= raw.len() {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let next = raw[i + 1];
        i += 2;
        decode_escape(next, raw, &mut i, &mut out);
    }
    out
}

/// A REAL as SQLite writes it as text (`printf("%!.15g")`): 15 significant digits, always a
/// decimal point, exponent form outside 1e-4 ≤ |r| < 1e15 (`1.0e+20`).
pub fn sqlite_real_text(r: f64) -> String {
    if r.is_infinite() {
        return if r > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if r == 0.0 {
        return if r.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let scientific = format!("{r:.14e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let with_point = |digits: &str| {
        let trimmed = if digits.contains('.') {
            digits.trim_end_matches('0')
        } else {
            digits
        };
        if trimmed.ends_with('.') {
            format!("{trimmed}0")
        } else if trimmed.contains('.') {
            trimmed.to_string()
        } else {
            format!("{trimmed}.0")
        }
    };
    if !(-4..15).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", with_point(mantissa), exponent.abs());
    }
    let decimals = usize::try_from(14 - exponent).unwrap_or(0);
    with_point(&format!("{r:.decimals$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: ValueKind) -> ColumnRule {
        ColumnRule {
            name: "c".into(),
            text_affinity: false,
            kind,
            not_null: false,
        }
    }

    fn adapt(raw: &str, kind: ValueKind) -> std::result::Result<String, String> {
        let mut out = Vec::new();
        adapt_value(raw.as_bytes(), &rule(kind), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    const TEXT: ValueKind = ValueKind::Text { max_chars: None };
    const BIGINT: ValueKind = ValueKind::Integer {
        min: i64::MIN,
        max: i64::MAX,
    };

    #[test]
    fn booleans_stored_as_0_and_1_become_f_and_t() {
        assert_eq!(adapt("0", ValueKind::Boolean).unwrap(), "f");
        assert_eq!(adapt("1", ValueKind::Boolean).unwrap(), "t");
        assert_eq!(adapt("true", ValueKind::Boolean).unwrap(), "t");
        assert!(adapt("2", ValueKind::Boolean).is_err());
        assert_eq!(adapt("\\N", ValueKind::Boolean).unwrap(), "\\N");
    }

    #[test]
    fn numbers_in_text_columns_take_sqlite_text_form() {
        assert_eq!(adapt("42", TEXT).unwrap(), "42");
        assert_eq!(adapt("1e20", TEXT).unwrap(), "1.0e+20");
        assert_eq!(adapt("0.1", TEXT).unwrap(), "0.1");
        assert_eq!(adapt("100.0", TEXT).unwrap(), "100.0");
        assert_eq!(
            adapt("\\0642", TEXT).unwrap(),
            "42",
            "a marked text stays text"
        );
    }

    #[test]
    fn blobs_and_bytea() {
        assert_eq!(adapt("\\\\x6869", TEXT).unwrap(), "hi");
        assert!(adapt("\\\\x00ff", TEXT).is_err());
        assert_eq!(adapt("\\\\x00ff", ValueKind::Bytea).unwrap(), "\\\\x00ff");
        assert_eq!(adapt("hi", ValueKind::Bytea).unwrap(), "\\\\x6869");
        assert_eq!(
            adapt("\\134x00", ValueKind::Bytea).unwrap(),
            "\\\\x5c783030",
            "a text that looks like a blob is the bytes of its text"
        );
        assert!(adapt("\\\\x00", BIGINT).is_err());
    }

    #[test]
    fn integers_are_checked_against_the_column() {
        assert_eq!(adapt("-7", BIGINT).unwrap(), "-7");
        assert_eq!(adapt(" 12 ", BIGINT).unwrap(), "12");
        let small = ValueKind::Integer {
            min: i16::MIN.into(),
            max: i16::MAX.into(),
        };
        assert!(adapt("40000", small).is_err());
        let error = adapt("abc", BIGINT).unwrap_err();
        assert!(error.contains("\"abc\""), "{error}");
        assert!(adapt("1.5", BIGINT).is_err());
    }

    #[test]
    fn text_limits_and_nul() {
        let short = ValueKind::Text { max_chars: Some(3) };
        assert_eq!(adapt("héé", short).unwrap(), "héé");
        assert!(adapt("four", short).unwrap_err().contains("longer"));
        assert!(adapt("a\\000b", TEXT).unwrap_err().contains("NUL"));
        assert_eq!(adapt("a\\tb\\\\", TEXT).unwrap(), "a\\tb\\\\");
    }

    #[test]
    fn not_null_columns_refuse_null() {
        let mut out = Vec::new();
        let rule = ColumnRule {
            not_null: true,
            ..rule(TEXT)
        };
        assert!(adapt_value(b"\\N", &rule, &mut out).is_err());
    }

    #[test]
    fn real_text_matches_sqlite() {
        for (value, text) in [
            (1.98, "1.98"),
            (100.0, "100.0"),
            (1e20, "1.0e+20"),
            (1e-5, "1.0e-05"),
            (0.1 + 0.2, "0.3"),
            (123456789012345.0, "123456789012345.0"),
            (1234567890123456.0, "1.23456789012346e+15"),
            (-2.5, "-2.5"),
            (0.0001, "0.0001"),
        ] {
            assert_eq!(sqlite_real_text(value), text, "{value}");
        }
    }
}
