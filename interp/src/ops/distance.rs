//! Pairwise p-norm distances: `_cdist_forward` (`torch.cdist`) and `_pdist_forward`
//! (`F.pdist`). Computed directly in f64 for every `p` — including p = 2, where PyTorch may
//! take a matrix-multiply shortcut (`compute_mode`); the direct form is the exact one the
//! shortcut approximates, so it is accepted and ignored.

use super::{farg, opt, targ};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{float_out, tensor_f64, zeros_for};
use crate::value::Value;

/// ‖a - b‖_p with PyTorch's special cases: p = 0 counts differing entries, p = ∞ takes the
/// largest difference.
fn dist(a: &[f64], b: &[f64], p: f64) -> f64 {
    let diffs = a.iter().zip(b).map(|(x, y)| (x - y).abs());
    if p == 0.0 {
        diffs.filter(|&d| d != 0.0).count() as f64
    } else if p == 1.0 {
        diffs.sum()
    } else if p == 2.0 {
        diffs.map(|d| d * d).sum::<f64>().sqrt()
    } else if p.is_infinite() {
        diffs.fold(0.0, |m: f64, d| if d > m || d.is_nan() { d } else { m })
    } else {
        diffs.map(|d| d.powf(p)).sum::<f64>().powf(1.0 / p)
    }
}

/// The norm order: non-negative (NaN and negative values are errors, like PyTorch).
fn order(args: &[Value], i: usize, op: &str) -> Result<f64> {
    let p = farg(args, i)?;
    if p.is_nan() || p < 0.0 {
        return Err(Error::runtime(format!(
            "{op}: p must be a non-negative value, got {p}"
        )));
    }
    Ok(p)
}

/// _cdist_forward(x1, x2, p, compute_mode): x1 (*, P, M), x2 (*, R, M) → (*, P, R) with
/// broadcast batch dims.
fn cdist(args: &[Value]) -> Result<Vec<Value>> {
    let op = "_cdist_forward";
    let a = targ(args, 0)?;
    let b = targ(args, 1)?;
    let p = order(args, 2, op)?;
    match opt(args, 3).as_opt_int()? {
        None | Some(0..=2) => {}
        Some(m) => {
            return Err(Error::runtime(format!(
                "{op}: compute_mode must be 0, 1 or 2, got {m}"
            )))
        }
    }
    if a.ndim() < 2 || b.ndim() < 2 {
        return Err(Error::runtime(format!(
            "{op}: inputs need at least 2 dims, got {:?} and {:?}",
            a.shape(),
            b.shape()
        )));
    }
    if !a.dtype().is_float() || !b.dtype().is_float() {
        return Err(Error::runtime(format!(
            "{op}: expected floating-point inputs, got {} and {}",
            a.dtype().name(),
            b.dtype().name()
        )));
    }
    let (pa, m) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    let (rb, mb) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
    if m != mb {
        return Err(Error::runtime(format!(
            "{op}: x1 and x2 must have the same number of columns, got {m} and {mb}"
        )));
    }
    let batch = super::broadcast_shapes(&a.shape()[..a.ndim() - 2], &b.shape()[..b.ndim() - 2])?;
    let a = a.expand_to(&[batch.clone(), vec![pa, m]].concat())?;
    let b = b.expand_to(&[batch.clone(), vec![rb, m]].concat())?;
    let mut shape = batch.clone();
    shape.extend([pa, rb]);
    let mut out = zeros_for(&shape)?;
    if out.is_empty() {
        // (empty batch dims may multiply to a huge loop count)
        return Ok(vec![tensor_f64(float_out(&a), shape, out)]);
    }
    let (av, bv) = (a.f64s()?, b.f64s()?);
    let nb: usize = batch.iter().product();
    for k in 0..nb {
        for i in 0..pa {
            let ra = &av[(k * pa + i) * m..(k * pa + i + 1) * m];
            for j in 0..rb {
                let rbv = &bv[(k * rb + j) * m..(k * rb + j + 1) * m];
                out[(k * pa + i) * rb + j] = dist(ra, rbv, p);
            }
        }
    }
    Ok(vec![tensor_f64(float_out(&a), shape, out)])
}

/// _pdist_forward(self, p): the upper triangle (i < j, row-major) of the pairwise distances
/// between the rows of an (N, M) input.
fn pdist(args: &[Value]) -> Result<Vec<Value>> {
    let op = "_pdist_forward";
    let x = targ(args, 0)?;
    let p = order(args, 1, op)?;
    let &[n, m] = x.shape() else {
        return Err(Error::runtime(format!(
            "{op}: expected a 2-d input, got {:?}",
            x.shape()
        )));
    };
    if !x.dtype().is_float() {
        return Err(Error::runtime(format!(
            "{op}: expected a floating-point input, got {}",
            x.dtype().name()
        )));
    }
    let pairs = usize::try_from(n as u128 * n.saturating_sub(1) as u128 / 2)
        .map_err(|_| Error::oom(format!("{op}: {n} rows have too many pairs")))?;
    let mut out = zeros_for(&[pairs])?;
    let xv = x.f64s()?;
    let mut k = 0;
    for i in 0..n {
        for j in i + 1..n {
            out[k] = dist(&xv[i * m..(i + 1) * m], &xv[j * m..(j + 1) * m], p);
            k += 1;
        }
    }
    Ok(vec![tensor_f64(float_out(x), vec![pairs], out)])
}

/// Register the distance ops, also under the public names TorchScript traces to (same
/// arguments).
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::_cdist_forward.default" => |_: &mut OpCtx, a: Vec<Value>| cdist(&a),
        "aten::cdist.default" => |_: &mut OpCtx, a: Vec<Value>| cdist(&a),
        "aten::_pdist_forward.default" => |_: &mut OpCtx, a: Vec<Value>| pdist(&a),
        "aten::pdist.default" => |_: &mut OpCtx, a: Vec<Value>| pdist(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms() {
        let (a, b) = ([0.0, 0.0, 1.0], [3.0, 4.0, 1.0]);
        assert_eq!(dist(&a, &b, 2.0), 5.0);
        assert_eq!(dist(&a, &b, 1.0), 7.0);
        assert_eq!(dist(&a, &b, 0.0), 2.0);
        assert_eq!(dist(&a, &b, f64::INFINITY), 4.0);
        assert!((dist(&a, &b, 3.0) - 91f64.cbrt()).abs() < 1e-12);
    }

    #[test]
    fn pdist_is_the_upper_triangle() {
        let x = crate::tensor::Tensor::from_f32(vec![3, 1], vec![0., 1., 3.]);
        let r = pdist(&[x.into(), Value::Float(2.0)]).unwrap();
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![1., 3., 2.]);
    }
}
