//! Sleeping on conditions: wait queues, a counting semaphore, a start gate,
//! a completion counter, and sleeping for a time. Safe code over ostd's
//! sleep/wake API (`task::current`, `CurrentTask::sleep`, `TaskHandle::wake`,
//! and `task::wake_at`'s timers); each has a lock of its own. The sleeping mutex, which needs `unsafe` for the
//! data it guards, is ostd's `task::Mutex`.

use core::sync::atomic::{
    AtomicBool, AtomicUsize,
    Ordering::{Acquire, SeqCst},
    fence,
};

use ostd::sync::SpinLock;
use ostd::task::{self, TaskHandle};

/// A queue of tasks waiting for a condition.
///
/// `waiters` lets a waker skip the queue's lock when nobody waits. It is
/// raised (a locked RMW, a full barrier) before a sleeper checks its
/// condition and lowered when a waiter leaves the queue; a waker publishes
/// its state change and then reads it behind a SeqCst fence. So either the
/// sleeper sees the new state, or the waker sees the sleeper (Dekker): no
/// lost wakeup. A condition guarded by a lock the waker also takes gets this
/// from the lock.
pub struct WaitQueue {
    queue: SpinLock<sched::WaitQueue<TaskHandle>>,
    waiters: AtomicUsize,
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    pub const fn new() -> Self {
        Self {
            queue: SpinLock::new(sched::WaitQueue::new()),
            waiters: AtomicUsize::new(0),
        }
    }

    /// Sleeps until `ready()` is true. `ready` is evaluated after the task
    /// is queued and marked as going to sleep, and a waker changes the state
    /// before it calls `wake_*`, so a wakeup cannot be lost.
    pub fn wait_until(&self, mut ready: impl FnMut() -> bool) {
        if ready() {
            return;
        }
        let me = task::current();
        loop {
            if self.queue.lock().push(me.handle().clone()) {
                self.waiters.fetch_add(1, SeqCst);
            }
            me.prepare_to_sleep();
            if ready() {
                me.cancel_sleep();
                self.leave(me.handle());
                return;
            }
            me.sleep();
            if ready() {
                // A waker popped us, or a stale wakeup did not: either way,
                // do not stay queued.
                self.leave(me.handle());
                return;
            }
        }
    }

    /// Takes `me` out of the queue if a waker has not already.
    fn leave(&self, me: &TaskHandle) {
        if self.queue.lock().remove(me) {
            self.waiters.fetch_sub(1, SeqCst);
        }
    }

    fn has_waiters(&self) -> bool {
        fence(SeqCst);
        self.waiters.load(SeqCst) != 0
    }

    fn pop(&self) -> Option<TaskHandle> {
        let task = self.queue.lock().pop()?;
        self.waiters.fetch_sub(1, SeqCst);
        Some(task)
    }

    /// Wakes the longest waiter. Returns whether there was one.
    pub fn wake_one(&self) -> bool {
        if !self.has_waiters() {
            return false;
        }
        match self.pop() {
            Some(task) => {
                task.wake();
                true
            }
            None => false,
        }
    }

    /// Wakes every task waiting now; returns how many there were.
    ///
    /// As Linux's `wake_up_all` under the queue's lock: preemption stays off
    /// until all are woken (a woken task that should preempt the waker runs
    /// after the loop, not in the middle of it), and only the waiters
    /// present at the start are taken, so one that wakes, finds its
    /// condition still false and queues again is not woken again here.
    pub fn wake_all(&self) -> usize {
        if !self.has_waiters() {
            return 0;
        }
        task::without_preemption(|| {
            let waiting = self.queue.lock().len();
            let mut woken = 0;
            while woken < waiting
                && let Some(task) = self.pop()
            {
                task.wake();
                woken += 1;
            }
            woken
        })
    }
}

/// A counting semaphore whose `down` sleeps (the `sched` crate's state machine).
pub struct Semaphore {
    state: SpinLock<sched::Semaphore<TaskHandle>>,
}

impl Semaphore {
    pub const fn new(count: u32) -> Self {
        Self {
            state: SpinLock::new(sched::Semaphore::new(count)),
        }
    }

    pub fn down(&self) {
        let me = task::current();
        let mut state = self.state.lock();
        if state.down(me.handle().clone()) == sched::Acquire::Acquired {
            return;
        }
        // Queued; `up` hands the unit over (we leave the queue) and wakes us.
        loop {
            me.prepare_to_sleep();
            drop(state);
            me.sleep();
            state = self.state.lock();
            if !state.is_waiting(me.handle()) {
                return;
            }
        }
    }

    pub fn up(&self) {
        let next = self.state.lock().up();
        if let Some(task) = next {
            task.wake();
        }
    }
}

/// A one-shot start signal: `wait` sleeps until `open` has been called.
pub struct Gate {
    open: AtomicBool,
    waiters: WaitQueue,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    pub const fn new() -> Self {
        Self {
            open: AtomicBool::new(false),
            waiters: WaitQueue::new(),
        }
    }

    pub fn open(&self) {
        self.open.store(true, SeqCst);
        self.waiters.wake_all();
    }

    pub fn wait(&self) {
        self.waiters.wait_until(|| self.open.load(SeqCst));
    }
}

/// Counts finished workers; `wait_for(n)` sleeps until `n` have finished.
pub struct Completion {
    done: AtomicUsize,
    waiters: WaitQueue,
}

impl Default for Completion {
    fn default() -> Self {
        Self::new()
    }
}

impl Completion {
    pub const fn new() -> Self {
        Self {
            done: AtomicUsize::new(0),
            waiters: WaitQueue::new(),
        }
    }

    pub fn complete(&self) {
        self.done.fetch_add(1, SeqCst);
        self.waiters.wake_all();
    }

    pub fn wait_for(&self, n: usize) {
        self.waiters.wait_until(|| self.done.load(Acquire) >= n);
    }
}

/// Sleeps for at least `ns` nanoseconds: a timer wakes the task at the
/// deadline; an earlier (spurious) wakeup sleeps again.
pub fn sleep_ns(ns: u64) {
    let me = task::current();
    let deadline = task::now().saturating_add(ns);
    task::wake_at(deadline, me.handle());
    loop {
        me.prepare_to_sleep();
        if task::now() >= deadline {
            me.cancel_sleep();
            return;
        }
        me.sleep();
    }
}
