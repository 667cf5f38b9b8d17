//! `fio`: a fio-like workload (after Jens Axboe's fio) on one ext2 file,
//! with `jobs` kernel threads spread over the CPUs sharing one page cache:
//!
//! `run fio file=/path [jobs=1] [rw=randread] [rwmixread=50] [bs=4096]
//! [size=the file's] [dist=uniform] [runtime_ms] [ops] [seed=1] [verify=0]`
//! plus the common file parameters (`cache`, `cache_pages`, `readahead`,
//! `scheduler`, `dev`, `keep_cache`: see file.rs).
//!
//! - `rw=read|write|randread|randwrite|randrw` (`rwmixread` % reads for
//!   `randrw`), `dist=uniform|zipf:THETA|seq`, `bs` a multiple of 4096 up
//!   to 1 MiB, `size` the bytes of the file used from offset 0 (at most the
//!   file's size): the `fio` crate's `JobSpec`, which also says the offsets
//!   each job issues. Every I/O is one `bs` read or in-place overwrite of
//!   the file (it exists in the image; nothing is laid out).
//! - A job stops after `ops` I/Os (per job, 1..=10^8) or `runtime_ms`
//!   (1..=600000), whichever comes first; with neither, after `size / bs`
//!   I/Os (fio's default: each job covers the region once).
//! - The jobs mount ext2 each over its own handle of one [`SharedDisk`]:
//!   one page cache, block layer and driver for all of them (fs/shared.rs).
//!
//! The result: the totals (`ops`, `reads`, `writes`, `bytes`, `ops_per_s`,
//! `mib_per_s`, latency `lat_p50_ns`, `lat_p99_ns`, `lat_max_ns` of single
//! I/Os), `per_job` (the same for each job), and the cache's, block layer's
//! and device's counters (file.rs's fields, with `device_writes` and the
//! write-back counters), which cover the jobs' I/O only.
//!
//! # verify=1
//!
//! First every 4 KiB block of the region is stamped (`fio::verify::stamp`,
//! sequence 0). Then each write stamps its blocks with a fresh sequence
//! number while it holds the lock of its `bs` unit (one of [`STRIPES`]), and
//! records it per block in a table, so the last sequence of every block is
//! well defined. Each read checks the stamps it got: right block, intact
//! checksum, and a sequence no older than the table said when the read
//! began (a stale page). At the end every block must carry the table's
//! sequence, read through the shared cache, then again cold: after a sync,
//! from a new cache (the one `keep_cache=1` keeps). A mismatch is an error
//! answer naming the block, the expected and the found sequence.
//! `verified_blocks` is the number of blocks checked at the end; the region
//! may have at most 2^19 of them.
//!
//! # cpu_hogs=N: a mixed CPU and file I/O load
//!
//! N more threads (0..=64, default 0) spin through `cond_resched()` (a
//! preemption point) from the start of the jobs until the last job ends,
//! as a compile or a batch job beside a file server: the jobs' I/O waits
//! and the hogs compete for the CPUs, so the scheduler's slices and wakeup
//! preemption decide how fast the jobs go (the mixed workload `panvm tune`
//! offers). `hog_rounds` counts the hogs' loops: the CPU work they got.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{
    AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};

use ::fio::{BLOCK, Dist, Histogram, Io, Job, JobSpec, MAX_BS, MAX_JOBS, Rw, verify};
use ext2::{BlockDevice, Ext2};

use super::file::{self, FileParams, Opened};
use super::json::{self, Json};
use super::{ANY, Params, begin, check_memory, header, in_range};
use crate::fs::{DiskHandle, PAGE_SIZE, SharedDisk};
use crate::sync::SpinLock;
use crate::task::{self, Mutex};
use crate::wait::{Completion, Gate};
use crate::{percpu, platform};

const MAX_OPS: u64 = 100_000_000;
const MAX_RUNTIME_MS: u64 = 600_000;
/// Largest region `verify=1` takes: a table of 8 bytes per block, one 4 MiB
/// allocation at most.
const MAX_VERIFY_BLOCKS: u64 = 1 << 19;
/// Locks that order the writes of one `bs` unit (unit % STRIPES).
const STRIPES: usize = 64;
/// Blocks per read of the final checks.
const CHECK_BLOCKS: u64 = 16;
/// Most `cpu_hogs`.
const MAX_HOGS: u64 = 64;

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let jobs = p.u64("jobs", 1, 1..=u64::from(MAX_JOBS))? as u32;
    let rw = Rw::parse(p.choice("rw", "randread", &Rw::NAMES)?).expect("a name from Rw::NAMES");
    let rwmixread = p.u64("rwmixread", 50, 0..=100)? as u32;
    let bs = p.u64("bs", BLOCK, 1..=MAX_BS)?;
    // Its default and range come from the file.
    let size = p.opt_u64("size", 1..=u64::MAX)?;
    let dist = Dist::parse(p.str("dist", "uniform")?)?;
    let runtime_ms = p.opt_u64("runtime_ms", 1..=MAX_RUNTIME_MS)?;
    let ops = p.opt_u64("ops", 1..=MAX_OPS)?;
    let seed = p.u64("seed", 1, ANY)?;
    let verify = p.flag("verify")?;
    let cpu_hogs = p.u64("cpu_hogs", 0, 0..=MAX_HOGS)? as u32;
    let fp = FileParams::read(p)?;
    // Everything but `size` is checked before the disk is touched.
    let mut spec = JobSpec {
        rw,
        rwmixread,
        dist,
        bs,
        size: bs,
        jobs,
        seed,
    };
    spec.validate()?;
    begin(p)?;
    // A stack, the I/O buffer, ext2's buffers and a histogram per job.
    let per_job = task::STACK_SIZE + bs + 4 * BLOCK + 8 * 1024;
    check_memory(
        "fio's jobs",
        u64::from(jobs) * per_job + u64::from(cpu_hogs) * task::STACK_SIZE,
    )?;

    let Opened {
        fs,
        ino,
        size: file_size,
        path,
        settings,
        keep,
        ..
    } = file::open(fp)?;
    spec.size = in_range("size", size.unwrap_or(file_size), 1..=file_size)?;
    spec.validate()?;
    let blocks = spec.units() * bs / BLOCK;
    if verify {
        if blocks > MAX_VERIFY_BLOCKS {
            return Err(format!(
                "verify=1 takes at most {MAX_VERIFY_BLOCKS} blocks of {BLOCK}, size={} has {blocks}",
                spec.size
            ));
        }
        check_memory("fio's verify table", blocks * 8)?;
    }
    // ext2 writes a block smaller than a page by reading, patching and
    // writing its page: two jobs doing that at once would lose one update.
    let block_size = fs.superblock().block_size;
    if block_size < PAGE_SIZE as u32 && jobs > 1 && !matches!(rw, Rw::Read | Rw::RandRead) {
        return Err(format!(
            "{path}: ext2 blocks of {block_size} bytes; jobs that write at once need {PAGE_SIZE}"
        ));
    }
    let disk = SharedDisk::new((*fs).into_device());
    let mut fs = mount(&disk)?;
    let verifier = if verify {
        Some(Verifier::stamp(&mut fs, ino, blocks, &path)?)
    } else {
        None
    };
    disk.sync().map_err(|e| format!("{path}: sync: {e:?}"))?;
    let resident_at_start = disk.lock().resident_pages();

    let limit = ops.unwrap_or(if runtime_ms.is_some() {
        u64::MAX
    } else {
        spec.units()
    });
    let shared = Arc::new(Shared {
        spec,
        ino,
        path: path.clone(),
        ops: limit,
        runtime_ns: runtime_ms.map(|ms| ms * 1_000_000),
        verifier,
        stop: AtomicBool::new(false),
        cpu_hogs,
        hogs_stop: AtomicBool::new(false),
        hog_rounds: AtomicU64::new(0),
        ready: Completion::new(),
        gate: Gate::new(),
        done: Completion::new(),
        results: SpinLock::new((0..jobs).map(|_| None).collect()),
    });
    let (results, elapsed) = run_jobs(&shared, &disk)?;
    let mut json = result_json(&shared, &results, elapsed);
    {
        let d = disk.lock();
        json = file::write_fields(file::disk_fields(json, &d, keep, resident_at_start), &d);
    }
    if let Some(v) = &shared.verifier {
        v.check(&mut fs, ino, &path, "read through the shared cache")?;
    }
    drop(fs);
    disk.sync().map_err(|e| format!("{path}: sync: {e:?}"))?;
    let disk = Arc::into_inner(disk)
        .expect("the jobs and mounts dropped their handles")
        .into_inner();
    let fs = if let Some(v) = &shared.verifier {
        // A cold cache: the old one goes first (it returns the device).
        drop(disk);
        let mut cold = file::mount(&settings)?;
        v.check(&mut cold, ino, &path, "read cold after a sync")?;
        cold
    } else {
        Box::new(Ext2::mount(disk).map_err(|e| format!("mount ext2: {e:?}"))?)
    };
    if keep {
        file::keep(settings, fs);
    }
    let verified = if verify { blocks } else { 0 };
    Ok(json
        .u64("file_size", file_size)
        .bool("verify", verify)
        .u64("verified_blocks", verified)
        .finish())
}

/// Starts the jobs, each on its own handle of `disk`, all at once; their
/// results and the time from the start until the last one ended.
fn run_jobs(shared: &Arc<Shared>, disk: &Arc<SharedDisk>) -> Result<(Vec<JobResult>, u64), String> {
    let jobs = shared.spec.jobs;
    for index in 0..jobs {
        let (shared, handle) = (shared.clone(), disk.handle());
        task::spawn("fio", 0, index as usize % percpu::ncpus(), move || {
            let result = run_job(&shared, index, handle);
            if result.is_err() {
                shared.stop.store(true, Relaxed);
            }
            shared.results.lock()[index as usize] = Some(result);
            shared.done.complete();
        });
    }
    let hogs = shared.cpu_hogs;
    for index in jobs..jobs + hogs {
        let shared = shared.clone();
        task::spawn("fio-hog", 0, index as usize % percpu::ncpus(), move || {
            shared.ready.complete();
            shared.gate.wait();
            let mut rounds = 0;
            while !shared.hogs_stop.load(Relaxed) {
                rounds += 1;
                task::cond_resched();
            }
            shared.hog_rounds.fetch_add(rounds, Relaxed);
            shared.done.complete();
        });
    }
    let threads = (jobs + hogs) as usize;
    shared.ready.wait_for(threads);
    // The counters cover the jobs' I/O only.
    disk.lock().new_run();
    let start = platform::now_ns();
    shared.gate.open();
    // The jobs' ends: the hogs complete only once told to stop.
    shared.done.wait_for(jobs as usize);
    let elapsed = platform::now_ns() - start;
    shared.hogs_stop.store(true, Relaxed);
    shared.done.wait_for(threads);
    let results = core::mem::take(&mut *shared.results.lock());
    let results = results
        .into_iter()
        .map(|r| r.expect("every job reports"))
        .collect::<Result<_, _>>()?;
    Ok((results, elapsed))
}

fn mount(disk: &Arc<SharedDisk>) -> Result<Box<Ext2<DiskHandle>>, String> {
    Ext2::mount(disk.handle())
        .map(Box::new)
        .map_err(|e| format!("mount ext2: {e:?}"))
}

/// What the jobs share.
struct Shared {
    spec: JobSpec,
    ino: u32,
    path: String,
    /// I/Os per job at most.
    ops: u64,
    runtime_ns: Option<u64>,
    verifier: Option<Verifier>,
    /// Set by a job that failed: the others stop too.
    stop: AtomicBool,
    cpu_hogs: u32,
    /// Set when the last job ended.
    hogs_stop: AtomicBool,
    /// The hogs' loops, summed as each stops.
    hog_rounds: AtomicU64,
    ready: Completion,
    gate: Gate,
    done: Completion,
    results: SpinLock<Vec<Option<Result<JobResult, String>>>>,
}

/// One job's counters.
struct JobResult {
    reads: u64,
    writes: u64,
    ns: u64,
    latency: Histogram,
}

impl JobResult {
    fn ops(&self) -> u64 {
        self.reads + self.writes
    }

    /// Throughput and latency fields, for a job or the total.
    fn fields(json: Json, ops: u64, bytes: u64, ns: u64, latency: &Histogram) -> Json {
        json.u64("bytes", bytes)
            .f64("ops_per_s", ops as f64 / (ns.max(1) as f64 / 1e9))
            .f64("mib_per_s", file::mib_per_s(bytes, ns))
            .u64("lat_p50_ns", latency.percentile(50.0))
            .u64("lat_p99_ns", latency.percentile(99.0))
            .u64("lat_max_ns", latency.max())
    }
}

/// Job `index`: mounts ext2 over its handle, waits for the start, then
/// issues its I/Os until its `ops` or the run time are used up.
fn run_job(shared: &Shared, index: u32, handle: DiskHandle) -> Result<JobResult, String> {
    let mounted = Ext2::mount(handle).map_err(|e| format!("job {index}: mount ext2: {e:?}"));
    shared.ready.complete();
    shared.gate.wait();
    let mut fs = mounted?;
    let spec = &shared.spec;
    let mut job = Job::new(spec, index);
    let mut buf = vec![0u8; spec.bs as usize];
    // verify=1: the table's sequences when a read began.
    let mut floor = vec![0u64; (spec.bs / BLOCK) as usize];
    let mut r = JobResult {
        reads: 0,
        writes: 0,
        ns: 0,
        latency: Histogram::new(),
    };
    let start = platform::now_ns();
    let deadline = shared
        .runtime_ns
        .map_or(u64::MAX, |ns| start.saturating_add(ns));
    let mut now = start;
    while r.ops() < shared.ops && now < deadline && !shared.stop.load(Relaxed) {
        let io = job.next_io();
        if io.write {
            shared.write(&mut fs, io, &mut buf)?;
            r.writes += 1;
        } else {
            shared.read(&mut fs, io, &mut buf, &mut floor)?;
            r.reads += 1;
        }
        let end = platform::now_ns();
        r.latency.record(end - now);
        now = end;
    }
    r.ns = now - start;
    Ok(r)
}

impl Shared {
    fn io_error(&self, io: Io, e: impl core::fmt::Debug) -> String {
        format!("{} at {}: {e:?}", self.path, io.offset)
    }

    fn read(
        &self,
        fs: &mut Ext2<DiskHandle>,
        io: Io,
        buf: &mut [u8],
        floor: &mut [u64],
    ) -> Result<(), String> {
        let first = io.offset / BLOCK;
        if let Some(v) = &self.verifier {
            for (i, f) in floor.iter_mut().enumerate() {
                *f = v.table[(first + i as u64) as usize].load(Acquire);
            }
        }
        let n = fs
            .read_inode(self.ino, io.offset, buf)
            .map_err(|e| self.io_error(io, e))?;
        if n != buf.len() {
            return Err(format!(
                "{} at {}: read {n} of {} bytes",
                self.path,
                io.offset,
                buf.len()
            ));
        }
        if self.verifier.is_some() {
            for (i, (block, &oldest)) in buf.chunks(BLOCK as usize).zip(floor.iter()).enumerate() {
                let seq = check_block(block, first + i as u64, &self.path)?;
                if seq < oldest {
                    return Err(format!(
                        "{}: block {}: expected sequence {oldest} or newer, found {seq} (a stale page)",
                        self.path,
                        first + i as u64
                    ));
                }
            }
        }
        Ok(())
    }

    fn write(&self, fs: &mut Ext2<DiskHandle>, io: Io, buf: &mut [u8]) -> Result<(), String> {
        let Some(v) = &self.verifier else {
            return fs
                .write_inode(self.ino, io.offset, buf)
                .map_err(|e| self.io_error(io, e));
        };
        let first = io.offset / BLOCK;
        // One writer per unit at a time: the table's order is the device's.
        let _unit = v.stripes[(io.offset / self.spec.bs) as usize % STRIPES].lock();
        let seq = v.seq.fetch_add(1, Relaxed);
        for (i, block) in buf.chunks_mut(BLOCK as usize).enumerate() {
            verify::stamp(block, first + i as u64, seq);
        }
        fs.write_inode(self.ino, io.offset, buf)
            .map_err(|e| self.io_error(io, e))?;
        for i in 0..buf.len() as u64 / BLOCK {
            v.table[(first + i) as usize].store(seq, Release);
        }
        Ok(())
    }
}

/// `verify=1`'s state: the last sequence written to each block.
struct Verifier {
    /// The next write's sequence number.
    seq: AtomicU64,
    table: Vec<AtomicU64>,
    stripes: Vec<Mutex<()>>,
}

impl Verifier {
    /// Stamps every block of the first `blocks` with sequence 0.
    fn stamp(fs: &mut Ext2<DiskHandle>, ino: u32, blocks: u64, path: &str) -> Result<Self, String> {
        let mut buf = vec![0u8; (CHECK_BLOCKS * BLOCK) as usize];
        for first in (0..blocks).step_by(CHECK_BLOCKS as usize) {
            let n = CHECK_BLOCKS.min(blocks - first);
            let chunk = &mut buf[..(n * BLOCK) as usize];
            for (i, block) in chunk.chunks_mut(BLOCK as usize).enumerate() {
                verify::stamp(block, first + i as u64, 0);
            }
            fs.write_inode(ino, first * BLOCK, chunk)
                .map_err(|e| format!("{path} at {}: {e:?}", first * BLOCK))?;
        }
        Ok(Self {
            seq: AtomicU64::new(1),
            table: (0..blocks).map(|_| AtomicU64::new(0)).collect(),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        })
    }

    /// Every block must carry the table's sequence; `how` it was read
    /// goes into the error.
    fn check<D: BlockDevice>(
        &self,
        fs: &mut Ext2<D>,
        ino: u32,
        path: &str,
        how: &str,
    ) -> Result<(), String> {
        let blocks = self.table.len() as u64;
        let mut buf = vec![0u8; (CHECK_BLOCKS * BLOCK) as usize];
        for first in (0..blocks).step_by(CHECK_BLOCKS as usize) {
            let n = CHECK_BLOCKS.min(blocks - first);
            let chunk = &mut buf[..(n * BLOCK) as usize];
            let got = fs
                .read_inode(ino, first * BLOCK, chunk)
                .map_err(|e| format!("{path} at {}: {e:?}", first * BLOCK))?;
            if got != chunk.len() {
                return Err(format!(
                    "{path} at {}: read {got} of {} bytes",
                    first * BLOCK,
                    chunk.len()
                ));
            }
            for (i, block) in chunk.chunks(BLOCK as usize).enumerate() {
                let b = first + i as u64;
                let expected = self.table[b as usize].load(Acquire);
                let seq = check_block(block, b, path)?;
                if seq != expected {
                    return Err(format!(
                        "{path}: block {b} ({how}): expected sequence {expected}, found {seq}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The sequence block `b`'s stamp carries, or an error naming the block.
fn check_block(data: &[u8], b: u64, path: &str) -> Result<u64, String> {
    verify::check(data, b).map_err(|e| format!("{path}: block {b}: {e}"))
}

/// The run's fields: its parameters, the totals and `per_job`.
fn result_json(shared: &Shared, results: &[JobResult], elapsed: u64) -> Json {
    let spec = &shared.spec;
    let mut total = Histogram::new();
    let (mut reads, mut writes) = (0, 0);
    let mut per_job = Vec::with_capacity(results.len());
    for (index, r) in results.iter().enumerate() {
        total.merge(&r.latency);
        reads += r.reads;
        writes += r.writes;
        let job = Json::new()
            .u64("job", index as u64)
            .u64("ops", r.ops())
            .u64("reads", r.reads)
            .u64("writes", r.writes);
        per_job.push(
            JobResult::fields(job, r.ops(), r.ops() * spec.bs, r.ns, &r.latency)
                .u64("elapsed_ns", r.ns)
                .finish(),
        );
    }
    let ops = reads + writes;
    let json = header("fio", ops, elapsed)
        .str("file", &shared.path)
        .str("rw", spec.rw.name())
        .u64("rwmixread", u64::from(spec.rwmixread))
        .str("dist", &spec.dist.name())
        .u64("bs", spec.bs)
        .u64("size", spec.size)
        .u64("jobs", u64::from(spec.jobs))
        .u64("seed", spec.seed)
        .u64("cpu_hogs", u64::from(shared.cpu_hogs))
        .u64("hog_rounds", shared.hog_rounds.load(Relaxed))
        .u64("reads", reads)
        .u64("writes", writes);
    JobResult::fields(json, ops, ops * spec.bs, elapsed, &total)
        .raw("per_job", &json::array(per_job))
}
