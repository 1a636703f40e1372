//! Fourier transforms and the complex (`c64`) element-wise ops they come with.
//!
//! `torch.export` lowers `torch.fft.*` and `torch.stft` to three ATen primitives
//! (`_fft_r2c`, `_fft_c2r`, `_fft_c2c`); TorchScript keeps the public `fft_*` functions.
//! Both sets are here over one transform core (`transform`). The complex element-wise ops
//! (`complex`) are looked up through [`complex_variant`]: the executor sends a call with a
//! complex operand to the variant when an op has one, runs it unchanged when the op only
//! moves elements ([`moves_elements`]), and refuses it otherwise, so an op written for real
//! numbers never reads a complex tensor's real part by accident.

mod complex;
mod ops;
pub(crate) mod transform;

use crate::ops::registry::OpList;
use crate::ops::OpFn;

pub(crate) use complex::complex_variant;

/// Register the transforms and the complex-only ops.
pub(crate) fn register(r: &mut OpList) {
    ops::register(r);
    complex::register(r);
}

/// Ops that only copy, view or rearrange elements (through the dtype-generic storage
/// paths), so they are correct for complex tensors as they are.
pub(crate) fn moves_elements(name: &str) -> bool {
    const MOVERS: &[&str] = &[
        "aten::_to_copy.default",
        "aten::_unsafe_view.default",
        "aten::alias.default",
        "aten::cat.default",
        "aten::clone.default",
        "aten::constant_pad_nd.default",
        "aten::contiguous.default",
        "aten::detach.default",
        "aten::expand.default",
        "aten::flip.default",
        "aten::lift_fresh_copy.default",
        "aten::narrow.default",
        "aten::permute.default",
        "aten::reshape.default",
        "aten::select.int",
        "aten::slice.Tensor",
        "aten::squeeze.dim",
        "aten::squeeze.dims",
        "aten::squeeze.default",
        "aten::stack.default",
        "aten::t.default",
        "aten::to.dtype",
        "aten::transpose.int",
        "aten::unsqueeze.default",
        "aten::view.default",
    ];
    MOVERS.contains(&name)
}

/// How the executor treats a call of op `name` whose arguments hold a complex tensor.
#[derive(Clone, Copy)]
pub(crate) enum ComplexCall {
    /// Run the op as registered (it handles complex itself or only moves elements).
    Same,
    /// Run this implementation instead.
    Variant(OpFn),
    /// Refuse: the op has no complex implementation.
    Refuse,
}

/// The [`ComplexCall`] for op `name`.
pub(crate) fn complex_call(name: &str) -> ComplexCall {
    if let Some(f) = complex_variant(name) {
        ComplexCall::Variant(f)
    } else if moves_elements(name) || ops::handles_complex(name) || complex::handles_complex(name) {
        ComplexCall::Same
    } else {
        ComplexCall::Refuse
    }
}

#[cfg(test)]
mod tests;
