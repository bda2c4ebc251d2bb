//! Manifests: what one backup is (docs/FORMAT.md, "Manifests"). Source, time, kind, tags, the
//! schema snapshot, and per table the ordered chunk lists that rebuild its data stream.
//!
//! This module owns the manifest model, its JSON codec and the resolution of a typed id prefix;
//! storing and listing manifests is the [`Repository`](super::Repository)'s business.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::schema::{EngineKind, Schema};

use super::id::{is_id_prefix, BackupId, BlobId, Id};
use super::time::Timestamp;
use super::writer::StreamSummary;

/// The manifest format written by this build.
pub const MANIFEST_VERSION: u32 = 1;

/// One backup's description. Built by the caller, completed (`format`, `stats`) and stored by
/// [`Writer::commit`](super::Writer::commit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// When the backup started (UTC).
    pub time: Timestamp,
    pub kind: BackupKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub source: Source,
    /// The schema snapshot, serialized canonically.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "canonical_schema"
    )]
    pub schema: Option<Schema>,
    #[serde(default)]
    pub tables: Vec<TableEntry>,
    /// Sequences not owned by a backed-up table (those are under their table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<SequenceValue>,
    #[serde(default)]
    pub stats: BackupStats,
}

/// What a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    SchemaOnly,
    DataOnly,
    Complete,
}

impl std::fmt::Display for BackupKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupKind::SchemaOnly => "schema-only",
            BackupKind::DataOnly => "data-only",
            BackupKind::Complete => "complete",
        })
    }
}

/// Where a backup came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub engine: EngineKind,
    pub server_version: String,
    /// Display name of the database: a URL without its password, or a file path.
    pub database: String,
    /// The machine that ran the backup.
    pub host: String,
}

impl Source {
    /// A source on this machine; any password in a `database` URL is masked.
    pub fn new(engine: EngineKind, server_version: &str, database: &str) -> Source {
        Source {
            engine,
            server_version: server_version.to_string(),
            database: mask_password(database),
            host: whoami::hostname().unwrap_or_else(|_| "unknown".to_string()),
        }
    }
}

/// One table's data: `segments` concatenate, in order, to the table's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableEntry {
    /// Schema-qualified name, as in the schema snapshot (`public.film`).
    pub name: String,
    /// Columns of the data stream, in order; empty means all columns in table order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
    pub segments: Vec<Segment>,
    /// Sequences owned by this table's columns (serial, identity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<SequenceValue>,
}

/// A contiguous part of a table's stream (the whole stream, or one ctid range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub bytes: u64,
    /// BLAKE3 of the segment's bytes.
    pub content_hash: Id,
    pub chunks: Vec<BlobId>,
}

/// A sequence's state, as `setval(name, last_value, is_called)` restores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceValue {
    /// Schema-qualified name.
    pub name: String,
    pub last_value: i64,
    pub is_called: bool,
}

/// Totals the writer records at commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupStats {
    /// Bytes of table data read.
    pub bytes: u64,
    /// Chunk references in the manifest.
    pub chunks: u64,
    /// Chunks that were not in the repository before.
    pub new_chunks: u64,
    /// Plaintext bytes of the new chunks.
    pub new_bytes: u64,
    /// Bytes this backup added to packs (compressed).
    pub stored_bytes: u64,
    pub duration_ms: u64,
}

/// A stored backup: its id and manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    pub id: BackupId,
    pub manifest: Manifest,
    /// A public-key repository opened without its identity: `manifest` is the writer's
    /// record only (see [`super::backup_record::Opened::Withheld`]).
    pub content_withheld: bool,
}

impl Manifest {
    /// An empty manifest of a backup starting now.
    pub fn new(kind: BackupKind, source: Source) -> Manifest {
        Manifest {
            format: MANIFEST_VERSION,
            time: Timestamp::now(),
            kind,
            tags: Vec::new(),
            source,
            schema: None,
            tables: Vec::new(),
            sequences: Vec::new(),
            stats: BackupStats::default(),
        }
    }

    pub fn table(&self, name: &str) -> Option<&TableEntry> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Every sequence value, table-owned ones first.
    pub fn all_sequences(&self) -> impl Iterator<Item = &SequenceValue> {
        self.tables
            .iter()
            .flat_map(|t| &t.sequences)
            .chain(&self.sequences)
    }

    /// Number of chunk references.
    pub fn chunk_count(&self) -> u64 {
        self.tables.iter().map(TableEntry::chunk_count).sum()
    }

    /// Pretty JSON with a trailing newline.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Decodes a stored manifest; a newer manifest or schema format is named as such.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        check_format(&value, "manifest", MANIFEST_VERSION)?;
        if let Some(schema) = value.get("schema") {
            check_format(schema, "schema snapshot", crate::schema::FORMAT_VERSION)?;
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }
}

impl TableEntry {
    pub fn new(name: impl Into<String>) -> TableEntry {
        TableEntry {
            name: name.into(),
            columns: Vec::new(),
            rows: 0,
            bytes: 0,
            segments: Vec::new(),
            sequences: Vec::new(),
        }
    }

    /// Appends a written stream as the next segment; rows are counted as its newlines (the row
    /// count of COPY text; set `rows` afterwards for other formats).
    pub fn add_segment(&mut self, summary: &StreamSummary) {
        self.rows += summary.newlines;
        self.bytes += summary.bytes;
        self.segments.push(Segment {
            bytes: summary.bytes,
            content_hash: summary.content_hash,
            chunks: summary.chunks.clone(),
        });
    }

    /// A table entry of one stream.
    pub fn from_stream(name: impl Into<String>, summary: &StreamSummary) -> TableEntry {
        let mut entry = TableEntry::new(name);
        entry.add_segment(summary);
        entry
    }

    pub fn chunk_count(&self) -> u64 {
        self.segments.iter().map(|s| s.chunks.len() as u64).sum()
    }
}

fn canonical_schema<S: Serializer>(schema: &Option<Schema>, s: S) -> Result<S::Ok, S::Error> {
    match schema {
        Some(schema) => {
            let mut canonical = schema.clone();
            canonical.canonicalize();
            canonical.serialize(s)
        }
        None => s.serialize_none(),
    }
}

pub(crate) fn check_format(value: &Value, what: &str, supported: u32) -> Result<(), String> {
    match value.get("format").and_then(Value::as_u64) {
        None => Err(format!("{what} has no numeric \"format\"")),
        Some(found) if found > u64::from(supported) => Err(format!(
            "{what} has format {found}, this strata reads up to {supported}; upgrade strata"
        )),
        Some(_) => Ok(()),
    }
}

/// Replaces the password of a URL with `***`; anything else is returned unchanged.
fn mask_password(database: &str) -> String {
    match url::Url::parse(database) {
        Ok(mut url) if url.password().is_some_and(|p| p != "***") => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => database.to_string(),
    }
}

/// Why a typed backup id did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Not hex, or longer than an id.
    Malformed,
    Unknown,
    Ambiguous(Vec<BackupId>),
}

/// The one id among `ids` that starts with `prefix` (git-style).
pub fn resolve_prefix(ids: &[BackupId], prefix: &str) -> Result<BackupId, ResolveError> {
    let prefix = prefix.to_ascii_lowercase();
    if !is_id_prefix(&prefix) {
        return Err(ResolveError::Malformed);
    }
    let matches: Vec<BackupId> = ids
        .iter()
        .filter(|id| id.to_hex().starts_with(&prefix))
        .copied()
        .collect();
    match matches.as_slice() {
        [] => Err(ResolveError::Unknown),
        [one] => Ok(*one),
        _ => Err(ResolveError::Ambiguous(matches)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample() -> Manifest {
        let mut schema = Schema::new(EngineKind::Postgres, "15");
        schema.schemas.push(crate::schema::Namespace {
            name: "public".into(),
            comment: None,
            access: Default::default(),
        });
        let mut manifest = Manifest::new(
            BackupKind::Complete,
            Source::new(EngineKind::Postgres, "15", "postgres://app:secret@db/shop"),
        );
        manifest.schema = Some(schema);
        manifest.tags = vec!["nightly".into()];
        let mut table = TableEntry::new("public.film");
        table.segments.push(Segment {
            bytes: 4,
            content_hash: Id::of_object(b"1\ta\n"),
            chunks: vec![Id::of_object(b"1\ta\n")],
        });
        table.rows = 1;
        table.bytes = 4;
        table.sequences.push(SequenceValue {
            name: "public.film_film_id_seq".into(),
            last_value: 1,
            is_called: true,
        });
        manifest.tables.push(table);
        manifest
    }

    #[test]
    fn round_trip_masks_the_password() {
        let manifest = sample();
        assert_eq!(manifest.source.database, "postgres://app:***@db/shop");
        let decoded = Manifest::decode(&manifest.encode()).unwrap();
        assert_eq!(decoded, manifest);
        assert_eq!(decoded.all_sequences().count(), 1);
    }

    #[test]
    fn newer_formats_ask_to_upgrade() {
        let mut value: Value = serde_json::from_slice(&sample().encode()).unwrap();
        value["schema"]["format"] = 9.into();
        let err = Manifest::decode(value.to_string().as_bytes()).unwrap_err();
        assert!(err.contains("schema snapshot has format 9"), "{err}");
        value["format"] = 2.into();
        let err = Manifest::decode(value.to_string().as_bytes()).unwrap_err();
        assert!(err.contains("manifest has format 2"), "{err}");
    }

    #[test]
    fn prefixes_resolve_like_git() {
        let a: Id = format!("ab{}", "0".repeat(62)).parse().unwrap();
        let b: Id = format!("ac{}", "0".repeat(62)).parse().unwrap();
        let ids = [a, b];
        assert_eq!(resolve_prefix(&ids, "AB"), Ok(a));
        assert_eq!(
            resolve_prefix(&ids, "a"),
            Err(ResolveError::Ambiguous(vec![a, b]))
        );
        assert_eq!(resolve_prefix(&ids, "ff"), Err(ResolveError::Unknown));
        assert_eq!(resolve_prefix(&ids, "zz"), Err(ResolveError::Malformed));
    }

    proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Manifest::decode(&bytes);
        }

        #[test]
        fn decoding_mutated_manifests_never_panics(pos in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = sample().encode();
            let i = pos % bytes.len();
            bytes[i] = byte;
            let _ = Manifest::decode(&bytes);
        }
    }
}
