//! Running independent catalog reads on several sessions that see one snapshot.
//!
//! The expensive part of a snapshot is server-side deparsing (`pg_get_constraintdef`,
//! `pg_get_indexdef`, `format_type`, `pg_get_expr`, …), which runs on one core per session.
//! For a plain `inspect`, the main transaction exports its snapshot and extra connections
//! import it (`SET TRANSACTION SNAPSHOT`; [`SESSIONS`] in all), so every session reads exactly
//! the same catalog state. Each session claims reads from one shared list: its own first (the
//! shard of relations whose caches it builds), then anyone's.
//!
//! Only a transaction of our own can be shared this way: `apply` re-inspects inside its open
//! migration transaction, whose uncommitted changes no other session can see, so it runs the
//! same reads one after another on its own session ([`run_serially`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;

use postgres::{Client, IsolationLevel, Transaction};

use crate::error::{Error, Result};

use super::catalog::{query_error, Catalog};
use super::connect::ConnectionSpec;

/// Sessions in a parallel inspection, the main one included. Measured on a two-core machine
/// with the server on the same box: three keep both cores busy while any one session's
/// client is decoding rows or its backend is waiting to send them; each extra session costs
/// a connection and repeats the catalog scans (every shard reads whole catalog tables).
pub(super) const SESSIONS: usize = 3;

/// What a worker needs to join the main session's snapshot.
pub(super) struct SharedSnapshot<'s> {
    pub spec: &'s ConnectionSpec,
    /// The id `pg_export_snapshot()` returned in the main transaction.
    pub id: String,
}

/// Exports the snapshot of `tx` so that workers can join it, or `None` when the server cannot
/// (e.g. a PostgreSQL-compatible engine without exported snapshots). The export must happen in
/// the top-level transaction, so a failure aborts `tx`: the caller then starts over serially.
pub(super) fn export_snapshot(tx: &mut Transaction<'_>) -> Option<String> {
    let row = tx
        .query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
        .ok()?;
    row.try_get(0).ok()
}

/// Runs every job on the main session, in order.
pub(super) fn run_serially<J, P>(
    main: &mut Catalog,
    jobs: &[J],
    run: fn(&J, &mut Catalog) -> Result<P>,
) -> Result<Vec<P>> {
    jobs.iter().map(|job| run(job, main)).collect()
}

/// Runs the jobs on the main session and on workers that join `shared`, and returns the
/// results in job order. `home(job)` names the session (`0..SESSIONS`) a job should run on,
/// because that session has the caches it needs, or `None` for any session. A session runs its
/// own jobs first, then shared ones, then those of a session that has not got to them (a
/// worker that could not connect takes no jobs: the snapshot is still complete, only slower).
/// The first failing job (in job order) is the error returned.
pub(super) fn run_in_parallel<J: Sync, P: Send>(
    main: &mut Catalog,
    shared: &SharedSnapshot,
    jobs: &[J],
    home: fn(&J) -> Option<usize>,
    run: fn(&J, &mut Catalog) -> Result<P>,
) -> Result<Vec<P>> {
    let queue = Queue {
        claimed: jobs.iter().map(|_| AtomicBool::new(false)).collect(),
        failed: AtomicBool::new(false),
        results: Mutex::new((0..jobs.len()).map(|_| None).collect()),
    };
    let (display, options, version) = (main.display.clone(), main.options.clone(), main.version);
    thread::scope(|scope| {
        let workers: Vec<_> = (1..SESSIONS)
            .map(|session| {
                let (queue, display, options) = (&queue, &display, &options);
                scope.spawn(move || {
                    let Ok(mut client) = shared.spec.connect() else {
                        return;
                    };
                    // On a small schema the other sessions may be done before this one has
                    // connected: joining the snapshot then only delays the end.
                    if !queue.has_unclaimed() {
                        return;
                    }
                    let Ok(mut catalog) =
                        join_snapshot(&mut client, &shared.id, display, options, version)
                    else {
                        return;
                    };
                    queue.drain(session, &mut catalog, jobs, home, run);
                    // Read-only: how the transaction ends does not matter, and the reads are
                    // complete, so an error while closing is not worth reporting.
                    let _ = catalog.finish();
                })
            })
            .collect();
        queue.drain(0, main, jobs, home, run);
        for worker in workers {
            // A worker that panicked left its job without a result, reported below.
            let _ = worker.join();
        }
    });
    let results = queue
        .results
        .into_inner()
        .map_err(|_| lost(&main.display))?;
    // Errors come before jobs without a result: a job is left unrun only because another one
    // failed (whose error is returned) or because its session panicked.
    let mut found = Vec::with_capacity(results.len());
    let mut missing = false;
    for result in results {
        match result {
            Some(result) => found.push(result?),
            None => missing = true,
        }
    }
    if missing {
        return Err(lost(&main.display));
    }
    Ok(found)
}

fn lost(display: &str) -> Error {
    Error::Query {
        target: display.to_string(),
        what: "reading the catalog".into(),
        cause: "a catalog session stopped before finishing its reads".into(),
    }
}

/// Opens a worker's transaction on the exported snapshot.
fn join_snapshot<'c>(
    client: &'c mut Client,
    snapshot: &str,
    display: &str,
    options: &crate::engine::InspectOptions,
    version: u32,
) -> Result<Catalog<'c>> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| query_error(display, "the catalog (starting a worker transaction)", e))?;
    tx.batch_execute(&format!(
        "SET TRANSACTION SNAPSHOT '{}'",
        snapshot.replace('\'', "''")
    ))
    .map_err(|e| query_error(display, "the catalog (joining the snapshot)", e))?;
    Catalog::open(tx, display, options, version)
}

/// Jobs claimed one at a time by the sessions, each in its own order of preference.
struct Queue<P> {
    claimed: Vec<AtomicBool>,
    /// Set when a job failed: the others stop taking jobs, the inspection fails anyway.
    failed: AtomicBool,
    results: Mutex<Vec<Option<Result<P>>>>,
}

impl<P> Queue<P> {
    fn has_unclaimed(&self) -> bool {
        self.claimed.iter().any(|c| !c.load(Ordering::Acquire))
    }

    fn drain<J>(
        &self,
        session: usize,
        catalog: &mut Catalog,
        jobs: &[J],
        home: fn(&J) -> Option<usize>,
        run: fn(&J, &mut Catalog) -> Result<P>,
    ) {
        let preference = |job: &J| match home(job) {
            Some(s) if s == session => 0,
            None => 1,
            Some(_) => 2,
        };
        for rank in 0..3 {
            for (i, job) in jobs.iter().enumerate() {
                if self.failed.load(Ordering::Relaxed) {
                    return;
                }
                if preference(job) != rank || self.claimed[i].swap(true, Ordering::AcqRel) {
                    continue;
                }
                let result = run(job, catalog);
                if result.is_err() {
                    self.failed.store(true, Ordering::Relaxed);
                }
                // A poisoned lock means another session panicked; its missing result is
                // reported by the caller.
                if let Ok(mut results) = self.results.lock() {
                    results[i] = Some(result);
                }
            }
        }
    }
}
