//! Tensor creation: full/zeros/ones(+_like, new_*), empty, arange, scalar_tensor, triu/tril.

use super::{arg, farg, ints, one, opt, targ, to_usize};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::storage::try_alloc;
use crate::tensor::{checked_numel, DType, Tensor};
use crate::value::Value;

fn shape_of(v: &Value) -> Result<Vec<usize>> {
    v.as_ints()?
        .into_iter()
        .map(|d| to_usize(d, "size"))
        .collect()
}

/// The natural dtype of a fill value (int → i64, float → f32, bool → bool).
fn dtype_of_scalar(v: &Value) -> DType {
    match v {
        Value::Int(_) => DType::I64,
        Value::Bool(_) => DType::Bool,
        Value::Tensor(t) => t.dtype(),
        _ => DType::F32,
    }
}

/// full(size, fill_value, dtype, layout, device, pin_memory)
fn full(args: &[Value]) -> Result<Vec<Value>> {
    let shape = shape_of(arg(args, 0)?)?;
    let fill = arg(args, 1)?;
    let dt = opt(args, 2)
        .as_opt_dtype()?
        .unwrap_or_else(|| dtype_of_scalar(fill));
    one(Tensor::full(dt, shape, fill.as_f64()?)?)
}

fn filled(args: &[Value], value: f64, dtype_at: usize) -> Result<Vec<Value>> {
    let shape = shape_of(arg(args, 0)?)?;
    let dt = opt(args, dtype_at).as_opt_dtype()?.unwrap_or(DType::F32);
    one(Tensor::full(dt, shape, value)?)
}

fn like(args: &[Value], value: Option<f64>, dtype_at: usize) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let v = match value {
        Some(v) => v,
        None => farg(args, 1)?,
    };
    let dt = opt(args, dtype_at).as_opt_dtype()?.unwrap_or(t.dtype());
    one(Tensor::full(dt, t.shape().to_vec(), v)?)
}

/// new_*(self, size, [fill,] dtype, ...)
fn new_filled(args: &[Value], value: Option<f64>, dtype_at: usize) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let shape = shape_of(arg(args, 1)?)?;
    let v = match value {
        Some(v) => v,
        None => farg(args, 2)?,
    };
    let dt = opt(args, dtype_at).as_opt_dtype()?.unwrap_or(t.dtype());
    one(Tensor::full(dt, shape, v)?)
}

/// arange(start, end, step, dtype)
fn arange(start: &Value, end: &Value, step: &Value, dtype: &Value) -> Result<Vec<Value>> {
    let is_float = [start, end, step]
        .iter()
        .any(|v| matches!(v, Value::Float(_)));
    let dt = dtype
        .as_opt_dtype()?
        .unwrap_or(if is_float { DType::F32 } else { DType::I64 });
    let (s, e, st) = (start.as_f64()?, end.as_f64()?, step.as_f64()?);
    if st == 0.0 || !st.is_finite() || !s.is_finite() || !e.is_finite() {
        return Err(Error::runtime(
            "arange: step must be non-zero and bounds finite",
        ));
    }
    if (e - s) * st < 0.0 && e != s {
        return Err(Error::runtime(
            "arange: upper bound and step have inconsistent signs",
        ));
    }
    let n = ((e - s) / st).ceil().max(0.0);
    if n > 1e10 {
        return Err(Error::oom("arange: too many elements"));
    }
    let n = n as usize;
    checked_numel(&[n])?;
    if n.saturating_mul(8) > crate::storage::MAX_TENSOR_BYTES {
        return Err(Error::oom(format!("arange of {n} elements is too large")));
    }
    // Fallible buffers: `n` is bounded only by the tensor size limit, which a hostile
    // `end` reaches.
    if dt.is_float() {
        let mut v = try_alloc::<f64>(n)?;
        for (i, x) in v.iter_mut().enumerate() {
            *x = s + i as f64 * st;
        }
        one(Tensor::from_f64_as(dt, vec![n], v))
    } else {
        let (si, sti) = (start.as_f64()? as i64, step.as_f64()? as i64);
        let mut v = try_alloc::<i64>(n)?;
        for (i, x) in v.iter_mut().enumerate() {
            *x = if !is_float {
                si.wrapping_add((i as i64).wrapping_mul(sti))
            } else {
                (s + i as f64 * st) as i64
            };
        }
        one(Tensor::from_i64_as(dt, vec![n], v))
    }
}

/// triu/tril(self, diagonal): keep elements with col - row >= k (triu) or <= k (tril).
fn tri(args: &[Value], upper: bool) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let k = opt(args, 1).as_opt_int()?.unwrap_or(0);
    if t.ndim() < 2 {
        return Err(Error::runtime("triu/tril need at least 2 dims"));
    }
    let (r, c) = (t.shape()[t.ndim() - 2], t.shape()[t.ndim() - 1]);
    let keep = |i: usize| {
        let (row, col) = ((i / c) % r.max(1), i % c.max(1));
        let d = col as i64 - row as i64;
        if upper {
            d >= k
        } else {
            d <= k
        }
    };
    let out = if t.dtype().is_float() {
        let v: Vec<f32> = t
            .f32s()?
            .iter()
            .enumerate()
            .map(|(i, &x)| if keep(i) { x } else { 0.0 })
            .collect();
        Tensor::from_f32_as(t.dtype(), t.shape().to_vec(), v)
    } else {
        let v: Vec<i64> = t
            .i64s()?
            .iter()
            .enumerate()
            .map(|(i, &x)| if keep(i) { x } else { 0 })
            .collect();
        Tensor::from_i64_as(t.dtype(), t.shape().to_vec(), v)
    };
    one(out)
}

/// scalar_tensor(s, dtype, ...) / aten::tensor.{int,float,bool}(t, dtype, device, requires_grad)
fn scalar_tensor(args: &[Value]) -> Result<Vec<Value>> {
    let v = arg(args, 0)?;
    let dt = opt(args, 1).as_opt_dtype()?.unwrap_or(match v {
        Value::Int(_) => DType::I64,
        Value::Bool(_) => DType::Bool,
        _ => DType::F32,
    });
    one(Tensor::full(dt, vec![], v.as_f64()?)?)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::full.default" => |_: &mut OpCtx, a: Vec<Value>| full(&a),
        "aten::zeros.default" => |_: &mut OpCtx, a: Vec<Value>| filled(&a, 0.0, 1),
        "aten::ones.default" => |_: &mut OpCtx, a: Vec<Value>| filled(&a, 1.0, 1),
        "aten::empty.memory_format" => |_: &mut OpCtx, a: Vec<Value>| filled(&a, 0.0, 1),
        "aten::zeros_like.default" => |_: &mut OpCtx, a: Vec<Value>| like(&a, Some(0.0), 1),
        "aten::ones_like.default" => |_: &mut OpCtx, a: Vec<Value>| like(&a, Some(1.0), 1),
        "aten::empty_like.default" => |_: &mut OpCtx, a: Vec<Value>| like(&a, Some(0.0), 1),
        "aten::full_like.default" => |_: &mut OpCtx, a: Vec<Value>| like(&a, None, 2),
        "aten::new_zeros.default" => |_: &mut OpCtx, a: Vec<Value>| new_filled(&a, Some(0.0), 2),
        "aten::new_ones.default" => |_: &mut OpCtx, a: Vec<Value>| new_filled(&a, Some(1.0), 2),
        "aten::new_empty.default" => |_: &mut OpCtx, a: Vec<Value>| new_filled(&a, Some(0.0), 2),
        "aten::new_full.default" => |_: &mut OpCtx, a: Vec<Value>| new_filled(&a, None, 3),
        "aten::arange.default" => |_: &mut OpCtx, a: Vec<Value>| arange(&Value::Int(0), arg(&a, 0)?, &Value::Int(1), opt(&a, 1)),
        "aten::arange.start" => |_: &mut OpCtx, a: Vec<Value>| arange(arg(&a, 0)?, arg(&a, 1)?, &Value::Int(1), opt(&a, 2)),
        "aten::arange.start_step" => |_: &mut OpCtx, a: Vec<Value>| arange(arg(&a, 0)?, arg(&a, 1)?, arg(&a, 2)?, opt(&a, 3)),
        "aten::scalar_tensor.default" => |_: &mut OpCtx, a: Vec<Value>| scalar_tensor(&a),
        "aten::tensor.int" => |_: &mut OpCtx, a: Vec<Value>| scalar_tensor(&a),
        "aten::tensor.float" => |_: &mut OpCtx, a: Vec<Value>| scalar_tensor(&a),
        "aten::tensor.bool" => |_: &mut OpCtx, a: Vec<Value>| scalar_tensor(&a),
        "aten::triu.default" => |_: &mut OpCtx, a: Vec<Value>| tri(&a, true),
        "aten::tril.default" => |_: &mut OpCtx, a: Vec<Value>| tri(&a, false),
    );
    // empty_permuted(size, physical_layout, *, dtype, ...): uninitialized memory in
    // PyTorch, so any values are valid; zeros, like `empty`. The layout only orders memory.
    reg!(r,
        "aten::empty_permuted.default" => |_: &mut OpCtx, a: Vec<Value>| {
            let layout = crate::ops::ints(&a, 1)?;
            let mut sorted = layout.clone();
            sorted.sort_unstable();
            if sorted.iter().enumerate().any(|(i, &d)| d != i as i64) {
                return Err(crate::error::Error::runtime(format!(
                    "empty_permuted: physical_layout {layout:?} is not a permutation"
                )));
            }
            filled(&a, 0.0, 2)
        },
    );
    let _ = ints;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::registry::lookup;
    use crate::ops::test_util::{call_t, il};

    #[test]
    fn creation_ops() {
        let t = call_t(
            "aten::full.default",
            vec![
                il(&[2, 2]),
                Value::Float(1.5),
                Value::None,
                Value::None,
                Value::None,
                Value::None,
            ],
        );
        assert_eq!((t.dtype(), t.to_f32_vec()), (DType::F32, vec![1.5; 4]));
        let t = call_t(
            "aten::full.default",
            vec![
                il(&[2]),
                Value::Int(3),
                Value::None,
                Value::None,
                Value::None,
                Value::None,
            ],
        );
        assert_eq!((t.dtype(), t.to_i64_vec()), (DType::I64, vec![3, 3]));
        let t = call_t(
            "aten::arange.start_step",
            vec![Value::Int(1), Value::Int(7), Value::Int(2), Value::None],
        );
        assert_eq!((t.dtype(), t.to_i64_vec()), (DType::I64, vec![1, 3, 5]));
        let t = call_t("aten::arange.default", vec![Value::Float(2.0), Value::None]);
        assert_eq!((t.dtype(), t.to_f32_vec()), (DType::F32, vec![0., 1.]));
        let t = call_t(
            "aten::ones_like.default",
            vec![Tensor::from_i64(vec![3], vec![0; 3]).into(), Value::Int(6)],
        );
        assert_eq!((t.dtype(), t.to_f32_vec()), (DType::F32, vec![1.; 3]));
        let ones = Tensor::from_f32(vec![3, 3], vec![1.0; 9]);
        let t = call_t(
            "aten::triu.default",
            vec![ones.clone().into(), Value::Int(1)],
        );
        assert_eq!(t.to_f32_vec(), vec![0., 1., 1., 0., 0., 1., 0., 0., 0.]);
        let t = call_t("aten::tril.default", vec![ones.into(), Value::Int(0)]);
        assert_eq!(t.to_f32_vec(), vec![1., 0., 0., 1., 1., 0., 1., 1., 1.]);
        let f = lookup("aten::full.default").unwrap();
        let e = f(
            &mut OpCtx::default(),
            vec![il(&[1 << 40, 1 << 30]), Value::Float(0.0)],
        )
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::OutOfMemory);
    }
}
