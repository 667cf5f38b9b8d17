//! The bootstrap heap's bump allocator: addresses handed out upwards from
//! one range, before the real allocators exist. Lock-free: a
//! compare-exchange moves the next free address past each block before the
//! block is returned, so concurrent callers get disjoint blocks. Only the
//! newest block can be given back. ostd's `#[global_allocator]` relies on
//! both (its SAFETY argument cites them; the tests check them).

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A bump allocator over `[start, end)`; empty (`end == 0`) until [`Bump::init`].
pub struct Bump {
    start: AtomicU64,
    next: AtomicU64,
    end: AtomicU64,
}

impl Default for Bump {
    fn default() -> Self {
        Self::new()
    }
}

impl Bump {
    /// An allocator with no memory yet: every allocation fails.
    pub const fn new() -> Self {
        Self {
            start: AtomicU64::new(0),
            next: AtomicU64::new(0),
            end: AtomicU64::new(0),
        }
    }

    /// Hands it `[start, start + len)`. Call once, before the first allocation.
    pub fn init(&self, start: u64, len: u64) {
        assert_eq!(self.end.load(Relaxed), 0, "heap initialised twice");
        self.start.store(start, Relaxed);
        self.next.store(start, Relaxed);
        self.end.store(start + len, Relaxed);
    }

    /// (bytes in use, bytes in total).
    pub fn usage(&self) -> (u64, u64) {
        let start = self.start.load(Relaxed);
        (
            self.next.load(Relaxed) - start,
            self.end.load(Relaxed) - start,
        )
    }

    /// Whether `addr` lies in the range.
    pub fn contains(&self, addr: u64) -> bool {
        (self.start.load(Relaxed)..self.end.load(Relaxed)).contains(&addr)
    }

    /// `size` bytes aligned to `align` (a power of two), or `None` if they
    /// do not fit in what is left.
    pub fn alloc(&self, size: u64, align: u64) -> Option<u64> {
        let mut next = self.next.load(Relaxed);
        loop {
            let start = next.checked_next_multiple_of(align)?;
            let end = start.checked_add(size)?;
            if end > self.end.load(Relaxed) {
                return None;
            }
            match self.next.compare_exchange_weak(next, end, Relaxed, Relaxed) {
                Ok(_) => return Some(start),
                Err(current) => next = current,
            }
        }
    }

    /// Gives back the `size` bytes at `addr` if they are the newest block;
    /// any other block's memory stays used.
    pub fn free(&self, addr: u64, size: u64) {
        let _ = self
            .next
            .compare_exchange(addr + size, addr, Relaxed, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_and_disjoint_until_full() {
        let bump = Bump::new();
        assert_eq!(bump.alloc(8, 8), None);
        bump.init(0x1000, 0x100);
        assert_eq!(bump.alloc(3, 1), Some(0x1000));
        assert_eq!(bump.alloc(16, 16), Some(0x1010));
        assert_eq!(bump.alloc(0xd0, 8), Some(0x1020));
        assert_eq!(bump.alloc(0x11, 1), None); // 0x10 bytes left
        assert_eq!(bump.alloc(0x10, 1), Some(0x10f0));
        assert_eq!(bump.usage(), (0x100, 0x100));
        assert!(bump.contains(0x1000) && bump.contains(0x10ff) && !bump.contains(0x1100));
    }

    #[test]
    fn only_the_newest_block_comes_back() {
        let bump = Bump::new();
        bump.init(0x1000, 0x100);
        let a = bump.alloc(0x20, 8).unwrap();
        let b = bump.alloc(0x20, 8).unwrap();
        bump.free(a, 0x20); // not the newest: stays used
        assert_eq!(bump.usage().0, 0x40);
        bump.free(b, 0x20);
        assert_eq!(bump.usage().0, 0x20);
        assert_eq!(bump.alloc(0x20, 8), Some(b));
    }

    #[test]
    fn no_overflow_at_the_top_of_the_address_space() {
        let bump = Bump::new();
        bump.init(u64::MAX - 0x1000, 0x1000);
        assert_eq!(bump.alloc(0x2000, 8), None);
        assert_eq!(bump.alloc(8, 1 << 63), None);
        assert_eq!(bump.alloc(u64::MAX, 1), None);
    }

    #[test]
    fn concurrent_callers_get_disjoint_blocks() {
        let bump = Bump::new();
        bump.init(0, 1 << 20);
        let mut blocks: Vec<u64> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..1000)
                            .map(|_| bump.alloc(24, 8).unwrap())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        blocks.sort_unstable();
        assert!(blocks.windows(2).all(|w| w[1] - w[0] >= 24));
        assert!(blocks.iter().all(|b| b % 8 == 0));
    }
}
