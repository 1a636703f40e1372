//! Chunking and alignment: which chunk each tensor goes to, at which 64-aligned offset, and
//! where each chunk's slot lies in the weight arena.

/// Alignment of tensors inside chunks and of chunk slots in the arena.
pub const ALIGN: u64 = 64;

fn align(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

/// Where one tensor goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Chunk index.
    pub chunk: u32,
    /// Offset inside the chunk's decoded bytes.
    pub offset: u64,
}

/// One planned chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Decoded length (end of its last tensor).
    pub decoded_len: u64,
    /// Slot offset in the arena.
    pub arena_offset: u64,
}

/// The full plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// One placement per tensor, in order.
    pub placements: Vec<Placement>,
    /// The chunks.
    pub chunks: Vec<ChunkPlan>,
    /// Arena size: the last slot's end rounded up to 64.
    pub arena_size: u64,
}

/// Pack tensors of byte sizes `sizes`, in order, into chunks of about `target` bytes. A chunk
/// is closed when the next tensor would push it past `target`, so a tensor larger than
/// `target` ends up alone in its chunk; tensors never span chunks.
pub fn plan(sizes: &[u64], target: u64) -> Plan {
    let mut placements = Vec::with_capacity(sizes.len());
    let mut chunks: Vec<ChunkPlan> = Vec::new();
    let mut fill = 0u64; // decoded bytes of the open chunk
    for &n in sizes {
        let off = align(fill);
        let open = !chunks.is_empty();
        if !open || (fill > 0 && off + n > target) {
            let arena_offset = chunks
                .last()
                .map_or(0, |c| align(c.arena_offset + c.decoded_len));
            chunks.push(ChunkPlan {
                decoded_len: 0,
                arena_offset,
            });
            fill = 0;
        }
        let off = align(fill);
        let idx = chunks.len() - 1;
        placements.push(Placement {
            chunk: idx as u32,
            offset: off,
        });
        fill = off + n;
        chunks[idx].decoded_len = fill;
    }
    let arena_size = chunks
        .last()
        .map_or(0, |c| align(c.arena_offset + c.decoded_len));
    Plan {
        placements,
        chunks,
        arena_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_and_align() {
        let p = plan(&[10, 100, 1000, 5, 0], 256);
        assert_eq!(
            p.placements,
            vec![
                Placement {
                    chunk: 0,
                    offset: 0
                },
                Placement {
                    chunk: 0,
                    offset: 64
                },
                Placement {
                    chunk: 1,
                    offset: 0
                },
                Placement {
                    chunk: 2,
                    offset: 0
                },
                Placement {
                    chunk: 2,
                    offset: 64
                },
            ]
        );
        assert_eq!(
            p.chunks[0],
            ChunkPlan {
                decoded_len: 164,
                arena_offset: 0
            }
        );
        assert_eq!(
            p.chunks[1],
            ChunkPlan {
                decoded_len: 1000,
                arena_offset: 192
            }
        );
        assert_eq!(
            p.chunks[2],
            ChunkPlan {
                decoded_len: 64,
                arena_offset: 1216
            }
        );
        assert_eq!(p.arena_size, 1280);
        assert_eq!(plan(&[], 256).chunks.len(), 0);
    }
}
