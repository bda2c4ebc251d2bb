//! The data phase's work as one queue shared by the loading sessions: every part of every
//! table's rows and, when keys and indexes are built during the data phase, each table's group
//! of key and index statements, which becomes ready once the last part of its table is in.
//!
//! A session takes a ready group first, then the next part (biggest tables first), and waits
//! when neither is there but parts are still loading elsewhere: so the sessions that run out of
//! rows to load build the finished tables' indexes while the big tables are still loading, as
//! `pg_restore -j` does, instead of all sessions waiting for the last COPY before any index
//! build starts.
//!
//! A table may also wait for others: loading rows into tables whose foreign keys are in place
//! (a `--data-only` restore), a referencing table's parts are handed out only once the tables
//! it references are in.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// One piece of work for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Task {
    /// Part `part` of table `entry`'s rows.
    Part { entry: usize, part: usize },
    /// The key and index group `group`, its table's rows all in.
    Build { group: usize },
}

/// Parts and groups handed out to sessions, in a safe order.
pub(super) struct Queue {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    parts: VecDeque<(usize, usize)>,
    /// Parts of each table not finished yet.
    unfinished: Vec<usize>,
    /// Tables each table still waits for before its parts may load.
    waiting_for: Vec<usize>,
    /// The tables waiting for each table.
    waited_by: Vec<Vec<usize>>,
    /// The group waiting for each table, if any.
    group_of: Vec<Option<usize>>,
    ready: VecDeque<usize>,
    /// Groups not handed out yet (ready or waiting for their table).
    groups_left: usize,
    stopped: bool,
}

impl Queue {
    /// `parts[e]`: how many parts table `e` has (at least one task each); `group_of[e]`: the
    /// group that waits for table `e`; `groups`: how many groups there are (groups no table
    /// waits for are ready at once). Parts are handed out in `order`, those of table `e` only
    /// once every table in `after[e]` is finished (the caller makes sure `after` has no cycle).
    pub(super) fn new(
        order: Vec<(usize, usize)>,
        parts: &[usize],
        group_of: Vec<Option<usize>>,
        groups: usize,
        after: &[Vec<usize>],
    ) -> Queue {
        let mut waited_by = vec![Vec::new(); parts.len()];
        for (e, before) in after.iter().enumerate() {
            for &b in before {
                waited_by[b].push(e);
            }
        }
        let waited: Vec<bool> = (0..groups).map(|g| group_of.contains(&Some(g))).collect();
        let ready = (0..groups).filter(|&g| !waited[g]).collect();
        Queue {
            state: Mutex::new(State {
                parts: order.into(),
                unfinished: parts.iter().map(|&p| p.max(1)).collect(),
                waiting_for: (0..parts.len())
                    .map(|e| after.get(e).map_or(0, Vec::len))
                    .collect(),
                waited_by,
                group_of,
                ready,
                groups_left: groups,
                stopped: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// The next task, waiting while only groups of tables still loading are left; `None` when
    /// everything is handed out or the queue was stopped.
    pub(super) fn next(&self) -> Option<Task> {
        let mut state = self.lock();
        loop {
            if state.stopped {
                return None;
            }
            if let Some(group) = state.ready.pop_front() {
                state.groups_left -= 1;
                return Some(Task::Build { group });
            }
            let free = state
                .parts
                .iter()
                .position(|&(entry, _)| state.waiting_for[entry] == 0);
            if let Some((entry, part)) = free.and_then(|i| state.parts.remove(i)) {
                return Some(Task::Part { entry, part });
            }
            if state.parts.is_empty() && state.groups_left == 0 {
                return None;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Records that one part of table `entry` is in; true when it was the table's last.
    pub(super) fn part_done(&self, entry: usize) -> bool {
        let mut state = self.lock();
        state.unfinished[entry] -= 1;
        let finished = state.unfinished[entry] == 0;
        if finished {
            if let Some(group) = state.group_of[entry] {
                state.ready.push_back(group);
            }
            for waiting in std::mem::take(&mut state.waited_by[entry]) {
                state.waiting_for[waiting] -= 1;
            }
            self.changed.notify_all();
        }
        finished
    }

    /// Hands out nothing more (a session failed): waiting sessions return.
    pub(super) fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore::sessions::StopOnPanic;

    fn drain_serially(queue: &Queue) -> Vec<Task> {
        let mut done = Vec::new();
        while let Some(task) = queue.next() {
            if let Task::Part { entry, .. } = task {
                queue.part_done(entry);
            }
            done.push(task);
        }
        done
    }

    #[test]
    fn a_group_is_handed_out_right_after_its_tables_last_part() {
        // Table 0 in two parts, table 1 in one; group 0 waits for table 1, group 1 for
        // table 0, group 2 for no table (ready at once).
        let queue = Queue::new(
            vec![(0, 0), (0, 1), (1, 0)],
            &[2, 1],
            vec![Some(1), Some(0)],
            3,
            &[],
        );
        let tasks = drain_serially(&queue);
        assert_eq!(
            tasks,
            vec![
                Task::Build { group: 2 },
                Task::Part { entry: 0, part: 0 },
                Task::Part { entry: 0, part: 1 },
                Task::Build { group: 1 },
                Task::Part { entry: 1, part: 0 },
                Task::Build { group: 0 },
            ]
        );
    }

    #[test]
    fn a_session_waits_for_a_group_whose_table_another_session_is_loading() {
        let queue = Queue::new(vec![(0, 0)], &[1], vec![Some(0)], 1, &[]);
        assert_eq!(queue.next(), Some(Task::Part { entry: 0, part: 0 }));
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| queue.next());
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(queue.part_done(0));
            assert_eq!(waiter.join().unwrap(), Some(Task::Build { group: 0 }));
        });
        assert_eq!(queue.next(), None);
    }

    #[test]
    fn stopping_releases_waiting_sessions() {
        let queue = Queue::new(vec![(0, 0)], &[1], vec![Some(0)], 1, &[]);
        assert_eq!(queue.next(), Some(Task::Part { entry: 0, part: 0 }));
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| queue.next());
            std::thread::sleep(std::time::Duration::from_millis(50));
            queue.stop();
            assert_eq!(waiter.join().unwrap(), None);
        });
    }

    #[test]
    fn a_table_loads_only_after_the_tables_it_waits_for() {
        // Table 0 (biggest, first in order) waits for table 1, which waits for table 2.
        let queue = Queue::new(
            vec![(0, 0), (1, 0), (1, 1), (2, 0)],
            &[1, 2, 1],
            vec![None, None, None],
            0,
            &[vec![1], vec![2], vec![]],
        );
        assert_eq!(
            drain_serially(&queue),
            vec![
                Task::Part { entry: 2, part: 0 },
                Task::Part { entry: 1, part: 0 },
                Task::Part { entry: 1, part: 1 },
                Task::Part { entry: 0, part: 0 },
            ]
        );
    }

    #[test]
    fn a_session_waits_while_the_table_its_next_part_needs_is_loading() {
        let queue = Queue::new(
            vec![(1, 0), (0, 0)],
            &[1, 1],
            vec![None, None],
            0,
            &[vec![1], vec![]],
        );
        assert_eq!(queue.next(), Some(Task::Part { entry: 1, part: 0 }));
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| queue.next());
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(queue.part_done(1));
            assert_eq!(
                waiter.join().unwrap(),
                Some(Task::Part { entry: 0, part: 0 })
            );
        });
        assert!(queue.part_done(0));
        assert_eq!(queue.next(), None);
    }

    #[test]
    fn a_panicking_session_releases_the_waiting_ones() {
        let queue = Queue::new(vec![(0, 0)], &[1], vec![Some(0)], 1, &[]);
        let (took_part, part_taken) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let loader = scope.spawn(|| {
                let _guard = StopOnPanic(|| queue.stop());
                let task = queue.next();
                took_part.send(task).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
                panic!("a session fails while loading");
            });
            let task = part_taken.recv().unwrap();
            assert_eq!(task, Some(Task::Part { entry: 0, part: 0 }));
            // The group waits for the part the panicking session holds.
            let (sent, received) = std::sync::mpsc::channel();
            let waiting = &queue;
            scope.spawn(move || sent.send(waiting.next()).unwrap());
            let released = received.recv_timeout(std::time::Duration::from_secs(5));
            queue.stop(); // lets the waiter go if the guard did not
            assert_eq!(released, Ok(None), "the waiting session was not released");
            assert!(loader.join().is_err());
        });
    }
}
