//! The guest's page-granular read and write paths (`kernel/src/fs/cached.rs`, `CachedDisk`),
//! modelled on the host so replacement policies can be studied together with read-ahead,
//! write-back and the device requests they cost.
//!
//! Per page read (`CachedDisk::read_block`):
//!
//! 1. report the read to the device's [`block::Readahead`] (`on_read(page, 1)` if the page is
//!    cached, else `on_miss`), which may return a window to read ahead;
//! 2. look the page up with `PageCache::get` (a hit, or a miss);
//! 3. on a miss, insert the page;
//! 4. insert every page of the window that is not cached, through `insert_prefetched`.
//!
//! Per page write (`CachedDisk::write_block`): `get` (counted), on a miss an insert (a whole
//! page needs no read), `mark_dirty`; then, when the dirty pages exceed the dirty limit, all of
//! them are written back. [`ReadPath::sync`] writes back what is still dirty at the end.
//!
//! Every insert is a miss access to the policy (it may evict); a page read ahead and read later
//! is a hit then. The guest's read-ahead is asynchronous (pages enter the cache when their
//! request completes), but a read of a page still in flight waits for it and counts as a hit,
//! so inserting at once gives the same accesses, in the same order up to when completions land.
//! The hit ratio is the guest's: hits / (hits + misses) of `get`, the inserts not counted.
//!
//! Device requests, counted as the guest's request queue forms them: the pages of one batch
//! are submitted one page each, in block order, under a plug, so adjacent pages merge into one
//! request of at most [`max_request_pages`] pages (`QueueLimits`: 256 sectors). A batch is
//!
//! - a demand miss with the uncached pages of its window, or a window after a hit (reads);
//!   if the window evicted the demanded page before it was copied, the guest reads that page
//!   once more, uncached: one more request;
//! - the dirty pages the policy evicted during one read or write (the guest writes them before
//!   anything else is looked up; usually one page: one request);
//! - a write-back: every dirty page, in block order.
//!
//! Each request is also reported to the cache ([`PageCache::note_request`]), and the
//! read-ahead maximum and dirty limit are taken from [`PageCache::knobs`] before every page
//! read or write, so a managing policy sees what its knobs cost and the path follows them.

use block::{QueueLimits, Readahead, ReadaheadWindow};
use pagecache::{Evicted, Knobs, PageCache, PageKey, ReplacementPolicy};

/// Largest merged request in pages: the queue's default limit, 256 sectors of 512 bytes.
pub fn max_request_pages() -> u64 {
    u64::from(QueueLimits::default().max_sectors) * 512 / crate::trace::PAGE
}

/// One page read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageOp {
    pub write: bool,
    pub page: u64,
}

/// `ops` through a fresh cache of `policy` (see [`ReadPath::new`]), then a sync.
pub fn replay(ops: &[PageOp], policy: Box<dyn ReplacementPolicy>, readahead_max: u32, device_pages: u64) -> PathStats {
    let mut path = ReadPath::new(policy, readahead_max, device_pages);
    for op in ops {
        if op.write { path.write(op.page) } else { path.read(op.page) }
    }
    path.sync();
    path.stats()
}

/// Outcome of a replay.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PathStats {
    pub hit_ratio: f64,
    /// Pages inserted ahead of demand.
    pub readahead_pages: u64,
    pub read_requests: u64,
    pub write_requests: u64,
    pub pages_read: u64,
    pub pages_written: u64,
}

impl PathStats {
    pub fn device_requests(&self) -> u64 {
        self.read_requests + self.write_requests
    }
}

/// A page cache (payloads are not needed) on one device of `device_pages` pages.
pub struct ReadPath {
    cache: PageCache<()>,
    readahead: Option<Readahead>,
    /// What the guest is configured with; the policy may override it (`PageCache::knobs`).
    configured: Knobs,
    device_pages: u64,
    /// The pages of the batch being formed, and dirty pages evicted since the last write of them.
    batch: Vec<u64>,
    evicted_dirty: Vec<u64>,
    stats: PathStats,
}

impl ReadPath {
    /// Read-ahead windows of at most `readahead_max` pages (0: none) and write-back past half
    /// the cache, as the guest's `CachedDisk::new` sets them.
    pub fn new(policy: Box<dyn ReplacementPolicy>, readahead_max: u32, device_pages: u64) -> Self {
        let capacity = policy.capacity();
        ReadPath {
            cache: PageCache::new(policy),
            readahead: Readahead::for_cache(readahead_max, capacity),
            configured: Knobs::defaults(readahead_max, capacity),
            device_pages,
            batch: Vec::new(),
            evicted_dirty: Vec::new(),
            stats: PathStats::default(),
        }
    }

    /// `CachedDisk::read_block`.
    pub fn read(&mut self, page: u64) {
        let max = self.cache.knobs(self.configured).readahead_max;
        let present = self.cache.contains(key(page));
        let window = self.readahead.as_mut().and_then(|ra| {
            ra.set_max_pages(max);
            if present { ra.on_read(page, 1) } else { ra.on_miss(page, 1) }
        });
        self.batch.clear();
        let missed = self.cache.get(key(page)).is_none();
        if missed {
            self.batch.push(page);
            self.fill(page, false);
        }
        if let Some(w) = window {
            self.read_ahead(w);
        }
        submit(&mut self.cache, &mut self.stats, &self.batch, false);
        if missed && !self.cache.contains(key(page)) {
            submit(&mut self.cache, &mut self.stats, &[page], false);
        }
        self.write_evicted();
    }

    /// `CachedDisk::write_block`: the page is looked up and, if absent, inserted; no read-ahead.
    pub fn write(&mut self, page: u64) {
        if self.cache.get(key(page)).is_none() {
            self.fill(page, false);
        }
        self.cache.mark_dirty(key(page));
        self.write_evicted();
        if self.cache.dirty_count() > self.cache.knobs(self.configured).dirty_limit {
            self.write_back();
        }
    }

    /// `CachedDisk::sync`: every dirty page written back (the FLUSH carries no data and is not
    /// counted).
    pub fn sync(&mut self) {
        self.write_evicted();
        self.write_back();
    }

    pub fn stats(&self) -> PathStats {
        PathStats { hit_ratio: self.cache.stats().hit_ratio(), ..self.stats }
    }

    /// The uncached pages of `w` inside the device, inserted unreferenced and added to the batch.
    fn read_ahead(&mut self, w: ReadaheadWindow) {
        let end = w.start.saturating_add(u64::from(w.len)).min(self.device_pages);
        for ahead in w.start..end {
            if !self.cache.contains(key(ahead)) {
                self.batch.push(ahead);
                self.fill(ahead, true);
                self.stats.readahead_pages += 1;
            }
        }
    }

    fn fill(&mut self, page: u64, prefetched: bool) {
        let evicted =
            if prefetched { self.cache.insert_prefetched(key(page), ()) } else { self.cache.insert(key(page), ()) };
        if let Some(Evicted { key, dirty: true, .. }) = evicted {
            self.evicted_dirty.push(key.block);
        }
    }

    fn write_evicted(&mut self) {
        self.evicted_dirty.sort_unstable();
        submit(&mut self.cache, &mut self.stats, &self.evicted_dirty, true);
        self.evicted_dirty.clear();
    }

    fn write_back(&mut self) {
        let pages: Vec<u64> = self.cache.writeback().iter().map(|k| k.block).collect();
        submit(&mut self.cache, &mut self.stats, &pages, true);
    }
}

/// Counts the requests a plugged batch of one-page requests for `pages` (ascending) becomes:
/// each run of adjacent pages, split every [`max_request_pages`]; each is reported to `cache`.
fn submit(cache: &mut PageCache<()>, stats: &mut PathStats, pages: &[u64], write: bool) {
    let max = max_request_pages();
    let mut i = 0;
    while i < pages.len() {
        let mut n = 1;
        while i + n < pages.len() && (n as u64) < max && pages[i + n] == pages[i] + n as u64 {
            n += 1;
        }
        if write {
            stats.write_requests += 1;
            stats.pages_written += n as u64;
        } else {
            stats.read_requests += 1;
            stats.pages_read += n as u64;
        }
        cache.note_request(write, n as u32);
        i += n;
    }
}

fn key(block: u64) -> PageKey {
    PageKey::new(0, block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagecache::{POLICY_NAMES, by_name};

    fn path(policy: &str, cache: usize, ra: u32, device_pages: u64) -> ReadPath {
        ReadPath::new(by_name(policy, cache).unwrap(), ra, device_pages)
    }

    fn read_file_twice(policy: &str, cache: usize, file_pages: u64, ra: u32) -> PathStats {
        let mut r = path(policy, cache, ra, file_pages);
        for _ in 0..2 {
            for p in 0..file_pages {
                r.read(p);
            }
        }
        r.stats()
    }

    #[test]
    fn without_readahead_every_first_read_misses() {
        // 64 pages into a 256-page cache, twice: the first pass misses, one request a page,
        // the second hits.
        let s = read_file_twice("lru", 256, 64, 0);
        assert_eq!(s.hit_ratio, 0.5);
        assert_eq!((s.readahead_pages, s.read_requests, s.pages_read), (0, 64, 64));
    }

    #[test]
    fn sequential_reads_are_mostly_read_ahead() {
        // A file that fits: every page is inserted once, either demanded or read ahead. The
        // first page and the pages of the initial window's demand misses are the only misses.
        let s = read_file_twice("lru", 256, 64, 32);
        assert_eq!(s.readahead_pages, 63, "all but page 0 read ahead, none twice");
        assert!(s.hit_ratio > 0.99, "{s:?}");
        // Page 0 with 1..5, then windows of 8, 16, 32 and the last 3 pages.
        assert_eq!((s.read_requests, s.pages_read), (5, 64));
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
            let mut r = path(p, 2048, 32, 12_288);
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
        let mut r = path("lru", 64, 32, 10);
        for p in 0..10 {
            r.read(p);
        }
        let s = r.stats();
        assert_eq!(s.readahead_pages, 9);
        assert_eq!(s.hit_ratio, 0.9);
        assert_eq!((s.read_requests, s.pages_read), (2, 10), "0..5, then the window 5..10");
    }

    #[test]
    fn a_window_merges_with_its_miss_up_to_the_request_limit() {
        assert_eq!(max_request_pages(), 32);
        // Read-ahead of up to 64 pages: after the ramp, a 64-page window is two requests.
        let mut r = path("lru", 1024, 64, 1000);
        for p in 0..200 {
            r.read(p);
        }
        // Page 0 with its window 1..5 (one request), the windows 5..13, 13..29 and 29..61 (one
        // each), then 61..125, 125..189, 189..253 and 253..317 (two each).
        let s = r.stats();
        assert_eq!((s.read_requests, s.pages_read), (1 + 3 + 4 * 2, 317));
    }

    #[test]
    fn writes_are_written_back_in_merged_runs_past_the_dirty_limit() {
        // Cache 16: dirty limit 8. Pages 0..9 written: the 9th write passes the limit and all 9
        // go out as one request; page 20 and 22 then stay dirty until the sync (two requests).
        let mut r = path("lru", 16, 32, 100);
        for p in (0..9).chain([20, 22]) {
            r.write(p);
        }
        let s = r.stats();
        assert_eq!((s.write_requests, s.pages_written), (1, 9));
        assert_eq!((s.read_requests, s.pages_read), (0, 0), "whole-page writes read nothing");
        r.sync();
        let s = r.stats();
        assert_eq!((s.write_requests, s.pages_written), (3, 11));
        assert_eq!(s.hit_ratio, 0.0, "write misses are misses");
    }

    #[test]
    fn a_dirty_page_the_policy_evicts_is_written_on_its_own() {
        // LRU of 4 pages (dirty limit 2): page 0 written, then pages 10, 20, 30, 40 read (no
        // read-ahead): the read of 40 evicts dirty page 0, one write request. Re-reading page 0
        // is a miss and a read request.
        let mut r = path("lru", 4, 0, 100);
        r.write(0);
        for p in [10, 20, 30, 40, 0] {
            r.read(p);
        }
        let s = r.stats();
        assert_eq!((s.write_requests, s.pages_written), (1, 1));
        assert_eq!((s.read_requests, s.pages_read), (5, 5));
        assert_eq!(s.device_requests(), 6);
        r.sync();
        assert_eq!(r.stats().write_requests, 1, "nothing left dirty");
    }

    #[test]
    fn the_path_follows_the_managers_knobs() {
        use pagecache::manager::{DOWN, KEEP, Manager, UP};
        // Dirty limit raised to 3/4 of a 256-page cache: 150 dirty pages stay until the sync,
        // where the default (128) writes back at the 129th.
        let write_150 = |m: Manager| {
            let mut r = ReadPath::new(Box::new(m), 32, 10_000);
            for p in 0..150 {
                r.write(p * 2);
            }
            r.stats().write_requests
        };
        assert_eq!(write_150(Manager::new(256, 1)), 129);
        let mut m = Manager::new(256, 1);
        m.apply(KEEP, UP);
        assert_eq!(write_150(m), 0);
        // Read-ahead halved: a sequential read of 200 pages takes windows of at most 16.
        let read_200 = |m: Manager| {
            let mut r = ReadPath::new(Box::new(m), 32, 10_000);
            for p in 0..200 {
                r.read(p);
            }
            r.stats().read_requests
        };
        // Page 0 with 1..5, then a window at each mark: 1, 5, 13, then every 32 pages up to 189.
        assert_eq!(read_200(Manager::new(256, 1)), 1 + 3 + 6);
        let mut m = Manager::new(256, 1);
        m.apply(DOWN, KEEP);
        // The same up to 13, then every 16 pages up to 189.
        assert_eq!(read_200(m), 1 + 3 + 11);
    }

    #[test]
    fn rewriting_a_dirty_page_costs_nothing_until_write_back() {
        let mut r = path("arc", 64, 32, 100);
        for _ in 0..10 {
            r.write(7);
        }
        r.sync();
        let s = r.stats();
        assert_eq!((s.write_requests, s.pages_written, s.device_requests()), (1, 1, 1));
        assert_eq!(s.hit_ratio, 0.9);
    }
}
