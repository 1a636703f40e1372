//! Recurrent layers as TorchScript emits them: `aten::lstm.input` and `aten::gru.input`
//! (multi-layer, optionally bidirectional and batch-first). torch.export decomposes them into
//! mm/sigmoid/tanh (whose per-step chains the exporter fuses into `wasm_torch::lstm_cell`,
//! `rnn_cell.rs`).
//!
//! Both share one driver: argument checks, the layer × direction loop (each direction's
//! input projection as one GEMM, then one small GEMM per step for the recurrence), and the
//! output layout. The cells differ only in their gates and state.

use wasm_torch_kernels::recurrent;

use super::linalg::mm2d;
use super::{arg, barg_or, iarg, targ, to_usize};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::Tensor;
use crate::value::Value;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The recurrent cell: LSTM (gates i, f, g, o; state h and c) or GRU (gates r, z, n;
/// state h).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cell {
    Lstm,
    Gru,
}

impl Cell {
    fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }

    /// Gate rows per hidden unit in `w_ih` / `w_hh`.
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// The biases as (added to the input projection, added to the recurrent projection).
    /// LSTM sums both into the input projection; GRU keeps `b_hh` on the recurrent side,
    /// since its reset gate scales the recurrent candidate `W_hn h + b_hn`.
    fn biases(self, b_ih: Vec<f32>, b_hh: Vec<f32>) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        match self {
            Cell::Lstm => (
                Some(b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect()),
                None,
            ),
            Cell::Gru => (Some(b_ih), Some(b_hh)),
        }
    }
}

/// One direction of one layer's weights and biases.
struct DirParams<'a> {
    w_ih: &'a Tensor,
    w_hh: &'a Tensor,
    b_ih: Option<Vec<f32>>,
    b_hh: Option<Vec<f32>>,
}

/// One direction of one layer over `x` [T, B, I] from `state` (h, then c for LSTM, each
/// [B * H]); returns (hs [T, B, H], the final state).
fn run_dir(
    ctx: &mut OpCtx,
    cell: Cell,
    x: &Tensor,
    p: &DirParams,
    mut state: Vec<Vec<f32>>,
    reverse: bool,
) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
    let name = cell.name();
    let (t_len, batch, inp) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let (w_ih, w_hh) = (p.w_ih, p.w_hh);
    if w_ih.ndim() != 2 || w_hh.ndim() != 2 {
        return Err(Error::runtime(format!("{name}: weights must be 2-d")));
    }
    let gn = w_ih.shape()[0];
    let h = gn / cell.gates();
    if gn % cell.gates() != 0 || w_ih.shape()[1] != inp || w_hh.shape() != [gn, h] {
        return Err(Error::runtime(format!(
            "{name}: weights {:?} / {:?} do not fit input size {inp}",
            w_ih.shape(),
            w_hh.shape()
        )));
    }
    if state.iter().any(|s| s.len() != batch * h) {
        return Err(Error::runtime(format!(
            "{name}: initial states have the wrong size"
        )));
    }
    let x2 = x.reshape(vec![t_len * batch, inp])?;
    let pre = mm2d(ctx, &x2, &w_ih.transpose(0, 1)?, p.b_ih.as_deref())?;
    let whh_t = w_hh.transpose(0, 1)?;
    let mut hs = vec![0f32; t_len * batch * h];
    for step in 0..t_len {
        let t = if reverse { t_len - 1 - step } else { step };
        let ht = Tensor::from_f32(vec![batch, h], state[0].clone());
        let rec = mm2d(ctx, &ht, &whh_t, p.b_hh.as_deref())?;
        let pre_t = &pre[t * batch * gn..(t + 1) * batch * gn];
        match cell {
            Cell::Lstm => {
                // The element-wise part runs in the vectorised kernel the fused
                // `wasm_torch::lstm_cell` op uses (same gate order, same formulas).
                let mut gates: Vec<f32> = pre_t.iter().zip(&rec).map(|(x, r)| x + r).collect();
                let (mut hy, mut cy) = (vec![0f32; batch * h], vec![0f32; batch * h]);
                recurrent::lstm_cell(&mut gates, &state[1], &mut hy, &mut cy, h);
                state[0] = hy;
                state[1] = cy;
            }
            Cell::Gru => {
                for bi in 0..batch {
                    let xi = |k: usize, j: usize| pre_t[bi * gn + k * h + j];
                    let hh = |k: usize, j: usize| rec[bi * gn + k * h + j];
                    for j in 0..h {
                        let at = bi * h + j;
                        let r = sigmoid(xi(0, j) + hh(0, j));
                        let z = sigmoid(xi(1, j) + hh(1, j));
                        let n = (xi(2, j) + r * hh(2, j)).tanh();
                        state[0][at] = (1.0 - z) * n + z * state[0][at];
                    }
                }
            }
        }
        hs[t * batch * h..(t + 1) * batch * h].copy_from_slice(&state[0]);
    }
    Ok((hs, state))
}

/// `lstm.input` / `gru.input` after their initial states `hx` (h0, then c0 for LSTM):
/// (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first).
/// Returns the output and each final state stacked over layers × directions.
fn rnn(ctx: &mut OpCtx, cell: Cell, args: &[Value], hx: &[Tensor]) -> Result<Vec<Value>> {
    let name = cell.name();
    let mut x = targ(args, 0)?.clone();
    let params = arg(args, 2)?.as_tensors()?;
    let has_b = barg_or(args, 3, true)?;
    let layers = to_usize(iarg(args, 4)?, "num_layers")?;
    let bidir = barg_or(args, 7, false)?;
    let batch_first = barg_or(args, 8, false)?;
    if barg_or(args, 6, false)? {
        return Err(Error::runtime(format!(
            "{name} in training mode is not supported"
        )));
    }
    let dirs = if bidir { 2 } else { 1 };
    let per = if has_b { 4 } else { 2 };
    if params.len() != layers * dirs * per {
        return Err(Error::runtime(format!(
            "{name}: expected {} parameter tensors, got {}",
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
            "{name}: input {:?} must be 2-d or 3-d",
            x.shape()
        )));
    }
    let (t_len, batch) = (x.shape()[0], x.shape()[1]);
    let h = hx[0].shape().last().copied().unwrap_or(0);
    if hx.iter().any(|s| s.numel() != layers * dirs * batch * h) {
        let shapes: Vec<&[usize]> = hx.iter().map(|s| s.shape()).collect();
        return Err(Error::runtime(format!(
            "{name}: initial states {shapes:?} do not fit"
        )));
    }
    let hx = hx
        .iter()
        .map(|s| s.reshape(vec![layers * dirs, batch * h]))
        .collect::<Result<Vec<_>>>()?;
    let mut finals: Vec<Vec<Tensor>> = vec![Vec::new(); hx.len()];
    let mut layer_in = x.contiguous()?;
    for l in 0..layers {
        let mut outs = Vec::new();
        for d in 0..dirs {
            let base = (l * dirs + d) * per;
            let (b_ih, b_hh) = if has_b {
                let (bi, bh) = (params[base + 2].f32s()?, params[base + 3].f32s()?);
                cell.biases(bi.into_owned(), bh.into_owned())
            } else {
                (None, None)
            };
            let p = DirParams {
                w_ih: &params[base],
                w_hh: &params[base + 1],
                b_ih,
                b_hh,
            };
            let idx = (l * dirs + d) as i64;
            let state = hx
                .iter()
                .map(|s| Ok(s.select(0, idx)?.f32s()?.into_owned()))
                .collect::<Result<Vec<_>>>()?;
            let (hs, last) = run_dir(ctx, cell, &layer_in, &p, state, d == 1)?;
            outs.push(Tensor::from_f32(vec![t_len, batch, h], hs));
            for (f, s) in finals.iter_mut().zip(last) {
                f.push(Tensor::from_f32(vec![batch, h], s));
            }
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
        out = out.permute(&[1, 0, 2])?.contiguous()?;
    }
    let mut res = vec![Value::Tensor(out)];
    for f in finals {
        let n = f.len();
        let flat = Tensor::cat(&f, 0)?;
        let shape = if unbatched {
            vec![n, h]
        } else {
            vec![n, batch, h]
        };
        res.push(flat.reshape(shape)?.into());
    }
    Ok(res)
}

/// lstm.input(input, hx = [h0, c0], params, has_biases, num_layers, dropout, train,
/// bidirectional, batch_first) -> (output, h_n, c_n)
fn lstm(ctx: &mut OpCtx, args: &[Value]) -> Result<Vec<Value>> {
    let hx = arg(args, 1)?.as_tensors()?;
    if hx.len() != 2 {
        return Err(Error::runtime(format!(
            "lstm: expected (h0, c0), got {} tensors",
            hx.len()
        )));
    }
    rnn(ctx, Cell::Lstm, args, &hx)
}

/// gru.input(input, hx = h0, params, has_biases, num_layers, dropout, train, bidirectional,
/// batch_first) -> (output, h_n)
fn gru(ctx: &mut OpCtx, args: &[Value]) -> Result<Vec<Value>> {
    let h0 = targ(args, 1)?.clone();
    rnn(ctx, Cell::Gru, args, &[h0])
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

    /// `lstm.input`/`gru.input` arguments for one layer, one direction, with biases.
    fn one_layer_args(x: Tensor, hx: Value, params: [Tensor; 4], batch_first: bool) -> Vec<Value> {
        vec![
            x.into(),
            hx,
            Value::List(params.into_iter().map(Value::from).collect()),
            Value::Bool(true),
            Value::Int(1),
            Value::Float(0.0),
            Value::Bool(false),
            Value::Bool(false),
            Value::Bool(batch_first),
        ]
    }

    #[test]
    fn gru_matches_hand_recurrence() {
        let w_ih = Tensor::from_f32(vec![3, 1], vec![1.0, -0.5, 2.0]);
        let w_hh = Tensor::from_f32(vec![3, 1], vec![0.3, 0.2, -0.4]);
        let b_ih = Tensor::from_f32(vec![3], vec![0.1, 0.0, -0.1]);
        let b_hh = Tensor::from_f32(vec![3], vec![0.0, 0.2, 0.3]);
        let x = Tensor::from_f32(vec![1, 2, 1], vec![0.5, -1.0]);
        let h0 = Tensor::from_f32(vec![1, 1, 1], vec![0.25]);
        let args = one_layer_args(x, h0.into(), [w_ih, w_hh, b_ih, b_hh], true);
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
        let hx = Value::List(vec![z.clone().into(), z.into()]);
        let args = one_layer_args(x, hx, [w_ih, w_hh, b_ih, b_hh], false);
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
