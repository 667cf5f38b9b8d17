//! Nice levels, load weights and the fixed-point division CFS uses with them.
//!
//! Mirrors `sched_prio_to_weight[]` / `sched_prio_to_wmult[]` (kernel/sched/core.c),
//! `struct load_weight` and `__calc_delta()` / `calc_delta_fair()` (kernel/sched/fair.c).
//!
//! A task's weight decides its share of the CPU: runnable tasks share a CPU in
//! proportion to their weights. Nice 0 weighs 1024 (`NICE_0_LOAD`); every nice
//! step multiplies the weight by about 1/1.25, so one step costs a task ~10% of
//! CPU time against a task that stayed put.

/// Lowest (most favoured) nice value.
pub const MIN_NICE: i8 = -20;
/// Highest (least favoured) nice value.
pub const MAX_NICE: i8 = 19;
/// Weight of a nice-0 task (Linux's `NICE_0_LOAD` without the 64-bit fixed-point scaling).
pub const NICE_0_LOAD: u64 = 1024;
/// `~0U`: the dividend the inverse weights are computed from (Linux's `WMULT_CONST`).
pub const WMULT_CONST: u64 = u32::MAX as u64;
/// The inverse weights are `2^WMULT_SHIFT / weight`.
pub const WMULT_SHIFT: u32 = 32;

/// Linux's `sched_prio_to_weight[]`: weight for nice -20 ..= 19 (index `nice + 20`).
pub const SCHED_PRIO_TO_WEIGHT: [u32; 40] = [
    /* -20 */ 88761, 71755, 56483, 46273, 36291, //
    /* -15 */ 29154, 23254, 18705, 14949, 11916, //
    /* -10 */ 9548, 7620, 6100, 4904, 3906, //
    /*  -5 */ 3121, 2501, 1991, 1586, 1277, //
    /*   0 */ 1024, 820, 655, 526, 423, //
    /*   5 */ 335, 272, 215, 172, 137, //
    /*  10 */ 110, 87, 70, 56, 45, //
    /*  15 */ 36, 29, 23, 18, 15, //
];

/// Linux's `sched_prio_to_wmult[]`: `2^32 / weight`, precomputed so that
/// dividing by a weight becomes a multiplication and a shift.
pub const SCHED_PRIO_TO_WMULT: [u32; 40] = [
    /* -20 */ 48388, 59856, 76040, 92818, 118348, //
    /* -15 */ 147320, 184698, 229616, 287308, 360437, //
    /* -10 */ 449829, 563644, 704093, 875809, 1099582, //
    /*  -5 */ 1376151, 1717300, 2157191, 2708050, 3363326, //
    /*   0 */ 4194304, 5237765, 6557202, 8165337, 10153587, //
    /*   5 */ 12820798, 15790321, 19976592, 24970740, 31350126, //
    /*  10 */ 39045157, 49367440, 61356676, 76695844, 95443717, //
    /*  15 */ 119304647, 148102320, 186737708, 238609294, 286331153, //
];

/// Clamps `nice` into -20..=19, as `setpriority(2)` does with out-of-range values.
pub fn clamp_nice(nice: i8) -> i8 {
    nice.clamp(MIN_NICE, MAX_NICE)
}

fn prio_index(nice: i8) -> usize {
    // In range 0..=39 after clamping, so the cast cannot wrap.
    (i16::from(clamp_nice(nice)) - i16::from(MIN_NICE)) as usize
}

/// The load weight of a task with this nice value (clamped into -20..=19).
pub fn nice_to_weight(nice: i8) -> u32 {
    SCHED_PRIO_TO_WEIGHT[prio_index(nice)]
}

/// The precomputed inverse weight (`2^32 / weight`) for this nice value.
pub fn nice_to_wmult(nice: i8) -> u32 {
    SCHED_PRIO_TO_WMULT[prio_index(nice)]
}

/// A weight together with its inverse, like Linux's `struct load_weight`.
/// Used for one task (inverse from the table) or for a whole run queue
/// (inverse computed on demand, as `__update_inv_weight()` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoadWeight {
    pub weight: u64,
    pub inv_weight: u64,
}

impl LoadWeight {
    /// The weight of a task with this nice value.
    pub fn from_nice(nice: i8) -> Self {
        LoadWeight {
            weight: u64::from(nice_to_weight(nice)),
            inv_weight: u64::from(nice_to_wmult(nice)),
        }
    }

    /// Any weight, e.g. the sum over a run queue. `__update_inv_weight()`.
    pub fn new(weight: u64) -> Self {
        let inv_weight = match weight {
            0 => WMULT_CONST,
            w if w > WMULT_CONST => 1,
            w => WMULT_CONST / w,
        };
        LoadWeight { weight, inv_weight }
    }
}

/// `delta * weight / lw.weight`, computed as Linux's `__calc_delta()` does:
/// multiply by the precomputed inverse and shift right by 32. Linux juggles
/// shifts to stay within 64 bits; we simply use 128-bit arithmetic, and
/// saturate instead of overflowing.
pub(crate) fn calc_delta(delta: u64, weight: u64, lw: LoadWeight) -> u64 {
    let product = u128::from(delta) * u128::from(weight) * u128::from(lw.inv_weight);
    u64::try_from(product >> WMULT_SHIFT).unwrap_or(u64::MAX)
}

/// Converts wall-clock time into this task's virtual time: `delta * 1024 / weight`.
/// Heavier tasks' vruntime advances slower, so they stay leftmost longer.
/// Linux's `calc_delta_fair()`; nice-0 tasks skip the arithmetic.
pub(crate) fn calc_delta_fair(delta: u64, lw: LoadWeight) -> u64 {
    if lw.weight == NICE_0_LOAD {
        delta
    } else {
        calc_delta(delta, NICE_0_LOAD, lw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_0_weighs_1024_and_extremes_match_linux() {
        assert_eq!(nice_to_weight(0), 1024);
        assert_eq!(nice_to_wmult(0), 1 << 22);
        assert_eq!(nice_to_weight(-20), 88761);
        assert_eq!(nice_to_weight(19), 15);
        // Out-of-range values clamp like setpriority(2).
        assert_eq!(nice_to_weight(-100), 88761);
        assert_eq!(nice_to_weight(100), 15);
    }

    #[test]
    fn each_nice_step_is_about_1_25x() {
        for nice in MIN_NICE..MAX_NICE {
            let ratio = f64::from(nice_to_weight(nice)) / f64::from(nice_to_weight(nice + 1));
            assert!((1.19..=1.31).contains(&ratio), "nice {nice}: ratio {ratio}");
        }
    }

    #[test]
    fn wmult_times_weight_is_about_2_pow_32() {
        for nice in MIN_NICE..=MAX_NICE {
            let product = u64::from(nice_to_weight(nice)) * u64::from(nice_to_wmult(nice));
            let error = (product as f64 - 2f64.powi(32)).abs() / 2f64.powi(32);
            assert!(error < 1e-4, "nice {nice}: weight*wmult = {product}");
        }
    }

    #[test]
    fn calc_delta_fair_scales_by_inverse_weight() {
        let nice0 = LoadWeight::from_nice(0);
        assert_eq!(calc_delta_fair(1_000_000, nice0), 1_000_000);
        // nice 5 (weight 335): virtual time runs 1024/335 ~ 3.057x faster.
        let v = calc_delta_fair(1_000_000, LoadWeight::from_nice(5));
        assert!((3_050_000..3_060_000).contains(&v), "{v}");
        // nice -20: much slower.
        let v = calc_delta_fair(1_000_000, LoadWeight::from_nice(-20));
        assert!((11_500..11_600).contains(&v), "{v}");
    }

    #[test]
    fn calc_delta_with_computed_inverse_is_a_division() {
        let lw = LoadWeight::new(3 * 1024);
        let d = calc_delta(6_000_000, 1024, lw);
        assert!(d.abs_diff(2_000_000) <= 1, "{d}");
        assert_eq!(LoadWeight::new(0).inv_weight, WMULT_CONST);
        assert_eq!(calc_delta(u64::MAX, 88761, LoadWeight::new(1)), u64::MAX);
    }
}
