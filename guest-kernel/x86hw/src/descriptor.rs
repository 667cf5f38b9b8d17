//! Long-mode descriptor tables (Intel SDM vol. 3, chapters 3, 6 and 7): GDT
//! segment and TSS descriptors, the 64-bit task state segment, IDT gates,
//! and the operand of `lgdt`/`lidt`.

/// The operand of `lgdt`/`lidt`.
#[repr(C, packed)]
pub struct DescriptorTablePointer {
    pub limit: u16,
    pub base: u64,
}

/// GDT entry 1 (selector 0x08): 64-bit kernel code (L=1, P=1, DPL0, execute/read).
pub const KERNEL_CODE_DESCRIPTOR: u64 = 0x00af_9a00_0000_ffff;
/// GDT entry 2 (selector 0x10): kernel data (P=1, DPL0, read/write).
pub const KERNEL_DATA_DESCRIPTOR: u64 = 0x00cf_9200_0000_ffff;
/// User data (DPL3), for the `syscall`/`sysret` layout.
pub const USER_DATA_DESCRIPTOR: u64 = 0x00cf_f200_0000_ffff;
/// 64-bit user code (DPL3), for the `syscall`/`sysret` layout.
pub const USER_CODE_DESCRIPTOR: u64 = 0x00af_fa00_0000_ffff;
/// The kernel code selector (GDT index 1, RPL0).
pub const KERNEL_CODE_SELECTOR: u16 = 0x08;

/// The two GDT entries of a 64-bit TSS descriptor (SDM figure 7-4): present,
/// DPL0, type 9 (available 64-bit TSS), for the TSS at `base` of `limit + 1` bytes.
pub const fn tss_descriptor(base: u64, limit: u64) -> [u64; 2] {
    [
        (limit & 0xffff)
            | (base & 0xff_ffff) << 16
            | 0x89 << 40
            | (limit >> 16 & 0xf) << 48
            | (base >> 24 & 0xff) << 56,
        base >> 32,
    ]
}

/// The 64-bit task state segment (SDM figure 7-11): only its stack pointers
/// matter in long mode.
#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct Tss {
    reserved0: u32,
    /// RSP0..RSP2: the stacks for a change to privilege level 0..2.
    pub rsp: [u64; 3],
    reserved1: u64,
    /// IST1..IST7: the interrupt stacks an IDT gate can name.
    pub ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

impl Tss {
    /// No stacks, and no I/O permission bitmap (its base past the limit).
    pub const EMPTY: Self = Self {
        reserved0: 0,
        rsp: [0; 3],
        reserved1: 0,
        ist: [0; 7],
        reserved2: 0,
        reserved3: 0,
        iomap_base: core::mem::size_of::<Self>() as u16,
    };
}

/// One 16-byte IDT gate (SDM figure 6-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    /// Not present: the vector raises #GP.
    pub const EMPTY: Self = Self {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };
    /// Present, DPL0, 64-bit interrupt gate (interrupts stay off in the handler).
    const INTERRUPT_GATE: u8 = 0x8e;

    /// An interrupt gate to `handler` in code segment `selector`, on
    /// interrupt stack `ist` (1..=7; 0 = the current stack).
    pub const fn interrupt(handler: u64, selector: u16, ist: u8) -> Self {
        Self {
            offset_low: handler as u16,
            selector,
            ist,
            type_attr: Self::INTERRUPT_GATE,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_descriptors() {
        // Access byte (bits 47..40) and flags (bits 55..52).
        let access = |d: u64| (d >> 40) as u8;
        let flags = |d: u64| (d >> 52) as u8 & 0xf;
        assert_eq!(access(KERNEL_CODE_DESCRIPTOR), 0x9a); // P, DPL0, code, readable
        assert_eq!(flags(KERNEL_CODE_DESCRIPTOR), 0xa); // G, L (64-bit), not D
        assert_eq!(access(KERNEL_DATA_DESCRIPTOR), 0x92); // P, DPL0, data, writable
        assert_eq!(access(USER_CODE_DESCRIPTOR) >> 5 & 3, 3);
        assert_eq!(access(USER_DATA_DESCRIPTOR) >> 5 & 3, 3);
        assert_eq!(KERNEL_CODE_SELECTOR >> 3, 1);
    }

    #[test]
    fn tss_descriptor_fields() {
        let [low, high] = tss_descriptor(0xffff_ffff_8012_3456, 0x67);
        assert_eq!(low & 0xffff, 0x67); // limit 15..0
        assert_eq!(low >> 16 & 0xff_ffff, 0x12_3456); // base 23..0
        assert_eq!(low >> 40 & 0xff, 0x89); // P, DPL0, type 1001b
        assert_eq!(low >> 48 & 0xf, 0); // limit 19..16
        assert_eq!(low >> 56, 0x80); // base 31..24
        assert_eq!(high, 0xffff_ffff); // base 63..32
    }

    #[test]
    fn tss_layout() {
        assert_eq!(core::mem::size_of::<Tss>(), 104);
        assert_eq!(core::mem::offset_of!(Tss, rsp), 4);
        assert_eq!(core::mem::offset_of!(Tss, ist), 0x24);
        assert_eq!(core::mem::offset_of!(Tss, iomap_base), 0x66);
        assert_eq!({ Tss::EMPTY.iomap_base }, 104);
    }

    #[test]
    fn interrupt_gate_fields() {
        assert_eq!(core::mem::size_of::<Gate>(), 16);
        let gate = Gate::interrupt(0xffff_ffff_8010_2030, KERNEL_CODE_SELECTOR, 3);
        assert_eq!(
            gate,
            Gate {
                offset_low: 0x2030,
                selector: 8,
                ist: 3,
                type_attr: 0x8e,
                offset_mid: 0x8010,
                offset_high: 0xffff_ffff,
                reserved: 0,
            }
        );
    }
}
