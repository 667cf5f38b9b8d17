//! The kernel heap (`#[global_allocator]`) and page allocation.
//!
//! Two phases:
//! 1. **Bootstrap**: a bump allocator over one physical range chosen from the
//!    memory map at boot. It serves everything until the real allocators
//!    exist, including their own metadata (the `mm` crate allocates only in
//!    its constructors). Freeing there only reclaims the most recent block.
//! 2. **mm**: once `init_mm` has built the `mm` crate's buddy allocator
//!    (over all RAM but the kernel image, the boot structures and the
//!    bootstrap range), its per-CPU page caches and kmalloc slab caches, the
//!    global allocator serves objects up to 8 KiB through three tiers
//!    (`mm::CpuCache`'s docs): this CPU's magazines without any lock, then
//!    a per-size-class depot of full magazines behind that class's lock,
//!    then the slabs behind the allocator lock. Larger blocks come from the
//!    buddy allocator under the allocator lock. Frees of pointers inside the
//!    bootstrap range are ignored from then on: that memory is never reused.
//!
//! Order-0 pages (`PageBlock::from_cache`, kernel stacks) come from this
//! CPU's `mm::PageCache` the same way: no lock unless it refills or drains a
//! batch.
//!
//! # Why a CPU may use its magazines and page cache without a lock
//!
//! A CPU's `CpuCache` and `PageCache` are only touched by code running on
//! that CPU, inside `alloc`/`dealloc` and the page functions, with preemption
//! disabled (`percpu::PreemptGuard`, one
//! `inc`/`dec` of a per-CPU counter), and nothing else runs on that CPU until
//! they return: the task is neither preempted nor moved to another CPU, and
//! interrupt handlers never allocate (they only touch per-CPU atomics, see
//! `sync.rs`). So at most one `&mut` to a CPU's caches exists at a time,
//! with no `cli`/`sti` and no atomic read-modify-write on the fast path.
//!
//! The `mm` crate deals in physical addresses; they become pointers through
//! the kernel's direct map (`phys.rs`: virtual = `KERNEL_VMA` + physical).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};

use bootinfo::PhysRange;
use mm::bump::Bump;
use mm::{
    BuddyAllocator, BuddyStats, CpuCache, Depot, FragmentationReport, Kmalloc, KmallocStats,
    NR_KMALLOC_CLASSES, PageBacking, PageCache, SlabBacking,
};

use crate::percpu::{self, PreemptGuard};
use crate::phys;
use crate::sync::SpinLock;

/// Per-CPU page cache: pages moved to/from the buddy allocator at once, and
/// the most one CPU keeps (Linux's defaults are in the same range).
const PCP_BATCH: usize = 31;
const PCP_HIGH: usize = 186;

/// The `mm` crate's allocators, behind one lock.
pub(crate) struct Mm {
    pub buddy: BuddyAllocator,
    pub kmalloc: Kmalloc,
}

pub(crate) struct KernelHeap {
    /// Bootstrap region, virtual addresses; empty before `init`.
    bootstrap: Bump,
    /// Set once `mm` holds the real allocators.
    mm_ready: AtomicBool,
    mm: SpinLock<Option<Mm>>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    bootstrap: Bump::new(),
    mm_ready: AtomicBool::new(false),
    mm: SpinLock::new(None),
};

/// Hands the bootstrap heap its memory: `range` must be RAM that nothing
/// else uses, inside the direct map. Call once, before the first allocation.
pub(crate) fn init(range: PhysRange) {
    let va = phys::phys_to_virt(range.start, range.len())
        .unwrap_or_else(|| panic!("heap {range} is outside the direct map"));
    HEAP.bootstrap.init(va, range.len());
}

/// Bootstrap heap: (bytes in use, bytes in total).
pub(crate) fn usage() -> (u64, u64) {
    HEAP.bootstrap.usage()
}

/// Full magazines each class's depot holds per CPU: enough for a CPU that
/// only frees to hand its magazines to one that only allocates.
const DEPOT_MAGAZINES_PER_CPU: usize = 2;

/// Tier 2: each size class's depot, behind its own lock (`None` before `init_mm`).
static DEPOTS: [SpinLock<Option<Depot>>; NR_KMALLOC_CLASSES] =
    [const { SpinLock::new(None) }; NR_KMALLOC_CLASSES];

/// What one CPU allocates from without a lock: its kmalloc magazines (tier 1)
/// and its page cache.
struct CpuAllocators {
    objects: CpuCache,
    pages: PageCache,
}

/// One CPU's allocators (`None` before `init_mm`).
struct CpuCacheCell(UnsafeCell<Option<CpuAllocators>>);

// SAFETY: each cell is used only by its own CPU (see the module docs, "Why a
// CPU may use its magazines and page cache without a lock"); `init_mm` fills all of them
// before publishing `mm_ready`, which every other use waits for.
unsafe impl Sync for CpuCacheCell {}

static CPU_CACHES: [CpuCacheCell; percpu::MAX_CPUS] =
    [const { CpuCacheCell(UnsafeCell::new(None)) }; percpu::MAX_CPUS];

/// This CPU's magazines and page cache, for `f`, with preemption disabled
/// meanwhile (so the CPU, hence the cell, stays the same). After `init_mm`.
fn with_this_cpu<R>(f: impl FnOnce(&mut CpuAllocators) -> R) -> R {
    let _preempt = PreemptGuard::new();
    // SAFETY: only code on this CPU uses its cell, and not reentrantly:
    // preemption is off, interrupt handlers never allocate (module docs),
    // and nothing `f` is given calls back into the allocator. `init_mm`
    // filled the cell before `mm_ready`, which callers checked.
    let cell = unsafe { &mut *CPU_CACHES[percpu::cpu_id()].0.get() };
    f(cell.as_mut().expect("init_mm filled every CPU's cell"))
}

/// Tiers 2 and 3, and the buddy allocator behind the page caches, as the
/// kernel locks them.
struct KernelBacking;

impl PageBacking for KernelBacking {
    fn with_pages<R>(&self, f: impl FnOnce(&mut BuddyAllocator) -> R) -> R {
        with_mm(|mm| f(&mut mm.buddy))
    }
}

impl SlabBacking for KernelBacking {
    fn with_depot<R>(&self, class: usize, f: impl FnOnce(&mut Depot) -> R) -> R {
        f(DEPOTS[class]
            .lock()
            .as_mut()
            .expect("init_mm built the depots"))
    }

    fn with_slabs<R>(&self, f: impl FnOnce(&mut Kmalloc, &mut BuddyAllocator) -> R) -> R {
        with_mm(|mm| f(&mut mm.kmalloc, &mut mm.buddy))
    }
}

/// Returns what the depots hold to the slabs, and empty slabs to the buddy
/// allocator; returns the bytes given back. (Objects in other CPUs'
/// magazines stay there: each CPU can only drain its own.)
fn reclaim_depots() -> usize {
    let mut bytes = 0;
    for depot in &DEPOTS {
        let mut depot = depot.lock();
        let depot = depot.as_mut().expect("init_mm built the depots");
        bytes += with_mm(|mm| depot.drain(&mut mm.kmalloc, &mut mm.buddy));
    }
    bytes
}

/// `allocate`, and once more after `reclaim_depots` if it failed.
fn with_reclaim<T>(mut allocate: impl FnMut() -> Option<T>) -> Option<T> {
    allocate().or_else(|| {
        reclaim_depots();
        allocate()
    })
}

/// Returns this CPU's cached objects and then every depot's to the slabs,
/// so that kmalloc's statistics count exactly the objects in use (call on
/// each CPU, e.g. from a task pinned there). Returns the bytes given back.
pub fn drain_kmalloc_caches() -> usize {
    with_this_cpu(|cpu| cpu.objects.drain(&KernelBacking)) + reclaim_depots()
}

/// Builds the buddy allocator over `free` (physical RAM nobody else uses,
/// inside the direct map), the per-CPU page caches and kmalloc, then
/// switches the global allocator over to them.
pub(crate) fn init_mm(free: &[mm::PhysRange], ncpus: usize) {
    let buddy = BuddyAllocator::new(free);
    let total_pages = buddy.total_pages();
    // One slab descriptor per 8 pages of RAM covers any mix of slab sizes
    // until RAM is mostly slabs of one page; kmalloc fails (None) beyond.
    let max_slabs = (total_pages / 8).clamp(1024, 1 << 20) as usize;
    let mm = Mm {
        buddy,
        kmalloc: Kmalloc::new(max_slabs),
    };
    *HEAP.mm.lock() = Some(mm);
    for (class, depot) in DEPOTS.iter().enumerate() {
        *depot.lock() = Some(Depot::new(class, DEPOT_MAGAZINES_PER_CPU * ncpus));
    }
    for cell in &CPU_CACHES[..ncpus] {
        // SAFETY: `mm_ready` is not yet set, so no CPU uses its cell.
        unsafe {
            *cell.0.get() = Some(CpuAllocators {
                objects: CpuCache::new(),
                pages: PageCache::new(PCP_BATCH, PCP_HIGH),
            })
        };
    }
    HEAP.mm_ready.store(true, Release);
}

/// Runs `f` on the allocators (after `init_mm`), under their lock.
pub(crate) fn with_mm<R>(f: impl FnOnce(&mut Mm) -> R) -> R {
    let mut guard = HEAP.mm.lock();
    f(guard.as_mut().expect("heap::init_mm has run"))
}

pub(crate) fn phys_to_virt(pa: u64) -> u64 {
    debug_assert!(pa < phys::DIRECT_MAP_END);
    phys::KERNEL_VMA + pa
}

pub(crate) fn virt_to_phys(va: u64) -> u64 {
    debug_assert!(va >= phys::KERNEL_VMA);
    va - phys::KERNEL_VMA
}

/// A block of `4 KiB << order` from the buddy allocator (physical address).
pub(crate) fn alloc_pages(order: usize) -> Option<u64> {
    with_reclaim(|| with_mm(|mm| mm.buddy.alloc(order)))
}

pub(crate) fn free_pages(pa: u64, order: usize) {
    with_mm(|mm| mm.buddy.free(pa, order));
}

/// One page through this CPU's page cache (no lock unless it refills).
pub(crate) fn alloc_page() -> Option<u64> {
    with_reclaim(|| with_this_cpu(|cpu| cpu.pages.alloc(&KernelBacking)))
}

pub(crate) fn free_page(pa: u64) {
    with_this_cpu(|cpu| cpu.pages.free(pa, &KernelBacking));
}

pub fn kmalloc_stats() -> KmallocStats {
    with_mm(|mm| mm.kmalloc.stats())
}

pub fn buddy_stats() -> BuddyStats {
    with_mm(|mm| mm.buddy.stats())
}

pub fn fragmentation() -> FragmentationReport {
    with_mm(|mm| mm.buddy.fragmentation())
}

// SAFETY: bootstrap phase: `mm::bump::Bump` hands out disjoint, aligned
// ranges of the bootstrap region (the compare-exchange moves `next` past
// each one before it is returned; host-tested, threads included) and takes
// back only the newest block. mm phase: `Kmalloc` hands out each physical block to one
// caller at a time (its slab bitmaps / buddy state, host-tested for no
// double hand-out), aligned as asked; the block lies in RAM given only to the
// buddy allocator and mapped by the direct map, so the virtual address is
// valid for `layout.size()` bytes. Frees pass the same size and alignment
// back, as `GlobalAlloc` guarantees.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.mm_ready.load(Acquire) {
            let block = self
                .bootstrap
                .alloc(layout.size() as u64, layout.align() as u64);
            return block.map_or(ptr::null_mut(), |va| va as *mut u8);
        }
        let pa = match mm::slab_class(layout.size(), layout.align()) {
            Some(class) => {
                with_reclaim(|| with_this_cpu(|cpu| cpu.objects.alloc(class, &KernelBacking)))
            }
            None => with_reclaim(|| {
                with_mm(|mm| {
                    mm.kmalloc
                        .alloc(layout.size(), layout.align(), &mut mm.buddy)
                })
            }),
        };
        pa.map_or(ptr::null_mut(), |pa| phys_to_virt(pa) as *mut u8)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let va = ptr as u64;
        if self.bootstrap.contains(va) {
            if !self.mm_ready.load(Acquire) {
                self.bootstrap.free(va, layout.size() as u64);
            }
            return;
        }
        let pa = virt_to_phys(va);
        match mm::slab_class(layout.size(), layout.align()) {
            // After mm_ready: a non-bootstrap pointer comes from mm.
            Some(class) => with_this_cpu(|cpu| cpu.objects.free(class, pa, &KernelBacking)),
            None => with_mm(|mm| {
                mm.kmalloc
                    .free(pa, layout.size(), layout.align(), &mut mm.buddy)
            }),
        }
    }
}

/// A heap object of some size whose first word holds a stamp, and nothing
/// else initialised (as `malloc` would give it): for allocator workloads
/// that must not pay for more. Only the stamp can be read back, so a stamp
/// that changed means someone else was handed the same memory.
pub struct Stamped {
    ptr: ptr::NonNull<u64>,
    layout: Layout,
}

// SAFETY: a `Stamped` owns its allocation alone; moving it to another CPU
// moves that ownership (the global allocator takes frees on any CPU).
unsafe impl Send for Stamped {}

impl Stamped {
    /// `size` bytes (at least 8, 8-aligned) from the global allocator with
    /// `stamp` in the first word; `None` when out of memory.
    pub fn new(size: usize, stamp: u64) -> Option<Self> {
        let layout = Layout::from_size_align(size.max(8), 8).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = ptr::NonNull::new(unsafe { alloc::alloc::alloc(layout) }.cast::<u64>())?;
        // SAFETY: a fresh allocation of at least 8 bytes, aligned to 8.
        unsafe { ptr.as_ptr().write_volatile(stamp) };
        Some(Self { ptr, layout })
    }

    /// The first word, as written by `new` (unless the allocator handed the
    /// memory to someone else too).
    pub fn stamp(&self) -> u64 {
        // SAFETY: the first word is ours and was initialised by `new`.
        unsafe { self.ptr.as_ptr().read_volatile() }
    }

    pub fn size(&self) -> usize {
        self.layout.size()
    }

    /// The object's address, for messages.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }
}

impl Drop for Stamped {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once (here).
        unsafe { alloc::alloc::dealloc(self.ptr.as_ptr().cast(), self.layout) };
    }
}

/// A block of `4 KiB << order` pages, given back when dropped: order-0 pages
/// through this CPU's page cache ([`PageBlock::from_cache`]), or any order
/// straight from the buddy allocator ([`PageBlock::from_buddy`]). Owning the
/// block is the only way to free it, so no page is freed twice or while in use.
pub struct PageBlock {
    pa: u64,
    order: usize,
    cached: bool,
}

impl PageBlock {
    /// One page through this CPU's page cache; `None` when out of memory.
    pub fn from_cache() -> Option<Self> {
        Some(Self {
            pa: alloc_page()?,
            order: 0,
            cached: true,
        })
    }

    /// A block of `order` from the buddy allocator; `None` when out of memory.
    pub fn from_buddy(order: usize) -> Option<Self> {
        Some(Self {
            pa: alloc_pages(order)?,
            order,
            cached: false,
        })
    }
}

impl Drop for PageBlock {
    fn drop(&mut self) {
        if self.cached {
            free_page(self.pa);
        } else {
            free_pages(self.pa, self.order);
        }
    }
}
