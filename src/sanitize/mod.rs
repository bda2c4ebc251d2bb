//! Sanitized copies: personal data masked on its way from a backup or a live database into
//! another database (staging, development), so that it never lands there at all.
//!
//! - [`rules`]: the rules file (TOML) — per column a transform, per table a row filter;
//! - [`resolve`]: rules against a schema — which columns they mask, and everything that would
//!   break (unknown names, transforms that do not fit, foreign keys masked differently);
//! - [`key`]: the secret key and the keyed primitives; [`transform`], [`fake`], [`noise`],
//!   [`json`]: masking one value; [`copytext`]: one COPY field in and out;
//! - `rewrite`: the streaming rewriter a loader reads each table through;
//! - [`subset`]: row filters and their referential closure;
//! - [`detect`] and [`check`]: finding columns that look personal and have no rule.
//!
//! [`Sanitizer`] ties them together as the restore's [`RowTransform`]: every table with a
//! masked column is read through the rewriter, so the loader only ever sees masked rows.
//! `docs/SANITIZE.md` is the user's documentation.

pub mod check;
pub mod column;
pub mod copytext;
pub mod detect;
pub mod fake;
pub mod json;
pub mod key;
pub mod noise;
pub mod resolve;
mod rewrite;
pub mod rules;
pub mod subset;
pub mod transform;
mod words;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::engine::{self, DataTable};
use crate::error::{Error, Result};
use crate::restore::RowTransform;
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

pub use key::Key;
pub use resolve::{Finding, FindingKind};
pub use rules::Rules;

/// Masks rows on their way into a target, as the rules say.
#[derive(Debug)]
pub struct Sanitizer {
    key: Key,
    origin: String,
    tables: HashMap<String, resolve::TablePlan>,
    /// Every table of the schema the rules were checked against that holds rows.
    known: HashSet<String>,
    filters: Vec<(String, String)>,
    before: Vec<String>,
    after: Vec<String>,
}

/// What a sanitized load did, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct SanitizeSummary {
    /// The rules file.
    pub rules: String,
    /// Columns masked (other than `keep`), over all tables that hold rows.
    pub masked_columns: usize,
    /// Tables with a row filter, with the rows kept.
    pub filtered: Vec<FilteredTable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilteredTable {
    pub table: String,
    pub kept: i64,
}

impl Sanitizer {
    /// Reads the rules and the key and checks the rules against the schema the rows come
    /// from. Any problem refuses the whole operation, before anything is written.
    pub fn prepare(
        rules_path: &Path,
        key_file: Option<&Path>,
        schema: &Schema,
    ) -> Result<Sanitizer> {
        let key = Key::load(key_file)?;
        let rules = Rules::load(rules_path)?;
        Sanitizer::new(&rules, schema, key)
    }

    /// A sanitizer for `schema` from parsed rules.
    pub fn new(rules: &Rules, schema: &Schema, key: Key) -> Result<Sanitizer> {
        let plan = resolve::resolve(rules, schema);
        if let Some(first) = plan.problems.first() {
            return Err(Error::Refused(format!(
                "the rules in {} do not fit the database ({} problem(s); first: {first}) — \
                 nothing was written; `strata sanitize check {} --against …` lists them all",
                rules.origin,
                plan.problems.len(),
                rules.origin
            )));
        }
        let (before, after) = match (plan.filters.is_empty(), schema.engine) {
            (true, _) | (false, EngineKind::Sqlite) => (Vec::new(), Vec::new()),
            (false, EngineKind::Postgres) => {
                let dialect = engine::dialect(EngineKind::Postgres)?;
                (
                    subset::check_statements(&plan.filters, dialect),
                    subset::closure_statements(schema, &plan.filters, dialect),
                )
            }
        };
        Ok(Sanitizer {
            key,
            origin: rules.origin.clone(),
            tables: plan.tables,
            known: plan.data_tables.into_iter().collect(),
            filters: plan.filters,
            before,
            after,
        })
    }

    /// Whether some table has a row filter (which needs the load to build keys afterwards).
    pub fn has_filters(&self) -> bool {
        !self.filters.is_empty()
    }

    /// The summary of a finished load into `target`: masked columns, and the rows each
    /// filtered table kept.
    pub fn summary(&self, target: &Target) -> Result<SanitizeSummary> {
        let mut filtered = Vec::new();
        if !self.filters.is_empty() {
            let mut database = engine::open(target)?;
            let dialect = database.dialect()?;
            for (table, _) in &self.filters {
                let quoted = match table.split_once('.') {
                    Some((s, n)) => dialect.quote_qualified(s, n),
                    None => dialect.quote_ident(table),
                };
                let kept = database.count(&format!("SELECT count(*) FROM ONLY {quoted}"))?;
                filtered.push(FilteredTable {
                    table: table.clone(),
                    kept,
                });
            }
        }
        Ok(SanitizeSummary {
            rules: self.origin.clone(),
            masked_columns: self.tables.values().map(|t| t.columns.len()).sum(),
            filtered,
        })
    }
}

impl RowTransform for Sanitizer {
    fn rows<'a>(&'a self, table: &DataTable, rows: &'a mut dyn Read) -> Result<Box<dyn Read + 'a>> {
        let Some(plan) = self.tables.get(&table.name) else {
            // Rows of a table the rules were not checked against could be anything: refuse
            // them rather than let them pass unmasked.
            if !self.known.contains(&table.name) {
                return Err(Error::Refused(format!(
                    "sanitize: rows of {} arrived, a table the rules were not checked against —                      nothing of it was loaded",
                    table.name
                )));
            }
            return Ok(Box::new(rows));
        };
        let names = if table.columns.is_empty() {
            &plan.stream_columns
        } else {
            &table.columns
        };
        // A masked column missing from the stream would pass unmasked under another name:
        // refuse rather than guess.
        if let Some(missing) = plan.columns.keys().find(|c| !names.contains(c)) {
            return Err(Error::Refused(format!(
                "sanitize: {}.{missing} has a rule but is not among the columns of the rows \
                 being loaded — nothing of this table was loaded",
                table.name
            )));
        }
        let columns = names
            .iter()
            .map(|n| (n.clone(), plan.columns.get(n)))
            .collect();
        Ok(Box::new(rewrite::Rewriter::new(
            rows,
            &self.key,
            &table.name,
            columns,
        )))
    }

    fn before_load(&self) -> Vec<String> {
        self.before.clone()
    }

    fn after_load(&self) -> Vec<String> {
        self.after.clone()
    }
}
