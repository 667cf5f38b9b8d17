//! Benchmarks that run inside ferrite (`workload=NAME` on the command line,
//! or `run NAME key=value...` on the control channel). Each prints exactly one
//! JSON object on one line. Common fields: `workload`, `ops`, `ns_per_op`,
//! `mode` ("pvm-native" / "kvm"), `irq` ("polling" / "interrupt"), `cpus`.
//! All timing is `platform::now_ns()`. Every workload also takes `delay_ms=N`
//! (at most 600000): sleep first, so that a VMM's start-up work does not
//! disturb the measurement.
//!
//! # Reading parameters: `begin`
//!
//! A workload reads all its parameters from [`Params`] first, then calls
//! [`begin`] before it does any work (claims a device, drops a kept page
//! cache, allocates, spawns threads). `begin` reads `delay_ms`, refuses,
//! for `run`, every key the workload did not look up
//! (`{"error":"pipe: unknown parameter opz (pipe takes ops, pin, delay_ms)"}`,
//! see `ctlproto::params`), then sleeps `delay_ms`. The known keys are the
//! lookups themselves, so nothing can drift: a key read only after `begin`
//! is an error answer (a bug the first run of that path shows), and a
//! workload that returns a result without having called `begin` gets an
//! error answer instead of it. A value whose default or range depends on
//! what the workload finds (a disk's size, a file's blocks) is read before
//! `begin` with `Params::opt_u64` and settled afterwards. At boot
//! (`workload=`) the command line's other words are the kernel's, so
//! nothing is refused there.
//!
//! | workload    | what one op is                                   | parameters (default, range) |
//! | ----------- | ------------------------------------------------ | -------------------- |
//! | `pipe`      | a 1-byte round trip between two threads          | `ops` (100000, 1..=10^8), `pin=same\|split` (same) |
//! | `hackbench` | one 100-byte message, sender -> receiver          | `groups` (10, 1..=1000), `loops` (100, 1..=10^6), `pipe_size` (65536, 1..=1 MiB) |
//! | `spin`      | one round of a CPU-bound loop through `cond_resched` (slice lengths) | `threads` (16, 1..=256), `ms` (500, 1..=60000), `cpu` (the last), `resched` (1; 0: no preemption point in the loop, needs `preempt=full`) |
//! | `kmalloc`   | one kmalloc + kfree pair over a size mix 8..4096 | `ops` (1000000, 1..=10^9), `slots` (1024, 1..=100000), `seed`, `mode` (churn\|pc: each thread frees its own objects \| producer/consumer pairs across CPUs), `threads` (1, 2 with pc; 1..=256) |
//! | `pages`     | one order-0 page alloc + free (per-CPU cache)    | `ops` (1000000, 1..=10^9), `depth` (16, 1..=4096) |
//! | `pio`, `mmio` | one VM exit: `out` to port 0x80 / read of a virtio-mmio register (exits.rs) | `ops` (10000, 1..=10^7) |
//! | `disksum`, `diskwrite`, `diskbench` | virtio-blk requests (disk.rs, diskbench.rs) | `dev`, see those files |
//! | `rng`       | virtio-rng requests (rng.rs)                     | `bytes` (64, 1..=1 MiB), `dev` |
//! | `ping`, `pingd` | virtio-net: send / answer pings (ping.rs)    | `ip`, `dev`; `ping`, `count`, `interval_ms`, `timeout_ms`, `size` / `duration_ms` |
//! | `seqread`, `randread`, `mixed`, `scanhot`, `filewrite` | ext2 file reads and in-place writes through the page cache (file.rs) | `file`, `cache`, `cache_pages`, `readahead`, `scheduler`, `dev`, `keep_cache`, see file.rs |
//! | `fio`       | one `bs` read or in-place write by one of `jobs` threads sharing a page cache (fio.rs) | `jobs` (1, 1..=64), `rw` (randread), `rwmixread` (50, 0..=100), `bs` (4096, multiple of 4096 up to 1 MiB), `size`, `dist` (uniform), `runtime_ms`, `ops`, `seed`, `verify`, `cpu_hogs` (0, 0..=64), and file.rs's |
//!
//! # Bad parameters are errors, never panics
//!
//! Through the control channel a workload must not take the VM down, so
//! every parameter is read with a range (`Params::u64`), choices are
//! checked, and a run that would need more than half of the free memory
//! is refused before it starts ([`check_memory`]): an allocation that
//! fails inside the kernel is a panic. The ranges also keep runs finite
//! (no `ops=2^64`) and single allocations within the buddy allocator's
//! largest block (4 MiB). At boot (`workload=`) an error is a panic.

pub mod chan;
mod disk;
mod diskbench;
mod exits;
mod file;
mod fio;
mod hackbench;
mod kmalloc;
mod pages;
mod ping;
mod pipe;
mod rng;
pub mod selftest;
mod spin;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use bootinfo::Cmdline;

use crate::{exit, heap, percpu, platform, println, task};
use json::Json;

pub use ctlproto::params::{ANY, in_range};
pub use ctlproto::{Params, json};
pub use file::drop_kept_cache;

/// Longest `delay_ms`: ten minutes.
const MAX_DELAY_MS: u64 = 600_000;

/// A workload: reads its parameters, calls [`begin`], runs; its JSON line.
type Workload = fn(&Params<'_>) -> Result<String, String>;

/// Every workload, by the name `run NAME` and `workload=NAME` take.
const WORKLOADS: [(&str, Workload); 19] = [
    ("pipe", pipe::run),
    ("hackbench", hackbench::run),
    ("spin", spin::run),
    ("kmalloc", kmalloc::run),
    ("pages", pages::run),
    ("pio", exits::pio),
    ("mmio", exits::mmio),
    ("disksum", disk::disksum),
    ("diskwrite", disk::diskwrite),
    ("diskbench", diskbench::run),
    ("rng", rng::run),
    ("ping", ping::ping),
    ("pingd", ping::pingd),
    ("seqread", file::seqread),
    ("randread", file::random),
    ("mixed", file::random),
    ("scanhot", file::random),
    ("filewrite", file::filewrite),
    ("fio", fio::run),
];

/// Runs workload `p.workload()` in the calling thread; returns its JSON line.
pub fn run(p: &Params<'_>) -> Result<String, String> {
    let name = p.workload();
    let Some(&(_, workload)) = WORKLOADS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = WORKLOADS.iter().map(|&(n, _)| n).collect();
        return Err(format!("unknown workload {name:?} (one of {names:?})"));
    };
    // Called through an opaque pointer, so that no workload is inlined
    // here: the frames of inlined workloads add up in this one, and the
    // file workloads need most of the control thread's 32 KiB stack.
    let result = core::hint::black_box(workload)(p);
    if result.is_ok() && !p.finished() {
        return Err(format!(
            "{name}: ran without checking its parameters (a bug: it must call workload::begin)"
        ));
    }
    result
}

/// Every workload calls this once it has read all its parameters and
/// before it does any work: refuses unknown parameters (with `run`), then
/// sleeps `delay_ms`, so that the host settles first (a VMM's start-up
/// threads, e.g. prefaulting guest RAM, compete with the vCPUs for a while).
pub fn begin(p: &Params<'_>) -> Result<(), String> {
    let delay_ms = p.u64("delay_ms", 0, 0..=MAX_DELAY_MS)?;
    p.finish()?;
    if delay_ms > 0 {
        crate::wait::sleep_ns(delay_ms.saturating_mul(1_000_000));
    }
    Ok(())
}

/// `workload=NAME` at boot: runs it in a kernel thread, prints the JSON line,
/// waits `hold_ms` if given and, unless `stay` (the control channel is open),
/// ends the VM with status 0.
pub fn start(name: &'static str, cmdline: Cmdline<'static>, stay: bool) {
    task::spawn("workload", 0, 0, move || {
        match run(&Params::boot(name, cmdline)) {
            Ok(line) => println!("{line}"),
            Err(e) => panic!("workload={name}: {e}"),
        }
        // `hold_ms=N`: stay up that long after the result, so that a host can
        // act on the line while the VM still runs (e.g. kill -9 the VMM).
        match cmdline.get_u64("hold_ms") {
            Ok(Some(ms)) if ms > 0 => crate::wait::sleep_ns(ms.saturating_mul(1_000_000)),
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        if !stay {
            exit::exit(0);
        }
    });
}

/// `dev=N`: which device of its kind a workload takes (default 0, the first).
pub fn dev_index(p: &Params<'_>) -> Result<usize, String> {
    Ok(p.u64("dev", 0, ANY)? as usize)
}

/// Refuses a run that would need `bytes` (an estimate) when that is more
/// than half of the free memory: the rest of the kernel must still be able
/// to allocate.
pub fn check_memory(what: &str, bytes: u64) -> Result<(), String> {
    let free = heap::buddy_stats().free_pages * mm::PAGE_SIZE;
    if bytes > free / 2 {
        return Err(format!(
            "{what} needs about {} MiB, more than half of the {} MiB free",
            bytes.div_ceil(1 << 20),
            free >> 20
        ));
    }
    Ok(())
}

/// The fields every result starts with.
pub fn header(workload: &str, ops: u64, elapsed_ns: u64) -> Json {
    Json::new()
        .str("workload", workload)
        .u64("ops", ops)
        .f64("ns_per_op", elapsed_ns as f64 / ops.max(1) as f64)
        .str("mode", crate::platform::mode_name())
        .str("irq", platform::irq_mode().name())
        .u64("cpus", percpu::ncpus() as u64)
        .u64("elapsed_ns", elapsed_ns)
}

/// Scheduler counters summed over all CPUs.
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedTotals {
    pub context_switches: u64,
    pub migrations: u64,
    pub wait_ns: u64,
    /// Wakeups queued on another CPU's wake list.
    pub remote_wakeups: u64,
}

impl SchedTotals {
    pub fn now() -> Self {
        let mut totals = Self::default();
        for cpu in 0..percpu::ncpus() {
            let s = task::cpu_stats(cpu);
            totals.context_switches += s.context_switches;
            totals.migrations += s.migrations_in;
            totals.wait_ns += s.wait_time_ns;
            totals.remote_wakeups += task::remote_wakeups(cpu);
        }
        totals
    }

    /// The counts from `before` to `self`.
    pub fn since(self, before: Self) -> Self {
        Self {
            context_switches: self.context_switches - before.context_switches,
            migrations: self.migrations - before.migrations,
            wait_ns: self.wait_ns - before.wait_ns,
            remote_wakeups: self.remote_wakeups - before.remote_wakeups,
        }
    }
}

/// Involuntary switches so far (tick / deadline / wakeup preemption), all CPUs.
pub fn preemptions() -> u64 {
    (0..percpu::ncpus())
        .map(|cpu| task::cpu_stats(cpu).nr_preemptions)
        .sum()
}

/// Scheduler counters as JSON fields.
pub trait SchedJson {
    fn add_to(self, json: Json) -> Json;
}

impl SchedJson for SchedTotals {
    fn add_to(self, json: Json) -> Json {
        json.u64("context_switches", self.context_switches)
            .u64("migrations", self.migrations)
            .u64("wait_ns", self.wait_ns)
            .u64("remote_wakeups", self.remote_wakeups)
    }
}

/// A small fixed-seed PRNG (xorshift64*), so runs are repeatable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
