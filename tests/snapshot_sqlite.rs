//! `strata snapshot` on SQLite: real sample databases (Chinook, Northwind), a fixture with
//! every kind of object the engine knows, and the properties the schema file promises —
//! deterministic, independent of creation order, and a faithful round trip through the
//! rendered DDL (render → execute on an empty database → inspect gives the same file).

mod support;

use std::path::Path;

use strata::engine::{self, InspectOptions};
use strata::schema::{ConstraintKind, GeneratedStorage, Schema, Table};
use strata::target::Target;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Inspects a SQLite file through the library.
fn inspect(path: &Path) -> Schema {
    inspect_with(path, &InspectOptions::default())
}

fn inspect_with(path: &Path, options: &InspectOptions) -> Schema {
    let (schema, _notes) = engine::inspect(&Target::Sqlite(path.to_path_buf()), options)
        .unwrap_or_else(|e| panic!("inspecting {} failed: {e}", path.display()));
    schema
}

/// Renders `schema` as DDL, executes it in a fresh database and inspects that.
fn round_trip(schema: &Schema, dir: &Path, name: &str) -> Schema {
    let sql = engine::render_sql(schema);
    inspect(&support::sqlite_file(dir, name, &sql))
}

/// Runs `strata snapshot ARGS…` and returns stdout, failing on a non-zero exit.
fn snapshot_cli(args: &[&str]) -> String {
    let mut full = vec!["snapshot"];
    full.extend_from_slice(args);
    let out = support::strata(&full);
    assert!(
        out.status.success(),
        "strata {full:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("snapshot output is UTF-8")
}

fn every_kind_sql() -> String {
    std::fs::read_to_string(support::fixture("sqlite/every_kind.sql")).unwrap()
}

fn table<'a>(schema: &'a Schema, name: &str) -> &'a Table {
    schema
        .table("", name)
        .unwrap_or_else(|| panic!("table {name} missing from the snapshot"))
}

fn foreign_key_count(schema: &Schema) -> usize {
    schema
        .tables
        .iter()
        .flat_map(|t| &t.constraints)
        .filter(|c| c.kind == ConstraintKind::ForeignKey)
        .count()
}

/// One value from a query on a SQLite file, opened read-only (shared fixtures must not change).
fn count(path: &Path, sql: &str) -> usize {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(path, flags).unwrap();
    let n: i64 = conn.query_row(sql, [], |row| row.get(0)).unwrap();
    n as usize
}

// ---------------------------------------------------------------------------------------------
// Real sample databases

#[test]
fn chinook_snapshot_has_its_11_tables_11_foreign_keys_and_every_index() {
    let Some(db) = support::shared_fixture("chinook/Chinook_Sqlite.sqlite") else {
        return;
    };
    let schema = inspect(&db);

    let tables = count(
        &db,
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'",
    );
    let foreign_keys = count(
        &db,
        "SELECT count(DISTINCT t.name || '.' || f.id) FROM sqlite_schema t, \
         pragma_foreign_key_list(t.name) f WHERE t.type = 'table'",
    );
    let indexes = count(
        &db,
        "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL",
    );
    assert_eq!(
        (tables, foreign_keys),
        (11, 11),
        "the fixture itself changed"
    );
    assert_eq!(schema.tables.len(), tables);
    assert_eq!(foreign_key_count(&schema), foreign_keys);
    let snapshot_indexes: usize = schema.tables.iter().map(|t| t.indexes.len()).sum();
    assert_eq!(snapshot_indexes, indexes);
    assert!(schema.views.is_empty());

    let album = table(&schema, "Album");
    let title = &album.columns[1];
    assert_eq!(
        (title.name.as_str(), title.data_type.as_str()),
        ("Title", "NVARCHAR(160)")
    );
    assert!(title.not_null);
    let fk = album
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::ForeignKey)
        .unwrap();
    assert_eq!(
        fk.definition,
        r#"FOREIGN KEY ("ArtistId") REFERENCES "Artist" ("ArtistId")"#
    );
    let playlist_track = table(&schema, "PlaylistTrack");
    let key = playlist_track
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .unwrap();
    assert_eq!(key.name, "PK_PlaylistTrack");
    assert_eq!(key.columns, ["PlaylistId", "TrackId"]);
    assert_eq!(
        table(&schema, "Track").indexes[0].definition,
        "CREATE INDEX [IFK_TrackAlbumId] ON [Track] ([AlbumId])"
    );
}

#[test]
fn chinook_round_trips_through_rendered_sql() {
    let Some(db) = support::shared_fixture("chinook/Chinook_Sqlite.sqlite") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = inspect(&db);
    assert_eq!(
        round_trip(&schema, dir.path(), "copy.db").to_yaml(),
        schema.to_yaml()
    );
}

#[test]
fn northwind_snapshots_names_with_spaces_and_round_trips() {
    let Some(db) = support::shared_fixture("northwind/northwind.db") else {
        return;
    };
    let schema = inspect(&db);
    assert_eq!(schema.tables.len(), 13);
    assert_eq!(schema.views.len(), 17);

    let details = table(&schema, "Order Details");
    let kinds = |kind| {
        details
            .constraints
            .iter()
            .filter(|c| c.kind == kind)
            .count()
    };
    assert_eq!(kinds(ConstraintKind::Check), 3);
    assert_eq!(kinds(ConstraintKind::ForeignKey), 2);
    assert_eq!(kinds(ConstraintKind::PrimaryKey), 1);
    assert!(details
        .constraints
        .iter()
        .any(|c| c.definition == "CHECK ([Discount]>=(0) AND [Discount]<=(1))"));
    let orders = table(&schema, "Orders");
    assert!(orders.columns[0]
        .identity
        .as_ref()
        .is_some_and(|i| i.autoincrement));

    let sales = schema
        .views
        .iter()
        .find(|v| v.name == "Sales by Category")
        .unwrap();
    assert!(sales
        .depends_on
        .contains(&"Order Details Extended".to_string()));
    let sql = engine::render_sql(&schema);
    let position = |needle: &str| {
        sql.find(needle)
            .unwrap_or_else(|| panic!("{needle} not rendered"))
    };
    assert!(
        position("CREATE VIEW [Order Details Extended]")
            < position("CREATE VIEW [Sales by Category]"),
        "a view must be created after the views it reads"
    );

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        round_trip(&schema, dir.path(), "copy.db").to_yaml(),
        schema.to_yaml()
    );
}

// ---------------------------------------------------------------------------------------------
// Every kind of object

#[test]
fn every_kind_fixture_is_snapshotted_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let schema = inspect(&support::sqlite_file(
        dir.path(),
        "every.db",
        &every_kind_sql(),
    ));
    assert_eq!(schema.server_version, "3");
    assert!(schema.tables.iter().all(|t| t.schema.is_empty()));

    let customer = table(&schema, "customer");
    let id = &customer.columns[0];
    assert!(id.identity.as_ref().is_some_and(|i| i.autoincrement));
    assert_eq!(customer.columns[1].collation.as_deref(), Some("NOCASE"));
    assert_eq!(customer.columns[2].name, "display name");
    assert_eq!(
        customer.columns[3].default.as_deref(),
        Some("(datetime('now'))")
    );
    assert_eq!(customer.columns[4].data_type, "NUMERIC(10, 2)");
    assert_eq!(customer.columns[4].default.as_deref(), Some("-1"));
    let names: Vec<&str> = customer
        .constraints
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["customer_check_1", "customer_email_key", "customer_pkey"]
    );

    let order = table(&schema, "order");
    assert!(
        order.columns[0].identity.is_none(),
        "a rowid alias is not AUTOINCREMENT"
    );
    let fk = order
        .constraints
        .iter()
        .find(|c| c.name == "order_customer_id_fkey")
        .unwrap();
    let target = fk.references.as_ref().unwrap();
    assert_eq!(
        (target.table.as_str(), target.on_delete.as_str()),
        ("customer", "cascade")
    );
    assert_eq!(target.on_update, "no action");
    assert!(order
        .constraints
        .iter()
        .any(|c| c.name == "order_status_known"
            && c.definition == "CHECK (status IN ('new', 'paid', 'shipped'))"));
    assert_eq!(order.triggers[0].name, "order_audit");

    let product = table(&schema, "product");
    assert!(product.without_rowid && !product.strict);
    let generated: Vec<_> = product
        .columns
        .iter()
        .filter_map(|c| c.generated.as_ref())
        .collect();
    assert_eq!(generated.len(), 2);
    assert_eq!(generated[0].expression, "price_cents / 100.0");
    assert_eq!(generated[0].storage, GeneratedStorage::Virtual);
    assert_eq!(generated[1].storage, GeneratedStorage::Stored);
    assert!(product
        .constraints
        .iter()
        .any(|c| c.name == "positive_weight"));

    let item = table(&schema, "order_item");
    let deferred = item
        .constraints
        .iter()
        .find(|c| c.name == "order_item_order")
        .unwrap();
    assert!(deferred.deferrable && deferred.initially_deferred);
    let implicit = item
        .constraints
        .iter()
        .find(|c| c.name == "order_item_sku_fkey")
        .unwrap();
    let target = implicit.references.as_ref().unwrap();
    assert_eq!(
        target.columns,
        ["sku"],
        "an FK without columns references the parent key"
    );
    assert_eq!(
        (target.on_update.as_str(), target.match_type.as_str()),
        ("set null", "full")
    );
    let checks: Vec<&str> = item
        .constraints
        .iter()
        .filter(|c| c.kind == ConstraintKind::Check)
        .map(|c| c.definition.as_str())
        .collect();
    assert_eq!(checks, ["CHECK (quantity > 0)", "CHECK (line > 0)"]);
    assert_eq!(
        item.constraints
            .iter()
            .find(|c| c.name == "order_item_pk")
            .unwrap()
            .columns,
        ["order_id", "line"]
    );

    let audit = table(&schema, "audit \"log\"");
    assert!(audit.strict && !audit.without_rowid);
    let tag = table(&schema, "tag");
    assert_eq!(
        tag.constraints[0].definition,
        r#"UNIQUE ("name" COLLATE NOCASE) ON CONFLICT IGNORE"#
    );

    let index_names: Vec<&str> = schema
        .tables
        .iter()
        .flat_map(|t| &t.indexes)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        index_names,
        ["customer_email_lower", "order_open", "order_item_sku"]
    );
    assert!(!index_names
        .iter()
        .any(|n| n.starts_with("sqlite_autoindex")));

    let big = schema
        .views
        .iter()
        .find(|v| v.name == "big orders")
        .unwrap();
    assert_eq!(big.depends_on, ["order_total"]);
    assert_eq!(big.triggers[0].name, "big_orders_read_only");
    assert!(big.triggers[0]
        .definition
        .starts_with("CREATE TRIGGER big_orders_read_only INSTEAD OF"));
}

#[test]
fn every_kind_round_trips_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let original = support::sqlite_file(dir.path(), "every.db", &every_kind_sql());
    let yaml = snapshot_cli(&[original.to_str().unwrap()]);
    let sql = snapshot_cli(&[original.to_str().unwrap(), "--format", "sql"]);
    let copy = support::sqlite_file(dir.path(), "copy.db", &sql);
    assert_eq!(snapshot_cli(&[copy.to_str().unwrap()]), yaml);
}

#[test]
fn snapshotting_twice_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "every.db", &every_kind_sql());
    let path = db.to_str().unwrap();
    let first = snapshot_cli(&[path]);
    assert!(
        first.contains("name: order_item"),
        "snapshot has content:\n{first}"
    );
    assert_eq!(snapshot_cli(&[path]), first);
    assert_eq!(
        snapshot_cli(&[path, "--format", "sql"]),
        snapshot_cli(&[path, "--format", "sql"])
    );
}

#[test]
fn statement_order_does_not_change_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let sql = every_kind_sql();
    let in_order = inspect(&support::sqlite_file(dir.path(), "in_order.db", &sql));

    // Each object kind in reverse order; kinds keep the order SQLite needs (an index or a
    // trigger needs its table).
    let blocks: Vec<&str> = sql.split("\n\n").filter(|b| b.contains("CREATE")).collect();
    let kind_rank = |block: &str| {
        ["CREATE TABLE", " INDEX ", "CREATE VIEW", "CREATE TRIGGER"]
            .iter()
            .position(|k| block.contains(k))
            .unwrap()
    };
    let mut shuffled = blocks.clone();
    shuffled.reverse();
    shuffled.sort_by_key(|b| kind_rank(b)); // stable: reversed within a kind
    assert_ne!(shuffled, blocks);
    let reordered = inspect(&support::sqlite_file(
        dir.path(),
        "reordered.db",
        &shuffled.join("\n\n"),
    ));
    assert_eq!(reordered.to_yaml(), in_order.to_yaml());
}

#[test]
fn json_output_parses_back_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "every.db", &every_kind_sql());
    let json = snapshot_cli(&[db.to_str().unwrap(), "--format", "json"]);
    let parsed = Schema::from_json(&json, "<stdout>").unwrap();
    assert_eq!(parsed, inspect(&db));
    let yaml = snapshot_cli(&[db.to_str().unwrap()]);
    assert_eq!(Schema::from_yaml(&yaml, "<stdout>").unwrap(), parsed);
}

#[test]
fn sql_output_matches_the_expected_ddl() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "every.db", &every_kind_sql());
    let sql = snapshot_cli(&[db.to_str().unwrap(), "--format", "sql"]);
    let expected_path = support::fixture("sqlite/every_kind.expected.sql");
    if std::env::var_os("STRATA_BLESS").is_some() {
        std::fs::write(&expected_path, &sql).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert!(
        sql == expected,
        "--format sql differs from {} (rerun with STRATA_BLESS=1 if the change is intended):\n{sql}",
        expected_path.display()
    );
    for fragment in [
        "\"id\" INTEGER CONSTRAINT \"customer_pkey\" PRIMARY KEY AUTOINCREMENT",
        "\"price\" REAL GENERATED ALWAYS AS (price_cents / 100.0) VIRTUAL",
        ") WITHOUT ROWID;",
        ") STRICT;",
        "CONSTRAINT \"order_item_order\" FOREIGN KEY (\"order_id\") REFERENCES \"order\" (\"id\") \
         ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
    ] {
        assert!(sql.contains(fragment), "missing {fragment:?} in:\n{sql}");
    }
    let view = sql.find("CREATE VIEW order_total").unwrap();
    assert!(view < sql.find("CREATE VIEW [big orders]").unwrap());
    assert!(
        sql.find("CREATE TRIGGER").unwrap() > view,
        "triggers come last"
    );
}

#[test]
fn excluded_tables_leave_with_their_indexes_and_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(dir.path(), "every.db", &every_kind_sql());
    let options = InspectOptions {
        exclude_tables: vec!["order".into(), "order_i*".into(), "big?orders".into()],
        ..Default::default()
    };
    let schema = inspect_with(&db, &options);
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["audit \"log\"", "customer", "product", "tag"]);
    let views: Vec<&str> = schema.views.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(views, ["order_total"]);
    let yaml = schema.to_yaml();
    for gone in [
        "order_open",
        "order_item_sku",
        "order_audit",
        "big_orders_read_only",
    ] {
        assert!(
            !yaml.contains(gone),
            "{gone} outlived its excluded relation:\n{yaml}"
        );
    }
}

#[test]
fn internal_tables_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(
        dir.path(),
        "internal.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
         CREATE INDEX t_v ON t (v);
         INSERT INTO t (v) VALUES ('a'), ('b');
         ANALYZE;",
    );
    // sqlite_sequence, sqlite_stat1 (and sqlite_stat4 where compiled in).
    assert!(
        count(
            &db,
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlite_%'"
        ) >= 2
    );
    let schema = inspect(&db);
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["t"]);
}

#[test]
fn a_virtual_table_is_left_out_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(
        dir.path(),
        "fts.db",
        "CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT);
         CREATE VIRTUAL TABLE note_search USING fts5 (body);",
    );
    let out = support::strata(&["snapshot", db.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: virtual table \"note_search\" (USING fts5) not recorded"),
        "{stderr}"
    );
    let schema = Schema::from_yaml(&String::from_utf8_lossy(&out.stdout), "<stdout>").unwrap();
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["note"],
        "the virtual table's shadow tables go with it"
    );

    let out = support::strata(&[
        "snapshot",
        db.to_str().unwrap(),
        "--exclude-table",
        "note_*",
    ]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "an excluded virtual table needs no note"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn a_missing_file_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent.db");
    let out = support::strata(&["snapshot", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one-line error: {stderr}"
    );
    assert!(stderr.contains("nonexistent.db"), "{stderr}");
    assert!(
        !missing.exists(),
        "strata created the database it was asked to read"
    );

    let out = support::strata(&["snapshot", "/nonexistent.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!Path::new("/nonexistent.db").exists());
}

#[test]
fn a_file_that_is_not_sqlite_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "these are not the tables you are looking for\n").unwrap();
    let out = support::strata(&["snapshot", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one-line error: {stderr}"
    );
    assert!(stderr.contains("not a SQLite database"), "{stderr}");
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The quick start example

#[test]
fn shipped_quickstart_db_matches_its_script() {
    let root = support::repo_root().join("examples/quickstart");
    let script = std::fs::read_to_string(root.join("shop.sql")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fresh = inspect(&support::sqlite_file(dir.path(), "shop.db", &script));
    let shipped = inspect(&root.join("shop.db"));
    assert!(
        shipped.to_yaml() == fresh.to_yaml(),
        "examples/quickstart/shop.db is stale: run examples/quickstart/build.sh"
    );
    assert_eq!(shipped.tables.len(), 4);
    assert_eq!(foreign_key_count(&shipped), 3);
}

// ---------------------------------------------------------------------------------------------
// Odd corners of SQLite's syntax

#[test]
fn odd_but_valid_definitions_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::sqlite_file(
        dir.path(),
        "odd.db",
        r#"
        CREATE TABLE "Parent" (Id INTEGER PRIMARY KEY, Code TEXT UNIQUE);
        CREATE TABLE child (
            key INTEGER PRIMARY KEY DESC,                       -- a keyword as column name
            "default" UNSIGNED BIG INT DEFAULT +5,
            blob_value BLOB DEFAULT x'00ff',
            flag BOOLEAN DEFAULT TRUE,
            stamp TEXT DEFAULT CURRENT_TIMESTAMP,
            bare DEFAULT "not a column",
            code TEXT CONSTRAINT code_ref REFERENCES parent (code) NOT NULL,
            'single quoted' TEXT,
            ünïcödé TEXT COLLATE rtrim
        );
        CREATE TABLE copy AS SELECT key, "default" FROM child;
        ALTER TABLE child ADD COLUMN added INTEGER CHECK (added IS NULL OR added > 0);
        CREATE TABLE orphan (p INTEGER REFERENCES missing_table (id));
        "#,
    );
    let schema = inspect(&db);
    let child = table(&schema, "child");
    let column = |name: &str| child.columns.iter().find(|c| c.name == name).unwrap();
    assert_eq!(column("default").data_type, "UNSIGNED BIG INT");
    assert_eq!(column("default").default.as_deref(), Some("+5"));
    assert_eq!(column("blob_value").default.as_deref(), Some("x'00ff'"));
    assert_eq!(column("bare").default.as_deref(), Some("\"not a column\""));
    assert_eq!(column("ünïcödé").collation.as_deref(), Some("RTRIM"));
    assert!(column("single quoted").data_type == "TEXT");
    let code_ref = child
        .constraints
        .iter()
        .find(|c| c.name == "code_ref")
        .unwrap();
    assert_eq!(
        code_ref.definition, r#"FOREIGN KEY ("code") REFERENCES "Parent" ("Code")"#,
        "a reference is resolved to the parent's spelling"
    );
    assert!(child
        .constraints
        .iter()
        .any(|c| c.definition == "CHECK (added IS NULL OR added > 0)"));
    assert_eq!(table(&schema, "copy").columns.len(), 2);
    let orphan = table(&schema, "orphan");
    assert_eq!(
        orphan.constraints[0].references.as_ref().unwrap().table,
        "missing_table"
    );

    assert_eq!(
        round_trip(&schema, dir.path(), "copy.db").to_yaml(),
        schema.to_yaml()
    );
}
