//! ferrite's kernel proper, without `unsafe`: the virtio drivers' logic,
//! the file-system glue, the control channel, the workloads and benchmarks.
//! It stands on the `ostd` framework (every `unsafe` block of the guest
//! lives there) and on the host-tested crates (`sched`, `mm`, `block`,
//! `ext2`, `pagecache`, `virtio-core`, ...).
//!
//! [`main`] runs on the boot CPU once the framework has set the machine up
//! (`ostd::boot::start`): it finds the virtio devices and starts the test,
//! benchmark or workload the command line asks for, in kernel threads.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod bench;
mod ctl;
mod fs;
mod virtio;
mod wait;
mod workload;

use bootinfo::Cmdline;

// The framework's modules under the names the kernel has always used.
use ostd::boot::BootInfo;
use ostd::{cpu, exit, heap, kstack, percpu, platform, port, println, serial, sync, task};

/// The kernel proper's entry (`ostd::boot::start` calls it on the boot CPU).
pub fn main(boot: &'static BootInfo) {
    virtio::init(&boot.cmdline, boot.start_info.rsdp_paddr, &boot.memmap);
    run_requested(&boot.cmdline);
}

/// The `test=`, `bench=`, `workload=` and `ctl=` modes. Returns when the
/// requested work runs in kernel threads (the caller then enters the idle
/// loop); without any of them the boot ends with status 0.
fn run_requested(cmdline: &Cmdline<'static>) {
    match cmdline.get("test") {
        None => {}
        Some("panic") => panic!("test panic requested"),
        Some("triple-fault") => {
            println!("test: triple fault");
            cpu::triple_fault()
        }
        Some("page-fault") => {
            // A fault in a kernel thread while other threads keep every CPU busy.
            workload::selftest::busy_threads();
            task::spawn("page-fault", 0, 0, || {
                println!("test: page fault at {:#x}", cpu::UNMAPPED_ADDRESS);
                cpu::touch_unmapped()
            });
            return;
        }
        Some("stack-overflow") => {
            workload::selftest::stack_overflow();
            return;
        }
        Some("sync") => {
            workload::selftest::start();
            return;
        }
        Some(other) => panic!("unknown test={other}"),
    }
    match cmdline.get("bench") {
        None => {}
        Some("loop") => {
            let iterations = cmdline
                .get_u64("loop_iters")
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or(bench::DEFAULT_LOOP_ITERATIONS);
            bench::spin_loop(iterations)
        }
        Some(other) => {
            panic!("unknown bench={other} (loop; exit benchmarks are the pio and mmio workloads)")
        }
    }
    let ctl = ctl::start(cmdline);
    match cmdline.get("workload") {
        Some(name) => workload::start(name, *cmdline, ctl),
        None if ctl => {}
        None => {
            println!("ferrite: done");
            exit::exit(0)
        }
    }
}
