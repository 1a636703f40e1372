//! Padding: constant padding and `aten::pad` (`constant`), reflection and replication
//! padding in 1-3 d (`reflect`).

pub(crate) mod constant;
pub(crate) mod reflect;

/// Register the family's ops.
pub(crate) fn register(r: &mut crate::ops::registry::OpList) {
    constant::register(r);
    reflect::register(r);
}
