//! What the scheduler knows about one task: Linux's `struct sched_entity`
//! plus the few `task_struct` fields the fair class reads (state, CPU, nice).

use crate::weights::{LoadWeight, clamp_nice};
use crate::{CpuId, Nanos, TaskId};

/// Where a task is, from the scheduler's point of view. Every live task is
/// in exactly one of these states at any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// The current task of its CPU (`cfs_rq->curr`); not in the run-queue tree.
    Running,
    /// Runnable and waiting in its CPU's run-queue tree.
    Queued,
    /// Sleeping: on no run queue until [`crate::Scheduler::wake`].
    Blocked,
}

#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub id: TaskId,
    pub nice: i8,
    /// `se.load`: the weight from the nice table.
    pub load: LoadWeight,
    pub state: TaskState,
    /// The CPU whose run queue holds the task, or where it last ran when blocked.
    pub cpu: CpuId,
    /// `se.vruntime`: weighted run time, the run queue's sort key.
    pub vruntime: Nanos,
    /// `se.sum_exec_runtime`: total CPU time received.
    pub sum_exec_runtime: Nanos,
    /// `se.prev_sum_exec_runtime`: `sum_exec_runtime` when the task was last
    /// picked, so the difference is the length of the current slice.
    pub prev_sum_exec_runtime: Nanos,
    /// `se.exec_start`: when run time was last charged. While the task runs
    /// this is the start of the not-yet-charged interval; afterwards it is
    /// when the task last ran, which is what "cache-hot" is judged by.
    /// `None` until the task first runs.
    pub exec_start: Option<Nanos>,
    /// When the task was last put into a run-queue tree (for wait-time stats).
    pub wait_start: Nanos,
    /// The one CPU the task may run on, if pinned (Linux's `cpus_mask` with a
    /// single bit, as `sched_setaffinity()` to one CPU makes it).
    pub pinned: Option<CpuId>,
    /// `se.run_node`: the task's slot in its run queue's entity arena, which
    /// is also its node in the timeline. Set when it joins a run queue,
    /// meaningless once it leaves one.
    pub slot: usize,
}

impl Task {
    /// A new task that is not on any run queue yet (Linux's `TASK_NEW`).
    pub fn new(id: TaskId, nice: i8, cpu: CpuId) -> Self {
        let nice = clamp_nice(nice);
        Task {
            id,
            nice,
            load: LoadWeight::from_nice(nice),
            state: TaskState::Blocked,
            cpu,
            vruntime: 0,
            sum_exec_runtime: 0,
            prev_sum_exec_runtime: 0,
            exec_start: None,
            wait_start: 0,
            pinned: None,
            slot: 0,
        }
    }

    /// `se.on_rq`: counted in its run queue's load (running or queued).
    pub fn on_rq(&self) -> bool {
        self.state != TaskState::Blocked
    }

    pub fn weight(&self) -> u64 {
        self.load.weight
    }

    /// `task_hot()`: ran within `migration_cost` ns before `now`, so its
    /// cache footprint is probably still warm on its current CPU.
    pub fn is_cache_hot(&self, now: Nanos, migration_cost: Nanos) -> bool {
        match self.exec_start {
            None => false,
            Some(last) => now.saturating_sub(last) < migration_cost,
        }
    }
}

/// A task's scheduling state together with what the kernel attaches to it
/// (`P`: its body, for the kernel's context switch; `()` in the model).
///
/// An entity is always in exactly one place, by ownership: in the run
/// queue of the CPU it is queued or running on ([`crate::CpuRq`]), or, while
/// it sleeps, wherever the kernel keeps it until the wakeup hands it to a run
/// queue again. So a task can be neither on two run queues nor lost by one.
#[derive(Clone, Debug)]
pub struct Entity<P> {
    pub(crate) se: Task,
    pub payload: P,
}

impl<P> Entity<P> {
    /// A new task, on no run queue yet (Linux's `TASK_NEW`), with `nice`
    /// clamped into -20..=19; [`crate::CpuRq::spawn`] places it.
    pub fn new(id: TaskId, nice: i8, payload: P) -> Self {
        Entity {
            se: Task::new(id, nice, 0),
            payload,
        }
    }

    pub fn id(&self) -> TaskId {
        self.se.id
    }

    /// The CPU whose run queue holds the task, or where it last ran.
    pub fn cpu(&self) -> CpuId {
        self.se.cpu
    }

    pub fn state(&self) -> TaskState {
        self.se.state
    }

    /// The one CPU the task may run on, if pinned.
    pub fn pinned(&self) -> Option<CpuId> {
        self.se.pinned
    }

    /// Pins the task to one CPU, or lets it run anywhere. A run queue never
    /// gives a pinned task away; where it wakes is the waker's choice
    /// ([`crate::select_task_rq`] does not know about pins).
    pub fn set_pinned(&mut self, cpu: Option<CpuId>) {
        self.se.pinned = cpu;
    }

    pub fn nice(&self) -> i8 {
        self.se.nice
    }

    /// Total CPU time charged (`sum_exec_runtime`).
    pub fn runtime(&self) -> Nanos {
        self.se.sum_exec_runtime
    }

    pub fn vruntime(&self) -> Nanos {
        self.se.vruntime
    }
}
