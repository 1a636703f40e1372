//! Forward convolution, 1-d and 2-d (batched or not, grouped, dilated), on the kernels'
//! im2col + GEMM path, with weights pre-packed once per session when they are program
//! weights; an ungrouped convolution over a resident int8 weight runs the int8
//! convolution (per-pixel dynamic activation quantization, `kernels::quant`). Arguments are validated here so the kernels' preconditions always hold.
//! Transposed and 3-d convolution go to `general`.

use std::sync::Arc;

use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::conv::{conv2d, conv2d_packed, Conv2dParams, PackedConvWeight};
use wasm_torch_kernels::quant::qconv2d_i8;

use super::general::{conv_general, Layout};
use crate::error::{Error, Result};
use crate::ops::float_out;
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{barg_or, iarg, one, opt, pair, targ, to_usize};
use crate::storage::try_alloc;
use crate::tensor::Tensor;
use crate::value::Value;

/// conv (1-d or 2-d, batched or not): args input, weight, bias, stride, padding, dilation,
/// then `groups` at `groups_at`. Transposed and 3-d convolutions are `general`'s.
fn conv(ctx: &mut OpCtx, args: &[Value], groups_at: usize) -> Result<Tensor> {
    let x = targ(args, 0)?;
    let w = targ(args, 1)?;
    let bias = opt(args, 2).as_opt_tensor()?;
    let spatial = w
        .ndim()
        .checked_sub(2)
        .filter(|s| *s == 1 || *s == 2)
        .ok_or_else(|| {
            Error::runtime(format!(
                "convolution weight {:?}: only 1-d and 2-d are supported",
                w.shape()
            ))
        })?;
    let batched = x.ndim() == spatial + 2;
    if !batched && x.ndim() != spatial + 1 {
        return Err(Error::runtime(format!(
            "convolution input {:?} for weight {:?}",
            x.shape(),
            w.shape()
        )));
    }
    let groups = to_usize(iarg(args, groups_at)?, "groups")?;
    let stride = pair(args, 3, spatial, 1)?;
    let dilation = pair(args, 5, spatial, 1)?;
    let xs: Vec<usize> = if batched {
        x.shape().to_vec()
    } else {
        [&[1], x.shape()].concat()
    };
    let (n, c) = (xs[0], xs[1]);
    let (ih, iw) = if spatial == 2 {
        (xs[2], xs[3])
    } else {
        (1, xs[2])
    };
    let (kh, kw) = if spatial == 2 {
        (w.shape()[2], w.shape()[3])
    } else {
        (1, w.shape()[2])
    };
    let padding: Vec<usize> = match opt(args, 4) {
        Value::Str(s) if s == "valid" => vec![0; spatial],
        Value::Str(s) if s == "same" => {
            let ks = if spatial == 2 { vec![kh, kw] } else { vec![kw] };
            let mut p = Vec::new();
            for (i, k) in ks.iter().enumerate() {
                let total = dilation[i] * (k - 1);
                if total % 2 != 0 || stride[i] != 1 {
                    return Err(Error::runtime(
                        "padding='same' with asymmetric padding is not supported",
                    ));
                }
                p.push(total / 2);
            }
            p
        }
        _ => pair(args, 4, spatial, 0)?,
    };
    let o = w.shape()[0];
    if groups == 0 || c != w.shape()[1] * groups {
        return Err(Error::runtime(format!(
            "convolution: input has {c} channels, weight {:?} with groups={groups} expects {}",
            w.shape(),
            w.shape()[1] * groups
        )));
    }
    let two = |v: &[usize]| {
        if spatial == 2 {
            (v[0], v[1])
        } else {
            (1, v[0])
        }
    };
    let p = Conv2dParams {
        batch: n,
        in_channels: c,
        in_h: ih,
        in_w: iw,
        out_channels: o,
        kernel_h: kh,
        kernel_w: kw,
        stride: two(&stride),
        padding: if spatial == 2 {
            (padding[0], padding[1])
        } else {
            (0, padding[0])
        },
        dilation: two(&dilation),
        groups,
    };
    p.validate().map_err(Error::runtime)?;
    let bv = match bias {
        Some(b) if b.numel() == o => Some(b.f32s()?),
        Some(b) => {
            return Err(Error::runtime(format!(
                "convolution bias {:?} for {o} channels",
                b.shape()
            )))
        }
        None => None,
    };
    let (oh, ow) = (p.out_h(), p.out_w());
    let mut out = try_alloc::<f32>(n * o * oh * ow)?;
    let xin = x.f32s()?;
    if let Some(qw) = crate::quant_weights::conv_weight(w).filter(|_| groups == 1) {
        qconv2d_i8(&p, &xin, qw, bv.as_deref(), Activation::None, &mut out);
        return Ok(Tensor::from_f32_as(
            float_out(x),
            out_shape(n, o, oh, ow, spatial, batched),
            out,
        ));
    }
    match packed_conv_weight(ctx, w, &p)? {
        Some(pw) => conv2d_packed(&p, &xin, &pw, bv.as_deref(), Activation::None, &mut out),
        None => conv2d(
            &p,
            &xin,
            &w.f32s()?,
            bv.as_deref(),
            Activation::None,
            &mut out,
        ),
    }
    Ok(Tensor::from_f32_as(
        float_out(x),
        out_shape(n, o, oh, ow, spatial, batched),
        out,
    ))
}

/// The output shape `N × O × (OH ×) OW`, without `N` for an unbatched input.
fn out_shape(
    n: usize,
    o: usize,
    oh: usize,
    ow: usize,
    spatial: usize,
    batched: bool,
) -> Vec<usize> {
    let mut shape = vec![n, o];
    if spatial == 2 {
        shape.extend([oh, ow]);
    } else {
        shape.push(ow);
    }
    if !batched {
        shape.remove(0);
    }
    shape
}

/// The packed copy of program weight `w` for convolution `p`, if the session keeps one
/// (see `prepack::conv_weight`).
fn packed_conv_weight(
    ctx: &mut OpCtx,
    w: &Tensor,
    p: &Conv2dParams,
) -> Result<Option<Arc<PackedConvWeight>>> {
    crate::prepack::conv_weight(ctx, w, p)
}

/// `convolution`'s argument positions (also `_convolution`'s leading ones).
const CONVOLUTION: Layout = Layout {
    stride: 3,
    padding: 4,
    dilation: 5,
    output_padding: Some(7),
    groups: 8,
};
/// `conv3d`'s argument positions.
const CONV3D: Layout = Layout {
    stride: 3,
    padding: 4,
    dilation: 5,
    output_padding: None,
    groups: 6,
};
/// `conv_transpose{1,2,3}d.input`'s argument positions.
const CONV_TRANSPOSE: Layout = Layout {
    stride: 3,
    padding: 4,
    dilation: 7,
    output_padding: Some(5),
    groups: 6,
};

/// `convolution`: 1-d/2-d forward on the im2col path, transposed and 3-d in `general`.
fn convolution(ctx: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let transposed = barg_or(&args, 6, false)?;
    if transposed || targ(&args, 1)?.ndim() == 5 {
        return one(conv_general(&args, &CONVOLUTION, transposed)?);
    }
    one(conv(ctx, &args, 8)?)
}

/// `_convolution_mode` (TorchScript's string-padding convolution): conv1d/2d/3d.padding.
fn convolution_mode(ctx: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    if targ(&args, 1)?.ndim() == 5 {
        return one(conv_general(&args, &CONV3D, false)?);
    }
    one(conv(ctx, &args, 6)?)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::convolution.default" => convolution,
        "aten::_convolution.default" => convolution,
        "aten::conv2d.default" => |c: &mut OpCtx, a: Vec<Value>| one(conv(c, &a, 6)?),
        "aten::conv2d.padding" => |c: &mut OpCtx, a: Vec<Value>| one(conv(c, &a, 6)?),
        "aten::conv1d.default" => |c: &mut OpCtx, a: Vec<Value>| one(conv(c, &a, 6)?),
        "aten::conv1d.padding" => |c: &mut OpCtx, a: Vec<Value>| one(conv(c, &a, 6)?),
        "aten::_convolution_mode.default" => convolution_mode,
        "aten::conv3d.default" => |_: &mut OpCtx, a: Vec<Value>| one(conv_general(&a, &CONV3D, false)?),
        "aten::conv3d.padding" => |_: &mut OpCtx, a: Vec<Value>| one(conv_general(&a, &CONV3D, false)?),
        "aten::conv_transpose1d.default" => |_: &mut OpCtx, a: Vec<Value>| one(conv_general(&a, &CONV_TRANSPOSE, true)?),
        "aten::conv_transpose2d.input" => |_: &mut OpCtx, a: Vec<Value>| one(conv_general(&a, &CONV_TRANSPOSE, true)?),
        "aten::conv_transpose3d.input" => |_: &mut OpCtx, a: Vec<Value>| one(conv_general(&a, &CONV_TRANSPOSE, true)?),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{call, il};

    #[test]
    fn conv2d_against_hand_computed() {
        // 1x1x3x3 input, 1x1x2x2 weight of ones, bias 1, stride 1, no padding
        let x = Tensor::from_f32(vec![1, 1, 3, 3], (1..=9).map(|v| v as f32).collect());
        let w = Tensor::from_f32(vec![1, 1, 2, 2], vec![1.0; 4]);
        let b = Tensor::from_f32(vec![1], vec![1.0]);
        let r = call(
            "aten::convolution.default",
            vec![
                x.clone().into(),
                w.clone().into(),
                b.into(),
                il(&[1, 1]),
                il(&[0, 0]),
                il(&[1, 1]),
                Value::Bool(false),
                il(&[0, 0]),
                Value::Int(1),
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 2, 2]);
        assert_eq!(t.to_f32_vec(), vec![13., 17., 25., 29.]);
        // padding 1, stride 2, no bias
        let r = call(
            "aten::conv2d.default",
            vec![
                x.into(),
                w.into(),
                Value::None,
                il(&[2]),
                il(&[1]),
                il(&[1]),
                Value::Int(1),
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 2, 2]);
        assert_eq!(t.to_f32_vec(), vec![1., 5., 11., 28.]);
    }
}
