//! Resident quantized weights: 2-d int8 (per output channel, symmetric) and f16 weights
//! stay in their stored precision in memory, and the matrix products that use them as the
//! weight operand run on the quantized kernels of `wasm_torch_kernels::quant`.
//!
//! Policy:
//! - At load, a 2-d f32 weight stored as int8 quantized per channel with zero points 0
//!   (what the exporter's `weights="int8"` writes: axis 0 for Linear weights `n × k`, axis
//!   1 for transformers' Conv1D weights `k × n`) becomes a
//!   [`QuantWeight`] holding a [`PackedI8`] (codes repacked once for the int8 tiles; about
//!   the stored size); one stored as f16 holds the half bits as they are (`n × k`: an f16
//!   weight is taken as a Linear weight; used any other way it is materialised in f32); one
//!   stored as group-wise int4 (format 1.1 tag 3) holds its 4-bit codes, f16 scales and
//!   offsets as a [`Q4Weights`] (decode-sized products run the int4 GEMV, larger ones
//!   dequantise blocks of channels into the f32 GEMM); one stored as group-wise int8 (tag
//!   4, GGUF Q8_0 style) holds its codes and f16 scales as a [`Q8GroupWeights`] on the same
//!   two paths. A 3-d or 4-d convolution weight
//!   stored int8 per output channel is held the same way as `O × C/g·KH·KW` codes, and an
//!   ungrouped convolution over it runs the int8 convolution ([`conv_weight`]; grouped and
//!   depthwise ones read the f32 copy). A Linear weight's codes of -128 (what PyTorch's and
//!   torchao's symmetric quantizers give a channel's most negative weight) are packed as
//!   -127 and corrected exactly ([`Minus128`]); a convolution weight holding one reads the
//!   f32 copy. Other quantized weights (non-zero zero points) are still dequantised to f32
//!   at load, as before.
//! - The weight is still an f32 [`Tensor`] to every op: its storage is the [`QuantWeight`]
//!   itself (a [`ByteSource`]). A product `x · Wᵀ` reaching [`mm2d`] (`aten::linear`, and
//!   `mm`/`addmm`/`matmul` with the transposed weight) runs int8 GEMM with dynamic per-row
//!   activation quantization (int8 weights), the f16 GEMV/GEMM (f16 weights) or the
//!   group-wise weight-only GEMV/GEMM (int4 and group-wise int8 weights);
//!   `aten::embedding` over the weight (tied input/output embeddings) dequantises only the
//!   rows it gathers.
//! - Any other read of the weight's f32 values materialises a full f32 copy on first use
//!   and keeps it (counted by [`QuantWeight::resident_bytes`]): correct for every op, and
//!   visible in the load statistics when a model pays for it.
//! - `WASM_TORCH_RESIDENT_QUANT=0` in the environment turns the whole scheme off (weights
//!   dequantised at load as before), for comparisons.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use wasm_torch_format::model::{DType, Quantization, TensorInfo};
use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::quant::{
    f16_gemm, q4_gemm, q8g_gemm, qgemm_i8, F16Weights, PackedI8, Q4Weights, Q8GroupWeights,
};

use crate::error::{Error, Result};
use crate::quant_minus128::Minus128;
use crate::storage::{try_alloc, ByteSource};
use crate::tensor::Tensor;

/// The stored representation.
enum Kind {
    I8(PackedI8),
    F16(F16Weights),
    Q4(Q4Weights),
    Q8(Q8GroupWeights),
}

/// A Linear-shaped weight (`n` outputs × `k` inputs) kept quantized; also the byte source
/// of its f32 tensor (materialised lazily, see the module docs).
pub(crate) struct QuantWeight {
    n: usize,
    k: usize,
    /// Stored as `k × n` (transformers' Conv1D, used as `addmm(bias, x, W)`) rather than
    /// `n × k` (a Linear weight); the quantized data is `n × k` either way.
    kn: bool,
    kind: Kind,
    f32_copy: OnceLock<Vec<f32>>,
    /// An f16 weight used as `x · W` (not `x · Wᵀ`): its transpose, made on first use.
    f16_t: OnceLock<F16Weights>,
    /// The int8 codes of -128 packed as -127 (see [`Minus128`]).
    minus128: Option<Minus128>,
}

impl QuantWeight {
    /// A weight over quantized data, with no f32 copy or transpose made yet.
    fn new(n: usize, k: usize, kn: bool, kind: Kind, minus128: Option<Minus128>) -> QuantWeight {
        QuantWeight {
            n,
            k,
            kn,
            kind,
            f32_copy: OnceLock::new(),
            f16_t: OnceLock::new(),
            minus128,
        }
    }

    /// Bytes this weight holds now: the quantized data, plus the f32 copy if an op forced
    /// one.
    pub(crate) fn resident_bytes(&self) -> usize {
        let q = match &self.kind {
            Kind::I8(p) => p.bytes(),
            Kind::F16(h) => h.bytes(),
            Kind::Q4(w) => w.bytes(),
            Kind::Q8(w) => w.bytes(),
        };
        q + self.minus128.as_ref().map_or(0, Minus128::bytes)
            + self.f32_copy.get().map_or(0, |v| 4 * v.len())
            + self.f16_t.get().map_or(0, |t| t.bytes())
    }

    /// Dequantises output channel `j` into `out` (length `k`).
    fn row(&self, j: usize, out: &mut [f32]) {
        match &self.kind {
            Kind::I8(p) => {
                p.dequantize_row(j, out);
                if let Some(f) = &self.minus128 {
                    f.fix_row(j, out);
                }
            }
            Kind::F16(h) => h.dequantize_row(j, out),
            Kind::Q4(w) => w.dequantize_row(j, out),
            Kind::Q8(w) => w.dequantize_row(j, out),
        }
    }
}

impl ByteSource for QuantWeight {
    fn bytes(&self) -> &[u8] {
        let v = self.f32_copy.get_or_init(|| {
            let (n, k) = (self.n, self.k);
            let mut v = vec![0f32; n * k];
            if k > 0 && !self.kn {
                for (j, r) in v.chunks_exact_mut(k).enumerate() {
                    self.row(j, r);
                }
            } else if k > 0 {
                let mut r = vec![0f32; k];
                for j in 0..n {
                    self.row(j, &mut r);
                    for (i, &x) in r.iter().enumerate() {
                        v[i * n + j] = x;
                    }
                }
            }
            v
        });
        bytemuck::cast_slice(v)
    }
    fn byte_len(&self) -> usize {
        4 * self.n * self.k
    }
    fn addr(&self) -> usize {
        // An identity that does not force the f32 copy (packing caches key on it).
        self as *const QuantWeight as usize
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// Whether resident quantized weights are enabled (see the module docs).
fn enabled() -> bool {
    std::env::var("WASM_TORCH_RESIDENT_QUANT").map_or(true, |v| v != "0")
}

/// The weight `info` as a resident quantized tensor, if the policy applies to it (`stored`
/// is its stored-dtype view). `None`: build it the ordinary way.
pub(crate) fn try_build(
    info: &TensorInfo,
    shape: &[usize],
    stored: &Tensor,
) -> Result<Option<Tensor>> {
    if info.dtype != DType::F32 || !(2..=4).contains(&shape.len()) || !enabled() {
        return Ok(None);
    }
    // A Linear weight is `n × k` quantized per row (axis 0); a Conv1D weight `k × n`
    // quantized per column (axis 1); a convolution weight `O × C/g × (KH ×) KW` per output
    // channel (axis 0), held as `O × (C/g·KH·KW)`, the row-major order of its elements.
    let (axis, codes_kn) = match &info.quantization {
        Quantization::PerChannel { axis, .. } => (*axis, *axis == 1 && shape.len() == 2),
        _ => (0, false),
    };
    if shape.len() > 2 && (axis != 0 || info.stored_dtype != DType::I8) {
        return Ok(None);
    }
    let inner = shape[1..].iter().product::<usize>();
    let (n, k) = if codes_kn {
        (shape[1], shape[0])
    } else {
        (shape[0], inner)
    };
    let kind = match (&info.quantization, info.stored_dtype) {
        (Quantization::PerChannel { .. }, DType::I8) if packable_int8(info) => {
            // Packed straight from the stored codes (a view into the load arena): no
            // transient copy of a whole weight on top of the arena and the packed result.
            return build_int8(info, shape, &stored.data::<i8>()?);
        }
        (Quantization::None, DType::F16) => {
            let bits = stored.data::<u16>()?.into_owned();
            match F16Weights::new(n, k, bits) {
                Ok(h) => Kind::F16(h),
                Err(_) => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    let q = QuantWeight::new(n, k, codes_kn, kind, None);
    Tensor::from_source(DType::F32, shape.to_vec(), Arc::new(q), 0).map(Some)
}

/// Whether weight `info` becomes a resident packed int8 weight ([`build_int8`]): an f32
/// weight of 2-4 dims stored as int8 per output channel (axis 0; axis 1 for a 2-d
/// Conv1D weight) with zero points 0 and one scale per channel, while the scheme is on.
/// The streaming loader packs such weights as their chunk arrives and frees the chunk.
pub(crate) fn packable_int8(info: &TensorInfo) -> bool {
    let Quantization::PerChannel {
        axis,
        scales,
        zero_points,
    } = &info.quantization
    else {
        return false;
    };
    let nd = info.shape.len();
    let channels = match (*axis, nd) {
        (0, 2..=4) => info.shape[0],
        (1, 2) => info.shape[1],
        _ => return false,
    };
    info.dtype == DType::F32
        && info.stored_dtype == DType::I8
        && zero_points.iter().all(|&z| z == 0)
        && scales.len() as u64 == channels
        && enabled()
}

/// The resident packed int8 tensor of weight `info` (which [`packable_int8`] accepts) from
/// its stored codes; `None` when the kernels refuse the codes (a depth past their limit, a
/// bad scale): the caller then builds the weight the ordinary way. Codes of -128 are packed
/// as -127 and corrected ([`Minus128`]).
pub(crate) fn build_int8(
    info: &TensorInfo,
    shape: &[usize],
    codes: &[i8],
) -> Result<Option<Tensor>> {
    let Quantization::PerChannel { axis, scales, .. } = &info.quantization else {
        return Ok(None);
    };
    let codes_kn = *axis == 1 && shape.len() == 2;
    let inner = shape[1..].iter().product::<usize>();
    let (n, k) = if codes_kn {
        (shape[1], shape[0])
    } else {
        (shape[0], inner)
    };
    let codes = if codes_kn {
        std::borrow::Cow::Owned(transpose(codes, k, n))
    } else {
        std::borrow::Cow::Borrowed(codes)
    };
    let (codes, minus128) = Minus128::split(&codes, n, k, scales);
    let packed = match PackedI8::pack(n, k, &codes, scales) {
        Ok(p) => p,
        // e.g. a bad scale: the f32 path reports or handles it.
        Err(_) => return Ok(None),
    };
    let q = QuantWeight::new(n, k, codes_kn, Kind::I8(packed), minus128);
    Tensor::from_source(DType::F32, shape.to_vec(), Arc::new(q), 0).map(Some)
}

/// A bad-file error about group-wise weight `what` of shape `shape`.
fn group_bad(what: &str, shape: &[usize], m: impl std::fmt::Display) -> Error {
    Error::bad_file(format!("{what} weight of shape {shape:?}: {m}"))
}

/// The layout the group-wise formats share (SPEC.md §4.6.1 and §4.6.2): the tensor viewed as
/// `rows × k` (`k` its last dimension), its codes (`codes_per_byte` to a byte) followed by
/// `params_per_group` little-endian f16 values per group of `group` along `k`. Returns
/// `(rows, k, codes, params)`; a group size that does not divide `k` (or packs a code across
/// bytes) or a wrong byte count is a bad-file error.
fn group_layout<'a>(
    what: &str,
    shape: &[usize],
    group: usize,
    codes_per_byte: usize,
    params_per_group: usize,
    bytes: &'a [u8],
) -> Result<(usize, usize, &'a [u8], Vec<u16>)> {
    let k = *shape
        .last()
        .ok_or_else(|| group_bad(what, shape, "rank 0"))?;
    let numel = crate::tensor::checked_numel(shape)?;
    let rows = numel.checked_div(k).unwrap_or(0);
    if group == 0 || k % group != 0 || group % codes_per_byte != 0 {
        return Err(group_bad(
            what,
            shape,
            format!("group size {group} does not divide {k}"),
        ));
    }
    let code_bytes = numel / codes_per_byte;
    let want = code_bytes + (numel / group) * params_per_group * 2;
    if bytes.len() != want {
        return Err(group_bad(
            what,
            shape,
            format!("{} stored bytes, expected {want}", bytes.len()),
        ));
    }
    let (codes, params) = bytes.split_at(code_bytes);
    let params = params
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok((rows, k, codes, params))
}

/// Parses the stored bytes of a group-wise int4 tensor (SPEC.md §4.6.1: codes, then f16
/// scales, then f16 offsets), viewing it as `rows × last` with `rows` the product of the
/// leading dimensions. Wrong lengths, a bad group size or a non-finite scale or offset are
/// a bad-file error.
pub(crate) fn int4_from_bytes(
    shape: &[usize],
    group: usize,
    offsets: bool,
    bytes: &[u8],
) -> Result<Q4Weights> {
    const WHAT: &str = "int4";
    let per_group = if offsets { 2 } else { 1 };
    let (rows, k, codes, mut scales) = group_layout(WHAT, shape, group, 2, per_group, bytes)?;
    // Scales of every group first, then (Q4_1 style) the offsets of every group.
    let mins = offsets.then(|| scales.split_off(scales.len() / 2));
    Q4Weights::new(rows, k, group, codes.to_vec(), scales, mins)
        .map_err(|e| group_bad(WHAT, shape, e))
}

/// Parses the stored bytes of a group-wise int8 tensor (SPEC.md §4.6.2: int8 codes, then
/// f16 scales), viewing it as `rows × last`. Wrong lengths, a bad group size or a
/// non-finite scale are a bad-file error.
pub(crate) fn int8g_from_bytes(
    shape: &[usize],
    group: usize,
    bytes: &[u8],
) -> Result<Q8GroupWeights> {
    const WHAT: &str = "group-wise int8";
    let (rows, k, codes, scales) = group_layout(WHAT, shape, group, 1, 1, bytes)?;
    let codes = codes.iter().map(|&b| b as i8).collect();
    Q8GroupWeights::new(rows, k, group, codes, scales).map_err(|e| group_bad(WHAT, shape, e))
}

/// A group-wise weight (int4 or int8) parsed from its stored bytes.
pub(crate) enum GroupWeights {
    /// 4-bit codes (tag 3).
    Int4(Q4Weights),
    /// 8-bit codes (tag 4).
    Int8(Q8GroupWeights),
}

/// The tensor of a group-wise weight: resident (a [`QuantWeight`] over the quantized data)
/// when it is a 2-d f32 weight (a Linear weight or an embedding table) and resident
/// quantization is on, else dequantised to f32 at load.
pub(crate) fn build_group(info: &TensorInfo, shape: Vec<usize>, w: GroupWeights) -> Result<Tensor> {
    let (n, k, kind) = match w {
        GroupWeights::Int4(q) => (q.n(), q.k(), Kind::Q4(q)),
        GroupWeights::Int8(q) => (q.n(), q.k(), Kind::Q8(q)),
    };
    let q = QuantWeight::new(n, k, false, kind, None);
    if info.dtype == DType::F32 && shape.len() == 2 && enabled() {
        return Tensor::from_source(DType::F32, shape, Arc::new(q), 0);
    }
    let mut v = try_alloc::<f32>(
        n.checked_mul(k)
            .ok_or_else(|| Error::oom("group-wise weight"))?,
    )?;
    if k > 0 {
        for (j, r) in v.chunks_exact_mut(k).enumerate() {
            q.row(j, r);
        }
    }
    Tensor::from_f32_as(DType::F32, shape, v).cast(info.dtype)
}

/// How a quantized weight `b` is used as the B operand (`k × n`) of `x · b`.
pub(crate) struct Operand<'a> {
    q: &'a QuantWeight,
    /// `b` is the weight's own layout, not the transposed view of a Linear weight.
    direct: bool,
}

/// The quantized weight behind `b` when the quantized kernels can run `x · b`: the
/// transposed view `Wᵀ` of a Linear weight `W` (`n × k`), an int8 `k × n` (Conv1D) weight
/// itself, or an f16 weight itself (through its transpose, made once).
pub(crate) fn product_weight(b: &Tensor) -> Option<Operand<'_>> {
    let q = b.quant_weight()?;
    let (rows, cols) = (b.shape().first()?, b.shape().get(1)?);
    let ndim2 = b.ndim() == 2;
    let (sn, sk) = if q.kn { (q.k, q.n) } else { (q.n, q.k) }; // stored rows, cols
    if ndim2 && [*rows, *cols] == [sk, sn] && b.strides() == [1, sk] && !q.kn {
        return Some(Operand { q, direct: false });
    }
    if ndim2 && [*rows, *cols] == [sn, sk] && b.strides() == [sk, 1] {
        return match q.kind {
            Kind::I8(_) if q.kn => Some(Operand { q, direct: false }),
            Kind::F16(_) => Some(Operand { q, direct: true }),
            Kind::I8(_) | Kind::Q4(_) | Kind::Q8(_) => None,
        };
    }
    None
}

/// `m` (`rows × cols`, row-major) transposed.
fn transpose<T: Copy + Default>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut t = vec![T::default(); m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

/// `a · b (+ bias)` on the quantized kernels, into a fresh `m × n` vector.
pub(crate) fn mm2d(op: Operand<'_>, a: &Tensor, bias: Option<&[f32]>) -> Result<Vec<f32>> {
    let q = op.q;
    let (k, n) = if op.direct { (q.n, q.k) } else { (q.k, q.n) };
    let m = a.shape()[0];
    if a.shape()[1] != k {
        return Err(Error::runtime(format!(
            "matrix shapes {:?} and [{k}, {n}] cannot be multiplied",
            a.shape()
        )));
    }
    if bias.is_some_and(|b| b.len() != n) {
        return Err(Error::runtime(format!("bias for {n} output columns")));
    }
    let mut out = try_alloc::<f32>(
        m.checked_mul(n)
            .ok_or_else(|| Error::oom("matmul too large"))?,
    )?;
    if m == 0 || n == 0 {
        return Ok(out);
    }
    let x = a.f32s()?;
    match &q.kind {
        Kind::I8(p) => {
            qgemm_i8(m, &x, k, p, bias, Activation::None, &mut out, n);
            if let Some(f) = &q.minus128 {
                f.add_to_product(&x, k, &mut out, n);
            }
        }
        Kind::F16(h) if op.direct => {
            let t = q.f16_t.get_or_init(|| {
                let bits = transpose(h.bits(), q.n, q.k);
                F16Weights::new(q.k, q.n, bits).expect("a transpose keeps the length")
            });
            f16_gemm(m, &x, k, t, bias, Activation::None, &mut out, n)
        }
        Kind::F16(h) => f16_gemm(m, &x, k, h, bias, Activation::None, &mut out, n),
        // Decode (m < 4) runs the int4 GEMV (codes expanded in registers); prefill converts
        // blocks of 64 channels to f32 panels and runs the f32 GEMM (inside `q4_gemm`).
        Kind::Q4(w) => q4_gemm(m, &x, k, w, bias, Activation::None, &mut out, n),
        // The same two paths with 8-bit codes (a GGUF Q8_0 LM head, for one).
        Kind::Q8(w) => q8g_gemm(m, &x, k, w, bias, Activation::None, &mut out, n),
    }
    Ok(out)
}

/// `embedding(W, ix)` over a resident quantized weight: only the gathered rows are
/// dequantised. `None` when `w` is not the whole weight (a view): use the f32 path.
pub(crate) fn embedding(w: &Tensor, ix: &Tensor) -> Result<Option<Tensor>> {
    let Some(q) = w.quant_weight() else {
        return Ok(None);
    };
    if q.kn || w.shape() != [q.n, q.k] || !w.is_contiguous() {
        return Ok(None);
    }
    let idx = ix.i64s()?;
    let mut out = try_alloc::<f32>(
        idx.len()
            .checked_mul(q.k)
            .ok_or_else(|| Error::oom("embedding too large"))?,
    )?;
    if q.k > 0 {
        for (&i, row) in idx.iter().zip(out.chunks_exact_mut(q.k)) {
            let j = usize::try_from(i)
                .ok()
                .filter(|&j| j < q.n)
                .ok_or_else(|| {
                    Error::runtime(format!(
                        "embedding: index {i} out of range for {} rows",
                        q.n
                    ))
                })?;
            q.row(j, row);
        }
    }
    let mut shape = ix.shape().to_vec();
    shape.push(q.k);
    Ok(Some(Tensor::from_f32(shape, out)))
}

/// The packed int8 codes behind a convolution weight `w` (3-d or 4-d, the whole resident
/// weight, contiguous), for the int8 convolution path. `None`: use the f32 path.
pub(crate) fn conv_weight(w: &Tensor) -> Option<&PackedI8> {
    let q = w.quant_weight()?;
    let inner: usize = w.shape().get(1..)?.iter().product();
    match &q.kind {
        Kind::I8(p)
            if w.ndim() >= 3
                && !q.kn
                && q.minus128.is_none()
                && w.shape()[0] == q.n
                && inner == q.k
                && w.is_contiguous() =>
        {
            Some(p)
        }
        _ => None,
    }
}

/// See [`crate::Program::resident_weight_bytes`].
pub(crate) fn resident_bytes(weights: &[Tensor]) -> u64 {
    let mut seen = std::collections::HashSet::new();
    weights
        .iter()
        .filter(|w| seen.insert(w.storage_id()))
        .map(|w| match w.quant_weight() {
            Some(q) => q.resident_bytes() as u64,
            None => (w.numel() * w.dtype().size()) as u64,
        })
        .sum()
}
