//! The IOAPIC (Intel 82093AA data sheet): registers reached indirectly, by
//! writing the register index to IOREGSEL and then accessing IOWIN, and the
//! 64-bit redirection entries that route each input (GSI) to a vector on a CPU.

/// Where ferrite looks for IOAPICs: the PC's usual one, and QEMU microvm's
/// second one (its virtio-mmio inputs, GSI 24..47). panvm (KVM's in-kernel
/// irqchip) has only the first.
pub const BASES: [u64; 2] = [0xfec0_0000, 0xfec1_0000];
/// Offsets in an IOAPIC's MMIO window: the register index, then the data window.
pub const IOREGSEL: u64 = 0x00;
pub const IOWIN: u64 = 0x10;
/// IOAPICVER: version in bits 7..0, maximum redirection entry in bits 23..16.
pub const REG_VERSION: u32 = 0x01;

/// The number of inputs from IOAPICVER, or `None` if no IOAPIC answered
/// (a VMM reads unclaimed MMIO as all-ones; some as zero).
pub const fn pins_from_version(version: u32) -> Option<u32> {
    if version == u32::MAX || version == 0 {
        None
    } else {
        Some((version >> 16 & 0xff) + 1)
    }
}

/// The register indices of input `pin`'s redirection entry: (low word, high
/// word). The table starts at 0x10, two 32-bit registers per entry.
pub const fn redirection_regs(pin: u32) -> (u32, u32) {
    (0x10 + 2 * pin, 0x11 + 2 * pin)
}

/// A redirection entry (data sheet 3.2.4): fixed delivery, physical destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedirectionEntry {
    pub vector: u8,
    /// Destination APIC id (bits 63..56).
    pub dest: u8,
    /// Level- rather than edge-triggered (bit 15).
    pub level: bool,
    /// Active low rather than high (bit 13).
    pub active_low: bool,
    /// Interrupt mask (bit 16).
    pub masked: bool,
}

impl RedirectionEntry {
    /// A masked input, delivering nothing.
    pub const MASKED: Self = Self {
        vector: 0,
        dest: 0,
        level: false,
        active_low: false,
        masked: true,
    };

    /// The low word (the one that holds the mask: write it last when
    /// unmasking, first when masking).
    pub const fn low(self) -> u32 {
        self.vector as u32
            | if self.active_low { 1 << 13 } else { 0 }
            | if self.level { 1 << 15 } else { 0 }
            | if self.masked { 1 << 16 } else { 0 }
    }

    pub const fn high(self) -> u32 {
        (self.dest as u32) << 24
    }
}

/// Which IOAPIC has input `gsi`, and its pin there: the IOAPICs' inputs
/// (`pins`, in GSI order; 0 for an absent one) number the GSIs consecutively.
pub fn locate(gsi: u32, pins: impl IntoIterator<Item = u32>) -> Option<(usize, u32)> {
    let mut first = 0;
    for (index, pins) in pins.into_iter().enumerate() {
        if pins != 0 && gsi < first + pins {
            return Some((index, gsi - first));
        }
        first += pins;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_register() {
        // 82093AA: version 0x11, 24 entries (maximum redirection entry 0x17).
        assert_eq!(pins_from_version(0x0017_0011), Some(24));
        assert_eq!(pins_from_version(0x0000_0020), Some(1));
        assert_eq!(pins_from_version(u32::MAX), None);
        assert_eq!(pins_from_version(0), None);
    }

    #[test]
    fn redirection_table_registers() {
        // Data sheet 3.2.4: IOREDTBL0 at 10h-11h ... IOREDTBL23 at 3Eh-3Fh.
        assert_eq!(redirection_regs(0), (0x10, 0x11));
        assert_eq!(redirection_regs(23), (0x3e, 0x3f));
    }

    #[test]
    fn redirection_entry_bits() {
        assert_eq!(RedirectionEntry::MASKED.low(), 0x0001_0000);
        assert_eq!(RedirectionEntry::MASKED.high(), 0);
        let edge = RedirectionEntry {
            vector: 0x30,
            dest: 1,
            level: false,
            active_low: false,
            masked: false,
        };
        assert_eq!((edge.low(), edge.high()), (0x30, 0x0100_0000));
        let level_low = RedirectionEntry {
            level: true,
            active_low: true,
            dest: 0xff,
            ..edge
        };
        assert_eq!((level_low.low(), level_low.high()), (0xa030, 0xff00_0000));
    }

    #[test]
    fn gsis_number_the_inputs_of_present_ioapics() {
        // QEMU microvm: two IOAPICs of 24 inputs.
        assert_eq!(locate(0, [24, 24]), Some((0, 0)));
        assert_eq!(locate(23, [24, 24]), Some((0, 23)));
        assert_eq!(locate(24, [24, 24]), Some((1, 0)));
        assert_eq!(locate(47, [24, 24]), Some((1, 23)));
        assert_eq!(locate(48, [24, 24]), None);
        // panvm: the second is absent.
        assert_eq!(locate(24, [24, 0]), None);
        assert_eq!(locate(5, [0, 24]), Some((1, 5)));
    }
}
