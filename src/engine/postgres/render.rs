//! Schema model → PostgreSQL DDL: one deterministic script that recreates a schema on an empty
//! database, in an order the server accepts.
//!
//! Definitions the server deparsed itself (`pg_get_*def`, `format_type`, `pg_get_expr`) are
//! emitted as they are; this module only writes the statements around them, quotes the names it
//! assembles and chooses the order. It never talks to a database.
//!
//! The script runs with an empty `search_path` (as pg_dump's do), so every name is qualified,
//! and with `check_function_bodies = off`, so PL/pgSQL and SQL bodies may mention tables created
//! later. Phases, each of which may use everything created before it:
//!
//! 1. schemas, extensions, collations, sequences;
//! 2. types, the functions that need no table or view, and tables, in one dependency order (a
//!    domain may call a function, a function may take an enum, a composite type may hold a
//!    table's row type); tables come after their parents, with NOT NULL inline but no default;
//!    then the `OWNED BY` of sequences;
//! 3. primary keys and unique constraints, deepest partitions first, so that a partitioned
//!    parent's constraint adopts its partitions' named constraints instead of creating new ones
//!    (and before views, which may rely on a primary key for GROUP BY);
//! 4. the functions that need tables or views (row-type signatures, SQL-standard bodies) and
//!    the views, in one dependency order: each may depend on the other;
//! 5. column defaults, which may call any function;
//! 6. check and exclusion constraints, indexes and their partition attachments, then foreign
//!    keys once every key exists (circular references need nothing special);
//! 7. triggers, rules, row-level security, policies, replica identity;
//! 8. publications, and event triggers last so that they never fire during the script.

#[path = "render_order.rs"]
mod order;
#[path = "render_post.rs"]
mod post;
#[path = "render_routines.rs"]
mod routines;
#[path = "render_tables.rs"]
mod tables;
#[path = "render_types.rs"]
mod types;

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;

use std::collections::HashMap;

use order::{Early, Late};

use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{qualified as raw_qualified, Access, Grant, Schema};

/// Deterministic DDL that recreates `schema` on an empty PostgreSQL database: a header, the
/// session settings, then [`statements`], each preceded by a blank line.
pub fn schema_sql(schema: &Schema) -> String {
    let mut out = format!(
        "-- Strata schema for {} {}\n\n",
        schema.engine, schema.server_version
    );
    out.push_str(PREAMBLE);
    for statement in statements(schema) {
        out.push('\n');
        out.push_str(&statement.sql);
        out.push('\n');
    }
    out
}

/// The statements of [`schema_sql`] (without header and session settings), in script order,
/// each tagged with the [`ObjectKey`] of what it creates.
///
/// Key conventions (names are raw `schema.name` references, as in the model):
///
/// - schema, extension, publication, event trigger: their bare name; collation, sequence,
///   type (enum, composite, range, domain), table, view (also materialized): `schema.name`;
///   function, procedure, aggregate: `schema.name(arguments)` with the model's `arguments`
///   (an aggregate without arguments is `schema.name()`);
/// - index: `schema.index` (schema of its table or materialized view); the attachment of a
///   partition's index to its parent's: `IndexAttachment` of the partition's index;
/// - sub-objects carry the raw name of their relation in `table`: constraints, triggers,
///   rules, policies of tables; triggers and rules of views; column statements of tables
///   (`SET DEFAULT`, `SET`/`DROP NOT NULL` of inherited columns) are `Column`;
/// - every statement of an object's creation is keyed by that object: `ALTER TABLE … ATTACH
///   PARTITION` of a partition created apart is its `Table`; `ALTER DOMAIN … ADD CONSTRAINT`
///   (NOT VALID) its `Type`; trigger, rule and event trigger states their `Trigger`, `Rule`,
///   `EventTrigger`; ENABLE and FORCE ROW LEVEL SECURITY `RowSecurity`; identity columns are
///   part of `CREATE TABLE`;
/// - `COMMENT ON x` is `Comment { on: key of x }`; `COMMENT ON COLUMN` of a table or view
///   column is `Comment { on: Column }`; the comments on the parts of a type (attributes of a
///   composite type, constraints of a domain) are `Comment { on: Type }`, like the type's own;
/// - `ALTER … OWNER TO`, `REVOKE`, `GRANT` of an object are `Access { on: key of it }`.
///
/// An object's statements are adjacent (`Comment` and `Access` keys follow their object's),
/// except two cases; the planner must keep every statement of a key it selects:
///
/// - a trigger's state (`ALTER TABLE … ENABLE ALWAYS / DISABLE … TRIGGER`) comes after every
///   trigger is created, as states recurse down partition trees;
/// - an inheritance child's column may have its `SET`/`DROP NOT NULL` right after the table
///   and its `SET DEFAULT` in the later defaults phase, both keyed `Column`.
///
/// Constraints and triggers that the server clones to partitions (`inherited` in the model)
/// have no creating statement of their own, only their comment (`Comment { on: Constraint }`,
/// `Comment { on: Trigger }`, keyed on the partition) and, for triggers, a state where it
/// differs from the parent's (keyed `Trigger` on the partition): they come from their parent's.
pub fn statements(schema: &Schema) -> Vec<Statement> {
    // Render from the canonical form, so that the output depends only on the model's content.
    let mut schema = schema.clone();
    schema.canonicalize();
    let names = Names::new(&schema);
    let mut script = Script::default();

    types::schemas_and_extensions(&mut script, &schema);
    types::collations(&mut script, &schema);
    types::sequences(&mut script, &schema);
    let plan = order::Plan::new(&schema);
    for object in &plan.early {
        early_object(&mut script, object, &schema, &names);
    }
    types::sequence_ownership(&mut script, &schema, &names);
    post::keys(&mut script, &schema, &names);
    for object in &plan.late {
        match object {
            Late::Function(f) => routines::function(&mut script, f),
            Late::View(v) => routines::view(&mut script, v),
        }
    }
    tables::defaults(&mut script, &schema);
    post::checks_and_exclusions(&mut script, &schema, &names);
    post::indexes(&mut script, &schema, &names);
    post::foreign_keys(&mut script, &schema, &names);
    post::triggers(&mut script, &schema, &names);
    post::rules(&mut script, &schema);
    post::row_security(&mut script, &schema);
    routines::publications(&mut script, &schema, &names);
    routines::event_triggers(&mut script, &schema, &names);

    script.statements
}

fn early_object(script: &mut Script, object: &Early, schema: &Schema, names: &Names) {
    match object {
        Early::Enum(t) => types::enum_type(script, t),
        Early::Composite(t) => types::composite_type(script, t),
        Early::Range(t) => types::range_type(script, t),
        Early::Domain(d) => types::domain(script, d),
        Early::Function(f) => routines::function(script, f),
        Early::Table(t) => tables::create(script, t, schema, names),
    }
}

/// The key of the table `schema.name`.
pub(super) fn table_key(schema: &str, name: &str) -> ObjectKey {
    ObjectKey::Table {
        name: raw_qualified(schema, name),
    }
}

/// The statements of a script, in order, each with the key of what it creates.
#[derive(Default)]
pub(super) struct Script {
    statements: Vec<Statement>,
}

impl Script {
    /// Adds one statement (with its terminating semicolon) of the object `key`.
    pub(super) fn push(&mut self, key: ObjectKey, sql: impl Into<String>) {
        self.statements.push(Statement {
            key,
            sql: sql.into(),
        });
    }

    /// `COMMENT ON <kind> <target> IS '…'` when there is a comment, keyed as a comment on `on`.
    pub(super) fn comment(
        &mut self,
        on: &ObjectKey,
        kind: &str,
        target: &str,
        comment: Option<&String>,
    ) {
        if let Some(text) = comment {
            let key = ObjectKey::Comment {
                on: Box::new(on.clone()),
            };
            self.push(
                key,
                format!("COMMENT ON {kind} {target} IS {};", literal(text)),
            );
        }
    }

    /// Owner and grants of the object `on`, when the model recorded them. `alter_kind` is the
    /// keyword of `ALTER … OWNER TO` (`TABLE`, `VIEW`, `FUNCTION` …), `grant_kind` the one of
    /// `GRANT … ON` (`TABLE` for every relation).
    ///
    /// Recorded grants are the object's whole ACL, so the defaults a new object starts with
    /// (the owner's privileges, EXECUTE or USAGE for PUBLIC) are revoked first, as pg_dump does;
    /// otherwise a privilege revoked in the original would come back.
    pub(super) fn access(
        &mut self,
        on: &ObjectKey,
        alter_kind: &str,
        grant_kind: &str,
        target: &str,
        a: &Access,
    ) {
        let key = ObjectKey::Access {
            on: Box::new(on.clone()),
        };
        if let Some(owner) = &a.owner {
            self.push(
                key.clone(),
                format!("ALTER {alter_kind} {target} OWNER TO {};", role(owner)),
            );
        }
        if a.grants.is_empty() {
            return;
        }
        // Without a recorded owner, the object belongs to whoever runs the script.
        let owner = a.owner.as_deref().map_or("CURRENT_USER".to_string(), role);
        self.push(
            key.clone(),
            format!("REVOKE ALL ON {grant_kind} {target} FROM PUBLIC;"),
        );
        self.push(
            key.clone(),
            format!("REVOKE ALL ON {grant_kind} {target} FROM {owner};"),
        );
        for grant in &a.grants {
            self.grant(&key, grant_kind, target, grant);
        }
    }

    /// `GRANT`, with the grantable privileges in a statement of their own.
    fn grant(&mut self, key: &ObjectKey, grant_kind: &str, target: &str, grant: &Grant) {
        let (plain, grantable): (Vec<&String>, Vec<&String>) = grant
            .privileges
            .iter()
            .partition(|p| !grant.grantable.contains(p));
        for (privileges, suffix) in [(plain, ""), (grantable, " WITH GRANT OPTION")] {
            if privileges.is_empty() {
                continue;
            }
            let list: Vec<&str> = privileges.iter().map(|p| p.as_str()).collect();
            self.push(
                key.clone(),
                format!(
                    "GRANT {} ON {grant_kind} {target} TO {}{suffix};",
                    list.join(", "),
                    role(&grant.to)
                ),
            );
        }
    }
}

/// Session settings for the script: names must be qualified (no object can be captured by
/// another schema), and function bodies are not checked against tables that do not exist yet.
const PREAMBLE: &str = "SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;
";

/// Resolves the raw `schema.name` references of the model to quoted SQL names. A raw reference
/// is ambiguous when a name contains a dot, so known objects are looked up first.
pub(super) struct Names {
    known: HashMap<String, (String, String)>,
}

impl Names {
    pub(super) fn new(schema: &Schema) -> Names {
        let mut known = HashMap::new();
        let mut add = |s: &str, n: &str| {
            known.insert(raw_qualified(s, n), (s.to_string(), n.to_string()));
        };
        schema.tables.iter().for_each(|t| add(&t.schema, &t.name));
        schema.views.iter().for_each(|v| add(&v.schema, &v.name));
        schema
            .sequences
            .iter()
            .for_each(|s| add(&s.schema, &s.name));
        schema
            .functions
            .iter()
            .for_each(|f| add(&f.schema, &f.name));
        schema.enums.iter().for_each(|t| add(&t.schema, &t.name));
        schema.domains.iter().for_each(|t| add(&t.schema, &t.name));
        schema
            .composite_types
            .iter()
            .for_each(|t| add(&t.schema, &t.name));
        schema
            .range_types
            .iter()
            .for_each(|t| add(&t.schema, &t.name));
        for t in &schema.tables {
            for i in &t.indexes {
                add(&t.schema, &i.name);
            }
        }
        Names { known }
    }

    /// The quoted, qualified SQL name of a raw `schema.name` reference.
    pub(super) fn reference(&self, raw: &str) -> String {
        let (schema, name) = self.split(raw);
        qualified(schema, name)
    }

    /// Schema and name of a raw reference; unknown references split at the first dot.
    pub(super) fn split<'a>(&'a self, raw: &'a str) -> (&'a str, &'a str) {
        if let Some((s, n)) = self.known.get(raw) {
            return (s, n);
        }
        raw.split_once('.').unwrap_or(("", raw))
    }

    /// Quoted table and column of a raw `schema.table.column` reference.
    pub(super) fn column_reference(&self, raw: &str) -> (String, String) {
        let mut cut = raw.len();
        while let Some(dot) = raw[..cut].rfind('.') {
            if self.known.contains_key(&raw[..dot]) {
                return (self.reference(&raw[..dot]), ident(&raw[dot + 1..]));
            }
            cut = dot;
        }
        match raw.rsplit_once('.') {
            Some((table, column)) => (self.reference(table), ident(column)),
            None => (ident(raw), String::new()),
        }
    }
}

/// An identifier as PostgreSQL's `quote_ident` writes it: bare when it is lower case ASCII
/// letters, digits and underscores (not starting with a digit) and not a keyword that needs
/// quoting; otherwise in double quotes with embedded quotes doubled.
pub(super) fn ident(name: &str) -> String {
    let mut chars = name.chars();
    let safe_start = matches!(chars.next(), Some('a'..='z' | '_'));
    let safe = safe_start
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && QUOTED_KEYWORDS.binary_search(&name).is_err();
    if safe {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted as needed (just the name when there is no schema).
pub(super) fn qualified(schema: &str, name: &str) -> String {
    if schema.is_empty() {
        ident(name)
    } else {
        format!("{}.{}", ident(schema), ident(name))
    }
}

/// A string literal. `standard_conforming_strings` is on, so only quotes need doubling.
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A role name in GRANT / OWNER TO / policy role lists; `public` is the PUBLIC pseudo-role.
pub(super) fn role(name: &str) -> String {
    if name.eq_ignore_ascii_case("public") {
        "PUBLIC".to_string()
    } else {
        ident(name)
    }
}

/// `name=value` storage parameters as a `WITH (…)` clause, values quoted as pg_dump does.
pub(super) fn with_options(options: &[String]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let list: Vec<String> = options
        .iter()
        .map(|o| match o.split_once('=') {
            Some((name, value)) => format!("{name}={}", literal(value)),
            None => o.clone(),
        })
        .collect();
    format!(" WITH ({})", list.join(", "))
}

/// A deparsed statement with exactly one terminating semicolon.
pub(super) fn terminated(definition: &str) -> String {
    let body = definition.trim_end();
    if body.ends_with(';') {
        body.to_string()
    } else {
        format!("{body};")
    }
}

/// Keywords that `quote_ident` quotes: every keyword that is not UNRESERVED in PostgreSQL 15
/// (`SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'`), plus those that later
/// versions added (`system_user`, the `json_*` functions, `merge_action`), so that a script
/// also loads on a newer server. Quoting a lower-case name more than needed is harmless.
/// Sorted for binary search.
#[rustfmt::skip]
const QUOTED_KEYWORDS: &[&str] = &[
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization",
    "between", "bigint", "binary", "bit", "boolean", "both", "case", "cast", "char", "character",
    "check", "coalesce", "collate", "collation", "column", "concurrently", "constraint", "create",
    "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
    "current_timestamp", "current_user", "dec", "decimal", "default", "deferrable", "desc",
    "distinct", "do", "else", "end", "except", "exists", "extract", "false", "fetch", "float",
    "for", "foreign", "freeze", "from", "full", "grant", "greatest", "group", "grouping", "having",
    "ilike", "in", "initially", "inner", "inout", "int", "integer", "intersect", "interval", "into",
    "is", "isnull", "join", "json", "json_array", "json_arrayagg", "json_exists", "json_object",
    "json_objectagg", "json_query", "json_scalar", "json_serialize", "json_table", "json_value",
    "lateral", "leading", "least", "left", "like", "limit", "localtime", "localtimestamp",
    "merge_action", "national", "natural", "nchar", "none", "normalize", "not", "notnull", "null",
    "nullif", "numeric", "offset", "on", "only", "or", "order", "out", "outer", "overlaps",
    "overlay", "placing", "position", "precision", "primary", "real", "references", "returning",
    "right", "row", "select", "session_user", "setof", "similar", "smallint", "some", "substring",
    "symmetric", "system_user", "table", "tablesample", "then", "time", "timestamp", "to",
    "trailing", "treat", "trim", "true", "union", "unique", "user", "using", "values", "varchar",
    "variadic", "verbose", "when", "where", "window", "with", "xmlattributes", "xmlconcat",
    "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot",
    "xmlserialize", "xmltable",
];
