//! `scaled_dot_product_attention`: softmax(q·kᵀ·scale + mask)·v, with boolean or additive
//! masks, causal masking and grouped-query attention (kept whole by the exporter).

use super::arith::{binary, Bin};
use super::linalg::matmul;
use super::nn::softmax;
use super::shape::{reshape, transpose};
use super::{barg_or, expand_to, one, opt, targ};
use crate::error::{Error, Result};
use crate::registry::{OpCtx, OpFn};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// Repeat dim -3 (heads) of `t` `n` times, each head consecutively (repeat_interleave).
fn repeat_heads(t: &Tensor, n: usize) -> Result<Tensor> {
    if n == 1 {
        return Ok(t.clone());
    }
    let nd = t.ndim();
    let mut s = t.shape().to_vec();
    let h = s[nd - 3];
    let mut v = s.clone();
    v.insert(nd - 2, 1);
    let x = reshape(t, v.clone())?;
    v[nd - 2] = n;
    let e = expand_to(&x, &v)?.contiguous();
    s[nd - 3] = h * n;
    reshape(&e, s)
}

pub(crate) fn sdpa(ctx: &mut OpCtx, args: &[Value]) -> Result<Tensor> {
    let q = targ(args, 0)?;
    let mut k = targ(args, 1)?.clone();
    let mut v = targ(args, 2)?.clone();
    let mask = opt(args, 3).as_opt_tensor()?;
    let dropout = opt(args, 4).as_opt_f64()?.unwrap_or(0.0);
    let causal = barg_or(args, 5, false)?;
    let scale = opt(args, 6).as_opt_f64()?;
    let gqa = barg_or(args, 7, false)?;
    if dropout != 0.0 {
        return Err(Error::runtime(
            "scaled_dot_product_attention: dropout_p must be 0 at inference",
        ));
    }
    if q.ndim() < 2 || k.ndim() != q.ndim() || v.ndim() != q.ndim() {
        return Err(Error::runtime(format!(
            "scaled_dot_product_attention: q {:?}, k {:?}, v {:?}",
            q.shape(),
            k.shape(),
            v.shape()
        )));
    }
    let nd = q.ndim();
    if gqa && nd >= 3 {
        let (hq, hk) = (q.shape()[nd - 3], k.shape()[nd - 3]);
        if hk == 0 || hq % hk != 0 {
            return Err(Error::runtime(format!(
                "enable_gqa: {hq} query heads vs {hk} key heads"
            )));
        }
        k = repeat_heads(&k, hq / hk)?;
        v = repeat_heads(&v, hq / hk)?;
    }
    let e = q.shape()[nd - 1];
    let (l, s) = (q.shape()[nd - 2], k.shape()[nd - 2]);
    let scale = scale.unwrap_or(1.0 / (e as f64).sqrt());
    let kt = transpose(&k, -2, -1)?;
    let scores = matmul(ctx, q, &kt)?;
    let mut scores = binary(Value::Tensor(scores), &Value::Float(scale), Bin::Mul, None)?;
    if causal {
        let m: Vec<u8> = (0..l * s).map(|i| u8::from(i % s > i / s)).collect();
        let m = Tensor::from_bool(vec![l, s], m.iter().map(|&b| b != 0).collect());
        scores = masked(scores, &m)?;
    }
    if let Some(m) = mask {
        scores = if m.dtype() == DType::Bool {
            // True = take part in attention
            let inv: Vec<bool> = m.bools()?.iter().map(|&b| b == 0).collect();
            masked(scores, &Tensor::from_bool(m.shape().to_vec(), inv))?
        } else {
            binary(
                Value::Tensor(scores),
                &Value::Tensor(m.clone()),
                Bin::Add,
                None,
            )?
        };
    }
    let attn = softmax(&scores, -1, false, None)?;
    matmul(ctx, &attn, &v)
}

/// `scores` with -inf where `drop` is true (broadcast).
fn masked(scores: Tensor, drop: &Tensor) -> Result<Tensor> {
    let f = crate::registry::lookup("aten::masked_fill.Scalar")
        .ok_or_else(|| Error::runtime("internal: masked_fill missing"))?;
    let r = f(
        &mut OpCtx::default(),
        vec![
            scores.into(),
            drop.clone().into(),
            Value::Float(f64::NEG_INFINITY),
        ],
    )?;
    r.into_iter()
        .next()
        .ok_or_else(|| Error::runtime("internal: masked_fill returned nothing"))?
        .take_tensor()
}

pub(crate) fn register(r: &mut Vec<(&'static str, OpFn)>) {
    r.push((
        "aten::scaled_dot_product_attention.default",
        (|c: &mut OpCtx, a: Vec<Value>| one(sdpa(c, &a)?)) as OpFn,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive attention for one head: softmax(q kᵀ * scale + bias) v.
    fn naive(
        q: &[f32],
        k: &[f32],
        v: &[f32],
        l: usize,
        s: usize,
        e: usize,
        causal: bool,
    ) -> Vec<f32> {
        let scale = 1.0 / (e as f32).sqrt();
        let mut out = vec![0.0; l * e];
        for i in 0..l {
            let mut w: Vec<f32> = (0..s)
                .map(|j| {
                    if causal && j > i {
                        f32::NEG_INFINITY
                    } else {
                        (0..e).map(|t| q[i * e + t] * k[j * e + t]).sum::<f32>() * scale
                    }
                })
                .collect();
            let m = w.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            w.iter_mut().for_each(|x| *x = (*x - m).exp());
            let z: f32 = w.iter().sum();
            for j in 0..s {
                for t in 0..e {
                    out[i * e + t] += w[j] / z * v[j * e + t];
                }
            }
        }
        out
    }

    fn seq(n: usize, s: f32) -> Vec<f32> {
        (0..n).map(|i| ((i * 7 % 5) as f32 - 2.0) * s).collect()
    }

    #[test]
    fn matches_naive_with_causal_and_masks() {
        let (l, e) = (3, 4);
        let q = seq(l * e, 0.3);
        let k = seq(l * e, -0.2);
        let v = seq(l * e, 0.5);
        let t = |d: &[f32]| Value::Tensor(Tensor::from_f32(vec![1, 1, l, e], d.to_vec()));
        for causal in [false, true] {
            let r = sdpa(
                &mut OpCtx::default(),
                &[
                    t(&q),
                    t(&k),
                    t(&v),
                    Value::None,
                    Value::Float(0.0),
                    Value::Bool(causal),
                    Value::None,
                    Value::Bool(false),
                ],
            )
            .unwrap();
            let want = naive(&q, &k, &v, l, l, e, causal);
            for (a, b) in r.to_f32_vec().iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
        // a boolean lower-triangular mask equals is_causal
        let m = Tensor::from_bool(vec![l, l], (0..l * l).map(|i| i % l <= i / l).collect());
        let r = sdpa(
            &mut OpCtx::default(),
            &[
                t(&q),
                t(&k),
                t(&v),
                m.into(),
                Value::Float(0.0),
                Value::Bool(false),
                Value::None,
                Value::Bool(false),
            ],
        )
        .unwrap();
        let want = naive(&q, &k, &v, l, l, e, true);
        for (a, b) in r.to_f32_vec().iter().zip(&want) {
            assert!((a - b).abs() < 1e-5);
        }
        // grouped-query: 2 query heads share 1 kv head
        let q2: Vec<f32> = [q.clone(), q.clone()].concat();
        let r = sdpa(
            &mut OpCtx::default(),
            &[
                Tensor::from_f32(vec![1, 2, l, e], q2).into(),
                t(&k),
                t(&v),
                Value::None,
                Value::Float(0.0),
                Value::Bool(false),
                Value::None,
                Value::Bool(true),
            ],
        )
        .unwrap();
        assert_eq!(r.shape(), &[1, 2, l, e]);
        let want = naive(&q, &k, &v, l, l, e, false);
        let got = r.to_f32_vec();
        for h in 0..2 {
            for (a, b) in got[h * l * e..(h + 1) * l * e].iter().zip(&want) {
                assert!((a - b).abs() < 1e-5);
            }
        }
    }
}
