//! A backup repository for one test, in a temporary directory, a bucket of the S3 test server or
//! a container of the Azure test server, so that the same test body runs against every store. Objects are looked at and
//! damaged through strata's own [`Store`], never by paths.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use strata::repo::{Config, Repository};
use strata::store::{LocalStore, ObjectInfo, Store};

use super::azure::azure_server;
use super::s3::s3_server;

/// Where a test's repository lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Local,
    S3,
    Azure,
}

/// A repository created with `strata init`.
pub struct TestRepo {
    location: String,
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

impl TestRepo {
    /// An initialised repository in a temporary directory or a fresh bucket or container (named
    /// after `hint`).
    pub fn new(place: Place, hint: &str) -> TestRepo {
        let repo = TestRepo::uninitialised(place, hint);
        let out = super::strata(&["init", repo.s()]);
        assert!(
            out.status.success(),
            "strata init {} failed: {}",
            repo.s(),
            String::from_utf8_lossy(&out.stderr)
        );
        repo
    }

    /// An encrypted repository, as [`TestRepo::new`], whose packs are `pack_size` bytes (a
    /// parameter sealed in the config, so it is chosen at creation).
    pub fn with_pack_size(place: Place, hint: &str, pack_size: u32) -> TestRepo {
        let repo = TestRepo::uninitialised(place, hint);
        let mut config = Config::new();
        config.pack_size = pack_size;
        super::init_repo_in(Arc::clone(&repo.store), config);
        repo
    }

    fn uninitialised(place: Place, hint: &str) -> TestRepo {
        match place {
            Place::Local => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let path = dir.path().join("repo");
                TestRepo {
                    location: path.to_str().expect("UTF-8 path").to_string(),
                    store: Arc::new(LocalStore::new(&path)),
                    _dir: Some(dir),
                }
            }
            Place::S3 => {
                let server = s3_server();
                let location = format!("s3://{}/repo", server.bucket(hint));
                TestRepo {
                    store: server.store(&location),
                    location,
                    _dir: None,
                }
            }
            Place::Azure => {
                let server = azure_server();
                let location = format!("az://{}/repo", server.container(hint));
                TestRepo {
                    store: server.store(&location),
                    location,
                    _dir: None,
                }
            }
        }
    }

    pub fn local() -> TestRepo {
        TestRepo::new(Place::Local, "local")
    }

    /// The `--repo` argument.
    pub fn s(&self) -> &str {
        &self.location
    }

    /// The repository through the library, unlocked with the test passphrase.
    pub fn open(&self) -> Repository {
        super::open_repo_in(Arc::clone(&self.store))
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Rewrites one key of `config`'s clear part (e.g. a newer `format`).
    pub fn set_config(&self, key: &str, value: Value) {
        let mut config: Value =
            serde_json::from_slice(&self.store.get("config").expect("config")).expect("JSON");
        config[key] = value;
        self.store
            .put("config", &serde_json::to_vec_pretty(&config).expect("JSON"))
            .expect("writing config");
    }

    /// Every pack, largest first.
    pub fn packs(&self) -> Vec<ObjectInfo> {
        let mut packs = self.store.list("packs/").expect("listing packs");
        packs.sort_by_key(|p| std::cmp::Reverse(p.size));
        packs
    }

    /// Bytes of packs stored so far.
    pub fn pack_bytes(&self) -> u64 {
        self.packs().iter().map(|p| p.size).sum()
    }

    /// Every object with its bytes, to prove that nothing was written.
    pub fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        self.store
            .list("")
            .expect("listing the repository")
            .into_iter()
            .map(|o| {
                let bytes = self.store.get(&o.name).expect("reading an object");
                (o.name, bytes)
            })
            .collect()
    }

    /// Flips one byte in the middle of an object.
    pub fn flip_byte(&self, name: &str) {
        let mut bytes = self.store.get(name).expect("reading the object to damage");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x5a;
        self.store
            .put(name, &bytes)
            .expect("writing the damaged object");
    }

    pub fn delete(&self, name: &str) {
        self.store.delete(name).expect("deleting an object");
    }
}
