//! From a slab's address to its descriptor: a fixed-capacity hash map.
//!
//! Linux finds a slab from an object through `struct page` (`virt_to_slab()`).
//! We have no per-page structure for slab memory, so freeing rounds the
//! object address down to its slab's base and looks the base up here.
//!
//! Open addressing with linear probing, at most half full (capacity is at
//! least twice the number of slabs, rounded up to a power of two), so probe
//! runs stay short. Removal shifts later entries of the run back instead of
//! leaving tombstones, so the table never degrades and never needs a rehash
//! -- nor an allocation after `new`.

use alloc::vec;
use alloc::vec::Vec;

/// Key of an empty slot: slab bases are page aligned, this is not.
const EMPTY: u64 = u64::MAX;

pub(crate) struct SlabMap {
    keys: Vec<u64>,
    values: Vec<u32>,
    len: usize,
    /// 64 - log2(capacity): Fibonacci hashing keeps the top bits.
    shift: u32,
}

impl SlabMap {
    /// A map for up to `max_entries` slabs.
    pub(crate) fn new(max_entries: usize) -> Self {
        let capacity = (max_entries * 2).next_power_of_two().max(8);
        Self {
            keys: vec![EMPTY; capacity],
            values: vec![0; capacity],
            len: 0,
            shift: 64 - capacity.ilog2(),
        }
    }

    fn mask(&self) -> usize {
        self.keys.len() - 1
    }

    /// The slot where the probe for `key` starts.
    fn home(&self, key: u64) -> usize {
        // Page numbers times 2^64/phi: consecutive pages spread evenly.
        ((key >> 12).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// The slot holding `key`, if present.
    fn find(&self, key: u64) -> Option<usize> {
        let mut slot = self.home(key);
        loop {
            match self.keys[slot] {
                k if k == key => return Some(slot),
                EMPTY => return None,
                _ => slot = (slot + 1) & self.mask(),
            }
        }
    }

    pub(crate) fn get(&self, key: u64) -> Option<u32> {
        self.find(key).map(|slot| self.values[slot])
    }

    /// Adds `key -> value`; `key` must not be present. Panics if the map is
    /// at its capacity (the caller bounds the number of slabs).
    pub(crate) fn insert(&mut self, key: u64, value: u32) {
        debug_assert_ne!(key, EMPTY);
        assert!(self.len * 2 < self.keys.len(), "slab map full");
        let mut slot = self.home(key);
        while self.keys[slot] != EMPTY {
            debug_assert_ne!(self.keys[slot], key, "slab {key:#x} inserted twice");
            slot = (slot + 1) & self.mask();
        }
        self.keys[slot] = key;
        self.values[slot] = value;
        self.len += 1;
    }

    /// Removes `key`, returning its value.
    pub(crate) fn remove(&mut self, key: u64) -> Option<u32> {
        let mut hole = self.find(key)?;
        let value = self.values[hole];
        // Backward-shift deletion: walk the rest of the probe run and move
        // back every entry whose home is not between the hole and itself
        // (cyclically), i.e. every entry the hole would hide from `find`.
        let mut slot = hole;
        loop {
            slot = (slot + 1) & self.mask();
            let k = self.keys[slot];
            if k == EMPTY {
                break;
            }
            let home = self.home(k);
            let reachable_without_hole = if hole <= slot {
                hole < home && home <= slot
            } else {
                hole < home || home <= slot
            };
            if !reachable_without_hole {
                self.keys[hole] = k;
                self.values[hole] = self.values[slot];
                hole = slot;
            }
        }
        self.keys[hole] = EMPTY;
        self.len -= 1;
        Some(value)
    }

    #[cfg(test)]
    pub(crate) fn buffers(&self) -> (*const u64, usize, *const u32, usize) {
        (
            self.keys.as_ptr(),
            self.keys.capacity(),
            self.values.as_ptr(),
            self.values.capacity(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_btreemap_under_random_churn() {
        // A small table and keys from a narrow range: long probe runs,
        // wrap-around at the end of the table, many collisions.
        let mut map = SlabMap::new(60);
        let mut reference = BTreeMap::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for step in 0..50_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = (x % 200) << 12;
            if reference.contains_key(&key) {
                assert_eq!(map.remove(key), reference.remove(&key));
            } else if reference.len() < 60 {
                map.insert(key, step);
                reference.insert(key, step);
            }
            if step % 97 == 0 {
                for k in (0..200u64).map(|p| p << 12) {
                    assert_eq!(map.get(k), reference.get(&k).copied(), "key {k:#x}");
                }
            }
        }
        assert_eq!(map.len, reference.len());
    }

    #[test]
    fn missing_keys_are_absent() {
        let mut map = SlabMap::new(4);
        assert_eq!(map.get(0x1000), None);
        assert_eq!(map.remove(0x1000), None);
        map.insert(0, 7);
        assert_eq!(map.get(0), Some(7));
        assert_eq!(map.remove(0), Some(7));
        assert_eq!(map.get(0), None);
    }
}
