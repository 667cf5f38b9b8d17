//! I/O schedulers: `none` and `deadline`.
//!
//! **none** dispatches in submission order (a FIFO; a merged request keeps
//! the place of the request it merged into).
//!
//! **deadline** is Linux's mq-deadline, simplified:
//! - reads and writes are kept apart, each sorted by sector, and each
//!   request remembers when it was submitted; it *expires* `read_expire_ns`
//!   (500 ms) or `write_expire_ns` (5 s) later;
//! - dispatch works in *batches* of up to `fifo_batch` (16) requests in one
//!   direction, each the next in sector order after the previous one (an
//!   elevator sweep, no seeking back);
//! - a new batch picks its direction: reads are preferred, but writes get
//!   their turn after being passed over `writes_starved` (2) times;
//! - a new batch starts at the oldest request of its direction if that one
//!   has expired or if nothing lies ahead of the sweep position; otherwise
//!   it continues the sweep;
//! - flushes bypass sorting and are dispatched first (as Linux's blk-flush
//!   machinery does; a flush covers writes *completed* before it).
//!
//! Left out: priorities, zoned devices, dispatch of requests already
//! "started", per-direction batch accounting by bytes.

use crate::queue::{Merge, QueueLimits, try_merge};
use crate::request::{Op, Request};
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A request as the scheduler holds it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub req: Request,
    /// Submission order (a merged request keeps the older number).
    pub seq: u64,
    pub submitted_ns: u64,
}

/// Which scheduler a queue uses (`scheduler=none|deadline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerKind {
    None,
    Deadline(DeadlineTunables),
}

impl SchedulerKind {
    pub fn deadline() -> Self {
        SchedulerKind::Deadline(DeadlineTunables::default())
    }

    /// Parses `none` or `deadline` (a kernel command-line value).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(SchedulerKind::None),
            "deadline" | "mq-deadline" => Some(Self::deadline()),
            _ => None,
        }
    }
}

/// mq-deadline's tunables, named as in `/sys/block/*/queue/iosched/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadlineTunables {
    pub read_expire_ns: u64,
    pub write_expire_ns: u64,
    pub fifo_batch: u32,
    pub writes_starved: u32,
}

impl Default for DeadlineTunables {
    fn default() -> Self {
        DeadlineTunables {
            read_expire_ns: 500_000_000,
            write_expire_ns: 5_000_000_000,
            fifo_batch: 16,
            writes_starved: 2,
        }
    }
}

const READ: usize = 0;
const WRITE: usize = 1;

/// Requests of one direction, sorted by sector, plus the sweep position.
#[derive(Default)]
struct DirQueue {
    sorted: Vec<Entry>,
    /// End of the last request dispatched in this direction.
    sweep: Option<u64>,
}

impl DirQueue {
    fn insert(&mut self, entry: Entry) {
        let at = self
            .sorted
            .partition_point(|e| e.req.sector <= entry.req.sector);
        self.sorted.insert(at, entry);
    }

    /// Index of the next request in sector order at or after the sweep.
    fn next_in_sweep(&self) -> Option<usize> {
        let pos = self.sweep?;
        let i = self.sorted.partition_point(|e| e.req.sector < pos);
        (i < self.sorted.len()).then_some(i)
    }

    /// Index of the oldest request.
    fn oldest(&self) -> Option<usize> {
        (0..self.sorted.len()).min_by_key(|&i| self.sorted[i].seq)
    }

    fn take(&mut self, i: usize) -> Request {
        let req = self.sorted.remove(i).req;
        self.sweep = Some(req.end());
        req
    }
}

/// mq-deadline state (see the module documentation).
pub struct Deadline {
    tun: DeadlineTunables,
    dirs: [DirQueue; 2],
    flushes: VecDeque<Request>,
    batch_dir: usize,
    batching: u32,
    starved: u32,
}

impl Deadline {
    fn new(tun: DeadlineTunables) -> Self {
        Deadline {
            tun,
            dirs: [DirQueue::default(), DirQueue::default()],
            flushes: VecDeque::new(),
            batch_dir: READ,
            batching: 0,
            starved: 0,
        }
    }

    fn expire_ns(&self, dir: usize) -> u64 {
        if dir == READ {
            self.tun.read_expire_ns
        } else {
            self.tun.write_expire_ns
        }
    }

    fn expired(&self, dir: usize, now_ns: u64) -> bool {
        match self.dirs[dir].oldest() {
            Some(i) => {
                let e = &self.dirs[dir].sorted[i];
                now_ns >= e.submitted_ns.saturating_add(self.expire_ns(dir))
            }
            None => false,
        }
    }

    fn dispatch(&mut self, now_ns: u64) -> Option<Request> {
        if let Some(f) = self.flushes.pop_front() {
            return Some(f);
        }
        // Continue the current batch.
        if self.batching > 0 && self.batching < self.tun.fifo_batch {
            let d = self.batch_dir;
            if let Some(i) = self.dirs[d].next_in_sweep() {
                self.batching += 1;
                return Some(self.dirs[d].take(i));
            }
        }
        // Start a new batch: choose the direction.
        let reads = !self.dirs[READ].sorted.is_empty();
        let writes = !self.dirs[WRITE].sorted.is_empty();
        let dir = if reads {
            if writes && self.starved >= self.tun.writes_starved {
                WRITE
            } else {
                if writes {
                    self.starved += 1;
                }
                READ
            }
        } else if writes {
            WRITE
        } else {
            self.batching = 0;
            return None;
        };
        if dir == WRITE {
            self.starved = 0;
        }
        // Choose the first request of the batch.
        let q = &self.dirs[dir];
        let i = match q.next_in_sweep() {
            Some(i) if !self.expired(dir, now_ns) => i,
            _ => q.oldest()?,
        };
        self.batch_dir = dir;
        self.batching = 1;
        Some(self.dirs[dir].take(i))
    }

    fn insert(&mut self, entry: Entry, limits: &QueueLimits) -> Option<Merge> {
        let dir = match entry.req.op {
            Op::Flush => {
                self.flushes.push_back(entry.req);
                return None;
            }
            Op::Read => READ,
            Op::Write => WRITE,
        };
        let q = &mut self.dirs[dir];
        // Only the neighbours in sector order can be adjacent.
        let at = q
            .sorted
            .partition_point(|e| e.req.sector < entry.req.sector);
        let mut req = entry.req;
        for i in [at.wrapping_sub(1), at] {
            if let Some(held) = q.sorted.get_mut(i) {
                match try_merge(&mut held.req, req, limits) {
                    Ok(m) => return Some(m),
                    Err(back) => req = back,
                }
            }
        }
        q.insert(Entry { req, ..entry });
        None
    }

    fn len(&self) -> usize {
        self.flushes.len() + self.dirs[READ].sorted.len() + self.dirs[WRITE].sorted.len()
    }
}

/// The scheduler a [`crate::RequestQueue`] dispatches through.
pub enum Scheduler {
    None(VecDeque<Request>),
    Deadline(Deadline),
}

impl Scheduler {
    pub(crate) fn new(kind: SchedulerKind) -> Self {
        match kind {
            SchedulerKind::None => Scheduler::None(VecDeque::new()),
            SchedulerKind::Deadline(t) => Scheduler::Deadline(Deadline::new(t)),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scheduler::None(_) => "none",
            Scheduler::Deadline(_) => "deadline",
        }
    }

    /// Requests waiting for dispatch.
    pub fn len(&self) -> usize {
        match self {
            Scheduler::None(q) => q.len(),
            Scheduler::Deadline(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts a request, merging it into a waiting one where possible.
    pub(crate) fn insert(&mut self, entry: Entry, limits: &QueueLimits) -> Option<Merge> {
        match self {
            Scheduler::None(q) => {
                let mut req = entry.req;
                for held in q.iter_mut() {
                    match try_merge(held, req, limits) {
                        Ok(m) => return Some(m),
                        Err(back) => req = back,
                    }
                }
                q.push_back(req);
                None
            }
            Scheduler::Deadline(d) => d.insert(entry, limits),
        }
    }

    pub(crate) fn dispatch(&mut self, now_ns: u64) -> Option<Request> {
        match self {
            Scheduler::None(q) => q.pop_front(),
            Scheduler::Deadline(d) => d.dispatch(now_ns),
        }
    }
}
