//! Op implementations, one module per family, and the helpers they share.
//!
//! Every op receives its full ATen argument list (schema order, defaults filled in) and
//! returns one value per schema return.

use crate::error::{Error, Result};
use crate::registry::OpFn;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

pub(crate) mod arith;
pub(crate) mod attention;
pub(crate) mod bn_train;
pub(crate) mod conv_backward;
pub(crate) mod creation;
pub(crate) mod distance;
pub(crate) mod embedding_bag;
pub(crate) mod fold;
#[cfg(test)]
mod hostile_b;
pub(crate) mod index;
pub(crate) mod inplace;
pub(crate) mod linalg;
pub(crate) mod nn;
pub(crate) mod norm_backward;
pub(crate) mod padding;
pub(crate) mod pool3d;
pub(crate) mod pool_backward;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod rnn;
pub(crate) mod sampler;
pub(crate) mod scalar;
pub(crate) mod scatter;
pub(crate) mod shape;
pub(crate) mod spatial;
pub(crate) mod strided;
pub(crate) mod unary_math;

/// Collect every module's ops.
pub(crate) fn register_all(r: &mut Vec<(&'static str, OpFn)>) {
    arith::register(r);
    shape::register(r);
    creation::register(r);
    index::register(r);
    linalg::register(r);
    nn::register(r);
    reduce::register(r);
    scalar::register(r);
    attention::register(r);
    rnn::register(r);
    unary_math::register(r);
    strided::register(r);
    scatter::register(r);
    bn_train::register(r);
    random::register(r);
    padding::register(r);
    pool3d::register(r);
    pool_backward::register(r);
    fold::register(r);
    sampler::register(r);
    distance::register(r);
    embedding_bag::register(r);
    norm_backward::register(r);
    conv_backward::register(r);
    inplace::register(r);
}

/// Argument `i`, or an error saying how many were expected.
pub(crate) fn arg(args: &[Value], i: usize) -> Result<&Value> {
    args.get(i).ok_or_else(|| {
        Error::runtime(format!(
            "missing argument {i} (got {} arguments)",
            args.len()
        ))
    })
}

/// Tensor argument `i`.
pub(crate) fn targ(args: &[Value], i: usize) -> Result<&Tensor> {
    arg(args, i)?
        .as_tensor()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Take tensor argument `i` out of the argument list (to reuse its buffer).
pub(crate) fn take_t(args: &mut [Value], i: usize) -> Result<Tensor> {
    if i >= args.len() {
        return Err(Error::runtime(format!("missing argument {i}")));
    }
    args[i]
        .take_tensor()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Int argument `i`.
pub(crate) fn iarg(args: &[Value], i: usize) -> Result<i64> {
    arg(args, i)?
        .as_int()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Float argument `i`.
pub(crate) fn farg(args: &[Value], i: usize) -> Result<f64> {
    arg(args, i)?
        .as_f64()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Bool argument `i`; a missing trailing argument reads as `default`.
pub(crate) fn barg_or(args: &[Value], i: usize, default: bool) -> Result<bool> {
    match args.get(i) {
        None | Some(Value::None) => Ok(default),
        Some(v) => v.as_bool().map_err(|e| e.context(format!("argument {i}"))),
    }
}

/// Int-list argument `i`.
pub(crate) fn ints(args: &[Value], i: usize) -> Result<Vec<i64>> {
    arg(args, i)?
        .as_ints()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Optional argument `i` (missing counts as `None`).
pub(crate) fn opt(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::None)
}

/// Optional float argument `i` as f32: `default` when absent or `None` (e.g. leaky_relu's
/// negative slope, elu's alpha).
pub(crate) fn opt_f32(args: &[Value], i: usize, default: f32) -> Result<f32> {
    Ok(match opt(args, i) {
        Value::None => default,
        v => v.as_f64()? as f32,
    })
}

/// Wrap one result.
pub(crate) fn one(t: Tensor) -> Result<Vec<Value>> {
    Ok(vec![Value::Tensor(t)])
}

/// Normalise a possibly negative dim against `ndim` (0-d tensors accept -1 and 0).
pub(crate) fn norm_dim(d: i64, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as i64;
    let dd = if d < 0 { d + n } else { d };
    if dd < 0 || dd >= n {
        return Err(Error::runtime(format!(
            "dimension {d} out of range for a {ndim}-d tensor"
        )));
    }
    Ok(dd as usize)
}

/// A dim of a tensor that must have at least one dimension.
pub(crate) fn dim_of(t: &Tensor, d: i64) -> Result<usize> {
    if t.ndim() == 0 {
        return Err(Error::runtime(format!(
            "dimension {d} given for a 0-d tensor"
        )));
    }
    norm_dim(d, t.ndim())
}

/// Non-negative int → usize, with a clear error.
pub(crate) fn to_usize(v: i64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::runtime(format!("{what} must be non-negative, got {v}")))
}

/// The broadcast shape of two shapes (numpy rules).
pub(crate) fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::runtime(format!(
                "shapes {a:?} and {b:?} cannot be broadcast together"
            )));
        };
    }
    Ok(out)
}

/// A view of `t` broadcast to `shape` (stride 0 along expanded dims).
pub(crate) fn expand_to(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if t.shape() == shape {
        return Ok(t.clone());
    }
    let n = shape.len();
    let bytes = crate::tensor::checked_numel(shape)?.saturating_mul(t.dtype().size());
    if bytes > crate::storage::MAX_TENSOR_BYTES {
        return Err(Error::oom(format!(
            "expanding to {shape:?} needs {bytes} bytes"
        )));
    }
    if t.ndim() > n {
        return Err(Error::runtime(format!(
            "cannot expand {:?} to {shape:?}",
            t.shape()
        )));
    }
    let off = n - t.ndim();
    let mut strides = vec![0; n];
    for i in 0..n {
        if i >= off {
            let d = t.shape()[i - off];
            if d == shape[i] {
                strides[i] = t.strides()[i - off];
            } else if d == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::runtime(format!(
                    "cannot expand {:?} to {shape:?}",
                    t.shape()
                )));
            }
        }
    }
    Ok(t.view_with(shape.to_vec(), strides, t.offset()))
}

/// Category used by type promotion.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Cat {
    Bool,
    Int,
    Float,
}

pub(crate) fn cat(d: DType) -> Cat {
    match d {
        DType::Bool => Cat::Bool,
        d if d.is_float() => Cat::Float,
        _ => Cat::Int,
    }
}

/// PyTorch's `promote_types` for two dtypes.
pub(crate) fn promote(a: DType, b: DType) -> DType {
    use DType::*;
    if a == b {
        return a;
    }
    match (cat(a), cat(b)) {
        (Cat::Bool, _) => b,
        (_, Cat::Bool) => a,
        (Cat::Float, Cat::Int) => a,
        (Cat::Int, Cat::Float) => b,
        (Cat::Float, Cat::Float) => {
            if a == F64 || b == F64 {
                F64
            } else if a == F32 || b == F32 || (a, b) == (F16, BF16) || (a, b) == (BF16, F16) {
                F32
            } else {
                a
            }
        }
        _ => {
            // both integer
            let signed_size = |d: DType| if d == U8 { 2 } else { d.size() };
            let s = signed_size(a).max(signed_size(b));
            match s {
                1 => I8,
                2 => {
                    if a == U8 && b == U8 {
                        U8
                    } else {
                        I16
                    }
                }
                4 => I32,
                _ => I64,
            }
        }
    }
}

/// One participant of a binary op's type promotion.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PromoArg {
    pub dtype: DType,
    /// 2 = dimensioned tensor, 1 = zero-dim tensor, 0 = Python scalar.
    pub prio: u8,
}

impl PromoArg {
    pub(crate) fn of(v: &Value) -> Result<PromoArg> {
        Ok(match v {
            Value::Tensor(t) => PromoArg {
                dtype: t.dtype(),
                prio: if t.ndim() == 0 { 1 } else { 2 },
            },
            Value::Int(_) => PromoArg {
                dtype: DType::I64,
                prio: 0,
            },
            Value::Float(_) => PromoArg {
                dtype: DType::F32,
                prio: 0,
            },
            Value::Bool(_) => PromoArg {
                dtype: DType::Bool,
                prio: 0,
            },
            other => {
                return Err(Error::runtime(format!(
                    "expected a tensor or a number, got {}",
                    other.type_name()
                )))
            }
        })
    }
}

/// PyTorch's `result_type` over tensors and scalars.
pub(crate) fn result_type(args: &[PromoArg]) -> DType {
    let mut result: Option<DType> = None;
    for prio in [2u8, 1, 0] {
        let level: Vec<DType> = args
            .iter()
            .filter(|a| a.prio == prio)
            .map(|a| a.dtype)
            .collect();
        let Some(first) = level.first().copied() else {
            continue;
        };
        let lvl = level.iter().copied().fold(first, promote);
        result = Some(match result {
            None => lvl,
            Some(r) if cat(lvl) > cat(r) => {
                if prio == 0 {
                    match cat(lvl) {
                        Cat::Float => DType::F32,
                        Cat::Int => DType::I64,
                        Cat::Bool => DType::Bool,
                    }
                } else {
                    lvl
                }
            }
            Some(r) => r,
        });
    }
    result.unwrap_or(DType::F32)
}

/// A number or one-element tensor as a (0-d) tensor of its natural dtype.
pub(crate) fn scalar_tensor(v: &Value) -> Result<Tensor> {
    Ok(match v {
        Value::Tensor(t) => t.clone(),
        Value::Int(i) => Tensor::from_i64(vec![], vec![*i]),
        Value::Float(f) => Tensor::from_f64_as(DType::F64, vec![], vec![*f]),
        Value::Bool(b) => Tensor::from_bool(vec![], vec![*b]),
        other => {
            return Err(Error::runtime(format!(
                "expected a tensor or a number, got {}",
                other.type_name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_follows_pytorch() {
        let t = |d, prio| PromoArg { dtype: d, prio };
        assert_eq!(
            result_type(&[t(DType::I64, 2), t(DType::F32, 0)]),
            DType::F32
        );
        assert_eq!(
            result_type(&[t(DType::F32, 2), t(DType::F64, 1)]),
            DType::F32
        );
        assert_eq!(
            result_type(&[t(DType::I32, 2), t(DType::I64, 0)]),
            DType::I32
        );
        assert_eq!(
            result_type(&[t(DType::I64, 2), t(DType::F64, 1)]),
            DType::F64
        );
        assert_eq!(
            result_type(&[t(DType::Bool, 2), t(DType::I64, 0)]),
            DType::I64
        );
        assert_eq!(promote(DType::U8, DType::I8), DType::I16);
        assert_eq!(
            broadcast_shapes(&[2, 1, 3], &[4, 1]).unwrap(),
            vec![2, 4, 3]
        );
        assert!(broadcast_shapes(&[2], &[3]).is_err());
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use crate::registry::{lookup, supported_ops, OpCtx};

    fn pool() -> Vec<Value> {
        let f = |shape: Vec<usize>| {
            let n = shape.iter().product::<usize>();
            Value::Tensor(Tensor::from_f32(
                shape,
                (0..n).map(|i| i as f32 - 2.0).collect(),
            ))
        };
        let ints = |v: &[i64]| Value::List(v.iter().map(|&i| Value::Int(i)).collect());
        vec![
            Value::None,
            Value::Int(0),
            Value::Int(-1),
            Value::Int(2),
            Value::Int(1 << 40),
            Value::Int(-(1 << 40)),
            Value::Float(0.5),
            Value::Float(f64::NAN),
            Value::Bool(true),
            Value::Str("tanh".into()),
            ints(&[]),
            ints(&[1, 2]),
            ints(&[-1]),
            ints(&[0, 0, 0, 0]),
            ints(&[3, 1 << 40]),
            f(vec![]),
            f(vec![2, 3]),
            f(vec![1, 2, 3, 3]),
            f(vec![0]),
            f(vec![2, 0, 3]),
            Value::Tensor(Tensor::from_i64(vec![3], vec![0, -1, 5])),
            Value::Tensor(Tensor::from_bool(
                vec![2, 3],
                vec![true, false, true, false, true, true],
            )),
            Value::List(vec![f(vec![2, 3]), f(vec![2, 3])]),
            Value::List(vec![f(vec![2]), Value::None]),
        ]
    }

    /// Every op, called with many malformed argument lists, returns an error instead of
    /// panicking (kernel preconditions are checked by the ops).
    #[test]
    fn no_op_panics_on_bad_arguments() {
        let values = pool();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut failures = Vec::new();
        for name in supported_ops() {
            let f = lookup(name).unwrap();
            for trial in 0..1500 {
                let len = (next() % 10) as usize;
                let args: Vec<Value> = (0..len)
                    .map(|_| values[(next() % values.len() as u64) as usize].clone())
                    .collect();
                let desc = format!("{name} trial {trial}: {args:?}");
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _ = f(&mut OpCtx::default(), args);
                }));
                if r.is_err() {
                    failures.push(desc);
                    break;
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} ops panicked:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
