//! CLOCK, the "second chance" approximation of LRU (F. J. Corbató, "A paging
//! experiment with the Multics system", MIT Project MAC, 1968).
//!
//! Resident pages sit in a circular array with one reference bit each. A hit
//! only sets the bit (cheap: no list manipulation, which is why kernels use
//! it). To evict, the hand sweeps: a page with its bit set gets a second
//! chance (bit cleared, hand moves on); the first page found with a clear bit
//! is the victim and its slot takes the new page. A new page enters with its
//! bit clear, so a page must be re-referenced to earn its second chance.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

struct Slot {
    key: PageKey,
    referenced: bool,
}

pub struct Clock {
    capacity: usize,
    slots: Vec<Slot>,
    /// key -> index in `slots`
    index: BTreeMap<PageKey, usize>,
    hand: usize,
    /// Pages prefetched and not referenced since: their first reference
    /// leaves the bit clear, as a demand miss's insert does.
    unreferenced: BTreeSet<PageKey>,
    stats: PolicyStats,
}

impl Clock {
    pub fn new(capacity: usize) -> Self {
        Clock { capacity: capacity.max(1), slots: Vec::new(), index: BTreeMap::new(), hand: 0, unreferenced: BTreeSet::new(), stats: PolicyStats::default() }
    }

    /// Sweep to the first slot whose bit is clear, clearing bits on the way;
    /// returns its index. Ends within two turns (after one turn all bits are clear).
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

impl ReplacementPolicy for Clock {
    fn name(&self) -> &'static str {
        "clock"
    }
    fn capacity(&self) -> usize {
        self.capacity
    }
    fn len(&self) -> usize {
        self.index.len()
    }
    fn contains(&self, key: PageKey) -> bool {
        self.index.contains_key(&key)
    }

    fn access(&mut self, key: PageKey) -> Access {
        let result = if let Some(&i) = self.index.get(&key) {
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
        };
        self.stats.record(result);
        result
    }

    fn prefetch(&mut self, key: PageKey) -> Access {
        if self.contains(key) {
            return Access::Hit;
        }
        self.unreferenced.insert(key);
        self.access(key)
    }

    fn remove(&mut self, key: PageKey) -> bool {
        self.unreferenced.remove(&key);
        let Some(i) = self.index.remove(&key) else { return false };
        // Fill the hole with the last slot so the array stays dense.
        self.slots.swap_remove(i);
        if i < self.slots.len() {
            self.index.insert(self.slots[i].key, i);
        }
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
        true
    }

    fn stats(&self) -> PolicyStats {
        self.stats
    }
}
