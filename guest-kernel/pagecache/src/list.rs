//! Ordered key sets shared by the policies: a recency list (LRU order) and a
//! frequency index (LFU order). Both are two `BTreeMap`s, so every operation
//! is O(log n) and needs only `Ord` on `PageKey` (no hashing in `no_std`).

use alloc::collections::BTreeMap;

use crate::PageKey;

/// Keys in recency order: `push_mru` puts a key at the most-recent end,
/// `pop_lru` takes the least recent. A key appears at most once.
#[derive(Clone, Debug, Default)]
pub struct RecencyList {
    by_stamp: BTreeMap<u64, PageKey>,
    by_key: BTreeMap<PageKey, u64>,
    clock: u64,
}

impl RecencyList {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn contains(&self, key: PageKey) -> bool {
        self.by_key.contains_key(&key)
    }

    /// Insert `key` as most recent, moving it if already present.
    pub fn push_mru(&mut self, key: PageKey) {
        self.remove(key);
        self.clock += 1;
        self.by_stamp.insert(self.clock, key);
        self.by_key.insert(key, self.clock);
    }

    /// Remove `key`; false if it was absent.
    pub fn remove(&mut self, key: PageKey) -> bool {
        match self.by_key.remove(&key) {
            Some(stamp) => {
                self.by_stamp.remove(&stamp);
                true
            }
            None => false,
        }
    }

    /// Remove and return the least recently pushed key.
    pub fn pop_lru(&mut self) -> Option<PageKey> {
        let (_, key) = self.by_stamp.pop_first()?;
        self.by_key.remove(&key);
        Some(key)
    }

    /// The least recent key, without removing it.
    pub fn peek_lru(&self) -> Option<PageKey> {
        self.by_stamp.first_key_value().map(|(_, k)| *k)
    }

    /// Keys from least to most recent.
    pub fn iter_lru(&self) -> impl Iterator<Item = PageKey> + '_ {
        self.by_stamp.values().copied()
    }
}

/// Keys ordered by (access count, last access), least frequent first; ties
/// broken by recency (the older one goes first), as LeCaR's LFU does.
#[derive(Clone, Debug, Default)]
pub struct FrequencyIndex {
    order: BTreeMap<(u64, u64), PageKey>,
    by_key: BTreeMap<PageKey, (u64, u64)>,
    clock: u64,
}

impl FrequencyIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `key`'s count to `freq` (and mark it as most recently touched).
    pub fn set(&mut self, key: PageKey, freq: u64) {
        self.remove(key);
        self.clock += 1;
        self.order.insert((freq, self.clock), key);
        self.by_key.insert(key, (freq, self.clock));
    }

    /// Count one more access to `key` (starting at 1 if absent); returns the count.
    pub fn bump(&mut self, key: PageKey) -> u64 {
        let f = self.freq(key).unwrap_or(0) + 1;
        self.set(key, f);
        f
    }

    pub fn freq(&self, key: PageKey) -> Option<u64> {
        self.by_key.get(&key).map(|(f, _)| *f)
    }

    pub fn remove(&mut self, key: PageKey) -> Option<u64> {
        let (f, stamp) = self.by_key.remove(&key)?;
        self.order.remove(&(f, stamp));
        Some(f)
    }

    /// The least frequently used key (oldest among equals).
    pub fn peek_lfu(&self) -> Option<PageKey> {
        self.order.first_key_value().map(|(_, k)| *k)
    }
}
