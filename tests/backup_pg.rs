//! `strata backup` / `restore` / `verify` / `list` against real PostgreSQL databases: the
//! acceptance criteria of the backup issue (issue 5) for PostgreSQL.
//!
//! Every test takes its own repository (a temporary directory) and its own databases. The tests
//! about the repository itself are bodies of `support::backup_suite`, run here on a local
//! repository and in tests/backup_s3.rs on S3; the rest are about the database side. Content is
//! compared with hashes computed by the server (one ordered md5 per table), never by Strata.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::backup_suite::{self as suite, *};
use support::repo::{Place, TestRepo};
use support::{files_under, strata, TestDb};

// ---------------------------------------------------------------- the repository suite, local

#[test]
fn pagila_round_trips_with_identical_schema_rows_and_sequences() {
    suite::pagila_round_trips_with_identical_schema_rows_and_sequences(Place::Local);
}

#[test]
fn a_flipped_byte_in_a_pack_is_reported_with_backup_and_table_and_blocks_restore() {
    suite::a_flipped_byte_in_a_pack_is_reported_with_backup_and_table_and_blocks_restore(
        Place::Local,
    );
}

#[test]
fn a_deleted_pack_is_reported_by_verify_without_read_data_and_blocks_restore() {
    suite::a_deleted_pack_is_reported_by_verify_without_read_data_and_blocks_restore(Place::Local);
}

#[test]
fn a_backup_killed_halfway_leaves_no_backup_a_valid_repository_and_reusable_chunks() {
    suite::a_backup_killed_halfway_leaves_no_backup_a_valid_repository_and_reusable_chunks(
        Place::Local,
    );
}

#[test]
fn unchanged_and_appended_databases_store_almost_nothing_new() {
    suite::unchanged_and_appended_databases_store_almost_nothing_new(Place::Local);
}

#[test]
fn a_repository_of_a_newer_format_is_refused_with_advice_to_upgrade() {
    suite::a_repository_of_a_newer_format_is_refused_with_advice_to_upgrade(Place::Local);
}

#[test]
fn an_unknown_backup_id_is_a_clear_error() {
    suite::an_unknown_backup_id_is_a_clear_error(Place::Local);
}

#[test]
fn an_unreachable_database_is_a_clear_error_and_nothing_is_written() {
    suite::an_unreachable_database_is_a_clear_error_and_nothing_is_written(Place::Local);
}

#[test]
fn a_big_table_is_read_in_parts_by_several_workers_and_restores_identically() {
    suite::a_big_table_is_read_in_parts_by_several_workers_and_restores_identically(Place::Local);
}

// ---------------------------------------------------------------- helpers

/// Every file under `dir` with its bytes, to prove that nothing was written.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// A deterministic pseudo-random generator (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

// ---------------------------------------------------------------- round trip

// ---------------------------------------------------------------- circular foreign keys

const RESTORER: &str = "strata_restorer";

/// A database owned by an ordinary LOGIN role, and a handle that connects as that role.
fn database_owned_by_ordinary_role(hint: &str) -> (TestDb, TestDb) {
    let admin = TestDb {
        name: "postgres".into(),
        url: format!("postgres://postgres@127.0.0.1:{}/postgres", port()),
    };
    // Roles are cluster-wide: tolerate another test (or run) having created it.
    admin.execute(&format!(
        "DO $$ BEGIN CREATE ROLE {RESTORER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
    ));
    let db = TestDb::new(hint);
    db.execute(&format!(
        "ALTER DATABASE \"{}\" OWNER TO {RESTORER}; ALTER SCHEMA public OWNER TO {RESTORER};",
        db.name
    ));
    let as_role = TestDb {
        name: db.name.clone(),
        url: format!("postgres://{RESTORER}@127.0.0.1:{}/{}", port(), db.name),
    };
    (db, as_role)
}

#[test]
fn circular_foreign_keys_restore_without_warnings_as_an_ordinary_role() {
    let (_src_admin, src) = database_owned_by_ordinary_role("circular_src");
    let (_dst_admin, dst) = database_owned_by_ordinary_role("circular_dst");
    assert_eq!(
        dst.scalar_i64(
            "SELECT count(*) FROM pg_roles WHERE rolname = current_user AND NOT rolsuper"
        ),
        1,
        "the test must run as a non-superuser"
    );
    src.psql_file(&support::fixture("postgres/circular_fk.sql"));
    // Users point at messages (deferred FK), messages at users and at each other; the
    // self-reference ends as a cycle (10 → 12 → 11 → 10) that no row order can load while the
    // non-deferrable self-referencing key is in place.
    src.execute(
        "BEGIN;
         INSERT INTO public.users (id, name, last_message_id) VALUES
             (1, 'ann', 12), (2, 'bob', 11), (3, 'cy', NULL);
         INSERT INTO public.messages (id, author_id, parent_id, body) VALUES
             (10, 1, NULL, 'root'), (11, 2, 10, 'reply'), (12, 1, 11, 'reply to the reply');
         COMMIT;
         UPDATE public.messages SET parent_id = 12 WHERE id = 10;",
    );

    let repo = TestRepo::local();
    let summary = backup(&src, &repo, &[]);
    let (report, out) = restore(&id_of(&summary), &repo, &dst.url, &[]);
    let stderr = text(&out.stderr).to_lowercase();
    assert!(
        !stderr.contains("warning") && !stderr.contains("notice") && !stderr.contains("error"),
        "restore as a non-superuser printed diagnostics: {}",
        describe(&out)
    );
    assert_same_content(&src, &dst);
    assert_reported_rows(&report, &content(&src));
    assert_eq!(
        dst.scalar_i64(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
        ),
        3,
        "the three foreign keys exist after restore"
    );
    assert_eq!(
        dst.scalar_i64(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'users_last_message_id_fkey'
             AND condeferrable AND condeferred AND convalidated"
        ),
        1,
        "the deferrable key keeps its deferral and is validated"
    );
    assert_schemas_identical(&src, &dst);
}

// ---------------------------------------------------------------- consistency

#[test]
fn backup_under_concurrent_transfers_restores_a_consistent_snapshot_without_blocking_writers() {
    const ACCOUNTS: i64 = 100;
    let src = TestDb::new("transfers_src");
    // Money lives in two tables, so the invariant only holds if both are read in one snapshot;
    // the filler is big enough that the backup overlaps many transfers.
    src.execute(
        "CREATE TABLE public.checking (id integer PRIMARY KEY, balance bigint NOT NULL);
         CREATE TABLE public.savings (id integer PRIMARY KEY, balance bigint NOT NULL);
         INSERT INTO public.checking SELECT i, 1000 FROM generate_series(1, 50) i;
         INSERT INTO public.savings SELECT i, 1000 FROM generate_series(51, 100) i;
         CREATE TABLE public.filler (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO public.filler
             SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 200000) i;
         ANALYZE;",
    );
    let total = ACCOUNTS * 1000;
    let sum_sql = "SELECT (SELECT sum(balance) FROM public.checking)::bigint
                        + (SELECT sum(balance) FROM public.savings)::bigint";
    assert_eq!(src.scalar_i64(sum_sql), total);

    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, committed, url) = (Arc::clone(&stop), Arc::clone(&committed), src.url.clone());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let table = |id: i32| if id <= 50 { "checking" } else { "savings" };
            let mut rng = Lcg(42);
            let mut max = Duration::ZERO;
            let started = Instant::now();
            while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(30) {
                let a = 1 + rng.next(ACCOUNTS as u64) as i32;
                let b = 1 + rng.next(ACCOUNTS as u64) as i32;
                let k = 1 + rng.next(50) as i64;
                let t = Instant::now();
                let mut tx = c.transaction().unwrap();
                tx.execute(
                    &format!(
                        "UPDATE public.{} SET balance = balance - $1 WHERE id = $2",
                        table(a)
                    ),
                    &[&k, &a],
                )
                .unwrap();
                tx.execute(
                    &format!(
                        "UPDATE public.{} SET balance = balance + $1 WHERE id = $2",
                        table(b)
                    ),
                    &[&k, &b],
                )
                .unwrap();
                tx.commit().unwrap();
                max = max.max(t.elapsed());
                committed.fetch_add(1, Ordering::SeqCst);
            }
            max
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let repo = TestRepo::local();
    let before = committed.load(Ordering::SeqCst);
    let started = Instant::now();
    let out = strata(&["backup", &src.url, "--repo", repo.s(), "--json"]);
    let backup_time = started.elapsed();
    let during = committed.load(Ordering::SeqCst) - before;
    // Keep writing a moment after the backup, then stop.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let max_latency = writer.join().expect("the writer failed");
    assert!(out.status.success(), "backup failed: {}", describe(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert!(
        during > 20,
        "only {during} transfers committed during the {backup_time:?} backup: the test did not overlap"
    );
    assert!(
        max_latency < Duration::from_secs(2),
        "a writer transaction took {max_latency:?} while the backup ran (must not be blocked)"
    );
    assert_eq!(
        src.scalar_i64(sum_sql),
        total,
        "the writer broke the invariant"
    );

    let dst = TestDb::new("transfers_dst");
    restore(&id_of(&summary), &repo, &dst.url, &[]);
    assert_eq!(
        dst.scalar_i64("SELECT count(*) FROM public.checking")
            + dst.scalar_i64("SELECT count(*) FROM public.savings"),
        ACCOUNTS
    );
    assert_eq!(
        dst.scalar_i64(sum_sql),
        total,
        "the restored accounts do not sum to {total}: the backup was not one consistent snapshot"
    );
    assert_eq!(
        dst.scalar_i64("SELECT count(*) FROM public.filler"),
        200_000
    );
    eprintln!(
        "consistency: backup {backup_time:?}, {during} transfers during it, max writer latency {max_latency:?}"
    );
}

// ---------------------------------------------------------------- search_path trap

#[test]
fn functions_with_unqualified_table_references_restore_and_work_in_checks_defaults_and_indexes() {
    let src = TestDb::new("search_path_src");
    src.psql_file(&support::fixture("postgres/search_path_functions.sql"));
    let repo = TestRepo::local();
    let summary = backup(&src, &repo, &[]);
    // On one session, a table's index would be built as soon as its rows are in, before the
    // table its expression's function reads is loaded, if nothing held it back.
    for jobs in ["1", "3"] {
        let dst = TestDb::new(&format!("search_path_dst_{jobs}"));
        restore(&id_of(&summary), &repo, &dst.url, &["--jobs", jobs]);

        assert_schemas_identical(&src, &dst);
        assert_same_content(&src, &dst);
        assert_eq!(sequences(&src), sequences(&dst), "identity sequence value");
        assert_eq!(
            dst.scalar_i64(
                "SELECT count(*) FROM pg_index WHERE indexrelid = 'public.items_code_weight_idx'::regclass
                 AND indisvalid AND indisready"
            ),
            1,
            "the expression index is valid"
        );

        // The restored database works: the default, the check and the index all run.
        let mut c = dst.client();
        let row = c
            .query_one(
                "INSERT INTO public.items (label) VALUES ('after restore') RETURNING id, code",
                &[],
            )
            .expect("inserting a row with the default after restore");
        let (id, code): (i64, String) = (row.get(0), row.get(1));
        assert_eq!(
            code, "alpha",
            "default_code() gives the smallest valid code"
        );
        assert_eq!(id, 302, "the identity continues after the restored rows");
        c.execute(
            "INSERT INTO public.items (code, label) VALUES ('charlie', 'explicit')",
            &[],
        )
        .expect("inserting a valid code after restore");
        let err = c
            .execute(
                "INSERT INTO public.items (code, label) VALUES ('zulu', 'invalid')",
                &[],
            )
            .expect_err("the CHECK constraint still rejects unknown codes");
        assert_eq!(
            err.code(),
            Some(&postgres::error::SqlState::CHECK_VIOLATION),
            "{err:?}"
        );
        let mut c = dst.client();
        c.batch_execute("SET enable_seqscan = off").unwrap();
        let weighted: i64 = c
            .query_one(
                "SELECT count(*) FROM public.items WHERE code_weight(code) = 3",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(weighted, 101, "the expression index finds charlie rows");
    }
}

// ---------------------------------------------------------------- damage

// ---------------------------------------------------------------- crash

// ---------------------------------------------------------------- dedup

// ---------------------------------------------------------------- bad input

#[test]
fn a_missing_repository_path_is_a_clear_error() {
    let src = TestDb::new("bad_repo_path");
    let dst = TestDb::new("bad_repo_path_dst");
    let missing = "/nonexistent/strata-test/x";
    for args in [
        vec!["list", "--repo", missing],
        vec!["show", "abcd", "--repo", missing],
        vec!["verify", "--repo", missing],
        vec!["backup", &src.url, "--repo", missing],
        vec!["restore", "abcd", "--repo", missing, "--to", &dst.url],
    ] {
        assert_clear_error(&strata(&args), &format!("{args:?}"));
    }
    assert!(!Path::new(missing).exists(), "strata created {missing}");
    assert_eq!(user_relations(&dst), 0);
}

#[test]
fn a_directory_that_is_not_a_repository_is_refused_and_left_alone() {
    let src = TestDb::new("not_a_repo");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "not a repository\n").unwrap();
    for path in [&empty, &other] {
        let before = tree(path);
        let p = path.to_str().unwrap();
        for args in [
            vec!["list", "--repo", p],
            vec!["verify", "--repo", p],
            vec!["backup", &src.url, "--repo", p],
        ] {
            assert_clear_error(&strata(&args), &format!("{args:?}"));
        }
        assert_eq!(tree(path), before, "strata wrote into {p}");
        assert_eq!(
            std::fs::read_dir(path).unwrap().count(),
            before.len(),
            "strata created entries in {p}"
        );
    }
}

#[test]
fn restore_into_a_non_empty_database_needs_clean() {
    let src = TestDb::new("clean_src");
    src.execute(
        "CREATE TABLE public.people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
         INSERT INTO public.people (name) SELECT 'person ' || i FROM generate_series(1, 500) i;
         CREATE TABLE public.notes (id integer PRIMARY KEY, person_id bigint REFERENCES public.people, body text);
         INSERT INTO public.notes SELECT i, i, 'note ' || i FROM generate_series(1, 100) i;",
    );
    let repo = TestRepo::local();
    let id = id_of(&backup(&src, &repo, &[]));

    // The target has its own `people` with other columns and rows.
    let dst = TestDb::new("clean_dst");
    dst.execute(
        "CREATE TABLE public.people (id integer PRIMARY KEY, nickname text);
         INSERT INTO public.people VALUES (1, 'existing');",
    );
    let out = strata(&["restore", &id, "--repo", repo.s(), "--to", &dst.url]);
    assert_clear_error(&out, "restore into a non-empty database without --clean");
    assert_eq!(
        dst.psql_text("SELECT id || ':' || nickname FROM public.people")
            .trim(),
        "1:existing",
        "a refused restore changed the target"
    );
    assert_eq!(
        dst.scalar_i64("SELECT count(*) FROM pg_tables WHERE tablename = 'notes'"),
        0,
        "a refused restore created tables"
    );

    let (report, _) = restore(&id, &repo, &dst.url, &["--clean"]);
    assert_same_content(&src, &dst);
    assert_eq!(sequences(&src), sequences(&dst));
    assert_reported_rows(&report, &content(&src));
    assert_schemas_identical(&src, &dst);
}

/// Roles the backup's policies name must exist on the target: checked before anything is
/// written.
#[test]
fn a_missing_role_is_reported_before_anything_is_written() {
    let src = TestDb::new("missing_role_src");
    src.execute(
        "DO $$ BEGIN CREATE ROLE strata_gone_role; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         CREATE TABLE doc (id int, owner text);
         ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
         CREATE POLICY readers ON doc FOR SELECT TO strata_gone_role USING (true);",
    );
    let repo = TestRepo::local();
    let id = id_of(&backup(&src, &repo, &[]));
    src.execute("DROP POLICY readers ON doc; DROP ROLE strata_gone_role;");
    let dst = TestDb::new("missing_role_dst");
    let out = strata(&["restore", &id, "--repo", repo.s(), "--to", &dst.url]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("role strata_gone_role"), "{stderr}");
    assert_eq!(user_relations(&dst), 0, "the target was written to");
}

/// Owners and grants are restored only when asked for, with roles renamed by --role-map.
#[test]
fn owners_and_grants_are_restored_on_request_with_roles_mapped() {
    let src = TestDb::new("owners_src");
    src.execute(
        "DO $$ BEGIN CREATE ROLE strata_owner_a; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         DO $$ BEGIN CREATE ROLE strata_owner_b; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         CREATE TABLE ledger (id int);
         ALTER TABLE ledger OWNER TO strata_owner_a;
         GRANT SELECT ON ledger TO strata_owner_b;",
    );
    let repo = TestRepo::local();
    let id = id_of(&backup(&src, &repo, &["--with-owners"]));
    let owner = |db: &TestDb| {
        db.psql_text("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'ledger'")
            .trim()
            .to_string()
    };
    let plain = TestDb::new("owners_plain");
    restore(&id, &repo, &plain.url, &[]);
    assert_eq!(owner(&plain), "postgres", "owners are skipped by default");
    let mapped = TestDb::new("owners_mapped");
    restore(
        &id,
        &repo,
        &mapped.url,
        &[
            "--with-owners",
            "--role-map",
            "strata_owner_a=strata_owner_b",
        ],
    );
    assert_eq!(owner(&mapped), "strata_owner_b");
}

// ---------------------------------------------------------------- what a backup holds

/// A shop: customers, orders and their items (identity and serial sequences, foreign keys
/// between them when `foreign_keys`), an `audit` schema and a scratch table; a few thousand rows.
fn shop(hint: &str, foreign_keys: bool) -> TestDb {
    let db = TestDb::new(hint);
    let references = |table: &str| match foreign_keys {
        true => format!("REFERENCES {table}"),
        false => String::new(),
    };
    db.execute(&format!(
        "CREATE TABLE customers (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
         CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL {},
                              placed date NOT NULL);
         CREATE TABLE order_items (order_id int {}, line int, sku text,
                                   PRIMARY KEY (order_id, line));
         CREATE INDEX order_items_sku ON order_items (sku);
         CREATE SCHEMA audit;
         CREATE TABLE audit.log_2024 (at timestamptz, what text);
         CREATE TABLE tmp_import (raw text);
         INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 200) g;
         INSERT INTO orders (customer, placed)
             SELECT 1 + g % 200, date '2024-01-01' + g % 365 FROM generate_series(1, 1500) g;
         INSERT INTO order_items SELECT o, l, 'sku-' || (o * l) % 97
             FROM generate_series(1, 1500) o, generate_series(1, 3) l;
         INSERT INTO audit.log_2024 SELECT timestamptz '2024-01-01 00:00+00' + g * interval '1 h',
             'event ' || g FROM generate_series(1, 300) g;
         INSERT INTO tmp_import SELECT 'junk ' || g FROM generate_series(1, 50) g;",
        references("customers"),
        references("orders"),
    ));
    db
}

/// `show ID --json`'s manifest.
fn manifest(repo: &TestRepo, id: &str) -> Value {
    json(&["show", id, "--repo", repo.s(), "--json"])["manifest"].clone()
}

/// Names of the tables whose rows a backup holds.
fn tables_with_rows(manifest: &Value) -> Vec<String> {
    manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// Row counts per table, computed by the server.
fn row_counts(db: &TestDb) -> BTreeMap<String, i64> {
    content(db)
        .into_iter()
        .map(|(t, (rows, _))| (t, rows))
        .collect()
}

#[test]
fn schema_only_and_data_only_backups_restore_the_schema_then_the_rows() {
    // With foreign keys: the data-only restore loads into tables whose keys are in place.
    let src = shop("kinds_src", true);
    let repo = TestRepo::local();
    let schema_id = id_of(&backup(&src, &repo, &["--schema-only"]));
    let data_id = id_of(&backup(&src, &repo, &["--data-only"]));
    let schema_manifest = manifest(&repo, &schema_id);
    assert_eq!(schema_manifest["kind"], "schema-only");
    assert_eq!(schema_manifest["tables"].as_array().unwrap().len(), 0);
    assert_eq!(schema_manifest["stats"]["bytes"], 0);
    let data_manifest = manifest(&repo, &data_id);
    assert_eq!(data_manifest["kind"], "data-only");
    assert_eq!(
        tables_with_rows(&data_manifest),
        [
            "audit.log_2024",
            "public.customers",
            "public.order_items",
            "public.orders",
            "public.tmp_import"
        ]
    );

    // The schema-only backup gives the whole schema and no rows.
    let dst = TestDb::new("kinds_dst");
    let (report, _) = restore(&schema_id, &repo, &dst.url, &[]);
    assert_schemas_identical(&src, &dst);
    assert!(row_counts(&dst).values().all(|rows| *rows == 0), "{report}");

    // The data-only backup fills those tables, sequences included, in the existing schema.
    let (report, _) = restore(&data_id, &repo, &dst.url, &["--data-only"]);
    assert_reported_rows(&report, &content(&src));
    assert_same_content(&src, &dst);
    assert_eq!(sequences(&dst), sequences(&src));
    assert_schemas_identical(&src, &dst);
    // New rows continue the source's sequences.
    dst.execute("INSERT INTO customers (name) VALUES ('new'); INSERT INTO orders (customer, placed) VALUES (1, '2025-01-01');");
    assert_eq!(dst.scalar_i64("SELECT max(id)::int8 FROM customers"), 201);
    assert_eq!(dst.scalar_i64("SELECT max(id)::int8 FROM orders"), 1501);

    // `restore --schema-only` of a complete backup gives the schema alone too.
    let complete = id_of(&backup(&src, &repo, &[]));
    let schema_dst = TestDb::new("kinds_schema_dst");
    restore(&complete, &repo, &schema_dst.url, &["--schema-only"]);
    assert_schemas_identical(&src, &schema_dst);
    assert!(row_counts(&schema_dst).values().all(|rows| *rows == 0));
}

#[test]
fn backup_table_patterns_choose_the_rows_and_exclude_table_leaves_tables_out() {
    // Without foreign keys: a key to a table whose rows were left out cannot be restored.
    let src = shop("patterns_src", false);
    let repo = TestRepo::local();
    let id = id_of(&backup(
        &src,
        &repo,
        &[
            "--table",
            "order*",
            "--table",
            "audit.*",
            "--exclude-table",
            "tmp_*",
        ],
    ));
    let m = manifest(&repo, &id);
    assert_eq!(
        tables_with_rows(&m),
        ["audit.log_2024", "public.order_items", "public.orders"]
    );
    let schema_tables: Vec<&str> = m["schema"]["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("no schema tables in {m}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        !schema_tables.iter().any(|t| t.contains("tmp_import")),
        "{schema_tables:?}"
    );
    assert!(
        schema_tables.iter().any(|t| t.contains("customers")),
        "{schema_tables:?}"
    );

    // The restore has every table but the excluded one, and rows only in the chosen ones.
    let dst = TestDb::new("patterns_dst");
    restore(&id, &repo, &dst.url, &[]);
    let (src_content, dst_content) = (content(&src), content(&dst));
    assert_eq!(
        dst_content.keys().collect::<Vec<_>>(),
        [
            "audit.log_2024",
            "public.customers",
            "public.order_items",
            "public.orders"
        ]
    );
    assert_eq!(dst_content["public.customers"].0, 0);
    for table in ["audit.log_2024", "public.order_items", "public.orders"] {
        assert_eq!(dst_content[table], src_content[table], "{table}");
    }

    // Only a schema-qualified pattern's tables, every other table excluded.
    let id = id_of(&backup(
        &src,
        &repo,
        &[
            "--table",
            "audit.*",
            "--exclude-table",
            "tmp_*",
            "--exclude-table",
            "order*",
            "--exclude-table",
            "customers",
        ],
    ));
    assert_eq!(tables_with_rows(&manifest(&repo, &id)), ["audit.log_2024"]);
    let dst = TestDb::new("patterns_audit_dst");
    restore(&id, &repo, &dst.url, &[]);
    let rows = row_counts(&dst);
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["audit.log_2024"]);
    assert_eq!(rows["audit.log_2024"], 300);
}

/// A key that does not hold on the restored rows (orders backed up without the customers
/// they reference) fails the restore after every row is in: the target is left empty, as it
/// was found, not with keyless tables.
#[test]
fn a_restore_whose_foreign_key_fails_leaves_the_target_empty() {
    let src = shop("key_fails_src", true);
    let repo = TestRepo::local();
    let id = id_of(&backup(&src, &repo, &["--table", "order*"]));
    let dst = TestDb::new("key_fails_dst");
    let out = strata(&["restore", &id, "--repo", repo.s(), "--to", &dst.url]);
    assert_clear_error(&out, "a restore whose foreign key does not hold");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("foreign key") && err.contains("empty again"),
        "{err}"
    );
    assert_eq!(
        user_relations(&dst),
        0,
        "the failed restore left relations behind"
    );
}

#[test]
fn restore_table_pattern_with_three_jobs_loads_only_those_tables_rows() {
    let src = shop("restore_table_src", true);
    let repo = TestRepo::local();
    let id = id_of(&backup(&src, &repo, &["--jobs", "3"]));
    let dst = TestDb::new("restore_table_dst");
    let out = strata(&[
        "restore",
        &id,
        "--repo",
        repo.s(),
        "--to",
        &dst.url,
        "--table",
        "cust*",
        "--table",
        "orders",
        "--table",
        "audit.*",
        "--jobs",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reported: Vec<&str> = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        reported,
        ["audit.log_2024", "public.customers", "public.orders"],
        "{report}"
    );
    // The whole schema, the chosen tables' rows exactly, the others empty.
    assert_schemas_identical(&src, &dst);
    let (src_content, dst_content) = (content(&src), content(&dst));
    // orders' key to customers is restored: both tables have their rows.
    for table in ["audit.log_2024", "public.customers", "public.orders"] {
        assert_eq!(dst_content[table], src_content[table], "{table}");
    }
    for table in ["public.order_items", "public.tmp_import"] {
        assert_eq!(dst_content[table].0, 0, "{table}");
    }
}

#[test]
fn list_and_show_json_describe_every_backup() {
    let shop_db = shop("list_shop", true);
    let other = TestDb::new("list_other");
    other.execute(
        "CREATE TABLE notes (id int PRIMARY KEY, body text);
                   INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 40) g;",
    );
    let repo = TestRepo::local();
    let full = backup(&shop_db, &repo, &["--tag", "nightly"]);
    let schema = backup(
        &shop_db,
        &repo,
        &["--schema-only", "--tag", "release", "--tag", "v2"],
    );
    let again = backup(&shop_db, &repo, &["--data-only"]);
    let notes = backup(&other, &repo, &[]);
    let list = json(&["list", "--repo", repo.s(), "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 4, "{list:?}");
    // Oldest first: the order they were made in (ties within a second are in id order).
    let ids: Vec<String> = list
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    let made = [id_of(&full), id_of(&schema), id_of(&again), id_of(&notes)];
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    let mut sorted_made = made.to_vec();
    sorted_made.sort();
    assert_eq!(sorted_ids, sorted_made);
    let times: Vec<strata::repo::Timestamp> = list
        .iter()
        .map(|b| b["time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    let entry =
        |summary: &Value| -> &Value { list.iter().find(|b| b["id"] == summary["id"]).unwrap() };
    let shop_rows: i64 = row_counts(&shop_db).values().sum();
    let expect = [
        (&full, &shop_db, "complete", vec!["nightly"], 5, shop_rows),
        (
            &schema,
            &shop_db,
            "schema-only",
            vec!["release", "v2"],
            0,
            0,
        ),
        (&again, &shop_db, "data-only", vec![], 5, shop_rows),
        (&notes, &other, "complete", vec![], 1, 40),
    ];
    for (summary, db, kind, tags, tables, rows) in expect {
        let b = entry(summary);
        let id = b["id"].as_str().unwrap();
        assert_eq!(id.len(), 64, "{b}");
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()), "{b}");
        assert_eq!(b["source"], db.url.as_str(), "{b}");
        assert_eq!(b["engine"], "postgres", "{b}");
        assert_eq!(b["kind"], kind, "{b}");
        assert_eq!(b["tags"], serde_json::json!(tags), "{b}");
        assert_eq!(b["tables"], tables, "{b}");
        assert_eq!(b["rows"], rows, "{b}");
        // The same sizes the backup reported when it ran.
        assert_eq!(b["bytes"], summary["bytes"], "{b} vs {summary}");
        assert_eq!(b["new_bytes"], summary["new_bytes"], "{b} vs {summary}");
        assert!(b["new_bytes"].as_u64() <= b["bytes"].as_u64(), "{b}");

        // show --json (by a unique prefix) tells the same, and more.
        let shown = json(&["show", &id[..12], "--repo", repo.s(), "--json"]);
        assert_eq!(shown["id"], id);
        let m = &shown["manifest"];
        assert_eq!(m["time"], b["time"]);
        assert_eq!(m["kind"], kind);
        assert_eq!(
            m["tags"].as_array().cloned().unwrap_or_default(),
            b["tags"].as_array().unwrap().clone()
        );
        assert_eq!(m["source"]["database"], b["source"]);
        assert_eq!(m["source"]["engine"], "postgres");
        assert!(
            m["source"]["server_version"]
                .as_str()
                .unwrap()
                .starts_with("15"),
            "{m}"
        );
        assert!(!m["source"]["host"].as_str().unwrap().is_empty(), "{m}");
        assert_eq!(m["stats"]["bytes"], b["bytes"]);
        assert_eq!(m["stats"]["new_bytes"], b["new_bytes"]);
        let table_rows: u64 = m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["rows"].as_u64().unwrap())
            .sum();
        assert_eq!(table_rows as i64, rows);
    }
    // The data-only backup read the same rows as the complete one: nothing new to store.
    let (full_bytes, again_new) = (u64_of(&full, "bytes"), u64_of(&again, "new_bytes"));
    assert!(full_bytes > 0 && u64_of(&full, "new_bytes") > 0, "{full}");
    assert_eq!(u64_of(&again, "bytes"), full_bytes, "{again}");
    assert_eq!(again_new, 0, "{again}");
    assert_eq!(u64_of(&schema, "bytes"), 0, "{schema}");
}
