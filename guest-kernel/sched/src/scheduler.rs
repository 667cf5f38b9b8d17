//! The scheduler's model: every CPU's [`CpuRq`] and every blocked task's
//! entity in one value, driven from one thread. Each method mirrors a
//! function of Linux's kernel/sched/core.c (`__schedule()`,
//! `scheduler_tick()`, `try_to_wake_up()`, `wake_up_new_task()`,
//! `do_sched_yield()`, `load_balance()`), reduced to the fair class, and
//! calls the same per-CPU operations the kernel calls under each CPU's
//! own lock; the host tests check the decisions through it.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::balance::{find_busiest, select_task_rq};
use crate::cpurq::{CpuRq, balance};
use crate::stats::CpuStats;
use crate::task::{Entity, TaskState};
use crate::tunables::{TunableError, Tunables};
use crate::{CpuId, Nanos, TaskId};

/// Where a woken task was queued, and whether it should preempt the task
/// running there (the kernel then reschedules that CPU: at once if it is the
/// waker's, else by an IPI or by that CPU's next poll).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wakeup {
    pub cpu: CpuId,
    pub preempt: bool,
}

/// All run queues and all tasks of the machine, driven from one thread: the
/// scheduler's model. The kernel runs each [`CpuRq`] under its own CPU's
/// lock and hands waking entities between CPUs itself; this type makes the
/// same decisions with every queue at hand, which is what the host tests
/// (fairness, knobs, balance, random operations) exercise.
///
/// CPU arguments must be below [`Scheduler::ncpus`] (the methods panic
/// otherwise: that is a kernel bug, not a run-time condition). Task ids start
/// at 1 and are never reused; an id is invalid once its task has exited.
#[derive(Clone, Debug)]
pub struct Scheduler {
    rqs: Vec<CpuRq<()>>,
    /// Entities of blocked tasks (Linux keeps them in their `task_struct`s).
    blocked: BTreeMap<TaskId, Entity<()>>,
    next_id: TaskId,
}

impl Scheduler {
    /// A scheduler for `ncpus` idle CPUs. Panics if `ncpus` is 0 or the
    /// tunables are out of range (see [`Tunables::validate`]).
    pub fn new(ncpus: usize, tunables: Tunables) -> Self {
        assert!(ncpus > 0, "a scheduler needs at least one CPU");
        Scheduler {
            rqs: (0..ncpus).map(|cpu| CpuRq::new(cpu, tunables)).collect(),
            blocked: BTreeMap::new(),
            next_id: 1,
        }
    }

    pub fn ncpus(&self) -> usize {
        self.rqs.len()
    }

    pub fn tunables(&self) -> &Tunables {
        self.rqs[0].tunables()
    }

    /// Changes one tunable on every CPU (see [`Tunables::set`]). Slices,
    /// placement and balancing read the tunables on every decision, so the
    /// new value applies from the next call on.
    pub fn set_tunable(&mut self, name: &str, value: u64) -> Result<(), TunableError> {
        for rq in &mut self.rqs {
            rq.set_tunable(name, value)?;
        }
        Ok(())
    }

    /// The entity of a live task, wherever it is.
    fn entity(&self, task: TaskId) -> Option<&Entity<()>> {
        self.blocked
            .get(&task)
            .or_else(|| self.rqs.iter().find_map(|rq| rq.task(task)))
    }

    /// `wake_up_new_task()`: a new runnable task with this nice value
    /// (clamped into -20..=19) joins `cpu`'s queue, one virtual slice after
    /// its min_vruntime (`place_entity(initial)`). It runs when `pick_next`
    /// chooses it; a new task does not preempt anyone by itself.
    pub fn spawn(&mut self, nice: i8, cpu: CpuId, now: Nanos) -> TaskId {
        assert!(cpu < self.ncpus(), "cpu {cpu} out of range");
        let id = self.next_id;
        self.next_id = id.checked_add(1).expect("task ids exhausted");
        self.rqs[cpu].spawn(Entity::new(id, nice, ()), now);
        id
    }

    /// The task running on `cpu`, if any. `None` also between
    /// `block_current`/`exit_current` and the following `pick_next`.
    pub fn current(&self, cpu: CpuId) -> Option<TaskId> {
        self.rqs[cpu].current().map(Entity::id)
    }

    /// `__schedule()` for `cpu` (see [`CpuRq::pick_next`]); `None` means idle.
    pub fn pick_next(&mut self, cpu: CpuId, now: Nanos) -> Option<TaskId> {
        self.rqs[cpu].pick_next(now).map(Entity::id)
    }

    /// `scheduler_tick()` for `cpu` (see [`CpuRq::tick`]).
    pub fn tick(&mut self, cpu: CpuId, now: Nanos) -> bool {
        self.rqs[cpu].tick(now)
    }

    /// See [`CpuRq::slice_remaining`].
    pub fn slice_remaining(&self, cpu: CpuId, now: Nanos) -> Option<Nanos> {
        self.rqs[cpu].slice_remaining(now)
    }

    /// `sched_yield()` (see [`CpuRq::yield_current`]); call `pick_next` next.
    pub fn yield_current(&mut self, cpu: CpuId, now: Nanos) {
        self.rqs[cpu].yield_current(now);
    }

    /// The running task goes to sleep (`schedule()` with a non-running state):
    /// it leaves the run queue until [`Scheduler::wake`]. The kernel calls
    /// `pick_next` next. Does nothing if the CPU is idle.
    pub fn block_current(&mut self, cpu: CpuId, now: Nanos) {
        if let Some(e) = self.rqs[cpu].deactivate_current(now) {
            self.blocked.insert(e.id(), e);
        }
    }

    /// The running task exits (`do_exit()` → `do_task_dead()`): it leaves the
    /// run queue and its id becomes invalid. The kernel calls `pick_next`
    /// next (and frees the old stack only after switching away from it).
    pub fn exit_current(&mut self, cpu: CpuId, now: Nanos) {
        self.rqs[cpu].deactivate_current(now);
    }

    /// `try_to_wake_up()`: makes a blocked task runnable again.
    ///
    /// Returns `None`, changing nothing, if the id is invalid or the task is
    /// already running or queued: a wakeup is never counted twice and a task
    /// is never queued twice. Otherwise the task is queued at once, so the
    /// wakeup cannot be lost. A pinned task goes to its CPU, unless its
    /// context is still on its previous CPU; any other to the CPU
    /// [`select_task_rq`](crate::select_task_rq) chooses; there
    /// [`CpuRq::wake_up`] places it and says whether it preempts.
    pub fn wake(&mut self, task: TaskId, now: Nanos, waker_cpu: CpuId) -> Option<Wakeup> {
        assert!(waker_cpu < self.ncpus(), "cpu {waker_cpu} out of range");
        let sleeper = self.blocked.remove(&task)?;
        let prev = sleeper.cpu();
        let prev_on_cpu = self.rqs[prev].on_cpu() == Some(task);
        let cpu = match sleeper.pinned() {
            Some(pin) if !prev_on_cpu => pin,
            _ => select_task_rq(&self.rqs[..], prev, prev_on_cpu, waker_cpu),
        };
        let from_min = self.rqs[prev].min_vruntime();
        let preempt = self.rqs[cpu].wake_up(sleeper, from_min, now);
        Some(Wakeup { cpu, preempt })
    }

    /// `load_balance()` for `cpu` (call it when the CPU goes idle and
    /// periodically): pulls queued, not running, not cache-hot tasks from the
    /// busiest CPU -- if idle, about half of its tasks whatever they weigh;
    /// if busy, and the busiest CPU carries over 17% more load, about half
    /// the load difference -- examining at most `sched_nr_migrate` tasks,
    /// coldest first. Returns how many tasks moved.
    pub fn balance(&mut self, cpu: CpuId, now: Nanos) -> usize {
        assert!(cpu < self.ncpus(), "cpu {cpu} out of range");
        let Some((src, imbalance)) = find_busiest(&self.rqs[..], cpu) else {
            return 0;
        };
        let [dst, src] = self
            .rqs
            .get_disjoint_mut([cpu, src])
            .expect("find_busiest never names this CPU");
        balance(dst, src, imbalance, now)
    }

    /// Runnable tasks on `cpu`, the running one included.
    pub fn nr_running(&self, cpu: CpuId) -> usize {
        self.rqs[cpu].nr_running()
    }

    /// Pins a task to one CPU (`Some(cpu)`) or lets it run anywhere (`None`),
    /// as `sched_setaffinity()` does with one CPU or all. A queued task moves
    /// to its CPU at once; a running or blocked one at its next wakeup.
    /// Wakeup placement and load balancing respect the pin. Returns false for
    /// an unknown task.
    pub fn set_affinity(&mut self, task: TaskId, cpu: Option<CpuId>) -> bool {
        if let Some(c) = cpu {
            assert!(c < self.ncpus(), "cpu {c} out of range");
        }
        if let Some(e) = self.blocked.get_mut(&task) {
            e.set_pinned(cpu);
            return true;
        }
        let Some(src) = self.rqs.iter().position(|rq| rq.task(task).is_some()) else {
            return false;
        };
        // A queued task moves now; a running one stays until its next wakeup.
        if let Some(dst) = cpu
            && dst != src
            && let Some((mut e, from_min)) = self.rqs[src].detach_queued(task)
        {
            e.set_pinned(cpu);
            self.rqs[dst].attach(e, from_min);
        } else {
            self.rqs[src].set_pinned(task, cpu);
        }
        true
    }

    /// The CPU a task is pinned to, if any.
    pub fn task_affinity(&self, task: TaskId) -> Option<CpuId> {
        self.entity(task).and_then(Entity::pinned)
    }

    /// The CPU a task is queued or running on, or last ran on if blocked.
    pub fn task_cpu(&self, task: TaskId) -> Option<CpuId> {
        self.entity(task).map(Entity::cpu)
    }

    /// Total CPU time the task has been charged (`sum_exec_runtime`), up to
    /// the last `tick`/`pick_next`/... on its CPU.
    pub fn task_runtime(&self, task: TaskId) -> Option<Nanos> {
        self.entity(task).map(Entity::runtime)
    }

    /// The task's virtual run time, relative to its CPU's queue.
    pub fn task_vruntime(&self, task: TaskId) -> Option<Nanos> {
        self.entity(task).map(Entity::vruntime)
    }

    /// The task's nice value (as clamped at spawn).
    pub fn task_nice(&self, task: TaskId) -> Option<i8> {
        self.entity(task).map(Entity::nice)
    }

    /// Whether the task is running, queued or blocked; `None` if the id is invalid.
    pub fn task_state(&self, task: TaskId) -> Option<TaskState> {
        self.entity(task).map(Entity::state)
    }

    /// `cpu`'s min_vruntime (monotonic).
    pub fn min_vruntime(&self, cpu: CpuId) -> Nanos {
        self.rqs[cpu].min_vruntime()
    }

    pub fn stats(&self, cpu: CpuId) -> CpuStats {
        self.rqs[cpu].stats()
    }

    /// Checks the bookkeeping (for tests): every queue is consistent
    /// ([`CpuRq::check_invariants`]), every live task is in exactly one
    /// place -- running on one CPU, queued on one CPU, or blocked on none --
    /// and no task's context is on two CPUs.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = BTreeMap::new();
        for (cpu, rq) in self.rqs.iter().enumerate() {
            rq.check_invariants()?;
            for e in rq.tasks() {
                if let Some(other) = seen.insert(e.id(), cpu) {
                    return Err(format!("task {} is on cpus {other} and {cpu}", e.id()));
                }
            }
            let on_cpu_elsewhere = self.rqs[..cpu]
                .iter()
                .any(|other| other.on_cpu() == rq.on_cpu());
            if rq.on_cpu().is_some() && on_cpu_elsewhere {
                return Err(format!("task {:?} is on two CPUs", rq.on_cpu()));
            }
        }
        for (&id, e) in &self.blocked {
            if e.state() != TaskState::Blocked || e.id() != id {
                return Err(format!("blocked task {id} is {:?}", e.state()));
            }
            if let Some(cpu) = seen.get(&id) {
                return Err(format!("blocked task {id} is also on cpu {cpu}"));
            }
        }
        Ok(())
    }
}
