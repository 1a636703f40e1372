//! Turning the IR into file bytes: stored weight bytes per tensor, chunk buffers, the
//! per-chunk compression decision, and the final assembly through the format crate's writer.

use crate::ir::{Compression, ModelIr, PackError, PackOptions, WeightEncoding, WeightIr};
use crate::layout::plan;
use crate::quantize;
use crate::stored_int8;
use wasm_torch_format::{ChunkInfo, Codec, DType, Graph, Layout, Quantization, TensorInfo};

/// A weight in its stored form.
pub struct StoredWeight {
    /// Stored dtype.
    pub dtype: DType,
    /// Quantization parameters.
    pub quantization: Quantization,
    /// Stored bytes.
    pub bytes: Vec<u8>,
}

fn numel(w: &WeightIr) -> Option<u64> {
    w.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
}

/// Convert a weight to its stored form, checking its data length.
pub fn store(w: &WeightIr) -> Result<StoredWeight, PackError> {
    let bad = |reason: String| PackError::Weight {
        name: w.name.clone(),
        reason,
    };
    if let WeightEncoding::Int4Stored { group, offsets } = w.encoding {
        if w.dtype != DType::F32 {
            return Err(bad(format!("int4 weights are f32, not {}", w.dtype.name())));
        }
        let q = quantize::int4_stored(&w.name, &w.data, &w.shape, group, offsets)?;
        return Ok(StoredWeight {
            dtype: DType::U8,
            quantization: q,
            bytes: w.data.clone(),
        });
    }
    if let WeightEncoding::Int8Stored { axis } = w.encoding {
        if w.dtype != DType::F32 {
            return Err(bad(format!(
                "stored int8 weights are f32, not {}",
                w.dtype.name()
            )));
        }
        let (bytes, q) = stored_int8::int8_stored(&w.name, &w.data, &w.shape, axis)?;
        return Ok(StoredWeight {
            dtype: DType::I8,
            quantization: q,
            bytes,
        });
    }
    if let WeightEncoding::Int8GroupStored { group } = w.encoding {
        if w.dtype != DType::F32 {
            return Err(bad(format!(
                "group-wise int8 weights are f32, not {}",
                w.dtype.name()
            )));
        }
        let q = quantize::int8_group_stored(&w.name, &w.data, &w.shape, group)?;
        return Ok(StoredWeight {
            dtype: DType::U8,
            quantization: q,
            bytes: w.data.clone(),
        });
    }
    let want = numel(w)
        .and_then(|n| n.checked_mul(w.dtype.size() as u64))
        .ok_or_else(|| bad(format!("shape {:?} overflows", w.shape)))?;
    if w.data.len() as u64 != want {
        return Err(bad(format!(
            "{} data bytes for {} {:?} (needs {want})",
            w.data.len(),
            w.dtype.name(),
            w.shape
        )));
    }
    if w.encoding != WeightEncoding::AsIs && w.dtype != DType::F32 {
        return Err(bad(format!(
            "{:?} needs an f32 weight, not {}",
            w.encoding,
            w.dtype.name()
        )));
    }
    Ok(match w.encoding {
        WeightEncoding::AsIs => StoredWeight {
            dtype: w.dtype,
            quantization: Quantization::None,
            bytes: w.data.clone(),
        },
        WeightEncoding::F16 => StoredWeight {
            dtype: DType::F16,
            quantization: Quantization::None,
            bytes: quantize::to_f16(&w.data),
        },
        WeightEncoding::Int8PerTensor => {
            let (bytes, q) = quantize::int8_per_tensor(&w.name, &w.data)?;
            StoredWeight {
                dtype: DType::I8,
                quantization: q,
                bytes,
            }
        }
        WeightEncoding::Int4 { group, offsets } => {
            let (bytes, q) = quantize::int4_group(&w.name, &w.data, &w.shape, group, offsets)?;
            StoredWeight {
                dtype: DType::U8,
                quantization: q,
                bytes,
            }
        }
        WeightEncoding::Int8Group { group } => {
            let (bytes, q) = quantize::int8_group(&w.name, &w.data, &w.shape, group)?;
            StoredWeight {
                dtype: DType::U8,
                quantization: q,
                bytes,
            }
        }
        WeightEncoding::Int4Stored { .. }
        | WeightEncoding::Int8Stored { .. }
        | WeightEncoding::Int8GroupStored { .. } => unreachable!("handled above"),
        WeightEncoding::Int8PerChannel { axis } => {
            let (bytes, q) = quantize::int8_per_channel(&w.name, &w.data, &w.shape, axis)?;
            StoredWeight {
                dtype: DType::I8,
                quantization: q,
                bytes,
            }
        }
    })
}

/// Encode one chunk's decoded bytes; returns the codec and the encoded bytes.
pub fn encode_chunk(decoded: Vec<u8>, opts: &PackOptions) -> Result<(Codec, Vec<u8>), PackError> {
    if opts.compression == Compression::Never {
        return Ok((Codec::Stored, decoded));
    }
    let z = zstd::bulk::compress(&decoded, opts.zstd_level)
        .map_err(|e| PackError::Compress(e.to_string()))?;
    let pays = (z.len() as u64) * 10 <= (decoded.len() as u64) * 9;
    if opts.compression == Compression::Always || pays {
        Ok((Codec::Zstd, z))
    } else {
        Ok((Codec::Stored, decoded))
    }
}

/// Build the graph and the encoded chunks for `ir`.
pub fn build(ir: &ModelIr, opts: &PackOptions) -> Result<(Graph, Vec<Vec<u8>>), PackError> {
    let stored: Vec<StoredWeight> = ir.weights.iter().map(store).collect::<Result<_, _>>()?;
    let sizes: Vec<u64> = stored.iter().map(|s| s.bytes.len() as u64).collect();
    let p = plan(&sizes, opts.chunk_target.max(1) as u64);
    let mut bufs: Vec<Vec<u8>> = p
        .chunks
        .iter()
        .map(|c| vec![0u8; c.decoded_len as usize])
        .collect();
    let mut tensors = Vec::with_capacity(ir.weights.len());
    for ((w, s), pl) in ir.weights.iter().zip(stored).zip(&p.placements) {
        let off = pl.offset as usize;
        bufs[pl.chunk as usize][off..off + s.bytes.len()].copy_from_slice(&s.bytes);
        tensors.push(TensorInfo {
            name: w.name.clone(),
            dtype: w.dtype,
            shape: w.shape.clone(),
            layout: Layout::Contiguous,
            stored_dtype: s.dtype,
            quantization: s.quantization,
            chunk: pl.chunk,
            offset: pl.offset,
            nbytes: s.bytes.len() as u64,
        });
    }
    let mut chunks = Vec::with_capacity(bufs.len());
    let mut payloads = Vec::with_capacity(bufs.len());
    for (c, buf) in p.chunks.iter().zip(bufs) {
        let (codec, enc) = encode_chunk(buf, opts)?;
        chunks.push(ChunkInfo {
            codec,
            file_offset: 0,
            stored_len: enc.len() as u64,
            arena_offset: c.arena_offset,
            decoded_len: c.decoded_len,
            crc32: 0,
        });
        payloads.push(enc);
    }
    let graph = Graph {
        version: (
            wasm_torch_format::FORMAT_MAJOR,
            wasm_torch_format::FORMAT_MINOR,
        ),
        metadata: ir.metadata.clone(),
        signature: ir.signature.clone(),
        ops: ir.ops.clone(),
        functions: ir.functions.clone(),
        constants: ir.constants.clone(),
        tensors,
        chunks,
        arena_size: p.arena_size,
        states: ir.states.clone(),
        scalar_inputs: ir.scalar_inputs.clone(),

        assets: ir.assets.clone(),
    };
    Ok((graph, payloads))
}
