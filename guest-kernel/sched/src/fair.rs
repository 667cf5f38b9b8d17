//! The fair-share policy of one run queue: how run time is charged, how long
//! a task may run, where new and waking tasks are placed, when the running
//! task must give way, and which task runs next. Each function mirrors the
//! Linux <= 6.5 (pre-EEVDF) function of the same name in kernel/sched/fair.c.
//!
//! The idea in one paragraph: every task has a virtual run time (vruntime)
//! that grows by `real time * 1024 / weight` while it runs. The scheduler
//! always runs the task with the smallest vruntime, so over time every task's
//! vruntime advances at the same pace, which means each task gets CPU time in
//! proportion to its weight. Slices only decide *how often* that balancing
//! switch happens: within one `sched_latency_ns` every runnable task should
//! have run once.

use crate::Nanos;
use crate::rq::RunQueue;
use crate::task::{Task, TaskState};
use crate::tunables::Tunables;
use crate::weights::{LoadWeight, calc_delta, calc_delta_fair};

/// `__sched_period()`: the period in which every runnable task should run
/// once. Normally `sched_latency_ns`; when so many tasks are runnable that
/// each would get less than `sched_min_granularity_ns`, the period stretches
/// to `nr_running * min_granularity` instead of slicing ever thinner.
pub(crate) fn sched_period(nr_running: u64, t: &Tunables) -> Nanos {
    if nr_running > t.sched_nr_latency() {
        nr_running.saturating_mul(t.sched_min_granularity_ns)
    } else {
        t.sched_latency_ns
    }
}

/// `sched_slice()`: the wall-clock time `se` may run in one period, its
/// weight's share of the period. A task not yet on the queue (being placed)
/// is counted as if it were. `BASE_SLICE`: never less than min_granularity.
pub(crate) fn sched_slice(rq: &RunQueue, se: &Task, t: &Tunables) -> Nanos {
    let (nr_running, load) = if se.on_rq() {
        (rq.nr_running, rq.load)
    } else {
        (rq.nr_running + 1, rq.load + se.weight())
    };
    let period = sched_period(nr_running as u64, t);
    let slice = calc_delta(period, se.weight(), LoadWeight::new(load));
    slice.max(t.sched_min_granularity_ns)
}

/// `sched_vslice()`: the slice in the task's virtual time.
pub(crate) fn sched_vslice(rq: &RunQueue, se: &Task, t: &Tunables) -> Nanos {
    calc_delta_fair(sched_slice(rq, se, t), se.load)
}

/// `update_curr()`: charges the running task for the time since it was last
/// charged, in real time (`sum_exec_runtime`) and in virtual time, and lets
/// min_vruntime follow. Called before every decision that reads vruntimes.
pub(crate) fn update_curr(rq: &mut RunQueue, curr: &mut Task, now: Nanos) {
    let Some(start) = curr.exec_start else {
        curr.exec_start = Some(now);
        return;
    };
    // Clocks of different CPUs may disagree slightly; never charge negative time.
    if now <= start {
        return;
    }
    let delta_exec = now - start;
    curr.exec_start = Some(now);
    curr.sum_exec_runtime = curr.sum_exec_runtime.saturating_add(delta_exec);
    curr.vruntime = curr
        .vruntime
        .saturating_add(calc_delta_fair(delta_exec, curr.load));
    rq.update_min_vruntime(Some(curr.vruntime));
}

/// `place_entity()`: the vruntime a task starts from when it joins `rq`.
///
/// * New task (`initial`, feature `START_DEBIT`): one virtual slice after
///   min_vruntime, so that spawning tasks cannot push existing ones back
///   (a fork bomb only delays itself).
/// * Waking task (`GENTLE_FAIR_SLEEPERS`): at most half a latency period
///   before min_vruntime. A sleeper gets a bounded head start so it runs soon
///   (good for interactive tasks), but long sleeps cannot bank unlimited
///   credit and then starve everyone.
///
/// `max()`: a task never gains time by being placed backwards.
pub(crate) fn place_entity(rq: &RunQueue, se: &mut Task, initial: bool, t: &Tunables) {
    let vruntime = if initial {
        rq.min_vruntime.saturating_add(sched_vslice(rq, se, t))
    } else {
        rq.min_vruntime.saturating_sub(t.sched_latency_ns / 2)
    };
    se.vruntime = se.vruntime.max(vruntime);
}

/// `wakeup_gran()`: `sched_wakeup_granularity_ns` in the virtual time of the
/// task that would preempt (`se`), so heavier tasks preempt more easily.
pub(crate) fn wakeup_gran(se: LoadWeight, t: &Tunables) -> Nanos {
    calc_delta_fair(t.sched_wakeup_granularity_ns, se)
}

/// `wakeup_preempt_entity(curr, se) == 1`: `se` is more than one wakeup
/// granularity of virtual time behind `curr`, i.e. it is owed enough CPU time
/// that switching to it is worth a context switch. (Linux returns -1/0/1;
/// its callers only ask whether the answer is 1.)
pub(crate) fn wakeup_preempt_entity(
    curr_vruntime: Nanos,
    se_vruntime: Nanos,
    se_load: LoadWeight,
    t: &Tunables,
) -> bool {
    curr_vruntime > se_vruntime && curr_vruntime - se_vruntime > wakeup_gran(se_load, t)
}

/// `check_preempt_wakeup()`: should the task just woken onto `rq` preempt
/// its running task? Always, if the CPU runs nothing.
pub(crate) fn check_preempt_wakeup(curr: Option<&Task>, woken: &Task, t: &Tunables) -> bool {
    match curr {
        None => true,
        Some(curr) => wakeup_preempt_entity(curr.vruntime, woken.vruntime, woken.load, t),
    }
}

/// `check_preempt_tick()`: has the running task had its turn?
///
/// Yes once it has run its whole slice in this turn. Also, after at least
/// min_granularity, if it is more than a slice of virtual time ahead of the
/// leftmost queued task (that task has waited too long, e.g. because the
/// slices of the others were just recomputed for more tasks).
///
/// One deliberate difference: Linux tests `delta_exec > ideal_runtime`; we
/// test `>=`, so that a tickless kernel that sets its deadline to
/// `slice_remaining()` and checks `tick()` exactly then does end the slice
/// (Linux's hrtick gets the same effect by forcing a reschedule on expiry).
pub(crate) fn check_preempt_tick(rq: &mut RunQueue, curr: &Task, t: &Tunables) -> bool {
    let ideal_runtime = sched_slice(rq, curr, t);
    let delta_exec = curr.sum_exec_runtime - curr.prev_sum_exec_runtime;
    if delta_exec >= ideal_runtime {
        // `clear_buddies()`: it ran long enough, no buddy favours for it.
        if rq.skip == Some(curr.id) {
            rq.skip = None;
        }
        return true;
    }
    if delta_exec < t.sched_min_granularity_ns {
        return false;
    }
    match rq.leftmost().map(|left| rq.key(left).0) {
        Some(left_vruntime) if curr.vruntime > left_vruntime => {
            curr.vruntime - left_vruntime > ideal_runtime
        }
        _ => false,
    }
}

/// `pick_next_entity()`: the leftmost (smallest vruntime) queued task --
/// unless it is the skip buddy (it yielded) and the next one is within one
/// wakeup granularity of it, in which case the next one runs. If the next one
/// is further ahead, skipping would be too unfair and the yielder runs again.
/// (Linux's next/last buddies, off or minor by default, are not modelled.)
/// Tasks are named by slot, as the tree has them (`load_of` too).
pub(crate) fn pick_next_entity(
    rq: &RunQueue,
    load_of: impl Fn(usize) -> LoadWeight,
    t: &Tunables,
) -> Option<usize> {
    let left = rq.leftmost()?;
    let (left_vruntime, left_id) = rq.key(left);
    if rq.skip == Some(left_id)
        && let Some(second) = rq.next_after(left)
        && !wakeup_preempt_entity(rq.key(second).0, left_vruntime, load_of(left), t)
    {
        return Some(second);
    }
    Some(left)
}

/// `put_prev_entity()`: the running task stops running; if it is still
/// runnable it goes back into the tree, where it starts waiting again.
pub(crate) fn put_prev_entity(rq: &mut RunQueue, prev: &mut Task, now: Nanos) {
    if prev.state == TaskState::Running {
        prev.state = TaskState::Queued;
        prev.wait_start = now;
        rq.insert(prev);
    }
    rq.curr = None;
}

/// `set_next_entity()`: `se` leaves the tree and becomes the running task.
/// Its slice starts now (`prev_sum_exec_runtime`), and its wait ends.
pub(crate) fn set_next_entity(rq: &mut RunQueue, se: &mut Task, now: Nanos) {
    if rq.skip == Some(se.id) {
        rq.skip = None; // `clear_buddies()`
    }
    rq.remove(se);
    rq.stats.wait_time_ns += now.saturating_sub(se.wait_start);
    se.state = TaskState::Running;
    se.exec_start = Some(now);
    se.prev_sum_exec_runtime = se.sum_exec_runtime;
    rq.curr = Some(se.slot);
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;

    use super::*;
    use crate::TaskId;

    /// A queue of tasks with ids 1, 2, ...; each task's slot is its id, so
    /// the tests name tasks by either.
    fn queue_of(nices: &[i8]) -> (RunQueue, BTreeMap<usize, Task>) {
        let mut rq = RunQueue::default();
        let mut tasks = BTreeMap::new();
        for (i, &nice) in nices.iter().enumerate() {
            let mut task = Task::new(i as TaskId + 1, nice, 0);
            task.state = TaskState::Queued;
            task.slot = task.id as usize;
            rq.account_enqueue(&task);
            rq.insert(&task);
            tasks.insert(task.slot, task);
        }
        (rq, tasks)
    }

    #[test]
    fn period_stretches_beyond_sched_nr_latency() {
        let t = Tunables::default();
        assert_eq!(sched_period(1, &t), 6_000_000);
        assert_eq!(sched_period(8, &t), 6_000_000);
        assert_eq!(sched_period(9, &t), 9 * 750_000);
    }

    #[test]
    fn slices_split_the_period_by_weight() {
        let t = Tunables::default();
        let (rq, tasks) = queue_of(&[0, 0, 0]);
        // Fixed-point division, as in Linux: off by at most a few ns.
        assert!(sched_slice(&rq, &tasks[&1], &t).abs_diff(2_000_000) <= 2);
        let (rq, tasks) = queue_of(&[0, 5]);
        let heavy = sched_slice(&rq, &tasks[&1], &t);
        let light = sched_slice(&rq, &tasks[&2], &t);
        assert!(heavy.abs_diff(6_000_000 * 1024 / 1359) < 10, "{heavy}");
        assert!(light.abs_diff(6_000_000 * 335 / 1359) < 10, "{light}");
        // A nice-19 task among nice-0 ones still gets min_granularity (BASE_SLICE).
        let (rq, tasks) = queue_of(&[0, 0, 0, 19]);
        assert_eq!(sched_slice(&rq, &tasks[&4], &t), 750_000);
    }

    #[test]
    fn new_tasks_start_a_virtual_slice_after_min_vruntime() {
        let t = Tunables::default();
        let (mut rq, _) = queue_of(&[0]);
        rq.min_vruntime = 100_000_000;
        let mut new = Task::new(9, 0, 0);
        place_entity(&rq, &mut new, true, &t);
        // Two nice-0 tasks once it joins: a 3 ms slice.
        assert!(new.vruntime.abs_diff(103_000_000) <= 2, "{}", new.vruntime);
    }

    #[test]
    fn sleepers_get_at_most_half_a_latency_of_credit() {
        let t = Tunables::default();
        let mut rq = RunQueue::default();
        rq.min_vruntime = 100_000_000;
        let mut long_sleeper = Task::new(1, 0, 0);
        place_entity(&rq, &mut long_sleeper, false, &t);
        assert_eq!(long_sleeper.vruntime, 97_000_000);
        let mut short_sleeper = Task::new(2, 0, 0);
        short_sleeper.vruntime = 99_000_000;
        place_entity(&rq, &mut short_sleeper, false, &t);
        assert_eq!(short_sleeper.vruntime, 99_000_000, "never placed backwards");
        rq.min_vruntime = 0;
        let mut early = Task::new(3, 0, 0);
        place_entity(&rq, &mut early, false, &t);
        assert_eq!(early.vruntime, 0, "no underflow near zero");
    }

    #[test]
    fn update_curr_charges_real_and_virtual_time() {
        let mut rq = RunQueue::default();
        let mut task = Task::new(1, 5, 0);
        task.exec_start = Some(1_000);
        update_curr(&mut rq, &mut task, 1_001_000);
        assert_eq!(task.sum_exec_runtime, 1_000_000);
        assert!(task.vruntime.abs_diff(1_000_000 * 1024 / 335) < 100);
        assert_eq!(rq.min_vruntime, task.vruntime);
        // Time going backwards charges nothing.
        update_curr(&mut rq, &mut task, 500);
        assert_eq!(task.sum_exec_runtime, 1_000_000);
    }

    #[test]
    fn wakeup_preemption_needs_more_than_the_granularity() {
        let t = Tunables::default();
        let nice0 = LoadWeight::from_nice(0);
        assert!(!wakeup_preempt_entity(10_000_000, 9_000_000, nice0, &t));
        assert!(wakeup_preempt_entity(10_000_000, 8_999_999, nice0, &t));
        assert!(!wakeup_preempt_entity(10_000_000, 11_000_000, nice0, &t));
        // A heavier waker converts the granularity into less virtual time.
        let heavy = LoadWeight::from_nice(-5);
        assert!(wakeup_preempt_entity(10_000_000, 9_600_000, heavy, &t));
    }

    #[test]
    fn skip_buddy_is_passed_over_only_when_fair() {
        let t = Tunables::default();
        let (mut rq, mut tasks) = queue_of(&[0, 0]);
        // Move task 2 to 0.5 ms after task 1.
        let two = tasks.get_mut(&2).unwrap();
        rq.remove(two);
        two.vruntime = 500_000;
        rq.insert(two);
        assert_eq!(pick_next_entity(&rq, |id| tasks[&id].load, &t), Some(1));
        rq.skip = Some(1);
        assert_eq!(pick_next_entity(&rq, |id| tasks[&id].load, &t), Some(2));
        // Task 2 far ahead in virtual time: skipping 1 would be unfair.
        let two = tasks.get_mut(&2).unwrap();
        rq.remove(two);
        two.vruntime = 5_000_000;
        rq.insert(two);
        assert_eq!(pick_next_entity(&rq, |id| tasks[&id].load, &t), Some(1));
    }
}
