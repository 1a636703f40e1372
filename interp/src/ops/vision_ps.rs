//! torchvision's position-sensitive region pooling: `torchvision::ps_roi_align` and
//! `ps_roi_pool` (R-FCN style heads).
//!
//! Like `roi_align`/`roi_pool`, but output bin `(c, py, px)` reads only its own input channel
//! `(c * ph + py) * pw + px`, so the input has `C = C_out * ph * pw` channels. Both follow
//! torchvision's CPU kernels (the same sample grid, boundary clamps and divisions, arithmetic
//! in f32 for f32 inputs and f64 for f64) and return `(output, channel_mapping)` with the
//! mapping as i32, as torchvision does. No regions give empty outputs.

use super::vision::{batch_of, bilinear, reals, roi_geom, Real, RoiGeom, MAX_SAMPLES_PER_BIN};
use super::{farg, iarg, targ};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// The checked geometry plus the output channel count `C / (ph * pw)`.
fn ps_geom(op: &str, input: &Tensor, rois: &Tensor, args: &[Value]) -> Result<(RoiGeom, usize)> {
    let g = roi_geom(op, input, rois, iarg(args, 3)?, iarg(args, 4)?)?;
    let bins = g.ph.saturating_mul(g.pw);
    if g.c % bins != 0 {
        return Err(Error::runtime(format!(
            "{op}: input channels ({}) must be a multiple of pooled_height * pooled_width ({}x{})",
            g.c, g.ph, g.pw
        )));
    }
    let c_out = g.c / bins;
    Ok((g, c_out))
}

/// The output `[K, C_out, ph, pw]` in the input's dtype and the i32 channel mapping.
fn outputs(input: &Tensor, shape: Vec<usize>, vals: Vec<f64>, map: Vec<i32>) -> Vec<Value> {
    vec![
        Tensor::from_f64_as(input.dtype(), shape.clone(), vals).into(),
        Tensor::from_i32(shape, map).into(),
    ]
}

/// The input channel each output element reads, in output order: `(c * ph + py) * pw + px`,
/// which is the flat index within one roi's `[C_out, ph, pw]` block.
fn channel_map(g: &RoiGeom, c_out: usize) -> Vec<i32> {
    let per_roi = c_out * g.ph * g.pw;
    (0..g.k * per_roi).map(|i| (i % per_roi) as i32).collect()
}

/// `ps_roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio)`:
/// each bin averages bilinear samples (coordinates shifted by half a pixel, as torchvision's
/// kernel always does) of its own channel.
fn ps_roi_align(args: &[Value]) -> Result<Vec<Value>> {
    let input = targ(args, 0)?;
    let rois = targ(args, 1)?;
    let scale = farg(args, 2)?;
    let (g, c_out) = ps_geom("ps_roi_align", input, rois, args)?;
    let sampling = iarg(args, 5)?;
    let vals = if input.dtype() == DType::F64 {
        ps_roi_align_in::<f64>(input, rois, scale, &g, c_out, sampling)?
    } else {
        ps_roi_align_in::<f32>(input, rois, scale, &g, c_out, sampling)?
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let shape = vec![g.k, c_out, g.ph, g.pw];
    Ok(outputs(input, shape, vals, channel_map(&g, c_out)))
}

fn ps_roi_align_in<T: Real>(
    input: &Tensor,
    rois: &Tensor,
    scale: f64,
    g: &RoiGeom,
    c_out: usize,
    sampling: i64,
) -> Result<Vec<T>> {
    let mut out = vec![T::of(0.0); g.k * c_out * g.ph * g.pw];
    if out.is_empty() {
        return Ok(out);
    }
    let x = reals::<T>(&input.contiguous()?)?;
    let r = reals::<T>(rois)?;
    let scale = T::of(scale);
    let half = T::of(0.5);
    let plane = g.h * g.w;
    for k in 0..g.k {
        let roi = &r[5 * k..5 * k + 5];
        let b = batch_of(roi[0].f64(), g.n, "ps_roi_align")?;
        let start_w = roi[1] * scale - half;
        let start_h = roi[2] * scale - half;
        let roi_w = (roi[3] * scale - half) - start_w;
        let roi_h = (roi[4] * scale - half) - start_h;
        let bin_h = roi_h / T::of(g.ph as f64);
        let bin_w = roi_w / T::of(g.pw as f64);
        // torchvision casts ceil(size / bins) to int: a negative or NaN size gives an empty
        // grid (and a 0/0 or 0/negative average below, as there).
        let grid = |size: T, bins: usize| -> Result<i64> {
            if sampling > 0 {
                return Ok(sampling);
            }
            let v = (size / T::of(bins as f64)).f64().ceil();
            if v.is_nan() {
                return Ok(0);
            }
            if v > MAX_SAMPLES_PER_BIN as f64 {
                return Err(Error::runtime(format!(
                    "ps_roi_align: roi {k} needs {v} samples per bin side (at most {MAX_SAMPLES_PER_BIN})"
                )));
            }
            Ok(v.max(-(MAX_SAMPLES_PER_BIN as f64)) as i64)
        };
        let (gh, gw) = (grid(roi_h, g.ph)?, grid(roi_w, g.pw)?);
        if gh.max(0).saturating_mul(gw.max(0)) > MAX_SAMPLES_PER_BIN as i64 {
            return Err(Error::runtime(format!(
                "ps_roi_align: roi {k} needs {gh}x{gw} samples per bin (at most {MAX_SAMPLES_PER_BIN})"
            )));
        }
        let count = T::of((gh * gw) as f64);
        let (nh, nw) = (gh.max(0) as usize, gw.max(0) as usize);
        for c in 0..c_out {
            for py in 0..g.ph {
                for px in 0..g.pw {
                    let c_in = (c * g.ph + py) * g.pw + px;
                    let o = ((k * c_out + c) * g.ph + py) * g.pw + px;
                    if plane == 0 {
                        continue; // an empty feature map: nothing to sample
                    }
                    let p = &x[(b * g.c + c_in) * plane..(b * g.c + c_in + 1) * plane];
                    let hstart = T::of(py as f64) * bin_h + start_h;
                    let wstart = T::of(px as f64) * bin_w + start_w;
                    let mut acc = T::of(0.0);
                    for iy in 0..nh {
                        let yy = hstart + T::of(iy as f64 + 0.5) * bin_h / T::of(gh as f64);
                        for ix in 0..nw {
                            let xx = wstart + T::of(ix as f64 + 0.5) * bin_w / T::of(gw as f64);
                            acc = acc + bilinear(p, g.h, g.w, yy, xx);
                        }
                    }
                    out[o] = acc / count;
                }
            }
        }
    }
    Ok(out)
}

/// `ps_roi_pool(input, rois, spatial_scale, pooled_height, pooled_width)`: each bin is the
/// mean of the input cells it covers in its own channel (0 for an empty bin). Bin edges are
/// clamped to `size - 1`, as torchvision's forward kernel does.
fn ps_roi_pool(args: &[Value]) -> Result<Vec<Value>> {
    let input = targ(args, 0)?;
    let rois = targ(args, 1)?;
    let scale = farg(args, 2)?;
    let (g, c_out) = ps_geom("ps_roi_pool", input, rois, args)?;
    let vals = if input.dtype() == DType::F64 {
        ps_roi_pool_in::<f64>(input, rois, scale, &g, c_out)?
    } else {
        ps_roi_pool_in::<f32>(input, rois, scale, &g, c_out)?
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let shape = vec![g.k, c_out, g.ph, g.pw];
    Ok(outputs(input, shape, vals, channel_map(&g, c_out)))
}

fn ps_roi_pool_in<T: Real>(
    input: &Tensor,
    rois: &Tensor,
    scale: f64,
    g: &RoiGeom,
    c_out: usize,
) -> Result<Vec<T>> {
    let mut out = vec![T::of(0.0); g.k * c_out * g.ph * g.pw];
    if out.is_empty() {
        return Ok(out);
    }
    let x = reals::<T>(&input.contiguous()?)?;
    let r = reals::<T>(rois)?;
    let scale = T::of(scale);
    let (h, w) = (g.h as i64, g.w as i64);
    let plane = g.h * g.w;
    // Coordinates beyond this are clamped before they become integers (every bin is clamped
    // to the feature map anyway), so huge or NaN coordinates cannot overflow.
    let lim = 4.0 * (g.h.max(g.w) as f64 + 1.0);
    let round = |v: T| -> i64 {
        let v = v.f64().round();
        if v.is_nan() {
            0
        } else {
            v.clamp(-lim, lim) as i64
        }
    };
    for k in 0..g.k {
        let roi = &r[5 * k..5 * k + 5];
        let b = batch_of(roi[0].f64(), g.n, "ps_roi_pool")?;
        let sw = round(roi[1] * scale);
        let sh = round(roi[2] * scale);
        let rw = (round(roi[3] * scale) - sw).max(1);
        let rh = (round(roi[4] * scale) - sh).max(1);
        let bin_h = T::of(rh as f64) / T::of(g.ph as f64);
        let bin_w = T::of(rw as f64) / T::of(g.pw as f64);
        for c in 0..c_out {
            for py in 0..g.ph {
                let hs = (T::of(py as f64) * bin_h).f64().floor() as i64;
                let he = (T::of((py + 1) as f64) * bin_h).f64().ceil() as i64;
                let hs = (hs + sh).max(0).min(h - 1);
                let he = (he + sh).max(0).min(h - 1);
                for px in 0..g.pw {
                    let ws = (T::of(px as f64) * bin_w).f64().floor() as i64;
                    let we = (T::of((px + 1) as f64) * bin_w).f64().ceil() as i64;
                    let ws = (ws + sw).max(0).min(w - 1);
                    let we = (we + sw).max(0).min(w - 1);
                    let o = ((k * c_out + c) * g.ph + py) * g.pw + px;
                    if he <= hs || we <= ws {
                        continue; // empty bin (also every bin of an empty feature map)
                    }
                    let c_in = (c * g.ph + py) * g.pw + px;
                    let p = &x[(b * g.c + c_in) * plane..(b * g.c + c_in + 1) * plane];
                    let mut acc = T::of(0.0);
                    for yy in hs..he {
                        for xx in ws..we {
                            acc = acc + p[(yy * w + xx) as usize];
                        }
                    }
                    out[o] = acc / T::of(((he - hs) * (we - ws)) as f64);
                }
            }
        }
    }
    Ok(out)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "torchvision::ps_roi_align.default" => |_: &mut OpCtx, a: Vec<Value>| ps_roi_align(&a),
        "torchvision::ps_roi_pool.default" => |_: &mut OpCtx, a: Vec<Value>| ps_roi_pool(&a),
    );
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::try_call;
    use crate::tensor::Tensor;
    use crate::value::Value;

    fn args(x: Tensor, rois: Tensor, ph: i64, extra: bool) -> Vec<Value> {
        let mut a = vec![
            Value::Tensor(x),
            Value::Tensor(rois),
            Value::Float(1.0),
            Value::Int(ph),
            Value::Int(ph),
        ];
        if extra {
            a.push(Value::Int(-1));
        }
        a
    }

    #[test]
    fn channels_not_a_multiple_of_the_bins_are_refused() {
        let x = Tensor::from_f32(vec![1, 3, 2, 2], vec![0.0; 12]);
        let rois = Tensor::from_f32(vec![1, 5], vec![0., 0., 0., 1., 1.]);
        for (op, extra) in [
            ("torchvision::ps_roi_align.default", true),
            ("torchvision::ps_roi_pool.default", false),
        ] {
            assert!(try_call(op, args(x.clone(), rois.clone(), 2, extra)).is_err());
        }
    }

    #[test]
    fn each_bin_reads_its_own_channel() {
        // 4 channels of constant value c, 2x2 bins: output bin (py, px) = channel py*2+px.
        let x = Tensor::from_f32(vec![1, 4, 4, 4], (0..64).map(|i| (i / 16) as f32).collect());
        let rois = Tensor::from_f32(vec![1, 5], vec![0., 0., 0., 3., 3.]);
        for (op, extra) in [
            ("torchvision::ps_roi_align.default", true),
            ("torchvision::ps_roi_pool.default", false),
        ] {
            let out = try_call(op, args(x.clone(), rois.clone(), 2, extra)).unwrap();
            let v = out[0].as_tensor().unwrap().to_f32_vec();
            assert_eq!(v, vec![0., 1., 2., 3.], "{op}");
            let m = out[1].as_tensor().unwrap();
            assert_eq!(m.shape(), &[1, 1, 2, 2]);
        }
    }
}
