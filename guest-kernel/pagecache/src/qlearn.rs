//! `qrule`: a tabular Q-learning agent (C. J. C. H. Watkins and P. Dayan,
//! "Q-learning", Machine Learning 8, 1992) that picks, epoch by epoch, which
//! eviction rule the cache uses. (It was `qlearn` until the manager in
//! `manager.rs`, which tunes ARC's read-ahead and write-back instead, took
//! that name: the manager needs fewer device requests on most workloads of
//! `cachesim --matrix`, this one on a few.)
//!
//! Design (kept small enough to run in the kernel, no floating-point library):
//!
//! - **Cache.** The resident set is tracked both in recency order and by
//!   access count, so any of the rules below can pick a victim. The most
//!   recently used half of the cache is *young*: its pages are in their
//!   correlated-reference period (E. J. O'Neil, P. E. O'Neil, G. Weikum,
//!   "The LRU-K page replacement algorithm", SIGMOD '93) and the frequency
//!   rules do not evict them.
//! - **Actions** (the eviction rule for the next epoch):
//!   0 `LRU`, evict the least recently used page;
//!   1 `LFU`, evict the least frequently used page outside the young half
//!   (oldest among equals);
//!   2 `LRU-LFU`, evict the least frequently used among the 8 least
//!   recently used pages (recency with a frequency filter, resists scans),
//!   also outside the young half.
//!
//!   Why the young half: an insert is a reference, but a page read ahead is
//!   inserted before it is wanted. Its count is 1 until it is read, and the
//!   oldest count-1 page is then the read-ahead page to be read next, so an
//!   unguarded LFU evicts a sequential reader's pages in the order they are
//!   needed (every read a miss; `cachesim --readahead`). The page cache reads
//!   ahead at most half of the cache, and a read-ahead page is read while it
//!   is still among the most recent half (for 32-page windows, within the
//!   ~95 most recent pages). The price: a page never referenced again now
//!   stays until it leaves the young half (LFU alone on `scanhot.csv`: 0.413
//!   -> 0.381 at 256 pages, 0.509 either way at 1024).
//! - **Epoch.** E = 4 x capacity accesses, clamped to 32..=4096: long
//!   enough that an eviction rule's effect on the cache contents shows up in
//!   the epoch that chose it (with E = capacity the agent learned much less).
//! - **State** (48 states), observed at the end of each epoch: the epoch's
//!   hit ratio in 4 buckets (<25 %, <50 %, <75 %, >=75 %) x the ghost-hit
//!   signal in 4 values: which rule's evictions were regretted most this
//!   epoch (none, LRU, LFU, LRU-LFU) x the rule that was in force. A ghost
//!   hit is a miss on a key still in the history of recently evicted keys
//!   (at most capacity keys, FIFO), each tagged with the rule that evicted
//!   it, as in LeCaR. Utilisation is not in the state: after warm-up the
//!   cache is always full.
//! - **Reward** = misses avoided against a baseline over the epoch: a shadow
//!   LRU of the same capacity sees the same accesses (keys only), and
//!   r = (baseline misses - our misses) / E, in [-1, 1].
//! - **Learning.** Q(s,a) += alpha (r + gamma max_a' Q(s',a') - Q(s,a)) with
//!   alpha = 0.2, gamma = 0.8. Q starts optimistic, 0.1: above the value
//!   of doing as well as the baseline (0), so each action gets tried in each
//!   state visited, but close to real values (a rule that saves 2 % of the
//!   accesses' misses every epoch is worth 0.02 / (1 - gamma) = 0.1), so one
//!   or two tries are enough to tell a good action from a bad one. (With 1.0
//!   the agent spent a whole 50 000-access trace working the optimism off,
//!   choosing its actions about uniformly.) The next action is then
//!   epsilon-greedy with epsilon = 0.1 from a seeded xorshift64* (ties go to
//!   the lowest action). Same seed and trace, same decisions.
//!
//! Memory, 134 bytes per cached page: a resident page's node (32 bytes; a
//! young page keeps its count where an old one keeps its LFU links) and two
//! index entries of 8, LFU buckets of 28 bytes for the old half only, and
//! nodes of 20 bytes with two index entries each for the history and the
//! shadow LRU. Three sets of up to N keys (resident, ghosts, the shadow's)
//! with 12 bytes of key, 8 of links and 8 of index entry each are 84 bytes
//! a page before any count, with the index 100 % full.
//!
//! Limits, measured in the tests: on a scan mixed with a hot set the agent
//! recovers part of the gap between LRU and LFU, but exploration keeps it
//! below ARC/LeCaR; on a loop larger than the cache all three rules behave
//! like LRU (equal frequencies tie-break to the oldest), so it gets 0 hits.

use crate::index::{Keyed, PackedKey, Vacancy};
use crate::list::{Counted, FrequencyIndex, History, Linked, Links, List, NIL, Pool};
use crate::lru::Lru;
use crate::rng::XorShift64;
use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

pub const ACTIONS: usize = 3;
pub const ACTION_NAMES: [&str; ACTIONS] = ["lru", "lfu", "lru-lfu"];
const HIT_BUCKETS: usize = 4;
const GHOST_SIGNALS: usize = 1 + ACTIONS;
pub const STATES: usize = HIT_BUCKETS * GHOST_SIGNALS * ACTIONS;

pub const ALPHA: f64 = 0.2;
pub const GAMMA: f64 = 0.8;
pub const EPSILON: f64 = 0.1;
/// Optimistic initial Q value: every action looks good until tried, so the
/// agent tries each one in each state it visits instead of waiting for
/// epsilon to stumble on it; small, so that trying is soon enough.
pub const Q_INIT: f64 = 0.1;
/// How many of the least recent pages action 2 considers.
const LRU_LFU_WINDOW: usize = 8;

/// A resident page's half (the tag of its recency links).
const YOUNG: u8 = 1;
const OLD: u8 = 2;

/// A resident page, in 32 bytes: its place in recency order (links 0,
/// tagged with its half) and its access count: when old, its count's
/// bucket (links 1, `bucket`); when young, the count itself, held in
/// links 1 (the young half needs no links of its own, see `young`).
struct Page {
    key: PackedKey,
    recency: Links,
    by_count: Links,
    bucket: u32,
}

pub struct QLearn {
    capacity: usize,
    /// Every resident key with its access count.
    pages: Pool<Page>,
    /// Every resident key, least to most recent.
    recency: List<0>,
    /// The young half: the `young` most recent keys, at most `young_cap`
    /// (the frequency rules spare them), from `young_front` on (NIL if none).
    young: usize,
    young_front: u32,
    young_cap: usize,
    /// The other resident keys, by (count, when they left the young half):
    /// the LFU order outside the young half.
    old_by_freq: FrequencyIndex,
    /// Recently evicted keys (FIFO), tagged with the action that evicted them.
    ghosts: History,
    /// Baseline: an LRU of the same capacity over the same accesses.
    shadow_lru: Lru,

    q: [[f64; ACTIONS]; STATES],
    state: usize,
    action: usize,
    epoch_len: u64,
    epoch_accesses: u64,
    epoch_hits: u64,
    epoch_misses: u64,
    epoch_baseline_misses: u64,
    epoch_ghost_hits: [u64; ACTIONS],
    epochs: u64,
    rng: XorShift64,
    stats: PolicyStats,
}

impl QLearn {
    pub fn new(capacity: usize, seed: u64) -> Self {
        let capacity = capacity.max(1);
        QLearn {
            capacity,
            pages: Pool::new(capacity, capacity),
            recency: List::default(),
            young: 0,
            young_front: NIL,
            young_cap: capacity / 2,
            // A key turns old only as the young half passes `young_cap`,
            // so there are at most `capacity - young_cap` old keys.
            old_by_freq: FrequencyIndex::new(capacity - capacity / 2),
            ghosts: History::new(capacity),
            shadow_lru: Lru::new(capacity),
            q: [[Q_INIT; ACTIONS]; STATES],
            state: 0,
            action: 0,
            epoch_len: (capacity as u64 * 4).clamp(32, 4096),
            epoch_accesses: 0,
            epoch_hits: 0,
            epoch_misses: 0,
            epoch_baseline_misses: 0,
            epoch_ghost_hits: [0; ACTIONS],
            epochs: 0,
            rng: XorShift64::new(seed),
            stats: PolicyStats::default(),
        }
    }

    /// The eviction rule in force (index into [`ACTION_NAMES`]).
    pub fn current_action(&self) -> usize {
        self.action
    }
    /// The learned Q table, `[state][action]`.
    pub fn q_table(&self) -> &[[f64; ACTIONS]; STATES] {
        &self.q
    }
    /// Completed epochs (learning steps).
    pub fn epochs(&self) -> u64 {
        self.epochs
    }

    /// Whether `key` is resident and among the most recent half of the
    /// cache (its correlated-reference period).
    pub fn is_young(&self, key: PageKey) -> bool {
        self.pages.find(key).is_ok_and(|s| self.half(s) == YOUNG)
    }

    fn half(&self, s: u32) -> u8 {
        Linked::<0>::links(self.pages.node(s)).tag()
    }

    fn pick_victim(&self) -> Option<u32> {
        // Keys outside the young half come first in recency order.
        let old = self.recency.len() - self.young;
        match self.action {
            0 => self.recency.front(),
            _ if old == 0 => self.recency.front(),
            1 => self.old_by_freq.peek_lfu(),
            _ => {
                let mut best: Option<(u64, u32)> = None;
                for s in self.recency.iter(self.pages.nodes()).take(LRU_LFU_WINDOW.min(old)) {
                    let f = self.count(s);
                    if best.is_none_or(|(bf, _)| f < bf) {
                        best = Some((f, s));
                    }
                }
                best.map(|(_, s)| s)
            }
        }
    }

    /// The access count of resident `s`.
    fn count(&self, s: u32) -> u64 {
        match self.half(s) {
            OLD => self.old_by_freq.count(self.pages.nodes(), s),
            _ => self.pages.node(s).by_count.held(),
        }
    }

    /// Records a reference to resident `s` with count `count`: it becomes
    /// the most recent key and joins the young half, and the least recent
    /// young key beyond `young_cap` leaves it.
    fn touch(&mut self, s: u32, count: u64) {
        let half = self.half(s);
        let nodes = self.pages.nodes_mut();
        match half {
            YOUNG => {
                let next = Linked::<0>::links(&nodes[s as usize]).next();
                if s == self.young_front && next != NIL {
                    self.young_front = next;
                }
            }
            h => {
                if h == OLD {
                    self.old_by_freq.remove(nodes, s);
                }
                Linked::<0>::links_mut(&mut nodes[s as usize]).set_tag(YOUNG);
                if self.young == 0 {
                    self.young_front = s;
                }
                self.young += 1;
            }
        }
        self.recency.move_to_back(nodes, s);
        nodes[s as usize].by_count = Links::holding(count);
        if self.young > self.young_cap {
            let aged = self.young_front;
            let page = &mut nodes[aged as usize];
            self.young_front = Linked::<0>::links(page).next();
            self.young -= 1;
            Linked::<0>::links_mut(page).set_tag(OLD);
            let f = page.by_count.held();
            page.by_count = Links::new(0);
            self.old_by_freq.insert(nodes, aged, f);
        }
    }

    /// Takes resident `s` off every list; its node is for the caller to
    /// free or reuse. (After `remove` of a young key the young half is one
    /// short until the next reference refills it.)
    fn unlink(&mut self, s: u32) {
        let half = self.half(s);
        let nodes = self.pages.nodes_mut();
        if half == YOUNG {
            self.young -= 1;
            if s == self.young_front {
                self.young_front = Linked::<0>::links(&nodes[s as usize]).next();
            }
        } else {
            self.old_by_freq.remove(nodes, s);
        }
        self.recency.unlink(nodes, s);
    }

    /// A miss on `key` (its place in the index `v`): the victim, if the
    /// cache is full, joins the ghosts and its node takes `key`.
    fn insert(&mut self, v: Vacancy, key: PageKey) -> Access {
        if let Some(by) = self.ghosts.take(key) {
            self.epoch_ghost_hits[usize::from(by)] += 1;
        }
        let page = Page { key: PackedKey::new(key), recency: Links::new(0), by_count: Links::new(0), bucket: 0 };
        let victim = if self.recency.len() >= self.capacity { self.pick_victim() } else { None };
        let (s, evicted) = match victim {
            Some(victim) => {
                self.unlink(victim);
                let old = self.pages.reuse(v, victim, page);
                self.ghosts.add(old, self.action as u8);
                (victim, Some(old))
            }
            None => (self.pages.insert(v, page), None),
        };
        self.recency.push_back(self.pages.nodes_mut(), s);
        self.touch(s, 1);
        self.epoch_misses += 1;
        Access::Miss { evicted }
    }

    fn observe_state(&self) -> usize {
        let ratio = self.epoch_hits as f64 / self.epoch_accesses.max(1) as f64;
        let bucket = ((ratio * HIT_BUCKETS as f64) as usize).min(HIT_BUCKETS - 1);
        let g = &self.epoch_ghost_hits;
        let mut signal = 0;
        let mut most = 0;
        for (a, &hits) in g.iter().enumerate() {
            if hits > most {
                most = hits;
                signal = 1 + a;
            }
        }
        (bucket * GHOST_SIGNALS + signal) * ACTIONS + self.action
    }

    fn greedy(&self, s: usize) -> usize {
        let mut best = 0;
        for a in 1..ACTIONS {
            if self.q[s][a] > self.q[s][best] {
                best = a;
            }
        }
        best
    }

    /// End of an epoch: reward, Q update, next action.
    fn learn(&mut self) {
        let reward = (self.epoch_baseline_misses as f64 - self.epoch_misses as f64) / self.epoch_len as f64;
        let next = self.observe_state();
        let (s, a) = (self.state, self.action);
        let target = reward + GAMMA * self.q[next][self.greedy(next)];
        self.q[s][a] += ALPHA * (target - self.q[s][a]);

        self.state = next;
        self.action = if self.rng.next_f64() < EPSILON {
            self.rng.below(ACTIONS as u64) as usize
        } else {
            self.greedy(next)
        };
        self.epochs += 1;
        self.epoch_accesses = 0;
        self.epoch_hits = 0;
        self.epoch_misses = 0;
        self.epoch_baseline_misses = 0;
        self.epoch_ghost_hits = [0; ACTIONS];
    }
}

impl Keyed for Page {
    fn key(&self) -> PageKey {
        self.key.get()
    }
}

impl Linked<0> for Page {
    fn links(&self) -> &Links {
        &self.recency
    }
    fn links_mut(&mut self) -> &mut Links {
        &mut self.recency
    }
}

impl Linked<1> for Page {
    fn links(&self) -> &Links {
        &self.by_count
    }
    fn links_mut(&mut self) -> &mut Links {
        &mut self.by_count
    }
}

impl Counted for Page {
    fn bucket(&self) -> u32 {
        self.bucket
    }
    fn set_bucket(&mut self, b: u32) {
        self.bucket = b;
    }
}

impl ReplacementPolicy for QLearn {
    fn name(&self) -> &'static str {
        "qrule"
    }
    fn capacity(&self) -> usize {
        self.capacity
    }
    fn len(&self) -> usize {
        self.recency.len()
    }
    fn contains(&self, key: PageKey) -> bool {
        self.pages.find(key).is_ok()
    }

    fn access(&mut self, key: PageKey) -> Access {
        // Baseline LRU sees the same access.
        if !self.shadow_lru.access(key).is_hit() {
            self.epoch_baseline_misses += 1;
        }

        let result = match self.pages.find(key) {
            Ok(s) => {
                self.touch(s, self.count(s) + 1);
                self.epoch_hits += 1;
                Access::Hit
            }
            Err(v) => self.insert(v, key),
        };
        self.stats.record(result);
        self.epoch_accesses += 1;
        if self.epoch_accesses == self.epoch_len {
            self.learn();
        }
        result
    }

    fn remove(&mut self, key: PageKey) -> bool {
        self.ghosts.take(key);
        self.shadow_lru.remove(key);
        let Ok(s) = self.pages.find(key) else { return false };
        self.unlink(s);
        self.pages.remove(s);
        true
    }

    fn stats(&self) -> PolicyStats {
        self.stats
    }
    fn metadata_bytes(&self) -> usize {
        size_of::<Self>()
            + self.pages.bytes()
            + self.old_by_freq.bytes()
            + self.ghosts.bytes()
            + self.shadow_lru.heap_bytes()
    }
    #[cfg(test)]
    fn check_invariants(&self) {
        let nodes = self.pages.nodes();
        let resident = self.recency.check(nodes);
        self.pages.check(&resident);
        assert!(resident.len() <= self.capacity);
        // The young half is the most recent end of the recency order.
        assert!(self.young <= self.young_cap);
        let (old, young) = resident.split_at(resident.len() - self.young);
        assert_eq!(young.first().copied().unwrap_or(NIL), self.young_front, "young front");
        assert!(young.iter().all(|&s| self.half(s) == YOUNG) && old.iter().all(|&s| self.half(s) == OLD));
        let mut by_freq = self.old_by_freq.check(nodes);
        by_freq.sort_unstable();
        let mut old = old.to_vec();
        old.sort_unstable();
        assert_eq!(by_freq, old, "the LFU order holds the old keys");
        for k in self.ghosts.check() {
            assert!(self.pages.find(k).is_err(), "ghost {k:?} resident");
        }
        self.shadow_lru.check_invariants();
    }
}
