//! Triangular solves (`linalg_solve_triangular`, `triangular_solve`), Cholesky
//! (`linalg_cholesky(_ex)`, `cholesky`) and the solves built on its factor
//! (`cholesky_solve`, `cholesky_inverse`). Only the named triangle of a coefficient matrix is
//! read, as LAPACK's `trtrs`/`potrf` do.

use super::dense::{broadcast_pair, identity, int32, transpose, Mats};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, barg_or, one, targ, OpCtx};
use crate::value::Value;

/// Solve `T X = B` in place in `b` (`n × nrhs`) where `T` is the `upper` or lower triangle
/// of the row-major `n × n` matrix `a`, transposed first when `trans`; `unit` takes the
/// diagonal as ones. A zero diagonal gives inf/NaN, as LAPACK does.
pub(crate) fn solve_tri(
    a: &[f64],
    n: usize,
    upper: bool,
    trans: bool,
    unit: bool,
    b: &mut [f64],
    nrhs: usize,
) {
    // T^T of an upper triangle is lower: read element (i, k) of op(T).
    let at = |i: usize, k: usize| if trans { a[k * n + i] } else { a[i * n + k] };
    let eff_upper = upper != trans;
    let mut step = |i: usize, ks: &mut dyn Iterator<Item = usize>| {
        for k in ks {
            let t = at(i, k);
            if t != 0.0 {
                for j in 0..nrhs {
                    b[i * nrhs + j] -= t * b[k * nrhs + j];
                }
            }
        }
        if !unit {
            let d = at(i, i);
            for j in 0..nrhs {
                b[i * nrhs + j] /= d;
            }
        }
    };
    if eff_upper {
        for i in (0..n).rev() {
            step(i, &mut (i + 1..n));
        }
    } else {
        for i in 0..n {
            step(i, &mut (0..i));
        }
    }
}

/// Solve a batch: `op(T) X = B` (`left`) or `X op(T) = B`.
fn solve_batch(
    a: &Mats,
    b: Mats,
    upper: bool,
    left: bool,
    trans: bool,
    unit: bool,
    op: &str,
) -> Result<Mats> {
    if a.rows != a.cols {
        return Err(Error::runtime(format!(
            "{op}: A must be batches of square matrices, but they are {} by {} matrices",
            a.rows, a.cols
        )));
    }
    let n = a.rows;
    // X op(T) = B  ⇔  op(T)^T X^T = B^T.
    let mut rhs = if left { b } else { b.transposed() };
    if rhs.rows != n {
        return Err(Error::runtime(format!(
            "{op}: incompatible shapes: A is {n} by {n}, B has {} {}",
            rhs.rows,
            if left { "rows" } else { "columns" }
        )));
    }
    let nrhs = rhs.cols;
    let tr = if left { trans } else { !trans };
    for i in 0..a.count() {
        solve_tri(a.mat(i), n, upper, tr, unit, rhs.mat_mut(i), nrhs);
    }
    Ok(if left { rhs } else { rhs.transposed() })
}

/// `linalg_solve_triangular(A, B, *, upper, left, unitriangular)`.
fn linalg_solve_triangular(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (am, bm) = broadcast_pair(targ(&a, 0)?, targ(&a, 1)?, "linalg.solve_triangular")?;
    let upper = arg(&a, 2)?.as_bool()?;
    let x = solve_batch(
        &am,
        bm,
        upper,
        barg_or(&a, 3, true)?,
        false,
        barg_or(&a, 4, false)?,
        "linalg.solve_triangular",
    )?;
    one(x.into_tensor())
}

/// `triangular_solve(b, A, upper, transpose, unitriangular) -> (solution, cloned A)`.
fn triangular_solve(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (bm, am) = broadcast_pair(targ(&a, 0)?, targ(&a, 1)?, "triangular_solve")?;
    let x = solve_batch(
        &am,
        bm,
        barg_or(&a, 2, true)?,
        true,
        barg_or(&a, 3, false)?,
        barg_or(&a, 4, false)?,
        "triangular_solve",
    )?;
    Ok(vec![x.into_tensor().into(), am.into_tensor().into()])
}

/// Cholesky factor `L` (lower, row-major) of the lower triangle of `a`; on failure returns
/// LAPACK's `info` (the order of the first leading minor that is not positive definite) with
/// the columns factored so far.
pub(crate) fn cholesky(a: &[f64], n: usize) -> (Vec<f64>, i32) {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= l[j * n + k] * l[j * n + k];
        }
        // `!(d > 0)` also catches NaN.
        if d.is_nan() || d <= 0.0 {
            l[j * n + j] = d;
            return (l, j as i32 + 1);
        }
        let d = d.sqrt();
        l[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            l[i * n + j] = s / d;
        }
    }
    (l, 0)
}

/// Factor a batch: `L` (or `U = L^T` when `upper`, reading the upper triangle) and infos.
fn cholesky_all(t: &crate::tensor::Tensor, upper: bool, op: &str) -> Result<(Mats, Vec<i32>)> {
    let mut m = Mats::square(t, op)?;
    if upper {
        // A's upper triangle is the lower triangle of A^T.
        m = m.transposed();
    }
    let n = m.rows;
    let mut info = Vec::with_capacity(m.count());
    for b in 0..m.count() {
        let (l, i) = cholesky(m.mat(b), n);
        let out = m.mat_mut(b);
        if upper {
            out.copy_from_slice(&transpose(&l, n, n));
        } else {
            out.copy_from_slice(&l);
        }
        info.push(i);
    }
    Ok((m, info))
}

/// `linalg_cholesky_ex(A, *, upper, check_errors) -> (L, info)`.
fn linalg_cholesky_ex(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (l, info) = cholesky_all(targ(&a, 0)?, barg_or(&a, 1, false)?, "linalg.cholesky")?;
    if barg_or(&a, 2, false)? {
        fail_on(&info, "linalg.cholesky", targ(&a, 0)?.ndim() == 2)?;
    }
    let batch = l.batch.clone();
    Ok(vec![l.into_tensor().into(), int32(&batch, &[], info)])
}

/// `linalg_cholesky(A, *, upper)` / `cholesky(A, upper)`: errors when not positive
/// definite.
fn linalg_cholesky(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (l, info) = cholesky_all(targ(&a, 0)?, barg_or(&a, 1, false)?, "linalg.cholesky")?;
    fail_on(&info, "linalg.cholesky", targ(&a, 0)?.ndim() == 2)?;
    one(l.into_tensor())
}

fn fail_on(info: &[i32], op: &str, is_matrix: bool) -> Result<()> {
    super::lu::check_info(info, op, is_matrix)
}

/// `cholesky_solve(B, L, upper)`: solve `A X = B` with `A = L L^T` (or `U^T U`).
fn cholesky_solve(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (bm, lm) = broadcast_pair(targ(&a, 0)?, targ(&a, 1)?, "cholesky_solve")?;
    let upper = barg_or(&a, 2, false)?;
    // L Y = B then L^T X = Y (upper: U^T Y = B then U X = Y).
    let y = solve_batch(&lm, bm, upper, true, upper, false, "cholesky_solve")?;
    let x = solve_batch(&lm, y, upper, true, !upper, false, "cholesky_solve")?;
    one(x.into_tensor())
}

/// `cholesky_inverse(L, upper)`: the inverse of `L L^T` (or `U^T U`).
fn cholesky_inverse(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let lm = Mats::square(targ(&a, 0)?, "cholesky_inverse")?;
    let upper = barg_or(&a, 1, false)?;
    let n = lm.rows;
    let mut eye = lm.clone();
    for b in 0..lm.count() {
        eye.mat_mut(b).copy_from_slice(&identity(n));
    }
    let y = solve_batch(&lm, eye, upper, true, upper, false, "cholesky_inverse")?;
    let mut x = solve_batch(&lm, y, upper, true, !upper, false, "cholesky_inverse")?;
    // Symmetrize: the two halves agree up to rounding; PyTorch returns a symmetric result.
    for b in 0..x.count() {
        let m = x.mat_mut(b);
        let t = transpose(m, n, n);
        for (v, w) in m.iter_mut().zip(&t) {
            *v = 0.5 * (*v + w);
        }
    }
    one(x.into_tensor())
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::linalg_solve_triangular.default" => linalg_solve_triangular,
        "aten::triangular_solve.default" => triangular_solve,
        "aten::linalg_cholesky_ex.default" => linalg_cholesky_ex,
        "aten::linalg_cholesky.default" => linalg_cholesky,
        "aten::cholesky.default" => linalg_cholesky,
        "aten::cholesky_solve.default" => cholesky_solve,
        "aten::cholesky_inverse.default" => cholesky_inverse,
    );
}
