//! The boot report's memory section, built as a `String` so the kernel's
//! first heap has real work to do (and so the text is unit-testable).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::memmap::{Memmap, MemmapEntry};
use crate::size::Size;

/// One line per memory-map entry, sorted by address (loaders need not sort),
/// then the total RAM.
pub fn memory_report(memmap: &Memmap<'_>) -> String {
    let mut entries: Vec<MemmapEntry> = memmap.iter().collect();
    entries.sort_by_key(|e| e.addr);

    let mut out = String::new();
    // Writing to a String cannot fail; `let _` keeps that visible.
    let _ = writeln!(out, "memory map ({} entries):", entries.len());
    for entry in &entries {
        let _ = writeln!(out, "  {entry}");
    }
    let total = memmap.total_ram();
    let _ = writeln!(out, "total RAM: {} (~{} MiB)", Size(total), total >> 20);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memmap::tests::{memmap_bytes, qemu_256m};

    #[test]
    fn lists_entries_sorted_then_total() {
        let bytes = memmap_bytes(&[
            (0x10_0000, 0x0ff0_0000, 1),
            (0, 0x9fc00, 1),
            (0xf0000, 0x10000, 2),
        ]);
        let report = memory_report(&Memmap::new(&bytes));
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(
            lines,
            [
                "memory map (3 entries):",
                "  [0x0000000000000000, 0x000000000009fc00) ram      639 KiB",
                "  [0x00000000000f0000, 0x0000000000100000) reserved 64 KiB",
                "  [0x0000000000100000, 0x0000000010000000) ram      255 MiB",
                "total RAM: 261759 KiB (~255 MiB)",
            ]
        );
    }

    #[test]
    fn empty_map_still_reports() {
        let report = memory_report(&Memmap::new(&[]));
        assert_eq!(report, "memory map (0 entries):\ntotal RAM: 0 B (~0 MiB)\n");
        assert!(memory_report(&Memmap::new(&qemu_256m())).contains("5 entries"));
    }
}
