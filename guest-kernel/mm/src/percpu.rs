//! Per-CPU caches of single pages in front of the buddy allocator (Linux:
//! `struct per_cpu_pages`, `rmqueue_pcplist()`, `free_unref_page()`).
//!
//! Most page allocations are order 0, and going to the buddy lists for each
//! one means taking the zone lock and splitting/merging every time. A small
//! per-CPU stack of pages absorbs that: `alloc` pops from it, `free` pushes
//! onto it, and only when it runs empty (refill) or grows past `high`
//! (drain) does it lock the buddy allocator, `batch` pages at a time.
//!
//! Each CPU owns its [`PageCache`] (the kernel gives its CPU `&mut` without
//! a lock, as for `CpuCache`), so the fast path takes no lock and touches no
//! shared line. The hot end of the stack (most recently freed, likely still
//! in the CPU's cache) is the top; draining gives back the bottom, the
//! coldest pages.
//!
//! # Checks
//!
//! The buddy allocator marks pages `PerCpu` when a refill takes them, and
//! they keep that mark while the per-CPU path hands them out and takes them
//! back; a drain returns them. So a page from a cache freed straight to the
//! buddy allocator panics there, and a page freed twice into caches panics
//! when the second copy is drained (or at once, if freed twice in a row on
//! one CPU: the top of the stack is compared). A block of higher order freed
//! into a cache panics when drained.

use alloc::vec;
use alloc::vec::Vec;

use crate::BuddyAllocator;

/// How a [`PageCache`] reaches the buddy allocator: `f` runs with it locked
/// (the kernel's allocator lock; a mutex in host tests).
pub trait PageBacking {
    fn with_pages<R>(&self, f: impl FnOnce(&mut BuddyAllocator) -> R) -> R;
}

/// One CPU's stack of free order-0 pages.
pub struct PageCache {
    /// Pages taken from / given back to the buddy allocator at once.
    batch: usize,
    /// `pages[..count]`, bottom (coldest) first; `pages.len()` is `high`,
    /// the most this CPU may hold.
    pages: Vec<u64>,
    count: usize,
}

impl PageCache {
    /// A cache refilled and drained `batch` pages at a time, holding at most
    /// `high` pages. Panics unless `1 <= batch <= high`. Allocates its stack
    /// now (call it while the kernel still runs on its bootstrap heap).
    pub fn new(batch: usize, high: usize) -> Self {
        assert!(
            batch >= 1 && batch <= high,
            "per-CPU pages need 1 <= batch ({batch}) <= high ({high})"
        );
        Self {
            batch,
            pages: vec![0; high],
            count: 0,
        }
    }

    /// An order-0 page: from the stack, refilled with up to `batch` pages
    /// under the allocator lock when empty. `None` if the buddy allocator
    /// has no page left (pages cached on *other* CPUs stay there; drain them
    /// to get them back).
    #[inline]
    pub fn alloc(&mut self, backing: &impl PageBacking) -> Option<u64> {
        if self.count == 0 {
            backing.with_pages(|buddy| self.refill(buddy));
        }
        let n = self.count.checked_sub(1)?;
        self.count = n;
        Some(self.pages[n])
    }

    /// Gives back an order-0 page that a `PageCache` (on any CPU) or the
    /// buddy allocator handed out. At the high watermark the `batch` coldest
    /// pages go back to the buddy allocator first.
    #[inline]
    pub fn free(&mut self, addr: u64, backing: &impl PageBacking) {
        if self.count > 0 {
            assert_ne!(
                self.pages[self.count - 1],
                addr,
                "double free of page {addr:#x}: already in this CPU's page cache"
            );
        }
        if self.count == self.pages.len() {
            backing.with_pages(|buddy| self.release_coldest(self.batch, buddy));
        }
        self.pages[self.count] = addr;
        self.count += 1;
    }

    /// Returns every cached page to `buddy` (Linux: `drain_pages()`, e.g.
    /// before giving up on an allocation or when a CPU goes offline).
    pub fn drain(&mut self, buddy: &mut BuddyAllocator) {
        self.release_coldest(self.count, buddy);
    }

    /// Pages cached here.
    pub fn cached(&self) -> usize {
        self.count
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    pub fn high(&self) -> usize {
        self.pages.len()
    }

    /// Takes up to `batch` pages from the buddy allocator (Linux:
    /// `rmqueue_bulk()`); fewer if it runs out.
    fn refill(&mut self, buddy: &mut BuddyAllocator) {
        for _ in 0..self.batch {
            let Some(addr) = buddy.alloc(0) else { break };
            buddy.mark_per_cpu(addr);
            self.pages[self.count] = addr;
            self.count += 1;
        }
    }

    /// Frees the `n` pages at the bottom of the stack to the buddy allocator
    /// and moves the rest down (Linux: `free_pcppages_bulk()`).
    fn release_coldest(&mut self, n: usize, buddy: &mut BuddyAllocator) {
        let stack = &mut self.pages[..self.count];
        let n = n.min(stack.len());
        for &addr in &stack[..n] {
            buddy.free_per_cpu(addr);
        }
        stack.copy_within(n.., 0);
        self.count -= n;
    }
}
