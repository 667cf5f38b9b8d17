//! Sleeping locks as pure state machines: a counting semaphore
//! (kernel/locking/semaphore.c) and a mutex with strict FIFO hand-off.
//!
//! They decide who owns what and whom to wake; the kernel keeps each one
//! under a lock of its own and does the sleeping and waking (`T` names a
//! task: a [`TaskId`] in the model, the task itself in the kernel):
//!
//! ```text
//! match sem.down(me) { Acquired => go on,
//!                      MustWait => sleep until !sem.is_waiting(me) }
//! if let Some(t) = sem.up() { wake(t) }   // t now holds the unit
//! ```
//!
//! Hand-off: a released unit or lock passes straight to the first waiter
//! instead of being put back for anyone to grab. The woken task therefore
//! cannot find it taken again, and waiters are served strictly in arrival
//! order (Linux's semaphore `__up()` does this; Linux's mutex hands off only
//! to a starving waiter, we always do). A waiter that wakes for another
//! reason sees it is still waiting and sleeps again.

use core::fmt::Debug;

use crate::TaskId;
use crate::waitqueue::WaitQueue;

/// The outcome of `Semaphore::down` / `Mutex::lock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// The caller holds it now and goes on.
    Acquired,
    /// The caller was queued and must block; whoever releases it later gets
    /// the caller's id back to wake, and the caller then holds it.
    MustWait,
}

/// A counting semaphore: `count` free units plus a FIFO of waiters. The count
/// is never negative, and there are waiters only while it is zero.
#[derive(Clone, Debug, Default)]
pub struct Semaphore<T = TaskId> {
    count: u32,
    waiters: WaitQueue<T>,
}

impl<T: PartialEq + Debug> Semaphore<T> {
    pub const fn new(count: u32) -> Self {
        Semaphore {
            count,
            waiters: WaitQueue::new(),
        }
    }

    /// Takes a unit, or queues `task` to wait for one (`down()`).
    pub fn down(&mut self, task: T) -> Acquire {
        if self.count > 0 {
            self.count -= 1;
            return Acquire::Acquired;
        }
        assert!(
            !self.waiters.contains(&task),
            "task {task:?} is already waiting on this semaphore"
        );
        self.waiters.push(task);
        Acquire::MustWait
    }

    /// Takes a unit if one is free, never waits (`down_trylock()`, which
    /// returns the opposite truth value in Linux).
    pub fn try_down(&mut self) -> bool {
        if self.count > 0 {
            self.count -= 1;
            return true;
        }
        false
    }

    /// Releases a unit (`up()`): hands it to the first waiter and returns that
    /// task for the caller to wake, or returns it to the count.
    pub fn up(&mut self) -> Option<T> {
        let next = self.waiters.pop();
        if next.is_none() {
            self.count = self.count.checked_add(1).expect("semaphore count overflow");
        }
        next
    }

    /// Withdraws a waiter that gives up (timeout, signal): it holds nothing.
    pub fn cancel_wait(&mut self, task: &T) -> bool {
        self.waiters.remove(task)
    }

    /// Whether `task` still waits; once `up` has handed it the unit, it does not.
    pub fn is_waiting(&self, task: &T) -> bool {
        self.waiters.contains(task)
    }

    /// Free units.
    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn waiters(&self) -> usize {
        self.waiters.len()
    }
}

/// `Mutex::unlock` by a task that does not hold the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotOwner;

impl core::fmt::Display for NotOwner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("mutex unlocked by a task that does not own it")
    }
}

impl core::error::Error for NotOwner {}

/// A sleeping mutex with an owner and a FIFO of waiters.
#[derive(Clone, Debug, Default)]
pub struct Mutex<T = TaskId> {
    owner: Option<T>,
    waiters: WaitQueue<T>,
}

impl<T: Clone + PartialEq + Debug> Mutex<T> {
    pub const fn new() -> Self {
        Mutex {
            owner: None,
            waiters: WaitQueue::new(),
        }
    }

    /// Takes the lock or queues `task` behind the current owner. Panics if
    /// `task` already owns it or already waits for it: that is a self-deadlock,
    /// which Linux's lockdep reports and which would otherwise hang silently.
    pub fn lock(&mut self, task: T) -> Acquire {
        match &self.owner {
            None => {
                self.owner = Some(task);
                Acquire::Acquired
            }
            Some(owner) => {
                assert!(
                    *owner != task,
                    "task {task:?} locks a mutex it already owns"
                );
                assert!(
                    !self.waiters.contains(&task),
                    "task {task:?} is already waiting on this mutex"
                );
                self.waiters.push(task);
                Acquire::MustWait
            }
        }
    }

    /// Takes the lock only if it is free (`mutex_trylock()`).
    pub fn try_lock(&mut self, task: T) -> bool {
        if self.owner.is_none() {
            self.owner = Some(task);
            return true;
        }
        false
    }

    /// Releases the lock. The first waiter, if any, becomes the owner and is
    /// returned for the caller to wake. Only the owner may unlock.
    pub fn unlock(&mut self, task: &T) -> Result<Option<T>, NotOwner> {
        if self.owner.as_ref() != Some(task) {
            return Err(NotOwner);
        }
        self.owner = self.waiters.pop();
        Ok(self.owner.clone())
    }

    /// Withdraws a waiter that gives up (timeout, signal, exit).
    pub fn cancel_wait(&mut self, task: &T) -> bool {
        self.waiters.remove(task)
    }

    pub fn owner(&self) -> Option<&T> {
        self.owner.as_ref()
    }

    pub fn is_locked(&self) -> bool {
        self.owner.is_some()
    }

    pub fn waiters(&self) -> usize {
        self.waiters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semaphore_counts_down_then_queues_in_fifo_order() {
        let mut sem = Semaphore::new(2);
        assert_eq!(sem.down(1), Acquire::Acquired);
        assert_eq!(sem.down(2), Acquire::Acquired);
        assert_eq!(sem.count(), 0);
        assert_eq!(sem.down(3), Acquire::MustWait);
        assert_eq!(sem.down(4), Acquire::MustWait);
        assert!(!sem.try_down());
        assert_eq!(sem.count(), 0, "never negative");
        // Units are handed to waiters in arrival order; the count stays 0.
        assert_eq!(sem.up(), Some(3));
        assert_eq!(sem.count(), 0);
        assert_eq!(sem.up(), Some(4));
        assert_eq!(sem.up(), None);
        assert_eq!(sem.up(), None);
        assert_eq!(sem.count(), 2);
        assert!(sem.try_down());
        assert_eq!(sem.count(), 1);
    }

    #[test]
    fn semaphore_cancelled_waiter_is_skipped() {
        let mut sem = Semaphore::new(0);
        assert_eq!(sem.down(1), Acquire::MustWait);
        assert_eq!(sem.down(2), Acquire::MustWait);
        assert!(sem.cancel_wait(&1));
        assert!(!sem.cancel_wait(&1));
        assert_eq!(sem.waiters(), 1);
        assert_eq!(sem.up(), Some(2));
        assert_eq!(sem.up(), None);
        assert_eq!(sem.count(), 1);
    }

    #[test]
    fn mutex_hands_off_to_waiters_in_fifo_order() {
        let mut m = Mutex::new();
        assert_eq!(m.lock(1), Acquire::Acquired);
        assert_eq!(m.lock(2), Acquire::MustWait);
        assert_eq!(m.lock(3), Acquire::MustWait);
        assert!(!m.try_lock(4));
        assert_eq!(m.waiters(), 2);
        assert_eq!(m.unlock(&1), Ok(Some(2)));
        assert_eq!(
            m.owner(),
            Some(&2),
            "owned by the woken waiter, nobody can steal it"
        );
        assert!(!m.try_lock(4));
        assert_eq!(m.unlock(&2), Ok(Some(3)));
        assert_eq!(m.unlock(&3), Ok(None));
        assert!(!m.is_locked());
        assert!(m.try_lock(4));
    }

    #[test]
    fn mutex_unlock_by_non_owner_is_rejected() {
        let mut m = Mutex::new();
        assert_eq!(m.unlock(&1), Err(NotOwner));
        m.lock(1);
        m.lock(2);
        assert_eq!(m.unlock(&2), Err(NotOwner), "a waiter is not the owner");
        assert_eq!(m.owner(), Some(&1));
        assert!(m.cancel_wait(&2));
        assert_eq!(m.unlock(&1), Ok(None));
    }

    #[test]
    #[should_panic(expected = "already owns")]
    fn mutex_relock_by_owner_panics() {
        let mut m = Mutex::new();
        m.lock(1);
        m.lock(1);
    }
}
