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
