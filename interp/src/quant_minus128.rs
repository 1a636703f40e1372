//! int8 weight codes of -128 on the resident int8 path.
//!
//! The int8 kernels take codes in [-127, 127] (that keeps their SIMD versions exact, see
//! `wasm_torch_kernels::quant`), but symmetric int8 quantizers outside this project use the
//! full range: PyTorch's observers and torchao map a channel's most negative weight to -128
//! whenever it is the largest in magnitude. Rather than giving up residency for such a
//! weight, its -128 codes are packed as -127 and each one is remembered here; the product
//! then adds the missing `-1 · scale · x` term exactly in f32, and every dequantised read
//! (embedding rows, the f32 copy) gets the true `-128 · scale` value back. There are few
//! such codes (at most about one per channel), so the correction costs `m` multiply-adds
//! per code.

use std::borrow::Cow;

/// The positions of the -128 codes of an `n × k` int8 weight, with their channel's scale.
pub(crate) struct Minus128 {
    /// `(channel j, input index, scale of channel j)`, sorted by channel.
    at: Vec<(u32, u32, f32)>,
}

impl Minus128 {
    /// Codes the kernels accept (`-128` replaced by `-127`) and the positions replaced;
    /// `None` (and the codes as they are) when there is no -128, or when `n`, `k` or the
    /// scale count do not fit the indexing (the kernels then refuse the weight as before).
    pub(crate) fn split<'a>(
        codes: &'a [i8],
        n: usize,
        k: usize,
        scales: &[f32],
    ) -> (Cow<'a, [i8]>, Option<Minus128>) {
        let fits = u32::try_from(n).is_ok()
            && u32::try_from(k).is_ok()
            && n.checked_mul(k) == Some(codes.len())
            && scales.len() == n
            && k > 0;
        if !fits || !codes.contains(&i8::MIN) {
            return (Cow::Borrowed(codes), None);
        }
        let mut fixed = codes.to_vec();
        let mut at = Vec::new();
        for (i, c) in fixed.iter_mut().enumerate() {
            if *c == i8::MIN {
                *c = -127;
                let j = i / k;
                at.push((j as u32, (i % k) as u32, scales[j]));
            }
        }
        (Cow::Owned(fixed), Some(Minus128 { at }))
    }

    /// Bytes held (counted as resident weight memory).
    pub(crate) fn bytes(&self) -> usize {
        self.at.len() * std::mem::size_of::<(u32, u32, f32)>()
    }

    /// Restores the true values of channel `j` in `row` (its dequantised `k` values, where
    /// each replaced code reads `-127 · scale`).
    pub(crate) fn fix_row(&self, j: usize, row: &mut [f32]) {
        let start = self.at.partition_point(|&(c, _, _)| (c as usize) < j);
        for &(c, i, s) in &self.at[start..] {
            if c as usize != j {
                break;
            }
            row[i as usize] = -128.0 * s;
        }
    }

    /// Adds the replaced codes' missing share to a product `out = x · Wᵀ` computed with
    /// them as -127: `out[r][j] -= scale_j · x[r][i]` for each replaced `(j, i)`. `x` is
    /// `m × k` and `out` is `m × n`, both row-major.
    pub(crate) fn add_to_product(&self, x: &[f32], k: usize, out: &mut [f32], n: usize) {
        for (xr, or) in x.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
            for &(j, i, s) in &self.at {
                or[j as usize] -= s * xr[i as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_fix_and_product_restore_the_true_codes() {
        let (n, k) = (3, 4);
        let codes: Vec<i8> = vec![1, -128, 3, 127, -128, -128, 0, 5, 9, -7, 2, 1];
        let scales = [0.5f32, 0.25, 2.0];
        let (packed, fix) = Minus128::split(&codes, n, k, &scales);
        let fix = fix.expect("three -128 codes");
        assert!(!packed.contains(&i8::MIN));
        assert_eq!(fix.bytes(), 3 * 12);
        // Dequantised rows read the stored codes exactly.
        for j in 0..n {
            let mut row: Vec<f32> = packed[j * k..(j + 1) * k]
                .iter()
                .map(|&c| c as f32 * scales[j])
                .collect();
            fix.fix_row(j, &mut row);
            let want: Vec<f32> = codes[j * k..(j + 1) * k]
                .iter()
                .map(|&c| c as f32 * scales[j])
                .collect();
            assert_eq!(row, want, "channel {j}");
        }
        // A product with the -127 codes plus the correction equals the true product.
        let m = 2;
        let x: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 1.0).collect();
        let prod = |c: &[i8]| -> Vec<f32> {
            let mut o = vec![0f32; m * n];
            for r in 0..m {
                for j in 0..n {
                    o[r * n + j] = (0..k)
                        .map(|i| x[r * k + i] * c[j * k + i] as f32 * scales[j])
                        .sum();
                }
            }
            o
        };
        let mut got = prod(&packed);
        fix.add_to_product(&x, k, &mut got, n);
        for (g, w) in got.iter().zip(prod(&codes)) {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{g} vs {w}");
        }
    }

    #[test]
    fn no_minus_128_or_a_mismatched_shape_changes_nothing() {
        let codes = [1i8, -127, 3, 4];
        let (c, f) = Minus128::split(&codes, 2, 2, &[1.0, 1.0]);
        assert!(f.is_none() && matches!(c, Cow::Borrowed(_)));
        let codes = [i8::MIN, 0, 0, 0];
        // Wrong scale count: left to the kernels, which refuse it.
        let (c, f) = Minus128::split(&codes, 2, 2, &[1.0]);
        assert!(f.is_none() && c[0] == i8::MIN);
    }
}
