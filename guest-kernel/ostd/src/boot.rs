//! The boot assembly (boot.S), what it passes to `kernel_main`, and the boot
//! CPU's start-up up to the kernel proper ([`start`]).
//!
//! Boot flow: boot.S (PVH or direct entry -> per-CPU boot stack -> own page
//! tables -> PVM native mode if on PVM, on every CPU) -> the kernel binary's
//! `kernel_main` on the boot CPU (`smp::ap_main` on the others) -> [`start`]:
//! banner, boot report, heap, (QEMU/PVH: find and start the other CPUs,
//! `smp::start_pvh_aps`) -> buddy/slab allocators, scheduler -> secondary
//! CPUs released -> the kernel proper's main, which starts the test,
//! benchmark or workload the command line asks for in kernel threads, while
//! every CPU runs its idle loop -> debug exit.

use alloc::boxed::Box;
use core::arch::global_asm;

use bootinfo::placement;
use bootinfo::report::memory_report;
use bootinfo::start_info::{EntryPath, START_INFO_SIZE, StartInfo};
use bootinfo::{Cmdline, PhysRange, cmdline::CMDLINE_MAX, memmap::Memmap, modlist};

use crate::{heap, kstack, percpu, phys, platform, print, println, serial, smp, task, trap};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Bootstrap heap sizes to try, largest first (bytes). It holds the early
/// allocations and the `mm` crate's metadata (~10 bytes per page of RAM).
const HEAP_SIZES: [u64; 3] = [16 << 20, 4 << 20, 1 << 20];
/// The heap stays above the first MiB (firmware, loader data) and inside the direct map.
const HEAP_WINDOW: PhysRange = PhysRange::new(1 << 20, phys::DIRECT_MAP_END);

/// The boot CPU's way from boot.S to the kernel proper: called once by the
/// kernel binary's `kernel_main` (which boot.S calls on the boot CPU, with
/// interrupts off, on the boot stack, with the kernel's page tables loaded
/// and, on PVM, in native mode), with boot.S's arguments. `ncpus` is the vCPU
/// count (1 on the PVH path, until `smp` has started the other CPUs).
///
/// Sets up the console, traps, per-CPU data, the platform (time, interrupt
/// mode), the heap and allocators, the other CPUs and the scheduler, then
/// runs `kernel_main` (the kernel proper: drivers, then the work the command
/// line asks for, in kernel threads) and becomes this CPU's idle loop.
pub fn start(
    start_info_pa: u64,
    entry: u64,
    pvm_native: u64,
    cpu: u64,
    ncpus: u64,
    kernel_main: fn(&'static BootInfo),
) -> ! {
    serial::init();
    trap::init();
    let pvm_native = pvm_native != 0;
    percpu::init(cpu as usize, pvm_native);

    let entry = EntryPath::from_raw(entry);
    println!(
        "ferrite {VERSION} booted (mode: {}, entry: {})",
        if pvm_native { "pvm-native" } else { "kvm" },
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
    println!("kernel image: {}, bootstrap heap: {heap}", kernel_image());

    let free = free_ram(&boot, heap);
    // panvm entered every vCPU already; under QEMU (PVH) the kernel finds
    // and starts the others itself (smp.rs).
    let ncpus = match entry {
        EntryPath::Direct => ncpus,
        EntryPath::Pvh => smp::start_pvh_aps(&boot),
    };
    heap::init_mm(&free, ncpus);
    kstack::init(free.iter().map(|r| r.len()).sum());
    let (used, size) = heap::usage();
    let buddy = heap::buddy_stats();
    println!(
        "mm: buddy allocator over {} ranges, {} of {} pages free; bootstrap heap {used} of {size} bytes used",
        free.len(),
        buddy.free_pages,
        buddy.total_pages
    );

    task::init(
        ncpus,
        tunables(&boot.cmdline, ncpus),
        full_preemption(&boot.cmdline),
    );
    smp::release_aps();
    println!(
        "smp: {} CPUs online, irq: {}, preempt: {}",
        smp::online(),
        platform::irq_mode().name(),
        task::preempt_model()
    );

    // Leaked: the kernel proper and its threads keep the boot information.
    let boot: &'static BootInfo = Box::leak(Box::new(boot));
    kernel_main(boot);
    task::idle_loop()
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
    let holes: alloc::vec::Vec<PhysRange> = core::iter::once(kernel_image())
        .chain(core::iter::once(bootstrap_heap))
        .chain(boot.reserved_ranges())
        .collect();
    placement::free_ranges(&boot.memmap, HEAP_WINDOW, &holes)
        .iter()
        .map(|r| mm::PhysRange::new(r.start, r.end))
        .collect()
}

/// First-fit heap placement clear of the kernel image and the boot
/// structures (in a fixed array: there is no heap yet).
fn choose_heap(boot: &BootInfo) -> PhysRange {
    let mut reserved = [PhysRange::new(0, 0); 16];
    let mut count = 0;
    for range in core::iter::once(kernel_image()).chain(boot.reserved_ranges()) {
        assert!(
            count < reserved.len(),
            "too many reserved ranges for the heap search"
        );
        reserved[count] = range;
        count += 1;
    }
    let reserved = &reserved[..count];
    placement::find_largest(&boot.memmap, reserved, &HEAP_SIZES, 2 << 20, HEAP_WINDOW)
        .unwrap_or_else(|| {
            panic!(
                "no RAM for a {} KiB heap in {HEAP_WINDOW}",
                HEAP_SIZES[2] >> 10
            )
        })
}

global_asm!(include_str!("boot.S"), options(att_syntax));

/// Everything the loader handed over, read through the direct map.
pub struct BootInfo {
    pub start_info_pa: u64,
    pub start_info: StartInfo,
    pub memmap: Memmap<'static>,
    pub cmdline: Cmdline<'static>,
    modlist: &'static [u8],
    cmdline_len: u64,
}

impl BootInfo {
    /// Reads `hvm_start_info` at `start_info_pa` and what it points to.
    /// Panics with the reason if the structure is unusable.
    pub fn read(start_info_pa: u64) -> Self {
        let start_info = StartInfo::parse(phys::boot_bytes(start_info_pa, START_INFO_SIZE))
            .unwrap_or_else(|e| panic!("boot info at {start_info_pa:#x}: {e}"));
        let memmap = Memmap::new(phys::boot_bytes(
            start_info.memmap_paddr,
            Memmap::byte_len(start_info.memmap_entries),
        ));
        let cmdline_bytes = match start_info.cmdline_paddr {
            0 => &[][..],
            pa => phys::boot_c_string(pa, CMDLINE_MAX),
        };
        let modlist = phys::boot_bytes(
            start_info.modlist_paddr,
            modlist::byte_len(start_info.nr_modules),
        );
        Self {
            start_info_pa,
            start_info,
            memmap,
            cmdline: Cmdline::from_c_bytes(cmdline_bytes),
            modlist,
            cmdline_len: cmdline_bytes.len() as u64,
        }
    }

    /// Physical ranges the heap must not overlap: the boot structures and modules.
    /// (The kernel image is added by the caller.)
    pub(crate) fn reserved_ranges(&self) -> impl Iterator<Item = PhysRange> + '_ {
        self.start_info
            .reserved_ranges(self.start_info_pa, self.cmdline_len, self.modlist)
    }
}

unsafe extern "C" {
    // Linker-script symbols (linker.ld): only their addresses are meaningful.
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// Physical range of the loaded kernel image, including .bss and boot stack.
pub(crate) fn kernel_image() -> PhysRange {
    let start = (&raw const __kernel_start) as u64;
    let end = (&raw const __kernel_end) as u64;
    PhysRange::new(start - phys::KERNEL_VMA, end - phys::KERNEL_VMA)
}
