//! `strata diff` / `apply` on SQLite files: convergence with the rows kept.
//!
//! For schemas X and Y, applying the plan X → Y to a database at X that holds rows yields a
//! database whose snapshot equals Y's byte for byte, and every row of every table is still
//! there with the same values and storage classes in every column both versions have (and the
//! same rowid where both are rowid tables). Evolutions start from
//! `fixtures/sqlite/every_kind.sql` and touch every kind of change; most are applied back
//! (Y → X) too. Failures, locks, permissions and the other commands are in `apply_sqlite.rs`.

mod support;

use std::path::Path;

use rusqlite::types::Value;
use strata::schema::Schema;
use support::sqlite::*;
use support::strata;

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
    apply_converging(&format!("{name}: X → Y"), &y_file, &db, &y_text);
    let kept = rows(&db);
    assert_rows_kept(name, &before, &kept, renames);
    assert_no_dangling_references(&db);

    if !renames.tables.is_empty() || !renames.columns.is_empty() {
        return;
    }
    let x_text = std::fs::read_to_string(&x_file).unwrap();
    apply_converging(&format!("{name}: Y → X"), &x_file, &db, &x_text);
    assert_rows_kept(name, &kept, &rows(&db), &Renames::default());
}

/// Applies `file` to `db` allowing every hazard: the plan is shown first, the database's
/// snapshot is then `expected` byte for byte, and planning again finds nothing to do.
/// Returns the plan as shown.
fn apply_converging(what: &str, file: &Path, db: &Path, expected: &str) -> String {
    let plan = apply(file, db);
    assert!(
        plan.starts_with("-- Plan:"),
        "{what}: the plan is shown first:\n{plan}"
    );
    let after = snapshot(db);
    assert!(
        after == expected,
        "{what} did not converge; {}\nplan:\n{plan}",
        support::first_difference(&after, expected)
    );
    let residual = strata(&["diff", text(db), text(file)]);
    assert_eq!(
        residual.status.code(),
        Some(0),
        "{what}: residual plan:\n{}",
        String::from_utf8_lossy(&residual.stdout)
    );
    plan
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

/// A table whose columns hold values of every storage class, to retype across affinities.
const READINGS: &str =
    "CREATE TABLE reading (id INTEGER PRIMARY KEY, code TEXT, amount INTEGER, ratio REAL, taken NUMERIC);";

/// Inserting already applies each column's affinity: see [`readings`] for what is stored.
const READING_ROWS: &str = "
INSERT INTO reading VALUES
    (1, '007', 42, 3, '2024-05-01'),
    (2, '12.50', 2.5, 0.5, 20240501),
    (3, '1e3', 'n/a', 1e20, 1.25),
    (4, ' 42 ', 9007199254740993, 'high', '1.50'),
    (5, '0x1F', x'ff', NULL, NULL),
    (6, 'abc', 0.1 + 0.2, 2.5e-7, 'now'),
    (7, NULL, '0012', 9223372036854775808.0, x'00'),
    (8, x'3037', -0, -3.0, '  7 ');";

fn t(text: &str) -> Value {
    Value::Text(text.into())
}

/// Each column of `reading`, row by row (ids 1 to 8): the value stored in X (code TEXT,
/// amount INTEGER, ratio REAL, taken NUMERIC), after X → Y (code INTEGER, amount TEXT, ratio
/// INTEGER, taken DATETIME), and after Y → X. The rebuild's copy stores every value under the
/// new column's affinity, as an INSERT would (<https://www.sqlite.org/datatype3.html>).
fn readings() -> Vec<(&'static str, [[Value; 3]; 8])> {
    use Value::{Blob, Integer, Null, Real};
    vec![
        // TEXT → INTEGER → TEXT: text that reads as a number becomes that number (leading
        // zeros, trailing zeros, exponent and surrounding spaces are gone for good); other
        // text, NULL and blobs stay as they are.
        (
            "code",
            [
                [t("007"), Integer(7), t("7")],
                [t("12.50"), Real(12.5), t("12.5")],
                [t("1e3"), Integer(1000), t("1000")],
                [t(" 42 "), Integer(42), t("42")],
                [t("0x1F"), t("0x1F"), t("0x1F")],
                [t("abc"), t("abc"), t("abc")],
                [Null, Null, Null],
                [
                    Blob(b"07".to_vec()),
                    Blob(b"07".to_vec()),
                    Blob(b"07".to_vec()),
                ],
            ],
        ),
        // INTEGER → TEXT → INTEGER: numbers become their text (a REAL in full precision) and
        // come back as the same numbers.
        (
            "amount",
            [
                [Integer(42), t("42"), Integer(42)],
                [Real(2.5), t("2.5"), Real(2.5)],
                [t("n/a"), t("n/a"), t("n/a")],
                [
                    Integer(9007199254740993),
                    t("9007199254740993"),
                    Integer(9007199254740993),
                ],
                [Blob(vec![0xff]), Blob(vec![0xff]), Blob(vec![0xff])],
                [Real(0.1 + 0.2), t("0.30000000000000004"), Real(0.1 + 0.2)],
                [Integer(12), t("12"), Integer(12)],
                [Integer(0), t("0"), Integer(0)],
            ],
        ),
        // REAL → INTEGER → REAL: a whole REAL that fits in 64 bits becomes an integer, and a
        // REAL again on the way back; fractions, too large values and text stay.
        (
            "ratio",
            [
                [Real(3.0), Integer(3), Real(3.0)],
                [Real(0.5), Real(0.5), Real(0.5)],
                [Real(1e20), Real(1e20), Real(1e20)],
                [t("high"), t("high"), t("high")],
                [Null, Null, Null],
                [Real(2.5e-7), Real(2.5e-7), Real(2.5e-7)],
                [
                    Real(9223372036854775808.0),
                    Real(9223372036854775808.0),
                    Real(9223372036854775808.0),
                ],
                [Real(-3.0), Integer(-3), Real(-3.0)],
            ],
        ),
        // NUMERIC → DATETIME → NUMERIC: the same affinity, nothing changes.
        (
            "taken",
            [
                [t("2024-05-01"), t("2024-05-01"), t("2024-05-01")],
                [Integer(20240501), Integer(20240501), Integer(20240501)],
                [Real(1.25), Real(1.25), Real(1.25)],
                [Real(1.5), Real(1.5), Real(1.5)],
                [Null, Null, Null],
                [t("now"), t("now"), t("now")],
                [Blob(vec![0]), Blob(vec![0]), Blob(vec![0])],
                [Integer(7), Integer(7), Integer(7)],
            ],
        ),
    ]
}

/// Checks every row of `reading` against [`readings`] at `stage` (0: X, 1: Y, 2: back to X).
fn assert_readings(what: &str, all: &std::collections::BTreeMap<String, Vec<Row>>, stage: usize) {
    let rows = &all["reading"];
    assert_eq!(rows.len(), 8, "{what}: reading lost or gained rows");
    for (i, row) in rows.iter().enumerate() {
        let id = Value::Integer(i as i64 + 1);
        assert_eq!((&row["(rowid)"], &row["id"]), (&id, &id), "{what}: {row:?}");
        for (column, values) in readings() {
            assert_eq!(
                row[column],
                values[i][stage],
                "{what}: reading.{column} of row {}",
                i + 1
            );
        }
    }
}

/// The plan to `file` marks as data loss exactly the retypes of `columns` (`table.column`),
/// and apply refuses it without `--allow-hazard data-loss`, leaving the file as it was.
fn refuses_retypes_as_data_loss(what: &str, file: &Path, db: &Path, columns: &[&str]) {
    let plan = strata(&["diff", text(db), text(file), "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let mut lossy: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["hazards"].as_array().into_iter().flatten())
        .filter(|h| h["kind"] == "data-loss")
        .map(|h| {
            let message = h["message"].as_str().unwrap();
            message.split(" changes from ").next().unwrap()
        })
        .collect();
    lossy.sort_unstable();
    assert_eq!(lossy, columns, "{what}: data-loss hazards");

    let bytes = std::fs::read(db).unwrap();
    let refused = strata(&["apply", text(file), "--to", text(db), "--yes"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{what}: {stderr}");
    assert!(
        stderr.contains("--allow-hazard data-loss")
            && columns
                .iter()
                .all(|c| stderr.contains(&format!("{c} changes from"))),
        "{what}: {stderr}"
    );
    assert_eq!(
        std::fs::read(db).unwrap(),
        bytes,
        "{what}: the file changed"
    );
}

/// Retyping columns across affinities rebuilds their tables, and the copied values take the
/// new affinity ([`readings`] says what each one becomes). Only a retype that can turn text
/// into a number (or anything into a REAL) is a data-loss hazard, which apply refuses unless
/// allowed; `customer.created_at` (dates as text, TEXT → DATETIME) is one, though its dates
/// stay text. Every other value of every table is kept.
#[test]
fn converges_on_types_changed_across_affinities() {
    let x = format!("{}\n{READINGS}", every_kind());
    let y = edit(
        &x,
        &[
            ("created_at TEXT NOT NULL", "created_at DATETIME NOT NULL"),
            (
                "code TEXT, amount INTEGER, ratio REAL, taken NUMERIC",
                "code INTEGER, amount TEXT, ratio INTEGER, taken DATETIME",
            ),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let rows_sql = format!("{x}\n{SEED}\n{READING_ROWS}");
    let db = support::sqlite_file(dir.path(), "x.db", &rows_sql);
    let x_file = write_snapshot(dir.path(), "x", &db);
    let y_db = support::sqlite_file(dir.path(), "y.db", &y);
    let y_file = write_snapshot(dir.path(), "y", &y_db);
    let x_text = std::fs::read_to_string(&x_file).unwrap();
    let y_text = std::fs::read_to_string(&y_file).unwrap();
    let others = |mut all: std::collections::BTreeMap<String, Vec<Row>>| {
        all.remove("reading");
        all
    };

    let before = rows(&db);
    assert_readings("X", &before, 0);
    refuses_retypes_as_data_loss(
        "X → Y",
        &y_file,
        &db,
        &["customer.created_at", "reading.code"],
    );
    apply_converging("affinities: X → Y", &y_file, &db, &y_text);
    let retyped = rows(&db);
    assert_readings("X → Y", &retyped, 1);
    let renames = Renames::default();
    assert_rows_kept(
        "affinities",
        &others(before),
        &others(retyped.clone()),
        &renames,
    );

    refuses_retypes_as_data_loss("Y → X", &x_file, &db, &["reading.amount", "reading.ratio"]);
    apply_converging("affinities: Y → X", &x_file, &db, &x_text);
    let back = rows(&db);
    assert_readings("Y → X", &back, 2);
    assert_rows_kept("affinities back", &others(retyped), &others(back), &renames);
    assert_no_dangling_references(&db);
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
// Definitions written otherwise than SQLite stores them

/// Keywords the fixture's indexes, views and triggers spell in upper case.
const FIXTURE_KEYWORDS: &[&str] = &[
    "CREATE", "UNIQUE", "INDEX", "VIEW", "TRIGGER", "ON", "WHERE", "AS", "SELECT", "FROM", "JOIN",
    "GROUP", "BY", "AFTER", "INSTEAD", "OF", "INSERT", "INTO", "VALUES", "BEGIN", "END", "DESC",
];

/// `definition` (as a snapshot prints it) split after `CREATE … INDEX|VIEW|TRIGGER`, before
/// the object's name, and joined again by `join`.
fn around_name(definition: &str, join: impl Fn(&str, &str) -> String) -> String {
    let end = ["INDEX", "VIEW", "TRIGGER"]
        .iter()
        .filter_map(|kind| definition.find(kind).map(|at| at + kind.len()))
        .min()
        .expect("a CREATE INDEX, VIEW or TRIGGER statement");
    join(&definition[..end], definition[end..].trim_start())
}

/// Ways of writing an index, view or trigger that SQLite stores, or inspection reads, as the
/// text `strata snapshot` prints: each takes that text and writes it otherwise.
type Variation = (&'static str, fn(&str) -> String);

const INSIGNIFICANT: &[Variation] = &[
    ("line breaks and spaces", |d| {
        d.replace(" ON ", "\n    ON   ")
            .replace(" AS ", "  AS\n\t")
            .replace(" BEGIN ", "\nBEGIN\n    ")
    }),
    ("comments", |d| {
        around_name(d, |create, rest| {
            format!("-- written by hand\n{create} /* its name: */ {rest} /* the end */")
        })
    }),
    ("a trailing semicolon", |d| format!("{d};\n")),
    ("lower-case keywords", |d| {
        d.split(' ')
            .map(|word| match FIXTURE_KEYWORDS.contains(&word) {
                true => word.to_lowercase(),
                false => word.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }),
    ("a main. prefix", |d| {
        around_name(d, |create, rest| format!("{create} main.{rest}"))
    }),
    ("IF NOT EXISTS", |d| {
        around_name(d, |create, rest| format!("{create} IF NOT EXISTS {rest}"))
    }),
];

/// `schema` with every index, view and trigger definition rewritten by `rewrite`.
fn rewrite_definitions(schema: &Schema, rewrite: fn(&str) -> String) -> Schema {
    let mut schema = schema.clone();
    for table in &mut schema.tables {
        for index in &mut table.indexes {
            index.definition = rewrite(&index.definition);
        }
        for trigger in &mut table.triggers {
            trigger.definition = rewrite(&trigger.definition);
        }
    }
    for view in &mut schema.views {
        view.definition = rewrite(&view.definition);
        for trigger in &mut view.triggers {
            trigger.definition = rewrite(&trigger.definition);
        }
    }
    schema
}

/// `strata diff FROM TO`'s exit code and output.
fn diff(from: &Path, to: &Path) -> (Option<i32>, String) {
    let out = strata(&["diff", text(from), text(to)]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The fixture with an index on another column, a view with another WHERE and a trigger
/// writing another text: the same objects, really changed.
fn every_kind_really_changed() -> String {
    edit(
        &every_kind(),
        &[
            ("ON \"order\" (placed_at)", "ON \"order\" (customer_id)"),
            ("GROUP BY o.id;", "WHERE i.quantity > 1\n    GROUP BY o.id;"),
            ("'order ' || NEW.id", "'order placed ' || NEW.id"),
        ],
    )
}

#[test]
fn definitions_written_otherwise_than_stored_plan_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "x.db", &every_kind());
    let stored = Schema::load(&write_snapshot(dir.path(), "x", &db)).unwrap();
    for (what, variation) in INSIGNIFICANT {
        let written = rewrite_definitions(&stored, *variation);
        assert_ne!(written, stored, "{what}: the variation changes the file");
        let file = dir.path().join("written.yaml");
        std::fs::write(&file, written.to_yaml()).unwrap();
        let (code, plan) = diff(&db, &file);
        assert_eq!(code, Some(0), "{what}: false differences:\n{plan}");
    }
}

#[test]
fn definitions_written_otherwise_than_stored_converge_from_a_real_change() {
    let dir = tempfile::tempdir().unwrap();
    let canonical = support::sqlite_file(dir.path(), "x.db", &every_kind());
    let changed = support::sqlite_file(dir.path(), "changed.db", &every_kind_really_changed());
    let stored = Schema::load(&write_snapshot(dir.path(), "x", &canonical)).unwrap();
    for (what, variation) in INSIGNIFICANT {
        let file = dir.path().join("written.yaml");
        std::fs::write(&file, rewrite_definitions(&stored, *variation).to_yaml()).unwrap();
        let db = dir.path().join("db.db");
        std::fs::copy(&changed, &db).unwrap();

        let (code, plan) = diff(&db, &file);
        assert_eq!(
            code,
            Some(1),
            "{what}: the real changes are planned:\n{plan}"
        );
        for object in ["order_open", "order_total", "order_audit"] {
            assert!(
                plan.contains(object),
                "{what}: {object} is not planned:\n{plan}"
            );
        }
        for unchanged in ["customer_email_lower", "order_item_sku"] {
            assert!(
                !plan.contains(unchanged),
                "{what}: {unchanged} is planned:\n{plan}"
            );
        }
        // `apply` succeeds only when its check inside the transaction finds nothing left.
        apply(&file, &db);
        assert_eq!(
            diff(&db, &file).0,
            Some(0),
            "{what}: the file still differs"
        );
        let (code, left) = diff(&canonical, &db);
        assert_eq!(code, Some(0), "{what}: not the file's definitions:\n{left}");
    }
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
fn a_rebuild_keeps_rowids_and_the_autoincrement_high_water_mark() {
    let dir = tempfile::tempdir().unwrap();
    let x = "CREATE TABLE counter (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
             CREATE TABLE loose (v TEXT);";
    let rows_sql = "INSERT INTO counter (v) VALUES ('a'), ('b'), ('c');
                    DELETE FROM counter WHERE id > 1;
                    INSERT INTO loose (rowid, v) VALUES (7, 'x'), (42, 'y');";
    let db = support::sqlite_file(dir.path(), "x.db", &format!("{x}\n{rows_sql}"));
    let y = "CREATE TABLE counter (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL);
             CREATE TABLE loose (v TEXT NOT NULL, w INTEGER PRIMARY KEY);";
    let file = write_snapshot(
        dir.path(),
        "y",
        &support::sqlite_file(dir.path(), "y.db", y),
    );
    let plan = apply(&file, &db);
    assert!(plan.contains("rebuild table counter") && plan.contains("rebuild table loose"));
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("INSERT INTO counter (v) VALUES ('d')", [])
        .unwrap();
    assert_eq!(
        count(&db, "SELECT max(id) FROM counter"),
        4,
        "an id was reused"
    );
    // The new rowid alias takes the old rowids.
    assert_eq!(count(&db, "SELECT sum(w) FROM loose"), 49);
}
