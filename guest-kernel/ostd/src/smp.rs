//! Bringing up the secondary CPUs (APs).
//!
//! Two ways in, one per-CPU path (BOOT.md):
//!
//! - **panvm** enters every vCPU at once in boot.S with its index in RDI and
//!   the vCPU count in RSI. Nothing here starts anything.
//! - **QEMU (PVH)** enters only the boot CPU. [`start_pvh_aps`] then finds
//!   the other CPUs (ACPI MADT, else the MP table, else `cpus=N`), copies
//!   boot.S's real-mode trampoline to a free page below 1 MiB and wakes each
//!   AP in turn with INIT-SIPI-SIPI through the local APIC (Intel SDM vol. 3,
//!   9.4.4; Linux's `wakeup_secondary_cpu_via_init`), handing it its index
//!   in [`ApBootParams`]. The trampoline goes to protected mode, then to long
//!   mode on the kernel's page tables, and joins boot.S's common path as an
//!   AP with that index.
//!
//! From there both are the same: each AP takes its own boot stack, loads the
//! kernel's page tables, switches itself into PVM native mode if it runs on
//! PVM, waits in boot.S until .bss is clear and enters [`ap_main`]. There it
//! sets up its per-CPU data and spins (natively, with `pause`) until the
//! boot CPU has built the heap, the allocator and the scheduler and calls
//! [`release_aps`]; then it initialises its platform state and joins
//! scheduling in its idle loop.

use alloc::vec::Vec;
use core::hint::spin_loop;
use core::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Release,
};

use bootinfo::PhysRange;
use bootinfo::cpus::{self, MpSearch, Source};
use bootinfo::placement::{self, Request};
use virtio_core::acpi::{self, PhysMem};

use crate::boot::{self, BootInfo};
use crate::firmware::FirmwareMemory;
use crate::{percpu, phys, platform, println, task, trap};

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
pub(crate) fn release_aps() {
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
pub(crate) fn online() -> usize {
    ONLINE.load(Acquire)
}

/// What boot.S's `ap_entry_high` reads (offsets 0, 8, 16 there): set by
/// the boot CPU before it sends an AP its STARTUP IPIs.
#[repr(C)]
struct ApBootParams {
    /// The index offered to the next AP (0: none; such an AP parks). The AP
    /// claims it with `lock cmpxchg` (index -> 0); the boot CPU withdraws it
    /// the same way when it gives up, so exactly one side wins.
    cpu: AtomicU64,
    /// Physical address of `hvm_start_info` (what the PVH entry got in EBX).
    start_info: AtomicU64,
    /// The CPU count.
    ncpus: AtomicU64,
}

// SAFETY (export_name): boot.S reads and claims this symbol; nothing else defines it.
#[unsafe(export_name = "ap_boot_params")]
static AP_BOOT_PARAMS: ApBootParams = ApBootParams {
    cpu: AtomicU64::new(0),
    start_info: AtomicU64::new(0),
    ncpus: AtomicU64::new(0),
};

unsafe extern "C" {
    // boot.S: the 16-bit code copied below 1 MiB; only the addresses matter.
    static ap_trampoline: u8;
    static ap_trampoline_end: u8;
}

/// Where the trampoline may go: a 4 KiB page of RAM in [4 KiB, 640 KiB) (a
/// STARTUP IPI names a page below 1 MiB; page 0 holds the real-mode IVT).
const TRAMPOLINE_WINDOW: PhysRange = PhysRange::new(0x1000, 0xa_0000);
/// How long one AP may take from INIT to running 64-bit kernel code (TCG on
/// a busy host: ~20 ms). Linux waits 10 s; a kernel that cannot start its
/// APs (e.g. a hypervisor without real mode) should not hang its boot long.
const AP_START_TIMEOUT_NS: u64 = 3_000_000_000;
/// Between the two STARTUP IPIs (SDM: 200 us).
const SIPI_GAP_NS: u64 = 200_000;

/// PVH path (QEMU), boot CPU, after `platform::init_bsp` (time, APIC mode)
/// and the bootstrap heap: finds the other CPUs, starts each with
/// INIT-SIPI-SIPI and returns the CPU count (this one included), which it
/// records with `percpu` and `platform`. The APs then wait in [`ap_main`]
/// for [`release_aps`]. An AP that does not start within
/// AP_START_TIMEOUT_NS is reported and the kernel goes on with the CPUs
/// started before it (it tries no more: what failed one would fail all).
///
/// `cpus=N` (1..=MAX_CPUS): use at most N CPUs of those the firmware lists
/// (`cpus=1`: none but this one); without an MADT or MP table, assume APIC
/// ids 0..N-1.
pub(crate) fn start_pvh_aps(boot: &BootInfo) -> usize {
    let limit = match boot.cmdline.get_u64("cpus") {
        Ok(None) => None,
        Ok(Some(n)) if (1..=percpu::MAX_CPUS as u64).contains(&n) => Some(n as usize),
        Ok(Some(n)) => panic!("cpus={n}: expected 1..={}", percpu::MAX_CPUS),
        Err(e) => panic!("{e}"),
    };
    let bsp = platform::apic_id(0).expect("init_bsp records the boot CPU's APIC id");
    let (source, found) = discover(boot, limit);
    let order = cpus::boot_order(
        bsp,
        found.iter().copied(),
        limit.unwrap_or(percpu::MAX_CPUS).min(percpu::MAX_CPUS),
    );
    if !found.is_empty() && !found.contains(&bsp) {
        println!(
            "smp: warning: the boot CPU's APIC id {bsp} is not among the {}'s {found:?}",
            source.name()
        );
    }
    if found.len() > order.len() {
        println!(
            "smp: using {} of the {} CPUs listed (cpus= or MAX_CPUS)",
            order.len(),
            found.len()
        );
    }
    println!(
        "smp: {} CPU(s) ({}): APIC ids {order:?}",
        order.len(),
        source.name()
    );
    if order.len() == 1 {
        percpu::set_ncpus(1);
        platform::set_ncpus(1);
        return 1;
    }

    let page = place_trampoline(boot);
    AP_BOOT_PARAMS.start_info.store(boot.start_info_pa, Release);
    AP_BOOT_PARAMS.ncpus.store(order.len() as u64, Release);
    let started_at = platform::now_ns();
    let mut ncpus = 1;
    for &apic_id in &order[1..] {
        if let Err(e) = start_one(ncpus, apic_id, page) {
            println!("smp: warning: {e}; going on with {ncpus} CPU(s)");
            break;
        }
        ncpus += 1;
    }
    percpu::set_ncpus(ncpus);
    platform::set_ncpus(ncpus);
    println!(
        "smp: started {} AP(s) by INIT-SIPI-SIPI, trampoline at {:#x}, in {} ms",
        ncpus - 1,
        u64::from(page) << 12,
        (platform::now_ns() - started_at) / 1_000_000
    );
    ncpus
}

/// INIT, STARTUP, and a second STARTUP unless the AP already answered; then
/// waits until the AP with APIC id `apic_id` has claimed index `cpu`.
fn start_one(cpu: usize, apic_id: u32, page: u8) -> Result<(), alloc::string::String> {
    if apic_id > 0xff && !platform::x2apic_enabled() {
        return Err(alloc::format!(
            "APIC id {apic_id} cannot be addressed in xAPIC mode"
        ));
    }
    AP_BOOT_PARAMS.cpu.store(cpu as u64, Release);
    let claimed = || AP_BOOT_PARAMS.cpu.load(Acquire) == 0;
    let deadline = platform::now_ns() + AP_START_TIMEOUT_NS;
    let mut sent = platform::send_init_ipi(apic_id) && platform::send_startup_ipi(apic_id, page);
    platform::time::spin_ns(SIPI_GAP_NS);
    if sent && !claimed() {
        sent = platform::send_startup_ipi(apic_id, page);
    }
    while sent && !claimed() && platform::now_ns() < deadline {
        spin_loop();
    }
    // Withdraw the offer unless it was taken; the CAS decides a last-moment race.
    if AP_BOOT_PARAMS
        .cpu
        .compare_exchange(cpu as u64, 0, AcqRel, Acquire)
        .is_err()
    {
        return Ok(()); // claimed by the AP
    }
    // Put the AP back into wait-for-SIPI, wherever it got to.
    platform::send_init_ipi(apic_id);
    Err(if sent {
        alloc::format!(
            "CPU {cpu} (APIC id {apic_id}) did not start within {} ms of INIT-SIPI-SIPI",
            AP_START_TIMEOUT_NS / 1_000_000
        )
    } else {
        alloc::format!("the local APIC did not send INIT/STARTUP to APIC id {apic_id}")
    })
}

/// The APIC ids of the enabled CPUs the firmware lists, and where from.
fn discover(boot: &BootInfo, limit: Option<usize>) -> (Source, Vec<u32>) {
    let mem = FirmwareMemory {
        memmap: &boot.memmap,
    };
    let rsdp = boot.start_info.rsdp_paddr;
    if rsdp != 0 {
        match acpi::find_table(&mem, rsdp, b"APIC") {
            Ok(Some(madt)) => {
                let ids: Vec<u32> = acpi::madt_cpus(&madt)
                    .into_iter()
                    .filter(|c| c.enabled)
                    .map(|c| c.apic_id)
                    .collect();
                if !ids.is_empty() {
                    return (Source::Madt, ids);
                }
                println!("smp: the MADT lists no enabled processor");
            }
            Ok(None) => println!("smp: ACPI tables without a MADT"),
            Err(e) => println!("smp: ACPI tables unusable ({e})"),
        }
    }
    match cpus::find_mp_cpus(|pa, buf| mem.read(pa, buf)) {
        MpSearch::NotFound => {}
        MpSearch::Default { .. } => return (Source::MpDefault, alloc::vec![0, 1]),
        MpSearch::Table { cpus: Ok(cpus), .. } if !cpus.is_empty() => {
            let ids = cpus.iter().filter(|c| c.enabled).map(|c| c.apic_id);
            return (Source::MpTable, ids.collect());
        }
        MpSearch::Table { pa, cpus: Ok(_) } => {
            println!("smp: the MP table at {pa:#x} lists no processor")
        }
        MpSearch::Table { pa, cpus: Err(e) } => {
            println!("smp: MP table at {pa:#x} unusable ({e})")
        }
    }
    match limit {
        Some(n) => (Source::Cmdline, (0..n as u32).collect()),
        None => (Source::None, Vec::new()),
    }
}

/// Copies boot.S's trampoline to a free page of RAM below 640 KiB (clear of
/// the boot structures and the RSDP) and returns its page number. Memory
/// below 1 MiB is never given to the allocators.
fn place_trampoline(boot: &BootInfo) -> u8 {
    let start = (&raw const ap_trampoline) as u64;
    let len = (&raw const ap_trampoline_end) as u64 - start;
    assert!(
        len <= 4096,
        "AP trampoline is {len} bytes, more than a page"
    );
    let mut reserved: Vec<PhysRange> = boot.reserved_ranges().collect();
    reserved.push(boot::kernel_image());
    if boot.start_info.rsdp_paddr != 0 {
        reserved.push(PhysRange::from_len(boot.start_info.rsdp_paddr, 36));
    }
    let request = Request {
        size: 4096,
        align: 4096,
        window: TRAMPOLINE_WINDOW,
    };
    let page = placement::find_free(&boot.memmap, &reserved, request).unwrap_or_else(|| {
        panic!("smp: no free RAM page in {TRAMPOLINE_WINDOW} for the AP trampoline")
    });
    let dst = phys::phys_to_virt(page.start, len).expect("below 1 MiB is in the direct map");
    // SAFETY: [start, start + len) is boot.S's trampoline inside the kernel
    // image (mapped, never written); [dst, dst + len) is a page of RAM below
    // 640 KiB that the memory map calls RAM, that no boot structure, RSDP or
    // allocator uses (checked above; the allocators start at 1 MiB) and that
    // no other CPU touches before it is started from there. They do not overlap.
    unsafe { core::ptr::copy_nonoverlapping(start as *const u8, dst as *mut u8, len as usize) };
    (page.start >> 12) as u8
}
