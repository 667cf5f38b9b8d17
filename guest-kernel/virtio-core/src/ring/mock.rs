//! A device side of a split virtqueue over plain memory, for tests (in the
//! spirit of rust-vmm's virtio-queue `mock.rs`): it pops chains from the
//! available ring, walks them with its own loop and bounds checks, and
//! returns them through the used ring, following the event-idx rules.

use super::{DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE, Layout, RingMemory, need_event};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub flags: u16,
}

impl Desc {
    pub fn writable(&self) -> bool {
        self.flags & DESC_F_WRITE != 0
    }
}

pub struct MockDevice {
    pub layout: Layout,
    pub event_idx: bool,
    /// Next available-ring slot the device reads.
    pub last_avail: u16,
    /// The device's used index (what it last wrote).
    pub used_idx: u16,
    /// Used index at the last interrupt decision.
    pub signalled: u16,
    pub interrupts: u64,
}

impl MockDevice {
    pub fn new(layout: Layout, event_idx: bool) -> Self {
        Self { layout, event_idx, last_avail: 0, used_idx: 0, signalled: 0, interrupts: 0 }
    }

    /// The next available chain: head and descriptors (an indirect table is
    /// read from `mem` too: its addresses are offsets in the same block).
    /// Panics on a malformed chain (the driver under test must never
    /// produce one).
    pub fn pop(&mut self, mem: &Vec<u8>) -> Option<(u16, Vec<Desc>)> {
        let avail_idx = mem.read_u16(self.layout.avail_idx());
        if avail_idx == self.last_avail {
            return None;
        }
        assert!(
            avail_idx.wrapping_sub(self.last_avail) <= self.layout.size,
            "driver published more chains than the queue holds"
        );
        let slot = self.last_avail % self.layout.size;
        let head = mem.read_u16(self.layout.avail_ring(slot));
        self.last_avail = self.last_avail.wrapping_add(1);
        let mut descs = Vec::new();
        let mut i = head;
        loop {
            assert!(i < self.layout.size, "descriptor {i} out of range");
            assert!(descs.len() < usize::from(self.layout.size), "descriptor loop");
            let at = self.layout.desc_at(i);
            let addr = u64::from(mem.read_u32(at)) | (u64::from(mem.read_u32(at + 4)) << 32);
            let d = Desc { addr, len: mem.read_u32(at + 8), flags: mem.read_u16(at + 12) };
            if d.flags & DESC_F_INDIRECT != 0 {
                assert_eq!(d.flags, DESC_F_INDIRECT, "an indirect descriptor carries no other flag");
                assert!(descs.is_empty(), "an indirect descriptor is a chain of its own here");
                return Some((head, Self::indirect_table(mem, d, self.layout.size)));
            }
            descs.push(d);
            if d.flags & DESC_F_NEXT == 0 {
                break;
            }
            i = mem.read_u16(at + 14);
        }
        Some((head, descs))
    }

    /// The descriptors of the indirect table `d` points to (spec 2.7.5.3.1).
    fn indirect_table(mem: &Vec<u8>, d: Desc, size: u16) -> Vec<Desc> {
        assert!(d.len > 0 && (d.len as usize).is_multiple_of(DESC_SIZE), "indirect table length {}", d.len);
        let n = d.len as usize / DESC_SIZE;
        assert!(n <= usize::from(size), "indirect chain longer than the queue");
        let base = d.addr as usize;
        assert!(base + n * DESC_SIZE <= mem.len(), "indirect table outside memory");
        let mut descs = Vec::new();
        let mut i = 0;
        loop {
            assert!(i < n && descs.len() < n, "indirect entry {i} out of range or loop");
            let at = base + i * DESC_SIZE;
            let addr = u64::from(mem.read_u32(at)) | (u64::from(mem.read_u32(at + 4)) << 32);
            let e = Desc { addr, len: mem.read_u32(at + 8), flags: mem.read_u16(at + 12) };
            assert_eq!(e.flags & DESC_F_INDIRECT, 0, "indirect inside an indirect table");
            descs.push(e);
            if e.flags & DESC_F_NEXT == 0 {
                return descs;
            }
            i = usize::from(mem.read_u16(at + 14));
        }
    }

    /// Returns chain `id` with `len` bytes written; decides on an interrupt.
    pub fn push(&mut self, mem: &mut Vec<u8>, id: u32, len: u32) {
        let slot = self.used_idx % self.layout.size;
        let at = self.layout.used_ring(slot);
        mem.write_u32(at, id);
        mem.write_u32(at + 4, len);
        self.used_idx = self.used_idx.wrapping_add(1);
        mem.write_u16(self.layout.used_idx(), self.used_idx);
        let old = self.signalled;
        self.signalled = self.used_idx;
        let wanted = if self.event_idx {
            need_event(mem.read_u16(self.layout.used_event()), self.used_idx, old)
        } else {
            mem.read_u16(self.layout.avail_flags()) & super::AVAIL_F_NO_INTERRUPT == 0
        };
        self.interrupts += u64::from(wanted);
    }

    /// Event idx: "notify me when the driver makes entry `idx` available".
    pub fn set_avail_event(&self, mem: &mut Vec<u8>, idx: u16) {
        mem.write_u16(self.layout.avail_event(), idx);
    }

    /// Event idx: the usual device policy, notify on the next new entry.
    pub fn want_next(&self, mem: &mut Vec<u8>) {
        self.set_avail_event(mem, self.last_avail);
    }
}
