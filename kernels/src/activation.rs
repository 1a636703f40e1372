//! Activation functions and the vectorized transcendental functions they are built on.
//!
//! The transcendental kernels (`exp`, `tanh`, `erf`, `sigmoid`, `log`) use branch-free
//! polynomial approximations (Cephes-style range reduction) so that the portable version,
//! the AVX2 version and the wasm simd128 version compute the same formula; the tests in
//! this module state and check their error against `f64` references.

pub(crate) mod scalar;

use crate::arch;

/// An element-wise activation, fused into GEMM/convolution epilogues or applied alone.
///
/// Semantics follow PyTorch's functions of the same name with default arguments
/// (`Softplus` has beta = 1 and threshold = 20; `Gelu` is the exact erf form,
/// `GeluTanh` the `approximate="tanh"` form).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// Identity.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `x` if `x >= 0` else `slope * x`.
    LeakyRelu(f32),
    /// `0.5 x (1 + erf(x / sqrt 2))`.
    Gelu,
    /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    GeluTanh,
    /// `x * sigmoid(x)` (a.k.a. swish).
    Silu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `x * relu6(x + 3) / 6`.
    HardSwish,
    /// `relu6(x + 3) / 6`.
    HardSigmoid,
    /// `x` if `x > 0` else `alpha (exp(x) - 1)`.
    Elu(f32),
    /// `log(1 + exp(x))`, and `x` itself when `x > 20` (PyTorch's threshold).
    Softplus,
    /// `min(max(x, lo), hi)` (hardtanh / clamp); NaN stays NaN.
    Clamp(f32, f32),
}

/// Applies `act` to every element of `x`, in place. Large slices of the transcendental
/// activations are split over threads (feature `threads`); the cheap ones are bound by
/// memory bandwidth and stay on one thread.
pub fn apply(act: Activation, x: &mut [f32]) {
    let k = arch::active();
    if act.is_transcendental() {
        crate::parallel::for_each_rows(x, 1, MIN_PAR_ELEMS, |_, part| apply_with(k, act, part));
    } else {
        apply_with(k, act, x)
    }
}

/// Least elements per thread for the transcendental maps: about 50 µs of work at the AVX2
/// speed (~1-2 Gelem/s), so the fork/join and waking a worker are paid for.
const MIN_PAR_ELEMS: usize = if cfg!(test) { 16 } else { 1 << 16 };

/// Runs `f` (an element-wise map of the active table) over `x`, split over threads when
/// it is large.
fn map_split(x: &mut [f32], f: fn(&mut [f32])) {
    crate::parallel::for_each_rows(x, 1, MIN_PAR_ELEMS, |_, part| f(part));
}

impl Activation {
    /// Whether the activation evaluates exp/tanh/erf (costly per element).
    fn is_transcendental(self) -> bool {
        matches!(
            self,
            Activation::Sigmoid
                | Activation::Tanh
                | Activation::Gelu
                | Activation::GeluTanh
                | Activation::Silu
                | Activation::Elu(_)
                | Activation::Softplus
        )
    }
}

/// [`apply`] with an explicit kernel set (tests compare implementations with it).
pub(crate) fn apply_with(k: &arch::Kernels, act: Activation, x: &mut [f32]) {
    match act {
        Activation::None => {}
        Activation::Relu => x.iter_mut().for_each(|v| *v = relu(*v)),
        Activation::Relu6 => x.iter_mut().for_each(|v| *v = clamp(*v, 0.0, 6.0)),
        Activation::LeakyRelu(s) => x
            .iter_mut()
            .for_each(|v| *v = if *v >= 0.0 { *v } else { *v * s }),
        Activation::Clamp(lo, hi) => x.iter_mut().for_each(|v| *v = clamp(*v, lo, hi)),
        Activation::HardSigmoid => x
            .iter_mut()
            .for_each(|v| *v = clamp(*v + 3.0, 0.0, 6.0) * (1.0 / 6.0)),
        Activation::HardSwish => x
            .iter_mut()
            .for_each(|v| *v = *v * clamp(*v + 3.0, 0.0, 6.0) * (1.0 / 6.0)),
        Activation::Sigmoid => (k.sigmoid)(x),
        Activation::Tanh => (k.tanh)(x),
        Activation::Silu => (k.silu)(x),
        Activation::Gelu => (k.gelu)(x),
        Activation::GeluTanh => (k.gelu_tanh)(x),
        Activation::Elu(alpha) => chunked(x, |c, tmp| {
            // alpha * expm1(x) for x <= 0, as 2t / (1 - t) with t = tanh(x / 2): exact
            // relative accuracy near 0 where exp(x) - 1 would cancel, and -1 as x → -inf.
            for (t, v) in tmp.iter_mut().zip(c.iter()) {
                *t = 0.5 * *v;
            }
            (k.tanh)(tmp);
            for (v, t) in c.iter_mut().zip(tmp.iter()) {
                if *v <= 0.0 {
                    *v = alpha * (2.0 * *t / (1.0 - *t));
                }
            }
        }),
        Activation::Softplus => chunked(x, |c, tmp| {
            // log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow for large x, and
            // log1p(u) ≈ u (1 - u/2) for tiny u keeps exp(x) accuracy for very negative x.
            for (t, v) in tmp.iter_mut().zip(c.iter()) {
                *t = -v.abs();
            }
            (k.exp)(tmp);
            let mut lg = [0f32; CHUNK];
            let lg = &mut lg[..tmp.len()];
            for (l, t) in lg.iter_mut().zip(tmp.iter()) {
                *l = 1.0 + *t;
            }
            (k.log)(lg);
            for ((v, t), l) in c.iter_mut().zip(tmp.iter()).zip(lg.iter()) {
                if *v <= 20.0 {
                    let log1p = if *t < 1e-4 { *t * (1.0 - 0.5 * *t) } else { *l };
                    *v = v.max(0.0) + log1p;
                }
            }
        }),
    }
}

/// Runs `f` over `x` in chunks with a scratch buffer of the same length on the stack.
const CHUNK: usize = 256;

fn chunked(x: &mut [f32], mut f: impl FnMut(&mut [f32], &mut [f32])) {
    let mut tmp = [0f32; CHUNK];
    for c in x.chunks_mut(CHUNK) {
        let n = c.len();
        f(c, &mut tmp[..n]);
    }
}

#[inline(always)]
fn relu(v: f32) -> f32 {
    // `v.max(0.0)` would turn NaN into 0; PyTorch keeps NaN.
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

#[inline(always)]
pub(crate) fn clamp(v: f32, lo: f32, hi: f32) -> f32 {
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}

/// `e^x` in place. Max error about 2 ulp over the normal range (checked in tests);
/// overflows to `+inf` above ~88.72, flushes smoothly through subnormals to 0 below ~-103.9.
pub fn exp(x: &mut [f32]) {
    map_split(x, arch::active().exp)
}

/// `tanh(x)` in place. Max abs error below 3e-7 (checked in tests).
pub fn tanh(x: &mut [f32]) {
    map_split(x, arch::active().tanh)
}

/// `erf(x)` in place. Max abs error below 5e-7, about 7 ulp of 1 near |x| = 4 (checked in tests).
pub fn erf(x: &mut [f32]) {
    map_split(x, arch::active().erf)
}

/// Logistic sigmoid `1 / (1 + e^-x)` in place. Max abs error below 2e-7 (checked in tests).
pub fn sigmoid(x: &mut [f32]) {
    map_split(x, arch::active().sigmoid)
}

/// Natural logarithm in place. Max error about 2 ulp for positive normal and subnormal
/// inputs; `log(0) = -inf`, `log(x<0) = NaN`, `log(inf) = inf` (checked in tests).
pub fn log(x: &mut [f32]) {
    map_split(x, arch::active().log)
}

#[cfg(test)]
mod tests;
