//! The parts of relations, read from the catalog as plain records: columns, constraints,
//! indexes, triggers, rules, policies, inheritance and view dependencies.
//!
//! Each reader is one set-based query that runs on whichever session of the snapshot picks it
//! up (see [`super::inspect_parallel`]) and turns its rows into model values right away, so
//! that client-side work overlaps the other sessions' queries. Readers do not look at the
//! other parts: comments, column names of constraint keys and the owning relation are joined
//! in afterwards by [`super::inspect`], keyed by oid.

use postgres::types::Oid;
use postgres::Row;

use crate::error::Result;
use crate::schema::{
    Column, Constraint, ConstraintKind, ForeignKeyTarget, Generated, GeneratedStorage, Identity,
    IdentityGeneration, Index, Policy, Rule, SequenceOptions, Trigger,
};

use super::catalog::{Catalog, USER_SCHEMAS};

/// The slice of relations a reader covers: those whose oid is `index` modulo `count`. Sessions
/// that share a snapshot each read their own shard, so each backend builds the relation and
/// attribute caches that deparsing needs for its own tables only (a fresh backend spends
/// about half of a deparsing query's time filling them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// ` AND <oid_expr is in this shard>`, or nothing when there is one shard.
    fn filter(&self, oid_expr: &str) -> String {
        if self.count <= 1 {
            String::new()
        } else {
            format!(
                " AND {oid_expr}::pg_catalog.int8 % {} = {}",
                self.count, self.index
            )
        }
    }
}

/// A model value read from the catalog, with the oids needed to attach it.
pub(super) struct Part<T> {
    /// The relation it belongs to.
    pub relation: Oid,
    /// Its own oid, the key of its comment.
    pub oid: Oid,
    pub item: T,
}

/// A column of a table, with its number for comments and constraint keys.
pub(super) struct ColumnPart {
    pub relation: Oid,
    pub number: i16,
    pub column: Column,
}

/// A constraint whose key columns are still numbers (`conkey`, `confkey`): they are named
/// from the columns read by [`read_columns`], which saves the server a lookup per key.
pub(super) struct ConstraintPart {
    pub relation: Oid,
    pub oid: Oid,
    pub keys: Vec<i16>,
    pub referenced: Oid,
    pub referenced_keys: Vec<i16>,
    pub constraint: Constraint,
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

/// Columns of every table in the inspected schemas, in no particular order (tables left out
/// by `--exclude-table` are dropped when the model is put together). Identity columns come
/// without their sequence, which [`read_identity_sequences`] supplies.
pub(super) fn read_columns(catalog: &mut Catalog, shard: Shard) -> Result<Vec<ColumnPart>> {
    // A default is a variable-free expression, so it deparses without its table (relation 0,
    // as the pg_get_expr documentation allows); naming the table would make the server open
    // it, which in a fresh session is half of this query's time. Generated columns refer to
    // other columns and need it.
    let sql = format!(
        "SELECT a.attrelid, a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), \
           {collation}, a.attnotnull, \
           pg_catalog.pg_get_expr(ad.adbin, \
             CASE WHEN a.attgenerated = '' THEN 0 ELSE ad.adrelid END), \
           a.attgenerated::text, a.attidentity::text, a.attislocal \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMAS}{}",
        shard.filter("a.attrelid"),
        collation = collation_if_not_default("a.attcollation", "t.typcollation"),
    );
    let rows = catalog.rows("columns", &sql)?;
    Ok(rows.iter().map(column_from_row).collect())
}

/// The sequence behind an identity column.
pub(super) struct IdentitySequence {
    pub relation: Oid,
    pub number: i32,
    pub name: String,
    pub options: SequenceOptions,
}

/// Identity sequences, by the column that owns them. A query of their own: joined into the
/// column query, the planner looked them up once per column.
pub(super) fn read_identity_sequences(catalog: &mut Catalog) -> Result<Vec<IdentitySequence>> {
    let rows = catalog.rows(
        "identity sequences",
        "SELECT d.refobjid, d.refobjsubid, sn.nspname || '.' || sc.relname, \
           pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, \
           s.seqmax, s.seqcache, s.seqcycle \
         FROM pg_catalog.pg_depend d \
         JOIN pg_catalog.pg_sequence s ON s.seqrelid = d.objid \
         JOIN pg_catalog.pg_class sc ON sc.oid = s.seqrelid \
         JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace \
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'i' \
           AND d.refobjsubid > 0",
    )?;
    Ok(rows
        .iter()
        .map(|row| IdentitySequence {
            relation: row.get(0),
            number: row.get(1),
            name: row.get(2),
            options: SequenceOptions {
                data_type: row.get(3),
                start: row.get(4),
                increment: row.get(5),
                min_value: row.get(6),
                max_value: row.get(7),
                cache: row.get(8),
                cycle: row.get(9),
            },
        })
        .collect())
}

fn column_from_row(row: &Row) -> ColumnPart {
    let expression: Option<String> = row.get(6);
    let generated_kind: &str = row.get(7);
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
    ColumnPart {
        relation: row.get(0),
        number: row.get(1),
        column: Column {
            name: row.get(2),
            renamed_from: None,
            data_type: row.get(3),
            collation: row.get(4),
            not_null: row.get(5),
            default,
            identity: identity_from_row(row),
            generated,
            inherited: !row.get::<_, bool>(9),
            comment: None, // from the comment map
        },
    }
}

fn identity_from_row(row: &Row) -> Option<Identity> {
    let generation = match row.get::<_, &str>(8) {
        "a" => IdentityGeneration::Always,
        "d" => IdentityGeneration::ByDefault,
        _ => return None,
    };
    Some(Identity {
        generation,
        sequence: None, // from the identity sequences
        options: None,
        autoincrement: false,
    })
}

/// Table constraints. Key columns come back as numbers: naming them in SQL (an `ARRAY`
/// subquery per constraint and key) was a third of this query's server time.
pub(super) fn read_constraints(catalog: &mut Catalog, shard: Shard) -> Result<Vec<ConstraintPart>> {
    // A foreign key to a partitioned table gets a server-made clone per referenced partition,
    // on the same referencing table, with names that depend on creation order: pg_dump leaves
    // them out, and so does this.
    let sql = format!(
        "SELECT c.oid, c.conrelid, c.conname, c.contype::text, \
           pg_catalog.pg_get_constraintdef(c.oid), c.conkey, c.confrelid, \
           fn.nspname || '.' || fc.relname, c.confkey, \
           c.confupdtype::text, c.confdeltype::text, c.confmatchtype::text, \
           c.condeferrable, c.condeferred, c.convalidated, \
           (NOT c.conislocal OR c.conparentid <> 0) \
         FROM pg_catalog.pg_constraint c \
         JOIN pg_catalog.pg_class r ON r.oid = c.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
         LEFT JOIN pg_catalog.pg_class fc ON fc.oid = c.confrelid \
         LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace \
         WHERE c.contype IN ('p', 'u', 'c', 'f', 'x') AND {USER_SCHEMAS}{} \
           AND NOT (c.contype = 'f' AND c.conparentid <> 0 AND EXISTS ( \
                SELECT 1 FROM pg_catalog.pg_constraint parent \
                 WHERE parent.oid = c.conparentid AND parent.conrelid = c.conrelid))",
        shard.filter("c.conrelid")
    );
    let rows = catalog.rows("constraints", &sql)?;
    Ok(rows.iter().map(constraint_from_row).collect())
}

fn constraint_from_row(row: &Row) -> ConstraintPart {
    let kind = match row.get::<_, &str>(3) {
        "p" => ConstraintKind::PrimaryKey,
        "u" => ConstraintKind::Unique,
        "c" => ConstraintKind::Check,
        "f" => ConstraintKind::ForeignKey,
        _ => ConstraintKind::Exclusion,
    };
    let references = row
        .get::<_, Option<String>>(7)
        .map(|table| ForeignKeyTarget {
            table,
            columns: Vec::new(), // named from `referenced_keys`
            on_update: fk_action(row.get(9)),
            on_delete: fk_action(row.get(10)),
            match_type: match row.get::<_, &str>(11) {
                "f" => "full",
                "p" => "partial",
                _ => "simple",
            }
            .to_string(),
        });
    ConstraintPart {
        oid: row.get(0),
        relation: row.get(1),
        keys: row.get::<_, Option<Vec<i16>>>(5).unwrap_or_default(),
        referenced: row.get(6),
        referenced_keys: row.get::<_, Option<Vec<i16>>>(8).unwrap_or_default(),
        constraint: Constraint {
            name: row.get(2),
            kind,
            definition: row.get(4),
            columns: Vec::new(), // named from `keys`
            references,
            deferrable: row.get(12),
            initially_deferred: row.get(13),
            not_valid: !row.get::<_, bool>(14),
            inherited: row.get(15),
            comment: None, // from the comment map
        },
    }
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

/// Names of columns (system columns included, as a CHECK may use `tableoid`) of relations
/// that [`read_columns`] did not cover: tables outside the inspected schemas that a foreign
/// key references.
pub(super) fn read_column_names(
    catalog: &mut Catalog,
    relations: &[Oid],
) -> Result<Vec<(Oid, i16, String)>> {
    let rows = catalog.query(
        "column names of referenced tables",
        "SELECT a.attrelid, a.attnum, a.attname::text FROM pg_catalog.pg_attribute a \
         WHERE a.attrelid = ANY($1::oid[])",
        &[&relations],
    )?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect())
}

/// Indexes that do not implement a constraint, on tables and materialized views.
pub(super) fn read_indexes(catalog: &mut Catalog, shard: Shard) -> Result<Vec<Part<Index>>> {
    let sql = format!(
        "SELECT i.indrelid, i.indexrelid, ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid), \
           (SELECT pn.nspname || '.' || pc.relname FROM pg_catalog.pg_inherits h \
              JOIN pg_catalog.pg_class pc ON pc.oid = h.inhparent \
              JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace \
             WHERE h.inhrelid = i.indexrelid), \
           NOT i.indisvalid \
         FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_catalog.pg_class r ON r.oid = i.indrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
         WHERE r.relkind IN ('r', 'p', 'm') AND {USER_SCHEMAS}{} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k \
                            WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid \
                              AND k.contype IN ('p', 'u', 'x'))",
        shard.filter("i.indrelid")
    );
    let rows = catalog.rows("indexes", &sql)?;
    Ok(rows
        .iter()
        .map(|row| Part {
            relation: row.get(0),
            oid: row.get(1),
            item: Index {
                name: row.get(2),
                definition: row.get(3),
                attached_to: row.get(4),
                invalid: row.get(5),
                comment: None, // from the comment map
            },
        })
        .collect())
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

/// Triggers on tables and views (internal ones, such as those of foreign keys, left out).
pub(super) fn read_triggers(catalog: &mut Catalog, shard: Shard) -> Result<Vec<Part<Trigger>>> {
    let sql = format!(
        "SELECT t.tgrelid, t.oid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid), \
           t.tgenabled::text, t.tgparentid <> 0 \
         FROM pg_catalog.pg_trigger t \
         JOIN pg_catalog.pg_class r ON r.oid = t.tgrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
         WHERE NOT t.tgisinternal AND {USER_SCHEMAS}{}",
        shard.filter("t.tgrelid")
    );
    let rows = catalog.rows("triggers", &sql)?;
    Ok(rows
        .iter()
        .map(|row| Part {
            relation: row.get(0),
            oid: row.get(1),
            item: Trigger {
                name: row.get(2),
                definition: row.get(3),
                enabled: enabled_state(row.get(4)),
                inherited: row.get(5),
                comment: None, // from the comment map
            },
        })
        .collect())
}

/// Rules other than the `_RETURN` rule that makes a view a view.
pub(super) fn read_rules(catalog: &mut Catalog) -> Result<Vec<Part<Rule>>> {
    let sql = format!(
        "SELECT r.ev_class, r.oid, r.rulename, pg_catalog.pg_get_ruledef(r.oid), \
           r.ev_enabled::text \
         FROM pg_catalog.pg_rewrite r \
         JOIN pg_catalog.pg_class c ON c.oid = r.ev_class \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE r.rulename <> '_RETURN' AND {USER_SCHEMAS}"
    );
    let rows = catalog.rows("rules", &sql)?;
    Ok(rows
        .iter()
        .map(|row| Part {
            relation: row.get(0),
            oid: row.get(1),
            item: Rule {
                name: row.get(2),
                definition: row.get(3),
                enabled: enabled_state(row.get(4)),
                comment: None, // from the comment map
            },
        })
        .collect())
}

/// Row-level security policies.
pub(super) fn read_policies(catalog: &mut Catalog) -> Result<Vec<Part<Policy>>> {
    let sql = format!(
        "SELECT p.polrelid, p.oid, p.polname, p.polcmd::text, p.polpermissive, \
           ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END \
                   FROM unnest(p.polroles) r)::text[], \
           pg_catalog.pg_get_expr(p.polqual, p.polrelid), \
           pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) \
         FROM pg_catalog.pg_policy p \
         JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER_SCHEMAS}"
    );
    let rows = catalog.rows("policies", &sql)?;
    Ok(rows
        .iter()
        .map(|row| {
            let command = match row.get::<_, &str>(3) {
                "r" => "select",
                "a" => "insert",
                "w" => "update",
                "d" => "delete",
                _ => "all",
            };
            Part {
                relation: row.get(0),
                oid: row.get(1),
                item: Policy {
                    name: row.get(2),
                    command: command.to_string(),
                    permissive: row.get(4),
                    roles: row.get(5),
                    using: row.get(6),
                    with_check: row.get(7),
                    comment: None, // from the comment map
                },
            }
        })
        .collect())
}

/// (child, parent) for table inheritance and partitions, in `inhseqno` order.
pub(super) fn read_inheritance(catalog: &mut Catalog) -> Result<Vec<(Oid, String)>> {
    let rows = catalog.rows(
        "table inheritance",
        "SELECT i.inhrelid, pn.nspname || '.' || p.relname \
         FROM pg_catalog.pg_inherits i \
         JOIN pg_catalog.pg_class p ON p.oid = i.inhparent \
         JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace \
         JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid \
         WHERE c.relkind IN ('r', 'p') ORDER BY i.inhrelid, i.inhseqno",
    )?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// (view, column name, comment) for commented columns of views and materialized views.
pub(super) fn read_view_column_comments(
    catalog: &mut Catalog,
) -> Result<Vec<(Oid, String, String)>> {
    let rows = catalog.rows(
        "view column comments",
        "SELECT d.objoid, a.attname, d.description \
         FROM pg_catalog.pg_description d \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid \
         JOIN pg_catalog.pg_class c ON c.oid = d.objoid \
         WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid > 0 \
           AND c.relkind IN ('v', 'm')",
    )?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect())
}

/// (view, relation or function) for what each view's query reads, from the dependencies of
/// its `_RETURN` rule.
pub(super) fn read_view_dependencies(catalog: &mut Catalog) -> Result<Vec<(Oid, String)>> {
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
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn a_single_shard_reads_every_relation_and_shards_split_by_oid_modulo() {
        assert_eq!(Shard { index: 0, count: 1 }.filter("c.oid"), "");
        assert_eq!(
            Shard { index: 2, count: 3 }.filter("c.oid"),
            " AND c.oid::pg_catalog.int8 % 3 = 2"
        );
    }
}
