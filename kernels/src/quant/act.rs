//! Dynamic per-row (per-token) quantization of f32 activations to int8, computed at run
//! time before every int8 product. Two schemes ([`ActFormat`]): symmetric 8-bit (the
//! default, every table takes it) and asymmetric unsigned 7-bit (what the wasm relaxed-SIMD
//! table needs to run one relaxed dot product per 16 products with identical results in
//! every engine). A table states the scheme it needs, and every table given rows in a
//! scheme it accepts computes the same integers (see the module docs of [`crate::quant`]).

/// How a row of activations is quantized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ActFormat {
    /// Symmetric: `q = round(x / s)`, `s = max|x| / 127`, `q ∈ [-127, 127]`, zero point 0.
    /// Zero stays exactly zero; 255 levels over `[-max|x|, max|x|]`.
    #[default]
    Signed8,
    /// Asymmetric unsigned 7-bit: `q = clamp(round(x / s) + z, 0, 127)` with
    /// `s = (hi - lo) / 127` over `lo = min(x, 0)`, `hi = max(x, 0)` and the integer zero
    /// point `z = round(-lo / s)`, so zero is exactly `z`. 128 levels over the row's actual
    /// range: the same step as [`ActFormat::Signed8`] for one-signed rows (ReLU/GELU
    /// outputs), twice it for rows symmetric around zero. Why it exists: with the top bit of
    /// every code clear, wasm's `i16x8.relaxed_dot_i8x16_i7x16_s` takes the codes as its
    /// 7-bit operand directly, and every engine on every CPU computes the same sums.
    Unsigned7,
}

/// `m` rows quantized to int8: row `i` is `data[i·stride .. i·stride + k]` (then zero
/// padding up to `stride`, a multiple of 4), and `x ≈ (q - zero_points[i]) · scales[i]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuantRows {
    /// Rows.
    pub m: usize,
    /// Values per row (before padding).
    pub k: usize,
    /// Bytes per stored row: `k` rounded up to a multiple of 4.
    pub stride: usize,
    /// The codes, `m × stride`.
    pub data: Vec<i8>,
    /// One scale per row: `max|x| / 127` (or `(hi - lo) / 127`); 0 for a row of zeros (or
    /// of magnitudes so small, below ~1e-37, that `1 / scale` overflows), NaN if the row
    /// holds a NaN or an infinity.
    pub scales: Vec<f32>,
    /// One zero point per row (all 0 for [`ActFormat::Signed8`]).
    pub zero_points: Vec<i32>,
    /// The scheme the rows were quantized with.
    pub format: ActFormat,
}

/// Quantizes the `m × k` row-major matrix `a` (leading dimension `lda`) row by row into
/// `out` (reusing its buffers), symmetric ([`ActFormat::Signed8`]). Preconditions
/// (asserted): `a` holds the matrix.
pub fn quantize_rows(m: usize, k: usize, a: &[f32], lda: usize, out: &mut QuantRows) {
    quantize_rows_as(ActFormat::Signed8, m, k, a, lda, out)
}

/// [`quantize_rows`] in the scheme `format`.
pub fn quantize_rows_as(
    format: ActFormat,
    m: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    out: &mut QuantRows,
) {
    crate::gemm::check_matrix("quantize_rows a", m, k, lda, a.len());
    let stride = k.div_ceil(4) * 4;
    out.m = m;
    out.k = k;
    out.stride = stride;
    out.data.clear();
    out.data.resize(m * stride, 0);
    out.scales.clear();
    out.zero_points.clear();
    out.format = format;
    for i in 0..m {
        let row = &a[i * lda..i * lda + k];
        let dst = &mut out.data[i * stride..i * stride + k];
        let (s, z) = match format {
            ActFormat::Signed8 => (quantize_row(row, dst), 0),
            ActFormat::Unsigned7 => quantize_row_u7(row, dst),
        };
        out.scales.push(s);
        out.zero_points.push(z);
    }
}

/// Quantizes one row into `dst` as [`ActFormat::Signed8`] and returns its scale.
fn quantize_row(row: &[f32], dst: &mut [i8]) -> f32 {
    let (lo, hi, finite) = range(row);
    if !finite {
        dst.fill(0);
        return f32::NAN;
    }
    let amax = hi.max(-lo);
    if amax == 0.0 {
        dst.fill(0);
        return 0.0;
    }
    let scale = amax / 127.0;
    let inv = 127.0 / amax;
    if !inv.is_finite() {
        // max|x| below 127 / f32::MAX (~3.7e-37): a row of zeros, to within that.
        dst.fill(0);
        return 0.0;
    }
    // |x · inv| ≤ 127 up to rounding of `inv`; the clamp keeps -128 out regardless.
    codes(row, dst, inv, 0.0, -127.0, 127.0);
    scale
}

/// Quantizes one row into `dst` as [`ActFormat::Unsigned7`]; returns scale and zero point.
fn quantize_row_u7(row: &[f32], dst: &mut [i8]) -> (f32, i32) {
    let (lo, hi, finite) = range(row);
    if !finite {
        dst.fill(0);
        return (f32::NAN, 0);
    }
    if hi == lo {
        dst.fill(0);
        return (0.0, 0);
    }
    // Halves first so rows reaching ±f32::MAX at both ends do not overflow the range.
    let half = 0.5 * hi - 0.5 * lo;
    let scale = half / 63.5;
    let inv = 63.5 / half;
    if !inv.is_finite() {
        // A range below ~1.9e-37: a row of zeros, to within that.
        dst.fill(0);
        return (0.0, 0);
    }
    let z = round_small(-lo * inv).clamp(0.0, 127.0);
    codes(row, dst, inv, z, 0.0, 127.0);
    (scale, z as i32)
}

/// Lanes of the row scans: independent per-lane minima/maxima/flags that the compiler
/// keeps in vector registers (a plain fold over `f32::max` is a serial chain it may not
/// reorder, and stayed scalar: ~6-10 ns per value in wasm, a third of an int8 GEMM's time).
const LANES: usize = 8;

/// `(min(x, 0), max(x, 0), every x finite)` over `row`.
fn range(row: &[f32]) -> (f32, f32, bool) {
    let (mut lo, mut hi, mut bad) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
    #[cfg(all(target_family = "wasm", target_feature = "simd128"))]
    let row = simd::range(row, &mut lo, &mut hi, &mut bad);
    #[cfg(target_arch = "x86_64")]
    let row = x86::range(row, &mut lo, &mut hi, &mut bad);
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            let x = c[i];
            lo[i] = if x < lo[i] { x } else { lo[i] };
            hi[i] = if x > hi[i] { x } else { hi[i] };
            // x · 0 is ±0 for finite x and NaN for ±inf or NaN; NaN sticks.
            bad[i] += x * 0.0;
        }
    }
    for (i, &x) in tail.iter().enumerate() {
        lo[i] = if x < lo[i] { x } else { lo[i] };
        hi[i] = if x > hi[i] { x } else { hi[i] };
        bad[i] += x * 0.0;
    }
    let lo = lo.iter().fold(0f32, |a, &b| if b < a { b } else { a });
    let hi = hi.iter().fold(0f32, |a, &b| if b > a { b } else { a });
    (lo, hi, bad.iter().all(|&b| b == 0.0))
}

/// One lane of the scans from two integer maxima over the values' bits (both started at
/// 0, the bits of +0.0): `hb`, the signed maximum, and `lb`, the unsigned one. As `i32`,
/// non-negative floats (NaN and +inf above every finite one) order like their values and
/// every negative float is below 0, so `hb` is the bits of `max(x, 0)` — or ≥ +inf's bits
/// if the lane saw +inf or a positive NaN. As `u32`, negative floats lie above every
/// non-negative one and order by magnitude (-inf and negative NaNs on top), so if the lane
/// saw a negative float, `lb` is the bits of `min(x, 0)` — or ≥ -inf's bits for -inf or a
/// negative NaN. Returns the scalar lanes' `(lo, hi, bad)`: exactly the same minimum and
/// maximum (-0.0 never replaces the +0.0 start there either), and `bad` NaN where the lane
/// saw a non-finite value, 0 where not.
#[allow(dead_code)] // used only by the SIMD scans, which not every build has
fn from_bit_extremes(hb: i32, lb: u32) -> (f32, f32, f32) {
    let bad = hb >= f32::INFINITY.to_bits() as i32 || lb >= f32::NEG_INFINITY.to_bits();
    let hi = if bad { 0.0 } else { f32::from_bits(hb as u32) };
    // Above -0.0's bits: a negative non-zero float (below or at it: no negative seen, or
    // only -0.0, and the minimum stays +0.0).
    let lo = if !bad && lb > (-0.0f32).to_bits() {
        f32::from_bits(lb)
    } else {
        0.0
    };
    (lo, hi, if bad { f32::NAN } else { 0.0 })
}

/// `dst[i] = clamp(round(row[i] · inv) + z, min, max)` (ties to even), in lanes the
/// compiler vectorizes (compare-selects and a truncating conversion of values already in
/// range, no libm call, no saturating-cast fallback).
fn codes(row: &[f32], dst: &mut [i8], inv: f32, z: f32, min: f32, max: f32) {
    let one = |x: f32| {
        let v = round_small(x * inv) + z;
        let v = if v < min { min } else { v };
        let v = if v > max { max } else { v };
        // SAFETY: `v` is finite (the row is, and `inv` is a finite positive number) and
        // within [min, max] ⊂ [-127, 127], so the conversion is defined; unlike the
        // saturating `as`, it vectorizes to one truncating conversion.
        unsafe { v.to_int_unchecked::<i32>() as i8 }
    };
    #[cfg(all(target_family = "wasm", target_feature = "simd128"))]
    let (row, dst) = simd::codes(row, dst, inv, z, min, max);
    #[cfg(target_arch = "x86_64")]
    let (row, dst) = x86::codes(row, dst, inv, z, min, max);
    let mut src = row.chunks_exact(LANES);
    let mut out = dst.chunks_exact_mut(LANES);
    for (d, c) in (&mut out).zip(&mut src) {
        for i in 0..LANES {
            d[i] = one(c[i]);
        }
    }
    for (d, &x) in out.into_remainder().iter_mut().zip(src.remainder()) {
        *d = one(x);
    }
}

/// `v` rounded to the nearest integer, ties to even, for `|v| < 2^22` (here `|v| ≤ ~127`).
/// Why not `f32::round`: neither baseline x86_64 nor wasm has an instruction for it (ties
/// away from zero), so it compiled to a libm call per value, a visible share of an int8
/// convolution (one call per gathered input). Adding and subtracting 1.5·2^23 leaves the
/// sum in the binade where the f32 spacing is 1, so the addition itself rounds (ties to
/// even, IEEE's default) and the subtraction is exact; the loop stays vectorizable.
#[inline]
fn round_small(v: f32) -> f32 {
    (v + MAGIC) - MAGIC
}

/// 1.5 · 2^23: see [`round_small`].
const MAGIC: f32 = 12_582_912.0;

/// The two row scans in wasm SIMD128 (the compiler left the lane loops above scalar in
/// wasm). Same operations value for value — IEEE multiply/add, `f32x4.pmin/pmax` which
/// are exactly the compare-selects above, a truncating conversion of integral values —
/// so the codes equal the scalar ones bit for bit.
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
mod simd {
    #[cfg(target_arch = "wasm32")]
    use core::arch::wasm32::*;
    // The memory64 build: the same simd128 intrinsics under `wasm64`.
    #[cfg(target_arch = "wasm64")]
    use core::arch::wasm64::*;

    /// Folds the first `16·⌊len/16⌋` values of `row` into the lane accumulators (lanes
    /// 0..4 of each) and returns the rest.
    pub(super) fn range<'a>(
        row: &'a [f32],
        lo: &mut [f32; super::LANES],
        hi: &mut [f32; super::LANES],
        bad: &mut [f32; super::LANES],
    ) -> &'a [f32] {
        let n = row.len() / 16 * 16;
        // See `super::from_bit_extremes`: a signed and an unsigned integer maximum over the
        // bits give the range and the finiteness, 2 operations per 4 values (f32 min, max and
        // the `x · 0` flag took 4).
        let (mut h, mut l) = ([i32x4_splat(0); 4], [i32x4_splat(0); 4]);
        for c in row[..n].chunks_exact(16) {
            for t in 0..4 {
                // SAFETY: `c` holds 16 floats; lane t reads 4 of them.
                let x = unsafe { v128_load(c.as_ptr().add(4 * t) as *const v128) };
                h[t] = i32x4_max(h[t], x);
                l[t] = u32x4_max(l[t], x);
            }
        }
        let h = i32x4_max(i32x4_max(h[0], h[1]), i32x4_max(h[2], h[3]));
        let l = u32x4_max(u32x4_max(l[0], l[1]), u32x4_max(l[2], l[3]));
        let (mut hb, mut lb) = ([0i32; 4], [0u32; 4]);
        // SAFETY: each array holds 4 lanes.
        unsafe {
            v128_store(hb.as_mut_ptr() as *mut v128, h);
            v128_store(lb.as_mut_ptr() as *mut v128, l);
        }
        for i in 0..4 {
            (lo[i], hi[i], bad[i]) = super::from_bit_extremes(hb[i], lb[i]);
        }
        &row[n..]
    }

    /// Writes the codes of the first `16·⌊len/16⌋` values and returns the rest of both.
    ///
    /// Integer-domain rounding: for `|v| < 2^22`, `v + 1.5·2^23` lands in the binade whose
    /// spacing is 1, so the addition rounds `v` to an integer (ties to even, as
    /// [`super::round_small`]) and the sum's bit pattern is `bits(1.5·2^23) + round(v)`
    /// (the bits of floats in one binade grow by one per spacing). Subtracting that constant
    /// and adding `z` in i32 lanes, then clamping with integer min/max, gives exactly the
    /// scalar's `clamp(round_small(v) + z)` without the float subtraction, the float clamp
    /// and `i32x4.trunc_sat_f32x4_s` (which V8 lowers to about eight x64 instructions for
    /// its NaN and overflow cases): 5 operations per 4 values where there were about 14.
    pub(super) fn codes<'a, 'b>(
        row: &'a [f32],
        dst: &'b mut [i8],
        inv: f32,
        z: f32,
        min: f32,
        max: f32,
    ) -> (&'a [f32], &'b mut [i8]) {
        let n = row.len().min(dst.len()) / 16 * 16;
        let magic = f32x4_splat(super::MAGIC);
        // z, min and max are small integers (|·| ≤ 127), exact as i32.
        let off = i32x4_splat(z as i32 - super::MAGIC.to_bits() as i32);
        let inv = f32x4_splat(inv);
        let (min, max) = (i32x4_splat(min as i32), i32x4_splat(max as i32));
        for (c, d) in row[..n].chunks_exact(16).zip(dst[..n].chunks_exact_mut(16)) {
            let mut q = [i32x4_splat(0); 4];
            for (t, qt) in q.iter_mut().enumerate() {
                // SAFETY: `c` holds 16 floats; lane t reads 4 of them.
                let x = unsafe { v128_load(c.as_ptr().add(4 * t) as *const v128) };
                // |x · inv| ≤ ~127.5 (the row is finite, `inv` scales its range to 127).
                let r = i32x4_add(f32x4_add(f32x4_mul(x, inv), magic), off);
                *qt = i32x4_min(i32x4_max(r, min), max);
            }
            // Integral values in [-127, 127]: the saturating narrowings are exact.
            let b = i8x16_narrow_i16x8(
                i16x8_narrow_i32x4(q[0], q[1]),
                i16x8_narrow_i32x4(q[2], q[3]),
            );
            // SAFETY: `d` holds 16 bytes.
            unsafe { v128_store(d.as_mut_ptr() as *mut v128, b) };
        }
        let (r, d) = (&row[n..], &mut dst[n..]);
        (r, d)
    }
}

/// The two row scans in AVX2, chosen at run time (the crate is built for baseline x86_64,
/// where the lane loops above compile to SSE2 at best: 73 µs to quantize a 256×384 block,
/// a quarter of the VNNI GEMM's time at the MiniLM shapes). The range scan takes the
/// signed and unsigned integer maxima over the bits, as the wasm one does (see
/// [`from_bit_extremes`]). The code pass does the scalar lanes' operations value for value —
/// IEEE multiply then add (never fused), `vminps`/`vmaxps` as the compare-select clamp, one
/// truncating conversion of integral values — so the codes equal the scalar ones bit for
/// bit.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    /// Folds the first `32·⌊len/32⌋` values of `row` into the lane accumulators and
    /// returns the rest (all of `row` without AVX2).
    pub(super) fn range<'a>(
        row: &'a [f32],
        lo: &mut [f32; super::LANES],
        hi: &mut [f32; super::LANES],
        bad: &mut [f32; super::LANES],
    ) -> &'a [f32] {
        if row.len() < 32 || !is_x86_feature_detected!("avx2") {
            return row;
        }
        // SAFETY: AVX2 was detected.
        unsafe { range_avx2(row, lo, hi, bad) }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn range_avx2<'a>(
        row: &'a [f32],
        lo: &mut [f32; super::LANES],
        hi: &mut [f32; super::LANES],
        bad: &mut [f32; super::LANES],
    ) -> &'a [f32] {
        let n = row.len() / 32 * 32;
        // See `super::from_bit_extremes`: 2 integer maxima per 8 values.
        let (mut h, mut l) = ([_mm256_setzero_si256(); 4], [_mm256_setzero_si256(); 4]);
        let p = row.as_ptr();
        for i in (0..n).step_by(32) {
            for t in 0..4 {
                // SAFETY: i + 32 ≤ n ≤ row.len(); lane t reads 8 of those floats.
                let x = _mm256_loadu_si256(p.add(i + 8 * t) as *const __m256i);
                h[t] = _mm256_max_epi32(h[t], x);
                l[t] = _mm256_max_epu32(l[t], x);
            }
        }
        let h = _mm256_max_epi32(_mm256_max_epi32(h[0], h[1]), _mm256_max_epi32(h[2], h[3]));
        let l = _mm256_max_epu32(_mm256_max_epu32(l[0], l[1]), _mm256_max_epu32(l[2], l[3]));
        let (mut hb, mut lb) = ([0i32; 8], [0u32; 8]);
        _mm256_storeu_si256(hb.as_mut_ptr() as *mut __m256i, h);
        _mm256_storeu_si256(lb.as_mut_ptr() as *mut __m256i, l);
        for i in 0..8 {
            (lo[i], hi[i], bad[i]) = super::from_bit_extremes(hb[i], lb[i]);
        }
        &row[n..]
    }

    /// Writes the codes of the first `32·⌊len/32⌋` values and returns the rest of both
    /// (all of them without AVX2).
    pub(super) fn codes<'a, 'b>(
        row: &'a [f32],
        dst: &'b mut [i8],
        inv: f32,
        z: f32,
        min: f32,
        max: f32,
    ) -> (&'a [f32], &'b mut [i8]) {
        if row.len().min(dst.len()) < 32 || !is_x86_feature_detected!("avx2") {
            return (row, dst);
        }
        // SAFETY: AVX2 was detected.
        unsafe { codes_avx2(row, dst, inv, z, min, max) }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn codes_avx2<'a, 'b>(
        row: &'a [f32],
        dst: &'b mut [i8],
        inv: f32,
        z: f32,
        min: f32,
        max: f32,
    ) -> (&'a [f32], &'b mut [i8]) {
        let n = row.len().min(dst.len()) / 32 * 32;
        let magic = _mm256_set1_ps(super::MAGIC);
        let (inv, z, min, max) = (
            _mm256_set1_ps(inv),
            _mm256_set1_ps(z),
            _mm256_set1_ps(min),
            _mm256_set1_ps(max),
        );
        // vpackssdw / vpacksswb work within 128-bit halves: this puts the 4-byte groups back
        // in order.
        let unshuffle = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        let (p, d) = (row.as_ptr(), dst.as_mut_ptr());
        for i in (0..n).step_by(32) {
            let mut q = [_mm256_setzero_si256(); 4];
            for (t, qt) in q.iter_mut().enumerate() {
                // SAFETY: i + 32 ≤ n ≤ row.len().
                let x = _mm256_loadu_ps(p.add(i + 8 * t));
                let v = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, inv), magic), magic);
                let v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, z), min), max);
                *qt = _mm256_cvttps_epi32(v);
            }
            // Integral values in [-127, 127]: the saturating narrowings are exact.
            let w = _mm256_packs_epi16(
                _mm256_packs_epi32(q[0], q[1]),
                _mm256_packs_epi32(q[2], q[3]),
            );
            let w = _mm256_permutevar8x32_epi32(w, unshuffle);
            // SAFETY: i + 32 ≤ n ≤ dst.len().
            _mm256_storeu_si256(d.add(i) as *mut __m256i, w);
        }
        (&row[n..], &mut dst[n..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_scales_zero_and_nonfinite() {
        let a = [
            1.0,
            -2.0,
            0.5,
            0.0,
            0.0, //
            0.0,
            0.0,
            0.0,
            0.0,
            0.0, //
            1.0,
            f32::NAN,
            0.0,
            0.0,
            0.0, //
            -3e38,
            3e38,
            1e-38,
            0.0,
            0.0,
        ];
        let mut q = QuantRows::default();
        quantize_rows(4, 3, &a, 5, &mut q);
        assert_eq!(q.stride, 4);
        assert_eq!(&q.data[0..4], &[64, -127, 32, 0]);
        assert_eq!(q.scales[0], 2.0 / 127.0);
        assert_eq!(&q.data[4..8], &[0; 4]);
        assert_eq!(q.scales[1], 0.0);
        assert!(q.scales[2].is_nan());
        assert_eq!(&q.data[12..16], &[-127, 127, 0, 0]);
        assert!(q.scales[3].is_finite());
    }

    #[test]
    fn codes_stay_within_127_and_error_is_half_a_step() {
        let a: Vec<f32> = (0..1000)
            .map(|i| ((i * 37 % 1001) as f32 - 500.0) * 0.013)
            .collect();
        let mut q = QuantRows::default();
        quantize_rows(1, a.len(), &a, a.len(), &mut q);
        let s = q.scales[0];
        for (&x, &c) in a.iter().zip(&q.data) {
            assert!(c != -128);
            assert!((x - c as f32 * s).abs() <= 0.5 * s * 1.0001, "{x} vs {c}");
        }
    }

    #[test]
    fn unsigned7_rows_keep_zero_exact_and_error_within_half_a_step() {
        let rows: [&[f32]; 5] = [
            &[1.0, -2.0, 0.5, 0.0, 3.25],
            &[0.0, 0.0, 0.0, 0.0, 0.0],
            &[0.25, 1.0, 0.0, 0.75, 0.5],
            &[-3e38, 3e38, 1.0, 0.0, -1e-30],
            &[-1.0, -0.5, -0.25, 0.0, -0.125],
        ];
        let a: Vec<f32> = rows.concat();
        let mut q = QuantRows::default();
        quantize_rows_as(ActFormat::Unsigned7, 5, 5, &a, 5, &mut q);
        assert_eq!(q.format, ActFormat::Unsigned7);
        assert_eq!(q.stride, 8);
        assert_eq!((q.scales[1], q.zero_points[1]), (0.0, 0));
        for (i, row) in rows.iter().enumerate() {
            let (s, z) = (q.scales[i], q.zero_points[i]);
            assert!((0..=127).contains(&z));
            for (p, &x) in row.iter().enumerate() {
                let c = q.data[i * 8 + p];
                assert!((0..=127).contains(&c), "row {i}: code {c}");
                if x == 0.0 {
                    assert_eq!(c as i32, z, "row {i}: zero is the zero point");
                }
                let back = (c as i32 - z) as f32 * s;
                assert!(
                    (x - back).abs() <= 0.5 * s * 1.0001,
                    "row {i}: {x} vs {back}"
                );
            }
            assert_eq!(&q.data[i * 8 + 5..i * 8 + 8], &[0; 3], "padding");
        }
        // One-signed rows get the whole 128 levels: the step is max / 127.
        assert_eq!(q.zero_points[2], 0);
        assert_eq!(q.zero_points[4], 127);
        // Magnitudes whose inverse scale overflows count as zeros.
        for fmt in [ActFormat::Signed8, ActFormat::Unsigned7] {
            quantize_rows_as(fmt, 1, 3, &[1e-45, -2e-45, 0.0], 3, &mut q);
            assert_eq!((q.scales[0], q.zero_points[0]), (0.0, 0));
            assert_eq!(&q.data[..3], &[0; 3]);
        }
        // A NaN gives a NaN scale.
        quantize_rows_as(ActFormat::Unsigned7, 1, 2, &[f32::NAN, 1.0], 2, &mut q);
        assert!(q.scales[0].is_nan());
    }

    /// `range` (SIMD scans where the build has them) against a plain compare-select scan.
    fn check_range(row: &[f32]) {
        let (lo, hi, finite) = range(row);
        assert_eq!(finite, row.iter().all(|x| x.is_finite()), "{row:?}");
        if finite {
            let want_lo = row.iter().fold(0f32, |m, &x| if x < m { x } else { m });
            let want_hi = row.iter().fold(0f32, |m, &x| if x > m { x } else { m });
            assert_eq!(lo.to_bits(), want_lo.to_bits(), "lo of {row:?}");
            assert_eq!(hi.to_bits(), want_hi.to_bits(), "hi of {row:?}");
        }
    }

    #[test]
    fn range_equals_a_plain_scan_with_special_values_anywhere() {
        let specials = [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            0.0,
            f32::MAX,
            -f32::MAX,
            1e-45,
            -1e-45,
            f32::MIN_POSITIVE,
        ];
        for len in [1, 15, 16, 17, 31, 32, 33, 48, 64, 100] {
            let base: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 19) as f32 - 9.0) * 0.25)
                .collect();
            let pos: Vec<f32> = base.iter().map(|x| x.abs()).collect();
            let neg: Vec<f32> = base.iter().map(|x| -x.abs()).collect();
            for row in [&base, &pos, &neg] {
                check_range(row);
                for &sp in &specials {
                    for at in [0, len / 2, len - 1] {
                        let mut r = row.clone();
                        r[at] = sp;
                        check_range(&r);
                    }
                }
            }
            check_range(&vec![-0.0; len]);
        }
    }

    #[test]
    fn codes_equal_a_plain_scalar_formula_for_every_length() {
        // The lane loops (and wasm's SIMD path) against the formulas written out per value.
        let mut seed = 7u32;
        for len in 0..100 {
            let a: Vec<f32> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.3) * 5.0
                })
                .collect();
            for fmt in [ActFormat::Signed8, ActFormat::Unsigned7] {
                let mut q = QuantRows::default();
                quantize_rows_as(fmt, 1, len, &a, len, &mut q);
                let lo = a.iter().fold(0f32, |m, &x| m.min(x));
                let hi = a.iter().fold(0f32, |m, &x| m.max(x));
                let want: Vec<i8> = match fmt {
                    ActFormat::Signed8 => {
                        let inv = 127.0 / hi.max(-lo);
                        a.iter()
                            .map(|&x| (x * inv).round_ties_even().clamp(-127.0, 127.0) as i8)
                            .collect()
                    }
                    ActFormat::Unsigned7 => {
                        let inv = 63.5 / (0.5 * hi - 0.5 * lo);
                        let z = (-lo * inv).round_ties_even();
                        assert_eq!(q.zero_points[0], z as i32);
                        a.iter()
                            .map(|&x| ((x * inv).round_ties_even() + z).clamp(0.0, 127.0) as i8)
                            .collect()
                    }
                };
                if len > 0 {
                    assert_eq!(&q.data[..len], &want[..], "{fmt:?} len {len}");
                }
            }
        }
    }

    #[test]
    fn round_small_is_ties_to_even() {
        for (v, want) in [
            (0.5f32, 0.0f32),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, -0.0),
            (-1.5, -2.0),
            (126.5, 126.0),
            (127.49, 127.0),
            (-63.7, -64.0),
            (0.49999997, 0.0),
        ] {
            assert_eq!(round_small(v), want, "{v}");
        }
        for i in -130_000..130_000 {
            let v = i as f32 / 1000.0;
            assert_eq!(round_small(v), v.round_ties_even(), "{v}");
        }
    }
}
