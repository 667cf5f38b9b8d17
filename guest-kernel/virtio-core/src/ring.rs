//! The driver side of a split virtqueue (spec 2.7), over any memory that
//! implements [`RingMemory`].
//!
//! One block of memory holds the three areas, laid out by [`Layout`]:
//!
//! ```text
//! descriptor table  16 bytes x N   addr u64, len u32, flags u16, next u16   (driver writes)
//! available ring    6 + 2 N bytes  flags u16, idx u16, ring[N] u16, used_event u16   (driver writes)
//! used ring         6 + 8 N bytes  flags u16, idx u16, ring[N] {id u32, len u32}, avail_event u16 (device writes)
//! ```
//!
//! That is the modern layout ([`Layout::new`]: the device is told each
//! area's address). A legacy device (virtio-mmio version 1) is told only
//! where the block starts and finds the areas itself: [`Layout::legacy`]
//! puts the used ring at the next QueueAlign boundary instead. The ring
//! formats are the same (little-endian on x86, the legacy "guest-native").
//!
//! The driver adds a buffer chain (descriptors linked with NEXT, device-
//! readable ones first), puts its head into the available ring, and later
//! publishes the available index; the device returns the head in the used
//! ring with the number of bytes it wrote.
//!
//! # Notifications (VIRTIO_F_EVENT_IDX, spec 2.7.10)
//!
//! Each notification is a register write, i.e. a VM exit (~25 us on a PVM
//! host), so [`SplitQueue::publish`] says whether one is needed: with event
//! idx when the new available index passes the device's `avail_event`
//! ([`need_event`], Linux's `vring_need_event`), else unless the device set
//! VRING_USED_F_NO_NOTIFY. In polling mode the driver asks for no
//! interrupts at all: `used_event` is kept half the index space away from the
//! used index (with event idx), or VRING_AVAIL_F_NO_INTERRUPT is set.
//!
//! # A device is not trusted
//!
//! Everything read from the used ring is checked before it is believed: the
//! used index may not run ahead of the chains in flight, an id must be the
//! head of a chain in flight, and `len` may not exceed the chain's
//! device-writable bytes. A violation is a [`DeviceError`]; the queue then
//! stays broken (every later call returns the error) and keeps every chain
//! in flight -- their buffers are never handed back, because the device may
//! still write into them. Descriptor links are kept in a private shadow
//! array; the driver never reads back the descriptor table or the
//! available ring, which a confused device might have scribbled on.
//!
//! # Memory ordering
//!
//! Descriptors and ring entries are written before the available index
//! (release fence), the index is written before `avail_event` / the used
//! flags are read (full fence: a store followed by a load, the pairing of
//! spec 2.7.13.3's "memory barrier"), and the used index is read before the
//! used entries (acquire fence). The [`RingMemory`] accessors themselves are
//! single, untorn accesses (volatile in the kernel).

use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{Ordering, fence};

pub const DESC_F_NEXT: u16 = 1;
pub const DESC_F_WRITE: u16 = 2;
pub const DESC_F_INDIRECT: u16 = 4;
/// Bytes of one descriptor, in the ring's table or in an indirect table.
pub const DESC_SIZE: usize = 16;

/// Writes one descriptor at byte `at` of `mem`: `buf`, chained to
/// descriptor `next` (same table) if there is one.
fn write_desc<M: RingMemory>(mem: &mut M, at: usize, buf: &Buffer, next: Option<u16>) {
    let flags = if buf.writable { DESC_F_WRITE } else { 0 } | if next.is_some() { DESC_F_NEXT } else { 0 };
    mem.write_u64(at, buf.addr);
    mem.write_u32(at + 8, buf.len);
    mem.write_u16(at + 12, flags);
    mem.write_u16(at + 14, next.unwrap_or(0));
}

/// The checks every chain passes, direct or indirect.
fn check_bufs(bufs: &[Buffer], queue_size: u16) -> Result<(), AddError> {
    if bufs.is_empty() {
        return Err(AddError::Empty);
    }
    if bufs.len() > usize::from(queue_size) {
        return Err(AddError::TooLong { needed: bufs.len(), size: queue_size });
    }
    if bufs.iter().any(|b| b.len == 0) {
        return Err(AddError::ZeroLength);
    }
    if bufs.windows(2).any(|w| w[0].writable && !w[1].writable) {
        return Err(AddError::ReadableAfterWritable);
    }
    Ok(())
}
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
pub const USED_F_NO_NOTIFY: u16 = 1;
/// Largest queue size (spec 2.7: 32768).
pub const MAX_SIZE: u16 = 32768;

/// Linux's `vring_need_event`: whether moving an index from `old` to `new`
/// passes `event` (the other side asked to hear about index `event`), in
/// 16-bit wrapping arithmetic.
pub fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

/// Byte offsets of the three areas in the queue's memory block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub size: u16,
    pub desc: usize,
    pub avail: usize,
    pub used: usize,
    /// Bytes the whole block needs.
    pub total: usize,
}

impl Layout {
    /// The layout for `size` entries (a power of two, 1..=32768, as the
    /// split ring's free-running 16-bit indices require), or `None`.
    pub fn new(size: u16) -> Option<Self> {
        if size == 0 || size > MAX_SIZE || !size.is_power_of_two() {
            return None;
        }
        let n = usize::from(size);
        let desc = 0;
        let avail = desc + DESC_SIZE * n;
        // Used ring: 4-byte alignment (spec 2.7, "Virtqueue Part Alignment").
        let used = (avail + 6 + 2 * n).next_multiple_of(4);
        let total = used + 6 + 8 * n;
        Some(Self { size, desc, avail, used, total })
    }

    /// The legacy layout (virtio 1.2, 2.7.2 "Legacy Interfaces: A Note on
    /// Virtqueue Layout"; virtio-mmio version 1, 4.2.4): one physically
    /// contiguous block the device finds from its first page alone
    /// (QueuePFN), so the areas' places follow from `size` and `align`
    /// (QueueAlign): the descriptor table at 0, the available ring right
    /// after it (with `used_event`), the used ring at the next multiple of
    /// `align`. This is Linux's `vring_init`/`vring_size`. `align` is a power
    /// of two of at least 4; `None` for a bad `size` or `align`.
    pub fn legacy(size: u16, align: usize) -> Option<Self> {
        if !align.is_power_of_two() || align < 4 {
            return None;
        }
        let modern = Self::new(size)?;
        let n = usize::from(size);
        let used = (modern.avail + 6 + 2 * n).next_multiple_of(align);
        Some(Self { used, total: used + 6 + 8 * n, ..modern })
    }

    pub fn desc_at(&self, i: u16) -> usize {
        self.desc + DESC_SIZE * usize::from(i)
    }
    pub fn avail_flags(&self) -> usize {
        self.avail
    }
    pub fn avail_idx(&self) -> usize {
        self.avail + 2
    }
    pub fn avail_ring(&self, slot: u16) -> usize {
        self.avail + 4 + 2 * usize::from(slot)
    }
    pub fn used_event(&self) -> usize {
        self.avail + 4 + 2 * usize::from(self.size)
    }
    pub fn used_flags(&self) -> usize {
        self.used
    }
    pub fn used_idx(&self) -> usize {
        self.used + 2
    }
    pub fn used_ring(&self, slot: u16) -> usize {
        self.used + 4 + 8 * usize::from(slot)
    }
    pub fn avail_event(&self) -> usize {
        self.used + 4 + 8 * usize::from(self.size)
    }
}

/// Little-endian accesses to the queue's memory block, at byte offsets
/// below [`Layout::total`]. Each access must be a single untorn load or
/// store that the compiler neither elides nor merges (the kernel uses
/// volatile accesses; the device reads and writes the same memory).
pub trait RingMemory {
    fn read_u16(&self, offset: usize) -> u16;
    fn read_u32(&self, offset: usize) -> u32;
    fn write_u16(&mut self, offset: usize, value: u16);
    fn write_u32(&mut self, offset: usize, value: u32);
    fn write_u64(&mut self, offset: usize, value: u64);
}

/// Plain memory, for tests and mock devices.
impl RingMemory for Vec<u8> {
    fn read_u16(&self, o: usize) -> u16 {
        u16::from_le_bytes([self[o], self[o + 1]])
    }
    fn read_u32(&self, o: usize) -> u32 {
        u32::from_le_bytes(self[o..o + 4].try_into().expect("4 bytes"))
    }
    fn write_u16(&mut self, o: usize, v: u16) {
        self[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn write_u32(&mut self, o: usize, v: u32) {
        self[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn write_u64(&mut self, o: usize, v: u64) {
        self[o..o + 8].copy_from_slice(&v.to_le_bytes());
    }
}

/// One element of a buffer chain: guest-physical address and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub addr: u64,
    pub len: u32,
    /// Device-writable (the device fills it) rather than device-readable.
    pub writable: bool,
}

impl Buffer {
    pub fn readable(addr: u64, len: u32) -> Self {
        Self { addr, len, writable: false }
    }
    pub fn writable(addr: u64, len: u32) -> Self {
        Self { addr, len, writable: true }
    }
}

/// Why a chain was not added (the token comes back with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// Not enough free descriptors now; retry after completions.
    Full { needed: usize, free: u16 },
    /// A chain longer than the queue can never be added.
    TooLong { needed: usize, size: u16 },
    Empty,
    ZeroLength,
    /// Device-readable buffers must come before device-writable ones.
    ReadableAfterWritable,
    /// The device misbehaved earlier; the queue takes nothing more.
    Broken(DeviceError),
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full { needed, free } => {
                write!(f, "queue full ({needed} descriptors needed, {free} free)")
            }
            Self::TooLong { needed, size } => {
                write!(f, "chain of {needed} descriptors exceeds queue size {size}")
            }
            Self::Empty => f.write_str("empty chain"),
            Self::ZeroLength => f.write_str("zero-length buffer"),
            Self::ReadableAfterWritable => {
                f.write_str("device-readable buffer after a device-writable one")
            }
            Self::Broken(e) => write!(f, "queue broken: {e}"),
        }
    }
}

/// A device broke the ring protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The used index moved further than there are chains in flight.
    UsedIdxAhead { used_idx: u16, last_used: u16, in_flight: u16 },
    /// A used element names a descriptor outside the table.
    IdOutOfRange { id: u32, size: u16 },
    /// A used element names a descriptor that is not the head of a chain in
    /// flight (a duplicate completion, or a descriptor inside a chain).
    NotInFlight { id: u32 },
    /// `len` is larger than the chain's device-writable bytes.
    LenTooLarge { id: u32, len: u32, writable: u64 },
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UsedIdxAhead { used_idx, last_used, in_flight } => write!(
                f,
                "used idx {used_idx} ran ahead of {last_used} by more than the {in_flight} chains in flight"
            ),
            Self::IdOutOfRange { id, size } => {
                write!(f, "used id {id} out of range (queue size {size})")
            }
            Self::NotInFlight { id } => {
                write!(f, "used id {id} is not the head of a chain in flight")
            }
            Self::LenTooLarge { id, len, writable } => write!(
                f,
                "used len {len} for id {id} exceeds the {writable} device-writable bytes"
            ),
        }
    }
}

/// A completed chain.
#[derive(Debug, PartialEq, Eq)]
pub struct Used<T> {
    pub token: T,
    /// Bytes the device wrote (0 for chains without writable buffers).
    pub len: u32,
    pub head: u16,
}

struct Chain<T> {
    token: T,
    tail: u16,
    count: u16,
    writable: u64,
}

/// Counters, for exits-per-request figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub added: u64,
    pub completed: u64,
    /// `publish` calls that made new entries visible.
    pub publishes: u64,
    /// Of those, how many needed a notification.
    pub notify_needed: u64,
    /// Used elements of device-readable-only chains with a nonzero len
    /// (reported as 0: the driver has nothing to read back).
    pub len_ignored: u64,
}

/// The driver side of one split virtqueue. `T` is the caller's token per
/// chain (e.g. a request slot, or an owned buffer), returned on completion.
pub struct SplitQueue<M: RingMemory, T> {
    mem: M,
    layout: Layout,
    event_idx: bool,
    interrupts: bool,
    free_head: u16,
    num_free: u16,
    /// Shadow of the descriptors' `next` links (free list and chains).
    next: Vec<u16>,
    chains: Vec<Option<Chain<T>>>,
    in_flight: u16,
    /// Next available-ring slot to fill (free-running).
    avail_idx: u16,
    /// The value last written to the available index.
    published: u16,
    /// Next used-ring slot to read (free-running).
    last_used: u16,
    broken: Option<DeviceError>,
    stats: QueueStats,
}

impl<M: RingMemory, T> SplitQueue<M, T> {
    /// Takes over `mem` (at least `layout.total` bytes) and initialises the
    /// ring headers. `event_idx`: VIRTIO_F_EVENT_IDX was negotiated.
    /// Interrupts start suppressed (polling); see [`Self::set_interrupts`].
    pub fn new(mut mem: M, layout: Layout, event_idx: bool) -> Self {
        let n = layout.size;
        mem.write_u16(layout.avail_flags(), AVAIL_F_NO_INTERRUPT * u16::from(!event_idx));
        mem.write_u16(layout.avail_idx(), 0);
        mem.write_u16(layout.used_event(), 0x8000);
        mem.write_u16(layout.used_flags(), 0);
        mem.write_u16(layout.used_idx(), 0);
        mem.write_u16(layout.avail_event(), 0);
        let next = (0..n).map(|i| i.wrapping_add(1)).collect();
        let chains = (0..n).map(|_| None).collect();
        Self {
            mem,
            layout,
            event_idx,
            interrupts: false,
            free_head: 0,
            num_free: n,
            next,
            chains,
            in_flight: 0,
            avail_idx: 0,
            published: 0,
            last_used: 0,
            broken: None,
            stats: QueueStats::default(),
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }
    pub fn size(&self) -> u16 {
        self.layout.size
    }
    pub fn num_free(&self) -> u16 {
        self.num_free
    }
    /// Chains added and not yet completed.
    pub fn in_flight(&self) -> u16 {
        self.in_flight
    }
    pub fn stats(&self) -> QueueStats {
        self.stats
    }
    pub fn broken(&self) -> Option<DeviceError> {
        self.broken
    }
    pub fn event_idx(&self) -> bool {
        self.event_idx
    }
    /// The memory block (tests: a mock device works on it).
    pub fn memory(&self) -> &M {
        &self.mem
    }
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    /// Adds a chain (not yet visible to the device: see [`Self::publish`]).
    /// Returns its head descriptor.
    pub fn add(&mut self, bufs: &[Buffer], token: T) -> Result<u16, (AddError, T)> {
        if let Some(e) = self.broken {
            return Err((AddError::Broken(e), token));
        }
        if let Err(e) = self.check_chain(bufs) {
            return Err((e, token));
        }
        let head = self.free_head;
        let mut desc = head;
        let mut writable = 0u64;
        for (i, buf) in bufs.iter().enumerate() {
            let last = i + 1 == bufs.len();
            let next = self.next[usize::from(desc)];
            write_desc(&mut self.mem, self.layout.desc_at(desc), buf, (!last).then_some(next));
            if buf.writable {
                writable += u64::from(buf.len);
            }
            if !last {
                desc = next;
            }
        }
        Ok(self.make_available(head, desc, bufs.len() as u16, writable, token))
    }

    /// Queues the chain `bufs` through an indirect descriptor table (spec
    /// 2.7.5.3) written at byte `offset` of `table`, whose guest-physical
    /// address is `table_addr`: one ring descriptor flagged `INDIRECT`,
    /// however long the chain (it may not be longer than the queue either,
    /// 2.7.5.3.1). Only with VIRTIO_F_INDIRECT_DESC negotiated. The table
    /// must stay untouched until the chain is used.
    pub fn add_indirect<N: RingMemory>(
        &mut self,
        table: &mut N,
        offset: usize,
        table_addr: u64,
        bufs: &[Buffer],
        token: T,
    ) -> Result<u16, (AddError, T)> {
        if let Some(e) = self.broken {
            return Err((AddError::Broken(e), token));
        }
        if let Err(e) = check_bufs(bufs, self.layout.size) {
            return Err((e, token));
        }
        if self.num_free == 0 {
            return Err((AddError::Full { needed: 1, free: 0 }, token));
        }
        for (i, buf) in bufs.iter().enumerate() {
            let next = (i + 1 < bufs.len()).then_some(i as u16 + 1);
            write_desc(table, offset + i * DESC_SIZE, buf, next);
        }
        let head = self.free_head;
        let table_desc = Buffer::readable(table_addr, (bufs.len() * DESC_SIZE) as u32);
        let at = self.layout.desc_at(head);
        write_desc(&mut self.mem, at, &table_desc, None);
        self.mem.write_u16(at + 12, DESC_F_INDIRECT);
        let writable = bufs.iter().filter(|b| b.writable).map(|b| u64::from(b.len)).sum();
        Ok(self.make_available(head, head, 1, writable, token))
    }

    /// Records the chain `head ..= tail` (`count` ring descriptors) and puts
    /// it on the available ring (the device sees it after `publish`).
    fn make_available(&mut self, head: u16, tail: u16, count: u16, writable: u64, token: T) -> u16 {
        self.free_head = self.next[usize::from(tail)];
        self.num_free -= count;
        self.chains[usize::from(head)] = Some(Chain { token, tail, count, writable });
        self.in_flight += 1;
        let slot = self.avail_idx % self.layout.size;
        self.mem.write_u16(self.layout.avail_ring(slot), head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.stats.added += 1;
        head
    }

    fn check_chain(&self, bufs: &[Buffer]) -> Result<(), AddError> {
        check_bufs(bufs, self.layout.size)?;
        if bufs.len() > usize::from(self.num_free) {
            return Err(AddError::Full { needed: bufs.len(), free: self.num_free });
        }
        Ok(())
    }

    /// Makes every chain added since the last call visible to the device.
    /// Returns whether the device must be notified (the caller then writes
    /// the queue's notify register: that write is the VM exit).
    pub fn publish(&mut self) -> bool {
        if self.avail_idx == self.published || self.broken.is_some() {
            return false;
        }
        // Descriptors and ring entries before the index.
        fence(Ordering::Release);
        self.mem.write_u16(self.layout.avail_idx(), self.avail_idx);
        // The index store before the avail_event / flags load.
        fence(Ordering::SeqCst);
        let old = self.published;
        let new = self.avail_idx;
        self.published = new;
        self.stats.publishes += 1;
        let needed = if self.event_idx {
            need_event(self.mem.read_u16(self.layout.avail_event()), new, old)
        } else {
            self.mem.read_u16(self.layout.used_flags()) & USED_F_NO_NOTIFY == 0
        };
        self.stats.notify_needed += u64::from(needed);
        needed
    }

    /// Whether the device has returned chains not yet taken by [`Self::poll`]
    /// (one memory read: cheap to spin on).
    pub fn has_used(&self) -> bool {
        self.mem.read_u16(self.layout.used_idx()) != self.last_used
    }

    /// Takes the next completed chain, if any, after checking it.
    pub fn poll(&mut self) -> Result<Option<Used<T>>, DeviceError> {
        if let Some(e) = self.broken {
            return Err(e);
        }
        let used_idx = self.mem.read_u16(self.layout.used_idx());
        if used_idx == self.last_used {
            return Ok(None);
        }
        let pending = used_idx.wrapping_sub(self.last_used);
        if pending > self.in_flight {
            return Err(self.fail(DeviceError::UsedIdxAhead {
                used_idx,
                last_used: self.last_used,
                in_flight: self.in_flight,
            }));
        }
        // The index before the element it covers.
        fence(Ordering::Acquire);
        let slot = self.last_used % self.layout.size;
        let at = self.layout.used_ring(slot);
        let id = self.mem.read_u32(at);
        let mut len = self.mem.read_u32(at + 4);
        if id >= u32::from(self.layout.size) {
            return Err(self.fail(DeviceError::IdOutOfRange { id, size: self.layout.size }));
        }
        let head = id as u16;
        let Some(chain) = self.chains[usize::from(head)].take() else {
            return Err(self.fail(DeviceError::NotInFlight { id }));
        };
        if u64::from(len) > chain.writable {
            if chain.writable > 0 {
                let writable = chain.writable;
                // Keep the chain: the device may still own its buffers.
                self.chains[usize::from(head)] = Some(chain);
                return Err(self.fail(DeviceError::LenTooLarge { id, len, writable }));
            }
            self.stats.len_ignored += 1;
            len = 0;
        }
        self.last_used = self.last_used.wrapping_add(1);
        self.in_flight -= 1;
        self.next[usize::from(chain.tail)] = self.free_head;
        self.free_head = head;
        self.num_free += chain.count;
        self.stats.completed += 1;
        self.update_used_event();
        Ok(Some(Used { token: chain.token, len, head }))
    }

    fn fail(&mut self, e: DeviceError) -> DeviceError {
        self.broken = Some(e);
        e
    }

    /// Tells the device where the driver wants its next interrupt: right
    /// after the next completion (interrupts on), or half the index space
    /// away, which no completion in flight can reach (polling).
    fn update_used_event(&mut self) {
        if !self.event_idx {
            return;
        }
        let event = if self.interrupts { self.last_used } else { self.last_used.wrapping_add(0x8000) };
        self.mem.write_u16(self.layout.used_event(), event);
    }

    /// Asks for interrupts on completions (`true`) or for none (polling).
    /// Returns whether completions are already waiting (so a caller about
    /// to sleep for an interrupt must poll again instead).
    pub fn set_interrupts(&mut self, on: bool) -> bool {
        self.interrupts = on;
        if self.event_idx {
            self.update_used_event();
        } else {
            let flags = if on { 0 } else { AVAIL_F_NO_INTERRUPT };
            self.mem.write_u16(self.layout.avail_flags(), flags);
        }
        // The event store before the used index load.
        fence(Ordering::SeqCst);
        self.has_used()
    }
}

#[cfg(test)]
pub mod mock;

#[cfg(test)]
mod tests;
