//! The scatter family: `scatter` (src / value), `scatter_add`, `scatter_reduce`
//! (sum, prod, mean, amax, amin; with or without `self`'s values), `select_scatter`,
//! `slice_scatter` and `masked_scatter`.
//!
//! All are functional: the result is a new tensor with `self`'s shape and dtype (values
//! are cast to it). Every index is checked: out-of-range indices (PyTorch does not wrap
//! negative scatter indices either), index/source shapes that do not fit, and a source
//! too short for a mask are errors naming the offending value. Copies keep exact storage
//! bits for every dtype; reductions accumulate floats in f64 and integers in wrapping i64
//! (integer `mean` rounds toward negative infinity, like PyTorch).

use super::{arg, broadcast_shapes, dim_of, iarg, norm_dim, one, opt, targ};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::{contiguous_strides, DType, Tensor};
use crate::value::Value;

/// A shape with 0-d read as `[1]` (scatter treats scalars as one-element vectors).
fn shape1(t: &Tensor) -> Vec<usize> {
    if t.ndim() == 0 {
        vec![1]
    } else {
        t.shape().to_vec()
    }
}

/// Row-major element offsets of the view `shape`/`strides` at `base`.
fn region_offsets(shape: &[usize], strides: &[usize], base: usize) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let mut idx = vec![0usize; shape.len()];
    let mut off = base;
    for _ in 0..n {
        out.push(off);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d];
            idx[d] = 0;
        }
    }
    out
}

/// For every element of `index` (row-major): its destination offset in contiguous `self`
/// and, when `src_shape` is given, the offset of its value in contiguous `src` (else 0).
fn scatter_plan(
    self_t: &Tensor,
    dim: i64,
    index: &Tensor,
    src_shape: Option<&[usize]>,
) -> Result<Vec<(usize, usize)>> {
    let ss = shape1(self_t);
    let d = norm_dim(dim, self_t.ndim())?;
    if index.dtype().is_float() || index.dtype() == DType::Bool {
        return Err(Error::runtime(format!(
            "scatter: index must be an integer tensor, got {}",
            index.dtype().name()
        )));
    }
    let is = shape1(index);
    if index.numel() == 0 {
        return Ok(Vec::new());
    }
    if is.len() != ss.len() {
        return Err(Error::runtime(format!(
            "scatter: index {:?} must have as many dims as self {:?}",
            index.shape(),
            self_t.shape()
        )));
    }
    for k in 0..is.len() {
        if k != d && is[k] > ss[k] {
            return Err(Error::runtime(format!(
                "scatter: index {:?} is larger than self {:?} outside dim {d}",
                index.shape(),
                self_t.shape()
            )));
        }
    }
    let src_strides = match src_shape {
        Some(sr) => {
            let sr1 = if sr.is_empty() { vec![1] } else { sr.to_vec() };
            if sr1.len() != is.len() || is.iter().zip(&sr1).any(|(i, s)| i > s) {
                return Err(Error::runtime(format!(
                    "scatter: index {:?} is larger than src {sr:?}",
                    index.shape()
                )));
            }
            contiguous_strides(&sr1)
        }
        None => vec![0; is.len()],
    };
    let dst_strides = contiguous_strides(&ss);
    let iv = index.i64s()?;
    let n = ss[d] as i64;
    let mut plan = Vec::with_capacity(iv.len());
    let mut pos = vec![0usize; is.len()];
    for &i in iv.iter() {
        if i < 0 || i >= n {
            return Err(Error::runtime(format!(
                "scatter: index {i} is out of bounds for dim {d} with size {n}"
            )));
        }
        let mut dst = 0usize;
        let mut src = 0usize;
        for k in 0..is.len() {
            let c = if k == d { i as usize } else { pos[k] };
            dst += c * dst_strides[k];
            src += pos[k] * src_strides[k];
        }
        plan.push((dst, src));
        for k in (0..is.len()).rev() {
            pos[k] += 1;
            if pos[k] < is[k] {
                break;
            }
            pos[k] = 0;
        }
    }
    Ok(plan)
}

/// `self` with `dst[d] = src[s]` for every `(d, s)` of `plan` (src cast to self's dtype;
/// later pairs win).
fn put(self_t: &Tensor, plan: &[(usize, usize)], src: &Tensor) -> Result<Tensor> {
    let dt = self_t.dtype();
    let src = src.cast(dt)?;
    Ok(crate::with_elem!(dt, T => {
        let mut dst: Vec<T> = self_t.data::<T>()?.into_owned();
        let sv = src.data::<T>()?;
        for &(d, s) in plan {
            dst[d] = sv[s];
        }
        Tensor::from_vec(dt, self_t.shape().to_vec(), dst)
    }))
}

/// A scatter reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reduce {
    Sum,
    Prod,
    Mean,
    Amax,
    Amin,
}

impl Reduce {
    fn parse(s: &str) -> Result<Reduce> {
        Ok(match s {
            "sum" => Reduce::Sum,
            "prod" => Reduce::Prod,
            "mean" => Reduce::Mean,
            "amax" => Reduce::Amax,
            "amin" => Reduce::Amin,
            other => {
                return Err(Error::runtime(format!(
                    "scatter_reduce: reduce must be sum, prod, mean, amax or amin, got '{other}'"
                )))
            }
        })
    }
}

/// A number type the reductions run in (f64 for float tensors, i64 for the rest).
trait Acc: Copy {
    const ZERO: Self;
    const ONE: Self;
    const LOWEST: Self;
    const HIGHEST: Self;
    fn combine(self, other: Self, r: Reduce) -> Self;
    /// `self / count` (floor for integers).
    fn div_count(self, count: u64) -> Self;
}

impl Acc for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    const LOWEST: f64 = f64::NEG_INFINITY;
    const HIGHEST: f64 = f64::INFINITY;
    fn combine(self, b: f64, r: Reduce) -> f64 {
        match r {
            Reduce::Sum | Reduce::Mean => self + b,
            Reduce::Prod => self * b,
            // NaN propagates, like PyTorch's scatter_reduce
            Reduce::Amax if self.is_nan() || b.is_nan() => f64::NAN,
            Reduce::Amin if self.is_nan() || b.is_nan() => f64::NAN,
            Reduce::Amax => self.max(b),
            Reduce::Amin => self.min(b),
        }
    }
    fn div_count(self, count: u64) -> f64 {
        self / count as f64
    }
}

impl Acc for i64 {
    const ZERO: i64 = 0;
    const ONE: i64 = 1;
    const LOWEST: i64 = i64::MIN;
    const HIGHEST: i64 = i64::MAX;
    fn combine(self, b: i64, r: Reduce) -> i64 {
        match r {
            Reduce::Sum | Reduce::Mean => self.wrapping_add(b),
            Reduce::Prod => self.wrapping_mul(b),
            Reduce::Amax => self.max(b),
            Reduce::Amin => self.min(b),
        }
    }
    fn div_count(self, count: u64) -> i64 {
        self.div_euclid(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

/// The reduction over `plan` on plain vectors.
fn reduce_into<A: Acc>(
    dst: &mut [A],
    src: &[A],
    plan: &[(usize, usize)],
    r: Reduce,
    include_self: bool,
) {
    if !include_self {
        let init = match r {
            Reduce::Sum | Reduce::Mean => A::ZERO,
            Reduce::Prod => A::ONE,
            Reduce::Amax => A::LOWEST,
            Reduce::Amin => A::HIGHEST,
        };
        for &(d, _) in plan {
            dst[d] = init;
        }
    }
    let mut counts = if r == Reduce::Mean {
        vec![0u64; dst.len()]
    } else {
        Vec::new()
    };
    for &(d, s) in plan {
        dst[d] = dst[d].combine(src[s], r);
        if let Some(c) = counts.get_mut(d) {
            *c += 1;
        }
    }
    for (x, &c) in dst.iter_mut().zip(&counts) {
        if c > 0 {
            *x = x.div_count(c + u64::from(include_self));
        }
    }
}

/// `self` reduced with `src` along `plan`.
fn scatter_reduce(
    self_t: &Tensor,
    plan: &[(usize, usize)],
    src: &Tensor,
    r: Reduce,
    include_self: bool,
) -> Result<Tensor> {
    let dt = self_t.dtype();
    let shape = self_t.shape().to_vec();
    if dt.is_float() {
        let mut dst = self_t.f64s()?;
        reduce_into(&mut dst, &src.f64s()?, plan, r, include_self);
        Ok(Tensor::from_f64_as(dt, shape, dst))
    } else {
        let mut dst = self_t.i64s()?.into_owned();
        reduce_into(&mut dst, &src.i64s()?, plan, r, include_self);
        Ok(Tensor::from_i64_as(dt, shape, dst))
    }
}

/// scatter.src(self, dim, index, src) / scatter_add(self, dim, index, src).
fn scatter_src(args: &[Value], reduce: Option<Reduce>) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let index = targ(args, 2)?;
    let src = targ(args, 3)?;
    let plan = scatter_plan(t, iarg(args, 1)?, index, Some(src.shape()))?;
    one(match reduce {
        None => put(t, &plan, src)?,
        Some(r) => scatter_reduce(t, &plan, src, r, true)?,
    })
}

/// scatter.value(self, dim, index, value)
fn scatter_value(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let plan = scatter_plan(t, iarg(args, 1)?, targ(args, 2)?, None)?;
    let v = crate::ops::shape::strided::filled(t.dtype(), vec![], arg(args, 3)?)?;
    one(put(t, &plan, &v)?)
}

/// scatter_reduce.two(self, dim, index, src, reduce, include_self=True)
fn scatter_reduce_two(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let index = targ(args, 2)?;
    let src = targ(args, 3)?;
    let r = Reduce::parse(arg(args, 4)?.as_str()?)?;
    let include_self = super::barg_or(args, 5, true)?;
    let plan = scatter_plan(t, iarg(args, 1)?, index, Some(src.shape()))?;
    one(scatter_reduce(t, &plan, src, r, include_self)?)
}

/// Write `src` (exactly the region's shape) into the region of contiguous `self` given by
/// `shape`/`strides`/`base`.
fn put_region(
    t: &Tensor,
    src: &Tensor,
    shape: &[usize],
    strides: &[usize],
    base: usize,
) -> Result<Tensor> {
    if src.shape() != shape {
        return Err(Error::runtime(format!(
            "expected src of shape {shape:?} for this slice of {:?}, got {:?}",
            t.shape(),
            src.shape()
        )));
    }
    let plan: Vec<(usize, usize)> = region_offsets(shape, strides, base)
        .into_iter()
        .enumerate()
        .map(|(k, d)| (d, k))
        .collect();
    put(t, &plan, src)
}

/// select_scatter(self, src, dim, index)
fn select_scatter(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let src = targ(args, 1)?;
    let d = dim_of(t, iarg(args, 2)?)?;
    let index = iarg(args, 3)?;
    let n = t.shape()[d] as i64;
    let i = if index < 0 { index + n } else { index };
    if i < 0 || i >= n {
        return Err(Error::runtime(format!(
            "select_scatter: index {index} out of range for dim {d} of size {n}"
        )));
    }
    let st = contiguous_strides(t.shape());
    let base = i as usize * st[d];
    let mut shape = t.shape().to_vec();
    let mut strides = st;
    shape.remove(d);
    strides.remove(d);
    one(put_region(t, src, &shape, &strides, base)?)
}

/// slice_scatter(self, src, dim=0, start=None, end=None, step=1); start/end clamp like
/// slicing.
fn slice_scatter(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let src = targ(args, 1)?;
    let d = dim_of(t, opt(args, 2).as_opt_int()?.unwrap_or(0))?;
    let step = opt(args, 5).as_opt_int()?.unwrap_or(1);
    if step <= 0 {
        return Err(Error::runtime(format!(
            "slice_scatter: step must be positive, got {step}"
        )));
    }
    let n = t.shape()[d] as i64;
    let clamp = |v: i64| (if v < 0 { v.saturating_add(n) } else { v }).clamp(0, n);
    let s = clamp(opt(args, 3).as_opt_int()?.unwrap_or(0));
    let e = clamp(opt(args, 4).as_opt_int()?.unwrap_or(n)).max(s);
    // e >= s and step > 0: no overflow, unlike (e - s + step - 1) / step
    let len = if e > s {
        ((e - s - 1) / step + 1) as usize
    } else {
        0
    };
    let st = contiguous_strides(t.shape());
    let mut shape = t.shape().to_vec();
    let mut strides = st.clone();
    shape[d] = len;
    strides[d] *= step as usize;
    one(put_region(t, src, &shape, &strides, s as usize * st[d])?)
}

/// masked_scatter(self, mask, source): the result has the broadcast shape of self and
/// mask; true positions take source's elements in row-major order.
fn masked_scatter(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let mask = targ(args, 1)?;
    let source = targ(args, 2)?;
    if !matches!(mask.dtype(), DType::Bool | DType::U8) {
        return Err(Error::runtime(format!(
            "masked_scatter: mask must be bool, got {}",
            mask.dtype().name()
        )));
    }
    let shape = broadcast_shapes(t.shape(), mask.shape())?;
    let base = t.expand_to(&shape)?.contiguous()?;
    let m = mask.expand_to(&shape)?;
    let m = m.bools()?;
    let count = m.iter().filter(|&&b| b != 0).count();
    if source.numel() < count {
        return Err(Error::runtime(format!(
            "masked_scatter: the mask selects {count} elements but source has only {}",
            source.numel()
        )));
    }
    let plan: Vec<(usize, usize)> = m
        .iter()
        .enumerate()
        .filter(|(_, &b)| b != 0)
        .enumerate()
        .map(|(k, (d, _))| (d, k))
        .collect();
    let flat = source.contiguous()?;
    one(put(&base, &plan, &flat)?)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::scatter.src" => |_: &mut OpCtx, a: Vec<Value>| scatter_src(&a, None),
        "aten::scatter.value" => |_: &mut OpCtx, a: Vec<Value>| scatter_value(&a),
        "aten::scatter_add.default" => |_: &mut OpCtx, a: Vec<Value>| scatter_src(&a, Some(Reduce::Sum)),
        "aten::scatter_reduce.two" => |_: &mut OpCtx, a: Vec<Value>| scatter_reduce_two(&a),
        "aten::select_scatter.default" => |_: &mut OpCtx, a: Vec<Value>| select_scatter(&a),
        "aten::slice_scatter.default" => |_: &mut OpCtx, a: Vec<Value>| slice_scatter(&a),
        "aten::masked_scatter.default" => |_: &mut OpCtx, a: Vec<Value>| masked_scatter(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::try_call_t;

    fn f(shape: Vec<usize>, v: &[f32]) -> Value {
        Tensor::from_f32(shape, v.to_vec()).into()
    }
    fn i(shape: Vec<usize>, v: &[i64]) -> Value {
        Tensor::from_i64(shape, v.to_vec()).into()
    }

    #[test]
    fn scatter_src_value_add() {
        // dim 1 of a 2x3 self, index 2x2, src 2x3 (larger than index: extra ignored)
        let s = f(vec![2, 3], &[0.; 6]);
        let idx = i(vec![2, 2], &[2, 0, 1, 2]);
        let src = f(vec![2, 3], &[1., 2., 3., 4., 5., 6.]);
        let r = try_call_t(
            "aten::scatter.src",
            vec![s.clone(), Value::Int(1), idx.clone(), src.clone()],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![2., 0., 1., 0., 4., 5.]);
        let r = try_call_t(
            "aten::scatter.value",
            vec![s.clone(), Value::Int(-1), idx.clone(), Value::Float(9.)],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![9., 0., 9., 0., 9., 9.]);
        let dup = i(vec![1, 3], &[1, 1, 1]);
        let r = try_call_t(
            "aten::scatter_add.default",
            vec![s.clone(), Value::Int(1), dup, src.clone()],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![0., 6., 0., 0., 0., 0.]);
        for bad in [
            vec![s.clone(), Value::Int(1), i(vec![1, 1], &[3]), src.clone()],
            vec![s.clone(), Value::Int(1), i(vec![1, 1], &[-1]), src.clone()],
            vec![s.clone(), Value::Int(2), idx.clone(), src.clone()],
            vec![
                s.clone(),
                Value::Int(0),
                i(vec![2, 4], &[0; 8]),
                src.clone(),
            ],
            vec![
                s.clone(),
                Value::Int(1),
                i(vec![3, 1], &[0; 3]),
                src.clone(),
            ],
            vec![s.clone(), Value::Int(1), i(vec![2], &[0; 2]), src.clone()],
            vec![s.clone(), Value::Int(1), f(vec![1, 1], &[0.]), src.clone()],
        ] {
            let e = try_call_t("aten::scatter.src", bad).unwrap_err();
            assert!(
                e.message().contains("scatter") || e.message().contains("dimension"),
                "{}",
                e.message()
            );
        }
        // empty index: self unchanged
        let r = try_call_t(
            "aten::scatter.src",
            vec![s, Value::Int(1), i(vec![0], &[]), src],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![0.; 6]);
    }

    #[test]
    fn scatter_reduce_modes() {
        let s = i(vec![4], &[10, 20, 30, 40]);
        let idx = i(vec![4], &[0, 0, 1, 3]);
        let src = i(vec![4], &[1, 2, 4, 7]);
        let run = |red: &str, inc: bool, s: &Value, src: &Value| {
            try_call_t(
                "aten::scatter_reduce.two",
                vec![
                    s.clone(),
                    Value::Int(0),
                    idx.clone(),
                    src.clone(),
                    Value::Str(red.into()),
                    Value::Bool(inc),
                ],
            )
            .unwrap()
        };
        // values checked against PyTorch 2.15
        assert_eq!(
            run("mean", true, &s, &src).to_i64_vec(),
            vec![4, 12, 30, 23]
        );
        assert_eq!(run("mean", false, &s, &src).to_i64_vec(), vec![1, 4, 30, 7]);
        let neg = |v: &Value| {
            let t = v.as_tensor().unwrap();
            i(
                vec![4],
                &t.to_i64_vec().iter().map(|x| -x).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            run("mean", true, &neg(&s), &neg(&src)).to_i64_vec(),
            vec![-5, -12, -30, -24]
        );
        assert_eq!(run("sum", false, &s, &src).to_i64_vec(), vec![3, 4, 30, 7]);
        assert_eq!(
            run("prod", true, &s, &src).to_i64_vec(),
            vec![20, 80, 30, 280]
        );
        assert_eq!(run("amax", false, &s, &src).to_i64_vec(), vec![2, 4, 30, 7]);
        assert_eq!(run("amin", true, &s, &src).to_i64_vec(), vec![1, 4, 30, 7]);
        let sf = f(vec![4], &[1., f32::NAN, 3., 4.]);
        let srcf = f(vec![4], &[f32::NAN, 2., 5., 1.]);
        let r = run("amax", true, &sf, &srcf).to_f32_vec();
        assert!(r[0].is_nan() && r[1].is_nan() && r[2] == 3. && r[3] == 4.);
        let r = run("amin", false, &sf, &srcf).to_f32_vec();
        assert!(r[0].is_nan() && r[1] == 5. && r[2] == 3. && r[3] == 1.);
        let e = try_call_t(
            "aten::scatter_reduce.two",
            vec![
                s,
                Value::Int(0),
                idx,
                src,
                Value::Str("max".into()),
                Value::Bool(true),
            ],
        )
        .unwrap_err();
        assert!(e.message().contains("amax"));
    }

    #[test]
    fn select_slice_masked_scatter() {
        let s = f(vec![3, 4], &[0.; 12]);
        let row = f(vec![4], &[1., 2., 3., 4.]);
        let r = try_call_t(
            "aten::select_scatter.default",
            vec![s.clone(), row.clone(), Value::Int(0), Value::Int(-1)],
        )
        .unwrap();
        assert_eq!(&r.to_f32_vec()[8..], &[1., 2., 3., 4.]);
        assert!(try_call_t(
            "aten::select_scatter.default",
            vec![s.clone(), row.clone(), Value::Int(1), Value::Int(0)]
        )
        .is_err());
        assert!(try_call_t(
            "aten::select_scatter.default",
            vec![s.clone(), row.clone(), Value::Int(0), Value::Int(3)]
        )
        .is_err());
        let cols = f(vec![3, 2], &[1., 2., 3., 4., 5., 6.]);
        let r = try_call_t(
            "aten::slice_scatter.default",
            vec![
                s.clone(),
                cols.clone(),
                Value::Int(1),
                Value::Int(1),
                Value::None,
                Value::Int(2),
            ],
        )
        .unwrap();
        assert_eq!(
            r.to_f32_vec(),
            vec![0., 1., 0., 2., 0., 3., 0., 4., 0., 5., 0., 6.]
        );
        assert!(try_call_t(
            "aten::slice_scatter.default",
            vec![
                s.clone(),
                cols.clone(),
                Value::Int(1),
                Value::Int(0),
                Value::None,
                Value::Int(1)
            ]
        )
        .is_err());
        assert!(try_call_t(
            "aten::slice_scatter.default",
            vec![
                s.clone(),
                cols,
                Value::Int(1),
                Value::Int(1),
                Value::None,
                Value::Int(0)
            ]
        )
        .is_err());
        // masked_scatter broadcasts self against the mask
        let base = f(vec![3], &[0.; 3]);
        let mask = Tensor::from_bool(vec![2, 3], vec![true, false, true, false, true, false]);
        let src = f(vec![6], &[0., 1., 2., 3., 4., 5.]);
        let r = try_call_t(
            "aten::masked_scatter.default",
            vec![base.clone(), mask.clone().into(), src],
        )
        .unwrap();
        assert_eq!(
            (r.shape(), r.to_f32_vec()),
            (&[2usize, 3][..], vec![0., 0., 1., 0., 2., 0.])
        );
        let short = f(vec![2], &[1., 2.]);
        let e = try_call_t(
            "aten::masked_scatter.default",
            vec![base, mask.into(), short],
        )
        .unwrap_err();
        assert!(e.message().contains("selects 3"), "{}", e.message());
    }
}
