//! virtio-blk (spec 5.2): request format, status codes, configuration
//! layout, and the checks a request must pass before it reaches the device.
//!
//! A request is one descriptor chain:
//!
//! ```text
//! header (device-readable, 16 bytes)   type u32, reserved u32, sector u64
//! data   (0..n buffers)                device-writable for IN / GET_ID, readable for OUT
//! status (device-writable, 1 byte)     OK 0, IOERR 1, UNSUPP 2
//! ```
//!
//! Sectors are always 512 bytes, whatever `blk_size` says.

use core::fmt;

/// Feature bits (spec 5.2.3).
pub mod feature {
    pub const SIZE_MAX: u64 = 1 << 1;
    pub const SEG_MAX: u64 = 1 << 2;
    pub const GEOMETRY: u64 = 1 << 4;
    pub const RO: u64 = 1 << 5;
    pub const BLK_SIZE: u64 = 1 << 6;
    pub const FLUSH: u64 = 1 << 9;
    pub const TOPOLOGY: u64 = 1 << 10;
    pub const CONFIG_WCE: u64 = 1 << 11;
    pub const MQ: u64 = 1 << 12;
    pub const DISCARD: u64 = 1 << 13;
    pub const WRITE_ZEROES: u64 = 1 << 14;
}

/// Byte offsets in the device configuration space (spec 5.2.4).
pub mod config {
    pub const CAPACITY: usize = 0;
    pub const SIZE_MAX: usize = 8;
    pub const SEG_MAX: usize = 12;
    pub const BLK_SIZE: usize = 20;
}

pub const SECTOR_SIZE: u64 = 512;
pub const HEADER_SIZE: usize = 16;
/// GET_ID answers with up to 20 bytes (NUL-padded if shorter).
pub const ID_BYTES: usize = 20;

/// Request types this driver issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Flush,
    GetId,
}

impl Op {
    /// VIRTIO_BLK_T_IN 0, OUT 1, FLUSH 4, GET_ID 8.
    pub fn type_code(self) -> u32 {
        match self {
            Self::Read => 0,
            Self::Write => 1,
            Self::Flush => 4,
            Self::GetId => 8,
        }
    }

    /// Whether the device writes the data buffers (else it reads them).
    pub fn device_writes_data(self) -> bool {
        matches!(self, Self::Read | Self::GetId)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Flush => "flush",
            Self::GetId => "get-id",
        }
    }
}

/// The 16-byte request header.
pub fn header(op: Op, sector: u64) -> [u8; HEADER_SIZE] {
    let mut h = [0u8; HEADER_SIZE];
    h[0..4].copy_from_slice(&op.type_code().to_le_bytes());
    h[8..16].copy_from_slice(&sector.to_le_bytes());
    h
}

/// The status byte the device writes last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    IoErr,
    Unsupported,
    /// Anything else: a device bug (or the byte was never written).
    Invalid(u8),
}

impl Status {
    /// What the driver pre-fills the status byte with, to notice a device
    /// that completes a request without writing it.
    pub const UNWRITTEN: u8 = 0xff;

    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => Self::Ok,
            1 => Self::IoErr,
            2 => Self::Unsupported,
            other => Self::Invalid(other),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("OK"),
            Self::IoErr => f.write_str("IOERR"),
            Self::Unsupported => f.write_str("UNSUPP"),
            Self::Invalid(Self::UNWRITTEN) => f.write_str("status byte not written"),
            Self::Invalid(b) => write!(f, "invalid status {b:#x}"),
        }
    }
}

/// What the device's features and configuration allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Capacity in 512-byte sectors.
    pub capacity: u64,
    pub read_only: bool,
    /// VIRTIO_BLK_F_FLUSH: the device has a write cache that FLUSH empties.
    pub flush: bool,
    /// Largest single data buffer (VIRTIO_BLK_F_SIZE_MAX), if limited.
    pub size_max: Option<u32>,
    /// Most data buffers per request (VIRTIO_BLK_F_SEG_MAX), if limited.
    pub seg_max: Option<u32>,
    /// Optimal I/O unit (VIRTIO_BLK_F_BLK_SIZE), else 512.
    pub blk_size: u32,
}

/// A request the driver refuses before it reaches the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    ReadOnly,
    /// Data length zero, or not a multiple of 512 (reads/writes).
    BadLength { len: u64 },
    BeyondCapacity { sector: u64, sectors: u64, capacity: u64 },
    /// More data buffers than the device's seg_max (or the queue) allows.
    TooManySegments { segments: u64, max: u64 },
    /// The data buffer is shorter than the length asked for.
    BufferTooSmall { len: u64, buffer: u64 },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReadOnly => f.write_str("device is read-only (VIRTIO_BLK_F_RO): write refused"),
            Self::BadLength { len } => write!(f, "length {len} is not a positive multiple of 512"),
            Self::BeyondCapacity { sector, sectors, capacity } => write!(
                f,
                "sectors {sector}..{} beyond the capacity of {capacity} sectors",
                sector.saturating_add(*sectors)
            ),
            Self::TooManySegments { segments, max } => {
                write!(f, "{segments} data segments, the device takes at most {max}")
            }
            Self::BufferTooSmall { len, buffer } => {
                write!(f, "length {len} exceeds the {buffer}-byte buffer")
            }
        }
    }
}

impl Limits {
    /// Checks a read or write of `len` bytes at `sector` (flush and
    /// get-id take no sector range), given data buffers of at most
    /// `max_segments` descriptors besides header and status.
    pub fn check(&self, op: Op, sector: u64, len: u64, segments: u64, max_segments: u64) -> Result<(), RequestError> {
        match op {
            Op::Flush | Op::GetId => return Ok(()),
            Op::Write if self.read_only => return Err(RequestError::ReadOnly),
            Op::Read | Op::Write => {}
        }
        if len == 0 || !len.is_multiple_of(SECTOR_SIZE) {
            return Err(RequestError::BadLength { len });
        }
        let sectors = len / SECTOR_SIZE;
        match sector.checked_add(sectors) {
            Some(end) if end <= self.capacity => {}
            _ => return Err(RequestError::BeyondCapacity { sector, sectors, capacity: self.capacity }),
        }
        let max = self.seg_max.map_or(max_segments, |m| u64::from(m).min(max_segments));
        if segments > max {
            return Err(RequestError::TooManySegments { segments, max });
        }
        Ok(())
    }

    /// Data descriptors for `len` contiguous bytes (split at size_max).
    pub fn segments(&self, len: u64) -> u64 {
        match self.size_max {
            Some(max) if max > 0 => len.div_ceil(u64::from(max)),
            _ => u64::from(len > 0),
        }
    }

    /// `(offset, len)` pieces of `len` contiguous bytes, each at most size_max.
    pub fn split(&self, len: u32) -> impl Iterator<Item = (u32, u32)> {
        let piece = match self.size_max {
            Some(max) if max > 0 => max,
            _ => len.max(1),
        };
        (0..len.div_ceil(piece)).map(move |i| {
            let offset = i * piece;
            (offset, piece.min(len - offset))
        })
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity.saturating_mul(SECTOR_SIZE)
    }
}

/// The GET_ID answer as text: up to the first NUL, printable ASCII only.
pub fn id_string(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = &bytes[..end];
    let printable = text.iter().position(|b| !(0x20..0x7f).contains(b)).unwrap_or(text.len());
    core::str::from_utf8(&text[..printable]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { capacity: 16384, read_only: false, flush: true, size_max: None, seg_max: Some(126), blk_size: 512 }
    }

    #[test]
    fn header_layout() {
        let h = header(Op::Write, 0x0102_0304_0506_0708);
        assert_eq!(&h[0..4], &[1, 0, 0, 0]);
        assert_eq!(&h[4..8], &[0; 4]);
        assert_eq!(&h[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(header(Op::Flush, 0)[0], 4);
        assert_eq!(header(Op::GetId, 0)[0], 8);
        assert_eq!(header(Op::Read, 0)[0], 0);
        assert!(Op::Read.device_writes_data() && Op::GetId.device_writes_data());
        assert!(!Op::Write.device_writes_data());
    }

    #[test]
    fn status_codes() {
        assert_eq!(Status::from_byte(0), Status::Ok);
        assert_eq!(Status::from_byte(1), Status::IoErr);
        assert_eq!(Status::from_byte(2), Status::Unsupported);
        assert_eq!(Status::from_byte(0xff).to_string(), "status byte not written");
        assert_eq!(Status::from_byte(7), Status::Invalid(7));
    }

    #[test]
    fn request_checks() {
        let l = limits();
        assert_eq!(l.check(Op::Read, 0, 4096, l.segments(4096), 64), Ok(()));
        assert_eq!(l.check(Op::Read, 16384 - 8, 4096, l.segments(4096), 64), Ok(()));
        assert_eq!(
            l.check(Op::Read, 16384 - 7, 4096, l.segments(4096), 64),
            Err(RequestError::BeyondCapacity { sector: 16377, sectors: 8, capacity: 16384 })
        );
        assert!(l.check(Op::Read, u64::MAX, 512, l.segments(512), 64).is_err());
        assert_eq!(l.check(Op::Write, 0, 100, l.segments(100), 64), Err(RequestError::BadLength { len: 100 }));
        assert_eq!(l.check(Op::Write, 0, 0, l.segments(0), 64), Err(RequestError::BadLength { len: 0 }));
        assert_eq!(l.check(Op::Flush, u64::MAX, 0, l.segments(0), 0), Ok(()));
        let ro = Limits { read_only: true, ..l };
        assert_eq!(ro.check(Op::Write, 0, 512, ro.segments(512), 64), Err(RequestError::ReadOnly));
        assert_eq!(ro.check(Op::Read, 0, 512, ro.segments(512), 64), Ok(()));
        assert!(RequestError::ReadOnly.to_string().contains("read-only"));
    }

    #[test]
    fn size_max_splits_buffers() {
        let l = Limits { size_max: Some(4096), seg_max: Some(4), ..limits() };
        assert_eq!(l.segments(4096), 1);
        assert_eq!(l.segments(4097 / 512 * 512 + 512), 2);
        let pieces: Vec<_> = l.split(10240).collect();
        assert_eq!(pieces, [(0, 4096), (4096, 4096), (8192, 2048)]);
        assert_eq!(l.check(Op::Read, 0, 16384, l.segments(16384), 64), Ok(()));
        assert_eq!(
            l.check(Op::Read, 0, 16896, l.segments(16896), 64),
            Err(RequestError::TooManySegments { segments: 5, max: 4 })
        );
        // The caller counts the descriptors of scattered data: five 4 KiB pages.
        assert_eq!(
            l.check(Op::Read, 0, 5 * 4096, 5 * l.segments(4096), 64),
            Err(RequestError::TooManySegments { segments: 5, max: 4 })
        );
        // The queue's own limit applies too.
        assert_eq!(
            l.check(Op::Read, 0, 16384, l.segments(16384), 2),
            Err(RequestError::TooManySegments { segments: 4, max: 2 })
        );
        let whole: Vec<_> = limits().split(1 << 20).collect();
        assert_eq!(whole, [(0, 1 << 20)]);
        assert_eq!(limits().split(0).count(), 0);
    }

    #[test]
    fn id_strings() {
        let mut id = [0u8; ID_BYTES];
        id[..6].copy_from_slice(b"disk-1");
        assert_eq!(id_string(&id), "disk-1");
        assert_eq!(id_string(b"abcdefghijklmnopqrst"), "abcdefghijklmnopqrst");
        assert_eq!(id_string(b"ab\x01cd"), "ab");
    }
}
