//! What every op is called with: the op signature [`OpFn`] and the per-session scratch state
//! [`OpCtx`] (weight-packing caches, the random stream).

use crate::error::Result;
use crate::value::Value;

/// Per-call context handed to ops: session scratch state they may use.
#[derive(Default)]
pub struct OpCtx {
    /// Packed copies of program weights for the GEMM kernels, within a memory budget
    /// (see `prepack.rs`).
    pub(crate) prepack: crate::prepack::Prepack,
    /// Addresses of the program's weights: only these (alive as long as the program) may be
    /// cached by address.
    pub(crate) persistent: std::collections::HashSet<usize>,
    /// The session's random stream (`rand`, `randn`, `randperm`; see `ops/random.rs`).
    pub(crate) rng: crate::ops::random::Rng,
    /// Bytes written and copied by in-place ops (`ops/inplace.rs`).
    pub(crate) writes: crate::ops::inplace::WriteStats,
}

/// An op implementation. Arguments are owned so an op can take over the buffer of a tensor
/// whose register dies at this instruction (in-place execution).
pub type OpFn = fn(&mut OpCtx, Vec<Value>) -> Result<Vec<Value>>;
