//! Order statistics and the paired moment reductions: `median`, `nanmedian` (whole tensor or
//! along a dim, with indices), `mode`, `kthvalue`, `var_mean` and `std_mean`.
//!
//! Selections sort each row with NaN ordered above every number, as PyTorch does: `median`
//! and `kthvalue` therefore return NaN for rows holding one (median returns the first NaN),
//! `nanmedian` skips them. Floats are ordered as f64, integers as i64, so values are returned
//! exactly in the input's dtype. The median of an even count is the lower of the two middle
//! values, as in PyTorch.

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{barg_or, iarg, norm_dim, opt, targ, OpCtx};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// NaN above every number (and equal to itself); -0.0 == 0.0.
fn nan_last<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    #[allow(clippy::eq_op)]
    let (an, bn) = (a != a, b != b);
    match (an, bn) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// What to select from each row.
#[derive(Clone, Copy)]
enum Select {
    /// The lower median; NaN (the first one) when the row holds NaN.
    Median,
    /// The lower median of the non-NaN values; NaN (index 0) when all are NaN.
    NanMedian,
    /// The k-th smallest (0-based), NaN above every number.
    Kth(usize),
    /// The most frequent value, the smallest among equally frequent ones; its last index.
    Mode,
}

/// (value index in the row) for one row.
fn select_row<T: PartialOrd + Copy>(row: &[T], how: Select) -> usize {
    #[allow(clippy::eq_op)]
    let is_nan = |v: &T| v != v;
    let mut order: Vec<usize> = (0..row.len()).collect();
    // A stable sort: equal values keep their positions, so ties resolve to the first.
    order.sort_by(|&a, &b| nan_last(&row[a], &row[b]));
    match how {
        Select::Median => match row.iter().position(is_nan) {
            Some(i) => i,
            None => order[(row.len() - 1) / 2],
        },
        Select::NanMedian => {
            let valid = row.iter().filter(|v| !is_nan(v)).count();
            if valid == 0 {
                0
            } else {
                order[(valid - 1) / 2]
            }
        }
        Select::Kth(k) => order[k],
        Select::Mode => {
            let (mut best, mut best_len) = (order[0], 0usize);
            let mut start = 0;
            while start < order.len() {
                let mut end = start + 1;
                while end < order.len()
                    && nan_last(&row[order[end]], &row[order[start]]) == Ordering::Equal
                {
                    end += 1;
                }
                if end - start > best_len {
                    best_len = end - start;
                    // The run's largest original index (runs keep index order).
                    best = order[end - 1];
                }
                start = end;
            }
            best
        }
    }
}

/// Select along `dim` of `x`: (values, int64 indices) with `dim` removed or kept as 1.
fn select_dim(x: &Tensor, dim: i64, keepdim: bool, how: Select) -> Result<(Tensor, Tensor)> {
    let nd = x.ndim();
    let d = norm_dim(dim, nd)?;
    let len = if nd == 0 { 1 } else { x.shape()[d] };
    if len == 0 {
        return Err(Error::runtime(format!(
            "cannot select from a dimension of size 0 (shape {:?})",
            x.shape()
        )));
    }
    if let Select::Kth(k) = how {
        if k >= len {
            return Err(Error::runtime(format!(
                "kthvalue: k = {} is out of range for a dimension of size {len}",
                k + 1
            )));
        }
    }
    let (moved, mut shape) = if nd == 0 {
        (x.reshape(vec![1])?, vec![])
    } else {
        let last = nd as i64 - 1;
        let m = x.transpose(d as i64, last)?.contiguous()?;
        let mut s = x.shape().to_vec();
        if keepdim {
            s[d] = 1;
        } else {
            s.remove(d);
        }
        (m, s)
    };
    let rows = moved.numel() / len;
    let mut idx = Vec::with_capacity(rows);
    let values = if x.dtype().is_float() {
        let v = moved.f64s()?;
        let out: Vec<f64> = v
            .chunks(len)
            .map(|r| {
                let i = select_row(r, how);
                idx.push(i as i64);
                r[i]
            })
            .collect();
        Tensor::from_f64_as(x.dtype(), shape.clone(), out)
    } else {
        let v = moved.i64s()?;
        let out: Vec<i64> = v
            .chunks(len)
            .map(|r| {
                let i = select_row(r, how);
                idx.push(i as i64);
                r[i]
            })
            .collect();
        Tensor::from_i64_as(x.dtype(), shape.clone(), out)
    };
    if keepdim && nd == 0 {
        shape = vec![];
    }
    Ok((values, Tensor::from_i64(shape, idx)))
}

/// median.default / nanmedian.default: the whole tensor's (lower) median as a 0-d tensor;
/// NaN for an empty tensor.
fn median_all(args: &[Value], how: Select) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    if x.numel() == 0 {
        let dt = if x.dtype().is_float() {
            x.dtype()
        } else {
            DType::F32
        };
        if !x.dtype().is_float() {
            return Err(Error::runtime("median of an empty integer tensor"));
        }
        return Ok(vec![Tensor::from_f64_as(dt, vec![], vec![f64::NAN]).into()]);
    }
    let flat = x.reshape(vec![x.numel()])?;
    Ok(vec![select_dim(&flat, 0, false, how)?.0.into()])
}

/// The (values, indices) pair of a dim selection.
fn pair((v, i): (Tensor, Tensor)) -> Result<Vec<Value>> {
    Ok(vec![v.into(), i.into()])
}

/// median.dim / nanmedian.dim(self, dim, keepdim)
fn median_dim(args: &[Value], how: Select) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    pair(select_dim(
        x,
        iarg(args, 1)?,
        barg_or(args, 2, false)?,
        how,
    )?)
}

/// kthvalue(self, k, dim=-1, keepdim=False), k 1-based.
fn kthvalue(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let k = iarg(args, 1)?;
    let dim = opt(args, 2).as_opt_int()?.unwrap_or(-1);
    if k < 1 {
        return Err(Error::runtime(format!("kthvalue: k must be >= 1, got {k}")));
    }
    let k = usize::try_from(k - 1).map_err(|_| Error::runtime("kthvalue: k is too large"))?;
    pair(select_dim(
        x,
        dim,
        barg_or(args, 3, false)?,
        Select::Kth(k),
    )?)
}

/// mode(self, dim=-1, keepdim=False)
fn mode(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let dim = opt(args, 1).as_opt_int()?.unwrap_or(-1);
    pair(select_dim(x, dim, barg_or(args, 2, false)?, Select::Mode)?)
}

/// var_mean / std_mean.correction(self, dim=None, *, correction=None, keepdim=False) ->
/// (var or std, mean). `unbiased_form` reads the TorchScript `.dim` overload's
/// (dim, unbiased, keepdim) instead.
fn moments(args: &[Value], std: bool, unbiased_form: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let correction = if unbiased_form {
        if barg_or(args, 2, true)? {
            1.0
        } else {
            0.0
        }
    } else {
        opt(args, 2).as_opt_f64()?.unwrap_or(1.0)
    };
    let keepdim = barg_or(args, 3, false)?;
    let dims = crate::ops::reduce::dims_of(opt(args, 1), x.ndim())?;
    let var = crate::ops::reduce::var_std(x, &dims, correction, keepdim, std)?;
    let mean = crate::ops::reduce::mean_f64(x, &dims, keepdim)?;
    Ok(vec![var.into(), mean.into()])
}

/// Register the family's ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::median.default" => |_: &mut OpCtx, a: Vec<Value>| median_all(&a, Select::Median),
        "aten::nanmedian.default" => |_: &mut OpCtx, a: Vec<Value>| median_all(&a, Select::NanMedian),
        "aten::median.dim" => |_: &mut OpCtx, a: Vec<Value>| median_dim(&a, Select::Median),
        "aten::nanmedian.dim" => |_: &mut OpCtx, a: Vec<Value>| median_dim(&a, Select::NanMedian),
        "aten::kthvalue.default" => |_: &mut OpCtx, a: Vec<Value>| kthvalue(&a),
        "aten::mode.default" => |_: &mut OpCtx, a: Vec<Value>| mode(&a),
        "aten::var_mean.correction" => |_: &mut OpCtx, a: Vec<Value>| moments(&a, false, false),
        "aten::std_mean.correction" => |_: &mut OpCtx, a: Vec<Value>| moments(&a, true, false),
        "aten::var_mean.dim" => |_: &mut OpCtx, a: Vec<Value>| moments(&a, false, true),
        "aten::std_mean.dim" => |_: &mut OpCtx, a: Vec<Value>| moments(&a, true, true),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{try_call, try_call_ts};

    #[test]
    fn medians_and_selections() {
        let nan = f32::NAN;
        let x = Tensor::from_f32(vec![2, 4], vec![3.0, 1.0, 4.0, 2.0, 5.0, nan, 0.0, 9.0]);
        let r = try_call_ts("aten::median.dim", vec![x.clone().into(), Value::Int(1)]).unwrap();
        let v = r[0].to_f32_vec();
        assert_eq!(v[0], 2.0);
        assert!(v[1].is_nan());
        assert_eq!(r[1].to_i64_vec(), vec![3, 1]);
        let r = try_call_ts("aten::nanmedian.dim", vec![x.clone().into(), Value::Int(1)]).unwrap();
        assert_eq!(
            (r[0].to_f32_vec(), r[1].to_i64_vec()),
            (vec![2.0, 5.0], vec![3, 0])
        );
        let r = try_call("aten::median.default", vec![x.clone().into()]).unwrap();
        assert!(r[0].as_tensor().unwrap().to_f32_vec()[0].is_nan());
        let r = try_call_ts(
            "aten::kthvalue.default",
            vec![x.clone().into(), Value::Int(4)],
        )
        .unwrap();
        assert_eq!(r[0].to_f32_vec()[0], 4.0);
        assert!(r[0].to_f32_vec()[1].is_nan());
        assert!(try_call("aten::kthvalue.default", vec![x.into(), Value::Int(5)]).is_err());
        let m = Tensor::from_i64(vec![7], vec![3, 1, 3, 2, 1, 5, 2]);
        let r = try_call_ts("aten::mode.default", vec![m.into()]).unwrap();
        assert_eq!(
            (r[0].dtype(), r[0].to_i64_vec(), r[1].to_i64_vec()),
            (DType::I64, vec![1], vec![4])
        );
    }

    #[test]
    fn var_mean_pairs() {
        let x = Tensor::from_f32(vec![2, 2], vec![1.0, 3.0, 2.0, 6.0]);
        let r = try_call_ts(
            "aten::std_mean.correction",
            vec![x.into(), Value::List(vec![Value::Int(1)]), Value::Int(0)],
        )
        .unwrap();
        assert_eq!(r[0].to_f32_vec(), vec![1.0, 2.0]);
        assert_eq!(r[1].to_f32_vec(), vec![2.0, 4.0]);
    }
}
