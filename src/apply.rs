//! The apply workflow: make a live database match a schema file.
//!
//! inspect the target → plan (or load a reviewed plan and check it is still current) → check
//! hazards against what the user allowed → (dry run: run the pre-checks and stop) → execute
//! atomically, verifying inside the transaction that nothing is left to do.

use std::collections::BTreeSet;

use crate::convert::{self, settle, Conversion, POSTGRES_NAMESPACE};
use crate::diff::{self, HazardKind, Plan, PlanOptions};
use crate::engine::{self, Engine, ExecuteOptions, InspectOptions};
use crate::error::{Error, Result};
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

/// Hazard kinds the user allowed.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    pub all: bool,
    pub kinds: BTreeSet<HazardKind>,
}

impl Allowed {
    fn permits(&self, kind: HazardKind) -> bool {
        self.all || self.kinds.contains(&kind) || !kind.needs_permission()
    }
}

/// An open target with its current schema and the plan that would bring it to the desired
/// one.
pub struct Prepared {
    pub engine: Box<dyn Engine>,
    pub current: Schema,
    pub plan: Plan,
    /// When the schema file is of another engine: the converted schema the plan leads to,
    /// and the conversion's report.
    pub conversion: Option<Conversion>,
}

/// Connects to `target`, inspects it and plans the migration to `desired`. With `reviewed`,
/// the reviewed plan is used instead, after checking it was made for this file and for the
/// database as it is now.
pub fn prepare(
    desired: &Schema,
    target: &Target,
    reviewed: Option<Plan>,
    options: &PlanOptions,
    inspect: &InspectOptions,
) -> Result<Prepared> {
    let mut engine = engine::open(target)?;
    let current = engine.inspect(inspect)?;
    let conversion = convert_if_needed(desired, &current, engine.as_mut(), target)?;
    let desired = conversion.as_ref().map_or(desired, |c| &c.schema);
    let plan = match reviewed {
        Some(plan) => {
            check_reviewed_plan(&plan, desired, &current, target)?;
            plan
        }
        None => diff::plan(&current, desired, engine.dialect()?, options)?,
    };
    Ok(Prepared {
        engine,
        current,
        plan,
        conversion,
    })
}

/// A schema file of another engine is converted on the fly, through the same code as
/// `strata convert`: for a PostgreSQL database the conversion is loaded into a rolled-back
/// scratch schema there first, so the plan compares PostgreSQL's own spelling of it.
fn convert_if_needed(
    desired: &Schema,
    current: &Schema,
    engine: &mut dyn Engine,
    target: &Target,
) -> Result<Option<Conversion>> {
    if desired.engine == current.engine {
        return Ok(None);
    }
    let conversion = match current.engine {
        EngineKind::Postgres => {
            let public = current
                .schemas
                .iter()
                .find(|s| s.name == POSTGRES_NAMESPACE);
            settle::on_postgres(desired, engine, &target.display(), public.cloned())?
        }
        EngineKind::Sqlite => convert::convert(desired, EngineKind::Sqlite)?,
    };
    Ok(Some(conversion))
}

fn check_reviewed_plan(
    plan: &Plan,
    desired: &Schema,
    current: &Schema,
    target: &Target,
) -> Result<()> {
    if plan.target_hash != diff::schema_hash(desired) {
        return Err(Error::Refused(
            "the plan was made for a different schema file (its target hash does not match this \
             file) — make a new plan with `strata diff … --format json`"
                .into(),
        ));
    }
    if plan.source_hash != diff::schema_hash(current) {
        return Err(Error::Refused(format!(
            "{} has changed since the plan was made (its schema hash is no longer the plan's \
             source hash) — review a new plan",
            target.display()
        )));
    }
    Ok(())
}

/// Refuses when a step has a hazard the user did not allow, naming the steps.
pub fn check_hazards(plan: &Plan, allowed: &Allowed) -> Result<()> {
    let mut refused = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        for hazard in &step.hazards {
            if !allowed.permits(hazard.kind) {
                refused.push(format!(
                    "step {} ({}): {}",
                    i + 1,
                    step.reason,
                    hazard.message
                ));
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    let kinds: BTreeSet<&str> = plan
        .steps
        .iter()
        .flat_map(|s| &s.hazards)
        .filter(|h| !allowed.permits(h.kind))
        .map(|h| h.kind.name())
        .collect();
    let flags: Vec<String> = kinds
        .iter()
        .map(|k| format!("--allow-hazard {k}"))
        .collect();
    Err(Error::Refused(format!(
        "refusing {} hazardous step(s): {} — rerun with {} (or --allow-all-hazards) if this is intended",
        refused.len(),
        refused.join("; "),
        flags.join(" ")
    )))
}

/// A pre-check's result: how many rows would make step `step` (1-based) fail, or why the
/// query could not run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrecheckResult {
    pub step: usize,
    /// `None` when the query could not run (see `error`).
    pub violations: Option<i64>,
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Runs every step's pre-check (read-only counting queries) against the database as it is.
/// A query that names what an earlier step creates or renames cannot run yet: its result
/// says so instead of stopping the dry run.
pub fn run_prechecks(engine: &mut dyn Engine, plan: &Plan) -> Result<Vec<PrecheckResult>> {
    let mut results = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if let Some(query) = &step.precheck {
            let (violations, error) = match engine.count(query) {
                Ok(n) => (Some(n), None),
                Err(Error::Query { cause, .. }) => (None, Some(cause)),
                Err(other) => return Err(other),
            };
            results.push(PrecheckResult {
                step: i + 1,
                violations,
                query: query.clone(),
                error,
            });
        }
    }
    Ok(results)
}

/// Executes the plan. Before committing, the database is inspected inside the transaction and
/// planned against `desired` once more: anything left to do means the plan was wrong, and the
/// transaction is rolled back.
pub fn execute(prepared: &mut Prepared, desired: &Schema, options: &ExecuteOptions) -> Result<()> {
    let dialect = prepared.engine.dialect()?;
    let desired = match &prepared.conversion {
        Some(conversion) => conversion.schema.clone(),
        None => desired.clone(),
    };
    // Steps that run after the commit (concurrent index builds) have not run yet when the
    // transaction is verified: what they create is still missing then.
    let runs_after_commit: Vec<&crate::schema::key::ObjectKey> = prepared
        .plan
        .steps
        .iter()
        .filter(|s| s.run == diff::Phase::AfterTransaction)
        .map(|s| &s.object)
        .collect();
    let mut verify = |after: &Schema| -> Result<()> {
        let residual = diff::plan(after, &desired, dialect, &PlanOptions::default())?;
        let left: Vec<&diff::Step> = residual
            .steps
            .iter()
            .filter(|s| !runs_after_commit.contains(&&s.object))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        let remaining: Vec<String> = left
            .iter()
            .take(5)
            .map(|s| format!("{} [{}]", s.reason, s.sql.lines().next().unwrap_or("")))
            .collect();
        let differing = stored_differently(
            left.iter().map(|s| &s.object),
            &dialect.creation_script(after),
            &dialect.creation_script(&desired),
        );
        Err(Error::Refused(format!(
            "after the plan ran, {} step(s) were still needed ({}){} — the transaction was \
             rolled back and the database is unchanged. The database keeps definitions in its \
             own form (names, spacing, keyword case, qualifiers): write them in the schema \
             file as `strata snapshot` prints them; if the file already does, this is a \
             Strata planner bug",
            left.len(),
            remaining.join("; "),
            differing
        )))
    };
    prepared
        .engine
        .execute(&prepared.plan.steps, options, &mut verify)
}

/// For the objects still to change after a plan ran, where the database's definition of each
/// differs from the schema file's: `: view v is stored as `…` where the file has `…``, around
/// the first differing character; empty when no object is on both sides.
fn stored_differently<'a>(
    objects: impl Iterator<Item = &'a ObjectKey>,
    stored: &[Statement],
    wanted: &[Statement],
) -> String {
    /// Characters shown on either side of the first difference.
    const CONTEXT: usize = 30;
    let mut seen = BTreeSet::new();
    let mut shown = Vec::new();
    for key in objects.filter(|k| seen.insert(*k)) {
        let find = |script: &[Statement]| {
            script
                .iter()
                .find(|s| &s.key == key)
                .map(|s| s.sql.trim().trim_end_matches(';').to_string())
        };
        let (Some(db), Some(file)) = (find(stored), find(wanted)) else {
            continue;
        };
        let (db, file): (Vec<char>, Vec<char>) = (db.chars().collect(), file.chars().collect());
        let Some(at) = (0..db.len().max(file.len())).find(|&i| db.get(i) != file.get(i)) else {
            continue;
        };
        let excerpt = |text: &[char]| {
            let (from, to) = (at.saturating_sub(CONTEXT), (at + CONTEXT).min(text.len()));
            let inner: String = text[from..to].iter().collect();
            let before = if from > 0 { "…" } else { "" };
            let after = if to < text.len() { "…" } else { "" };
            format!("`{before}{inner}{after}`")
        };
        shown.push(format!(
            "{} is stored as {} where the file has {}",
            key.describe(),
            excerpt(&db),
            excerpt(&file)
        ));
    }
    if shown.is_empty() {
        String::new()
    } else {
        format!(": {}", shown.join("; "))
    }
}
