//! Firmware tables in physical memory (ACPI, the MP table) for the parsers
//! of `virtio_core::acpi` and `bootinfo::cpus`.

use bootinfo::memmap::Memmap;
use virtio_core::acpi::PhysMem;

use crate::phys;

/// ACPI tables for `virtio_core::acpi` (and `smp`'s MADT and MP table):
/// readable only where firmware data lives, i.e. below 1 MiB (never given to
/// the allocators) or inside memory map ranges that are not RAM (ACPI, NVS,
/// reserved), and in the direct map.
pub struct FirmwareMemory<'a, 'm> {
    pub memmap: &'a Memmap<'m>,
}

impl PhysMem for FirmwareMemory<'_, '_> {
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
        let Some(end) = pa.checked_add(buf.len() as u64) else {
            return false;
        };
        if !self.memmap.is_firmware(pa, end) || phys::phys_to_virt(pa, buf.len() as u64).is_none() {
            return false;
        }
        // Firmware tables are written before boot and never after, and this
        // range is not RAM the allocators own (checked above).
        buf.copy_from_slice(phys::boot_bytes(pa, buf.len()));
        true
    }
}
