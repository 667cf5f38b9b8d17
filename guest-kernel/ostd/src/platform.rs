//! Platform services the rest of the kernel uses: time, interrupt mode, local
//! APIC timer tick and IPIs.
//!
//! Two interrupt modes (DESIGN.md, "PVM native mode"):
//! - **Polling** (default in PVM native mode, where interrupts never reach
//!   kernel mode; or `irq=poll`): no APIC is touched, `start_tick` and
//!   `send_reschedule_ipi` do nothing, `idle_wait` is one `pause`; callers
//!   poll flags and TSC deadlines. Nothing here exits to the hypervisor on a
//!   hot path: `now_ns` is `rdtsc` and a multiply.
//! - **Interrupt** (default elsewhere, or `irq=intr`): local APIC (x2APIC or
//!   xAPIC), a per-CPU timer tick, a reschedule IPI, IOAPIC inputs masked,
//!   `idle_wait` is `sti; hlt`.
//!
//! Interrupt handlers run on the CPU's IST3 stack with interrupts off (see
//! trap.rs) and must not block or switch context: the tick and IPI handlers
//! call the registered function (which should only set flags, e.g.
//! need_resched), then signal EOI.
//!
//! Order of calls: on the boot CPU `trap::init()`, then `init_bsp` (before
//! any other function here); on every other CPU `init_ap(cpu)` first (it
//! installs that CPU's TSS and IDT, then its local APIC).
//!
//! Vectors: 0x30..0x4f devices (`route_irq` / `set_irq_handler`),
//! 0xf0 tick, 0xf1 reschedule IPI, 0xfe APIC error, 0xff spurious.
//!
//! Command line: `irq=poll|intr`, `tsc_source=cpuid|pit|kvmclock` (force one
//! TSC frequency source), `apic=xapic` (no x2APIC), `apic_timer=periodic`
//! (no TSC-deadline mode), `test=tick [tick_hz=N]` (tick_test.rs).


mod apic;
mod cpuid;
mod ioapic;
mod kvmclock;
mod pit;
mod tick_test;
pub(crate) mod time;
mod x86;

use core::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed,
};

use bootinfo::Cmdline;

use crate::trap::{self, MAX_CPUS};
use crate::{port, println};

/// How the kernel learns about events: hardware interrupts (hardware KVM, TCG) or polling
/// (PVM native mode, where interrupts are not delivered to kernel mode; or `irq=poll`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqMode {
    Interrupt,
    Polling,
}

impl IrqMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "interrupt",
            Self::Polling => "polling",
        }
    }
}

/// First of the vectors `route_irq` may use.
pub const DEVICE_VECTOR_BASE: u8 = 0x30;
pub(crate) const DEVICE_VECTORS: usize = 32;
pub(crate) const TIMER_VECTOR: u8 = 0xf0;
pub(crate) const RESCHEDULE_VECTOR: u8 = 0xf1;
pub(crate) const APIC_ERROR_VECTOR: u8 = 0xfe;
pub(crate) const SPURIOUS_VECTOR: u8 = 0xff;

static INTERRUPT_MODE: AtomicBool = AtomicBool::new(false);
/// Interrupt mode on a host that delivers interrupts to kernel mode (not PVM native).
static DELIVERED: AtomicBool = AtomicBool::new(false);
static PVM_NATIVE: AtomicBool = AtomicBool::new(false);
static NCPUS: AtomicUsize = AtomicUsize::new(1);
const NO_APIC_ID: u32 = u32::MAX;
/// CPU index -> APIC id, recorded by each CPU at init_bsp/init_ap.
static APIC_IDS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(NO_APIC_ID) }; MAX_CPUS];

// Registered handlers: null or a `fn()` cast to a pointer; device handlers
// are `fn(u8)`, called with their vector, so one function can serve several.
static TICK_HANDLER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
static IPI_HANDLER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
static DEVICE_HANDLERS: [AtomicPtr<()>; DEVICE_VECTORS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; DEVICE_VECTORS];

/// Per-CPU interrupt counts, for tests and statistics.
static TICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static IPIS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static SPURIOUS: AtomicU64 = AtomicU64::new(0);
static UNEXPECTED: AtomicU64 = AtomicU64::new(0);
static APIC_ERRORS: AtomicU64 = AtomicU64::new(0);
static LAST_APIC_ERROR: AtomicU32 = AtomicU32::new(0);
static LAST_UNEXPECTED_VECTOR: AtomicU32 = AtomicU32::new(0);
static LAST_UNEXPECTED_RIP: AtomicU64 = AtomicU64::new(0);
static TICK_WARNED: AtomicBool = AtomicBool::new(false);

fn store_handler(slot: &AtomicPtr<()>, handler: fn()) {
    slot.store(handler as *mut (), Relaxed);
}

fn call_handler(slot: &AtomicPtr<()>) -> bool {
    let ptr = slot.load(Relaxed);
    if ptr.is_null() {
        return false;
    }
    // SAFETY: the slots only ever hold null or a `fn()` stored by
    // `store_handler`; function and data pointers have the same size here.
    let handler = unsafe { core::mem::transmute::<*mut (), fn()>(ptr) };
    handler();
    true
}

fn call_device_handler(vector: u8) -> bool {
    let ptr = DEVICE_HANDLERS[usize::from(vector - DEVICE_VECTOR_BASE)].load(Relaxed);
    if ptr.is_null() {
        return false;
    }
    // SAFETY: DEVICE_HANDLERS only ever hold null or a `fn(u8)` stored by
    // `set_irq_handler`; function and data pointers have the same size here.
    let handler = unsafe { core::mem::transmute::<*mut (), fn(u8)>(ptr) };
    handler(vector);
    true
}

/// Boot CPU: calibrate time, choose the interrupt mode, set up the local APIC (and IOAPIC).
/// Prints `time: ...` and `irq: ...`. With `test=tick` it runs that test and ends the VM.
pub(crate) fn init_bsp(cmdline: &Cmdline<'_>, pvm_native: bool, ncpus: usize) {
    PVM_NATIVE.store(pvm_native, Relaxed);
    if ncpus > MAX_CPUS {
        println!("platform: {ncpus} CPUs, only {MAX_CPUS} supported");
    }
    NCPUS.store(ncpus.clamp(1, MAX_CPUS), Relaxed);

    let features = cpuid::read(pvm_native);
    if features.origin == cpuid::Origin::Host {
        println!(
            "platform: {} only (boot.S did not capture the VMM's CPUID before the PVM switch)",
            features.origin.name()
        );
    }
    time::init(cmdline, &features);

    let mode = match cmdline.get("irq") {
        None if pvm_native => IrqMode::Polling,
        None => IrqMode::Interrupt,
        Some("poll") => IrqMode::Polling,
        Some("intr") => IrqMode::Interrupt,
        Some(other) => panic!("irq={other}: expected poll or intr"),
    };
    println!("irq: {}", mode.name());
    if mode == IrqMode::Interrupt {
        if pvm_native {
            println!(
                "irq: warning: PVM native mode does not deliver interrupts to kernel mode: \
                 ticks and IPIs stay pending; idle_wait polls instead of halting"
            );
        }
        INTERRUPT_MODE.store(true, Relaxed);
        DELIVERED.store(!pvm_native, Relaxed);
        mask_8259();
        apic::init(cmdline, &features);
        APIC_IDS[0].store(apic::id(), Relaxed);
        ioapic::init();
    } else {
        APIC_IDS[0].store(polling_apic_id(0, &features), Relaxed);
    }

    if cmdline.get("test") == Some("tick") {
        tick_test::run(cmdline);
    }
}

/// A secondary CPU: its own exception stacks (TSS, IDT) and its local APIC;
/// records its APIC id. Call on that CPU after `init_bsp` ran on the boot CPU.
/// (Call `trap::init_ap(cpu)` earlier still, first thing on the AP, so that
/// an exception before this point is reported instead of shutting the VM
/// down; calling it twice is fine.)
pub(crate) fn init_ap(cpu: usize) {
    trap::init_ap(cpu);
    let id = if INTERRUPT_MODE.load(Relaxed) {
        apic::init_cpu()
    } else {
        polling_apic_id(cpu, &cpuid::read(PVM_NATIVE.load(Relaxed)))
    };
    APIC_IDS[cpu].store(id, Relaxed);
}

/// In polling mode no APIC is touched: the initial APIC id from CPUID, or
/// (PVM native mode, where CPUID describes the host) the CPU index, which is
/// the APIC id panvm and QEMU assign.
fn polling_apic_id(cpu: usize, features: &cpuid::Features) -> u32 {
    if features.origin == cpuid::Origin::Live {
        features.initial_apic_id
    } else {
        cpu as u32
    }
}

/// The 8259 PICs stay masked: interrupts come through the (IO)APIC only.
fn mask_8259() {
    // SAFETY: OCW1 (mask all) to the two PICs' data ports; without a PIC the
    // writes go nowhere. Nothing else drives the PICs.
    unsafe {
        port::outb(0xa1, 0xff);
        port::outb(0x21, 0xff);
    }
}

/// Whether the kernel runs in PVM native mode (as passed to `init_bsp`).
pub fn pvm_native() -> bool {
    PVM_NATIVE.load(Relaxed)
}

/// "pvm-native" or "kvm": the execution mode, as the banner and every JSON result say.
pub fn mode_name() -> &'static str {
    if pvm_native() { "pvm-native" } else { "kvm" }
}

/// Interrupt mode, and interrupts reach kernel mode (not PVM native mode).
pub fn interrupts_delivered() -> bool {
    DELIVERED.load(Relaxed)
}

pub fn irq_mode() -> IrqMode {
    if INTERRUPT_MODE.load(Relaxed) {
        IrqMode::Interrupt
    } else {
        IrqMode::Polling
    }
}

/// Nanoseconds since boot, from the TSC.
#[inline]
pub fn now_ns() -> u64 {
    time::now_ns()
}

/// Number of CPUs as given to `init_bsp` (at most MAX_CPUS).
pub fn ncpus() -> usize {
    NCPUS.load(Relaxed)
}

/// Boot CPU, PVH path: the CPU count once `smp` has found the others
/// (`init_bsp` was told 1).
pub(crate) fn set_ncpus(ncpus: usize) {
    NCPUS.store(ncpus.clamp(1, MAX_CPUS), Relaxed);
}

/// Whether this CPU's local APIC is in x2APIC mode (32-bit APIC ids in IPIs).
pub(crate) fn x2apic_enabled() -> bool {
    apic::x2apic_enabled()
}

/// INIT (assert, 10 ms, de-assert) to the CPU with APIC id `apic_id`, in
/// either interrupt mode (the boot CPU's local APIC need not be set up).
/// Returns false if the local APIC did not send it.
pub(crate) fn send_init_ipi(apic_id: u32) -> bool {
    apic::send_init(apic_id)
}

/// A STARTUP IPI: the CPU with APIC id `apic_id` begins in real mode at
/// physical `page << 12`. Returns false if the local APIC did not send it.
pub(crate) fn send_startup_ipi(apic_id: u32, page: u8) -> bool {
    apic::send_startup(apic_id, page)
}

/// The APIC id of CPU `cpu`, once that CPU ran `init_bsp`/`init_ap`.
pub(crate) fn apic_id(cpu: usize) -> Option<u32> {
    let id = APIC_IDS.get(cpu)?.load(Relaxed);
    (id != NO_APIC_ID).then_some(id)
}

/// The CPU index of the calling CPU, from its local APIC id (interrupt mode
/// only: in polling mode the APIC is not used; it is an MSR read or MMIO
/// access, so callers with a per-CPU pointer should use that instead).
fn current_cpu_from_apic() -> Option<usize> {
    let id = apic::id();
    APIC_IDS.iter().position(|slot| slot.load(Relaxed) == id)
}

/// Called on each local APIC timer tick, on the CPU that ticked, in interrupt mode.
pub(crate) fn set_tick_handler(handler: fn()) {
    store_handler(&TICK_HANDLER, handler);
}

/// Starts this CPU's periodic tick (interrupt mode only; no-op in polling mode).
/// `hz == 0` stops it.
pub(crate) fn start_tick(hz: u32) {
    if !INTERRUPT_MODE.load(Relaxed) {
        return;
    }
    let Some(cpu) = current_cpu_from_apic() else {
        println!("platform: start_tick on a CPU without init_ap; ignored");
        return;
    };
    if hz == 0 {
        apic::stop_timer(cpu);
        return;
    }
    if !DELIVERED.load(Relaxed) && !TICK_WARNED.swap(true, Relaxed) {
        println!("platform: tick armed at {hz} Hz, but PVM native mode will not deliver it");
    }
    apic::start_timer(cpu, hz);
}

/// Stops this CPU's tick (interrupt mode; no-op in polling mode).
pub(crate) fn stop_tick() {
    start_tick(0);
}

/// Called on the target CPU when it receives a reschedule IPI (interrupt mode).
pub(crate) fn set_ipi_handler(handler: fn()) {
    store_handler(&IPI_HANDLER, handler);
}

/// Interrupt mode: sends the reschedule IPI to `cpu`. Polling mode: no-op (callers use flags).
pub(crate) fn send_reschedule_ipi(cpu: usize) {
    if !INTERRUPT_MODE.load(Relaxed) {
        return;
    }
    if let Some(id) = apic_id(cpu) {
        apic::send_ipi(id, RESCHEDULE_VECTOR);
    }
}

/// Interrupt mode: `sti; hlt` until the next interrupt, then interrupts are
/// masked again if they were masked before (the usual case: `cli` state).
/// Polling mode, and interrupt mode where interrupts are not delivered (PVM
/// native mode with `irq=intr`; `hlt` would never wake): one `pause`.
pub fn idle_wait() {
    if DELIVERED.load(Relaxed) {
        let was_enabled = x86::interrupts_enabled();
        x86::sti_hlt_restore(was_enabled);
    } else {
        core::hint::spin_loop();
    }
}

/// Interrupt mode: unmasks interrupts on this CPU (`sti`). Polling mode: nothing
/// (interrupts are never delivered, and `sti` would cost an exit on PVM).
pub(crate) fn enable_interrupts() {
    if DELIVERED.load(Relaxed) {
        x86::sti();
    }
}

/// Masks interrupts on this CPU and returns whether they were enabled (pass
/// that to `restore_interrupts`). Polling mode: returns false, no `cli`.
pub fn disable_interrupts() -> bool {
    if !DELIVERED.load(Relaxed) {
        return false;
    }
    let was_enabled = x86::interrupts_enabled();
    if was_enabled {
        x86::cli();
    }
    was_enabled
}

/// Whether interrupts are enabled on this CPU (`pushf`, native on PVM).
pub(crate) fn interrupts_enabled() -> bool {
    x86::interrupts_enabled()
}

/// Undoes `disable_interrupts`.
pub fn restore_interrupts(was_enabled: bool) {
    if was_enabled {
        x86::sti();
    }
}

/// Registers the handler of device vector `vector`
/// (`DEVICE_VECTOR_BASE..DEVICE_VECTOR_BASE + DEVICE_VECTORS`); it is called
/// with the vector.
pub fn set_irq_handler(vector: u8, handler: fn(u8)) {
    let index = usize::from(vector.wrapping_sub(DEVICE_VECTOR_BASE));
    assert!(
        index < DEVICE_VECTORS,
        "vector {vector:#x} is not a device vector"
    );
    DEVICE_HANDLERS[index].store(handler as *mut (), Relaxed);
}

/// Interrupt mode: routes IOAPIC input `gsi` to `vector` on CPU `cpu`
/// (edge-triggered, active high unless `level`). Returns false in polling
/// mode, or if there is no such input or CPU.
pub fn route_irq(gsi: u32, vector: u8, cpu: usize, level: bool) -> bool {
    if !INTERRUPT_MODE.load(Relaxed) {
        return false;
    }
    match apic_id(cpu) {
        Some(id) => ioapic::route(gsi, vector, id, level, false),
        None => false,
    }
}

/// Timer ticks taken by `cpu` so far.
pub(crate) fn tick_count(cpu: usize) -> u64 {
    TICKS.get(cpu).map_or(0, |c| c.load(Relaxed))
}

/// Interrupts nobody handles, counted (interrupt context prints nothing).
fn unexpected(vector: u8, rip: u64) {
    UNEXPECTED.fetch_add(1, Relaxed);
    LAST_UNEXPECTED_VECTOR.store(u32::from(vector), Relaxed);
    LAST_UNEXPECTED_RIP.store(rip, Relaxed);
}

/// Interrupts taken since boot, all CPUs (the control channel's `stats`).
#[derive(Clone, Copy, Debug)]
pub struct InterruptStats {
    /// Timer ticks.
    pub ticks: u64,
    /// Reschedule IPIs.
    pub ipis: u64,
    pub spurious: u64,
    pub apic_errors: u64,
    /// The last APIC error status (ESR) read.
    pub last_apic_error: u32,
    /// Interrupts on vectors without a handler.
    pub unexpected: u64,
    /// The last such vector and the RIP it interrupted.
    pub last_unexpected_vector: u8,
    pub last_unexpected_rip: u64,
}

pub fn interrupt_stats() -> InterruptStats {
    let total = |counters: &[AtomicU64; MAX_CPUS]| counters.iter().map(|c| c.load(Relaxed)).sum();
    InterruptStats {
        ticks: total(&TICKS),
        ipis: total(&IPIS),
        spurious: SPURIOUS.load(Relaxed),
        apic_errors: APIC_ERRORS.load(Relaxed),
        last_apic_error: LAST_APIC_ERROR.load(Relaxed),
        unexpected: UNEXPECTED.load(Relaxed),
        last_unexpected_vector: LAST_UNEXPECTED_VECTOR.load(Relaxed) as u8,
        last_unexpected_rip: LAST_UNEXPECTED_RIP.load(Relaxed),
    }
}

/// From trap.rs, for every vector 32..255, on the interrupted CPU (`cpu`, from
/// its trap stack), interrupts off.
pub(crate) fn handle_interrupt(vector: u8, cpu: Option<usize>, rip: u64) {
    let count = |counters: &[AtomicU64; MAX_CPUS]| {
        if let Some(cpu) = cpu {
            counters[cpu].fetch_add(1, Relaxed);
        }
    };
    match vector {
        TIMER_VECTOR => {
            count(&TICKS);
            if let Some(cpu) = cpu {
                apic::timer_rearm(cpu);
            }
            call_handler(&TICK_HANDLER);
            apic::eoi();
        }
        RESCHEDULE_VECTOR => {
            count(&IPIS);
            call_handler(&IPI_HANDLER);
            apic::eoi();
        }
        SPURIOUS_VECTOR => {
            SPURIOUS.fetch_add(1, Relaxed); // no EOI for a spurious interrupt
        }
        APIC_ERROR_VECTOR => {
            LAST_APIC_ERROR.store(apic::take_error(), Relaxed);
            APIC_ERRORS.fetch_add(1, Relaxed);
            apic::eoi();
        }
        v if usize::from(v.wrapping_sub(DEVICE_VECTOR_BASE)) < DEVICE_VECTORS => {
            if !call_device_handler(v) {
                unexpected(vector, rip);
            }
            apic::eoi();
        }
        _ => {
            unexpected(vector, rip);
            apic::eoi();
        }
    }
}
