//! The gamma family in f64: `lgamma`, `digamma`, `polygamma`, the Hurwitz `zeta` and the
//! regularized incomplete gamma functions `igamma` (P) and `igammac` (Q).
//!
//! `lgamma` uses the Lanczos approximation (g = 7, nine terms) with the reflection formula
//! below 1/2; `digamma` shifts its argument above 10 and sums the asymptotic (Bernoulli)
//! series; `zeta` is Euler-Maclaurin summation; `igamma(c)` are the power series of P for
//! x < a + 1 and the Legendre continued fraction of Q otherwise. Special values (poles,
//! negative integers, infinities) follow PyTorch.

use std::f64::consts::PI;

/// Lanczos coefficients for g = 7, n = 9.
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// sin(pi x) with the argument reduced exactly first (so integers give exact zeros).
fn sin_pi(x: f64) -> f64 {
    let r = x - 2.0 * (x / 2.0).round();
    (PI * r).sin()
}

/// ln|Gamma(x)|; +inf at the poles (0, -1, -2, ...) and at +-inf.
pub(crate) fn lgamma(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    if x <= 0.0 && x == x.floor() {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        return (PI / sin_pi(x).abs()).ln() - lgamma(1.0 - x);
    }
    let x = x - 1.0;
    let a = LANCZOS[1..]
        .iter()
        .enumerate()
        .fold(LANCZOS[0], |a, (i, c)| a + c / (x + i as f64 + 1.0));
    let t = x + 7.5;
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// digamma(x) = d/dx ln Gamma(x); -inf at +0, +inf at -0, NaN at negative integers.
pub(crate) fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::INFINITY.copysign(-x);
    }
    if x < 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        // Reflection: psi(1 - x) - psi(x) = pi / tan(pi x).
        let r = x - x.round();
        return digamma(1.0 - x) - PI / (PI * r).tan();
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    if x == f64::INFINITY {
        return x;
    }
    let z = 1.0 / (x * x);
    // -sum B_2k / (2k x^2k), k = 1..7, in Horner form.
    let tail = z
        * (-1.0 / 12.0
            + z * (1.0 / 120.0
                + z * (-1.0 / 252.0
                    + z * (1.0 / 240.0
                        + z * (-1.0 / 132.0 + z * (691.0 / 32_760.0 + z * (-1.0 / 12.0)))))));
    acc + x.ln() - 0.5 / x + tail
}

/// B_2j / (2j)! for j = 1..12 (Euler-Maclaurin correction weights).
fn bernoulli_weights() -> [f64; 12] {
    const B: [(f64, f64); 12] = [
        (1.0, 6.0),
        (-1.0, 30.0),
        (1.0, 42.0),
        (-1.0, 30.0),
        (5.0, 66.0),
        (-691.0, 2730.0),
        (7.0, 6.0),
        (-3617.0, 510.0),
        (43_867.0, 798.0),
        (-174_611.0, 330.0),
        (854_513.0, 138.0),
        (-236_364_091.0, 2730.0),
    ];
    let mut out = [0.0; 12];
    let mut fact = 1.0;
    for (j, (num, den)) in B.iter().enumerate() {
        let k = 2.0 * (j as f64 + 1.0);
        fact *= (k - 1.0) * k;
        out[j] = num / den / fact;
    }
    out
}

/// Hurwitz zeta for q > 0 by Euler-Maclaurin: direct terms until q + N >= 10, then the
/// integral, the half term and up to twelve Bernoulli corrections.
fn zeta_positive(x: f64, q: f64) -> f64 {
    let mut s = 0.0;
    let mut a = q;
    let mut n = 0;
    while n < 10 || a < 10.0 {
        let b = a.powf(-x);
        s += b;
        if b.abs() <= 1e-17 * s.abs() || s.is_infinite() {
            return s;
        }
        a += 1.0;
        n += 1;
    }
    let t = a.powf(-x);
    s += a * t / (x - 1.0) + 0.5 * t;
    let mut fac = x * t / a;
    for (j, w) in bernoulli_weights().iter().enumerate() {
        let term = w * fac;
        s += term;
        if term.abs() < 1e-17 * s.abs() {
            break;
        }
        let k = 2.0 * j as f64 + 1.0;
        fac *= (x + k) * (x + k + 1.0) / (a * a);
    }
    s
}

/// Hurwitz zeta(x, q) = sum_k (q + k)^-x, with PyTorch's (Cephes') domain: inf at x = 1,
/// NaN for x < 1, inf at q = 0, -1, ... (checked in that order); q < 0 only for integer x.
pub(crate) fn zeta(x: f64, q: f64) -> f64 {
    // NaN flows through the comparisons as in Cephes (zeta(NaN, 0) is inf there too).
    if x == 1.0 {
        return f64::INFINITY;
    }
    if x < 1.0 {
        return f64::NAN;
    }
    if q <= 0.0 {
        if q == q.floor() {
            return f64::INFINITY;
        }
        if x != x.floor() {
            return f64::NAN;
        }
        // Peel the terms with negative base: with r = q + m in (0, 1),
        // sum_{k<m} (q + k)^-x = (-1)^x (zeta(x, 1 - r) - zeta(x, m + 1 - r)).
        let m = (-q).ceil();
        let r = q + m;
        if m <= 64.0 {
            let direct: f64 = (0..m as i64).map(|k| (q + k as f64).powf(-x)).sum();
            return direct + zeta_positive(x, r);
        }
        let sign = if (x / 2.0).fract() == 0.0 { 1.0 } else { -1.0 };
        let peeled = sign * (zeta_positive(x, 1.0 - r) - zeta_positive(x, m + 1.0 - r));
        return peeled + zeta_positive(x, r);
    }
    zeta_positive(x, q)
}

/// polygamma(n, x) = (-1)^{n+1} n! zeta(n + 1, x) for n >= 1, digamma for n = 0.
pub(crate) fn polygamma(n: u32, x: f64) -> f64 {
    if n == 0 {
        return digamma(x);
    }
    let mut fact = 1.0;
    for k in 2..=n {
        fact *= k as f64;
    }
    let sign = if n % 2 == 1 { 1.0 } else { -1.0 };
    sign * fact * zeta(n as f64 + 1.0, x)
}

/// Iteration cap of the incomplete-gamma series and fraction (they need about sqrt(a)
/// terms near x = a, so this covers a up to about 10^9 at full accuracy).
const IGAMMA_ITERS: usize = 100_000;

/// P(a, x) by its power series (best for x < a + 1).
fn igamma_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0 / a;
    let mut sum = term;
    let mut ap = a;
    for _ in 0..IGAMMA_ITERS {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if term.abs() < sum.abs() * 1e-17 {
            break;
        }
    }
    (sum.ln() + a * x.ln() - x - lgamma(a)).exp()
}

/// Q(a, x) by the Legendre continued fraction, Lentz's method (best for x >= a + 1).
fn igammac_fraction(a: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..IGAMMA_ITERS {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (h.ln() + a * x.ln() - x - lgamma(a)).exp()
}

/// The special values PyTorch gives P (`upper = false`) or Q (`upper = true`), if any.
fn igamma_edge(a: f64, x: f64, upper: bool) -> Option<f64> {
    let (one, zero) = if upper { (0.0, 1.0) } else { (1.0, 0.0) };
    if a.is_nan() || x.is_nan() || x < 0.0 || a < 0.0 {
        return Some(f64::NAN);
    }
    if a == 0.0 {
        return Some(if x > 0.0 { one } else { f64::NAN });
    }
    if x == 0.0 {
        return Some(zero);
    }
    if a.is_infinite() {
        return Some(if x.is_infinite() { f64::NAN } else { zero });
    }
    if x.is_infinite() {
        return Some(one);
    }
    None
}

/// The regularized lower incomplete gamma function P(a, x).
pub(crate) fn igamma(a: f64, x: f64) -> f64 {
    if let Some(v) = igamma_edge(a, x, false) {
        return v;
    }
    if x < a + 1.0 {
        igamma_series(a, x)
    } else {
        1.0 - igammac_fraction(a, x)
    }
}

/// The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x).
pub(crate) fn igammac(a: f64, x: f64) -> f64 {
    if let Some(v) = igamma_edge(a, x, true) {
        return v;
    }
    if x < a + 1.0 {
        1.0 - igamma_series(a, x)
    } else {
        igammac_fraction(a, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rtol: f64) -> bool {
        (a - b).abs() <= rtol * b.abs().max(1e-300)
    }

    #[test]
    fn gamma_values() {
        assert!(lgamma(1.0).abs() < 1e-14 && lgamma(2.0).abs() < 1e-14);
        assert!(close(lgamma(0.5), 0.572_364_942_924_700_1, 1e-14));
        assert!(close(lgamma(-2.5), -0.056_243_716_497_674_05, 1e-12));
        assert!(close(lgamma(100.0), 359.134_205_369_575_4, 1e-14));
        assert_eq!(lgamma(-3.0), f64::INFINITY);
        // psi(1) = -Euler's gamma, psi(1/2) = -gamma - 2 ln 2
        assert!(close(digamma(1.0), -0.577_215_664_901_532_9, 1e-14));
        assert!(close(digamma(0.5), -1.963_510_026_021_423_5, 1e-14));
        assert!(close(digamma(-0.5), 0.036_489_973_978_576_52, 1e-12));
        assert!(digamma(-2.0).is_nan());
        assert_eq!(digamma(0.0), f64::NEG_INFINITY);
        // trigamma(1) = pi^2/6, psi''(1) = -2 zeta(3)
        assert!(close(polygamma(1, 1.0), PI * PI / 6.0, 1e-14));
        assert!(close(
            polygamma(2, 1.0),
            -2.0 * 1.202_056_903_159_594_3,
            1e-14
        ));
        assert!(close(zeta(2.0, 1.0), PI * PI / 6.0, 1e-15));
        assert!(close(
            zeta(4.0, -2.5),
            zeta(4.0, 0.5) + 2.5f64.powi(-4) + 1.5f64.powi(-4) + 0.5f64.powi(-4),
            1e-14
        ));
        assert!(close(
            zeta(3.0, -100.3),
            (0..101).map(|k| (-100.3 + k as f64).powi(-3)).sum::<f64>() + zeta(3.0, 0.7),
            1e-10
        ));
        assert!(zeta(0.5, 1.0).is_nan() && zeta(1.0, 2.0).is_infinite());
    }

    #[test]
    fn incomplete_gamma() {
        // P(1, x) = 1 - e^-x; P(0.5, x) = erf(sqrt x)
        for x in [0.1f64, 1.0, 3.0, 20.0] {
            assert!(close(igamma(1.0, x), 1.0 - (-x).exp(), 1e-13), "{x}");
            assert!(close(igammac(1.0, x), (-x).exp(), 1e-13), "{x}");
            let e = crate::ops::special::erf::erf(f64::sqrt(x));
            assert!(close(igamma(0.5, x), e, 1e-13), "{x}");
        }
        assert_eq!(igamma(0.0, 1.0), 1.0);
        assert!(igamma(-1.0, 1.0).is_nan() && igammac(1.0, -1.0).is_nan());
        assert_eq!(igammac(2.0, f64::INFINITY), 0.0);
    }
}
