//! Each of the five tunables changes the scheduler's decisions the way its
//! Linux namesake does, shown on small scenarios with known answers (the
//! "knobs that matter" check a tuner relies on):
//!
//! * `sched_wakeup_granularity_ns`: a wakeup preempts iff the woken task is
//!   more than the granularity of virtual time behind the running one, on
//!   the waker's CPU and on another CPU alike (`check_preempt_wakeup()`);
//! * `sched_latency_ns`, `sched_min_granularity_ns`: a CPU hog runs
//!   `max(latency / nr_running, min_granularity)` before the tick ends its
//!   slice (`sched_slice()`, `__sched_period()`, `check_preempt_tick()`),
//!   and a task that ran alone loses the CPU as soon as a woken task shares
//!   it and its share is used up (what `hrtick_update()` re-arms for);
//! * `sched_migration_cost_ns`: balancing leaves tasks that ran within it
//!   (`task_hot()` in `can_migrate_task()`) until balancing has failed
//!   repeatedly (`nr_balance_failed`), and a CPU whose idle periods average
//!   less than it does not pull work when it goes idle (`avg_idle` in
//!   `newidle_balance()`);
//! * `sched_nr_migrate`: one balancing pass moves at most that many tasks.
//!
//! Other files test the mechanics in more detail (preempt.rs, fairness.rs,
//! balance.rs); these tests sweep each knob over values and check the answer.

mod common;

use std::collections::HashMap;

use common::{MS, run_ticks};
use sched::{Nanos, Scheduler, TaskId, Tunables, Wakeup};

/// Two CPUs, both busy: `waker` runs on cpu 0, `hog` on cpu 1 where
/// `sleeper` ran before it blocked. The hog runs alone for 20 ms, then cpu 0
/// wakes the sleeper. It goes back to cpu 1 (no CPU is idle, and the waker's
/// is no lighter), placed half a latency (3 ms) of virtual time behind the
/// hog by the sleeper credit.
fn cross_cpu_wakeup(wakeup_granularity_ns: Nanos) -> Wakeup {
    let mut s = Scheduler::new(2, Tunables::default());
    s.set_tunable("sched_wakeup_granularity_ns", wakeup_granularity_ns)
        .unwrap();
    let _waker = s.spawn(0, 0, 0);
    let hog = s.spawn(0, 1, 0);
    let sleeper = s.spawn(0, 1, 0);
    s.pick_next(0, 0);
    assert_eq!(
        s.pick_next(1, 0),
        Some(sleeper),
        "START_DEBIT: the later spawn runs first"
    );
    s.block_current(1, 0);
    assert_eq!(s.pick_next(1, 0), Some(hog));
    assert!(!s.tick(1, 20 * MS));
    let hog_vruntime = s.task_vruntime(hog).unwrap();
    let w = s.wake(sleeper, 20 * MS, 0).unwrap();
    assert_eq!(s.task_vruntime(sleeper), Some(hog_vruntime - 3 * MS));
    s.check_invariants().unwrap();
    w
}

#[test]
fn wakeup_granularity_decides_cross_cpu_wakeup_preemption() {
    for (gran, preempt) in [
        (0, true),
        (MS, true),
        (3 * MS - 1, true),
        (3 * MS, false),
        (1_000 * MS, false),
    ] {
        assert_eq!(
            cross_cpu_wakeup(gran),
            Wakeup { cpu: 1, preempt },
            "wakeup granularity {gran}"
        );
    }
}

/// `nr` nice-0 CPU hogs on one CPU under `t`, with a 10 us tick, for
/// 400 ms: the mean length of a slice, from the first preemption on.
fn mean_slice(t: Tunables, nr: usize) -> Nanos {
    const TICK: Nanos = 10_000;
    let mut s = Scheduler::new(1, t);
    for _ in 0..nr {
        s.spawn(0, 0, 0);
    }
    let mut now = 0;
    let mut last = s.pick_next(0, now);
    let mut switches: Vec<Nanos> = vec![now];
    run_ticks(&mut s, 0, &mut now, TICK, 400 * MS, |s, now| {
        if s.current(0) != last {
            last = s.current(0);
            switches.push(now);
        }
    });
    assert!(
        switches.len() > 3,
        "{nr} tasks under {t:?}: {} switches",
        switches.len()
    );
    let n = switches.len() as u64 - 1;
    (switches[switches.len() - 1] - switches[0]) / n
}

#[test]
fn hog_slices_follow_latency_over_nr_running_bounded_by_min_granularity() {
    let t = |latency: Nanos, min_gran: Nanos| Tunables {
        sched_latency_ns: latency,
        sched_min_granularity_ns: min_gran,
        ..Tunables::default()
    };
    // (latency, min_granularity, tasks, expected slice)
    let cases = [
        (6 * MS, 750_000, 2, 3 * MS),
        (6 * MS, 750_000, 4, 1_500_000),
        (24 * MS, 750_000, 4, 6 * MS),
        (1_500_000, 750_000, 4, 750_000),
        // More than latency/min_granularity (8) tasks: the period stretches,
        // every task gets min_granularity.
        (6 * MS, 750_000, 16, 750_000),
        (6 * MS, 100_000, 16, 375_000),
        // A large min_granularity: 4 tasks > 6/3 = 2, period 12 ms.
        (6 * MS, 3 * MS, 4, 3 * MS),
        (6 * MS, 6 * MS, 2, 6 * MS),
    ];
    for (latency, min_gran, nr, expected) in cases {
        let slice = mean_slice(t(latency, min_gran), nr);
        // Slices end at the first 10 us tick at or after their length.
        assert!(
            slice >= expected && slice <= expected + 10_000,
            "latency {latency} min_granularity {min_gran} tasks {nr}: slice {slice}, expected {expected}"
        );
    }
}

/// One CPU: `a` runs alone for `alone` ns (a lone task is never preempted and
/// gets the re-check interval sched_latency_ns), then `b` wakes with a
/// wakeup granularity too large to preempt. `a`'s slice is now its share
/// of the latency among two tasks (3 ms), counted from when it was picked.
fn lone_task_then_wakeup(alone: Nanos) -> (Scheduler, TaskId, TaskId) {
    let mut s = Scheduler::new(1, Tunables::default());
    s.set_tunable("sched_wakeup_granularity_ns", 1_000 * MS)
        .unwrap();
    let a = s.spawn(0, 0, 0);
    let b = s.spawn(0, 0, 0);
    assert_eq!(s.pick_next(0, 0), Some(b));
    s.block_current(0, 0);
    assert_eq!(s.pick_next(0, 0), Some(a));
    assert_eq!(
        s.slice_remaining(0, alone),
        Some(6 * MS),
        "alone: re-check interval"
    );
    let w = s.wake(b, alone, 0).unwrap();
    assert!(!w.preempt);
    (s, a, b)
}

#[test]
fn a_wakeup_that_does_not_preempt_still_shortens_the_running_slice() {
    // a ran 20 ms alone: its 3 ms share is long used up, it must go now
    // (not at the 6 ms re-check deadline it got while alone).
    let (mut s, _, b) = lone_task_then_wakeup(20 * MS);
    assert_eq!(s.slice_remaining(0, 20 * MS), Some(0));
    assert!(s.tick(0, 20 * MS));
    assert_eq!(s.pick_next(0, 20 * MS), Some(b));
    // a ran 1 ms alone: 2 ms of its share are left.
    let (mut s, a, _) = lone_task_then_wakeup(MS);
    let left = s.slice_remaining(0, MS).unwrap();
    assert!(left.abs_diff(2 * MS) <= 2, "{left}");
    // (A tick before `left` may end it too: once a has run min_granularity
    // and is more than a slice of virtual time ahead of b, which the
    // sleeper credit put 3 ms behind -- here at once. `slice_remaining` is
    // an upper bound, as `hrtick_start_fair()`'s is in Linux.)
    assert!(s.tick(0, MS + left));
    assert_ne!(s.pick_next(0, MS + left), Some(a));
}

#[test]
fn latency_change_applies_to_the_running_slice_at_the_next_tick() {
    let mut s = Scheduler::new(1, Tunables::default());
    s.spawn(0, 0, 0);
    s.spawn(0, 0, 0);
    s.pick_next(0, 0);
    assert!(!s.tick(0, 2 * MS), "3 ms slices");
    s.set_tunable("sched_latency_ns", 2 * MS).unwrap();
    assert!(
        s.tick(0, 2 * MS),
        "1 ms slices now: the 2 ms it ran are over"
    );
    s.set_tunable("sched_latency_ns", 1_000 * MS).unwrap();
    s.pick_next(0, 2 * MS);
    assert!(!s.tick(0, 400 * MS), "500 ms slices");
    assert!(s.tick(0, 502 * MS));
}

/// Two CPUs: four nice-0 hogs ran on cpu 0 in 1.5 ms slices for 24 ms;
/// cpu 1 is idle and balances at 25 ms. Returns the scheduler, the age
/// (time since it last stopped running) of each queued task, and the time.
fn four_hogs_ran_on_cpu0() -> (Scheduler, HashMap<TaskId, Nanos>, Nanos) {
    let mut s = Scheduler::new(2, Tunables::default());
    let tasks: Vec<TaskId> = (0..4).map(|_| s.spawn(0, 0, 0)).collect();
    let mut now = 0;
    let mut last_stop = HashMap::new();
    let mut prev = s.pick_next(0, now);
    run_ticks(&mut s, 0, &mut now, 100_000, 24 * MS, |s, now| {
        let cur = s.current(0);
        if cur != prev {
            last_stop.insert(prev.unwrap(), now);
            prev = cur;
        }
    });
    assert!(tasks.iter().all(|t| s.task_runtime(*t).unwrap() > 0));
    last_stop.remove(&s.current(0).unwrap());
    let now = 25 * MS;
    let ages = last_stop
        .into_iter()
        .map(|(t, stop)| (t, now - stop))
        .collect();
    (s, ages, now)
}

#[test]
fn migration_cost_keeps_cache_hot_tasks_and_lets_cold_ones_go() {
    let (s, ages, now) = four_hogs_ran_on_cpu0();
    let mut sorted: Vec<Nanos> = ages.values().copied().collect();
    sorted.sort_unstable();
    // Three queued tasks that stopped 1.5 ms apart; an idle cpu 1 wants
    // half of the 4 runnable ones. Only those that ran at least
    // `sched_migration_cost_ns` ago may go (`task_hot()`).
    assert_eq!(sorted.len(), 3);
    assert_eq!(sorted[1] - sorted[0], 1_500_000);
    assert_eq!(sorted[2] - sorted[1], 1_500_000);
    let mut moved_before = usize::MAX;
    for (cost, expected) in [
        (0, 2),
        (sorted[0], 2),
        (sorted[0] + 1, 2),
        (sorted[1] + 1, 1),
        (sorted[2], 1),
        (sorted[2] + 1, 0),
        (1_000 * MS, 0),
    ] {
        let mut s = s.clone();
        s.set_tunable("sched_migration_cost_ns", cost).unwrap();
        let moved = s.balance(1, now);
        assert_eq!(moved, expected, "migration cost {cost}, ages {sorted:?}");
        for (&task, &age) in &ages {
            if s.task_cpu(task) == Some(1) {
                assert!(age >= cost, "task {task} ran {age} ns ago: cache-hot");
            }
        }
        assert!(moved <= moved_before, "a larger cost never moves more");
        moved_before = moved;
        s.check_invariants().unwrap();
    }
}

#[test]
fn hot_tasks_move_once_balancing_has_failed_more_than_cache_nice_tries() {
    // Linux spares hot caches only while balancing keeps working: after
    // more than `cache_nice_tries` (1) failed periodic passes in a row,
    // `can_migrate_task()` lets hot tasks go too.
    let (mut s, _, now) = four_hogs_ran_on_cpu0();
    s.set_tunable("sched_migration_cost_ns", 1_000 * MS)
        .unwrap();
    assert_eq!(s.balance(1, now), 0, "all hot: failed once");
    assert_eq!(s.balance(1, now + MS), 0, "failed twice");
    assert_eq!(s.balance(1, now + 2 * MS), 2, "third pass: hot tasks move");
    s.check_invariants().unwrap();
    let (mut t, _, now) = four_hogs_ran_on_cpu0();
    t.set_tunable("sched_migration_cost_ns", 1_000 * MS)
        .unwrap();
    // Newidle passes do not count as failures.
    for i in 0..5 {
        assert_eq!(t.newidle_balance(1, now + i * MS), 0);
    }
    assert_eq!(t.balance(1, now + 5 * MS), 0);
}

#[test]
fn newidle_balance_is_skipped_while_idle_periods_are_shorter_than_migration_cost() {
    // cpu 0: four queued tasks that never ran (cold). cpu 1: `w`, which
    // sleeps and is woken 10 us later, over and over.
    let mut s = Scheduler::new(2, Tunables::default());
    for _ in 0..4 {
        s.spawn(0, 0, 0);
    }
    s.pick_next(0, 0);
    let w = s.spawn(0, 1, 0);
    s.pick_next(1, 0);
    assert_eq!(s.avg_idle(1), MS, "starts at twice the migration cost");
    {
        // Idle periods look long: going idle pulls work at once.
        let mut s = s.clone();
        s.block_current(1, MS);
        assert_eq!(s.newidle_balance(1, MS), 2);
    }
    s.set_tunable("sched_nr_migrate", 0).unwrap(); // observe, do not pull
    let mut now = 0;
    for _ in 0..20 {
        now += MS;
        s.block_current(1, now);
        assert_eq!(s.newidle_balance(1, now), 0);
        assert_eq!(s.pick_next(1, now), None);
        let woken = s.wake(w, now + 10_000, 1).unwrap();
        assert_eq!(woken.cpu, 1);
        assert_eq!(s.pick_next(1, now + 10_000), Some(w));
    }
    // avg_idle = 10 us + 990 us * (7/8)^20: about 78 us.
    let avg = s.avg_idle(1);
    assert!((70_000..90_000).contains(&avg), "{avg}");
    s.set_tunable("sched_nr_migrate", 32).unwrap();
    now += MS;
    s.block_current(1, now);
    for (cost, moved) in [(500_000, 0), (avg + 1, 0), (avg, 2), (0, 2)] {
        let mut s = s.clone();
        s.set_tunable("sched_migration_cost_ns", cost).unwrap();
        assert_eq!(s.newidle_balance(1, now), moved, "migration cost {cost}");
        s.check_invariants().unwrap();
    }
    // The periodic balance is not gated: it pulls the cold tasks.
    assert_eq!(s.clone().balance(1, now), 2);
    // Long idle periods raise avg_idle, at most to twice the migration cost.
    for _ in 0..50 {
        s.newidle_balance(1, now);
        now += 100 * MS;
        s.wake(w, now, 1).unwrap();
        s.pick_next(1, now);
        s.block_current(1, now);
    }
    assert_eq!(s.avg_idle(1), MS);
}

#[test]
fn nr_migrate_bounds_the_tasks_one_balance_moves() {
    let mut s = Scheduler::new(2, Tunables::default());
    for _ in 0..10 {
        s.spawn(0, 0, 0);
    }
    s.pick_next(0, 0);
    // Idle cpu 1 wants 5 of cpu 0's 10 tasks; none has run, so none is hot.
    for (nr_migrate, expected) in [(0, 0), (1, 1), (2, 2), (4, 4), (5, 5), (6, 5), (32, 5)] {
        let mut s = s.clone();
        s.set_tunable("sched_nr_migrate", nr_migrate).unwrap();
        assert_eq!(s.balance(1, MS), expected, "sched_nr_migrate {nr_migrate}");
        assert_eq!(s.nr_running(1), expected);
        s.check_invariants().unwrap();
    }
    // Later passes move the rest, nr_migrate at a time.
    let mut s = s.clone();
    s.set_tunable("sched_nr_migrate", 2).unwrap();
    let passes: Vec<usize> = (0..4).map(|_| s.balance(1, MS)).collect();
    assert_eq!(passes, [2, 2, 1, 0], "10 vs 0, 8 vs 2, 6 vs 4, balanced");
}
