//! Repositories on S3: the backup/restore/verify/list suite of `support::backup_suite` and the
//! retention/prune/repair suite of `support::prune_suite` with every repository in a bucket of a
//! real S3-compatible server (moto, started on 127.0.0.1 by the harness, checking signatures and
//! credentials), plus what only object storage has: the server going away in the middle of a
//! backup, a missing bucket, refused credentials, an unreachable endpoint, locks without exclusive
//! create, and the store's own contract.

mod support;

use support::backup_suite::{self as suite, *};
use support::cloud_suite::{self as cloud, assert_every_command_fails};
use support::prune_suite;
use support::repo::{Place, TestRepo};
use support::s3::s3_server;
use support::server::with_var;

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

// ---------------------------------------------------------------- the prune suite, on S3

#[test]
fn retention_prunes_exactly_the_forgotten_backups_data_and_kept_ones_restore() {
    prune_suite::retention_prunes_exactly_the_forgotten_backups_data_and_kept_ones_restore(
        Place::S3,
    );
}

#[test]
fn the_last_backup_is_never_removed_without_allow_empty() {
    prune_suite::the_last_backup_is_never_removed_without_allow_empty(Place::S3);
}

#[test]
fn a_prune_during_a_backup_fails_clearly_and_the_backup_restores() {
    prune_suite::a_prune_during_a_backup_fails_clearly_and_the_backup_restores(Place::S3);
}

#[test]
fn a_lost_index_is_rebuilt_from_the_packs() {
    prune_suite::a_lost_index_is_rebuilt_from_the_packs(Place::S3);
}

// ---------------------------------------------------------------- the server goes away

#[test]
fn a_backup_interrupted_by_the_server_going_away_is_not_listed_and_the_next_run_resumes() {
    let server = s3_server();
    cloud::a_backup_interrupted_by_the_server_going_away_is_not_listed_and_the_next_run_resumes(
        Place::S3,
        server.port,
        |endpoint| server.env_for(endpoint),
    );
}

// ---------------------------------------------------------------- bad input

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
    let before = repo.objects();
    let wrong_secret = with_var(&server.env(), "AWS_SECRET_ACCESS_KEY", "not-the-secret");
    assert_every_command_fails(repo.s(), &wrong_secret, "refused the credentials");
    let unknown_key = with_var(&server.env(), "AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000");
    assert_every_command_fails(repo.s(), &unknown_key, "refused the credentials");
    // The repository is untouched: only what init wrote (the config and the key file).
    assert_eq!(repo.objects(), before);
}

#[test]
fn an_unreachable_server_is_retried_a_bounded_number_of_times_then_a_clear_error() {
    let server = s3_server();
    let closed = server.env_for(&format!("http://127.0.0.1:{}", closed_port()));
    // The tuning variables' older name still counts.
    let env = with_var(&closed, "STRATA_S3_RETRIES", "3");
    let env: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| k != "STRATA_CLOUD_RETRIES")
        .collect();
    cloud::an_unreachable_endpoint_is_retried_a_bounded_number_of_times("s3://bucket/repo", &env);
}

// ---------------------------------------------------------------- locks

#[test]
fn racing_exclusive_lockers_never_both_hold_the_lock_on_s3() {
    let repo = TestRepo::new(Place::S3, "locks");
    cloud::racing_exclusive_lockers_never_both_hold_the_lock(&repo, s3_server().store(repo.s()));
}

// ---------------------------------------------------------------- the store contract

#[test]
fn the_s3_store_keeps_the_store_contract_under_its_prefix() {
    let server = s3_server();
    let bucket = server.bucket("contract");
    let (a, b) = (
        server.store(&format!("s3://{bucket}/one")),
        server.store(&format!("s3://{bucket}/one-more/")),
    );
    cloud::the_store_keeps_the_store_contract_under_its_prefix(a.as_ref(), b.as_ref());
}
