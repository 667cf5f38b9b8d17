//! `workload=diskbench mode=randread|seqread bs=BYTES ops=N qd=N [warmup=N]
//! [seed=N] [dev=N]`: the block driver's request path, `qd` requests kept
//! in flight. One op = one request of `bs` bytes.
//!
//! Fields besides the common ones: `access` (the `mode=` parameter; the
//! `mode` field is the execution mode, as in every workload), `bs`, `qd`,
//! `mib_per_s`, `avg_latency_ns` / `max_latency_ns` (submit to completion
//! seen), `avg_in_flight` (requests in flight right after each submit),
//! `notifications` and `notifications_per_request` (queue notifications:
//! the VM exits on the data path), `exits_per_request` (all register
//! accesses), `completion` (`polling` or `interrupt`) and `interrupts`
//! (completion interrupts taken). `warmup` requests (default 64) run first, unmeasured.
//!
//! Ranges: `bs` (4096) a multiple of 512 up to 4 MiB and the disk's size,
//! `ops` (10000) 1..=10^8, `qd` (16) 1..=256 (then capped at the requests
//! the device takes), `warmup` 0..=10^6; `qd` buffers of `bs` bytes must
//! fit in half the free memory.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use virtio_core::blk::{Op, SECTOR_SIZE};

use super::disk::{MAX_QD, device};
use super::{ANY, Params, Rng, begin, check_memory, dev_index, header};
use crate::platform;
use crate::virtio::blk::{BlkDevice, BlkError, Completion, Request};
use crate::virtio::dma::DmaBuf;
use crate::virtio::{DEVICE_TIMEOUT_NS, Spin};

#[derive(Default)]
struct Measured {
    elapsed_ns: u64,
    latency_sum: u64,
    latency_max: u64,
    in_flight_sum: u64,
    notifications: u64,
    exits: u64,
    interrupts: u64,
}

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let access = p.choice("mode", "randread", &["randread", "seqread"])?;
    let random = access == "randread";
    let bs = p.u64("bs", 4096, 1..=4 << 20)?;
    let ops = p.u64("ops", 10_000, 1..=100_000_000)?;
    let qd = p.u64("qd", 16, 1..=MAX_QD)?;
    let warmup = p.u64("warmup", 64, 0..=1_000_000)?;
    let seed = p.u64("seed", 1, ANY)?;
    let dev = dev_index(p)?;
    begin(p)?;
    check_memory("the request buffers (qd x bs)", qd * bs)?;
    let mut dev = device(dev)?;
    let qd = qd.min(dev.max_in_flight() as u64) as usize;
    let capacity = dev.limits.capacity_bytes();
    if !bs.is_multiple_of(SECTOR_SIZE) || bs > capacity {
        return Err(format!(
            "bs={bs}: a multiple of 512, at most 4 MiB and the disk's {capacity} bytes"
        ));
    }
    let blocks = capacity / bs;
    let mut buffers: Vec<DmaBuf> = (0..qd)
        .map(|_| DmaBuf::new(bs as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("out of memory for {qd} buffers of {bs} bytes"))?;
    let mut rng = Rng::new(seed);
    let mut next_block = 0u64;
    let mut pick = move || {
        let block = if random {
            rng.next() % blocks
        } else {
            next_block
        };
        next_block = (next_block + 1) % blocks;
        block * (bs / SECTOR_SIZE)
    };
    if warmup > 0 {
        bench(&mut dev, &mut buffers, warmup, bs as u32, &mut pick)?;
    }
    let m = bench(&mut dev, &mut buffers, ops, bs as u32, &mut pick)?;
    let bytes = ops * bs;
    let json = header("diskbench", ops, m.elapsed_ns)
        .str("access", access)
        .u64("bs", bs)
        .u64("qd", qd as u64)
        .f64(
            "mib_per_s",
            bytes as f64 / (1 << 20) as f64 / (m.elapsed_ns.max(1) as f64 / 1e9),
        )
        .f64("avg_latency_ns", m.latency_sum as f64 / ops as f64)
        .u64("max_latency_ns", m.latency_max)
        .f64("avg_in_flight", m.in_flight_sum as f64 / ops as f64)
        .u64("notifications", m.notifications)
        .raw(
            "notifications_per_request",
            &format!("{:.4}", m.notifications as f64 / ops as f64),
        )
        .raw(
            "exits_per_request",
            &format!("{:.4}", m.exits as f64 / ops as f64),
        )
        .str("completion", dev.completion_mode())
        .u64("interrupts", m.interrupts)
        .u64("warmup", warmup)
        .u64("capacity_bytes", capacity)
        .str("device", &format!("{:#x}", dev.transport().window.base));
    Ok(json.finish())
}

/// `ops` reads of `bs` bytes at sectors from `pick`, all buffers in flight.
fn bench(
    dev: &mut BlkDevice,
    buffers: &mut Vec<DmaBuf>,
    ops: u64,
    bs: u32,
    pick: &mut impl FnMut() -> u64,
) -> Result<Measured, String> {
    let mut m = Measured::default();
    let (mut submitted, mut completed) = (0u64, 0u64);
    let mut done: Vec<Completion> = Vec::with_capacity(buffers.len());
    let notifications = dev.notifications();
    let exits = dev.exits();
    let interrupts = dev.interrupts();
    let start = platform::now_ns();
    let mut spin = Spin::new(DEVICE_TIMEOUT_NS);
    while completed < ops {
        while submitted < ops {
            let Some(buf) = buffers.pop() else { break };
            let req = Request {
                op: Op::Read,
                sector: pick(),
                len: bs,
                bufs: vec![buf],
                token: submitted,
            };
            match dev.submit(req) {
                Ok(()) => {}
                Err((BlkError::Busy, req)) => {
                    buffers.extend(req.bufs);
                    break;
                }
                Err((e, _)) => return Err(format!("read: {e}")),
            }
            submitted += 1;
            m.in_flight_sum += dev.in_flight() as u64;
        }
        if !dev
            .kick_and_reap(&mut done, &mut spin)
            .map_err(|e| format!("{e}"))?
        {
            continue;
        }
        for c in done.drain(..) {
            if let Err(e) = c.result {
                return Err(format!("read at sector {}: {e}", c.sector));
            }
            m.latency_sum += c.latency_ns;
            m.latency_max = m.latency_max.max(c.latency_ns);
            buffers.extend(c.bufs);
            completed += 1;
        }
    }
    m.elapsed_ns = platform::now_ns() - start;
    m.notifications = dev.notifications() - notifications;
    m.interrupts = dev.interrupts() - interrupts;
    m.exits = dev.exits() - exits;
    Ok(m)
}
