//! virtio-net driver (spec 5.1): one receive and one transmit queue, frames
//! preceded by the 12-byte `virtio_net_hdr`, no offloads, MAC from the
//! configuration space (VIRTIO_NET_F_MAC) or a locally administered one.
//!
//! Receive buffers (one page each, 2048 bytes offered) are posted at start
//! and re-posted as soon as a frame is copied out; transmit buffers come
//! from a small pool and return to it when the device has sent them.
//! Both directions complete by polling.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

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
    tx_pool: Vec<DmaBuf>,
    pub stats: NetStats,
    broken: Option<String>,
}

impl NetDevice {
    pub fn new(mut transport: Transport) -> Result<Self, String> {
        transport.negotiate(net::feature::MAC | net::feature::STATUS)?;
        let mac_from_device = transport.has(net::feature::MAC);
        let mac = if mac_from_device {
            MacAddr(transport.config_bytes::<6>(net::config::MAC))
        } else {
            MacAddr::local(transport.window.base as u32)
        };
        let mut rx = transport.setup_queue(net::RX_QUEUE, RX_BUFFERS).inspect_err(|_| transport.fail())?;
        let tx = transport.setup_queue(net::TX_QUEUE, 256).inspect_err(|_| transport.fail())?;
        for _ in 0..rx.size() {
            let buf = DmaBuf::new(RX_BUF).ok_or("out of memory for receive buffers")?;
            let chain = [Buffer::writable(buf.pa(), RX_BUF as u32)];
            rx.add(&chain, buf).map_err(|(e, _)| format!("posting receive buffers: {e}"))?;
        }
        let tx_pool = (0..TX_BUFFERS.min(usize::from(tx.size())))
            .map(|_| DmaBuf::new(HDR_LEN + MAX_FRAME))
            .collect::<Option<Vec<_>>>()
            .ok_or("out of memory for transmit buffers")?;
        transport.driver_ok();
        let mut dev = Self { transport, rx, tx, mac, mac_from_device, tx_pool, stats: NetStats::default(), broken: None };
        dev.rx.kick(&dev.transport);
        Ok(dev)
    }

    pub fn describe(&self) -> String {
        let link = if self.transport.has(net::feature::STATUS) {
            if self.transport.config_u16(net::config::STATUS) & net::STATUS_LINK_UP != 0 { ", link up" } else { ", link down" }
        } else {
            ""
        };
        format!(
            "mac {}{}{link}, queues {}/{}{}",
            self.mac,
            if self.mac_from_device { "" } else { " (local: device has none)" },
            self.rx.size(),
            self.tx.size(),
            if self.rx.event_idx() { ", event idx" } else { "" },
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
            let frame = len.checked_sub(HDR_LEN).filter(|&n| n <= out.len());
            if let Some(n) = frame {
                out[..n].copy_from_slice(&buf.as_slice()[HDR_LEN..HDR_LEN + n]);
            }
            // Back to the device at once.
            let chain = [Buffer::writable(buf.pa(), RX_BUF as u32)];
            if let Err((e, _)) = self.rx.add(&chain, buf) {
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
                return Err(self.fail(String::from("transmit buffers not returned within the timeout")));
            }
            self.reclaim()?;
        };
        let bytes = buf.as_mut_slice();
        bytes[..HDR_LEN].fill(0);
        bytes[HDR_LEN..HDR_LEN + frame.len()].copy_from_slice(frame);
        let chain = [Buffer::readable(buf.pa(), (HDR_LEN + frame.len()) as u32)];
        if let Err((e, buf)) = self.tx.add(&chain, buf) {
            self.tx_pool.push(buf);
            return Err(self.fail(format!("transmit: {e}")));
        }
        self.tx.kick(&self.transport);
        self.stats.tx_frames += 1;
        Ok(())
    }
}
