//! Kernel threads: task structs, context switch, the scheduler glue, the
//! per-CPU idle loops, sleeping and waking.
//!
//! Policy (which task runs next, vruntime, load balancing, wait-queue and
//! timer bookkeeping) lives in the host-tested `sched` crate, which knows
//! tasks only as `TaskId`s. This file gives those ids bodies (a stack and a
//! saved stack pointer) and does the switching.
//!
//! # Stacks
//!
//! Each thread's 32 KiB stack is a [`KernelStack`]: mapped in the kernel
//! stack area above unmapped guard pages (kstack.rs), so an overflow faults
//! at once and the #PF handler reports it ([`report_stack_overflow`]: CPU,
//! task id and name, stack range, fault address; exit status 1). The stack
//! is unmapped when the dead task is reaped (in [`finish_switch`], by the
//! next context on its CPU), and a CPU drops stale translations of reused
//! stack slots before it switches to a task (`kstack::flush_stale`).
//!
//! # Locking
//!
//! One global lock, [`KERNEL`], protects the scheduler state, the task table,
//! the timer queue and every wait queue (a [`SchedCell`]). That is the simple
//! first version; per-CPU run-queue locks would cut contention with many CPUs.
//! The lock is held *across* a context switch: the thread that switches away
//! takes it, and whoever runs next on that CPU releases it ([`finish_switch`]).
//! So a task another CPU wakes cannot be started there before its registers
//! are saved, and a waker cannot slip in between "condition false, go to
//! sleep" and the sleep (no lost wakeups). Lock order: `KERNEL` first, then
//! the stack slots' lock (kstack.rs: stacks are freed under `KERNEL`), then
//! the heap's lock (task table and queues allocate) or a channel's ring lock
//! (`WaitQueue::wait_until` evaluates its condition under `KERNEL`); code
//! that holds one of those never takes `KERNEL` (a channel drops its ring
//! lock before it wakes anyone). Interrupt handlers take no lock at all.
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
//!   `CONFIG_PREEMPT`): the tick (1 kHz) only sets `tick_pending`, the
//!   reschedule IPI `need_resched`; on the way out of the interrupt, if a
//!   task was running with a zero preemption count (`percpu::preempt_count`:
//!   no spin lock held, no per-CPU section), trap.rs makes the interrupt
//!   return into `ferrite_preempt_irq` on the task's stack, which passes
//!   through the scheduler as `cond_resched` would; and a critical section
//!   that ends (the count back at zero) with a reschedule due passes through
//!   it at once (`preempt_pending`, as Linux's `preempt_enable`). Guarantee:
//!   a thread that runs past its slice loses the CPU within one tick after
//!   the slice ends, whatever code it runs, and a woken task that should
//!   preempt it gets the CPU as soon as the waker leaves its critical
//!   sections.
//! - **Polling mode** (PVM native mode, where no interrupt reaches kernel
//!   mode; or `preempt=voluntary`): only scheduling points switch. The tick's
//!   stand-in is the slice deadline that `cond_resched` compares with
//!   `now_ns()`. Guarantee: a thread loses the CPU at its first scheduling
//!   point after its slice ends; every loop of the kernel that can run long
//!   (workloads, the block and file paths' per-request loops) passes one on
//!   each round, and a loop that does not is never preempted.
//!
//! A task preempted at an interrupt may be in the middle of any code, so the
//! trampoline (trap.S) saves every register and the x87/SSE state; a switch
//! at a scheduling point is a function call and saves only the callee-saved
//! registers (switch.S). Code that reads per-CPU data without holding a lock
//! keeps preemption off meanwhile (`percpu::PreemptGuard`), or a preemption
//! could move it to another CPU halfway.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use core::arch::global_asm;
use core::cell::UnsafeCell;
use core::ops::Range;
use core::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
    fence,
};

use sched::{Scheduler, TaskId, TimerQueue, Tunables};

use crate::kstack::{self, KernelStack};
use crate::percpu::{self, PerCpu, this_cpu};
use crate::platform::{self, IrqMode};
use crate::sync::SpinLock;
use crate::{print, println};

global_asm!(include_str!("switch.S"), options(att_syntax));

unsafe extern "C" {
    fn ferrite_switch(save_rsp: *mut u64, next_rsp: u64);
    fn ferrite_thread_start();
}

pub use crate::kstack::STACK_SIZE;
/// How often a busy CPU runs load balancing, and an idle one.
const BALANCE_INTERVAL_BUSY_NS: u64 = 4_000_000;
const BALANCE_INTERVAL_IDLE_NS: u64 = 1_000_000;
/// Interrupt mode: timer tick frequency.
const TICK_HZ: u32 = 1000;

/// A kernel thread's body as the scheduler sees it.
pub(crate) struct Task {
    /// Saved stack pointer while switched out (written by switch.S).
    rsp: AtomicU64,
    id: TaskId,
    /// Freed (unmapped) when the task is reaped.
    stack: KernelStack,
    name: &'static str,
}

/// Everything the global lock protects.
pub(crate) struct Kernel {
    pub sched: Scheduler,
    /// Task bodies by id (the crate never reuses ids).
    tasks: BTreeMap<TaskId, Box<Task>>,
    timers: TimerQueue,
}

static KERNEL: SpinLock<Option<Kernel>> = SpinLock::new(None);
/// Earliest timer deadline (ns), so idle CPUs can poll it without the lock.
static NEXT_TIMER: AtomicU64 = AtomicU64::new(u64::MAX);
static READY: AtomicBool = AtomicBool::new(false);
/// Interrupt mode with `preempt=full`: tasks are preempted at interrupt return.
static IRQ_PREEMPTION: AtomicBool = AtomicBool::new(false);
static IRQ_PREEMPTIONS: AtomicU64 = AtomicU64::new(0);
static INTERRUPT_MODE: AtomicBool = AtomicBool::new(false);

/// The held global lock. Dropping it releases the lock.
pub(crate) struct KernelGuard {
    _private: (),
}

impl KernelGuard {
    fn kernel(&mut self) -> &mut Kernel {
        // SAFETY: a KernelGuard exists only while its holder owns KERNEL's
        // lock, and `&mut self` makes this the only live reference.
        unsafe { KERNEL.get_locked() }
            .as_mut()
            .expect("task::init has run")
    }
}

impl core::ops::Deref for KernelGuard {
    type Target = Kernel;
    fn deref(&self) -> &Kernel {
        // SAFETY: as in `kernel`; `&self` only hands out shared access.
        unsafe { &*(KERNEL.get_locked() as *const Option<Kernel>) }
            .as_ref()
            .expect("task::init has run")
    }
}

impl core::ops::DerefMut for KernelGuard {
    fn deref_mut(&mut self) -> &mut Kernel {
        self.kernel()
    }
}

impl Drop for KernelGuard {
    fn drop(&mut self) {
        // SAFETY: the guard owns the lock and no reference derived from it outlives it.
        unsafe { KERNEL.release() };
    }
}

/// Takes the global scheduler lock.
pub(crate) fn lock() -> KernelGuard {
    KERNEL.acquire();
    KernelGuard { _private: () }
}

/// Data protected by the global lock (wait queues and the like), usable
/// from any structure without a lock of its own.
pub(crate) struct SchedCell<T>(UnsafeCell<T>);

// SAFETY: the contents are only reachable through `get`, which requires the
// held global lock, so accesses from different CPUs are serialised.
unsafe impl<T: Send> Sync for SchedCell<T> {}

impl<T> SchedCell<T> {
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    pub fn get<'a>(&'a self, _held: &'a mut KernelGuard) -> &'a mut T {
        // SAFETY: the caller holds the global lock (it lends us its guard
        // exclusively for 'a), which serialises all access to every SchedCell.
        unsafe { &mut *self.0.get() }
    }
}

pub fn now() -> u64 {
    platform::now_ns()
}

fn interrupt_mode() -> bool {
    INTERRUPT_MODE.load(Relaxed)
}

/// Boot CPU, once the heap is up: builds the scheduler for `ncpus` CPUs.
pub fn init(ncpus: usize, tunables: Tunables, full_preemption: bool) {
    let kernel = Kernel {
        sched: Scheduler::new(ncpus, tunables),
        tasks: BTreeMap::new(),
        timers: TimerQueue::new(),
    };
    *KERNEL.lock() = Some(kernel);
    INTERRUPT_MODE.store(platform::irq_mode() == IrqMode::Interrupt, Relaxed);
    IRQ_PREEMPTION.store(full_preemption && interrupt_mode(), Relaxed);
    platform::set_tick_handler(on_tick);
    platform::set_ipi_handler(on_reschedule_ipi);
    READY.store(true, Release);
}

/// Interrupt mode, on an IST stack: no locks, no switching; just a note.
fn on_tick() {
    this_cpu().tick_pending.store(true, Relaxed);
}

fn on_reschedule_ipi() {
    this_cpu().need_resched.store(true, Relaxed);
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

    let mut g = lock();
    let now = now();
    let id = g.sched.spawn(nice, cpu, now);
    let task = Box::new(Task {
        rsp: AtomicU64::new(rsp),
        id,
        stack,
        name,
    });
    if pinned {
        g.sched.set_affinity(id, Some(cpu));
    }
    let old = g.tasks.insert(id, task);
    assert!(old.is_none(), "task id {id} reused while alive");
    let target = g.sched.task_cpu(id).unwrap_or(cpu);
    drop(g);
    kick(target, true);
    id
}

/// Part of the #PF report (trap.rs) when the fault address `fault` lies in
/// the guard pages below `stack` (kstack.rs): names this CPU and the task
/// running on it. Takes no lock and allocates nothing: the faulting code may
/// hold any lock, the heap's included.
pub(crate) fn report_stack_overflow(fault: u64, stack: Range<u64>) {
    let pc = this_cpu();
    let guard = Span(stack.start - kstack::GUARD_SIZE..stack.start);
    let current = pc.current.load(Relaxed);
    // SAFETY: a non-zero `current` is the task running on this CPU, which
    // faulted: it cannot be reaped while it is here.
    let task = (current != 0).then(|| unsafe { &*(current as *const Task) });
    match task {
        Some(task) if task.stack.range() == stack => println!(
            "KERNEL STACK OVERFLOW on cpu {}: task {} \"{}\" ran off its stack {} ({} KiB): \
             fault address {fault:#x} in the guard pages {guard}",
            pc.cpu(),
            task.id,
            task.name,
            Span(stack),
            STACK_SIZE >> 10
        ),
        _ => {
            print!(
                "KERNEL STACK GUARD HIT on cpu {}: fault address {fault:#x} in the guard pages {guard} \
                 below stack {}, not the running one: ",
                pc.cpu(),
                Span(stack)
            );
            match task {
                Some(task) => println!(
                    "task {} \"{}\", stack {}",
                    task.id,
                    task.name,
                    Span(task.stack.range())
                ),
                None => println!("the idle loop"),
            }
        }
    }
}

/// An address range as `start..end` in hex.
struct Span(Range<u64>);

impl core::fmt::Display for Span {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}..{:#x}", self.0.start, self.0.end)
    }
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
    // The lock first: it keeps this task on this CPU (no preemption).
    let mut g = lock();
    let pc = this_cpu();
    let me = pc.current.load(Relaxed);
    assert_ne!(me, 0, "exit() outside a thread");
    let cpu = pc.cpu();
    g.sched.exit_current(cpu, now());
    pc.dead_task.store(me, Relaxed);
    switch_away(g);
    unreachable!("a dead task was scheduled again")
}

// ---------------------------------------------------------------------------
// Switching

/// Picks the next task for this CPU and switches to it (or to the idle loop,
/// or nowhere if the current one should go on). The caller has already told
/// the scheduler why (yield / block / exit / tick). Consumes the lock: it is
/// released here or, across a switch, by the next context.
fn switch_away(mut g: KernelGuard) {
    // Read the per-CPU pointer here, under the lock: a caller's copy may be
    // stale if it blocked before and resumed on another CPU.
    let pc = this_cpu();
    let cpu = pc.cpu();
    let now = now();
    pc.need_resched.store(false, Relaxed);
    if g.sched.nr_running(cpu) == 0 && busy_elsewhere(&g, cpu) {
        // About to go idle while another CPU has tasks waiting: pull some
        // now (Linux's newidle balance) instead of at the next periodic one.
        pc.last_balance.store(now, Relaxed);
        g.sched.balance(cpu, now);
    }
    let next = g.sched.pick_next(cpu, now);
    let prev = pc.current.load(Relaxed);
    let next_ptr = match next {
        Some(id) => {
            let task: &Task = g
                .tasks
                .get(&id)
                .expect("scheduler picked a task without a body");
            task as *const Task as usize
        }
        None => 0,
    };
    set_slice_deadline(&g, pc, now);
    if next_ptr == prev {
        return; // drops g: unlock
    }
    let save: *mut u64 = if prev == 0 {
        pc.idle_rsp.as_ptr()
    } else {
        // SAFETY: `prev` is the running task's body; it stays in the task
        // table at least until it is reaped after this switch.
        unsafe { &*(prev as *const Task) }.rsp.as_ptr()
    };
    let next_rsp = if next_ptr == 0 {
        pc.idle_rsp.load(Relaxed)
    } else {
        // This CPU may still cache translations of the slot's previous stack.
        kstack::flush_stale();
        // SAFETY: next_ptr points into the task table, under the held lock.
        unsafe { &*(next_ptr as *const Task) }.rsp.load(Relaxed)
    };
    pc.current.store(next_ptr, Relaxed);
    // The lock stays held across the switch; the next context releases it.
    core::mem::forget(g);
    // SAFETY: `save` is where this context's stack pointer belongs (its task
    // body or this CPU's idle slot), `next_rsp` a stack saved by
    // ferrite_switch or built by spawn_raw, which no other CPU runs: taking
    // it required the global lock, held until the switch is complete.
    unsafe { ferrite_switch(save, next_rsp) };
    // Resumed: possibly on another CPU, by a context that held the lock for us.
    finish_switch();
}

/// Whether some other CPU has a task waiting in its run queue.
fn busy_elsewhere(g: &KernelGuard, cpu: usize) -> bool {
    (0..percpu::ncpus()).any(|other| other != cpu && g.sched.nr_running(other) > 1)
}

/// Shortest slice the polling-mode deadline grants (avoids re-taking the
/// lock at every `cond_resched` when the scheduler reports ~0 remaining).
const MIN_SLICE_NS: u64 = 100_000;

/// Runs in the context that was just switched to, with the global lock held
/// by the one that switched away: reaps a dead predecessor, releases the lock.
fn finish_switch() {
    let pc = this_cpu();
    let dead = pc.dead_task.swap(0, Relaxed);
    if dead != 0 {
        // SAFETY: we inherited the held lock from the context that switched to us.
        let kernel = unsafe { KERNEL.get_locked() }
            .as_mut()
            .expect("task::init has run");
        // SAFETY: `dead` was the task that just switched away for the last time.
        let id = unsafe { &*(dead as *const Task) }.id;
        // Dropping the task unmaps and frees its stack.
        drop(kernel.tasks.remove(&id).expect("dead task in the table"));
    }
    // SAFETY: the lock was taken by the context that switched to us and is
    // ours now; the reference above is not used past this point.
    unsafe { KERNEL.release() };
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
/// tick or a wakeup asked for the scheduler.
pub(crate) fn preempt_at_irq_exit(cpu: usize) -> bool {
    let pc = percpu::of(cpu);
    IRQ_PREEMPTION.load(Relaxed)
        && pc.current.load(Relaxed) != 0
        && pc.preempt_count() == 0
        && (pc.tick_pending.load(Relaxed) || pc.need_resched.load(Relaxed))
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
    if let Some(g) = lock_in_task() {
        switch_away(g);
    }
}

/// The global lock, if the caller is a task (not an idle loop). Reads the
/// per-CPU data with preemption off, so it is this CPU's: a task preempted
/// between the check and the lock could resume on another CPU.
fn lock_in_task() -> Option<KernelGuard> {
    let preempt = percpu::PreemptGuard::new();
    if this_cpu().current.load(Relaxed) == 0 {
        return None;
    }
    let g = lock();
    // The lock keeps preemption off now; a switch needs the count at one.
    drop(preempt);
    Some(g)
}

/// Gives the CPU to another runnable task, if any; the caller stays runnable.
pub fn yield_now() {
    if let Some(mut g) = lock_in_task() {
        g.sched.yield_current(percpu::cpu_id(), now());
        switch_away(g);
    }
}

/// A preemption point: switches if the tick or a wakeup asked for it, or (in
/// polling mode) the slice deadline has passed. Cheap when nothing is due.
pub fn cond_resched() {
    // Preemption off while `pc` is used: it must stay this CPU's.
    let preempt = percpu::PreemptGuard::new();
    let pc = this_cpu();
    if pc.current.load(Relaxed) == 0 || !READY.load(Relaxed) {
        return;
    }
    let now = now();
    // Load first: the swap (a locked RMW) only when a tick did arrive.
    let tick = pc.tick_pending.load(Relaxed) && pc.tick_pending.swap(false, Relaxed);
    let wanted = pc.need_resched.load(Relaxed);
    if !(wanted
        || tick
        || now >= pc.slice_deadline.load(Relaxed)
        || now >= NEXT_TIMER.load(Relaxed))
    {
        return;
    }
    let cpu = pc.cpu();
    let mut g = lock();
    // The lock keeps preemption off now; a switch needs the count at one.
    drop(preempt);
    run_timers(&mut g, now);
    maybe_balance(&mut g, pc, now, BALANCE_INTERVAL_BUSY_NS);
    let preempt = g.sched.tick(cpu, now);
    if preempt || wanted {
        switch_away(g);
    } else {
        set_slice_deadline(&g, pc, now);
    }
}

/// Polling mode's stand-in for the tick: when the running task's slice ends.
fn set_slice_deadline(g: &KernelGuard, pc: &PerCpu, now: u64) {
    let deadline = match g.sched.slice_remaining(pc.cpu(), now) {
        Some(slice) => now.saturating_add(slice.max(MIN_SLICE_NS)),
        None => u64::MAX,
    };
    pc.slice_deadline.store(deadline, Relaxed);
}

/// Puts the current task to sleep; it runs again after `wake`.
/// The caller holds the lock and has queued the task where a waker finds it.
fn block(mut g: KernelGuard) {
    g.sched.block_current(percpu::cpu_id(), now());
    switch_away(g);
}

/// Makes `task` runnable (under the lock) and tells its CPU.
pub(crate) fn wake_locked(g: &mut KernelGuard, task: TaskId) {
    let cpu = percpu::cpu_id();
    if let Some(w) = g.sched.wake(task, now(), cpu) {
        kick(w.cpu, w.preempt);
    }
}

/// Tells `cpu` that it has something to run: sets its `need_resched` when it
/// is idle or should preempt, and in interrupt mode sends the IPI.
fn kick(cpu: usize, preempt: bool) {
    let target = percpu::of(cpu);
    let idle = target.current.load(Relaxed) == 0;
    if !(idle || preempt) {
        return;
    }
    target.need_resched.store(true, Release);
    if cpu != percpu::cpu_id() && interrupt_mode() {
        platform::send_reschedule_ipi(cpu);
    }
}

/// Wakes every task whose timer has expired.
fn run_timers(g: &mut KernelGuard, now: u64) {
    if now < NEXT_TIMER.load(Relaxed) {
        return;
    }
    for task in g.timers.expire(now) {
        wake_locked(g, task);
    }
    NEXT_TIMER.store(g.timers.next_deadline().unwrap_or(u64::MAX), Relaxed);
}

fn maybe_balance(g: &mut KernelGuard, pc: &PerCpu, now: u64, interval: u64) {
    if percpu::ncpus() < 2 || now.wrapping_sub(pc.last_balance.load(Relaxed)) < interval {
        return;
    }
    pc.last_balance.store(now, Relaxed);
    g.sched.balance(pc.cpu(), now);
}

/// Sleeps for at least `ns` nanoseconds.
pub fn sleep_ns(ns: u64) {
    let mut g = lock();
    let me = g.sched.current(percpu::cpu_id()).expect("sleep_ns outside a thread");
    let deadline = now().saturating_add(ns);
    g.timers.add(deadline, me);
    NEXT_TIMER.fetch_min(deadline, Relaxed);
    block(g);
}

// ---------------------------------------------------------------------------
// The idle loop

/// Each CPU's idle loop, on its boot stack: runs tasks while there are any,
/// else polls (polling mode: `pause`) or halts until an interrupt.
pub(crate) fn idle_loop() -> ! {
    let pc = this_cpu();
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
        let work = pc.need_resched.swap(false, Acquire)
            || now >= NEXT_TIMER.load(Relaxed)
            || now.wrapping_sub(pc.last_balance.load(Relaxed)) >= BALANCE_INTERVAL_IDLE_NS;
        if work {
            let mut g = lock();
            run_timers(&mut g, now);
            maybe_balance(&mut g, pc, now, BALANCE_INTERVAL_IDLE_NS);
            pc.last_balance.store(now, Relaxed);
            switch_away(g);
            continue;
        }
        if interrupt_mode() {
            // Check and halt with interrupts masked: an IPI that arrives
            // after the check stays pending and ends the `sti; hlt`.
            let was_enabled = platform::disable_interrupts();
            if !pc.need_resched.load(Relaxed) {
                platform::idle_wait();
            }
            platform::restore_interrupts(was_enabled);
        } else {
            core::hint::spin_loop();
        }
    }
}

// ---------------------------------------------------------------------------
// Sleeping on conditions

/// A queue of tasks waiting for a condition, protected by the global lock.
///
/// `waiters` lets a waker skip the global lock when nobody waits. It is
/// raised (a locked RMW, a full barrier) before a sleeper checks its
/// condition and lowered when a waker dequeues it; a waker publishes its state
/// change and then reads it behind a SeqCst fence. So either the sleeper sees
/// the new state, or the waker sees the sleeper (Dekker): no lost wakeup. A
/// condition guarded by a lock the waker also takes gets this from the lock.
pub struct WaitQueue {
    queue: SchedCell<sched::WaitQueue>,
    waiters: AtomicUsize,
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    pub fn new() -> Self {
        Self {
            queue: SchedCell::new(sched::WaitQueue::new()),
            waiters: AtomicUsize::new(0),
        }
    }

    /// Sleeps until `ready()` is true. `ready` is evaluated under the global
    /// lock before sleeping, and a waker changes the state before it calls
    /// `wake_*` (which takes the lock), so a wakeup cannot be lost.
    pub fn wait_until(&self, mut ready: impl FnMut() -> bool) {
        loop {
            if ready() {
                return;
            }
            let mut g = lock();
            self.waiters.fetch_add(1, SeqCst);
            if ready() {
                self.waiters.fetch_sub(1, SeqCst);
                return;
            }
            // This CPU now (the last round may have ended on another one).
            let me = g
                .sched
                .current(percpu::cpu_id())
                .expect("wait_until outside a thread");
            let queued = self.queue.get(&mut g).push(me);
            assert!(queued, "task {me} waits twice on one queue");
            block(g);
        }
    }

    fn has_waiters(&self) -> bool {
        fence(SeqCst);
        self.waiters.load(SeqCst) != 0
    }

    /// Wakes the longest waiter. Returns whether there was one.
    pub fn wake_one(&self) -> bool {
        if !self.has_waiters() {
            return false;
        }
        let mut g = lock();
        self.wake_one_locked(&mut g)
    }

    pub(crate) fn wake_one_locked(&self, g: &mut KernelGuard) -> bool {
        match self.queue.get(g).pop() {
            Some(task) => {
                self.waiters.fetch_sub(1, SeqCst);
                wake_locked(g, task);
                true
            }
            None => false,
        }
    }

    pub(crate) fn wake_all(&self) -> usize {
        if !self.has_waiters() {
            return 0;
        }
        let mut g = lock();
        let mut woken = 0;
        while self.wake_one_locked(&mut g) {
            woken += 1;
        }
        woken
    }
}

/// A counting semaphore whose `down` sleeps (the `sched` crate's state machine).
pub struct Semaphore {
    state: SchedCell<sched::Semaphore>,
}

impl Semaphore {
    pub fn new(count: u32) -> Self {
        Self {
            state: SchedCell::new(sched::Semaphore::new(count)),
        }
    }

    pub fn down(&self) {
        let mut g = lock();
        let me = g
            .sched
            .current(percpu::cpu_id())
            .expect("down() outside a thread");
        if self.state.get(&mut g).down(me) == sched::Acquire::Acquired {
            return;
        }
        // Queued in the semaphore; `up` hands the unit over and wakes us.
        block(g);
    }

    pub fn up(&self) {
        let mut g = lock();
        if let Some(task) = self.state.get(&mut g).up() {
            wake_locked(&mut g, task);
        }
    }
}

/// A sleeping mutex (the `sched` crate's state machine) owning a `T`.
pub struct Mutex<T> {
    state: SchedCell<sched::Mutex>,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is reachable only through a MutexGuard, and the state
// machine admits one owner at a time.
unsafe impl<T: Send> Sync for Mutex<T> {}

pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

impl<T> Mutex<T> {
    pub fn new(value: T) -> Self {
        Self {
            state: SchedCell::new(sched::Mutex::new()),
            data: UnsafeCell::new(value),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        let mut g = lock();
        let me = g
            .sched
            .current(percpu::cpu_id())
            .expect("Mutex::lock outside a thread");
        if self.state.get(&mut g).lock(me) == sched::Acquire::MustWait {
            // Queued; `unlock` hands ownership to us before waking us.
            block(g);
        }
        MutexGuard { mutex: self }
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
        let mut g = lock();
        let me = g
            .sched
            .current(percpu::cpu_id())
            .expect("mutex owner is a task");
        let next = self.mutex.state.get(&mut g).unlock(&me);
        if let Some(next) = next.unwrap_or_else(|e| panic!("mutex: {e}")) {
            wake_locked(&mut g, next);
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
    pub fn new() -> Self {
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
    pub fn new() -> Self {
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

// ---------------------------------------------------------------------------
// Introspection

/// Scheduler counters summed over all CPUs.
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedTotals {
    pub context_switches: u64,
    pub migrations: u64,
    pub wait_ns: u64,
}

impl SchedTotals {
    pub fn now() -> Self {
        let g = lock();
        let mut totals = Self::default();
        for cpu in 0..percpu::ncpus() {
            let s = g.sched.stats(cpu);
            totals.context_switches += s.context_switches;
            totals.migrations += s.migrations_in;
            totals.wait_ns += s.wait_time_ns;
        }
        totals
    }

    /// The counts from `before` to `self`.
    pub fn since(self, before: Self) -> Self {
        Self {
            context_switches: self.context_switches - before.context_switches,
            migrations: self.migrations - before.migrations,
            wait_ns: self.wait_ns - before.wait_ns,
        }
    }
}

/// Involuntary switches so far (tick / deadline / wakeup preemption), all CPUs.
pub fn preemptions() -> u64 {
    let g = lock();
    (0..percpu::ncpus())
        .map(|cpu| g.sched.stats(cpu).nr_preemptions)
        .sum()
}

/// Live kernel threads.
pub fn nr_tasks() -> usize {
    lock().tasks.len()
}

/// The scheduler's own consistency check (every task in exactly one place).
pub fn check_invariants() -> Result<(), alloc::string::String> {
    lock().sched.check_invariants()
}

/// Sets a scheduler tunable (`sysctl NAME=VALUE`). There is one scheduler
/// for all CPUs, so every CPU's next decision uses the new value; the one
/// thing a CPU caches is its polling-mode slice deadline, computed from the
/// old values, so every CPU's deadline is expired: each re-checks its
/// running task's slice (`Scheduler::tick`) at its next preemption point
/// instead of up to the old `sched_latency_ns` later.
pub fn set_tunable(name: &str, value: u64) -> Result<(), sched::TunableError> {
    let mut g = lock();
    g.sched.set_tunable(name, value)?;
    for cpu in 0..percpu::ncpus() {
        percpu::of(cpu).slice_deadline.store(0, Relaxed);
    }
    Ok(())
}

pub fn get_tunable(name: &str) -> Option<u64> {
    lock().sched.tunables().get(name)
}
