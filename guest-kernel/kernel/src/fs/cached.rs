//! [`CachedDisk`]: a block device of 4 KiB pages cached in a
//! `pagecache::PageCache<DmaBuf>`, with ferrite's block layer between the
//! page cache and the virtio-blk driver.
//!
//! The read path, after Linux's `filemap_read` → `page_cache_ra_*` →
//! `submit_bio` → blk-mq:
//!
//! 1. A read reports itself to the reader's `block::Readahead` (the disk's
//!    own, or a [`super::DiskHandle`]'s: Linux keeps one per open file),
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
//! - write-back takes every dirty page, in block order, and submits one
//!   single-page write per page under a plug, so adjacent pages merge into
//!   large writes; each page's buffer is lent to the device (the cache holds
//!   `None` for it) and comes back when its write completes. It does not
//!   wait: `write_block` starts it when dirty pages pass half the cache
//!   (Linux's `balance_dirty_pages`, without the throttling), and
//!   [`CachedDisk::sync`] starts it, waits for every write and then sends a
//!   FLUSH; dropping a `CachedDisk` syncs;
//! - a dirty page the policy evicts is written at the next call, also
//!   without waiting.
//!
//! A page with a write in flight (lent, or evicted and not yet written) is
//! *in flight* just like a page being read: a read of it waits for the write
//! (it must not read the device's stale copy), and so does a write (a second
//! write of one page must not race the first at the device). So a page is
//! never read and written at once, and is in the cache at most once.
//!
//! The driver keeps up to its slot count of requests in flight; a request
//! it cannot take yet (no slot or descriptors) waits in `stalled` and goes
//! first when completions free room. One notification per dispatch batch,
//! and only if the device asked for it (event idx).
//!
//! A `CachedDisk` may serve several measurements in turn (the file
//! workloads' `keep_cache=1`): [`CachedDisk::new_run`] starts the counters
//! from zero while the cached pages stay.
//!
//! # Steps
//!
//! Reads and writes are steps ([`CachedDisk::read_step`],
//! [`CachedDisk::write_step`]) that never wait for the device: each first
//! collects completions, then either finishes or starts what is needed and
//! says "not yet". `read_block` and `write_block` repeat a step between
//! polls of the device; [`super::SharedDisk`] repeats it with its lock
//! dropped between polls, so several CPUs share one cache.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use block::{
    BufRef, QueueLimits, QueueStats, Readahead, ReadaheadWindow, RequestQueue, SchedulerKind,
};
use pagecache::{Knobs, PageCache, PageCacheStats, PageKey};
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
            DiskError::BadRequest { block, len } => {
                write!(f, "bad access to block {block} ({len} bytes)")
            }
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
    /// Write-back rounds (write-backs that found dirty pages).
    pub writeback_rounds: u64,
    /// Of those, rounds forced by the dirty limit.
    pub throttled_rounds: u64,
    /// Dirty pages written because the policy evicted them.
    pub evicted_dirty_pages: u64,
}

/// A cached page's buffer; `None` while it is lent to the device for
/// write-back (the page is then in `CachedDisk::writing`).
type Frame = Option<DmaBuf>;

fn lent_page() -> ! {
    unreachable!("a lent page is clean and in flight: no reader, writer or write-back takes it")
}

/// Where one page read stands between its steps (see
/// [`CachedDisk::read_step`]).
#[derive(Default)]
pub struct PageRead {
    /// Read-ahead has seen this read (once, at the first step).
    begun: bool,
    /// The window read-ahead asked for, until it is started.
    window: Option<ReadaheadWindow>,
    /// This read was counted as a miss (and started a read of the page).
    missed: bool,
    /// It waited for a read of the page, so a failure of that read is its own.
    waited: bool,
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
    /// Dirty pages the policy evicted, to be written at the next step.
    evicted_dirty: Vec<(u64, DmaBuf)>,
    /// Pages being written (evicted and waiting, queued, or at the device).
    writing: BTreeSet<u64>,
    /// The first write that failed since the last step reported one.
    write_error: Option<BlkError>,
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
            max_sectors: defaults
                .max_sectors
                .min((max_segments as u64 * SECTORS_PER_PAGE) as u32),
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
            writing: BTreeSet::new(),
            write_error: None,
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
    /// Pages (blocks of [`PAGE_SIZE`]) on the device.
    pub fn pages(&self) -> u64 {
        self.pages
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

    /// The read-ahead depth and dirty limit in force now: the defaults
    /// (`readahead_max` as configured, write-back past half the cache), or
    /// what a managing policy (`cache=qlearn`) chose from them.
    fn knobs(&self) -> Knobs {
        self.cache
            .knobs(Knobs::defaults(self.readahead_max, self.cache.capacity()))
    }

    /// Fresh read-ahead state for one reader (no streams seen yet).
    pub fn new_readahead(&self) -> Option<Readahead> {
        Readahead::for_cache(self.readahead_max, self.cache.capacity())
    }

    /// Starts a new measurement on this (warm) cache: reads and writes
    /// still in flight land first, then the cache's, the queue's, this
    /// disk's and the driver's counters start from zero, and read-ahead
    /// forgets the streams it has seen. The cached pages stay.
    pub fn new_run(&mut self) {
        self.wait_idle();
        self.cache.reset_stats();
        self.queue.reset_stats();
        self.stats = DiskStats::default();
        self.device_base = self.dev.stats;
        self.readahead = self.new_readahead();
    }

    /// Whether `page` is being read or written (or waits to be written).
    fn in_flight(&self, page: u64) -> bool {
        self.reading.contains(&page) || self.writing.contains(&page)
    }

    fn check(&self, page: u64, len: usize) -> Result<(), DiskError> {
        if page >= self.pages || len != PAGE_SIZE {
            return Err(DiskError::BadRequest { block: page, len });
        }
        Ok(())
    }

    /// One step of reading `page` into `buf`: true once `buf` holds it;
    /// false while the page is in flight (a read or write of it, perhaps
    /// just started by this step): call again after a pause, with the same
    /// `read`. `ra` is the reader's read-ahead state; it sees the read once.
    ///
    /// A read counts once in the cache's statistics: as a hit if it finds
    /// the page cached or being read (read-ahead did its job), else as a
    /// miss. If the page is filled and evicted again before a later step
    /// copies it, that step reads it once more (as Linux's filemap retries).
    pub fn read_step(
        &mut self,
        page: u64,
        buf: &mut [u8],
        ra: &mut Option<Readahead>,
        read: &mut PageRead,
    ) -> Result<bool, DiskError> {
        self.check(page, buf.len())?;
        self.reap()?;
        let key = PageKey::new(0, page);
        if !read.begun {
            read.begun = true;
            let present = self.cache.contains(key) || self.reading.contains(&page);
            let depth = self.knobs().readahead_max;
            read.window = ra.as_mut().and_then(|ra| {
                ra.set_max_pages(depth);
                if present {
                    ra.on_read(page, 1)
                } else {
                    ra.on_miss(page, 1)
                }
            });
        }
        if self.in_flight(page) {
            read.waited |= self.reading.contains(&page);
            // The window is read ahead in the background while we wait.
            if read.window.is_some() {
                self.start_reads(None, read.window.take())?;
            }
            return Ok(false);
        }
        // `get` counts the access; after a miss it is counted already.
        let frame = if read.missed {
            self.cache.peek(key)
        } else {
            self.cache.get(key)
        };
        match frame {
            Some(Some(data)) => {
                buf.copy_from_slice(data.as_slice());
                // Its pages enter the cache as later steps collect them.
                if read.window.is_some() {
                    self.start_reads(None, read.window.take())?;
                }
                Ok(true)
            }
            Some(None) => lent_page(),
            None => {
                if read.waited
                    && let Some(e) = self.failed.remove(&page)
                {
                    return Err(DiskError::Device(e));
                }
                read.missed = true;
                read.waited = true;
                // The demanded page and the window, in one plug: a window
                // that follows on merges with it into one request.
                self.start_reads(Some(page), read.window.take())?;
                Ok(false)
            }
        }
    }

    /// One step of writing `buf` to `page`: true once the cached page holds
    /// it (dirty); false while the page is in flight: call again after a
    /// pause. A write that takes the dirty pages past the limit starts a
    /// write-back.
    pub fn write_step(&mut self, page: u64, buf: &[u8]) -> Result<bool, DiskError> {
        self.check(page, buf.len())?;
        if self.dev.limits.read_only {
            return Err(DiskError::ReadOnly);
        }
        self.reap()?;
        // A read in flight would land over the new data; a write in flight
        // could be overtaken by this one's write-back at the device.
        if self.in_flight(page) {
            return Ok(false);
        }
        let key = PageKey::new(0, page);
        match self.cache.get_mut(key) {
            Some(Some(data)) => data.as_mut_slice().copy_from_slice(buf),
            Some(None) => lent_page(),
            None => {
                // A whole page: nothing to read first.
                let mut data = DmaBuf::new(PAGE_SIZE).ok_or(DiskError::OutOfMemory)?;
                data.as_mut_slice().copy_from_slice(buf);
                if let Some(evicted) = self.cache.insert(key, Some(data)) {
                    self.evicted(evicted);
                }
            }
        }
        self.cache.mark_dirty(key);
        if self.cache.dirty_count() > self.knobs().dirty_limit {
            self.stats.throttled_rounds += 1;
            self.start_write_back();
        }
        // Writes what the insert evicted.
        self.reap()?;
        Ok(true)
    }

    /// Starts reading the `demand`ed page (uncached, not in flight) and
    /// every page of `window` inside the device that is neither cached nor
    /// in flight (as Linux's read-ahead skips cached pages and reads the
    /// rest): one page request each under a plug, so the queue merges the
    /// adjacent ones. Running out of memory ends the read-ahead early; it is
    /// an error only if the demanded page gets no buffer.
    fn start_reads(
        &mut self,
        demand: Option<u64>,
        window: Option<ReadaheadWindow>,
    ) -> Result<(), DiskError> {
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
                if self.cache.contains(PageKey::new(0, page)) || self.in_flight(page) {
                    continue;
                }
                let Some(buf) = DmaBuf::new(PAGE_SIZE) else {
                    break;
                };
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
        let at = BufRef {
            addr: buf.pa(),
            len: PAGE_SIZE as u32,
        };
        let req = block::Request::new(
            op,
            page * SECTORS_PER_PAGE,
            SECTORS_PER_PAGE as u32,
            vec![at],
        );
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
                    self.stats.max_in_flight =
                        self.stats.max_in_flight.max(self.dev.in_flight() as u64);
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
            .map(|b| {
                self.queued_bufs
                    .remove(&b.addr)
                    .expect("the block layer returns the buffers it was given")
            })
            .collect();
        let op = match req.op {
            block::Op::Read => Op::Read,
            block::Op::Write => Op::Write,
            block::Op::Flush => Op::Flush,
        };
        if op != Op::Flush {
            // What the requests cost, for a policy that learns from it.
            let pages = (u64::from(req.sectors) / SECTORS_PER_PAGE) as u32;
            self.cache.note_request(op == Op::Write, pages);
        }
        blk::Request {
            op,
            sector: req.sector,
            len: req.sectors * SECTOR_SIZE as u32,
            bufs,
            token: 0,
        }
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
                    self.writing.remove(&page);
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

    /// A page the cache let go: a dirty one must reach the device first,
    /// and is in flight from now on.
    fn evicted(&mut self, page: pagecache::Evicted<Frame>) {
        if page.dirty {
            self.writing.insert(page.key.block);
            self.evicted_dirty
                .push((page.key.block, page.data.unwrap_or_else(|| lent_page())));
        }
    }

    /// Collects completions, starts writing evicted dirty pages, and
    /// reports the first write that failed since the last report.
    fn reap(&mut self) -> Result<(), DiskError> {
        self.collect()?;
        if !self.evicted_dirty.is_empty() {
            let mut pages = core::mem::take(&mut self.evicted_dirty);
            pages.sort_unstable_by_key(|(page, _)| *page);
            self.stats.evicted_dirty_pages += pages.len() as u64;
            self.submit_writes(pages);
        }
        match self.write_error.take() {
            Some(e) => Err(DiskError::Device(e)),
            None => Ok(()),
        }
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

    /// Submits one write per page under a plug, then dispatches.
    fn submit_writes(&mut self, pages: Vec<(u64, DmaBuf)>) {
        let now = platform::now_ns();
        self.queue.plug();
        for (page, buf) in pages {
            self.writing.insert(page);
            self.submit_page(block::Op::Write, page, buf, now);
        }
        self.queue.unplug();
        self.dispatch();
    }

    /// Starts writing every dirty page to the device, adjacent pages merged
    /// into large writes, lending each page's buffer; does not wait.
    pub fn start_write_back(&mut self) {
        let keys = self.cache.writeback();
        if keys.is_empty() {
            return;
        }
        self.stats.writeback_rounds += 1;
        let mut pages = Vec::with_capacity(keys.len());
        for key in keys {
            let frame = self
                .cache
                .peek_mut(key)
                .expect("writeback names cached pages");
            pages.push((key.block, frame.take().unwrap_or_else(|| lent_page())));
        }
        self.submit_writes(pages);
    }

    /// One step of waiting for write-back: true once no page is being
    /// written; the first write error, if any.
    pub fn writes_step(&mut self) -> Result<bool, DiskError> {
        self.reap()?;
        Ok(self.writing.is_empty())
    }

    /// Makes the completed writes durable (FLUSH, if the device has a
    /// volatile cache). Waits for the device.
    pub fn flush(&mut self) -> Result<(), DiskError> {
        self.dev.flush()?;
        Ok(())
    }

    /// Writes back every dirty page, waits for the writes, then makes them
    /// durable.
    pub fn sync(&mut self) -> Result<(), DiskError> {
        self.start_write_back();
        self.wait_until(Self::writes_step)?;
        self.flush()
    }

    /// Repeats `step` between polls of the device until it is done.
    fn wait_until(
        &mut self,
        mut step: impl FnMut(&mut Self) -> Result<bool, DiskError>,
    ) -> Result<(), DiskError> {
        let spin = Spin::new(DEVICE_TIMEOUT_NS);
        while !step(self)? {
            if !self.dev.idle(&spin) {
                return Err(DiskError::Device(BlkError::Timeout));
            }
        }
        Ok(())
    }

    /// Lets the reads (read-ahead) and writes in flight finish and collects
    /// them, unless the device fails or times out.
    fn wait_idle(&mut self) {
        let _ = self.wait_until(|d| {
            d.reap()?;
            Ok(d.reading.is_empty() && d.writing.is_empty())
        });
    }
}

impl Drop for CachedDisk {
    /// Syncs (nothing written is lost), then lets read-ahead still in
    /// flight finish, so the device goes back to the registry idle.
    fn drop(&mut self) {
        if (self.cache.dirty_count() > 0 || !self.writing.is_empty())
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
        let mut ra = self.readahead.take();
        let mut read = PageRead::default();
        let result = self.wait_until(|d| d.read_step(block_no, buf, &mut ra, &mut read));
        self.readahead = ra;
        result
    }
}

impl ext2::BlockDeviceMut for CachedDisk {
    fn write_block(&mut self, block_no: u64, buf: &[u8]) -> Result<(), DiskError> {
        self.wait_until(|d| d.write_step(block_no, buf))
    }
}
