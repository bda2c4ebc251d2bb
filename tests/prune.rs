//! Retention, pruning, check and repair against real repositories of real SQLite backups.
//! The scenarios every store must pass are `support::prune_suite`, run here on a local
//! repository: `--explain` names the rule for each backup; after a prune every kept backup
//! verifies and restores row for row, and the repository shrinks by exactly the forgotten
//! backups' unique data; the last backup is never removed by accident; a prune never makes a
//! running backup unrestorable; a lost index is rebuilt. The rest is local: a prune never makes
//! a later backup unrestorable, and `check` names damaged objects and `repair index` rebuilds a
//! damaged index. (The policy rules themselves are specified by the table test in
//! `src/retention/tests.rs`.)

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value as Json;
use strata::backup::TableDone;
use strata::repo::{Config, RepoError, Repository};
use strata::store::{LocalStore, Store};

use support::prune_suite::{self as suite, *};
use support::repo::Place;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A database `app.db` whose table `t` holds `rows` rows, and an empty small-pack repository
/// (encrypted, as `strata init` makes it).
fn app_and_repo(dir: &Path, rows: u64) -> (PathBuf, PathBuf) {
    app_and_repo_in(dir, rows, true)
}

/// [`app_and_repo`], encrypted (format 2) or not (format 1).
fn app_and_repo_in(dir: &Path, rows: u64, encrypted: bool) -> (PathBuf, PathBuf) {
    (app_db(dir, rows), small_pack_repo_in(dir, encrypted))
}

fn store_at(dir: &Path) -> Arc<dyn Store> {
    Arc::new(LocalStore::new(dir))
}

/// An encrypted repository with small packs (64 KiB), so that backups span many packs.
fn small_pack_repo(dir: &Path) -> PathBuf {
    small_pack_repo_in(dir, true)
}

/// [`small_pack_repo`], encrypted (format 2) or not (format 1).
fn small_pack_repo_in(dir: &Path, encrypted: bool) -> PathBuf {
    let repo = dir.join("repo");
    let mut config = Config::new();
    config.pack_size = 1 << 16;
    if encrypted {
        support::init_repo_with(&repo, config);
    } else {
        Repository::init_with(store_at(&repo), config).unwrap();
    }
    repo
}

fn pack_files(repo: &Path) -> Vec<PathBuf> {
    let mut packs = Vec::new();
    let Ok(fans) = std::fs::read_dir(repo.join("packs")) else {
        return packs;
    };
    for fan in fans {
        for pack in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            packs.push(pack.unwrap().path());
        }
    }
    packs.sort();
    packs
}

// ---------------------------------------------------------------------------------------------
// The prune suite, on a local repository

#[test]
fn retention_prunes_exactly_the_forgotten_backups_data_and_kept_ones_restore() {
    suite::retention_prunes_exactly_the_forgotten_backups_data_and_kept_ones_restore(Place::Local);
}

#[test]
fn the_last_backup_is_never_removed_without_allow_empty() {
    suite::the_last_backup_is_never_removed_without_allow_empty(Place::Local);
}

#[test]
fn a_prune_during_a_backup_fails_clearly_and_the_backup_restores() {
    suite::a_prune_during_a_backup_fails_clearly_and_the_backup_restores(Place::Local);
}

// ---------------------------------------------------------------------------------------------
// Prune and concurrent backups

#[test]
fn a_backup_fails_clearly_while_prune_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (db, repo) = app_and_repo(dir.path(), 100);
    let handle = support::open_repo(&repo);
    let lock = handle.lock_exclusive("prune").unwrap();
    let target = format!("sqlite:{}", db.display());
    let (code, _, stderr) = run(&["backup", &target, "--repo", path(&repo)]);
    assert_eq!(code, 2);
    assert!(stderr.contains("exclusive lock for prune"), "{stderr}");
    assert!(
        pack_files(&repo).is_empty(),
        "the refused backup stored data"
    );
    lock.release().unwrap();
    backup(&db, path(&repo), &[]);
}

/// Restore, verify and check hold a shared lock while they read, so a prune cannot delete
/// packs under them: while a prune holds the repository they are refused, naming it, and
/// nothing is written; `--no-lock` (a repository this machine cannot write to) reads anyway.
#[test]
fn restore_verify_and_check_are_refused_while_a_prune_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (db, repo) = app_and_repo(dir.path(), 100);
    let id = backup(&db, path(&repo), &[]);
    let handle = support::open_repo(&repo);
    let lock = handle.lock_exclusive("prune").unwrap();

    let restored = dir.path().join("restored.db");
    let target = format!("sqlite:{}", restored.display());
    for args in [
        vec!["restore", &id, "--repo", path(&repo), "--to", &target],
        vec!["verify", "--repo", path(&repo)],
        vec!["check", "--repo", path(&repo)],
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?} ran while prune held the lock: {stderr}");
        assert!(stderr.contains("exclusive lock for prune"), "{stderr}");
    }
    assert!(!restored.exists(), "the refused restore wrote its target");

    let (code, _, stderr) = run(&["verify", "--repo", path(&repo), "--no-lock"]);
    assert_eq!(code, 0, "{stderr}");
    lock.release().unwrap();
    assert_eq!(restored_rows(path(&repo), &id, dir.path()), dump(&db));
    let locks = std::fs::read_dir(repo.join("locks")).unwrap().count();
    assert_eq!(locks, 0, "a reading command left its lock behind");
}

#[test]
fn a_backup_after_a_prune_never_reuses_pruned_data() {
    // A process that loaded the index before a prune must not deduplicate against blobs the
    // prune removed: a writer reloads the index once it holds its lock.
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one.db"), dir.path().join("two.db"));
    let repo = small_pack_repo(dir.path());
    write_db(
        &one,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        "t",
        0,
        8000,
        1,
    );
    write_db(
        &two,
        "CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)",
        "u",
        0,
        8000,
        2,
    );
    let handle = support::open_repo(&repo);
    let no_progress = |_: &TableDone| {};
    library_backup(&one, &handle, &no_progress);
    library_backup(&two, &handle, &no_progress);

    let args = [
        "prune",
        "--repo",
        path(&repo),
        "--keep-last",
        "1",
        "--group-by",
        "none",
    ];
    let report = run_json(&args, 0);
    assert!(report["packs_deleted"].as_u64().unwrap() > 0, "{report}");

    let again = library_backup(&one, &handle, &no_progress);
    let backup = handle.load_backup(&again).unwrap();
    assert!(
        backup.manifest.stats.new_chunks > 0,
        "the data was deduplicated against pruned blobs"
    );
    assert_verifies_and_restores(path(&repo), &again, &one);
}

#[test]
fn backups_and_prunes_interleaved_leave_every_listed_backup_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let (db, repo) = app_and_repo(dir.path(), 4000);
    let stop = AtomicBool::new(false);
    let retry = |op: &mut dyn FnMut() -> Result<(), RepoError>| loop {
        match op() {
            Err(RepoError::Locked { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            other => return other.unwrap(),
        }
    };
    let states = std::thread::scope(|scope| {
        scope.spawn(|| {
            let handle = support::open_repo(&repo);
            let policy = strata::retention::Policy {
                last: Some(strata::retention::KeepCount::Count(2)),
                ..Default::default()
            };
            let mut prunes = 0;
            while !stop.load(Ordering::SeqCst) || prunes < 2 {
                retry(&mut || {
                    let backups = handle.list_backups()?.backups;
                    let now = strata::repo::Timestamp::now();
                    let groups = strata::retention::plan(
                        &policy,
                        strata::retention::GroupBy::None,
                        &backups,
                        now,
                    );
                    let forget: Vec<_> = groups
                        .iter()
                        .flat_map(|g| &g.decisions)
                        .filter(|d| !d.keep())
                        .map(|d| d.id)
                        .collect();
                    handle.prune(&forget, false).map(|_| ())
                });
                prunes += 1;
                // Leave the backups room to take their lock.
                std::thread::sleep(std::time::Duration::from_millis(30));
            }
        });
        let handle = support::open_repo(&repo);
        let mut states = HashMap::new();
        for round in 0..6u64 {
            write_db(
                &db,
                &format!("DELETE FROM t WHERE id % 7 = {round}"),
                "t",
                10_000 + round * 800,
                800,
                round + 5,
            );
            let mut id = String::new();
            retry(&mut || {
                let no_progress = |_: &TableDone| {};
                match try_library_backup(&db, &handle, 2, &no_progress) {
                    Ok(backup) => {
                        id = backup.id.to_string();
                        Ok(())
                    }
                    Err(strata::Error::Repo(e)) => Err(e),
                    Err(e) => panic!("{e}"),
                }
            });
            states.insert(id, dump(&db));
        }
        stop.store(true, Ordering::SeqCst);
        states
    });
    let listed = listed_ids(path(&repo));
    assert!(!listed.is_empty());
    assert_verifies(path(&repo));
    for id in listed {
        assert_eq!(
            restored_rows(path(&repo), &id, dir.path()),
            states[&id],
            "backup {id}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Check and repair

/// A repository (encrypted or not) with two backups spread over several packs, and the newest
/// backup's id.
/// Two backups spanning at least four packs (twice as many rows as that needs: how many
/// packs the same rows fill varies with how the writers' packs fill up).
fn checked_setup(dir: &Path, encrypted: bool) -> (PathBuf, PathBuf, String) {
    let (db, repo) = app_and_repo_in(dir, 24000, encrypted);
    backup(&db, path(&repo), &[]);
    write_db(&db, "", "t", 24000, 12000, 2);
    let id = backup(&db, path(&repo), &[]);
    (db, repo, id)
}

fn index_files(repo: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo.join("index"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_lost_index_is_rebuilt_from_the_packs() {
    suite::a_lost_index_is_rebuilt_from_the_packs(Place::Local);
}

#[test]
fn a_damaged_index_file_is_named_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let (db, repo, id) = checked_setup(dir.path(), true);
    let victim = index_files(&repo).pop().unwrap();
    let name = format!("index/{}", victim.file_name().unwrap().to_str().unwrap());
    std::fs::write(&victim, b"SIDX garbage").unwrap();

    let report = run_json(&["check", "--repo", path(&repo)], 1);
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["object"] == name.as_str()),
        "{report}"
    );
    let (code, _, stderr) = run(&["prune", "--repo", path(&repo), "--keep-last", "1"]);
    assert_eq!(code, 2, "prune must refuse a damaged index");
    assert!(stderr.contains("repair index"), "{stderr}");

    let repaired = run_json(&["repair", "index", "--repo", path(&repo)], 0);
    assert!(repaired["index_files_deleted"].as_u64().unwrap() >= 1);
    assert!(!victim.exists());
    assert_verifies_and_restores(path(&repo), &id, &db);
}

#[test]
fn check_names_a_corrupted_truncated_or_missing_pack_in_either_format() {
    for encrypted in [false, true] {
        check_names_a_corrupted_truncated_or_missing_pack(encrypted);
    }
}

fn check_names_a_corrupted_truncated_or_missing_pack(encrypted: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (_, repo, _) = checked_setup(dir.path(), encrypted);
    let packs = pack_files(&repo);
    assert!(
        packs.len() >= 4,
        "the setup made only {} packs",
        packs.len()
    );
    let pack_id = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
    let problems_about = |report: &Json, id: &str| -> Vec<Json> {
        let problems = report["problems"].as_array().unwrap();
        problems
            .iter()
            .filter(|p| p["pack"] == id)
            .cloned()
            .collect()
    };

    // A flipped byte inside the blobs: only reading the data finds it.
    let mut bytes = std::fs::read(&packs[0]).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&packs[0], &bytes).unwrap();
    let report = run_json(&["check", "--repo", path(&repo)], 0);
    assert!(report["ok"] == true, "{report}");
    let report = run_json(&["check", "--repo", path(&repo), "--read-data"], 1);
    let about = problems_about(&report, &pack_id(&packs[0]));
    assert!(
        about.iter().any(|p| p["kind"] == "damaged-pack"),
        "{report}"
    );
    let (_, stdout, _) = run(&["check", "--repo", path(&repo), "--read-data"]);
    assert!(stdout.contains(&pack_id(&packs[0])), "{stdout}");

    // A truncated pack: its trailer no longer reads.
    let bytes = std::fs::read(&packs[1]).unwrap();
    std::fs::write(&packs[1], &bytes[..bytes.len() - 1]).unwrap();
    let report = run_json(&["check", "--repo", path(&repo)], 1);
    let about = problems_about(&report, &pack_id(&packs[1]));
    assert!(
        about.iter().any(|p| p["kind"] == "damaged-pack"),
        "{report}"
    );

    // A byte slipped in between the blobs and the trailer: the trailer still reads, but the
    // pack is one byte longer than its blobs and trailer.
    let library = support::open_repo(&repo);
    let name = format!("packs/{}/{}", &pack_id(&packs[3])[..2], pack_id(&packs[3]));
    let blobs_end = strata::repo::index::read_trailer(library.store(), library.crypto(), &name)
        .unwrap()
        .iter()
        .map(|e| (e.offset + e.length) as usize)
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&packs[3]).unwrap();
    bytes.insert(blobs_end, b'\n');
    std::fs::write(&packs[3], &bytes).unwrap();
    let report = run_json(&["check", "--repo", path(&repo)], 1);
    let about = problems_about(&report, &pack_id(&packs[3]));
    assert!(
        about
            .iter()
            .any(|p| p["message"].as_str().unwrap().contains("trailer starts at")),
        "{report}"
    );

    // A deleted pack: the index file that lists it and the backups that need it are named.
    std::fs::remove_file(&packs[2]).unwrap();
    let report = run_json(&["check", "--repo", path(&repo)], 1);
    let about = problems_about(&report, &pack_id(&packs[2]));
    assert!(
        about.iter().any(|p| p["kind"] == "missing-pack"
            && p["object"]
                .as_str()
                .is_some_and(|o| o.starts_with("index/"))),
        "{report}"
    );
    assert!(about.iter().any(|p| p["backup"].is_string()), "{report}");
}

#[test]
fn check_reports_an_index_entry_that_disagrees_with_its_pack_in_either_format() {
    for encrypted in [false, true] {
        check_reports_an_index_entry_that_disagrees_with_its_pack(encrypted);
    }
}

fn check_reports_an_index_entry_that_disagrees_with_its_pack(encrypted: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (_, repo, _) = checked_setup(dir.path(), encrypted);
    let library = support::open_repo(&repo);
    let store = library.store();
    let pack = pack_files(&repo).remove(0);
    let name = format!(
        "packs/{}/{}",
        pack.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap(),
        pack.file_name().unwrap().to_str().unwrap()
    );
    let mut entries = strata::repo::index::read_trailer(store, library.crypto(), &name).unwrap();
    entries[0].offset += 1;
    let pack_id: strata::repo::PackId =
        pack.file_name().unwrap().to_str().unwrap().parse().unwrap();
    let bytes =
        strata::repo::index::seal_index_file(library.crypto(), &[(pack_id, entries.clone())])
            .unwrap();
    let index_name = format!("index/{}", strata::repo::Id::of_object(&bytes));
    store.put(&index_name, &bytes).unwrap();

    let report = run_json(&["check", "--repo", path(&repo)], 1);
    let problems = report["problems"].as_array().unwrap();
    let mismatch = problems
        .iter()
        .find(|p| p["kind"] == "index-mismatch")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(mismatch["object"], index_name.as_str());
    assert_eq!(mismatch["pack"], pack_id.to_string().as_str());
    assert_eq!(mismatch["blob"], entries[0].id.to_string().as_str());
    run_json(&["repair", "index", "--repo", path(&repo)], 0);
    run_json(&["check", "--repo", path(&repo)], 0);
}
