//! Sleep timers: tasks waiting until a deadline (`schedule_timeout()`,
//! `nanosleep`), kept in deadline order like Linux's hrtimer red-black tree.
//!
//! The kernel adds a timer and blocks the task; on every tick or polling
//! check it calls `expire(now)` and wakes the returned tasks; in tickless
//! mode it programs its next check at `next_deadline()`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::{Nanos, TaskId};

/// Names one armed timer, for `cancel`. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(u64);

/// Armed timers ordered by `(deadline, id)`: equal deadlines fire in the
/// order they were added.
/// `T` names the task to wake (a [`TaskId`] in the model, the task itself
/// in the kernel).
#[derive(Clone, Debug)]
pub struct TimerQueue<T = TaskId> {
    by_deadline: BTreeMap<(Nanos, TimerId), T>,
    deadlines: BTreeMap<TimerId, Nanos>,
    next_id: u64,
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimerQueue<T> {
    pub const fn new() -> Self {
        TimerQueue {
            by_deadline: BTreeMap::new(),
            deadlines: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// Arms a timer that wakes `task` at `deadline`.
    pub fn add(&mut self, deadline: Nanos, task: T) -> TimerId {
        let id = TimerId(self.next_id);
        self.next_id += 1;
        self.by_deadline.insert((deadline, id), task);
        self.deadlines.insert(id, deadline);
        id
    }

    /// Disarms a timer (the task woke for another reason). Returns `false` if
    /// it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        match self.deadlines.remove(&id) {
            Some(deadline) => self.by_deadline.remove(&(deadline, id)).is_some(),
            None => false,
        }
    }

    /// Removes every timer due at `now` (deadline <= now) and returns their
    /// tasks, earliest deadline first.
    pub fn expire(&mut self, now: Nanos) -> Vec<T> {
        let mut due = Vec::new();
        while let Some(entry) = self.by_deadline.first_entry() {
            let (deadline, id) = *entry.key();
            if deadline > now {
                break;
            }
            due.push(entry.remove());
            self.deadlines.remove(&id);
        }
        due
    }

    /// The earliest armed deadline.
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.by_deadline
            .first_key_value()
            .map(|(&(deadline, _), _)| deadline)
    }

    pub fn len(&self) -> usize {
        self.deadlines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deadlines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_deadline_order_then_insertion_order() {
        let mut q = TimerQueue::new();
        q.add(300, 3);
        q.add(100, 1);
        q.add(200, 20);
        q.add(200, 21);
        q.add(500, 5);
        assert_eq!(q.len(), 5);
        assert_eq!(q.next_deadline(), Some(100));
        assert!(q.expire(99).is_empty());
        assert_eq!(q.expire(300), [1, 20, 21, 3]);
        assert_eq!(q.next_deadline(), Some(500));
        assert!(q.expire(300).is_empty(), "fired timers are gone");
        assert_eq!(q.expire(u64::MAX), [5]);
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn cancel_disarms_once() {
        let mut q = TimerQueue::new();
        let a = q.add(100, 1);
        let b = q.add(100, 2);
        let c = q.add(50, 3);
        assert!(q.cancel(a));
        assert!(!q.cancel(a));
        assert_eq!(q.next_deadline(), Some(50));
        assert!(q.cancel(c));
        assert_eq!(q.next_deadline(), Some(100));
        assert_eq!(q.expire(100), [2]);
        assert!(!q.cancel(b), "already fired");
        assert!(q.is_empty());
    }
}
