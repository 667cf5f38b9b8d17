//! `test=sync`: exercises the blocking primitives across CPUs (mutex,
//! semaphore, wait queues, sleep, thread exit, preemption of CPU-bound
//! threads at `cond_resched`) and checks
//! their results; prints one JSON line and exits 0, or panics. The line
//! also says how many kernel stack slots were ever used (`stack_slots`;
//! exited threads' slots are reused) against how many threads it started.
//! Also the busy threads behind `test=page-fault` and the deep recursion
//! behind `test=stack-overflow`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hint::black_box;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use super::json::Json;
use crate::task::{self, Mutex};
use crate::wait::{Completion, Semaphore, sleep_ns};
use crate::{exit, kstack, percpu, platform, println};

const THREADS_PER_CPU: usize = 4;
const INCREMENTS: u64 = 2000;
const SLEEP_NS: u64 = 2_000_000;
const SPIN_NS: u64 = 50_000_000;
const SPIN_LIMIT_NS: u64 = 5_000_000_000;

/// One thread per CPU that spins through preemption points forever.
pub fn busy_threads() {
    for cpu in 0..percpu::ncpus() {
        task::spawn("busy", 0, cpu, || {
            loop {
                task::cond_resched();
            }
        });
    }
}

/// `test=stack-overflow`: a thread on the last CPU recurses until it runs
/// into the guard pages below its stack; the #PF report names it and the
/// VM exits with status 1 (kstack.rs).
pub fn stack_overflow() {
    let cpu = percpu::ncpus() - 1;
    task::spawn_pinned("stack-overflow", 0, cpu, move || {
        let first = 0u8;
        println!(
            "test: stack overflow on cpu {cpu}: recursing from {:#x}",
            black_box(&first) as *const u8 as u64
        );
        let depth = recurse(0);
        panic!("recursed {depth} frames without hitting a guard page")
    });
}

/// One frame with a buffer the optimiser must keep (black_box), and a use
/// of it after the call, so the recursion is neither flattened nor a tail call.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut buffer = [0u8; 256];
    buffer[0] = depth as u8;
    black_box(&mut buffer);
    // Never true (black_box hides that), so the recursion has an end for the compiler.
    if black_box(depth) == u64::MAX {
        return depth;
    }
    recurse(depth + 1) + u64::from(buffer[1])
}

pub fn start() {
    task::spawn("selftest", 0, 0, run);
}

fn run() {
    let ncpus = percpu::ncpus();
    let threads = ncpus * THREADS_PER_CPU;
    task::schedule(); // nothing else runnable: returns at once
    task::yield_now();

    // Mutex: increments with a yield inside the critical section, so
    // contenders really block on it.
    let counter = Arc::new(Mutex::new(0u64));
    let done = Arc::new(Completion::new());
    for i in 0..threads {
        let (counter, done) = (counter.clone(), done.clone());
        task::spawn("mutex", 0, i % ncpus, move || {
            for n in 0..INCREMENTS {
                let mut c = counter.lock();
                let seen = *c;
                if n % 64 == 0 {
                    task::yield_now();
                }
                *c = seen + 1;
            }
            done.complete();
        });
    }
    done.wait_for(threads);
    let total = *counter.lock();
    assert_eq!(total, threads as u64 * INCREMENTS, "mutex lost increments");

    // Semaphore: producers `up`, consumers `down`; all must get through.
    let sem = Arc::new(Semaphore::new(0));
    let done = Arc::new(Completion::new());
    for i in 0..threads {
        let (sem, done) = (sem.clone(), done.clone());
        let producer = i % 2 == 0;
        task::spawn("sem", 0, i % ncpus, move || {
            for _ in 0..INCREMENTS {
                if producer {
                    sem.up();
                } else {
                    sem.down();
                }
            }
            done.complete();
        });
    }
    done.wait_for(threads);

    // Sleepers on every CPU, woken by the timer queue in deadline order.
    let done = Arc::new(Completion::new());
    for i in 0..threads {
        let done = done.clone();
        task::spawn("sleeper", 0, i % ncpus, move || {
            let ns = 100_000 * (1 + i as u64 % 7);
            let start = platform::now_ns();
            sleep_ns(ns);
            let slept = platform::now_ns() - start;
            assert!(slept >= ns, "sleep_ns({ns}) returned after {slept} ns");
            done.complete();
        });
    }
    done.wait_for(threads);
    if let Err(e) = task::check_invariants() {
        panic!("scheduler invariants: {e}");
    }

    // Preemption: two CPU-bound threads per CPU that only pass through
    // `cond_resched` must share their CPUs (tick or slice deadline).
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..2 * ncpus).map(|_| AtomicU64::new(0)).collect());
    let done = Arc::new(Completion::new());
    let before = super::preemptions();
    for i in 0..2 * ncpus {
        let (stop, counts, done) = (stop.clone(), counts.clone(), done.clone());
        task::spawn("spinner", 0, i % ncpus, move || {
            while !stop.load(Relaxed) {
                counts[i].fetch_add(1, Relaxed);
                task::cond_resched();
            }
            done.complete();
        });
    }
    // Every spinner must get its CPU: checked every SPIN_NS, up to
    // SPIN_LIMIT_NS, because an emulated vCPU on a busy host can go without
    // a host core for longer than one period.
    let start = platform::now_ns();
    let ran = || counts.iter().all(|c| c.load(Relaxed) > 0);
    loop {
        sleep_ns(SPIN_NS);
        if ran() || platform::now_ns() - start > SPIN_LIMIT_NS {
            break;
        }
    }
    stop.store(true, Relaxed);
    let spun = platform::now_ns() - start;
    done.wait_for(2 * ncpus);
    let preemptions = super::preemptions() - before;
    let min = counts.iter().map(|c| c.load(Relaxed)).min().unwrap_or(0);
    assert!(min > 0, "a CPU-bound thread never ran in {spun} ns");
    assert!(preemptions > 0, "no preemption among CPU-bound threads");

    // Sleep: at least as long as asked.
    let start = platform::now_ns();
    sleep_ns(SLEEP_NS);
    let slept = platform::now_ns() - start;
    assert!(
        slept >= SLEEP_NS,
        "sleep_ns({SLEEP_NS}) returned after {slept} ns"
    );

    let json = Json::new()
        .str("test", "sync")
        .str("result", "ok")
        .str("mode", crate::platform::mode_name())
        .str("irq", platform::irq_mode().name())
        .u64("cpus", ncpus as u64)
        .u64("threads", threads as u64)
        .u64("mutex_total", total)
        .u64("slept_ns", slept)
        .u64("preemptions", preemptions)
        .u64("threads_started", 3 * threads as u64 + 2 * ncpus as u64)
        .u64("stack_slots", u64::from(kstack::slots_used()));
    println!("{}", json.finish());
    exit::exit(0)
}
