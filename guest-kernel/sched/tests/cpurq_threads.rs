//! The per-CPU run queues under real concurrency: one host thread per CPU,
//! each owning its `CpuRq` behind a lock of its own, as the kernel does.
//! Tasks block (their entity parks in the task's slot), are woken by any
//! CPU (the entity goes straight into the waker's queue, or onto the
//! target's wake list, which only the target drains), yield, and are pulled
//! by load balancing, which holds two queues, taken in CPU order. Wakers
//! choose CPUs from published, possibly stale loads.
//!
//! Checked: every queue's bookkeeping at every step; at the end, every task
//! is in exactly one place (one queue, one wake list or its own slot), none
//! lost and none duplicated; and every blocked task was woken exactly once
//! per block. Seeded: each CPU thread draws from its own generator.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;

use common::Rng;
use sched::{CpuRq, Entity, RqLoad, RqLoads, TaskId, Tunables};

const CPUS: usize = 4;
const TASKS: u32 = 48;
const STEPS: usize = 20_000;

/// A task's sleep slot: its parked entity while blocked (the kernel keeps
/// it in the task's wake state).
type Slot = Mutex<Option<Entity<TaskId>>>;

struct Machine {
    rqs: Vec<Mutex<CpuRq<TaskId>>>,
    wake_lists: Vec<Mutex<Vec<Entity<TaskId>>>>,
    /// Published loads: nr_running, nr_queued, load, min_vruntime.
    loads: Vec<[AtomicU64; 4]>,
    slots: Vec<Slot>,
    blocks: AtomicUsize,
    wakeups: AtomicUsize,
    clock: AtomicU64,
    failed: AtomicBool,
}

/// The published loads, read as the kernel reads its per-CPU counters.
impl RqLoads for Machine {
    fn ncpus(&self) -> usize {
        CPUS
    }

    fn load(&self, cpu: usize) -> RqLoad {
        let p = &self.loads[cpu];
        RqLoad {
            nr_running: p[0].load(Relaxed) as usize,
            nr_queued: p[1].load(Relaxed) as usize,
            load: p[2].load(Relaxed),
            min_vruntime: p[3].load(Relaxed),
        }
    }
}

impl Machine {
    fn publish(&self, cpu: usize, rq: &CpuRq<TaskId>) {
        let l = rq.load();
        let p = &self.loads[cpu];
        p[0].store(l.nr_running as u64, Relaxed);
        p[1].store(l.nr_queued as u64, Relaxed);
        p[2].store(l.load, Relaxed);
        p[3].store(l.min_vruntime, Relaxed);
    }

    fn now(&self) -> u64 {
        self.clock.fetch_add(1_000, Relaxed)
    }

    /// `try_to_wake_up` from `waker`: takes the parked entity, if any.
    fn wake(&self, task: TaskId, waker: usize) {
        let Some(entity) = self.slots[task as usize].lock().unwrap().take() else {
            return;
        };
        self.wakeups.fetch_add(1, SeqCst);
        let prev = entity.cpu();
        let target = match entity.pinned() {
            Some(pin) => pin,
            None => sched::select_task_rq(self, prev, false, waker),
        };
        if target == waker {
            let from_min = self.loads[prev][3].load(Relaxed);
            let mut rq = self.rqs[waker].lock().unwrap();
            rq.wake_up(entity, from_min, self.now());
            self.publish(waker, &rq);
        } else {
            self.wake_lists[target].lock().unwrap().push(entity);
        }
    }

    /// One scheduling pass of `cpu`: queue arrived wakeups, maybe block or
    /// yield the running task, maybe balance, pick.
    fn step(&self, cpu: usize, rng: &mut Rng) {
        let mut rq = self.rqs[cpu].lock().unwrap();
        let arrived = std::mem::take(&mut *self.wake_lists[cpu].lock().unwrap());
        for entity in arrived {
            let from_min = self.loads[entity.cpu()][3].load(Relaxed);
            rq.wake_up(entity, from_min, self.now());
        }
        if rq.current().is_some() {
            match rng.below(10) {
                0..=3 => {
                    let entity = rq.deactivate_current(self.now()).expect("a running task");
                    let id = entity.id();
                    self.blocks.fetch_add(1, SeqCst);
                    let old = self.slots[id as usize].lock().unwrap().replace(entity);
                    assert!(old.is_none(), "task {id} parked twice");
                }
                4 => rq.yield_current(self.now()),
                _ => {
                    rq.tick(self.now());
                }
            }
        }
        if rng.chance(20) {
            self.balance(cpu, &mut rq);
        }
        rq.pick_next(self.now());
        if let Err(e) = rq.check_invariants() {
            self.failed.store(true, SeqCst);
            panic!("{e}");
        }
        self.publish(cpu, &rq);
    }

    /// `load_balance` holding two queues: the busiest CPU's lock is taken
    /// only if it comes after ours, or if it is free now.
    fn balance(&self, cpu: usize, rq: &mut CpuRq<TaskId>) {
        let Some((src, imbalance)) = sched::find_busiest(self, cpu) else {
            return;
        };
        let src_rq = if src > cpu {
            Some(self.rqs[src].lock().unwrap())
        } else {
            self.rqs[src].try_lock().ok()
        };
        if let Some(mut src_rq) = src_rq {
            sched::balance(rq, &mut src_rq, imbalance, self.now());
            self.publish(src, &src_rq);
        }
    }
}

fn run(seed: u64) {
    let machine = Arc::new(Machine {
        rqs: (0..CPUS)
            .map(|cpu| Mutex::new(CpuRq::new(cpu, Tunables::scaled_for(CPUS))))
            .collect(),
        wake_lists: (0..CPUS).map(|_| Mutex::new(Vec::new())).collect(),
        loads: (0..CPUS).map(|_| Default::default()).collect(),
        slots: (0..TASKS).map(|_| Mutex::new(None)).collect(),
        blocks: AtomicUsize::new(0),
        wakeups: AtomicUsize::new(0),
        clock: AtomicU64::new(0),
        failed: AtomicBool::new(false),
    });
    for id in 1..TASKS {
        let cpu = id as usize % CPUS;
        let mut entity = Entity::new(id, (id % 7) as i8 - 3, id);
        if id % 11 == 0 {
            entity.set_pinned(Some(cpu));
        }
        let mut rq = machine.rqs[cpu].lock().unwrap();
        rq.spawn(entity, 0);
        machine.publish(cpu, &rq);
    }
    let threads: Vec<_> = (0..CPUS)
        .map(|cpu| {
            let machine = machine.clone();
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ ((cpu as u64 + 1) * 0x51));
                for _ in 0..STEPS {
                    if machine.failed.load(Relaxed) {
                        return;
                    }
                    machine.step(cpu, &mut rng);
                    // Wake a few random tasks, blocked or not (a wakeup of a
                    // runnable task must change nothing).
                    for _ in 0..2 {
                        machine.wake(1 + rng.below(u64::from(TASKS) - 1) as TaskId, cpu);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a CPU thread failed");
    }

    // Quiesced: count every task's places.
    let mut places = vec![0usize; TASKS as usize];
    for cpu in 0..CPUS {
        let rq = machine.rqs[cpu].lock().unwrap();
        rq.check_invariants().unwrap();
        for e in rq.tasks() {
            assert_eq!(e.payload, e.id(), "an entity carries another task");
            places[e.id() as usize] += 1;
        }
        for e in machine.wake_lists[cpu].lock().unwrap().iter() {
            places[e.id() as usize] += 1;
        }
    }
    let mut parked = 0;
    for (id, slot) in machine.slots.iter().enumerate() {
        if slot.lock().unwrap().is_some() {
            places[id] += 1;
            parked += 1;
        }
    }
    for (id, &n) in places.iter().enumerate().skip(1) {
        assert_eq!(n, 1, "task {id} is in {n} places");
    }
    // Each block parked the task once; each wakeup took one parked entity.
    assert_eq!(
        machine.blocks.load(SeqCst),
        machine.wakeups.load(SeqCst) + parked,
        "blocks and wakeups do not balance"
    );
    assert!(
        machine.blocks.load(SeqCst) > 1_000,
        "the run exercised blocking"
    );
}

#[test]
fn no_task_lost_or_duplicated_across_four_cpus() {
    for seed in [1, 2, 3] {
        run(seed);
    }
}
