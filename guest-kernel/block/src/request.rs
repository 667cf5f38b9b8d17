//! Requests and the buffer references they carry.

use alloc::vec::Vec;

/// An opaque reference to a page-cache buffer: a (physical) address and a
/// length in bytes. The block layer never dereferences it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufRef {
    pub addr: u64,
    pub len: u32,
}

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    /// Make completed writes durable. Carries no sectors and never merges.
    Flush,
}

/// One block I/O: `sectors` 512-byte sectors starting at `sector`, data in
/// `bufs` (one buffer reference per segment, in sector order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    pub bufs: Vec<BufRef>,
}

impl Request {
    pub fn new(op: Op, sector: u64, sectors: u32, bufs: Vec<BufRef>) -> Self {
        Request {
            op,
            sector,
            sectors,
            bufs,
        }
    }

    /// A flush request (no sectors, no buffers).
    pub fn flush() -> Self {
        Request {
            op: Op::Flush,
            sector: 0,
            sectors: 0,
            bufs: Vec::new(),
        }
    }

    /// First sector after this request (saturating, so a corrupt request
    /// cannot wrap around and look adjacent to sector 0).
    pub fn end(&self) -> u64 {
        self.sector.saturating_add(u64::from(self.sectors))
    }

    /// Number of segments (buffer references).
    pub fn segments(&self) -> usize {
        self.bufs.len()
    }
}
