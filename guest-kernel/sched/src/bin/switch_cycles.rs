//! The run queue's share of a same-CPU context switch, for counting
//! instructions under callgrind (repeatable on a noisy host, unlike time).
//!
//! One cycle is what a task blocking and being woken again costs the queue:
//! `deactivate_current` + `wake_up` + `pick_next`, with QUEUED other tasks
//! waiting, so every pick takes another task off the leftmost end.
//!
//! ```text
//! cargo build --release -p sched --bin switch_cycles
//! valgrind --tool=callgrind --toggle-collect='*switch_cycles::measured*' \
//!     target/release/switch_cycles QUEUED CYCLES
//! ```
//!
//! Instructions per cycle = the "summary" Ir / CYCLES. The program also
//! prints wall time per cycle, which is only indicative.

use std::hint::black_box;
use std::time::Instant;

use sched::{CpuRq, Entity, Nanos, TaskId, Tunables};

/// Time between two switches: well inside a slice, so no decision depends
/// on slices ending.
const STEP: Nanos = 20_000;

fn cycles(rq: &mut CpuRq<usize>, n: u64, now: &mut Nanos) {
    for _ in 0..n {
        *now += STEP;
        let blocked = rq.deactivate_current(*now).expect("a task is running");
        let from_min = rq.min_vruntime();
        black_box(rq.wake_up(blocked, from_min, *now));
        black_box(rq.pick_next(*now).map(|e| e.payload));
    }
}

/// The cycles callgrind counts (`--toggle-collect`), apart from the warm-up.
#[inline(never)]
fn measured(rq: &mut CpuRq<usize>, n: u64, now: &mut Nanos) {
    cycles(rq, n, now);
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: switch_cycles QUEUED CYCLES"))
        .collect();
    let [queued, n] = args[..] else {
        panic!("usage: switch_cycles QUEUED CYCLES");
    };
    let mut rq = CpuRq::new(0, Tunables::default());
    for id in 1..=queued + 1 {
        rq.spawn(Entity::new(id as TaskId, 0, id as usize), 0);
    }
    let mut now = 0;
    rq.pick_next(now);
    // Every task runs a few times first, so any growth is over.
    cycles(&mut rq, 4 * (queued + 1), &mut now);
    let start = Instant::now();
    measured(&mut rq, n, &mut now);
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    rq.check_invariants().expect("consistent after the run");
    println!("queued {queued}: {n} cycles, {ns:.1} ns per cycle");
}
