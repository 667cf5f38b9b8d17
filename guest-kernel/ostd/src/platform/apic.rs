//! The local APIC: x2APIC (MSRs 0x800+) when CPUID offers it, else xAPIC
//! (MMIO at IA32_APIC_BASE, 0xfee00000 by default, reached through the
//! kernel's uncached identity map of the top GiB below 4 GiB). Only used in
//! interrupt mode.
//!
//! Timer: TSC-deadline mode when CPUID.1:ECX[24] says so (re-armed from the
//! tick interrupt, `deadline += period`, so ticks do not drift), else periodic
//! mode with the APIC timer frequency from CPUID 0x40000010 EBX or measured
//! against the TSC.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use bootinfo::Cmdline;
use x86hw::apic::{self, ApicBase, Divide, Icr, Lvt, MSR_APIC_BASE, MSR_TSC_DEADLINE, Reg};

use super::cpuid::Features;
use super::time;
use super::x86::rdtsc;
use super::x86::{self, mmio_read32, mmio_write32, rdmsr, wrmsr};
use super::{APIC_ERROR_VECTOR, SPURIOUS_VECTOR, TIMER_VECTOR};
use crate::println;
use crate::trap::{self, MAX_CPUS};

/// How long the APIC timer is measured against the TSC when its rate is unknown.
const CALIBRATION_NS: u64 = 10_000_000;

static X2APIC: AtomicBool = AtomicBool::new(false);
/// Virtual address of the xAPIC registers (identity map).
static XAPIC_BASE: AtomicU64 = AtomicU64::new(0);
static DEADLINE_MODE: AtomicBool = AtomicBool::new(false);
static TIMER_KHZ: AtomicU64 = AtomicU64::new(0);
/// Per CPU: TSC ticks per tick (deadline mode), 0 = tick stopped.
static PERIOD_TSC: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// Per CPU: the armed TSC deadline (deadline mode).
static DEADLINE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

fn read(reg: Reg) -> u32 {
    if X2APIC.load(Relaxed) {
        rdmsr(reg.x2apic_msr()) as u32
    } else {
        // SAFETY: XAPIC_BASE is this CPU's APIC register page (identity-mapped,
        // uncached); `reg` is an architectural register (x86hw::apic::Reg),
        // and this module reads none whose read has a side effect.
        unsafe { mmio_read32(XAPIC_BASE.load(Relaxed) + u64::from(reg.mmio_offset())) }
    }
}

fn write(reg: Reg, value: u32) {
    if X2APIC.load(Relaxed) {
        // SAFETY: an architectural x2APIC register (x2APIC mode is on); the
        // effect of the value is what the callers in this module intend.
        unsafe { wrmsr(reg.x2apic_msr(), u64::from(value)) };
    } else {
        // SAFETY: as in `read`; the effect of the write is this module's intent.
        unsafe {
            mmio_write32(
                XAPIC_BASE.load(Relaxed) + u64::from(reg.mmio_offset()),
                value,
            )
        };
    }
}

/// Once, on the boot CPU: chooses the access mode and the timer mode. Knobs:
/// `apic=xapic` (do not use x2APIC), `apic_timer=periodic` (not TSC-deadline).
pub fn init(cmdline: &Cmdline<'_>, features: &Features) {
    let x2apic = features.x2apic && cmdline.get("apic") != Some("xapic");
    X2APIC.store(x2apic, Relaxed);
    let phys = ApicBase(rdmsr(MSR_APIC_BASE)).address();
    if !x2apic {
        assert!(
            phys < 1 << 32,
            "xAPIC registers at {phys:#x}, outside the identity map"
        );
        XAPIC_BASE.store(phys, Relaxed); // identity map: virtual = physical
    }

    let deadline = features.tsc_deadline && cmdline.get("apic_timer") != Some("periodic");
    DEADLINE_MODE.store(deadline, Relaxed);
    enable_this_cpu();
    if x2apic && !X2APIC.load(Relaxed) {
        println!("apic: x2APIC announced but could not be enabled; using xAPIC");
    }
    let access = if X2APIC.load(Relaxed) {
        "x2apic"
    } else {
        "xapic"
    };
    if deadline {
        println!("apic: {access} at {phys:#x}, timer: tsc-deadline");
    } else {
        let (khz, source) = match features.apic_timer_khz {
            0 => (calibrate_timer_khz(), "measured"),
            khz => (u64::from(khz), "cpuid"),
        };
        TIMER_KHZ.store(khz, Relaxed);
        println!("apic: {access} at {phys:#x}, timer: periodic, {khz} kHz ({source})");
    }
}

/// Enables this CPU's local APIC in the chosen mode and returns its APIC id.
pub(crate) fn init_cpu() -> u32 {
    enable_this_cpu();
    id()
}

fn enable_this_cpu() {
    let base = ApicBase(rdmsr(MSR_APIC_BASE));
    if X2APIC.load(Relaxed) {
        // SAFETY: sets the global enable and then x2APIC mode of this CPU's
        // APIC (two writes, as the mode change requires); no interrupt
        // source is unmasked by it. A #GP (x2APIC not really there: e.g.
        // host CPUID on PVM) is caught.
        let ok = unsafe {
            trap::wrmsr_safe(MSR_APIC_BASE, base.with_enable().0)
                && trap::wrmsr_safe(MSR_APIC_BASE, base.with_x2apic().0)
        };
        if !ok {
            X2APIC.store(false, Relaxed);
            XAPIC_BASE.store(base.address(), Relaxed);
        }
    } else if !base.enabled() {
        // SAFETY: globally enables this CPU's xAPIC at its current base.
        unsafe { wrmsr(MSR_APIC_BASE, base.with_enable().0) };
    }
    write(Reg::TPR, 0); // accept every priority class
    write(Reg::LVT_LINT0, Lvt::masked(0).0); // no 8259 (ExtINT) interrupts
    write(Reg::LVT_LINT1, Lvt::masked(0).0);
    write(Reg::LVT_TIMER, Lvt::masked(TIMER_VECTOR).0);
    write(Reg::LVT_ERROR, Lvt::fixed(APIC_ERROR_VECTOR).0);
    write(Reg::ESR, 0);
    write(Reg::SVR, apic::svr_enabled(SPURIOUS_VECTOR));
}

/// This CPU's APIC id.
pub fn id() -> u32 {
    apic::id_from_register(read(Reg::ID), X2APIC.load(Relaxed))
}

/// Signals end of interrupt (every vector but the spurious one).
#[inline]
pub(crate) fn eoi() {
    write(Reg::EOI, 0);
}

/// Reads and clears the error status.
pub(crate) fn take_error() -> u32 {
    write(Reg::ESR, 0);
    read(Reg::ESR)
}

/// Whether `vector` is pending (requested, not yet delivered) on this CPU.
pub(crate) fn pending(vector: u8) -> bool {
    let (reg, bit) = Reg::irr(vector);
    read(reg) & bit != 0
}

/// Sends a fixed interrupt with `vector` to the CPU with APIC id `dest`.
pub(crate) fn send_ipi(dest: u32, vector: u8) {
    let icr = Icr::fixed(dest, vector);
    if X2APIC.load(Relaxed) {
        // SAFETY: one write of the x2APIC ICR sends the IPI; a fixed IPI only
        // makes the target run our interrupt handler for `vector`.
        unsafe { wrmsr(Reg::ICR_LOW.x2apic_msr(), icr.x2apic_value()) };
    } else {
        // Two MMIO writes: keep an interrupt handler on this CPU from
        // sending in between.
        let enabled = x86::interrupts_enabled();
        x86::cli();
        while read(Reg::ICR_LOW) & Icr::DELIVERY_PENDING != 0 {
            core::hint::spin_loop();
        }
        write(Reg::ICR_HIGH, icr.xapic_high());
        write(Reg::ICR_LOW, icr.low);
        if enabled {
            x86::sti();
        }
    }
}

/// How long to wait for the ICR's delivery status to clear.
const ICR_IDLE_TIMEOUT_NS: u64 = 100_000_000;

/// Writes this CPU's ICR and waits until the message was sent. Works before
/// and without `init` (polling mode, where no APIC is otherwise touched):
/// the access mode comes from IA32_APIC_BASE itself (x2APIC if EXTD is set,
/// else xAPIC MMIO at its base), and a globally disabled APIC is enabled
/// first. Returns false if the delivery status did not clear (xAPIC; x2APIC
/// has none).
fn send_raw(icr: Icr) -> bool {
    let mut base = ApicBase(rdmsr(MSR_APIC_BASE));
    if !base.enabled() {
        base = base.with_enable();
        // SAFETY: globally enables this CPU's APIC at its current base and
        // mode; its LVTs come out of reset masked, so no interrupt source opens.
        unsafe { wrmsr(MSR_APIC_BASE, base.0) };
    }
    if base.x2apic() {
        // SAFETY: one write of the x2APIC ICR sends the message; the callers
        // send only INIT and STARTUP to other CPUs, which is their intent.
        unsafe { wrmsr(Reg::ICR_LOW.x2apic_msr(), icr.x2apic_value()) };
        return true;
    }
    let mmio = base.address();
    assert!(
        mmio < 1 << 32,
        "xAPIC registers at {mmio:#x}, outside the identity map"
    );
    let reg = |reg: Reg| mmio + u64::from(reg.mmio_offset());
    let idle = || {
        let deadline = time::now_ns() + ICR_IDLE_TIMEOUT_NS;
        // SAFETY: the ICR of this CPU's xAPIC (identity-mapped, uncached);
        // reading it has no side effect.
        while unsafe { mmio_read32(reg(Reg::ICR_LOW)) } & Icr::DELIVERY_PENDING != 0 {
            if time::now_ns() > deadline {
                return false;
            }
            core::hint::spin_loop();
        }
        true
    };
    idle();
    // SAFETY: ESR, ICR high, then ICR low (which sends) of this CPU's xAPIC;
    // interrupts are off while the boot CPU starts the others, so nothing on
    // this CPU writes the ICR in between.
    unsafe {
        mmio_write32(reg(Reg::ESR), 0);
        mmio_write32(reg(Reg::ICR_HIGH), icr.xapic_high());
        mmio_write32(reg(Reg::ICR_LOW), icr.low);
    }
    idle()
}

/// Whether this CPU's APIC is in x2APIC mode (IA32_APIC_BASE.EXTD), set up or not.
pub(crate) fn x2apic_enabled() -> bool {
    ApicBase(rdmsr(MSR_APIC_BASE)).x2apic()
}

/// INIT to APIC id `dest`: assert, wait 10 ms, de-assert (the target resets
/// and waits for a STARTUP IPI). Returns false if a message was not sent.
pub(crate) fn send_init(dest: u32) -> bool {
    let asserted = send_raw(Icr::init_assert(dest));
    time::spin_ns(10_000_000);
    asserted && send_raw(Icr::init_deassert(dest))
}

/// STARTUP IPI to APIC id `dest`: it begins in real mode at `page << 12`
/// (`page` < 0x100). Returns false if the message was not sent.
pub(crate) fn send_startup(dest: u32, page: u8) -> bool {
    send_raw(Icr::startup(dest, page))
}

/// Starts this CPU's (`cpu`) tick at `hz` (> 0).
pub(crate) fn start_timer(cpu: usize, hz: u32) {
    if DEADLINE_MODE.load(Relaxed) {
        let period = apic::deadline_period(time::tsc_khz(), hz);
        PERIOD_TSC[cpu].store(period, Relaxed);
        write(Reg::LVT_TIMER, Lvt::timer_tsc_deadline(TIMER_VECTOR).0);
        // SDM 11.5.4.1: order the LVT write before the deadline MSR write.
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        let deadline = rdtsc() + period;
        DEADLINE[cpu].store(deadline, Relaxed);
        // SAFETY: arms this CPU's TSC deadline; the timer LVT is programmed
        // for TIMER_VECTOR, whose handler re-arms or ignores it.
        unsafe { wrmsr(MSR_TSC_DEADLINE, deadline) };
    } else {
        let (divide, initial) = apic::periodic_timer(TIMER_KHZ.load(Relaxed), hz);
        write(Reg::TIMER_DIVIDE, divide as u32);
        write(Reg::LVT_TIMER, Lvt::timer_periodic(TIMER_VECTOR).0);
        write(Reg::TIMER_INITIAL, initial);
    }
}

/// Stops this CPU's tick.
pub(crate) fn stop_timer(cpu: usize) {
    PERIOD_TSC[cpu].store(0, Relaxed);
    write(Reg::LVT_TIMER, Lvt::masked(TIMER_VECTOR).0);
    if DEADLINE_MODE.load(Relaxed) {
        // SAFETY: disarms this CPU's TSC deadline timer.
        unsafe { wrmsr(MSR_TSC_DEADLINE, 0) };
    } else {
        write(Reg::TIMER_INITIAL, 0);
    }
}

/// From the tick interrupt on `cpu`: arms the next deadline (deadline mode;
/// periodic mode reloads by itself). Late ticks are skipped, not queued.
pub(crate) fn timer_rearm(cpu: usize) {
    if !DEADLINE_MODE.load(Relaxed) {
        return;
    }
    let period = PERIOD_TSC[cpu].load(Relaxed);
    if period == 0 {
        return; // stopped meanwhile
    }
    let next = apic::next_deadline(DEADLINE[cpu].load(Relaxed), period, rdtsc());
    DEADLINE[cpu].store(next, Relaxed);
    // SAFETY: re-arms this CPU's TSC deadline for its own tick.
    unsafe { wrmsr(MSR_TSC_DEADLINE, next) };
}

/// The APIC timer rate in kHz, measured against the (already known) TSC:
/// one-shot, masked, divide by 1, for CALIBRATION_NS.
fn calibrate_timer_khz() -> u64 {
    write(Reg::TIMER_DIVIDE, Divide::By1 as u32);
    write(Reg::LVT_TIMER, Lvt::masked(TIMER_VECTOR).0);
    let start = rdtsc();
    write(Reg::TIMER_INITIAL, u32::MAX);
    let ticks = time::ns_to_tsc(CALIBRATION_NS);
    let mut now = rdtsc();
    while now - start < ticks {
        core::hint::spin_loop();
        now = rdtsc();
    }
    let counted = u64::from(u32::MAX - read(Reg::TIMER_CURRENT));
    write(Reg::TIMER_INITIAL, 0);
    apic::timer_khz(counted, time::tsc_to_ns(now - start))
}
