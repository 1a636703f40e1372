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

#[cfg(any(
    target_arch = "x86_64",
    all(target_family = "wasm", target_feature = "simd128")
))]
pub(crate) mod simd;
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
mod wasm32;
#[cfg(target_arch = "x86_64")]
mod x86_64;

/// Width of a packed B panel (columns per micro-tile). Fixed across instruction sets so a
/// `PackedB` built once at load works with whichever table is active.
pub(crate) const NR: usize = 16;
/// Largest number of rows of a micro-tile over all tables.
pub(crate) const MR_MAX: usize = 8;

/// Computes a `rows × NR` tile `acc = a_panel · b_panel` over `kc` steps: `a` holds `kc`
/// groups of `mr` values (packed A, rows past `rows` are zero padding), `b` holds `kc`
/// groups of `NR` values (packed B), and `acc` (`mr × NR`) receives the tile row-major in
/// its first `rows` rows, overwritten (later rows: unspecified). `1 <= rows <= mr`.
pub(crate) type TileFn = fn(rows: usize, kc: usize, a: &[f32], b: &[f32], acc: &mut [f32]);
/// An in-place element-wise function over a slice.
pub(crate) type MapFn = fn(x: &mut [f32]);
/// One depthwise-convolution output plane.
pub(crate) type DwPlaneFn = fn(plane: &mut crate::conv::DwPlane);
/// A one-row product `out = a · B` over `k` steps: `a` holds `k` values, `b` holds
/// `panels` packed B panels (`k × NR` each, as [`crate::gemm::PackedB`] stores them), and
/// `out` (`panels × NR`) is overwritten. The m = 1 case of the GEMM (a recurrent step, a
/// classifier head), where a one-row micro-tile would leave most of the vector units idle.
pub(crate) type GemvFn = fn(k: usize, a: &[f32], b: &[f32], panels: usize, out: &mut [f32]);

/// A one-row product against a matrix stored by rows: `out[j] = a · b[j·ldb .. j·ldb + k]`
/// for `j < out.len()` (`a` holds `k` values, `ldb >= k`). The m = 1 case of a Linear layer
/// read straight from its stored `[out, in]` weight, so no packed copy of the weight is
/// needed: every output is a dot product along a contiguous row.
pub(crate) type GemvRowsFn = fn(k: usize, a: &[f32], b: &[f32], ldb: usize, out: &mut [f32]);

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
    pub(crate) dw_plane: DwPlaneFn,
    pub(crate) gemv: GemvFn,
    pub(crate) gemv_rows: GemvRowsFn,
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
    dw_plane: dw_plane_portable,
    gemv: crate::gemm::portable_gemv,
    gemv_rows: crate::gemm::portable_gemv_rows,
};

fn dw_plane_portable(plane: &mut crate::conv::DwPlane) {
    crate::conv::dw_plane(plane)
}

/// The kernel table used by the public functions of this crate: the best one for this
/// machine, chosen on first use. On x86_64 the environment variable
/// `WASM_TORCH_KERNELS=portable` forces the portable table (for comparisons).
pub fn active() -> &'static Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        static ACTIVE: std::sync::OnceLock<&'static Kernels> = std::sync::OnceLock::new();
        ACTIVE.get_or_init(|| {
            let forced = std::env::var("WASM_TORCH_KERNELS").ok();
            match forced.as_deref().and_then(by_name) {
                Some(k) => k,
                None => *available().last().expect("portable is always available"),
            }
        })
    }
    #[cfg(all(target_family = "wasm", target_feature = "simd128"))]
    {
        &wasm32::TABLE
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_family = "wasm", target_feature = "simd128")
    )))]
    {
        portable()
    }
}

/// Every kernel table usable on this machine, portable first, best last (for tests and
/// benchmarks).
pub fn available() -> Vec<&'static Kernels> {
    #[allow(unused_mut)]
    let mut v = vec![portable()];
    #[cfg(target_arch = "x86_64")]
    if x86_64::detected() {
        v.push(&x86_64::TABLE);
    }
    #[cfg(all(target_family = "wasm", target_feature = "simd128"))]
    v.push(&wasm32::TABLE);
    v
}

/// The usable table called `name` (see [`Kernels::name`]), if any.
pub fn by_name(name: &str) -> Option<&'static Kernels> {
    available().into_iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD table this build should have is really there, so the comparison tests
    /// (which loop over `available()`) do exercise it.
    #[test]
    fn expected_tables_are_available() {
        let names: Vec<_> = available().iter().map(|k| k.name).collect();
        assert_eq!(names[0], "portable");
        if cfg!(all(target_family = "wasm", target_feature = "relaxed-simd")) {
            assert_eq!(names, ["portable", "wasm-relaxed-simd"]);
        } else if cfg!(all(target_family = "wasm", target_feature = "simd128")) {
            assert_eq!(names, ["portable", "wasm-simd128"]);
        }
        #[cfg(target_arch = "x86_64")]
        if x86_64::detected() {
            assert_eq!(names, ["portable", "avx2-fma"]);
        }
        assert_eq!(active().name, *names.last().unwrap());
        for k in available() {
            assert!(
                k.mr <= MR_MAX && 96 % k.mr == 0,
                "MC must be a multiple of mr"
            );
        }
    }
}
