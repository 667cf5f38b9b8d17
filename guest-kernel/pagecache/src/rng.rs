//! A small deterministic PRNG: Marsaglia's xorshift64* (Vigna, "An
//! experimental exploration of Marsaglia's xorshift generators, scrambled",
//! ACM TOMS 2016). Policies that randomise (LeCaR, Q-learning) take a seed so
//! the same trace always gives the same result, on the host and in the guest.

/// xorshift64* generator. Never holds state 0 (that would be a fixed point).
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator from `seed`; seed 0 is replaced by a fixed non-zero constant.
    pub fn new(seed: u64) -> Self {
        let state = if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed };
        XorShift64 { state }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n) for n > 0 (multiply-shift; bias is negligible for small n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// e^x for `no_std` (core has no `exp`): x = k ln 2 + r with |r| <= ln2/2,
/// e^r by its Taylor series (terms up to r^12 / 12!), then scaled by 2^k
/// through the exponent bits. Relative error is below 1e-15 for |x| < 700.
pub fn exp(x: f64) -> f64 {
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -708.0 {
        return 0.0;
    }
    const LN2: f64 = core::f64::consts::LN_2;
    let kf = x / LN2;
    let k = if kf >= 0.0 { (kf + 0.5) as i64 } else { (kf - 0.5) as i64 };
    let r = x - k as f64 * LN2;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut i = 1.0;
    while i <= 12.0 {
        term *= r / i;
        sum += term;
        i += 1.0;
    }
    // 2^k as an f64: biased exponent k + 1023 (k is within [-1022, 1023] here).
    let scale = f64::from_bits(((k + 1023) as u64) << 52);
    sum * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = XorShift64::new(42);
        let mut b = XorShift64::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let f = a.next_f64();
        assert!((0.0..1.0).contains(&f));
    }

    #[test]
    fn exp_matches_known_values() {
        let cases = [(0.0, 1.0), (1.0, core::f64::consts::E), (-1.0, 1.0 / core::f64::consts::E),
                     (0.45, 1.568_312_185_490_168_8), (10.0, 22_026.465_794_806_718)];
        for (x, want) in cases {
            let got = exp(x);
            assert!(((got - want) / want).abs() < 1e-13, "exp({x}) = {got}, want {want}");
        }
    }
}
