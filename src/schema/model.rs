//! The engine-neutral schema model: what a database's schema *is*, independent of where it came
//! from (a live database or a schema file). Every collection is kept in a canonical order (see
//! [`Schema::canonicalize`]) so that the same database always serializes to the same bytes.
//!
//! Definitions the database can deparse itself (index, constraint, view, function, trigger text)
//! are stored as the server renders them; this module never re-derives SQL.

use serde::{Deserialize, Serialize};

/// Version of the schema file format written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Which database engine a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Postgres,
    Sqlite,
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Sqlite => "sqlite",
        })
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A whole database schema: the root of a schema file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// File format version ([`FORMAT_VERSION`]).
    pub format: u32,
    pub engine: EngineKind,
    /// Major version of the server (PostgreSQL) or library (SQLite) that was inspected.
    pub server_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<Namespace>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collations: Vec<Collation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub composite_types: Vec<CompositeType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub range_types: Vec<RangeType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<Sequence>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<Function>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<View>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_triggers: Vec<EventTrigger>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publications: Vec<Publication>,
}

/// Owner and grants of an object; present only when inspected with `--with-owners` /
/// `--with-privileges`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

impl Access {
    pub fn is_empty(&self) -> bool {
        self.owner.is_none() && self.grants.is_empty()
    }
}

/// One grantee's privileges on an object (`PUBLIC` for the public pseudo-role).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub to: String,
    /// Privilege keywords in canonical order, e.g. `[SELECT, UPDATE]`.
    pub privileges: Vec<String>,
    /// Privileges granted WITH GRANT OPTION (a subset of `privileges`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grantable: Vec<String>,
}

/// A PostgreSQL schema (namespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub name: String,
    pub schema: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collation {
    pub schema: String,
    pub name: String,
    /// `libc`, `icu` or `builtin`.
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lc_collate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lc_ctype: Option<String>,
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub deterministic: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

fn default_true() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumType {
    pub schema: String,
    pub name: String,
    /// Labels in their sort order (the order matters: it is the enum's ordering).
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub schema: String,
    pub name: String,
    /// Base type as `format_type` renders it.
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_null: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<DomainConstraint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConstraint {
    pub name: String,
    /// As `pg_get_constraintdef` renders it, e.g. `CHECK ((VALUE >= 1901))`.
    pub definition: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeType {
    pub schema: String,
    pub name: String,
    pub attributes: Vec<CompositeAttribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeAttribute {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeType {
    pub schema: String,
    pub name: String,
    pub subtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype_opclass: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype_diff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multirange_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

/// A free-standing sequence (identity sequences live with their column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    pub options: SequenceOptions,
    /// `table.column` (schema-qualified table) that owns the sequence, as `serial` columns do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

/// Every option of a sequence, as `pg_sequence` stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceOptions {
    #[serde(rename = "type")]
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cache: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cycle: bool,
}

/// A function, procedure or aggregate. Overloads are told apart by `arguments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub schema: String,
    pub name: String,
    /// Identity arguments as `pg_get_function_identity_arguments` renders them.
    pub arguments: String,
    pub kind: FunctionKind,
    /// The full `CREATE OR REPLACE …` statement (`pg_get_functiondef`, or the equivalent
    /// `CREATE AGGREGATE` for aggregates).
    pub definition: String,
    /// Tables, views and types (schema-qualified) the function's signature or SQL-standard
    /// body depends on; used to order creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionKind {
    Function,
    Procedure,
    Aggregate,
    Window,
}

/// A table (ordinary, partitioned, or a partition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Empty for engines without schemas (SQLite).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    pub name: String,
    /// Written by hand in a schema file: the table's previous name (bare, or `schema.name`),
    /// so that a plan renames it instead of dropping it and creating a new one. Never
    /// produced by inspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unlogged: bool,
    /// Partition key of a partitioned table, as `pg_get_partkeydef` renders it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// Parent and bound of a partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<PartitionOf>,
    /// Inheritance parents (schema-qualified), in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherits: Vec<String>,
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub row_level_security: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_row_level_security: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Policy>,
    /// `full`, `nothing` or `index NAME` when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_identity: Option<String>,
    /// Storage parameters (`fillfactor=70`, …), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// SQLite: WITHOUT ROWID table.
    #[serde(default, skip_serializing_if = "is_false")]
    pub without_rowid: bool,
    /// SQLite: STRICT table.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strict: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionOf {
    pub parent: String,
    /// `FOR VALUES …` or `DEFAULT`, as `pg_get_expr(relpartbound)` renders it.
    pub bound: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    /// Written by hand in a schema file: the column's previous name, so that a plan renames
    /// it instead of dropping it and adding a new one. Never produced by inspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Type as `format_type` renders it (PostgreSQL) or as declared (SQLite; may be empty).
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_null: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Generated>,
    /// Inherited from a parent or partitioned table and not declared locally.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inherited: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `always` or `by_default`.
    pub generation: IdentityGeneration,
    /// Name of the sequence behind the identity (schema-qualified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<SequenceOptions>,
    /// SQLite: `INTEGER PRIMARY KEY AUTOINCREMENT`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub autoincrement: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityGeneration {
    Always,
    ByDefault,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generated {
    pub expression: String,
    /// `stored` (PostgreSQL, SQLite) or `virtual` (SQLite).
    pub storage: GeneratedStorage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratedStorage {
    Stored,
    Virtual,
}

/// A table constraint. `definition` is the authority; the structured fields are there for
/// engine-neutral reasoning (dependency order, cross-engine conversion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub name: String,
    pub kind: ConstraintKind,
    /// As `pg_get_constraintdef` renders it (PostgreSQL), or the constraint clause (SQLite).
    pub definition: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ForeignKeyTarget>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deferrable: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub initially_deferred: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_valid: bool,
    /// Cloned from a parent (partitioned or inheritance) table rather than declared here.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inherited: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Exclusion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKeyTarget {
    pub table: String,
    pub columns: Vec<String>,
    /// `no action` (default), `restrict`, `cascade`, `set null`, `set default`.
    #[serde(default = "no_action", skip_serializing_if = "is_no_action")]
    pub on_update: String,
    #[serde(default = "no_action", skip_serializing_if = "is_no_action")]
    pub on_delete: String,
    /// `simple` (default), `full` or `partial`.
    #[serde(default = "simple", skip_serializing_if = "is_simple")]
    pub match_type: String,
}

fn no_action() -> String {
    "no action".into()
}
fn is_no_action(s: &str) -> bool {
    s == "no action"
}
fn simple() -> String {
    "simple".into()
}
fn is_simple(s: &str) -> bool {
    s == "simple"
}

/// An index that does not back a constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub name: String,
    /// The full `CREATE INDEX` statement (`pg_get_indexdef`, or SQLite's stored SQL).
    pub definition: String,
    /// Partition index attached to this parent index (schema-qualified), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
    /// Left unusable by a failed `CREATE INDEX CONCURRENTLY`: never true in a schema file, so
    /// a plan always rebuilds such an index.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invalid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Index {
    /// Whether the definition creates a unique index, in any keyword case or spacing (a
    /// hand-written SQLite file may say `create unique index`).
    pub fn is_unique(&self) -> bool {
        let mut words = self.definition.split_whitespace();
        matches!(
            (words.next(), words.next()),
            (Some(create), Some(unique))
                if create.eq_ignore_ascii_case("CREATE") && unique.eq_ignore_ascii_case("UNIQUE")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub name: String,
    /// The full `CREATE TRIGGER` statement (`pg_get_triggerdef`, or SQLite's stored SQL).
    pub definition: String,
    /// `origin` (default), `always`, `replica` or `disabled`.
    #[serde(default = "origin", skip_serializing_if = "is_origin")]
    pub enabled: String,
    /// Cloned from a partitioned table's trigger.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inherited: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

fn origin() -> String {
    "origin".into()
}
fn is_origin(s: &str) -> bool {
    s == "origin"
}

/// A rewrite rule (`CREATE RULE`), other than a view's own `_RETURN` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    /// As `pg_get_ruledef` renders it.
    pub definition: String,
    #[serde(default = "origin", skip_serializing_if = "is_origin")]
    pub enabled: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    /// `all`, `select`, `insert`, `update` or `delete`.
    pub command: String,
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub permissive: bool,
    /// Roles the policy applies to, sorted (`public` for everyone).
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A view or materialized view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub materialized: bool,
    /// PostgreSQL: the query as `pg_get_viewdef` renders it. SQLite: the full `CREATE VIEW`.
    pub definition: String,
    /// `local` or `cascaded` for views WITH CHECK OPTION.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_option: Option<String>,
    /// Options other than check_option (`security_barrier=true`, …), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Materialized views: whether the data was populated (`WITH NO DATA` when false).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub populated: bool,
    /// Relations and functions the view reads (schema-qualified), for creation order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_comments: Vec<ColumnComment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnComment {
    pub column: String,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTrigger {
    pub name: String,
    pub event: String,
    /// Command tags of the WHEN TAG IN filter, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Schema-qualified function name.
    pub function: String,
    #[serde(default = "origin", skip_serializing_if = "is_origin")]
    pub enabled: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub all_tables: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<PublishedTable>,
    /// `TABLES IN SCHEMA` members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    /// Published operations in canonical order: insert, update, delete, truncate.
    pub publish: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub via_root: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedTable {
    pub table: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_filter: Option<String>,
}

impl Schema {
    /// An empty schema of the given engine and server version.
    pub fn new(engine: EngineKind, server_version: impl Into<String>) -> Self {
        Schema {
            format: FORMAT_VERSION,
            engine,
            server_version: server_version.into(),
            schemas: vec![],
            extensions: vec![],
            collations: vec![],
            enums: vec![],
            domains: vec![],
            composite_types: vec![],
            range_types: vec![],
            sequences: vec![],
            functions: vec![],
            tables: vec![],
            views: vec![],
            event_triggers: vec![],
            publications: vec![],
        }
    }

    /// Puts every collection into its canonical order, so that serialization is deterministic
    /// whatever order objects were created or inspected in. Orders that carry meaning (columns,
    /// enum labels, inheritance parents) are left alone.
    pub fn canonicalize(&mut self) {
        self.schemas.sort_by(|a, b| a.name.cmp(&b.name));
        self.extensions.sort_by(|a, b| a.name.cmp(&b.name));
        sort_qualified(&mut self.collations, |c| (&c.schema, &c.name));
        sort_qualified(&mut self.enums, |t| (&t.schema, &t.name));
        sort_qualified(&mut self.domains, |t| (&t.schema, &t.name));
        for d in &mut self.domains {
            d.constraints.sort_by(|a, b| a.name.cmp(&b.name));
        }
        sort_qualified(&mut self.composite_types, |t| (&t.schema, &t.name));
        sort_qualified(&mut self.range_types, |t| (&t.schema, &t.name));
        sort_qualified(&mut self.sequences, |s| (&s.schema, &s.name));
        self.functions.sort_by(|a, b| {
            (&a.schema, &a.name, &a.arguments).cmp(&(&b.schema, &b.name, &b.arguments))
        });
        for f in &mut self.functions {
            f.depends_on.sort();
            f.depends_on.dedup();
            f.access.grants.sort();
        }
        sort_qualified(&mut self.tables, |t| (&t.schema, &t.name));
        for t in &mut self.tables {
            t.constraints.sort_by(|a, b| a.name.cmp(&b.name));
            t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            t.triggers.sort_by(|a, b| a.name.cmp(&b.name));
            t.rules.sort_by(|a, b| a.name.cmp(&b.name));
            t.policies.sort_by(|a, b| a.name.cmp(&b.name));
            for p in &mut t.policies {
                p.roles.sort();
            }
            t.options.sort();
            t.access.grants.sort();
        }
        sort_qualified(&mut self.views, |v| (&v.schema, &v.name));
        for v in &mut self.views {
            v.depends_on.sort();
            v.depends_on.dedup();
            v.options.sort();
            v.column_comments.sort_by(|a, b| a.column.cmp(&b.column));
            v.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            v.triggers.sort_by(|a, b| a.name.cmp(&b.name));
            v.rules.sort_by(|a, b| a.name.cmp(&b.name));
            v.access.grants.sort();
        }
        self.event_triggers.sort_by(|a, b| a.name.cmp(&b.name));
        for e in &mut self.event_triggers {
            e.tags.sort();
        }
        self.publications.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut self.publications {
            p.tables.sort_by(|a, b| a.table.cmp(&b.table));
            p.schemas.sort();
        }
        for n in &mut self.schemas {
            n.access.grants.sort();
        }
        for s in &mut self.sequences {
            s.access.grants.sort();
        }
    }

    /// A copy of everything but the tables (which are usually most of a schema's size).
    pub fn clone_without_tables(&self) -> Schema {
        Schema {
            format: self.format,
            engine: self.engine,
            server_version: self.server_version.clone(),
            schemas: self.schemas.clone(),
            extensions: self.extensions.clone(),
            collations: self.collations.clone(),
            enums: self.enums.clone(),
            domains: self.domains.clone(),
            composite_types: self.composite_types.clone(),
            range_types: self.range_types.clone(),
            sequences: self.sequences.clone(),
            functions: self.functions.clone(),
            tables: Vec::new(),
            views: self.views.clone(),
            event_triggers: self.event_triggers.clone(),
            publications: self.publications.clone(),
        }
    }

    /// Every recorded owner and grant.
    pub fn access(&self) -> impl Iterator<Item = &Access> {
        (self.schemas.iter().map(|o| &o.access))
            .chain(self.enums.iter().map(|o| &o.access))
            .chain(self.domains.iter().map(|o| &o.access))
            .chain(self.composite_types.iter().map(|o| &o.access))
            .chain(self.range_types.iter().map(|o| &o.access))
            .chain(self.sequences.iter().map(|o| &o.access))
            .chain(self.functions.iter().map(|o| &o.access))
            .chain(self.tables.iter().map(|o| &o.access))
            .chain(self.views.iter().map(|o| &o.access))
    }

    /// Every recorded owner and grant, for rewriting or removing them.
    pub fn access_mut(&mut self) -> Vec<&mut Access> {
        let mut all: Vec<&mut Access> = Vec::new();
        all.extend(self.schemas.iter_mut().map(|o| &mut o.access));
        all.extend(self.enums.iter_mut().map(|o| &mut o.access));
        all.extend(self.domains.iter_mut().map(|o| &mut o.access));
        all.extend(self.composite_types.iter_mut().map(|o| &mut o.access));
        all.extend(self.range_types.iter_mut().map(|o| &mut o.access));
        all.extend(self.sequences.iter_mut().map(|o| &mut o.access));
        all.extend(self.functions.iter_mut().map(|o| &mut o.access));
        all.extend(self.tables.iter_mut().map(|o| &mut o.access));
        all.extend(self.views.iter_mut().map(|o| &mut o.access));
        all
    }

    /// Looks a table up by schema and name.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }
}

fn sort_qualified<T>(items: &mut [T], key: impl Fn(&T) -> (&String, &String)) {
    items.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// `schema.name` for display and references, or just `name` when there is no schema.
pub fn qualified(schema: &str, name: &str) -> String {
    if schema.is_empty() {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::Index;

    fn index(definition: &str) -> Index {
        Index {
            name: "i".into(),
            definition: definition.into(),
            attached_to: None,
            invalid: false,
            comment: None,
        }
    }

    #[test]
    fn a_unique_index_is_recognised_in_any_case_and_spacing() {
        assert!(index("CREATE UNIQUE INDEX i ON public.t USING btree (a)").is_unique());
        assert!(index("create  unique\nindex i on t(a)").is_unique());
        assert!(!index("CREATE INDEX unique_a ON t (a)").is_unique());
        assert!(!index("").is_unique());
    }
}
