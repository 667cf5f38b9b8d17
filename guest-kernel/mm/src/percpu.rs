//! Per-CPU caches of single pages in front of the buddy allocator (Linux:
//! `struct per_cpu_pages`, `rmqueue_pcplist()`, `free_unref_page()`).
//!
//! Most page allocations are order 0, and going to the buddy lists for each
//! one means taking the zone lock and splitting/merging every time. A small
//! per-CPU stack of pages absorbs that: `alloc` pops from it, `free` pushes
//! onto it, and only when it runs empty (refill) or grows past `high`
//! (drain) does it talk to the buddy allocator, `batch` pages at a time.
//!
//! Each CPU's stack is a fixed slice of one preallocated array, `high`
//! entries long; the hot end (most recently freed, likely still in cache)
//! is the top, and draining gives back the bottom, the coldest pages.
//!
//! The buddy allocator marks cached pages `PerCpu`, so a page freed twice
//! -- to the cache or to the buddy allocator -- panics there as any other
//! double free would.

use alloc::vec;
use alloc::vec::Vec;

use crate::BuddyAllocator;

pub struct PerCpuPages {
    /// Pages taken from / given back to the buddy allocator at once.
    batch: usize,
    /// Most pages one CPU may hold; also the size of each CPU's stack.
    high: usize,
    /// CPU `c`'s stack is `pages[c * high..][..count[c]]`, bottom first.
    pages: Vec<u64>,
    count: Vec<usize>,
}

impl PerCpuPages {
    /// Caches for `ncpus` CPUs, refilled and drained `batch` pages at a time
    /// and holding at most `high` pages each. Panics unless
    /// `1 <= batch <= high`.
    pub fn new(ncpus: usize, batch: usize, high: usize) -> Self {
        assert!(
            batch >= 1 && batch <= high,
            "per-CPU pages need 1 <= batch ({batch}) <= high ({high})"
        );
        Self {
            batch,
            high,
            pages: vec![0; ncpus * high],
            count: vec![0; ncpus],
        }
    }

    /// An order-0 page for `cpu`: from its cache, refilled with up to
    /// `batch` pages from `buddy` when empty. `None` if the buddy allocator
    /// has no page left (pages cached on *other* CPUs stay there; drain them
    /// to get them back).
    pub fn alloc(&mut self, cpu: usize, buddy: &mut BuddyAllocator) -> Option<u64> {
        if self.count[cpu] == 0 {
            self.refill(cpu, buddy);
        }
        let addr = self.pop(cpu)?;
        buddy.unmark_per_cpu(addr);
        Some(addr)
    }

    /// Gives an order-0 page back through `cpu`'s cache. If the cache is at
    /// its high watermark, its `batch` coldest pages go back to `buddy`
    /// first. Panics on a double free or a page that is not an allocated
    /// order-0 page of `buddy`.
    pub fn free(&mut self, cpu: usize, addr: u64, buddy: &mut BuddyAllocator) {
        let base = self.base(cpu);
        buddy.mark_per_cpu(addr); // checks the page before anything changes
        if self.count[cpu] == self.high {
            self.release_coldest(cpu, self.batch, buddy);
        }
        self.pages[base + self.count[cpu]] = addr;
        self.count[cpu] += 1;
    }

    /// Returns every page cached on `cpu` to `buddy` (Linux:
    /// `drain_pages()`, e.g. before giving up on an allocation or when a CPU
    /// goes offline).
    pub fn drain(&mut self, cpu: usize, buddy: &mut BuddyAllocator) {
        self.release_coldest(cpu, self.count[cpu], buddy);
    }

    /// Pages cached on `cpu`.
    pub fn cached(&self, cpu: usize) -> usize {
        self.count[cpu]
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    pub fn high(&self) -> usize {
        self.high
    }

    /// Takes up to `batch` pages from the buddy allocator (Linux:
    /// `rmqueue_bulk()`); fewer if it runs out.
    fn refill(&mut self, cpu: usize, buddy: &mut BuddyAllocator) {
        let base = self.base(cpu);
        for _ in 0..self.batch {
            let Some(addr) = buddy.alloc(0) else { break };
            buddy.mark_per_cpu(addr);
            self.pages[base + self.count[cpu]] = addr;
            self.count[cpu] += 1;
        }
    }

    fn pop(&mut self, cpu: usize) -> Option<u64> {
        let base = self.base(cpu);
        let n = self.count[cpu].checked_sub(1)?;
        self.count[cpu] = n;
        Some(self.pages[base + n])
    }

    /// Frees the `n` pages at the bottom of `cpu`'s stack to the buddy
    /// allocator and moves the rest down (Linux: `free_pcppages_bulk()`).
    fn release_coldest(&mut self, cpu: usize, n: usize, buddy: &mut BuddyAllocator) {
        let base = self.base(cpu);
        let stack = &mut self.pages[base..][..self.count[cpu]];
        let n = n.min(stack.len());
        for &addr in &stack[..n] {
            buddy.unmark_per_cpu(addr);
            buddy.free(addr, 0);
        }
        stack.copy_within(n.., 0);
        self.count[cpu] -= n;
    }

    fn base(&self, cpu: usize) -> usize {
        assert!(
            cpu < self.count.len(),
            "CPU {cpu} out of range ({} CPUs)",
            self.count.len()
        );
        cpu * self.high
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PhysRange;

    #[test]
    fn cache_array_never_reallocates() {
        let mut buddy = BuddyAllocator::new(&[PhysRange::new(0, 16 << 20)]);
        let mut pcp = PerCpuPages::new(2, 4, 16);
        let (ptr, cap) = (pcp.pages.as_ptr(), pcp.pages.capacity());
        let mut live = Vec::with_capacity(1000);
        for i in 0..1000 {
            live.push(pcp.alloc(i % 2, &mut buddy).unwrap());
        }
        for (i, addr) in live.into_iter().enumerate() {
            pcp.free(i % 3 % 2, addr, &mut buddy);
        }
        pcp.drain(0, &mut buddy);
        pcp.drain(1, &mut buddy);
        assert_eq!(buddy.free_pages(), buddy.total_pages());
        assert_eq!((pcp.pages.as_ptr(), pcp.pages.capacity()), (ptr, cap));
    }
}
