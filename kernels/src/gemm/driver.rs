//! The cache-blocked GEMM loop nest around the micro-kernel, with the fused epilogue.

use super::pack::pack_a;
use crate::activation::{apply_with, Activation};
use crate::arch::{Kernels, MR_MAX, NR};

/// Depth of a K block: one B micro-panel (`KC × NR` floats = 16 KiB) stays in L1.
const KC: usize = 256;
/// Rows of an A block (multiple of every `mr`): `MC × KC` floats (~96 KiB) stay in L2.
const MC: usize = 96;
/// Panels of B per column block (`NC_PANELS × NR` columns).
const NC_PANELS: usize = 32;

/// What is added to the product before the activation.
pub(crate) enum Bias<'a> {
    None,
    /// One value per output column (length n): Linear layers.
    PerCol(&'a [f32]),
    /// One value per output row (length m): convolutions computed as W · im2col.
    PerRow(&'a [f32]),
}

/// The fused epilogue: `c = act((accumulate ? c : 0) + a·b + bias)`.
pub(crate) struct Epilogue<'a> {
    pub accumulate: bool,
    pub bias: Bias<'a>,
    pub act: Activation,
}

/// `c[m×n] = epilogue(a[m×k] · B)` with B already packed into panels (full `k` each).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_packed_b(
    kern: &Kernels,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    bp: &[f32],
    c: &mut [f32],
    ldc: usize,
    epi: &Epilogue,
) {
    if trans_a {
        super::check_matrix("gemm a", k, m, lda, a.len());
    } else {
        super::check_matrix("gemm a", m, k, lda, a.len());
    }
    super::check_matrix("gemm c", m, n, ldc, c.len());
    let panels = n.div_ceil(NR);
    assert_eq!(bp.len(), panels * NR * k, "gemm: packed B size");
    match epi.bias {
        Bias::PerCol(b) => assert_eq!(b.len(), n, "gemm: column bias length"),
        Bias::PerRow(b) => assert_eq!(b.len(), m, "gemm: row bias length"),
        Bias::None => {}
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            let row = &mut c[i * ldc..i * ldc + n];
            if !epi.accumulate {
                row.fill(0.0);
            }
            finish_row(kern, epi, i, 0, row);
        }
        return;
    }
    let mr = kern.mr;
    debug_assert!(mr <= MR_MAX && MC % mr == 0);
    // K blocks of equal depth (at most KC): k = 384 runs as 2 × 192, not 256 + 128.
    let kc_step = k.div_ceil(k.div_ceil(KC));
    let mut a_buf = vec![0f32; MC * kc_step];
    let mut tile = [0f32; MR_MAX * NR];
    for jc in (0..panels).step_by(NC_PANELS) {
        let jc_end = (jc + NC_PANELS).min(panels);
        for pc in (0..k).step_by(kc_step) {
            let kc = kc_step.min(k - pc);
            let first = pc == 0;
            let last = pc + kc == k;
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                pack_a(a, lda, trans_a, ic, mc, pc, kc, mr, &mut a_buf);
                for jp in jc..jc_end {
                    let b_panel = &bp[jp * k * NR + pc * NR..jp * k * NR + (pc + kc) * NR];
                    let j0 = jp * NR;
                    let w = NR.min(n - j0);
                    for ir in (0..mc).step_by(mr) {
                        let a_panel = &a_buf[ir * kc..(ir + mr) * kc];
                        let h = mr.min(mc - ir);
                        (kern.gemm_tile)(h, kc, a_panel, b_panel, &mut tile[..mr * NR]);
                        for ii in 0..h {
                            let i = ic + ir + ii;
                            let src = &tile[ii * NR..ii * NR + w];
                            let dst = &mut c[i * ldc + j0..i * ldc + j0 + w];
                            if first && !epi.accumulate {
                                dst.copy_from_slice(src);
                            } else {
                                for (d, s) in dst.iter_mut().zip(src) {
                                    *d += s;
                                }
                            }
                            if last {
                                finish_row(kern, epi, i, j0, dst);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds the bias and applies the activation to `row` = row `i`, columns `j0..`, of C.
#[inline]
fn finish_row(kern: &Kernels, epi: &Epilogue, i: usize, j0: usize, row: &mut [f32]) {
    match epi.bias {
        Bias::None => {}
        Bias::PerCol(b) => {
            let w = row.len();
            for (d, s) in row.iter_mut().zip(&b[j0..j0 + w]) {
                *d += s;
            }
        }
        Bias::PerRow(b) => {
            let v = b[i];
            row.iter_mut().for_each(|d| *d += v);
        }
    }
    apply_with(kern, epi.act, row);
}
