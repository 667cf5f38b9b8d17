//! CLOCK, the "second chance" approximation of LRU (F. J. Corbató, "A paging
//! experiment with the Multics system", MIT Project MAC, 1968).
//!
//! Resident pages sit in a circular array with one reference bit each. A hit
//! only sets the bit (cheap: no list manipulation, which is why kernels use
//! it). To evict, the hand sweeps: a page with its bit set gets a second
//! chance (bit cleared, hand moves on); the first page found with a clear bit
//! is the victim and its slot takes the new page. A new page enters with its
//! bit clear, so a page must be re-referenced to earn its second chance.

use crate::index::{Keyed, KeyedVec, PackedKey, Vacancy};
use crate::{Access, PageKey, PolicyStats, ReplacementPolicy};

struct Slot {
    key: PackedKey,
    referenced: bool,
    /// Prefetched and not referenced since: its first reference leaves the
    /// bit clear, as a demand miss's insert does.
    unreferenced: bool,
}

impl Slot {
    fn new(key: PageKey, unreferenced: bool) -> Self {
        Slot { key: PackedKey::new(key), referenced: false, unreferenced }
    }
}

impl Keyed for Slot {
    fn key(&self) -> PageKey {
        self.key.get()
    }
}

pub struct Clock {
    capacity: usize,
    /// The ring, indexed by key.
    slots: KeyedVec<Slot>,
    hand: usize,
    stats: PolicyStats,
}

impl Clock {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Clock { capacity, slots: KeyedVec::new(capacity), hand: 0, stats: PolicyStats::default() }
    }

    /// Sweep to the first slot whose bit is clear, clearing bits on the way;
    /// returns its index. Ends within two turns (after one turn all bits are clear).
    fn find_victim(&mut self) -> usize {
        let slots = self.slots.items_mut();
        loop {
            let i = self.hand;
            self.hand = (self.hand + 1) % slots.len();
            if slots[i].referenced {
                slots[i].referenced = false;
            } else {
                return i;
            }
        }
    }

    /// A miss on `key` (its place in the index `v`): a free slot while the
    /// ring is not full, else the victim's.
    fn insert(&mut self, v: Vacancy, key: PageKey, unreferenced: bool) -> Access {
        if self.slots.len() < self.capacity {
            self.slots.push(v, Slot::new(key, unreferenced));
            return Access::Miss { evicted: None };
        }
        let i = self.find_victim();
        let victim = self.slots.replace(v, i, Slot::new(key, unreferenced));
        Access::Miss { evicted: Some(victim.key()) }
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
        self.slots.len()
    }
    fn contains(&self, key: PageKey) -> bool {
        self.slots.find(key).is_ok()
    }

    fn access(&mut self, key: PageKey) -> Access {
        let result = match self.slots.find(key) {
            Ok(i) => {
                let slot = &mut self.slots.items_mut()[i];
                slot.referenced = !slot.unreferenced;
                slot.unreferenced = false;
                Access::Hit
            }
            Err(v) => self.insert(v, key, false),
        };
        self.stats.record(result);
        result
    }

    fn prefetch(&mut self, key: PageKey) -> Access {
        let Err(v) = self.slots.find(key) else { return Access::Hit };
        let result = self.insert(v, key, true);
        self.stats.record(result);
        result
    }

    fn remove(&mut self, key: PageKey) -> bool {
        // The last slot fills the hole so the ring stays dense.
        let Ok(i) = self.slots.find(key) else { return false };
        self.slots.swap_remove(i);
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
        true
    }

    fn stats(&self) -> PolicyStats {
        self.stats
    }
    fn metadata_bytes(&self) -> usize {
        size_of::<Self>() + self.slots.bytes()
    }
    #[cfg(test)]
    fn check_invariants(&self) {
        self.slots.check();
        assert!(self.slots.len() <= self.capacity);
        assert!(self.hand < self.slots.len().max(1), "hand {} past the ring", self.hand);
    }
}
