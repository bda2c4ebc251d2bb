//! What a SQLite backup's rows need to load into the converted PostgreSQL tables: a per-value
//! adaptation of the row stream, and the identity positions to set once the rows are in.
//!
//! The SQLite export stream is already PostgreSQL COPY text, with every value's storage class
//! recoverable from its form (see `engine::sqlite::data`). What still differs is the column
//! types: SQLite lets any column hold any class, PostgreSQL does not. Each field is checked
//! against its converted column and rewritten where PostgreSQL reads the value otherwise:
//!
//! | class → column | what happens |
//! |---|---|
//! | INTEGER 0/1 → boolean | `f`/`t` (other integers fail) |
//! | REAL → text | SQLite's own text form of it (`CAST(r AS TEXT)`: `1.0e+20`) |
//! | BLOB → text | the bytes as text when they are UTF-8 without NUL, else fail |
//! | INTEGER, REAL, TEXT → bytea | the bytes of its text (`CAST(x AS BLOB)`) |
//! | TEXT → integer, numeric, float, boolean | kept when PostgreSQL reads it as such, else fail |
//! | TEXT → date, timestamp, time | SQLite's time strings (`YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z\|±HH:MM]`): `Z` is dropped, a timestamptz without zone gets `+00` (SQLite's clock is UTC); a time of day in a date column, an offset in a timestamp column or a number fail |
//! | NULL → NOT NULL column | fail (SQLite lets non-INTEGER primary keys hold NULL) |
//! | TEXT longer than `varchar(n)` | fail |
//!
//! Failures name the table, the row (line of the table's stream) and the column, and say
//! why. The adaptation streams: one line at a time into a bounded buffer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use super::types::ValueKind;
use super::values::{adapt_value, ColumnRule};
use crate::engine::sqlite::data::has_text_affinity;
use crate::engine::{DataTable, SequenceState};
use crate::error::{Error, Result};
use crate::schema::{qualified, Schema};

/// Adapted output is handed on in pieces of about this size.
const BUFFER: usize = 64 * 1024;

/// How the rows of one SQLite table load into its converted table.
#[derive(Debug, Clone)]
pub struct TableRows {
    /// The table as the loader sees it (qualified PostgreSQL name, stream columns).
    pub table: DataTable,
    columns: Vec<ColumnRule>,
}

/// The row adaptations of a whole conversion, by SQLite table name.
#[derive(Debug, Clone, Default)]
pub struct RowConversion {
    tables: HashMap<String, (String, Vec<ColumnRule>)>,
}

impl RowConversion {
    /// `source` is the SQLite schema, `target` its conversion.
    pub fn new(source: &Schema, target: &Schema) -> RowConversion {
        let mut tables = HashMap::new();
        for table in &source.tables {
            let Some(converted) = target.tables.iter().find(|t| t.name == table.name) else {
                continue;
            };
            let rules = table
                .columns
                .iter()
                .filter(|c| c.generated.is_none())
                .filter_map(|c| {
                    let column = converted.columns.iter().find(|t| t.name == c.name)?;
                    Some(ColumnRule {
                        name: c.name.clone(),
                        text_affinity: has_text_affinity(&c.data_type, table.strict),
                        kind: ValueKind::of(&column.data_type),
                        not_null: column.not_null,
                    })
                })
                .collect();
            let name = qualified(&converted.schema, &converted.name);
            tables.insert(table.name.clone(), (name, rules));
        }
        RowConversion { tables }
    }

    /// The converted table the rows of SQLite table `name` load into, for a stream of
    /// `columns` (empty: every stored column, in order).
    pub fn table(&self, name: &str, columns: &[String], size_bytes: i64) -> Result<TableRows> {
        let (target, rules) = self.tables.get(name).ok_or_else(|| {
            Error::Unsupported(format!(
                "the backup holds rows of {name:?}, which the converted schema has no table for"
            ))
        })?;
        let columns: Vec<ColumnRule> = if columns.is_empty() {
            rules.clone()
        } else {
            columns
                .iter()
                .map(|c| {
                    rules.iter().find(|r| &r.name == c).cloned().ok_or_else(|| {
                        Error::Unsupported(format!(
                            "the backup of {name:?} holds column {c:?}, which the converted \
                             table has no place for"
                        ))
                    })
                })
                .collect::<Result<_>>()?
        };
        Ok(TableRows {
            table: DataTable {
                name: target.clone(),
                columns: columns.iter().map(|c| c.name.clone()).collect(),
                size_bytes,
            },
            columns,
        })
    }
}

impl TableRows {
    /// The rows of `input` (one part of the table's stream) adapted to the converted table.
    pub fn adapt<R: Read>(&self, input: R, part: usize) -> AdaptedRows<'_, R> {
        AdaptedRows {
            rules: self,
            input: BufReader::with_capacity(BUFFER, input),
            part,
            line: Vec::new(),
            out: Vec::with_capacity(BUFFER + 4096),
            pos: 0,
            row: 0,
            done: false,
        }
    }
}

/// A row stream being adapted; reading it fails with the table, row and column of a value
/// that cannot be converted.
pub struct AdaptedRows<'t, R> {
    rules: &'t TableRows,
    input: BufReader<R>,
    part: usize,
    line: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    row: u64,
    done: bool,
}

impl<R: Read> Read for AdaptedRows<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.out.len() && !self.done {
            self.fill()?;
        }
        let available = &self.out[self.pos..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read> AdaptedRows<'_, R> {
    fn fill(&mut self) -> std::io::Result<()> {
        self.out.clear();
        self.pos = 0;
        while self.out.len() < BUFFER {
            self.line.clear();
            if self.input.read_until(b'\n', &mut self.line)? == 0 {
                self.done = true;
                return Ok(());
            }
            if self.line.last() == Some(&b'\n') {
                self.line.pop();
            }
            if self.line == b"\\." {
                self.done = true;
                return Ok(());
            }
            self.row += 1;
            let line = std::mem::take(&mut self.line);
            let adapted = self.adapt_line(&line);
            self.line = line;
            adapted?;
            self.out.push(b'\n');
        }
        Ok(())
    }

    fn adapt_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        let rules = &self.rules.columns;
        if fields.len() != rules.len() {
            return Err(self.error(
                None,
                format!(
                    "{} field(s) where the table has {} column(s)",
                    fields.len(),
                    rules.len()
                ),
            ));
        }
        for (i, (field, rule)) in fields.iter().zip(rules).enumerate() {
            if i > 0 {
                self.out.push(b'\t');
            }
            if let Err(reason) = adapt_value(field, rule, &mut self.out) {
                return Err(self.error(Some(&rule.name), reason));
            }
        }
        Ok(())
    }

    fn error(&self, column: Option<&str>, reason: String) -> std::io::Error {
        let part = if self.part > 0 {
            format!(" of part {}", self.part + 1)
        } else {
            String::new()
        };
        let column = column
            .map(|c| format!(", column {c:?}"))
            .unwrap_or_default();
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "table {}, row {}{part}{column}: {reason}",
                self.rules.table.name, self.row
            ),
        )
    }
}

/// After the rows are in: every identity column's sequence set past the highest id loaded,
/// and past SQLite's AUTOINCREMENT counter (which never goes back, even after deletes).
/// `sequences` are the backup's `sqlite_sequence` rows, by SQLite table name.
pub fn identity_positions(target: &Schema, sequences: &[SequenceState]) -> Vec<String> {
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut statements = Vec::new();
    for table in &target.tables {
        let counter = sequences
            .iter()
            .find(|s| s.name == table.name)
            .map_or(0, |s| s.last_value);
        for column in table.columns.iter().filter(|c| c.identity.is_some()) {
            let relation = format!(
                "{}.{}",
                super::expressions::pg_ident(&table.schema),
                super::expressions::pg_ident(&table.name)
            );
            let id = super::expressions::pg_ident(&column.name);
            statements.push(format!(
                "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence({}, {}), \
                 GREATEST(COALESCE(max({id}), 0), {counter}, 1), \
                 COALESCE(max({id}), 0) >= 1 OR {counter} >= 1) FROM {relation}",
                literal(&relation),
                literal(&column.name),
            ));
        }
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::values::ColumnRule;

    const BIGINT: ValueKind = ValueKind::Integer {
        min: i64::MIN,
        max: i64::MAX,
    };

    fn rule(name: &str, kind: ValueKind) -> ColumnRule {
        ColumnRule {
            name: name.into(),
            text_affinity: false,
            kind,
            not_null: false,
        }
    }

    #[test]
    fn a_bad_row_names_table_row_and_column() {
        let rows = TableRows {
            table: DataTable {
                name: "public.t".into(),
                columns: vec!["a".into(), "b".into()],
                size_bytes: 0,
            },
            columns: vec![rule("a", BIGINT), rule("b", ValueKind::Boolean)],
        };
        let mut adapted = String::new();
        rows.adapt("1\t0\n2\t1\n".as_bytes(), 0)
            .read_to_string(&mut adapted)
            .unwrap();
        assert_eq!(adapted, "1\tf\n2\tt\n");
        let mut sink = String::new();
        let error = rows
            .adapt("1\t0\n2\t7\n".as_bytes(), 0)
            .read_to_string(&mut sink)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("table public.t, row 2, column \"b\""),
            "{error}"
        );
    }
}
