//! `strata snapshot` against real PostgreSQL databases: completeness against the catalog,
//! determinism, minimal diffs, and clear errors on bad input.

mod support;

use std::path::Path;

use strata::schema::{ConstraintKind, Schema};
use support::{snapshot, strata, TestDb};

/// Loads the Chinook PostgreSQL script into `db`, minus its own DROP/CREATE DATABASE and `\c`.
fn load_chinook(db: &TestDb, script: &Path) {
    let text = std::fs::read_to_string(script).unwrap();
    let start = text
        .find("\\c chinook;")
        .expect("chinook script layout changed")
        + 11;
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), &text[start..]).unwrap();
    db.psql_file(tmp.path());
}

/// Object counts straight from the catalog, with the same scope as a snapshot: user schemas,
/// no extension members, no temporary objects.
struct CatalogCounts {
    tables: i64,
    views: i64,
    materialized_views: i64,
    functions: i64,
    triggers: i64,
    sequences: i64,
    indexes: i64,
    constraints: i64,
    domain_constraints: i64,
    types: i64,
    policies: i64,
}

const USER_NS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

fn not_ext(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass \
         AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

fn count_relations(db: &TestDb, kinds: &str) -> i64 {
    db.scalar_i64(&format!(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ({kinds}) AND c.relpersistence <> 't' AND {USER_NS} AND {}",
        not_ext("pg_class", "c.oid")
    ))
}

fn catalog_counts(db: &TestDb) -> CatalogCounts {
    let on_user_relations = format!(
        "JOIN pg_class c ON c.oid = x.rel JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER_NS} AND {}",
        not_ext("pg_class", "c.oid")
    );
    CatalogCounts {
        tables: count_relations(db, "'r', 'p'"),
        views: count_relations(db, "'v'"),
        materialized_views: count_relations(db, "'m'"),
        // Range constructors are internal parts of their range type, not functions of their own.
        functions: db.scalar_i64(&format!(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE {USER_NS} AND {} AND NOT EXISTS (SELECT 1 FROM pg_depend i \
               WHERE i.classid = 'pg_proc'::regclass AND i.objid = p.oid AND i.deptype = 'i')",
            not_ext("pg_proc", "p.oid")
        )),
        triggers: db.scalar_i64(&format!(
            "SELECT count(*) FROM (SELECT tgrelid AS rel FROM pg_trigger WHERE NOT tgisinternal) x \
             {on_user_relations}"
        )),
        sequences: db.scalar_i64(&format!(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'S' AND {USER_NS} AND {} AND NOT EXISTS (SELECT 1 FROM pg_depend d \
               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')",
            not_ext("pg_class", "c.oid")
        )),
        indexes: db.scalar_i64(&format!(
            "SELECT count(*) FROM (SELECT indrelid AS rel FROM pg_index) x {on_user_relations}"
        )),
        // Not counted: the clones the server adds to a referencing table for each partition of a
        // referenced partitioned table (pg_dump does not dump them either).
        constraints: db.scalar_i64(&format!(
            "SELECT count(*) FROM (SELECT k.conrelid AS rel FROM pg_constraint k \
               WHERE k.contype IN ('p', 'u', 'c', 'f', 'x') AND NOT (k.contype = 'f' \
                 AND k.conparentid <> 0 AND EXISTS (SELECT 1 FROM pg_constraint p \
                   WHERE p.oid = k.conparentid AND p.conrelid = k.conrelid))) x {on_user_relations}"
        )),
        domain_constraints: db.scalar_i64(&format!(
            "SELECT count(*) FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid \
             JOIN pg_namespace n ON n.oid = t.typnamespace WHERE k.contype = 'c' AND {USER_NS}"
        )),
        types: db.scalar_i64(&format!(
            "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             LEFT JOIN pg_class c ON c.oid = t.typrelid \
             WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND c.relkind = 'c')) \
               AND {USER_NS} AND {}",
            not_ext("pg_type", "t.oid")
        )),
        policies: db.scalar_i64(&format!(
            "SELECT count(*) FROM (SELECT polrelid AS rel FROM pg_policy) x {on_user_relations}"
        )),
    }
}

/// The same numbers, counted in a snapshot.
fn model_counts(schema: &Schema) -> CatalogCounts {
    let tables = &schema.tables;
    let constraint_backed = tables
        .iter()
        .flat_map(|t| &t.constraints)
        .filter(|c| {
            matches!(
                c.kind,
                ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclusion
            )
        })
        .count();
    CatalogCounts {
        tables: tables.len() as i64,
        views: schema.views.iter().filter(|v| !v.materialized).count() as i64,
        materialized_views: schema.views.iter().filter(|v| v.materialized).count() as i64,
        functions: schema.functions.len() as i64,
        triggers: (tables.iter().map(|t| t.triggers.len()).sum::<usize>()
            + schema.views.iter().map(|v| v.triggers.len()).sum::<usize>())
            as i64,
        sequences: schema.sequences.len() as i64,
        indexes: (tables.iter().map(|t| t.indexes.len()).sum::<usize>()
            + schema.views.iter().map(|v| v.indexes.len()).sum::<usize>()
            + constraint_backed) as i64,
        constraints: tables.iter().map(|t| t.constraints.len()).sum::<usize>() as i64,
        domain_constraints: schema
            .domains
            .iter()
            .map(|d| d.constraints.len())
            .sum::<usize>() as i64,
        types: (schema.enums.len()
            + schema.domains.len()
            + schema.composite_types.len()
            + schema.range_types.len()) as i64,
        policies: tables.iter().map(|t| t.policies.len()).sum::<usize>() as i64,
    }
}

fn assert_counts_match(db: &TestDb, schema: &Schema) {
    let catalog = catalog_counts(db);
    let model = model_counts(schema);
    let pairs = [
        ("tables", catalog.tables, model.tables),
        ("views", catalog.views, model.views),
        (
            "materialized views",
            catalog.materialized_views,
            model.materialized_views,
        ),
        ("functions", catalog.functions, model.functions),
        ("triggers", catalog.triggers, model.triggers),
        ("sequences", catalog.sequences, model.sequences),
        ("indexes", catalog.indexes, model.indexes),
        ("constraints", catalog.constraints, model.constraints),
        (
            "domain constraints",
            catalog.domain_constraints,
            model.domain_constraints,
        ),
        ("types", catalog.types, model.types),
        ("policies", catalog.policies, model.policies),
    ];
    for (what, in_catalog, in_snapshot) in pairs {
        assert_eq!(
            in_catalog, in_snapshot,
            "{what}: catalog has {in_catalog}, snapshot has {in_snapshot}"
        );
    }
}

#[test]
fn pagila_snapshot_has_every_catalog_object() {
    let Some(schema_sql) = support::shared_fixture("pagila/pagila-schema.sql") else {
        return;
    };
    let db = TestDb::new("pagila_counts");
    db.psql_file(&schema_sql);
    let schema = Schema::from_yaml(&snapshot(&db.url, &[]), "pagila").unwrap();
    assert_counts_match(&db, &schema);
    // The fixture's documented shape, so a catalog query that silently drops objects is caught
    // even if both counts above were wrong in the same way.
    assert_eq!(schema.tables.len(), 22);
    assert_eq!(schema.views.iter().filter(|v| !v.materialized).count(), 7);
    assert_eq!(schema.views.iter().filter(|v| v.materialized).count(), 1);
    assert_eq!(
        schema
            .tables
            .iter()
            .filter(|t| t
                .partition_of
                .as_ref()
                .is_some_and(|p| p.parent == "public.payment"))
            .count(),
        7
    );
    assert_eq!(schema.enums.len(), 1);
    assert_eq!(schema.domains.len(), 2);
    assert!(schema.domains.iter().any(|d| d.name == "bıgınt"));
}

#[test]
fn chinook_snapshot_has_every_catalog_object() {
    let Some(script) = support::shared_fixture("chinook/Chinook_PostgreSql.sql") else {
        return;
    };
    let db = TestDb::new("chinook_counts");
    load_chinook(&db, &script);
    let schema = Schema::from_yaml(&snapshot(&db.url, &[]), "chinook").unwrap();
    assert_counts_match(&db, &schema);
    assert_eq!(schema.tables.len(), 11);
    let foreign_keys = schema
        .tables
        .iter()
        .flat_map(|t| &t.constraints)
        .filter(|c| c.kind == ConstraintKind::ForeignKey)
        .count();
    assert_eq!(foreign_keys, 11);
}

#[test]
fn every_kind_fixture_snapshot_has_every_catalog_object() {
    let db = TestDb::new("every_kind_counts");
    db.psql_file(&support::fixture("postgres/every_kind.sql"));
    let schema = Schema::from_yaml(&snapshot(&db.url, &[]), "every_kind").unwrap();
    assert_counts_match(&db, &schema);
    assert!(!schema.event_triggers.is_empty(), "event trigger missing");
    assert!(!schema.publications.is_empty(), "publication missing");
    assert!(!schema.range_types.is_empty(), "range type missing");
    assert!(!schema.composite_types.is_empty(), "composite type missing");
    assert!(!schema.extensions.is_empty(), "extension missing");
}

const SHOP_DDL: [&str; 6] = [
    "CREATE TYPE order_state AS ENUM ('new', 'paid', 'shipped')",
    "CREATE TABLE customer (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
       email text NOT NULL UNIQUE, name text)",
    "CREATE TABLE orders (id serial PRIMARY KEY, customer_id bigint NOT NULL \
       REFERENCES customer (id) ON DELETE CASCADE, state order_state NOT NULL DEFAULT 'new', \
       total numeric(10,2) CHECK (total >= 0))",
    "CREATE INDEX orders_customer_idx ON orders (customer_id) WHERE state <> 'shipped'",
    "CREATE VIEW open_orders AS SELECT o.id, c.email FROM orders o JOIN customer c \
       ON c.id = o.customer_id WHERE o.state = 'new'",
    "COMMENT ON TABLE orders IS 'One row per checkout'",
];

#[test]
fn snapshot_is_byte_identical_across_runs_and_creation_orders() {
    let a = TestDb::new("order_a");
    a.execute(&SHOP_DDL.join(";\n"));
    let first = snapshot(&a.url, &[]);
    let second = snapshot(&a.url, &[]);
    assert_eq!(first, second, "two snapshots of one database differ");

    // Same objects, created in another order (FK added afterwards, view and comment first
    // after their tables, index before the check).
    let b = TestDb::new("order_b");
    b.execute(
        "CREATE TYPE order_state AS ENUM ('new', 'paid', 'shipped');
         CREATE TABLE orders (id serial PRIMARY KEY, customer_id bigint NOT NULL,
           state order_state NOT NULL DEFAULT 'new', total numeric(10,2) CHECK (total >= 0));
         COMMENT ON TABLE orders IS 'One row per checkout';
         CREATE INDEX orders_customer_idx ON orders (customer_id) WHERE state <> 'shipped';
         CREATE TABLE customer (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           email text NOT NULL UNIQUE, name text);
         ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id)
           REFERENCES customer (id) ON DELETE CASCADE;
         CREATE VIEW open_orders AS SELECT o.id, c.email FROM orders o JOIN customer c
           ON c.id = o.customer_id WHERE o.state = 'new';",
    );
    assert_eq!(
        first,
        snapshot(&b.url, &[]),
        "creation order leaked into the file"
    );
    // JSON is the same model.
    let json = snapshot(&a.url, &["--format", "json"]);
    assert_eq!(
        Schema::from_json(&json, "json").unwrap(),
        Schema::from_yaml(&first, "yaml").unwrap()
    );
}

#[test]
fn foreign_keys_to_partitioned_tables_do_not_depend_on_partition_creation_order() {
    let build = |db: &TestDb, first: &str, second: &str| {
        db.execute(&format!(
            "CREATE TABLE m (a int, b date, PRIMARY KEY (a, b)) PARTITION BY RANGE (b);
             CREATE TABLE {first};
             CREATE TABLE r (a int, b date, FOREIGN KEY (a, b) REFERENCES m);
             CREATE TABLE {second};"
        ));
    };
    let y2023 = "m_2023 PARTITION OF m FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')";
    let y2024 = "m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')";
    let a = TestDb::new("fk_part_a");
    build(&a, y2024, y2023);
    let b = TestDb::new("fk_part_b");
    build(&b, y2023, y2024);
    let first = snapshot(&a.url, &[]);
    assert_eq!(first, snapshot(&b.url, &[]));
    let schema = Schema::from_yaml(&first, "x").unwrap();
    let r = schema.table("public", "r").unwrap();
    assert_eq!(
        r.constraints.len(),
        1,
        "server-made clones leaked: {:?}",
        r.constraints
    );
}

#[test]
fn a_column_comment_changes_exactly_one_line_of_the_file() {
    let db = TestDb::new("comment_diff");
    db.execute(&SHOP_DDL.join(";\n"));
    let before = snapshot(&db.url, &[]);
    db.execute("COMMENT ON COLUMN customer.email IS 'Login and contact address'");
    let after = snapshot(&db.url, &[]);
    let before_lines: Vec<&str> = before.lines().collect();
    let after_lines: Vec<&str> = after.lines().collect();
    assert_eq!(
        after_lines.len(),
        before_lines.len() + 1,
        "expected one added line"
    );
    let position = before_lines
        .iter()
        .zip(&after_lines)
        .position(|(a, b)| a != b)
        .expect("files should differ");
    assert_eq!(
        after_lines[position].trim(),
        "comment: Login and contact address"
    );
    assert_eq!(before_lines[position..], after_lines[position + 1..]);
}

#[test]
fn schema_and_exclude_filters_limit_the_snapshot() {
    let db = TestDb::new("filters");
    db.execute(
        "CREATE SCHEMA audit; CREATE TABLE audit.log (id int);
         CREATE TABLE public.keep_me (id int); CREATE TABLE public.tmp_scratch (id int);",
    );
    let only_audit = Schema::from_yaml(&snapshot(&db.url, &["--schema", "audit"]), "x").unwrap();
    let names: Vec<_> = only_audit.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["log"]);
    let excluded =
        Schema::from_yaml(&snapshot(&db.url, &["--exclude-table", "tmp_*"]), "x").unwrap();
    let names: Vec<_> = excluded.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["log", "keep_me"]);

    let out = strata(&["snapshot", &db.url, "--schema", "no_such_schema"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_schema"));
}

#[test]
fn owners_and_grants_are_recorded_only_on_request() {
    let db = TestDb::new("privileges");
    db.execute(
        "DO $$ BEGIN CREATE ROLE strata_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         CREATE TABLE report (id int);
         GRANT SELECT ON report TO strata_reader;",
    );
    let plain = snapshot(&db.url, &[]);
    assert!(!plain.contains("strata_reader"));
    assert!(!plain.contains("owner:"));
    let full = Schema::from_yaml(
        &snapshot(&db.url, &["--with-owners", "--with-privileges"]),
        "x",
    )
    .unwrap();
    let report = full.table("public", "report").unwrap();
    assert_eq!(report.access.owner.as_deref(), Some("postgres"));
    let reader = report
        .access
        .grants
        .iter()
        .find(|g| g.to == "strata_reader")
        .expect("grant to strata_reader recorded");
    assert_eq!(reader.privileges, ["SELECT"]);
}

/// Bad input: one line on stderr, exit code 2, no panic.
fn assert_clean_failure(args: &[&str], expected: &str) {
    let out = strata(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "args {args:?}: stderr {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains(&expected.to_lowercase()),
        "expected '{expected}' in: {stderr}"
    );
}

#[test]
fn connection_failures_are_one_line_errors_with_exit_code_2() {
    let cluster = support::cluster();
    // A closed port: nothing listens on a port we just had and released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_clean_failure(
        &[
            "snapshot",
            &format!("postgres://postgres@127.0.0.1:{closed}/x"),
        ],
        "is the server running",
    );
    assert_clean_failure(
        &[
            "snapshot",
            &format!("postgres://postgres@127.0.0.1:{}/no_such_db", cluster.port),
        ],
        "does not exist",
    );
    assert_clean_failure(&["snapshot", "postgres://u@h:notaport/db"], "malformed");
    assert_clean_failure(&["snapshot", "mysql://localhost/db"], "unsupported");
}

#[test]
fn wrong_password_is_reported_without_echoing_it() {
    let db = TestDb::new("password");
    db.execute(
        "DO $$ BEGIN CREATE ROLE strata_pw LOGIN PASSWORD 'right-one'; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
    );
    let port = support::cluster().port;
    let url = format!(
        "postgres://strata_pw:wrong-one@127.0.0.1:{port}/{}",
        db.name
    );
    assert_clean_failure(&["snapshot", &url], "password authentication failed");
    let out = strata(&["snapshot", &url]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-one"));
    // The right password works, proving the failure above was about the password.
    let good = format!(
        "postgres://strata_pw:right-one@127.0.0.1:{port}/{}",
        db.name
    );
    assert!(strata(&["snapshot", &good]).status.success());
}

#[test]
fn environment_variables_fill_in_what_the_url_leaves_out() {
    let db = TestDb::new("pgenv");
    db.execute("CREATE TABLE from_env (id int)");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["snapshot", "postgres://"])
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", support::cluster().port.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db.name)
        .env("PGSSLMODE", "disable")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: from_env"));
}

#[test]
fn sslmode_require_fails_clearly_against_a_server_without_tls() {
    let db = TestDb::new("sslmode");
    let url = format!("{}?sslmode=require", db.url);
    assert_clean_failure(&["snapshot", &url], "could not connect");
    let prefer = format!("{}?sslmode=prefer", db.url);
    assert!(strata(&["snapshot", &prefer]).status.success());
}
