//! Native-only: load a program from a memory-mapped file (the one place with OS calls
//! besides the clock).

use std::sync::Arc;

use wasm_torch_format::model::Codec;
use wasm_torch_format::Limits;

use crate::error::{Error, Result};
use crate::program::{arena_slot, resolve_ops, validate, Program};
use crate::storage::ByteSource;

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
    validate(&graph)?;
    let needs_arena = graph.chunks.iter().any(|c| c.codec != Codec::Stored);
    let mut arena =
        wasm_torch_format::AlignedBuf::zeroed(if needs_arena { graph.arena_size } else { 0 })?;
    for ci in &graph.chunks {
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
            _ => {
                let (start, len) = arena_slot(ci, arena.len())?;
                wasm_torch_format::decode_chunk(
                    encoded,
                    ci,
                    &mut arena.as_mut_slice()[start..start + len],
                )?;
            }
        }
    }
    let arena: Arc<dyn ByteSource> = Arc::new(arena);
    let file_src: Arc<dyn ByteSource> = mapped.clone();
    let chunks = graph.chunks.clone();
    Program::assemble(graph, ops, &|c| {
        let ci = chunks
            .get(c)
            .ok_or_else(|| Error::bad_file(format!("chunk {c} out of range")))?;
        Ok(match ci.codec {
            Codec::Stored => (file_src.clone(), ci.file_offset as usize),
            _ => (arena.clone(), ci.arena_offset as usize),
        })
    })
}
