//! Per-CPU page caches (`PageCache`) in front of a BuddyAllocator: batches,
//! watermarks, LIFO reuse, draining, the checks, and real threads (one per
//! "CPU") allocating on one and freeing on another.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashSet};
use std::sync::{Mutex, mpsc};
use std::thread;

use common::{M, SEEDS, XorShift64};
use mm::{BuddyAllocator, PAGE_SIZE, PageBacking, PageCache, PhysRange};

fn buddy() -> BuddyAllocator {
    BuddyAllocator::new(&[
        PhysRange::new(M, 16 * M),
        PhysRange::new(20 * M + 0x3000, 24 * M),
    ])
}

/// The buddy allocator behind the "allocator lock", counting how often the
/// caches take it.
struct Locked {
    buddy: RefCell<BuddyAllocator>,
    locks: Cell<usize>,
}

impl Locked {
    fn new(buddy: BuddyAllocator) -> Self {
        Self { buddy: RefCell::new(buddy), locks: Cell::new(0) }
    }

    /// The buddy allocator, not counted as the caches' lock.
    fn buddy<R>(&self, f: impl FnOnce(&mut BuddyAllocator) -> R) -> R {
        f(&mut self.buddy.borrow_mut())
    }
}

impl PageBacking for Locked {
    fn with_pages<R>(&self, f: impl FnOnce(&mut BuddyAllocator) -> R) -> R {
        self.locks.set(self.locks.get() + 1);
        self.buddy(f)
    }
}

#[test]
fn the_first_allocation_refills_one_batch_and_the_rest_take_no_lock() {
    let b = Locked::new(buddy());
    let total = b.buddy(|b| b.free_pages());
    let mut pcp = PageCache::new(8, 32);
    pcp.alloc(&b).unwrap();
    assert_eq!(b.buddy(|b| b.free_pages()), total - 8, "one batch taken");
    assert_eq!(pcp.cached(), 7);
    assert_eq!(b.locks.get(), 1);
    for _ in 0..7 {
        pcp.alloc(&b).unwrap();
    }
    assert_eq!(b.locks.get(), 1, "served from the cache");
    assert_eq!(pcp.cached(), 0);
    pcp.alloc(&b).unwrap();
    assert_eq!(b.locks.get(), 2, "second batch");
    assert_eq!(b.buddy(|b| b.free_pages()), total - 16);
}

#[test]
fn freeing_at_the_high_watermark_returns_a_batch() {
    let b = Locked::new(buddy());
    let total = b.buddy(|b| b.free_pages());
    let (batch, high) = (4, 10);
    let mut pcp = PageCache::new(batch, high);
    let pages: Vec<u64> = (0..40).map(|_| b.buddy(|b| b.alloc(0).unwrap())).collect();
    for (i, &page) in pages.iter().enumerate() {
        let before = pcp.cached();
        pcp.free(page, &b);
        let after = pcp.cached();
        assert!(after <= high, "cache above its high watermark");
        if before == high {
            assert_eq!(after, high - batch + 1, "page {i}: one batch went back");
        } else {
            assert_eq!(after, before + 1);
        }
        assert_eq!(
            b.buddy(|b| b.free_pages()) + (pages.len() - i - 1) as u64 + after as u64,
            total
        );
    }
}

#[test]
fn the_coldest_pages_are_drained_and_the_hottest_reused() {
    let b = Locked::new(buddy());
    let mut pcp = PageCache::new(2, 4);
    let pages: Vec<u64> = (0..5).map(|_| b.buddy(|b| b.alloc(0).unwrap())).collect();
    for &page in &pages {
        pcp.free(page, &b);
    }
    // Freeing the 5th page drained the 2 oldest (pages[0], pages[1]).
    assert_eq!(pcp.cached(), 3);
    assert_eq!(b.buddy(|b| b.allocated_order(pages[0])), None);
    assert_eq!(b.buddy(|b| b.allocated_order(pages[1])), None);
    assert_eq!(pcp.alloc(&b), Some(pages[4]), "LIFO: last freed, first reused");
}

#[test]
fn drain_returns_everything() {
    for seed in SEEDS {
        let mut rng = XorShift64::new(seed);
        let b = Locked::new(buddy());
        let initial = b.buddy(|b| b.stats().free_blocks);
        let mut cpus: Vec<PageCache> = (0..4).map(|_| PageCache::new(16, 64)).collect();
        let mut live = Vec::new();
        for _ in 0..5_000 {
            let cpu = rng.index(4);
            if rng.chance(60) || live.is_empty() {
                live.push(cpus[cpu].alloc(&b).unwrap());
            } else {
                let page = live.swap_remove(rng.index(live.len()));
                cpus[cpu].free(page, &b);
            }
        }
        for page in live {
            cpus[0].free(page, &b);
        }
        assert!(cpus.iter().map(PageCache::cached).sum::<usize>() > 0);
        for pcp in &mut cpus {
            b.buddy(|b| pcp.drain(b));
            assert_eq!(pcp.cached(), 0);
        }
        b.buddy(|b| {
            assert_eq!(b.free_pages(), b.total_pages());
            assert_eq!(b.stats().free_blocks, initial, "drained pages coalesce back");
        });
    }
}

#[test]
fn no_page_is_handed_out_twice_across_cpus() {
    let ranges: Vec<PhysRange> = buddy().ranges().collect();
    for seed in SEEDS {
        let mut rng = XorShift64::new(seed);
        let b = Locked::new(buddy());
        let (ncpus, batch, high) = (3, 6, 20);
        let mut cpus: Vec<PageCache> = (0..ncpus).map(|_| PageCache::new(batch, high)).collect();
        let mut live = BTreeSet::new();
        for _ in 0..6_000 {
            let cpu = rng.index(ncpus);
            // Frees land on any CPU, not the one that allocated.
            if rng.chance(52) || live.is_empty() {
                let page = cpus[cpu].alloc(&b).unwrap();
                assert_eq!(page % PAGE_SIZE, 0);
                assert!(ranges.iter().any(|r| r.contains(page)));
                assert!(live.insert(page), "{page:#x} handed out twice");
            } else {
                let page = *live.iter().nth(rng.index(live.len())).unwrap();
                live.remove(&page);
                cpus[cpu].free(page, &b);
            }
            assert!(cpus.iter().all(|c| c.cached() <= high));
            let cached: usize = cpus.iter().map(PageCache::cached).sum();
            b.buddy(|b| assert_eq!(b.free_pages() + cached as u64 + live.len() as u64, b.total_pages()));
        }
    }
}

#[test]
fn exhaustion_fails_until_other_cpus_are_drained() {
    let b = Locked::new(BuddyAllocator::new(&[PhysRange::new(0, 64 * PAGE_SIZE)]));
    let (mut cpu0, mut cpu1) = (PageCache::new(8, 16), PageCache::new(8, 16));
    let parked = cpu1.alloc(&b).unwrap(); // CPU 1 now caches 7 pages
    let mut got = vec![parked];
    while let Some(page) = cpu0.alloc(&b) {
        got.push(page);
    }
    assert_eq!(got.len(), 64 - 7);
    assert_eq!(cpu0.cached(), 0);
    assert_eq!(cpu0.alloc(&b), None, "fails again, cleanly");

    b.buddy(|b| cpu1.drain(b));
    assert!(cpu0.alloc(&b).is_some());
}

#[test]
#[should_panic(expected = "double free")]
fn freeing_a_page_twice_in_a_row_panics_at_once() {
    let b = Locked::new(buddy());
    let mut pcp = PageCache::new(4, 8);
    let page = pcp.alloc(&b).unwrap();
    pcp.free(page, &b);
    pcp.free(page, &b);
}

#[test]
#[should_panic(expected = "double free")]
fn a_page_freed_into_two_caches_panics_when_drained() {
    let b = Locked::new(buddy());
    let (mut cpu0, mut cpu1) = (PageCache::new(4, 8), PageCache::new(4, 8));
    let page = cpu0.alloc(&b).unwrap();
    cpu0.free(page, &b);
    cpu1.free(page, &b);
    b.buddy(|b| {
        cpu0.drain(b);
        cpu1.drain(b);
    });
}

#[test]
#[should_panic(expected = "per-CPU page cache")]
fn freeing_a_cache_page_to_the_buddy_allocator_panics() {
    let b = Locked::new(buddy());
    let mut pcp = PageCache::new(4, 8);
    let page = pcp.alloc(&b).unwrap();
    b.buddy(|b| b.free(page, 0));
}

#[test]
#[should_panic(expected = "allocated with order 1")]
fn a_higher_order_block_freed_into_a_cache_panics_when_drained() {
    let b = Locked::new(buddy());
    let mut pcp = PageCache::new(4, 8);
    let block = b.buddy(|b| b.alloc(1).unwrap());
    pcp.free(block, &b);
    b.buddy(|b| pcp.drain(b));
}

#[test]
#[should_panic(expected = "batch")]
fn batch_above_high_is_refused() {
    PageCache::new(16, 8);
}

/// The allocator lock, for real threads.
struct Shared(Mutex<BuddyAllocator>);

impl PageBacking for Shared {
    fn with_pages<R>(&self, f: impl FnOnce(&mut BuddyAllocator) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

#[test]
fn pages_allocated_on_one_thread_and_freed_on_another_all_come_back() {
    for seed in SEEDS {
        let shared = Shared(Mutex::new(buddy()));
        let seen = Mutex::new(HashSet::new());
        let (tx, rx) = mpsc::sync_channel::<u64>(64);
        let (producer, consumer) = thread::scope(|s| {
            let (shared, seen) = (&shared, &seen);
            let producer = s.spawn(move || {
                let mut rng = XorShift64::new(seed);
                let mut cache = PageCache::new(31, 186);
                let mut mine = Vec::new();
                for _ in 0..20_000 {
                    let page = cache.alloc(shared).unwrap();
                    assert!(seen.lock().unwrap().insert(page), "{page:#x} handed out twice");
                    // Some pages come back here, the rest go to the other thread.
                    if rng.chance(30) {
                        mine.push(page);
                    } else {
                        tx.send(page).unwrap();
                    }
                    if mine.len() > 40 {
                        for page in mine.drain(..) {
                            assert!(seen.lock().unwrap().remove(&page));
                            cache.free(page, shared);
                        }
                    }
                }
                for page in mine {
                    assert!(seen.lock().unwrap().remove(&page));
                    cache.free(page, shared);
                }
                cache
            });
            let consumer = s.spawn(move || {
                let mut cache = PageCache::new(31, 186);
                for page in rx {
                    assert!(seen.lock().unwrap().remove(&page), "{page:#x} freed but not held");
                    cache.free(page, shared);
                }
                cache
            });
            (producer.join().unwrap(), consumer.join().unwrap())
        });
        let buddy = &mut *shared.0.lock().unwrap();
        for mut cache in [producer, consumer] {
            assert!(cache.cached() <= cache.high());
            cache.drain(buddy);
        }
        assert_eq!(buddy.free_pages(), buddy.total_pages(), "every page back");
    }
}
