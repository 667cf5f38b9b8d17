//! A pipe-like channel: a bounded byte queue with one wait queue for readers
//! (waiting for data) and one for writers (waiting for space). Blocking
//! semantics as a Unix pipe: `write` returns once every byte is queued,
//! `read` once at least one byte was taken.

use alloc::boxed::Box;
use alloc::vec;

use crate::sync::SpinLock;
use crate::task;
use crate::wait::WaitQueue;

struct Ring {
    buf: Box<[u8]>,
    head: usize,
    len: usize,
}

impl Ring {
    fn push(&mut self, bytes: &[u8]) -> usize {
        let cap = self.buf.len();
        let n = bytes.len().min(cap - self.len);
        let tail = (self.head + self.len) % cap;
        let first = n.min(cap - tail);
        self.buf[tail..tail + first].copy_from_slice(&bytes[..first]);
        self.buf[..n - first].copy_from_slice(&bytes[first..n]);
        self.len += n;
        n
    }

    fn pop(&mut self, out: &mut [u8]) -> usize {
        let cap = self.buf.len();
        let n = out.len().min(self.len);
        let first = n.min(cap - self.head);
        out[..first].copy_from_slice(&self.buf[self.head..self.head + first]);
        out[first..n].copy_from_slice(&self.buf[..n - first]);
        self.head = (self.head + n) % cap;
        self.len -= n;
        n
    }
}

pub struct Channel {
    ring: SpinLock<Ring>,
    capacity: usize,
    readers: WaitQueue,
    writers: WaitQueue,
}

impl Channel {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a channel needs room for one byte");
        Self {
            ring: SpinLock::new(Ring {
                buf: vec![0; capacity].into_boxed_slice(),
                head: 0,
                len: 0,
            }),
            capacity,
            readers: WaitQueue::new(),
            writers: WaitQueue::new(),
        }
    }

    /// Queues all of `bytes`, sleeping while the channel is full.
    pub fn write(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = self.ring.lock().push(bytes);
            if n > 0 {
                bytes = &bytes[n..];
                self.readers.wake_one();
            }
            if !bytes.is_empty() {
                self.writers
                    .wait_until(|| self.ring.lock().len < self.capacity);
            }
        }
        task::cond_resched();
    }

    /// Takes at least one and at most `out.len()` bytes, sleeping while empty.
    pub fn read(&self, out: &mut [u8]) -> usize {
        loop {
            let n = self.ring.lock().pop(out);
            if n > 0 {
                self.writers.wake_one();
                task::cond_resched();
                return n;
            }
            self.readers.wait_until(|| self.ring.lock().len > 0);
        }
    }

    /// Fills `out` completely (several reads if needed).
    pub fn read_exact(&self, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            done += self.read(&mut out[done..]);
        }
    }
}
