//! The sleeping mutex: the one blocking primitive that needs `unsafe` (it
//! hands out `&mut T` from an `UnsafeCell`). Wait queues, the semaphore, the
//! gate and the completion are safe code in the kernel crate, built on the
//! same sleep/wake API (see the parent module for the protocol that keeps
//! wakeups from being lost).

use core::cell::UnsafeCell;

use super::{TaskRef, me, park, set_sleeping, wake_up};
use crate::sync::SpinLock;

/// A sleeping mutex (the `sched` crate's state machine) owning a `T`.
pub struct Mutex<T> {
    state: SpinLock<sched::Mutex<TaskRef>>,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is reachable only through a MutexGuard, and the state
// machine admits one owner at a time.
unsafe impl<T: Send> Sync for Mutex<T> {}

pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    owner: TaskRef,
}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            state: SpinLock::new(sched::Mutex::new()),
            data: UnsafeCell::new(value),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        let me = me("Mutex::lock");
        let mut state = self.state.lock();
        if state.lock(me.clone()) == sched::Acquire::MustWait {
            // Queued; `unlock` makes us the owner before waking us.
            loop {
                set_sleeping(&me);
                drop(state);
                park(&me);
                state = self.state.lock();
                if state.owner() == Some(&me) {
                    break;
                }
            }
        }
        drop(state);
        MutexGuard {
            mutex: self,
            owner: me,
        }
    }
}

impl<T> core::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its task owns the mutex.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T> core::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in deref, and `&mut self` makes this the only reference.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        let next = self.mutex.state.lock().unlock(&self.owner);
        if let Some(next) = next.unwrap_or_else(|e| panic!("mutex: {e}")) {
            wake_up(&next);
        }
    }
}
