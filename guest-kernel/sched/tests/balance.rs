//! Load balancing and wakeup CPU selection across CPUs.

mod common;

use std::collections::HashMap;

use common::{MS, run_ticks};
use sched::{Scheduler, TaskId, TaskState, Tunables, Wakeup};

fn spawn_n(s: &mut Scheduler, cpu: usize, n: usize, now: u64) -> Vec<TaskId> {
    (0..n).map(|_| s.spawn(0, cpu, now)).collect()
}

#[test]
fn idle_cpu_pulls_half_the_tasks_but_never_the_running_one() {
    let mut s = Scheduler::new(2, Tunables::default());
    let tasks = spawn_n(&mut s, 0, 6, 0);
    let running = s.pick_next(0, 0).unwrap();
    let moved = s.balance(1, 10 * MS);
    assert_eq!(moved, 3);
    assert_eq!(s.nr_running(0), 3);
    assert_eq!(s.nr_running(1), 3);
    assert_eq!(s.current(0), Some(running));
    assert_eq!(s.task_cpu(running), Some(0));
    assert_eq!(s.stats(1).migrations_in, 3);
    assert_eq!(s.stats(0).migrations_in, 0);
    let on_1 = tasks.iter().filter(|&&t| s.task_cpu(t) == Some(1)).count();
    assert_eq!(on_1, 3);
    assert_eq!(s.current(1), None, "moved tasks wait for pick_next");
    assert!(s.pick_next(1, 10 * MS).is_some());
    s.check_invariants().unwrap();
    // Both CPUs now carry the same load: nothing more to do either way.
    assert_eq!(s.balance(1, 11 * MS), 0);
    assert_eq!(s.balance(0, 11 * MS), 0);
}

#[test]
fn a_lone_running_task_is_never_pulled() {
    let mut s = Scheduler::new(2, Tunables::default());
    let a = s.spawn(0, 0, 0);
    s.pick_next(0, 0);
    assert_eq!(s.balance(1, 10 * MS), 0);
    assert_eq!(s.task_cpu(a), Some(0));
    assert_eq!(s.task_state(a), Some(TaskState::Running));
}

#[test]
fn at_most_sched_nr_migrate_tasks_move() {
    let mut s = Scheduler::new(2, Tunables::default());
    s.set_tunable("sched_nr_migrate", 2).unwrap();
    spawn_n(&mut s, 0, 10, 0);
    s.pick_next(0, 0);
    assert_eq!(
        s.balance(1, 10 * MS),
        2,
        "imbalance is 5 tasks, but only 2 may move"
    );
    assert_eq!(s.nr_running(1), 2);
    s.set_tunable("sched_nr_migrate", 0).unwrap();
    assert_eq!(s.balance(1, 10 * MS), 0, "0 turns balancing off");
}

#[test]
fn cache_hot_tasks_stay() {
    let mut s = Scheduler::new(2, Tunables::default());
    s.set_tunable("sched_migration_cost_ns", 1_000 * MS)
        .unwrap();
    let ran = spawn_n(&mut s, 0, 4, 0);
    // Run cpu 0 with 1 ms ticks until all four have run, noting when each
    // last stopped running (that is when it was last charged: "last ran").
    let mut now = 0;
    let mut last_stop = HashMap::new();
    let mut prev = s.pick_next(0, now);
    while ran.iter().any(|&t| s.task_runtime(t).unwrap() == 0) || now < 20 * MS {
        run_ticks(&mut s, 0, &mut now, MS, MS, |_, _| {});
        let cur = s.current(0);
        if cur != prev {
            last_stop.insert(prev.unwrap(), now);
            prev = cur;
        }
    }
    let fresh = spawn_n(&mut s, 0, 2, now);
    // Idle cpu 1 wants 3 of the 6, but only the two that never ran are cold.
    assert_eq!(s.balance(1, now), 2);
    for t in &fresh {
        assert_eq!(s.task_cpu(*t), Some(1));
    }
    for t in &ran {
        assert_eq!(s.task_cpu(*t), Some(0));
    }
    // With a 3 ms migration cost, tasks that last ran over 3 ms ago may go,
    // the one that ran longest ago first.
    s.set_tunable("sched_migration_cost_ns", 3 * MS).unwrap();
    s.pick_next(1, now);
    assert_eq!(
        s.balance(1, now),
        1,
        "4 vs 2 nice-0 tasks: imbalance 1024, one task"
    );
    let moved = ran
        .iter()
        .copied()
        .find(|&t| s.task_cpu(t) == Some(1))
        .unwrap();
    let coldest = ran
        .iter()
        .copied()
        .filter(|&t| s.current(0) != Some(t))
        .min_by_key(|t| last_stop[t])
        .unwrap();
    assert_eq!(moved, coldest);
    assert!(now - last_stop[&moved] >= 3 * MS);
}

#[test]
fn busy_cpus_balance_by_load_with_a_17_percent_margin() {
    let mut s = Scheduler::new(2, Tunables::default());
    s.set_tunable("sched_migration_cost_ns", 0).unwrap();
    spawn_n(&mut s, 0, 4, 0);
    spawn_n(&mut s, 1, 3, 0);
    s.pick_next(0, 0);
    s.pick_next(1, 0);
    // 4096 vs 3072: over 117%, but half the difference (512) is less than a task.
    assert_eq!(s.balance(1, MS), 0);
    spawn_n(&mut s, 0, 1, MS);
    // 5120 vs 3072: move 1024, one nice-0 task.
    assert_eq!(s.balance(1, MS), 1);
    assert_eq!((s.nr_running(0), s.nr_running(1)), (4, 4));
    // A heavy task on a busy CPU outweighs several light ones.
    let mut s = Scheduler::new(2, Tunables::default());
    s.set_tunable("sched_migration_cost_ns", 0).unwrap();
    s.spawn(-10, 0, 0); // 9548
    s.spawn(0, 0, 0);
    spawn_n(&mut s, 1, 3, 0);
    s.pick_next(0, 0);
    s.pick_next(1, 0);
    assert_eq!(s.balance(0, MS), 0, "cpu 0 is the busiest");
    assert_eq!(s.balance(1, MS), 1);
    s.check_invariants().unwrap();
}

#[test]
fn migrated_tasks_keep_their_lag_relative_to_min_vruntime() {
    let mut s = Scheduler::new(2, Tunables::default());
    s.set_tunable("sched_migration_cost_ns", 0).unwrap();
    // cpu 1 has run for a long time: its min_vruntime is far ahead of cpu 0's.
    s.spawn(0, 1, 0);
    let mut now = 0;
    run_ticks(&mut s, 1, &mut now, MS, 500 * MS, |_, _| {});
    let tasks = spawn_n(&mut s, 0, 3, now);
    s.pick_next(0, now);
    let lag_before: Vec<i64> = tasks
        .iter()
        .map(|&t| s.task_vruntime(t).unwrap() as i64 - s.min_vruntime(0) as i64)
        .collect();
    s.block_current(1, now);
    s.pick_next(1, now);
    assert_eq!(s.balance(1, now), 1);
    let moved = tasks
        .iter()
        .position(|&t| s.task_cpu(t) == Some(1))
        .unwrap();
    let lag_after = s.task_vruntime(tasks[moved]).unwrap() as i64 - s.min_vruntime(1) as i64;
    assert_eq!(lag_after, lag_before[moved]);
    assert!(s.min_vruntime(1) > 400 * MS);
}

/// Three CPUs; task `a` ran on cpu 0 and blocked. `busy` CPUs get a running task.
fn blocked_on_cpu0(busy: &[usize]) -> (Scheduler, TaskId) {
    let mut s = Scheduler::new(3, Tunables::default());
    let a = s.spawn(0, 0, 0);
    assert_eq!(s.pick_next(0, 0), Some(a));
    s.block_current(0, MS);
    s.pick_next(0, MS);
    for &cpu in busy {
        s.spawn(0, cpu, MS);
        s.pick_next(cpu, MS);
    }
    (s, a)
}

#[test]
fn wakeups_choose_prev_if_idle_else_an_idle_cpu() {
    // prev idle: stay there, whoever wakes it.
    let (mut s, a) = blocked_on_cpu0(&[]);
    assert_eq!(
        s.wake(a, 2 * MS, 2),
        Some(Wakeup {
            cpu: 0,
            preempt: true
        })
    );
    assert_eq!(s.stats(0).migrations_in, 0);
    assert_eq!(s.stats(0).nr_wakeups, 1);
    // prev busy, waker's CPU idle: the waker's.
    let (mut s, a) = blocked_on_cpu0(&[0]);
    assert_eq!(
        s.wake(a, 2 * MS, 2),
        Some(Wakeup {
            cpu: 2,
            preempt: true
        })
    );
    assert_eq!(s.stats(2).migrations_in, 1);
    assert_eq!(s.stats(2).nr_wakeups, 1);
    // prev and waker busy: any idle CPU.
    let (mut s, a) = blocked_on_cpu0(&[0, 2]);
    assert_eq!(
        s.wake(a, 2 * MS, 2),
        Some(Wakeup {
            cpu: 1,
            preempt: true
        })
    );
    assert_eq!(s.task_cpu(a), Some(1));
    s.check_invariants().unwrap();
}

/// cpu 0 runs `sleeper` plus two tasks, cpu 1 runs `on_waker` tasks; the
/// sleeper blocks and is woken from cpu 1. Returns the CPU it wakes on.
fn wake_from_busy_cpus(on_waker: usize) -> usize {
    let mut s = Scheduler::new(2, Tunables::default());
    spawn_n(&mut s, 0, 2, 0);
    // Spawned last with the smallest slice, so placed leftmost: runs first.
    let sleeper = s.spawn(0, 0, 0);
    assert_eq!(s.pick_next(0, 0), Some(sleeper));
    s.block_current(0, MS);
    s.pick_next(0, MS);
    spawn_n(&mut s, 1, on_waker, 0);
    s.pick_next(1, MS);
    let w = s.wake(sleeper, 2 * MS, 1).unwrap();
    s.check_invariants().unwrap();
    w.cpu
}

#[test]
fn wakeups_without_idle_cpus_prefer_prev_unless_the_waker_is_lighter() {
    assert_eq!(
        wake_from_busy_cpus(1),
        1,
        "waker's CPU carries 1 task, prev 2"
    );
    assert_eq!(wake_from_busy_cpus(2), 0, "equal: stay on prev");
    assert_eq!(wake_from_busy_cpus(3), 0, "waker's CPU is busier");
}

#[test]
fn a_task_woken_on_another_cpu_keeps_its_lag() {
    let mut s = Scheduler::new(2, Tunables::default());
    // cpu 0 has run one task alone for 500 ms: its min_vruntime is ~500 ms.
    s.spawn(0, 0, 0);
    let mut now = 0;
    run_ticks(&mut s, 0, &mut now, MS, 500 * MS, |_, _| {});
    // cpu 1: t at vruntime 6 ms, the sleeper at 3 ms (START_DEBIT); the
    // sleeper runs 4 ms, ending 1 ms of vruntime ahead of t, and blocks.
    let t = s.spawn(0, 1, now);
    let sleeper = s.spawn(0, 1, now);
    assert_eq!(s.pick_next(1, now), Some(sleeper));
    s.block_current(1, now + 4 * MS);
    now += 4 * MS;
    let lag = s.task_vruntime(sleeper).unwrap() as i64 - s.min_vruntime(1) as i64;
    assert_eq!(lag, MS as i64);
    // cpu 1 becomes busier than cpu 0, so the wakeup from cpu 0 lands there.
    s.spawn(0, 1, now);
    assert_eq!(s.pick_next(1, now), Some(t));
    s.tick(0, now);
    let w = s.wake(sleeper, now, 0).unwrap();
    assert_eq!(w.cpu, 0);
    assert_eq!(s.stats(0).migrations_in, 1);
    let lag_after = s.task_vruntime(sleeper).unwrap() as i64 - s.min_vruntime(0) as i64;
    assert_eq!(
        lag_after, lag,
        "ahead by 1 ms on cpu 1, ahead by 1 ms on cpu 0"
    );
    assert!(!w.preempt, "it is ahead of cpu 0's task");
}
