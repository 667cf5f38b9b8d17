//! Bringing up the secondary CPUs (APs).
//!
//! Protocol (BOOT.md): on panvm every vCPU enters boot.S at once with its
//! index in RDI and the vCPU count in RSI. Each takes its own boot stack,
//! loads the kernel's page tables and switches itself into PVM native mode;
//! the boot CPU (index 0) zeroes .bss and runs `kernel_main`, the others wait
//! in boot.S until .bss is clear and then enter [`ap_main`]. There they set up
//! their per-CPU data and spin (natively, with `pause`) until the boot CPU has
//! built the heap, the allocator and the scheduler and calls [`release_aps`];
//! then they initialise their platform state and join scheduling in their
//! idle loop. Under QEMU's PVH entry only the boot CPU runs (ncpus = 1).

use core::hint::spin_loop;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Acquire, Ordering::Release};

use crate::{percpu, platform, task, trap};

/// Set by the boot CPU once the secondary CPUs may join.
static APS_RELEASED: AtomicBool = AtomicBool::new(false);
/// CPUs that have reached their idle loop.
static ONLINE: AtomicUsize = AtomicUsize::new(0);

/// Entry of every secondary CPU (called by boot.S once .bss is zero).
// SAFETY (no_mangle): boot.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn ap_main(cpu: u64, pvm_native: u64) -> ! {
    let cpu = cpu as usize;
    // This CPU's TSS and the IDT first, so that a fault is reported.
    trap::init_ap(cpu);
    percpu::init(cpu, pvm_native != 0);
    while !APS_RELEASED.load(Acquire) {
        spin_loop();
    }
    platform::init_ap(cpu);
    ONLINE.fetch_add(1, Release);
    task::idle_loop()
}

/// Boot CPU: lets the secondary CPUs join and waits until each has reached
/// its idle loop (the boot CPU counts itself).
pub fn release_aps() {
    ONLINE.fetch_add(1, Release);
    APS_RELEASED.store(true, Release);
    let want = percpu::ncpus();
    // A CPU that has not arrived within seconds never will: a boot bug.
    let deadline = platform::now_ns().saturating_add(AP_TIMEOUT_NS);
    let mut spins: u64 = 0;
    while ONLINE.load(Acquire) < want {
        spin_loop();
        spins += 1;
        // (The spin count bounds the wait should the clock not run.)
        if platform::now_ns() > deadline || spins > MAX_SPINS {
            panic!("only {} of {want} CPUs came online", ONLINE.load(Acquire));
        }
    }
}

const AP_TIMEOUT_NS: u64 = 5_000_000_000;
const MAX_SPINS: u64 = 2_000_000_000;

/// Number of CPUs in their idle loops or running threads.
pub fn online() -> usize {
    ONLINE.load(Acquire)
}
