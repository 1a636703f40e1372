//! The cache-blocked GEMM loop nest around the micro-kernel, with the fused epilogue, and
//! its split across threads (over column panels of the packed B, which all threads share).

use super::pack::pack_a;
use super::view::MatMut;
use super::PackedA;
use crate::activation::{apply_with, Activation};
use crate::arch::{Kernels, MR_MAX, NR};
use crate::parallel;

/// Depth of a K block: one B micro-panel (`KC × NR` floats = 16 KiB) stays in L1.
pub(crate) const KC: usize = 256;
/// Rows of an A block (multiple of every `mr`): `MC × KC` floats (~96 KiB) stay in L2.
pub(crate) const MC: usize = 96;
/// Panels of B per column block (`NC_PANELS × NR` columns).
const NC_PANELS: usize = 32;
/// Least multiply-adds per thread worth a fork/join: about 10-20 µs of work at the AVX2
/// kernel's speed. First tuned at 2^21 while ops' splits were injected into the pool from
/// outside (each split then woke the caller and every part's thread; at 2^20 mobilenet_v3_small
/// got ~10% slower on 2 threads). Since inferences run on a pool thread
/// (`parallel::on_pool`), 2^19 measured, at 2 threads against 2^21: efficientnet_b0 -9% in the
/// wasm threads build (`benches/e2e/ab_builds.mjs`, paired) and about -20% natively, every
/// other zoo model within ±3%; 2^17 made the LSTM and MiniLM-16 ~20% slower in wasm. (Tiny
/// in unit tests, so that their small shapes do take the split paths.) A sixteenth of it while
/// pool threads spin as helpers: see `parallel::split_threshold`.
pub(crate) const MIN_PAR_MACS: usize = if cfg!(test) { 64 } else { 1 << 19 };

/// Depth of the K blocks for reduction depth `k`: equal blocks of at most [`KC`]
/// (k = 384 runs as 2 × 192, not 256 + 128).
pub(crate) fn kc_step(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1)).max(1)
}

/// The A operand: a plain matrix (packed per block on the fly) or pre-packed weights.
#[derive(Clone, Copy)]
pub(crate) enum AOperand<'a> {
    /// `m × k` row-major with leading dimension `lda` (stored `k × m` when `trans`).
    Raw {
        a: &'a [f32],
        lda: usize,
        trans: bool,
    },
    /// Packed once with [`PackedA::pack`] for the same kernel table.
    Packed(&'a PackedA),
}

/// What is added to the product before the activation.
#[derive(Clone, Copy)]
pub(crate) enum Bias<'a> {
    None,
    /// One value per output column (length n): Linear layers.
    PerCol(&'a [f32]),
    /// One value per output row (length m): convolutions computed as W · im2col.
    PerRow(&'a [f32]),
}

/// The fused epilogue: `c = act((accumulate ? c : 0) + a·b + bias)`.
#[derive(Clone, Copy)]
pub(crate) struct Epilogue<'a> {
    pub accumulate: bool,
    pub bias: Bias<'a>,
    pub act: Activation,
}

impl<'a> Epilogue<'a> {
    /// The epilogue of output columns `j0..j0 + w` (a per-column bias is sliced).
    fn cols(&self, j0: usize, w: usize) -> Epilogue<'a> {
        Epilogue {
            bias: match self.bias {
                Bias::PerCol(b) => Bias::PerCol(&b[j0..j0 + w]),
                other => other,
            },
            ..*self
        }
    }
}

/// Checks the operands of `c[m×n] = epilogue(a[m×k] · B)` (asserting on misuse).
#[allow(clippy::too_many_arguments)]
fn check(
    kern: &Kernels,
    m: usize,
    k: usize,
    n: usize,
    a: AOperand,
    bp: &[f32],
    c: &MatMut,
    epi: &Epilogue,
) {
    match a {
        AOperand::Raw { a, lda, trans } => {
            if trans {
                super::check_matrix("gemm a", k, m, lda, a.len());
            } else {
                super::check_matrix("gemm a", m, k, lda, a.len());
            }
        }
        AOperand::Packed(pa) => {
            assert!(
                pa.m == m && pa.k == k && pa.mr == kern.mr,
                "gemm: packed A is {}x{} for mr {}, used as {m}x{k} with mr {}",
                pa.m,
                pa.k,
                pa.mr,
                kern.mr
            );
        }
    }
    assert!(c.rows() == m && c.cols() == n, "gemm: output view size");
    assert_eq!(bp.len(), n.div_ceil(NR) * NR * k, "gemm: packed B size");
    match epi.bias {
        Bias::PerCol(b) => assert_eq!(b.len(), n, "gemm: column bias length"),
        Bias::PerRow(b) => assert_eq!(b.len(), m, "gemm: row bias length"),
        Bias::None => {}
    }
}

/// `c[m×n] = epilogue(a[m×k] · B)` with B already packed into panels (full `k` each),
/// split over groups of B panels across threads when the product is large enough.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_packed_b(
    kern: &Kernels,
    m: usize,
    k: usize,
    n: usize,
    a: AOperand,
    bp: &[f32],
    c: MatMut,
    epi: &Epilogue,
) {
    check(kern, m, k, n, a, bp, &c, epi);
    let panels = n.div_ceil(NR);
    let macs_per_panel = m.saturating_mul(k).saturating_mul(NR).max(1);
    let min_macs = parallel::split_threshold(MIN_PAR_MACS);
    let parts = parallel::parts(panels, min_macs.div_ceil(macs_per_panel));
    if parts <= 1 {
        gemm_block(kern, m, k, n, a, bp, c, epi);
        return;
    }
    let ranges = parallel::split_even(panels, parts);
    let cols: Vec<(usize, usize)> = ranges
        .iter()
        .map(|&(p0, p1)| (p0 * NR, (p1 * NR).min(n)))
        .collect();
    let items: Vec<_> = c.split_blocks(&cols).into_iter().zip(cols).collect();
    parallel::for_each(items, |(view, (j0, j1))| {
        let b = &bp[j0 * k..j1.div_ceil(NR) * NR * k];
        gemm_block(kern, m, k, j1 - j0, a, b, view, &epi.cols(j0, j1 - j0));
    });
}

/// [`gemm_packed_b`] on the calling thread only (callers that split the work themselves).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_block(
    kern: &Kernels,
    m: usize,
    k: usize,
    n: usize,
    a: AOperand,
    bp: &[f32],
    mut c: MatMut,
    epi: &Epilogue,
) {
    check(kern, m, k, n, a, bp, &c, epi);
    let panels = n.div_ceil(NR);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            let row = c.row_part(i, 0, n);
            if !epi.accumulate {
                row.fill(0.0);
            }
            finish_row(kern, epi, i, 0, row);
        }
        return;
    }
    if let (1, AOperand::Raw { a, lda, trans }) = (m, a) {
        gemv_row(kern, k, n, a, lda, trans, bp, c, epi);
        return;
    }
    let mr = kern.mr;
    debug_assert!(mr <= MR_MAX && MC % mr == 0);
    let kc_step = kc_step(k);
    let mut a_buf = match a {
        AOperand::Raw { .. } => vec![0f32; MC * kc_step],
        AOperand::Packed(_) => Vec::new(),
    };
    let m_pad = m.div_ceil(mr) * mr;
    let mut tile = [0f32; MR_MAX * NR];
    for jc in (0..panels).step_by(NC_PANELS) {
        let jc_end = (jc + NC_PANELS).min(panels);
        for pc in (0..k).step_by(kc_step) {
            let kc = kc_step.min(k - pc);
            let first = pc == 0;
            let last = pc + kc == k;
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                let a_blk: &[f32] = match a {
                    AOperand::Raw { a, lda, trans } => {
                        pack_a(a, lda, trans, ic, mc, pc, kc, mr, &mut a_buf);
                        &a_buf
                    }
                    // Block (pc, ic) of the pre-packed A: see `PackedA`.
                    AOperand::Packed(pa) => &pa.data[pc * m_pad + ic * kc..],
                };
                for jp in jc..jc_end {
                    let b_panel = &bp[jp * k * NR + pc * NR..jp * k * NR + (pc + kc) * NR];
                    let j0 = jp * NR;
                    let w = NR.min(n - j0);
                    for ir in (0..mc).step_by(mr) {
                        let a_panel = &a_blk[ir * kc..(ir + mr) * kc];
                        let h = mr.min(mc - ir);
                        (kern.gemm_tile)(h, kc, a_panel, b_panel, &mut tile[..mr * NR]);
                        for ii in 0..h {
                            let i = ic + ir + ii;
                            let src = &tile[ii * NR..ii * NR + w];
                            let dst = c.row_part(i, j0, w);
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

/// The m = 1 product (a recurrent step, a classifier head) with the table's GEMV over all
/// of B's panels at once: a one-row micro-tile per panel would run at the latency of its
/// few dependent multiply-adds (see `arch::GemvFn`). `k > 0`.
#[allow(clippy::too_many_arguments)]
fn gemv_row(
    kern: &Kernels,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    trans: bool,
    bp: &[f32],
    mut c: MatMut,
    epi: &Epilogue,
) {
    // Stored transposed, the row is a column of a `k × 1` matrix: gather it.
    let gathered: Vec<f32>;
    let row_a = if trans {
        gathered = (0..k).map(|p| a[p * lda]).collect();
        &gathered[..]
    } else {
        &a[..k]
    };
    let panels = n.div_ceil(NR);
    let mut out = vec![0f32; panels * NR];
    (kern.gemv)(k, row_a, bp, panels, &mut out);
    let dst = c.row_part(0, 0, n);
    if epi.accumulate {
        dst.iter_mut().zip(&out).for_each(|(d, s)| *d += s);
    } else {
        dst.copy_from_slice(&out[..n]);
    }
    finish_row(kern, epi, 0, 0, dst);
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
