//! `strata apply` / `drift` / `diff` on SQLite files: what happens when a plan cannot run (the
//! file is left exactly as it was), locks and permissions, reviewed plans, exit codes, and a
//! real sample database.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use strata::schema::Schema;
use support::sqlite::*;
use support::strata;

/// A change that rebuilds a table ("order") and its dependents.
const NEW_DEFAULT: &[(&str, &str)] = &[(
    "status TEXT NOT NULL DEFAULT 'new'",
    "status TEXT NOT NULL DEFAULT 'paid'",
)];

// ---------------------------------------------------------------------------------------------
// Foreign keys

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
    let db = support::sqlite_file(dir.path(), "x.db", &format!("{}\n{SEED}", every_kind()));
    // Bob's credit is NULL.
    let file = edited_schema_file(
        dir.path(),
        &[(
            "credit NUMERIC(10, 2) DEFAULT -1",
            "credit NUMERIC(10, 2) NOT NULL DEFAULT -1",
        )],
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

/// A definition that does not create the object its entry names is still to be made after the
/// plan ran: here the two views' definitions are swapped, so the plan recreates each from the
/// other's text and the database ends up as it was. Apply's check inside the transaction finds
/// them, names a view and both forms, says how to write the file, and rolls back.
#[test]
fn a_definition_sqlite_stores_differently_fails_the_residual_check_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "x.db", &format!("{}\n{SEED}", every_kind()));
    let mut desired = Schema::parse(&snapshot(&db), "snapshot").unwrap();
    let definition = |name: &str| -> String {
        let view = desired.views.iter().find(|v| v.name == name).unwrap();
        view.definition.clone()
    };
    let (order_total, big_orders) = (definition("order_total"), definition("big orders"));
    assert!(order_total.starts_with("CREATE VIEW order_total AS SELECT"));
    assert!(big_orders.starts_with("CREATE VIEW [big orders] AS SELECT"));
    for view in &mut desired.views {
        if view.name == "order_total" {
            view.definition = big_orders.clone();
        } else if view.name == "big orders" {
            view.definition = order_total.clone();
        }
    }
    let file = dir.path().join("desired.yaml");
    std::fs::write(&file, desired.to_yaml()).unwrap();

    let (bytes, schema, before) = (std::fs::read(&db).unwrap(), snapshot(&db), rows(&db));
    let out = support::apply_all(&file, text(&db));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let expected = [
        "step(s) were still needed (",
        "recreate view order_total [CREATE VIEW [big orders] AS SELECT",
        "view order_total is stored as `CREATE VIEW order_total AS SELECT",
        "where the file has `CREATE VIEW [big orders] AS SELECT",
        "the transaction was rolled back and the database is unchanged",
        "write them in the schema file as `strata snapshot` prints them",
    ];
    assert!(expected.iter().all(|e| stderr.contains(e)), "{stderr}");
    assert_eq!(snapshot(&db), schema);
    assert_eq!(rows(&db), before);
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the file changed");
}

#[test]
fn a_locked_database_waits_for_the_lock_timeout_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "x.db", &every_kind());
    let file = edited_schema_file(dir.path(), NEW_DEFAULT);

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
    for unwritable in ["file", "directory"] {
        let scratch = tempfile::tempdir().unwrap();
        let file = edited_schema_file(scratch.path(), NEW_DEFAULT);
        make_read_only(scratch.path(), 0o755);
        make_read_only(&file, 0o644);
        let dir = scratch.path().join(unwritable);
        std::fs::create_dir(&dir).unwrap();
        let db = support::sqlite_file(&dir, "x.db", &every_kind());
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
    let x = format!("{}\n{SEED}", every_kind());
    let db = support::sqlite_file(dir.path(), "x.db", &x);
    let file = edited_schema_file(
        dir.path(),
        &[("\"display name\" VARCHAR(80)", "nickname VARCHAR(80)")],
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

    let stale = support::sqlite_file(dir.path(), "stale.db", &x);
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
