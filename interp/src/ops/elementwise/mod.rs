//! Element-wise ops: binary arithmetic and comparisons with broadcasting and PyTorch type
//! promotion (`arith`), unary ops and activations (`unary`), and the Core ATen unary math
//! that computes doubles in f64 (`unary_math`), and the ops about the float representation
//! (`float_repr`: round with decimals, nextafter, frexp, angle).

pub(crate) mod arith;
pub(crate) mod float_repr;
pub(crate) mod unary;
pub(crate) mod unary_math;

pub(crate) use arith::{binary, Bin};

/// Register the family's ops.
pub(crate) fn register(r: &mut crate::ops::registry::OpList) {
    arith::register(r);
    float_repr::register(r);
    unary::register(r);
    unary_math::register(r);
}
