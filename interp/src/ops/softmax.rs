//! Softmax and log-softmax along one dim (the row kernels run on the dim moved last).

use wasm_torch_kernels::softmax::{log_softmax_rows, softmax_rows};

use crate::error::Result;
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{float_out, iarg, norm_dim, one, opt, targ};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// Softmax or log-softmax along `dim`, output dtype `dtype` (default: input's float type).
pub(crate) fn softmax(x: &Tensor, dim: i64, log: bool, dtype: Option<DType>) -> Result<Tensor> {
    let out_dt = dtype.unwrap_or_else(|| float_out(x));
    if x.ndim() == 0 {
        let v = if log { 0.0 } else { 1.0 };
        return Ok(Tensor::from_f32_as(out_dt, vec![], vec![v]));
    }
    let d = norm_dim(dim, x.ndim())?;
    let last = x.ndim() - 1;
    let moved = x.transpose(d as i64, last as i64)?;
    let row = moved.shape()[last];
    let shape = moved.shape().to_vec();
    let mut v = moved.contiguous()?.into_f32_vec()?;
    if row > 0 && !v.is_empty() {
        if log {
            log_softmax_rows(&mut v, row);
        } else {
            softmax_rows(&mut v, row);
        }
    }
    let t = Tensor::from_f32_as(out_dt, shape, v);
    t.transpose(d as i64, last as i64)?.contiguous()
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::_softmax.default" => |_: &mut OpCtx, a: Vec<Value>| one(softmax(targ(&a, 0)?, iarg(&a, 1)?, false, None)?),
        "aten::softmax.int" => |_: &mut OpCtx, a: Vec<Value>| one(softmax(targ(&a, 0)?, iarg(&a, 1)?, false, opt(&a, 2).as_opt_dtype()?)?),
        "aten::_log_softmax.default" => |_: &mut OpCtx, a: Vec<Value>| one(softmax(targ(&a, 0)?, iarg(&a, 1)?, true, None)?),
        "aten::log_softmax.int" => |_: &mut OpCtx, a: Vec<Value>| one(softmax(targ(&a, 0)?, iarg(&a, 1)?, true, opt(&a, 2).as_opt_dtype()?)?),
    );
}
