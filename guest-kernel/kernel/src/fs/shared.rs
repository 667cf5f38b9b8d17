//! [`SharedDisk`]: one [`CachedDisk`] (page cache, block layer, driver)
//! used by threads on several CPUs at once, each through its own
//! [`DiskHandle`], an `ext2::BlockDevice`: every thread mounts its own
//! `Ext2` over a handle, and all of them read and write the same cached
//! pages (Linux's model: one page cache per file, many readers).
//!
//! # Locking
//!
//! One sleeping mutex (`task::Mutex`) guards the whole disk: cache, request
//! queue, driver. It is held only for one *step* of a read or write (see
//! cached.rs), never while waiting for the device:
//!
//! - a read that misses submits its request under the lock; from then on
//!   the page is *in flight* (in the disk's `reading` set), so a second
//!   reader of it waits for that read instead of issuing its own;
//! - the reader drops the lock and polls: it yields the CPU (another job
//!   may run), then takes the lock again and repeats the step, which first
//!   reaps the device's completions for everyone (whoever holds the lock
//!   does) and then checks the page. If the page was filled and evicted
//!   again between polls, the step reads it once more, as Linux's filemap
//!   retries;
//! - a write copies into the cached page under the lock and marks it dirty;
//!   a write to a page in flight (being read, or written back) waits the
//!   same way. Write-back, when dirty pages pass half the cache, is started
//!   under the lock and completes in the background.
//!
//! Each handle has its own read-ahead state (Linux keeps it per open file),
//! and read-ahead sees each read once, not once per poll.
//!
//! Known limits: [`SharedDisk::sync`] waits for its writes with the lock
//! dropped, but sends the FLUSH and waits for it under the lock (the mutex
//! sleeps, so other threads wait without spinning); a page being written
//! back cannot be read until its write completes (Linux reads such pages
//! from memory), because its buffer is lent to the device.

use alloc::sync::Arc;
use core::ops::{Deref, DerefMut};

use block::Readahead;

use super::cached::{CachedDisk, DiskError, PAGE_SIZE, PageRead};
use crate::platform;
use crate::task::{self, Mutex, MutexGuard};
use crate::virtio::blk::BlkError;
use crate::virtio::{DEVICE_TIMEOUT_NS, Spin};

/// Time between two looks at a page in flight: short against a device
/// request (tens of microseconds at least: one notification is a VM exit),
/// long enough that waiters do not crowd the lock and the scheduler's.
const POLL_INTERVAL_NS: u64 = 2_000;

/// A [`CachedDisk`] shared between threads.
pub struct SharedDisk {
    /// `None` only once [`SharedDisk::into_inner`] took it.
    disk: Mutex<Option<CachedDisk>>,
    pages: u64,
}

/// The locked disk.
pub struct Locked<'a>(MutexGuard<'a, Option<CachedDisk>>);

fn taken() -> ! {
    unreachable!("the disk is taken only by into_inner, which owns the SharedDisk")
}

impl Deref for Locked<'_> {
    type Target = CachedDisk;
    fn deref(&self) -> &CachedDisk {
        self.0.as_ref().unwrap_or_else(|| taken())
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut CachedDisk {
        self.0.as_mut().unwrap_or_else(|| taken())
    }
}

impl SharedDisk {
    pub fn new(disk: CachedDisk) -> Arc<Self> {
        let pages = disk.pages();
        Arc::new(Self {
            disk: Mutex::new(Some(disk)),
            pages,
        })
    }

    /// The disk, locked (for its statistics, or a new run). Do not wait
    /// for the device while holding it.
    pub fn lock(&self) -> Locked<'_> {
        Locked(self.disk.lock())
    }

    /// A new handle, with read-ahead state of its own.
    pub fn handle(self: &Arc<Self>) -> DiskHandle {
        let readahead = self.lock().new_readahead();
        DiskHandle {
            disk: self.clone(),
            readahead,
        }
    }

    /// The disk back, for single-owner use (no handle may be left).
    pub fn into_inner(self) -> CachedDisk {
        self.disk.lock().take().unwrap_or_else(|| taken())
    }

    /// Repeats `step` on the locked disk until it is done, with the lock
    /// dropped between tries: yields the CPU (another job may have I/O to
    /// start), then pauses for [`POLL_INTERVAL_NS`].
    fn poll(
        &self,
        mut step: impl FnMut(&mut CachedDisk) -> Result<bool, DiskError>,
    ) -> Result<(), DiskError> {
        let mut spin: Option<Spin> = None;
        loop {
            let done = step(&mut self.lock())?;
            if done {
                return Ok(());
            }
            task::yield_now();
            let spin = spin.get_or_insert_with(|| Spin::new(DEVICE_TIMEOUT_NS));
            let next = platform::now_ns() + POLL_INTERVAL_NS;
            while platform::now_ns() < next {
                if !spin.spin() {
                    return Err(DiskError::Device(BlkError::Timeout));
                }
            }
        }
    }

    /// Writes back every dirty page, waits for the writes (lock dropped),
    /// then makes them durable (FLUSH, under the lock).
    pub fn sync(&self) -> Result<(), DiskError> {
        self.lock().start_write_back();
        self.poll(CachedDisk::writes_step)?;
        self.lock().flush()
    }
}

/// One thread's view of a [`SharedDisk`]: cheap to make, one per job.
pub struct DiskHandle {
    disk: Arc<SharedDisk>,
    readahead: Option<Readahead>,
}

impl ext2::BlockDevice for DiskHandle {
    type Error = DiskError;

    fn block_size(&self) -> usize {
        PAGE_SIZE
    }

    fn block_count(&self) -> u64 {
        self.disk.pages
    }

    fn read_block(&mut self, block_no: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let Self { disk, readahead } = self;
        let mut read = PageRead::default();
        disk.poll(|d| d.read_step(block_no, buf, readahead, &mut read))
    }
}

impl ext2::BlockDeviceMut for DiskHandle {
    fn write_block(&mut self, block_no: u64, buf: &[u8]) -> Result<(), DiskError> {
        self.disk.poll(|d| d.write_step(block_no, buf))
    }
}
