//! 3-d pooling (`avg_pool3d`, `max_pool3d_with_indices`, `_adaptive_avg_pool3d`) over
//! `(N, C, D, H, W)` or `(C, D, H, W)` inputs. The window arithmetic is PyTorch's CPU
//! kernels' (also used by the 2-d pooling backward ops in `backward`, which run
//! these loops with a unit depth axis).

use super::window::{pool_axes, Axis};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{barg_or, ints, opt, targ};
use crate::ops::{float_out, tensor_f64, usize_of, zeros_for, Layout};
use crate::storage::try_alloc;
use crate::tensor::Tensor;
use crate::value::Value;

/// The clipped input range of an average-pooling window and the window's size counted
/// with padding: `(start, end, size_with_padding)`.
pub(crate) fn avg_window(a: &Axis, o: usize) -> (usize, usize, usize) {
    let start = a.start(o);
    let end = (start + a.kernel as i64).min(a.input as i64 + a.pad as i64);
    let padded = (end - start).max(0) as usize;
    let s = start.max(0) as usize;
    let e = (end.min(a.input as i64)).max(0) as usize;
    (s, e.max(s), padded)
}

/// The divisor of one average-pooling window (PyTorch: the override, else the window size
/// with or without the padding). In f64: padded sizes of hostile kernels overflow usize.
pub(crate) fn avg_divisor(
    win: &[(usize, usize, usize); 3],
    count_include_pad: bool,
    divisor: Option<usize>,
) -> f64 {
    match divisor {
        Some(d) => d as f64,
        None if count_include_pad => win.iter().map(|w| w.2 as f64).product(),
        None => win.iter().map(|w| (w.1 - w.0) as f64).product(),
    }
}

/// Parse `divisor_override` (must be positive when given).
pub(crate) fn divisor_arg(args: &[Value], i: usize) -> Result<Option<usize>> {
    match opt(args, i).as_opt_int()? {
        Some(d) if d <= 0 => Err(Error::runtime("divisor_override must be positive")),
        Some(d) => Ok(Some(usize_of(d, "divisor_override")?)),
        None => Ok(None),
    }
}

/// Average pooling over three axes; `x` holds `planes` contiguous input planes.
pub(crate) fn avg_pool(
    x: &[f64],
    planes: usize,
    axes: &[Axis; 3],
    count_include_pad: bool,
    divisor: Option<usize>,
) -> Result<Vec<f64>> {
    let [ad, ah, aw] = axes;
    let mut out = zeros_for(&[planes, ad.out, ah.out, aw.out])?;
    let plane_in = ad.input * ah.input * aw.input;
    let mut k = 0;
    for p in 0..planes {
        let src = &x[p * plane_in..(p + 1) * plane_in];
        for od in 0..ad.out {
            let wd = avg_window(ad, od);
            for oh in 0..ah.out {
                let wh = avg_window(ah, oh);
                for ow in 0..aw.out {
                    let ww = avg_window(aw, ow);
                    let win = [wd, wh, ww];
                    if wd.0 < wd.1 && wh.0 < wh.1 && ww.0 < ww.1 {
                        let mut sum = 0.0;
                        for d in wd.0..wd.1 {
                            for h in wh.0..wh.1 {
                                let row = (d * ah.input + h) * aw.input;
                                sum += src[row + ww.0..row + ww.1].iter().sum::<f64>();
                            }
                        }
                        out[k] = sum / avg_divisor(&win, count_include_pad, divisor);
                    }
                    k += 1;
                }
            }
        }
    }
    Ok(out)
}

/// The valid input positions of a (dilated) max-pooling window.
fn max_positions(a: &Axis, o: usize) -> impl Iterator<Item = usize> {
    let start = a.start(o);
    let end = start + (a.kernel as i64 - 1) * a.dilation as i64 + 1;
    let end = end.min(a.input as i64);
    let mut s = start;
    if s < 0 {
        // first in-range position on the dilation grid
        let d = a.dilation as i64;
        s += (-s + d - 1) / d * d;
    }
    let step = a.dilation;
    let (s, e) = (s.max(0) as usize, end.max(0) as usize);
    (s..e.max(s)).step_by(step.max(1))
}

/// Max pooling over three axes: values and flat in-plane indices. Like PyTorch's CPU
/// kernel: a NaN wins (the last one seen), and a window of only -inf reports its first
/// position.
pub(crate) fn max_pool(x: &[f64], planes: usize, axes: &[Axis; 3]) -> Result<(Vec<f64>, Vec<i64>)> {
    let [ad, ah, aw] = axes;
    let shape = [planes, ad.out, ah.out, aw.out];
    let mut out = zeros_for(&shape)?;
    let mut idx = try_alloc::<i64>(out.len())?;
    let plane_in = ad.input * ah.input * aw.input;
    let mut k = 0;
    for p in 0..planes {
        let src = &x[p * plane_in..(p + 1) * plane_in];
        for od in 0..ad.out {
            for oh in 0..ah.out {
                for ow in 0..aw.out {
                    let first = |a: &Axis, o| max_positions(a, o).next().unwrap_or(0);
                    let mut best = f64::NEG_INFINITY;
                    let mut best_i =
                        (first(ad, od) * ah.input + first(ah, oh)) * aw.input + first(aw, ow);
                    for d in max_positions(ad, od) {
                        for h in max_positions(ah, oh) {
                            for w in max_positions(aw, ow) {
                                let i = (d * ah.input + h) * aw.input + w;
                                let v = src[i];
                                if v > best || v.is_nan() {
                                    best = v;
                                    best_i = i;
                                }
                            }
                        }
                    }
                    out[k] = best;
                    idx[k] = best_i as i64;
                    k += 1;
                }
            }
        }
    }
    Ok((out, idx))
}

/// Adaptive window along one axis: `[floor(o*in/out), ceil((o+1)*in/out))`.
/// (u64 arithmetic: `o * input` may not fit a 32-bit usize.)
pub(crate) fn adaptive_window(input: usize, out: usize, o: usize) -> (usize, usize) {
    let (i, n, o) = (input as u64, out as u64, o as u64);
    ((o * i / n) as usize, ((o + 1) * i).div_ceil(n) as usize)
}

fn avg_pool3d(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let l = Layout::of(x.shape(), 3, "avg_pool3d")?;
    let ceil_mode = barg_or(args, 4, false)?;
    let count_include_pad = barg_or(args, 5, true)?;
    let divisor = divisor_arg(args, 6)?;
    let axes = pool_axes(
        args,
        [Some(1), Some(2), Some(3), None],
        3,
        l.dims,
        ceil_mode,
    )?;
    let out = avg_pool(&x.f64s()?, l.planes()?, &axes, count_include_pad, divisor)?;
    let shape = l.shape_with([axes[0].out, axes[1].out, axes[2].out], 3);
    Ok(vec![tensor_f64(float_out(x), shape, out)])
}

fn max_pool3d(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let l = Layout::of(x.shape(), 3, "max_pool3d_with_indices")?;
    let ceil_mode = barg_or(args, 5, false)?;
    let axes = pool_axes(
        args,
        [Some(1), Some(2), Some(3), Some(4)],
        3,
        l.dims,
        ceil_mode,
    )?;
    let (out, idx) = max_pool(&x.f64s()?, l.planes()?, &axes)?;
    let shape = l.shape_with([axes[0].out, axes[1].out, axes[2].out], 3);
    Ok(vec![
        tensor_f64(float_out(x), shape.clone(), out),
        Value::Tensor(Tensor::from_i64(shape, idx)),
    ])
}

fn adaptive_avg_pool3d(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let l = Layout::of(x.shape(), 3, "_adaptive_avg_pool3d")?;
    let os = ints(args, 1)?;
    let os: Vec<usize> = match os.len() {
        1 => vec![usize_of(os[0], "output_size")?; 3],
        3 => os
            .iter()
            .map(|&v| usize_of(v, "output_size"))
            .collect::<Result<_>>()?,
        _ => {
            return Err(Error::runtime(format!(
                "_adaptive_avg_pool3d: output_size must have 3 values, got {os:?}"
            )))
        }
    };
    if os.contains(&0) {
        return Err(Error::runtime(
            "_adaptive_avg_pool3d: output_size must be positive",
        ));
    }
    let shape = l.shape_with([os[0], os[1], os[2]], 3);
    let mut out = zeros_for(&shape)?;
    let [id, ih, iw] = l.dims;
    if id * ih * iw == 0 && !out.is_empty() {
        return Err(Error::runtime(format!(
            "_adaptive_avg_pool3d: empty spatial input {:?}",
            x.shape()
        )));
    }
    let xv = x.f64s()?;
    let plane_in = id * ih * iw;
    let mut k = 0;
    for p in 0..l.planes()? {
        let src = &xv[p * plane_in..(p + 1) * plane_in];
        for od in 0..os[0] {
            let (d0, d1) = adaptive_window(id, os[0], od);
            for oh in 0..os[1] {
                let (h0, h1) = adaptive_window(ih, os[1], oh);
                for ow in 0..os[2] {
                    let (w0, w1) = adaptive_window(iw, os[2], ow);
                    let mut sum = 0.0;
                    for d in d0..d1 {
                        for h in h0..h1 {
                            let row = (d * ih + h) * iw;
                            sum += src[row + w0..row + w1].iter().sum::<f64>();
                        }
                    }
                    out[k] = sum / ((d1 - d0) * (h1 - h0) * (w1 - w0)) as f64;
                    k += 1;
                }
            }
        }
    }
    Ok(vec![tensor_f64(float_out(x), shape, out)])
}

/// Register the 3-d pooling ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::avg_pool3d.default" => |_: &mut OpCtx, a: Vec<Value>| avg_pool3d(&a),
        "aten::max_pool3d_with_indices.default" => |_: &mut OpCtx, a: Vec<Value>| max_pool3d(&a),
        "aten::_adaptive_avg_pool3d.default" => |_: &mut OpCtx, a: Vec<Value>| adaptive_avg_pool3d(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::il;

    #[test]
    fn max_and_avg_on_a_cube() {
        let x = Tensor::from_f32(vec![1, 1, 2, 2, 2], (0..8).map(|v| v as f32).collect());
        let r = max_pool3d(&[x.clone().into(), il(&[2, 2, 2])]).unwrap();
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![7.0]);
        assert_eq!(r[1].as_tensor().unwrap().to_i64_vec(), vec![7]);
        let r = avg_pool3d(&[x.clone().into(), il(&[2])]).unwrap();
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![3.5]);
        // padding 1, count_include_pad false: every window sees one element
        let r = avg_pool3d(&[
            x.clone().into(),
            il(&[2]),
            il(&[2]),
            il(&[1]),
            Value::Bool(false),
            Value::Bool(false),
        ])
        .unwrap();
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            (0..8).map(|v| v as f32).collect::<Vec<_>>()
        );
        let r = adaptive_avg_pool3d(&[x.into(), il(&[1, 1, 2])]).unwrap();
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![3.0, 4.0]);
    }

    #[test]
    fn nan_wins_max() {
        let x = Tensor::from_f32(vec![1, 1, 1, 3], vec![1.0, f32::NAN, 2.0]);
        let r = max_pool3d(&[
            x.reshape(vec![1, 1, 1, 1, 3]).unwrap().into(),
            il(&[1, 1, 3]),
        ])
        .unwrap();
        assert!(r[0].as_tensor().unwrap().to_f32_vec()[0].is_nan());
        assert_eq!(r[1].as_tensor().unwrap().to_i64_vec(), vec![1]);
    }
}
