//! [`CachedDisk`]: a block device of 4 KiB pages cached in a
//! `pagecache::PageCache<DmaBuf>`.
//!
//! Every cached page is its own order-0 `DmaBuf` from the buddy allocator;
//! an evicted page's buffer is dropped, which frees it. A miss reads the page
//! from the device with the blocking driver API; when the per-device
//! `block::Readahead` sees a sequential run it returns a window, and the
//! missing page plus the uncached pages of that window are read in ONE
//! request into a contiguous buffer, then copied into per-page buffers.
//! (A multi-segment request straight into the page buffers would save the
//! copy; the driver takes one buffer per request today.)

use alloc::format;
use alloc::string::String;

use block::Readahead;
use pagecache::{PageCache, PageCacheStats, PageKey};
use virtio_core::blk::SECTOR_SIZE;

use crate::virtio::Claimed;
use crate::virtio::blk::{BlkDevice, BlkError};
use crate::virtio::dma::DmaBuf;

pub const PAGE_SIZE: usize = 4096;
const SECTORS_PER_PAGE: u64 = PAGE_SIZE as u64 / SECTOR_SIZE;

/// Why a [`CachedDisk`] read failed.
pub enum DiskError {
    /// The driver or the device refused the read.
    Device(BlkError),
    /// No memory for a page (or read-ahead) buffer.
    OutOfMemory,
    /// A block beyond the device, or a buffer that is not one page.
    BadRequest { block: u64, len: usize },
}

// By hand rather than derived: ext2's errors print it with `{:?}`, and this
// reads as one clear phrase.
impl core::fmt::Debug for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DiskError::Device(e) => write!(f, "virtio-blk: {e}"),
            DiskError::OutOfMemory => f.write_str("out of memory for page-cache buffers"),
            DiskError::BadRequest { block, len } => write!(f, "bad read of block {block} ({len} bytes)"),
        }
    }
}

impl From<BlkError> for DiskError {
    fn from(e: BlkError) -> Self {
        DiskError::Device(e)
    }
}

/// Device-side counters (the cache's own are in [`PageCacheStats`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskStats {
    /// Requests sent to the device.
    pub device_reads: u64,
    /// Bytes those requests read.
    pub device_bytes: u64,
    /// Pages read ahead of demand (beyond the page asked for).
    pub readahead_pages: u64,
}

pub struct CachedDisk {
    dev: Claimed<BlkDevice>,
    cache: PageCache<DmaBuf>,
    readahead: Option<Readahead>,
    pages: u64,
    stats: DiskStats,
}

impl CachedDisk {
    /// `readahead_max` pages at most per window (0: no read-ahead).
    pub fn new(dev: Claimed<BlkDevice>, policy: &str, cache_pages: usize, readahead_max: u32) -> Result<Self, String> {
        let cache = PageCache::with_policy(policy, cache_pages.max(1))
            .ok_or_else(|| format!("cache={policy:?}: one of {:?}", pagecache::POLICY_NAMES))?;
        let pages = dev.limits.capacity_bytes() / PAGE_SIZE as u64;
        // Never read ahead more than half the cache: the run must not evict
        // itself (or the page that was asked for).
        let max = readahead_max.min((cache_pages / 2) as u32);
        let readahead = (max > 0).then(|| Readahead::new(4.min(max), max));
        Ok(Self { dev, cache, readahead, pages, stats: DiskStats::default() })
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

    /// Reads pages `start .. start + n` (all uncached, inside the device) in
    /// one request and caches them; copies page `want` (if in the run) to `out`.
    fn read_run(&mut self, start: u64, n: u64, want: Option<(u64, &mut [u8])>) -> Result<(), DiskError> {
        let bytes = n as usize * PAGE_SIZE;
        let buf = DmaBuf::new(bytes).ok_or(DiskError::OutOfMemory)?;
        let buf = self.dev.read(start * SECTORS_PER_PAGE, buf, bytes as u32)?;
        self.stats.device_reads += 1;
        self.stats.device_bytes += bytes as u64;
        let data = buf.as_slice();
        if let Some((page, out)) = want {
            let off = (page - start) as usize * PAGE_SIZE;
            out.copy_from_slice(&data[off..off + PAGE_SIZE]);
        }
        for i in 0..n {
            let mut page = DmaBuf::new(PAGE_SIZE).ok_or(DiskError::OutOfMemory)?;
            let off = i as usize * PAGE_SIZE;
            page.as_mut_slice().copy_from_slice(&data[off..off + PAGE_SIZE]);
            // The victim's buffer (if any) is dropped here: back to the buddy allocator.
            drop(self.cache.insert(PageKey::new(0, start + i), page));
        }
        Ok(())
    }

    /// Length of the run of uncached pages from `start`, at most `max`,
    /// inside the device.
    fn uncached_run(&self, start: u64, max: u64) -> u64 {
        let end = start.saturating_add(max).min(self.pages);
        (start..end).take_while(|&p| !self.cache.contains(PageKey::new(0, p))).count() as u64
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
        let window = self.readahead.as_mut().and_then(|ra| ra.on_read(block_no, 1));
        match self.cache.get(PageKey::new(0, block_no)) {
            Some(page) => buf.copy_from_slice(page.as_slice()),
            None => {
                // The demanded page, extended by the window when it follows on.
                let mut n = 1;
                if let Some(w) = window
                    && w.start == block_no + 1
                {
                    n += self.uncached_run(block_no + 1, u64::from(w.len));
                }
                self.stats.readahead_pages += n - 1;
                self.read_run(block_no, n, Some((block_no, buf)))?;
                return Ok(());
            }
        }
        if let Some(w) = window {
            let n = self.uncached_run(w.start, u64::from(w.len));
            if n > 0 {
                self.stats.readahead_pages += n;
                self.read_run(w.start, n, None)?;
            }
        }
        Ok(())
    }
}
