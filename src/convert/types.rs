//! Column types across engines: a SQLite declared type → a PostgreSQL type (by SQLite's
//! affinity rules, refined by the declared name), a PostgreSQL type → a SQLite declared type,
//! and the kind of value a PostgreSQL type holds ([`ValueKind`]), which expressions and the
//! row stream of a cross-engine restore need.
//!
//! SQLite's affinity rules (<https://sqlite.org/datatype3.html>, section 3.1) decide what a
//! column can hold: INT → INTEGER; CHAR, CLOB, TEXT → TEXT; BLOB or no type → BLOB; REAL,
//! FLOA, DOUB → REAL; anything else → NUMERIC. Within an affinity the declared name says what
//! the author meant (`VARCHAR(80)`, `BOOLEAN`, `DATETIME`), and that is what PostgreSQL gets.

use super::report::Severity;

/// A mapped type and, when the mapping is a choice or a guess, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The target type, spelled as the target engine's catalog spells it.
    pub to: String,
    pub note: Option<(Severity, String)>,
}

fn mapped(to: &str) -> Mapped {
    Mapped {
        to: to.to_string(),
        note: None,
    }
}

fn noted(to: impl Into<String>, severity: Severity, reason: &str) -> Mapped {
    Mapped {
        to: to.into(),
        note: Some((severity, reason.to_string())),
    }
}

/// A declared type split into its name (uppercase, single-spaced) and its numeric arguments.
fn split_declared(declared: &str) -> (String, Vec<u32>) {
    let upper = declared.to_ascii_uppercase();
    let (name, args) = match upper.split_once('(') {
        Some((name, rest)) => (name, rest.trim_end().trim_end_matches(')')),
        None => (upper.as_str(), ""),
    };
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let args = args
        .split(',')
        .filter_map(|a| a.trim().parse::<u32>().ok())
        .collect();
    (name, args)
}

/// The PostgreSQL type of a SQLite column declared `declared` (empty when untyped).
pub fn sqlite_to_postgres(declared: &str) -> Mapped {
    let (name, args) = split_declared(declared);
    if name.is_empty() {
        return noted(
            "text",
            Severity::Warning,
            "no declared type: SQLite stores any value as given; text holds every value \
             (numbers as their text form, blobs only when they are valid UTF-8)",
        );
    }
    if name.contains("INT") {
        return integer_type(&name);
    }
    if name.contains("CHAR") || name.contains("CLOB") || name.contains("TEXT") {
        return text_type(&name, &args);
    }
    if name.contains("BLOB") {
        return mapped("bytea");
    }
    if name.contains("REAL") || name.contains("FLOA") || name.contains("DOUB") {
        return if name == "REAL" {
            noted(
                "double precision",
                Severity::Info,
                "SQLite REAL is an 8-byte float; PostgreSQL's real has 4 bytes",
            )
        } else {
            mapped("double precision")
        };
    }
    numeric_affinity_type(&name, &args)
}

fn integer_type(name: &str) -> Mapped {
    match name {
        "BIGINT" | "INT8" => mapped("bigint"),
        "SMALLINT" | "INT2" => noted(
            "smallint",
            Severity::Info,
            "declared SMALLINT; SQLite does not enforce the range, so larger values fail to load",
        ),
        "TINYINT" => noted(
            "smallint",
            Severity::Info,
            "PostgreSQL has no 1-byte integer; SQLite does not enforce the range",
        ),
        "INT4" | "MEDIUMINT" => noted(
            "integer",
            Severity::Info,
            "declared as a 4-byte integer; SQLite does not enforce the range, so larger values \
             fail to load",
        ),
        _ => noted(
            "bigint",
            Severity::Info,
            "SQLite integers are 64-bit whatever the declared name; bigint holds every value \
             the column can hold",
        ),
    }
}

fn text_type(name: &str, args: &[u32]) -> Mapped {
    let varying = name.contains("VAR") || name.contains("VARYING") || name == "NATIVE CHARACTER";
    let fixed = matches!(name, "CHAR" | "CHARACTER" | "NCHAR");
    match args.first() {
        Some(n) if varying => noted(
            format!("character varying({n})"),
            Severity::Info,
            "SQLite does not enforce the length; PostgreSQL does (longer values fail to load)",
        ),
        Some(n) if fixed => noted(
            format!("character varying({n})"),
            Severity::Info,
            "PostgreSQL's character(n) pads with blanks and SQLite keeps text as given, so \
             character varying; PostgreSQL enforces the length",
        ),
        _ => mapped("text"),
    }
}

fn numeric_affinity_type(name: &str, args: &[u32]) -> Mapped {
    const DATES: &str = "SQLite stores dates and times as text; values must be ISO 8601 text \
                         (YYYY-MM-DD HH:MM:SS) to load";
    match name {
        "NUMERIC" | "DECIMAL" | "NUMBER" => {
            let to = match args {
                [p, s, ..] => format!("numeric({p},{s})"),
                [p] => format!("numeric({p},0)"),
                [] => "numeric".to_string(),
            };
            noted(
                to,
                Severity::Info,
                "SQLite keeps NUMERIC values as integers or 8-byte floats; PostgreSQL's numeric \
                 is exact (and rounds to the declared scale)",
            )
        }
        "BOOLEAN" | "BOOL" => noted(
            "boolean",
            Severity::Info,
            "SQLite stores booleans as 0 and 1",
        ),
        "DATE" => noted("date", Severity::Info, DATES),
        "DATETIME" | "TIMESTAMP" | "TIMESTAMP WITHOUT TIME ZONE" => {
            noted("timestamp without time zone", Severity::Info, DATES)
        }
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => {
            noted("timestamp with time zone", Severity::Info, DATES)
        }
        "TIME" => noted("time without time zone", Severity::Info, DATES),
        "JSON" | "JSONB" => noted(
            "jsonb",
            Severity::Info,
            "SQLite does not check JSON; every value must be valid JSON to load",
        ),
        _ => noted(
            "text",
            Severity::Warning,
            "SQLite gives this declared type NUMERIC affinity without implying a PostgreSQL \
             type; text holds every value",
        ),
    }
}

/// The SQLite declared type for a built-in PostgreSQL type (as `format_type` spells it), or
/// `None` when PostgreSQL has no such built-in (an enum, domain or other user type).
pub fn postgres_to_sqlite(pg_type: &str) -> Option<Mapped> {
    let lower = pg_type.to_ascii_lowercase();
    if lower.ends_with("[]") {
        return Some(noted(
            "TEXT",
            Severity::Warning,
            "SQLite has no arrays; the values would be stored as PostgreSQL's array text",
        ));
    }
    let (name, args) = match lower.split_once('(') {
        Some((name, rest)) => {
            let inner = rest.split(')').next().unwrap_or_default().to_string();
            let after = rest.split_once(')').map(|(_, a)| a).unwrap_or_default();
            (format!("{}{}", name.trim(), after), inner)
        }
        None => (lower.clone(), String::new()),
    };
    let with_args = |base: &str| {
        if args.is_empty() {
            base.to_string()
        } else {
            format!("{base}({})", args.replace(' ', ""))
        }
    };
    let as_text = |reason: &str| Some(noted("TEXT", Severity::Warning, reason));
    match name.trim() {
        "smallint" | "integer" | "bigint" => Some(mapped("INTEGER")),
        "numeric" => Some(mapped(&with_args("NUMERIC"))),
        "real" | "double precision" => Some(mapped("REAL")),
        "boolean" => Some(noted(
            "BOOLEAN",
            Severity::Info,
            "SQLite stores booleans as 0 and 1",
        )),
        "text" | "character varying" => Some(mapped(&with_args(if name.trim() == "text" {
            "TEXT"
        } else {
            "VARCHAR"
        }))),
        "character" => Some(mapped(&with_args("CHAR"))),
        "bytea" => Some(mapped("BLOB")),
        "date" => Some(noted("DATE", Severity::Info, "SQLite stores dates as text")),
        "timestamp without time zone" => Some(noted(
            "TIMESTAMP",
            Severity::Info,
            "SQLite stores timestamps as text",
        )),
        "timestamp with time zone" => Some(noted(
            "TIMESTAMPTZ",
            Severity::Info,
            "SQLite stores timestamps as text; the time zone is whatever the text says",
        )),
        "time without time zone" | "time with time zone" => {
            Some(noted("TIME", Severity::Info, "SQLite stores times as text"))
        }
        "uuid" => Some(noted("TEXT", Severity::Info, "SQLite has no uuid type")),
        "json" | "jsonb" => Some(noted(
            "TEXT",
            Severity::Info,
            "SQLite keeps JSON as text (its JSON functions read it)",
        )),
        "money" => Some(noted(
            "NUMERIC",
            Severity::Warning,
            "SQLite has no money type",
        )),
        "interval" => as_text("SQLite has no interval type; values would be stored as text"),
        "inet" | "cidr" | "macaddr" | "macaddr8" | "xml" | "tsvector" | "tsquery" | "bit"
        | "bit varying" | "point" | "line" | "lseg" | "box" | "path" | "polygon" | "circle"
        | "oid" | "name" | "char" => as_text("SQLite has no such type; stored as text"),
        _ => None,
    }
}

/// What kind of value a PostgreSQL type holds, as far as conversion cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Integer {
        min: i64,
        max: i64,
    },
    Boolean,
    Float,
    Numeric,
    /// Text, with the length limit of `character varying(n)` / `character(n)`.
    Text {
        max_chars: Option<usize>,
    },
    Bytea,
    Date,
    Timestamp,
    TimestampTz,
    Time,
    Json,
    Other,
}

impl ValueKind {
    /// The kind of a PostgreSQL type as `format_type` spells it.
    pub fn of(pg_type: &str) -> ValueKind {
        let lower = pg_type.to_ascii_lowercase();
        if lower.ends_with("[]") {
            return ValueKind::Other;
        }
        let length = || {
            lower
                .split_once('(')
                .and_then(|(_, rest)| rest.split(')').next())
                .and_then(|n| n.trim().parse::<usize>().ok())
        };
        match lower.as_str() {
            "smallint" => ValueKind::Integer {
                min: i16::MIN.into(),
                max: i16::MAX.into(),
            },
            "integer" => ValueKind::Integer {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            "bigint" => ValueKind::Integer {
                min: i64::MIN,
                max: i64::MAX,
            },
            "boolean" => ValueKind::Boolean,
            "double precision" | "real" => ValueKind::Float,
            "text" => ValueKind::Text { max_chars: None },
            "bytea" => ValueKind::Bytea,
            "date" => ValueKind::Date,
            "json" | "jsonb" => ValueKind::Json,
            s if s.starts_with("numeric") => ValueKind::Numeric,
            s if s.starts_with("character") => ValueKind::Text {
                max_chars: length(),
            },
            s if s.starts_with("timestamp")
                && s.ends_with("with time zone")
                && !s.contains("without") =>
            {
                ValueKind::TimestampTz
            }
            s if s.starts_with("timestamp") => ValueKind::Timestamp,
            s if s.starts_with("time") => ValueKind::Time,
            _ => ValueKind::Other,
        }
    }

    /// Date and time kinds.
    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            ValueKind::Date | ValueKind::Timestamp | ValueKind::TimestampTz | ValueKind::Time
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(declared: &str) -> String {
        sqlite_to_postgres(declared).to
    }

    #[test]
    fn sqlite_types_follow_affinity_then_the_declared_name() {
        assert_eq!(pg("INTEGER"), "bigint");
        assert_eq!(pg("int"), "bigint");
        assert_eq!(pg("UNSIGNED BIG INT"), "bigint");
        assert_eq!(pg("SMALLINT"), "smallint");
        assert_eq!(pg("INT4"), "integer");
        assert_eq!(pg("NVARCHAR(160)"), "character varying(160)");
        assert_eq!(pg("VARCHAR( 80 )"), "character varying(80)");
        assert_eq!(pg("CHAR(2)"), "character varying(2)");
        assert_eq!(pg("CHARINT"), "bigint", "INT wins over CHAR");
        assert_eq!(pg("TEXT"), "text");
        assert_eq!(pg("CLOB"), "text");
        assert_eq!(pg("BLOB"), "bytea");
        assert_eq!(pg(""), "text");
        assert_eq!(pg("REAL"), "double precision");
        assert_eq!(pg("DOUBLE PRECISION"), "double precision");
        assert_eq!(pg("FLOAT"), "double precision");
        assert_eq!(pg("NUMERIC(10, 2)"), "numeric(10,2)");
        assert_eq!(pg("DECIMAL(5)"), "numeric(5,0)");
        assert_eq!(pg("NUMERIC"), "numeric");
        assert_eq!(pg("BOOLEAN"), "boolean");
        assert_eq!(pg("DATE"), "date");
        assert_eq!(pg("DATETIME"), "timestamp without time zone");
        assert_eq!(pg("timestamp"), "timestamp without time zone");
        assert_eq!(pg("TIMESTAMPTZ"), "timestamp with time zone");
        assert_eq!(pg("JSON"), "jsonb");
        assert_eq!(pg("ANY"), "text");
        assert_eq!(pg("MONEY"), "text");
    }

    #[test]
    fn guesses_and_choices_carry_a_reason() {
        let untyped = sqlite_to_postgres("");
        assert_eq!(untyped.note.unwrap().0, Severity::Warning);
        let integer = sqlite_to_postgres("INTEGER");
        assert!(integer.note.unwrap().1.contains("64-bit"));
        assert_eq!(sqlite_to_postgres("BIGINT").note, None);
    }

    #[test]
    fn postgres_types_map_to_sqlite_declared_types() {
        let sqlite = |t: &str| postgres_to_sqlite(t).map(|m| m.to);
        assert_eq!(sqlite("bigint").as_deref(), Some("INTEGER"));
        assert_eq!(sqlite("numeric(10,2)").as_deref(), Some("NUMERIC(10,2)"));
        assert_eq!(
            sqlite("character varying(80)").as_deref(),
            Some("VARCHAR(80)")
        );
        assert_eq!(sqlite("character(3)").as_deref(), Some("CHAR(3)"));
        assert_eq!(sqlite("text[]").as_deref(), Some("TEXT"));
        assert_eq!(
            sqlite("timestamp without time zone").as_deref(),
            Some("TIMESTAMP")
        );
        assert_eq!(
            sqlite("timestamp(3) without time zone").as_deref(),
            Some("TIMESTAMP")
        );
        assert_eq!(sqlite("public.mood"), None);
    }

    #[test]
    fn value_kinds_of_postgres_types() {
        assert_eq!(
            ValueKind::of("character varying(80)"),
            ValueKind::Text {
                max_chars: Some(80)
            }
        );
        assert_eq!(
            ValueKind::of("timestamp with time zone"),
            ValueKind::TimestampTz
        );
        assert_eq!(
            ValueKind::of("timestamp without time zone"),
            ValueKind::Timestamp
        );
        assert_eq!(ValueKind::of("time without time zone"), ValueKind::Time);
        assert_eq!(ValueKind::of("numeric(10,2)"), ValueKind::Numeric);
        assert_eq!(ValueKind::of("integer[]"), ValueKind::Other);
        assert!(matches!(
            ValueKind::of("smallint"),
            ValueKind::Integer { max: 32767, .. }
        ));
    }
}
