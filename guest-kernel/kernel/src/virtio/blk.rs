//! virtio-blk driver (spec 5.2): one request queue, many requests in flight.
//!
//! # API
//!
//! Asynchronous, for callers that keep the queue full (block layer,
//! benchmarks):
//!
//! - [`BlkDevice::submit`] a [`Request`] (op, sector, length, owned
//!   [`DmaBuf`]s, caller's token); it is checked (read-only, capacity,
//!   length, segments) and queued, not yet visible to the device. The data
//!   may be scattered over several buffers (a merged block-layer request:
//!   one page-cache page each), one descriptor per buffer (or more, if a
//!   buffer exceeds the device's `size_max`): nothing is copied;
//! - [`BlkDevice::kick`] publishes everything queued, with at most one
//!   notification (VM exit), and only if the device asked for one;
//! - [`BlkDevice::poll`] collects [`Completion`]s (token, result, the
//!   buffers back), in whatever order the device finishes them.
//!
//! Blocking, for kernel threads: [`BlkDevice::read`], [`BlkDevice::flush`],
//! [`BlkDevice::get_id`] submit, kick and poll until their own request is
//! done (other completions are kept for `poll`).
//!
//! # Requests in memory
//!
//! Each request slot owns 32 bytes of one device-shared page: the 16-byte
//! header at 0 and the status byte at 16. The data buffers are the caller's
//! `DmaBuf`s, moved into the slot while the device owns them. A request's
//! chain is header, data segments, status. With VIRTIO_F_INDIRECT_DESC
//! (panvm and QEMU offer it) each slot also owns a 1 KiB indirect table and a
//! request takes one ring descriptor, however many segments it has (at most
//! 62): `min(queue size, 128)` slots. Without it a request takes 2 + segments
//! ring descriptors and there are `queue size / 3` slots, so a full set of
//! single-segment requests fits the ring.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use virtio_core::blk::{self, Limits, Op, RequestError, Status};
use virtio_core::mmio::feature::INDIRECT_DESC;
use virtio_core::ring::{AddError, Buffer, DESC_SIZE, DeviceError};

use super::dma::{DmaBuf, DmaRegion};
use super::irq::IrqLine;
use super::queue::Virtqueue;
use super::transport::Transport;
use super::{DEVICE_TIMEOUT_NS, Spin};
use crate::{platform, println};

const SLOT_BYTES: usize = 32;
const STATUS_OFFSET: usize = 16;
const MAX_SLOTS: usize = 4096 / SLOT_BYTES * 8;
/// Entries of one slot's indirect table: header, data segments, status.
const TABLE_ENTRIES: usize = 64;
const TABLE_BYTES: usize = TABLE_ENTRIES * DESC_SIZE;
/// Slots with indirect tables (128 KiB of tables at most).
const MAX_INDIRECT_SLOTS: usize = 128;

/// A request for [`BlkDevice::submit`].
pub struct Request {
    pub op: Op,
    /// First 512-byte sector (reads and writes).
    pub sector: u64,
    /// Bytes to transfer (multiple of 512; 20 for GET_ID; 0 for FLUSH).
    pub len: u32,
    /// The data, in order: every buffer is filled (or drained) completely
    /// except the last, which holds the rest of `len`. Empty for FLUSH.
    pub bufs: Vec<DmaBuf>,
    /// Returned in the completion.
    pub token: u64,
}

impl Request {
    /// Each data buffer with the bytes of the request it holds.
    fn data(&self) -> impl Iterator<Item = (&DmaBuf, u32)> {
        let mut left = self.len;
        self.bufs.iter().map(move |buf| {
            let used = left.min(buf.len() as u32);
            left -= used;
            (buf, used)
        })
    }
}

/// A finished request.
pub struct Completion {
    pub token: u64,
    pub op: Op,
    pub sector: u64,
    pub len: u32,
    pub result: Result<(), BlkError>,
    pub bufs: Vec<DmaBuf>,
    /// Submit to completion seen by `poll`.
    pub latency_ns: u64,
}

#[derive(Clone, Debug)]
pub enum BlkError {
    /// The driver refused the request (it never reached the device).
    Request(RequestError),
    /// No free request slot or descriptors now: poll, then submit again.
    Busy,
    /// The data buffers are missing, shorter than the request, or include
    /// one the request does not reach.
    NoBuffer,
    /// The device answered with an error status.
    Status(Status),
    /// The device broke the ring protocol; the device is unusable.
    Device(DeviceError),
    /// The device did not complete within the timeout.
    Timeout,
    /// Unusable since an earlier error.
    Broken(String),
}

impl fmt::Display for BlkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "{e}"),
            Self::Busy => f.write_str("queue full"),
            Self::NoBuffer => f.write_str("request without a (big enough) data buffer"),
            Self::Status(s) => write!(f, "device answered {s}"),
            Self::Device(e) => write!(f, "device broke the virtqueue protocol: {e}"),
            Self::Timeout => write!(
                f,
                "device did not complete a request in {} s",
                DEVICE_TIMEOUT_NS / 1_000_000_000
            ),
            Self::Broken(why) => write!(f, "device unusable: {why}"),
        }
    }
}

struct Slot {
    token: u64,
    op: Op,
    sector: u64,
    len: u32,
    bufs: Vec<DmaBuf>,
    submitted_ns: u64,
}

/// Counters since boot.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlkStats {
    pub submitted: u64,
    pub completed: u64,
    pub errors: u64,
    /// Reads and writes that completed without error, and their bytes.
    pub reads: u64,
    pub writes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

impl BlkStats {
    /// What happened since `earlier` (a copy taken then).
    pub fn since(&self, earlier: &BlkStats) -> BlkStats {
        BlkStats {
            submitted: self.submitted - earlier.submitted,
            completed: self.completed - earlier.completed,
            errors: self.errors - earlier.errors,
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
            bytes_read: self.bytes_read - earlier.bytes_read,
            bytes_written: self.bytes_written - earlier.bytes_written,
        }
    }
}

pub struct BlkDevice {
    transport: Transport,
    queue: Virtqueue<u16>,
    /// Interrupt-driven completion (interrupt mode), else polling.
    irq: Option<IrqLine>,
    pub limits: Limits,
    /// Refuse writes to a VIRTIO_BLK_F_RO device in the driver (true); a
    /// test may turn it off to see the device refuse them itself.
    pub enforce_read_only: bool,
    slots: Vec<Option<Slot>>,
    free_slots: Vec<u16>,
    headers: DmaRegion,
    /// One indirect table per slot, if VIRTIO_F_INDIRECT_DESC was negotiated.
    tables: Option<DmaRegion>,
    /// Completions `wait` took on behalf of other requests.
    parked: Vec<Completion>,
    scratch: Vec<Buffer>,
    next_token: u64,
    broken: Option<String>,
    pub stats: BlkStats,
}

impl BlkDevice {
    /// Negotiates features, reads the configuration, sets up the queue.
    pub fn new(mut transport: Transport) -> Result<Self, String> {
        use blk::feature as f;
        let wanted = f::SIZE_MAX | f::SEG_MAX | f::RO | f::BLK_SIZE | f::FLUSH | INDIRECT_DESC;
        transport.negotiate(wanted)?;
        let has = |bit| transport.has(bit);
        let limits = Limits {
            capacity: transport.config_u64(blk::config::CAPACITY),
            read_only: has(f::RO),
            flush: has(f::FLUSH),
            size_max: has(f::SIZE_MAX)
                .then(|| transport.config_u32(blk::config::SIZE_MAX))
                .filter(|&m| m >= 512),
            seg_max: has(f::SEG_MAX)
                .then(|| transport.config_u32(blk::config::SEG_MAX))
                .filter(|&m| m >= 1),
            blk_size: if has(f::BLK_SIZE) {
                transport.config_u32(blk::config::BLK_SIZE)
            } else {
                512
            },
        };
        let mut queue: Virtqueue<u16> = transport
            .setup_queue(0, u16::MAX)
            .inspect_err(|_| transport.fail())?;
        if queue.size() < 3 {
            transport.fail();
            return Err(format!(
                "queue of {} entries cannot hold a request (header, data, status)",
                queue.size()
            ));
        }
        let (nslots, tables) = if transport.has(INDIRECT_DESC) {
            let n = usize::from(queue.size()).min(MAX_INDIRECT_SLOTS);
            (
                n,
                Some(
                    DmaRegion::zeroed(n * TABLE_BYTES)
                        .ok_or("out of memory for indirect tables")?,
                ),
            )
        } else {
            ((usize::from(queue.size()) / 3).clamp(1, MAX_SLOTS), None)
        };
        let headers =
            DmaRegion::zeroed(nslots * SLOT_BYTES).ok_or("out of memory for request headers")?;
        transport.driver_ok();
        let irq = IrqLine::attach(&transport);
        if irq.is_some() {
            queue.set_interrupts(true);
        }
        Ok(Self {
            transport,
            queue,
            irq,
            limits,
            enforce_read_only: true,
            slots: (0..nslots).map(|_| None).collect(),
            free_slots: (0..nslots as u16).rev().collect(),
            headers,
            tables,
            parked: Vec::new(),
            scratch: Vec::with_capacity(64),
            next_token: 1 << 63,
            broken: None,
            stats: BlkStats::default(),
        })
    }

    /// For the boot line: capacity and what was negotiated.
    pub fn describe(&self) -> String {
        let l = &self.limits;
        format!(
            "capacity {} sectors, {} MiB{}{}, queue {}, {} requests in flight{}{}, {} completion",
            l.capacity,
            l.capacity_bytes() >> 20,
            if l.read_only { ", read-only" } else { "" },
            if l.flush { ", flush" } else { "" },
            self.queue.size(),
            self.slots.len(),
            if self.tables.is_some() {
                ", indirect descriptors"
            } else {
                ""
            },
            if self.queue.event_idx() {
                ", event idx"
            } else {
                ""
            },
            self.completion_mode(),
        )
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Requests that can be in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.slots.len()
    }

    /// Data descriptors one request may use: the device's `seg_max`, and
    /// the chain's room (the indirect table, or the ring) minus header and
    /// status.
    pub fn max_segments(&self) -> u64 {
        let room = self.chain_room();
        self.limits.seg_max.map_or(room, |m| u64::from(m).min(room))
    }

    /// Data descriptors that fit one chain, before the device's `seg_max`.
    fn chain_room(&self) -> u64 {
        let ring = usize::from(self.queue.size());
        let chain = if self.tables.is_some() {
            TABLE_ENTRIES.min(ring)
        } else {
            ring
        };
        (chain as u64).saturating_sub(2)
    }

    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free_slots.len()
    }

    /// How completions are found: "interrupt" or "polling".
    pub fn completion_mode(&self) -> &'static str {
        if self.irq.is_some() {
            "interrupt"
        } else {
            "polling"
        }
    }

    /// Completion interrupts taken since boot (0 when polling).
    pub fn interrupts(&self) -> u64 {
        self.irq.as_ref().map_or(0, IrqLine::events)
    }

    /// Waits a little for the device to complete something: with interrupts,
    /// sleeps until the next one (or timer tick) unless completions already
    /// wait; when polling, one spin round. False once `spin`'s deadline has
    /// passed.
    pub fn idle(&self, spin: &Spin) -> bool {
        if let Some(irq) = &self.irq {
            // Read the count before looking at the ring: a completion after
            // the look raises an interrupt newer than `seen`.
            let seen = irq.events();
            if !self.queue.has_used() {
                irq.wait(seen);
            }
        }
        spin.spin()
    }

    /// One round of a driver loop with requests in flight: kicks the device
    /// and reaps its completions into `done` (cleared first). With none yet,
    /// waits a little ([`Self::idle`]) and returns false; true once some
    /// came, restarting `spin`'s deadline. `BlkError::Timeout` when none
    /// came within that deadline.
    pub fn kick_and_reap(
        &mut self,
        done: &mut Vec<Completion>,
        spin: &mut Spin,
    ) -> Result<bool, BlkError> {
        self.kick();
        done.clear();
        self.poll(done)?;
        if done.is_empty() {
            return if self.idle(spin) {
                Ok(false)
            } else {
                Err(BlkError::Timeout)
            };
        }
        *spin = Spin::new(DEVICE_TIMEOUT_NS);
        Ok(true)
    }

    /// Notifications sent to the device (data-path VM exits).
    pub fn notifications(&self) -> u64 {
        self.queue.notifications()
    }

    /// Queues `req` (visible to the device after [`Self::kick`]). On error
    /// the request, with its buffer, comes back.
    pub fn submit(&mut self, req: Request) -> Result<(), (BlkError, Request)> {
        if let Some(why) = &self.broken {
            return Err((BlkError::Broken(why.clone()), req));
        }
        if let Err(e) = self.check(&req) {
            return Err((e, req));
        }
        let Some(slot) = self.free_slots.pop() else {
            return Err((BlkError::Busy, req));
        };
        let base = usize::from(slot) * SLOT_BYTES;
        self.headers
            .write_bytes(base, &blk::header(req.op, req.sector));
        self.headers
            .write_u8(base + STATUS_OFFSET, Status::UNWRITTEN);
        let headers_pa = self.headers.pa();
        self.scratch.clear();
        self.scratch.push(Buffer::readable(
            headers_pa + base as u64,
            blk::HEADER_SIZE as u32,
        ));
        let writable = req.op.device_writes_data();
        for (buf, used) in req.data() {
            for (offset, len) in self.limits.split(used) {
                self.scratch.push(Buffer {
                    addr: buf.pa() + u64::from(offset),
                    len,
                    writable,
                });
            }
        }
        self.scratch.push(Buffer::writable(
            headers_pa + (base + STATUS_OFFSET) as u64,
            1,
        ));
        let added = match &mut self.tables {
            Some(tables) => {
                let at = usize::from(slot) * TABLE_BYTES;
                let table_pa = tables.pa() + at as u64;
                self.queue
                    .add_indirect(tables, at, table_pa, &self.scratch, slot)
            }
            None => self.queue.add(&self.scratch, slot),
        };
        if let Err((e, _)) = added {
            self.free_slots.push(slot);
            return Err((
                match e {
                    AddError::Full { .. } => BlkError::Busy,
                    AddError::Broken(e) => BlkError::Device(e),
                    other => BlkError::Broken(format!("driver bug: {other}")),
                },
                req,
            ));
        }
        self.slots[usize::from(slot)] = Some(Slot {
            token: req.token,
            op: req.op,
            sector: req.sector,
            len: req.len,
            bufs: req.bufs,
            submitted_ns: platform::now_ns(),
        });
        self.stats.submitted += 1;
        Ok(())
    }

    fn check(&self, req: &Request) -> Result<(), BlkError> {
        // Every buffer must be reached: all but the last are filled whole.
        let len = req.len as usize;
        let total: usize = req.bufs.iter().map(DmaBuf::len).sum();
        let before_last = total - req.bufs.last().map_or(0, DmaBuf::len);
        let fits = match req.op {
            Op::Flush => req.bufs.is_empty(),
            _ => !req.bufs.is_empty() && len <= total && len > before_last,
        };
        if !fits || (req.op == Op::GetId && len != blk::ID_BYTES) {
            return Err(BlkError::NoBuffer);
        }
        let segments = req
            .data()
            .map(|(_, used)| self.limits.segments(u64::from(used)))
            .sum();
        let limits = Limits {
            read_only: self.limits.read_only && self.enforce_read_only,
            ..self.limits
        };
        limits
            .check(
                req.op,
                req.sector,
                u64::from(req.len),
                segments,
                self.chain_room(),
            )
            .map_err(BlkError::Request)
    }

    /// Publishes submitted requests; notifies the device if it asked.
    pub fn kick(&mut self) -> bool {
        self.queue.kick(&self.transport)
    }

    /// Moves finished requests to `out`; returns how many.
    pub fn poll(&mut self, out: &mut Vec<Completion>) -> Result<usize, BlkError> {
        let mut n = self.parked.len();
        out.append(&mut self.parked);
        if let Some(why) = &self.broken {
            return if n > 0 {
                Ok(n)
            } else {
                Err(BlkError::Broken(why.clone()))
            };
        }
        loop {
            match self.queue.poll() {
                Ok(Some(used)) => {
                    out.push(self.complete(used.token, used.len));
                    n += 1;
                }
                Ok(None) => return Ok(n),
                Err(e) => {
                    let why = format!("virtio-blk at {}: {e}", self.transport.describe());
                    println!("virtio: {why}; device disabled");
                    self.transport.fail();
                    self.broken = Some(why);
                    return Err(BlkError::Device(e));
                }
            }
        }
    }

    fn complete(&mut self, slot_index: u16, used_len: u32) -> Completion {
        let slot = self.slots[usize::from(slot_index)]
            .take()
            .expect("virtqueue returned a token it was given");
        let status = Status::from_byte(
            self.headers
                .read_u8(usize::from(slot_index) * SLOT_BYTES + STATUS_OFFSET),
        );
        self.free_slots.push(slot_index);
        self.stats.completed += 1;
        let result = match status {
            Status::Ok => {
                match slot.op {
                    Op::Read => {
                        self.stats.reads += 1;
                        self.stats.bytes_read += u64::from(slot.len);
                    }
                    Op::Write => {
                        self.stats.writes += 1;
                        self.stats.bytes_written += u64::from(slot.len);
                    }
                    _ => {}
                }
                Ok(())
            }
            other => {
                self.stats.errors += 1;
                if self.transport.needs_reset() {
                    let why = format!(
                        "virtio-blk at {}: device needs a reset (DEVICE_NEEDS_RESET)",
                        self.transport.describe()
                    );
                    println!("virtio: {why}; device disabled");
                    self.broken = Some(why);
                }
                Err(BlkError::Status(other))
            }
        };
        Completion {
            token: slot.token,
            op: slot.op,
            sector: slot.sector,
            len: used_len.saturating_sub(1).min(slot.len),
            result,
            bufs: slot.bufs,
            latency_ns: platform::now_ns().saturating_sub(slot.submitted_ns),
        }
    }

    /// Waits (polling) until request `token` completes; other completions
    /// are kept for the next `poll`.
    pub fn wait(&mut self, token: u64) -> Result<Completion, BlkError> {
        self.kick();
        if let Some(i) = self.parked.iter().position(|c| c.token == token) {
            return Ok(self.parked.swap_remove(i));
        }
        let spin = Spin::new(DEVICE_TIMEOUT_NS);
        let mut done = Vec::new();
        loop {
            if self.queue.has_used() {
                self.poll(&mut done)?;
                let mine = done
                    .iter()
                    .position(|c| c.token == token)
                    .map(|i| done.swap_remove(i));
                self.parked.append(&mut done);
                if let Some(c) = mine {
                    return Ok(c);
                }
            }
            if !self.idle(&spin) {
                return Err(BlkError::Timeout);
            }
        }
    }

    /// One request, start to finish: the buffers come back with the result.
    pub fn io(
        &mut self,
        op: Op,
        sector: u64,
        len: u32,
        bufs: Vec<DmaBuf>,
    ) -> (Vec<DmaBuf>, Result<u32, BlkError>) {
        let token = self.next_token;
        self.next_token += 1;
        let mut req = Request {
            op,
            sector,
            len,
            bufs,
            token,
        };
        let mut spin: Option<Spin> = None;
        loop {
            match self.submit(req) {
                Ok(()) => break,
                Err((BlkError::Busy, back)) => {
                    // All slots busy with asynchronous requests: let them finish.
                    req = back;
                    let mut done = Vec::new();
                    if let Err(e) = self.poll(&mut done) {
                        return (req.bufs, Err(e));
                    }
                    self.parked.append(&mut done);
                    self.kick();
                    let spin = spin.get_or_insert_with(|| Spin::new(DEVICE_TIMEOUT_NS));
                    if !self.idle(spin) {
                        return (req.bufs, Err(BlkError::Timeout));
                    }
                }
                Err((e, back)) => return (back.bufs, Err(e)),
            }
        }
        match self.wait(token) {
            Ok(c) => (c.bufs, c.result.map(|()| c.len)),
            Err(e) => (Vec::new(), Err(e)),
        }
    }

    /// Reads `len` bytes at `sector` into `buf`.
    pub fn read(&mut self, sector: u64, buf: DmaBuf, len: u32) -> Result<DmaBuf, BlkError> {
        let (mut bufs, result) = self.io(Op::Read, sector, len, vec![buf]);
        result.map(|_| bufs.pop().expect("a read returns its buffer"))
    }

    /// Makes completed writes durable. Without VIRTIO_BLK_F_FLUSH the device
    /// has no volatile cache (writes are durable when acknowledged), so
    /// there is nothing to send; returns whether a FLUSH was sent.
    pub fn flush(&mut self) -> Result<bool, BlkError> {
        if !self.limits.flush {
            return Ok(false);
        }
        self.io(Op::Flush, 0, 0, Vec::new()).1.map(|_| true)
    }

    /// The device's serial number (GET_ID), if it has one.
    pub fn get_id(&mut self) -> Result<String, BlkError> {
        let buf = DmaBuf::new(blk::ID_BYTES).ok_or(BlkError::NoBuffer)?;
        match self.io(Op::GetId, 0, blk::ID_BYTES as u32, vec![buf]) {
            (bufs, Ok(_)) => Ok(String::from(blk::id_string(bufs[0].as_slice()))),
            (_, Err(e)) => Err(e),
        }
    }

    /// MMIO accesses (VM exits) since boot, notifications included.
    pub fn exits(&self) -> u64 {
        self.transport.exits()
    }
}
