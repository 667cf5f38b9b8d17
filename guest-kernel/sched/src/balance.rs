//! Spreading work over CPUs: where a waking task goes (`select_task_rq_fair()`)
//! and moving queued tasks from a busy CPU to a less busy one
//! (`load_balance()`), both from kernel/sched/fair.c, much simplified.
//!
//! Linux balances over a hierarchy of scheduling domains (SMT siblings,
//! cores sharing a cache, NUMA nodes) using decayed load averages (PELT).
//! ferrite has a handful of equal CPUs, so here every CPU is its own group in
//! one flat domain and "load" is the instantaneous sum of runnable weights.

use alloc::vec::Vec;

use crate::cpurq::{CpuRq, RqLoad, RqLoads};
use crate::task::Task;
use crate::tunables::Tunables;
use crate::{CpuId, Nanos};

/// Linux's `sd->imbalance_pct` for the cache-sharing (MC) domain: the busiest
/// CPU must carry over 17% more load than this one before moving load pays.
const IMBALANCE_PCT: u64 = 117;

fn is_idle(rq: &RqLoad) -> bool {
    rq.nr_running == 0
}

/// `select_task_rq_fair()` for a wakeup, simplified to:
///
/// 1. a task whose context is still on its previous CPU (it blocked there
///    and that CPU has not switched away yet, Linux's `p->on_cpu`) wakes
///    there, where its context is saved before it can run again;
/// 2. the previous CPU if it is idle: its caches may still hold the task's
///    data (`select_idle_sibling()` tries `prev` first too);
/// 3. else the waker's CPU if it is idle, else the lowest-numbered idle CPU
///    (`select_idle_sibling()` scanning the cache domain);
/// 4. with no idle CPU, the waker's CPU only if it carries less load than the
///    previous one (`wake_affine_weight()`), else the previous CPU.
///
/// `loads` are snapshots of every CPU's queue, possibly stale; only those
/// the decision needs are read.
pub fn select_task_rq(
    loads: &(impl RqLoads + ?Sized),
    prev: CpuId,
    prev_on_cpu: bool,
    waker: CpuId,
) -> CpuId {
    if prev_on_cpu {
        return prev;
    }
    let (prev_load, waker_load) = (loads.load(prev), loads.load(waker));
    if is_idle(&prev_load) {
        return prev;
    }
    if is_idle(&waker_load) {
        return waker;
    }
    if let Some(idle) = (0..loads.ncpus()).find(|&cpu| is_idle(&loads.load(cpu))) {
        return idle;
    }
    if waker_load.load < prev_load.load {
        waker
    } else {
        prev
    }
}

/// Moves a task's vruntime from one queue's frame of reference to another's.
/// Each CPU's min_vruntime advances independently, so a raw vruntime means
/// nothing elsewhere; Linux subtracts the old queue's min_vruntime when a
/// task leaves (`dequeue_entity()`, `migrate_task_rq_fair()`) and adds the new
/// one's when it arrives (`enqueue_entity()`), keeping its lag.
pub(crate) fn migrate_vruntime(vruntime: Nanos, from_min: Nanos, to_min: Nanos) -> Nanos {
    let moved = i128::from(vruntime) - i128::from(from_min) + i128::from(to_min);
    u64::try_from(moved.max(0)).unwrap_or(u64::MAX)
}

/// How much to move (`env->migration_type` and `env->imbalance`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Imbalance {
    /// This CPU is idle: move this many tasks, whatever they weigh
    /// (`migrate_task`, used when the local group has spare capacity).
    Tasks(u64),
    /// Both CPUs are busy: move at most this much weight (`migrate_load`).
    Load(u64),
}

/// `find_busiest_queue()` + `calculate_imbalance()`: the CPU for `this_cpu`
/// to pull from and how much, or `None` when the CPUs are balanced enough.
/// Only CPUs with a queued (not running) task can give one away. `loads`
/// are snapshots of every CPU's queue; the caller then locks the two queues
/// and moves tasks with [`crate::balance`], which re-reads the source.
pub fn find_busiest(
    loads: &(impl RqLoads + ?Sized),
    this_cpu: CpuId,
) -> Option<(CpuId, Imbalance)> {
    let this = &loads.load(this_cpu);
    let candidates = (0..loads.ncpus())
        .filter(|&cpu| cpu != this_cpu)
        .map(|cpu| (cpu, loads.load(cpu)))
        .filter(|(_, rq)| rq.nr_queued > 0);
    if is_idle(this) {
        // Most tasks first; the lowest CPU number wins ties (`max_by_key` keeps the last max).
        let (cpu, busiest) = candidates
            .rev()
            .max_by_key(|(_, rq)| (rq.nr_running, rq.load))?;
        if busiest.nr_running < 2 {
            return None;
        }
        let tasks = (busiest.nr_running as u64 / 2).max(1);
        return Some((cpu, Imbalance::Tasks(tasks)));
    }
    let (cpu, busiest) = candidates
        .rev()
        .max_by_key(|(_, rq)| (rq.load, rq.nr_running))?;
    // `imbalance_pct` check in `find_busiest_group()`.
    if 100 * busiest.load <= IMBALANCE_PCT * this.load {
        return None;
    }
    // Meet in the middle: moving half the difference evens the two out.
    Some((cpu, Imbalance::Load((busiest.load - this.load) / 2)))
}

/// `can_migrate_task()`: not pinned (a pinned task already sits on the one
/// CPU it may use), not the task on the CPU (running, or just blocked and
/// woken again before its CPU switched away from it), and not cache-hot
/// (`task_hot()`).
fn can_migrate_task<P>(src: &CpuRq<P>, task: &Task, now: Nanos, t: &Tunables) -> bool {
    task.pinned.is_none()
        && src.on_cpu() != Some(task.id)
        && !task.is_cache_hot(now, t.sched_migration_cost_ns)
}

/// The slots of the tasks `load_balance()` may move from `src`, and in
/// which order, into `list`: Linux's `detach_tasks()` walks
/// `rq->cfs_tasks` from the tail, i.e. the tasks that ran longest ago
/// (coldest caches) first; so do we. It examines at most
/// `loop_max = min(sched_nr_migrate, busiest->nr_running)` tasks.
fn migration_candidates<P>(src: &CpuRq<P>, t: &Tunables, list: &mut Vec<usize>) {
    list.clear();
    list.extend(src.rq.queued());
    // Keys are unique (ids are), so the unstable sort, which does not
    // allocate, orders as a stable one would.
    list.sort_unstable_by_key(|&slot| {
        let task = &src.tasks[slot].se;
        (task.exec_start, task.id)
    });
    let loop_max = (t.sched_nr_migrate as usize).min(src.rq.nr_running);
    list.truncate(loop_max);
}

/// `detach_tasks()`: chooses which of `src`'s queued tasks to move so as to
/// cover `imbalance`, skipping those that may not move and, when moving
/// load, those heavier than what is left to move. Leaves their slots in
/// `chosen` (a list the caller keeps, so as not to allocate each time).
pub(crate) fn detach_tasks<P>(
    src: &CpuRq<P>,
    imbalance: Imbalance,
    now: Nanos,
    t: &Tunables,
    chosen: &mut Vec<usize>,
) {
    migration_candidates(src, t, chosen);
    let mut left = imbalance;
    let mut done = false;
    chosen.retain(|&slot| {
        let task = &src.tasks[slot].se;
        if done || !can_migrate_task(src, task, now, t) {
            return false;
        }
        left = match left {
            Imbalance::Tasks(n) => Imbalance::Tasks(n - 1),
            Imbalance::Load(load) if task.weight() <= load => Imbalance::Load(load - task.weight()),
            Imbalance::Load(_) => return false,
        };
        done = matches!(left, Imbalance::Tasks(0) | Imbalance::Load(0));
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskId;
    use crate::task::Entity;

    /// Snapshots of CPUs running `nr_running` nice-0 tasks each, all but
    /// one of them queued.
    fn loads_with(nr_running: &[usize]) -> Vec<RqLoad> {
        nr_running
            .iter()
            .map(|&n| RqLoad {
                nr_running: n,
                nr_queued: n.saturating_sub(1),
                load: 1024 * n as u64,
                min_vruntime: 0,
            })
            .collect()
    }

    /// The ids [`super::detach_tasks`] chooses (it leaves their slots in a list).
    fn detach_tasks(
        src: &CpuRq<()>,
        imbalance: Imbalance,
        now: Nanos,
        t: &Tunables,
    ) -> Vec<TaskId> {
        let mut chosen = Vec::new();
        super::detach_tasks(src, imbalance, now, t, &mut chosen);
        chosen.iter().map(|&slot| src.tasks[slot].id()).collect()
    }

    fn queue(specs: &[(TaskId, i8, Option<Nanos>)]) -> CpuRq<()> {
        let mut rq = CpuRq::new(0, Tunables::default());
        for &(id, nice, last_ran) in specs {
            let mut e = Entity::new(id, nice, ());
            e.se.exec_start = last_ran;
            rq.enqueue(e, 0);
        }
        rq
    }

    #[test]
    fn detach_takes_coldest_first_and_skips_on_cpu_and_hot_tasks() {
        let t = Tunables {
            sched_migration_cost_ns: 1_000,
            ..Tunables::default()
        };
        let mut rq = queue(&[
            (1, 0, Some(0)),
            (2, 0, Some(100)),
            (3, 0, Some(9_500)),
            (4, 0, None),
        ]);
        // Task 1 blocked and was woken again before its CPU switched away.
        rq.rq.on_cpu = Some(1);
        // At 10 us task 3 ran 0.5 us ago: cache-hot.
        assert_eq!(detach_tasks(&rq, Imbalance::Tasks(4), 10_000, &t), [4, 2]);
        assert_eq!(detach_tasks(&rq, Imbalance::Tasks(1), 10_000, &t), [4]);
        // Only sched_nr_migrate tasks are examined (loop_max).
        let t = Tunables {
            sched_nr_migrate: 2,
            ..t
        };
        assert_eq!(detach_tasks(&rq, Imbalance::Tasks(4), 10_000, &t), [4]);
    }

    #[test]
    fn detach_by_load_skips_tasks_heavier_than_the_imbalance() {
        let t = Tunables {
            sched_migration_cost_ns: 0,
            ..Tunables::default()
        };
        // Weights: nice -5 = 3121, nice 0 = 1024, nice 5 = 335.
        let rq = queue(&[(1, -5, None), (2, 0, None), (3, 5, None), (4, 0, None)]);
        assert_eq!(detach_tasks(&rq, Imbalance::Load(1_500), 0, &t), [2, 3]);
        assert_eq!(detach_tasks(&rq, Imbalance::Load(3_121), 0, &t), [1]);
        assert!(detach_tasks(&rq, Imbalance::Load(300), 0, &t).is_empty());
    }

    #[test]
    fn wakeups_prefer_prev_then_idle_then_lighter_waker() {
        let loads = loads_with(&[0, 3, 2]);
        assert_eq!(select_task_rq(&loads[..], 0, false, 1), 0, "prev idle");
        assert_eq!(select_task_rq(&loads[..], 1, false, 2), 0, "some CPU idle");
        let loads = loads_with(&[1, 3, 0]);
        assert_eq!(select_task_rq(&loads[..], 1, false, 2), 2, "waker idle");
        let loads = loads_with(&[1, 3, 2]);
        assert_eq!(
            select_task_rq(&loads[..], 1, false, 2),
            2,
            "waker lighter than prev"
        );
        assert_eq!(
            select_task_rq(&loads[..], 0, false, 2),
            0,
            "prev lighter than waker"
        );
        let loads = loads_with(&[1, 0]);
        assert_eq!(
            select_task_rq(&loads[..], 0, true, 1),
            0,
            "still on its CPU"
        );
    }

    #[test]
    fn vruntime_keeps_its_lag_across_queues() {
        assert_eq!(migrate_vruntime(105, 100, 1_000), 1_005);
        assert_eq!(migrate_vruntime(95, 100, 1_000), 995);
        assert_eq!(migrate_vruntime(0, 100, 50), 0);
    }

    #[test]
    fn imbalance_by_tasks_when_idle_by_load_when_busy() {
        let loads = loads_with(&[0, 5, 3]);
        assert_eq!(find_busiest(&loads[..], 0), Some((1, Imbalance::Tasks(2))));
        assert_eq!(
            find_busiest(&loads[..], 2),
            Some((1, Imbalance::Load(1024)))
        );
        assert_eq!(find_busiest(&loads[..], 1), None, "busiest itself");
        let mut nothing_queued = loads_with(&[6, 7]);
        nothing_queued.iter_mut().for_each(|l| l.nr_queued = 0);
        assert_eq!(
            find_busiest(&nothing_queued[..], 0),
            None,
            "nothing queued anywhere"
        );
    }
}
