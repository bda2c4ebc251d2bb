//! Moving rows in and out of PostgreSQL for backup and restore.
//!
//! Export: one session opens a REPEATABLE READ, READ ONLY transaction, takes ACCESS SHARE
//! locks on the tables (so none is dropped mid-backup; writers are not blocked) and exports
//! its snapshot; the schema is inspected and every worker reads rows inside that same
//! snapshot, so the whole backup is one instant of the database. Rows leave as
//! `COPY … TO STDOUT` text, which is portable across server versions; `synchronize_seqscans`
//! is off so that the row order of an unchanged table never varies, which keeps the chunks of
//! a second backup identical to the first.
//!
//! Load: `COPY … FROM STDIN` with an explicit column list (generated columns are not in the
//! stream), each table in its own transaction, several tables at once on separate sessions.

use std::io::{Read, Write};

use postgres::{Client, IsolationLevel};

use crate::engine::{
    DataTable, Export, ExportWorker, InspectOptions, Loader, SequenceState, TablePart,
};
use crate::error::{Error, Result};
use crate::schema::{qualified as raw_qualified, Schema};

use super::connect::ConnectionSpec;
use super::render::{ident, qualified};
use super::Postgres;

/// A running export: the session holding the snapshot, and what it saw.
pub(super) struct PostgresExport {
    /// Holds the snapshot open (and the locks) until the export is dropped.
    _holder: std::sync::Mutex<Client>,
    snapshot_id: String,
    spec: ConnectionSpec,
    schema: Schema,
    tables: Vec<DataTable>,
    sequences: Vec<SequenceState>,
}

fn db_error(display: &str, what: &str, e: postgres::Error) -> Error {
    let cause = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => super::connect::error_chain(&e),
    };
    Error::Query {
        target: display.to_string(),
        what: what.to_string(),
        cause,
    }
}

impl Postgres {
    pub(super) fn begin_export(&mut self, options: &InspectOptions) -> Result<PostgresExport> {
        let display = self.display().to_string();
        let mut holder = self.spec.connect()?;
        holder
            .batch_execute(
                "SET synchronize_seqscans = off; \
                 BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            )
            .map_err(|e| db_error(&display, "starting the backup transaction", e))?;
        let snapshot_id: String = holder
            .query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
            .map_err(|e| db_error(&display, "exporting the snapshot", e))?
            .get(0);

        // The schema, read in the same snapshot as the rows.
        let mut tx = self
            .client()
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| db_error(&display, "starting the schema transaction", e))?;
        tx.batch_execute(&format!("SET TRANSACTION SNAPSHOT '{snapshot_id}'"))
            .map_err(|e| db_error(&display, "joining the snapshot", e))?;
        let (schema, notes) = super::inspect::inspect_in(tx, &display, options)?;
        self.notes = notes;

        let tables = data_tables(&schema);
        lock_tables(&mut holder, &display, &tables)?;
        let sizes = table_sizes(&mut holder, &display, &tables)?;
        let tables = tables
            .into_iter()
            .zip(sizes)
            .map(|(t, size_bytes)| DataTable { size_bytes, ..t })
            .collect();
        let sequences = sequence_states(&mut holder, &display, &schema)?;
        Ok(PostgresExport {
            _holder: std::sync::Mutex::new(holder),
            snapshot_id,
            spec: self.spec.clone(),
            schema,
            tables,
            sequences,
        })
    }

    pub(super) fn open_loader(&self) -> Result<PostgresLoader> {
        Ok(PostgresLoader {
            client: self.spec.connect()?,
            display: self.display().to_string(),
        })
    }
}

/// Tables that hold rows, with the columns COPY must name (everything but generated columns).
fn data_tables(schema: &Schema) -> Vec<DataTable> {
    schema
        .tables
        .iter()
        .filter(|t| t.partition_by.is_none())
        .map(|t| DataTable {
            name: raw_qualified(&t.schema, &t.name),
            columns: t
                .columns
                .iter()
                .filter(|c| c.generated.is_none())
                .map(|c| c.name.clone())
                .collect(),
            size_bytes: 0,
        })
        .collect()
}

fn quoted_table(raw: &str) -> String {
    match raw.split_once('.') {
        Some((s, n)) => qualified(s, n),
        None => ident(raw),
    }
}

/// ACCESS SHARE locks, as pg_dump takes: no table can be dropped or altered while its rows
/// are read, and nobody's reads or writes wait.
fn lock_tables(client: &mut Client, display: &str, tables: &[DataTable]) -> Result<()> {
    for batch in tables.chunks(500) {
        let names: Vec<String> = batch.iter().map(|t| quoted_table(&t.name)).collect();
        client
            .batch_execute(&format!(
                "LOCK TABLE {} IN ACCESS SHARE MODE",
                names.join(", ")
            ))
            .map_err(|e| db_error(display, "locking the tables for the backup", e))?;
    }
    Ok(())
}

fn table_sizes(client: &mut Client, display: &str, tables: &[DataTable]) -> Result<Vec<i64>> {
    let names: Vec<String> = tables.iter().map(|t| quoted_table(&t.name)).collect();
    let rows = client
        .query(
            "SELECT pg_catalog.pg_relation_size(n::regclass) FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i) ORDER BY i",
            &[&names],
        )
        .map_err(|e| db_error(display, "reading table sizes", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Every sequence's position (free-standing and identity ones), in one round trip.
fn sequence_states(
    client: &mut Client,
    display: &str,
    schema: &Schema,
) -> Result<Vec<SequenceState>> {
    let mut names: Vec<String> = schema
        .sequences
        .iter()
        .map(|s| raw_qualified(&s.schema, &s.name))
        .collect();
    for t in &schema.tables {
        for c in &t.columns {
            if let Some(sequence) = c.identity.as_ref().and_then(|i| i.sequence.clone()) {
                if !c.inherited {
                    names.push(sequence);
                }
            }
        }
    }
    names.sort();
    names.dedup();
    let mut states = Vec::with_capacity(names.len());
    for batch in names.chunks(200) {
        let selects: Vec<String> = batch
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "SELECT {i} AS i, last_value, is_called FROM {}",
                    quoted_table(n)
                )
            })
            .collect();
        let rows = client
            .query(&format!("{} ORDER BY i", selects.join(" UNION ALL ")), &[])
            .map_err(|e| db_error(display, "reading sequence positions", e))?;
        for row in rows {
            let i: i32 = row.get(0);
            states.push(SequenceState {
                name: batch[i as usize].clone(),
                last_value: row.get(1),
                is_called: row.get(2),
            });
        }
    }
    Ok(states)
}

fn column_list(table: &DataTable) -> String {
    let columns: Vec<String> = table.columns.iter().map(|c| ident(c)).collect();
    format!("{} ({})", quoted_table(&table.name), columns.join(", "))
}

impl Export for PostgresExport {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn tables(&self) -> &[DataTable] {
        &self.tables
    }

    fn sequences(&self) -> &[SequenceState] {
        &self.sequences
    }

    fn parts(&self, table: &DataTable, part_bytes: u64) -> Vec<TablePart> {
        const BLOCK: u64 = 8192;
        let size = table.size_bytes.max(0) as u64;
        if part_bytes == 0 || size <= part_bytes {
            return vec![TablePart::WHOLE];
        }
        let blocks = size.div_ceil(BLOCK);
        let count = size.div_ceil(part_bytes);
        let step = blocks.div_ceil(count).max(1);
        let mut parts = Vec::new();
        let mut first = 0;
        while first < blocks {
            let end = first + step;
            // The last part is open-ended: nothing the snapshot can see lies beyond it.
            let end_block = (end < blocks).then_some(end);
            parts.push(TablePart {
                first_block: first,
                end_block,
            });
            first = end;
        }
        parts
    }

    fn worker(&self) -> Result<Box<dyn ExportWorker>> {
        let display = self.spec.display.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Query {
                target: display.clone(),
                what: "starting a backup worker".into(),
                cause: e.to_string(),
            })?;
        let client = self.spec.connect_async(&runtime)?;
        runtime
            .block_on(client.batch_execute(&format!(
                "SET synchronize_seqscans = off; \
                 BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
                 SET TRANSACTION SNAPSHOT '{}'",
                self.snapshot_id
            )))
            .map_err(|e| db_error(&display, "joining the backup snapshot", e))?;
        Ok(Box::new(PostgresExportWorker {
            runtime,
            client,
            display,
        }))
    }
}

/// One backup worker. It uses the asynchronous client on its own single-threaded runtime: COPY
/// sends one message per row, and the blocking client enters its runtime for every message,
/// which cost more than everything else a backup does with the row.
struct PostgresExportWorker {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    display: String,
}

/// Rows are handed on in batches of about this size, so that hashing and chunking work on
/// large buffers instead of one row at a time.
const COPY_BATCH_BYTES: usize = 1 << 20;

/// Rows are sent to the server in writes of about this size (see `copy_in`).
const COPY_IN_BUFFER: usize = 256 << 10;

impl ExportWorker for PostgresExportWorker {
    fn copy_out(
        &mut self,
        table: &DataTable,
        part: &TablePart,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let what = format!("reading rows of {}", table.name);
        if *part != TablePart::WHOLE {
            // A TID range scan reads only the part's blocks (efficient since PostgreSQL 14);
            // the parts, concatenated in order, are the same rows as one sequential scan.
            let columns: Vec<String> = table.columns.iter().map(|c| ident(c)).collect();
            let select = if columns.is_empty() {
                "*".to_string()
            } else {
                columns.join(", ")
            };
            let upper = part
                .end_block
                .map(|end| format!(" AND ctid < '({end},0)'::tid"))
                .unwrap_or_default();
            let sql = format!(
                "COPY (SELECT {select} FROM ONLY {} WHERE ctid >= '({},0)'::tid{upper}) TO STDOUT",
                quoted_table(&table.name),
                part.first_block
            );
            return self.copy_to(&sql, &what, out);
        }
        if table.columns.is_empty() {
            // A table without columns has rows but nothing to say about them; COPY refuses an
            // empty column list, so it is read without one.
            let sql = format!("COPY {} TO STDOUT", quoted_table(&table.name));
            return self.copy_to(&sql, &what, out);
        }
        let sql = format!("COPY {} TO STDOUT", column_list(table));
        self.copy_to(&sql, &what, out)
    }
}

impl PostgresExportWorker {
    fn copy_to(&mut self, sql: &str, what: &str, out: &mut dyn Write) -> Result<u64> {
        use futures_util::StreamExt;
        let (client, display) = (&self.client, &self.display);
        let written_error = |e: std::io::Error| Error::Query {
            target: display.clone(),
            what: what.to_string(),
            cause: e.to_string(),
        };
        self.runtime.block_on(async {
            let stream = client
                .copy_out(sql)
                .await
                .map_err(|e| db_error(display, what, e))?;
            let mut stream = std::pin::pin!(stream);
            let mut batch: Vec<u8> = Vec::with_capacity(COPY_BATCH_BYTES + (64 << 10));
            let mut total = 0u64;
            while let Some(message) = stream.next().await {
                let row = message.map_err(|e| db_error(display, what, e))?;
                batch.extend_from_slice(&row);
                if batch.len() >= COPY_BATCH_BYTES {
                    out.write_all(&batch).map_err(written_error)?;
                    total += batch.len() as u64;
                    batch.clear();
                }
            }
            out.write_all(&batch).map_err(written_error)?;
            Ok(total + batch.len() as u64)
        })
    }
}

/// A restore session.
pub(super) struct PostgresLoader {
    client: Client,
    display: String,
}

impl Loader for PostgresLoader {
    fn run_script(&mut self, statements: &[String]) -> Result<()> {
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| db_error(&self.display, "starting the restore transaction", e))?;
        // Statements name everything with its schema; the session keeps the database's own
        // search_path so that functions whose bodies use unqualified names (called by checks,
        // defaults and index expressions while they are built) find what they expect.
        tx.batch_execute("SET LOCAL check_function_bodies = false")
            .map_err(|e| db_error(&self.display, "restore settings", e))?;
        for statement in statements {
            if let Err(e) = tx.batch_execute(statement) {
                let first_line = statement.lines().next().unwrap_or_default();
                return Err(db_error(
                    &self.display,
                    &format!("restoring the schema (statement `{first_line}`; rolled back)"),
                    e,
                ));
            }
        }
        tx.commit()
            .map_err(|e| db_error(&self.display, "committing the restored schema", e))
    }

    fn copy_in(&mut self, table: &DataTable, rows: &mut dyn Read) -> Result<u64> {
        let what = format!("loading rows of {}", table.name);
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| db_error(&self.display, &what, e))?;
        let sql = if table.columns.is_empty() {
            format!("COPY {} FROM STDIN", quoted_table(&table.name))
        } else {
            format!("COPY {} FROM STDIN", column_list(table))
        };
        let writer = tx
            .copy_in(sql.as_str())
            .map_err(|e| db_error(&self.display, &what, e))?;
        // The client hands each write to its connection task (a runtime round trip): writes
        // of a large buffer, not of `io::copy`'s 8 KiB, keep that cost off the load's time.
        let mut writer = std::io::BufWriter::with_capacity(COPY_IN_BUFFER, writer);
        let io_error = |e: std::io::Error| Error::Query {
            target: self.display.clone(),
            what: what.clone(),
            cause: e.to_string(),
        };
        // A read error (a damaged chunk) must abort the COPY, not finish it with partial rows:
        // dropping the writer unfinished aborts it, and the transaction rolls back.
        std::io::copy(rows, &mut writer).map_err(io_error)?;
        let writer = writer.into_inner().map_err(|e| io_error(e.into_error()))?;
        let loaded = writer
            .finish()
            .map_err(|e| db_error(&self.display, &what, e))?;
        tx.commit().map_err(|e| db_error(&self.display, &what, e))?;
        Ok(loaded)
    }

    fn set_sequences(&mut self, sequences: &[SequenceState]) -> Result<()> {
        for batch in sequences.chunks(200) {
            let calls: Vec<String> = batch
                .iter()
                .map(|s| {
                    format!(
                        "pg_catalog.setval({}::regclass, {}, {})",
                        super::render::literal(&quoted_table(&s.name)),
                        s.last_value,
                        s.is_called
                    )
                })
                .collect();
            self.client
                .batch_execute(&format!("SELECT {}", calls.join(", ")))
                .map_err(|e| db_error(&self.display, "setting sequence positions", e))?;
        }
        Ok(())
    }
}
