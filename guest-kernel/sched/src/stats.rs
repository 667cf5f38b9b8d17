//! Per-CPU scheduler statistics, in the spirit of Linux's schedstats
//! (`/proc/schedstat`, `/proc/<pid>/sched`). They only ever grow; readers
//! take differences between two snapshots.

/// Counters for one CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// Times `pick_next` put a different task (or idle) on the CPU than was
    /// there before (`rq->nr_switches`; switches to and from idle count).
    pub context_switches: u64,
    /// Tasks that arrived from another CPU: pulled by `balance` or woken here
    /// after last running elsewhere (`se.nr_migrations`, counted at the destination).
    pub migrations_in: u64,
    /// Total time picked tasks spent waiting in this CPU's run queue
    /// (`rq->rq_sched_info.run_delay`).
    pub wait_time_ns: u64,
    /// Wakeups of blocked tasks that chose this CPU (`ttwu_count`).
    pub nr_wakeups: u64,
    /// Involuntary switches: the running task was still runnable, had not
    /// yielded, and another task was picked (after a tick or a wakeup
    /// preemption), like the per-task `nivcsw` summed per CPU.
    pub nr_preemptions: u64,
}
