//! Moving rows in and out of SQLite for backup and restore.
//!
//! # Export
//! SQLite's online backup API copies the whole database, in one step, into a private file in
//! the temporary directory (`TMPDIR`); the source is read-locked only for that copy (in WAL
//! mode writers are not even blocked). The schema, the rows and `sqlite_sequence` are then read
//! from the copy, so the backup is one instant of the database however long it takes and
//! whatever writers do meanwhile. The copy is deleted when the export is dropped.
//!
//! Rows leave as PostgreSQL COPY text (tab-separated, `\N` for NULL, one line per row),
//! generated columns left out, ordered by rowid (by primary key for WITHOUT ROWID tables) so an
//! unchanged table always gives the same bytes and so the same chunks.
//!
//! # The value encoding
//! SQLite is dynamically typed: any column may hold any storage class, and the restore must put
//! back the same class, not just an equal-looking text. Every value is written the way
//! PostgreSQL's COPY text input reads it:
//!
//! | storage class | written as                                                          |
//! |---------------|---------------------------------------------------------------------|
//! | NULL          | `\N`                                                                |
//! | INTEGER       | decimal (`-42`)                                                     |
//! | REAL          | Rust's shortest round-trip `{:?}` form, which always has a `.` or an exponent (`1.0`, `0.1`, `1e20`, `-2.5e-8`); `Infinity`, `-Infinity` |
//! | BLOB          | `\\x` and lowercase hex (bytea input, escaped for COPY)             |
//! | TEXT          | the text, with `\` → `\\`, tab → `\t`, newline → `\n`, CR → `\r`, NUL → `\000` |
//!
//! The loader reads a field's class from its form: `\N` is NULL; `\x` + lowercase hex (after
//! COPY unescaping) is a BLOB; in a column **without TEXT affinity** a canonical integer (as
//! written above) is an INTEGER and a canonical REAL form is a REAL; anything else is TEXT.
//! In a column with TEXT affinity (declared type containing CHAR, CLOB or TEXT and not INT;
//! `TEXT` in a STRICT table) numbers can never be stored, so numeric-looking fields are TEXT.
//!
//! The one ambiguity left is a TEXT value that reads like another class there: `'\xff'`
//! anywhere, or `'42'`, `'1.5'`, `'Infinity'` in a column without TEXT affinity (possible in a
//! column with no declared type, or a NUMERIC one for `'Infinity'`). Such a text is written with
//! its first character as a three-digit octal escape (`'42'` → `\0642`, `'\xff'` → `\134xff`).
//! PostgreSQL's COPY decodes that to the very same text, and the loader takes a field whose
//! raw form starts with an octal escape as TEXT. So the stream is plain COPY text that also
//! loads into a typed PostgreSQL table, and the class of every value is exact.
//!
//! The loader binds each value with that class and SQLite then applies the column's affinity,
//! as it did when the value was first stored. Applying an affinity to a value it already
//! produced changes nothing (an INTEGER-affinity column cannot hold REAL 1.0 or TEXT '42' —
//! SQLite converted them on the way in), so every value comes back with the same `typeof()`.
//!
//! # Load
//! One transaction per table (`BEGIN IMMEDIATE`, so loaders on several sessions queue on the
//! busy timeout rather than deadlock), a prepared `INSERT` bound value by value, foreign keys
//! off. `sqlite_sequence` rows are written after the rows (which move the counters themselves).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::lexer::quote_ident;
use crate::copy_text::{decode_escape, hex_value};
use crate::engine::{
    DataTable, Export, ExportWorker, InspectOptions, Loader, SequenceState, TablePart,
};
use crate::error::{Error, Result};
use crate::schema::{qualified, Schema};

/// How long the backup waits for a writer to release the source before giving up.
const SOURCE_BUSY_LIMIT: Duration = Duration::from_secs(120);
/// How long a loader waits for another loader's transaction on the same file.
const LOADER_BUSY_TIMEOUT: Duration = Duration::from_secs(3600);
/// Output is handed to the repository stream in pieces of about this size.
const WRITE_BUFFER: usize = 256 * 1024;

fn query_error(display: &str, what: impl Into<String>, cause: impl std::fmt::Display) -> Error {
    Error::Query {
        target: display.to_string(),
        what: what.into(),
        cause: cause.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Export

/// The private copy an export reads; deleted (with any journal) when dropped.
struct TempCopy {
    path: PathBuf,
}

impl TempCopy {
    fn new() -> TempCopy {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!(
            "strata-sqlite-backup-{}-{nanos}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        TempCopy {
            path: std::env::temp_dir().join(name),
        }
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        for suffix in ["-journal", "-wal", "-shm"] {
            let mut other = self.path.clone().into_os_string();
            other.push(suffix);
            let _ = std::fs::remove_file(other);
        }
    }
}

/// How one table's rows are read, and which columns have TEXT affinity.
struct TablePlan {
    select: String,
    text_affinity: Vec<bool>,
}

/// A running export: the private copy and what it holds.
pub struct SqliteExport {
    copy: TempCopy,
    display: String,
    schema: Schema,
    tables: Vec<DataTable>,
    sequences: Vec<SequenceState>,
    plans: Arc<HashMap<String, TablePlan>>,
}

/// Copies the database behind `source` into a private file, and reads its schema, tables and
/// AUTOINCREMENT counters. Returns the export and the inspection's notes.
pub(super) fn begin_export(
    source: &Connection,
    display: &str,
    options: &InspectOptions,
) -> Result<(SqliteExport, Vec<String>)> {
    let copy = TempCopy::new();
    let mut conn = Connection::open(&copy.path).map_err(|e| {
        query_error(
            display,
            format!("creating the backup copy {}", copy.path.display()),
            e,
        )
    })?;
    online_backup(source, &mut conn, display)?;
    // A rollback-journal copy can be read by read-only sessions without -shm files.
    conn.pragma_update(None, "journal_mode", "DELETE")
        .map_err(|e| query_error(display, "preparing the backup copy", e))?;

    let (schema, notes) = super::inspect::inspect(&conn, display, options)?;
    let mut tables = Vec::with_capacity(schema.tables.len());
    let mut plans = HashMap::new();
    let sizes = table_sizes(&conn);
    for table in &schema.tables {
        let info = table_info(&conn, display, &table.name)?;
        let exported: Vec<&ColumnInfo> = info.columns.iter().filter(|c| c.exported()).collect();
        let name = qualified(&table.schema, &table.name);
        let columns: Vec<String> = exported.iter().map(|c| c.name.clone()).collect();
        let select = format!(
            "SELECT {} FROM main.{} {}",
            columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            quote_ident(&table.name),
            order_by(&info)
        );
        plans.insert(
            name.clone(),
            TablePlan {
                select,
                text_affinity: exported
                    .iter()
                    .map(|c| has_text_affinity(&c.declared_type, info.strict))
                    .collect(),
            },
        );
        tables.push(DataTable {
            size_bytes: sizes.get(&table.name).copied().unwrap_or(0),
            name,
            columns,
        });
    }
    let sequences = sequence_states(&conn, display, &schema)?;
    drop(conn);
    let export = SqliteExport {
        copy,
        display: display.to_string(),
        schema,
        tables,
        sequences,
        plans: Arc::new(plans),
    };
    Ok((export, notes))
}

/// The whole database in one backup step: one short read lock on the source. A writer holding
/// the source is waited for (up to [`SOURCE_BUSY_LIMIT`]).
fn online_backup(source: &Connection, copy: &mut Connection, display: &str) -> Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let what = "copying the database with the online backup API";
    let backup = Backup::new(source, copy).map_err(|e| query_error(display, what, e))?;
    let started = Instant::now();
    loop {
        match backup.step(-1).map_err(|e| query_error(display, what, e))? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => {
                if started.elapsed() > SOURCE_BUSY_LIMIT {
                    return Err(query_error(
                        display,
                        what,
                        format!(
                            "the database stayed locked by a writer for {} s",
                            SOURCE_BUSY_LIMIT.as_secs()
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

struct ColumnInfo {
    name: String,
    declared_type: String,
    /// 1-based position in the primary key, 0 when not part of it.
    primary_key_position: i64,
    /// 0 ordinary, 1 hidden (virtual tables), 2/3 generated.
    hidden: i64,
}

impl ColumnInfo {
    fn exported(&self) -> bool {
        self.hidden == 0
    }
}

struct TableInfo {
    columns: Vec<ColumnInfo>,
    without_rowid: bool,
    strict: bool,
}

fn table_info(conn: &Connection, display: &str, table: &str) -> Result<TableInfo> {
    let what = format!("reading the columns of table {table:?}");
    let error = |e: rusqlite::Error| query_error(display, what.clone(), e);
    let mut statement = conn
        .prepare("SELECT name, type, pk, hidden FROM pragma_table_xinfo(?1, 'main') ORDER BY cid")
        .map_err(error)?;
    let columns = statement
        .query_map([table], |row| {
            Ok(ColumnInfo {
                name: row.get(0)?,
                declared_type: row.get(1)?,
                primary_key_position: row.get(2)?,
                hidden: row.get(3)?,
            })
        })
        .map_err(error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(error)?;
    let (without_rowid, strict) = conn
        .query_row(
            "SELECT wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
            [table],
            |row| Ok((row.get::<_, bool>(0)?, row.get::<_, bool>(1)?)),
        )
        .map_err(error)?;
    Ok(TableInfo {
        columns,
        without_rowid,
        strict,
    })
}

/// A deterministic row order: the rowid (under a name no column shadows), or the primary key of
/// a WITHOUT ROWID table.
fn order_by(info: &TableInfo) -> String {
    if info.without_rowid {
        let mut key: Vec<&ColumnInfo> = info
            .columns
            .iter()
            .filter(|c| c.primary_key_position > 0)
            .collect();
        key.sort_by_key(|c| c.primary_key_position);
        let key: Vec<String> = key.iter().map(|c| quote_ident(&c.name)).collect();
        return format!("ORDER BY {}", key.join(", "));
    }
    let shadowed = |alias: &str| {
        info.columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(alias))
    };
    match ["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|a| !shadowed(a))
    {
        Some(alias) => format!("ORDER BY {alias}"),
        // Every rowid alias is a column name: order by every column instead.
        None => {
            let all: Vec<String> = (1..=info.columns.iter().filter(|c| c.exported()).count())
                .map(|i| i.to_string())
                .collect();
            format!("ORDER BY {}", all.join(", "))
        }
    }
}

/// Bytes each table takes in the file (`dbstat`), to start the biggest first; empty when the
/// library was built without `dbstat`.
fn table_sizes(conn: &Connection) -> HashMap<String, i64> {
    let read = || -> rusqlite::Result<HashMap<String, i64>> {
        let mut statement =
            conn.prepare("SELECT name, sum(pgsize) FROM dbstat('main') GROUP BY name")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect()
    };
    read().unwrap_or_default()
}

/// AUTOINCREMENT counters (`sqlite_sequence`) of the exported tables, by table name.
fn sequence_states(
    conn: &Connection,
    display: &str,
    schema: &Schema,
) -> Result<Vec<SequenceState>> {
    let what = "reading sqlite_sequence";
    let exists: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM main.sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| query_error(display, what, e))?;
    if !exists {
        return Ok(vec![]);
    }
    let mut statement = conn
        .prepare("SELECT name, seq FROM main.sqlite_sequence ORDER BY name")
        .map_err(|e| query_error(display, what, e))?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<i64>>(1)?))
        })
        .map_err(|e| query_error(display, what, e))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| query_error(display, what, e))?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, seq)| {
            let table = schema.tables.iter().find(|t| t.name == name)?;
            Some(SequenceState {
                name: qualified(&table.schema, &table.name),
                last_value: seq?,
                is_called: true,
            })
        })
        .collect())
}

impl Export for SqliteExport {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn tables(&self) -> &[DataTable] {
        &self.tables
    }

    fn sequences(&self) -> &[SequenceState] {
        &self.sequences
    }

    fn worker(&self) -> Result<Box<dyn ExportWorker>> {
        let conn = Connection::open_with_flags(
            &self.copy.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| query_error(&self.display, "opening the backup copy", e))?;
        Ok(Box::new(SqliteExportWorker {
            conn,
            display: self.display.clone(),
            plans: Arc::clone(&self.plans),
        }))
    }
}

struct SqliteExportWorker {
    conn: Connection,
    display: String,
    plans: Arc<HashMap<String, TablePlan>>,
}

impl ExportWorker for SqliteExportWorker {
    /// SQLite tables are read whole (the export never cuts them into parts).
    fn copy_out(
        &mut self,
        table: &DataTable,
        _part: &TablePart,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let what = format!("reading rows of {}", table.name);
        let plan = self.plans.get(&table.name).ok_or_else(|| {
            query_error(
                &self.display,
                what.clone(),
                "the table is not in the export",
            )
        })?;
        let error = |e: rusqlite::Error| query_error(&self.display, what.clone(), e);
        let write_error = |e: std::io::Error| query_error(&self.display, what.clone(), e);
        let mut statement = self.conn.prepare(&plan.select).map_err(error)?;
        let mut rows = statement.query([]).map_err(error)?;
        let mut buffer = Vec::with_capacity(WRITE_BUFFER + 4096);
        let mut written = 0u64;
        while let Some(row) = rows.next().map_err(error)? {
            for (i, &text_affinity) in plan.text_affinity.iter().enumerate() {
                if i > 0 {
                    buffer.push(b'\t');
                }
                write_value(&mut buffer, row.get_ref(i).map_err(error)?, text_affinity);
            }
            buffer.push(b'\n');
            if buffer.len() >= WRITE_BUFFER {
                out.write_all(&buffer).map_err(write_error)?;
                written += buffer.len() as u64;
                buffer.clear();
            }
        }
        out.write_all(&buffer).map_err(write_error)?;
        written += buffer.len() as u64;
        Ok(written)
    }
}

// ---------------------------------------------------------------------------------------------
// The encoding (see the module documentation)

/// Whether the column can hold only text (and blobs): TEXT affinity (see [`super::affinity`]).
pub fn has_text_affinity(declared_type: &str, strict: bool) -> bool {
    super::affinity::affinity(declared_type, strict) == super::affinity::Affinity::Text
}

/// Appends one value in COPY text form.
pub fn write_value(out: &mut Vec<u8>, value: ValueRef<'_>, text_affinity: bool) {
    match value {
        ValueRef::Null => out.extend_from_slice(b"\\N"),
        ValueRef::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        ValueRef::Real(r) => write_real(out, r),
        ValueRef::Blob(bytes) => {
            out.extend_from_slice(b"\\\\x");
            for b in bytes {
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        ValueRef::Text(text) => {
            let mut rest = text;
            if text_needs_marker(text, text_affinity) {
                // The first byte is ASCII here (a digit, `-`, `I` or `\`).
                let _ = write!(out, "\\{:03o}", text[0]);
                rest = &text[1..];
            }
            crate::copy_text::escape(out, rest);
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_real(out: &mut Vec<u8>, r: f64) {
    if r == f64::INFINITY {
        out.extend_from_slice(b"Infinity");
    } else if r == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Infinity");
    } else {
        let _ = write!(out, "{r:?}");
    }
}

/// Whether a text, written plainly, would be read back as another storage class.
fn text_needs_marker(text: &[u8], text_affinity: bool) -> bool {
    if is_blob_form(text) {
        return true;
    }
    if text_affinity {
        return false;
    }
    match std::str::from_utf8(text) {
        Ok(s) => canonical_integer(s).is_some() || canonical_real(s).is_some(),
        Err(_) => false,
    }
}

/// `\x` followed by an even number of lowercase hex digits: the form of a BLOB.
fn is_blob_form(text: &[u8]) -> bool {
    text.len().is_multiple_of(2)
        && text.starts_with(b"\\x")
        && text[2..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// An integer exactly as [`write_value`] writes one.
fn canonical_integer(s: &str) -> Option<i64> {
    let first = *s.as_bytes().first()?;
    if !(first.is_ascii_digit() || first == b'-') {
        return None;
    }
    let value: i64 = s.parse().ok()?;
    (value.to_string() == s).then_some(value)
}

/// A REAL exactly as [`write_value`] writes one.
fn canonical_real(s: &str) -> Option<f64> {
    match s {
        "Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let first = *s.as_bytes().first()?;
    if !(first.is_ascii_digit() || first == b'-') {
        return None;
    }
    let value: f64 = s.parse().ok()?;
    (value.is_finite() && format!("{value:?}") == s).then_some(value)
}

/// One field of a parsed line: its unescaped bytes in the line buffer.
#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    end: usize,
    null: bool,
    /// The raw field starts with an octal escape: TEXT whatever it reads like.
    text: bool,
}

/// Splits one line of COPY text (without its newline) into unescaped fields, as PostgreSQL
/// reads it: `\b \f \n \r \t \v \\`, `\ooo` octal, `\xhh` hex, any other escaped character
/// stands for itself; a field that is exactly `\N` is NULL.
fn parse_line(
    raw: &[u8],
    data: &mut Vec<u8>,
    fields: &mut Vec<Field>,
) -> std::result::Result<(), String> {
    data.clear();
    fields.clear();
    let mut raw_start = 0;
    let mut start = 0;
    let mut text = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'\t' => {
                fields.push(Field {
                    start,
                    end: data.len(),
                    null: &raw[raw_start..i] == b"\\N",
                    text,
                });
                i += 1;
                raw_start = i;
                start = data.len();
                text = false;
            }
            b'\\' => {
                let Some(&next) = raw.get(i + 1) else {
                    return Err("the line ends with a lone backslash".into());
                };
                i += 2;
                if matches!(next, b'0'..=b'7') && i - 2 == raw_start {
                    text = true;
                }
                decode_escape(next, raw, &mut i, data);
            }
            _ => {
                data.push(b);
                i += 1;
            }
        }
    }
    fields.push(Field {
        start,
        end: data.len(),
        null: &raw[raw_start..] == b"\\N",
        text,
    });
    Ok(())
}

/// A parsed field as the value to bind (see the module documentation).
fn field_value<'a>(
    data: &'a [u8],
    field: Field,
    text_affinity: bool,
    blob: &'a mut Vec<u8>,
) -> ValueRef<'a> {
    if field.null {
        return ValueRef::Null;
    }
    let bytes = &data[field.start..field.end];
    if field.text {
        return ValueRef::Text(bytes);
    }
    if is_blob_form(bytes) {
        blob.clear();
        blob.extend(
            bytes[2..]
                .chunks_exact(2)
                .map(|p| hex_value(p[0]).unwrap_or(0) * 16 + hex_value(p[1]).unwrap_or(0)),
        );
        return ValueRef::Blob(blob);
    }
    if !text_affinity {
        if let Ok(s) = std::str::from_utf8(bytes) {
            if let Some(i) = canonical_integer(s) {
                return ValueRef::Integer(i);
            }
            if let Some(r) = canonical_real(s) {
                return ValueRef::Real(r);
            }
        }
    }
    ValueRef::Text(bytes)
}

// ---------------------------------------------------------------------------------------------
// Load

/// A restore session on a database file opened for writing.
pub struct SqliteLoader {
    conn: Connection,
    display: String,
}

impl SqliteLoader {
    pub(super) fn open(path: &Path, display: &str) -> Result<SqliteLoader> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::Connect {
            target: display.to_string(),
            cause: e.to_string(),
            hint: String::new(),
        })?;
        conn.busy_timeout(LOADER_BUSY_TIMEOUT)
            .and_then(|_| conn.pragma_update(None, "foreign_keys", false))
            .map_err(|e| query_error(display, "restore settings", e))?;
        Ok(SqliteLoader {
            conn,
            display: display.to_string(),
        })
    }

    /// Per streamed column, whether it has TEXT affinity in the target table.
    fn text_affinities(&self, table: &DataTable) -> Result<Vec<bool>> {
        let info = table_info(&self.conn, &self.display, &table.name)?;
        let missing = |column: &str| {
            query_error(
                &self.display,
                format!("loading rows of {}", table.name),
                format!("the table has no column {column:?}"),
            )
        };
        table
            .columns
            .iter()
            .map(|column| {
                info.columns
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(column))
                    .map(|c| has_text_affinity(&c.declared_type, info.strict))
                    .ok_or_else(|| missing(column))
            })
            .collect()
    }
}

impl Loader for SqliteLoader {
    fn run_script(&mut self, statements: &[String]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| query_error(&self.display, "starting the restore transaction", e))?;
        for statement in statements {
            if let Err(e) = tx.execute_batch(statement) {
                let first_line = statement.lines().next().unwrap_or_default();
                return Err(query_error(
                    &self.display,
                    format!("restoring the schema (statement `{first_line}`; rolled back)"),
                    e,
                ));
            }
        }
        tx.commit()
            .map_err(|e| query_error(&self.display, "committing the restored schema", e))
    }

    fn copy_in(&mut self, table: &DataTable, rows: &mut dyn Read) -> Result<u64> {
        let what = format!("loading rows of {}", table.name);
        let text_affinity = self.text_affinities(table)?;
        let display = self.display.clone();
        let error = |e: rusqlite::Error| query_error(&display, what.clone(), e);
        let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(c)).collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO main.{} ({}) VALUES ({})",
            quote_ident(&table.name),
            columns.join(", "),
            placeholders.join(", ")
        );
        // Dropping the transaction unfinished (any error below) rolls it back.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(error)?;
        let mut loaded = 0u64;
        {
            let mut insert = tx.prepare(&sql).map_err(error)?;
            let mut reader = BufReader::with_capacity(WRITE_BUFFER, rows);
            let mut line = Vec::new();
            let mut data = Vec::new();
            let mut fields = Vec::with_capacity(columns.len());
            let mut blob = Vec::new();
            let mut line_number = 0u64;
            loop {
                line.clear();
                let read = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| query_error(&display, what.clone(), e))?;
                if read == 0 {
                    break;
                }
                line_number += 1;
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                if line == b"\\." {
                    break;
                }
                let malformed = |cause: String| {
                    query_error(
                        &display,
                        what.clone(),
                        format!("malformed COPY data at line {line_number}: {cause}"),
                    )
                };
                parse_line(&line, &mut data, &mut fields).map_err(malformed)?;
                if fields.len() != columns.len() {
                    return Err(malformed(format!(
                        "{} field(s) where the table has {} column(s)",
                        fields.len(),
                        columns.len()
                    )));
                }
                for (i, (&field, &text)) in fields.iter().zip(&text_affinity).enumerate() {
                    let value = field_value(&data, field, text, &mut blob);
                    insert
                        .raw_bind_parameter(i + 1, ToSqlOutput::Borrowed(value))
                        .map_err(error)?;
                }
                insert.raw_execute().map_err(|e| {
                    query_error(&display, what.clone(), format!("line {line_number}: {e}"))
                })?;
                loaded += 1;
            }
        }
        tx.commit().map_err(error)?;
        Ok(loaded)
    }

    fn set_sequences(&mut self, sequences: &[SequenceState]) -> Result<()> {
        if sequences.is_empty() {
            return Ok(());
        }
        let what = "setting AUTOINCREMENT counters (sqlite_sequence)";
        let display = self.display.clone();
        let error = |e: rusqlite::Error| query_error(&display, what, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(error)?;
        {
            let mut delete = tx
                .prepare("DELETE FROM main.sqlite_sequence WHERE name = ?1")
                .map_err(error)?;
            let mut insert = tx
                .prepare("INSERT INTO main.sqlite_sequence (name, seq) VALUES (?1, ?2)")
                .map_err(error)?;
            for sequence in sequences {
                delete.execute([&sequence.name]).map_err(error)?;
                insert
                    .execute(rusqlite::params![sequence.name, sequence.last_value])
                    .map_err(error)?;
            }
        }
        tx.commit().map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: ValueRef<'_>, text_affinity: bool) -> String {
        let mut out = Vec::new();
        write_value(&mut out, value, text_affinity);
        String::from_utf8(out).unwrap()
    }

    fn decode(raw: &str, text_affinity: bool) -> rusqlite::types::Value {
        let (mut data, mut fields, mut blob) = (vec![], vec![], vec![]);
        parse_line(raw.as_bytes(), &mut data, &mut fields).unwrap();
        assert_eq!(fields.len(), 1);
        match field_value(&data, fields[0], text_affinity, &mut blob) {
            ValueRef::Null => rusqlite::types::Value::Null,
            ValueRef::Integer(i) => rusqlite::types::Value::Integer(i),
            ValueRef::Real(r) => rusqlite::types::Value::Real(r),
            ValueRef::Text(t) => {
                rusqlite::types::Value::Text(String::from_utf8(t.to_vec()).unwrap())
            }
            ValueRef::Blob(b) => rusqlite::types::Value::Blob(b.to_vec()),
        }
    }

    #[test]
    fn values_are_written_as_copy_text() {
        assert_eq!(encode(ValueRef::Null, false), "\\N");
        assert_eq!(encode(ValueRef::Integer(-42), false), "-42");
        assert_eq!(encode(ValueRef::Real(1.0), false), "1.0");
        assert_eq!(encode(ValueRef::Real(1e20), false), "1e20");
        assert_eq!(
            encode(ValueRef::Real(f64::NEG_INFINITY), false),
            "-Infinity"
        );
        assert_eq!(encode(ValueRef::Blob(&[0, 0xab]), false), "\\\\x00ab");
        assert_eq!(
            encode(ValueRef::Text(b"a\\b\tc\nd\re"), true),
            "a\\\\b\\tc\\nd\\re"
        );
        // Texts that would read as another class carry an octal first character.
        assert_eq!(encode(ValueRef::Text(b"42"), false), "\\0642");
        assert_eq!(encode(ValueRef::Text(b"42"), true), "42");
        assert_eq!(encode(ValueRef::Text(b"1.5"), false), "\\061.5");
        assert_eq!(encode(ValueRef::Text(b"Infinity"), false), "\\111nfinity");
        assert_eq!(encode(ValueRef::Text(b"\\xab"), true), "\\134xab");
        assert_eq!(encode(ValueRef::Text(b"042"), false), "042");
    }

    #[test]
    fn every_value_reads_back_with_its_class() {
        use rusqlite::types::Value;
        let values = [
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Integer(7),
            Value::Real(1.0),
            Value::Real(-0.0),
            Value::Real(0.1 + 0.2),
            Value::Real(f64::INFINITY),
            Value::Real(5e-324),
            Value::Blob(vec![]),
            Value::Blob(vec![0, 255, 10, 9]),
            Value::Text(String::new()),
            Value::Text("42".into()),
            Value::Text("-7".into()),
            Value::Text("1.0".into()),
            Value::Text("Infinity".into()),
            Value::Text("\\x".into()),
            Value::Text("\\N".into()),
            Value::Text("N".into()),
            Value::Text("\0\t\\\n".into()),
            Value::Text("π 1e5".into()),
        ];
        for text_affinity in [false, true] {
            for value in &values {
                if text_affinity && matches!(value, Value::Integer(_) | Value::Real(_)) {
                    continue;
                }
                let raw = encode(ValueRef::from(value), text_affinity);
                assert_eq!(
                    &decode(&raw, text_affinity),
                    value,
                    "{value:?} as {raw:?} (text affinity {text_affinity})"
                );
            }
        }
    }

    #[test]
    fn affinity_follows_sqlite_rules() {
        assert!(has_text_affinity("VARCHAR(20)", false));
        assert!(has_text_affinity("nvarchar", false));
        assert!(!has_text_affinity("CHARINT", false));
        assert!(!has_text_affinity("", false));
        assert!(!has_text_affinity("NUMERIC", false));
        assert!(has_text_affinity("text", true));
        assert!(!has_text_affinity("ANY", true));
    }

    #[test]
    fn malformed_lines_are_refused() {
        let (mut data, mut fields) = (vec![], vec![]);
        assert!(parse_line(b"a\\", &mut data, &mut fields).is_err());
        parse_line(b"a\\\tb\tc", &mut data, &mut fields).unwrap();
        assert_eq!(fields.len(), 2);
    }
}
