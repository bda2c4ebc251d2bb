//! An Azure Blob Storage server for the tests: Azurite's blob service
//! (`tests/support/azure_server.js`) on a free port of 127.0.0.1 in a temporary directory of its
//! own, checking Shared Key signatures, started on first use and shared by every test of the test
//! binary, one container per test. The server exits when this process does (its standard input
//! closes).
//!
//! Azurite is installed from npm by `scripts/setup-test-env.sh` under the test cache
//! ([`super::test_cache`]); a missing install fails the test with what to run, never
//! skips it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use strata::store::{CloudOptions, CloudStore, Store};

use super::server::{self, ServerProcess};

/// The Azurite release the setup script installs (the directory is named after it).
pub const AZURITE_VERSION: &str = "3.35.0";

pub struct AzureServer {
    process: ServerProcess,
    pub port: u16,
    pub account: String,
    pub key: String,
}

static SERVER: OnceLock<AzureServer> = OnceLock::new();

/// The server shared by every test of this test binary, started on first use.
pub fn azure_server() -> &'static AzureServer {
    SERVER.get_or_init(AzureServer::start)
}

/// The environment for the shared server if this test binary started it, else nothing.
pub fn shared_env() -> Vec<(String, String)> {
    SERVER.get().map(AzureServer::env).unwrap_or_default()
}

/// Where the setup script installs Azurite.
pub fn azurite_dir() -> PathBuf {
    super::test_cache().join(format!("azurite-{AZURITE_VERSION}"))
}

impl AzureServer {
    fn start() -> AzureServer {
        let blob_service = azurite_dir().join("node_modules/azurite/dist/src/blob/main.js");
        let what = format!("the Azure test server (Azurite {AZURITE_VERSION})");
        server::require_installed(&what, &blob_service);
        let script = super::repo_root().join("tests/support/azure_server.js");
        let node = PathBuf::from("node");
        let process = ServerProcess::start(&what, &node, &[&script, &blob_service]);
        let [account, key] = &process.words[..] else {
            panic!("{what} did not give its account: {:?}", process.words);
        };
        AzureServer {
            port: process.port,
            account: account.clone(),
            key: key.clone(),
            process,
        }
    }

    pub fn endpoint(&self) -> String {
        self.process.endpoint()
    }

    /// Creates a fresh container named after `hint` and returns its name.
    pub fn container(&self, hint: &str) -> String {
        let name = server::unique_name(hint);
        self.process.command(&format!("container {name}"));
        name
    }

    /// The environment strata needs to reach this server at `base_url` (the emulator's URL, as
    /// Azure tools take it), with short retries so that failures show quickly.
    pub fn env_for(&self, base_url: &str) -> Vec<(String, String)> {
        server::env_pairs(&[
            ("AZURE_STORAGE_USE_EMULATOR", "true"),
            ("AZURITE_BLOB_STORAGE_URL", base_url),
            ("AZURE_STORAGE_ACCOUNT_NAME", &self.account),
            ("AZURE_STORAGE_ACCOUNT_KEY", &self.key),
            ("STRATA_CLOUD_RETRIES", "2"),
            ("STRATA_CLOUD_RETRY_SECONDS", "5"),
        ])
    }

    pub fn env(&self) -> Vec<(String, String)> {
        self.env_for(&self.endpoint())
    }

    /// The store at `url` as strata opens it, for tests that look at or damage objects.
    pub fn store(&self, url: &str) -> Arc<dyn Store> {
        let options = CloudOptions::from_pairs(self.env()).expect("valid Azure options");
        Arc::new(CloudStore::open(url, &options).expect("an Azure store"))
    }
}
