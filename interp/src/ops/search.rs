//! Searching sorted sequences and counting into bins: `searchsorted` (tensor and scalar
//! values), `bucketize`, `histc` and `histogram.bin_ct`.
//!
//! The binary searches use PyTorch's comparisons verbatim (`!(seq[mid] >= v)` for the left
//! side, `!(seq[mid] > v)` for the right), so NaN values land past the end exactly as there.
//! Values are compared as f64. Histograms place a value by linear interpolation between the
//! outer edges and, for `histogram`, correct the bin against the materialised edges (the
//! edges are `linspace` in the input's dtype, like PyTorch's, so values on an edge go to the
//! same bin).

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, barg_or, iarg, opt, scalar_tensor, targ, OpCtx};
use crate::storage::try_alloc;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// Index of the first element not below `v` (left) or above `v` (right) in `seq[order]`.
fn bound(seq: &[f64], v: f64, right: bool) -> usize {
    let (mut lo, mut hi) = (0, seq.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // PyTorch's `!(seq[mid] > v)` / `!(seq[mid] >= v)`: true also when either is NaN.
        let go_right = if right {
            seq[mid].partial_cmp(&v) != Some(std::cmp::Ordering::Greater)
        } else {
            !matches!(
                seq[mid].partial_cmp(&v),
                Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
            )
        };
        if go_right {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The shared search: `seq` 1-d or with the leading dims of `values`; `sorter` optional.
fn search(
    seq: &Tensor,
    values: &Tensor,
    out_int32: bool,
    right: bool,
    sorter: Option<&Tensor>,
) -> Result<Tensor> {
    if seq.ndim() == 0 {
        return Err(Error::runtime(
            "searchsorted: the sorted sequence must have at least one dimension",
        ));
    }
    let inner = seq.shape()[seq.ndim() - 1];
    let one_d = seq.ndim() == 1;
    if !one_d
        && (values.ndim() != seq.ndim()
            || values.shape()[..values.ndim() - 1] != seq.shape()[..seq.ndim() - 1])
    {
        return Err(Error::runtime(format!(
            "searchsorted: the sequence's leading dims {:?} must match the values' {:?}",
            seq.shape(),
            values.shape()
        )));
    }
    let mut s = seq.f64s()?;
    if let Some(order) = sorter {
        if order.shape() != seq.shape() {
            return Err(Error::runtime(
                "searchsorted: sorter must have the sequence's shape",
            ));
        }
        let o = order.i64s()?;
        let mut sorted = try_alloc::<f64>(s.len())?;
        for (row, (src, dst)) in o
            .chunks(inner.max(1))
            .zip(sorted.chunks_mut(inner.max(1)))
            .enumerate()
        {
            for (d, &i) in dst.iter_mut().zip(src) {
                let i = usize::try_from(i)
                    .ok()
                    .filter(|&i| i < inner)
                    .ok_or_else(|| {
                        Error::runtime(format!("searchsorted: sorter index {i} is out of range"))
                    })?;
                *d = s[row * inner + i];
            }
        }
        s = sorted;
    }
    let v = values.f64s()?;
    let per_row = if values.ndim() == 0 {
        1
    } else {
        values.shape()[values.ndim() - 1]
    };
    let out: Vec<i64> = v
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let row = if one_d { 0 } else { i / per_row.max(1) };
            bound(&s[row * inner..(row + 1) * inner], x, right) as i64
        })
        .collect();
    let dt = if out_int32 { DType::I32 } else { DType::I64 };
    Ok(Tensor::from_i64_as(dt, values.shape().to_vec(), out))
}

/// `right` or `side` (which must agree when both are given).
fn side(right: bool, side: &Value) -> Result<bool> {
    match side {
        Value::None => Ok(right),
        v => match v.as_str()? {
            "left" if !right => Ok(false),
            "right" => Ok(true),
            "left" => Err(Error::runtime(
                "searchsorted: side='left' contradicts right=True",
            )),
            s => Err(Error::runtime(format!(
                "searchsorted: side must be 'left' or 'right', got '{s}'"
            ))),
        },
    }
}

/// searchsorted.Tensor / .Scalar(sorted_sequence, self, *, out_int32, right, side, sorter)
fn searchsorted(args: &[Value]) -> Result<Vec<Value>> {
    let seq = targ(args, 0)?;
    let values = scalar_tensor(arg(args, 1)?)?;
    let right = side(barg_or(args, 3, false)?, opt(args, 4))?;
    let sorter = match opt(args, 5) {
        Value::None => None,
        v => Some(v.as_tensor()?),
    };
    Ok(vec![search(
        seq,
        &values,
        barg_or(args, 2, false)?,
        right,
        sorter,
    )?
    .into()])
}

/// bucketize.Tensor / .Scalar(self, boundaries, *, out_int32, right): boundaries 1-d.
fn bucketize(args: &[Value]) -> Result<Vec<Value>> {
    let values = scalar_tensor(arg(args, 0)?)?;
    let b = targ(args, 1)?;
    if b.ndim() != 1 {
        return Err(Error::runtime(format!(
            "bucketize: boundaries must be 1-d, got shape {:?}",
            b.shape()
        )));
    }
    Ok(vec![search(
        b,
        &values,
        barg_or(args, 2, false)?,
        barg_or(args, 3, false)?,
        None,
    )?
    .into()])
}

/// The number of bins: positive and allocatable.
fn bin_count(bins: i64) -> Result<usize> {
    usize::try_from(bins)
        .ok()
        .filter(|&b| b > 0)
        .ok_or_else(|| Error::runtime(format!("the number of bins must be positive, got {bins}")))
}

/// The data's finite range, or an error naming it; (0, 0) for no data.
fn data_range(v: &[f64]) -> Result<(f64, f64)> {
    if v.is_empty() {
        return Ok((0.0, 0.0));
    }
    let lo = v.iter().copied().fold(
        f64::INFINITY,
        |a, b| if b < a || b.is_nan() { b } else { a },
    );
    let hi = v.iter().copied().fold(
        f64::NEG_INFINITY,
        |a, b| if b > a || b.is_nan() { b } else { a },
    );
    Ok((lo, hi))
}

fn check_range(lo: f64, hi: f64) -> Result<()> {
    if !lo.is_finite() || !hi.is_finite() {
        return Err(Error::runtime(format!(
            "the histogram range [{lo}, {hi}] is not finite"
        )));
    }
    if lo > hi {
        return Err(Error::runtime(format!(
            "the histogram range [{lo}, {hi}] has min > max"
        )));
    }
    Ok(())
}

/// `x` rounded to `dt` (the precision the edges live in).
fn in_dtype(dt: DType, x: f64) -> f64 {
    if dt == DType::F64 {
        x
    } else {
        x as f32 as f64
    }
}

/// histc(self, bins=100, min=0, max=0): counts of the values in [min, max] (the data's
/// range when min == max, widened by 1 each side if still equal).
fn histc(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    if !x.dtype().is_float() {
        return Err(Error::runtime(format!(
            "histc needs a float tensor, got {}",
            x.dtype().name()
        )));
    }
    let bins = bin_count(iarg(args, 1)?)?;
    let dt = x.dtype();
    let v = x.f64s()?;
    let (mut lo, mut hi) = (
        in_dtype(dt, opt(args, 2).as_opt_f64()?.unwrap_or(0.0)),
        in_dtype(dt, opt(args, 3).as_opt_f64()?.unwrap_or(0.0)),
    );
    if lo == hi {
        (lo, hi) = data_range(&v)?;
    }
    if lo == hi {
        lo -= 1.0;
        hi += 1.0;
    }
    check_range(lo, hi)?;
    let mut hist = try_alloc::<f64>(bins)?;
    for &e in &v {
        if e >= lo && e <= hi {
            let pos = in_dtype(
                dt,
                in_dtype(dt, (e - lo) * bins as f64) / in_dtype(dt, hi - lo),
            );
            let pos = (pos as usize).min(bins - 1);
            hist[pos] += 1.0;
        }
    }
    Ok(vec![Tensor::from_f64_as(dt, vec![bins], hist).into()])
}

/// `steps` evenly spaced values from `a` to `b` as PyTorch's linspace forms them (from the
/// start for the first half, from the end for the second), rounded to `dt`.
fn linspace(dt: DType, a: f64, b: f64, steps: usize) -> Result<Vec<f64>> {
    let step = (b - a) / (steps - 1) as f64;
    let half = steps / 2;
    let mut out = try_alloc::<f64>(steps)?;
    for (i, o) in out.iter_mut().enumerate() {
        let v = if i < half {
            a + step * i as f64
        } else {
            b - step * (steps - i - 1) as f64
        };
        *o = in_dtype(dt, v);
    }
    Ok(out)
}

/// histogram.bin_ct(self, bins=100, *, range=None, weight=None, density=False) ->
/// (hist, bin_edges).
fn histogram(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    if !x.dtype().is_float() {
        return Err(Error::runtime(format!(
            "histogram needs a float tensor, got {}",
            x.dtype().name()
        )));
    }
    let dt = x.dtype();
    let bins = bin_count(iarg(args, 1)?)?;
    let v = x.f64s()?;
    let (mut lo, mut hi) = match opt(args, 2) {
        Value::None => data_range(&v)?,
        r => {
            let r: Vec<f64> = match r {
                Value::List(v) | Value::Tuple(v) => {
                    v.iter().map(Value::as_f64).collect::<Result<_>>()?
                }
                other => other.as_tensor()?.f64s()?,
            };
            if r.len() != 2 {
                return Err(Error::runtime("histogram: range must hold two numbers"));
            }
            (r[0], r[1])
        }
    };
    check_range(lo, hi)?;
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let (lo, hi) = (in_dtype(dt, lo), in_dtype(dt, hi));
    let weight = match opt(args, 3) {
        Value::None => None,
        w => {
            let w = w.as_tensor()?;
            if w.shape() != x.shape() {
                return Err(Error::runtime(
                    "histogram: weight must have the input's shape",
                ));
            }
            Some(w.f64s()?)
        }
    };
    let mut hist = try_alloc::<f64>(bins)?;
    let edges = linspace(dt, lo, hi, bins + 1)?;
    for (i, &e) in v.iter().enumerate() {
        if !(e >= lo && e <= hi) {
            continue;
        }
        let mut pos = (in_dtype(dt, (e - lo) * bins as f64) / (hi - lo)) as usize;
        pos = pos.min(bins);
        // Local correction against the materialised edges.
        if pos > 0 && e < edges[pos] {
            pos -= 1;
        } else if pos < bins && e >= edges[pos + 1] {
            pos += 1;
        }
        let pos = pos.min(bins - 1);
        hist[pos] += weight.as_ref().map_or(1.0, |w| w[i]);
    }
    if barg_or(args, 4, false)? {
        let total: f64 = hist.iter().sum();
        for (h, w) in hist.iter_mut().zip(edges.windows(2)) {
            *h /= total * (w[1] - w[0]);
        }
    }
    Ok(vec![
        Tensor::from_f64_as(dt, vec![bins], hist).into(),
        Tensor::from_f64_as(dt, vec![bins + 1], edges).into(),
    ])
}

/// Register the family's ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::searchsorted.Tensor" => |_: &mut OpCtx, a: Vec<Value>| searchsorted(&a),
        "aten::searchsorted.Scalar" => |_: &mut OpCtx, a: Vec<Value>| searchsorted(&a),
        "aten::bucketize.Tensor" => |_: &mut OpCtx, a: Vec<Value>| bucketize(&a),
        "aten::bucketize.Scalar" => |_: &mut OpCtx, a: Vec<Value>| bucketize(&a),
        "aten::histc.default" => |_: &mut OpCtx, a: Vec<Value>| histc(&a),
        "aten::histogram.bin_ct" => |_: &mut OpCtx, a: Vec<Value>| histogram(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{try_call_t, try_call_ts};

    #[test]
    fn searches() {
        let seq = Tensor::from_f32(vec![4], vec![1.0, 2.0, 2.0, 5.0]);
        let v = Tensor::from_f32(vec![5], vec![0.0, 2.0, 3.0, 9.0, f32::NAN]);
        let r = try_call_t(
            "aten::searchsorted.Tensor",
            vec![seq.clone().into(), v.clone().into()],
        )
        .unwrap();
        assert_eq!(r.to_i64_vec(), vec![0, 1, 3, 4, 4]);
        let r = try_call_t(
            "aten::searchsorted.Tensor",
            vec![
                seq.clone().into(),
                v.clone().into(),
                Value::Bool(true),
                Value::Bool(true),
            ],
        )
        .unwrap();
        assert_eq!(
            (r.dtype(), r.to_i64_vec()),
            (DType::I32, vec![0, 3, 3, 4, 4])
        );
        let r = try_call_t(
            "aten::bucketize.Scalar",
            vec![Value::Float(2.0), seq.clone().into()],
        )
        .unwrap();
        assert_eq!((r.shape(), r.to_i64_vec()), (&[][..], vec![1]));
        let bad = Tensor::from_f32(vec![2, 2], vec![0.0; 4]);
        assert!(try_call_t("aten::searchsorted.Tensor", vec![bad.into(), v.into()]).is_err());
    }

    #[test]
    fn histograms() {
        let x = Tensor::from_f32(vec![5], vec![1.0, 2.0, 2.0, 5.0, 7.0]);
        let r = try_call_t(
            "aten::histc.default",
            vec![
                x.clone().into(),
                Value::Int(3),
                Value::Int(1),
                Value::Int(5),
            ],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![3.0, 0.0, 1.0]);
        let r = try_call_ts(
            "aten::histogram.bin_ct",
            vec![x.clone().into(), Value::Int(2)],
        )
        .unwrap();
        assert_eq!(r[0].to_f32_vec(), vec![3.0, 2.0]);
        assert_eq!(r[1].to_f32_vec(), vec![1.0, 4.0, 7.0]);
        assert!(try_call_t("aten::histc.default", vec![x.into(), Value::Int(0)]).is_err());
    }
}
