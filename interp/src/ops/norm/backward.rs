//! Gradients of layer norm and group norm (`native_layer_norm_backward`,
//! `native_group_norm_backward`), from the saved `mean` / `rstd` the forward ops return.
//!
//! With `x̂ = (x - mean) · rstd` and `g = dy · γ` over one normalised group of `m`
//! elements: `dx = rstd · (g - mean(g) - x̂ · mean(g · x̂))`, `dγ = Σ dy · x̂`, `dβ = Σ dy`
//! (sums over everything but the affine parameter's own axis). Outputs switched off by
//! `output_mask` are `None` (undefined in PyTorch).

use super::forward::normalized_dims;
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{float_out, masked_grad, output_mask, usize_of, zeros_for};
use crate::ops::{iarg, ints, opt, targ};
use crate::tensor::{checked_numel, Tensor};
use crate::value::Value;

/// A saved-statistics tensor with exactly `n` values.
fn stats(t: &Tensor, n: usize, what: &str, op: &str) -> Result<Vec<f64>> {
    if t.numel() != n {
        return Err(Error::runtime(format!(
            "{op}: {what} has {} values ({:?}), expected {n}",
            t.numel(),
            t.shape()
        )));
    }
    t.f64s()
}

/// An optional per-feature affine tensor with `n` values.
fn affine(t: Option<&Tensor>, n: usize, what: &str, op: &str) -> Result<Option<Vec<f64>>> {
    t.map(|t| stats(t, n, what, op)).transpose()
}

/// dx of one normalised group: `x`, `dy` and the per-element scale `gamma(j)`.
fn group_dx(
    x: &[f64],
    dy: &[f64],
    mean: f64,
    rstd: f64,
    gamma: impl Fn(usize) -> f64,
    dx: &mut [f64],
) {
    let m = x.len().max(1) as f64;
    let (mut sg, mut sgx) = (0.0, 0.0);
    for (j, (&xv, &d)) in x.iter().zip(dy).enumerate() {
        let g = d * gamma(j);
        sg += g;
        sgx += g * (xv - mean) * rstd;
    }
    let (mg, mgx) = (sg / m, sgx / m);
    for (j, ((&xv, &d), o)) in x.iter().zip(dy).zip(dx.iter_mut()).enumerate() {
        let xh = (xv - mean) * rstd;
        *o = rstd * (d * gamma(j) - mg - xh * mgx);
    }
}

/// native_layer_norm_backward(grad_out, input, normalized_shape, mean, rstd, weight, bias,
/// output_mask)
fn layer_norm_backward(args: &[Value]) -> Result<Vec<Value>> {
    let op = "native_layer_norm_backward";
    let dy = targ(args, 0)?;
    let x = targ(args, 1)?;
    let ns = ints(args, 2)?;
    let mask = output_mask(args, 7)?;
    if dy.shape() != x.shape() {
        return Err(Error::runtime(format!(
            "{op}: grad_out {:?} and input {:?} differ",
            dy.shape(),
            x.shape()
        )));
    }
    let norm_shape = normalized_dims(op, x, &ns)?.to_vec();
    let row = checked_numel(&norm_shape)?;
    // rows * row = numel; with row = 0 the leading dims may be huge, and nothing is looped
    let rows = match x.numel().checked_div(row) {
        Some(rows) => rows,
        None => checked_numel(&x.shape()[..x.ndim() - ns.len()])?,
    };
    let mean = stats(targ(args, 3)?, rows, "mean", op)?;
    let rstd = stats(targ(args, 4)?, rows, "rstd", op)?;
    let w = affine(opt(args, 5).as_opt_tensor()?, row, "weight", op)?;
    affine(opt(args, 6).as_opt_tensor()?, row, "bias", op)?;
    let (xv, dv) = (x.f64s()?, dy.f64s()?);
    let mut dx = if mask[0] {
        zeros_for(x.shape())?
    } else {
        Vec::new()
    };
    let mut dw = zeros_for(if mask[1] { &norm_shape } else { &[0] })?;
    let mut db = zeros_for(if mask[2] { &norm_shape } else { &[0] })?;
    for r in 0..if row == 0 { 0 } else { rows } {
        let span = r * row..(r + 1) * row;
        let (xr, dr) = (&xv[span.clone()], &dv[span.clone()]);
        if mask[0] {
            let gamma = |j: usize| w.as_ref().map_or(1.0, |w| w[j]);
            group_dx(xr, dr, mean[r], rstd[r], gamma, &mut dx[span]);
        }
        if mask[1] {
            for (j, (&xv, &d)) in xr.iter().zip(dr).enumerate() {
                dw[j] += d * (xv - mean[r]) * rstd[r];
            }
        }
        if mask[2] {
            for (j, &d) in dr.iter().enumerate() {
                db[j] += d;
            }
        }
    }
    let dt = float_out(x);
    Ok(vec![
        masked_grad(mask[0], dt, x.shape(), dx),
        masked_grad(mask[1], dt, &norm_shape, dw),
        masked_grad(mask[2], dt, &norm_shape, db),
    ])
}

/// native_group_norm_backward(grad_out, input, mean, rstd, weight, N, C, HxW, group,
/// output_mask)
fn group_norm_backward(args: &[Value]) -> Result<Vec<Value>> {
    let op = "native_group_norm_backward";
    let dy = targ(args, 0)?;
    let x = targ(args, 1)?;
    let n = usize_of(iarg(args, 5)?, "N")?;
    let c = usize_of(iarg(args, 6)?, "C")?;
    let hw = usize_of(iarg(args, 7)?, "HxW")?;
    let groups = usize_of(iarg(args, 8)?, "group")?;
    let mask = output_mask(args, 9)?;
    if dy.shape() != x.shape() {
        return Err(Error::runtime(format!(
            "{op}: grad_out {:?} and input {:?} differ",
            dy.shape(),
            x.shape()
        )));
    }
    let consistent = x.ndim() >= 2
        && x.shape()[0] == n
        && x.shape()[1] == c
        && (n as u128) * (c as u128) * (hw as u128) == x.numel() as u128;
    if !consistent || groups == 0 || c % groups != 0 {
        return Err(Error::runtime(format!(
            "{op}: input {:?} does not match N={n}, C={c}, HxW={hw}, group={groups}",
            x.shape()
        )));
    }
    let cg = c / groups;
    let ng = checked_numel(&[n, groups])?;
    let mean = stats(targ(args, 2)?, ng, "mean", op)?;
    let rstd = stats(targ(args, 3)?, ng, "rstd", op)?;
    let w = affine(opt(args, 4).as_opt_tensor()?, c, "weight", op)?;
    let (xv, dv) = (x.f64s()?, dy.f64s()?);
    let mut dx = if mask[0] {
        zeros_for(x.shape())?
    } else {
        Vec::new()
    };
    let mut dw = zeros_for(&[if mask[1] { c } else { 0 }])?;
    let mut db = zeros_for(&[if mask[2] { c } else { 0 }])?;
    let size = cg * hw;
    // size = 0: an empty input (N may still be huge); nothing to accumulate
    for b in 0..if size == 0 { 0 } else { n } {
        for g in 0..groups {
            let k = b * groups + g;
            let span = k * size..(k + 1) * size;
            let (xr, dr) = (&xv[span.clone()], &dv[span.clone()]);
            if mask[0] {
                let gamma = |j: usize| w.as_ref().map_or(1.0, |w| w[g * cg + j / hw.max(1)]);
                group_dx(xr, dr, mean[k], rstd[k], gamma, &mut dx[span]);
            }
            for (j, (&xe, &d)) in xr.iter().zip(dr).enumerate() {
                let ch = g * cg + j / hw.max(1);
                if mask[1] {
                    dw[ch] += d * (xe - mean[k]) * rstd[k];
                }
                if mask[2] {
                    db[ch] += d;
                }
            }
        }
    }
    let dt = float_out(x);
    Ok(vec![
        masked_grad(mask[0], dt, x.shape(), dx),
        masked_grad(mask[1], dt, &[c], dw),
        masked_grad(mask[2], dt, &[c], db),
    ])
}

/// Register the norm backward ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::native_layer_norm_backward.default" => |_: &mut OpCtx, a: Vec<Value>| layer_norm_backward(&a),
        "aten::native_group_norm_backward.default" => |_: &mut OpCtx, a: Vec<Value>| group_norm_backward(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layer norm and group norm with one group over the same data agree, and the input
    /// gradient of a normalisation is orthogonal to constants (sums to zero per group).
    #[test]
    fn layer_and_group_norm_agree() {
        let xv: Vec<f32> = vec![1., 4., 2., 8., -1., 0.5];
        let dyv: Vec<f32> = vec![0.3, -1., 2., 0.5, 0.1, 1.];
        let x = Tensor::from_f32(vec![1, 6], xv.clone());
        let dy = Tensor::from_f32(vec![1, 6], dyv);
        let m = xv.iter().map(|&v| v as f64).sum::<f64>() / 6.0;
        let var = xv.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / 6.0;
        let mean = Tensor::from_f32(vec![1, 1], vec![m as f32]);
        let rstd = Tensor::from_f32(vec![1, 1], vec![(1.0 / var.sqrt()) as f32]);
        let all = Value::List(vec![Value::Bool(true); 3]);
        let ln = layer_norm_backward(&[
            dy.clone().into(),
            x.clone().into(),
            Value::List(vec![Value::Int(6)]),
            mean.clone().into(),
            rstd.clone().into(),
            Value::None,
            Value::None,
            all.clone(),
        ])
        .unwrap();
        let gn = group_norm_backward(&[
            dy.into(),
            x.into(),
            mean.into(),
            rstd.into(),
            Value::None,
            Value::Int(1),
            Value::Int(6),
            Value::Int(1),
            Value::Int(1),
            all,
        ])
        .unwrap();
        let a = ln[0].as_tensor().unwrap().to_f32_vec();
        let b = gn[0].as_tensor().unwrap().to_f32_vec();
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-5);
        }
        assert!(a.iter().sum::<f32>().abs() < 1e-5);
        assert_eq!(
            ln[2].as_tensor().unwrap().to_f32_vec(),
            vec![0.3, -1., 2., 0.5, 0.1, 1.]
        );
    }
}
