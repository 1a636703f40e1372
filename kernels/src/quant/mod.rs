//! Quantized kernels: int8 GEMM/GEMV with dynamic per-row activation quantization, int8
//! convolution on that GEMM (per-pixel activation rows, [`qconv2d_i8`]), int4 and int8
//! group-wise weight-only GEMV and f16-weight GEMV/GEMM.
//!
//! Like the f32 kernels, every hot loop has one portable definition (the reference) and
//! per-ISA versions gathered in a [`QKernels`] table; [`active`] picks the best one for the
//! machine and [`available`] lists all usable ones (the tests run each against portable).
//!
//! # Schemes
//! - **Activations (int8 path)**: quantized per row at run time ([`QuantRows`]), symmetric,
//!   `q = round(x / s)` (to nearest, ties to even) with `s = max|x| / 127`,
//!   `q ∈ [-127, 127]`, no zero point. Why symmetric and why not -128: zero stays exactly zero (padding, ReLU outputs) and the
//!   epilogue needs no zero-point correction; and with `|q| ≤ 127` the magnitude fits in 7
//!   bits, which is what makes the SIMD versions exact and identical everywhere (see below).
//!   A row of zeros gets scale 0 and yields exactly `bias` (never NaN); a row holding a
//!   NaN or an infinity gets scale NaN, so its outputs are NaN like the f32 product's.
//! - **Weights (int8 path)**: per output channel, symmetric, `w ≈ q · s_j`, `q ∈ [-127, 127]`
//!   (what the exporter's `weights="int8"` stores), packed once by [`PackedI8::pack`].
//! - **int4 weights** ([`Q4Weights`]): groups of `g` (a multiple of 32 in 32..=256) consecutive inputs of one
//!   output channel, 4-bit codes `c ∈ [0, 15]`, `w = c · d + m` with an f16 scale `d` and
//!   an f16 offset `m` per group (GGUF Q4_1), or `m = -8 d` without offsets (GGUF Q4_0).
//! - **Group-wise int8 weights** ([`Q8GroupWeights`]): groups like int4, signed 8-bit codes,
//!   `w = c · d` with one f16 scale per group (GGUF Q8_0), widened to f32 in registers.
//! - **f16 weights** ([`F16Weights`]): IEEE half bits, converted to f32 in registers.
//!
//! # How the int8 SIMD versions stay exact
//! Accumulation is in i32 (products `≤ 127²`, so `k ≤ 2^17` is asserted: no overflow).
//! - AVX2 `vpmaddubsw` multiplies unsigned by signed bytes and *saturates* the i16 sum of
//!   two products. We feed it `|a|` (unsigned, ≤ 127) and `sign(a)·w` (`vpsignb`, in
//!   [-127, 127]): a pair sums to at most `2·127·127 = 32258 < 32767`, so it never
//!   saturates; `vpmaddwd` by ones then widens to i32.
//! - AVX512-VNNI `vpdpbusd` (unsigned × signed, 4 products into i32, no saturation) gets
//!   `a + 128` (an xor with 0x80) and the result is corrected by `128 · Σ_k w` per column,
//!   computed once at packing.
//! - wasm relaxed SIMD `i16x8.relaxed_dot_i8x16_i7x16_s` (then widened to i32 by a dot
//!   with ones): engines agree only when the second operand's top bit is clear, so this
//!   table asks for [`ActFormat::Unsigned7`] activations (`a ∈ [0, 127]`, a per-row zero
//!   point `z`) and gives them as that operand, the weights as the first. The i16 pair sums
//!   (`≤ 2·127·127`) cannot saturate, so Node, Chromium and Firefox on x86 or Arm compute
//!   the same integers; the epilogue subtracts `z · Σ_k w` (the column sums of packing).
//!   One dot per 16 products, where keeping 8-bit signed activations exact needed a sign
//!   transfer (`sign(a)·w`, two more operations per 16 products and per row).
//! - wasm simd128: bytes widened to i16 and `i32x4.dot_i16x8_s` (exact, no trick needed).
//!
//! Every table returns exact `Σ q·w` sums; the shared epilogue removes the zero point
//! (`acc - z·Σw`, exact in i32 since the true sum fits) and rescales.

mod act;
mod conv;
mod f16;
mod int4;
mod int8;
mod int8g;
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
mod wasm32;
#[cfg(target_arch = "x86_64")]
mod x86_64;

pub use act::{quantize_rows, quantize_rows_as, ActFormat, QuantRows};
pub use f16::{f16_bits_to_f32, f32_to_f16_bits, F16Weights};
pub use int4::Q4Weights;
pub use int8::PackedI8;
pub use int8g::Q8GroupWeights;

use crate::activation::Activation;
use std::fmt;

/// Output columns of a packed int8 weight panel.
pub const QNR: usize = 16;
/// Largest number of rows an int8 tile call computes.
pub(crate) const QMR: usize = 4;
/// Largest number of panels an int8 tile call computes.
pub(crate) const QNP: usize = 2;
/// Largest reduction depth of the int8 kernels: `k · 127²` must fit in an i32.
pub const MAX_K_I8: usize = 1 << 17;

/// Computes an int8 tile: `acc[r][j] = Σ_p a[r·lda + p] · B[p][j]` for `r < rows ≤ 4` and
/// the `panels · 16` columns of `panels ≤ 2` consecutive packed panels (`b`, `k4 · 64`
/// bytes each: for each group of 4 inputs, 16 columns × 4 bytes). `a` rows hold `4·k4`
/// quantized values (zero padded). `colsum` holds `Σ_p B[p][j]` for the tile's columns.
/// `acc` is `rows × 32`, row-major (columns past `panels·16` unspecified).
pub(crate) type I8TileFn = fn(
    rows: usize,
    k4: usize,
    a: &[i8],
    lda: usize,
    b: &[i8],
    panels: usize,
    colsum: &[i32],
    acc: &mut [i32],
);
/// One int4 output: `Σ_g (d_g · Σ_i x_i c_i + m_g · xsum_g)` over the groups of one row
/// (see [`Q4Weights`]); `xsum[g]` is `Σ x` over group `g`.
pub(crate) type Q4RowFn = fn(
    group: usize,
    x: &[f32],
    xsum: &[f32],
    codes: &[u8],
    scales: &[u16],
    mins: Option<&[u16]>,
) -> f32;
/// One group-wise int8 output: `Σ_g d_g · Σ_i x_i c_i` over the groups of one row (see
/// [`Q8GroupWeights`]).
pub(crate) type Q8RowFn = fn(group: usize, x: &[f32], codes: &[i8], scales: &[u16]) -> f32;
/// One f16-weight output: `Σ_p x[p] · w[p]` with `w` as half bits.
pub(crate) type F16RowFn = fn(x: &[f32], w: &[u16]) -> f32;

/// One implementation of every quantized kernel.
pub struct QKernels {
    /// Human-readable name ("portable", "avx2", "avx512-vnni", "wasm-simd128", ...).
    pub name: &'static str,
    /// The activation scheme the int8 tile needs. A table that needs
    /// [`ActFormat::Signed8`] is exact for any codes in `[-127, 127]` and so takes both.
    pub act: ActFormat,
    pub(crate) i8_tile: I8TileFn,
    pub(crate) q4_row: Q4RowFn,
    pub(crate) q8_row: Q8RowFn,
    pub(crate) f16_row: F16RowFn,
}

impl fmt::Debug for QKernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QKernels")
            .field("name", &self.name)
            .finish()
    }
}

static PORTABLE: QKernels = QKernels {
    name: "portable",
    act: ActFormat::Signed8,
    i8_tile: int8::portable_tile,
    q4_row: int4::portable_row,
    q8_row: int8g::portable_row,
    f16_row: f16::portable_row,
};

/// The portable quantized kernels: the reference for every other table.
pub fn portable() -> &'static QKernels {
    &PORTABLE
}

/// Every quantized-kernel table usable on this machine, portable first, best last.
pub fn available() -> Vec<&'static QKernels> {
    #[allow(unused_mut)]
    let mut v = vec![portable()];
    #[cfg(target_arch = "x86_64")]
    v.extend(x86_64::detected());
    #[cfg(all(target_family = "wasm", target_feature = "simd128"))]
    v.push(&wasm32::TABLE);
    v
}

/// The table the public functions use: the best one here, chosen once. On x86_64,
/// `WASM_TORCH_KERNELS=portable` forces the portable table (as for the f32 kernels), and
/// `WASM_TORCH_QKERNELS=NAME` picks a table by name.
pub fn active() -> &'static QKernels {
    #[cfg(target_arch = "x86_64")]
    {
        static ACTIVE: std::sync::OnceLock<&'static QKernels> = std::sync::OnceLock::new();
        ACTIVE.get_or_init(|| {
            let want = std::env::var("WASM_TORCH_QKERNELS")
                .ok()
                .or_else(|| std::env::var("WASM_TORCH_KERNELS").ok());
            let all = available();
            want.and_then(|w| all.iter().copied().find(|k| k.name == w))
                .unwrap_or(*all.last().expect("portable is always available"))
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        available()
            .last()
            .copied()
            .expect("portable is always available")
    }
}

/// Why quantized weights were refused.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantError {
    /// A buffer's length does not match the stated shape.
    Length {
        /// Which buffer.
        what: &'static str,
        /// Elements expected.
        expected: usize,
        /// Elements given.
        got: usize,
    },
    /// An int8 weight is -128 (the kernels need `|q| ≤ 127`).
    Int8OutOfRange,
    /// A scale is zero, negative, NaN or infinite where a usable scale is required.
    BadScale {
        /// Index of the scale.
        index: usize,
    },
    /// The group size is not a multiple of 32 in 32..=256 dividing the input dimension.
    BadGroup {
        /// Group size.
        group: usize,
        /// Input dimension.
        k: usize,
    },
    /// The reduction depth exceeds [`MAX_K_I8`].
    TooDeep {
        /// Reduction depth.
        k: usize,
    },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantError::Length {
                what,
                expected,
                got,
            } => write!(f, "{what}: {got} elements, expected {expected}"),
            QuantError::Int8OutOfRange => write!(f, "int8 weight -128 (must be in -127..=127)"),
            QuantError::BadScale { index } => {
                write!(f, "scale {index} is zero, negative or not finite")
            }
            QuantError::BadGroup { group, k } => write!(
                f,
                "group size {group} must be a multiple of 32 in 32..=256 and divide the input dimension {k}"
            ),
            QuantError::TooDeep { k } => {
                write!(f, "reduction depth {k} exceeds {MAX_K_I8} for int8 kernels")
            }
        }
    }
}

impl std::error::Error for QuantError {}

pub use conv::{qconv2d_i8, qconv2d_i8_with};
pub use f16::{f16_gemm, f16_gemm_with};
pub use int4::{q4_gemm, q4_gemm_with};
pub use int8::{qgemm_i8, qgemm_i8_quantized_with, qgemm_i8_with};
pub use int8g::{q8g_gemm, q8g_gemm_with};

/// Applies the fused epilogue `act(v + bias)` to one output row (shared by every path).
pub(crate) fn finish_row(row: &mut [f32], bias: Option<&[f32]>, act: Activation) {
    if let Some(b) = bias {
        for (v, &bv) in row.iter_mut().zip(b) {
            *v += bv;
        }
    }
    crate::activation::apply_with(crate::arch::active(), act, row);
}

#[cfg(test)]
mod tests;
