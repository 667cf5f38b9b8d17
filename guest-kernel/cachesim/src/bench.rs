//! `cachesim --bench`: how fast each policy replays accesses, per cache size. The trace is
//! generated in memory (Zipf over a page range, seeded, as fio's zipf:THETA draws it) and fed to
//! `ReplacementPolicy::access` through the same `Box<dyn ReplacementPolicy>` the page cache
//! uses; nothing else runs in the timed loop. Each (policy, size) runs `repeat` times, the
//! repeats interleaved so a burst of load on a shared machine spreads over all of them. Rates
//! are per second on a CPU (the thread's run time from Linux's schedstat, where available):
//! on a shared machine the time spent waiting for a CPU is not the policy's.

use std::time::Instant;

use fio::Zipf;
use pagecache::rng::XorShift64;
use pagecache::{PageKey, by_name};

pub struct BenchOptions {
    pub accesses: usize,
    pub pages: u64,
    pub theta: f64,
    pub repeat: usize,
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions { accesses: 10_000_000, pages: 4 << 20, theta: 0.9, repeat: 3, seed: 1 }
    }
}

/// `accesses` Zipf(theta) page numbers over `pages` pages; ranks are scattered over the range
/// by an odd multiplier (a bijection mod a power of two, else close to one), so hot pages are
/// not neighbours.
pub fn zipf_keys(o: &BenchOptions) -> Vec<PageKey> {
    let zipf = Zipf::new(o.pages, o.theta);
    let mut rng = XorShift64::new(o.seed);
    (0..o.accesses)
        .map(|_| {
            let rank = zipf.sample(&mut rng) - 1;
            PageKey::new(0, rank.wrapping_mul(0x9e37_79b9_7f4a_7c15 | 1) % o.pages)
        })
        .collect()
}

/// Nanoseconds this thread has run on a CPU, if the kernel says (Linux).
fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Outcome of one (policy, size): accesses per CPU second of each repeat (per wall-clock
/// second in `wall_rates`), and the hit ratio.
pub struct BenchRow {
    pub policy: String,
    pub cache_pages: usize,
    pub rates: Vec<f64>,
    pub wall_rates: Vec<f64>,
    pub hit_ratio: f64,
    pub bytes_per_page: f64,
}

/// Runs every policy at every size `o.repeat` times over `keys`.
pub fn run(keys: &[PageKey], policies: &[String], sizes: &[usize], o: &BenchOptions) -> Vec<BenchRow> {
    let mut rows: Vec<BenchRow> = policies
        .iter()
        .flat_map(|p| {
            sizes.iter().map(move |&s| BenchRow {
                policy: p.clone(),
                cache_pages: s,
                rates: Vec::new(),
                wall_rates: Vec::new(),
                hit_ratio: 0.0,
                bytes_per_page: 0.0,
            })
        })
        .collect();
    for _ in 0..o.repeat {
        for row in &mut rows {
            let mut policy = by_name(&row.policy, row.cache_pages).expect("policy names were checked");
            let (start, cpu_start) = (Instant::now(), cpu_ns());
            for &key in keys {
                std::hint::black_box(policy.access(key));
            }
            let wall = start.elapsed().as_secs_f64();
            let cpu = cpu_start.zip(cpu_ns()).map_or(wall, |(a, b)| (b - a) as f64 / 1e9);
            row.rates.push(keys.len() as f64 / cpu);
            row.wall_rates.push(keys.len() as f64 / wall);
            row.hit_ratio = policy.stats().hit_ratio();
            row.bytes_per_page = policy.metadata_bytes() as f64 / row.cache_pages as f64;
        }
    }
    rows
}

/// (min, median, max) of `v` (not empty).
pub fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    (s[0], s[s.len() / 2], s[s.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_is_seeded_skewed_and_in_range() {
        let o = BenchOptions { accesses: 20_000, pages: 1 << 12, ..BenchOptions::default() };
        let (a, b) = (zipf_keys(&o), zipf_keys(&o));
        assert_eq!(a, b);
        assert!(a.iter().all(|k| k.block < o.pages));
        let hot = a.iter().filter(|k| k.block == a[0].block).count();
        let distinct: std::collections::BTreeSet<u64> = a.iter().map(|k| k.block).collect();
        assert!(distinct.len() < a.len() / 2 && hot > 0, "skewed: {} distinct", distinct.len());
        let rows = run(&a, &["lru".to_string()], &[64], &BenchOptions { repeat: 2, ..o });
        assert_eq!(rows[0].rates.len(), 2);
        assert!(rows[0].hit_ratio > 0.0 && rows[0].rates.iter().all(|&r| r > 0.0));
        assert_eq!(spread(&[3.0, 1.0, 2.0]), (1.0, 2.0, 3.0));
    }
}
