//! `workload=pipe`: two threads ping-pong one byte through two channels, as
//! `perf bench sched pipe`. One op = one round trip = two context switches
//! when both threads share a CPU (`pin=same`); with `pin=split` each round
//! trip is two cross-CPU wakeups instead.

use alloc::string::String;
use alloc::sync::Arc;

use super::chan::Channel;
use super::{Params, SchedJson, SchedTotals, begin, header};
use crate::task;
use crate::wait::Completion;
use crate::{percpu, platform};

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let ops = p.u64("ops", 100_000, 1..=100_000_000)?;
    let pin = p.choice("pin", "same", &["same", "split"])?;
    begin(p)?;
    let (cpu_a, cpu_b) = match pin {
        "same" => (0, 0),
        _ if percpu::ncpus() >= 2 => (0, 1),
        _ => return Err(String::from("pin=split needs at least 2 CPUs")),
    };
    let there = Arc::new(Channel::new(1));
    let back = Arc::new(Channel::new(1));
    let done = Arc::new(Completion::new());

    let before = SchedTotals::now();
    let start = platform::now_ns();
    {
        let (there, back, done) = (there.clone(), back.clone(), done.clone());
        task::spawn_pinned("pipe-a", 0, cpu_a, move || {
            let mut byte = [0u8; 1];
            for i in 0..ops {
                byte[0] = i as u8;
                there.write(&byte);
                back.read_exact(&mut byte);
            }
            done.complete();
        });
    }
    {
        let (there, back, done) = (there.clone(), back.clone(), done.clone());
        task::spawn_pinned("pipe-b", 0, cpu_b, move || {
            let mut byte = [0u8; 1];
            for _ in 0..ops {
                there.read_exact(&mut byte);
                back.write(&byte);
            }
            done.complete();
        });
    }
    done.wait_for(2);
    let elapsed = platform::now_ns() - start;
    let stats = SchedTotals::now().since(before);
    let json = header("pipe", ops, elapsed)
        .str("pin", pin)
        .f64("ns_per_round_trip", elapsed as f64 / ops.max(1) as f64)
        .f64(
            "ns_per_switch",
            elapsed as f64 / stats.context_switches.max(1) as f64,
        );
    Ok(stats.add_to(json).finish())
}
