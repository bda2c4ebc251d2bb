//! The backup workflow: one consistent read of a database into the repository.
//!
//! open the database's export (one snapshot) → stream each table's rows into the repository
//! on `jobs` worker threads, biggest tables first → record sequence positions and the schema →
//! commit the manifest last. A crash before the commit leaves no backup behind (the chunks
//! already stored are reused by the next run).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::engine::{self, DataTable, InspectOptions};
use crate::error::{Error, Result};
use crate::repo::{Backup, BackupKind, Manifest, Repository, SequenceValue, Source, TableEntry};
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
    pub done: usize,
    pub total: usize,
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
        let mut tables: Vec<&DataTable> = export
            .tables()
            .iter()
            .filter(|t| selected(&options.tables, &t.name))
            .collect();
        // Biggest first, so that the last table to finish is a small one.
        tables.sort_by_key(|t| std::cmp::Reverse(t.size_bytes));
        let entries = copy_tables(
            export.as_ref(),
            &writer,
            &tables,
            options.jobs.max(1),
            progress,
        )?;
        manifest.tables = entries;
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

/// Streams tables on `jobs` threads, each with its own session in the export's snapshot.
fn copy_tables(
    export: &dyn engine::Export,
    writer: &crate::repo::Writer<'_>,
    tables: &[&DataTable],
    jobs: usize,
    progress: &(dyn Fn(&TableDone) + Sync),
) -> Result<Vec<TableEntry>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<TableEntry>> = Mutex::new(Vec::with_capacity(tables.len()));
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(tables.len()).max(1) {
            scope.spawn(|| {
                let run = || -> Result<()> {
                    let mut worker = export.worker()?;
                    loop {
                        if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                            return Ok(());
                        }
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(table) = tables.get(i) else {
                            return Ok(());
                        };
                        let mut stream = writer.stream(&table.name);
                        worker.copy_out(table, &mut stream)?;
                        let summary = stream.finish()?;
                        let mut entry = TableEntry::from_stream(table.name.clone(), &summary);
                        entry.columns = table.columns.clone();
                        progress(&TableDone {
                            table: table.name.clone(),
                            rows: entry.rows,
                            bytes: entry.bytes,
                            done: done.fetch_add(1, Ordering::SeqCst) + 1,
                            total: tables.len(),
                        });
                        if let Ok(mut r) = results.lock() {
                            r.push(entry);
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
    results
        .into_inner()
        .map_err(|_| Error::Unsupported("a backup worker panicked".into()))
}
