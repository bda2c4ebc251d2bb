//! The safety net around `strata apply`: a backup right before the plan runs, and a record of
//! what ran, so that `strata rollback` can undo it.
//!
//! Before: the tables a data-losing or rewriting step touches are found in the plan, and a
//! backup of the schema and of those tables' rows is taken, tagged `pre-apply` and
//! `plan:<plan id>`. After: the database's state (schema hash, a fingerprint of each such
//! table's rows) is measured in one consistent read and stored with the plan, its inverse and
//! the pre-apply schema as an [`ApplyRecord`]. Rollback measures the same state again to tell
//! whether the database changed since the apply ([`database_state`]).
//!
//! This module decides what is backed up and recorded; it does not run plans (`crate::apply`)
//! nor undo them (`crate::rollback`).

use std::collections::BTreeSet;

use crate::backup::{self, BackupOptions};
use crate::diff::{self, HazardKind, Plan};
use crate::engine::{self, InspectOptions, TablePart};
use crate::error::{Error, Result};
use crate::repo::{ApplyRecord, Backup, BackupKind, RecordId, Repository, TableState, Timestamp};
use crate::schema::key::ObjectKey;
use crate::schema::{qualified, Schema};
use crate::target::Target;

/// The tag every pre-apply backup carries.
pub const PRE_APPLY_TAG: &str = "pre-apply";

/// A plan's id: the first 16 hex digits of the BLAKE3 of its JSON document. The same plan
/// (same steps, from the same schema to the same schema) always has the same id.
pub fn plan_id(plan: &Plan) -> String {
    blake3::hash(plan.to_json().as_bytes()).to_hex()[..16].to_string()
}

/// The tag naming the plan a pre-apply backup was taken for.
pub fn plan_tag(plan_id: &str) -> String {
    format!("plan:{plan_id}")
}

/// Who a database is, across runs: a PostgreSQL URL without its password, or a SQLite file's
/// absolute path (the same file named by two relative paths is one target).
pub fn target_identity(target: &Target) -> String {
    match target {
        Target::Postgres(_) => target.display(),
        Target::Sqlite(path) => {
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            format!("sqlite:{}", path.display())
        }
    }
}

/// The tables (qualified names, sorted) whose rows a step of `plan` destroys or rewrites:
/// tables and columns dropped or retyped, tables rebuilt, and the tables with a column of a
/// type whose values the plan removes.
pub fn affected_tables(plan: &Plan, before: &Schema) -> Vec<String> {
    let existing: BTreeSet<String> = before
        .tables
        .iter()
        .map(|t| qualified(&t.schema, &t.name))
        .collect();
    let mut affected = BTreeSet::new();
    let hazardous = plan.steps.iter().filter(|s| {
        s.hazards
            .iter()
            .any(|h| matches!(h.kind, HazardKind::DataLoss | HazardKind::TableRewrite))
    });
    for step in hazardous {
        match (&step.object, step.object.table()) {
            (ObjectKey::Type { name }, _) => affected.extend(tables_using_type(before, name)),
            (_, Some(table)) if existing.contains(table) => {
                affected.insert(table.to_string());
            }
            _ => {}
        }
    }
    affected.into_iter().collect()
}

/// Tables with a column of type `name` (qualified or not, or an array of it).
fn tables_using_type(schema: &Schema, name: &str) -> Vec<String> {
    let bare = name.rsplit_once('.').map_or(name, |(_, n)| n);
    schema
        .tables
        .iter()
        .filter(|t| {
            t.columns.iter().any(|c| {
                let base = c.data_type.trim_end_matches("[]").trim_matches('"');
                base == name || base == bare
            })
        })
        .map(|t| qualified(&t.schema, &t.name))
        .collect()
}

/// The pre-apply backup taken for a plan, and what the record will need from before.
pub struct PreApply {
    pub backup: Backup,
    pub plan_id: String,
    pub before: Schema,
    pub tables: Vec<String>,
}

/// Backs up the schema of `target` and the rows of the tables `plan` destroys or rewrites,
/// tagged with the plan; `before` is the schema the plan was made from.
pub fn take_backup(
    repo: &Repository,
    target: &Target,
    plan: &Plan,
    before: &Schema,
) -> Result<PreApply> {
    let tables = affected_tables(plan, before);
    let id = plan_id(plan);
    let options = BackupOptions {
        // An empty pattern list would mean every table: a plan that touches no rows needs the
        // schema alone.
        kind: if tables.is_empty() {
            BackupKind::SchemaOnly
        } else {
            BackupKind::Complete
        },
        tags: vec![PRE_APPLY_TAG.to_string(), plan_tag(&id)],
        jobs: 2,
        tables: tables.clone(),
        inspect: InspectOptions::default(),
    };
    let backup = backup::backup(target, repo, &options, &|_| {})?;
    Ok(PreApply {
        backup,
        plan_id: id,
        before: before.clone(),
        tables,
    })
}

/// Records an apply that ran: measures the database's state now and stores the record.
pub fn record(
    repo: &Repository,
    target: &Target,
    plan: &Plan,
    pre: &PreApply,
) -> Result<(RecordId, ApplyRecord)> {
    let state = database_state(target, &pre.tables)?;
    let record = ApplyRecord {
        format: crate::repo::apply_record::APPLY_RECORD_VERSION,
        time: Timestamp::now(),
        target: target_identity(target),
        plan_id: pre.plan_id.clone(),
        plan: plan.clone(),
        inverse: plan.steps.iter().rev().map(|s| s.inverse.clone()).collect(),
        before: pre.before.clone(),
        after_hash: diff::schema_hash(&state.schema),
        backup: pre.backup.id,
        tables: state.tables,
    };
    let id = repo.save_apply_record(&record)?;
    Ok((id, record))
}

/// A database's schema and the state of some of its tables, read in one snapshot.
pub struct DatabaseState {
    pub schema: Schema,
    /// One per requested table, sorted by name; a table that does not exist is `dropped`.
    pub tables: Vec<TableState>,
}

/// Reads `target`'s schema and fingerprints the rows of `tables` (qualified names) in one
/// consistent export, the same way at apply and at rollback so the two compare.
pub fn database_state(target: &Target, tables: &[String]) -> Result<DatabaseState> {
    let mut database = engine::open(target)?;
    let export = database.export(&InspectOptions::default())?;
    let mut worker = export.worker()?;
    let mut states = Vec::new();
    for name in tables {
        let Some(table) = export.tables().iter().find(|t| &t.name == name) else {
            states.push(TableState {
                name: name.clone(),
                dropped: true,
                rows: 0,
                fingerprint: String::new(),
            });
            continue;
        };
        let mut fingerprint = RowFingerprint::default();
        worker.copy_out(table, &TablePart::WHOLE, &mut fingerprint)?;
        states.push(TableState {
            name: name.clone(),
            dropped: false,
            rows: fingerprint.rows,
            fingerprint: fingerprint.finish()?,
        });
    }
    states.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(DatabaseState {
        schema: export.schema().clone(),
        tables: states,
    })
}

/// An order-independent fingerprint of COPY text: the wrapping sum of each row's BLAKE3
/// (first 128 bits), so the same rows in another physical order (after a VACUUM FULL, a
/// rewrite) give the same value, and any changed, added or removed row changes it.
#[derive(Default)]
struct RowFingerprint {
    sum: u128,
    rows: u64,
    /// The start of a row whose end has not arrived yet.
    partial: Vec<u8>,
}

impl RowFingerprint {
    fn add_row(&mut self, row: &[u8]) {
        let hash = blake3::hash(row);
        let mut first = [0u8; 16];
        first.copy_from_slice(&hash.as_bytes()[..16]);
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(first));
        self.rows += 1;
    }

    fn finish(self) -> Result<String> {
        if !self.partial.is_empty() {
            return Err(Error::Unsupported(
                "a table's rows did not end with a newline while fingerprinting them".into(),
            ));
        }
        Ok(format!("{:032x}", self.sum))
    }
}

impl std::io::Write for RowFingerprint {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // COPY text escapes newlines inside values: a raw newline always ends a row.
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.add_row(&rest[..end]);
            } else {
                let mut row = std::mem::take(&mut self.partial);
                row.extend_from_slice(&rest[..end]);
                self.add_row(&row);
            }
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The latest record of an apply to `target` whose plan id (or record id) starts with
/// `id_prefix` when one is given.
pub fn find_record(
    repo: &Repository,
    target: &Target,
    id_prefix: Option<&str>,
) -> Result<(RecordId, ApplyRecord)> {
    let identity = target_identity(target);
    let list = repo.apply_records()?;
    for damaged in &list.damaged {
        eprintln!("strata: warning: {damaged}");
    }
    let matches = |id: &RecordId, record: &ApplyRecord| match id_prefix {
        None => true,
        Some(prefix) => {
            let prefix = prefix.to_ascii_lowercase();
            record.plan_id.starts_with(&prefix) || id.to_hex().starts_with(&prefix)
        }
    };
    list.records
        .into_iter()
        .rev()
        .find(|(id, r)| r.target == identity && matches(id, r))
        .ok_or_else(|| {
            let which = match id_prefix {
                Some(prefix) => format!("no apply of plan {prefix}"),
                None => "no apply".to_string(),
            };
            Error::Refused(format!(
                "{which} to {} is recorded in {} — rollback needs an apply that took a \
                 pre-apply backup (a repository configured, without --no-backup)",
                target.display(),
                repo.location()
            ))
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn fingerprint(chunks: &[&[u8]]) -> (u64, String) {
        let mut f = RowFingerprint::default();
        for chunk in chunks {
            f.write_all(chunk).unwrap();
        }
        (f.rows, f.finish().unwrap())
    }

    #[test]
    fn fingerprints_ignore_row_order_and_chunking_but_see_every_change() {
        let a = fingerprint(&[b"1\tx\n2\ty\n"]);
        assert_eq!(a, fingerprint(&[b"2\ty\n1\t", b"x\n"]));
        assert_eq!(a.0, 2);
        assert_ne!(a, fingerprint(&[b"1\tx\n2\tz\n"]));
        assert_ne!(a, fingerprint(&[b"1\tx\n2\ty\n2\ty\n"]));
        let mut unfinished = RowFingerprint::default();
        unfinished.write_all(b"1\tx").unwrap();
        assert!(unfinished.finish().is_err());
    }
}
