//! Dynamic per-row (per-token) quantization of f32 activations to int8, computed at run
//! time before every int8 product. One scheme for every kernel table, so all tables see
//! the same integers (see the module docs of [`crate::quant`] for why it is symmetric and
//! stops at ±127).

/// `m` rows quantized to int8: row `i` is `data[i·stride .. i·stride + k]` (then zero
/// padding up to `stride`, a multiple of 4), and `x ≈ q · scales[i]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuantRows {
    /// Rows.
    pub m: usize,
    /// Values per row (before padding).
    pub k: usize,
    /// Bytes per stored row: `k` rounded up to a multiple of 4.
    pub stride: usize,
    /// The codes, `m × stride`.
    pub data: Vec<i8>,
    /// One scale per row: `max|x| / 127`; 0 for a row of zeros, NaN if the row holds a
    /// NaN or an infinity.
    pub scales: Vec<f32>,
}

/// Quantizes the `m × k` row-major matrix `a` (leading dimension `lda`) row by row into
/// `out` (reusing its buffers). Preconditions (asserted): `a` holds the matrix.
pub fn quantize_rows(m: usize, k: usize, a: &[f32], lda: usize, out: &mut QuantRows) {
    crate::gemm::check_matrix("quantize_rows a", m, k, lda, a.len());
    let stride = k.div_ceil(4) * 4;
    out.m = m;
    out.k = k;
    out.stride = stride;
    out.data.clear();
    out.data.resize(m * stride, 0);
    out.scales.clear();
    for i in 0..m {
        let row = &a[i * lda..i * lda + k];
        let dst = &mut out.data[i * stride..i * stride + k];
        out.scales.push(quantize_row(row, dst));
    }
}

/// Quantizes one row into `dst` and returns its scale.
fn quantize_row(row: &[f32], dst: &mut [i8]) -> f32 {
    let mut amax = 0f32;
    let mut finite = true;
    for &x in row {
        finite &= x.is_finite();
        amax = amax.max(x.abs());
    }
    if !finite {
        dst.fill(0);
        return f32::NAN;
    }
    if amax == 0.0 {
        dst.fill(0);
        return 0.0;
    }
    let scale = amax / 127.0;
    let inv = 127.0 / amax;
    for (d, &x) in dst.iter_mut().zip(row) {
        // |x · inv| ≤ 127 up to rounding of `inv`; the clamp keeps -128 out regardless.
        *d = round_small(x * inv).clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// `v` rounded to the nearest integer, ties to even, for `|v| < 2^22` (here `|v| ≤ ~127`).
/// Why not `f32::round`: neither baseline x86_64 nor wasm has an instruction for it (ties
/// away from zero), so it compiled to a libm call per value, a visible share of an int8
/// convolution (one call per gathered input). Adding and subtracting 1.5·2^23 leaves the
/// sum in the binade where the f32 spacing is 1, so the addition itself rounds (ties to
/// even, IEEE's default) and the subtraction is exact; the loop stays vectorizable.
#[inline]
fn round_small(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    (v + MAGIC) - MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_scales_zero_and_nonfinite() {
        let a = [
            1.0,
            -2.0,
            0.5,
            0.0,
            0.0, //
            0.0,
            0.0,
            0.0,
            0.0,
            0.0, //
            1.0,
            f32::NAN,
            0.0,
            0.0,
            0.0, //
            -3e38,
            3e38,
            1e-38,
            0.0,
            0.0,
        ];
        let mut q = QuantRows::default();
        quantize_rows(4, 3, &a, 5, &mut q);
        assert_eq!(q.stride, 4);
        assert_eq!(&q.data[0..4], &[64, -127, 32, 0]);
        assert_eq!(q.scales[0], 2.0 / 127.0);
        assert_eq!(&q.data[4..8], &[0; 4]);
        assert_eq!(q.scales[1], 0.0);
        assert!(q.scales[2].is_nan());
        assert_eq!(&q.data[12..16], &[-127, 127, 0, 0]);
        assert!(q.scales[3].is_finite());
    }

    #[test]
    fn codes_stay_within_127_and_error_is_half_a_step() {
        let a: Vec<f32> = (0..1000)
            .map(|i| ((i * 37 % 1001) as f32 - 500.0) * 0.013)
            .collect();
        let mut q = QuantRows::default();
        quantize_rows(1, a.len(), &a, a.len(), &mut q);
        let s = q.scales[0];
        for (&x, &c) in a.iter().zip(&q.data) {
            assert!(c != -128);
            assert!((x - c as f32 * s).abs() <= 0.5 * s * 1.0001, "{x} vs {c}");
        }
    }

    #[test]
    fn round_small_is_ties_to_even() {
        for (v, want) in [
            (0.5f32, 0.0f32),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, -0.0),
            (-1.5, -2.0),
            (126.5, 126.0),
            (127.49, 127.0),
            (-63.7, -64.0),
            (0.49999997, 0.0),
        ] {
            assert_eq!(round_small(v), want, "{v}");
        }
        for i in -130_000..130_000 {
            let v = i as f32 / 1000.0;
            assert_eq!(round_small(v), v.round_ties_even(), "{v}");
        }
    }
}
