//! Key files (docs/FORMAT.md, "Key files"): the master key of an encrypted repository, wrapped
//! by a key derived from a passphrase with Argon2id, one file per passphrase under `keys/`.
//!
//! Owns the passphrase type, the KDF parameters, the key file codec, unlocking (trying every key
//! file with a passphrase) and key management on an open [`Repository`] (add, list, remove,
//! change). Adding or removing a passphrase never touches data: every key file wraps the same
//! master key. Where the passphrase comes from (prompt, file, command) is the CLI's business.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use base64ct::{Base64, Encoding};

use crate::store::Store;

use super::crypto::{MasterKey, ObjectKind, SealingKey, AUTHENTICATION_FAILED};
use super::error::{RepoError, RepoResult};
use super::id::Id;
use super::layout;
use super::lock::LockKind;
use super::manifest::{resolve_prefix, ResolveError};
use super::time::Timestamp;
use super::Repository;

/// The key file format written by this build.
pub const KEY_FILE_VERSION: u32 = 1;

/// The id of a key file: BLAKE3 of its bytes.
pub type KeyId = Id;

/// A passphrase, zeroized when dropped.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// A passphrase; a final newline (as files and commands print it) is not part of it.
    pub fn new(mut text: String) -> Passphrase {
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Passphrase(Zeroizing::new(text))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether two passphrases are the same (a prompt's confirmation).
    pub fn same_as(&self, other: &Passphrase) -> bool {
        *self.0 == *other.0
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(…)")
    }
}

/// Argon2id parameters, recorded in each key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    pub algorithm: KdfAlgorithm,
    /// Argon2 version (19 = 0x13).
    pub version: u32,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Random salt, base64.
    pub salt: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KdfAlgorithm {
    Argon2id,
}

/// Bounds a key file's parameters must respect, so that a damaged or hostile key file cannot
/// make opening take hours or exhaust memory.
const MAX_MEMORY_KIB: u32 = 4 << 20;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 64;

impl KdfParams {
    /// The parameters for new keys: 64 MiB and 10 passes, about half a second of one current
    /// core (one pass over 64 MiB took 43 ms where this was chosen).
    pub fn recommended() -> RepoResult<KdfParams> {
        KdfParams::with_cost(64 << 10, 10)
    }

    /// Cheap parameters that make a passphrase easy to brute-force: for tests only.
    pub fn insecure_for_tests() -> RepoResult<KdfParams> {
        KdfParams::with_cost(8, 1)
    }

    fn with_cost(memory_kib: u32, iterations: u32) -> RepoResult<KdfParams> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| {
            RepoError::Invalid(format!("no random salt from the operating system: {e}"))
        })?;
        Ok(KdfParams {
            algorithm: KdfAlgorithm::Argon2id,
            version: 0x13,
            memory_kib,
            iterations,
            parallelism: 1,
            salt: Base64::encode_string(&salt),
        })
    }

    /// The 256-bit key `passphrase` derives to under these parameters.
    fn derive(&self, passphrase: &Passphrase) -> Result<Zeroizing<[u8; 32]>, String> {
        if self.version != 0x13 {
            return Err(format!("unknown Argon2 version {}", self.version));
        }
        if self.memory_kib > MAX_MEMORY_KIB
            || !(1..=MAX_ITERATIONS).contains(&self.iterations)
            || !(1..=MAX_PARALLELISM).contains(&self.parallelism)
        {
            return Err(format!(
                "KDF parameters out of bounds (memory {} KiB, {} iterations, parallelism {})",
                self.memory_kib, self.iterations, self.parallelism
            ));
        }
        let salt = Base64::decode_vec(&self.salt).map_err(|_| "salt is not base64".to_string())?;
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(|e| format!("KDF parameters: {e}"))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), &salt, key.as_mut())
            .map_err(|e| format!("KDF: {e}"))?;
        Ok(key)
    }
}

/// The plaintext part of a key file: everything but the wrapped key. It is authenticated as
/// the wrapping's associated data, so that no field can be changed unnoticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyHeader {
    pub format: u32,
    pub created: Timestamp,
    /// The machine and user that added the key (for `strata key list`).
    pub hostname: String,
    pub username: String,
    pub kdf: KdfParams,
    pub cipher: String,
}

/// A key file: its header and the sealed master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(flatten)]
    header: KeyHeader,
    /// `nonce | encrypted master key | tag`, base64.
    master_key: String,
}

const CIPHER: &str = "xchacha20-poly1305";

/// Why a key file did not give the master key.
enum UnwrapError {
    /// Not this passphrase (or the wrapped key or header was modified).
    Wrong,
    Damaged(String),
}

impl KeyFile {
    fn new(
        master: &MasterKey,
        passphrase: &Passphrase,
        kdf: KdfParams,
        repository: &Id,
    ) -> RepoResult<KeyFile> {
        if passphrase.is_empty() {
            return Err(RepoError::Invalid(
                "the passphrase is empty; choose a non-empty one".to_string(),
            ));
        }
        let header = KeyHeader {
            format: KEY_FILE_VERSION,
            created: Timestamp::now(),
            hostname: whoami::hostname().unwrap_or_else(|_| "unknown".to_string()),
            username: whoami::username().unwrap_or_else(|_| "unknown".to_string()),
            kdf,
            cipher: CIPHER.to_string(),
        };
        let derived = header.kdf.derive(passphrase).map_err(RepoError::Invalid)?;
        let wrapping = SealingKey::new(&derived);
        let sealed = wrapping
            .seal(
                ObjectKind::MasterKey,
                &wrap_context(repository, &header),
                master.bytes(),
            )
            .map_err(|e| RepoError::Invalid(e.to_string()))?;
        Ok(KeyFile {
            header,
            master_key: Base64::encode_string(&sealed),
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    fn decode(bytes: &[u8]) -> Result<KeyFile, String> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(found) if found > u64::from(KEY_FILE_VERSION) => {
                return Err(format!(
                    "key file format {found}, this strata reads up to {KEY_FILE_VERSION}; upgrade strata"
                ))
            }
            Some(_) => {}
            None => return Err("no numeric \"format\"".to_string()),
        }
        let file: KeyFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
        if file.header.cipher != CIPHER {
            return Err(format!("unknown cipher {:?}", file.header.cipher));
        }
        Ok(file)
    }

    fn unwrap_key(
        &self,
        passphrase: &Passphrase,
        repository: &Id,
    ) -> Result<MasterKey, UnwrapError> {
        let sealed = Base64::decode_vec(&self.master_key)
            .map_err(|_| UnwrapError::Damaged("wrapped key is not base64".into()))?;
        let derived = self
            .header
            .kdf
            .derive(passphrase)
            .map_err(UnwrapError::Damaged)?;
        let wrapping = SealingKey::new(&derived);
        let bytes = wrapping
            .open(
                ObjectKind::MasterKey,
                &wrap_context(repository, &self.header),
                &sealed,
            )
            .map_err(|reason| match reason.as_str() {
                AUTHENTICATION_FAILED => UnwrapError::Wrong,
                _ => UnwrapError::Damaged(reason),
            })?;
        MasterKey::from_bytes(&Zeroizing::new(bytes)).map_err(UnwrapError::Damaged)
    }
}

/// The wrapping's associated data: the repository id and the header, so a key file belongs to
/// one repository and its header cannot be edited.
fn wrap_context(repository: &Id, header: &KeyHeader) -> Vec<u8> {
    let mut context = repository.0.to_vec();
    context.extend(serde_json::to_vec(header).unwrap_or_default());
    context
}

/// Stores a new key file wrapping `master`; returns its id.
pub(crate) fn store_key(
    store: &dyn Store,
    master: &MasterKey,
    passphrase: &Passphrase,
    kdf: KdfParams,
    repository: &Id,
) -> RepoResult<KeyId> {
    let bytes = KeyFile::new(master, passphrase, kdf, repository)?.encode();
    let id = Id::of_object(&bytes);
    store.put(&layout::key_name(&id), &bytes)?;
    Ok(id)
}

/// Finds the key file `passphrase` opens and returns the master key and that file's id.
pub(crate) fn unlock(
    store: &dyn Store,
    repository: &Id,
    passphrase: &Passphrase,
) -> RepoResult<(MasterKey, KeyId)> {
    let location = store.location();
    let mut damaged = Vec::new();
    let mut tried = 0;
    for (id, loaded) in load_key_files(store)? {
        let file = match loaded {
            Ok(file) => file,
            Err(reason) => {
                damaged.push(format!("{}: {reason}", layout::key_name(&id)));
                continue;
            }
        };
        tried += 1;
        match file.unwrap_key(passphrase, repository) {
            Ok(master) => return Ok((master, id)),
            Err(UnwrapError::Wrong) => {}
            Err(UnwrapError::Damaged(reason)) => {
                damaged.push(format!("{}: {reason}", layout::key_name(&id)));
            }
        }
    }
    if tried == 0 && !damaged.is_empty() {
        return Err(RepoError::Damaged {
            location,
            name: "key files".to_string(),
            reason: damaged.join("; "),
        });
    }
    if tried == 0 {
        return Err(RepoError::Damaged {
            location,
            name: "keys/".to_string(),
            reason: "the repository is encrypted but has no key file".to_string(),
        });
    }
    Err(RepoError::WrongPassphrase {
        location,
        keys: tried,
        damaged: damaged.join("; "),
    })
}

/// Every key file, decoded, or why it cannot be (its content must hash to its name).
fn load_key_files(store: &dyn Store) -> RepoResult<Vec<(KeyId, Result<KeyFile, String>)>> {
    let mut files = Vec::new();
    for object in store.list(layout::KEYS)? {
        let Some(id) = layout::id_of(&object.name) else {
            continue;
        };
        let bytes = match store.get(&object.name) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        let decoded = if Id::of_object(&bytes) != id {
            Err("content does not match its name (damaged)".to_string())
        } else {
            KeyFile::decode(&bytes)
        };
        files.push((id, decoded));
    }
    Ok(files)
}

/// Key files that cannot be read (damaged content or an unknown format), with the reason:
/// `check` reports them, since a damaged key file is a passphrase that no longer works.
pub(crate) fn damaged_key_files(store: &dyn Store) -> RepoResult<Vec<(String, String)>> {
    Ok(load_key_files(store)?
        .into_iter()
        .filter_map(|(id, file)| file.err().map(|reason| (layout::key_name(&id), reason)))
        .collect())
}

/// One key file as `strata key list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub id: KeyId,
    /// True for the key that opened this repository handle.
    pub current: bool,
    #[serde(flatten)]
    pub header: Option<KeyHeader>,
    /// Why the key file cannot be read, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
}

impl Repository {
    /// Every key file of an encrypted repository, in id order.
    pub fn keys(&self) -> RepoResult<Vec<KeyInfo>> {
        self.unlocked_key()?;
        Ok(load_key_files(self.store())?
            .into_iter()
            .map(|(id, file)| {
                let (header, damaged) = match file {
                    Ok(file) => (Some(file.header), None),
                    Err(reason) => (None, Some(reason)),
                };
                KeyInfo {
                    id,
                    current: Some(id) == self.key,
                    header,
                    damaged,
                }
            })
            .collect())
    }

    /// Adds a passphrase: a new key file wrapping the same master key.
    pub fn add_key(&self, passphrase: &Passphrase, kdf: KdfParams) -> RepoResult<KeyId> {
        let master = self.master_key()?;
        store_key(self.store(), master, passphrase, kdf, &self.config().id)
    }

    /// Removes the key file `prefix` names. The last key, and the key that opened this handle,
    /// are refused (use [`Repository::change_passphrase`] for the latter).
    pub fn remove_key(&self, prefix: &str) -> RepoResult<KeyId> {
        let current = self.unlocked_key()?;
        let id = self.resolve_key(prefix)?;
        let _lock = self.lock(LockKind::Exclusive, "key remove")?;
        self.check_not_last(&id)?;
        if id == current {
            return Err(RepoError::Invalid(format!(
                "{}: key {} is the one this passphrase opens; use `strata key passwd` to change it, or open the repository with another passphrase to remove it",
                self.location(),
                id.short()
            )));
        }
        self.store().delete(&layout::key_name(&id))?;
        Ok(id)
    }

    /// Replaces the current passphrase: stores a key file for `passphrase`, then removes the
    /// one that opened this handle. Returns the new key's id.
    pub fn change_passphrase(
        &mut self,
        passphrase: &Passphrase,
        kdf: KdfParams,
    ) -> RepoResult<KeyId> {
        let old = self.unlocked_key()?;
        let _lock = self.lock(LockKind::Exclusive, "key passwd")?;
        let new = self.add_key(passphrase, kdf)?;
        self.store().delete(&layout::key_name(&old))?;
        self.key = Some(new);
        Ok(new)
    }

    /// Refuses to remove the last readable key file.
    fn check_not_last(&self, id: &KeyId) -> RepoResult<()> {
        let others = load_key_files(self.store())?
            .into_iter()
            .filter(|(other, file)| other != id && file.is_ok())
            .count();
        if others == 0 {
            return Err(RepoError::Invalid(format!(
                "{}: key {} is the repository's last key; add another with `strata key add` first",
                self.location(),
                id.short()
            )));
        }
        Ok(())
    }

    fn resolve_key(&self, prefix: &str) -> RepoResult<KeyId> {
        let ids: Vec<KeyId> = self
            .store()
            .list(layout::KEYS)?
            .iter()
            .filter_map(|o| layout::id_of(&o.name))
            .collect();
        resolve_prefix(&ids, prefix).map_err(|e| match e {
            ResolveError::Malformed | ResolveError::Unknown => RepoError::Invalid(format!(
                "{}: no key {prefix}; `strata key list` shows the keys",
                self.location()
            )),
            ResolveError::Ambiguous(ids) => RepoError::Invalid(format!(
                "{}: key id {prefix} is ambiguous: {}; give more digits",
                self.location(),
                ids.iter().map(Id::short).collect::<Vec<_>>().join(", ")
            )),
        })
    }

    /// The key file that opened this handle, or an error for an unencrypted repository.
    fn unlocked_key(&self) -> RepoResult<KeyId> {
        self.key.ok_or_else(|| RepoError::NotEncrypted {
            location: self.location(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> (MasterKey, KeyFile, Id) {
        let master = MasterKey::generate().unwrap();
        let repo = Id::random();
        let file = KeyFile::new(
            &master,
            &Passphrase::new("correct horse".into()),
            KdfParams::insecure_for_tests().unwrap(),
            &repo,
        )
        .unwrap();
        (master, file, repo)
    }

    #[test]
    fn the_right_passphrase_unwraps_the_master_key() {
        let (master, file, repo) = sample();
        let decoded = KeyFile::decode(&file.encode()).unwrap();
        let opened = decoded
            .unwrap_key(&Passphrase::new("correct horse\n".into()), &repo)
            .ok()
            .unwrap();
        assert_eq!(opened.bytes(), master.bytes());
        assert!(matches!(
            decoded.unwrap_key(&Passphrase::new("wrong".into()), &repo),
            Err(UnwrapError::Wrong)
        ));
        assert!(matches!(
            decoded.unwrap_key(&Passphrase::new("correct horse".into()), &Id::random()),
            Err(UnwrapError::Wrong)
        ));
    }

    #[test]
    fn an_edited_header_no_longer_opens() {
        let (_, mut file, repo) = sample();
        file.header.hostname = "elsewhere".into();
        assert!(matches!(
            file.unwrap_key(&Passphrase::new("correct horse".into()), &repo),
            Err(UnwrapError::Wrong)
        ));
    }

    #[test]
    fn hostile_kdf_parameters_are_refused_before_deriving() {
        let (_, mut file, repo) = sample();
        file.header.kdf.memory_kib = u32::MAX;
        assert!(matches!(
            file.unwrap_key(&Passphrase::new("correct horse".into()), &repo),
            Err(UnwrapError::Damaged(_))
        ));
    }

    #[test]
    fn the_recommended_kdf_is_memory_hard() {
        let kdf = KdfParams::recommended().unwrap();
        assert_eq!(kdf.memory_kib, 65_536);
        assert_eq!(kdf.algorithm, KdfAlgorithm::Argon2id);
        assert_ne!(kdf.salt, KdfParams::recommended().unwrap().salt);
    }

    proptest! {
        #[test]
        fn decoding_mutated_key_files_never_panics(pos in any::<usize>(), byte in any::<u8>()) {
            let (_, file, repo) = sample();
            let mut bytes = file.encode();
            let i = pos % bytes.len();
            bytes[i] = byte;
            if let Ok(file) = KeyFile::decode(&bytes) {
                let _ = file.unwrap_key(&Passphrase::new("correct horse".into()), &repo);
            }
        }
    }
}
