//! `linalg_matrix_exp` by scaling and squaring: `exp(A) = exp(A / 2^s)^(2^s)` with `s`
//! chosen so that `‖A / 2^s‖₁ ≤ 1/2`, where a Taylor series summed to f64 precision
//! converges in at most about 20 terms.

use super::dense::{identity, matmul, Mats};
use crate::error::Result;
use crate::ops::registry::OpList;
use crate::ops::{one, targ, OpCtx};
use crate::value::Value;

/// Squarings at most: beyond this the result overflows anyway.
const MAX_SQUARINGS: i32 = 1100;

/// `exp` of the row-major `n × n` matrix `a`.
pub(crate) fn expm(a: &[f64], n: usize) -> Vec<f64> {
    let norm = (0..n)
        .map(|j| (0..n).map(|i| a[i * n + j].abs()).sum::<f64>())
        .fold(0.0f64, |m, x| if x.is_nan() { f64::NAN } else { m.max(x) });
    if !norm.is_finite() {
        return vec![f64::NAN; n * n];
    }
    let s = if norm > 0.5 {
        ((norm / 0.5).log2().ceil() as i32).clamp(0, MAX_SQUARINGS)
    } else {
        0
    };
    let scale = 0.5f64.powi(s);
    let x: Vec<f64> = a.iter().map(|v| v * scale).collect();
    let mut sum = identity(n);
    let mut term = identity(n);
    for k in 1..=30 {
        term = matmul(&term, &x, n, n, n);
        let inv = 1.0 / k as f64;
        term.iter_mut().for_each(|t| *t *= inv);
        let mut tmax = 0.0f64;
        for (acc, t) in sum.iter_mut().zip(&term) {
            *acc += t;
            tmax = tmax.max(t.abs());
        }
        if tmax <= f64::EPSILON * 1e-3 {
            break;
        }
    }
    for _ in 0..s {
        sum = matmul(&sum, &sum, n, n, n);
    }
    sum
}

/// `linalg_matrix_exp(A)` / `matrix_exp(A)`.
fn matrix_exp(_: &mut OpCtx, a: Vec<Value>) -> Result<Vec<Value>> {
    let mut m = Mats::square(targ(&a, 0)?, "linalg.matrix_exp")?;
    let n = m.rows;
    for b in 0..m.count() {
        let e = expm(m.mat(b), n);
        m.mat_mut(b).copy_from_slice(&e);
    }
    one(m.into_tensor())
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::linalg_matrix_exp.default" => matrix_exp,
        "aten::matrix_exp.default" => matrix_exp,
    );
}
