//! int8 × int8 → i32 GEMM/GEMV with a fused f32 epilogue: the weights (per output channel,
//! symmetric) are packed once into [`PackedI8`]; the activations are quantized per row at
//! call time ([`super::quantize_rows`]).

use super::{ActFormat, QKernels, QuantError, QuantRows, MAX_K_I8, QMR, QNP, QNR};
use crate::activation::Activation;
use crate::gemm::MatMut;
use crate::parallel;

/// int8 weights of a Linear layer (`n` outputs × `k` inputs), packed for the int8 tiles.
///
/// Layout: `ceil(n/16)` panels of 16 output channels; a panel holds `k4 = ceil(k/4)`
/// groups, and a group the 4 consecutive inputs of each of the 16 channels (64 bytes:
/// channel 0's 4 bytes, then channel 1's, ...). This is the order `vpdpbusd` (16 i32 lanes
/// × 4 bytes), `vpmaddubsw`/`vpmaddwd` (8 lanes per ymm) and the wasm dot products
/// (4 lanes) consume, so every table reads the same bytes. Padding (inputs past `k`,
/// channels past `n`) is zero.
///
/// Bytes: `16·ceil(n/16) · 4·ceil(k/4)` codes + `4n` scales + `4·16·ceil(n/16)` column
/// sums (used to undo VNNI's +128 offset), i.e. `n·k + 8n` plus padding — about a quarter of
/// the f32 weights.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedI8 {
    n: usize,
    k: usize,
    pub(super) k4: usize,
    pub(super) data: Vec<i8>,
    pub(super) scales: Vec<f32>,
    pub(super) colsum: Vec<i32>,
}

impl PackedI8 {
    /// Packs `w` (`n × k` row-major codes, the layout of a Linear weight) with one scale
    /// per output channel (`w ≈ q · scales[j]`). Errors: wrong lengths, a code of -128,
    /// a negative or non-finite scale, `k > MAX_K_I8`. (A zero scale is allowed: an
    /// all-zero channel.)
    pub fn pack(n: usize, k: usize, w: &[i8], scales: &[f32]) -> Result<PackedI8, QuantError> {
        let len = n.checked_mul(k).ok_or(QuantError::TooDeep { k })?;
        if k > MAX_K_I8 {
            return Err(QuantError::TooDeep { k });
        }
        if w.len() != len {
            return Err(QuantError::Length {
                what: "int8 weights",
                expected: len,
                got: w.len(),
            });
        }
        if scales.len() != n {
            return Err(QuantError::Length {
                what: "int8 scales",
                expected: n,
                got: scales.len(),
            });
        }
        if let Some(index) = scales.iter().position(|s| !(s.is_finite() && *s >= 0.0)) {
            return Err(QuantError::BadScale { index });
        }
        if w.contains(&i8::MIN) {
            return Err(QuantError::Int8OutOfRange);
        }
        let panels = n.div_ceil(QNR);
        let k4 = k.div_ceil(4);
        let mut data = vec![0i8; panels * k4 * 64];
        let mut colsum = vec![0i32; panels * QNR];
        for j in 0..n {
            let (p, c) = (j / QNR, j % QNR);
            let panel = &mut data[p * k4 * 64..(p + 1) * k4 * 64];
            let row = &w[j * k..(j + 1) * k];
            for (i, &v) in row.iter().enumerate() {
                panel[(i / 4) * 64 + c * 4 + i % 4] = v;
            }
            colsum[j] = row.iter().map(|&v| v as i32).sum();
        }
        Ok(PackedI8 {
            n,
            k,
            k4,
            data,
            scales: scales.to_vec(),
            colsum,
        })
    }

    /// Quantizes f32 weights (`n × k` row-major) per output channel, symmetric
    /// (`s_j = max|w_j| / 127`, as the exporter does), and packs them.
    pub fn from_f32(n: usize, k: usize, w: &[f32]) -> Result<PackedI8, QuantError> {
        if w.len() != n.saturating_mul(k) {
            return Err(QuantError::Length {
                what: "f32 weights",
                expected: n.saturating_mul(k),
                got: w.len(),
            });
        }
        let mut codes = vec![0i8; w.len()];
        let mut scales = vec![0f32; n];
        for j in 0..n {
            let row = &w[j * k..(j + 1) * k];
            let amax = row.iter().fold(0f32, |a, x| a.max(x.abs()));
            if !amax.is_finite() {
                return Err(QuantError::BadScale { index: j });
            }
            let s = amax / 127.0;
            scales[j] = s;
            if s > 0.0 {
                for (c, &x) in codes[j * k..(j + 1) * k].iter_mut().zip(row) {
                    *c = (x / s).round().clamp(-127.0, 127.0) as i8;
                }
            }
        }
        PackedI8::pack(n, k, &codes, &scales)
    }

    /// Output channels.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Inputs per channel.
    pub fn k(&self) -> usize {
        self.k
    }
    /// The per-channel scales.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }
    /// Bytes held (codes incl. padding, scales, column sums).
    pub fn bytes(&self) -> usize {
        self.data.len() + 4 * self.scales.len() + 4 * self.colsum.len()
    }
    /// Channel `j`'s code for input `i` (for dequantizing on demand).
    pub fn code(&self, j: usize, i: usize) -> i8 {
        assert!(j < self.n && i < self.k);
        self.data[(j / QNR) * self.k4 * 64 + (i / 4) * 64 + (j % QNR) * 4 + i % 4]
    }
    /// Dequantizes row (output channel) `j` into `out` (length `k`).
    pub fn dequantize_row(&self, j: usize, out: &mut [f32]) {
        assert_eq!(out.len(), self.k);
        let s = self.scales[j];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.code(j, i) as f32 * s;
        }
    }
}

/// `c[m×n] = act(a[m×k] · Wᵀ + bias)` through int8: `a` is quantized per row, then
/// multiplied with the active table. `a` row-major (leading dimension `lda`), `c` row-major
/// (`ldc`). Preconditions (asserted): sizes match `w`.
#[allow(clippy::too_many_arguments)]
pub fn qgemm_i8(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &PackedI8,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    qgemm_i8_with(super::active(), m, a, lda, w, bias, act, c, ldc)
}

/// [`qgemm_i8`] with an explicit table.
#[allow(clippy::too_many_arguments)]
pub fn qgemm_i8_with(
    qk: &QKernels,
    m: usize,
    a: &[f32],
    lda: usize,
    w: &PackedI8,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    let mut q = QuantRows::default();
    super::quantize_rows_as(qk.act, m, w.k, a, lda, &mut q);
    qgemm_i8_quantized_with(qk, &q, w, bias, act, c, ldc)
}

/// Least multiply-adds per thread worth a fork/join (int8 runs ~4x the f32 rate, so 4x the
/// f32 GEMM's threshold).
const MIN_PAR_MACS: usize = if cfg!(test) { 64 } else { 1 << 21 };

/// The product of already quantized rows `q` with `w`, epilogue fused:
/// `c[i][j] = act((acc[i][j] - z_i · Σ_k w[j][k]) · (q.scales[i] · w.scales[j]) + bias[j])`.
/// Preconditions (asserted): `q` matches `w`'s depth, and is in a scheme `qk` accepts
/// (a table needing [`ActFormat::Unsigned7`] is not given signed rows).
pub fn qgemm_i8_quantized_with(
    qk: &QKernels,
    q: &QuantRows,
    w: &PackedI8,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(
        q.k == w.k && q.stride == w.k4 * 4,
        "qgemm_i8: rows of {} values for weights of {} inputs",
        q.k,
        w.k
    );
    check_format(qk, q);
    if let Some(b) = bias {
        assert_eq!(b.len(), w.n, "qgemm_i8: bias length");
    }
    let (m, n) = (q.m, w.n);
    let view = MatMut::new(c, m, n, ldc);
    if m == 0 || n == 0 {
        return;
    }
    let pairs = n.div_ceil(QNR * QNP);
    let per_pair = m.saturating_mul(w.k).saturating_mul(QNR * QNP).max(1);
    let parts = parallel::parts(
        pairs,
        parallel::split_threshold(MIN_PAR_MACS).div_ceil(per_pair),
    );
    let ranges = parallel::split_even(pairs, parts);
    let cols: Vec<(usize, usize)> = ranges
        .iter()
        .map(|&(p0, p1)| (p0 * QNR * QNP, (p1 * QNR * QNP).min(n)))
        .collect();
    let items: Vec<_> = view.split_blocks(&cols).into_iter().zip(cols).collect();
    parallel::for_each(items, |(view, (j0, j1))| {
        block(qk, q, w, j0, j1, bias, act, view)
    });
}

/// Asserts that `qk` can take rows quantized as `q.format` (the relaxed-SIMD tile is only
/// engine-independent for 7-bit unsigned codes).
pub(super) fn check_format(qk: &QKernels, q: &QuantRows) {
    assert!(
        qk.act == ActFormat::Signed8 || q.format == qk.act,
        "qgemm_i8: table {} needs {:?} activations, got {:?}",
        qk.name,
        qk.act,
        q.format
    );
    assert_eq!(q.zero_points.len(), q.m, "qgemm_i8: zero points");
}

/// Columns `j0..j1` (`j0` a multiple of 32) of the product, into `view` (those columns).
#[allow(clippy::too_many_arguments)]
pub(super) fn block(
    qk: &QKernels,
    q: &QuantRows,
    w: &PackedI8,
    j0: usize,
    j1: usize,
    bias: Option<&[f32]>,
    act: Activation,
    mut view: MatMut,
) {
    let k4 = w.k4;
    let pair = QNR * QNP;
    // Tiles of up to `EPILOGUE_PAIRS` column pairs are computed before their rows are
    // finished, so the per-row costs of the epilogue (slicing, bias, activation dispatch)
    // are paid once per 128 columns instead of per 32.
    let mut acc = [0i32; QMR * QNR * QNP * EPILOGUE_PAIRS];
    for jb in (j0..j1).step_by(pair * EPILOGUE_PAIRS) {
        let jb1 = (jb + pair * EPILOGUE_PAIRS).min(j1);
        let bw = jb1 - jb;
        for r0 in (0..q.m).step_by(QMR) {
            let rows = QMR.min(q.m - r0);
            let a = &q.data[r0 * q.stride..];
            for (t, jp) in (jb..jb1).step_by(pair).enumerate() {
                let p = jp / QNR;
                let np = (jb1 - jp).div_ceil(QNR).min(QNP);
                let b = &w.data[p * k4 * 64..(p + np) * k4 * 64];
                let colsum = &w.colsum[p * QNR..(p + np) * QNR];
                let tile = &mut acc[t * QMR * pair..(t + 1) * QMR * pair];
                (qk.i8_tile)(rows, k4, a, q.stride, b, np, colsum, tile);
            }
            for r in 0..rows {
                let (sa, z) = (q.scales[r0 + r], q.zero_points[r0 + r]);
                let out = view.row_part(r0 + r, jb - j0, bw);
                for (t, o) in out.chunks_mut(pair).enumerate() {
                    let (c0, c1) = (jb + t * pair, jb + t * pair + o.len());
                    let tile = &acc[t * QMR * pair + r * pair..];
                    dequantize(o, tile, &w.colsum[c0..c1], z, sa, &w.scales[c0..c1]);
                }
                super::finish_row(out, bias.map(|b| &b[jb..jb1]), act);
            }
        }
    }
}

/// Column pairs (32 columns each) per epilogue pass of [`block`].
const EPILOGUE_PAIRS: usize = 4;

/// `out[j] = (acc[j] - z · colsum[j]) as f32 · (sa · ws[j])` for the `out.len()` columns
/// of one tile row, over fixed 8-wide chunks (vectorized on every target). The true sum fits in an i32 (`|a - z| ≤ 127`), so the wrapping
/// difference is exact even where `acc` and `z·Σw` are both large; for `z = 0` it is `acc`.
fn dequantize(out: &mut [f32], acc: &[i32], colsum: &[i32], z: i32, sa: f32, ws: &[f32]) {
    // Without a zero point (every table but wasm relaxed SIMD) no i32 multiply: baseline
    // x86_64 (SSE2) has no vector one.
    if z == 0 {
        dequantize_z::<false>(out, acc, colsum, z, sa, ws)
    } else {
        dequantize_z::<true>(out, acc, colsum, z, sa, ws)
    }
}

#[inline(always)]
fn dequantize_z<const Z: bool>(
    out: &mut [f32],
    acc: &[i32],
    colsum: &[i32],
    z: i32,
    sa: f32,
    ws: &[f32],
) {
    let n = out.len();
    let (acc, colsum, ws) = (&acc[..n], &colsum[..n], &ws[..n]);
    let one = |v: i32, cs: i32, sw: f32| {
        let v = if Z {
            v.wrapping_sub(z.wrapping_mul(cs))
        } else {
            v
        };
        v as f32 * (sa * sw)
    };
    let mut o = out.chunks_exact_mut(8);
    let mut a = acc.chunks_exact(8);
    let mut c = colsum.chunks_exact(8);
    let mut w = ws.chunks_exact(8);
    for (((o, a), c), w) in (&mut o).zip(&mut a).zip(&mut c).zip(&mut w) {
        let (o, a): (&mut [f32; 8], &[i32; 8]) = (o.try_into().unwrap(), a.try_into().unwrap());
        let (c, w): (&[i32; 8], &[f32; 8]) = (c.try_into().unwrap(), w.try_into().unwrap());
        for i in 0..8 {
            o[i] = one(a[i], c[i], w[i]);
        }
    }
    let tail = o.into_remainder().iter_mut().zip(a.remainder());
    for ((o, &v), (&cs, &sw)) in tail.zip(c.remainder().iter().zip(w.remainder())) {
        *o = one(v, cs, sw);
    }
}

/// Portable int8 tile (see [`super::I8TileFn`]): the reference.
#[allow(clippy::too_many_arguments)]
pub(crate) fn portable_tile(
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
        let ar = &a[r * lda..r * lda + 4 * k4];
        for p in 0..panels {
            let bp = &b[p * k4 * 64..(p + 1) * k4 * 64];
            let mut s = [0i32; QNR];
            for (av, wv) in ar.chunks_exact(4).zip(bp.chunks_exact(64)) {
                // Fixed-size operands so the compiler can vectorize the 16 columns.
                let av: [i32; 4] = std::array::from_fn(|t| av[t] as i32);
                let wv: &[i8; 64] = wv.try_into().expect("64-byte group");
                for (j, sj) in s.iter_mut().enumerate() {
                    *sj += av[0] * wv[4 * j] as i32
                        + av[1] * wv[4 * j + 1] as i32
                        + av[2] * wv[4 * j + 2] as i32
                        + av[3] * wv[4 * j + 3] as i32;
                }
            }
            acc[r * QNR * QNP + p * QNR..][..QNR].copy_from_slice(&s);
        }
    }
}

/// The bounds every tile implementation relies on (asserted, so SIMD versions can use
/// unchecked loads).
pub(crate) fn check_tile(
    rows: usize,
    k4: usize,
    a: &[i8],
    lda: usize,
    b: &[i8],
    panels: usize,
    acc: &[i32],
) {
    assert!((1..=QMR).contains(&rows) && (1..=QNP).contains(&panels));
    assert!(lda >= 4 * k4 && a.len() >= (rows - 1) * lda + 4 * k4);
    assert!(b.len() >= panels * k4 * 64);
    assert!(acc.len() >= rows * QNR * QNP);
}
