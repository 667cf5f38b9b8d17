//! Time: the TSC frequency (from the VMM's CPUID timing leaf, else PIT
//! calibration, else kvmclock) and `now_ns` from `rdtsc`.
//!
//! `now_ns` is the hot path: one native `rdtsc` (9.5 ns in PVM native mode)
//! and a multiply by a precomputed factor (`x86hw::tsc`), no division.
//! The TSC is assumed invariant and synchronised across vCPUs (KVM keeps it so).

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bootinfo::Cmdline;
use x86hw::tsc::{self, Source};

use super::cpuid::Features;
use super::x86::{self, rdtsc};
use super::{kvmclock, pit};
use crate::println;

static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
/// ns per TSC tick, as `x86hw::tsc::mult`'s fixed-point factor; 0 until `init`.
static MULT: AtomicU64 = AtomicU64::new(0);
/// TSC value at `init`: time 0.
static TSC0: AtomicU64 = AtomicU64::new(0);

/// The TSC frequency `source` gives on this machine, if it gives one.
fn source_khz(source: Source, features: &Features) -> Option<u64> {
    match source {
        Source::Cpuid => (features.tsc_khz != 0).then_some(u64::from(features.tsc_khz)),
        Source::Pit => pit::calibrate_tsc_khz(),
        Source::Kvmclock => kvmclock::tsc_khz(features),
    }
}

/// Determines the TSC frequency and starts the clock. `tsc_source=cpuid|pit|kvmclock`
/// on the command line forces one source (for testing the fallbacks).
pub fn init(cmdline: &Cmdline<'_>, features: &Features) {
    let (source, khz) = match cmdline.get("tsc_source") {
        Some(name) => {
            let source = Source::parse(name)
                .unwrap_or_else(|| panic!("tsc_source={name}: expected cpuid, pit or kvmclock"));
            let khz = source_khz(source, features)
                .unwrap_or_else(|| panic!("tsc_source={name}: this machine does not provide it"));
            (source, khz)
        }
        None => Source::ALL
            .into_iter()
            .find_map(|s| source_khz(s, features).map(|khz| (s, khz)))
            .unwrap_or_else(|| {
                panic!(
                    "time: no TSC frequency: no CPUID leaf 0x40000010, no PIT, no kvmclock \
                     (on PVM, boot.S must capture CPUID before the native-mode switch)"
                )
            }),
    };
    assert!(
        tsc::PLAUSIBLE_KHZ.contains(&khz),
        "time: implausible TSC frequency {khz} kHz from {}",
        source.name()
    );
    TSC_KHZ.store(khz, Relaxed);
    MULT.store(tsc::mult(khz), Relaxed);
    TSC0.store(rdtsc(), Relaxed);
    println!("time: tsc {khz} kHz (source: {})", source.name());
}

/// Nanoseconds since `init` (0 before it).
#[inline]
pub fn now_ns() -> u64 {
    tsc_to_ns(rdtsc().saturating_sub(TSC0.load(Relaxed)))
}

/// Converts a TSC interval to nanoseconds.
#[inline]
pub(crate) fn tsc_to_ns(ticks: u64) -> u64 {
    tsc::ticks_to_ns(ticks, MULT.load(Relaxed))
}

/// Converts nanoseconds to TSC ticks (divides: not for hot paths).
pub(crate) fn ns_to_tsc(ns: u64) -> u64 {
    tsc::ns_to_ticks(ns, TSC_KHZ.load(Relaxed))
}

pub(crate) fn tsc_khz() -> u64 {
    TSC_KHZ.load(Relaxed)
}

/// Busy-waits `ns` nanoseconds (native in PVM mode: `rdtsc` and `pause`).
pub(crate) fn spin_ns(ns: u64) {
    let start = x86::rdtsc();
    let ticks = ns_to_tsc(ns);
    while x86::rdtsc().wrapping_sub(start) < ticks {
        core::hint::spin_loop();
    }
}
