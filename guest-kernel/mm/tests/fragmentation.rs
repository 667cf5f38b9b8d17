//! The fragmentation report on hand-made scenarios with known numbers,
//! computed as Linux's unusable_free_index():
//! (free pages - pages in free blocks of order >= n) * 1000 / free pages.

mod common;

use common::M;
use mm::{BuddyAllocator, MAX_ORDER, NR_ORDERS, PAGE_SIZE, PhysRange};

#[test]
fn fresh_aligned_memory_has_no_fragmentation() {
    let b = BuddyAllocator::new(&[PhysRange::new(0, 8 * M)]);
    let r = b.fragmentation();
    assert_eq!(r.free_pages, 2048);
    assert_eq!(r.unusable_index, [0; NR_ORDERS]);
}

#[test]
fn one_page_taken_from_a_4mib_block() {
    // Splitting leaves one free block of each order 0..=9: 1023 pages.
    // unusable(n) = (2^n - 1) * 1000 / 1023, rounded down; no order-10 block.
    let mut b = BuddyAllocator::new(&[PhysRange::new(4 * M, 8 * M)]);
    b.alloc(0).unwrap();
    let r = b.fragmentation();
    assert_eq!(r.free_pages, 1023);
    assert_eq!(r.free_blocks, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    assert_eq!(
        r.unusable_index,
        [0, 0, 2, 6, 14, 30, 61, 124, 249, 499, 1000]
    );
}

/// Allocates a whole 4 MiB block page by page, then frees chosen pages so
/// that exactly these free blocks form: four isolated pages (0, 2, 4, 6),
/// two order-2 blocks (pages 16-19, 32-35) and one order-4 block (64-79).
/// 4 + 8 + 16 = 28 free pages.
fn mixed_scenario() -> BuddyAllocator {
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 4 * M)]);
    let pages: Vec<u64> = (0..1024).map(|_| b.alloc(0).unwrap()).collect();
    assert!(
        pages
            .iter()
            .enumerate()
            .all(|(i, &a)| a == i as u64 * PAGE_SIZE),
        "address order"
    );
    let free: Vec<usize> = [0, 2, 4, 6]
        .into_iter()
        .chain(16..20)
        .chain(32..36)
        .chain(64..80)
        .collect();
    for i in free {
        b.free(pages[i], 0);
    }
    b
}

#[test]
fn mixed_scenario_indices() {
    let b = mixed_scenario();
    let r = b.fragmentation();
    let mut blocks = [0; NR_ORDERS];
    blocks[0] = 4;
    blocks[2] = 2;
    blocks[4] = 1;
    assert_eq!(r.free_blocks, blocks);
    assert_eq!(r.free_pages, 28);
    assert_eq!(r.free_block_count(), 7);
    // order 0: all usable; 1-2: the 4 single pages unusable (4/28 = 0.142);
    // 3-4: only the order-4 block usable (12/28 = 0.428); 5+: none.
    assert_eq!(
        r.unusable_index,
        [0, 142, 142, 428, 428, 1000, 1000, 1000, 1000, 1000, 1000]
    );
    // Merges: 2 blocks x (2 + 1) + (8 + 4 + 2 + 1) = 21.
    assert_eq!(b.stats().merges, 21);
}

#[test]
fn mixed_scenario_report_text() {
    let text = mixed_scenario().fragmentation().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + NR_ORDERS + 1);
    assert_eq!(lines[0], "order    block  free blocks  unusable index");
    assert_eq!(lines[1], "    0    4 KiB            4           0.000");
    assert_eq!(lines[2], "    1    8 KiB            0           0.142");
    assert_eq!(lines[5], "    4   64 KiB            1           0.428");
    assert_eq!(
        lines[1 + MAX_ORDER],
        "   10    4 MiB            0           1.000"
    );
    assert_eq!(lines[NR_ORDERS + 1], "free: 28 pages (112 KiB) in 7 blocks");
}

#[test]
fn no_free_memory_counts_as_all_unusable() {
    // As Linux: "No free memory is interpreted as all free memory is unusable".
    let mut b = BuddyAllocator::new(&[PhysRange::new(0, 4 * M)]);
    b.alloc(MAX_ORDER).unwrap();
    let r = b.fragmentation();
    assert_eq!(r.free_pages, 0);
    assert_eq!(r.unusable_index, [1000; NR_ORDERS]);
}
