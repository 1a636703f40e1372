//! Group-wise int8 weight-only kernels (GGUF Q8_0 style): the weights stay 8-bit (plus an
//! f16 scale per group of consecutive inputs), the activations stay f32, and the codes are
//! widened to f32 in registers inside the dot product. Same driver as int4
//! ([`super::int4::weight_only_gemm`]): a GEMV per output for few rows, blocks dequantized
//! into the f32 GEMM otherwise.

use super::f16::{f16_bits_to_f32, f32_to_f16_bits};
use super::int4::{check_group, weight_only_gemm};
use super::{QKernels, QuantError};
use crate::activation::Activation;

/// Group-wise int8 weights of a Linear layer (or rows of an embedding table): `n` output
/// channels × `k` inputs in groups of `group` consecutive inputs.
///
/// Layout: `codes[j·k + p]` is input `p` of channel `j` (row-major, one signed byte per
/// weight); `scales[j·G + g]` is the f16 scale `d` of group `g` of channel `j`, `G = k /
/// group`. Value = `code · d` (symmetric, no offset). Bytes: `n·k + 2·n·G`: 8.5 bits per
/// weight at group 32 (GGUF Q8_0's block), 8.25 at 64.
#[derive(Clone, Debug, PartialEq)]
pub struct Q8GroupWeights {
    n: usize,
    k: usize,
    group: usize,
    codes: Vec<i8>,
    scales: Vec<u16>,
}

impl Q8GroupWeights {
    /// Wraps stored group-wise int8 data (see the type's layout). Errors: a bad group size,
    /// wrong lengths, a NaN or infinite scale. A zero scale (an all-zero group, which GGUF
    /// writes for zero blocks) and a negative one are valid values.
    pub fn new(
        n: usize,
        k: usize,
        group: usize,
        codes: Vec<i8>,
        scales: Vec<u16>,
    ) -> Result<Q8GroupWeights, QuantError> {
        check_group(group, k)?;
        let expected = n.saturating_mul(k);
        if codes.len() != expected {
            return Err(QuantError::Length {
                what: "int8 group codes",
                expected,
                got: codes.len(),
            });
        }
        let groups = expected / group;
        if scales.len() != groups {
            return Err(QuantError::Length {
                what: "int8 group scales",
                expected: groups,
                got: scales.len(),
            });
        }
        if let Some(index) = scales.iter().position(|&h| !f16_bits_to_f32(h).is_finite()) {
            return Err(QuantError::BadScale { index });
        }
        Ok(Q8GroupWeights {
            n,
            k,
            group,
            codes,
            scales,
        })
    }

    /// Quantizes f32 weights (`n × k`) as ggml's reference Q8_0 quantizer does: per group
    /// `d = max|w| / 127` in f32, codes `round(w · (1/d))` (half away from zero, all 0 when
    /// `d = 0`), `d` stored as f16. Errors: a bad group, a wrong length, a non-finite weight
    /// or a scale past f16's range.
    pub fn from_f32(
        n: usize,
        k: usize,
        group: usize,
        w: &[f32],
    ) -> Result<Q8GroupWeights, QuantError> {
        check_group(group, k)?;
        if w.len() != n.saturating_mul(k) {
            return Err(QuantError::Length {
                what: "f32 weights",
                expected: n.saturating_mul(k),
                got: w.len(),
            });
        }
        let mut codes = vec![0i8; w.len()];
        let mut scales = Vec::with_capacity(w.len() / group);
        for (gi, (g, out)) in w
            .chunks_exact(group)
            .zip(codes.chunks_exact_mut(group))
            .enumerate()
        {
            let amax = g.iter().fold(0f32, |a, &x| a.max(x.abs()));
            let d = amax / 127.0;
            let bits = f32_to_f16_bits(d);
            if !f16_bits_to_f32(bits).is_finite() || g.iter().any(|x| x.is_nan()) {
                return Err(QuantError::BadScale { index: gi });
            }
            scales.push(bits);
            let id = if d == 0.0 { 0.0 } else { 1.0 / d };
            for (o, &x) in out.iter_mut().zip(g) {
                *o = (x * id).round().clamp(-127.0, 127.0) as i8;
            }
        }
        Q8GroupWeights::new(n, k, group, codes, scales)
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
    /// Bytes held (codes and scales).
    pub fn bytes(&self) -> usize {
        self.codes.len() + 2 * self.scales.len()
    }
    /// Dequantizes output channel `j` into `out` (length `k`): `code · d` in f32.
    pub fn dequantize_row(&self, j: usize, out: &mut [f32]) {
        assert_eq!(out.len(), self.k);
        let (codes, scales) = self.row(j);
        for ((o, c), &s) in out
            .chunks_exact_mut(self.group)
            .zip(codes.chunks_exact(self.group))
            .zip(scales)
        {
            let d = f16_bits_to_f32(s);
            for (v, &q) in o.iter_mut().zip(c) {
                *v = q as f32 * d;
            }
        }
    }
    /// The slices of output channel `j`: codes and scales.
    fn row(&self, j: usize) -> (&[i8], &[u16]) {
        let gs = self.k / self.group;
        (
            &self.codes[j * self.k..(j + 1) * self.k],
            &self.scales[j * gs..(j + 1) * gs],
        )
    }
}

/// Checks the slices a [`super::Q8RowFn`] reads (asserted, so SIMD versions can use
/// unchecked loads).
pub(crate) fn check_row(group: usize, x: &[f32], codes: &[i8], scales: &[u16]) {
    assert!(group >= 32 && group % 32 == 0);
    let groups = x.len() / group;
    assert!(x.len() == groups * group && codes.len() == x.len());
    assert!(scales.len() == groups);
}

/// Portable group-wise int8 row (see [`super::Q8RowFn`]): per group an 8-lane f32 sum of
/// `x · code`, then times the group's scale.
pub(crate) fn portable_row(group: usize, x: &[f32], codes: &[i8], scales: &[u16]) -> f32 {
    check_row(group, x, codes, scales);
    let mut total = 0f32;
    for ((c, xg), &s) in codes
        .chunks_exact(group)
        .zip(x.chunks_exact(group))
        .zip(scales)
    {
        let mut acc = [0f32; 8];
        for (cc, xx) in c.chunks_exact(8).zip(xg.chunks_exact(8)) {
            for i in 0..8 {
                acc[i] += xx[i] * cc[i] as f32;
            }
        }
        total += f16_bits_to_f32(s) * acc.iter().sum::<f32>();
    }
    total
}

/// `c[m×n] = act(a[m×k] · Wᵀ + bias)` with group-wise int8 weights, on the active table.
#[allow(clippy::too_many_arguments)]
pub fn q8g_gemm(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &Q8GroupWeights,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    q8g_gemm_with(super::active(), m, a, lda, w, bias, act, c, ldc)
}

/// [`q8g_gemm`] with an explicit table.
#[allow(clippy::too_many_arguments)]
pub fn q8g_gemm_with(
    qk: &QKernels,
    m: usize,
    a: &[f32],
    lda: usize,
    w: &Q8GroupWeights,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    let q8_row = qk.q8_row;
    let g = w.group;
    let row_fn = |x: &[f32], _: &[f32], j: usize| {
        let (codes, scales) = w.row(j);
        q8_row(g, x, codes, scales)
    };
    weight_only_gemm(
        m,
        w.k,
        w.n,
        a,
        lda,
        &|_| Vec::new(),
        &row_fn,
        &|j, out| w.dequantize_row(j, out),
        bias,
        act,
        c,
        ldc,
    )
}
