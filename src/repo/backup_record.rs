//! Backup records: how a public-key repository (format 3) stores a manifest under `backups/`.
//!
//! The writer must still list, check and prune its backups without being able to read them,
//! so the stored object is a *record* sealed with the writer's key: when, what kind, tags,
//! source, totals and the set of blob ids the backup references — and, as `content`, the full
//! manifest (schema, table names, columns, chunk order, sequences) sealed with a data key that
//! only the identity opens. Formats 1 and 2 store the manifest itself; [`seal_manifest`] and
//! [`open_manifest`] hide the difference from the repository.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::crypto::{Crypto, ObjectKind, SealError};
use super::id::{BlobId, Id};
use super::manifest::{
    BackupKind, BackupStats, Manifest, Segment, Source, TableEntry, MANIFEST_VERSION,
};
use super::time::Timestamp;

/// The format of backup records: manifest format 2 (format 1 is the manifest itself).
pub const RECORD_VERSION: u32 = 2;

/// Name of the one table a withheld manifest shows: it holds every blob the backup references.
pub const WITHHELD_TABLE: &str = "(encrypted to the repository's recipients)";

/// What a public-key repository's writer can read of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupRecord {
    format: u32,
    time: Timestamp,
    kind: BackupKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    source: Source,
    stats: BackupStats,
    /// Every blob the backup references, sorted, once each (what prune keeps).
    blobs: Vec<BlobId>,
    /// The full manifest, sealed with a data key, base64.
    content: String,
}

/// A stored manifest, opened as far as the keys at hand allow.
pub enum Opened {
    /// The whole manifest.
    Full(Manifest),
    /// A public-key repository's record without the identity: time, kind, tags, source and
    /// stats as stored; schema and sequences empty; one table ([`WITHHELD_TABLE`]) whose one
    /// segment lists every referenced blob.
    Withheld(Manifest),
}

/// The stored bytes of `manifest`.
pub fn seal_manifest(crypto: &Crypto, manifest: &Manifest) -> Result<Vec<u8>, SealError> {
    if !matches!(crypto, Crypto::PublicKey(_)) {
        return crypto.seal(ObjectKind::Manifest, manifest.encode());
    }
    let content = crypto.seal(ObjectKind::ManifestContent, manifest.encode())?;
    let mut blobs: Vec<BlobId> = manifest
        .tables
        .iter()
        .flat_map(|t| &t.segments)
        .flat_map(|s| s.chunks.iter().copied())
        .collect();
    blobs.sort();
    blobs.dedup();
    let record = BackupRecord {
        format: RECORD_VERSION,
        time: manifest.time,
        kind: manifest.kind,
        tags: manifest.tags.clone(),
        source: manifest.source.clone(),
        stats: manifest.stats.clone(),
        blobs,
        content: Base64::encode_string(&content),
    };
    let mut bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
    bytes.push(b'\n');
    crypto.seal(ObjectKind::Manifest, bytes)
}

/// Opens stored manifest bytes: in full, or (public-key repository without identity) the
/// writer's record.
pub fn open_manifest(crypto: &Crypto, stored: &[u8]) -> Result<Opened, String> {
    let plain = crypto.open(ObjectKind::Manifest, stored)?;
    if !matches!(crypto, Crypto::PublicKey(_)) {
        return Manifest::decode(&plain).map(Opened::Full);
    }
    let record = decode_record(&plain)?;
    if !crypto.can_read_content() {
        return Ok(Opened::Withheld(record.withheld()));
    }
    let content = Base64::decode_vec(&record.content)
        .map_err(|_| "the sealed content is not base64".to_string())?;
    let manifest = Manifest::decode(&crypto.open(ObjectKind::ManifestContent, &content)?)
        .map_err(|e| format!("content: {e}"))?;
    if (manifest.time, manifest.kind, &manifest.tags) != (record.time, record.kind, &record.tags) {
        return Err("the record and its content describe different backups".to_string());
    }
    Ok(Opened::Full(manifest))
}

fn decode_record(plain: &[u8]) -> Result<BackupRecord, String> {
    let value: Value = serde_json::from_slice(plain).map_err(|e| format!("not JSON: {e}"))?;
    match value.get("format").and_then(Value::as_u64) {
        Some(found) if found == u64::from(RECORD_VERSION) => {}
        Some(found) if found > u64::from(RECORD_VERSION) => {
            return Err(format!(
                "backup record format {found}, this strata reads up to {RECORD_VERSION}; upgrade strata"
            ))
        }
        _ => return Err("not a backup record (no format 2)".to_string()),
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

impl BackupRecord {
    fn withheld(self) -> Manifest {
        let bytes = self.stats.bytes;
        let tables = if self.blobs.is_empty() {
            Vec::new()
        } else {
            vec![TableEntry {
                name: WITHHELD_TABLE.to_string(),
                columns: Vec::new(),
                rows: 0,
                bytes,
                segments: vec![Segment {
                    bytes,
                    content_hash: Id([0; 32]),
                    chunks: self.blobs,
                }],
                sequences: Vec::new(),
            }]
        };
        Manifest {
            format: MANIFEST_VERSION,
            time: self.time,
            kind: self.kind,
            tags: self.tags,
            source: self.source,
            schema: None,
            tables,
            sequences: Vec::new(),
            stats: self.stats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decoding_random_records_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_record(&bytes);
        }
    }
}
