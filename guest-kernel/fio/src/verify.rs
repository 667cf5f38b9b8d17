//! Self-describing block stamps, as fio's `verify=` headers: a block
//! written with [`stamp`] says which block of the file it belongs to and
//! which write made it, and carries a checksum of its contents. [`check`]
//! then catches a page read from the wrong place (misplaced or duplicated
//! page), a torn or corrupted page, and, compared with the writer's own
//! record of sequence numbers, a lost write (an older stamp than expected).
//!
//! Layout (little-endian): magic u64, block u64, seq u64, checksum u64 of
//! everything after the header; the rest is a pseudo-random fill derived
//! from (block, seq), so that two writes of one block differ everywhere.

use core::fmt;

const MAGIC: u64 = 0x6f69_662d_6574_6972; // "rite-fio"
const HEADER: usize = 32;

/// Why a block failed [`check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corrupt {
    /// No stamp at all (never written by a job, or overwritten by something else).
    NoStamp,
    /// A valid stamp for another block: the page came from the wrong place.
    WrongBlock { found: u64 },
    /// The stamp's checksum does not match the contents.
    BadChecksum { seq: u64 },
    /// The buffer is not one block.
    BadLength(usize),
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corrupt::NoStamp => f.write_str("no fio stamp"),
            Corrupt::WrongBlock { found } => write!(f, "stamp of block {found}"),
            Corrupt::BadChecksum { seq } => write!(f, "checksum mismatch (stamp seq {seq})"),
            Corrupt::BadLength(n) => write!(f, "{n} bytes, not one {}-byte block", crate::BLOCK),
        }
    }
}

/// Fills `buf` (one block) as write `seq` of file block `block`.
pub fn stamp(buf: &mut [u8], block: u64, seq: u64) {
    assert_eq!(buf.len(), crate::BLOCK as usize, "stamp takes one block");
    let mut x = (block.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seq) | 1;
    for word in buf[HEADER..].chunks_exact_mut(8) {
        // xorshift64: cheap, and every word differs.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    let sum = checksum(&buf[HEADER..]);
    for (i, v) in [MAGIC, block, seq, sum].into_iter().enumerate() {
        buf[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
}

/// The write sequence number `buf` carries, if it is an intact stamp of `block`.
pub fn check(buf: &[u8], block: u64) -> Result<u64, Corrupt> {
    if buf.len() != crate::BLOCK as usize {
        return Err(Corrupt::BadLength(buf.len()));
    }
    let word = |i: usize| u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    if word(0) != MAGIC {
        return Err(Corrupt::NoStamp);
    }
    let seq = word(2);
    if word(3) != checksum(&buf[HEADER..]) {
        return Err(Corrupt::BadChecksum { seq });
    }
    if word(1) != block {
        return Err(Corrupt::WrongBlock { found: word(1) });
    }
    Ok(seq)
}

/// FNV-1a over 64-bit words (a checksum against accidents, not an adversary).
fn checksum(data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for w in data.chunks_exact(8) {
        h ^= u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
