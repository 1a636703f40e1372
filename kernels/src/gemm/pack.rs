//! Packing of the GEMM operands into the micro-kernel layouts.

use crate::arch::NR;

/// Packs B (`k × n`, or stored `n × k` if `trans_b`) into `ceil(n/NR)` panels of `k × NR`,
/// zero-padding the last panel. `dst` must hold exactly `ceil(n/NR) * NR * k` values.
pub(crate) fn pack_b_panels(
    k: usize,
    n: usize,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    dst: &mut [f32],
) {
    assert_eq!(dst.len(), n.div_ceil(NR) * NR * k);
    if k == 0 {
        return;
    }
    for (jp, panel) in dst.chunks_exact_mut(NR * k).enumerate() {
        let j0 = jp * NR;
        let w = NR.min(n - j0);
        if !trans_b {
            for (p, out) in panel.chunks_exact_mut(NR).enumerate() {
                let src = &b[p * ldb + j0..p * ldb + j0 + w];
                if w == NR {
                    // Fixed-size copy: a few vector moves instead of a `memcpy` call per
                    // 64 bytes (which, in wasm without bulk-memory, is a software loop).
                    let v: [f32; NR] = src.try_into().expect("NR elements");
                    out.copy_from_slice(&v);
                } else {
                    out[..w].copy_from_slice(src);
                    out[w..].fill(0.0);
                }
            }
        } else {
            if w < NR {
                panel.fill(0.0);
            }
            for jj in 0..w {
                let src = &b[(j0 + jj) * ldb..(j0 + jj) * ldb + k];
                for (p, &v) in src.iter().enumerate() {
                    panel[p * NR + jj] = v;
                }
            }
        }
    }
}

/// Packs rows `i0..i0+mc`, columns `p0..p0+kc` of A (`m × k`, or stored `k × m` if
/// `trans_a`) into row panels of `mr`: panel `q` at `q*mr*kc`, element `(i, p)` of the
/// panel at `p*mr + i`; rows past `mc` are zero.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_a(
    a: &[f32],
    lda: usize,
    trans_a: bool,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    mr: usize,
    dst: &mut [f32],
) {
    let panels = mc.div_ceil(mr);
    assert!(dst.len() >= panels * mr * kc);
    for q in 0..panels {
        let panel = &mut dst[q * mr * kc..(q + 1) * mr * kc];
        let r0 = q * mr;
        let h = mr.min(mc - r0);
        if h < mr {
            panel.fill(0.0);
        }
        if !trans_a {
            for ii in 0..h {
                let row = i0 + r0 + ii;
                let src = &a[row * lda + p0..row * lda + p0 + kc];
                for (p, &v) in src.iter().enumerate() {
                    panel[p * mr + ii] = v;
                }
            }
        } else {
            for p in 0..kc {
                let row = (p0 + p) * lda + i0 + r0;
                panel[p * mr..p * mr + h].copy_from_slice(&a[row..row + h]);
            }
        }
    }
}
