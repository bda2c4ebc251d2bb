//! Plans: what it takes to turn one schema into another.
//!
//! [`plan`] compares two schemas of the same engine and returns an ordered list of
//! [`Step`]s, each one SQL statement with the reason it is there, its [`Hazard`]s and, where
//! one exists, its inverse. How objects are compared and ordered lives in [`changes`]; the SQL
//! of each change comes from the engine's dialect ([`crate::engine::Dialect`]).
//!
//! A plan is also a document (`strata diff --format json`, `strata apply --plan`): its fields
//! are stable and listed in `docs/PLAN.md`.

mod changes;
mod dependencies;
mod hazard;
mod rename;
pub mod summary;
mod unchanged;

use std::collections::HashSet;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::engine::Dialect;
use crate::error::{Error, Result};
use crate::schema::key::ObjectKey;
use crate::schema::{EngineKind, Schema};

pub(crate) use changes::create_step;
pub use hazard::{Hazard, HazardKind};
pub(crate) use rename::mentions_word;

/// Every hazard kind, in the order they are documented.
pub fn hazard_kinds() -> &'static [HazardKind] {
    &hazard::ALL
}

/// Version of the plan document format.
pub const PLAN_FORMAT: u32 = 1;

/// An ordered migration from one schema to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format: u32,
    pub engine: EngineKind,
    /// Hash of the schema the plan starts from (the database it will be applied to).
    pub source_hash: String,
    /// Hash of the schema the plan produces.
    pub target_hash: String,
    pub steps: Vec<Step>,
}

/// One statement of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StepDocument")]
pub struct Step {
    /// The object the step creates, drops or changes.
    pub object: ObjectKey,
    /// `create`, `drop`, `alter` or `rename`.
    pub action: Action,
    /// One line saying why the step is there.
    pub reason: String,
    pub sql: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<Hazard>,
    /// SQL that undoes the step, or `None` when it cannot be undone (see `hazards`).
    pub inverse: Option<String>,
    /// When the step runs relative to the plan's transaction; absent from the document when
    /// it runs inside it.
    #[serde(skip_serializing_if = "Phase::is_in_transaction")]
    pub run: Phase,
    /// A query counting the rows that would make the step fail (NULLs before SET NOT NULL,
    /// duplicates before a unique index, …), for dry runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precheck: Option<String>,
}

/// When a step runs: most run inside the plan's one transaction; the few statements an engine
/// cannot run in a transaction run on their own before it or after it commits.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Before the transaction (PostgreSQL enum values, which later steps may use: a value
    /// added in a transaction cannot be used before it commits).
    BeforeTransaction,
    #[default]
    InTransaction,
    /// After the transaction commits (concurrent index builds).
    AfterTransaction,
}

impl Phase {
    fn is_in_transaction(&self) -> bool {
        *self == Phase::InTransaction
    }
}

/// A plan's steps split by phase, each with its 1-based number in the plan (for messages).
pub struct Phased<'a> {
    pub before: Vec<(usize, &'a Step)>,
    pub inside: Vec<(usize, &'a Step)>,
    pub after: Vec<(usize, &'a Step)>,
}

impl<'a> Phased<'a> {
    pub fn new(steps: &'a [Step]) -> Phased<'a> {
        let mut phased = Phased {
            before: vec![],
            inside: vec![],
            after: vec![],
        };
        for (i, step) in steps.iter().enumerate() {
            let list = match step.run {
                Phase::BeforeTransaction => &mut phased.before,
                Phase::InTransaction => &mut phased.inside,
                Phase::AfterTransaction => &mut phased.after,
            };
            list.push((i + 1, step));
        }
        phased
    }
}

/// A step as a plan document spells it. Documents written before steps had a `run` phase
/// carry `transactional: false` instead; the phase is then what those versions inferred from
/// the statement (a concurrent index build ran after the transaction, anything else before).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDocument {
    object: ObjectKey,
    action: Action,
    reason: String,
    sql: String,
    #[serde(default)]
    hazards: Vec<Hazard>,
    inverse: Option<String>,
    #[serde(default)]
    run: Option<Phase>,
    #[serde(default)]
    transactional: Option<bool>,
    #[serde(default)]
    precheck: Option<String>,
}

impl From<StepDocument> for Step {
    fn from(d: StepDocument) -> Step {
        let run = match (d.run, d.transactional) {
            (Some(run), _) => run,
            (None, Some(false)) if d.sql.contains("CONCURRENTLY") => Phase::AfterTransaction,
            (None, Some(false)) => Phase::BeforeTransaction,
            (None, _) => Phase::InTransaction,
        };
        Step {
            object: d.object,
            action: d.action,
            reason: d.reason,
            sql: d.sql,
            hazards: d.hazards,
            inverse: d.inverse,
            run,
            precheck: d.precheck,
        }
    }
}

impl Step {
    /// A step without hazards, inverse or pre-check, run inside the transaction.
    pub(crate) fn new(object: ObjectKey, action: Action, reason: String, sql: String) -> Step {
        Step {
            object,
            action,
            reason,
            sql,
            hazards: vec![],
            inverse: None,
            run: Phase::InTransaction,
            precheck: None,
        }
    }

    pub(crate) fn with_inverse(mut self, inverse: impl Into<String>) -> Step {
        self.inverse = Some(inverse.into());
        self
    }

    pub(crate) fn with_hazard(mut self, kind: HazardKind, message: impl Into<String>) -> Step {
        self.hazards.push(Hazard::new(kind, message));
        self
    }

    pub(crate) fn with_precheck(mut self, sql: String) -> Step {
        self.precheck = Some(sql);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Drop,
    Alter,
    Rename,
}

/// Options that change how a plan is built.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Use lock-light forms: concurrent index builds (outside the transaction), constraints
    /// added NOT VALID and validated afterwards.
    pub online: bool,
}

impl Plan {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Every hazard kind present in the plan, sorted.
    pub fn hazard_kinds(&self) -> Vec<HazardKind> {
        let mut kinds: Vec<HazardKind> = self
            .steps
            .iter()
            .flat_map(|s| s.hazards.iter().map(|h| h.kind))
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    pub fn to_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("plans are always representable as JSON");
        text.push('\n');
        text
    }

    pub fn from_json(text: &str, origin: &str) -> Result<Plan> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| Error::SchemaFile {
            path: origin.to_string(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: format!("not a valid plan document: {e}"),
        })?;
        if plan.format != PLAN_FORMAT {
            return Err(Error::SchemaFile {
                path: origin.to_string(),
                line: None,
                column: None,
                message: format!(
                    "plan format {} is not supported (this strata reads {PLAN_FORMAT})",
                    plan.format
                ),
            });
        }
        Ok(plan)
    }
}

/// The hash that identifies a schema's content: BLAKE3 of its canonical JSON, hex. The server
/// version is left out, so the same schema on two minor versions has the same hash.
pub fn schema_hash(schema: &Schema) -> String {
    let mut canonical = schema.clone();
    canonical.server_version = String::new();
    canonical.canonicalize();
    // The canonical JSON text (`Schema::to_json`) streamed into the hasher, never built.
    // Buffered: the serializer writes small pieces, which BLAKE3 hashes slowly one by one.
    let mut hasher = blake3::Hasher::new();
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut hasher);
    serde_json::to_writer_pretty(&mut buffered, &canonical)
        .expect("schema model is always representable as JSON");
    buffered
        .write_all(b"\n")
        .and_then(|()| buffered.flush())
        .expect("hashing never fails to write");
    drop(buffered);
    hasher.finalize().to_hex().to_string()
}

/// Plans the migration from `source` (what the database has) to `target` (what it should
/// have).
pub fn plan(
    source: &Schema,
    target: &Schema,
    dialect: &dyn Dialect,
    options: &PlanOptions,
) -> Result<Plan> {
    plan_recreating(source, target, dialect, options, &HashSet::new())
}

/// Like [`plan`], but the tables named in `recreate` (`schema.name`, present on both sides)
/// are dropped and created again whatever they compare like, with everything that depends
/// on them dropped before and created again after (foreign keys from other tables, views,
/// triggers, indexes, comments, grants; sequences owned by their columns are released
/// first and owned again after, so they keep their positions). Their rows are lost: the
/// caller puts them back (rollback, to give PostgreSQL tables their column order).
pub fn plan_recreating(
    source: &Schema,
    target: &Schema,
    dialect: &dyn Dialect,
    options: &PlanOptions,
    recreate: &HashSet<String>,
) -> Result<Plan> {
    if source.engine != target.engine {
        return Err(Error::Unsupported(format!(
            "cannot plan from a {} schema to a {} schema — convert the file first",
            source.engine, target.engine
        )));
    }
    let steps = changes::steps(source, target, dialect, options, recreate)?;
    // The two hashes are independent: compute them on two threads.
    let (source_hash, target_hash) = std::thread::scope(|scope| {
        let source_side = scope.spawn(|| schema_hash(source));
        (source_side.join(), schema_hash(target))
    });
    let source_hash = source_hash.expect("hashing a schema does not panic");
    Ok(Plan {
        format: PLAN_FORMAT,
        engine: target.engine,
        source_hash,
        target_hash,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(sql: &str, extra: &str) -> String {
        format!(
            r#"{{"object": {{"kind": "index", "name": "public.i"}}, "action": "create",
                "reason": "r", "sql": "{sql}", "inverse": null{extra}}}"#
        )
    }

    fn read(step: &str) -> Step {
        serde_json::from_str(step).unwrap()
    }

    #[test]
    fn phases_are_written_only_when_a_step_runs_outside_the_transaction() {
        let mut s = read(&step("CREATE INDEX i ON t (a);", ""));
        assert_eq!(s.run, Phase::InTransaction);
        assert!(!serde_json::to_string(&s).unwrap().contains("run"));
        s.run = Phase::AfterTransaction;
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains(r#""run":"after_transaction""#), "{text}");
        assert_eq!(read(&text), s);
    }

    #[test]
    fn the_schema_hash_is_blake3_of_the_canonical_json_without_server_version() {
        let text = r#"{"format": 1, "engine": "postgres", "server_version": "15",
                       "schemas": [{"name": "b"}, {"name": "a"}]}"#;
        let schema = Schema::from_json(text, "test").unwrap();
        let mut expected = schema.clone();
        expected.server_version = String::new();
        let expected = blake3::hash(expected.to_json().as_bytes())
            .to_hex()
            .to_string();
        assert_eq!(schema_hash(&schema), expected);
    }

    #[test]
    fn documents_with_transactional_still_read() {
        let concurrent = read(&step(
            "CREATE INDEX CONCURRENTLY i ON t (a);",
            r#", "transactional": false"#,
        ));
        assert_eq!(concurrent.run, Phase::AfterTransaction);
        let enum_value = read(&step(
            "ALTER TYPE e ADD VALUE 'x';",
            r#", "transactional": false"#,
        ));
        assert_eq!(enum_value.run, Phase::BeforeTransaction);
        let inside = read(&step(
            "CREATE INDEX i ON t (a);",
            r#", "transactional": true"#,
        ));
        assert_eq!(inside.run, Phase::InTransaction);
        assert!(serde_json::from_str::<Step>(&step("x", r#", "surprise": 1"#)).is_err());
    }
}
