//! virtio-console driver (spec 5.3): a byte stream to and from the host,
//! used as the control channel (`ctl=console`, ctl.rs).
//!
//! No console feature is negotiated. Without VIRTIO_CONSOLE_F_MULTIPORT the
//! device has exactly one port, port 0, and two queues (spec 5.3.2):
//! receiveq (0), device-writable buffers the driver posts and the device
//! fills with input from the host, and transmitq (1), device-readable
//! buffers of output. There is no control queue, and the configuration
//! space (console size, port count, emergency write) is not read. The
//! stream has no framing: one line may arrive in several buffers, and one
//! buffer may hold several lines.
//!
//! # Receiving
//!
//! `RX_BUFFERS` pages are posted at start. [`ConsoleDevice::read`] copies
//! the bytes of a used buffer out (as many as the caller takes; the rest
//! waits for the next call) and reposts the buffer as soon as it is empty,
//! so the device always has room unless the reader falls behind. Input the
//! device has no buffer for waits in the host: nothing is lost.
//!
//! # Transmitting
//!
//! [`ConsoleDevice::write`] copies output into buffers from a pool of
//! `TX_BUFFERS` pages, several in flight at once, and notifies the device;
//! a buffer returns to the pool when the device hands it back (it has
//! passed the bytes on). A host that does not read holds the buffers back
//! (flow control). A writer then waits as long as it takes: unlike a disk
//! request, a console that does not complete is not broken. It prints a
//! note on COM1 every `DEVICE_TIMEOUT_NS` and checks DEVICE_NEEDS_RESET.
//! A device that breaks the ring protocol (`DeviceError`) or needs a reset
//! is reported on COM1 and given up on: every later call returns the error.
//!
//! # Completion
//!
//! In polling mode (PVM native mode) the driver asks for no interrupts and
//! looks at the used rings, a memory read without a VM exit; a reader with
//! nothing to read sleeps for the caller's polling interval. In interrupt
//! mode both queues ask for an interrupt per completion and a waiter sleeps
//! in `hlt` until one comes (`irq.rs`: the handler only acknowledges and
//! counts). The only exits on the data path are notifications, when the
//! device asked for them (event idx).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Display;

use virtio_core::ring::Buffer;

use super::DEVICE_TIMEOUT_NS;
use super::dma::DmaBuf;
use super::irq::IrqLine;
use super::queue::Virtqueue;
use super::transport::Transport;
use crate::{platform, println, task};

/// Queue indices of port 0 without VIRTIO_CONSOLE_F_MULTIPORT (spec 5.3.2).
const RECEIVEQ: u16 = 0;
const TRANSMITQ: u16 = 1;
/// Bytes per buffer, both ways: one page, which a `DmaBuf` takes anyway.
const BUF_SIZE: usize = 4096;
const RX_BUFFERS: u16 = 8;
const TX_BUFFERS: u16 = 8;

/// A used receive buffer whose bytes are not all read yet.
struct Received {
    buf: DmaBuf,
    len: usize,
    read: usize,
}

pub struct ConsoleDevice {
    transport: Transport,
    receiveq: Virtqueue<DmaBuf>,
    transmitq: Virtqueue<DmaBuf>,
    /// Interrupt-driven completion (interrupt mode), else polling.
    irq: Option<IrqLine>,
    received: Option<Received>,
    /// Transmit buffers not at the device.
    tx_pool: Vec<DmaBuf>,
    tx_buffers: usize,
    broken: Option<String>,
}

impl ConsoleDevice {
    /// Negotiates (no features), sets up both queues, posts the receive buffers.
    pub fn new(mut transport: Transport) -> Result<Self, String> {
        transport.negotiate(0)?;
        let mut receiveq = transport
            .setup_queue(RECEIVEQ, RX_BUFFERS)
            .inspect_err(|_| transport.fail())?;
        let mut transmitq = transport
            .setup_queue(TRANSMITQ, TX_BUFFERS)
            .inspect_err(|_| transport.fail())?;
        for _ in 0..receiveq.size() {
            let buf = DmaBuf::new(BUF_SIZE).ok_or("out of memory for receive buffers")?;
            let chain = [Buffer::writable(buf.pa(), BUF_SIZE as u32)];
            receiveq
                .add(&chain, buf)
                .map_err(|(e, _)| format!("posting receive buffers: {e}"))?;
        }
        let tx_pool = (0..transmitq.size())
            .map(|_| DmaBuf::new(BUF_SIZE))
            .collect::<Option<Vec<_>>>()
            .ok_or("out of memory for transmit buffers")?;
        transport.driver_ok();
        let irq = IrqLine::attach(&transport);
        if irq.is_some() {
            receiveq.set_interrupts(true);
            transmitq.set_interrupts(true);
        }
        let tx_buffers = tx_pool.len();
        let mut dev = Self {
            transport,
            receiveq,
            transmitq,
            irq,
            received: None,
            tx_pool,
            tx_buffers,
            broken: None,
        };
        dev.receiveq.kick(&dev.transport);
        Ok(dev)
    }

    /// For the boot line.
    pub fn describe(&self) -> String {
        format!(
            "queues {}/{} of {BUF_SIZE}-byte buffers{}, {} completion",
            self.receiveq.size(),
            self.transmitq.size(),
            if self.receiveq.event_idx() {
                ", event idx"
            } else {
                ""
            },
            if self.irq.is_some() {
                "interrupt"
            } else {
                "polling"
            },
        )
    }

    /// Copies input that has arrived into `out`; returns how many bytes
    /// (0: none waits). Never waits.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, String> {
        self.check()?;
        let mut n = 0;
        while n < out.len() {
            let mut received = match self.received.take() {
                Some(received) => received,
                None => match self.receiveq.poll() {
                    // len <= BUF_SIZE: the ring checks it against the buffer.
                    Ok(Some(used)) => Received {
                        buf: used.token,
                        len: used.len as usize,
                        read: 0,
                    },
                    Ok(None) => break,
                    Err(e) => return Err(self.fail(format_args!("receiveq: {e}"))),
                },
            };
            let take = (received.len - received.read).min(out.len() - n);
            out[n..n + take]
                .copy_from_slice(&received.buf.as_slice()[received.read..received.read + take]);
            n += take;
            received.read += take;
            if received.read < received.len {
                self.received = Some(received);
            } else {
                self.repost(received.buf)?;
            }
        }
        self.receiveq.kick(&self.transport);
        Ok(n)
    }

    /// Gives an emptied receive buffer back to the device (visible after the next kick).
    fn repost(&mut self, buf: DmaBuf) -> Result<(), String> {
        let chain = [Buffer::writable(buf.pa(), BUF_SIZE as u32)];
        match self.receiveq.add(&chain, buf) {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(self.fail(format_args!("reposting a receive buffer: {e}"))),
        }
    }

    fn has_input(&self) -> bool {
        self.received.is_some() || self.receiveq.has_used()
    }

    /// Waits until input may have arrived: in interrupt mode until the
    /// device interrupts (or the next timer tick), else `poll_ns`. Other
    /// threads run meanwhile.
    pub fn wait_for_input(&self, poll_ns: u64) {
        if self.wait_for_interrupt(Self::has_input) {
            task::cond_resched();
        } else {
            crate::wait::sleep_ns(poll_ns);
        }
    }

    /// Sends `bytes` to the host: copies them into transmit buffers and
    /// queues them, waiting (without a timeout) while the host holds every
    /// buffer back. Returns before the device has passed them on: see
    /// [`Self::flush`].
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.check()?;
        for chunk in bytes.chunks(BUF_SIZE) {
            let mut buf = self.transmit_buffer()?;
            buf.as_mut_slice()[..chunk.len()].copy_from_slice(chunk);
            let chain = [Buffer::readable(buf.pa(), chunk.len() as u32)];
            if let Err((e, buf)) = self.transmitq.add(&chain, buf) {
                self.tx_pool.push(buf);
                return Err(self.fail(format_args!("transmitq: {e}")));
            }
        }
        self.transmitq.kick(&self.transport);
        Ok(())
    }

    /// Waits until the device has passed on everything written.
    pub fn flush(&mut self) -> Result<(), String> {
        self.check()?;
        self.wait_transmitted(|dev| dev.tx_pool.len() == dev.tx_buffers)
    }

    /// A free transmit buffer, once the device returned one if all are out.
    fn transmit_buffer(&mut self) -> Result<DmaBuf, String> {
        self.reclaim()?;
        if self.tx_pool.is_empty() {
            // Buffers come back only after the device has seen what is queued.
            self.transmitq.kick(&self.transport);
            self.wait_transmitted(|dev| !dev.tx_pool.is_empty())?;
        }
        Ok(self.tx_pool.pop().expect("a transmit buffer was reclaimed"))
    }

    /// Takes transmit buffers the device has finished with back into the pool.
    fn reclaim(&mut self) -> Result<(), String> {
        let reclaimed = self.transmitq.reclaim(&mut self.tx_pool);
        reclaimed.map_err(|e| self.fail(format_args!("transmitq: {e}")))
    }

    /// Reclaims transmit buffers until `done`, however long the host takes.
    fn wait_transmitted(&mut self, done: impl Fn(&Self) -> bool) -> Result<(), String> {
        let mut since = platform::now_ns();
        loop {
            self.reclaim()?;
            if done(self) {
                return Ok(());
            }
            if !self.wait_for_interrupt(|dev| dev.transmitq.has_used()) {
                core::hint::spin_loop();
            }
            task::cond_resched();
            if platform::now_ns() - since >= DEVICE_TIMEOUT_NS {
                if self.transport.needs_reset() {
                    return Err(self.fail("device needs a reset (DEVICE_NEEDS_RESET)"));
                }
                println!(
                    "virtio: console at {}: the host has taken no output for {} s; still waiting",
                    self.transport.describe(),
                    DEVICE_TIMEOUT_NS / 1_000_000_000
                );
                since = platform::now_ns();
            }
        }
    }

    /// Interrupt mode: sleeps in `hlt` until the device interrupts (or the
    /// next timer tick), unless `ready` says there is no need. Returns false
    /// at once when polling.
    fn wait_for_interrupt(&self, ready: impl Fn(&Self) -> bool) -> bool {
        let Some(irq) = &self.irq else {
            return false;
        };
        // The count before the look: a completion after the look raises an
        // interrupt newer than `seen`, which ends the wait.
        let seen = irq.events();
        if !ready(self) {
            irq.wait(seen);
        }
        true
    }

    fn check(&self) -> Result<(), String> {
        match &self.broken {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }

    /// Gives up on the device: reports why on COM1, sets FAILED.
    fn fail(&mut self, why: impl Display) -> String {
        let why = format!("virtio-console at {}: {why}", self.transport.describe());
        if self.broken.is_none() {
            println!("virtio: {why}; device disabled");
            self.transport.fail();
            self.broken = Some(why.clone());
        }
        why
    }
}
