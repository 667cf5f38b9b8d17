//! Host tests for the block layer.

extern crate std;

use crate::*;
use alloc::vec;
use alloc::vec::Vec;
use std::collections::BTreeSet;

/// One 4 KiB buffer per 8 sectors, addressed by its first sector so tests
/// can check the buffer list follows the sectors.
fn rq(op: Op, sector: u64, sectors: u32) -> Request {
    let bufs = (0..sectors.div_ceil(8))
        .map(|i| BufRef {
            addr: (sector + u64::from(i) * 8) * 512,
            len: 4096,
        })
        .collect();
    Request::new(op, sector, sectors, bufs)
}

fn drain(q: &mut RequestQueue, now: u64) -> Vec<Request> {
    let mut out = Vec::new();
    while let Some(r) = q.dispatch(now) {
        out.push(r);
    }
    out
}

fn kinds() -> [SchedulerKind; 2] {
    [SchedulerKind::None, SchedulerKind::deadline()]
}

#[test]
fn back_and_front_merge() {
    for kind in kinds() {
        let mut q = RequestQueue::new(QueueLimits::default(), kind);
        q.plug();
        q.submit(rq(Op::Read, 8, 8), 0).unwrap();
        q.submit(rq(Op::Read, 16, 8), 0).unwrap(); // back
        q.submit(rq(Op::Read, 0, 8), 0).unwrap(); // front
        assert_eq!(q.pending(), 1);
        q.unplug();
        let out = drain(&mut q, 0);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].sector, out[0].sectors), (0, 24));
        let addrs: Vec<u64> = out[0].bufs.iter().map(|b| b.addr).collect();
        assert_eq!(addrs, vec![0, 8 * 512, 16 * 512], "buffers follow sectors");
        let s = q.stats();
        assert_eq!(
            (s.queued, s.back_merges, s.front_merges, s.dispatched),
            (3, 1, 1, 1)
        );
        q.reset_stats();
        assert_eq!(q.stats(), QueueStats::default());
    }
}

#[test]
fn merges_in_scheduler_when_unplugged() {
    for kind in kinds() {
        let mut q = RequestQueue::new(QueueLimits::default(), kind);
        q.submit(rq(Op::Write, 100, 8), 0).unwrap();
        q.submit(rq(Op::Write, 108, 8), 0).unwrap();
        q.submit(rq(Op::Write, 92, 8), 0).unwrap();
        let out = drain(&mut q, 0);
        assert_eq!(out.len(), 1, "{kind:?}");
        assert_eq!((out[0].sector, out[0].sectors), (92, 24));
        assert_eq!(q.stats().merged(), 2);
    }
}

#[test]
fn never_merge_across_ops_flush_gaps_or_overlaps() {
    for kind in kinds() {
        let mut q = RequestQueue::new(QueueLimits::default(), kind);
        q.plug();
        q.submit(rq(Op::Read, 0, 8), 0).unwrap();
        q.submit(rq(Op::Write, 8, 8), 0).unwrap(); // other op
        q.submit(rq(Op::Read, 17, 8), 0).unwrap(); // gap of one sector
        q.submit(rq(Op::Read, 4, 8), 0).unwrap(); // overlaps the first
        q.submit(Request::flush(), 0).unwrap();
        q.submit(Request::flush(), 0).unwrap();
        q.unplug();
        let out = drain(&mut q, 0);
        assert_eq!(out.len(), 6, "{kind:?}");
        assert_eq!(q.stats().merged(), 0);
    }
}

#[test]
fn never_merge_beyond_limits() {
    let limits = QueueLimits {
        max_sectors: 16,
        max_segments: 3,
    };
    for kind in kinds() {
        let mut q = RequestQueue::new(limits, kind);
        q.plug();
        q.submit(rq(Op::Read, 0, 8), 0).unwrap();
        q.submit(rq(Op::Read, 8, 8), 0).unwrap(); // 16 sectors: ok
        q.submit(rq(Op::Read, 16, 8), 0).unwrap(); // would be 24: no
        q.unplug();
        let out = drain(&mut q, 0);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|r| r.sectors <= 16));

        // Segment limit: four 1-sector requests of one buffer each.
        let mut q = RequestQueue::new(limits, kind);
        q.plug();
        for s in 0..4 {
            q.submit(
                Request::new(Op::Write, s, 1, vec![BufRef { addr: s, len: 512 }]),
                0,
            )
            .unwrap();
        }
        q.unplug();
        let out = drain(&mut q, 0);
        assert!(out.iter().all(|r| r.segments() <= 3));
        assert_eq!(out.len(), 2);
    }
}

#[test]
fn rejects_invalid_requests() {
    let mut q = RequestQueue::new(
        QueueLimits {
            max_sectors: 16,
            max_segments: 2,
        },
        SchedulerKind::None,
    );
    assert!(q.submit(rq(Op::Read, 0, 0), 0).is_err());
    assert!(q.submit(Request::new(Op::Read, 0, 8, vec![]), 0).is_err());
    assert!(q.submit(rq(Op::Read, 0, 24), 0).is_err());
    assert!(
        q.submit(
            Request::new(
                Op::Read,
                u64::MAX - 2,
                8,
                vec![BufRef { addr: 0, len: 4096 }]
            ),
            0
        )
        .is_err()
    );
    assert!(q.submit(Request::new(Op::Flush, 0, 1, vec![]), 0).is_err());
    assert_eq!(q.stats().rejected, 5);
    assert_eq!(q.stats().queued, 0);
}

#[test]
fn plugging_holds_then_releases_in_order() {
    let mut q = RequestQueue::new(QueueLimits::default(), SchedulerKind::None);
    q.plug();
    for s in [50u64, 10, 30] {
        q.submit(rq(Op::Read, s, 8), 0).unwrap();
    }
    assert!(q.dispatch(0).is_none(), "nothing dispatched while plugged");
    assert_eq!(q.pending(), 3);
    q.unplug();
    let got: Vec<u64> = drain(&mut q, 0).iter().map(|r| r.sector).collect();
    assert_eq!(got, vec![50, 10, 30]);
    assert_eq!(q.stats().unplugs, 1);
}

#[test]
fn deadline_sorts_by_sector() {
    let mut q = RequestQueue::new(QueueLimits::default(), SchedulerKind::deadline());
    q.plug();
    for s in [0u64, 500, 100, 300, 200, 400] {
        q.submit(rq(Op::Read, s, 8), 0).unwrap();
    }
    q.unplug();
    let got: Vec<u64> = drain(&mut q, 1).iter().map(|r| r.sector).collect();
    // Starts at the oldest (sector 0), then sweeps upward.
    assert_eq!(got, vec![0, 100, 200, 300, 400, 500]);
}

#[test]
fn deadline_serves_expired_request_first() {
    let tun = DeadlineTunables {
        fifo_batch: 2,
        ..DeadlineTunables::default()
    };
    let mut q = RequestQueue::new(QueueLimits::default(), SchedulerKind::Deadline(tun));
    q.submit(rq(Op::Read, 10, 8), 0).unwrap(); // oldest, low sector
    assert_eq!(q.dispatch(0).unwrap().sector, 10); // sweep now at 18
    q.submit(rq(Op::Read, 5, 1), 0).unwrap(); // behind the sweep, old
    for s in [100u64, 200, 300, 400] {
        q.submit(rq(Op::Read, s, 8), 1_000).unwrap();
    }
    // Not expired: the sweep continues upward past sector 5.
    assert_eq!(q.dispatch(1_000).unwrap().sector, 100);
    assert_eq!(q.dispatch(1_000).unwrap().sector, 200);
    // At 500 ms the request at sector 5 has expired; the running batch
    // (200, 300) finishes first, then the next batch starts at the expired one.
    assert_eq!(q.dispatch(500_000_000).unwrap().sector, 300);
    assert_eq!(q.dispatch(500_000_000).unwrap().sector, 5);
    assert_eq!(q.dispatch(500_000_000).unwrap().sector, 400);
}

#[test]
fn deadline_prefers_reads_but_does_not_starve_writes() {
    let tun = DeadlineTunables {
        fifo_batch: 1,
        ..DeadlineTunables::default()
    };
    let mut q = RequestQueue::new(QueueLimits::default(), SchedulerKind::Deadline(tun));
    q.plug();
    q.submit(rq(Op::Write, 0, 8), 0).unwrap();
    for i in 0..6u64 {
        q.submit(rq(Op::Read, 1000 + i * 100, 8), 0).unwrap();
    }
    q.unplug();
    let ops: Vec<Op> = drain(&mut q, 0).iter().map(|r| r.op).collect();
    // writes_starved = 2: two read batches, then the write.
    assert_eq!(ops[..3], [Op::Read, Op::Read, Op::Write]);
}

#[test]
fn deadline_dispatches_flush_first() {
    let mut q = RequestQueue::new(QueueLimits::default(), SchedulerKind::deadline());
    q.submit(rq(Op::Write, 0, 8), 0).unwrap();
    q.submit(Request::flush(), 0).unwrap();
    assert_eq!(q.dispatch(0).unwrap().op, Op::Flush);
    assert_eq!(q.dispatch(0).unwrap().op, Op::Write);
    assert!(q.dispatch(0).is_none());
}

/// A reader of one device as the page cache reports it to [`Readahead`]:
/// a page read before or read ahead is a hit, any other a miss.
struct Reader {
    ra: Readahead,
    cached: BTreeSet<u64>,
}

impl Reader {
    fn new(ra: Readahead) -> Self {
        Reader { ra, cached: BTreeSet::new() }
    }

    fn read(&mut self, page: u64) -> Option<ReadaheadWindow> {
        let w = if self.cached.contains(&page) {
            self.ra.on_read(page, 1)
        } else {
            self.ra.on_miss(page, 1)
        };
        self.cached.insert(page);
        if let Some(w) = w {
            self.cached.extend(w.start..w.start + u64::from(w.len));
        }
        w
    }
}

#[test]
fn readahead_grows_on_sequential_and_resets_on_random() {
    let mut ra = Readahead::new(4, 32);
    let w = ra.on_miss(0, 1).unwrap();
    assert_eq!(w, ReadaheadWindow { start: 1, len: 4 });
    let mut sizes = vec![w.len];
    let mut covered = w.start + u64::from(w.len);
    for page in 1..200u64 {
        if let Some(w) = ra.on_read(page, 1) {
            assert_eq!(
                w.start, covered,
                "windows are contiguous, nothing read twice"
            );
            covered += u64::from(w.len);
            sizes.push(w.len);
        }
        assert!(covered > page, "read-ahead stays ahead of the reader");
    }
    assert_eq!(sizes[..4], [4, 8, 16, 32]);
    assert!(sizes.iter().all(|&s| s <= 32));
    assert_eq!(sizes.last(), Some(&32));
    // A random read reads nothing ahead.
    assert_eq!(ra.on_miss(5000, 1), None);
    assert_eq!(ra.on_miss(77, 1), None);
    // Sequential again after a random read: a fresh small window.
    assert_eq!(
        ra.on_miss(78, 2),
        Some(ReadaheadWindow { start: 80, len: 4 })
    );
}

#[test]
fn readahead_initial_window_follows_request_size() {
    let mut ra = Readahead::new(4, 32);
    assert_eq!(ra.on_miss(0, 6), Some(ReadaheadWindow { start: 6, len: 8 }));
    let mut ra = Readahead::new(4, 32);
    assert_eq!(ra.on_miss(0, 100).unwrap().len, 32);
}

#[test]
fn readahead_for_a_cache_never_exceeds_half_of_it() {
    assert!(Readahead::for_cache(0, 256).is_none(), "0: off");
    assert!(Readahead::for_cache(32, 1).is_none(), "half of a 1-page cache is 0");
    for (max, cache, largest) in [(32, 16, 8), (32, 1024, 32), (2, 1024, 2)] {
        let mut r = Reader::new(Readahead::for_cache(max, cache).unwrap());
        let widest = (0..500u64).filter_map(|p| r.read(p)).map(|w| w.len).max();
        assert_eq!(widest, Some(largest), "max {max}, cache {cache}");
    }
}

#[test]
fn readahead_streams_survive_reads_elsewhere() {
    // A file system reading a file's data blocks 1000.. with its inode
    // table (block 5) and an indirect block (block 900) read in between.
    let mut r = Reader::new(Readahead::new(4, 32));
    let mut windows = Vec::new();
    for page in 1000..1200u64 {
        if page % 16 == 0 {
            assert_eq!(r.read(5), None, "metadata reads read nothing ahead");
            assert_eq!(r.read(5), None);
            assert_eq!(r.read(900), None);
        }
        if let Some(w) = r.read(page) {
            windows.push(w.len);
        }
    }
    // The data stream keeps growing to the maximum as if read alone.
    assert_eq!(windows[..4], [4, 8, 16, 32]);
    assert!(windows[4..].iter().all(|&len| len == 32), "{windows:?}");
}

#[test]
fn readahead_hits_without_a_window_read_nothing_ahead() {
    // ext2 random reads of a large file: every lookup reads the inode table
    // block (5), the double-indirect block (1817) and one of the indirect
    // blocks under it (1818 + 1025 k, each followed by the 1024 data blocks
    // it maps), then a random data block. The metadata stays cached, so
    // 1817 -> 1818 is a sequential pair of hits on every eighth lookup: it
    // must not read 1819.. ahead each time.
    let mut ra = Readahead::new(4, 32);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut data_windows = 0;
    for _ in 0..1000 {
        let ind = 1818 + 1025 * rng.below(8);
        assert_eq!(ra.on_read(5, 1), None);
        assert_eq!(ra.on_read(1817, 1), None);
        assert_eq!(ra.on_read(ind, 1), None, "a hit on adjacent metadata");
        // Any mapped block but the first: that one would be a sequential miss.
        let data = ind + 2 + rng.below(1023);
        data_windows += u32::from(ra.on_miss(data, 1).is_some());
    }
    // Only where a random block happens to follow the one before.
    assert!(data_windows <= 5, "{data_windows} windows");
    // A sequential miss still opens a window (Linux's sync read-ahead).
    assert_eq!(ra.on_read(1817, 1), None);
    assert_eq!(
        ra.on_miss(1818, 1),
        Some(ReadaheadWindow { start: 1819, len: 4 })
    );
}

#[test]
fn readahead_hit_on_a_mark_continues_its_stream() {
    let mut r = Reader::new(Readahead::new(4, 32));
    for page in 0..40 {
        r.read(page);
    }
    // Page 40 is written, not read (writes are not reported): 41 starts a
    // fresh stream, yet read-ahead keeps ahead of the reader.
    for page in 41..300 {
        assert!(r.cached.contains(&page), "page {page} was read ahead");
        r.read(page);
    }
}

#[test]
fn readahead_reads_again_after_a_miss_inside_a_window() {
    let mut r = Reader::new(Readahead::new(4, 32));
    let (mut page, mut window) = (0, 0);
    while window < 32 {
        window = r.read(page).map_or(window, |w| w.len);
        page += 1;
    }
    let ra = &mut r.ra;
    // Windows reach well beyond `page`; its pages were evicted unread.
    assert_eq!(ra.on_read(page, 1), None, "a hit inside a window reads nothing");
    let w = ra.on_miss(page + 1, 1).expect("a sequential miss reads ahead again");
    assert_eq!((w.start, w.len), (page + 2, 32), "from the missed page, same window");
    let next = ra.on_read(page + 2, 1).expect("reaching the new mark reads the next window");
    assert!(next.start >= w.start + u64::from(w.len), "after what was read ahead: {next:?}");
    // A miss outside any stream is still random.
    assert_eq!(ra.on_miss(90_000, 1), None);
    assert_eq!(ra.on_miss(90_001, 1), Some(ReadaheadWindow { start: 90_002, len: 4 }));
}

#[test]
fn readahead_follows_a_bounded_number_of_streams() {
    let mut ra = Readahead::new(4, 32);
    // STREAMS interleaved sequential readers all get their windows.
    let starts: Vec<u64> = (0..STREAMS as u64).map(|i| 10_000 * (i + 1)).collect();
    for &s in &starts {
        assert_eq!(ra.on_miss(s, 1), None, "first read of a stream is random");
    }
    for &s in &starts {
        assert_eq!(ra.on_miss(s + 1, 1), Some(ReadaheadWindow { start: s + 2, len: 4 }));
    }
    // One more stream replaces the least recently used (the first).
    assert_eq!(ra.on_miss(500_000, 1), None);
    // The others go on: reaching the window's mark doubles it.
    assert_eq!(
        ra.on_read(starts[1] + 2, 1),
        Some(ReadaheadWindow { start: starts[1] + 6, len: 8 })
    );
    assert_eq!(ra.on_read(starts[0] + 2, 1), None, "its stream was forgotten");
}

#[test]
fn readahead_max_can_change_while_streams_go_on() {
    let mut ra = Readahead::new(4, 32);
    assert_eq!(ra.on_miss(0, 1), Some(ReadaheadWindow { start: 1, len: 4 }));
    assert_eq!(ra.on_read(1, 1), Some(ReadaheadWindow { start: 5, len: 8 }));
    // A lower maximum caps the next window at once.
    ra.set_max_pages(4);
    assert_eq!(ra.max_pages(), 4);
    assert_eq!(ra.on_read(5, 1), Some(ReadaheadWindow { start: 13, len: 4 }));
    // 0: off, but the stream is still followed ...
    ra.set_max_pages(0);
    assert_eq!(ra.on_read(13, 1), None);
    assert_eq!(ra.on_miss(14, 1), None);
    // ... and reads ahead again from its next miss once read-ahead is back on.
    ra.set_max_pages(64);
    assert_eq!(ra.on_miss(15, 1), Some(ReadaheadWindow { start: 16, len: 4 }));
    assert_eq!(ra.on_read(16, 1), Some(ReadaheadWindow { start: 20, len: 8 }));
    // A cache's read-ahead never goes past half the cache, whatever is asked.
    let mut ra = Readahead::for_cache(32, 40).unwrap();
    assert_eq!(ra.max_pages(), 20);
    ra.set_max_pages(64);
    assert_eq!(ra.max_pages(), 20);
    ra.set_max_pages(8);
    assert_eq!(ra.max_pages(), 8);
}

#[test]
fn scheduler_kind_parses() {
    assert_eq!(SchedulerKind::parse("none"), Some(SchedulerKind::None));
    assert_eq!(
        SchedulerKind::parse("deadline"),
        Some(SchedulerKind::deadline())
    );
    assert_eq!(SchedulerKind::parse("cfq"), None);
}

// ---- randomized properties -------------------------------------------------

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Cuts sectors 0..n into chunks of 1..=16, shuffled, each a read or write.
fn random_requests(rng: &mut XorShift, n: u64, gaps: bool) -> Vec<Request> {
    let mut reqs = Vec::new();
    let mut s = 0;
    while s < n {
        let len = 1 + rng.below(16) as u32;
        let op = if rng.below(3) == 0 {
            Op::Write
        } else {
            Op::Read
        };
        let bufs = (0..len)
            .map(|i| BufRef {
                addr: s + u64::from(i),
                len: 512,
            })
            .collect();
        reqs.push(Request::new(op, s, len, bufs));
        s += u64::from(len) + if gaps { 1 + rng.below(4) } else { 0 };
    }
    for i in (1..reqs.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        reqs.swap(i, j);
    }
    reqs
}

#[test]
fn property_sectors_dispatched_equal_sectors_submitted() {
    let limits = QueueLimits {
        max_sectors: 64,
        max_segments: 20,
    };
    for seed in 1..=200u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        for kind in kinds() {
            let reqs = random_requests(&mut rng, 400, false);
            let mut submitted = BTreeSet::new();
            let mut q = RequestQueue::new(limits, kind);
            let mut now = 0;
            let mut out = Vec::new();
            for r in reqs {
                for s in r.sector..r.end() {
                    submitted.insert((r.op == Op::Write, s));
                }
                match rng.below(6) {
                    0 => q.plug(),
                    1 => q.unplug(),
                    2 => out.extend(q.dispatch(now)),
                    _ => {}
                }
                now += rng.below(100_000_000);
                q.submit(r, now).unwrap();
            }
            q.unplug();
            out.extend(drain(&mut q, now));
            let mut seen = BTreeSet::new();
            for r in &out {
                assert!(r.sectors <= limits.max_sectors && r.segments() <= limits.max_segments);
                assert_eq!(r.bufs.len() as u32, r.sectors);
                for (i, s) in (r.sector..r.end()).enumerate() {
                    assert_eq!(r.bufs[i].addr, s, "buffer order follows sectors");
                    assert!(
                        seen.insert((r.op == Op::Write, s)),
                        "sector {s} dispatched twice"
                    );
                }
            }
            assert_eq!(seen, submitted, "seed {seed} {kind:?}");
            let st = q.stats();
            assert_eq!(st.queued, st.merged() + st.dispatched);
        }
    }
}

#[test]
fn property_none_keeps_submission_order() {
    for seed in 1..=100u64 {
        let mut rng = XorShift(seed * 7919);
        let reqs = random_requests(&mut rng, 300, true); // gaps: no merges
        let order: Vec<u64> = reqs.iter().map(|r| r.sector).collect();
        let mut q = RequestQueue::new(QueueLimits::default(), SchedulerKind::None);
        let mut out = Vec::new();
        for r in reqs {
            if rng.below(3) == 0 {
                q.plug();
            } else if rng.below(3) == 0 {
                q.unplug();
            }
            q.submit(r, 0).unwrap();
            if rng.below(4) == 0 {
                out.extend(q.dispatch(0));
            }
        }
        q.unplug();
        out.extend(drain(&mut q, 0));
        let got: Vec<u64> = out.iter().map(|r| r.sector).collect();
        assert_eq!(got, order);
    }
}

/// Deadline's order rule: each dispatched request is either the oldest of its
/// direction or the next one in sector order after that direction's previous
/// dispatch; if the oldest has expired when a batch starts, it is the oldest.
#[test]
fn property_deadline_order_rules() {
    let tun = DeadlineTunables::default();
    for seed in 1..=100u64 {
        let mut rng = XorShift(seed * 104_729);
        let reqs = random_requests(&mut rng, 400, true);
        let mut q = RequestQueue::new(QueueLimits::default(), SchedulerKind::Deadline(tun));
        // Model: remaining (op, sector, seq, submitted).
        let mut model: Vec<(Op, u64, u64, u64)> = Vec::new();
        let mut sweep = [None::<u64>; 2];
        let mut now = 0u64;
        let mut step = |q: &mut RequestQueue, model: &mut Vec<(Op, u64, u64, u64)>, now: u64| {
            let Some(r) = q.dispatch(now) else {
                return false;
            };
            let d = usize::from(r.op == Op::Write);
            let mine: Vec<_> = model.iter().filter(|m| m.0 == r.op).copied().collect();
            let oldest = mine.iter().min_by_key(|m| m.2).unwrap();
            let next = sweep[d].and_then(|p| mine.iter().filter(|m| m.1 >= p).map(|m| m.1).min());
            assert!(
                r.sector == oldest.1 || Some(r.sector) == next,
                "seed {seed}: {r:?}"
            );
            sweep[d] = Some(r.end());
            model.retain(|m| !(m.0 == r.op && m.1 == r.sector));
            true
        };
        for (seq, r) in reqs.into_iter().enumerate() {
            now += rng.below(200_000_000);
            model.push((r.op, r.sector, seq as u64, now));
            q.submit(r, now).unwrap();
            if rng.below(2) == 0 {
                step(&mut q, &mut model, now);
            }
        }
        while step(&mut q, &mut model, now) {}
        assert!(model.is_empty());
    }
}

