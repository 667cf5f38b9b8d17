//! One CPU's share of the scheduler: Linux's `struct rq` reduced to the fair
//! class. It owns the entities of the tasks queued or running on its CPU, so
//! the kernel can protect each CPU's queue with a lock of its own: every
//! operation here touches this queue only, except [`balance`], which takes
//! two (Linux's `double_rq_lock()`).
//!
//! What crosses CPUs does so by value: a waking task's [`Entity`] is handed
//! to the chosen CPU (the kernel queues it on that CPU's wake list, as
//! Linux's `ttwu_queue_wakelist()`), and choices that read other CPUs (where
//! to wake a task, whom to pull from) read [`RqLoad`] snapshots, which the
//! kernel publishes without a lock, as Linux reads other run queues' counts.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

use crate::balance::{Imbalance, detach_tasks, migrate_vruntime};
use crate::fair;
use crate::rq::RunQueue;
use crate::stats::CpuStats;
use crate::task::{Entity, TaskState};
use crate::tunables::Tunables;
use crate::{CpuId, Nanos, TaskId};

/// What other CPUs read of a run queue to choose where to wake a task and
/// whom to pull from. A snapshot may be stale by the time it is used; the
/// choices it feeds are heuristics, and the queue itself stays consistent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RqLoad {
    /// Runnable tasks, the running one included.
    pub nr_running: usize,
    /// Queued tasks: those another CPU could pull.
    pub nr_queued: usize,
    /// Sum of the runnable tasks' weights.
    pub load: u64,
    /// The queue's min_vruntime, a waking task's frame of reference.
    pub min_vruntime: Nanos,
}

/// Every CPU's [`RqLoad`], as the choices that look across CPUs read them:
/// the kernel from its published counters, the model from its queues.
pub trait RqLoads {
    fn ncpus(&self) -> usize;
    fn load(&self, cpu: CpuId) -> RqLoad;
}

impl RqLoads for [RqLoad] {
    fn ncpus(&self) -> usize {
        self.len()
    }

    fn load(&self, cpu: CpuId) -> RqLoad {
        self[cpu]
    }
}

impl<P> RqLoads for [CpuRq<P>] {
    fn ncpus(&self) -> usize {
        self.len()
    }

    fn load(&self, cpu: CpuId) -> RqLoad {
        self[cpu].load()
    }
}

/// The run queue of one CPU and the entities on it (queued and running).
#[derive(Clone, Debug)]
pub struct CpuRq<P> {
    cpu: CpuId,
    pub(crate) rq: RunQueue,
    pub(crate) tasks: BTreeMap<TaskId, Entity<P>>,
    tunables: Tunables,
}

impl<P> CpuRq<P> {
    /// CPU `cpu`'s empty run queue. Panics if the tunables are out of range.
    pub fn new(cpu: CpuId, tunables: Tunables) -> Self {
        if let Err(e) = tunables.validate() {
            panic!("invalid scheduler tunables: {e}");
        }
        CpuRq {
            cpu,
            rq: RunQueue::default(),
            tasks: BTreeMap::new(),
            tunables,
        }
    }

    pub fn cpu(&self) -> CpuId {
        self.cpu
    }

    pub fn tunables(&self) -> &Tunables {
        &self.tunables
    }

    /// Changes one tunable (see [`Tunables::set`]); the next decision uses it.
    pub fn set_tunable(&mut self, name: &str, value: u64) -> Result<(), crate::TunableError> {
        self.tunables.set(name, value)
    }

    /// `update_curr()` on the running task, if any.
    fn update_curr(&mut self, now: Nanos) {
        if let Some(id) = self.rq.curr {
            let curr = self.tasks.get_mut(&id).expect("running task is here");
            fair::update_curr(&mut self.rq, &mut curr.se, now);
        }
    }

    /// `activate_task()` for a placed entity: it joins the tree, waiting since `wait_start`.
    pub(crate) fn enqueue(&mut self, mut e: Entity<P>, wait_start: Nanos) {
        e.se.state = TaskState::Queued;
        e.se.cpu = self.cpu;
        e.se.wait_start = wait_start;
        self.rq.account_enqueue(&e.se);
        self.rq.insert(&e.se);
        let old = self.tasks.insert(e.se.id, e);
        assert!(old.is_none(), "task queued twice on cpu {}", self.cpu);
    }

    /// `wake_up_new_task()`: a new entity ([`Entity::new`]) joins this queue
    /// one virtual slice after its min_vruntime (`place_entity(initial)`). It
    /// runs when `pick_next` chooses it; a new task preempts nobody.
    pub fn spawn(&mut self, mut e: Entity<P>, now: Nanos) {
        // `task_fork_fair()` brings the queue's clock up to date first.
        self.update_curr(now);
        e.se.cpu = self.cpu;
        fair::place_entity(&self.rq, &mut e.se, true, &self.tunables);
        self.enqueue(e, now);
    }

    /// The running task, if any (none also between `deactivate_current` and
    /// the following `pick_next`).
    pub fn current(&self) -> Option<&Entity<P>> {
        self.rq.curr.map(|id| &self.tasks[&id])
    }

    /// The task whose context is on the CPU: the running one, or the one
    /// that was just deactivated until `pick_next` switches away from it.
    pub fn on_cpu(&self) -> Option<TaskId> {
        self.rq.on_cpu
    }

    /// `__schedule()`: charges the running task, puts it back in the queue
    /// if it is still runnable (`put_prev_entity()`), and picks the next one
    /// (`pick_next_entity()`, `set_next_entity()`); `None` means idle. The
    /// kernel switches to the returned task (if it changed) before another
    /// CPU may touch the old one.
    pub fn pick_next(&mut self, now: Nanos) -> Option<&Entity<P>> {
        self.update_curr(now);
        let rq = &mut self.rq;
        let prev_on_cpu = rq.on_cpu;
        let prev_runnable = rq.curr;
        let prev_yielded = prev_runnable.is_some() && rq.skip == prev_runnable;
        if let Some(prev) = prev_runnable {
            let prev = self.tasks.get_mut(&prev).expect("running task is here");
            fair::put_prev_entity(rq, &mut prev.se, now);
        }
        let tasks = &self.tasks;
        let next = fair::pick_next_entity(rq, |id| tasks[&id].se.load, &self.tunables);
        if let Some(next) = next {
            let next = self.tasks.get_mut(&next).expect("queued task is here");
            fair::set_next_entity(rq, &mut next.se, now);
        }
        rq.on_cpu = next;
        if next != prev_on_cpu {
            rq.stats.context_switches += 1;
            if prev_runnable.is_some() && !prev_yielded {
                rq.stats.nr_preemptions += 1;
            }
        }
        next.map(|id| &self.tasks[&id])
    }

    /// `scheduler_tick()` → `entity_tick()`: charges the running task and
    /// says whether its turn is over (`check_preempt_tick()`); the kernel then
    /// calls `pick_next`. A task alone on its CPU is never told to stop.
    pub fn tick(&mut self, now: Nanos) -> bool {
        self.update_curr(now);
        let Some(id) = self.rq.curr else {
            return false;
        };
        if self.rq.nr_running <= 1 {
            return false;
        }
        fair::check_preempt_tick(&mut self.rq, &self.tasks[&id].se, &self.tunables)
    }

    /// For a tickless kernel (`hrtick_start_fair()`): how long the running
    /// task may still run before its slice ends; `None` if the CPU is idle.
    /// A task alone on its CPU cannot be preempted until a wakeup, spawn or
    /// balance adds work here (ask again after those); for it this returns
    /// `sched_latency_ns`, a re-check interval.
    pub fn slice_remaining(&self, now: Nanos) -> Option<Nanos> {
        let curr = &self.current()?.se;
        if self.rq.nr_running <= 1 {
            return Some(self.tunables.sched_latency_ns);
        }
        let uncharged = curr.exec_start.map_or(0, |start| now.saturating_sub(start));
        let ran = curr.sum_exec_runtime - curr.prev_sum_exec_runtime + uncharged;
        Some(fair::sched_slice(&self.rq, curr, &self.tunables).saturating_sub(ran))
    }

    /// `yield_task_fair()`: the running task stays runnable but becomes the
    /// skip buddy, so the next `pick_next` prefers the next task in vruntime
    /// order unless that one is more than a wakeup granularity ahead. Its
    /// vruntime is unchanged, so yielding never costs a task its share.
    pub fn yield_current(&mut self, now: Nanos) {
        let Some(id) = self.rq.curr else {
            return;
        };
        if self.rq.nr_running <= 1 {
            return;
        }
        self.update_curr(now);
        self.rq.skip = Some(id);
    }

    /// `deactivate_task()` of the running task (it blocks or exits): charges
    /// it and takes it off the queue, handing its entity to the caller, who
    /// keeps it until the wakeup (or drops it: exit). Its context stays on
    /// the CPU until the next `pick_next`. `None` if the CPU ran nothing.
    pub fn deactivate_current(&mut self, now: Nanos) -> Option<Entity<P>> {
        self.update_curr(now);
        let id = self.rq.curr.take()?;
        let mut e = self.tasks.remove(&id).expect("running task is here");
        e.se.state = TaskState::Blocked;
        self.rq.account_dequeue(&e.se);
        self.rq.update_min_vruntime(None);
        Some(e)
    }

    /// The enqueue half of `try_to_wake_up()`: a blocked entity joins this
    /// queue. `from_min` is the min_vruntime of the queue it last ran on
    /// (read from a [`RqLoad`] when that is another CPU): its vruntime keeps
    /// its lag across queues (`migrate_task_rq_fair()`), and is then placed
    /// with the sleeper credit of `place_entity()`:
    /// `max(vruntime, min_vruntime - sched_latency_ns / 2)`. Returns whether
    /// it should preempt the running task (`check_preempt_wakeup()`: more
    /// than `sched_wakeup_granularity_ns` of virtual time behind it, or the
    /// CPU runs nothing).
    pub fn wake_up(&mut self, mut e: Entity<P>, from_min: Nanos, now: Nanos) -> bool {
        assert_eq!(
            e.se.state,
            TaskState::Blocked,
            "waking a task that is not blocked"
        );
        self.update_curr(now);
        if e.se.cpu != self.cpu {
            e.se.vruntime = migrate_vruntime(e.se.vruntime, from_min, self.rq.min_vruntime);
            self.rq.stats.migrations_in += 1;
        }
        fair::place_entity(&self.rq, &mut e.se, false, &self.tunables);
        let id = e.se.id;
        self.enqueue(e, now);
        self.rq.stats.nr_wakeups += 1;
        let curr = self.current().map(|c| &c.se);
        fair::check_preempt_wakeup(curr, &self.tasks[&id].se, &self.tunables)
    }

    /// `detach_task()`: takes a queued task out, for another queue. Returns
    /// it with this queue's min_vruntime at that moment, its frame of
    /// reference. `None` if the task is not queued here.
    pub(crate) fn detach_queued(&mut self, id: TaskId) -> Option<(Entity<P>, Nanos)> {
        let e = self.tasks.get(&id)?;
        if e.se.state != TaskState::Queued {
            return None;
        }
        let e = self.tasks.remove(&id).expect("checked above");
        self.rq.remove(&e.se);
        self.rq.account_dequeue(&e.se);
        let from_min = self.rq.min_vruntime;
        // Linux's `dequeue_entity()` refreshes min_vruntime.
        let curr_vruntime = self.current().map(|c| c.se.vruntime);
        self.rq.update_min_vruntime(curr_vruntime);
        Some((e, from_min))
    }

    /// `attach_task()`: a task detached from another queue joins this one,
    /// keeping its lag; it goes on waiting (its wait started there).
    pub(crate) fn attach(&mut self, mut e: Entity<P>, from_min: Nanos) {
        e.se.vruntime = migrate_vruntime(e.se.vruntime, from_min, self.rq.min_vruntime);
        let wait_start = e.se.wait_start;
        self.enqueue(e, wait_start);
        self.rq.stats.migrations_in += 1;
    }

    /// What other CPUs may read of this queue.
    pub fn load(&self) -> RqLoad {
        RqLoad {
            nr_running: self.rq.nr_running,
            nr_queued: self.rq.nr_queued(),
            load: self.rq.load,
            min_vruntime: self.rq.min_vruntime,
        }
    }

    /// Runnable tasks, the running one included.
    pub fn nr_running(&self) -> usize {
        self.rq.nr_running
    }

    /// The queue's min_vruntime (monotonic).
    pub fn min_vruntime(&self) -> Nanos {
        self.rq.min_vruntime
    }

    pub fn stats(&self) -> CpuStats {
        self.rq.stats
    }

    /// Pins a task queued or running here (see [`Entity::set_pinned`]); it
    /// stays where it is until its next wakeup. Returns false if it is not here.
    pub fn set_pinned(&mut self, id: TaskId, cpu: Option<CpuId>) -> bool {
        self.tasks.get_mut(&id).map(|e| e.set_pinned(cpu)).is_some()
    }

    /// The entity of a task queued or running here.
    pub fn task(&self, id: TaskId) -> Option<&Entity<P>> {
        self.tasks.get(&id)
    }

    /// Queued and running tasks, by id.
    pub fn tasks(&self) -> impl Iterator<Item = &Entity<P>> + '_ {
        self.tasks.values()
    }

    /// Checks the bookkeeping: the running task and every queued one are
    /// here, in the right state, keyed by their vruntime, with consistent
    /// counts and load. Returns how many tasks the queue holds.
    pub fn check_invariants(&self) -> Result<usize, String> {
        let cpu = self.cpu;
        let rq = &self.rq;
        let mut load = 0;
        let mut note = |id: TaskId, state: TaskState, key: Option<Nanos>| {
            let se = &self
                .tasks
                .get(&id)
                .ok_or_else(|| format!("cpu {cpu}: task {id} has no entity here"))?
                .se;
            if se.id != id
                || se.state != state
                || se.cpu != cpu
                || key.is_some_and(|k| k != se.vruntime)
            {
                return Err(format!(
                    "cpu {cpu}: task {id} is {:?} on cpu {}",
                    se.state, se.cpu
                ));
            }
            load += se.weight();
            Ok(())
        };
        if let Some(id) = rq.curr {
            note(id, TaskState::Running, None)?;
            if rq.on_cpu != Some(id) {
                return Err(format!("cpu {cpu}: curr {id} but on_cpu {:?}", rq.on_cpu));
            }
        }
        for (vruntime, id) in rq.queued() {
            note(id, TaskState::Queued, Some(vruntime))?;
        }
        let counted = rq.nr_queued() + usize::from(rq.curr.is_some());
        if rq.nr_running != counted || rq.load != load || self.tasks.len() != counted {
            return Err(format!(
                "cpu {cpu}: nr_running {} load {} entities {} but {counted} tasks weighing {load}",
                rq.nr_running,
                rq.load,
                self.tasks.len()
            ));
        }
        if let Some(skip) = rq.skip
            && !self.tasks.contains_key(&skip)
        {
            return Err(format!("cpu {cpu}: skip buddy {skip} is not runnable here"));
        }
        Ok(counted)
    }
}

/// `load_balance()`'s move, with both queues held: pulls from `src` into
/// `dst` queued, not running, not pinned, not cache-hot tasks covering
/// `imbalance` (from [`crate::find_busiest`]), examining at most
/// `sched_nr_migrate` tasks, coldest first. `dst`'s tunables decide.
/// Returns how many tasks moved.
pub fn balance<P>(
    dst: &mut CpuRq<P>,
    src: &mut CpuRq<P>,
    imbalance: Imbalance,
    now: Nanos,
) -> usize {
    assert_ne!(dst.cpu, src.cpu, "balancing a queue with itself");
    src.update_curr(now);
    dst.update_curr(now);
    let chosen = detach_tasks(src, imbalance, now, &dst.tunables);
    for &id in &chosen {
        let (e, from_min) = src.detach_queued(id).expect("chosen tasks are queued");
        dst.attach(e, from_min);
    }
    chosen.len()
}
