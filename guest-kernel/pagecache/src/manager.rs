//! A Q-learning page-cache manager, in the form proposed by Cai, Ghobadi
//! and Lie (Middleware '17): the agent does not pick victims; it tunes the
//! parameters of a running cache, epoch by epoch, from the signals that
//! cache produces, and is rewarded for the device I/O it saves. Tabular
//! Q-learning (C. J. C. H. Watkins and P. Dayan, "Q-learning", Machine
//! Learning 8, 1992); each action steps one parameter, as STUN does.
//!
//! - **Cache.** ARC ([`crate::arc`]) replaces pages, its split p between
//!   recency and frequency following ARC's own adaptation: ARC moves p on
//!   every ghost hit, finer than an epoch-level step can (p steps as
//!   actions were tried: their effect was below an epoch's noise, and the
//!   agent's walks cost hit ratio).
//! - **Parameters** ([`Knobs`], read by the caller before every page read
//!   or write, `PageCache::knobs`), each moving one way from the guest's
//!   default, the way it can save requests:
//!   - the largest read-ahead window, [`READAHEAD_SCALE`] (1, 1/2, 1/4) of
//!     the configured one: never deeper, as the default (32 pages) is the
//!     largest request already, so a deeper window saves no request; a
//!     shallower one pollutes less when read-ahead pages go unread;
//!   - the dirty limit, [`DIRTY_SHARE`] (1/2, 3/4, 7/8) of the cache:
//!     never lower, as the default already writes dirty pages back before
//!     a scan of the other half can evict them one by one; a higher one
//!     lets more rewrites find their page still dirty.
//! - **Agents.** One Q-table per parameter; actions keep, up, down (at a
//!   bound a step does nothing). Their costs separate: write-back never
//!   touches the replacement state, so the dirty limit changes only write
//!   requests, and read-ahead changes read requests.
//! - **Epoch.** E = capacity accesses (demand reads and writes), clamped to
//!   256..=1024: long enough to hold many requests, short enough for tens
//!   of decisions whatever the cache size.
//! - **State** at an epoch's end: the parameter's level and the signal its
//!   effect depends on. Dirty limit: writes under 1/16 of the accesses;
//!   writes mostly to clean pages; a quarter or more to pages still dirty
//!   (rewrites, which a higher limit saves). Read-ahead: no page read ahead
//!   was read or evicted; most were read; most were evicted unread
//!   ([`ArcSignals`]). 9 states each.
//! - **Reward**, device requests saved per access:
//!   - dirty limit: against a shadow write-back at the default limit fed
//!     the same writes and evictions (keys only, at most half the cache),
//!     so both sides see the same noise; each side's cost is the write
//!     requests it made plus the change in those its dirty pages owe (the
//!     requests a write-back would make now): a deferred write is not a
//!     saved one, and write-back bursts count in the epochs that made them;
//!   - read-ahead: no shadow can replay the caller's read-ahead, so the
//!     reward of a step is the read requests per demand read it saved
//!     against the recent mean (exponential, weight [`BASELINE_WEIGHT`]),
//!     and keeping earns 0 (else noise alone would make keep look bad);
//!   - [`STEP_COST`] is charged to every step, so a change must pay.
//! - **Learning.** Q(s,a) += alpha (r + gamma max_a' Q(s',a') - Q(s,a)):
//!   alpha = 0.3 (workloads shift; recent epochs weigh more), gamma = 0.5
//!   (a level's effect outlasts the epoch that chose it, as a raised dirty
//!   limit saves more as the dirty set grows). Q starts at 0 ("no better
//!   than the default") except for the step away from the default where
//!   the signal says it can pay ([`OPTIMISM`]: a smaller window when
//!   read-ahead is wasted, a higher limit under rewrites), so that step is
//!   tried at once. Greedy ties go to keep (back toward the default first
//!   for read-ahead, whose keep earns 0). Epsilon-greedy, epsilon = 0.02,
//!   from a seeded xorshift64*: same seed and events, same decisions.
//! - **Cost.** ARC's lists (61 bytes a cached page), one table of both
//!   write models' dirty pages (a key and a bit per model: 32 bytes a
//!   cached page with its index) and two 27-entry tables; the dirty table
//!   is walked once an epoch per model. Nothing allocates after creation.
//!
//! Not an action: the cache's share of memory (the paper's third knob).
//! Capacity is fixed by whoever creates the cache, and it is the variable
//! the evaluation sweeps: a policy that grew itself would not be compared
//! at the same size.

use crate::arc::{Arc, ArcSignals};
use crate::index::{Keyed, KeyedVec, PackedKey};
use crate::rng::XorShift64;
use crate::{Access, CacheEvent, Knobs, PageKey, PolicyStats, ReplacementPolicy};

/// A learner's actions on its parameter's level: keep it, one level up,
/// one level down.
pub const ACTIONS: usize = 3;
pub const KEEP: usize = 0;
pub const UP: usize = 1;
pub const DOWN: usize = 2;
/// Values of the signals (see the module doc).
const SIGNALS: usize = 3;
pub const FEW_WRITES: usize = 0;
pub const CLEAN_WRITES: usize = 1;
pub const REWRITES: usize = 2;
pub const NO_READAHEAD: usize = 0;
pub const READAHEAD_USED: usize = 1;
pub const READAHEAD_WASTED: usize = 2;

/// Largest read-ahead window, as num/den of the configured one, by level.
pub const READAHEAD_SCALE: [(u32, u32); 3] = [(1, 4), (1, 2), (1, 1)];
/// Dirty limit as num/den of the cache, by level.
pub const DIRTY_SHARE: [(usize, usize); 3] = [(1, 2), (3, 4), (7, 8)];
/// The guest's defaults: the configured read-ahead, half the cache dirty.
pub const DEFAULT_READAHEAD_LEVEL: usize = 2;
pub const DEFAULT_DIRTY_LEVEL: usize = 0;
/// Pages per merged request (the block layer's default limit, 256 sectors),
/// for the shadow write-back.
const MAX_REQUEST_PAGES: u64 = 32;

pub const ALPHA: f64 = 0.3;
pub const GAMMA: f64 = 0.5;
pub const EPSILON: f64 = 0.02;
/// Initial Q (requests per access) of the step away from the default when
/// the signal says it can pay: above keep's 0, so it is tried at once in
/// each such state, and below any real effect, so one try that costs I/O
/// is enough to give it up.
pub const OPTIMISM: f64 = 0.002;
/// Charged to every step that changes a level (requests per access): a
/// change must pay for itself, so steps whose effect is nil (no writes, no
/// read-ahead) lose to keep once tried instead of being taken back and forth.
pub const STEP_COST: f64 = 0.001;
/// Weight of the newest epoch in the read-ahead baseline.
pub const BASELINE_WEIGHT: f64 = 0.25;

/// One Q-learning step: the new Q(s,a) from the old one, the reward and
/// max_a' Q(s',a').
pub fn q_update(q: f64, reward: f64, next_best: f64) -> f64 {
    q + ALPHA * (reward + GAMMA * next_best - q)
}

/// Tabular Q-learning over one parameter's `LEVELS` levels x 3 signals.
#[derive(Clone, Debug)]
pub struct Learner<const LEVELS: usize> {
    q: [[[f64; ACTIONS]; SIGNALS]; LEVELS],
    level: usize,
    default_level: usize,
    /// The state the last action was taken in, and that action.
    from: (usize, usize),
    action: usize,
    /// The last action changed the level.
    moved: bool,
    /// The reward measures a step's effect, not a level's: keeping earns 0,
    /// and among equal actions a step back toward the default comes first
    /// (else a step that made things worse would be kept, at 0 like keep).
    step_reward: bool,
}

impl<const LEVELS: usize> Learner<LEVELS> {
    /// Starting at `default_level`, hopeful about `action` under `signal`.
    pub(crate) fn new(default_level: usize, signal: usize, action: usize, step_reward: bool) -> Self {
        let mut q = [[[0.0; ACTIONS]; SIGNALS]; LEVELS];
        for level in &mut q {
            level[signal][action] = OPTIMISM;
        }
        let from = (default_level, 0);
        Learner { q, level: default_level, default_level, from, action: KEEP, moved: false, step_reward }
    }

    pub fn level(&self) -> usize {
        self.level
    }
    /// The action taken at the last epoch's end ([`KEEP`], [`UP`], [`DOWN`]).
    pub fn action(&self) -> usize {
        self.action
    }
    /// Q(level, signal, action).
    pub fn q(&self, level: usize, signal: usize, action: usize) -> f64 {
        self.q[level][signal][action]
    }

    /// Carries out `action` on the level.
    pub fn apply(&mut self, action: usize) {
        let before = self.level;
        match action {
            UP => self.level = (self.level + 1).min(LEVELS - 1),
            DOWN => self.level = self.level.saturating_sub(1),
            _ => {}
        }
        self.action = action;
        self.moved = self.level != before;
    }

    /// The best action in `level` with `signal`; among equals keep, then
    /// the step back toward the default level (that step first for a
    /// step reward away from the default).
    fn greedy(&self, level: usize, signal: usize) -> usize {
        let q = &self.q[level][signal];
        let (back, away) = if level > self.default_level { (DOWN, UP) } else { (UP, DOWN) };
        let order =
            if self.step_reward && level != self.default_level { [back, KEEP, away] } else { [KEEP, back, away] };
        order.into_iter().fold(order[0], |best, a| if q[a] > q[best] { a } else { best })
    }

    /// The last action earned `reward` and the epoch ended with `signal`:
    /// update Q, then choose and apply the next action.
    pub(crate) fn step(&mut self, mut reward: f64, signal: usize, rng: &mut XorShift64) {
        let (l, s) = self.from;
        if self.moved {
            reward -= STEP_COST;
        } else if self.step_reward {
            reward = 0.0;
        }
        let best = self.q[self.level][signal][self.greedy(self.level, signal)];
        self.q[l][s][self.action] = q_update(self.q[l][s][self.action], reward, best);
        self.from = (self.level, signal);
        let action = if rng.next_f64() < EPSILON {
            rng.below(ACTIONS as u64) as usize
        } else {
            self.greedy(self.level, signal)
        };
        self.apply(action);
    }
}

/// Which write model: the cache's write-back, mirrored (its write-backs
/// are reported), or the shadow at the default limit that the dirty-limit
/// learner is measured against, which writes back by itself.
const OURS: usize = 0;
const SHADOW: usize = 1;

/// A dirty page, with a bit (`1 << model`) for each model holding it dirty.
struct DirtyPage {
    key: PackedKey,
    models: u8,
}

impl Keyed for DirtyPage {
    fn key(&self) -> PageKey {
        self.key.get()
    }
}

/// One model's write-back: its limit (None: it writes back when told),
/// its dirty pages and the write requests it made.
struct WriteModel {
    limit: Option<usize>,
    dirty: usize,
    made: u64,
}

/// Write-back replayed on keys, by both models. They hold cached pages
/// only, mostly the same ones, so one table of the cache's capacity keeps
/// both models' dirty pages. Both count alike (an evicted dirty page is one
/// request), so at the same limit they agree exactly and the reward is only
/// the limit's doing.
struct WriteModels {
    pages: KeyedVec<DirtyPage>,
    models: [WriteModel; 2],
}

impl WriteModels {
    fn new(capacity: usize, shadow_limit: usize) -> Self {
        let model = |limit| WriteModel { limit, dirty: 0, made: 0 };
        WriteModels { pages: KeyedVec::new(capacity), models: [model(None), model(Some(shadow_limit))] }
    }

    fn contains(&self, m: usize, key: PageKey) -> bool {
        self.pages.find(key).is_ok_and(|i| self.pages.items()[i].models & 1 << m != 0)
    }

    /// A write to cached page `key`, in both models; a model past its
    /// limit writes back.
    fn write(&mut self, key: PageKey) {
        let i = match self.pages.find(key) {
            Ok(i) => i,
            Err(v) => self.pages.push(v, DirtyPage { key: PackedKey::new(key), models: 0 }),
        };
        let page = &mut self.pages.items_mut()[i];
        for (m, model) in self.models.iter_mut().enumerate() {
            if page.models & 1 << m == 0 {
                page.models |= 1 << m;
                model.dirty += 1;
            }
        }
        for m in [OURS, SHADOW] {
            if self.models[m].limit.is_some_and(|l| self.models[m].dirty > l) {
                self.write_back(m);
            }
        }
    }

    /// Model `m` writes back every page it holds dirty.
    fn write_back(&mut self, m: usize) {
        self.models[m].made += self.requests(m);
        self.models[m].dirty = 0;
        // From the end, so that the page `swap_remove` moves in was seen.
        for i in (0..self.pages.len()).rev() {
            let page = &mut self.pages.items_mut()[i];
            page.models &= !(1 << m);
            if page.models == 0 {
                self.pages.swap_remove(i);
            }
        }
    }

    /// Cached page `key` leaves the cache; `evicted`: by the policy, so
    /// a model holding it dirty writes it on its own.
    fn forget(&mut self, key: PageKey, evicted: bool) {
        // Every eviction asks: with no dirty page, answer without a probe.
        if self.pages.len() == 0 {
            return;
        }
        let Ok(i) = self.pages.find(key) else { return };
        let page = self.pages.swap_remove(i);
        for (m, model) in self.models.iter_mut().enumerate() {
            if page.models & 1 << m != 0 {
                model.dirty -= 1;
                model.made += u64::from(evicted);
            }
        }
    }

    /// The requests one write-back of model `m`'s pages makes: each run of
    /// adjacent pages, split every [`MAX_REQUEST_PAGES`] (as the request
    /// queue merges the write-back's one-page writes). Each run is measured
    /// from its first page, so every key is looked at about twice.
    fn requests(&self, m: usize) -> u64 {
        let mut requests = 0;
        for page in self.pages.items().iter().filter(|p| p.models & 1 << m != 0) {
            let PageKey { dev, block } = page.key.get();
            if block.checked_sub(1).is_some_and(|b| self.contains(m, PageKey::new(dev, b))) {
                continue; // not the first page of its run
            }
            let mut n = 1;
            while block.checked_add(n).is_some_and(|b| self.contains(m, PageKey::new(dev, b))) {
                n += 1;
            }
            requests += n.div_ceil(MAX_REQUEST_PAGES);
        }
        requests
    }

    fn cost(&self, m: usize) -> WriteCost {
        WriteCost { made: self.models[m].made, owed: self.requests(m) }
    }
}

/// Write requests made so far, and those a write-back would make now.
#[derive(Clone, Copy, Debug, Default)]
struct WriteCost {
    made: u64,
    owed: u64,
}

impl WriteCost {
    /// Requests made since `start`, plus the change in what is owed: a
    /// dirty page is a write deferred, not saved, and write-back bursts
    /// count in the epochs whose writes made them.
    fn since(&self, start: &WriteCost) -> f64 {
        (self.made - start.made) as f64 + self.owed as f64 - start.owed as f64
    }
}

/// What one epoch saw.
#[derive(Clone, Copy, Debug, Default)]
struct Epoch {
    accesses: u64,
    writes: u64,
    /// Writes to pages already dirty.
    rewrites: u64,
    read_requests: u64,
    /// The write costs, ours and the shadow's, when the epoch began.
    written: WriteCost,
    shadow: WriteCost,
    arc: ArcSignals,
}

pub struct Manager {
    arc: Arc,
    readahead: Learner<{ READAHEAD_SCALE.len() }>,
    dirty: Learner<{ DIRTY_SHARE.len() }>,
    /// The cache's write-back, and the default one.
    writes: WriteModels,
    epoch_len: u64,
    epoch: Epoch,
    /// B: recent epochs' read requests per demand read (None before the
    /// first epoch ends).
    read_baseline: Option<f64>,
    epochs: u64,
    rng: XorShift64,
}

impl Manager {
    pub fn new(capacity: usize, seed: u64) -> Self {
        let arc = Arc::new(capacity);
        let c = arc.capacity();
        let (n, d) = DIRTY_SHARE[DEFAULT_DIRTY_LEVEL];
        let shadow_limit = (c * n / d).max(1);
        Manager {
            // A smaller window can only pay when read-ahead pages go unread, a
            // higher dirty limit only when writes find their page still dirty.
            readahead: Learner::new(DEFAULT_READAHEAD_LEVEL, READAHEAD_WASTED, DOWN, true),
            dirty: Learner::new(DEFAULT_DIRTY_LEVEL, REWRITES, UP, false),
            writes: WriteModels::new(c, shadow_limit),
            epoch_len: (c as u64).clamp(256, 1024),
            epoch: Epoch::default(),
            read_baseline: None,
            epochs: 0,
            rng: XorShift64::new(seed),
            arc,
        }
    }

    /// Steps the parameters by hand, as their learners do.
    pub fn apply(&mut self, readahead_action: usize, dirty_action: usize) {
        self.readahead.apply(readahead_action);
        self.dirty.apply(dirty_action);
    }
    pub fn arc(&self) -> &Arc {
        &self.arc
    }
    /// Completed epochs (learning steps).
    pub fn epochs(&self) -> u64 {
        self.epochs
    }
    pub fn epoch_len(&self) -> u64 {
        self.epoch_len
    }

    /// End of an epoch: rewards, Q updates, next actions.
    fn learn(&mut self) {
        let e = self.epoch;
        let (written, shadow) = (self.writes.cost(OURS), self.writes.cost(SHADOW));
        let dirty_reward = (shadow.since(&e.shadow) - written.since(&e.written)) / e.accesses.max(1) as f64;
        let write_signal = if e.writes * 16 < e.accesses {
            FEW_WRITES
        } else if e.rewrites * 4 < e.writes {
            CLEAN_WRITES
        } else {
            REWRITES
        };
        self.dirty.step(dirty_reward, write_signal, &mut self.rng);

        let read_cost = e.read_requests as f64 / e.accesses.saturating_sub(e.writes).max(1) as f64;
        let baseline = *self.read_baseline.get_or_insert(read_cost);
        self.read_baseline = Some(baseline + BASELINE_WEIGHT * (read_cost - baseline));
        let now = self.arc.signals();
        let used = now.prefetch_used - e.arc.prefetch_used;
        let wasted = now.prefetch_wasted - e.arc.prefetch_wasted;
        let readahead_signal = if used + wasted == 0 {
            NO_READAHEAD
        } else if wasted < used {
            READAHEAD_USED
        } else {
            READAHEAD_WASTED
        };
        self.readahead.step(baseline - read_cost, readahead_signal, &mut self.rng);

        self.epochs += 1;
        self.epoch = Epoch { written, shadow, arc: now, ..Epoch::default() };
    }

    /// Passes `a` on, after noting the key it evicted (written first if it
    /// was dirty).
    fn note_eviction(&mut self, a: Access) -> Access {
        if let Access::Miss { evicted: Some(v) } = a {
            self.writes.forget(v, true);
        }
        a
    }
}

impl ReplacementPolicy for Manager {
    fn name(&self) -> &'static str {
        "qlearn"
    }
    fn capacity(&self) -> usize {
        self.arc.capacity()
    }
    fn len(&self) -> usize {
        self.arc.len()
    }
    fn contains(&self, key: PageKey) -> bool {
        self.arc.contains(key)
    }

    fn access(&mut self, key: PageKey) -> Access {
        let a = self.arc.access(key);
        self.epoch.accesses += 1;
        if self.epoch.accesses == self.epoch_len {
            self.learn();
        }
        self.note_eviction(a)
    }

    fn prefetch(&mut self, key: PageKey) -> Access {
        let a = self.arc.prefetch(key);
        self.note_eviction(a)
    }

    fn remove(&mut self, key: PageKey) -> bool {
        self.writes.forget(key, false);
        self.arc.remove(key)
    }

    fn stats(&self) -> PolicyStats {
        self.arc.stats()
    }
    fn metadata_bytes(&self) -> usize {
        size_of::<Self>() + self.arc.heap_bytes() + self.writes.pages.bytes()
    }
    #[cfg(test)]
    fn check_invariants(&self) {
        self.arc.check_invariants();
        let pages = &self.writes.pages;
        pages.check();
        assert!(
            pages.items().iter().all(|p| p.models != 0 && self.arc.contains(p.key.get())),
            "dirty pages are cached"
        );
        for (m, model) in self.writes.models.iter().enumerate() {
            assert_eq!(
                pages.items().iter().filter(|p| p.models & 1 << m != 0).count(),
                model.dirty,
                "model {m}'s count"
            );
            assert!(model.limit.is_none_or(|l| model.dirty <= l), "shadow past its limit");
        }
    }

    fn knobs(&self, configured: Knobs) -> Knobs {
        let (rn, rd) = READAHEAD_SCALE[self.readahead.level];
        let (dn, dd) = DIRTY_SHARE[self.dirty.level];
        Knobs {
            readahead_max: configured.readahead_max.saturating_mul(rn) / rd,
            dirty_limit: (self.arc.capacity() * dn / dd).max(1),
        }
    }

    fn note(&mut self, event: CacheEvent) {
        match event {
            // Only cached pages become dirty (`PageCache::mark_dirty`),
            // which bounds the dirty sets by the capacity.
            CacheEvent::Write { key, .. } if !self.arc.contains(key) => {}
            CacheEvent::Write { key, rewrite } => {
                self.epoch.writes += 1;
                self.epoch.rewrites += u64::from(rewrite);
                self.writes.write(key);
            }
            CacheEvent::WriteBack => self.writes.write_back(OURS),
            CacheEvent::Request { write: false, .. } => self.epoch.read_requests += 1,
            // Write requests are modelled (`WriteModels`), as for the shadow.
            CacheEvent::Request { write: true, .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::XorShift64;
    use alloc::collections::BTreeSet;

    /// The requests of a write-back as counted before the hash table: a walk
    /// of the keys in (dev, block) order, a new request at each gap or
    /// every `MAX_REQUEST_PAGES` pages.
    fn sorted_walk(keys: &BTreeSet<PageKey>) -> u64 {
        let mut requests = 0;
        let mut run: Option<(PageKey, u64)> = None;
        for &k in keys {
            run = match run {
                Some((first, n)) if n < MAX_REQUEST_PAGES && k.dev == first.dev && k.block == first.block + n => {
                    Some((first, n + 1))
                }
                _ => {
                    requests += 1;
                    Some((k, 1))
                }
            };
        }
        requests
    }

    #[test]
    fn write_models_match_sorted_walks_of_their_dirty_sets() {
        const SHADOW_LIMIT: usize = 300;
        for seed in 1..=20u64 {
            let mut rng = XorShift64::new(seed);
            let mut w = WriteModels::new(400, SHADOW_LIMIT);
            // Each model's dirty set and requests made, kept by hand.
            let mut sets = [BTreeSet::new(), BTreeSet::new()];
            let mut made = [0; 2];
            for _ in 0..2000 {
                // Runs of adjacent pages (some longer than a request), both
                // devices, and the ends of the block range.
                let start = [0, u64::MAX - 40, rng.below(300)][rng.below(3) as usize];
                let key = PageKey::new(rng.below(2) as u32, start + rng.below(40));
                match rng.below(40) {
                    0 => {
                        w.write_back(OURS);
                        made[OURS] += sorted_walk(&sets[OURS]);
                        sets[OURS].clear();
                    }
                    1..=13 => {
                        let evicted = rng.below(2) == 0;
                        w.forget(key, evicted);
                        for (set, made) in sets.iter_mut().zip(&mut made) {
                            *made += u64::from(set.remove(&key) && evicted);
                        }
                    }
                    _ if sets[OURS].len() + sets[SHADOW].len() < 400 => {
                        w.write(key);
                        sets[OURS].insert(key);
                        sets[SHADOW].insert(key);
                        if sets[SHADOW].len() > SHADOW_LIMIT {
                            made[SHADOW] += sorted_walk(&sets[SHADOW]);
                            sets[SHADOW].clear();
                        }
                    }
                    _ => {}
                }
                for m in [OURS, SHADOW] {
                    assert_eq!(w.requests(m), sorted_walk(&sets[m]), "seed {seed}, model {m}: {:?}", sets[m]);
                    assert_eq!((w.models[m].made, w.models[m].dirty), (made[m], sets[m].len()), "seed {seed}");
                }
                assert_eq!(
                    w.pages.len(),
                    sets[OURS].union(&sets[SHADOW]).count(),
                    "seed {seed}: pages dirty in either"
                );
            }
            w.write_back(OURS);
            w.write_back(SHADOW);
            assert_eq!((w.requests(OURS), w.requests(SHADOW), w.pages.len()), (0, 0, 0));
            w.pages.check();
        }
    }
}
