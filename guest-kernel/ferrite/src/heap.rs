//! The first kernel heap: a bump allocator over one physical range chosen
//! from the memory map at boot. Freeing only reclaims the most recent
//! allocation (enough for a growing `String`); a buddy + slab allocator
//! replaces this later (DESIGN.md, "ferrite design rules").

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bootinfo::PhysRange;

use crate::phys;

pub struct BumpHeap {
    /// Next free virtual address; 0 before `init`.
    next: AtomicUsize,
    /// One past the last usable virtual address; 0 before `init`, so every
    /// allocation fails until there is a heap.
    end: AtomicUsize,
    start: AtomicUsize,
}

#[global_allocator]
static HEAP: BumpHeap = BumpHeap {
    next: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    start: AtomicUsize::new(0),
};

/// Hands the heap its memory: `range` must be RAM that nothing else uses,
/// inside the direct map. Call once, before the first allocation.
pub fn init(range: PhysRange) {
    let va = phys::phys_to_virt(range.start, range.len())
        .unwrap_or_else(|| panic!("heap {range} is outside the direct map"));
    assert_eq!(HEAP.end.load(Relaxed), 0, "heap initialised twice");
    HEAP.start.store(va as usize, Relaxed);
    HEAP.next.store(va as usize, Relaxed);
    HEAP.end.store((va + range.len()) as usize, Relaxed);
}

/// (bytes in use, bytes in total).
pub fn usage() -> (usize, usize) {
    let start = HEAP.start.load(Relaxed);
    (
        HEAP.next.load(Relaxed) - start,
        HEAP.end.load(Relaxed) - start,
    )
}

// SAFETY: `alloc` hands out disjoint, suitably aligned ranges inside the heap
// region (the compare-exchange advances `next` past each one before it is
// returned, so no two callers get overlapping memory), or null when out of
// memory. `dealloc` only moves `next` back when the freed block is the last
// one handed out, which makes exactly that block's bytes available again.
unsafe impl GlobalAlloc for BumpHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.load(Relaxed);
        loop {
            let Some(start) = next.checked_next_multiple_of(layout.align()) else {
                return ptr::null_mut();
            };
            let Some(end) = start.checked_add(layout.size()) else {
                return ptr::null_mut();
            };
            if end > self.end.load(Relaxed) {
                return ptr::null_mut();
            }
            match self.next.compare_exchange_weak(next, end, Relaxed, Relaxed) {
                Ok(_) => return start as *mut u8,
                Err(current) => next = current,
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block_end = ptr as usize + layout.size();
        // Only the newest block can be given back; a failed exchange means it
        // was not the newest, and its memory stays used until reboot.
        let _ = self
            .next
            .compare_exchange(block_end, ptr as usize, Relaxed, Relaxed);
    }
}
