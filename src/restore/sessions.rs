//! Work shared out over several database sessions, the way every parallel step of a restore
//! runs (rows, key and index groups, foreign keys): each session takes work from a shared
//! schedule until it is empty; the first failure stops the schedule for all and is returned.

use std::sync::Mutex;

use crate::engine;
use crate::error::{Error, Result};

/// Opens `sessions` loaders on `database` and runs `work` on each, on its own thread. `stop`
/// tells the schedule the sessions share to hand out nothing more (and to release sessions
/// waiting for it): called on the first failure, and when a session panics.
pub(super) fn on_sessions(
    database: &dyn engine::Engine,
    sessions: usize,
    stop: &(dyn Fn() + Sync),
    work: &(dyn Fn(&mut dyn engine::Loader) -> Result<()> + Sync),
) -> Result<()> {
    let loaders = (0..sessions.max(1))
        .map(|_| database.loader())
        .collect::<Result<Vec<_>>>()?;
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for mut loader in loaders {
            let failure = &failure;
            scope.spawn(move || {
                let _guard = StopOnPanic(stop);
                if let Err(e) = work(loader.as_mut()) {
                    failure
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                    stop();
                }
            });
        }
    });
    match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs its function if the thread unwinds while the guard lives: a session that panics
/// must release the sessions waiting for its work, or their scope never ends.
pub(super) struct StopOnPanic<F: Fn()>(pub(super) F);

impl<F: Fn()> Drop for StopOnPanic<F> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            (self.0)();
        }
    }
}
