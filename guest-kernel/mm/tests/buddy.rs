//! BuddyAllocator through its public API, as the kernel uses it.

mod common;

use std::collections::BTreeMap;

use common::{K, M, SEEDS, XorShift64};
use mm::{BuddyAllocator, MAX_ORDER, NR_ORDERS, PAGE_SIZE, PhysRange, order_bytes};

/// Live blocks, start -> (end, order); refuses overlaps.
#[derive(Default)]
struct Live(BTreeMap<u64, (u64, usize)>);

impl Live {
    fn insert(&mut self, addr: u64, order: usize) {
        let end = addr + order_bytes(order);
        if let Some((&prev, &(prev_end, _))) = self.0.range(..=addr).next_back() {
            assert!(
                prev_end <= addr,
                "{addr:#x} overlaps the live block at {prev:#x}..{prev_end:#x}"
            );
        }
        if let Some((&next, _)) = self.0.range(addr..).next() {
            assert!(
                end <= next,
                "{addr:#x}..{end:#x} overlaps the live block at {next:#x}"
            );
        }
        self.0.insert(addr, (end, order));
    }

    fn pages(&self) -> u64 {
        self.0.values().map(|&(_, order)| 1u64 << order).sum()
    }
}

fn inside_one_range(ranges: &[PhysRange], addr: u64, end: u64) -> bool {
    ranges.iter().any(|r| r.start <= addr && end <= r.end)
}

/// Memory with holes and boundaries that are neither 4 MiB nor even page
/// aligned.
fn holey_ranges() -> Vec<PhysRange> {
    vec![
        PhysRange::new(0x1234, 640 * K),            // low memory, odd start
        PhysRange::new(M + 0x3000, 5 * M + 0x7fff), // odd start and end
        PhysRange::new(8 * M, 16 * M),              // aligned
        PhysRange::new(17 * M + 0x1000, 29 * M - 0x2000),
    ]
}

#[test]
fn a_4mib_aligned_range_is_max_order_blocks() {
    let b = BuddyAllocator::new(&[PhysRange::new(4 * M, 12 * M)]);
    let s = b.stats();
    assert_eq!(s.total_pages, 2048);
    assert_eq!(s.free_pages, 2048);
    let mut expected = [0; NR_ORDERS];
    expected[MAX_ORDER] = 2;
    assert_eq!(s.free_blocks, expected);
}

#[test]
fn unaligned_range_is_trimmed_and_cut_into_aligned_blocks() {
    // [0x2001, 0x405fff) trims to pages 3..0x405 (frames 3..1029):
    // 3 | 4-7 | 8-15 | ... | 512-1023 | 1024-1027 | 1028.
    let b = BuddyAllocator::new(&[PhysRange::new(0x2001, 0x40_5fff)]);
    assert_eq!(
        b.ranges().collect::<Vec<_>>(),
        [PhysRange::new(0x3000, 0x40_5000)]
    );
    assert_eq!(b.total_pages(), 1026);
    assert_eq!(b.free_pages(), 1026);
    assert_eq!(b.stats().free_blocks, [2, 0, 2, 1, 1, 1, 1, 1, 1, 1, 0]);
}

#[test]
fn overlapping_touching_and_unsorted_ranges_merge() {
    let b = BuddyAllocator::new(&[
        PhysRange::new(2 * M, 4 * M),
        PhysRange::new(M, 3 * M),
        PhysRange::new(0, 2 * M),
    ]);
    assert_eq!(b.ranges().collect::<Vec<_>>(), [PhysRange::new(0, 4 * M)]);
    assert_eq!(
        b.stats().free_blocks[MAX_ORDER],
        1,
        "one 4 MiB block, not pieces"
    );
}

#[test]
fn no_memory_means_every_allocation_fails() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0x100, 0xf00), PhysRange::new(5 * M, 5 * M)]);
    assert_eq!(b.total_pages(), 0);
    assert_eq!(b.alloc(0), None);
    assert_eq!(b.stats().failures, 1);
}

#[test]
fn orders_above_max_order_are_refused() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 64 * M)]);
    assert_eq!(b.alloc(MAX_ORDER + 1), None);
    assert_eq!(b.alloc(usize::MAX), None);
    assert_eq!(b.free_pages(), b.total_pages());
}

#[test]
fn pages_in_holes_are_never_handed_out_or_merged() {
    // Frames 1, 2 and 5: the buddies of 2 (3) and 5 (4) are in the hole.
    let ranges = [
        PhysRange::new(0x1000, 0x3000),
        PhysRange::new(0x5000, 0x6000),
    ];
    let mut b = BuddyAllocator::new(&ranges);
    assert_eq!(b.stats().free_blocks[0], 3);
    let mut got: Vec<u64> = std::iter::from_fn(|| b.alloc(0)).collect();
    got.sort_unstable();
    assert_eq!(got, [0x1000, 0x2000, 0x5000]);
    for addr in got {
        b.free(addr, 0);
    }
    assert_eq!(b.stats().free_blocks[0], 3);
    assert_eq!(b.stats().merges, 0);
}

#[test]
fn exhaustion_fails_cleanly_and_recovers() {
    let ranges = holey_ranges();
    let mut b = BuddyAllocator::new(&ranges);
    let mut live = Live::default();
    while let Some(addr) = b.alloc(0) {
        assert!(inside_one_range(&ranges, addr, addr + PAGE_SIZE));
        live.insert(addr, 0);
    }
    assert_eq!(
        live.0.len() as u64,
        b.total_pages(),
        "every page, each once"
    );
    assert_eq!(b.free_pages(), 0);
    for order in 0..=MAX_ORDER {
        assert_eq!(b.alloc(order), None);
    }

    // One page back: order 0 works again, order 1 does not.
    let (&addr, _) = live.0.iter().nth(100).unwrap();
    b.free(addr, 0);
    assert_eq!(b.alloc(1), None);
    assert_eq!(b.alloc(0), Some(addr));
}

#[test]
fn a_max_order_block_goes_while_small_pages_remain() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(4 * M, 8 * M + 3 * PAGE_SIZE)]);
    let big = b.alloc(MAX_ORDER).unwrap();
    assert_eq!(big, 4 * M);
    assert_eq!(b.alloc(MAX_ORDER), None);
    assert_eq!(b.alloc(2), None);
    assert_eq!(b.alloc(1), Some(8 * M));
    assert_eq!(b.alloc(0), Some(8 * M + 2 * PAGE_SIZE));
    assert_eq!(b.alloc(0), None);
}

#[test]
fn splits_and_merges_are_counted() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 4 * M)]);
    let before = b.stats();
    let page = b.alloc(0).unwrap();
    assert_eq!(page, 0, "lowest address first");
    let s = b.stats();
    assert_eq!(s.splits, MAX_ORDER as u64);
    assert_eq!(s.free_blocks, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    assert_eq!(s.allocs[0], 1);
    b.free(page, 0);
    let s = b.stats();
    assert_eq!(s.merges, MAX_ORDER as u64);
    assert_eq!(s.frees[0], 1);
    assert_eq!(s.free_blocks, before.free_blocks);
}

/// One randomized run: mixed orders (mostly small), every allocation checked
/// for alignment, placement and overlap, accounting checked throughout, and
/// at the end everything freed must coalesce back to the initial blocks.
fn randomized_run(seed: u64, ranges: &[PhysRange], steps: usize) {
    let mut rng = XorShift64::new(seed);
    let mut b = BuddyAllocator::new(ranges);
    let initial = b.stats();
    let initial_frag = b.fragmentation();
    let mut live = Live::default();
    let mut allocs = [0u64; NR_ORDERS];
    let mut frees = [0u64; NR_ORDERS];

    for _ in 0..steps {
        if rng.chance(55) || live.0.is_empty() {
            // Orders 0..=10, each higher order half as likely.
            let order = (rng.next_u64() | 1 << MAX_ORDER).trailing_zeros() as usize;
            match b.alloc(order) {
                Some(addr) => {
                    let end = addr + order_bytes(order);
                    assert_eq!(
                        addr % order_bytes(order),
                        0,
                        "{addr:#x} misaligned for order {order}"
                    );
                    assert!(
                        inside_one_range(ranges, addr, end),
                        "{addr:#x}..{end:#x} outside RAM"
                    );
                    assert_eq!(b.allocated_order(addr), Some(order));
                    live.insert(addr, order);
                    allocs[order] += 1;
                }
                None => {
                    // Only if no free block of that order or above exists.
                    assert!(b.stats().free_blocks[order..].iter().all(|&n| n == 0));
                }
            }
        } else {
            let (&addr, &(_, order)) = live.0.iter().nth(rng.index(live.0.len())).unwrap();
            live.0.remove(&addr);
            b.free(addr, order);
            frees[order] += 1;
        }
        assert_eq!(b.free_pages() + live.pages(), b.total_pages());
    }

    for (addr, (_, order)) in std::mem::take(&mut live.0) {
        b.free(addr, order);
        frees[order] += 1;
    }
    let end = b.stats();
    assert_eq!(
        end.free_blocks, initial.free_blocks,
        "coalescing restores the initial blocks"
    );
    assert_eq!(b.fragmentation(), initial_frag);
    assert_eq!(end.free_pages, initial.free_pages);
    assert_eq!(end.allocs, allocs);
    assert_eq!(end.frees, frees);
    assert!(end.splits >= end.merges);
}

#[test]
fn randomized_mixed_orders_never_overlap_and_coalesce_back() {
    for seed in SEEDS {
        randomized_run(seed, &holey_ranges(), 6_000);
    }
}

#[test]
fn randomized_under_memory_pressure() {
    // 1 MiB + a bit: allocations fail often, exercising the failure path.
    let ranges = [
        PhysRange::new(0x7000, M + 0x5000),
        PhysRange::new(3 * M, 3 * M + 0x3000),
    ];
    for seed in SEEDS {
        randomized_run(seed, &ranges, 4_000);
    }
}

#[test]
fn freed_blocks_are_reused_first() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 16 * M)]);
    let a = b.alloc(3).unwrap();
    let c = b.alloc(3).unwrap();
    b.free(a, 3);
    assert_eq!(
        b.alloc(3),
        Some(a),
        "LIFO: the block just freed is cache-hot"
    );
    b.free(c, 3);
}

#[test]
#[should_panic(expected = "double free")]
fn double_free_panics() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 8 * M)]);
    let keep = b.alloc(0).unwrap(); // keeps `page` from merging away
    let page = b.alloc(0).unwrap();
    assert_ne!(keep, page);
    b.free(page, 0);
    b.free(page, 0);
}

#[test]
#[should_panic(expected = "not the start of an allocated block")]
fn double_free_after_coalescing_panics() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 8 * M)]);
    let page = b.alloc(0).unwrap();
    let second = b.alloc(0).unwrap();
    b.free(page, 0);
    b.free(second, 0); // merges with `page`
    b.free(second, 0);
}

#[test]
#[should_panic(expected = "allocated with order 2")]
fn free_with_wrong_order_panics() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 8 * M)]);
    let block = b.alloc(2).unwrap();
    b.free(block, 1);
}

#[test]
#[should_panic(expected = "not the start of an allocated block")]
fn free_of_an_address_inside_a_block_panics() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 8 * M)]);
    let block = b.alloc(1).unwrap();
    b.free(block + PAGE_SIZE, 0);
}

#[test]
#[should_panic(expected = "not a page managed by this allocator")]
fn free_of_an_address_in_a_hole_panics() {
    let mut b = BuddyAllocator::new(&holey_ranges());
    b.free(6 * M, 0);
}

#[test]
#[should_panic(expected = "not page aligned")]
fn free_of_an_unaligned_address_panics() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 8 * M)]);
    let page = b.alloc(0).unwrap();
    b.free(page + 8, 0);
}

#[test]
#[should_panic(expected = "double free")]
fn free_of_a_never_allocated_free_block_panics() {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 8 * M)]);
    b.free(4 * M, MAX_ORDER);
}
