//! Walking the saved-RBP chain of x86-64 code built with frame pointers: a
//! frame at RBP holds the caller's RBP, and above it the return address into
//! the caller. The walk checks every frame before it is read, so that a
//! corrupt chain ends the walk instead of faulting (or reading far away).

use core::fmt;
use core::ops::Range;

/// How far above the interrupted RSP the walk may read.
pub const WINDOW: u64 = 256 << 10;
/// The most return addresses a walk reports.
pub const MAX_FRAMES: usize = 32;

/// Why a walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// A saved RBP of 0: the outermost frame.
    Chain,
    /// A frame pointer that failed the checks.
    FrameOutside(u64),
    /// A return address outside the kernel's code.
    ReturnOutside(u64),
    /// [`MAX_FRAMES`] return addresses and the chain goes on.
    TooDeep,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Chain => write!(f, "end of chain"),
            Self::FrameOutside(frame) => {
                write!(f, "stop: frame pointer {frame:#x} outside the stack in use")
            }
            Self::ReturnOutside(ret) => {
                write!(f, "stop: return address {ret:#x} outside the kernel")
            }
            Self::TooDeep => write!(f, "stop: more than {MAX_FRAMES} frames"),
        }
    }
}

/// Follows the chain from `rbp`, with `rsp` the stack pointer of the code
/// that was interrupted, and calls `found(depth, return_address)` for each
/// frame (depth 1 is the caller of the interrupted function).
///
/// `read(frame)` is called only for a frame that is 8-aligned, for which
/// `readable(frame)` said the 16 bytes `[frame, frame + 16)` can be read,
/// that lies within [`WINDOW`] above `rsp` and strictly above the previous
/// frame; it returns the two words there (saved RBP, return address). A
/// return address must lie in `text` for the walk to go on.
pub fn walk(
    rbp: u64,
    rsp: u64,
    text: Range<u64>,
    readable: impl Fn(u64) -> bool,
    read: impl Fn(u64) -> [u64; 2],
    mut found: impl FnMut(usize, u64),
) -> End {
    let window_end = rsp.saturating_add(WINDOW);
    let mut frame = rbp;
    let mut floor = rsp;
    for depth in 1..=MAX_FRAMES {
        if frame == 0 {
            return End::Chain;
        }
        let in_window = frame >= floor && frame.checked_add(16).is_some_and(|e| e <= window_end);
        if !frame.is_multiple_of(8) || !in_window || !readable(frame) {
            return End::FrameOutside(frame);
        }
        let [next, ret] = read(frame);
        if !text.contains(&ret) {
            return End::ReturnOutside(ret);
        }
        found(depth, ret);
        floor = frame + 16;
        frame = next;
    }
    End::TooDeep
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    const TEXT: Range<u64> = 0xffff_ffff_8010_0000..0xffff_ffff_8020_0000;
    const RSP: u64 = 0x10_0000;

    /// Walks a fake stack of (address, saved RBP, return address) frames;
    /// returns the return addresses found, the end, and every address read.
    fn walk_stack(rbp: u64, frames: &[(u64, u64, u64)]) -> (Vec<(usize, u64)>, End, Vec<u64>) {
        let memory: BTreeMap<u64, [u64; 2]> = frames
            .iter()
            .map(|&(at, next, ret)| (at, [next, ret]))
            .collect();
        let reads = RefCell::new(Vec::new());
        let mut found = Vec::new();
        let end = walk(
            rbp,
            RSP,
            TEXT,
            |frame| memory.contains_key(&frame),
            |frame| {
                reads.borrow_mut().push(frame);
                memory[&frame]
            },
            |depth, ret| found.push((depth, ret)),
        );
        (found, end, reads.into_inner())
    }

    #[test]
    fn follows_the_chain_to_its_end() {
        let frames = [
            (RSP + 0x40, RSP + 0x100, TEXT.start + 0x10),
            (RSP + 0x100, 0, TEXT.start + 0x20),
        ];
        let (found, end, _) = walk_stack(RSP + 0x40, &frames);
        assert_eq!(found, [(1, TEXT.start + 0x10), (2, TEXT.start + 0x20)]);
        assert_eq!(end, End::Chain);
        assert_eq!(end.to_string(), "end of chain");
    }

    #[test]
    fn never_reads_a_frame_that_fails_the_checks() {
        // Unaligned, below RSP, past the window, unreadable, not above the previous frame.
        for bad in [RSP + 0x44, RSP - 0x10, RSP + WINDOW - 8, RSP + 0x80] {
            let frames = [
                (RSP + 0x40, bad, TEXT.start),
                (RSP + 0x44, 0, TEXT.start),
                (RSP - 0x10, 0, TEXT.start),
            ];
            let (found, end, reads) = walk_stack(RSP + 0x40, &frames);
            assert_eq!(found.len(), 1);
            assert_eq!(end, End::FrameOutside(bad));
            assert_eq!(reads, [RSP + 0x40], "{bad:#x}");
        }
        // A loop: the frame points at itself.
        let (_, end, reads) = walk_stack(RSP + 0x40, &[(RSP + 0x40, RSP + 0x40, TEXT.start)]);
        assert_eq!((end, reads.len()), (End::FrameOutside(RSP + 0x40), 1));
        assert_eq!(
            End::FrameOutside(0x1234).to_string(),
            "stop: frame pointer 0x1234 outside the stack in use"
        );
    }

    #[test]
    fn stops_at_a_return_address_outside_the_kernel() {
        let (found, end, _) = walk_stack(RSP, &[(RSP, 0, 0x40_1000)]);
        assert!(found.is_empty());
        assert_eq!(end, End::ReturnOutside(0x40_1000));
    }

    #[test]
    fn stops_after_max_frames() {
        let frames: Vec<(u64, u64, u64)> = (0..40)
            .map(|i| (RSP + 16 * i, RSP + 16 * (i + 1), TEXT.start + i))
            .collect();
        let (found, end, _) = walk_stack(RSP, &frames);
        assert_eq!(found.len(), MAX_FRAMES);
        assert_eq!(end, End::TooDeep);
        assert_eq!(end.to_string(), "stop: more than 32 frames");
    }
}
