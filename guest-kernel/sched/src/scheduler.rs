//! The scheduler's entry points: what the kernel calls on a tick, at a
//! blocking point, on a wakeup. Each mirrors a function of Linux's
//! kernel/sched/core.c (`__schedule()`, `scheduler_tick()`, `try_to_wake_up()`,
//! `wake_up_new_task()`, `do_sched_yield()`, `load_balance()`), reduced to
//! the fair class, and is built from the policy pieces in `fair.rs` and
//! `balance.rs`.
//!
//! The kernel owns contexts, stacks and locking: it calls these methods with
//! the scheduler lock held, and performs the context switch `pick_next`
//! asks for before another CPU may touch the old task (see [`Scheduler::wake`]).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::balance::{migrate_vruntime, plan_balance, select_task_rq};
use crate::fair;
use crate::rq::RunQueue;
use crate::stats::CpuStats;
use crate::task::{Task, TaskState};
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

/// All run queues and all tasks of the machine.
///
/// CPU arguments must be below [`Scheduler::ncpus`] (the methods panic
/// otherwise: that is a kernel bug, not a run-time condition). Task ids start
/// at 1 and are never reused; an id is invalid once its task has exited.
#[derive(Clone, Debug)]
pub struct Scheduler {
    tasks: BTreeMap<TaskId, Task>,
    rqs: Vec<RunQueue>,
    tunables: Tunables,
    next_id: TaskId,
}

impl Scheduler {
    /// A scheduler for `ncpus` idle CPUs. Panics if `ncpus` is 0 or the
    /// tunables are out of range (see [`Tunables::validate`]).
    pub fn new(ncpus: usize, tunables: Tunables) -> Self {
        assert!(ncpus > 0, "a scheduler needs at least one CPU");
        if let Err(e) = tunables.validate() {
            panic!("invalid scheduler tunables: {e}");
        }
        Scheduler {
            tasks: BTreeMap::new(),
            rqs: (0..ncpus).map(|_| RunQueue::default()).collect(),
            tunables,
            next_id: 1,
        }
    }

    pub fn ncpus(&self) -> usize {
        self.rqs.len()
    }

    pub fn tunables(&self) -> &Tunables {
        &self.tunables
    }

    /// Changes one tunable (see [`Tunables::set`]). Slices, placement and
    /// balancing read the tunables on every decision, so the new value
    /// applies from the next call on.
    pub fn set_tunable(&mut self, name: &str, value: u64) -> Result<(), TunableError> {
        self.tunables.set(name, value)
    }

    fn task(&self, id: TaskId) -> &Task {
        &self.tasks[&id]
    }

    /// `update_curr()` on `cpu`'s running task, if any.
    fn update_curr(&mut self, cpu: CpuId, now: Nanos) {
        let rq = &mut self.rqs[cpu];
        if let Some(id) = rq.curr {
            let curr = self.tasks.get_mut(&id).expect("running task exists");
            fair::update_curr(rq, curr, now);
        }
    }

    /// `activate_task()` for a placed task: it joins `cpu`'s run queue and tree.
    fn enqueue(&mut self, id: TaskId, cpu: CpuId, now: Nanos) {
        let rq = &mut self.rqs[cpu];
        let task = self.tasks.get_mut(&id).expect("task exists");
        task.state = TaskState::Queued;
        task.cpu = cpu;
        task.wait_start = now;
        rq.account_enqueue(task);
        rq.insert(task);
    }

    /// `wake_up_new_task()`: a new runnable task with this nice value
    /// (clamped into -20..=19) joins `cpu`'s queue, one virtual slice after
    /// its min_vruntime (`place_entity(initial)`). It runs when `pick_next`
    /// chooses it; a new task does not preempt anyone by itself.
    pub fn spawn(&mut self, nice: i8, cpu: CpuId, now: Nanos) -> TaskId {
        assert!(cpu < self.ncpus(), "cpu {cpu} out of range");
        let id = self.next_id;
        self.next_id = id.checked_add(1).expect("task ids exhausted");
        // `task_fork_fair()` brings the queue's clock up to date first.
        self.update_curr(cpu, now);
        let mut task = Task::new(id, nice, cpu);
        fair::place_entity(&self.rqs[cpu], &mut task, true, &self.tunables);
        self.tasks.insert(id, task);
        self.enqueue(id, cpu, now);
        id
    }

    /// The task running on `cpu`, if any. `None` also between
    /// `block_current`/`exit_current` and the following `pick_next`.
    pub fn current(&self, cpu: CpuId) -> Option<TaskId> {
        self.rqs[cpu].curr
    }

    /// `__schedule()` for `cpu`: charges the running task, puts it back in
    /// the queue if it is still runnable (`put_prev_entity()`), and picks the
    /// next task (`pick_next_entity()`, `set_next_entity()`); `None` means idle.
    /// The kernel switches to the returned task's context (if it changed)
    /// before releasing the scheduler lock.
    pub fn pick_next(&mut self, cpu: CpuId, now: Nanos) -> Option<TaskId> {
        self.update_curr(cpu, now);
        let rq = &mut self.rqs[cpu];
        let prev_on_cpu = rq.on_cpu;
        let prev_runnable = rq.curr;
        let prev_yielded = prev_runnable.is_some() && rq.skip == prev_runnable;
        if let Some(prev) = prev_runnable {
            let prev = self.tasks.get_mut(&prev).expect("running task exists");
            fair::put_prev_entity(rq, prev, now);
        }
        let next = fair::pick_next_entity(rq, &self.tasks, &self.tunables);
        if let Some(next) = next {
            let next = self.tasks.get_mut(&next).expect("queued task exists");
            fair::set_next_entity(rq, next, now);
        }
        rq.on_cpu = next;
        if next != prev_on_cpu {
            rq.stats.context_switches += 1;
            if prev_runnable.is_some() && !prev_yielded {
                rq.stats.nr_preemptions += 1;
            }
        }
        next
    }

    /// `scheduler_tick()` → `task_tick_fair()` → `entity_tick()`: charges the
    /// running task and says whether its turn is over (`check_preempt_tick()`),
    /// in which case the kernel calls `pick_next`. A task alone on its CPU is
    /// never told to stop.
    pub fn tick(&mut self, cpu: CpuId, now: Nanos) -> bool {
        self.update_curr(cpu, now);
        let rq = &mut self.rqs[cpu];
        let Some(id) = rq.curr else {
            return false;
        };
        if rq.nr_running <= 1 {
            return false;
        }
        fair::check_preempt_tick(rq, &self.tasks[&id], &self.tunables)
    }

    /// For a tickless kernel (`hrtick_start_fair()`): how long the running
    /// task may still run before its slice ends, so the kernel can set a
    /// deadline and call `tick` then. `None` if the CPU is idle. A task that
    /// is alone on its CPU cannot be preempted until a wakeup, spawn or
    /// balance adds work there (ask again after those); for it this returns
    /// `sched_latency_ns`, a re-check interval.
    pub fn slice_remaining(&self, cpu: CpuId, now: Nanos) -> Option<Nanos> {
        let rq = &self.rqs[cpu];
        let curr = self.task(rq.curr?);
        if rq.nr_running <= 1 {
            return Some(self.tunables.sched_latency_ns);
        }
        let uncharged = curr.exec_start.map_or(0, |start| now.saturating_sub(start));
        let ran = curr.sum_exec_runtime - curr.prev_sum_exec_runtime + uncharged;
        Some(fair::sched_slice(rq, curr, &self.tunables).saturating_sub(ran))
    }

    /// `sched_yield()` → `yield_task_fair()`: the running task stays runnable
    /// but becomes the skip buddy, so the next `pick_next` (call it now, as
    /// `sched_yield()` calls `schedule()`) prefers the next task in vruntime
    /// order -- unless that one is more than one wakeup granularity ahead, in
    /// which case skipping would be unfair and the yielder runs on. Its
    /// vruntime is not changed (Linux dropped the old "move to the rightmost
    /// position" yield in 2.6.39), so yielding never costs a task its share.
    /// Does nothing if the CPU is idle or the task is alone.
    pub fn yield_current(&mut self, cpu: CpuId, now: Nanos) {
        let rq = &self.rqs[cpu];
        let Some(id) = rq.curr else {
            return;
        };
        if rq.nr_running <= 1 {
            return;
        }
        self.update_curr(cpu, now);
        self.rqs[cpu].skip = Some(id);
    }

    /// `deactivate_task()` of the running task: charges it and takes it off
    /// the run queue. Returns its id (`None` if the CPU ran nothing).
    fn dequeue_current(&mut self, cpu: CpuId, now: Nanos) -> Option<TaskId> {
        self.update_curr(cpu, now);
        let rq = &mut self.rqs[cpu];
        let id = rq.curr.take()?;
        let task = self.tasks.get_mut(&id).expect("running task exists");
        task.state = TaskState::Blocked;
        rq.account_dequeue(task);
        rq.update_min_vruntime(None);
        Some(id)
    }

    /// The running task goes to sleep (`schedule()` with a non-running state):
    /// it leaves the run queue until [`Scheduler::wake`]. The kernel calls
    /// `pick_next` next, still holding the lock. Does nothing if the CPU is idle.
    pub fn block_current(&mut self, cpu: CpuId, now: Nanos) {
        self.dequeue_current(cpu, now);
    }

    /// The running task exits (`do_exit()` → `do_task_dead()`): it leaves the
    /// run queue and its id becomes invalid. The kernel calls `pick_next`
    /// next (and frees the old stack only after switching away from it).
    pub fn exit_current(&mut self, cpu: CpuId, now: Nanos) {
        if let Some(id) = self.dequeue_current(cpu, now) {
            self.tasks.remove(&id);
        }
    }

    /// `try_to_wake_up()`: makes a blocked task runnable again.
    ///
    /// Returns `None`, changing nothing, if the id is invalid or the task is
    /// already running or queued: a wakeup is never counted twice and a task
    /// is never queued twice. Otherwise the task is queued at once, so the
    /// wakeup cannot be lost:
    ///
    /// * the CPU is chosen by [`select_task_rq`](crate::balance) (previous CPU
    ///   if idle, else an idle CPU, else the lighter of previous and waker's
    ///   CPU); a task that blocked but whose CPU has not yet switched away
    ///   from it (no `pick_next` since) is woken on that CPU, so that no other
    ///   CPU can run its stack before its context is saved;
    /// * its vruntime is carried over relative to the queues' min_vruntime and
    ///   placed with the sleeper credit of `place_entity()`:
    ///   `max(vruntime, min_vruntime - sched_latency_ns / 2)`;
    /// * `preempt` says whether it should preempt that CPU's running task
    ///   (`check_preempt_wakeup()`: more than `sched_wakeup_granularity_ns` of
    ///   virtual time behind it, or the CPU runs nothing).
    pub fn wake(&mut self, task: TaskId, now: Nanos, waker_cpu: CpuId) -> Option<Wakeup> {
        assert!(waker_cpu < self.ncpus(), "cpu {waker_cpu} out of range");
        let sleeper = self.tasks.get(&task)?;
        if sleeper.state != TaskState::Blocked {
            return None;
        }
        let prev = sleeper.cpu;
        // A pinned task goes to its CPU, unless it is still on its previous
        // CPU (its context not yet saved), where it must stay for now.
        let cpu = match sleeper.pinned {
            Some(pin) if self.rqs[prev].on_cpu != Some(task) => pin,
            _ => select_task_rq(&self.rqs, task, prev, waker_cpu),
        };
        self.update_curr(cpu, now);
        let (from_min, to_min) = (self.rqs[prev].min_vruntime, self.rqs[cpu].min_vruntime);
        let sleeper = self.tasks.get_mut(&task).expect("checked above");
        if cpu != prev {
            sleeper.vruntime = migrate_vruntime(sleeper.vruntime, from_min, to_min);
            self.rqs[cpu].stats.migrations_in += 1;
        }
        fair::place_entity(&self.rqs[cpu], sleeper, false, &self.tunables);
        self.enqueue(task, cpu, now);
        let rq = &mut self.rqs[cpu];
        rq.stats.nr_wakeups += 1;
        let curr = rq.curr.map(|id| &self.tasks[&id]);
        let preempt = fair::check_preempt_wakeup(curr, &self.tasks[&task], &self.tunables);
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
        let Some((src, chosen)) = plan_balance(&self.rqs, &self.tasks, cpu, now, &self.tunables)
        else {
            return 0;
        };
        self.update_curr(src, now);
        self.update_curr(cpu, now);
        for &id in &chosen {
            self.migrate_queued(id, src, cpu);
        }
        chosen.len()
    }

    /// `detach_task()` + `attach_task()`: moves a queued task between queues,
    /// keeping its lag relative to min_vruntime. It keeps waiting (its wait
    /// started on the old queue), so `wait_start` is left alone.
    fn migrate_queued(&mut self, id: TaskId, src: CpuId, dst: CpuId) {
        let task = self.tasks.get_mut(&id).expect("queued task exists");
        let src_rq = &mut self.rqs[src];
        src_rq.remove(task);
        src_rq.account_dequeue(task);
        let from_min = src_rq.min_vruntime;
        let to_min = self.rqs[dst].min_vruntime;
        task.vruntime = migrate_vruntime(task.vruntime, from_min, to_min);
        task.cpu = dst;
        let dst_rq = &mut self.rqs[dst];
        dst_rq.account_enqueue(task);
        dst_rq.insert(task);
        dst_rq.stats.migrations_in += 1;
        // Linux's `dequeue_entity()` refreshes the source's min_vruntime.
        let src_curr_vruntime = self.rqs[src].curr.map(|c| self.tasks[&c].vruntime);
        self.rqs[src].update_min_vruntime(src_curr_vruntime);
    }

    /// Runnable tasks on `cpu`, the running one included.
    pub fn nr_running(&self, cpu: CpuId) -> usize {
        self.rqs[cpu].nr_running
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
        let Some(t) = self.tasks.get_mut(&task) else {
            return false;
        };
        t.pinned = cpu;
        let (state, src) = (t.state, t.cpu);
        if let Some(dst) = cpu
            && state == TaskState::Queued
            && src != dst
        {
            self.migrate_queued(task, src, dst);
        }
        true
    }

    /// The CPU a task is pinned to, if any.
    pub fn task_affinity(&self, task: TaskId) -> Option<CpuId> {
        self.tasks.get(&task).and_then(|t| t.pinned)
    }

    /// The CPU a task is queued or running on, or last ran on if blocked.
    pub fn task_cpu(&self, task: TaskId) -> Option<CpuId> {
        self.tasks.get(&task).map(|t| t.cpu)
    }

    /// Total CPU time the task has been charged (`sum_exec_runtime`), up to
    /// the last `tick`/`pick_next`/... on its CPU.
    pub fn task_runtime(&self, task: TaskId) -> Option<Nanos> {
        self.tasks.get(&task).map(|t| t.sum_exec_runtime)
    }

    /// The task's virtual run time, relative to its CPU's queue.
    pub fn task_vruntime(&self, task: TaskId) -> Option<Nanos> {
        self.tasks.get(&task).map(|t| t.vruntime)
    }

    /// The task's nice value (as clamped at spawn).
    pub fn task_nice(&self, task: TaskId) -> Option<i8> {
        self.tasks.get(&task).map(|t| t.nice)
    }

    /// Whether the task is running, queued or blocked; `None` if the id is invalid.
    pub fn task_state(&self, task: TaskId) -> Option<TaskState> {
        self.tasks.get(&task).map(|t| t.state)
    }

    /// `cpu`'s min_vruntime (monotonic).
    pub fn min_vruntime(&self, cpu: CpuId) -> Nanos {
        self.rqs[cpu].min_vruntime
    }

    pub fn stats(&self, cpu: CpuId) -> CpuStats {
        self.rqs[cpu].stats
    }

    /// Checks the bookkeeping (for tests and kernel self-checks): every live
    /// task is in exactly one place -- running on one CPU, queued on one CPU,
    /// or blocked on none -- with consistent counts, loads and keys.
    ///
    /// Each place is checked against the task's own state and CPU, and a
    /// queue entry against its vruntime, so a task can fill at most one
    /// place; then the places are counted against the runnable tasks.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut places = 0;
        for (cpu, rq) in self.rqs.iter().enumerate() {
            places += self.check_rq(cpu, rq)?;
            let on_cpu_elsewhere = self.rqs[..cpu]
                .iter()
                .any(|other| other.on_cpu == rq.on_cpu);
            if rq.on_cpu.is_some() && on_cpu_elsewhere {
                return Err(format!("task {:?} is on two CPUs", rq.on_cpu));
            }
        }
        let runnable = self.tasks.values().filter(|t| t.on_rq()).count();
        if places != runnable {
            return Err(format!(
                "{runnable} runnable tasks but {places} on run queues"
            ));
        }
        Ok(())
    }

    /// Checks one run queue; returns how many tasks it holds.
    fn check_rq(&self, cpu: CpuId, rq: &RunQueue) -> Result<usize, String> {
        let mut load = 0;
        let mut note = |id: TaskId, state: TaskState, key: Option<Nanos>| {
            let task = self
                .tasks
                .get(&id)
                .ok_or_else(|| format!("cpu {cpu}: dead task {id}"))?;
            if task.state != state || task.cpu != cpu || key.is_some_and(|k| k != task.vruntime) {
                return Err(format!(
                    "cpu {cpu}: task {id} is {:?} on cpu {}",
                    task.state, task.cpu
                ));
            }
            load += task.weight();
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
        if rq.nr_running != counted || rq.load != load {
            return Err(format!(
                "cpu {cpu}: nr_running {} load {} but {counted} tasks weighing {load}",
                rq.nr_running, rq.load
            ));
        }
        if let Some(skip) = rq.skip
            && self
                .tasks
                .get(&skip)
                .is_none_or(|t| t.cpu != cpu || !t.on_rq())
        {
            return Err(format!("cpu {cpu}: skip buddy {skip} is not runnable here"));
        }
        Ok(counted)
    }
}
