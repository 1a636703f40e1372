//! What every op is called with: the op signature [`OpFn`] and the per-session scratch state
//! [`OpCtx`] (weight-packing caches, the random stream).

use crate::error::Result;
use crate::value::Value;

/// Per-call context handed to ops: session scratch state they may use.
pub struct OpCtx {
    /// Weights pre-packed for the GEMM kernel, keyed by the weight's storage address, shape
    /// (k, n) and whether it is used transposed; lives as long as the session (the program
    /// keeps the weights alive).
    pub(crate) packed: std::collections::HashMap<
        (usize, usize, usize, bool),
        std::sync::Arc<wasm_torch_kernels::gemm::PackedB>,
    >,
    /// Convolution weights pre-packed for the GEMM kernel (same policy as `packed`), keyed
    /// by the weight's address, (out channels, in channels per group, kh, kw) and groups.
    pub(crate) packed_conv: std::collections::HashMap<
        (usize, [usize; 4], usize),
        std::sync::Arc<wasm_torch_kernels::conv::PackedConvWeight>,
    >,
    /// Addresses of the program's weights: only these (alive as long as the program) may be
    /// cached by address.
    pub(crate) persistent: std::collections::HashSet<usize>,
    /// Whether to pre-pack weights (costs a copy of each linear weight; saves a pack per call).
    pub(crate) pack_weights: bool,
    /// The session's random stream (`rand`, `randn`, `randperm`; see `ops/random.rs`).
    pub(crate) rng: crate::ops::random::Rng,
}

impl Default for OpCtx {
    fn default() -> Self {
        OpCtx {
            packed: Default::default(),
            packed_conv: Default::default(),
            persistent: Default::default(),
            pack_weights: true,
            rng: Default::default(),
        }
    }
}

/// An op implementation. Arguments are owned so an op can take over the buffer of a tensor
/// whose register dies at this instruction (in-place execution).
pub type OpFn = fn(&mut OpCtx, Vec<Value>) -> Result<Vec<Value>>;
