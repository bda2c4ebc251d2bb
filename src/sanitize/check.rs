//! `strata sanitize check`: do the rules still fit the database, and do they cover every
//! column that looks personal?
//!
//! Findings: every problem resolving the rules finds (unknown tables and columns, transforms
//! that do not fit, foreign keys masked differently), every column without a rule whose name
//! — or, against a live database, whose sampled values — look personal, and with `strict`
//! every column without a rule at all. This is what keeps a new column from leaking: run it
//! in CI against the schema file or a staging database.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use super::column::ColumnType;
use super::copytext;
use super::detect;
use super::resolve::{self, Finding, FindingKind, Resolved};
use super::rules::Rules;
use crate::engine::{Export, TablePart};
use crate::error::Result;
use crate::schema::{qualified, Schema, Table};

/// Rows sampled per table: the first ones a scan returns (the read stops there).
const SAMPLE_ROWS: usize = 200;

/// The outcome of a check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub rules: String,
    /// Tables and columns looked at (partitions count with their parent).
    pub tables: usize,
    pub columns: usize,
    /// Columns with a rule (`keep` included).
    pub ruled: usize,
    /// Whether values were sampled (against a live database).
    pub sampled: bool,
    pub findings: Vec<Finding>,
}

/// Checks `rules` against `schema`; with `export`, also samples the rows of columns that have
/// no rule.
pub fn check(
    rules: &Rules,
    schema: &Schema,
    export: Option<&dyn Export>,
    strict: bool,
) -> Result<CheckReport> {
    let mut findings = resolve::resolve(rules, schema).problems;
    let resolved = Resolved::new(rules, schema);
    let roots: Vec<&Table> = schema
        .tables
        .iter()
        .filter(|t| t.partition_of.is_none())
        .collect();
    let mut unruled: Vec<(&Table, &str, ColumnType)> = Vec::new();
    let mut columns = 0;
    for table in &roots {
        for column in table.columns.iter().filter(|c| c.generated.is_none()) {
            columns += 1;
            if resolved.rule(table, &column.name).is_none() {
                unruled.push((
                    table,
                    &column.name,
                    ColumnType::of(schema, &column.data_type),
                ));
            }
        }
    }
    let samples = match export {
        Some(export) => sample(export, schema, &unruled)?,
        None => HashMap::new(),
    };
    for (table, column, column_type) in &unruled {
        let name = qualified(&table.schema, &table.name);
        let values = samples.get(&(name.clone(), column.to_string()));
        let by_values = values.and_then(|v| match column_type {
            ColumnType::Json => detect::by_documents(&name, v),
            _ => detect::by_values(v),
        });
        let (kind, reason) = match (detect::by_name(&name, column), by_values) {
            (Some(by_name), Some(by_values)) => (
                FindingKind::Personal,
                format!("no rule; {by_name}, and {by_values}"),
            ),
            (Some(reason), None) | (None, Some(reason)) => {
                (FindingKind::Personal, format!("no rule; {reason}"))
            }
            (None, None) if strict => (
                FindingKind::Unruled,
                "no rule (--strict: every column needs one; `keep` is a rule)".to_string(),
            ),
            (None, None) => continue,
        };
        findings.push(Finding {
            table: name,
            column: Some(column.to_string()),
            kind,
            reason,
            at: None,
        });
    }
    findings.sort_by(|a, b| (&a.table, &a.column).cmp(&(&b.table, &b.column)));
    Ok(CheckReport {
        rules: rules.origin.clone(),
        tables: roots.len(),
        columns,
        ruled: columns - unruled.len(),
        sampled: export.is_some(),
        findings,
    })
}

/// Sampled text of the unruled columns that can hold text, by (root table, column).
fn sample(
    export: &dyn Export,
    schema: &Schema,
    unruled: &[(&Table, &str, ColumnType)],
) -> Result<HashMap<(String, String), Vec<String>>> {
    let mut wanted: HashMap<String, Vec<&str>> = HashMap::new();
    for (table, column, column_type) in unruled {
        if column_type.holds_text() {
            wanted
                .entry(qualified(&table.schema, &table.name))
                .or_default()
                .push(column);
        }
    }
    let mut samples: HashMap<(String, String), Vec<String>> = HashMap::new();
    if wanted.is_empty() {
        return Ok(samples);
    }
    let mut worker = export.worker()?;
    for data in export.tables() {
        let root = root_of(schema, &data.name);
        let Some(columns) = wanted.get(&root) else {
            continue;
        };
        let positions: Vec<(usize, &str)> = columns
            .iter()
            .filter_map(|c| data.columns.iter().position(|d| d == c).map(|p| (p, *c)))
            .collect();
        if positions.iter().all(|(_, c)| {
            samples
                .get(&(root.clone(), c.to_string()))
                .is_some_and(|v| v.len() >= SAMPLE_ROWS)
        }) {
            continue;
        }
        let mut writer = SampleWriter {
            pending: Vec::new(),
            lines: Vec::new(),
        };
        if let Err(e) = worker.copy_out(data, &TablePart::WHOLE, &mut writer) {
            if !writer.full() {
                return Err(e);
            }
            // The read was stopped half-way: its session is closed and a fresh one joins the
            // snapshot for the next table.
            worker = export.worker()?;
        }
        for line in &writer.lines {
            let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            for (position, column) in &positions {
                let Some(raw) = fields.get(*position).filter(|r| !copytext::is_null(r)) else {
                    continue;
                };
                let values = samples
                    .entry((root.clone(), column.to_string()))
                    .or_default();
                if values.len() < SAMPLE_ROWS {
                    values.push(String::from_utf8_lossy(&copytext::decode(raw).bytes).into_owned());
                }
            }
        }
    }
    Ok(samples)
}

/// The partitioned table a partition belongs to (itself when it is none).
fn root_of(schema: &Schema, name: &str) -> String {
    let mut current = name.to_string();
    for _ in 0..32 {
        let parent = schema
            .tables
            .iter()
            .find(|t| qualified(&t.schema, &t.name) == current)
            .and_then(|t| t.partition_of.as_ref())
            .map(|p| p.parent.clone());
        match parent {
            Some(p) => current = p,
            None => break,
        }
    }
    current
}

/// Keeps the first [`SAMPLE_ROWS`] lines written to it, then refuses more (which stops the
/// read).
struct SampleWriter {
    pending: Vec<u8>,
    lines: Vec<Vec<u8>>,
}

impl SampleWriter {
    fn full(&self) -> bool {
        self.lines.len() >= SAMPLE_ROWS
    }
}

impl Write for SampleWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.full() {
            return Err(io::Error::other("sample complete"));
        }
        self.pending.extend_from_slice(data);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let rest = self.pending.split_off(end + 1);
            let mut line = std::mem::replace(&mut self.pending, rest);
            line.pop();
            self.lines.push(line);
            if self.full() {
                self.pending.clear();
                break;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
