//! Nearest, bilinear and bicubic 2-d upsampling (`upsample_nearest2d`, `upsample_bilinear2d`,
//! `upsample_bicubic2d`).

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{barg_or, float_out, one, opt, targ, to_usize};
use crate::storage::try_alloc;
use crate::tensor::Tensor;
use crate::value::Value;

/// Source coordinate scale of an upsampling: `1/scale_factor` when given, else in/out.
fn up_scale(inp: usize, out: usize, sf: Option<f64>) -> f64 {
    match sf {
        Some(s) if s > 0.0 => 1.0 / s,
        _ => inp as f64 / out as f64,
    }
}

/// Output size and scale factors of an upsample op from `output_size` or `scale_factors`.
fn up_sizes(
    x: &Tensor,
    size: &Value,
    scales: &[Option<f64>],
) -> Result<(Vec<usize>, Vec<Option<f64>>)> {
    let (h, w) = (x.shape()[x.ndim() - 2], x.shape()[x.ndim() - 1]);
    match size {
        Value::None => {
            let (Some(sh), Some(sw)) = (scales[0], scales[1]) else {
                return Err(Error::runtime(
                    "upsample: need output_size or scale_factors",
                ));
            };
            if !(sh > 0.0 && sw > 0.0 && sh.is_finite() && sw.is_finite()) {
                return Err(Error::runtime("upsample: scale factors must be positive"));
            }
            let oh = (h as f64 * sh).floor();
            let ow = (w as f64 * sw).floor();
            if oh * ow > 1e12 {
                return Err(Error::oom("upsample: output too large"));
            }
            Ok((vec![oh as usize, ow as usize], vec![Some(sh), Some(sw)]))
        }
        v => {
            let s = v.as_ints()?;
            if s.len() != 2 {
                return Err(Error::runtime("upsample: output_size must have 2 values"));
            }
            Ok((
                vec![to_usize(s[0], "size")?, to_usize(s[1], "size")?],
                scales.to_vec(),
            ))
        }
    }
}

/// Nearest or bilinear 2-d upsampling of an NCHW tensor.
fn upsample(
    x: &Tensor,
    size: &Value,
    scales: &[Option<f64>],
    bilinear: bool,
    align: bool,
) -> Result<Tensor> {
    if x.ndim() != 4 {
        return Err(Error::runtime(format!(
            "upsample expects NCHW input, got {:?}",
            x.shape()
        )));
    }
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (os, sf) = up_sizes(x, size, scales)?;
    let (oh, ow) = (os[0], os[1]);
    let total = crate::tensor::checked_numel(&[n, c, oh, ow])?;
    let mut out = try_alloc::<f32>(total)?;
    if total == 0 || h == 0 || w == 0 {
        return Ok(Tensor::from_f32_as(float_out(x), vec![n, c, oh, ow], out));
    }
    let xv = x.f32s()?;
    // per output coordinate: (i0, i1, lambda)
    let coords = |o: usize, inp: usize, s: Option<f64>| -> Vec<(usize, usize, f32)> {
        (0..o)
            .map(|d| {
                if !bilinear {
                    let src = ((d as f64) * up_scale(inp, o, s)).floor() as usize;
                    let i = src.min(inp - 1);
                    (i, i, 0.0)
                } else {
                    let src = if align {
                        if o > 1 {
                            d as f64 * (inp - 1) as f64 / (o - 1) as f64
                        } else {
                            0.0
                        }
                    } else {
                        ((d as f64 + 0.5) * up_scale(inp, o, s) - 0.5).max(0.0)
                    };
                    let i0 = (src.floor() as usize).min(inp - 1);
                    let i1 = (i0 + 1).min(inp - 1);
                    (i0, i1, (src - i0 as f64) as f32)
                }
            })
            .collect()
    };
    let ys = coords(oh, h, sf[0]);
    let xs = coords(ow, w, sf[1]);
    for p in 0..n * c {
        let src = &xv[p * h * w..(p + 1) * h * w];
        let dst = &mut out[p * oh * ow..(p + 1) * oh * ow];
        for (oy, &(y0, y1, ly)) in ys.iter().enumerate() {
            for (ox, &(x0, x1, lx)) in xs.iter().enumerate() {
                let v = if bilinear {
                    let top = src[y0 * w + x0] * (1.0 - lx) + src[y0 * w + x1] * lx;
                    let bot = src[y1 * w + x0] * (1.0 - lx) + src[y1 * w + x1] * lx;
                    top * (1.0 - ly) + bot * ly
                } else {
                    src[y0 * w + x0]
                };
                dst[oy * ow + ox] = v;
            }
        }
    }
    Ok(Tensor::from_f32_as(float_out(x), vec![n, c, oh, ow], out))
}

/// Keys' cubic convolution weights of the 4 taps around a point at fraction `t` (A = -0.75,
/// PyTorch's constant).
fn cubic_weights(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let near = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// Bicubic 2-d upsampling of an NCHW tensor (taps clamped to the border, like PyTorch).
fn upsample_bicubic(
    x: &Tensor,
    size: &Value,
    scales: &[Option<f64>],
    align: bool,
) -> Result<Tensor> {
    if x.ndim() != 4 {
        return Err(Error::runtime(format!(
            "upsample_bicubic2d expects NCHW input, got {:?}",
            x.shape()
        )));
    }
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (os, sf) = up_sizes(x, size, scales)?;
    let (oh, ow) = (os[0], os[1]);
    let total = crate::tensor::checked_numel(&[n, c, oh, ow])?;
    let mut out = try_alloc::<f32>(total)?;
    if total == 0 || h == 0 || w == 0 {
        return Ok(Tensor::from_f32_as(float_out(x), vec![n, c, oh, ow], out));
    }
    let xv = x.f32s()?;
    // per output coordinate: the 4 clamped source indices and their weights
    let taps = |o: usize, inp: usize, s: Option<f64>| -> Vec<([usize; 4], [f32; 4])> {
        let scale = if align {
            if o > 1 {
                (inp - 1) as f32 / (o - 1) as f32
            } else {
                0.0
            }
        } else {
            up_scale(inp, o, s) as f32
        };
        (0..o)
            .map(|d| {
                let real = if align {
                    scale * d as f32
                } else {
                    scale * (d as f32 + 0.5) - 0.5
                };
                let i = real.floor();
                let t = real - i;
                let i = i as i64;
                let idx = [-1i64, 0, 1, 2].map(|k| (i + k).clamp(0, inp as i64 - 1) as usize);
                (idx, cubic_weights(t))
            })
            .collect()
    };
    let ys = taps(oh, h, sf[0]);
    let xs = taps(ow, w, sf[1]);
    for p in 0..n * c {
        let src = &xv[p * h * w..(p + 1) * h * w];
        let dst = &mut out[p * oh * ow..(p + 1) * oh * ow];
        for (oy, (yi, yw)) in ys.iter().enumerate() {
            for (ox, (xi, xw)) in xs.iter().enumerate() {
                let row = |r: usize| {
                    src[r * w + xi[0]] * xw[0]
                        + src[r * w + xi[1]] * xw[1]
                        + src[r * w + xi[2]] * xw[2]
                        + src[r * w + xi[3]] * xw[3]
                };
                dst[oy * ow + ox] = row(yi[0]) * yw[0]
                    + row(yi[1]) * yw[1]
                    + row(yi[2]) * yw[2]
                    + row(yi[3]) * yw[3];
            }
        }
    }
    Ok(Tensor::from_f32_as(float_out(x), vec![n, c, oh, ow], out))
}

fn scale_list(v: &Value) -> Result<Vec<Option<f64>>> {
    Ok(match v {
        Value::None => vec![None, None],
        v => {
            let l = v.as_list()?;
            match l.len() {
                1 => vec![Some(l[0].as_f64()?); 2],
                2 => vec![Some(l[0].as_f64()?), Some(l[1].as_f64()?)],
                _ => return Err(Error::runtime("upsample: scale_factors must have 2 values")),
            }
        }
    })
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::upsample_nearest2d.vec" => |_: &mut OpCtx, a: Vec<Value>| one(upsample(targ(&a, 0)?, opt(&a, 1), &scale_list(opt(&a, 2))?, false, false)?),
        "aten::upsample_nearest2d.default" => |_: &mut OpCtx, a: Vec<Value>| one(upsample(targ(&a, 0)?, opt(&a, 1), &[opt(&a, 2).as_opt_f64()?, opt(&a, 3).as_opt_f64()?], false, false)?),
        "aten::upsample_bicubic2d.vec" => |_: &mut OpCtx, a: Vec<Value>| one(upsample_bicubic(targ(&a, 0)?, opt(&a, 1), &scale_list(opt(&a, 3))?, barg_or(&a, 2, false)?)?),
        "aten::upsample_bicubic2d.default" => |_: &mut OpCtx, a: Vec<Value>| one(upsample_bicubic(targ(&a, 0)?, opt(&a, 1), &[opt(&a, 3).as_opt_f64()?, opt(&a, 4).as_opt_f64()?], barg_or(&a, 2, false)?)?),
        "aten::upsample_bilinear2d.vec" => |_: &mut OpCtx, a: Vec<Value>| one(upsample(targ(&a, 0)?, opt(&a, 1), &scale_list(opt(&a, 3))?, true, barg_or(&a, 2, false)?)?),
        "aten::upsample_bilinear2d.default" => |_: &mut OpCtx, a: Vec<Value>| one(upsample(targ(&a, 0)?, opt(&a, 1), &[opt(&a, 3).as_opt_f64()?, opt(&a, 4).as_opt_f64()?], true, barg_or(&a, 2, false)?)?),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{call, il};

    #[test]
    fn bicubic_matches_pytorch() {
        // torch.nn.functional.interpolate([[1, 2], [3, 4]], size=(3, 4), mode="bicubic")
        let want = [
            0.720_920_3,
            1.052_951_6,
            1.599_826_7,
            1.931_858,
            1.894_531_3,
            2.226_562_5,
            2.773_437_5,
            3.105_468_8,
            3.068_142_4,
            3.400_173_4,
            3.947_048_7,
            4.279_08,
        ];
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]);
        let r = call(
            "aten::upsample_bicubic2d.vec",
            vec![x.into(), il(&[3, 4]), Value::Bool(false), Value::None],
        );
        let got = r[0].as_tensor().unwrap().to_f32_vec();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?}");
        }
    }

    #[test]
    fn upsampling() {
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]);
        let r = call(
            "aten::upsample_nearest2d.vec",
            vec![
                x.clone().into(),
                Value::None,
                Value::List(vec![Value::Float(2.0), Value::Float(2.0)]),
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 4, 4]);
        assert_eq!(t.to_f32_vec()[..8], [1., 1., 2., 2., 1., 1., 2., 2.]);
        // align_corners=True: corners kept, middle interpolated
        let r = call(
            "aten::upsample_bilinear2d.vec",
            vec![
                x.clone().into(),
                il(&[3, 3]),
                Value::Bool(true),
                Value::None,
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![1., 1.5, 2., 2., 2.5, 3., 3., 3.5, 4.]
        );
        // align_corners=False, scale 2: PyTorch gives [1, 1.25, 1.75, 2] on the first row
        let r = call(
            "aten::upsample_bilinear2d.vec",
            vec![
                x.into(),
                Value::None,
                Value::Bool(false),
                Value::List(vec![Value::Float(2.0), Value::Float(2.0)]),
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec()[..4],
            [1., 1.25, 1.75, 2.]
        );
    }
}
