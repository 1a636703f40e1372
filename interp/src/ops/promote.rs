//! PyTorch's type promotion (`promote_types`, `result_type` over tensors and scalars) and
//! broadcasting of shapes, shared by every op that combines operands.

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

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

/// Category used by type promotion.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Cat {
    Bool,
    Int,
    Float,
}

/// The promotion category of a dtype.
pub(crate) fn category(d: DType) -> Cat {
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
    // The only complex type wins over every real one (f64 included: PyTorch gives
    // complex128 there, the nearest this format has is c64).
    if a == C64 || b == C64 {
        return C64;
    }
    match (category(a), category(b)) {
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
            Some(r) if category(lvl) > category(r) => {
                if prio == 0 {
                    match category(lvl) {
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
