//! Cross-engine conversion: SQLite schemas converted to PostgreSQL load into a real server and
//! snapshot back as exactly what `strata convert --validate` wrote; `apply` of a SQLite schema
//! file to PostgreSQL converts on the fly through the same code; SQLite backups restore into
//! PostgreSQL with every row's values (after type mapping); what cannot be translated is named,
//! never dropped silently; bad input fails clearly.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use rusqlite::types::ValueRef;
use support::TestDb;

// ---------------------------------------------------------------------------------------------
// Helpers

fn build_sqlite(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let path = dir.join(name);
    rusqlite::Connection::open(&path)
        .and_then(|c| c.execute_batch(sql))
        .unwrap_or_else(|e| panic!("building {name}: {e}"));
    path
}

fn every_kind(dir: &Path) -> PathBuf {
    let sql = std::fs::read_to_string(support::fixture("sqlite/every_kind.sql")).unwrap();
    build_sqlite(dir, "every_kind.db", &sql)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn succeeded(out: Output, what: &str) -> Output {
    assert!(out.status.success(), "{what} failed: {}", stderr(&out));
    out
}

fn failed_with_2(out: &Output, what: &str) -> String {
    assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(out));
    stderr(out)
}

/// `strata convert ARGS…`, which must succeed.
fn convert_ok(args: &[&str]) -> Output {
    let mut full = vec!["convert"];
    full.extend_from_slice(args);
    succeeded(support::strata(&full), &format!("{full:?}"))
}

/// `strata snapshot DB -o FILE`.
fn snapshot_file(db: &str, file: &Path) {
    succeeded(
        support::strata(&["snapshot", db, "-o", path_str(file)]),
        "snapshot",
    );
}

/// The report entries (`strata convert --json --report FILE`).
fn report_entries(file: &Path) -> Vec<serde_json::Value> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    report["entries"].as_array().unwrap().clone()
}

fn has_entry(entries: &[serde_json::Value], kind: &str, object: &str, severity: &str) -> bool {
    entries
        .iter()
        .any(|e| e["kind"] == kind && e["object"] == object && e["severity"] == severity)
}

fn new_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    succeeded(support::strata(&["init", path_str(&repo)]), "init");
    repo
}

/// Backs up a SQLite file; returns the backup id.
fn backup(db: &Path, repo: &Path) -> String {
    let out = succeeded(
        support::strata(&["backup", path_str(db), "--repo", path_str(repo), "--json"]),
        "backup",
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["id"].as_str().unwrap().to_string()
}

fn restore(repo: &Path, id: &str, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["restore", id, "--repo", path_str(repo), "--to", url];
    args.extend_from_slice(extra);
    support::strata(&args)
}

/// A value compared across engines: numbers by value, booleans as 0/1, blobs as `\x…` hex.
fn normalized(text: Option<String>) -> Option<String> {
    let text = text?;
    Some(match text.as_str() {
        "t" | "true" => "1".into(),
        "f" | "false" => "0".into(),
        _ => match text.parse::<f64>() {
            Ok(n) if text.trim() == text && !text.is_empty() => format!("{n:.9}"),
            _ => text,
        },
    })
}

/// Every row of a SQLite table (stored columns), normalized and sorted.
fn sqlite_rows(db: &Path, table: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0 ORDER BY cid")
        .unwrap()
        .query_map([table], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let list: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let sql = format!("SELECT {} FROM \"{table}\"", list.join(", "));
    let mut statement = conn.prepare(&sql).unwrap();
    let mut rows = statement.query([]).unwrap();
    let mut all = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let values = (0..columns.len())
            .map(|i| {
                normalized(match row.get_ref(i).unwrap() {
                    ValueRef::Null => None,
                    ValueRef::Integer(v) => Some(v.to_string()),
                    ValueRef::Real(v) => Some(v.to_string()),
                    ValueRef::Text(v) => Some(String::from_utf8(v.to_vec()).unwrap()),
                    ValueRef::Blob(v) => Some(format!(
                        "\\x{}",
                        v.iter().map(|b| format!("{b:02x}")).collect::<String>()
                    )),
                })
            })
            .collect();
        all.push(values);
    }
    all.sort();
    (columns, all)
}

/// The same columns of the PostgreSQL table `public.table`, as text, normalized and sorted.
fn postgres_rows(db: &TestDb, table: &str, columns: &[String]) -> Vec<Vec<Option<String>>> {
    let list: Vec<String> = columns.iter().map(|c| format!("\"{c}\"::text")).collect();
    let sql = format!("SELECT {} FROM public.\"{table}\"", list.join(", "));
    let mut all: Vec<Vec<Option<String>>> = db
        .client()
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|row| {
            (0..columns.len())
                .map(|i| normalized(row.get::<_, Option<String>>(i)))
                .collect()
        })
        .collect();
    all.sort();
    all
}

fn sqlite_tables(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    names
}

/// Every table of the SQLite file holds the same rows in PostgreSQL.
fn assert_same_rows(sqlite: &Path, postgres: &TestDb) {
    for table in sqlite_tables(sqlite) {
        let (columns, expected) = sqlite_rows(sqlite, &table);
        let actual = postgres_rows(postgres, &table, &columns);
        assert_eq!(expected.len(), actual.len(), "row count of {table}");
        assert!(
            expected == actual,
            "rows of {table} differ after the restore"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The every-kind fixture

#[test]
fn every_kind_converts_loads_and_snapshots_back_as_converted() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = every_kind(dir.path());
    let scratch = TestDb::new("convert_validate");
    let (out, report) = (dir.path().join("pg.yaml"), dir.path().join("report.json"));
    convert_ok(&[
        path_str(&sqlite),
        "--to",
        "postgres",
        "--allow-lossy",
        "--validate",
        &scratch.url,
        "-o",
        path_str(&out),
        "--report",
        path_str(&report),
        "--json",
    ]);
    assert_eq!(
        scratch
            .scalar_i64("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'strata_convert_%'"),
        0,
        "validation leaves nothing behind"
    );
    let converted = std::fs::read_to_string(&out).unwrap();

    let target = TestDb::new("convert_apply");
    succeeded(
        support::strata(&["apply", path_str(&out), "--to", &target.url, "--yes"]),
        "apply of the converted file",
    );
    assert_eq!(support::snapshot(&target.url, &[]), converted);

    // Applying the SQLite snapshot directly converts on the fly to the same result.
    let snapshot = dir.path().join("sqlite.yaml");
    snapshot_file(path_str(&sqlite), &snapshot);
    let direct = TestDb::new("convert_on_the_fly");
    let out = succeeded(
        support::strata(&[
            "apply",
            path_str(&snapshot),
            "--to",
            &direct.url,
            "--yes",
            "--allow-lossy",
        ]),
        "apply of the SQLite snapshot",
    );
    let said = stderr(&out);
    assert!(said.contains("converted it for postgres"), "{said}");
    assert!(
        said.contains("order_audit"),
        "the report names the trigger: {said}"
    );
    assert_eq!(support::snapshot(&direct.url, &[]), converted);
    let again = succeeded(
        support::strata(&["diff", path_str(&snapshot), &direct.url]),
        "diff of the SQLite snapshot against the applied database",
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("No changes"));
}

#[test]
fn the_report_names_trigger_bodies_nocase_and_every_guess() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = every_kind(dir.path());
    let report = dir.path().join("report.json");
    convert_ok(&[
        path_str(&sqlite),
        "--to",
        "postgres",
        "--allow-lossy",
        "--report",
        path_str(&report),
        "--json",
    ]);
    let entries = report_entries(&report);
    let audit = entries
        .iter()
        .find(|e| e["object"] == "order.order_audit")
        .expect("the trigger is named");
    assert_eq!(audit["kind"], "trigger");
    assert_eq!(audit["severity"], "omitted");
    assert!(audit["from"].as_str().unwrap().contains("INSERT INTO"));
    assert!(has_entry(
        &entries,
        "trigger",
        "big orders.big_orders_read_only",
        "omitted"
    ));
    assert!(has_entry(
        &entries,
        "collation",
        "customer.email",
        "warning"
    ));
    assert!(has_entry(&entries, "identity", "customer.id", "info"));
    assert!(has_entry(&entries, "identity", "order.id", "info"));
    assert!(has_entry(
        &entries,
        "type",
        "audit \"log\".payload",
        "warning"
    ));
    assert!(
        has_entry(&entries, "table", "product", "info"),
        "WITHOUT ROWID"
    );
    assert!(
        has_entry(&entries, "generated", "product.price", "info"),
        "VIRTUAL"
    );
    assert!(
        has_entry(&entries, "constraint", "tag.tag_name_key", "warning"),
        "ON CONFLICT"
    );
    for entry in &entries {
        for field in ["object", "kind", "from", "to", "reason", "severity"] {
            assert!(entry.get(field).is_some(), "{field} missing in {entry}");
        }
    }
}

#[test]
fn untranslatable_objects_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = every_kind(dir.path());
    let out_file = dir.path().join("pg.yaml");
    let out = support::strata(&[
        "convert",
        path_str(&sqlite),
        "--to",
        "postgres",
        "-o",
        path_str(&out_file),
    ]);
    let error = failed_with_2(&out, "convert without --allow-lossy");
    assert!(error.contains("trigger order.order_audit"), "{error}");
    assert!(error.contains("--allow-lossy"), "{error}");
    assert!(!out_file.exists(), "nothing is written when refused");
}

#[test]
fn the_plain_translation_is_sql_postgres_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = every_kind(dir.path());
    let sql = dir.path().join("schema.sql");
    convert_ok(&[
        path_str(&sqlite),
        "--to",
        "postgres",
        "--allow-lossy",
        "-o",
        path_str(&sql),
    ]);
    let db = TestDb::new("convert_plain_sql");
    db.psql_file(&sql);
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        6
    );
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_views WHERE schemaname = 'public'"),
        2
    );
}

#[test]
fn a_postgres_schema_converts_back_to_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = every_kind(dir.path());
    let snapshot = dir.path().join("sqlite.yaml");
    snapshot_file(path_str(&sqlite), &snapshot);
    let db = TestDb::new("convert_back");
    succeeded(
        support::strata(&[
            "apply",
            path_str(&snapshot),
            "--to",
            &db.url,
            "--yes",
            "--allow-lossy",
        ]),
        "apply",
    );
    db.execute("CREATE TYPE mood AS ENUM ('sad', 'ok'); ALTER TABLE tag ADD COLUMN feel mood");
    let back = dir.path().join("back.yaml");
    let out = convert_ok(&[
        &db.url,
        "--to",
        "sqlite",
        "--allow-lossy",
        "-o",
        path_str(&back),
    ]);
    assert!(stderr(&out).contains("validated"), "{}", stderr(&out));
    let schema = strata::Schema::load(&back).unwrap();
    assert_eq!(schema.engine, strata::schema::EngineKind::Sqlite);
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "audit \"log\"",
            "customer",
            "order",
            "order_item",
            "product",
            "tag"
        ]
    );
    let order = schema.tables.iter().find(|t| t.name == "order").unwrap();
    assert!(order.columns[0].identity.as_ref().unwrap().autoincrement);
    let tag = schema.tables.iter().find(|t| t.name == "tag").unwrap();
    assert!(
        tag.constraints
            .iter()
            .any(|c| c.definition.contains("IN ('sad', 'ok')")),
        "an enum becomes TEXT with a CHECK"
    );
    assert_eq!(schema.views.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Chinook

#[test]
fn chinook_converts_and_applies_with_every_table_foreign_key_and_index() {
    let Some(chinook) = support::shared_fixture("chinook/Chinook_Sqlite.sqlite") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("chinook.yaml");
    snapshot_file(path_str(&chinook), &snapshot);
    let db = TestDb::new("convert_chinook");
    succeeded(
        support::strata(&["apply", path_str(&snapshot), "--to", &db.url, "--yes"]),
        "apply of Chinook",
    );
    let count = |kind: &str| {
        db.scalar_i64(&format!(
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = 'public' AND c.contype = '{kind}'"
        ))
    };
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        11
    );
    assert_eq!(count("p"), 11, "primary keys");
    assert_eq!(count("f"), 11, "foreign keys");
    assert_eq!(
        db.scalar_i64(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'IFK_%'"
        ),
        11,
        "indexes"
    );
    let identities = db.scalar_i64(
        "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND a.attidentity = 'd'",
    );
    assert_eq!(
        identities, 10,
        "every single INTEGER primary key is an identity"
    );
}

#[test]
fn chinook_backup_restores_into_postgres_with_every_value() {
    let Some(chinook) = support::shared_fixture("chinook/Chinook_Sqlite.sqlite") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let id = backup(&chinook, &repo);
    let db = TestDb::new("convert_restore_chinook");
    let out = succeeded(restore(&repo, &id, &db.url, &["--json"]), "restore");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["conversion"]["from"], "sqlite");
    assert_eq!(report["tables"].as_array().unwrap().len(), 11);
    assert_same_rows(&chinook, &db);
    // The next id continues after the highest restored one.
    let next =
        db.scalar_i64("SELECT nextval(pg_get_serial_sequence('public.\"Track\"', 'TrackId'))");
    let max = db.scalar_i64("SELECT max(\"TrackId\") FROM public.\"Track\"");
    assert_eq!(next, max + 1);
}

// ---------------------------------------------------------------------------------------------
// Quick start and values

#[test]
fn quickstart_shop_restores_into_postgres() {
    let shop = support::repo_root().join("examples/quickstart/shop.db");
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let id = backup(&shop, &repo);
    let db = TestDb::new("convert_restore_shop");
    let refused = restore(&repo, &id, &db.url, &[]);
    let error = failed_with_2(&refused, "restore without --allow-lossy");
    assert!(error.contains("order_items_take_stock"), "{error}");
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0,
        "a refused restore writes nothing"
    );
    let out = succeeded(
        restore(&repo, &id, &db.url, &["--allow-lossy"]),
        "restore with --allow-lossy",
    );
    assert!(stderr(&out).contains("order_items_take_stock"));
    assert_same_rows(&shop, &db);
    let totals: Vec<(i64, i64)> = db
        .client()
        .query(
            "SELECT order_id, total_cents::bigint FROM public.order_totals ORDER BY order_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(totals, [(1, 3200), (2, 2500)]);
    db.execute("INSERT INTO public.customers (email, name) VALUES ('new@example.com', 'New')");
    assert_eq!(
        db.scalar_i64("SELECT max(id) FROM public.customers"),
        4,
        "the identity continues after the restored ids"
    );
    // The case-insensitive UNIQUE on the e-mail address stays case-insensitive.
    let duplicate = db.client().batch_execute(
        "INSERT INTO public.customers (email, name) VALUES ('ADA@example.com', 'Ada again')",
    );
    assert!(duplicate.is_err(), "NOCASE uniqueness is kept");
}

#[test]
fn values_of_every_storage_class_load_into_their_converted_types() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = build_sqlite(
        dir.path(),
        "values.db",
        "CREATE TABLE v (
             id INTEGER PRIMARY KEY,
             flag BOOLEAN,
             anything,
             data BLOB,
             amount NUMERIC(10, 2),
             ratio REAL,
             born DATE,
             seen DATETIME,
             note VARCHAR(10)
         );
         INSERT INTO v VALUES
             (1, 1, 42, x'00ff', 12.5, 0.1, '2024-02-29', '2024-02-29 10:11:12', 'tab\there'),
             (2, 0, 1e20, 'text as blob', 3, 1e-7, '2024-03-01 00:00:00', '2024-03-01T08:00:00Z', NULL),
             (3, 'true', x'6869', NULL, NULL, -2.5, NULL, '2024-03-01', 'ünïcødé'),
             (4, NULL, 'plain', x'', -1, 3, NULL, NULL, '');",
    );
    let dir_repo = new_repo(dir.path());
    let id = backup(&sqlite, &dir_repo);
    let db = TestDb::new("convert_values");
    succeeded(restore(&dir_repo, &id, &db.url, &[]), "restore");
    let rows: Vec<Vec<Option<String>>> = db
        .client()
        .query(
            "SELECT flag::text, anything, data::text, amount::text, ratio::text, born::text, \
             seen::text, note FROM public.v ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (0..8).map(|i| r.get::<_, Option<String>>(i)).collect())
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        [
            vec![
                s("true"),
                s("42"),
                s("\\x00ff"),
                s("12.50"),
                s("0.1"),
                s("2024-02-29"),
                s("2024-02-29 10:11:12"),
                s("tab\there")
            ],
            vec![
                s("false"),
                s("1.0e+20"),
                s("\\x7465787420617320626c6f62"),
                s("3.00"),
                s("1e-07"),
                s("2024-03-01"),
                s("2024-03-01 08:00:00"),
                None
            ],
            vec![
                s("true"),
                s("hi"),
                None,
                None,
                s("-2.5"),
                None,
                s("2024-03-01 00:00:00"),
                s("ünïcødé")
            ],
            vec![
                None,
                s("plain"),
                s("\\x"),
                s("-1.00"),
                s("3"),
                None,
                None,
                s("")
            ],
        ]
    );
}

#[test]
fn a_value_that_cannot_be_converted_names_table_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = build_sqlite(
        dir.path(),
        "bad.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, qty INTEGER);
         INSERT INTO t VALUES (1, 5), (2, 'many');",
    );
    let repo = new_repo(dir.path());
    let id = backup(&sqlite, &repo);
    let db = TestDb::new("convert_bad_value");
    let out = restore(&repo, &id, &db.url, &[]);
    let error = failed_with_2(&out, "restore of a bad value");
    assert!(
        error.contains("table public.t, row 2, column \"qty\""),
        "{error}"
    );
    assert!(error.contains("\"many\" is not an integer"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Bad input

/// `strata convert ARGS…` fails with exit code 2; its stderr.
fn convert_refused(args: &[&str]) -> String {
    let mut full = vec!["convert"];
    full.extend_from_slice(args);
    failed_with_2(&support::strata(&full), &format!("{full:?}"))
}

#[test]
fn converting_to_the_same_engine_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = every_kind(dir.path());
    let error = convert_refused(&[path_str(&sqlite), "--to", "sqlite"]);
    assert!(error.contains("already a sqlite schema"), "{error}");
}

#[test]
fn an_unknown_engine_is_an_error() {
    let error = convert_refused(&["schema.yaml", "--to", "mysql"]);
    assert!(error.contains("mysql"), "{error}");
}

#[test]
fn a_missing_file_is_an_error() {
    let error = convert_refused(&["/no/such/schema.yaml", "--to", "postgres"]);
    assert!(error.contains("no such schema file"), "{error}");
}
