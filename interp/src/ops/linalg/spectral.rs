//! Symmetric eigendecomposition (cyclic Jacobi rotations) and the singular value
//! decomposition (one-sided Jacobi), and what PyTorch builds on them: `_linalg_eigh`,
//! `_linalg_svd` (so `svdvals`, `cond`, `matrix_rank`, `norm(..., 'nuc')`), `linalg_pinv`,
//! `linalg_matrix_sqrth` and `linalg_polar`.
//!
//! Eigenvalues come out ascending and singular values descending, as LAPACK returns them.
//! Eigen- and singular vectors are unique only up to sign (and within repeated values); the
//! signs here are Jacobi's, not LAPACK's, so compare invariants (`A V = V Λ`, `U S Vh = A`)
//! rather than the vectors themselves.

use super::dense::{empty, identity, tensor, transpose, zeros, Mats};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, barg_or, targ, OpCtx};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// Sweeps after which Jacobi stops even without convergence (NaN inputs never converge; the
/// iteration count stays bounded).
const MAX_SWEEPS: usize = 64;

/// Eigen-decompose the symmetric row-major `n × n` matrix `a` (both triangles filled):
/// ascending eigenvalues and the row-major matrix whose columns are the eigenvectors.
pub(crate) fn eigh_one(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = identity(n);
    for _ in 0..MAX_SWEEPS {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i] * a[i * n + i]).sum();
        if off.is_nan() || off <= f64::EPSILON * f64::EPSILON * diag * 1e-4 || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (kp, kq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * kp - s * kq;
                    a[k * n + q] = s * kp + c * kq;
                }
                for k in 0..n {
                    let (pk, qk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * pk - s * qk;
                    a[q * n + k] = s * pk + c * qk;
                }
                for k in 0..n {
                    let (kp, kq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * kp - s * kq;
                    v[k * n + q] = s * kp + c * kq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[i * n + i].total_cmp(&a[j * n + j]));
    let w = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vs = vec![0.0; n * n];
    for (dst, &src) in order.iter().enumerate() {
        for k in 0..n {
            vs[k * n + dst] = v[k * n + src];
        }
    }
    (w, vs)
}

/// The symmetric matrix whose `upper` or lower triangle is `a`'s.
fn symmetric_from(a: &[f64], n: usize, upper: bool) -> Vec<f64> {
    let mut s = a.to_vec();
    for i in 0..n {
        for j in 0..i {
            // (i, j) is below the diagonal.
            let v = if upper { a[j * n + i] } else { a[i * n + j] };
            s[i * n + j] = v;
            s[j * n + i] = v;
        }
    }
    s
}

/// Orthonormal vectors: `rows` (each of length `dim`; those with `ok[i] == false` are
/// undefined) completed to `want` by the orthogonal complement of the defined ones: the
/// trailing columns of the Householder `Q` of the defined vectors fill the undefined slots
/// and the new ones, in order (`O(dim · defined · want)`).
fn complete(rows: Vec<Vec<f64>>, ok: &[bool], dim: usize, want: usize) -> Vec<Vec<f64>> {
    let good: Vec<&Vec<f64>> = rows
        .iter()
        .zip(ok)
        .filter(|(_, &o)| o)
        .map(|(r, _)| r)
        .collect();
    let g = good.len();
    let mut a = vec![0.0; dim * g];
    for (j, r) in good.iter().enumerate() {
        for i in 0..dim {
            a[i * g + j] = r[i];
        }
    }
    let tau = super::qr::geqrf_one(&mut a, dim, g);
    let mut next = g;
    let mut fresh = || {
        let mut e = vec![0.0; dim];
        if next < dim {
            e[next] = 1.0;
            super::qr::apply_q(&a, dim, g, &tau, &mut e, 1, false);
        }
        next += 1;
        e
    };
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(want);
    for (r, &o) in rows.into_iter().zip(ok) {
        out.push(if o { r } else { fresh() });
    }
    while out.len() < want {
        out.push(fresh());
    }
    out.truncate(want);
    out
}

/// A thin SVD: descending singular values, `U`'s and `V`'s columns (as rows), and whether
/// each `u_j` is defined (its `σ_j` not negligible).
struct ThinSvd {
    s: Vec<f64>,
    u: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
    ok: Vec<bool>,
}

/// Thin SVD of the row-major `m × n` matrix `a` with `m >= n` by one-sided Jacobi:
/// descending singular values, and `U`'s and `V`'s columns as rows (`n` of length `m`, `n`
/// of length `n`); `ok[j]` is false where `σ_j` is too small to define `u_j`.
fn svd_tall(a: &[f64], m: usize, n: usize) -> ThinSvd {
    let mut u: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..m).map(|i| a[i * n + j]).collect())
        .collect();
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..n).map(|i| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for _ in 0..MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let alpha: f64 = u[p].iter().map(|x| x * x).sum();
                let beta: f64 = u[q].iter().map(|x| x * x).sum();
                let gamma: f64 = u[p].iter().zip(&u[q]).map(|(x, y)| x * y).sum();
                if gamma == 0.0 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
                    continue;
                }
                if gamma.is_nan() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = if zeta.abs() > 1e150 {
                    0.5 / zeta
                } else {
                    zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt())
                };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for vecs in [&mut u, &mut v] {
                    let (lo, hi) = vecs.split_at_mut(q);
                    for (x, y) in lo[p].iter_mut().zip(hi[0].iter_mut()) {
                        let (xp, yq) = (*x, *y);
                        *x = c * xp - s * yq;
                        *y = s * xp + c * yq;
                    }
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let sig: Vec<f64> = u
        .iter()
        .map(|c| c.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| sig[j].total_cmp(&sig[i]));
    let smax = order.first().map_or(0.0, |&i| sig[i]);
    let tiny = smax * f64::EPSILON * (m.max(n) as f64);
    let mut s = Vec::with_capacity(n);
    let mut us = Vec::with_capacity(n);
    let mut vs = Vec::with_capacity(n);
    let mut ok = Vec::with_capacity(n);
    for &j in &order {
        let sj = sig[j];
        s.push(sj);
        let good = sj > tiny && sj > f64::MIN_POSITIVE;
        ok.push(good);
        us.push(if good {
            u[j].iter().map(|x| x / sj).collect()
        } else {
            vec![0.0; m]
        });
        vs.push(v[j].clone());
    }
    ThinSvd {
        s,
        u: us,
        v: vs,
        ok,
    }
}

/// SVD of one `m × n` matrix: `(S, U columns as rows, V columns as rows)`, with `U`
/// completed to `u_want` columns and `V` to `v_want`.
fn svd_one(
    a: &[f64],
    m: usize,
    n: usize,
    u_want: usize,
    v_want: usize,
) -> (Vec<f64>, Vec<Vec<f64>>, Vec<Vec<f64>>) {
    if m >= n {
        let t = svd_tall(a, m, n);
        let u = complete(t.u, &t.ok, m, u_want);
        let v = complete(t.v, &vec![true; n], n, v_want);
        (t.s, u, v)
    } else {
        // A^T = U' S V'^T, so A = V' S U'^T.
        let t = svd_tall(&transpose(a, m, n), n, m);
        let uu = complete(t.v, &vec![true; m], m, u_want);
        let vv = complete(t.u, &t.ok, n, v_want);
        (t.s, uu, vv)
    }
}

/// `_linalg_svd(A, full_matrices, compute_uv, *, driver) -> (U, S, Vh)`.
fn linalg_svd(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mats = Mats::of(targ(&a, 0)?, "linalg.svd")?;
    let full = barg_or(&a, 1, false)?;
    let uv = barg_or(&a, 2, true)?;
    let (m, n) = (mats.rows, mats.cols);
    let k = m.min(n);
    let (uc, vr) = if full { (m, n) } else { (k, k) };
    let mut s = zeros(&mats.batch, &[k])?;
    let mut u = if uv {
        zeros(&mats.batch, &[m, uc])?
    } else {
        vec![]
    };
    let mut vh = if uv {
        zeros(&mats.batch, &[vr, n])?
    } else {
        vec![]
    };
    for b in 0..mats.count() {
        let (sb, ub, vb) = svd_one(
            mats.mat(b),
            m,
            n,
            if uv { uc } else { k },
            if uv { vr } else { k },
        );
        s[b * k..(b + 1) * k].copy_from_slice(&sb);
        if uv {
            let uo = &mut u[b * m * uc..(b + 1) * m * uc];
            for (j, col) in ub.iter().enumerate() {
                for i in 0..m {
                    uo[i * uc + j] = col[i];
                }
            }
            let vo = &mut vh[b * vr * n..(b + 1) * vr * n];
            for (j, col) in vb.iter().enumerate() {
                vo[j * n..(j + 1) * n].copy_from_slice(col);
            }
        }
    }
    let dt = mats.dtype;
    Ok(vec![
        if uv {
            tensor(dt, &mats.batch, &[m, uc], u)
        } else {
            empty(dt)
        },
        tensor(dt, &mats.batch, &[k], s),
        if uv {
            tensor(dt, &mats.batch, &[vr, n], vh)
        } else {
            empty(dt)
        },
    ])
}

/// `linalg_svdvals(A, *, driver)`.
fn linalg_svdvals(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let x = arg(&a, 0)?.clone();
    let mut r = linalg_svd(c, vec![x, Value::Bool(false), Value::Bool(false)])?;
    Ok(vec![r.swap_remove(1)])
}

/// `linalg_svd(A, full_matrices)` / `svd(A, some, compute_uv)` (V, not Vh, for the latter).
fn svd_legacy(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let x = arg(&a, 0)?.clone();
    let some = barg_or(&a, 1, true)?;
    let uv = barg_or(&a, 2, true)?;
    let mut r = linalg_svd(c, vec![x.clone(), Value::Bool(!some), Value::Bool(true)])?;
    let vh = r.pop().unwrap_or(Value::None);
    let v = vh.as_tensor()?.transpose(-2, -1)?.contiguous()?;
    if !uv {
        // PyTorch returns zero-filled U and V of the usual shapes.
        let zero =
            |t: &Tensor| Tensor::from_f64_as(t.dtype(), t.shape().to_vec(), vec![0.0; t.numel()]);
        let zu = zero(r[0].as_tensor()?);
        return Ok(vec![zu.into(), r.swap_remove(1), zero(&v).into()]);
    }
    Ok(vec![r.swap_remove(0), r.swap_remove(0), v.into()])
}

fn linalg_svd_public(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let x = arg(&a, 0)?.clone();
    let full = barg_or(&a, 1, true)?;
    linalg_svd(c, vec![x, Value::Bool(full), Value::Bool(true)])
}

/// The `UPLO` argument: true for "U".
fn uplo(a: &[Value], i: usize) -> Result<bool> {
    match a.get(i) {
        None | Some(Value::None) => Ok(false),
        Some(v) => match v.as_str()? {
            "L" | "l" => Ok(false),
            "U" | "u" => Ok(true),
            other => Err(Error::runtime(format!(
                "linalg.eigh: UPLO must be 'L' or 'U', got '{other}'"
            ))),
        },
    }
}

/// Eigen-decompose a batch: ascending values and vectors.
fn eigh_all(m: &Mats, upper: bool) -> (Vec<f64>, Vec<f64>) {
    let n = m.rows;
    let mut w = Vec::with_capacity(m.count() * n);
    let mut v = Vec::with_capacity(m.count() * n * n);
    for b in 0..m.count() {
        let (wb, vb) = eigh_one(&symmetric_from(m.mat(b), n, upper), n);
        w.extend(wb);
        v.extend(vb);
    }
    (w, v)
}

/// `_linalg_eigh(A, UPLO, compute_v) -> (eigenvalues, eigenvectors)`.
fn linalg_eigh(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let m = Mats::square(targ(&a, 0)?, "linalg.eigh")?;
    let upper = uplo(&a, 1)?;
    let compute_v = barg_or(&a, 2, true)?;
    let n = m.rows;
    let (w, v) = eigh_all(&m, upper);
    Ok(vec![
        tensor(m.dtype, &m.batch, &[n], w),
        if compute_v {
            tensor(m.dtype, &m.batch, &[n, n], v)
        } else {
            empty(m.dtype)
        },
    ])
}

/// `linalg_eigh(A, UPLO)` (both outputs) and `linalg_eigvalsh(A, UPLO)`.
fn linalg_eigh_public(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let x = arg(&a, 0)?.clone();
    let u = a.get(1).cloned().unwrap_or(Value::None);
    linalg_eigh(c, vec![x, u, Value::Bool(true)])
}

fn linalg_eigvalsh(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let x = arg(&a, 0)?.clone();
    let u = a.get(1).cloned().unwrap_or(Value::None);
    let mut r = linalg_eigh(c, vec![x, u, Value::Bool(false)])?;
    Ok(vec![r.swap_remove(0)])
}

/// An optional tolerance (tensor or float) broadcast to one value per matrix.
fn tolerance(v: &Value, batch: &[usize], what: &str) -> Result<Option<Vec<f64>>> {
    match v {
        Value::None => Ok(None),
        Value::Tensor(t) => Ok(Some(
            t.expand_to(batch)
                .map_err(|e| e.context(format!("linalg.pinv: {what} {:?}", t.shape())))?
                .f64s()?,
        )),
        other => Ok(Some(vec![other.as_f64()?; batch.iter().product()])),
    }
}

/// `linalg_pinv.atol_rtol_{tensor,float}(A, *, atol, rtol, hermitian)`: singular values
/// (or |eigenvalues| when hermitian) at most `max(atol, rtol·σ_max)` count as zero.
fn linalg_pinv(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mats = Mats::of(targ(&a, 0)?, "linalg.pinv")?;
    let hermitian = barg_or(&a, 3, false)?;
    let (m, n) = (mats.rows, mats.cols);
    let count = mats.count();
    let atol = tolerance(
        &a.get(1).cloned().unwrap_or(Value::None),
        &mats.batch,
        "atol",
    )?;
    let rtol = tolerance(
        &a.get(2).cloned().unwrap_or(Value::None),
        &mats.batch,
        "rtol",
    )?;
    let eps = if mats.dtype == DType::F64 {
        f64::EPSILON
    } else {
        f32::EPSILON as f64
    };
    let default_rtol = eps * m.max(n) as f64;
    if hermitian && m != n {
        return Err(Error::runtime(
            "linalg.pinv: hermitian input must be square",
        ));
    }
    let mut out = zeros(&mats.batch, &[n, m])?;
    for b in 0..count {
        let at = atol.as_ref().map_or(0.0, |v| v[b]);
        let rt = match (&rtol, &atol) {
            (Some(r), _) => r[b],
            (None, Some(_)) if at > 0.0 => 0.0,
            _ => default_rtol,
        };
        let o = &mut out[b * n * m..(b + 1) * n * m];
        if hermitian {
            let (w, v) = eigh_one(&symmetric_from(mats.mat(b), n, false), n);
            let wmax = w.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
            let tol = at.max(rt * wmax);
            for (k, &wk) in w.iter().enumerate() {
                if wk.abs() <= tol {
                    continue;
                }
                let inv = 1.0 / wk;
                for i in 0..n {
                    for j in 0..n {
                        o[i * m + j] += v[i * n + k] * inv * v[j * n + k];
                    }
                }
            }
        } else {
            let k = m.min(n);
            let (s, u, v) = svd_one(mats.mat(b), m, n, k, k);
            let smax = s.first().copied().unwrap_or(0.0);
            let tol = at.max(rt * smax);
            for (kk, &sk) in s.iter().enumerate() {
                if sk <= tol {
                    continue;
                }
                let inv = 1.0 / sk;
                for i in 0..n {
                    for j in 0..m {
                        o[i * m + j] += v[kk][i] * inv * u[kk][j];
                    }
                }
            }
        }
    }
    Ok(vec![tensor(mats.dtype, &mats.batch, &[n, m], out)])
}

/// `linalg_pinv(A, rcond, hermitian)` / `pinverse(A, rcond)`: `rcond` is a relative
/// tolerance.
fn pinv_rcond(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let x = arg(&a, 0)?.clone();
    let rcond = a.get(1).cloned().unwrap_or(Value::None);
    let herm = a.get(2).cloned().unwrap_or(Value::Bool(false));
    linalg_pinv(c, vec![x, Value::None, rcond, herm])
}

/// `linalg_matrix_sqrth(A)`: the symmetric square root `V √Λ V^T` of a symmetric matrix
/// (lower triangle read); negative eigenvalues give NaN, as `sqrt` does.
fn matrix_sqrth(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mut m = Mats::square(targ(&a, 0)?, "linalg.matrix_sqrth")?;
    let n = m.rows;
    for b in 0..m.count() {
        let (w, v) = eigh_one(&symmetric_from(m.mat(b), n, false), n);
        let out = m.mat_mut(b);
        out.iter_mut().for_each(|x| *x = 0.0);
        for (k, &wk) in w.iter().enumerate() {
            let r = wk.sqrt();
            for i in 0..n {
                for j in 0..n {
                    out[i * n + j] += v[i * n + k] * r * v[j * n + k];
                }
            }
        }
    }
    Ok(vec![m.into_tensor().into()])
}

/// `linalg_polar(A) -> (U, H)`: `A = U H` with `U = W Vh` orthogonal and `H = V S Vh`
/// symmetric positive semi-definite, from the SVD `A = W S Vh` (both factors are
/// independent of the SVD's signs).
fn linalg_polar(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let m = Mats::square(targ(&a, 0)?, "linalg.polar")?;
    let n = m.rows;
    let mut u = zeros(&m.batch, &[n, n])?;
    let mut h = zeros(&m.batch, &[n, n])?;
    for b in 0..m.count() {
        let (s, w, v) = svd_one(m.mat(b), n, n, n, n);
        let (ub, hb) = (
            &mut u[b * n * n..(b + 1) * n * n],
            &mut h[b * n * n..(b + 1) * n * n],
        );
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    ub[i * n + j] += w[k][i] * v[k][j];
                    hb[i * n + j] += v[k][i] * s[k] * v[k][j];
                }
            }
        }
    }
    Ok(vec![
        tensor(m.dtype, &m.batch, &[n, n], u),
        tensor(m.dtype, &m.batch, &[n, n], h),
    ])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::_linalg_svd.default" => linalg_svd,
        "aten::linalg_svd.default" => linalg_svd_public,
        "aten::linalg_svdvals.default" => linalg_svdvals,
        "aten::svd.default" => svd_legacy,
        "aten::_linalg_eigh.default" => linalg_eigh,
        "aten::linalg_eigh.default" => linalg_eigh_public,
        "aten::linalg_eigvalsh.default" => linalg_eigvalsh,
        "aten::linalg_pinv.atol_rtol_tensor" => linalg_pinv,
        "aten::linalg_pinv.atol_rtol_float" => linalg_pinv,
        "aten::linalg_pinv.default" => pinv_rcond,
        "aten::pinverse.default" => pinv_rcond,
        "aten::linalg_matrix_sqrth.default" => matrix_sqrth,
        "aten::linalg_polar.default" => linalg_polar,
    );
}
