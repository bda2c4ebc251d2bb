//! What a column holds, as far as masking cares: which transforms fit it and what form their
//! output must take (a `hash` of an `integer` must be an integer in range, of a `uuid` a uuid,
//! of a `varchar(20)` at most 20 characters).
//!
//! PostgreSQL types are read from `format_type` text (domains resolved to their base type);
//! SQLite columns from their declared type's affinity, with columns that may hold any storage
//! class classified value by value.

use crate::schema::{EngineKind, Schema};

/// The kinds of columns transforms tell apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// Character data; `max_chars` for `varchar(n)` / `char(n)`.
    Text {
        max_chars: Option<usize>,
    },
    /// A two's-complement integer of `bits` bits (16, 32, 64).
    Integer {
        bits: u32,
    },
    /// An exact decimal (`numeric(p,s)`): at most `precision` digits, `scale` after the point.
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Float,
    /// A date without time.
    Date,
    /// A date and time (with or without a time zone; the zone is kept as it is).
    Timestamp,
    Uuid,
    Json,
    Bytes,
    /// `inet` (an address with an optional prefix length).
    Inet,
    /// A SQLite column without a fixed affinity: each value's class is read from its form.
    Dynamic,
    /// Anything else (booleans, enums, arrays, geometric types, …): only transforms that do
    /// not look inside the value apply.
    Other,
}

impl ColumnType {
    /// Classifies a column's declared type.
    pub fn of(schema: &Schema, data_type: &str) -> ColumnType {
        match schema.engine {
            EngineKind::Postgres => postgres_type(schema, data_type, 0),
            EngineKind::Sqlite => sqlite_type(data_type),
        }
    }

    /// A short name for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ColumnType::Text { .. } => "text",
            ColumnType::Integer { .. } => "integer",
            ColumnType::Decimal { .. } => "numeric",
            ColumnType::Float => "floating-point",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Uuid => "uuid",
            ColumnType::Json => "json",
            ColumnType::Bytes => "binary",
            ColumnType::Inet => "inet",
            ColumnType::Dynamic => "untyped",
            ColumnType::Other => "other",
        }
    }

    /// Whether the column can hold character data that looks like personal data.
    pub fn holds_text(&self) -> bool {
        matches!(
            self,
            ColumnType::Text { .. } | ColumnType::Dynamic | ColumnType::Json
        )
    }
}

fn postgres_type(schema: &Schema, data_type: &str, depth: usize) -> ColumnType {
    let t = data_type.trim();
    if t.ends_with("[]") {
        return ColumnType::Other;
    }
    let (base, args) = match t.split_once('(') {
        Some((base, rest)) => {
            let args = rest.split(')').next().unwrap_or_default();
            // `timestamp(3) with time zone`: the modifier sits in the middle.
            let tail = rest
                .split_once(')')
                .map(|(_, tail)| tail)
                .unwrap_or_default();
            (format!("{}{}", base.trim(), tail), Some(args.to_string()))
        }
        None => (t.to_string(), None),
    };
    let number = |i: usize| -> Option<u32> {
        args.as_deref()?
            .split(',')
            .nth(i)
            .and_then(|a| a.trim().parse().ok())
    };
    match base.as_str() {
        "text" | "citext" | "name" | "character varying" | "character" | "bpchar" | "\"char\"" => {
            ColumnType::Text {
                max_chars: number(0).map(|n| n as usize),
            }
        }
        "smallint" => ColumnType::Integer { bits: 16 },
        "integer" => ColumnType::Integer { bits: 32 },
        "bigint" => ColumnType::Integer { bits: 64 },
        "numeric" => ColumnType::Decimal {
            precision: number(0),
            scale: number(1).or(number(0).map(|_| 0)),
        },
        "real" | "double precision" => ColumnType::Float,
        "date" => ColumnType::Date,
        "timestamp without time zone" | "timestamp with time zone" => ColumnType::Timestamp,
        "uuid" => ColumnType::Uuid,
        "json" | "jsonb" => ColumnType::Json,
        "bytea" => ColumnType::Bytes,
        "inet" => ColumnType::Inet,
        _ => match domain_base(schema, t) {
            Some(base) if depth < 8 => postgres_type(schema, &base, depth + 1),
            _ => ColumnType::Other,
        },
    }
}

/// The base type of a domain named `name` (`schema.name`, quoted or not, or bare).
fn domain_base(schema: &Schema, name: &str) -> Option<String> {
    let unquote = |s: &str| s.trim_matches('"').replace("\"\"", "\"");
    let (namespace, bare) = match name.rsplit_once('.') {
        Some((s, n)) => (Some(unquote(s)), unquote(n)),
        None => (None, unquote(name)),
    };
    schema
        .domains
        .iter()
        .find(|d| d.name == bare && namespace.as_deref().is_none_or(|s| d.schema == s))
        .map(|d| d.data_type.clone())
}

/// SQLite's affinity rules (section 3.1 of its datatype documentation), plus dates and JSON
/// recognized by name: they are stored as text there.
fn sqlite_type(declared: &str) -> ColumnType {
    let upper = declared.to_ascii_uppercase();
    if upper.contains("INT") {
        ColumnType::Integer { bits: 64 }
    } else if upper.contains("JSON") {
        ColumnType::Json
    } else if upper.contains("DATE") || upper.contains("TIME") {
        ColumnType::Timestamp
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        ColumnType::Text { max_chars: None }
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        ColumnType::Float
    } else {
        ColumnType::Dynamic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Domain;

    #[test]
    fn postgres_types_are_classified_with_their_modifiers() {
        let mut schema = Schema::new(EngineKind::Postgres, "15");
        schema.domains.push(Domain {
            schema: "public".into(),
            name: "year".into(),
            data_type: "integer".into(),
            collation: None,
            not_null: false,
            default: None,
            constraints: vec![],
            comment: None,
            access: Default::default(),
        });
        let of = |t: &str| ColumnType::of(&schema, t);
        assert_eq!(
            of("character varying(20)"),
            ColumnType::Text {
                max_chars: Some(20)
            }
        );
        assert_eq!(of("text"), ColumnType::Text { max_chars: None });
        assert_eq!(
            of("numeric(5,2)"),
            ColumnType::Decimal {
                precision: Some(5),
                scale: Some(2)
            }
        );
        assert_eq!(of("timestamp(3) with time zone"), ColumnType::Timestamp);
        assert_eq!(of("public.year"), ColumnType::Integer { bits: 32 });
        assert_eq!(of("integer[]"), ColumnType::Other);
        assert_eq!(of("public.mpaa_rating"), ColumnType::Other);
    }

    #[test]
    fn sqlite_types_follow_affinity() {
        let schema = Schema::new(EngineKind::Sqlite, "3");
        let of = |t: &str| ColumnType::of(&schema, t);
        assert_eq!(of("INTEGER"), ColumnType::Integer { bits: 64 });
        assert_eq!(of("NVARCHAR(40)"), ColumnType::Text { max_chars: None });
        assert_eq!(of(""), ColumnType::Dynamic);
        assert_eq!(of("DATETIME"), ColumnType::Timestamp);
    }
}
