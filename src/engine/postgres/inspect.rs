//! PostgreSQL catalog → schema model.
//!
//! Everything is read in one REPEATABLE READ, READ ONLY transaction with an empty
//! `search_path`, so every name the server deparses comes out schema-qualified, exactly as
//! pg_dump sees it. Queries are set-based: one (or two) per object kind, never one per table,
//! so a 2,000-table schema costs the same handful of round trips as a small one. Objects that
//! belong to extensions are left out; the extension itself is recorded.
//!
//! Relations (tables, views and everything that hangs off them) are read here; free-standing
//! objects (types, sequences, functions, …) in [`super::inspect_objects`].

use std::collections::HashMap;

use postgres::types::{Oid, ToSql};
use postgres::{IsolationLevel, Row, Transaction};

use crate::engine::InspectOptions;
use crate::error::{Error, Result};
use crate::schema::{
    Access, Column, ColumnComment, Constraint, ConstraintKind, EngineKind, ForeignKeyTarget,
    Generated, GeneratedStorage, Identity, IdentityGeneration, Index, PartitionOf, Policy, Rule,
    Schema, SequenceOptions, Table, Trigger, View,
};

use super::acl::parse_acl;
use super::inspect_objects;
use super::Postgres;

/// Restricts a query to user schemas (and to `--schema` names when given). `n` is the
/// `pg_namespace` alias; `$1` is the `text[]` of requested schemas (empty for all).
pub(super) const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
     AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[]))";

/// `NOT <member of an extension>` for an object of catalog `catalog` whose oid is `oid`.
pub(super) fn not_extension_member(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend ext WHERE ext.classid = \
         'pg_catalog.{catalog}'::pg_catalog.regclass AND ext.objid = {oid} AND ext.deptype = 'e')"
    )
}

/// One inspection run: the transaction plus what is needed to report errors.
pub(super) struct Catalog<'a> {
    tx: Transaction<'a>,
    display: String,
    schemas: Vec<String>,
    pub options: InspectOptions,
}

impl Catalog<'_> {
    /// Runs a catalog query; `$1`, where the query uses it, is the `--schema` list.
    pub fn rows(&mut self, what: &str, sql: &str) -> Result<Vec<Row>> {
        let schemas: &(dyn ToSql + Sync) = &self.schemas;
        let params: &[&(dyn ToSql + Sync)] = if sql.contains("$1") { &[schemas] } else { &[] };
        self.tx
            .query(sql, params)
            .map_err(|e| query_error(&self.display, what, e))
    }

    /// Owner and grants, recorded only when asked for.
    pub fn access(&self, owner: Option<String>, acl: Option<Vec<String>>) -> Access {
        Access {
            owner: owner.filter(|_| self.options.with_owners),
            grants: if self.options.with_privileges {
                parse_acl(acl)
            } else {
                Vec::new()
            },
        }
    }
}

fn query_error(display: &str, what: &str, e: postgres::Error) -> Error {
    let cause = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => super::connect::error_chain(&e),
    };
    Error::Query {
        target: display.to_string(),
        what: format!("reading {what}"),
        cause,
    }
}

pub(super) fn inspect(
    db: &mut Postgres,
    options: &InspectOptions,
) -> Result<(Schema, Vec<String>)> {
    let display = db.display().to_string();
    let tx = db
        .client()
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| query_error(&display, "the catalog (starting a transaction)", e))?;
    inspect_in(tx, &display, options)
}

/// Inspects within `tx` (a transaction of its own, or a savepoint of a migration that wants
/// to see its own changes) and ends it.
pub(super) fn inspect_in(
    tx: Transaction<'_>,
    display: &str,
    options: &InspectOptions,
) -> Result<(Schema, Vec<String>)> {
    let mut catalog = Catalog {
        tx,
        display: display.to_string(),
        schemas: options.schemas.clone(),
        options: options.clone(),
    };
    catalog
        .tx
        .batch_execute("SET LOCAL search_path = ''")
        .map_err(|e| query_error(&catalog.display, "settings", e))?;
    let version = server_major_version(&mut catalog)?;
    check_requested_schemas_exist(&mut catalog)?;

    let mut schema = Schema::new(EngineKind::Postgres, version.to_string());
    inspect_objects::read_free_standing(&mut catalog, &mut schema, version)?;
    read_relations(&mut catalog, &mut schema)?;
    let notes = uncovered_objects(&mut catalog)?;
    schema.canonicalize();
    catalog
        .tx
        .commit()
        .map_err(|e| query_error(&catalog.display, "the catalog (commit)", e))?;
    Ok((schema, notes))
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
        let count: i64 = catalog.rows(what, &sql)?[0].get(0);
        if count > 0 {
            notes.push(format!(
                "{count} {what} not recorded (this object kind is not covered yet)"
            ));
        }
    }
    Ok(notes)
}

fn server_major_version(catalog: &mut Catalog) -> Result<u32> {
    let rows = catalog.rows(
        "the server version",
        "SELECT pg_catalog.current_setting('server_version_num')::int",
    )?;
    let number: i32 = rows[0].get(0);
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

/// Where each relation oid went: a table or a view, by index.
#[derive(Clone, Copy)]
enum Slot {
    Table(usize),
    View(usize),
}

fn read_relations(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let mut slots: HashMap<Oid, Slot> = HashMap::new();
    let sql = format!(
        "SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, \
           CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END, \
           CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END, \
           c.relrowsecurity, c.relforcerowsecurity, c.relreplident::text, \
           (SELECT ic.relname FROM pg_catalog.pg_index i \
              JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
             WHERE i.indrelid = c.oid AND i.indisreplident), \
           c.reloptions::text[], pg_catalog.obj_description(c.oid, 'pg_class'), \
           pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[], c.relispopulated, \
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND c.relpersistence <> 't' AND {USER_SCHEMAS} \
           AND {}",
        not_extension_member("pg_class", "c.oid")
    );
    for row in catalog.rows("tables and views", &sql)? {
        let oid: Oid = row.get(0);
        let ns: String = row.get(1);
        let name: String = row.get(2);
        if !catalog.options.keeps_relation(&ns, &name) {
            continue;
        }
        let kind: String = row.get(3);
        let access = catalog.access(row.get(13), row.get(14));
        let options: Vec<String> = row.get::<_, Option<Vec<String>>>(11).unwrap_or_default();
        if kind == "v" || kind == "m" {
            slots.insert(oid, Slot::View(schema.views.len()));
            schema
                .views
                .push(view_from_row(&row, ns, name, options, access));
            continue;
        }
        slots.insert(oid, Slot::Table(schema.tables.len()));
        schema.tables.push(Table {
            schema: ns,
            name,
            renamed_from: None,
            unlogged: row.get::<_, String>(4) == "u",
            partition_by: row.get(5),
            partition_of: row.get::<_, Option<String>>(6).map(|bound| PartitionOf {
                parent: String::new(), // filled in by read_inheritance
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
            replica_identity: replica_identity(&row.get::<_, String>(9), row.get(10)),
            options,
            without_rowid: false,
            strict: false,
            comment: row.get(12),
            access,
        });
    }
    read_inheritance(catalog, schema, &slots)?;
    read_columns(catalog, schema, &slots)?;
    read_view_column_comments(catalog, schema, &slots)?;
    read_constraints(catalog, schema, &slots)?;
    read_indexes(catalog, schema, &slots)?;
    read_triggers(catalog, schema, &slots)?;
    read_rules(catalog, schema, &slots)?;
    read_policies(catalog, schema, &slots)?;
    read_view_dependencies(catalog, schema, &slots)?;
    // A partition whose parent was filtered out keeps its bound but has no parent to attach
    // to; say so instead of writing an invalid file.
    for t in &schema.tables {
        if let Some(p) = &t.partition_of {
            if p.parent.is_empty() {
                return Err(Error::Unsupported(format!(
                    "{}: partition {}.{} is included but its parent table is excluded — \
                     exclude the partition too",
                    catalog.display, t.schema, t.name
                )));
            }
        }
    }
    Ok(())
}

fn view_from_row(
    row: &Row,
    schema: String,
    name: String,
    options: Vec<String>,
    access: Access,
) -> View {
    let kind: String = row.get(3);
    let (check_option, options): (Vec<String>, Vec<String>) = options
        .into_iter()
        .partition(|o| o.starts_with("check_option="));
    let definition: String = row.get::<_, Option<String>>(16).unwrap_or_default();
    View {
        schema,
        name,
        materialized: kind == "m",
        definition: definition.trim_end().trim_end_matches(';').to_string(),
        check_option: check_option
            .first()
            .map(|o| o.trim_start_matches("check_option=").to_string()),
        options,
        populated: kind != "m" || row.get::<_, bool>(15),
        depends_on: vec![],
        column_comments: vec![],
        indexes: vec![],
        triggers: vec![],
        rules: vec![],
        comment: row.get(12),
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

fn table_mut<'s>(
    schema: &'s mut Schema,
    slots: &HashMap<Oid, Slot>,
    oid: Oid,
) -> Option<&'s mut Table> {
    match slots.get(&oid) {
        Some(Slot::Table(i)) => schema.tables.get_mut(*i),
        _ => None,
    }
}

fn view_mut<'s>(
    schema: &'s mut Schema,
    slots: &HashMap<Oid, Slot>,
    oid: Oid,
) -> Option<&'s mut View> {
    match slots.get(&oid) {
        Some(Slot::View(i)) => schema.views.get_mut(*i),
        _ => None,
    }
}

fn read_inheritance(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let rows = catalog.rows(
        "table inheritance",
        "SELECT i.inhrelid, pn.nspname || '.' || p.relname \
         FROM pg_catalog.pg_inherits i \
         JOIN pg_catalog.pg_class p ON p.oid = i.inhparent \
         JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace \
         JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid \
         WHERE c.relkind IN ('r', 'p') ORDER BY i.inhrelid, i.inhseqno",
    )?;
    for row in rows {
        let Some(table) = table_mut(schema, slots, row.get(0)) else {
            continue;
        };
        let parent: String = row.get(1);
        match &mut table.partition_of {
            Some(p) => p.parent = parent,
            None => table.inherits.push(parent),
        }
    }
    Ok(())
}

/// Renders `quote_ident(schema).quote_ident(name)` of the collation `oid_expr` when it differs
/// from `default_expr` (the type's own collation), as pg_dump prints COLLATE clauses.
fn collation_if_not_default(oid_expr: &str, default_expr: &str) -> String {
    format!(
        "CASE WHEN {oid_expr} <> 0 AND {oid_expr} <> {default_expr} THEN \
           (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
              FROM pg_catalog.pg_collation co \
              JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
             WHERE co.oid = {oid_expr}) END"
    )
}

fn read_columns(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let sql = format!(
        "SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), \
           {collation}, a.attnotnull, \
           pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), a.attgenerated::text, \
           a.attidentity::text, a.attislocal, pg_catalog.col_description(a.attrelid, a.attnum), \
           sn.nspname || '.' || sc.relname, pg_catalog.format_type(s.seqtypid, NULL), \
           s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         LEFT JOIN pg_catalog.pg_depend d ON a.attidentity <> '' \
           AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i' \
         LEFT JOIN pg_catalog.pg_sequence s ON s.seqrelid = d.objid \
         LEFT JOIN pg_catalog.pg_class sc ON sc.oid = s.seqrelid \
         LEFT JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMAS} \
         ORDER BY a.attrelid, a.attnum",
        collation = collation_if_not_default("a.attcollation", "t.typcollation"),
    );
    for row in catalog.rows("columns", &sql)? {
        let Some(table) = table_mut(schema, slots, row.get(0)) else {
            continue;
        };
        let expression: Option<String> = row.get(5);
        let generated_kind: String = row.get(6);
        let (default, generated) = if generated_kind.is_empty() {
            (expression, None)
        } else {
            let generated = expression.map(|expression| Generated {
                expression,
                storage: if generated_kind == "v" {
                    GeneratedStorage::Virtual
                } else {
                    GeneratedStorage::Stored
                },
            });
            (None, generated)
        };
        table.columns.push(Column {
            name: row.get(1),
            renamed_from: None,
            data_type: row.get(2),
            collation: row.get(3),
            not_null: row.get(4),
            default,
            identity: identity_from_row(&row),
            generated,
            inherited: !row.get::<_, bool>(8),
            comment: row.get(9),
        });
    }
    Ok(())
}

fn identity_from_row(row: &Row) -> Option<Identity> {
    let generation = match row.get::<_, String>(7).as_str() {
        "a" => IdentityGeneration::Always,
        "d" => IdentityGeneration::ByDefault,
        _ => return None,
    };
    let sequence: Option<String> = row.get(10);
    let options = sequence.as_ref().map(|_| SequenceOptions {
        data_type: row.get(11),
        start: row.get(12),
        increment: row.get(13),
        min_value: row.get(14),
        max_value: row.get(15),
        cache: row.get(16),
        cycle: row.get(17),
    });
    Some(Identity {
        generation,
        sequence,
        options,
        autoincrement: false,
    })
}

fn read_view_column_comments(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let rows = catalog.rows(
        "view column comments",
        "SELECT d.objoid, a.attname, d.description \
         FROM pg_catalog.pg_description d \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid \
         JOIN pg_catalog.pg_class c ON c.oid = d.objoid \
         WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid > 0 \
           AND c.relkind IN ('v', 'm')",
    )?;
    for row in rows {
        if let Some(view) = view_mut(schema, slots, row.get(0)) {
            view.column_comments.push(ColumnComment {
                column: row.get(1),
                comment: row.get(2),
            });
        }
    }
    Ok(())
}

/// Column names of an `int2[]` column-number array, in array order.
fn attnames(array: &str, relation: &str) -> String {
    format!(
        "ARRAY(SELECT a.attname FROM unnest({array}) WITH ORDINALITY k(num, ord) \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.num \
         ORDER BY k.ord)::text[]"
    )
}

fn read_constraints(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let sql = format!(
        "SELECT c.conrelid, c.conname, c.contype::text, pg_catalog.pg_get_constraintdef(c.oid), \
           {columns}, fn.nspname || '.' || fc.relname, {ref_columns}, \
           c.confupdtype::text, c.confdeltype::text, c.confmatchtype::text, \
           c.condeferrable, c.condeferred, c.convalidated, \
           (NOT c.conislocal OR c.conparentid <> 0), \
           pg_catalog.obj_description(c.oid, 'pg_constraint') \
         FROM pg_catalog.pg_constraint c \
         JOIN pg_catalog.pg_class r ON r.oid = c.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
         LEFT JOIN pg_catalog.pg_class fc ON fc.oid = c.confrelid \
         LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace \
         WHERE c.contype IN ('p', 'u', 'c', 'f', 'x') AND {USER_SCHEMAS} \
           AND NOT (c.contype = 'f' AND c.conparentid <> 0 AND EXISTS ( \
                SELECT 1 FROM pg_catalog.pg_constraint parent \
                 WHERE parent.oid = c.conparentid AND parent.conrelid = c.conrelid))",
        columns = attnames("c.conkey", "c.conrelid"),
        ref_columns = attnames("c.confkey", "c.confrelid"),
    );
    // A foreign key to a partitioned table gets a server-made clone per referenced partition,
    // on the same referencing table, with names that depend on creation order: pg_dump leaves
    // them out, and so does this.
    for row in catalog.rows("constraints", &sql)? {
        let Some(table) = table_mut(schema, slots, row.get(0)) else {
            continue;
        };
        let kind = match row.get::<_, String>(2).as_str() {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "c" => ConstraintKind::Check,
            "f" => ConstraintKind::ForeignKey,
            _ => ConstraintKind::Exclusion,
        };
        let references = row
            .get::<_, Option<String>>(5)
            .map(|table| ForeignKeyTarget {
                table,
                columns: row.get(6),
                on_update: fk_action(&row.get::<_, String>(7)),
                on_delete: fk_action(&row.get::<_, String>(8)),
                match_type: match row.get::<_, String>(9).as_str() {
                    "f" => "full",
                    "p" => "partial",
                    _ => "simple",
                }
                .to_string(),
            });
        table.constraints.push(Constraint {
            name: row.get(1),
            kind,
            definition: row.get(3),
            columns: row.get(4),
            references,
            deferrable: row.get(10),
            initially_deferred: row.get(11),
            not_valid: !row.get::<_, bool>(12),
            inherited: row.get(13),
            comment: row.get(14),
        });
    }
    Ok(())
}

fn fk_action(code: &str) -> String {
    match code {
        "r" => "restrict",
        "c" => "cascade",
        "n" => "set null",
        "d" => "set default",
        _ => "no action",
    }
    .to_string()
}

fn read_indexes(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let sql = format!(
        "SELECT i.indrelid, ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid), \
           (SELECT pn.nspname || '.' || pc.relname FROM pg_catalog.pg_inherits h \
              JOIN pg_catalog.pg_class pc ON pc.oid = h.inhparent \
              JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace \
             WHERE h.inhrelid = i.indexrelid), \
           pg_catalog.obj_description(i.indexrelid, 'pg_class') \
         FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_catalog.pg_class r ON r.oid = i.indrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
         WHERE r.relkind IN ('r', 'p', 'm') AND {USER_SCHEMAS} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k \
                            WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid \
                              AND k.contype IN ('p', 'u', 'x'))"
    );
    for row in catalog.rows("indexes", &sql)? {
        let index = Index {
            name: row.get(1),
            definition: row.get(2),
            attached_to: row.get(3),
            comment: row.get(4),
        };
        let oid: Oid = row.get(0);
        if let Some(table) = table_mut(schema, slots, oid) {
            table.indexes.push(index);
        } else if let Some(view) = view_mut(schema, slots, oid) {
            view.indexes.push(index);
        }
    }
    Ok(())
}

fn enabled_state(code: &str) -> String {
    match code {
        "D" => "disabled",
        "A" => "always",
        "R" => "replica",
        _ => "origin",
    }
    .to_string()
}

fn read_triggers(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let sql = format!(
        "SELECT t.tgrelid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text, \
           t.tgparentid <> 0, pg_catalog.obj_description(t.oid, 'pg_trigger') \
         FROM pg_catalog.pg_trigger t \
         JOIN pg_catalog.pg_class r ON r.oid = t.tgrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
         WHERE NOT t.tgisinternal AND {USER_SCHEMAS}"
    );
    for row in catalog.rows("triggers", &sql)? {
        let trigger = Trigger {
            name: row.get(1),
            definition: row.get(2),
            enabled: enabled_state(&row.get::<_, String>(3)),
            inherited: row.get(4),
            comment: row.get(5),
        };
        let oid: Oid = row.get(0);
        if let Some(table) = table_mut(schema, slots, oid) {
            table.triggers.push(trigger);
        } else if let Some(view) = view_mut(schema, slots, oid) {
            view.triggers.push(trigger);
        }
    }
    Ok(())
}

fn read_rules(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let sql = format!(
        "SELECT r.ev_class, r.rulename, pg_catalog.pg_get_ruledef(r.oid), r.ev_enabled::text, \
           pg_catalog.obj_description(r.oid, 'pg_rewrite') \
         FROM pg_catalog.pg_rewrite r \
         JOIN pg_catalog.pg_class c ON c.oid = r.ev_class \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE r.rulename <> '_RETURN' AND {USER_SCHEMAS}"
    );
    for row in catalog.rows("rules", &sql)? {
        let rule = Rule {
            name: row.get(1),
            definition: row.get(2),
            enabled: enabled_state(&row.get::<_, String>(3)),
            comment: row.get(4),
        };
        let oid: Oid = row.get(0);
        if let Some(table) = table_mut(schema, slots, oid) {
            table.rules.push(rule);
        } else if let Some(view) = view_mut(schema, slots, oid) {
            view.rules.push(rule);
        }
    }
    Ok(())
}

fn read_policies(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let sql = format!(
        "SELECT p.polrelid, p.polname, p.polcmd::text, p.polpermissive, \
           ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END \
                   FROM unnest(p.polroles) r)::text[], \
           pg_catalog.pg_get_expr(p.polqual, p.polrelid), \
           pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), \
           pg_catalog.obj_description(p.oid, 'pg_policy') \
         FROM pg_catalog.pg_policy p \
         JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER_SCHEMAS}"
    );
    for row in catalog.rows("policies", &sql)? {
        let Some(table) = table_mut(schema, slots, row.get(0)) else {
            continue;
        };
        let command = match row.get::<_, String>(2).as_str() {
            "r" => "select",
            "a" => "insert",
            "w" => "update",
            "d" => "delete",
            _ => "all",
        };
        table.policies.push(Policy {
            name: row.get(1),
            command: command.to_string(),
            permissive: row.get(3),
            roles: row.get(4),
            using: row.get(5),
            with_check: row.get(6),
            comment: row.get(7),
        });
    }
    Ok(())
}

/// Relations and functions each view's query reads, from the dependencies of its `_RETURN`
/// rule.
fn read_view_dependencies(
    catalog: &mut Catalog,
    schema: &mut Schema,
    slots: &HashMap<Oid, Slot>,
) -> Result<()> {
    let rows = catalog.rows(
        "view dependencies",
        "SELECT DISTINCT r.ev_class, \
           CASE WHEN rc.oid IS NOT NULL THEN rn.nspname || '.' || rc.relname \
                ELSE pn.nspname || '.' || p.proname || '(' || \
                     pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' END \
         FROM pg_catalog.pg_rewrite r \
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
           AND d.objid = r.oid \
         LEFT JOIN pg_catalog.pg_class rc ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND rc.oid = d.refobjid AND rc.oid <> r.ev_class \
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
         LEFT JOIN pg_catalog.pg_proc p ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
           AND p.oid = d.refobjid \
         LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace \
         WHERE r.rulename = '_RETURN' AND (rc.oid IS NOT NULL OR p.oid IS NOT NULL) \
           AND coalesce(rn.nspname, pn.nspname) NOT IN ('pg_catalog', 'information_schema')",
    )?;
    for row in rows {
        if let Some(view) = view_mut(schema, slots, row.get(0)) {
            view.depends_on.push(row.get(1));
        }
    }
    Ok(())
}
