//! The request queue: plugging, merging, dispatch through a scheduler.
//!
//! Life of a request (as in Linux's blk-mq with an elevator):
//!
//! 1. [`RequestQueue::submit`]: while the queue is *plugged* the request goes
//!    onto the plug list (after trying to merge with a plugged request);
//!    otherwise it is handed to the scheduler (after trying to merge with a
//!    request the scheduler still holds).
//! 2. [`RequestQueue::unplug`] moves the plug list, in submission order, into
//!    the scheduler (merging again where possible).
//! 3. [`RequestQueue::dispatch`] asks the scheduler for the next request for
//!    the driver. Dispatched requests are gone from the queue and never
//!    merged into again.
//!
//! Merging: a new request merges with a queued one of the same op (never a
//! flush) when it starts exactly where the queued one ends (*back merge*) or
//! ends exactly where it starts (*front merge*), and the result stays within
//! [`QueueLimits`] (sectors and segments). Adjacency, not overlap, is
//! required, so merged requests never cover a sector twice. Buffer lists are
//! concatenated in sector order; data is never copied. Simplification: a
//! merge that makes two queued requests adjacent does not coalesce them
//! (Linux's `attempt_back_merge`); they are dispatched separately.

use crate::request::{Op, Request};
use crate::sched::{Entry, Scheduler, SchedulerKind};
use alloc::vec::Vec;

/// Limits of one request, as the device advertises them (virtio-blk:
/// `size_max`/`seg_max`; Linux: `max_sectors_kb`, `max_segments`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Largest request, in 512-byte sectors.
    pub max_sectors: u32,
    /// Largest number of buffer references (descriptors) in one request.
    pub max_segments: usize,
}

impl Default for QueueLimits {
    /// 128 KiB and 126 segments (QEMU's virtio-blk `seg_max`).
    fn default() -> Self {
        QueueLimits {
            max_sectors: 256,
            max_segments: 126,
        }
    }
}

/// Counters, named after Linux's `/sys/block/*/stat` where one exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Requests accepted by `submit`.
    pub queued: u64,
    /// Submitted requests absorbed by a back merge.
    pub back_merges: u64,
    /// Submitted requests absorbed by a front merge.
    pub front_merges: u64,
    /// Requests handed to the driver.
    pub dispatched: u64,
    /// Requests rejected by `submit` (outside the limits or empty).
    pub rejected: u64,
    /// Times `unplug` moved a non-empty plug list to the scheduler.
    pub unplugs: u64,
}

impl QueueStats {
    pub fn merged(&self) -> u64 {
        self.back_merges + self.front_merges
    }
}

/// Which kind of merge happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Merge {
    Back,
    Front,
}

/// Tries to merge `new` into `existing`; gives `new` back if it cannot.
pub(crate) fn try_merge(
    existing: &mut Request,
    new: Request,
    limits: &QueueLimits,
) -> Result<Merge, Request> {
    if existing.op != new.op || new.op == Op::Flush {
        return Err(new);
    }
    let sectors = u64::from(existing.sectors) + u64::from(new.sectors);
    let segments = existing.segments() + new.segments();
    if sectors > u64::from(limits.max_sectors) || segments > limits.max_segments {
        return Err(new);
    }
    if existing.end() == new.sector {
        existing.sectors = sectors as u32;
        existing.bufs.extend(new.bufs);
        Ok(Merge::Back)
    } else if new.end() == existing.sector {
        existing.sector = new.sector;
        existing.sectors = sectors as u32;
        let mut bufs = new.bufs;
        bufs.append(&mut existing.bufs);
        existing.bufs = bufs;
        Ok(Merge::Front)
    } else {
        Err(new)
    }
}

/// A request queue for one device.
pub struct RequestQueue {
    limits: QueueLimits,
    plugged: bool,
    plug_list: Vec<Entry>,
    sched: Scheduler,
    next_seq: u64,
    stats: QueueStats,
}

impl RequestQueue {
    pub fn new(limits: QueueLimits, kind: SchedulerKind) -> Self {
        RequestQueue {
            limits,
            plugged: false,
            plug_list: Vec::new(),
            sched: Scheduler::new(kind),
            next_seq: 0,
            stats: QueueStats::default(),
        }
    }

    pub fn limits(&self) -> QueueLimits {
        self.limits
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.sched
    }

    pub fn stats(&self) -> QueueStats {
        self.stats
    }

    /// Counters from zero again (a new measurement); queued requests stay.
    pub fn reset_stats(&mut self) {
        self.stats = QueueStats::default();
    }

    pub fn is_plugged(&self) -> bool {
        self.plugged
    }

    /// Requests held (plugged or waiting in the scheduler).
    pub fn pending(&self) -> usize {
        self.plug_list.len() + self.sched.len()
    }

    /// Starts collecting requests (Linux's `blk_start_plug`).
    pub fn plug(&mut self) {
        self.plugged = true;
    }

    /// Stops plugging and hands the collected requests, in submission order,
    /// to the scheduler (Linux's `blk_finish_plug`).
    pub fn unplug(&mut self) {
        self.plugged = false;
        if self.plug_list.is_empty() {
            return;
        }
        self.stats.unplugs += 1;
        let list = core::mem::take(&mut self.plug_list);
        for entry in list {
            self.insert_sched(entry);
        }
    }

    /// Accepts a request. Rejects (gives back) a read/write with no sectors
    /// or buffers, one larger than the limits, or one that runs past
    /// `u64::MAX`.
    pub fn submit(&mut self, req: Request, now_ns: u64) -> Result<(), Request> {
        if !self.acceptable(&req) {
            self.stats.rejected += 1;
            return Err(req);
        }
        self.stats.queued += 1;
        let entry = Entry {
            req,
            seq: self.next_seq,
            submitted_ns: now_ns,
        };
        self.next_seq += 1;
        if self.plugged {
            let mut req = entry.req;
            for held in self.plug_list.iter_mut() {
                match try_merge(&mut held.req, req, &self.limits) {
                    Ok(m) => {
                        self.count(m);
                        return Ok(());
                    }
                    Err(back) => req = back,
                }
            }
            self.plug_list.push(Entry { req, ..entry });
        } else {
            self.insert_sched(entry);
        }
        Ok(())
    }

    /// The next request for the driver, if any (plugged requests are not
    /// eligible until `unplug`).
    pub fn dispatch(&mut self, now_ns: u64) -> Option<Request> {
        let req = self.sched.dispatch(now_ns)?;
        self.stats.dispatched += 1;
        Some(req)
    }

    fn acceptable(&self, req: &Request) -> bool {
        match req.op {
            Op::Flush => req.sectors == 0 && req.bufs.is_empty(),
            Op::Read | Op::Write => {
                req.sectors > 0
                    && req.sectors <= self.limits.max_sectors
                    && !req.bufs.is_empty()
                    && req.segments() <= self.limits.max_segments
                    && req.sector.checked_add(u64::from(req.sectors)).is_some()
            }
        }
    }

    fn insert_sched(&mut self, entry: Entry) {
        if let Some(m) = self.sched.insert(entry, &self.limits) {
            self.count(m);
        }
    }

    fn count(&mut self, m: Merge) {
        match m {
            Merge::Back => self.stats.back_merges += 1,
            Merge::Front => self.stats.front_merges += 1,
        }
    }
}
