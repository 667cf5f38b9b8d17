//! What the boot loader hands the kernel, parsed from plain byte slices.
//!
//! Both of ferrite's entry paths (PVH from QEMU, direct 64-bit entry from
//! panvm) pass the physical address of a Xen PVH `hvm_start_info` structure
//! (see `BOOT.md`). The kernel's arch code turns physical memory into `&[u8]`;
//! everything after that -- checking magic numbers, walking the memory map,
//! splitting the command line, choosing where the heap goes -- is ordinary
//! safe code in this crate, unit-tested on the host.
//!
//! Layouts follow Xen's public header `xen/include/public/arch-x86/hvm/start_info.h`.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cmdline;
pub mod cpus;
mod le;
pub mod memmap;
pub mod modlist;
pub mod placement;
pub mod report;
pub mod size;
pub mod start_info;

pub use cmdline::Cmdline;
pub use memmap::{MemmapEntry, MemoryType};
pub use placement::PhysRange;
pub use start_info::{StartInfo, StartInfoError};
