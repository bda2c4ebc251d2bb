//! Schema model → PostgreSQL DDL.

use crate::schema::Schema;

/// Deterministic DDL that recreates `schema` on an empty PostgreSQL database.
pub fn schema_sql(_schema: &Schema) -> String {
    unimplemented!()
}
