//! `strata backup` / `restore` / `verify` / `list` against real PostgreSQL databases: the
//! acceptance criteria of the backup issue (issue 5) for PostgreSQL.
//!
//! Every test takes its own repository (a temporary directory) and its own databases. Content is
//! compared with hashes computed by the server (one ordered md5 per table), never by Strata.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{describe, files_under, strata, text, TestDb};

// ---------------------------------------------------------------- helpers

/// Runs strata and insists on success.
fn ok(args: &[&str]) -> Output {
    let out = strata(args);
    assert!(
        out.status.success(),
        "strata {args:?} failed: {}",
        describe(&out)
    );
    out
}

/// Runs strata (which must succeed) and parses its `--json` output.
fn json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "strata {args:?} did not print JSON ({e}): {}",
            describe(&out)
        )
    })
}

/// Exit 2, exactly one line on stderr, no panic: the shape of every user-facing error.
fn assert_clear_error(out: &Output, what: &str) {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: expected exit 2: {}",
        describe(out)
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: strata panicked: {}",
        describe(out)
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: expected exactly one line on stderr: {}",
        describe(out)
    );
    assert!(
        err.starts_with("strata: error:"),
        "{what}: expected `strata: error: …`: {}",
        describe(out)
    );
}

/// A repository in a temporary directory, created with `strata init`.
struct Repo {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        ok(&["init", path.to_str().unwrap()]);
        Repo { _dir: dir, path }
    }

    /// A repository whose packs are `pack_size` bytes, so that some are stored long before a
    /// backup ends.
    fn with_pack_size(pack_size: u32) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let mut config = strata::repo::Config::new();
        config.pack_size = pack_size;
        support::init_repo_with(&path, config);
        Repo { _dir: dir, path }
    }

    fn s(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Rewrites one key of `config`'s clear part (e.g. a newer `format`).
    fn set_config(&self, key: &str, value: Value) {
        let file = self.path.join("config");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        config[key] = value;
        make_writable(&file);
        std::fs::write(&file, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    }

    /// Every pack file, largest first.
    fn packs(&self) -> Vec<PathBuf> {
        let mut packs: Vec<PathBuf> = files_under(&self.path.join("packs"))
            .into_iter()
            .filter(|p| !file_name(p).starts_with(".strata-tmp"))
            .collect();
        packs.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).map_or(0, |m| m.len())));
        packs
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn make_writable(path: &Path) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
}

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

fn backup(db: &TestDb, repo: &Repo, extra: &[&str]) -> Value {
    let mut args = vec!["backup", db.url.as_str(), "--repo", repo.s(), "--json"];
    args.extend_from_slice(extra);
    json(&args)
}

fn restore(id: &str, repo: &Repo, to: &str, extra: &[&str]) -> (Value, Output) {
    let mut args = vec!["restore", id, "--repo", repo.s(), "--to", to, "--json"];
    args.extend_from_slice(extra);
    let out = ok(&args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("restore did not print JSON ({e}): {}", describe(&out)));
    (report, out)
}

fn id_of(summary: &Value) -> String {
    summary["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {summary}"))
        .to_string()
}

fn u64_of(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {summary}"))
}

fn port() -> u16 {
    support::cluster().port
}

/// A TCP port on 127.0.0.1 on which nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// User tables as (raw `schema.table`, quoted name), from the catalog.
fn user_tables(db: &TestDb) -> Vec<(String, String)> {
    let mut c = db.client();
    c.query(
        "SELECT schemaname || '.' || tablename, format('%I.%I', schemaname, tablename)
         FROM pg_tables
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Per table: (row count, md5 of the rows in order), computed by the server. `FROM ONLY` so that
/// a partitioned parent and its partitions are each counted once.
fn content(db: &TestDb) -> BTreeMap<String, (i64, String)> {
    let mut c = db.client();
    user_tables(db)
        .into_iter()
        .map(|(raw, quoted)| {
            let row = c
                .query_one(
                    &format!(
                        "SELECT count(*), coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '')
                         FROM ONLY {quoted} x"
                    ),
                    &[],
                )
                .unwrap_or_else(|e| panic!("hashing {raw} in {}: {e}", db.name));
            (raw, (row.get(0), row.get(1)))
        })
        .collect()
}

/// Every sequence (identity ones included) with `last_value/is_called`.
fn sequences(db: &TestDb) -> BTreeMap<String, String> {
    let mut c = db.client();
    let names: Vec<String> = c
        .query(
            "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    names
        .into_iter()
        .map(|seq| {
            let v: String = c
                .query_one(
                    &format!("SELECT last_value::text || '/' || is_called::text FROM {seq}"),
                    &[],
                )
                .unwrap()
                .get(0);
            (seq, v)
        })
        .collect()
}

/// How many user objects (tables, sequences, indexes, views, …) a database holds.
fn user_relations(db: &TestDb) -> i64 {
    db.scalar_i64(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
    )
}

fn assert_same_content(src: &TestDb, dst: &TestDb) {
    let (a, b) = (content(src), content(dst));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the restored database does not have the same tables"
    );
    let differing: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: source {v:?}, restored {:?}", b[k]))
        .collect();
    assert!(
        differing.is_empty(),
        "table contents differ after restore:\n{}",
        differing.join("\n")
    );
}

fn assert_schemas_identical(src: &TestDb, dst: &TestDb) {
    let out = strata(&["diff", &src.url, &dst.url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the restored schema differs from the source: {}",
        describe(&out)
    );
}

/// Row counts reported by `restore --json` equal the source's.
fn assert_reported_rows(report: &Value, src: &BTreeMap<String, (i64, String)>) {
    let tables = report["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("no tables in the restore report {report}"));
    assert!(!tables.is_empty(), "restore reported no tables: {report}");
    for t in tables {
        let name = t["table"].as_str().unwrap();
        let rows = t["rows"].as_u64().unwrap();
        let expected = src
            .get(name)
            .unwrap_or_else(|| panic!("restore reported an unknown table {name}"))
            .0;
        assert_eq!(
            rows as i64, expected,
            "restore reported {rows} rows for {name}"
        );
    }
    for (name, (rows, _)) in src {
        if *rows > 0 {
            assert!(
                tables.iter().any(|t| t["table"] == name.as_str()),
                "restore did not report {name} ({rows} rows): {report}"
            );
        }
    }
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

#[test]
fn pagila_round_trips_with_identical_schema_rows_and_sequences() {
    let (Some(schema), Some(data)) = (
        support::shared_fixture("pagila/pagila-schema.sql"),
        support::shared_fixture("pagila/pagila-data.sql"),
    ) else {
        return;
    };
    let src = TestDb::new("pagila_src");
    src.psql_file(&schema);
    src.psql_file(&data);
    let repo = Repo::new();
    let summary = backup(&src, &repo, &["--tag", "pagila"]);
    let id = id_of(&summary);

    let dst = TestDb::new("pagila_dst");
    let (report, out) = restore(&id, &repo, &dst.url, &[]);

    assert_schemas_identical(&src, &dst);
    let src_content = content(&src);
    assert!(
        src_content.values().map(|(n, _)| n).sum::<i64>() > 40_000,
        "Pagila did not load"
    );
    assert_same_content(&src, &dst);
    let (a, b) = (sequences(&src), sequences(&dst));
    assert!(!a.is_empty(), "Pagila has sequences");
    assert_eq!(a, b, "sequence values differ after restore");
    assert_reported_rows(&report, &src_content);
    assert_eq!(
        report["sequences"].as_u64(),
        Some(a.len() as u64),
        "restore report: {report}\n{}",
        describe(&out)
    );

    // The repository lists the backup with its tag, and verifies, data included.
    let list = json(&["list", "--repo", repo.s(), "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["tags"], serde_json::json!(["pagila"]));
    ok(&["verify", &id[..8], "--repo", repo.s(), "--read-data"]);
}

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

    let repo = Repo::new();
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
    let repo = Repo::new();
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
    let repo = Repo::new();
    let summary = backup(&src, &repo, &[]);
    let dst = TestDb::new("search_path_dst");
    restore(&id_of(&summary), &repo, &dst.url, &[]);

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

// ---------------------------------------------------------------- damage

fn damage_source() -> TestDb {
    let src = TestDb::new("damage_src");
    src.execute(
        "CREATE TABLE public.big (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO public.big
             SELECT i, md5(i::text) || ' ' || md5((i + 1)::text) FROM generate_series(1, 40000) i;
         CREATE TABLE public.small (id integer PRIMARY KEY, name text);
         INSERT INTO public.small VALUES (1, 'one'), (2, 'two');",
    );
    src
}

/// Restoring a damaged backup fails with a clear message and leaves the target untouched.
fn assert_restore_refused(id: &str, repo: &Repo, what: &str) {
    let dst = TestDb::new("damage_dst");
    let out = strata(&["restore", id, "--repo", repo.s(), "--to", &dst.url]);
    assert_clear_error(&out, what);
    let err = text(&out.stderr).to_lowercase();
    assert!(
        ["damage", "corrupt", "hash", "integrity", "missing", "verif"]
            .iter()
            .any(|w| err.contains(w)),
        "{what}: the message does not say what is wrong: {}",
        describe(&out)
    );
    assert_eq!(
        user_relations(&dst),
        0,
        "{what}: restore created objects in the target before failing: {}",
        dst.psql_text(
            "SELECT string_agg(n.nspname || '.' || c.relname, ', ') FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
        )
    );
}

#[test]
fn a_flipped_byte_in_a_pack_is_reported_with_backup_and_table_and_blocks_restore() {
    let src = damage_source();
    let repo = Repo::new();
    let id = id_of(&backup(&src, &repo, &[]));
    ok(&["verify", "--repo", repo.s(), "--read-data"]);

    let pack = repo
        .packs()
        .into_iter()
        .next()
        .expect("the backup wrote a pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    make_writable(&pack);
    std::fs::write(&pack, &bytes).unwrap();

    let out = strata(&["verify", "--repo", repo.s(), "--read-data"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify --read-data: {}",
        describe(&out)
    );
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        report.contains(&id[..8]),
        "verify does not name the damaged backup {}: {}",
        &id[..8],
        describe(&out)
    );
    assert!(
        report.contains("public.big"),
        "verify does not name the damaged table public.big: {}",
        describe(&out)
    );
    // The machine-readable report locates it too.
    let out = strata(&["verify", "--repo", repo.s(), "--read-data", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    let problems = doc["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["backup"] == id.as_str() && p["table"] == "public.big"),
        "no problem names backup {id} and table public.big: {doc}"
    );

    assert_restore_refused(&id, &repo, "restore of a backup with a flipped byte");
}

#[test]
fn a_deleted_pack_is_reported_by_verify_without_read_data_and_blocks_restore() {
    let src = damage_source();
    let repo = Repo::new();
    let id = id_of(&backup(&src, &repo, &[]));
    ok(&["verify", "--repo", repo.s()]);

    let pack = repo
        .packs()
        .into_iter()
        .next()
        .expect("the backup wrote a pack");
    let pack_name = file_name(&pack);
    std::fs::remove_file(&pack).unwrap();

    let out = strata(&["verify", "--repo", repo.s()]);
    assert_eq!(out.status.code(), Some(1), "verify: {}", describe(&out));
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        report.contains(&id[..8]),
        "verify does not name the damaged backup: {}",
        describe(&out)
    );
    assert!(
        report.contains(&pack_name[..8]) || report.to_lowercase().contains("missing"),
        "verify does not report the missing pack {pack_name}: {}",
        describe(&out)
    );

    assert_restore_refused(&id, &repo, "restore of a backup with a missing pack");
}

// ---------------------------------------------------------------- crash

#[test]
fn a_backup_killed_halfway_leaves_no_backup_a_valid_repository_and_reusable_chunks() {
    let src = TestDb::new("crash_src");
    src.execute(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO public.events
             SELECT i, md5(i::text) || md5((i * 3)::text) FROM generate_series(1, 300000) i;",
    );
    // Small packs, so that some are stored long before the backup ends.
    let repo = Repo::with_pack_size(65536);

    let mut child = support::strata_command(&[])
        .args([
            "backup",
            &src.url,
            "--repo",
            repo.s(),
            "--jobs",
            "1",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!(
                "the backup ended ({status}) before 3 MB of packs appeared, so it could not be \
                 killed halfway; make the database bigger. stderr: {err}"
            );
        }
        // Halfway-ish: the whole backup stores about 11 MB of packs.
        let stored: u64 = repo
            .packs()
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum();
        if stored >= 3_000_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "3 MB of packs did not appear within 60 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let packs_left = repo.packs().len();
    assert!(packs_left > 0);

    let list = json(&["list", "--repo", repo.s(), "--json"]);
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "a killed backup appears in list: {list}"
    );
    let out = strata(&["verify", "--repo", repo.s()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the repository does not verify after a killed backup: {}",
        describe(&out)
    );

    let summary = backup(&src, &repo, &[]);
    let (bytes, new_bytes) = (u64_of(&summary, "bytes"), u64_of(&summary, "new_bytes"));
    assert!(
        new_bytes * 10 < bytes * 9,
        "the next backup reused less than 10% (3 MB of packs were stored before the kill) of the {packs_left} pack(s) the killed one stored: {summary}"
    );
    eprintln!(
        "crash: killed after {packs_left} pack(s); the next backup stored {new_bytes} new of {bytes} B"
    );
    let list = json(&["list", "--repo", repo.s(), "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    ok(&["verify", "--repo", repo.s(), "--read-data"]);
    let dst = TestDb::new("crash_dst");
    restore(&id_of(&summary), &repo, &dst.url, &[]);
    assert_same_content(&src, &dst);
}

// ---------------------------------------------------------------- dedup

#[test]
fn unchanged_and_appended_databases_store_almost_nothing_new() {
    let src = TestDb::new("dedup_src");
    src.execute(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL,
                                     payload text NOT NULL);
         INSERT INTO public.events
             SELECT i, timestamptz '2024-01-01' + i * interval '1 minute',
                    (ARRAY['click', 'view', 'buy', 'share'])[1 + i % 4],
                    md5(i::text) || ' ' || md5((i * 11)::text)
             FROM generate_series(1, 200000) i;
         CREATE TABLE public.kinds (name text PRIMARY KEY);
         INSERT INTO public.kinds VALUES ('click'), ('view'), ('buy'), ('share');",
    );
    let repo = Repo::new();
    let first = backup(&src, &repo, &[]);
    let first_bytes = u64_of(&first, "bytes");
    assert!(first_bytes > 10_000_000, "{first}");
    assert_eq!(u64_of(&first, "new_bytes"), first_bytes, "{first}");

    let second = backup(&src, &repo, &[]);
    let new_bytes = u64_of(&second, "new_bytes");
    assert!(
        new_bytes * 100 < first_bytes,
        "an unchanged database stored {new_bytes} new bytes, not < 1% of {first_bytes}: {second}"
    );

    src.execute(
        "INSERT INTO public.events
             SELECT i, timestamptz '2024-01-01' + i * interval '1 minute', 'view',
                    md5(i::text) || ' ' || md5((i * 11)::text)
             FROM generate_series(200001, 210000) i;",
    );
    let third = backup(&src, &repo, &[]);
    let (bytes, new_bytes) = (u64_of(&third, "bytes"), u64_of(&third, "new_bytes"));
    assert!(bytes > first_bytes, "{third}");
    assert!(
        new_bytes * 10 < bytes,
        "appending 5% rows stored {new_bytes} new bytes, not < 10% of {bytes}: {third}"
    );
    eprintln!(
        "dedup: first {first_bytes} B, unchanged {} B new, +5% rows {new_bytes} B new of {bytes} B",
        u64_of(&second, "new_bytes")
    );
}

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
fn a_repository_of_a_newer_format_is_refused_with_advice_to_upgrade() {
    let src = TestDb::new("newer_format");
    let repo = Repo::new();
    let id = id_of(&backup(&src, &repo, &["--schema-only"]));
    repo.set_config("format", serde_json::json!(999));
    let before = tree(&repo.path);
    let dst = TestDb::new("newer_format_dst");
    for args in [
        vec!["list", "--repo", repo.s()],
        vec!["show", &id, "--repo", repo.s()],
        vec!["verify", "--repo", repo.s()],
        vec!["backup", &src.url, "--repo", repo.s()],
        vec!["restore", &id, "--repo", repo.s(), "--to", &dst.url],
    ] {
        let out = strata(&args);
        assert_clear_error(&out, &format!("{args:?}"));
        let err = text(&out.stderr).to_lowercase();
        assert!(
            err.contains("upgrade") || err.contains("newer"),
            "{args:?}: the message does not say the repository is newer than strata: {}",
            describe(&out)
        );
    }
    assert_eq!(
        tree(&repo.path),
        before,
        "strata wrote into a newer repository"
    );
    assert_eq!(user_relations(&dst), 0);
}

#[test]
fn an_unknown_backup_id_is_a_clear_error() {
    let src = TestDb::new("unknown_id");
    src.execute("CREATE TABLE public.t (id integer PRIMARY KEY); INSERT INTO public.t VALUES (1);");
    let repo = Repo::new();
    let id = id_of(&backup(&src, &repo, &[]));
    // A prefix that cannot match the only backup.
    let unknown = if id.starts_with('0') {
        "ffffffff"
    } else {
        "00000000"
    };
    let dst = TestDb::new("unknown_id_dst");
    for args in [
        vec!["show", unknown, "--repo", repo.s()],
        vec!["verify", unknown, "--repo", repo.s()],
        vec!["restore", unknown, "--repo", repo.s(), "--to", &dst.url],
        vec!["restore", "not-hex!", "--repo", repo.s(), "--to", &dst.url],
    ] {
        assert_clear_error(&strata(&args), &format!("{args:?}"));
    }
    assert_eq!(user_relations(&dst), 0);
}

#[test]
fn an_unreachable_database_is_a_clear_error_and_nothing_is_written() {
    let src = TestDb::new("unreachable");
    src.execute("CREATE TABLE public.t (id integer PRIMARY KEY); INSERT INTO public.t VALUES (1);");
    let repo = Repo::new();
    let id = id_of(&backup(&src, &repo, &[]));
    let before = tree(&repo.path);
    let nowhere = format!("postgres://postgres@127.0.0.1:{}/nowhere", closed_port());

    let out = strata(&["backup", &nowhere, "--repo", repo.s()]);
    assert_clear_error(&out, "backup from an unreachable database");
    assert_eq!(
        tree(&repo.path),
        before,
        "a failed backup wrote into the repository"
    );

    let out = strata(&["restore", &id, "--repo", repo.s(), "--to", &nowhere]);
    assert_clear_error(&out, "restore to an unreachable database");
    assert_eq!(
        tree(&repo.path),
        before,
        "a failed restore wrote into the repository"
    );
    let list = json(&["list", "--repo", repo.s(), "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
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
    let repo = Repo::new();
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

/// A big table is read as several block ranges by several workers; its parts become the
/// table's segments, in order, and restore to exactly the same rows.
#[test]
fn a_big_table_is_read_in_parts_by_several_workers_and_restores_identically() {
    let src = TestDb::new("parts_src");
    src.execute(
        "CREATE TABLE big (id int PRIMARY KEY, note text);
         INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;",
    );
    let repo = Repo::new();
    let out = support::strata_command(&[])
        .args([
            "backup",
            &src.url,
            "--repo",
            repo.s(),
            "--jobs",
            "3",
            "--json",
        ])
        .env("STRATA_BACKUP_PART_BYTES", "262144")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = id_of(&summary);
    let shown = json(&["show", &id, "--repo", repo.s(), "--json"]);
    let big = shown["manifest"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "public.big")
        .unwrap()
        .clone();
    let segments = big["segments"].as_array().unwrap().len();
    assert!(segments > 2, "expected several parts, got {segments}");
    assert_eq!(big["rows"], 20000);
    let dst = TestDb::new("parts_dst");
    restore(&id, &repo, &dst.url, &[]);
    assert_same_content(&src, &dst);
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
    let repo = Repo::new();
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
    let repo = Repo::new();
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
