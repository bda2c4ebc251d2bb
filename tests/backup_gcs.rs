//! Repositories on Google Cloud Storage, without a server: no GCS emulator from the package
//! registries works with the `object_store` client (fake-gcs-server, the one available as a PyPI
//! wheel, refuses its uploads with `400 invalid uploadType` and answers a missing bucket like a
//! missing object), so these tests cover what can be checked on this machine: URL forms,
//! missing credentials (a key file that is not there, or none at all) and an unreachable endpoint, each ending every command with exit 2 and one
//! clear line. The store code itself is the same as for S3 and Azure, which run the whole suite.

mod support;

use support::backup_suite::*;
use support::cloud_suite::{self as cloud, assert_every_command_fails};
use support::server::{env_pairs, strata_with};

/// A service account key that sends requests to `base_url` without asking Google for a token (as
/// emulators are configured), so that no request leaves 127.0.0.1.
fn key_file(dir: &std::path::Path, name: &str, base_url: &str) -> String {
    let path = dir.join(name);
    let key = serde_json::json!({
        "gcs_base_url": base_url,
        "disable_oauth": true,
        "client_email": "strata-test@example.invalid",
        "private_key": "",
        "private_key_id": "",
    });
    std::fs::write(&path, key.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn bad_gs_urls_are_refused_with_what_to_write() {
    for (url, expected) in [
        (
            "gs://",
            "no bucket name; use gs://BUCKET or gs://BUCKET/PREFIX",
        ),
        ("gs://b/a/../c", "invalid key prefix"),
        ("gs://me@b/repo", "is not a bucket name"),
    ] {
        let out = strata_with(&["list", "--repo", url], &[]);
        assert_clear_error(&out, url);
        let err = text(&out.stderr);
        assert!(err.contains(url) && err.contains(expected), "{url}: {err}");
    }
}

#[test]
fn a_credentials_file_that_does_not_exist_is_a_clear_error() {
    for variable in ["GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_SERVICE_ACCOUNT"] {
        let env = env_pairs(&[(variable, "/nonexistent/strata-key.json")]);
        assert_every_command_fails(
            "gs://bucket/repo",
            &env,
            &format!("{variable}=/nonexistent/strata-key.json names no file"),
        );
    }
}

/// With no credentials at all, the client asks the metadata server of a Google Cloud machine for
/// a token; here that server (moved to a closed port of 127.0.0.1, with no gcloud login in the
/// home directory) does not answer, and the error says which variables to set.
#[test]
fn no_credentials_at_all_is_a_clear_error_naming_the_variables() {
    let home = tempfile::tempdir().unwrap();
    let metadata = format!("127.0.0.1:{}", closed_port());
    let env = env_pairs(&[
        ("HOME", home.path().to_str().unwrap()),
        ("GCE_METADATA_HOST", &metadata),
        ("GCE_METADATA_IP", &metadata),
        ("STRATA_CLOUD_RETRIES", "1"),
        ("STRATA_CLOUD_RETRY_SECONDS", "2"),
    ]);
    assert_every_command_fails(
        "gs://bucket/repo",
        &env,
        "cannot get credentials for Google Cloud Storage",
    );
    let out = strata_with(&["list", "--repo", "gs://bucket/repo"], &env);
    assert!(
        text(&out.stderr).contains("GOOGLE_SERVICE_ACCOUNT"),
        "{}",
        describe(&out)
    );
}

#[test]
fn an_unreachable_endpoint_is_retried_a_bounded_number_of_times_then_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let key = key_file(dir.path(), "key.json", &closed);
    let env = env_pairs(&[
        ("GOOGLE_SERVICE_ACCOUNT", &key),
        ("GOOGLE_ALLOW_HTTP", "true"),
        ("STRATA_CLOUD_RETRIES", "3"),
        ("STRATA_CLOUD_RETRY_SECONDS", "5"),
    ]);
    cloud::an_unreachable_endpoint_is_retried_a_bounded_number_of_times("gs://bucket/repo", &env);
}

#[test]
fn a_plain_http_endpoint_must_be_allowed_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let plain_key = key_file(dir.path(), "plain.json", &closed);
    let from_key = env_pairs(&[("GOOGLE_SERVICE_ACCOUNT", &plain_key)]);
    // The variable wins over the key file's URL (which would be allowed: it is HTTPS).
    let tls_key = key_file(dir.path(), "tls.json", "https://127.0.0.1:1");
    let from_variable = env_pairs(&[
        ("GOOGLE_SERVICE_ACCOUNT", tls_key.as_str()),
        ("GOOGLE_BASE_URL", &closed),
    ]);
    for env in [from_key, from_variable] {
        let out = strata_with(&["list", "--repo", "gs://bucket/repo"], &env);
        assert_clear_error(&out, "a plain HTTP endpoint");
        let err = text(&out.stderr);
        assert!(err.contains("set GOOGLE_ALLOW_HTTP=true"), "{err}");
    }
}
