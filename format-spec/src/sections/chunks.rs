//! Chunk index section (id 7): the arena size and one entry per weight chunk.

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::model::{ChunkInfo, Codec};
use crate::primitives::{fail, put, u32_, u64_, u8_, vec_of, PResult};

/// Encoded size of one chunk entry.
pub const CHUNK_ENTRY_LEN: usize = 37;

fn codec(i: &[u8]) -> PResult<'_, Codec> {
    let (r, c) = u8_(i)?;
    match c {
        0 => Ok((r, Codec::Stored)),
        1 => Ok((r, Codec::Zstd)),
        c => fail(
            i,
            ErrorKind::InvalidCode,
            format!("unknown chunk codec {c}"),
        ),
    }
}

fn chunk(i: &[u8]) -> PResult<'_, ChunkInfo> {
    let (i, codec) = codec(i)?;
    let (i, file_offset) = u64_(i)?;
    let (i, stored_len) = u64_(i)?;
    let (i, arena_offset) = u64_(i)?;
    let (i, decoded_len) = u64_(i)?;
    let (i, crc32) = u32_(i)?;
    Ok((
        i,
        ChunkInfo {
            codec,
            file_offset,
            stored_len,
            arena_offset,
            decoded_len,
            crc32,
        },
    ))
}

/// Parse the chunk index payload: `(arena_size, chunks)`.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, (u64, Vec<ChunkInfo>)> {
    let (i, arena_size) = u64_(i)?;
    let (i, chunks) = vec_of(i, CHUNK_ENTRY_LEN, l.max_chunks, "chunks", chunk)?;
    Ok((i, (arena_size, chunks)))
}

/// Encode the chunk index payload.
pub(crate) fn encode(arena_size: u64, cs: &[ChunkInfo], o: &mut Vec<u8>) {
    put::u64_(o, arena_size);
    put::count(o, cs.len());
    for c in cs {
        put::u8_(o, c.codec as u8);
        put::u64_(o, c.file_offset);
        put::u64_(o, c.stored_len);
        put::u64_(o, c.arena_offset);
        put::u64_(o, c.decoded_len);
        put::u32_(o, c.crc32);
    }
}
