//! PostgreSQL catalog → schema model.
//!
//! Everything is read in one REPEATABLE READ, READ ONLY snapshot with an empty `search_path`,
//! so every name the server deparses comes out schema-qualified, exactly as pg_dump sees it.
//! Queries are set-based: one (or two) per object kind, never one per table, so a 2,000-table
//! schema costs the same handful of round trips as a small one. Objects that belong to
//! extensions are left out; the extension itself is recorded.
//!
//! The reads are independent of each other ([`Read`]): a plain snapshot runs them on several
//! sessions of one exported snapshot ([`super::inspect_parallel`]), `apply`'s re-inspection one
//! after another inside its migration transaction. Either way [`super::inspect_assemble`] then
//! joins what they found by oid into the model. Relation parts are read in
//! [`super::inspect_parts`], free-standing objects (types, sequences, functions, …) in
//! [`super::inspect_objects`].

use postgres::types::Oid;
use postgres::{IsolationLevel, Row, Transaction};

use crate::engine::InspectOptions;
use crate::error::{Error, Result};
use crate::schema::{
    Access, EngineKind, Index, PartitionOf, Policy, Rule, Schema, Table, Trigger, View,
};

use super::catalog::{not_extension_member, query_error, Catalog, Descriptions, USER_SCHEMAS};
use super::inspect_assemble;
use super::inspect_objects;
use super::inspect_parallel::{self, SharedSnapshot};
use super::inspect_parts::{
    self as parts, ColumnPart, ConstraintPart, IdentitySequence, Part, Shard,
};
use super::Postgres;

/// Inspects in a transaction of its own, spreading the reads over several sessions.
pub(super) fn inspect(
    db: &mut Postgres,
    options: &InspectOptions,
) -> Result<(Schema, Vec<String>)> {
    let Postgres {
        client,
        spec,
        display,
        ..
    } = db;
    let mut tx = begin(client, display)?;
    let snapshot = inspect_parallel::export_snapshot(&mut tx);
    if snapshot.is_none() {
        // The failed export aborted the transaction; inspect on this session alone.
        drop(tx);
        tx = begin(client, display)?;
    }
    let shared = snapshot.map(|id| SharedSnapshot { spec, id });
    inspect_with(tx, display, options, shared.as_ref())
}

fn begin<'c>(client: &'c mut postgres::Client, display: &str) -> Result<Transaction<'c>> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| query_error(display, "the catalog (starting a transaction)", e))
}

/// Inspects within `tx` (a transaction of its own, or a savepoint of a migration that wants
/// to see its own changes) and ends it. Single-session: other sessions could not see
/// uncommitted changes.
pub(super) fn inspect_in(
    tx: Transaction<'_>,
    display: &str,
    options: &InspectOptions,
) -> Result<(Schema, Vec<String>)> {
    inspect_with(tx, display, options, None)
}

fn inspect_with(
    tx: Transaction<'_>,
    display: &str,
    options: &InspectOptions,
    shared: Option<&SharedSnapshot>,
) -> Result<(Schema, Vec<String>)> {
    let mut catalog = Catalog::open(tx, display, options, 0)?;
    catalog.version = server_major_version(&mut catalog)?;
    check_requested_schemas_exist(&mut catalog)?;
    let found = match shared {
        Some(shared) => {
            let reads = reads(inspect_parallel::SESSIONS);
            inspect_parallel::run_in_parallel(&mut catalog, shared, &reads, Read::home, Read::run)?
        }
        None => inspect_parallel::run_serially(&mut catalog, &reads(1), Read::run)?,
    };
    let (schema, notes) = inspect_assemble::assemble(&mut catalog, found)?;
    catalog.finish()?;
    Ok((schema, notes))
}

/// One catalog read, independent of the others.
#[derive(Clone, Copy)]
enum Read {
    Columns(Shard),
    Indexes(Shard),
    Constraints(Shard),
    Triggers(Shard),
    Relations,
    Descriptions,
    FreeStanding,
    Rest,
}

/// The reads of one inspection on `sessions` sessions. Indexes and constraints are read once
/// per shard (session `k` reads shard `k`): deparsing them makes the server build its caches
/// of each table, which a shard's session then builds for its own tables only. Columns and
/// triggers deparse without opening their tables, so splitting them would only repeat their
/// catalog scans; the main session starts with the columns, the longest read, and the others
/// take the rest, longest first, once their shards are done.
fn reads(sessions: usize) -> Vec<Read> {
    let count = sessions.max(1) as u32;
    let whole = Shard { index: 0, count: 1 };
    let mut reads = vec![Read::Columns(whole)];
    for index in 0..count {
        let shard = Shard { index, count };
        reads.extend([Read::Indexes(shard), Read::Constraints(shard)]);
    }
    reads.extend([
        Read::Triggers(whole),
        Read::Relations,
        Read::Descriptions,
        Read::FreeStanding,
        Read::Rest,
    ]);
    reads
}

/// What a [`Read`] found.
pub(super) enum Found {
    Columns(Vec<ColumnPart>),
    Constraints(Vec<ConstraintPart>),
    Indexes(Vec<Part<Index>>),
    Triggers(Vec<Part<Trigger>>),
    Relations(Vec<(Oid, Relation)>),
    /// A schema with the free-standing objects only.
    FreeStanding(Box<Schema>),
    Descriptions(Descriptions),
    Rest(Rest),
}

/// The small reads, together in one job.
#[derive(Default)]
pub(super) struct Rest {
    pub identity_sequences: Vec<IdentitySequence>,
    pub inheritance: Vec<(Oid, String)>,
    pub view_column_comments: Vec<(Oid, String, String)>,
    pub rules: Vec<Part<Rule>>,
    pub policies: Vec<Part<Policy>>,
    pub view_dependencies: Vec<(Oid, String)>,
    pub notes: Vec<String>,
}

/// A table or view as read, its parts still empty.
pub(super) enum Relation {
    Table(Box<Table>),
    View(Box<View>),
}

impl Read {
    /// The session that should run this read (see [`reads`]), or `None` for any.
    fn home(&self) -> Option<usize> {
        match self {
            Read::Columns(_) => Some(0),
            Read::Indexes(s) | Read::Constraints(s) => Some(s.index as usize),
            _ => None,
        }
    }

    fn run(&self, catalog: &mut Catalog) -> Result<Found> {
        Ok(match *self {
            Read::Columns(s) => Found::Columns(parts::read_columns(catalog, s)?),
            Read::Constraints(s) => Found::Constraints(parts::read_constraints(catalog, s)?),
            Read::Indexes(s) => Found::Indexes(parts::read_indexes(catalog, s)?),
            Read::Triggers(s) => Found::Triggers(parts::read_triggers(catalog, s)?),
            Read::Relations => Found::Relations(read_relations(catalog)?),
            Read::FreeStanding => {
                let mut schema = Schema::new(EngineKind::Postgres, catalog.version.to_string());
                inspect_objects::read_free_standing(catalog, &mut schema)?;
                Found::FreeStanding(Box::new(schema))
            }
            Read::Descriptions => Found::Descriptions(Descriptions::read(catalog)?),
            Read::Rest => Found::Rest(Rest {
                identity_sequences: parts::read_identity_sequences(catalog)?,
                inheritance: parts::read_inheritance(catalog)?,
                view_column_comments: parts::read_view_column_comments(catalog)?,
                rules: parts::read_rules(catalog)?,
                policies: parts::read_policies(catalog)?,
                view_dependencies: parts::read_view_dependencies(catalog)?,
                notes: uncovered_objects(catalog)?,
            }),
        })
    }
}

/// Tables, partitioned tables, views and materialized views that pass the filters, with
/// their parts still empty.
fn read_relations(catalog: &mut Catalog) -> Result<Vec<(Oid, Relation)>> {
    let sql = format!(
        "SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, \
           CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END, \
           CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END, \
           c.relrowsecurity, c.relforcerowsecurity, c.relreplident::text, \
           CASE WHEN c.relreplident = 'i' THEN \
             (SELECT ic.relname FROM pg_catalog.pg_index i \
                JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
               WHERE i.indrelid = c.oid AND i.indisreplident) END, \
           c.reloptions::text[], \
           pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[], c.relispopulated, \
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND c.relpersistence <> 't' AND {USER_SCHEMAS} \
           AND {}",
        not_extension_member("pg_class", "c.oid")
    );
    let mut relations = Vec::new();
    for row in catalog.rows("tables and views", &sql)? {
        let oid: Oid = row.get(0);
        let ns: String = row.get(1);
        let name: String = row.get(2);
        if !catalog.options.keeps_relation(&ns, &name) {
            continue;
        }
        let kind: &str = row.get(3);
        let access = catalog.access(row.get(12), row.get(13));
        let options: Vec<String> = row.get::<_, Option<Vec<String>>>(11).unwrap_or_default();
        if kind == "v" || kind == "m" {
            let view = view_from_row(&row, ns, name, options, access);
            relations.push((oid, Relation::View(Box::new(view))));
            continue;
        }
        let table = Table {
            schema: ns,
            name,
            renamed_from: None,
            unlogged: row.get::<_, &str>(4) == "u",
            partition_by: row.get(5),
            partition_of: row.get::<_, Option<String>>(6).map(|bound| PartitionOf {
                parent: String::new(), // filled in from the inheritance read
                bound,
            }),
            inherits: vec![],
            columns: vec![],
            constraints: vec![],
            indexes: vec![],
            triggers: vec![],
            rules: vec![],
            row_level_security: row.get(7),
            force_row_level_security: row.get(8),
            policies: vec![],
            replica_identity: replica_identity(row.get(9), row.get(10)),
            options,
            without_rowid: false,
            strict: false,
            comment: None, // from the comment map
            access,
        };
        relations.push((oid, Relation::Table(Box::new(table))));
    }
    Ok(relations)
}

fn view_from_row(
    row: &Row,
    schema: String,
    name: String,
    options: Vec<String>,
    access: Access,
) -> View {
    let kind: &str = row.get(3);
    let (check_option, options): (Vec<String>, Vec<String>) = options
        .into_iter()
        .partition(|o| o.starts_with("check_option="));
    let definition: String = row.get::<_, Option<String>>(15).unwrap_or_default();
    View {
        schema,
        name,
        materialized: kind == "m",
        definition: definition.trim_end().trim_end_matches(';').to_string(),
        check_option: check_option
            .first()
            .map(|o| o.trim_start_matches("check_option=").to_string()),
        options,
        populated: kind != "m" || row.get::<_, bool>(14),
        depends_on: vec![],
        column_comments: vec![],
        indexes: vec![],
        triggers: vec![],
        rules: vec![],
        comment: None, // from the comment map
        access,
    }
}

fn replica_identity(code: &str, index: Option<String>) -> Option<String> {
    match code {
        "f" => Some("full".into()),
        "n" => Some("nothing".into()),
        "i" => index.map(|i| format!("index {i}")),
        _ => None,
    }
}

/// Object kinds the model does not cover yet, counted so that a snapshot says what it left
/// out instead of silently dropping it. Extension members are not counted (the extension
/// recreates them).
fn uncovered_objects(catalog: &mut Catalog) -> Result<Vec<String>> {
    let kinds: [(&str, &str, &str, &str); 7] = [
        ("foreign tables", "pg_class", "c.oid", "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'f'"),
        ("extended statistics objects", "pg_statistic_ext", "s.oid", "FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace WHERE true"),
        ("operators", "pg_operator", "o.oid", "FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace WHERE true"),
        ("operator classes", "pg_opclass", "o.oid", "FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_namespace n ON n.oid = o.opcnamespace WHERE true"),
        ("text search configurations", "pg_ts_config", "t.oid", "FROM pg_catalog.pg_ts_config t JOIN pg_catalog.pg_namespace n ON n.oid = t.cfgnamespace WHERE true"),
        ("text search dictionaries", "pg_ts_dict", "t.oid", "FROM pg_catalog.pg_ts_dict t JOIN pg_catalog.pg_namespace n ON n.oid = t.dictnamespace WHERE true"),
        ("base types", "pg_type", "t.oid", "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'b' AND t.typelem = 0"),
    ];
    let mut notes = Vec::new();
    for (what, catalog_name, oid, from) in kinds {
        let sql = format!(
            "SELECT count(*) {from} AND {USER_SCHEMAS} AND {}",
            not_extension_member(catalog_name, oid)
        );
        let count: i64 = catalog.one(what, &sql)?.get(0);
        if count > 0 {
            notes.push(format!(
                "{count} {what} not recorded (this object kind is not covered yet)"
            ));
        }
    }
    Ok(notes)
}

fn server_major_version(catalog: &mut Catalog) -> Result<u32> {
    let row = catalog.one(
        "the server version",
        "SELECT pg_catalog.current_setting('server_version_num')::int",
    )?;
    let number: i32 = row.get(0);
    Ok((number / 10000) as u32)
}

/// A `--schema` that names nothing is almost always a typo: say so rather than print an empty
/// schema file.
fn check_requested_schemas_exist(catalog: &mut Catalog) -> Result<()> {
    if catalog.schemas.is_empty() {
        return Ok(());
    }
    let rows = catalog.rows(
        "schemas",
        "SELECT s FROM unnest($1::text[]) s \
         WHERE s NOT IN (SELECT nspname FROM pg_catalog.pg_namespace) ORDER BY s",
    )?;
    if let Some(row) = rows.first() {
        let missing: String = row.get(0);
        return Err(Error::Unsupported(format!(
            "{}: schema \"{missing}\" does not exist (named by --schema)",
            catalog.display
        )));
    }
    Ok(())
}
