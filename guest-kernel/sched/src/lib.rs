//! ferrite's scheduler logic: a CFS-style fair scheduler as in Linux <= 6.5
//! (before EEVDF), over abstract task and CPU ids and caller-provided time.
//!
//! The kernel owns contexts, stacks, timers and locking: it keeps one
//! [`CpuRq`] per CPU under that CPU's own lock, hands a waking task's
//! [`Entity`] to the CPU chosen for it, and does what the answers say (switch
//! to the picked task, reschedule a CPU). [`Scheduler`] drives all the queues
//! from one thread, the model the host tests exercise. Nothing here reads a
//! clock or touches hardware, so all of it runs and is tested on the host.
//!
//! Reading order, one concept per file:
//!
//! | file | what | Linux |
//! | --- | --- | --- |
//! | `weights.rs` | nice -> weight table, weighted time arithmetic | `sched_prio_to_weight`, `__calc_delta()` |
//! | `tunables.rs` | the five knobs, their ranges | `sysctl_sched_*` |
//! | `task.rs` | per-task scheduling state | `struct sched_entity` |
//! | `rq.rs` | a run queue ordered by vruntime | `struct cfs_rq` |
//! | `timeline.rs` | its red-black tree of queued tasks, leftmost cached | `tasks_timeline`, lib/rbtree.c |
//! | `arena.rs` | the slots holding one CPU's entities; no allocation at steady state | `sched_entity` embedded in `task_struct` |
//! | `cpurq.rs` | one CPU's queue and the entities on it | `struct rq`, `activate_task()`, `ttwu_do_activate()` |
//! | `fair.rs` | charging, slices, placement, preemption, picking | kernel/sched/fair.c |
//! | `balance.rs` | wakeup CPU choice, load balancing | `select_task_rq_fair()`, `load_balance()` |
//! | `scheduler.rs` | all CPUs' queues driven from one thread: the model | kernel/sched/core.c |
//! | `stats.rs` | per-CPU counters | schedstats |
//! | `waitqueue.rs`, `sync.rs`, `timer.rs` | wait queues, semaphore and mutex, sleep timers | `wait_queue_head_t`, semaphore.c, hrtimers |
//!
//! Time is in nanoseconds. Unlike Linux, vruntimes are compared as plain
//! `u64`s without wrap-around handling: that lasts 584 years of nice-0 run
//! time, 8 years even for a nice-19 task. Task groups (cgroups), PELT load tracking, real-time
//! classes and NUMA are out of scope.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod arena;
mod balance;
mod cpurq;
mod fair;
mod rq;
mod scheduler;
mod stats;
mod sync;
mod task;
mod timeline;
mod timer;
mod tunables;
mod waitqueue;
mod weights;

/// Identifies a task. Ids start at 1 and are never reused.
pub type TaskId = u32;
/// Index of a CPU, `0..ncpus`.
pub type CpuId = usize;
/// A point in time or a duration, in nanoseconds.
pub type Nanos = u64;

pub use balance::{Imbalance, find_busiest, select_task_rq};
pub use cpurq::{CpuRq, RqLoad, RqLoads, balance};
pub use scheduler::{Scheduler, Wakeup};
pub use stats::CpuStats;
pub use sync::{Acquire, Mutex, NotOwner, Semaphore};
pub use task::{Entity, TaskState};
pub use timer::{TimerId, TimerQueue};
pub use tunables::{TunableError, Tunables};
pub use waitqueue::WaitQueue;
pub use weights::{
    MAX_NICE, MIN_NICE, NICE_0_LOAD, SCHED_PRIO_TO_WEIGHT, SCHED_PRIO_TO_WMULT, nice_to_weight,
    nice_to_wmult,
};
