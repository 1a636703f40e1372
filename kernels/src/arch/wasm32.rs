//! wasm32 simd128 kernels (4 lanes), compiled in when the crate is built with
//! `-C target-feature=+simd128`; with `+relaxed-simd` as well, `mul_add` uses
//! `f32x4_relaxed_madd` (fused or not, at the engine's choice).

use super::simd::{self, Simd};
use super::{Kernels, NR};
#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;
// The memory64 build: the same simd128 intrinsics, re-exported under `wasm64`.
#[cfg(target_arch = "wasm64")]
use core::arch::wasm64::*;

/// A simd128 vector of 4 f32 lanes.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct F4(v128);

impl Simd for F4 {
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F4(v128_load(p as *const v128))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        v128_store(p as *mut v128, self.0)
    }
    #[inline(always)]
    unsafe fn load_splat(p: *const f32) -> Self {
        F4(v128_load32_splat(p as *const u32))
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        F4(f32x4_splat(v))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        F4(f32x4_add(self.0, o.0))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        F4(f32x4_sub(self.0, o.0))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        F4(f32x4_mul(self.0, o.0))
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        F4(f32x4_div(self.0, o.0))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        {
            F4(f32x4_relaxed_madd(self.0, b.0, c.0))
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            F4(f32x4_add(f32x4_mul(self.0, b.0), c.0))
        }
    }
    #[inline(always)]
    fn floor(self) -> Self {
        F4(f32x4_floor(self.0))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        F4(f32x4_abs(self.0))
    }
    #[inline(always)]
    fn clamp(self, lo: Self, hi: Self) -> Self {
        // pmax(x, lo) = x < lo ? lo : x and pmin(y, hi) = hi < y ? hi : y keep a NaN x,
        // but with relaxed-simd enabled the compiler may turn them into relaxed min/max,
        // whose NaN result is engine-defined: restore NaN lanes explicitly.
        let c = f32x4_pmin(f32x4_pmax(self.0, lo.0), hi.0);
        F4(v128_bitselect(self.0, c, f32x4_ne(self.0, self.0)))
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        F4(f32x4_lt(self.0, o.0))
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Self {
        F4(f32x4_ge(self.0, o.0))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self {
        F4(f32x4_eq(self.0, o.0))
    }
    #[inline(always)]
    fn is_nan(self) -> Self {
        F4(f32x4_ne(self.0, self.0))
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        F4(v128_or(self.0, o.0))
    }
    #[inline(always)]
    fn select(mask: Self, a: Self, b: Self) -> Self {
        F4(v128_bitselect(a.0, b.0, mask.0))
    }
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        F4(v128_bitselect(sign.0, self.0, f32x4_splat(-0.0)))
    }
    #[inline(always)]
    fn pow2_split(n: Self) -> (Self, Self) {
        let ni = i32x4_trunc_sat_f32x4(n.0);
        let n1 = i32x4_shr(ni, 1);
        let n2 = i32x4_sub(ni, n1);
        let b = i32x4_splat(127);
        (
            F4(i32x4_shl(i32x4_add(n1, b), 23)),
            F4(i32x4_shl(i32x4_add(n2, b), 23)),
        )
    }
    #[inline(always)]
    fn frexp_parts(self) -> (Self, Self) {
        let bits = self.0;
        let e = v128_and(u32x4_shr(bits, 23), i32x4_splat(0xff));
        let m = v128_or(
            v128_and(bits, i32x4_splat(0x807f_ffff_u32 as i32)),
            i32x4_splat(0x3f00_0000),
        );
        (F4(f32x4_convert_i32x4(e)), F4(m))
    }
}

macro_rules! map_entry {
    ($name:ident, $f:ident) => {
        fn $name(x: &mut [f32]) {
            simd::map_slice!(F4, x, simd::$f::<F4>)
        }
    };
}

map_entry!(exp, exp);
map_entry!(tanh, tanh);
map_entry!(erf, erf);
map_entry!(sigmoid, sigmoid);
map_entry!(log, log);
map_entry!(silu, silu);
map_entry!(gelu, gelu);
map_entry!(gelu_tanh, gelu_tanh);

/// Rows of the wasm micro-tile: 4 rows × 16 columns, computed as two strips of 8 columns.
const MR: usize = 4;

/// Defines a strip function computing rows `[$i, ...]` × 8 columns (`col0..col0 + 8`) of an
/// `MR`-strided A panel against a 16-column B panel. Written out with literal indices (not
/// the generic `simd::gemm_tile`): for wasm, LLVM does not fully unroll the generic loops
/// and leaves the accumulators in linear memory. Strips of 8 columns keep at most 8
/// accumulators + 2 B vectors + 1 broadcast live, which fits the 16 xmm registers an engine
/// maps wasm locals to on x86 (a 4 × 16 strip spills).
macro_rules! wasm_strip {
    ($name:ident, [$($i:literal),+]) => {
        #[inline(always)]
        fn $name(kc: usize, a: &[f32], b: &[f32], acc: &mut [f32], col0: usize) {
            const R: usize = [$($i),+].len();
            assert!(col0 + 8 <= NR);
            assert!(a.len() >= kc * MR && b.len() >= kc * NR && acc.len() >= R * NR);
            let z = F4::splat(0.0);
            let mut c = [[z; 2]; R];
            let (ap, bp) = (a.as_ptr(), b.as_ptr());
            for p in 0..kc {
                // SAFETY: p < kc; the asserts bound A (p*MR + i < kc*MR) and B
                // (p*NR + col0 + 8 <= kc*NR).
                unsafe {
                    let bq = bp.add(p * NR + col0);
                    let b0 = F4::load(bq);
                    let b1 = F4::load(bq.add(4));
                    $(
                        let av = F4::load_splat(ap.add(p * MR + $i));
                        c[$i][0] = av.mul_add(b0, c[$i][0]);
                        c[$i][1] = av.mul_add(b1, c[$i][1]);
                    )+
                }
            }
            $(
                // SAFETY: row $i < R, col0 + 8 <= NR; acc holds R * NR floats.
                unsafe {
                    let q = acc.as_mut_ptr().add($i * NR + col0);
                    c[$i][0].store(q);
                    c[$i][1].store(q.add(4));
                }
            )+
        }
    };
}

wasm_strip!(strip1, [0]);
wasm_strip!(strip2, [0, 1]);
wasm_strip!(strip3, [0, 1, 2]);
wasm_strip!(strip4, [0, 1, 2, 3]);

fn gemm_tile(rows: usize, kc: usize, a: &[f32], b: &[f32], acc: &mut [f32]) {
    const { assert!(NR == 16) };
    for col0 in [0, 8] {
        match rows {
            1 => strip1(kc, a, b, acc, col0),
            2 => strip2(kc, a, b, acc, col0),
            3 => strip3(kc, a, b, acc, col0),
            _ => strip4(kc, a, b, acc, col0),
        }
    }
}

/// The simd128 table (compiled only when the module is built with simd128).
pub(crate) static TABLE: Kernels = Kernels {
    name: if cfg!(target_feature = "relaxed-simd") {
        "wasm-relaxed-simd"
    } else {
        "wasm-simd128"
    },
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
    dw_plane: |plane| simd::dw_plane::<F4>(plane),
    gemv: |k, a, b, panels, out| simd::gemv::<F4, 2>(k, a, b, panels, out),
    gemv_rows: |k, a, b, ldb, out| simd::gemv_rows::<F4>(k, a, b, ldb, out),
};
