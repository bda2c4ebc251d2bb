//! Where a repository's bytes live: a flat namespace of named, immutable objects.
//!
//! The [`Store`] trait is shaped like object storage: whole-object `put`, `get`, ranged reads,
//! prefix listing and delete — no appends, no renames, no directories. Names are `/`-separated
//! keys such as `packs/ab/abcdef…`. Two stores implement it: [`LocalStore`] (a directory) and
//! [`CloudStore`] (S3 and S3-compatible servers, Google Cloud Storage, Azure Blob Storage). This
//! module knows nothing about what the objects mean; that is [`crate::repo`]'s business.

mod cloud;
mod cloud_error;
mod local;
mod provider;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use cloud::CloudStore;
pub use local::LocalStore;
pub use provider::{CloudOptions, CloudUrl, Provider};

/// An error from a store, naming the store location and the object.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{location}: object {name} not found")]
    NotFound { location: String, name: String },

    /// A ranged read asked for bytes past the end of the object.
    #[error(
        "{location}: object {name} is {size} bytes, cannot read {len} bytes at offset {offset}"
    )]
    OutOfRange {
        location: String,
        name: String,
        size: u64,
        offset: u64,
        len: u64,
    },

    /// An object name that is not a valid key (empty, absolute, `..`, or a temporary name).
    #[error("invalid object name {name:?}")]
    InvalidName { name: String },

    /// The storage itself failed.
    #[error("{location}: {action} {name}: {source}")]
    Io {
        location: String,
        action: &'static str,
        name: String,
        #[source]
        source: std::io::Error,
    },

    /// A request to object storage failed (after its retries); `reason` says why and what to do.
    #[error("{location}: {action} {name}: {reason}")]
    Remote {
        location: String,
        action: &'static str,
        name: String,
        reason: String,
    },

    /// A repository location that names no supported store.
    #[error("{location}: {reason}")]
    BadLocation { location: String, reason: String },
}

impl StoreError {
    /// True when the error says the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }
}

/// One object as listed: its name and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectInfo {
    pub name: String,
    pub size: u64,
}

/// A flat store of named, immutable objects.
///
/// Implementations must make `put` atomic (a reader sees the old object, or none, or the whole
/// new one, never a part) and durable when it returns.
pub trait Store: Send + Sync + fmt::Debug {
    /// Where the store is, for messages (a path or URL).
    fn location(&self) -> String;

    /// Stores `bytes` under `name`, replacing any previous object of that name. Storing the same
    /// bytes again under the same name writes nothing.
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError>;

    /// The whole object.
    fn get(&self, name: &str) -> Result<Vec<u8>, StoreError>;

    /// `len` bytes from `offset`; an error if the object is shorter.
    fn get_range(&self, name: &str, offset: u64, len: u64) -> Result<Vec<u8>, StoreError>;

    /// The object's size in bytes.
    fn size(&self, name: &str) -> Result<u64, StoreError>;

    /// Every object whose name starts with `prefix`, in name order.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError>;

    /// Removes the object; removing an object that does not exist is not an error.
    fn delete(&self, name: &str) -> Result<(), StoreError>;

    /// Whether an object of that name exists.
    fn exists(&self, name: &str) -> Result<bool, StoreError>;

    /// How many `put`s of large objects are worth running at once (the backup writer stores
    /// that many packs in parallel). A local disk gains nothing from more than one; object
    /// storage hides each request's latency behind the others.
    fn upload_concurrency(&self) -> usize {
        1
    }
}

/// Opens the store a `--repo` argument names: a local directory (a plain path or a `file://`
/// URL), `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`, configured from
/// the environment ([`CloudOptions::from_env`]).
pub fn from_location(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    if location.trim().is_empty() {
        return Err(StoreError::BadLocation {
            location: location.to_string(),
            reason: "empty repository location".to_string(),
        });
    }
    if let Some(path) = location.strip_prefix("file://") {
        return Ok(Arc::new(LocalStore::new(PathBuf::from(path))));
    }
    if CloudUrl::is_cloud(location) {
        let options = CloudOptions::from_env().map_err(|reason| StoreError::BadLocation {
            location: location.to_string(),
            reason,
        })?;
        return Ok(Arc::new(CloudStore::open(location, &options)?));
    }
    if let Some((scheme, _)) = location.split_once("://") {
        return Err(StoreError::BadLocation {
            location: location.to_string(),
            reason: format!(
                "{scheme}:// repositories are not supported; use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or a local directory"
            ),
        });
    }
    Ok(Arc::new(LocalStore::new(PathBuf::from(location))))
}

/// Checks that `name` is a relative `/`-separated key without empty, `.` or `..` parts and
/// without a part that could be mistaken for a temporary file.
pub(crate) fn validate_name(name: &str) -> Result<(), StoreError> {
    let bad = name.is_empty()
        || name.split('/').any(|part| {
            part.is_empty() || part == "." || part == ".." || part.starts_with(local::TEMP_PREFIX)
        })
        || name.contains('\\')
        || name.contains('\0');
    if bad {
        return Err(StoreError::InvalidName {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_keys() {
        assert!(validate_name("packs/ab/abcd").is_ok());
        assert!(validate_name("config").is_ok());
        for bad in ["", "/abs", "a//b", "../x", "a/./b", "a/", ".strata-tmp-1"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn unknown_url_schemes_are_refused() {
        let err = from_location("ftp://host/x").unwrap_err();
        assert!(err
            .to_string()
            .contains("ftp:// repositories are not supported"));
        assert!(from_location("s3://").is_err());
    }
}
