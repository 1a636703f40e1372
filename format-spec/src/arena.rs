//! The segmented weight arena: where decoded chunks live in memory.
//!
//! The file's `arena_offset`s describe one *logical* address space of `arena_size` bytes
//! (SPEC.md §5). A reader need not back it with one allocation, and on wasm32 it cannot for
//! large models: Rust caps a single allocation at `isize::MAX` (2 GiB) while a wasm32 memory
//! holds 4 GiB. So the arena is a list of *segments*: runs of consecutive chunks, each one
//! 64-byte-aligned [`AlignedBuf`] of at most [`SEGMENT_TARGET`] bytes (a chunk larger than
//! that gets a segment of its own). Inside a segment chunks keep their logical spacing, so
//! every tensor stays 64-byte aligned and a chunk's slot is one contiguous slice.
//!
//! Segments are allocated lazily, when the first chunk slot in them is asked for (the
//! streaming parser asks when that chunk's first byte arrives). A hostile file declaring a
//! 4 GiB arena and sending nothing else therefore costs no weight memory at all, and at any
//! time the allocated memory is at most what arrived plus one segment.
//!
//! Once every chunk of a segment is written ([`Arena::complete`]), the segment is *sealed*:
//! its buffer moves behind an `Arc` and is never written again, so a reader may view its
//! weights while later segments are still arriving (running a model while it downloads).

use std::sync::Arc;

use crate::aligned::AlignedBuf;
use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::model::{ChunkInfo, Graph, TensorInfo};

/// Default cap on one segment's size (256 MiB).
///
/// Why this size: an order of magnitude below the 2 GiB single-allocation cap of wasm32 and
/// 1/16 of its 4 GiB memory, so allocator fragmentation after loads and frees rarely blocks a
/// model that fits; large enough that even a 4 GiB arena needs only ~16 allocations. The
/// packer's chunks are ~4 MiB, so a segment groups ~64 of them.
pub const SEGMENT_TARGET: u64 = 256 << 20;

/// One segment: a run of consecutive chunks in one buffer.
#[derive(Debug)]
struct Segment {
    /// Logical arena offset of the segment's first byte (its first chunk's `arena_offset`).
    start: u64,
    /// Size in bytes (the last chunk's slot end − `start`, rounded up to 64).
    len: u64,
    /// The bytes, once a chunk in this segment was written.
    buf: SegmentBuf,
    /// Chunks held in this segment, how many of them were released and how many completed.
    chunks: u32,
    released: u32,
    completed: u32,
}

/// A segment's bytes: not allocated yet, being written, or sealed (every chunk complete,
/// shared with the readers viewing it, read-only from then on).
#[derive(Debug)]
enum SegmentBuf {
    Absent,
    Writing(AlignedBuf),
    Sealed(Arc<AlignedBuf>),
}

impl SegmentBuf {
    fn as_slice(&self) -> Option<&[u8]> {
        match self {
            SegmentBuf::Absent => None,
            SegmentBuf::Writing(b) => Some(b.as_slice()),
            SegmentBuf::Sealed(b) => Some(b.as_slice()),
        }
    }

    fn is_present(&self) -> bool {
        !matches!(self, SegmentBuf::Absent)
    }
}

/// Where a chunk's slot is: segment index and byte offset inside the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotLocation {
    /// Index of the segment (see [`Arena::into_segments`]).
    pub segment: usize,
    /// Byte offset of the slot inside the segment (a multiple of 64).
    pub offset: usize,
}

/// A segmented weight arena laid out for one graph (see the module docs).
#[derive(Debug)]
pub struct Arena {
    segments: Vec<Segment>,
    /// Per chunk: its slot, or `None` for chunks this arena does not hold.
    slots: Vec<Option<SlotLocation>>,
    decoded_len: Vec<u64>,
    /// Per chunk: given back with [`Arena::release`].
    released: Vec<bool>,
    /// Per chunk: its bytes are final ([`Arena::complete`]).
    completed: Vec<bool>,
}

fn oob(c: usize, msg: String) -> FormatError {
    FormatError::new(
        ErrorKind::OutOfBounds,
        Some(SectionKind::Chunks),
        0,
        format!("chunk {c}: {msg}"),
    )
}

fn to_usize(x: u64, c: usize) -> Result<usize, FormatError> {
    usize::try_from(x).map_err(|_| oob(c, format!("{x} exceeds the address space")))
}

impl Arena {
    /// Plan an arena for every chunk of a validated `graph`, in segments of at most
    /// `segment_target` bytes (0 means one chunk per segment). Allocates nothing.
    pub fn plan(graph: &Graph, segment_target: u64) -> Result<Arena, FormatError> {
        Arena::plan_for(graph, segment_target, |_| true)
    }

    /// Like [`Arena::plan`], holding only the chunks `keep` selects (e.g. a memory-mapped
    /// reader views stored chunks in the file and needs slots only for compressed ones).
    /// Chunks that are not kept never share a segment with kept ones' gaps: a segment is a
    /// run of consecutive *kept* chunks.
    pub fn plan_for(
        graph: &Graph,
        segment_target: u64,
        keep: impl Fn(&ChunkInfo) -> bool,
    ) -> Result<Arena, FormatError> {
        Arena::plan_segments(graph, segment_target, keep, &[])
    }

    /// Like [`Arena::plan_for`], and chunk `c` gets a segment of its own when `alone[c]` is
    /// true (indices past `alone`'s end are false): a reader that turns such a chunk into
    /// something else as soon as it arrives can then [`Arena::release`] it and have its
    /// memory back at once, instead of when the whole segment is released.
    pub fn plan_segments(
        graph: &Graph,
        segment_target: u64,
        keep: impl Fn(&ChunkInfo) -> bool,
        alone: &[bool],
    ) -> Result<Arena, FormatError> {
        let n = graph.chunks.len();
        let mut segments: Vec<Segment> = Vec::new();
        let mut slots = Vec::with_capacity(n);
        let mut open = false; // whether the last segment may take the next kept chunk
        let mut prev_end = 0u64;
        for (ci, c) in graph.chunks.iter().enumerate() {
            if !keep(c) {
                slots.push(None);
                open = false;
                continue;
            }
            let end = c
                .arena_offset
                .checked_add(c.decoded_len)
                .filter(|_| c.arena_offset >= prev_end && c.arena_offset % 64 == 0)
                .ok_or_else(|| {
                    oob(
                        ci,
                        format!(
                            "slot {}+{} is not an ordered, aligned arena slot",
                            c.arena_offset, c.decoded_len
                        ),
                    )
                })?;
            prev_end = end;
            let padded = end
                .checked_add(63)
                .map(|e| e & !63)
                .ok_or_else(|| oob(ci, "slot end overflows".into()))?;
            let own = alone.get(ci).copied().unwrap_or(false);
            let joins = match segments.last() {
                Some(s) if open && !own => padded - s.start <= segment_target,
                _ => false,
            };
            if !joins {
                segments.push(Segment {
                    start: c.arena_offset,
                    len: 0,
                    buf: SegmentBuf::Absent,
                    chunks: 0,
                    released: 0,
                    completed: 0,
                });
            }
            let si = segments.len() - 1;
            let seg = &mut segments[si];
            seg.len = padded - seg.start;
            seg.chunks += 1;
            slots.push(Some(SlotLocation {
                segment: si,
                offset: to_usize(c.arena_offset - seg.start, ci)?,
            }));
            // A chunk alone in its segment closes it for the next one too.
            open = !own;
        }
        Ok(Arena {
            segments,
            slots,
            decoded_len: graph.chunks.iter().map(|c| c.decoded_len).collect(),
            released: vec![false; n],
            completed: vec![false; n],
        })
    }

    /// Gives chunk `c`'s bytes back: the reader has turned them into something else and no
    /// view of them remains. Its segment's buffer is freed once every chunk in it is
    /// released; a released chunk reads as absent and cannot be written again.
    pub fn release(&mut self, c: usize) -> Result<(), FormatError> {
        let (loc, _) = self.range(c)?;
        if self.released[c] {
            return Ok(());
        }
        self.released[c] = true;
        let seg = &mut self.segments[loc.segment];
        seg.released += 1;
        if seg.released >= seg.chunks {
            seg.buf = SegmentBuf::Absent;
        }
        Ok(())
    }

    /// Marks chunk `c`'s bytes final (decoded and checked). When every chunk of its segment
    /// is final the segment is sealed: [`Arena::shared`] hands it out and it cannot be
    /// written again.
    pub fn complete(&mut self, c: usize) -> Result<(), FormatError> {
        let (loc, _) = self.range(c)?;
        if self.completed[c] {
            return Ok(());
        }
        self.completed[c] = true;
        let seg = &mut self.segments[loc.segment];
        seg.completed += 1;
        if seg.completed >= seg.chunks {
            if let SegmentBuf::Writing(b) = std::mem::replace(&mut seg.buf, SegmentBuf::Absent) {
                seg.buf = SegmentBuf::Sealed(Arc::new(b));
            }
        }
        Ok(())
    }

    /// The sealed segment holding chunk `c` and the chunk's offset in it, once every chunk
    /// of that segment is complete (`None` before, and for released or foreign chunks).
    pub fn shared(&self, c: usize) -> Option<(Arc<AlignedBuf>, usize)> {
        let loc = self.location(c)?;
        if self.released[c] {
            return None;
        }
        match &self.segments[loc.segment].buf {
            SegmentBuf::Sealed(b) => Some((Arc::clone(b), loc.offset)),
            _ => None,
        }
    }

    /// Whether chunk `c` was released (see [`Arena::release`]).
    pub fn is_released(&self, c: usize) -> bool {
        self.released.get(c).copied().unwrap_or(false)
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Bytes allocated so far (segments whose first chunk arrived).
    pub fn allocated_bytes(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.buf.is_present())
            .map(|s| s.len)
            .sum()
    }

    /// Bytes all segments take once allocated.
    pub fn planned_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// Where chunk `c`'s slot is (`None` for a chunk this arena does not hold).
    pub fn location(&self, c: usize) -> Option<SlotLocation> {
        self.slots.get(c).copied().flatten()
    }

    fn range(&self, c: usize) -> Result<(SlotLocation, usize), FormatError> {
        let loc = self
            .location(c)
            .ok_or_else(|| oob(c, "not held by this arena".into()))?;
        let len = to_usize(self.decoded_len[c], c)?;
        Ok((loc, len))
    }

    /// Chunk `c`'s slot, for writing its decoded bytes; allocates (zeroed, 64-byte aligned)
    /// the chunk's segment the first time one of its chunks is asked for.
    pub fn slot_mut(&mut self, c: usize) -> Result<&mut [u8], FormatError> {
        let (loc, len) = self.range(c)?;
        if self.released[c] || self.completed[c] {
            return Err(oob(c, "written after it was released or completed".into()));
        }
        let seg = &mut self.segments[loc.segment];
        if !seg.buf.is_present() {
            seg.buf = SegmentBuf::Writing(AlignedBuf::zeroed(seg.len)?);
        }
        let buf = match &mut seg.buf {
            SegmentBuf::Writing(b) => b.as_mut_slice(),
            _ => return Err(oob(c, "its segment is sealed".into())),
        };
        let blen = buf.len();
        loc.offset
            .checked_add(len)
            .and_then(|end| buf.get_mut(loc.offset..end))
            .ok_or_else(|| oob(c, format!("slot outside its {blen}-byte segment")))
    }

    /// Chunk `c`'s decoded bytes (`None` when not held or its segment was never written).
    pub fn chunk(&self, c: usize) -> Option<&[u8]> {
        let (loc, len) = self.range(c).ok()?;
        if self.released[c] {
            return None;
        }
        let buf = self.segments[loc.segment].buf.as_slice()?;
        buf.get(loc.offset..loc.offset.checked_add(len)?)
    }

    /// The bytes of tensor `t` of `graph` (the graph this arena was planned for).
    pub fn tensor(&self, graph: &Graph, t: &TensorInfo) -> Option<&[u8]> {
        let _ = graph.chunks.get(t.chunk as usize)?;
        let chunk = self.chunk(t.chunk as usize)?;
        let start = usize::try_from(t.offset).ok()?;
        chunk.get(start..start.checked_add(usize::try_from(t.nbytes).ok()?)?)
    }

    /// Every kept chunk's slot as `(chunk index, bytes)`, for comparing two arenas
    /// (tests; the logical offsets are in the graph).
    pub fn chunks(&self) -> impl Iterator<Item = (usize, &[u8])> {
        (0..self.slots.len()).filter_map(|c| self.chunk(c).map(|b| (c, b)))
    }

    /// The segments' buffers (never-written segments allocated now, zeroed; wholly released
    /// ones empty) and each chunk's location in them (`None` for released chunks): what a
    /// reader turns into weight views. Sealed segments are the same `Arc`s that
    /// [`Arena::shared`] handed out.
    #[allow(clippy::type_complexity)]
    pub fn into_segments(
        self,
    ) -> Result<(Vec<Arc<AlignedBuf>>, Vec<Option<SlotLocation>>), FormatError> {
        let bufs = self
            .segments
            .into_iter()
            .map(|s| match s.buf {
                SegmentBuf::Sealed(b) => Ok(b),
                SegmentBuf::Writing(b) => Ok(Arc::new(b)),
                SegmentBuf::Absent if s.chunks > 0 && s.released >= s.chunks => {
                    AlignedBuf::zeroed(0).map(Arc::new)
                }
                SegmentBuf::Absent => AlignedBuf::zeroed(s.len).map(Arc::new),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let slots = self
            .slots
            .into_iter()
            .zip(&self.released)
            .map(|(loc, &gone)| if gone { None } else { loc })
            .collect();
        Ok((bufs, slots))
    }
}

/// Two arenas are equal when they hold the same chunks with the same bytes, however they
/// are segmented (what "streaming == whole-file" means for weights).
impl PartialEq for Arena {
    fn eq(&self, other: &Arena) -> bool {
        self.decoded_len == other.decoded_len && self.chunks().eq(other.chunks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Codec;

    fn graph(slots: &[(u64, u64, Codec)]) -> Graph {
        let chunks: Vec<ChunkInfo> = slots
            .iter()
            .map(|&(arena_offset, decoded_len, codec)| ChunkInfo {
                codec,
                file_offset: 0,
                stored_len: decoded_len,
                arena_offset,
                decoded_len,
                crc32: 0,
            })
            .collect();
        Graph {
            version: (1, 0),
            metadata: Default::default(),
            signature: Default::default(),
            ops: vec![],
            functions: vec![],
            constants: vec![],
            tensors: vec![],
            arena_size: slots
                .last()
                .map_or(0, |s| s.0.saturating_add(s.1 + 63) & !63),
            chunks,
            states: vec![],
            scalar_inputs: vec![],

            assets: vec![],
        }
    }

    #[test]
    fn groups_consecutive_chunks_up_to_the_target() {
        let z = Codec::Zstd;
        let g = graph(&[(0, 100, z), (128, 64, z), (192, 1000, z), (1216, 10, z)]);
        let mut a = Arena::plan(&g, 256).unwrap();
        // [0,192) fits 256; chunk 2 would make it 1216 -> own segment (oversized); chunk 3
        // would make that 1280 - 192 > 256 -> new segment.
        assert_eq!(a.segment_count(), 3);
        assert_eq!(
            a.location(1),
            Some(SlotLocation {
                segment: 0,
                offset: 128
            })
        );
        assert_eq!(
            a.location(2),
            Some(SlotLocation {
                segment: 1,
                offset: 0
            })
        );
        assert_eq!(
            a.location(3),
            Some(SlotLocation {
                segment: 2,
                offset: 0
            })
        );
        assert_eq!(a.planned_bytes(), 192 + 1024 + 64);
        assert_eq!(a.allocated_bytes(), 0, "planning allocates nothing");
        a.slot_mut(1).unwrap().fill(7);
        assert_eq!(a.allocated_bytes(), 192, "only the touched segment");
        assert_eq!(a.chunk(1).unwrap(), &[7u8; 64][..]);
        assert_eq!(a.chunk(0).unwrap(), &[0u8; 100][..]);
        assert!(a.chunk(2).is_none());
        let (bufs, slots) = a.into_segments().unwrap();
        assert_eq!(bufs.len(), 3);
        assert!(bufs
            .iter()
            .all(|b| b.as_slice().as_ptr() as usize % 64 == 0));
        assert_eq!(slots.len(), 4);
        // One chunk per segment with target 0.
        assert_eq!(Arena::plan(&g, 0).unwrap().segment_count(), 4);
        // Everything in one segment with a large target.
        assert_eq!(Arena::plan(&g, 1 << 20).unwrap().segment_count(), 1);
    }

    /// A segment is shared only once all its chunks are complete, is never written after,
    /// and `into_segments` returns the very buffer that was shared.
    #[test]
    fn a_segment_is_sealed_when_its_last_chunk_completes() {
        let z = Codec::Zstd;
        let g = graph(&[(0, 64, z), (64, 64, z), (128, 64, z)]);
        let mut a = Arena::plan(&g, 128).unwrap();
        assert_eq!(a.segment_count(), 2);
        a.slot_mut(0).unwrap().fill(1);
        a.complete(0).unwrap();
        assert!(
            a.shared(0).is_none(),
            "chunk 1 of the segment is still open"
        );
        assert!(
            a.slot_mut(0).is_err(),
            "a completed chunk cannot be written"
        );
        a.slot_mut(1).unwrap().fill(2);
        a.complete(1).unwrap();
        let (seg, off) = a.shared(1).unwrap();
        assert_eq!((off, &seg.as_slice()[..2]), (64, &[1u8, 1][..]));
        assert_eq!(a.chunk(1).unwrap(), &[2u8; 64][..]);
        assert!(a.shared(2).is_none(), "never written");
        let (bufs, _) = a.into_segments().unwrap();
        assert!(Arc::ptr_eq(&bufs[0], &seg));
        assert_eq!(
            bufs[1].len(),
            64,
            "the unwritten segment is allocated, zeroed"
        );
    }

    #[test]
    fn unkept_chunks_split_segments_and_have_no_slot() {
        let (s, z) = (Codec::Stored, Codec::Zstd);
        let g = graph(&[(0, 64, z), (64, 64, s), (128, 64, z), (192, 64, z)]);
        let mut a = Arena::plan_for(&g, 1 << 20, |c| c.codec == Codec::Zstd).unwrap();
        assert_eq!(a.segment_count(), 2);
        assert_eq!(a.location(1), None);
        assert!(a.slot_mut(1).is_err());
        assert_eq!(
            a.location(3),
            Some(SlotLocation {
                segment: 1,
                offset: 64
            })
        );
        assert_eq!(a.planned_bytes(), 64 + 128);
    }

    #[test]
    fn unordered_or_overflowing_slots_are_errors() {
        let z = Codec::Zstd;
        assert!(Arena::plan(&graph(&[(128, 64, z), (0, 64, z)]), 1 << 20).is_err());
        assert!(Arena::plan(&graph(&[(u64::MAX - 63, 64, z)]), 1 << 20).is_err());
        assert!(Arena::plan(&graph(&[(3, 64, z)]), 1 << 20).is_err());
    }
}
