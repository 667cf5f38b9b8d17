//! Kernel thread stacks in a virtual area of their own, each above unmapped
//! guard pages (Linux's CONFIG_VMAP_STACK), so that an overflow faults
//! instead of silently overwriting whatever lies below.
//!
//! # Layout
//!
//! The stack area is the 1 GiB below the kernel's upper-half map,
//! `0xffffffff40000000..0xffffffff80000000` (boot.S: `boot_pdpt_high[509]`
//! points at the static page directory `stack_area_pd`; the same PML4 entry
//! as the kernel, which PVM native mode is known to accept). It is cut into
//! 16384 slots of 64 KiB (`LAYOUT`; their books: `mm::stack_area`): the
//! lower 32 KiB of a slot are never mapped (the guard), the upper 32 KiB
//! hold one stack, mapped with 4 KiB pages from the page allocator
//! (`heap::alloc_page`; they need not be contiguous). Page tables are allocated when a slot in their 2 MiB is first
//! used and kept: slots are reused, so the tables are too. When all slots are
//! in use, creating a stack panics.
//!
//! Freed stacks stay mapped, pages and all, up to a number `init` sets
//! from the size of RAM (1/16 of it), and are handed out again first (Linux
//! keeps a few per CPU: `NR_CACHED_STACKS`): threads that come and go, such
//! as a benchmark's repeated runs, then write no page-table entry and flush
//! nothing, which matters on PVM, where a new 4 KiB mapping costs a shadow
//! page fault (~4.5 us) and changing a live entry ~45 us (DESIGN.md). Beyond that, a freed stack is unmapped, its
//! pages go back to the page allocator and its slot on the free list.
//!
//! A 32 KiB guard is more than the one page needed: frames larger than a page
//! touch every page on the way down (the target's stack probes), so no frame
//! can step over it. An overflow faults with CR2 in the guard, and the #PF
//! handler, which runs on its own IST stack (trap.rs), reports it
//! (`guarded_stack`, `task::report_stack_overflow`).
//!
//! # TLBs of other CPUs
//!
//! Unmapping a stack's pages and flushes them (`invlpg`) on this CPU
//! only; other CPUs that ran the task may keep translations to the freed
//! pages. There is no IPI shootdown (in PVM native mode interrupts never reach
//! kernel mode, so an IPI would not be taken: DESIGN.md). Instead, before a
//! CPU can use a slot again it drops stale entries itself (`flush_stale`):
//! the only code that touches a stack's addresses is the task that owns it
//! (safe Rust cannot lend stack data to another thread: `task::spawn` takes
//! `'static` closures) and its creator writing the first frame. So the
//! creator (`KernelStack::allocate`) and every switch into a task
//! (`task::switch_away`) call `flush_stale`, which reloads CR3 (flushing all
//! entries; ferrite maps nothing global) if stacks were unmapped since this
//! CPU last flushed. The freed pages return to the allocator at once; a stale
//! entry then still reaches them, but only through the addresses of a dead
//! stack that no code uses: a wild pointer into a dead stack would write
//! through it instead of faulting, which is all a shootdown would add.
//!
//! # Boot stacks
//!
//! The per-CPU boot stacks (which carry the idle loops) and the trap stacks
//! stay unguarded: they are in the kernel image, which boot.S maps with 2 MiB
//! pages whose page directories the identity map shares, and they are in use
//! (boot CPU: from the first instruction) long before the page allocator
//! exists. Guarding them would mean splitting live large pages that also hold
//! kernel data, at boot, while running on them.
//!
//! Lock order: a run-queue lock (task.rs: stacks are freed under it), then `SLOTS`,
//! then the heap's lock (pages and page tables are allocated under `SLOTS`).

use core::arch::asm;
use core::ops::Range;
use core::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

use mm::stack_area::{Slots, StackLayout};
use x86hw::paging::{self, PAGE_SIZE, PTE_ADDRESS, PTE_PRESENT, PTE_USER, PTE_WRITABLE};

use crate::heap;
use crate::percpu::{self, MAX_CPUS};
use crate::phys::KERNEL_VMA;
use crate::sync::SpinLock;

unsafe extern "C" {
    /// The stack area's page directory (boot.S, in `.data.pagetables`).
    static mut stack_area_pd: [u64; 512];
}

const AREA_SIZE: u64 = 1 << 30;
/// The stack area: it ends where the kernel's map begins.
const LAYOUT: StackLayout = StackLayout {
    start: KERNEL_VMA - AREA_SIZE,
    size: AREA_SIZE,
    slot_size: 64 << 10,
    stack_size: STACK_SIZE,
};
const _: () = assert!(
    paging::pdpt_index(LAYOUT.start) == 509,
    "boot.S maps the area at boot_pdpt_high[509]"
);
/// Bytes of stack per kernel thread.
pub const STACK_SIZE: u64 = 32 << 10;
/// Unmapped bytes below every stack.
pub(crate) const GUARD_SIZE: u64 = LAYOUT.guard_size();
/// How many kernel threads can exist at once (one stack each).
pub const MAX_THREADS: usize = LAYOUT.slots() as usize;

/// PVM native mode requires U/S on every entry (boot.S); ferrite has no user mode.
const PTE_FLAGS: u64 = PTE_PRESENT | PTE_WRITABLE | PTE_USER;

/// The fewest and most freed stacks kept mapped for reuse (module doc).
const MIN_MAPPED: usize = 32;
const MAX_MAPPED: usize = 4096;

/// Slot bookkeeping; holding the lock also owns the area's page tables.
static SLOTS: SpinLock<Slots> = SpinLock::new(Slots::new(LAYOUT.slots()));

/// Stacks unmapped so far: the area's TLB generation.
static UNMAPS: AtomicU64 = AtomicU64::new(0);
/// Per CPU: the `UNMAPS` value its TLB is known to be current with.
static FLUSHED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// One kernel thread's stack; unmapped and its slot freed on drop.
pub(crate) struct KernelStack {
    slot: u32,
}

impl KernelStack {
    /// Maps a fresh stack. Panics when all slots are in use or memory is out.
    pub fn allocate() -> Self {
        let mut slots = SLOTS.lock();
        let Some(slot) = slots.take() else {
            panic!(
                "kernel stack area exhausted: all {} stack slots \
                 ({} KiB each at {:#x}) are in use",
                LAYOUT.slots(),
                LAYOUT.slot_size >> 10,
                LAYOUT.start
            )
        };
        let stack = Self { slot: slot.index };
        if slot.mapped {
            // Its mapping never changed, so no TLB holds a stale entry for it.
            return stack;
        }
        for va in stack.pages() {
            let pa = heap::alloc_page().expect("out of memory for a kernel stack");
            let pte = pte_or_new_table(va, &mut slots);
            // SAFETY: `pte` is the entry for `va` in one of the area's page
            // tables, which only this module writes, under SLOTS (held). The
            // slot was free, so the entry is empty and nothing uses `va`;
            // `pa` is a fresh page. Volatile: the MMU reads the table.
            unsafe { pte.write_volatile(pa | PTE_FLAGS) };
        }
        drop(slots);
        // Not-present entries are never cached, but stale ones of the slot's
        // previous stack may be: the caller writes the first frame next.
        flush_stale();
        stack
    }

    /// The stack's bytes: `[bottom, top)`.
    pub fn range(&self) -> Range<u64> {
        LAYOUT.stack_range(self.slot)
    }

    fn pages(&self) -> impl Iterator<Item = u64> {
        self.range().step_by(PAGE_SIZE as usize)
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let mut slots = SLOTS.lock();
        if slots.release(self.slot) {
            return;
        }
        for va in self.pages() {
            let pte = pte(va).expect("a live stack has its page table");
            // SAFETY: `pte` maps `va`, a page of this stack, which is dead
            // (dropped after its task switched away for the last time); only
            // this module writes the area's tables, under SLOTS (held).
            let pa = unsafe { pte.read_volatile() } & PTE_ADDRESS;
            // SAFETY: as above.
            unsafe { pte.write_volatile(0) };
            invlpg(va);
            heap::free_page(pa);
        }
        // A new generation for the other CPUs (module doc). This CPU is
        // current with it if it was with the previous one: it just flushed
        // the only pages that changed.
        let unmaps = UNMAPS.load(Relaxed) + 1;
        let flushed = &FLUSHED[percpu::cpu_id()];
        if flushed.load(Relaxed) == unmaps - 1 {
            flushed.store(unmaps, Relaxed);
        }
        UNMAPS.store(unmaps, Release);
        slots.unmapped(self.slot);
    }
}

/// Sizes the cache of freed stacks that stay mapped: 1/16 of `ram_bytes`
/// worth of stacks, within [`MIN_MAPPED`, `MAX_MAPPED`]. Call once the heap
/// allocator is up, before the first thread exits.
pub(crate) fn init(ram_bytes: u64) {
    let stacks = (ram_bytes / 16 / STACK_SIZE) as usize;
    SLOTS
        .lock()
        .keep_mapped(stacks.clamp(MIN_MAPPED, MAX_MAPPED));
}

/// Drops this CPU's stale translations of freed stacks, if any stack was
/// unmapped since it last did (module doc). Call before this CPU touches a
/// stack it may not have flushed since the stack was mapped.
pub(crate) fn flush_stale() {
    let flushed = &FLUSHED[percpu::cpu_id()];
    let unmaps = UNMAPS.load(Acquire);
    if flushed.load(Relaxed) == unmaps {
        return;
    }
    // SAFETY: writing CR3 back unchanged keeps the same page tables and only
    // drops cached translations (no global pages, no PCIDs in ferrite).
    unsafe {
        asm!("mov {t}, cr3", "mov cr3, {t}", t = out(reg) _, options(nostack, preserves_flags));
    }
    flushed.store(unmaps, Relaxed);
}

/// The stack whose guard pages contain `addr`, as `[bottom, top)`; whether
/// or not a stack lives in that slot now.
pub(crate) fn guarded_stack(addr: u64) -> Option<Range<u64>> {
    LAYOUT.guarded_stack(addr)
}

/// Whether `addr` lies on a mapped stack page. For diagnostics (backtraces):
/// it reads the tables without the lock, so a stack freed meanwhile on
/// another CPU can make the answer stale.
pub(crate) fn is_mapped(addr: u64) -> bool {
    // SAFETY: a read of a page-table entry of the area (see `pte`); volatile,
    // whatever a racing writer leaves there is just a number.
    pte(addr).is_some_and(|pte| unsafe { pte.read_volatile() } & PTE_PRESENT != 0)
}

/// The page-table entry for `va` in the stack area, if its page table exists.
fn pte(va: u64) -> Option<*mut u64> {
    let pde = pde(va)?;
    // SAFETY: `pde` is an entry of the static page directory; volatile,
    // because the MMU reads it too.
    let table = unsafe { pde.read_volatile() };
    if table & PTE_PRESENT == 0 {
        return None;
    }
    let pt = heap::phys_to_virt(table & PTE_ADDRESS) as *mut u64;
    // SAFETY: present directory entries point at page tables this module
    // allocated (one page, 512 entries, never freed, in the direct map); the
    // index is below 512.
    Some(unsafe { pt.add(paging::pt_index(va)) })
}

/// [`pte`], first allocating the page table if `va`'s 2 MiB has none.
fn pte_or_new_table(va: u64, _held: &mut Slots) -> *mut u64 {
    if let Some(pte) = pte(va) {
        return pte;
    }
    let pa = heap::alloc_page().expect("out of memory for a stack page table");
    let pde = pde(va).expect("stack addresses lie in the area");
    // SAFETY: `pa` is a fresh page in the direct map, ours alone; a zeroed
    // table maps nothing. The directory entry is written under SLOTS (the
    // `_held` borrow), by this module only; the MMU reads it, hence volatile.
    unsafe {
        core::ptr::write_bytes(heap::phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE as usize);
        pde.write_volatile(pa | PTE_FLAGS);
    }
    pte(va).expect("the page table just installed")
}

/// The page-directory entry covering `va`, if `va` is in the stack area.
fn pde(va: u64) -> Option<*mut u64> {
    LAYOUT.offset(va)?;
    let pd = (&raw mut stack_area_pd).cast::<u64>();
    // SAFETY: `pd_index` is below 512: inside the static.
    Some(unsafe { pd.add(paging::pd_index(va)) })
}

fn invlpg(va: u64) {
    // SAFETY: invalidating a TLB entry has no effect beyond a later page walk.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
}

/// Slots that have held a stack so far (the high-water mark of live stacks).
pub fn slots_used() -> u32 {
    SLOTS.lock().used()
}
