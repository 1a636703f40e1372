//! Recurrent layers as TorchScript emits them: `aten::lstm.input` (multi-layer, optionally
//! bidirectional and batch-first). torch.export decomposes LSTMs into mm/sigmoid/tanh, which
//! need nothing special.

use super::linalg::mm2d;
use super::{arg, barg_or, iarg, to_usize};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::Tensor;
use crate::value::Value;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One direction of one layer over `x` [T, B, I]; returns (hs [T, B, H], h_T, c_T).
#[allow(clippy::too_many_arguments)]
fn run_dir(
    ctx: &mut OpCtx,
    x: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b: Option<Vec<f32>>,
    h0: Vec<f32>,
    c0: Vec<f32>,
    reverse: bool,
) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let (t_len, batch, inp) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    if w_ih.ndim() != 2 || w_hh.ndim() != 2 {
        return Err(Error::runtime("lstm: weights must be 2-d"));
    }
    let g4 = w_ih.shape()[0];
    let h = g4 / 4;
    if g4 % 4 != 0 || w_ih.shape()[1] != inp || w_hh.shape() != [g4, h] {
        return Err(Error::runtime(format!(
            "lstm: weights {:?} / {:?} do not fit input size {inp}",
            w_ih.shape(),
            w_hh.shape()
        )));
    }
    if h0.len() != batch * h || c0.len() != batch * h {
        return Err(Error::runtime("lstm: initial states have the wrong size"));
    }
    let x2 = x.reshape(vec![t_len * batch, inp])?;
    let pre = mm2d(ctx, &x2, &w_ih.transpose(0, 1)?, b.as_deref())?;
    let whh_t = w_hh.transpose(0, 1)?;
    let mut hcur = h0;
    let mut c = c0;
    let mut hs = vec![0f32; t_len * batch * h];
    for step in 0..t_len {
        let t = if reverse { t_len - 1 - step } else { step };
        let ht = Tensor::from_f32(vec![batch, h], hcur.clone());
        let rec = mm2d(ctx, &ht, &whh_t, None)?;
        for bi in 0..batch {
            let g = |k: usize, j: usize| {
                pre[(t * batch + bi) * g4 + k * h + j] + rec[bi * g4 + k * h + j]
            };
            for j in 0..h {
                let (i_g, f_g, g_g, o_g) = (
                    sigmoid(g(0, j)),
                    sigmoid(g(1, j)),
                    g(2, j).tanh(),
                    sigmoid(g(3, j)),
                );
                let cn = f_g * c[bi * h + j] + i_g * g_g;
                c[bi * h + j] = cn;
                hcur[bi * h + j] = o_g * cn.tanh();
            }
        }
        hs[t * batch * h..(t + 1) * batch * h].copy_from_slice(&hcur);
    }
    Ok((hs, hcur, c))
}

/// lstm.input(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
fn lstm(ctx: &mut OpCtx, args: &[Value]) -> Result<Vec<Value>> {
    let mut x = super::targ(args, 0)?.clone();
    let hx = arg(args, 1)?.as_tensors()?;
    let params = arg(args, 2)?.as_tensors()?;
    let has_b = barg_or(args, 3, true)?;
    let layers = to_usize(iarg(args, 4)?, "num_layers")?;
    let bidir = barg_or(args, 7, false)?;
    let batch_first = barg_or(args, 8, false)?;
    if barg_or(args, 6, false)? {
        return Err(Error::runtime("lstm in training mode is not supported"));
    }
    let dirs = if bidir { 2 } else { 1 };
    let per = if has_b { 4 } else { 2 };
    if params.len() != layers * dirs * per || hx.len() != 2 {
        return Err(Error::runtime(format!(
            "lstm: expected {} parameter tensors and (h0, c0), got {} and {}",
            layers * dirs * per,
            params.len(),
            hx.len()
        )));
    }
    let unbatched = x.ndim() == 2;
    if unbatched {
        x = x.reshape(vec![x.shape()[0], 1, x.shape()[1]])?;
    } else if batch_first {
        x = x.permute(&[1, 0, 2])?;
    }
    if x.ndim() != 3 {
        return Err(Error::runtime(format!(
            "lstm: input {:?} must be 2-d or 3-d",
            x.shape()
        )));
    }
    let (t_len, batch) = (x.shape()[0], x.shape()[1]);
    let (h0, c0) = (&hx[0], &hx[1]);
    let h = h0.shape().last().copied().unwrap_or(0);
    if h0.numel() != layers * dirs * batch * h || c0.numel() != h0.numel() {
        return Err(Error::runtime(format!(
            "lstm: h0 {:?} / c0 {:?} do not fit",
            h0.shape(),
            c0.shape()
        )));
    }
    let h0 = h0.reshape(vec![layers * dirs, batch * h])?;
    let c0 = c0.reshape(vec![layers * dirs, batch * h])?;
    let mut hn = Vec::new();
    let mut cn = Vec::new();
    let mut layer_in = x.contiguous();
    for l in 0..layers {
        let mut outs = Vec::new();
        for d in 0..dirs {
            let base = (l * dirs + d) * per;
            let bias = if has_b {
                let (bi, bh) = (params[base + 2].f32s()?, params[base + 3].f32s()?);
                Some(
                    bi.iter()
                        .zip(bh.iter())
                        .map(|(a, b)| a + b)
                        .collect::<Vec<f32>>(),
                )
            } else {
                None
            };
            let idx = (l * dirs + d) as i64;
            let (hs, ht, ct) = run_dir(
                ctx,
                &layer_in,
                &params[base],
                &params[base + 1],
                bias,
                h0.select(0, idx)?.f32s()?.into_owned(),
                c0.select(0, idx)?.f32s()?.into_owned(),
                d == 1,
            )?;
            outs.push(Tensor::from_f32(vec![t_len, batch, h], hs));
            hn.push(Tensor::from_f32(vec![batch, h], ht));
            cn.push(Tensor::from_f32(vec![batch, h], ct));
        }
        layer_in = if dirs == 1 {
            outs.remove(0)
        } else {
            Tensor::cat(&outs, 2)?
        };
    }
    let mut out = layer_in;
    if unbatched {
        out = out.reshape(vec![t_len, out.shape()[2]])?;
    } else if batch_first {
        out = out.permute(&[1, 0, 2])?.contiguous();
    }
    let stack = |v: Vec<Tensor>| -> Result<Tensor> {
        let n = v.len();
        let flat = Tensor::cat(&v, 0)?;
        if unbatched {
            flat.reshape(vec![n, h])
        } else {
            flat.reshape(vec![n, batch, h])
        }
    };
    Ok(vec![out.into(), stack(hn)?.into(), stack(cn)?.into()])
}

/// One GRU direction over `x` [T, B, I]; returns (hs [T, B, H], h_T).
#[allow(clippy::too_many_arguments)]
fn gru_dir(
    ctx: &mut OpCtx,
    x: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<Vec<f32>>,
    b_hh: Option<Vec<f32>>,
    h0: Vec<f32>,
    reverse: bool,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (t_len, batch, inp) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    if w_ih.ndim() != 2 || w_hh.ndim() != 2 {
        return Err(Error::runtime("gru: weights must be 2-d"));
    }
    let g3 = w_ih.shape()[0];
    let h = g3 / 3;
    if w_ih.ndim() != 2
        || w_hh.ndim() != 2
        || g3 % 3 != 0
        || w_ih.shape()[1] != inp
        || w_hh.shape() != [g3, h]
        || h0.len() != batch * h
    {
        return Err(Error::runtime(format!(
            "gru: weights {:?} / {:?} do not fit input size {inp}",
            w_ih.shape(),
            w_hh.shape()
        )));
    }
    let x2 = x.reshape(vec![t_len * batch, inp])?;
    let pre = mm2d(ctx, &x2, &w_ih.transpose(0, 1)?, b_ih.as_deref())?;
    let whh_t = w_hh.transpose(0, 1)?;
    let mut hcur = h0;
    let mut hs = vec![0f32; t_len * batch * h];
    for step in 0..t_len {
        let t = if reverse { t_len - 1 - step } else { step };
        let ht = Tensor::from_f32(vec![batch, h], hcur.clone());
        let rec = mm2d(ctx, &ht, &whh_t, b_hh.as_deref())?;
        for bi in 0..batch {
            let xi = |k: usize, j: usize| pre[(t * batch + bi) * g3 + k * h + j];
            let hh = |k: usize, j: usize| rec[bi * g3 + k * h + j];
            for j in 0..h {
                let r = sigmoid(xi(0, j) + hh(0, j));
                let z = sigmoid(xi(1, j) + hh(1, j));
                let n = (xi(2, j) + r * hh(2, j)).tanh();
                let hp = hcur[bi * h + j];
                hcur[bi * h + j] = (1.0 - z) * n + z * hp;
            }
        }
        hs[t * batch * h..(t + 1) * batch * h].copy_from_slice(&hcur);
    }
    Ok((hs, hcur))
}

/// gru.input(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
fn gru(ctx: &mut OpCtx, args: &[Value]) -> Result<Vec<Value>> {
    let mut x = super::targ(args, 0)?.clone();
    let h0 = super::targ(args, 1)?;
    let params = arg(args, 2)?.as_tensors()?;
    let has_b = barg_or(args, 3, true)?;
    let layers = to_usize(iarg(args, 4)?, "num_layers")?;
    let bidir = barg_or(args, 7, false)?;
    let batch_first = barg_or(args, 8, false)?;
    if barg_or(args, 6, false)? {
        return Err(Error::runtime("gru in training mode is not supported"));
    }
    let dirs = if bidir { 2 } else { 1 };
    let per = if has_b { 4 } else { 2 };
    if params.len() != layers * dirs * per {
        return Err(Error::runtime(format!(
            "gru: expected {} parameter tensors, got {}",
            layers * dirs * per,
            params.len()
        )));
    }
    let unbatched = x.ndim() == 2;
    if unbatched {
        x = x.reshape(vec![x.shape()[0], 1, x.shape()[1]])?;
    } else if batch_first && x.ndim() == 3 {
        x = x.permute(&[1, 0, 2])?;
    }
    if x.ndim() != 3 {
        return Err(Error::runtime(format!(
            "gru: input {:?} must be 2-d or 3-d",
            x.shape()
        )));
    }
    let (t_len, batch) = (x.shape()[0], x.shape()[1]);
    let h = h0.shape().last().copied().unwrap_or(0);
    if h0.numel() != layers * dirs * batch * h {
        return Err(Error::runtime(format!(
            "gru: h0 {:?} does not fit",
            h0.shape()
        )));
    }
    let h0 = h0.reshape(vec![layers * dirs, batch * h])?;
    let mut hn = Vec::new();
    let mut layer_in = x.contiguous();
    for l in 0..layers {
        let mut outs = Vec::new();
        for d in 0..dirs {
            let base = (l * dirs + d) * per;
            let (bi, bh) = if has_b {
                (
                    Some(params[base + 2].f32s()?.into_owned()),
                    Some(params[base + 3].f32s()?.into_owned()),
                )
            } else {
                (None, None)
            };
            let (hs, ht) = gru_dir(
                ctx,
                &layer_in,
                &params[base],
                &params[base + 1],
                bi,
                bh,
                h0.select(0, (l * dirs + d) as i64)?.f32s()?.into_owned(),
                d == 1,
            )?;
            outs.push(Tensor::from_f32(vec![t_len, batch, h], hs));
            hn.push(Tensor::from_f32(vec![batch, h], ht));
        }
        layer_in = if dirs == 1 {
            outs.remove(0)
        } else {
            Tensor::cat(&outs, 2)?
        };
    }
    let mut out = layer_in;
    if unbatched {
        out = out.reshape(vec![t_len, out.shape()[2]])?;
    } else if batch_first {
        out = out.permute(&[1, 0, 2])?.contiguous();
    }
    let n = hn.len();
    let flat = Tensor::cat(&hn, 0)?;
    let hn = if unbatched {
        flat.reshape(vec![n, h])?
    } else {
        flat.reshape(vec![n, batch, h])?
    };
    Ok(vec![out.into(), hn.into()])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::lstm.input" => |c: &mut OpCtx, a: Vec<Value>| lstm(c, &a),
        "aten::gru.input" => |c: &mut OpCtx, a: Vec<Value>| gru(c, &a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gru_matches_hand_recurrence() {
        let w_ih = Tensor::from_f32(vec![3, 1], vec![1.0, -0.5, 2.0]);
        let w_hh = Tensor::from_f32(vec![3, 1], vec![0.3, 0.2, -0.4]);
        let b_ih = Tensor::from_f32(vec![3], vec![0.1, 0.0, -0.1]);
        let b_hh = Tensor::from_f32(vec![3], vec![0.0, 0.2, 0.3]);
        let x = Tensor::from_f32(vec![1, 2, 1], vec![0.5, -1.0]);
        let h0 = Tensor::from_f32(vec![1, 1, 1], vec![0.25]);
        let args = vec![
            x.into(),
            h0.into(),
            Value::List(vec![w_ih.into(), w_hh.into(), b_ih.into(), b_hh.into()]),
            Value::Bool(true),
            Value::Int(1),
            Value::Float(0.0),
            Value::Bool(false),
            Value::Bool(false),
            Value::Bool(true),
        ];
        let r = gru(&mut OpCtx::default(), &args).unwrap();
        let mut h = 0.25f32;
        let mut hs = vec![];
        for xt in [0.5f32, -1.0] {
            let rg = sigmoid(xt + 0.1 + 0.3 * h);
            let z = sigmoid(-0.5 * xt + 0.2 * h + 0.2);
            let n = (2.0 * xt - 0.1 + rg * (-0.4 * h + 0.3)).tanh();
            h = (1.0 - z) * n + z * h;
            hs.push(h);
        }
        let out = r[0].as_tensor().unwrap();
        assert_eq!(out.shape(), &[1, 2, 1]);
        for (a, b) in out.to_f32_vec().iter().zip(&hs) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(r[1].as_tensor().unwrap().shape(), &[1, 1, 1]);
    }

    #[test]
    fn single_step_matches_hand_computation() {
        // I = 1, H = 1, T = 2, B = 1; weights chosen so each gate is easy to compute
        let w_ih = Tensor::from_f32(vec![4, 1], vec![1.0, 0.5, -1.0, 2.0]);
        let w_hh = Tensor::from_f32(vec![4, 1], vec![0.1, 0.2, 0.3, 0.4]);
        let b_ih = Tensor::from_f32(vec![4], vec![0.0; 4]);
        let b_hh = Tensor::from_f32(vec![4], vec![0.1, 0.0, 0.0, -0.1]);
        let x = Tensor::from_f32(vec![2, 1, 1], vec![0.5, -1.0]);
        let z = Tensor::from_f32(vec![1, 1, 1], vec![0.0]);
        let args = vec![
            x.into(),
            Value::List(vec![z.clone().into(), z.into()]),
            Value::List(vec![w_ih.into(), w_hh.into(), b_ih.into(), b_hh.into()]),
            Value::Bool(true),
            Value::Int(1),
            Value::Float(0.0),
            Value::Bool(false),
            Value::Bool(false),
            Value::Bool(false),
        ];
        let r = lstm(&mut OpCtx::default(), &args).unwrap();
        // reference recurrence
        let (mut h, mut c) = (0f32, 0f32);
        let mut hs = vec![];
        for xt in [0.5f32, -1.0] {
            let i = sigmoid(xt + 0.1 * h + 0.1);
            let f = sigmoid(0.5 * xt + 0.2 * h);
            let g = (-xt + 0.3 * h).tanh();
            let o = sigmoid(2.0 * xt + 0.4 * h - 0.1);
            c = f * c + i * g;
            h = o * c.tanh();
            hs.push(h);
        }
        let out = r[0].as_tensor().unwrap();
        assert_eq!(out.shape(), &[2, 1, 1]);
        for (a, b) in out.to_f32_vec().iter().zip(&hs) {
            assert!((a - b).abs() < 1e-6);
        }
        assert!((r[1].as_tensor().unwrap().to_f32_vec()[0] - h).abs() < 1e-6);
        assert!((r[2].as_tensor().unwrap().to_f32_vec()[0] - c).abs() < 1e-6);
    }
}
