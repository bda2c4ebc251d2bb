//! Foreign keys added on several sessions at once, as `pg_restore -j` does: adding one reads
//! the whole referencing table and probes the referenced table's key, so a restore's foreign
//! keys in a row would otherwise keep one session busy while the others idle.
//!
//! `ALTER TABLE … ADD FOREIGN KEY` locks both tables (SHARE ROW EXCLUSIVE, which conflicts
//! with itself): two keys sharing a table would only wait for each other, and two keys taking
//! the same pair of tables in opposite orders could deadlock. So a session only starts a key
//! none of whose tables a running key holds; the others wait for it.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::engine;
use crate::error::Result;

use super::sessions::on_sessions;

/// One `ADD FOREIGN KEY` statement and the tables it locks.
#[derive(Debug, Clone)]
pub(super) struct ForeignKey {
    pub(super) sql: String,
    /// The referencing table and the referenced one (the same for a self-reference).
    pub(super) tables: [String; 2],
}

/// Adds `keys` on up to `sessions` sessions, each key in its own transaction, never two keys
/// sharing a table at once.
pub(super) fn add_foreign_keys(
    database: &dyn engine::Engine,
    keys: &[ForeignKey],
    sessions: usize,
) -> Result<()> {
    let schedule = Schedule::new(keys);
    let add_keys = |loader: &mut dyn engine::Loader| -> Result<()> {
        while let Some(k) = schedule.next() {
            let added = loader.run_script(std::slice::from_ref(&keys[k].sql));
            schedule.done(k);
            added?;
        }
        Ok(())
    };
    on_sessions(
        database,
        sessions.min(keys.len()),
        &|| schedule.stop(),
        &add_keys,
    )
}

/// Which keys are left and which tables running keys hold.
struct Schedule<'k> {
    keys: &'k [ForeignKey],
    state: Mutex<State<'k>>,
    changed: Condvar,
}

struct State<'k> {
    left: Vec<usize>,
    busy: HashSet<&'k str>,
    stopped: bool,
}

impl<'k> Schedule<'k> {
    fn new(keys: &'k [ForeignKey]) -> Schedule<'k> {
        Schedule {
            keys,
            state: Mutex::new(State {
                left: (0..keys.len()).collect(),
                busy: HashSet::new(),
                stopped: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// The next key (in the script's order) whose tables are free, waiting while every key
    /// left shares a table with a running one; `None` when none is left or after `stop`.
    fn next(&self) -> Option<usize> {
        let mut state = self.lock();
        loop {
            if state.stopped || state.left.is_empty() {
                return None;
            }
            let free = state.left.iter().position(|&k| {
                self.keys[k]
                    .tables
                    .iter()
                    .all(|t| !state.busy.contains(t.as_str()))
            });
            if let Some(i) = free {
                let k = state.left.remove(i);
                for table in &self.keys[k].tables {
                    state.busy.insert(table);
                }
                return Some(k);
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn done(&self, k: usize) {
        let mut state = self.lock();
        for table in &self.keys[k].tables {
            state.busy.remove(table.as_str());
        }
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State<'k>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(from: &str, to: &str) -> ForeignKey {
        ForeignKey {
            sql: format!("{from} → {to}"),
            tables: [from.into(), to.into()],
        }
    }

    #[test]
    fn keys_sharing_a_table_never_run_at_once() {
        let keys = [
            key("orders", "users"),
            key("events", "users"),
            key("lines", "products"),
        ];
        let schedule = Schedule::new(&keys);
        assert_eq!(schedule.next(), Some(0));
        // `events → users` waits for users; `lines → products` is free.
        assert_eq!(schedule.next(), Some(2));
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| schedule.next());
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished(), "a key sharing `users` started");
            schedule.done(0);
            assert_eq!(waiter.join().unwrap(), Some(1));
        });
        schedule.done(1);
        schedule.done(2);
        assert_eq!(schedule.next(), None);
    }

    #[test]
    fn stopping_releases_waiting_sessions() {
        let keys = [key("a", "b"), key("b", "a")];
        let schedule = Schedule::new(&keys);
        assert_eq!(schedule.next(), Some(0));
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| schedule.next());
            std::thread::sleep(std::time::Duration::from_millis(50));
            schedule.stop();
            assert_eq!(waiter.join().unwrap(), None);
        });
    }
}
