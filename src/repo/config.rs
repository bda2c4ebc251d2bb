//! The `config` object: format version, repository id, and the parameters every writer must
//! share (chunker, compression, pack size, blob id scheme, encryption). Written once by `init`;
//! decoding checks the version before anything else so that a newer repository gets an
//! "upgrade strata" message rather than a confusing parse error.
//!
//! An unencrypted repository's config is format 1, all in clear. An encrypted repository's is
//! format 2 ([`StoredConfig::Sealed`]): only the format, the id and the encryption scheme are in
//! clear — what it takes to unlock — and the parameters are sealed with the master key. A
//! public-key repository's is format 3: the same, plus the age recipients among the sealed
//! parameters (see [`super::recipient`]).

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::crypto::{Crypto, MasterKey, ObjectKind};
use super::error::{RepoError, RepoResult};
use super::id::{Id, IdHasher};
use super::time::Timestamp;

/// The newest repository format this build reads; it writes format 1 for unencrypted
/// repositories, format 2 for encrypted ones and format 3 for public-key ones.
pub const FORMAT_VERSION: u32 = 3;
/// The format of unencrypted repositories (everything in clear).
pub const PLAIN_FORMAT: u32 = 1;
/// The format of encrypted repositories (sealed objects, key files).
pub const ENCRYPTED_FORMAT: u32 = 2;
/// The format of public-key repositories: content sealed with data keys wrapped to age
/// recipients, so that a writer holding only the passphrase cannot read it back.
pub const PUBLIC_KEY_FORMAT: u32 = 3;

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
    /// The age X25519 recipients (`age1…`) content is encrypted to (format 3 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
}

/// How blob ids are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobIdScheme {
    #[serde(rename = "blake3")]
    Blake3,
    /// BLAKE3 keyed with the master key's id key: names reveal nothing about content.
    #[serde(rename = "blake3-keyed")]
    Blake3Keyed,
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
    /// Level 1: on 256 KiB chunks of COPY text it stores as little as level 3 or less (hex of
    /// binary data: 11% less) at 1.3–5× the speed (docs/FORMAT.md, "Compression").
    fn default() -> Self {
        Compression {
            algorithm: CompressionAlgorithm::Zstd,
            level: 1,
        }
    }
}

/// Encryption of stored objects: `"none"` in format 1, the AEAD in format 2 (its keys are in
/// the key files, see [`super::key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encryption {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "xchacha20-poly1305")]
    XChaCha20Poly1305,
}

/// Default target size of a pack file.
pub const DEFAULT_PACK_SIZE: u32 = 16 << 20;

impl Config {
    /// A new repository's config with the default parameters.
    pub fn new() -> Config {
        Config {
            format: PLAIN_FORMAT,
            id: Id::random(),
            created: Timestamp::now(),
            blob_id: BlobIdScheme::Blake3,
            chunker: ChunkerParams::default(),
            compression: Compression::default(),
            pack_size: DEFAULT_PACK_SIZE,
            encryption: Encryption::None,
            recipients: Vec::new(),
        }
    }

    /// The same parameters for an encrypted repository: format 2, keyed blob ids, and a secret
    /// random chunker seed so that chunk sizes do not fingerprint content either.
    pub fn encrypted(mut self) -> RepoResult<Config> {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| {
            RepoError::Invalid(format!("no random seed from the operating system: {e}"))
        })?;
        self.format = ENCRYPTED_FORMAT;
        self.blob_id = BlobIdScheme::Blake3Keyed;
        self.encryption = Encryption::XChaCha20Poly1305;
        self.chunker.seed = u64::from_le_bytes(seed);
        Ok(self)
    }

    /// The same parameters for a public-key repository (format 3) whose content only the
    /// holders of the identities of `recipients` can read.
    pub fn public_key(self, recipients: Vec<String>) -> RepoResult<Config> {
        if recipients.is_empty() {
            return Err(RepoError::Invalid(
                "a public-key repository needs at least one recipient".to_string(),
            ));
        }
        let mut config = self.encrypted()?;
        config.format = PUBLIC_KEY_FORMAT;
        config.recipients = recipients;
        Ok(config)
    }

    pub fn is_encrypted(&self) -> bool {
        self.encryption != Encryption::None
    }

    /// Whether content is encrypted to age recipients (format 3).
    pub fn is_public_key(&self) -> bool {
        self.format == PUBLIC_KEY_FORMAT
    }

    /// The hasher for blob ids this config prescribes; keyed ids take the id key from `crypto`.
    pub fn id_hasher(&self, crypto: &Crypto) -> Result<IdHasher, String> {
        match (self.blob_id, crypto) {
            (BlobIdScheme::Blake3, _) => Ok(IdHasher::Blake3),
            (BlobIdScheme::Blake3Keyed, Crypto::Keyed(key)) => {
                Ok(IdHasher::Blake3Keyed(key.id_key()))
            }
            (BlobIdScheme::Blake3Keyed, Crypto::PublicKey(keys)) => {
                Ok(IdHasher::Blake3Keyed(keys.writer.id_key()))
            }
            (BlobIdScheme::Blake3Keyed, Crypto::None) => {
                Err("keyed blob ids need the repository's key".to_string())
            }
        }
    }

    /// The stored form of an unencrypted repository's config (format 1).
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// The stored form of an encrypted repository's config (format 2): parameters sealed.
    pub fn encode_sealed(&self, key: &MasterKey) -> RepoResult<Vec<u8>> {
        let parameters = serde_json::to_vec(&Parameters {
            created: self.created,
            blob_id: self.blob_id,
            chunker: self.chunker,
            compression: self.compression,
            pack_size: self.pack_size,
            recipients: self.recipients.clone(),
        })
        .unwrap_or_default();
        let sealed = key
            .seal(ObjectKind::Parameters, &self.id.0, &parameters)
            .map_err(|e| RepoError::Invalid(e.to_string()))?;
        let stored = SealedConfig {
            format: self.format,
            id: self.id,
            encryption: self.encryption,
            parameters: Base64::encode_string(&sealed),
        };
        let mut bytes = serde_json::to_vec_pretty(&stored).unwrap_or_default();
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Decodes and validates an unencrypted repository's config. `location` names the
    /// repository in errors.
    pub fn decode(bytes: &[u8], location: &str) -> RepoResult<Config> {
        match StoredConfig::decode(bytes, location)? {
            StoredConfig::Plain(config) => Ok(config),
            StoredConfig::Sealed { .. } => Err(RepoError::Invalid(format!(
                "{location}: the repository is encrypted; its config needs the key"
            ))),
        }
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

/// A config as stored: readable as is, or with sealed parameters that need the master key.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredConfig {
    Plain(Config),
    Sealed {
        /// 2 (passphrase) or 3 (public key).
        format: u32,
        id: Id,
        encryption: Encryption,
        /// `nonce | ciphertext | tag` of the parameters.
        parameters: Vec<u8>,
    },
}

/// What an encrypted repository's `config` holds in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedConfig {
    format: u32,
    id: Id,
    encryption: Encryption,
    /// The sealed [`Parameters`], base64.
    parameters: String,
}

/// The parameters an encrypted repository keeps sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Parameters {
    created: Timestamp,
    blob_id: BlobIdScheme,
    chunker: ChunkerParams,
    compression: Compression,
    pack_size: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    recipients: Vec<String>,
}

impl StoredConfig {
    /// Decodes a stored config; a format-1 config is validated whole, a format-2 one up to
    /// its sealed parameters.
    pub fn decode(bytes: &[u8], location: &str) -> RepoResult<StoredConfig> {
        let damaged = |reason: String| RepoError::DamagedConfig {
            location: location.to_string(),
            reason,
        };
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| damaged(format!("not JSON: {e}")))?;
        check_version(&value, location)?;
        check_known_schemes(&value, location)?;
        let format = value.get("format").and_then(Value::as_u64);
        if let Some(format @ (ENCRYPTED_FORMAT | PUBLIC_KEY_FORMAT)) =
            format.and_then(|f| u32::try_from(f).ok())
        {
            let stored: SealedConfig =
                serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
            if stored.encryption == Encryption::None {
                return Err(damaged(format!("format {format} without encryption")));
            }
            let parameters = Base64::decode_vec(&stored.parameters)
                .map_err(|_| damaged("sealed parameters are not base64".to_string()))?;
            return Ok(StoredConfig::Sealed {
                format,
                id: stored.id,
                encryption: stored.encryption,
                parameters,
            });
        }
        let config: Config = serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
        if config.is_encrypted()
            || config.blob_id != BlobIdScheme::Blake3
            || !config.recipients.is_empty()
        {
            return Err(damaged(
                "a format 1 config cannot name encryption, keyed ids or recipients".to_string(),
            ));
        }
        config.validate().map_err(damaged)?;
        Ok(StoredConfig::Plain(config))
    }

    /// The repository id (readable without the key).
    pub fn id(&self) -> Id {
        match self {
            StoredConfig::Plain(config) => config.id,
            StoredConfig::Sealed { id, .. } => *id,
        }
    }

    /// The whole config, opening sealed parameters with `key`.
    pub fn unseal(self, key: &MasterKey, location: &str) -> RepoResult<Config> {
        let (format, id, encryption, sealed) = match self {
            StoredConfig::Plain(config) => return Ok(config),
            StoredConfig::Sealed {
                format,
                id,
                encryption,
                parameters,
            } => (format, id, encryption, parameters),
        };
        let damaged = |reason: String| RepoError::DamagedConfig {
            location: location.to_string(),
            reason,
        };
        let plain = key
            .open(ObjectKind::Parameters, &id.0, &sealed)
            .map_err(|e| damaged(format!("sealed parameters: {e}")))?;
        let p: Parameters = serde_json::from_slice(&plain)
            .map_err(|e| damaged(format!("sealed parameters: {e}")))?;
        if p.blob_id != BlobIdScheme::Blake3Keyed {
            return Err(damaged(
                "an encrypted repository must use keyed blob ids".to_string(),
            ));
        }
        if (format == PUBLIC_KEY_FORMAT) == p.recipients.is_empty() {
            return Err(damaged(format!(
                "a format {format} config {} recipients",
                if p.recipients.is_empty() {
                    "needs"
                } else {
                    "cannot name"
                }
            )));
        }
        let config = Config {
            format,
            id,
            created: p.created,
            blob_id: p.blob_id,
            chunker: p.chunker,
            compression: p.compression,
            pack_size: p.pack_size,
            encryption,
            recipients: p.recipients,
        };
        config.validate().map_err(damaged)?;
        Ok(config)
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
        Some(Value::String(s)) if s == "none" || s == "xchacha20-poly1305" => {}
        None => {}
        Some(other) => return Err(unsupported(format!("encryption {}", scheme_name(other)))),
    }
    match value.get("blob_id") {
        Some(Value::String(s)) if s == "blake3" || s == "blake3-keyed" => {}
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
        value["format"] = 4.into();
        let err = Config::decode(value.to_string().as_bytes(), "repo").unwrap_err();
        assert!(
            matches!(err, RepoError::NewerFormat { found: 4, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade strata"));
    }

    #[test]
    fn a_public_key_config_keeps_its_recipients_sealed_and_needs_them() {
        let key = MasterKey::generate().unwrap();
        let recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        let config = Config::new().public_key(vec![recipient.into()]).unwrap();
        let stored = config.encode_sealed(&key).unwrap();
        assert!(!String::from_utf8_lossy(&stored).contains(recipient));
        let decoded = StoredConfig::decode(&stored, "repo").unwrap();
        assert_eq!(decoded.clone().unseal(&key, "repo").unwrap(), config);
        // A format 2 config naming recipients, or a format 3 one without, is damaged.
        let mut value: Value = serde_json::from_slice(&stored).unwrap();
        value["format"] = 2.into();
        let err = StoredConfig::decode(value.to_string().as_bytes(), "repo")
            .unwrap()
            .unseal(&key, "repo")
            .unwrap_err();
        assert!(err.to_string().contains("cannot name recipients"), "{err}");
        let without = Config::new().encrypted().unwrap();
        let mut value: Value =
            serde_json::from_slice(&without.encode_sealed(&key).unwrap()).unwrap();
        value["format"] = 3.into();
        let err = StoredConfig::decode(value.to_string().as_bytes(), "repo")
            .unwrap()
            .unseal(&key, "repo")
            .unwrap_err();
        assert!(err.to_string().contains("needs recipients"), "{err}");
    }

    #[test]
    fn unknown_encryption_asks_to_upgrade() {
        let mut value: Value = serde_json::from_slice(&Config::new().encode()).unwrap();
        value["encryption"] = serde_json::json!({"algorithm": "aes-512-quantum"});
        let err = Config::decode(value.to_string().as_bytes(), "repo").unwrap_err();
        assert!(err.to_string().contains("aes-512-quantum"), "{err}");
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

    #[test]
    fn an_encrypted_config_hides_its_parameters_and_binds_them_to_the_id() {
        let key = MasterKey::generate().unwrap();
        let config = Config::new().encrypted().unwrap();
        let bytes = config.encode_sealed(&key).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            !text.contains("chunker") && !text.contains("zstd"),
            "{text}"
        );
        let stored = StoredConfig::decode(&bytes, "repo").unwrap();
        assert_eq!(stored.id(), config.id);
        assert_eq!(stored.clone().unseal(&key, "repo").unwrap(), config);
        let other = MasterKey::generate().unwrap();
        assert!(stored.unseal(&other, "repo").is_err());
        // Moving the sealed parameters to another repository id fails authentication.
        let mut value: Value = serde_json::from_slice(&bytes).unwrap();
        value["id"] = serde_json::json!(Id::random());
        let moved = StoredConfig::decode(value.to_string().as_bytes(), "repo").unwrap();
        let err = moved.unseal(&key, "repo").unwrap_err();
        assert!(err.to_string().contains("authentication failed"), "{err}");
        assert!(Config::decode(&bytes, "repo").is_err());
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
