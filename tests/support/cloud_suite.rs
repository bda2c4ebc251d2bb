//! What only object storage has, with the provider as a parameter: each body runs against the S3
//! test server (tests/backup_s3.rs) and the Azure one (tests/backup_azure.rs). Bad input (a
//! missing bucket or container, refused credentials, an unreachable endpoint) must end every
//! command with exit 2 and one clear line; locks work without exclusive create; and a store keeps
//! the [`Store`] contract under its prefix.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use strata::repo::{Lock, LockKind, RepoError};
use strata::store::{Store, StoreError};

use super::backup_suite::{assert_clear_error, text};
use super::repo::TestRepo;
use super::server::strata_with;
use super::TestDb;

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
