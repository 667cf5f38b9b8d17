//! Per-CPU object caches in front of kmalloc's slabs: the lock-free fast
//! path of `kmalloc`/`kfree` (Bonwick's magazines, "Magazines and Vmem",
//! USENIX 2001; Linux SLAB's `array_cache` plays the same part, SLUB's per-CPU
//! slab another form of it).
//!
//! Three tiers, each touched only when the one above runs dry or overflows:
//!
//! 1. [`CpuCache`], one per CPU and used only by its CPU: for every size
//!    class two *magazines* (stacks of object addresses), `loaded` and
//!    `previous`. `alloc` pops from `loaded`, `free` pushes onto it; when
//!    `loaded` is empty (full) and `previous` full (empty), the two swap.
//!    No lock, no atomic read-modify-write: the owner has `&mut`.
//! 2. [`Depot`], one per size class behind its own lock: full magazines,
//!    copied in and out whole. A CPU that frees more than it allocates (the
//!    consumer of a producer/consumer pair) hands its full magazines here and
//!    the producer's CPU takes them: objects freed on another CPU come back
//!    to an allocating CPU one magazine per lock round trip, never one by one.
//! 3. [`Kmalloc`]'s slabs (and the buddy allocator behind them), behind the
//!    allocator lock, only when the depot has no full magazine to give or no
//!    room to take one.
//!
//! The caller supplies tiers 2 and 3 through [`SlabBacking`], which says how
//! to lock them (spin locks in the kernel, mutexes in host tests).
//!
//! # What the fast path does not check
//!
//! Objects sit in magazines without their slab knowing: kmalloc counts them
//! in use. A double free is caught when the object goes back to its slab
//! (tier 3 panics, as before), or at once if it is freed twice in a row on
//! one CPU (the top of the magazine is compared, as SLUB's
//! `CONFIG_SLAB_FREELIST_HARDENED` compares the freelist head); in between it
//! can be handed out twice. Freeing with a wrong size or a foreign address is
//! caught only at tier 3 too. This is SLUB's fast path's bargain.
//!
//! # Sizes
//!
//! Magazine sizes by object size follow SLAB's `enable_cpucache` limits
//! (120 objects per CPU up to 256 bytes, 54 up to 1 KiB, 24 up to 4 KiB,
//! 8 above; a magazine is half of that), so a CPU caches at most about
//! 380 KiB of objects ([`CPU_CACHE_MAX_BYTES`]). Each [`CpuCache`] holds its
//! magazines in one array of [`CPU_CACHE_SLOTS`] addresses (9 KiB).

use alloc::vec;
use alloc::vec::Vec;

use crate::size_class::{KMALLOC_SIZES, NR_KMALLOC_CLASSES, Route, route};
use crate::{BuddyAllocator, Kmalloc};

/// Objects in one magazine of class `class`.
pub const fn magazine_size(class: usize) -> usize {
    match KMALLOC_SIZES[class] {
        0..=256 => 60,
        257..=1024 => 27,
        1025..=4096 => 12,
        _ => 4,
    }
}

/// Where class `class`'s two magazines start in a CPU's slot array.
const fn class_offset(class: usize) -> usize {
    let mut offset = 0;
    let mut c = 0;
    while c < class {
        offset += 2 * magazine_size(c);
        c += 1;
    }
    offset
}

/// Address slots in one [`CpuCache`]: two magazines per class.
pub const CPU_CACHE_SLOTS: usize = class_offset(NR_KMALLOC_CLASSES);

/// Most bytes of objects one CPU's cache can hold (both magazines of every
/// class full).
pub const CPU_CACHE_MAX_BYTES: usize = {
    let mut bytes = 0;
    let mut c = 0;
    while c < NR_KMALLOC_CLASSES {
        bytes += 2 * magazine_size(c) * KMALLOC_SIZES[c];
        c += 1;
    }
    bytes
};

/// The kmalloc size class of a `(size, align)` request, `None` if whole
/// buddy blocks serve it (or nothing can). Same rule as [`Kmalloc::alloc`].
pub fn slab_class(size: usize, align: usize) -> Option<usize> {
    match route(size, align) {
        Route::Slab(class) => Some(class),
        Route::Pages(_) | Route::Unsatisfiable => None,
    }
}

/// How a [`CpuCache`] reaches the shared tiers: each closure runs with the
/// named structure locked. Lock order when both are held: depot, then slabs
/// (`CpuCache` never holds both: it returns a depot's lock before it takes
/// the slab lock).
pub trait SlabBacking {
    /// Runs `f` on class `class`'s depot, locked.
    fn with_depot<R>(&self, class: usize, f: impl FnOnce(&mut Depot) -> R) -> R;
    /// Runs `f` on the slabs and pages, locked.
    fn with_slabs<R>(&self, f: impl FnOnce(&mut Kmalloc, &mut BuddyAllocator) -> R) -> R;
}

/// One size class's two magazines in a [`CpuCache`]: `slots[start..]`, the
/// magazine `loaded` first or second, each `size` long.
#[derive(Clone, Copy, Debug)]
struct Magazines {
    start: u16,
    size: u16,
    /// Which of the two is loaded (0: the first `size` slots).
    loaded: u16,
    /// Rounds (objects) in each magazine, by position (not by role).
    rounds: [u16; 2],
}

impl Magazines {
    fn loaded_base(&self) -> usize {
        usize::from(self.start + self.loaded * self.size)
    }

    fn previous_base(&self) -> usize {
        usize::from(self.start + (1 - self.loaded) * self.size)
    }

    fn loaded_rounds(&self) -> usize {
        usize::from(self.rounds[usize::from(self.loaded)])
    }

    fn previous_rounds(&self) -> usize {
        usize::from(self.rounds[usize::from(1 - self.loaded)])
    }

    fn set_loaded_rounds(&mut self, n: usize) {
        self.rounds[usize::from(self.loaded)] = n as u16;
    }

    fn set_previous_rounds(&mut self, n: usize) {
        self.rounds[usize::from(1 - self.loaded)] = n as u16;
    }

    fn swap(&mut self) {
        self.loaded = 1 - self.loaded;
    }
}

/// Counters of one CPU's cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuCacheStats {
    /// Objects handed out and taken back, whichever tier served them.
    pub allocs: u64,
    pub frees: u64,
    /// Full magazines taken from / given to a depot.
    pub depot_gets: u64,
    pub depot_puts: u64,
    /// Magazines filled from / emptied into the slabs (allocator lock).
    pub slab_fills: u64,
    pub slab_flushes: u64,
}

/// One CPU's magazines (tier 1). Only its CPU may use it; the kernel gives
/// that CPU `&mut` without a lock, so nothing here waits.
pub struct CpuCache {
    slots: Vec<u64>,
    classes: [Magazines; NR_KMALLOC_CLASSES],
    stats: CpuCacheStats,
}

impl CpuCache {
    /// Empty magazines for every class (allocates its slot array: call it
    /// while the kernel still runs on its bootstrap heap).
    pub fn new() -> Self {
        Self {
            slots: vec![0; CPU_CACHE_SLOTS],
            classes: core::array::from_fn(|class| Magazines {
                start: class_offset(class) as u16,
                size: magazine_size(class) as u16,
                loaded: 0,
                rounds: [0; 2],
            }),
            stats: CpuCacheStats::default(),
        }
    }

    /// An object of class `class`: from the magazines, else a full magazine
    /// from the depot, else one filled from the slabs. `None` when the slabs
    /// cannot give even one object (out of memory or slab descriptors).
    #[inline]
    pub fn alloc(&mut self, class: usize, backing: &impl SlabBacking) -> Option<u64> {
        let addr = self.pop(class).or_else(|| self.alloc_slow(class, backing));
        self.stats.allocs += u64::from(addr.is_some());
        addr
    }

    /// Gives back an object of class `class` that `alloc` (on any CPU)
    /// returned. Panics if it is the object freed just before on this CPU
    /// (double free); other misuse panics when the object reaches its slab.
    #[inline]
    pub fn free(&mut self, class: usize, addr: u64, backing: &impl SlabBacking) {
        let m = &mut self.classes[class];
        let n = m.loaded_rounds();
        if n > 0 {
            assert_ne!(
                self.slots[m.loaded_base() + n - 1],
                addr,
                "double free of {addr:#x}"
            );
        }
        if n < usize::from(m.size) {
            self.slots[m.loaded_base() + n] = addr;
            m.set_loaded_rounds(n + 1);
        } else {
            self.free_slow(class, addr, backing);
        }
        self.stats.frees += 1;
    }

    /// Objects of class `class` cached here.
    pub fn cached(&self, class: usize) -> usize {
        let m = &self.classes[class];
        m.loaded_rounds() + m.previous_rounds()
    }

    /// Bytes of objects cached here.
    pub fn cached_bytes(&self) -> usize {
        (0..NR_KMALLOC_CLASSES)
            .map(|c| self.cached(c) * KMALLOC_SIZES[c])
            .sum()
    }

    pub fn stats(&self) -> CpuCacheStats {
        self.stats
    }

    /// Returns every cached object to the slabs (Linux: `drain_cpu_caches`),
    /// e.g. before counting what is in use. Returns the bytes given back.
    pub fn drain(&mut self, backing: &impl SlabBacking) -> usize {
        let bytes = self.cached_bytes();
        backing.with_slabs(|kmalloc, pages| {
            for class in 0..NR_KMALLOC_CLASSES {
                for _ in 0..2 {
                    self.flush_loaded(class, kmalloc, pages);
                    self.classes[class].swap();
                }
            }
        });
        bytes
    }

    fn pop(&mut self, class: usize) -> Option<u64> {
        let m = &mut self.classes[class];
        let n = m.loaded_rounds().checked_sub(1)?;
        m.set_loaded_rounds(n);
        Some(self.slots[m.loaded_base() + n])
    }

    /// `loaded` is empty.
    #[cold]
    fn alloc_slow(&mut self, class: usize, backing: &impl SlabBacking) -> Option<u64> {
        let m = &mut self.classes[class];
        if m.previous_rounds() > 0 {
            m.swap();
        } else {
            let size = usize::from(m.size);
            let base = m.loaded_base();
            let magazine = &mut self.slots[base..base + size];
            if backing.with_depot(class, |d| d.take_full(magazine)) {
                m.set_loaded_rounds(size);
                self.stats.depot_gets += 1;
            } else {
                let n = backing.with_slabs(|kmalloc, pages| fill(kmalloc, pages, class, magazine));
                m.set_loaded_rounds(n);
                self.stats.slab_fills += 1;
            }
        }
        self.pop(class)
    }

    /// `loaded` is full.
    #[cold]
    fn free_slow(&mut self, class: usize, addr: u64, backing: &impl SlabBacking) {
        let m = &mut self.classes[class];
        if m.previous_rounds() == 0 {
            m.swap();
        } else {
            // `previous` is full (it is only ever empty or full: it gets the
            // loaded magazine only when that is full, and the loaded one only
            // when that is empty): it goes to the depot, else to the slabs.
            let size = usize::from(m.size);
            debug_assert_eq!(m.previous_rounds(), size, "a partial previous magazine");
            let base = m.previous_base();
            let magazine = &self.slots[base..base + size];
            if backing.with_depot(class, |d| d.put_full(magazine)) {
                self.stats.depot_puts += 1;
            } else {
                backing.with_slabs(|kmalloc, pages| {
                    for &object in magazine {
                        kmalloc.free_object(class, object, pages);
                    }
                });
                self.stats.slab_flushes += 1;
            }
            m.set_previous_rounds(0);
            m.swap();
        }
        let m = &mut self.classes[class];
        self.slots[m.loaded_base()] = addr;
        m.set_loaded_rounds(1);
    }

    fn flush_loaded(&mut self, class: usize, kmalloc: &mut Kmalloc, pages: &mut BuddyAllocator) {
        let m = &mut self.classes[class];
        let base = m.loaded_base();
        for &object in &self.slots[base..base + m.loaded_rounds()] {
            kmalloc.free_object(class, object, pages);
        }
        m.set_loaded_rounds(0);
    }
}

impl Default for CpuCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Fills `magazine` from the slabs as far as they go; returns the count.
fn fill(
    kmalloc: &mut Kmalloc,
    pages: &mut BuddyAllocator,
    class: usize,
    magazine: &mut [u64],
) -> usize {
    for (n, slot) in magazine.iter_mut().enumerate() {
        match kmalloc.alloc_object_of(class, pages) {
            Some(addr) => *slot = addr,
            None => return n,
        }
    }
    magazine.len()
}

/// One size class's store of full magazines (tier 2), shared by all CPUs
/// behind its own lock. Fixed capacity, allocated in [`Depot::new`].
pub struct Depot {
    class: usize,
    /// `full` magazines of `magazine_size(class)` addresses each.
    slots: Vec<u64>,
    full: usize,
    capacity: usize,
}

impl Depot {
    /// A depot for class `class` that holds up to `magazines` full
    /// magazines (allocates their slots now).
    pub fn new(class: usize, magazines: usize) -> Self {
        Self {
            class,
            slots: vec![0; magazines * magazine_size(class)],
            full: 0,
            capacity: magazines,
        }
    }

    /// Copies a full magazine into `into` (which is one magazine long) and
    /// forgets it; false if there is none.
    pub fn take_full(&mut self, into: &mut [u64]) -> bool {
        let Some(last) = self.full.checked_sub(1) else {
            return false;
        };
        let size = into.len();
        debug_assert_eq!(size, magazine_size(self.class));
        into.copy_from_slice(&self.slots[last * size..][..size]);
        self.full = last;
        true
    }

    /// Stores a copy of the full magazine `from`; false if the depot is full.
    pub fn put_full(&mut self, from: &[u64]) -> bool {
        if self.full == self.capacity {
            return false;
        }
        let size = from.len();
        debug_assert_eq!(size, magazine_size(self.class));
        self.slots[self.full * size..][..size].copy_from_slice(from);
        self.full += 1;
        true
    }

    /// Objects held.
    pub fn cached(&self) -> usize {
        self.full * magazine_size(self.class)
    }

    /// Returns every object to the slabs (e.g. when memory runs short, or
    /// before counting what is in use); returns the bytes given back.
    pub fn drain(&mut self, kmalloc: &mut Kmalloc, pages: &mut BuddyAllocator) -> usize {
        let objects = self.cached();
        for &object in &self.slots[..objects] {
            kmalloc.free_object(self.class, object, pages);
        }
        self.full = 0;
        objects * KMALLOC_SIZES[self.class]
    }
}
