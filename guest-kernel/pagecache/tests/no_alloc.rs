//! After creation, the page cache and every policy allocate nothing per
//! access: their structures are sized from the capacity at creation.
//!
//! This test binary installs a counting global allocator that counts the
//! allocations the current thread makes while counting is on, and runs
//! each policy, and a `PageCache` over each, through a burst of operations
//! inside that window: hits, misses with evictions, ghost and history hits,
//! read-ahead, invalidations, writes and the manager's epochs.


use pagecache::rng::XorShift64;
use pagecache::{CacheEvent, POLICY_NAMES, PageCache, PageKey, by_name};

#[global_allocator]
static GLOBAL: testalloc::CountingAlloc = testalloc::CountingAlloc;

/// Allocations made by this thread while running `f`.
fn allocations_during(f: impl FnOnce()) -> u64 {
    testalloc::allocations_during(f).count
}

const CAPACITY: usize = 512;
const OPS: u64 = 200_000;

/// A key: half the time from a hot set, else from a range four times the
/// cache (misses, evictions, and keys coming back from ghost lists).
fn key(rng: &mut XorShift64) -> PageKey {
    let block = if rng.below(2) == 0 { rng.below(CAPACITY as u64 / 4) } else { rng.below(CAPACITY as u64 * 4) };
    PageKey::new(rng.below(2) as u32, block)
}

#[test]
fn the_counter_sees_allocations() {
    // Guards against a vacuous pass of the tests below.
    let n = allocations_during(|| drop(std::hint::black_box(Box::new([0u8; 64]))));
    assert_eq!(n, 1);
}

#[test]
fn policies_allocate_nothing_per_access() {
    for name in POLICY_NAMES {
        let mut p = by_name(name, CAPACITY).unwrap();
        let mut rng = XorShift64::new(7);
        let n = allocations_during(|| {
            for i in 0..OPS {
                let k = key(&mut rng);
                match i % 8 {
                    0 => drop(p.prefetch(k)),
                    1 if i % 64 == 1 => drop(p.remove(k)),
                    2 => p.note(CacheEvent::Write { key: k, rewrite: false }),
                    3 if i % 1024 == 3 => p.note(CacheEvent::WriteBack),
                    _ => drop(p.access(k)),
                }
            }
        });
        assert_eq!(n, 0, "{name}: {n} allocations in {OPS} operations");
        assert!(p.stats().evictions > OPS / 4, "{name}: the burst evicted");
    }
}

#[test]
fn the_page_cache_allocates_nothing_per_get_or_insert() {
    for name in POLICY_NAMES {
        let mut c: PageCache<u64> = PageCache::with_policy(name, CAPACITY).unwrap();
        let mut rng = XorShift64::new(8);
        let n = allocations_during(|| {
            for i in 0..OPS {
                let k = key(&mut rng);
                if c.get(k).is_none() {
                    c.insert(k, i);
                    c.note_request(false, 1);
                    let ahead = PageKey::new(k.dev, k.block + 1);
                    if !c.contains(ahead) {
                        c.insert_prefetched(ahead, i);
                    }
                }
                if i % 4 == 0 {
                    c.mark_dirty(k);
                }
                if i % 97 == 0 {
                    c.remove(k);
                }
            }
        });
        assert_eq!(n, 0, "{name}: {n} allocations in {OPS} page-cache operations");
        assert!(c.stats().evictions > OPS / 4, "{name}: the burst evicted");
        assert!(!c.writeback().is_empty(), "{name}: pages were dirtied");
    }
}

/// The largest single allocation each policy and a `PageCache` over it make
/// at creation, for `pages` pages; the payload is as large as ferrite's
/// (`Option<DmaBuf>`: a pointer, a length and an address).
fn largest_allocation(name: &str, pages: usize) -> usize {
    testalloc::allocations_during(|| {
        let cache: PageCache<[u64; 3]> = PageCache::new(by_name(name, pages).expect("a known policy"));
        drop(cache);
    })
    .largest
}

#[test]
fn the_largest_cache_the_kernel_makes_needs_no_block_above_4_mib() {
    // ferrite's buddy allocator hands out at most 4 MiB at once (mm's
    // MAX_ORDER), and the structures are now arrays sized at creation.
    for name in POLICY_NAMES {
        let largest = largest_allocation(name, pagecache::KERNEL_MAX_PAGES);
        assert!(largest <= 4 << 20, "{name} at {} pages: one allocation of {largest} bytes", pagecache::KERNEL_MAX_PAGES);
    }
    // And the cap is as high as that allows: at twice it, LeCaR's nodes do not fit.
    let largest = largest_allocation("lecar", 2 * pagecache::KERNEL_MAX_PAGES);
    assert!(largest > 4 << 20, "lecar at twice the cap needs only {largest} bytes at once: raise KERNEL_MAX_PAGES");
}
