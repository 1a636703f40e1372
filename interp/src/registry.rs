//! The op registry: fully qualified ATen names ("aten::add.Tensor") → implementations.
//!
//! A program resolves its op table against this registry once, at load time, into a vector
//! indexed by op-table index, so the executor never looks names up while running. Every
//! op follows the calling convention of `docs/architecture.md`: the full positional argument
//! list in ATen schema order, one result per schema return.

use std::collections::HashMap;
use std::sync::OnceLock;

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
    /// Bytes written and copied by in-place ops (`ops/inplace.rs`).
    pub(crate) writes: crate::ops::inplace::WriteStats,
}

impl Default for OpCtx {
    fn default() -> Self {
        OpCtx {
            packed: Default::default(),
            packed_conv: Default::default(),
            persistent: Default::default(),
            pack_weights: true,
            rng: Default::default(),
            writes: Default::default(),
        }
    }
}

/// An op implementation. Arguments are owned so an op can take over the buffer of a tensor
/// whose register dies at this instruction (in-place execution).
pub type OpFn = fn(&mut OpCtx, Vec<Value>) -> Result<Vec<Value>>;

fn table() -> &'static HashMap<&'static str, OpFn> {
    static TABLE: OnceLock<HashMap<&'static str, OpFn>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v: Vec<(&'static str, OpFn)> = Vec::new();
        crate::ops::register_all(&mut v);
        v.into_iter().collect()
    })
}

/// Look an op up by its fully qualified name.
pub fn lookup(name: &str) -> Option<OpFn> {
    table().get(name).copied()
}

/// Every op name the interpreter implements, sorted (for `docs/ops.md`).
pub fn supported_ops() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = table().keys().copied().collect();
    v.sort_unstable();
    v
}
