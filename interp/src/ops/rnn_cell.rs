//! `wasm_torch::lstm_cell`: one LSTM time step's element-wise part as a single op.
//!
//! torch.export decomposes `nn.LSTM` into, per step, a projection of the hidden state and
//! a dozen element-wise ops (split into four gates, three sigmoids, two tanh, three products,
//! a sum). The exporter's `fuse_lstm_cells` pass (py-export `_passes.py`) replaces that chain
//! with this op, whose PyTorch definition (`wasm_torch._fused`) is the same decomposition,
//! so the file is still checked against PyTorch and `wasm_torch diff` can evaluate it. Here
//! it runs as one pass over the gates (`kernels::recurrent::lstm_cell`) instead of ~10
//! dispatches and allocations per step.

use wasm_torch_kernels::recurrent;

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

use super::elementwise::{binary, Bin};
use super::registry::OpList;
use super::{arg, broadcast_shapes, take_t, targ, OpCtx};

/// `wasm_torch::lstm_cell(input_gates, hidden_gates, cx) -> (hy, cy)`:
/// `gates = input_gates + hidden_gates` (broadcasting), split along the last dim into
/// (i, f, g, o); `cy = sigmoid(f) * cx + sigmoid(i) * tanh(g)`, `hy = sigmoid(o) * tanh(cy)`.
/// `cx` must have the gates' shape with the last dim divided by four.
fn lstm_cell(mut args: Vec<Value>) -> Result<Vec<Value>> {
    const NAME: &str = "wasm_torch::lstm_cell";
    if args.len() != 3 {
        return Err(Error::runtime(format!(
            "{NAME} takes 3 arguments (input_gates, hidden_gates, cx), got {}",
            args.len()
        )));
    }
    for i in 0..3 {
        let t = targ(&args, i)?;
        if t.dtype() != DType::F32 {
            return Err(Error::runtime(format!(
                "{NAME}: argument {i} is {}, only f32 is supported",
                t.dtype().name()
            )));
        }
    }
    let shape = broadcast_shapes(targ(&args, 0)?.shape(), targ(&args, 1)?.shape())?;
    let width = shape.last().copied().unwrap_or(0);
    if width == 0 || width % 4 != 0 {
        return Err(Error::runtime(format!(
            "{NAME}: the gates' last dim must be a positive multiple of 4, gates are {shape:?}"
        )));
    }
    let hidden = width / 4;
    let mut state_shape = shape.clone();
    *state_shape.last_mut().expect("checked non-empty above") = hidden;
    let cx = targ(&args, 2)?.clone();
    if cx.shape() != state_shape.as_slice() {
        return Err(Error::runtime(format!(
            "{NAME}: cx is {:?}, the gates {shape:?} need {state_shape:?}",
            cx.shape()
        )));
    }
    let a = take_t(&mut args, 0)?;
    let gates = binary(Value::Tensor(a), arg(&args, 1)?, Bin::Add, None)?;
    let mut gates = gates.into_f32_vec()?;
    let cx = cx.f32s()?;
    let (mut hy, mut cy) = (vec![0f32; cx.len()], vec![0f32; cx.len()]);
    recurrent::lstm_cell(&mut gates, &cx, &mut hy, &mut cy, hidden);
    Ok(vec![
        Value::Tensor(Tensor::from_f32(state_shape.clone(), hy)),
        Value::Tensor(Tensor::from_f32(state_shape, cy)),
    ])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "wasm_torch::lstm_cell.default" => |_: &mut OpCtx, a: Vec<Value>| lstm_cell(a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    fn t(shape: Vec<usize>, f: impl Fn(usize) -> f32) -> Value {
        let n = shape.iter().product();
        Value::Tensor(Tensor::from_f32(shape, (0..n).map(f).collect()))
    }

    /// Broadcast gate inputs (a [1, 8] row against [2, 8]) and a batch of two: each output
    /// against the formulas in f64.
    #[test]
    fn matches_the_decomposition() {
        let ig = t(vec![2, 8], |i| i as f32 * 0.3 - 1.2);
        let hg = t(vec![1, 8], |i| 0.5 - i as f32 * 0.2);
        let cx = t(vec![2, 2], |i| i as f32 * 0.7 - 0.4);
        let out = lstm_cell(vec![ig.clone(), hg.clone(), cx.clone()]).unwrap();
        let (hy, cy) = (out[0].as_tensor().unwrap(), out[1].as_tensor().unwrap());
        assert_eq!(hy.shape(), [2, 2]);
        let (hy, cy) = (hy.to_f32_vec(), cy.to_f32_vec());
        let (ig, hg, cx) = (
            ig.as_tensor().unwrap().to_f32_vec(),
            hg.as_tensor().unwrap().to_f32_vec(),
            cx.as_tensor().unwrap().to_f32_vec(),
        );
        for r in 0..2 {
            for j in 0..2 {
                let g = |k: usize| (ig[r * 8 + k * 2 + j] + hg[k * 2 + j]) as f64;
                let c = sigmoid(g(1)) * cx[r * 2 + j] as f64 + sigmoid(g(0)) * g(2).tanh();
                let h = sigmoid(g(3)) * c.tanh();
                assert!((cy[r * 2 + j] as f64 - c).abs() < 1e-6);
                assert!((hy[r * 2 + j] as f64 - h).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn refuses_bad_shapes_and_dtypes() {
        let g = t(vec![1, 8], |_| 0.0);
        let bad_cx = t(vec![1, 3], |_| 0.0);
        let e = lstm_cell(vec![g.clone(), g.clone(), bad_cx]).unwrap_err();
        assert!(e.to_string().contains("cx is [1, 3]"), "{e}");
        let odd = t(vec![1, 6], |_| 0.0);
        let e = lstm_cell(vec![odd.clone(), odd, t(vec![1, 1], |_| 0.0)]).unwrap_err();
        assert!(e.to_string().contains("multiple of 4"), "{e}");
        let ints = Value::Tensor(Tensor::from_i64(vec![1, 8], vec![0; 8]));
        let e = lstm_cell(vec![ints, g.clone(), t(vec![1, 2], |_| 0.0)]).unwrap_err();
        assert!(e.to_string().contains("only f32"), "{e}");
        let e = lstm_cell(vec![g]).unwrap_err();
        assert!(e.to_string().contains("takes 3 arguments"), "{e}");
    }
}
