//! The run queues' no-allocation contract (cpurq.rs): once each queue has
//! held as many tasks as it will, waking, picking, ticking, yielding,
//! blocking, exiting and spawning, and balancing between queues allocate
//! nothing, because the kernel's context switch runs them.
//!
//! This test binary installs a counting global allocator, which counts the
//! current thread's allocations while counting is on, and drives two CPUs'
//! queues through thousands of random operations inside that window after
//! a warm-up in which every queue held every task once.

mod common;

use common::Rng;
use sched::{CpuRq, Entity, TaskId, Tunables, balance, find_busiest, select_task_rq};

#[global_allocator]
static GLOBAL: testalloc::CountingAlloc = testalloc::CountingAlloc;

const TASKS: TaskId = 64;
const STEPS: usize = 20_000;

/// Two CPUs' queues, the entities of blocked tasks, and a clock.
struct Machine {
    rqs: [CpuRq<TaskId>; 2],
    blocked: Vec<Entity<TaskId>>,
    now: u64,
    next_id: TaskId,
    /// Times each operation of `step` did something.
    done: [usize; 6],
    moved: usize,
}

impl Machine {
    fn new() -> Self {
        Machine {
            rqs: [0, 1].map(|cpu| CpuRq::new(cpu, Tunables::scaled_for(2))),
            blocked: Vec::with_capacity(TASKS as usize),
            now: 0,
            next_id: 1,
            done: [0; 6],
            moved: 0,
        }
    }

    fn spawn(&mut self, cpu: usize) {
        let id = self.next_id;
        self.next_id += 1;
        self.rqs[cpu].spawn(Entity::new(id, (id % 9) as i8 - 4, id), self.now);
    }

    /// Every task joins CPU 0, then blocks there and wakes on CPU 1, and
    /// each queue is balanced from while it holds them all: every arena,
    /// timeline and balancing list reaches its largest size.
    fn warm_up(&mut self) {
        for _ in 0..TASKS {
            self.spawn(0);
        }
        self.rqs[0].pick_next(self.now);
        self.balance(1);
        while self.rqs[1].nr_running() < TASKS as usize {
            for cpu in [0, 1] {
                if let Some(e) = self.rqs[cpu].deactivate_current(self.now) {
                    let from_min = self.rqs[cpu].min_vruntime();
                    self.rqs[1].wake_up(e, from_min, self.now);
                }
                self.now += 100_000;
                self.rqs[cpu].pick_next(self.now);
            }
        }
        self.balance(0);
    }

    /// `load_balance()` for `cpu`, both queues held.
    fn balance(&mut self, cpu: usize) -> usize {
        let Some((src, imbalance)) = find_busiest(&self.rqs[..], cpu) else {
            return 0;
        };
        let [dst, src] = self.rqs.get_disjoint_mut([cpu, src]).unwrap();
        balance(dst, src, imbalance, self.now)
    }

    fn step(&mut self, rng: &mut Rng) {
        self.now += rng.below(500_000);
        let now = self.now;
        let cpu = rng.index(2);
        let rq = &mut self.rqs[cpu];
        let op = rng.index(self.done.len());
        let did = match op {
            0 => {
                if rq.tick(now) {
                    rq.pick_next(now);
                }
                true
            }
            1 => {
                rq.yield_current(now);
                rq.pick_next(now).is_some()
            }
            2 => match rq.deactivate_current(now) {
                Some(e) => {
                    self.blocked.push(e);
                    rq.pick_next(now);
                    true
                }
                None => false,
            },
            3 if !self.blocked.is_empty() => {
                let e = self.blocked.swap_remove(rng.index(self.blocked.len()));
                let prev = e.cpu();
                let prev_on_cpu = self.rqs[prev].on_cpu() == Some(e.id());
                let target = select_task_rq(&self.rqs[..], prev, prev_on_cpu, cpu);
                let from_min = self.rqs[prev].min_vruntime();
                if self.rqs[target].wake_up(e, from_min, now) {
                    self.rqs[target].pick_next(now);
                }
                true
            }
            // An exit (its entity dropped) and a spawn, into the dead one's slot.
            4 => match rq.deactivate_current(now) {
                Some(_) => {
                    self.spawn(cpu);
                    self.rqs[cpu].pick_next(now);
                    true
                }
                None => false,
            },
            5 => {
                let moved = self.balance(cpu);
                self.moved += moved;
                self.rqs[cpu].pick_next(now);
                moved > 0
            }
            _ => false,
        };
        self.done[op] += usize::from(did);
    }
}

#[test]
fn run_queue_operations_allocate_nothing_at_steady_state() {
    let mut m = Machine::new();
    // Also guards against a vacuous pass: the counter sees the growth.
    let growth = testalloc::allocations_during(|| m.warm_up()).count;
    assert!(growth > 0, "warming up grows the queues");
    let mut rng = Rng::new(42);
    let steady = testalloc::allocations_during(|| {
        for _ in 0..STEPS {
            m.step(&mut rng);
        }
    });
    assert_eq!(steady.count, 0, "{steady:?} after {:?}", m.done);
    for rq in &m.rqs {
        rq.check_invariants().unwrap();
    }
    assert!(
        m.done.iter().all(|&n| n > 200) && m.moved > 500,
        "every operation ran often: {:?}, {} moved",
        m.done,
        m.moved
    );
}
