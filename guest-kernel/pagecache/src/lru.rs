//! Least recently used: evict the page whose last reference is oldest.
//! One intrusive list, least recent at the front, over a node per resident
//! key; a hit moves its node to the back, a miss reuses the victim's node.

use crate::list::{KeyNode, List, Pool};
use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

pub struct Lru {
    capacity: usize,
    pool: Pool<KeyNode>,
    list: List<0>,
    stats: PolicyStats,
}

impl Lru {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Lru { capacity, pool: Pool::new(capacity, capacity), list: List::default(), stats: PolicyStats::default() }
    }
}

impl Lru {
    /// Bytes allocated (the list's nodes and index).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.pool.bytes()
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
        self.pool.find(key).is_ok()
    }

    fn access(&mut self, key: PageKey) -> Access {
        let result = match self.pool.find(key) {
            Ok(s) => {
                self.list.move_to_back(self.pool.nodes_mut(), s);
                Access::Hit
            }
            Err(v) => {
                let node = KeyNode::new(key, 0);
                let (s, evicted) = match self.list.len() >= self.capacity {
                    // The victim's node takes the new key.
                    true => {
                        let victim = self.list.pop_front(self.pool.nodes_mut()).expect("a full list");
                        (victim, Some(self.pool.reuse(v, victim, node)))
                    }
                    false => (self.pool.insert(v, node), None),
                };
                self.list.push_back(self.pool.nodes_mut(), s);
                Access::Miss { evicted }
            }
        };
        self.stats.record(result);
        result
    }

    fn remove(&mut self, key: PageKey) -> bool {
        let Ok(s) = self.pool.find(key) else { return false };
        self.list.unlink(self.pool.nodes_mut(), s);
        self.pool.remove(s);
        true
    }
    fn stats(&self) -> PolicyStats {
        self.stats
    }
    fn metadata_bytes(&self) -> usize {
        size_of::<Self>() + self.heap_bytes()
    }
    #[cfg(test)]
    fn check_invariants(&self) {
        let slots = self.list.check(self.pool.nodes());
        self.pool.check(&slots);
        assert!(slots.len() <= self.capacity);
    }
}
