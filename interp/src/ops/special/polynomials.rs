//! The classical orthogonal polynomials of `torch.special`, evaluated at x for degree n:
//! Chebyshev T, U, V, W (and their shifted forms, the same at 2x - 1), Hermite H
//! (physicists') and He (probabilists'), Laguerre L and Legendre P.
//!
//! Like PyTorch, the degree arrives as a float and is truncated to an integer; negative
//! degrees give 0; low degrees use the three-term recurrence. Chebyshev polynomials of high
//! degree use their closed trigonometric (|x| < 1) or hyperbolic (|x| > 1) forms, so the
//! cost never depends on n. Hermite recurrences overflow to NaN within a few hundred steps,
//! which ends them; Laguerre and Legendre stay bounded, so their degree is limited
//! (`MAX_BOUNDED_DEGREE`, checked by the op before evaluating).

/// The largest Laguerre/Legendre degree evaluated (the recurrence costs n steps).
pub(crate) const MAX_BOUNDED_DEGREE: i64 = 1 << 20;

/// Which polynomial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Poly {
    ChebyshevT,
    ChebyshevU,
    ChebyshevV,
    ChebyshevW,
    HermiteH,
    HermiteHe,
    LaguerreL,
    LegendreP,
}

/// PyTorch's float-to-int64 conversion of the degree (x86 semantics: NaN and values out of
/// range become i64::MIN, which counts as negative).
pub(crate) fn degree(n: f64) -> i64 {
    if n.is_nan() || n.abs() >= 9.223_372_036_854_776e18 {
        i64::MIN
    } else {
        n as i64
    }
}

/// Chebyshev polynomials: the special values at +-1, the closed forms for high degree,
/// the recurrence `r = 2x q - p` otherwise.
fn chebyshev(kind: Poly, x: f64, n: i64) -> f64 {
    let nf = n as f64;
    let odd = n % 2 == 1;
    let sign_n = if odd { -1.0 } else { 1.0 };
    if x.abs() == 1.0 {
        return match kind {
            Poly::ChebyshevT => {
                if x > 0.0 || !odd {
                    1.0
                } else {
                    -1.0
                }
            }
            Poly::ChebyshevU => {
                if x > 0.0 || !odd {
                    nf + 1.0
                } else {
                    -(nf + 1.0)
                }
            }
            Poly::ChebyshevV => {
                if x > 0.0 {
                    1.0
                } else {
                    sign_n * (2.0 * nf + 1.0)
                }
            }
            _ => {
                if x > 0.0 {
                    2.0 * nf + 1.0
                } else {
                    sign_n
                }
            }
        };
    }
    let threshold = if kind == Poly::ChebyshevT { 6 } else { 8 };
    if n > threshold && x.abs() < 1.0 {
        let t = x.acos();
        return match kind {
            Poly::ChebyshevT => (nf * t).cos(),
            Poly::ChebyshevU => ((nf + 1.0) * t).sin() / t.sin(),
            Poly::ChebyshevV => ((nf + 0.5) * t).cos() / (t / 2.0).cos(),
            _ => ((nf + 0.5) * t).sin() / (t / 2.0).sin(),
        };
    }
    if n > 64 && x.abs() > 1.0 {
        // x = +-cosh(t): the hyperbolic closed forms, with V and W trading places for x < 0.
        let t = x.abs().acosh();
        let pos_kind = match (kind, x < 0.0) {
            (Poly::ChebyshevV, true) => Poly::ChebyshevW,
            (Poly::ChebyshevW, true) => Poly::ChebyshevV,
            (k, _) => k,
        };
        let v = match pos_kind {
            Poly::ChebyshevT => (nf * t).cosh(),
            Poly::ChebyshevU => ((nf + 1.0) * t).sinh() / t.sinh(),
            Poly::ChebyshevV => ((nf + 0.5) * t).cosh() / (t / 2.0).cosh(),
            _ => ((nf + 0.5) * t).sinh() / (t / 2.0).sinh(),
        };
        return if x < 0.0 { sign_n * v } else { v };
    }
    if x.is_nan() {
        return if n == 0 { 1.0 } else { f64::NAN };
    }
    let first = match kind {
        Poly::ChebyshevT => x,
        Poly::ChebyshevU => x + x,
        Poly::ChebyshevV => x + x - 1.0,
        _ => x + x + 1.0,
    };
    if n == 0 {
        return 1.0;
    }
    let (mut p, mut q) = (1.0, first);
    for _ in 2..=n {
        let r = (x + x) * q - p;
        p = q;
        q = r;
    }
    q
}

/// Hermite H (physicists': H_{k+1} = 2x H_k - 2k H_{k-1}) or He (He_{k+1} = x He_k - k
/// He_{k-1}). The values grow factorially, so the loop meets NaN (absorbing) within a few
/// hundred steps for any x once they overflow; the step cap is a second guard.
fn hermite(phys: bool, x: f64, n: i64) -> f64 {
    let s = if phys { 2.0 } else { 1.0 };
    if n == 0 {
        return 1.0;
    }
    let (mut p, mut q) = (1.0, s * x);
    let mut k = 1i64;
    while k < n {
        let r = s * x * q - s * k as f64 * p;
        p = q;
        q = r;
        k += 1;
        if q.is_nan() || k > 1 << 24 {
            return f64::NAN;
        }
    }
    q
}

/// Polynomial `kind` of degree n (already truncated) at x, as PyTorch computes it.
pub(crate) fn eval(kind: Poly, x: f64, n: i64) -> f64 {
    if n < 0 {
        return 0.0;
    }
    match kind {
        Poly::ChebyshevT | Poly::ChebyshevU | Poly::ChebyshevV | Poly::ChebyshevW => {
            chebyshev(kind, x, n)
        }
        Poly::HermiteH => hermite(true, x, n),
        Poly::HermiteHe => hermite(false, x, n),
        Poly::LaguerreL => {
            if x == 0.0 || n == 0 {
                return 1.0;
            }
            let (mut p, mut q) = (1.0, 1.0 - x);
            for k in 1..n.min(MAX_BOUNDED_DEGREE) {
                let k = k as f64;
                let r = ((2.0 * k + 1.0 - x) * q - k * p) / (k + 1.0);
                p = q;
                q = r;
            }
            q
        }
        Poly::LegendreP => {
            if x.abs() == 1.0 {
                return if x > 0.0 || n % 2 == 0 { 1.0 } else { -1.0 };
            }
            if n == 0 {
                return 1.0;
            }
            let (mut p, mut q) = (1.0, x);
            for k in 1..n.min(MAX_BOUNDED_DEGREE) {
                let k = k as f64;
                let r = ((2.0 * k + 1.0) * x * q - k * p) / (k + 1.0);
                p = q;
                q = r;
            }
            q
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_degrees_match_the_closed_polynomials() {
        for &x in &[-1.5, -1.0, -0.3, 0.0, 0.7, 1.0, 2.0] {
            let x: f64 = x;
            let want = [
                (Poly::ChebyshevT, 3, 4.0 * x * x * x - 3.0 * x),
                (Poly::ChebyshevU, 2, 4.0 * x * x - 1.0),
                (Poly::ChebyshevV, 2, 4.0 * x * x - 2.0 * x - 1.0),
                (Poly::ChebyshevW, 2, 4.0 * x * x + 2.0 * x - 1.0),
                (Poly::HermiteH, 3, 8.0 * x * x * x - 12.0 * x),
                (Poly::HermiteHe, 3, x * x * x - 3.0 * x),
                (Poly::LaguerreL, 2, (x * x - 4.0 * x + 2.0) / 2.0),
                (Poly::LegendreP, 2, (3.0 * x * x - 1.0) / 2.0),
            ];
            for (kind, n, v) in want {
                let got = eval(kind, x, n);
                assert!(
                    (got - v).abs() < 1e-12,
                    "{kind:?} n={n} x={x}: {got} vs {v}"
                );
            }
        }
        assert_eq!(eval(Poly::ChebyshevT, 0.5, -1), 0.0);
        assert_eq!(degree(f64::NAN), i64::MIN);
    }

    #[test]
    fn high_degrees_use_closed_forms_consistently() {
        // The recurrence (n = 64) and the closed forms agree where both apply.
        for kind in [
            Poly::ChebyshevT,
            Poly::ChebyshevU,
            Poly::ChebyshevV,
            Poly::ChebyshevW,
        ] {
            for &x in &[-1.01, 1.003, 0.4, -0.9] {
                let rec = chebyshev(kind, x, 64);
                let closed = {
                    // Evaluate n = 65 two ways: recurrence from 63/64 and the closed form.
                    let p = chebyshev(kind, x, 63);
                    2.0 * x * rec - p
                };
                let direct = chebyshev(kind, x, 65);
                assert!(
                    (closed - direct).abs() <= 1e-9 * direct.abs().max(1.0),
                    "{kind:?} {x}: {closed} vs {direct}"
                );
            }
        }
        // Huge degrees finish at once.
        assert_eq!(eval(Poly::ChebyshevT, 1.0 + 1e-15, i64::MAX), f64::INFINITY);
        assert!(eval(Poly::HermiteH, 0.3, i64::MAX).is_nan());
    }
}
