//! x86_64 quantized kernels: an AVX2 table (int8 through `vpmaddubsw`/`vpmaddwd` with the
//! sign trick, F16C conversion, FMA) and an AVX512-VNNI table (int8 through `vpdpbusd`,
//! the rest shared with AVX2). Both chosen at run time by `is_x86_feature_detected!`.

use super::int4::{check_row, group_params};
use super::int8::check_tile;
use super::int8g::check_row as check_q8_row;
use super::{ActFormat, QKernels, QNP, QNR};
use core::arch::x86_64::*;

/// The tables usable on this CPU, worst first.
pub(crate) fn detected() -> Vec<&'static QKernels> {
    let mut v = Vec::new();
    if is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
    {
        v.push(&AVX2);
        #[cfg(wt_avx512)]
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni") {
            v.push(&vnni::VNNI);
        }
    }
    v
}

static AVX2: QKernels = QKernels {
    name: "avx2",
    act: ActFormat::Signed8,
    i8_tile: i8_tile_avx2,
    q4_row,
    q8_row,
    f16_row,
};

/// Horizontal sum of 8 lanes.
#[inline(always)]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// `R` rows × one panel per pass, 2 ymm accumulators per row (8 channels × i32 each).
#[target_feature(enable = "avx2")]
unsafe fn i8_avx2<const R: usize>(
    k4: usize,
    a: *const i8,
    lda: usize,
    b: *const i8,
    panels: usize,
    acc: *mut i32,
) {
    let ones = _mm256_set1_epi16(1);
    for p in 0..panels {
        let bp = b.add(p * k4 * 64);
        let mut c = [[_mm256_setzero_si256(); 2]; R];
        for g in 0..k4 {
            let w0 = _mm256_loadu_si256(bp.add(g * 64) as *const __m256i);
            let w1 = _mm256_loadu_si256(bp.add(g * 64 + 32) as *const __m256i);
            for (r, cr) in c.iter_mut().enumerate() {
                let av = _mm256_set1_epi32((a.add(r * lda + 4 * g) as *const i32).read_unaligned());
                // |a| ≤ 127 (unsigned operand) times sign(a)·w ∈ [-127, 127]: the i16 pair
                // sums stay below 32767, so vpmaddubsw never saturates.
                let aa = _mm256_abs_epi8(av);
                let p0 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(w0, av));
                let p1 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(w1, av));
                cr[0] = _mm256_add_epi32(cr[0], _mm256_madd_epi16(p0, ones));
                cr[1] = _mm256_add_epi32(cr[1], _mm256_madd_epi16(p1, ones));
            }
        }
        for (r, cr) in c.iter().enumerate() {
            let q = acc.add(r * QNR * QNP + p * QNR);
            _mm256_storeu_si256(q as *mut __m256i, cr[0]);
            _mm256_storeu_si256(q.add(8) as *mut __m256i, cr[1]);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn i8_tile_avx2(
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
    let (a, b, c) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
    // SAFETY: `check_tile` bounds every access; the table is only handed out after AVX2
    // detection.
    unsafe {
        match rows {
            1 => i8_avx2::<1>(k4, a, lda, b, panels, c),
            2 => i8_avx2::<2>(k4, a, lda, b, panels, c),
            3 => i8_avx2::<3>(k4, a, lda, b, panels, c),
            _ => i8_avx2::<4>(k4, a, lda, b, panels, c),
        }
    }
}

/// The AVX512-VNNI int8 tile. Its intrinsics and `target_feature`s are stable since Rust
/// 1.89, above the crate's minimum version: `build.rs` sets `wt_avx512` only on such
/// compilers, hence the `incompatible_msrv` allowance.
#[cfg(wt_avx512)]
#[allow(clippy::incompatible_msrv)]
mod vnni {
    use super::*;

    pub(super) static VNNI: QKernels = QKernels {
        name: "avx512-vnni",
        act: ActFormat::Signed8,
        i8_tile: i8_tile_vnni,
        q4_row,
        q8_row,
        f16_row,
    };

    /// `R` rows × `P` panels, one zmm accumulator (16 channels × i32) each; with one row the
    /// k loop runs two chains (even and odd groups) so `vpdpbusd`'s latency is hidden.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn i8_vnni<const R: usize, const P: usize>(
        k4: usize,
        a: *const i8,
        lda: usize,
        b: *const i8,
        colsum: *const i32,
        acc: *mut i32,
    ) {
        let flip = _mm512_set1_epi32(0x8080_8080_u32 as i32);
        let mut c = [[_mm512_setzero_si512(); P]; R];
        let mut c2 = [[_mm512_setzero_si512(); P]; R];
        let mut g = 0;
        if R == 1 {
            while g + 2 <= k4 {
                let a0 = _mm512_xor_si512(
                    _mm512_set1_epi32((a.add(4 * g) as *const i32).read_unaligned()),
                    flip,
                );
                let a1 = _mm512_xor_si512(
                    _mm512_set1_epi32((a.add(4 * g + 4) as *const i32).read_unaligned()),
                    flip,
                );
                for p in 0..P {
                    let bp = b.add(p * k4 * 64 + g * 64);
                    let w0 = _mm512_loadu_si512(bp as *const _);
                    let w1 = _mm512_loadu_si512(bp.add(64) as *const _);
                    c[0][p] = _mm512_dpbusd_epi32(c[0][p], a0, w0);
                    c2[0][p] = _mm512_dpbusd_epi32(c2[0][p], a1, w1);
                }
                g += 2;
            }
        }
        while g < k4 {
            let mut w = [_mm512_setzero_si512(); P];
            for (p, wp) in w.iter_mut().enumerate() {
                *wp = _mm512_loadu_si512(b.add(p * k4 * 64 + g * 64) as *const _);
            }
            for (r, cr) in c.iter_mut().enumerate() {
                // a + 128 as an unsigned byte (xor 0x80); corrected below by 128 · Σw.
                let av = _mm512_xor_si512(
                    _mm512_set1_epi32((a.add(r * lda + 4 * g) as *const i32).read_unaligned()),
                    flip,
                );
                for (cp, &wp) in cr.iter_mut().zip(&w) {
                    *cp = _mm512_dpbusd_epi32(*cp, av, wp);
                }
            }
            g += 1;
        }
        for p in 0..P {
            let corr = _mm512_slli_epi32::<7>(_mm512_loadu_si512(colsum.add(p * QNR) as *const _));
            for r in 0..R {
                let v = _mm512_sub_epi32(_mm512_add_epi32(c[r][p], c2[r][p]), corr);
                _mm512_storeu_si512(acc.add(r * QNR * QNP + p * QNR) as *mut _, v);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn i8_tile_vnni(
        rows: usize,
        k4: usize,
        a: &[i8],
        lda: usize,
        b: &[i8],
        panels: usize,
        colsum: &[i32],
        acc: &mut [i32],
    ) {
        check_tile(rows, k4, a, lda, b, panels, acc);
        assert!(colsum.len() >= panels * QNR);
        let (a, b, s, c) = (a.as_ptr(), b.as_ptr(), colsum.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `check_tile` bounds every access; the table is only handed out after
        // AVX512F + AVX512-VNNI detection.
        unsafe {
            match (rows, panels) {
                (1, 1) => i8_vnni::<1, 1>(k4, a, lda, b, s, c),
                (2, 1) => i8_vnni::<2, 1>(k4, a, lda, b, s, c),
                (3, 1) => i8_vnni::<3, 1>(k4, a, lda, b, s, c),
                (_, 1) => i8_vnni::<4, 1>(k4, a, lda, b, s, c),
                (1, _) => i8_vnni::<1, 2>(k4, a, lda, b, s, c),
                (2, _) => i8_vnni::<2, 2>(k4, a, lda, b, s, c),
                (3, _) => i8_vnni::<3, 2>(k4, a, lda, b, s, c),
                _ => i8_vnni::<4, 2>(k4, a, lda, b, s, c),
            }
        }
    }
}

/// 8 codes (bytes, already 0..=15) to 8 f32.
#[inline(always)]
unsafe fn codes8(v: __m128i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v))
}

#[target_feature(enable = "avx2,fma")]
unsafe fn q4_row_avx2(
    group: usize,
    x: &[f32],
    xsum: &[f32],
    codes: &[u8],
    scales: &[u16],
    mins: Option<&[u16]>,
) -> f32 {
    let half = group / 2;
    let mask = _mm_set1_epi8(0x0f);
    let mut tot = _mm256_setzero_ps();
    let mut off = 0f32;
    let (xp, cp) = (x.as_ptr(), codes.as_ptr());
    for (gi, &xs) in xsum.iter().enumerate() {
        let (d, m) = group_params(scales, mins, gi);
        off += m * xs;
        let xg = xp.add(gi * group);
        let cg = cp.add(gi * half);
        let mut s = [_mm256_setzero_ps(); 4];
        for o in (0..half).step_by(16) {
            let v = _mm_loadu_si128(cg.add(o) as *const __m128i);
            let lo = _mm_and_si128(v, mask);
            let hi = _mm_and_si128(_mm_srli_epi16::<4>(v), mask);
            s[0] = _mm256_fmadd_ps(_mm256_loadu_ps(xg.add(o)), codes8(lo), s[0]);
            s[1] = _mm256_fmadd_ps(
                _mm256_loadu_ps(xg.add(o + 8)),
                codes8(_mm_unpackhi_epi64(lo, lo)),
                s[1],
            );
            s[2] = _mm256_fmadd_ps(_mm256_loadu_ps(xg.add(half + o)), codes8(hi), s[2]);
            s[3] = _mm256_fmadd_ps(
                _mm256_loadu_ps(xg.add(half + o + 8)),
                codes8(_mm_unpackhi_epi64(hi, hi)),
                s[3],
            );
        }
        let sg = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3]));
        tot = _mm256_fmadd_ps(sg, _mm256_set1_ps(d), tot);
    }
    hsum(tot) + off
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
    // SAFETY: `check_row` bounds every access (group is a multiple of 32, so each half
    // group is whole 16-byte blocks); the table is only handed out after AVX2+FMA detection.
    unsafe { q4_row_avx2(group, x, xsum, codes, scales, mins) }
}

/// Group-wise int8 row: per group, 8 codes at a time sign-extended to i32 and converted to
/// f32 (`vpmovsxbd` + `vcvtdq2ps`), four FMA chains, then one FMA by the group's scale.
#[target_feature(enable = "avx2,fma")]
unsafe fn q8_row_avx2(group: usize, x: &[f32], codes: &[i8], scales: &[u16]) -> f32 {
    let mut tot = _mm256_setzero_ps();
    let (xp, cp) = (x.as_ptr(), codes.as_ptr());
    for (gi, &sc) in scales.iter().enumerate() {
        let xg = xp.add(gi * group);
        let cg = cp.add(gi * group);
        let mut s = [_mm256_setzero_ps(); 4];
        for o in (0..group).step_by(32) {
            for (t, st) in s.iter_mut().enumerate() {
                let c = _mm_loadl_epi64(cg.add(o + 8 * t) as *const __m128i);
                let w = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c));
                *st = _mm256_fmadd_ps(_mm256_loadu_ps(xg.add(o + 8 * t)), w, *st);
            }
        }
        let sg = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3]));
        tot = _mm256_fmadd_ps(sg, _mm256_set1_ps(super::f16_bits_to_f32(sc)), tot);
    }
    hsum(tot)
}

fn q8_row(group: usize, x: &[f32], codes: &[i8], scales: &[u16]) -> f32 {
    check_q8_row(group, x, codes, scales);
    // SAFETY: `check_q8_row` bounds every access (group is a multiple of 32: whole 8-byte
    // loads); the table is only handed out after AVX2+FMA detection.
    unsafe { q8_row_avx2(group, x, codes, scales) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_row_avx2(x: &[f32], w: &[u16]) -> f32 {
    let n = x.len();
    let (xp, wp) = (x.as_ptr(), w.as_ptr());
    let mut s = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (t, st) in s.iter_mut().enumerate() {
            let h = _mm_loadu_si128(wp.add(i + 8 * t) as *const __m128i);
            *st = _mm256_fmadd_ps(_mm256_loadu_ps(xp.add(i + 8 * t)), _mm256_cvtph_ps(h), *st);
        }
        i += 32;
    }
    while i + 8 <= n {
        let h = _mm_loadu_si128(wp.add(i) as *const __m128i);
        s[0] = _mm256_fmadd_ps(_mm256_loadu_ps(xp.add(i)), _mm256_cvtph_ps(h), s[0]);
        i += 8;
    }
    let mut t = hsum(_mm256_add_ps(
        _mm256_add_ps(s[0], s[1]),
        _mm256_add_ps(s[2], s[3]),
    ));
    while i < n {
        t += *xp.add(i) * super::f16_bits_to_f32(*wp.add(i));
        i += 1;
    }
    t
}

fn f16_row(x: &[f32], w: &[u16]) -> f32 {
    assert_eq!(x.len(), w.len());
    // SAFETY: equal lengths bound every access; the table is only handed out after
    // AVX2+FMA+F16C detection.
    unsafe { f16_row_avx2(x, w) }
}
