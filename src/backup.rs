//! The backup workflow: one consistent read of a database into the repository.
//!
//! open the database's export (one snapshot) → stream each table's rows into the repository
//! on `jobs` worker threads, biggest tables first → record sequence positions and the schema →
//! commit the manifest last. A crash before the commit leaves no backup behind (the chunks
//! already stored are reused by the next run).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::engine::{self, DataTable, InspectOptions, TablePart};
use crate::error::{Error, Result};
use crate::repo::{
    Backup, BackupKind, Manifest, Repository, SequenceValue, Source, StreamSummary, TableEntry,
};
use crate::target::Target;

/// What to back up.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub kind: BackupKind,
    pub tags: Vec<String>,
    /// Worker threads (database sessions) reading tables at once.
    pub jobs: usize,
    /// Only tables matching one of these patterns (empty: all).
    pub tables: Vec<String>,
    pub inspect: InspectOptions,
}

/// Progress of a running backup, for a terminal display.
#[derive(Debug, Clone)]
pub struct TableDone {
    pub table: String,
    pub rows: u64,
    pub bytes: u64,
    /// Parts of work finished so far, and in all.
    pub done: usize,
    pub total: usize,
    /// Bytes streamed by every worker so far.
    pub streamed: u64,
    /// The tables' size on disk: a rough estimate of the bytes to stream, for an ETA.
    pub estimated: u64,
    pub elapsed: std::time::Duration,
}

/// Takes a backup of `target` into `repo`. `progress` is called as each table completes.
pub fn backup(
    target: &Target,
    repo: &Repository,
    options: &BackupOptions,
    progress: &(dyn Fn(&TableDone) + Sync),
) -> Result<Backup> {
    let started = Instant::now();
    let mut database = engine::open(target)?;
    let export = database.export(&options.inspect)?;
    let schema = export.schema().clone();
    let source = Source::new(schema.engine, &schema.server_version, &target.display());
    let mut manifest = Manifest::new(options.kind, source);
    manifest.tags = options.tags.clone();
    manifest.schema = Some(schema);
    let writer = repo.writer()?;

    if options.kind != BackupKind::SchemaOnly {
        let tables: Vec<&DataTable> = export
            .tables()
            .iter()
            .filter(|t| selected(&options.tables, &t.name))
            .collect();
        let part_bytes = if options.jobs > 1 { part_bytes() } else { 0 };
        manifest.tables = copy_tables(
            export.as_ref(),
            &writer,
            &tables,
            options.jobs.max(1),
            part_bytes,
            progress,
        )?;
        manifest.tables.sort_by(|a, b| a.name.cmp(&b.name));
        manifest.sequences = export
            .sequences()
            .iter()
            .map(|s| SequenceValue {
                name: s.name.clone(),
                last_value: s.last_value,
                is_called: s.is_called,
            })
            .collect();
    }
    let mut backup = writer.commit(manifest)?;
    backup.manifest.stats.duration_ms = started.elapsed().as_millis() as u64;
    Ok(backup)
}

/// Whether a table passes the `--table` patterns (`*` and `?`; bare or qualified name).
pub fn selected(patterns: &[String], qualified_name: &str) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let bare = qualified_name
        .rsplit_once('.')
        .map_or(qualified_name, |(_, n)| n);
    let options = InspectOptions {
        exclude_tables: patterns.to_vec(),
        ..Default::default()
    };
    let (schema, _) = qualified_name
        .split_once('.')
        .unwrap_or(("", qualified_name));
    !options.keeps_relation(schema, bare)
}

/// Tables bigger than this are cut into parts read by several workers at once, so that one
/// huge table is not one long serial stream (`STRATA_BACKUP_PART_BYTES` overrides it).
const DEFAULT_PART_BYTES: u64 = 256 * 1024 * 1024;

pub(crate) fn part_bytes() -> u64 {
    std::env::var("STRATA_BACKUP_PART_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_PART_BYTES)
}

/// One unit of work: a part of a table.
struct Task<'a> {
    table: usize,
    part: usize,
    data: &'a DataTable,
    range: TablePart,
}

/// Streams tables (or their parts) on `jobs` threads, each with its own session in the
/// export's snapshot; a table's parts become its segments, in order.
fn copy_tables(
    export: &dyn engine::Export,
    writer: &crate::repo::Writer<'_>,
    tables: &[&DataTable],
    jobs: usize,
    part_bytes: u64,
    progress: &(dyn Fn(&TableDone) + Sync),
) -> Result<Vec<TableEntry>> {
    let mut tasks: Vec<Task> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        for (p, range) in export.parts(table, part_bytes).into_iter().enumerate() {
            tasks.push(Task {
                table: i,
                part: p,
                data: table,
                range,
            });
        }
    }
    // Biggest tables first, so that the last piece of work to finish is a small one.
    tasks.sort_by_key(|t| (std::cmp::Reverse(t.data.size_bytes), t.table, t.part));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let streamed = std::sync::atomic::AtomicU64::new(0);
    let estimated: u64 = tables.iter().map(|t| t.size_bytes.max(0) as u64).sum();
    let started = Instant::now();
    let finished: Mutex<Vec<(usize, usize, StreamSummary)>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(tasks.len()).max(1) {
            scope.spawn(|| {
                let run = || -> Result<()> {
                    let mut worker = export.worker()?;
                    loop {
                        if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                            return Ok(());
                        }
                        let Some(task) = tasks.get(next.fetch_add(1, Ordering::SeqCst)) else {
                            return Ok(());
                        };
                        let mut stream = writer.stream(&task.data.name);
                        worker.copy_out(task.data, &task.range, &mut stream)?;
                        let summary = stream.finish()?;
                        progress(&TableDone {
                            table: task.data.name.clone(),
                            rows: summary.newlines,
                            bytes: summary.bytes,
                            done: done.fetch_add(1, Ordering::SeqCst) + 1,
                            total: tasks.len(),
                            streamed: streamed.fetch_add(summary.bytes, Ordering::SeqCst)
                                + summary.bytes,
                            estimated,
                            elapsed: started.elapsed(),
                        });
                        if let Ok(mut f) = finished.lock() {
                            f.push((task.table, task.part, summary));
                        }
                    }
                };
                if let Err(e) = run() {
                    if let Ok(mut f) = failure.lock() {
                        f.get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut finished = finished
        .into_inner()
        .map_err(|_| Error::Unsupported("a backup worker panicked".into()))?;
    finished.sort_by_key(|(table, part, _)| (*table, *part));
    let mut entries: Vec<TableEntry> = tables
        .iter()
        .map(|t| {
            let mut entry = TableEntry::new(t.name.clone());
            entry.columns = t.columns.clone();
            entry
        })
        .collect();
    for (table, _, summary) in &finished {
        entries[*table].add_segment(summary);
    }
    Ok(entries)
}
