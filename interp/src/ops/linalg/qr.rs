//! Householder QR in LAPACK's compact form: `geqrf` (reflectors below the diagonal, `R` on
//! and above it, scalars `tau`), `linalg_householder_product` (`Q` from the reflectors),
//! `ormqr` (multiply by `Q` without forming it) and `linalg_qr`. The reflectors follow
//! LAPACK's `larfg` (`beta = -sign(alpha)·‖(alpha, x)‖`, `tau = 0` when `x` is zero), so `Q`
//! and `R` carry the same signs as PyTorch's.

use super::dense::{broadcast_pair, empty, shape_of, tensor, zeros, Mats};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, barg_or, targ, OpCtx};
use crate::tensor::Tensor;
use crate::value::Value;

/// Factor the row-major `m × n` matrix `a` in place; returns `tau` (`min(m, n)` values).
pub(crate) fn geqrf_one(a: &mut [f64], m: usize, n: usize) -> Vec<f64> {
    let k = m.min(n);
    let mut taus = Vec::with_capacity(k);
    for c in 0..k {
        let alpha = a[c * n + c];
        let xnorm = (c + 1..m)
            .map(|r| a[r * n + c] * a[r * n + c])
            .sum::<f64>()
            .sqrt();
        if xnorm == 0.0 {
            taus.push(0.0);
            continue;
        }
        let beta = -alpha.hypot(xnorm).copysign(alpha);
        let tau = (beta - alpha) / beta;
        let scale = 1.0 / (alpha - beta);
        for r in c + 1..m {
            a[r * n + c] *= scale;
        }
        a[c * n + c] = beta;
        // Apply H = I - tau v v^T (v = [1, a[c+1.., c]]) to the columns right of c.
        for j in c + 1..n {
            let mut w = a[c * n + j];
            for r in c + 1..m {
                w += a[r * n + c] * a[r * n + j];
            }
            let tw = tau * w;
            a[c * n + j] -= tw;
            for r in c + 1..m {
                a[r * n + j] -= tw * a[r * n + c];
            }
        }
        taus.push(tau);
    }
    taus
}

/// Apply reflector `i` (stored in column `i` of the row-major `m × vc` matrix `v`, scalar
/// `tau`) from the left to the row-major `m × cc` matrix `c`.
fn reflect(v: &[f64], m: usize, vc: usize, i: usize, tau: f64, c: &mut [f64], cc: usize) {
    if tau == 0.0 {
        return;
    }
    for j in 0..cc {
        let mut w = c[i * cc + j];
        for r in i + 1..m {
            w += v[r * vc + i] * c[r * cc + j];
        }
        let tw = tau * w;
        c[i * cc + j] -= tw;
        for r in i + 1..m {
            c[r * cc + j] -= tw * v[r * vc + i];
        }
    }
}

/// `c ← Q c` (or `Q^T c` when `trans`) with `Q = H_0 ⋯ H_{k-1}` from the reflectors in `v`.
pub(crate) fn apply_q(
    v: &[f64],
    m: usize,
    vc: usize,
    tau: &[f64],
    c: &mut [f64],
    cc: usize,
    trans: bool,
) {
    let k = tau.len();
    if trans {
        for (i, &t) in tau.iter().enumerate() {
            reflect(v, m, vc, i, t, c, cc);
        }
    } else {
        for i in (0..k).rev() {
            reflect(v, m, vc, i, tau[i], c, cc);
        }
    }
}

/// `geqrf(A) -> (a, tau)`.
fn geqrf(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mut m = Mats::of(targ(&a, 0)?, "geqrf")?;
    let k = m.rows.min(m.cols);
    let mut taus = Vec::with_capacity(m.count() * k);
    for b in 0..m.count() {
        let (r, c) = (m.rows, m.cols);
        taus.extend(geqrf_one(m.mat_mut(b), r, c));
    }
    let (dt, batch) = (m.dtype, m.batch.clone());
    Ok(vec![m.into_tensor().into(), tensor(dt, &batch, &[k], taus)])
}

/// `tau` as one row of `k` per matrix of `batch`.
fn read_tau(t: &Tensor, batch: &[usize], op: &str) -> Result<Vec<f64>> {
    if t.ndim() == 0 {
        return Err(Error::runtime(format!("{op}: tau must be at least 1-d")));
    }
    let k = t.shape()[t.ndim() - 1];
    t.expand_to(&shape_of(batch, &[k]))
        .map_err(|e| {
            e.context(format!(
                "{op}: tau {:?} does not match the batch",
                t.shape()
            ))
        })?
        .f64s()
}

/// `linalg_householder_product(A, tau)`: the first `n` columns of `H_0 ⋯ H_{k-1}`.
fn householder_product(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let v = Mats::of(targ(&a, 0)?, "linalg.householder_product")?;
    let (m, n) = (v.rows, v.cols);
    let tau_t = targ(&a, 1)?;
    let tau = read_tau(tau_t, &v.batch, "linalg.householder_product")?;
    let k = tau_t.shape().last().copied().unwrap_or(0);
    if n > m || k > n {
        return Err(Error::runtime(format!(
            "linalg.householder_product: needs input.shape[-2] >= input.shape[-1] >= tau.shape[-1], \
             got {:?} and {:?}",
            targ(&a, 0)?.shape(),
            tau_t.shape()
        )));
    }
    let mut q = zeros(&v.batch, &[m, n])?;
    for b in 0..v.count() {
        let out = &mut q[b * m * n..(b + 1) * m * n];
        for i in 0..n {
            out[i * n + i] = 1.0;
        }
        apply_q(v.mat(b), m, n, &tau[b * k..(b + 1) * k], out, n, false);
    }
    Ok(vec![tensor(v.dtype, &v.batch, &[m, n], q)])
}

/// `ormqr(A, tau, C, left, transpose)`: `op(Q) C` or `C op(Q)`.
fn ormqr(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (v, c) = broadcast_pair(targ(&a, 0)?, targ(&a, 2)?, "ormqr")?;
    let left = barg_or(&a, 3, true)?;
    let trans = barg_or(&a, 4, false)?;
    let tau_t = targ(&a, 1)?;
    let tau = read_tau(tau_t, &v.batch, "ormqr")?;
    let k = tau_t.shape().last().copied().unwrap_or(0);
    let m = v.rows;
    // C Q = (Q^T C^T)^T: the right-hand case is the left-hand one on C^T.
    let mut work = if left { c } else { c.transposed() };
    if work.rows != m || k > m.min(v.cols) {
        return Err(Error::runtime(format!(
            "ormqr: input {:?}, tau {:?} and other {:?} do not fit together",
            targ(&a, 0)?.shape(),
            tau_t.shape(),
            targ(&a, 2)?.shape()
        )));
    }
    let cc = work.cols;
    for b in 0..v.count() {
        let t = &tau[b * k..(b + 1) * k];
        apply_q(v.mat(b), m, v.cols, t, work.mat_mut(b), cc, trans == left);
    }
    let out = if left { work } else { work.transposed() };
    Ok(vec![out.into_tensor().into()])
}

/// `linalg_qr(A, mode)`: mode "reduced", "complete" or "r" (Q empty).
fn linalg_qr(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mut f = Mats::of(targ(&a, 0)?, "linalg.qr")?;
    let mode = match a.get(1) {
        None | Some(Value::None) => "reduced".to_string(),
        Some(v) => v.as_str()?.to_string(),
    };
    let (m, n) = (f.rows, f.cols);
    let k = m.min(n);
    let (q_cols, r_rows) = match mode.as_str() {
        "reduced" | "r" => (k, k),
        "complete" => (m, m),
        other => {
            return Err(Error::runtime(format!(
                "linalg.qr: qr received unrecognized mode '{other}' but expected one of \
                 'reduced' (default), 'r', or 'complete'"
            )))
        }
    };
    let mut r = zeros(&f.batch, &[r_rows, n])?;
    let mut q = if mode == "r" {
        vec![]
    } else {
        zeros(&f.batch, &[m, q_cols])?
    };
    for b in 0..f.count() {
        let tau = geqrf_one(f.mat_mut(b), m, n);
        let fa = f.mat(b);
        let rb = &mut r[b * r_rows * n..(b + 1) * r_rows * n];
        for i in 0..k {
            rb[i * n + i..(i + 1) * n].copy_from_slice(&fa[i * n + i..(i + 1) * n]);
        }
        if mode != "r" {
            let qb = &mut q[b * m * q_cols..(b + 1) * m * q_cols];
            for i in 0..q_cols {
                qb[i * q_cols + i] = 1.0;
            }
            apply_q(fa, m, n, &tau, qb, q_cols, false);
        }
    }
    let dt = f.dtype;
    let qv = if mode == "r" {
        empty(dt)
    } else {
        tensor(dt, &f.batch, &[m, q_cols], q)
    };
    Ok(vec![qv, tensor(dt, &f.batch, &[r_rows, n], r)])
}

/// `qr(A, some)` (the deprecated spelling TorchScript may record).
fn qr(c: &mut OpCtx, mut a: Vec<Value>) -> Result<Vec<Value>> {
    let some = barg_or(&a, 1, true)?;
    let _ = arg(&a, 0)?;
    a.truncate(1);
    a.push(Value::Str(if some { "reduced" } else { "complete" }.into()));
    linalg_qr(c, a)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::geqrf.default" => geqrf,
        "aten::linalg_householder_product.default" => householder_product,
        "aten::orgqr.default" => householder_product,
        "aten::ormqr.default" => ormqr,
        "aten::linalg_qr.default" => linalg_qr,
        "aten::qr.default" => qr,
    );
}
