//! `workload=kmalloc`: kmalloc/kfree through the global allocator, sizes
//! log-uniform over 8..=4096 (fixed seed). One op = one alloc + free pair.
//!
//! - `mode=churn` (default): `slots` objects stay live; each op frees a
//!   random slot's object and allocates a new one there. `threads=N` runs N such threads at once (spread over the CPUs,
//!   each with its own slots and `ops`): `ns_per_op` is then wall time /
//!   `ops`, so it stays flat if the allocator scales and grows with
//!   contention.
//! - `mode=pc`: producer/consumer pairs (`threads` even, default 2): the
//!   producer, on CPU 2k, allocates `ops` objects and hands each through a
//!   ring to the consumer, on CPU 2k+1, which frees it: every free is
//!   remote. `ns_per_op` is wall time / `ops`.
//!
//! Every object carries a stamp unique to its allocation in its first word,
//! checked before it is freed: an object handed out twice panics there.
//!
//! A first, unmeasured round of at most 1000 pairs per thread brings what
//! the kernel keeps after first use into the baseline. Before and after the
//! measured round, every CPU drains its kmalloc magazines and the depots
//! while all CPUs are held (`quiesced_stats`), so the statistics count
//! exactly the objects in use: `cpu_cache_bytes` is what the caches held at
//! the end (their memory overhead at that moment), `slab_bytes` and
//! `slab_free_bytes` the slabs' memory and the part of it no object in use
//! occupies (their waste, with the caches drained), `slab_allocs` the objects
//! the slabs handed out (to magazines, mostly) during the measured round, and
//! `leaked_objects` compares objects in use before and after (0 unless the
//! allocator lost an object, or the kernel kept one).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hint::spin_loop;
use core::sync::atomic::{
    AtomicBool, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed,
    Ordering::Release,
};

use super::json::Json;
use super::{ANY, Params, Rng, begin, check_memory, header};
use crate::heap::Stamped;
use crate::sync::{self, SpinLock};
use crate::task;
use crate::wait::{Completion, Gate};
use crate::{heap, percpu, platform};

/// Pairs per thread in the unmeasured first round.
const WARMUP_OPS: u64 = 1000;

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let ops = p.u64("ops", 1_000_000, 1..=1_000_000_000)?;
    // Each thread's slot table is one allocation: at most 2.4 MB.
    let slots = p.u64("slots", 1024, 1..=100_000)? as usize;
    let seed = p.u64("seed", 0x5eed, ANY)?;
    let mode = p.str("mode", "churn")?;
    let pc = match mode {
        "churn" => false,
        "pc" => true,
        other => return Err(format!("mode={other}: expected churn or pc")),
    };
    let threads = p.u64("threads", if pc { 2 } else { 1 }, 1..=256)? as usize;
    if pc && !threads.is_multiple_of(2) {
        return Err(format!(
            "mode=pc runs producer/consumer pairs: threads={threads} is odd"
        ));
    }
    begin(p)?;
    // Live objects average about 800 bytes (power-of-two slabs over 8..4096).
    let live_per_thread = if pc { RING_SLOTS } else { slots };
    let per_thread = task::STACK_SIZE + live_per_thread as u64 * 1024;
    check_memory("kmalloc", threads as u64 * per_thread)?;

    // An unmeasured round first, then the measured one between two counts:
    // what the kernel keeps after its first use (a wait queue's buffer,
    // grown the first time a task sleeps on it, e.g. on a lock that a
    // preempted holder kept) then belongs to both counts, not to the leak.
    round(threads, pc, ops.min(WARMUP_OPS), slots, seed);
    let (before, _) = quiesced_stats()?;
    let elapsed = round(threads, pc, ops, slots, seed);
    let (stats, cpu_cache_bytes) = quiesced_stats()?;
    let leaked = objects_in_use(&stats) as i64 - objects_in_use(&before) as i64;
    let slab_allocs: u64 = (stats.classes.iter().zip(&before.classes))
        .map(|(after, before)| after.allocs - before.allocs)
        .sum();
    let json = header("kmalloc", ops, elapsed)
        .str("pattern", mode)
        .u64("threads", threads as u64)
        .u64("slots", slots as u64)
        .str("sizes", "8..4096 log-uniform")
        .u64("cpu_cache_bytes", cpu_cache_bytes as u64)
        .u64("slab_bytes", slab_bytes(&stats))
        .u64("slab_free_bytes", slab_free_bytes(&stats))
        .raw("leaked_objects", &leaked.to_string())
        .u64("slab_allocs", slab_allocs)
        .raw("kmalloc_stats", &kmalloc_stats_json(&stats));
    Ok(json.finish())
}

/// One round: `threads` threads (producer/consumer pairs with `pc`) each
/// prepare (not timed), report ready, wait for the gate, run `ops` pairs and
/// report done; returns the time from the gate to the last done, once all
/// have exited.
fn round(threads: usize, pc: bool, ops: u64, slots: usize, seed: u64) -> u64 {
    let tasks_before = task::nr_tasks();
    let ready = Arc::new(Completion::new());
    let gate = Arc::new(Gate::new());
    let done = Arc::new(Completion::new());
    for t in 0..threads {
        let (ready, gate, done) = (ready.clone(), gate.clone(), done.clone());
        let cpu = t % percpu::ncpus();
        let seed = seed.wrapping_add(t as u64);
        if pc {
            if t % 2 == 1 {
                continue;
            }
            let (mut producer, mut consumer) = sync::spsc::<Stamped>(RING_SLOTS);
            let (c_ready, c_gate, c_done) = (ready.clone(), gate.clone(), done.clone());
            task::spawn_pinned("kmalloc-cons", 0, (t + 1) % percpu::ncpus(), move || {
                c_ready.complete();
                c_gate.wait();
                for i in 0..ops {
                    let object = loop {
                        match consumer.try_pop() {
                            Some(object) => break object,
                            None => wait(),
                        }
                    };
                    check_stamp(&object, stamp_of(t, i));
                }
                c_done.complete();
            });
            task::spawn_pinned("kmalloc-prod", 0, cpu, move || {
                let mut sizes = Rng::new(seed);
                ready.complete();
                gate.wait();
                for i in 0..ops {
                    let mut object = alloc_stamped(&mut sizes, stamp_of(t, i));
                    while let Err(back) = producer.try_push(object) {
                        object = back;
                        wait();
                    }
                }
                done.complete();
            });
        } else {
            task::spawn("kmalloc", 0, cpu, move || {
                let mut churn = Churn::new(slots, seed, t);
                for _ in 0..slots {
                    churn.step();
                }
                ready.complete();
                gate.wait();
                for _ in 0..ops {
                    churn.step();
                }
                drop(churn);
                done.complete();
            });
        }
    }
    ready.wait_for(threads);
    let start = platform::now_ns();
    gate.open();
    done.wait_for(threads);
    let elapsed = platform::now_ns() - start;
    // Let the threads exit and free what they own, and free what this task
    // allocated for the round.
    while task::nr_tasks() > tasks_before {
        task::yield_now();
    }
    drop((ready, gate, done));
    elapsed
}

/// Memory in slabs, all classes.
fn slab_bytes(stats: &mm::KmallocStats) -> u64 {
    stats
        .classes
        .iter()
        .map(|c| c.slabs * (mm::PAGE_SIZE << c.slab_order))
        .sum()
}

/// Slab memory no object in use occupies: free objects, and the tails too
/// small for an object (the slabs' waste once the caches are drained).
fn slab_free_bytes(stats: &mm::KmallocStats) -> u64 {
    slab_bytes(stats)
        - stats
            .classes
            .iter()
            .map(|c| c.in_use * c.size as u64)
            .sum::<u64>()
}

/// Objects kmalloc's slabs count as handed out.
fn objects_in_use(stats: &mm::KmallocStats) -> u64 {
    stats.classes.iter().map(|c| c.in_use).sum()
}

/// kmalloc's statistics with no object in any cache, so that `in_use`
/// counts exactly what callers hold, and the bytes the caches held.
///
/// As Linux's `stop_machine`: a task pinned to each CPU drains that CPU's
/// magazines and the depots, then spins, not preemptible, until all have
/// done so, so that no CPU runs anything that could refill them (a depot
/// filled by a CPU that had not arrived yet is drained again by that CPU's
/// task); the last to arrive takes the statistics while all others still
/// spin.
fn quiesced_stats() -> Result<(mm::KmallocStats, usize), String> {
    /// How long a CPU waits for the others to arrive.
    const ARRIVAL_TIMEOUT_NS: u64 = 2_000_000_000;
    struct Stop {
        arrived: AtomicUsize,
        released: AtomicBool,
        timed_out: AtomicBool,
        bytes: AtomicUsize,
        stats: SpinLock<Option<mm::KmallocStats>>,
    }
    let ncpus = percpu::ncpus();
    let tasks_before = task::nr_tasks();
    let stop = Arc::new(Stop {
        arrived: AtomicUsize::new(0),
        released: AtomicBool::new(false),
        timed_out: AtomicBool::new(false),
        bytes: AtomicUsize::new(0),
        stats: SpinLock::new(None),
    });
    let done = Arc::new(Completion::new());
    for cpu in 0..ncpus {
        let (stop, done) = (stop.clone(), done.clone());
        task::spawn_pinned("kmalloc-stop", 0, cpu, move || {
            // Not preemptible from the drain to the release: a tick that
            // switched to another task here would let it allocate on this
            // CPU after the drain, refilling a magazine (a whole magazine,
            // up to 60 objects, counted in use) before the statistics.
            task::without_preemption(|| {
                stop.bytes.fetch_add(heap::drain_kmalloc_caches(), Relaxed);
                if stop.arrived.fetch_add(1, AcqRel) + 1 == ncpus {
                    *stop.stats.lock() = Some(heap::kmalloc_stats());
                    stop.released.store(true, Release);
                }
                let deadline = platform::now_ns() + ARRIVAL_TIMEOUT_NS;
                while !stop.released.load(Acquire) {
                    if platform::now_ns() > deadline {
                        stop.timed_out.store(true, Relaxed);
                        stop.released.store(true, Release);
                    }
                    spin_loop();
                }
            });
            done.complete();
        });
    }
    done.wait_for(ncpus);
    // The stop tasks are gone before the caller counts tasks: one still
    // exiting would be taken for one of the caller's.
    while task::nr_tasks() > tasks_before {
        task::yield_now();
    }
    if stop.timed_out.load(Relaxed) {
        return Err(format!(
            "not all {ncpus} CPUs ran the statistics task within 2 s"
        ));
    }
    let stats = stop
        .stats
        .lock()
        .take()
        .expect("the last CPU to arrive took the statistics");
    Ok((stats, stop.bytes.load(Relaxed)))
}

/// Log-uniform over 8..=4096: a power-of-two class, then uniform inside it.
fn log_uniform_size(rng: &mut Rng) -> usize {
    let r = rng.next();
    let class = (r % 10) as usize; // 8 << 0 ..= 8 << 9 = 4096
    let hi = 8usize << class;
    let lo = hi / 2 + 1;
    if class == 0 {
        8
    } else {
        lo + (r >> 32) as usize % (hi - lo + 1)
    }
}

/// Objects in flight between a producer and its consumer (an `ostd::sync`
/// single-producer single-consumer ring).
const RING_SLOTS: usize = 256;

/// Spins a while, then lets another task on this CPU run.
fn wait() {
    for _ in 0..64 {
        spin_loop();
    }
    task::yield_now();
}

/// A value no other object carries: the thread and its allocation count.
fn stamp_of(thread: usize, n: u64) -> u64 {
    (thread as u64) << 48 | n
}

/// An object of a log-uniform size with `stamp` in its first word.
fn alloc_stamped(sizes: &mut Rng, stamp: u64) -> Stamped {
    let size = log_uniform_size(sizes);
    Stamped::new(size, stamp).unwrap_or_else(|| panic!("kmalloc({size}) failed"))
}

/// Checks the stamp of an object about to be freed: another value means the
/// allocator also handed the object to someone else, who wrote theirs.
fn check_stamp(object: &Stamped, stamp: u64) {
    assert_eq!(
        object.stamp(),
        stamp,
        "kmalloc object {:#x} was handed out twice: its stamp changed",
        object.addr()
    );
}

/// One thread's live objects (with their stamps) and size generator.
struct Churn {
    rng: Rng,
    thread: usize,
    allocated: u64,
    live: Vec<Option<(Stamped, u64)>>,
}

impl Churn {
    fn new(slots: usize, seed: u64, thread: usize) -> Self {
        Self {
            rng: Rng::new(seed),
            thread,
            allocated: 0,
            live: (0..slots).map(|_| None).collect(),
        }
    }

    /// Frees a random slot's object (if any) and allocates a new one there.
    fn step(&mut self) {
        let slot = (self.rng.next() % self.live.len() as u64) as usize;
        if let Some((object, stamp)) = self.live[slot].take() {
            check_stamp(&object, stamp);
        }
        self.allocated += 1;
        let stamp = stamp_of(self.thread, self.allocated);
        self.live[slot] = Some((alloc_stamped(&mut self.rng, stamp), stamp));
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        for (object, stamp) in self.live.iter_mut().filter_map(Option::take) {
            check_stamp(&object, stamp);
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
