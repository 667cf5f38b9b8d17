//! LeCaR: G. Vietri, L. V. Rodriguez, W. A. Martinez, S. Lyons, J. Liu,
//! R. Rangaswami, M. Zhao, G. Narasimhan, "Driving Cache Replacement with
//! ML-based LeCaR", USENIX HotStorage '18, Algorithm 1.
//!
//! The cache is managed by two "experts", LRU and LFU, mixed by weights
//! w_LRU + w_LFU = 1 (both start at 0.5). On a miss with the cache full, the
//! victim is chosen by LRU with probability w_LRU, else by LFU, and the
//! victim's key goes into that expert's history (H_LRU or H_LFU, FIFO, each
//! at most N = cache size keys).
//!
//! Regret minimisation: a miss on a key found in H_LRU means evicting it by
//! LRU was a mistake; the paper then rewards the other expert,
//! w_LFU <- w_LFU * e^(lambda * r) (symmetrically for H_LFU), and
//! renormalises. The reward is discounted by how long the key sat in history,
//! r = d^t, so old regrets count less. Parameters as in the paper:
//! learning rate lambda = 0.45, discount d = 0.005^(1/N).
//!
//! LFU breaks ties by recency. A key coming back from history gets its old
//! access count back plus one (the paper's history keeps the frequency).
//! "Time" is the number of accesses so far. Randomness is xorshift64* with
//! a caller-given seed, so runs are reproducible.
//!
//! A key has one node whether resident or in a history, so eviction into a
//! history and a miss found there relink it without touching the index;
//! LFU order is the O(1) bucket lists of `list::FrequencyIndex`.
//!
//! Memory, 184 bytes per cached page, all allocated at creation: up to 3N
//! keys (N resident, N in each history), each a node of 36 bytes (a
//! resident page's LFU links and bucket and a history key's count and
//! eviction time share their place) and two index entries of 8 (the index
//! at most half full), and an LFU bucket of 28 per resident page. The
//! definition sets the floor: 3N keys of 12 bytes, each with the links of
//! its list and an index entry, are 3 x (12 + 8 + 8) = 84 bytes a page
//! with the index 100 % full, before any count or time.
//!
//! Read-ahead (`prefetch`, not in the paper): a prefetched page is inserted
//! with count 1 and no regret update (a prefetch is no request; it leaves
//! the history it was in), and its first demand hit keeps the count at 1
//! (refreshing its recency), so pages a sequential reader has read once do
//! not outrank the read-ahead pages it has yet to read.

use crate::index::{Keyed, Packed64, PackedKey, Vacancy};
use crate::list::{Counted, FrequencyIndex, Linked, Links, List, Pool};
use crate::rng::{XorShift64, exp};
use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

/// Learning rate lambda (paper, Section 4).
pub const LEARNING_RATE: f64 = 0.45;
/// ln(0.005): the discount is d = 0.005^(1/N) = e^(ln(0.005) / N).
const LN_0_005: f64 = -5.298_317_366_548_036;

/// Where a node's key is (its tag's low bits): in the cache, or in an
/// expert's history.
const RESIDENT: u8 = 0;
const H_LRU: u8 = 1;
const H_LFU: u8 = 2;
/// Tag bit: a resident page prefetched and not referenced since.
const UNREFERENCED: u8 = 4;

/// A key, resident or in a history (see the module doc), in 36 bytes:
/// the two states share their fields. Resident: recency order (`order`),
/// and its count's bucket (`by_count`, and `stamp`'s low half). In a
/// history: the history's FIFO order (`order`), its access count when it
/// was evicted (held in `by_count`) and when that was (`stamp`).
struct Node {
    key: PackedKey,
    order: Links,
    by_count: Links,
    stamp: Packed64,
}

pub struct LeCaR {
    capacity: usize,
    /// Every key: at most N resident and N in each history.
    nodes: Pool<Node>,
    recency: List<0>,
    freq: FrequencyIndex,
    /// H_LRU and H_LFU, indexed by tag - 1.
    histories: [List<0>; 2],
    w_lru: f64,
    w_lfu: f64,
    /// ln(d) = ln(0.005) / N.
    ln_discount: f64,
    time: u64,
    rng: XorShift64,
    stats: PolicyStats,
}

impl LeCaR {
    pub fn new(capacity: usize, seed: u64) -> Self {
        let n = capacity.max(1);
        LeCaR {
            capacity: n,
            nodes: Pool::new(3 * n, 3 * n),
            recency: List::default(),
            freq: FrequencyIndex::new(n),
            histories: [List::default(); 2],
            w_lru: 0.5,
            w_lfu: 0.5,
            ln_discount: LN_0_005 / n as f64,
            time: 0,
            rng: XorShift64::new(seed),
            stats: PolicyStats::default(),
        }
    }

    /// (w_LRU, w_LFU); they sum to 1.
    pub fn weights(&self) -> (f64, f64) {
        (self.w_lru, self.w_lfu)
    }

    /// Reward r = d^t for a key that spent `t` accesses in history.
    fn reward(&self, t: u64) -> f64 {
        exp(self.ln_discount * t as f64)
    }

    fn normalise(&mut self) {
        let sum = self.w_lru + self.w_lfu;
        self.w_lru /= sum;
        self.w_lfu = 1.0 - self.w_lru;
    }

    fn tag(&self, s: u32) -> u8 {
        Linked::<0>::links(self.nodes.node(s)).tag()
    }

    fn set_tag(&mut self, s: u32, tag: u8) {
        Linked::<0>::links_mut(&mut self.nodes.nodes_mut()[s as usize]).set_tag(tag);
    }

    /// Takes history key `s` out of its history (its node stays).
    fn leave_history(&mut self, s: u32) {
        let h = usize::from(self.tag(s)) - 1;
        self.histories[h].unlink(self.nodes.nodes_mut(), s);
    }

    /// Evict one resident key, choosing the expert at random by weight: it
    /// moves, node and all, to that expert's history. Returns it, and the
    /// node of the history's oldest key if that had to leave to make room
    /// (off every list, for the caller to free or reuse).
    fn evict(&mut self) -> Option<(PageKey, Option<u32>)> {
        let use_lru = self.rng.next_f64() < self.w_lru;
        let victim = if use_lru { self.recency.front()? } else { self.freq.peek_lfu()? };
        let nodes = self.nodes.nodes_mut();
        self.recency.unlink(nodes, victim);
        let count = self.freq.remove(nodes, victim);
        let node = &mut nodes[victim as usize];
        node.by_count = Links::holding(count);
        node.stamp = Packed64::new(self.time);
        let tag = if use_lru { H_LRU } else { H_LFU };
        let history = &mut self.histories[usize::from(tag) - 1];
        let oldest = if history.len() >= self.capacity { history.pop_front(nodes) } else { None };
        history.push_back(nodes, victim);
        self.set_tag(victim, tag);
        Some((self.nodes.node(victim).key(), oldest))
    }

    /// Makes `q` resident with access count `count` and `tag`: its node `at`
    /// (from a history), or a new node for its place in the index. Evicts
    /// first if the cache is full; returns the evicted key.
    fn admit(&mut self, q: PageKey, at: Result<u32, Vacancy>, count: u64, tag: u8) -> Option<PageKey> {
        let (evicted, gone) = match self.recency.len() >= self.capacity {
            true => self.evict().map_or((None, None), |(k, g)| (Some(k), g)),
            false => (None, None),
        };
        let node =
            Node { key: PackedKey::new(q), order: Links::new(tag), by_count: Links::new(0), stamp: Packed64::new(0) };
        let s = match (at, gone) {
            (Ok(s), gone) => {
                if let Some(g) = gone {
                    self.nodes.remove(g);
                }
                self.set_tag(s, tag);
                self.nodes.nodes_mut()[s as usize].by_count = Links::new(0);
                s
            }
            (Err(v), Some(g)) => {
                self.nodes.reuse(v, g, node);
                g
            }
            (Err(v), None) => self.nodes.insert(v, node),
        };
        let nodes = self.nodes.nodes_mut();
        self.recency.push_back(nodes, s);
        self.freq.insert(nodes, s, count);
        evicted
    }
}

impl Keyed for Node {
    fn key(&self) -> PageKey {
        self.key.get()
    }
}

impl Linked<0> for Node {
    fn links(&self) -> &Links {
        &self.order
    }
    fn links_mut(&mut self) -> &mut Links {
        &mut self.order
    }
}

impl Linked<1> for Node {
    fn links(&self) -> &Links {
        &self.by_count
    }
    fn links_mut(&mut self) -> &mut Links {
        &mut self.by_count
    }
}

impl Counted for Node {
    fn bucket(&self) -> u32 {
        self.stamp.get() as u32
    }
    fn set_bucket(&mut self, b: u32) {
        self.stamp = Packed64::new(b.into());
    }
}

impl ReplacementPolicy for LeCaR {
    fn name(&self) -> &'static str {
        "lecar"
    }
    fn capacity(&self) -> usize {
        self.capacity
    }
    fn len(&self) -> usize {
        self.recency.len()
    }
    fn contains(&self, key: PageKey) -> bool {
        self.nodes.find(key).is_ok_and(|s| self.tag(s) & 3 == RESIDENT)
    }

    fn access(&mut self, q: PageKey) -> Access {
        self.time += 1;
        let at = self.nodes.find(q);
        let result = match at.as_ref().map(|&s| (s, self.tag(s))) {
            Ok((s, tag)) if tag & 3 == RESIDENT => {
                let nodes = self.nodes.nodes_mut();
                self.recency.move_to_back(nodes, s);
                if tag == UNREFERENCED {
                    Linked::<0>::links_mut(&mut nodes[s as usize]).set_tag(RESIDENT);
                    self.freq.remove(nodes, s);
                    self.freq.insert(nodes, s, 1);
                } else {
                    self.freq.bump(nodes, s);
                }
                Access::Hit
            }
            Ok((s, tag)) => {
                // UpdateWeight: regret for the expert that evicted q.
                let node = self.nodes.node(s);
                let (r, old_count) = (self.reward(self.time - node.stamp.get()), node.by_count.held());
                if tag == H_LRU {
                    self.w_lfu *= exp(LEARNING_RATE * r);
                } else {
                    self.w_lru *= exp(LEARNING_RATE * r);
                }
                self.normalise();
                self.leave_history(s);
                Access::Miss { evicted: self.admit(q, at, old_count + 1, RESIDENT) }
            }
            Err(_) => Access::Miss { evicted: self.admit(q, at, 1, RESIDENT) },
        };
        self.stats.record(result);
        result
    }

    fn prefetch(&mut self, q: PageKey) -> Access {
        let at = self.nodes.find(q);
        if let Ok(s) = at {
            if self.tag(s) & 3 == RESIDENT {
                return Access::Hit;
            }
            self.leave_history(s);
        }
        self.time += 1;
        let result = Access::Miss { evicted: self.admit(q, at, 1, UNREFERENCED) };
        self.stats.record(result);
        result
    }

    fn remove(&mut self, key: PageKey) -> bool {
        let Ok(s) = self.nodes.find(key) else { return false };
        let resident = self.tag(s) & 3 == RESIDENT;
        if resident {
            let nodes = self.nodes.nodes_mut();
            self.recency.unlink(nodes, s);
            self.freq.remove(nodes, s);
        } else {
            self.leave_history(s);
        }
        self.nodes.remove(s);
        resident
    }

    fn stats(&self) -> PolicyStats {
        self.stats
    }
    fn metadata_bytes(&self) -> usize {
        size_of::<Self>() + self.nodes.bytes() + self.freq.bytes()
    }
    #[cfg(test)]
    fn check_invariants(&self) {
        let nodes = self.nodes.nodes();
        let resident = self.recency.check(nodes);
        assert!(resident.len() <= self.capacity);
        assert!(resident.iter().all(|&s| self.tag(s) & 3 == RESIDENT), "resident tags");
        let mut by_count = self.freq.check(nodes);
        by_count.sort_unstable();
        let mut sorted = resident.clone();
        sorted.sort_unstable();
        assert_eq!(by_count, sorted, "LFU order holds the resident pages");
        // Histories: bounded, and with the cache every key once.
        let mut all = resident;
        for (h, history) in self.histories.iter().enumerate() {
            let keys = history.check(nodes);
            assert!(keys.len() <= self.capacity, "history over N");
            assert!(keys.iter().all(|&s| usize::from(self.tag(s)) == h + 1), "history tags");
            all.extend(keys);
        }
        self.nodes.check(&all);
    }
}
