//! What only object storage has, with the provider as a parameter: each body runs against the S3
//! test server (tests/backup_s3.rs) and the Azure one (tests/backup_azure.rs). Bad input (a
//! missing bucket or container, refused credentials, an unreachable endpoint) must end every
//! command with exit 2 and one clear line; a backup cut off by the server going away is not
//! listed and the next one resumes; locks work without exclusive create; and a store keeps the
//! [`Store`] contract under its prefix.

use std::process::Output;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::Value;
use strata::repo::{Lock, LockKind, RepoError};
use strata::store::{Store, StoreError};

use super::backup_suite::*;
use super::repo::{Place, TestRepo};
use super::server::{strata_command, strata_with, Gate};
use super::TestDb;

/// The server disappears (port closed, connections cut) after a few MB of packs: the backup
/// fails with a clear error after its retries, is not listed, and the next run reuses the packs
/// that were uploaded.
pub fn a_backup_interrupted_by_the_server_going_away_is_not_listed_and_the_next_run_resumes(
    place: Place,
    server_port: u16,
    env_for: impl Fn(&str) -> Vec<(String, String)>,
) {
    let src = TestDb::new("cloud_gone_src");
    src.execute(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO public.events
             SELECT i, md5(i::text) || md5((i * 3)::text) FROM generate_series(1, 200000) i;",
    );
    // Small packs, so that some are uploaded long before the backup ends (it stores about 7 MB).
    let repo = TestRepo::with_pack_size(place, "gone", 65536);
    let gate = Gate::new(server_port);
    let env = env_for(&gate.endpoint());
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
    eprintln!("{place:?} interrupted: {packs_left} pack(s) survived; the next backup stored {new_bytes} new of {bytes} B");
    let list = json_with(&through_gate(&["list", "--repo", repo.s(), "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let verify = through_gate(&["verify", "--repo", repo.s(), "--read-data"]);
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));
    let dst = TestDb::new("cloud_gone_dst");
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

/// Every command on `repo` with `env` fails with exit 2, one line naming the repository, and a
/// message containing `expected`, within 20 s.
pub fn assert_every_command_fails(repo: &str, env: &[(String, String)], expected: &str) {
    let src = TestDb::new("cloud_bad_src");
    let dst = TestDb::new("cloud_bad_dst");
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

/// With `env` pointing at a closed port of 127.0.0.1 and 3 retries, every command fails within
/// 20 s saying it cannot reach the server, how often it tried and why.
pub fn an_unreachable_endpoint_is_retried_a_bounded_number_of_times(
    repo: &str,
    env: &[(String, String)],
) {
    assert_every_command_fails(repo, env, "cannot reach");
    let out = strata_with(&["list", "--repo", repo], env);
    let err = text(&out.stderr);
    assert!(
        err.contains("after 3 retries") && err.to_lowercase().contains("connect"),
        "the error does not say how often it tried and why it failed: {err}"
    );
}

/// Object storage has no exclusive create: a locker stores its lock, lists, and withdraws if a
/// conflicting lock is there. Several exclusive lockers racing never both hold the lock, and a
/// shared lock keeps an exclusive one out.
pub fn racing_exclusive_lockers_never_both_hold_the_lock(repo: &TestRepo, store: Arc<dyn Store>) {
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

/// `a` and `b` are stores in one empty bucket under the prefixes `one` and `one-more`: each keeps
/// the store contract, and neither sees the other's objects.
pub fn the_store_keeps_the_store_contract_under_its_prefix(a: &dyn Store, b: &dyn Store) {
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
    let names = |store: &dyn Store, prefix: &str| -> Vec<String> {
        store
            .list(prefix)
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect()
    };
    assert_eq!(names(a, "packs/"), ["packs/ab/abc"]);
    assert_eq!(names(a, "packs/a"), ["packs/ab/abc"]);
    assert_eq!(names(a, ""), ["config", "packs/ab/abc"]);
    assert!(names(a, "pack/").is_empty());
    // A prefix that starts with the same letters is another namespace, in both directions.
    b.put("config", b"b").unwrap();
    assert_eq!(names(b, ""), ["config"]);
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
