//! The retention, prune and index repair suite with the repository as a parameter: each body runs with a local
//! repository (tests/prune.rs), one on the S3 test server (tests/backup_s3.rs) and one on the
//! Azure test server (tests/backup_azure.rs). Backups are of small SQLite databases, so that the
//! cloud runs stay fast; content is compared row for row as SQLite reads it back.
//!
//! Repositories are passed to the CLI helpers as their `--repo` location, so tests/prune.rs
//! uses them for its local-only tests (check and repair, which damage files) as well.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

use rusqlite::types::Value;
use serde_json::Value as Json;
use strata::backup::{BackupOptions, TableDone};
use strata::engine::InspectOptions;
use strata::repo::{BackupKind, BlobId, RepoError, Repository};
use strata::target::Target;

use super::repo::{Place, TestRepo};

// ---------------------------------------------------------------- helpers

/// Deterministic pseudo-random text, different per seed.
pub fn row_text(seed: u64, n: u64) -> String {
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
pub fn write_db(db: &Path, sql: &str, table: &str, first: u64, rows: u64, seed: u64) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(&format!("INSERT INTO {table} VALUES (?1, ?2)"))
            .unwrap();
        for id in first..first + rows {
            insert
                .execute(rusqlite::params![id as i64, row_text(seed, id)])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// A database `app.db` in `dir` whose table `t` holds `rows` generated rows.
pub fn app_db(dir: &Path, rows: u64) -> PathBuf {
    let db = dir.join("app.db");
    write_db(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        "t",
        0,
        rows,
        1,
    );
    db
}

/// Every row of every table, in rowid order, as comparable strings.
pub fn dump(db: &Path) -> Vec<String> {
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

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs strata and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = super::strata(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs strata with `--json`, asserts it exits with `code`, returns the document.
pub fn run_json(args: &[&str], code: i32) -> Json {
    let mut args = args.to_vec();
    args.push("--json");
    let (status, stdout, stderr) = run(&args);
    assert_eq!(status, code, "strata {args:?}: {stdout}{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Waits for the next second of the clock: backup times have seconds precision, and the
/// order of backups made within one second is arbitrary (by id).
pub fn next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 1_000_000,
    ));
}

/// `strata backup sqlite:DB --repo REPO --tag …`: the backup's id. Each backup gets a second
/// of its own, so that "newest" means something.
pub fn backup(db: &Path, repo: &str, tags: &[&str]) -> String {
    next_second();
    let target = format!("sqlite:{}", db.display());
    let mut args = vec!["backup", &target, "--repo", repo];
    for tag in tags {
        args.extend(["--tag", tag]);
    }
    run_json(&args, 0)["id"].as_str().unwrap().to_string()
}

/// Restores backup `id` into a fresh SQLite file in `dir` and returns its rows.
pub fn restored_rows(repo: &str, id: &str, dir: &Path) -> Vec<String> {
    let target = dir.join(format!("restored-{id}.db"));
    let to = format!("sqlite:{}", target.display());
    let (code, stdout, stderr) = run(&["restore", id, "--repo", repo, "--to", &to]);
    assert_eq!(code, 0, "restore {id}: {stdout}{stderr}");
    dump(&target)
}

pub fn listed_ids(repo: &str) -> Vec<String> {
    let list = run_json(&["list", "--repo", repo], 0);
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    sorted(ids)
}

pub fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// `verify --read-data` and `check --read-data` both find the whole repository sound.
pub fn assert_verifies(repo: &str) {
    let report = run_json(&["verify", "--repo", repo, "--read-data"], 0);
    assert_eq!(report["ok"], true, "{report}");
    let report = run_json(&["check", "--repo", repo, "--read-data"], 0);
    assert_eq!(report["ok"], true, "{report}");
}

/// The whole repository checks out, and backup `id` restores to the rows of `db`.
pub fn assert_verifies_and_restores(repo: &str, id: &str, db: &Path) {
    assert_verifies(repo);
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(restored_rows(repo, id, dir.path()), dump(db), "backup {id}");
}

pub fn try_library_backup(
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
pub fn library_backup(
    db: &Path,
    repo: &Repository,
    progress: &(dyn Fn(&TableDone) + Sync),
) -> String {
    next_second();
    try_library_backup(db, repo, 1, progress)
        .unwrap()
        .id
        .to_string()
}

/// Blob id → stored length, from every pack's trailer.
fn stored_lengths(repo: &Repository) -> HashMap<BlobId, u64> {
    let store = repo.store();
    let mut lengths = HashMap::new();
    for object in store.list("packs/").unwrap() {
        let Ok(entries) = strata::repo::index::read_trailer(store, repo.crypto(), &object.name)
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

/// Bytes of the packs, and of the packs, index files and manifests together (what a prune
/// report's `bytes_before` and `bytes_after` count).
fn repo_bytes(repo: &TestRepo) -> (u64, u64) {
    let under = |prefix: &str| -> u64 {
        let objects = repo.store().list(prefix).expect("listing the repository");
        objects.iter().map(|o| o.size).sum()
    };
    let packs = under("packs/");
    (packs, packs + under("index/") + under("backups/"))
}

// ---------------------------------------------------------------- the suite

/// Four backups, a policy that keeps the newest and the release: `--explain --dry-run` names
/// the rule for each backup and changes nothing; the real prune forgets the two others and
/// the packs shrink by exactly their unique data (blobs, trailer entries, emptied packs); the
/// repository verifies and checks with every blob read, the kept backups restore row for row,
/// and a second prune finds nothing left to collect.
pub fn retention_prunes_exactly_the_forgotten_backups_data_and_kept_ones_restore(place: Place) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let repo = TestRepo::new(place, "retention");
    write_db(
        &db,
        "CREATE TABLE base (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);",
        "base",
        0,
        10_000,
        1,
    );
    let release = backup(&db, repo.s(), &["release"]);
    let release_rows = dump(&db);
    // The two backups to forget add 30,000 rows each to `big`…
    write_db(&db, "", "big", 0, 30_000, 2);
    let middle = backup(&db, repo.s(), &[]);
    write_db(&db, "", "big", 30_000, 30_000, 3);
    let later = backup(&db, repo.s(), &[]);
    // …of which the newest keeps the first 10,000.
    write_db(
        &db,
        "DELETE FROM big WHERE id >= 10000",
        "big",
        60_000,
        5_000,
        4,
    );
    let newest = backup(&db, repo.s(), &[]);

    let args = [
        "prune",
        "--repo",
        repo.s(),
        "--keep-last",
        "1",
        "--keep-tag",
        "release",
    ];
    let objects_before = repo.objects();
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
    assert!(line(&later).contains("no rule keeps it"), "{stdout}");
    assert!(
        repo.objects() == objects_before,
        "a dry run changed the repository"
    );

    let library = repo.open();
    let kept: HashSet<BlobId> = chunks_of(&library, &release)
        .union(&chunks_of(&library, &newest))
        .copied()
        .collect();
    let forgotten: HashSet<BlobId> = chunks_of(&library, &middle)
        .union(&chunks_of(&library, &later))
        .copied()
        .collect();
    let unique: Vec<BlobId> = forgotten.difference(&kept).copied().collect();
    let lengths = stored_lengths(&library);
    let unique_bytes: u64 = unique.iter().map(|b| lengths[b]).sum();
    assert!(unique.len() >= 4, "{} unique chunks", unique.len());
    let (packs_before, total_before) = repo_bytes(&repo);

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
    assert!(reasons[later.as_str()].is_empty());
    assert_eq!(report["policy"], "--keep-last 1 --keep-tag release");
    assert_eq!(
        report["groups"][0]["source"]["database"],
        format!("sqlite:{}", db.display())
    );
    let count = |field: &str| report[field].as_u64().unwrap();
    assert_eq!(count("backups_removed"), 2, "{report}");
    assert_eq!(count("blobs_removed"), unique.len() as u64, "{report}");
    assert_eq!(count("blob_bytes_removed"), unique_bytes, "{report}");
    assert_eq!(count("unused_bytes_left"), 0, "{report}");
    // Each removed blob takes its stored bytes and its 46-byte trailer entry with it; each
    // pack deleted or repacked away takes the 52 bytes of an empty pack (in this encrypted
    // repository: the sealed trailer's nonce, tag, magic and version, and the 4-byte tail),
    // each new pack adds them.
    let (packs_after, total_after) = repo_bytes(&repo);
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
        "{place:?}: the forgotten backups' unique data: {} chunks, {unique_bytes} stored bytes; \
         packs shrank by {}",
        unique.len(),
        packs_before - packs_after
    );

    assert_eq!(
        listed_ids(repo.s()),
        sorted(vec![release.clone(), newest.clone()])
    );
    assert_verifies(repo.s());
    let restored = tempfile::tempdir().unwrap();
    assert_eq!(
        restored_rows(repo.s(), &release, restored.path()),
        release_rows
    );
    assert_eq!(restored_rows(repo.s(), &newest, restored.path()), dump(&db));
    // Nothing left to collect: a second prune removes nothing.
    let again = run_json(&["prune", "--repo", repo.s(), "--keep-last", "5"], 0);
    assert_eq!(again["blobs_removed"], 0, "{again}");
    assert_eq!(again["bytes_freed"], 0, "{again}");
}

/// No policy, a policy of nothing, or one that matches no backup: prune refuses to empty the
/// repository and says how to; `--allow-empty` does, and leaves no pack behind.
pub fn the_last_backup_is_never_removed_without_allow_empty(place: Place) {
    let dir = tempfile::tempdir().unwrap();
    let db = app_db(dir.path(), 3000);
    let repo = TestRepo::new(place, "allow-empty");
    let first = backup(&db, repo.s(), &[]);
    let second = backup(&db, repo.s(), &[]);

    let (code, _, stderr) = run(&["prune", "--repo", repo.s()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no retention policy"), "{stderr}");
    let (code, _, stderr) = run(&["prune", "--repo", repo.s(), "--keep-last", "0"]);
    assert_eq!(code, 2, "--keep-last 0 is no policy: {stderr}");
    let (code, _, stderr) = run(&["prune", "--repo", repo.s(), "--keep-tag", "nightly"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("would remove all 2 backups") && stderr.contains("--allow-empty"),
        "{stderr}"
    );
    assert_eq!(listed_ids(repo.s()), sorted(vec![first, second]));

    let args = [
        "prune",
        "--repo",
        repo.s(),
        "--keep-tag",
        "nightly",
        "--allow-empty",
    ];
    let report = run_json(&args, 0);
    assert_eq!(report["backups_removed"], 2);
    assert!(listed_ids(repo.s()).is_empty());
    assert!(repo.packs().is_empty(), "all data was garbage");
    assert_verifies(repo.s());
}

/// A backup paused in the middle (its first table's packs stored, no manifest yet, through the
/// library's progress hook, which works on any store): the CLI's and the library's prunes are
/// refused naming the backup's lock, and once it finishes the backup prunes, verifies and
/// restores.
pub fn a_prune_during_a_backup_fails_clearly_and_the_backup_restores(place: Place) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let repo = TestRepo::with_pack_size(place, "prune-during", 1 << 16);
    write_db(
        &db,
        "CREATE TABLE old (id INTEGER PRIMARY KEY, v TEXT)",
        "old",
        0,
        5000,
        1,
    );
    backup(&db, repo.s(), &[]);
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
    let packs_before = repo.packs().len();

    // The backup pauses after its first (biggest) table, its packs stored, no manifest yet.
    let paused = Barrier::new(2);
    let resume = Barrier::new(2);
    let once = AtomicBool::new(false);
    let outcome = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            let handle = repo.open();
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
        while repo.packs().len() == packs_before && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let stored = repo.packs().len() > packs_before;

        let cli = run(&["prune", "--repo", repo.s(), "--keep-last", "1"]);
        let library = repo.open().prune(&[], false);
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

    let report = run_json(&["prune", "--repo", repo.s(), "--keep-last", "1"], 0);
    assert_eq!(report["backups_removed"], 1, "{report}");
    assert_eq!(listed_ids(repo.s()), std::slice::from_ref(&id));
    assert_verifies_and_restores(repo.s(), &id, &db);
}

/// Every index file lost (the objects deleted through the store): the repository still reads,
/// as packs are recovered from their sealed trailers; `check` lists every pack as unindexed
/// and says what to run; `repair index` indexes them all again, and the backup restores.
pub fn a_lost_index_is_rebuilt_from_the_packs(place: Place) {
    let dir = tempfile::tempdir().unwrap();
    let db = app_db(dir.path(), 12_000);
    let repo = TestRepo::with_pack_size(place, "lost-index", 1 << 16);
    backup(&db, repo.s(), &[]);
    write_db(&db, "", "t", 12_000, 6_000, 2);
    let id = backup(&db, repo.s(), &[]);
    let index_files = || repo.store().list("index/").expect("listing index/");
    assert!(!index_files().is_empty(), "the backups wrote no index file");
    for object in index_files() {
        repo.delete(&object.name);
    }

    let report = run_json(&["check", "--repo", repo.s()], 0);
    let unindexed = report["unindexed_packs"].as_array().unwrap().len();
    assert_eq!(unindexed, repo.packs().len(), "{report}");
    let (_, stdout, _) = run(&["check", "--repo", repo.s()]);
    assert!(stdout.contains("strata repair index"), "{stdout}");

    let repaired = run_json(&["repair", "index", "--repo", repo.s()], 0);
    assert_eq!(repaired["packs_indexed"], unindexed, "{repaired}");
    assert_eq!(repaired["index_files_deleted"], 0, "{repaired}");
    assert!(!index_files().is_empty());
    let report = run_json(&["check", "--repo", repo.s(), "--read-data"], 0);
    assert_eq!(report["ok"], true, "{report}");
    assert!(
        report["unindexed_packs"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert_eq!(restored_rows(repo.s(), &id, dir.path()), dump(&db));
}
