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
//! The four lists are intrusive lists over one node per key, its tag naming
//! the list: a hit, a ghost hit or an eviction into a ghost list relinks the
//! node; only a key entering or leaving all four lists touches the index.
//!
//! Read-ahead (`prefetch`, not in the paper): a prefetched page enters T1
//! as in case IV (leaving a ghost list if it was on one, without adapting p:
//! a prefetch is no request), and its first demand hit keeps it in T1 (moved
//! to MRU) instead of promoting it to T2, as ZFS's ARC does. Otherwise a
//! sequential reader fills T2 with pages read once, and REPLACE evicts the
//! read-ahead pages in T1 before they are read.

use crate::index::{Keyed, Vacancy};
use crate::list::{KeyNode, Linked, List, Pool};
use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

/// Which list a node is on (its tag's low bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Which {
    T1 = 0,
    T2 = 1,
    B1 = 2,
    B2 = 3,
}
/// Tag bit: a page in T1 prefetched and not referenced since.
const UNREFERENCED: u8 = 4;

pub struct Arc {
    c: usize,
    /// Target size of T1, 0..=c.
    p: usize,
    /// A node per key on any of the four lists: at most 2c (|L1| + |L2| <= 2c).
    pool: Pool<KeyNode>,
    /// T1, T2, B1, B2, indexed by [`Which`].
    lists: [List<0>; 4],
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
        let c = capacity.max(1);
        Arc {
            c,
            p: 0,
            // The index 3/4 full with the ghosts: 61 bytes a cached page.
            pool: Pool::new(2 * c, 2 * c / 3),
            lists: [List::default(); 4],
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
        let [t1, t2, b1, b2] = self.lists.map(|l| l.len());
        (t1, t2, b1, b2)
    }

    fn len_of(&self, w: Which) -> usize {
        self.lists[w as usize].len()
    }

    /// Bytes allocated (the lists' nodes and index).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.pool.bytes()
    }

    fn tag(&self, s: u32) -> u8 {
        self.pool.node(s).links().tag()
    }

    fn which(&self, s: u32) -> Which {
        match self.tag(s) & 3 {
            0 => Which::T1,
            1 => Which::T2,
            2 => Which::B1,
            _ => Which::B2,
        }
    }

    /// Moves `s` from its list to the MRU end of `to` (flags cleared).
    fn move_to(&mut self, s: u32, to: Which) {
        let from = self.which(s);
        let nodes = self.pool.nodes_mut();
        self.lists[from as usize].unlink(nodes, s);
        nodes[s as usize].links_mut().set_tag(to as u8);
        self.lists[to as usize].push_back(nodes, s);
    }

    /// Takes `s` off its list `w`.
    fn unlink(&mut self, s: u32, w: Which) {
        self.lists[w as usize].unlink(self.pool.nodes_mut(), s);
    }

    /// Takes the LRU key of list `w` off it; its node is for the caller to
    /// free or reuse.
    fn unlink_lru(&mut self, w: Which) -> Option<u32> {
        self.lists[w as usize].pop_front(self.pool.nodes_mut())
    }

    /// Victim `s` leaves the cache; if it was read ahead and never
    /// referenced, that read-ahead was wasted.
    fn forget_prefetch(&mut self, s: u32) {
        if self.tag(s) & UNREFERENCED != 0 {
            self.signals.prefetch_wasted += 1;
        }
    }

    fn resident(&self) -> usize {
        self.len_of(Which::T1) + self.len_of(Which::T2)
    }

    /// Case IV for a key `x` in none of the lists: make room (cases A and
    /// B), then put `x` at the MRU end of T1 (tagged `flags`). `at` is the
    /// node `x` keeps (a ghost it had, already off its list) or its place
    /// in the index. Returns the evicted key.
    fn insert_new(&mut self, x: PageKey, at: Result<u32, Vacancy>, flags: u8) -> Option<PageKey> {
        let c = self.c;
        let l1 = self.len_of(Which::T1) + self.len_of(Which::B1);
        let total = l1 + self.len_of(Which::T2) + self.len_of(Which::B2);
        let mut evicted = None;
        // A key leaving every list: its node is reused for x, or freed.
        let mut gone = None;
        if l1 == c {
            // Case A: L1 has exactly c pages.
            if self.len_of(Which::T1) < c {
                gone = self.unlink_lru(Which::B1);
                evicted = self.replace(false);
            } else if let Some(v) = self.unlink_lru(Which::T1) {
                // B1 is empty: the LRU page of T1 leaves the cache entirely.
                self.forget_prefetch(v);
                evicted = Some(self.pool.node(v).key());
                gone = Some(v);
            }
        } else if total >= c {
            // Case B: L1 has fewer than c pages.
            if total == 2 * c {
                gone = self.unlink_lru(Which::B2);
            }
            evicted = self.replace(false);
        }
        let tag = Which::T1 as u8 | flags;
        let s = match (at, gone) {
            (Ok(s), gone) => {
                if let Some(g) = gone {
                    self.pool.remove(g);
                }
                self.pool.nodes_mut()[s as usize].links_mut().set_tag(tag);
                s
            }
            (Err(v), Some(g)) => {
                self.pool.reuse(v, g, KeyNode::new(x, tag));
                g
            }
            (Err(v), None) => self.pool.insert(v, KeyNode::new(x, tag)),
        };
        self.lists[Which::T1 as usize].push_back(self.pool.nodes_mut(), s);
        evicted
    }

    /// REPLACE(x_t, p): evict the LRU page of T1 (into B1) if T1 exceeds its
    /// target, or equals it and the request hit in B2; else the LRU page of
    /// T2 (into B2). Returns the evicted key.
    fn replace(&mut self, in_b2: bool) -> Option<PageKey> {
        if self.resident() < self.c {
            return None; // cache not full (only after invalidations), see module doc
        }
        let [t1, t2, ..] = self.lists;
        // T2 is non-empty in the else branch: |T1| <= p <= c and the cache is full.
        let (victim, ghost) = if t1.len() >= 1 && ((in_b2 && t1.len() == self.p) || t1.len() > self.p) {
            (t1.front()?, Which::B1)
        } else {
            (t2.front().or(t1.front())?, Which::B2)
        };
        self.forget_prefetch(victim);
        self.move_to(victim, ghost);
        Some(self.pool.node(victim).key())
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
        self.pool.find(key).is_ok_and(|s| matches!(self.which(s), Which::T1 | Which::T2))
    }

    fn access(&mut self, x: PageKey) -> Access {
        let c = self.c;
        let found = self.pool.find(x);
        let result = match found.map(|s| (s, self.which(s))) {
            Ok((s, Which::T1)) if self.tag(s) & UNREFERENCED != 0 => {
                // First reference to a prefetched page: it stays in T1.
                self.signals.prefetch_used += 1;
                self.move_to(s, Which::T1);
                Access::Hit
            }
            Ok((s, Which::T1 | Which::T2)) => {
                // Case I: hit in T1 or T2: move x to MRU of T2.
                self.move_to(s, Which::T2);
                Access::Hit
            }
            Ok((s, Which::B1)) => {
                // Case II: ghost hit in B1 (a cache miss): favour recency.
                let (b1, b2) = (self.len_of(Which::B1), self.len_of(Which::B2));
                let delta1 = if b1 >= b2 { 1 } else { b2 / b1 };
                self.p = (self.p + delta1).min(c);
                let evicted = self.replace(false);
                self.move_to(s, Which::T2);
                Access::Miss { evicted }
            }
            Ok((s, Which::B2)) => {
                // Case III: ghost hit in B2: favour frequency.
                let (b1, b2) = (self.len_of(Which::B1), self.len_of(Which::B2));
                let delta2 = if b2 >= b1 { 1 } else { b1 / b2 };
                self.p = self.p.saturating_sub(delta2);
                let evicted = self.replace(true);
                self.move_to(s, Which::T2);
                Access::Miss { evicted }
            }
            // Case IV: x is in none of the four lists.
            Err(v) => Access::Miss { evicted: self.insert_new(x, Err(v), 0) },
        };
        self.stats.record(result);
        result
    }

    fn prefetch(&mut self, x: PageKey) -> Access {
        let at = self.pool.find(x);
        if let Ok(s) = at {
            match self.which(s) {
                w @ (Which::B1 | Which::B2) => self.unlink(s, w),
                _ => return Access::Hit,
            }
        }
        let result = Access::Miss { evicted: self.insert_new(x, at, UNREFERENCED) };
        self.stats.record(result);
        result
    }

    fn remove(&mut self, key: PageKey) -> bool {
        let Ok(s) = self.pool.find(key) else { return false };
        let w = self.which(s);
        self.unlink(s, w);
        self.pool.remove(s);
        matches!(w, Which::T1 | Which::T2)
    }

    fn stats(&self) -> PolicyStats {
        self.stats
    }
    fn metadata_bytes(&self) -> usize {
        size_of::<Self>() + self.heap_bytes()
    }
    #[cfg(test)]
    fn check_invariants(&self) {
        let mut all = alloc::vec::Vec::new();
        for (w, list) in self.lists.iter().enumerate() {
            for s in list.check(self.pool.nodes()) {
                assert_eq!(usize::from(self.tag(s) & 3), w, "node {s} tagged with its list");
                assert!(self.tag(s) & UNREFERENCED == 0 || w == Which::T1 as usize, "unreferenced outside T1");
                all.push(s);
            }
        }
        self.pool.check(&all);
        // The paper's bounds (Section III-A).
        let (t1, t2, b1, b2) = self.list_sizes();
        let c = self.c;
        assert!(t1 + t2 <= c && t1 + b1 <= c && t1 + t2 + b1 + b2 <= 2 * c && self.p <= c, "ARC bounds");
    }
}
