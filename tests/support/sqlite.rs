//! SQLite helpers for the plan and apply tests: the `every_kind` fixture with rows in every
//! table, snapshots and applies through the binary, and a row-by-row comparison of a
//! database's contents before and after a plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;

pub fn every_kind() -> String {
    std::fs::read_to_string(super::fixture("sqlite/every_kind.sql")).unwrap()
}

/// Rows of every table of the fixture, with values of every storage class.
pub const SEED: &str = r#"
INSERT INTO customer (id, email, "display name", created_at, credit) VALUES
    (1, 'ann@example.com', 'Ann', '2024-01-01 10:00:00', 10.5),
    (2, 'bob@example.com', 'Bob', '2024-01-02 11:00:00', NULL),
    (3, 'cy@example.com', 'Cy', '2024-01-03 12:00:00', 0),
    (4, 'dee@example.com', 'Dee', '2024-01-04 13:00:00', 7);
DELETE FROM customer WHERE id = 4;
INSERT INTO "order" (id, customer_id, placed_at, status) VALUES
    (10, 1, '2024-02-01', 'new'), (11, 1, '2024-02-02', 'paid'), (12, 3, '2024-02-03', 'shipped');
INSERT INTO product (sku, name, price_cents, weight_g) VALUES
    ('A-1', 'anvil', 1999, 5000), ('B-2', 'bell', 250, NULL);
INSERT INTO order_item VALUES (10, 1, 'A-1', 1), (10, 2, 'B-2', 3), (11, 1, 'B-2', 2);
INSERT INTO "audit ""log""" (seq, happened_at, "what happened", payload) VALUES
    (100, '2024-03-01', 'seeded', x'00ff'), (101, '2024-03-02', NULL, 1.5), (102, '2024-03-03', 'text', 'hello');
INSERT INTO tag VALUES ('Red'), ('blue');
"#;

pub fn text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

pub fn snapshot(db: &Path) -> String {
    super::snapshot(text(db), &[])
}

pub fn write_snapshot(dir: &Path, name: &str, db: &Path) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, snapshot(db)).unwrap();
    path
}

/// Applies `file` to `db`, allowing every hazard; returns stderr (the plan, then the outcome).
pub fn apply(file: &Path, db: &Path) -> String {
    let out = super::apply_all(file, text(db));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "apply failed:\n{stderr}");
    stderr
}

/// The schema file of the fixture with `edits` made (a database built from the edited SQL,
/// snapshot into `dir`).
pub fn edited_schema_file(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let target = super::sqlite_file(dir, "target.db", &edit(&every_kind(), edits));
    write_snapshot(dir, "target", &target)
}

/// Replaces each `from` with its `to`, failing when `from` is not there (a fixture changed).
pub fn edit(sql: &str, edits: &[(&str, &str)]) -> String {
    let mut out = sql.to_string();
    for (from, to) in edits {
        assert!(
            out.contains(from),
            "the fixture no longer contains {from:?}"
        );
        out = out.replacen(from, to, 1);
    }
    out
}

/// One row: the rowid (rowid tables only) and each column's value; a [`Value`] carries its
/// storage class, so equal values also have equal `typeof()`.
pub type Row = BTreeMap<String, Value>;

/// Every table's rows, by table name.
pub fn rows(db: &Path) -> BTreeMap<String, Vec<Row>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<(String, bool)> = conn
        .prepare(
            "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' \
             AND name NOT LIKE 'sqlite%'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut all = BTreeMap::new();
    for (table, without_rowid) in tables {
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_xinfo(?1)")
            .unwrap()
            .query_map([&table], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut names: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let mut keys = columns.clone();
        if !without_rowid {
            names.insert(0, "_rowid_".into());
            keys.insert(0, "(rowid)".into());
        }
        let sql = format!(
            "SELECT {} FROM \"{}\"",
            names.join(", "),
            table.replace('"', "\"\"")
        );
        let mut statement = conn.prepare(&sql).unwrap();
        let table_rows: Vec<Row> = statement
            .query_map([], |r| {
                keys.iter()
                    .enumerate()
                    .map(|(i, k)| Ok((k.clone(), r.get::<_, Value>(i)?)))
                    .collect::<Result<Row, _>>()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        all.insert(table, table_rows);
    }
    all
}

/// Renames a plan makes: (old table, new table) and (table, old column, new column).
#[derive(Default)]
pub struct Renames<'a> {
    pub tables: &'a [(&'a str, &'a str)],
    pub columns: &'a [(&'a str, &'a str, &'a str)],
}

/// Every row of every table of `before` is in `after` with the same values in every column
/// both have (after renames), and the same rowid when both are rowid tables.
pub fn assert_rows_kept(
    name: &str,
    before: &BTreeMap<String, Vec<Row>>,
    after: &BTreeMap<String, Vec<Row>>,
    renames: &Renames,
) {
    for (table, old_rows) in before {
        let new_table = renames
            .tables
            .iter()
            .find(|(old, _)| old == table)
            .map_or(table.as_str(), |(_, new)| new);
        let Some(new_rows) = after.get(new_table) else {
            continue; // dropped by the plan
        };
        let renamed = |column: &str| -> String {
            renames
                .columns
                .iter()
                .find(|(t, old, _)| *t == new_table && *old == column)
                .map_or(column.to_string(), |(_, _, new)| new.to_string())
        };
        assert_eq!(
            old_rows.len(),
            new_rows.len(),
            "{name}: {table} lost or gained rows"
        );
        let (Some(old_first), Some(new_first)) = (old_rows.first(), new_rows.first()) else {
            continue;
        };
        let kept: Vec<(String, String)> = old_first
            .keys()
            .map(|c| (c.clone(), renamed(c)))
            .filter(|(_, new)| new_first.contains_key(new))
            .collect();
        let project = |rows: &[Row], old_names: bool| -> Vec<Vec<String>> {
            let mut projected: Vec<Vec<String>> = rows
                .iter()
                .map(|row| {
                    kept.iter()
                        .map(|(old, new)| {
                            let column = if old_names { old } else { new };
                            format!("{new}={:?}", row[column])
                        })
                        .collect()
                })
                .collect();
            projected.sort();
            projected
        };
        assert_eq!(
            project(old_rows, true),
            project(new_rows, false),
            "{name}: rows of {table} changed (before, then after)"
        );
    }
}

pub fn assert_no_dangling_references(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0, "rows reference missing parents");
}

pub fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}
