//! The boot assembly (boot.S) and what it passes to `kernel_main`.

use core::arch::global_asm;

use bootinfo::start_info::{START_INFO_SIZE, StartInfo};
use bootinfo::{Cmdline, PhysRange, cmdline::CMDLINE_MAX, memmap::Memmap, modlist};

use crate::phys;

global_asm!(include_str!("boot.S"), options(att_syntax));

/// Which door the kernel came in by (boot.S: ENTRY_PVH / ENTRY_DIRECT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryPath {
    /// 32-bit PVH entry through the Xen ELF note (QEMU `-kernel`).
    Pvh,
    /// 64-bit entry at the ELF entry point (panvm).
    Direct,
}

impl EntryPath {
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

/// Everything the loader handed over, read through the direct map.
pub struct BootInfo {
    pub start_info_pa: u64,
    pub start_info: StartInfo,
    pub memmap: Memmap<'static>,
    pub cmdline: Cmdline<'static>,
    modlist: &'static [u8],
    cmdline_len: u64,
}

impl BootInfo {
    /// Reads `hvm_start_info` at `start_info_pa` and what it points to.
    /// Panics with the reason if the structure is unusable.
    pub fn read(start_info_pa: u64) -> Self {
        let start_info = StartInfo::parse(phys::boot_bytes(start_info_pa, START_INFO_SIZE))
            .unwrap_or_else(|e| panic!("boot info at {start_info_pa:#x}: {e}"));
        let memmap = Memmap::new(phys::boot_bytes(
            start_info.memmap_paddr,
            Memmap::byte_len(start_info.memmap_entries),
        ));
        let cmdline_bytes = match start_info.cmdline_paddr {
            0 => &[][..],
            pa => phys::boot_c_string(pa, CMDLINE_MAX),
        };
        let modlist = phys::boot_bytes(
            start_info.modlist_paddr,
            modlist::byte_len(start_info.nr_modules),
        );
        Self {
            start_info_pa,
            start_info,
            memmap,
            cmdline: Cmdline::from_c_bytes(cmdline_bytes),
            modlist,
            cmdline_len: cmdline_bytes.len() as u64,
        }
    }

    /// Physical ranges the heap must not overlap: the boot structures and modules.
    /// (The kernel image is added by the caller.)
    pub fn reserved_ranges(&self) -> impl Iterator<Item = PhysRange> + '_ {
        let s = &self.start_info;
        [
            PhysRange::from_len(self.start_info_pa, START_INFO_SIZE as u64),
            PhysRange::from_len(s.memmap_paddr, Memmap::byte_len(s.memmap_entries) as u64),
            PhysRange::from_len(s.cmdline_paddr, self.cmdline_len + 1),
            PhysRange::from_len(s.modlist_paddr, self.modlist.len() as u64),
        ]
        .into_iter()
        .chain(modlist::modules(self.modlist).map(|m| m.range()))
    }
}

unsafe extern "C" {
    // Linker-script symbols (linker.ld): only their addresses are meaningful.
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// Physical range of the loaded kernel image, including .bss and boot stack.
pub fn kernel_image() -> PhysRange {
    let start = (&raw const __kernel_start) as u64;
    let end = (&raw const __kernel_end) as u64;
    PhysRange::new(start - phys::KERNEL_VMA, end - phys::KERNEL_VMA)
}
