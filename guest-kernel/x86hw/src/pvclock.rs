//! KVM's paravirtual clock (Linux arch/x86/include/asm/pvclock-abi.h,
//! Documentation/virt/kvm/x86/msr.rst): the guest registers a
//! `pvclock_vcpu_time_info` with MSR_KVM_SYSTEM_TIME_NEW, and KVM fills in
//! the factor that turns TSC ticks into nanoseconds.

/// MSR_KVM_SYSTEM_TIME_NEW: the area's physical address | [`ENABLE`], or 0 to unregister.
pub const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b56_4d01;
pub const ENABLE: u64 = 1;

/// `struct pvclock_vcpu_time_info`: 32 bytes, 32-aligned (KVM writes it).
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PvclockVcpuTimeInfo {
    /// Odd while KVM updates the area; changes with every update.
    pub version: u32,
    pub pad0: u32,
    pub tsc_timestamp: u64,
    pub system_time: u64,
    pub tsc_to_system_mul: u32,
    pub tsc_shift: i8,
    pub flags: u8,
    pub pad: [u8; 2],
}

impl PvclockVcpuTimeInfo {
    pub const ZERO: Self = Self {
        version: 0,
        pad0: 0,
        tsc_timestamp: 0,
        system_time: 0,
        tsc_to_system_mul: 0,
        tsc_shift: 0,
        flags: 0,
        pad: [0; 2],
    };
}

/// The TSC frequency in kHz from a consistent snapshot: `version_before`
/// and `version_after` read around `mul` and `shift`. `None` if KVM has not
/// filled the area yet, was updating it (odd version) or changed it in
/// between (torn).
pub fn tsc_khz(version_before: u32, mul: u32, shift: i8, version_after: u32) -> Option<u64> {
    if version_before == 0
        || !version_before.is_multiple_of(2)
        || version_before != version_after
        || mul == 0
    {
        return None;
    }
    // ns = (ticks << shift) * mul >> 32  =>  ticks per ms = 10^6 * 2^32 / mul >> shift
    let khz = (1_000_000u64 << 32) / u64::from(mul);
    Some(if shift < 0 {
        khz << -shift
    } else {
        khz >> shift
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_abi() {
        assert_eq!(core::mem::size_of::<PvclockVcpuTimeInfo>(), 32);
        assert_eq!(core::mem::align_of::<PvclockVcpuTimeInfo>(), 32);
        assert_eq!(core::mem::offset_of!(PvclockVcpuTimeInfo, tsc_timestamp), 8);
        assert_eq!(core::mem::offset_of!(PvclockVcpuTimeInfo, system_time), 16);
        assert_eq!(
            core::mem::offset_of!(PvclockVcpuTimeInfo, tsc_to_system_mul),
            24
        );
        assert_eq!(core::mem::offset_of!(PvclockVcpuTimeInfo, tsc_shift), 28);
        assert_eq!(core::mem::offset_of!(PvclockVcpuTimeInfo, flags), 29);
    }

    #[test]
    fn frequency_from_the_scale() {
        // 1 GHz: 1 ns per tick = (ticks << 1) * 2^31 >> 32.
        assert_eq!(tsc_khz(2, 0x8000_0000, 1, 2), Some(1_000_000));
        // 2.5 GHz: 0.4 ns per tick, shift 0, mul = 0.4 * 2^32.
        assert_eq!(tsc_khz(2, 1_717_986_918, 0, 2), Some(2_500_000));
        // 250 MHz: 4 ns per tick = (ticks << 3) * 2^31 >> 32; 4 GHz: (ticks >> 1) * 2^31 >> 32.
        assert_eq!(tsc_khz(2, 0x8000_0000, 3, 2), Some(250_000));
        assert_eq!(tsc_khz(2, 0x8000_0000, -1, 2), Some(4_000_000));
    }

    #[test]
    fn inconsistent_snapshots_are_rejected() {
        assert_eq!(tsc_khz(0, 0x8000_0000, 1, 0), None);
        assert_eq!(tsc_khz(3, 0x8000_0000, 1, 3), None);
        assert_eq!(tsc_khz(2, 0x8000_0000, 1, 4), None);
        assert_eq!(tsc_khz(2, 0, 1, 2), None);
    }
}
