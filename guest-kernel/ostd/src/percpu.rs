//! Per-CPU data, reached through the GS segment base.
//!
//! Each CPU's GS base points at its own `PerCpu` (a static array indexed by
//! CPU number), whose first word is its own address, so `mov reg, gs:[0]`
//! yields `&PerCpu` in one native instruction. GS base is written once per
//! CPU at boot: with `wrgsbase` on PVM (native there, and it works without
//! CR4.FSGSBASE), with `wrgsbase` after setting CR4.FSGSBASE on hosts whose
//! CPUID has FSGSBASE, else with `wrmsr IA32_GS_BASE`. Nothing swaps GS later
//! (no `swapgs`: ferrite has no user mode).

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// CPUs with a boot stack and per-CPU data (same value as MAX_CPUS in boot.S).
pub(crate) const MAX_CPUS: usize = 64;
const _: () = assert!(
    MAX_CPUS == crate::trap::MAX_CPUS,
    "trap stacks for every CPU"
);

const MSR_GS_BASE: u32 = 0xc000_0101;
const CR4_FSGSBASE: u64 = 1 << 16;

/// What one CPU owns. Fields are atomics because other CPUs read some of them
/// (and set `need_resched`); the owner uses `Relaxed` for its private ones.
#[repr(C, align(64))]
pub(crate) struct PerCpu {
    /// gs:[0]: this struct's own address.
    this: AtomicU64,
    /// gs:[8]: the CPU index.
    cpu: AtomicU64,
    /// gs:[16]: how many reasons this CPU's running code has not to be
    /// preempted (Linux's `preempt_count`): spin locks held, sections using
    /// per-CPU data ([`PreemptGuard`]). Only its CPU changes it, each time
    /// with one `inc`/`dec` instruction, so an interrupt on that CPU sees it
    /// either before or after a change, never half-done.
    preempt_count: AtomicU64,
    /// Set once this CPU runs its idle loop and accepts threads.
    pub online: AtomicBool,
    /// Someone (a wakeup that should preempt, the tick, an IPI) wants this
    /// CPU to pass through the scheduler at its next preemption point / idle poll.
    pub need_resched: AtomicBool,
    /// Wakers on other CPUs queued tasks on this CPU's wake list
    /// (`task::queue_remote_wakeup`); the next preemption point or idle poll
    /// moves them into the run queue.
    pub wake_pending: AtomicBool,
    /// Interrupt mode: a tick arrived; the next preemption point accounts it.
    pub tick_pending: AtomicBool,
    /// The running task (`*const task::Task` as an address; 0 = the idle loop).
    pub current: AtomicUsize,
    /// Saved stack pointer of this CPU's idle loop while a task runs.
    pub idle_rsp: AtomicU64,
    /// Polling mode: `now_ns()` at which the current task's slice ends.
    pub slice_deadline: AtomicU64,
    /// When this CPU last ran `balance` (ns).
    pub last_balance: AtomicU64,
    /// The task this CPU just switched away from: the next context marks it
    /// off the CPU (`task::finish_switch`), after its registers are saved.
    pub prev_task: AtomicUsize,
    /// A task that exited and switched away for good (an `Arc` turned into
    /// an address); the next context on this CPU drops it (it cannot free the
    /// stack it runs on).
    pub dead_task: AtomicUsize,
}

impl PerCpu {
    const fn new() -> Self {
        Self {
            this: AtomicU64::new(0),
            cpu: AtomicU64::new(0),
            preempt_count: AtomicU64::new(0),
            online: AtomicBool::new(false),
            need_resched: AtomicBool::new(false),
            wake_pending: AtomicBool::new(false),
            tick_pending: AtomicBool::new(false),
            current: AtomicUsize::new(0),
            idle_rsp: AtomicU64::new(0),
            slice_deadline: AtomicU64::new(u64::MAX),
            last_balance: AtomicU64::new(0),
            prev_task: AtomicUsize::new(0),
            dead_task: AtomicUsize::new(0),
        }
    }

    pub fn cpu(&self) -> usize {
        self.cpu.load(Relaxed) as usize
    }

    /// Zero when the code running on this CPU may be preempted.
    pub(crate) fn preempt_count(&self) -> u64 {
        self.preempt_count.load(Relaxed)
    }
}

const _: () = assert!(
    core::mem::offset_of!(PerCpu, preempt_count) == 16,
    "gs:[16] in preempt_disable"
);

/// Keeps the running code on this CPU until [`preempt_enable`]: an interrupt
/// does not preempt it, so per-CPU data stays this CPU's. Usable once `init`
/// has run on this CPU. (No `cli`: that is an exit on PVM.)
pub(crate) fn preempt_disable() {
    // SAFETY: gs:[16] is this CPU's PerCpu::preempt_count (`init` set GS
    // base); one `inc` cannot be split by an interrupt.
    unsafe { asm!("inc qword ptr gs:[16]", options(nostack)) };
}

/// Undoes one [`preempt_disable`]. When the count drops to zero and this
/// CPU was asked to reschedule meanwhile (a wakeup that should preempt, or
/// wakeups queued here by other CPUs), the task passes through the scheduler now, as Linux's `preempt_enable` does
/// (`task::preempt_pending`), instead of at the next tick.
pub(crate) fn preempt_enable() {
    // SAFETY: as in `preempt_disable`; every `dec` follows its `inc` on the
    // same CPU (nothing preempts or migrates code that holds a count).
    unsafe { asm!("dec qword ptr gs:[16]", options(nostack)) };
    let pc = this_cpu();
    if pc.preempt_count() == 0 && (pc.need_resched.load(Relaxed) || pc.wake_pending.load(Relaxed)) {
        crate::task::preempt_pending();
    }
}

/// [`preempt_disable`] until dropped.
pub(crate) struct PreemptGuard(());

impl PreemptGuard {
    pub fn new() -> Self {
        preempt_disable();
        Self(())
    }
}

impl Drop for PreemptGuard {
    fn drop(&mut self) {
        preempt_enable();
    }
}

static PERCPU: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];
static NCPUS: AtomicUsize = AtomicUsize::new(1);

/// Number of CPUs the kernel runs on.
pub fn ncpus() -> usize {
    NCPUS.load(Relaxed)
}

/// Boot CPU: records the CPU count. Panics if there are more CPUs than boot stacks.
pub(crate) fn set_ncpus(ncpus: usize) {
    assert!(
        (1..=MAX_CPUS).contains(&ncpus),
        "the VMM started {ncpus} vCPUs; ferrite supports 1..={MAX_CPUS} \
         (CPUs from index {MAX_CPUS} on have no boot stack and stay parked)"
    );
    NCPUS.store(ncpus, Relaxed);
}

/// Another CPU's data (e.g. to set its `need_resched`).
pub(crate) fn of(cpu: usize) -> &'static PerCpu {
    &PERCPU[cpu]
}

/// Points this CPU's GS base at `PERCPU[cpu]`. Call first thing on each CPU.
pub fn init(cpu: usize, pvm_native: bool) {
    let data = &PERCPU[cpu];
    let base = data as *const PerCpu as u64;
    data.this.store(base, Relaxed);
    data.cpu.store(cpu as u64, Relaxed);
    if pvm_native || enable_fsgsbase() {
        // SAFETY: GS base is only used for per-CPU data; `base` is the
        // address of this CPU's static PerCpu, valid for the kernel's life.
        // On PVM `wrgsbase` runs natively without CR4.FSGSBASE; elsewhere
        // `enable_fsgsbase` has just set that bit.
        unsafe { asm!("wrgsbase {}", in(reg) base, options(nostack, preserves_flags)) };
    } else {
        // SAFETY: IA32_GS_BASE exists on every x86_64 CPU; same value as above.
        unsafe {
            asm!("wrmsr", in("ecx") MSR_GS_BASE, in("eax") base as u32,
                 in("edx") (base >> 32) as u32, options(nostack, preserves_flags))
        };
    }
    assert_eq!(this_cpu().cpu(), cpu, "GS base did not take effect");
}

/// Sets CR4.FSGSBASE if CPUID.(EAX=7,ECX=0):EBX[0] says the CPU has it.
fn enable_fsgsbase() -> bool {
    let ebx = core::arch::x86_64::__cpuid_count(7, 0).ebx;
    if ebx & 1 == 0 {
        return false;
    }
    // SAFETY: CR4.FSGSBASE only enables the {rd,wr}{fs,gs}base instructions
    // (CPUID says they exist); no other CR4 bit changes.
    unsafe {
        asm!("mov {t}, cr4", "or {t}, {bit}", "mov cr4, {t}",
             t = out(reg) _, bit = in(reg) CR4_FSGSBASE, options(nostack, preserves_flags))
    };
    true
}

/// This CPU's data.
pub(crate) fn this_cpu() -> &'static PerCpu {
    let this: u64;
    // SAFETY: after `init` on this CPU gs:[0] holds the address of its static
    // PerCpu (a shared reference to a static of atomics is always valid).
    // Every CPU calls `init` before any code that uses per-CPU data.
    unsafe {
        asm!("mov {}, gs:[0]", out(reg) this, options(nostack, readonly, preserves_flags));
        &*(this as *const PerCpu)
    }
}

/// This CPU's index.
pub fn cpu_id() -> usize {
    let cpu: u64;
    // SAFETY: gs:[8] is this CPU's PerCpu::cpu (see `this_cpu`); reading it has no side effects.
    unsafe { asm!("mov {}, gs:[8]", out(reg) cpu, options(nostack, readonly, preserves_flags)) };
    cpu as usize
}
