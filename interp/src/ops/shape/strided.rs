//! Ops that expose or take explicit strides and storage offsets: `as_strided` and
//! `diagonal` (real views of the same storage), `empty_strided`, `copy`, `fill`, and the
//! stride/offset queries `sym_stride` and `sym_storage_offset`.
//!
//! Strides and storage offsets are those of the interpreter's storage. They are PyTorch's
//! for graph inputs (contiguous, offset 0), for results of compute ops (fresh contiguous
//! buffers) and for the views PyTorch also makes (slice, select, transpose, ...). An op the
//! interpreter implements by sharing storage where PyTorch copies (e.g. `clone` of an
//! already contiguous slice) gives the same values but may report another storage offset,
//! and an explicit `as_strided` storage offset then addresses that storage. Every
//! `as_strided` view is bounds-checked against its storage, so a hostile size/stride/offset
//! is an error, never an out-of-bounds read.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{arg, dim_of, iarg, ints, one, opt, targ, to_usize};
use crate::tensor::{checked_numel, contiguous_strides, DType, Tensor};
use crate::value::Value;

/// Number of elements in the storage behind `t` (from element 0 of the buffer, not of `t`).
fn storage_len(t: &Tensor) -> Result<usize> {
    let whole = t.view_with(vec![0], vec![1], 0);
    Ok(crate::with_elem!(t.dtype(), T => whole.raw::<T>()?.len()))
}

/// One past the largest element offset a view of `shape`/`strides` at `offset` addresses
/// (`offset` itself for an empty view); `None` on overflow.
fn view_end(shape: &[usize], strides: &[usize], offset: usize) -> Option<usize> {
    if shape.contains(&0) {
        return Some(offset);
    }
    let mut last = offset;
    for (&n, &s) in shape.iter().zip(strides) {
        last = last.checked_add((n - 1).checked_mul(s)?)?;
    }
    last.checked_add(1)
}

/// Sizes or strides argument `i`: non-negative ints.
fn usizes(args: &[Value], i: usize, what: &str) -> Result<Vec<usize>> {
    ints(args, i)?
        .into_iter()
        .map(|v| to_usize(v, what))
        .collect()
}

/// as_strided(self, size, stride, storage_offset=None): a view of `self`'s storage.
fn as_strided(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let shape = usizes(args, 1, "as_strided size")?;
    let strides = usizes(args, 2, "as_strided stride")?;
    if shape.len() != strides.len() {
        return Err(Error::runtime(format!(
            "as_strided: size {shape:?} and stride {strides:?} differ in length"
        )));
    }
    checked_numel(&shape)?;
    let offset = match opt(args, 3) {
        Value::None => t.offset(),
        v => to_usize(v.as_int()?, "as_strided storage_offset")?,
    };
    let len = storage_len(t)?;
    match view_end(&shape, &strides, offset) {
        Some(end) if end <= len => one(t.view_with(shape, strides, offset)),
        _ => Err(Error::runtime(format!(
            "as_strided: size {shape:?}, stride {strides:?} and storage offset {offset} \
             address elements outside the storage of {len} elements"
        ))),
    }
}

/// diagonal(self, offset=0, dim1=0, dim2=1): a view; the diagonal becomes the last dim.
pub(crate) fn diagonal(t: &Tensor, offset: i64, dim1: i64, dim2: i64) -> Result<Tensor> {
    if t.ndim() < 2 {
        return Err(Error::runtime(format!(
            "diagonal needs at least 2 dims, got shape {:?}",
            t.shape()
        )));
    }
    let d1 = dim_of(t, dim1)?;
    let d2 = dim_of(t, dim2)?;
    if d1 == d2 {
        return Err(Error::runtime(format!(
            "diagonal dimensions cannot be identical ({dim1}, {dim2})"
        )));
    }
    let (n1, n2) = (t.shape()[d1] as i64, t.shape()[d2] as i64);
    let (s1, s2) = (t.strides()[d1], t.strides()[d2]);
    // PyTorch clamps an offset beyond the matrix to an empty diagonal
    let len = if offset >= 0 {
        n1.min(n2.saturating_sub(offset))
    } else {
        n1.saturating_add(offset).min(n2)
    }
    .max(0) as usize;
    let base = if len == 0 {
        t.offset()
    } else if offset >= 0 {
        t.offset() + offset as usize * s2
    } else {
        t.offset() + offset.unsigned_abs() as usize * s1
    };
    let mut shape = Vec::with_capacity(t.ndim() - 1);
    let mut strides = Vec::with_capacity(t.ndim() - 1);
    for k in 0..t.ndim() {
        if k != d1 && k != d2 {
            shape.push(t.shape()[k]);
            strides.push(t.strides()[k]);
        }
    }
    shape.push(len);
    strides.push(s1 + s2);
    Ok(t.view_with(shape, strides, base))
}

/// A contiguous tensor of `dtype`/`shape` with every element `value` (ints kept exact).
pub(crate) fn filled(dtype: DType, shape: Vec<usize>, value: &Value) -> Result<Tensor> {
    match value {
        Value::Int(i) if !dtype.is_float() && dtype != DType::Bool => {
            // exact for every i64 (a detour through f64 would round above 2^53)
            let mut v = crate::storage::try_alloc::<i64>(checked_numel(&shape)?)?;
            v.fill(*i);
            Ok(Tensor::from_i64_as(dtype, shape, v))
        }
        Value::Tensor(v) if v.numel() != 1 => Err(Error::runtime(format!(
            "fill value must be a number or a one-element tensor, got shape {:?}",
            v.shape()
        ))),
        v => Tensor::full(dtype, shape, v.as_f64()?),
    }
}

/// copy(self, src, non_blocking=False): `src` cast to `self`'s dtype and broadcast to its
/// shape (the functional form of `self.copy_(src)`).
fn copy(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let src = targ(args, 1)?;
    let e = src.expand_to(t.shape())?;
    one(e.cast(t.dtype())?)
}

/// empty_strided(size, stride, dtype, layout, device, pin_memory): zero-filled storage
/// spanning the strides (PyTorch leaves the memory uninitialised; zeros are deterministic).
fn empty_strided(args: &[Value]) -> Result<Vec<Value>> {
    let shape = usizes(args, 0, "size")?;
    let strides = usizes(args, 1, "stride")?;
    if shape.len() != strides.len() {
        return Err(Error::runtime(format!(
            "empty_strided: size {shape:?} and stride {strides:?} differ in length"
        )));
    }
    let dt = opt(args, 2).as_opt_dtype()?.unwrap_or(DType::F32);
    checked_numel(&shape)?;
    let span = view_end(&shape, &strides, 0)
        .ok_or_else(|| Error::oom(format!("empty_strided {shape:?} {strides:?} overflows")))?;
    if strides == contiguous_strides(&shape) {
        return one(Tensor::full(dt, shape, 0.0)?);
    }
    let storage = Tensor::full(dt, vec![span], 0.0)?;
    one(storage.view_with(shape, strides, 0))
}

/// sym_stride.int(self, dim)
fn sym_stride(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let d = dim_of(t, iarg(args, 1)?)?;
    Ok(vec![Value::Int(t.strides()[d] as i64)])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::as_strided.default" => |_: &mut OpCtx, a: Vec<Value>| as_strided(&a),
        "aten::diagonal.default" => |_: &mut OpCtx, a: Vec<Value>| {
            let off = opt(&a, 1).as_opt_int()?.unwrap_or(0);
            let d1 = opt(&a, 2).as_opt_int()?.unwrap_or(0);
            let d2 = opt(&a, 3).as_opt_int()?.unwrap_or(1);
            one(diagonal(targ(&a, 0)?, off, d1, d2)?)
        },
        "aten::copy.default" => |_: &mut OpCtx, a: Vec<Value>| copy(&a),
        "aten::fill.Scalar" => |_: &mut OpCtx, a: Vec<Value>| {
            let t = targ(&a, 0)?;
            one(filled(t.dtype(), t.shape().to_vec(), arg(&a, 1)?)?)
        },
        "aten::fill.Tensor" => |_: &mut OpCtx, a: Vec<Value>| {
            let t = targ(&a, 0)?;
            let v = targ(&a, 1)?;
            if v.ndim() != 0 {
                return Err(Error::runtime(format!("fill.Tensor needs a 0-d value, got shape {:?}", v.shape())));
            }
            one((v.cast(t.dtype())?).expand_to(t.shape())?.contiguous()?)
        },
        "aten::empty_strided.default" => |_: &mut OpCtx, a: Vec<Value>| empty_strided(&a),
        "aten::sym_stride.int" => |_: &mut OpCtx, a: Vec<Value>| sym_stride(&a),
        "aten::sym_storage_offset.default" => |_: &mut OpCtx, a: Vec<Value>| Ok(vec![Value::Int(targ(&a, 0)?.offset() as i64)]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{il, try_call};

    fn t1(name: &str, args: Vec<Value>) -> Tensor {
        try_call(name, args).unwrap()[0]
            .as_tensor()
            .unwrap()
            .clone()
    }
    fn arange(shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product::<usize>();
        Tensor::from_f32(shape, (0..n).map(|i| i as f32).collect())
    }

    #[test]
    fn as_strided_is_a_bounds_checked_view() {
        let x = arange(vec![3, 4]);
        let r = t1(
            "aten::as_strided.default",
            vec![x.clone().into(), il(&[2, 2]), il(&[1, 2]), Value::Int(1)],
        );
        assert_eq!(r.to_f32_vec(), vec![1., 3., 2., 4.]);
        assert_eq!(r.storage_id(), x.storage_id());
        // default offset: the input's own (a slice starting at element 4)
        let s = x.slice(0, Some(1), None, 1).unwrap();
        let r = t1(
            "aten::as_strided.default",
            vec![s.into(), il(&[2]), il(&[4]), Value::None],
        );
        assert_eq!(r.to_f32_vec(), vec![4., 8.]);
        // last element 11 is fine, 12 is outside
        let ok = vec![x.clone().into(), il(&[2]), il(&[11]), Value::Int(0)];
        assert_eq!(
            t1("aten::as_strided.default", ok).to_f32_vec(),
            vec![0., 11.]
        );
        for bad in [
            vec![x.clone().into(), il(&[2]), il(&[12]), Value::Int(0)],
            vec![x.clone().into(), il(&[1]), il(&[1]), Value::Int(12)],
            vec![x.clone().into(), il(&[0]), il(&[1]), Value::Int(13)],
            vec![x.clone().into(), il(&[2]), il(&[-1]), Value::Int(5)],
            vec![x.clone().into(), il(&[2, 2]), il(&[1]), Value::Int(0)],
            vec![
                x.clone().into(),
                il(&[1 << 40, 1 << 40]),
                il(&[1 << 40, 1]),
                Value::Int(0),
            ],
            vec![x.clone().into(), il(&[3]), il(&[i64::MAX]), Value::Int(0)],
        ] {
            let e = try_call("aten::as_strided.default", bad).unwrap_err();
            assert!(!e.message().is_empty());
        }
        // an empty view may sit at the end of the storage
        let r = t1(
            "aten::as_strided.default",
            vec![x.into(), il(&[0, 3]), il(&[1, 1]), Value::Int(12)],
        );
        assert_eq!(r.numel(), 0);
    }

    /// Random sizes/strides/offsets over a 12-element storage: accepted views read exactly
    /// `storage[offset + Σ i·stride]` and flow through other ops (GEMM on strided operands,
    /// broadcasting, reductions, diagonal) without panicking; rejected ones really reach
    /// outside the storage.
    #[test]
    fn random_as_strided_views_are_exact_and_safe() {
        let x = arange(vec![12]);
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m) as i64
        };
        let (mut accepted, mut rejected) = (0, 0);
        for _ in 0..3000 {
            let nd = next(4) as usize;
            let size: Vec<i64> = (0..nd).map(|_| next(5)).collect();
            let stride: Vec<i64> = (0..nd).map(|_| next(7)).collect();
            let off = next(15);
            let args = vec![x.clone().into(), il(&size), il(&stride), Value::Int(off)];
            let last: i64 = off
                + size
                    .iter()
                    .zip(&stride)
                    .map(|(n, s)| (n - 1).max(0) * s)
                    .sum::<i64>();
            let empty = size.contains(&0);
            match try_call("aten::as_strided.default", args) {
                Ok(v) => {
                    accepted += 1;
                    assert!(
                        if empty { off <= 12 } else { last < 12 },
                        "{size:?} {stride:?} {off}"
                    );
                    let t = v[0].as_tensor().unwrap().clone();
                    // expected values by direct index arithmetic
                    let shape: Vec<usize> = size.iter().map(|&d| d as usize).collect();
                    let want: Vec<f32> = (0..t.numel())
                        .map(|lin| {
                            let (mut rem, mut o) = (lin, off as usize);
                            for k in (0..nd).rev() {
                                o += (rem % shape[k]) * stride[k] as usize;
                                rem /= shape[k];
                            }
                            o as f32
                        })
                        .collect();
                    assert_eq!(t.to_f32_vec(), want);
                    let tv: Value = t.clone().into();
                    let mut uses = vec![
                        ("aten::sum.default", vec![tv.clone(), Value::None]),
                        (
                            "aten::add.Tensor",
                            vec![tv.clone(), tv.clone(), Value::Int(1)],
                        ),
                        ("aten::clone.default", vec![tv.clone(), Value::None]),
                        (
                            "aten::diagonal.default",
                            vec![tv.clone(), Value::Int(1), Value::Int(0), Value::Int(-1)],
                        ),
                    ];
                    if nd == 2 {
                        let tt = t.transpose(0, 1).unwrap();
                        uses.push(("aten::mm.default", vec![tv.clone(), tt.into()]));
                    }
                    for (op, a) in uses {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            let _ = try_call(op, a);
                        }));
                        assert!(
                            r.is_ok(),
                            "{op} panicked on as_strided {size:?} {stride:?} {off}"
                        );
                    }
                }
                Err(_) => {
                    rejected += 1;
                    assert!(
                        if empty { off > 12 } else { last >= 12 },
                        "{size:?} {stride:?} {off}"
                    );
                }
            }
        }
        assert!(accepted > 500 && rejected > 500, "{accepted} {rejected}");
    }

    #[test]
    fn diagonal_views() {
        let x = arange(vec![3, 4]);
        let d = |o, a, b| diagonal(&x, o, a, b).unwrap().to_f32_vec();
        assert_eq!(d(0, 0, 1), vec![0., 5., 10.]);
        assert_eq!(d(1, 0, 1), vec![1., 6., 11.]);
        assert_eq!(d(-1, 0, 1), vec![4., 9.]);
        assert_eq!(d(2, -1, 0), vec![8.]);
        assert_eq!(d(0, 1, 0), vec![0., 5., 10.]);
        assert!(d(5, 0, 1).is_empty());
        assert!(d(-7, 0, 1).is_empty());
        assert!(diagonal(&x, 0, 1, -1).is_err());
        let y = arange(vec![2, 3, 3]);
        let r = diagonal(&y, 0, 1, 2).unwrap();
        assert_eq!(r.shape(), &[2, 3]);
        assert_eq!(r.to_f32_vec(), vec![0., 4., 8., 9., 13., 17.]);
        let r = diagonal(&y, 1, 0, 2).unwrap();
        assert_eq!(r.shape(), &[3, 2]);
        assert_eq!(r.to_f32_vec(), vec![1., 11., 4., 14., 7., 17.]);
    }

    #[test]
    fn copy_fill_empty_strided_and_queries() {
        let x = Tensor::from_i64(vec![2, 2], vec![0; 4]);
        let src = Tensor::from_f32(vec![2], vec![1.5, -2.5]);
        let r = t1(
            "aten::copy.default",
            vec![x.clone().into(), src.into(), Value::Bool(false)],
        );
        assert_eq!(
            (r.dtype(), r.to_i64_vec()),
            (DType::I64, vec![1, -2, 1, -2])
        );
        let r = t1(
            "aten::fill.Scalar",
            vec![x.clone().into(), Value::Int(i64::MAX - 1)],
        );
        assert_eq!(r.to_i64_vec(), vec![i64::MAX - 1; 4]);
        let r = t1(
            "aten::fill.Tensor",
            vec![x.into(), Tensor::from_f32(vec![], vec![3.0]).into()],
        );
        assert_eq!((r.dtype(), r.to_i64_vec()), (DType::I64, vec![3; 4]));
        let r = t1(
            "aten::empty_strided.default",
            vec![il(&[2, 3]), il(&[1, 2]), Value::Int(7)],
        );
        assert_eq!((r.dtype(), r.strides()), (DType::F64, &[1usize, 2][..]));
        assert_eq!(r.to_f32_vec(), vec![0.0; 6]);
        assert!(try_call(
            "aten::empty_strided.default",
            vec![il(&[2, 1 << 40]), il(&[1 << 40, 1]), Value::None]
        )
        .is_err());
        let y = arange(vec![3, 4]);
        let s = y.slice(0, Some(1), None, 1).unwrap();
        let q = |n: &str, a: Vec<Value>| try_call(n, a).unwrap()[0].as_int().unwrap();
        assert_eq!(
            q("aten::sym_storage_offset.default", vec![s.clone().into()]),
            4
        );
        assert_eq!(
            q(
                "aten::sym_stride.int",
                vec![s.clone().into(), Value::Int(0)]
            ),
            4
        );
        assert_eq!(
            q(
                "aten::sym_stride.int",
                vec![s.clone().into(), Value::Int(-1)]
            ),
            1
        );
        assert!(try_call("aten::sym_stride.int", vec![s.into(), Value::Int(2)]).is_err());
    }
}
