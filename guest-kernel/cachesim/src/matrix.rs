//! `cachesim --matrix`: every policy on every workload at every cache size, through the guest's
//! read and write paths ([`crate::readpath`]), compared by device requests.
//!
//! Workloads:
//! - fio-like jobs (the `fio` crate, the same generator as the guest's `fio` workload):
//!   `rw=randrw bs=4096 size=64MiB`, `numjobs` 1, 2, 4 x `rwmixread` 100, 70, 50 % x
//!   `random_distribution` uniform, zipf:0.9. The jobs share one cache, so their I/Os are
//!   interleaved round-robin, one each in turn; together they issue [`FIO_PASSES`] times the
//!   file's pages (fio's `io_size`), enough for the largest cache to fill and turn over;
//! - block traces (`bench/traces/*.csv`).
//!
//! Every policy runs with the guest's configuration: read-ahead windows of at most
//! `readahead` pages, write-back past half the cache (a managing policy may change both, see
//! `pagecache::Knobs`), and a final sync.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use fio::{Dist, Job, JobSpec, Rw};
use pagecache::by_name;

use crate::readpath::{PageOp, PathStats, replay};
use crate::trace;

/// fio's `size=64MiB`, in pages.
pub const FIO_FILE_PAGES: u64 = 16_384;
/// I/Os of all jobs together, in multiples of the file's pages.
pub const FIO_PASSES: u64 = 4;
/// The jobs' seed (any fixed value: the runs are repeatable).
pub const FIO_SEED: u64 = 1;
/// The policy the matrix is about, and those it is held against.
pub const MANAGER: &str = "qlearn";
pub const RIVALS: [&str; 2] = ["lru", "arc"];

/// A named sequence of page reads and writes on a device of `device_pages` pages.
pub struct Workload {
    pub name: String,
    pub ops: Vec<PageOp>,
    pub device_pages: u64,
}

impl Workload {
    /// From a parsed trace: each request's pages, in order.
    pub fn from_trace(name: String, requests: &[trace::Request]) -> Self {
        let ops: Vec<PageOp> =
            requests.iter().flat_map(|r| r.keys().map(|k| PageOp { write: r.write, page: k.block })).collect();
        // The device: up to the last page the trace touches (read-ahead stops there).
        let device_pages = ops.iter().map(|o| o.page + 1).max().unwrap_or(0);
        Workload { name, ops, device_pages }
    }

    /// `jobs` fio jobs of `spec`, interleaved round-robin, `total` I/Os in all.
    pub fn from_fio(spec: &JobSpec, total: u64) -> Self {
        let mut jobs: Vec<Job> = (0..spec.jobs).map(|i| Job::new(spec, i)).collect();
        let mut ops = Vec::new();
        for n in 0..total {
            let io = jobs[(n % u64::from(spec.jobs)) as usize].next_io();
            let first = io.offset / fio::BLOCK;
            ops.extend((first..first + io.len / fio::BLOCK).map(|page| PageOp { write: io.write, page }));
        }
        let name = format!("fio {} j{} r{} {}", spec.rw.name(), spec.jobs, spec.rwmixread, spec.dist.name());
        Workload { name, ops, device_pages: spec.size / fio::BLOCK }
    }
}

/// The fio jobs of the matrix.
pub fn fio_workloads() -> Vec<Workload> {
    let mut out = Vec::new();
    for dist in [Dist::Uniform, Dist::Zipf(0.9)] {
        for rwmixread in [100, 70, 50] {
            for jobs in [1, 2, 4] {
                let spec = JobSpec {
                    rw: Rw::RandRw,
                    rwmixread,
                    dist,
                    bs: fio::BLOCK,
                    size: FIO_FILE_PAGES * fio::BLOCK,
                    jobs,
                    seed: FIO_SEED,
                };
                debug_assert_eq!(spec.validate(), Ok(()));
                out.push(Workload::from_fio(&spec, FIO_PASSES * spec.units()));
            }
        }
    }
    out
}

/// One workload at one cache size: each policy's outcome, in the policies' order.
pub struct Row {
    pub workload: usize,
    pub cache_pages: usize,
    pub stats: Vec<PathStats>,
}

/// Runs every (workload, size, policy) on `threads` threads; `progress` is called after each.
pub fn run(
    workloads: &[Workload],
    sizes: &[usize],
    policies: &[String],
    readahead: u32,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Row> {
    // (workload, size, policy) indices, in the order the rows list them.
    let cells: Vec<(usize, usize, usize)> = (0..workloads.len())
        .flat_map(|w| (0..sizes.len()).flat_map(move |s| (0..policies.len()).map(move |p| (w, s, p))))
        .collect();
    let results = Mutex::new(vec![PathStats::default(); cells.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(w, s, p)) = cells.get(i) else { break };
                    let policy = by_name(&policies[p], sizes[s]).expect("policy names were checked");
                    let stats = replay(&workloads[w].ops, policy, readahead, workloads[w].device_pages);
                    results.lock().expect("no worker panics while holding the lock")[i] = stats;
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, cells.len());
                }
            });
        }
    });
    let results = results.into_inner().expect("workers finished");
    results
        .chunks(policies.len())
        .enumerate()
        .map(|(i, stats)| Row {
            workload: i / sizes.len(),
            cache_pages: sizes[i % sizes.len()],
            stats: stats.to_vec(),
        })
        .collect()
}

/// Whether `ours` needed at most `tolerance` (a fraction) more device requests than `theirs`.
pub fn at_least_as_good(ours: &PathStats, theirs: &PathStats, tolerance: f64) -> bool {
    ours.device_requests() as f64 <= theirs.device_requests() as f64 * (1.0 + tolerance)
}

/// For each of [`RIVALS`] present: rows where [`MANAGER`] is at least as good, with and
/// without `tolerance`. None if the manager is not among `policies`.
pub fn wins(rows: &[Row], policies: &[String], tolerance: f64) -> Option<Vec<(&'static str, usize, usize)>> {
    let m = policies.iter().position(|p| p == MANAGER)?;
    Some(
        RIVALS
            .iter()
            .filter_map(|&rival| {
                let r = policies.iter().position(|p| p == rival)?;
                let count = |tol| rows.iter().filter(|row| at_least_as_good(&row.stats[m], &row.stats[r], tol)).count();
                Some((rival, count(tolerance), count(0.0)))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fio_jobs_take_turns_and_cover_the_matrix() {
        let w = fio_workloads();
        assert_eq!(w.len(), 18);
        assert!(w.iter().all(|w| w.ops.len() as u64 == FIO_PASSES * FIO_FILE_PAGES));
        assert!(w.iter().all(|w| w.ops.iter().all(|o| o.page < FIO_FILE_PAGES)));
        let reads = |w: &Workload| w.ops.iter().filter(|o| !o.write).count() as f64 / w.ops.len() as f64;
        assert_eq!(reads(&w[0]), 1.0, "{}", w[0].name);
        assert!((reads(&w[3]) - 0.7).abs() < 0.01, "{}", w[3].name);
        // Two jobs: the first I/O is job 0's, the second job 1's.
        let spec =
            JobSpec { rw: Rw::RandRw, rwmixread: 50, dist: Dist::Uniform, bs: 4096, size: 1 << 20, jobs: 2, seed: 3 };
        let (mut j0, mut j1) = (Job::new(&spec, 0), Job::new(&spec, 1));
        let two = Workload::from_fio(&spec, 4);
        let ios = [j0.next_io(), j1.next_io(), j0.next_io(), j1.next_io()];
        let want: Vec<u64> = ios.iter().map(|io| io.offset / 4096).collect();
        assert_eq!(two.ops.iter().map(|o| o.page).collect::<Vec<_>>(), want);
    }

    #[test]
    fn rows_keep_their_order_whatever_the_threads() {
        let t = trace::parse("1,R,0,4096\n2,W,8192,8192\n3,R,0,4096\n4,R,40960,4096\n").unwrap();
        let w = [Workload::from_trace("t".into(), &t)];
        let policies: Vec<String> = ["lru", "qlearn"].iter().map(|s| s.to_string()).collect();
        let one = run(&w, &[2, 8], &policies, 32, 1, &|_, _| {});
        let two = run(&w, &[2, 8], &policies, 32, 2, &|_, _| {});
        for (a, b) in one.iter().zip(&two) {
            assert_eq!((a.workload, a.cache_pages, &a.stats), (b.workload, b.cache_pages, &b.stats));
        }
        assert_eq!(one[1].cache_pages, 8);
        assert_eq!(wins(&one, &policies, 0.0), Some(vec![("lru", 2, 2)]));
    }
}
