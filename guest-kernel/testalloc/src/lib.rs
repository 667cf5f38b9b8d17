//! A counting global allocator for host tests that check a hot path
//! allocates nothing (mm's and pagecache's "no allocation after creation"
//! contracts): a test binary installs it with
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: testalloc::CountingAlloc = testalloc::CountingAlloc;
//! ```
//!
//! and measures a closure with [`allocations_during`]. Only the calling
//! thread's allocations count, and only while the closure runs, so the test
//! harness's own threads do not disturb the figure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct CountingAlloc;

thread_local! {
    // `const` thread-locals without destructors need no allocation
    // themselves, so reading them inside the allocator cannot recurse.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation(size: usize) {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|n| n.set(n.get() + 1));
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting only touches thread-local `Cell`s.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: same layout, as the caller promised `GlobalAlloc::alloc`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: `ptr`/`layout` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What the calling thread allocated while a closure ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocations {
    /// Calls to alloc, alloc_zeroed and realloc.
    pub count: u64,
    /// The largest single request, in bytes.
    pub largest: usize,
}

/// Runs `f` and returns this thread's allocations during it (the
/// [`CountingAlloc`] must be the global allocator).
pub fn allocations_during(f: impl FnOnce()) -> Allocations {
    COUNT.with(|n| n.set(0));
    LARGEST.with(|l| l.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    Allocations { count: COUNT.with(|n| n.get()), largest: LARGEST.with(|l| l.get()) }
}
