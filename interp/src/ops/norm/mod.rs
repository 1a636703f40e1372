//! Normalisation: inference batch norm, layer norm and group norm (`forward`), training-mode
//! batch norm with running-statistics updates (`batch_norm_train`), and layer/group norm
//! backward (`backward`).

pub(crate) mod backward;
pub(crate) mod batch_norm_train;
pub(crate) mod forward;

/// Register the family's ops.
pub(crate) fn register(r: &mut crate::ops::registry::OpList) {
    forward::register(r);
    batch_norm_train::register(r);
    backward::register(r);
}
