//! Read-ahead: Linux's on-demand read-ahead (`mm/readahead.c`), simplified,
//! with several streams at once as ZFS's `zfetch` keeps them.
//!
//! One [`Readahead`] per device (or file). The page cache reports each read
//! with [`Readahead::on_read`] (in pages) and gets back the window of pages
//! to read ahead, if any. It follows up to [`STREAMS`] sequential streams, so
//! that reads of other blocks between a file's data blocks (a file system's
//! inode table and indirect blocks, another file) do not reset it:
//!
//! - a read *continues* a stream if it starts where that stream's previous
//!   read ended; a read at page 0 starts a stream that counts as sequential
//!   (a fresh file); any other read starts a new stream (replacing the least
//!   recently used one) and reads nothing ahead -- it is *random*, unless
//!   the next read continues it; re-reading the block a stream just read
//!   changes nothing;
//! - the first sequential read of a stream that misses opens an initial
//!   window of `initial_pages` (at least the request's size rounded up to a
//!   power of two); each later sequential read that reaches into the
//!   stream's most recent window (Linux's `PG_readahead` mark, here the first
//!   page of the last window) doubles the window, up to `max_pages`, and
//!   reads it ahead, starting right after what was already read ahead;
//! - sequential reads that stay inside data already read ahead trigger
//!   nothing, and neither do hits on a stream without a window: as in Linux,
//!   a hit reads ahead only at a mark (and always there, even when the
//!   stream's previous read was not the page before).

/// Sequential streams followed at once.
pub const STREAMS: usize = 8;

/// Pages to read ahead: `start .. start + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadaheadWindow {
    pub start: u64,
    pub len: u32,
}

/// One sequential stream's state.
#[derive(Clone, Debug)]
struct Stream {
    /// Where a sequential read would start.
    next_expected: u64,
    /// Current window size (0: no window yet).
    window: u32,
    /// First page of the last window read ahead: reaching it triggers more.
    mark: u64,
    /// First page after everything read ahead.
    ra_end: u64,
    /// `Readahead::clock` when last used (the least recent is replaced).
    used: u64,
}

/// Read-ahead state: up to [`STREAMS`] streams.
#[derive(Clone, Debug)]
pub struct Readahead {
    initial_pages: u32,
    max_pages: u32,
    /// The most `set_max_pages` may set: half the cache for `for_cache`.
    cap: u32,
    streams: alloc::vec::Vec<Stream>,
    clock: u64,
}

impl Readahead {
    /// `max_pages` as Linux's `read_ahead_kb` / page size (default 32 for
    /// 128 KiB); both sizes are at least 1.
    pub fn new(initial_pages: u32, max_pages: u32) -> Self {
        let max_pages = max_pages.max(1);
        Readahead {
            initial_pages: initial_pages.clamp(1, max_pages),
            max_pages,
            cap: u32::MAX,
            streams: alloc::vec::Vec::with_capacity(STREAMS),
            clock: 0,
        }
    }

    /// Read-ahead for a page cache of `cache_pages` pages: windows of at
    /// most `max_pages`, and never more than half the cache (a window must
    /// not evict itself, or the page asked for), starting at 4 pages. None
    /// when that leaves nothing: read-ahead off.
    pub fn for_cache(max_pages: u32, cache_pages: usize) -> Option<Self> {
        let cap = u32::try_from(cache_pages / 2).unwrap_or(u32::MAX);
        let max = max_pages.min(cap);
        (max > 0).then(|| Readahead { cap, ..Readahead::new(4.min(max), max) })
    }

    /// The largest window now.
    pub fn max_pages(&self) -> u32 {
        self.max_pages
    }

    /// Changes the largest window while streams go on (a page-cache
    /// manager tuning read-ahead at run time). A stream's window larger
    /// than the new maximum shrinks to it. 0 turns read-ahead off but still
    /// follows the streams, which read ahead again from their next miss
    /// once the maximum is raised. Capped as `for_cache` caps it; setting
    /// the maximum it has already is free (callers set it on every read).
    pub fn set_max_pages(&mut self, max_pages: u32) {
        let max_pages = max_pages.min(self.cap);
        if max_pages == self.max_pages {
            return;
        }
        self.max_pages = max_pages;
        for s in &mut self.streams {
            s.window = s.window.min(max_pages);
        }
    }

    /// Reports a read of `count` pages at page `index` that the cache
    /// holds (or has in flight); returns what to read ahead: the next
    /// window, if the read reached a stream's mark.
    pub fn on_read(&mut self, index: u64, count: u32) -> Option<ReadaheadWindow> {
        self.read(index, count, false)
    }

    /// As [`Self::on_read`], for a read the cache missed. In a sequential
    /// stream that means pages read ahead were evicted before they were read
    /// (or were skipped because they were cached when their window was
    /// read): read ahead again from the missed page, with the current
    /// window (doubled if the read reached the mark), as Linux's
    /// `page_cache_sync_ra` does on a sequential stream. Without this, the
    /// rest of such a window would miss page by page.
    pub fn on_miss(&mut self, index: u64, count: u32) -> Option<ReadaheadWindow> {
        self.read(index, count, true)
    }

    fn read(&mut self, index: u64, count: u32, missed: bool) -> Option<ReadaheadWindow> {
        let count = count.max(1);
        let end = index.saturating_add(u64::from(count));
        self.clock += 1;
        // A hit on a stream's mark continues that stream even if the reads
        // before it went elsewhere (writes are not reported), as a hit on a
        // `PG_readahead` page always reads ahead in Linux.
        let marked = self.streams.iter().position(|s| !missed && s.window != 0 && (index..end).contains(&s.mark));
        let continued = self.streams.iter().position(|s| s.next_expected == index);
        let repeated = self.streams.iter().position(|s| s.next_expected == end && index != 0);
        let (i, sequential) = match (marked.or(continued), repeated) {
            (Some(i), _) => (i, true),
            (None, Some(i)) => {
                // The block a stream just read, again: nothing changes.
                self.streams[i].used = self.clock;
                return None;
            }
            (None, None) => (self.new_stream(), index == 0),
        };
        let (initial_pages, max_pages) = (self.initial_pages, self.max_pages);
        let s = &mut self.streams[i];
        s.used = self.clock;
        s.next_expected = end;
        if !sequential || max_pages == 0 {
            return None;
        }
        let inside = s.window != 0 && end <= s.mark;
        // A hit reads ahead only on reaching the mark, as Linux's async
        // read-ahead fires only at a `PG_readahead` page; a stream with no
        // window has no mark, and only a miss opens one (`page_cache_sync_ra`).
        // Otherwise adjacent blocks the cache keeps (a file system's indirect
        // blocks, read in on-disk order on every lookup) open a window per
        // read, and its pages are read again as often as the policy drops them.
        if !missed && (inside || s.window == 0) {
            return None;
        }
        s.window = if s.window == 0 || s.ra_end < index {
            let want = count.checked_next_power_of_two().unwrap_or(u32::MAX);
            want.max(initial_pages).min(max_pages)
        } else if inside {
            s.window
        } else {
            s.window.saturating_mul(2).min(max_pages)
        };
        // A miss re-reads from here; otherwise go on after what was read ahead.
        let start = if missed { end } else { end.max(s.ra_end) };
        let len = s.window;
        s.mark = start;
        s.ra_end = s.ra_end.max(start.saturating_add(u64::from(len)));
        Some(ReadaheadWindow { start, len })
    }

    /// A fresh stream's index: a new slot, or the least recently used one.
    fn new_stream(&mut self) -> usize {
        let fresh = Stream { next_expected: 0, window: 0, mark: 0, ra_end: 0, used: self.clock };
        if self.streams.len() < STREAMS {
            self.streams.push(fresh);
            return self.streams.len() - 1;
        }
        let lru = (0..self.streams.len()).min_by_key(|&i| self.streams[i].used).unwrap_or(0);
        self.streams[lru] = fresh;
        lru
    }
}

impl Default for Readahead {
    /// 4 pages initially, 32 pages (128 KiB) at most.
    fn default() -> Self {
        Readahead::new(4, 32)
    }
}
