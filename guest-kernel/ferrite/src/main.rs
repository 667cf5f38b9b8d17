//! ferrite: a small x86_64 guest kernel. This crate is the bare-metal part,
//! the only one allowed `unsafe`; parsing and policy live in safe crates
//! (`bootinfo`) that are unit-tested on the host.
//!
//! Boot flow: boot.S (PVH or direct entry -> per-CPU boot stack -> own page
//! tables -> PVM native mode if on PVM, on every CPU) -> `kernel_main` here on
//! the boot CPU (`smp::ap_main` on the others) -> banner, boot report, heap,
//! (QEMU/PVH: find and start the other CPUs, `smp::start_pvh_aps`) ->
//! buddy/slab allocators, scheduler -> secondary CPUs released -> the test,
//! benchmark or workload the command line asks for, in kernel threads, while
//! every CPU runs its idle loop -> debug exit.

#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

extern crate alloc;

mod bench;
mod boot;
mod cpu;
mod ctl;
mod exit;
mod fs;
mod heap;
mod kstack;
mod mem;
mod panic;
mod percpu;
mod phys;
mod platform;
mod port;
mod serial;
mod smp;
mod sync;
mod task;
mod trap;
mod virtio;
mod workload;

use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use bootinfo::placement::{self, Request};
use bootinfo::report::memory_report;
use bootinfo::{Cmdline, PhysRange};

use boot::{BootInfo, EntryPath};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Bootstrap heap sizes to try, largest first (bytes). It holds the early
/// allocations and the `mm` crate's metadata (~10 bytes per page of RAM).
const HEAP_SIZES: [u64; 3] = [16 << 20, 4 << 20, 1 << 20];
/// The heap stays above the first MiB (firmware, loader data) and inside the direct map.
const HEAP_WINDOW: PhysRange = PhysRange::new(1 << 20, phys::DIRECT_MAP_END);

static PVM_NATIVE: AtomicBool = AtomicBool::new(false);

/// "pvm-native" or "kvm": the execution mode, as the banner and every JSON result say.
pub fn mode_name() -> &'static str {
    if PVM_NATIVE.load(Relaxed) {
        "pvm-native"
    } else {
        "kvm"
    }
}

/// Called once by boot.S on the boot CPU, with interrupts off, on the boot
/// stack, with the kernel's page tables loaded and (on PVM) in native mode.
/// `ncpus` is the vCPU count (1 on the PVH path, until `smp` has started
/// the other CPUs).
// SAFETY (no_mangle): boot.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn kernel_main(
    start_info_pa: u64,
    entry: u64,
    pvm_native: u64,
    cpu: u64,
    ncpus: u64,
) -> ! {
    serial::init();
    trap::init();
    let pvm_native = pvm_native != 0;
    percpu::init(cpu as usize, pvm_native);
    PVM_NATIVE.store(pvm_native, Relaxed);

    let entry = EntryPath::from_raw(entry);
    println!(
        "ferrite {VERSION} booted (mode: {}, entry: {})",
        mode_name(),
        entry.name()
    );

    let boot = BootInfo::read(start_info_pa);
    println!("cmdline: {}", boot.cmdline);
    println!(
        "boot cpu: {cpu} of {ncpus}, hvm_start_info at {start_info_pa:#x} (version {})",
        boot.start_info.version
    );
    percpu::set_ncpus(ncpus as usize);
    let ncpus = ncpus as usize;
    assert!(
        !boot.memmap.is_empty(),
        "the loader passed no memory map (hvm_start_info version {})",
        boot.start_info.version
    );
    platform::init_bsp(&boot.cmdline, pvm_native, ncpus);

    let heap = choose_heap(&boot);
    heap::init(heap);
    print!("{}", memory_report(&boot.memmap));
    println!(
        "kernel image: {}, bootstrap heap: {heap}",
        boot::kernel_image()
    );

    let free = free_ram(&boot, heap);
    // panvm entered every vCPU already; under QEMU (PVH) the kernel finds
    // and starts the others itself (smp.rs).
    let ncpus = match entry {
        EntryPath::Direct => ncpus,
        EntryPath::Pvh => smp::start_pvh_aps(&boot),
    };
    heap::init_mm(&free, ncpus);
    let (used, size) = heap::usage();
    let buddy = heap::buddy_stats();
    println!(
        "mm: buddy allocator over {} ranges, {} of {} pages free; bootstrap heap {used} of {size} bytes used",
        free.len(),
        buddy.free_pages,
        buddy.total_pages
    );

    task::init(ncpus, tunables(&boot.cmdline, ncpus), full_preemption(&boot.cmdline));
    smp::release_aps();
    println!(
        "smp: {} CPUs online, irq: {}, preempt: {}",
        smp::online(),
        platform::irq_mode().name(),
        task::preempt_model()
    );

    virtio::init(&boot.cmdline, boot.start_info.rsdp_paddr, &boot.memmap);
    run_requested(&boot.cmdline);
    task::idle_loop()
}

/// The prebuilt `alloc` (compiled for unwinding) references this symbol on
/// its cleanup paths; with `panic = "abort"` no unwind ever starts, so it is
/// unreachable.
// SAFETY (no_mangle): the symbol the prebuilt library expects; nothing else defines it.
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    panic!("_Unwind_Resume called in a panic=abort kernel")
}

/// Scheduler tunables: Linux's defaults scaled for `ncpus`, then any
/// `NAME=VALUE` of the five tunables from the command line.
fn tunables(cmdline: &Cmdline<'_>, ncpus: usize) -> sched::Tunables {
    let mut tunables = sched::Tunables::scaled_for(ncpus);
    for name in sched::Tunables::NAMES {
        if let Some(value) = cmdline.get_u64(name).unwrap_or_else(|e| panic!("{e}")) {
            tunables
                .set(name, value)
                .unwrap_or_else(|e| panic!("command line: {name}={value}: {e}"));
        }
    }
    tunables
}

/// `preempt=full|voluntary` (Linux's names; default full): whether, in
/// interrupt mode, an interrupt preempts the task it interrupted (task.rs,
/// "When switches happen"). Polling mode is always voluntary.
fn full_preemption(cmdline: &Cmdline<'_>) -> bool {
    match cmdline.get("preempt") {
        None | Some("full") => true,
        Some("voluntary") => false,
        Some(other) => panic!("preempt={other}: expected full or voluntary"),
    }
}

/// RAM for the buddy allocator: every RAM range of the memory map inside
/// [1 MiB, end of the direct map), minus the kernel image (with the per-CPU
/// boot stacks), the boot structures and modules, and the bootstrap heap.
fn free_ram(boot: &BootInfo, bootstrap_heap: PhysRange) -> alloc::vec::Vec<mm::PhysRange> {
    let ram: alloc::vec::Vec<PhysRange> = boot
        .memmap
        .iter()
        .filter(|e| e.is_ram())
        .map(|e| PhysRange::new(e.addr.max(HEAP_WINDOW.start), e.end().min(HEAP_WINDOW.end)))
        .filter(|r| !r.is_empty())
        .collect();
    let holes: alloc::vec::Vec<PhysRange> = core::iter::once(boot::kernel_image())
        .chain(core::iter::once(bootstrap_heap))
        .chain(boot.reserved_ranges())
        .collect();
    heap::subtract(&ram, &holes)
}

/// First-fit heap placement clear of the kernel image and the boot structures.
fn choose_heap(boot: &BootInfo) -> PhysRange {
    let mut reserved = [PhysRange::new(0, 0); 16];
    let mut count = 0;
    for range in core::iter::once(boot::kernel_image()).chain(boot.reserved_ranges()) {
        assert!(
            count < reserved.len(),
            "too many reserved ranges for the heap search"
        );
        reserved[count] = range;
        count += 1;
    }
    HEAP_SIZES
        .iter()
        .find_map(|&size| {
            let request = Request {
                size,
                align: 2 << 20,
                window: HEAP_WINDOW,
            };
            placement::find_free(&boot.memmap, &reserved[..count], request)
        })
        .unwrap_or_else(|| {
            panic!(
                "no RAM for a {} KiB heap in {HEAP_WINDOW}",
                HEAP_SIZES[2] >> 10
            )
        })
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
        Some(other) => panic!("unknown bench={other} (loop; exit benchmarks are the pio and mmio workloads)"),
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
