//! [`CachedDisk`]: a block device of 4 KiB pages cached in a
//! `pagecache::PageCache<DmaBuf>`, with ferrite's block layer between the
//! page cache and the virtio-blk driver.
//!
//! The read path, after Linux's `filemap_read` → `page_cache_ra_*` →
//! `submit_bio` → blk-mq:
//!
//! 1. `read_block` reports the read to the per-device `block::Readahead`,
//!    which may return a window of pages to read ahead, then looks the page
//!    up in the page cache.
//! 2. A miss allocates a buffer for the demanded page and for each page of
//!    the window that is neither cached nor being read, and submits one
//!    single-page `block::Request` per page under a plug: the request queue
//!    merges adjacent pages into one request, whose `BufRef`s are those
//!    buffers. A window after a hit is read the same way.
//! 3. On unplug the queue dispatches (scheduler `none` or `deadline`); each
//!    request becomes one virtio-blk request whose descriptors point at the
//!    page buffers themselves. The device writes into the pages that enter
//!    the cache: no bytes are copied between the layers.
//! 4. Read-ahead is asynchronous: its requests stay in flight while the
//!    caller goes on, and enter the cache when they complete (completions
//!    are collected on every call). Reading a page still in flight waits for
//!    that page only, and counts as a hit: read-ahead did its job.
//!
//! The write path, after Linux's write-back:
//!
//! - `write_block` copies into the cached page (a whole page needs no read)
//!   and marks it dirty;
//! - [`CachedDisk::write_back`] takes every dirty page, in block order, and
//!   submits one single-page write per page under a plug, so adjacent pages
//!   merge into large writes; each page's buffer is lent to the device (the
//!   cache holds `None` for it) and comes back when its write completes;
//!   `write_block` calls it when dirty pages pass half the cache (Linux's
//!   `balance_dirty_pages`), [`CachedDisk::sync`] calls it and then sends a
//!   FLUSH, and dropping a `CachedDisk` syncs;
//! - a dirty page the policy evicts is written before anything else is
//!   looked up, so a read never sees the device's stale copy.
//!
//! The driver keeps up to its slot count of requests in flight; a request
//! it cannot take yet (no slot or descriptors) waits in `stalled` and goes
//! first when completions free room. One notification per dispatch batch,
//! and only if the device asked for it (event idx).
//!
//! A `CachedDisk` may serve several measurements in turn (the file
//! workloads' `keep_cache=1`): [`CachedDisk::new_run`] starts the counters
//! from zero while the cached pages stay.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use block::{BufRef, QueueLimits, QueueStats, Readahead, ReadaheadWindow, RequestQueue, SchedulerKind};
use pagecache::{PageCache, PageCacheStats, PageKey};
use virtio_core::blk::{Op, SECTOR_SIZE};

use crate::platform;
use crate::virtio::blk::{self, BlkDevice, BlkError, BlkStats, Completion};
use crate::virtio::dma::DmaBuf;
use crate::virtio::{Claimed, DEVICE_TIMEOUT_NS, Spin};

pub const PAGE_SIZE: usize = 4096;
const SECTORS_PER_PAGE: u64 = PAGE_SIZE as u64 / SECTOR_SIZE;

/// Why a [`CachedDisk`] operation failed.
pub enum DiskError {
    /// The driver or the device refused a read or write.
    Device(BlkError),
    /// No memory for a page buffer.
    OutOfMemory,
    /// A block beyond the device, or a buffer that is not one page.
    BadRequest { block: u64, len: usize },
    /// A write to a read-only device.
    ReadOnly,
}

// By hand rather than derived: ext2's errors print it with `{:?}`, and this
// reads as one clear phrase.
impl core::fmt::Debug for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DiskError::Device(e) => write!(f, "virtio-blk: {e}"),
            DiskError::OutOfMemory => f.write_str("out of memory for page-cache buffers"),
            DiskError::BadRequest { block, len } => write!(f, "bad access to block {block} ({len} bytes)"),
            DiskError::ReadOnly => f.write_str("the disk is read-only"),
        }
    }
}

impl From<BlkError> for DiskError {
    fn from(e: BlkError) -> Self {
        DiskError::Device(e)
    }
}

/// This disk's own counters (the cache's are in [`PageCacheStats`], the block
/// layer's in [`QueueStats`], the device's in [`CachedDisk::device_stats`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskStats {
    /// Pages read ahead of demand (beyond the page asked for).
    pub readahead_pages: u64,
    /// Most requests the device held at once.
    pub max_in_flight: u64,
    /// Write-back rounds (`write_back` calls that found dirty pages).
    pub writeback_rounds: u64,
    /// Of those, rounds forced by the dirty limit.
    pub throttled_rounds: u64,
    /// Dirty pages written because the policy evicted them.
    pub evicted_dirty_pages: u64,
}

/// A cached page's buffer; `None` while it is lent to the device for
/// write-back (never visible outside `write_back`, which waits for it).
type Frame = Option<DmaBuf>;

fn lent_page() -> ! {
    unreachable!("a page's buffer is lent only inside write_back, which waits for it to return")
}

pub struct CachedDisk {
    dev: Claimed<BlkDevice>,
    queue: RequestQueue,
    cache: PageCache<Frame>,
    readahead: Option<Readahead>,
    /// `readahead_max` as given to `new` (a new run starts read-ahead afresh).
    readahead_max: u32,
    pages: u64,
    /// Page buffers between `RequestQueue::submit` and dispatch, by address.
    queued_bufs: BTreeMap<u64, DmaBuf>,
    /// Pages being read (queued or at the device).
    reading: BTreeSet<u64>,
    /// Of those, the pages read ahead of demand (they enter the cache
    /// unreferenced: `PageCache::insert_prefetched`).
    ahead: BTreeSet<u64>,
    /// A request the driver had no room for yet; it goes first next time.
    stalled: Option<blk::Request>,
    /// Pages whose read failed, with the error for whoever waits for them.
    failed: BTreeMap<u64, BlkError>,
    /// Dirty pages the policy evicted, to be written before anything else.
    evicted_dirty: Vec<(u64, DmaBuf)>,
    /// Pages being written (queued or at the device).
    writing: usize,
    /// The first write that failed since the last `write_back` returned.
    write_error: Option<BlkError>,
    /// Dirty pages allowed before `write_block` writes them back.
    dirty_limit: usize,
    completions: Vec<Completion>,
    stats: DiskStats,
    /// The driver's counters when this disk was opened.
    device_base: BlkStats,
}

impl CachedDisk {
    /// `readahead_max` pages at most per window (0: no read-ahead).
    pub fn new(
        dev: Claimed<BlkDevice>,
        policy: &str,
        cache_pages: usize,
        readahead_max: u32,
        scheduler: SchedulerKind,
    ) -> Result<Self, String> {
        let cache = PageCache::with_policy(policy, cache_pages.max(1))
            .ok_or_else(|| format!("cache={policy:?}: one of {:?}", pagecache::POLICY_NAMES))?;
        let pages = dev.limits.capacity_bytes() / PAGE_SIZE as u64;
        let readahead = Readahead::for_cache(readahead_max, cache_pages);
        // A merged request may hold as many pages as the device takes
        // descriptors (each page is `segments(PAGE_SIZE)` of them).
        let per_page = dev.limits.segments(PAGE_SIZE as u64).max(1);
        let max_segments = (dev.max_segments() / per_page).max(1) as usize;
        let defaults = QueueLimits::default();
        let limits = QueueLimits {
            max_sectors: defaults.max_sectors.min((max_segments as u64 * SECTORS_PER_PAGE) as u32),
            max_segments: defaults.max_segments.min(max_segments),
        };
        let device_base = dev.stats;
        Ok(Self {
            dev,
            queue: RequestQueue::new(limits, scheduler),
            cache,
            readahead,
            readahead_max,
            pages,
            queued_bufs: BTreeMap::new(),
            reading: BTreeSet::new(),
            ahead: BTreeSet::new(),
            stalled: None,
            failed: BTreeMap::new(),
            evicted_dirty: Vec::new(),
            writing: 0,
            write_error: None,
            dirty_limit: (cache_pages / 2).max(1),
            completions: Vec::new(),
            stats: DiskStats::default(),
            device_base,
        })
    }

    pub fn policy(&self) -> &'static str {
        self.cache.policy_name()
    }
    pub fn capacity(&self) -> usize {
        self.cache.capacity()
    }
    pub fn cache_stats(&self) -> PageCacheStats {
        self.cache.stats()
    }
    pub fn disk_stats(&self) -> DiskStats {
        self.stats
    }
    /// The virtio-blk device underneath.
    pub fn device(&self) -> &BlkDevice {
        &self.dev
    }
    /// The driver's counters since this disk was opened.
    pub fn device_stats(&self) -> BlkStats {
        self.dev.stats.since(&self.device_base)
    }
    pub fn queue_stats(&self) -> QueueStats {
        self.queue.stats()
    }
    pub fn scheduler(&self) -> &'static str {
        self.queue.scheduler().name()
    }
    /// Pages in the cache now.
    pub fn resident_pages(&self) -> usize {
        self.cache.len()
    }

    /// Starts a new measurement on this (warm) cache: read-ahead still in
    /// flight lands first, then the cache's, the queue's, this disk's and the
    /// driver's counters start from zero, and read-ahead forgets the streams
    /// it has seen. The cached pages stay.
    pub fn new_run(&mut self) {
        self.wait_idle();
        self.cache.reset_stats();
        self.queue.reset_stats();
        self.stats = DiskStats::default();
        self.device_base = self.dev.stats;
        self.readahead = Readahead::for_cache(self.readahead_max, self.cache.capacity());
    }

    /// Starts reading the `demand`ed page (uncached, not being read) and
    /// every page of `window` inside the device that is neither cached nor
    /// being read (as Linux's read-ahead skips cached pages and reads the
    /// rest): one page request each under a plug, so the queue merges the
    /// adjacent ones. Running out of memory ends the read-ahead early; it is
    /// an error only if the demanded page gets no buffer.
    fn start_reads(&mut self, demand: Option<u64>, window: Option<ReadaheadWindow>) -> Result<(), DiskError> {
        let now = platform::now_ns();
        self.queue.plug();
        if let Some(page) = demand {
            let Some(buf) = DmaBuf::new(PAGE_SIZE) else {
                self.queue.unplug();
                return Err(DiskError::OutOfMemory);
            };
            self.start_read(page, buf, now);
        }
        if let Some(w) = window {
            let end = w.start.saturating_add(u64::from(w.len)).min(self.pages);
            for page in w.start..end {
                if self.cache.contains(PageKey::new(0, page)) || self.reading.contains(&page) {
                    continue;
                }
                let Some(buf) = DmaBuf::new(PAGE_SIZE) else { break };
                self.start_read(page, buf, now);
                self.ahead.insert(page);
                self.stats.readahead_pages += 1;
            }
        }
        self.queue.unplug();
        self.dispatch();
        Ok(())
    }

    fn start_read(&mut self, page: u64, buf: DmaBuf, now: u64) {
        self.submit_page(block::Op::Read, page, buf, now);
        self.reading.insert(page);
        self.failed.remove(&page);
    }

    /// Queues a one-page request for `page` with `buf` (plugged or not).
    fn submit_page(&mut self, op: block::Op, page: u64, buf: DmaBuf, now: u64) {
        let at = BufRef { addr: buf.pa(), len: PAGE_SIZE as u32 };
        let req = block::Request::new(op, page * SECTORS_PER_PAGE, SECTORS_PER_PAGE as u32, vec![at]);
        if self.queue.submit(req, now).is_err() {
            unreachable!("a one-page request inside the device is within every queue limit");
        }
        self.queued_bufs.insert(at.addr, buf);
    }

    /// Hands the block layer's requests to the driver while it has room,
    /// then publishes them with (at most) one notification.
    fn dispatch(&mut self) {
        loop {
            let req = match self.stalled.take() {
                Some(req) => req,
                None => match self.queue.dispatch(platform::now_ns()) {
                    Some(req) => self.driver_request(req),
                    None => break,
                },
            };
            match self.dev.submit(req) {
                Ok(()) => {
                    self.stats.max_in_flight = self.stats.max_in_flight.max(self.dev.in_flight() as u64);
                }
                Err((BlkError::Busy, back)) => {
                    self.stalled = Some(back);
                    break;
                }
                Err((e, back)) => self.finish(back.op, back.sector, back.bufs, Err(e)),
            }
        }
        self.dev.kick();
    }

    /// The driver's form of a block-layer request: the page buffers its
    /// `BufRef`s name, in order.
    fn driver_request(&mut self, req: block::Request) -> blk::Request {
        let bufs = req
            .bufs
            .iter()
            .map(|b| self.queued_bufs.remove(&b.addr).expect("the block layer returns the buffers it was given"))
            .collect();
        let op = match req.op {
            block::Op::Read => Op::Read,
            block::Op::Write => Op::Write,
            block::Op::Flush => Op::Flush,
        };
        blk::Request { op, sector: req.sector, len: req.sectors * SECTOR_SIZE as u32, bufs, token: 0 }
    }

    /// A finished (or refused) request for the pages from `sector`, one
    /// buffer each. Read pages enter the cache; a written page's buffer goes
    /// back to its frame if the page is still cached, else it is dropped
    /// (freed). A failed read is remembered for whoever waits for the page;
    /// a failed write leaves the page dirty if it is still cached.
    fn finish(&mut self, op: Op, sector: u64, bufs: Vec<DmaBuf>, result: Result<(), BlkError>) {
        let first = sector / SECTORS_PER_PAGE;
        for (page, buf) in (first..).zip(bufs) {
            let key = PageKey::new(0, page);
            match (op, &result) {
                (Op::Write, _) => {
                    self.writing -= 1;
                    match self.cache.peek_mut(key) {
                        Some(frame @ None) => *frame = Some(buf),
                        _ => drop(buf),
                    }
                    if let Err(e) = &result {
                        self.cache.mark_dirty(key);
                        self.write_error.get_or_insert_with(|| e.clone());
                    }
                }
                (_, Ok(())) => {
                    self.reading.remove(&page);
                    let evicted = if self.ahead.remove(&page) {
                        self.cache.insert_prefetched(key, Some(buf))
                    } else {
                        self.cache.insert(key, Some(buf))
                    };
                    if let Some(evicted) = evicted {
                        self.evicted(evicted);
                    }
                }
                (_, Err(e)) => {
                    self.reading.remove(&page);
                    self.ahead.remove(&page);
                    self.failed.insert(page, e.clone());
                }
            }
        }
    }

    /// A page the cache let go: a dirty one must reach the device first.
    fn evicted(&mut self, page: pagecache::Evicted<Frame>) {
        if page.dirty {
            self.evicted_dirty.push((page.key.block, page.data.unwrap_or_else(|| lent_page())));
        }
    }

    /// Collects completions, writes evicted dirty pages, and dispatches
    /// what waited.
    fn reap(&mut self) -> Result<(), DiskError> {
        self.collect()?;
        if !self.evicted_dirty.is_empty() {
            self.write_evicted()?;
        }
        Ok(())
    }

    /// Processes finished requests; dispatches more if any finished.
    fn collect(&mut self) -> Result<(), DiskError> {
        let mut done = core::mem::take(&mut self.completions);
        let polled = self.dev.poll(&mut done);
        let any = !done.is_empty();
        for c in done.drain(..) {
            self.finish(c.op, c.sector, c.bufs, c.result);
        }
        self.completions = done;
        polled?;
        if any {
            self.dispatch();
        }
        Ok(())
    }

    /// Writes the evicted dirty pages (merged where adjacent) and waits for
    /// them, and for any that their completions evict in turn.
    fn write_evicted(&mut self) -> Result<(), DiskError> {
        while !self.evicted_dirty.is_empty() {
            let mut pages = core::mem::take(&mut self.evicted_dirty);
            pages.sort_unstable_by_key(|(page, _)| *page);
            self.stats.evicted_dirty_pages += pages.len() as u64;
            self.submit_writes(pages);
            self.wait_writes()?;
        }
        Ok(())
    }

    /// Submits one write per page under a plug, then dispatches.
    fn submit_writes(&mut self, pages: Vec<(u64, DmaBuf)>) {
        let now = platform::now_ns();
        self.queue.plug();
        for (page, buf) in pages {
            self.writing += 1;
            self.submit_page(block::Op::Write, page, buf, now);
        }
        self.queue.unplug();
        self.dispatch();
    }

    /// Waits until no page is being written; the first write error since
    /// the last call, if any.
    fn wait_writes(&mut self) -> Result<(), DiskError> {
        let spin = Spin::new(DEVICE_TIMEOUT_NS);
        while self.writing > 0 {
            self.collect()?;
            if self.writing > 0 && !self.dev.idle(&spin) {
                return Err(DiskError::Device(BlkError::Timeout));
            }
        }
        match self.write_error.take() {
            Some(e) => Err(DiskError::Device(e)),
            None => Ok(()),
        }
    }

    /// Writes every dirty page to the device, adjacent pages merged into
    /// large writes, and waits for them. The pages stay cached (clean).
    pub fn write_back(&mut self) -> Result<(), DiskError> {
        self.reap()?;
        let keys = self.cache.writeback();
        if keys.is_empty() {
            return Ok(());
        }
        self.stats.writeback_rounds += 1;
        let mut pages = Vec::with_capacity(keys.len());
        for key in keys {
            let frame = self.cache.peek_mut(key).expect("writeback names cached pages");
            pages.push((key.block, frame.take().unwrap_or_else(|| lent_page())));
        }
        self.submit_writes(pages);
        let written = self.wait_writes();
        // Completions during the wait may have evicted other dirty pages.
        self.reap()?;
        written
    }

    /// Writes back every dirty page, then makes the writes durable (FLUSH,
    /// if the device has a volatile cache).
    pub fn sync(&mut self) -> Result<(), DiskError> {
        self.write_back()?;
        self.dev.flush()?;
        Ok(())
    }

    /// Lets the requests in flight (read-ahead) finish and collects them,
    /// unless the device fails or times out.
    fn wait_idle(&mut self) {
        let spin = Spin::new(DEVICE_TIMEOUT_NS);
        while self.dev.in_flight() > 0 && self.reap().is_ok() && self.dev.idle(&spin) {}
    }

    /// Waits until page `page` is no longer being read; its error if it failed.
    fn wait_for(&mut self, page: u64) -> Result<(), DiskError> {
        let spin = Spin::new(DEVICE_TIMEOUT_NS);
        while self.reading.contains(&page) {
            self.reap()?;
            if self.reading.contains(&page) && !self.dev.idle(&spin) {
                return Err(DiskError::Device(BlkError::Timeout));
            }
        }
        match self.failed.remove(&page) {
            Some(e) => Err(DiskError::Device(e)),
            None => Ok(()),
        }
    }
}

impl Drop for CachedDisk {
    /// Syncs (nothing written is lost), then lets read-ahead still in
    /// flight finish, so the device goes back to the registry idle.
    fn drop(&mut self) {
        if (self.cache.dirty_count() > 0 || !self.evicted_dirty.is_empty())
            && let Err(e) = self.sync()
        {
            crate::println!("page cache: write-back on close failed: {e:?}");
        }
        self.wait_idle();
    }
}

impl ext2::BlockDevice for CachedDisk {
    type Error = DiskError;

    fn block_size(&self) -> usize {
        PAGE_SIZE
    }

    fn block_count(&self) -> u64 {
        self.pages
    }

    fn read_block(&mut self, block_no: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        if block_no >= self.pages || buf.len() != PAGE_SIZE {
            return Err(DiskError::BadRequest { block: block_no, len: buf.len() });
        }
        self.reap()?;
        let key = PageKey::new(0, block_no);
        let present = self.cache.contains(key) || self.reading.contains(&block_no);
        let window = self.readahead.as_mut().and_then(|ra| {
            if present { ra.on_read(block_no, 1) } else { ra.on_miss(block_no, 1) }
        });
        if self.reading.contains(&block_no) {
            self.wait_for(block_no)?;
        }
        match self.cache.get(key) {
            Some(Some(page)) => {
                buf.copy_from_slice(page.as_slice());
                // The window is read ahead in the background; its pages enter
                // the cache as later calls collect their completions.
                if window.is_some() {
                    self.start_reads(None, window)?;
                }
            }
            Some(None) => lent_page(),
            None => {
                // The demanded page and the window, in one plug: a window
                // that follows on merges with it into one request.
                self.start_reads(Some(block_no), window)?;
                self.wait_for(block_no)?;
                // Not `get`: this access was already counted as the miss.
                match self.cache.peek(key) {
                    Some(Some(page)) => buf.copy_from_slice(page.as_slice()),
                    Some(None) => lent_page(),
                    None => {
                        let single = DmaBuf::new(PAGE_SIZE).ok_or(DiskError::OutOfMemory)?;
                        // Evicted before it was copied (a cache smaller than
                        // the reads in flight): read it once more, uncached.
                        let single = self.dev.read(block_no * SECTORS_PER_PAGE, single, PAGE_SIZE as u32)?;
                        buf.copy_from_slice(single.as_slice());
                    }
                }
            }
        }
        Ok(())
    }
}

impl ext2::BlockDeviceMut for CachedDisk {
    fn write_block(&mut self, block_no: u64, buf: &[u8]) -> Result<(), DiskError> {
        if block_no >= self.pages || buf.len() != PAGE_SIZE {
            return Err(DiskError::BadRequest { block: block_no, len: buf.len() });
        }
        if self.dev.limits.read_only {
            return Err(DiskError::ReadOnly);
        }
        self.reap()?;
        // A read in flight would land over the new data.
        if self.reading.contains(&block_no) {
            self.wait_for(block_no)?;
        }
        let key = PageKey::new(0, block_no);
        match self.cache.get_mut(key) {
            Some(Some(page)) => page.as_mut_slice().copy_from_slice(buf),
            Some(None) => lent_page(),
            None => {
                // A whole page: nothing to read first.
                let mut page = DmaBuf::new(PAGE_SIZE).ok_or(DiskError::OutOfMemory)?;
                page.as_mut_slice().copy_from_slice(buf);
                if let Some(evicted) = self.cache.insert(key, Some(page)) {
                    self.evicted(evicted);
                }
            }
        }
        self.cache.mark_dirty(key);
        if self.cache.dirty_count() > self.dirty_limit {
            self.stats.throttled_rounds += 1;
            self.write_back()?;
        }
        self.reap()
    }
}
