//! The TSC frequency from KVM's paravirtual clock: register a
//! `pvclock_vcpu_time_info` with MSR_KVM_SYSTEM_TIME_NEW (0x4b564d01), read
//! the TSC-to-nanoseconds factor KVM fills in, unregister. Works in PVM native
//! mode (DESIGN.md). The MSR is written with `wrmsr_safe`, so a host without
//! it just yields `None`.

use core::sync::atomic::{Ordering, fence};

use x86hw::pvclock::{self, ENABLE, MSR_KVM_SYSTEM_TIME_NEW, PvclockVcpuTimeInfo};

use super::cpuid::Features;
use crate::phys::KERNEL_VMA;
use crate::trap;

// Written by KVM (the hypervisor) while registered, read here; never
// referenced, only accessed through volatile raw-pointer reads.
static mut AREA: PvclockVcpuTimeInfo = PvclockVcpuTimeInfo::ZERO;

pub(crate) fn tsc_khz(features: &Features) -> Option<u64> {
    if !features.kvmclock {
        return None;
    }
    let area = &raw mut AREA;
    // The kernel image is loaded at KERNEL_VMA + physical address.
    let pa = area as u64 - KERNEL_VMA;
    // SAFETY: asks KVM to write the 32-byte, 32-aligned AREA (a static in the
    // kernel image, at physical `pa`); it is unregistered again below, before
    // anything else could use the memory. A #GP (no such MSR) is caught.
    if !unsafe { trap::wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, pa | ENABLE) } {
        return None;
    }
    let mut result = None;
    for _ in 0..1000 {
        // SAFETY: volatile reads of a static the hypervisor updates; the
        // seqlock-style version check (`pvclock::tsc_khz`) rejects
        // inconsistent snapshots.
        let (v1, mul, shift, v2) = unsafe {
            let v1 = (&raw const (*area).version).read_volatile();
            fence(Ordering::Acquire);
            let mul = (&raw const (*area).tsc_to_system_mul).read_volatile();
            let shift = (&raw const (*area).tsc_shift).read_volatile();
            fence(Ordering::Acquire);
            (v1, mul, shift, (&raw const (*area).version).read_volatile())
        };
        result = pvclock::tsc_khz(v1, mul, shift, v2);
        if result.is_some() {
            break;
        }
        core::hint::spin_loop();
    }
    // SAFETY: unregisters the area (KVM stops writing it); a #GP is caught.
    unsafe { trap::wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, 0) };
    result
}
