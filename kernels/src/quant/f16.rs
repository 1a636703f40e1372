//! Half-precision weights: IEEE binary16 bits kept as stored, converted to f32 in
//! registers by the GEMV; the GEMM (several rows) converts one block of output channels at
//! a time into the f32 GEMM's packed panels.

use super::{QKernels, QuantError};
use crate::activation::Activation;

/// Exact conversion of half bits to f32 (subnormals, infinities and NaN included).
#[inline(always)]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let em = (h & 0x7fff) as u32;
    let bits = if em >= 0x7c00 {
        0x7f80_0000 | ((em & 0x3ff) << 13)
    } else {
        // Exponent and mantissa moved into f32 position, then rebiased by 2^112: exact
        // for normal and subnormal halves alike (a power-of-two scaling).
        (f32::from_bits(em << 13) * f32::from_bits(0x7780_0000)).to_bits()
    };
    f32::from_bits(sign | bits)
}

/// f32 to half bits, rounding to nearest even (overflow to infinity, NaN stays NaN).
pub fn f32_to_f16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let a = b & 0x7fff_ffff;
    if a > 0x7f80_0000 {
        return sign | 0x7e00 | ((a >> 13) & 0x3ff) as u16;
    }
    if a >= 0x477f_f000 {
        return sign | 0x7c00;
    }
    if a < 0x3880_0000 {
        // Subnormal half (or zero): the value in units of 2^-24, rounded to even.
        let v = f32::from_bits(a) * 16_777_216.0;
        return sign | v.round_ties_even() as u16;
    }
    let r = a + 0xfff + ((a >> 13) & 1);
    sign | ((r >> 13) - ((127 - 15) << 10)) as u16
}

/// f16 weights of a Linear layer: `n` output channels × `k` inputs, row-major half bits
/// (the stored layout, used as is: 2 bytes per weight, no packing).
///
/// Weights holding an infinity or a NaN (found once, here) are multiplied with the exact
/// portable conversion, so the SIMD rows may convert assuming finite halves (cheaper in
/// wasm, which has no half conversion instruction).
#[derive(Clone, Debug, PartialEq)]
pub struct F16Weights {
    n: usize,
    k: usize,
    data: Vec<u16>,
    special: bool,
}

impl F16Weights {
    /// Wraps `n × k` half bits. Error: wrong length.
    pub fn new(n: usize, k: usize, data: Vec<u16>) -> Result<F16Weights, QuantError> {
        let expected = n.saturating_mul(k);
        if data.len() != expected {
            return Err(QuantError::Length {
                what: "f16 weights",
                expected,
                got: data.len(),
            });
        }
        let special = data.iter().any(|&h| h & 0x7c00 == 0x7c00);
        Ok(F16Weights {
            n,
            k,
            data,
            special,
        })
    }
    /// Rounds f32 weights (`n × k`) to half.
    pub fn from_f32(n: usize, k: usize, w: &[f32]) -> Result<F16Weights, QuantError> {
        F16Weights::new(n, k, w.iter().map(|&x| f32_to_f16_bits(x)).collect())
    }
    /// Output channels.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Inputs per channel.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        2 * self.data.len()
    }
    /// The half bits, `n × k` row-major.
    pub fn bits(&self) -> &[u16] {
        &self.data
    }
    /// Converts output channel `j` into `out` (length `k`).
    pub fn dequantize_row(&self, j: usize, out: &mut [f32]) {
        assert_eq!(out.len(), self.k);
        for (o, &h) in out.iter_mut().zip(&self.data[j * self.k..(j + 1) * self.k]) {
            *o = f16_bits_to_f32(h);
        }
    }
}

/// Portable f16 dot product (see [`super::F16RowFn`]).
pub(crate) fn portable_row(x: &[f32], w: &[u16]) -> f32 {
    assert_eq!(x.len(), w.len());
    let mut s = [0f32; 8];
    let (xc, xt) = x.split_at(x.len() / 8 * 8);
    let (wc, wt) = w.split_at(xc.len());
    for (xv, wv) in xc.chunks_exact(8).zip(wc.chunks_exact(8)) {
        for ((sl, &a), &h) in s.iter_mut().zip(xv).zip(wv) {
            *sl += a * f16_bits_to_f32(h);
        }
    }
    let mut t: f32 = s.iter().sum();
    for (&a, &h) in xt.iter().zip(wt) {
        t += a * f16_bits_to_f32(h);
    }
    t
}

/// `c[m×n] = act(a[m×k] · Wᵀ + bias)` with f16 weights, on the active table.
#[allow(clippy::too_many_arguments)]
pub fn f16_gemm(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &F16Weights,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    f16_gemm_with(super::active(), m, a, lda, w, bias, act, c, ldc)
}

/// [`f16_gemm`] with an explicit table: one dot product per output (converting in
/// registers) for a few rows; for more rows, blocks of output channels converted to f32
/// panels and run through the f32 GEMM.
#[allow(clippy::too_many_arguments)]
pub fn f16_gemm_with(
    qk: &QKernels,
    m: usize,
    a: &[f32],
    lda: usize,
    w: &F16Weights,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    let f16_row = if w.special { portable_row } else { qk.f16_row };
    let row_fn = |x: &[f32], _: &[f32], j: usize| f16_row(x, &w.data[j * w.k..(j + 1) * w.k]);
    super::int4::weight_only_gemm(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_conversions_round_trip_every_value() {
        for h in 0..=u16::MAX {
            let f = f16_bits_to_f32(h);
            let back = f32_to_f16_bits(f);
            if f.is_nan() {
                assert!(f16_bits_to_f32(back).is_nan());
            } else {
                assert_eq!(back, h, "{h:#x} -> {f}");
            }
        }
        assert_eq!(f16_bits_to_f32(0x3c00), 1.0);
        assert_eq!(f16_bits_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f32_to_f16_bits(65519.0), 0x7bff);
        assert_eq!(f32_to_f16_bits(65520.0), 0x7c00);
        assert_eq!(f32_to_f16_bits(1.0 + 2f32.powi(-11)), 0x3c00); // tie → even
        assert_eq!(f32_to_f16_bits(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        assert_eq!(f32_to_f16_bits(2f32.powi(-25)), 0); // tie → even (0)
        assert_eq!(f32_to_f16_bits(3.0 * 2f32.powi(-25)), 2);
    }
}
