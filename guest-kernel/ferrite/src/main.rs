//! ferrite: a small x86_64 guest kernel. This crate is the bare-metal part,
//! the only one allowed `unsafe`; parsing and policy live in safe crates
//! (`bootinfo`) that are unit-tested on the host.
//!
//! Boot flow: boot.S (PVH or direct entry -> own page tables -> PVM native
//! mode if on PVM) -> `kernel_main` here -> banner, boot report, then the
//! test or benchmark the command line asks for -> debug exit.

#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

extern crate alloc;

mod bench;
mod boot;
mod cpu;
mod exit;
mod heap;
mod mem;
mod panic;
mod phys;
mod port;
mod serial;
mod trap;

use bootinfo::placement::{self, Request};
use bootinfo::report::memory_report;
use bootinfo::{Cmdline, PhysRange};

use boot::{BootInfo, EntryPath};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Heap sizes to try, largest first (bytes).
const HEAP_SIZES: [u64; 3] = [16 << 20, 4 << 20, 1 << 20];
/// The heap stays above the first MiB (firmware, loader data) and inside the direct map.
const HEAP_WINDOW: PhysRange = PhysRange::new(1 << 20, phys::DIRECT_MAP_END);

/// Called once by boot.S on the boot CPU, with interrupts off, on the boot
/// stack, with the kernel's page tables loaded and (on PVM) in native mode.
// SAFETY (no_mangle): boot.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn kernel_main(start_info_pa: u64, entry: u64, pvm_native: u64, cpu: u64) -> ! {
    serial::init();
    trap::init();

    let mode = if pvm_native != 0 { "pvm-native" } else { "kvm" };
    let entry = EntryPath::from_raw(entry);
    println!(
        "ferrite {VERSION} booted (mode: {mode}, entry: {})",
        entry.name()
    );

    let boot = BootInfo::read(start_info_pa);
    println!("cmdline: {}", boot.cmdline);
    println!(
        "boot cpu: {cpu}, hvm_start_info at {start_info_pa:#x} (version {})",
        boot.start_info.version
    );
    assert!(
        !boot.memmap.is_empty(),
        "the loader passed no memory map (hvm_start_info version {})",
        boot.start_info.version
    );

    let heap = choose_heap(&boot);
    heap::init(heap);
    print!("{}", memory_report(&boot.memmap));
    let (used, size) = heap::usage();
    println!(
        "kernel image: {}, heap: {heap} ({used} of {size} bytes used)",
        boot::kernel_image()
    );

    run_requested(&boot.cmdline)
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

/// The `test=` and `bench=` modes; without them the boot ends with status 0.
fn run_requested(cmdline: &Cmdline<'_>) -> ! {
    match cmdline.get("test") {
        None => {}
        Some("panic") => panic!("test panic requested"),
        Some("triple-fault") => {
            println!("test: triple fault");
            cpu::triple_fault()
        }
        Some("page-fault") => {
            println!("test: page fault at {:#x}", cpu::UNMAPPED_ADDRESS);
            cpu::touch_unmapped()
        }
        Some(other) => panic!("unknown test={other}"),
    }
    match cmdline.get("bench") {
        None => {}
        Some("pio") => {
            let batch = cmdline
                .get_u64("pio_batch")
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or(bench::DEFAULT_PIO_BATCH);
            bench::pio(batch)
        }
        Some(other) => panic!("unknown bench={other}"),
    }
    println!("ferrite: done");
    exit::exit(0)
}
