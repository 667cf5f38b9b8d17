//! How fragmented free memory is, as Linux's
//! `/sys/kernel/debug/extfrag/unusable_index` reports it (`mm/vmstat.c`,
//! `unusable_free_index()`).
//!
//! For an order `n`, the unusable free space index is the fraction of free
//! pages that sit in blocks *smaller* than order `n`, so cannot serve an
//! order-`n` allocation without compaction:
//!
//! ```text
//! unusable(n) = (free_pages - pages in free blocks of order >= n) / free_pages
//! ```
//!
//! 0 means every free page is usable for order `n`, 1 means none is. With no
//! free memory at all the index is 1 (Linux: "no free memory is interpreted
//! as all free memory is unusable"). Like Linux we keep it in thousandths,
//! rounded down, and print it as `0.123`.

use core::fmt;

use crate::{NR_ORDERS, PAGE_SIZE, Size, order_bytes};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentationReport {
    /// Free blocks per order.
    pub free_blocks: [u64; NR_ORDERS],
    /// Free pages (the sum of `free_blocks[n] << n`).
    pub free_pages: u64,
    /// Per order, the unusable free space index in thousandths (0..=1000).
    pub unusable_index: [u32; NR_ORDERS],
}

impl FragmentationReport {
    pub fn new(free_blocks: [u64; NR_ORDERS]) -> Self {
        let free_pages = (0..NR_ORDERS).map(|n| free_blocks[n] << n).sum();
        Self {
            free_blocks,
            free_pages,
            unusable_index: core::array::from_fn(|n| {
                unusable_free_index(&free_blocks, free_pages, n)
            }),
        }
    }

    /// Total free blocks, all orders.
    pub fn free_block_count(&self) -> u64 {
        self.free_blocks.iter().sum()
    }
}

/// Linux's `unusable_free_index()`, in thousandths.
fn unusable_free_index(free_blocks: &[u64; NR_ORDERS], free_pages: u64, order: usize) -> u32 {
    if free_pages == 0 {
        return 1000;
    }
    // Linux counts "suitable" blocks of order >= n in units of order-n
    // blocks and shifts back; that is just the pages in those blocks.
    let suitable_pages: u64 = (order..NR_ORDERS).map(|n| free_blocks[n] << n).sum();
    ((free_pages - suitable_pages) * 1000 / free_pages) as u32
}

impl fmt::Display for FragmentationReport {
    /// One line per order, then a total:
    ///
    /// ```text
    /// order    block  free blocks  unusable index
    ///     0    4 KiB            4           0.000
    /// ...
    /// free: 28 pages (112 KiB) in 7 blocks
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>5} {:>8}  {:>11}  {:>14}",
            "order", "block", "free blocks", "unusable index"
        )?;
        for order in 0..NR_ORDERS {
            let index = self.unusable_index[order];
            writeln!(
                f,
                "{order:>5} {:>8}  {:>11}  {:>10}.{:03}",
                Size(order_bytes(order)),
                self.free_blocks[order],
                index / 1000,
                index % 1000
            )?;
        }
        writeln!(
            f,
            "free: {} pages ({}) in {} blocks",
            self.free_pages,
            Size(self.free_pages * PAGE_SIZE),
            self.free_block_count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_linux_formula_on_a_small_example() {
        // 3 order-0 pages and one order-2 block: 7 free pages.
        let mut blocks = [0; NR_ORDERS];
        blocks[0] = 3;
        blocks[2] = 1;
        let r = FragmentationReport::new(blocks);
        assert_eq!(r.free_pages, 7);
        assert_eq!(r.unusable_index[0], 0);
        assert_eq!(r.unusable_index[1], 3 * 1000 / 7); // 428
        assert_eq!(r.unusable_index[2], 428);
        assert_eq!(r.unusable_index[3], 1000);
        assert_eq!(r.free_block_count(), 4);
    }
}
