//! TSC ticks to and from nanoseconds, and where the TSC frequency comes from.
//!
//! Converting ticks to nanoseconds is on the hot path (`now_ns`), so it is a
//! 64x64->128-bit multiply by a precomputed factor, no division:
//! `ns = ticks * mult >> 32` with `mult = 10^6 * 2^32 / tsc_khz` ([`mult`]).

use core::ops::RangeInclusive;

const MULT_SHIFT: u32 = 32;

/// TSC frequencies (kHz) a machine can plausibly have: 1 MHz to 100 GHz.
pub const PLAUSIBLE_KHZ: RangeInclusive<u64> = 1_000..=100_000_000;

/// The 32.32 fixed-point nanoseconds per tick of a TSC at `khz` (> 0), rounded.
pub const fn mult(khz: u64) -> u64 {
    (((1_000_000u128 << MULT_SHIFT) + (khz / 2) as u128) / khz as u128) as u64
}

/// `ticks` in nanoseconds, with [`mult`]'s factor.
#[inline]
pub const fn ticks_to_ns(ticks: u64, mult: u64) -> u64 {
    ((ticks as u128 * mult as u128) >> MULT_SHIFT) as u64
}

/// `ns` in ticks of a TSC at `khz` (divides: not for hot paths).
pub const fn ns_to_ticks(ns: u64, khz: u64) -> u64 {
    (ns as u128 * khz as u128 / 1_000_000) as u64
}

/// Where the TSC frequency is learnt from, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The VMM's CPUID timing leaf 0x40000010.
    Cpuid,
    /// Measured against the 8254 PIT.
    Pit,
    /// KVM's paravirtual clock.
    Kvmclock,
}

impl Source {
    /// Every source, in the order they are tried.
    pub const ALL: [Self; 3] = [Self::Cpuid, Self::Pit, Self::Kvmclock];

    pub fn name(self) -> &'static str {
        match self {
            Self::Cpuid => "cpuid",
            Self::Pit => "pit",
            Self::Kvmclock => "kvmclock",
        }
    }

    /// The source named `name` (as `tsc_source=` on the command line).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        for khz in [1_000, 1_193_182, 2_000_000, 2_995_200, 100_000_000] {
            let mult = mult(khz);
            // One second of ticks is one second, give or take rounding.
            let second = ns_to_ticks(1_000_000_000, khz);
            assert_eq!(second, khz * 1000);
            let ns = ticks_to_ns(second, mult);
            assert!(
                ns.abs_diff(1_000_000_000) <= 1 + (second >> 32),
                "{khz} kHz: {ns}"
            );
        }
        // 2 GHz: 0.5 ns per tick.
        assert_eq!(mult(2_000_000), 1 << 31);
        assert_eq!(ticks_to_ns(2_000, mult(2_000_000)), 1_000);
        // A day of ticks at 2 GHz converts exactly; at 100 GHz (mult rounded
        // to 42950) without overflow, to within 10 ppm.
        let day = 86_400_000_000_000u64;
        assert_eq!(
            ticks_to_ns(ns_to_ticks(day, 2_000_000), mult(2_000_000)),
            day
        );
        let fast = ticks_to_ns(ns_to_ticks(day, 100_000_000), mult(100_000_000));
        assert!(fast.abs_diff(day) < day / 100_000, "{fast}");
    }

    #[test]
    fn source_names() {
        for source in Source::ALL {
            assert_eq!(Source::parse(source.name()), Some(source));
        }
        assert_eq!(Source::parse("hpet"), None);
    }
}
