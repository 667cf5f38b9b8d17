//! A fio-like job model (after Jens Axboe's fio: `rw=`, `rwmixread=`,
//! `bs=`, `size=`, `numjobs=`, `random_distribution=`), shared by ferrite's
//! `fio` workload and the trace simulator's `--matrix`, so that both replay
//! the same I/O sequence for the same seed.
//!
//! | file | what |
//! | --- | --- |
//! | `lib.rs` | `Rw`, `Dist`, `JobSpec`, `Job` (the offsets one job issues) |
//! | `zipf.rs` | Zipf sampling by rejection-inversion (Hörmann & Derflinger, 1996) |
//! | `histogram.rs` | log-linear latency histogram, percentiles |
//! | `verify.rs` | self-describing block stamps to catch lost or misplaced pages |
//!
//! Offsets are in units of `bs` within the first `size` bytes of the file:
//! - sequential (`rw=read|write`, or `dist=seq`): job `i` of `n` starts at
//!   unit `i * units / n` and runs on, wrapping at the end (fio's
//!   `offset_increment`, so that jobs are distinct streams);
//! - random: each I/O picks a unit from `dist`: uniform, or Zipf with
//!   exponent theta over ranks that a fixed bijection scatters over the
//!   file (as fio does), the same for every job: the hot set is shared,
//!   which is what a shared page cache is for.
//!
//! `rw=randrw` reads with probability `rwmixread` %, writes otherwise.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

use alloc::format;
use alloc::string::String;

use pagecache::rng::XorShift64;

mod histogram;
pub mod verify;
mod zipf;

pub use histogram::Histogram;
pub use zipf::Zipf;

/// The page size the jobs' block sizes are multiples of.
pub const BLOCK: u64 = 4096;
/// Largest block size a job takes (fio has no such limit; ferrite's buffers do).
pub const MAX_BS: u64 = 1 << 20;
/// Most jobs at once.
pub const MAX_JOBS: u32 = 64;

/// fio's `rw=`: the direction and pattern of a job's I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rw {
    Read,
    Write,
    RandRead,
    RandWrite,
    RandRw,
}

impl Rw {
    pub const NAMES: [&'static str; 5] = ["read", "write", "randread", "randwrite", "randrw"];
    const ALL: [Rw; 5] = [Rw::Read, Rw::Write, Rw::RandRead, Rw::RandWrite, Rw::RandRw];

    pub fn parse(s: &str) -> Option<Rw> {
        Self::NAMES.iter().position(|&n| n == s).map(|i| Self::ALL[i])
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|&r| r == self).expect("every Rw is in ALL")]
    }

    /// `read` and `write` run through the file in order.
    pub fn is_sequential(self) -> bool {
        matches!(self, Rw::Read | Rw::Write)
    }
}

/// fio's `random_distribution=`, plus `seq` (sequential whatever `rw` says).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    Uniform,
    /// Zipf with exponent theta (> 0, != 1 is not required).
    Zipf(f64),
    Seq,
}

impl Dist {
    /// Largest Zipf exponent accepted (fio examples go up to about 1.5;
    /// beyond 10 nearly every access hits the first rank).
    pub const MAX_THETA: f64 = 10.0;

    /// `uniform`, `seq` or `zipf:THETA` with 0 < THETA <= 10.
    pub fn parse(s: &str) -> Result<Dist, String> {
        match s {
            "uniform" => Ok(Dist::Uniform),
            "seq" => Ok(Dist::Seq),
            _ => {
                let theta = s
                    .strip_prefix("zipf:")
                    .ok_or_else(|| format!("dist must be uniform, seq or zipf:THETA, not {s:?}"))?;
                match theta.parse::<f64>() {
                    Ok(t) if t > 0.0 && t <= Self::MAX_THETA => Ok(Dist::Zipf(t)),
                    _ => Err(format!("zipf exponent must be a number in (0, {}], not {theta:?}", Self::MAX_THETA)),
                }
            }
        }
    }

    pub fn name(&self) -> String {
        match self {
            Dist::Uniform => "uniform".into(),
            Dist::Seq => "seq".into(),
            Dist::Zipf(t) => format!("zipf:{t}"),
        }
    }
}

/// What every job of a run shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JobSpec {
    pub rw: Rw,
    /// Percentage of reads for `rw=randrw` (0..=100).
    pub rwmixread: u32,
    pub dist: Dist,
    /// Bytes per I/O: a multiple of [`BLOCK`], at most [`MAX_BS`].
    pub bs: u64,
    /// Bytes of the file the jobs use, from offset 0: at least `bs`.
    pub size: u64,
    pub jobs: u32,
    pub seed: u64,
}

impl JobSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.bs == 0 || !self.bs.is_multiple_of(BLOCK) || self.bs > MAX_BS {
            return Err(format!("bs must be a multiple of {BLOCK} up to {MAX_BS}, not {}", self.bs));
        }
        if self.size < self.bs {
            return Err(format!("size ({}) must hold at least one block of bs={}", self.size, self.bs));
        }
        if self.jobs == 0 || self.jobs > MAX_JOBS {
            return Err(format!("jobs must be 1..={MAX_JOBS}, not {}", self.jobs));
        }
        if self.rwmixread > 100 {
            return Err(format!("rwmixread is a percentage, not {}", self.rwmixread));
        }
        Ok(())
    }

    /// I/O units of `bs` in the region (a partial unit at the end is not used).
    pub fn units(&self) -> u64 {
        self.size / self.bs
    }

    fn sequential(&self) -> bool {
        self.rw.is_sequential() || self.dist == Dist::Seq
    }
}

/// One I/O: `len` bytes at byte `offset` of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Io {
    pub write: bool,
    pub offset: u64,
    pub len: u64,
}

/// How a job picks its next unit.
enum Pattern {
    /// The next unit to use.
    Sequential(u64),
    Uniform,
    /// Ranks from the sampler, scattered over the file with `stride`.
    Zipf { zipf: Zipf, stride: u64 },
}

/// The I/O sequence of job `index` of a [`JobSpec`]: deterministic for a seed.
pub struct Job {
    rw: Rw,
    rwmixread: u32,
    bs: u64,
    units: u64,
    pattern: Pattern,
    rng: XorShift64,
}

impl Job {
    /// Job `index` (0-based, below `spec.jobs`) of a validated spec.
    pub fn new(spec: &JobSpec, index: u32) -> Job {
        let units = spec.units().max(1);
        let jobs = u64::from(spec.jobs.max(1));
        let pattern = if spec.sequential() {
            // u128: index * units overflows u64 for huge files and many jobs.
            Pattern::Sequential((u128::from(index) * u128::from(units) / u128::from(jobs)) as u64)
        } else {
            match spec.dist {
                Dist::Zipf(theta) => Pattern::Zipf { zipf: Zipf::new(units, theta), stride: stride(units) },
                Dist::Uniform | Dist::Seq => Pattern::Uniform,
            }
        };
        // Each job its own stream: the seed mixed with the job's index
        // (splitmix64's increment keeps streams of nearby indices apart).
        let seed = spec.seed ^ (u64::from(index) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Job { rw: spec.rw, rwmixread: spec.rwmixread, bs: spec.bs, units, pattern, rng: XorShift64::new(seed) }
    }

    pub fn next_io(&mut self) -> Io {
        let write = match self.rw {
            Rw::Read | Rw::RandRead => false,
            Rw::Write | Rw::RandWrite => true,
            Rw::RandRw => self.rng.below(100) >= u64::from(self.rwmixread),
        };
        let unit = match &mut self.pattern {
            Pattern::Sequential(next) => {
                let u = *next;
                *next = if u + 1 >= self.units { 0 } else { u + 1 };
                u
            }
            Pattern::Uniform => self.rng.below(self.units),
            Pattern::Zipf { zipf, stride } => scatter(zipf.sample(&mut self.rng) - 1, self.units, *stride),
        };
        Io { write, offset: unit * self.bs, len: self.bs }
    }
}

/// Rank `r` (0-based) to a unit: a bijection of 0..n, so that the hot ranks
/// are spread over the file rather than packed at its start (where
/// read-ahead would make them look sequential). `r -> (a r + c) mod n` is a
/// bijection when gcd(a, n) = 1; `a` is the odd number nearest n / phi that
/// is coprime to n ([`stride`]).
fn scatter(r: u64, n: u64, a: u64) -> u64 {
    ((u128::from(r) * u128::from(a) + u128::from(n / 3)) % u128::from(n)) as u64
}

fn stride(n: u64) -> u64 {
    let mut a = ((n as f64 * 0.618_033_988_749_895) as u64) | 1;
    while gcd(a, n) != 1 {
        a += 2;
    }
    a
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests;
