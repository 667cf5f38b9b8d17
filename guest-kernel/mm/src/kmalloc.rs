//! kmalloc: slab caches for small objects, buddy blocks for big ones (Linux:
//! `mm/slab_common.c` `kmalloc()`/`kfree()`, with the slab lists of SLAB).
//!
//! Each size class has a cache. A cache's slabs are buddy blocks of one
//! order (`size_class::slab_order`), cut into objects, and each slab is on
//! one of three lists by how many objects are in use:
//!
//! - `partial`: some objects free -- allocation takes from here first, so
//!   partly used slabs fill up before empty ones are touched;
//! - `empty`: no object in use -- at most one is kept per cache (a cushion
//!   against alloc/free ping-pong at a slab boundary); the rest go back to
//!   the buddy allocator as soon as they empty;
//! - `full`: nothing free; not scanned on allocation.
//!
//! Slab descriptors (`Slab`) come from a fixed array of `max_slabs`,
//! allocated with the map from slab address to descriptor in `new`. When
//! the array is used up, allocation fails rather than grow (see the crate
//! docs for why nothing here may allocate).
//!
//! Freeing gets the same `(size, align)` as the allocation (Rust's
//! `GlobalAlloc::dealloc` passes the layout back), so it knows the class,
//! hence the slab size, rounds the address down to the slab base and looks
//! the slab up.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::list::{Link, List};
use crate::size_class::{self, KMALLOC_SIZES, NR_KMALLOC_CLASSES, Route};
use crate::slab::Slab;
use crate::slab_map::SlabMap;
use crate::{BuddyAllocator, Size, order_bytes};

/// The list a slab is on, by objects in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlabList {
    Empty = 0,
    Partial = 1,
    Full = 2,
}

/// One size class's cache (Linux: a `kmem_cache` such as `kmalloc-64`).
struct Cache {
    size: usize,
    order: usize,
    objects: usize,
    /// Indexed by `SlabList`.
    lists: [List; 3],
    allocs: u64,
    frees: u64,
}

impl Cache {
    fn new(size: usize) -> Self {
        Self {
            size,
            order: size_class::slab_order(size),
            objects: size_class::objects_per_slab(size),
            lists: [List::EMPTY; 3],
            allocs: 0,
            frees: 0,
        }
    }

    fn slab_bytes(&self) -> u64 {
        order_bytes(self.order)
    }

    fn list_for(&self, in_use: u16) -> SlabList {
        match usize::from(in_use) {
            0 => SlabList::Empty,
            n if n == self.objects => SlabList::Full,
            _ => SlabList::Partial,
        }
    }

    /// A slab with a free object, partly used ones first.
    fn slab_with_room(&self) -> Option<u32> {
        let [empty, partial, _] = &self.lists;
        partial.first().or_else(|| empty.first())
    }

    fn slabs(&self) -> u64 {
        self.lists.iter().map(|l| l.len() as u64).sum()
    }
}

/// Per size class counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Object size of the class.
    pub size: usize,
    /// Buddy order of each slab.
    pub slab_order: usize,
    pub objects_per_slab: usize,
    /// Objects handed out now.
    pub in_use: u64,
    /// Objects in all slabs of the class (`slabs * objects_per_slab`).
    pub total_objects: u64,
    /// Slabs now (partial, full and the cached empty one).
    pub slabs: u64,
    pub allocs: u64,
    pub frees: u64,
}

/// Requests above `KMALLOC_MAX_CACHE_SIZE` (or aligned beyond every class),
/// served by whole buddy blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LargeStats {
    pub allocs: u64,
    pub frees: u64,
    /// Large allocations live now.
    pub live: u64,
    /// Pages in them.
    pub pages: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmallocStats {
    /// In the order of `KMALLOC_SIZES`.
    pub classes: [ClassStats; NR_KMALLOC_CLASSES],
    pub large: LargeStats,
    /// Allocations that returned `None`: out of pages, out of slab
    /// descriptors, too big, or a bad alignment.
    pub failures: u64,
    /// Slab descriptors in use, and how many there are.
    pub slab_descriptors: usize,
    pub max_slabs: usize,
}

/// A slab as seen from outside, for diagnostics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabInfo {
    /// Address of the slab's buddy block.
    pub base: u64,
    /// Its buddy order.
    pub order: usize,
    /// Object size.
    pub size: usize,
    pub objects: usize,
    pub in_use: usize,
}

pub struct Kmalloc {
    caches: [Cache; NR_KMALLOC_CLASSES],
    /// Slab descriptors, used or not.
    slabs: Vec<Slab>,
    /// Per descriptor: links of the cache list (or `unused` list) it is on.
    links: Vec<Link>,
    /// Descriptors that describe no slab.
    unused: List,
    /// Slab base address -> descriptor index.
    map: SlabMap,
    large: LargeStats,
    failures: u64,
}

impl Kmalloc {
    /// Allocates the descriptors for up to `max_slabs` slabs and the slab
    /// map: 88 bytes per descriptor (80 for `Slab`, 8 of list links) plus
    /// 24..48 bytes of map (12 bytes a slot, 2..4 slots per slab). No slab
    /// pages are taken yet.
    pub fn new(max_slabs: usize) -> Self {
        assert!(
            max_slabs < u32::MAX as usize,
            "max_slabs {max_slabs} too large"
        );
        let mut links = vec![Link::UNLINKED; max_slabs];
        let mut unused = List::EMPTY;
        for i in 0..max_slabs as u32 {
            unused.push_back(&mut links, i);
        }
        Self {
            caches: KMALLOC_SIZES.map(Cache::new),
            slabs: vec![Slab::UNUSED; max_slabs],
            links,
            unused,
            map: SlabMap::new(max_slabs),
            large: LargeStats::default(),
            failures: 0,
        }
    }

    /// Allocates `size` bytes aligned to `align` (a power of two) and returns
    /// the physical address. Up to 8 KiB (and alignments a class satisfies)
    /// come from a slab cache, the rest from a buddy block of `pages`, which
    /// is aligned to its own size. `None` when out of memory or slab
    /// descriptors, for requests above 4 MiB, or if `align` is not a power
    /// of two.
    pub fn alloc(&mut self, size: usize, align: usize, pages: &mut BuddyAllocator) -> Option<u64> {
        let addr = match size_class::route(size, align) {
            Route::Slab(class) => self.alloc_object(class, pages),
            Route::Pages(order) => self.alloc_large(order, pages),
            Route::Unsatisfiable => None,
        };
        if addr.is_none() {
            self.failures += 1;
        }
        addr
    }

    /// Frees what `alloc(size, align)` returned. Panics (a kernel bug) on a
    /// double free, an address this allocator did not hand out for that
    /// size, or a layout it never serves.
    pub fn free(&mut self, addr: u64, size: usize, align: usize, pages: &mut BuddyAllocator) {
        match size_class::route(size, align) {
            Route::Slab(class) => self.free_object(class, addr, pages),
            Route::Pages(order) => self.free_large(addr, order, pages),
            Route::Unsatisfiable => {
                panic!("kfree of {addr:#x}: size {size}, align {align} is never allocated")
            }
        }
    }

    /// An object of class `class` for a per-CPU magazine (`cpu_cache.rs`);
    /// counted as a failure if there is none.
    pub(crate) fn alloc_object_of(
        &mut self,
        class: usize,
        pages: &mut BuddyAllocator,
    ) -> Option<u64> {
        let addr = self.alloc_object(class, pages);
        if addr.is_none() {
            self.failures += 1;
        }
        addr
    }

    fn alloc_object(&mut self, class: usize, pages: &mut BuddyAllocator) -> Option<u64> {
        let slab = match self.caches[class].slab_with_room() {
            Some(slab) => slab,
            None => self.grow(class, pages)?,
        };
        let s = &mut self.slabs[slab as usize];
        let before = self.caches[class].list_for(s.in_use);
        let index = s
            .take_object()
            .expect("slab on the empty or partial list has room");
        let addr = s.base + (index * self.caches[class].size) as u64;
        self.move_slab(class, slab, before);
        self.caches[class].allocs += 1;
        Some(addr)
    }

    /// Takes back an object of class `class` (from `free`, or from a per-CPU
    /// magazine or a depot: `cpu_cache.rs`), with all of `free`'s checks.
    pub(crate) fn free_object(&mut self, class: usize, addr: u64, pages: &mut BuddyAllocator) {
        let cache = &self.caches[class];
        let size = cache.size;
        let base = addr & !(cache.slab_bytes() - 1);
        let Some(slab) = self.map.get(base) else {
            panic!("kfree of {addr:#x} as a {size}-byte object: not in any slab of that class")
        };
        let s = &mut self.slabs[slab as usize];
        let slab_size = KMALLOC_SIZES[usize::from(s.class)];
        assert_eq!(
            slab_size, size,
            "kfree of {addr:#x} as a {size}-byte object, but its slab holds {slab_size}-byte objects"
        );
        let offset = (addr - base) as usize;
        assert!(
            offset.is_multiple_of(size) && offset / size < cache.objects,
            "kfree of {addr:#x}: not the start of a {size}-byte object"
        );
        let before = cache.list_for(s.in_use);
        assert!(
            s.put_object(offset / size),
            "double free of {addr:#x} ({size}-byte object)"
        );
        let now_empty = s.in_use == 0;
        self.move_slab(class, slab, before);
        self.caches[class].frees += 1;
        if now_empty && self.caches[class].lists[SlabList::Empty as usize].len() > 1 {
            self.shrink(class, slab, pages);
        }
    }

    /// Puts `slab` on the list its use count now calls for, if that is not
    /// `before`.
    fn move_slab(&mut self, class: usize, slab: u32, before: SlabList) {
        let cache = &mut self.caches[class];
        let after = cache.list_for(self.slabs[slab as usize].in_use);
        if after != before {
            cache.lists[before as usize].remove(&mut self.links, slab);
            cache.lists[after as usize].push_front(&mut self.links, slab);
        }
    }

    /// A new, empty slab for `class` (Linux: `cache_grow`/`new_slab`): a
    /// free descriptor and a buddy block. `None` if either is unavailable.
    fn grow(&mut self, class: usize, pages: &mut BuddyAllocator) -> Option<u32> {
        let slab = self.unused.first()?;
        let cache = &mut self.caches[class];
        let base = pages.alloc(cache.order)?;
        self.unused.remove(&mut self.links, slab);
        self.slabs[slab as usize] = Slab::new(base, class, cache.objects);
        self.map.insert(base, slab);
        cache.lists[SlabList::Empty as usize].push_front(&mut self.links, slab);
        Some(slab)
    }

    /// Gives the empty `slab` back to the buddy allocator.
    fn shrink(&mut self, class: usize, slab: u32, pages: &mut BuddyAllocator) {
        let cache = &mut self.caches[class];
        cache.lists[SlabList::Empty as usize].remove(&mut self.links, slab);
        let base = self.slabs[slab as usize].base;
        self.map.remove(base);
        pages.free(base, cache.order);
        self.slabs[slab as usize] = Slab::UNUSED;
        self.unused.push_front(&mut self.links, slab);
    }

    fn alloc_large(&mut self, order: usize, pages: &mut BuddyAllocator) -> Option<u64> {
        let addr = pages.alloc(order)?;
        self.large.allocs += 1;
        self.large.live += 1;
        self.large.pages += 1 << order;
        Some(addr)
    }

    fn free_large(&mut self, addr: u64, order: usize, pages: &mut BuddyAllocator) {
        // The buddy allocator catches double frees and wrong sizes; a slab's
        // own block would pass its checks, so rule that out here.
        assert!(
            self.map.get(addr).is_none(),
            "kfree of {addr:#x} as a large allocation: it is a slab"
        );
        assert!(
            self.large.live > 0,
            "kfree of {addr:#x}: no large allocation is live"
        );
        pages.free(addr, order);
        self.large.frees += 1;
        self.large.live -= 1;
        self.large.pages -= 1 << order;
    }

    pub fn stats(&self) -> KmallocStats {
        KmallocStats {
            classes: core::array::from_fn(|class| {
                let cache = &self.caches[class];
                let slabs = cache.slabs();
                ClassStats {
                    size: cache.size,
                    slab_order: cache.order,
                    objects_per_slab: cache.objects,
                    in_use: cache.allocs - cache.frees,
                    total_objects: slabs * cache.objects as u64,
                    slabs,
                    allocs: cache.allocs,
                    frees: cache.frees,
                }
            }),
            large: self.large,
            failures: self.failures,
            slab_descriptors: self.slabs.len() - self.unused.len(),
            max_slabs: self.slabs.len(),
        }
    }

    /// Every slab, in descriptor order.
    pub fn slabs(&self) -> impl Iterator<Item = SlabInfo> + '_ {
        self.slabs.iter().filter(|s| s.is_used()).map(|s| {
            let cache = &self.caches[usize::from(s.class)];
            SlabInfo {
                base: s.base,
                order: cache.order,
                size: cache.size,
                objects: cache.objects,
                in_use: usize::from(s.in_use),
            }
        })
    }
}

impl fmt::Display for KmallocStats {
    /// A table in the spirit of `/proc/slabinfo`, one line per size class.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>6} {:>9} {:>9} {:>6} {:>9} {:>7} {:>10} {:>10}",
            "class", "in use", "objects", "slabs", "objs/slab", "slab", "allocs", "frees"
        )?;
        for c in &self.classes {
            writeln!(
                f,
                "{:>6} {:>9} {:>9} {:>6} {:>9} {:>7} {:>10} {:>10}",
                c.size,
                c.in_use,
                c.total_objects,
                c.slabs,
                c.objects_per_slab,
                Size(order_bytes(c.slab_order)),
                c.allocs,
                c.frees
            )?;
        }
        writeln!(
            f,
            "large: {} live ({} pages), {} allocs, {} frees; slab descriptors: {} of {}; {} failed allocations",
            self.large.live,
            self.large.pages,
            self.large.allocs,
            self.large.frees,
            self.slab_descriptors,
            self.max_slabs,
            self.failures
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PhysRange;

    fn buffers(k: &Kmalloc) -> [(usize, usize); 4] {
        let (kp, kc, vp, vc) = k.map.buffers();
        [
            (k.slabs.as_ptr() as usize, k.slabs.capacity()),
            (k.links.as_ptr() as usize, k.links.capacity()),
            (kp as usize, kc),
            (vp as usize, vc),
        ]
    }

    /// Every used descriptor is on exactly the list of its cache that its
    /// use count calls for, and in the map; unused ones are on `unused`.
    fn check_lists(k: &Kmalloc) {
        let mut seen = vec![false; k.slabs.len()];
        for (class, cache) in k.caches.iter().enumerate() {
            for (which, list) in cache.lists.iter().enumerate() {
                for slab in list.iter(&k.links) {
                    let s = &k.slabs[slab as usize];
                    assert!(!core::mem::replace(&mut seen[slab as usize], true));
                    assert_eq!(usize::from(s.class), class);
                    assert_eq!(cache.list_for(s.in_use) as usize, which);
                    assert_eq!(k.map.get(s.base), Some(slab));
                }
            }
            assert!(cache.lists[SlabList::Empty as usize].len() <= 1);
        }
        for slab in k.unused.iter(&k.links) {
            assert!(!core::mem::replace(&mut seen[slab as usize], true));
            assert!(!k.slabs[slab as usize].is_used());
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn lists_stay_consistent_and_metadata_never_reallocates() {
        let mut pages = BuddyAllocator::new(&[PhysRange::new(0, 64 << 20)]);
        let mut k = Kmalloc::new(256);
        let before = buffers(&k);
        let mut live: Vec<(u64, usize)> = Vec::with_capacity(10_000);
        let mut x = 0x1234_5678_9abc_def1u64;
        for step in 0..30_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 5 < 3 || live.is_empty() {
                let size =
                    KMALLOC_SIZES[(x >> 8) as usize % NR_KMALLOC_CLASSES] - (x >> 20) as usize % 8;
                if let Some(addr) = k.alloc(size, 8, &mut pages) {
                    live.push((addr, size));
                }
            } else {
                let (addr, size) = live.swap_remove((x >> 8) as usize % live.len());
                k.free(addr, size, 8, &mut pages);
            }
            if step % 3_000 == 0 {
                check_lists(&k);
            }
        }
        for (addr, size) in live.drain(..) {
            k.free(addr, size, 8, &mut pages);
        }
        check_lists(&k);
        assert_eq!(buffers(&k), before);
    }
}
