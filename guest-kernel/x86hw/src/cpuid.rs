//! The CPUID facts the platform code needs (Intel SDM vol. 2A, CPUID; the
//! hypervisor leaves of KVM's Documentation/virt/kvm/x86/cpuid.rst and of
//! VMware's timing leaf 0x40000010), decoded from the raw registers.

/// Leaf 1: feature flags and the initial APIC id.
pub const FEATURES_LEAF: u32 = 1;
/// The hypervisor's leaves start here: EAX = the highest one, EBX:ECX:EDX = its signature.
pub const HYPERVISOR_LEAF: u32 = 0x4000_0000;
/// KVM's feature leaf.
pub const KVM_FEATURES_LEAF: u32 = 0x4000_0001;
/// TSC and local APIC timer frequencies in kHz (EAX, EBX), where the VMM defines it.
pub const TIMING_LEAF: u32 = 0x4000_0010;
const KVM_SIGNATURE: [u8; 12] = *b"KVMKVMKVM\0\0\0";
/// KVM_FEATURE_CLOCKSOURCE2: kvmclock at MSR 0x4b564d01.
const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;

/// Leaf 1 ECX: the CPU runs under a hypervisor.
pub const fn hypervisor_present(leaf1_ecx: u32) -> bool {
    leaf1_ecx & 1 << 31 != 0
}

/// Whether leaf 0x40000000's EBX:ECX:EDX spell KVM's signature.
pub fn is_kvm(ebx: u32, ecx: u32, edx: u32) -> bool {
    let mut name = [0u8; 12];
    name[0..4].copy_from_slice(&ebx.to_le_bytes());
    name[4..8].copy_from_slice(&ecx.to_le_bytes());
    name[8..12].copy_from_slice(&edx.to_le_bytes());
    name == KVM_SIGNATURE
}

/// KVM's feature leaf EAX announces kvmclock's MSR 0x4b564d01.
pub const fn kvm_clocksource2(kvm_features_eax: u32) -> bool {
    kvm_features_eax & KVM_FEATURE_CLOCKSOURCE2 != 0
}

/// Where the CPUID values came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
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

/// The raw registers [`Features`] is decoded from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawLeaves {
    pub leaf1_ebx: u32,
    pub leaf1_ecx: u32,
    /// Leaf 0x40000000 EAX: the highest hypervisor leaf (0 without a hypervisor).
    pub hypervisor_max: u32,
    /// Leaf 0x40000010 EAX and EBX, if read (else 0).
    pub timing: (u32, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    pub origin: Origin,
    /// `CPUID.1:ECX[21]`.
    pub x2apic: bool,
    /// `CPUID.1:ECX[24]`.
    pub tsc_deadline: bool,
    /// `CPUID.1:EBX[31:24]` (the initial APIC id of the CPU that read it).
    pub initial_apic_id: u32,
    /// Leaf 0x40000010 EAX/EBX (kHz), when the VMM defines that leaf; 0 if not.
    pub tsc_khz: u32,
    pub apic_timer_khz: u32,
    /// KVM's paravirtual clock (MSR 0x4b564d01) is announced.
    pub kvmclock: bool,
}

impl Features {
    /// Decodes `raw`; `kvmclock` is whether the hypervisor is KVM and announces
    /// kvmclock (only asked when a hypervisor is present).
    pub fn decode(origin: Origin, raw: RawLeaves, kvmclock: impl FnOnce() -> bool) -> Self {
        let hypervisor = hypervisor_present(raw.leaf1_ecx);
        let (tsc_khz, apic_timer_khz) = if hypervisor && raw.hypervisor_max >= TIMING_LEAF {
            raw.timing
        } else {
            (0, 0)
        };
        Self {
            origin,
            x2apic: raw.leaf1_ecx & 1 << 21 != 0,
            tsc_deadline: raw.leaf1_ecx & 1 << 24 != 0,
            initial_apic_id: raw.leaf1_ebx >> 24,
            tsc_khz,
            apic_timer_khz,
            kvmclock: hypervisor && kvmclock(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvm_signature_registers() {
        // "KVMKVMKVM\0\0\0" as KVM returns it in EBX, ECX, EDX.
        assert!(is_kvm(0x4b4d_564b, 0x564b_4d56, 0x0000_004d));
        // "Microsoft Hv"
        assert!(!is_kvm(0x7263_694d, 0x666f_736f, 0x7648_2074));
        assert!(kvm_clocksource2(1 << 3 | 1));
        assert!(!kvm_clocksource2(1));
    }

    #[test]
    fn leaf1_bits() {
        let raw = RawLeaves {
            leaf1_ebx: 0x0300_0800,
            leaf1_ecx: 1 << 31 | 1 << 24 | 1 << 21,
            hypervisor_max: 0x4000_0010,
            timing: (2_000_000, 1_000_000),
        };
        let f = Features::decode(Origin::Live, raw, || true);
        assert_eq!(
            f,
            Features {
                origin: Origin::Live,
                x2apic: true,
                tsc_deadline: true,
                initial_apic_id: 3,
                tsc_khz: 2_000_000,
                apic_timer_khz: 1_000_000,
                kvmclock: true,
            }
        );
    }

    #[test]
    fn the_timing_leaf_counts_only_under_a_hypervisor_that_defines_it() {
        let raw = RawLeaves {
            leaf1_ecx: 1 << 31,
            hypervisor_max: 0x4000_0001,
            timing: (2_000_000, 1_000_000),
            ..RawLeaves::default()
        };
        let f = Features::decode(Origin::Boot, raw, || false);
        assert_eq!((f.tsc_khz, f.apic_timer_khz, f.kvmclock), (0, 0, false));
        let bare = RawLeaves {
            leaf1_ecx: 1 << 21,
            hypervisor_max: 0x4000_0010,
            ..raw
        };
        let f = Features::decode(Origin::Live, bare, || panic!("no hypervisor to ask"));
        assert_eq!((f.x2apic, f.tsc_khz, f.kvmclock), (true, 0, false));
    }
}
