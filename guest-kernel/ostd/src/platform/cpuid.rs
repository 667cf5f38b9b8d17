//! The CPUID facts the platform code needs, and where they come from.
//!
//! On a PVM host in native mode `cpuid` returns the *host's* values (measured:
//! leaf 0x40000000 says max 0x40000001 although panvm defines 0x40000010, and
//! leaf 1 carries a host APIC id), so the VMM's CPUID must be read before
//! boot.S switches to native mode. boot.S does that on CPU 0 when it has the
//! snippet below, into `boot_cpuid`, defined here in .data (boot.S writes it
//! before .bss is zeroed):
//!
//! ```text
//!     /* CPUID for platform/cpuid.rs, before the PVM switch (native mode
//!      * returns the host's values).  CPU 0 only; keeps rbx. */
//!     test    %r14, %r14
//!     jnz     3f
//!     mov     %rbx, %r11
//!     lea     boot_cpuid(%rip), %rdi
//!     mov     $1, %eax
//!     xor     %ecx, %ecx
//!     cpuid
//!     mov     %ebx, 4(%rdi)
//!     mov     %ecx, 8(%rdi)
//!     mov     $0x40000000, %eax
//!     xor     %ecx, %ecx
//!     cpuid
//!     mov     %eax, 12(%rdi)
//!     mov     $0x40000010, %eax
//!     xor     %ecx, %ecx
//!     cpuid
//!     mov     %eax, 16(%rdi)
//!     mov     %ebx, 20(%rdi)
//!     movl    $1, (%rdi)
//!     mov     %r11, %rbx
//! 3:
//! ```
//!
//! Without it (or outside PVM native mode) the values come from `cpuid` now.

use x86hw::cpuid::{
    self as leaves, FEATURES_LEAF, HYPERVISOR_LEAF, KVM_FEATURES_LEAF, RawLeaves, TIMING_LEAF,
};
pub(crate) use x86hw::cpuid::{Features, Origin};

use super::x86::cpuid;

/// Filled by boot.S (see the module comment); all zero if it was not.
/// Words: filled flag, leaf 1 EBX, leaf 1 ECX, leaf 0x40000000 EAX,
/// leaf 0x40000010 EAX, leaf 0x40000010 EBX, two spare.
// SAFETY (export_name): boot.S refers to this symbol; nothing else defines it.
// In .data (not .bss): boot.S writes it before it zeroes .bss.
#[unsafe(export_name = "boot_cpuid")]
#[unsafe(link_section = ".data.boot_cpuid")]
static mut BOOT_CPUID: [u32; 8] = [0; 8];

/// This CPU's features: from boot.S's capture in PVM native mode, else from `cpuid` now.
pub(crate) fn read(pvm_native: bool) -> Features {
    // SAFETY: boot.S wrote BOOT_CPUID (if at all) before any Rust code ran
    // and nothing writes it afterwards; a volatile copy of the whole array
    // through a raw pointer creates no reference to the static mut.
    let boot = unsafe { (&raw const BOOT_CPUID).read_volatile() };
    let (origin, raw) = if pvm_native && boot[0] != 0 {
        let raw = RawLeaves {
            leaf1_ebx: boot[1],
            leaf1_ecx: boot[2],
            hypervisor_max: boot[3],
            timing: (boot[4], boot[5]),
        };
        (Origin::Boot, raw)
    } else {
        let leaf1 = cpuid(FEATURES_LEAF, 0);
        let origin = if pvm_native {
            Origin::Host
        } else {
            Origin::Live
        };
        let hypervisor_max = if leaves::hypervisor_present(leaf1.ecx) {
            cpuid(HYPERVISOR_LEAF, 0).eax
        } else {
            0
        };
        // The host's timing leaf would describe the host, not this VM.
        let timing = if hypervisor_max >= TIMING_LEAF && origin == Origin::Live {
            let t = cpuid(TIMING_LEAF, 0);
            (t.eax, t.ebx)
        } else {
            (0, 0)
        };
        let raw = RawLeaves {
            leaf1_ebx: leaf1.ebx,
            leaf1_ecx: leaf1.ecx,
            hypervisor_max,
            timing,
        };
        (origin, raw)
    };
    Features::decode(origin, raw, kvm_clocksource2)
}

/// The hypervisor is KVM and announces kvmclock's MSR 0x4b564d01. (In PVM
/// native mode this is the host's answer; the MSR is then probed safely.)
fn kvm_clocksource2() -> bool {
    let sig = cpuid(HYPERVISOR_LEAF, 0);
    leaves::is_kvm(sig.ebx, sig.ecx, sig.edx)
        && sig.eax >= KVM_FEATURES_LEAF
        && leaves::kvm_clocksource2(cpuid(KVM_FEATURES_LEAF, 0).eax)
}
