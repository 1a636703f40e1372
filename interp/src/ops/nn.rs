//! Neural-network ops over NCHW tensors: convolution, pooling, batch/layer/group norm,
//! softmax. Arguments are validated here so the kernels' preconditions always hold.

use std::sync::Arc;

use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::conv::{conv2d, conv2d_packed, Conv2dParams, PackedConvWeight};
use wasm_torch_kernels::norm::{batch_norm_inference, group_norm, layer_norm_rows};
use wasm_torch_kernels::pool::{adaptive_avg_pool2d, avg_pool2d, max_pool2d, Pool2dParams};
use wasm_torch_kernels::softmax::{log_softmax_rows, softmax_rows};

use super::spatial::float_out;
use super::{arg, barg_or, farg, iarg, ints, norm_dim, one, opt, targ, to_usize};
use crate::error::{Error, Result};
use crate::registry::{OpCtx, OpFn};
use crate::storage::try_alloc;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// An int-list argument of `n` spatial values (a single value is repeated).
fn pair(args: &[Value], i: usize, n: usize, default: usize) -> Result<Vec<usize>> {
    let v = match opt(args, i) {
        Value::None => vec![],
        v => v.as_ints()?,
    };
    let v: Vec<usize> = v
        .into_iter()
        .map(|x| to_usize(x, "size"))
        .collect::<Result<_>>()?;
    Ok(match v.len() {
        0 => vec![default; n],
        1 => vec![v[0]; n],
        l if l == n => v,
        _ => return Err(Error::runtime(format!("expected {n} values, got {v:?}"))),
    })
}

/// conv (1-d or 2-d, batched or not): args input, weight, bias, stride, padding, dilation,
/// then `groups` at `groups_at`. `transposed` convolutions are not supported.
fn conv(ctx: &mut OpCtx, args: &[Value], groups_at: usize) -> Result<Tensor> {
    let x = targ(args, 0)?;
    let w = targ(args, 1)?;
    let bias = opt(args, 2).as_opt_tensor()?;
    let spatial = w
        .ndim()
        .checked_sub(2)
        .filter(|s| *s == 1 || *s == 2)
        .ok_or_else(|| {
            Error::runtime(format!(
                "convolution weight {:?}: only 1-d and 2-d are supported",
                w.shape()
            ))
        })?;
    let batched = x.ndim() == spatial + 2;
    if !batched && x.ndim() != spatial + 1 {
        return Err(Error::runtime(format!(
            "convolution input {:?} for weight {:?}",
            x.shape(),
            w.shape()
        )));
    }
    let groups = to_usize(iarg(args, groups_at)?, "groups")?;
    let stride = pair(args, 3, spatial, 1)?;
    let dilation = pair(args, 5, spatial, 1)?;
    let xs: Vec<usize> = if batched {
        x.shape().to_vec()
    } else {
        [&[1], x.shape()].concat()
    };
    let (n, c) = (xs[0], xs[1]);
    let (ih, iw) = if spatial == 2 {
        (xs[2], xs[3])
    } else {
        (1, xs[2])
    };
    let (kh, kw) = if spatial == 2 {
        (w.shape()[2], w.shape()[3])
    } else {
        (1, w.shape()[2])
    };
    let padding: Vec<usize> = match opt(args, 4) {
        Value::Str(s) if s == "valid" => vec![0; spatial],
        Value::Str(s) if s == "same" => {
            let ks = if spatial == 2 { vec![kh, kw] } else { vec![kw] };
            let mut p = Vec::new();
            for (i, k) in ks.iter().enumerate() {
                let total = dilation[i] * (k - 1);
                if total % 2 != 0 || stride[i] != 1 {
                    return Err(Error::runtime(
                        "padding='same' with asymmetric padding is not supported",
                    ));
                }
                p.push(total / 2);
            }
            p
        }
        _ => pair(args, 4, spatial, 0)?,
    };
    let o = w.shape()[0];
    if groups == 0 || c != w.shape()[1] * groups {
        return Err(Error::runtime(format!(
            "convolution: input has {c} channels, weight {:?} with groups={groups} expects {}",
            w.shape(),
            w.shape()[1] * groups
        )));
    }
    let two = |v: &[usize]| {
        if spatial == 2 {
            (v[0], v[1])
        } else {
            (1, v[0])
        }
    };
    let p = Conv2dParams {
        batch: n,
        in_channels: c,
        in_h: ih,
        in_w: iw,
        out_channels: o,
        kernel_h: kh,
        kernel_w: kw,
        stride: two(&stride),
        padding: if spatial == 2 {
            (padding[0], padding[1])
        } else {
            (0, padding[0])
        },
        dilation: two(&dilation),
        groups,
    };
    p.validate().map_err(Error::runtime)?;
    let bv = match bias {
        Some(b) if b.numel() == o => Some(b.f32s()?),
        Some(b) => {
            return Err(Error::runtime(format!(
                "convolution bias {:?} for {o} channels",
                b.shape()
            )))
        }
        None => None,
    };
    let (oh, ow) = (p.out_h(), p.out_w());
    let mut out = try_alloc::<f32>(n * o * oh * ow)?;
    let xin = x.f32s()?;
    match packed_conv_weight(ctx, w, &p)? {
        Some(pw) => conv2d_packed(&p, &xin, &pw, bv.as_deref(), Activation::None, &mut out),
        None => conv2d(
            &p,
            &xin,
            &w.f32s()?,
            bv.as_deref(),
            Activation::None,
            &mut out,
        ),
    }
    let mut shape = vec![n, o];
    if spatial == 2 {
        shape.extend([oh, ow]);
    } else {
        shape.push(ow);
    }
    if !batched {
        shape.remove(0);
    }
    Ok(Tensor::from_f32_as(float_out(x), shape, out))
}

/// The packed copy of program weight `w` for convolution `p`, if the session keeps one
/// (see `prepack::conv_weight`).
fn packed_conv_weight(
    ctx: &mut OpCtx,
    w: &Tensor,
    p: &Conv2dParams,
) -> Result<Option<Arc<PackedConvWeight>>> {
    crate::prepack::conv_weight(ctx, w, p)
}

fn convolution(ctx: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    if barg_or(&args, 6, false)? {
        return Err(Error::runtime("transposed convolution is not supported"));
    }
    one(conv(ctx, &args, 8)?)
}

/// Batched NCHW view of a 3-d or 4-d pooling input: (n, c, h, w, batched).
fn nchw(x: &Tensor) -> Result<(usize, usize, usize, usize, bool)> {
    match x.shape() {
        &[n, c, h, w] => Ok((n, c, h, w, true)),
        &[c, h, w] => Ok((1, c, h, w, false)),
        s => Err(Error::runtime(format!(
            "expected a 3-d or 4-d input, got {s:?}"
        ))),
    }
}

fn out_shape(n: usize, c: usize, h: usize, w: usize, batched: bool) -> Vec<usize> {
    if batched {
        vec![n, c, h, w]
    } else {
        vec![c, h, w]
    }
}

fn pool_params(args: &[Value], x: &Tensor, avg: bool) -> Result<(Pool2dParams, bool)> {
    let (n, c, h, w, batched) = nchw(x)?;
    let kernel = pair(args, 1, 2, 1)?;
    let stride = pair(args, 2, 2, 0)?;
    let stride = if stride.iter().all(|&s| s == 0) {
        kernel.clone()
    } else {
        stride
    };
    let padding = pair(args, 3, 2, 0)?;
    let (dilation, ceil_mode, count_include_pad) = if avg {
        (
            vec![1, 1],
            barg_or(args, 4, false)?,
            barg_or(args, 5, true)?,
        )
    } else {
        (pair(args, 4, 2, 1)?, barg_or(args, 5, false)?, false)
    };
    let p = Pool2dParams {
        batch: n,
        channels: c,
        in_h: h,
        in_w: w,
        kernel: (kernel[0], kernel[1]),
        stride: (stride[0], stride[1]),
        padding: (padding[0], padding[1]),
        dilation: (dilation[0], dilation[1]),
        ceil_mode,
        count_include_pad,
    };
    p.validate().map_err(Error::runtime)?;
    Ok((p, batched))
}

fn max_pool(args: &[Value], with_indices: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let (p, batched) = pool_params(args, x, false)?;
    let (oh, ow) = (p.out_h(), p.out_w());
    let len = p.batch * p.channels * oh * ow;
    let mut out = try_alloc::<f32>(len)?;
    let mut idx = if with_indices {
        Some(try_alloc::<i64>(len)?)
    } else {
        None
    };
    max_pool2d(&p, &x.f32s()?, &mut out, idx.as_deref_mut());
    let shape = out_shape(p.batch, p.channels, oh, ow, batched);
    let mut res = vec![Value::Tensor(Tensor::from_f32_as(
        float_out(x),
        shape.clone(),
        out,
    ))];
    if let Some(i) = idx {
        res.push(Value::Tensor(Tensor::from_i64(shape, i)));
    }
    Ok(res)
}

fn avg_pool(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let (p, batched) = pool_params(args, x, true)?;
    let divisor = match opt(args, 6).as_opt_int()? {
        Some(d) if d <= 0 => {
            return Err(Error::runtime(
                "avg_pool2d: divisor_override must be positive",
            ))
        }
        d => d.map(|d| d as usize),
    };
    let (oh, ow) = (p.out_h(), p.out_w());
    let mut out = try_alloc::<f32>(p.batch * p.channels * oh * ow)?;
    avg_pool2d(&p, &x.f32s()?, &mut out, divisor);
    one(Tensor::from_f32_as(
        float_out(x),
        out_shape(p.batch, p.channels, oh, ow, batched),
        out,
    ))
}

fn adaptive_avg(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let (n, c, h, w, batched) = nchw(x)?;
    let os = pair(args, 1, 2, 1)?;
    if os[0] == 0 || os[1] == 0 {
        return Err(Error::runtime(
            "adaptive_avg_pool2d: output size must be positive",
        ));
    }
    let mut out = try_alloc::<f32>(crate::tensor::checked_numel(&[n, c, os[0], os[1]])?)?;
    adaptive_avg_pool2d(n, c, h, w, os[0], os[1], &x.f32s()?, &mut out);
    one(Tensor::from_f32_as(
        float_out(x),
        out_shape(n, c, os[0], os[1], batched),
        out,
    ))
}

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

/// Run a 2-d pool on a 1-d (N, C, L) or (C, L) input as (N, C, 1, L): rewrites the
/// 1-value kernel/stride/padding/dilation arguments into 2-value ones.
fn pool1d(args: &[Value], avg: bool, with_indices: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    if x.ndim() != 2 && x.ndim() != 3 {
        return Err(Error::runtime(format!(
            "1-d pooling expects 2-d or 3-d input, got {:?}",
            x.shape()
        )));
    }
    let mut shape4 = x.shape().to_vec();
    shape4.insert(shape4.len() - 1, 1);
    let x4 = super::shape::reshape(x, shape4)?;
    let one_of = |i: usize, default: i64| -> Result<Value> {
        let v = match opt(args, i) {
            Value::None => vec![],
            v => v.as_ints()?,
        };
        let k = match v.as_slice() {
            [] => default,
            [k] => *k,
            _ => return Err(Error::runtime("1-d pooling takes one value per parameter")),
        };
        let lead = if i == 3 { 0 } else { 1 };
        Ok(Value::List(vec![Value::Int(lead), Value::Int(k)]))
    };
    let kernel = one_of(1, 1)?;
    let stride = match opt(args, 2) {
        Value::List(l) if l.is_empty() => kernel.clone(),
        Value::None => kernel.clone(),
        _ => one_of(2, 1)?,
    };
    let mut a2 = vec![Value::Tensor(x4), kernel, stride, one_of(3, 0)?];
    if avg {
        a2.extend([opt(args, 4).clone(), opt(args, 5).clone(), Value::None]);
    } else {
        a2.extend([one_of(4, 1)?, opt(args, 5).clone()]);
    }
    let res = if avg {
        avg_pool(&a2)?
    } else {
        max_pool(&a2, with_indices)?
    };
    res.into_iter()
        .map(|v| {
            let t = v.as_tensor()?;
            let mut s = t.shape().to_vec();
            s.remove(s.len() - 2);
            Ok(Value::Tensor(super::shape::reshape(t, s)?))
        })
        .collect()
}

/// pad(self, pad, mode, value): constant mode only.
fn pad(args: Vec<Value>) -> Result<Vec<Value>> {
    match opt(&args, 2) {
        Value::None => {}
        Value::Str(m) if m == "constant" => {}
        // TorchScript records `F.pad(mode="reflect"|"replicate")` as aten::pad; torch.export
        // names the dedicated ops, which run the same code here.
        Value::Str(m) if m == "reflect" || m == "replicate" => {
            let padding = ints(&args, 1)?;
            if padding.is_empty() || padding.len() % 2 != 0 || padding.len() > 6 {
                return Err(Error::runtime(format!(
                    "pad mode '{m}' takes 2, 4 or 6 padding values, got {}",
                    padding.len()
                )));
            }
            let spatial = padding.len() / 2;
            let family = if m == "reflect" {
                "reflection"
            } else {
                "replication"
            };
            let name = format!("aten::{family}_pad{spatial}d.default");
            let f = crate::registry::lookup(&name)
                .ok_or_else(|| Error::runtime(format!("internal: {name} missing")))?;
            return f(
                &mut OpCtx::default(),
                vec![arg(&args, 0)?.clone(), arg(&args, 1)?.clone()],
            );
        }
        Value::Str(m) => return Err(Error::runtime(format!("pad mode '{m}' is not supported"))),
        v => {
            return Err(Error::runtime(format!(
                "pad mode must be a string, got {}",
                v.type_name()
            )))
        }
    }
    let f = crate::registry::lookup("aten::constant_pad_nd.default")
        .ok_or_else(|| Error::runtime("internal: constant_pad_nd missing"))?;
    let value = match opt(&args, 3) {
        Value::None => Value::Float(0.0),
        v => v.clone(),
    };
    f(
        &mut OpCtx::default(),
        vec![arg(&args, 0)?.clone(), arg(&args, 1)?.clone(), value],
    )
}

/// Source coordinate scale of an upsampling: `1/scale_factor` when given, else in/out.
fn up_scale(inp: usize, out: usize, sf: Option<f64>) -> f64 {
    match sf {
        Some(s) if s > 0.0 => 1.0 / s,
        _ => inp as f64 / out as f64,
    }
}

/// Output size and scale factors of an upsample op from `output_size` or `scale_factors`.
fn up_sizes(
    x: &Tensor,
    size: &Value,
    scales: &[Option<f64>],
) -> Result<(Vec<usize>, Vec<Option<f64>>)> {
    let (h, w) = (x.shape()[x.ndim() - 2], x.shape()[x.ndim() - 1]);
    match size {
        Value::None => {
            let (Some(sh), Some(sw)) = (scales[0], scales[1]) else {
                return Err(Error::runtime(
                    "upsample: need output_size or scale_factors",
                ));
            };
            if !(sh > 0.0 && sw > 0.0 && sh.is_finite() && sw.is_finite()) {
                return Err(Error::runtime("upsample: scale factors must be positive"));
            }
            let oh = (h as f64 * sh).floor();
            let ow = (w as f64 * sw).floor();
            if oh * ow > 1e12 {
                return Err(Error::oom("upsample: output too large"));
            }
            Ok((vec![oh as usize, ow as usize], vec![Some(sh), Some(sw)]))
        }
        v => {
            let s = v.as_ints()?;
            if s.len() != 2 {
                return Err(Error::runtime("upsample: output_size must have 2 values"));
            }
            Ok((
                vec![to_usize(s[0], "size")?, to_usize(s[1], "size")?],
                scales.to_vec(),
            ))
        }
    }
}

/// Nearest or bilinear 2-d upsampling of an NCHW tensor.
fn upsample(
    x: &Tensor,
    size: &Value,
    scales: &[Option<f64>],
    bilinear: bool,
    align: bool,
) -> Result<Tensor> {
    if x.ndim() != 4 {
        return Err(Error::runtime(format!(
            "upsample expects NCHW input, got {:?}",
            x.shape()
        )));
    }
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (os, sf) = up_sizes(x, size, scales)?;
    let (oh, ow) = (os[0], os[1]);
    let total = crate::tensor::checked_numel(&[n, c, oh, ow])?;
    let mut out = try_alloc::<f32>(total)?;
    if total == 0 || h == 0 || w == 0 {
        return Ok(Tensor::from_f32_as(float_out(x), vec![n, c, oh, ow], out));
    }
    let xv = x.f32s()?;
    // per output coordinate: (i0, i1, lambda)
    let coords = |o: usize, inp: usize, s: Option<f64>| -> Vec<(usize, usize, f32)> {
        (0..o)
            .map(|d| {
                if !bilinear {
                    let src = ((d as f64) * up_scale(inp, o, s)).floor() as usize;
                    let i = src.min(inp - 1);
                    (i, i, 0.0)
                } else {
                    let src = if align {
                        if o > 1 {
                            d as f64 * (inp - 1) as f64 / (o - 1) as f64
                        } else {
                            0.0
                        }
                    } else {
                        ((d as f64 + 0.5) * up_scale(inp, o, s) - 0.5).max(0.0)
                    };
                    let i0 = (src.floor() as usize).min(inp - 1);
                    let i1 = (i0 + 1).min(inp - 1);
                    (i0, i1, (src - i0 as f64) as f32)
                }
            })
            .collect()
    };
    let ys = coords(oh, h, sf[0]);
    let xs = coords(ow, w, sf[1]);
    for p in 0..n * c {
        let src = &xv[p * h * w..(p + 1) * h * w];
        let dst = &mut out[p * oh * ow..(p + 1) * oh * ow];
        for (oy, &(y0, y1, ly)) in ys.iter().enumerate() {
            for (ox, &(x0, x1, lx)) in xs.iter().enumerate() {
                let v = if bilinear {
                    let top = src[y0 * w + x0] * (1.0 - lx) + src[y0 * w + x1] * lx;
                    let bot = src[y1 * w + x0] * (1.0 - lx) + src[y1 * w + x1] * lx;
                    top * (1.0 - ly) + bot * ly
                } else {
                    src[y0 * w + x0]
                };
                dst[oy * ow + ox] = v;
            }
        }
    }
    Ok(Tensor::from_f32_as(float_out(x), vec![n, c, oh, ow], out))
}

fn scale_list(v: &Value) -> Result<Vec<Option<f64>>> {
    Ok(match v {
        Value::None => vec![None, None],
        v => {
            let l = v.as_list()?;
            match l.len() {
                1 => vec![Some(l[0].as_f64()?); 2],
                2 => vec![Some(l[0].as_f64()?), Some(l[1].as_f64()?)],
                _ => return Err(Error::runtime("upsample: scale_factors must have 2 values")),
            }
        }
    })
}

/// Softmax or log-softmax along `dim`, output dtype `dtype` (default: input's float type).
pub(crate) fn softmax(x: &Tensor, dim: i64, log: bool, dtype: Option<DType>) -> Result<Tensor> {
    let out_dt = dtype.unwrap_or_else(|| float_out(x));
    if x.ndim() == 0 {
        let v = if log { 0.0 } else { 1.0 };
        return Ok(Tensor::from_f32_as(out_dt, vec![], vec![v]));
    }
    let d = norm_dim(dim, x.ndim())?;
    let last = x.ndim() - 1;
    let moved = super::shape::transpose(x, d as i64, last as i64)?;
    let row = moved.shape()[last];
    let shape = moved.shape().to_vec();
    let mut v = moved.contiguous().into_f32_vec()?;
    if row > 0 && !v.is_empty() {
        if log {
            log_softmax_rows(&mut v, row);
        } else {
            softmax_rows(&mut v, row);
        }
    }
    let t = Tensor::from_f32_as(out_dt, shape, v);
    Ok(super::shape::transpose(&t, d as i64, last as i64)?.contiguous())
}

macro_rules! reg {
    ($r:ident, $($name:literal => $f:expr),* $(,)?) => {
        $( $r.push(($name, $f as OpFn)); )*
    };
}

pub(crate) fn register(r: &mut Vec<(&'static str, OpFn)>) {
    reg!(r,
        "aten::convolution.default" => convolution,
        "aten::_convolution.default" => convolution,
        "aten::conv2d.default" => |c: &mut OpCtx, a: Vec<Value>| one(conv(c, &a, 6)?),
        "aten::conv2d.padding" => |c: &mut OpCtx, a: Vec<Value>| one(conv(c, &a, 6)?),
        "aten::conv1d.default" => |c: &mut OpCtx, a: Vec<Value>| one(conv(c, &a, 6)?),
        "aten::conv1d.padding" => |c: &mut OpCtx, a: Vec<Value>| one(conv(c, &a, 6)?),
        "aten::max_pool2d_with_indices.default" => |_: &mut OpCtx, a: Vec<Value>| max_pool(&a, true),
        "aten::max_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| max_pool(&a, false),
        "aten::max_pool1d.default" => |_: &mut OpCtx, a: Vec<Value>| pool1d(&a, false, false),
        "aten::max_pool1d_with_indices.default" => |_: &mut OpCtx, a: Vec<Value>| pool1d(&a, false, true),
        "aten::avg_pool1d.default" => |_: &mut OpCtx, a: Vec<Value>| pool1d(&a, true, false),
        "aten::adaptive_avg_pool1d.default" => |_: &mut OpCtx, a: Vec<Value>| {
            let x = targ(&a, 0)?;
            if x.ndim() != 2 && x.ndim() != 3 { return Err(Error::runtime("adaptive_avg_pool1d expects 2-d or 3-d input")); }
            let mut s4 = x.shape().to_vec();
            s4.insert(s4.len() - 1, 1);
            let os = a.get(1).map(|v| v.as_ints()).transpose()?.unwrap_or_default();
            let [o] = os.as_slice() else { return Err(Error::runtime("adaptive_avg_pool1d: output_size must have one value")) };
            let r = adaptive_avg(&[Value::Tensor(super::shape::reshape(x, s4)?), Value::List(vec![Value::Int(1), Value::Int(*o)])])?;
            let t = r[0].as_tensor()?;
            let mut s = t.shape().to_vec();
            s.remove(s.len() - 2);
            one(super::shape::reshape(t, s)?)
        },
        "aten::pad.default" => |_: &mut OpCtx, a: Vec<Value>| pad(a),
        "aten::avg_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| avg_pool(&a),
        "aten::adaptive_avg_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| adaptive_avg(&a),
        "aten::_adaptive_avg_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| adaptive_avg(&a),
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
        "aten::upsample_nearest2d.vec" => |_: &mut OpCtx, a: Vec<Value>| one(upsample(targ(&a, 0)?, opt(&a, 1), &scale_list(opt(&a, 2))?, false, false)?),
        "aten::upsample_nearest2d.default" => |_: &mut OpCtx, a: Vec<Value>| one(upsample(targ(&a, 0)?, opt(&a, 1), &[opt(&a, 2).as_opt_f64()?, opt(&a, 3).as_opt_f64()?], false, false)?),
        "aten::upsample_bilinear2d.vec" => |_: &mut OpCtx, a: Vec<Value>| one(upsample(targ(&a, 0)?, opt(&a, 1), &scale_list(opt(&a, 3))?, true, barg_or(&a, 2, false)?)?),
        "aten::upsample_bilinear2d.default" => |_: &mut OpCtx, a: Vec<Value>| one(upsample(targ(&a, 0)?, opt(&a, 1), &[opt(&a, 3).as_opt_f64()?, opt(&a, 4).as_opt_f64()?], true, barg_or(&a, 2, false)?)?),
        "aten::_softmax.default" => |_: &mut OpCtx, a: Vec<Value>| one(softmax(targ(&a, 0)?, iarg(&a, 1)?, false, None)?),
        "aten::softmax.int" => |_: &mut OpCtx, a: Vec<Value>| one(softmax(targ(&a, 0)?, iarg(&a, 1)?, false, opt(&a, 2).as_opt_dtype()?)?),
        "aten::_log_softmax.default" => |_: &mut OpCtx, a: Vec<Value>| one(softmax(targ(&a, 0)?, iarg(&a, 1)?, true, None)?),
        "aten::log_softmax.int" => |_: &mut OpCtx, a: Vec<Value>| one(softmax(targ(&a, 0)?, iarg(&a, 1)?, true, opt(&a, 2).as_opt_dtype()?)?),
    );
    let _ = arg;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Value>) -> Vec<Value> {
        let f = crate::registry::lookup(name).unwrap();
        f(&mut OpCtx::default(), args).unwrap()
    }
    fn il(v: &[i64]) -> Value {
        Value::List(v.iter().map(|&i| Value::Int(i)).collect())
    }

    #[test]
    fn conv2d_against_hand_computed() {
        // 1x1x3x3 input, 1x1x2x2 weight of ones, bias 1, stride 1, no padding
        let x = Tensor::from_f32(vec![1, 1, 3, 3], (1..=9).map(|v| v as f32).collect());
        let w = Tensor::from_f32(vec![1, 1, 2, 2], vec![1.0; 4]);
        let b = Tensor::from_f32(vec![1], vec![1.0]);
        let r = call(
            "aten::convolution.default",
            vec![
                x.clone().into(),
                w.clone().into(),
                b.into(),
                il(&[1, 1]),
                il(&[0, 0]),
                il(&[1, 1]),
                Value::Bool(false),
                il(&[0, 0]),
                Value::Int(1),
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 2, 2]);
        assert_eq!(t.to_f32_vec(), vec![13., 17., 25., 29.]);
        // padding 1, stride 2, no bias
        let r = call(
            "aten::conv2d.default",
            vec![
                x.into(),
                w.into(),
                Value::None,
                il(&[2]),
                il(&[1]),
                il(&[1]),
                Value::Int(1),
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 2, 2]);
        assert_eq!(t.to_f32_vec(), vec![1., 5., 11., 28.]);
    }

    #[test]
    fn upsampling() {
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]);
        let r = call(
            "aten::upsample_nearest2d.vec",
            vec![
                x.clone().into(),
                Value::None,
                Value::List(vec![Value::Float(2.0), Value::Float(2.0)]),
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 4, 4]);
        assert_eq!(t.to_f32_vec()[..8], [1., 1., 2., 2., 1., 1., 2., 2.]);
        // align_corners=True: corners kept, middle interpolated
        let r = call(
            "aten::upsample_bilinear2d.vec",
            vec![
                x.clone().into(),
                il(&[3, 3]),
                Value::Bool(true),
                Value::None,
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![1., 1.5, 2., 2., 2.5, 3., 3., 3.5, 4.]
        );
        // align_corners=False, scale 2: PyTorch gives [1, 1.25, 1.75, 2] on the first row
        let r = call(
            "aten::upsample_bilinear2d.vec",
            vec![
                x.into(),
                Value::None,
                Value::Bool(false),
                Value::List(vec![Value::Float(2.0), Value::Float(2.0)]),
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec()[..4],
            [1., 1.25, 1.75, 2.]
        );
    }

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
    fn pools_1d() {
        let x = Tensor::from_f32(vec![1, 1, 6], vec![1., 5., 2., 4., 3., 0.]);
        let r = call(
            "aten::max_pool1d_with_indices.default",
            vec![
                x.clone().into(),
                il(&[2]),
                il(&[]),
                il(&[0]),
                il(&[1]),
                Value::Bool(false),
            ],
        );
        assert_eq!(r[0].as_tensor().unwrap().shape(), &[1, 1, 3]);
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![5., 4., 3.]);
        assert_eq!(r[1].as_tensor().unwrap().to_i64_vec(), vec![1, 3, 4]);
        let r = call(
            "aten::avg_pool1d.default",
            vec![
                x.clone().into(),
                il(&[3]),
                il(&[3]),
                il(&[0]),
                Value::Bool(false),
                Value::Bool(true),
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![8. / 3., 7. / 3.]
        );
        let r = call(
            "aten::adaptive_avg_pool1d.default",
            vec![x.clone().into(), il(&[2])],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![8. / 3., 7. / 3.]
        );
        let r = call(
            "aten::pad.default",
            vec![
                x.into(),
                il(&[1, 0]),
                Value::Str("constant".into()),
                Value::Float(9.0),
            ],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec()[..2], [9., 1.]);
    }

    #[test]
    fn pools() {
        let x = Tensor::from_f32(vec![1, 1, 4, 4], (0..16).map(|v| v as f32).collect());
        let r = call(
            "aten::max_pool2d_with_indices.default",
            vec![
                x.clone().into(),
                il(&[2, 2]),
                il(&[]),
                il(&[0]),
                il(&[1]),
                Value::Bool(false),
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![5., 7., 13., 15.]
        );
        assert_eq!(r[1].as_tensor().unwrap().to_i64_vec(), vec![5, 7, 13, 15]);
        let r = call(
            "aten::avg_pool2d.default",
            vec![
                x.clone().into(),
                il(&[2, 2]),
                il(&[2, 2]),
                il(&[0, 0]),
                Value::Bool(false),
                Value::Bool(true),
                Value::None,
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![2.5, 4.5, 10.5, 12.5]
        );
        let r = call(
            "aten::adaptive_avg_pool2d.default",
            vec![x.into(), il(&[1, 1])],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![7.5]);
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
