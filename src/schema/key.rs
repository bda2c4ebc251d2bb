//! Identity of one object of a schema, and a DDL statement tagged with the object it creates.
//!
//! Renderers tag every statement they emit with the [`ObjectKey`] of what it creates, so that
//! the planner can take the creation script of a whole schema and keep only the statements of
//! the objects a migration must create, in an order the engine already accepts. Names inside
//! keys are raw (unquoted) `schema.name` references, as in the model.

use serde::{Deserialize, Serialize};

/// What a statement creates or changes. Sub-objects of a table carry the table's qualified
/// name first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObjectKey {
    Schema {
        name: String,
    },
    Extension {
        name: String,
    },
    Collation {
        name: String,
    },
    /// Enum, domain, composite or range type.
    Type {
        name: String,
    },
    Sequence {
        name: String,
    },
    /// `ALTER SEQUENCE … OWNED BY`.
    SequenceOwner {
        name: String,
    },
    /// `schema.name(identity arguments)`.
    Function {
        name: String,
    },
    Table {
        name: String,
    },
    /// Column-level statements emitted apart from `CREATE TABLE` (defaults, NOT NULL of
    /// inherited columns).
    Column {
        table: String,
        column: String,
    },
    Constraint {
        table: String,
        name: String,
    },
    /// Indexes are named `schema.index` (index names are schema-wide).
    Index {
        name: String,
    },
    /// `ALTER INDEX parent ATTACH PARTITION child`, keyed by the child index.
    IndexAttachment {
        name: String,
    },
    Trigger {
        table: String,
        name: String,
    },
    Rule {
        table: String,
        name: String,
    },
    /// ENABLE / FORCE ROW LEVEL SECURITY of a table.
    RowSecurity {
        table: String,
    },
    Policy {
        table: String,
        name: String,
    },
    ReplicaIdentity {
        table: String,
    },
    /// View or materialized view.
    View {
        name: String,
    },
    EventTrigger {
        name: String,
    },
    Publication {
        name: String,
    },
    /// `COMMENT ON` the object.
    Comment {
        on: Box<ObjectKey>,
    },
    /// Owner and grants of the object.
    Access {
        on: Box<ObjectKey>,
    },
}

impl ObjectKey {
    /// The object a comment or access statement belongs to; the key itself otherwise.
    pub fn owner(&self) -> &ObjectKey {
        match self {
            ObjectKey::Comment { on } | ObjectKey::Access { on } => on.owner(),
            other => other,
        }
    }

    /// The table this object hangs off, if any.
    pub fn table(&self) -> Option<&str> {
        match self {
            ObjectKey::Table { name } => Some(name),
            ObjectKey::Column { table, .. }
            | ObjectKey::Constraint { table, .. }
            | ObjectKey::Trigger { table, .. }
            | ObjectKey::Rule { table, .. }
            | ObjectKey::RowSecurity { table }
            | ObjectKey::Policy { table, .. }
            | ObjectKey::ReplicaIdentity { table } => Some(table),
            _ => None,
        }
    }

    /// A short human description: `table public.film`, `index public.film_title_idx`, …
    pub fn describe(&self) -> String {
        match self {
            ObjectKey::Schema { name } => format!("schema {name}"),
            ObjectKey::Extension { name } => format!("extension {name}"),
            ObjectKey::Collation { name } => format!("collation {name}"),
            ObjectKey::Type { name } => format!("type {name}"),
            ObjectKey::Sequence { name } => format!("sequence {name}"),
            ObjectKey::SequenceOwner { name } => format!("ownership of sequence {name}"),
            ObjectKey::Function { name } => format!("function {name}"),
            ObjectKey::Table { name } => format!("table {name}"),
            ObjectKey::Column { table, column } => format!("column {table}.{column}"),
            ObjectKey::Constraint { table, name } => format!("constraint {name} on {table}"),
            ObjectKey::Index { name } => format!("index {name}"),
            ObjectKey::IndexAttachment { name } => format!("attachment of index {name}"),
            ObjectKey::Trigger { table, name } => format!("trigger {name} on {table}"),
            ObjectKey::Rule { table, name } => format!("rule {name} on {table}"),
            ObjectKey::RowSecurity { table } => format!("row level security of {table}"),
            ObjectKey::Policy { table, name } => format!("policy {name} on {table}"),
            ObjectKey::ReplicaIdentity { table } => format!("replica identity of {table}"),
            ObjectKey::View { name } => format!("view {name}"),
            ObjectKey::EventTrigger { name } => format!("event trigger {name}"),
            ObjectKey::Publication { name } => format!("publication {name}"),
            ObjectKey::Comment { on } => format!("comment on {}", on.describe()),
            ObjectKey::Access { on } => format!("owner and grants of {}", on.describe()),
        }
    }
}

/// One DDL statement (with its terminating semicolon) and the object it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub key: ObjectKey,
    pub sql: String,
}
