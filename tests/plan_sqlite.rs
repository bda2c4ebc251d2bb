//! `strata diff` / `apply` / `drift` on SQLite files.
//!
//! The core property is convergence with the rows kept: for schemas X and Y, applying the plan
//! X → Y to a database at X that holds rows yields a database whose snapshot equals Y's byte
//! for byte, and every row of every table is still there with the same values and storage
//! classes in every column both versions have (and the same rowid where both are rowid
//! tables). Evolutions start from `fixtures/sqlite/every_kind.sql` and touch every kind of
//! change; most are applied back (Y → X) too.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use strata::schema::Schema;
use support::strata;

// ---------------------------------------------------------------------------------------------
// Helpers

fn every_kind() -> String {
    std::fs::read_to_string(support::fixture("sqlite/every_kind.sql")).unwrap()
}

/// Rows of every table of the fixture, with values of every storage class.
const SEED: &str = r#"
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

fn text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn snapshot(db: &Path) -> String {
    support::snapshot(text(db), &[])
}

fn write_snapshot(dir: &Path, name: &str, db: &Path) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, snapshot(db)).unwrap();
    path
}

/// Applies `file` to `db`, allowing every hazard; returns stderr (the plan, then the outcome).
fn apply(file: &Path, db: &Path) -> String {
    let out = support::apply_all(file, text(db));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "apply failed:\n{stderr}");
    stderr
}

/// Replaces each `from` with its `to`, failing when `from` is not there (a fixture changed).
fn edit(sql: &str, edits: &[(&str, &str)]) -> String {
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
type Row = BTreeMap<String, Value>;

/// Every table's rows, by table name.
fn rows(db: &Path) -> BTreeMap<String, Vec<Row>> {
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
struct Renames<'a> {
    tables: &'a [(&'a str, &'a str)],
    columns: &'a [(&'a str, &'a str, &'a str)],
}

/// Every row of every table of `before` is in `after` with the same values in every column
/// both have (after renames), and the same rowid when both are rowid tables.
fn assert_rows_kept(
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

/// X → Y on a database holding the fixture's rows converges and keeps them; then Y → X.
fn converges(name: &str, x: &str, y: &str) {
    converges_with(name, x, SEED, y, &Renames::default(), |_| {});
}

/// X (with `rows_sql`) → Y converges and keeps the rows, `hint` adding `renamed_from` keys to
/// Y's schema file; then Y → X, unless the plan renames (that only goes one way).
fn converges_with(
    name: &str,
    x: &str,
    rows_sql: &str,
    y: &str,
    renames: &Renames,
    hint: impl Fn(&mut Schema),
) {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "x.db", &format!("{x}\n{rows_sql}"));
    let x_file = write_snapshot(dir.path(), "x", &db);
    let y_db = support::sqlite_file(dir.path(), "y.db", y);
    let y_text = snapshot(&y_db);
    let mut desired = Schema::load(&write_snapshot(dir.path(), "y", &y_db)).unwrap();
    hint(&mut desired);
    let y_file = dir.path().join("desired.yaml");
    std::fs::write(&y_file, desired.to_yaml()).unwrap();

    let before = rows(&db);
    let plan = apply(&y_file, &db);
    assert!(
        plan.starts_with("-- Plan:"),
        "{name}: the plan is shown first:\n{plan}"
    );
    let after = snapshot(&db);
    assert!(
        after == y_text,
        "{name}: X → Y did not converge; {}\nplan:\n{plan}",
        support::first_difference(&after, &y_text)
    );
    let residual = strata(&["diff", text(&db), text(&y_file)]);
    assert_eq!(
        residual.status.code(),
        Some(0),
        "{name}: residual plan:\n{}",
        String::from_utf8_lossy(&residual.stdout)
    );
    let kept = rows(&db);
    assert_rows_kept(name, &before, &kept, renames);
    assert_no_dangling_references(&db);

    if !renames.tables.is_empty() || !renames.columns.is_empty() {
        return;
    }
    apply(&x_file, &db);
    let back = snapshot(&db);
    let x_text = std::fs::read_to_string(&x_file).unwrap();
    assert!(
        back == x_text,
        "{name}: Y → X did not converge; {}",
        support::first_difference(&back, &x_text)
    );
    assert_rows_kept(name, &kept, &rows(&db), &Renames::default());
}

fn assert_no_dangling_references(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0, "rows reference missing parents");
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Convergence with rows kept

#[test]
fn converges_on_columns_added_dropped_and_retyped() {
    let x = every_kind();
    let y = edit(
        &x,
        &[
            // Retyped (same affinity): the table is rebuilt.
            (
                "\"display name\" VARCHAR(80)",
                "\"display name\" VARCHAR(120)",
            ),
            // Added at the end: ALTER TABLE ADD COLUMN.
            (
                "status TEXT NOT NULL DEFAULT 'new',",
                "status TEXT NOT NULL DEFAULT 'new',\n    note TEXT DEFAULT '-',",
            ),
            // Dropped, used by nothing: ALTER TABLE DROP COLUMN.
            (
                "\"what happened\" TEXT,\n    payload ANY",
                "\"what happened\" TEXT",
            ),
            // Added in the middle of a WITHOUT ROWID table with generated columns: rebuilt.
            (
                "name TEXT NOT NULL,",
                "name TEXT NOT NULL,\n    origin TEXT DEFAULT 'here',",
            ),
        ],
    );
    converges("columns", &x, &y);
}

#[test]
fn converges_on_not_null_added_and_dropped() {
    let x = every_kind();
    let y = edit(
        &x,
        &[
            (
                "quantity INTEGER NOT NULL DEFAULT 1",
                "quantity INTEGER DEFAULT 1",
            ),
            (
                "\"display name\" VARCHAR(80) DEFAULT 'anonymous'",
                "\"display name\" VARCHAR(80) NOT NULL DEFAULT 'anonymous'",
            ),
        ],
    );
    converges("not_null", &x, &y);
}

#[test]
fn converges_on_checks_added_dropped_and_changed() {
    let x = every_kind();
    let y = edit(
        &x,
        &[
            (
                "    PRIMARY KEY (sku)",
                "    CONSTRAINT sku_not_empty CHECK (length(sku) > 0),\n    PRIMARY KEY (sku)",
            ),
            (
                "CHECK (quantity > 0) CHECK (line > 0)",
                "CHECK (quantity > 0)",
            ),
            ("CHECK (credit >= -1)", "CHECK (credit >= -5)"),
        ],
    );
    converges("checks", &x, &y);
}

#[test]
fn converges_on_foreign_key_and_index_changes() {
    let x = every_kind();
    let y = edit(
        &x,
        &[
            (
                "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
                "ON DELETE RESTRICT",
            ),
            (
                "customer_id INTEGER NOT NULL\n        REFERENCES customer (id) ON DELETE CASCADE ON UPDATE NO ACTION,",
                "customer_id INTEGER NOT NULL,",
            ),
            ("WHERE status <> 'shipped'", "WHERE status = 'new'"),
            (
                "CREATE INDEX order_item_sku ON order_item (sku, quantity DESC);",
                "CREATE INDEX product_name ON product (name);",
            ),
            (
                "CREATE UNIQUE INDEX customer_email_lower ON customer (lower(email));",
                "CREATE UNIQUE INDEX customer_email_lower ON customer (lower(email), id);",
            ),
        ],
    );
    converges("foreign_keys_indexes", &x, &y);
}

#[test]
fn converges_on_without_rowid_and_strict_changes() {
    let x = every_kind();
    let y = edit(
        &x,
        &[
            (
                "    PRIMARY KEY (sku)\n) WITHOUT ROWID;",
                "    PRIMARY KEY (sku)\n);",
            ),
            (
                "CHECK (quantity > 0) CHECK (line > 0)\n);",
                "CHECK (quantity > 0) CHECK (line > 0)\n) WITHOUT ROWID;",
            ),
            ("ON CONFLICT IGNORE\n);", "ON CONFLICT IGNORE\n) STRICT;"),
            ("payload ANY\n) STRICT;", "payload ANY\n);"),
        ],
    );
    converges("rowid_strict", &x, &y);
}

#[test]
fn converges_on_view_and_trigger_changes() {
    let x = every_kind();
    let y = edit(
        &x,
        &[
            (
                "sum(i.quantity * p.price) AS total",
                "sum(i.quantity * p.price) AS total, count(*) AS lines",
            ),
            (
                "-- A view on a view, with a name that needs quoting.\nCREATE VIEW [big orders] AS\n    SELECT order_id, total FROM order_total WHERE total > 100;",
                "",
            ),
            (
                "CREATE TRIGGER big_orders_read_only INSTEAD OF INSERT ON [big orders]\nBEGIN\n    SELECT RAISE(ABORT, 'big orders is read-only');\nEND;",
                "CREATE TRIGGER customer_touch AFTER UPDATE OF email ON customer\nBEGIN\n    UPDATE customer SET created_at = datetime('now') WHERE id = NEW.id;\nEND;",
            ),
            ("'order ' || NEW.id", "'order placed ' || NEW.id"),
        ],
    );
    converges("views_triggers", &x, &y);
}

#[test]
fn converges_on_autoincrement_column_order_defaults_and_collation() {
    let x = every_kind();
    let y = edit(
        &x,
        &[
            (
                "id INTEGER PRIMARY KEY AUTOINCREMENT,",
                "id INTEGER PRIMARY KEY,",
            ),
            (
                "    placed_at TEXT NOT NULL,\n    status TEXT NOT NULL DEFAULT 'new',",
                "    status TEXT NOT NULL DEFAULT 'paid',\n    placed_at TEXT NOT NULL,",
            ),
            (
                "`name` TEXT NOT NULL,",
                "`name` TEXT NOT NULL COLLATE NOCASE,",
            ),
        ],
    );
    converges("autoincrement_order_defaults", &x, &y);
}

/// The fixture as Strata renders it: every constraint named explicitly.
fn every_kind_rendered() -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "rendered.db", &every_kind());
    support::snapshot(text(&db), &["--format", "sql"])
}

#[test]
fn converges_on_tables_added_dropped_and_renamed() {
    // Unnamed constraints take their names from the table: renaming the table renames them.
    tables_added_dropped_and_renamed("tables", &every_kind());
    // Named ones keep their names through a rename.
    tables_added_dropped_and_renamed("tables_named", &every_kind_rendered());
}

fn tables_added_dropped_and_renamed(name: &str, x: &str) {
    let y = edit(
        &every_kind(),
        &[
            ("CREATE TABLE customer (", "CREATE TABLE client ("),
            ("REFERENCES customer (id)", "REFERENCES client (id)"),
            ("ON customer (lower(email))", "ON client (lower(email))"),
            ("    placed_at TEXT NOT NULL,", "    ordered_at TEXT NOT NULL,"),
            ("ON \"order\" (placed_at)", "ON \"order\" (ordered_at)"),
            (
                "CREATE TABLE `tag` (\n    `name` TEXT NOT NULL,\n    UNIQUE (`name` COLLATE NOCASE) ON CONFLICT IGNORE\n);",
                "CREATE TABLE supplier (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
            ),
        ],
    );
    let renames = Renames {
        tables: &[("customer", "client")],
        columns: &[("order", "placed_at", "ordered_at")],
    };
    converges_with(name, x, SEED, &y, &renames, |schema| {
        for table in &mut schema.tables {
            if table.name == "client" {
                table.renamed_from = Some("customer".into());
            }
            if table.name == "order" {
                for column in &mut table.columns {
                    if column.name == "ordered_at" {
                        column.renamed_from = Some("placed_at".into());
                    }
                }
            }
        }
    });
}

/// What a user does: edit the snapshot, renaming a table and columns (with `renamed_from`)
/// and the definitions that name them, and leave constraint names alone.
#[test]
fn renames_written_into_the_snapshot_keep_rows_and_constraint_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "x.db", &format!("{}\n{SEED}", every_kind()));
    let before = rows(&db);
    let mut desired = Schema::parse(&snapshot(&db), "snapshot").unwrap();
    for table in &mut desired.tables {
        if table.name == "customer" {
            table.name = "client".into();
            table.renamed_from = Some("customer".into());
            for column in &mut table.columns {
                if column.name == "email" {
                    column.name = "mail".into();
                    column.renamed_from = Some("email".into());
                }
            }
            for key in &mut table.constraints {
                key.definition = key.definition.replace("\"email\"", "\"mail\"");
                for column in &mut key.columns {
                    if column == "email" {
                        *column = "mail".into();
                    }
                }
            }
            for index in &mut table.indexes {
                index.definition = index
                    .definition
                    .replace("ON customer (lower(email))", "ON client (lower(mail))");
            }
        }
        if table.name == "order" {
            for key in &mut table.constraints {
                key.definition = key.definition.replace("\"customer\"", "\"client\"");
                if let Some(parent) = &mut key.references {
                    parent.table = parent.table.replace("customer", "client");
                }
            }
        }
    }
    let file = dir.path().join("desired.yaml");
    std::fs::write(&file, desired.to_yaml()).unwrap();
    let plan = apply(&file, &db);
    assert!(plan.contains("RENAME TO \"client\""), "{plan}");
    assert!(
        plan.contains("RENAME COLUMN \"email\" TO \"mail\""),
        "{plan}"
    );

    for table in &mut desired.tables {
        table.renamed_from = None;
        for column in &mut table.columns {
            column.renamed_from = None;
        }
    }
    let expected = desired.to_yaml();
    let after = snapshot(&db);
    assert!(
        after == expected,
        "did not converge; {}",
        support::first_difference(&after, &expected)
    );
    let renames = Renames {
        tables: &[("customer", "client")],
        columns: &[("client", "email", "mail")],
    };
    assert_rows_kept("renames", &before, &rows(&db), &renames);
    assert_no_dangling_references(&db);
}

#[test]
fn a_database_own_snapshot_plans_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "own.db", &format!("{}\n{SEED}", every_kind()));
    let file = write_snapshot(dir.path(), "own", &db);
    let diff = strata(&["diff", text(&db), text(&file)]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "false differences:\n{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    let drift = strata(&["drift", text(&file), &format!("sqlite:{}", text(&db))]);
    assert_eq!(drift.status.code(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// Foreign keys: the cascade trap and dangling references

const FAMILY: &str = "
    CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE child (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE,
        note TEXT
    );
    CREATE TABLE grandchild (id INTEGER PRIMARY KEY, child_id INTEGER REFERENCES child (id) ON DELETE CASCADE);
    CREATE TABLE orphanable (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE SET NULL);
    CREATE TABLE employee (
        id INTEGER PRIMARY KEY,
        manager_id INTEGER REFERENCES employee (id) ON DELETE CASCADE,
        name TEXT
    );
    CREATE VIEW family AS SELECT p.name, c.note FROM parent p JOIN child c ON c.parent_id = p.id;";

const FAMILY_ROWS: &str = "
    INSERT INTO parent VALUES (1, 'one'), (2, 'two');
    INSERT INTO child VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c');
    INSERT INTO grandchild VALUES (100, 10), (101, 12);
    INSERT INTO orphanable VALUES (7, 2);
    INSERT INTO employee VALUES (1, NULL, 'boss'), (2, 1, 'worker'), (3, 2, 'intern');";

/// The parent (and the self-referencing table) are rebuilt: dropping the old version must not
/// cascade to the children.
fn family_change() -> String {
    edit(
        FAMILY,
        &[
            (
                "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);",
                "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, born INTEGER);",
            ),
            (
                "        name TEXT\n    );",
                "        name VARCHAR(40) NOT NULL\n    );",
            ),
        ],
    )
}

#[test]
fn rebuilding_a_parent_keeps_child_rows_that_cascade_on_delete() {
    converges_with(
        "cascade",
        FAMILY,
        FAMILY_ROWS,
        &family_change(),
        &Renames::default(),
        |_| {},
    );
}

/// The same plan run with foreign keys enforced loses the children: the trap is real, and
/// the apply above avoids it.
#[test]
fn the_same_rebuild_with_foreign_keys_on_would_delete_children() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "x.db", &format!("{FAMILY} {FAMILY_ROWS}"));
    let y = support::sqlite_file(dir.path(), "y.db", &family_change());
    let plan = strata(&["diff", text(&db), text(&y), "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    for step in plan["steps"].as_array().unwrap() {
        conn.execute_batch(step["sql"].as_str().unwrap()).unwrap();
    }
    assert_eq!(count(&db, "SELECT count(*) FROM child"), 0);
    // The new employee table references "employee" by name: while the old one is dropped,
    // its implicit delete cascades into the copied rows.
    assert!(count(&db, "SELECT count(*) FROM employee") < 3);
}

#[test]
fn a_rebuild_that_would_leave_dangling_references_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let x = "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER);
             INSERT INTO parent VALUES (1);
             INSERT INTO child VALUES (10, 1), (11, 99);";
    let db = support::sqlite_file(dir.path(), "x.db", x);
    let y = support::sqlite_file(
        dir.path(),
        "y.db",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));",
    );
    let file = write_snapshot(dir.path(), "y", &y);

    let dry = strata(&["apply", text(&file), "--to", text(&db), "--dry-run"]);
    let shown = String::from_utf8_lossy(&dry.stdout);
    assert!(
        shown.contains("pre-check: 1 existing row(s) would make this step fail"),
        "{shown}"
    );
    let bytes = std::fs::read(&db).unwrap();
    let out = support::apply_all(&file, text(&db));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("child rowid 11 → parent") && stderr.contains("rolled back"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the file changed");
}

// ---------------------------------------------------------------------------------------------
// Failures leave the file as it was

#[test]
fn a_failing_rebuild_leaves_the_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let x = every_kind();
    let db = support::sqlite_file(dir.path(), "x.db", &format!("{x}\n{SEED}"));
    // Bob's credit is NULL.
    let y = edit(
        &x,
        &[(
            "credit NUMERIC(10, 2) DEFAULT -1",
            "credit NUMERIC(10, 2) NOT NULL DEFAULT -1",
        )],
    );
    let file = write_snapshot(
        dir.path(),
        "y",
        &support::sqlite_file(dir.path(), "y.db", &y),
    );

    let dry = strata(&[
        "apply",
        text(&file),
        "--to",
        text(&db),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(dry.status.code(), Some(0));
    let outcome: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(outcome["applied"], false);
    let violations: Vec<i64> = outcome["prechecks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["violations"].as_i64().unwrap())
        .collect();
    assert!(violations.contains(&1), "{outcome}");

    let (bytes, schema, before) = (std::fs::read(&db).unwrap(), snapshot(&db), rows(&db));
    let out = support::apply_all(&file, text(&db));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("copy its rows") && stderr.contains("NOT NULL constraint failed"),
        "{stderr}"
    );
    assert_eq!(snapshot(&db), schema);
    assert_eq!(rows(&db), before);
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the file changed");
}

#[test]
fn a_locked_database_waits_for_the_lock_timeout_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let x = every_kind();
    let db = support::sqlite_file(dir.path(), "x.db", &x);
    let y = edit(
        &x,
        &[(
            "status TEXT NOT NULL DEFAULT 'new'",
            "status TEXT NOT NULL DEFAULT 'paid'",
        )],
    );
    let file = write_snapshot(
        dir.path(),
        "y",
        &support::sqlite_file(dir.path(), "y.db", &y),
    );

    let writer = rusqlite::Connection::open(&db).unwrap();
    writer
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO tag VALUES ('held');")
        .unwrap();
    let started = Instant::now();
    let out = strata(&[
        "apply",
        text(&file),
        "--to",
        text(&db),
        "--yes",
        "--lock-timeout",
        "600ms",
    ]);
    let waited = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("locked") && stderr.contains("--lock-timeout"),
        "{stderr}"
    );
    assert!(
        waited >= Duration::from_millis(600),
        "gave up after {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");

    writer.execute_batch("COMMIT").unwrap();
    apply(&file, &db);
    assert_eq!(
        count(&db, "SELECT count(*) FROM tag WHERE name = 'held'"),
        1
    );
}

/// Makes `path` unwritable for [`support::strata_unprivileged`]: as root (who writes
/// anything) the file stays root's and strata runs as `nobody`.
fn make_read_only(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn nobody_owns(path: &Path) {
    let id = |flag: &str| -> u32 {
        let out = std::process::Command::new("id")
            .args([flag, "nobody"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    std::os::unix::fs::chown(path, Some(id("-u")), Some(id("-g"))).unwrap();
}

#[test]
fn a_read_only_file_or_directory_fails_apply_clearly_and_still_snapshots() {
    let x = every_kind();
    let y = edit(
        &x,
        &[(
            "status TEXT NOT NULL DEFAULT 'new'",
            "status TEXT NOT NULL DEFAULT 'paid'",
        )],
    );
    for unwritable in ["file", "directory"] {
        let scratch = tempfile::tempdir().unwrap();
        let file = write_snapshot(
            scratch.path(),
            "y",
            &support::sqlite_file(scratch.path(), "y.db", &y),
        );
        make_read_only(scratch.path(), 0o755);
        make_read_only(&file, 0o644);
        let dir = scratch.path().join(unwritable);
        std::fs::create_dir(&dir).unwrap();
        let db = support::sqlite_file(&dir, "x.db", &x);
        match (unwritable, support::is_root()) {
            ("file", true) => make_read_only(&db, 0o644),
            ("file", false) => make_read_only(&db, 0o444),
            (_, true) => nobody_owns(&db),
            (_, false) => {}
        }
        make_read_only(&dir, if unwritable == "file" { 0o755 } else { 0o555 });

        let snapshot = support::strata_unprivileged(&["snapshot", text(&db)]);
        assert!(
            snapshot.status.success(),
            "{}",
            String::from_utf8_lossy(&snapshot.stderr)
        );
        let out = support::strata_unprivileged(&["apply", text(&file), "--to", text(&db), "--yes"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{unwritable}: {stderr}");
        let expected: &[&str] = if unwritable == "file" {
            &["the file is read-only", "apply needs write access"]
        } else {
            &["create its journal", "must be writable", "rolled back"]
        };
        assert!(
            expected.iter().all(|e| stderr.contains(e)),
            "{unwritable}: {stderr}"
        );
        make_read_only(&dir, 0o755);
        assert_eq!(
            snapshot.stdout,
            support::strata(&["snapshot", text(&db)]).stdout
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Commands around the plan: drift, diff between files and databases, reviewed plans

#[test]
fn drift_and_diff_exit_codes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let x = every_kind();
    let db = support::sqlite_file(dir.path(), "x.db", &x);
    let y = edit(
        &x,
        &[(
            "CREATE INDEX order_item_sku",
            "CREATE INDEX order_item_sku_2",
        )],
    );
    let y_db = support::sqlite_file(dir.path(), "y.db", &y);
    let file = write_snapshot(dir.path(), "y", &y_db);
    let url = format!("sqlite:{}", text(&db));

    let drift = strata(&["drift", text(&file), &url, "--json"]);
    assert_eq!(drift.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&drift.stdout).unwrap();
    assert_eq!(doc["drift"], true);
    assert_eq!(doc["summary"]["added"]["index"], 1);
    assert_eq!(doc["summary"]["removed"]["index"], 1);
    let diff = strata(&["diff", &url, &format!("sqlite:{}", text(&y_db))]);
    assert_eq!(diff.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("CREATE INDEX order_item_sku_2"));

    apply(&file, &db);
    assert_eq!(strata(&["drift", text(&file), &url]).status.code(), Some(0));
    assert_eq!(strata(&["diff", &url, text(&y_db)]).status.code(), Some(0));
}

#[test]
fn a_reviewed_plan_applies_as_reviewed_and_goes_stale_when_the_database_changes() {
    let dir = tempfile::tempdir().unwrap();
    let x = every_kind();
    let db = support::sqlite_file(dir.path(), "x.db", &format!("{x}\n{SEED}"));
    let y = edit(
        &x,
        &[("\"display name\" VARCHAR(80)", "nickname VARCHAR(80)")],
    );
    let file = write_snapshot(
        dir.path(),
        "y",
        &support::sqlite_file(dir.path(), "y.db", &y),
    );
    let plan_path = dir.path().join("plan.json");
    let plan = strata(&["diff", text(&db), text(&file), "--format", "json"]);
    std::fs::write(&plan_path, &plan.stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(doc["engine"], "sqlite");
    let kinds: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["hazards"].as_array().into_iter().flatten())
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"data-loss") && kinds.contains(&"possible-rename"),
        "{kinds:?}"
    );

    // Data loss is refused unless allowed.
    let refused = strata(&[
        "apply",
        text(&file),
        "--to",
        text(&db),
        "--plan",
        text(&plan_path),
        "--yes",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-hazard data-loss"));

    let stale = support::sqlite_file(dir.path(), "stale.db", &format!("{x}\n{SEED}"));
    rusqlite::Connection::open(&stale)
        .unwrap()
        .execute_batch("CREATE TABLE extra (id INTEGER)")
        .unwrap();
    let out = strata(&[
        "apply",
        text(&file),
        "--to",
        text(&stale),
        "--plan",
        text(&plan_path),
        "--yes",
        "--allow-hazard",
        "data-loss",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has changed since the plan was made"));

    let out = strata(&[
        "apply",
        text(&file),
        "--to",
        text(&db),
        "--plan",
        text(&plan_path),
        "--yes",
        "--allow-hazard",
        "data-loss",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["applied"], true);
    assert_eq!(outcome["plan"], doc);
    assert_eq!(snapshot(&db), std::fs::read_to_string(&file).unwrap());
}

// ---------------------------------------------------------------------------------------------
// A real sample database

#[test]
fn chinook_keeps_every_row_through_a_rebuild_of_a_table_with_children() {
    let Some(original) = support::shared_fixture("chinook/Chinook_Sqlite.sqlite") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chinook.db");
    std::fs::copy(&original, &db).unwrap();
    let mut desired = Schema::parse(&snapshot(&db), "chinook").unwrap();
    for table in &mut desired.tables {
        let changed = match table.name.as_str() {
            // Tracks reference albums: the album table is rebuilt under them.
            "Album" => "Title",
            // Albums reference artists: a column added in place.
            "Artist" => "",
            _ => continue,
        };
        for column in &mut table.columns {
            if column.name == changed {
                column.data_type = "NVARCHAR(200)".into();
            }
        }
        let mut added = table.columns[0].clone();
        added.name = "Note".into();
        added.data_type = "TEXT".into();
        added.not_null = false;
        added.default = Some("'-'".into());
        added.identity = None;
        table.columns.push(added);
    }
    let file = dir.path().join("desired.yaml");
    std::fs::write(&file, desired.to_yaml()).unwrap();

    let before = rows(&db);
    let plan = apply(&file, &db);
    assert!(plan.contains("rebuild table Album"), "{plan}");
    assert!(plan.contains("ALTER TABLE \"Artist\" ADD COLUMN"), "{plan}");
    assert_eq!(snapshot(&db), desired.to_yaml());
    assert_rows_kept("chinook", &before, &rows(&db), &Renames::default());
    assert_no_dangling_references(&db);
    assert_eq!(
        count(&db, "SELECT count(*) FROM Track WHERE AlbumId IS NOT NULL"),
        3503
    );
}
