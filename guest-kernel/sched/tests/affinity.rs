//! CPU affinity: a pinned task wakes on its CPU and load balancing never moves it.

use sched::{Scheduler, Tunables};

#[test]
fn pinned_task_wakes_on_its_cpu_even_when_another_is_idle() {
    let mut s = Scheduler::new(2, Tunables::default());
    let pinned = s.spawn(0, 1, 0);
    assert!(s.set_affinity(pinned, Some(1)));
    assert_eq!(s.pick_next(1, 0), Some(pinned));
    s.block_current(1, 1_000_000);
    assert_eq!(s.pick_next(1, 1_000_000), None);
    let busy = s.spawn(0, 1, 1_000_000);
    assert_eq!(s.pick_next(1, 1_000_000), Some(busy));
    // CPU 0 is idle and CPU 1 busy: an unpinned task would wake on CPU 0.
    let w = s.wake(pinned, 2_000_000, 0).expect("was blocked");
    assert_eq!(w.cpu, 1);
    assert_eq!(s.task_cpu(pinned), Some(1));
    s.check_invariants().expect("consistent");
}

#[test]
fn balancing_never_moves_a_pinned_task() {
    let mut s = Scheduler::new(2, Tunables::default());
    let ids: Vec<_> = (0..6).map(|_| s.spawn(0, 0, 0)).collect();
    for &id in &ids {
        s.set_affinity(id, Some(0));
    }
    assert_eq!(
        s.balance(1, 100_000_000),
        0,
        "all tasks are pinned to CPU 0"
    );
    assert_eq!(s.nr_running(1), 0);
    s.set_affinity(ids[5], None);
    assert_eq!(s.balance(1, 100_000_000), 1, "the unpinned one may move");
    assert_eq!(s.task_cpu(ids[5]), Some(1));
}

#[test]
fn pinning_a_queued_task_moves_it_at_once_and_none_unpins() {
    let mut s = Scheduler::new(2, Tunables::default());
    let t = s.spawn(0, 0, 0);
    assert!(s.set_affinity(t, Some(1)));
    assert_eq!(s.task_cpu(t), Some(1));
    assert_eq!(s.nr_running(1), 1);
    assert_eq!(s.task_affinity(t), Some(1));
    assert!(s.set_affinity(t, None));
    assert_eq!(s.task_affinity(t), None);
    assert!(!s.set_affinity(999, Some(0)), "unknown task");
    s.check_invariants().expect("consistent");
}
