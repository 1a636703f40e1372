//! Single-precision matrix multiplication.
//!
//! Structure (GotoBLAS/BLIS style): B is packed into column panels of `NR` = 16
//! columns, stored `k`-major so the micro-kernel streams it; A is packed per cache block
//! into row panels of `mr` rows; a register-blocked micro-kernel from the active
//! [`crate::arch::Kernels`] table computes one `mr × NR` tile at a time, and the driver
//! adds the tile into C with the fused epilogue (accumulate, bias, activation).
//! Weights are packed once at load with [`PackedB::pack`] when memory allows; otherwise
//! [`sgemm`] packs B one column block at a time into a bounded scratch, and products with
//! few rows against a weight stored by rows use [`sgemm_rows`], which reads the stored
//! layout directly.

mod driver;
mod pack;
mod view;

use crate::activation::Activation;
use crate::alloc::{try_zeroed, AllocError};
use crate::arch::{self, NR};
pub(crate) use driver::{gemm_block, gemm_packed_b, AOperand, Bias, Epilogue, MIN_PAR_MACS};
pub(crate) use pack::pack_b_panels;
pub(crate) use view::MatMut;

/// Checks that a row-major `rows × cols` matrix with leading dimension `ld` fits in `len`.
pub(crate) fn check_matrix(name: &str, rows: usize, cols: usize, ld: usize, len: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        ld >= cols,
        "{name}: leading dimension {ld} < {cols} columns"
    );
    let need = (rows - 1)
        .checked_mul(ld)
        .and_then(|v| v.checked_add(cols))
        .expect("matrix size overflows usize");
    assert!(
        len >= need,
        "{name}: slice of {len} < {need} elements needed"
    );
}

/// `c[m×n] = a[m×k] · b[k×n]`, or `c += a·b` when `accumulate`.
///
/// All matrices are row-major with leading dimensions `lda`, `ldb`, `ldc`. With `trans_a`
/// the stored matrix is `aᵀ` (k rows × m columns); with `trans_b` it is `bᵀ` (n × k).
/// Preconditions (asserted): the slices hold the described matrices. When `k == 0`, `c`
/// is zeroed (or left unchanged if `accumulate`).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    sgemm_with(
        arch::active(),
        m,
        n,
        k,
        a,
        lda,
        trans_a,
        b,
        ldb,
        trans_b,
        c,
        ldc,
        accumulate,
    )
}

/// Most floats of B the unpacked [`sgemm`] packs at once: B is packed one block of columns
/// (full depth `k`) at a time into a scratch of this size (8 MiB; tiny in unit tests so
/// that their small shapes take several blocks), or of one 16-column panel
/// when a single panel is larger (`k × 16` floats), never into a copy of the whole of B.
const B_BLOCK_FLOATS: usize = if cfg!(test) { 4096 } else { 1 << 21 };

/// Columns of B packed per block by [`sgemm`] (a multiple of the panel width).
fn b_block_cols(n: usize, k: usize) -> usize {
    let panels = (B_BLOCK_FLOATS / (k.max(1) * NR)).max(1);
    (panels * NR).min(n.div_ceil(NR) * NR)
}

/// Floats of scratch [`sgemm_in`] needs for an `m × n × k` product: one packed block of B,
/// bounded by `max(8 MiB, 64·k bytes)`; 0 when no packing happens (m ≤ 1, or an empty product).
pub fn sgemm_scratch_len(m: usize, n: usize, k: usize) -> usize {
    if m <= 1 || n == 0 || k == 0 {
        0
    } else {
        b_block_cols(n, k) * k
    }
}

/// [`sgemm`] with an explicit kernel table (tests and benchmarks compare tables with it).
#[allow(clippy::too_many_arguments)]
pub fn sgemm_with(
    kern: &arch::Kernels,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let mut scratch = vec![0f32; sgemm_scratch_len(m, n, k)];
    sgemm_in(
        kern,
        m,
        n,
        k,
        a,
        lda,
        trans_a,
        b,
        ldb,
        trans_b,
        c,
        ldc,
        accumulate,
        &mut scratch,
    )
}

/// [`sgemm`] that reports a failed scratch allocation instead of aborting (c is then
/// unchanged).
#[allow(clippy::too_many_arguments)]
pub fn try_sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) -> Result<(), AllocError> {
    let mut scratch = try_zeroed(sgemm_scratch_len(m, n, k))?;
    sgemm_in(
        arch::active(),
        m,
        n,
        k,
        a,
        lda,
        trans_a,
        b,
        ldb,
        trans_b,
        c,
        ldc,
        accumulate,
        &mut scratch,
    );
    Ok(())
}

/// [`sgemm_with`] with a caller-provided scratch of at least [`sgemm_scratch_len`] floats.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_in(
    kern: &arch::Kernels,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    scratch: &mut [f32],
) {
    if trans_b {
        check_matrix("sgemm b", n, k, ldb, b.len());
    } else {
        check_matrix("sgemm b", k, n, ldb, b.len());
    }
    if m == 1 && k > 0 && n > 0 {
        // A vector times a matrix: packing B would cost as much as the product itself.
        check_matrix(
            "sgemm a",
            if trans_a { k } else { 1 },
            if trans_a { 1 } else { k },
            lda,
            a.len(),
        );
        check_matrix("sgemm c", 1, n, ldc, c.len());
        gemv(
            kern,
            k,
            n,
            a,
            lda,
            trans_a,
            b,
            ldb,
            trans_b,
            &mut c[..n],
            accumulate,
        );
        return;
    }
    let epi = Epilogue {
        accumulate,
        bias: Bias::None,
        act: Activation::None,
    };
    let a = AOperand::Raw {
        a,
        lda,
        trans: trans_a,
    };
    if m == 0 || n == 0 || k == 0 {
        let c = MatMut::new(c, m, n, ldc);
        gemm_packed_b(kern, m, k, n, a, &[], c, &epi);
        return;
    }
    check_matrix("sgemm c", m, n, ldc, c.len());
    let cols = b_block_cols(n, k);
    assert!(
        scratch.len() >= sgemm_scratch_len(m, n, k),
        "sgemm: scratch too short"
    );
    for j0 in (0..n).step_by(cols) {
        let w = cols.min(n - j0);
        let bp = &mut scratch[..w.div_ceil(NR) * NR * k];
        let b_blk = if trans_b { &b[j0 * ldb..] } else { &b[j0..] };
        pack_b_panels(k, w, b_blk, ldb, trans_b, bp);
        let cv = MatMut::new(&mut c[j0..], m, w, ldc);
        gemm_packed_b(kern, m, k, w, a, bp, cv, &epi);
    }
}

/// `c[1×n] (+)= a[1×k] · b` without packing: row-by-row axpy for a row-major `b`, one dot
/// product per output for a transposed `b`. Slices are checked by the caller.
#[allow(clippy::too_many_arguments)]
fn gemv(
    kern: &arch::Kernels,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [f32],
    accumulate: bool,
) {
    // The k values of the single row of A, contiguous.
    let a_row: std::borrow::Cow<[f32]> = if trans_a {
        (0..k).map(|p| a[p * lda]).collect::<Vec<f32>>().into()
    } else {
        (&a[..k]).into()
    };
    if trans_b {
        if accumulate {
            let mut d = vec![0f32; n];
            (kern.gemv_rows)(k, &a_row, b, ldb, &mut d);
            c.iter_mut().zip(&d).for_each(|(cj, dj)| *cj += dj);
        } else {
            (kern.gemv_rows)(k, &a_row, b, ldb, c);
        }
    } else {
        if !accumulate {
            c.fill(0.0);
        }
        // Accumulate into a zeroed row and add once, so `accumulate` adds the finished
        // product like the blocked path does.
        let mut acc = vec![0f32; n];
        for (p, &av) in a_row.iter().enumerate() {
            for (s, &bv) in acc.iter_mut().zip(&b[p * ldb..p * ldb + n]) {
                *s += av * bv;
            }
        }
        for (cj, s) in c.iter_mut().zip(&acc) {
            *cj += s;
        }
    }
}

/// The B operand (typically weights) packed once into the micro-kernel's panel layout:
/// `ceil(n / 16)` panels, each `k × 16` values stored `k`-major, the last one zero-padded.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedB {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl PackedB {
    /// Packs `b` (`k × n`, or stored `n × k` when `trans_b`, leading dimension `ldb`).
    /// Preconditions (asserted): `b` holds the described matrix.
    pub fn pack(k: usize, n: usize, b: &[f32], ldb: usize, trans_b: bool) -> PackedB {
        match PackedB::try_pack(k, n, b, ldb, trans_b) {
            Ok(p) => p,
            Err(e) => panic!("PackedB::pack: {e}"),
        }
    }

    /// Floats a packed `k × n` matrix holds (`n` rounded up to whole panels).
    pub fn packed_len(k: usize, n: usize) -> Option<usize> {
        n.div_ceil(NR).checked_mul(NR)?.checked_mul(k)
    }

    /// [`PackedB::pack`] that reports a failed allocation instead of panicking.
    pub fn try_pack(
        k: usize,
        n: usize,
        b: &[f32],
        ldb: usize,
        trans_b: bool,
    ) -> Result<PackedB, AllocError> {
        if trans_b {
            check_matrix("PackedB::pack b", n, k, ldb, b.len());
        } else {
            check_matrix("PackedB::pack b", k, n, ldb, b.len());
        }
        let len = PackedB::packed_len(k, n).ok_or(AllocError { bytes: usize::MAX })?;
        let mut data = try_zeroed(len)?;
        pack_b_panels(k, n, b, ldb, trans_b, &mut data);
        Ok(PackedB { k, n, data })
    }

    /// Bytes held by the packed copy.
    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }
    /// Inner (reduction) dimension.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Number of output columns.
    pub fn n(&self) -> usize {
        self.n
    }
}

/// `c[m×n] = act(a[m×k] · B + bias)`, `bias` (length `n`) added per output column.
///
/// `a` is row-major with leading dimension `lda`; `c` row-major with `ldc`. Preconditions
/// (asserted): `a` holds `m × b.k()`, `c` holds `m × b.n()`, `bias` has length `b.n()`.
///
/// Rows are independent: to split the work (e.g. across threads), call it per row range
/// `r0..r1` with `&a[r0 * lda..]`, `&mut c[r0 * ldc..]` and `m = r1 - r0`; `b` is shared.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_packed(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    sgemm_packed_with(arch::active(), m, a, lda, b, bias, act, c, ldc)
}

/// [`sgemm_packed`] with an explicit kernel table.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_packed_with(
    kern: &arch::Kernels,
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    let bias = match bias {
        Some(v) => {
            assert_eq!(v.len(), b.n, "sgemm_packed: bias length");
            Bias::PerCol(v)
        }
        None => Bias::None,
    };
    let epi = Epilogue {
        accumulate: false,
        bias,
        act,
    };
    let a = AOperand::Raw {
        a,
        lda,
        trans: false,
    };
    let c = MatMut::new(c, m, b.n, ldc);
    gemm_packed_b(kern, m, b.k, b.n, a, &b.data, c, &epi);
}

/// The A operand (typically convolution weights, `m` output channels × `k`) packed once
/// into the row panels of one kernel table's micro-tile, for every K block the driver
/// uses: block `pc` (depth `kc`) starts at `pc · m_pad` and holds `m_pad / mr` panels of
/// `mr × kc` values (`m_pad` = `m` rounded up to `mr`, padding rows zero). Saves packing
/// A on every call (for a convolution: once per block of output pixels).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedA {
    m: usize,
    k: usize,
    mr: usize,
    data: Vec<f32>,
}

impl PackedA {
    /// Packs `a` (`m × k`, or stored `k × m` when `trans`, leading dimension `lda`) for the
    /// active kernel table. Preconditions (asserted): `a` holds the described matrix.
    pub fn pack(m: usize, k: usize, a: &[f32], lda: usize, trans: bool) -> PackedA {
        PackedA::pack_with(arch::active(), m, k, a, lda, trans)
    }

    /// [`PackedA::pack`] for an explicit kernel table (only usable with that table).
    pub fn pack_with(
        kern: &arch::Kernels,
        m: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        trans: bool,
    ) -> PackedA {
        match PackedA::try_pack_with(kern, m, k, a, lda, trans) {
            Ok(p) => p,
            Err(e) => panic!("PackedA::pack: {e}"),
        }
    }

    /// [`PackedA::pack_with`] that reports a failed allocation instead of panicking.
    pub fn try_pack_with(
        kern: &arch::Kernels,
        m: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        trans: bool,
    ) -> Result<PackedA, AllocError> {
        if trans {
            check_matrix("PackedA::pack a", k, m, lda, a.len());
        } else {
            check_matrix("PackedA::pack a", m, k, lda, a.len());
        }
        let mr = kern.mr;
        let m_pad = m.div_ceil(mr) * mr;
        let len = m_pad
            .checked_mul(k)
            .ok_or(AllocError { bytes: usize::MAX })?;
        let mut data = try_zeroed(len)?;
        if m > 0 {
            let kc_step = driver::kc_step(k);
            for pc in (0..k).step_by(kc_step) {
                let kc = kc_step.min(k - pc);
                let dst = &mut data[pc * m_pad..pc * m_pad + m_pad * kc];
                pack::pack_a(a, lda, trans, 0, m, pc, kc, mr, dst);
            }
        }
        Ok(PackedA { m, k, mr, data })
    }

    /// Rows (output channels).
    pub fn m(&self) -> usize {
        self.m
    }

    /// Inner (reduction) dimension.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Bytes held by the packed copy.
    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }
}

/// Portable one-row product over packed B panels (see [`arch::GemvFn`]): the reference
/// for the SIMD versions, summing over `k` in order for every column.
pub(crate) fn portable_gemv(k: usize, a: &[f32], b: &[f32], panels: usize, out: &mut [f32]) {
    assert!(a.len() >= k && b.len() >= panels * k * NR && out.len() >= panels * NR);
    for (panel, dst) in b
        .chunks_exact(k * NR)
        .zip(out.chunks_exact_mut(NR))
        .take(panels)
    {
        dst.fill(0.0);
        for (&x, row) in a.iter().zip(panel.chunks_exact(NR)) {
            for (d, &bv) in dst.iter_mut().zip(row) {
                *d += x * bv;
            }
        }
    }
}

/// Portable one-row product against a matrix stored by rows (see [`arch::GemvRowsFn`]):
/// the reference for the SIMD versions.
pub(crate) fn portable_gemv_rows(k: usize, a: &[f32], b: &[f32], ldb: usize, out: &mut [f32]) {
    for (j, o) in out.iter_mut().enumerate() {
        *o = crate::lanes::dot(&a[..k], &b[j * ldb..j * ldb + k]);
    }
}

/// Rows of B (a weight stored `n × k`) read per block by [`sgemm_rows`]: about 128 KiB, so
/// the block stays in L2 while each of the few rows of A runs over it.
fn rows_per_block(k: usize) -> usize {
    ((32 * 1024) / k.max(1)).max(4) / 4 * 4
}

/// `c[m×n] = a[m×k] · bᵀ (+ bias per column)` for a `b` stored `n × k` by rows (the weight
/// of a Linear layer, `[out, in]`), without packing and without scratch: every output is a
/// dot product of a row of A with a contiguous row of B (the table's `gemv_rows`). Meant
/// for few rows of A (a decoding step, a batch of one): B is read once from memory, block
/// by block, and each block is reused from cache for every row of A. Split over columns
/// across threads when large enough.
///
/// Preconditions (asserted): `a` holds `m × k` (leading dimension `lda`), `b` holds `n × k`
/// (`ldb`), `c` holds `m × n` (`ldc`), `bias` has length `n`.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_rows(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    bias: Option<&[f32]>,
    c: &mut [f32],
    ldc: usize,
) {
    sgemm_rows_with(arch::active(), m, n, k, a, lda, b, ldb, bias, c, ldc)
}

/// [`sgemm_rows`] with an explicit kernel table.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_rows_with(
    kern: &arch::Kernels,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    bias: Option<&[f32]>,
    c: &mut [f32],
    ldc: usize,
) {
    check_matrix("sgemm_rows a", m, k, lda, a.len());
    check_matrix("sgemm_rows b", n, k, ldb, b.len());
    if let Some(bv) = bias {
        assert_eq!(bv.len(), n, "sgemm_rows: bias length");
    }
    let c = MatMut::new(c, m, n, ldc);
    if m == 0 || n == 0 {
        return;
    }
    let min_macs = crate::parallel::split_threshold(MIN_PAR_MACS);
    let parts = crate::parallel::parts(n, min_macs.div_ceil(m.saturating_mul(k).max(1)));
    let ranges = crate::parallel::split_even(n, parts);
    let items: Vec<_> = c.split_blocks(&ranges).into_iter().zip(ranges).collect();
    let step = rows_per_block(k);
    crate::parallel::for_each(items, |(mut view, (j0, j1))| {
        for r0 in (j0..j1).step_by(step) {
            let r1 = (r0 + step).min(j1);
            for i in 0..m {
                let dst = view.row_part(i, r0 - j0, r1 - r0);
                if k == 0 {
                    dst.fill(0.0);
                } else {
                    (kern.gemv_rows)(k, &a[i * lda..i * lda + k], &b[r0 * ldb..], ldb, dst);
                }
                if let Some(bv) = bias {
                    dst.iter_mut().zip(&bv[r0..r1]).for_each(|(d, s)| *d += s);
                }
            }
        }
    });
}

/// Portable micro-kernel: a 4 × 16 tile (see [`arch::TileFn`]), with a separate loop for
/// partial panels so that e.g. a single row (m = 1) does not pay for four.
pub(crate) fn portable_tile(rows: usize, kc: usize, a: &[f32], b: &[f32], acc: &mut [f32]) {
    const MR: usize = 4;
    assert!(a.len() >= kc * MR && b.len() >= kc * NR && acc.len() >= MR * NR);
    let mut t = [[0f32; NR]; MR];
    let steps = a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc);
    if rows >= MR {
        for (ap, bp) in steps {
            for (row, &av) in t.iter_mut().zip(ap) {
                for (x, &bv) in row.iter_mut().zip(bp) {
                    *x += av * bv;
                }
            }
        }
    } else {
        for (ap, bp) in steps {
            for (row, &av) in t.iter_mut().zip(ap).take(rows) {
                for (x, &bv) in row.iter_mut().zip(bp) {
                    *x += av * bv;
                }
            }
        }
    }
    for (dst, row) in acc.chunks_exact_mut(NR).zip(t.iter()) {
        dst.copy_from_slice(row);
    }
}

#[cfg(test)]
mod tests;
