//! The PVH module list: `nr_modules` x `struct hvm_modlist_entry` (e.g. an
//! initrd). ferrite loads no modules yet, but must not put its heap on them.
//!
//! ```text
//! offset  field
//!      0  paddr (u64)          module start
//!      8  size (u64)           module length
//!     16  cmdline_paddr (u64)  0 if none
//!     24  reserved (u64)
//! ```

use crate::le::u64_at;
use crate::placement::PhysRange;

/// `sizeof(struct hvm_modlist_entry)`.
pub const MODLIST_ENTRY_SIZE: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module {
    pub paddr: u64,
    pub size: u64,
    pub cmdline_paddr: u64,
}

impl Module {
    pub fn range(&self) -> PhysRange {
        PhysRange::new(self.paddr, self.paddr.saturating_add(self.size))
    }
}

/// Bytes the kernel must read for `nr_modules` entries.
pub fn byte_len(nr_modules: u32) -> usize {
    nr_modules as usize * MODLIST_ENTRY_SIZE
}

/// The modules in `bytes`; a trailing partial entry is ignored.
pub fn modules(bytes: &[u8]) -> impl Iterator<Item = Module> + '_ {
    bytes.chunks_exact(MODLIST_ENTRY_SIZE).filter_map(|e| {
        Some(Module {
            paddr: u64_at(e, 0)?,
            size: u64_at(e, 8)?,
            cmdline_paddr: u64_at(e, 16)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_module_entries() {
        let mut bytes = Vec::new();
        for v in [0x800_0000u64, 0x2000, 0x7100, 0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.push(0xaa); // partial trailing entry
        let mods: Vec<_> = modules(&bytes).collect();
        assert_eq!(
            mods,
            [Module {
                paddr: 0x800_0000,
                size: 0x2000,
                cmdline_paddr: 0x7100
            }]
        );
        assert_eq!(mods[0].range(), PhysRange::new(0x800_0000, 0x800_2000));
        assert_eq!(byte_len(3), 96);
    }
}
