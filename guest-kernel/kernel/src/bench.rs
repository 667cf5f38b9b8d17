//! `bench=loop`: a fixed `dec`/`jnz` loop in kernel code, timed with the TSC: the proof that
//! kernel code runs natively (about 0.3 ns per iteration) rather than in KVM's instruction
//! emulator (about 1 us per instruction), which is what PVM native mode is for.
//!
//! Exit round trips (port I/O, MMIO) are the `pio` and `mmio` workloads (workload/exits.rs),
//! runnable through the control channel.

use crate::workload::json::Json;
use crate::{cpu, exit, platform, println};

/// 10^8 iterations: ~30 ms natively, long enough to time with the TSC.
pub const DEFAULT_LOOP_ITERATIONS: u64 = 100_000_000;

/// Runs the loop, prints one JSON line and ends the VM with status 0.
pub fn spin_loop(iterations: u64) -> ! {
    let iterations = iterations.max(1);
    let start = platform::now_ns();
    cpu::count_down(iterations);
    let elapsed = platform::now_ns() - start;
    let mode = if platform::pvm_native() {
        "pvm-native"
    } else {
        "kvm"
    };
    println!(
        "{}",
        Json::new()
            .str("bench", "loop")
            .u64("iterations", iterations)
            .u64("elapsed_ns", elapsed)
            .f64("ns_per_iteration", elapsed as f64 / iterations as f64)
            .str("mode", mode)
            .finish()
    );
    exit::exit(0)
}
