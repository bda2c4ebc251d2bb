//! Database engines. Each engine lives in its own folder with the same files (`inspect.rs`:
//! catalog → model, `render.rs`: model → SQL) behind the [`Engine`] trait; no engine-specific
//! code lives outside `engine/`.

pub mod postgres;
pub mod sqlite;

use crate::error::Result;
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

/// What to include when inspecting a database.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Only these schemas (PostgreSQL); empty means every non-system schema.
    pub schemas: Vec<String>,
    /// Tables (and views) to leave out: shell-style patterns (`*`, `?`) matched against the
    /// bare name and against `schema.name`.
    pub exclude_tables: Vec<String>,
    /// Record object owners.
    pub with_owners: bool,
    /// Record grants.
    pub with_privileges: bool,
}

impl InspectOptions {
    /// Whether a relation passes the `--exclude-table` patterns.
    pub fn keeps_relation(&self, schema: &str, name: &str) -> bool {
        let qualified = crate::schema::qualified(schema, name);
        !self
            .exclude_tables
            .iter()
            .any(|p| glob_match(p, name) || glob_match(p, &qualified))
    }
}

/// A connection to a live database.
pub trait Engine {
    fn kind(&self) -> EngineKind;

    /// Reads the database's schema into the model, in canonical order.
    fn inspect(&mut self, options: &InspectOptions) -> Result<Schema>;

    /// What the last inspection saw but could not record (object kinds the model does not
    /// cover yet), one line each; callers show these so nothing is left out silently.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Opens a connection to the named database (read-only where the engine allows).
pub fn open(target: &Target) -> Result<Box<dyn Engine>> {
    match target {
        Target::Postgres(url) => Ok(Box::new(postgres::Postgres::connect(url)?)),
        Target::Sqlite(path) => Ok(Box::new(sqlite::Sqlite::open_read_only(path)?)),
    }
}

/// Inspects the named database: the library's one-call entry point. Returns the schema and
/// the engine's notes about objects it could not record.
pub fn inspect(target: &Target, options: &InspectOptions) -> Result<(Schema, Vec<String>)> {
    let mut engine = open(target)?;
    let schema = engine.inspect(options)?;
    Ok((schema, engine.notes()))
}

/// Deterministic DDL that recreates `schema` on an empty database of its engine.
pub fn render_sql(schema: &Schema) -> String {
    match schema.engine {
        EngineKind::Postgres => postgres::render::schema_sql(schema),
        EngineKind::Sqlite => sqlite::render::schema_sql(schema),
    }
}

/// Shell-style pattern match: `*` any run of characters, `?` one character.
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_patterns_match_bare_and_qualified_names() {
        let options = InspectOptions {
            exclude_tables: vec!["payment_p*".into(), "audit.*".into()],
            ..Default::default()
        };
        assert!(!options.keeps_relation("public", "payment_p2022_01"));
        assert!(!options.keeps_relation("audit", "log"));
        assert!(options.keeps_relation("public", "payment"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
    }
}
