//! Least recently used: evict the page whose last reference is oldest.

use crate::list::RecencyList;
use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

pub struct Lru {
    capacity: usize,
    list: RecencyList,
    stats: PolicyStats,
}

impl Lru {
    pub fn new(capacity: usize) -> Self {
        Lru { capacity: capacity.max(1), list: RecencyList::new(), stats: PolicyStats::default() }
    }
}

impl ReplacementPolicy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }
    fn capacity(&self) -> usize {
        self.capacity
    }
    fn len(&self) -> usize {
        self.list.len()
    }
    fn contains(&self, key: PageKey) -> bool {
        self.list.contains(key)
    }

    fn access(&mut self, key: PageKey) -> Access {
        let result = if self.list.contains(key) {
            Access::Hit
        } else {
            let evicted = if self.list.len() >= self.capacity { self.list.pop_lru() } else { None };
            Access::Miss { evicted }
        };
        self.list.push_mru(key);
        self.stats.record(result);
        result
    }

    fn remove(&mut self, key: PageKey) -> bool {
        self.list.remove(key)
    }
    fn stats(&self) -> PolicyStats {
        self.stats
    }
}
