//! `grid_sampler_2d` (`F.grid_sample` on 4-d inputs): samples `(N, C, H, W)` at the
//! normalised `(x, y)` locations of a `(N, Ho, Wo, 2)` grid. Bilinear, nearest and bicubic
//! interpolation (`grid_sampler_3d` on 5-d inputs: trilinear and nearest); zeros, border
//! and reflection padding. The coordinate arithmetic is PyTorch's (`GridSampler.h`), done
//! in f32 like PyTorch does for f32 tensors, so round-to-nearest and floor decisions agree.

use super::{barg_or, iarg, one, targ};
use crate::error::{Error, Result};
use crate::ops::float_out;
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::storage::try_alloc;
use crate::tensor::{checked_numel, Tensor};
use crate::value::Value;

/// Interpolation (`interpolation_mode`: 0, 1, 2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Interp {
    Bilinear,
    Nearest,
    Bicubic,
}

/// Out-of-range handling (`padding_mode`: 0, 1, 2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Padding {
    Zeros,
    Border,
    Reflection,
}

/// Normalised [-1, 1] coordinate → pixel coordinate.
fn unnormalize(c: f32, size: usize, align: bool) -> f32 {
    if align {
        (c + 1.0) / 2.0 * (size as f32 - 1.0)
    } else {
        ((c + 1.0) * size as f32 - 1.0) / 2.0
    }
}

/// Clamp into [0, size - 1] with C++ `std::min(limit, std::max(x, 0))` semantics (NaN ends
/// at the upper limit, as in PyTorch).
fn clip(x: f32, size: usize) -> f32 {
    let lim = size as f32 - 1.0;
    let a = if x < 0.0 { 0.0 } else { x };
    if a < lim {
        a
    } else {
        lim
    }
}

/// Reflect `x` into [twice_low / 2, twice_high / 2].
fn reflect(x: f32, twice_low: i64, twice_high: i64) -> f32 {
    if twice_low == twice_high {
        return 0.0;
    }
    let min = twice_low as f32 / 2.0;
    let span = (twice_high - twice_low) as f32 / 2.0;
    let x = (x - min).abs();
    let extra = x % span;
    let flips = (x / span).floor() as i64;
    if flips % 2 == 0 {
        extra + min
    } else {
        span - extra + min
    }
}

/// Apply the padding mode to a pixel coordinate.
fn pad_coord(x: f32, size: usize, padding: Padding, align: bool) -> f32 {
    match padding {
        Padding::Zeros => x,
        Padding::Border => clip(x, size),
        Padding::Reflection => {
            let r = if align {
                reflect(x, 0, 2 * (size as i64 - 1))
            } else {
                reflect(x, -1, 2 * size as i64 - 1)
            };
            clip(r, size)
        }
    }
}

/// One input plane with bounds-checked reads (out of range reads as 0).
struct Plane<'a> {
    data: &'a [f32],
    h: usize,
    w: usize,
}

impl Plane<'_> {
    fn at(&self, y: i64, x: i64) -> f32 {
        if y >= 0 && x >= 0 && (y as usize) < self.h && (x as usize) < self.w {
            self.data[y as usize * self.w + x as usize]
        } else {
            0.0
        }
    }
}

/// Floor of a finite coordinate as i64; non-finite or huge coordinates map far outside
/// (so they read as 0 in zeros mode instead of aliasing a real pixel).
fn floor_i(x: f32) -> i64 {
    if x.is_finite() && x.abs() < 1e15 {
        x.floor() as i64
    } else {
        i64::MIN / 4
    }
}

fn cubic1(x: f32, a: f32) -> f32 {
    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
}

fn cubic2(x: f32, a: f32) -> f32 {
    ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
}

/// Cubic convolution (a = -0.75) of four samples at fraction `t`.
fn cubic_interp(v: [f32; 4], t: f32) -> f32 {
    let a = -0.75;
    let c = [
        cubic2(t + 1.0, a),
        cubic1(t, a),
        cubic1(1.0 - t, a),
        cubic2(2.0 - t, a),
    ];
    v.iter().zip(c).map(|(v, c)| v * c).sum()
}

/// Sample one plane at pixel coordinates of the unpadded grid value `(gx, gy)`.
fn sample(p: &Plane, gx: f32, gy: f32, mode: Interp, padding: Padding, align: bool) -> f32 {
    match mode {
        Interp::Bilinear => {
            let x = pad_coord(unnormalize(gx, p.w, align), p.w, padding, align);
            let y = pad_coord(unnormalize(gy, p.h, align), p.h, padding, align);
            let (x0, y0) = (floor_i(x), floor_i(y));
            if x0 == i64::MIN / 4 || y0 == i64::MIN / 4 {
                return 0.0;
            }
            let (fx0, fy0) = (x.floor(), y.floor());
            let (fx1, fy1) = (fx0 + 1.0, fy0 + 1.0);
            let nw = (fx1 - x) * (fy1 - y);
            let ne = (x - fx0) * (fy1 - y);
            let sw = (fx1 - x) * (y - fy0);
            let se = (x - fx0) * (y - fy0);
            p.at(y0, x0) * nw
                + p.at(y0, x0 + 1) * ne
                + p.at(y0 + 1, x0) * sw
                + p.at(y0 + 1, x0 + 1) * se
        }
        Interp::Nearest => {
            let x = pad_coord(unnormalize(gx, p.w, align), p.w, padding, align);
            let y = pad_coord(unnormalize(gy, p.h, align), p.h, padding, align);
            p.at(floor_i(y.round_ties_even()), floor_i(x.round_ties_even()))
        }
        Interp::Bicubic => {
            // PyTorch pads each of the 16 taps, not the centre coordinate.
            let x = unnormalize(gx, p.w, align);
            let y = unnormalize(gy, p.h, align);
            let (x0, y0) = (floor_i(x), floor_i(y));
            if x0 == i64::MIN / 4 || y0 == i64::MIN / 4 {
                return 0.0;
            }
            let (tx, ty) = (x - x.floor(), y - y.floor());
            let tap = |xi: i64, yi: i64| {
                let xc = pad_coord(xi as f32, p.w, padding, align);
                let yc = pad_coord(yi as f32, p.h, padding, align);
                // C++ truncating cast of the padded coordinate
                p.at(yc.trunc() as i64, xc.trunc() as i64)
            };
            let mut rows = [0f32; 4];
            for (i, row) in rows.iter_mut().enumerate() {
                let yi = y0 - 1 + i as i64;
                *row = cubic_interp(
                    [
                        tap(x0 - 1, yi),
                        tap(x0, yi),
                        tap(x0 + 1, yi),
                        tap(x0 + 2, yi),
                    ],
                    tx,
                );
            }
            cubic_interp(rows, ty)
        }
    }
}

/// grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners)
fn grid_sampler_2d(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let grid = targ(args, 1)?;
    let mode = match iarg(args, 2)? {
        0 => Interp::Bilinear,
        1 => Interp::Nearest,
        2 => Interp::Bicubic,
        m => {
            return Err(Error::runtime(format!(
                "grid_sampler_2d: interpolation_mode {m} is not 0 (bilinear), 1 (nearest) or \
                 2 (bicubic)"
            )))
        }
    };
    let padding = match iarg(args, 3)? {
        0 => Padding::Zeros,
        1 => Padding::Border,
        2 => Padding::Reflection,
        m => {
            return Err(Error::runtime(format!(
                "grid_sampler_2d: padding_mode {m} is not 0 (zeros), 1 (border) or 2 \
                 (reflection)"
            )))
        }
    };
    let align = barg_or(args, 4, false)?;
    let (&[n, c, h, w], &[gn, oh, ow, two]) = (x.shape(), grid.shape()) else {
        return Err(Error::runtime(format!(
            "grid_sampler_2d: expected a 4-d input and a 4-d grid, got {:?} and {:?}",
            x.shape(),
            grid.shape()
        )));
    };
    if gn != n || two != 2 {
        return Err(Error::runtime(format!(
            "grid_sampler_2d: grid {:?} must be (N={n}, H_out, W_out, 2)",
            grid.shape()
        )));
    }
    if h == 0 || w == 0 {
        return Err(Error::runtime(format!(
            "grid_sampler_2d: input {:?} has an empty spatial dim",
            x.shape()
        )));
    }
    let shape = vec![n, c, oh, ow];
    let mut out = try_alloc::<f32>(checked_numel(&shape)?)?;
    let xv = x.f32s()?;
    let gv = grid.f32s()?;
    let cells = oh * ow;
    for b in 0..n {
        for ch in 0..c {
            let plane = Plane {
                data: &xv[(b * c + ch) * h * w..(b * c + ch + 1) * h * w],
                h,
                w,
            };
            let dst = &mut out[(b * c + ch) * cells..(b * c + ch + 1) * cells];
            for (k, d) in dst.iter_mut().enumerate() {
                let g = &gv[(b * cells + k) * 2..(b * cells + k) * 2 + 2];
                *d = sample(&plane, g[0], g[1], mode, padding, align);
            }
        }
    }
    one(Tensor::from_f32_as(float_out(x), shape, out))
}

/// One sample of a `(D, H, W)` volume at normalised `(gx, gy, gz)`: trilinear (8 taps, f32
/// weights as PyTorch forms them) or nearest (round half to even); out-of-range taps read 0.
#[allow(clippy::too_many_arguments)]
fn sample3(
    v: &[f32],
    dims: [usize; 3],
    g: [f32; 3],
    mode: Interp,
    padding: Padding,
    align: bool,
) -> f32 {
    let [d, h, w] = dims;
    let at = |z: i64, y: i64, x: i64| -> f32 {
        if z >= 0 && y >= 0 && x >= 0 && (z as usize) < d && (y as usize) < h && (x as usize) < w {
            v[(z as usize * h + y as usize) * w + x as usize]
        } else {
            0.0
        }
    };
    let x = pad_coord(unnormalize(g[0], w, align), w, padding, align);
    let y = pad_coord(unnormalize(g[1], h, align), h, padding, align);
    let z = pad_coord(unnormalize(g[2], d, align), d, padding, align);
    if mode == Interp::Nearest {
        return at(
            floor_i(z.round_ties_even()),
            floor_i(y.round_ties_even()),
            floor_i(x.round_ties_even()),
        );
    }
    let (x0, y0, z0) = (floor_i(x), floor_i(y), floor_i(z));
    if x0 == i64::MIN / 4 || y0 == i64::MIN / 4 || z0 == i64::MIN / 4 {
        return 0.0;
    }
    let (fx, fy, fz) = (x.floor(), y.floor(), z.floor());
    let (wx, wy, wz) = (
        [fx + 1.0 - x, x - fx],
        [fy + 1.0 - y, y - fy],
        [fz + 1.0 - z, z - fz],
    );
    let mut acc = 0.0;
    for (dz, az) in wz.iter().enumerate() {
        for (dy, ay) in wy.iter().enumerate() {
            for (dx, ax) in wx.iter().enumerate() {
                acc += at(z0 + dz as i64, y0 + dy as i64, x0 + dx as i64) * (ax * ay * az);
            }
        }
    }
    acc
}

/// grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
/// `(N, C, D, H, W)` sampled at a `(N, Do, Ho, Wo, 3)` grid of `(x, y, z)`; bilinear
/// (trilinear) or nearest, zeros/border/reflection padding.
fn grid_sampler_3d(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let grid = targ(args, 1)?;
    let mode = match iarg(args, 2)? {
        0 => Interp::Bilinear,
        1 => Interp::Nearest,
        m => {
            return Err(Error::runtime(format!(
                "grid_sampler_3d: interpolation_mode {m} is not 0 (bilinear) or 1 (nearest)"
            )))
        }
    };
    let padding = match iarg(args, 3)? {
        0 => Padding::Zeros,
        1 => Padding::Border,
        2 => Padding::Reflection,
        m => {
            return Err(Error::runtime(format!(
                "grid_sampler_3d: padding_mode {m} is not 0, 1 or 2"
            )))
        }
    };
    let align = barg_or(args, 4, false)?;
    let (&[n, c, d, h, w], &[gn, od, oh, ow, three]) = (x.shape(), grid.shape()) else {
        return Err(Error::runtime(format!(
            "grid_sampler_3d: expected a 5-d input and a 5-d grid, got {:?} and {:?}",
            x.shape(),
            grid.shape()
        )));
    };
    if gn != n || three != 3 || d * h * w == 0 {
        return Err(Error::runtime(format!(
            "grid_sampler_3d: grid {:?} must be (N={n}, D, H, W, 3) over a non-empty input {:?}",
            grid.shape(),
            x.shape()
        )));
    }
    let shape = vec![n, c, od, oh, ow];
    let mut out = try_alloc::<f32>(checked_numel(&shape)?)?;
    let xv = x.f32s()?;
    let gv = grid.f32s()?;
    let cells = od * oh * ow;
    let vol = d * h * w;
    for b in 0..n {
        for ch in 0..c {
            let src = &xv[(b * c + ch) * vol..(b * c + ch + 1) * vol];
            let dst = &mut out[(b * c + ch) * cells..(b * c + ch + 1) * cells];
            for (k, o) in dst.iter_mut().enumerate() {
                let g = &gv[(b * cells + k) * 3..(b * cells + k) * 3 + 3];
                *o = sample3(src, [d, h, w], [g[0], g[1], g[2]], mode, padding, align);
            }
        }
    }
    one(Tensor::from_f32_as(float_out(x), shape, out))
}

/// Register `grid_sampler_2d`, and `grid_sampler` (same arguments; what TorchScript
/// traces `F.grid_sample` to) for 4-d inputs.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::grid_sampler_2d.default" => |_: &mut OpCtx, a: Vec<Value>| grid_sampler_2d(&a),
        "aten::grid_sampler.default" => |_: &mut OpCtx, a: Vec<Value>| grid_sampler_2d(&a),
    );
    reg!(r,
        "aten::grid_sampler_3d.default" => |_: &mut OpCtx, a: Vec<Value>| grid_sampler_3d(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_grid_reproduces_the_input() {
        // align_corners=True: grid corners are pixel centres
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]);
        let g = Tensor::from_f32(vec![1, 2, 2, 2], vec![-1., -1., 1., -1., -1., 1., 1., 1.]);
        for mode in 0..3 {
            let r = grid_sampler_2d(&[
                x.clone().into(),
                g.clone().into(),
                Value::Int(mode),
                Value::Int(0),
                Value::Bool(true),
            ])
            .unwrap();
            let v = r[0].as_tensor().unwrap().to_f32_vec();
            for (a, b) in v.iter().zip([1., 2., 3., 4.]) {
                assert!((a - b).abs() < 1e-5, "mode {mode}: {v:?}");
            }
        }
        // centre of the image, bilinear: the mean
        let g = Tensor::from_f32(vec![1, 1, 1, 2], vec![0., 0.]);
        let r = grid_sampler_2d(&[
            x.into(),
            g.into(),
            Value::Int(0),
            Value::Int(0),
            Value::Bool(false),
        ])
        .unwrap();
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![2.5]);
    }

    #[test]
    fn reflection_folds_coordinates() {
        assert_eq!(reflect(-0.5, 0, 4), 0.5);
        assert_eq!(reflect(2.5, 0, 4), 1.5);
        assert_eq!(clip(f32::NAN, 4), 3.0);
    }
}
