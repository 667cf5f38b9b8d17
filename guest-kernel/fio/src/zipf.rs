//! Zipf-distributed ranks 1..=n with P(k) proportional to 1 / k^theta, by
//! rejection-inversion (W. Hörmann, G. Derflinger, "Rejection-inversion to
//! generate variates from monotone discrete distributions", ACM TOMACS 6(3),
//! 1996): O(1) set-up and memory for any n and any theta > 0, where a table
//! of the distribution would take n entries. Two draws per sample on
//! average at most, usually one.
//!
//! The method inverts H, an integral of the hat function h(x) = x^-theta,
//! over [1/2, n + 1/2], and accepts k = round(x) when the drawn point lies
//! under the true probability's bar. `core` has no `ln`/`exp`: `exp` is
//! pagecache's, `ln` is below.

use pagecache::rng::{XorShift64, exp};

#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    theta: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    s: f64,
}

impl Zipf {
    /// Ranks 1..=n (n >= 1) with exponent theta > 0.
    pub fn new(n: u64, theta: f64) -> Zipf {
        let n = n.max(1);
        let mut z = Zipf { n, theta, h_integral_x1: 0.0, h_integral_n: 0.0, s: 0.0 };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n as f64 + 0.5);
        z.s = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// A rank in 1..=n.
    pub fn sample(&self, rng: &mut XorShift64) -> u64 {
        loop {
            let u = self.h_integral_n + rng.next_f64() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = ((x + 0.5) as u64).clamp(1, self.n);
            // Accept when k is close enough to x that the hat and the bar
            // coincide, or when u falls under k's bar.
            if k as f64 - x <= self.s || u >= self.h_integral(k as f64 + 0.5) - self.h(k as f64) {
                return k;
            }
        }
    }

    /// H(x) = (x^(1-theta) - 1) / (1 - theta), ln x at theta = 1.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = ln(x);
        expm1_over_x((1.0 - self.theta) * log_x) * log_x
    }

    /// h(x) = x^-theta.
    fn h(&self, x: f64) -> f64 {
        exp(-self.theta * ln(x))
    }

    /// H^-1.
    fn h_integral_inverse(&self, x: f64) -> f64 {
        // t > -1 in exact arithmetic; rounding can push it past.
        let t = (x * (1.0 - self.theta)).max(-1.0);
        exp(log1p_over_x(t) * x)
    }
}

/// ln(1 + x) / x, continuous at 0 (its series there).
fn log1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 { ln(1.0 + x) / x } else { 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x)) }
}

/// (e^x - 1) / x, continuous at 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 { (exp(x) - 1.0) / x } else { 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x)) }
}

/// Natural logarithm for x > 0 (0 gives -inf): x = m 2^e with m in
/// [sqrt(1/2), sqrt(2)), ln m = 2 atanh(z), z = (m - 1) / (m + 1), |z| <=
/// 0.172, by its series to z^23 (remainder below 1e-17).
pub fn ln(x: f64) -> f64 {
    if x <= 0.0 {
        return if x == 0.0 { f64::NEG_INFINITY } else { f64::NAN };
    }
    if x.is_infinite() || x.is_nan() {
        return x;
    }
    // Subnormals: scale into the normal range first.
    let (x, bias) = if x < f64::MIN_POSITIVE { (x * (1u64 << 54) as f64, -54) } else { (x, 0) };
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023 + bias;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m >= core::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut term = z;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k <= 23.0 {
        sum += term / k;
        term *= z2;
        k += 2.0;
    }
    e as f64 * core::f64::consts::LN_2 + 2.0 * sum
}
