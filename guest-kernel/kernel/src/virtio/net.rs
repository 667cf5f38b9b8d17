//! virtio-net driver (spec 5.1): one receive and one transmit queue, frames
//! preceded by the 12-byte `virtio_net_hdr`, no offloads, MAC from the
//! configuration space (VIRTIO_NET_F_MAC) or a locally administered one.
//!
//! On a legacy transport (virtio-mmio version 1) the header is 10 bytes (no
//! VIRTIO_F_VERSION_1, no VIRTIO_NET_F_MRG_RXBUF: no `num_buffers`), and
//! unless the device offers VIRTIO_F_ANY_LAYOUT (QEMU does, unless
//! `any_layout=off`) it gets a descriptor of its own in front of the
//! frame's, in the same buffer (spec 5.1.6.6, legacy): chains of two, so
//! half as many buffers fit the queues.
//!
//! Receive buffers (one page each, 2048 bytes offered) are posted at start
//! and re-posted as soon as a frame is copied out; transmit buffers come
//! from a small pool and return to it when the device has sent them.
//! Both directions complete by polling.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use virtio_core::mmio::feature::{ANY_LAYOUT, VERSION_1};
use virtio_core::net::{self, HDR_LEN, MAX_FRAME, MacAddr};
use virtio_core::ring::Buffer;

use super::dma::DmaBuf;
use super::queue::Virtqueue;
use super::transport::Transport;
use super::{DEVICE_TIMEOUT_NS, Spin};

/// Receive buffer size offered to the device (>= 12 + 1514, spec 5.1.6.3.1).
const RX_BUF: usize = 2048;
const RX_BUFFERS: u16 = 128;
const TX_BUFFERS: usize = 32;

#[derive(Clone, Copy, Debug, Default)]
pub struct NetStats {
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// Received chains too short for a header, or frames longer than the caller's buffer.
    pub rx_dropped: u64,
}

pub struct NetDevice {
    transport: Transport,
    rx: Virtqueue<DmaBuf>,
    tx: Virtqueue<DmaBuf>,
    pub mac: MacAddr,
    mac_from_device: bool,
    /// `virtio_net_hdr` bytes in front of every frame (12; legacy: 10).
    hdr_len: usize,
    /// Legacy without VIRTIO_F_ANY_LAYOUT: the header in its own descriptor.
    split_header: bool,
    tx_pool: Vec<DmaBuf>,
    pub stats: NetStats,
    broken: Option<String>,
}

impl NetDevice {
    pub fn new(mut transport: Transport) -> Result<Self, String> {
        let legacy_layout = if transport.legacy() { ANY_LAYOUT } else { 0 };
        transport.negotiate(net::feature::MAC | net::feature::STATUS | legacy_layout)?;
        let hdr_len = net::header_len(
            transport.has(VERSION_1),
            transport.has(net::feature::MRG_RXBUF),
        );
        let split_header = transport.legacy() && !transport.has(ANY_LAYOUT);
        let descs_per_frame = if split_header { 2 } else { 1 };
        let mac_from_device = transport.has(net::feature::MAC);
        let mac = if mac_from_device {
            MacAddr(transport.config_bytes::<6>(net::config::MAC))
        } else {
            MacAddr::local(transport.window.base as u32)
        };
        let mut rx = transport
            .setup_queue(net::RX_QUEUE, RX_BUFFERS)
            .inspect_err(|_| transport.fail())?;
        let tx = transport
            .setup_queue(net::TX_QUEUE, 256)
            .inspect_err(|_| transport.fail())?;
        if rx.size() < descs_per_frame || tx.size() < descs_per_frame {
            transport.fail();
            return Err(format!(
                "queues of {}/{} entries cannot hold a frame's chain",
                rx.size(),
                tx.size()
            ));
        }
        for _ in 0..rx.size() / descs_per_frame {
            let buf = DmaBuf::new(RX_BUF).ok_or("out of memory for receive buffers")?;
            let (chain, n) = frame_chain(buf.pa(), RX_BUF, hdr_len, split_header, true);
            rx.add(&chain[..n], buf)
                .map_err(|(e, _)| format!("posting receive buffers: {e}"))?;
        }
        let tx_pool = (0..TX_BUFFERS.min(usize::from(tx.size() / descs_per_frame)))
            .map(|_| DmaBuf::new(HDR_LEN + MAX_FRAME))
            .collect::<Option<Vec<_>>>()
            .ok_or("out of memory for transmit buffers")?;
        transport.driver_ok();
        let mut dev = Self {
            transport,
            rx,
            tx,
            mac,
            mac_from_device,
            hdr_len,
            split_header,
            tx_pool,
            stats: NetStats::default(),
            broken: None,
        };
        dev.rx.kick(&dev.transport);
        Ok(dev)
    }

    pub fn describe(&self) -> String {
        let link = if self.transport.has(net::feature::STATUS) {
            if self.transport.config_u16(net::config::STATUS) & net::STATUS_LINK_UP != 0 {
                ", link up"
            } else {
                ", link down"
            }
        } else {
            ""
        };
        let header = match (self.transport.legacy(), self.split_header) {
            (false, _) => String::new(),
            (true, false) => format!(", {}-byte header", self.hdr_len),
            (true, true) => format!(", {}-byte header in its own descriptor", self.hdr_len),
        };
        format!(
            "mac {}{}{link}, queues {}/{}{}{header}",
            self.mac,
            if self.mac_from_device {
                ""
            } else {
                " (local: device has none)"
            },
            self.rx.size(),
            self.tx.size(),
            if self.rx.event_idx() {
                ", event idx"
            } else {
                ""
            },
        )
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Notifications sent on both queues (data-path VM exits).
    pub fn notifications(&self) -> u64 {
        self.rx.notifications() + self.tx.notifications()
    }

    fn fail(&mut self, why: String) -> String {
        let why = format!("virtio-net at {}: {why}", self.transport.describe());
        if self.broken.is_none() {
            self.transport.fail();
            self.broken = Some(why.clone());
        }
        why
    }

    /// Copies the next received frame (without the virtio header) into
    /// `out` and returns its length, or `None` if nothing arrived.
    pub fn recv(&mut self, out: &mut [u8]) -> Result<Option<usize>, String> {
        if let Some(why) = &self.broken {
            return Err(why.clone());
        }
        loop {
            let used = match self.rx.poll() {
                Ok(Some(used)) => used,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(format!("receive queue: {e}"))),
            };
            let len = used.len as usize; // <= RX_BUF: checked by the ring
            let buf = used.token;
            let hdr = self.hdr_len;
            let frame = len.checked_sub(hdr).filter(|&n| n <= out.len());
            if let Some(n) = frame {
                out[..n].copy_from_slice(&buf.as_slice()[hdr..hdr + n]);
            }
            // Back to the device at once.
            let (chain, descs) = frame_chain(buf.pa(), RX_BUF, hdr, self.split_header, true);
            if let Err((e, _)) = self.rx.add(&chain[..descs], buf) {
                return Err(self.fail(format!("re-posting a receive buffer: {e}")));
            }
            self.rx.kick(&self.transport);
            match frame {
                Some(n) => {
                    self.stats.rx_frames += 1;
                    return Ok(Some(n));
                }
                None => self.stats.rx_dropped += 1,
            }
        }
    }

    /// Takes sent buffers back into the pool.
    fn reclaim(&mut self) -> Result<(), String> {
        let reclaimed = self.tx.reclaim(&mut self.tx_pool);
        reclaimed.map_err(|e| self.fail(format!("transmit queue: {e}")))
    }

    /// Sends one Ethernet frame (at most 1514 bytes).
    pub fn send(&mut self, frame: &[u8]) -> Result<(), String> {
        if let Some(why) = &self.broken {
            return Err(why.clone());
        }
        if frame.is_empty() || frame.len() > MAX_FRAME {
            return Err(format!("frame of {} bytes (1..={MAX_FRAME})", frame.len()));
        }
        self.reclaim()?;
        let spin = Spin::new(DEVICE_TIMEOUT_NS);
        let mut buf = loop {
            if let Some(buf) = self.tx_pool.pop() {
                break buf;
            }
            if !spin.spin() {
                return Err(self.fail(String::from(
                    "transmit buffers not returned within the timeout",
                )));
            }
            self.reclaim()?;
        };
        let hdr = self.hdr_len;
        let bytes = buf.as_mut_slice();
        bytes[..hdr].fill(0);
        bytes[hdr..hdr + frame.len()].copy_from_slice(frame);
        let (chain, descs) =
            frame_chain(buf.pa(), hdr + frame.len(), hdr, self.split_header, false);
        if let Err((e, buf)) = self.tx.add(&chain[..descs], buf) {
            self.tx_pool.push(buf);
            return Err(self.fail(format!("transmit: {e}")));
        }
        self.tx.kick(&self.transport);
        self.stats.tx_frames += 1;
        Ok(())
    }
}

/// The chain for a buffer at `pa` of `len` bytes that starts with a
/// `hdr_len`-byte header: one descriptor, or with `split_header` two (the
/// header's, then the frame's). Returns the descriptors and how many are used.
fn frame_chain(
    pa: u64,
    len: usize,
    hdr_len: usize,
    split_header: bool,
    writable: bool,
) -> ([Buffer; 2], usize) {
    let buf = |addr, len: usize| Buffer {
        addr,
        len: len as u32,
        writable,
    };
    if split_header {
        (
            [buf(pa, hdr_len), buf(pa + hdr_len as u64, len - hdr_len)],
            2,
        )
    } else {
        ([buf(pa, len), buf(pa, len)], 1)
    }
}
