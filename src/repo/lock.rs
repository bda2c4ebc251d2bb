//! Repository locks (docs/FORMAT.md, "Locks"): shared for writers (`backup`) and readers of
//! data (`restore`, `rollback`, `verify`, `check`), exclusive for operations that delete (`prune`,
//! `repair index`). A lock is an object under `locks/` naming its
//! holder (host, pid, time); a holder refreshes it every 5 minutes from a background thread, and
//! a lock is stale when it was not refreshed for 30 minutes or its process is gone from this
//! machine. In an encrypted repository lock objects are sealed like every other object. This
//! module does not decide *what* needs a lock; callers do.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::Store;

use super::crypto::{Crypto, ObjectKind};
use super::error::{RepoError, RepoResult};
use super::id::Id;
use super::layout;
use super::time::Timestamp;

/// A lock not refreshed for this long is stale.
pub const STALE_AFTER_SECONDS: i64 = 30 * 60;
/// How often a holder rewrites its lock.
const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    /// Many holders at once (backups).
    Shared,
    /// A single holder, no shared ones (prune).
    Exclusive,
}

/// The content of a lock object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockRecord {
    pub kind: LockKind,
    pub purpose: String,
    pub hostname: String,
    pub pid: u32,
    pub time: Timestamp,
    pub nonce: Id,
}

impl LockRecord {
    fn new(kind: LockKind, purpose: &str) -> LockRecord {
        LockRecord {
            kind,
            purpose: purpose.to_string(),
            hostname: this_host(),
            pid: std::process::id(),
            time: Timestamp::now(),
            nonce: Id::random(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<LockRecord, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// Stale: not refreshed for 30 minutes, or its process is gone from this machine.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        if now.0.saturating_sub(self.time.0) > STALE_AFTER_SECONDS {
            return true;
        }
        self.hostname == this_host() && !process_exists(self.pid)
    }

    fn conflicts_with(&self, kind: LockKind) -> bool {
        self.kind == LockKind::Exclusive || kind == LockKind::Exclusive
    }

    fn describe(&self) -> String {
        format!(
            "{} lock for {} by pid {} on {} since {}",
            match self.kind {
                LockKind::Shared => "shared",
                LockKind::Exclusive => "exclusive",
            },
            self.purpose,
            self.pid,
            self.hostname,
            self.time
        )
    }
}

/// A held lock; released (its object deleted) on drop.
pub struct Lock {
    state: Arc<LockState>,
    refresher: Option<JoinHandle<()>>,
}

struct LockState {
    store: Arc<dyn Store>,
    crypto: Crypto,
    /// Name of the current lock object and its record.
    current: Mutex<(String, LockRecord)>,
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Lock {
    /// Takes a lock, or fails naming the holder of a conflicting one.
    pub fn acquire(
        store: Arc<dyn Store>,
        crypto: &Crypto,
        kind: LockKind,
        purpose: &str,
    ) -> RepoResult<Lock> {
        check_conflicts(store.as_ref(), crypto, kind, None)?;
        let record = LockRecord::new(kind, purpose);
        let name = write_record(store.as_ref(), crypto, &record)?;
        if let Err(e) = check_conflicts(store.as_ref(), crypto, kind, Some(&name)) {
            let _ = store.delete(&name);
            return Err(e);
        }
        let state = Arc::new(LockState {
            store,
            crypto: crypto.clone(),
            current: Mutex::new((name, record)),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let refresher = {
            let state = Arc::clone(&state);
            std::thread::Builder::new()
                .name("strata-lock-refresh".into())
                .spawn(move || state.refresh_until_stopped())
                .ok()
        };
        Ok(Lock { state, refresher })
    }

    /// Checks, before destructive work, that this lock is still in force: its object is still
    /// stored and no live conflicting lock has appeared (which would mean another process took
    /// this one for stale, e.g. after this one could not refresh it for 30 minutes).
    pub fn ensure_held(&self) -> RepoResult<()> {
        // Holding `current` keeps the refresher from replacing the object meanwhile.
        let current = lock_or_recover(&self.state.current);
        let store = self.state.store.as_ref();
        if !store.exists(&current.0)? {
            return Err(RepoError::Locked {
                location: store.location(),
                holder: format!(
                    "this process's own {} lock ({}) was removed by another process",
                    current.1.purpose, current.0
                ),
            });
        }
        check_conflicts(store, &self.state.crypto, current.1.kind, Some(&current.0))
    }

    /// Releases the lock now (also done on drop).
    pub fn release(mut self) -> RepoResult<()> {
        self.stop_refresher();
        let (name, _) = lock_or_recover(&self.state.current).clone();
        self.state.store.delete(&name)?;
        Ok(())
    }

    fn stop_refresher(&mut self) {
        *lock_or_recover(&self.state.stopped) = true;
        self.state.wake.notify_all();
        if let Some(handle) = self.refresher.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.refresher.is_some() {
            self.stop_refresher();
        }
        let (name, _) = lock_or_recover(&self.state.current).clone();
        let _ = self.state.store.delete(&name);
    }
}

impl LockState {
    fn refresh_until_stopped(&self) {
        let mut stopped = lock_or_recover(&self.stopped);
        // `stopped` is checked under the mutex before every wait, so a stop requested before
        // this thread first waits is not missed.
        while !*stopped {
            let (guard, timeout) = match self.wake.wait_timeout(stopped, REFRESH_EVERY) {
                Ok(result) => result,
                Err(poisoned) => poisoned.into_inner(),
            };
            stopped = guard;
            if !*stopped && timeout.timed_out() {
                // A failed refresh is retried at the next tick; the old lock object stays.
                let _ = self.refresh();
            }
        }
    }

    /// Writes a fresh lock object, then removes the previous one.
    fn refresh(&self) -> RepoResult<()> {
        let mut current = lock_or_recover(&self.current);
        let mut record = current.1.clone();
        record.time = Timestamp::now();
        record.nonce = Id::random();
        let name = write_record(self.store.as_ref(), &self.crypto, &record)?;
        let old = std::mem::replace(&mut *current, (name, record));
        self.store.delete(&old.0)?;
        Ok(())
    }
}

fn write_record(store: &dyn Store, crypto: &Crypto, record: &LockRecord) -> RepoResult<String> {
    let bytes = crypto.seal(ObjectKind::Lock, record.encode())?;
    let name = layout::lock_name(&Id::of_object(&bytes));
    store.put(&name, &bytes)?;
    Ok(name)
}

/// Fails if a live lock other than `own` conflicts with taking a `kind` lock.
fn check_conflicts(
    store: &dyn Store,
    crypto: &Crypto,
    kind: LockKind,
    own: Option<&str>,
) -> RepoResult<()> {
    let now = Timestamp::now();
    for object in store.list(layout::LOCKS)? {
        if Some(object.name.as_str()) == own {
            continue;
        }
        let bytes = match store.get(&object.name) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        // An undecodable (or unauthentic) lock object protects nothing; `check` reports nothing
        // about it either, since locks are transient.
        let opened = crypto.open(ObjectKind::Lock, &bytes);
        let Ok(record) = opened.and_then(|plain| LockRecord::decode(&plain)) else {
            continue;
        };
        if record.conflicts_with(kind) && !record.is_stale(now) {
            return Err(RepoError::Locked {
                location: store.location(),
                holder: record.describe(),
            });
        }
    }
    Ok(())
}

fn lock_or_recover<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn this_host() -> String {
    whoami::hostname().unwrap_or_else(|_| "unknown".to_string())
}

/// Whether a process of this machine is running. Where that cannot be told, it is assumed to
/// be, and only the 30-minute rule makes its lock stale.
fn process_exists(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;
    use proptest::prelude::*;

    fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path()));
        (dir, store)
    }

    fn plant(store: &dyn Store, record: &LockRecord) {
        write_record(store, &Crypto::None, record).unwrap();
    }

    fn acquire(store: &Arc<dyn Store>, kind: LockKind, purpose: &str) -> RepoResult<Lock> {
        Lock::acquire(store.clone(), &Crypto::None, kind, purpose)
    }

    #[test]
    fn shared_locks_coexist_and_exclusive_excludes() {
        let (_dir, store) = store();
        let a = acquire(&store, LockKind::Shared, "backup").unwrap();
        let b = acquire(&store, LockKind::Shared, "backup").unwrap();
        let err = acquire(&store, LockKind::Exclusive, "prune").err().unwrap();
        assert!(err.to_string().contains("shared lock for backup"), "{err}");
        drop(a);
        b.release().unwrap();
        let c = acquire(&store, LockKind::Exclusive, "prune").unwrap();
        assert!(acquire(&store, LockKind::Shared, "backup").is_err());
        c.ensure_held().unwrap();
        let mut intruder = LockRecord::new(LockKind::Shared, "backup");
        intruder.hostname = "elsewhere".into();
        plant(store.as_ref(), &intruder);
        assert!(
            c.ensure_held().is_err(),
            "a live conflicting lock went unnoticed"
        );
        for object in store.list(layout::LOCKS).unwrap() {
            store.delete(&object.name).unwrap();
        }
        let err = c.ensure_held().unwrap_err();
        assert!(err.to_string().contains("was removed"), "{err}");
        drop(c);
        assert!(store.list(layout::LOCKS).unwrap().is_empty());
    }

    #[test]
    fn stale_locks_are_ignored() {
        let (_dir, store) = store();
        let mut old = LockRecord::new(LockKind::Exclusive, "prune");
        old.hostname = "elsewhere".into();
        old.time = Timestamp(Timestamp::now().0 - STALE_AFTER_SECONDS - 1);
        plant(store.as_ref(), &old);
        let mut dead = LockRecord::new(LockKind::Exclusive, "prune");
        dead.pid = u32::MAX - 1;
        plant(store.as_ref(), &dead);
        assert!(acquire(&store, LockKind::Shared, "backup").is_ok());
        let mut live = LockRecord::new(LockKind::Exclusive, "prune");
        live.hostname = "elsewhere".into();
        plant(store.as_ref(), &live);
        assert!(acquire(&store, LockKind::Shared, "backup").is_err());
    }

    #[test]
    fn refresh_replaces_the_lock_object() {
        let (_dir, store) = store();
        let lock = acquire(&store, LockKind::Shared, "backup").unwrap();
        let before = store.list(layout::LOCKS).unwrap();
        lock.state.refresh().unwrap();
        let after = store.list(layout::LOCKS).unwrap();
        assert_eq!(after.len(), 1);
        assert_ne!(before, after);
    }

    proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = LockRecord::decode(&bytes);
        }
    }
}
