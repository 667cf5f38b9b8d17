//! The buddy page allocator (Linux: `mm/page_alloc.c`).
//!
//! Free memory is kept as blocks of `PAGE_SIZE << order` bytes, each aligned
//! to its own size, on one free list per order. Allocating order `n` takes a
//! block from the smallest non-empty list of order >= n and splits it in
//! halves, putting the upper halves back on the lower lists, until it is of
//! order `n`. Freeing a block looks at its *buddy*, the other half of the
//! block of order `n + 1` it came from (address XOR block size); if that is
//! free and of the same order, the two merge, and the check repeats one
//! order up. So free memory stays in the largest blocks its layout allows.
//!
//! Metadata is one [`FrameState`] and one [`Link`] per managed page frame,
//! allocated in `new` and never resized (see the crate docs): 10 bytes per
//! 4 KiB page, 2.5 MiB per GiB. Only the first frame of a block carries
//! its order; the others are `Tail`.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::fragmentation::FragmentationReport;
use crate::frame_map::{FrameMap, Span};
use crate::list::{Link, List};
use crate::{MAX_ORDER, NR_ORDERS, PAGE_SIZE, PhysRange, Size, order_bytes};

/// What one page frame is, as far as the buddy allocator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameState {
    /// Not the first page of a block (or part of no block yet).
    Tail,
    /// First page of a free block of this order, on `free_lists[order]`.
    Free(u8),
    /// First page of a block handed out with this order.
    Allocated(u8),
    /// An order-0 page that a [`PageCache`](crate::PageCache) took in a
    /// refill: allocated as far as the buddy lists go, and owned by the
    /// per-CPU path (cached, or handed out by a cache) until a drain frees it.
    PerCpu,
}

/// Counters since construction, plus the current free lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuddyStats {
    /// Successful allocations per order.
    pub allocs: [u64; NR_ORDERS],
    /// Frees per order (as requested, before coalescing).
    pub frees: [u64; NR_ORDERS],
    /// Blocks split in two to serve a smaller allocation.
    pub splits: u64,
    /// Buddy pairs merged into one block on free.
    pub merges: u64,
    /// Allocations that found no block big enough.
    pub failures: u64,
    /// Free blocks per order now (Linux: `free_area[order].nr_free`).
    pub free_blocks: [u64; NR_ORDERS],
    pub free_pages: u64,
    pub total_pages: u64,
}

pub struct BuddyAllocator {
    frames: FrameMap,
    /// Per frame: see [`FrameState`].
    state: Vec<FrameState>,
    /// Per frame: free-list links, used while the frame heads a free block.
    links: Vec<Link>,
    free_lists: [List; NR_ORDERS],
    free_pages: u64,
    allocs: [u64; NR_ORDERS],
    frees: [u64; NR_ORDERS],
    splits: u64,
    merges: u64,
    failures: u64,
}

impl BuddyAllocator {
    /// Manages the usable RAM `ranges` (e.g. the boot memory map's RAM minus
    /// the kernel image and reserved areas). Ranges are trimmed inwards to
    /// page boundaries; they may be unsorted, overlap or touch.
    ///
    /// All metadata is allocated here, once.
    pub fn new(ranges: &[PhysRange]) -> Self {
        let frames = FrameMap::new(ranges);
        let n = frames.frames() as usize;
        let mut buddy = Self {
            state: vec![FrameState::Tail; n],
            links: vec![Link::UNLINKED; n],
            frames,
            free_lists: [List::EMPTY; NR_ORDERS],
            free_pages: 0,
            allocs: [0; NR_ORDERS],
            frees: [0; NR_ORDERS],
            splits: 0,
            merges: 0,
            failures: 0,
        };
        for i in 0..buddy.frames.spans().len() {
            let span = buddy.frames.spans()[i];
            buddy.add_span(span);
        }
        buddy
    }

    /// Cuts a span into the largest aligned blocks that fit, lowest address
    /// first. This greedy cut leaves no two free buddies of the same order
    /// (the pair would have been taken as one bigger block), which is the
    /// state that coalescing returns to once everything is freed.
    fn add_span(&mut self, span: Span) {
        let mut addr = span.start;
        while addr < span.end {
            let order = largest_block_at(addr, span.end - addr);
            let frame = span.frame_of(addr).expect("block inside its span");
            self.state[frame as usize] = FrameState::Free(order as u8);
            // At the tail, as Linux frees boot memory (FPI_TO_TAIL): the
            // first allocations then come from low addresses, in order.
            self.free_lists[order].push_back(&mut self.links, frame);
            self.free_pages += 1 << order;
            addr += order_bytes(order);
        }
    }

    /// Allocates a block of `PAGE_SIZE << order` bytes, aligned to its size.
    /// `None` if no free block is big enough (or `order > MAX_ORDER`).
    pub fn alloc(&mut self, order: usize) -> Option<u64> {
        let Some(found) = (order..NR_ORDERS).find(|&o| !self.free_lists[o].is_empty()) else {
            self.failures += 1;
            return None;
        };
        let frame = self.free_lists[found]
            .pop_front(&mut self.links)
            .expect("non-empty list");
        self.split(frame, found, order);
        self.state[frame as usize] = FrameState::Allocated(order as u8);
        self.free_pages -= 1 << order;
        self.allocs[order] += 1;
        Some(self.frames.addr_of(frame))
    }

    /// Halves the block at `frame` from order `from` down to `to`, freeing
    /// each upper half (Linux: `expand()`). The block's frames are
    /// contiguous, so the upper half of an order-`o` block starts `1 << o`
    /// frames in.
    fn split(&mut self, frame: u32, from: usize, to: usize) {
        for order in (to..from).rev() {
            let upper = frame + (1 << order);
            self.state[upper as usize] = FrameState::Free(order as u8);
            self.free_lists[order].push_front(&mut self.links, upper);
            self.splits += 1;
        }
    }

    /// Returns the block at `addr`, allocated with `order`.
    ///
    /// Panics (a kernel bug) if `addr` is not the start of a block currently
    /// allocated with exactly that order: double free, wrong order, an
    /// address inside a block, outside managed memory, or in a per-CPU cache.
    pub fn free(&mut self, addr: u64, order: usize) {
        let (span, frame) = self.locate(addr, "free");
        assert!(
            order <= MAX_ORDER,
            "free of {addr:#x}: order {order} > MAX_ORDER"
        );
        match self.state[frame as usize] {
            FrameState::Allocated(o) if usize::from(o) == order => {}
            FrameState::Allocated(o) => {
                panic!("free of {addr:#x} with order {order}, but it was allocated with order {o}")
            }
            FrameState::Free(_) => panic!("double free of {addr:#x} (order {order})"),
            FrameState::Tail => panic!(
                "free of {addr:#x} (order {order}): not the start of an allocated block \
                 (double free of a block already merged, or an address inside a block)"
            ),
            FrameState::PerCpu => panic!("free of {addr:#x}: the page belongs to a per-CPU page cache"),
        }
        self.frees[order] += 1;
        self.free_pages += 1 << order;
        self.coalesce(span, addr, frame, order);
    }

    /// Merges the newly freed block with its free buddies as far as it goes
    /// (Linux: `__free_one_page()`), then puts the result on its free list.
    fn coalesce(&mut self, span: Span, mut addr: u64, mut frame: u32, mut order: usize) {
        while order < MAX_ORDER {
            let buddy_addr = addr ^ order_bytes(order);
            // A buddy outside the span is a hole or unmanaged: never free.
            let Some(buddy) = span.frame_of(buddy_addr) else {
                break;
            };
            if self.state[buddy as usize] != FrameState::Free(order as u8) {
                break; // allocated, split into smaller blocks, or cached
            }
            self.free_lists[order].remove(&mut self.links, buddy);
            // The merged block starts at the lower half; the upper half's
            // first frame becomes an ordinary tail frame.
            if buddy_addr < addr {
                self.state[frame as usize] = FrameState::Tail;
                (addr, frame) = (buddy_addr, buddy);
            } else {
                self.state[buddy as usize] = FrameState::Tail;
            }
            order += 1;
            self.merges += 1;
        }
        self.state[frame as usize] = FrameState::Free(order as u8);
        self.free_lists[order].push_front(&mut self.links, frame);
    }

    /// The span and frame number of the page at `addr`; panics if `addr` is
    /// unaligned or unmanaged.
    fn locate(&self, addr: u64, what: &str) -> (Span, u32) {
        assert!(
            addr.is_multiple_of(PAGE_SIZE),
            "{what} of {addr:#x}: not page aligned"
        );
        let span = self
            .frames
            .span_of(addr)
            .unwrap_or_else(|| panic!("{what} of {addr:#x}: not a page managed by this allocator"));
        (span, span.frame_of(addr).expect("address in its span"))
    }

    /// Pages on the free lists (pages in per-CPU caches are not counted).
    pub fn free_pages(&self) -> u64 {
        self.free_pages
    }

    /// Pages managed, free or not.
    pub fn total_pages(&self) -> u64 {
        u64::from(self.frames.frames())
    }

    /// The managed memory: the given ranges, trimmed, sorted and merged.
    pub fn ranges(&self) -> impl Iterator<Item = PhysRange> + '_ {
        self.frames
            .spans()
            .iter()
            .map(|s| PhysRange::new(s.start, s.end))
    }

    /// `Some(order)` if `addr` is the start of a block allocated with that
    /// order (and not sitting in a per-CPU cache); for debug checks.
    pub fn allocated_order(&self, addr: u64) -> Option<usize> {
        let frame = self.frames.span_of(addr)?.frame_of(addr)?;
        match self.state[frame as usize] {
            FrameState::Allocated(o) if addr.is_multiple_of(PAGE_SIZE) => Some(usize::from(o)),
            _ => None,
        }
    }

    pub fn stats(&self) -> BuddyStats {
        BuddyStats {
            allocs: self.allocs,
            frees: self.frees,
            splits: self.splits,
            merges: self.merges,
            failures: self.failures,
            free_blocks: self.free_blocks(),
            free_pages: self.free_pages,
            total_pages: self.total_pages(),
        }
    }

    /// Free blocks per order and how unusable free memory is for each order.
    pub fn fragmentation(&self) -> FragmentationReport {
        FragmentationReport::new(self.free_blocks())
    }

    fn free_blocks(&self) -> [u64; NR_ORDERS] {
        core::array::from_fn(|order| self.free_lists[order].len() as u64)
    }

    /// Marks an order-0 page a per-CPU cache took from here (a refill): it
    /// belongs to the per-CPU path until a drain frees it (`free_per_cpu`).
    /// Panics if it is not an allocated order-0 page.
    pub(crate) fn mark_per_cpu(&mut self, addr: u64) {
        let (_, frame) = self.locate(addr, "per-CPU free");
        match self.state[frame as usize] {
            FrameState::Allocated(0) => self.state[frame as usize] = FrameState::PerCpu,
            FrameState::PerCpu => {
                panic!("double free of page {addr:#x}: already in a per-CPU cache")
            }
            FrameState::Allocated(o) => {
                panic!("per-CPU free of {addr:#x}: allocated with order {o}, not 0")
            }
            FrameState::Free(_) | FrameState::Tail => {
                panic!(
                    "per-CPU free of {addr:#x}: not an allocated page (double free or bad address)"
                )
            }
        }
    }

    /// Frees an order-0 page that a per-CPU cache holds: one it took in a
    /// refill (marked `PerCpu`) or an allocated page freed into it. Panics on
    /// anything else (a page freed twice, a block of higher order).
    pub(crate) fn free_per_cpu(&mut self, addr: u64) {
        let (_, frame) = self.locate(addr, "per-CPU free");
        if self.state[frame as usize] == FrameState::PerCpu {
            self.state[frame as usize] = FrameState::Allocated(0);
        }
        self.free(addr, 0);
    }
}

/// The largest order whose block fits in `len` bytes at `addr` and is
/// aligned there.
fn largest_block_at(addr: u64, len: u64) -> usize {
    let by_alignment = (addr / PAGE_SIZE).trailing_zeros() as usize; // 64 for address 0
    let by_length = (len / PAGE_SIZE).ilog2() as usize;
    by_alignment.min(by_length).min(MAX_ORDER)
}

impl fmt::Display for BuddyStats {
    /// A few lines in the spirit of `/proc/buddyinfo` and `/proc/vmstat`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "buddy: {} of {} pages free ({}), {} splits, {} merges, {} failed allocations",
            self.free_pages,
            self.total_pages,
            Size(self.free_pages * PAGE_SIZE),
            self.splits,
            self.merges,
            self.failures
        )?;
        write!(f, "{:>12}", "order")?;
        (0..NR_ORDERS).try_for_each(|o| write!(f, "{o:>8}"))?;
        writeln!(f)?;
        for (name, row) in [
            ("free blocks", &self.free_blocks),
            ("allocs", &self.allocs),
            ("frees", &self.frees),
        ] {
            write!(f, "{name:>12}")?;
            row.iter().try_for_each(|n| write!(f, "{n:>8}"))?;
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1 << 20;

    #[test]
    fn largest_block_respects_alignment_length_and_max_order() {
        assert_eq!(largest_block_at(0, 64 * M), MAX_ORDER);
        assert_eq!(largest_block_at(PAGE_SIZE, 64 * M), 0);
        assert_eq!(largest_block_at(8 * PAGE_SIZE, 64 * M), 3);
        assert_eq!(largest_block_at(4 * M, 7 * PAGE_SIZE), 2);
        assert_eq!(largest_block_at(4 * M, PAGE_SIZE), 0);
    }

    /// Every frame is either a block head or a tail of exactly one block,
    /// and the free lists hold exactly the `Free` heads.
    fn check_invariants(b: &BuddyAllocator) {
        let mut covered = 0u64;
        let mut free = 0u64;
        for span in b.frames.spans() {
            let mut addr = span.start;
            while addr < span.end {
                let frame = span.frame_of(addr).unwrap() as usize;
                let order = match b.state[frame] {
                    FrameState::Free(o) => {
                        free += 1 << o;
                        usize::from(o)
                    }
                    FrameState::Allocated(o) => usize::from(o),
                    FrameState::PerCpu => 0,
                    FrameState::Tail => panic!("frame at {addr:#x} is a tail without a head"),
                };
                assert_eq!(
                    addr % order_bytes(order),
                    0,
                    "misaligned block at {addr:#x}"
                );
                for tail in 1..(1u32 << order) {
                    assert_eq!(b.state[frame + tail as usize], FrameState::Tail);
                }
                covered += 1 << order;
                addr += order_bytes(order);
            }
        }
        assert_eq!(covered, b.total_pages());
        assert_eq!(free, b.free_pages);
        for (order, list) in b.free_lists.iter().enumerate() {
            for frame in list.iter(&b.links) {
                assert_eq!(b.state[frame as usize], FrameState::Free(order as u8));
            }
        }
    }

    #[test]
    fn invariants_hold_and_metadata_never_reallocates() {
        let mut b = BuddyAllocator::new(&[
            PhysRange::new(0x3000, 9 * M + 0x5000),
            PhysRange::new(12 * M, 20 * M),
        ]);
        let (state_ptr, state_cap) = (b.state.as_ptr(), b.state.capacity());
        let (links_ptr, links_cap) = (b.links.as_ptr(), b.links.capacity());
        check_invariants(&b);

        let mut live = Vec::with_capacity(4096);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if !seed.is_multiple_of(3) || live.is_empty() {
                let order = (seed >> 8) as usize % 6;
                if let Some(addr) = b.alloc(order) {
                    live.push((addr, order));
                }
            } else {
                let (addr, order) = live.swap_remove((seed >> 8) as usize % live.len());
                b.free(addr, order);
            }
            if step % 2_000 == 0 {
                check_invariants(&b);
            }
        }
        for (addr, order) in live.drain(..) {
            b.free(addr, order);
        }
        check_invariants(&b);
        assert_eq!(b.free_pages(), b.total_pages());
        assert_eq!(
            (b.state.as_ptr(), b.state.capacity()),
            (state_ptr, state_cap)
        );
        assert_eq!(
            (b.links.as_ptr(), b.links.capacity()),
            (links_ptr, links_cap)
        );
    }

    #[test]
    fn stats_display_lists_every_order() {
        let b = BuddyAllocator::new(&[PhysRange::new(0, 8 * M)]);
        let text = alloc::format!("{}", b.stats());
        assert!(
            text.starts_with("buddy: 2048 of 2048 pages free (8 MiB)"),
            "{text}"
        );
        assert!(text.contains("free blocks       0       0"), "{text}");
        assert_eq!(text.lines().count(), 5);
    }
}
