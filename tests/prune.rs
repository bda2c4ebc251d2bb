//! Retention, pruning, check and repair against real repositories of real SQLite backups:
//! `--explain` names the rule for each backup; after a prune every kept backup verifies and
//! restores row for row, and the repository shrinks by exactly the pruned backups' unique
//! data; the last backup of a database is never removed by accident; a prune never makes a
//! running or a later backup unrestorable; `check` names damaged objects and `repair index`
//! rebuilds a lost or damaged index. (The policy rules themselves are specified by the table
//! test in `src/retention/tests.rs`.)

mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use rusqlite::types::Value;
use serde_json::Value as Json;
use strata::backup::{BackupOptions, TableDone};
use strata::engine::InspectOptions;
use strata::repo::{BackupKind, BlobId, Config, RepoError, Repository};
use strata::store::{LocalStore, Store};
use strata::target::Target;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Deterministic pseudo-random text, different per seed.
fn text(seed: u64, n: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n.wrapping_mul(0xff51_afd7_ed55_8ccd);
    (0..6)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            format!("{:x}", x >> 20)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs SQL, then inserts `rows` generated rows `(id, text)` with ids `first..` into `table`.
fn write_db(db: &Path, sql: &str, table: &str, first: u64, rows: u64, seed: u64) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(&format!("INSERT INTO {table} VALUES (?1, ?2)"))
            .unwrap();
        for id in first..first + rows {
            insert
                .execute(rusqlite::params![id as i64, text(seed, id)])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Every row of every table, in rowid order, as comparable strings.
fn dump(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let mut statement = conn
            .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
            .unwrap();
        let columns = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let values: Vec<Value> = (0..columns).map(|i| row.get(i).unwrap()).collect();
            out.push(format!("{table}: {values:?}"));
        }
    }
    out
}

/// A database `app.db` whose table `t` holds `rows` rows, and an empty small-pack repository
/// (encrypted, as `strata init` makes it).
fn app_and_repo(dir: &Path, rows: u64) -> (PathBuf, PathBuf) {
    app_and_repo_in(dir, rows, true)
}

/// [`app_and_repo`], encrypted (format 2) or not (format 1).
fn app_and_repo_in(dir: &Path, rows: u64, encrypted: bool) -> (PathBuf, PathBuf) {
    let db = dir.join("app.db");
    write_db(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        "t",
        0,
        rows,
        1,
    );
    (db, small_pack_repo_in(dir, encrypted))
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

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs strata and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = support::strata(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The whole repository checks out, and backup `id` restores to the rows of `db`.
fn assert_verifies_and_restores(repo: &Path, id: &str, db: &Path) {
    assert_verifies(repo);
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(restored_rows(repo, id, dir.path()), dump(db), "backup {id}");
}

/// Runs strata with `--json`, asserts it exits with `code`, returns the document.
fn run_json(args: &[&str], code: i32) -> Json {
    let mut args = args.to_vec();
    args.push("--json");
    let (status, stdout, stderr) = run(&args);
    assert_eq!(status, code, "strata {args:?}: {stdout}{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Waits for the next second of the clock: backup times have seconds precision, and the
/// order of backups made within one second is arbitrary (by id).
fn next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 1_000_000,
    ));
}

/// `strata backup sqlite:DB --repo REPO --tag …`: the backup's id. Each backup gets a second
/// of its own, so that "newest" means something.
fn backup(db: &Path, repo: &Path, tags: &[&str]) -> String {
    next_second();
    let target = format!("sqlite:{}", db.display());
    let mut args = vec!["backup", &target, "--repo", path(repo)];
    for tag in tags {
        args.extend(["--tag", tag]);
    }
    run_json(&args, 0)["id"].as_str().unwrap().to_string()
}

/// Restores backup `id` into a fresh SQLite file and returns its rows.
fn restored_rows(repo: &Path, id: &str, dir: &Path) -> Vec<String> {
    let target = dir.join(format!("restored-{id}.db"));
    let to = format!("sqlite:{}", target.display());
    let (code, stdout, stderr) = run(&["restore", id, "--repo", path(repo), "--to", &to]);
    assert_eq!(code, 0, "restore {id}: {stdout}{stderr}");
    dump(&target)
}

fn listed_ids(repo: &Path) -> Vec<String> {
    let list = run_json(&["list", "--repo", path(repo)], 0);
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Bytes of the files under `packs/`, and under `packs/`, `index/` and `backups/` together.
fn repo_bytes(repo: &Path) -> (u64, u64) {
    fn walk(dir: &Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .map(|e| e.unwrap())
            .map(|e| match e.file_type().unwrap().is_dir() {
                true => walk(&e.path()),
                false => e.metadata().unwrap().len(),
            })
            .sum()
    }
    let packs = walk(&repo.join("packs"));
    (
        packs,
        packs + walk(&repo.join("index")) + walk(&repo.join("backups")),
    )
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

fn assert_verifies(repo: &Path) {
    let report = run_json(&["verify", "--repo", path(repo), "--read-data"], 0);
    assert_eq!(report["ok"], true, "{report}");
    let report = run_json(&["check", "--repo", path(repo), "--read-data"], 0);
    assert_eq!(report["ok"], true, "{report}");
}

fn try_library_backup(
    db: &Path,
    repo: &Repository,
    jobs: usize,
    progress: &(dyn Fn(&TableDone) + Sync),
) -> strata::Result<strata::repo::Backup> {
    let options = BackupOptions {
        kind: BackupKind::Complete,
        tags: vec![],
        jobs,
        tables: vec![],
        inspect: InspectOptions::default(),
    };
    strata::backup::backup(&Target::Sqlite(db.to_path_buf()), repo, &options, progress)
}

/// A backup through the library (in a second of its own, as [`backup`]): its id.
fn library_backup(db: &Path, repo: &Repository, progress: &(dyn Fn(&TableDone) + Sync)) -> String {
    next_second();
    try_library_backup(db, repo, 1, progress)
        .unwrap()
        .id
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Retention and garbage collection

#[test]
fn explain_names_the_rule_that_keeps_each_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (db, repo) = app_and_repo(dir.path(), 2000);
    let release = backup(&db, &repo, &["release"]);
    write_db(&db, "", "t", 2000, 500, 2);
    let middle = backup(&db, &repo, &[]);
    write_db(&db, "", "t", 2500, 500, 3);
    let newest = backup(&db, &repo, &[]);

    let args = [
        "prune",
        "--repo",
        path(&repo),
        "--keep-last",
        "1",
        "--keep-tag",
        "release",
    ];
    let (code, stdout, stderr) = run(&[&args[..], &["--explain", "--dry-run"][..]].concat());
    assert_eq!(code, 0, "{stdout}{stderr}");
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&id[..8]))
            .unwrap_or_else(|| panic!("no line for {id}: {stdout}"))
            .to_string()
    };
    assert!(line(&newest).contains("keep-last"), "{stdout}");
    assert!(line(&release).contains("keep-tag release"), "{stdout}");
    assert!(line(&middle).contains("no rule keeps it"), "{stdout}");
    assert_eq!(listed_ids(&repo).len(), 3, "a dry run removed something");

    let report = run_json(&args, 0);
    let backups = report["groups"][0]["backups"].as_array().unwrap();
    let reasons: HashMap<&str, Vec<&str>> = backups
        .iter()
        .map(|b| {
            let reasons = b["reasons"].as_array().unwrap();
            (
                b["id"].as_str().unwrap(),
                reasons.iter().map(|r| r.as_str().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(reasons[newest.as_str()], ["keep-last"]);
    assert_eq!(reasons[release.as_str()], ["keep-tag release"]);
    assert!(reasons[middle.as_str()].is_empty());
    assert_eq!(report["policy"], "--keep-last 1 --keep-tag release");
    assert_eq!(report["backups_removed"], 1);
    assert_eq!(
        report["groups"][0]["source"]["database"],
        format!("sqlite:{}", db.display())
    );
    assert_eq!(listed_ids(&repo), sorted(vec![release, newest]));
}

#[test]
fn after_a_prune_every_kept_backup_verifies_and_restores_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let repo = small_pack_repo(dir.path());
    write_db(
        &db,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE notes (id INTEGER PRIMARY KEY, v TEXT);",
        "orders",
        0,
        6000,
        1,
    );
    let changes = [
        "INSERT INTO notes VALUES (1, 'one')",
        "UPDATE orders SET v = v || '!' WHERE id % 50 = 0",
        "DELETE FROM orders WHERE id BETWEEN 1000 AND 2500",
        "INSERT INTO notes VALUES (2, 'two'); UPDATE orders SET v = 'x' WHERE id > 5000",
    ];
    let mut states: Vec<(String, Vec<String>)> = Vec::new();
    states.push((backup(&db, &repo, &["first"]), dump(&db)));
    for (i, sql) in changes.iter().enumerate() {
        write_db(
            &db,
            sql,
            "orders",
            10_000 + i as u64 * 1000,
            1000,
            10 + i as u64,
        );
        states.push((backup(&db, &repo, &[]), dump(&db)));
    }
    let (_, before) = repo_bytes(&repo);

    let report = run_json(
        &[
            "prune",
            "--repo",
            path(&repo),
            "--keep-last",
            "2",
            "--keep-tag",
            "first",
        ],
        0,
    );
    assert_eq!(report["backups_removed"], 2, "{report}");
    assert!(report["blobs_removed"].as_u64().unwrap() > 0, "{report}");
    let kept: Vec<&(String, Vec<String>)> = [0, 3, 4].iter().map(|i| &states[*i]).collect();
    assert_eq!(
        listed_ids(&repo),
        sorted(kept.iter().map(|(id, _)| id.clone()).collect())
    );
    assert_verifies(&repo);
    for (id, rows) in kept {
        assert_eq!(&restored_rows(&repo, id, dir.path()), rows, "backup {id}");
    }
    let (_, after) = repo_bytes(&repo);
    assert!(after < before, "{before} → {after}");
    // Nothing left to collect: a second prune removes nothing.
    let again = run_json(&["prune", "--repo", path(&repo), "--keep-last", "5"], 0);
    assert_eq!(again["blobs_removed"], 0, "{again}");
    assert_eq!(again["bytes_freed"], 0, "{again}");
}

/// Blob id → stored length, from every pack's trailer.
fn stored_lengths(repo: &Path) -> HashMap<BlobId, u64> {
    let library = support::open_repo(repo);
    let store = library.store();
    let mut lengths = HashMap::new();
    for object in store.list("packs/").unwrap() {
        let Ok(entries) = strata::repo::index::read_trailer(store, library.crypto(), &object.name)
        else {
            panic!("trailer of {}", object.name);
        };
        for entry in entries {
            lengths.insert(entry.id, u64::from(entry.length));
        }
    }
    lengths
}

fn chunks_of(repo: &Repository, id: &str) -> HashSet<BlobId> {
    let backup = repo.load_backup(id).unwrap();
    let tables = backup.manifest.tables.iter().flat_map(|t| &t.segments);
    tables.flat_map(|s| s.chunks.iter().copied()).collect()
}

#[test]
fn the_repository_shrinks_by_exactly_the_pruned_backups_unique_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let repo = dir.path().join("repo");
    assert_eq!(run(&["init", path(&repo)]).0, 0);
    write_db(
        &db,
        "CREATE TABLE base (id INTEGER PRIMARY KEY, v TEXT)",
        "base",
        0,
        20_000,
        1,
    );
    let first = backup(&db, &repo, &["keep"]);
    // The pruned backup adds 60,000 rows of its own…
    write_db(
        &db,
        "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)",
        "big",
        0,
        60_000,
        2,
    );
    let pruned = backup(&db, &repo, &[]);
    // …of which the next backup keeps the first third.
    write_db(
        &db,
        "DELETE FROM big WHERE id >= 20000",
        "big",
        20_000,
        40_000,
        3,
    );
    let last = backup(&db, &repo, &["keep"]);

    let library = support::open_repo(&repo);
    let kept: HashSet<BlobId> = chunks_of(&library, &first)
        .union(&chunks_of(&library, &last))
        .copied()
        .collect();
    let unique: Vec<BlobId> = chunks_of(&library, &pruned)
        .difference(&kept)
        .copied()
        .collect();
    let lengths = stored_lengths(&repo);
    let unique_bytes: u64 = unique.iter().map(|b| lengths[b]).sum();
    assert!(unique.len() >= 4, "{} unique chunks", unique.len());
    let (packs_before, total_before) = repo_bytes(&repo);

    let report = run_json(&["prune", "--repo", path(&repo), "--keep-tag", "keep"], 0);
    let (packs_after, total_after) = repo_bytes(&repo);
    let count = |field: &str| report[field].as_u64().unwrap();
    assert_eq!(count("backups_removed"), 1);
    assert_eq!(count("blobs_removed"), unique.len() as u64, "{report}");
    assert_eq!(count("blob_bytes_removed"), unique_bytes, "{report}");
    assert_eq!(count("unused_bytes_left"), 0, "{report}");
    assert!(count("packs_repacked") >= 1, "{report}");
    // Each removed blob takes its stored bytes and its 46-byte trailer entry with it; each
    // pack deleted or repacked away takes the 52 bytes of an empty pack (in this encrypted
    // repository: the sealed trailer's nonce, tag, magic and version, and the 4-byte tail),
    // each new pack adds them.
    let packs_gone =
        (count("packs_deleted") + count("packs_repacked")) as i64 - count("packs_written") as i64;
    let expected = (unique_bytes + 46 * unique.len() as u64) as i64 + 52 * packs_gone;
    assert_eq!(
        packs_before as i64 - packs_after as i64,
        expected,
        "{report}"
    );
    assert_eq!(count("bytes_freed"), total_before - total_after, "{report}");
    println!(
        "pruned backup's unique data: {} chunks, {unique_bytes} stored bytes; packs shrank by {}",
        unique.len(),
        packs_before - packs_after
    );
    assert_verifies_and_restores(&repo, &last, &db);
}

#[test]
fn the_last_backup_is_never_removed_without_allow_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (db, repo) = app_and_repo(dir.path(), 3000);
    let first = backup(&db, &repo, &[]);
    let second = backup(&db, &repo, &[]);

    let (code, _, stderr) = run(&["prune", "--repo", path(&repo)]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no retention policy"), "{stderr}");
    let (code, _, stderr) = run(&["prune", "--repo", path(&repo), "--keep-last", "0"]);
    assert_eq!(code, 2, "--keep-last 0 is no policy: {stderr}");
    let (code, _, stderr) = run(&["prune", "--repo", path(&repo), "--keep-tag", "nightly"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("would remove all 2 backups") && stderr.contains("--allow-empty"),
        "{stderr}"
    );
    assert_eq!(listed_ids(&repo), sorted(vec![first, second]));

    let args = [
        "prune",
        "--repo",
        path(&repo),
        "--keep-tag",
        "nightly",
        "--allow-empty",
    ];
    let report = run_json(&args, 0);
    assert_eq!(report["backups_removed"], 2);
    assert!(listed_ids(&repo).is_empty());
    assert!(pack_files(&repo).is_empty(), "all data was garbage");
    assert_verifies(&repo);
}

// ---------------------------------------------------------------------------------------------
// Prune and concurrent backups

#[test]
fn a_prune_during_a_backup_fails_clearly_and_the_backup_restores() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let repo = small_pack_repo(dir.path());
    write_db(
        &db,
        "CREATE TABLE old (id INTEGER PRIMARY KEY, v TEXT)",
        "old",
        0,
        5000,
        1,
    );
    backup(&db, &repo, &[]);
    write_db(
        &db,
        "DROP TABLE old; CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE small (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO small VALUES (1, 'x');",
        "big",
        0,
        20_000,
        2,
    );
    let packs_before = pack_files(&repo).len();

    // The backup pauses after its first (biggest) table, its packs stored, no manifest yet.
    let paused = Barrier::new(2);
    let resume = Barrier::new(2);
    let once = AtomicBool::new(false);
    let outcome = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            let handle = support::open_repo(&repo);
            let hook = |_: &TableDone| {
                if !once.swap(true, Ordering::SeqCst) {
                    paused.wait();
                    resume.wait();
                }
            };
            library_backup(&db, &handle, &hook)
        });
        paused.wait();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pack_files(&repo).len() == packs_before && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let stored = pack_files(&repo).len() > packs_before;

        let cli = run(&["prune", "--repo", path(&repo), "--keep-last", "1"]);
        let other = support::open_repo(&repo);
        let library = other.prune(&[], false);
        // Let the backup finish before judging, so that a failure cannot hang the test.
        resume.wait();
        (running.join().unwrap(), cli, library, stored)
    });
    let (id, (code, stdout, stderr), library, stored) = outcome;
    assert!(stored, "the paused backup had stored no pack yet");
    assert_eq!(code, 2, "prune ran during a backup: {stdout}{stderr}");
    assert!(
        stderr.contains("locked") && stderr.contains("shared lock for backup"),
        "{stderr}"
    );
    assert!(
        matches!(library, Err(RepoError::Locked { .. })),
        "{library:?}"
    );

    let report = run_json(&["prune", "--repo", path(&repo), "--keep-last", "1"], 0);
    assert_eq!(report["backups_removed"], 1, "{report}");
    assert_eq!(listed_ids(&repo), std::slice::from_ref(&id));
    assert_verifies_and_restores(&repo, &id, &db);
}

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
    backup(&db, &repo, &[]);
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
    assert_verifies_and_restores(&repo, &again, &one);
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
    let listed = listed_ids(&repo);
    assert!(!listed.is_empty());
    assert_verifies(&repo);
    for id in listed {
        assert_eq!(
            restored_rows(&repo, &id, dir.path()),
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
    backup(&db, &repo, &[]);
    write_db(&db, "", "t", 24000, 12000, 2);
    let id = backup(&db, &repo, &[]);
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
    let dir = tempfile::tempdir().unwrap();
    let (db, repo, id) = checked_setup(dir.path(), true);
    std::fs::remove_dir_all(repo.join("index")).unwrap();

    // Still readable (packs are recovered from their trailers), and check says what to do.
    let report = run_json(&["check", "--repo", path(&repo)], 0);
    let unindexed = report["unindexed_packs"].as_array().unwrap().len();
    assert_eq!(unindexed, pack_files(&repo).len(), "{report}");
    let (_, stdout, _) = run(&["check", "--repo", path(&repo)]);
    assert!(stdout.contains("strata repair index"), "{stdout}");

    let repaired = run_json(&["repair", "index", "--repo", path(&repo)], 0);
    assert_eq!(repaired["packs_indexed"], unindexed);
    assert_eq!(repaired["index_files_deleted"], 0);
    assert!(!index_files(&repo).is_empty());
    let report = run_json(&["check", "--repo", path(&repo), "--read-data"], 0);
    assert!(
        report["unindexed_packs"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert_eq!(restored_rows(&repo, &id, dir.path()), dump(&db));
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
    assert_verifies_and_restores(&repo, &id, &db);
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
