//! LU with partial pivoting (LAPACK `getrf`'s conventions: the largest-magnitude pivot, the
//! first one on ties, 1-based int32 pivots, `info = k` for the first zero pivot `U[k-1,k-1]`)
//! and everything built on it: `linalg_lu_factor_ex`, `linalg_lu`, `lu_unpack`,
//! `linalg_lu_solve`, `linalg_solve(_ex)`, `linalg_inv(_ex)`, determinants and
//! `_linalg_check_errors`, which turns a non-zero `info` into the error PyTorch raises.

use super::dense::{broadcast_pair, empty, identity, int32, shape_of, tensor, zeros, Mats};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{barg_or, one, targ, OpCtx};
use crate::tensor::Tensor;
use crate::value::Value;

/// Factor the row-major `m × n` matrix `a` in place into unit-lower `L` (below the
/// diagonal) and `U`; returns the 1-based pivots and LAPACK's `info`. Without `pivot` no
/// rows are swapped (the pivots are then `1..=k`).
pub(crate) fn factor(a: &mut [f64], m: usize, n: usize, pivot: bool) -> (Vec<i32>, i32) {
    let k = m.min(n);
    let mut piv = Vec::with_capacity(k);
    let mut info = 0;
    for c in 0..k {
        let mut p = c;
        if pivot {
            let mut best = a[c * n + c].abs();
            for r in c + 1..m {
                let v = a[r * n + c].abs();
                // `!(v <= best)` also takes a NaN, as LAPACK's idamax does not; PyTorch's
                // results for NaN inputs are NaN either way.
                if v > best {
                    best = v;
                    p = r;
                }
            }
        }
        piv.push(p as i32 + 1);
        if p != c {
            for j in 0..n {
                a.swap(c * n + j, p * n + j);
            }
        }
        let d = a[c * n + c];
        if d == 0.0 {
            if info == 0 {
                info = c as i32 + 1;
            }
            continue;
        }
        for r in c + 1..m {
            let l = a[r * n + c] / d;
            a[r * n + c] = l;
            if l != 0.0 {
                for j in c + 1..n {
                    a[r * n + j] -= l * a[c * n + j];
                }
            }
        }
    }
    (piv, info)
}

/// Check 1-based pivots read from a tensor: each in `1..=m`.
fn checked_pivots(p: &[i64], m: usize) -> Result<Vec<usize>> {
    p.iter()
        .map(|&v| {
            if v >= 1 && (v as u64) <= m as u64 {
                Ok(v as usize - 1)
            } else {
                Err(Error::runtime(format!(
                    "lu: pivot {v} out of range 1..={m}"
                )))
            }
        })
        .collect()
}

/// The row permutation the pivots describe: row `i` of `P^T A` is row `perm[i]` of `A`.
fn permutation(piv: &[usize], m: usize) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..m).collect();
    for (i, &p) in piv.iter().enumerate() {
        perm.swap(i, p);
    }
    perm
}

/// Solve `A X = B` (or `A^T X = B` when `trans`) in place in `b` (`n × nrhs`) from the
/// factors `lu` (`n × n`) and 0-based pivots.
pub(crate) fn solve_factored(
    lu: &[f64],
    piv: &[usize],
    n: usize,
    b: &mut [f64],
    nrhs: usize,
    trans: bool,
) {
    if !trans {
        for (i, &p) in piv.iter().enumerate() {
            if p != i {
                for j in 0..nrhs {
                    b.swap(i * nrhs + j, p * nrhs + j);
                }
            }
        }
        // L y = P^T b (unit lower), then U x = y.
        for i in 0..n {
            for k in 0..i {
                let l = lu[i * n + k];
                if l != 0.0 {
                    for j in 0..nrhs {
                        b[i * nrhs + j] -= l * b[k * nrhs + j];
                    }
                }
            }
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                let u = lu[i * n + k];
                if u != 0.0 {
                    for j in 0..nrhs {
                        b[i * nrhs + j] -= u * b[k * nrhs + j];
                    }
                }
            }
            let d = lu[i * n + i];
            for j in 0..nrhs {
                b[i * nrhs + j] /= d;
            }
        }
    } else {
        // A^T = U^T L^T P^T: U^T y = b, L^T z = y, x = P z.
        for i in 0..n {
            for k in 0..i {
                let u = lu[k * n + i];
                if u != 0.0 {
                    for j in 0..nrhs {
                        b[i * nrhs + j] -= u * b[k * nrhs + j];
                    }
                }
            }
            let d = lu[i * n + i];
            for j in 0..nrhs {
                b[i * nrhs + j] /= d;
            }
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                let l = lu[k * n + i];
                if l != 0.0 {
                    for j in 0..nrhs {
                        b[i * nrhs + j] -= l * b[k * nrhs + j];
                    }
                }
            }
        }
        for (i, &p) in piv.iter().enumerate().rev() {
            if p != i {
                for j in 0..nrhs {
                    b.swap(i * nrhs + j, p * nrhs + j);
                }
            }
        }
    }
}

/// Factors of a batch: LU matrices, 1-based pivots and infos.
struct Factored {
    lu: Mats,
    piv: Vec<i32>,
    info: Vec<i32>,
}

fn factor_all(a: &Mats, pivot: bool) -> Factored {
    let mut lu = a.clone();
    let k = a.rows.min(a.cols);
    let mut piv = Vec::with_capacity(a.count() * k);
    let mut info = Vec::with_capacity(a.count());
    for b in 0..a.count() {
        let (p, i) = factor(lu.mat_mut(b), a.rows, a.cols, pivot);
        piv.extend(p);
        info.push(i);
    }
    Factored { lu, piv, info }
}

/// `linalg_lu_factor_ex(A, *, pivot, check_errors) -> (LU, pivots, info)`.
fn lu_factor_ex(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let m = Mats::of(targ(&a, 0)?, "linalg.lu_factor")?;
    let pivot = barg_or(&a, 1, true)?;
    let f = factor_all(&m, pivot);
    let k = m.rows.min(m.cols);
    let batch = m.batch.clone();
    check(&f.info, "linalg.lu_factor", barg_or(&a, 2, false)?)?;
    Ok(vec![
        f.lu.into_tensor().into(),
        int32(&batch, &[k], f.piv),
        int32(&batch, &[], f.info),
    ])
}

/// `P, L, U` of factors `lu` (`m × n`) with 1-based pivots, into the output buffers.
fn unpack_one(lu: &[f64], piv: &[usize], m: usize, n: usize, out: [Option<&mut [f64]>; 3]) {
    let k = m.min(n);
    let [p, l, u] = out;
    if let Some(p) = p {
        for (i, &r) in permutation(piv, m).iter().enumerate() {
            p[r * m + i] = 1.0;
        }
    }
    if let Some(l) = l {
        for i in 0..m {
            for j in 0..k.min(i + 1) {
                l[i * k + j] = if i == j { 1.0 } else { lu[i * n + j] };
            }
        }
    }
    if let Some(u) = u {
        for i in 0..k {
            for j in i..n {
                u[i * n + j] = lu[i * n + j];
            }
        }
    }
}

/// Unpack a batch of factors into `(P, L, U)` values.
fn unpack(lu: &Mats, piv: &[usize], data: bool, pivots: bool) -> Result<Vec<Value>> {
    let (m, n) = (lu.rows, lu.cols);
    let k = m.min(n);
    let mut p = if pivots {
        zeros(&lu.batch, &[m, m])?
    } else {
        vec![]
    };
    let mut l = if data {
        zeros(&lu.batch, &[m, k])?
    } else {
        vec![]
    };
    let mut u = if data {
        zeros(&lu.batch, &[k, n])?
    } else {
        vec![]
    };
    for b in 0..lu.count() {
        unpack_one(
            lu.mat(b),
            &piv[b * k..(b + 1) * k],
            m,
            n,
            [
                pivots.then(|| &mut p[b * m * m..(b + 1) * m * m]),
                data.then(|| &mut l[b * m * k..(b + 1) * m * k]),
                data.then(|| &mut u[b * k * n..(b + 1) * k * n]),
            ],
        );
    }
    let dt = lu.dtype;
    Ok(vec![
        if pivots {
            tensor(dt, &lu.batch, &[m, m], p)
        } else {
            empty(dt)
        },
        if data {
            tensor(dt, &lu.batch, &[m, k], l)
        } else {
            empty(dt)
        },
        if data {
            tensor(dt, &lu.batch, &[k, n], u)
        } else {
            empty(dt)
        },
    ])
}

/// Pivots tensor → 0-based, checked, one row of `k` per matrix of `lu`.
fn read_pivots(t: &Tensor, lu: &Mats) -> Result<Vec<usize>> {
    let k = lu.rows.min(lu.cols);
    let want = shape_of(&lu.batch, &[k]);
    let t = if t.shape() == want.as_slice() {
        t.clone()
    } else {
        t.expand_to(&want)
            .map_err(|e| e.context("lu: pivots do not match the factors"))?
    };
    checked_pivots(&t.i64s()?, lu.rows)
}

/// `lu_unpack(LU_data, LU_pivots, unpack_data, unpack_pivots) -> (P, L, U)`.
fn lu_unpack(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let lu = Mats::of(targ(&a, 0)?, "lu_unpack")?;
    let piv = read_pivots(targ(&a, 1)?, &lu)?;
    unpack(&lu, &piv, barg_or(&a, 2, true)?, barg_or(&a, 3, true)?)
}

/// `linalg_lu(A, *, pivot) -> (P, L, U)`; without pivoting `P` is empty.
fn linalg_lu(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let m = Mats::of(targ(&a, 0)?, "linalg.lu")?;
    let pivot = barg_or(&a, 1, true)?;
    let f = factor_all(&m, pivot);
    let piv: Vec<usize> = f.piv.iter().map(|&p| p as usize - 1).collect();
    let mut out = unpack(&f.lu, &piv, true, pivot)?;
    if !pivot {
        out[0] = empty(m.dtype);
    }
    Ok(out)
}

/// Is `b` (for square `a` of order `n` with batch `a_batch`) a batch of vectors? PyTorch's
/// rule: a 1-d `b`, or one with exactly `a`'s batch dims plus one of size `n`.
fn is_vector_rhs(a: &Tensor, b: &Tensor) -> bool {
    b.ndim() == 1 || (b.ndim() + 1 == a.ndim() && b.shape() == &a.shape()[..a.ndim() - 1])
}

/// Solve `A X = B` (`left`) or `X A = B` for a batch; returns X plus the factors of `A`.
fn solve(a: &Tensor, b: &Tensor, left: bool, op: &str) -> Result<(Tensor, Factored)> {
    let vector = is_vector_rhs(a, b);
    let b2 = if vector {
        b.unsqueeze(b.ndim() as i64)?
    } else {
        b.clone()
    };
    let (am, bm) = broadcast_pair(a, &b2, op)?;
    if am.rows != am.cols {
        return Err(Error::runtime(format!(
            "{op}: A must be batches of square matrices, but they are {} by {} matrices",
            am.rows, am.cols
        )));
    }
    let n = am.rows;
    // X A = B  ⇔  A^T X^T = B^T.
    let mut rhs = if left { bm } else { bm.transposed() };
    if rhs.rows != n {
        return Err(Error::runtime(format!(
            "{op}: incompatible shapes of A {:?} and B {:?}",
            a.shape(),
            b.shape()
        )));
    }
    let f = factor_all(&am, true);
    let nrhs = rhs.cols;
    for i in 0..am.count() {
        let piv: Vec<usize> = f.piv[i * n..(i + 1) * n]
            .iter()
            .map(|&p| p as usize - 1)
            .collect();
        solve_factored(f.lu.mat(i), &piv, n, rhs.mat_mut(i), nrhs, !left);
    }
    let x = if left { rhs } else { rhs.transposed() };
    let mut t = x.into_tensor();
    if vector {
        let mut shape = t.shape().to_vec();
        shape.pop();
        t = t.reshape(shape)?;
    }
    Ok((t, f))
}

/// Raise PyTorch's error for the first non-zero `info` when `enabled`.
fn check(info: &[i32], api: &str, enabled: bool) -> Result<()> {
    if enabled {
        check_info(info, api, info.len() == 1)
    } else {
        Ok(())
    }
}

/// The error PyTorch's `_linalg_check_errors` raises for the first non-zero `info` of a
/// batch: its wording depends on which API failed (a singular matrix for inverses and
/// solves, a zero pivot for LU, a leading minor for Cholesky).
pub(crate) fn check_info(info: &[i32], api: &str, is_matrix: bool) -> Result<()> {
    let Some(b) = info.iter().position(|&i| i != 0) else {
        return Ok(());
    };
    let i = info[b];
    let batch = if is_matrix {
        String::new()
    } else {
        format!("(Batch element {b}): ")
    };
    let what = if i < 0 {
        format!("Argument {} has illegal value.", i.unsigned_abs())
    } else if api.contains("cholesky") {
        format!(
            "The factorization could not be completed because the input is not \
             positive-definite (the leading minor of order {i} is not positive-definite)."
        )
    } else if api.contains("lu_factor") {
        format!(
            "U[{i},{i}] is zero and using it on lu_solve would result in a division by zero. \
             If you still want to perform the factorization, consider calling linalg.lu(A, \
             pivot) or linalg.lu_factor_ex(A, pivot)"
        )
    } else if api.contains("inv") {
        format!(
            "The diagonal element {i} is zero, the inversion could not be completed because \
             the input matrix is singular."
        )
    } else if api.contains("solve") {
        "The solver failed because the input matrix is singular.".to_string()
    } else {
        format!("The factorization failed (info = {i}): the input matrix is singular.")
    };
    Err(Error::runtime(format!("{api}: {batch}{what}")))
}

/// `_linalg_solve_ex(A, B, *, left, check_errors) -> (result, LU, pivots, info)`.
fn linalg_solve_ex_full(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (x, f) = solve(
        targ(&a, 0)?,
        targ(&a, 1)?,
        barg_or(&a, 2, true)?,
        "linalg.solve",
    )?;
    check(&f.info, "linalg.solve", barg_or(&a, 3, false)?)?;
    let batch = f.lu.batch.clone();
    let n = f.lu.rows;
    Ok(vec![
        x.into(),
        f.lu.into_tensor().into(),
        int32(&batch, &[n], f.piv),
        int32(&batch, &[], f.info),
    ])
}

/// `linalg_solve_ex(A, B, *, left, check_errors) -> (result, info)`.
fn linalg_solve_ex(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mut r = linalg_solve_ex_full(c, a)?;
    let info = r.pop().unwrap_or(Value::None);
    Ok(vec![r.swap_remove(0), info])
}

/// `linalg_solve(A, B, *, left)`: errors on a singular `A`.
fn linalg_solve(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (x, f) = solve(
        targ(&a, 0)?,
        targ(&a, 1)?,
        barg_or(&a, 2, true)?,
        "linalg.solve",
    )?;
    check_info(&f.info, "torch.linalg.solve", targ(&a, 0)?.ndim() == 2)?;
    one(x)
}

/// The inverse of each matrix and the infos.
fn inverse(t: &Tensor, op: &str) -> Result<(Mats, Vec<i32>)> {
    let m = Mats::square(t, op)?;
    let n = m.rows;
    let f = factor_all(&m, true);
    let mut inv = m.clone();
    for i in 0..m.count() {
        let piv: Vec<usize> = f.piv[i * n..(i + 1) * n]
            .iter()
            .map(|&p| p as usize - 1)
            .collect();
        let out = inv.mat_mut(i);
        out.copy_from_slice(&identity(n));
        solve_factored(f.lu.mat(i), &piv, n, out, n, false);
    }
    Ok((inv, f.info))
}

/// `linalg_inv_ex(A, *, check_errors) -> (inverse, info)`.
fn linalg_inv_ex(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (inv, info) = inverse(targ(&a, 0)?, "linalg.inv")?;
    check(&info, "linalg.inv", barg_or(&a, 1, false)?)?;
    let batch = inv.batch.clone();
    Ok(vec![inv.into_tensor().into(), int32(&batch, &[], info)])
}

/// `linalg_inv(A)` / `inverse(A)`: errors on a singular `A`.
fn linalg_inv(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (inv, info) = inverse(targ(&a, 0)?, "linalg.inv")?;
    check_info(&info, "linalg.inv", targ(&a, 0)?.ndim() == 2)?;
    one(inv.into_tensor())
}

/// Determinant pieces of each matrix: sign (±1, 0 when singular) and log|det|.
fn slogdet_all(f: &Factored) -> (Vec<f64>, Vec<f64>) {
    let n = f.lu.rows;
    let mut sign = Vec::with_capacity(f.lu.count());
    let mut logabs = Vec::with_capacity(f.lu.count());
    for b in 0..f.lu.count() {
        let lu = f.lu.mat(b);
        let mut s = 1.0f64;
        let mut l = 0.0f64;
        for i in 0..n {
            if f.piv[b * n + i] as usize != i + 1 {
                s = -s;
            }
            let d = lu[i * n + i];
            s *= d.signum();
            l += d.abs().ln();
            if d.is_nan() {
                s = f64::NAN;
            }
        }
        if l == f64::NEG_INFINITY {
            s = 0.0;
        }
        sign.push(s);
        logabs.push(l);
    }
    (sign, logabs)
}

/// Determinants as the product of `U`'s diagonal and the pivots' sign.
fn dets(f: &Factored) -> Vec<f64> {
    let n = f.lu.rows;
    (0..f.lu.count())
        .map(|b| {
            let lu = f.lu.mat(b);
            let mut d = 1.0;
            for i in 0..n {
                d *= lu[i * n + i];
                if f.piv[b * n + i] as usize != i + 1 {
                    d = -d;
                }
            }
            d
        })
        .collect()
}

/// `_linalg_det(A) -> (result, LU, pivots)`.
fn linalg_det_full(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let m = Mats::square(targ(&a, 0)?, "linalg.det")?;
    let f = factor_all(&m, true);
    let d = dets(&f);
    let (batch, n, dt) = (m.batch.clone(), m.rows, m.dtype);
    Ok(vec![
        tensor(dt, &batch, &[], d),
        f.lu.into_tensor().into(),
        int32(&batch, &[n], f.piv),
    ])
}

/// `linalg_det(A)` / `det(A)`.
fn linalg_det(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mut r = linalg_det_full(c, a)?;
    Ok(vec![r.swap_remove(0)])
}

/// `_linalg_slogdet(A) -> (sign, logabsdet, LU, pivots)`.
fn linalg_slogdet_full(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let m = Mats::square(targ(&a, 0)?, "linalg.slogdet")?;
    let f = factor_all(&m, true);
    let (s, l) = slogdet_all(&f);
    let (batch, n, dt) = (m.batch.clone(), m.rows, m.dtype);
    Ok(vec![
        tensor(dt, &batch, &[], s),
        tensor(dt, &batch, &[], l),
        f.lu.into_tensor().into(),
        int32(&batch, &[n], f.piv),
    ])
}

/// `linalg_slogdet(A) -> (sign, logabsdet)` / `slogdet`.
fn linalg_slogdet(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mut r = linalg_slogdet_full(c, a)?;
    r.truncate(2);
    Ok(r)
}

/// `logdet(A)`: log(det) — NaN for a negative determinant, -inf for a singular matrix.
fn logdet(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let m = Mats::square(targ(&a, 0)?, "logdet")?;
    let f = factor_all(&m, true);
    let (s, l) = slogdet_all(&f);
    let v = s
        .iter()
        .zip(&l)
        .map(|(&s, &l)| if s < 0.0 { f64::NAN } else { l })
        .collect();
    Ok(vec![tensor(m.dtype, &m.batch, &[], v)])
}

/// `linalg_lu_solve(LU, pivots, B, *, left, adjoint)`.
fn linalg_lu_solve(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (lu_t, b_t) = (targ(&a, 0)?, targ(&a, 2)?);
    let left = barg_or(&a, 3, true)?;
    let adjoint = barg_or(&a, 4, false)?;
    let (lu, bm) = broadcast_pair(lu_t, b_t, "linalg.lu_solve")?;
    if lu.rows != lu.cols {
        return Err(Error::runtime("linalg.lu_solve: LU must be square"));
    }
    let n = lu.rows;
    let piv = read_pivots(targ(&a, 1)?, &lu)?;
    // left: op(A) X = B; right: X op(A) = B  ⇔  op(A)^T X^T = B^T.
    let mut rhs = if left { bm } else { bm.transposed() };
    let trans = if left { adjoint } else { !adjoint };
    if rhs.rows != n {
        return Err(Error::runtime(format!(
            "linalg.lu_solve: incompatible shapes {:?} and {:?}",
            lu_t.shape(),
            b_t.shape()
        )));
    }
    let nrhs = rhs.cols;
    for i in 0..lu.count() {
        solve_factored(
            lu.mat(i),
            &piv[i * n..(i + 1) * n],
            n,
            rhs.mat_mut(i),
            nrhs,
            trans,
        );
    }
    let x = if left { rhs } else { rhs.transposed() };
    one(x.into_tensor())
}

/// `_linalg_check_errors(info, api_name, *, is_matrix) -> ()`: the error PyTorch raises when
/// a factorization behind a checked linalg call failed.
fn check_errors(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let info = targ(&a, 0)?.i64s()?;
    let api = a.get(1).and_then(|v| v.as_str().ok()).unwrap_or("linalg");
    let is_matrix = barg_or(&a, 2, false)?;
    let info32: Vec<i32> = info
        .iter()
        .map(|&i| i.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
        .collect();
    check_info(&info32, api, is_matrix)?;
    Ok(vec![])
}

/// `linalg_lu_factor(A, *, pivot) -> (LU, pivots)`: errors on a zero pivot.
fn lu_factor(c: &mut OpCtx, mut a: Vec<Value>) -> Result<Vec<Value>> {
    let is_matrix = targ(&a, 0)?.ndim() == 2;
    a.truncate(2);
    a.push(Value::Bool(false));
    let mut r = lu_factor_ex(c, a)?;
    let info: Vec<i32> = r[2]
        .as_tensor()?
        .i64s()?
        .iter()
        .map(|&i| i as i32)
        .collect();
    check_info(&info, "torch.linalg.lu_factor", is_matrix)?;
    r.truncate(2);
    Ok(r)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::linalg_lu_factor_ex.default" => lu_factor_ex,
        "aten::linalg_lu_factor.default" => lu_factor,
        "aten::linalg_lu.default" => linalg_lu,
        "aten::lu_unpack.default" => lu_unpack,
        "aten::linalg_lu_solve.default" => linalg_lu_solve,
        "aten::_linalg_solve_ex.default" => linalg_solve_ex_full,
        "aten::linalg_solve_ex.default" => linalg_solve_ex,
        "aten::linalg_solve.default" => linalg_solve,
        "aten::linalg_inv_ex.default" => linalg_inv_ex,
        "aten::linalg_inv.default" => linalg_inv,
        "aten::inverse.default" => linalg_inv,
        "aten::_linalg_det.default" => linalg_det_full,
        "aten::linalg_det.default" => linalg_det,
        "aten::det.default" => linalg_det,
        "aten::_linalg_slogdet.default" => linalg_slogdet_full,
        "aten::linalg_slogdet.default" => linalg_slogdet,
        "aten::slogdet.default" => linalg_slogdet,
        "aten::logdet.default" => logdet,
        "aten::_linalg_check_errors.default" => check_errors,
    );
}
