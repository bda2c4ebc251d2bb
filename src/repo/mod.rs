//! The backup repository: a content-addressed, deduplicated, compressed and checksummed store
//! of backups, on any [`Store`]. The on-disk format is specified in `docs/FORMAT.md`.
//!
//! A table's data (COPY text) is cut into row-aligned, content-defined chunks ([`chunker`]);
//! each chunk is a blob named by its hash, compressed, and packed with others into pack files
//! ([`pack`]); the [`index`] maps blobs to packs; a [`manifest`] lists, per backup, the schema
//! snapshot and each table's chunks, and is stored last by the [`Writer`]. The [`reader`] gives
//! a table's bytes back, verified; [`check`] proves backups restorable and finds damage
//! anywhere; [`prune`] removes forgotten backups and their garbage, [`repair`] rebuilds the
//! index from the packs; [`lock`] keeps writers and prune apart.
//!
//! An encrypted repository (the default of `strata init`) seals every object with its master
//! key ([`crypto`]), which key files wrap under passphrases ([`key`]); the codecs take the
//! repository's [`Crypto`] and nothing else changes for code that uses a `Repository`.
//!
//! A public-key repository (`strata init --recipient`, format 3) seals content with data keys
//! wrapped to age recipients ([`recipient`]) and the rest with the writer's master key, so a
//! backup host holding only the passphrase can write, list and prune, but not read, backups;
//! its manifests are stored as writer-readable [`backup_record`]s.
//!
//! [`Repository`] is the facade the workflows use. This module knows nothing about databases
//! (it takes and gives byte streams) nor about the command line.
//!
//! ```no_run
//! # use strata::repo::*;
//! # fn main() -> Result<(), RepoError> {
//! let store = strata::store::from_location("/backups/shop")?;
//! let repo = Repository::open_with(store, || Ok(Passphrase::new("secret".into())))?;
//! let writer = repo.writer()?;
//! let mut stream = writer.stream("public.film");
//! stream.copy_from(&b"1\tACADEMY DINOSAUR\n"[..])?;
//! let summary = stream.finish()?;
//! # let source = Source::new(strata::schema::EngineKind::Postgres, "15", "shop");
//! let mut manifest = Manifest::new(BackupKind::DataOnly, source);
//! manifest.tables.push(TableEntry::from_stream("public.film", &summary));
//! let backup = writer.commit(manifest)?;
//! # Ok(()) }
//! ```

pub mod apply_record;
pub mod backup_record;
pub mod check;
pub mod chunker;
pub mod config;
pub mod crypto;
mod error;
pub mod id;
pub mod index;
pub mod key;
mod layout;
pub mod lock;
pub mod manifest;
pub mod pack;
pub mod prune;
pub mod reader;
pub mod recipient;
pub mod repair;
pub mod time;
pub mod writer;

use std::sync::{Arc, Mutex, RwLock};

use crate::store::Store;

pub use apply_record::{ApplyRecord, RecordId, RecordList, TableState};
pub use check::{CheckOptions, CheckReport, Problem, ProblemKind};
pub use config::Config;
pub use crypto::Crypto;
pub use error::{BlobError, RepoError, RepoResult};
pub use id::{BackupId, BlobId, Id, IdHasher, PackId};
pub use key::{KdfParams, KeyId, KeyInfo, Passphrase};
pub use lock::{Lock, LockKind};
pub use manifest::{
    Backup, BackupKind, BackupStats, Manifest, Segment, SequenceValue, Source, TableEntry,
};
pub use prune::PruneReport;
pub use reader::StreamReader;
pub use recipient::{Identities, Recipients};
pub use repair::RepairReport;
pub use time::Timestamp;
pub use writer::{StreamSummary, TableWriter, Writer};

use backup_record::Opened;
use config::StoredConfig;
use crypto::{MasterKey, ObjectKind, PublicKeys};
use index::Index;
use manifest::{resolve_prefix, ResolveError};
use recipient::DataKeys;

/// An opened (and, if encrypted, unlocked) repository.
pub struct Repository {
    store: Arc<dyn Store>,
    config: Config,
    hasher: IdHasher,
    crypto: Crypto,
    /// The key file that unlocked an encrypted repository.
    key: Option<KeyId>,
    /// Loaded on first use: listing backups needs no index.
    index: Mutex<Option<Arc<RwLock<Index>>>>,
}

/// The backups of a repository, oldest first, and the manifests that could not be read.
#[derive(Debug)]
pub struct BackupList {
    pub backups: Vec<Backup>,
    pub damaged: Vec<RepoError>,
}

impl Repository {
    /// Creates an *unencrypted* repository with default parameters in an empty location
    /// (`strata init --insecure-no-encryption`; see [`Repository::init_encrypted`]).
    pub fn init(store: Arc<dyn Store>) -> RepoResult<Repository> {
        Repository::init_with(store, Config::new())
    }

    /// Creates an unencrypted repository with the given config (tests use small chunks and
    /// packs).
    pub fn init_with(store: Arc<dyn Store>, config: Config) -> RepoResult<Repository> {
        if config.is_encrypted() {
            return Err(RepoError::Invalid(
                "an encrypted repository needs a passphrase: use Repository::init_encrypted"
                    .to_string(),
            ));
        }
        check_empty(store.as_ref(), &config)?;
        store.put(config::CONFIG_NAME, &config.encode())?;
        Repository::open(store)
    }

    /// Creates an encrypted repository: draws a master key, stores it wrapped by `passphrase`
    /// (through Argon2id with `kdf`) as the first key file, then the config with its parameters
    /// sealed. `config` gives the parameters; its encryption fields are set here.
    pub fn init_encrypted(
        store: Arc<dyn Store>,
        config: Config,
        passphrase: &Passphrase,
        kdf: KdfParams,
    ) -> RepoResult<Repository> {
        let config = config.encrypted()?;
        check_empty(store.as_ref(), &config)?;
        let master = MasterKey::generate()?;
        // The key file first: a config without a key file would be a repository nobody can open.
        let key = key::store_key(store.as_ref(), &master, passphrase, kdf, &config.id)?;
        store.put(config::CONFIG_NAME, &config.encode_sealed(&master)?)?;
        Repository::with_key(store, config, master, key, None)
    }

    /// Creates a public-key repository (format 3): like [`Repository::init_encrypted`], but the
    /// content of backups is encrypted to `recipients`, so the passphrase alone lets a host
    /// write backups it cannot read back.
    pub fn init_public_key(
        store: Arc<dyn Store>,
        config: Config,
        passphrase: &Passphrase,
        kdf: KdfParams,
        recipients: &Recipients,
    ) -> RepoResult<Repository> {
        let config = config.public_key(recipients.to_strings())?;
        check_empty(store.as_ref(), &config)?;
        let master = MasterKey::generate()?;
        let key = key::store_key(store.as_ref(), &master, passphrase, kdf, &config.id)?;
        store.put(config::CONFIG_NAME, &config.encode_sealed(&master)?)?;
        Repository::with_key(store, config, master, key, None)
    }

    /// Opens an unencrypted repository; an encrypted one needs [`Repository::open_with`]. Fails
    /// clearly on a location that is not a repository, a newer format, or a damaged config.
    pub fn open(store: Arc<dyn Store>) -> RepoResult<Repository> {
        Repository::open_with(store, || {
            Err("no passphrase was given to this program".to_string())
        })
    }

    /// Opens a repository; if it is encrypted, unlocks it with the passphrase `passphrase`
    /// gives (asked only then, so that unencrypted repositories never prompt). A passphrase
    /// that opens no key file is [`RepoError::WrongPassphrase`].
    pub fn open_with(
        store: Arc<dyn Store>,
        passphrase: impl FnOnce() -> Result<Passphrase, String>,
    ) -> RepoResult<Repository> {
        Repository::open_with_identity(store, passphrase, None)
    }

    /// Like [`Repository::open_with`]; a public-key repository's content can then be read with
    /// `identities` (checked against its recipients), and without them only written and
    /// listed. Other repositories ignore `identities`.
    pub fn open_with_identity(
        store: Arc<dyn Store>,
        passphrase: impl FnOnce() -> Result<Passphrase, String>,
        identities: Option<Identities>,
    ) -> RepoResult<Repository> {
        let location = store.location();
        let bytes = match store.get(config::CONFIG_NAME) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Err(RepoError::NotARepository { location }),
            Err(e) => return Err(e.into()),
        };
        let stored = match StoredConfig::decode(&bytes, &location)? {
            StoredConfig::Plain(config) => {
                return Ok(Repository {
                    hasher: IdHasher::Blake3,
                    store,
                    config,
                    crypto: Crypto::None,
                    key: None,
                    index: Mutex::new(None),
                })
            }
            sealed => sealed,
        };
        let id = stored.id();
        let passphrase = passphrase().map_err(|reason| RepoError::PassphraseNeeded {
            location: location.clone(),
            reason,
        })?;
        let (master, key) = key::unlock(store.as_ref(), &id, &passphrase)?;
        let config = stored.unseal(&master, &location)?;
        Repository::with_key(store, config, master, key, identities)
    }

    fn with_key(
        store: Arc<dyn Store>,
        config: Config,
        master: MasterKey,
        key: KeyId,
        identities: Option<Identities>,
    ) -> RepoResult<Repository> {
        let crypto = if config.is_public_key() {
            let damaged = |reason: String| RepoError::DamagedConfig {
                location: store.location(),
                reason,
            };
            let recipients = Recipients::parse(&config.recipients).map_err(damaged)?;
            if let Some(identities) = &identities {
                identities.check_against(&recipients).map_err(|reason| {
                    RepoError::WrongIdentity {
                        location: store.location(),
                        reason,
                    }
                })?;
            }
            Crypto::PublicKey(Arc::new(PublicKeys {
                writer: master,
                data: DataKeys::new(Arc::clone(&store), recipients, identities),
            }))
        } else {
            Crypto::Keyed(Arc::new(master))
        };
        Ok(Repository {
            hasher: config.id_hasher(&crypto).map_err(RepoError::Invalid)?,
            store,
            config,
            crypto,
            key: Some(key),
            index: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How this repository's objects are sealed (or not).
    pub fn crypto(&self) -> &Crypto {
        &self.crypto
    }

    /// The master key of an encrypted repository.
    pub(crate) fn master_key(&self) -> RepoResult<&MasterKey> {
        match &self.crypto {
            Crypto::Keyed(key) => Ok(key),
            Crypto::PublicKey(keys) => Ok(&keys.writer),
            Crypto::None => Err(RepoError::NotEncrypted {
                location: self.location(),
            }),
        }
    }

    /// The key file that unlocked this repository (`None` when it is not encrypted).
    pub fn key_id(&self) -> Option<KeyId> {
        self.key
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub(crate) fn store_arc(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    /// Where the repository is, for messages.
    pub fn location(&self) -> String {
        self.store.location()
    }

    pub fn id_hasher(&self) -> &IdHasher {
        &self.hasher
    }

    /// The index, loaded (and unindexed packs recovered) on first use.
    pub(crate) fn index(&self) -> RepoResult<Arc<RwLock<Index>>> {
        let mut slot = self.index.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = slot.as_ref() {
            return Ok(Arc::clone(index));
        }
        let index = Arc::new(RwLock::new(Index::load(self.store.as_ref(), &self.crypto)?));
        *slot = Some(Arc::clone(&index));
        Ok(index)
    }

    /// Loads the index afresh and makes it the cached one. A writer does this after taking its
    /// lock, so that it never deduplicates against blobs a prune removed before that.
    pub(crate) fn reload_index(&self) -> RepoResult<Arc<RwLock<Index>>> {
        let index = Arc::new(RwLock::new(Index::load(self.store.as_ref(), &self.crypto)?));
        let mut slot = self.index.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(Arc::clone(&index));
        Ok(index)
    }

    /// Drops the cached index (after prune or repair changed it); the next use loads it.
    pub(crate) fn forget_index(&self) {
        *self.index.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Starts a backup: takes a shared lock and starts the compression threads.
    pub fn writer(&self) -> RepoResult<Writer<'_>> {
        Writer::new(self)
    }

    /// Takes the exclusive lock (for operations that delete, like prune).
    pub fn lock_exclusive(&self, purpose: &str) -> RepoResult<Lock> {
        self.lock(LockKind::Exclusive, purpose)
    }

    /// Takes a lock of this repository.
    pub fn lock(&self, kind: LockKind, purpose: &str) -> RepoResult<Lock> {
        Lock::acquire(self.store_arc(), &self.crypto, kind, purpose)
    }

    /// Ids of all stored backups, in id order.
    pub fn backup_ids(&self) -> RepoResult<Vec<BackupId>> {
        let objects = self.store.list(layout::BACKUPS)?;
        Ok(objects
            .iter()
            .filter_map(|o| layout::id_of(&o.name))
            .collect())
    }

    /// The backup whose id starts with `prefix` (git-style), or a clear error.
    pub fn resolve_backup(&self, prefix: &str) -> RepoResult<BackupId> {
        let ids = self.backup_ids()?;
        resolve_prefix(&ids, prefix).map_err(|e| match e {
            ResolveError::Malformed | ResolveError::Unknown => RepoError::UnknownBackup {
                location: self.location(),
                prefix: prefix.to_string(),
            },
            ResolveError::Ambiguous(ids) => RepoError::AmbiguousBackup {
                location: self.location(),
                prefix: prefix.to_string(),
                candidates: ids.iter().map(Id::short).collect(),
            },
        })
    }

    /// Loads the backup a full id or unique prefix names.
    pub fn load_backup(&self, id_or_prefix: &str) -> RepoResult<Backup> {
        let id = self.resolve_backup(id_or_prefix)?;
        self.load_backup_id(&id)
    }

    /// Loads a backup by id, checking its manifest against its name. A public-key repository
    /// opened without its identity cannot: [`RepoError::IdentityNeeded`].
    pub fn load_backup_id(&self, id: &BackupId) -> RepoResult<Backup> {
        self.check_content_readable()?;
        self.load_backup_listing(id)
    }

    /// Loads what can be read of a backup: the whole manifest, or, in a public-key repository
    /// opened without its identity, the writer's record (`content_withheld`): enough to list,
    /// check the presence of its blobs and prune.
    pub fn load_backup_listing(&self, id: &BackupId) -> RepoResult<Backup> {
        let opened = self.load_checked(&layout::backup_name(id), id, |bytes| {
            backup_record::open_manifest(&self.crypto, bytes)
        })?;
        let (manifest, content_withheld) = match opened {
            Opened::Full(manifest) => (manifest, false),
            Opened::Withheld(manifest) => (manifest, true),
        };
        Ok(Backup {
            id: *id,
            manifest,
            content_withheld,
        })
    }

    /// Reads a content-named sealed object: checks its bytes against its name, opens it and
    /// decodes it; any failure is reported as damage to that object.
    pub(crate) fn load_named<T>(
        &self,
        name: &str,
        id: &Id,
        kind: ObjectKind,
        decode: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> RepoResult<T> {
        self.load_checked(name, id, |bytes| decode(&self.crypto.open(kind, bytes)?))
    }

    /// Reads a content-named object, checks its bytes against its name and opens them with
    /// `open`; a failure is reported as damage to that object, except content that needs the
    /// identity this repository was opened without.
    fn load_checked<T>(
        &self,
        name: &str,
        id: &Id,
        open: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> RepoResult<T> {
        let bytes = self.store.get(name)?;
        let damaged = |reason: String| RepoError::Damaged {
            location: self.location(),
            name: name.to_string(),
            reason,
        };
        if Id::of_object(&bytes) != *id {
            return Err(damaged("content does not match its name".to_string()));
        }
        open(&bytes).map_err(|reason| match reason.as_str() {
            // Not damage: content a public-key writer cannot read.
            recipient::IDENTITY_NEEDED => RepoError::IdentityNeeded {
                location: self.location(),
            },
            _ => damaged(reason),
        })
    }

    /// Every backup, oldest first; unreadable manifests are returned apart.
    pub fn list_backups(&self) -> RepoResult<BackupList> {
        let mut list = BackupList {
            backups: Vec::new(),
            damaged: Vec::new(),
        };
        for id in self.backup_ids()? {
            match self.load_backup_listing(&id) {
                Ok(backup) => list.backups.push(backup),
                Err(RepoError::Store(e)) if e.is_not_found() => {}
                Err(e) => list.damaged.push(e),
            }
        }
        list.backups.sort_by_key(|b| (b.manifest.time, b.id));
        Ok(list)
    }

    /// A table's bytes, in order, verified as they are read.
    pub fn read_stream(&self, backup: &Backup, table: &TableEntry) -> RepoResult<StreamReader<'_>> {
        self.reader_for(backup, table, table.segments.clone())
    }

    /// One segment of a table (segments can be restored in parallel).
    pub fn read_segment(
        &self,
        backup: &Backup,
        table: &TableEntry,
        segment: usize,
    ) -> RepoResult<StreamReader<'_>> {
        let Some(one) = table.segments.get(segment) else {
            return Err(RepoError::Invalid(format!(
                "table {} of backup {} has {} segments, not {}",
                table.name,
                backup.id.short(),
                table.segments.len(),
                segment + 1
            )));
        };
        self.reader_for(backup, table, vec![one.clone()])
    }

    /// The verified plaintext of one blob (for inspection and tests).
    pub fn read_blob(&self, id: &BlobId) -> RepoResult<Vec<u8>> {
        self.check_content_readable()?;
        let index = self.index()?;
        reader::load_blob(self.store(), &index, &self.hasher, &self.crypto, id).map_err(|fault| {
            RepoError::Damaged {
                location: self.location(),
                name: format!("blob {id}"),
                reason: fault.reason,
            }
        })
    }

    fn reader_for(
        &self,
        backup: &Backup,
        table: &TableEntry,
        segments: Vec<Segment>,
    ) -> RepoResult<StreamReader<'_>> {
        self.check_content_readable()?;
        Ok(StreamReader::new(
            self.store(),
            self.index()?,
            &self.hasher,
            &self.crypto,
            backup.id,
            &table.name,
            segments,
        ))
    }

    /// Fails with [`RepoError::IdentityNeeded`] when content cannot be read (a public-key
    /// repository opened without its identity).
    pub fn check_content_readable(&self) -> RepoResult<()> {
        if self.crypto.can_read_content() {
            Ok(())
        } else {
            Err(RepoError::IdentityNeeded {
                location: self.location(),
            })
        }
    }

    /// Verifies backups; see [`check`].
    pub fn check(&self, options: &CheckOptions) -> RepoResult<CheckReport> {
        check::run(self, options, check::Scope::Backups)
    }

    /// Checks the whole repository: every backup, and every pack and index file whether a
    /// backup needs it or not; see [`check`].
    pub fn check_repository(&self, read_data: bool) -> RepoResult<CheckReport> {
        let options = CheckOptions {
            read_data,
            backups: None,
        };
        check::run(self, &options, check::Scope::Repository)
    }

    /// Removes the given backups and collects the data only they used, under the exclusive
    /// lock; with `dry_run`, only reports what it would do. See [`prune`].
    pub fn prune(&self, forget: &[BackupId], dry_run: bool) -> RepoResult<PruneReport> {
        prune::run(self, forget, dry_run)
    }

    /// Rebuilds the index from the packs' trailers; see [`repair`].
    pub fn repair_index(&self) -> RepoResult<RepairReport> {
        repair::index(self)
    }
}

/// `init` refuses invalid parameters and a location that already holds objects.
fn check_empty(store: &dyn Store, config: &Config) -> RepoResult<()> {
    config.validate().map_err(RepoError::Invalid)?;
    if !store.list("")?.is_empty() {
        return Err(RepoError::NotEmpty {
            location: store.location(),
        });
    }
    Ok(())
}
