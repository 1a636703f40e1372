//! Reductions over one axis of a tensor seen as (outer, axis, inner).

/// A reduction operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// Sum (0 over an empty axis).
    Sum,
    /// Arithmetic mean (NaN over an empty axis).
    Mean,
    /// Maximum, NaN-propagating (-inf over an empty axis; callers reject that case).
    Max,
    /// Minimum, NaN-propagating (+inf over an empty axis; callers reject that case).
    Min,
    /// Product (1 over an empty axis).
    Prod,
}

/// Reduces the middle axis of `x` viewed as `outer × axis × inner` (row-major) into `out`
/// (`outer × inner`). Preconditions (asserted): `x.len() == outer*axis*inner`,
/// `out.len() == outer*inner`.
pub fn reduce_axis(
    op: ReduceOp,
    x: &[f32],
    outer: usize,
    axis: usize,
    inner: usize,
    out: &mut [f32],
) {
    assert_eq!(x.len(), outer * axis * inner, "reduce_axis: input length");
    assert_eq!(out.len(), outer * inner, "reduce_axis: output length");
    let init = match op {
        ReduceOp::Sum | ReduceOp::Mean => 0.0,
        ReduceOp::Prod => 1.0,
        ReduceOp::Max => f32::NEG_INFINITY,
        ReduceOp::Min => f32::INFINITY,
    };
    if inner == 0 {
        return;
    }
    if inner == 1 && matches!(op, ReduceOp::Sum | ReduceOp::Mean) && axis > 0 {
        // Reducing contiguous rows (the last axis): vectorised multi-accumulator sums.
        for (d, row) in out.iter_mut().zip(x.chunks_exact(axis)) {
            let s = crate::lanes::sum(row);
            *d = if op == ReduceOp::Mean {
                s / axis as f32
            } else {
                s
            };
        }
        return;
    }
    for (o, dst) in out.chunks_exact_mut(inner).enumerate() {
        dst.fill(init);
        let block = &x[o * axis * inner..(o + 1) * axis * inner];
        // Walk the axis row by row so the inner loop is contiguous (vectorisable).
        for row in block.chunks_exact(inner) {
            match op {
                ReduceOp::Sum | ReduceOp::Mean => {
                    dst.iter_mut().zip(row).for_each(|(d, &v)| *d += v)
                }
                ReduceOp::Prod => dst.iter_mut().zip(row).for_each(|(d, &v)| *d *= v),
                ReduceOp::Max => dst.iter_mut().zip(row).for_each(|(d, &v)| {
                    if v > *d || v.is_nan() {
                        *d = v
                    }
                }),
                ReduceOp::Min => dst.iter_mut().zip(row).for_each(|(d, &v)| {
                    if v < *d || v.is_nan() {
                        *d = v
                    }
                }),
            }
        }
        if op == ReduceOp::Mean {
            let inv = 1.0 / axis as f32;
            dst.iter_mut().for_each(|d| *d *= inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_naive(outer in 1usize..4, axis in 1usize..9, inner in 1usize..6, data in prop::collection::vec(-2f32..2.0, 216)) {
            let x = &data[..outer * axis * inner];
            for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min, ReduceOp::Prod] {
                let mut out = vec![0f32; outer * inner];
                reduce_axis(op, x, outer, axis, inner, &mut out);
                for o in 0..outer {
                    for i in 0..inner {
                        let vals: Vec<f64> = (0..axis).map(|a| x[(o * axis + a) * inner + i] as f64).collect();
                        let want = match op {
                            ReduceOp::Sum => vals.iter().sum(),
                            ReduceOp::Mean => vals.iter().sum::<f64>() / axis as f64,
                            ReduceOp::Max => vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                            ReduceOp::Min => vals.iter().cloned().fold(f64::INFINITY, f64::min),
                            ReduceOp::Prod => vals.iter().product(),
                        };
                        let got = out[o * inner + i] as f64;
                        prop_assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "{:?}: {} vs {}", op, got, want);
                    }
                }
            }
        }
    }

    #[test]
    fn long_last_axis_sum_and_mean() {
        let x: Vec<f32> = (0..3 * 100).map(|i| (i as f32 * 0.37).sin()).collect();
        for op in [ReduceOp::Sum, ReduceOp::Mean] {
            let mut out = [0f32; 3];
            reduce_axis(op, &x, 3, 100, 1, &mut out);
            for (r, &got) in out.iter().enumerate() {
                let s: f64 = x[r * 100..(r + 1) * 100].iter().map(|&v| v as f64).sum();
                let want = if op == ReduceOp::Mean { s / 100.0 } else { s };
                assert!((got as f64 - want).abs() < 1e-5, "{op:?}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn max_propagates_nan() {
        let mut out = [0f32; 1];
        reduce_axis(ReduceOp::Max, &[1.0, f32::NAN, 3.0], 1, 3, 1, &mut out);
        assert!(out[0].is_nan());
    }
}
