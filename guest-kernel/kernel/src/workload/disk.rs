//! Workloads on the first virtio-blk device (`dev=N` picks another):
//!
//! - `disksum [chunk=BYTES] [qd=N]`: reads the whole disk with up to `qd`
//!   requests of `chunk` bytes in flight and prints its SHA-256, which the
//!   host compares with `sha256sum` of the image.
//! - `diskwrite pattern=HEX [offset=BYTES] [length=BYTES] [chunk=] [qd=]
//!   [force=1]`: fills the range with the byte, then FLUSHes; the result
//!   line (`"flushed":true`) is printed only after the flush completed, so
//!   a host that kills the VMM right after finds the data in the image. A
//!   read-only device makes the driver refuse; `force=1` sends the writes
//!   anyway to see the device refuse them.
//!
//! Both keep the queue full: completed buffers are refilled and resubmitted
//! in the same polling round, and one kick publishes the round. `chunk` is
//! a multiple of 512 up to 4 MiB, `qd` 1..=256 (then capped at what the
//! device takes), and `qd` buffers of `chunk` bytes must fit in half the
//! free memory.
//!
//! Every workload on a virtio-blk device takes it through [`device`], which
//! first drops a page cache kept by a file workload (`keep_cache=1`,
//! file.rs): that cache holds the device. A workload reads all its
//! parameters and calls `begin` before that (`offset` and `length`, whose
//! ranges depend on the disk's size, are read first and checked once the
//! size is known), so a refused command leaves a kept cache alone.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use virtio_core::blk::{Op, SECTOR_SIZE, Status};
use virtio_core::hex::{parse_byte, to_hex};
use virtio_core::sha256::Sha256;

use super::{ANY, Params, begin, check_memory, dev_index, header, in_range};
use crate::platform;
use crate::virtio::blk::{BlkDevice, BlkError, Completion, Request};
use crate::virtio::dma::DmaBuf;
use crate::virtio::{self, Claimed, DEVICE_TIMEOUT_NS, Spin};

pub const DEFAULT_CHUNK: u64 = 1 << 20;
pub const DEFAULT_QD: u64 = 8;
/// Requests in flight a workload may ask for (the device may take fewer).
pub const MAX_QD: u64 = 256;

/// Virtio-blk device `dev`, after writing back and dropping a kept page
/// cache.
pub fn device(dev: usize) -> Result<Claimed<BlkDevice>, String> {
    super::drop_kept_cache();
    virtio::claim::<BlkDevice>(dev)
}

/// `qd` (default 8) buffers of `bytes` each, if they fit in memory.
pub fn queue_depth(p: &Params<'_>, bytes: u64) -> Result<usize, String> {
    let qd = p.u64("qd", DEFAULT_QD, 1..=MAX_QD)?;
    check_memory("the request buffers (qd x size)", qd * bytes)?;
    Ok(qd as usize)
}

/// What `stream` did: requests, bytes, elapsed time, notifications,
/// completion interrupts.
pub struct Streamed {
    pub requests: u64,
    pub bytes: u64,
    pub elapsed_ns: u64,
    pub notifications: u64,
    pub exits: u64,
    pub interrupts: u64,
}

/// A range of the disk to stream through in `chunk`-byte requests, `qd` in flight.
pub struct Span {
    pub op: Op,
    pub offset: u64,
    pub length: u64,
    pub chunk: u64,
    pub qd: usize,
}

/// Reads or writes `span`. `fill(i, buf)` prepares chunk `i` before a
/// write; `done(i, buf)` sees each chunk in order after a read (or write).
pub fn stream(
    dev: &mut BlkDevice,
    span: Span,
    mut fill: impl FnMut(u64, &mut [u8]),
    mut done: impl FnMut(u64, &[u8]),
) -> Result<Streamed, String> {
    let Span {
        op,
        offset,
        length,
        chunk,
        qd,
    } = span;
    let chunks = length.div_ceil(chunk);
    let qd = qd.clamp(1, dev.max_in_flight()).min(chunks.max(1) as usize);
    let mut free: Vec<DmaBuf> = (0..qd)
        .map(|_| DmaBuf::new(chunk as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("out of memory for {qd} buffers of {chunk} bytes"))?;
    // Completed chunks waiting for their turn, by index % qd.
    let mut ready: Vec<Option<(DmaBuf, u32)>> = (0..qd).map(|_| None).collect();
    let (mut next_submit, mut next_done) = (0u64, 0u64);
    let mut completions: Vec<Completion> = Vec::with_capacity(qd);
    let notifications = dev.notifications();
    let exits = dev.exits();
    let interrupts = dev.interrupts();
    let start = platform::now_ns();
    let mut spin = Spin::new(DEVICE_TIMEOUT_NS);
    while next_done < chunks {
        while next_submit < chunks && next_submit < next_done + qd as u64 {
            let Some(mut buf) = free.pop() else { break };
            let at = offset + next_submit * chunk;
            let len = chunk.min(offset + length - at) as u32;
            if op == Op::Write {
                fill(next_submit, &mut buf.as_mut_slice()[..len as usize]);
            }
            let req = Request {
                op,
                sector: at / SECTOR_SIZE,
                len,
                bufs: vec![buf],
                token: next_submit,
            };
            if let Err((e, req)) = dev.submit(req) {
                free.extend(req.bufs);
                if matches!(e, BlkError::Busy) {
                    break;
                }
                return Err(format!("{} at byte {at}: {e}", op.name()));
            }
            next_submit += 1;
        }
        if !dev
            .kick_and_reap(&mut completions, &mut spin)
            .map_err(|e| format!("{e}"))?
        {
            continue;
        }
        for c in completions.drain(..) {
            let buf = c
                .bufs
                .into_iter()
                .next()
                .expect("data requests return their buffer");
            if let Err(e) = c.result {
                return Err(format!("{} at sector {}: {e}", c.op.name(), c.sector));
            }
            let len = chunk.min(length - c.token * chunk) as u32;
            ready[(c.token % qd as u64) as usize] = Some((buf, len));
        }
        while let Some((buf, len)) = ready[(next_done % qd as u64) as usize].take() {
            done(next_done, &buf.as_slice()[..len as usize]);
            free.push(buf);
            next_done += 1;
        }
    }
    Ok(Streamed {
        requests: chunks,
        bytes: length,
        elapsed_ns: platform::now_ns() - start,
        notifications: dev.notifications() - notifications,
        exits: dev.exits() - exits,
        interrupts: dev.interrupts() - interrupts,
    })
}

fn mib_per_s(bytes: u64, ns: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / (ns.max(1) as f64 / 1e9)
}

pub fn disksum(p: &Params<'_>) -> Result<String, String> {
    let chunk = check_chunk(p)?;
    let qd = queue_depth(p, chunk)?;
    let dev = dev_index(p)?;
    begin(p)?;
    let mut dev = device(dev)?;
    let bytes = dev.limits.capacity_bytes();
    let mut hash = Sha256::new();
    let span = Span {
        op: Op::Read,
        offset: 0,
        length: bytes,
        chunk,
        qd,
    };
    let mut hash_ns = 0;
    let s = stream(
        &mut dev,
        span,
        |_, _| {},
        |_, data| {
            let t = platform::now_ns();
            hash.update(data);
            hash_ns += platform::now_ns() - t;
        },
    )?;
    let id = match dev.get_id() {
        Ok(id) => id,
        Err(BlkError::Status(Status::Unsupported)) => String::from("(GET_ID unsupported)"),
        Err(e) => return Err(format!("get-id: {e}")),
    };
    let json = header("disksum", s.requests, s.elapsed_ns)
        .u64("bytes", s.bytes)
        .str("sha256", &to_hex(&hash.finish()))
        .u64("sha256_ns", hash_ns)
        .f64("mib_per_s", mib_per_s(s.bytes, s.elapsed_ns))
        .u64("chunk", chunk)
        .u64("qd", qd as u64)
        .u64("notifications", s.notifications)
        .u64("exits", s.exits)
        .str("completion", dev.completion_mode())
        .u64("interrupts", s.interrupts)
        .str("device", &format!("{:#x}", dev.transport().window.base))
        .str("id", &id);
    Ok(json.finish())
}

/// `chunk=BYTES`: a multiple of 512 up to 4 MiB.
fn check_chunk(p: &Params<'_>) -> Result<u64, String> {
    let chunk = p.u64("chunk", DEFAULT_CHUNK, 1..=4 << 20)?;
    if !chunk.is_multiple_of(SECTOR_SIZE) {
        return Err(format!("chunk={chunk}: a multiple of 512 up to 4 MiB"));
    }
    Ok(chunk)
}

pub fn diskwrite(p: &Params<'_>) -> Result<String, String> {
    let pattern_text = p.str("pattern", "")?;
    let pattern = parse_byte(pattern_text).ok_or_else(|| {
        format!("pattern={pattern_text:?}: expected one hex byte, e.g. pattern=5a")
    })?;
    let chunk = check_chunk(p)?;
    let qd = queue_depth(p, chunk)?;
    let force = p.flag("force")?;
    // Their ranges depend on the disk's size: checked once it is known.
    let offset = p.opt_u64("offset", ANY)?;
    let length = p.opt_u64("length", ANY)?;
    let dev = dev_index(p)?;
    begin(p)?;
    let mut dev = device(dev)?;
    let capacity = dev.limits.capacity_bytes();
    let offset = in_range("offset", offset.unwrap_or(0), 0..=capacity)?;
    let length = in_range(
        "length",
        length.unwrap_or(capacity - offset),
        0..=capacity - offset,
    )?;
    if !offset.is_multiple_of(SECTOR_SIZE) || !length.is_multiple_of(SECTOR_SIZE) || length == 0 {
        return Err(format!(
            "offset={offset} length={length}: positive multiples of 512"
        ));
    }
    dev.enforce_read_only = !force;
    let span = Span {
        op: Op::Write,
        offset,
        length,
        chunk,
        qd,
    };
    let written = stream(&mut dev, span, |_, buf| buf.fill(pattern), |_, _| {});
    dev.enforce_read_only = true;
    let s = written.map_err(|e| format!("virtio-blk at {}: {e}", dev.transport().describe()))?;
    let flush_start = platform::now_ns();
    let flushed = dev.flush().map_err(|e| format!("flush: {e}"))?;
    let flush_ns = platform::now_ns() - flush_start;
    // Read the first chunk back through the blocking path.
    let check_len = chunk.min(length) as u32;
    let buf = DmaBuf::new(check_len as usize).ok_or("out of memory for the read-back buffer")?;
    let buf = dev
        .read(offset / SECTOR_SIZE, buf, check_len)
        .map_err(|e| format!("read-back: {e}"))?;
    let verified = buf.as_slice().iter().all(|&b| b == pattern);
    let json = header("diskwrite", s.requests, s.elapsed_ns)
        .str("pattern", &to_hex(&[pattern]))
        .u64("offset", offset)
        .u64("length", length)
        .u64("bytes", s.bytes)
        .f64("mib_per_s", mib_per_s(s.bytes, s.elapsed_ns))
        .raw("flushed", "true")
        .str(
            "flush",
            if flushed {
                "sent"
            } else {
                "not needed (no VIRTIO_BLK_F_FLUSH: write-through)"
            },
        )
        .u64("flush_ns", flush_ns)
        .raw("verified", if verified { "true" } else { "false" })
        .u64("verified_bytes", u64::from(check_len))
        .u64("notifications", s.notifications)
        .u64("exits", s.exits)
        .str("completion", dev.completion_mode())
        .u64("interrupts", s.interrupts);
    Ok(json.finish())
}
