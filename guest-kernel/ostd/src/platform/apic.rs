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

use super::cpuid::Features;
use super::time;
use super::x86::rdtsc;
use super::x86::{self, mmio_read32, mmio_write32, rdmsr, wrmsr};
use super::{APIC_ERROR_VECTOR, SPURIOUS_VECTOR, TIMER_VECTOR};
use crate::println;
use crate::trap::{self, MAX_CPUS};

const MSR_APIC_BASE: u32 = 0x1b;
const APIC_BASE_X2APIC: u64 = 1 << 10;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_ADDRESS: u64 = 0x000f_ffff_ffff_f000;
const MSR_TSC_DEADLINE: u32 = 0x6e0;
/// x2APIC register `offset` is MSR `X2APIC_MSR_BASE + offset / 16`.
const X2APIC_MSR_BASE: u32 = 0x800;

// Register offsets (xAPIC MMIO), Intel SDM vol. 3, table 11-1.
const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_IRR: u32 = 0x200;
const REG_ESR: u32 = 0x280;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_LVT_TIMER: u32 = 0x320;
const REG_LVT_LINT0: u32 = 0x350;
const REG_LVT_LINT1: u32 = 0x360;
const REG_LVT_ERROR: u32 = 0x370;
const REG_TIMER_INITIAL: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;

const SVR_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const LVT_TIMER_PERIODIC: u32 = 1 << 17;
const LVT_TIMER_TSC_DEADLINE: u32 = 2 << 17;
const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_ASSERT: u32 = 1 << 14;
const DIVIDE_BY_1: u32 = 0b1011;
const DIVIDE_BY_16: u32 = 0b0011;

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

fn read(reg: u32) -> u32 {
    if X2APIC.load(Relaxed) {
        rdmsr(X2APIC_MSR_BASE + reg / 16) as u32
    } else {
        // SAFETY: XAPIC_BASE is this CPU's APIC register page (identity-mapped,
        // uncached); `reg` is one of the architectural offsets above, whose
        // reads have no side effects.
        unsafe { mmio_read32(XAPIC_BASE.load(Relaxed) + u64::from(reg)) }
    }
}

fn write(reg: u32, value: u32) {
    if X2APIC.load(Relaxed) {
        // SAFETY: an architectural x2APIC register (x2APIC mode is on); the
        // effect of the value is what the callers in this module intend.
        unsafe { wrmsr(X2APIC_MSR_BASE + reg / 16, u64::from(value)) };
    } else {
        // SAFETY: as in `read`; the effect of the write is this module's intent.
        unsafe { mmio_write32(XAPIC_BASE.load(Relaxed) + u64::from(reg), value) };
    }
}

/// Once, on the boot CPU: chooses the access mode and the timer mode. Knobs:
/// `apic=xapic` (do not use x2APIC), `apic_timer=periodic` (not TSC-deadline).
pub fn init(cmdline: &Cmdline<'_>, features: &Features) {
    let x2apic = features.x2apic && cmdline.get("apic") != Some("xapic");
    X2APIC.store(x2apic, Relaxed);
    let base = rdmsr(MSR_APIC_BASE);
    let phys = base & APIC_BASE_ADDRESS;
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
    let base = rdmsr(MSR_APIC_BASE);
    if X2APIC.load(Relaxed) {
        // xAPIC -> x2APIC needs EN set first (EN=0, EXTD=1 is invalid).
        // SAFETY: sets the global enable and then x2APIC mode of this CPU's
        // APIC; no interrupt source is unmasked by it. A #GP (x2APIC not
        // really there: e.g. host CPUID on PVM) is caught.
        let ok = unsafe {
            trap::wrmsr_safe(MSR_APIC_BASE, base | APIC_BASE_ENABLE)
                && trap::wrmsr_safe(MSR_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_X2APIC)
        };
        if !ok {
            X2APIC.store(false, Relaxed);
            XAPIC_BASE.store(base & APIC_BASE_ADDRESS, Relaxed);
        }
    } else if base & APIC_BASE_ENABLE == 0 {
        // SAFETY: globally enables this CPU's xAPIC at its current base.
        unsafe { wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE) };
    }
    write(REG_TPR, 0); // accept every priority class
    write(REG_LVT_LINT0, LVT_MASKED); // no 8259 (ExtINT) interrupts
    write(REG_LVT_LINT1, LVT_MASKED);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    write(REG_LVT_ERROR, u32::from(APIC_ERROR_VECTOR));
    write(REG_ESR, 0);
    write(REG_SVR, SVR_ENABLE | u32::from(SPURIOUS_VECTOR));
}

/// This CPU's APIC id (x2APIC: 32 bits; xAPIC: bits 31..24 of the ID register).
pub fn id() -> u32 {
    let raw = read(REG_ID);
    if X2APIC.load(Relaxed) { raw } else { raw >> 24 }
}

/// Signals end of interrupt (every vector but the spurious one).
#[inline]
pub(crate) fn eoi() {
    write(REG_EOI, 0);
}

/// Reads and clears the error status.
pub(crate) fn take_error() -> u32 {
    write(REG_ESR, 0);
    read(REG_ESR)
}

/// Whether `vector` is pending (requested, not yet delivered) on this CPU.
pub(crate) fn pending(vector: u8) -> bool {
    let reg = REG_IRR + u32::from(vector / 32) * 0x10;
    read(reg) & (1 << (vector % 32)) != 0
}

/// Sends a fixed interrupt with `vector` to the CPU with APIC id `dest`.
pub(crate) fn send_ipi(dest: u32, vector: u8) {
    let low = u32::from(vector) | ICR_ASSERT; // fixed, physical destination, edge
    if X2APIC.load(Relaxed) {
        // SAFETY: one write of the x2APIC ICR sends the IPI; a fixed IPI only
        // makes the target run our interrupt handler for `vector`.
        unsafe {
            wrmsr(
                X2APIC_MSR_BASE + REG_ICR_LOW / 16,
                u64::from(dest) << 32 | u64::from(low),
            )
        };
    } else {
        // Two MMIO writes: keep an interrupt handler on this CPU from
        // sending in between.
        let enabled = x86::interrupts_enabled();
        x86::cli();
        while read(REG_ICR_LOW) & ICR_DELIVERY_PENDING != 0 {
            core::hint::spin_loop();
        }
        write(REG_ICR_HIGH, dest << 24);
        write(REG_ICR_LOW, low);
        if enabled {
            x86::sti();
        }
    }
}

/// ICR delivery modes and level for starting a CPU (SDM vol. 3, 11.6.1, 9.4.4.1).
const ICR_INIT: u32 = 5 << 8;
const ICR_STARTUP: u32 = 6 << 8;
const ICR_LEVEL_TRIGGER: u32 = 1 << 15;
/// How long to wait for the ICR's delivery status to clear.
const ICR_IDLE_TIMEOUT_NS: u64 = 100_000_000;

/// Writes this CPU's ICR (`low` to APIC id `dest`) and waits until the
/// message was sent. Works before and without `init` (polling mode, where
/// no APIC is otherwise touched): the access mode comes from IA32_APIC_BASE
/// itself (x2APIC if EXTD is set, else xAPIC MMIO at its base), and a
/// globally disabled APIC is enabled first. Returns false if the delivery
/// status did not clear (xAPIC; x2APIC has none).
fn send_raw(dest: u32, low: u32) -> bool {
    let mut base = rdmsr(MSR_APIC_BASE);
    if base & APIC_BASE_ENABLE == 0 {
        base |= APIC_BASE_ENABLE;
        // SAFETY: globally enables this CPU's APIC at its current base and
        // mode; its LVTs come out of reset masked, so no interrupt source opens.
        unsafe { wrmsr(MSR_APIC_BASE, base) };
    }
    if base & APIC_BASE_X2APIC != 0 {
        // SAFETY: one write of the x2APIC ICR sends the message; the callers
        // send only INIT and STARTUP to other CPUs, which is their intent.
        unsafe {
            wrmsr(
                X2APIC_MSR_BASE + REG_ICR_LOW / 16,
                u64::from(dest) << 32 | u64::from(low),
            )
        };
        return true;
    }
    let mmio = base & APIC_BASE_ADDRESS;
    assert!(
        mmio < 1 << 32,
        "xAPIC registers at {mmio:#x}, outside the identity map"
    );
    let reg = |offset: u32| mmio + u64::from(offset);
    let idle = || {
        let deadline = time::now_ns() + ICR_IDLE_TIMEOUT_NS;
        // SAFETY: the ICR of this CPU's xAPIC (identity-mapped, uncached);
        // reading it has no side effect.
        while unsafe { mmio_read32(reg(REG_ICR_LOW)) } & ICR_DELIVERY_PENDING != 0 {
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
        mmio_write32(reg(REG_ESR), 0);
        mmio_write32(reg(REG_ICR_HIGH), dest << 24);
        mmio_write32(reg(REG_ICR_LOW), low);
    }
    idle()
}

/// Whether this CPU's APIC is in x2APIC mode (IA32_APIC_BASE.EXTD), set up or not.
pub(crate) fn x2apic_enabled() -> bool {
    rdmsr(MSR_APIC_BASE) & APIC_BASE_X2APIC != 0
}

/// INIT to APIC id `dest`: assert, wait 10 ms, de-assert (the target resets
/// and waits for a STARTUP IPI). Returns false if a message was not sent.
pub(crate) fn send_init(dest: u32) -> bool {
    let asserted = send_raw(dest, ICR_INIT | ICR_LEVEL_TRIGGER | ICR_ASSERT);
    time::spin_ns(10_000_000);
    asserted && send_raw(dest, ICR_INIT | ICR_LEVEL_TRIGGER)
}

/// STARTUP IPI to APIC id `dest`: it begins in real mode at `page << 12`
/// (`page` < 0x100). Returns false if the message was not sent.
pub(crate) fn send_startup(dest: u32, page: u8) -> bool {
    send_raw(dest, ICR_STARTUP | u32::from(page))
}

/// Starts this CPU's (`cpu`) tick at `hz` (> 0).
pub(crate) fn start_timer(cpu: usize, hz: u32) {
    let hz = u64::from(hz);
    if DEADLINE_MODE.load(Relaxed) {
        let period = (time::tsc_khz() * 1000 / hz).max(1);
        PERIOD_TSC[cpu].store(period, Relaxed);
        write(
            REG_LVT_TIMER,
            u32::from(TIMER_VECTOR) | LVT_TIMER_TSC_DEADLINE,
        );
        // SDM 11.5.4.1: order the LVT write before the deadline MSR write.
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        let deadline = rdtsc() + period;
        DEADLINE[cpu].store(deadline, Relaxed);
        // SAFETY: arms this CPU's TSC deadline; the timer LVT is programmed
        // for TIMER_VECTOR, whose handler re-arms or ignores it.
        unsafe { wrmsr(MSR_TSC_DEADLINE, deadline) };
    } else {
        let counts = TIMER_KHZ.load(Relaxed) * 1000 / hz;
        let (divide, initial) = if counts <= u64::from(u32::MAX) {
            (DIVIDE_BY_1, counts)
        } else {
            (DIVIDE_BY_16, (counts / 16).min(u64::from(u32::MAX)))
        };
        write(REG_TIMER_DIVIDE, divide);
        write(REG_LVT_TIMER, u32::from(TIMER_VECTOR) | LVT_TIMER_PERIODIC);
        write(REG_TIMER_INITIAL, (initial as u32).max(1));
    }
}

/// Stops this CPU's tick.
pub(crate) fn stop_timer(cpu: usize) {
    PERIOD_TSC[cpu].store(0, Relaxed);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    if DEADLINE_MODE.load(Relaxed) {
        // SAFETY: disarms this CPU's TSC deadline timer.
        unsafe { wrmsr(MSR_TSC_DEADLINE, 0) };
    } else {
        write(REG_TIMER_INITIAL, 0);
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
    let now = rdtsc();
    let mut next = DEADLINE[cpu].load(Relaxed) + period;
    if next <= now {
        next = now + period;
    }
    DEADLINE[cpu].store(next, Relaxed);
    // SAFETY: re-arms this CPU's TSC deadline for its own tick.
    unsafe { wrmsr(MSR_TSC_DEADLINE, next) };
}

/// The APIC timer rate in kHz, measured against the (already known) TSC:
/// one-shot, masked, divide by 1, for CALIBRATION_NS.
fn calibrate_timer_khz() -> u64 {
    write(REG_TIMER_DIVIDE, DIVIDE_BY_1);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    let start = rdtsc();
    write(REG_TIMER_INITIAL, u32::MAX);
    let ticks = time::ns_to_tsc(CALIBRATION_NS);
    let mut now = rdtsc();
    while now - start < ticks {
        core::hint::spin_loop();
        now = rdtsc();
    }
    let counted = u64::from(u32::MAX - read(REG_TIMER_CURRENT));
    write(REG_TIMER_INITIAL, 0);
    let elapsed_ns = time::tsc_to_ns(now - start).max(1);
    counted * 1_000_000 / elapsed_ns
}
