//! ferrite's block layer: the part of the block path between the page cache
//! and the virtio-blk driver, after Linux's `block/blk-mq.c`, `blk-merge.c`,
//! `mq-deadline.c` and `mm/readahead.c` (simplified).
//!
//! - [`Request`] (`request.rs`): one I/O on a run of sectors. Its data is a
//!   list of [`BufRef`]s, opaque (address, length) references to page-cache
//!   buffers: the block layer never copies data; merging two requests only
//!   concatenates their buffer lists, and the driver turns each `BufRef` into
//!   one virtqueue descriptor.
//! - [`RequestQueue`] (`queue.rs`): plugging, front/back merging within
//!   [`QueueLimits`], and dispatch through a scheduler; [`QueueStats`].
//! - [`Scheduler`] (`sched.rs`): `none` (FIFO) and `deadline` (mq-deadline,
//!   simplified).
//! - [`Readahead`] (`readahead.rs`): the sequential-stream detector that
//!   decides how much to read ahead.
//!
//! Time is passed in by the caller (`now_ns`), so tests drive a fake clock.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod queue;
mod readahead;
mod request;
mod sched;

pub use queue::{QueueLimits, QueueStats, RequestQueue};
pub use readahead::{Readahead, ReadaheadWindow, STREAMS};
pub use request::{BufRef, Op, Request};
pub use sched::{DeadlineTunables, Scheduler, SchedulerKind};

#[cfg(test)]
mod tests;
