//! The scheduler's knobs, named and bounded like Linux's sysctls
//! (`/proc/sys/kernel/sched_*` up to 5.12, `/sys/kernel/debug/sched/*` after).
//!
//! They are read afresh on every scheduling decision, so a change made with
//! [`Tunables::set`] (from the kernel command line at boot or from the control
//! channel at run time) takes effect at the next tick, wakeup or pick.

use core::fmt;

/// Linux's `sysctl_sched_*` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunables {
    /// Targeted preemption latency: the period in which every runnable task
    /// should run once (`sysctl_sched_latency`).
    pub sched_latency_ns: u64,
    /// Minimal slice a task runs before the tick may preempt it; also the
    /// per-task share of the period once more than latency/min_granularity
    /// tasks are runnable (`sysctl_sched_min_granularity`).
    pub sched_min_granularity_ns: u64,
    /// How far (in virtual time) a woken task must be ahead of the running
    /// one to preempt it (`sysctl_sched_wakeup_granularity`).
    pub sched_wakeup_granularity_ns: u64,
    /// A task that ran less than this long ago is cache-hot and is not
    /// migrated by load balancing (`sysctl_sched_migration_cost`).
    pub sched_migration_cost_ns: u64,
    /// How many tasks one load-balancing pass may examine and move
    /// (`sysctl_sched_nr_migrate`); 0 turns load balancing off.
    pub sched_nr_migrate: u32,
}

/// Linux's unscaled defaults (the values for one CPU).
impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            sched_latency_ns: 6_000_000,
            sched_min_granularity_ns: 750_000,
            sched_wakeup_granularity_ns: 1_000_000,
            sched_migration_cost_ns: 500_000,
            sched_nr_migrate: 32,
        }
    }
}

/// Why [`Tunables::set`] refused a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunableError {
    /// No tunable has this name.
    Unknown,
    /// The value lies outside `min..=max` (bounds that depend on other
    /// tunables, such as min_granularity <= latency, are already folded in).
    OutOfRange {
        name: &'static str,
        min: u64,
        max: u64,
    },
}

impl fmt::Display for TunableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunableError::Unknown => write!(f, "unknown scheduler tunable"),
            TunableError::OutOfRange { name, min, max } => {
                write!(f, "{name} must be in {min}..={max}")
            }
        }
    }
}

impl core::error::Error for TunableError {}

/// Linux's `min_sched_granularity_ns` / `max_sched_granularity_ns` sysctl bounds.
const MIN_GRANULARITY_NS: u64 = 100_000;
const MAX_GRANULARITY_NS: u64 = 1_000_000_000;

impl Tunables {
    /// Every tunable's name, in a fixed order (for listing and for the tuner).
    pub const NAMES: [&'static str; 5] = [
        "sched_latency_ns",
        "sched_min_granularity_ns",
        "sched_wakeup_granularity_ns",
        "sched_migration_cost_ns",
        "sched_nr_migrate",
    ];

    /// Linux's boot-time defaults for `ncpus` CPUs: latency and the two
    /// granularities grow with `1 + log2(min(ncpus, 8))`
    /// (`SCHED_TUNABLESCALING_LOG`, `get_update_sysctl_factor()`), because
    /// on more CPUs there is less need to switch often on each one.
    pub fn scaled_for(ncpus: usize) -> Self {
        let factor = 1 + u64::from(ncpus.clamp(1, 8).ilog2());
        let base = Tunables::default();
        Tunables {
            sched_latency_ns: base.sched_latency_ns * factor,
            sched_min_granularity_ns: base.sched_min_granularity_ns * factor,
            sched_wakeup_granularity_ns: base.sched_wakeup_granularity_ns * factor,
            ..base
        }
    }

    /// The canonical `&'static str` for `name`, or `None` if it is unknown.
    fn canonical(name: &str) -> Option<&'static str> {
        Tunables::NAMES.iter().copied().find(|n| *n == name)
    }

    /// The values `name` accepts given the other tunables' current values.
    pub fn range(&self, name: &str) -> Option<(u64, u64)> {
        let range = match Tunables::canonical(name)? {
            "sched_latency_ns" => (
                MIN_GRANULARITY_NS.max(self.sched_min_granularity_ns),
                MAX_GRANULARITY_NS,
            ),
            "sched_min_granularity_ns" => (
                MIN_GRANULARITY_NS,
                MAX_GRANULARITY_NS.min(self.sched_latency_ns),
            ),
            "sched_wakeup_granularity_ns" | "sched_migration_cost_ns" => (0, MAX_GRANULARITY_NS),
            _ => (0, u64::from(u32::MAX)), // sched_nr_migrate
        };
        Some(range)
    }

    /// Sets one tunable by its Linux name after checking its range.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), TunableError> {
        let name = Tunables::canonical(name).ok_or(TunableError::Unknown)?;
        let (min, max) = self.range(name).ok_or(TunableError::Unknown)?;
        if !(min..=max).contains(&value) {
            return Err(TunableError::OutOfRange { name, min, max });
        }
        match name {
            "sched_latency_ns" => self.sched_latency_ns = value,
            "sched_min_granularity_ns" => self.sched_min_granularity_ns = value,
            "sched_wakeup_granularity_ns" => self.sched_wakeup_granularity_ns = value,
            "sched_migration_cost_ns" => self.sched_migration_cost_ns = value,
            // Within 0..=u32::MAX by the range check above.
            _ => self.sched_nr_migrate = u32::try_from(value).unwrap_or(u32::MAX),
        }
        Ok(())
    }

    /// Reads one tunable by its Linux name.
    pub fn get(&self, name: &str) -> Option<u64> {
        let value = match Tunables::canonical(name)? {
            "sched_latency_ns" => self.sched_latency_ns,
            "sched_min_granularity_ns" => self.sched_min_granularity_ns,
            "sched_wakeup_granularity_ns" => self.sched_wakeup_granularity_ns,
            "sched_migration_cost_ns" => self.sched_migration_cost_ns,
            _ => u64::from(self.sched_nr_migrate),
        };
        Some(value)
    }

    /// Checks every field (for values built with struct syntax rather than `set`).
    pub fn validate(&self) -> Result<(), TunableError> {
        for name in Tunables::NAMES {
            let (min, max) = self.range(name).ok_or(TunableError::Unknown)?;
            let value = self.get(name).ok_or(TunableError::Unknown)?;
            if !(min..=max).contains(&value) {
                return Err(TunableError::OutOfRange { name, min, max });
            }
        }
        Ok(())
    }

    /// Linux's `sched_nr_latency`: how many tasks fit in one latency period
    /// at min_granularity each (8 with the defaults).
    pub(crate) fn sched_nr_latency(&self) -> u64 {
        self.sched_latency_ns
            .div_ceil(self.sched_min_granularity_ns.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn defaults_are_linux_unscaled() {
        let t = Tunables::default();
        assert_eq!(t.sched_latency_ns, 6_000_000);
        assert_eq!(t.sched_min_granularity_ns, 750_000);
        assert_eq!(t.sched_wakeup_granularity_ns, 1_000_000);
        assert_eq!(t.sched_migration_cost_ns, 500_000);
        assert_eq!(t.sched_nr_migrate, 32);
        assert_eq!(t.sched_nr_latency(), 8);
        assert_eq!(t.validate(), Ok(()));
    }

    #[test]
    fn scaling_follows_log2_of_cpus() {
        assert_eq!(Tunables::scaled_for(1), Tunables::default());
        let t = Tunables::scaled_for(2);
        assert_eq!(t.sched_latency_ns, 12_000_000);
        assert_eq!(t.sched_min_granularity_ns, 1_500_000);
        assert_eq!(t.sched_wakeup_granularity_ns, 2_000_000);
        assert_eq!(t.sched_migration_cost_ns, 500_000);
        assert_eq!(Tunables::scaled_for(64).sched_latency_ns, 24_000_000);
    }

    #[test]
    fn get_and_set_by_name() {
        let mut t = Tunables::default();
        for name in Tunables::NAMES {
            assert!(t.get(name).is_some(), "{name}");
        }
        t.set("sched_latency_ns", 12_000_000).unwrap();
        t.set("sched_wakeup_granularity_ns", 0).unwrap();
        t.set("sched_nr_migrate", 8).unwrap();
        t.set("sched_migration_cost_ns", 0).unwrap();
        assert_eq!(t.get("sched_latency_ns"), Some(12_000_000));
        assert_eq!(t.sched_wakeup_granularity_ns, 0);
        assert_eq!(t.sched_nr_migrate, 8);
        assert_eq!(t.get("sched_migration_cost_ns"), Some(0));
        assert_eq!(t.get("nope"), None);
    }

    #[test]
    fn invalid_values_are_rejected_with_their_range() {
        let mut t = Tunables::default();
        let before = t;
        assert_eq!(t.set("sched_latency", 1), Err(TunableError::Unknown));
        assert_eq!(
            t.set("sched_latency_ns", 0),
            Err(TunableError::OutOfRange {
                name: "sched_latency_ns",
                min: 750_000,
                max: 1_000_000_000
            })
        );
        assert_eq!(
            t.set("sched_min_granularity_ns", 7_000_000),
            Err(TunableError::OutOfRange {
                name: "sched_min_granularity_ns",
                min: 100_000,
                max: 6_000_000
            })
        );
        assert_eq!(
            t.set("sched_min_granularity_ns", 0),
            Err(TunableError::OutOfRange {
                name: "sched_min_granularity_ns",
                min: 100_000,
                max: 6_000_000
            })
        );
        assert_eq!(
            t.set("sched_wakeup_granularity_ns", 2_000_000_000),
            Err(TunableError::OutOfRange {
                name: "sched_wakeup_granularity_ns",
                min: 0,
                max: 1_000_000_000
            })
        );
        assert_eq!(
            t.set("sched_nr_migrate", 1 << 32),
            Err(TunableError::OutOfRange {
                name: "sched_nr_migrate",
                min: 0,
                max: u64::from(u32::MAX)
            })
        );
        assert_eq!(t, before, "a rejected value changes nothing");
        assert_eq!(
            TunableError::OutOfRange {
                name: "sched_latency_ns",
                min: 1,
                max: 2
            }
            .to_string(),
            "sched_latency_ns must be in 1..=2"
        );
        assert_eq!(
            TunableError::Unknown.to_string(),
            "unknown scheduler tunable"
        );
    }

    #[test]
    fn validate_catches_struct_built_values() {
        let t = Tunables {
            sched_min_granularity_ns: 10_000_000,
            ..Tunables::default()
        };
        assert!(matches!(t.validate(), Err(TunableError::OutOfRange { .. })));
    }
}
