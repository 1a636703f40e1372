//! (in progress)
use crate::registry::OpFn;

pub(crate) fn register(_r: &mut Vec<(&'static str, OpFn)>) {}
