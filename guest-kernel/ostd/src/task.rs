//! Kernel threads: task bodies, context switch, the per-CPU run queues and
//! their locks, wakeups across CPUs, the per-CPU idle loops, sleeping.
//!
//! Policy (which task runs next, vruntime, load balancing, wait-queue and
//! timer bookkeeping) lives in the host-tested `sched` crate. This file gives
//! its entities bodies (a stack and a saved stack pointer: `Task`), runs one
//! [`sched::CpuRq`] per CPU under that CPU's lock, and does the switching.
//!
//! # Stacks
//!
//! Each thread's 32 KiB stack is a `KernelStack`: mapped in the kernel
//! stack area above unmapped guard pages (kstack.rs), so an overflow faults
//! at once and the #PF handler reports it (`report_stack_overflow`: CPU,
//! task id and name, stack range, fault address; exit status 1). A task body
//! is reference-counted (`TaskRef`): its run-queue entity, and any wait
//! queue, lock or timer it waits in, hold it. A dead task's last reference
//! is dropped by the next context on its CPU (`finish_switch`), which
//! unmaps the stack; a CPU drops stale translations of reused stack slots
//! before it switches to a task (`kstack::flush_stale`).
//!
//! # Locking: no global lock
//!
//! Each CPU's run queue has its own lock (`CpuSched::rq`), as Linux's
//! `rq->__lock`. It is held *across* a context switch: the context that
//! switches away takes it, and whoever runs next on that CPU releases it
//! (`finish_switch`). A task's entity is in exactly one place, by
//! ownership: in the run queue of its CPU while runnable, in the task's own
//! `WakeState` while it sleeps, in a CPU's wake list while a wakeup carries
//! it there.
//!
//! Waking a task (`wake_up`, Linux's `try_to_wake_up`): under the task's
//! wake lock (Linux's `p->pi_lock`), take its parked entity and mark it
//! running; choose a CPU from other CPUs' published loads
//! (`sched::select_task_rq`); if that is this CPU, queue it under this CPU's
//! lock; else push it on that CPU's wake list and tell the CPU (its
//! `wake_pending` flag, and in interrupt mode a reschedule IPI), which moves
//! it into its run queue at its next preemption point or idle poll, under its
//! own lock (`ttwu_queue_wakelist`, `sched_ttwu_pending`). So a wakeup takes
//! at most one run-queue lock, and a remote wakeup none but the target's
//! wake-list lock. Load balancing locks two queues, in CPU order (or gives
//! up for the round if the lower one is busy).
//!
//! A task whose context is still on its CPU (it parked and that CPU has not
//! finished switching away, `Task::on_cpu`, Linux's `p->on_cpu`) wakes on that
//! CPU, whose lock is held until the switch is complete; a CPU that picks a
//! task waits for its `on_cpu` to clear before loading its registers.
//!
//! Sleeping without lost wakeups (Linux's `set_current_state` + `schedule`):
//! a task that must wait puts itself where its waker will find it, marks
//! itself `WakeState::Sleeping`, checks its condition once more, and only
//! then parks ([`CurrentTask::sleep`]); a waker changes the condition before it wakes. A
//! wakeup that finds the task `Sleeping` (not yet parked) just marks it
//! running, and the park does not happen. Wakeups may be spurious (a stale
//! waker after the task moved on): every sleeper loops on its condition.
//!
//! Lock order: a wait queue's, mutex's, semaphore's or timer queue's lock;
//! then a task's wake lock; then run-queue locks (lower CPU first); then a
//! wake list's lock, the stack slots' lock (kstack.rs: stacks are freed under
//! a run-queue lock) and the heap's. Interrupt handlers take no lock at all.
//!
//! # When switches happen: the guarantee of each mode
//!
//! A thread is switched out at *scheduling points*, where Rust code calls
//! into this file: blocking (wait queues, mutex, semaphore, sleep),
//! [`yield_now`], [`cond_resched`] (long loops call it) and thread exit; and,
//! in interrupt mode with `preempt=full` (the default there), at the return
//! of any interrupt.
//!
//! - **Interrupt mode, `preempt=full`** (hardware KVM, TCG; Linux's
//!   `CONFIG_PREEMPT`): the tick (1 kHz) only sets `tick_pending`, and the
//!   reschedule IPI has no handler (its sender set the flag that says why); on the way out
//!   of the interrupt, if a task was running with a zero preemption count
//!   (`percpu::preempt_count`: no spin lock held, no per-CPU section) and
//!   something is due, trap.rs makes the interrupt return into
//!   `ferrite_preempt_irq` on the task's stack, which passes through the
//!   scheduler as `cond_resched` would; and a critical section that ends (the
//!   count back at zero) with a reschedule or queued wakeups due passes
//!   through it at once (`preempt_pending`, as Linux's `preempt_enable`).
//!   Guarantee: a thread that runs past its slice loses the CPU within one
//!   tick after the slice ends, whatever code it runs, and a woken task that
//!   should preempt it gets the CPU as soon as the waker (or, for a remote
//!   wakeup, the target CPU) leaves its critical sections.
//! - **Polling mode** (PVM native mode, where no interrupt reaches kernel
//!   mode; or `preempt=voluntary`): only scheduling points switch. The tick's
//!   stand-in is the slice deadline that `cond_resched` compares with
//!   `now_ns()`. Guarantee: a thread loses the CPU at its first scheduling
//!   point after its slice ends; every loop of the kernel that can run long
//!   (workloads, the block and file paths' per-request loops) passes one on
//!   each round, and a loop that does not is never preempted. A remote
//!   wakeup reaches its CPU's run queue at that CPU's next scheduling point.
//!
//! A task preempted at an interrupt may be in the middle of any code, so the
//! trampoline (trap.S) saves every register and the x87/SSE state; a switch
//! at a scheduling point is a function call and saves only the callee-saved
//! registers (switch.S). Code that reads per-CPU data without holding a lock
//! keeps preemption off meanwhile (`percpu::PreemptGuard`), or a preemption
//! could move it to another CPU halfway.

mod wait;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::arch::global_asm;
use core::marker::PhantomData;
use core::ops::Range;
use core::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};

use mm::stack_area::{GuardHit, TaskName};
use sched::{CpuRq, Entity, RqLoad, RqLoads, TaskId, TimerQueue, Tunables};

use crate::kstack::{self, KernelStack};
use crate::percpu::{self, MAX_CPUS, PerCpu, this_cpu};
use crate::platform::{self, IrqMode};
use crate::println;
use crate::sync::SpinLock;

pub use wait::{Mutex, MutexGuard};

global_asm!(include_str!("switch.S"), options(att_syntax));

unsafe extern "C" {
    fn ferrite_switch(save_rsp: *mut u64, next_rsp: u64);
    fn ferrite_thread_start();
}

pub use crate::kstack::STACK_SIZE;
/// How often a busy CPU runs load balancing, and an idle one.
const BALANCE_INTERVAL_BUSY_NS: u64 = 4_000_000;
const BALANCE_INTERVAL_IDLE_NS: u64 = 1_000_000;
/// Remote wakeups a CPU can take between two scheduling points before its
/// wake list grows (it then keeps the larger capacity).
const WAKE_LIST_CAPACITY: usize = 64;
/// Interrupt mode: timer tick frequency.
const TICK_HZ: u32 = 1000;

/// A kernel thread's body: what the scheduler's entity (`sched::Entity`)
/// carries, and what wait queues, locks and timers hold while it sleeps.
pub(crate) struct Task {
    /// Saved stack pointer while switched out (written by switch.S).
    rsp: AtomicU64,
    id: TaskId,
    /// Freed (unmapped) when the last reference to the task is dropped.
    stack: KernelStack,
    name: &'static str,
    /// Its context is on a CPU: set when a CPU picks it, cleared by the next
    /// context on that CPU once its registers are saved (Linux's `p->on_cpu`).
    on_cpu: AtomicBool,
    /// Linux's `p->pi_lock` and `p->__state`: where sleeper and waker meet.
    wake: SpinLock<WakeState>,
}

/// A task's sleep state, under its wake lock.
enum WakeState {
    /// On a run queue (queued or running), or on its way to one.
    Running,
    /// Going to sleep (`set_current_state`): still on its run queue; a
    /// wakeup now cancels the sleep.
    Sleeping,
    /// Asleep, off every run queue: its entity waits here for the wakeup.
    Parked(Entity<TaskRef>),
    /// Exited; late wakeups find nothing to do.
    Dead,
}

/// A counted reference to a task body; equal when it is the same task.
#[derive(Clone)]
pub(crate) struct TaskRef(Arc<Task>);

impl PartialEq for TaskRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl core::fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "task {} \"{}\"", self.0.id, self.0.name)
    }
}

/// Live task bodies (stack not yet freed).
static LIVE_TASKS: AtomicUsize = AtomicUsize::new(0);
static NEXT_TASK_ID: AtomicU32 = AtomicU32::new(1);

impl Drop for Task {
    fn drop(&mut self) {
        LIVE_TASKS.fetch_sub(1, Relaxed);
    }
}

/// One CPU's share of the scheduler.
struct CpuSched {
    /// The run queue, held across context switches (see the module docs).
    rq: SpinLock<Option<RqState>>,
    /// Entities that wakers on other CPUs handed to this one.
    wake_list: SpinLock<Vec<Entity<TaskRef>>>,
    /// Sleep timers armed on this CPU, and the earliest deadline (ns), so
    /// the CPU can poll it without the lock.
    timers: SpinLock<TimerQueue<TaskRef>>,
    next_timer: AtomicU64,
    /// The queue's `RqLoad`, published at every unlock for other CPUs'
    /// wakeup and balancing choices.
    nr_running: AtomicUsize,
    nr_queued: AtomicUsize,
    load: AtomicU64,
    min_vruntime: AtomicU64,
    /// Wakeups other CPUs handed to this one through its wake list.
    remote_wakeups: AtomicU64,
}

struct RqState {
    rq: CpuRq<TaskRef>,
    /// The wake list's entities move here to be queued; both vectors keep
    /// their capacity, so a steady state allocates nothing.
    arrived: Vec<Entity<TaskRef>>,
}

impl CpuSched {
    const fn new() -> Self {
        Self {
            rq: SpinLock::new(None),
            wake_list: SpinLock::new(Vec::new()),
            timers: SpinLock::new(TimerQueue::new()),
            next_timer: AtomicU64::new(u64::MAX),
            nr_running: AtomicUsize::new(0),
            nr_queued: AtomicUsize::new(0),
            load: AtomicU64::new(0),
            min_vruntime: AtomicU64::new(0),
            remote_wakeups: AtomicU64::new(0),
        }
    }

    fn published_load(&self) -> RqLoad {
        RqLoad {
            nr_running: self.nr_running.load(Relaxed),
            nr_queued: self.nr_queued.load(Relaxed),
            load: self.load.load(Relaxed),
            min_vruntime: self.min_vruntime.load(Relaxed),
        }
    }
}

static CPUS: [CpuSched; MAX_CPUS] = [const { CpuSched::new() }; MAX_CPUS];
static READY: AtomicBool = AtomicBool::new(false);
/// Interrupt mode with `preempt=full`: tasks are preempted at interrupt return.
static IRQ_PREEMPTION: AtomicBool = AtomicBool::new(false);
static IRQ_PREEMPTIONS: AtomicU64 = AtomicU64::new(0);
static INTERRUPT_MODE: AtomicBool = AtomicBool::new(false);

/// A held run-queue lock. Dropping it publishes the queue's load and
/// releases the lock.
struct RqGuard {
    cpu: usize,
}

impl RqGuard {
    fn lock(cpu: usize) -> Self {
        CPUS[cpu].rq.acquire();
        RqGuard { cpu }
    }

    /// The lock of `cpu`'s queue if it is free now (for a second queue taken
    /// out of CPU order).
    fn try_lock(cpu: usize) -> Option<Self> {
        CPUS[cpu].rq.try_acquire_now().then(|| RqGuard { cpu })
    }

    fn state(&mut self) -> &mut RqState {
        // SAFETY: an RqGuard exists only while its holder owns the lock of
        // CPUS[cpu].rq, and `&mut self` makes this the only live reference.
        unsafe { CPUS[self.cpu].rq.get_locked() }
            .as_mut()
            .expect("task::init has run")
    }

    fn rq(&mut self) -> &mut CpuRq<TaskRef> {
        &mut self.state().rq
    }
}

impl Drop for RqGuard {
    fn drop(&mut self) {
        let load = self.rq().load();
        let cs = &CPUS[self.cpu];
        cs.nr_running.store(load.nr_running, Relaxed);
        cs.nr_queued.store(load.nr_queued, Relaxed);
        cs.load.store(load.load, Relaxed);
        cs.min_vruntime.store(load.min_vruntime, Relaxed);
        // SAFETY: the guard owns the lock; no reference derived from it outlives it.
        unsafe { CPUS[self.cpu].rq.release() };
    }
}

/// Every online CPU's published load, read where a choice needs it.
struct PublishedLoads;

impl RqLoads for PublishedLoads {
    fn ncpus(&self) -> usize {
        percpu::ncpus()
    }

    fn load(&self, cpu: usize) -> RqLoad {
        CPUS[cpu].published_load()
    }
}

pub fn now() -> u64 {
    platform::now_ns()
}

fn interrupt_mode() -> bool {
    INTERRUPT_MODE.load(Relaxed)
}

/// Boot CPU, once the heap is up: builds the run queues of `ncpus` CPUs.
pub fn init(ncpus: usize, tunables: Tunables, full_preemption: bool) {
    for (cpu, cs) in CPUS[..ncpus].iter().enumerate() {
        *cs.rq.lock() = Some(RqState {
            rq: CpuRq::new(cpu, tunables),
            arrived: Vec::with_capacity(WAKE_LIST_CAPACITY),
        });
        *cs.wake_list.lock() = Vec::with_capacity(WAKE_LIST_CAPACITY);
    }
    INTERRUPT_MODE.store(platform::irq_mode() == IrqMode::Interrupt, Relaxed);
    IRQ_PREEMPTION.store(full_preemption && interrupt_mode(), Relaxed);
    platform::set_tick_handler(on_tick);
    READY.store(true, Release);
}

/// Interrupt mode, on an IST stack: no locks, no switching; just a note.
fn on_tick() {
    this_cpu().tick_pending.store(true, Relaxed);
}

// ---------------------------------------------------------------------------
// Creating and ending threads

/// Starts a kernel thread named `name` running `f` with `nice` on `cpu`
/// (the scheduler may move it later).
pub fn spawn<F: FnOnce() + Send + 'static>(
    name: &'static str,
    nice: i8,
    cpu: usize,
    f: F,
) -> TaskId {
    spawn_boxed(name, nice, cpu, false, f)
}

/// [`spawn`], and the thread never leaves `cpu` (load balancing and wakeup
/// placement keep it there).
pub fn spawn_pinned<F: FnOnce() + Send + 'static>(
    name: &'static str,
    nice: i8,
    cpu: usize,
    f: F,
) -> TaskId {
    spawn_boxed(name, nice, cpu, true, f)
}

fn spawn_boxed<F: FnOnce() + Send + 'static>(
    name: &'static str,
    nice: i8,
    cpu: usize,
    pinned: bool,
    f: F,
) -> TaskId {
    let boxed: Box<Box<dyn FnOnce() + Send>> = Box::new(Box::new(f));
    fn run_closure(arg: usize) {
        // SAFETY: `arg` came from Box::into_raw below, exactly once per thread.
        let f = unsafe { Box::from_raw(arg as *mut Box<dyn FnOnce() + Send>) };
        f();
    }
    spawn_raw(
        name,
        run_closure as fn(usize) as usize,
        Box::into_raw(boxed) as usize,
        nice,
        cpu,
        pinned,
    )
}

fn spawn_raw(
    name: &'static str,
    entry: usize,
    arg: usize,
    nice: i8,
    cpu: usize,
    pinned: bool,
) -> TaskId {
    assert!(
        cpu < percpu::ncpus(),
        "spawn on cpu {cpu} of {}",
        percpu::ncpus()
    );
    // Stay on this CPU until the first frame is written: `allocate` flushed
    // this CPU's stale translations of the slot, not another's.
    let preempt = percpu::PreemptGuard::new();
    let stack = KernelStack::allocate();
    let top = stack.range().end;
    // The initial frame ferrite_switch pops: r15 r14 r13 r12 rbx rbp, then
    // the return address. After `ret` RSP = top (16-byte aligned).
    let frame: [u64; 7] = [
        0,
        0,
        arg as u64,
        entry as u64,
        0,
        0,
        ferrite_thread_start as *const () as u64,
    ];
    let rsp = top - 8 * frame.len() as u64;
    // SAFETY: the stack is freshly mapped and ours alone (no task runs on it
    // yet); the frame lies at its top, 8-byte aligned.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), rsp as *mut u64, frame.len()) };
    drop(preempt);

    let id = NEXT_TASK_ID.fetch_add(1, Relaxed);
    assert_ne!(id, 0, "task ids exhausted");
    LIVE_TASKS.fetch_add(1, Relaxed);
    let task = TaskRef(Arc::new(Task {
        rsp: AtomicU64::new(rsp),
        id,
        stack,
        name,
        on_cpu: AtomicBool::new(false),
        wake: SpinLock::new(WakeState::Running),
    }));
    let mut entity = Entity::new(id, nice, task);
    if pinned {
        entity.set_pinned(Some(cpu));
    }
    RqGuard::lock(cpu).rq().spawn(entity, now());
    resched_cpu(cpu);
    id
}

/// Part of the #PF report (trap.rs) when the fault address `fault` lies in
/// the guard pages below `stack` (kstack.rs): names this CPU and the task
/// running on it. Takes no lock and allocates nothing: the faulting code may
/// hold any lock, the heap's included.
pub(crate) fn report_stack_overflow(fault: u64, stack: Range<u64>) {
    let pc = this_cpu();
    let current = pc.current.load(Relaxed);
    // SAFETY: a non-zero `current` is the task running on this CPU, which
    // faulted: it cannot be reaped while it is here.
    let task = (current != 0).then(|| unsafe { &*(current as *const Task) });
    let hit = GuardHit {
        cpu: pc.cpu(),
        fault,
        stack,
        guard_size: kstack::GUARD_SIZE,
        running: task.map(|task| TaskName {
            id: task.id,
            name: task.name,
            stack: task.stack.range(),
        }),
    };
    println!("{hit}");
}

/// First Rust code of a new thread (called by switch.S).
// SAFETY (no_mangle): switch.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn thread_main(entry: usize, arg: usize) -> ! {
    finish_switch();
    if interrupt_mode() {
        platform::enable_interrupts();
    }
    // SAFETY: `entry` was produced from a `fn(usize)` in spawn_raw.
    let entry: fn(usize) = unsafe { core::mem::transmute::<usize, fn(usize)>(entry) };
    entry(arg);
    exit()
}

/// Ends the calling thread; its stack is freed by the next context on this CPU.
pub fn exit() -> ! {
    let preempt = percpu::PreemptGuard::new();
    let me = current_ref().expect("exit() outside a thread");
    // Late wakeups (a timer armed before) find it dead and do nothing.
    *me.0.wake.lock() = WakeState::Dead;
    drop(me);
    let mut rq = RqGuard::lock(percpu::cpu_id());
    // The lock keeps preemption off now; a switch needs the count at one.
    drop(preempt);
    let dead = rq
        .rq()
        .deactivate_current(now())
        .expect("an exiting thread is its CPU's current task");
    // Its last reference: dropped after the switch, off its stack.
    this_cpu()
        .dead_task
        .store(Arc::into_raw(dead.payload.0) as usize, Relaxed);
    switch_away(rq);
    unreachable!("a dead task was scheduled again")
}

/// The running task's reference, or `None` in an idle loop. The caller
/// keeps preemption off (or holds a lock), so "running" means on this CPU.
fn current_ref() -> Option<TaskRef> {
    let ptr = this_cpu().current.load(Relaxed) as *const Task;
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `current` is `Arc::as_ptr` of the task running on this CPU,
    // whose entity (in this CPU's run queue) holds a strong reference while
    // it runs; taking one more and wrapping it gives an owned reference.
    unsafe {
        Arc::increment_strong_count(ptr);
        Some(TaskRef(Arc::from_raw(ptr)))
    }
}

/// The calling task's reference; panics outside a thread (`what` says where).
pub(crate) fn me(what: &str) -> TaskRef {
    let _preempt = percpu::PreemptGuard::new();
    current_ref().unwrap_or_else(|| panic!("{what} outside a thread"))
}

// ---------------------------------------------------------------------------
// Switching

/// Picks the next task for this CPU and switches to it (or to the idle loop,
/// or nowhere if the current one should go on). The caller has already told
/// the run queue why (yield / deactivate / tick). Consumes the lock: it is
/// released here or, across a switch, by the next context.
fn switch_away(mut rq: RqGuard) {
    // Read the per-CPU pointer here, under the lock: a caller's copy may be
    // stale if it blocked before and resumed on another CPU.
    let pc = this_cpu();
    let now = now();
    pc.need_resched.store(false, Relaxed);
    queue_arrived_wakeups(&mut rq, pc, now);
    if rq.rq().nr_running() == 0 {
        // About to go idle: pull work from a busy CPU now (Linux's newidle
        // balance) instead of at the next periodic balance.
        pc.last_balance.store(now, Relaxed);
        pull_from_busiest(&mut rq, now);
    }
    let next = rq
        .rq()
        .pick_next(now)
        .map_or(0, |e| Arc::as_ptr(&e.payload.0) as usize);
    let prev = pc.current.load(Relaxed);
    set_slice_deadline(&mut rq, pc, now);
    if next == prev {
        return; // drops rq: unlock
    }
    let save: *mut u64 = if prev == 0 {
        pc.idle_rsp.as_ptr()
    } else {
        // SAFETY: `prev` is the running task's body, alive until the next
        // context drops its last reference, after this switch.
        unsafe { &*(prev as *const Task) }.rsp.as_ptr()
    };
    let next_rsp = if next == 0 {
        pc.idle_rsp.load(Relaxed)
    } else {
        // SAFETY: `next` is the body of the task this queue just made
        // current; its entity, in the queue we hold, keeps it alive.
        let task = unsafe { &*(next as *const Task) };
        // It may have parked on another CPU that is still switching away
        // from it: its registers are saved once that CPU clears `on_cpu`.
        while task.on_cpu.load(Acquire) {
            core::hint::spin_loop();
        }
        task.on_cpu.store(true, Relaxed);
        // This CPU may still cache translations of the slot's previous stack.
        kstack::flush_stale();
        task.rsp.load(Relaxed)
    };
    // Only this CPU's run-queue lock may be held across a switch: a guard
    // or lock more would be released on whatever CPU the task resumes on.
    assert_eq!(
        pc.preempt_count(),
        1,
        "context switch with a lock or preemption guard held"
    );
    pc.current.store(next, Relaxed);
    pc.prev_task.store(prev, Relaxed);
    // The lock stays held across the switch; the next context releases it.
    core::mem::forget(rq);
    // SAFETY: `save` is where this context's stack pointer belongs (its task
    // body or this CPU's idle slot), `next_rsp` a stack saved by
    // ferrite_switch or built by spawn_raw, which no other CPU runs: its
    // `on_cpu` is ours now, and the previous CPU saved it before clearing it.
    unsafe { ferrite_switch(save, next_rsp) };
    // Resumed: possibly on another CPU, by a context that held the lock for us.
    finish_switch();
}

/// Shortest slice the polling-mode deadline grants (avoids re-taking the
/// lock at every `cond_resched` when the scheduler reports ~0 remaining).
const MIN_SLICE_NS: u64 = 100_000;

/// Runs in the context that was just switched to, with its CPU's run-queue
/// lock held by the one that switched away: marks that one off the CPU,
/// drops a dead predecessor's last reference, releases the lock.
fn finish_switch() {
    let pc = this_cpu();
    let prev = pc.prev_task.swap(0, Relaxed);
    if prev != 0 {
        // SAFETY: `prev` is the task this CPU switched away from; it cannot
        // run (and so cannot exit and be freed) elsewhere until this store,
        // after which it is not touched here.
        unsafe { &*(prev as *const Task) }
            .on_cpu
            .store(false, Release);
    }
    let dead = pc.dead_task.swap(0, Relaxed);
    if dead != 0 {
        // SAFETY: `exit` turned the dead task's last entity reference into
        // this address; it switched away for the last time, so nothing runs
        // on its stack. Dropping it unmaps the stack.
        drop(unsafe { Arc::from_raw(dead as *const Task) });
    }
    // The lock was taken by the context that switched to us, on this CPU.
    drop(RqGuard { cpu: pc.cpu() });
    if IRQ_PREEMPTION.load(Relaxed) {
        // A task preempted at an interrupt switched away with interrupts
        // off; every context runs with them on.
        platform::enable_interrupts();
    }
}

/// Interrupt mode with `preempt=full` (the default there): whether the
/// interrupt that just ran on `cpu` should preempt the task it interrupted,
/// through `ferrite_preempt_irq` (trap.rs redirects the return). Only when
/// a task (not an idle loop) was running with a zero preemption count, and a
/// tick, a wakeup or queued remote wakeups asked for the scheduler.
pub(crate) fn preempt_at_irq_exit(cpu: usize) -> bool {
    let pc = percpu::of(cpu);
    IRQ_PREEMPTION.load(Relaxed)
        && pc.current.load(Relaxed) != 0
        && pc.preempt_count() == 0
        && (pc.tick_pending.load(Relaxed)
            || pc.need_resched.load(Relaxed)
            || pc.wake_pending.load(Relaxed))
}

/// A task preempted at an interrupt's return (as Linux's
/// `preempt_schedule_irq`): trap.S's trampoline calls this on the task's own
/// stack, interrupts off, every register of the interrupted code saved. It
/// passes through the scheduler as `cond_resched` would, and returns with
/// interrupts off; the trampoline then restores the interrupted RFLAGS and
/// RIP.
// SAFETY (no_mangle): trap.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn ferrite_preempt_irq() {
    IRQ_PREEMPTIONS.fetch_add(1, Relaxed);
    cond_resched();
    platform::disable_interrupts();
}

/// `percpu::preempt_enable` found the count back at zero with a reschedule
/// due: with full preemption, a task with interrupts on passes through the
/// scheduler at once. (Interrupts off means a section that must not switch;
/// the idle loop schedules by itself.)
pub(crate) fn preempt_pending() {
    if IRQ_PREEMPTION.load(Relaxed)
        && READY.load(Relaxed)
        && this_cpu().current.load(Relaxed) != 0
        && platform::interrupts_enabled()
    {
        cond_resched();
    }
}

/// How tasks are preempted: `"full"` (interrupt mode, `preempt=full`: also
/// at the return of an interrupt) or `"voluntary"` (only at preemption
/// points: polling mode, or `preempt=voluntary`).
pub fn preempt_model() -> &'static str {
    if IRQ_PREEMPTION.load(Relaxed) {
        "full"
    } else {
        "voluntary"
    }
}

/// Interrupts that sent the task they interrupted through the scheduler.
pub fn irq_preemptions() -> u64 {
    IRQ_PREEMPTIONS.load(Relaxed)
}

/// Passes through the scheduler: the caller stays runnable, and the CPU goes
/// to whichever task `pick_next` chooses (possibly the caller again).
pub fn schedule() {
    if let Some(rq) = lock_in_task() {
        switch_away(rq);
    }
}

/// This CPU's run-queue lock, if the caller is a task (not an idle loop).
/// Reads the per-CPU data with preemption off, so it is this CPU's: a task
/// preempted between the check and the lock could resume on another CPU.
fn lock_in_task() -> Option<RqGuard> {
    let preempt = percpu::PreemptGuard::new();
    let pc = this_cpu();
    if pc.current.load(Relaxed) == 0 {
        return None;
    }
    let rq = RqGuard::lock(pc.cpu());
    // The lock keeps preemption off now; a switch needs the count at one.
    drop(preempt);
    Some(rq)
}

/// Gives the CPU to another runnable task, if any; the caller stays runnable.
pub fn yield_now() {
    if let Some(mut rq) = lock_in_task() {
        rq.rq().yield_current(now());
        switch_away(rq);
    }
}

/// A preemption point: switches if the tick or a wakeup asked for it, or (in
/// polling mode) the slice deadline has passed; moves wakeups that other
/// CPUs queued here into the run queue. Cheap when nothing is due.
pub fn cond_resched() {
    // Preemption off while `pc` is used: it must stay this CPU's.
    let preempt = percpu::PreemptGuard::new();
    let pc = this_cpu();
    if pc.current.load(Relaxed) == 0 || !READY.load(Relaxed) {
        return;
    }
    let now = now();
    let cpu = pc.cpu();
    // Load first: the swap (a locked RMW) only when a tick did arrive.
    let tick = pc.tick_pending.load(Relaxed) && pc.tick_pending.swap(false, Relaxed);
    let timers_due = now >= CPUS[cpu].next_timer.load(Relaxed);
    if !(tick
        || timers_due
        || pc.need_resched.load(Relaxed)
        || pc.wake_pending.load(Relaxed)
        || now >= pc.slice_deadline.load(Relaxed))
    {
        return;
    }
    if timers_due {
        run_timers(cpu, now);
    }
    let mut rq = RqGuard::lock(cpu);
    // The lock keeps preemption off now; a switch needs the count at one.
    drop(preempt);
    let woken_preempt = queue_arrived_wakeups(&mut rq, pc, now);
    maybe_balance(&mut rq, pc, now, BALANCE_INTERVAL_BUSY_NS);
    let slice_over = rq.rq().tick(now);
    if slice_over || woken_preempt || pc.need_resched.load(Relaxed) {
        switch_away(rq);
    } else {
        set_slice_deadline(&mut rq, pc, now);
    }
}

/// Polling mode's stand-in for the tick: when the running task's slice ends.
fn set_slice_deadline(rq: &mut RqGuard, pc: &PerCpu, now: u64) {
    let deadline = match rq.rq().slice_remaining(now) {
        Some(slice) => now.saturating_add(slice.max(MIN_SLICE_NS)),
        None => u64::MAX,
    };
    pc.slice_deadline.store(deadline, Relaxed);
}

// ---------------------------------------------------------------------------
// Sleeping and waking

/// A task as its waker names it: what a wait queue keeps. Safe to use in
/// any way: waking a task that is not asleep does nothing, and a wakeup
/// that comes when its sleeper has moved on only makes that sleeper check
/// its condition once more (every sleeper loops on its condition).
#[derive(Clone, PartialEq, Debug)]
pub struct TaskHandle(TaskRef);

impl TaskHandle {
    /// `wake_up_process()`: makes the task runnable if it sleeps or is about
    /// to. Returns false if it was neither.
    pub fn wake(&self) -> bool {
        wake_up(&self.0)
    }
}

/// Runs `f` with preemption off: a wakeup it makes that should preempt the
/// caller takes effect when `f` returns, as under a spin lock. `f` must not
/// sleep (a switch asserts that).
pub fn without_preemption<R>(f: impl FnOnce() -> R) -> R {
    let _preempt = percpu::PreemptGuard::new();
    f()
}

/// The calling task, as it sees itself: what a blocking primitive sleeps
/// with, as Linux's `prepare_to_wait` / `schedule` / `finish_wait`. Put
/// [`CurrentTask::handle`] where the waker finds it, call
/// [`prepare_to_sleep`](CurrentTask::prepare_to_sleep), check the condition,
/// then [`sleep`](CurrentTask::sleep) (or
/// [`cancel_sleep`](CurrentTask::cancel_sleep) if it is already true), and
/// check again after waking. A waker changes the condition before it calls
/// [`TaskHandle::wake`], so no wakeup is lost.
///
/// Neither `Send` nor `Sync`: it cannot leave its task, so it always names
/// the task running the code that holds it.
pub struct CurrentTask {
    handle: TaskHandle,
    _stays_with_its_task: PhantomData<*const ()>,
}

impl CurrentTask {
    /// The task as its wakers name it.
    pub fn handle(&self) -> &TaskHandle {
        &self.handle
    }

    pub fn prepare_to_sleep(&self) {
        set_sleeping(&self.handle.0);
    }

    /// The condition came true after `prepare_to_sleep`: do not sleep.
    pub fn cancel_sleep(&self) {
        set_running(&self.handle.0);
    }

    /// Sleeps until [`TaskHandle::wake`], unless a wakeup came since
    /// `prepare_to_sleep`. Must not be called with a spin lock held (a
    /// switch asserts that).
    pub fn sleep(&self) {
        park(&self.handle.0);
    }
}

/// The calling task. Panics outside a thread.
pub fn current() -> CurrentTask {
    CurrentTask {
        handle: TaskHandle(me("task::current")),
        _stays_with_its_task: PhantomData,
    }
}

/// `set_current_state(TASK_UNINTERRUPTIBLE)`: the caller (`me`, running) is
/// about to sleep. It has put itself where its waker finds it; it checks its
/// condition next, and then calls [`park`] or [`set_running`].
pub(crate) fn set_sleeping(me: &TaskRef) {
    let mut state = me.0.wake.lock();
    debug_assert!(matches!(*state, WakeState::Running | WakeState::Sleeping));
    *state = WakeState::Sleeping;
}

/// `__set_current_state(TASK_RUNNING)`: the condition came true after all.
pub(crate) fn set_running(me: &TaskRef) {
    *me.0.wake.lock() = WakeState::Running;
}

/// `schedule()` after [`set_sleeping`]: parks the caller until [`wake_up`],
/// unless a wakeup came in between (then it returns at once). Returning says
/// nothing about the condition: callers loop.
pub(crate) fn park(me: &TaskRef) {
    let preempt = percpu::PreemptGuard::new();
    let mut state = me.0.wake.lock();
    if !matches!(*state, WakeState::Sleeping) {
        return;
    }
    let mut rq = RqGuard::lock(percpu::cpu_id());
    let entity = rq
        .rq()
        .deactivate_current(now())
        .expect("a sleeping thread is its CPU's current task");
    *state = WakeState::Parked(entity);
    drop(state);
    // The run-queue lock keeps preemption off now; a switch needs the count at one.
    drop(preempt);
    switch_away(rq);
}

/// `try_to_wake_up()`: makes a sleeping task runnable. Returns false if it
/// was not asleep or going to sleep (running, already woken, or dead).
pub(crate) fn wake_up(task: &TaskRef) -> bool {
    let entity = {
        let mut state = task.0.wake.lock();
        match core::mem::replace(&mut *state, WakeState::Running) {
            WakeState::Parked(entity) => entity,
            // Not parked yet: `sleep` will see `Running` and not park.
            WakeState::Sleeping => return true,
            other => {
                *state = other;
                return false;
            }
        }
    };
    // The entity is ours to place: the task is marked running, so no other
    // wakeup takes it, and it is on no run queue, so it cannot run.
    let _preempt = percpu::PreemptGuard::new();
    let this = percpu::cpu_id();
    let prev = entity.cpu();
    let prev_on_cpu = task.0.on_cpu.load(Acquire);
    let target = match entity.pinned() {
        Some(pin) if !prev_on_cpu => pin,
        _ => sched::select_task_rq(&PublishedLoads, prev, prev_on_cpu, this),
    };
    if target == this {
        let from_min = CPUS[prev].min_vruntime.load(Relaxed);
        let mut rq = RqGuard::lock(this);
        if rq.rq().wake_up(entity, from_min, now()) {
            this_cpu().need_resched.store(true, Relaxed);
        }
    } else {
        queue_remote_wakeup(target, entity);
    }
    true
}

/// `ttwu_queue_wakelist()`: hands a woken task to `cpu`, which queues it at
/// its next scheduling point or idle poll.
fn queue_remote_wakeup(cpu: usize, entity: Entity<TaskRef>) {
    CPUS[cpu].wake_list.lock().push(entity);
    CPUS[cpu].remote_wakeups.fetch_add(1, Relaxed);
    // After the push: a CPU that sees the flag finds the entity.
    percpu::of(cpu).wake_pending.store(true, Release);
    if interrupt_mode() {
        platform::send_reschedule_ipi(cpu);
    }
}

/// `sched_ttwu_pending()`: queues the tasks other CPUs woke onto this one.
/// Returns whether one of them should preempt the running task.
fn queue_arrived_wakeups(rq: &mut RqGuard, pc: &PerCpu, now: u64) -> bool {
    // Load first: the swap (a locked RMW) only when wakeups did arrive;
    // every switch passes here, and `cond_resched` just before it.
    if !(pc.wake_pending.load(Relaxed) && pc.wake_pending.swap(false, Acquire)) {
        return false;
    }
    let state = rq.state();
    core::mem::swap(&mut state.arrived, &mut *CPUS[pc.cpu()].wake_list.lock());
    let mut preempt = false;
    for entity in state.arrived.drain(..) {
        let from_min = CPUS[entity.cpu()].min_vruntime.load(Relaxed);
        preempt |= state.rq.wake_up(entity, from_min, now);
    }
    preempt
}

/// Asks `cpu` to pass through the scheduler (new work for it): at once if
/// it is idle, at its next preemption point if it runs a task.
fn resched_cpu(cpu: usize) {
    percpu::of(cpu).need_resched.store(true, Release);
    if cpu != percpu::cpu_id() && interrupt_mode() {
        platform::send_reschedule_ipi(cpu);
    }
}

/// Wakes every task whose timer on `cpu` has expired.
fn run_timers(cpu: usize, now: u64) {
    let cs = &CPUS[cpu];
    if now < cs.next_timer.load(Relaxed) {
        return;
    }
    let expired = {
        let mut timers = cs.timers.lock();
        let expired = timers.expire(now);
        cs.next_timer
            .store(timers.next_deadline().unwrap_or(u64::MAX), Relaxed);
        expired
    };
    for task in &expired {
        wake_up(task);
    }
}

/// Periodic load balancing, at most every `interval` ns per CPU.
fn maybe_balance(rq: &mut RqGuard, pc: &PerCpu, now: u64, interval: u64) {
    if percpu::ncpus() < 2 || now.wrapping_sub(pc.last_balance.load(Relaxed)) < interval {
        return;
    }
    pc.last_balance.store(now, Relaxed);
    pull_from_busiest(rq, now);
}

/// `load_balance()` for the CPU whose queue `rq` holds: finds the busiest
/// CPU from the published loads and pulls from it, holding both queues. The
/// lower-numbered lock is taken first; when the busiest CPU's is lower and
/// busy, this round is skipped rather than dropping our own.
fn pull_from_busiest(rq: &mut RqGuard, now: u64) {
    let Some((src, imbalance)) = sched::find_busiest(&PublishedLoads, rq.cpu) else {
        return;
    };
    let src_guard = if src > rq.cpu {
        Some(RqGuard::lock(src))
    } else {
        RqGuard::try_lock(src)
    };
    if let Some(mut src_guard) = src_guard {
        sched::balance(rq.rq(), src_guard.rq(), imbalance, now);
    }
}

/// A timer: wakes `task` ([`TaskHandle::wake`]) once [`now`] has reached
/// `deadline`, from this CPU's scheduling points and idle loop (the
/// kernel's `sleep_ns` sleeps on it).
pub fn wake_at(deadline: u64, task: &TaskHandle) {
    let _preempt = percpu::PreemptGuard::new();
    let cs = &CPUS[percpu::cpu_id()];
    cs.timers.lock().add(deadline, task.0.clone());
    cs.next_timer.fetch_min(deadline, Relaxed);
}

// ---------------------------------------------------------------------------
// The idle loop

/// Each CPU's idle loop, on its boot stack: runs tasks while there are any,
/// else polls (polling mode: `pause`) or halts until an interrupt.
pub(crate) fn idle_loop() -> ! {
    let pc = this_cpu();
    let cpu = pc.cpu();
    assert!(READY.load(Acquire), "idle loop before task::init");
    pc.online.store(true, Release);
    if interrupt_mode() {
        platform::start_tick(TICK_HZ);
        // Interrupt handlers only set per-CPU atomics and never take locks
        // or switch, so threads and the idle loop run with interrupts on.
        platform::enable_interrupts();
    }
    loop {
        let now = now();
        run_timers(cpu, now);
        // Load before swapping: a polling loop must not keep taking the
        // line that wakers write to exclusively.
        let work = (pc.need_resched.load(Relaxed) && pc.need_resched.swap(false, Acquire))
            || pc.wake_pending.load(Acquire)
            || now.wrapping_sub(pc.last_balance.load(Relaxed)) >= BALANCE_INTERVAL_IDLE_NS;
        if work {
            let mut rq = RqGuard::lock(cpu);
            maybe_balance(&mut rq, pc, now, BALANCE_INTERVAL_IDLE_NS);
            pc.last_balance.store(now, Relaxed);
            switch_away(rq);
            continue;
        }
        if interrupt_mode() {
            // Check and halt with interrupts masked: an IPI that arrives
            // after the check stays pending and ends the `sti; hlt`.
            let was_enabled = platform::disable_interrupts();
            if !pc.need_resched.load(Relaxed)
                && !pc.wake_pending.load(Relaxed)
                && platform::now_ns() < CPUS[cpu].next_timer.load(Relaxed)
            {
                platform::idle_wait();
            }
            platform::restore_interrupts(was_enabled);
        } else {
            core::hint::spin_loop();
        }
    }
}

// ---------------------------------------------------------------------------
// Introspection

/// `cpu`'s scheduler counters, read under its run-queue lock (the kernel
/// sums them into its statistics). `cpu` is an online CPU
/// (`< percpu::ncpus()`); others panic.
pub fn cpu_stats(cpu: usize) -> sched::CpuStats {
    RqGuard::lock(cpu).rq().stats()
}

/// Wakeups that other CPUs handed to `cpu` through its wake list so far.
pub fn remote_wakeups(cpu: usize) -> u64 {
    CPUS[cpu].remote_wakeups.load(Relaxed)
}

/// Live kernel threads (exited ones count until their stack is freed).
pub fn nr_tasks() -> usize {
    LIVE_TASKS.load(Relaxed)
}

/// The run queues' consistency check: every queue's bookkeeping
/// (`CpuRq::check_invariants`), every entity carrying its own task's body,
/// and no task on two queues. Holds all queues at once (in CPU order), so
/// nothing moves meanwhile.
pub fn check_invariants() -> Result<(), alloc::string::String> {
    let mut guards: Vec<RqGuard> = (0..percpu::ncpus()).map(RqGuard::lock).collect();
    let mut seen = alloc::collections::BTreeMap::new();
    for guard in &mut guards {
        let rq = guard.rq();
        rq.check_invariants()?;
        for e in rq.tasks() {
            if e.payload.0.id != e.id() {
                return Err(alloc::format!(
                    "cpu {}: entity {} carries task {}",
                    rq.cpu(),
                    e.id(),
                    e.payload.0.id
                ));
            }
            if let Some(other) = seen.insert(e.id(), rq.cpu()) {
                return Err(alloc::format!(
                    "task {} is on cpus {other} and {}",
                    e.id(),
                    rq.cpu()
                ));
            }
        }
    }
    Ok(())
}

/// Sets a scheduler tunable (`sysctl NAME=VALUE`) on every CPU's queue, so
/// every CPU's next decision uses the new value. The one thing a CPU caches
/// is its polling-mode slice deadline, computed from the old values, so
/// every CPU's deadline is expired: each re-checks its running task's slice
/// at its next preemption point instead of up to the old
/// `sched_latency_ns` later.
pub fn set_tunable(name: &str, value: u64) -> Result<(), sched::TunableError> {
    // Every queue has the same values, so it fails on all or on none.
    RqGuard::lock(0).rq().set_tunable(name, value)?;
    for cpu in 1..percpu::ncpus() {
        RqGuard::lock(cpu)
            .rq()
            .set_tunable(name, value)
            .expect("the same change succeeded on cpu 0");
    }
    for cpu in 0..percpu::ncpus() {
        percpu::of(cpu).slice_deadline.store(0, Relaxed);
    }
    Ok(())
}

pub fn get_tunable(name: &str) -> Option<u64> {
    RqGuard::lock(0).rq().tunables().get(name)
}
