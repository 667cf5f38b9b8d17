//! Memory the devices read and write (DMA), from the buddy allocator.
//!
//! Devices see guest-physical addresses; the kernel reaches the same pages
//! through its direct map (`phys.rs`: virtual = `KERNEL_VMA` + physical;
//! the buddy allocator only manages RAM below `DIRECT_MAP_END`, so every
//! block is mapped, write-back cached; the VMM's device emulation is cache
//! coherent).
//!
//! Two kinds, by who may touch the memory when:
//!
//! - [`DmaBuf`]: a data buffer *owned* by one party at a time. The owner
//!   gets ordinary slices. Handing it to a device means moving it into the
//!   driver's in-flight table (the virtqueue token), from where it comes
//!   back only after the device returned it in the used ring; so no slice
//!   exists while the device may write. This is the only rule that makes
//!   plain slices over DMA memory sound.
//! - [`DmaRegion`]: memory shared with the device for its whole life (the
//!   rings, request headers and status bytes). It is never turned into a
//!   slice: only single volatile loads and stores at checked offsets.

use core::ptr;

use crate::heap;

/// Physically contiguous pages, exclusively owned, freed on drop.
struct Block {
    pa: u64,
    order: usize,
}

impl Block {
    /// Pages for `len` bytes, the first `len` of them zeroed: safe code
    /// never sees what the pages held before.
    fn zeroed(len: usize) -> Option<Self> {
        let order = mm::order_for(len)?;
        let block = Self {
            pa: heap::alloc_pages(order)?,
            order,
        };
        debug_assert!(len <= block.bytes());
        // SAFETY: the block is freshly allocated, owned by us, mapped by the
        // direct map, and at least `len` bytes; no device knows its address.
        unsafe { ptr::write_bytes(block.va() as *mut u8, 0, len) };
        Some(block)
    }

    fn bytes(&self) -> usize {
        mm::order_bytes(self.order) as usize
    }

    fn va(&self) -> u64 {
        heap::phys_to_virt(self.pa)
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        heap::free_pages(self.pa, self.order);
    }
}

/// A data buffer: `len` bytes at the start of its own pages.
pub struct DmaBuf {
    block: Block,
    len: usize,
}

impl DmaBuf {
    /// `len` zeroed bytes (zeroing a page costs ~100 ns, nothing beside the
    /// device round trip a buffer is for); `None` when out of memory or
    /// larger than the biggest buddy block (4 MiB).
    pub fn new(len: usize) -> Option<Self> {
        Some(Self {
            block: Block::zeroed(len)?,
            len,
        })
    }

    /// Guest-physical address of the first byte (what devices are given).
    pub fn pa(&self) -> u64 {
        self.block.pa
    }

    #[allow(
        clippy::len_without_is_empty,
        reason = "no driver asks whether a buffer is empty"
    )]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the block is `len` (<= its size) bytes of RAM owned by this
        // DmaBuf alone (fresh from the buddy allocator, zeroed, freed only on
        // drop), mapped by the direct map. Devices write it only while the buffer is
        // moved into a driver's in-flight table, when no `&self` can exist
        // (module comment); u8 has no invalid values.
        unsafe { core::slice::from_raw_parts(self.block.va() as *const u8, self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.block.va() as *mut u8, self.len) }
    }
}

/// Memory shared with a device: volatile accesses only, bounds-checked.
pub struct DmaRegion {
    block: Block,
    len: usize,
}

impl DmaRegion {
    /// `len` zeroed bytes.
    pub fn zeroed(len: usize) -> Option<Self> {
        Some(Self {
            block: Block::zeroed(len)?,
            len,
        })
    }

    pub fn pa(&self) -> u64 {
        self.block.pa
    }

    /// The address of `[offset, offset + size)`, which must be inside the
    /// region and aligned to `size` (so every access is single and untorn).
    fn at(&self, offset: usize, size: usize) -> u64 {
        assert!(
            offset.checked_add(size).is_some_and(|end| end <= self.len)
                && offset.is_multiple_of(size),
            "DMA region access at {offset:#x} (+{size}) outside its {:#x} bytes or unaligned",
            self.len
        );
        self.block.va() + offset as u64
    }

    pub fn read_u8(&self, offset: usize) -> u8 {
        let va = self.at(offset, 1);
        // SAFETY: `at` checked the offset lies inside this region's pages,
        // which we own and which stay mapped; a volatile load of plain memory
        // the device may be writing concurrently is what this type is for.
        unsafe { (va as *const u8).read_volatile() }
    }

    pub fn write_u8(&mut self, offset: usize, value: u8) {
        let va = self.at(offset, 1);
        // SAFETY: as in `read_u8`, for a volatile store.
        unsafe { (va as *mut u8).write_volatile(value) }
    }

    /// Copies `bytes` in with volatile stores (request headers: a few bytes).
    pub fn write_bytes(&mut self, offset: usize, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            self.write_u8(offset + i, b);
        }
    }

    pub(crate) fn read_u16(&self, offset: usize) -> u16 {
        let va = self.at(offset, 2);
        // SAFETY: as in `read_u8`; `at` checked 2-byte alignment.
        u16::from_le(unsafe { (va as *const u16).read_volatile() })
    }

    pub(crate) fn read_u32(&self, offset: usize) -> u32 {
        let va = self.at(offset, 4);
        // SAFETY: as in `read_u8`; `at` checked 4-byte alignment.
        u32::from_le(unsafe { (va as *const u32).read_volatile() })
    }

    pub(crate) fn write_u16(&mut self, offset: usize, value: u16) {
        let va = self.at(offset, 2);
        // SAFETY: as in `read_u8`, for an aligned volatile store.
        unsafe { (va as *mut u16).write_volatile(value.to_le()) }
    }

    pub(crate) fn write_u32(&mut self, offset: usize, value: u32) {
        let va = self.at(offset, 4);
        // SAFETY: as in `read_u8`, for an aligned volatile store.
        unsafe { (va as *mut u32).write_volatile(value.to_le()) }
    }

    pub(crate) fn write_u64(&mut self, offset: usize, value: u64) {
        let va = self.at(offset, 8);
        // SAFETY: as in `read_u8`, for an aligned volatile store.
        unsafe { (va as *mut u64).write_volatile(value.to_le()) }
    }
}

/// The rings of a split virtqueue live in a `DmaRegion`.
impl virtio_core::ring::RingMemory for DmaRegion {
    fn read_u16(&self, offset: usize) -> u16 {
        DmaRegion::read_u16(self, offset)
    }
    fn read_u32(&self, offset: usize) -> u32 {
        DmaRegion::read_u32(self, offset)
    }
    fn write_u16(&mut self, offset: usize, value: u16) {
        DmaRegion::write_u16(self, offset, value)
    }
    fn write_u32(&mut self, offset: usize, value: u32) {
        DmaRegion::write_u32(self, offset, value)
    }
    fn write_u64(&mut self, offset: usize, value: u64) {
        DmaRegion::write_u64(self, offset, value)
    }
}
