//! A tiny SIMD vocabulary ([`Simd`]) and the kernels written once over it: the
//! transcendental functions (same formulas and constants as `activation::scalar`) and the
//! GEMM micro-tile. Each architecture implements [`Simd`] for its vector type and
//! instantiates these generics inside its `#[target_feature]` entry points, where
//! `#[inline(always)]` makes everything compile to straight-line vector code.
//!
//! Safety contract: a `Simd` implementation may only be used where its instruction set is
//! enabled (inside a function compiled with the feature, reached only after detection).

#![allow(dead_code)] // each arch uses the subset it needs

use crate::activation::scalar::c;

/// Operations on a vector of `LANES` f32 lanes. Masks are vectors with all bits set in
/// the true lanes.
pub(crate) trait Simd: Copy {
    const LANES: usize;
    /// # Safety
    /// `p` is valid for reading `LANES` floats (no alignment requirement).
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` is valid for writing `LANES` floats (no alignment requirement).
    unsafe fn store(self, p: *mut f32);
    fn splat(v: f32) -> Self;
    /// # Safety
    /// `p` is valid for reading one float.
    #[inline(always)]
    unsafe fn load_splat(p: *const f32) -> Self {
        Self::splat(*p)
    }
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// `self * b + c`, fused where the hardware has it.
    fn mul_add(self, b: Self, c: Self) -> Self;
    fn floor(self) -> Self;
    fn abs(self) -> Self;
    /// `min(max(self, lo), hi)` keeping NaN lanes NaN.
    fn clamp(self, lo: Self, hi: Self) -> Self;
    fn lt(self, o: Self) -> Self;
    fn ge(self, o: Self) -> Self;
    fn eq(self, o: Self) -> Self;
    fn is_nan(self) -> Self;
    /// Bitwise or (of masks).
    fn or(self, o: Self) -> Self;
    /// `mask ? a : b` per lane.
    fn select(mask: Self, a: Self, b: Self) -> Self;
    /// Magnitude of `self` with the sign bit of `sign`.
    fn copysign(self, sign: Self) -> Self;
    /// For integral `n` in [-150, 128]: `(2^(n>>1), 2^(n - (n>>1)))`, both normal floats.
    fn pow2_split(n: Self) -> (Self, Self);
    /// For positive normal `x`: (biased exponent field as float, mantissa scaled to [0.5, 1)).
    fn frexp_parts(self) -> (Self, Self);
}

#[inline(always)]
fn horner<S: Simd>(x: S, coef: &[f32]) -> S {
    let mut p = S::splat(coef[0]);
    for &k in &coef[1..] {
        p = p.mul_add(x, S::splat(k));
    }
    p
}

#[inline(always)]
pub(crate) fn exp<S: Simd>(x: S) -> S {
    let x = x.clamp(S::splat(c::EXP_LO), S::splat(c::EXP_HI));
    let n = x.mul_add(S::splat(c::LOG2E), S::splat(0.5)).floor();
    let r = x.sub(n.mul(S::splat(c::LN2_HI)));
    let r = r.sub(n.mul(S::splat(c::LN2_LO)));
    let p = horner(r, &c::EXP_P);
    let y = p.mul_add(r.mul(r), r).add(S::splat(1.0));
    let (s1, s2) = S::pow2_split(n);
    y.mul(s1).mul(s2)
}

#[inline(always)]
pub(crate) fn tanh<S: Simd>(x: S) -> S {
    let a = x.abs();
    let z = x.mul(x);
    let small = x.mul(z).mul_add(horner(z, &c::TANH_P), x);
    let e = exp(a.add(a));
    let one = S::splat(1.0);
    let big = one.sub(S::splat(2.0).div(e.add(one))).copysign(x);
    S::select(a.lt(S::splat(c::TANH_SMALL)), small, big)
}

#[inline(always)]
pub(crate) fn erf<S: Simd>(x: S) -> S {
    let lim = S::splat(c::ERF_ONE);
    let xc = x.clamp(S::splat(-c::ERF_ONE), lim);
    let z = xc.mul(xc);
    let p = xc.mul(horner(z, &c::ERF_A));
    let q = horner(z, &c::ERF_B);
    S::select(x.abs().ge(lim), S::splat(1.0).copysign(x), p.div(q))
}

#[inline(always)]
pub(crate) fn sigmoid<S: Simd>(x: S) -> S {
    let one = S::splat(1.0);
    one.div(one.add(exp(S::splat(0.0).sub(x))))
}

#[inline(always)]
pub(crate) fn log<S: Simd>(x: S) -> S {
    let zero = S::splat(0.0);
    let tiny = x.lt(S::splat(f32::MIN_POSITIVE));
    let xs = S::select(tiny, x.mul(S::splat(8_388_608.0)), x);
    let (ebits, m) = xs.frexp_parts();
    let e = ebits
        .sub(S::splat(126.0))
        .sub(S::select(tiny, S::splat(23.0), zero));
    let lo = m.lt(S::splat(c::SQRT_HALF));
    let one = S::splat(1.0);
    let e = S::select(lo, e.sub(one), e);
    let m = S::select(lo, m.add(m), m).sub(one);
    let z = m.mul(m);
    let y = horner(m, &c::LOG_P).mul(m).mul(z);
    let y = e.mul_add(S::splat(c::LN2_LO), y);
    let y = z.mul_add(S::splat(-0.5), y);
    let r = m.add(y);
    let r = e.mul_add(S::splat(c::LN2_HI), r);
    // Special values: x < 0 or NaN → NaN, 0 → -inf, +inf → +inf.
    let r = S::select(x.eq(S::splat(f32::INFINITY)), x, r);
    let r = S::select(x.eq(zero), S::splat(f32::NEG_INFINITY), r);
    S::select(x.lt(zero).or(x.is_nan()), S::splat(f32::NAN), r)
}

#[inline(always)]
pub(crate) fn silu<S: Simd>(x: S) -> S {
    x.mul(sigmoid(x))
}

#[inline(always)]
pub(crate) fn gelu<S: Simd>(x: S) -> S {
    let half = S::splat(0.5);
    let e = erf(x.mul(S::splat(c::SQRT_HALF)));
    half.mul(x).mul(S::splat(1.0).add(e))
}

#[inline(always)]
pub(crate) fn gelu_tanh<S: Simd>(x: S) -> S {
    let x3 = x.mul(x).mul(x);
    let u = S::splat(c::GELU_K0).mul(x3.mul_add(S::splat(c::GELU_K1), x));
    S::splat(0.5).mul(x).mul(S::splat(1.0).add(tanh(u)))
}

/// Applies `$f::<$S>` to every element of `$x`, the tail through a zero-padded stack
/// buffer. A macro rather than a function taking `impl Fn`: the `Fn::call` shim would not
/// be inlined into the `#[target_feature]` caller, leaving every vector op a call.
macro_rules! map_slice {
    ($S:ty, $x:expr, $f:path) => {{
        let x: &mut [f32] = $x;
        const L: usize = <$S as $crate::arch::simd::Simd>::LANES;
        let mut chunks = x.chunks_exact_mut(L);
        for ch in &mut chunks {
            // SAFETY: `ch` has exactly L elements.
            unsafe {
                let v = <$S as $crate::arch::simd::Simd>::load(ch.as_ptr());
                $crate::arch::simd::Simd::store($f(v), ch.as_mut_ptr())
            }
        }
        let rem = chunks.into_remainder();
        if !rem.is_empty() {
            let mut buf = [0f32; L];
            buf[..rem.len()].copy_from_slice(rem);
            // SAFETY: `buf` holds L elements.
            unsafe {
                let v = <$S as $crate::arch::simd::Simd>::load(buf.as_ptr());
                $crate::arch::simd::Simd::store($f(v), buf.as_mut_ptr())
            }
            rem.copy_from_slice(&buf[..rem.len()]);
        }
    }};
}
pub(crate) use map_slice;

/// GEMM micro-tile `acc[MR × NR] = a_panel · b_panel` (see `arch::TileFn`), computed in
/// column strips of `NV` vectors: the `MR × NV` accumulators of a strip stay in registers.
/// AVX2 uses it with one strip (NV·8 = 16). (wasm has its own hand-unrolled version in
/// `arch::wasm32`: LLVM keeps these generic accumulators in linear memory there.)
///
/// `MR` rows are computed from an A panel whose row stride is `STRIDE` (the table's `mr`;
/// `MR < STRIDE` serves the last, partial panel without computing its zero rows).
#[inline(always)]
pub(crate) fn gemm_tile<S: Simd, const MR: usize, const STRIDE: usize, const NV: usize>(
    kc: usize,
    a: &[f32],
    b: &[f32],
    acc: &mut [f32],
) {
    const { assert!(MR <= STRIDE && STRIDE <= super::MR_MAX) };
    assert_eq!(super::NR % (NV * S::LANES), 0);
    assert!(a.len() >= kc * STRIDE && b.len() >= kc * super::NR && acc.len() >= MR * super::NR);
    for col0 in (0..super::NR).step_by(NV * S::LANES) {
        let mut cc = [[S::splat(0.0); NV]; MR];
        let (ap, bp) = (a.as_ptr(), b.as_ptr());
        for p in 0..kc {
            // SAFETY: p < kc, col0 + NV * LANES <= NR, and the asserts above bound every
            // offset below.
            unsafe {
                let mut bv = [S::splat(0.0); NV];
                for (v, slot) in bv.iter_mut().enumerate() {
                    *slot = S::load(bp.add(p * super::NR + col0 + v * S::LANES));
                }
                for (i, row) in cc.iter_mut().enumerate() {
                    let av = S::load_splat(ap.add(p * STRIDE + i));
                    for (cv, &bvv) in row.iter_mut().zip(bv.iter()) {
                        *cv = av.mul_add(bvv, *cv);
                    }
                }
            }
        }
        for (i, row) in cc.iter().enumerate() {
            for (v, cv) in row.iter().enumerate() {
                // SAFETY: i < MR, col0 + v * LANES + LANES <= NR: within acc (MR * NR).
                unsafe { cv.store(acc.as_mut_ptr().add(i * super::NR + col0 + v * S::LANES)) }
            }
        }
    }
}

/// Depthwise plane (see `conv::dw_plane`, the reference) with the interior of each output
/// row — columns whose every tap is inside the input row — computed `LANES` outputs at a
/// time with all taps accumulated in a register (one store per output instead of one
/// read-modify-write per tap). Falls back to the reference for column stride ≠ 1 or
/// kernels larger than 7×7.
#[inline(always)]
pub(crate) fn dw_plane<S: Simd>(a: &mut crate::conv::DwPlane) {
    const KMAX: usize = 7;
    let p = a.p;
    let (kh, kw) = (p.kernel_h, p.kernel_w);
    if p.stride.1 != 1 || kh > KMAX || kw > KMAX {
        return crate::conv::dw_plane(a);
    }
    let (oh, ow) = (p.out_h(), p.out_w());
    let (ih, iw) = (p.in_h, p.in_w);
    let (sh, ph, pw) = (p.stride.0, p.padding.0, p.padding.1);
    let (dh, dw) = p.dilation;
    assert!(a.src.len() == ih * iw && a.dst.len() == oh * ow && a.w.len() == kh * kw);
    // Interior columns: ox - pw >= 0 and ox - pw + (kw - 1) dw < iw.
    let x0 = pw.min(ow);
    let x1 = (iw + pw).saturating_sub((kw - 1) * dw).clamp(x0, ow);
    let bias = S::splat(a.bias);
    let mut wv = [S::splat(0.0); KMAX * KMAX];
    for (v, &w) in wv.iter_mut().zip(a.w) {
        *v = S::splat(w);
    }
    for oy in 0..oh {
        // The input rows this output row reads, with their kernel row.
        let mut rows: [(&[f32], usize); KMAX] = [(&[], 0); KMAX];
        let mut nrows = 0;
        for ky in 0..kh {
            let iy = (oy * sh + ky * dh) as isize - ph as isize;
            if iy >= 0 && (iy as usize) < ih {
                rows[nrows] = (&a.src[iy as usize * iw..(iy as usize + 1) * iw], ky);
                nrows += 1;
            }
        }
        let rows = &rows[..nrows];
        let drow = &mut a.dst[oy * ow..(oy + 1) * ow];
        let g = DwGeom { kw, dw, pw, iw };
        for ox in (0..x0).chain(x1..ow) {
            drow[ox] = dw_scalar(&g, rows, a.w, a.bias, ox);
        }
        if x1 - x0 < S::LANES {
            for (i, d) in drow[x0..x1].iter_mut().enumerate() {
                *d = dw_scalar(&g, rows, a.w, a.bias, x0 + i);
            }
            continue;
        }
        let mut ox = x0;
        while ox + S::LANES <= x1 {
            dw_vector(&g, rows, &wv, bias, ox, drow);
            ox += S::LANES;
        }
        if ox < x1 {
            // Tail: one more vector ending at x1, overlapping already computed outputs.
            dw_vector(&g, rows, &wv, bias, x1 - S::LANES, drow);
        }
    }
}

/// Column geometry of a depthwise row: kernel width, column dilation, left padding, input
/// width.
struct DwGeom {
    kw: usize,
    dw: usize,
    pw: usize,
    iw: usize,
}

/// One depthwise output with bounds checks (edge columns). Functions, not closures: a
/// closure is compiled without the caller's `#[target_feature]`s and blocks inlining.
#[inline(always)]
fn dw_scalar(g: &DwGeom, rows: &[(&[f32], usize)], w: &[f32], bias: f32, ox: usize) -> f32 {
    let mut s = bias;
    for &(srow, ky) in rows {
        for kx in 0..g.kw {
            let ix = (ox + kx * g.dw) as isize - g.pw as isize;
            if ix >= 0 && (ix as usize) < g.iw {
                s += w[ky * g.kw + kx] * srow[ix as usize];
            }
        }
    }
    s
}

/// `LANES` interior depthwise outputs starting at column `ox` (every tap in bounds).
#[inline(always)]
fn dw_vector<S: Simd>(
    g: &DwGeom,
    rows: &[(&[f32], usize)],
    wv: &[S],
    bias: S,
    ox: usize,
    drow: &mut [f32],
) {
    let (kw, dw) = (g.kw, g.dw);
    let mut acc = bias;
    for &(srow, ky) in rows {
        // In the interior, ox - pw + (kw - 1) dw + LANES <= iw.
        let base = &srow[ox - g.pw..ox - g.pw + (kw - 1) * dw + S::LANES];
        let wrow = &wv[ky * kw..ky * kw + kw];
        if kw == 3 {
            // The common case, unrolled.
            // SAFETY: 2 dw + LANES <= base.len().
            unsafe {
                acc = wrow[0].mul_add(S::load(base.as_ptr()), acc);
                acc = wrow[1].mul_add(S::load(base.as_ptr().add(dw)), acc);
                acc = wrow[2].mul_add(S::load(base.as_ptr().add(2 * dw)), acc);
            }
        } else {
            for (kx, w) in wrow.iter().enumerate() {
                // SAFETY: kx * dw + LANES <= base.len().
                acc = w.mul_add(unsafe { S::load(base.as_ptr().add(kx * dw)) }, acc);
            }
        }
    }
    let d = &mut drow[ox..ox + S::LANES];
    // SAFETY: `d` has exactly LANES elements.
    unsafe { acc.store(d.as_mut_ptr()) };
}
