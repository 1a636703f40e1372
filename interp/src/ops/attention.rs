//! `scaled_dot_product_attention`: softmax(q·kᵀ·scale + mask)·v, with boolean or additive
//! masks, causal masking and grouped-query attention (kept whole by the exporter).
//!
//! f32 attention runs fused, one (batch, head) at a time: scores in a per-thread `L × S`
//! buffer, scale + causal + mask + softmax in one pass over it, and the heads split over
//! the kernels' thread pool. Other dtypes and empty shapes take the composed path (matmul,
//! mul, masked_fill/add, softmax, matmul), which is also the reference in the tests.

use wasm_torch_kernels::gemm::sgemm;
use wasm_torch_kernels::parallel;
use wasm_torch_kernels::softmax::softmax_rows;

use super::linalg::matmul;
use crate::ops::elementwise::{binary, Bin};
use crate::ops::softmax::softmax;

use super::{barg_or, one, opt, targ};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::storage::try_alloc;
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
    let x = t.reshape(v.clone())?;
    v[nd - 2] = n;
    let e = x.expand_to(&v)?.contiguous()?;
    s[nd - 3] = h * n;
    e.reshape(s)
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
    let e = q.shape()[nd - 1];
    let scale = scale.unwrap_or(1.0 / (e as f64).sqrt());
    // Query heads per key/value head (grouped-query attention); 1 without `enable_gqa`.
    let mut rep = 1;
    if gqa && nd >= 3 {
        let (hq, hk) = (q.shape()[nd - 3], k.shape()[nd - 3]);
        if hk == 0 || hq % hk != 0 || v.shape()[nd - 3] != hk {
            return Err(Error::runtime(format!(
                "enable_gqa: {hq} query heads vs {hk} key and {} value heads",
                v.shape()[nd - 3]
            )));
        }
        rep = hq / hk;
    }
    // The fused path reads each shared key/value head in place for its query heads.
    if let Some(out) = fused(q, &k, &v, mask, causal, scale, rep)? {
        return Ok(out);
    }
    k = repeat_heads(&k, rep)?;
    v = repeat_heads(&v, rep)?;
    composed(ctx, q, &k, &v, mask, causal, scale)
}

/// The unfused attention (any dtype): matmul, scale, causal/`mask`, softmax, matmul.
fn composed(
    ctx: &mut OpCtx,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    causal: bool,
    scale: f64,
) -> Result<Tensor> {
    let nd = q.ndim();
    let (l, s) = (q.shape()[nd - 2], k.shape()[nd - 2]);
    let kt = k.transpose(-2, -1)?;
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
    matmul(ctx, &attn, v)
}

/// Least multiply-adds of attention per thread worth splitting heads over threads.
/// (Tiny in unit tests, so their small shapes do split.)
const MIN_PAR_MACS: usize = if cfg!(test) { 16 } else { 1 << 20 };

/// The matrices of a `[P..., R, C]` tensor with unit column stride (see [`gemm_ready`]):
/// storage from element 0, the offset of each of the `P` matrices, the row stride.
struct Mats<'a> {
    data: &'a [f32],
    base: Vec<usize>,
    row: usize,
}

/// Offsets of the matrices of `t` (all but its last two dims), from its strides.
fn bases(t: &Tensor) -> Vec<usize> {
    let nd = t.ndim();
    let mut base = vec![0usize];
    for d in 0..nd - 2 {
        let (n, st) = (t.shape()[d], t.strides()[d]);
        base = base
            .iter()
            .flat_map(|&b| (0..n).map(move |i| b + i * st))
            .collect();
    }
    base
}

fn mats(t: &Tensor) -> Result<Mats<'_>> {
    let nd = t.ndim();
    Ok(Mats {
        data: t.raw::<f32>()?,
        base: bases(t),
        row: t.strides()[nd - 2],
    })
}

/// `t` as f32 with unit column stride and a row stride of at least its width (what the
/// GEMM takes without a copy), copying only when it is not already.
fn gemm_ready(t: &Tensor) -> Result<Tensor> {
    let nd = t.ndim();
    let (r, c) = (t.shape()[nd - 2], t.shape()[nd - 1]);
    let st = t.strides();
    let ok = (st[nd - 1] == 1 || c == 1) && (st[nd - 2] >= c || r == 1);
    if ok {
        Ok(t.clone())
    } else {
        t.contiguous()
    }
}

/// The fused f32 path; `None` when it does not apply (dtypes, batch shapes that differ
/// between q, k and v, empty dims), so the caller runs [`composed`].
///
/// With `rep > 1` (grouped-query attention, checked by the caller: dim -3 of q is `rep`
/// times that of k and v), query head `h` reads key/value head `h / rep` where it lies,
/// instead of a copy of k and v with each head repeated.
fn fused(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    causal: bool,
    scale: f64,
    rep: usize,
) -> Result<Option<Tensor>> {
    let nd = q.ndim();
    let prefix = &q.shape()[..nd - 2];
    let (l, e) = (q.shape()[nd - 2], q.shape()[nd - 1]);
    let (s, ev) = (k.shape()[nd - 2], v.shape()[nd - 1]);
    let f32s = [q, k, v].iter().all(|t| t.dtype() == DType::F32);
    // The key/value batch shape: q's, with dim -3 divided by `rep`.
    let mut kv_prefix = prefix.to_vec();
    if rep > 1 {
        kv_prefix[nd - 3] /= rep;
    }
    if !f32s
        || k.shape()[..nd - 2] != *kv_prefix
        || v.shape()[..nd - 2] != *kv_prefix
        || k.shape()[nd - 1] != e
        || v.shape()[nd - 2] != s
        || l == 0
        || s == 0
        || e == 0
        || ev == 0
        || mask.is_some_and(|m| !matches!(m.dtype(), DType::F32 | DType::Bool))
    {
        return Ok(None);
    }
    // The mask broadcast to [P..., L, S] (a strided view, nothing copied).
    let mut full = prefix.to_vec();
    full.extend([l, s]);
    let mask = mask.map(|m| m.expand_to(&full)).transpose()?;
    let (q, k, v) = (gemm_ready(q)?, gemm_ready(k)?, gemm_ready(v)?);
    let (qm, km, vm) = (mats(&q)?, mats(&k)?, mats(&v)?);
    enum MaskData<'a> {
        None,
        Add(&'a [f32]),
        Keep(&'a [u8]),
    }
    let (mdata, mbase, mrow, mcol) = match &mask {
        None => (MaskData::None, vec![], 0, 0),
        Some(m) => {
            let data = if m.dtype() == DType::Bool {
                MaskData::Keep(m.raw::<u8>()?)
            } else {
                MaskData::Add(m.raw::<f32>()?)
            };
            (data, bases(m), m.strides()[nd - 2], m.strides()[nd - 1])
        }
    };
    let heads = qm.base.len();
    // Matrix index of the key/value head query matrix `h` reads: within each batch of
    // `hq` query heads, head `h % hq` reads shared head `(h % hq) / rep`.
    let hq = if nd >= 3 { prefix[nd - 3] } else { 1 };
    let kv_of = |h: usize| (h / hq) * (hq / rep) + (h % hq) / rep;
    let mut out = try_alloc::<f32>(
        heads
            .checked_mul(l * ev)
            .ok_or_else(|| Error::oom("attention output too large"))?,
    )?;
    let macs_per_head = l.saturating_mul(s).saturating_mul(e + ev).max(1);
    let parts = parallel::parts(
        heads,
        parallel::split_threshold(MIN_PAR_MACS).div_ceil(macs_per_head),
    );
    let ranges = parallel::split_even(heads, parts);
    // One scores buffer per part, allocated (and size-checked) before the parallel region.
    let mut items = Vec::with_capacity(ranges.len());
    let mut rest = &mut out[..];
    for &(h0, h1) in &ranges {
        let (head, tail) = rest.split_at_mut((h1 - h0) * l * ev);
        rest = tail;
        items.push((h0, head, try_alloc::<f32>(l * s)?));
    }
    let scale = scale as f32;
    parallel::for_each(items, |(h0, dst, mut sc)| {
        for (i, o) in dst.chunks_exact_mut(l * ev).enumerate() {
            let h = h0 + i;
            let (qb, kb, vb) = (qm.base[h], km.base[kv_of(h)], vm.base[kv_of(h)]);
            sgemm(
                l,
                s,
                e,
                &qm.data[qb..],
                qm.row,
                false,
                &km.data[kb..],
                km.row,
                true,
                &mut sc,
                s,
                false,
            );
            for (r, row) in sc.chunks_exact_mut(s).enumerate() {
                let mb = mbase.get(h).map_or(0, |b| b + r * mrow);
                for (c, x) in row.iter_mut().enumerate() {
                    let mut y = *x * scale;
                    if causal && c > r {
                        y = f32::NEG_INFINITY;
                    }
                    match mdata {
                        MaskData::None => {}
                        MaskData::Add(m) => y += m[mb + c * mcol],
                        MaskData::Keep(m) => {
                            if m[mb + c * mcol] == 0 {
                                y = f32::NEG_INFINITY;
                            }
                        }
                    }
                    *x = y;
                }
            }
            softmax_rows(&mut sc, s);
            sgemm(
                l,
                ev,
                s,
                &sc,
                s,
                false,
                &vm.data[vb..],
                vm.row,
                false,
                o,
                ev,
                false,
            );
        }
    });
    full.pop();
    full.push(ev);
    Ok(Some(Tensor::from_f32(full, out)))
}

/// `scores` with -inf where `drop` is true (broadcast).
fn masked(scores: Tensor, drop: &Tensor) -> Result<Tensor> {
    let f = crate::ops::registry::lookup("aten::masked_fill.Scalar")
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

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::scaled_dot_product_attention.default" => |c: &mut OpCtx, a: Vec<Value>| one(sdpa(c, &a)?),
    );
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

    fn args(q: Tensor, k: Tensor, v: Tensor, mask: Option<Tensor>, causal: bool) -> Vec<Value> {
        vec![
            q.into(),
            k.into(),
            v.into(),
            mask.map_or(Value::None, Value::from),
            Value::Float(0.0),
            Value::Bool(causal),
            Value::None,
            Value::Bool(false),
        ]
    }

    /// Deterministic values in [-1, 1).
    fn vals(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32) / 1001.5 - 1.0)
            .collect()
    }

    /// The fused path (serial and over 3 threads) against the composed one, with odd
    /// sizes, strided (permuted) q/k/v, broadcast float and bool masks and causal masking.
    #[test]
    fn fused_matches_composed() {
        for &(b, h, l, s, e, ev) in &[
            (1, 1, 1, 1, 1, 1),
            (2, 3, 5, 7, 4, 3),
            (1, 2, 17, 33, 8, 16),
            (2, 1, 40, 19, 21, 5),
        ] {
            // q stored [B, L, H, E] and viewed as [B, H, L, E] (as transformers do).
            let q = Tensor::from_f32(vec![b, l, h, e], vals(b * l * h * e, 1));
            let q = q.permute(&[0, 2, 1, 3]).unwrap();
            let k = Tensor::from_f32(vec![b, h, s, e], vals(b * h * s * e, 2));
            let v = Tensor::from_f32(vec![b, h, s, ev], vals(b * h * s * ev, 3));
            let add = Tensor::from_f32(vec![b, 1, 1, s], vals(b * s, 4));
            let keep = Tensor::from_bool(
                vec![b, 1, l, s],
                (0..b * l * s).map(|i| i % 3 != 1 || i % s == 0).collect(),
            );
            for (mask, causal) in [
                (None, false),
                (None, true),
                (Some(add.clone()), false),
                (Some(add), true),
                (Some(keep), false),
            ] {
                let a = args(q.clone(), k.clone(), v.clone(), mask.clone(), causal);
                let mut ctx = OpCtx::default();
                let scale = 1.0 / (e as f64).sqrt();
                let want = composed(&mut ctx, &q, &k, &v, mask.as_ref(), causal, scale)
                    .unwrap()
                    .to_f32_vec();
                for threads in [1, 3] {
                    let got = wasm_torch_kernels::parallel::with_threads(threads, || {
                        sdpa(&mut OpCtx::default(), &a).unwrap()
                    });
                    assert_eq!(got.shape(), &[b, h, l, ev]);
                    for (x, y) in got.to_f32_vec().iter().zip(&want) {
                        let ok =
                            (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-5 * (1.0 + y.abs());
                        assert!(ok, "{b}x{h}x{l}x{s}x{e}x{ev} causal {causal}: {x} vs {y}");
                    }
                }
            }
        }
    }

    /// Grouped-query attention: the fused path, reading each shared key/value head in place
    /// (strided k/v as from a cache slice), matches the composed path over k and v with
    /// each head repeated, with and without masks, serial and over 3 threads.
    #[test]
    fn gqa_fused_matches_repeated_heads() {
        for &(b, hq, hk, l, s, e) in &[(1, 9, 3, 1, 12, 8), (2, 4, 2, 3, 5, 4), (1, 3, 1, 2, 7, 5)]
        {
            let q = Tensor::from_f32(vec![b, hq, l, e], vals(b * hq * l * e, 5));
            // k/v stored [B, S, Hk, E] and viewed as [B, Hk, S, E]: strided, not copied.
            let k = Tensor::from_f32(vec![b, s, hk, e], vals(b * s * hk * e, 6))
                .permute(&[0, 2, 1, 3])
                .unwrap();
            let v = Tensor::from_f32(vec![b, hk, s, e], vals(b * hk * s * e, 7));
            let (kr, vr) = (
                repeat_heads(&k, hq / hk).unwrap(),
                repeat_heads(&v, hq / hk).unwrap(),
            );
            let add = Tensor::from_f32(vec![b, 1, l, s], vals(b * l * s, 8));
            for (mask, causal) in [(None, false), (None, true), (Some(add), false)] {
                let scale = 1.0 / (e as f64).sqrt();
                let want = composed(
                    &mut OpCtx::default(),
                    &q,
                    &kr,
                    &vr,
                    mask.as_ref(),
                    causal,
                    scale,
                )
                .unwrap()
                .to_f32_vec();
                let mut a = args(q.clone(), k.clone(), v.clone(), mask.clone(), causal);
                a[7] = Value::Bool(true);
                for threads in [1, 3] {
                    let got = wasm_torch_kernels::parallel::with_threads(threads, || {
                        sdpa(&mut OpCtx::default(), &a).unwrap()
                    });
                    assert_eq!(got.shape(), &[b, hq, l, e]);
                    for (x, y) in got.to_f32_vec().iter().zip(&want) {
                        assert!(
                            (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                            "{b}x{hq}/{hk}x{l}x{s}x{e} causal {causal}: {x} vs {y}"
                        );
                    }
                }
            }
        }
        // a head count that does not divide is an error, not a panic
        let q = Tensor::from_f32(vec![1, 3, 1, 2], vals(6, 1));
        let k = Tensor::from_f32(vec![1, 2, 1, 2], vals(4, 2));
        let mut a = args(q, k.clone(), k, None, false);
        a[7] = Value::Bool(true);
        assert!(sdpa(&mut OpCtx::default(), &a).is_err());
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
