//! The crate's contract (lib.rs, "The no-allocation contract"): after
//! construction, allocating and freeing pages and objects never allocates
//! through `alloc`, because in the kernel `alloc` *is* this allocator.
//!
//! This test binary installs a counting global allocator that counts the
//! allocations made by the current thread while counting is switched on,
//! and runs a burst of buddy, per-CPU and kmalloc operations (including the
//! slow paths: slab creation and release, per-CPU refill and drain, large
//! allocations, failures, statistics) inside that window.

mod common;

use std::fmt::Write as _;

use common::{M, XorShift64};
use mm::{
    BuddyAllocator, CpuCache, Depot, KMALLOC_SIZES, Kmalloc, NR_KMALLOC_CLASSES, PageBacking, PageCache,
    PhysRange, SlabBacking,
};

#[global_allocator]
static GLOBAL: testalloc::CountingAlloc = testalloc::CountingAlloc;

/// Allocations made by this thread while running `f`.
fn allocations_during(f: impl FnOnce()) -> u64 {
    testalloc::allocations_during(f).count
}

/// A `fmt::Write` sink into a fixed buffer: formatting the reports must not
/// allocate either, but a `String` would.
struct Sink {
    buf: [u8; 4096],
    len: usize,
}

impl std::fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Guards against a vacuous pass of the test below.
    let n = allocations_during(|| drop(std::hint::black_box(Box::new([0u8; 64]))));
    assert_eq!(n, 1);
}

#[test]
fn alloc_and_free_never_allocate_after_construction() {
    // Construction allocates (the bump allocator's job in the kernel).
    let mut pages = BuddyAllocator::new(&[
        PhysRange::new(0x3000, 40 * M),
        PhysRange::new(64 * M, 80 * M),
    ]);
    let mut kmalloc = Kmalloc::new(512);
    // Test-side bookkeeping, preallocated too so it stays out of the count.
    let mut objects: Vec<(u64, usize, usize)> = Vec::with_capacity(20_000);
    let mut blocks: Vec<(u64, usize)> = Vec::with_capacity(20_000);
    let mut sink = Sink {
        buf: [0; 4096],
        len: 0,
    };
    let mut rng = XorShift64::new(0x5eed);

    let n = allocations_during(|| {
        for _ in 0..20_000 {
            match rng.below(4) {
                0 | 1 => {
                    let size = KMALLOC_SIZES[rng.index(KMALLOC_SIZES.len())] - rng.index(8);
                    let size = if rng.chance(5) {
                        9_000 + rng.index(40_000)
                    } else {
                        size
                    };
                    let align = 1 << rng.below(7);
                    if let Some(addr) = kmalloc.alloc(size, align, &mut pages) {
                        objects.push((addr, size, align));
                    }
                }
                2 if !objects.is_empty() => {
                    let (addr, size, align) = objects.swap_remove(rng.index(objects.len()));
                    kmalloc.free(addr, size, align, &mut pages);
                }
                3 => {
                    let order = rng.index(5);
                    if let Some(addr) = pages.alloc(order) {
                        blocks.push((addr, order));
                    }
                    if !blocks.is_empty() && rng.chance(50) {
                        let (addr, order) = blocks.swap_remove(rng.index(blocks.len()));
                        pages.free(addr, order);
                    }
                }
                _ => {}
            }
        }
        // Failures (too big, bad alignment) and the reporting paths.
        assert!(kmalloc.alloc(1 << 30, 8, &mut pages).is_none());
        assert!(kmalloc.alloc(8, 3, &mut pages).is_none());
        assert!(pages.alloc(99).is_none());
        let _ = write!(
            sink,
            "{}{}{}",
            pages.stats(),
            pages.fragmentation(),
            kmalloc.stats()
        );
        // Free everything: the slab release paths.
        for (addr, size, align) in objects.drain(..) {
            kmalloc.free(addr, size, align, &mut pages);
        }
        for (addr, order) in blocks.drain(..) {
            pages.free(addr, order);
        }
    });

    assert_eq!(n, 0, "the hot paths allocated {n} times");
    // The burst did real work.
    let st = kmalloc.stats();
    assert!(st.classes.iter().map(|c| c.allocs).sum::<u64>() > 5_000);
    assert!(st.large.allocs > 100);
    assert!(sink.len > 1000);
    assert!(pages.stats().merges > 1000);
}

/// Depots and slabs for one thread (the kernel locks them; no lock needed here).
struct Local {
    depots: Vec<std::cell::RefCell<Depot>>,
    slabs: std::cell::RefCell<(Kmalloc, BuddyAllocator)>,
}

impl PageBacking for Local {
    fn with_pages<R>(&self, f: impl FnOnce(&mut BuddyAllocator) -> R) -> R {
        f(&mut self.slabs.borrow_mut().1)
    }
}

impl SlabBacking for Local {
    fn with_depot<R>(&self, class: usize, f: impl FnOnce(&mut Depot) -> R) -> R {
        f(&mut self.depots[class].borrow_mut())
    }

    fn with_slabs<R>(&self, f: impl FnOnce(&mut Kmalloc, &mut BuddyAllocator) -> R) -> R {
        let (kmalloc, pages) = &mut *self.slabs.borrow_mut();
        f(kmalloc, pages)
    }
}

#[test]
fn per_cpu_magazines_depots_and_page_caches_never_allocate_after_construction() {
    let backing = Local {
        depots: (0..NR_KMALLOC_CLASSES)
            .map(|c| Depot::new(c, 2).into())
            .collect(),
        slabs: (
            Kmalloc::new(512),
            BuddyAllocator::new(&[PhysRange::new(M, 64 * M)]),
        )
            .into(),
    };
    let mut cpus = [CpuCache::new(), CpuCache::new()];
    let mut page_caches = [PageCache::new(16, 64), PageCache::new(16, 64)];
    let mut live: Vec<(u64, usize)> = Vec::with_capacity(20_000);
    let mut pages: Vec<u64> = Vec::with_capacity(20_000);
    let mut rng = XorShift64::new(0xcafe);
    let n = allocations_during(|| {
        for _ in 0..20_000 {
            // Allocate on one "CPU", free on either: magazines swap, go to
            // the depots and, when those are full, back to the slabs.
            let cpu = rng.index(2);
            // Pages: allocated on CPU 0, freed on either.
            if pages.len() < 500 && rng.chance(50) {
                pages.push(page_caches[0].alloc(&backing).unwrap());
            } else if let Some(page) = pages.pop() {
                page_caches[cpu].free(page, &backing);
            }
            if live.len() < 2_000 && (live.is_empty() || rng.chance(60)) {
                let class = rng.index(NR_KMALLOC_CLASSES);
                live.push((cpus[0].alloc(class, &backing).unwrap(), class));
            } else {
                let (addr, class) = live.swap_remove(rng.index(live.len()));
                cpus[cpu].free(class, addr, &backing);
            }
        }
        for (addr, class) in live.drain(..) {
            cpus[1].free(class, addr, &backing);
        }
        for page in pages.drain(..) {
            page_caches[1].free(page, &backing);
        }
        for cpu in &mut cpus {
            cpu.drain(&backing);
        }
        let (kmalloc, buddy) = &mut *backing.slabs.borrow_mut();
        for depot in &backing.depots {
            depot.borrow_mut().drain(kmalloc, buddy);
        }
        for cache in &mut page_caches {
            cache.drain(buddy);
        }
    });
    assert_eq!(
        n, 0,
        "per-CPU caches allocated {n} times after construction"
    );
    let stats = cpus[1].stats();
    assert!(stats.depot_puts > 0 && stats.slab_flushes > 0, "{stats:?}");
}
