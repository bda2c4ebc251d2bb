//! Schema model → SQLite DDL.

use crate::schema::Schema;

/// Deterministic DDL that recreates `schema` in an empty SQLite database.
pub fn schema_sql(_schema: &Schema) -> String {
    unimplemented!()
}
