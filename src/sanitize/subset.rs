//! Row filters with referential closure: keeping a subset of the rows without a dangling
//! foreign key.
//!
//! A table with `where = "…"` keeps the rows that pass the condition **and every row that a
//! kept row of another table references**, transitively — so a subset of payments keeps the
//! rentals, customers and addresses those payments point at. Tables without a filter keep
//! every row (and so keep everything they reference).
//!
//! The closure is computed in the target (PostgreSQL), after the masked rows are loaded and
//! before keys and indexes are built, in one transaction: a PL/pgSQL block records the kept
//! rows' `ctid`s per table, adds referenced rows round by round (each round only follows rows
//! found in the round before, until a round finds nothing), then deletes the rest. Conditions
//! therefore see the masked values; filter on columns you keep (dates, ids, flags). Rows are
//! masked before they are written, so the deleted rows never held personal data either.

use std::collections::{BTreeSet, HashMap};

use crate::engine::Dialect;
use crate::schema::{qualified, Schema, Table};

/// A foreign key between two tables that hold rows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    child: String,
    child_columns: Vec<String>,
    parent: String,
    parent_columns: Vec<String>,
}

/// The statements that check every filter on the (still empty) target tables, so that a
/// mistyped condition fails before any row is loaded.
pub fn check_statements(filters: &[(String, String)], dialect: &dyn Dialect) -> Vec<String> {
    filters
        .iter()
        .map(|(table, condition)| {
            format!(
                "-- sanitize: the row filter of {table}\nSELECT 1 FROM ONLY {} WHERE ({condition}) LIMIT 0",
                quote(dialect, table)
            )
        })
        .collect()
}

/// The block that applies the filters and their closure (empty when there are no filters).
pub fn closure_statements(
    schema: &Schema,
    filters: &[(String, String)],
    dialect: &dyn Dialect,
) -> Vec<String> {
    if filters.is_empty() {
        return Vec::new();
    }
    let keep: HashMap<&str, usize> = filters
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (t.as_str(), i))
        .collect();
    let keep_table = |i: usize| format!("strata_keep_{i}");
    let mut body = String::new();
    for (i, (table, condition)) in filters.iter().enumerate() {
        body.push_str(&format!(
            "  CREATE TEMP TABLE {k} ON COMMIT DROP AS\n    SELECT t.ctid AS id, 0 AS found_in FROM ONLY {} t WHERE ({condition});\n  ANALYZE {k};\n",
            quote(dialect, table),
            k = keep_table(i)
        ));
    }
    body.push_str("  LOOP\n    v_step := v_step + 1;\n    v_total := 0;\n");
    for edge in edges(schema) {
        let Some(&p) = keep.get(edge.parent.as_str()) else {
            // An unfiltered parent keeps every row: nothing to add.
            continue;
        };
        let matches: Vec<String> = edge
            .child_columns
            .iter()
            .zip(&edge.parent_columns)
            .map(|(c, p)| {
                format!(
                    "c.{} = p.{}",
                    dialect.quote_ident(c),
                    dialect.quote_ident(p)
                )
            })
            .collect();
        let (referencing, first_round_only) = match keep.get(edge.child.as_str()) {
            // Rows of a filtered child count from the round after they were kept.
            Some(&c) => (
                format!(
                    "ONLY {} c JOIN {} k ON k.id = c.ctid AND k.found_in = v_step - 1",
                    quote(dialect, &edge.child),
                    keep_table(c)
                ),
                false,
            ),
            // Every row of an unfiltered child is kept from the start: one round suffices.
            None => (format!("ONLY {} c", quote(dialect, &edge.child)), true),
        };
        let insert = format!(
            "INSERT INTO {kp} (id, found_in)\n      SELECT p.ctid, v_step FROM ONLY {parent} p\n      WHERE EXISTS (SELECT 1 FROM {referencing} WHERE {on})\n        AND NOT EXISTS (SELECT 1 FROM {kp} q WHERE q.id = p.ctid);\n      GET DIAGNOSTICS v_added = ROW_COUNT;\n      v_total := v_total + v_added;\n",
            kp = keep_table(p),
            parent = quote(dialect, &edge.parent),
            on = matches.join(" AND "),
        );
        if first_round_only {
            body.push_str(&format!(
                "    IF v_step = 1 THEN\n      {insert}    END IF;\n"
            ));
        } else {
            body.push_str(&format!("    {insert}"));
        }
    }
    body.push_str("    EXIT WHEN v_total = 0;\n  END LOOP;\n");
    for (i, (table, _)) in filters.iter().enumerate() {
        body.push_str(&format!(
            "  DELETE FROM ONLY {} t WHERE NOT EXISTS (SELECT 1 FROM {} k WHERE k.id = t.ctid);\n",
            quote(dialect, table),
            keep_table(i)
        ));
    }
    vec![format!(
        "-- sanitize: row filters and the rows they reference\nDO $strata_subset$\nDECLARE\n  v_step integer := 0;\n  v_added bigint;\n  v_total bigint;\nBEGIN\n{body}END\n$strata_subset$"
    )]
}

fn quote(dialect: &dyn Dialect, table: &str) -> String {
    match table.split_once('.') {
        Some((schema, name)) => dialect.quote_qualified(schema, name),
        None => dialect.quote_ident(table),
    }
}

/// Foreign keys between tables that hold rows: a key on a partitioned table becomes one per
/// partition on each side.
fn edges(schema: &Schema) -> BTreeSet<Edge> {
    let by_name: HashMap<String, &Table> = schema
        .tables
        .iter()
        .map(|t| (qualified(&t.schema, &t.name), t))
        .collect();
    let mut children: HashMap<&str, Vec<String>> = HashMap::new();
    for t in &schema.tables {
        if let Some(of) = &t.partition_of {
            children
                .entry(of.parent.as_str())
                .or_default()
                .push(qualified(&t.schema, &t.name));
        }
    }
    let leaves = |name: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut pending = vec![name.to_string()];
        while let Some(n) = pending.pop() {
            match by_name.get(&n) {
                Some(t) if t.partition_by.is_some() => {
                    pending.extend(children.get(n.as_str()).cloned().unwrap_or_default());
                }
                Some(_) => out.push(n),
                None => {}
            }
            if out.len() + pending.len() > 100_000 {
                break;
            }
        }
        out
    };
    let mut edges = BTreeSet::new();
    for (table, columns, target) in super::resolve::foreign_keys(schema) {
        for child in leaves(&qualified(&table.schema, &table.name)) {
            for parent in leaves(&target.table) {
                edges.insert(Edge {
                    child: child.clone(),
                    child_columns: columns.clone(),
                    parent,
                    parent_columns: target.columns.clone(),
                });
            }
        }
    }
    edges
}
