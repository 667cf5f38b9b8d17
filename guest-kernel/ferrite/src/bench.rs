//! `bench=loop`: a fixed `dec`/`jnz` loop in kernel code, timed with the TSC: the proof that
//! kernel code runs natively (about 0.3 ns per iteration) rather than in KVM's instruction
//! emulator (about 1 us per instruction), which is what PVM native mode is for.
//!
//! `bench=pio`: a port-I/O exit round-trip benchmark driven by the host.
//!
//! Protocol on the serial line: the kernel prints `bench pio ready`, then for
//! every `g` it receives it executes `pio_batch` one-byte `out`s to port 0x80
//! (each a VM exit that the VMM must handle) and answers with one `k`; `q`
//! ends the VM with status 0; other bytes are ignored. The host times g->k.

use core::arch::asm;

use crate::workload::json::Json;
use crate::{exit, platform, println, serial};

/// Port 0x80: the legacy POST-code port, harmless to write, handled by every VMM.
const POST_PORT: u16 = 0x80;
pub const DEFAULT_PIO_BATCH: u64 = 10_000;
/// 10^8 iterations: ~30 ms natively, long enough to time with the TSC.
pub const DEFAULT_LOOP_ITERATIONS: u64 = 100_000_000;

/// Runs the loop, prints one JSON line and ends the VM with status 0.
pub fn spin_loop(iterations: u64) -> ! {
    let iterations = iterations.max(1);
    let start = platform::now_ns();
    // SAFETY: a register-only countdown; touches no memory and no flags the compiler relies on.
    unsafe {
        asm!("2: dec {n}", "jnz 2b", n = inout(reg) iterations => _, options(nomem, nostack))
    };
    let elapsed = platform::now_ns() - start;
    let mode = if platform::pvm_native() { "pvm-native" } else { "kvm" };
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

pub fn pio(batch: u64) -> ! {
    println!("bench pio: pio_batch={batch}");
    println!("bench pio ready");
    loop {
        match serial::read_byte() {
            b'g' => {
                out_burst(batch);
                serial::write_byte(b'k');
            }
            b'q' => exit::exit(0),
            _ => {}
        }
    }
}

/// `count` back-to-back `out` instructions: nothing but the exits is measured.
fn out_burst(count: u64) {
    for _ in 0..count {
        // SAFETY: writing a POST code to port 0x80 has no effect on the guest.
        unsafe {
            asm!("out dx, al", in("dx") POST_PORT, in("al") 0u8, options(nomem, nostack, preserves_flags))
        };
    }
}
