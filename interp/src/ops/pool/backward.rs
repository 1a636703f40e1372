//! Gradients of 2-d pooling (`avg_pool2d_backward`, `_adaptive_avg_pool2d_backward`,
//! `max_pool2d_with_indices_backward`): Core ATen ops a model may call directly. Each
//! scatters `grad_output` back over the forward op's windows, reusing the forward window
//! arithmetic of `pool3d` with a unit depth axis.

use super::pool3d::{adaptive_window, avg_divisor, avg_window, divisor_arg};
use super::window::{pool_axes, Axis};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{barg_or, targ};
use crate::ops::{float_out, tensor_f64, zeros_for, Layout};
use crate::tensor::Tensor;
use crate::value::Value;

/// Check that `grad` has the forward output's shape.
fn check_grad(grad: &Tensor, want: &[usize], op: &str) -> Result<()> {
    if grad.shape() != want {
        return Err(Error::runtime(format!(
            "{op}: grad_output has shape {:?}, the forward output has {want:?}",
            grad.shape()
        )));
    }
    Ok(())
}

/// avg_pool2d_backward(grad_output, self, kernel_size, stride, padding, ceil_mode,
/// count_include_pad, divisor_override)
fn avg_pool2d_backward(args: &[Value]) -> Result<Vec<Value>> {
    let op = "avg_pool2d_backward";
    let g = targ(args, 0)?;
    let x = targ(args, 1)?;
    let l = Layout::of(x.shape(), 2, op)?;
    let ceil_mode = barg_or(args, 5, false)?;
    let count_include_pad = barg_or(args, 6, true)?;
    let divisor = divisor_arg(args, 7)?;
    let axes = pool_axes(
        args,
        [Some(2), Some(3), Some(4), None],
        2,
        l.dims,
        ceil_mode,
    )?;
    let [_, ah, aw] = &axes;
    check_grad(g, &l.shape_with([1, ah.out, aw.out], 2), op)?;
    let gv = g.f64s()?;
    let mut out = zeros_for(x.shape())?;
    let plane_in = ah.input * aw.input;
    let unit = avg_window(&Axis::unit(), 0);
    let mut k = 0;
    for p in 0..l.planes()? {
        let dst = &mut out[p * plane_in..(p + 1) * plane_in];
        for oh in 0..ah.out {
            let wh = avg_window(ah, oh);
            for ow in 0..aw.out {
                let ww = avg_window(aw, ow);
                let div = avg_divisor(&[unit, wh, ww], count_include_pad, divisor);
                let share = if div > 0.0 { gv[k] / div } else { 0.0 };
                k += 1;
                for h in wh.0..wh.1 {
                    for v in &mut dst[h * aw.input + ww.0..h * aw.input + ww.1] {
                        *v += share;
                    }
                }
            }
        }
    }
    Ok(vec![tensor_f64(float_out(g), x.shape().to_vec(), out)])
}

/// _adaptive_avg_pool2d_backward(grad_output, self)
fn adaptive_avg_pool2d_backward(args: &[Value]) -> Result<Vec<Value>> {
    let op = "_adaptive_avg_pool2d_backward";
    let g = targ(args, 0)?;
    let x = targ(args, 1)?;
    let l = Layout::of(x.shape(), 2, op)?;
    let gs = g.shape();
    if gs.len() != x.ndim() || gs[..gs.len() - 2] != x.shape()[..x.ndim() - 2] {
        return Err(Error::runtime(format!(
            "{op}: grad_output {gs:?} does not match input {:?}",
            x.shape()
        )));
    }
    let (oh, ow) = (gs[gs.len() - 2], gs[gs.len() - 1]);
    let [_, ih, iw] = l.dims;
    let mut out = zeros_for(x.shape())?;
    if oh * ow == 0 || ih * iw == 0 {
        return Ok(vec![tensor_f64(float_out(g), x.shape().to_vec(), out)]);
    }
    let gv = g.f64s()?;
    let mut k = 0;
    for p in 0..l.planes()? {
        let dst = &mut out[p * ih * iw..(p + 1) * ih * iw];
        for o_h in 0..oh {
            let (h0, h1) = adaptive_window(ih, oh, o_h);
            for o_w in 0..ow {
                let (w0, w1) = adaptive_window(iw, ow, o_w);
                let share = gv[k] / ((h1 - h0) * (w1 - w0)) as f64;
                k += 1;
                for h in h0..h1 {
                    for v in &mut dst[h * iw + w0..h * iw + w1] {
                        *v += share;
                    }
                }
            }
        }
    }
    Ok(vec![tensor_f64(float_out(g), x.shape().to_vec(), out)])
}

/// max_pool2d_with_indices_backward(grad_output, self, kernel_size, stride, padding,
/// dilation, ceil_mode, indices): each gradient goes to the input position its index names.
fn max_pool2d_backward(args: &[Value]) -> Result<Vec<Value>> {
    let op = "max_pool2d_with_indices_backward";
    let g = targ(args, 0)?;
    let x = targ(args, 1)?;
    let idx = targ(args, 7)?;
    let l = Layout::of(x.shape(), 2, op)?;
    let ceil_mode = barg_or(args, 6, false)?;
    let axes = pool_axes(
        args,
        [Some(2), Some(3), Some(4), Some(5)],
        2,
        l.dims,
        ceil_mode,
    )?;
    let want = l.shape_with([1, axes[1].out, axes[2].out], 2);
    check_grad(g, &want, op)?;
    if idx.shape() != want.as_slice() || idx.dtype().is_float() {
        return Err(Error::runtime(format!(
            "{op}: indices must be an integer tensor of shape {want:?}, got {} {:?}",
            idx.dtype().name(),
            idx.shape()
        )));
    }
    let plane_in = l.dims[1] * l.dims[2];
    let plane_out = axes[1].out * axes[2].out;
    let gv = g.f64s()?;
    let iv = idx.i64s()?;
    let mut out = zeros_for(x.shape())?;
    for p in 0..l.planes()? {
        let dst = &mut out[p * plane_in..(p + 1) * plane_in];
        for k in p * plane_out..(p + 1) * plane_out {
            let i = usize::try_from(iv[k])
                .ok()
                .filter(|&i| i < plane_in)
                .ok_or_else(|| {
                    Error::runtime(format!(
                        "{op}: index {} is outside the {plane_in}-element input plane",
                        iv[k]
                    ))
                })?;
            dst[i] += gv[k];
        }
    }
    Ok(vec![tensor_f64(float_out(g), x.shape().to_vec(), out)])
}

/// Register the pooling backward ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::avg_pool2d_backward.default" => |_: &mut OpCtx, a: Vec<Value>| avg_pool2d_backward(&a),
        "aten::_adaptive_avg_pool2d_backward.default" => |_: &mut OpCtx, a: Vec<Value>| adaptive_avg_pool2d_backward(&a),
        "aten::max_pool2d_with_indices_backward.default" => |_: &mut OpCtx, a: Vec<Value>| max_pool2d_backward(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::il;

    #[test]
    fn gradients_spread_over_windows() {
        let x = Tensor::from_f32(vec![1, 1, 2, 4], vec![0.0; 8]);
        let g = Tensor::from_f32(vec![1, 1, 1, 2], vec![4.0, 8.0]);
        let r = avg_pool2d_backward(&[
            g.clone().into(),
            x.clone().into(),
            il(&[2, 2]),
            il(&[2, 2]),
            il(&[0, 0]),
            Value::Bool(false),
            Value::Bool(true),
            Value::None,
        ])
        .unwrap();
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![1., 1., 2., 2., 1., 1., 2., 2.]
        );
        let r = adaptive_avg_pool2d_backward(&[g.clone().into(), x.clone().into()]).unwrap();
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![1., 1., 2., 2., 1., 1., 2., 2.]
        );
        let idx = Tensor::from_i64(vec![1, 1, 1, 2], vec![5, 3]);
        let mp = |idx: Tensor| {
            max_pool2d_backward(&[
                g.clone().into(),
                x.clone().into(),
                il(&[2, 2]),
                il(&[2, 2]),
                il(&[0, 0]),
                il(&[1, 1]),
                Value::Bool(false),
                idx.into(),
            ])
        };
        let r = mp(idx).unwrap();
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![0., 0., 0., 8., 0., 4., 0., 0.]
        );
        assert!(mp(Tensor::from_i64(vec![1, 1, 1, 2], vec![8, 0])).is_err());
    }
}
