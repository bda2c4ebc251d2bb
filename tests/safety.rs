//! The restore safety net: `restore --clean` over a populated database first backs the target
//! up into the same repository (tagged `pre-restore`), and restoring that backup gives the
//! original database back exactly.

mod support;

use serde_json::Value;

use support::backup_suite::{backup, content, id_of, json, restore, sequences};
use support::repo::TestRepo;
use support::{snapshot, sqlite, TestDb};

/// A small database with keys, a foreign key, an index, a view and a moved sequence.
const ORIGINAL_PG: &str = "
    CREATE TABLE customer (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE);
    CREATE TABLE invoice (id bigserial PRIMARY KEY,
                          customer_id bigint NOT NULL REFERENCES customer (id),
                          total numeric(10,2) NOT NULL, note text);
    CREATE INDEX invoice_customer ON invoice (customer_id);
    CREATE VIEW big_invoice AS SELECT * FROM invoice WHERE total > 100;
    INSERT INTO customer (name) SELECT 'customer ' || g FROM generate_series(1, 50) g;
    INSERT INTO invoice (customer_id, total, note)
        SELECT 1 + g % 50, g * 1.25, CASE WHEN g % 3 = 0 THEN NULL ELSE 'line ' || g END
        FROM generate_series(1, 500) g;
    DELETE FROM invoice WHERE id % 7 = 0;";

const OTHER_PG: &str = "
    CREATE TABLE event (id int PRIMARY KEY, kind text);
    INSERT INTO event SELECT g, 'kind ' || g FROM generate_series(1, 20) g;";

/// A repository holding a backup (its id) of a small source, and a populated target.
fn backed_up_source_and_populated_target(hint: &str) -> (TestRepo, TestDb, String, TestDb) {
    let repo = TestRepo::local();
    let source = TestDb::new(&format!("{hint}_source"));
    source.execute(OTHER_PG);
    let id = id_of(&backup(&source, &repo, &[]));
    let target = TestDb::new(&format!("{hint}_target"));
    target.execute(ORIGINAL_PG);
    (repo, source, id, target)
}

/// Backs a SQLite file up into `repo`; its id.
fn backup_file(file: &std::path::Path, repo: &TestRepo) -> String {
    id_of(&json(&[
        "backup",
        sqlite::text(file),
        "--repo",
        repo.s(),
        "--json",
    ]))
}

fn safety_id(report: &Value) -> String {
    report["safety_backup"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no safety backup in {report}"))
        .to_string()
}

fn backups(repo: &TestRepo) -> Vec<Value> {
    json(&["list", "--repo", repo.s(), "--json"])
        .as_array()
        .expect("list --json is an array")
        .clone()
}

/// The safety backup is in the repository, tagged `pre-restore` and with the restored id.
fn assert_tagged(repo: &TestRepo, safety: &str, restored: &str) {
    let listed = backups(repo);
    let entry = listed
        .iter()
        .find(|b| b["id"] == safety)
        .unwrap_or_else(|| panic!("{safety} not listed: {listed:?}"));
    let tags: Vec<&str> = entry["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(tags.contains(&"pre-restore"), "{tags:?}");
    assert!(
        tags.contains(&format!("restore-of:{}", &restored[..8]).as_str()),
        "{tags:?}"
    );
}

#[test]
fn a_clean_restore_over_postgres_is_undone_by_restoring_its_safety_backup() {
    let repo = TestRepo::local();
    let target = TestDb::new("safety_target");
    target.execute(ORIGINAL_PG);
    let other = TestDb::new("safety_other");
    other.execute(OTHER_PG);
    let wrong = id_of(&backup(&other, &repo, &[]));

    let schema_before = snapshot(&target.url, &[]);
    let rows_before = content(&target);
    let sequences_before = sequences(&target);

    let (report, out) = restore(&wrong, &repo, &target.url, &["--clean"]);
    let safety = safety_id(&report);
    assert_tagged(&repo, &safety, &wrong);
    assert!(
        support::text(&out.stderr).contains(&safety[..8]),
        "{}",
        support::describe(&out)
    );
    assert_eq!(
        content(&target),
        content(&other),
        "the wrong restore happened"
    );

    // Undoing it takes a safety backup of the wrong state in turn, and gives the original back.
    let (undo, _) = restore(&safety, &repo, &target.url, &["--clean"]);
    assert!(undo["safety_backup"]["id"].is_string(), "{undo}");
    let schema_after = snapshot(&target.url, &[]);
    assert!(
        schema_before == schema_after,
        "{}",
        support::first_difference(&schema_before, &schema_after)
    );
    assert_eq!(content(&target), rows_before);
    assert_eq!(sequences(&target), sequences_before);
}

#[test]
fn a_clean_restore_over_sqlite_is_undone_by_restoring_its_safety_backup() {
    let repo = TestRepo::local();
    let dir = tempfile::tempdir().unwrap();
    let target = support::sqlite_file(dir.path(), "app.db", &sqlite::every_kind());
    let other = support::sqlite_file(
        dir.path(),
        "other.db",
        "CREATE TABLE event (id INTEGER PRIMARY KEY, kind TEXT);
         INSERT INTO event VALUES (1, 'a'), (2, 'b');",
    );
    let wrong = backup_file(&other, &repo);
    let schema_before = sqlite::snapshot(&target);
    let rows_before = sqlite::rows(&target);

    let to = format!("sqlite:{}", sqlite::text(&target));
    let (report, _) = restore(&wrong, &repo, &to, &["--clean"]);
    let safety = safety_id(&report);
    assert_tagged(&repo, &safety, &wrong);
    assert_eq!(sqlite::rows(&target), sqlite::rows(&other));

    restore(&safety, &repo, &to, &["--clean"]);
    let schema_after = sqlite::snapshot(&target);
    assert!(
        schema_before == schema_after,
        "{}",
        support::first_difference(&schema_before, &schema_after)
    );
    assert_eq!(sqlite::rows(&target), rows_before);
    // The staging file beside the target is gone.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".strata-restore-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn no_safety_backup_skips_it_and_an_empty_target_needs_none() {
    let (repo, source, id, populated) = backed_up_source_and_populated_target("safety");
    let empty = TestDb::new("safety_empty");

    let (report, _) = restore(
        &id,
        &repo,
        &populated.url,
        &["--clean", "--no-safety-backup"],
    );
    assert!(report["safety_backup"].is_null(), "{report}");
    let (report, _) = restore(&id, &repo, &empty.url, &["--clean"]);
    assert!(report["safety_backup"].is_null(), "{report}");
    assert_eq!(backups(&repo).len(), 1, "only the backup restored");
    assert_eq!(content(&populated), content(&source));
    assert_eq!(content(&empty), content(&source));

    // A new SQLite file is empty too.
    let sqlite_repo = TestRepo::local();
    let dir = tempfile::tempdir().unwrap();
    let file = support::sqlite_file(dir.path(), "src.db", "CREATE TABLE t (x TEXT);");
    let id = backup_file(&file, &sqlite_repo);
    let fresh = format!("sqlite:{}", dir.path().join("fresh.db").display());
    let (report, _) = restore(&id, &sqlite_repo, &fresh, &["--clean"]);
    assert!(report["safety_backup"].is_null(), "{report}");
    assert_eq!(backups(&sqlite_repo).len(), 1);
}

#[test]
fn a_failed_safety_backup_restores_nothing_and_says_how_to_skip_it() {
    let (repo, _source, id, target) = backed_up_source_and_populated_target("safety_fail");
    let before = content(&target);
    // Permissions do not stop root, so the repository is made unwritable by turning the
    // directory of its pack files into a file.
    let packs = std::path::Path::new(repo.s()).join("packs");
    std::fs::remove_dir_all(&packs).unwrap();
    std::fs::write(&packs, b"not a directory").unwrap();
    let out = support::strata(&[
        "restore",
        &id,
        "--repo",
        repo.s(),
        "--to",
        &target.url,
        "--clean",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", support::describe(&out));
    let message = support::text(&out.stderr);
    assert!(
        message.contains("safety backup") && message.contains("nothing was restored"),
        "{message}"
    );
    assert!(message.contains("--no-safety-backup"), "{message}");
    assert_eq!(content(&target), before);
}
