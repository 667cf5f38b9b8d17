//! Spinlocks.
//!
//! Interrupts are not disabled while a lock is held: in interrupt mode the
//! only handlers (tick, reschedule IPI) touch per-CPU atomics and never take
//! a lock, so an interrupt cannot deadlock against the code it interrupted.
//! On PVM native mode there are no interrupts in kernel mode at all, and
//! `cli`/`sti` would cost an exit each (DESIGN.md), which is the other reason
//! not to use them here.
//!
//! Holding a lock disables preemption (`percpu::preempt_disable`), as in
//! Linux: a task preempted with a lock held would make every other CPU that
//! wants the lock spin until it runs again. So a lock must be released on
//! the CPU that took it, which the kernel guarantees by never switching
//! tasks with a lock held, except the CPU's run-queue lock (task.rs), whose
//! release the next context on the same CPU does. Locks are usable once `percpu::init` has
//! run on the CPU.

use core::cell::UnsafeCell;
use core::hint::spin_loop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

use crate::percpu;

/// A test-and-test-and-set spinlock protecting a `T`.
pub struct SpinLock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one holder at a time
// (acquire/release ordering on `locked`), so sharing the lock between CPUs is
// sound whenever moving a `T` between them is (`T: Send`).
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: the lock owns its `T`; sending the lock sends the `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    pub fn lock(&self) -> SpinGuard<'_, T> {
        self.acquire();
        SpinGuard { lock: self }
    }

    /// Takes the lock without making a guard (for locks held across a
    /// context switch, which the next thread releases: see task.rs).
    pub(crate) fn acquire(&self) {
        percpu::preempt_disable();
        while !self.try_acquire() {
            while self.locked.load(Relaxed) {
                spin_loop();
            }
        }
    }

    /// [`acquire`](Self::acquire) if the lock is free now; false, holding
    /// nothing, if it is not (for taking a second lock out of order).
    pub(crate) fn try_acquire_now(&self) -> bool {
        percpu::preempt_disable();
        if self
            .locked
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
        {
            return true;
        }
        percpu::preempt_enable();
        false
    }

    fn try_acquire(&self) -> bool {
        self.locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_ok()
    }

    /// Releases a lock taken with [`acquire`](Self::acquire).
    ///
    /// # Safety
    /// The caller must hold the lock (through `acquire`, or as the heir of a
    /// context switch whose predecessor held it, on the same CPU) and must not use any
    /// reference obtained through [`get_locked`](Self::get_locked) afterwards.
    pub(crate) unsafe fn release(&self) {
        self.locked.store(false, Release);
        percpu::preempt_enable();
    }

    /// The protected value, for a caller that holds the lock without a guard.
    ///
    /// # Safety
    /// The caller must hold the lock for as long as it uses the reference, and
    /// must not create a second reference to the data while this one lives.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn get_locked(&self) -> &mut T {
        debug_assert!(self.locked.load(Relaxed));
        // SAFETY: the caller holds the lock and creates no other reference.
        unsafe { &mut *self.data.get() }
    }
}

pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its holder owns the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while its holder owns the lock, and
        // `&mut self` makes this the only reference derived from it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard owns the lock; no reference derived from it outlives it.
        unsafe { self.lock.release() };
    }
}

/// A bounded single-producer single-consumer ring: [`spsc`] returns its two
/// ends, each usable from one thread at a time (they are `Send`, not `Clone`
/// or `Sync`), so no lock is needed: a slot's `full` flag hands the value
/// over (release on the producer's side, acquire on the consumer's).
pub struct SpscRing<T> {
    slots: alloc::boxed::Box<[Slot<T>]>,
}

struct Slot<T> {
    full: AtomicBool,
    value: UnsafeCell<Option<T>>,
}

// SAFETY: a slot's value is touched only by the end that owns it at the
// moment: the producer while `full` is false, the consumer while it is true;
// each flips `full` after its access with release ordering, and the other
// reads `full` with acquire before its own. One producer and one consumer
// exist per ring (`spsc`), so values of a `T: Send` move between threads.
unsafe impl<T: Send> Sync for SpscRing<T> {}

/// The sending end of an [`SpscRing`].
pub struct Producer<T> {
    ring: alloc::sync::Arc<SpscRing<T>>,
    next: usize,
}

/// The receiving end of an [`SpscRing`].
pub struct Consumer<T> {
    ring: alloc::sync::Arc<SpscRing<T>>,
    next: usize,
}

/// A ring of `capacity` slots (at least 1) and its two ends.
pub fn spsc<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let slots = (0..capacity.max(1))
        .map(|_| Slot {
            full: AtomicBool::new(false),
            value: UnsafeCell::new(None),
        })
        .collect();
    let ring = alloc::sync::Arc::new(SpscRing { slots });
    (
        Producer {
            ring: ring.clone(),
            next: 0,
        },
        Consumer { ring, next: 0 },
    )
}

impl<T> Producer<T> {
    /// Queues `value`, or gives it back if the ring is full.
    pub fn try_push(&mut self, value: T) -> Result<(), T> {
        let slot = &self.ring.slots[self.next];
        if slot.full.load(Acquire) {
            return Err(value);
        }
        // SAFETY: `full` is false, so the consumer does not touch this slot
        // until the release store below; this is the only producer.
        unsafe { *slot.value.get() = Some(value) };
        slot.full.store(true, Release);
        self.next = (self.next + 1) % self.ring.slots.len();
        Ok(())
    }
}

impl<T> Consumer<T> {
    /// The oldest queued value, if any.
    pub fn try_pop(&mut self) -> Option<T> {
        let slot = &self.ring.slots[self.next];
        if !slot.full.load(Acquire) {
            return None;
        }
        // SAFETY: `full` is true, so the producer does not touch this slot
        // until the release store below; this is the only consumer.
        let value = unsafe { (*slot.value.get()).take() };
        slot.full.store(false, Release);
        self.next = (self.next + 1) % self.ring.slots.len();
        value
    }
}
