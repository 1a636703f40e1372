//! Convolution: forward 1-d/2-d on the kernels' im2col + GEMM path with pre-packed weights
//! (`forward`), transposed 1-3-d and 3-d forward convolution (`general`), `convolution_backward`
//! (`backward`), and `col2im` (`fold`).

pub(crate) mod backward;
pub(crate) mod fold;
pub(crate) mod forward;
pub(crate) mod general;

/// Register the family's ops.
pub(crate) fn register(r: &mut crate::ops::registry::OpList) {
    forward::register(r);
    backward::register(r);
    fold::register(r);
}
