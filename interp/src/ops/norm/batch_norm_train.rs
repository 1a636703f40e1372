//! Training-mode batch normalisation: `_native_batch_norm_legit` (`.default` with running
//! statistics, `.no_stats` without) and `_native_batch_norm_legit_functional` (what
//! torch.export emits for training-mode batch norm that updates running statistics).
//!
//! In training mode the input is normalised with its own per-channel statistics over the
//! batch and spatial dims (biased variance) and the op also returns them: `save_mean` and
//! `save_invstd = 1 / sqrt(var + eps)`. The in-place `.default` overload cannot update the
//! running statistics (the interpreter's tensors are immutable, and a functional graph
//! never reads them back); the `_functional` overload returns the updated ones:
//! `(1 - momentum) * running + momentum * batch`, with the unbiased variance for
//! `running_var`, like PyTorch. Statistics accumulate in f64.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{farg, opt, targ};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// The layout of an input `[N, C, *]`.
struct Dims {
    n: usize,
    c: usize,
    spatial: usize,
}

fn dims(x: &Tensor) -> Result<Dims> {
    if x.ndim() < 2 {
        return Err(Error::runtime(format!(
            "batch_norm input {:?} needs a channel dim",
            x.shape()
        )));
    }
    Ok(Dims {
        n: x.shape()[0],
        c: x.shape()[1],
        spatial: x.shape()[2..].iter().product(),
    })
}

/// Per-channel values of an optional `[C]` tensor, or `default`.
fn per_channel(t: Option<&Tensor>, c: usize, what: &str, default: f64) -> Result<Vec<f64>> {
    match t {
        None => Ok(vec![default; c]),
        Some(t) if t.numel() == c => t.f64s(),
        Some(t) => Err(Error::runtime(format!(
            "batch_norm {what} {:?} for {c} channels",
            t.shape()
        ))),
    }
}

/// Per-channel mean and biased variance of `x` (two passes, in f64).
fn batch_stats(x: &[f64], d: &Dims) -> (Vec<f64>, Vec<f64>) {
    let count = (d.n * d.spatial) as f64;
    let mut mean = vec![0.0; d.c];
    let mut var = vec![0.0; d.c];
    if d.spatial == 0 || d.c == 0 {
        return (vec![f64::NAN; d.c], vec![f64::NAN; d.c]);
    }
    // x is [N, C, spatial]: chunk k belongs to channel k % C
    for (k, chunk) in x.chunks(d.spatial).enumerate() {
        mean[k % d.c] += chunk.iter().sum::<f64>();
    }
    mean.iter_mut().for_each(|m| *m /= count);
    for (k, chunk) in x.chunks(d.spatial).enumerate() {
        let m = mean[k % d.c];
        var[k % d.c] += chunk.iter().map(|v| (v - m) * (v - m)).sum::<f64>();
    }
    var.iter_mut().for_each(|v| *v /= count);
    (mean, var)
}

/// What a batch-norm call produced.
struct BnOut {
    out: Tensor,
    /// Batch mean and 1/sqrt(var + eps) (training), else `None`.
    saved: Option<(Vec<f64>, Vec<f64>)>,
    /// Biased batch variance (training), for the running-variance update.
    var: Vec<f64>,
}

/// Normalise `x` with batch statistics (`running` = None or training) or the running ones.
fn run(
    x: &Tensor,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    running: Option<(&Tensor, &Tensor)>,
    training: bool,
    eps: f64,
) -> Result<BnOut> {
    let d = dims(x)?;
    let wv = per_channel(w, d.c, "weight", 1.0)?;
    let bv = per_channel(b, d.c, "bias", 0.0)?;
    let xv = x.f64s()?;
    let (mean, var, saved) = if training {
        let (mean, var) = batch_stats(&xv, &d);
        let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        (mean.clone(), var, Some((mean, invstd)))
    } else {
        let (rm, rv) = running.ok_or_else(|| {
            Error::runtime("batch_norm: running_mean must be defined in evaluation mode")
        })?;
        let mean = per_channel(Some(rm), d.c, "running_mean", 0.0)?;
        let var = per_channel(Some(rv), d.c, "running_var", 1.0)?;
        (mean, var, None)
    };
    let scale: Vec<f64> = (0..d.c).map(|ch| wv[ch] / (var[ch] + eps).sqrt()).collect();
    let mut out = xv;
    for (k, chunk) in out.chunks_mut(d.spatial.max(1)).enumerate() {
        if d.spatial == 0 {
            break;
        }
        let ch = k % d.c;
        chunk
            .iter_mut()
            .for_each(|v| *v = (*v - mean[ch]) * scale[ch] + bv[ch]);
    }
    let dt = if x.dtype().is_float() {
        x.dtype()
    } else {
        DType::F32
    };
    Ok(BnOut {
        out: Tensor::from_f64_as(dt, x.shape().to_vec(), out),
        saved,
        var,
    })
}

/// The dtype of saved statistics: f64 for f64 inputs, else f32.
fn stat_dtype(x: &Tensor) -> DType {
    if x.dtype() == DType::F64 {
        DType::F64
    } else {
        DType::F32
    }
}

/// (out, save_mean, save_invstd); the saved tensors are empty outside training, like PyTorch.
fn three(x: &Tensor, r: BnOut) -> Vec<Value> {
    let sd = stat_dtype(x);
    let (m, s) = match r.saved {
        Some((m, s)) => (
            Tensor::from_f64_as(sd, vec![m.len()], m),
            Tensor::from_f64_as(sd, vec![s.len()], s),
        ),
        None => (
            Tensor::from_f64_as(sd, vec![0], vec![]),
            Tensor::from_f64_as(sd, vec![0], vec![]),
        ),
    };
    vec![r.out.into(), m.into(), s.into()]
}

/// _native_batch_norm_legit(input, weight, bias, running_mean, running_var, training,
/// momentum, eps)
fn legit(a: &[Value]) -> Result<Vec<Value>> {
    let x = targ(a, 0)?;
    let running = (targ(a, 3)?, targ(a, 4)?);
    let training = crate::ops::arg(a, 5)?.as_bool()?;
    let r = run(
        x,
        opt(a, 1).as_opt_tensor()?,
        opt(a, 2).as_opt_tensor()?,
        Some(running),
        training,
        farg(a, 7)?,
    )?;
    Ok(three(x, r))
}

/// _native_batch_norm_legit.no_stats(input, weight, bias, training, momentum, eps)
fn legit_no_stats(a: &[Value]) -> Result<Vec<Value>> {
    let x = targ(a, 0)?;
    let training = crate::ops::arg(a, 3)?.as_bool()?;
    let r = run(
        x,
        opt(a, 1).as_opt_tensor()?,
        opt(a, 2).as_opt_tensor()?,
        None,
        training,
        farg(a, 5)?,
    )?;
    Ok(three(x, r))
}

/// _native_batch_norm_legit_functional(input, weight, bias, running_mean, running_var,
/// training, momentum, eps) -> (out, save_mean, save_invstd, running_mean_out,
/// running_var_out)
fn legit_functional(a: &[Value]) -> Result<Vec<Value>> {
    let x = targ(a, 0)?;
    let (rm, rv) = (targ(a, 3)?, targ(a, 4)?);
    let training = crate::ops::arg(a, 5)?.as_bool()?;
    let momentum = farg(a, 6)?;
    let r = run(
        x,
        opt(a, 1).as_opt_tensor()?,
        opt(a, 2).as_opt_tensor()?,
        Some((rm, rv)),
        training,
        farg(a, 7)?,
    )?;
    let d = dims(x)?;
    let (new_m, new_v) = match &r.saved {
        Some((mean, _)) => {
            let count = (d.n * d.spatial) as f64;
            let unbias = if count > 1.0 {
                count / (count - 1.0)
            } else {
                f64::INFINITY
            };
            let rmv = rm.f64s()?;
            let rvv = rv.f64s()?;
            let m: Vec<f64> = (0..d.c)
                .map(|c| (1.0 - momentum) * rmv[c] + momentum * mean[c])
                .collect();
            let v: Vec<f64> = (0..d.c)
                .map(|c| (1.0 - momentum) * rvv[c] + momentum * r.var[c] * unbias)
                .collect();
            (
                Tensor::from_f64_as(rm.dtype(), rm.shape().to_vec(), m),
                Tensor::from_f64_as(rv.dtype(), rv.shape().to_vec(), v),
            )
        }
        None => (rm.contiguous()?, rv.contiguous()?),
    };
    let mut out = three(x, r);
    out.push(new_m.into());
    out.push(new_v.into());
    Ok(out)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::_native_batch_norm_legit.default" => |_: &mut OpCtx, a: Vec<Value>| legit(&a),
        "aten::_native_batch_norm_legit.no_stats" => |_: &mut OpCtx, a: Vec<Value>| legit_no_stats(&a),
        "aten::_native_batch_norm_legit_functional.default" => |_: &mut OpCtx, a: Vec<Value>| legit_functional(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::try_call_ts;

    #[test]
    fn training_uses_batch_statistics() {
        // N=2, C=2, spatial 2: channel 0 = [1, 3, 5, 7] (mean 4, var 5), channel 1 =
        // [0, 2, 0, 2] (mean 1, var 1)
        let x = Tensor::from_f32(vec![2, 2, 2], vec![1., 3., 0., 2., 5., 7., 0., 2.]);
        let w = Tensor::from_f32(vec![2], vec![2., 1.]);
        let b = Tensor::from_f32(vec![2], vec![0., 10.]);
        let r = try_call_ts(
            "aten::_native_batch_norm_legit.no_stats",
            vec![
                x.clone().into(),
                w.clone().into(),
                b.clone().into(),
                Value::Bool(true),
                Value::Float(0.1),
                Value::Float(0.0),
            ],
        )
        .unwrap();
        let s = 1.0 / 5.0f32.sqrt();
        let got = r[0].to_f32_vec();
        let want = [-6. * s, -2. * s, 9., 11., 2. * s, 6. * s, 9., 11.];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?}");
        }
        assert_eq!(r[1].to_f32_vec(), vec![4., 1.]);
        assert!((r[2].to_f32_vec()[0] - s).abs() < 1e-6);
        assert_eq!(r[2].to_f32_vec()[1], 1.0);
        assert!(try_call_ts(
            "aten::_native_batch_norm_legit.no_stats",
            vec![
                x.clone().into(),
                Value::None,
                Value::None,
                Value::Bool(false),
                Value::Float(0.1),
                Value::Float(1e-5)
            ],
        )
        .is_err());
        // functional: running stats updated with momentum 0.5 (unbiased var 20/3)
        let rm = Tensor::from_f32(vec![2], vec![0., 0.]);
        let rv = Tensor::from_f32(vec![2], vec![1., 1.]);
        let r = try_call_ts(
            "aten::_native_batch_norm_legit_functional.default",
            vec![
                x.clone().into(),
                Value::None,
                Value::None,
                rm.into(),
                rv.into(),
                Value::Bool(true),
                Value::Float(0.5),
                Value::Float(1e-5),
            ],
        )
        .unwrap();
        assert_eq!(r.len(), 5);
        assert_eq!(r[3].to_f32_vec(), vec![2., 0.5]);
        assert!((r[4].to_f32_vec()[0] - (0.5 + 0.5 * 20. / 3.)).abs() < 1e-5);
        assert!((r[4].to_f32_vec()[1] - (0.5 + 0.5 * 4. / 3.)).abs() < 1e-6);
    }

    #[test]
    fn eval_mode_uses_running_statistics() {
        let x = Tensor::from_f32(vec![1, 2], vec![3., 4.]);
        let rm = Tensor::from_f32(vec![2], vec![1., 2.]);
        let rv = Tensor::from_f32(vec![2], vec![4., 1.]);
        let r = try_call_ts(
            "aten::_native_batch_norm_legit.default",
            vec![
                x.into(),
                Value::None,
                Value::None,
                rm.into(),
                rv.into(),
                Value::Bool(false),
                Value::Float(0.1),
                Value::Float(0.0),
            ],
        )
        .unwrap();
        assert_eq!(r[0].to_f32_vec(), vec![1., 2.]);
        assert_eq!((r[1].shape(), r[2].shape()), (&[0usize][..], &[0usize][..]));
        let bad = Tensor::from_f32(vec![3], vec![0.; 3]);
        assert!(try_call_ts(
            "aten::_native_batch_norm_legit.default",
            vec![
                Tensor::from_f32(vec![1, 2], vec![0.; 2]).into(),
                Value::None,
                Value::None,
                bad.clone().into(),
                bad.into(),
                Value::Bool(false),
                Value::Float(0.1),
                Value::Float(0.0)
            ],
        )
        .is_err());
    }
}
