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

use serde::{Deserialize, Serialize};

use crate::engine::Dialect;
use crate::error::{Error, Result};
use crate::schema::key::ObjectKey;
use crate::schema::{EngineKind, Schema};

pub(crate) use changes::create_step;
pub use hazard::{Hazard, HazardKind};

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
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The object the step creates, drops or changes.
    pub object: ObjectKey,
    /// `create`, `drop`, `alter`, `rename` or `recreate`.
    pub action: Action,
    /// One line saying why the step is there.
    pub reason: String,
    pub sql: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<Hazard>,
    /// SQL that undoes the step, or `None` when it cannot be undone (see `hazards`).
    pub inverse: Option<String>,
    /// False for statements the engine cannot run inside a transaction; they run before the
    /// transaction (enum values) or after it (concurrent index builds).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub transactional: bool,
    /// A query counting the rows that would make the step fail (NULLs before SET NOT NULL,
    /// duplicates before a unique index, …), for dry runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck: Option<String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
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
    blake3::hash(canonical.to_json().as_bytes())
        .to_hex()
        .to_string()
}

/// Plans the migration from `source` (what the database has) to `target` (what it should
/// have).
pub fn plan(
    source: &Schema,
    target: &Schema,
    dialect: &dyn Dialect,
    options: &PlanOptions,
) -> Result<Plan> {
    if source.engine != target.engine {
        return Err(Error::Unsupported(format!(
            "cannot plan from a {} schema to a {} schema — convert the file first",
            source.engine, target.engine
        )));
    }
    let steps = changes::steps(source, target, dialect, options)?;
    Ok(Plan {
        format: PLAN_FORMAT,
        engine: target.engine,
        source_hash: schema_hash(source),
        target_hash: schema_hash(target),
        steps,
    })
}
