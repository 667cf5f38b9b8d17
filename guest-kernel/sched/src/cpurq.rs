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
//!
//! The entities live in a slot arena and queued ones are linked into the
//! timeline by slot, so at steady state nothing here allocates: not waking,
//! picking, ticking, yielding or blocking, not spawning or balancing into a
//! queue that has held as many tasks before. The hot paths carry slots (the
//! running task's, the leftmost's); only the rare calls that name a task by
//! id ([`CpuRq::task`], [`CpuRq::set_pinned`]) scan for it, over this CPU's
//! tasks alone.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem;

use crate::arena::Arena;
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

/// How many tasks a queue has room for from its creation. Its arena, tree
/// and balancing list are allocated then (at boot, in the kernel) rather
/// than when its first tasks arrive, so a workload that later grows them
/// only reallocates them, and the kernel's count of kmalloc objects around
/// a workload (`leaked_objects`) sees nothing new that outlives it.
const INITIAL_CAPACITY: usize = 16;

/// The run queue of one CPU and the entities on it (queued and running).
#[derive(Clone, Debug)]
pub struct CpuRq<P> {
    cpu: CpuId,
    pub(crate) rq: RunQueue,
    /// The entities of the tasks queued or running here, by slot.
    pub(crate) tasks: Arena<Entity<P>>,
    /// [`detach_tasks`]'s working list of slots, kept between balances so
    /// that they allocate only when this queue has grown.
    detach_list: Vec<usize>,
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
            rq: RunQueue::with_capacity(INITIAL_CAPACITY),
            tasks: Arena::with_capacity(INITIAL_CAPACITY),
            detach_list: Vec::with_capacity(INITIAL_CAPACITY),
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
        if let Some(slot) = self.rq.curr {
            fair::update_curr(&mut self.rq, &mut self.tasks[slot].se, now);
        }
    }

    /// `activate_task()` for a placed entity: it joins the tree, waiting
    /// since `wait_start`. Returns its slot. (An entity is queued at most
    /// once by ownership: the caller gave it up.)
    pub(crate) fn enqueue(&mut self, mut e: Entity<P>, wait_start: Nanos) -> usize {
        e.se.state = TaskState::Queued;
        e.se.cpu = self.cpu;
        e.se.wait_start = wait_start;
        self.rq.account_enqueue(&e.se);
        let slot = self.tasks.insert(e);
        let se = &mut self.tasks[slot].se;
        se.slot = slot;
        self.rq.insert(se);
        slot
    }

    /// The slot of a task queued or running here: a scan, for the rare
    /// calls that name a task by id.
    fn slot_of(&self, id: TaskId) -> Option<usize> {
        self.tasks
            .iter()
            .find(|(_, e)| e.se.id == id)
            .map(|(slot, _)| slot)
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
        self.rq.curr.map(|slot| &self.tasks[slot])
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
        let mut prev_yielded = false;
        if let Some(prev) = prev_runnable {
            let prev = &mut self.tasks[prev].se;
            prev_yielded = rq.skip == Some(prev.id);
            fair::put_prev_entity(rq, prev, now);
        }
        let tasks = &self.tasks;
        let next = fair::pick_next_entity(rq, |slot| tasks[slot].se.load, &self.tunables);
        let mut next_id = None;
        if let Some(next) = next {
            let next = &mut self.tasks[next].se;
            next_id = Some(next.id);
            fair::set_next_entity(rq, next, now);
        }
        rq.on_cpu = next_id;
        if next_id != prev_on_cpu {
            rq.stats.context_switches += 1;
            if prev_runnable.is_some() && !prev_yielded {
                rq.stats.nr_preemptions += 1;
            }
        }
        next.map(|slot| &self.tasks[slot])
    }

    /// `scheduler_tick()` → `entity_tick()`: charges the running task and
    /// says whether its turn is over (`check_preempt_tick()`); the kernel then
    /// calls `pick_next`. A task alone on its CPU is never told to stop.
    pub fn tick(&mut self, now: Nanos) -> bool {
        self.update_curr(now);
        let Some(slot) = self.rq.curr else {
            return false;
        };
        if self.rq.nr_running <= 1 {
            return false;
        }
        fair::check_preempt_tick(&mut self.rq, &self.tasks[slot].se, &self.tunables)
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
        let Some(slot) = self.rq.curr else {
            return;
        };
        if self.rq.nr_running <= 1 {
            return;
        }
        self.update_curr(now);
        self.rq.skip = Some(self.tasks[slot].se.id);
    }

    /// `deactivate_task()` of the running task (it blocks or exits): charges
    /// it and takes it off the queue, handing its entity to the caller, who
    /// keeps it until the wakeup (or drops it: exit). Its context stays on
    /// the CPU until the next `pick_next`. `None` if the CPU ran nothing.
    pub fn deactivate_current(&mut self, now: Nanos) -> Option<Entity<P>> {
        self.update_curr(now);
        let slot = self.rq.curr.take()?;
        let mut e = self.tasks.remove(slot);
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
        let slot = self.enqueue(e, now);
        self.rq.stats.nr_wakeups += 1;
        let curr = self.current().map(|c| &c.se);
        fair::check_preempt_wakeup(curr, &self.tasks[slot].se, &self.tunables)
    }

    /// [`CpuRq::detach`] of the task `id`; `None` if it is not queued here.
    pub(crate) fn detach_queued(&mut self, id: TaskId) -> Option<(Entity<P>, Nanos)> {
        let slot = self.slot_of(id)?;
        (self.tasks[slot].se.state == TaskState::Queued).then(|| self.detach(slot))
    }

    /// `detach_task()`: takes the queued task in `slot` out, for another
    /// queue. Returns it with this queue's min_vruntime at that moment, its
    /// frame of reference.
    fn detach(&mut self, slot: usize) -> (Entity<P>, Nanos) {
        let e = self.tasks.remove(slot);
        self.rq.remove(&e.se);
        self.rq.account_dequeue(&e.se);
        let from_min = self.rq.min_vruntime;
        // Linux's `dequeue_entity()` refreshes min_vruntime.
        let curr_vruntime = self.current().map(|c| c.se.vruntime);
        self.rq.update_min_vruntime(curr_vruntime);
        (e, from_min)
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
        let slot = self.slot_of(id);
        if let Some(slot) = slot {
            self.tasks[slot].set_pinned(cpu);
        }
        slot.is_some()
    }

    /// The entity of a task queued or running here.
    pub fn task(&self, id: TaskId) -> Option<&Entity<P>> {
        self.slot_of(id).map(|slot| &self.tasks[slot])
    }

    /// Queued and running tasks, in no particular order.
    pub fn tasks(&self) -> impl Iterator<Item = &Entity<P>> + '_ {
        self.tasks.iter().map(|(_, e)| e)
    }

    /// Checks the bookkeeping: the arena and the timeline's tree are
    /// consistent, the running task and every queued one have an entity in
    /// the slot they are known by, in the right state, keyed by their
    /// vruntime, and every entity is one of them, once, with consistent
    /// counts and load. Returns how many tasks the queue holds.
    pub fn check_invariants(&self) -> Result<usize, String> {
        let cpu = self.cpu;
        let rq = &self.rq;
        self.tasks.check().map_err(|e| format!("cpu {cpu}: {e}"))?;
        rq.check_timeline().map_err(|e| format!("cpu {cpu}: {e}"))?;
        let mut load = 0;
        let mut note = |slot: usize, state: TaskState| {
            let se = &self
                .tasks
                .get(slot)
                .ok_or_else(|| format!("cpu {cpu}: slot {slot} has no entity"))?
                .se;
            if se.slot != slot
                || se.state != state
                || se.cpu != cpu
                || (state == TaskState::Queued && rq.key(slot) != (se.vruntime, se.id))
            {
                return Err(format!(
                    "cpu {cpu}: task {} in slot {slot} ({}) is {:?} on cpu {}",
                    se.id, se.slot, se.state, se.cpu
                ));
            }
            load += se.weight();
            Ok(se.id)
        };
        if let Some(slot) = rq.curr {
            let id = note(slot, TaskState::Running)?;
            if rq.on_cpu != Some(id) {
                return Err(format!("cpu {cpu}: curr {id} but on_cpu {:?}", rq.on_cpu));
            }
        }
        for slot in rq.queued() {
            note(slot, TaskState::Queued)?;
        }
        // The tree's slots are distinct and hold queued entities, the running
        // one's is not among them: if they add up to all entities, each
        // entity is in exactly one place.
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
            && self.slot_of(skip).is_none()
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
    let mut chosen = mem::take(&mut src.detach_list);
    detach_tasks(src, imbalance, now, &dst.tunables, &mut chosen);
    for &slot in &chosen {
        let (e, from_min) = src.detach(slot);
        dst.attach(e, from_min);
    }
    let moved = chosen.len();
    src.detach_list = chosen;
    moved
}
