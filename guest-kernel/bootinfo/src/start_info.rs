//! `struct hvm_start_info`: the root of the PVH boot information.
//!
//! ```text
//! offset  field            version
//!      0  magic  (u32)     0   must be 0x336ec578
//!      4  version (u32)    0
//!      8  flags (u32)      0
//!     12  nr_modules (u32) 0
//!     16  modlist_paddr    0   -> nr_modules x hvm_modlist_entry
//!     24  cmdline_paddr    0   -> NUL-terminated string
//!     32  rsdp_paddr       0   -> ACPI RSDP (0 if none)
//!     40  memmap_paddr     1   -> memmap_entries x hvm_memmap_table_entry
//!     48  memmap_entries (u32) 1
//!     52  reserved (u32)   1
//! ```

use core::fmt;

use crate::le::{u32_at, u64_at};
use crate::memmap::Memmap;
use crate::modlist;
use crate::placement::PhysRange;

/// `XEN_HVM_START_MAGIC_VALUE`.
pub const XEN_HVM_START_MAGIC_VALUE: u32 = 0x336e_c578;
/// Size of the version-0 structure (no memory map fields).
pub const START_INFO_V0_SIZE: usize = 40;
/// Size of the version-1 structure: how many bytes the kernel should map.
pub const START_INFO_SIZE: usize = 56;

/// The fields of `hvm_start_info` that ferrite uses. Physical addresses stay
/// physical here; turning them into pointers is the arch crate's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartInfo {
    pub version: u32,
    pub flags: u32,
    pub nr_modules: u32,
    pub modlist_paddr: u64,
    /// 0 when the loader passed no command line.
    pub cmdline_paddr: u64,
    pub rsdp_paddr: u64,
    /// Version 0 has no memory map; both fields are then 0.
    pub memmap_paddr: u64,
    pub memmap_entries: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartInfoError {
    /// Fewer bytes than the structure's version-0 size.
    TooShort { len: usize },
    /// The first word is not `XEN_HVM_START_MAGIC_VALUE`.
    BadMagic { found: u32 },
    /// The structure claims version >= 1 but the slice stops before the memory map fields.
    TruncatedV1 { len: usize },
}

impl fmt::Display for StartInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { len } => write!(
                f,
                "hvm_start_info too short: {len} bytes, need {START_INFO_V0_SIZE}"
            ),
            Self::BadMagic { found } => write!(
                f,
                "hvm_start_info magic is {found:#x}, expected {XEN_HVM_START_MAGIC_VALUE:#x}"
            ),
            Self::TruncatedV1 { len } => write!(
                f,
                "hvm_start_info version >= 1 but only {len} bytes, need {START_INFO_SIZE}"
            ),
        }
    }
}

impl StartInfo {
    /// Parses the structure from its bytes (at least `START_INFO_V0_SIZE`,
    /// normally `START_INFO_SIZE`). Later versions may append fields; they are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, StartInfoError> {
        let too_short = StartInfoError::TooShort { len: bytes.len() };
        let magic = u32_at(bytes, 0).ok_or(too_short)?;
        if magic != XEN_HVM_START_MAGIC_VALUE {
            return Err(StartInfoError::BadMagic { found: magic });
        }
        if bytes.len() < START_INFO_V0_SIZE {
            return Err(too_short);
        }
        let version = u32_at(bytes, 4).ok_or(too_short)?;
        let (memmap_paddr, memmap_entries) = if version >= 1 {
            let truncated = StartInfoError::TruncatedV1 { len: bytes.len() };
            (
                u64_at(bytes, 40).ok_or(truncated)?,
                u32_at(bytes, 48).ok_or(truncated)?,
            )
        } else {
            (0, 0)
        };
        Ok(Self {
            version,
            flags: u32_at(bytes, 8).ok_or(too_short)?,
            nr_modules: u32_at(bytes, 12).ok_or(too_short)?,
            modlist_paddr: u64_at(bytes, 16).ok_or(too_short)?,
            cmdline_paddr: u64_at(bytes, 24).ok_or(too_short)?,
            rsdp_paddr: u64_at(bytes, 32).ok_or(too_short)?,
            memmap_paddr,
            memmap_entries,
        })
    }

    /// Where the loader's structures lie, for the kernel to keep clear of:
    /// this structure (at `pa`), the memory map, the command line
    /// (`cmdline_len` bytes and its NUL), the module list (`modlist`: its
    /// bytes) and every module it names.
    pub fn reserved_ranges<'a>(
        &self,
        pa: u64,
        cmdline_len: u64,
        modlist: &'a [u8],
    ) -> impl Iterator<Item = PhysRange> + 'a {
        [
            PhysRange::from_len(pa, START_INFO_SIZE as u64),
            PhysRange::from_len(self.memmap_paddr, Memmap::byte_len(self.memmap_entries) as u64),
            PhysRange::from_len(self.cmdline_paddr, cmdline_len + 1),
            PhysRange::from_len(self.modlist_paddr, modlist.len() as u64),
        ]
        .into_iter()
        .chain(modlist::modules(modlist).map(|m| m.range()))
    }
}

/// Which door the kernel came in by (boot.S's ENTRY_PVH / ENTRY_DIRECT,
/// passed on as a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryPath {
    /// 32-bit PVH entry through the Xen ELF note (QEMU `-kernel`).
    Pvh,
    /// 64-bit entry at the ELF entry point (panvm).
    Direct,
}

impl EntryPath {
    /// boot.S's value: 0 for PVH, anything else for the direct entry.
    pub fn from_raw(raw: u64) -> Self {
        if raw == 0 { Self::Pvh } else { Self::Direct }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Pvh => "pvh",
            Self::Direct => "direct",
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a version-1 `hvm_start_info` the way a loader would.
    pub(crate) fn start_info_bytes(cmdline: u64, memmap: u64, entries: u32) -> [u8; 56] {
        let mut b = [0u8; START_INFO_SIZE];
        b[0..4].copy_from_slice(&XEN_HVM_START_MAGIC_VALUE.to_le_bytes());
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[24..32].copy_from_slice(&cmdline.to_le_bytes());
        b[32..40].copy_from_slice(&0xf_0000u64.to_le_bytes());
        b[40..48].copy_from_slice(&memmap.to_le_bytes());
        b[48..52].copy_from_slice(&entries.to_le_bytes());
        b
    }

    #[test]
    fn reserved_ranges_cover_every_boot_structure() {
        let info = StartInfo::parse(&start_info_bytes(0x7000, 0x6100, 5)).unwrap();
        let info = StartInfo {
            modlist_paddr: 0x8000,
            nr_modules: 1,
            ..info
        };
        // One module: 0x20_0000, 0x1000 bytes (hvm_modlist_entry: paddr, size, cmdline_paddr, reserved).
        let mut modlist = [0u8; 32];
        modlist[0..8].copy_from_slice(&0x20_0000u64.to_le_bytes());
        modlist[8..16].copy_from_slice(&0x1000u64.to_le_bytes());
        let ranges: Vec<PhysRange> = info.reserved_ranges(0x6000, 11, &modlist).collect();
        assert_eq!(
            ranges,
            [
                PhysRange::new(0x6000, 0x6038),
                PhysRange::new(0x6100, 0x6100 + 5 * 24),
                PhysRange::new(0x7000, 0x700c),
                PhysRange::new(0x8000, 0x8020),
                PhysRange::new(0x20_0000, 0x20_1000),
            ]
        );
    }

    #[test]
    fn entry_paths() {
        assert_eq!(EntryPath::from_raw(0), EntryPath::Pvh);
        assert_eq!(EntryPath::from_raw(1).name(), "direct");
        assert_eq!(EntryPath::Pvh.name(), "pvh");
    }

    #[test]
    fn parses_version_1() {
        let info = StartInfo::parse(&start_info_bytes(0x7000, 0x6100, 5)).unwrap();
        assert_eq!(info.version, 1);
        assert_eq!(info.cmdline_paddr, 0x7000);
        assert_eq!(info.rsdp_paddr, 0xf_0000);
        assert_eq!(info.memmap_paddr, 0x6100);
        assert_eq!(info.memmap_entries, 5);
        assert_eq!(info.nr_modules, 0);
    }

    #[test]
    fn version_0_has_no_memory_map_even_if_bytes_follow() {
        let mut b = start_info_bytes(0x7000, 0x6100, 5);
        b[4..8].copy_from_slice(&0u32.to_le_bytes());
        let info = StartInfo::parse(&b).unwrap();
        assert_eq!((info.memmap_paddr, info.memmap_entries), (0, 0));
        // and a v0 structure may legitimately be only 40 bytes long
        assert!(StartInfo::parse(&b[..START_INFO_V0_SIZE]).is_ok());
    }

    #[test]
    fn rejects_bad_magic_and_short_input() {
        let mut b = start_info_bytes(0, 0, 0);
        b[0] ^= 1;
        assert_eq!(
            StartInfo::parse(&b),
            Err(StartInfoError::BadMagic { found: 0x336e_c579 })
        );
        assert_eq!(
            StartInfo::parse(&[]),
            Err(StartInfoError::TooShort { len: 0 })
        );
        let good = start_info_bytes(0, 0, 0);
        assert_eq!(
            StartInfo::parse(&good[..20]),
            Err(StartInfoError::TooShort { len: 20 })
        );
        assert_eq!(
            StartInfo::parse(&good[..44]),
            Err(StartInfoError::TruncatedV1 { len: 44 })
        );
    }

    #[test]
    fn errors_explain_themselves() {
        let msg = StartInfoError::BadMagic { found: 0 }.to_string();
        assert!(msg.contains("0x336ec578"), "{msg}");
    }
}
