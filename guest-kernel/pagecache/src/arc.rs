//! ARC, the Adaptive Replacement Cache: N. Megiddo and D. S. Modha, "ARC: A
//! Self-Tuning, Low Overhead Replacement Cache", USENIX FAST '03, Figure 4.
//!
//! Four LRU lists over keys, for a cache of c pages:
//! - T1: resident pages seen once recently ("recency"),
//! - T2: resident pages seen at least twice recently ("frequency"),
//! - B1, B2: ghost lists, keys (no data) recently evicted from T1 and T2.
//!
//! L1 = T1 + B1 and L2 = T2 + B2. The invariants (paper, Section III-A) are
//! |T1| + |T2| <= c, |L1| = |T1| + |B1| <= c and |L1| + |L2| <= 2c.
//! The target size of T1 is p, 0 <= p <= c. A hit in ghost list B1 means T1
//! was too small, so p grows; a hit in B2 shrinks p. Growth is by
//! delta1 = 1 if |B1| >= |B2| else |B2| / |B1| (shrink symmetrical); like
//! the authors' integer implementation we use integer division.
//!
//! The code below follows Figure 4's cases I-IV and its REPLACE subroutine
//! line by line. One addition: the paper never drops a resident page other
//! than by eviction, while ferrite can invalidate one (`remove`). So REPLACE
//! runs only when the cache is actually full; without invalidations that
//! guard is always true wherever the paper calls REPLACE.
//!
//! Read-ahead (`prefetch`, not in the paper): a prefetched page enters T1
//! as in case IV (leaving a ghost list if it was on one, without adapting p:
//! a prefetch is no request), and its first demand hit keeps it in T1 (moved
//! to MRU) instead of promoting it to T2, as ZFS's ARC does. Otherwise a
//! sequential reader fills T2 with pages read once, and REPLACE evicts the
//! read-ahead pages in T1 before they are read.

use alloc::collections::BTreeSet;

use crate::list::RecencyList;
use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

pub struct Arc {
    c: usize,
    /// Target size of T1, 0..=c.
    p: usize,
    t1: RecencyList,
    t2: RecencyList,
    b1: RecencyList,
    b2: RecencyList,
    /// Pages in T1 prefetched and not referenced since.
    unreferenced: BTreeSet<PageKey>,
    signals: ArcSignals,
    stats: PolicyStats,
}

/// Running counts of what became of the pages read ahead: a signal a
/// manager observes (see [`crate::manager`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArcSignals {
    /// Prefetched pages referenced, and evicted unreferenced.
    pub prefetch_used: u64,
    pub prefetch_wasted: u64,
}

impl Arc {
    pub fn new(capacity: usize) -> Self {
        Arc {
            c: capacity.max(1),
            p: 0,
            t1: RecencyList::new(),
            t2: RecencyList::new(),
            b1: RecencyList::new(),
            b2: RecencyList::new(),
            unreferenced: BTreeSet::new(),
            signals: ArcSignals::default(),
            stats: PolicyStats::default(),
        }
    }

    /// The adaptive target size of T1.
    pub fn target_p(&self) -> usize {
        self.p
    }

    pub fn signals(&self) -> ArcSignals {
        self.signals
    }

    /// (|T1|, |T2|, |B1|, |B2|), for tests and statistics.
    pub fn list_sizes(&self) -> (usize, usize, usize, usize) {
        (self.t1.len(), self.t2.len(), self.b1.len(), self.b2.len())
    }

    /// Victim `v` leaves; if it was read ahead and never referenced, that
    /// read-ahead was wasted.
    fn forget_prefetch(&mut self, v: PageKey) {
        if self.unreferenced.remove(&v) {
            self.signals.prefetch_wasted += 1;
        }
    }

    fn resident(&self) -> usize {
        self.t1.len() + self.t2.len()
    }

    /// Case IV for a key `x` in none of the lists: make room (cases A and
    /// B), then put `x` at the MRU end of T1. Returns the evicted key.
    fn insert_new(&mut self, x: PageKey) -> Option<PageKey> {
        let c = self.c;
        let l1 = self.t1.len() + self.b1.len();
        let total = l1 + self.t2.len() + self.b2.len();
        let mut evicted = None;
        if l1 == c {
            // Case A: L1 has exactly c pages.
            if self.t1.len() < c {
                self.b1.pop_lru();
                evicted = self.replace(false);
            } else {
                // B1 is empty: the LRU page of T1 leaves the cache entirely.
                evicted = self.t1.pop_lru();
            }
        } else if total >= c {
            // Case B: L1 has fewer than c pages.
            if total == 2 * c {
                self.b2.pop_lru();
            }
            evicted = self.replace(false);
        }
        self.t1.push_mru(x);
        evicted
    }

    /// REPLACE(x_t, p): evict the LRU page of T1 (into B1) if T1 exceeds its
    /// target, or equals it and the request hit in B2; else the LRU page of
    /// T2 (into B2). Returns the evicted key.
    fn replace(&mut self, in_b2: bool) -> Option<PageKey> {
        if self.resident() < self.c {
            return None; // cache not full (only after invalidations), see module doc
        }
        let t1 = self.t1.len();
        if t1 >= 1 && ((in_b2 && t1 == self.p) || t1 > self.p) {
            let victim = self.t1.pop_lru()?;
            self.b1.push_mru(victim);
            Some(victim)
        } else {
            // T2 is non-empty here: |T1| <= p <= c and the cache is full.
            let victim = self.t2.pop_lru().or_else(|| self.t1.pop_lru())?;
            self.b2.push_mru(victim);
            Some(victim)
        }
    }
}

impl ReplacementPolicy for Arc {
    fn name(&self) -> &'static str {
        "arc"
    }
    fn capacity(&self) -> usize {
        self.c
    }
    fn len(&self) -> usize {
        self.resident()
    }
    fn contains(&self, key: PageKey) -> bool {
        self.t1.contains(key) || self.t2.contains(key)
    }

    fn access(&mut self, x: PageKey) -> Access {
        let c = self.c;
        let result;
        if self.unreferenced.remove(&x) {
            // First reference to a prefetched page: it stays in T1.
            self.signals.prefetch_used += 1;
            self.t1.push_mru(x);
            result = Access::Hit;
        } else if self.t1.contains(x) || self.t2.contains(x) {
            // Case I: hit in T1 or T2: move x to MRU of T2.
            self.t1.remove(x);
            self.t2.push_mru(x);
            result = Access::Hit;
        } else if self.b1.contains(x) {
            // Case II: ghost hit in B1 (a cache miss): favour recency.
            let (b1, b2) = (self.b1.len(), self.b2.len());
            let delta1 = if b1 >= b2 { 1 } else { b2 / b1 };
            self.p = (self.p + delta1).min(c);
            let evicted = self.replace(false);
            self.b1.remove(x);
            self.t2.push_mru(x);
            result = Access::Miss { evicted };
        } else if self.b2.contains(x) {
            // Case III: ghost hit in B2: favour frequency.
            let (b1, b2) = (self.b1.len(), self.b2.len());
            let delta2 = if b2 >= b1 { 1 } else { b1 / b2 };
            self.p = self.p.saturating_sub(delta2);
            let evicted = self.replace(true);
            self.b2.remove(x);
            self.t2.push_mru(x);
            result = Access::Miss { evicted };
        } else {
            // Case IV: x is in none of the four lists.
            result = Access::Miss { evicted: self.insert_new(x) };
        }
        if let Access::Miss { evicted: Some(v) } = result {
            self.forget_prefetch(v);
        }
        self.stats.record(result);
        result
    }

    fn prefetch(&mut self, x: PageKey) -> Access {
        if self.contains(x) {
            return Access::Hit;
        }
        self.b1.remove(x);
        self.b2.remove(x);
        let evicted = self.insert_new(x);
        if let Some(v) = evicted {
            self.forget_prefetch(v);
        }
        self.unreferenced.insert(x);
        let result = Access::Miss { evicted };
        self.stats.record(result);
        result
    }

    fn remove(&mut self, key: PageKey) -> bool {
        self.unreferenced.remove(&key);
        let resident = self.t1.remove(key) | self.t2.remove(key);
        self.b1.remove(key);
        self.b2.remove(key);
        resident
    }

    fn stats(&self) -> PolicyStats {
        self.stats
    }
}
