//! virtio-rng driver (spec 5.4): one queue of device-writable buffers the
//! device fills with entropy. It may fill fewer bytes than offered (`len`
//! in the used ring says how many, checked against the buffer size).

use alloc::format;
use alloc::string::String;

use virtio_core::ring::Buffer;

use super::dma::DmaBuf;
use super::queue::Virtqueue;
use super::transport::Transport;
use super::{DEVICE_TIMEOUT_NS, Spin};

/// Bytes asked for per request.
const CHUNK: usize = 4096;
/// A device that keeps answering with 0 bytes is given up on.
const MAX_EMPTY_ANSWERS: u32 = 1000;

pub struct RngDevice {
    transport: Transport,
    queue: Virtqueue<DmaBuf>,
    /// The buffer between requests (it lives in the queue while in flight).
    spare: Option<DmaBuf>,
    pub requests: u64,
    broken: Option<String>,
}

impl RngDevice {
    pub fn new(mut transport: Transport) -> Result<Self, String> {
        transport.negotiate(0)?;
        let queue = transport
            .setup_queue(0, 16)
            .inspect_err(|_| transport.fail())?;
        let spare = DmaBuf::new(CHUNK).ok_or("out of memory for the entropy buffer")?;
        transport.driver_ok();
        Ok(Self {
            transport,
            queue,
            spare: Some(spare),
            requests: 0,
            broken: None,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "queue {}{}",
            self.queue.size(),
            if self.queue.event_idx() {
                ", event idx"
            } else {
                ""
            }
        )
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Fills `out` with bytes from the device.
    pub fn read(&mut self, out: &mut [u8]) -> Result<(), String> {
        let mut filled = 0;
        let mut empty_answers = 0;
        while filled < out.len() {
            if let Some(why) = &self.broken {
                return Err(why.clone());
            }
            let buf = self
                .spare
                .take()
                .ok_or("entropy buffer lost to an earlier error")?;
            let want = (out.len() - filled).min(CHUNK);
            let chain = [Buffer::writable(buf.pa(), want as u32)];
            if let Err((e, buf)) = self.queue.add(&chain, buf) {
                self.spare = Some(buf);
                return Err(format!("virtio-rng: {e}"));
            }
            self.queue.kick(&self.transport);
            self.requests += 1;
            let spin = Spin::new(DEVICE_TIMEOUT_NS);
            let used = loop {
                match self.queue.poll() {
                    Ok(Some(used)) => break used,
                    Ok(None) if spin.spin() => {}
                    Ok(None) => return Err(self.fail(String::from("no answer within the timeout"))),
                    Err(e) => return Err(self.fail(format!("{e}"))),
                }
            };
            let got = used.len as usize; // <= want: checked by the ring
            out[filled..filled + got].copy_from_slice(&used.token.as_slice()[..got]);
            filled += got;
            self.spare = Some(used.token);
            empty_answers = if got == 0 { empty_answers + 1 } else { 0 };
            if empty_answers == MAX_EMPTY_ANSWERS {
                return Err(self.fail(format!(
                    "{MAX_EMPTY_ANSWERS} answers in a row without bytes"
                )));
            }
        }
        Ok(())
    }

    fn fail(&mut self, why: String) -> String {
        let why = format!("virtio-rng at {}: {why}", self.transport.describe());
        self.transport.fail();
        self.broken = Some(why.clone());
        why
    }
}
