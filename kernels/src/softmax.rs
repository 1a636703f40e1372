//! Softmax and log-softmax over contiguous rows (the last axis). Callers with another axis
//! transpose first or use rows of a permuted view.

use crate::arch::{self, Kernels};
use crate::lanes;

/// `x[r] = exp(x[r] - max) / sum(exp(x[r] - max))` for every row of `row_len` values.
/// A row containing NaN becomes NaN; a row of all `-inf` becomes NaN (as in PyTorch).
/// Preconditions (asserted): `row_len > 0` and `x.len()` is a multiple of it.
pub fn softmax_rows(x: &mut [f32], row_len: usize) {
    softmax_rows_with(arch::active(), x, row_len)
}

/// [`softmax_rows`] with an explicit kernel table.
pub fn softmax_rows_with(k: &Kernels, x: &mut [f32], row_len: usize) {
    check(x, row_len);
    for row in x.chunks_exact_mut(row_len) {
        // The max ignores NaN; a NaN element still makes its row NaN through the sum.
        let m = lanes::max(row);
        row.iter_mut().for_each(|v| *v -= m);
        (k.exp)(row);
        let s = lanes::sum(row);
        let inv = 1.0 / s;
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

/// `x[r] = x[r] - max - log(sum(exp(x[r] - max)))` for every row of `row_len` values.
/// Preconditions (asserted): `row_len > 0` and `x.len()` is a multiple of it.
pub fn log_softmax_rows(x: &mut [f32], row_len: usize) {
    log_softmax_rows_with(arch::active(), x, row_len)
}

/// [`log_softmax_rows`] with an explicit kernel table.
pub fn log_softmax_rows_with(k: &Kernels, x: &mut [f32], row_len: usize) {
    check(x, row_len);
    let mut tmp = vec![0f32; row_len];
    for row in x.chunks_exact_mut(row_len) {
        let m = lanes::max(row);
        for (t, v) in tmp.iter_mut().zip(row.iter_mut()) {
            *v -= m;
            *t = *v;
        }
        (k.exp)(&mut tmp);
        let mut s = [lanes::sum(&tmp)];
        (k.log)(&mut s);
        row.iter_mut().for_each(|v| *v -= s[0]);
    }
}

fn check(x: &[f32], row_len: usize) {
    assert!(row_len > 0, "softmax: row_len must be positive");
    assert_eq!(
        x.len() % row_len,
        0,
        "softmax: length not a multiple of row_len"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(row: &[f32], log: bool) -> Vec<f64> {
        let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
        let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        row.iter()
            .map(|&v| {
                if log {
                    v as f64 - m - s.ln()
                } else {
                    (v as f64 - m).exp() / s
                }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn matches_f64(rows in 1usize..4, len in 1usize..70, seed in prop::collection::vec(-30f32..30.0, 280)) {
            let x: Vec<f32> = seed.iter().cycle().take(rows * len).copied().collect();
            for k in arch::available() {
                let mut s = x.clone();
                softmax_rows_with(k, &mut s, len);
                let mut l = x.clone();
                log_softmax_rows_with(k, &mut l, len);
                for r in 0..rows {
                    let row = &x[r * len..(r + 1) * len];
                    let rs = reference(row, false);
                    let rl = reference(row, true);
                    for i in 0..len {
                        // softmax: 1e-6 absolute + 1e-5 relative; log_softmax: 1e-5 abs + 1e-6 rel.
                        let (a, b) = (s[r * len + i] as f64, rs[i]);
                        prop_assert!((a - b).abs() <= 1e-6 + 1e-5 * b.abs(), "{} softmax {} vs {}", k.name, a, b);
                        let (a, b) = (l[r * len + i] as f64, rl[i]);
                        prop_assert!((a - b).abs() <= 1e-5 + 1e-6 * b.abs(), "{} log_softmax {} vs {}", k.name, a, b);
                    }
                }
            }
        }
    }

    #[test]
    fn special_rows() {
        let mut x = vec![f32::NEG_INFINITY, 0.0, 1000.0, 1000.0];
        softmax_rows(&mut x, 4);
        assert_eq!(x, vec![0.0, 0.0, 0.5, 0.5]);
        let mut x = vec![1.0, f32::NAN];
        softmax_rows(&mut x, 2);
        assert!(x.iter().all(|v| v.is_nan()));
    }
}
