//! Shape and view ops. Most return views (no copy): view/reshape of contiguous data,
//! permute, transpose, expand, (un)squeeze, slice, select, narrow, split/chunk/unbind (the
//! view helpers themselves are methods on `Tensor`, in `tensor/view.rs`). cat, stack and
//! repeat copy. Ops on explicit strides and storage offsets are in `strided`.

pub(crate) mod strided;

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{arg, barg_or, dim_of, iarg, ints, norm_dim, one, opt, targ, to_usize};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// Resolve a requested shape with at most one -1 against `numel`.
pub(crate) fn infer_shape(req: &[i64], numel: usize) -> Result<Vec<usize>> {
    let mut infer = None;
    let mut known = 1usize;
    let mut out = Vec::with_capacity(req.len());
    for (i, &d) in req.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                return Err(Error::runtime(format!(
                    "only one dimension can be -1 in {req:?}"
                )));
            }
            infer = Some(i);
            out.push(0);
        } else {
            let u = to_usize(d, "size")?;
            known = known
                .checked_mul(u)
                .ok_or_else(|| Error::runtime(format!("shape {req:?} overflows")))?;
            out.push(u);
        }
    }
    match infer {
        Some(i) => {
            if known == 0 || numel % known != 0 {
                return Err(Error::runtime(format!(
                    "shape {req:?} is invalid for {numel} elements"
                )));
            }
            out[i] = numel / known;
        }
        None if known != numel => {
            return Err(Error::runtime(format!(
                "shape {req:?} is invalid for {numel} elements"
            )));
        }
        None => {}
    }
    Ok(out)
}

fn view(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let shape = infer_shape(&ints(&args, 1)?, t.numel())?;
    one(t.reshape(shape)?)
}

fn flatten(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    if t.ndim() == 0 {
        return one(t.reshape(vec![1])?);
    }
    let s = norm_dim(iarg(&args, 1)?, t.ndim())?;
    let e = norm_dim(iarg(&args, 2)?, t.ndim())?;
    if s > e {
        return Err(Error::runtime("flatten: start_dim after end_dim"));
    }
    let mut shape = t.shape()[..s].to_vec();
    shape.push(t.shape()[s..=e].iter().product());
    shape.extend_from_slice(&t.shape()[e + 1..]);
    one(t.reshape(shape)?)
}

fn unflatten(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let d = dim_of(t, iarg(&args, 1)?)?;
    let sizes = infer_shape(&ints(&args, 2)?, t.shape()[d])?;
    let mut shape = t.shape()[..d].to_vec();
    shape.extend(sizes);
    shape.extend_from_slice(&t.shape()[d + 1..]);
    one(t.reshape(shape)?)
}

fn expand(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let req = ints(&args, 1)?;
    if req.len() < t.ndim() {
        return Err(Error::runtime(format!(
            "expand {:?} to fewer dims {req:?}",
            t.shape()
        )));
    }
    let off = req.len() - t.ndim();
    let shape = req
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            if d == -1 {
                if i < off {
                    Err(Error::runtime(
                        "expand: -1 not allowed in a new leading dim",
                    ))
                } else {
                    Ok(t.shape()[i - off])
                }
            } else {
                to_usize(d, "size")
            }
        })
        .collect::<Result<Vec<_>>>()?;
    one(t.expand_to(&shape)?)
}

fn squeeze_dims(t: &Tensor, dims: Option<Vec<i64>>) -> Result<Tensor> {
    let drop: Vec<bool> = match dims {
        None => t.shape().iter().map(|&d| d == 1).collect(),
        Some(ds) => {
            let mut v = vec![false; t.ndim()];
            if t.ndim() > 0 {
                for d in ds {
                    let d = norm_dim(d, t.ndim())?;
                    v[d] = t.shape()[d] == 1;
                }
            }
            v
        }
    };
    let mut shape = Vec::new();
    let mut strides = Vec::new();
    for (i, &d) in drop.iter().enumerate() {
        if !d {
            shape.push(t.shape()[i]);
            strides.push(t.strides()[i]);
        }
    }
    Ok(t.view_with(shape, strides, t.offset()))
}

fn slice_op(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    if t.ndim() == 0 {
        return Err(Error::runtime("slice of a 0-d tensor"));
    }
    let dim = norm_dim(iarg(&args, 1)?, t.ndim())?;
    let start = opt(&args, 2).as_opt_int()?;
    let end = opt(&args, 3).as_opt_int()?;
    let step = opt(&args, 4).as_opt_int()?.unwrap_or(1);
    one(t.slice(dim, start, end, step)?)
}

fn narrow(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let d = dim_of(t, iarg(&args, 1)?)?;
    let start = iarg(&args, 2)?;
    let len = iarg(&args, 3)?;
    let n = t.shape()[d] as i64;
    let s = if start < 0 { start + n } else { start };
    if s < 0 || len < 0 || s + len > n {
        return Err(Error::runtime(format!(
            "narrow({start}, {len}) out of range for size {n}"
        )));
    }
    one(t.slice(d, Some(s), Some(s + len), 1)?)
}

fn split_sizes(t: &Tensor, sizes: &[usize], d: usize) -> Result<Vec<Value>> {
    let total: usize = sizes.iter().sum();
    if total != t.shape()[d] {
        return Err(Error::runtime(format!(
            "split sizes {sizes:?} do not sum to dim {d} of size {}",
            t.shape()[d]
        )));
    }
    let mut out = Vec::with_capacity(sizes.len());
    let mut start = 0;
    for &s in sizes {
        out.push(Value::Tensor(t.slice(
            d,
            Some(start as i64),
            Some((start + s) as i64),
            1,
        )?));
        start += s;
    }
    Ok(vec![Value::List(out)])
}

fn split(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let d = dim_of(t, iarg(&args, 2)?)?;
    let size = to_usize(iarg(&args, 1)?, "split_size")?;
    let n = t.shape()[d];
    if size == 0 && n > 0 {
        return Err(Error::runtime("split_size must be positive"));
    }
    let mut sizes = Vec::new();
    let mut left = n;
    while left > 0 {
        let s = size.min(left);
        sizes.push(s);
        left -= s;
    }
    if sizes.is_empty() {
        sizes.push(0);
    }
    split_sizes(t, &sizes, d)
}

fn split_with_sizes(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let d = dim_of(t, iarg(&args, 2)?)?;
    let sizes = ints(&args, 1)?
        .into_iter()
        .map(|s| to_usize(s, "split size"))
        .collect::<Result<Vec<_>>>()?;
    split_sizes(t, &sizes, d)
}

fn chunk(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let chunks = to_usize(iarg(&args, 1)?, "chunks")?;
    if chunks == 0 {
        return Err(Error::runtime("chunk: chunks must be positive"));
    }
    let d = dim_of(t, iarg(&args, 2)?)?;
    let size = t.shape()[d].div_ceil(chunks).max(1);
    split(vec![
        args[0].clone(),
        Value::Int(size as i64),
        Value::Int(d as i64),
    ])
}

fn unbind(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let d = dim_of(t, iarg(&args, 1)?)?;
    let out = (0..t.shape()[d])
        .map(|i| t.select(d as i64, i as i64).map(Value::Tensor))
        .collect::<Result<Vec<_>>>()?;
    Ok(vec![Value::List(out)])
}

fn cat_op(args: Vec<Value>) -> Result<Vec<Value>> {
    let ts = arg(&args, 0)?.as_tensors()?;
    one(Tensor::cat(&ts, iarg(&args, 1)?)?)
}

fn stack(args: Vec<Value>) -> Result<Vec<Value>> {
    let ts = arg(&args, 0)?.as_tensors()?;
    let Some(first) = ts.first() else {
        return Err(Error::runtime("stack: expects a non-empty list"));
    };
    let d = norm_dim(iarg(&args, 1)?, first.ndim() + 1)?;
    let us = ts
        .iter()
        .map(|t| {
            if t.shape() != first.shape() {
                return Err(Error::runtime(format!(
                    "stack: shapes {:?} and {:?} differ",
                    first.shape(),
                    t.shape()
                )));
            }
            t.unsqueeze(d as i64)
        })
        .collect::<Result<Vec<_>>>()?;
    one(Tensor::cat(&us, d as i64)?)
}

fn to_dtype_at(args: Vec<Value>, i: usize) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    match opt(&args, i).as_opt_dtype()? {
        Some(d) => one(t.cast(d)?),
        None => one(t.contiguous()?),
    }
}

/// `meshgrid(tensors, indexing)`: 0-d/1-d tensors -> one grid per tensor, each varying along
/// its own dim ("ij"); "xy" swaps the first two dims (cartesian), like `torch.meshgrid`.
fn meshgrid(args: &[Value], indexing: &str) -> Result<Vec<Value>> {
    let ts = arg(args, 0)?.as_tensors()?;
    let xy = match indexing {
        "ij" => false,
        "xy" => true,
        other => {
            return Err(Error::runtime(format!(
                "meshgrid: indexing must be 'ij' or 'xy', got '{other}'"
            )))
        }
    };
    if ts.is_empty() {
        return Err(Error::runtime(
            "meshgrid expects a non-empty list of tensors",
        ));
    }
    for t in &ts {
        if t.ndim() > 1 {
            return Err(Error::runtime(format!(
                "meshgrid expects 0-d or 1-d tensors, got shape {:?}",
                t.shape()
            )));
        }
    }
    let mut order: Vec<usize> = (0..ts.len()).collect();
    if xy && ts.len() >= 2 {
        order.swap(0, 1);
    }
    // Output dim k holds tensor order[k].
    let shape: Vec<usize> = order.iter().map(|&i| ts[i].numel()).collect();
    let mut out = Vec::with_capacity(ts.len());
    for (i, t) in ts.iter().enumerate() {
        let k = order.iter().position(|&j| j == i).unwrap_or(i);
        let mut view = vec![1usize; shape.len()];
        view[k] = t.numel();
        let v = t.contiguous()?.reshape(view)?;
        out.push(Value::Tensor(v.expand_to(&shape)?));
    }
    Ok(vec![Value::List(out)])
}

fn identity(args: Vec<Value>) -> Result<Vec<Value>> {
    one(targ(&args, 0)?.clone())
}

fn clone_op(args: Vec<Value>) -> Result<Vec<Value>> {
    one(targ(&args, 0)?.contiguous()?)
}

fn repeat(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let reps = ints(&args, 1)?;
    if reps.len() < t.ndim() {
        return Err(Error::runtime("repeat: fewer repeats than dims"));
    }
    let lead = reps.len() - t.ndim();
    let mut base = vec![1usize; lead];
    base.extend_from_slice(t.shape());
    let src = t.reshape(base.clone())?;
    // view as [1, s0, 1, s1, ...], expand to [r0, s0, r1, s1, ...], copy, merge pairs
    let mut vshape = Vec::new();
    let mut eshape = Vec::new();
    let mut oshape = Vec::new();
    for (i, &s) in base.iter().enumerate() {
        let r = to_usize(reps[i], "repeat")?;
        vshape.extend([1, s]);
        eshape.extend([r, s]);
        oshape.push(
            r.checked_mul(s)
                .ok_or_else(|| Error::oom(format!("repeat: {r} copies of a dim of {s}")))?,
        );
    }
    let v = src.reshape(vshape)?;
    let e = v.expand_to(&eshape)?.contiguous()?;
    one(e.reshape(oshape)?)
}

fn size_int(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let d = norm_dim(iarg(&args, 1)?, t.ndim())?;
    if t.ndim() == 0 {
        return Err(Error::runtime("size of a 0-d tensor"));
    }
    Ok(vec![Value::Int(t.shape()[d] as i64)])
}

fn size_list(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    Ok(vec![Value::List(
        t.shape().iter().map(|&d| Value::Int(d as i64)).collect(),
    )])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::view.default" => |_: &mut OpCtx, a| view(a),
        "aten::_unsafe_view.default" => |_: &mut OpCtx, a| view(a),
        "aten::reshape.default" => |_: &mut OpCtx, a| view(a),
        "aten::view_copy.default" => |_: &mut OpCtx, a| view(a),
        "aten::flatten.using_ints" => |_: &mut OpCtx, a| flatten(a),
        "aten::unflatten.int" => |_: &mut OpCtx, a| unflatten(a),
        "aten::permute.default" => |_: &mut OpCtx, a| { let t = targ(&a, 0)?; one(t.permute(&ints(&a, 1)?)?) },
        "aten::permute_copy.default" => |_: &mut OpCtx, a| { let t = targ(&a, 0)?; one(t.permute(&ints(&a, 1)?)?) },
        "aten::transpose.int" => |_: &mut OpCtx, a| one((targ(&a, 0)?).transpose(iarg(&a, 1)?, iarg(&a, 2)?)?),
        "aten::t.default" => |_: &mut OpCtx, a| { let t = targ(&a, 0)?; if t.ndim() < 2 { one(t.clone()) } else { one(t.transpose(0, 1)?) } },
        "aten::numpy_T.default" => |_: &mut OpCtx, a| { let t = targ(&a, 0)?; let d: Vec<i64> = (0..t.ndim() as i64).rev().collect(); one(t.permute(&d)?) },
        "aten::expand.default" => |_: &mut OpCtx, a| expand(a),
        "aten::expand_as.default" => |_: &mut OpCtx, a| one((targ(&a, 0)?).expand_to(targ(&a, 1)?.shape())?),
        "aten::unsqueeze.default" => |_: &mut OpCtx, a| one((targ(&a, 0)?).unsqueeze(iarg(&a, 1)?)?),
        "aten::squeeze.dim" => |_: &mut OpCtx, a| one(squeeze_dims(targ(&a, 0)?, Some(vec![iarg(&a, 1)?]))?),
        "aten::squeeze.dims" => |_: &mut OpCtx, a| one(squeeze_dims(targ(&a, 0)?, Some(ints(&a, 1)?))?),
        "aten::squeeze.default" => |_: &mut OpCtx, a| one(squeeze_dims(targ(&a, 0)?, None)?),
        "aten::slice.Tensor" => |_: &mut OpCtx, a| slice_op(a),
        "aten::select.int" => |_: &mut OpCtx, a| one((targ(&a, 0)?).select(iarg(&a, 1)?, iarg(&a, 2)?)?),
        "aten::narrow.default" => |_: &mut OpCtx, a| narrow(a),
        "aten::split.Tensor" => |_: &mut OpCtx, a| split(a),
        "aten::split_with_sizes.default" => |_: &mut OpCtx, a| split_with_sizes(a),
        "aten::chunk.default" => |_: &mut OpCtx, a| chunk(a),
        "aten::unbind.int" => |_: &mut OpCtx, a| unbind(a),
        "aten::cat.default" => |_: &mut OpCtx, a| cat_op(a),
        "aten::concat.default" => |_: &mut OpCtx, a| cat_op(a),
        "aten::stack.default" => |_: &mut OpCtx, a| stack(a),
        "aten::clone.default" => |_: &mut OpCtx, a| clone_op(a),
        "aten::contiguous.default" => |_: &mut OpCtx, a| clone_op(a),
        "aten::alias.default" => |_: &mut OpCtx, a| identity(a),
        "aten::detach.default" => |_: &mut OpCtx, a| identity(a),
        "aten::lift_fresh_copy.default" => |_: &mut OpCtx, a| identity(a),
        "aten::dropout.default" => |_: &mut OpCtx, a| { if barg_or(&a, 2, false)? { return Err(Error::runtime("dropout in training mode is not supported")); } identity(a) },
        "aten::alpha_dropout.default" => |_: &mut OpCtx, a| identity(a),
        "aten::native_dropout.default" => |_: &mut OpCtx, a: Vec<Value>| {
            if barg_or(&a, 2, false)? {
                return Err(Error::runtime("dropout in training mode is not supported"));
            }
            let t = targ(&a, 0)?;
            let mask = Tensor::full(DType::Bool, t.shape().to_vec(), 1.0)?;
            Ok(vec![t.clone().into(), mask.into()])
        },
        "aten::feature_dropout.default" => |_: &mut OpCtx, a| identity(a),
        "aten::_to_copy.default" => |_: &mut OpCtx, a| to_dtype_at(a, 1),
        "aten::to.dtype" => |_: &mut OpCtx, a| to_dtype_at(a, 1),
        "aten::to.dtype_layout" => |_: &mut OpCtx, a| to_dtype_at(a, 1),
        "aten::to.device" => |_: &mut OpCtx, a| to_dtype_at(a, 2),
        "aten::to.other" => |_: &mut OpCtx, a| one(targ(&a, 0)?.cast(targ(&a, 1)?.dtype())?),
        "aten::_shape_as_tensor.default" => |_: &mut OpCtx, a| {
            let t = targ(&a, 0)?;
            one(Tensor::from_i64(vec![t.ndim()], t.shape().iter().map(|&d| d as i64).collect()))
        },
        "aten::meshgrid.indexing" => |_: &mut OpCtx, a| meshgrid(&a, opt(&a, 1).as_str().unwrap_or("ij")),
        "aten::meshgrid.default" => |_: &mut OpCtx, a| meshgrid(&a, "ij"),
        "aten::type_as.default" => |_: &mut OpCtx, a| one(targ(&a, 0)?.cast(targ(&a, 1)?.dtype())?),
        "aten::repeat.default" => |_: &mut OpCtx, a| repeat(a),
        "aten::size.int" => |_: &mut OpCtx, a| size_int(a),
        "aten::sym_size.int" => |_: &mut OpCtx, a| size_int(a),
        "aten::size.default" => |_: &mut OpCtx, a| size_list(a),
        "aten::dim.default" => |_: &mut OpCtx, a| Ok(vec![Value::Int(targ(&a, 0)?.ndim() as i64)]),
        "aten::numel.default" => |_: &mut OpCtx, a| Ok(vec![Value::Int(targ(&a, 0)?.numel() as i64)]),
        "aten::sym_numel.default" => |_: &mut OpCtx, a| Ok(vec![Value::Int(targ(&a, 0)?.numel() as i64)]),
    );
    strided::register(r);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::registry::lookup;
    use crate::ops::test_util::{call, il};

    fn t0(v: Vec<Value>) -> Tensor {
        v[0].as_tensor().unwrap().clone()
    }
    fn ar(shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product::<usize>();
        Tensor::from_f32(shape, (0..n).map(|x| x as f32).collect())
    }

    #[test]
    fn views_share_storage_and_read_correctly() {
        let x = ar(vec![2, 3]);
        let t = t0(call(
            "aten::transpose.int",
            vec![x.clone().into(), Value::Int(0), Value::Int(1)],
        ));
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.to_f32_vec(), vec![0., 3., 1., 4., 2., 5.]);
        assert_eq!(t.storage_id(), x.storage_id());
        let v = t0(call("aten::view.default", vec![t.into(), il(&[-1])]));
        assert_eq!(v.to_f32_vec(), vec![0., 3., 1., 4., 2., 5.]);
        let s = t0(call(
            "aten::slice.Tensor",
            vec![
                x.clone().into(),
                Value::Int(1),
                Value::Int(1),
                Value::Int(i64::MAX),
                Value::Int(1),
            ],
        ));
        assert_eq!(s.to_f32_vec(), vec![1., 2., 4., 5.]);
        let s = t0(call(
            "aten::slice.Tensor",
            vec![
                x.clone().into(),
                Value::Int(-1),
                Value::None,
                Value::None,
                Value::Int(2),
            ],
        ));
        assert_eq!(s.to_f32_vec(), vec![0., 2., 3., 5.]);
        let s = t0(call(
            "aten::select.int",
            vec![x.clone().into(), Value::Int(1), Value::Int(-1)],
        ));
        assert_eq!(s.to_f32_vec(), vec![2., 5.]);
        let e = t0(call(
            "aten::expand.default",
            vec![ar(vec![1, 3]).into(), il(&[2, -1]), Value::Bool(false)],
        ));
        assert_eq!(e.to_f32_vec(), vec![0., 1., 2., 0., 1., 2.]);
        let u = t0(call(
            "aten::unsqueeze.default",
            vec![x.clone().into(), Value::Int(-1)],
        ));
        assert_eq!(u.shape(), &[2, 3, 1]);
        let q = t0(call("aten::squeeze.dim", vec![u.into(), Value::Int(2)]));
        assert_eq!(q.shape(), &[2, 3]);
        let p = t0(call(
            "aten::permute.default",
            vec![ar(vec![2, 3, 4]).into(), il(&[2, 0, 1])],
        ));
        assert_eq!(p.shape(), &[4, 2, 3]);
        assert_eq!(p.to_f32_vec()[..4], [0., 4., 8., 12.]);
        let f = t0(call(
            "aten::flatten.using_ints",
            vec![ar(vec![2, 3, 4]).into(), Value::Int(1), Value::Int(-1)],
        ));
        assert_eq!(f.shape(), &[2, 12]);
    }

    #[test]
    fn cat_stack_split_pad_repeat() {
        let a = ar(vec![2, 2]);
        let b = Tensor::from_f32(vec![2, 1], vec![9., 8.]);
        let c = t0(call(
            "aten::cat.default",
            vec![Value::List(vec![a.clone().into(), b.into()]), Value::Int(1)],
        ));
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.to_f32_vec(), vec![0., 1., 9., 2., 3., 8.]);
        let s = t0(call(
            "aten::stack.default",
            vec![
                Value::List(vec![a.clone().into(), a.clone().into()]),
                Value::Int(0),
            ],
        ));
        assert_eq!(s.shape(), &[2, 2, 2]);
        let parts = call(
            "aten::split.Tensor",
            vec![ar(vec![5]).into(), Value::Int(2), Value::Int(0)],
        );
        let parts = parts[0].as_tensors().unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].to_f32_vec(), vec![4.]);
        let ch = call(
            "aten::chunk.default",
            vec![ar(vec![6]).into(), Value::Int(4), Value::Int(0)],
        );
        assert_eq!(ch[0].as_tensors().unwrap().len(), 3);
        let p = t0(call(
            "aten::constant_pad_nd.default",
            vec![a.clone().into(), il(&[1, 0, 0, 1]), Value::Float(-1.0)],
        ));
        assert_eq!(p.shape(), &[3, 3]);
        assert_eq!(
            p.to_f32_vec(),
            vec![-1., 0., 1., -1., 2., 3., -1., -1., -1.]
        );
        let p = t0(call(
            "aten::constant_pad_nd.default",
            vec![a.clone().into(), il(&[-1, 0]), Value::Float(0.0)],
        ));
        assert_eq!(p.to_f32_vec(), vec![1., 3.]);
        let r = t0(call(
            "aten::repeat.default",
            vec![Tensor::from_f32(vec![2], vec![1., 2.]).into(), il(&[2, 2])],
        ));
        assert_eq!(r.shape(), &[2, 4]);
        assert_eq!(r.to_f32_vec(), vec![1., 2., 1., 2., 1., 2., 1., 2.]);
        let c = t0(call(
            "aten::_to_copy.default",
            vec![
                a.into(),
                Value::Int(4),
                Value::None,
                Value::None,
                Value::None,
                Value::Bool(false),
                Value::None,
            ],
        ));
        assert_eq!(c.dtype(), DType::I64);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let f = lookup("aten::view.default").unwrap();
        assert!(f(
            &mut OpCtx::default(),
            vec![ar(vec![2, 3]).into(), il(&[4, -1])]
        )
        .is_err());
        assert!(f(
            &mut OpCtx::default(),
            vec![ar(vec![2, 3]).into(), il(&[-1, -1])]
        )
        .is_err());
        let f = lookup("aten::select.int").unwrap();
        assert!(f(
            &mut OpCtx::default(),
            vec![ar(vec![2]).into(), Value::Int(0), Value::Int(2)]
        )
        .is_err());
    }
}
