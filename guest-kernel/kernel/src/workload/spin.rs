//! `workload=spin`: `threads` CPU-bound threads pinned to one CPU, each
//! counting in a loop that passes `task::cond_resched()` (a preemption
//! point) on every round, for `ms` milliseconds. Nothing blocks, so every
//! switch among them is a slice ending (`check_preempt_tick()`); the mean
//! slice shows `sched_latency_ns` and `sched_min_granularity_ns` at work:
//! `max(sched_latency_ns / threads, sched_min_granularity_ns)` for equal
//! nice-0 threads (`sched_slice()`, `__sched_period()`). One op = one
//! round of one thread.
//!
//! `resched=0` leaves `cond_resched` out of the loop: the threads then never
//! reach a preemption point, and only preemption at the timer interrupt's
//! return (`preempt=full`, interrupt mode) shares the CPU among them; it is
//! refused where that preemption is off, as the threads would keep their CPU
//! for good. `irq_preemptions` counts the interrupts that sent the running
//! task through the scheduler.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use super::{Params, SchedJson, SchedTotals, begin, header, preemptions};
use crate::task;
use crate::wait::{Completion, sleep_ns};
use crate::{percpu, platform};

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let threads = p.u64("threads", 16, 1..=256)? as usize;
    let ms = p.u64("ms", 500, 1..=60_000)?;
    let last_cpu = percpu::ncpus() as u64 - 1;
    let cpu = p.u64("cpu", last_cpu, 0..=last_cpu)? as usize;
    let resched = p.u64("resched", 1, 0..=1)? == 1;
    if !resched && task::preempt_model() != "full" {
        return Err(
            "resched=0 needs preempt=full in interrupt mode: nothing else \
                    would take the CPU from a thread that passes no preemption point"
                .into(),
        );
    }
    begin(p)?;
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..threads).map(|_| AtomicU64::new(0)).collect());
    let done = Arc::new(Completion::new());
    let before = SchedTotals::now();
    let preempt_before = preemptions();
    let irq_preempt_before = task::irq_preemptions();
    let start = platform::now_ns();
    for i in 0..threads {
        let (stop, counts, done) = (stop.clone(), counts.clone(), done.clone());
        task::spawn_pinned("spin", 0, cpu, move || {
            while !stop.load(Relaxed) {
                counts[i].fetch_add(1, Relaxed);
                if resched {
                    task::cond_resched();
                }
            }
            done.complete();
        });
    }
    sleep_ns(ms * 1_000_000);
    stop.store(true, Relaxed);
    let elapsed = platform::now_ns() - start;
    done.wait_for(threads);
    let stats = SchedTotals::now().since(before);
    let preemptions = preemptions() - preempt_before;
    let irq_preemptions = task::irq_preemptions() - irq_preempt_before;
    let rounds: Vec<u64> = counts.iter().map(|c| c.load(Relaxed)).collect();
    let total: u64 = rounds.iter().sum();
    let (min, max) = (
        rounds.iter().min().copied().unwrap_or(0),
        rounds.iter().max().copied().unwrap_or(0),
    );
    let json = header("spin", total, elapsed)
        .u64("threads", threads as u64)
        .u64("cpu", cpu as u64)
        .u64("resched", u64::from(resched))
        .str("preempt", task::preempt_model())
        .u64("preemptions", preemptions)
        .u64("irq_preemptions", irq_preemptions)
        .f64(
            "mean_slice_us",
            elapsed as f64 / 1e3 / preemptions.max(1) as f64,
        )
        .f64("min_max_rounds_ratio", min as f64 / max.max(1) as f64);
    Ok(stats.add_to(json).finish())
}
