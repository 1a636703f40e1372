//! int4 group-wise weight-only kernels: the weights stay 4-bit (plus an f16 scale and
//! optional f16 offset per group), the activations stay f32, and the codes are expanded
//! to f32 in registers inside the dot product.

use super::f16::{f16_bits_to_f32, f32_to_f16_bits};
use super::{QKernels, QuantError};
use crate::activation::Activation;
use crate::gemm::{sgemm_packed, PackedB};
use crate::parallel;

/// int4 weights of a Linear layer: `n` output channels × `k` inputs in groups of `group`
/// consecutive inputs.
///
/// Layout (row-major over channels, then groups; the order of GGUF's Q4_0/Q4_1 blocks):
/// a group is `group / 2` bytes, byte `b` holding input `b` in its low nibble and input
/// `b + group/2` in its high nibble. Value = `code · d + m`, `d` = `scales[j·G + g]`, `m` =
/// `mins[j·G + g]` when offsets are present (Q4_1), else `-8 · d` (Q4_0); `G = k / group`.
/// Bytes: `n·k/2 + 2·n·G` (+ `2·n·G` with offsets): 4.5 bits per weight at group 32
/// without offsets, 4.25 at group 64.
#[derive(Clone, Debug, PartialEq)]
pub struct Q4Weights {
    n: usize,
    k: usize,
    group: usize,
    codes: Vec<u8>,
    scales: Vec<u16>,
    mins: Option<Vec<u16>>,
}

/// Checks a group size against the input dimension (group-wise int4 and int8 follow the
/// same rule: a multiple of 32 in 32..=256 that divides `k`).
pub(crate) fn check_group(group: usize, k: usize) -> Result<(), QuantError> {
    if group % 32 != 0 || !(32..=256).contains(&group) || k % group != 0 {
        return Err(QuantError::BadGroup { group, k });
    }
    Ok(())
}

impl Q4Weights {
    /// Wraps stored int4 data (see the type's layout). Errors: a bad group size, wrong
    /// lengths, non-finite scales or offsets.
    pub fn new(
        n: usize,
        k: usize,
        group: usize,
        codes: Vec<u8>,
        scales: Vec<u16>,
        mins: Option<Vec<u16>>,
    ) -> Result<Q4Weights, QuantError> {
        check_group(group, k)?;
        let groups = n.saturating_mul(k / group);
        let expected = n.saturating_mul(k) / 2;
        if codes.len() != expected {
            return Err(QuantError::Length {
                what: "int4 codes (bytes)",
                expected,
                got: codes.len(),
            });
        }
        for (what, v) in [
            ("int4 scales", Some(&scales)),
            ("int4 offsets", mins.as_ref()),
        ] {
            let Some(v) = v else { continue };
            if v.len() != groups {
                return Err(QuantError::Length {
                    what,
                    expected: groups,
                    got: v.len(),
                });
            }
            if let Some(index) = v.iter().position(|&h| !f16_bits_to_f32(h).is_finite()) {
                return Err(QuantError::BadScale { index });
            }
        }
        Ok(Q4Weights {
            n,
            k,
            group,
            codes,
            scales,
            mins,
        })
    }

    /// Quantizes f32 weights (`n × k`): with `offsets`, `d = (max - min) / 15`, `m = min`
    /// (Q4_1); else `d = max|w| / 7`, codes `round(w / d) + 8` clamped to 0..=15 (Q4_0).
    /// Scales are rounded to f16 first, so the codes fit the stored scale.
    pub fn from_f32(
        n: usize,
        k: usize,
        group: usize,
        w: &[f32],
        offsets: bool,
    ) -> Result<Q4Weights, QuantError> {
        check_group(group, k)?;
        if w.len() != n.saturating_mul(k) {
            return Err(QuantError::Length {
                what: "f32 weights",
                expected: n.saturating_mul(k),
                got: w.len(),
            });
        }
        let half = group / 2;
        let mut codes = vec![0u8; w.len() / 2];
        let mut scales = Vec::with_capacity(w.len() / group);
        let mut mins = Vec::with_capacity(if offsets { w.len() / group } else { 0 });
        for (gi, (g, out)) in w
            .chunks_exact(group)
            .zip(codes.chunks_exact_mut(half))
            .enumerate()
        {
            let (lo, hi) = g
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(QuantError::BadScale { index: gi });
            }
            let (d, m) = if offsets {
                let m = f16_bits_to_f32(f32_to_f16_bits(lo));
                (f16_bits_to_f32(f32_to_f16_bits((hi - m) / 15.0)), m)
            } else {
                let d = f16_bits_to_f32(f32_to_f16_bits(lo.abs().max(hi.abs()) / 7.0));
                (d, -8.0 * d)
            };
            scales.push(f32_to_f16_bits(d));
            if offsets {
                mins.push(f32_to_f16_bits(m));
            }
            let code = |x: f32| -> u8 {
                if d > 0.0 {
                    ((x - m) / d).round().clamp(0.0, 15.0) as u8
                } else if offsets {
                    0 // a constant group: every value is the offset
                } else {
                    8 // an all-zero group
                }
            };
            for (b, o) in out.iter_mut().enumerate() {
                *o = code(g[b]) | (code(g[b + half]) << 4);
            }
        }
        Q4Weights::new(n, k, group, codes, scales, offsets.then_some(mins))
    }

    /// Output channels.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Inputs per channel.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Inputs per group.
    pub fn group(&self) -> usize {
        self.group
    }
    /// Bytes held (codes, scales, offsets).
    pub fn bytes(&self) -> usize {
        self.codes.len() + 2 * self.scales.len() + self.mins.as_ref().map_or(0, |m| 2 * m.len())
    }
    /// Dequantizes output channel `j` into `out` (length `k`).
    pub fn dequantize_row(&self, j: usize, out: &mut [f32]) {
        assert_eq!(out.len(), self.k);
        let (g, half, gs) = (self.group, self.group / 2, self.k / self.group);
        for (gi, o) in out.chunks_exact_mut(g).enumerate() {
            let idx = j * gs + gi;
            let d = f16_bits_to_f32(self.scales[idx]);
            let m = self
                .mins
                .as_ref()
                .map_or(-8.0 * d, |v| f16_bits_to_f32(v[idx]));
            let c = &self.codes[idx * half..(idx + 1) * half];
            for b in 0..half {
                o[b] = (c[b] & 15) as f32 * d + m;
                o[b + half] = (c[b] >> 4) as f32 * d + m;
            }
        }
    }
    /// The slices of output channel `j`: codes, scales, offsets.
    fn row(&self, j: usize) -> (&[u8], &[u16], Option<&[u16]>) {
        let gs = self.k / self.group;
        let rb = self.k / 2;
        (
            &self.codes[j * rb..(j + 1) * rb],
            &self.scales[j * gs..(j + 1) * gs],
            self.mins.as_ref().map(|m| &m[j * gs..(j + 1) * gs]),
        )
    }
}

/// The group scale and offset as f32.
#[inline(always)]
pub(crate) fn group_params(scales: &[u16], mins: Option<&[u16]>, g: usize) -> (f32, f32) {
    let d = f16_bits_to_f32(scales[g]);
    (d, mins.map_or(-8.0 * d, |m| f16_bits_to_f32(m[g])))
}

/// Checks the slices a [`super::Q4RowFn`] reads (asserted, so SIMD versions can use
/// unchecked loads).
pub(crate) fn check_row(group: usize, x: &[f32], xsum: &[f32], codes: &[u8], scales: &[u16]) {
    let groups = x.len() / group.max(1);
    assert!(group >= 32 && group % 32 == 0);
    assert!(x.len() == groups * group && codes.len() * 2 == x.len());
    assert!(xsum.len() == groups && scales.len() == groups);
}

/// Portable int4 row (see [`super::Q4RowFn`]).
pub(crate) fn portable_row(
    group: usize,
    x: &[f32],
    xsum: &[f32],
    codes: &[u8],
    scales: &[u16],
    mins: Option<&[u16]>,
) -> f32 {
    check_row(group, x, xsum, codes, scales);
    let half = group / 2;
    let mut total = 0f32;
    for (gi, (c, xg)) in codes
        .chunks_exact(half)
        .zip(x.chunks_exact(group))
        .enumerate()
    {
        let (d, m) = group_params(scales, mins, gi);
        let (lo, hi) = xg.split_at(half);
        let mut s = [0f32; 8];
        for ((cc, l), h) in c.chunks(8).zip(lo.chunks(8)).zip(hi.chunks(8)) {
            for (i, ((&cb, &xl), &xh)) in cc.iter().zip(l).zip(h).enumerate() {
                s[i] += xl * (cb & 15) as f32 + xh * (cb >> 4) as f32;
            }
        }
        total += d * s.iter().sum::<f32>() + m * xsum[gi];
    }
    total
}

/// `c[m×n] = act(a[m×k] · Wᵀ + bias)` with int4 weights, on the active table.
#[allow(clippy::too_many_arguments)]
pub fn q4_gemm(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &Q4Weights,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    q4_gemm_with(super::active(), m, a, lda, w, bias, act, c, ldc)
}

/// [`q4_gemm`] with an explicit table.
#[allow(clippy::too_many_arguments)]
pub fn q4_gemm_with(
    qk: &QKernels,
    m: usize,
    a: &[f32],
    lda: usize,
    w: &Q4Weights,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    let q4_row = qk.q4_row;
    let g = w.group;
    // Group sums of an activation row, computed once per row and shared by all outputs.
    let prep = |x: &[f32]| -> Vec<f32> { x.chunks_exact(g).map(|xg| xg.iter().sum()).collect() };
    let row_fn = |x: &[f32], xsum: &[f32], j: usize| {
        let (codes, scales, mins) = w.row(j);
        q4_row(g, x, xsum, codes, scales, mins)
    };
    weight_only_gemm(
        m,
        w.k,
        w.n,
        a,
        lda,
        &prep,
        &row_fn,
        &|j, out| w.dequantize_row(j, out),
        bias,
        act,
        c,
        ldc,
    )
}

/// Rows from which the weight-only product converts blocks of weights to f32 panels and
/// runs the f32 GEMM instead of one dot product per output.
const GEMM_ROWS: usize = 4;
/// Output channels converted per block on the GEMM path (64 × k f32 scratch).
const GEMM_BLOCK: usize = 64;
/// Least multiply-adds per thread on the GEMV path.
const MIN_PAR_MACS: usize = if cfg!(test) { 64 } else { 1 << 19 };

/// One output of the weight-only product: `(activation row, its prep, channel)`.
pub(crate) type RowFn<'a> = dyn Fn(&[f32], &[f32], usize) -> f32 + Sync + 'a;

/// The driver shared by the weight-only formats: `prep(x)` is computed once per activation
/// row `x` (int4: its group sums), `row(x, prep, j)` is output `j` of that row, and
/// `deq(j, out)` converts channel `j` to f32.
#[allow(clippy::too_many_arguments)]
pub(crate) fn weight_only_gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    prep: &dyn Fn(&[f32]) -> Vec<f32>,
    row: &RowFn<'_>,
    deq: &(dyn Fn(usize, &mut [f32]) + Sync),
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    crate::gemm::check_matrix("weight-only gemm a", m, k, lda, a.len());
    crate::gemm::check_matrix("weight-only gemm c", m, n, ldc, c.len());
    if let Some(b) = bias {
        assert_eq!(b.len(), n, "weight-only gemm: bias length");
    }
    if m == 0 || n == 0 {
        return;
    }
    if m < GEMM_ROWS || k == 0 {
        for i in 0..m {
            let x = &a[i * lda..i * lda + k];
            let out = &mut c[i * ldc..i * ldc + n];
            let pre = prep(x);
            let min_cols = parallel::split_threshold(MIN_PAR_MACS).div_ceil(k.max(1));
            parallel::for_each_rows(out, 1, min_cols, |j0, part| {
                for (jj, o) in part.iter_mut().enumerate() {
                    *o = row(x, &pre, j0 + jj);
                }
            });
            super::finish_row(out, bias, act);
        }
        return;
    }
    let mut buf = vec![0f32; GEMM_BLOCK * k];
    for j0 in (0..n).step_by(GEMM_BLOCK) {
        let nb = GEMM_BLOCK.min(n - j0);
        for (jj, dst) in buf.chunks_exact_mut(k).take(nb).enumerate() {
            deq(j0 + jj, dst);
        }
        let pb = PackedB::pack(k, nb, &buf[..nb * k], k, true);
        sgemm_packed(
            m,
            a,
            lda,
            &pb,
            bias.map(|b| &b[j0..j0 + nb]),
            act,
            &mut c[j0..],
            ldc,
        );
    }
}
