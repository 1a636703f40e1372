//! The discrete Fourier transforms behind `_fft_r2c`, `_fft_c2r`, `_fft_c2c` and the
//! `torch.fft` functions: n-dimensional transforms over chosen axes of a contiguous complex
//! buffer, one axis at a time, with [`rustfft`] computing each 1-d line.
//!
//! Everything runs in f64 (the f32 input is widened once and the result rounded once), so
//! the f32 results carry only the final rounding error, as close to PyTorch's own pocketfft
//! as f32 allows.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use crate::error::{Error, Result};
use crate::storage::MAX_TENSOR_BYTES;
use crate::tensor::checked_numel;

/// One complex value in the working precision.
pub(crate) type C = Complex<f64>;

/// A zeroed complex buffer of `n` elements, refused (typed `OutOfMemory`) past the tensor
/// size limit instead of aborting.
pub(crate) fn zeroed(n: usize) -> Result<Vec<C>> {
    let bytes = n.saturating_mul(std::mem::size_of::<C>());
    if bytes > MAX_TENSOR_BYTES {
        return Err(Error::oom(format!(
            "an FFT buffer of {n} complex values is too large"
        )));
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::oom(format!("could not allocate {bytes} bytes")))?;
    v.resize(n, C::new(0.0, 0.0));
    Ok(v)
}

/// Transform `data` (row-major, `shape`) in place along `axis`: the forward DFT
/// (`exp(-2πi kn/N)`) or, with `inverse`, the unscaled inverse (`exp(+2πi kn/N)`).
pub(crate) fn fft_axis(data: &mut [C], shape: &[usize], axis: usize, inverse: bool) {
    let n = shape[axis];
    if n <= 1 || data.is_empty() {
        return;
    }
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let mut planner = FftPlanner::<f64>::new();
    let fft = if inverse {
        planner.plan_fft_inverse(n)
    } else {
        planner.plan_fft_forward(n)
    };
    let mut line = vec![C::new(0.0, 0.0); n];
    let mut scratch = vec![C::new(0.0, 0.0); fft.get_inplace_scratch_len()];
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            for (k, x) in line.iter_mut().enumerate() {
                *x = data[base + k * inner];
            }
            fft.process_with_scratch(&mut line, &mut scratch);
            for (k, x) in line.iter().enumerate() {
                data[base + k * inner] = *x;
            }
        }
    }
}

/// Copy `src` (row-major, `shape`) into a buffer where `axis` has length `len`, keeping the
/// first `min(len, shape[axis])` entries and filling the rest with zeros (the `n=` argument
/// of `torch.fft`, and the one-sided slice of `_fft_r2c`).
pub(crate) fn resize_axis(src: &[C], shape: &[usize], axis: usize, len: usize) -> Result<Vec<C>> {
    let mut out_shape = shape.to_vec();
    out_shape[axis] = len;
    let mut out = zeroed(checked_numel(&out_shape)?)?;
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let (n_in, keep) = (shape[axis], shape[axis].min(len));
    for o in 0..outer {
        let s = o * n_in * inner;
        let d = o * len * inner;
        out[d..d + keep * inner].copy_from_slice(&src[s..s + keep * inner]);
    }
    Ok(out)
}

/// Multiply every element by `scale` (skipped when it is 1).
pub(crate) fn scale(data: &mut [C], scale: f64) {
    if scale != 1.0 {
        data.iter_mut().for_each(|x| *x *= scale);
    }
}

/// The scale ATen's `normalization` code asks for over a transform of `n` points in total:
/// 0 none, 1 `1/sqrt(n)`, 2 `1/n`.
pub(crate) fn norm_scale(code: i64, n: usize) -> Result<f64> {
    match code {
        0 => Ok(1.0),
        1 => Ok(1.0 / (n as f64).sqrt()),
        2 => Ok(1.0 / n as f64),
        c => Err(Error::runtime(format!(
            "fft normalization must be 0, 1 or 2, got {c}"
        ))),
    }
}

/// Rebuild the full Hermitian spectrum of length `len` along `axis` from its first half
/// (as `_fft_c2r` reads it: entries `0..=len/2`, missing ones zero), so that the inverse
/// transform's real part is the real signal.
pub(crate) fn hermitian_full(
    half: &[C],
    shape: &[usize],
    axis: usize,
    len: usize,
) -> Result<Vec<C>> {
    let mut full = resize_axis(half, shape, axis, len)?;
    let mut full_shape = shape.to_vec();
    full_shape[axis] = len;
    let inner: usize = full_shape[axis + 1..].iter().product();
    let outer: usize = full_shape[..axis].iter().product();
    let avail = shape[axis].min(len / 2 + 1);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            for k in avail..len {
                full[base + k * inner] = C::new(0.0, 0.0);
            }
            for k in 1..len.div_ceil(2) {
                full[base + (len - k) * inner] = full[base + k * inner].conj();
            }
        }
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook O(n²) DFT, to check the planner's output against.
    fn naive(x: &[C], inverse: bool) -> Vec<C> {
        let n = x.len();
        let sign = if inverse { 1.0 } else { -1.0 };
        (0..n)
            .map(|k| {
                x.iter().enumerate().fold(C::new(0.0, 0.0), |acc, (j, &v)| {
                    let a = sign * 2.0 * std::f64::consts::PI * (j * k) as f64 / n as f64;
                    acc + v * C::new(a.cos(), a.sin())
                })
            })
            .collect()
    }

    #[test]
    fn fft_axis_matches_the_naive_dft_on_both_axes() {
        // 3 x 5 (odd, prime length) and 3 x 4; transform each axis in turn.
        for cols in [5usize, 4] {
            let shape = [3usize, cols];
            let x: Vec<C> = (0..3 * cols)
                .map(|i| C::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
                .collect();
            for inverse in [false, true] {
                let mut got = x.clone();
                fft_axis(&mut got, &shape, 1, inverse);
                for r in 0..3 {
                    let want = naive(&x[r * cols..(r + 1) * cols], inverse);
                    for (g, w) in got[r * cols..(r + 1) * cols].iter().zip(&want) {
                        assert!((g - w).norm() < 1e-9, "{g} vs {w}");
                    }
                }
                let mut got = x.clone();
                fft_axis(&mut got, &shape, 0, inverse);
                for c in 0..cols {
                    let col: Vec<C> = (0..3).map(|r| x[r * cols + c]).collect();
                    let want = naive(&col, inverse);
                    for (r, w) in want.iter().enumerate() {
                        assert!((got[r * cols + c] - w).norm() < 1e-9);
                    }
                }
            }
        }
    }

    #[test]
    fn hermitian_full_inverts_a_real_spectrum() {
        // The half spectrum of a real signal, extended and inverted, gives the signal back.
        for len in [6usize, 7] {
            let sig: Vec<C> = (0..len).map(|i| C::new(i as f64 - 2.5, 0.0)).collect();
            let spec = naive(&sig, false);
            let half = &spec[..len / 2 + 1];
            let full = hermitian_full(half, &[len / 2 + 1], 0, len).unwrap();
            let back = naive(&full, true);
            for (b, s) in back.iter().zip(&sig) {
                assert!((b.re / len as f64 - s.re).abs() < 1e-9);
                assert!(b.im.abs() < 1e-9);
            }
        }
    }

    #[test]
    fn refuses_bad_normalization_and_huge_buffers() {
        assert!(norm_scale(3, 4).is_err());
        assert!(zeroed(usize::MAX / 2).is_err());
    }
}
