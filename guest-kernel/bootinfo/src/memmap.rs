//! The PVH memory map: an array of `struct hvm_memmap_table_entry`.
//!
//! ```text
//! offset  field
//!      0  addr  (u64)   first physical byte
//!      8  size  (u64)   length in bytes
//!     16  type  (u32)   XEN_HVM_MEMMAP_TYPE_* (same numbers as E820)
//!     20  reserved (u32)
//! ```

use core::fmt;

use crate::le::{u32_at, u64_at};
use crate::size::Size;

/// `sizeof(struct hvm_memmap_table_entry)`.
pub const MEMMAP_ENTRY_SIZE: usize = 24;

/// `XEN_HVM_MEMMAP_TYPE_*`; the numbers are the E820 ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryType {
    Ram,
    Reserved,
    Acpi,
    Nvs,
    Unusable,
    Disabled,
    Pmem,
    /// A type number this kernel does not know; treated like reserved.
    Other(u32),
}

impl MemoryType {
    pub fn from_raw(raw: u32) -> Self {
        match raw {
            1 => Self::Ram,
            2 => Self::Reserved,
            3 => Self::Acpi,
            4 => Self::Nvs,
            5 => Self::Unusable,
            6 => Self::Disabled,
            7 => Self::Pmem,
            other => Self::Other(other),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ram => "ram",
            Self::Reserved => "reserved",
            Self::Acpi => "acpi",
            Self::Nvs => "acpi-nvs",
            Self::Unusable => "unusable",
            Self::Disabled => "disabled",
            Self::Pmem => "pmem",
            Self::Other(_) => "unknown",
        }
    }
}

/// One region of the physical address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemmapEntry {
    pub addr: u64,
    pub size: u64,
    pub kind: MemoryType,
}

impl MemmapEntry {
    /// One past the last byte (saturating, so a bogus entry cannot wrap).
    pub fn end(&self) -> u64 {
        self.addr.saturating_add(self.size)
    }

    pub fn is_ram(&self) -> bool {
        self.kind == MemoryType::Ram
    }

    fn parse(bytes: &[u8]) -> Option<Self> {
        Some(Self {
            addr: u64_at(bytes, 0)?,
            size: u64_at(bytes, 8)?,
            kind: MemoryType::from_raw(u32_at(bytes, 16)?),
        })
    }
}

/// One line of the boot report: `[start, end) type size`.
impl fmt::Display for MemmapEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:#018x}, {:#018x}) {:<8} {}",
            self.addr,
            self.end(),
            self.kind.name(),
            Size(self.size)
        )?;
        if let MemoryType::Other(raw) = self.kind {
            write!(f, " (type {raw})")?;
        }
        Ok(())
    }
}

/// The memory map as the loader wrote it: `memmap_entries` entries back to back.
#[derive(Clone, Copy, Debug)]
pub struct Memmap<'a> {
    bytes: &'a [u8],
}

impl<'a> Memmap<'a> {
    /// Bytes the kernel must read for `entries` entries.
    pub fn byte_len(entries: u32) -> usize {
        entries as usize * MEMMAP_ENTRY_SIZE
    }

    /// Wraps the raw table. A trailing partial entry is ignored.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / MEMMAP_ENTRY_SIZE
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = MemmapEntry> + 'a {
        self.bytes
            .chunks_exact(MEMMAP_ENTRY_SIZE)
            .filter_map(MemmapEntry::parse)
    }

    /// Sum of all RAM entries, in bytes.
    pub fn total_ram(&self) -> u64 {
        self.iter()
            .filter(MemmapEntry::is_ram)
            .fold(0u64, |sum, e| sum.saturating_add(e.size))
    }

    /// Whether `[pa, end)` is where firmware tables live: below 1 MiB (which
    /// the kernel never gives its allocators) or inside one entry that is
    /// not RAM (ACPI, NVS, reserved).
    pub fn is_firmware(&self, pa: u64, end: u64) -> bool {
        end <= 1 << 20 || self.iter().any(|e| !e.is_ram() && e.addr <= pa && end <= e.end())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Serialises entries the way a loader lays them out in guest memory.
    pub(crate) fn memmap_bytes(entries: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(addr, size, kind) in entries {
            out.extend_from_slice(&addr.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        out
    }

    /// What QEMU's microvm reports for `-m 256M`.
    pub(crate) fn qemu_256m() -> Vec<u8> {
        memmap_bytes(&[
            (0, 0x9fc00, 1),
            (0x9fc00, 0x400, 2),
            (0xf0000, 0x10000, 2),
            (0x10_0000, 0x0ff0_0000, 1),
            (0xfeff_c000, 0x4000, 2),
        ])
    }

    #[test]
    fn firmware_ranges() {
        let bytes = qemu_256m();
        let map = Memmap::new(&bytes);
        assert!(map.is_firmware(0xf5a40, 0xf5a50)); // the BIOS ROM (and below 1 MiB)
        assert!(map.is_firmware(0x9_0000, 0x9_0010)); // below 1 MiB, even RAM
        assert!(map.is_firmware(0xfeff_c000, 0xff00_0000)); // a reserved entry
        assert!(!map.is_firmware(0xfeff_c000, 0xff00_0001)); // runs past it
        assert!(!map.is_firmware(0x20_0000, 0x20_0010)); // RAM the allocators own
    }

    #[test]
    fn parses_entries_in_order() {
        let bytes = qemu_256m();
        let map = Memmap::new(&bytes);
        assert_eq!(map.len(), 5);
        let first = map.iter().next().unwrap();
        assert_eq!(
            first,
            MemmapEntry {
                addr: 0,
                size: 0x9fc00,
                kind: MemoryType::Ram
            }
        );
        let kinds: Vec<_> = map.iter().map(|e| e.kind).collect();
        assert_eq!(kinds[1], MemoryType::Reserved);
        assert_eq!(map.iter().last().unwrap().end(), 0xff00_0000);
    }

    #[test]
    fn total_ram_counts_only_ram() {
        let bytes = qemu_256m();
        assert_eq!(Memmap::new(&bytes).total_ram(), 0x9fc00 + 0x0ff0_0000);
    }

    #[test]
    fn ignores_trailing_partial_entry_and_unknown_types() {
        let mut bytes = memmap_bytes(&[(0x1000, 0x1000, 99)]);
        bytes.extend_from_slice(&[0xff; 10]);
        let map = Memmap::new(&bytes);
        assert_eq!(map.len(), 1);
        let e = map.iter().next().unwrap();
        assert_eq!(e.kind, MemoryType::Other(99));
        assert!(!e.is_ram());
        assert_eq!(map.total_ram(), 0);
    }

    #[test]
    fn end_saturates_instead_of_wrapping() {
        let e = MemmapEntry {
            addr: u64::MAX - 1,
            size: 10,
            kind: MemoryType::Ram,
        };
        assert_eq!(e.end(), u64::MAX);
    }

    #[test]
    fn formats_one_line_per_entry() {
        let bytes = qemu_256m();
        let lines: Vec<String> = Memmap::new(&bytes).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            lines[0],
            "[0x0000000000000000, 0x000000000009fc00) ram      639 KiB"
        );
        assert_eq!(
            lines[3],
            "[0x0000000000100000, 0x0000000010000000) ram      255 MiB"
        );
        assert_eq!(
            lines[4],
            "[0x00000000feffc000, 0x00000000ff000000) reserved 16 KiB"
        );
        let odd = MemmapEntry {
            addr: 0,
            size: 1,
            kind: MemoryType::Other(42),
        };
        assert!(odd.to_string().ends_with("unknown  1 B (type 42)"));
    }

    #[test]
    fn byte_len_matches_entry_size() {
        assert_eq!(Memmap::byte_len(5), 120);
    }
}
