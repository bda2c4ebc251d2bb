//! Repositories on Azure Blob Storage: the backup/restore/verify/list suite of
//! `support::backup_suite` and the retention/prune/repair suite of `support::prune_suite` with
//! every repository in a container of a real Azure Storage server (Azurite, started on 127.0.0.1
//! by the harness, checking Shared Key signatures), plus what only object storage has
//! (`support::cloud_suite`): the server going away in the middle of a backup, a missing
//! container, a wrong account key, an unreachable endpoint, locks without exclusive create, and
//! the store's own contract.

mod support;

use support::azure::azure_server;
use support::backup_suite::{self as suite, *};
use support::cloud_suite::{self as cloud, assert_every_command_fails};
use support::prune_suite;
use support::repo::{Place, TestRepo};
use support::server::{self, with_var};

// ---------------------------------------------------------------- the suite, on Azure

#[test]
fn pagila_round_trips_with_identical_schema_rows_and_sequences() {
    suite::pagila_round_trips_with_identical_schema_rows_and_sequences(Place::Azure);
}

#[test]
fn a_flipped_byte_in_a_pack_is_reported_with_backup_and_table_and_blocks_restore() {
    suite::a_flipped_byte_in_a_pack_is_reported_with_backup_and_table_and_blocks_restore(
        Place::Azure,
    );
}

#[test]
fn a_deleted_pack_is_reported_by_verify_without_read_data_and_blocks_restore() {
    suite::a_deleted_pack_is_reported_by_verify_without_read_data_and_blocks_restore(Place::Azure);
}

#[test]
fn a_backup_killed_halfway_leaves_no_backup_a_valid_repository_and_reusable_chunks() {
    suite::a_backup_killed_halfway_leaves_no_backup_a_valid_repository_and_reusable_chunks(
        Place::Azure,
    );
}

#[test]
fn unchanged_and_appended_databases_store_almost_nothing_new() {
    suite::unchanged_and_appended_databases_store_almost_nothing_new(Place::Azure);
}

#[test]
fn a_repository_of_a_newer_format_is_refused_with_advice_to_upgrade() {
    suite::a_repository_of_a_newer_format_is_refused_with_advice_to_upgrade(Place::Azure);
}

#[test]
fn an_unknown_backup_id_is_a_clear_error() {
    suite::an_unknown_backup_id_is_a_clear_error(Place::Azure);
}

#[test]
fn an_unreachable_database_is_a_clear_error_and_nothing_is_written() {
    suite::an_unreachable_database_is_a_clear_error_and_nothing_is_written(Place::Azure);
}

#[test]
fn a_big_table_is_read_in_parts_by_several_workers_and_restores_identically() {
    suite::a_big_table_is_read_in_parts_by_several_workers_and_restores_identically(Place::Azure);
}

// ---------------------------------------------------------------- the prune suite, on Azure

#[test]
fn retention_prunes_exactly_the_forgotten_backups_data_and_kept_ones_restore() {
    prune_suite::retention_prunes_exactly_the_forgotten_backups_data_and_kept_ones_restore(
        Place::Azure,
    );
}

#[test]
fn the_last_backup_is_never_removed_without_allow_empty() {
    prune_suite::the_last_backup_is_never_removed_without_allow_empty(Place::Azure);
}

#[test]
fn a_prune_during_a_backup_fails_clearly_and_the_backup_restores() {
    prune_suite::a_prune_during_a_backup_fails_clearly_and_the_backup_restores(Place::Azure);
}

#[test]
fn a_lost_index_is_rebuilt_from_the_packs() {
    prune_suite::a_lost_index_is_rebuilt_from_the_packs(Place::Azure);
}

// ---------------------------------------------------------------- the server goes away

#[test]
fn a_backup_interrupted_by_the_server_going_away_is_not_listed_and_the_next_run_resumes() {
    let server = azure_server();
    cloud::a_backup_interrupted_by_the_server_going_away_is_not_listed_and_the_next_run_resumes(
        Place::Azure,
        server.port,
        |base_url| server.env_for(base_url),
    );
}

// ---------------------------------------------------------------- bad input

#[test]
fn a_container_that_does_not_exist_is_a_clear_error() {
    let server = azure_server();
    assert_every_command_fails(
        "az://strata-no-such-container/repo",
        &server.env(),
        "container strata-no-such-container does not exist",
    );
}

#[test]
fn a_wrong_account_key_is_refused_with_a_clear_error() {
    let server = azure_server();
    let repo = TestRepo::new(Place::Azure, "creds");
    let before = repo.objects();
    // A well-formed key (base64) that is not the account's.
    let wrong_key =
        "d3JvbmcgYWNjb3VudCBrZXkgZm9yIHN0cmF0YSB0ZXN0cywgNjQgYnl0ZXMgbG9uZyBleGFjdGx5ISEhISE=";
    let env = with_var(&server.env(), "AZURE_STORAGE_ACCOUNT_KEY", wrong_key);
    assert_every_command_fails(repo.s(), &env, "refused the credentials");
    // The repository is untouched: only what init wrote (the config and the key file).
    assert_eq!(repo.objects(), before);
}

/// A service principal whose identity provider cannot be reached (a closed port of 127.0.0.1):
/// no token, and the error says which variables give credentials.
#[test]
fn credentials_that_cannot_be_had_are_a_clear_error_naming_the_variables() {
    let server = azure_server();
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let env = server::env_pairs(&[
        ("AZURE_STORAGE_ACCOUNT_NAME", &server.account),
        (
            "AZURE_STORAGE_ENDPOINT",
            &format!("{}/{}", server.endpoint(), server.account),
        ),
        ("AZURE_ALLOW_HTTP", "true"),
        ("AZURE_CLIENT_ID", "strata-test"),
        ("AZURE_CLIENT_SECRET", "not-a-secret"),
        ("AZURE_TENANT_ID", "strata-test"),
        ("AZURE_AUTHORITY_HOST", &closed),
        ("STRATA_CLOUD_RETRIES", "1"),
        ("STRATA_CLOUD_RETRY_SECONDS", "2"),
    ]);
    assert_every_command_fails("az://container/repo", &env, "cannot get credentials");
    let out = server::strata_with(&["list", "--repo", "az://container/repo"], &env);
    assert!(
        text(&out.stderr).contains("AZURE_STORAGE_ACCOUNT_KEY"),
        "{}",
        describe(&out)
    );
}

#[test]
fn an_unreachable_server_is_retried_a_bounded_number_of_times_then_a_clear_error() {
    let server = azure_server();
    let closed = server.env_for(&format!("http://127.0.0.1:{}", closed_port()));
    let env = with_var(&closed, "STRATA_CLOUD_RETRIES", "3");
    cloud::an_unreachable_endpoint_is_retried_a_bounded_number_of_times(
        "az://container/repo",
        &env,
    );
}

// ---------------------------------------------------------------- locks and the store contract

#[test]
fn racing_exclusive_lockers_never_both_hold_the_lock_on_azure() {
    let repo = TestRepo::new(Place::Azure, "locks");
    cloud::racing_exclusive_lockers_never_both_hold_the_lock(&repo, azure_server().store(repo.s()));
}

#[test]
fn the_azure_store_keeps_the_store_contract_under_its_prefix() {
    let server = azure_server();
    let container = server.container("contract");
    let (a, b) = (
        server.store(&format!("az://{container}/one")),
        server.store(&format!("azure://{container}/one-more/")),
    );
    cloud::the_store_keeps_the_store_contract_under_its_prefix(a.as_ref(), b.as_ref());
}
