//! Turning the tensor table into ready-to-use weight tensors.
//!
//! A weight is a view into a byte source — the memory map of the file for stored chunks, or
//! the arena segment its chunk was decoded into — so f32/i64/... weights are never copied. Stored f16/bf16 and int8-quantised (per-tensor or per-channel) weights are
//! dequantised to their logical dtype (f32) once, here.

use std::sync::Arc;

use wasm_torch_format::model::{DType, Graph, Quantization, TensorInfo};
use wasm_torch_format::{Arena, SlotLocation};

use crate::error::{Error, Result};
use crate::storage::ByteSource;
use crate::tensor::Tensor;

impl ByteSource for wasm_torch_format::AlignedBuf {
    fn bytes(&self) -> &[u8] {
        self.as_slice()
    }
}

/// A decoded segmented arena as shared byte sources: each segment is one [`ByteSource`]
/// that the weights of its chunks view (and keep alive).
pub(crate) struct ArenaSources {
    segments: Vec<Arc<dyn ByteSource>>,
    slots: Vec<Option<SlotLocation>>,
}

impl ArenaSources {
    /// Share the segments of `arena`.
    pub(crate) fn new(arena: Arena) -> Result<ArenaSources> {
        let (bufs, slots) = arena.into_segments()?;
        let segments = bufs.into_iter().map(|b| b as Arc<dyn ByteSource>).collect();
        Ok(ArenaSources { segments, slots })
    }

    /// The source holding chunk `c` and the chunk's offset in it.
    pub(crate) fn locate(&self, c: usize) -> Result<(Arc<dyn ByteSource>, usize)> {
        let loc = self
            .slots
            .get(c)
            .copied()
            .flatten()
            .ok_or_else(|| Error::bad_file(format!("chunk {c} has no arena slot")))?;
        let seg = self
            .segments
            .get(loc.segment)
            .ok_or_else(|| Error::bad_file(format!("chunk {c}: segment out of range")))?;
        Ok((seg.clone(), loc.offset))
    }
}

/// Where chunk `i`'s decoded bytes are: a source and the byte offset of the chunk in it.
pub(crate) type Locate<'a> = dyn Fn(usize) -> Result<(Arc<dyn ByteSource>, usize)> + 'a;

fn to_usize(x: u64, what: &str) -> Result<usize> {
    usize::try_from(x).map_err(|_| Error::bad_file(format!("{what} {x} exceeds the address space")))
}

/// Build the weight tensors of `graph`; `prebuilt[i]`, when present, is tensor `i` already
/// built while its chunk streamed in (its chunk may have been released since).
pub(crate) fn build_weights(
    graph: &Graph,
    locate: &Locate<'_>,
    mut prebuilt: Vec<Option<Tensor>>,
) -> Result<Vec<Tensor>> {
    graph
        .tensors
        .iter()
        .enumerate()
        .map(
            |(i, info)| match prebuilt.get_mut(i).and_then(Option::take) {
                Some(t) => Ok(t),
                None => build_one(info, locate)
                    .map_err(|e| e.context(format!("weight '{}'", info.name))),
            },
        )
        .collect()
}

/// Weight `info` as a packed int8 tensor from the bytes of its chunk (`chunk`), when
/// [`crate::quant_weights::packable_int8`] accepts it and the kernels take its codes; the
/// same checks as a weight built at the end of the load (scales, byte count, bounds).
pub(crate) fn build_packed_int8(info: &TensorInfo, chunk: &[u8]) -> Result<Option<Tensor>> {
    let shape = info
        .shape
        .iter()
        .map(|&d| to_usize(d, "dimension"))
        .collect::<Result<Vec<_>>>()?;
    check_scales(&info.quantization)?;
    let numel = crate::tensor::checked_numel(&shape)?;
    if Some(numel) != usize::try_from(info.nbytes).ok() {
        return Err(Error::bad_file(format!(
            "nbytes {} != {numel} elements of i8",
            info.nbytes
        )));
    }
    let start = to_usize(info.offset, "offset")?;
    let codes = start
        .checked_add(numel)
        .and_then(|end| chunk.get(start..end))
        .ok_or_else(|| Error::bad_file("weight outside its chunk"))?;
    crate::quant_weights::build_int8(info, &shape, bytemuck::cast_slice(codes))
}

pub(crate) fn build_one(info: &TensorInfo, locate: &Locate<'_>) -> Result<Tensor> {
    let shape = info
        .shape
        .iter()
        .map(|&d| to_usize(d, "dimension"))
        .collect::<Result<Vec<_>>>()?;
    let (src, base) = locate(info.chunk as usize)?;
    let start = base
        .checked_add(to_usize(info.offset, "offset")?)
        .ok_or_else(|| Error::bad_file("weight offset overflows"))?;
    let sdt = info.stored_dtype;
    let numel = crate::tensor::checked_numel(&shape)?;
    if let Quantization::GroupInt4 { .. } | Quantization::GroupInt8 { .. } = info.quantization {
        let nbytes = to_usize(info.nbytes, "nbytes")?;
        let end = start
            .checked_add(nbytes)
            .filter(|e| *e <= src.bytes().len())
            .ok_or_else(|| Error::bad_file("weight outside its chunk"))?;
        let bytes = &src.bytes()[start..end];
        use crate::quant_weights::{int4_from_bytes, int8g_from_bytes, GroupWeights};
        let q = match info.quantization {
            Quantization::GroupInt4 { group, offsets } => {
                GroupWeights::Int4(int4_from_bytes(&shape, group as usize, offsets, bytes)?)
            }
            Quantization::GroupInt8 { group } => {
                GroupWeights::Int8(int8g_from_bytes(&shape, group as usize, bytes)?)
            }
            _ => unreachable!("matched above"),
        };
        return crate::quant_weights::build_group(info, shape, q);
    }
    check_scales(&info.quantization)?;
    if numel.checked_mul(sdt.size()) != Some(to_usize(info.nbytes, "nbytes")?) {
        return Err(Error::bad_file(format!(
            "nbytes {} != {numel} elements of {}",
            info.nbytes,
            sdt.name()
        )));
    }
    let aligned = (src.bytes().as_ptr() as usize).wrapping_add(start) % sdt.size() == 0;
    let stored = if aligned {
        Tensor::from_source(sdt, shape.clone(), src, start)?
    } else {
        // Not expected (the format aligns every tensor to 64 bytes), but stay correct.
        let end = start
            .checked_add(numel * sdt.size())
            .filter(|e| *e <= src.bytes().len())
            .ok_or_else(|| Error::bad_file("weight outside its chunk"))?;
        Tensor::from_le_bytes(sdt, shape.clone(), &src.bytes()[start..end])?
    };
    if let Some(t) = crate::quant_weights::try_build(info, &shape, &stored)? {
        return Ok(t);
    }
    match &info.quantization {
        Quantization::None => {
            if sdt == info.dtype {
                Ok(stored)
            } else {
                stored.cast(info.dtype)
            }
        }
        Quantization::PerTensor { scale, zero_point } => {
            let q = stored.f32s()?;
            let zp = *zero_point as f32;
            let v: Vec<f32> = q.iter().map(|&x| (x - zp) * scale).collect();
            Tensor::from_f32_as(DType::F32, shape, v).cast(info.dtype)
        }
        Quantization::PerChannel {
            axis,
            scales,
            zero_points,
        } => {
            let axis = *axis as usize;
            if axis >= shape.len()
                || scales.len() != shape[axis]
                || zero_points.len() != shape[axis]
            {
                return Err(Error::bad_file(format!(
                    "per-channel quantisation along axis {axis} of shape {shape:?} with {} scales",
                    scales.len()
                )));
            }
            let inner: usize = shape[axis + 1..].iter().product();
            let channels = shape[axis];
            let q = stored.f32s()?;
            let v: Vec<f32> = q
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    let c = (i / inner.max(1)) % channels;
                    (x - zero_points[c] as f32) * scales[c]
                })
                .collect();
            Tensor::from_f32_as(DType::F32, shape, v).cast(info.dtype)
        }
        Quantization::GroupInt4 { .. } | Quantization::GroupInt8 { .. } => {
            unreachable!("handled above")
        }
    }
}

/// Refuses int8 scales that are zero, negative or not finite. The format only requires them
/// finite, but no writer produces a zero or negative one (the packer stores 1.0 for an
/// all-zero channel), and a zero scale would silently turn every value of its channel into
/// 0: a file holding one is corrupt or hand-made, and loading it would give wrong answers.
fn check_scales(q: &Quantization) -> Result<()> {
    let bad = |i: usize, s: f32| {
        Err(Error::bad_file(format!(
            "quantization scale {s} (channel {i}) is not a positive finite number"
        )))
    };
    match q {
        Quantization::PerTensor { scale, .. } if !(scale.is_finite() && *scale > 0.0) => {
            bad(0, *scale)
        }
        Quantization::PerChannel { scales, .. } => {
            match scales.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
                Some(i) => bad(i, scales[i]),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
