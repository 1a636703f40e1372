//! torchvision's detection ops: `torchvision::nms`, `roi_align`, `roi_pool`.
//!
//! Each follows torchvision's CPU kernel step by step (the same visiting order, the same
//! comparisons, arithmetic in the input's float type: f32 for f32/f16/bf16, f64 for f64), so
//! a detector's kept boxes and pooled features match PyTorch's, including the tie and
//! boundary cases (a box with zero area, a sample outside the feature map). Empty inputs (no
//! boxes, no regions) give empty outputs, not errors: a detector that finds nothing is a
//! normal result.

use super::{arg, barg_or, farg, iarg, one, targ, to_usize};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::{checked_numel, DType, Tensor};
use crate::value::Value;
use std::ops::{Add, Div, Mul, Sub};

/// The float type the kernels compute in (f32 or f64, like torchvision's `scalar_t`).
pub(super) trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
{
    fn of(v: f64) -> Self;
    fn f64(self) -> f64;
}

impl Real for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
    fn f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    fn of(v: f64) -> Self {
        v
    }
    fn f64(self) -> f64 {
        self
    }
}

pub(super) fn maxr<T: Real>(a: T, b: T) -> T {
    if a > b {
        a
    } else {
        b
    }
}

pub(super) fn minr<T: Real>(a: T, b: T) -> T {
    if a < b {
        a
    } else {
        b
    }
}

/// A float tensor's elements in `T` (f32 tensors are read as they are).
pub(super) fn reals<T: Real>(t: &Tensor) -> Result<Vec<T>> {
    Ok(t.f64s()?.into_iter().map(T::of).collect())
}

pub(super) fn check_float(t: &Tensor, what: &str) -> Result<()> {
    if !t.dtype().is_float() {
        return Err(Error::runtime(format!(
            "{what} must be a floating tensor, got {}",
            t.dtype().name()
        )));
    }
    Ok(())
}

/// `nms(boxes[N, 4], scores[N], iou_threshold) -> keep[K]` (i64 indices into `boxes`, by
/// decreasing score). Boxes are `(x1, y1, x2, y2)`; a box suppresses every lower-scored box
/// whose IoU with it is above the threshold. Equal scores keep their input order (stable).
fn nms(args: &[Value]) -> Result<Vec<Value>> {
    let boxes = targ(args, 0)?;
    let scores = targ(args, 1)?;
    let thr = farg(args, 2)?;
    check_float(boxes, "nms: boxes")?;
    check_float(scores, "nms: scores")?;
    if boxes.ndim() != 2 || boxes.shape()[1] != 4 {
        return Err(Error::runtime(format!(
            "nms: boxes must be [N, 4], got {:?}",
            boxes.shape()
        )));
    }
    if scores.ndim() != 1 || scores.shape()[0] != boxes.shape()[0] {
        return Err(Error::runtime(format!(
            "nms: scores must be [N] with N = {} boxes, got {:?}",
            boxes.shape()[0],
            scores.shape()
        )));
    }
    let keep = if boxes.dtype() == DType::F64 {
        nms_in::<f64>(boxes, scores, thr)?
    } else {
        nms_in::<f32>(boxes, scores, thr)?
    };
    let n = keep.len();
    one(Tensor::from_i64(vec![n], keep))
}

fn nms_in<T: Real>(boxes: &Tensor, scores: &Tensor, thr: f64) -> Result<Vec<i64>> {
    Ok(super::nms::greedy_nms(
        &reals::<T>(boxes)?,
        &reals::<T>(scores)?,
        thr,
    ))
}

/// Checked `[N, C, H, W]` input and `[K, 5]` rois (`batch_index, x1, y1, x2, y2`), and the
/// output size `[K, C, ph, pw]`.
pub(super) struct RoiGeom {
    pub(super) n: usize,
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) k: usize,
    pub(super) ph: usize,
    pub(super) pw: usize,
}

pub(super) fn roi_geom(
    op: &str,
    input: &Tensor,
    rois: &Tensor,
    ph: i64,
    pw: i64,
) -> Result<RoiGeom> {
    check_float(input, &format!("{op}: input"))?;
    check_float(rois, &format!("{op}: rois"))?;
    if input.ndim() != 4 {
        return Err(Error::runtime(format!(
            "{op}: input must be [N, C, H, W], got {:?}",
            input.shape()
        )));
    }
    if rois.ndim() != 2 || rois.shape()[1] != 5 {
        return Err(Error::runtime(format!(
            "{op}: rois must be [K, 5], got {:?}",
            rois.shape()
        )));
    }
    let ph = to_usize(ph, "pooled_height")?;
    let pw = to_usize(pw, "pooled_width")?;
    if ph == 0 || pw == 0 {
        return Err(Error::runtime(format!(
            "{op}: output size must be positive, got {ph}x{pw}"
        )));
    }
    let s = input.shape();
    let g = RoiGeom {
        n: s[0],
        c: s[1],
        h: s[2],
        w: s[3],
        k: rois.shape()[0],
        ph,
        pw,
    };
    checked_numel(&[g.k, g.c, g.ph, g.pw])?;
    Ok(g)
}

/// The roi's image index, checked against the batch.
pub(super) fn batch_of(v: f64, n: usize, op: &str) -> Result<usize> {
    if !(v >= 0.0 && (v as usize) < n) {
        return Err(Error::runtime(format!(
            "{op}: roi batch index {v} is outside the batch of {n}"
        )));
    }
    Ok(v as usize)
}

/// Bounds the sampling grid of one roi_align bin: an enormous box (hostile or NaN-free but
/// huge coordinates) would otherwise sample billions of points per bin.
pub(super) const MAX_SAMPLES_PER_BIN: usize = 1 << 16;

/// `roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio,
/// aligned) -> [K, C, ph, pw]`: each bin averages bilinear samples on a regular grid.
fn roi_align(args: &[Value]) -> Result<Vec<Value>> {
    let input = targ(args, 0)?;
    let rois = targ(args, 1)?;
    let scale = farg(args, 2)?;
    let g = roi_geom("roi_align", input, rois, iarg(args, 3)?, iarg(args, 4)?)?;
    let sampling = iarg(args, 5)?;
    let aligned = barg_or(args, 6, false)?;
    let out = if input.dtype() == DType::F64 {
        let v = roi_align_in::<f64>(input, rois, scale, &g, sampling, aligned)?;
        Tensor::from_f64_as(DType::F64, vec![g.k, g.c, g.ph, g.pw], v)
    } else {
        let v = roi_align_in::<f32>(input, rois, scale, &g, sampling, aligned)?;
        let v = v.into_iter().map(f64::from).collect();
        Tensor::from_f64_as(input.dtype(), vec![g.k, g.c, g.ph, g.pw], v)
    };
    one(out)
}

/// A bilinear sample of one channel plane at `(y, x)`, torchvision's boundary rules: outside
/// `[-1, size]` is 0, coordinates are clamped to the plane.
pub(super) fn bilinear<T: Real>(plane: &[T], h: usize, w: usize, y: T, x: T) -> T {
    let zero = T::of(0.0);
    let one_ = T::of(1.0);
    if y < T::of(-1.0) || y > T::of(h as f64) || x < T::of(-1.0) || x > T::of(w as f64) {
        return zero;
    }
    let mut y = maxr(y, zero);
    let mut x = maxr(x, zero);
    let mut y_low = y.f64() as usize;
    let mut x_low = x.f64() as usize;
    let y_high;
    let x_high;
    if y_low >= h - 1 {
        y_low = h - 1;
        y_high = h - 1;
        y = T::of(y_low as f64);
    } else {
        y_high = y_low + 1;
    }
    if x_low >= w - 1 {
        x_low = w - 1;
        x_high = w - 1;
        x = T::of(x_low as f64);
    } else {
        x_high = x_low + 1;
    }
    let ly = y - T::of(y_low as f64);
    let lx = x - T::of(x_low as f64);
    let hy = one_ - ly;
    let hx = one_ - lx;
    hy * hx * plane[y_low * w + x_low]
        + hy * lx * plane[y_low * w + x_high]
        + ly * hx * plane[y_high * w + x_low]
        + ly * lx * plane[y_high * w + x_high]
}

fn roi_align_in<T: Real>(
    input: &Tensor,
    rois: &Tensor,
    scale: f64,
    g: &RoiGeom,
    sampling: i64,
    aligned: bool,
) -> Result<Vec<T>> {
    let x = reals::<T>(&input.contiguous()?)?;
    let r = reals::<T>(rois)?;
    let scale = T::of(scale);
    let offset = T::of(if aligned { 0.5 } else { 0.0 });
    let mut out = vec![T::of(0.0); g.k * g.c * g.ph * g.pw];
    if g.h == 0 || g.w == 0 {
        return Ok(out);
    }
    let plane = g.h * g.w;
    for k in 0..g.k {
        let roi = &r[5 * k..5 * k + 5];
        let b = batch_of(roi[0].f64(), g.n, "roi_align")?;
        let start_w = roi[1] * scale - offset;
        let start_h = roi[2] * scale - offset;
        let end_w = roi[3] * scale - offset;
        let end_h = roi[4] * scale - offset;
        let mut roi_w = end_w - start_w;
        let mut roi_h = end_h - start_h;
        if !aligned {
            roi_w = maxr(roi_w, T::of(1.0));
            roi_h = maxr(roi_h, T::of(1.0));
        }
        let bin_h = roi_h / T::of(g.ph as f64);
        let bin_w = roi_w / T::of(g.pw as f64);
        let grid = |size: T, bins: usize| -> usize {
            if sampling > 0 {
                sampling as usize
            } else {
                (size / T::of(bins as f64)).f64().ceil().max(0.0) as usize
            }
        };
        let (gh, gw) = (grid(roi_h, g.ph), grid(roi_w, g.pw));
        if gh.saturating_mul(gw) > MAX_SAMPLES_PER_BIN {
            return Err(Error::runtime(format!(
                "roi_align: roi {k} needs {gh}x{gw} samples per bin (at most {MAX_SAMPLES_PER_BIN})"
            )));
        }
        let count = T::of(gh.saturating_mul(gw).max(1) as f64);
        for c in 0..g.c {
            let p = &x[(b * g.c + c) * plane..(b * g.c + c + 1) * plane];
            for py in 0..g.ph {
                for px in 0..g.pw {
                    let mut acc = T::of(0.0);
                    for iy in 0..gh {
                        let yy = start_h
                            + T::of(py as f64) * bin_h
                            + (T::of(iy as f64) + T::of(0.5)) * bin_h / T::of(gh as f64);
                        for ix in 0..gw {
                            let xx = start_w
                                + T::of(px as f64) * bin_w
                                + (T::of(ix as f64) + T::of(0.5)) * bin_w / T::of(gw as f64);
                            acc = acc + bilinear(p, g.h, g.w, yy, xx);
                        }
                    }
                    out[((k * g.c + c) * g.ph + py) * g.pw + px] = acc / count;
                }
            }
        }
    }
    Ok(out)
}

/// `roi_pool(input, rois, spatial_scale, pooled_height, pooled_width) -> (output, argmax)`:
/// each bin is the maximum over the input cells it covers (0 and argmax -1 for an empty bin).
fn roi_pool(args: &[Value]) -> Result<Vec<Value>> {
    let input = targ(args, 0)?;
    let rois = targ(args, 1)?;
    let scale = farg(args, 2)?;
    let g = roi_geom("roi_pool", input, rois, iarg(args, 3)?, iarg(args, 4)?)?;
    let (vals, idx) = if input.dtype() == DType::F64 {
        let (v, i) = roi_pool_in::<f64>(input, rois, scale, &g)?;
        (v, i)
    } else {
        let (v, i) = roi_pool_in::<f32>(input, rois, scale, &g)?;
        (v.into_iter().map(f64::from).collect(), i)
    };
    let shape = vec![g.k, g.c, g.ph, g.pw];
    Ok(vec![
        Tensor::from_f64_as(input.dtype(), shape.clone(), vals).into(),
        Tensor::from_i64(shape, idx).into(),
    ])
}

fn roi_pool_in<T: Real>(
    input: &Tensor,
    rois: &Tensor,
    scale: f64,
    g: &RoiGeom,
) -> Result<(Vec<T>, Vec<i64>)> {
    let x = reals::<T>(&input.contiguous()?)?;
    let r = reals::<T>(rois)?;
    let scale = T::of(scale);
    let n_out = g.k * g.c * g.ph * g.pw;
    let mut out = vec![T::of(0.0); n_out];
    let mut arg = vec![-1i64; n_out];
    let (h, w) = (g.h as i64, g.w as i64);
    let plane = g.h * g.w;
    // Coordinates beyond this are clamped before they become integers (the bins are clamped to
    // the feature map anyway), so huge or NaN coordinates cannot overflow.
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
        let b = batch_of(roi[0].f64(), g.n, "roi_pool")?;
        let sw = round(roi[1] * scale);
        let sh = round(roi[2] * scale);
        let ew = round(roi[3] * scale);
        let eh = round(roi[4] * scale);
        let rw = (ew - sw + 1).max(1);
        let rh = (eh - sh + 1).max(1);
        let bin_h = T::of(rh as f64) / T::of(g.ph as f64);
        let bin_w = T::of(rw as f64) / T::of(g.pw as f64);
        for py in 0..g.ph {
            let hs = (T::of(py as f64) * bin_h).f64().floor() as i64;
            let he = (T::of((py + 1) as f64) * bin_h).f64().ceil() as i64;
            let hs = (hs + sh).clamp(0, h);
            let he = (he + sh).clamp(0, h);
            for px in 0..g.pw {
                let ws = (T::of(px as f64) * bin_w).f64().floor() as i64;
                let we = (T::of((px + 1) as f64) * bin_w).f64().ceil() as i64;
                let ws = (ws + sw).clamp(0, w);
                let we = (we + sw).clamp(0, w);
                let empty = he <= hs || we <= ws;
                for c in 0..g.c {
                    let p = &x[(b * g.c + c) * plane..(b * g.c + c + 1) * plane];
                    let o = ((k * g.c + c) * g.ph + py) * g.pw + px;
                    if empty {
                        continue;
                    }
                    let mut best: Option<(T, i64)> = None;
                    for yy in hs..he {
                        for xx in ws..we {
                            let i = yy * w + xx;
                            let v = p[i as usize];
                            if best.is_none_or(|(m, _)| v > m) {
                                best = Some((v, i));
                            }
                        }
                    }
                    if let Some((m, i)) = best {
                        out[o] = m;
                        arg[o] = i;
                    }
                }
            }
        }
    }
    Ok((out, arg))
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "torchvision::nms.default" => |_: &mut OpCtx, a: Vec<Value>| nms(&a),
        "torchvision::roi_align.default" => |_: &mut OpCtx, a: Vec<Value>| roi_align(&a),
        "torchvision::roi_pool.default" => |_: &mut OpCtx, a: Vec<Value>| roi_pool(&a),
    );
    let _ = arg;
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::{call_t, try_call};
    use crate::tensor::Tensor;
    use crate::value::Value;

    fn t(v: Tensor) -> Value {
        Value::Tensor(v)
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let boxes = Tensor::from_f32(
            vec![3, 4],
            vec![0., 0., 10., 10., 1., 1., 11., 11., 20., 20., 30., 30.],
        );
        let scores = Tensor::from_f32(vec![3], vec![0.5, 0.9, 0.1]);
        let keep = call_t(
            "torchvision::nms.default",
            vec![t(boxes), t(scores), Value::Float(0.5)],
        )
        .to_i64_vec();
        assert_eq!(keep, vec![1, 2]);
    }

    #[test]
    fn nms_of_no_boxes_is_empty() {
        let out = call_t(
            "torchvision::nms.default",
            vec![
                t(Tensor::from_f32(vec![0, 4], vec![])),
                t(Tensor::from_f32(vec![0], vec![])),
                Value::Float(0.5),
            ],
        );
        assert_eq!(out.shape(), &[0]);
    }

    #[test]
    fn roi_ops_refuse_bad_shapes_and_batch_indices() {
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]);
        let bad_rois = Tensor::from_f32(vec![1, 4], vec![0., 0., 1., 1.]);
        let far = Tensor::from_f32(vec![1, 5], vec![3., 0., 0., 1., 1.]);
        for rois in [bad_rois, far] {
            assert!(try_call(
                "torchvision::roi_align.default",
                vec![
                    t(x.clone()),
                    t(rois.clone()),
                    Value::Float(1.0),
                    Value::Int(2),
                    Value::Int(2),
                    Value::Int(-1),
                    Value::Bool(false)
                ]
            )
            .is_err());
            assert!(try_call(
                "torchvision::roi_pool.default",
                vec![
                    t(x.clone()),
                    t(rois),
                    Value::Float(1.0),
                    Value::Int(2),
                    Value::Int(2)
                ]
            )
            .is_err());
        }
    }

    #[test]
    fn roi_align_of_a_huge_box_is_refused_not_sampled() {
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]);
        let rois = Tensor::from_f32(vec![1, 5], vec![0., 0., 0., 1e9, 1e9]);
        assert!(try_call(
            "torchvision::roi_align.default",
            vec![
                t(x),
                t(rois),
                Value::Float(1.0),
                Value::Int(1),
                Value::Int(1),
                Value::Int(0),
                Value::Bool(false)
            ]
        )
        .is_err());
    }
}
