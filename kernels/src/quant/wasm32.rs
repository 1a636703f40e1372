//! wasm32 quantized kernels, compiled in when the crate is built with simd128: int8
//! through widening to i16 and `i32x4.dot_i16x8_s`, or — with relaxed-simd —
//! `i16x8.relaxed_dot_i8x16_i7x16_s` fed a 7-bit second operand (`|a|`, see the module
//! docs of [`crate::quant`]) so every engine computes the same integers. The int4 and f16
//! rows expand codes / halves to f32 in registers.

use super::int4::{check_row, group_params};
use super::int8::check_tile;
use super::{QKernels, QNP, QNR};
#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;
// The memory64 build: the same simd128 intrinsics, re-exported under `wasm64`.
#[cfg(target_arch = "wasm64")]
use core::arch::wasm64::*;

pub(crate) static TABLE: QKernels = QKernels {
    name: if cfg!(target_feature = "relaxed-simd") {
        "wasm-relaxed-simd"
    } else {
        "wasm-simd128"
    },
    i8_tile,
    q4_row,
    f16_row,
};

/// `a · b + c` (fused or not at the engine's choice with relaxed-simd).
#[inline(always)]
fn madd(a: v128, b: v128, c: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, c)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(f32x4_mul(a, b), c)
    }
}

#[inline(always)]
fn hsum(v: v128) -> f32 {
    f32x4_extract_lane::<0>(v)
        + f32x4_extract_lane::<1>(v)
        + f32x4_extract_lane::<2>(v)
        + f32x4_extract_lane::<3>(v)
}

/// One row × one panel: 16 i32 sums into `acc[0..16]`.
///
/// # Safety
/// `a` holds `4·k4` bytes, `b` `64·k4`, `acc` 16 i32.
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
unsafe fn row_panel(k4: usize, a: *const i8, b: *const i8, acc: *mut i32) {
    let mut c = [i32x4_splat(0); 4];
    for g in 0..k4 {
        let av = v128_load32_splat(a.add(4 * g) as *const u32);
        // Second operand |a| ≤ 127 (top bit clear: all engines agree); first operand
        // sign(a)·w in [-127, 127]; i16 pair sums ≤ 2·127·127 never saturate.
        let aa = i8x16_abs(av);
        let s = i8x16_shr(av, 7);
        for (t, ct) in c.iter_mut().enumerate() {
            let w = v128_load(b.add(g * 64 + 16 * t) as *const v128);
            let ws = i8x16_sub(v128_xor(w, s), s);
            // i16 pair sums, widened by a dot with ones. Not the fused
            // `i32x4.relaxed_dot_i8x16_i7x16_add_s`: Node 20's V8 computes that one wrongly
            // inside loops (a 3-step sum came out as 2 steps), and LLVM fuses the obvious
            // `extadd_pairwise + add` back into it; on x64 both lower to the same
            // pmaddubsw + pmaddwd + paddd.
            let d = i16x8_relaxed_dot_i8x16_i7x16(ws, aa);
            *ct = i32x4_add(*ct, i32x4_dot_i16x8(d, i16x8_splat(1)));
        }
    }
    for (t, ct) in c.iter().enumerate() {
        v128_store(acc.add(4 * t) as *mut v128, *ct);
    }
}

/// One row × one panel, widening to i16 (`i32x4.dot_i16x8_s` gives each channel's sum as
/// two partial lanes, folded at the end).
///
/// # Safety
/// As for the relaxed version.
#[cfg(not(target_feature = "relaxed-simd"))]
#[inline(always)]
unsafe fn row_panel(k4: usize, a: *const i8, b: *const i8, acc: *mut i32) {
    let mut c = [i32x4_splat(0); 8];
    for g in 0..k4 {
        let a16 = i16x8_extend_low_i8x16(v128_load32_splat(a.add(4 * g) as *const u32));
        for t in 0..4 {
            let w = v128_load(b.add(g * 64 + 16 * t) as *const v128);
            c[2 * t] = i32x4_add(c[2 * t], i32x4_dot_i16x8(i16x8_extend_low_i8x16(w), a16));
            c[2 * t + 1] = i32x4_add(
                c[2 * t + 1],
                i32x4_dot_i16x8(i16x8_extend_high_i8x16(w), a16),
            );
        }
    }
    for t in 0..4 {
        let (l, h) = (c[2 * t], c[2 * t + 1]);
        let s = i32x4_add(
            i32x4_shuffle::<0, 2, 4, 6>(l, h),
            i32x4_shuffle::<1, 3, 5, 7>(l, h),
        );
        v128_store(acc.add(4 * t) as *mut v128, s);
    }
}

#[allow(clippy::too_many_arguments)]
fn i8_tile(
    rows: usize,
    k4: usize,
    a: &[i8],
    lda: usize,
    b: &[i8],
    panels: usize,
    _colsum: &[i32],
    acc: &mut [i32],
) {
    check_tile(rows, k4, a, lda, b, panels, acc);
    for r in 0..rows {
        for p in 0..panels {
            // SAFETY: `check_tile` bounds row r (4·k4 bytes from r·lda), panel p
            // (64·k4 bytes) and the 16 outputs at r·32 + p·16.
            unsafe {
                row_panel(
                    k4,
                    a.as_ptr().add(r * lda),
                    b.as_ptr().add(p * k4 * 64),
                    acc.as_mut_ptr().add(r * QNR * QNP + p * QNR),
                )
            }
        }
    }
}

/// Codes (bytes 0..=15) `4q..4q + 4` of `v` as four f32: one swizzle puts byte `4q + i`
/// in the low byte of 32-bit lane `i` and zeros above it (a swizzle index ≥ 16 reads 0),
/// then one conversion. Two instructions where shuffle + two extends + convert took four.
#[inline(always)]
fn codes4(v: v128, q: usize) -> v128 {
    const Z: u8 = 0x80;
    let sel = match q {
        0 => u8x16(0, Z, Z, Z, 1, Z, Z, Z, 2, Z, Z, Z, 3, Z, Z, Z),
        1 => u8x16(4, Z, Z, Z, 5, Z, Z, Z, 6, Z, Z, Z, 7, Z, Z, Z),
        2 => u8x16(8, Z, Z, Z, 9, Z, Z, Z, 10, Z, Z, Z, 11, Z, Z, Z),
        _ => u8x16(12, Z, Z, Z, 13, Z, Z, Z, 14, Z, Z, Z, 15, Z, Z, Z),
    };
    f32x4_convert_i32x4(i8x16_swizzle(v, sel))
}

fn q4_row(
    group: usize,
    x: &[f32],
    xsum: &[f32],
    codes: &[u8],
    scales: &[u16],
    mins: Option<&[u16]>,
) -> f32 {
    check_row(group, x, xsum, codes, scales);
    if let Some(m) = mins {
        assert_eq!(m.len(), scales.len());
    }
    let half = group / 2;
    let mask = u8x16_splat(0x0f);
    let mut tot = f32x4_splat(0.0);
    let mut off = 0f32;
    for (gi, &xs) in xsum.iter().enumerate() {
        let (d, m) = group_params(scales, mins, gi);
        off += m * xs;
        let mut s = [f32x4_splat(0.0); 4];
        for o in (0..half).step_by(16) {
            // SAFETY: group is a multiple of 32 and `check_row` bounds the group: 16 code
            // bytes at gi·half + o and 16 floats at gi·group + o and + half + o.
            unsafe {
                let xg = x.as_ptr().add(gi * group + o);
                let v = v128_load(codes.as_ptr().add(gi * half + o) as *const v128);
                let lo = v128_and(v, mask);
                let hi = u8x16_shr(v, 4);
                for (q, sq) in s.iter_mut().enumerate() {
                    let l = codes4(lo, q);
                    let h = codes4(hi, q);
                    *sq = madd(v128_load(xg.add(4 * q) as *const v128), l, *sq);
                    *sq = madd(v128_load(xg.add(half + 4 * q) as *const v128), h, *sq);
                }
            }
        }
        let sg = f32x4_add(f32x4_add(s[0], s[1]), f32x4_add(s[2], s[3]));
        tot = madd(sg, f32x4_splat(d), tot);
    }
    hsum(tot) + off
}

/// 4 finite halves (zero-extended into u32 lanes) to f32, exactly: the sign is moved to
/// bit 31 and exponent + mantissa to their f32 positions by one left and one arithmetic
/// right shift, then the product with 2^112 rebiases the exponent (and scales subnormal
/// halves, which land as f32 subnormals, exactly). Infinities and NaN would come out as
/// large finite values: weights holding them never reach this kernel (see
/// [`super::F16Weights`]).
#[inline(always)]
fn halves4(h: v128) -> v128 {
    let bits = v128_and(i32x4_shr(i32x4_shl(h, 16), 3), u32x4_splat(0x8fff_e000));
    f32x4_mul(bits, f32x4_splat(f32::from_bits(0x7780_0000)))
}

fn f16_row(x: &[f32], w: &[u16]) -> f32 {
    assert_eq!(x.len(), w.len());
    let n = x.len();
    let mut s = [f32x4_splat(0.0); 4];
    let mut i = 0;
    // SAFETY: every access is below `n` (equal lengths asserted).
    unsafe {
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        while i + 16 <= n {
            for t in 0..2 {
                let h = v128_load(wp.add(i + 8 * t) as *const v128);
                let lo = halves4(u32x4_extend_low_u16x8(h));
                let hi = halves4(u32x4_extend_high_u16x8(h));
                s[2 * t] = madd(v128_load(xp.add(i + 8 * t) as *const v128), lo, s[2 * t]);
                s[2 * t + 1] = madd(
                    v128_load(xp.add(i + 8 * t + 4) as *const v128),
                    hi,
                    s[2 * t + 1],
                );
            }
            i += 16;
        }
    }
    let mut t = hsum(f32x4_add(f32x4_add(s[0], s[1]), f32x4_add(s[2], s[3])));
    for (&a, &h) in x[i..].iter().zip(&w[i..]) {
        t += a * super::f16_bits_to_f32(h);
    }
    t
}
