//! Read-ahead: Linux's on-demand read-ahead (`mm/readahead.c`), simplified.
//!
//! One [`Readahead`] per open file. The page cache reports each read with
//! [`Readahead::on_read`] (in pages) and gets back the window of pages to
//! read ahead, if any:
//!
//! - a read is *sequential* if it starts where the previous one ended, or at
//!   page 0 (a fresh file);
//! - the first sequential read opens an initial window of `initial_pages`
//!   (at least the request's size rounded up to a power of two); each later
//!   sequential read that reaches into the most recent window (Linux's
//!   `PG_readahead` mark, here the first page of the last window) doubles the
//!   window, up to `max_pages`, and reads it ahead, starting right after what
//!   was already read ahead;
//! - sequential reads that stay inside data already read ahead trigger
//!   nothing;
//! - any other read is *random*: the state resets and nothing is read ahead.

/// Pages to read ahead: `start .. start + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadaheadWindow {
    pub start: u64,
    pub len: u32,
}

/// Per-file read-ahead state.
#[derive(Clone, Debug)]
pub struct Readahead {
    initial_pages: u32,
    max_pages: u32,
    /// Where a sequential read would start.
    next_expected: u64,
    /// Current window size (0: no window, state reset).
    window: u32,
    /// First page of the last window read ahead: reaching it triggers more.
    mark: u64,
    /// First page after everything read ahead.
    ra_end: u64,
}

impl Readahead {
    /// `max_pages` as Linux's `read_ahead_kb` / page size (default 32 for
    /// 128 KiB); both sizes are at least 1.
    pub fn new(initial_pages: u32, max_pages: u32) -> Self {
        let max_pages = max_pages.max(1);
        Readahead {
            initial_pages: initial_pages.clamp(1, max_pages),
            max_pages,
            next_expected: 0,
            window: 0,
            mark: 0,
            ra_end: 0,
        }
    }

    /// The current window size in pages (0 after a random read).
    pub fn window(&self) -> u32 {
        self.window
    }

    /// Reports a read of `count` pages at page `index`; returns what to read
    /// ahead.
    pub fn on_read(&mut self, index: u64, count: u32) -> Option<ReadaheadWindow> {
        let count = count.max(1);
        let end = index.saturating_add(u64::from(count));
        let sequential = index == self.next_expected || index == 0;
        self.next_expected = end;
        if !sequential {
            self.window = 0;
            self.mark = 0;
            self.ra_end = 0;
            return None;
        }
        if self.window != 0 && end <= self.mark {
            return None; // still reading pages read ahead before
        }
        self.window = if self.window == 0 || self.ra_end < index {
            let want = count.checked_next_power_of_two().unwrap_or(u32::MAX);
            want.max(self.initial_pages).min(self.max_pages)
        } else {
            self.window.saturating_mul(2).min(self.max_pages)
        };
        let start = end.max(self.ra_end);
        let len = self.window;
        self.mark = start;
        self.ra_end = start.saturating_add(u64::from(len));
        Some(ReadaheadWindow { start, len })
    }
}

impl Default for Readahead {
    /// 4 pages initially, 32 pages (128 KiB) at most.
    fn default() -> Self {
        Readahead::new(4, 32)
    }
}
