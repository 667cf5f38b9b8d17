//! A per-CPU run queue: Linux's `struct cfs_rq` (plus the two `struct rq`
//! fields we need, the task on the CPU and the statistics).
//!
//! Runnable tasks that are not running wait in a "timeline" ordered by
//! vruntime, a red-black tree with a cached leftmost node as in Linux
//! ([`Timeline`]). Tasks are named by their slot in the CPU's entity arena
//! (`Task::slot`), which is also their node in the tree. The running task
//! is kept *out* of the tree, as in Linux, because its vruntime changes
//! while it runs.

use alloc::string::String;

use crate::stats::CpuStats;
use crate::task::Task;
use crate::timeline::{Key, Timeline};
use crate::{Nanos, TaskId};

#[derive(Clone, Debug, Default)]
pub(crate) struct RunQueue {
    /// `tasks_timeline`: queued tasks by `(vruntime, id)`, leftmost first.
    timeline: Timeline,
    /// `cfs_rq->curr`: the slot of the running task while it is runnable.
    pub curr: Option<usize>,
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
    /// An empty queue whose tree has room for `tasks` tasks before it grows.
    pub fn with_capacity(tasks: usize) -> Self {
        RunQueue {
            timeline: Timeline::with_capacity(tasks),
            ..RunQueue::default()
        }
    }

    /// `__enqueue_entity()`: puts a runnable, not running task into the tree.
    pub fn insert(&mut self, task: &Task) {
        self.timeline.insert(task.slot, (task.vruntime, task.id));
    }

    /// `__dequeue_entity()`: takes a task out of the tree.
    pub fn remove(&mut self, task: &Task) {
        debug_assert_eq!(
            self.timeline.key(task.slot),
            (task.vruntime, task.id),
            "task {} was not queued",
            task.id
        );
        self.timeline.erase(task.slot);
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

    /// `__pick_first_entity()`: the slot of the queued task with the smallest vruntime.
    pub fn leftmost(&self) -> Option<usize> {
        self.timeline.first()
    }

    /// `__pick_next_entity()`: the slot of the queued task right after `slot`'s.
    pub fn next_after(&self, slot: usize) -> Option<usize> {
        self.timeline.next(slot)
    }

    /// The `(vruntime, id)` a queued task is sorted by.
    pub fn key(&self, slot: usize) -> Key {
        self.timeline.key(slot)
    }

    /// The slots of the queued (not running) tasks in vruntime order.
    pub fn queued(&self) -> impl Iterator<Item = usize> + '_ {
        self.timeline.iter()
    }

    pub fn nr_queued(&self) -> usize {
        self.timeline.len()
    }

    /// Checks the timeline's tree (see [`Timeline::check`]).
    pub fn check_timeline(&self) -> Result<(), String> {
        self.timeline.check()
    }

    /// `update_min_vruntime()`: min_vruntime follows the smallest vruntime of
    /// the running task (`curr_vruntime`) and the leftmost queued one, but
    /// never moves backwards, so tasks placed relative to it cannot gain
    /// time by sleeping or migrating repeatedly.
    pub fn update_min_vruntime(&mut self, curr_vruntime: Option<Nanos>) {
        let leftmost = self.leftmost().map(|slot| self.key(slot).0);
        let candidate = match (curr_vruntime, leftmost) {
            (Some(c), Some(l)) => c.min(l),
            (Some(c), None) => c,
            (None, Some(l)) => l,
            (None, None) => return,
        };
        self.min_vruntime = self.min_vruntime.max(candidate);
    }
}
