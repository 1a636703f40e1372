//! Ops whose output size depends on the values: `masked_select`, `_unique2`,
//! `unique_consecutive`, `nonzero_static` (size fixed by an argument, padded).
//!
//! Outputs are gathered from the input by element offset, so every dtype keeps its exact
//! values; comparisons use f64 for floating tensors and i64 for the others (so large integers
//! compare exactly).

use super::{barg_or, broadcast_shapes, iarg, targ, to_usize};
use crate::error::{Error, Result};
use crate::ops::index::gather_offsets;
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::{DType, Tensor};
use crate::value::Value;
use std::cmp::Ordering;

/// `masked_select(self, mask)`: the elements of `self` where the (broadcast) mask is set, as a
/// 1-d tensor in row-major order.
fn masked_select(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let m = targ(args, 1)?;
    if m.dtype() != DType::Bool && m.dtype() != DType::U8 {
        return Err(Error::runtime(format!(
            "masked_select: mask must be bool, got {}",
            m.dtype().name()
        )));
    }
    let shape = broadcast_shapes(t.shape(), m.shape())?;
    let et = t.expand_to(&shape)?.contiguous()?;
    let mb = m.expand_to(&shape)?.bools()?.into_owned();
    let offs: Vec<usize> = mb
        .iter()
        .enumerate()
        .filter(|(_, &b)| b != 0)
        .map(|(i, _)| i)
        .collect();
    let n = offs.len();
    Ok(vec![gather_offsets(&et, &offs, vec![n])?.into()])
}

/// Sort keys of a tensor's elements (row-major): exact for integers, IEEE for floats (NaN
/// sorts last and equals only itself's position, as PyTorch's sort places it).
enum Keys {
    F(Vec<f64>),
    I(Vec<i64>),
}

impl Keys {
    fn of(t: &Tensor) -> Result<Keys> {
        Ok(if t.dtype().is_float() {
            Keys::F(t.f64s()?)
        } else {
            Keys::I(t.i64s()?.into_owned())
        })
    }
    fn len(&self) -> usize {
        match self {
            Keys::F(v) => v.len(),
            Keys::I(v) => v.len(),
        }
    }
    fn cmp(&self, a: usize, b: usize) -> Ordering {
        match self {
            Keys::F(v) => match (v[a].is_nan(), v[b].is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => v[a].partial_cmp(&v[b]).unwrap_or(Ordering::Equal),
            },
            Keys::I(v) => v[a].cmp(&v[b]),
        }
    }
}

/// Runs of equal keys over `order`: (first element of each run, inverse index per element,
/// run lengths).
fn runs(keys: &Keys, order: &[usize]) -> (Vec<usize>, Vec<i64>, Vec<i64>) {
    let mut firsts = Vec::new();
    let mut counts: Vec<i64> = Vec::new();
    let mut inverse = vec![0i64; keys.len()];
    for (pos, &i) in order.iter().enumerate() {
        if pos == 0 || keys.cmp(order[pos - 1], i) != Ordering::Equal {
            firsts.push(i);
            counts.push(0);
        }
        *counts.last_mut().unwrap_or(&mut 0) += 1;
        inverse[i] = firsts.len() as i64 - 1;
    }
    (firsts, inverse, counts)
}

/// The `(values, inverse, counts)` triple; `inverse`/`counts` are empty when not asked for,
/// like PyTorch.
fn unique_out(
    t: &Tensor,
    firsts: &[usize],
    inverse: Vec<i64>,
    counts: Vec<i64>,
    want_inverse: bool,
    want_counts: bool,
) -> Result<Vec<Value>> {
    let c = t.contiguous()?;
    let vals = gather_offsets(&c, firsts, vec![firsts.len()])?;
    let inv = if want_inverse {
        Tensor::from_i64(t.shape().to_vec(), inverse)
    } else {
        Tensor::from_i64(vec![0], vec![])
    };
    let cnt = if want_counts {
        Tensor::from_i64(vec![counts.len()], counts)
    } else {
        Tensor::from_i64(vec![0], vec![])
    };
    Ok(vec![vals.into(), inv.into(), cnt.into()])
}

/// `_unique2(self, sorted, return_inverse, return_counts)`: the distinct values in ascending
/// order (PyTorch's CPU kernel sorts whatever `sorted` says).
fn unique2(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let keys = Keys::of(t)?;
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys.cmp(a, b));
    let (firsts, inverse, counts) = runs(&keys, &order);
    unique_out(
        t,
        &firsts,
        inverse,
        counts,
        barg_or(args, 2, false)?,
        barg_or(args, 3, false)?,
    )
}

/// `unique_consecutive(self, return_inverse, return_counts, dim=None)`: collapses runs of
/// equal neighbours of the flattened tensor (`dim` is not supported).
fn unique_consecutive(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    if !matches!(args.get(3), None | Some(Value::None)) {
        return Err(Error::runtime(
            "unique_consecutive with a dim is not supported",
        ));
    }
    let keys = Keys::of(t)?;
    let order: Vec<usize> = (0..keys.len()).collect();
    let (firsts, inverse, counts) = runs(&keys, &order);
    unique_out(
        t,
        &firsts,
        inverse,
        counts,
        barg_or(args, 1, false)?,
        barg_or(args, 2, false)?,
    )
}

/// `nonzero_static(self, size, fill_value)`: the first `size` rows of `nonzero(self)`, padded
/// with `fill_value` rows: a fixed output size for data-dependent selection.
fn nonzero_static(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let size = to_usize(iarg(args, 1)?, "size")?;
    let fill = iarg(args, 2)?;
    let nd = t.ndim();
    let bytes = crate::tensor::checked_numel(&[size, nd.max(1), 8])?;
    if bytes > crate::storage::MAX_TENSOR_BYTES {
        return Err(Error::oom(format!(
            "nonzero_static: size {size} needs {bytes} bytes"
        )));
    }
    let b = t.bools()?;
    let shape = t.shape().to_vec();
    let mut v = crate::storage::try_with_capacity(size * nd)?;
    for (i, &x) in b.iter().enumerate() {
        if v.len() == size * nd {
            break;
        }
        if x != 0 {
            let mut coord = vec![0i64; nd];
            let mut rem = i;
            for d in (0..nd).rev() {
                coord[d] = (rem % shape[d]) as i64;
                rem /= shape[d];
            }
            v.extend(coord);
        }
    }
    v.resize(size * nd, fill);
    Ok(vec![Tensor::from_i64(vec![size, nd], v).into()])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::masked_select.default" => |_: &mut OpCtx, a: Vec<Value>| masked_select(&a),
        "aten::_unique2.default" => |_: &mut OpCtx, a: Vec<Value>| unique2(&a),
        "aten::unique_consecutive.default" => |_: &mut OpCtx, a: Vec<Value>| unique_consecutive(&a),
        "aten::nonzero_static.default" => |_: &mut OpCtx, a: Vec<Value>| nonzero_static(&a),
    );
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::{call, try_call};
    use crate::tensor::Tensor;
    use crate::value::Value;

    #[test]
    fn unique_sorts_counts_and_inverts_exactly_for_big_ints() {
        let big = (1i64 << 60) + 1;
        let x = Tensor::from_i64(vec![5], vec![big, 3, big - 1, 3, big]);
        let out = call(
            "aten::_unique2.default",
            vec![
                x.into(),
                Value::Bool(true),
                Value::Bool(true),
                Value::Bool(true),
            ],
        );
        let v: Vec<Vec<i64>> = out
            .iter()
            .map(|o| o.as_tensor().unwrap().to_i64_vec())
            .collect();
        assert_eq!(v[0], vec![3, big - 1, big]);
        assert_eq!(v[1], vec![2, 0, 1, 0, 2]);
        assert_eq!(v[2], vec![2, 1, 2]);
    }

    #[test]
    fn empty_inputs_give_empty_outputs() {
        let e = Tensor::from_f32(vec![0], vec![]);
        let m = Tensor::from_bool(vec![0], vec![]);
        let out = call(
            "aten::masked_select.default",
            vec![e.clone().into(), m.into()],
        );
        assert_eq!(out[0].as_tensor().unwrap().shape(), &[0]);
        let out = call(
            "aten::unique_consecutive.default",
            vec![
                e.into(),
                Value::Bool(false),
                Value::Bool(false),
                Value::None,
            ],
        );
        assert_eq!(out[0].as_tensor().unwrap().shape(), &[0]);
    }

    #[test]
    fn nonzero_static_pads_and_refuses_huge_sizes() {
        let x = Tensor::from_bool(vec![4], vec![false, true, false, true]);
        let out = call(
            "aten::nonzero_static.default",
            vec![x.clone().into(), Value::Int(3), Value::Int(-1)],
        );
        assert_eq!(out[0].as_tensor().unwrap().to_i64_vec(), vec![1, 3, -1]);
        assert!(try_call(
            "aten::nonzero_static.default",
            vec![x.into(), Value::Int(i64::MAX), Value::Int(-1)]
        )
        .is_err());
    }
}
