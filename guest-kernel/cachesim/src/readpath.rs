//! The guest's page-granular read path (`ferrite/src/fs/cached.rs`, `CachedDisk::read_block`),
//! modelled on the host so replacement policies can be studied together with read-ahead.
//!
//! Per page read, as the guest does it:
//!
//! 1. report the read to the device's [`block::Readahead`] (`on_read(page, 1)` if the page is
//!    cached, else `on_miss`), which may return a window to read ahead;
//! 2. look the page up with `PageCache::get` (a hit, or a miss);
//! 3. on a miss, insert the page;
//! 4. insert every page of the window that is not cached (the guest reads them with the
//!    demanded page, adjacent pages merged into one request).
//!
//! Every insert is a miss access to the policy (it may evict), read-ahead pages through
//! `insert_prefetched` (unreferenced until read); a page read ahead and read later is a hit
//! then. The guest's read-ahead is asynchronous (pages enter the cache when their request
//! completes), but a read of a page still in flight waits for it and counts as a hit, so
//! inserting at once gives the same accesses, in the same order up to when completions land.
//! The hit ratio is the guest's: hits / (hits + misses) of `get`, the inserts not counted.
//!
//! Writes (`W` in the trace) are the guest's `write_block`: a `get` (counted) plus an insert on
//! a miss, without read-ahead. Write-back does not touch the policy, so it is not modelled.

use block::Readahead;
use pagecache::{PageCache, PageKey, ReplacementPolicy};

/// Outcome of a replay.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReadStats {
    pub hit_ratio: f64,
    /// Pages inserted ahead of demand.
    pub readahead_pages: u64,
}

/// A page cache (payloads are not needed) on one device of `device_pages` pages.
pub struct ReadPath {
    cache: PageCache<()>,
    readahead: Option<Readahead>,
    device_pages: u64,
    readahead_pages: u64,
}

impl ReadPath {
    pub fn new(policy: Box<dyn ReplacementPolicy>, readahead: Option<Readahead>, device_pages: u64) -> Self {
        ReadPath { cache: PageCache::new(policy), readahead, device_pages, readahead_pages: 0 }
    }

    /// `CachedDisk::read_block`.
    pub fn read(&mut self, page: u64) {
        let present = self.cache.contains(key(page));
        let window =
            self.readahead.as_mut().and_then(|ra| if present { ra.on_read(page, 1) } else { ra.on_miss(page, 1) });
        if self.cache.get(key(page)).is_none() {
            self.cache.insert(key(page), ());
        }
        if let Some(w) = window {
            let end = w.start.saturating_add(u64::from(w.len)).min(self.device_pages);
            for ahead in w.start..end {
                if !self.cache.contains(key(ahead)) {
                    self.cache.insert_prefetched(key(ahead), ());
                    self.readahead_pages += 1;
                }
            }
        }
    }

    /// A write: the page is looked up and, if absent, inserted; no read-ahead.
    pub fn write(&mut self, page: u64) {
        if self.cache.get(key(page)).is_none() {
            self.cache.insert(key(page), ());
        }
    }

    pub fn stats(&self) -> ReadStats {
        ReadStats { hit_ratio: self.cache.stats().hit_ratio(), readahead_pages: self.readahead_pages }
    }
}

fn key(block: u64) -> PageKey {
    PageKey::new(0, block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagecache::{POLICY_NAMES, by_name};

    fn read_file_twice(policy: &str, cache: usize, file_pages: u64, ra: u32) -> ReadStats {
        let mut r = ReadPath::new(by_name(policy, cache).unwrap(), Readahead::for_cache(ra, cache), file_pages);
        for _ in 0..2 {
            for p in 0..file_pages {
                r.read(p);
            }
        }
        r.stats()
    }

    #[test]
    fn without_readahead_every_first_read_misses() {
        // 64 pages into a 256-page cache, twice: the first pass misses, the second hits.
        let s = read_file_twice("lru", 256, 64, 0);
        assert_eq!(s, ReadStats { hit_ratio: 0.5, readahead_pages: 0 });
    }

    #[test]
    fn sequential_reads_are_mostly_read_ahead() {
        // A file that fits: every page is inserted once, either demanded or read ahead. The
        // first page and the pages of the initial window's demand misses are the only misses.
        let s = read_file_twice("lru", 256, 64, 32);
        assert_eq!(s.readahead_pages, 63, "all but page 0 read ahead, none twice");
        assert!(s.hit_ratio > 0.99, "{s:?}");
        // Larger than the cache (the guest's 3 MiB file, 256-page cache): read-ahead still turns
        // sequential misses into hits, for every policy that keeps read-ahead pages until used.
        for p in POLICY_NAMES {
            let s = read_file_twice(p, 256, 768, 32);
            assert!(s.readahead_pages >= 2 * 768 - 8, "{p}: {s:?}");
            println!("{p}: {s:?}");
            assert!(s.hit_ratio > 0.95, "{p}: {s:?}");
        }
    }

    #[test]
    fn random_file_reads_read_little_ahead_with_every_policy() {
        // ext2 random reads of a 32 MiB file into a 2048-page cache kept warm, the same
        // sequence three times (the guest's `randread ... keep_cache=1`): each lookup reads the
        // inode table block, the double-indirect block (1817), one of the indirect blocks under
        // it (1818 + 1025 k, each followed by the data blocks it maps), then a data block. The
        // cached pair 1817 -> 1818 is sequential; it must not read 1819.. ahead on every lookup
        // (LeCaR evicted those never-read pages first and read them again, up to ~2000 a pass).
        for p in POLICY_NAMES {
            let mut r = ReadPath::new(by_name(p, 2048).unwrap(), Readahead::for_cache(32, 2048), 12_288);
            for _ in 0..3 {
                let mut rng = pagecache::rng::XorShift64::new(1);
                for _ in 0..4096 {
                    let x = rng.next_u64();
                    let ind = 1818 + 1025 * (x % 8);
                    for page in [5, 1817, ind, ind + 1 + (x >> 3) % 1024] {
                        r.read(page);
                    }
                }
            }
            let s = r.stats();
            assert!(s.readahead_pages <= 50, "{p}: {s:?}");
        }
    }

    #[test]
    fn readahead_stops_at_the_end_of_the_device() {
        let mut r = ReadPath::new(by_name("lru", 64).unwrap(), Readahead::for_cache(32, 64), 10);
        for p in 0..10 {
            r.read(p);
        }
        let s = r.stats();
        assert_eq!(s.readahead_pages, 9);
        assert_eq!(s.hit_ratio, 0.9);
    }
}
