//! The transform ops: ATen's `_fft_r2c` / `_fft_c2r` / `_fft_c2c` (what `torch.export`
//! emits) and the `torch.fft` functions TorchScript keeps (`fft_fft`, `fft_ifft`,
//! `fft_rfft`, `fft_irfft`, `fft_hfft`, `fft_ihfft`, and `stft`), all over
//! [`super::transform`].

use super::transform::{fft_axis, hermitian_full, norm_scale, resize_axis, scale, C};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, barg_or, dim_of, iarg, ints, one, opt, targ, OpCtx};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::value::Value;

/// The elements of `t` as complex f64 (a real tensor gets zero imaginary parts).
pub(crate) fn complex_values(t: &Tensor) -> Result<Vec<C>> {
    if t.dtype() == DType::C64 {
        Ok(t.data::<[f32; 2]>()?
            .iter()
            .map(|&[re, im]| C::new(re as f64, im as f64))
            .collect())
    } else {
        Ok(t.f64s()?.into_iter().map(|x| C::new(x, 0.0)).collect())
    }
}

/// A `c64` tensor from complex f64 values (rounded once).
pub(crate) fn complex_tensor(shape: Vec<usize>, v: &[C]) -> Tensor {
    let data: Vec<[f32; 2]> = v.iter().map(|c| [c.re as f32, c.im as f32]).collect();
    Tensor::from_vec(DType::C64, shape, data)
}

/// The normalized, distinct transform axes of a `dim` list; an empty list is refused
/// (ATen's primitives always name at least one axis).
fn axes(t: &Tensor, dims: &[i64], op: &str) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Err(Error::runtime(format!(
            "{op}: dim must name at least one axis"
        )));
    }
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let a = dim_of(t, d)?;
        if out.contains(&a) {
            return Err(Error::runtime(format!("{op}: dim {d} appears twice")));
        }
        if t.shape()[a] == 0 {
            return Err(Error::runtime(format!(
                "{op}: cannot transform dim {d} of length 0"
            )));
        }
        out.push(a);
    }
    Ok(out)
}

/// Product of the lengths of `shape` along `axes` (the point count normalization uses).
fn points(shape: &[usize], axes: &[usize]) -> usize {
    axes.iter().map(|&a| shape[a]).product()
}

fn refuse_complex(t: &Tensor, op: &str) -> Result<()> {
    if t.dtype() == DType::C64 {
        return Err(Error::runtime(format!(
            "{op} expects a real input, got c64"
        )));
    }
    Ok(())
}

fn want_complex(t: &Tensor, op: &str) -> Result<()> {
    if t.dtype() != DType::C64 {
        return Err(Error::runtime(format!(
            "{op} expects a complex input, got {}",
            t.dtype().name()
        )));
    }
    Ok(())
}

/// Real-to-complex transform over `axes`; `onesided` keeps `n/2 + 1` entries of the last.
fn r2c(t: &Tensor, axes: &[usize], norm: i64, onesided: bool) -> Result<Tensor> {
    let shape = t.shape().to_vec();
    let mut v = complex_values(t)?;
    for &a in axes {
        fft_axis(&mut v, &shape, a, false);
    }
    scale(&mut v, norm_scale(norm, points(&shape, axes))?);
    let last = axes[axes.len() - 1];
    if onesided {
        let half = shape[last] / 2 + 1;
        let v = resize_axis(&v, &shape, last, half)?;
        let mut out_shape = shape;
        out_shape[last] = half;
        return Ok(complex_tensor(out_shape, &v));
    }
    Ok(complex_tensor(shape, &v))
}

/// Complex-to-complex transform over `axes`, forward or inverse.
fn c2c(t: &Tensor, axes: &[usize], norm: i64, forward: bool) -> Result<Tensor> {
    let shape = t.shape().to_vec();
    let mut v = complex_values(t)?;
    for &a in axes {
        fft_axis(&mut v, &shape, a, !forward);
    }
    scale(&mut v, norm_scale(norm, points(&shape, axes))?);
    Ok(complex_tensor(shape, &v))
}

/// Complex-to-real inverse transform: the last axis is a one-sided spectrum of a real
/// signal of length `len`.
fn c2r(t: &Tensor, axes: &[usize], norm: i64, len: usize) -> Result<Tensor> {
    if len == 0 {
        return Err(Error::runtime("_fft_c2r: last_dim_size must be positive"));
    }
    let shape = t.shape().to_vec();
    let mut v = complex_values(t)?;
    let (last, rest) = axes.split_last().expect("axes is never empty");
    for &a in rest {
        fft_axis(&mut v, &shape, a, true);
    }
    let mut full = hermitian_full(&v, &shape, *last, len)?;
    let mut out_shape = shape;
    out_shape[*last] = len;
    checked_numel(&out_shape)?;
    fft_axis(&mut full, &out_shape, *last, true);
    let s = norm_scale(norm, points(&out_shape, axes))?;
    let re: Vec<f32> = full.iter().map(|c| (c.re * s) as f32).collect();
    Ok(Tensor::from_f32(out_shape, re))
}

/// `_fft_r2c(Tensor self, int[] dim, int normalization, bool onesided)`.
fn fft_r2c(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    refuse_complex(t, "_fft_r2c")?;
    let axes = axes(t, &ints(&args, 1)?, "_fft_r2c")?;
    one(r2c(t, &axes, iarg(&args, 2)?, barg_or(&args, 3, true)?)?)
}

/// `_fft_c2r(Tensor self, int[] dim, int normalization, SymInt last_dim_size)`.
fn fft_c2r(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    want_complex(t, "_fft_c2r")?;
    let axes = axes(t, &ints(&args, 1)?, "_fft_c2r")?;
    let len = usize::try_from(iarg(&args, 3)?)
        .map_err(|_| Error::runtime("_fft_c2r: last_dim_size must be positive"))?;
    one(c2r(t, &axes, iarg(&args, 2)?, len)?)
}

/// `_fft_c2c(Tensor self, SymInt[] dim, int normalization, bool forward)`.
fn fft_c2c(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    want_complex(t, "_fft_c2c")?;
    let axes = axes(t, &ints(&args, 1)?, "_fft_c2c")?;
    one(c2c(t, &axes, iarg(&args, 2)?, barg_or(&args, 3, true)?)?)
}

/// Which side of a `torch.fft` pair is scaled, from its `norm` string.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Forward,
    Inverse,
}

/// ATen's normalization code for a `torch.fft` function's `norm` (None = "backward").
fn norm_code(v: &Value, side: Side) -> Result<i64> {
    let s = match v {
        Value::None => "backward",
        Value::Str(s) => s.as_str(),
        other => {
            return Err(Error::runtime(format!(
                "fft norm must be a string or None, got {other:?}"
            )))
        }
    };
    Ok(match (s, side) {
        ("backward", Side::Forward) | ("forward", Side::Inverse) => 0,
        ("ortho", _) => 1,
        ("forward", Side::Forward) | ("backward", Side::Inverse) => 2,
        _ => {
            return Err(Error::runtime(format!(
                "fft norm must be \"forward\", \"backward\" or \"ortho\", got {s:?}"
            )))
        }
    })
}

/// The `n=` argument: `None` keeps `default`, otherwise a positive length.
fn opt_len(v: &Value, default: usize, op: &str) -> Result<usize> {
    match v {
        Value::None => Ok(default),
        Value::Int(n) if *n >= 1 => Ok(*n as usize),
        other => Err(Error::runtime(format!(
            "{op}: n must be a positive int or None, got {other:?}"
        ))),
    }
}

/// `t` resized (zero padded or cut) to `len` along `axis`, keeping its dtype class.
fn resized(t: &Tensor, axis: usize, len: usize) -> Result<Tensor> {
    if t.shape()[axis] == len {
        return Ok(t.clone());
    }
    let v = complex_values(t)?;
    let r = resize_axis(&v, t.shape(), axis, len)?;
    let mut shape = t.shape().to_vec();
    shape[axis] = len;
    let c = complex_tensor(shape.clone(), &r);
    if t.dtype() == DType::C64 {
        Ok(c)
    } else {
        c.cast(DType::F32)
    }
}

/// The shared front of every `torch.fft` function: input tensor, axis and `n`.
fn fft_front(
    args: &[Value],
    op: &str,
    default_n: impl Fn(usize) -> usize,
) -> Result<(Tensor, usize, usize)> {
    let t = targ(args, 0)?;
    let axis = dim_of(t, iarg(args, 2)?)?;
    let n = opt_len(opt(args, 1), default_n(t.shape()[axis]), op)?;
    Ok((t.clone(), axis, n))
}

/// `fft_fft` / `fft_ifft(Tensor self, SymInt? n, int dim, str? norm)`.
fn fft_c2c_fn(args: &[Value], forward: bool) -> Result<Vec<Value>> {
    let op = if forward { "fft_fft" } else { "fft_ifft" };
    let (t, axis, n) = fft_front(args, op, |m| m)?;
    let side = if forward {
        Side::Forward
    } else {
        Side::Inverse
    };
    let norm = norm_code(arg(args, 3)?, side)?;
    let x = resized(&t, axis, n)?;
    one(c2c(&x, &[axis], norm, forward)?)
}

fn fft_fft(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    fft_c2c_fn(&args, true)
}

fn fft_ifft(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    fft_c2c_fn(&args, false)
}

/// `fft_rfft(Tensor self, SymInt? n, int dim, str? norm)`.
fn fft_rfft(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let (t, axis, n) = fft_front(&args, "fft_rfft", |m| m)?;
    refuse_complex(&t, "fft_rfft")?;
    let norm = norm_code(arg(&args, 3)?, Side::Forward)?;
    one(r2c(&resized(&t, axis, n)?, &[axis], norm, true)?)
}

/// `fft_ihfft(Tensor self, SymInt? n, int dim, str? norm)`: the conjugate of a one-sided
/// inverse transform of a real signal.
fn fft_ihfft(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let (t, axis, n) = fft_front(&args, "fft_ihfft", |m| m)?;
    refuse_complex(&t, "fft_ihfft")?;
    let norm = norm_code(arg(&args, 3)?, Side::Inverse)?;
    let spec = r2c(&resized(&t, axis, n)?, &[axis], norm, true)?;
    let v: Vec<C> = complex_values(&spec)?.iter().map(|c| c.conj()).collect();
    one(complex_tensor(spec.shape().to_vec(), &v))
}

/// `fft_irfft` / `fft_hfft(Tensor self, SymInt? n, int dim, str? norm)`: a one-sided
/// spectrum back to a real signal of length `n` (default `2 (m - 1)`); `hfft` is the
/// forward-normalized transform of the conjugate.
fn fft_c2r_fn(args: &[Value], hermitian: bool) -> Result<Vec<Value>> {
    let op = if hermitian { "fft_hfft" } else { "fft_irfft" };
    let (t, axis, n) = fft_front(args, op, |m| 2 * m.saturating_sub(1))?;
    if n == 0 {
        return Err(Error::runtime(format!(
            "{op}: invalid number of data points (0)"
        )));
    }
    let side = if hermitian {
        Side::Forward
    } else {
        Side::Inverse
    };
    let norm = norm_code(arg(args, 3)?, side)?;
    let x = resized(&t, axis, n / 2 + 1)?;
    let mut v = complex_values(&x)?;
    if hermitian {
        v.iter_mut().for_each(|c| *c = c.conj());
    }
    let x = complex_tensor(x.shape().to_vec(), &v);
    one(c2r(&x, &[axis], norm, n)?)
}

fn fft_irfft(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    fft_c2r_fn(&args, false)
}

fn fft_hfft(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    fft_c2r_fn(&args, true)
}

/// An optional int argument: `None` gives `default`.
fn opt_int(args: &[Value], i: usize, default: i64) -> Result<i64> {
    match opt(args, i) {
        Value::None => Ok(default),
        _ => iarg(args, i),
    }
}

/// `stft(Tensor self, int n_fft, int? hop_length, int? win_length, Tensor? window,
/// bool normalized, bool? onesided, bool? return_complex, bool? align_to_window)`, as
/// TorchScript keeps it (the centering pad is already a separate op before it): frames of
/// `n_fft` samples every `hop_length`, times the window (zero-padded to `n_fft` in the
/// middle), transformed; `[batch?, freq, frames]`.
fn stft(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let x = targ(&args, 0)?;
    if x.ndim() == 0 || x.ndim() > 2 {
        return Err(Error::runtime(format!(
            "stft expects a 1-d or 2-d input, got {:?}",
            x.shape()
        )));
    }
    let n_fft = usize::try_from(iarg(&args, 1)?).unwrap_or(0);
    let len = x.shape()[x.ndim() - 1];
    if n_fft == 0 || n_fft > len {
        return Err(Error::runtime(format!(
            "stft: n_fft must be in 1..={len}, got {}",
            iarg(&args, 1)?
        )));
    }
    let hop = usize::try_from(opt_int(&args, 2, (n_fft / 4) as i64)?).unwrap_or(0);
    let win = usize::try_from(opt_int(&args, 3, n_fft as i64)?).unwrap_or(0);
    if hop == 0 || win == 0 || win > n_fft {
        return Err(Error::runtime(
            "stft: hop_length must be positive and win_length in 1..=n_fft",
        ));
    }
    let mut window = vec![0.0f64; n_fft];
    let left = (n_fft - win) / 2;
    match opt(&args, 4) {
        Value::None => window[left..left + win].fill(1.0),
        Value::Tensor(w) if w.shape() == [win] => {
            window[left..left + win].copy_from_slice(&w.f64s()?);
        }
        other => {
            return Err(Error::runtime(format!(
                "stft: window must be a [{win}] tensor, got {other:?}"
            )))
        }
    }
    let normalized = barg_or(&args, 5, false)?;
    let complex_in = x.dtype() == DType::C64;
    let onesided = match opt(&args, 6) {
        Value::None => !complex_in,
        _ => barg_or(&args, 6, true)?,
    };
    if onesided && complex_in {
        return Err(Error::runtime("stft: onesided needs a real input"));
    }
    let return_complex = barg_or(&args, 7, true)?;
    let batch = if x.ndim() == 2 { x.shape()[0] } else { 1 };
    let frames = 1 + (len - n_fft) / hop;
    let freq = if onesided { n_fft / 2 + 1 } else { n_fft };
    let v = complex_values(x)?;
    let mut out = super::transform::zeroed(checked_numel(&[batch, freq, frames])?)?;
    let mut line = super::transform::zeroed(n_fft)?;
    let s = if normalized {
        1.0 / (n_fft as f64).sqrt()
    } else {
        1.0
    };
    for b in 0..batch {
        for f in 0..frames {
            for (k, l) in line.iter_mut().enumerate() {
                *l = v[b * len + f * hop + k] * window[k];
            }
            fft_axis(&mut line, &[n_fft], 0, false);
            for k in 0..freq {
                out[(b * freq + k) * frames + f] = line[k] * s;
            }
        }
    }
    let mut shape = vec![freq, frames];
    if x.ndim() == 2 {
        shape.insert(0, batch);
    }
    let c = complex_tensor(shape.clone(), &out);
    if return_complex {
        return one(c);
    }
    // The deprecated real layout: `view_as_real` of the complex result.
    shape.push(2);
    let re: Vec<f32> = c.data::<[f32; 2]>()?.iter().flatten().copied().collect();
    one(Tensor::from_f32(shape, re))
}

/// The transform ops take complex inputs themselves.
pub(crate) fn handles_complex(name: &str) -> bool {
    name.starts_with("aten::_fft_")
        || name.starts_with("aten::fft_")
        || name == "aten::stft.default"
}

/// Register the transform ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::_fft_r2c.default" => fft_r2c,
        "aten::_fft_c2r.default" => fft_c2r,
        "aten::_fft_c2c.default" => fft_c2c,
        "aten::fft_fft.default" => fft_fft,
        "aten::fft_ifft.default" => fft_ifft,
        "aten::fft_rfft.default" => fft_rfft,
        "aten::fft_irfft.default" => fft_irfft,
        "aten::fft_hfft.default" => fft_hfft,
        "aten::fft_ihfft.default" => fft_ihfft,
        "aten::stft.default" => stft,
    );
}
