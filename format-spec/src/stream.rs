//! The incremental driver: bytes arrive in pieces of any size (a `fetch` body, a file read
//! loop). Header and graph bytes are buffered (bounded by [`Limits::max_graph_bytes`]) and run
//! through the same grammar as the whole-file driver; then the segmented weight arena is
//! planned ([`Arena`]) and every chunk is decoded straight into its slot as its bytes arrive,
//! each segment allocated when its first chunk's first byte arrives. Peak memory: weights +
//! graph + one zstd decoder — never the file.

use crate::arena::{Arena, SEGMENT_TARGET};
use crate::decode::ChunkSink;
use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::limits::Limits;
use crate::model::Graph;
use crate::sections::header::{header_and_table_len, parse_header, FileHeader, HEADER_LEN};
use crate::sections::parse_graph;
use crate::validate::validate;

/// Progress reported by [`StreamParser::feed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// Header and section table parsed.
    HeaderReady {
        /// (major, minor) of the file.
        version: (u16, u16),
        /// Total file length.
        total_len: u64,
    },
    /// The graph is parsed and validated and the arena planned ([`StreamParser::graph`]).
    GraphReady,
    /// Chunk N is decoded into the arena and its CRC checked; its bytes are final
    /// ([`Arena::complete`]), and [`Arena::shared`] hands out its segment once sealed.
    ChunkReady(u32),
    /// All `total_len` bytes arrived; call [`StreamParser::finish`].
    Done,
}

enum Phase {
    Header,
    Graph,
    Weights,
    Done,
    Failed(FormatError),
}

/// Incremental parser. Feed pieces in order; after an error every further call fails.
pub struct StreamParser {
    limits: Limits,
    phase: Phase,
    buf: Vec<u8>,
    consumed: u64,
    header: Option<FileHeader>,
    graph: Option<Graph>,
    arena: Option<Arena>,
    segment_target: u64,
    /// Which chunks get an arena segment of their own (see [`StreamParser::with_own_segments`]).
    own_segments: Option<fn(&Graph) -> Vec<bool>>,
    next_chunk: usize,
    sink: Option<ChunkSink>,
    /// Whether each weight chunk's CRC-32 is checked (see [`StreamParser::without_chunk_crcs`]).
    chunk_crcs: bool,
}

impl StreamParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        StreamParser {
            limits,
            phase: Phase::Header,
            buf: Vec::new(),
            consumed: 0,
            header: None,
            graph: None,
            arena: None,
            segment_target: SEGMENT_TARGET,
            own_segments: None,
            next_chunk: 0,
            sink: None,
            chunk_crcs: true,
        }
    }

    /// Use arena segments of at most `bytes` (default [`SEGMENT_TARGET`]; 0 = one segment per
    /// chunk). Tests use small values to exercise many segments with small files.
    pub fn with_segment_target(mut self, bytes: u64) -> Self {
        self.segment_target = bytes;
        self
    }

    /// Give the chunks `choose(graph)` marks an arena segment of their own (see
    /// [`Arena::plan_segments`]), so a reader that consumes such a chunk on arrival can
    /// [`StreamParser::release_chunk`] it and get its memory back at once. `choose` runs once,
    /// on the validated graph, and should be linear in its size.
    pub fn with_own_segments(mut self, choose: fn(&Graph) -> Vec<bool>) -> Self {
        self.own_segments = Some(choose);
        self
    }

    /// Skip the weight chunks' CRC-32 checks. Only for a caller that checks the whole file
    /// with a digest of its own before using the result (a cached copy whose digest was taken
    /// when it was first loaded with every CRC checked): computing the CRCs is the largest
    /// cost of loading stored chunks. Everything else (structure, sizes, zstd frames) is
    /// still checked, so a damaged file still yields an error or a model the caller rejects.
    pub fn without_chunk_crcs(mut self) -> Self {
        self.chunk_crcs = false;
        self
    }

    /// Give chunk `c`'s decoded bytes back (the reader made what it needs from them, after
    /// [`StreamEvent::ChunkReady`]); see [`Arena::release`].
    pub fn release_chunk(&mut self, c: usize) -> Result<(), FormatError> {
        match &mut self.arena {
            Some(a) => a.release(c),
            None => Err(internal("no arena to release a chunk from")),
        }
    }

    /// The parsed graph, once [`StreamEvent::GraphReady`] was reported.
    pub fn graph(&self) -> Option<&Graph> {
        self.graph.as_ref()
    }

    /// The header and section table, once [`StreamEvent::HeaderReady`] was reported.
    pub fn header(&self) -> Option<&FileHeader> {
        self.header.as_ref()
    }

    /// The weight arena (chunks reported ready hold their final bytes).
    pub fn arena(&self) -> Option<&Arena> {
        self.arena.as_ref()
    }

    /// Bytes accepted so far.
    pub fn bytes_consumed(&self) -> u64 {
        self.consumed
    }

    /// The file length from the header, once known.
    pub fn total_len(&self) -> Option<u64> {
        self.header.as_ref().map(|h| h.total_len)
    }

    /// Feed the next piece (any length, including 0).
    pub fn feed(&mut self, piece: &[u8]) -> Result<Vec<StreamEvent>, FormatError> {
        if let Phase::Failed(e) = &self.phase {
            return Err(e.clone());
        }
        let mut events = Vec::new();
        match self.run(piece, &mut events) {
            Ok(()) => Ok(events),
            Err(e) => {
                self.phase = Phase::Failed(e.clone());
                self.sink = None;
                self.arena = None;
                self.buf = Vec::new();
                Err(e)
            }
        }
    }

    /// The graph and the filled arena; an error unless the whole file arrived.
    pub fn finish(self) -> Result<(Graph, Arena), FormatError> {
        match self.phase {
            Phase::Failed(e) => Err(e),
            Phase::Done => match (self.graph, self.arena) {
                (Some(g), Some(a)) => Ok((g, a)),
                _ => Err(FormatError::new(
                    ErrorKind::Usage,
                    None,
                    self.consumed,
                    "internal: done without graph",
                )),
            },
            _ => Err(FormatError::new(
                ErrorKind::Truncated,
                None,
                self.consumed,
                match self.header.as_ref() {
                    Some(h) => format!(
                        "stream ended after {} of {} bytes",
                        self.consumed, h.total_len
                    ),
                    None => format!(
                        "stream ended after {} bytes, inside the header",
                        self.consumed
                    ),
                },
            )),
        }
    }

    /// Append up to `want` total buffered bytes from `piece`.
    fn fill(&mut self, piece: &mut &[u8], want: usize) {
        let k = want.saturating_sub(self.buf.len()).min(piece.len());
        self.buf.extend_from_slice(&piece[..k]);
        *piece = &piece[k..];
        self.consumed += k as u64;
    }

    fn run(&mut self, mut piece: &[u8], ev: &mut Vec<StreamEvent>) -> Result<(), FormatError> {
        loop {
            match self.phase {
                Phase::Header => {
                    let want = if self.buf.len() < HEADER_LEN {
                        HEADER_LEN
                    } else {
                        header_and_table_len(&self.buf, &self.limits)?
                    };
                    self.fill(&mut piece, want);
                    if self.buf.len() < HEADER_LEN {
                        // Refuse non-.wtb input as early as its first bytes.
                        let n = self.buf.len().min(8);
                        if self.buf[..n] != crate::sections::header::MAGIC[..n] {
                            header_and_table_len(&self.buf, &self.limits)?;
                        }
                        return Ok(());
                    }
                    if self.buf.len() < header_and_table_len(&self.buf, &self.limits)? {
                        if piece.is_empty() {
                            return Ok(());
                        }
                        continue;
                    }
                    let h = parse_header(&self.buf, &self.limits)?;
                    ev.push(StreamEvent::HeaderReady {
                        version: h.version,
                        total_len: h.total_len,
                    });
                    self.header = Some(h);
                    self.phase = Phase::Graph;
                }
                Phase::Graph => {
                    let w = self.header.as_ref().map_or(0, |h| h.weights_offset()) as usize;
                    self.fill(&mut piece, w);
                    if self.buf.len() < w {
                        return Ok(());
                    }
                    let h = self.header.as_ref().ok_or_else(|| internal("no header"))?;
                    let g = parse_graph(&self.buf, h, &self.limits)?;
                    validate(&g, h, &self.limits)?;
                    // Planned only: each segment is allocated when its first byte arrives.
                    let alone = self.own_segments.map(|f| f(&g)).unwrap_or_default();
                    self.arena = Some(Arena::plan_segments(
                        &g,
                        self.segment_target,
                        |_| true,
                        &alone,
                    )?);
                    self.graph = Some(g);
                    self.buf = Vec::new();
                    ev.push(StreamEvent::GraphReady);
                    self.phase = Phase::Weights;
                }
                Phase::Weights => {
                    self.weights(&mut piece, ev)?;
                    if !matches!(self.phase, Phase::Done) {
                        return Ok(());
                    }
                }
                Phase::Done => {
                    if !piece.is_empty() {
                        return Err(FormatError::new(
                            ErrorKind::TrailingBytes,
                            None,
                            self.consumed,
                            format!("{} bytes beyond the declared file length", piece.len()),
                        ));
                    }
                    return Ok(());
                }
                Phase::Failed(ref e) => return Err(e.clone()),
            }
        }
    }

    fn weights(&mut self, piece: &mut &[u8], ev: &mut Vec<StreamEvent>) -> Result<(), FormatError> {
        let total = self.total_len().unwrap_or(0);
        let (Some(g), Some(arena)) = (self.graph.as_ref(), self.arena.as_mut()) else {
            return Err(internal("weights before graph"));
        };
        loop {
            let pos = self.consumed;
            if let Some(c) = g.chunks.get(self.next_chunk) {
                if pos < c.file_offset {
                    let k = take(c.file_offset - pos, piece);
                    if k == 0 {
                        return Ok(());
                    }
                    *piece = &piece[k..];
                    self.consumed += k as u64;
                    continue;
                }
                let idx = self.next_chunk as u32;
                if self.sink.is_none() {
                    self.sink = Some(ChunkSink::new(
                        idx,
                        c,
                        self.limits.max_zstd_window_log,
                        self.chunk_crcs,
                    )?);
                }
                let end = c.file_offset + c.stored_len;
                let k = take(end - pos, piece);
                if k == 0 && self.consumed != end {
                    return Ok(());
                }
                let slot = arena.slot_mut(self.next_chunk)?;
                if k > 0 {
                    if let Some(s) = self.sink.as_mut() {
                        s.push(&piece[..k], slot)?;
                    }
                    *piece = &piece[k..];
                    self.consumed += k as u64;
                }
                if self.consumed == end {
                    if let Some(s) = self.sink.take() {
                        s.finish(c, slot)?;
                    }
                    arena.complete(self.next_chunk)?;
                    ev.push(StreamEvent::ChunkReady(idx));
                    self.next_chunk += 1;
                    continue;
                }
                return Ok(());
            }
            if pos < total {
                let k = take(total - pos, piece);
                if k == 0 {
                    return Ok(());
                }
                *piece = &piece[k..];
                self.consumed += k as u64;
                continue;
            }
            ev.push(StreamEvent::Done);
            self.phase = Phase::Done;
            return Ok(());
        }
    }
}

/// How many bytes of `piece` to take when `want` more are expected (no truncation of a
/// large u64 on 32-bit targets).
fn take(want: u64, piece: &[u8]) -> usize {
    want.min(piece.len() as u64) as usize
}

fn internal(what: &str) -> FormatError {
    FormatError::new(
        ErrorKind::Usage,
        Some(SectionKind::Header),
        0,
        format!("internal: {what}"),
    )
}
