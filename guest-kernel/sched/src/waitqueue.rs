//! A FIFO of sleeping tasks, Linux's `wait_queue_head_t` reduced to task
//! handles: `T` is whatever names a task to its waker (a [`TaskId`] in the
//! model, the task itself in the kernel).
//!
//! The pattern (the kernel protects each queue with a lock of its own): a
//! task that must wait pushes itself, announces that it is going to sleep,
//! checks its condition once more and sleeps; the event's producer changes
//! the condition, pops (or drains) and wakes each task. A wakeup that comes
//! between "announced" and "asleep" cancels the sleep, so none is lost.

use alloc::collections::VecDeque;

use crate::TaskId;

/// Sleeping tasks in arrival order; a task is in the queue at most once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitQueue<T = TaskId> {
    waiters: VecDeque<T>,
}

impl<T> Default for WaitQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> WaitQueue<T> {
    pub const fn new() -> Self {
        WaitQueue {
            waiters: VecDeque::new(),
        }
    }
}

impl<T: PartialEq> WaitQueue<T> {
    /// Appends `task` (`add_wait_queue_entry_tail()`). Returns `false`, and
    /// changes nothing, if it is already waiting here.
    pub fn push(&mut self, task: T) -> bool {
        if self.contains(&task) {
            return false;
        }
        self.waiters.push_back(task);
        true
    }

    /// Removes and returns the longest waiter (`wake_up()` of one exclusive waiter).
    pub fn pop(&mut self) -> Option<T> {
        self.waiters.pop_front()
    }

    /// Removes `task` wherever it is, e.g. after a timeout or a signal
    /// (`remove_wait_queue()`). Returns whether it was waiting.
    pub fn remove(&mut self, task: &T) -> bool {
        match self.waiters.iter().position(|t| t == task) {
            Some(i) => self.waiters.remove(i).is_some(),
            None => false,
        }
    }

    /// Removes all waiters, oldest first (`wake_up_all()`).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.waiters.drain(..)
    }

    pub fn contains(&self, task: &T) -> bool {
        self.waiters.contains(task)
    }

    /// The waiters, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.waiters.iter()
    }

    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn fifo_order_no_duplicates() {
        let mut q = WaitQueue::new();
        assert!(q.is_empty());
        assert!(q.push(3));
        assert!(q.push(1));
        assert!(q.push(2));
        assert!(!q.push(1), "already waiting");
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn remove_and_drain() {
        let mut q = WaitQueue::new();
        for t in [5, 6, 7, 8] {
            q.push(t);
        }
        assert!(q.remove(&6));
        assert!(!q.remove(&6));
        assert!(q.contains(&7));
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [5, 7, 8]);
        assert_eq!(q.drain().collect::<Vec<_>>(), [5, 7, 8]);
        assert!(q.is_empty());
        assert!(q.push(6), "can wait again after draining");
    }
}
