//! Ops that return a copy of `self` with a source written (or reduced) into chosen
//! positions: `diagonal_scatter`, `as_strided_scatter`, `put`, `index_reduce`; and the
//! product sum `_trilinear` (`addbmm` lives with the matmuls in `linalg/matmul.rs`).
//!
//! Each op first computes the flat target position of every source element in the
//! contiguous copy (checked against its size, so hostile offsets, strides or indices give an
//! error), then applies the values. Values are handled as f64, which is exact for every float
//! dtype and for integers up to 2^53.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, barg_or, iarg, ints, norm_dim, opt, targ, OpCtx};
use crate::tensor::{checked_numel, contiguous_strides, Tensor};
use crate::value::Value;

/// The flat positions of a strided view (`shape`, `strides`, `offset`) of a contiguous
/// buffer of `len` elements, in the view's row-major order; an error if any falls outside.
fn view_positions(shape: &[usize], strides: &[i64], offset: i64, len: usize) -> Result<Vec<usize>> {
    let n = checked_numel(shape)?;
    if n > len.max(1) * 64 {
        return Err(Error::runtime(format!(
            "a view of {n} elements over {len} cannot be scattered into"
        )));
    }
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        let mut p = offset as i128;
        for (i, s) in idx.iter().zip(strides) {
            p += *i as i128 * *s as i128;
        }
        let p = usize::try_from(p)
            .ok()
            .filter(|&p| p < len)
            .ok_or_else(|| {
                Error::runtime(format!("view position {p} is outside the {len} elements"))
            })?;
        out.push(p);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(out)
}

/// `base` with `src`'s values (row-major) written at `pos`, in `base`'s dtype.
fn write_at(base: &Tensor, pos: &[usize], src: &Tensor) -> Result<Tensor> {
    if src.numel() != pos.len() {
        return Err(Error::runtime(format!(
            "the source has {} elements, the target view {}",
            src.numel(),
            pos.len()
        )));
    }
    let mut out = base.f64s()?;
    for (&p, v) in pos.iter().zip(src.f64s()?) {
        out[p] = v;
    }
    Ok(Tensor::from_f64_as(
        base.dtype(),
        base.shape().to_vec(),
        out,
    ))
}

/// diagonal_scatter(self, src, offset=0, dim1=0, dim2=1)
fn diagonal_scatter(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let src = targ(args, 1)?;
    let off = opt(args, 2).as_opt_int()?.unwrap_or(0);
    let nd = x.ndim();
    let d1 = norm_dim(opt(args, 3).as_opt_int()?.unwrap_or(0), nd)?;
    let d2 = norm_dim(opt(args, 4).as_opt_int()?.unwrap_or(1), nd)?;
    if d1 == d2 || nd < 2 {
        return Err(Error::runtime("diagonal_scatter: needs two different dims"));
    }
    let st: Vec<i64> = contiguous_strides(x.shape())
        .iter()
        .map(|&s| s as i64)
        .collect();
    let (n1, n2) = (x.shape()[d1] as i64, x.shape()[d2] as i64);
    let len = if off >= 0 {
        n1.min(n2.saturating_sub(off)).max(0)
    } else {
        n2.min(n1.saturating_add(off)).max(0)
    };
    let start = if off >= 0 {
        off.min(n2) * st[d2]
    } else {
        (-off).min(n1) * st[d1]
    };
    let mut shape = Vec::new();
    let mut strides = Vec::new();
    for d in (0..nd).filter(|&d| d != d1 && d != d2) {
        shape.push(x.shape()[d]);
        strides.push(st[d]);
    }
    shape.push(len as usize);
    strides.push(st[d1] + st[d2]);
    if src.shape() != shape.as_slice() {
        return Err(Error::runtime(format!(
            "diagonal_scatter: src has shape {:?}, the diagonal {shape:?}",
            src.shape()
        )));
    }
    let pos = view_positions(&shape, &strides, start, x.numel())?;
    Ok(vec![write_at(x, &pos, src)?.into()])
}

/// as_strided_scatter(self, src, size, stride, storage_offset=None)
fn as_strided_scatter(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let src = targ(args, 1)?;
    let size = ints(args, 2)?;
    let stride = ints(args, 3)?;
    let off = opt(args, 4).as_opt_int()?.unwrap_or(0);
    if size.len() != stride.len()
        || size.iter().any(|&s| s < 0)
        || stride.iter().any(|&s| s < 0)
        || off < 0
    {
        return Err(Error::runtime(
            "as_strided_scatter: bad size, stride or offset",
        ));
    }
    let shape: Vec<usize> = size.iter().map(|&s| s as usize).collect();
    if src.shape() != shape.as_slice() {
        return Err(Error::runtime(format!(
            "as_strided_scatter: src has shape {:?}, the view {shape:?}",
            src.shape()
        )));
    }
    let pos = view_positions(&shape, &stride, off, x.numel())?;
    Ok(vec![write_at(x, &pos, src)?.into()])
}

/// put(self, index, source, accumulate=False): flat (wrapping negative) indices.
fn put(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let index = targ(args, 1)?;
    let src = targ(args, 2)?;
    let acc = barg_or(args, 3, false)?;
    if index.numel() != src.numel() {
        return Err(Error::runtime(
            "put: index and source must have the same number of elements",
        ));
    }
    let n = x.numel() as i64;
    let mut out = x.f64s()?;
    for (&i, v) in index.i64s()?.iter().zip(src.f64s()?) {
        let j = if i < 0 { i + n } else { i };
        if !(0..n).contains(&j) {
            return Err(Error::runtime(format!(
                "put: index {i} is out of range for {n} elements"
            )));
        }
        if acc {
            out[j as usize] += v;
        } else {
            out[j as usize] = v;
        }
    }
    Ok(vec![Tensor::from_f64_as(
        x.dtype(),
        x.shape().to_vec(),
        out,
    )
    .into()])
}

/// index_reduce(self, dim, index, source, reduce, include_self=True) with reduce one of
/// prod, mean, amax, amin.
fn index_reduce(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let nd = x.ndim();
    let d = norm_dim(iarg(args, 1)?, nd)?;
    let index = targ(args, 2)?;
    let src = targ(args, 3)?;
    let how = arg(args, 4)?.as_str()?.to_string();
    let include_self = barg_or(args, 5, true)?;
    if !matches!(how.as_str(), "prod" | "mean" | "amax" | "amin") {
        return Err(Error::runtime(format!(
            "index_reduce: unknown reduce '{how}'"
        )));
    }
    let xs: Vec<usize> = if nd == 0 { vec![1] } else { x.shape().to_vec() };
    let ss: Vec<usize> = if src.ndim() == 0 {
        vec![1]
    } else {
        src.shape().to_vec()
    };
    let idx = index.i64s()?;
    if index.ndim() > 1
        || ss.len() != xs.len()
        || ss[d] != idx.len()
        || (0..xs.len()).any(|k| k != d && ss[k] != xs[k])
    {
        return Err(Error::runtime(format!(
            "index_reduce: source {:?} does not match self {:?} with {} indices along dim {d}",
            src.shape(),
            x.shape(),
            idx.len()
        )));
    }
    let mut out = x.f64s()?;
    let mut count: Vec<f64> = vec![if include_self { 1.0 } else { 0.0 }; out.len()];
    let mut touched = vec![false; out.len()];
    let inner: usize = xs[d + 1..].iter().product();
    let outer: usize = xs[..d].iter().product();
    let sv = src.f64s()?;
    for o in 0..outer {
        for (i, &t) in idx.iter().enumerate() {
            let t = if t < 0 { t + xs[d] as i64 } else { t };
            let t = usize::try_from(t)
                .ok()
                .filter(|&t| t < xs[d])
                .ok_or_else(|| {
                    Error::runtime(format!("index_reduce: index {t} is out of range"))
                })?;
            for k in 0..inner {
                let p = (o * xs[d] + t) * inner + k;
                let v = sv[(o * ss[d] + i) * inner + k];
                if !include_self && !touched[p] {
                    touched[p] = true;
                    out[p] = match how.as_str() {
                        "prod" => 1.0,
                        "mean" => 0.0,
                        "amax" => f64::NEG_INFINITY,
                        _ => f64::INFINITY,
                    };
                }
                let cur = out[p];
                out[p] = match how.as_str() {
                    "prod" => cur * v,
                    "mean" => cur + v,
                    "amax" => {
                        if v.is_nan() || v > cur {
                            v
                        } else {
                            cur
                        }
                    }
                    _ => {
                        if v.is_nan() || v < cur {
                            v
                        } else {
                            cur
                        }
                    }
                };
                count[p] += 1.0;
            }
        }
    }
    if how == "mean" {
        let int = !x.dtype().is_float();
        for (o, c) in out.iter_mut().zip(&count) {
            let c = f64::max(*c, 1.0);
            *o = if int { (*o / c).floor() } else { *o / c };
        }
    }
    Ok(vec![Tensor::from_f64_as(
        x.dtype(),
        x.shape().to_vec(),
        out,
    )
    .into()])
}

/// _trilinear(i1, i2, i3, expand1, expand2, expand3, sumdim, unroll_dim=1): each input
/// unsqueezed at its `expand` dims, the three multiplied with broadcasting, then summed over
/// `sumdim` (what `nn.functional.bilinear` lowers to). Accumulated in f64.
fn trilinear(args: &[Value]) -> Result<Vec<Value>> {
    let mut parts = Vec::with_capacity(3);
    for i in 0..3 {
        let mut t = targ(args, i)?.clone();
        let mut e = ints(args, 3 + i)?;
        e.sort_unstable();
        for d in e {
            if d < 0 || d as usize > t.ndim() {
                return Err(Error::runtime(format!(
                    "_trilinear: expand dim {d} is out of range"
                )));
            }
            t = t.unsqueeze(d)?;
        }
        parts.push(t);
    }
    let nd = parts[0].ndim();
    if parts.iter().any(|t| t.ndim() != nd) {
        return Err(Error::runtime(
            "_trilinear: the expanded inputs differ in rank",
        ));
    }
    let shape = crate::ops::broadcast_shapes(
        &crate::ops::broadcast_shapes(parts[0].shape(), parts[1].shape())?,
        parts[2].shape(),
    )?;
    let mut prod = parts[0].expand_to(&shape)?.f64s()?;
    for t in &parts[1..] {
        for (p, v) in prod.iter_mut().zip(t.expand_to(&shape)?.f64s()?) {
            *p *= v;
        }
    }
    let mut sum: Vec<usize> = ints(args, 6)?
        .iter()
        .map(|&d| norm_dim(d, nd))
        .collect::<Result<_>>()?;
    sum.sort_unstable();
    sum.dedup();
    let kept: Vec<usize> = (0..nd).filter(|d| !sum.contains(d)).collect();
    let order: Vec<i64> = kept.iter().chain(&sum).map(|&d| d as i64).collect();
    let dt = crate::ops::promote(
        crate::ops::promote(parts[0].dtype(), parts[1].dtype()),
        parts[2].dtype(),
    );
    let full = Tensor::from_f64_as(crate::tensor::DType::F64, shape.clone(), prod);
    let moved = full.permute(&order)?.contiguous()?.f64s()?;
    let row: usize = sum.iter().map(|&d| shape[d]).product();
    let out_shape: Vec<usize> = kept.iter().map(|&d| shape[d]).collect();
    let out: Vec<f64> = if row == 0 {
        vec![0.0; checked_numel(&out_shape)?]
    } else {
        moved.chunks(row).map(|c| c.iter().sum()).collect()
    };
    Ok(vec![Tensor::from_f64_as(dt, out_shape, out).into()])
}

/// Register the family's ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::diagonal_scatter.default" => |_: &mut OpCtx, a: Vec<Value>| diagonal_scatter(&a),
        "aten::as_strided_scatter.default" => |_: &mut OpCtx, a: Vec<Value>| as_strided_scatter(&a),
        "aten::put.default" => |_: &mut OpCtx, a: Vec<Value>| put(&a),
        "aten::index_reduce.default" => |_: &mut OpCtx, a: Vec<Value>| index_reduce(&a),
        "aten::_trilinear.default" => |_: &mut OpCtx, a: Vec<Value>| trilinear(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::try_call_t;

    #[test]
    fn scatters() {
        let x = Tensor::from_f32(vec![3, 3], vec![0.0; 9]);
        let d = Tensor::from_f32(vec![2], vec![1.0, 2.0]);
        let r = try_call_t(
            "aten::diagonal_scatter.default",
            vec![x.clone().into(), d.clone().into(), Value::Int(1)],
        )
        .unwrap();
        assert_eq!(
            r.to_f32_vec(),
            vec![0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]
        );
        let r = try_call_t(
            "aten::as_strided_scatter.default",
            vec![
                x.clone().into(),
                d.clone().into(),
                Value::List(vec![Value::Int(2)]),
                Value::List(vec![Value::Int(4)]),
                Value::Int(0),
            ],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec()[..5], [1.0, 0.0, 0.0, 0.0, 2.0]);
        assert!(try_call_t(
            "aten::as_strided_scatter.default",
            vec![
                x.clone().into(),
                d.clone().into(),
                Value::List(vec![Value::Int(2)]),
                Value::List(vec![Value::Int(1 << 40)]),
                Value::Int(0)
            ],
        )
        .is_err());
        let i = Tensor::from_i64(vec![2], vec![-1, 0]);
        let r = try_call_t(
            "aten::put.default",
            vec![x.clone().into(), i.into(), d.into(), Value::Bool(true)],
        )
        .unwrap();
        assert_eq!((r.to_f32_vec()[0], r.to_f32_vec()[8]), (2.0, 1.0));
        let base = Tensor::from_f32(vec![2, 2], vec![2.0, 3.0, 4.0, 5.0]);
        let src = Tensor::from_f32(vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let idx = Tensor::from_i64(vec![3], vec![0, 0, 1]);
        let r = try_call_t(
            "aten::index_reduce.default",
            vec![
                base.clone().into(),
                Value::Int(0),
                idx.clone().into(),
                src.clone().into(),
                Value::Str("prod".into()),
            ],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![6.0, 24.0, 20.0, 30.0]);
        let r = try_call_t(
            "aten::index_reduce.default",
            vec![
                base.into(),
                Value::Int(0),
                idx.into(),
                src.into(),
                Value::Str("mean".into()),
                Value::Bool(false),
            ],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![2.0, 3.0, 5.0, 6.0]);
    }
}
