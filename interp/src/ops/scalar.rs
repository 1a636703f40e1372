//! Scalar (int/float/bool) arithmetic for dynamic shapes and scripted control flow, scalar
//! ↔ tensor conversions, and list helpers (`len`, `__getitem__`, range helpers).
//!
//! The exporter maps Python `operator.*` / SymInt nodes and TorchScript's scalar ops to these
//! names (`aten::add.int`, `aten::lt.int`, `aten::floordiv.int`, ...). Operands may be ints,
//! floats, bools or one-element tensors; ints stay ints unless a float is involved.

use super::{arg, iarg, one, to_usize};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

#[derive(Clone, Copy)]
enum S {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Min,
    Max,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A number read as int when it is one.
enum N {
    I(i64),
    F(f64),
}

fn num(v: &Value) -> Result<N> {
    Ok(match v {
        Value::Int(i) => N::I(*i),
        Value::Bool(b) => N::I(i64::from(*b)),
        Value::Float(f) => N::F(*f),
        Value::Tensor(t) if t.numel() == 1 => {
            if t.dtype().is_float() {
                N::F(t.item_f64()?)
            } else {
                N::I(t.item_i64()?)
            }
        }
        other => {
            return Err(Error::runtime(format!(
                "expected a number, got {}",
                other.type_name()
            )))
        }
    })
}

fn scalar_bin(op: S, a: &Value, b: &Value) -> Result<Value> {
    let (x, y) = (num(a)?, num(b)?);
    let cmp = |o: std::cmp::Ordering| -> bool {
        use std::cmp::Ordering::*;
        match op {
            S::Lt => o == Less,
            S::Le => o != Greater,
            S::Gt => o == Greater,
            S::Ge => o != Less,
            S::Eq => o == Equal,
            _ => o != Equal,
        }
    };
    Ok(match (x, y) {
        (N::I(p), N::I(q)) => match op {
            S::Add => Value::Int(p.wrapping_add(q)),
            S::Sub => Value::Int(p.wrapping_sub(q)),
            S::Mul => Value::Int(p.wrapping_mul(q)),
            S::Div => {
                if q == 0 {
                    return Err(Error::runtime("division by zero"));
                }
                Value::Float(p as f64 / q as f64)
            }
            S::FloorDiv => {
                if q == 0 {
                    return Err(Error::runtime("integer division by zero"));
                }
                // i64::MIN // -1 is the one quotient that does not fit.
                let e = p
                    .checked_div_euclid(q)
                    .ok_or_else(|| Error::runtime(format!("{p} // {q} overflows int64")))?;
                Value::Int(e - i64::from(q < 0 && p.wrapping_rem_euclid(q) != 0))
            }
            S::Mod => {
                if q == 0 {
                    return Err(Error::runtime("integer modulo by zero"));
                }
                let r = p.wrapping_rem(q);
                Value::Int(if r != 0 && ((r < 0) != (q < 0)) {
                    r + q
                } else {
                    r
                })
            }
            S::Pow => {
                if q >= 0 {
                    Value::Int(p.wrapping_pow(q.min(u32::MAX as i64) as u32))
                } else {
                    Value::Float((p as f64).powf(q as f64))
                }
            }
            S::Min => Value::Int(p.min(q)),
            S::Max => Value::Int(p.max(q)),
            _ => Value::Bool(cmp(p.cmp(&q))),
        },
        (x, y) => {
            let f = |n: N| match n {
                N::I(i) => i as f64,
                N::F(f) => f,
            };
            let (p, q) = (f(x), f(y));
            match op {
                S::Add => Value::Float(p + q),
                S::Sub => Value::Float(p - q),
                S::Mul => Value::Float(p * q),
                S::Div => Value::Float(p / q),
                S::FloorDiv => Value::Float((p / q).floor()),
                S::Mod => Value::Float(p - (p / q).floor() * q),
                S::Pow => Value::Float(p.powf(q)),
                S::Min => Value::Float(p.min(q)),
                S::Max => Value::Float(p.max(q)),
                _ => match p.partial_cmp(&q) {
                    Some(o) => Value::Bool(cmp(o)),
                    None => Value::Bool(matches!(op, S::Ne)),
                },
            }
        }
    })
}

fn bin(op: S, args: &[Value]) -> Result<Vec<Value>> {
    Ok(vec![scalar_bin(op, arg(args, 0)?, arg(args, 1)?)?])
}

fn to_int(v: &Value) -> Result<Value> {
    Ok(Value::Int(match num(v)? {
        N::I(i) => i,
        N::F(f) => {
            if !f.is_finite() {
                return Err(Error::runtime(format!("cannot convert {f} to int")));
            }
            f.trunc() as i64
        }
    }))
}

fn to_float(v: &Value) -> Result<Value> {
    Ok(Value::Float(arg(std::slice::from_ref(v), 0)?.as_f64()?))
}

/// `Tensor.item()` / ScalarImplicit: an int for integer tensors, a float for float ones.
fn item(v: &Value) -> Result<Value> {
    let t = v.as_tensor()?;
    if t.numel() != 1 {
        return Err(Error::runtime(format!(
            "item() of a tensor with {} elements",
            t.numel()
        )));
    }
    Ok(match t.dtype() {
        DType::Bool => Value::Bool(t.item_i64()? != 0),
        d if d.is_float() => Value::Float(t.item_f64()?),
        _ => Value::Int(t.item_i64()?),
    })
}

fn getitem(args: &[Value]) -> Result<Vec<Value>> {
    let l = arg(args, 0)?.as_list()?;
    let i = iarg(args, 1)?;
    let n = l.len() as i64;
    let j = if i < 0 { i + n } else { i };
    if j < 0 || j >= n {
        return Err(Error::runtime(format!(
            "list index {i} out of range for length {n}"
        )));
    }
    Ok(vec![l[j as usize].clone()])
}

/// `list + [x]` (TorchScript `list.append`). Values are immutable, so this returns the new
/// list; the exporter writes the result back to the list's register.
fn append(args: &[Value]) -> Result<Vec<Value>> {
    let mut l = arg(args, 0)?.as_list()?.to_vec();
    l.push(arg(args, 1)?.clone());
    Ok(vec![Value::List(l)])
}

/// `a + b` for lists.
fn list_concat(args: &[Value]) -> Result<Vec<Value>> {
    let mut l = arg(args, 0)?.as_list()?.to_vec();
    l.extend_from_slice(arg(args, 1)?.as_list()?);
    Ok(vec![Value::List(l)])
}

/// Longest list `list * n` may build (a shape or index list; more is a malformed model).
const MAX_REPEATED_LIST: usize = 1 << 20;

/// `list * n` / `n * list`: the list repeated `n` times (empty for `n <= 0`), as Python.
fn list_repeat(list: &Value, n: &Value) -> Result<Vec<Value>> {
    let l = list.as_list()?;
    let n = usize::try_from(n.as_int()?).unwrap_or(0);
    if l.len().saturating_mul(n) > MAX_REPEATED_LIST {
        return Err(Error::runtime(format!(
            "list of {} repeated {n} times is too long",
            l.len()
        )));
    }
    // An empty list stays empty however many times it is repeated (without looping `n`
    // times: `n` may be i64::MAX).
    if l.is_empty() {
        return Ok(vec![Value::List(Vec::new())]);
    }
    let mut out = Vec::with_capacity(l.len() * n);
    for _ in 0..n {
        out.extend_from_slice(l);
    }
    Ok(vec![Value::List(out)])
}

/// `l[start:end:step]` for lists (Python semantics, step > 0).
fn list_slice(args: &[Value]) -> Result<Vec<Value>> {
    let l = arg(args, 0)?.as_list()?;
    let n = l.len() as i64;
    let norm = |v: Option<i64>, d: i64| {
        let v = v.unwrap_or(d);
        (if v < 0 { v + n } else { v }).clamp(0, n)
    };
    let start = norm(super::opt(args, 1).as_opt_int()?, 0);
    let end = norm(super::opt(args, 2).as_opt_int()?, n);
    let step = super::opt(args, 3).as_opt_int()?.unwrap_or(1);
    if step <= 0 {
        return Err(Error::runtime("list slice step must be positive"));
    }
    let out = (start..end.max(start))
        .step_by(step as usize)
        .map(|i| l[i as usize].clone())
        .collect();
    Ok(vec![Value::List(out)])
}

/// TorchScript loop helpers: number of iterations of `range(lo, hi, step)`.
fn range_length(args: &[Value]) -> Result<Vec<Value>> {
    let (lo, hi, step) = (iarg(args, 0)?, iarg(args, 1)?, iarg(args, 2)?);
    if step == 0 {
        return Err(Error::runtime("range() step must not be zero"));
    }
    // In i128: the span of two i64 bounds, or a step of i64::MIN, does not fit in i64.
    let (lo, hi, step) = (lo as i128, hi as i128, step as i128);
    let n = if step > 0 && lo < hi {
        (hi - lo - 1) / step + 1
    } else if step < 0 && lo > hi {
        (lo - hi - 1) / (-step) + 1
    } else {
        0
    };
    Ok(vec![Value::Int(i64::try_from(n).map_err(|_| {
        Error::runtime("range() length does not fit in int64")
    })?)])
}

fn is_none(args: &[Value], want: bool) -> Result<Vec<Value>> {
    let a = arg(args, 0)?;
    let b = arg(args, 1)?;
    let same = matches!((a, b), (Value::None, Value::None));
    Ok(vec![Value::Bool(same == want)])
}

/// Register scalar binary ops that share one implementation (`bin` with a fixed `S`).
macro_rules! reg_bin {
    ($r:ident, $op:expr, $($name:literal),*) => {
        $( reg!($r, $name => |_: &mut OpCtx, a: Vec<Value>| bin($op, &a)); )*
    };
}

pub(crate) fn register(r: &mut OpList) {
    reg_bin!(
        r,
        S::Add,
        "aten::add.int",
        "aten::add.float",
        "aten::add.int_float",
        "aten::add.float_int",
        "aten::add.default"
    );
    reg_bin!(
        r,
        S::Sub,
        "aten::sub.int",
        "aten::sub.float",
        "aten::sub.int_float",
        "aten::sub.float_int",
        "aten::sub.default"
    );
    reg_bin!(
        r,
        S::Mul,
        "aten::mul.int",
        "aten::mul.float",
        "aten::mul.int_float",
        "aten::mul.float_int",
        "aten::mul.default"
    );
    reg_bin!(
        r,
        S::Div,
        "aten::div.int",
        "aten::div.float",
        "aten::div.default",
        "aten::truediv.default"
    );
    reg_bin!(
        r,
        S::FloorDiv,
        "aten::floordiv.int",
        "aten::floordiv.float",
        "aten::floordiv.default"
    );
    reg_bin!(
        r,
        S::Mod,
        "aten::remainder.int",
        "aten::remainder.float",
        "aten::mod.int",
        "aten::mod.default",
        "aten::remainder.default"
    );
    reg_bin!(
        r,
        S::Pow,
        "aten::pow.int",
        "aten::pow.float",
        "aten::pow.int_float",
        "aten::pow.float_int"
    );
    reg_bin!(
        r,
        S::Min,
        "aten::min.int",
        "aten::min.float",
        "aten::sym_min.default"
    );
    reg_bin!(
        r,
        S::Max,
        "aten::max.int",
        "aten::max.float",
        "aten::sym_max.default"
    );
    reg_bin!(
        r,
        S::Lt,
        "aten::lt.int",
        "aten::lt.float",
        "aten::lt.int_float",
        "aten::lt.float_int",
        "aten::lt.default"
    );
    reg_bin!(
        r,
        S::Le,
        "aten::le.int",
        "aten::le.float",
        "aten::le.int_float",
        "aten::le.float_int",
        "aten::le.default"
    );
    reg_bin!(
        r,
        S::Gt,
        "aten::gt.int",
        "aten::gt.float",
        "aten::gt.int_float",
        "aten::gt.float_int",
        "aten::gt.default"
    );
    reg_bin!(
        r,
        S::Ge,
        "aten::ge.int",
        "aten::ge.float",
        "aten::ge.int_float",
        "aten::ge.float_int",
        "aten::ge.default"
    );
    reg_bin!(
        r,
        S::Eq,
        "aten::eq.int",
        "aten::eq.float",
        "aten::eq.int_float",
        "aten::eq.float_int",
        "aten::eq.bool",
        "aten::eq.default"
    );
    reg_bin!(
        r,
        S::Ne,
        "aten::ne.int",
        "aten::ne.float",
        "aten::ne.int_float",
        "aten::ne.float_int",
        "aten::ne.bool",
        "aten::ne.default"
    );
    reg!(r,
        "aten::neg.int" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![scalar_bin(S::Sub, &Value::Int(0), arg(&a, 0)?)?]),
        "aten::neg.float" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Float(-arg(&a, 0)?.as_f64()?)]),
        "aten::abs.int" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Int(iarg(&a, 0)?.wrapping_abs())]),
        "aten::Int.Tensor" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_int(arg(&a, 0)?)?]),
        "aten::Int.float" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_int(arg(&a, 0)?)?]),
        "aten::Int.bool" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_int(arg(&a, 0)?)?]),
        "aten::Int.Scalar" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_int(arg(&a, 0)?)?]),
        // TorchScript's implicit 0-d tensor -> int (a tensor used as a slice bound).
        "aten::IntImplicit.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_int(arg(&a, 0)?)?]),
        "aten::Float.Tensor" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_float(arg(&a, 0)?)?]),
        "aten::Float.int" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_float(arg(&a, 0)?)?]),
        "aten::Float.Scalar" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_float(arg(&a, 0)?)?]),
        "aten::Bool.Tensor" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Bool(arg(&a, 0)?.as_bool()?)]),
        "aten::Bool.int" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Bool(arg(&a, 0)?.as_bool()?)]),
        "aten::Bool.float" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Bool(arg(&a, 0)?.as_bool()?)]),
        "aten::ScalarImplicit.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![item(arg(&a, 0)?)?]),
        "aten::item.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![item(arg(&a, 0)?)?]),
        "aten::_local_scalar_dense.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![item(arg(&a, 0)?)?]),
        "aten::floor.float" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_int(&Value::Float(arg(&a, 0)?.as_f64()?.floor()))?]),
        "aten::ceil.float" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![to_int(&Value::Float(arg(&a, 0)?.as_f64()?.ceil()))?]),
        "aten::sqrt.int" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Float(arg(&a, 0)?.as_f64()?.sqrt())]),
        "aten::sqrt.float" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Float(arg(&a, 0)?.as_f64()?.sqrt())]),
        "aten::__not__.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Bool(!arg(&a, 0)?.as_bool()?)]),
        "aten::__and__.bool" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Bool(arg(&a, 0)?.as_bool()? && arg(&a, 1)?.as_bool()?)]),
        "aten::__or__.bool" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Bool(arg(&a, 0)?.as_bool()? || arg(&a, 1)?.as_bool()?)]),
        "aten::__xor__.bool" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Bool(arg(&a, 0)?.as_bool()? != arg(&a, 1)?.as_bool()?)]),
        "aten::__is__.default" => |_: &mut OpCtx, a: Vec<Value>| is_none(&a, true),
        "aten::__isnot__.default" => |_: &mut OpCtx, a: Vec<Value>| is_none(&a, false),
        "aten::len.t" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Int(arg(&a, 0)?.as_list()?.len() as i64)]),
        "aten::len.Tensor" => |_: &mut OpCtx, a: Vec<Value>| { let t = super::targ(&a, 0)?; if t.ndim() == 0 { return Err(Error::runtime("len() of a 0-d tensor")); } Ok(vec![Value::Int(t.shape()[0] as i64)]) },
        "aten::__getitem__.t" => |_: &mut OpCtx, a: Vec<Value>| getitem(&a),
        "aten::append.t" => |_: &mut OpCtx, a: Vec<Value>| append(&a),
        "aten::add.t" => |_: &mut OpCtx, a: Vec<Value>| list_concat(&a),
        "aten::mul.left_t" => |_: &mut OpCtx, a: Vec<Value>| list_repeat(arg(&a, 0)?, arg(&a, 1)?),
        "aten::mul.right_" => |_: &mut OpCtx, a: Vec<Value>| list_repeat(arg(&a, 1)?, arg(&a, 0)?),
        "aten::slice.t" => |_: &mut OpCtx, a: Vec<Value>| list_slice(&a),
        "aten::list.t" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::List(arg(&a, 0)?.as_list()?.to_vec())]),
        "aten::__range_length.default" => |_: &mut OpCtx, a: Vec<Value>| range_length(&a),
        "aten::__derive_index.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Int(iarg(&a, 1)?.wrapping_add(iarg(&a, 0)?.wrapping_mul(iarg(&a, 2)?)))]),
        "aten::_assert_scalar.default" => |_: &mut OpCtx, a: Vec<Value>| {
            if !arg(&a, 0)?.as_bool()? {
                let msg = a.get(1).and_then(|m| m.as_str().ok()).unwrap_or("assertion failed");
                return Err(Error::runtime(msg.to_string()));
            }
            Ok(vec![])
        },
        "aten::scalar_to_tensor.default" => |_: &mut OpCtx, a: Vec<Value>| one(super::scalar_tensor(arg(&a, 0)?)?),
        "prim::NumToTensor.Scalar" => |_: &mut OpCtx, a: Vec<Value>| one(super::scalar_tensor(arg(&a, 0)?)?),
        "aten::NumToTensor.Scalar" => |_: &mut OpCtx, a: Vec<Value>| one(super::scalar_tensor(arg(&a, 0)?)?),
    );
    let _ = (to_usize, Tensor::from_f32);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::registry::lookup;
    use crate::ops::test_util::call_v;

    #[test]
    fn int_float_semantics() {
        assert!(matches!(
            call_v("aten::add.int", vec![Value::Int(2), Value::Int(3)]),
            Value::Int(5)
        ));
        assert!(matches!(
            call_v("aten::floordiv.int", vec![Value::Int(-7), Value::Int(2)]),
            Value::Int(-4)
        ));
        assert!(matches!(
            call_v("aten::remainder.int", vec![Value::Int(-7), Value::Int(3)]),
            Value::Int(2)
        ));
        assert!(
            matches!(call_v("aten::div.int", vec![Value::Int(7), Value::Int(2)]), Value::Float(f) if f == 3.5)
        );
        assert!(
            matches!(call_v("aten::mul.int_float", vec![Value::Int(2), Value::Float(0.25)]), Value::Float(f) if f == 0.5)
        );
        assert!(matches!(
            call_v("aten::lt.int", vec![Value::Int(2), Value::Int(3)]),
            Value::Bool(true)
        ));
        let t = Tensor::from_i64(vec![], vec![4]);
        assert!(matches!(
            call_v("aten::Int.Tensor", vec![t.clone().into()]),
            Value::Int(4)
        ));
        assert!(
            matches!(call_v("aten::ScalarImplicit.default", vec![Tensor::from_f32(vec![1], vec![0.5]).into()]), Value::Float(f) if f == 0.5)
        );
        let l = Value::List(vec![Value::Int(7), Value::Int(8)]);
        assert!(matches!(
            call_v("aten::len.t", vec![l.clone()]),
            Value::Int(2)
        ));
        assert!(matches!(
            call_v("aten::__getitem__.t", vec![l, Value::Int(-1)]),
            Value::Int(8)
        ));
        assert!(matches!(
            call_v(
                "aten::__range_length.default",
                vec![Value::Int(0), Value::Int(10), Value::Int(3)]
            ),
            Value::Int(4)
        ));
        let l2 = call_v(
            "aten::append.t",
            vec![Value::List(vec![Value::Int(1)]), Value::Int(2)],
        );
        assert_eq!(l2.as_ints().unwrap(), vec![1, 2]);
        let l3 = call_v("aten::add.t", vec![l2.clone(), l2]);
        let s = call_v(
            "aten::slice.t",
            vec![l3, Value::Int(1), Value::None, Value::Int(2)],
        );
        assert_eq!(s.as_ints().unwrap(), vec![2, 2]);
        let ones = Value::List(vec![Value::Int(1)]);
        let r = call_v("aten::mul.left_t", vec![ones.clone(), Value::Int(3)]);
        assert_eq!(r.as_ints().unwrap(), vec![1, 1, 1]);
        let r = call_v("aten::mul.right_", vec![Value::Int(-2), ones.clone()]);
        assert_eq!(r.as_ints().unwrap(), Vec::<i64>::new());
        let huge = lookup("aten::mul.left_t").unwrap();
        assert!(huge(&mut OpCtx::default(), vec![ones, Value::Int(1 << 40)]).is_err());
        let f = lookup("aten::floordiv.int").unwrap();
        assert!(f(&mut OpCtx::default(), vec![Value::Int(1), Value::Int(0)]).is_err());
    }
}
