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
//! Read-ahead (`prefetch`, not in the paper): a prefetched page is inserted
//! with count 1 and no regret update (a prefetch is no request; it leaves
//! the history it was in), and its first demand hit keeps the count at 1
//! (refreshing its recency), so pages a sequential reader has read once do
//! not outrank the read-ahead pages it has yet to read.

use alloc::collections::{BTreeMap, BTreeSet};

use crate::list::{FrequencyIndex, RecencyList};
use crate::rng::{exp, XorShift64};
use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

/// Learning rate lambda (paper, Section 4).
pub const LEARNING_RATE: f64 = 0.45;
/// ln(0.005): the discount is d = 0.005^(1/N) = e^(ln(0.005) / N).
const LN_0_005: f64 = -5.298_317_366_548_036;

/// An expert's history of evicted keys: FIFO order, eviction time and the
/// key's access count when it was evicted.
struct History {
    order: RecencyList,
    meta: BTreeMap<PageKey, (u64, u64)>,
    cap: usize,
}

impl History {
    fn new(cap: usize) -> Self {
        History { order: RecencyList::new(), meta: BTreeMap::new(), cap }
    }
    fn add(&mut self, key: PageKey, time: u64, freq: u64) {
        if self.order.len() >= self.cap
            && let Some(old) = self.order.pop_lru()
        {
            self.meta.remove(&old);
        }
        self.order.push_mru(key);
        self.meta.insert(key, (time, freq));
    }
    /// Remove `key`, returning (eviction time, frequency) if it was present.
    fn take(&mut self, key: PageKey) -> Option<(u64, u64)> {
        self.order.remove(key);
        self.meta.remove(&key)
    }
}

pub struct LeCaR {
    capacity: usize,
    recency: RecencyList,
    freq: FrequencyIndex,
    h_lru: History,
    h_lfu: History,
    w_lru: f64,
    w_lfu: f64,
    /// ln(d) = ln(0.005) / N.
    ln_discount: f64,
    time: u64,
    rng: XorShift64,
    /// Pages prefetched and not referenced since.
    unreferenced: BTreeSet<PageKey>,
    stats: PolicyStats,
}

impl LeCaR {
    pub fn new(capacity: usize, seed: u64) -> Self {
        let n = capacity.max(1);
        LeCaR {
            capacity: n,
            recency: RecencyList::new(),
            freq: FrequencyIndex::new(),
            h_lru: History::new(n),
            h_lfu: History::new(n),
            w_lru: 0.5,
            w_lfu: 0.5,
            ln_discount: LN_0_005 / n as f64,
            time: 0,
            rng: XorShift64::new(seed),
            unreferenced: BTreeSet::new(),
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

    /// Evict one resident key, choosing the expert at random by weight.
    fn evict(&mut self) -> Option<PageKey> {
        let use_lru = self.rng.next_f64() < self.w_lru;
        let victim = if use_lru { self.recency.peek_lru()? } else { self.freq.peek_lfu()? };
        self.recency.remove(victim);
        self.unreferenced.remove(&victim);
        let f = self.freq.remove(victim).unwrap_or(1);
        let history = if use_lru { &mut self.h_lru } else { &mut self.h_lfu };
        history.add(victim, self.time, f);
        Some(victim)
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
        self.recency.contains(key)
    }

    fn access(&mut self, q: PageKey) -> Access {
        self.time += 1;
        let result = if self.recency.contains(q) {
            self.recency.push_mru(q);
            if self.unreferenced.remove(&q) {
                self.freq.set(q, 1);
            } else {
                self.freq.bump(q);
            }
            Access::Hit
        } else {
            // UpdateWeight: regret for the expert that evicted q.
            let mut old_freq = 0;
            if let Some((evicted_at, f)) = self.h_lru.take(q) {
                let r = self.reward(self.time - evicted_at);
                self.w_lfu *= exp(LEARNING_RATE * r);
                self.normalise();
                old_freq = f;
            } else if let Some((evicted_at, f)) = self.h_lfu.take(q) {
                let r = self.reward(self.time - evicted_at);
                self.w_lru *= exp(LEARNING_RATE * r);
                self.normalise();
                old_freq = f;
            }
            let evicted = if self.recency.len() >= self.capacity { self.evict() } else { None };
            self.recency.push_mru(q);
            self.freq.set(q, old_freq + 1);
            Access::Miss { evicted }
        };
        self.stats.record(result);
        result
    }

    fn prefetch(&mut self, q: PageKey) -> Access {
        if self.contains(q) {
            return Access::Hit;
        }
        self.time += 1;
        self.h_lru.take(q);
        self.h_lfu.take(q);
        let evicted = if self.recency.len() >= self.capacity { self.evict() } else { None };
        self.recency.push_mru(q);
        self.freq.set(q, 1);
        self.unreferenced.insert(q);
        let result = Access::Miss { evicted };
        self.stats.record(result);
        result
    }

    fn remove(&mut self, key: PageKey) -> bool {
        self.unreferenced.remove(&key);
        self.h_lru.take(key);
        self.h_lfu.take(key);
        self.freq.remove(key);
        self.recency.remove(key)
    }

    fn stats(&self) -> PolicyStats {
        self.stats
    }
}
