//! A latency histogram with bounded relative error and fixed memory, in the
//! spirit of HdrHistogram (G. Tene) and fio's own `io_u_plat` buckets: each
//! power of two is split into `SUB` linear buckets, so a recorded value is
//! known within 1/`SUB` (6.25 %) of itself; values below `SUB` are exact.

use alloc::vec;
use alloc::vec::Vec;

/// Linear buckets per power of two.
const SUB: u64 = 16;
const SUB_BITS: u32 = SUB.trailing_zeros();
/// Groups: one for 0..SUB, then one per power of two up to 2^64.
const GROUPS: usize = 64 - SUB_BITS as usize + 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram { counts: vec![0; GROUPS * SUB as usize], count: 0, max: 0, sum: 0 }
    }

    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.count += 1;
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean of the recorded values (exact), 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.sum as f64 / self.count as f64 }
    }

    /// The value below which `p` % of the recorded values lie (0 <= p <=
    /// 100): the upper edge of the bucket holding that rank, capped at the
    /// largest value recorded; 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let p = p.clamp(0.0, 100.0);
        // The rank (1-based) of the value at p %: p % of count rounded up
        // (core has no `ceil`), at least 1.
        let exact = p / 100.0 * self.count as f64;
        let mut rank = exact as u64;
        if (rank as f64) < exact {
            rank += 1;
        }
        let rank = rank.clamp(1, self.count);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper_edge(i).min(self.max);
            }
        }
        self.max
    }

    /// Adds `other`'s values to this histogram (per-job histograms into a total).
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }
}

/// Bucket of `v`: values below SUB are their own bucket; above, the group is
/// the position of the top bit and the bucket the next SUB_BITS bits.
fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let top = 63 - v.leading_zeros(); // >= SUB_BITS
    let group = (top - SUB_BITS + 1) as usize;
    let sub = ((v >> (top - SUB_BITS)) & (SUB - 1)) as usize;
    group * SUB as usize + sub
}

/// Largest value that falls in bucket `i`.
fn upper_edge(i: usize) -> u64 {
    let (group, sub) = (i / SUB as usize, (i % SUB as usize) as u64);
    if group == 0 {
        return sub;
    }
    let shift = group as u32 - 1;
    // Bucket covers [(SUB + sub) << shift, (SUB + sub + 1) << shift).
    (((SUB + sub + 1) as u128) << shift).saturating_sub(1).min(u128::from(u64::MAX)) as u64
}
