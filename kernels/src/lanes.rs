//! Reductions written with 16 independent accumulators so the compiler vectorises them
//! (float addition is not associative, so a plain fold stays scalar). Summation order
//! differs from a sequential sum, and is usually more accurate (pairwise-like).

const W: usize = 16;

/// Sum of `x`.
#[inline]
pub(crate) fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; W];
    let mut chunks = x.chunks_exact(W);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    fold(acc, |a, b| a + b) + tail
}

/// Dot product of `x` and `y` (equal lengths).
#[inline]
pub(crate) fn dot(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut acc = [0f32; W];
    let mut cx = x.chunks_exact(W);
    let mut cy = y.chunks_exact(W);
    for (a, b) in (&mut cx).zip(&mut cy) {
        for ((s, &u), &v) in acc.iter_mut().zip(a).zip(b) {
            *s += u * v;
        }
    }
    let tail: f32 = cx
        .remainder()
        .iter()
        .zip(cy.remainder())
        .map(|(u, v)| u * v)
        .sum();
    fold(acc, |a, b| a + b) + tail
}

/// Sum of `(x - mean)^2`.
#[inline]
pub(crate) fn sum_sq_dev(x: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; W];
    let mut chunks = x.chunks_exact(W);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            let d = v - mean;
            *a += d * d;
        }
    }
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|&v| (v - mean) * (v - mean))
        .sum();
    fold(acc, |a, b| a + b) + tail
}

/// Maximum of `x` ignoring NaN (`-inf` for an empty slice or all-NaN).
#[inline]
pub(crate) fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; W];
    let mut chunks = x.chunks_exact(W);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &v| if v > a { v } else { a });
    let m = fold(acc, |a, b| if b > a { b } else { a });
    if tail > m {
        tail
    } else {
        m
    }
}

#[inline(always)]
fn fold(acc: [f32; W], f: impl Fn(f32, f32) -> f32) -> f32 {
    // Pairwise combine: 16 → 8 → 4 → 2 → 1.
    let mut v = acc;
    let mut n = W;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            v[i] = f(v[i], v[i + n]);
        }
    }
    v[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn match_sequential(x in prop::collection::vec(-100f32..100.0, 0..100)) {
            let s: f64 = x.iter().map(|&v| v as f64).sum();
            prop_assert!((sum(&x) as f64 - s).abs() <= 1e-3);
            let mean = if x.is_empty() { 0.0 } else { (s / x.len() as f64) as f32 };
            let q: f64 = x.iter().map(|&v| (v as f64 - mean as f64).powi(2)).sum();
            prop_assert!((sum_sq_dev(&x, mean) as f64 - q).abs() <= 1e-5 * (1.0 + q));
            let m = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            prop_assert_eq!(max(&x), m);
        }
    }
}
