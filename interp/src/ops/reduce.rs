//! Reductions: sum, mean, prod, amax/amin, max/min (with indices), argmax/argmin, var/std,
//! any/all, the scans (cumsum, cumprod, logcumsumexp, cummax, cummin).

use wasm_torch_kernels::reduce::{reduce_axis, ReduceOp};

use super::{arg, barg_or, category, iarg, norm_dim, one, opt, targ, Cat};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::storage::try_alloc;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// Reduced dims (sorted, unique); `None`/empty means all dims.
pub(crate) fn dims_of(v: &Value, ndim: usize) -> Result<Vec<usize>> {
    let ds = match v {
        Value::None => vec![],
        v => v.as_ints()?,
    };
    if ds.is_empty() {
        return Ok((0..ndim).collect());
    }
    let mut out = ds
        .iter()
        .map(|&d| norm_dim(d, ndim))
        .collect::<Result<Vec<_>>>()?;
    out.sort_unstable();
    out.dedup();
    if ndim == 0 {
        out.clear();
    }
    Ok(out)
}

/// Move the reduced dims last and make contiguous: returns (data tensor, rows, row_len, out shape).
fn arrange(
    x: &Tensor,
    dims: &[usize],
    keepdim: bool,
) -> Result<(Tensor, usize, usize, Vec<usize>)> {
    let nd = x.ndim();
    let kept: Vec<usize> = (0..nd).filter(|d| !dims.contains(d)).collect();
    let order: Vec<i64> = kept.iter().chain(dims.iter()).map(|&d| d as i64).collect();
    let p = x.permute(&order)?.contiguous()?;
    let rows: usize = kept.iter().map(|&d| x.shape()[d]).product();
    let row: usize = dims.iter().map(|&d| x.shape()[d]).product();
    let shape = if keepdim {
        (0..nd)
            .map(|d| if dims.contains(&d) { 1 } else { x.shape()[d] })
            .collect()
    } else {
        kept.iter().map(|&d| x.shape()[d]).collect()
    };
    Ok((p, rows, row, shape))
}

/// Sum/mean/prod/max/min of each of `rows` contiguous f32 rows of `row` values.
fn rows_f32(p: &Tensor, rows: usize, row: usize, op: ReduceOp) -> Result<Vec<f32>> {
    let mut out = try_alloc::<f32>(rows)?;
    if rows > 0 && row > 0 && matches!(op, ReduceOp::Sum | ReduceOp::Mean) {
        // contiguous rows: 8 independent accumulators vectorise (the axis kernel walks
        // an inner dim of 1 element at a time here)
        let v = p.f32s()?;
        for (o, r) in out.iter_mut().zip(v.chunks_exact(row)) {
            let mut acc = [0f32; 8];
            let mut it = r.chunks_exact(8);
            for c in &mut it {
                for (a, x) in acc.iter_mut().zip(c) {
                    *a += x;
                }
            }
            let tail: f32 = it.remainder().iter().sum();
            let s = acc.iter().sum::<f32>() + tail;
            *o = if op == ReduceOp::Mean {
                s / row as f32
            } else {
                s
            };
        }
    } else if rows > 0 {
        reduce_axis(op, &p.f32s()?, rows, row, 1, &mut out);
    }
    Ok(out)
}

/// Sum/prod/max/min of each of `rows` contiguous integer rows of `row` values (wrapping,
/// like PyTorch's int64 accumulation).
fn rows_i64(p: &Tensor, rows: usize, row: usize, op: ReduceOp) -> Result<Vec<i64>> {
    let v = p.i64s()?;
    Ok((0..rows)
        .map(|r| {
            let s = &v[r * row..(r + 1) * row];
            match op {
                ReduceOp::Sum | ReduceOp::Mean => s.iter().fold(0i64, |a, &b| a.wrapping_add(b)),
                ReduceOp::Prod => s.iter().fold(1i64, |a, &b| a.wrapping_mul(b)),
                ReduceOp::Max => s.iter().copied().max().unwrap_or(i64::MIN),
                ReduceOp::Min => s.iter().copied().min().unwrap_or(i64::MAX),
            }
        })
        .collect())
}

/// sum / prod / amax / amin / mean over `dims`, with PyTorch's result dtypes: integer and
/// bool sums and products give int64, integer max/min keep their dtype, integer means are
/// refused; floats keep their dtype (computed in f32).
fn reduce(
    x: &Tensor,
    dims: &[usize],
    keepdim: bool,
    op: ReduceOp,
    dtype: Option<DType>,
) -> Result<Tensor> {
    let x = match dtype {
        Some(d) if d != x.dtype() => x.cast(d)?,
        _ => x.clone(),
    };
    let int = category(x.dtype()) != Cat::Float;
    if int && op == ReduceOp::Mean {
        return Err(Error::runtime(
            "mean of an integer tensor needs a float dtype",
        ));
    }
    let (p, rows, row, shape) = arrange(&x, dims, keepdim)?;
    if row == 0 && matches!(op, ReduceOp::Max | ReduceOp::Min) {
        return Err(Error::runtime("max/min of an empty dimension"));
    }
    Ok(if int {
        let dtype = if matches!(op, ReduceOp::Sum | ReduceOp::Prod) {
            DType::I64
        } else {
            x.dtype()
        };
        Tensor::from_i64_as(dtype, shape, rows_i64(&p, rows, row, op)?)
    } else {
        Tensor::from_f32_as(x.dtype(), shape, rows_f32(&p, rows, row, op)?)
    })
}

fn reduce_op(
    args: &[Value],
    op: ReduceOp,
    dims_at: Option<usize>,
    keep_at: Option<usize>,
    dtype_at: Option<usize>,
) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let dims = dims_of(dims_at.map_or(&Value::None, |i| opt(args, i)), x.ndim())?;
    let keep = keep_at.map_or(Ok(false), |i| barg_or(args, i, false))?;
    let dt = dtype_at.map_or(Ok(None), |i| opt(args, i).as_opt_dtype())?;
    one(reduce(x, &dims, keep, op, dt)?)
}

/// (values, indices) of max/min along one dim; first occurrence wins, NaN counts as max.
fn arg_reduce(x: &Tensor, dim: Option<i64>, keepdim: bool, max: bool) -> Result<(Tensor, Tensor)> {
    let (x, dims) = match dim {
        Some(d) => {
            let d = norm_dim(d, x.ndim())?;
            (x.clone(), if x.ndim() == 0 { vec![] } else { vec![d] })
        }
        None => (x.reshape(vec![x.numel()])?, vec![0]),
    };
    let keepdim = keepdim && dim.is_some();
    let (p, rows, row, shape) = arrange(&x, &dims, keepdim)?;
    if row == 0 {
        return Err(Error::runtime("argmax/argmin of an empty dimension"));
    }
    let v = p.f64s()?;
    let mut vals = Vec::with_capacity(rows);
    let mut idx = Vec::with_capacity(rows);
    for r in 0..rows {
        let s = &v[r * row..(r + 1) * row];
        let mut best = 0;
        for i in 1..row {
            let (a, b) = (s[i], s[best]);
            if b.is_nan() {
                break;
            }
            if a.is_nan() || (max && a > b) || (!max && a < b) {
                best = i;
            }
        }
        vals.push(s[best]);
        idx.push(best as i64);
    }
    Ok((
        Tensor::from_f64_as(x.dtype(), shape.clone(), vals),
        Tensor::from_i64(shape, idx),
    ))
}

/// var/std with `correction` (Bessel's = 1).
pub(crate) fn var_std(
    x: &Tensor,
    dims: &[usize],
    correction: f64,
    keepdim: bool,
    std: bool,
) -> Result<Tensor> {
    let (p, rows, row, shape) = arrange(x, dims, keepdim)?;
    let v = p.f64s()?;
    let out: Vec<f64> = (0..rows)
        .map(|r| {
            let s = &v[r * row..(r + 1) * row];
            let m = s.iter().sum::<f64>() / row as f64;
            let ss = s.iter().map(|a| (a - m) * (a - m)).sum::<f64>();
            let var = ss / (row as f64 - correction).max(0.0);
            if std {
                var.sqrt()
            } else {
                var
            }
        })
        .collect();
    let dt = if x.dtype().is_float() {
        x.dtype()
    } else {
        DType::F32
    };
    Ok(Tensor::from_f64_as(dt, shape, out))
}

/// The mean over `dims` in f64 (the input's float dtype, f32 for integers), for the
/// paired `var_mean` / `std_mean` reductions.
pub(crate) fn mean_f64(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    let (p, rows, row, shape) = arrange(x, dims, keepdim)?;
    let v = p.f64s()?;
    let out: Vec<f64> = (0..rows)
        .map(|r| v[r * row..(r + 1) * row].iter().sum::<f64>() / row as f64)
        .collect();
    Ok(Tensor::from_f64_as(super::float_out(x), shape, out))
}

fn var_correction(args: &[Value], std: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let dims = dims_of(opt(args, 1), x.ndim())?;
    let corr = opt(args, 2).as_opt_f64()?.unwrap_or(1.0);
    one(var_std(x, &dims, corr, barg_or(args, 3, false)?, std)?)
}

/// TorchScript form: var.dim(self, dim, unbiased, keepdim)
fn var_dim(args: &[Value], std: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let dims = dims_of(opt(args, 1), x.ndim())?;
    let unbiased = barg_or(args, 2, true)?;
    one(var_std(
        x,
        &dims,
        if unbiased { 1.0 } else { 0.0 },
        barg_or(args, 3, false)?,
        std,
    )?)
}

fn any_all(
    args: &[Value],
    any: bool,
    dims_at: Option<usize>,
    keep_at: Option<usize>,
) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let dims = dims_of(dims_at.map_or(&Value::None, |i| opt(args, i)), x.ndim())?;
    let keep = keep_at.map_or(Ok(false), |i| barg_or(args, i, false))?;
    // Truth values as bytes (x != 0; NaN counts as true, as in PyTorch), reduced dims
    // moved last, then one pass per output.
    let b = if x.dtype() == DType::Bool {
        x.clone()
    } else {
        Tensor::from_bool_bytes(x.shape().to_vec(), x.bools()?.into_owned())
    };
    let (p, rows, row, shape) = arrange(&b, &dims, keep)?;
    let v = p.bools()?;
    let out: Vec<u8> = if row == 0 {
        vec![u8::from(!any); rows]
    } else if any {
        v.chunks_exact(row)
            .map(|r| u8::from(r.iter().any(|&e| e != 0)))
            .collect()
    } else {
        v.chunks_exact(row)
            .map(|r| u8::from(r.iter().all(|&e| e != 0)))
            .collect()
    };
    one(Tensor::from_bool_bytes(shape, out))
}

/// A running reduction along `dim`: the output keeps the input's shape.
#[derive(Clone, Copy)]
enum Scan {
    Sum,
    Prod,
    LogSumExp,
}

/// cumsum / cumprod(self, dim, dtype=None) and logcumsumexp(self, dim): `dim` is moved
/// last, each row is scanned, and it is moved back.
fn cumulative(args: &[Value], scan: Scan) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let d = norm_dim(iarg(args, 1)?, x.ndim())?;
    let natural = if x.dtype().is_float() {
        x.dtype()
    } else if matches!(scan, Scan::LogSumExp) {
        DType::F32
    } else {
        DType::I64
    };
    let dt = match scan {
        Scan::LogSumExp => natural,
        _ => opt(args, 2).as_opt_dtype()?.unwrap_or(natural),
    };
    if x.ndim() == 0 {
        return one(x.cast(dt)?);
    }
    let last = x.ndim() - 1;
    let moved = x.transpose(d as i64, last as i64)?;
    let row = moved.shape()[last];
    let shape = moved.shape().to_vec();
    let t = if dt.is_float() {
        let mut v = moved.f64s()?;
        for r in v.chunks_mut(row.max(1)) {
            let mut acc = match scan {
                Scan::Sum => 0.0,
                Scan::Prod => 1.0,
                Scan::LogSumExp => f64::NEG_INFINITY,
            };
            for e in r.iter_mut() {
                acc = match scan {
                    Scan::Sum => acc + *e,
                    Scan::Prod => acc * *e,
                    Scan::LogSumExp => log_add_exp(acc, *e),
                };
                *e = acc;
            }
        }
        Tensor::from_f64_as(dt, shape, v)
    } else {
        let mut v = moved.i64s()?.into_owned();
        for r in v.chunks_mut(row.max(1)) {
            let mut acc = i64::from(matches!(scan, Scan::Prod));
            for e in r.iter_mut() {
                acc = match scan {
                    Scan::Prod => acc.wrapping_mul(*e),
                    _ => acc.wrapping_add(*e),
                };
                *e = acc;
            }
        }
        Tensor::from_i64_as(dt, shape, v)
    };
    one(t.transpose(d as i64, last as i64)?.contiguous()?)
}

/// `log(exp(a) + exp(b))` without overflow; `-inf` is the identity, NaN propagates.
fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY || hi.is_nan() || lo.is_nan() {
        return if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            hi
        };
    }
    if hi == f64::INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// cummax / cummin(self, dim) -> (values, indices): the running extreme and the index where
/// it was reached; like PyTorch, a later equal value or any NaN moves the index.
fn cum_extreme(args: &[Value], max: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let d = norm_dim(iarg(args, 1)?, x.ndim())?;
    if x.ndim() == 0 {
        return Ok(vec![
            x.clone().into(),
            Tensor::from_i64(vec![], vec![0]).into(),
        ]);
    }
    let last = x.ndim() - 1;
    let moved = x.transpose(d as i64, last as i64)?;
    let row = moved.shape()[last].max(1);
    let shape = moved.shape().to_vec();
    let better = |v: f64, best: f64| v.is_nan() || if max { v >= best } else { v <= best };
    let mut idx = Vec::new();
    let values = if x.dtype().is_float() {
        let mut v = moved.f64s()?;
        idx = vec![0i64; v.len()];
        for (r, ir) in v.chunks_mut(row).zip(idx.chunks_mut(row)) {
            let (mut best, mut at) = (r[0], 0);
            for (j, (e, i)) in r.iter_mut().zip(ir.iter_mut()).enumerate() {
                if !best.is_nan() && better(*e, best) {
                    (best, at) = (*e, j);
                } else if best.is_nan() && e.is_nan() {
                    at = j;
                }
                (*e, *i) = (best, at as i64);
            }
        }
        Tensor::from_f64_as(x.dtype(), shape.clone(), v)
    } else {
        let mut v = moved.i64s()?.into_owned();
        idx.resize(v.len(), 0);
        for (r, ir) in v.chunks_mut(row).zip(idx.chunks_mut(row)) {
            let (mut best, mut at) = (r[0], 0);
            for (j, (e, i)) in r.iter_mut().zip(ir.iter_mut()).enumerate() {
                if if max { *e >= best } else { *e <= best } {
                    (best, at) = (*e, j);
                }
                (*e, *i) = (best, at as i64);
            }
        }
        Tensor::from_i64_as(x.dtype(), shape.clone(), v)
    };
    let back = |t: Tensor| -> Result<Value> {
        Ok(t.transpose(d as i64, last as i64)?.contiguous()?.into())
    };
    Ok(vec![back(values)?, back(Tensor::from_i64(shape, idx))?])
}

/// linalg_vector_norm(self, ord, dim, keepdim, dtype)
fn vector_norm(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let ord = opt(args, 1).as_opt_f64()?.unwrap_or(2.0);
    let dims = dims_of(opt(args, 2), x.ndim())?;
    let keep = barg_or(args, 3, false)?;
    let x = match opt(args, 4).as_opt_dtype()? {
        Some(d) => x.cast(d)?,
        None if !x.dtype().is_float() => x.cast(DType::F32)?,
        None => x.clone(),
    };
    let (p, rows, row, shape) = arrange(&x, &dims, keep)?;
    let v = p.f64s()?;
    let out: Vec<f64> = (0..rows)
        .map(|r| {
            let s = &v[r * row..(r + 1) * row];
            if ord == f64::INFINITY {
                s.iter().fold(0.0f64, |a, b| a.max(b.abs()))
            } else if ord == f64::NEG_INFINITY {
                s.iter().fold(f64::INFINITY, |a, b| a.min(b.abs()))
            } else if ord == 0.0 {
                s.iter().filter(|b| **b != 0.0).count() as f64
            } else {
                s.iter()
                    .map(|b| b.abs().powf(ord))
                    .sum::<f64>()
                    .powf(1.0 / ord)
            }
        })
        .collect();
    one(Tensor::from_f64_as(x.dtype(), shape, out))
}

/// diff(self, n, dim, prepend, append)
fn diff(args: &[Value]) -> Result<Vec<Value>> {
    let mut x = targ(args, 0)?.clone();
    let n = opt(args, 1).as_opt_int()?.unwrap_or(1);
    let d = super::dim_of(&x, opt(args, 2).as_opt_int()?.unwrap_or(-1))?;
    if let Some(p) = opt(args, 3).as_opt_tensor()? {
        x = Tensor::cat(&[p.clone(), x], d as i64)?;
    }
    if let Some(a) = opt(args, 4).as_opt_tensor()? {
        x = Tensor::cat(&[x, a.clone()], d as i64)?;
    }
    for _ in 0..n.max(0) {
        let len = x.shape()[d] as i64;
        if len == 0 {
            break;
        }
        let hi = x.slice(d, Some(1), None, 1)?;
        let lo = x.slice(d, None, Some(len - 1), 1)?;
        x = if x.dtype() == DType::Bool {
            crate::ops::elementwise::binary(
                Value::Tensor(hi),
                &Value::Tensor(lo),
                crate::ops::elementwise::Bin::Ne,
                None,
            )?
        } else {
            crate::ops::elementwise::binary(
                Value::Tensor(hi),
                &Value::Tensor(lo),
                crate::ops::elementwise::Bin::Sub,
                None,
            )?
        };
    }
    one(x)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::sum.dim_IntList" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Sum, Some(1), Some(2), Some(3)),
        "aten::sum.default" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Sum, None, None, Some(1)),
        "aten::mean.dim" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Mean, Some(1), Some(2), Some(3)),
        "aten::mean.default" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Mean, None, None, Some(1)),
        "aten::prod.dim_int" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Prod, Some(1), Some(2), Some(3)),
        "aten::prod.default" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Prod, None, None, Some(1)),
        "aten::amax.default" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Max, Some(1), Some(2), None),
        "aten::amin.default" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Min, Some(1), Some(2), None),
        "aten::max.default" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Max, None, None, None),
        "aten::min.default" => |_: &mut OpCtx, a: Vec<Value>| reduce_op(&a, ReduceOp::Min, None, None, None),
        "aten::max.dim" => |_: &mut OpCtx, a: Vec<Value>| { let (v, i) = arg_reduce(targ(&a, 0)?, Some(iarg(&a, 1)?), barg_or(&a, 2, false)?, true)?; Ok(vec![v.into(), i.into()]) },
        "aten::min.dim" => |_: &mut OpCtx, a: Vec<Value>| { let (v, i) = arg_reduce(targ(&a, 0)?, Some(iarg(&a, 1)?), barg_or(&a, 2, false)?, false)?; Ok(vec![v.into(), i.into()]) },
        "aten::argmax.default" => |_: &mut OpCtx, a: Vec<Value>| one(arg_reduce(targ(&a, 0)?, opt(&a, 1).as_opt_int()?, barg_or(&a, 2, false)?, true)?.1),
        "aten::argmin.default" => |_: &mut OpCtx, a: Vec<Value>| one(arg_reduce(targ(&a, 0)?, opt(&a, 1).as_opt_int()?, barg_or(&a, 2, false)?, false)?.1),
        "aten::var.correction" => |_: &mut OpCtx, a: Vec<Value>| var_correction(&a, false),
        "aten::std.correction" => |_: &mut OpCtx, a: Vec<Value>| var_correction(&a, true),
        "aten::var.dim" => |_: &mut OpCtx, a: Vec<Value>| var_dim(&a, false),
        "aten::std.dim" => |_: &mut OpCtx, a: Vec<Value>| var_dim(&a, true),
        "aten::any.default" => |_: &mut OpCtx, a: Vec<Value>| any_all(&a, true, None, None),
        "aten::any.dim" => |_: &mut OpCtx, a: Vec<Value>| any_all(&a, true, Some(1), Some(2)),
        "aten::any.dims" => |_: &mut OpCtx, a: Vec<Value>| any_all(&a, true, Some(1), Some(2)),
        "aten::all.default" => |_: &mut OpCtx, a: Vec<Value>| any_all(&a, false, None, None),
        "aten::all.dim" => |_: &mut OpCtx, a: Vec<Value>| any_all(&a, false, Some(1), Some(2)),
        "aten::cumsum.default" => |_: &mut OpCtx, a: Vec<Value>| cumulative(&a, Scan::Sum),
        "aten::cumprod.default" => |_: &mut OpCtx, a: Vec<Value>| cumulative(&a, Scan::Prod),
        "aten::logcumsumexp.default" => |_: &mut OpCtx, a: Vec<Value>| cumulative(&a, Scan::LogSumExp),
        "aten::cummax.default" => |_: &mut OpCtx, a: Vec<Value>| cum_extreme(&a, true),
        "aten::cummin.default" => |_: &mut OpCtx, a: Vec<Value>| cum_extreme(&a, false),
        "aten::linalg_vector_norm.default" => |_: &mut OpCtx, a: Vec<Value>| vector_norm(&a),
        "aten::diff.default" => |_: &mut OpCtx, a: Vec<Value>| diff(&a),
    );
    let _ = arg;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{call, il};

    fn x() -> Tensor {
        Tensor::from_f32(vec![2, 3], vec![1., 5., 3., 4., 2., 6.])
    }

    /// any/all test truth (x != 0, NaN true): 0.5 is true, unlike a cast to int first.
    #[test]
    fn any_all_truth_values() {
        let t = Tensor::from_f32(vec![2, 3], vec![0.0, 0.5, 0.0, f32::NAN, -0.0, 2.0]);
        let r = call(
            "aten::any.dim",
            vec![t.clone().into(), Value::Int(1), Value::Bool(false)],
        );
        let r = r[0].as_tensor().unwrap();
        assert_eq!((r.dtype(), r.shape()), (DType::Bool, &[2usize][..]));
        assert_eq!(r.to_i64_vec(), vec![1, 1]);
        let r = call(
            "aten::all.dim",
            vec![t.clone().into(), Value::Int(0), Value::Bool(true)],
        );
        let r = r[0].as_tensor().unwrap();
        assert_eq!(r.shape(), &[1, 3]);
        assert_eq!(r.to_i64_vec(), vec![0, 0, 0]);
        let r = call(
            "aten::any.dim",
            vec![t.into(), Value::Int(0), Value::Bool(false)],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_i64_vec(), vec![1, 1, 1]);
        // A transposed bool view, and an empty reduction (any → false, all → true).
        let b = Tensor::from_bool(vec![2, 2], vec![true, false, false, false]);
        let bt = b.transpose(0, 1).unwrap();
        let r = call(
            "aten::any.dim",
            vec![bt.into(), Value::Int(1), Value::Bool(false)],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_i64_vec(), vec![1, 0]);
        let e = Tensor::from_f32(vec![2, 0], vec![]);
        let r = call(
            "aten::all.dim",
            vec![e.clone().into(), Value::Int(1), Value::Bool(false)],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_i64_vec(), vec![1, 1]);
        let r = call(
            "aten::any.dim",
            vec![e.into(), Value::Int(1), Value::Bool(false)],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_i64_vec(), vec![0, 0]);
    }

    #[test]
    fn sums_means_and_extrema() {
        let r = call(
            "aten::sum.dim_IntList",
            vec![x().into(), il(&[1]), Value::Bool(false), Value::None],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![9., 12.]);
        let r = call(
            "aten::mean.dim",
            vec![x().into(), il(&[0]), Value::Bool(true), Value::None],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 3]);
        assert_eq!(t.to_f32_vec(), vec![2.5, 3.5, 4.5]);
        let r = call(
            "aten::amax.default",
            vec![x().into(), il(&[-1]), Value::Bool(false)],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![5., 6.]);
        let r = call(
            "aten::max.dim",
            vec![x().into(), Value::Int(1), Value::Bool(true)],
        );
        assert_eq!(r[1].as_tensor().unwrap().to_i64_vec(), vec![1, 2]);
        assert_eq!(r[1].as_tensor().unwrap().shape(), &[2, 1]);
        let r = call(
            "aten::argmax.default",
            vec![x().into(), Value::None, Value::Bool(false)],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_i64_vec(), vec![5]);
        let r = call(
            "aten::sum.default",
            vec![
                Tensor::from_bool(vec![3], vec![true, false, true]).into(),
                Value::None,
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!((t.dtype(), t.to_i64_vec()), (DType::I64, vec![2]));
        let r = call(
            "aten::var.correction",
            vec![x().into(), il(&[1]), Value::Int(1), Value::Bool(false)],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![4., 4.]);
        let r = call(
            "aten::cumsum.default",
            vec![x().into(), Value::Int(1), Value::None],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![1., 6., 9., 4., 6., 12.]
        );
        let r = call(
            "aten::any.default",
            vec![Tensor::from_bool(vec![2], vec![false, true]).into()],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_i64_vec(), vec![1]);
        let r = call(
            "aten::all.default",
            vec![Tensor::from_bool(vec![2], vec![false, true]).into()],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_i64_vec(), vec![0]);
    }
}
