//! The `config` object: format version, repository id, and the parameters every writer must
//! share (chunker, compression, pack size, blob id scheme, encryption). Written once by `init`;
//! decoding checks the version before anything else so that a newer repository gets an
//! "upgrade strata" message rather than a confusing parse error.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{RepoError, RepoResult};
use super::id::{Id, IdHasher};
use super::time::Timestamp;

/// The repository format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Name of the config object.
pub const CONFIG_NAME: &str = "config";

/// Largest plaintext blob any writer produces or any reader accepts.
pub const MAX_BLOB_SIZE: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub format: u32,
    /// Random id of this repository.
    pub id: Id,
    pub created: Timestamp,
    pub blob_id: BlobIdScheme,
    pub chunker: ChunkerParams,
    pub compression: Compression,
    /// Target size of a pack file in bytes.
    pub pack_size: u32,
    pub encryption: Encryption,
}

/// How blob ids are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobIdScheme {
    #[serde(rename = "blake3")]
    Blake3,
}

/// Content-defined chunking parameters; see docs/FORMAT.md, "Chunks".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkerParams {
    pub algorithm: ChunkerAlgorithm,
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
    /// A chunk longer than this is cut even in the middle of a row.
    pub hard_max_size: u32,
    /// FastCDC normalization level (0–3).
    pub normalization: u8,
    /// XORed into the gear table; 0 is the published table.
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChunkerAlgorithm {
    /// FastCDC 2020 with cuts moved to the next `\n`.
    #[serde(rename = "fastcdc-2020-rows")]
    FastCdc2020Rows,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams {
            algorithm: ChunkerAlgorithm::FastCdc2020Rows,
            min_size: 64 << 10,
            avg_size: 256 << 10,
            max_size: 1 << 20,
            hard_max_size: 2 << 20,
            normalization: 1,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compression {
    pub algorithm: CompressionAlgorithm,
    pub level: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionAlgorithm {
    Zstd,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            algorithm: CompressionAlgorithm::Zstd,
            level: 3,
        }
    }
}

/// Encryption of stored objects. Format 1 knows only `"none"`; issue 6 adds the encrypted
/// variants (algorithm, KDF parameters, wrapped keys) under this key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    None,
}

/// Default target size of a pack file.
pub const DEFAULT_PACK_SIZE: u32 = 16 << 20;

impl Config {
    /// A new repository's config with the default parameters.
    pub fn new() -> Config {
        Config {
            format: FORMAT_VERSION,
            id: Id::random(),
            created: Timestamp::now(),
            blob_id: BlobIdScheme::Blake3,
            chunker: ChunkerParams::default(),
            compression: Compression::default(),
            pack_size: DEFAULT_PACK_SIZE,
            encryption: Encryption::None,
        }
    }

    /// The hasher for blob ids this config prescribes.
    pub fn id_hasher(&self) -> IdHasher {
        match self.blob_id {
            BlobIdScheme::Blake3 => IdHasher::Blake3,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Decodes and validates a stored config. `location` names the repository in errors.
    pub fn decode(bytes: &[u8], location: &str) -> RepoResult<Config> {
        let damaged = |reason: String| RepoError::DamagedConfig {
            location: location.to_string(),
            reason,
        };
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| damaged(format!("not JSON: {e}")))?;
        check_version(&value, location)?;
        check_known_schemes(&value, location)?;
        let config: Config = serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
        config.validate().map_err(damaged)?;
        Ok(config)
    }

    /// Checks the parameters are within the bounds the chunker and the pack format accept.
    pub fn validate(&self) -> Result<(), String> {
        self.chunker.validate()?;
        if !(1..=22).contains(&self.compression.level) {
            return Err(format!(
                "zstd level {} is outside 1..=22",
                self.compression.level
            ));
        }
        if !(1 << 16..=1 << 30).contains(&self.pack_size) {
            return Err(format!(
                "pack_size {} is outside 64 KiB..=1 GiB",
                self.pack_size
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl ChunkerParams {
    /// Bounds of the fastcdc v2020 implementation, plus ordering and the blob size limit.
    pub fn validate(&self) -> Result<(), String> {
        let (min, avg, max, hard) = (
            self.min_size as usize,
            self.avg_size as usize,
            self.max_size as usize,
            self.hard_max_size as usize,
        );
        use fastcdc::v2020 as cdc;
        let in_bounds = (cdc::MINIMUM_MIN..=cdc::MINIMUM_MAX).contains(&min)
            && (cdc::AVERAGE_MIN..=cdc::AVERAGE_MAX).contains(&avg)
            && (cdc::MAXIMUM_MIN..=cdc::MAXIMUM_MAX).contains(&max);
        let ordered = min < avg && avg < max && max <= hard && hard <= MAX_BLOB_SIZE;
        let even = min % 2 == 0 && avg % 2 == 0 && max % 2 == 0;
        if !(in_bounds && ordered && even && self.normalization <= 3) {
            return Err(format!(
                "chunker sizes {min}/{avg}/{max}/{hard} (normalization {}) are not valid",
                self.normalization
            ));
        }
        Ok(())
    }
}

/// Refuses a missing, non-numeric or newer `format` before the strict parse.
fn check_version(value: &Value, location: &str) -> RepoResult<()> {
    let format = value.get("format").and_then(Value::as_u64);
    match format {
        None => Err(RepoError::DamagedConfig {
            location: location.to_string(),
            reason: "no numeric \"format\" field".to_string(),
        }),
        Some(found) if found > u64::from(FORMAT_VERSION) => Err(RepoError::NewerFormat {
            location: location.to_string(),
            what: "the repository".to_string(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
        }),
        Some(_) => Ok(()),
    }
}

/// Names an encryption or id scheme this build does not know as such, rather than as damage.
fn check_known_schemes(value: &Value, location: &str) -> RepoResult<()> {
    let unsupported = |what: String| RepoError::Unsupported {
        location: location.to_string(),
        what,
    };
    match value.get("encryption") {
        Some(Value::String(s)) if s == "none" => {}
        None => {}
        Some(other) => return Err(unsupported(format!("encryption {}", scheme_name(other)))),
    }
    match value.get("blob_id") {
        Some(Value::String(s)) if s == "blake3" => {}
        None => {}
        Some(other) => return Err(unsupported(format!("blob ids {}", scheme_name(other)))),
    }
    Ok(())
}

fn scheme_name(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Object(map) => match map.get("algorithm") {
            Some(Value::String(s)) => format!("{s:?}"),
            _ => "of an unknown kind".to_string(),
        },
        _ => "of an unknown kind".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let config = Config::new();
        let decoded = Config::decode(&config.encode(), "repo").unwrap();
        assert_eq!(decoded, config);
    }

    #[test]
    fn newer_format_asks_to_upgrade() {
        let mut value: Value = serde_json::from_slice(&Config::new().encode()).unwrap();
        value["format"] = 2.into();
        let err = Config::decode(value.to_string().as_bytes(), "repo").unwrap_err();
        assert!(
            matches!(err, RepoError::NewerFormat { found: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade strata"));
    }

    #[test]
    fn unknown_encryption_asks_to_upgrade() {
        let mut value: Value = serde_json::from_slice(&Config::new().encode()).unwrap();
        value["encryption"] = serde_json::json!({"algorithm": "xchacha20poly1305"});
        let err = Config::decode(value.to_string().as_bytes(), "repo").unwrap_err();
        assert!(err.to_string().contains("xchacha20poly1305"), "{err}");
        assert!(err.to_string().contains("upgrade strata"));
    }

    #[test]
    fn bad_parameters_are_damage() {
        let mut config = Config::new();
        config.chunker.min_size = 3;
        let err = Config::decode(&config.encode(), "repo").unwrap_err();
        assert!(matches!(err, RepoError::DamagedConfig { .. }), "{err}");
        let err = Config::decode(b"garbage", "repo").unwrap_err();
        assert!(
            err.to_string().contains("damaged repository config"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Config::decode(&bytes, "repo");
        }

        #[test]
        fn decoding_mutated_configs_never_panics(pos in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = Config::new().encode();
            let i = pos % bytes.len();
            bytes[i] = byte;
            let _ = Config::decode(&bytes, "repo");
        }
    }
}
