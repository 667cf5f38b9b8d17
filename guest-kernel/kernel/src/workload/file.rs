//! File workloads over ext2 on the first virtio-blk disk (`dev=N` picks
//! another), read through [`CachedDisk`] (the page cache with policy
//! `cache=lru|clock|arc|lecar|qlearn|qrule`, `cache_pages=N`, `readahead=N` pages
//! at most per read-ahead window, 0 = off) and the block layer (request
//! queue with merging, `scheduler=none|deadline`):
//!
//! - `seqread file=/path [passes=1]`: the whole file in 64 KiB chunks,
//!   `passes` times; prints the file's SHA-256 (every pass must agree).
//! - `randread file=/path [ops] [bs=4096] [seed]`: random `bs`-aligned reads.
//! - `mixed file=/path [ops] [bs] [seed]`: each op is, at random, a random
//!   read or the next sequential read (a cursor running through the file).
//! - `scanhot file=/path [ops] [bs] [hot_pages] [scan_pages]`: re-reads the
//!   hot set (the file's first `hot_pages` blocks of `bs`, default a quarter
//!   of the cache) between sequential scans of `scan_pages` (default the
//!   cache size) blocks of the rest. Nothing in it is random: no `seed`.
//! - `filewrite file=/path [bs=65536] [seed]`: overwrites the whole file in
//!   place, in `bs` chunks in a random order, through the page cache (dirty
//!   pages, written back merged when half the cache is dirty, and at the
//!   end with a FLUSH); then reads it back and prints its SHA-256. Byte `i`
//!   of the new content is byte `i % 8` (little-endian) of
//!   `(seed ^ (i / 8)) * 0x9e3779b97f4a7c15` (wrapping), so the host can
//!   compute it. The disk must be writable.
//!
//! Ranges: `cache_pages` (1024) 1..=32768 (`pagecache::KERNEL_MAX_PAGES`) and at most half the free memory,
//! `readahead` (32) 0..=4096, `passes` (1) 1..=10000, `bs` 1..=4 MiB (any
//! size, aligned or not), `ops` 1..=10^8, `hot_pages` 1..=the file's blocks,
//! `scan_pages` 1..=2^32; `filewrite` needs `bs` large enough that the file
//! has at most 2^19 chunks.
//!
//! Every file workload reads its own parameters, then the common ones
//! ([`FileParams`]), then calls `begin` (the check for unknown parameters,
//! `delay_ms`) before it touches the disk or a kept cache. `ops`,
//! `hot_pages` and `scan_pages` are read before `begin` too; their
//! defaults (and `hot_pages`' upper bound) come from the file and the
//! cache once open.
//!
//! # A page cache kept between runs
//!
//! `keep_cache=1` keeps the mounted file system, with its page cache, after
//! a successful run. The next run with `keep_cache=1` and the same `dev`,
//! `cache`, `cache_pages`, `readahead` and `scheduler` starts with that
//! cache (warm); any other disk workload, a file workload with other
//! settings or without `keep_cache=1`, a run that fails, and `exit` first
//! write it back and drop it, which returns its virtio-blk device. Without
//! `keep_cache` every run starts cold. Either way the counters in a result
//! are that run's own (from the mount of a cold cache, or the lookup of the
//! file in a warm one); the result says `keep_cache` and
//! `resident_pages_at_start`, the pages the cache held when the timed part
//! began.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;

use block::SchedulerKind;
use ext2::Ext2;
use virtio_core::hex::to_hex;
use virtio_core::sha256::Sha256;

use super::json::Json;
use super::{ANY, Params, Rng, begin, check_memory, dev_index, header, in_range};
use crate::fs::{CachedDisk, PAGE_SIZE};
use crate::platform;
use crate::sync::SpinLock;
use crate::virtio::{self, blk::BlkDevice};

const CHUNK: usize = 64 << 10;
const MAX_CACHE_PAGES: u64 = pagecache::KERNEL_MAX_PAGES as u64;
const MAX_READAHEAD: u64 = 4096;
const MAX_BS: u64 = 4 << 20;
const MAX_OPS: u64 = 100_000_000;
/// `filewrite` shuffles a table of 8 bytes per chunk: one 4 MiB allocation at most.
const MAX_WRITE_CHUNKS: u64 = 1 << 19;

/// How a page cache is set up. A kept cache serves only a run that asks for
/// the same.
#[derive(PartialEq)]
pub(super) struct CacheSettings {
    dev: usize,
    policy: String,
    cache_pages: usize,
    readahead: u32,
    scheduler: SchedulerKind,
}

impl CacheSettings {
    fn from_params(p: &Params<'_>) -> Result<Self, String> {
        let policy = String::from(p.choice("cache", "lru", &pagecache::POLICY_NAMES)?);
        let cache_pages = p.u64("cache_pages", 1024, 1..=MAX_CACHE_PAGES)? as usize;
        let readahead = p.u64("readahead", 32, 0..=MAX_READAHEAD)? as u32;
        let scheduler = p.str("scheduler", "none")?;
        Ok(Self {
            dev: dev_index(p)?,
            policy,
            cache_pages,
            readahead,
            scheduler: SchedulerKind::parse(scheduler)
                .ok_or_else(|| format!("scheduler={scheduler}: expected none or deadline"))?,
        })
    }
}

/// A mounted file system, boxed: `Ext2<CachedDisk>` is large, and the
/// control thread runs the workloads on a 32 KiB stack, where each move
/// of it by value would cost another copy in some frame.
pub(super) type Fs = Box<Ext2<CachedDisk>>;

/// A mounted file system kept for the next run (`keep_cache=1`).
struct Kept {
    settings: CacheSettings,
    fs: Fs,
}

static KEPT: SpinLock<Option<Kept>> = SpinLock::new(None);

/// Writes back and drops the kept page cache, if there is one; its
/// virtio-blk device goes back to the registry.
pub fn drop_kept_cache() {
    let kept = KEPT.lock().take();
    // Outside the lock: dropping writes back and waits for the device.
    drop(kept);
}

/// The kept file system, if it was set up with `settings` and this run
/// keeps it; any other kept cache is dropped.
fn take_kept(settings: &CacheSettings, keep: bool) -> Option<Fs> {
    let kept = KEPT.lock().take()?;
    if !keep || kept.settings != *settings {
        return None; // `kept` is dropped here, outside the lock
    }
    let mut fs = kept.fs;
    fs.device_mut().new_run();
    Some(fs)
}

pub(super) fn mount(settings: &CacheSettings) -> Result<Fs, String> {
    // The pages, and the policy's and the cache's own structures (at most
    // about 250 bytes per page: LeCaR's histories, the page index).
    check_memory(
        "the page cache",
        settings.cache_pages as u64 * (PAGE_SIZE as u64 + 512),
    )?;
    let dev = virtio::claim::<BlkDevice>(settings.dev)?;
    let disk = CachedDisk::new(
        dev,
        &settings.policy,
        settings.cache_pages,
        settings.readahead,
        settings.scheduler,
    )?;
    Ext2::mount(disk)
        .map(Box::new)
        .map_err(|e| format!("mount ext2: {e:?}"))
}

/// A file open for one run.
pub(super) struct Opened {
    pub fs: Fs,
    pub ino: u32,
    pub size: u64,
    pub path: String,
    pub settings: CacheSettings,
    pub keep: bool,
    pub resident_at_start: usize,
}

/// The parameters every file workload reads: `file`, the cache settings
/// and `keep_cache`.
pub(super) struct FileParams<'a> {
    path: &'a str,
    settings: CacheSettings,
    keep: bool,
}

impl<'a> FileParams<'a> {
    pub fn read(p: &Params<'a>) -> Result<Self, String> {
        let path = p.str("file", "")?;
        if path.is_empty() {
            return Err(String::from("file=/path/in/ext2 is required"));
        }
        let settings = CacheSettings::from_params(p)?;
        Ok(Self {
            path,
            settings,
            keep: p.flag("keep_cache")?,
        })
    }
}

pub(super) fn open(fp: FileParams<'_>) -> Result<Opened, String> {
    let FileParams {
        path,
        settings,
        keep,
    } = fp;
    let mut fs = match take_kept(&settings, keep) {
        Some(fs) => fs,
        None => mount(&settings)?,
    };
    let ino = fs.lookup(path).map_err(|e| format!("{path}: {e:?}"))?;
    let meta = fs
        .metadata_inode(ino)
        .map_err(|e| format!("{path}: {e:?}"))?;
    if !meta.is_file() {
        return Err(format!("{path}: not a regular file ({:?})", meta.file_type));
    }
    let resident_at_start = fs.device().resident_pages();
    Ok(Opened {
        fs,
        ino,
        size: meta.size,
        path: String::from(path),
        settings,
        keep,
        resident_at_start,
    })
}

/// Opens the file `fp` names, runs `body` on it and keeps the cache if
/// asked to; the result line.
fn with_file(
    fp: FileParams<'_>,
    body: impl FnOnce(&mut Opened) -> Result<Json, String>,
) -> Result<String, String> {
    let mut o = open(fp)?;
    let json = body(&mut o)?;
    if o.keep {
        keep(o.settings, o.fs);
    }
    Ok(json.finish())
}

/// Keeps `fs` for the next run with `settings` (`keep_cache=1`).
pub(super) fn keep(settings: CacheSettings, fs: Fs) {
    let displaced = KEPT.lock().replace(Kept { settings, fs });
    drop(displaced); // none unless runs on two disks overlap; outside the lock
}

fn read_at(o: &mut Opened, offset: u64, buf: &mut [u8]) -> Result<usize, String> {
    o.fs.read_inode(o.ino, offset, buf)
        .map_err(|e| format!("{} at {offset}: {e:?}", o.path))
}

pub(super) fn mib_per_s(bytes: u64, ns: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / (ns.max(1) as f64 / 1e9)
}

/// The common result: header, file, throughput and cache statistics.
fn result(name: &str, o: &Opened, ops: u64, bytes: u64, ns: u64) -> Json {
    let json = header(name, ops, ns)
        .str("file", &o.path)
        .u64("file_size", o.size)
        .u64("bytes", bytes)
        .f64("mib_per_s", mib_per_s(bytes, ns));
    disk_fields(json, o.fs.device(), o.keep, o.resident_at_start)
}

/// The cache's, block layer's and device's side of a result.
pub(super) fn disk_fields(
    json: Json,
    disk: &CachedDisk,
    keep: bool,
    resident_at_start: usize,
) -> Json {
    let c = disk.cache_stats();
    let d = disk.disk_stats();
    let q = disk.queue_stats();
    let dev = disk.device_stats();
    json.str("cache", disk.policy())
        .u64("cache_pages", disk.capacity() as u64)
        .bool("keep_cache", keep)
        .u64("resident_pages_at_start", resident_at_start as u64)
        .raw("hit_ratio", &format!("{:.4}", c.hit_ratio()))
        .u64("hits", c.hits)
        .u64("misses", c.misses)
        .u64("evictions", c.evictions)
        .u64("device_reads", dev.reads)
        .u64("device_bytes", dev.bytes_read)
        .u64("readahead_pages", d.readahead_pages)
        .str("scheduler", disk.scheduler())
        .u64("page_requests", q.queued)
        .u64("merged", q.merged())
        .u64("max_in_flight", d.max_in_flight)
        .str("completion", disk.device().completion_mode())
        .u64("interrupts", disk.device().interrupts())
}

/// The write side of a result: device writes and write-back.
pub(super) fn write_fields(json: Json, disk: &CachedDisk) -> Json {
    let d = disk.disk_stats();
    let dev = disk.device_stats();
    json.u64("device_writes", dev.writes)
        .u64("device_write_bytes", dev.bytes_written)
        .u64("writeback_pages", disk.cache_stats().writebacks)
        .u64("writeback_rounds", d.writeback_rounds)
        .u64("throttled_rounds", d.throttled_rounds)
        .u64("evicted_dirty_pages", d.evicted_dirty_pages)
}

pub fn seqread(p: &Params<'_>) -> Result<String, String> {
    let passes = p.u64("passes", 1, 1..=10_000)?;
    let fp = FileParams::read(p)?;
    begin(p)?;
    with_file(fp, |o| {
        let mut buf = vec![0u8; CHUNK];
        let mut digest: Option<[u8; 32]> = None;
        let start = platform::now_ns();
        for pass in 0..passes {
            let d = hash_file(o, &mut buf)?;
            match digest {
                None => digest = Some(d),
                Some(first) if first != d => {
                    return Err(format!("{}: pass {pass} read different bytes", o.path));
                }
                Some(_) => {}
            }
        }
        let ns = platform::now_ns() - start;
        // One read per CHUNK of the file, every pass.
        let (ops, bytes) = (passes * o.size.div_ceil(CHUNK as u64), passes * o.size);
        Ok(result("seqread", o, ops, bytes, ns)
            .u64("passes", passes)
            .str("sha256", &to_hex(&digest.unwrap_or_default())))
    })
}

/// Reads the whole file in `buf`-sized reads; its SHA-256.
fn hash_file(o: &mut Opened, buf: &mut [u8]) -> Result<[u8; 32], String> {
    let mut hash = Sha256::new();
    let mut off = 0;
    while off < o.size {
        let n = read_at(o, off, buf)?;
        if n == 0 {
            return Err(format!("{}: short read at {off} of {}", o.path, o.size));
        }
        hash.update(&buf[..n]);
        off += n as u64;
    }
    Ok(hash.finish())
}

/// Byte `i` of the content `filewrite` writes (see the module comment).
fn pattern_byte(seed: u64, i: u64) -> u8 {
    let word = (seed ^ (i / 8)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    word.to_le_bytes()[(i % 8) as usize]
}

pub fn filewrite(p: &Params<'_>) -> Result<String, String> {
    let bs = p.u64("bs", CHUNK as u64, 1..=MAX_BS)?;
    let seed = p.u64("seed", 1, ANY)?;
    // Reading the file back checks the writes; a benchmark may skip it (`verify=0`).
    let verify = p.u64("verify", 1, 0..=1)? == 1;
    let fp = FileParams::read(p)?;
    begin(p)?;
    with_file(fp, |o| {
        let chunks = o.size.div_ceil(bs);
        if chunks > MAX_WRITE_CHUNKS {
            return Err(format!(
                "bs={bs}: {chunks} chunks of {}, at most {MAX_WRITE_CHUNKS}",
                o.path
            ));
        }
        // A random order of the file's chunks (Fisher-Yates).
        let mut order: alloc::vec::Vec<u64> = (0..chunks).collect();
        let mut rng = Rng::new(seed);
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        let mut buf = vec![0u8; bs as usize];
        let start = platform::now_ns();
        for &chunk in &order {
            let off = chunk * bs;
            let n = bs.min(o.size - off) as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = pattern_byte(seed, off + i as u64);
            }
            o.fs.write_inode(o.ino, off, &buf[..n])
                .map_err(|e| format!("{} at {off}: {e:?}", o.path))?;
        }
        o.fs.device_mut()
            .sync()
            .map_err(|e| format!("{}: sync: {e:?}", o.path))?;
        let ns = platform::now_ns() - start;
        // Read back through the cache (what a reader now sees).
        let digest = if verify {
            Some(hash_file(o, &mut vec![0u8; CHUNK])?)
        } else {
            None
        };
        let json = result("filewrite", o, chunks, o.size, ns)
            .u64("bs", bs)
            .u64("seed", seed);
        let json = write_fields(json, o.fs.device());
        Ok(match digest {
            Some(digest) => json.str("sha256", &to_hex(&digest)),
            None => json,
        })
    })
}

/// The random-access workloads: `randread`, `mixed`, `scanhot`.
pub fn random(p: &Params<'_>) -> Result<String, String> {
    let name = p.workload();
    let scanhot = name == "scanhot";
    let bs = p.u64("bs", PAGE_SIZE as u64, 1..=MAX_BS)?;
    // scanhot draws no random numbers, and only it has a hot set.
    let seed = if scanhot { 0 } else { p.u64("seed", 1, ANY)? };
    // Defaults (and the hot set's range) depend on the file and the cache:
    // settled once it is open.
    let ops = p.opt_u64("ops", 1..=MAX_OPS)?;
    let (hot, scan) = if scanhot {
        (
            p.opt_u64("hot_pages", 1..=u64::MAX)?,
            p.opt_u64("scan_pages", 1..=1 << 32)?,
        )
    } else {
        (None, None)
    };
    let fp = FileParams::read(p)?;
    begin(p)?;
    with_file(fp, |o| {
        let blocks = o.size / bs;
        if blocks == 0 {
            return Err(format!(
                "{}: {} bytes, smaller than bs={bs}",
                o.path, o.size
            ));
        }
        let ops = ops.unwrap_or(if name == "randread" {
            10_000
        } else {
            4 * blocks
        });
        let cache_pages = o.fs.device().capacity() as u64;
        let hot = match hot {
            Some(hot) => in_range("hot_pages", hot, 1..=blocks)?,
            None => (cache_pages / 4).clamp(1, blocks),
        };
        let scan = scan.unwrap_or(cache_pages);
        let mut rng = Rng::new(seed);
        let mut buf = vec![0u8; bs as usize];
        let mut cursor = 0u64; // mixed: next sequential block; scanhot: next block of the rest
        let mut phase = 0u64; // scanhot: position in the round (hot set, then scan)
        let mut bytes = 0u64;
        let start = platform::now_ns();
        for _ in 0..ops {
            let block = match name {
                "randread" => rng.next() % blocks,
                "mixed" => {
                    if rng.next() & 1 == 0 {
                        rng.next() % blocks
                    } else {
                        let b = cursor;
                        cursor = (cursor + 1) % blocks;
                        b
                    }
                }
                _ => {
                    // scanhot
                    let b = if phase < hot || hot == blocks {
                        phase % hot
                    } else {
                        let b = hot + cursor;
                        cursor = (cursor + 1) % (blocks - hot);
                        b
                    };
                    phase = (phase + 1) % (hot + scan);
                    b
                }
            };
            bytes += read_at(o, block * bs, &mut buf)? as u64;
        }
        let ns = platform::now_ns() - start;
        let json = result(name, o, ops, bytes, ns).u64("bs", bs);
        Ok(if scanhot {
            json.u64("hot_pages", hot).u64("scan_pages", scan)
        } else {
            json.u64("seed", seed)
        })
    })
}
