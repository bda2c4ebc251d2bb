//! Running a plan on SQLite: one `BEGIN IMMEDIATE` transaction on a connection of its own,
//! opened read-write, that waits for other writers up to the apply's lock timeout.
//!
//! Foreign keys are switched off for the connection first (SQLite ignores the switch inside a
//! transaction), so that a table rebuild's `DROP TABLE` never cascades to child rows; before
//! committing, `PRAGMA foreign_key_check` must find no row pointing at a missing parent, and the
//! database, inspected inside the transaction, must match the plan's target. Any failure rolls
//! everything back: the file is left as it was.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::diff::{Phased, Step};
use crate::engine::ExecuteOptions;
use crate::error::{Error, Result, StepFailure};
use crate::schema::Schema;

/// How many dangling references a failed foreign key check names.
const SHOWN_VIOLATIONS: usize = 5;

/// Opens the database file for writing; a file the process may not write is an error that
/// says so (SQLite would silently open it read-only).
fn open_for_writing(path: &Path, display: &str) -> Result<Connection> {
    crate::target::check_sqlite_file(path)?;
    let connect_error = |cause: String| Error::Connect {
        target: display.to_string(),
        cause,
        hint: " — apply needs write access to the database file and its directory (snapshot, \
               diff and drift only read)"
            .into(),
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| connect_error(e.to_string()))?;
    let read_only = conn
        .is_readonly(rusqlite::MAIN_DB)
        .map_err(|e| connect_error(e.to_string()))?;
    if read_only {
        return Err(connect_error("the file is read-only".into()));
    }
    Ok(conn)
}

/// Runs `steps` on the database at `path`.
pub(super) fn execute(
    path: &Path,
    display: &str,
    steps: &[Step],
    options: &ExecuteOptions,
    verify: &mut dyn FnMut(&Schema) -> Result<()>,
) -> Result<()> {
    let conn = open_for_writing(path, display)?;
    let setting = |what: &str, e: rusqlite::Error| Error::Query {
        target: display.to_string(),
        what: what.to_string(),
        cause: e.to_string(),
    };
    conn.busy_timeout(options.lock_timeout)
        .map_err(|e| setting("setting busy_timeout", e))?;
    let foreign_keys: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .map_err(|e| setting("reading PRAGMA foreign_keys", e))?;
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(|e| setting("PRAGMA foreign_keys = OFF", e))?;
    let run = Run {
        conn: &conn,
        display,
        total: steps.len(),
        lock_timeout: options.lock_timeout,
    };
    let outcome = run.all(steps, options, verify);
    // The connection is this apply's own, but leave it as it was found.
    let restored = conn
        .pragma_update(None, "foreign_keys", foreign_keys)
        .map_err(|e| setting("restoring PRAGMA foreign_keys", e));
    outcome.and(restored)
}

struct Run<'a> {
    conn: &'a Connection,
    display: &'a str,
    total: usize,
    lock_timeout: Duration,
}

impl Run<'_> {
    fn all(
        &self,
        steps: &[Step],
        options: &ExecuteOptions,
        verify: &mut dyn FnMut(&Schema) -> Result<()>,
    ) -> Result<()> {
        let phased = Phased::new(steps);
        // SQLite can run every statement in a transaction; a reviewed plan may still say
        // otherwise, and is followed.
        for (number, step) in &phased.before {
            self.step(*number, step, " (nothing else was run)")?;
        }
        let kept = if phased.before.is_empty() {
            ""
        } else {
            "; the steps before the transaction stay applied"
        };
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.failure("starting the transaction", e))?;
        let inside = self.inside(&phased.inside, options, verify, kept);
        if let Err(e) = inside {
            self.rollback();
            return Err(e);
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            self.rollback();
            return Err(self.failure("committing", e));
        }
        for (number, step) in &phased.after {
            self.step(
                *number,
                step,
                " (the transaction before it was committed; rerun apply to finish)",
            )?;
        }
        Ok(())
    }

    /// The transaction's work: the steps, the foreign key check, the verifying inspection.
    fn inside(
        &self,
        steps: &[(usize, &Step)],
        options: &ExecuteOptions,
        verify: &mut dyn FnMut(&Schema) -> Result<()>,
        kept: &str,
    ) -> Result<()> {
        let rolled_back = format!("; the transaction was rolled back{kept}");
        for (number, step) in steps {
            self.step(*number, step, &rolled_back)?;
        }
        // A step that failed halfway through a rebuild may have left this on.
        self.conn
            .execute_batch("PRAGMA legacy_alter_table = OFF")
            .map_err(|e| self.failure("resetting legacy_alter_table", e))?;
        self.check_foreign_keys()?;
        let (after, _) = super::inspect::inspect(self.conn, self.display, &options.inspect)?;
        verify(&after)
    }

    fn step(&self, number: usize, step: &Step, rolled_back: &str) -> Result<()> {
        self.conn.execute_batch(&step.sql).map_err(|e| {
            Error::StepFailed(Box::new(StepFailure {
                target: self.display.to_string(),
                number,
                total: self.total,
                reason: step.reason.clone(),
                sql: step.sql.trim().to_string(),
                cause: self.cause(&e),
                rolled_back: rolled_back.to_string(),
            }))
        })
    }

    /// Every row whose foreign key points at a missing parent row is an error: foreign keys
    /// were off while the steps ran, so nothing else checked them.
    fn check_foreign_keys(&self) -> Result<()> {
        let what = "checking foreign keys before committing";
        let mut statement = self
            .conn
            .prepare("PRAGMA foreign_key_check")
            .map_err(|e| self.failure(what, e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<i64>>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.failure(what, e))?;
        let violations = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.failure(what, e))?;
        if violations.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = violations
            .iter()
            .take(SHOWN_VIOLATIONS)
            .map(|(table, rowid, parent)| match rowid {
                Some(rowid) => format!("{table} rowid {rowid} → {parent}"),
                None => format!("a row of {table} → {parent}"),
            })
            .collect();
        Err(Error::Refused(format!(
            "{}: after the plan ran, {} row(s) reference missing parent rows ({}) — the \
             transaction was rolled back and the database is unchanged; fix those rows or the \
             foreign keys in the schema file",
            self.display,
            violations.len(),
            shown.join("; ")
        )))
    }

    fn rollback(&self) {
        // Some errors end the transaction themselves; there is then nothing to roll back.
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn failure(&self, what: &str, e: rusqlite::Error) -> Error {
        Error::Query {
            target: self.display.to_string(),
            what: what.to_string(),
            cause: self.cause(&e),
        }
    }

    /// SQLite's message, with what to do about the errors a user can fix.
    fn cause(&self, e: &rusqlite::Error) -> String {
        let hint = match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
                " — another connection is writing to the database; waited {} ms \
                 (--lock-timeout): retry later or raise --lock-timeout",
                self.lock_timeout.as_millis()
            ),
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen) => " — SQLite could not write \
                 the database or create its journal next to it: the file and its directory must \
                 be writable"
                .to_string(),
            _ => String::new(),
        };
        format!("{e}{hint}")
    }
}
