//! Per-CPU magazines (`CpuCache`) and depots in front of Kmalloc: the
//! hand-offs between the tiers, and real threads (one per "CPU") churning,
//! and allocating on one thread while freeing on another, with every object
//! accounted for at the end.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, mpsc};
use std::thread;

use common::{M, SEEDS, XorShift64};
use mm::{
    BuddyAllocator, CPU_CACHE_MAX_BYTES, CpuCache, Depot, KMALLOC_SIZES, Kmalloc,
    NR_KMALLOC_CLASSES, PhysRange, SlabBacking, magazine_size, slab_class,
};

/// Tiers 2 and 3 behind mutexes, counting how often each is locked.
struct Shared {
    depots: Vec<Mutex<Depot>>,
    slabs: Mutex<(Kmalloc, BuddyAllocator)>,
    depot_locks: AtomicUsize,
    slab_locks: AtomicUsize,
}

impl Shared {
    fn new(depot_magazines: usize) -> Self {
        Self {
            depots: (0..NR_KMALLOC_CLASSES)
                .map(|c| Mutex::new(Depot::new(c, depot_magazines)))
                .collect(),
            slabs: Mutex::new((
                Kmalloc::new(4096),
                BuddyAllocator::new(&[PhysRange::new(M, 257 * M)]),
            )),
            depot_locks: AtomicUsize::new(0),
            slab_locks: AtomicUsize::new(0),
        }
    }

    fn locks(&self) -> (usize, usize) {
        (
            self.depot_locks.load(Relaxed),
            self.slab_locks.load(Relaxed),
        )
    }

    /// Drains `caches` and every depot, then checks that no object is in use
    /// and every page is back in the buddy allocator.
    fn drain_and_check_empty(&self, caches: &mut [CpuCache]) {
        for cache in caches.iter_mut() {
            cache.drain(self);
            assert_eq!(cache.cached_bytes(), 0);
        }
        for depot in &self.depots {
            let mut depot = depot.lock().unwrap();
            let (kmalloc, pages) = &mut *self.slabs.lock().unwrap();
            depot.drain(kmalloc, pages);
            assert_eq!(depot.cached(), 0);
        }
        let (kmalloc, pages) = &*self.slabs.lock().unwrap();
        let stats = kmalloc.stats();
        for c in &stats.classes {
            assert_eq!(c.in_use, 0, "class {}: objects lost", c.size);
            assert!(
                c.slabs <= 1,
                "class {}: only the cached empty slab stays",
                c.size
            );
        }
        let cached_slab_pages: u64 = stats.classes.iter().map(|c| c.slabs << c.slab_order).sum();
        assert_eq!(pages.free_pages() + cached_slab_pages, pages.total_pages());
    }
}

impl SlabBacking for Shared {
    fn with_depot<R>(&self, class: usize, f: impl FnOnce(&mut Depot) -> R) -> R {
        self.depot_locks.fetch_add(1, Relaxed);
        f(&mut self.depots[class].lock().unwrap())
    }

    fn with_slabs<R>(&self, f: impl FnOnce(&mut Kmalloc, &mut BuddyAllocator) -> R) -> R {
        self.slab_locks.fetch_add(1, Relaxed);
        let (kmalloc, pages) = &mut *self.slabs.lock().unwrap();
        f(kmalloc, pages)
    }
}

const CLASS_64: usize = 3;

#[test]
fn magazine_sizes_and_the_per_cpu_bound_are_as_documented() {
    assert_eq!(KMALLOC_SIZES[CLASS_64], 64);
    let sizes: Vec<usize> = (0..NR_KMALLOC_CLASSES).map(magazine_size).collect();
    assert_eq!(sizes, [60, 60, 60, 60, 60, 60, 60, 60, 27, 27, 12, 12, 4]);
    assert_eq!(CPU_CACHE_MAX_BYTES, 390_976); // "about 380 KiB"
    assert_eq!(slab_class(64, 8), Some(CLASS_64));
    assert_eq!(slab_class(8193, 8), None);
}

#[test]
fn a_cpu_serves_from_its_magazines_without_locking() {
    let shared = Shared::new(4);
    let mut cache = CpuCache::new();
    let size = magazine_size(CLASS_64);
    let first = cache.alloc(CLASS_64, &shared).unwrap();
    assert_eq!(
        shared.locks(),
        (1, 1),
        "empty depot, then one magazine from the slabs"
    );
    assert_eq!(cache.cached(CLASS_64), size - 1);

    // Alloc/free ping-pong stays in the loaded magazine.
    cache.free(CLASS_64, first, &shared);
    for _ in 0..10_000 {
        let a = cache.alloc(CLASS_64, &shared).unwrap();
        cache.free(CLASS_64, a, &shared);
    }
    assert_eq!(shared.locks(), (1, 1));
    assert_eq!(cache.stats().allocs, 10_001);

    // Two magazines' worth can be freed and reallocated without a lock.
    let objects: Vec<u64> = (0..size)
        .map(|_| cache.alloc(CLASS_64, &shared).unwrap())
        .collect();
    let locks = shared.locks();
    for &o in &objects {
        cache.free(CLASS_64, o, &shared);
    }
    assert_eq!(cache.cached(CLASS_64), size);
    let more: Vec<u64> = (0..size)
        .map(|_| cache.alloc(CLASS_64, &shared).unwrap())
        .collect();
    assert_eq!(cache.cached(CLASS_64), 0);
    for &o in &more {
        cache.free(CLASS_64, o, &shared);
    }
    assert!(shared.locks().1 <= locks.1 + 1);
    let mut caches = [cache];
    shared.drain_and_check_empty(&mut caches);
}

#[test]
fn full_magazines_go_through_the_depot_from_the_freeing_cpu_to_the_allocating_one() {
    let shared = Shared::new(4);
    let (mut producer, mut consumer) = (CpuCache::new(), CpuCache::new());
    let size = magazine_size(CLASS_64);
    // Warm up: the producer's magazines come from the slabs.
    let rounds = 50;
    for _ in 0..rounds {
        let batch: Vec<u64> = (0..size)
            .map(|_| producer.alloc(CLASS_64, &shared).unwrap())
            .collect();
        for o in batch {
            consumer.free(CLASS_64, o, &shared);
        }
    }
    let (p, c) = (producer.stats(), consumer.stats());
    assert_eq!(
        c.slab_flushes, 0,
        "the depot had room for every full magazine"
    );
    assert!(c.depot_puts >= rounds - 3, "{c:?}");
    assert!(p.depot_gets >= rounds - 5, "{p:?}");
    assert!(p.slab_fills <= 5, "{p:?}");
    // Locks: about one per magazine on each side, never per object.
    let (depot, slabs) = shared.locks();
    assert!(
        depot <= 2 * rounds as usize + 4 && slabs <= 6,
        "{depot} {slabs}"
    );
    shared.drain_and_check_empty(&mut [producer, consumer]);
}

#[test]
fn a_full_depot_sends_magazines_back_to_the_slabs() {
    let shared = Shared::new(1);
    let (mut producer, mut consumer) = (CpuCache::new(), CpuCache::new());
    let objects: Vec<u64> = (0..10 * magazine_size(CLASS_64))
        .map(|_| producer.alloc(CLASS_64, &shared).unwrap())
        .collect();
    for o in objects {
        consumer.free(CLASS_64, o, &shared);
    }
    assert!(consumer.stats().slab_flushes >= 6, "{:?}", consumer.stats());
    assert_eq!(
        shared.depots[CLASS_64].lock().unwrap().cached(),
        magazine_size(CLASS_64)
    );
    shared.drain_and_check_empty(&mut [producer, consumer]);
}

#[test]
fn running_out_of_pages_is_a_none_not_a_panic() {
    let shared = Shared {
        slabs: Mutex::new((
            Kmalloc::new(64),
            BuddyAllocator::new(&[PhysRange::new(M, M + 3 * 4096)]),
        )),
        ..Shared::new(2)
    };
    let mut cache = CpuCache::new();
    let class_4k = slab_class(4096, 8).unwrap();
    // 4 KiB objects live in 32 KiB slabs: three pages cannot hold one.
    assert_eq!(cache.alloc(class_4k, &shared), None);
    let n = (0..)
        .take_while(|_| cache.alloc(CLASS_64, &shared).is_some())
        .count();
    assert_eq!(n, 3 * 64, "three 4 KiB slabs of 64-byte objects");
    assert!(shared.slabs.lock().unwrap().0.stats().failures >= 2);
}

#[test]
#[should_panic(expected = "double free")]
fn freeing_the_same_object_twice_in_a_row_panics_at_once() {
    let shared = Shared::new(1);
    let mut cache = CpuCache::new();
    let a = cache.alloc(CLASS_64, &shared).unwrap();
    cache.free(CLASS_64, a, &shared);
    cache.free(CLASS_64, a, &shared);
}

#[test]
#[should_panic(expected = "double free")]
fn a_later_double_free_panics_when_the_object_reaches_its_slab() {
    let shared = Shared::new(1);
    let mut cache = CpuCache::new();
    let (a, b) = (
        cache.alloc(CLASS_64, &shared).unwrap(),
        cache.alloc(CLASS_64, &shared).unwrap(),
    );
    cache.free(CLASS_64, a, &shared);
    cache.free(CLASS_64, b, &shared);
    cache.free(CLASS_64, a, &shared);
    cache.drain(&shared);
}

/// Who holds what, sharded so that the check itself does not serialise the
/// threads: an address held twice is a duplicated object.
struct Owners(Vec<Mutex<HashSet<u64>>>);

impl Owners {
    fn new() -> Self {
        Self((0..64).map(|_| Mutex::new(HashSet::new())).collect())
    }

    fn shard(&self, addr: u64) -> &Mutex<HashSet<u64>> {
        &self.0[(addr.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize]
    }

    fn take(&self, addr: u64) {
        assert!(
            self.shard(addr).lock().unwrap().insert(addr),
            "{addr:#x} handed out twice"
        );
    }

    fn give(&self, addr: u64) {
        assert!(
            self.shard(addr).lock().unwrap().remove(&addr),
            "{addr:#x} freed but not held"
        );
    }
}

/// A request size of class `class`, not always the class size itself.
fn size_in(class: usize, rng: &mut XorShift64) -> usize {
    KMALLOC_SIZES[class] - rng.index(KMALLOC_SIZES[class].min(8))
}

#[test]
fn threads_churning_on_their_own_caches_neither_lose_nor_duplicate_objects() {
    const THREADS: usize = 4;
    for seed in SEEDS {
        let shared = Shared::new(2);
        let owners = Owners::new();
        let caches: Vec<CpuCache> = thread::scope(|s| {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (shared, owners) = (&shared, &owners);
                    s.spawn(move || {
                        let mut rng = XorShift64::new(seed.wrapping_add(t as u64 * 7919));
                        let mut cache = CpuCache::new();
                        let mut live: Vec<(u64, usize)> = Vec::new();
                        for _ in 0..20_000 {
                            if live.len() < 400 && (live.is_empty() || rng.chance(55)) {
                                let class =
                                    slab_class(size_in(rng.index(NR_KMALLOC_CLASSES), &mut rng), 8)
                                        .unwrap();
                                let addr = cache.alloc(class, shared).expect("256 MiB is enough");
                                owners.take(addr);
                                live.push((addr, class));
                            } else {
                                let (addr, class) = live.swap_remove(rng.index(live.len()));
                                owners.give(addr);
                                cache.free(class, addr, shared);
                            }
                        }
                        for (addr, class) in live {
                            owners.give(addr);
                            cache.free(class, addr, shared);
                        }
                        cache
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut caches = caches;
        shared.drain_and_check_empty(&mut caches);
    }
}

#[test]
fn objects_allocated_on_one_thread_and_freed_on_another_all_come_back() {
    for seed in SEEDS {
        let shared = Shared::new(2);
        let owners = Owners::new();
        let (tx, rx) = mpsc::sync_channel::<(u64, usize)>(256);
        let (producer, consumer) = thread::scope(|s| {
            let (shared, owners) = (&shared, &owners);
            let producer = s.spawn(move || {
                let mut rng = XorShift64::new(seed);
                let mut cache = CpuCache::new();
                for _ in 0..50_000 {
                    let class = rng.index(NR_KMALLOC_CLASSES);
                    let addr = cache.alloc(class, shared).unwrap();
                    owners.take(addr);
                    tx.send((addr, class)).unwrap();
                }
                cache
            });
            let consumer = s.spawn(move || {
                let mut cache = CpuCache::new();
                for (addr, class) in rx {
                    owners.give(addr);
                    cache.free(class, addr, shared);
                }
                cache
            });
            (producer.join().unwrap(), consumer.join().unwrap())
        });
        let (p, c) = (producer.stats(), consumer.stats());
        assert_eq!(p.allocs, 50_000);
        assert_eq!(c.frees, 50_000);
        assert!(p.depot_gets > 0 && c.depot_puts > 0, "{p:?} {c:?}");
        shared.drain_and_check_empty(&mut [producer, consumer]);
    }
}
