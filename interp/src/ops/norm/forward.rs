//! Normalisation forward passes on the kernels' f32 paths: inference batch norm, layer
//! norm and group norm (with the mean/rstd statistics the `native_*` variants return).

use wasm_torch_kernels::norm::{batch_norm_inference, group_norm, layer_norm_rows};

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{barg_or, farg, float_out, iarg, ints, one, opt, targ, to_usize};
use crate::storage::try_alloc;
use crate::tensor::Tensor;
use crate::value::Value;

/// Inference batch norm: input, weight?, bias?, running_mean, running_var, eps.
fn batch_norm(
    x: &Tensor,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    mean: &Tensor,
    var: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    if x.ndim() < 2 {
        return Err(Error::runtime(format!(
            "batch_norm input {:?} needs a channel dim",
            x.shape()
        )));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let spatial: usize = x.shape()[2..].iter().product();
    for (name, t) in [
        ("running_mean", Some(mean)),
        ("running_var", Some(var)),
        ("weight", w),
        ("bias", b),
    ] {
        if let Some(t) = t {
            if t.numel() != c {
                return Err(Error::runtime(format!(
                    "batch_norm {name} {:?} for {c} channels",
                    t.shape()
                )));
            }
        }
    }
    let mut out = try_alloc::<f32>(x.numel())?;
    let wv = w.map(|t| t.f32s()).transpose()?;
    let bv = b.map(|t| t.f32s()).transpose()?;
    batch_norm_inference(
        &x.f32s()?,
        n,
        c,
        spatial,
        &mean.f32s()?,
        &var.f32s()?,
        wv.as_deref(),
        bv.as_deref(),
        eps as f32,
        &mut out,
    );
    Ok(Tensor::from_f32_as(float_out(x), x.shape().to_vec(), out))
}

fn empty_f32() -> Value {
    Value::Tensor(Tensor::from_f32(vec![0], vec![]))
}

/// The trailing dims of `x` a layer norm's `normalized_shape` names; an error naming `op`
/// when `normalized_shape` does not end `x`'s shape.
pub(crate) fn normalized_dims<'a>(op: &str, x: &'a Tensor, ns: &[i64]) -> Result<&'a [usize]> {
    match x
        .ndim()
        .checked_sub(ns.len())
        .map(|lead| &x.shape()[lead..])
    {
        Some(tail) if tail.iter().zip(ns).all(|(&a, &b)| a as i64 == b) => Ok(tail),
        _ => Err(Error::runtime(format!(
            "{op}: normalized_shape {ns:?} does not end input {:?}",
            x.shape()
        ))),
    }
}

/// layer norm over the trailing `normalized_shape`; returns (out, mean, rstd).
fn layer_norm(args: &[Value], want_stats: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let ns = ints(args, 1)?;
    let w = opt(args, 2).as_opt_tensor()?;
    let b = opt(args, 3).as_opt_tensor()?;
    let eps = farg(args, 4)?;
    let row: usize = normalized_dims("layer_norm", x, &ns)?.iter().product();
    for t in [w, b].into_iter().flatten() {
        if t.numel() != row {
            return Err(Error::runtime(format!(
                "layer_norm: affine {:?} for rows of {row}",
                t.shape()
            )));
        }
    }
    let xv = x.f32s()?;
    let mut out = try_alloc::<f32>(x.numel())?;
    if row > 0 {
        let wv = w.map(|t| t.f32s()).transpose()?;
        let bv = b.map(|t| t.f32s()).transpose()?;
        layer_norm_rows(&xv, row, wv.as_deref(), bv.as_deref(), eps as f32, &mut out);
    }
    let dt = float_out(x);
    let mut res = vec![Value::Tensor(Tensor::from_f32_as(
        dt,
        x.shape().to_vec(),
        out,
    ))];
    if want_stats {
        let rows = x.numel() / row.max(1);
        let mut mean = Vec::with_capacity(rows);
        let mut rstd = Vec::with_capacity(rows);
        for r in xv.chunks(row.max(1)) {
            let m = r.iter().map(|&v| v as f64).sum::<f64>() / row.max(1) as f64;
            let var = r.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / row.max(1) as f64;
            mean.push(m as f32);
            rstd.push((1.0 / (var + eps).sqrt()) as f32);
        }
        let mut sshape = x.shape()[..x.ndim() - ns.len()].to_vec();
        sshape.extend(std::iter::repeat_n(1, ns.len()));
        res.push(Value::Tensor(Tensor::from_f32_as(dt, sshape.clone(), mean)));
        res.push(Value::Tensor(Tensor::from_f32_as(dt, sshape, rstd)));
    }
    Ok(res)
}

/// group_norm(input, num_groups, weight, bias, eps, cudnn_enabled)
fn group_norm_op(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let g = to_usize(iarg(args, 1)?, "num_groups")?;
    let w = opt(args, 2).as_opt_tensor()?;
    let b = opt(args, 3).as_opt_tensor()?;
    let eps = farg(args, 4)?;
    if x.ndim() < 2 {
        return Err(Error::runtime("group_norm: input needs a channel dim"));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    if g == 0 || c % g != 0 {
        return Err(Error::runtime(format!(
            "group_norm: {c} channels not divisible into {g} groups"
        )));
    }
    for t in [w, b].into_iter().flatten() {
        if t.numel() != c {
            return Err(Error::runtime(
                "group_norm: affine parameters must have one value per channel",
            ));
        }
    }
    let spatial: usize = x.shape()[2..].iter().product();
    let mut out = try_alloc::<f32>(x.numel())?;
    let wv = w.map(|t| t.f32s()).transpose()?;
    let bv = b.map(|t| t.f32s()).transpose()?;
    group_norm(
        &x.f32s()?,
        n,
        c,
        spatial,
        g,
        wv.as_deref(),
        bv.as_deref(),
        eps as f32,
        &mut out,
    );
    one(Tensor::from_f32_as(float_out(x), x.shape().to_vec(), out))
}

/// native_group_norm(input, weight, bias, N, C, HxW, group, eps) -> (out, mean, rstd)
fn native_group_norm(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let g = iarg(args, 6)?;
    let eps = farg(args, 7)?;
    let out = group_norm_op(&[
        args[0].clone(),
        Value::Int(g),
        opt(args, 1).clone(),
        opt(args, 2).clone(),
        Value::Float(eps),
    ])?;
    let (n, g) = (
        x.shape().first().copied().unwrap_or(0),
        to_usize(g, "group")?,
    );
    let xv = x.f32s()?;
    let per = x.numel().checked_div(n * g).unwrap_or(0);
    let mut mean = Vec::with_capacity(n * g);
    let mut rstd = Vec::with_capacity(n * g);
    for chunk in xv.chunks(per.max(1)).take(n * g) {
        let m = chunk.iter().map(|&v| v as f64).sum::<f64>() / per.max(1) as f64;
        let var = chunk.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / per.max(1) as f64;
        mean.push(m as f32);
        rstd.push((1.0 / (var + eps).sqrt()) as f32);
    }
    let dt = float_out(x);
    let mut res = out;
    res.push(Value::Tensor(Tensor::from_f32_as(dt, vec![n, g], mean)));
    res.push(Value::Tensor(Tensor::from_f32_as(dt, vec![n, g], rstd)));
    Ok(res)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::_native_batch_norm_legit_no_training.default" => |_: &mut OpCtx, a: Vec<Value>| {
            let out = batch_norm(targ(&a, 0)?, opt(&a, 1).as_opt_tensor()?, opt(&a, 2).as_opt_tensor()?, targ(&a, 3)?, targ(&a, 4)?, farg(&a, 6)?)?;
            Ok(vec![out.into(), empty_f32(), empty_f32()])
        },
        "aten::batch_norm.default" => |_: &mut OpCtx, a: Vec<Value>| {
            if barg_or(&a, 5, false)? { return Err(Error::runtime("batch_norm in training mode is not supported")); }
            let (m, v) = (opt(&a, 3).as_opt_tensor()?, opt(&a, 4).as_opt_tensor()?);
            let (Some(m), Some(v)) = (m, v) else { return Err(Error::runtime("batch_norm without running statistics is not supported")) };
            one(batch_norm(targ(&a, 0)?, opt(&a, 1).as_opt_tensor()?, opt(&a, 2).as_opt_tensor()?, m, v, farg(&a, 7)?)?)
        },
        "aten::native_batch_norm.default" => |_: &mut OpCtx, a: Vec<Value>| {
            if barg_or(&a, 5, false)? { return Err(Error::runtime("batch_norm in training mode is not supported")); }
            let out = batch_norm(targ(&a, 0)?, opt(&a, 1).as_opt_tensor()?, opt(&a, 2).as_opt_tensor()?, targ(&a, 3)?, targ(&a, 4)?, farg(&a, 7)?)?;
            Ok(vec![out.into(), empty_f32(), empty_f32()])
        },
        "aten::layer_norm.default" => |_: &mut OpCtx, a: Vec<Value>| layer_norm(&a, false),
        "aten::native_layer_norm.default" => |_: &mut OpCtx, a: Vec<Value>| layer_norm(&a, true),
        "aten::group_norm.default" => |_: &mut OpCtx, a: Vec<Value>| group_norm_op(&a),
        "aten::native_group_norm.default" => |_: &mut OpCtx, a: Vec<Value>| native_group_norm(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{call, il};

    #[test]
    fn group_norm_with_stats() {
        let x = Tensor::from_f32(vec![1, 2, 2], vec![1., 3., 10., 20.]);
        let r = call(
            "aten::native_group_norm.default",
            vec![
                x.into(),
                Value::None,
                Value::None,
                Value::Int(1),
                Value::Int(2),
                Value::Int(2),
                Value::Int(2),
                Value::Float(0.0),
            ],
        );
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![-1., 1., -1., 1.]
        );
        assert_eq!(r[1].as_tensor().unwrap().to_f32_vec(), vec![2., 15.]);
        assert_eq!(r[2].as_tensor().unwrap().shape(), &[1, 2]);
    }

    #[test]
    fn norms_and_softmax() {
        let x = Tensor::from_f32(vec![1, 2, 2], vec![1., 3., 10., 20.]);
        let mean = Tensor::from_f32(vec![2], vec![2., 15.]);
        let var = Tensor::from_f32(vec![2], vec![1., 25.]);
        let r = call(
            "aten::_native_batch_norm_legit_no_training.default",
            vec![
                x.clone().into(),
                Value::None,
                Value::None,
                mean.into(),
                var.into(),
                Value::Float(0.1),
                Value::Float(0.0),
            ],
        );
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![-1., 1., -1., 1.]
        );
        let r = call(
            "aten::native_layer_norm.default",
            vec![
                x.clone().into(),
                il(&[2]),
                Value::None,
                Value::None,
                Value::Float(0.0),
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![-1., 1., -1., 1.]
        );
        assert_eq!(r[1].as_tensor().unwrap().shape(), &[1, 2, 1]);
        assert_eq!(r[1].as_tensor().unwrap().to_f32_vec(), vec![2., 15.]);
        let r = call(
            "aten::_softmax.default",
            vec![
                Tensor::from_f32(vec![2, 2], vec![0., 0., 1., 1.]).into(),
                Value::Int(0),
                Value::Bool(false),
            ],
        );
        let v = r[0].as_tensor().unwrap().to_f32_vec();
        let e = 1.0 / (1.0 + 1f32.exp());
        assert!((v[0] - e).abs() < 1e-6 && (v[2] - (1.0 - e)).abs() < 1e-6);
        let r = call(
            "aten::log_softmax.int",
            vec![
                Tensor::from_f32(vec![2], vec![0., 0.]).into(),
                Value::Int(-1),
                Value::None,
            ],
        );
        assert!((r[0].as_tensor().unwrap().to_f32_vec()[0] + std::f32::consts::LN_2).abs() < 1e-6);
    }
}
