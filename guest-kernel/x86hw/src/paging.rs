//! 4-level paging (Intel SDM vol. 3, 4.5): page-table entry bits and which
//! entry of a table maps an address.

pub const PAGE_SIZE: u64 = 4096;
/// Entries in every table.
pub const ENTRIES: u64 = 512;
/// A page table (its entries map 4 KiB each) covers 2 MiB.
pub const PT_SHIFT: u32 = 21;

pub const PTE_PRESENT: u64 = 1;
pub const PTE_WRITABLE: u64 = 1 << 1;
/// U/S: user-mode accesses allowed.
pub const PTE_USER: u64 = 1 << 2;
/// Bits 51..12: the physical address of the page or next table.
pub const PTE_ADDRESS: u64 = 0x000f_ffff_ffff_f000;

/// The entry of a page table (level 1) that maps `va`.
pub const fn pt_index(va: u64) -> usize {
    ((va / PAGE_SIZE) % ENTRIES) as usize
}

/// The entry of a page directory (level 2) that covers `va`.
pub const fn pd_index(va: u64) -> usize {
    ((va >> PT_SHIFT) % ENTRIES) as usize
}

/// The entry of a page-directory-pointer table (level 3) that covers `va`.
pub const fn pdpt_index(va: u64) -> usize {
    ((va >> 30) % ENTRIES) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_of_an_upper_half_address() {
        // 0xffffffff80201000: PML4 511, PDPT 510, PD 1, PT 1.
        let va = 0xffff_ffff_8020_1000;
        assert_eq!(pdpt_index(va), 510);
        assert_eq!(pd_index(va), 1);
        assert_eq!(pt_index(va), 1);
        assert_eq!(pdpt_index(0xffff_ffff_4000_0000), 509);
        assert_eq!(pt_index(0xffff_ffff_8000_0fff), 0);
    }

    #[test]
    fn entry_bits() {
        let pte = 0x1234_5000 | PTE_PRESENT | PTE_WRITABLE | PTE_USER;
        assert_eq!(pte, 0x1234_5007);
        assert_eq!(pte & PTE_ADDRESS, 0x1234_5000);
        // NX (bit 63) and the available bits 62..52 are not address bits.
        assert_eq!((1 << 63 | 0x7ff << 52 | 0x1000) & PTE_ADDRESS, 0x1000);
    }
}
