//! Compute kernels of wasm-torch: pure functions over `f32` slices.
//!
//! Every kernel has one portable (plain Rust) definition, which is the reference, and —
//! for the hot paths — per-architecture SIMD versions behind a single dispatch
//! ([`arch::active`]): AVX2+FMA on x86_64 (detected at run time) and simd128 /
//! relaxed-simd on wasm32 (chosen at compile time by `target_feature`). Tests compare
//! every SIMD version against the portable one.
//!
//! Conventions: tensors are row-major (C order), shapes are counted in elements, and the
//! caller passes validated sizes. Slice lengths are checked with `assert!` at entry, so a
//! caller bug panics instead of reading out of bounds. Functions keep no global mutable
//! state and are re-entrant, so callers may split work across threads.
//!
//! With the cargo feature `threads`, the large kernels (GEMM, convolution, depthwise
//! convolution, row-wise softmax/norms) split their own work over rayon's pool; see
//! [`parallel`], the only module that touches threads. Results are bit-identical for any
//! number of threads.
#![cfg_attr(target_family = "wasm", allow(unused_unsafe))]
// The memory64 build (wasm64, nightly only) reaches the simd128 intrinsics through
// `core::arch::wasm64`, which is still feature-gated.
#![cfg_attr(target_arch = "wasm64", feature(simd_wasm64))]

pub mod activation;
pub mod alloc;
pub mod arch;
pub mod binary;
pub mod conv;
pub mod conv_transpose;
pub mod gemm;
mod lanes;
pub mod norm;
pub mod parallel;
pub mod pool;
pub mod quant;
pub mod recurrent;
pub mod reduce;
pub mod softmax;
#[cfg(feature = "threads")]
mod spin_team;
