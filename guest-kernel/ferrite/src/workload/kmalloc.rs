//! `workload=kmalloc`: kmalloc/kfree churn through the global allocator.
//! `slots` objects stay live; each op frees a random slot's object and
//! allocates a new one of a random size (log-uniform over 8..=4096, fixed
//! seed), writing its first byte. One op = one alloc + free pair.
//! `threads=N` runs N such threads at once (spread over the CPUs, each with
//! its own slots and `ops`): `ns_per_op` is then wall time / `ops`, so it
//! stays flat if the allocator scales and grows with lock contention.

use alloc::alloc::{alloc, dealloc};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::alloc::Layout;

use super::json::Json;
use super::{ANY, Params, Rng, begin, check_memory, header};
use crate::task::{self, Completion, Gate};
use crate::{heap, percpu, platform};

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let ops = p.u64("ops", 1_000_000, 1..=1_000_000_000)?;
    // Each thread's slot table is one allocation: at most 2.4 MB.
    let slots = p.u64("slots", 1024, 1..=100_000)? as usize;
    let seed = p.u64("seed", 0x5eed, ANY)?;
    let threads = p.u64("threads", 1, 1..=256)? as usize;
    begin(p)?;
    // Live objects average about 800 bytes (power-of-two slabs over 8..4096).
    let per_thread = task::STACK_SIZE + slots as u64 * 1024;
    check_memory("kmalloc", threads as u64 * per_thread)?;

    // Each thread fills its slots (not timed), reports ready, waits for the
    // gate, churns `ops` times, then frees everything after `done`.
    let ready = Arc::new(Completion::new());
    let gate = Arc::new(Gate::new());
    let done = Arc::new(Completion::new());
    for t in 0..threads {
        let (ready, gate, done) = (ready.clone(), gate.clone(), done.clone());
        task::spawn("kmalloc", 0, t % percpu::ncpus(), move || {
            let mut churn = Churn::new(slots, seed.wrapping_add(t as u64));
            for _ in 0..slots {
                churn.step();
            }
            ready.complete();
            gate.wait();
            for _ in 0..ops {
                churn.step();
            }
            done.complete();
        });
    }
    ready.wait_for(threads);
    let start = platform::now_ns();
    gate.open();
    done.wait_for(threads);
    let elapsed = platform::now_ns() - start;
    let stats = heap::kmalloc_stats();
    let json = header("kmalloc", ops, elapsed)
        .u64("threads", threads as u64)
        .u64("slots", slots as u64)
        .str("sizes", "8..4096 log-uniform")
        .raw("kmalloc_stats", &kmalloc_stats_json(&stats));
    Ok(json.finish())
}

/// One thread's live objects and size generator.
struct Churn {
    rng: Rng,
    live: Vec<Option<(*mut u8, Layout)>>,
}

impl Churn {
    fn new(slots: usize, seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            live: vec![None; slots],
        }
    }

    /// Log-uniform over 8..=4096: a power-of-two class, then uniform inside it.
    fn size(&mut self) -> usize {
        let r = self.rng.next();
        let class = (r % 10) as usize; // 8 << 0 ..= 8 << 9 = 4096
        let hi = 8usize << class;
        let lo = hi / 2 + 1;
        if class == 0 {
            8
        } else {
            lo + (r >> 32) as usize % (hi - lo + 1)
        }
    }

    /// Frees a random slot's object (if any) and allocates a new one there.
    fn step(&mut self) {
        let slot = (self.rng.next() % self.live.len() as u64) as usize;
        if let Some((ptr, layout)) = self.live[slot].take() {
            // SAFETY: `ptr` was allocated below with exactly this layout and
            // is freed once (the slot was emptied by `take`).
            unsafe { dealloc(ptr, layout) };
        }
        let layout = Layout::from_size_align(self.size(), 8).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc(layout) };
        assert!(!ptr.is_null(), "kmalloc({}) failed", layout.size());
        // SAFETY: `ptr` is a fresh allocation of at least one byte.
        unsafe { ptr.write_volatile(1) };
        self.live[slot] = Some((ptr, layout));
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        for (ptr, layout) in self.live.iter_mut().filter_map(Option::take) {
            // SAFETY: allocated in `step` with this layout, freed once.
            unsafe { dealloc(ptr, layout) };
        }
    }
}

/// `{"classes":[{"size":8,"in_use":..,"slabs":..,"allocs":..,"frees":..},...],
/// "large":{...},"failures":..,"slab_descriptors":..,"max_slabs":..}`
fn kmalloc_stats_json(stats: &mm::KmallocStats) -> String {
    let mut classes = String::from("[");
    for (i, c) in stats.classes.iter().enumerate() {
        if i > 0 {
            classes.push(',');
        }
        classes.push_str(
            &Json::new()
                .u64("size", c.size as u64)
                .u64("slab_order", c.slab_order as u64)
                .u64("in_use", c.in_use)
                .u64("total_objects", c.total_objects)
                .u64("slabs", c.slabs)
                .u64("allocs", c.allocs)
                .u64("frees", c.frees)
                .finish(),
        );
    }
    classes.push(']');
    let large = Json::new()
        .u64("allocs", stats.large.allocs)
        .u64("frees", stats.large.frees)
        .u64("live", stats.large.live)
        .u64("pages", stats.large.pages)
        .finish();
    Json::new()
        .raw("classes", &classes)
        .raw("large", &large)
        .u64("failures", stats.failures)
        .u64("slab_descriptors", stats.slab_descriptors as u64)
        .u64("max_slabs", stats.max_slabs as u64)
        .finish()
}
