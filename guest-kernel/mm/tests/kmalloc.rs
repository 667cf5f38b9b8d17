//! Kmalloc (slab caches + large allocations) over a BuddyAllocator.

mod common;

use std::collections::BTreeMap;

use common::{K, M, SEEDS, XorShift64};
use mm::{
    BuddyAllocator, KMALLOC_MAX_CACHE_SIZE, KMALLOC_SIZES, Kmalloc, KmallocStats, MAX_ORDER,
    NR_KMALLOC_CLASSES, PAGE_SIZE, PhysRange, order_bytes,
};

fn pages() -> BuddyAllocator {
    BuddyAllocator::new(&[
        PhysRange::new(0x5000, 24 * M + 0x3000),
        PhysRange::new(32 * M, 48 * M),
    ])
}

fn class_of(size: usize) -> usize {
    KMALLOC_SIZES.iter().position(|&c| c == size).unwrap()
}

/// Live allocations, addr -> (size, align); refuses overlapping ranges.
#[derive(Default)]
struct Live(BTreeMap<u64, (usize, usize)>);

impl Live {
    fn insert(&mut self, addr: u64, size: usize, align: usize) {
        let end = addr + size.max(1) as u64;
        if let Some((&prev, &(prev_size, _))) = self.0.range(..=addr).next_back() {
            assert!(
                prev + prev_size.max(1) as u64 <= addr,
                "{addr:#x} overlaps the object at {prev:#x}"
            );
        }
        if let Some((&next, _)) = self.0.range(addr..).next() {
            assert!(
                end <= next,
                "{addr:#x}..{end:#x} overlaps the object at {next:#x}"
            );
        }
        self.0.insert(addr, (size, align));
    }
}

/// A size distribution like a kernel heap: mostly small, some medium,
/// a few large (up to 64 KiB), with odd sizes and assorted alignments.
fn random_layout(rng: &mut XorShift64) -> (usize, usize) {
    let size = match rng.below(100) {
        0..=59 => rng.below(257) as usize,
        60..=89 => 257 + rng.below(4096) as usize,
        90..=96 => 4096 + rng.below(KMALLOC_MAX_CACHE_SIZE as u64 - 4096 + 1) as usize,
        _ => KMALLOC_MAX_CACHE_SIZE + 1 + rng.below(56 * K) as usize,
    };
    let align = 1usize << rng.below(8); // 1 .. 128
    let align = if rng.chance(3) {
        PAGE_SIZE as usize
    } else {
        align
    };
    (size, align)
}

/// The checks of the brief, on the current state: objects lie in slabs of
/// their class that are allocated buddy blocks; large allocations are
/// allocated buddy blocks; statistics agree with the test's own count.
fn check_placement_and_stats(k: &Kmalloc, pages: &BuddyAllocator, live: &Live) {
    let slabs: BTreeMap<u64, mm::SlabInfo> = k.slabs().map(|s| (s.base, s)).collect();
    for s in slabs.values() {
        assert_eq!(
            pages.allocated_order(s.base),
            Some(s.order),
            "slab {:#x} is not an allocated block",
            s.base
        );
    }
    let mut per_class = [0u64; NR_KMALLOC_CLASSES];
    let (mut large, mut large_pages) = (0u64, 0u64);
    for (&addr, &(size, _)) in &live.0 {
        match slabs.range(..=addr).next_back() {
            Some((&base, s)) if addr < base + order_bytes(s.order) => {
                assert!(
                    s.size >= size.max(1),
                    "{size}-byte object in a {}-byte slab",
                    s.size
                );
                assert_eq!(
                    (addr - base) % s.size as u64,
                    0,
                    "{addr:#x} not at an object boundary"
                );
                per_class[class_of(s.size)] += 1;
            }
            _ => {
                let order = pages
                    .allocated_order(addr)
                    .expect("large allocation is an allocated block");
                assert!(order_bytes(order) >= size as u64);
                large += 1;
                large_pages += 1 << order;
            }
        }
    }
    let st = k.stats();
    check_stats_consistent(&st);
    for (class, c) in st.classes.iter().enumerate() {
        assert_eq!(c.in_use, per_class[class], "class {}", c.size);
        let of_class = || slabs.values().filter(|s| s.size == c.size);
        assert_eq!(of_class().map(|s| s.in_use as u64).sum::<u64>(), c.in_use);
        assert_eq!(of_class().count() as u64, c.slabs);
        assert!(
            of_class().filter(|s| s.in_use == 0).count() <= 1,
            "class {}: two empty slabs",
            c.size
        );
    }
    assert_eq!((st.large.live, st.large.pages), (large, large_pages));
    assert_eq!(st.slab_descriptors, slabs.len());
}

fn check_stats_consistent(st: &KmallocStats) {
    for c in &st.classes {
        assert_eq!(c.allocs - c.frees, c.in_use, "class {}", c.size);
        assert_eq!(c.total_objects, c.slabs * c.objects_per_slab as u64);
        assert!(c.in_use <= c.total_objects);
        // Every slab but the one cached empty slab holds an object.
        assert!(
            c.slabs <= c.in_use + 1,
            "class {}: {} slabs for {} objects",
            c.size,
            c.slabs,
            c.in_use
        );
    }
    assert_eq!(st.large.allocs - st.large.frees, st.large.live);
}

/// Slab pages held now: what the buddy allocator is missing.
fn slab_pages(k: &Kmalloc) -> u64 {
    k.slabs().map(|s| 1u64 << s.order).sum()
}

#[test]
fn objects_are_never_handed_out_twice() {
    for seed in SEEDS {
        let mut rng = XorShift64::new(seed);
        let mut pages = pages();
        let mut k = Kmalloc::new(1024);
        let mut live = Live::default();
        for step in 0..8_000 {
            if rng.chance(58) || live.0.is_empty() {
                let (size, align) = random_layout(&mut rng);
                let addr = k.alloc(size, align, &mut pages).expect("48 MiB is plenty");
                assert_eq!(addr % align as u64, 0, "{addr:#x} not aligned to {align}");
                live.insert(addr, size, align);
            } else {
                let (&addr, &(size, align)) = live.0.iter().nth(rng.index(live.0.len())).unwrap();
                live.0.remove(&addr);
                k.free(addr, size, align, &mut pages);
            }
            if step % 500 == 0 {
                check_placement_and_stats(&k, &pages, &live);
            }
        }
        check_placement_and_stats(&k, &pages, &live);
    }
}

#[test]
fn freeing_everything_returns_all_but_one_empty_slab_per_cache() {
    for seed in SEEDS {
        let mut rng = XorShift64::new(seed);
        let mut pages = pages();
        let total = pages.free_pages();
        let mut k = Kmalloc::new(1024);
        let mut live = Live::default();
        // Two slabs and a bit of every class, then a random mix.
        for c in k.stats().classes {
            for _ in 0..2 * c.objects_per_slab + 1 {
                live.insert(k.alloc(c.size, 8, &mut pages).unwrap(), c.size, 8);
            }
        }
        for _ in 0..3_000 {
            let (size, align) = random_layout(&mut rng);
            live.insert(k.alloc(size, align, &mut pages).unwrap(), size, align);
        }
        assert!(
            k.stats().classes.iter().all(|c| c.slabs > 1),
            "every cache grew past one slab"
        );
        for (addr, (size, align)) in std::mem::take(&mut live.0) {
            k.free(addr, size, align, &mut pages);
        }

        let st = k.stats();
        for c in &st.classes {
            assert_eq!(c.in_use, 0);
            assert_eq!(
                c.slabs, 1,
                "class {}: exactly the one cached empty slab",
                c.size
            );
        }
        assert_eq!(st.large.live, 0);
        let kept: u64 = st.classes.iter().map(|c| 1u64 << c.slab_order).sum();
        assert_eq!(slab_pages(&k), kept);
        assert_eq!(
            pages.free_pages(),
            total - kept,
            "every other page went back"
        );
    }
}

#[test]
fn requests_land_in_the_expected_class() {
    let mut pages = pages();
    let mut k = Kmalloc::new(64);
    let cases = [
        ((1, 1), 8),
        ((0, 1), 8),
        ((9, 8), 16),
        ((65, 8), 96),
        ((65, 64), 128),
        ((100, 4), 128),
        ((129, 64), 192),
        ((600, 512), 1024),
        ((8, 4096), 4096),
        ((8192, 8), 8192),
    ];
    for ((size, align), class_size) in cases {
        let before = k.stats().classes[class_of(class_size)].in_use;
        let addr = k.alloc(size, align, &mut pages).unwrap();
        assert_eq!(addr % align as u64, 0);
        assert_eq!(
            k.stats().classes[class_of(class_size)].in_use,
            before + 1,
            "({size}, {align})"
        );
    }
}

#[test]
fn large_allocations_are_whole_buddy_blocks() {
    let mut pages = pages();
    let mut k = Kmalloc::new(64);
    let free = pages.free_pages();

    let a = k.alloc(KMALLOC_MAX_CACHE_SIZE + 1, 8, &mut pages).unwrap(); // 3 pages -> order 2
    assert_eq!(pages.allocated_order(a), Some(2));
    let b = k.alloc(100 * K as usize, 4096, &mut pages).unwrap(); // 25 pages -> order 5
    assert_eq!(pages.allocated_order(b), Some(5));
    assert_eq!(b % order_bytes(5), 0);
    let c = k.alloc(4 * M as usize, 8, &mut pages).unwrap();
    assert_eq!(pages.allocated_order(c), Some(MAX_ORDER));
    let d = k.alloc(64, 64 * K as usize, &mut pages).unwrap(); // alignment beyond every class
    assert_eq!(d % (64 * K), 0);
    assert_eq!(pages.allocated_order(d), Some(4));

    assert_eq!(
        k.alloc(4 * M as usize + 1, 8, &mut pages),
        None,
        "above MAX_ORDER"
    );
    assert_eq!(
        k.alloc(64, 48, &mut pages),
        None,
        "alignment not a power of two"
    );

    let st = k.stats();
    assert_eq!(
        (st.large.allocs, st.large.live, st.large.pages),
        (4, 4, 4 + 32 + 1024 + 16)
    );
    assert_eq!(st.failures, 2);
    assert!(st.classes.iter().all(|c| c.slabs == 0), "no slab involved");
    assert_eq!(pages.free_pages(), free - st.large.pages);

    k.free(a, KMALLOC_MAX_CACHE_SIZE + 1, 8, &mut pages);
    k.free(b, 100 * K as usize, 4096, &mut pages);
    k.free(c, 4 * M as usize, 8, &mut pages);
    k.free(d, 64, 64 * K as usize, &mut pages);
    assert_eq!(pages.free_pages(), free);
    let st = k.stats();
    assert_eq!((st.large.frees, st.large.live, st.large.pages), (4, 0, 0));
}

#[test]
fn one_empty_slab_is_kept_per_cache() {
    let mut pages = pages();
    let free = pages.free_pages();
    let mut k = Kmalloc::new(64);
    let per_slab = k.stats().classes[class_of(64)].objects_per_slab;
    let objs: Vec<u64> = (0..3 * per_slab)
        .map(|_| k.alloc(64, 8, &mut pages).unwrap())
        .collect();
    assert_eq!(k.stats().classes[class_of(64)].slabs, 3);
    assert_eq!(pages.free_pages(), free - 3);
    for &obj in &objs {
        k.free(obj, 64, 8, &mut pages);
    }
    assert_eq!(k.stats().classes[class_of(64)].slabs, 1);
    assert_eq!(pages.free_pages(), free - 1);

    // The cached slab serves the next allocation without a buddy call.
    let buddy_allocs = pages.stats().allocs;
    k.alloc(64, 8, &mut pages).unwrap();
    assert_eq!(pages.stats().allocs, buddy_allocs);
}

#[test]
fn partly_used_slabs_fill_before_new_ones_start() {
    let mut pages = pages();
    let mut k = Kmalloc::new(64);
    let n = k.stats().classes[class_of(512)].objects_per_slab; // 8 per 4 KiB slab
    let objs: Vec<u64> = (0..2 * n)
        .map(|_| k.alloc(512, 8, &mut pages).unwrap())
        .collect();
    k.free(objs[3], 512, 8, &mut pages);
    assert_eq!(
        k.alloc(512, 8, &mut pages),
        Some(objs[3]),
        "the hole in the full slab is reused"
    );
    assert_eq!(k.stats().classes[class_of(512)].slabs, 2);
}

#[test]
fn running_out_of_slab_descriptors_fails_without_leaking_pages() {
    let mut pages = pages();
    let mut k = Kmalloc::new(2);
    let per_slab = k.stats().classes[class_of(4096)].objects_per_slab;
    for _ in 0..2 * per_slab {
        k.alloc(4096, 4096, &mut pages).unwrap();
    }
    let free = pages.free_pages();
    assert_eq!(k.alloc(4096, 4096, &mut pages), None);
    assert_eq!(
        k.alloc(8, 8, &mut pages),
        None,
        "another class needs a descriptor too"
    );
    assert_eq!(
        pages.free_pages(),
        free,
        "no block taken for a slab that could not be made"
    );
    assert_eq!(k.stats().failures, 2);
    assert!(
        k.alloc(16 * K as usize, 8, &mut pages).is_some(),
        "large allocations need no descriptor"
    );
}

#[test]
fn running_out_of_pages_fails_cleanly() {
    let mut pages = BuddyAllocator::new(&[PhysRange::new(0, 2 * PAGE_SIZE)]);
    let mut k = Kmalloc::new(16);
    let a = k.alloc(2048, 8, &mut pages); // needs a 16 KiB slab
    assert_eq!(a, None);
    let objs: Vec<u64> = std::iter::from_fn(|| k.alloc(1024 - 1, 8, &mut pages)).collect();
    assert_eq!(objs.len(), 8, "one 8 KiB slab of 1024-byte objects");
    assert_eq!(pages.free_pages(), 0);
    for obj in objs {
        k.free(obj, 1024 - 1, 8, &mut pages);
    }
    assert_eq!(pages.free_pages(), 0, "the one empty slab stays cached");
}

#[test]
fn stats_display_has_a_line_per_class() {
    let mut pages = pages();
    let mut k = Kmalloc::new(16);
    k.alloc(100, 8, &mut pages).unwrap();
    let text = k.stats().to_string();
    assert_eq!(text.lines().count(), 1 + NR_KMALLOC_CLASSES + 1);
    assert!(
        text.lines()
            .nth(6)
            .unwrap()
            .trim_start()
            .starts_with("128         1        32      1"),
        "{text}"
    );
    assert!(text.contains("slab descriptors: 1 of 16"), "{text}");
}

#[test]
#[should_panic(expected = "double free")]
fn double_free_of_an_object_panics() {
    let mut pages = pages();
    let mut k = Kmalloc::new(16);
    let a = k.alloc(32, 8, &mut pages).unwrap();
    let _b = k.alloc(32, 8, &mut pages).unwrap(); // keeps the slab alive
    k.free(a, 32, 8, &mut pages);
    k.free(a, 32, 8, &mut pages);
}

#[test]
#[should_panic(expected = "double free")]
fn double_free_of_a_large_allocation_panics() {
    let mut pages = pages();
    let mut k = Kmalloc::new(16);
    let keep = k.alloc(64 * K as usize, 8, &mut pages).unwrap();
    let a = k.alloc(64 * K as usize, 8, &mut pages).unwrap();
    assert_ne!(keep, a);
    k.free(a, 64 * K as usize, 8, &mut pages);
    k.free(a, 64 * K as usize, 8, &mut pages);
}

#[test]
#[should_panic(expected = "not in any slab")]
fn freeing_a_foreign_address_panics() {
    let mut pages = pages();
    let mut k = Kmalloc::new(16);
    k.alloc(32, 8, &mut pages).unwrap();
    k.free(40 * M, 32, 8, &mut pages);
}

#[test]
#[should_panic(expected = "not the start of a 32-byte object")]
fn freeing_an_interior_pointer_panics() {
    let mut pages = pages();
    let mut k = Kmalloc::new(16);
    let a = k.alloc(32, 8, &mut pages).unwrap();
    k.free(a + 8, 32, 8, &mut pages);
}

#[test]
#[should_panic(expected = "its slab holds 64-byte objects")]
fn freeing_with_the_size_of_another_class_panics() {
    let mut pages = pages();
    let mut k = Kmalloc::new(16);
    let a = k.alloc(64, 8, &mut pages).unwrap();
    k.free(a, 128, 8, &mut pages);
}

#[test]
#[should_panic(expected = "it is a slab")]
fn freeing_a_slab_as_a_large_allocation_panics() {
    let mut pages = pages();
    let mut k = Kmalloc::new(16);
    let a = k.alloc(8192, 8, &mut pages).unwrap(); // first object: at the slab base
    k.free(a, 64 * K as usize, 8, &mut pages); // the slab's own order
}
