//! CFS fairness on one CPU with a simulated clock: equal tasks share equally
//! and stay close in vruntime; weighted tasks share in proportion to their
//! weights; tunables change slice lengths.

mod common;

use common::{MS, run_ticks, shares};
use sched::{Scheduler, TaskId, Tunables, nice_to_weight};

fn spawn_all(s: &mut Scheduler, nices: &[i8]) -> Vec<TaskId> {
    nices.iter().map(|&n| s.spawn(n, 0, 0)).collect()
}

#[test]
fn equal_weights_stay_within_one_latency_and_share_equally() {
    for tick in [MS, 4 * MS] {
        for n in 2..=8 {
            let mut s = Scheduler::new(1, Tunables::default());
            let tasks = spawn_all(&mut s, &vec![0; n]);
            let bound = s.tunables().sched_latency_ns + tick;
            let mut now = 0;
            run_ticks(&mut s, 0, &mut now, tick, 3_000 * MS, |s, now| {
                let v: Vec<u64> = tasks.iter().map(|&t| s.task_vruntime(t).unwrap()).collect();
                let spread = v.iter().max().unwrap() - v.iter().min().unwrap();
                assert!(
                    spread <= bound,
                    "n={n} tick={tick} t={now}: spread {spread} > {bound}"
                );
            });
            for (i, share) in shares(&s, &tasks).into_iter().enumerate() {
                let fair = 1.0 / n as f64;
                assert!(
                    (share - fair).abs() / fair < 0.02,
                    "n={n} tick={tick} task {i}: share {share}"
                );
            }
            assert!(s.min_vruntime(0) > 0);
            s.check_invariants().unwrap();
        }
    }
}

fn assert_weighted_shares(nices: &[i8], tick: u64) {
    let mut s = Scheduler::new(1, Tunables::default());
    let tasks = spawn_all(&mut s, nices);
    let mut now = 0;
    run_ticks(&mut s, 0, &mut now, tick, 10_000 * MS, |_, _| {});
    let total: u64 = nices.iter().map(|&n| u64::from(nice_to_weight(n))).sum();
    for (share, &nice) in shares(&s, &tasks).iter().zip(nices) {
        let expected = f64::from(nice_to_weight(nice)) / total as f64;
        let error = (share - expected).abs() / expected;
        assert!(
            error < 0.03,
            "nices {nices:?} tick {tick}: nice {nice} got {share:.4}, expected {expected:.4}"
        );
    }
}

#[test]
fn nice_0_and_nice_5_share_by_weight() {
    assert_weighted_shares(&[0, 5], MS);
    assert_weighted_shares(&[0, 5], 4 * MS);
    let mut s = Scheduler::new(1, Tunables::default());
    let (a, b) = (s.spawn(0, 0, 0), s.spawn(5, 0, 0));
    let mut now = 0;
    run_ticks(&mut s, 0, &mut now, MS, 10_000 * MS, |_, _| {});
    let ratio = s.task_runtime(a).unwrap() as f64 / s.task_runtime(b).unwrap() as f64;
    assert!(
        (ratio / (1024.0 / 335.0) - 1.0).abs() < 0.03,
        "ratio {ratio}"
    );
}

#[test]
fn mixed_nice_values_share_by_weight() {
    assert_weighted_shares(&[-5, 0, 0, 3, 7, 10], MS);
    assert_weighted_shares(&[-20, -10, 0], MS);
    assert_weighted_shares(&[0, 19], MS);
    assert_weighted_shares(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], MS);
}

/// Counts switches over one simulated second from `now` on.
fn switches_per_second(s: &mut Scheduler, mut now: u64) -> u64 {
    let before = s.stats(0).context_switches;
    run_ticks(s, 0, &mut now, MS, 1_000 * MS, |_, _| {});
    s.stats(0).context_switches - before
}

#[test]
fn smaller_latency_gives_shorter_slices_at_once() {
    let mut s = Scheduler::new(1, Tunables::default());
    spawn_all(&mut s, &[0, 0]);
    s.pick_next(0, 0);
    // Two equal tasks split the 6 ms latency.
    // (Weights divide by fixed-point multiplication, as in Linux: +-2 ns.)
    let remaining = |s: &Scheduler, now| s.slice_remaining(0, now).unwrap();
    assert!(remaining(&s, 0).abs_diff(3 * MS) <= 2);
    assert!(remaining(&s, MS).abs_diff(2 * MS) <= 2);
    s.set_tunable("sched_latency_ns", 2 * MS).unwrap();
    assert_eq!(s.tunables().sched_latency_ns, 2 * MS);
    assert!(
        remaining(&s, 0).abs_diff(MS) <= 2,
        "applies to the running slice"
    );
    // With 1 ms ticks: a switch every 3 ms with the default, every 1 ms now.
    let mut slow = Scheduler::new(1, Tunables::default());
    spawn_all(&mut slow, &[0, 0]);
    let slow_rate = switches_per_second(&mut slow, 0);
    let fast_rate = switches_per_second(&mut s, 0);
    assert!((330..=335).contains(&slow_rate), "{slow_rate}");
    assert!((995..=1000).contains(&fast_rate), "{fast_rate}");
}

#[test]
fn many_tasks_stretch_the_period_to_min_granularity_each() {
    let mut s = Scheduler::new(1, Tunables::default());
    spawn_all(&mut s, &[0; 12]);
    s.pick_next(0, 0);
    // 12 > sched_nr_latency (8): period 12 * 0.75 ms, each slice 0.75 ms.
    let slice = s.slice_remaining(0, 0).unwrap();
    assert!(slice.abs_diff(750_000) <= 2, "{slice}");
    s.set_tunable("sched_min_granularity_ns", 500_000).unwrap();
    // Now sched_nr_latency is 12: period 6 ms, slice 0.5 ms.
    let slice = s.slice_remaining(0, 0).unwrap();
    assert!(slice.abs_diff(500_000) <= 2, "{slice}");
}

#[test]
fn invalid_tunables_are_rejected_and_change_nothing() {
    let mut s = Scheduler::new(2, Tunables::default());
    assert_eq!(
        s.set_tunable("sched_latency", 1),
        Err(sched::TunableError::Unknown)
    );
    assert_eq!(
        s.set_tunable("sched_min_granularity_ns", 7 * MS),
        Err(sched::TunableError::OutOfRange {
            name: "sched_min_granularity_ns",
            min: 100_000,
            max: 6 * MS
        })
    );
    assert_eq!(
        s.set_tunable("sched_latency_ns", 0),
        Err(sched::TunableError::OutOfRange {
            name: "sched_latency_ns",
            min: 750_000,
            max: 1_000_000_000
        })
    );
    assert_eq!(*s.tunables(), Tunables::default());
}
