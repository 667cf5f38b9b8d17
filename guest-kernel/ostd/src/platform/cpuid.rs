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

use super::x86::cpuid;

/// Filled by boot.S (see the module comment); all zero if it was not.
/// Words: filled flag, leaf 1 EBX, leaf 1 ECX, leaf 0x40000000 EAX,
/// leaf 0x40000010 EAX, leaf 0x40000010 EBX, two spare.
// SAFETY (export_name): boot.S refers to this symbol; nothing else defines it.
// In .data (not .bss): boot.S writes it before it zeroes .bss.
#[unsafe(export_name = "boot_cpuid")]
#[unsafe(link_section = ".data.boot_cpuid")]
static mut BOOT_CPUID: [u32; 8] = [0; 8];

const HYPERVISOR_LEAF: u32 = 0x4000_0000;
const KVM_FEATURES_LEAF: u32 = 0x4000_0001;
const TIMING_LEAF: u32 = 0x4000_0010;
const KVM_SIGNATURE: [u8; 12] = *b"KVMKVMKVM\0\0\0";
const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `cpuid` executed now (not PVM native mode: the VMM's values).
    Live,
    /// Captured by boot.S before the PVM switch (the VMM's values).
    Boot,
    /// `cpuid` in PVM native mode without the boot capture: the host's values.
    Host,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Self::Live => "cpuid",
            Self::Boot => "cpuid at boot",
            Self::Host => "host cpuid",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Features {
    pub origin: Origin,
    /// CPUID.1:ECX[21].
    pub x2apic: bool,
    /// CPUID.1:ECX[24].
    pub tsc_deadline: bool,
    /// CPUID.1:EBX[31:24] (the initial APIC id of the CPU that read it).
    pub initial_apic_id: u32,
    /// Leaf 0x40000010 EAX/EBX (kHz), when the VMM defines that leaf; 0 if not.
    pub tsc_khz: u32,
    pub apic_timer_khz: u32,
    /// KVM's paravirtual clock (MSR 0x4b564d01) is announced.
    pub kvmclock: bool,
}

impl Features {
    pub fn read(pvm_native: bool) -> Self {
        // SAFETY: boot.S wrote BOOT_CPUID (if at all) before any Rust code ran
        // and nothing writes it afterwards; a volatile copy of the whole array
        // through a raw pointer creates no reference to the static mut.
        let boot = unsafe { (&raw const BOOT_CPUID).read_volatile() };
        let (origin, leaf1_ebx, leaf1_ecx, hv_max, timing) = if pvm_native && boot[0] != 0 {
            (Origin::Boot, boot[1], boot[2], boot[3], (boot[4], boot[5]))
        } else {
            let leaf1 = cpuid(1, 0);
            let origin = if pvm_native {
                Origin::Host
            } else {
                Origin::Live
            };
            let hypervisor = leaf1.ecx & (1 << 31) != 0;
            let hv_max = if hypervisor {
                cpuid(HYPERVISOR_LEAF, 0).eax
            } else {
                0
            };
            // The host's timing leaf would describe the host, not this VM.
            let timing = if hv_max >= TIMING_LEAF && origin == Origin::Live {
                let t = cpuid(TIMING_LEAF, 0);
                (t.eax, t.ebx)
            } else {
                (0, 0)
            };
            (origin, leaf1.ebx, leaf1.ecx, hv_max, timing)
        };
        let hypervisor = leaf1_ecx & (1 << 31) != 0;
        let (tsc_khz, apic_timer_khz) = if hypervisor && hv_max >= TIMING_LEAF {
            timing
        } else {
            (0, 0)
        };
        Self {
            origin,
            x2apic: leaf1_ecx & (1 << 21) != 0,
            tsc_deadline: leaf1_ecx & (1 << 24) != 0,
            initial_apic_id: leaf1_ebx >> 24,
            tsc_khz,
            apic_timer_khz,
            kvmclock: hypervisor && kvm_clocksource2(),
        }
    }
}

/// The hypervisor is KVM and announces kvmclock's MSR 0x4b564d01. (In PVM
/// native mode this is the host's answer; the MSR is then probed safely.)
fn kvm_clocksource2() -> bool {
    let sig = cpuid(HYPERVISOR_LEAF, 0);
    let mut name = [0u8; 12];
    name[0..4].copy_from_slice(&sig.ebx.to_le_bytes());
    name[4..8].copy_from_slice(&sig.ecx.to_le_bytes());
    name[8..12].copy_from_slice(&sig.edx.to_le_bytes());
    name == KVM_SIGNATURE
        && sig.eax >= KVM_FEATURES_LEAF
        && cpuid(KVM_FEATURES_LEAF, 0).eax & KVM_FEATURE_CLOCKSOURCE2 != 0
}
