//! Which physical pages the buddy allocator manages, and the number of each.
//!
//! RAM comes in a few ranges with holes between them (below 640 KiB, the
//! PCI hole under 4 GiB, whatever the kernel image and boot data occupy).
//! Metadata for the holes would be wasted -- a 1 GiB hole is 262144 frames --
//! so, like Linux's memory sections, each range ("span") gets its own slice
//! of the per-frame arrays: frame numbers are dense over the managed pages
//! only. A span's frames are contiguous, so the frames of a block are too.
//!
//! Spans are the given ranges trimmed inwards to page boundaries, sorted,
//! with overlapping or touching ranges merged: two spans never touch, so a
//! buddy that lies outside its block's span is unmanaged memory, never a
//! page of a neighbouring span.

use alloc::vec::Vec;

use crate::{PAGE_SIZE, PhysRange};

/// One contiguous run of managed pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    /// Page-aligned start address.
    pub start: u64,
    /// Page-aligned end address (exclusive).
    pub end: u64,
    /// Frame number of the page at `start`.
    pub first_frame: u32,
}

impl Span {
    pub(crate) fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// The frame number of the page at `addr`, if it lies in this span.
    pub(crate) fn frame_of(&self, addr: u64) -> Option<u32> {
        self.contains(addr)
            .then(|| self.first_frame + ((addr - self.start) / PAGE_SIZE) as u32)
    }

    fn frames(&self) -> u32 {
        ((self.end - self.start) / PAGE_SIZE) as u32
    }
}

/// The spans, sorted by address.
pub(crate) struct FrameMap {
    spans: Vec<Span>,
    frames: u32,
}

impl FrameMap {
    /// Trims, sorts and merges `ranges`. Panics if the total does not fit
    /// the 32-bit frame numbers (16 TiB), which the metadata relies on.
    pub(crate) fn new(ranges: &[PhysRange]) -> Self {
        let mut trimmed: Vec<PhysRange> = ranges
            .iter()
            .map(|r| {
                PhysRange::new(
                    r.start.next_multiple_of(PAGE_SIZE),
                    r.end / PAGE_SIZE * PAGE_SIZE,
                )
            })
            .filter(|r| !r.is_empty())
            .collect();
        trimmed.sort_unstable_by_key(|r| r.start);

        let mut merged: Vec<PhysRange> = Vec::with_capacity(trimmed.len());
        for r in trimmed {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }

        let mut spans = Vec::with_capacity(merged.len());
        let mut frames: u64 = 0;
        for r in merged {
            spans.push(Span {
                start: r.start,
                end: r.end,
                first_frame: frames as u32,
            });
            frames += r.len() / PAGE_SIZE;
            // NIL (u32::MAX) must stay free as the list terminator.
            assert!(
                frames < u64::from(u32::MAX),
                "more than 16 TiB of RAM: frame numbers overflow"
            );
        }
        Self {
            spans,
            frames: frames as u32,
        }
    }

    /// Number of managed frames.
    pub(crate) fn frames(&self) -> u32 {
        self.frames
    }

    pub(crate) fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The span holding `addr`, if any.
    pub(crate) fn span_of(&self, addr: u64) -> Option<Span> {
        // The last span starting at or below `addr` is the only candidate.
        let after = self.spans.partition_point(|s| s.start <= addr);
        let span = *self.spans.get(after.checked_sub(1)?)?;
        span.contains(addr).then_some(span)
    }

    /// The address of frame number `frame`.
    pub(crate) fn addr_of(&self, frame: u32) -> u64 {
        debug_assert!(frame < self.frames);
        let after = self.spans.partition_point(|s| s.first_frame <= frame);
        let span = self.spans[after - 1];
        debug_assert!(frame - span.first_frame < span.frames());
        span.start + u64::from(frame - span.first_frame) * PAGE_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u64 = 1024;
    const M: u64 = 1024 * K;

    #[test]
    fn ranges_are_trimmed_sorted_and_merged() {
        let map = FrameMap::new(&[
            PhysRange::new(8 * M, 9 * M + 100), // end trimmed down
            PhysRange::new(1, 2 * PAGE_SIZE),   // start trimmed up: one page
            PhysRange::new(4 * M, 6 * M),       // touches the next one
            PhysRange::new(6 * M, 7 * M),
            PhysRange::new(5 * M, 5 * M + 4 * K), // inside another
            PhysRange::new(100, 4000),            // no whole page: dropped
            PhysRange::new(3 * M, 3 * M),         // empty: dropped
        ]);
        let spans: Vec<(u64, u64, u32)> = map
            .spans()
            .iter()
            .map(|s| (s.start, s.end, s.first_frame))
            .collect();
        assert_eq!(
            spans,
            [
                (PAGE_SIZE, 2 * PAGE_SIZE, 0),
                (4 * M, 7 * M, 1),
                (8 * M, 9 * M, 1 + 768),
            ]
        );
        assert_eq!(map.frames(), 1 + 768 + 256);
    }

    #[test]
    fn addresses_and_frame_numbers_round_trip() {
        let map = FrameMap::new(&[PhysRange::new(M, 2 * M), PhysRange::new(16 * M, 17 * M)]);
        for frame in 0..map.frames() {
            let addr = map.addr_of(frame);
            let span = map.span_of(addr).unwrap();
            assert_eq!(span.frame_of(addr), Some(frame));
        }
        assert_eq!(map.addr_of(256), 16 * M);
        for hole in [0, M - 1, 2 * M, 10 * M, 17 * M, u64::MAX] {
            assert!(map.span_of(hole).is_none(), "{hole:#x}");
        }
        // An unaligned address belongs to the page that holds it.
        assert_eq!(map.span_of(M + 5).and_then(|s| s.frame_of(M + 5)), Some(0));
    }

    #[test]
    fn no_ranges_means_no_frames() {
        let map = FrameMap::new(&[]);
        assert_eq!(map.frames(), 0);
        assert!(map.span_of(0).is_none());
    }
}
