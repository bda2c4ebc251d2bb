//! Apply records: what one `strata apply` changed, kept in the repository so that
//! `strata rollback` can undo it (docs/FORMAT.md, "Apply records").
//!
//! A record names the pre-apply backup, holds the plan that ran (with each step's inverse),
//! the schema before the apply, the schema hash after it, and a fingerprint of the rows of
//! every table a hazardous step touched, so a rollback can tell whether the database changed
//! since. Records are sealed and named like manifests; repositories without any keep working.
//! This module owns the record's model and codec; deciding what goes into one is
//! `crate::pre_apply`'s business.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::crypto::ObjectKind;
use super::id::{BackupId, Id};
use super::layout;
use super::manifest::check_format;
use super::time::Timestamp;
use super::{RepoError, RepoResult, Repository};
use crate::diff::Plan;
use crate::schema::Schema;

/// Version of the apply record format.
pub const APPLY_RECORD_VERSION: u32 = 1;

/// The id of an apply record: BLAKE3 of its stored bytes.
pub type RecordId = Id;

/// What one apply changed and how to undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRecord {
    pub format: u32,
    /// When the apply committed (UTC).
    pub time: Timestamp,
    /// The database the plan ran on: its identity (URL without password, or
    /// `sqlite:` and the file's absolute path).
    pub target: String,
    /// The plan's id (see `crate::pre_apply::plan_id`); the pre-apply backup carries the tag
    /// `plan:<plan_id>`.
    pub plan_id: String,
    pub plan: Plan,
    /// Statements that undo the plan, last step first; `null` where a step has no inverse.
    pub inverse: Vec<Option<String>>,
    /// The schema before the apply: what a rollback returns to.
    pub before: Schema,
    /// Schema hash of the database right after the apply.
    pub after_hash: String,
    /// The backup taken right before the apply.
    pub backup: BackupId,
    /// The tables a data-losing or rewriting step touched, sorted by name.
    pub tables: Vec<TableState>,
}

/// A table whose rows the plan destroyed or rewrote, as the apply left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableState {
    /// Qualified name, as in the backup.
    pub name: String,
    /// The plan dropped the table: it had no rows after the apply.
    pub dropped: bool,
    /// Rows after the apply (0 when dropped).
    pub rows: u64,
    /// Order-independent fingerprint of the rows after the apply (hex; empty when dropped).
    pub fingerprint: String,
}

impl ApplyRecord {
    /// The record as stored (before sealing): pretty JSON with a final newline.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Parses a record; refuses newer formats with an "upgrade strata" message.
    pub fn decode(bytes: &[u8]) -> Result<ApplyRecord, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        check_format(&value, "apply record", APPLY_RECORD_VERSION)?;
        if let Some(schema) = value.get("before") {
            check_format(schema, "schema snapshot", crate::schema::FORMAT_VERSION)?;
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }
}

/// The records of a repository, oldest first, and those that could not be read.
#[derive(Debug, Default)]
pub struct RecordList {
    pub records: Vec<(RecordId, ApplyRecord)>,
    pub damaged: Vec<RepoError>,
}

impl Repository {
    /// Stores an apply record (sealed in an encrypted repository); returns its id.
    pub fn save_apply_record(&self, record: &ApplyRecord) -> RepoResult<RecordId> {
        let bytes = self
            .crypto()
            .seal(ObjectKind::ApplyRecord, record.encode())?;
        let id = Id::of_object(&bytes);
        self.store().put(&layout::apply_name(&id), &bytes)?;
        Ok(id)
    }

    /// Every apply record, oldest first. A repository made before records existed has none.
    /// Records hold schemas: a public-key repository needs its identity to read them.
    pub fn apply_records(&self) -> RepoResult<RecordList> {
        self.check_content_readable()?;
        let mut list = RecordList::default();
        for object in self.store().list(layout::APPLIES)? {
            let Some(id) = layout::id_of(&object.name) else {
                continue;
            };
            match self.load_apply_record(&id) {
                Ok(record) => list.records.push((id, record)),
                Err(RepoError::Store(e)) if e.is_not_found() => {}
                Err(e) => list.damaged.push(e),
            }
        }
        list.records.sort_by_key(|(id, r)| (r.time, *id));
        Ok(list)
    }

    /// Loads one record, checking it against its name.
    pub fn load_apply_record(&self, id: &RecordId) -> RepoResult<ApplyRecord> {
        self.load_named(
            &layout::apply_name(id),
            id,
            ObjectKind::ApplyRecord,
            ApplyRecord::decode,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::EngineKind;

    fn record() -> ApplyRecord {
        let before = Schema::new(EngineKind::Sqlite, "3");
        ApplyRecord {
            format: APPLY_RECORD_VERSION,
            time: Timestamp::now(),
            target: "sqlite:/tmp/x.db".into(),
            plan_id: "0123456789abcdef".into(),
            plan: crate::diff::Plan {
                format: crate::diff::PLAN_FORMAT,
                engine: EngineKind::Sqlite,
                source_hash: "a".into(),
                target_hash: "b".into(),
                steps: vec![],
            },
            inverse: vec![None, Some("ALTER TABLE t ADD COLUMN c;".into())],
            before,
            after_hash: "b".into(),
            backup: Id::of_object(b"backup"),
            tables: vec![TableState {
                name: "t".into(),
                dropped: false,
                rows: 3,
                fingerprint: "ff".into(),
            }],
        }
    }

    #[test]
    fn records_round_trip_and_newer_formats_are_refused() {
        let r = record();
        assert_eq!(ApplyRecord::decode(&r.encode()).unwrap(), r);
        let mut value: Value = serde_json::from_slice(&r.encode()).unwrap();
        value["format"] = 99.into();
        let newer = serde_json::to_vec(&value).unwrap();
        assert!(ApplyRecord::decode(&newer).unwrap_err().contains("upgrade"));
        assert!(ApplyRecord::decode(b"{").is_err());
        assert!(ApplyRecord::decode(b"{\"format\": 1}").is_err());
    }
}
