//! Randomized operation sequences across several CPUs, checking after every
//! step that no task is lost or duplicated, that wakeups are never lost, and
//! that the counters agree with a simple model kept by the test.

mod common;

use std::collections::BTreeSet;

use common::{MS, Rng};
use sched::{CpuId, Nanos, Scheduler, TaskId, TaskState, Tunables};

/// What the test knows independently of the scheduler.
struct Model {
    live: BTreeSet<TaskId>,
    blocked: BTreeSet<TaskId>,
    exited: Vec<TaskId>,
    last_min_vruntime: Vec<Nanos>,
}

struct Run {
    s: Scheduler,
    m: Model,
    rng: Rng,
    now: Nanos,
    counts: [usize; 9],
}

impl Run {
    fn new(seed: u64, ncpus: usize) -> Self {
        Run {
            s: Scheduler::new(ncpus, Tunables::default()),
            m: Model {
                live: BTreeSet::new(),
                blocked: BTreeSet::new(),
                exited: Vec::new(),
                last_min_vruntime: vec![0; ncpus],
            },
            rng: Rng::new(seed),
            now: 0,
            counts: [0; 9],
        }
    }

    fn random_cpu(&mut self) -> CpuId {
        self.rng.index(self.s.ncpus())
    }

    /// Any id the test has seen (live, blocked or exited) or a never-used one.
    fn random_known_id(&mut self) -> TaskId {
        let all: Vec<TaskId> = self.m.live.iter().chain(&self.m.exited).copied().collect();
        if all.is_empty() || self.rng.chance(5) {
            return 10_000 + self.rng.below(100) as TaskId;
        }
        all[self.rng.index(all.len())]
    }

    fn step(&mut self) {
        self.now += self.rng.below(2 * MS);
        let cpu = self.random_cpu();
        let now = self.now;
        let op = self.rng.below(100);
        match op {
            0..=9 => self.spawn(cpu),
            10..=29 => self.tick(cpu),
            30..=39 => {
                self.s.pick_next(cpu, now);
            }
            40..=51 => self.block(cpu),
            52..=71 => self.wake(),
            72..=79 => self.yield_(cpu),
            80..=82 => self.exit(cpu),
            83..=97 => self.balance(cpu),
            _ => self.retune(),
        }
        let kind = match op {
            0..=9 => 0,
            10..=29 => 1,
            30..=39 => 2,
            40..=51 => 3,
            52..=71 => 4,
            72..=79 => 5,
            80..=82 => 6,
            83..=97 => 7,
            _ => 8,
        };
        self.counts[kind] += 1;
    }

    fn spawn(&mut self, cpu: CpuId) {
        if self.m.live.len() >= 40 {
            return;
        }
        let nice = self.rng.below(40) as i8 - 20;
        let id = self.s.spawn(nice, cpu, self.now);
        assert!(self.m.live.insert(id), "id {id} reused");
        assert!(!self.m.exited.contains(&id), "exited id {id} reused");
        assert_eq!(self.s.task_state(id), Some(TaskState::Queued));
        assert_eq!(self.s.task_cpu(id), Some(cpu));
    }

    fn tick(&mut self, cpu: CpuId) {
        if self.s.tick(cpu, self.now) {
            assert!(
                self.s.nr_running(cpu) > 1,
                "told to switch with nothing else to run"
            );
            self.s.pick_next(cpu, self.now);
        }
    }

    fn block(&mut self, cpu: CpuId) {
        let Some(task) = self.s.current(cpu) else {
            self.s.block_current(cpu, self.now); // must be a harmless no-op
            return;
        };
        self.s.block_current(cpu, self.now);
        assert!(self.m.blocked.insert(task));
        assert_eq!(self.s.task_state(task), Some(TaskState::Blocked));
        assert_eq!(self.s.current(cpu), None);
        // Usually switch at once; sometimes leave the CPU "still on the old
        // stack" for a while, so that wakeups and balancing meet that window.
        if self.rng.chance(70) {
            self.s.pick_next(cpu, self.now);
        }
    }

    fn wake(&mut self) {
        let blocked: Vec<TaskId> = self.m.blocked.iter().copied().collect();
        let task = if !blocked.is_empty() && self.rng.chance(80) {
            blocked[self.rng.index(blocked.len())]
        } else {
            self.random_known_id()
        };
        let waker = self.random_cpu();
        let before = self.s.task_state(task);
        let woken = self.s.wake(task, self.now, waker);
        if self.m.blocked.remove(&task) {
            let w = woken.expect("a blocked task must wake");
            assert_eq!(self.s.task_state(task), Some(TaskState::Queued));
            assert_eq!(self.s.task_cpu(task), Some(w.cpu));
            if w.preempt {
                self.s.pick_next(w.cpu, self.now);
            }
        } else {
            assert_eq!(
                woken, None,
                "waking task {task} in state {before:?} must be a no-op"
            );
            assert_eq!(self.s.task_state(task), before);
        }
    }

    fn yield_(&mut self, cpu: CpuId) {
        self.s.yield_current(cpu, self.now);
        self.s.pick_next(cpu, self.now);
    }

    fn exit(&mut self, cpu: CpuId) {
        let Some(task) = self.s.current(cpu) else {
            return;
        };
        self.s.exit_current(cpu, self.now);
        self.m.live.remove(&task);
        self.m.exited.push(task);
        assert_eq!(self.s.task_state(task), None);
        assert_eq!(self.s.task_cpu(task), None);
        self.s.pick_next(cpu, self.now);
    }

    fn balance(&mut self, cpu: CpuId) {
        let total_before = self.total_running();
        let current_before: Vec<_> = (0..self.s.ncpus()).map(|c| self.s.current(c)).collect();
        let moved = self.s.balance(cpu, self.now);
        assert!(moved <= self.s.tunables().sched_nr_migrate as usize);
        assert_eq!(
            self.total_running(),
            total_before,
            "balancing creates or loses tasks"
        );
        let current_after: Vec<_> = (0..self.s.ncpus()).map(|c| self.s.current(c)).collect();
        assert_eq!(
            current_before, current_after,
            "balancing moved a running task"
        );
    }

    fn retune(&mut self) {
        let name = Tunables::NAMES[self.rng.index(Tunables::NAMES.len())];
        let value = match name {
            "sched_nr_migrate" => self.rng.below(10),
            _ => self.rng.below(30 * MS),
        };
        let (min, max) = self.s.tunables().range(name).unwrap();
        let result = self.s.set_tunable(name, value);
        assert_eq!(
            result.is_ok(),
            (min..=max).contains(&value),
            "{name} = {value}: {result:?}"
        );
    }

    fn total_running(&self) -> usize {
        (0..self.s.ncpus()).map(|c| self.s.nr_running(c)).sum()
    }

    fn check(&mut self) {
        self.s
            .check_invariants()
            .unwrap_or_else(|e| panic!("t={}: {e}", self.now));
        for &task in &self.m.live {
            let state = self.s.task_state(task).expect("live task vanished");
            let blocked = self.m.blocked.contains(&task);
            assert_eq!(
                state == TaskState::Blocked,
                blocked,
                "task {task} is {state:?}"
            );
        }
        for &task in &self.m.exited {
            assert_eq!(
                self.s.task_state(task),
                None,
                "exited task {task} came back"
            );
        }
        assert_eq!(
            self.total_running(),
            self.m.live.len() - self.m.blocked.len()
        );
        for cpu in 0..self.s.ncpus() {
            if let Some(task) = self.s.current(cpu) {
                assert_eq!(self.s.task_state(task), Some(TaskState::Running));
                assert_eq!(self.s.task_cpu(task), Some(cpu));
            }
            let min = self.s.min_vruntime(cpu);
            assert!(
                min >= self.m.last_min_vruntime[cpu],
                "cpu {cpu}: min_vruntime went back"
            );
            self.m.last_min_vruntime[cpu] = min;
        }
    }

    /// Wakes every blocked task, then runs all CPUs with ticks and periodic
    /// balancing until every task has run again (CFS guarantees it will:
    /// vruntimes of running tasks grow, so every queued task becomes leftmost).
    fn drain(&mut self) -> u64 {
        for task in std::mem::take(&mut self.m.blocked) {
            self.s.wake(task, self.now, 0).expect("blocked task wakes");
        }
        self.s.set_tunable("sched_nr_migrate", 32).unwrap();
        let start: Vec<(TaskId, Nanos)> = self
            .m
            .live
            .iter()
            .map(|&t| (t, self.s.task_runtime(t).unwrap()))
            .collect();
        let cpus = self.s.ncpus();
        for cpu in 0..cpus {
            self.s.pick_next(cpu, self.now);
        }
        for round in 0..1_000_000u64 {
            let all_ran = start
                .iter()
                .all(|&(t, r)| self.s.task_runtime(t).unwrap() > r);
            if all_ran {
                return round;
            }
            self.now += 4 * MS;
            for cpu in 0..cpus {
                if self.s.tick(cpu, self.now) {
                    self.s.pick_next(cpu, self.now);
                }
                if round % 16 == 0 && self.s.balance(cpu, self.now) > 0 {
                    self.s.pick_next(cpu, self.now);
                }
            }
            if round % 64 == 0 {
                self.check();
            }
        }
        panic!("some task never ran again");
    }
}

fn run(seed: u64, ncpus: usize, steps: usize) {
    let mut r = Run::new(seed, ncpus);
    for _ in 0..steps {
        r.step();
        r.check();
    }
    let rounds = r.drain();
    eprintln!(
        "seed {seed} cpus {ncpus}: ops {:?}, {} live, {} exited, drained in {rounds} rounds",
        r.counts,
        r.m.live.len(),
        r.m.exited.len()
    );
    let stats: Vec<_> = (0..ncpus).map(|c| r.s.stats(c)).collect();
    assert!(stats.iter().map(|s| s.context_switches).sum::<u64>() > 0);
    assert!(stats.iter().map(|s| s.nr_wakeups).sum::<u64>() > 0);
}

fn seeds(ncpus: usize) {
    for seed in 1..=5 {
        run(seed * 7919 + ncpus as u64, ncpus, 2_000);
    }
}

#[test]
fn random_operations_on_2_cpus() {
    seeds(2);
}

#[test]
fn random_operations_on_3_cpus() {
    seeds(3);
}

#[test]
fn random_operations_on_4_cpus() {
    seeds(4);
}
