//! `workload=pages`: order-0 page alloc/free churn, first through this CPU's
//! page cache (`mm::PageCache`, no lock unless it refills or drains), then
//! (unless `buddy=0`) straight from the buddy allocator for comparison. Each round allocates `depth` pages and
//! frees them again; one op = one alloc + free pair, and `ns_per_op` is the
//! per-CPU cache's. The fragmentation report summary comes along.

use alloc::string::String;
use alloc::vec::Vec;

use super::json::array;
use super::{Params, begin, check_memory, header};
use crate::heap::{self, PageBlock};
use crate::platform;

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let ops = p.u64("ops", 1_000_000, 1..=1_000_000_000)?;
    let depth = p.u64("depth", 16, 1..=4096)? as usize;
    let buddy = p.u64("buddy", 1, 0..=1)? == 1;
    begin(p)?;
    check_memory("pages", depth as u64 * mm::PAGE_SIZE)?;
    let rounds = ops.div_ceil(depth as u64);
    let ops = rounds * depth as u64;
    let mut held: Vec<PageBlock> = Vec::with_capacity(depth);

    let pcp_ns = time_rounds(rounds, depth, &mut held, PageBlock::from_cache);
    let mut json = header("pages", ops, pcp_ns)
        .u64("depth", depth as u64)
        .str("path", "per-cpu cache");
    if buddy {
        let buddy_ns = time_rounds(rounds, depth, &mut held, || PageBlock::from_buddy(0));
        json = json.f64("buddy_ns_per_op", buddy_ns as f64 / ops.max(1) as f64);
    }

    let frag = heap::fragmentation();
    let json = json
        .u64("free_pages", frag.free_pages)
        .raw("free_blocks", &array(frag.free_blocks))
        .raw("unusable_index_permille", &array(frag.unusable_index));
    Ok(json.finish())
}

fn time_rounds(
    rounds: u64,
    depth: usize,
    held: &mut Vec<PageBlock>,
    alloc: impl Fn() -> Option<PageBlock>,
) -> u64 {
    let start = platform::now_ns();
    for _ in 0..rounds {
        for _ in 0..depth {
            held.push(alloc().expect("out of pages"));
        }
        // Freed newest first (dropping a `PageBlock` frees it).
        while held.pop().is_some() {}
    }
    platform::now_ns() - start
}
