//! torchvision's deformable convolution, `torchvision::deform_conv2d` (DCN v1, and v2 with a
//! modulation mask).
//!
//! Each kernel tap `(i, j)` of output pixel `(oy, ox)` samples the input at its regular
//! position plus a learned offset, `(oy*stride - pad + i*dilation + dy, ... + dx)`, bilinearly
//! (zero outside the image), times the mask value when there is one; the samples are then
//! combined with the weights as in a grouped convolution. The samples follow torchvision's CPU
//! kernel (its bilinear rule and f32 arithmetic for f32 inputs); the weighted sum is
//! accumulated in f64, so results agree with PyTorch's to f32 rounding, not bit for bit.

use super::vision::{check_float, reals, Real};
use super::{barg_or, iarg, opt, targ};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::{checked_numel, DType, Tensor};
use crate::value::Value;

/// Checked sizes of one call.
struct Geom {
    b: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    stride: (i64, i64),
    pad: (i64, i64),
    dil: (i64, i64),
    groups: usize,
    ogroups: usize,
}

fn err<T>(msg: String) -> Result<T> {
    Err(Error::runtime(format!("deform_conv2d: {msg}")))
}

fn positive(v: i64, what: &str) -> Result<usize> {
    if v <= 0 {
        return err(format!("{what} must be positive, got {v}"));
    }
    usize::try_from(v).or_else(|_| err(format!("{what} is too large: {v}")))
}

/// One output side: `(size + 2*pad - (dil*(k-1) + 1)) / stride + 1`, checked for overflow and
/// for an output that would be empty or negative.
fn out_size(size: usize, k: usize, stride: i64, pad: i64, dil: i64, side: &str) -> Result<usize> {
    let span = (dil as i128) * (k as i128 - 1) + 1;
    let num = size as i128 + 2 * pad as i128 - span;
    if num < 0 {
        return err(format!(
            "the {side} output size is not positive (input {size}, kernel {k}, padding {pad}, dilation {dil})"
        ));
    }
    let o = num / stride as i128 + 1;
    usize::try_from(o).or_else(|_| err(format!("{side} output size {o} is too large")))
}

fn geometry(
    input: &Tensor,
    weight: &Tensor,
    offset: &Tensor,
    mask: Option<&Tensor>,
    args: &[Value],
) -> Result<Geom> {
    for (t, what) in [(input, "input"), (weight, "weight"), (offset, "offset")] {
        check_float(t, &format!("deform_conv2d: {what}"))?;
        if t.ndim() != 4 {
            return err(format!("{what} must be 4-d, got {:?}", t.shape()));
        }
    }
    let stride = (iarg(args, 5)?, iarg(args, 6)?);
    let pad = (iarg(args, 7)?, iarg(args, 8)?);
    let dil = (iarg(args, 9)?, iarg(args, 10)?);
    positive(stride.0, "stride")?;
    positive(stride.1, "stride")?;
    positive(dil.0, "dilation")?;
    positive(dil.1, "dilation")?;
    if pad.0 < 0 || pad.1 < 0 || pad.0 > i32::MAX as i64 || pad.1 > i32::MAX as i64 {
        return err(format!("padding must be in [0, 2^31), got {pad:?}"));
    }
    let groups = positive(iarg(args, 11)?, "groups")?;
    let ogroups = positive(iarg(args, 12)?, "offset_groups")?;
    let (s, ws) = (input.shape(), weight.shape());
    let (b, cin, h, w) = (s[0], s[1], s[2], s[3]);
    let (cout, kh, kw) = (ws[0], ws[2], ws[3]);
    if kh == 0 || kw == 0 {
        return err(format!("the kernel must not be empty, got {ws:?}"));
    }
    if cin % groups != 0 || cout % groups != 0 || ws[1].checked_mul(groups) != Some(cin) {
        return err(format!(
            "weight {ws:?} does not fit {cin} input channels in {groups} groups"
        ));
    }
    if cin % ogroups != 0 {
        return err(format!(
            "{cin} input channels are not divisible into {ogroups} offset groups"
        ));
    }
    let oh = out_size(h, kh, stride.0, pad.0, dil.0, "height")?;
    let ow = out_size(w, kw, stride.1, pad.1, dil.1, "width")?;
    let taps = ogroups
        .checked_mul(kh)
        .and_then(|v| v.checked_mul(kw))
        .ok_or_else(|| Error::runtime("deform_conv2d: too many kernel taps"))?;
    let want_off = [b, taps.saturating_mul(2), oh, ow];
    if offset.shape() != want_off {
        return err(format!(
            "offset must be {want_off:?} (batch, 2*offset_groups*kh*kw, out_h, out_w), got {:?}",
            offset.shape()
        ));
    }
    if let Some(m) = mask {
        check_float(m, "deform_conv2d: mask")?;
        let want = [b, taps, oh, ow];
        if m.shape() != want {
            return err(format!(
                "mask must be {want:?} (batch, offset_groups*kh*kw, out_h, out_w), got {:?}",
                m.shape()
            ));
        }
    }
    checked_numel(&[b, cout, oh, ow])?;
    // The sampled columns of one image: (cin * kh * kw) x (oh * ow).
    checked_numel(&[cin, kh, kw, oh, ow])?;
    Ok(Geom {
        b,
        cin,
        h,
        w,
        cout,
        kh,
        kw,
        oh,
        ow,
        stride,
        pad,
        dil,
        groups,
        ogroups,
    })
}

/// torchvision's deformable bilinear sample: 0 when `(y, x)` is at or beyond one pixel
/// outside the image, otherwise the four neighbours with those outside the image read as 0.
fn sample<T: Real>(plane: &[T], h: usize, w: usize, y: T, x: T) -> T {
    let zero = T::of(0.0);
    let (hf, wf) = (T::of(h as f64), T::of(w as f64));
    if y <= T::of(-1.0) || hf <= y || x <= T::of(-1.0) || wf <= x {
        return zero;
    }
    // -1 < y < h here (or NaN, which floors to 0 and poisons the value, as in PyTorch)
    let yl = y.f64().floor();
    let xl = x.f64().floor();
    let (yl, xl) = (
        if yl.is_nan() { 0 } else { yl as i64 },
        if xl.is_nan() { 0 } else { xl as i64 },
    );
    let ly = y - T::of(yl as f64);
    let lx = x - T::of(xl as f64);
    let one = T::of(1.0);
    let (hy, hx) = (one - ly, one - lx);
    let (h, w) = (h as i64, w as i64);
    let at = |yy: i64, xx: i64| -> T {
        if yy >= 0 && yy < h && xx >= 0 && xx < w {
            plane[(yy * w + xx) as usize]
        } else {
            zero
        }
    };
    hy * hx * at(yl, xl)
        + hy * lx * at(yl, xl + 1)
        + ly * hx * at(yl + 1, xl)
        + ly * lx * at(yl + 1, xl + 1)
}

fn deform_conv2d_in<T: Real>(
    g: &Geom,
    input: &Tensor,
    weight: &Tensor,
    offset: &Tensor,
    mask: Option<&Tensor>,
    bias: Option<&Tensor>,
) -> Result<Vec<f64>> {
    let x = reals::<T>(&input.contiguous()?)?;
    let wt = weight.contiguous()?.f64s()?;
    let off = reals::<T>(&offset.contiguous()?)?;
    let m = mask.map(|m| reals::<T>(&m.contiguous()?)).transpose()?;
    let bias = bias.map(|t| t.f64s()).transpose()?;
    let (plane, opix) = (g.h * g.w, g.oh * g.ow);
    let taps = g.kh * g.kw;
    let c_per_og = g.cin / g.ogroups;
    let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
    let mut out = vec![0f64; g.b * g.cout * opix];
    // columns[(c * taps + tap) * opix + pixel] for one image, as torchvision's im2col.
    let mut cols = vec![T::of(0.0); g.cin * taps * opix];
    for b in 0..g.b {
        for c in 0..g.cin {
            let og = c / c_per_og;
            let p = &x[(b * g.cin + c) * plane..(b * g.cin + c + 1) * plane];
            let off_g = &off[(b * g.ogroups + og) * 2 * taps * opix..][..2 * taps * opix];
            let m_g = m
                .as_ref()
                .map(|m| &m[(b * g.ogroups + og) * taps * opix..][..taps * opix]);
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let tap = i * g.kw + j;
                    let col = &mut cols[(c * taps + tap) * opix..][..opix];
                    for oy in 0..g.oh {
                        for ox in 0..g.ow {
                            let pix = oy * g.ow + ox;
                            if plane == 0 {
                                col[pix] = T::of(0.0);
                                continue;
                            }
                            let dy = off_g[2 * tap * opix + pix];
                            let dx = off_g[(2 * tap + 1) * opix + pix];
                            let base_y = oy as i64 * g.stride.0 - g.pad.0 + i as i64 * g.dil.0;
                            let base_x = ox as i64 * g.stride.1 - g.pad.1 + j as i64 * g.dil.1;
                            let y = T::of(base_y as f64) + dy;
                            let xx = T::of(base_x as f64) + dx;
                            let v = sample(p, g.h, g.w, y, xx);
                            col[pix] = match m_g {
                                Some(mv) => mv[tap * opix + pix] * v,
                                None => v,
                            };
                        }
                    }
                }
            }
        }
        for oc in 0..g.cout {
            let grp = oc / cout_g;
            let o = &mut out[(b * g.cout + oc) * opix..][..opix];
            let b0 = bias.as_ref().map_or(0.0, |v| v[oc]);
            o.iter_mut().for_each(|v| *v = 0.0);
            for cl in 0..cin_g {
                let c = grp * cin_g + cl;
                for tap in 0..taps {
                    let wv = wt[(oc * cin_g + cl) * taps + tap];
                    let col = &cols[(c * taps + tap) * opix..][..opix];
                    for (acc, cv) in o.iter_mut().zip(col) {
                        *acc += wv * cv.f64();
                    }
                }
            }
            o.iter_mut().for_each(|v| *v += b0);
        }
    }
    Ok(out)
}

/// `deform_conv2d(input, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w,
/// dilation_h, dilation_w, groups, offset_groups, use_mask) -> [B, C_out, out_h, out_w]`.
fn deform_conv2d(args: &[Value]) -> Result<Vec<Value>> {
    let input = targ(args, 0)?;
    let weight = targ(args, 1)?;
    let offset = targ(args, 2)?;
    let use_mask = barg_or(args, 13, false)?;
    let mask = if use_mask { Some(targ(args, 3)?) } else { None };
    let bias = match opt(args, 4) {
        Value::None => None,
        _ => Some(targ(args, 4)?),
    };
    let g = geometry(input, weight, offset, mask, args)?;
    if let Some(bt) = bias {
        check_float(bt, "deform_conv2d: bias")?;
        if bt.shape() != [g.cout] {
            return err(format!("bias must be [{}], got {:?}", g.cout, bt.shape()));
        }
    }
    let vals = if input.dtype() == DType::F64 {
        deform_conv2d_in::<f64>(&g, input, weight, offset, mask, bias)?
    } else {
        deform_conv2d_in::<f32>(&g, input, weight, offset, mask, bias)?
    };
    let shape = vec![g.b, g.cout, g.oh, g.ow];
    Ok(vec![Tensor::from_f64_as(input.dtype(), shape, vals).into()])
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "torchvision::deform_conv2d.default" => |_: &mut OpCtx, a: Vec<Value>| deform_conv2d(&a),
    );
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::try_call;
    use crate::tensor::Tensor;
    use crate::value::Value;

    fn call(x: Tensor, w: Tensor, off: Tensor, ints: [i64; 8]) -> crate::error::Result<Tensor> {
        let mut a = vec![
            Value::Tensor(x),
            Value::Tensor(w),
            Value::Tensor(off),
            Value::Tensor(Tensor::from_f32(vec![1, 1], vec![0.0])),
            Value::None,
        ];
        a.extend(ints.iter().map(|&v| Value::Int(v)));
        a.push(Value::Bool(false));
        Ok(try_call("torchvision::deform_conv2d.default", a)?[0]
            .as_tensor()?
            .clone())
    }

    #[test]
    fn zero_offsets_are_a_plain_convolution() {
        // 1 channel 3x3 input, 2x2 kernel of ones: each output is the sum of a 2x2 window.
        let x = Tensor::from_f32(vec![1, 1, 3, 3], (1..=9).map(|v| v as f32).collect());
        let w = Tensor::from_f32(vec![1, 1, 2, 2], vec![1.0; 4]);
        let off = Tensor::from_f32(vec![1, 8, 2, 2], vec![0.0; 32]);
        let y = call(x, w, off, [1, 1, 0, 0, 1, 1, 1, 1]).unwrap();
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        assert_eq!(y.to_f32_vec(), vec![12., 16., 24., 28.]);
    }

    #[test]
    fn bad_geometry_is_refused() {
        let x = Tensor::from_f32(vec![1, 1, 3, 3], vec![0.0; 9]);
        let w = Tensor::from_f32(vec![1, 1, 2, 2], vec![1.0; 4]);
        let off = Tensor::from_f32(vec![1, 8, 2, 2], vec![0.0; 32]);
        let bad_off = Tensor::from_f32(vec![1, 6, 2, 2], vec![0.0; 24]);
        assert!(call(x.clone(), w.clone(), bad_off, [1, 1, 0, 0, 1, 1, 1, 1]).is_err());
        for ints in [
            [0, 1, 0, 0, 1, 1, 1, 1],
            [1, 1, -1, 0, 1, 1, 1, 1],
            [1, 1, 0, 0, 0, 1, 1, 1],
            [1, 1, 0, 0, 1, 1, 2, 1],
            [1, 1, 0, 0, 1, 1, 1, 0],
            [1, 1, 0, 0, 9, 9, 1, 1],
            [1, 1, 1 << 40, 0, 1, 1, 1, 1],
        ] {
            assert!(
                call(x.clone(), w.clone(), off.clone(), ints).is_err(),
                "{ints:?}"
            );
        }
    }
}
