//! [`StreamingLoader`]: build a [`Program`] from a byte stream (fetch, file stream) without
//! ever holding the whole file. The format's incremental parser decodes each weight chunk
//! straight into its slot of the 64-byte-aligned, segmented arena; this layer checks op support as soon
//! as the graph is complete — before any weight byte arrives — and reports progress.

use wasm_torch_format::{Limits, StreamEvent, StreamParser};

use crate::error::{Error, Result};
use crate::ops::OpFn;
use crate::program::{resolve_ops, Program};
use crate::weights::ArenaSources;

/// Progress after a [`StreamingLoader::feed`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadProgress {
    /// Bytes consumed so far.
    pub bytes_consumed: u64,
    /// Total file length once the header is known.
    pub total_bytes: Option<u64>,
    /// Whether the graph (everything before the weights) has been parsed and accepted.
    pub graph_ready: bool,
    /// Weight chunks decoded so far.
    pub chunks_ready: u32,
    /// Number of weight chunks (0 until the graph is ready).
    pub chunks_total: u32,
}

/// Incremental loader over the format's streaming parser.
pub struct StreamingLoader {
    parser: StreamParser,
    ops: Option<Vec<OpFn>>,
    chunks_ready: u32,
    failed: Option<Error>,
}

impl Default for StreamingLoader {
    fn default() -> Self {
        StreamingLoader::new()
    }
}

impl StreamingLoader {
    /// A loader with the default parser limits.
    pub fn new() -> Self {
        StreamingLoader::with_limits(Limits::default())
    }

    /// A loader with explicit parser limits.
    pub fn with_limits(limits: Limits) -> Self {
        StreamingLoader {
            parser: StreamParser::new(limits),
            ops: None,
            chunks_ready: 0,
            failed: None,
        }
    }

    /// Use weight-arena segments of at most `bytes` (default
    /// [`wasm_torch_format::SEGMENT_TARGET`]; 0 = one per chunk). Only tests need this.
    pub fn with_segment_target(mut self, bytes: u64) -> Self {
        self.parser = self.parser.with_segment_target(bytes);
        self
    }

    /// Feed the next piece of the file (any size, including empty).
    pub fn feed(&mut self, piece: &[u8]) -> Result<LoadProgress> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.feed_inner(piece);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn feed_inner(&mut self, piece: &[u8]) -> Result<LoadProgress> {
        let events = self.parser.feed(piece)?;
        for ev in events {
            match ev {
                StreamEvent::GraphReady => {
                    let graph = self
                        .parser
                        .graph()
                        .ok_or_else(|| Error::runtime("internal: graph ready but not available"))?;
                    let ops = resolve_ops(graph)?;
                    self.ops = Some(ops);
                }
                StreamEvent::ChunkReady(_) => self.chunks_ready += 1,
                _ => {}
            }
        }
        Ok(self.progress())
    }

    /// Current progress.
    pub fn progress(&self) -> LoadProgress {
        LoadProgress {
            bytes_consumed: self.parser.bytes_consumed(),
            total_bytes: self.parser.total_len(),
            graph_ready: self.ops.is_some(),
            chunks_ready: self.chunks_ready,
            chunks_total: self.parser.graph().map_or(0, |g| g.chunks.len() as u32),
        }
    }

    /// Finish after the last byte: the program, or an error if the stream was incomplete.
    pub fn finish(self) -> Result<Program> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let (graph, arena) = self.parser.finish()?;
        let ops = match self.ops {
            Some(ops) => ops,
            None => resolve_ops(&graph)?,
        };
        let arena = ArenaSources::new(arena)?;
        Program::assemble(graph, ops, &|c| arena.locate(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_torch_format::{DType, Dim, Function, Instr, Operand, Signature, ValueSpec};
    use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};

    /// `y = x + w0 + w1 + w2`, each weight in its own chunk.
    fn model() -> ModelIr {
        let spec = |name: &str| ValueSpec {
            name: name.into(),
            dtype: DType::F32,
            shape: vec![Dim::Fixed(4)],
        };
        let add = |a: Operand, w: u32, out: u32| Instr::CallOp {
            op: 0,
            args: vec![a, Operand::Weight(w)],
            outputs: vec![out],
        };
        ModelIr {
            signature: Signature {
                inputs: vec![spec("x")],
                outputs: vec![spec("y")],
            },
            ops: vec!["aten::add.Tensor".into()],
            functions: vec![Function {
                name: "forward".into(),
                num_registers: 4,
                params: vec![0],
                register_names: vec![],
                code: vec![
                    add(Operand::Reg(0), 0, 1),
                    add(Operand::Reg(1), 1, 2),
                    add(Operand::Reg(2), 2, 3),
                    Instr::Return {
                        values: vec![Operand::Reg(3)],
                    },
                ],
            }],
            weights: (0..3u8)
                .map(|i| WeightIr {
                    name: format!("w{i}"),
                    dtype: DType::F32,
                    shape: vec![4],
                    data: (0..4)
                        .flat_map(|j| (f32::from(10 * i + j)).to_le_bytes())
                        .collect(),
                    encoding: WeightEncoding::AsIs,
                })
                .collect(),
            ..ModelIr::default()
        }
    }

    /// However the arena is segmented (one segment per chunk, or all in one), every weight
    /// views the right bytes, 64-byte aligned, and the program computes the same result.
    #[test]
    fn any_segmentation_loads_the_same_weights() {
        for compression in [Compression::Never, Compression::Always] {
            let opts = PackOptions {
                chunk_target: 16,
                compression,
                zstd_level: 3,
            };
            let bytes = pack(&model(), &opts).unwrap();
            for seg in [0u64, 64, 128, wasm_torch_format::SEGMENT_TARGET] {
                let mut loader = StreamingLoader::new().with_segment_target(seg);
                for piece in bytes.chunks(5) {
                    loader.feed(piece).unwrap();
                }
                let p = loader.finish().unwrap();
                assert_eq!(p.graph().chunks.len(), 3);
                for (i, w) in p.weights().iter().enumerate() {
                    let want: Vec<f32> = (0..4).map(|j| (10 * i + j) as f32).collect();
                    assert_eq!(w.to_f32_vec(), want, "segment target {seg}, w{i}");
                    assert_eq!(w.data_ptr() % 64, 0);
                }
                let mut s = crate::Session::new(std::sync::Arc::new(p)).unwrap();
                let y = s
                    .run_positional(vec![crate::Tensor::from_f32(vec![4], vec![1.0; 4])])
                    .unwrap();
                assert_eq!(y[0].to_f32_vec(), vec![31.0, 34.0, 37.0, 40.0]);
            }
        }
    }
}
