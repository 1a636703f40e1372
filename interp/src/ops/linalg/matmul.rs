//! Matrix products: mm, bmm, matmul (with batch broadcasting), addmm, linear, baddbmm,
//! addbmm.
//! All compute in f32 on the GEMM kernel; transposed views of weights are fed to it as
//! `trans_b` without a copy, and program weights are packed once per session.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{arg, broadcast_shapes, one, opt, promote, targ};
use crate::storage::try_alloc;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// A 2-d f32 operand as the GEMM kernel wants it: base slice, leading dim, transposed?
struct Mat<'a> {
    data: std::borrow::Cow<'a, [f32]>,
    ld: usize,
    trans: bool,
}

impl Mat<'_> {
    fn view(&self) -> crate::prepack::MatRef<'_> {
        crate::prepack::MatRef {
            data: &self.data,
            ld: self.ld,
            trans: self.trans,
        }
    }
}

fn as_mat(t: &Tensor) -> Result<Mat<'_>> {
    let (r, c) = (t.shape()[0], t.shape()[1]);
    if t.dtype() == DType::F32 && r > 1 && c > 1 {
        let s = t.strides();
        if s[1] == 1 && s[0] >= c {
            return Ok(Mat {
                data: std::borrow::Cow::Borrowed(t.raw::<f32>()?),
                ld: s[0],
                trans: false,
            });
        }
        if s[0] == 1 && s[1] >= r {
            return Ok(Mat {
                data: std::borrow::Cow::Borrowed(t.raw::<f32>()?),
                ld: s[1],
                trans: true,
            });
        }
    }
    Ok(Mat {
        data: std::borrow::Cow::Owned(t.f32s()?.into_owned()),
        ld: c,
        trans: false,
    })
}

/// `a[m×k] · b[k×n]` (+ `bias` per column) into a fresh vector. Program weights used as `b`
/// are packed once and cached in the session.
pub(crate) fn mm2d(
    ctx: &mut OpCtx,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let (m, k) = (a.shape()[0], a.shape()[1]);
    let (k2, n) = (b.shape()[0], b.shape()[1]);
    if k != k2 {
        return Err(Error::runtime(format!(
            "matrix shapes {:?} and {:?} cannot be multiplied",
            a.shape(),
            b.shape()
        )));
    }
    if let Some(bv) = bias {
        if bv.len() != n {
            return Err(Error::runtime(format!(
                "bias of {} values for {n} output columns",
                bv.len()
            )));
        }
    }
    let mut out = try_alloc::<f32>(
        m.checked_mul(n)
            .ok_or_else(|| Error::oom("matmul too large"))?,
    )?;
    if m == 0 || n == 0 {
        return Ok(out);
    }
    if let Some(q) = crate::quant_weights::product_weight(b) {
        return crate::quant_weights::mm2d(q, a, bias);
    }
    let (am, bm) = (as_mat(a)?, as_mat(b)?);
    crate::prepack::product(ctx, b, am.view(), bm.view(), (m, k, n), bias, &mut out)?;
    Ok(out)
}

fn out_dtype(a: &Tensor, b: &Tensor) -> DType {
    promote(a.dtype(), b.dtype())
}

fn finish(v: Vec<f32>, dt: DType, shape: Vec<usize>) -> Tensor {
    Tensor::from_f32_as(dt, shape, v)
}

fn mm(ctx: &mut OpCtx, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 2 || b.ndim() != 2 {
        return Err(Error::runtime(format!(
            "mm expects 2-d tensors, got {:?} and {:?}",
            a.shape(),
            b.shape()
        )));
    }
    let v = mm2d(ctx, a, b, None)?;
    Ok(finish(v, out_dtype(a, b), vec![a.shape()[0], b.shape()[1]]))
}

/// Batched product of `a[..., m, k]` and `b[..., k, n]` with broadcast batch dims.
fn batched(ctx: &mut OpCtx, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (ar, br) = (a.ndim(), b.ndim());
    if ar < 2 || br < 2 {
        return Err(Error::runtime(format!(
            "batched matmul needs at least 2-d operands, got {:?} and {:?}",
            a.shape(),
            b.shape()
        )));
    }
    let (m, k) = (a.shape()[ar - 2], a.shape()[ar - 1]);
    let (k2, n) = (b.shape()[br - 2], b.shape()[br - 1]);
    if k != k2 {
        return Err(Error::runtime(format!(
            "matmul shapes {:?} and {:?} do not match",
            a.shape(),
            b.shape()
        )));
    }
    let batch = broadcast_shapes(&a.shape()[..ar - 2], &b.shape()[..br - 2])?;
    let nb: usize = batch.iter().product();
    // b broadcast over a batch (common: activations @ weight): fold batch into m
    if br == 2 && a.is_contiguous() {
        let a2 = a.reshape(vec![nb * m, k])?;
        let v = mm2d(ctx, &a2, b, None)?;
        let mut shape = batch.clone();
        shape.extend([m, n]);
        return Ok(finish(v, out_dtype(a, b), shape));
    }
    let mut ash = batch.clone();
    ash.extend([m, k]);
    let mut bsh = batch.clone();
    bsh.extend([k, n]);
    let ea = a.expand_to(&ash)?;
    let eb = b.expand_to(&bsh)?;
    let mut out = try_alloc::<f32>(
        nb.checked_mul(m * n)
            .ok_or_else(|| Error::oom("bmm too large"))?,
    )?;
    for i in 0..nb {
        // index the i-th matrix of each (views, no copy unless strided)
        let mut idx = Vec::with_capacity(batch.len());
        let mut rem = i;
        for &d in batch.iter().rev() {
            idx.push(rem % d);
            rem /= d;
        }
        idx.reverse();
        let mut sa = ea.clone();
        let mut sb = eb.clone();
        for &j in &idx {
            sa = sa.select(0, j as i64)?;
            sb = sb.select(0, j as i64)?;
        }
        let v = mm2d(ctx, &sa, &sb, None)?;
        out[i * m * n..(i + 1) * m * n].copy_from_slice(&v);
    }
    let mut shape = batch;
    shape.extend([m, n]);
    Ok(finish(out, out_dtype(a, b), shape))
}

pub(crate) fn matmul(ctx: &mut OpCtx, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match (a.ndim(), b.ndim()) {
        (0, _) | (_, 0) => Err(Error::runtime("matmul of a 0-d tensor")),
        (1, 1) => {
            if a.numel() != b.numel() {
                return Err(Error::runtime(format!(
                    "dot of sizes {} and {}",
                    a.numel(),
                    b.numel()
                )));
            }
            let (x, y) = (a.f32s()?, b.f32s()?);
            let s: f32 = x.iter().zip(y.iter()).map(|(p, q)| p * q).sum();
            Ok(Tensor::from_f32_as(out_dtype(a, b), vec![], vec![s]))
        }
        (1, _) => {
            let a2 = a.unsqueeze(0)?;
            let r = matmul(ctx, &a2, b)?;
            let nd = r.ndim();
            let mut shape = r.shape().to_vec();
            shape.remove(nd - 2);
            r.reshape(shape)
        }
        (_, 1) => {
            let b2 = b.unsqueeze(1)?;
            let r = matmul(ctx, a, &b2)?;
            let mut shape = r.shape().to_vec();
            shape.pop();
            r.reshape(shape)
        }
        (2, 2) => mm(ctx, a, b),
        _ => batched(ctx, a, b),
    }
}

/// linear(input[..., k], weight[n, k], bias[n]?)
fn linear(ctx: &mut OpCtx, args: &[Value]) -> Result<Tensor> {
    let x = targ(args, 0)?;
    let w = targ(args, 1)?;
    let bias = opt(args, 2).as_opt_tensor()?;
    if w.ndim() != 2 || x.ndim() == 0 {
        return Err(Error::runtime(format!(
            "linear: input {:?}, weight {:?}",
            x.shape(),
            w.shape()
        )));
    }
    let k = *x.shape().last().unwrap_or(&0);
    let n = w.shape()[0];
    if w.shape()[1] != k {
        return Err(Error::runtime(format!(
            "linear: input {:?} has {k} features, weight {:?} expects {}",
            x.shape(),
            w.shape(),
            w.shape()[1]
        )));
    }
    // Rows from the leading dims (not numel / k: with no features, k = 0, the rows still
    // give the output its shape, each row the bias alone).
    let m: usize = x.shape()[..x.ndim() - 1].iter().product();
    let x2 = x.reshape(vec![m, k])?;
    let wt = w.transpose(0, 1)?;
    let bv = match bias {
        Some(b) if b.numel() == n => Some(b.f32s()?.into_owned()),
        Some(b) => {
            return Err(Error::runtime(format!(
                "linear: bias {:?} for {n} outputs",
                b.shape()
            )))
        }
        None => None,
    };
    let v = mm2d(ctx, &x2, &wt, bv.as_deref())?;
    let mut shape = x.shape()[..x.ndim() - 1].to_vec();
    shape.push(n);
    Ok(finish(v, out_dtype(x, w), shape))
}

/// addmm(self, mat1, mat2, beta, alpha) = beta*self + alpha*(mat1 @ mat2)
fn addmm(ctx: &mut OpCtx, args: &[Value]) -> Result<Tensor> {
    let bias = targ(args, 0)?;
    let a = targ(args, 1)?;
    let b = targ(args, 2)?;
    let beta = match opt(args, 3) {
        Value::None => 1.0,
        v => v.as_f64()?,
    } as f32;
    let alpha = match opt(args, 4) {
        Value::None => 1.0,
        v => v.as_f64()?,
    } as f32;
    if a.ndim() != 2 || b.ndim() != 2 {
        return Err(Error::runtime("addmm expects 2-d matrices"));
    }
    let (m, n) = (a.shape()[0], b.shape()[1]);
    let row_bias = bias.ndim() <= 1 && bias.numel() == n;
    if row_bias && alpha == 1.0 {
        let bv: Vec<f32> = bias.f32s()?.iter().map(|x| x * beta).collect();
        let v = mm2d(ctx, a, b, Some(&bv))?;
        return Ok(finish(v, out_dtype(a, b), vec![m, n]));
    }
    let mut v = mm2d(ctx, a, b, None)?;
    let eb = bias.expand_to(&[m, n])?;
    let bv = eb.f32s()?;
    v.iter_mut()
        .zip(bv.iter())
        .for_each(|(x, &c)| *x = alpha * *x + beta * c);
    Ok(finish(v, out_dtype(a, b), vec![m, n]))
}

/// baddbmm(self, batch1, batch2, beta, alpha)
fn baddbmm(ctx: &mut OpCtx, args: &[Value]) -> Result<Tensor> {
    let prod = batched(ctx, targ(args, 1)?, targ(args, 2)?)?;
    let beta = match opt(args, 3) {
        Value::None => 1.0,
        v => v.as_f64()?,
    };
    let alpha = match opt(args, 4) {
        Value::None => 1.0,
        v => v.as_f64()?,
    };
    let scaled = crate::ops::elementwise::binary(
        Value::Tensor(prod),
        &Value::Float(alpha),
        crate::ops::elementwise::Bin::Mul,
        None,
    )?;
    let bias = crate::ops::elementwise::binary(
        arg(args, 0)?.clone(),
        &Value::Float(beta),
        crate::ops::elementwise::Bin::Mul,
        None,
    )?;
    crate::ops::elementwise::binary(
        Value::Tensor(scaled),
        &Value::Tensor(bias),
        crate::ops::elementwise::Bin::Add,
        None,
    )
}

/// addbmm(self, batch1, batch2, beta, alpha) = beta*self + alpha*Σ_b batch1[b] @ batch2[b]
fn addbmm(ctx: &mut OpCtx, args: &[Value]) -> Result<Value> {
    let (x, y) = (targ(args, 1)?, targ(args, 2)?);
    if x.ndim() != 3 || y.ndim() != 3 || x.shape()[0] != y.shape()[0] {
        return Err(Error::runtime(format!(
            "addbmm expects 3-d batches of equal size, got {:?} and {:?}",
            x.shape(),
            y.shape()
        )));
    }
    let prod = batched(ctx, x, y)?;
    let (m, n) = (prod.shape()[1], prod.shape()[2]);
    let v = prod.f32s()?;
    let mut sum = try_alloc::<f32>(m * n)?;
    if m * n > 0 {
        for chunk in v.chunks_exact(m * n) {
            sum.iter_mut().zip(chunk).for_each(|(s, p)| *s += p);
        }
    }
    let summed = Tensor::from_f32_as(prod.dtype(), vec![m, n], sum);
    let scale = |v: Value, i: usize| -> Result<Value> {
        let f = match opt(args, i) {
            Value::None => 1.0,
            s => s.as_f64()?,
        };
        crate::ops::elementwise::binary(
            v,
            &Value::Float(f),
            crate::ops::elementwise::Bin::Mul,
            None,
        )
        .map(Value::Tensor)
    };
    let bias = scale(arg(args, 0)?.clone(), 3)?;
    let prod = scale(Value::Tensor(summed), 4)?;
    crate::ops::elementwise::binary(prod, &bias, crate::ops::elementwise::Bin::Add, None)
        .map(Value::Tensor)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::mm.default" => |c: &mut OpCtx, a: Vec<Value>| one(mm(c, targ(&a, 0)?, targ(&a, 1)?)?),
        "aten::bmm.default" => |c: &mut OpCtx, a: Vec<Value>| {
            let (x, y) = (targ(&a, 0)?, targ(&a, 1)?);
            if x.ndim() != 3 || y.ndim() != 3 { return Err(Error::runtime("bmm expects 3-d tensors")); }
            if x.shape()[0] != y.shape()[0] { return Err(Error::runtime("bmm: batch sizes differ")); }
            one(batched(c, x, y)?)
        },
        "aten::matmul.default" => |c: &mut OpCtx, a: Vec<Value>| one(matmul(c, targ(&a, 0)?, targ(&a, 1)?)?),
        "aten::linear.default" => |c: &mut OpCtx, a: Vec<Value>| one(linear(c, &a)?),
        "aten::addmm.default" => |c: &mut OpCtx, a: Vec<Value>| one(addmm(c, &a)?),
        "aten::baddbmm.default" => |c: &mut OpCtx, a: Vec<Value>| one(baddbmm(c, &a)?),
        "aten::addbmm.default" => |c: &mut OpCtx, a: Vec<Value>| Ok(vec![addbmm(c, &a)?]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn seq(n: usize, s: f32) -> Vec<f32> {
        (0..n).map(|i| ((i * 7 % 11) as f32 - 5.0) * s).collect()
    }

    #[test]
    fn mm_matches_naive_including_transposed_views() {
        let (m, k, n) = (5, 7, 19);
        let a = Tensor::from_f32(vec![m, k], seq(m * k, 0.3));
        let b = Tensor::from_f32(vec![k, n], seq(k * n, 0.2));
        let want = naive(&a.to_f32_vec(), &b.to_f32_vec(), m, k, n);
        let got = mm(&mut OpCtx::default(), &a, &b).unwrap().to_f32_vec();
        for (x, y) in got.iter().zip(&want) {
            assert!((x - y).abs() < 1e-4);
        }
        // b as a transposed view of an [n, k] matrix
        let bt = Tensor::from_f32(vec![n, k], b.transpose(0, 1).unwrap().to_f32_vec());
        let view = bt.transpose(0, 1).unwrap();
        let got = mm(&mut OpCtx::default(), &a, &view).unwrap().to_f32_vec();
        for (x, y) in got.iter().zip(&want) {
            assert!((x - y).abs() < 1e-4);
        }
    }

    #[test]
    fn linear_with_packed_weight_cache() {
        let (m, k, n) = (3, 4, 5);
        let x = Tensor::from_f32(vec![1, m, k], seq(m * k, 0.5));
        let w = Tensor::from_f32(vec![n, k], seq(n * k, 0.25));
        let b = Tensor::from_f32(vec![n], (0..n).map(|i| i as f32).collect());
        let mut ctx = OpCtx::default();
        ctx.persistent.insert(w.data_ptr());
        let wt = w.transpose(0, 1).unwrap().to_f32_vec();
        let mut want = naive(&x.to_f32_vec(), &wt, m, k, n);
        for (i, v) in want.iter_mut().enumerate() {
            *v += (i % n) as f32;
        }
        for _ in 0..2 {
            let r = linear(
                &mut ctx,
                &[x.clone().into(), w.clone().into(), b.clone().into()],
            )
            .unwrap();
            assert_eq!(r.shape(), &[1, m, n]);
            for (p, q) in r.to_f32_vec().iter().zip(&want) {
                assert!((p - q).abs() < 1e-4, "{p} vs {q}");
            }
        }
        assert_eq!(ctx.prepack.used(), 16 * 4 * 4);
    }

    #[test]
    fn matmul_shapes() {
        let mut ctx = OpCtx::default();
        let a = Tensor::from_f32(vec![2, 3, 4], seq(24, 1.0));
        let b = Tensor::from_f32(vec![2, 4, 5], seq(40, 1.0));
        let r = matmul(&mut ctx, &a, &b).unwrap();
        assert_eq!(r.shape(), &[2, 3, 5]);
        let second = naive(&a.to_f32_vec()[12..], &b.to_f32_vec()[20..], 3, 4, 5);
        assert_eq!(&r.to_f32_vec()[15..], &second[..]);
        let v = Tensor::from_f32(vec![4], seq(4, 1.0));
        assert_eq!(matmul(&mut ctx, &a, &v).unwrap().shape(), &[2, 3]);
        assert_eq!(matmul(&mut ctx, &v, &b).unwrap().shape(), &[2, 5]);
        assert_eq!(matmul(&mut ctx, &v, &v).unwrap().shape(), &[] as &[usize]);
        assert!(matmul(&mut ctx, &a, &a).is_err());
        let ad = addmm(
            &mut ctx,
            &[
                Tensor::from_f32(vec![2], vec![1., 2.]).into(),
                Tensor::from_f32(vec![1, 1], vec![3.]).into(),
                Tensor::from_f32(vec![1, 2], vec![1., 1.]).into(),
                Value::Int(1),
                Value::Int(2),
            ],
        )
        .unwrap();
        assert_eq!(ad.to_f32_vec(), vec![7., 8.]);
    }
}
