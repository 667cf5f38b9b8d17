//! Device register windows (MMIO), as Asterinas' `IoMem`.
//!
//! boot.S maps the top GiB below 4 GiB ([`DEVICE_RANGE`]) uncached, with
//! virtual = physical; devices' register windows live there (virtio-mmio,
//! the local APIC and IOAPIC), and no RAM does. An [`IoMem`] is a window
//! inside that range; its accessors check that every access is naturally
//! aligned and inside the window, so safe code can reach device registers
//! and nothing else. (A device told to DMA somewhere can still write there:
//! without an IOMMU, that is the driver's responsibility, as in every
//! kernel; ferrite's drivers only hand devices `dma` buffers.)

use core::ops::Range;

/// The uncached identity-mapped device range (boot.S).
pub const DEVICE_RANGE: Range<u64> = 0xc000_0000..0x1_0000_0000;

/// A device's register window: `size` bytes at physical (= virtual) `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoMem {
    base: u64,
    size: u64,
}

impl IoMem {
    /// The window `[base, base + size)`, if it is non-empty and inside
    /// [`DEVICE_RANGE`].
    pub fn new(base: u64, size: u64) -> Option<Self> {
        let end = base.checked_add(size)?;
        (size > 0 && DEVICE_RANGE.start <= base && end <= DEVICE_RANGE.end)
            .then_some(Self { base, size })
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The address of a `size`-byte access at `offset`; panics (a driver
    /// bug) unless it is aligned and inside the window.
    fn addr(&self, offset: usize, size: usize) -> u64 {
        assert!(
            offset.is_multiple_of(size) && (offset as u64).saturating_add(size as u64) <= self.size,
            "MMIO access of {size} bytes at {offset:#x} outside the {:#x}-byte window at {:#x}",
            self.size,
            self.base
        );
        self.base + offset as u64
    }

    pub fn read8(&self, offset: usize) -> u8 {
        let va = self.addr(offset, 1);
        // SAFETY: `va` lies in the uncached identity-mapped device range
        // (checked by `new` and `addr`), where no RAM is mapped: a load
        // reaches only the device and has no effect on Rust-visible memory.
        unsafe { (va as *const u8).read_volatile() }
    }

    pub fn read16(&self, offset: usize) -> u16 {
        let va = self.addr(offset, 2);
        // SAFETY: as in `read8`, an aligned 16-bit load.
        unsafe { (va as *const u16).read_volatile() }
    }

    pub fn read32(&self, offset: usize) -> u32 {
        let va = self.addr(offset, 4);
        // SAFETY: as in `read8`, an aligned 32-bit load.
        unsafe { (va as *const u32).read_volatile() }
    }

    pub fn write32(&self, offset: usize, value: u32) {
        let va = self.addr(offset, 4);
        // SAFETY: as in `read8`: an aligned store that reaches only the device.
        unsafe { (va as *mut u32).write_volatile(value) }
    }
}
