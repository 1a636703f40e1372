//! [`StreamingLoader`]: build a [`Program`] from a byte stream (fetch, file stream) without
//! ever holding the whole file. The format's incremental parser decodes each weight chunk
//! straight into its slot of the 64-byte-aligned, segmented arena; this layer checks op support as soon
//! as the graph is complete — before any weight byte arrives — and reports progress.

use wasm_torch_format::{Limits, StreamEvent, StreamParser};

use crate::error::{Error, Result};
use crate::program::{resolve_ops, validate, Program};
use crate::registry::OpFn;
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
                    validate(graph)?;
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
            None => {
                let ops = resolve_ops(&graph)?;
                validate(&graph)?;
                ops
            }
        };
        let arena = ArenaSources::new(arena)?;
        Program::assemble(graph, ops, &|c| arena.locate(c))
    }
}
