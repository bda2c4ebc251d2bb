//! The repository layer's error type. Each variant names the repository and the object (backup,
//! table, blob, pack) concerned and, where there is one, what to do about it.

use crate::store::StoreError;

use super::id::{BackupId, BlobId, PackId};

/// Result alias for repository operations.
pub type RepoResult<T> = Result<T, RepoError>;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Store(#[from] StoreError),

    /// Sealing an object failed (the operating system gave no randomness).
    #[error(transparent)]
    Seal(#[from] super::crypto::SealError),

    /// `open` found no `config` object.
    #[error("{location}: not a strata repository (no config); create one with `strata init`")]
    NotARepository { location: String },

    /// `init` found objects already there.
    #[error("{location}: cannot create a repository here: the location is not empty")]
    NotEmpty { location: String },

    /// An object of a newer format than this build understands.
    #[error("{location}: {what} has format {found}, this strata reads up to {supported}; upgrade strata")]
    NewerFormat {
        location: String,
        what: String,
        found: u32,
        supported: u32,
    },

    /// A repository feature this build does not know (e.g. a newer encryption scheme).
    #[error("{location}: this repository uses {what}, which this strata does not support; upgrade strata")]
    Unsupported { location: String, what: String },

    /// The config exists but cannot be used.
    #[error("{location}: damaged repository config: {reason}")]
    DamagedConfig { location: String, reason: String },

    /// A stored object (pack trailer, index file, manifest, lock) failed to decode or verify.
    #[error("{location}: damaged {name}: {reason}")]
    Damaged {
        location: String,
        name: String,
        reason: String,
    },

    /// The repository is encrypted and no passphrase could be had.
    #[error("{location}: the repository is encrypted and needs its passphrase: {reason}")]
    PassphraseNeeded { location: String, reason: String },

    /// The repository's content is encrypted to age recipients and no identity was given.
    #[error("{location}: the backups' content is encrypted to the repository's age recipients; reading it needs an identity: pass --identity FILE or set STRATA_IDENTITY")]
    IdentityNeeded { location: String },

    /// The identity given does not belong to the repository's recipients.
    #[error("{location}: wrong identity: {reason}")]
    WrongIdentity { location: String, reason: String },

    /// The passphrase opens none of the key files.
    #[error(
        "{location}: wrong passphrase: it opens none of the repository's {keys} key(s){}",
        damaged_suffix(damaged)
    )]
    WrongPassphrase {
        location: String,
        keys: usize,
        /// Key files that could not be tried, with the reason.
        damaged: String,
    },

    /// A key operation on a repository created without encryption.
    #[error("{location}: the repository is not encrypted (created with --insecure-no-encryption), so it has no keys")]
    NotEncrypted { location: String },

    /// No backup id starts with the given prefix.
    #[error("{location}: no backup {prefix}; `strata list` shows the backups")]
    UnknownBackup { location: String, prefix: String },

    /// More than one backup id starts with the given prefix.
    #[error("{location}: backup id {prefix} is ambiguous: {}; give more digits", candidates.join(", "))]
    AmbiguousBackup {
        location: String,
        prefix: String,
        candidates: Vec<String>,
    },

    /// A blob could not be read back intact (boxed: it carries many names).
    #[error("{0}")]
    Blob(Box<BlobError>),

    /// A table stream's bytes do not hash to the manifest's content hash.
    #[error("{location}: backup {backup}, table {table}: {reason}")]
    Content {
        location: String,
        backup: BackupId,
        table: String,
        reason: String,
    },

    /// A lock held by someone else prevents the operation.
    #[error("{location}: repository is locked: {holder}; wait for it to finish (a lock is considered stale after 30 minutes without refresh)")]
    Locked { location: String, holder: String },

    /// The writer's background work failed; nothing was committed.
    #[error("{location}: writing the backup failed: {reason}")]
    Writer { location: String, reason: String },

    /// The caller passed something the repository cannot accept.
    #[error("{0}")]
    Invalid(String),
}

/// A blob that could not be read back intact, with every name that locates it.
#[derive(Debug, thiserror::Error)]
#[error("{location}: backup {}, table {table}: blob {blob}{}: {reason}", backup.short(), pack_suffix(pack))]
pub struct BlobError {
    pub location: String,
    pub backup: BackupId,
    pub table: String,
    pub blob: BlobId,
    pub pack: Option<PackId>,
    pub reason: String,
}

fn pack_suffix(pack: &Option<PackId>) -> String {
    match pack {
        Some(p) => format!(" in pack {p}"),
        None => String::new(),
    }
}

impl RepoError {
    /// The repository error carried inside an `io::Error` returned by a reader, if any.
    pub fn from_io(error: &std::io::Error) -> Option<&RepoError> {
        error.get_ref().and_then(|e| e.downcast_ref::<RepoError>())
    }
}

fn damaged_suffix(damaged: &str) -> String {
    if damaged.is_empty() {
        String::new()
    } else {
        format!(" (damaged key files: {damaged})")
    }
}
