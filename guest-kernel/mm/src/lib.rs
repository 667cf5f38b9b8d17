//! ferrite's memory allocators, as bookkeeping over physical addresses.
//!
//! Three layers, each in its own file, read top to bottom like Linux's
//! `mm/page_alloc.c` and `mm/slab*.c` (or xv6's `kalloc.c`, grown up):
//!
//! - [`BuddyAllocator`] (`buddy.rs`): physical pages in power-of-two blocks
//!   of order 0..=[`MAX_ORDER`] (4 KiB .. 4 MiB), split on allocation and
//!   coalesced with their buddy on free. `frame_map.rs` says which addresses
//!   it manages; `fragmentation.rs` reports how usable the free memory is.
//! - [`PageCache`] (`percpu.rs`): one CPU's stack of order-0 pages in front
//!   of the buddy allocator, refilled and drained in batches, as Linux's
//!   `per_cpu_pages`; its CPU uses it without a lock.
//! - [`Kmalloc`] (`kmalloc.rs`): slab caches for the kmalloc size classes
//!   (`size_class.rs`), each slab one buddy block cut into equal objects
//!   (`slab.rs`), found again on free through a fixed-capacity hash map from
//!   slab address to slab descriptor (`slab_map.rs`). Larger requests get
//!   buddy blocks directly.
//! - [`CpuCache`] and [`Depot`] (`cpu_cache.rs`): the per-CPU fast path of
//!   kmalloc/kfree in front of the slabs: each CPU's magazines of free
//!   objects (no lock), and per size class a depot of full magazines (its
//!   own lock) through which objects freed on one CPU reach another.
//!
//! Before them, [`bump::Bump`] serves the kernel's first allocations from one
//! range, and the allocators' own metadata (their constructors allocate).
//!
//! Beside them, [`stack_area`] keeps the books of the kernel stack area's
//! virtual slots (which slot a new stack gets, which freed stacks stay
//! mapped, what a fault in a guard page hit). Freeing a slot whose stack
//! was unmapped may grow its free list: it is not an allocator's hot path,
//! and the kernel calls it where allocating is allowed.
//!
//! # Addresses, not memory
//!
//! This crate never reads or writes the memory it hands out -- it cannot,
//! being `#![forbid(unsafe_code)]`. Every allocation is a *physical address*
//! (a `u64`), and all metadata (per-frame state, free lists, slab bitmaps)
//! lives out of band in ordinary Rust collections. The kernel's glue turns
//! addresses into pointers through its direct map.
//!
//! # The no-allocation contract
//!
//! The kernel builds these structures while a bootstrap bump allocator
//! serves `alloc`, and then points its `#[global_allocator]` at [`Kmalloc`]
//! (and [`BuddyAllocator`] behind it). From then on, anything in here that
//! allocated through `alloc` would call back into itself. Therefore:
//!
//! - **Constructors allocate** (`BuddyAllocator::new`, `PageCache::new`,
//!   `Kmalloc::new`, `CpuCache::new`, `Depot::new`): every `Vec` is created
//!   at its final size there, sized from the memory ranges, CPU count or slab
//!   capacity they are given.
//! - **Nothing else allocates**: `alloc`/`free`/`drain` on all these types,
//!   `stats()`, `fragmentation()` and the `Display` impls only index into the
//!   preallocated arrays; no `Vec` ever grows, no `Box` is created. When a
//!   preallocated table is full (e.g. `Kmalloc`'s slab descriptors), the
//!   allocation fails with `None` instead of growing.
//!
//! Host tests check this twice: the vectors' capacities and buffers are
//! unchanged after randomized workloads (unit tests), and a counting global
//! allocator sees zero allocations during a burst of alloc/free
//! (`tests/hot_path_no_alloc.rs`).
//!
//! # Metadata overhead
//!
//! - [`BuddyAllocator`]: 10 bytes per 4 KiB frame (a 2-byte frame state and
//!   an 8-byte free-list link), i.e. 2.5 MiB per GiB managed (0.24 %; Linux's
//!   64-byte `struct page` is 1.6 %), plus 24 bytes per memory range.
//! - [`PageCache`]: `8 * high` bytes per CPU, independent of memory size.
//! - [`Kmalloc`]: per slab descriptor 88 bytes (80-byte descriptor with a
//!   512-bit object bitmap, 8 bytes of list links) plus 24..48 bytes of hash
//!   map, for the `max_slabs` given to `new`. Per GiB *of slab memory* that
//!   is 28..34 MiB if it is all 4 KiB slabs (worst case), 1.8..2.1 MiB if it
//!   is all 64 KiB slabs (the 8 KiB class).
//!
//! # Locking
//!
//! All operations take `&mut self`; the kernel decides what serialises
//! them. Its slabs and buddy allocator sit behind one spin lock, each
//! class's [`Depot`] behind its own, and each CPU's [`CpuCache`] behind none
//! (only its CPU uses it), which is what takes the allocator lock off the
//! kmalloc fast path ([`SlabBacking`] is how a `CpuCache` reaches the locked
//! tiers); each CPU's [`PageCache`] too, reaching the buddy allocator
//! through [`PageBacking`].
//!
//! # Errors
//!
//! Running out of memory is an ordinary `None`. Freeing something that was
//! not allocated (double free, foreign or interior address, wrong order or
//! size) is a kernel bug and panics with a message naming the address.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod buddy;
pub mod bump;
mod cpu_cache;
mod fragmentation;
mod frame_map;
mod kmalloc;
mod list;
mod percpu;
mod size_class;
mod slab;
mod slab_map;
pub mod stack_area;

use core::fmt;

pub use buddy::{BuddyAllocator, BuddyStats};
pub use cpu_cache::{
    CPU_CACHE_MAX_BYTES, CPU_CACHE_SLOTS, CpuCache, CpuCacheStats, Depot, SlabBacking,
    magazine_size, slab_class,
};
pub use fragmentation::FragmentationReport;
pub use kmalloc::{ClassStats, Kmalloc, KmallocStats, LargeStats, SlabInfo};
pub use percpu::{PageBacking, PageCache};
pub use size_class::{KMALLOC_MAX_CACHE_SIZE, KMALLOC_SIZES, NR_KMALLOC_CLASSES};

/// Size of a page frame, the buddy allocator's unit.
pub const PAGE_SIZE: u64 = 4096;

/// Largest block order: blocks of `PAGE_SIZE << order`, orders 0..=10, so
/// 4 KiB .. 4 MiB (Linux >= 6.4 calls this `MAX_PAGE_ORDER`).
pub const MAX_ORDER: usize = 10;

/// Number of block orders (Linux: `NR_PAGE_ORDERS`).
pub const NR_ORDERS: usize = MAX_ORDER + 1;

/// Bytes in a block of `order`.
pub const fn order_bytes(order: usize) -> u64 {
    PAGE_SIZE << order
}

/// The smallest order whose blocks hold `len` bytes (a page at least), or
/// `None` if even a block of [`MAX_ORDER`] is too small.
pub fn order_for(len: usize) -> Option<usize> {
    let pages = len.max(1).div_ceil(PAGE_SIZE as usize);
    let order = pages.next_power_of_two().trailing_zeros() as usize;
    (order <= MAX_ORDER).then_some(order)
}

/// A physical address range `[start, end)`. The buddy allocator trims it
/// inwards to page boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// Bytes in the range (0 if `end <= start`).
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

impl fmt::Display for PhysRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.start, self.end)
    }
}

/// A byte count shown as "4 KiB", "2 MiB" (whole units only, else bytes).
/// Honours width and alignment (`{:>7}`), without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        let mut buf = StackStr::<32>::new();
        let (value, unit) = UNITS
            .iter()
            .find(|&&(unit, _)| self.0 >= unit && self.0.is_multiple_of(unit))
            .map_or((self.0, "B"), |&(unit, name)| (self.0 / unit, name));
        fmt::write(&mut buf, format_args!("{value} {unit}"))?;
        f.pad(buf.as_str())
    }
}

/// A fixed-size text buffer, so `Display` impls can measure what they print.
struct StackStr<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so this cannot fail.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use core::mem::size_of;

    /// The per-GiB overhead quoted in `buddy.rs` and `kmalloc.rs` follows
    /// from these sizes.
    #[test]
    fn metadata_sizes_match_the_documentation() {
        assert_eq!(size_of::<crate::list::Link>(), 8);
        // Buddy: FrameState + Link per 4 KiB frame = 10 bytes.
        assert_eq!(size_of::<crate::buddy::FrameState>(), 2);
        // Kmalloc: Slab + Link per slab descriptor = 88 bytes.
        assert_eq!(size_of::<crate::slab::Slab>(), 80);
    }

    #[test]
    fn order_for_lengths() {
        use crate::order_for;
        assert_eq!(order_for(0), Some(0));
        assert_eq!(order_for(4096), Some(0));
        assert_eq!(order_for(4097), Some(1));
        assert_eq!(order_for(3 * 4096), Some(2));
        assert_eq!(order_for(4 << 20), Some(10));
        assert_eq!(order_for((4 << 20) + 1), None);
    }

    #[test]
    fn sizes_print_in_whole_units_and_pad() {
        use crate::Size;
        assert_eq!(alloc::format!("{}", Size(4096)), "4 KiB");
        assert_eq!(alloc::format!("{}", Size(3 << 30)), "3 GiB");
        assert_eq!(alloc::format!("{}", Size(1536)), "1536 B");
        assert_eq!(alloc::format!("[{:>7}]", Size(2 << 20)), "[  2 MiB]");
    }
}
