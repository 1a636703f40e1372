//! Native-only: load a program from a memory-mapped file (the one place with OS calls
//! besides the clock).

use std::sync::Arc;

use wasm_torch_format::model::Codec;
use wasm_torch_format::{Arena, Limits, SEGMENT_TARGET};

use crate::error::{Error, Result};
use crate::program::{resolve_ops, Program};
use crate::storage::ByteSource;
use crate::weights::ArenaSources;

struct Mapped(memmap2::Mmap);

impl ByteSource for Mapped {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

pub(crate) fn load_path(path: &std::path::Path) -> Result<Program> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::bad_file(format!("cannot open {}: {e}", path.display())))?;
    // SAFETY: the mapping is read-only; like every mmap reader we rely on the file not being
    // truncated while mapped (a modified file can change values but not break memory safety
    // of the slices we hand out, which are bounds-checked against the mapping length).
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| Error::bad_file(format!("cannot map {}: {e}", path.display())))?;
    let mapped: Arc<Mapped> = Arc::new(Mapped(map));
    let bytes = mapped.bytes();
    let graph = wasm_torch_format::parse_file(bytes, &Limits::default())?;
    let ops = resolve_ops(&graph)?;
    // Only compressed chunks need memory: stored ones are viewed in the mapping.
    let mut arena = Arena::plan_for(&graph, SEGMENT_TARGET, |c| c.codec != Codec::Stored)?;
    for (i, ci) in graph.chunks.iter().enumerate() {
        let encoded = wasm_torch_format::chunk_encoded(bytes, ci)?;
        match ci.codec {
            Codec::Stored => {
                if crc32fast::hash(encoded) != ci.crc32 {
                    return Err(Error::bad_file(format!(
                        "chunk at file offset {} fails its CRC-32 check",
                        ci.file_offset
                    )));
                }
            }
            _ => wasm_torch_format::decode_chunk(encoded, ci, arena.slot_mut(i)?)?,
        }
    }
    let arena = ArenaSources::new(arena)?;
    let file_src: Arc<dyn ByteSource> = mapped.clone();
    let chunks = graph.chunks.clone();
    Program::assemble(
        graph,
        ops,
        &|c| {
            let ci = chunks
                .get(c)
                .ok_or_else(|| Error::bad_file(format!("chunk {c} out of range")))?;
            match ci.codec {
                Codec::Stored => Ok((file_src.clone(), ci.file_offset as usize)),
                _ => arena.locate(c),
            }
        },
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_torch_format::{DType, Function, Instr, Operand, Signature, ValueSpec};
    use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};

    fn model() -> ModelIr {
        ModelIr {
            signature: Signature {
                inputs: vec![ValueSpec {
                    name: "x".into(),
                    dtype: DType::F32,
                    shape: vec![wasm_torch_format::Dim::Fixed(4)],
                }],
                outputs: vec![ValueSpec {
                    name: "y".into(),
                    dtype: DType::F32,
                    shape: vec![wasm_torch_format::Dim::Fixed(4)],
                }],
            },
            ops: vec!["aten::add.Tensor".into()],
            functions: vec![Function {
                name: "forward".into(),
                num_registers: 2,
                params: vec![0],
                register_names: vec![],
                code: vec![
                    Instr::CallOp {
                        op: 0,
                        args: vec![Operand::Reg(0), Operand::Weight(0)],
                        outputs: vec![1],
                    },
                    Instr::Return {
                        values: vec![Operand::Reg(1)],
                    },
                ],
            }],
            weights: (0..3)
                .map(|i| WeightIr {
                    name: format!("w{i}"),
                    dtype: DType::F32,
                    shape: vec![4],
                    data: [1.0f32, 2.0, 3.0, 4.0]
                        .iter()
                        .flat_map(|v| (v * (i + 1) as f32).to_le_bytes())
                        .collect(),
                    encoding: WeightEncoding::AsIs,
                })
                .collect(),
            ..ModelIr::default()
        }
    }

    /// Stored chunks are viewed in place from the mapping: no weight byte is copied, and
    /// no arena is allocated when nothing is compressed.
    #[test]
    fn stored_weights_are_views_of_the_mapping() {
        let bytes = pack(
            &model(),
            &PackOptions {
                chunk_target: 16,
                compression: Compression::Never,
                zstd_level: 3,
            },
        )
        .unwrap();
        let path = std::env::temp_dir().join(format!("wasm-torch-mmap-{}.wtb", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let p = load_path(&path).unwrap();
        for (i, w) in p.weights().iter().enumerate() {
            assert_eq!(w.owned_bytes(), 0, "weight {i} was copied");
            assert_eq!(
                w.to_f32_vec(),
                vec![
                    1.0 * (i + 1) as f32,
                    2.0 * (i + 1) as f32,
                    3.0 * (i + 1) as f32,
                    4.0 * (i + 1) as f32
                ]
            );
        }
        // weights of different chunks point into one mapping, in file order
        let ptrs: Vec<usize> = p.weights().iter().map(|w| w.data_ptr()).collect();
        assert!(ptrs
            .windows(2)
            .all(|w| w[1] > w[0] && w[1] - w[0] < bytes.len()));
        let mut s = crate::Session::new(std::sync::Arc::new(p)).unwrap();
        let y = s
            .run_positional(vec![crate::Tensor::from_f32(vec![4], vec![1.0; 4])])
            .unwrap();
        assert_eq!(y[0].to_f32_vec(), vec![2.0, 3.0, 4.0, 5.0]);
        std::fs::remove_file(&path).ok();
    }
}
