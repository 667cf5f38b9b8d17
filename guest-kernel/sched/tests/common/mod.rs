//! Shared helpers for the scheduler's host tests: a seeded PRNG and a
//! simulated single-CPU clock driven by periodic ticks.
#![allow(dead_code)] // each test binary uses a different subset

use sched::{CpuId, Nanos, Scheduler, TaskId};

pub const MS: Nanos = 1_000_000;

/// xorshift64* (Vigna): tiny, deterministic, good enough to drive tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Runs `cpu` for `duration` with a timer tick every `tick` ns, switching
/// tasks whenever `tick` says the slice is over; calls `each` after every tick.
pub fn run_ticks(
    s: &mut Scheduler,
    cpu: CpuId,
    now: &mut Nanos,
    tick: Nanos,
    duration: Nanos,
    mut each: impl FnMut(&Scheduler, Nanos),
) {
    let end = *now + duration;
    if s.current(cpu).is_none() {
        s.pick_next(cpu, *now);
    }
    while *now < end {
        *now += tick;
        if s.tick(cpu, *now) {
            s.pick_next(cpu, *now);
        }
        each(s, *now);
    }
}

/// CPU time of each task divided by their total.
pub fn shares(s: &Scheduler, tasks: &[TaskId]) -> Vec<f64> {
    let times: Vec<f64> = tasks
        .iter()
        .map(|&t| s.task_runtime(t).unwrap() as f64)
        .collect();
    let total: f64 = times.iter().sum();
    times.iter().map(|t| t / total).collect()
}
