//! Indexing: advanced `index.Tensor` (integer and boolean index tensors, numpy placement
//! rules), index_put, index_select, gather, masked_fill, nonzero.

use super::{arg, broadcast_shapes, iarg, norm_dim, one, opt, targ, to_usize};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// Gather elements of `t` at storage offsets (relative to its element 0).
pub(crate) fn gather_offsets(t: &Tensor, offs: &[usize], shape: Vec<usize>) -> Result<Tensor> {
    let dt = t.dtype();
    Ok(crate::with_elem!(dt, T => {
        let raw = t.raw::<T>()?;
        let v: Vec<T> = offs.iter().map(|&o| raw[o]).collect();
        Tensor::from_vec(dt, shape, v)
    }))
}

/// Long index tensors for `indices` (bool masks expanded to their nonzero coordinates).
fn expand_masks(t: &Tensor, indices: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    let mut out = Vec::new();
    for ix in indices {
        match ix {
            Some(m) if m.dtype() == DType::Bool || m.dtype() == DType::U8 => {
                let d0 = out.len();
                if d0 + m.ndim() > t.ndim() || t.shape()[d0..d0 + m.ndim()] != *m.shape() {
                    return Err(Error::runtime(format!(
                        "boolean index {:?} does not match the indexed dims of {:?}",
                        m.shape(),
                        t.shape()
                    )));
                }
                for c in nonzero(m)? {
                    out.push(Some(c));
                }
            }
            other => out.push(other.clone()),
        }
    }
    Ok(out)
}

/// One 1-d i64 tensor per dim of `m` with the coordinates of its non-zero elements.
fn nonzero(m: &Tensor) -> Result<Vec<Tensor>> {
    let b = m.bools()?;
    let nd = m.ndim().max(1);
    let shape = if m.ndim() == 0 {
        vec![1]
    } else {
        m.shape().to_vec()
    };
    let mut coords: Vec<Vec<i64>> = vec![Vec::new(); nd];
    for (i, &v) in b.iter().enumerate() {
        if v != 0 {
            let mut rem = i;
            for d in (0..nd).rev() {
                coords[d].push((rem % shape[d]) as i64);
                rem /= shape[d];
            }
        }
    }
    Ok(coords
        .into_iter()
        .map(|c| Tensor::from_i64(vec![c.len()], c))
        .collect())
}

/// Storage offsets and result shape of `t[indices]` (numpy advanced indexing).
pub(crate) fn advanced_offsets(
    t: &Tensor,
    indices: &[Option<Tensor>],
) -> Result<(Vec<usize>, Vec<usize>)> {
    let indices = expand_masks(t, indices)?;
    if indices.len() > t.ndim() {
        return Err(Error::runtime(format!(
            "too many indices ({}) for a {}-d tensor",
            indices.len(),
            t.ndim()
        )));
    }
    let pos: Vec<usize> = (0..indices.len())
        .filter(|&i| indices[i].is_some())
        .collect();
    if pos.is_empty() {
        let c = t.contiguous()?;
        return Ok(((0..c.numel()).collect(), c.shape().to_vec()));
    }
    let mut bshape: Vec<usize> = vec![];
    for &p in &pos {
        bshape = broadcast_shapes(
            &bshape,
            indices[p].as_ref().map(|x| x.shape()).unwrap_or(&[]),
        )?;
    }
    let nb: usize = bshape.iter().product();
    // broadcast, normalise and bounds-check every index tensor
    let mut idx: Vec<Vec<usize>> = Vec::with_capacity(pos.len());
    for &p in &pos {
        let it = indices[p]
            .as_ref()
            .ok_or_else(|| Error::runtime("internal: missing index"))?;
        if it.dtype().is_float() {
            return Err(Error::runtime("index tensors must be integer or bool"));
        }
        let e = it.expand_to(&bshape)?;
        let n = t.shape()[p] as i64;
        let v = e
            .i64s()?
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + n } else { i };
                if j < 0 || j >= n {
                    Err(Error::runtime(format!(
                        "index {i} is out of bounds for dim {p} with size {n}"
                    )))
                } else {
                    Ok(j as usize)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        idx.push(v);
    }
    let adjacent = pos.windows(2).all(|w| w[1] == w[0] + 1);
    let rest: Vec<usize> = (0..t.ndim()).filter(|d| !pos.contains(d)).collect();
    let (before, after): (Vec<usize>, Vec<usize>) = if adjacent {
        (
            rest.iter().copied().filter(|&d| d < pos[0]).collect(),
            rest.iter().copied().filter(|&d| d > pos[0]).collect(),
        )
    } else {
        (vec![], rest.clone())
    };
    let mut shape: Vec<usize> = before.iter().map(|&d| t.shape()[d]).collect();
    shape.extend(&bshape);
    shape.extend(after.iter().map(|&d| t.shape()[d]));
    let nbefore: usize = before.iter().map(|&d| t.shape()[d]).product();
    let nafter: usize = after.iter().map(|&d| t.shape()[d]).product();
    let total = crate::tensor::checked_numel(&shape)?;
    if total.saturating_mul(t.dtype().size().max(8)) > crate::storage::MAX_TENSOR_BYTES {
        return Err(Error::oom(format!(
            "indexing result of shape {shape:?} is too large"
        )));
    }
    let mut offs = Vec::new();
    offs.try_reserve_exact(total).map_err(|_| {
        Error::oom(format!(
            "indexing result of shape {shape:?} does not fit in memory"
        ))
    })?;
    let st = t.strides();
    let off_of = |dims: &[usize], mut lin: usize| {
        let mut o = 0usize;
        for &d in dims.iter().rev() {
            o += (lin % t.shape()[d]) * st[d];
            lin /= t.shape()[d];
        }
        o
    };
    for pb in 0..nbefore {
        let ob = off_of(&before, pb);
        for b in 0..nb {
            let oi: usize = pos.iter().zip(&idx).map(|(&p, v)| v[b] * st[p]).sum();
            for pa in 0..nafter {
                offs.push(ob + oi + off_of(&after, pa));
            }
        }
    }
    Ok((offs, shape))
}

pub(crate) fn index_list(v: &Value) -> Result<Vec<Option<Tensor>>> {
    v.as_list()?
        .iter()
        .map(|x| x.as_opt_tensor().map(|o| o.cloned()))
        .collect()
}

fn index(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let (offs, shape) = advanced_offsets(t, &index_list(arg(args, 1)?)?)?;
    one(gather_offsets(t, &offs, shape)?)
}

/// index_put(self, indices, values, accumulate)
fn index_put(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?.contiguous()?;
    let (offs, shape) = advanced_offsets(&t, &index_list(arg(args, 1)?)?)?;
    let vals = targ(args, 2)?.cast(t.dtype())?;
    let vals = vals.expand_to(&shape)?;
    let acc = super::barg_or(args, 3, false)?;
    let dt = t.dtype();
    let out = if dt.is_float() {
        let mut dst = t.f32s()?.into_owned();
        for (&o, &v) in offs.iter().zip(vals.f32s()?.iter()) {
            dst[o] = if acc { dst[o] + v } else { v };
        }
        Tensor::from_f32_as(dt, t.shape().to_vec(), dst)
    } else {
        let mut dst = t.i64s()?.into_owned();
        for (&o, &v) in offs.iter().zip(vals.i64s()?.iter()) {
            dst[o] = if acc { dst[o].wrapping_add(v) } else { v };
        }
        Tensor::from_i64_as(dt, t.shape().to_vec(), dst)
    };
    one(out)
}

fn index_select(t: &Tensor, dim: i64, ix: &Tensor) -> Result<Tensor> {
    if ix.ndim() > 1 {
        return Err(Error::runtime("index_select: index must be 0-d or 1-d"));
    }
    let d = norm_dim(dim, t.ndim())?;
    if t.ndim() == 0 {
        return Ok(t.clone());
    }
    reject_negative("index_select", ix)?;
    let ix1 = ix.reshape(vec![ix.numel()])?;
    let mut list: Vec<Option<Tensor>> = vec![None; d];
    list.push(Some(ix1));
    let (offs, shape) = advanced_offsets(t, &list)?;
    gather_offsets(t, &offs, shape)
}

/// index_select and embedding take indices in `0..size` only: unlike `t[ix]` (which
/// [`advanced_offsets`] serves, wrapping negatives as Python does), PyTorch rejects a negative
/// index there ("index out of range in self"), so we must not return a row for it.
pub(crate) fn reject_negative(op: &str, ix: &Tensor) -> Result<()> {
    match ix.i64s()?.iter().find(|&&i| i < 0) {
        Some(i) => Err(Error::runtime(format!(
            "{op}: index {i} out of range (negative indices are not allowed)"
        ))),
        None => Ok(()),
    }
}

/// gather(self, dim, index, sparse_grad)
fn gather(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let d = norm_dim(iarg(args, 1)?, t.ndim())?;
    let ix = targ(args, 2)?;
    if ix.ndim() != t.ndim() {
        return Err(Error::runtime(
            "gather: index must have as many dims as self",
        ));
    }
    let n = t.shape().get(d).copied().unwrap_or(1) as i64;
    let shape = ix.shape().to_vec();
    let iv = ix.i64s()?;
    let st = t.strides();
    let mut offs = Vec::with_capacity(iv.len());
    for (lin, &i) in iv.iter().enumerate() {
        // No wrapping of negative indices: PyTorch's gather rejects them too.
        if i < 0 || i >= n {
            return Err(Error::runtime(format!(
                "gather: index {i} out of bounds for dimension {d} with size {n}"
            )));
        }
        let mut rem = lin;
        let mut o = 0;
        for k in (0..shape.len()).rev() {
            let c = rem % shape[k];
            rem /= shape[k];
            if k != d && c >= t.shape()[k] {
                return Err(Error::runtime(
                    "gather: index shape exceeds self outside dim",
                ));
            }
            o += if k == d { i as usize } else { c } * st[k];
        }
        offs.push(o);
    }
    one(gather_offsets(t, &offs, shape)?)
}

/// masked_fill(self, mask, value) keeps self's dtype.
fn masked_fill(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let m = targ(args, 1)?;
    let v = arg(args, 2)?.as_f64()?;
    let shape = broadcast_shapes(t.shape(), m.shape())?;
    let em = m.expand_to(&shape)?;
    let mb = em.bools()?;
    let et = t.expand_to(&shape)?;
    fn fill<T: Copy>(mut x: Vec<T>, mask: &[u8], v: T) -> Vec<T> {
        x.iter_mut().zip(mask).for_each(|(x, &b)| {
            if b != 0 {
                *x = v
            }
        });
        x
    }
    let dt = t.dtype();
    let out = if dt == DType::F64 {
        // doubles stay doubles (an f32 round trip would round the kept values)
        Tensor::from_f64_as(dt, shape, fill(et.f64s()?, &mb, v))
    } else if dt.is_float() {
        Tensor::from_f32_as(dt, shape, fill(et.f32s()?.into_owned(), &mb, v as f32))
    } else {
        Tensor::from_i64_as(dt, shape, fill(et.i64s()?.into_owned(), &mb, v as i64))
    };
    one(out)
}

fn nonzero_op(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let cols = nonzero(t)?;
    let n = cols.first().map_or(0, |c| c.numel());
    let nd = t.ndim();
    let mut v = vec![0i64; n * nd];
    for (d, c) in cols.iter().enumerate().take(nd) {
        for (i, &x) in c.i64s()?.iter().enumerate() {
            v[i * nd + d] = x;
        }
    }
    one(Tensor::from_i64(vec![n, nd], v))
}

/// flip(self, dims)
fn flip(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let dims = arg(args, 1)?.as_ints()?;
    let mut flipped = vec![false; t.ndim()];
    for d in dims {
        flipped[super::dim_of(t, d)?] = true;
    }
    let shape = t.shape().to_vec();
    let n = t.numel();
    let mut offs = Vec::with_capacity(n);
    let st = t.strides();
    for lin in 0..n {
        let mut rem = lin;
        let mut o = 0;
        for k in (0..shape.len()).rev() {
            let c = rem % shape[k];
            rem /= shape[k];
            let c = if flipped[k] { shape[k] - 1 - c } else { c };
            o += c * st[k];
        }
        offs.push(o);
    }
    one(gather_offsets(t, &offs, shape)?)
}

/// topk(self, k, dim, largest, sorted) and sort(self, dim, descending) share this: the
/// first `k` elements along `dim` in the requested order, with their indices (stable).
fn sort_k(t: &Tensor, k: Option<usize>, dim: i64, descending: bool) -> Result<(Tensor, Tensor)> {
    if t.ndim() == 0 {
        return Ok((t.clone(), Tensor::from_i64(vec![], vec![0])));
    }
    let d = super::dim_of(t, dim)?;
    let last = t.ndim() - 1;
    let moved = t.transpose(d as i64, last as i64)?;
    let row = moved.shape()[last];
    let k = k.unwrap_or(row);
    if k > row {
        return Err(Error::runtime(format!(
            "k ({k}) is larger than the dimension ({row})"
        )));
    }
    let v = moved.f64s()?;
    let rows = v.len().checked_div(row).unwrap_or(0);
    let mut vals = Vec::with_capacity(rows * k);
    let mut idx = Vec::with_capacity(rows * k);
    for r in 0..rows {
        let s = &v[r * row..(r + 1) * row];
        let mut order: Vec<usize> = (0..row).collect();
        // NaN sorts as the largest value, like PyTorch
        let key = |i: &usize| s[*i];
        order.sort_by(|a, b| {
            let (x, y) = (key(a), key(b));
            let o = match (x.is_nan(), y.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            };
            if descending {
                o.reverse()
            } else {
                o
            }
        });
        for &i in &order[..k] {
            vals.push(s[i]);
            idx.push(i as i64);
        }
    }
    let mut shape = moved.shape().to_vec();
    shape[last] = k;
    let vt = Tensor::from_f64_as(t.dtype(), shape.clone(), vals);
    let it = Tensor::from_i64(shape, idx);
    Ok((
        vt.transpose(d as i64, last as i64)?.contiguous()?,
        it.transpose(d as i64, last as i64)?.contiguous()?,
    ))
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::index.Tensor" => |_: &mut OpCtx, a: Vec<Value>| index(&a),
        "aten::index_put.default" => |_: &mut OpCtx, a: Vec<Value>| index_put(&a),
        "aten::index_select.default" => |_: &mut OpCtx, a: Vec<Value>| one(index_select(targ(&a, 0)?, iarg(&a, 1)?, targ(&a, 2)?)?),
        "aten::gather.default" => |_: &mut OpCtx, a: Vec<Value>| gather(&a),
        "aten::masked_fill.Scalar" => |_: &mut OpCtx, a: Vec<Value>| masked_fill(&a),
        "aten::masked_fill.Tensor" => |_: &mut OpCtx, a: Vec<Value>| masked_fill(&a),
        "aten::masked_fill_.Scalar" => |_: &mut OpCtx, a: Vec<Value>| masked_fill(&a),
        "aten::flip.default" => |_: &mut OpCtx, a: Vec<Value>| flip(&a),
        "aten::topk.default" => |_: &mut OpCtx, a: Vec<Value>| {
            let k = to_usize(iarg(&a, 1)?, "k")?;
            let dim = opt(&a, 2).as_opt_int()?.unwrap_or(-1);
            let largest = super::barg_or(&a, 3, true)?;
            let (v, i) = sort_k(targ(&a, 0)?, Some(k), dim, largest)?;
            Ok(vec![v.into(), i.into()])
        },
        "aten::sort.default" => |_: &mut OpCtx, a: Vec<Value>| {
            let dim = opt(&a, 1).as_opt_int()?.unwrap_or(-1);
            let (v, i) = sort_k(targ(&a, 0)?, None, dim, super::barg_or(&a, 2, false)?)?;
            Ok(vec![v.into(), i.into()])
        },
        "aten::sort.stable" => |_: &mut OpCtx, a: Vec<Value>| {
            let dim = opt(&a, 2).as_opt_int()?.unwrap_or(-1);
            let (v, i) = sort_k(targ(&a, 0)?, None, dim, super::barg_or(&a, 3, false)?)?;
            Ok(vec![v.into(), i.into()])
        },
        "aten::nonzero.default" => |_: &mut OpCtx, a: Vec<Value>| nonzero_op(&a),
        // torch.where(cond) / nonzero(as_tuple=True): one index column per dim (a 0-d
        // condition counts as 1-d, like PyTorch).
        "aten::where.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::List(nonzero(targ(&a, 0)?)?.into_iter().map(Value::Tensor).collect())]),
        "aten::nonzero_numpy.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::List(nonzero(targ(&a, 0)?)?.into_iter().map(Value::Tensor).collect())]),
    );
    let _ = (opt, to_usize);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::registry::lookup;
    use crate::ops::test_util::call_t;

    fn x() -> Tensor {
        Tensor::from_f32(vec![3, 4], (0..12).map(|v| v as f32).collect())
    }
    fn ix(v: Vec<i64>) -> Value {
        Tensor::from_i64(vec![v.len()], v).into()
    }

    #[test]
    fn advanced_indexing() {
        let r = call_t(
            "aten::index.Tensor",
            vec![x().into(), Value::List(vec![ix(vec![2, 0])])],
        );
        assert_eq!(r.shape(), &[2, 4]);
        assert_eq!(r.to_f32_vec(), vec![8., 9., 10., 11., 0., 1., 2., 3.]);
        let r = call_t(
            "aten::index.Tensor",
            vec![x().into(), Value::List(vec![Value::None, ix(vec![-1, 1])])],
        );
        assert_eq!(r.shape(), &[3, 2]);
        assert_eq!(r.to_f32_vec(), vec![3., 1., 7., 5., 11., 9.]);
        let r = call_t(
            "aten::index.Tensor",
            vec![
                x().into(),
                Value::List(vec![ix(vec![0, 2]), ix(vec![1, 3])]),
            ],
        );
        assert_eq!(r.to_f32_vec(), vec![1., 11.]);
        let mask = Tensor::from_bool(vec![3], vec![true, false, true]);
        let r = call_t(
            "aten::index.Tensor",
            vec![x().into(), Value::List(vec![mask.into()])],
        );
        assert_eq!(r.shape(), &[2, 4]);
        let f = lookup("aten::index.Tensor").unwrap();
        assert!(f(
            &mut OpCtx::default(),
            vec![x().into(), Value::List(vec![ix(vec![3])])]
        )
        .is_err());
    }

    #[test]
    fn negative_indices_are_rejected_where_pytorch_rejects_them() {
        // PyTorch: gather, index_select and embedding refuse -1 ("out of bounds" / "index out
        // of range in self"); only `t[ix]` (index.Tensor, tested above) wraps it.
        let f = |name: &str, args: Vec<Value>| lookup(name).unwrap()(&mut OpCtx::default(), args);
        let gather = f(
            "aten::gather.default",
            vec![
                x().into(),
                Value::Int(1),
                Tensor::from_i64(vec![3, 1], vec![0, -1, 2]).into(),
            ],
        );
        assert!(gather
            .unwrap_err()
            .to_string()
            .contains("index -1 out of bounds"));
        let select = f(
            "aten::index_select.default",
            vec![x().into(), Value::Int(0), ix(vec![0, -1])],
        );
        assert!(select
            .unwrap_err()
            .to_string()
            .contains("index -1 out of range"));
        let embed = f("aten::embedding.default", vec![x().into(), ix(vec![-3])]);
        assert!(embed
            .unwrap_err()
            .to_string()
            .contains("index -3 out of range"));
    }

    #[test]
    fn select_embed_gather_fill_put() {
        let r = call_t(
            "aten::index_select.default",
            vec![x().into(), Value::Int(1), ix(vec![3, 0])],
        );
        assert_eq!(r.to_f32_vec(), vec![3., 0., 7., 4., 11., 8.]);
        let ids = Tensor::from_i64(vec![1, 2], vec![2, 1]);
        let r = call_t(
            "aten::embedding.default",
            vec![
                x().into(),
                ids.into(),
                Value::Int(-1),
                Value::Bool(false),
                Value::Bool(false),
            ],
        );
        assert_eq!(r.shape(), &[1, 2, 4]);
        assert_eq!(r.to_f32_vec()[..5], [8., 9., 10., 11., 4.]);
        let gi = Tensor::from_i64(vec![3, 1], vec![3, 0, 1]);
        let r = call_t(
            "aten::gather.default",
            vec![x().into(), Value::Int(1), gi.into(), Value::Bool(false)],
        );
        assert_eq!(r.to_f32_vec(), vec![3., 4., 9.]);
        let m = Tensor::from_bool(vec![4], vec![true, false, false, true]);
        let r = call_t(
            "aten::masked_fill.Scalar",
            vec![x().into(), m.into(), Value::Float(-1.0)],
        );
        assert_eq!(r.to_f32_vec()[..4], [-1., 1., 2., -1.]);
        let r = call_t(
            "aten::index_put.default",
            vec![
                x().into(),
                Value::List(vec![ix(vec![1])]),
                Tensor::from_f32(vec![], vec![0.0]).into(),
                Value::Bool(false),
            ],
        );
        assert_eq!(r.to_f32_vec()[4..8], [0., 0., 0., 0.]);
        let r = call_t(
            "aten::nonzero.default",
            vec![Tensor::from_i64(vec![2, 2], vec![0, 1, 1, 0]).into()],
        );
        assert_eq!(r.to_i64_vec(), vec![0, 1, 1, 0]);
    }
}
