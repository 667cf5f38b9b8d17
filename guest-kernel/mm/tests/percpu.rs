//! PerCpuPages in front of a BuddyAllocator.

mod common;

use std::collections::BTreeSet;

use common::{M, SEEDS, XorShift64};
use mm::{BuddyAllocator, PAGE_SIZE, PerCpuPages, PhysRange};

fn buddy() -> BuddyAllocator {
    BuddyAllocator::new(&[
        PhysRange::new(M, 16 * M),
        PhysRange::new(20 * M + 0x3000, 24 * M),
    ])
}

#[test]
fn the_first_allocation_refills_one_batch() {
    let mut b = buddy();
    let total = b.free_pages();
    let mut pcp = PerCpuPages::new(2, 8, 32);
    let page = pcp.alloc(0, &mut b).unwrap();
    assert_eq!(
        b.free_pages(),
        total - 8,
        "one batch taken from the buddy allocator"
    );
    assert_eq!(pcp.cached(0), 7);
    assert_eq!(pcp.cached(1), 0);
    assert_eq!(b.allocated_order(page), Some(0));

    // The next 7 come from the cache without touching the buddy allocator.
    let allocs = b.stats().allocs[0];
    for _ in 0..7 {
        pcp.alloc(0, &mut b).unwrap();
    }
    assert_eq!(b.stats().allocs[0], allocs);
    assert_eq!(pcp.cached(0), 0);
    pcp.alloc(0, &mut b).unwrap();
    assert_eq!(b.stats().allocs[0], allocs + 8, "second batch");
}

#[test]
fn freeing_at_the_high_watermark_returns_a_batch() {
    let mut b = buddy();
    let total = b.free_pages();
    let (batch, high) = (4, 10);
    let mut pcp = PerCpuPages::new(1, batch, high);
    let pages: Vec<u64> = (0..40).map(|_| b.alloc(0).unwrap()).collect();

    for (i, &page) in pages.iter().enumerate() {
        let before = pcp.cached(0);
        pcp.free(0, page, &mut b);
        let after = pcp.cached(0);
        assert!(after <= high, "cache above its high watermark");
        if before == high {
            assert_eq!(after, high - batch + 1, "page {i}: one batch went back");
        } else {
            assert_eq!(after, before + 1);
        }
        assert_eq!(
            b.free_pages() + (pages.len() - i - 1) as u64 + after as u64,
            total
        );
    }
}

#[test]
fn the_coldest_pages_are_drained_and_the_hottest_reused() {
    let mut b = buddy();
    let mut pcp = PerCpuPages::new(1, 2, 4);
    let pages: Vec<u64> = (0..5).map(|_| b.alloc(0).unwrap()).collect();
    for &page in &pages {
        pcp.free(0, page, &mut b);
    }
    // Freeing the 5th page drained the 2 oldest (pages[0], pages[1]).
    assert_eq!(pcp.cached(0), 3);
    assert_eq!(b.allocated_order(pages[0]), None);
    assert_eq!(b.allocated_order(pages[1]), None);
    assert_eq!(
        pcp.alloc(0, &mut b),
        Some(pages[4]),
        "LIFO: last freed, first reused"
    );
}

#[test]
fn drain_returns_everything() {
    for seed in SEEDS {
        let mut rng = XorShift64::new(seed);
        let mut b = buddy();
        let initial = b.stats().free_blocks;
        let mut pcp = PerCpuPages::new(4, 16, 64);
        let mut live = Vec::new();
        for _ in 0..5_000 {
            let cpu = rng.index(4);
            if rng.chance(60) || live.is_empty() {
                live.push(pcp.alloc(cpu, &mut b).unwrap());
            } else {
                let page = live.swap_remove(rng.index(live.len()));
                pcp.free(cpu, page, &mut b);
            }
        }
        for page in live {
            pcp.free(0, page, &mut b);
        }
        assert!((0..4).map(|cpu| pcp.cached(cpu)).sum::<usize>() > 0);
        for cpu in 0..4 {
            pcp.drain(cpu, &mut b);
            assert_eq!(pcp.cached(cpu), 0);
        }
        assert_eq!(b.free_pages(), b.total_pages());
        assert_eq!(
            b.stats().free_blocks,
            initial,
            "drained pages coalesce back"
        );
    }
}

#[test]
fn no_page_is_handed_out_twice_across_cpus() {
    let ranges: Vec<PhysRange> = buddy().ranges().collect();
    for seed in SEEDS {
        let mut rng = XorShift64::new(seed);
        let mut b = buddy();
        let (ncpus, batch, high) = (3, 6, 20);
        let mut pcp = PerCpuPages::new(ncpus, batch, high);
        let mut live = BTreeSet::new();
        for _ in 0..6_000 {
            let cpu = rng.index(ncpus);
            // Frees land on any CPU, not the one that allocated.
            if rng.chance(52) || live.is_empty() {
                let page = pcp.alloc(cpu, &mut b).unwrap();
                assert_eq!(page % PAGE_SIZE, 0);
                assert!(ranges.iter().any(|r| r.contains(page)));
                assert!(live.insert(page), "{page:#x} handed out twice");
            } else {
                let page = *live.iter().nth(rng.index(live.len())).unwrap();
                live.remove(&page);
                pcp.free(cpu, page, &mut b);
            }
            assert!((0..ncpus).all(|c| pcp.cached(c) <= high));
            let cached: usize = (0..ncpus).map(|c| pcp.cached(c)).sum();
            assert_eq!(
                b.free_pages() + cached as u64 + live.len() as u64,
                b.total_pages()
            );
        }
    }
}

#[test]
fn exhaustion_fails_until_other_cpus_are_drained() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 64 * PAGE_SIZE)]);
    let mut pcp = PerCpuPages::new(2, 8, 16);
    let parked = pcp.alloc(1, &mut b).unwrap(); // CPU 1 now caches 7 pages
    let mut got = vec![parked];
    while let Some(page) = pcp.alloc(0, &mut b) {
        got.push(page);
    }
    assert_eq!(got.len(), 64 - 7);
    assert_eq!(pcp.cached(0), 0);
    assert_eq!(pcp.alloc(0, &mut b), None, "fails again, cleanly");

    pcp.drain(1, &mut b);
    assert!(pcp.alloc(0, &mut b).is_some());
}

#[test]
#[should_panic(expected = "double free")]
fn double_free_into_a_cache_panics() {
    let mut b = buddy();
    let mut pcp = PerCpuPages::new(2, 4, 8);
    let page = pcp.alloc(0, &mut b).unwrap();
    pcp.free(0, page, &mut b);
    pcp.free(1, page, &mut b);
}

#[test]
#[should_panic(expected = "per-CPU page cache")]
fn freeing_a_cached_page_to_the_buddy_allocator_panics() {
    let mut b = buddy();
    let mut pcp = PerCpuPages::new(1, 4, 8);
    let page = pcp.alloc(0, &mut b).unwrap();
    pcp.free(0, page, &mut b);
    b.free(page, 0);
}

#[test]
#[should_panic(expected = "allocated with order 1")]
fn freeing_a_higher_order_block_into_a_cache_panics() {
    let mut b = buddy();
    let mut pcp = PerCpuPages::new(1, 4, 8);
    let block = b.alloc(1).unwrap();
    pcp.free(0, block, &mut b);
}

#[test]
#[should_panic(expected = "batch")]
fn batch_above_high_is_refused() {
    PerCpuPages::new(1, 16, 8);
}
