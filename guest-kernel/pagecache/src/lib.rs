//! ferrite's page cache: pages keyed by (device, block), dirty tracking and
//! write-back, and a pluggable replacement policy.
//!
//! Nothing here touches hardware or reads a clock ("time" is the count of
//! accesses), so the same code runs in the guest and in host tools such as
//! the trace simulator (`scripts/cachesim`), which drives the policies
//! directly through [`ReplacementPolicy`] and [`by_name`].
//!
//! Every structure is sized at creation from the capacity (ghost lists and
//! histories are bounded by it, as the policies define them) and nothing
//! allocates per access: pages are found through a hash table and kept in
//! order on intrusive lists, each operation O(1), as Linux finds a page
//! through the mapping's xarray and ages it on `page->lru` lists.
//!
//! Reading order, one concept per file:
//!
//! | file | what | reference |
//! | --- | --- | --- |
//! | `lib.rs` | `PageKey`, the `ReplacementPolicy` trait, `Knobs`, `CacheEvent`, `by_name` | |
//! | `index.rs` | the page index: Robin Hood hash table from `PageKey` to a slot | Celis, Larson & Munro, 1985 |
//! | `list.rs` | intrusive lists over node arenas, O(1) LFU buckets, histories | Shah, Mitra & Matani, 2010 |
//! | `lru.rs` | least recently used | textbook |
//! | `clock.rs` | CLOCK, second chance | Corbató, 1968 |
//! | `arc.rs` | Adaptive Replacement Cache | Megiddo & Modha, FAST '03 |
//! | `lecar.rs` | regret minimisation over LRU and LFU | Vietri et al., HotStorage '18 |
//! | `qlearn.rs` | `qrule`: tabular Q-learning choosing the eviction rule | Watkins & Dayan, 1992 |
//! | `manager.rs` | `qlearn`: Q-learning tuning ARC's read-ahead and write-back | Cai, Ghobadi & Lie, 2017 |
//! | `rng.rs` | xorshift64* and `exp` for `no_std` | Vigna, 2016 |
//! | `cache.rs` | `PageCache<T>`: payloads, dirty bits, write-back | Linux `filemap.c`, xv6 `bio.c` |
//!
//! A policy only tracks keys; the page cache owns the payloads. Every policy
//! implements one operation, [`ReplacementPolicy::access`]: a reference to
//! a key, which on a miss also inserts it and names the victim evicted to
//! make room. That is exactly what a trace simulator needs, and what the page
//! cache does when it fills a page. Pages read ahead come in through
//! [`ReplacementPolicy::prefetch`] instead: inserted, but not referenced.
//!
//! A policy may also manage the cache's parameters ([`Knobs`]: read-ahead
//! depth, dirty limit; only `qlearn` does). The cache's user reads them
//! with `PageCache::knobs` before each page read or write and reports its
//! device requests with `PageCache::note_request`; the cache itself reports
//! writes and write-backs ([`CacheEvent`]).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

use alloc::boxed::Box;

mod index;
mod list;

pub mod arc;
pub mod cache;
pub mod clock;
pub mod lecar;
pub mod lru;
pub mod manager;
pub mod qlearn;
pub mod rng;

pub use arc::Arc;
pub use cache::{Evicted, PageCache, PageCacheStats};
pub use clock::Clock;
pub use lecar::LeCaR;
pub use lru::Lru;
pub use manager::Manager;
pub use qlearn::QLearn;

/// A cached page's identity: a block on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageKey {
    pub dev: u32,
    pub block: u64,
}

impl PageKey {
    pub const fn new(dev: u32, block: u64) -> Self {
        PageKey { dev, block }
    }
}

/// What one access did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The key was resident.
    Hit,
    /// The key was not resident and has now been inserted; `evicted` is the
    /// key removed to make room (None while the cache was not yet full).
    Miss { evicted: Option<PageKey> },
}

impl Access {
    pub fn is_hit(&self) -> bool {
        matches!(self, Access::Hit)
    }
}

/// Counters every policy keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

impl PolicyStats {
    /// hits / (hits + misses), 0 before any access.
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 { 0.0 } else { self.hits as f64 / total as f64 }
    }

    /// Count `a` (used by every policy's `access`).
    pub(crate) fn record(&mut self, a: Access) {
        match a {
            Access::Hit => self.hits += 1,
            Access::Miss { evicted } => {
                self.misses += 1;
                if evicted.is_some() {
                    self.evictions += 1;
                }
            }
        }
    }
}

/// The cache parameters its user applies on the read and write paths, which
/// a managing policy may tune at run time ([`ReplacementPolicy::knobs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// Largest read-ahead window in pages (0: no read-ahead).
    pub readahead_max: u32,
    /// Dirty pages allowed before all of them are written back.
    pub dirty_limit: usize,
}

impl Knobs {
    /// The guest's defaults for a cache of `capacity` pages: read-ahead of
    /// at most `readahead_max` pages, write-back past half the cache.
    pub fn defaults(readahead_max: u32, capacity: usize) -> Self {
        Knobs { readahead_max, dirty_limit: (capacity / 2).max(1) }
    }
}

/// What the page cache and its user did, reported to the policy so that a
/// learning one can weigh its knobs by the I/O they cost
/// ([`ReplacementPolicy::note`]). With the evictions the policy chooses
/// itself, these tell it which pages are dirty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheEvent {
    /// A cached page was written (`PageCache::mark_dirty`); `rewrite`: it
    /// was dirty already, so this write adds nothing to write back.
    Write { key: PageKey, rewrite: bool },
    /// Every dirty page was handed out for writing (`PageCache::writeback`).
    WriteBack,
    /// One device request of `pages` pages (`PageCache::note_request`): a
    /// read (a demand miss with its read-ahead) or a write (write-back, or
    /// a dirty page the policy evicted).
    Request { write: bool, pages: u32 },
}

/// A page replacement policy over page keys, with a fixed capacity in pages.
/// `Send`: a kernel may keep a cache between uses and hand it to another thread.
pub trait ReplacementPolicy: Send {
    /// Short name as used on the kernel command line (`cache=<name>`).
    fn name(&self) -> &'static str;
    /// Capacity in pages (at least 1).
    fn capacity(&self) -> usize;
    /// Keys currently resident (never more than `capacity()`).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether `key` is resident. Does not count as an access.
    fn contains(&self, key: PageKey) -> bool;
    /// Reference `key`: a hit updates the policy's state; a miss inserts the
    /// key, first evicting a victim if the cache is full.
    fn access(&mut self, key: PageKey) -> Access;
    /// Bring `key` in ahead of demand (read-ahead). A resident key is left
    /// as it is (`Hit`, not counted). Otherwise it is inserted as on a miss
    /// (counted as one, may evict) but *unreferenced*: policies that tell a
    /// first reference from a repeated one (ARC's T1/T2, CLOCK's bit,
    /// LeCaR's counts) take its first demand access as its first
    /// reference, not as proof of reuse -- as Linux puts read-ahead pages on
    /// the inactive list unreferenced, and ZFS's ARC does not promote a
    /// prefetched buffer on its first demand hit. Otherwise a sequential
    /// reader makes every page it read look reused, and read-ahead pages not
    /// yet read become the first victims. Default: an ordinary insert.
    fn prefetch(&mut self, key: PageKey) -> Access {
        if self.contains(key) { Access::Hit } else { self.access(key) }
    }
    /// Drop `key` from the resident set without counting an eviction (page
    /// invalidated, e.g. a device went away). Returns whether it was resident.
    /// Policies with history (ghost lists) forget the key there as well.
    fn remove(&mut self, key: PageKey) -> bool;
    /// Hit, miss and eviction counters.
    fn stats(&self) -> PolicyStats;
    /// Bytes of the policy's bookkeeping (all allocated at creation, for
    /// `capacity()` pages).
    fn metadata_bytes(&self) -> usize;
    /// Panics if the policy's structures disagree with each other.
    #[cfg(test)]
    fn check_invariants(&self);
    /// The knobs to apply now, given those the user configured. Default:
    /// the configured ones (a policy that only replaces pages).
    fn knobs(&self, configured: Knobs) -> Knobs {
        configured
    }
    /// Learn from `event`. Default: ignore it.
    fn note(&mut self, _event: CacheEvent) {}
}

/// The largest cache ferrite creates, in pages (128 MiB of 4 KiB pages):
/// the policies' arrays are sized at creation, and at this capacity none
/// needs a block larger than the 4 MiB the kernel's buddy allocator hands
/// out at once (tests/no_alloc.rs checks every policy). LeCaR sets the
/// bound: its nodes (3 of 36 bytes a page) are one array of 3.4 MiB here,
/// 6.75 MiB at 2^16 pages (where the largest for LRU, the page cache's own
/// array, is 3 MiB); arrays split into chunks would lift it.
pub const KERNEL_MAX_PAGES: usize = 1 << 15;

/// Names accepted by [`by_name`], in the order the simulator prints them.
pub const POLICY_NAMES: [&str; 6] = ["lru", "clock", "arc", "lecar", "qlearn", "qrule"];

/// Default seed for the randomised policies (LeCaR, both Q-learners).
pub const DEFAULT_SEED: u64 = 0x5eed_f3a1_7e00_0001;

/// The policy called `name` (`lru|clock|arc|lecar|qlearn|qrule`) with room for
/// `capacity` pages (0 is treated as 1), or None for an unknown name.
pub fn by_name(name: &str, capacity: usize) -> Option<Box<dyn ReplacementPolicy>> {
    by_name_seeded(name, capacity, DEFAULT_SEED)
}

/// As [`by_name`], with an explicit seed for the randomised policies.
pub fn by_name_seeded(name: &str, capacity: usize, seed: u64) -> Option<Box<dyn ReplacementPolicy>> {
    Some(match name {
        "lru" => Box::new(Lru::new(capacity)),
        "clock" => Box::new(Clock::new(capacity)),
        "arc" => Box::new(Arc::new(capacity)),
        "lecar" => Box::new(LeCaR::new(capacity, seed)),
        "qlearn" => Box::new(Manager::new(capacity, seed)),
        "qrule" => Box::new(QLearn::new(capacity, seed)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
