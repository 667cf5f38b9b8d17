//! The page index: an open-addressing hash table from `PageKey` to a slot
//! number in its owner's storage, the role the mapping's xarray plays in
//! Linux. Robin Hood hashing (P. Celis, P.-A. Larson, J. I. Munro, FOCS '85)
//! with linear probing and deletion by backward shift, so there are no
//! tombstones. The number of keys is bounded at creation and the table
//! never grows: after `new` nothing allocates. Its size is chosen by the
//! owner as keys plus spare entries: the emptier, the shorter the probes and
//! the shifts that insertion and deletion make (at half full, about one
//! entry moves per operation; at 3/4, five).
//!
//! An entry is 8 bytes, 32 bits of the key's hash and the slot; the key
//! itself lives in the owner's storage (read through `key_of`), so a probe
//! compares hashes and reads a key only on a 32-bit match. The home of an
//! entry is its hash scaled to the table size (multiply-shift, D. Lemire,
//! "A fast alternative to the modulo reduction", 2016), so the size need not
//! be a power of two.
//!
//! A miss hands back where the key would go ([`Vacancy`]), so the insert
//! that follows does not probe again; a key leaves by its hash and slot
//! (a slot holds one key), so removal reads no keys.

use alloc::vec;
use alloc::vec::Vec;

use crate::PageKey;

/// A key's 32-bit hash: splitmix64's finaliser (G. L. Steele, D. Lea,
/// C. H. Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// '14) over the block, the device folded in first; its top half.
pub fn hash(key: PageKey) -> u32 {
    let mut z = key.block ^ u64::from(key.dev).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 32) as u32
}

const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Entry {
    hash: u32,
    /// The owner's slot, EMPTY for a free entry.
    slot: u32,
}

const FREE: Entry = Entry { hash: 0, slot: EMPTY };

/// Where an absent key goes, from the lookup that missed it: good until
/// the index next changes.
#[must_use]
pub struct Vacancy {
    pos: usize,
    hash: u32,
}

pub struct PageIndex {
    entries: Vec<Entry>,
    len: usize,
}

impl PageIndex {
    /// Room for `max_keys` keys with `spare` entries left free, one more
    /// key for a moment (a key taking another's slot is indexed before the
    /// other leaves), and always one free entry, which ends every probe.
    pub fn new(max_keys: usize, spare: usize) -> Self {
        let size = max_keys + spare + 2;
        assert!(size < EMPTY as usize, "page index of {max_keys} keys");
        PageIndex { entries: vec![FREE; size], len: 0 }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes allocated.
    pub fn bytes(&self) -> usize {
        self.entries.capacity() * size_of::<Entry>()
    }

    fn home(&self, hash: u32) -> usize {
        ((u64::from(hash) * self.entries.len() as u64) >> 32) as usize
    }

    /// How far entry `i` (holding `hash`) is from its home.
    fn distance(&self, i: usize, hash: u32) -> usize {
        let home = self.home(hash);
        if i >= home { i - home } else { i + self.entries.len() - home }
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.entries.len() { 0 } else { i + 1 }
    }

    /// The slot of `key`, whose owner's key at slot `s` is `key_of(s)`;
    /// or where to insert it.
    pub fn find(&self, key: PageKey, key_of: impl Fn(u32) -> PageKey) -> Result<u32, Vacancy> {
        let h = hash(key);
        let mut i = self.home(h);
        let mut d = 0;
        loop {
            let e = self.entries[i];
            // Robin Hood order: once entries are closer to home than we
            // would be here, the key is absent, and this is its place.
            if e.slot == EMPTY || self.distance(i, e.hash) < d {
                return Err(Vacancy { pos: i, hash: h });
            }
            if e.hash == h && key_of(e.slot) == key {
                return Ok(e.slot);
            }
            i = self.next(i);
            d += 1;
        }
    }

    /// Adds the key that missed at `v`, at `slot`: the entries from its
    /// place to the next free one move one step on (they stay ordered by home).
    pub fn insert(&mut self, v: Vacancy, slot: u32) {
        assert!(self.len + 1 < self.entries.len(), "page index full");
        let mut carried = Entry { hash: v.hash, slot };
        let mut i = v.pos;
        loop {
            carried = core::mem::replace(&mut self.entries[i], carried);
            if carried.slot == EMPTY {
                break;
            }
            i = self.next(i);
        }
        self.len += 1;
    }

    /// The position of `key`'s entry, which points at `slot`.
    fn position(&self, key: PageKey, slot: u32) -> usize {
        let h = hash(key);
        let mut i = self.home(h);
        while self.entries[i].hash != h || self.entries[i].slot != slot {
            assert!(self.entries[i].slot != EMPTY, "{key:?} is not indexed");
            i = self.next(i);
        }
        i
    }

    /// Removes `key`, indexed at `slot`. (If a second key was just indexed
    /// at the same slot with the same hash, either entry may go: they are
    /// the same.)
    pub fn remove(&mut self, key: PageKey, slot: u32) {
        let mut i = self.position(key, slot);
        // Backward shift: the entries after it that are away from home
        // move one step back, so no probe sequence has a hole.
        loop {
            let j = self.next(i);
            let e = self.entries[j];
            if e.slot == EMPTY || self.distance(j, e.hash) == 0 {
                break;
            }
            self.entries[i] = e;
            i = j;
        }
        self.entries[i] = FREE;
        self.len -= 1;
    }

    /// Points `key` from slot `from` to slot `to`.
    pub fn move_slot(&mut self, key: PageKey, from: u32, to: u32) {
        let i = self.position(key, from);
        self.entries[i].slot = to;
    }

    /// Every slot indexed, in table order (for invariant checks).
    #[cfg(test)]
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.entries.iter().filter(|e| e.slot != EMPTY).map(|e| e.slot)
    }
}

/// A `u64` in two `u32` words, so that it aligns to 4 and a node of `u32`
/// fields holding one has no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packed64([u32; 2]);

impl Packed64 {
    pub fn new(v: u64) -> Self {
        Packed64([v as u32, (v >> 32) as u32])
    }
    pub fn get(self) -> u64 {
        u64::from(self.0[0]) | u64::from(self.0[1]) << 32
    }
}

/// A `PageKey` in 12 bytes (`PageKey` is 16, 4 of them padding), for the
/// nodes policies keep per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedKey {
    dev: u32,
    block: Packed64,
}

impl PackedKey {
    pub fn new(key: PageKey) -> Self {
        PackedKey { dev: key.dev, block: Packed64::new(key.block) }
    }
    pub fn get(self) -> PageKey {
        PageKey::new(self.dev, self.block.get())
    }
}

/// Something stored under a key.
pub trait Keyed {
    fn key(&self) -> PageKey;
}

impl Keyed for PackedKey {
    fn key(&self) -> PageKey {
        self.get()
    }
}

/// Items kept densely in a vector and found by key: the page cache's pages,
/// CLOCK's ring, a set of keys. Removal moves the last item into the hole.
/// At most `capacity` items, fixed at creation; the index at most half full.
pub struct KeyedVec<V> {
    index: PageIndex,
    items: Vec<V>,
}

impl<V: Keyed> KeyedVec<V> {
    pub fn new(capacity: usize) -> Self {
        KeyedVec { index: PageIndex::new(capacity, capacity), items: Vec::with_capacity(capacity) }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn bytes(&self) -> usize {
        self.index.bytes() + self.items.capacity() * size_of::<V>()
    }

    pub fn items(&self) -> &[V] {
        &self.items
    }

    pub fn items_mut(&mut self) -> &mut [V] {
        &mut self.items
    }

    /// Where the item with `key` is, or where its key would go.
    pub fn find(&self, key: PageKey) -> Result<usize, Vacancy> {
        self.index.find(key, |s| self.items[s as usize].key()).map(|s| s as usize)
    }

    /// Adds `item`, whose key missed at `v`; returns where it went.
    pub fn push(&mut self, v: Vacancy, item: V) -> usize {
        assert!(self.items.len() < self.items.capacity(), "keyed vector full");
        let i = self.items.len();
        self.index.insert(v, i as u32);
        self.items.push(item);
        i
    }

    /// Puts `item`, whose key missed at `v`, in place of item `i`, returned.
    pub fn replace(&mut self, v: Vacancy, i: usize, item: V) -> V {
        self.index.insert(v, i as u32);
        self.index.remove(self.items[i].key(), i as u32);
        core::mem::replace(&mut self.items[i], item)
    }

    /// Removes the item at `i`, the last item taking its place.
    pub fn swap_remove(&mut self, i: usize) -> V {
        self.index.remove(self.items[i].key(), i as u32);
        let last = self.items.len() - 1;
        if i != last {
            self.index.move_slot(self.items[last].key(), last as u32, i as u32);
        }
        self.items.swap_remove(i)
    }

    /// Checks that every item is indexed once, where it is.
    #[cfg(test)]
    pub fn check(&self) {
        assert_eq!(self.index.len(), self.items.len(), "items indexed");
        for (i, item) in self.items.iter().enumerate() {
            assert_eq!(self.find(item.key()).ok(), Some(i), "item {i} indexed under its key");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::XorShift64;
    use alloc::collections::BTreeMap;

    #[test]
    fn matches_a_map_under_random_operations() {
        for seed in 1..=4u64 {
            let mut rng = XorShift64::new(seed);
            let cap = 1 + rng.below(300) as usize;
            // The owner's storage: slot -> key, kept dense as KeyedVec does.
            let mut keys: Vec<PageKey> = Vec::new();
            let mut index = PageIndex::new(cap, cap / 3);
            let mut model: BTreeMap<PageKey, u32> = BTreeMap::new();
            for step in 0..20_000 {
                let key = PageKey::new(rng.below(3) as u32, rng.below(cap as u64 * 2));
                let found = index.find(key, |s| keys[s as usize]);
                assert_eq!(found.as_ref().ok(), model.get(&key), "seed {seed} step {step}");
                match found {
                    Ok(slot) => {
                        index.remove(key, slot);
                        model.remove(&key);
                        let last = keys.len() as u32 - 1;
                        if slot != last {
                            index.move_slot(keys[last as usize], last, slot);
                            model.insert(keys[last as usize], slot);
                        }
                        keys.swap_remove(slot as usize);
                    }
                    Err(v) if model.len() < cap => {
                        index.insert(v, keys.len() as u32);
                        model.insert(key, keys.len() as u32);
                        keys.push(key);
                    }
                    Err(_) => {}
                }
                assert_eq!(index.len(), model.len(), "seed {seed} step {step}");
            }
            let mut slots: Vec<u32> = index.slots().collect();
            slots.sort_unstable();
            assert_eq!(slots, (0..keys.len() as u32).collect::<Vec<_>>(), "seed {seed}: every key indexed once");
        }
    }

    #[test]
    fn sized_as_asked() {
        assert_eq!(PageIndex::new(3000, 1000).entries.len(), 4002);
        assert_eq!(PageIndex::new(1, 0).entries.len(), 3);
    }
}
