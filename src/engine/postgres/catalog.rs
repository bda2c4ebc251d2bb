//! The catalog query runner shared by every inspection session, and the comment map.
//!
//! A [`Catalog`] is one session's view of the snapshot being inspected: the main transaction,
//! or a worker that joined it through an exported snapshot (see [`super::inspect_parallel`]).
//! It runs queries and turns their failures into errors that name what was being read; it
//! knows nothing about the model.
//!
//! Comments are read once from `pg_description` into a [`Descriptions`] map instead of calling
//! `obj_description`/`col_description` per row: on a wide schema the per-row calls cost more
//! server time than the rest of the column, constraint and index queries together.

use std::collections::HashMap;

use postgres::types::{Oid, ToSql};
use postgres::{Row, Transaction};

use crate::engine::InspectOptions;
use crate::error::{Error, Result};
use crate::schema::Access;

use super::acl::parse_acl;

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

/// One inspection session: its transaction plus what is needed to report errors.
pub(super) struct Catalog<'a> {
    tx: Transaction<'a>,
    pub display: String,
    pub schemas: Vec<String>,
    pub options: InspectOptions,
    /// The server's major version (`server_version_num / 10000`).
    pub version: u32,
}

impl<'a> Catalog<'a> {
    /// Wraps a transaction that already sees the snapshot to inspect, and empties its
    /// `search_path` so that every name the server deparses comes out schema-qualified.
    pub fn open(
        tx: Transaction<'a>,
        display: &str,
        options: &InspectOptions,
        version: u32,
    ) -> Result<Catalog<'a>> {
        let mut catalog = Catalog {
            tx,
            display: display.to_string(),
            schemas: options.schemas.clone(),
            options: options.clone(),
            version,
        };
        catalog
            .tx
            .batch_execute("SET LOCAL search_path = ''")
            .map_err(|e| query_error(&catalog.display, "settings", e))?;
        Ok(catalog)
    }

    /// Runs a catalog query; `$1`, where the query uses it, is the `--schema` list.
    pub fn rows(&mut self, what: &str, sql: &str) -> Result<Vec<Row>> {
        let schemas: &(dyn ToSql + Sync) = &self.schemas;
        let params: &[&(dyn ToSql + Sync)] = if sql.contains("$1") { &[schemas] } else { &[] };
        self.tx
            .query(sql, params)
            .map_err(|e| query_error(&self.display, what, e))
    }

    /// Runs a catalog query with its own parameters.
    pub fn query(
        &mut self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.tx
            .query(sql, params)
            .map_err(|e| query_error(&self.display, what, e))
    }

    /// The single row of a query that always returns one (`SELECT <expression>`).
    pub fn one(&mut self, what: &str, sql: &str) -> Result<Row> {
        self.rows(what, sql)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Query {
                target: self.display.clone(),
                what: format!("reading {what}"),
                cause: "the server returned no row".into(),
            })
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

    /// Ends the session's transaction. Nothing was written, so commit and rollback are the
    /// same; committing keeps the caller's savepoint semantics (`inspect_in`) unchanged.
    pub fn finish(self) -> Result<()> {
        let display = self.display;
        self.tx
            .commit()
            .map_err(|e| query_error(&display, "the catalog (commit)", e))
    }
}

pub(super) fn query_error(display: &str, what: &str, e: postgres::Error) -> Error {
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

/// The catalogs whose objects carry comments the relation readers record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Described {
    /// `pg_class`: tables, views, indexes, and (with a column number) their columns.
    Relation,
    Constraint,
    Trigger,
    Rule,
    Policy,
}

/// Every comment on a relation-level object, keyed as `pg_description` keys them:
/// (catalog, object oid, column number or 0).
#[derive(Default)]
pub(super) struct Descriptions {
    by_object: HashMap<(Described, Oid, i32), String>,
}

impl Descriptions {
    /// Reads the comments of the catalogs in [`Described`] in one query (as pg_dump does).
    pub fn read(catalog: &mut Catalog) -> Result<Descriptions> {
        let rows = catalog.rows(
            "comments",
            "SELECT CASE d.classoid \
                      WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN 'r' \
                      WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN 'c' \
                      WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN 't' \
                      WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN 'w' \
                      ELSE 'p' END, \
                    d.objoid, d.objsubid, d.description \
             FROM pg_catalog.pg_description d \
             WHERE d.classoid IN ('pg_catalog.pg_class'::pg_catalog.regclass, \
                                  'pg_catalog.pg_constraint'::pg_catalog.regclass, \
                                  'pg_catalog.pg_trigger'::pg_catalog.regclass, \
                                  'pg_catalog.pg_rewrite'::pg_catalog.regclass, \
                                  'pg_catalog.pg_policy'::pg_catalog.regclass)",
        )?;
        let mut by_object = HashMap::with_capacity(rows.len());
        for row in rows {
            let described = match row.get::<_, &str>(0) {
                "r" => Described::Relation,
                "c" => Described::Constraint,
                "t" => Described::Trigger,
                "w" => Described::Rule,
                _ => Described::Policy,
            };
            by_object.insert((described, row.get(1), row.get(2)), row.get(3));
        }
        Ok(Descriptions { by_object })
    }

    /// The comment on an object (`column` 0) or on a column of a relation, handed over once:
    /// every object is attached to exactly one place in the model.
    pub fn take(&mut self, described: Described, oid: Oid, column: i32) -> Option<String> {
        self.by_object.remove(&(described, oid, column))
    }
}
