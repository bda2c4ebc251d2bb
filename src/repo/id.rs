//! Ids of repository objects: 32-byte BLAKE3 hashes, shown as 64 hex digits.
//!
//! [`IdHasher`] computes blob ids. It is a value the repository holds (from `config`) rather than
//! a free function so that encrypted repositories use a keyed hash without the writer, the
//! reader or the checker knowing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte content hash naming an object or a blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub [u8; 32]);

/// The id of a blob: the id hasher over the plaintext chunk.
pub type BlobId = Id;
/// The id of a pack file: BLAKE3 of its bytes.
pub type PackId = Id;
/// The id of a backup: BLAKE3 of its manifest's bytes.
pub type BackupId = Id;

impl Id {
    /// Plain BLAKE3 of `bytes`: the id of a stored object.
    pub fn of_object(bytes: &[u8]) -> Id {
        Id(*blake3::hash(bytes).as_bytes())
    }

    /// 32 random bytes (repository ids, lock nonces).
    pub fn random() -> Id {
        let mut bytes = [0u8; 32];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness: fall back to a hash of time and process, still unique enough
            // for ids that only need to differ, never to be secret.
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            return Id::of_object(seed.as_bytes());
        }
        Id(bytes)
    }

    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
        s
    }

    /// The first `n` hex digits, for display.
    pub fn short(&self) -> String {
        self.to_hex()[..8].to_string()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

/// Why a string is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a 64-digit hex id")]
pub struct ParseIdError(pub String);

impl FromStr for Id {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Id, ParseIdError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(ParseIdError(s.to_string()));
        }
        let mut id = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                return Err(ParseIdError(s.to_string()));
            };
            id[i] = hi << 4 | lo;
        }
        Ok(Id(id))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// True when `s` could be the start of an id (lowercase hex, at most 64 digits).
pub fn is_id_prefix(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| hex_value(c).is_some())
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Computes blob ids from plaintext chunks.
#[derive(Clone)]
pub enum IdHasher {
    /// Unkeyed BLAKE3 (`"blob_id": "blake3"`).
    Blake3,
    /// Keyed BLAKE3 for encrypted repositories; the key never leaves memory and is zeroized
    /// on drop.
    Blake3Keyed(zeroize::Zeroizing<[u8; 32]>),
}

impl IdHasher {
    pub fn blob_id(&self, plaintext: &[u8]) -> BlobId {
        match self {
            IdHasher::Blake3 => Id(*blake3::hash(plaintext).as_bytes()),
            IdHasher::Blake3Keyed(key) => Id(*blake3::keyed_hash(key, plaintext).as_bytes()),
        }
    }
}

impl fmt::Debug for IdHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdHasher::Blake3 => f.write_str("IdHasher::Blake3"),
            IdHasher::Blake3Keyed(_) => f.write_str("IdHasher::Blake3Keyed(…)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = Id::of_object(b"strata");
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<Id>().unwrap(), id);
        assert!("xyz".parse::<Id>().is_err());
        assert!(text.to_uppercase().parse::<Id>().is_err());
        assert!(is_id_prefix("3fa9"));
        assert!(!is_id_prefix("3fag"));
    }

    #[test]
    fn keyed_ids_differ_from_plain_ones() {
        let plain = IdHasher::Blake3.blob_id(b"row\n");
        let keyed = IdHasher::Blake3Keyed(zeroize::Zeroizing::new([7; 32])).blob_id(b"row\n");
        assert_ne!(plain, keyed);
        assert_eq!(plain, Id::of_object(b"row\n"));
    }
}
