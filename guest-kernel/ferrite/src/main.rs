//! ferrite, a small x86_64 guest kernel: the binary that joins the framework
//! (`ostd`, the only crate with `unsafe` code besides this file) and the
//! kernel proper (`kernel`, `#![forbid(unsafe_code)]`). boot.S (in `ostd`)
//! jumps to `kernel_main` on the boot CPU; the framework sets the machine up
//! and then runs the kernel proper's main.

#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

/// Called once by boot.S on the boot CPU with its arguments (`ostd::boot::start`).
// SAFETY (no_mangle): boot.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn kernel_main(start_info_pa: u64, entry: u64, pvm_native: u64, cpu: u64, ncpus: u64) -> ! {
    ostd::boot::start(start_info_pa, entry, pvm_native, cpu, ncpus, kernel::main)
}
