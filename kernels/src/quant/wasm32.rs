//! wasm32 quantized kernels, compiled in when the crate is built with simd128: int8
//! register-blocked tiles through `i32x4.dot_i16x8_s` on i16 halves, or — with
//! relaxed-simd — `i16x8.relaxed_dot_i8x16_i7x16_s` fed 7-bit unsigned activation codes
//! as its second operand (see the module docs of [`crate::quant`]) so every engine
//! computes the same integers. The int4 and f16
//! rows expand codes / halves to f32 in registers.

use super::int4::{check_row, group_params};
use super::int8::check_tile;
use super::int8g::check_row as check_q8_row;
use super::{ActFormat, QKernels, QNP, QNR};
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
    act: if cfg!(target_feature = "relaxed-simd") {
        ActFormat::Unsigned7
    } else {
        ActFormat::Signed8
    },
    i8_tile,
    q4_row,
    q8_row,
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

/// `R` rows × `4·V` columns of one panel: `acc[r·32 + i] = Σ_k a[r][k] · B[k][i]` for the
/// columns of the `V` 16-byte vectors at `b`, `b + 16`, ... of each 64-byte group. The
/// weights are loaded once per group for all `R` rows (register blocking: `R·V`
/// accumulators, `V` weight vectors and one broadcast activation word stay in the 16
/// registers engines use).
///
/// Relaxed SIMD: the activation codes (`ActFormat::Unsigned7`, in `[0, 127]`) are the 7-bit
/// operand of `i16x8.relaxed_dot_i8x16_i7x16_s`, the weights the signed one; pair sums
/// `≤ 2·127·127` never saturate, and a dot with ones widens them to i32. Not the fused
/// `i32x4.relaxed_dot_i8x16_i7x16_add_s`: Node 20's V8 computes that one wrongly inside
/// loops (a 3-step sum came out as 2 steps), and on x64 without AVX-VNNI both lower to the
/// same `pmaddubsw + pmaddwd + paddd` (the ones vector stays in a register here).
///
/// # Safety
/// Row `r`'s `4·k4` bytes at `a + r·lda`, `64·k4` bytes from `b` (group stride 64) and
/// `R` rows of `4·V` i32 at `acc` (row stride 32) are in bounds.
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
unsafe fn tile<const R: usize, const V: usize>(
    k4: usize,
    a: *const i8,
    lda: usize,
    b: *const i8,
    acc: *mut i32,
) {
    let ones = i16x8_splat(1);
    let mut c = [[i32x4_splat(0); V]; R];
    for g in 0..k4 {
        let mut w = [i32x4_splat(0); V];
        for (t, wt) in w.iter_mut().enumerate() {
            *wt = v128_load(b.add(g * 64 + 16 * t) as *const v128);
        }
        for (r, cr) in c.iter_mut().enumerate() {
            let av = v128_load32_splat(a.add(r * lda + 4 * g) as *const u32);
            for (ct, &wt) in cr.iter_mut().zip(&w) {
                let d = i16x8_relaxed_dot_i8x16_i7x16(wt, av);
                *ct = i32x4_add(*ct, i32x4_dot_i16x8(d, ones));
            }
        }
    }
    store::<R, V>(&c, acc);
}

/// As the relaxed version, with plain SIMD128 and any codes in `[-127, 127]`: each 16-byte
/// weight vector is split into its even bytes (inputs 0 and 2 of a group, sign-extended by
/// a shift left and an arithmetic shift right of the i16 lanes) and odd bytes (inputs 1
/// and 3, one arithmetic shift), the broadcast activation word likewise, and
/// `i32x4.dot_i16x8_s` of matching halves gives each lane one column's complete sum (no
/// fold at the end, no widening instructions).
///
/// # Safety
/// As for the relaxed version.
#[cfg(not(target_feature = "relaxed-simd"))]
#[inline(always)]
unsafe fn tile<const R: usize, const V: usize>(
    k4: usize,
    a: *const i8,
    lda: usize,
    b: *const i8,
    acc: *mut i32,
) {
    let mut c = [[i32x4_splat(0); V]; R];
    for g in 0..k4 {
        let mut we = [i32x4_splat(0); V];
        let mut wo = [i32x4_splat(0); V];
        for t in 0..V {
            let w = v128_load(b.add(g * 64 + 16 * t) as *const v128);
            we[t] = i16x8_shr(i16x8_shl(w, 8), 8);
            wo[t] = i16x8_shr(w, 8);
        }
        for (r, cr) in c.iter_mut().enumerate() {
            let x = v128_load32_splat(a.add(r * lda + 4 * g) as *const u32);
            let (ae, ao) = (i16x8_shr(i16x8_shl(x, 8), 8), i16x8_shr(x, 8));
            for (t, ct) in cr.iter_mut().enumerate() {
                let s = i32x4_add(i32x4_dot_i16x8(we[t], ae), i32x4_dot_i16x8(wo[t], ao));
                *ct = i32x4_add(*ct, s);
            }
        }
    }
    store::<R, V>(&c, acc);
}

/// Stores `R × V` accumulators at `acc` (row stride 32 i32).
///
/// # Safety
/// `R` rows of `4·V` i32 at `acc` with row stride `QNR·QNP` are in bounds.
#[inline(always)]
unsafe fn store<const R: usize, const V: usize>(c: &[[v128; V]; R], acc: *mut i32) {
    for (r, cr) in c.iter().enumerate() {
        for (t, &ct) in cr.iter().enumerate() {
            v128_store(acc.add(r * QNR * QNP + 4 * t) as *mut v128, ct);
        }
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
    let (ap, cp) = (a.as_ptr(), acc.as_mut_ptr());
    for p in 0..panels {
        // SAFETY: `check_tile` bounds `rows` rows of 4·k4 bytes at stride lda, panel p
        // (64·k4 bytes) and the `rows × 16` outputs at r·32 + p·16; each call below reads
        // within them (columns 8..16 of a panel start 32 bytes into every group).
        unsafe {
            let bp = b.as_ptr().add(p * k4 * 64);
            let c = cp.add(p * QNR);
            match rows {
                1 => tile::<1, 4>(k4, ap, lda, bp, c),
                2 => tile::<2, 4>(k4, ap, lda, bp, c),
                3 => {
                    tile::<3, 2>(k4, ap, lda, bp, c);
                    tile::<3, 2>(k4, ap, lda, bp.add(32), c.add(8));
                }
                _ => {
                    tile::<4, 2>(k4, ap, lda, bp, c);
                    tile::<4, 2>(k4, ap, lda, bp.add(32), c.add(8));
                }
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

/// Group-wise int8 row: 16 codes per load, sign-extended to i16 then i32 and converted to
/// f32, four multiply-add chains, then one multiply-add by the group's scale.
fn q8_row(group: usize, x: &[f32], codes: &[i8], scales: &[u16]) -> f32 {
    check_q8_row(group, x, codes, scales);
    let mut tot = f32x4_splat(0.0);
    for (gi, &sc) in scales.iter().enumerate() {
        let mut s = [f32x4_splat(0.0); 4];
        for o in (0..group).step_by(16) {
            // SAFETY: group is a multiple of 32 and `check_q8_row` bounds the group: 16
            // code bytes and 16 floats at gi·group + o.
            unsafe {
                let xg = x.as_ptr().add(gi * group + o);
                let v = v128_load(codes.as_ptr().add(gi * group + o) as *const v128);
                let lo = i16x8_extend_low_i8x16(v);
                let hi = i16x8_extend_high_i8x16(v);
                let w = [
                    i32x4_extend_low_i16x8(lo),
                    i32x4_extend_high_i16x8(lo),
                    i32x4_extend_low_i16x8(hi),
                    i32x4_extend_high_i16x8(hi),
                ];
                for (q, sq) in s.iter_mut().enumerate() {
                    let wf = f32x4_convert_i32x4(w[q]);
                    *sq = madd(v128_load(xg.add(4 * q) as *const v128), wf, *sq);
                }
            }
        }
        let sg = f32x4_add(f32x4_add(s[0], s[1]), f32x4_add(s[2], s[3]));
        tot = madd(sg, f32x4_splat(super::f16_bits_to_f32(sc)), tot);
    }
    hsum(tot)
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
