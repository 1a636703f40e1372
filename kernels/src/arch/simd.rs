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

/// One-row GEMM over packed B panels (see [`super::GemvFn`]; `gemm::portable_gemv` is the
/// reference). `G` panels are computed together: with one panel the accumulators form a
/// short chain of dependent multiply-adds per step and the loop runs at the FMA latency
/// rather than its throughput (the one-row micro-tile's problem). Callers pick `G` so that
/// `G × NR / LANES` is 8 accumulators: independent enough, and within 16 vector registers.
#[inline(always)]
pub(crate) fn gemv<S: Simd, const G: usize>(
    k: usize,
    a: &[f32],
    b: &[f32],
    panels: usize,
    out: &mut [f32],
) {
    const NR: usize = super::NR;
    assert!(a.len() >= k && b.len() >= panels * k * NR && out.len() >= panels * NR);
    let mut jp = 0;
    while jp + G <= panels {
        // SAFETY: panels jp..jp + G exist in b and out (asserted above).
        unsafe {
            gemv_panels::<S, G>(
                k,
                a,
                b.as_ptr().add(jp * k * NR),
                out.as_mut_ptr().add(jp * NR),
            )
        };
        jp += G;
    }
    while jp < panels {
        // SAFETY: as above, for one panel.
        unsafe {
            gemv_panels::<S, 1>(
                k,
                a,
                b.as_ptr().add(jp * k * NR),
                out.as_mut_ptr().add(jp * NR),
            )
        };
        jp += 1;
    }
}

/// One-row product against a matrix stored by rows (see [`super::GemvRowsFn`];
/// `gemm::portable_gemv_rows` is the reference): `out[j] = a · b[j]`, four rows of `b` at a
/// time with two vector accumulators each, so eight independent multiply-add chains run per
/// step and `a` is loaded once for four rows. Named locals rather than arrays: wasm's LLVM
/// keeps accumulator arrays in linear memory.
#[inline(always)]
pub(crate) fn gemv_rows<S: Simd>(k: usize, a: &[f32], b: &[f32], ldb: usize, out: &mut [f32]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    assert!(a.len() >= k && ldb >= k && b.len() >= (n - 1) * ldb + k);
    let l = S::LANES;
    let kv = k / (2 * l) * (2 * l);
    let z = S::splat(0.0);
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let tail = |row: usize| -> f32 {
        let r = &b[row * ldb..row * ldb + k];
        (kv..k).map(|p| a[p] * r[p]).sum()
    };
    let mut j = 0;
    while j + 4 <= n {
        let (mut c00, mut c01, mut c10, mut c11) = (z, z, z, z);
        let (mut c20, mut c21, mut c30, mut c31) = (z, z, z, z);
        // SAFETY: rows j..j + 4 < n and p + 2 * LANES <= kv <= k: every load is inside `a`
        // (length >= k) or row j + i of `b` (asserted above).
        unsafe {
            let (r0, r1) = (bp.add(j * ldb), bp.add((j + 1) * ldb));
            let (r2, r3) = (bp.add((j + 2) * ldb), bp.add((j + 3) * ldb));
            let mut p = 0;
            while p < kv {
                let x0 = S::load(ap.add(p));
                let x1 = S::load(ap.add(p + l));
                c00 = x0.mul_add(S::load(r0.add(p)), c00);
                c01 = x1.mul_add(S::load(r0.add(p + l)), c01);
                c10 = x0.mul_add(S::load(r1.add(p)), c10);
                c11 = x1.mul_add(S::load(r1.add(p + l)), c11);
                c20 = x0.mul_add(S::load(r2.add(p)), c20);
                c21 = x1.mul_add(S::load(r2.add(p + l)), c21);
                c30 = x0.mul_add(S::load(r3.add(p)), c30);
                c31 = x1.mul_add(S::load(r3.add(p + l)), c31);
                p += 2 * l;
            }
        }
        out[j] = hsum(c00.add(c01)) + tail(j);
        out[j + 1] = hsum(c10.add(c11)) + tail(j + 1);
        out[j + 2] = hsum(c20.add(c21)) + tail(j + 2);
        out[j + 3] = hsum(c30.add(c31)) + tail(j + 3);
        j += 4;
    }
    while j < n {
        let (mut c0, mut c1) = (z, z);
        // SAFETY: as above, for row j < n.
        unsafe {
            let r = bp.add(j * ldb);
            let mut p = 0;
            while p < kv {
                c0 = S::load(ap.add(p)).mul_add(S::load(r.add(p)), c0);
                c1 = S::load(ap.add(p + l)).mul_add(S::load(r.add(p + l)), c1);
                p += 2 * l;
            }
        }
        out[j] = hsum(c0.add(c1)) + tail(j);
        j += 1;
    }
}

/// Sum of the lanes of `v` (pairwise over a stored copy; once per output, not per step).
#[inline(always)]
fn hsum<S: Simd>(v: S) -> f32 {
    let mut buf = [0f32; 8];
    assert!(S::LANES <= buf.len());
    // SAFETY: buf holds 8 >= LANES floats.
    unsafe { v.store(buf.as_mut_ptr()) };
    let mut w = S::LANES;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            buf[i] += buf[i + w];
        }
    }
    buf[0]
}

/// `G` consecutive panels of [`gemv`].
///
/// # Safety
/// `b` is valid for reading `G × k × NR` floats and `out` for writing `G × NR`; `a.len() >= k`.
#[inline(always)]
unsafe fn gemv_panels<S: Simd, const G: usize>(k: usize, a: &[f32], b: *const f32, out: *mut f32) {
    const NR: usize = super::NR;
    const MAX_V: usize = 4;
    let nv = NR / S::LANES;
    debug_assert!(NR % S::LANES == 0 && nv <= MAX_V);
    let mut acc = [[S::splat(0.0); MAX_V]; G];
    for (p, &x) in a.iter().enumerate().take(k) {
        let x = S::splat(x);
        for (q, accq) in acc.iter_mut().enumerate() {
            for (v, accv) in accq.iter_mut().enumerate().take(nv) {
                *accv = x.mul_add(S::load(b.add(q * k * NR + p * NR + v * S::LANES)), *accv);
            }
        }
    }
    for (q, accq) in acc.iter().enumerate() {
        for (v, accv) in accq.iter().enumerate().take(nv) {
            accv.store(out.add(q * NR + v * S::LANES));
        }
    }
}

/// Depthwise plane (see `conv::dw_plane`, the reference), for any stride and dilation.
///
/// The input plane is first copied into `scratch` with its horizontal zero padding made
/// explicit and, for a column stride `sw` > 1, its columns split by phase (`x mod sw`):
/// row `iy`, phase `r` holds the padded columns `r, r + sw, r + 2 sw, ...`. Every tap
/// `(ky, kx)` of an output row then reads one contiguous run of that buffer (phase
/// `kx·dw mod sw`, starting `kx·dw / sw` in), so all `out_w` outputs of a row are computed
/// `LANES` at a time — 4 vectors per step, each tap's weight loaded once per step — with
/// no bounds tests and no scalar edge columns. Rows of the kernel that fall in the
/// vertical padding are skipped. Kernels with more than 7×7 taps use the reference.
#[inline(always)]
pub(crate) fn dw_plane<S: Simd>(a: &mut crate::conv::DwPlane) {
    const KMAX: usize = 49;
    let p = a.p;
    let (kh, kw) = (p.kernel_h, p.kernel_w);
    if kh * kw > KMAX {
        return crate::conv::dw_plane(a);
    }
    let (oh, ow) = (p.out_h(), p.out_w());
    let (ih, iw) = (p.in_h, p.in_w);
    let (sh, sw) = p.stride;
    let (ph, pw) = p.padding;
    let (dh, dw) = p.dilation;
    assert!(a.src.len() == ih * iw && a.dst.len() == oh * ow && a.w.len() == kh * kw);
    let l = S::LANES;
    // Output columns rounded up to whole vectors, and the width of one phase row.
    let owv = ow.div_ceil(l) * l;
    let wp = owv + (kw - 1) * dw / sw;
    let rows = ih * sw;
    a.scratch.clear();
    a.scratch.resize(rows * wp + owv, 0.0);
    let (pad, orow) = a.scratch.split_at_mut(rows * wp);
    for iy in 0..ih {
        let src = &a.src[iy * iw..(iy + 1) * iw];
        for r in 0..sw {
            let dst = &mut pad[(iy * sw + r) * wp..(iy * sw + r + 1) * wp];
            // Padded column j·sw + r is input column j·sw + r − pw: inside the input for
            // j in j0..j1.
            let j0 = pw.saturating_sub(r).div_ceil(sw).min(wp);
            let j1 = (iw + pw).saturating_sub(r).div_ceil(sw).clamp(j0, wp);
            dst[..j0].fill(0.0);
            dst[j1..].fill(0.0);
            if j1 > j0 {
                let x0 = j0 * sw + r - pw;
                if sw == 1 {
                    dst[j0..j1].copy_from_slice(&src[x0..x0 + (j1 - j0)]);
                } else {
                    for (d, ch) in dst[j0..j1].iter_mut().zip(src[x0..].chunks(sw)) {
                        *d = ch[0];
                    }
                }
            }
        }
    }
    let mut wv = [S::splat(0.0); KMAX];
    for (v, &w) in wv.iter_mut().zip(a.w) {
        *v = S::splat(w);
    }
    let bias = S::splat(a.bias);
    let mut taps = [(0usize, S::splat(0.0)); KMAX];
    // Per kernel column: (phase row, start) of its run, computed once (no divisions per row).
    let mut cols = [(0usize, 0usize); KMAX];
    for (kx, c) in cols.iter_mut().enumerate().take(kw) {
        *c = ((kx * dw) % sw, (kx * dw) / sw);
    }
    for oy in 0..oh {
        // (offset in `pad` of this row's run, weight) of every tap inside the input.
        let mut nt = 0;
        for ky in 0..kh {
            let iy = (oy * sh + ky * dh) as isize - ph as isize;
            if iy < 0 || iy as usize >= ih {
                continue;
            }
            for (kx, &(r, j)) in cols[..kw].iter().enumerate() {
                taps[nt] = ((iy as usize * sw + r) * wp + j, wv[ky * kw + kx]);
                nt += 1;
            }
        }
        let taps = &taps[..nt];
        let mut x = 0;
        while x + 4 * l <= owv {
            dw_run4(pad, taps, bias, x, orow);
            x += 4 * l;
        }
        match (owv - x) / l {
            3 => dw_run3(pad, taps, bias, x, orow),
            2 => dw_run2(pad, taps, bias, x, orow),
            1 => dw_run1(pad, taps, bias, x, orow),
            _ => {}
        }
        a.dst[oy * ow..(oy + 1) * ow].copy_from_slice(&orow[..ow]);
    }
}

/// Defines `$name`: `V` (= the number of indices) vectors of outputs at columns
/// `x..x + V·LANES` of one row, `orow[..] = bias + Σ w · pad[off + x + ..]` over `taps`.
/// Bounds: every `off + owv <= pad.len()` (slices checked) and `x + V·LANES <= orow.len()`
/// (asserted). Two accumulator sets (even and odd taps) give twice the independent FMA
/// chains, so the FMA latency is hidden even for one vector. Written with literal indices
/// (like the wasm GEMM strips): with loops over the accumulators LLVM keeps them in linear
/// memory on wasm.
macro_rules! dw_run {
    ($name:ident, [$($v:literal),+]) => {
        #[inline(always)]
        fn $name<S: Simd>(pad: &[f32], taps: &[(usize, S)], bias: S, x: usize, orow: &mut [f32]) {
            const V: usize = [$($v),+].len();
            let l = S::LANES;
            assert!(x + V * l <= orow.len());
            let mut a = [bias; V];
            let mut b = [S::splat(0.0); V];
            let mut pairs = taps.chunks_exact(2);
            for pair in &mut pairs {
                let ((o0, w0), (o1, w1)) = (pair[0], pair[1]);
                let r0 = &pad[o0 + x..o0 + x + V * l];
                let r1 = &pad[o1 + x..o1 + x + V * l];
                // SAFETY: `r0` and `r1` hold V·LANES floats.
                unsafe {
                    $( a[$v] = w0.mul_add(S::load(r0.as_ptr().add($v * l)), a[$v]); )+
                    $( b[$v] = w1.mul_add(S::load(r1.as_ptr().add($v * l)), b[$v]); )+
                }
            }
            for &(o0, w0) in pairs.remainder() {
                let r0 = &pad[o0 + x..o0 + x + V * l];
                // SAFETY: `r0` holds V·LANES floats.
                unsafe {
                    $( a[$v] = w0.mul_add(S::load(r0.as_ptr().add($v * l)), a[$v]); )+
                }
            }
            // SAFETY: x + V·LANES <= orow.len() (asserted).
            unsafe {
                $( a[$v].add(b[$v]).store(orow.as_mut_ptr().add(x + $v * l)); )+
            }
        }
    };
}

dw_run!(dw_run1, [0]);
dw_run!(dw_run2, [0, 1]);
dw_run!(dw_run3, [0, 1, 2]);
dw_run!(dw_run4, [0, 1, 2, 3]);
