//! The few privileged x86 instructions the platform code needs: `rdtsc`,
//! `cpuid`, `rdmsr`/`wrmsr`, 32-bit MMIO and the interrupt flag. Costs in PVM
//! native mode (DESIGN.md): `rdtsc` is native (9.5 ns); `cpuid`, `rdmsr`,
//! `wrmsr`, `cli`, `sti` each exit to KVM (~2-3.5 us); MMIO exits to the VMM
//! (~25 us) unless KVM handles the address (local APIC, IOAPIC).

use core::arch::asm;
use core::arch::x86_64::{__cpuid_count, CpuidResult};

use x86hw::exception::RFLAGS_IF;

/// The time-stamp counter (not serialising: fine for timekeeping).
#[inline(always)]
pub(crate) fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the TSC into EDX:EAX (CR4.TSD is clear).
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    u64::from(hi) << 32 | u64::from(lo)
}

/// `cpuid` with sub-leaf. On a PVM host in native mode this returns the
/// *host's* values, not the VMM's (see `cpuid::read`).
pub(crate) fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    __cpuid_count(leaf, subleaf)
}

/// Reads an MSR that the caller knows exists (else #GP: a fatal exception;
/// see `trap::rdmsr_safe` for probing).
pub(crate) fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reading an MSR has no memory effects; callers only name MSRs
    // that exist on every CPU this kernel runs on (architectural ones guarded
    // by the CPUID bit that announces them).
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    u64::from(hi) << 32 | u64::from(lo)
}

/// Writes an MSR.
///
/// # Safety
/// The caller must know the MSR exists and what writing `value` does.
pub(crate) unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the effect of the write is the caller's contract.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
            options(nostack, preserves_flags));
    }
}

/// Reads a 32-bit device register at virtual address `va`.
///
/// # Safety
/// `va` must be a mapped, 4-byte aligned device register whose read has no
/// effect the caller did not intend.
pub(crate) unsafe fn mmio_read32(va: u64) -> u32 {
    // SAFETY: the caller's contract; a volatile access is one 32-bit load.
    unsafe { (va as *const u32).read_volatile() }
}

/// Writes a 32-bit device register at virtual address `va`.
///
/// # Safety
/// `va` must be a mapped, 4-byte aligned device register; the device-level
/// effect is the caller's contract.
pub(crate) unsafe fn mmio_write32(va: u64, value: u32) {
    // SAFETY: the caller's contract; a volatile access is one 32-bit store.
    unsafe { (va as *mut u32).write_volatile(value) }
}

/// RFLAGS.IF of this CPU (`pushf` is native in PVM mode).
pub(crate) fn interrupts_enabled() -> bool {
    let flags: u64;
    // SAFETY: pushes RFLAGS and pops it into a register: the stack pointer is
    // restored; no other state changes.
    unsafe { asm!("pushfq", "pop {}", out(reg) flags, options(nomem, preserves_flags)) };
    flags & RFLAGS_IF != 0
}

/// `cli`.
pub(crate) fn cli() {
    // SAFETY: masks maskable interrupts on this CPU; no memory effects.
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// `sti`.
pub fn sti() {
    // SAFETY: unmasks interrupts on this CPU; the IDT and handlers are
    // installed (trap::init/init_ap) before platform code can run this.
    unsafe { asm!("sti", options(nomem, nostack)) };
}

/// `sti; hlt` (the `sti` shadow makes the pair atomic: an interrupt pending
/// at the `sti` still wakes the `hlt`), then IF is restored to `was_enabled`.
pub(crate) fn sti_hlt_restore(was_enabled: bool) {
    // SAFETY: waits for an interrupt with interrupts enabled; handlers run on
    // IST stacks and return here; IF is then put back as the caller had it.
    // The asm is treated as touching memory: handlers may change atomics.
    unsafe { asm!("sti", "hlt", options(nostack)) };
    if !was_enabled {
        cli();
    }
}
