//! Exact-decision regression test for the page cache's O(1) structures: LRU, CLOCK and ARC
//! as they were written over `BTreeMap`s (the code below is that version, kept as the
//! reference), replayed side by side with `pagecache`'s on every trace of `bench/traces` at
//! several cache sizes, and on random mixes of accesses, prefetches and invalidations. Every
//! outcome must match: hit or miss, and the key evicted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pagecache::rng::XorShift64;
use pagecache::{Access, PageKey, PolicyStats, by_name};

use crate::matrix::Workload;
use crate::trace;

/// Keys in recency order over two `BTreeMap`s (the policies' former `list::RecencyList`).
#[derive(Default)]
struct RecencyList {
    by_stamp: BTreeMap<u64, PageKey>,
    by_key: BTreeMap<PageKey, u64>,
    clock: u64,
}

impl RecencyList {
    fn len(&self) -> usize {
        self.by_key.len()
    }
    fn contains(&self, key: PageKey) -> bool {
        self.by_key.contains_key(&key)
    }
    fn push_mru(&mut self, key: PageKey) {
        self.remove(key);
        self.clock += 1;
        self.by_stamp.insert(self.clock, key);
        self.by_key.insert(key, self.clock);
    }
    fn remove(&mut self, key: PageKey) -> bool {
        match self.by_key.remove(&key) {
            Some(stamp) => {
                self.by_stamp.remove(&stamp);
                true
            }
            None => false,
        }
    }
    fn pop_lru(&mut self) -> Option<PageKey> {
        let (_, key) = self.by_stamp.pop_first()?;
        self.by_key.remove(&key);
        Some(key)
    }
}

/// The parts of `ReplacementPolicy` a reference implements.
trait Reference {
    fn access(&mut self, key: PageKey) -> Access;
    fn prefetch(&mut self, key: PageKey) -> Access;
    fn remove(&mut self, key: PageKey) -> bool;
}

struct Lru {
    capacity: usize,
    list: RecencyList,
}

impl Reference for Lru {
    fn access(&mut self, key: PageKey) -> Access {
        let result = if self.list.contains(key) {
            Access::Hit
        } else {
            let evicted = if self.list.len() >= self.capacity { self.list.pop_lru() } else { None };
            Access::Miss { evicted }
        };
        self.list.push_mru(key);
        result
    }
    fn prefetch(&mut self, key: PageKey) -> Access {
        if self.list.contains(key) { Access::Hit } else { self.access(key) }
    }
    fn remove(&mut self, key: PageKey) -> bool {
        self.list.remove(key)
    }
}

struct Slot {
    key: PageKey,
    referenced: bool,
}

struct Clock {
    capacity: usize,
    slots: Vec<Slot>,
    index: BTreeMap<PageKey, usize>,
    hand: usize,
    unreferenced: BTreeSet<PageKey>,
}

impl Clock {
    fn find_victim(&mut self) -> usize {
        loop {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            if self.slots[i].referenced {
                self.slots[i].referenced = false;
            } else {
                return i;
            }
        }
    }
}

impl Reference for Clock {
    fn access(&mut self, key: PageKey) -> Access {
        if let Some(&i) = self.index.get(&key) {
            self.slots[i].referenced = !self.unreferenced.remove(&key);
            Access::Hit
        } else if self.slots.len() < self.capacity {
            self.index.insert(key, self.slots.len());
            self.slots.push(Slot { key, referenced: false });
            Access::Miss { evicted: None }
        } else {
            let i = self.find_victim();
            let victim = self.slots[i].key;
            self.index.remove(&victim);
            self.unreferenced.remove(&victim);
            self.slots[i] = Slot { key, referenced: false };
            self.index.insert(key, i);
            Access::Miss { evicted: Some(victim) }
        }
    }
    fn prefetch(&mut self, key: PageKey) -> Access {
        if self.index.contains_key(&key) {
            return Access::Hit;
        }
        self.unreferenced.insert(key);
        self.access(key)
    }
    fn remove(&mut self, key: PageKey) -> bool {
        self.unreferenced.remove(&key);
        let Some(i) = self.index.remove(&key) else { return false };
        self.slots.swap_remove(i);
        if i < self.slots.len() {
            self.index.insert(self.slots[i].key, i);
        }
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
        true
    }
}

struct Arc {
    c: usize,
    p: usize,
    t1: RecencyList,
    t2: RecencyList,
    b1: RecencyList,
    b2: RecencyList,
    unreferenced: BTreeSet<PageKey>,
}

impl Arc {
    fn new(c: usize) -> Self {
        Arc {
            c,
            p: 0,
            t1: RecencyList::default(),
            t2: RecencyList::default(),
            b1: RecencyList::default(),
            b2: RecencyList::default(),
            unreferenced: BTreeSet::new(),
        }
    }
    fn insert_new(&mut self, x: PageKey) -> Option<PageKey> {
        let c = self.c;
        let l1 = self.t1.len() + self.b1.len();
        let total = l1 + self.t2.len() + self.b2.len();
        let mut evicted = None;
        if l1 == c {
            if self.t1.len() < c {
                self.b1.pop_lru();
                evicted = self.replace(false);
            } else {
                evicted = self.t1.pop_lru();
            }
        } else if total >= c {
            if total == 2 * c {
                self.b2.pop_lru();
            }
            evicted = self.replace(false);
        }
        self.t1.push_mru(x);
        evicted
    }
    fn replace(&mut self, in_b2: bool) -> Option<PageKey> {
        if self.t1.len() + self.t2.len() < self.c {
            return None;
        }
        let t1 = self.t1.len();
        if t1 >= 1 && ((in_b2 && t1 == self.p) || t1 > self.p) {
            let victim = self.t1.pop_lru()?;
            self.b1.push_mru(victim);
            Some(victim)
        } else {
            let victim = self.t2.pop_lru().or_else(|| self.t1.pop_lru())?;
            self.b2.push_mru(victim);
            Some(victim)
        }
    }
    fn contains(&self, key: PageKey) -> bool {
        self.t1.contains(key) || self.t2.contains(key)
    }
}

impl Reference for Arc {
    fn access(&mut self, x: PageKey) -> Access {
        let c = self.c;
        let result;
        if self.unreferenced.remove(&x) {
            self.t1.push_mru(x);
            result = Access::Hit;
        } else if self.t1.contains(x) || self.t2.contains(x) {
            self.t1.remove(x);
            self.t2.push_mru(x);
            result = Access::Hit;
        } else if self.b1.contains(x) {
            let (b1, b2) = (self.b1.len(), self.b2.len());
            let delta1 = if b1 >= b2 { 1 } else { b2 / b1 };
            self.p = (self.p + delta1).min(c);
            let evicted = self.replace(false);
            self.b1.remove(x);
            self.t2.push_mru(x);
            result = Access::Miss { evicted };
        } else if self.b2.contains(x) {
            let (b1, b2) = (self.b1.len(), self.b2.len());
            let delta2 = if b2 >= b1 { 1 } else { b1 / b2 };
            self.p = self.p.saturating_sub(delta2);
            let evicted = self.replace(true);
            self.b2.remove(x);
            self.t2.push_mru(x);
            result = Access::Miss { evicted };
        } else {
            result = Access::Miss { evicted: self.insert_new(x) };
        }
        if let Access::Miss { evicted: Some(v) } = result {
            self.unreferenced.remove(&v);
        }
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
            self.unreferenced.remove(&v);
        }
        self.unreferenced.insert(x);
        Access::Miss { evicted }
    }
    fn remove(&mut self, key: PageKey) -> bool {
        self.unreferenced.remove(&key);
        let resident = self.t1.remove(key) | self.t2.remove(key);
        self.b1.remove(key);
        self.b2.remove(key);
        resident
    }
}

const POLICIES: [&str; 3] = ["lru", "clock", "arc"];

fn reference(name: &str, capacity: usize) -> Box<dyn Reference> {
    match name {
        "lru" => Box::new(Lru { capacity, list: RecencyList::default() }),
        "clock" => Box::new(Clock {
            capacity,
            slots: Vec::new(),
            index: BTreeMap::new(),
            hand: 0,
            unreferenced: BTreeSet::new(),
        }),
        _ => Box::new(Arc::new(capacity)),
    }
}

/// What one step does to a policy.
#[derive(Clone, Copy, Debug)]
enum Op {
    Access(PageKey),
    Prefetch(PageKey),
    Remove(PageKey),
}

/// Runs `ops` through `name` and its reference; panics at the first outcome that differs.
/// Returns the policy's counters.
fn replay_both(name: &str, capacity: usize, ops: &[Op], what: &str) -> PolicyStats {
    let mut new = by_name(name, capacity).unwrap();
    let mut old = reference(name, capacity);
    for (step, &op) in ops.iter().enumerate() {
        let (a, b) = match op {
            Op::Access(k) => (new.access(k).into(), old.access(k).into()),
            Op::Prefetch(k) => (new.prefetch(k).into(), old.prefetch(k).into()),
            Op::Remove(k) => (Outcome::Removed(new.remove(k)), Outcome::Removed(old.remove(k))),
        };
        assert_eq!(a, b, "{name}, {capacity} pages, {what}: step {step} ({op:?})");
    }
    new.stats()
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Access(Access),
    Removed(bool),
}

impl From<Access> for Outcome {
    fn from(a: Access) -> Self {
        Outcome::Access(a)
    }
}

#[test]
fn lru_clock_and_arc_decide_as_before_on_every_bench_trace() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/traces");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("bench/traces")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 4, "traces in {}", dir.display());
    for path in paths {
        let requests = trace::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let w = Workload::from_trace(path.display().to_string(), &requests);
        let ops: Vec<Op> = w.ops.iter().map(|o| Op::Access(PageKey::new(0, o.page))).collect();
        for capacity in [1, 64, 1000, 4096] {
            for name in POLICIES {
                let s = replay_both(name, capacity, &ops, &w.name);
                println!("{}: {name} {capacity}: {} hits, {} evictions", w.name, s.hits, s.evictions);
            }
        }
    }
}

#[test]
fn lru_clock_and_arc_decide_as_before_with_prefetches_and_invalidations() {
    for seed in 1..=6u64 {
        let mut rng = XorShift64::new(seed);
        let capacity = [1, 2, 5, 16, 100, 333][seed as usize - 1];
        let universe = capacity as u64 * 3 + 2;
        let ops: Vec<Op> = (0..30_000)
            .map(|_| {
                let key = PageKey::new(rng.below(2) as u32, rng.below(universe));
                match rng.below(10) {
                    0..=2 => Op::Prefetch(key),
                    3 => Op::Remove(key),
                    _ => Op::Access(key),
                }
            })
            .collect();
        for name in POLICIES {
            replay_both(name, capacity, &ops, &format!("seed {seed}"));
        }
    }
}
