//! Symmetric indefinite factorization `A = P L D L^T P^T` with Bunch-Kaufman pivoting
//! (`linalg_ldl_factor_ex`) and its solve (`linalg_ldl_solve`), following LAPACK's unblocked
//! lower `sytf2`/`sytrs` step for step so that `LD` and the pivots (1-based; a 2×2 block's
//! two entries both `-p`) are the ones PyTorch returns.

use super::dense::{broadcast_pair, int32, Mats};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{barg_or, targ, OpCtx};
use crate::value::Value;

/// Index of the largest |value| among `it` (first on ties), LAPACK's `idamax`.
fn idamax(it: impl Iterator<Item = (usize, f64)>) -> (usize, f64) {
    let mut best = (usize::MAX, -1.0);
    for (i, v) in it {
        if v.abs() > best.1 {
            best = (i, v.abs());
        }
    }
    best
}

/// Factor the lower triangle of the row-major `n × n` matrix `a` in place; returns the
/// pivots and `info` (the first zero diagonal block, 1-based).
pub(crate) fn sytf2(a: &mut [f64], n: usize) -> (Vec<i32>, i32) {
    let at = |i: usize, j: usize| i * n + j;
    let alpha = (1.0 + 17f64.sqrt()) / 8.0;
    let mut piv = vec![0i32; n];
    let mut info = 0;
    let mut k = 0;
    while k < n {
        let mut kstep = 1;
        let absakk = a[at(k, k)].abs();
        let (imax, colmax) = if k + 1 < n {
            idamax((k + 1..n).map(|i| (i, a[at(i, k)])))
        } else {
            (k, 0.0)
        };
        let kp;
        if absakk.max(colmax) == 0.0 || absakk.is_nan() {
            if info == 0 {
                info = k as i32 + 1;
            }
            kp = k;
        } else {
            if absakk >= alpha * colmax {
                kp = k;
            } else {
                let (_, mut rowmax) = idamax((k..imax).map(|j| (j, a[at(imax, j)])));
                if imax + 1 < n {
                    let (_, r2) = idamax((imax + 1..n).map(|j| (j, a[at(j, imax)])));
                    rowmax = rowmax.max(r2);
                }
                if absakk >= alpha * colmax * (colmax / rowmax) {
                    kp = k;
                } else if a[at(imax, imax)].abs() >= alpha * rowmax {
                    kp = imax;
                } else {
                    kp = imax;
                    kstep = 2;
                }
            }
            let kk = k + kstep - 1;
            if kp != kk {
                for i in kp + 1..n {
                    a.swap(at(i, kk), at(i, kp));
                }
                for j in kk + 1..kp {
                    a.swap(at(j, kk), at(kp, j));
                }
                a.swap(at(kk, kk), at(kp, kp));
                if kstep == 2 {
                    a.swap(at(k + 1, k), at(kp, k));
                }
            }
            if kstep == 1 {
                if k + 1 < n {
                    let d11 = 1.0 / a[at(k, k)];
                    for j in k + 1..n {
                        let xj = a[at(j, k)];
                        if xj != 0.0 {
                            for i in j..n {
                                a[at(i, j)] -= d11 * a[at(i, k)] * xj;
                            }
                        }
                    }
                    for i in k + 1..n {
                        a[at(i, k)] *= d11;
                    }
                }
            } else if k + 2 < n {
                let d21 = a[at(k + 1, k)];
                let d11 = a[at(k + 1, k + 1)] / d21;
                let d22 = a[at(k, k)] / d21;
                let t = 1.0 / (d11 * d22 - 1.0);
                let d21 = t / d21;
                for j in k + 2..n {
                    let wk = d21 * (d11 * a[at(j, k)] - a[at(j, k + 1)]);
                    let wkp1 = d21 * (d22 * a[at(j, k + 1)] - a[at(j, k)]);
                    for i in j..n {
                        a[at(i, j)] -= a[at(i, k)] * wk + a[at(i, k + 1)] * wkp1;
                    }
                    a[at(j, k)] = wk;
                    a[at(j, k + 1)] = wkp1;
                }
            }
        }
        if kstep == 1 {
            piv[k] = kp as i32 + 1;
        } else {
            piv[k] = -(kp as i32 + 1);
            piv[k + 1] = -(kp as i32 + 1);
        }
        k += kstep;
    }
    (piv, info)
}

/// Check pivots from a tensor: each `1..=n` in magnitude, and every negative one the first
/// of a pair of equal negatives.
fn check_pivots(p: &[i64], n: usize) -> Result<()> {
    let bad = || Error::runtime("linalg.ldl_solve: invalid pivots");
    let mut k = 0;
    while k < n {
        let v = p[k];
        if v == 0 || v.unsigned_abs() > n as u64 {
            return Err(bad());
        }
        if v < 0 {
            if k + 1 >= n || p[k + 1] != v {
                return Err(bad());
            }
            k += 2;
        } else {
            k += 1;
        }
    }
    Ok(())
}

/// Solve `A X = B` in place in `b` (`n × nr`) from the factors (LAPACK's lower `sytrs`).
fn sytrs(a: &[f64], n: usize, piv: &[i64], b: &mut [f64], nr: usize) {
    let at = |i: usize, j: usize| i * n + j;
    let swap_rows = |b: &mut [f64], r: usize, s: usize| {
        if r != s {
            for j in 0..nr {
                b.swap(r * nr + j, s * nr + j);
            }
        }
    };
    let mut k = 0;
    while k < n {
        if piv[k] > 0 {
            swap_rows(b, k, piv[k] as usize - 1);
            for i in k + 1..n {
                for j in 0..nr {
                    b[i * nr + j] -= a[at(i, k)] * b[k * nr + j];
                }
            }
            let d = a[at(k, k)];
            for j in 0..nr {
                b[k * nr + j] /= d;
            }
            k += 1;
        } else {
            swap_rows(b, k + 1, (-piv[k]) as usize - 1);
            for i in k + 2..n {
                for j in 0..nr {
                    b[i * nr + j] -=
                        a[at(i, k)] * b[k * nr + j] + a[at(i, k + 1)] * b[(k + 1) * nr + j];
                }
            }
            let akm1k = a[at(k + 1, k)];
            let akm1 = a[at(k, k)] / akm1k;
            let ak = a[at(k + 1, k + 1)] / akm1k;
            let denom = akm1 * ak - 1.0;
            for j in 0..nr {
                let bkm1 = b[k * nr + j] / akm1k;
                let bk = b[(k + 1) * nr + j] / akm1k;
                b[k * nr + j] = (ak * bkm1 - bk) / denom;
                b[(k + 1) * nr + j] = (akm1 * bk - bkm1) / denom;
            }
            k += 2;
        }
    }
    let mut k = n;
    while k > 0 {
        let kk = k - 1;
        if piv[kk] > 0 {
            for j in 0..nr {
                let s: f64 = (kk + 1..n).map(|i| a[at(i, kk)] * b[i * nr + j]).sum();
                b[kk * nr + j] -= s;
            }
            swap_rows(b, kk, piv[kk] as usize - 1);
            k -= 1;
        } else {
            // The 2×2 block occupies rows kk-1 and kk.
            let k0 = kk - 1;
            for j in 0..nr {
                let s1: f64 = (kk + 1..n).map(|i| a[at(i, kk)] * b[i * nr + j]).sum();
                let s0: f64 = (kk + 1..n).map(|i| a[at(i, k0)] * b[i * nr + j]).sum();
                b[kk * nr + j] -= s1;
                b[k0 * nr + j] -= s0;
            }
            swap_rows(b, kk, (-piv[kk]) as usize - 1);
            k -= 2;
        }
    }
}

/// `linalg_ldl_factor_ex(A, *, hermitian, check_errors) -> (LD, pivots, info)`.
fn ldl_factor_ex(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mut m = Mats::square(targ(&a, 0)?, "linalg.ldl_factor")?;
    let n = m.rows;
    let mut pivs = Vec::with_capacity(m.count() * n);
    let mut infos = Vec::with_capacity(m.count());
    for b in 0..m.count() {
        let mat = m.mat_mut(b);
        let (p, i) = sytf2(mat, n);
        // LD keeps only the lower triangle (L below the diagonal, D's blocks on and next to
        // it); LAPACK leaves the untouched upper triangle, PyTorch zeroes it.
        for r in 0..n {
            for c in r + 1..n {
                mat[r * n + c] = 0.0;
            }
        }
        pivs.extend(p);
        infos.push(i);
    }
    if barg_or(&a, 2, false)? {
        super::lu::check_info(
            &infos,
            "torch.linalg.ldl_factor_ex",
            targ(&a, 0)?.ndim() == 2,
        )?;
    }
    let batch = m.batch.clone();
    Ok(vec![
        m.into_tensor().into(),
        int32(&batch, &[n], pivs),
        int32(&batch, &[], infos),
    ])
}

/// `linalg_ldl_factor(A, *, hermitian) -> (LD, pivots)`: errors on a singular `D`.
fn ldl_factor(c: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let x = targ(&a, 0)?.clone();
    let mut r = ldl_factor_ex(c, vec![x.into(), Value::Bool(false), Value::Bool(true)])?;
    r.truncate(2);
    Ok(r)
}

/// `linalg_ldl_solve(LD, pivots, B, *, hermitian)`.
fn ldl_solve(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let (ld, mut bm) = broadcast_pair(targ(&a, 0)?, targ(&a, 2)?, "linalg.ldl_solve")?;
    let n = ld.rows;
    if ld.cols != n || bm.rows != n {
        return Err(Error::runtime(format!(
            "linalg.ldl_solve: LD {:?} and B {:?} do not fit together",
            targ(&a, 0)?.shape(),
            targ(&a, 2)?.shape()
        )));
    }
    let pt = targ(&a, 1)?;
    let want = super::dense::shape_of(&ld.batch, &[n]);
    let piv = pt
        .expand_to(&want)
        .map_err(|e| e.context("linalg.ldl_solve: pivots do not match LD"))?
        .i64s()?
        .into_owned();
    let nr = bm.cols;
    for b in 0..ld.count() {
        let p = &piv[b * n..(b + 1) * n];
        check_pivots(p, n)?;
        sytrs(ld.mat(b), n, p, bm.mat_mut(b), nr);
    }
    Ok(vec![bm.into_tensor().into()])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::linalg_ldl_factor_ex.default" => ldl_factor_ex,
        "aten::linalg_ldl_factor.default" => ldl_factor,
        "aten::linalg_ldl_solve.default" => ldl_solve,
    );
}
