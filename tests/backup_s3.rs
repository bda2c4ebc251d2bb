//! Repositories on S3: the backup/restore/verify/list suite of `support::backup_suite` with every
//! repository in a bucket of a real S3-compatible server (moto, started on 127.0.0.1 by the
//! harness, checking signatures and credentials), plus what only object storage has: the server
//! going away in the middle of a backup, a missing bucket, refused credentials, an unreachable
//! endpoint, locks without exclusive create, and the store's own contract.

mod support;

use std::process::Output;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::Value;
use strata::repo::{Lock, LockKind, RepoError};
use strata::store::{S3Options, S3Store, Store, StoreError};
use support::backup_suite::{self as suite, *};
use support::repo::{Place, TestRepo};
use support::s3::{s3_server, strata_command, strata_with, Gate};
use support::TestDb;

// ---------------------------------------------------------------- the suite, on S3

#[test]
fn pagila_round_trips_with_identical_schema_rows_and_sequences() {
    suite::pagila_round_trips_with_identical_schema_rows_and_sequences(Place::S3);
}

#[test]
fn a_flipped_byte_in_a_pack_is_reported_with_backup_and_table_and_blocks_restore() {
    suite::a_flipped_byte_in_a_pack_is_reported_with_backup_and_table_and_blocks_restore(Place::S3);
}

#[test]
fn a_deleted_pack_is_reported_by_verify_without_read_data_and_blocks_restore() {
    suite::a_deleted_pack_is_reported_by_verify_without_read_data_and_blocks_restore(Place::S3);
}

#[test]
fn a_backup_killed_halfway_leaves_no_backup_a_valid_repository_and_reusable_chunks() {
    suite::a_backup_killed_halfway_leaves_no_backup_a_valid_repository_and_reusable_chunks(
        Place::S3,
    );
}

#[test]
fn unchanged_and_appended_databases_store_almost_nothing_new() {
    suite::unchanged_and_appended_databases_store_almost_nothing_new(Place::S3);
}

#[test]
fn a_repository_of_a_newer_format_is_refused_with_advice_to_upgrade() {
    suite::a_repository_of_a_newer_format_is_refused_with_advice_to_upgrade(Place::S3);
}

#[test]
fn an_unknown_backup_id_is_a_clear_error() {
    suite::an_unknown_backup_id_is_a_clear_error(Place::S3);
}

#[test]
fn an_unreachable_database_is_a_clear_error_and_nothing_is_written() {
    suite::an_unreachable_database_is_a_clear_error_and_nothing_is_written(Place::S3);
}

#[test]
fn a_big_table_is_read_in_parts_by_several_workers_and_restores_identically() {
    suite::a_big_table_is_read_in_parts_by_several_workers_and_restores_identically(Place::S3);
}

/// Engines do not matter to the store: a SQLite database backs up into S3 and comes back with
/// every value and storage class.
#[test]
fn a_sqlite_database_round_trips_through_an_s3_repository() {
    let dir = tempfile::tempdir().unwrap();
    let (db, restored) = (dir.path().join("src.db"), dir.path().join("restored.db"));
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO t SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'name ' || i END,
                                  i / 3.0, CASE WHEN i % 5 = 0 THEN randomblob(16) ELSE i END
             FROM n;",
        )
        .unwrap();
    let repo = TestRepo::new(Place::S3, "sqlite");
    let source = format!("sqlite:{}", db.display());
    let summary = json(&["backup", &source, "--repo", repo.s(), "--json"]);
    let target = format!("sqlite:{}", restored.display());
    ok(&[
        "restore",
        &id_of(&summary),
        "--repo",
        repo.s(),
        "--to",
        &target,
    ]);
    let rows = |path: &std::path::Path| -> String {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT group_concat(quote(id) || quote(name) || quote(score) || quote(data), '|')
                 FROM (SELECT * FROM t ORDER BY id)",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(rows(&db), rows(&restored));
}

/// Prune, check and repair work on an encrypted repository in a bucket: the forgotten backup's
/// data goes, the rewritten (sealed) index and repacked packs check out with every blob read,
/// a lost index is rebuilt from the sealed trailers, and the kept backup restores.
#[test]
fn an_encrypted_s3_repository_is_pruned_checked_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let (db, restored) = (dir.path().join("src.db"), dir.path().join("restored.db"));
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
         INSERT INTO t SELECT i, 'first ' || i || ' ' || hex(randomblob(8)) FROM n;",
    )
    .unwrap();
    let repo = TestRepo::with_pack_size(Place::S3, "prune", 65536);
    let source = format!("sqlite:{}", db.display());
    json(&["backup", &source, "--repo", repo.s(), "--json"]);
    conn.execute_batch(
        "DELETE FROM t WHERE id > 15000;
         WITH RECURSIVE n(i) AS (SELECT 15001 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
         INSERT INTO t SELECT i, 'second ' || i || ' ' || hex(randomblob(8)) FROM n;",
    )
    .unwrap();
    let kept = id_of(&json(&[
        "backup",
        &source,
        "--repo",
        repo.s(),
        "--tag",
        "keep",
        "--json",
    ]));

    let report = json(&["prune", "--repo", repo.s(), "--keep-tag", "keep", "--json"]);
    assert_eq!(report["backups_removed"], 1, "{report}");
    let changed =
        report["packs_deleted"].as_u64().unwrap() + report["packs_repacked"].as_u64().unwrap();
    assert!(changed >= 1, "{report}");
    let check = json(&["check", "--repo", repo.s(), "--read-data", "--json"]);
    assert_eq!(check["ok"], true, "{check}");

    for object in repo.store().list("index/").unwrap() {
        repo.delete(&object.name);
    }
    let repaired = json(&["repair", "index", "--repo", repo.s(), "--json"]);
    assert_eq!(repaired["packs_indexed"], repo.packs().len(), "{repaired}");
    let check = json(&["check", "--repo", repo.s(), "--read-data", "--json"]);
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(
        check["unindexed_packs"].as_array().unwrap().len(),
        0,
        "{check}"
    );

    let target = format!("sqlite:{}", restored.display());
    ok(&["restore", &kept, "--repo", repo.s(), "--to", &target]);
    let rows = |path: &std::path::Path| -> String {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT group_concat(id || name, '|') FROM (SELECT * FROM t ORDER BY id)",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(rows(&db), rows(&restored));
}

// ---------------------------------------------------------------- the server goes away

/// The server disappears (port closed, connections cut) after a few MB of packs: the backup
/// fails with a clear error after its retries, is not listed, and the next run reuses the packs
/// that were uploaded.
#[test]
fn a_backup_interrupted_by_the_server_going_away_is_not_listed_and_the_next_run_resumes() {
    let src = TestDb::new("s3_gone_src");
    src.execute(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO public.events
             SELECT i, md5(i::text) || md5((i * 3)::text) FROM generate_series(1, 300000) i;",
    );
    // Small packs, so that some are uploaded long before the backup ends.
    let repo = TestRepo::with_pack_size(Place::S3, "gone", 65536);
    let server = s3_server();
    let gate = Gate::new(server.port);
    let env = server.env_for(&gate.endpoint());
    let through_gate = |args: &[&str]| strata_with(args, &env);

    let child = strata_command(
        &["backup", &src.url, "--repo", repo.s(), "--jobs", "1"],
        &env,
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while repo.pack_bytes() < 3_000_000 {
        assert!(
            Instant::now() < deadline,
            "3 MB of packs did not appear within 120 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    gate.close();
    let closed = Instant::now();
    let out = child.wait_with_output().unwrap();
    let waited = closed.elapsed();
    assert_clear_error(&out, "a backup whose server went away");
    let err = text(&out.stderr);
    assert!(
        err.contains(repo.s()) && err.contains("cannot reach"),
        "the error does not name the repository and say it cannot be reached: {err}"
    );
    assert!(
        waited < Duration::from_secs(30),
        "the backup took {waited:?} to give up (2 retries were configured)"
    );
    let packs_left = repo.packs().len();
    assert!(packs_left > 0);

    gate.open();
    let list = json_with(&through_gate(&["list", "--repo", repo.s(), "--json"]));
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "an interrupted backup appears in list: {list}"
    );
    let verify = through_gate(&["verify", "--repo", repo.s()]);
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));

    let summary = json_with(&through_gate(&[
        "backup",
        &src.url,
        "--repo",
        repo.s(),
        "--json",
    ]));
    let (bytes, new_bytes) = (u64_of(&summary, "bytes"), u64_of(&summary, "new_bytes"));
    assert!(
        new_bytes * 10 < bytes * 9,
        "the next backup reused less than 10% of the {packs_left} pack(s) uploaded before the server went away: {summary}"
    );
    eprintln!("s3 interrupted: {packs_left} pack(s) survived; the next backup stored {new_bytes} new of {bytes} B");
    let list = json_with(&through_gate(&["list", "--repo", repo.s(), "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let verify = through_gate(&["verify", "--repo", repo.s(), "--read-data"]);
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));
    let dst = TestDb::new("s3_gone_dst");
    let restored = through_gate(&[
        "restore",
        &id_of(&summary),
        "--repo",
        repo.s(),
        "--to",
        &dst.url,
    ]);
    assert!(restored.status.success(), "{}", describe(&restored));
    assert_same_content(&src, &dst);
}

fn json_with(out: &Output) -> Value {
    assert!(out.status.success(), "{}", describe(out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(out)))
}

// ---------------------------------------------------------------- bad input

/// Every command on `repo` with `env` fails with exit 2, one line naming the repository, and a
/// message containing `expected`.
fn assert_every_command_fails(repo: &str, env: &[(String, String)], expected: &str) {
    let src = TestDb::new("s3_bad_src");
    let dst = TestDb::new("s3_bad_dst");
    for args in [
        vec!["init", repo],
        vec!["list", "--repo", repo],
        vec!["show", "abcd", "--repo", repo],
        vec!["verify", "--repo", repo],
        vec!["backup", &src.url, "--repo", repo],
        vec!["restore", "abcd", "--repo", repo, "--to", &dst.url],
    ] {
        let started = Instant::now();
        let out = strata_with(&args, env);
        let took = started.elapsed();
        assert_clear_error(&out, &format!("{args:?}"));
        let err = text(&out.stderr);
        assert!(
            err.contains(repo) && err.contains(expected),
            "{args:?}: expected the repository and {expected:?} in: {err}"
        );
        assert!(
            took < Duration::from_secs(20),
            "{args:?} took {took:?} to fail"
        );
    }
}

#[test]
fn a_bucket_that_does_not_exist_is_a_clear_error() {
    let server = s3_server();
    assert_every_command_fails(
        "s3://strata-no-such-bucket/repo",
        &server.env(),
        "bucket strata-no-such-bucket does not exist",
    );
}

#[test]
fn wrong_credentials_are_refused_with_a_clear_error() {
    let server = s3_server();
    let repo = TestRepo::new(Place::S3, "creds");
    let with = |key: &str, value: &str| {
        let mut env = server.env();
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
        env
    };
    let before = repo.objects();
    let wrong_secret = with("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    assert_every_command_fails(repo.s(), &wrong_secret, "refused the credentials");
    let unknown_key = with("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000");
    assert_every_command_fails(repo.s(), &unknown_key, "refused the credentials");
    // The repository is untouched: only what init wrote (the config and the key file).
    assert_eq!(repo.objects(), before);
}

#[test]
fn an_unreachable_server_is_retried_a_bounded_number_of_times_then_a_clear_error() {
    let server = s3_server();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut env = server.env_for(&format!("http://127.0.0.1:{closed}"));
    env.retain(|(k, _)| k != "STRATA_S3_RETRIES");
    env.push(("STRATA_S3_RETRIES".into(), "3".into()));
    assert_every_command_fails("s3://bucket/repo", &env, "cannot reach");
    let out = strata_with(&["list", "--repo", "s3://bucket/repo"], &env);
    let err = text(&out.stderr);
    assert!(
        err.contains("after 3 retries") && err.to_lowercase().contains("connect"),
        "the error does not say how often it tried and why it failed: {err}"
    );
}

// ---------------------------------------------------------------- locks

/// S3 has no exclusive create: a locker stores its lock, lists, and withdraws if a conflicting
/// lock is there. Several exclusive lockers racing never both hold the lock.
#[test]
fn racing_exclusive_lockers_never_both_hold_the_lock_on_s3() {
    let repo = TestRepo::new(Place::S3, "locks");
    let store: Arc<dyn Store> = s3_server().store(repo.s());
    // Lock objects are sealed in this (encrypted) repository.
    let crypto = repo.open().crypto().clone();
    for round in 0..3 {
        let barrier = Arc::new(Barrier::new(6));
        let holders: Vec<_> = (0..6)
            .map(|_| {
                let (store, barrier, crypto) =
                    (Arc::clone(&store), Arc::clone(&barrier), crypto.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let lock = Lock::acquire(store, &crypto, LockKind::Exclusive, "prune");
                    // Hold it long enough that every other attempt overlaps it.
                    std::thread::sleep(Duration::from_millis(1500));
                    match lock {
                        Ok(lock) => {
                            lock.release().unwrap();
                            1
                        }
                        Err(RepoError::Locked { .. }) => 0,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                })
            })
            .collect();
        let held: usize = holders.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(
            held <= 1,
            "round {round}: {held} exclusive locks were held at once"
        );
    }
    // With the racers gone, the lock is free, and a shared lock keeps it from an exclusive one.
    let shared = Lock::acquire(Arc::clone(&store), &crypto, LockKind::Shared, "backup").unwrap();
    let err = Lock::acquire(Arc::clone(&store), &crypto, LockKind::Exclusive, "prune")
        .err()
        .expect("an exclusive lock beside a shared one");
    assert!(err.to_string().contains("shared lock for backup"), "{err}");
    shared.release().unwrap();
    Lock::acquire(store, &crypto, LockKind::Exclusive, "prune")
        .unwrap()
        .release()
        .unwrap();
}

// ---------------------------------------------------------------- the store contract

#[test]
fn the_s3_store_keeps_the_store_contract_under_its_prefix() {
    let server = s3_server();
    let bucket = server.bucket("contract");
    let options = S3Options::from_pairs(server.env()).unwrap();
    let a = S3Store::open(&format!("s3://{bucket}/one"), &options).unwrap();
    let b = S3Store::open(&format!("s3://{bucket}/one-more/"), &options).unwrap();
    assert!(a.list("").unwrap().is_empty());

    a.put("packs/ab/abc", b"hello").unwrap();
    a.put("config", b"{}").unwrap();
    a.put("config", b"{}").unwrap();
    assert_eq!(a.get("packs/ab/abc").unwrap(), b"hello");
    assert_eq!(a.get_range("packs/ab/abc", 1, 3).unwrap(), b"ell");
    assert_eq!(a.get_range("packs/ab/abc", 5, 0).unwrap(), b"");
    assert_eq!(a.size("packs/ab/abc").unwrap(), 5);
    for (offset, len) in [(3, 3), (6, 0), (u64::MAX, 2)] {
        assert!(
            matches!(
                a.get_range("packs/ab/abc", offset, len),
                Err(StoreError::OutOfRange { size: 5, .. })
            ),
            "reading {len} bytes at {offset} of a 5-byte object"
        );
    }
    let names = |store: &S3Store, prefix: &str| -> Vec<String> {
        store
            .list(prefix)
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect()
    };
    assert_eq!(names(&a, "packs/"), ["packs/ab/abc"]);
    assert_eq!(names(&a, "packs/a"), ["packs/ab/abc"]);
    assert_eq!(names(&a, ""), ["config", "packs/ab/abc"]);
    assert!(names(&a, "pack/").is_empty());
    // A prefix that starts with the same letters is another namespace, in both directions.
    b.put("config", b"b").unwrap();
    assert_eq!(names(&b, ""), ["config"]);
    assert_eq!(a.get("config").unwrap(), b"{}");
    assert!(a.exists("config").unwrap());
    a.delete("config").unwrap();
    a.delete("config").unwrap();
    assert!(!a.exists("config").unwrap());
    assert!(a.get("config").unwrap_err().is_not_found());
    assert!(a.size("config").unwrap_err().is_not_found());
    assert!(a.get_range("config", 0, 1).unwrap_err().is_not_found());
    assert_eq!(b.get("config").unwrap(), b"b");
    assert!(a.put("../escape", b"x").is_err());
    assert!(a.upload_concurrency() > 1);
}
