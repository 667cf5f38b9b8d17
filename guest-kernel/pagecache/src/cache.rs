//! The page cache proper: payloads keyed by `PageKey`, a dirty bit per page,
//! write-back, and eviction through a [`ReplacementPolicy`].
//!
//! `T` is whatever the kernel keeps per page (a buffer address, a frame
//! number, or the bytes themselves in tests). The cache never does I/O: a
//! miss is reported to the caller, which reads the block and `insert`s it; an
//! eviction hands the victim's payload back, flagged dirty if the caller must
//! write it before reusing the buffer; `writeback` names the dirty pages to
//! write (as Linux's `filemap_fdatawrite` or xv6's `bwrite` callers do).
//!
//! Pages are found through the page index (`index.rs`), kept densely in
//! an array of the policy's capacity allocated at creation: `get` and
//! `insert` allocate nothing, and an evicted page's slot takes the new one.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::index::{Keyed, KeyedVec};
use crate::{Access, CacheEvent, Knobs, PageKey, ReplacementPolicy};

struct Page<T> {
    key: PageKey,
    data: T,
    dirty: bool,
}

impl<T> Keyed for Page<T> {
    fn key(&self) -> PageKey {
        self.key
    }
}

/// A page that left the cache, or a payload displaced by re-inserting a key.
#[derive(Debug, PartialEq, Eq)]
pub struct Evicted<T> {
    pub key: PageKey,
    pub data: T,
    /// The page was modified and not written back: write it before reuse.
    pub dirty: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageCacheStats {
    /// `get` found the page.
    pub hits: u64,
    /// `get` did not find the page.
    pub misses: u64,
    /// Pages evicted by the policy to make room.
    pub evictions: u64,
    /// Evicted pages that were dirty (the caller had to write them).
    pub dirty_evictions: u64,
    /// Dirty pages handed out by `writeback`.
    pub writebacks: u64,
}

impl PageCacheStats {
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 { 0.0 } else { self.hits as f64 / total as f64 }
    }
}

pub struct PageCache<T> {
    policy: Box<dyn ReplacementPolicy>,
    pages: KeyedVec<Page<T>>,
    /// Pages with the dirty bit set.
    dirty: usize,
    stats: PageCacheStats,
}

impl<T> PageCache<T> {
    /// A cache whose capacity is the policy's.
    pub fn new(policy: Box<dyn ReplacementPolicy>) -> Self {
        let pages = KeyedVec::new(policy.capacity());
        PageCache { policy, pages, dirty: 0, stats: PageCacheStats::default() }
    }

    /// A cache using policy `name` (see [`crate::by_name`]) with `capacity` pages.
    pub fn with_policy(name: &str, capacity: usize) -> Option<Self> {
        crate::by_name(name, capacity).map(Self::new)
    }

    pub fn capacity(&self) -> usize {
        self.policy.capacity()
    }
    pub fn len(&self) -> usize {
        self.pages.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pages.len() == 0
    }
    pub fn policy_name(&self) -> &'static str {
        self.policy.name()
    }
    pub fn policy(&self) -> &dyn ReplacementPolicy {
        &*self.policy
    }
    pub fn stats(&self) -> PageCacheStats {
        self.stats
    }
    /// Counters from zero again (a new measurement on a warm cache); the
    /// pages and the policy's state stay.
    pub fn reset_stats(&mut self) {
        self.stats = PageCacheStats::default();
    }
    pub fn contains(&self, key: PageKey) -> bool {
        self.pages.find(key).is_ok()
    }

    fn page(&self, key: PageKey) -> Option<&Page<T>> {
        self.pages.find(key).ok().map(|i| &self.pages.items()[i])
    }

    fn page_mut(&mut self, key: PageKey) -> Option<&mut Page<T>> {
        self.pages.find(key).ok().map(|i| &mut self.pages.items_mut()[i])
    }

    /// Look a page up, counting a hit (and telling the policy) or a miss.
    pub fn get(&mut self, key: PageKey) -> Option<&T> {
        self.get_mut(key).map(|d| &*d)
    }

    /// As `get`, for modifying the payload (call `mark_dirty` too).
    pub fn get_mut(&mut self, key: PageKey) -> Option<&mut T> {
        if let Ok(i) = self.pages.find(key) {
            self.stats.hits += 1;
            let a = self.policy.access(key);
            debug_assert_eq!(a, Access::Hit, "policy and page map disagree");
            Some(&mut self.pages.items_mut()[i].data)
        } else {
            self.stats.misses += 1;
            None
        }
    }

    /// The payload without counting an access or touching the policy.
    pub fn peek(&self, key: PageKey) -> Option<&T> {
        self.page(key).map(|p| &p.data)
    }

    /// As `peek`, mutably: for the I/O path itself (e.g. to lend a page's
    /// buffer to the device during write-back), not for the cache's users.
    pub fn peek_mut(&mut self, key: PageKey) -> Option<&mut T> {
        self.page_mut(key).map(|p| &mut p.data)
    }

    /// Put a (clean) page in the cache, normally after a `get` miss and the
    /// read that followed. Returns the page evicted to make room, if any.
    /// If `key` is already cached, its payload is replaced (dirty bit kept)
    /// and the old payload comes back with `dirty: false`.
    pub fn insert(&mut self, key: PageKey, data: T) -> Option<Evicted<T>> {
        self.fill(key, data, false)
    }

    /// As `insert`, for a page read ahead of demand: the policy takes it in
    /// unreferenced (see [`ReplacementPolicy::prefetch`]).
    pub fn insert_prefetched(&mut self, key: PageKey, data: T) -> Option<Evicted<T>> {
        self.fill(key, data, true)
    }

    fn fill(&mut self, key: PageKey, data: T, prefetched: bool) -> Option<Evicted<T>> {
        let v = match self.pages.find(key) {
            Ok(i) => {
                let old = core::mem::replace(&mut self.pages.items_mut()[i].data, data);
                return Some(Evicted { key, data: old, dirty: false });
            }
            Err(v) => v,
        };
        let access = if prefetched { self.policy.prefetch(key) } else { self.policy.access(key) };
        let page = Page { key, data, dirty: false };
        match access {
            Access::Miss { evicted: Some(victim) } => {
                // The new page takes the victim's slot.
                let i = self.pages.find(victim).ok().expect("policy evicted a page the cache does not hold");
                let old = self.pages.replace(v, i, page);
                self.stats.evictions += 1;
                if old.dirty {
                    self.stats.dirty_evictions += 1;
                    self.dirty -= 1;
                }
                Some(Evicted { key: victim, data: old.data, dirty: old.dirty })
            }
            Access::Miss { evicted: None } => {
                self.pages.push(v, page);
                None
            }
            Access::Hit => unreachable!("policy holds a key the cache does not"),
        }
    }

    /// Mark a cached page modified (a write; the policy is told); false if
    /// it is not cached.
    pub fn mark_dirty(&mut self, key: PageKey) -> bool {
        match self.page_mut(key) {
            Some(p) => {
                let rewrite = p.dirty;
                if !rewrite {
                    p.dirty = true;
                    self.dirty += 1;
                }
                self.policy.note(CacheEvent::Write { key, rewrite });
                true
            }
            None => false,
        }
    }

    /// The read-ahead and write-back parameters to apply now: the policy's
    /// if it manages them (see [`crate::manager`]), else `configured`.
    /// Read them before each page read or write.
    pub fn knobs(&self, configured: Knobs) -> Knobs {
        self.policy.knobs(configured)
    }

    /// Reports one device request of `pages` pages (read, or `write`) the
    /// caller issued for this cache, so a managing policy learns its cost.
    pub fn note_request(&mut self, write: bool, pages: u32) {
        self.policy.note(CacheEvent::Request { write, pages });
    }

    pub fn is_dirty(&self, key: PageKey) -> bool {
        self.page(key).is_some_and(|p| p.dirty)
    }

    /// Number of dirty pages.
    pub fn dirty_count(&self) -> usize {
        self.dirty
    }

    /// Clear every dirty bit and return those pages' keys in (dev, block)
    /// order, ready to be merged into large writes; read their payloads with
    /// `peek`. A write that fails should `mark_dirty` the page again.
    /// (The sort is here, once per write-back, not on every access.)
    pub fn writeback(&mut self) -> Vec<PageKey> {
        let mut out = Vec::with_capacity(self.dirty);
        for page in self.pages.items_mut().iter_mut().filter(|p| p.dirty) {
            page.dirty = false;
            out.push(page.key);
        }
        out.sort_unstable();
        self.stats.writebacks += out.len() as u64;
        self.dirty = 0;
        self.policy.note(CacheEvent::WriteBack);
        out
    }

    /// Checks that the pages are indexed, agree with the policy's resident
    /// set and the dirty count, and the policy's own invariants.
    #[cfg(test)]
    pub fn check_invariants(&self) {
        self.pages.check();
        self.policy.check_invariants();
        assert_eq!(self.pages.len(), self.policy.len(), "cache and policy hold as many pages");
        assert!(self.pages.items().iter().all(|p| self.policy.contains(p.key)), "a cached page the policy lost");
        assert_eq!(self.pages.items().iter().filter(|p| p.dirty).count(), self.dirty, "dirty count");
    }

    /// Drop a page (invalidate) without counting an eviction; the payload
    /// comes back with its dirty bit so the caller can still write it.
    pub fn remove(&mut self, key: PageKey) -> Option<Evicted<T>> {
        let page = self.pages.swap_remove(self.pages.find(key).ok()?);
        self.policy.remove(key);
        if page.dirty {
            self.dirty -= 1;
        }
        Some(Evicted { key, data: page.data, dirty: page.dirty })
    }
}
