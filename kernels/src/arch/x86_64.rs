//! x86_64 AVX2 + FMA kernels (8 lanes), selected at run time by `is_x86_feature_detected!`.

use super::simd::{self, Simd};
use super::{Kernels, NR};
use core::arch::x86_64::*;

/// An AVX register of 8 f32 lanes. Only used inside `avx2,fma` functions (see `simd`).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct F8(__m256);

// SAFETY (all methods): callers guarantee AVX2+FMA are available (module contract).
impl Simd for F8 {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F8(_mm256_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self.0)
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        unsafe { F8(_mm256_set1_ps(v)) }
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        unsafe { F8(_mm256_add_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        unsafe { F8(_mm256_sub_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        unsafe { F8(_mm256_mul_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        unsafe { F8(_mm256_div_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        unsafe { F8(_mm256_fmadd_ps(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    fn floor(self) -> Self {
        unsafe { F8(_mm256_floor_ps(self.0)) }
    }
    #[inline(always)]
    fn abs(self) -> Self {
        unsafe { F8(_mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0)) }
    }
    #[inline(always)]
    fn clamp(self, lo: Self, hi: Self) -> Self {
        // maxps/minps return the second operand when either is NaN: x goes second.
        unsafe { F8(_mm256_min_ps(hi.0, _mm256_max_ps(lo.0, self.0))) }
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        unsafe { F8(_mm256_cmp_ps::<_CMP_LT_OQ>(self.0, o.0)) }
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Self {
        unsafe { F8(_mm256_cmp_ps::<_CMP_GE_OQ>(self.0, o.0)) }
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self {
        unsafe { F8(_mm256_cmp_ps::<_CMP_EQ_OQ>(self.0, o.0)) }
    }
    #[inline(always)]
    fn is_nan(self) -> Self {
        unsafe { F8(_mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, self.0)) }
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        unsafe { F8(_mm256_or_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn select(mask: Self, a: Self, b: Self) -> Self {
        unsafe { F8(_mm256_blendv_ps(b.0, a.0, mask.0)) }
    }
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        unsafe {
            let m = _mm256_set1_ps(-0.0);
            F8(_mm256_or_ps(
                _mm256_andnot_ps(m, self.0),
                _mm256_and_ps(m, sign.0),
            ))
        }
    }
    #[inline(always)]
    fn pow2_split(n: Self) -> (Self, Self) {
        unsafe {
            let ni = _mm256_cvttps_epi32(n.0);
            let n1 = _mm256_srai_epi32::<1>(ni);
            let n2 = _mm256_sub_epi32(ni, n1);
            let b = _mm256_set1_epi32(127);
            (
                F8(_mm256_castsi256_ps(_mm256_slli_epi32::<23>(
                    _mm256_add_epi32(n1, b),
                ))),
                F8(_mm256_castsi256_ps(_mm256_slli_epi32::<23>(
                    _mm256_add_epi32(n2, b),
                ))),
            )
        }
    }
    #[inline(always)]
    fn frexp_parts(self) -> (Self, Self) {
        unsafe {
            let bits = _mm256_castps_si256(self.0);
            let e = _mm256_and_si256(_mm256_srli_epi32::<23>(bits), _mm256_set1_epi32(0xff));
            let m = _mm256_or_si256(
                _mm256_and_si256(bits, _mm256_set1_epi32(0x807f_ffff_u32 as i32)),
                _mm256_set1_epi32(0x3f00_0000),
            );
            (F8(_mm256_cvtepi32_ps(e)), F8(_mm256_castsi256_ps(m)))
        }
    }
}

/// Defines a safe entry point `$name` running `simd::$f` over a slice with AVX2+FMA.
macro_rules! map_entry {
    ($name:ident, $inner:ident, $f:ident) => {
        #[target_feature(enable = "avx2,fma")]
        fn $inner(x: &mut [f32]) {
            simd::map_slice!(F8, x, simd::$f::<F8>)
        }
        fn $name(x: &mut [f32]) {
            // SAFETY: reachable only through `TABLE`, handed out after AVX2+FMA detection.
            unsafe { $inner(x) }
        }
    };
}

map_entry!(exp, exp_avx2, exp);
map_entry!(tanh, tanh_avx2, tanh);
map_entry!(erf, erf_avx2, erf);
map_entry!(sigmoid, sigmoid_avx2, sigmoid);
map_entry!(log, log_avx2, log);
map_entry!(silu, silu_avx2, silu);
map_entry!(gelu, gelu_avx2, gelu);
map_entry!(gelu_tanh, gelu_tanh_avx2, gelu_tanh);

/// Rows of the AVX2 micro-tile: 6 × 16 uses 12 accumulators + 2 B vectors + 1 broadcast
/// of the 16 ymm registers.
const MR: usize = 6;

#[target_feature(enable = "avx2,fma")]
fn gemm_tile_avx2(rows: usize, kc: usize, a: &[f32], b: &[f32], acc: &mut [f32]) {
    const NV: usize = NR / 8;
    match rows {
        1 => simd::gemm_tile::<F8, 1, MR, NV>(kc, a, b, acc),
        2 => simd::gemm_tile::<F8, 2, MR, NV>(kc, a, b, acc),
        3 => simd::gemm_tile::<F8, 3, MR, NV>(kc, a, b, acc),
        4 => simd::gemm_tile::<F8, 4, MR, NV>(kc, a, b, acc),
        5 => simd::gemm_tile::<F8, 5, MR, NV>(kc, a, b, acc),
        _ => simd::gemm_tile::<F8, MR, MR, NV>(kc, a, b, acc),
    }
}

fn gemm_tile(rows: usize, kc: usize, a: &[f32], b: &[f32], acc: &mut [f32]) {
    // SAFETY: reachable only through `TABLE`, handed out after AVX2+FMA detection.
    unsafe { gemm_tile_avx2(rows, kc, a, b, acc) }
}

#[target_feature(enable = "avx2,fma")]
fn dw_plane_avx2(plane: &mut crate::conv::DwPlane) {
    simd::dw_plane::<F8>(plane)
}

fn dw_plane(plane: &mut crate::conv::DwPlane) {
    // SAFETY: reachable only through `TABLE`, handed out after AVX2+FMA detection.
    unsafe { dw_plane_avx2(plane) }
}

#[target_feature(enable = "avx2,fma")]
fn gemv_avx2(k: usize, a: &[f32], b: &[f32], panels: usize, out: &mut [f32]) {
    simd::gemv::<F8, 4>(k, a, b, panels, out)
}

fn gemv(k: usize, a: &[f32], b: &[f32], panels: usize, out: &mut [f32]) {
    // SAFETY: reachable only through `TABLE`, handed out after AVX2+FMA detection.
    unsafe { gemv_avx2(k, a, b, panels, out) }
}

#[target_feature(enable = "avx2,fma")]
fn gemv_rows_avx2(k: usize, a: &[f32], b: &[f32], ldb: usize, out: &mut [f32]) {
    simd::gemv_rows::<F8>(k, a, b, ldb, out)
}

fn gemv_rows(k: usize, a: &[f32], b: &[f32], ldb: usize, out: &mut [f32]) {
    // SAFETY: reachable only through `TABLE`, handed out after AVX2+FMA detection.
    unsafe { gemv_rows_avx2(k, a, b, ldb, out) }
}

/// The AVX2+FMA table. Only hand it out after [`detected`] returned true.
pub(crate) static TABLE: Kernels = Kernels {
    name: "avx2-fma",
    mr: MR,
    gemm_tile,
    exp,
    tanh,
    erf,
    sigmoid,
    log,
    silu,
    gelu,
    gelu_tanh,
    dw_plane,
    gemv,
    gemv_rows,
};

/// Whether this CPU runs the AVX2+FMA table.
pub(crate) fn detected() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}
