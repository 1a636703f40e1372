//! Op implementations, one module (file or folder) per op family, and the helpers they share.
//!
//! Every op receives its full ATen argument list (schema order, defaults filled in) and
//! returns one value per schema return. A family's `register` lists its ops with `reg!`;
//! `register_all` collects every family into the registry (`registry`), which refuses a
//! name registered twice. Shared helpers: argument readers (`args`), type promotion and
//! broadcasting (`promote`), channel-first layouts and f64 outputs (`layout`), the op
//! signature and per-session context (`ctx`); view helpers are methods on `Tensor`
//! (`tensor/view.rs`).

/// Register ops: `reg!(r, "aten::name.overload" => implementation, ...)` appends each pair
/// to the [`registry::OpList`] `r`. Every family's `register` uses it, so the registry sees
/// each name exactly as written (and can refuse duplicates).
macro_rules! reg {
    ($r:ident, $($name:literal => $f:expr),* $(,)?) => {
        $( $r.push(($name, $f as $crate::ops::OpFn)); )*
    };
}

mod args;
mod ctx;
mod layout;
mod promote;
pub(crate) mod registry;
#[cfg(test)]
mod robustness;
#[cfg(test)]
mod test_util;

pub(crate) mod attention;
pub(crate) mod conv;
pub(crate) mod creation;
pub(crate) mod deform_conv;
pub(crate) mod distance;
pub(crate) mod elementwise;
pub(crate) mod embedding;
pub(crate) mod fft;
pub(crate) mod index;
pub(crate) mod inplace;
pub(crate) mod linalg;
pub(crate) mod nms;
pub(crate) mod norm;
pub(crate) mod order;
pub(crate) mod pad;
pub(crate) mod place;
pub(crate) mod pool;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod rnn;
pub(crate) mod rnn_cell;
pub(crate) mod sampler;
pub(crate) mod scalar;
pub(crate) mod scatter;
pub(crate) mod search;
pub(crate) mod segment;
pub(crate) mod shape;
pub(crate) mod softmax;
pub(crate) mod special;
pub(crate) mod unique;
pub(crate) mod upsample;
pub(crate) mod vision;
pub(crate) mod vision_ps;

pub(crate) use args::*;
pub use ctx::{OpCtx, OpFn};
pub(crate) use layout::*;
pub(crate) use promote::*;

/// Collect every family's ops.
pub(crate) fn register_all(r: &mut registry::OpList) {
    elementwise::register(r);
    shape::register(r);
    creation::register(r);
    index::register(r);
    scatter::register(r);
    embedding::register(r);
    linalg::register(r);
    conv::register(r);
    pool::register(r);
    pad::register(r);
    norm::register(r);
    softmax::register(r);
    upsample::register(r);
    sampler::register(r);
    reduce::register(r);
    scalar::register(r);
    attention::register(r);
    rnn::register(r);
    rnn_cell::register(r);
    random::register(r);
    distance::register(r);
    inplace::register(r);
    special::register(r);
    order::register(r);
    search::register(r);
    place::register(r);
    segment::register(r);
    vision::register(r);
    vision_ps::register(r);
    deform_conv::register(r);
    unique::register(r);
    fft::register(r);
}
