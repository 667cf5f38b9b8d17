//! A per-CPU run queue: Linux's `struct cfs_rq` (plus the two `struct rq`
//! fields we need, the task on the CPU and the statistics).
//!
//! Runnable tasks that are not running wait in a "timeline" ordered by
//! vruntime; Linux uses a red-black tree with a cached leftmost node, we use a
//! `BTreeSet` of `(vruntime, id)` (the id breaks ties, so keys are unique and
//! equal vruntimes are served in id order). The running task is kept *out* of
//! the tree, as in Linux, because its vruntime changes while it runs.

use alloc::collections::BTreeSet;

use crate::stats::CpuStats;
use crate::task::Task;
use crate::{Nanos, TaskId};

#[derive(Clone, Debug, Default)]
pub(crate) struct RunQueue {
    /// `tasks_timeline`: queued tasks by `(vruntime, id)`, leftmost first.
    timeline: BTreeSet<(Nanos, TaskId)>,
    /// `cfs_rq->curr`: the running task while it is runnable.
    pub curr: Option<TaskId>,
    /// `rq->curr`: the task whose context is on the CPU. Equals `curr`, except
    /// between `block_current`/`exit_current` and the next `pick_next`, when
    /// the CPU is still on the old task's stack. Such a task must not run on
    /// another CPU yet (Linux's `p->on_cpu`), so wakeups keep it here.
    pub on_cpu: Option<TaskId>,
    /// Monotonic floor of the vruntimes on this queue; new and waking tasks
    /// are placed relative to it (`cfs_rq->min_vruntime`).
    pub min_vruntime: Nanos,
    /// Sum of the weights of all runnable tasks, running one included (`cfs_rq->load`).
    pub load: u64,
    /// Runnable tasks, running one included (`cfs_rq->nr_running`).
    pub nr_running: usize,
    /// The skip buddy: a task that yielded and should be passed over at the
    /// next pick if that is not too unfair (`cfs_rq->skip`).
    pub skip: Option<TaskId>,
    pub stats: CpuStats,
}

impl RunQueue {
    /// `__enqueue_entity()`: puts a runnable, not running task into the tree.
    pub fn insert(&mut self, task: &Task) {
        let fresh = self.timeline.insert((task.vruntime, task.id));
        debug_assert!(fresh, "task {} queued twice", task.id);
    }

    /// `__dequeue_entity()`: takes a task out of the tree.
    pub fn remove(&mut self, task: &Task) {
        let found = self.timeline.remove(&(task.vruntime, task.id));
        debug_assert!(found, "task {} was not queued", task.id);
    }

    /// `account_entity_enqueue()`: a task became runnable on this queue.
    pub fn account_enqueue(&mut self, task: &Task) {
        self.load += task.weight();
        self.nr_running += 1;
    }

    /// `account_entity_dequeue()`: a task stopped being runnable on this queue.
    pub fn account_dequeue(&mut self, task: &Task) {
        self.load -= task.weight();
        self.nr_running -= 1;
        // `clear_buddies()`: a task that leaves must not stay a buddy.
        if self.skip == Some(task.id) {
            self.skip = None;
        }
    }

    /// `__pick_first_entity()`: the queued task with the smallest vruntime.
    pub fn leftmost(&self) -> Option<(Nanos, TaskId)> {
        self.timeline.first().copied()
    }

    /// `__pick_next_entity()`: the queued task right after `key`.
    pub fn next_after(&self, key: (Nanos, TaskId)) -> Option<(Nanos, TaskId)> {
        use core::ops::Bound::{Excluded, Unbounded};
        self.timeline
            .range((Excluded(key), Unbounded))
            .next()
            .copied()
    }

    /// Queued (not running) tasks in vruntime order.
    pub fn queued(&self) -> impl Iterator<Item = (Nanos, TaskId)> + '_ {
        self.timeline.iter().copied()
    }

    pub fn nr_queued(&self) -> usize {
        self.timeline.len()
    }

    /// `update_min_vruntime()`: min_vruntime follows the smallest vruntime of
    /// the running task (`curr_vruntime`) and the leftmost queued one, but
    /// never moves backwards, so tasks placed relative to it cannot gain
    /// time by sleeping or migrating repeatedly.
    pub fn update_min_vruntime(&mut self, curr_vruntime: Option<Nanos>) {
        let leftmost = self.leftmost().map(|(v, _)| v);
        let candidate = match (curr_vruntime, leftmost) {
            (Some(c), Some(l)) => c.min(l),
            (Some(c), None) => c,
            (None, Some(l)) => l,
            (None, None) => return,
        };
        self.min_vruntime = self.min_vruntime.max(candidate);
    }
}
