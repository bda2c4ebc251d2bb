//! The backup/restore/verify/list suite with the repository as a parameter: each body runs with
//! a local repository (tests/backup_pg.rs) and with one on the S3 test server
//! (tests/backup_s3.rs). Content is compared with hashes computed by the server (one ordered md5
//! per table), never by Strata.

use std::collections::BTreeMap;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::repo::{Place, TestRepo};
pub use super::{describe, text};
use super::{strata, strata_command, TestDb};

// ---------------------------------------------------------------- helpers

/// Runs strata and insists on success.
pub fn ok(args: &[&str]) -> Output {
    let out = strata(args);
    assert!(
        out.status.success(),
        "strata {args:?} failed: {}",
        describe(&out)
    );
    out
}

/// Runs strata (which must succeed) and parses its `--json` output.
pub fn json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "strata {args:?} did not print JSON ({e}): {}",
            describe(&out)
        )
    })
}

/// Exit 2, exactly one line on stderr, no panic: the shape of every user-facing error.
pub fn assert_clear_error(out: &Output, what: &str) {
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

pub fn backup(db: &TestDb, repo: &TestRepo, extra: &[&str]) -> Value {
    let mut args = vec!["backup", db.url.as_str(), "--repo", repo.s(), "--json"];
    args.extend_from_slice(extra);
    json(&args)
}

pub fn restore(id: &str, repo: &TestRepo, to: &str, extra: &[&str]) -> (Value, Output) {
    let mut args = vec!["restore", id, "--repo", repo.s(), "--to", to, "--json"];
    args.extend_from_slice(extra);
    let out = ok(&args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("restore did not print JSON ({e}): {}", describe(&out)));
    (report, out)
}

pub fn id_of(summary: &Value) -> String {
    summary["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {summary}"))
        .to_string()
}

pub fn u64_of(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {summary}"))
}

pub fn port() -> u16 {
    super::cluster().port
}

/// A TCP port on 127.0.0.1 on which nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// User tables as (raw `schema.table`, quoted name), from the catalog.
pub fn user_tables(db: &TestDb) -> Vec<(String, String)> {
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
pub fn content(db: &TestDb) -> BTreeMap<String, (i64, String)> {
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
pub fn sequences(db: &TestDb) -> BTreeMap<String, String> {
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
pub fn user_relations(db: &TestDb) -> i64 {
    db.scalar_i64(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
    )
}

pub fn assert_same_content(src: &TestDb, dst: &TestDb) {
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

pub fn assert_schemas_identical(src: &TestDb, dst: &TestDb) {
    let out = strata(&["diff", &src.url, &dst.url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the restored schema differs from the source: {}",
        describe(&out)
    );
}

/// Row counts reported by `restore --json` equal the source's.
pub fn assert_reported_rows(report: &Value, src: &BTreeMap<String, (i64, String)>) {
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

pub fn damage_source() -> TestDb {
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
pub fn assert_restore_refused(id: &str, repo: &TestRepo, what: &str) {
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

// ---------------------------------------------------------------- the suite

pub fn pagila_round_trips_with_identical_schema_rows_and_sequences(place: Place) {
    let (Some(schema), Some(data)) = (
        super::shared_fixture("pagila/pagila-schema.sql"),
        super::shared_fixture("pagila/pagila-data.sql"),
    ) else {
        return;
    };
    let src = TestDb::new("pagila_src");
    src.psql_file(&schema);
    src.psql_file(&data);
    let repo = TestRepo::new(place, "pagila");
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

pub fn a_flipped_byte_in_a_pack_is_reported_with_backup_and_table_and_blocks_restore(place: Place) {
    let src = damage_source();
    let repo = TestRepo::new(place, "flipped");
    let id = id_of(&backup(&src, &repo, &[]));
    ok(&["verify", "--repo", repo.s(), "--read-data"]);

    let pack = repo
        .packs()
        .into_iter()
        .next()
        .expect("the backup wrote a pack");
    repo.flip_byte(&pack.name);

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

pub fn a_deleted_pack_is_reported_by_verify_without_read_data_and_blocks_restore(place: Place) {
    let src = damage_source();
    let repo = TestRepo::new(place, "deleted");
    let id = id_of(&backup(&src, &repo, &[]));
    ok(&["verify", "--repo", repo.s()]);

    let pack = repo
        .packs()
        .into_iter()
        .next()
        .expect("the backup wrote a pack");
    let pack_name = pack.name.rsplit('/').next().unwrap_or_default().to_string();
    repo.delete(&pack.name);

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

pub fn a_backup_killed_halfway_leaves_no_backup_a_valid_repository_and_reusable_chunks(
    place: Place,
) {
    let src = TestDb::new("crash_src");
    src.execute(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO public.events
             SELECT i, md5(i::text) || md5((i * 3)::text) FROM generate_series(1, 300000) i;",
    );
    // Small packs, so that some are stored long before the backup ends.
    let repo = TestRepo::with_pack_size(place, "killed", 65536);

    let mut child = strata_command(&[
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
        let stored = repo.pack_bytes();
        if stored >= 3_000_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "3 MB of packs did not appear within 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
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

pub fn unchanged_and_appended_databases_store_almost_nothing_new(place: Place) {
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
    let repo = TestRepo::new(place, "dedup");
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

pub fn a_repository_of_a_newer_format_is_refused_with_advice_to_upgrade(place: Place) {
    let src = TestDb::new("newer_format");
    let repo = TestRepo::new(place, "newer");
    let id = id_of(&backup(&src, &repo, &["--schema-only"]));
    repo.set_config("format", serde_json::json!(999));
    let before = repo.objects();
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
        repo.objects(),
        before,
        "strata wrote into a newer repository"
    );
    assert_eq!(user_relations(&dst), 0);
}

pub fn an_unknown_backup_id_is_a_clear_error(place: Place) {
    let src = TestDb::new("unknown_id");
    src.execute("CREATE TABLE public.t (id integer PRIMARY KEY); INSERT INTO public.t VALUES (1);");
    let repo = TestRepo::new(place, "unknown");
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

pub fn an_unreachable_database_is_a_clear_error_and_nothing_is_written(place: Place) {
    let src = TestDb::new("unreachable");
    src.execute("CREATE TABLE public.t (id integer PRIMARY KEY); INSERT INTO public.t VALUES (1);");
    let repo = TestRepo::new(place, "unreachable");
    let id = id_of(&backup(&src, &repo, &[]));
    let before = repo.objects();
    let nowhere = format!("postgres://postgres@127.0.0.1:{}/nowhere", closed_port());

    let out = strata(&["backup", &nowhere, "--repo", repo.s()]);
    assert_clear_error(&out, "backup from an unreachable database");
    assert_eq!(
        repo.objects(),
        before,
        "a failed backup wrote into the repository"
    );

    let out = strata(&["restore", &id, "--repo", repo.s(), "--to", &nowhere]);
    assert_clear_error(&out, "restore to an unreachable database");
    assert_eq!(
        repo.objects(),
        before,
        "a failed restore wrote into the repository"
    );
    let list = json(&["list", "--repo", repo.s(), "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

/// A big table is read as several block ranges by several workers; its parts become the
/// table's segments, in order, and restore to exactly the same rows.
pub fn a_big_table_is_read_in_parts_by_several_workers_and_restores_identically(place: Place) {
    let src = TestDb::new("parts_src");
    src.execute(
        "CREATE TABLE big (id int PRIMARY KEY, note text);
         INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;",
    );
    let repo = TestRepo::new(place, "parts");
    let out = strata_command(&[
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
