//! Running a plan on PostgreSQL: statements that cannot run in a transaction first (enum
//! values) or last (concurrent index builds); everything else in one transaction with a lock
//! timeout, verified by re-inspecting the database *inside* that transaction before it
//! commits. Any failure rolls the transaction back and names the step.

use std::time::Duration;

use crate::diff::{Phased, Step};
use crate::engine::ExecuteOptions;
use crate::error::{Error, Result, StepFailure};
use crate::schema::Schema;

use super::Postgres;

impl Postgres {
    pub(super) fn execute_steps(
        &mut self,
        steps: &[Step],
        options: &ExecuteOptions,
        verify: &mut dyn FnMut(&Schema) -> Result<()>,
    ) -> Result<()> {
        let total = steps.len();
        let Phased {
            before,
            inside,
            after,
        } = Phased::new(steps);

        let timeout = lock_timeout_setting(options.lock_timeout);
        let display = self.display().to_string();
        // The plan's statements name everything with its schema, and function bodies are not
        // checked against tables created later in the same plan. The session keeps the
        // database's search_path, so functions with unqualified bodies, run while a check or
        // index is built, see what the application sees.
        self.client()
            .batch_execute(&format!(
                "SET lock_timeout = '{timeout}'; SET check_function_bodies = false"
            ))
            .map_err(|e| step_error(&display, 0, total, "set lock_timeout", "", &e, ""))?;
        for (number, step) in &before {
            self.client().batch_execute(&step.sql).map_err(|e| {
                step_error(
                    &display,
                    *number,
                    total,
                    &step.reason,
                    &step.sql,
                    &e,
                    " (nothing else was run)",
                )
            })?;
        }
        let kept = if before.is_empty() {
            String::new()
        } else {
            format!(
                "; the {} step(s) that cannot run in a transaction before it stay applied",
                before.len()
            )
        };
        let mut tx = self
            .client()
            .transaction()
            .map_err(|e| step_error(&display, 0, total, "begin", "", &e, ""))?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = '{timeout}'"))
            .map_err(|e| step_error(&display, 0, total, "set lock_timeout", "", &e, ""))?;
        for (number, step) in &inside {
            if let Err(e) = tx.batch_execute(&step.sql) {
                let rolled_back = format!("; the transaction was rolled back{kept}");
                return Err(step_error(
                    &display,
                    *number,
                    total,
                    &step.reason,
                    &step.sql,
                    &e,
                    &rolled_back,
                ));
            }
        }
        let savepoint = tx
            .transaction()
            .map_err(|e| step_error(&display, 0, total, "verify", "", &e, ""))?;
        let (after_schema, _) = super::inspect::inspect_in(savepoint, &display, &options.inspect)?;
        verify(&after_schema)?;
        tx.commit()
            .map_err(|e| step_error(&display, total, total, "commit", "COMMIT", &e, &kept))?;
        for (number, step) in &after {
            self.client().batch_execute(&step.sql).map_err(|e| {
                step_error(
                    &display,
                    *number,
                    total,
                    &step.reason,
                    &step.sql,
                    &e,
                    " (the transaction before it was committed; rerun apply to finish)",
                )
            })?;
        }
        Ok(())
    }

    /// Runs a counting query (a plan step's pre-check).
    pub(super) fn count_rows(&mut self, sql: &str) -> Result<i64> {
        let display = self.display().to_string();
        let row = self
            .client()
            .query_one(sql, &[])
            .map_err(|e| Error::Query {
                target: display,
                what: format!("pre-check `{sql}`"),
                cause: server_message(&e),
            })?;
        Ok(row.get(0))
    }
}

/// Whole milliseconds, as PostgreSQL accepts them.
fn lock_timeout_setting(timeout: Duration) -> String {
    format!("{}ms", timeout.as_millis())
}

fn server_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if db.code() == &postgres::error::SqlState::LOCK_NOT_AVAILABLE {
                text.push_str(
                    " — another transaction holds a lock; retry later or raise --lock-timeout",
                );
            }
            text
        }
        None => super::connect::error_chain(e),
    }
}

fn step_error(
    display: &str,
    number: usize,
    total: usize,
    reason: &str,
    sql: &str,
    e: &postgres::Error,
    rolled_back: &str,
) -> Error {
    Error::StepFailed(Box::new(StepFailure {
        target: display.to_string(),
        number,
        total,
        reason: reason.to_string(),
        sql: sql.trim().to_string(),
        cause: server_message(e),
        rolled_back: rolled_back.to_string(),
    }))
}
