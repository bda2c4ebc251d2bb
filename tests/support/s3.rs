//! An S3-compatible server for the tests: moto (`tests/support/s3_server.py`) on a free port of
//! 127.0.0.1, with signed requests and real credential checks, started on first use and shared by
//! every test of the test binary, one bucket per test (as one database per test on the
//! PostgreSQL cluster). The server exits when this process does (its standard input closes).
//!
//! moto is installed by `scripts/setup-test-env.sh` into a virtual environment under the test
//! cache ([`super::test_cache`]); a missing install fails the test with what to run,
//! never skips it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use strata::store::{CloudOptions, CloudStore, Store};

use super::server::{self, ServerProcess};

/// The moto release the setup script installs (the virtual environment is named after it).
pub const MOTO_VERSION: &str = "5.2.5";

pub struct S3Server {
    process: ServerProcess,
    pub port: u16,
    pub access_key: String,
    pub secret_key: String,
}

static SERVER: OnceLock<S3Server> = OnceLock::new();

/// The server shared by every test of this test binary, started on first use.
pub fn s3_server() -> &'static S3Server {
    SERVER.get_or_init(S3Server::start)
}

/// The environment for the shared server if this test binary started it, else nothing.
pub fn shared_env() -> Vec<(String, String)> {
    SERVER.get().map(S3Server::env).unwrap_or_default()
}

/// Where the setup script puts the test server's virtual environment.
pub fn moto_venv() -> PathBuf {
    super::test_cache().join(format!("moto-{MOTO_VERSION}"))
}

impl S3Server {
    fn start() -> S3Server {
        let python = moto_venv().join("bin/python");
        let what = format!("the S3 test server (moto {MOTO_VERSION})");
        server::require_installed(&what, &python);
        let script = super::repo_root().join("tests/support/s3_server.py");
        let process = ServerProcess::start(&what, &python, &[&script]);
        let [access_key, secret_key] = &process.words[..] else {
            panic!("{what} did not give its credentials: {:?}", process.words);
        };
        S3Server {
            port: process.port,
            access_key: access_key.clone(),
            secret_key: secret_key.clone(),
            process,
        }
    }

    pub fn endpoint(&self) -> String {
        self.process.endpoint()
    }

    /// Creates a fresh bucket named after `hint` and returns its name.
    pub fn bucket(&self, hint: &str) -> String {
        let name = server::unique_name(hint);
        self.process.command(&format!("bucket {name}"));
        name
    }

    /// The environment strata needs to reach this server through `endpoint`, with short retries
    /// so that failures show quickly.
    pub fn env_for(&self, endpoint: &str) -> Vec<(String, String)> {
        server::env_pairs(&[
            ("AWS_ACCESS_KEY_ID", &self.access_key),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_key),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("STRATA_CLOUD_RETRIES", "2"),
            ("STRATA_CLOUD_RETRY_SECONDS", "5"),
        ])
    }

    pub fn env(&self) -> Vec<(String, String)> {
        self.env_for(&self.endpoint())
    }

    /// The store at `url` as strata opens it, for tests that look at or damage objects.
    pub fn store(&self, url: &str) -> Arc<dyn Store> {
        let options = CloudOptions::from_pairs(self.env()).expect("valid S3 options");
        Arc::new(CloudStore::open(url, &options).expect("an S3 store"))
    }
}
