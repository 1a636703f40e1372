//! Resident quantized weights: 2-d int8 (per output channel, symmetric) and f16 weights
//! stay in their stored precision in memory, and the matrix products that use them as the
//! weight operand run on the quantized kernels of `wasm_torch_kernels::quant`.
//!
//! Policy:
//! - At load, a 2-d f32 weight stored as int8 quantized per channel along axis 0 with zero
//!   points 0 (what the exporter's `weights="int8"` writes for Linear weights) becomes a
//!   [`QuantWeight`] holding a [`PackedI8`] (codes repacked once for the int8 tiles; about
//!   the stored size); one stored as f16 holds the half bits as they are. Other quantized
//!   weights (convolutions, non-zero zero points, a code of -128) are still dequantised to
//!   f32 at load, as before.
//! - The weight is still an f32 [`Tensor`] to every op: its storage is the [`QuantWeight`]
//!   itself (a [`ByteSource`]). A product `x · Wᵀ` reaching [`mm2d`] (`aten::linear`, and
//!   `mm`/`addmm`/`matmul` with the transposed weight) runs int8 GEMM with dynamic per-row
//!   activation quantization (int8 weights) or the f16 GEMV/GEMM (f16 weights);
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
use wasm_torch_kernels::quant::{f16_gemm, qgemm_i8, F16Weights, PackedI8};

use crate::error::{Error, Result};
use crate::storage::{try_alloc, ByteSource};
use crate::tensor::Tensor;

/// The stored representation.
enum Kind {
    I8(PackedI8),
    F16(F16Weights),
}

/// A Linear-shaped weight (`n` outputs × `k` inputs) kept quantized; also the byte source
/// of its f32 tensor (materialised lazily, see the module docs).
pub(crate) struct QuantWeight {
    n: usize,
    k: usize,
    kind: Kind,
    f32_copy: OnceLock<Vec<f32>>,
}

impl QuantWeight {
    /// Bytes this weight holds now: the quantized data, plus the f32 copy if an op forced
    /// one.
    pub(crate) fn resident_bytes(&self) -> usize {
        let q = match &self.kind {
            Kind::I8(p) => p.bytes(),
            Kind::F16(h) => h.bytes(),
        };
        q + self.f32_copy.get().map_or(0, |v| 4 * v.len())
    }

    /// Dequantises output channel `j` into `out` (length `k`).
    fn row(&self, j: usize, out: &mut [f32]) {
        match &self.kind {
            Kind::I8(p) => p.dequantize_row(j, out),
            Kind::F16(h) => h.dequantize_row(j, out),
        }
    }
}

impl ByteSource for QuantWeight {
    fn bytes(&self) -> &[u8] {
        let v = self.f32_copy.get_or_init(|| {
            let mut v = vec![0f32; self.n * self.k];
            if self.k > 0 {
                for (j, r) in v.chunks_exact_mut(self.k).enumerate() {
                    self.row(j, r);
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
    if info.dtype != DType::F32 || shape.len() != 2 || !enabled() {
        return Ok(None);
    }
    let (n, k) = (shape[0], shape[1]);
    let kind = match (&info.quantization, info.stored_dtype) {
        (
            Quantization::PerChannel {
                axis: 0,
                scales,
                zero_points,
            },
            DType::I8,
        ) if zero_points.iter().all(|&z| z == 0) && scales.len() == n => {
            let codes = stored.data::<i8>()?;
            match PackedI8::pack(n, k, &codes, scales) {
                Ok(p) => Kind::I8(p),
                // e.g. a code of -128 or a bad scale: the f32 path reports or handles it.
                Err(_) => return Ok(None),
            }
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
    let q = QuantWeight {
        n,
        k,
        kind,
        f32_copy: OnceLock::new(),
    };
    Tensor::from_source(DType::F32, shape.to_vec(), Arc::new(q), 0).map(Some)
}

/// The quantized weight `W` (`n × k`) when `b` is its transposed view `Wᵀ` (`k × n`), the
/// B operand of `x · Wᵀ`.
pub(crate) fn transposed_weight(b: &Tensor) -> Option<&QuantWeight> {
    let q = b.quant_weight()?;
    (b.shape() == [q.k, q.n] && b.strides() == [1, q.k]).then_some(q)
}

/// `a[m×k] · Wᵀ (+ bias)` on the quantized kernels, into a fresh `m × n` vector.
pub(crate) fn mm2d(q: &QuantWeight, a: &Tensor, bias: Option<&[f32]>) -> Result<Vec<f32>> {
    let m = a.shape()[0];
    if a.shape()[1] != q.k {
        return Err(Error::runtime(format!(
            "matrix shapes {:?} and [{}, {}] cannot be multiplied",
            a.shape(),
            q.k,
            q.n
        )));
    }
    if bias.is_some_and(|b| b.len() != q.n) {
        return Err(Error::runtime(format!("bias for {} output columns", q.n)));
    }
    let mut out = try_alloc::<f32>(
        m.checked_mul(q.n)
            .ok_or_else(|| Error::oom("matmul too large"))?,
    )?;
    if m == 0 || q.n == 0 {
        return Ok(out);
    }
    let x = a.f32s()?;
    match &q.kind {
        Kind::I8(p) => qgemm_i8(m, &x, q.k, p, bias, Activation::None, &mut out, q.n),
        Kind::F16(h) => f16_gemm(m, &x, q.k, h, bias, Activation::None, &mut out, q.n),
    }
    Ok(out)
}

/// `embedding(W, ix)` over a resident quantized weight: only the gathered rows are
/// dequantised. `None` when `w` is not the whole weight (a view): use the f32 path.
pub(crate) fn embedding(w: &Tensor, ix: &Tensor) -> Result<Option<Tensor>> {
    let Some(q) = w.quant_weight() else {
        return Ok(None);
    };
    if w.shape() != [q.n, q.k] || !w.is_contiguous() {
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
