//! The whole-file driver: the grammar run over a complete byte slice (a `Vec`, or a
//! `memmap2` mapping natively), plus bounds-checked chunk access and chunk decoding.

use crate::arena::{Arena, SEGMENT_TARGET};
use crate::decode::ChunkSink;
use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::limits::Limits;
use crate::model::{ChunkInfo, Codec, Graph, TensorInfo};
use crate::sections::header::{parse_header, FileHeader};
use crate::sections::parse_graph;
use crate::validate::validate;

/// Parse and validate the graph of a complete file. Weight bytes are not decoded (see
/// [`decode_chunk`]); their locations are checked against the file.
pub fn parse_file(bytes: &[u8], limits: &Limits) -> Result<Graph, FormatError> {
    parse_file_detailed(bytes, limits).map(|(_, g)| g)
}

/// Like [`parse_file`], also returning the header and section table (for tools like
/// `wasm-torch inspect`).
pub fn parse_file_detailed(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(FileHeader, Graph), FormatError> {
    let header = parse_header(bytes, limits)?;
    let len = bytes.len() as u64;
    if len != header.total_len {
        let kind = if len < header.total_len {
            ErrorKind::Truncated
        } else {
            ErrorKind::TrailingBytes
        };
        return Err(FormatError::new(
            kind,
            Some(SectionKind::Header),
            16,
            format!(
                "the header declares {} bytes, the file has {len}",
                header.total_len
            ),
        ));
    }
    let graph = parse_graph(bytes, &header, limits)?;
    validate(&graph, &header, limits)?;
    Ok((header, graph))
}

/// The encoded bytes of `chunk` inside `file` (bounds-checked).
pub fn chunk_encoded<'a>(file: &'a [u8], chunk: &ChunkInfo) -> Result<&'a [u8], FormatError> {
    let oob = || {
        FormatError::new(
            ErrorKind::OutOfBounds,
            Some(SectionKind::Weights),
            chunk.file_offset,
            format!(
                "chunk bytes {}+{} lie outside the {}-byte file",
                chunk.file_offset,
                chunk.stored_len,
                file.len()
            ),
        )
    };
    let start = usize::try_from(chunk.file_offset).map_err(|_| oob())?;
    let len = usize::try_from(chunk.stored_len).map_err(|_| oob())?;
    let end = start.checked_add(len).ok_or_else(oob)?;
    file.get(start..end).ok_or_else(oob)
}

/// Decode one chunk into `out` (exactly `chunk.decoded_len` bytes): checks the CRC-32 of the
/// encoded bytes, and that the data decodes to exactly the declared length.
pub fn decode_chunk(encoded: &[u8], chunk: &ChunkInfo, out: &mut [u8]) -> Result<(), FormatError> {
    decode_chunk_with(encoded, chunk, out, Limits::default().max_zstd_window_log)
}

/// [`decode_chunk`] with an explicit zstd window limit (log2 bytes).
pub fn decode_chunk_with(
    encoded: &[u8],
    chunk: &ChunkInfo,
    out: &mut [u8],
    max_window_log: u32,
) -> Result<(), FormatError> {
    let usage = |msg: String| {
        FormatError::new(
            ErrorKind::Usage,
            Some(SectionKind::Weights),
            chunk.file_offset,
            msg,
        )
    };
    if out.len() as u64 != chunk.decoded_len {
        return Err(usage(format!(
            "output has {} bytes, the chunk decodes to {}",
            out.len(),
            chunk.decoded_len
        )));
    }
    if encoded.len() as u64 != chunk.stored_len {
        return Err(usage(format!(
            "{} encoded bytes given, the chunk has {}",
            encoded.len(),
            chunk.stored_len
        )));
    }
    let crc = crc32fast::hash(encoded);
    if crc != chunk.crc32 {
        return Err(FormatError::new(
            ErrorKind::ChecksumMismatch,
            Some(SectionKind::Weights),
            chunk.file_offset,
            format!(
                "CRC-32 is {:#010x}, the chunk bytes hash to {crc:#010x}",
                chunk.crc32
            ),
        ));
    }
    let mut sink = ChunkSink::new(0, chunk, max_window_log, true)?;
    sink.push(encoded, out)?;
    sink.finish(chunk, out)
}

/// Decode every chunk of a validated graph into a fresh segmented arena (the whole-file
/// equivalent of what [`crate::StreamParser`] builds), with the default segment size.
pub fn decode_all(file: &[u8], graph: &Graph, limits: &Limits) -> Result<Arena, FormatError> {
    decode_all_with(file, graph, limits, SEGMENT_TARGET)
}

/// [`decode_all`] with segments of at most `segment_target` bytes (0: one per chunk).
pub fn decode_all_with(
    file: &[u8],
    graph: &Graph,
    limits: &Limits,
    segment_target: u64,
) -> Result<Arena, FormatError> {
    let mut arena = Arena::plan(graph, segment_target)?;
    for (ci, c) in graph.chunks.iter().enumerate() {
        let enc = chunk_encoded(file, c)?;
        decode_chunk_with(enc, c, arena.slot_mut(ci)?, limits.max_zstd_window_log)?;
    }
    Ok(arena)
}

/// The bytes of tensor `t` viewed in place in the file, when its chunk is stored
/// (uncompressed); `None` for zstd chunks. With a page-aligned mapping the slice is 64-byte
/// aligned, so `bytemuck::cast_slice` to the stored dtype succeeds.
pub fn tensor_in_place<'a>(file: &'a [u8], graph: &Graph, t: &TensorInfo) -> Option<&'a [u8]> {
    let c = graph.chunks.get(t.chunk as usize)?;
    if c.codec != Codec::Stored {
        return None;
    }
    let enc = chunk_encoded(file, c).ok()?;
    let start = usize::try_from(t.offset).ok()?;
    let end = start.checked_add(usize::try_from(t.nbytes).ok()?)?;
    enc.get(start..end)
}

/// The byte range of tensor `t` in the *logical* weight arena of a validated `graph`
/// (`None` only for a graph that did not pass validation). Readers may place chunks anywhere
/// (see [`Arena`]); use [`Arena::tensor`] for the bytes.
pub fn tensor_arena_range(graph: &Graph, t: &TensorInfo) -> Option<std::ops::Range<usize>> {
    let c = graph.chunks.get(t.chunk as usize)?;
    let start = c.arena_offset.checked_add(t.offset)?;
    let end = start.checked_add(t.nbytes)?;
    Some(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
}
