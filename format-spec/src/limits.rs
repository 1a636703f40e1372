//! Configurable caps checked before anything is allocated.
//!
//! Every count, length and size read from a file is compared against the file itself *and*
//! against these limits, so a hostile file cannot make a reader allocate more than the limits
//! allow (see SPEC.md §8).

use crate::model::MAX_CONST_DEPTH;

/// Caps a reader enforces. [`Limits::default`] suits models up to a 4 GiB weight arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest offset at which the weight section may start (header + table + graph sections).
    pub max_graph_bytes: u64,
    /// Most entries in the section table.
    pub max_sections: u32,
    /// Longest string in bytes.
    pub max_string_len: u32,
    /// Longest generic vector (int/float lists, inline tensor bytes, list constants, operands).
    pub max_items: u32,
    /// Most op-table entries.
    pub max_ops: u32,
    /// Most functions.
    pub max_functions: u32,
    /// Most instructions in one function.
    pub max_instructions: u32,
    /// Most registers in one function.
    pub max_registers: u32,
    /// Most constant-pool entries.
    pub max_constants: u32,
    /// Most tensor-table entries.
    pub max_tensors: u32,
    /// Most chunks.
    pub max_chunks: u32,
    /// Highest tensor / shape rank.
    pub max_rank: u32,
    /// Deepest nesting of list constants (a top-level list has depth 1).
    pub max_const_depth: u32,
    /// Largest decoded size of one chunk (one contiguous allocation: on 32-bit readers a chunk
    /// must also stay below the 2 GiB single-allocation cap, or loading fails with `Alloc`).
    pub max_chunk_decoded: u64,
    /// Largest weight arena (its logical size, `arena_size`). The default is
    /// [`DEFAULT_MAX_ARENA`]: 4 GiB (the whole wasm32 memory, no larger model can load there)
    /// in 32-bit address spaces, 16 GiB (V8's memory64 limit) in 64-bit ones: native readers
    /// and the memory64 wasm build. Readers allocate the arena segment by segment as weight
    /// bytes arrive (SPEC.md §5.1), so this caps what a file may declare, not an allocation
    /// made up front.
    pub max_arena: u64,
    /// Largest zstd window (log2 bytes) a decoder accepts; bounds the decoder's own memory.
    pub max_zstd_window_log: u32,
    /// Most entries in the assets section (format 1.1).
    pub max_assets: u32,
    /// Largest total size of all assets' bytes together (format 1.1; a tokenizer is a few
    /// MiB). Assets are held in memory with the graph, so this bounds that memory.
    pub max_asset_bytes: u64,
}

/// The default [`Limits::max_arena`]: what one linear memory of this address width can hold
/// (4 GiB on wasm32 and other 32-bit targets; 16 GiB, the memory64 limit of V8 and
/// SpiderMonkey, on 64-bit targets including wasm64).
pub const DEFAULT_MAX_ARENA: u64 = if usize::BITS >= 64 { 16 << 30 } else { 4 << 30 };

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_graph_bytes: 256 << 20,
            max_sections: 64,
            max_string_len: 1 << 20,
            max_items: 1 << 24,
            max_ops: 1 << 16,
            max_functions: 1 << 16,
            max_instructions: 1 << 22,
            max_registers: 1 << 22,
            max_constants: 1 << 20,
            max_tensors: 1 << 20,
            max_chunks: 1 << 20,
            max_rank: 32,
            max_const_depth: MAX_CONST_DEPTH as u32,
            max_chunk_decoded: 2 << 30,
            max_arena: DEFAULT_MAX_ARENA,
            max_zstd_window_log: 27,
            max_assets: 1024,
            max_asset_bytes: 64 << 20,
        }
    }
}
