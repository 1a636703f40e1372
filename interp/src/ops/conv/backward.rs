//! `convolution_backward`: gradients of a 1/2/3-d (optionally transposed, grouped, strided,
//! padded, dilated) convolution with respect to its input, weight and bias, for the outputs
//! `output_mask` selects (the others are `None`).
//!
//! Plain loops in f64 over every (input position, kernel tap, output position) pair the
//! forward convolution connects: not a hot path (a model calls it directly at most), and
//! one loop serves every dimensionality and both the plain and the transposed case.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{barg_or, iarg, targ};
use crate::ops::{float_out, masked_grad, output_mask, per_dim, zeros_for};
use crate::tensor::Tensor;
use crate::value::Value;

/// Convolution geometry, spatial dims left-padded with unit dims to three.
struct Geometry {
    n: usize,
    groups: usize,
    /// Input channels per group.
    cin_g: usize,
    /// Output channels per group.
    cout_g: usize,
    input: [usize; 3],
    output: [usize; 3],
    kernel: [usize; 3],
    stride: [i64; 3],
    padding: [i64; 3],
    dilation: [i64; 3],
    transposed: bool,
}

/// A spatial parameter list; every entry must lie in `[min, i32::MAX]`.
fn param(
    args: &[Value],
    i: usize,
    spatial: usize,
    fill: i64,
    min: i64,
    what: &str,
) -> Result<[i64; 3]> {
    let v = per_dim(args, i, spatial, fill, fill, what)?;
    if v.iter().any(|&x| x < min || x > i64::from(i32::MAX)) {
        return Err(Error::runtime(format!(
            "convolution_backward: {what} {:?} must be at least {min}",
            &v[3 - spatial..]
        )));
    }
    Ok(v)
}

fn geometry(args: &[Value], x: &Tensor, w: &Tensor, gy: &Tensor) -> Result<Geometry> {
    let op = "convolution_backward";
    let spatial = w.ndim().wrapping_sub(2);
    if !(1..=3).contains(&spatial) || x.ndim() != w.ndim() || gy.ndim() != w.ndim() {
        return Err(Error::runtime(format!(
            "{op}: expected batched 3-d, 4-d or 5-d grad_output/input/weight, got {:?}, \
             {:?}, {:?}",
            gy.shape(),
            x.shape(),
            w.shape()
        )));
    }
    let stride = param(args, 4, spatial, 1, 1, "stride")?;
    let padding = param(args, 5, spatial, 0, 0, "padding")?;
    let dilation = param(args, 6, spatial, 1, 1, "dilation")?;
    let transposed = barg_or(args, 7, false)?;
    let output_padding = param(args, 8, spatial, 0, 0, "output_padding")?;
    let groups = iarg(args, 9)?;
    if groups <= 0 {
        return Err(Error::runtime(format!(
            "{op}: groups must be positive, got {groups}"
        )));
    }
    let groups = groups as usize;
    let (n, cin) = (x.shape()[0], x.shape()[1]);
    let (w0, w1) = (w.shape()[0], w.shape()[1]);
    // plain: weight (C_out, C_in/g, k); transposed: weight (C_in, C_out/g, k)
    let (cin_g, cout_g, ok) = if transposed {
        (w0 / groups, w1, w0 % groups == 0 && cin == w0)
    } else {
        (w1, w0 / groups, w0 % groups == 0 && cin == w1 * groups)
    };
    if !ok {
        return Err(Error::runtime(format!(
            "{op}: input {:?} and weight {:?} do not fit groups={groups} (transposed={transposed})",
            x.shape(),
            w.shape()
        )));
    }
    let mut input = [1; 3];
    let mut kernel = [1; 3];
    input[3 - spatial..].copy_from_slice(&x.shape()[2..]);
    kernel[3 - spatial..].copy_from_slice(&w.shape()[2..]);
    let mut output = [1usize; 3];
    for d in 3 - spatial..3 {
        let (i, k) = (input[d] as i128, kernel[d] as i128);
        let (s, p, dl, op_) = (
            stride[d] as i128,
            padding[d] as i128,
            dilation[d] as i128,
            output_padding[d] as i128,
        );
        let o = if transposed {
            if op_ >= s.max(dl) {
                return Err(Error::runtime(format!(
                    "{op}: output_padding must be smaller than stride or dilation"
                )));
            }
            (i - 1) * s - 2 * p + dl * (k - 1) + op_ + 1
        } else {
            (i + 2 * p - dl * (k - 1) - 1).div_euclid(s) + 1
        };
        if o < 0 || k == 0 {
            return Err(Error::runtime(format!(
                "{op}: input {:?} is too small for weight {:?}",
                x.shape(),
                w.shape()
            )));
        }
        output[d] = usize::try_from(o).map_err(|_| Error::oom("convolution output too large"))?;
    }
    let mut want = vec![n, cout_g * groups];
    want.extend_from_slice(&output[3 - spatial..]);
    if gy.shape() != want.as_slice() {
        return Err(Error::runtime(format!(
            "{op}: grad_output has shape {:?}, the convolution's output has {want:?}",
            gy.shape()
        )));
    }
    Ok(Geometry {
        n,
        groups,
        cin_g,
        cout_g,
        input,
        output,
        kernel,
        stride,
        padding,
        dilation,
        transposed,
    })
}

/// Visit every (input index, output index, weight index) triple the convolution connects,
/// as flat indices into the contiguous input, output and weight tensors.
fn connections(g: &Geometry, mut visit: impl FnMut(usize, usize, usize)) {
    // the "from" side iterates all its positions; the "to" side is computed
    let (from, to) = if g.transposed {
        (g.input, g.output)
    } else {
        (g.output, g.input)
    };
    let from_len: usize = from.iter().product();
    let to_len: usize = to.iter().product();
    let (in_len, out_len) = if g.transposed {
        (from_len, to_len)
    } else {
        (to_len, from_len)
    };
    let klen: usize = g.kernel.iter().product();
    let cin = g.cin_g * g.groups;
    let cout = g.cout_g * g.groups;
    for b in 0..g.n {
        for grp in 0..g.groups {
            for icl in 0..g.cin_g {
                let ic = grp * g.cin_g + icl;
                for ocl in 0..g.cout_g {
                    let oc = grp * g.cout_g + ocl;
                    let wbase = if g.transposed {
                        (ic * g.cout_g + ocl) * klen
                    } else {
                        (oc * g.cin_g + icl) * klen
                    };
                    let xbase = (b * cin + ic) * in_len;
                    let ybase = (b * cout + oc) * out_len;
                    for f in 0..from_len {
                        let fp = [f / (from[1] * from[2]), f / from[2] % from[1], f % from[2]];
                        for k in 0..klen {
                            let kp = [
                                k / (g.kernel[1] * g.kernel[2]),
                                k / g.kernel[2] % g.kernel[1],
                                k % g.kernel[2],
                            ];
                            let mut t = 0usize;
                            let mut inside = true;
                            for d in 0..3 {
                                let pos = fp[d] as i64 * g.stride[d] - g.padding[d]
                                    + kp[d] as i64 * g.dilation[d];
                                if pos < 0 || pos >= to[d] as i64 {
                                    inside = false;
                                    break;
                                }
                                t = t * to[d] + pos as usize;
                            }
                            if inside {
                                let (xi, yi) = if g.transposed { (f, t) } else { (t, f) };
                                visit(xbase + xi, ybase + yi, wbase + k);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// convolution_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation,
/// transposed, output_padding, groups, output_mask) -> (grad_input, grad_weight, grad_bias)
fn convolution_backward(args: &[Value]) -> Result<Vec<Value>> {
    let gy = targ(args, 0)?;
    let x = targ(args, 1)?;
    let w = targ(args, 2)?;
    let mask = output_mask(args, 10)?;
    let g = geometry(args, x, w, gy)?;
    let (gv, xv, wv) = (gy.f64s()?, x.f64s()?, w.f64s()?);
    let mut gx = zeros_for(if mask[0] { x.shape() } else { &[0] })?;
    let mut gw = zeros_for(if mask[1] { w.shape() } else { &[0] })?;
    // every connection pairs an element of each of the three tensors; an empty one (which
    // may still have huge other dims) has none, so its loops are skipped
    let empty = gy.numel() == 0 || x.numel() == 0 || w.numel() == 0;
    if (mask[0] || mask[1]) && !empty {
        connections(&g, |xi, yi, wi| {
            let d = gv[yi];
            if mask[0] {
                gx[xi] += d * wv[wi];
            }
            if mask[1] {
                gw[wi] += d * xv[xi];
            }
        });
    }
    let cout = g.cout_g * g.groups;
    let mut gb = zeros_for(&[if mask[2] { cout } else { 0 }])?;
    if mask[2] {
        let per: usize = g.output.iter().product();
        for (k, &d) in gv.iter().enumerate() {
            gb[k / per.max(1) % cout.max(1)] += d;
        }
    }
    let dt = float_out(gy);
    Ok(vec![
        masked_grad(mask[0], dt, x.shape(), gx),
        masked_grad(mask[1], dt, w.shape(), gw),
        masked_grad(mask[2], dt, &[cout], gb),
    ])
}

/// Register `convolution_backward`.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::convolution_backward.default" => |_: &mut OpCtx, a: Vec<Value>| convolution_backward(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::il;

    /// 1-d, one channel: y[o] = Σ_k w[k] x[o + k]; gradients by hand.
    #[test]
    fn one_dim_by_hand() {
        let gy = Tensor::from_f32(vec![1, 1, 2], vec![1., 10.]);
        let x = Tensor::from_f32(vec![1, 1, 3], vec![1., 2., 3.]);
        let w = Tensor::from_f32(vec![1, 1, 2], vec![5., 7.]);
        let r = convolution_backward(&[
            gy.into(),
            x.into(),
            w.into(),
            il(&[1]),
            il(&[1]),
            il(&[0]),
            il(&[1]),
            Value::Bool(false),
            il(&[0]),
            Value::Int(1),
            Value::List(vec![Value::Bool(true); 3]),
        ])
        .unwrap();
        // gx = [1*5, 1*7 + 10*5, 10*7]; gw = [1*1 + 10*2, 1*2 + 10*3]; gb = 11
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![5., 57., 70.]);
        assert_eq!(r[1].as_tensor().unwrap().to_f32_vec(), vec![21., 32.]);
        assert_eq!(r[2].as_tensor().unwrap().to_f32_vec(), vec![11.]);
    }
}
