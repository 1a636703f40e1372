//! The one dispatch point: a table of kernel implementations per instruction set.
//!
//! [`active`] returns the best table for the running machine, chosen once:
//! - x86_64: AVX2+FMA when `is_x86_feature_detected!` says so at run time, else portable;
//! - wasm32: simd128 (plus relaxed-simd FMA) when the crate is compiled with those target
//!   features — wasm has no run-time detection, so the host loads a build per feature level;
//! - anything else: the portable table.
//!
//! Every table computes the same formulas; tests run each available table against
//! [`portable`] (see [`available`]).

use crate::activation::scalar;

/// Width of a packed B panel (columns per micro-tile). Fixed across instruction sets so a
/// `PackedB` built once at load works with whichever table is active.
pub(crate) const NR: usize = 16;
/// Largest number of rows of a micro-tile over all tables.
pub(crate) const MR_MAX: usize = 8;

/// Computes an `mr × NR` tile `acc = a_panel · b_panel` over `kc` steps: `a` holds `kc`
/// groups of `mr` values (packed A), `b` holds `kc` groups of `NR` values (packed B), and
/// `acc` receives the tile row-major (`mr` rows of `NR`), overwritten.
pub(crate) type TileFn = fn(kc: usize, a: &[f32], b: &[f32], acc: &mut [f32]);
/// An in-place element-wise function over a slice.
pub(crate) type MapFn = fn(x: &mut [f32]);

/// One implementation of every dispatched kernel.
pub struct Kernels {
    /// Human-readable name of the instruction set ("portable", "avx2-fma", "wasm-simd128", ...).
    pub name: &'static str,
    /// Rows of the GEMM micro-tile (at most [`MR_MAX`]).
    pub(crate) mr: usize,
    pub(crate) gemm_tile: TileFn,
    pub(crate) exp: MapFn,
    pub(crate) tanh: MapFn,
    pub(crate) erf: MapFn,
    pub(crate) sigmoid: MapFn,
    pub(crate) log: MapFn,
    pub(crate) silu: MapFn,
    pub(crate) gelu: MapFn,
    pub(crate) gelu_tanh: MapFn,
}

/// The portable (plain Rust) kernel table: the reference for every other table.
pub fn portable() -> &'static Kernels {
    &PORTABLE
}

static PORTABLE: Kernels = Kernels {
    name: "portable",
    mr: 4,
    gemm_tile: crate::gemm::portable_tile,
    exp: scalar::exp_slice,
    tanh: scalar::tanh_slice,
    erf: scalar::erf_slice,
    sigmoid: scalar::sigmoid_slice,
    log: scalar::log_slice,
    silu: scalar::silu_slice,
    gelu: scalar::gelu_slice,
    gelu_tanh: scalar::gelu_tanh_slice,
};

/// The kernel table used by the public functions of this crate.
pub fn active() -> &'static Kernels {
    portable()
}

/// Every kernel table usable on this machine, portable first (for tests and benchmarks).
pub fn available() -> Vec<&'static Kernels> {
    vec![portable()]
}
