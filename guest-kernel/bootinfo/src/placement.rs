//! Choosing physical memory for the kernel's first heap.
//!
//! The heap must lie in RAM (per the memory map), inside what the kernel has
//! mapped, and clear of everything the loader put in memory: the kernel image
//! itself and the boot structures (start info, memory map, command line,
//! modules). The search is first-fit from low addresses, so the heap lands
//! right after the kernel on a typical machine.

use alloc::vec::Vec;
use core::fmt;

use crate::memmap::Memmap;

/// A half-open range of physical addresses `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// `[start, start + len)`, saturating at the top of the address space.
    pub const fn from_len(start: u64, len: u64) -> Self {
        Self {
            start,
            end: start.saturating_add(len),
        }
    }

    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub const fn overlaps(&self, other: &PhysRange) -> bool {
        !self.is_empty() && !other.is_empty() && self.start < other.end && other.start < self.end
    }
}

impl fmt::Display for PhysRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.start, self.end)
    }
}

/// What the caller asks for.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// Bytes wanted.
    pub size: u64,
    /// Power-of-two alignment of the start.
    pub align: u64,
    /// The range the kernel can address (e.g. what its page tables map).
    pub window: PhysRange,
}

/// First RAM range satisfying `request` that overlaps none of `reserved`.
pub fn find_free(
    memmap: &Memmap<'_>,
    reserved: &[PhysRange],
    request: Request,
) -> Option<PhysRange> {
    debug_assert!(request.align.is_power_of_two());
    memmap
        .iter()
        .filter(|e| e.is_ram())
        .find_map(|ram| fit_in(PhysRange::new(ram.addr, ram.end()), reserved, request))
}

/// Slides a candidate upwards through `ram` past each reserved range it hits.
fn fit_in(ram: PhysRange, reserved: &[PhysRange], request: Request) -> Option<PhysRange> {
    let lo = ram.start.max(request.window.start);
    let hi = ram.end.min(request.window.end);
    let mut start = align_up(lo, request.align)?;
    loop {
        let candidate = PhysRange::from_len(start, request.size);
        if candidate.end > hi || candidate.len() != request.size {
            return None;
        }
        match reserved.iter().find(|r| r.overlaps(&candidate)) {
            None => return Some(candidate),
            Some(blocker) => start = align_up(blocker.end, request.align)?,
        }
    }
}

/// The first of `sizes` (largest first) that [`find_free`] can place with
/// `align` in `window`: the biggest heap that fits. Allocates nothing (it
/// runs before the kernel has a heap).
pub fn find_largest(
    memmap: &Memmap<'_>,
    reserved: &[PhysRange],
    sizes: &[u64],
    align: u64,
    window: PhysRange,
) -> Option<PhysRange> {
    sizes.iter().find_map(|&size| {
        let request = Request {
            size,
            align,
            window,
        };
        find_free(memmap, reserved, request)
    })
}

/// Every RAM range of `memmap` inside `window`, minus every range in
/// `holes`: what the kernel may give its page allocator (allocates).
pub fn free_ranges(memmap: &Memmap<'_>, window: PhysRange, holes: &[PhysRange]) -> Vec<PhysRange> {
    let mut out: Vec<PhysRange> = memmap
        .iter()
        .filter(|e| e.is_ram())
        .map(|e| PhysRange::new(e.addr.max(window.start), e.end().min(window.end)))
        .filter(|r| !r.is_empty())
        .collect();
    for hole in holes.iter().filter(|h| !h.is_empty()) {
        let mut next = Vec::with_capacity(out.len() + 1);
        for r in out {
            if hole.end <= r.start || r.end <= hole.start {
                next.push(r);
                continue;
            }
            if r.start < hole.start {
                next.push(PhysRange::new(r.start, hole.start));
            }
            if hole.end < r.end {
                next.push(PhysRange::new(hole.end, r.end));
            }
        }
        out = next;
    }
    out
}

fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memmap::tests::{memmap_bytes, qemu_256m};

    const MIB: u64 = 1 << 20;
    const WINDOW: PhysRange = PhysRange::new(MIB, 1 << 30);

    fn request(size: u64) -> Request {
        Request {
            size,
            align: 2 * MIB,
            window: WINDOW,
        }
    }

    #[test]
    fn lands_after_the_kernel_image() {
        let bytes = qemu_256m();
        let kernel = PhysRange::new(MIB, MIB + 300 * 1024);
        let got = find_free(&Memmap::new(&bytes), &[kernel], request(16 * MIB));
        assert_eq!(got, Some(PhysRange::from_len(2 * MIB, 16 * MIB)));
    }

    #[test]
    fn skips_every_blocker_including_ones_found_later_in_the_list() {
        let bytes = qemu_256m();
        let reserved = [
            PhysRange::new(6 * MIB, 6 * MIB + 1), // a module found second
            PhysRange::new(MIB, 3 * MIB),         // the kernel
        ];
        let got = find_free(&Memmap::new(&bytes), &reserved, request(4 * MIB));
        assert_eq!(got, Some(PhysRange::from_len(8 * MIB, 4 * MIB)));
    }

    #[test]
    fn never_uses_non_ram_or_memory_outside_the_window() {
        // low RAM is below the window; the only high RAM is too small
        let bytes = memmap_bytes(&[(0, 0x9fc00, 1), (MIB, MIB, 1), (16 * MIB, 64 * MIB, 2)]);
        assert_eq!(find_free(&Memmap::new(&bytes), &[], request(4 * MIB)), None);
        // ...but a small request fits in the 1 MiB of RAM at 1 MiB
        let small = Request {
            size: 4096,
            align: 4096,
            window: WINDOW,
        };
        assert_eq!(
            find_free(&Memmap::new(&bytes), &[], small),
            Some(PhysRange::from_len(MIB, 4096))
        );
    }

    #[test]
    fn tries_the_next_ram_entry_when_one_is_full() {
        let bytes = memmap_bytes(&[(MIB, 3 * MIB, 1), (64 * MIB, 64 * MIB, 1)]);
        let kernel = [PhysRange::new(MIB, 2 * MIB)];
        let got = find_free(&Memmap::new(&bytes), &kernel, request(8 * MIB));
        assert_eq!(got, Some(PhysRange::from_len(64 * MIB, 8 * MIB)));
    }

    #[test]
    fn survives_entries_at_the_top_of_the_address_space() {
        let bytes = memmap_bytes(&[(u64::MAX - 4095, 4096, 1)]);
        let everywhere = Request {
            size: 8192,
            align: 4096,
            window: PhysRange::new(0, u64::MAX),
        };
        assert_eq!(find_free(&Memmap::new(&bytes), &[], everywhere), None);
    }

    #[test]
    fn the_largest_size_that_fits() {
        let bytes = memmap_bytes(&[(MIB, 7 * MIB, 1)]);
        let memmap = Memmap::new(&bytes);
        let kernel = [PhysRange::new(MIB, 2 * MIB)];
        let sizes = [16 * MIB, 4 * MIB, MIB];
        let got = find_largest(&memmap, &kernel, &sizes, 2 * MIB, WINDOW);
        assert_eq!(got, Some(PhysRange::from_len(2 * MIB, 4 * MIB)));
        assert_eq!(find_largest(&memmap, &kernel, &sizes[..1], 2 * MIB, WINDOW), None);
    }

    #[test]
    fn free_ranges_cut_out_the_holes() {
        // RAM below 640 KiB (outside the window), 1..256 MiB, and 4 GiB up.
        let bytes = memmap_bytes(&[(0, 0x9fc00, 1), (MIB, 255 * MIB, 1), (16 * MIB, MIB, 2), (4 << 30, MIB, 1)]);
        let memmap = Memmap::new(&bytes);
        let holes = [
            PhysRange::new(MIB, 3 * MIB),           // the kernel
            PhysRange::new(10 * MIB, 26 * MIB),     // the bootstrap heap
            PhysRange::new(0x9000, 0xa000),         // a boot structure below the window
            PhysRange::new(200 * MIB, 200 * MIB),   // empty: ignored
            PhysRange::new(250 * MIB, 300 * MIB),   // past the end of RAM
        ];
        assert_eq!(
            free_ranges(&memmap, WINDOW, &holes),
            [PhysRange::new(3 * MIB, 10 * MIB), PhysRange::new(26 * MIB, 250 * MIB)]
        );
        assert_eq!(free_ranges(&memmap, WINDOW, &[]), [PhysRange::new(MIB, 256 * MIB)]);
    }

    #[test]
    fn range_overlap_rules() {
        let a = PhysRange::new(10, 20);
        assert!(a.overlaps(&PhysRange::new(19, 30)));
        assert!(!a.overlaps(&PhysRange::new(20, 30)));
        assert!(
            !a.overlaps(&PhysRange::new(15, 15)),
            "empty ranges overlap nothing"
        );
        assert_eq!(a.len(), 10);
        assert_eq!(a.to_string(), "[0xa, 0x14)");
    }
}
