//! A split virtqueue in DMA memory (`virtio_core::ring::SplitQueue` over a
//! `DmaRegion`) plus its index on the transport, for notifications.
//!
//! Completions are found by polling the used ring (a memory read, no exit);
//! the only exit on the data path is the notification `kick` sends when the
//! device asked for one (VIRTIO_F_EVENT_IDX) -- typically once per batch.

use alloc::vec::Vec;

use virtio_core::ring::{AddError, Buffer, DeviceError, SplitQueue, Used};

use super::dma::DmaRegion;
use super::transport::Transport;

pub struct Virtqueue<T> {
    index: u16,
    ring: SplitQueue<DmaRegion, T>,
    notifications: u64,
}

impl<T> Virtqueue<T> {
    pub fn new(index: u16, ring: SplitQueue<DmaRegion, T>) -> Self {
        Self {
            index,
            ring,
            notifications: 0,
        }
    }

    pub fn size(&self) -> u16 {
        self.ring.size()
    }

    /// Queues a chain; the device sees it after the next [`Self::kick`].
    pub fn add(&mut self, bufs: &[Buffer], token: T) -> Result<u16, (AddError, T)> {
        self.ring.add(bufs, token)
    }

    /// Queues a chain through an indirect table at byte `offset` of
    /// `tables` (guest-physical `table_addr`); see `SplitQueue::add_indirect`.
    pub fn add_indirect(
        &mut self,
        tables: &mut DmaRegion,
        offset: usize,
        table_addr: u64,
        bufs: &[Buffer],
        token: T,
    ) -> Result<u16, (AddError, T)> {
        self.ring
            .add_indirect(tables, offset, table_addr, bufs, token)
    }

    /// Publishes what was added and notifies the device if it asked to be
    /// (one register write = one VM exit). Returns whether it notified.
    pub fn kick(&mut self, transport: &Transport) -> bool {
        if self.ring.publish() {
            transport.notify(self.index);
            self.notifications += 1;
            true
        } else {
            false
        }
    }

    /// The next completed chain, checked (see `virtio_core::ring`).
    pub fn poll(&mut self) -> Result<Option<Used<T>>, DeviceError> {
        self.ring.poll()
    }

    /// Moves the token of every completed chain into `pool`: for queues whose
    /// chains are buffers to reuse once the device is done with them
    /// (transmit queues), where the used length says nothing.
    pub fn reclaim(&mut self, pool: &mut Vec<T>) -> Result<(), DeviceError> {
        while let Some(used) = self.ring.poll()? {
            pool.push(used.token);
        }
        Ok(())
    }

    /// Whether completions wait (one memory read).
    pub fn has_used(&self) -> bool {
        self.ring.has_used()
    }

    /// Asks for interrupts on completions (or for none); see
    /// `SplitQueue::set_interrupts`.
    pub fn set_interrupts(&mut self, on: bool) {
        self.ring.set_interrupts(on);
    }

    pub fn event_idx(&self) -> bool {
        self.ring.event_idx()
    }

    /// Notifications sent (VM exits on the data path).
    pub fn notifications(&self) -> u64 {
        self.notifications
    }
}
