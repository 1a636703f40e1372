//! Pooling: 1-d and 2-d max/average/adaptive pooling on the kernels (`pool2d`), the 3-d
//! reference pools (`pool3d`), their backward ops (`backward`) and the window geometry they
//! share (`window`), and adaptive max pooling with indices (`adaptive_max`).

pub(crate) mod adaptive_max;
pub(crate) mod backward;
pub(crate) mod pool2d;
pub(crate) mod pool3d;
pub(crate) mod window;

/// Register the family's ops.
pub(crate) fn register(r: &mut crate::ops::registry::OpList) {
    pool2d::register(r);
    pool3d::register(r);
    backward::register(r);
    adaptive_max::register(r);
}
